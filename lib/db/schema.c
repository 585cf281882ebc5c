/*
 * schema.c - the in-memory schema of a db value: the attribute table
 * (attribute id -> ident and properties), lookup by ident, the keyword
 * order of attributes the indices sort by, and the schema node that a
 * commit names so that opening a database does not scan schema datoms.
 *
 * Attribute ids 1..AID_SYSTEM_END-1 are Datahike's system attributes; user
 * attributes get ids from DH_AID_USER in the order the database first sees
 * them.  Ids never change meaning within a branch's history.
 */
#include <stdlib.h>
#include <string.h>

#include "db/internal.h"

static const struct {
	const char *ident;
	enum dh_value_type type;
	enum dh_cardinality card;
	enum dh_unique unique;
	int index;
} sysattrs[] = {
	[AID_IDENT] = { "db/ident", DH_VT_KEYWORD, DH_CARD_ONE, DH_UNIQUE_IDENTITY, 0 },
	[AID_VALUETYPE] = { "db/valueType", DH_VT_VALUETYPE, DH_CARD_ONE, 0, 0 },
	[AID_CARDINALITY] = { "db/cardinality", DH_VT_CARDINALITY, DH_CARD_ONE, 0, 0 },
	[AID_UNIQUE] = { "db/unique", DH_VT_UNIQUE, DH_CARD_ONE, 0, 0 },
	[AID_INDEX] = { "db/index", DH_VT_BOOLEAN, DH_CARD_ONE, 0, 0 },
	[AID_ISCOMPONENT] = { "db/isComponent", DH_VT_BOOLEAN, DH_CARD_ONE, 0, 0 },
	[AID_NOHISTORY] = { "db/noHistory", DH_VT_BOOLEAN, DH_CARD_ONE, 0, 0 },
	[AID_DOC] = { "db/doc", DH_VT_STRING, DH_CARD_ONE, 0, 1 },
	[AID_TXINSTANT] = { "db/txInstant", DH_VT_INSTANT, DH_CARD_ONE, 0, 1 },
	[AID_TUPLEATTRS] = { "db/tupleAttrs", DH_VT_TUPLE, DH_CARD_ONE, 0, 0 },
	[AID_TUPLETYPES] = { "db/tupleTypes", DH_VT_TUPLE, DH_CARD_ONE, 0, 0 },
	[AID_TUPLETYPE] = { "db/tupleType", DH_VT_KEYWORD, DH_CARD_ONE, 0, 0 },
};

static const char *const vtnames[] = {
	[DH_VT_ANY] = NULL,
	[DH_VT_STRING] = "db.type/string",
	[DH_VT_KEYWORD] = "db.type/keyword",
	[DH_VT_SYMBOL] = "db.type/symbol",
	[DH_VT_LONG] = "db.type/long",
	[DH_VT_DOUBLE] = "db.type/double",
	[DH_VT_FLOAT] = "db.type/float",
	[DH_VT_BOOLEAN] = "db.type/boolean",
	[DH_VT_INSTANT] = "db.type/instant",
	[DH_VT_UUID] = "db.type/uuid",
	[DH_VT_REF] = "db.type/ref",
	[DH_VT_BIGINT] = "db.type/bigint",
	[DH_VT_BIGDEC] = "db.type/bigdec",
	[DH_VT_BYTES] = "db.type/bytes",
	[DH_VT_TUPLE] = "db.type/tuple",
	[DH_VT_NUMBER] = "db.type/number",
	[DH_VT_VALUETYPE] = "db.type/valueType",
	[DH_VT_CARDINALITY] = "db.type/cardinality",
	[DH_VT_UNIQUE] = "db.type/unique",
};

const char *dh_value_type_name(enum dh_value_type t)
{
	if ((unsigned)t >= sizeof(vtnames) / sizeof(vtnames[0]))
		return NULL;
	return vtnames[t];
}

enum dh_value_type value_type_from_kw(const char *s, size_t len)
{
	size_t i;

	for (i = 1; i <= DH_VT_NUMBER; i++)
		if (vtnames[i] && strlen(vtnames[i]) == len && !memcmp(vtnames[i], s, len))
			return (enum dh_value_type)i;
	return DH_VT_ANY;
}

static uint64_t str_hash(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ull;

	while (len--)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h;
}

static int rehash(struct schema *s)
{
	size_t cap = s->hcap ? s->hcap : 64, i;
	dh_aid aid;

	while (cap < (size_t)s->max * 2 + 8)
		cap *= 2;
	free(s->hash);
	s->hash = calloc(cap, sizeof(*s->hash));
	if (!s->hash)
		return dh_error_set(DH_ENOMEM, "out of memory");
	s->hcap = cap;
	for (aid = 1; aid <= s->max; aid++) {
		const struct dh_attr *at = &s->attrs[aid];

		if (!at->ident)
			continue;
		i = str_hash(at->ident, at->ident_len) & (cap - 1);
		while (s->hash[i])
			i = (i + 1) & (cap - 1);
		s->hash[i] = aid;
	}
	return 0;
}

