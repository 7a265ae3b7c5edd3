/* SPDX-License-Identifier: Apache-2.0 */
/* Density grids per value of a dimension the grids per class do not hold
 * (a state, a source, a department, a verdict, a minor category), for the
 * values that hold a large share of the base: a filter of one of them is that
 * grid less the few incidents it holds that the filter does not pass, where the
 * classes around it would leave most of the district to splat
 * (source=patrol, a department, status=closed). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hutong/heat.h"
#include "hutong/model.h"

#include "heat_int.h"

void ht__heat_margins_free(heat_margins *m) {
    if (!m) {
        return;
    }
    for (size_t k = 0; m->m && k < m->n; k++) {
        free(m->m[k].v);
    }
    free(m->m);
    free(m);
}

const heat_margins *ht__heat_atlas_margins(const ht_heat_atlas *a) {
    return atomic_load_explicit(&((ht_heat_atlas *)a)->margins,
                                memory_order_acquire);
}

ht_status ht__heat_margin_filter(const heat_margin *m, const ht_index *ix,
                                 ht_index_filter **out, ht_error *err) {
    ht_filter f = ht_filter_all();
    switch (m->dim) {
    case MARGIN_STATE:
        f.status = 1u << m->value;
        break;
    case MARGIN_SOURCE:
        f.source = 1u << m->value;
        break;
    case MARGIN_SATISFACTION:
        f.satisfaction = 1u << m->value;
        break;
    case MARGIN_CATEGORY:
        f.ncategory = 1;
        snprintf(f.category[0], sizeof f.category[0], "%.15s", m->name);
        break;
    case MARGIN_DEPARTMENT:
    default:
        f.ndepartment = 1;
        snprintf(f.department[0], sizeof f.department[0], "%s", m->name);
        break;
    }
    return ht_index_filter_new(ix, &f, out, err);
}

static int by_name(const void *a, const void *b) {
    return strcmp(a, b);
}

/* Add margin @m's value to @f (of its dimension); false when @f has no
 * room for it. */
static bool add_value(ht_filter *f, const heat_margin *m) {
    switch (m->dim) {
    case MARGIN_STATE:
        f->status |= 1u << m->value;
        return true;
    case MARGIN_SOURCE:
        f->source |= 1u << m->value;
        return true;
    case MARGIN_SATISFACTION:
        f->satisfaction |= 1u << m->value;
        return true;
    case MARGIN_CATEGORY:
        if (f->ncategory == HT_FILTER_MAX_VALUES) {
            return false;
        }
        snprintf(f->category[f->ncategory++], sizeof f->category[0], "%.15s",
                 m->name);
        return true;
    case MARGIN_DEPARTMENT:
    default:
        if (f->ndepartment == HT_FILTER_MAX_DEPARTMENTS) {
            return false;
        }
        snprintf(f->department[f->ndepartment++], sizeof f->department[0], "%s",
                 m->name);
        qsort(f->department, f->ndepartment, sizeof f->department[0], by_name);
        return true;
    }
}

bool ht__heat_margins_union(const heat_margins *ms, const ht_index *ix,
                            const ht_index_filter *q, const heat_margin **sel,
                            size_t *nsel, ht_index_filter **u) {
    *nsel = 0;
    *u = NULL;
    for (int d = 0; ms && d < MARGIN_DIMS; d++) {
        ht_filter f = ht_filter_all();
        size_t n = 0;
        for (size_t k = 0; k < ms->n; k++) {
            ht_index_filter *qm;
            if (ms->m[k].dim != (margin_dim)d ||
                ht__heat_margin_filter(&ms->m[k], ix, &qm, NULL) != HT_OK) {
                continue;
            }
            /* (the values' rows are disjoint: their grids add up) */
            bool within = ht_index_filter_implies(qm, q);
            ht_index_filter_free(qm);
            if (within && add_value(&f, &ms->m[k])) {
                sel[n++] = &ms->m[k];
            }
        }
        ht_index_filter *qu;
        if (n == 0 || ht_index_filter_new(ix, &f, &qu, NULL) != HT_OK) {
            continue;
        }
        /* Within @q, and all of it. */
        if (ht_index_filter_implies(q, qu)) {
            *nsel = n;
            *u = qu;
            return true;
        }
        ht_index_filter_free(qu);
    }
    return false;
}

/* The base rows of a margin's filter. */
typedef struct margin_rows {
    const ht_index *ix;
    const ht_index_filter *q;
} margin_rows;

static void walk_margin(const void *ctx, size_t part, size_t parts,
                        ht_index_point_fn fn, void *ud) {
    const margin_rows *r = ctx;
    ht_index_base_rows_matching(r->ix, r->q, part, parts, fn, ud);
}

/* The grid of @m's base rows into m->v; false when out of memory. */
static bool splat_margin(const ht_heat_atlas *a, const ht_index *ix,
                         heat_margin *m) {
    ht_index_filter *q;
    if (ht__heat_margin_filter(m, ix, &q, NULL) != HT_OK) {
        return false;
    }
    size_t nodes = a->geo->nx * a->geo->ny;
    margin_rows r = {ix, q};
    double *acc = NULL;
    bool ok = ht__heat_splat_walk(a->geo, walk_margin, &r, &acc) &&
              (m->v = malloc(nodes * sizeof *m->v)) != NULL;
    for (size_t k = 0; ok && k < nodes; k++) {
        m->v[k] = (float)acc[k];
    }
    ht__heat_grid_give(acc, nodes);
    ht_index_filter_free(q);
    return ok;
}

