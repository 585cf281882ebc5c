/*
 * rel.h - relations and tuple sets for the evaluator.
 *
 * A relation is a flat, growable array of rows of dh_val over a fixed list
 * of variables; a tuple set is a relation with an open-addressing hash
 * index over all its columns so inserting checks for duplicates in O(1).
 * Row storage is malloc'd in doubling blocks (a few allocations per
 * relation, never one per row); values inside rows point at memory owned
 * by the sources or the run's arena.
 */
#ifndef DH_QUERY_REL_H
#define DH_QUERY_REL_H

#include <stddef.h>
#include <stdint.h>

#include "q.h"

struct rel {
	int nv;
	int *vars;
	size_t n, cap;
	struct dh_val *rows;
	/* hash index over all columns (tuple sets only) */
	uint32_t *slots;
	size_t nslots;
};

struct rel *rel_new(const int *vars, int nv);
void rel_free(struct rel *r);
/* Append a row (nv values); returns a pointer to it or NULL on ENOMEM. */
struct dh_val *rel_push(struct rel *r);
int rel_col(const struct rel *r, int var);
static inline struct dh_val *rel_row(const struct rel *r, size_t i) { return r->rows + i * r->nv; }

/* Hash of selected columns of a row. */
uint64_t row_hash(const struct dh_val *row, const int *cols, int n);
int row_eq(const struct dh_val *a, const int *ca, const struct dh_val *b, const int *cb, int n);

/* Tuple set: add `row` (nv values) unless present.  Returns 1 added, 0 present, <0 error. */
int set_add(struct rel *s, const struct dh_val *row);
int set_has(const struct rel *s, const struct dh_val *row);
/* Index of `row` in the set, or -1. */
long set_find(const struct rel *s, const struct dh_val *row);

#endif
