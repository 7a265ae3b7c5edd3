/* SPDX-License-Identifier: Apache-2.0 */
/* The density grid's insides, shared by heat.c (building, sampling) and
 * heat_atlas.c (grids kept per class and summed); a knob for tests. */
#ifndef HUTONG_HEAT_INT_H
#define HUTONG_HEAT_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hutong/heat.h"

struct ht_heat {
    double x0, y0; /* EPSG:3857 position of node (0, 0) */
    double step;   /* node spacing, projected metres */
    size_t nx, ny;
    double *v;    /* densities, row-major from the south */
    double scale; /* auto scale (p99 of non-zero nodes, on the R10 steps) */
    double max;
    size_t count;
    double spacing_m;
    ht_heat_opts o;  /* how it was made, for updates */
    double *row_lat; /* latitude of each node row, radians */
    /* ground metres per projected metre east-west and north-south at
     * each node row */
    double *row_kx, *row_ky;
    double floor_v; /* below this a node is empty: sums' rounding */
};

/* Nodes for a grid of @nodes: from the pool of buffers given back
 * (pool.c) when it holds one of that size, else fresh; zeroed when @zero.
 * NULL when out of memory. Give it back (or free it). */
double *ht__heat_grid_take(size_t nodes, bool zero);
/* Keep @v (of @nodes) in the pool for the next, or free it. NULL: none. */
void ht__heat_grid_give(double *v, size_t nodes);

/* A grid of @ix's extent and @o's spacing, its nodes 0. */
ht_status ht__heat_new(const ht_index *ix, const ht_heat_opts *o, ht_heat **out,
                       ht_error *err);

/* Add the kernel of an incident at (@x, @y) of weight @w to the nodes
 * @acc laid out as @h's (its own or another array of as many). */
void ht__heat_add(ht_heat *h, double *acc, double x, double y, double w);

/* Round the nodes near 0 to 0, and set the max and the auto scale; false
 * when out of memory. */
bool ht__heat_finish(ht_heat *h);

#define SEVERITIES 3

/* A grid's nodes kept row by row from the first that is not 0 to the last
 * (heat_spans.c): row j's columns row[j][0] to row[j][0] + row[j][1] - 1
 * at v + at[j], the others 0. */
typedef struct heat_spans {
    size_t ny, nv;
    uint32_t (*row)[2];
    size_t *at;
    float *v;
} heat_spans;

/* The spans of @v (@nx by @ny nodes, as floats); NULL when out of
 * memory. */
heat_spans *ht__heat_spans_new(const double *v, size_t nx, size_t ny);
/* Whether @s's rows (read from a file) lie within @nx columns and hold
 * its nv values; sets at. */
bool ht__heat_spans_check(heat_spans *s, size_t nx);
void ht__heat_spans_free(heat_spans *s);
size_t ht__heat_spans_bytes(const heat_spans *s);
/* @acc (@nx columns) += @s. */
void ht__heat_spans_add(const heat_spans *s, size_t nx, double *acc);
/* @was (NULL: none) plus @acc (NULL: none; summed into), as spans: a
 * grid carried past changes. NULL when out of memory. */
heat_spans *ht__heat_spans_plus(const heat_spans *was, double *acc, size_t nx,
                                size_t ny);
/* @acc's rows @j0 to @j1 - 1 (@nx columns, row @j0 first) += @s's. */
void ht__heat_spans_add_rows(const heat_spans *s, size_t nx, size_t j0,
                             size_t j1, double *acc);
/* @s's node (@i, @j). */
static inline float ht__heat_spans_at(const heat_spans *s, size_t i, size_t j) {
    size_t k = i - s->row[j][0];
    return i >= s->row[j][0] && k < s->row[j][1] ? s->v[s->at[j] + k] : 0;
}

/* Density grids per span of report time: slice k holds the base rows
 * reported from (first + k) * span to the second before the next. */
typedef struct heat_slices {
    int64_t span, first; /* seconds a slice covers; number of slice 0 */
    size_t n;
    heat_spans **v;      /* per slice; NULL: no rows */
    size_t *count;       /* base rows per slice */
    int64_t (*times)[2]; /* per slice: its rows' first and last time, or
                            bounds around them */
    size_t bytes;
} heat_slices;

void ht__heat_slices_free(heat_slices *s);

/* Grids per value of a dimension the classes do not hold (heat_margins.c):
 * each of the base rows of one state, source, department, verdict or
 * minor category. */
typedef enum margin_dim {
    MARGIN_STATE,
    MARGIN_SOURCE,
    MARGIN_DEPARTMENT,
    MARGIN_SATISFACTION,
    MARGIN_CATEGORY, /* a minor category */
    MARGIN_GRID,     /* a community and the grids within it */
    MARGIN_DIMS
} margin_dim;

typedef struct heat_margin {
    margin_dim dim;
    uint32_t value; /* the state, source or verdict */
    char name[65];  /* the department, the category's or the grid's code */
    size_t count;   /* base rows */
    /* its nodes: a box of the atlas's, columns i0 to i0 + ni - 1 of rows
     * j0 to j0 + nj - 1 (all of them but for a community's: its own
     * place), the others 0 */
    uint32_t i0, j0, ni, nj;
    float *v; /* ni * nj, row-major from the south */
} heat_margin;

/* Add @m's nodes times @sign into @v, of @geo's nodes. */
void ht__heat_margin_add(const heat_margin *m, const ht_heat *geo, double *v,
                         double sign);

