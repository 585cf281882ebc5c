/*
 * plugin.c - store backends loaded at run time from shared objects.
 *
 * A plugin exports dh_plugin_api_version and dh_plugin_backends() (see
 * dh-backend.h).  When dh_store_open() meets a scheme nobody registered,
 * store.c calls dh_plugins_autoload(), which loads every "*.so" in the
 * directories of DH_BACKEND_PATH and then in DH_PLUGINDIR, once per process.
 * Each plugin is checked before anything of it is registered: the version
 * symbol is read before any of its code runs, and its backends go into the
 * registry all together or not at all.  A refused plugin is unloaded and
 * remembered with its reason, so that a later request for its scheme (or
 * for any unknown scheme) says why, instead of a bare "unknown scheme";
 * everything else keeps working.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "dh-backend.h"
#include "store/backends.h"

#define MAX_SCHEMES 16

/* A file that was looked at: loaded (handle set) or refused (reason set). */
struct plugin {
	dev_t dev;
	ino_t ino;
	void *handle;
	char *path;
	char *schemes;   /* "a, b" when known, else NULL */
	char *reason;    /* why it was refused; NULL when loaded */
	int code;
};

static struct plugin *plugins;
static size_t nplugins;
static pthread_mutex_t plugin_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t autoload_once = PTHREAD_ONCE_INIT;

static struct plugin *find_file(dev_t dev, ino_t ino)
{
	for (size_t i = 0; i < nplugins; i++)
		if (plugins[i].dev == dev && plugins[i].ino == ino)
			return &plugins[i];
	return NULL;
}

/* Remember a refusal (the current message) for later reports.  Returns code. */
static int refuse(const struct stat *sb, const char *path, const char *schemes, int code)
{
	struct plugin *np = realloc(plugins, (nplugins + 1) * sizeof(*np));
	const char *msg = dh_errmsg();

	if (!np)
		return code;
	plugins = np;
	np = &plugins[nplugins];
	memset(np, 0, sizeof(*np));
	np->dev = sb->st_dev;
	np->ino = sb->st_ino;
	np->code = code;
	np->path = strdup(path);
	np->schemes = schemes && schemes[0] ? strdup(schemes) : NULL;
	np->reason = strdup(msg);
	if (np->path && np->reason)
		nplugins++;
	else {
		free(np->path);
		free(np->schemes);
		free(np->reason);
	}
	return code;
}

/* The dynamic loader's message without the file name it often starts with. */
static const char *loader_error(const char *path)
{
	const char *e = dlerror();
	size_t n = strlen(path);

	if (!e)
		return "unknown error";
	if (!strncmp(e, path, n) && e[n] == ':' && e[n + 1] == ' ')
		e += n + 2;
	return e;
}

/* Called with plugin_lock held. */
static int load_locked(const char *path)
{
	const struct dh_store_ops *const *list;
	const struct dh_store_ops *const *(*backends)(void);
	const unsigned *version;
	const char *build;
	struct dh_buf schemes = DH_BUF_INIT;
	struct stat sb;
	struct plugin *known, *np;
	void *h = NULL;
	size_t n = 0;
	int rc = 0;

	if (stat(path, &sb))
		return dh_error_set(errno == ENOENT ? DH_ENOTFOUND : DH_EIO, "cannot load plugin '%s': %s", path,
				    strerror(errno));
	if ((known = find_file(sb.st_dev, sb.st_ino)))
		return known->handle ? 0 : dh_error_set(known->code, "%s", known->reason);
	/*
	 * RTLD_NOW: an unresolved symbol is a refusal now, not a crash in the
	 * middle of a write later.  RTLD_LOCAL: plugins cannot interpose on
	 * each other.
	 */
	dlerror();
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		rc = dh_error_set(DH_EIO, "plugin '%s' refused: cannot load: %s", path, loader_error(path));
		goto out;
	}
	version = dlsym(h, DH_PLUGIN_API_VERSION_SYMBOL);
	if (!version) {
		rc = dh_error_set(DH_EUSAGE, "plugin '%s' refused: no symbol '%s' (not a dh backend plugin?)", path,
				  DH_PLUGIN_API_VERSION_SYMBOL);
		goto out;
	}
	if (*version != DH_BACKEND_API_VERSION) {
		rc = dh_error_set(DH_EUSAGE, "plugin '%s' refused: built for backend API version %u, this libdh speaks %u",
				  path, *version, DH_BACKEND_API_VERSION);
		goto out;
	}
	/* a built-in backend's module (module.c) must come from this very build */
	build = dlsym(h, "dh_module_build");
	if (build && strcmp(build, DH_VERSION_STRING)) {
		rc = dh_error_set(DH_EUSAGE, "module '%s' refused: built for libdh %.32s, this is libdh %s", path,
				  build, DH_VERSION_STRING);
		goto out;
	}
	*(void **)&backends = dlsym(h, DH_PLUGIN_BACKENDS_SYMBOL);
	if (!backends) {
		rc = dh_error_set(DH_EUSAGE, "plugin '%s' refused: no symbol '%s'", path, DH_PLUGIN_BACKENDS_SYMBOL);
		goto out;
	}
	list = backends();
	for (n = 0; list && list[n] && n <= MAX_SCHEMES; n++)
		if (list[n]->scheme && (rc = dh_buf_addf(&schemes, "%s%s", n ? ", " : "", list[n]->scheme)))
			goto out;
	if (n == 0 || n > MAX_SCHEMES) {
		rc = dh_error_set(DH_EUSAGE, "plugin '%s' refused: %s", path,
				  n ? "more than 16 backends" : "it provides no backend");
		goto out;
	}
	rc = dh_store_register_all(list, n);
	if (rc) {
		dh_error_prefix(rc, "plugin '%s' refused", path);
		goto out;
	}
	np = realloc(plugins, (nplugins + 1) * sizeof(*np));
	if (!np) {
		/* registered already: keep it loaded, just not remembered */
		h = NULL;
		goto out;
	}
	plugins = np;
	np = &plugins[nplugins++];
	memset(np, 0, sizeof(*np));
	np->dev = sb.st_dev;
	np->ino = sb.st_ino;
	np->handle = h;
	np->path = strdup(path);
	np->schemes = dh_buf_detach(&schemes, NULL);
	h = NULL;
