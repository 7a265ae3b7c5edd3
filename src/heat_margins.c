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
    case MARGIN_GRID:
        snprintf(f.grid, sizeof f.grid, "%.31s", m->name);
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
    case MARGIN_GRID: /* (one code a filter: see the union's test) */
        return false;
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
                            size_t *nsel) {
    *nsel = 0;
    ht_index_filter **parts = ms ? malloc((ms->n + 1) * sizeof *parts) : NULL;
    /* (a community's grid is within @q only when @q names grids) */
    int dims = ht_index_filter_names_grids(q) ? MARGIN_DIMS : MARGIN_GRID;
    for (int d = 0; parts && d < dims; d++) {
        ht_filter f = ht_filter_all();
        size_t n = 0;
        for (size_t k = 0; k < ms->n; k++) {
            ht_index_filter *qm;
            if (ms->m[k].dim != (margin_dim)d ||
                ht__heat_margin_filter(&ms->m[k], ix, &qm, NULL) != HT_OK) {
                continue;
            }
            /* (the values' rows are disjoint: their grids add up) */
            if (ht_index_filter_implies(qm, q) &&
                (d == MARGIN_GRID || add_value(&f, &ms->m[k]))) {
                sel[n] = &ms->m[k];
                parts[n++] = qm;
            } else {
                ht_index_filter_free(qm);
            }
        }
        /* Within @q, and all of it. */
        bool all = false;
        ht_index_filter *qu;
        if (n && d == MARGIN_GRID) {
            all = ht_index_filter_grids_within(
                q, (const ht_index_filter *const *)parts, n);
        } else if (n && ht_index_filter_new(ix, &f, &qu, NULL) == HT_OK) {
            all = ht_index_filter_implies(q, qu);
            ht_index_filter_free(qu);
        }
        for (size_t k = 0; k < n; k++) {
            ht_index_filter_free(parts[k]);
        }
        if (all) {
            *nsel = n;
            break;
        }
    }
    free(parts);
    return *nsel > 0;
}

void ht__heat_margin_add(const heat_margin *m, const ht_heat *geo, double *v,
                         double sign) {
    for (size_t j = 0; j < m->nj; j++) {
        double *row = v + (m->j0 + j) * geo->nx + m->i0;
        const float *from = m->v + j * m->ni;
        for (size_t i = 0; i < m->ni; i++) {
            row[i] += sign * from[i];
        }
    }
}

/* @acc's nodes (of @geo's) into m->v, within the box of those not 0 for
 * a community's, all of them for the others'; false when out of memory. */
static bool keep_nodes(heat_margin *m, const ht_heat *geo, const double *acc) {
    size_t nx = geo->nx, ny = geo->ny, i0 = 0, j0 = 0, i1 = nx, j1 = ny;
    if (m->dim == MARGIN_GRID) {
        i0 = nx, j0 = ny, i1 = j1 = 0;
        for (size_t j = 0; j < ny; j++) {
            for (size_t i = 0; i < nx; i++) {
                if (acc[j * nx + i] != 0) {
                    i0 = i < i0 ? i : i0;
                    i1 = i + 1 > i1 ? i + 1 : i1;
                    j0 = j < j0 ? j : j0;
                    j1 = j + 1;
                }
            }
        }
        if (i1 <= i0) {
            i0 = j0 = i1 = j1 = 0;
        }
    }
    m->i0 = (uint32_t)i0, m->j0 = (uint32_t)j0;
    m->ni = (uint32_t)(i1 - i0), m->nj = (uint32_t)(j1 - j0);
    size_t n = (size_t)m->ni * m->nj;
    if (!(m->v = malloc((n ? n : 1) * sizeof *m->v))) {
        return false;
    }
    for (size_t j = 0; j < m->nj; j++) {
        for (size_t i = 0; i < m->ni; i++) {
            m->v[j * m->ni + i] = (float)acc[(j0 + j) * nx + i0 + i];
        }
    }
    return true;
}

static int by_count(const void *a, const void *b) {
    const heat_margin *x = a, *y = b;
    return (x->count < y->count) - (x->count > y->count);
}

/* The base rows of a margin's filter; how many each part has. */
typedef struct margin_rows {
    const ht_index *ix;
    const ht_index_filter *q;
    size_t *n;
} margin_rows;

typedef struct counted {
    ht_index_point_fn fn;
    void *ud;
    size_t n;
} counted;

static void count_point(void *ud, double x, double y, int severity) {
    counted *c = ud;
    c->n++;
    c->fn(c->ud, x, y, severity);
}

static void walk_margin(const void *ctx, size_t part, size_t parts,
                        ht_index_point_fn fn, void *ud) {
    const margin_rows *r = ctx;
    counted c = {fn, ud, 0};
    ht_index_base_rows_matching(r->ix, r->q, part, parts, count_point, &c);
    r->n[part] = c.n;
}

/* The grid of @m's base rows into m->v, and for a community's their count
 * into m->count; false when out of memory. */