const struct dh_attr *schema_find(const struct schema *s, const char *ident, size_t len)
{
	size_t i;

	if (!s->hcap)
		return NULL;
	i = str_hash(ident, len) & (s->hcap - 1);
	while (s->hash[i]) {
		const struct dh_attr *at = &s->attrs[s->hash[i]];

		if (at->ident_len == len && !memcmp(at->ident, ident, len))
			return at;
		i = (i + 1) & (s->hcap - 1);
	}
	return NULL;
}

static int grow(struct schema *s, dh_aid need)
{
	if (need < s->cap)
		return 0;
	dh_aid cap = s->cap ? s->cap : 128;
	while (cap <= need)
		cap *= 2;
	struct dh_attr *na = realloc(s->attrs, cap * sizeof(*na));
	if (!na)
		return dh_error_set(DH_ENOMEM, "out of memory");
	memset(na + s->cap, 0, (cap - s->cap) * sizeof(*na));
	s->attrs = na;
	s->cap = cap;
	return 0;
}

static int set_ident(struct schema *s, dh_aid aid, const char *ident, size_t len)
{
	struct dh_attr *at;
	int rc;

	if ((rc = grow(s, aid)))
		return rc;
	at = &s->attrs[aid];
	at->aid = aid;
	at->ident = dh_arena_strndup(s->arena, ident, len);
	if (!at->ident)
		return DH_ENOMEM;
	at->ident_len = (uint32_t)len;
	if (aid > s->max)
		s->max = aid;
	return 0;
}

int schema_new_system(struct schema **out)
{
	struct schema *s = calloc(1, sizeof(*s));
	dh_aid aid;
	int rc;

	*out = NULL;
	if (!s)
		return dh_error_set(DH_ENOMEM, "out of memory");
	s->refs = 1;
	if ((rc = dh_arena_new(&s->arena)))
		goto fail;
	for (aid = 1; aid < AID_SYSTEM_END; aid++) {
		struct dh_attr *at;

		if ((rc = set_ident(s, aid, sysattrs[aid].ident, strlen(sysattrs[aid].ident))))
			goto fail;
		at = &s->attrs[aid];
		at->type = sysattrs[aid].type;
		at->card = sysattrs[aid].card;
		at->unique = sysattrs[aid].unique;
		at->index = (uint8_t)sysattrs[aid].index;
		at->declared = 1;
	}
	s->max = DH_AID_USER - 1;
	if ((rc = grow(s, s->max)) || (rc = schema_finish(s)))
		goto fail;
	*out = s;
	return 0;
fail:
	schema_free(s);
	return rc;
}

struct schema *schema_share(struct schema *s)
{
	s->refs++;
	return s;
}

void schema_free(struct schema *s)
{
	if (!s || --s->refs > 0)
		return;
	free(s->attrs);
	free(s->rank);
	free(s->hash);
	dh_arena_free(s->arena);
	free(s);
}

int schema_clone(struct schema **out, const struct schema *s)
{
	struct schema *c = calloc(1, sizeof(*c));
	dh_aid aid;
	int rc;

	*out = NULL;
	if (!c)
		return dh_error_set(DH_ENOMEM, "out of memory");
	c->refs = 1;
	if ((rc = dh_arena_new(&c->arena)) || (rc = grow(c, s->max)))
		goto fail;
	c->max = s->max;
	for (aid = 1; aid <= s->max; aid++) {
		const struct dh_attr *f = &s->attrs[aid];
		struct dh_attr *t = &c->attrs[aid];

		if (!f->ident)
			continue;
		*t = *f;
		t->ident = dh_arena_strndup(c->arena, f->ident, f->ident_len);
		if (f->doc)
			t->doc = dh_arena_strndup(c->arena, f->doc, strlen(f->doc));
		if (f->ntuple_attrs) {
			dh_aid *v = dh_arena_alloc(c->arena, f->ntuple_attrs * sizeof(*v));
			if (!v) { rc = DH_ENOMEM; goto fail; }
			memcpy(v, f->tuple_attrs, f->ntuple_attrs * sizeof(*v));
			t->tuple_attrs = v;
		}
		if (f->ntuple_types) {
			enum dh_value_type *v = dh_arena_alloc(c->arena, f->ntuple_types * sizeof(*v));
			if (!v) { rc = DH_ENOMEM; goto fail; }
			memcpy(v, f->tuple_types, f->ntuple_types * sizeof(*v));
			t->tuple_types = v;
		}
		t->in_tuples = NULL;
		t->nin_tuples = 0;
		if (!t->ident) { rc = DH_ENOMEM; goto fail; }
	}
	if ((rc = schema_finish(c)))
		goto fail;
	*out = c;
	return 0;
fail:
	schema_free(c);
	return rc;
}

