/*
 * config.c - Datahike config EDN files in place of store URIs, so users of
 * Datahike's `dthk` can point dh at the config they already have:
 *
 *   {:store {:backend :file :path "/var/db/app"}
 *    :schema-flexibility :read :keep-history? true :initial-tx [...]}
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "db/internal.h"

static int read_file(const char *path, struct dh_buf *out)
{
	FILE *f = fopen(path, "rb");
	char chunk[65536];
	size_t n;
	int rc = 0;

	if (!f)
		return dh_error_set(DH_EIO, "cannot open '%s': %s", path, strerror(errno));
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if ((rc = dh_buf_add(out, chunk, n)))
			break;
	if (!rc && ferror(f))
		rc = dh_error_set(DH_EIO, "cannot read '%s': %s", path, strerror(errno));
	fclose(f);
	return rc;
}

/* A C string copy of string `v`; NULL for a non-string or one holding a NUL,
 * which would otherwise cut a path short and name another store. */
static char *str_of(const struct dh_val *v)
{
	if (!v || v->type != DH_STRING || memchr(v->u.s, '\0', v->len))
		return NULL;
	return strndup(v->u.s, v->len);
}

static int from_store_map(char **uri, const struct dh_val *store, const char *path);

/*
 * {:backend :tiered :frontend-config {...} :backend-config {...}
 *  :write-policy :write-through :read-policy :frontend-first}, konserve's
 * form: both configs become URIs, then one tiered: URI.
 */
static int tiered_uri(struct dh_buf *b, const struct dh_val *store, const char *path)
{
	const struct dh_val *fc = dh_map_getk(store, "frontend-config"), *bc = dh_map_getk(store, "backend-config");
	const struct dh_val *wp = dh_map_getk(store, "write-policy"), *rp = dh_map_getk(store, "read-policy");
	char *front = NULL, *back = NULL;
	int rc;

	if (!fc || fc->type != DH_MAP || !bc || bc->type != DH_MAP)
		return dh_error_set(DH_EUSAGE, "%s: :store :backend :tiered needs :frontend-config and :backend-config maps",
				    path);
	if ((wp && wp->type != DH_KEYWORD) || (rp && rp->type != DH_KEYWORD))
		return dh_error_set(DH_EUSAGE, "%s: :write-policy and :read-policy are keywords", path);
	if (!(rc = from_store_map(&front, fc, path)) && !(rc = from_store_map(&back, bc, path)))
		rc = dh_store_tiered_uri(b, front, back, wp ? wp->u.s : NULL, rp ? rp->u.s : NULL);
	free(front);
	free(back);
	return rc;
}

static int from_store_map(char **uri, const struct dh_val *store, const char *path)
{
	const struct dh_val *backend = dh_map_getk(store, "backend");
	const struct dh_val *u = dh_map_getk(store, "uri");
	char *p = NULL;
	struct dh_buf b = DH_BUF_INIT;
	int rc = 0;

	if (u) {
		if (!(*uri = str_of(u)))
			return dh_error_set(DH_EUSAGE, "%s: :store :uri must be a string without NUL bytes", path);
		return 0;
	}
	if (!backend || backend->type != DH_KEYWORD)
		return dh_error_set(DH_EUSAGE, "%s: :store needs a :backend keyword", path);
	if (dh_val_is_kw(backend, "file") || dh_val_is_kw(backend, "lmdb")) {
		if (!(p = str_of(dh_map_getk(store, "path"))))
			return dh_error_set(DH_EUSAGE, "%s: :store :backend :%s needs a :path string without NUL bytes", path, backend->u.s);
		if (dh_val_is_kw(backend, "lmdb"))
			rc = dh_buf_addf(&b, "lmdb://%s", p);
		else
			rc = dh_buf_adds(&b, p);
	} else if (dh_val_is_kw(backend, "mem") || dh_val_is_kw(backend, "memory")) {
		const struct dh_val *id = dh_map_getk(store, "id");

		if (id && id->type == DH_STRING)
			rc = dh_buf_addf(&b, "mem://%.*s", (int)id->len, id->u.s);
		else if (id && id->type == DH_UUID)
			rc = dh_buf_addf(&b, "mem://%02x%02x%02x%02x", id->u.uuid[0], id->u.uuid[1], id->u.uuid[2], id->u.uuid[3]);
		else
			rc = dh_buf_adds(&b, "mem://default");
	} else if (dh_val_is_kw(backend, "tiered")) {
		rc = tiered_uri(&b, store, path);
	} else {
		return dh_error_set(DH_EUSAGE, "%s: :store :backend :%s is not supported here; give the store as a URI or add :uri",
			path, backend->u.s);
	}
	free(p);
	if (rc) {
		dh_buf_release(&b);
		return rc;
	}
	*uri = dh_buf_detach(&b, NULL);
	return 0;
}

