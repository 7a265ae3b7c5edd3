/* SPDX-License-Identifier: Apache-2.0 */
/* The density grid of a filter the grids per class do not hold (a state,
 * a source, a minor category, a department, a grid...). When it passes the
 * rows of some values of one dimension and nothing else, each value with a
 * grid of its own (heat_margins.c): the sum of those (source=patrol;
 * status=closed, closed and evaluated; a street office, its communities). Else
 * from the classes around it: their sum, less the incidents they hold that the
 * filter does not pass. `status=closed` at ten million incidents splats the
 * open ones, not the closed. Or from the grid of one value of a dimension it
 * passes no more than, when that holds fewer. Taken when what is left to take
 * out is less than the filter passes; the grid is then built. */
#include <stdlib.h>
#include <string.h>

#include "hutong/heat.h"

#include "heat_int.h"

/* The incidents passing @around but not @q; how many of each part pass
 * @around, and @q too. */
typedef struct residue {
    const ht_index *ix;
    const ht_index_filter *around, *q;
    size_t (*n)[2];
} residue;

static void walk_residue(const void *ctx, size_t part, size_t parts,
                         ht_index_point_fn fn, void *ud) {
    const residue *r = ctx;
    ht_index_points_outside_part(r->ix, r->around, r->q, part, parts, fn, ud,
                                 &r->n[part][0], &r->n[part][1]);
}

/* From this many incidents on, which side is smaller is judged from one
 * block of 64 rows in SAMPLE_EVERY (a wrong guess costs time, not
 * exactness: the counts themselves come with the splat). */
#define SAMPLE_FROM 1000000
#define SAMPLE_EVERY 16

typedef struct change_sum {
    ht_heat *h;
    long count;
} change_sum;

static void add_change(void *ud, double x, double y, int sign, int severity,
                       unsigned major, int64_t t) {
    (void)severity, (void)major, (void)t;
    change_sum *c = ud;
    ht__heat_add(c->h, c->h->v, x, y, sign);
    c->count += sign;
}

/* What is left of a node after the residue is taken from the classes'
 * sum, when it is within the floats' rounding of the sum (the grids per
 * class are floats: 6e-8 of each): none, as a build finds it. */
#define CANCELLED 1e-6

/* A new grid on @a's nodes into *@out; HT_ENOTFOUND when the changes
 * since the base moved them. */
static ht_status grid_on(const ht_heat_atlas *a, const ht_index *ix,
                         const ht_heat_opts *o, ht_heat **out, ht_error *err) {
    ht_status st = ht__heat_new(ix, o, out, err);
    if (st == HT_OK && !ht__heat_same_nodes(*out, a->geo)) {
        ht_heat_free(*out);
        *out = NULL;
        st = ht_error_set(err, HT_ENOTFOUND,
                          "the changes since the base moved the grid");
    }
    return st;
}

/* The grid of @q as the sum of values' grids (ht__heat_margins_union);
 * HT_ENOTFOUND when it is not one. */
static ht_status from_union(const ht_heat_atlas *a, const ht_index *ix,
                            const ht_index_filter *q, const ht_heat_opts *o,
                            ht_heat **out, ht_error *err) {
    const heat_margins *ms = ht__heat_atlas_margins(a);
    const heat_margin **sel = ms ? malloc((ms->n + 1) * sizeof *sel) : NULL;
    size_t n;
    ht_status st = HT_OK;
    if (ms && !sel) {
        st = ht_error_set(err, HT_ENOMEM, "out of memory");
    } else if (!ht__heat_margins_union(ms, ix, q, sel, &n)) {
        st = ht_error_set(err, HT_ENOTFOUND,
                          "no grids per value make up the filter");
    }
    ht_heat *h = NULL;
    if (st == HT_OK) {
        st = grid_on(a, ix, o, &h, err);
    }
    if (st == HT_OK) {
        long count = 0;
        for (size_t k = 0; k < n; k++) {
            ht__heat_margin_add(sel[k], a->geo, h->v, 1);
            count += (long)sel[k]->count;
        }
        /* (the base rows of the values, dead ones too, and the changes:
         * those of @q, which their union is) */
        change_sum c = {h, count};
        ht_index_changes(ix, q, add_change, &c);
        h->count = (size_t)c.count;
        if (!ht__heat_finish(h)) {
            st = ht_error_set(err, HT_ENOMEM, "out of memory");
        }
    }
    free(sel);
    if (st != HT_OK) {
        ht_heat_free(h);
        h = NULL;
    }
    *out = h;
    return st;
}

