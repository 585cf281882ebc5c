/*
 * rel.c - relations (flat row arrays) and tuple sets (relations with a
 * hash index) for the query evaluator.  See rel.h.
 */
#include <stdlib.h>
#include <string.h>

#include "rel.h"

struct rel *rel_new(const int *vars, int nv)
{
	struct rel *r = calloc(1, sizeof(*r) + (nv + 1) * sizeof(int));
	if (!r) {
		dh_error_set(DH_ENOMEM, "out of memory");
		return NULL;
	}
	r->vars = (int *)(r + 1);
	r->nv = nv;
	if (nv)
		memcpy(r->vars, vars, nv * sizeof(int));
	return r;
}

void rel_free(struct rel *r)
{
	if (!r)
		return;
	free(r->rows);
	free(r->slots);
	free(r);
}

struct dh_val *rel_push(struct rel *r)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		struct dh_val *n = realloc(r->rows, cap * (r->nv ? r->nv : 1) * sizeof(*n));
		if (!n) {
			dh_error_set(DH_ENOMEM, "out of memory (relation of %zu rows)", r->n);
			return NULL;
		}
		r->rows = n;
		r->cap = cap;
	}
	return r->rows + r->n++ * r->nv;
}

int rel_col(const struct rel *r, int var)
{
	for (int i = 0; i < r->nv; i++)
		if (r->vars[i] == var)
			return i;
	return -1;
}

uint64_t row_hash(const struct dh_val *row, const int *cols, int n)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL;
	for (int i = 0; i < n; i++) {
		h ^= dh_val_hash(&row[cols ? cols[i] : i]) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
	}
	return h;
}

int row_eq(const struct dh_val *a, const int *ca, const struct dh_val *b, const int *cb, int n)
{
	for (int i = 0; i < n; i++)
		if (!dh_val_eq(&a[ca ? ca[i] : i], &b[cb ? cb[i] : i]))
			return 0;
	return 1;
}

static int set_rehash(struct rel *s, size_t nslots)
{
	uint32_t *slots = calloc(nslots, sizeof(*slots));
	if (!slots)
		return dh_error_set(DH_ENOMEM, "out of memory");
	for (size_t i = 0; i < s->n; i++) {
		size_t h = row_hash(rel_row(s, i), NULL, s->nv) & (nslots - 1);
		while (slots[h])
			h = (h + 1) & (nslots - 1);
		slots[h] = (uint32_t)i + 1;
	}
	free(s->slots);
	s->slots = slots;
	s->nslots = nslots;
	return 0;
}

int set_has(const struct rel *s, const struct dh_val *row)
{
	if (!s->nslots)
		return 0;
	size_t h = row_hash(row, NULL, s->nv) & (s->nslots - 1);
	while (s->slots[h]) {
		if (row_eq(rel_row(s, s->slots[h] - 1), NULL, row, NULL, s->nv))
			return 1;
		h = (h + 1) & (s->nslots - 1);
	}
	return 0;
}

long set_find(const struct rel *s, const struct dh_val *row)
{
	if (!s->nslots)
		return -1;
	size_t h = row_hash(row, NULL, s->nv) & (s->nslots - 1);
	while (s->slots[h]) {
		if (row_eq(rel_row(s, s->slots[h] - 1), NULL, row, NULL, s->nv))
			return (long)s->slots[h] - 1;
		h = (h + 1) & (s->nslots - 1);
	}
	return -1;
}

int set_add(struct rel *s, const struct dh_val *row)
{
	int rc;
	if ((s->n + 1) * 2 > s->nslots && (rc = set_rehash(s, s->nslots ? s->nslots * 2 : 64)))
		return rc;
	size_t h = row_hash(row, NULL, s->nv) & (s->nslots - 1);
	while (s->slots[h]) {
		if (row_eq(rel_row(s, s->slots[h] - 1), NULL, row, NULL, s->nv))
			return 0;
		h = (h + 1) & (s->nslots - 1);
	}
	struct dh_val *dst = rel_push(s);
	if (!dst)
		return DH_ENOMEM;
	if (s->nv)
		memcpy(dst, row, s->nv * sizeof(*dst));
	s->slots[h] = (uint32_t)s->n;
	return 1;
}