out:
	if (rc)
		refuse(&sb, path, schemes.data, rc);
	if (h)
		dlclose(h);
	dh_buf_release(&schemes);
	return rc;
}

int dh_plugin_load(const char *path)
{
	int rc;

	if (!path || !path[0])
		return dh_error_set(DH_EUSAGE, "empty plugin path");
	pthread_mutex_lock(&plugin_lock);
	rc = load_locked(path);
	pthread_mutex_unlock(&plugin_lock);
	return rc;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Load every "*.so" of `dir` in name order; a missing directory is fine. */
static void load_dir(const char *dir, size_t len)
{
	struct dh_buf path = DH_BUF_INIT;
	char **names = NULL;
	size_t n = 0, cap = 0, i;
	struct dirent *de;
	DIR *d;

	if (dh_buf_add(&path, dir, len))
		return;
	d = opendir(path.data);
	if (!d)
		goto out;
	while ((de = readdir(d))) {
		size_t nl = strlen(de->d_name);

		if (de->d_name[0] == '.' || nl < 4 || strcmp(de->d_name + nl - 3, ".so"))
			continue;
		if (n == cap) {
			char **nn = realloc(names, (cap = cap ? 2 * cap : 16) * sizeof(*nn));

			if (!nn)
				break;
			names = nn;
		}
		if (!(names[n] = strdup(de->d_name)))
			break;
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof(*names), by_name);
	for (i = 0; i < n; i++) {
		dh_buf_reset(&path);
		if (!dh_buf_add(&path, dir, len) && !dh_buf_addf(&path, "/%s", names[i])) {
			pthread_mutex_lock(&plugin_lock);
			load_locked(path.data);
			pthread_mutex_unlock(&plugin_lock);
		}
	}
out:
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	dh_buf_release(&path);
}

static void autoload(void)
{
	/* like LD_LIBRARY_PATH, ignored in set-user-ID and set-group-ID programs */
	const char *env = secure_getenv("DH_BACKEND_PATH");

	while (env && *env) {
		size_t len = strcspn(env, ":");

		if (len)
			load_dir(env, len);
		env += len + (env[len] == ':');
	}
	load_dir(DH_PLUGINDIR, strlen(DH_PLUGINDIR));
}

void dh_plugins_autoload(void)
{
	pthread_once(&autoload_once, autoload);
}

/* "flatdir" for ".../flatdir.so", ".../libflatdir.so" or ".../dh-backend-flatdir.so". */
static int named_for(const char *path, const char *scheme)
{
	const char *base = strrchr(path, '/');
	size_t n, sl = strlen(scheme);

	base = base ? base + 1 : path;
	n = strlen(base) - 3;
	if (n > 3 && !strncmp(base, "lib", 3))
		base += 3, n -= 3;
	if (n > 11 && !strncmp(base, "dh-backend-", 11))
		base += 11, n -= 11;
	return n == sl && !strncmp(base, scheme, sl);
}

static int claims(const struct plugin *p, const char *scheme)
{
	const char *s = p->schemes;
	size_t sl = strlen(scheme);

	while (s && *s) {
		size_t n = strcspn(s, ",");

		if (n == sl && !strncmp(s, scheme, sl))
			return 1;
		s += n;
		while (*s == ',' || *s == ' ')
			s++;
	}
	return named_for(p->path, scheme);
}

int dh_plugins_explain(struct dh_buf *b, const char *scheme)
{
	size_t i;
	int found = 0;

	pthread_mutex_lock(&plugin_lock);
	for (i = 0; i < nplugins; i++)
		if (plugins[i].reason && claims(&plugins[i], scheme)) {
			dh_buf_addf(b, "%s%s", found ? "; " : "", plugins[i].reason);
			found = 1;
		}
	if (!found)
		for (i = 0; i < nplugins; i++)
			if (plugins[i].reason)
				dh_buf_addf(b, "; %s", plugins[i].reason);
	pthread_mutex_unlock(&plugin_lock);
	return found;
}
