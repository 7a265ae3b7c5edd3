/* SPDX-License-Identifier: Apache-2.0 */
/* Density grids per span of report time beside the grids per class, so
 * that the grid of a time window is the sum of the slices it covers and
 * of the rows of at most two slices it cuts. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "hutong/heat.h"

#include "heat_int.h"

#define HOUR_S 3600
#define BATCH 8 /* slices a thread splats in one walk over the base */
#define MAX_PARTS 4

static _Atomic int64_t forced_span;
static _Atomic size_t slice_rows = HT_HEAT_SLICE_ROWS;

void ht__heat_atlas_set_slice_span(int64_t span, size_t rows) {
    forced_span = span;
    slice_rows = rows ? rows : HT_HEAT_SLICE_ROWS;
}

void ht__heat_slices_free(heat_slices *s) {
    for (size_t k = 0; s && k < s->n; k++) {
        ht__heat_spans_free(s->v[k]);
    }
    if (s) {
        free(s->v);
        free(s->count);
        free(s->times);
        free(s);
    }
}

const heat_slices *ht__heat_atlas_slices(const ht_heat_atlas *a) {
    return atomic_load_explicit(&((ht_heat_atlas *)a)->slices,
                                memory_order_acquire);
}

int64_t ht_heat_atlas_slice_span(const ht_heat_atlas *a) {
    const heat_slices *s = ht__heat_atlas_slices(a);
    return s ? s->span : 0;
}

/* Slice number of time @t (floor, for times before 1970 too). */
static int64_t slice_of(int64_t t, int64_t span) {
    return t >= 0 ? t / span : -((-t + span - 1) / span);
}

static heat_slices *slices_new(int64_t span, int64_t first, size_t n) {
    heat_slices *s = calloc(1, sizeof *s);
    if (!s) {
        return NULL;
    }
    s->span = span;
    s->first = first;
    s->n = n;
    s->v = calloc(n ? n : 1, sizeof *s->v);
    s->count = calloc(n ? n : 1, sizeof *s->count);
    s->times = calloc(n ? n : 1, sizeof *s->times);
    if (!s->v || !s->count || !s->times) {
        ht__heat_slices_free(s);
        return NULL;
    }
    return s;
}

/* ---- building ---- */

typedef struct range_ctx {
    int64_t lo, hi;
    bool any;
} range_ctx;

static void range_row(void *ud, double x, double y, int severity,
                      unsigned major, int64_t t) {
    (void)x, (void)y, (void)severity, (void)major;
    range_ctx *r = ud;
    r->lo = r->any && r->lo < t ? r->lo : t;
    r->hi = r->any && r->hi > t ? r->hi : t;
    r->any = true;
}

/* Slice @k's times made to hold @t. */
static void widen(heat_slices *s, size_t k, int64_t t) {
    if (!s->count[k] || t < s->times[k][0]) {
        s->times[k][0] = t;
    }
    if (!s->count[k] || t > s->times[k][1]) {
        s->times[k][1] = t;
    }
}

static void count_row(void *ud, double x, double y, int severity,
                      unsigned major, int64_t t) {
    (void)x, (void)y, (void)severity, (void)major;
    heat_slices *s = ud;
    size_t k = (size_t)(slice_of(t, s->span) - s->first);
    widen(s, k, t);
    s->count[k]++;
}

typedef struct build_part {
    const ht_heat_atlas *a;
    const ht_index *ix;
    heat_slices *s;
    size_t part, parts;
    double *acc[BATCH];
    int64_t k0; /* slice number of acc[0] */
    bool ok;
} build_part;

static void batch_row(void *ud, double x, double y, int severity,
                      unsigned major, int64_t t) {
    (void)severity, (void)major;
    build_part *p = ud;
    ht__heat_add(p->a->geo, p->acc[slice_of(t, p->s->span) - p->k0], x, y, 1);
}

/* Batch b of BATCH slices for b = part, part + parts, ...: each a walk
 * over the base's rows of its times. */
