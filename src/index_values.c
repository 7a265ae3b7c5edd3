/* SPDX-License-Identifier: Apache-2.0 */
/* The base's rows by the values of the filter's dimensions the grids per
 * class do not hold (state, source, department, satisfaction): how many of
 * each, the rows of a filter (dead ones too, as the grids per class hold
 * them), and whether a filter passes no more than another. */
#include <stdlib.h>

#include "index_int.h"

void ht_index_base_value_counts(const ht_index *ix, size_t state[8],
                                size_t source[8], size_t sat[4], size_t *dept,
                                size_t *cat) {
    const cols *c = &ix->b->c;
    size_t ndepts = ix->d->ndepts;
    for (size_t i = 0; i < c->n; i++) {
        unsigned fl = c->flags[i];
        state[fl >> 5]++;
        source[fl >> 2 & 7]++;
        sat[c->extra[i] & 3]++;
        uint32_t di = ht__row_dept(c, i);
        if (di != NONE16 && di < ndepts) {
            dept[di]++;
        }
        cat[ht__row_cat(c, i)]++;
    }
}

bool ht_index_category_is_major(const ht_index *ix, size_t cat) {
    return cat < ix->d->ncats && ix->d->cats[cat].major == cat;
}

void ht_index_base_rows_matching(const ht_index *ix, const ht_index_filter *q,
                                 size_t part, size_t parts,
                                 ht_index_point_fn fn, void *ud) {
    const cols *c = &ix->b->c;
    size_t i0 = c->n / parts * part;
    size_t i1 = part + 1 == parts ? c->n : c->n / parts * (part + 1);
    ht__qtab tab;
    if (ht__qtab_init(&tab, ix, q)) {
        for (size_t w0 = i0 / 64 * 64; !tab.none && w0 < i1; w0 += 64) {
            size_t a = w0 < i0 ? i0 - w0 : 0, e = i1 - w0 < 64 ? i1 - w0 : 64;
            uint64_t m = ht__qtab_block(&tab, c, w0, a, e);
            for (m = ht__qtab_rest(&tab, c, w0, m); m; m &= m - 1) {
                size_t i = w0 + (size_t)__builtin_ctzll(m);
                double x, y;
                ht__row_m(c, i, &x, &y);
                fn(ud, x, y, (int)(c->flags[i] & 3));
            }
        }
        ht__qtab_free(&tab);
        return;
    }
    /* (row by row, when the tables cannot be had) */
    for (size_t i = i0; i < i1; i++) {
        if (ht__match(q, c, i)) {
            double x, y;
            ht__row_m(c, i, &x, &y);
            fn(ud, x, y, (int)(c->flags[i] & 3));
        }
    }
}

/* Whether the bits of @a (of @n words; NULL: all) are within @b's. */
static bool bits_within(const uint64_t *a, const uint64_t *b, size_t n) {
    if (!b) {
        return true;
    }
    if (!a) {
        return false;
    }
    for (size_t k = 0; k < n; k++) {
        if (a[k] & ~b[k]) {
            return false;
        }
    }
    return true;
}

bool ht_index_filter_implies(const ht_index_filter *q,
                             const ht_index_filter *m) {
    if (!m) {
        return true;
    }
    if (!q || q->ix->d != m->ix->d) {
        return false;
    }
    const dict *d = q->ix->d;
    return q->t0 >= m->t0 && q->t1 <= m->t1 && !(q->sev & ~m->sev & 0xe) &&
           !(q->state & ~m->state & 0xff) && !(q->source & ~m->source & 0xff) &&
           !(q->sat & ~m->sat & 0xf) &&
           bits_within(q->cats, m->cats, d->ncats / 64 + 1) &&
           bits_within(q->grids, m->grids, d->ngrids / 64 + 1) &&
           bits_within(q->depts, m->depts, d->ndepts / 64 + 1) &&
           (m->overdue_at == 0 || q->overdue_at == m->overdue_at);
}

bool ht_index_filter_grids_within(const ht_index_filter *q,
                                  const ht_index_filter *const *parts,
                                  size_t n) {
    if (!q || !q->grids) {
        return false;
    }
    const dict *d = q->ix->d;
    for (size_t k = 0; k < n; k++) {
        if (!parts[k] || parts[k]->ix->d != d) {
            return false;
        }
        if (!parts[k]->grids) {
            return true;
        }
    }
    const base *b = q->ix->b;
    for (size_t w = 0; w < d->ngrids / 64 + 1; w++) {
        uint64_t left = q->grids[w];
        for (size_t k = 0; left && k < n; k++) {
            left &= ~parts[k]->grids[w];
        }
        /* (a grid none of the base's rows is in: a street office's own
         * code, when its incidents are all in its communities) */
        for (; left; left &= left - 1) {
            size_t g = w * 64 + (size_t)__builtin_ctzll(left);
            if (g < b->ngbox && b->gbox[g][0] <= b->gbox[g][2]) {
                return false;
            }
        }
    }
    return true;
}

bool ht_index_grid_is_community(const ht_index *ix, size_t g) {
    return g < ix->d->ngrids && ix->d->grids[g].community == g;
}

bool ht_index_filter_names_grids(const ht_index_filter *q) {
    return q && q->grids;
}