typedef struct heat_margins {
    size_t n;
    heat_margin *m;
    size_t bytes;
} heat_margins;

void ht__heat_margins_free(heat_margins *m);

/* The filter of margin @m on @ix. */
ht_status ht__heat_margin_filter(const heat_margin *m, const ht_index *ix,
                                 ht_index_filter **out, ht_error *err);

/* Whether @q passes the rows of some values of one dimension and no other
 * rows (source=patrol; status=closed, that is closed or evaluated; a
 * street office: its communities), each of those values with a margin in
 * @ms: then *@nsel of them in @sel (room for ms->n). */
bool ht__heat_margins_union(const heat_margins *ms, const ht_index *ix,
                            const ht_index_filter *q, const heat_margin **sel,
                            size_t *nsel);

/* What the grids of communities take at most, besides the values': as
 * many bytes as this many grids of the atlas's (and no more than the
 * values' budget). */
#define HT__HEAT_GRID_MARGINS 4

/* @from's margins carried past @ix's changes, on @a's nodes. */
bool ht__heat_margins_advance(const heat_margins *from, const ht_heat_atlas *a,
                              const ht_index *ix, heat_margins **out);

struct ht_heat_atlas {
    atomic_int refs;
    uint64_t base;  /* ht_index_base_serial of the rows it holds */
    ht_heat *geo;   /* the nodes' geometry (no values) */
    size_t nclass;  /* category indexes the classes run over */
    heat_spans **v; /* per class (severity - 1) * nclass + major; NULL:
                       none */
    size_t *count;  /* base rows per class */
    size_t bytes;
    /* Set once (ht_heat_atlas_add_slices), read by many. */
    _Atomic(heat_slices *) slices;
    /* Set once (ht_heat_atlas_add_margins), read by many. */
    _Atomic(heat_margins *) margins;
};

/* The margins of @a, NULL while they are not made. */
const heat_margins *ht__heat_atlas_margins(const ht_heat_atlas *a);

/* The slices of @a, NULL while they are not made. */
const heat_slices *ht__heat_atlas_slices(const ht_heat_atlas *a);

/* Whether grids @a and @b have the same nodes. */
bool ht__heat_same_nodes(const ht_heat *a, const ht_heat *b);

/* Add to @h (of @a's nodes) the rows of @ix's base reported from @t0 to
 * @t1 (both in), from @s; *@count: how many. */
bool ht__heat_slices_sum(const ht_heat_atlas *a, const heat_slices *s,
                         const ht_index *ix, int64_t t0, int64_t t1, ht_heat *h,
                         long *count);

/* @from's slices carried past @ix's changes, on @a's nodes. */
bool ht__heat_slices_advance(const heat_slices *from, const ht_heat_atlas *a,
                             const ht_index *ix, heat_slices **out);

/* Slices of @span seconds (0: by the budget), of @rows rows at the
 * fewest (0: HT_HEAT_SLICE_ROWS), for tests. */
void ht__heat_atlas_set_slice_span(int64_t span, size_t rows);

/* The threads a build splats with (1 to 4). */
size_t ht__heat_atlas_parts(void);

/* An atlas of @ix's base with @o's radius and kernel: its nodes' geometry,
 * no grids yet (the class arrays all NULL). */
ht_status ht__heat_atlas_new(const ht_index *ix, const ht_heat_opts *o,
                             ht_heat_atlas **out, ht_error *err);

/* Class of severity @severity (clamped to 1..3) and major index @major. */
size_t ht__heat_atlas_class(const ht_heat_atlas *a, int severity,
                            unsigned major);

/* Add to @h (of @a's nodes) the grids of the classes of severities @sev
 * (bit s for severity s) and of the major classes @q passes; the base rows
 * they hold. */
long ht__heat_atlas_sum_classes(const ht_heat_atlas *a,
                                const ht_index_filter *q, unsigned sev,
                                ht_heat *h);

/* The grid of @q from the classes around it (@a serves those) less the
 * incidents they hold that @q does not pass, when those are fewer than
 * the ones it does (heat_residue.c); HT_ENOTFOUND otherwise: build it. */
ht_status ht__heat_from_residue(const ht_heat_atlas *a, const ht_index *ix,
                                const ht_index_filter *q, const ht_heat_opts *o,
                                ht_heat **out, ht_error *err);

/* Run @fn on each of @parts (at most HT__HEAT_MAX_PARTS) arguments @size
 * bytes apart from @arg0: the first here, the others in threads (here too
 * when a thread cannot be had); back when all are done. */
#define HT__HEAT_MAX_PARTS 4
void ht__heat_run_parts(void *(*fn)(void *), void *arg0, size_t size,
                        size_t parts);

/* A walk over part @part of @parts of some incidents, @fn(ud, x, y,
 * severity) for each. */
typedef void (*ht__heat_walk_fn)(const void *ctx, size_t part, size_t parts,
                                 ht_index_point_fn fn, void *ud);

/* The incidents @walk gives, in ht__heat_atlas_parts() threads, each
 * splatted (weight 1) into nodes laid out as @geo's, summed into *@out
 * (new); false when out of memory. */
bool ht__heat_splat_walk(const ht_heat *geo, ht__heat_walk_fn walk,
                         const void *ctx, double **out);

/* Splat with @parts threads (0: the cores) from indexes of @from
 * incidents on. */
void ht__heat_set_parts(size_t parts, size_t from);

/* Build density grids per class with @parts threads (0: the cores). */
void ht__heat_atlas_set_parts(size_t parts);

#endif