static void *build_run(void *arg) {
    build_part *p = arg;
    heat_slices *s = p->s;
    size_t nodes = p->a->geo->nx * p->a->geo->ny;
    for (size_t b = p->part * BATCH; p->ok && b < s->n; b += p->parts * BATCH) {
        size_t m = s->n - b < BATCH ? s->n - b : BATCH;
        for (size_t k = 0; k < m; k++) {
            p->acc[k] =
                s->count[b + k] ? calloc(nodes, sizeof *p->acc[k]) : NULL;
            p->ok = p->ok && (p->acc[k] || !s->count[b + k]);
        }
        p->k0 = s->first + (int64_t)b;
        if (p->ok) {
            ht_index_base_rows_between(p->ix, p->k0 * s->span,
                                       (p->k0 + (int64_t)m) * s->span - 1, 0, 1,
                                       batch_row, p);
        }
        for (size_t k = 0; k < m; k++) {
            if (p->ok && p->acc[k] &&
                !(s->v[b + k] = ht__heat_spans_new(p->acc[k], p->a->geo->nx,
                                                   p->a->geo->ny))) {
                p->ok = false;
            }
            free(p->acc[k]);
            p->acc[k] = NULL;
        }
    }
    return NULL;
}

/* The span of slices of @a over base times @lo..@hi within @max_bytes:
 * whole hours, as few as fill the budget, but not of fewer than
 * HT_HEAT_SLICE_ROWS rows on the whole (fewer cost less to splat than to
 * keep); 0 when two do not fit. */
static int64_t span_for(const ht_heat_atlas *a, size_t rows, int64_t lo,
                        int64_t hi, size_t max_bytes) {
    if (forced_span > 0) {
        return forced_span;
    }
    size_t per = a->geo->nx * a->geo->ny * sizeof(float);
    size_t most = max_bytes / (per ? per : 1);
    if (most < 2) {
        return 0;
    }
    size_t worth = rows / slice_rows;
    most = worth < most ? (worth < 2 ? 2 : worth) : most;
    /* A span of h hours cuts the hours into at most (hours - 1) / h + 2
     * slices. */
    int64_t hours = hi / HOUR_S - lo / HOUR_S + 1;
    int64_t h = (hours + (int64_t)most - 3) / ((int64_t)most - 1);
    return (h < 1 ? 1 : h) * HOUR_S;
}