ht_status ht__heat_from_residue(const ht_heat_atlas *a, const ht_index *ix,
                                const ht_index_filter *q, const ht_heat_opts *o,
                                ht_heat **out, ht_error *err) {
    *out = NULL;
    ht_status st = from_union(a, ix, q, o, out, err);
    if (st != HT_ENOTFOUND) {
        return st;
    }
    ht_index_filter *around;
    st = ht_index_filter_class_superset(q, &around, err);
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
    /* A value's grid holding fewer, of a value @q passes alone; or the
     * communities' of the grids @q names. */
    const heat_margins *ms = ht__heat_atlas_margins(a);
    const heat_margin **sel = ms ? malloc((ms->n + 1) * sizeof *sel) : NULL;
    size_t nsel = 0;
    if (ms && !sel) {
        ht_index_filter_free(around);
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    for (size_t k = 0; ms && k < ms->n; k++) {
        ht_index_filter *qm;
        /* (communities' come below, as a union of one or more) */
        if (ms->m[k].dim == MARGIN_GRID || ms->m[k].count >= est ||
            ht__heat_margin_filter(&ms->m[k], ix, &qm, NULL) != HT_OK) {
            continue;
        }
        if (!ht_index_filter_implies(q, qm)) {
            ht_index_filter_free(qm);
            continue;
        }
        ht_index_filter_free(around);
        around = qm;
        sel[0] = &ms->m[k];
        nsel = 1;
        est = sel[0]->count;
    }
    ht_index_filter *qg;
    size_t ng = 0;
    if (ms && ht_index_filter_names_grids(q) &&
        ht_index_filter_grid_superset(q, &qg, NULL) == HT_OK) {
        const heat_margin **gs = malloc((ms->n + 1) * sizeof *gs);
        size_t in = 0;
        if (gs && ht__heat_margins_union(ms, ix, qg, gs, &ng)) {
            for (size_t k = 0; k < ng; k++) {
                in += gs[k]->count;
            }
        }
        if (ng && in < est) {
            ht_index_filter_free(around);
            around = qg;
            memcpy(sel, gs, ng * sizeof *sel);
            nsel = ng;
            est = in;
        } else {
            ht_index_filter_free(qg);
        }
        free(gs);
    }
    /* Not worth a count when it passes fewer than half of them anyway. */
    size_t n_around = 0, n_q = 0;
    if (2 * ht_index_passes_at_most(ix, q) >= est) {
        ht_index_count_within(
            ix, around, q, ht_index_count(ix) >= SAMPLE_FROM ? SAMPLE_EVERY : 1,
            &n_around, &n_q);
    }
    if (n_around - n_q >= n_q) {
        free(sel);
        ht_index_filter_free(around);
        return ht_error_set(err, HT_ENOTFOUND,
                            "the classes around it hold more that it does "
                            "not pass than it passes");
    }
    ht_heat *h = NULL;
    st = grid_on(a, ix, o, &h, err);
    double *rest = NULL;
    size_t n[HT__HEAT_MAX_PARTS][2] = {{0}};
    residue r = {ix, around, q, n};
    if (st == HT_OK && !ht__heat_splat_walk(h, walk_residue, &r, &rest)) {
        st = ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    for (size_t k = 0; st == HT_OK && k < nsel; k++) {
        ht__heat_margin_add(sel[k], a->geo, h->v, 1);
    }
    if (st == HT_OK && !nsel) {
        ht__heat_atlas_sum_classes(a, around, sev, h);
    }
    if (st == HT_OK) {
        change_sum c = {h, 0};
        ht_index_changes(ix, around, add_change, &c);
        for (size_t k = 0, nodes = h->nx * h->ny; k < nodes; k++) {
            double v = h->v[k] - rest[k];
            h->v[k] = v > h->v[k] * CANCELLED ? v : 0;
        }
        /* (counted by the walk that found the residue) */
        h->count = 0;
        for (size_t p = 0; p < HT__HEAT_MAX_PARTS; p++) {
            h->count += n[p][1];
        }
        if (!ht__heat_finish(h)) {
            st = ht_error_set(err, HT_ENOMEM, "out of memory");
        }
    }
    ht__heat_grid_give(rest, h ? h->nx * h->ny : 0);
    free(sel);
    ht_index_filter_free(around);
    if (st != HT_OK) {
        ht_heat_free(h);
        return st;
    }
    *out = h;
    return HT_OK;
}