int schema_add(struct schema *s, const char *ident, size_t len, dh_aid *out)
{
	const struct dh_attr *at = schema_find(s, ident, len);
	dh_aid aid;
	int rc;

	if (at) {
		*out = at->aid;
		return 0;
	}
	aid = s->max + 1;
	if ((rc = set_ident(s, aid, ident, len)))
		return rc;
	s->attrs[aid].type = DH_VT_ANY;
	if ((rc = rehash(s)))
		return rc;
	*out = aid;
	return 0;
}

static const struct schema *sort_schema;

static int by_ident(const void *x, const void *y)
{
	const struct dh_attr *a = &sort_schema->attrs[*(const dh_aid *)x];
	const struct dh_attr *b = &sort_schema->attrs[*(const dh_aid *)y];
	struct dh_val va = dh_text(DH_KEYWORD, a->ident, a->ident_len);
	struct dh_val vb = dh_text(DH_KEYWORD, b->ident, b->ident_len);

	return dh_val_cmp(&va, &vb);
}

int schema_finish(struct schema *s)
{
	dh_aid *order, aid, n = 0, i;
	int rc = 0;

	free(s->rank);
	s->rank = calloc((size_t)s->max + 1, sizeof(*s->rank));
	order = malloc(((size_t)s->max + 1) * sizeof(*order));
	if (!s->rank || !order) {
		free(order);
		return dh_error_set(DH_ENOMEM, "out of memory");
	}
	for (aid = 1; aid <= s->max; aid++)
		if (s->attrs[aid].ident)
			order[n++] = aid;
	sort_schema = s;
	qsort(order, n, sizeof(*order), by_ident);
	for (i = 0; i < n; i++)
		s->rank[order[i]] = i + 1;
	free(order);
	/* derived properties */
	for (aid = 1; aid <= s->max; aid++) {
		struct dh_attr *at = &s->attrs[aid];

		at->in_tuples = NULL;
		at->nin_tuples = 0;
		at->in_avet = at->ident && (at->index || at->unique || at->type == DH_VT_REF);
	}
	for (aid = 1; aid <= s->max; aid++) {
		struct dh_attr *at = &s->attrs[aid];
		uint32_t j;

		for (j = 0; at->ident && j < at->ntuple_attrs; j++) {
			struct dh_attr *p = &s->attrs[at->tuple_attrs[j]];
			dh_aid *v = dh_arena_alloc(s->arena, (p->nin_tuples + 1) * sizeof(*v));

			if (!v)
				return DH_ENOMEM;
			if (p->nin_tuples)
				memcpy(v, p->in_tuples, p->nin_tuples * sizeof(*v));
			v[p->nin_tuples] = aid;
			p->in_tuples = v;
			p->nin_tuples++;
		}
	}
	rc = rehash(s);
	return rc;
}

/*
 * Schema node: ["dh/schema", n, entry...], entry = [aid, ident, eid, type,
 * card, unique, flags, doc|null, [tuple aids], [tuple types], tuple_type],
 * flags = component 1 | noHistory 2 | index 4 | declared 8.
 */
int schema_encode(struct dh_buf *b, const struct schema *s)
{
	dh_aid aid, n = 0;
	uint32_t j;
	int rc;

	for (aid = DH_AID_USER; aid <= s->max; aid++)
		if (s->attrs[aid].ident)
			n++;
	if ((rc = dh_cw_head(b, 4, 2 + (uint64_t)n)) || (rc = dh_cw_text(b, "dh/schema", 9)) ||
	    (rc = dh_cw_uint(b, n)))
		return rc;
	for (aid = DH_AID_USER; aid <= s->max; aid++) {
		const struct dh_attr *at = &s->attrs[aid];
		unsigned flags;

		if (!at->ident)
			continue;
		flags = (at->is_component ? 1 : 0) | (at->no_history ? 2 : 0) | (at->index ? 4 : 0) |
			(at->declared ? 8 : 0);
		if ((rc = dh_cw_head(b, 4, 11)) || (rc = dh_cw_uint(b, aid)) ||
		    (rc = dh_cw_text(b, at->ident, at->ident_len)) || (rc = dh_cw_int(b, at->eid)) ||
		    (rc = dh_cw_uint(b, at->type)) || (rc = dh_cw_uint(b, at->card)) ||
		    (rc = dh_cw_uint(b, at->unique)) || (rc = dh_cw_uint(b, flags)))
			return rc;
		rc = at->doc ? dh_cw_text(b, at->doc, strlen(at->doc)) : dh_cw_null(b);
		if (rc || (rc = dh_cw_head(b, 4, at->ntuple_attrs)))
			return rc;
		for (j = 0; j < at->ntuple_attrs; j++)
			if ((rc = dh_cw_uint(b, at->tuple_attrs[j])))
				return rc;
		if ((rc = dh_cw_head(b, 4, at->ntuple_types)))
			return rc;
		for (j = 0; j < at->ntuple_types; j++)
			if ((rc = dh_cw_uint(b, at->tuple_types[j])))
				return rc;
		if ((rc = dh_cw_uint(b, at->tuple_type)))
			return rc;
	}
	return 0;
}

