/* SPDX-License-Identifier: Apache-2.0 */
/* The density grid of a filter the grids per class do not hold (a state,
 * a source, a minor category, a department, a grid...) from the classes
 * around it: their sum, less the incidents they hold that the filter does
 * not pass. `status=closed` at ten million incidents splats the open ones,
 * not the closed. Or from the grid of one value of a dimension it passes
 * no more than (heat_margins.c), when that holds fewer. Taken when what is
 * left to take out is less than the filter passes; the grid is then
 * built. */
#include <stdlib.h>

#include "hutong/heat.h"

#include "heat_int.h"

/* The incidents passing @around but not @q. */
typedef struct residue {
    const ht_index *ix;
    const ht_index_filter *around, *q;
} residue;

static void walk_residue(const void *ctx, size_t part, size_t parts,
                         ht_index_point_fn fn, void *ud) {
    const residue *r = ctx;
    ht_index_points_outside_part(r->ix, r->around, r->q, part, parts, fn, ud);
}

typedef struct change_sum {
    ht_heat *h;
} change_sum;

static void add_change(void *ud, double x, double y, int sign, int severity,
                       unsigned major, int64_t t) {
    (void)severity, (void)major, (void)t;
    change_sum *c = ud;
    ht__heat_add(c->h, c->h->v, x, y, sign);
}

/* What is left of a node after the residue is taken from the classes'
 * sum, when it is within the floats' rounding of the sum (the grids per
 * class are floats: 6e-8 of each): none, as a build finds it. */
#define CANCELLED 1e-6

ht_status ht__heat_from_residue(const ht_heat_atlas *a, const ht_index *ix,
                                const ht_index_filter *q, const ht_heat_opts *o,
                                ht_heat **out, ht_error *err) {
    *out = NULL;
    ht_index_filter *around;
    ht_status st = ht_index_filter_class_superset(q, &around, err);
    unsigned sev;
    if (st != HT_OK) {
        return st;
    }
    if (!ht_heat_atlas_serves(a, ix, around, o) ||
        !ht_index_filter_classes(around, &sev)) {
        ht_index_filter_free(around);
        return ht_error_set(err, HT_ENOTFOUND,
                            "the density grids per class do not hold the "
                            "classes around it");
    }
    size_t est = 0;
    for (int s = 1; s <= SEVERITIES; s++) {
        for (size_t m = 0; (sev >> s & 1) && m < a->nclass; m++) {
            est += ht_index_filter_category(around, m)
                       ? a->count[ht__heat_atlas_class(a, s, (unsigned)m)]
                       : 0;
        }
    }
    /* A value's grid holding fewer, of a value @q passes alone. */
    const heat_margins *ms = ht__heat_atlas_margins(a);
    const heat_margin *margin = NULL;
    for (size_t k = 0; ms && k < ms->n; k++) {
        ht_index_filter *qm;
        if (ms->m[k].count >= est ||
            ht__heat_margin_filter(&ms->m[k], ix, &qm, NULL) != HT_OK) {
            continue;
        }
        if (!ht_index_filter_implies(q, qm)) {
            ht_index_filter_free(qm);
            continue;
        }
        ht_index_filter_free(around);
        around = qm;
        margin = &ms->m[k];
        est = margin->count;
    }
    /* Not worth a count when it passes fewer than half of them anyway. */
    if (2 * ht_index_passes_at_most(ix, q) < est) {
        ht_index_filter_free(around);
        return ht_error_set(err, HT_ENOTFOUND,
                            "the classes around it hold more that it does "
                            "not pass than it passes");
    }
    size_t n_around, n_q;
    ht_index_count_within(ix, around, q, &n_around, &n_q);
    if (n_around - n_q >= n_q) {
        ht_index_filter_free(around);
        return ht_error_set(err, HT_ENOTFOUND,
                            "the classes around it hold more that it does "
                            "not pass than it passes");
    }
    ht_heat *h;
    st = ht__heat_new(ix, o, &h, err);
    if (st == HT_OK && !ht__heat_same_nodes(h, a->geo)) {
        st = ht_error_set(err, HT_ENOTFOUND,
                          "the changes since the base moved the grid");
    }
    double *rest = NULL;
    residue r = {ix, around, q};
    if (st == HT_OK && !ht__heat_splat_walk(h, walk_residue, &r, &rest)) {
        st = ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    if (st == HT_OK && margin) {
        for (size_t k = 0, nodes = h->nx * h->ny; k < nodes; k++) {
            h->v[k] += margin->v[k];
        }
    } else if (st == HT_OK) {
        ht__heat_atlas_sum_classes(a, around, sev, h);
    }
    if (st == HT_OK) {
        change_sum c = {h};
        ht_index_changes(ix, around, add_change, &c);
        for (size_t k = 0, nodes = h->nx * h->ny; k < nodes; k++) {
            double v = h->v[k] - rest[k];
            h->v[k] = v > h->v[k] * CANCELLED ? v : 0;
        }
        h->count = n_q;
        if (!ht__heat_finish(h)) {
            st = ht_error_set(err, HT_ENOMEM, "out of memory");
        }
    }
    free(rest);
    ht_index_filter_free(around);
    if (st != HT_OK) {
        ht_heat_free(h);
        return st;
    }
    *out = h;
    return HT_OK;
}