ht_status ht_heat_atlas_add_slices(ht_heat_atlas *a, const ht_index *ix,
                                   size_t max_bytes, ht_error *err) {
    if (a->base != ht_index_base_serial(ix)) {
        return ht_error_set(err, HT_EINVAL,
                            "density grids of another base than the index's");
    }
    if (ht__heat_atlas_slices(a)) {
        return ht_error_set(err, HT_EINVAL,
                            "the density grids already have their slices");
    }
    range_ctx r = {0};
    ht_index_base_rows(ix, 0, 1, range_row, &r);
    int64_t span =
        r.any ? span_for(a, ht_index_count(ix), r.lo, r.hi, max_bytes) : HOUR_S;
    if (span == 0) {
        return ht_error_set(err, HT_ENOMEM,
                            "density grids per span of time: two grids take "
                            "more than %zu MB",
                            max_bytes >> 20);
    }
    int64_t first = r.any ? slice_of(r.lo, span) : 0;
    size_t n = r.any ? (size_t)(slice_of(r.hi, span) - first + 1) : 0;
    heat_slices *s = slices_new(span, first, n);
    if (!s) {
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    ht_index_base_rows(ix, 0, 1, count_row, s);
    size_t per = a->geo->nx * a->geo->ny * sizeof(float);
    for (size_t k = 0; k < n; k++) {
        s->bytes += s->count[k] ? per : 0;
    }
    if (s->bytes > max_bytes) {
        size_t bytes = s->bytes;
        ht__heat_slices_free(s);
        return ht_error_set(err, HT_ENOMEM,
                            "density grids per span of time take %zu MB, "
                            "over %zu MB",
                            bytes >> 20, max_bytes >> 20);
    }
    size_t parts = ht__heat_atlas_parts();
    build_part ps[MAX_PARTS];
    bool ok = true;
    for (size_t p = 0; p < parts; p++) {
        ps[p] = (build_part){
            .a = a, .ix = ix, .s = s, .part = p, .parts = parts, .ok = true};
    }
    ht__heat_run_parts(build_run, ps, sizeof *ps, parts);
    for (size_t p = 0; p < parts; p++) {
        ok = ok && ps[p].ok;
    }
    if (!ok) {
        ht__heat_slices_free(s);
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    /* (what they keep: their spans, less than the whole grids counted) */
    s->bytes = 0;
    for (size_t k = 0; k < n; k++) {
        s->bytes += s->v[k] ? ht__heat_spans_bytes(s->v[k]) : 0;
    }
    atomic_store_explicit(&a->slices, s, memory_order_release);
    return HT_OK;
}

/* ---- summing a window ---- */

#define RANGES 4

typedef struct edge_part {
    const ht_heat_atlas *a;
    const ht_index *ix;
    int64_t r[RANGES][2]; /* rows' times in the cut slices */
    int sign[RANGES];     /* +1: put in, -1: taken out */
    size_t nr, part, parts;
    double *acc;
    long count;
} edge_part;

static void edge_row(void *ud, double x, double y, int severity, unsigned major,
                     int64_t t, size_t range) {
    (void)severity, (void)major, (void)t;
    edge_part *p = ud;
    ht__heat_add(p->a->geo, p->acc, x, y, p->sign[range]);
    p->count += p->sign[range];
}

static void *edge_run(void *arg) {
    edge_part *p = arg;
    ht_index_base_rows_in(p->ix, (const int64_t(*)[2])p->r, p->nr, p->part,
                          p->parts, edge_row, p);
    return NULL;
}

static void edge_range(edge_part *e, int64_t lo, int64_t hi, int sign) {
    if (lo <= hi && e->nr < RANGES) {
        e->r[e->nr][0] = lo;
        e->r[e->nr][1] = hi;
        e->sign[e->nr++] = sign;
    }
}

/* The rows of @e's ranges splatted in parts into @h, the first part's
 * straight into it; false when out of memory. */
static bool splat_edges(const edge_part *e, ht_heat *h, long *count) {
    size_t nodes = h->nx * h->ny, parts = ht__heat_atlas_parts();
    edge_part ps[MAX_PARTS];
    bool ok = true;
    for (size_t p = 0; p < parts; p++) {
        ps[p] = *e;
        ps[p].part = p;
        ps[p].parts = parts;
        ps[p].acc = p == 0 ? h->v : ht__heat_grid_take(nodes, true);
        ok = ok && ps[p].acc;
    }
    if (ok) {
        ht__heat_run_parts(edge_run, ps, sizeof *ps, parts);
    }
    for (size_t p = 0; p < parts; p++) {
        if (p > 0 && ok) {
            for (size_t i = 0; i < nodes; i++) {
                h->v[i] += ps[p].acc[i];
            }
        }
        *count += ps[p].count;
        if (p > 0) {
            ht__heat_grid_give(ps[p].acc, nodes);
        }
    }
    return ok;
}

bool ht__heat_slices_sum(const ht_heat_atlas *a, const heat_slices *s,
                         const ht_index *ix, int64_t t0, int64_t t1, ht_heat *h,
                         long *count) {
    edge_part e = {.a = a, .ix = ix};
    /* cut slices added whole, their rest taken out */
    const heat_spans *whole[2];
    size_t nwhole = 0;
    *count = 0;
    /* The slices added whole, summed at the end a block of rows at a
     * time (the sum in cache, each slice read once). */
    const heat_spans **add = malloc((s->n + 1) * sizeof *add);
    size_t nadd = 0;
    if (!add) {
        return false;
    }
    for (size_t k = 0; k < s->n && t0 <= t1; k++) {
        /* A slice's rows lie between its first and last time. */
        int64_t lo = s->times[k][0], hi = s->times[k][1];
        if (!s->count[k] || hi < t0 || lo > t1) {
            continue;
        }
        bool full = lo >= t0 && hi <= t1;
        /* Only the first and the last can be cut. A slice mostly in the
         * window (by time) is added whole and its rows outside taken out:
         * at most half a slice's rows are splatted. */
        int64_t in_lo = lo > t0 ? lo : t0, in_hi = hi < t1 ? hi : t1;
        bool mostly = !full && nwhole < 2 &&
                      (double)(in_hi - in_lo + 1) > 0.5 * (double)(hi - lo + 1);
        if (full || mostly) {
            add[nadd++] = s->v[k];
            *count += (long)s->count[k];
        }
        if (mostly) {
            whole[nwhole++] = s->v[k];
            edge_range(&e, lo, t0 - 1, -1);
            edge_range(&e, t1 + 1, hi, -1);
        } else if (!full) {
            edge_range(&e, in_lo, in_hi, 1);
        }
    }
    enum { BLOCK = 2048 }; /* nodes: 16 kB of the sum */
    size_t rows = h->nx && h->nx <= BLOCK ? BLOCK / h->nx : 1;
    for (size_t j0 = 0; nadd && j0 < h->ny; j0 += rows) {
        size_t j1 = h->ny - j0 < rows ? h->ny : j0 + rows;
        for (size_t k = 0; k < nadd; k++) {
            ht__heat_spans_add_rows(add[k], h->nx, j0, j1, h->v + j0 * h->nx);
        }
    }
    free(add);
    if (!e.nr) {
        return true;
    }
    if (!splat_edges(&e, h, count)) {
        return false;
    }
    /* Where the window holds nothing of a slice added whole, what its
     * rows outside took out leaves the slice's float rounding (6e-8 of
     * it): 0, as a build has it. */
    for (size_t j = 0; nwhole && j < h->ny; j++) {
        for (size_t i = 0; i < h->nx; i++) {
            double was = ht__heat_spans_at(whole[0], i, j) +
                         (nwhole > 1 ? ht__heat_spans_at(whole[1], i, j) : 0);
            if (h->v[j * h->nx + i] < 1e-6 * was) {
                h->v[j * h->nx + i] = 0;
            }
        }
    }
    return true;
}

/* ---- carried past changes ---- */

typedef struct advance_ctx {
    const ht_heat_atlas *a;
    heat_slices *s;
    double **acc; /* per slice: what the changes add */
    range_ctx r;
    bool ok;
} advance_ctx;

static void change_range(void *ud, double x, double y, int sign, int severity,
                         unsigned major, int64_t t) {
    (void)sign;
    range_row(&((advance_ctx *)ud)->r, x, y, severity, major, t);
}

static void change_add(void *ud, double x, double y, int sign, int severity,
                       unsigned major, int64_t t) {
    (void)severity, (void)major;
    advance_ctx *c = ud;
    size_t k = (size_t)(slice_of(t, c->s->span) - c->s->first);
    if (!c->ok) {
        return;
    }
    if (!c->acc[k] && !(c->acc[k] = calloc(c->a->geo->nx * c->a->geo->ny,
                                           sizeof *c->acc[k]))) {
        c->ok = false;
        return;
    }
    ht__heat_add(c->a->geo, c->acc[k], x, y, sign);
    if (sign > 0) {
        widen(c->s, k, t);
    }
    c->s->count[k] = (size_t)((long)c->s->count[k] + sign);
}

bool ht__heat_slices_advance(const heat_slices *from, const ht_heat_atlas *a,
                             const ht_index *ix, heat_slices **out) {
    *out = NULL;
    /* The changes may lie before or after the slices: more of them. */
    advance_ctx c = {.a = a, .ok = true};
    if (from->n) {
        c.r = (range_ctx){from->first * from->span,
                          (from->first + (int64_t)from->n) * from->span - 1,
                          true};
    }
    ht_index_changes(ix, NULL, change_range, &c);
    int64_t first = c.r.any ? slice_of(c.r.lo, from->span) : from->first;
    size_t n = c.r.any ? (size_t)(slice_of(c.r.hi, from->span) - first + 1) : 0;
    if (!(c.s = slices_new(from->span, first, n)) ||
        !(c.acc = calloc(n ? n : 1, sizeof *c.acc))) {
        ht__heat_slices_free(c.s);
        return false;
    }
    size_t off = (size_t)(from->first - first);
    for (size_t k = 0; k < from->n; k++) {
        c.s->count[off + k] = from->count[k];
        memcpy(c.s->times[off + k], from->times[k], sizeof *from->times);
    }
    ht_index_changes(ix, NULL, change_add, &c);
    for (size_t k = 0; c.ok && k < n; k++) {
        const heat_spans *was =
            k >= off && k - off < from->n ? from->v[k - off] : NULL;
        if (!c.s->count[k] || (!was && !c.acc[k])) {
            continue;
        }
        if (!(c.s->v[k] =
                  ht__heat_spans_plus(was, c.acc[k], a->geo->nx, a->geo->ny))) {
            c.ok = false;
            break;
        }
        c.s->bytes += ht__heat_spans_bytes(c.s->v[k]);
    }
    for (size_t k = 0; k < n; k++) {
        free(c.acc[k]);
    }
    free(c.acc);
    if (!c.ok) {
        ht__heat_slices_free(c.s);
        return false;
    }
    *out = c.s;
    return true;
}