static int small(const struct dh_val *v, int64_t max, int64_t *out)
{
	if (v->type != DH_LONG || v->u.i < 0 || v->u.i > max)
		return -1;
	*out = v->u.i;
	return 0;
}

int schema_decode(struct schema **out, const struct dh_val *node, const char *key)
{
	struct schema *s = NULL;
	const struct dh_val *f = node->u.items;
	int64_t n, i, x;
	int rc;

	*out = NULL;
	if ((rc = schema_new_system(&s)))
		return rc;
	if (node->len < 2 || small(&f[1], 1 << 24, &n) || node->len != 2 + n)
		goto bad;
	for (i = 0; i < n; i++) {
		const struct dh_val *e = &f[2 + i];
		const struct dh_val *g;
		struct dh_attr *at;
		int64_t aid, flags;
		uint32_t j;

		if ((e->type != DH_VECTOR && e->type != DH_LIST) || e->len != 11)
			goto bad;
		g = e->u.items;
		if (small(&g[0], UINT32_MAX - 1, &aid) || aid < DH_AID_USER || g[1].type != DH_STRING ||
		    g[2].type != DH_LONG)
			goto bad;
		if ((rc = set_ident(s, (dh_aid)aid, g[1].u.s, g[1].len)))
			goto fail;
		at = &s->attrs[aid];
		at->eid = g[2].u.i;
		if (small(&g[3], DH_VT_UNIQUE, &x)) goto bad;
		at->type = (enum dh_value_type)x;
		if (small(&g[4], 1, &x)) goto bad;
		at->card = (enum dh_cardinality)x;
		if (small(&g[5], 2, &x)) goto bad;
		at->unique = (enum dh_unique)x;
		if (small(&g[6], 15, &flags)) goto bad;
		at->is_component = flags & 1;
		at->no_history = (flags >> 1) & 1;
		at->index = (flags >> 2) & 1;
		at->declared = (flags >> 3) & 1;
		if (g[7].type == DH_STRING)
			at->doc = dh_arena_strndup(s->arena, g[7].u.s, g[7].len);
		else if (g[7].type != DH_NIL)
			goto bad;
		if (g[8].type != DH_VECTOR && g[8].type != DH_LIST)
			goto bad;
		if (g[8].len) {
			dh_aid *v = dh_arena_alloc(s->arena, g[8].len * sizeof(*v));
			if (!v) { rc = DH_ENOMEM; goto fail; }
			for (j = 0; j < g[8].len; j++) {
				if (small(&g[8].u.items[j], UINT32_MAX - 1, &x)) goto bad;
				v[j] = (dh_aid)x;
			}
			at->tuple_attrs = v;
			at->ntuple_attrs = g[8].len;
		}
		if (g[9].type != DH_VECTOR && g[9].type != DH_LIST)
			goto bad;
		if (g[9].len) {
			enum dh_value_type *v = dh_arena_alloc(s->arena, g[9].len * sizeof(*v));
			if (!v) { rc = DH_ENOMEM; goto fail; }
			for (j = 0; j < g[9].len; j++) {
				if (small(&g[9].u.items[j], DH_VT_UNIQUE, &x)) goto bad;
				v[j] = (enum dh_value_type)x;
			}
			at->tuple_types = v;
			at->ntuple_types = g[9].len;
		}
		if (small(&g[10], DH_VT_UNIQUE, &x)) goto bad;
		at->tuple_type = (enum dh_value_type)x;
	}
	for (i = DH_AID_USER; i <= s->max; i++) {
		uint32_t j;

		for (j = 0; s->attrs[i].ident && j < s->attrs[i].ntuple_attrs; j++)
			if (s->attrs[i].tuple_attrs[j] > s->max || !s->attrs[s->attrs[i].tuple_attrs[j]].ident)
				goto bad;
	}
	if ((rc = schema_finish(s)))
		goto fail;
	*out = s;
	return 0;
bad:
	rc = dh_error_set(DH_ECORRUPT, "schema node '%s' is malformed", key);
fail:
	schema_free(s);
	return rc;
}