int dh_config_resolve(char **uri, struct dh_db_config *cfg, struct dh_arena *a, const char *arg)
{
	struct dh_buf text = DH_BUF_INIT;
	struct dh_arena *own = NULL;
	struct dh_val conf;
	const struct dh_val *x;
	struct stat sb;
	size_t len = strlen(arg);
	int rc;

	*uri = NULL;
	if (cfg)
		memset(cfg, 0, sizeof(*cfg));
	if (len < 5 || strcmp(arg + len - 4, ".edn") || stat(arg, &sb) || !S_ISREG(sb.st_mode)) {
		if (!(*uri = strdup(arg)))
			return dh_error_set(DH_ENOMEM, "out of memory");
		return 0;
	}
	if (!a) {
		if ((rc = dh_arena_new(&own)))
			return rc;
		a = own;
	}
	if ((rc = read_file(arg, &text)))
		goto out;
	if ((rc = dh_edn_parse(&conf, a, text.data, text.len, arg)))
		goto out;
	if (conf.type != DH_MAP) {
		rc = dh_error_set(DH_EUSAGE, "%s: a Datahike config is a map", arg);
		goto out;
	}
	x = dh_map_getk(&conf, "store");
	if (!x || x->type != DH_MAP) {
		rc = dh_error_set(DH_EUSAGE, "%s: no :store map", arg);
		goto out;
	}
	if ((rc = from_store_map(uri, x, arg)))
		goto out;
	if ((x = dh_map_getk(&conf, "attribute-refs?")) && x->type == DH_BOOL && x->u.b) {
		rc = dh_error_set(DH_EUNSUPPORTED, "%s: :attribute-refs? true is not supported", arg);
		goto out;
	}
	if (!cfg)
		goto out;
	if ((x = dh_map_getk(&conf, "schema-flexibility"))) {
		if (dh_val_is_kw(x, "read"))
			cfg->flexibility = DH_SCHEMA_READ;
		else if (dh_val_is_kw(x, "write"))
			cfg->flexibility = DH_SCHEMA_WRITE;
		else {
			rc = dh_error_set(DH_EUSAGE, "%s: :schema-flexibility must be :read or :write", arg);
			goto out;
		}
	}
	if ((x = dh_map_getk(&conf, "keep-history?"))) {
		if (x->type != DH_BOOL) {
			rc = dh_error_set(DH_EUSAGE, "%s: :keep-history? must be true or false", arg);
			goto out;
		}
		cfg->no_history = !x->u.b;
	}
	if ((x = dh_map_getk(&conf, "initial-tx")) && x->type != DH_NIL) {
		struct dh_val *copy = dh_arena_alloc(a, sizeof(*copy));

		if (!copy) {
			rc = DH_ENOMEM;
			goto out;
		}
		*copy = *x;
		cfg->initial_tx = own ? NULL : copy;
	}
	if ((x = dh_map_getk(&conf, "branch")) && x->type == DH_KEYWORD)
		cfg->branch = own ? NULL : x->u.s;
out:
	if (rc) {
		free(*uri);
		*uri = NULL;
	}
	dh_buf_release(&text);
	dh_arena_free(own);
	return rc;
}