static bool splat_margin(const ht_heat_atlas *a, const ht_index *ix,
                         heat_margin *m) {
    ht_index_filter *q;
    if (ht__heat_margin_filter(m, ix, &q, NULL) != HT_OK) {
        return false;
    }
    size_t nodes = a->geo->nx * a->geo->ny, n[HT__HEAT_MAX_PARTS] = {0};
    margin_rows r = {ix, q, n};
    double *acc = NULL;
    bool ok = ht__heat_splat_walk(a->geo, walk_margin, &r, &acc) &&
              keep_nodes(m, a->geo, acc);
    if (m->dim == MARGIN_GRID) {
        m->count = 0;
        for (size_t p = 0; p < HT__HEAT_MAX_PARTS; p++) {
            m->count += n[p];
        }
    }
    ht__heat_grid_give(acc, nodes);
    ht_index_filter_free(q);
    return ok;
}

/* The communities' grids appended to @ms, the most incidents first while
 * they fit in @allow bytes; false when out of memory. */
static bool add_communities(heat_margins *ms, const ht_heat_atlas *a,
                            const ht_index *ix, size_t allow) {
    size_t ng = ht_index_groups(ix, HT_GROUP_GRID) - 1, nc = 0;
    for (size_t g = 0; g < ng; g++) {
        nc += ht_index_grid_is_community(ix, g);
    }
    heat_margin *more =
        nc ? realloc(ms->m, (ms->n + nc) * sizeof *ms->m) : ms->m;
    if (!more) {
        return false;
    }
    ms->m = more;
    size_t first = ms->n, used = 0;
    for (size_t g = 0; g < ng; g++) {
        if (!ht_index_grid_is_community(ix, g)) {
            continue;
        }
        char buf[16];
        heat_margin *m = &ms->m[ms->n];
        *m = (heat_margin){.dim = MARGIN_GRID};
        snprintf(m->name, sizeof m->name, "%s",
                 ht_index_group_key(ix, HT_GROUP_GRID, g, buf));
        if (!splat_margin(a, ix, m)) {
            free(m->v);
            return false;
        }
        if (m->count == 0) {
            free(m->v);
            continue;
        }
        ms->n++;
    }
    qsort(ms->m + first, ms->n - first, sizeof *ms->m, by_count);
    size_t kept = first;
    for (size_t k = first; k < ms->n; k++) {
        size_t bytes = (size_t)ms->m[k].ni * ms->m[k].nj * sizeof(float);
        if (used + bytes <= allow) {
            used += bytes;
            ms->m[kept++] = ms->m[k];
        } else {
            free(ms->m[k].v);
        }
    }
    ms->n = kept;
    ms->bytes += used;
    return true;
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
    size_t allow = HT__HEAT_GRID_MARGINS * per;
    if (!add_communities(ms, a, ix, allow < max_bytes ? allow : max_bytes)) {
        ht__heat_margins_free(ms);
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    atomic_store_explicit(&a->margins, ms, memory_order_release);
    return HT_OK;
}

typedef struct advance_ctx {
    const ht_heat *geo;
    double *acc;
    long count;
    size_t changes;
} advance_ctx;

static void add_change(void *ud, double x, double y, int sign, int severity,
                       unsigned major, int64_t t) {
    (void)severity, (void)major, (void)t;
    advance_ctx *c = ud;
    ht__heat_add((ht_heat *)c->geo, c->acc, x, y, sign);
    c->count += sign;
    c->changes++;
}

/* Whether @acc (of @geo's nodes) is 0 outside @m's box. */
static bool within_box(const heat_margin *m, const ht_heat *geo,
                       const double *acc) {
    for (size_t j = 0; j < geo->ny; j++) {
        bool in_rows = j >= m->j0 && j < (size_t)m->j0 + m->nj;
        for (size_t i = 0; i < geo->nx; i++) {
            if (acc[j * geo->nx + i] != 0 &&
                !(in_rows && i >= m->i0 && i < (size_t)m->i0 + m->ni)) {
                return false;
            }
        }
    }
    return true;
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
        const heat_margin *was = &from->m[k];
        heat_margin *m = &ms->m[ms->n++];
        *m = *was;
        m->v = NULL;
        ht_index_filter *q;
        advance_ctx c = {a->geo, ht__heat_grid_take(nodes, true), 0, 0};
        ok = c.acc && ht__heat_margin_filter(m, ix, &q, NULL) == HT_OK;
        if (ok) {
            ht_index_changes(ix, q, add_change, &c);
            ht_index_filter_free(q);
        }
        /* A community's changes beyond its box: its grid is dropped. */
        if (ok && c.changes && !within_box(m, a->geo, c.acc)) {
            ms->n--;
            ht__heat_grid_give(c.acc, nodes);
            continue;
        }
        size_t n = (size_t)m->ni * m->nj;
        ok = ok && (m->v = malloc((n ? n : 1) * sizeof *m->v)) != NULL;
        for (size_t j = 0; ok && j < m->nj; j++) {
            for (size_t i = 0; i < m->ni; i++) {
                m->v[j * m->ni + i] =
                    (float)(was->v[j * m->ni + i] +
                            c.acc[(m->j0 + j) * a->geo->nx + m->i0 + i]);
            }
        }
        m->count = (size_t)((long)m->count + c.count);
        ms->bytes += n * sizeof *m->v;
        ht__heat_grid_give(c.acc, nodes);
    }
    if (!ok) {
        ht__heat_margins_free(ms);
        return false;
    }
    *out = ms;
    return true;
}