static int by_count(const void *a, const void *b) {
    const heat_margin *x = a, *y = b;
    return (x->count < y->count) - (x->count > y->count);
}

ht_status ht_heat_atlas_add_margins(ht_heat_atlas *a, const ht_index *ix,
                                    size_t max_bytes, ht_error *err) {
    if (a->base != ht_index_base_serial(ix)) {
        return ht_error_set(err, HT_EINVAL,
                            "density grids of another base than the index's");
    }
    if (ht__heat_atlas_margins(a)) {
        return ht_error_set(err, HT_EINVAL,
                            "the density grids already have their margins");
    }
    size_t ndepts;
    const char *const *depts = ht_index_departments(ix, &ndepts);
    size_t state[8] = {0}, source[8] = {0}, sat[4] = {0};
    size_t ncats = ht_index_categories(ix);
    size_t *dept = calloc(ndepts + 1, sizeof *dept);
    size_t *cat = calloc(ncats + 1, sizeof *cat);
    heat_margins *ms = calloc(1, sizeof *ms);
    size_t cap = 8 + 8 + 4 + ndepts + ncats;
    if (ms) {
        ms->m = calloc(cap, sizeof *ms->m);
    }
    if (!dept || !cat || !ms || !ms->m) {
        free(dept);
        free(cat);
        ht__heat_margins_free(ms);
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    ht_index_base_value_counts(ix, state, source, sat, dept, cat);
    size_t total = 0;
    for (size_t v = 0; v < 8; v++) {
        total += state[v];
    }
    /* The values worth a grid. */
    const struct {
        margin_dim dim;
        const size_t *counts;
        size_t n;
    } dims[] = {{MARGIN_STATE, state, HT_STATE_COUNT},
                {MARGIN_SOURCE, source, HT_SOURCE_COUNT},
                {MARGIN_SATISFACTION, sat, HT_SAT_COUNT},
                {MARGIN_DEPARTMENT, dept, ndepts},
                {MARGIN_CATEGORY, cat, ncats}};
    for (size_t d = 0; d < sizeof dims / sizeof *dims; d++) {
        for (size_t v = 0; v < dims[d].n; v++) {
            size_t c = dims[d].counts[v];
            /* (a major class is the classes' own) */
            if (c * 100 < total * HT_HEAT_MARGIN_PERCENT || c >= total ||
                (dims[d].dim == MARGIN_CATEGORY &&
                 ht_index_category_is_major(ix, v))) {
                continue;
            }
            heat_margin *m = &ms->m[ms->n++];
            m->dim = dims[d].dim;
            m->value = m->dim < MARGIN_DEPARTMENT ? (uint32_t)v : 0;
            m->count = c;
            if (m->dim == MARGIN_DEPARTMENT) {
                snprintf(m->name, sizeof m->name, "%s", depts[v]);
            } else if (m->dim == MARGIN_CATEGORY) {
                snprintf(m->name, sizeof m->name, "%s",
                         ht_index_category_code(ix, v));
            }
        }
    }
    free(dept);
    free(cat);
    qsort(ms->m, ms->n, sizeof *ms->m, by_count);
    size_t per = a->geo->nx * a->geo->ny * sizeof(float), kept = 0;
    for (size_t k = 0; k < ms->n && ms->bytes + per <= max_bytes; k++) {
        ms->m[kept++] = ms->m[k];
        ms->bytes += per;
    }
    ms->n = kept;
    for (size_t k = 0; k < ms->n; k++) {
        if (!splat_margin(a, ix, &ms->m[k])) {
            ht__heat_margins_free(ms);
            return ht_error_set(err, HT_ENOMEM, "out of memory");
        }
    }
    atomic_store_explicit(&a->margins, ms, memory_order_release);
    return HT_OK;
}

typedef struct advance_ctx {
    const ht_heat *geo;
    double *acc;
    long count;
} advance_ctx;

static void add_change(void *ud, double x, double y, int sign, int severity,
                       unsigned major, int64_t t) {
    (void)severity, (void)major, (void)t;
    advance_ctx *c = ud;
    ht__heat_add((ht_heat *)c->geo, c->acc, x, y, sign);
    c->count += sign;
}

bool ht__heat_margins_advance(const heat_margins *from, const ht_heat_atlas *a,
                              const ht_index *ix, heat_margins **out) {
    *out = NULL;
    size_t nodes = a->geo->nx * a->geo->ny;
    heat_margins *ms = calloc(1, sizeof *ms);
    if (!ms || !(ms->m = calloc(from->n ? from->n : 1, sizeof *ms->m))) {
        free(ms);
        return false;
    }
    bool ok = true;
    for (size_t k = 0; ok && k < from->n; k++) {
        heat_margin *m = &ms->m[ms->n++];
        *m = from->m[k];
        m->v = NULL;
        ht_index_filter *q;
        advance_ctx c = {a->geo, calloc(nodes, sizeof(double)), 0};
        ok = c.acc && ht__heat_margin_filter(m, ix, &q, NULL) == HT_OK;
        if (ok) {
            ht_index_changes(ix, q, add_change, &c);
            ht_index_filter_free(q);
            ok = (m->v = malloc(nodes * sizeof *m->v)) != NULL;
        }
        for (size_t i = 0; ok && i < nodes; i++) {
            m->v[i] = (float)(from->m[k].v[i] + c.acc[i]);
        }
        m->count = (size_t)((long)m->count + c.count);
        ms->bytes += nodes * sizeof *m->v;
        free(c.acc);
    }
    if (!ok) {
        ht__heat_margins_free(ms);
        return false;
    }
    *out = ms;
    return true;
}
