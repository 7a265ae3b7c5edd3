/* SPDX-License-Identifier: Apache-2.0 */
/* The index's insides, shared by index.c (building, querying) and
 * index_file.c (saving and reading a snapshot beside the database). */
#ifndef HUTONG_INDEX_INT_H
#define HUTONG_INDEX_INT_H

#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "hutong/index.h"
#include "hutong/stats.h"
#include "hutong/tile.h"

#define NONE32 UINT32_MAX
#define NONE16 UINT16_MAX
#define NONE24 0xFFFFFFu

/* Value @i of an array of 3-byte values (read as 4: the array has a
 * byte more), and its setting. */
static inline __attribute__((always_inline)) uint32_t ht__get3(const uint8_t *p,
                                                               size_t i) {
    uint32_t v;
    memcpy(&v, p + 3 * i, sizeof v);
    return v & NONE24;
}

static inline void ht__put3(uint8_t *p, size_t i, uint32_t v) {
    p[3 * i] = (uint8_t)v;
    p[3 * i + 1] = (uint8_t)(v >> 8);
    p[3 * i + 2] = (uint8_t)(v >> 16);
}
/* Positions are EPSG:3857 metres quantised to 2^32 steps over the world:
 * 0.93 cm each. */
#define QSTEP (2 * HT_MERC_HALF / 4294967296.0)

typedef struct cat_entry {
    char *code;
    uint16_t major; /* index of its major class (itself for majors) */
} cat_entry;

typedef struct grid_entry {
    char *code;
    uint32_t parent; /* index, or NONE32 */
    ht_level level;
    uint32_t street, community; /* the ancestors (itself included) of those
                                   levels, or NONE32 */
} grid_entry;

/* Dictionaries, shared by snapshots. */
typedef struct dict {
    atomic_int refs;
    cat_entry *cats;
    size_t ncats, cap_cats;
    grid_entry *grids;
    size_t ngrids, cap_grids;
    char **depts; /* departments, sorted */
    size_t ndepts, cap_depts;
    /* per category and severity (1..3), the response and resolution
     * deadlines in seconds after the report; -1: no rule */
    int32_t (*due)[4][2];
} dict;

/* Columns of incidents. */
typedef struct cols {
    /* Positions: quantised steps (x, y); or, in a base, packed (x and y
     * NULL): a block of 64 rows keeps its least position (bo) and each row
     * its 16-bit offsets from it (ox, oy); a block too wide for them (its
     * rows in cells far apart) keeps its rows' low 16 bits there and their
     * high ones in whi (bw: the block's place among the wide ones, or
     * NONE32). ht__row_q reads either. */
    uint32_t *x, *y;
    uint16_t *ox, *oy;
    uint32_t (*bo)[2];
    uint32_t *bw;
    uint16_t (*whi)[2];
    size_t nwide;
    uint32_t *t;
    /* Category indexes; or, in a base whose rows' all fit (cat NULL), a
     * byte each; ht__row_cat reads either. */
    uint16_t *cat;
    uint8_t *cat8;
    uint8_t *flags; /* severity | source << 2 | state << 5 */
    /* 3 bytes a row (and one more at the end): the grid's index, NONE24
     * for none; or, in a base whose rows' all fit (grid NULL), 2 bytes,
     * NONE16 for none; ht__row_grid reads either. */
    uint8_t *grid;
    uint16_t *grid2;
    /* Street segments' ids (NONE32: none); or, in a base, packed (street
     * NULL): 3 bytes a row (and one more), the id itself, or its place in
     * sids when an id is too large for them; NONE24 for none;
     * ht__row_street reads either. */
    uint32_t *street;
    uint8_t *street3;
    uint32_t *sids;
    size_t nsids;
    /* Incidents' ids; or, in a base (id NULL) whose blocks of 64 rows
     * each span fewer than 2^24 ids (rows in a cell are in id order), a
     * block's least (ib) and each row's 3 bytes above it (id3, and one
     * byte more); ht__row_id reads either. */
    uint32_t *id;
    uint32_t *ib;
    uint8_t *id3;
    /* Departments, NONE16: not dispatched to one; or, in a base whose
     * rows' all fit (dept NULL), a byte each, NONE8 for none; ht__row_dept
     * reads either. */
    uint16_t *dept;
    uint8_t *dept8;
    /* satisfaction | whistle kind << 2 | response << 4 | resolution << 6:
       those two an ht_due_state when done (on time, late, unknown), else
       pending: its deadline is the report + the rule (dict) */
    uint8_t *extra;
    uint16_t *close, *arrive; /* hours to close, dispatch to "handling"
                                 (ht_stats_duration_code) */
    size_t n, cap;
} cols;

/* The sorted bulk of a snapshot, shared by its successors. */
typedef struct base {
    atomic_int refs;
    cols c;
    /* positions sorted by id: whole, or (by_id NULL) in 3 bytes each (and
     * one more) when there are fewer than NONE24 rows; ht__base_by_id */
    uint32_t *by_id;
    uint8_t *by_id3;
    int shift; /* cell = quantised coordinate >> shift */
    uint32_t cx0, cy0, nx, ny;
    uint32_t *start; /* nx * ny + 1 */
    /* the rows' extent in quantised steps (dead ones too); qx0 > qx1 when
     * there are none */
    uint32_t qx0, qy0, qx1, qy1;
    /* the same per grid index (its rows': a grid filter walks only the
     * cells of its grids), ngbox of them */
    uint32_t (*gbox)[4];
    size_t ngbox;
    /* the rows' earliest and latest report time (dead ones too) */
    uint32_t t_lo, t_hi;
    uint64_t serial; /* ht_index_base_serial: never reused in a process */
    /* the statistics' tallies of it kept between requests
     * (index_tally_memo.c), made when first asked */
    _Atomic(struct ht__tally_memos *) memos;
} base;

/* The position of the base's row @k in id order. */
static inline size_t ht__base_by_id(const base *b, size_t k) {
    return b->by_id ? b->by_id[k] : ht__get3(b->by_id3, k);
}

/* by_id in 3 bytes a position when they fit; false when out of memory
 * (@b as it was). */
bool ht__index_pack_by_id(base *b);

struct ht_index {
    atomic_int refs;
    dict *d;
    base *b;
    uint64_t *dead; /* bit per base position: replaced or deleted */
    size_t ndead;
    cols delta; /* incidents added or changed since the base was built,
                   in id order */
};

struct ht_index_filter {
    const ht_index *ix;
    uint32_t t0, t1;             /* [t0, t1] inclusive */
    unsigned sev, state, source; /* bit masks; all ones for "any" */
    uint64_t *cats;              /* bit per category index; NULL: any */
    uint64_t *grids;             /* bit per grid index; NULL: any */
    uint64_t *depts;             /* bit per department; NULL: any */
    unsigned sat;                /* bit per satisfaction; all ones: any */
    uint32_t overdue_at;         /* 0: any; else overdue at that time */
};

/* ---- rows: positions, deadlines, filters and groups ---- */

/* Row @i's grid index, or NONE32. */
static inline __attribute__((always_inline)) uint32_t ht__row_grid(
    const cols *c, size_t i) {
    if (c->grid2) {
        uint32_t v = c->grid2[i];
        return v == NONE16 ? NONE32 : v;
    }
    uint32_t v = ht__get3(c->grid, i);
    return v == NONE24 ? NONE32 : v;
}

/* (of whole columns only: a delta's, or rows before a base is packed) */
static inline void ht__set_grid(cols *c, size_t i, uint32_t g) {
    ht__put3(c->grid, i, g == NONE32 ? NONE24 : g);
}

#define NONE8 UINT8_MAX

/* Row @i's incident id. */
static inline __attribute__((always_inline)) uint32_t ht__row_id(const cols *c,
                                                                 size_t i) {
    return c->id ? c->id[i] : c->ib[i / 64] + ht__get3(c->id3, i);
}

/* Row @i's category index. */
static inline __attribute__((always_inline)) uint32_t ht__row_cat(const cols *c,
                                                                  size_t i) {
    return c->cat8 ? c->cat8[i] : c->cat[i];
}

/* Row @i's department index, or NONE16. */
static inline __attribute__((always_inline)) uint32_t ht__row_dept(
    const cols *c, size_t i) {
    if (c->dept8) {
        return c->dept8[i] == NONE8 ? NONE16 : c->dept8[i];
    }
    return c->dept[i];
}

/* Row @i's 3 bytes of a packed street column. */
static inline uint32_t ht__row_street3(const cols *c, size_t i) {
    return ht__get3(c->street3, i);
}

/* Row @i's street segment's id, or NONE32. */
static inline uint32_t ht__row_street(const cols *c, size_t i) {
    if (c->street) {
        return c->street[i];
    }
    uint32_t v = ht__row_street3(c, i);
    return v == NONE24 ? NONE32 : c->sids ? c->sids[v] : v;
}

/* Row @i's position in quantised steps. */
static inline __attribute__((always_inline)) void ht__row_q(const cols *c,
                                                            size_t i,
                                                            uint32_t *x,
                                                            uint32_t *y) {
    if (c->x) {
        *x = c->x[i];
        *y = c->y[i];
        return;
    }
    size_t k = i / 64;
    uint32_t w = c->bw[k];
    if (w == UINT32_MAX) {
        *x = c->bo[k][0] + c->ox[i];
        *y = c->bo[k][1] + c->oy[i];
    } else {
        const uint16_t *hi = c->whi[(size_t)w * 64 + i % 64];
        *x = (uint32_t)hi[0] << 16 | c->ox[i];
        *y = (uint32_t)hi[1] << 16 | c->oy[i];
    }
}

#define NMONTHS (137 * 12)

static inline uint32_t ht__quantise(double m) {
    double q = floor((m + HT_MERC_HALF) / QSTEP);
    return q <= 0 ? 0 : q >= 4294967295.0 ? 4294967295u : (uint32_t)q;
}

static inline double ht__dequantise(uint32_t q) {
    return ((double)q + 0.5) * QSTEP - HT_MERC_HALF;
}

/* Row @i's position in EPSG:3857 metres. */
static inline void ht__row_m(const cols *c, size_t i, double *x, double *y) {
    uint32_t qx, qy;
    ht__row_q(c, i, &qx, &qy);
    *x = ht__dequantise(qx);
    *y = ht__dequantise(qy);
}

static inline uint32_t ht__due_of(const dict *d, const cols *c, size_t i,
                                  int k) {
    int32_t s = d->due[ht__row_cat(c, i)][c->flags[i] & 3][k];
    int64_t t = (int64_t)c->t[i] + s;
    return s < 0 ? NONE32 : t >= (int64_t)NONE32 ? NONE32 - 1 : (uint32_t)t;
}

/* When it is overdue if still open as it is: the response deadline while
 * "reported" (never after the resolution one: the rules say so), the
 * resolution deadline while dispatched or handling; NONE32: never. */
static inline uint32_t ht__late_of(const dict *d, const cols *c, size_t i) {
    ht_state st = (ht_state)(c->flags[i] >> 5);
    return st == HT_STATE_REPORTED ? ht__due_of(d, c, i, 0)
           : st < HT_STATE_CLOSED  ? ht__due_of(d, c, i, 1)
                                   : NONE32;
}

static inline __attribute__((always_inline)) bool ht__match(
    const ht_index_filter *q, const cols *c, size_t i) {
    if (!q) {
        return true;
    }
    uint32_t t = c->t[i];
    unsigned fl = c->flags[i];
    if (t < q->t0 || t > q->t1 || !(q->sev >> (fl & 3) & 1) ||
        !(q->source >> (fl >> 2 & 7) & 1) || !(q->state >> (fl >> 5) & 1)) {
        return false;
    }
    uint32_t ci = q->cats ? ht__row_cat(c, i) : 0;
    if (q->cats && !(q->cats[ci / 64] >> (ci % 64) & 1)) {
        return false;
    }
    uint32_t g = q->grids ? ht__row_grid(c, i) : 0;
    if (q->grids && (g == NONE32 || !(q->grids[g / 64] >> (g % 64) & 1))) {
        return false;
    }
    uint32_t di = q->depts ? ht__row_dept(c, i) : 0;
    if (q->depts && (di == NONE16 || !(q->depts[di / 64] >> (di % 64) & 1))) {
        return false;
    }
    if (!(q->sat >> (c->extra[i] & 3) & 1)) {
        return false;
    }
    /* Overdue: past the deadline of its state (strictly, as the stats). */
    if (q->overdue_at) {
        uint32_t late = ht__late_of(q->ix->d, c, i);
        if (!(late != NONE32 && q->overdue_at > late)) {
            return false;
        }
    }
    return true;
}

/* The month of UTC seconds @t since 1970-01. */
static inline size_t ht__month_of(uint32_t t) {
    /* days to civil (Howard Hinnant's algorithm) */
    int64_t z = (int64_t)(t / 86400) + 719468;
    int64_t era = z / 146097, doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = yoe + era * 400 + (m <= 2);
    return (size_t)((y - 1970) * 12 + (m - 1));
}

static inline size_t ht__group_of_row(const ht_index *ix, const cols *c,
                                      size_t i, ht_group by) {
    const dict *d = ix->d;
    uint32_t g = ht__row_grid(c, i);
    switch (by) {
    case HT_GROUP_STREET:
        g = g == NONE32 ? NONE32 : d->grids[g].street;
        return g == NONE32 ? d->ngrids : g;
    case HT_GROUP_COMMUNITY:
        g = g == NONE32 ? NONE32 : d->grids[g].community;
        return g == NONE32 ? d->ngrids : g;
    case HT_GROUP_GRID:
        return g == NONE32 ? d->ngrids : g;
    case HT_GROUP_CATEGORY:
        return d->cats[ht__row_cat(c, i)].major;
    case HT_GROUP_MONTH: {
        size_t m = ht__month_of(c->t[i]);
        return m < NMONTHS ? m : NMONTHS;
    }
    case HT_GROUP_DEPARTMENT:
    default: {
        uint32_t v = ht__row_dept(c, i);
        return v == NONE16 ? d->ndepts : v;
    }
    }
}

/* Where a deadline stands at @now: decided, or pending until it passes. */
static inline ht_due_state ht__due_state(const dict *d, const cols *c, size_t i,
                                         int k, int64_t now) {
    ht_due_state s = (ht_due_state)(c->extra[i] >> (4 + 2 * k) & 3);
    if (s != HT_DUE_PENDING) {
        return s;
    }
    uint32_t due = ht__due_of(d, c, i, k);
    return due != NONE32 && now > (int64_t)due ? HT_DUE_LATE : HT_DUE_PENDING;
}

/* Whether @q passes every incident (NULL does). */
static inline bool ht__index_filter_all(const ht_index_filter *q) {
    /* (every value the flags' bits can hold: 2 of severity, 3 of source
     * and of state, 2 of satisfaction) */
    return !q || (q->t0 == 0 && q->t1 == NONE32 && (q->sev & 0xf) == 0xf &&
                  (q->source & 0xff) == 0xff && (q->state & 0xff) == 0xff &&
                  (q->sat & 0xf) == 0xf && !q->cats && !q->grids && !q->depts &&
                  !q->overdue_at);
}

/* A filter's simple parts as tables, for walks that test 64 rows at a
 * time without a branch a row: the time, the flags (severity, source,
 * state), the category and the satisfaction; the rest (grids,
 * departments, lateness) asked of ht__match for the rows those pass. */
typedef struct ht__qtab ht__qtab;
/* The simple tests of rows @w0 + @a to @w0 + @e - 1, as bits from @a. */
typedef uint64_t (*ht__qtab_fn)(const ht__qtab *t, const cols *c, size_t w0,
                                size_t a, size_t e);
struct ht__qtab {
    const ht_index_filter *q;
    uint32_t t0, tw; /* t - t0 <= tw (unsigned): within the times */
    bool none;       /* an empty time range: nothing passes */
    bool rest;       /* ht__match decides for the rows the tables pass */
    uint8_t flag_ok[256], sat_ok[4];
    uint8_t *cat_ok; /* per category index */
    /* per grid index and department (the last for none); NULL: any */
    uint8_t *grid_ok, *dept_ok;
    uint32_t ngrids, ndepts;
    /* the tests of time, flags, satisfaction and category, each read only
     * when it rejects some value: a walk reads only the columns its
     * filter asks about */
    ht__qtab_fn simple;
};

/* Tables of @q (NULL: everything) of @ix; false when out of memory. */
bool ht__qtab_init(ht__qtab *t, const ht_index *ix, const ht_index_filter *q);
void ht__qtab_free(ht__qtab *t);

/* Rows @a to @e - 1 of a column of @width (a constant: 1, 2 or 3) bytes
 * a row from @p whose entry of table @ok is set (its "none", all ones,
 * at entry @none), as bits from bit @a. */
static inline __attribute__((always_inline)) uint64_t ht__qtab_keep(
    const uint8_t *ok, const void *p, int width, size_t a, size_t e,
    uint32_t none) {
    const uint32_t all = width == 1 ? NONE8 : width == 2 ? NONE16 : NONE24;
    uint64_t keep = 0;
    for (size_t k = a; k < e; k++) {
        uint32_t v = width == 1   ? ((const uint8_t *)p)[k]
                     : width == 2 ? ((const uint16_t *)p)[k]
                                  : ht__get3(p, k);
        keep |= (uint64_t)ok[v == all ? none : v] << k;
    }
    return keep;
}

/* Rows @w0 + @a to @w0 + @e - 1 of @c (within one word of 64) that the
 * tables pass, as bits from bit @a. */
static inline __attribute__((always_inline)) uint64_t ht__qtab_block(
    const ht__qtab *t, const cols *c, size_t w0, size_t a, size_t e) {
    uint64_t m = t->simple(t, c, w0, a, e);
    if (t->grid_ok && m) {
        m &= c->grid2
                 ? ht__qtab_keep(t->grid_ok, c->grid2 + w0, 2, a, e, t->ngrids)
                 : ht__qtab_keep(t->grid_ok, c->grid + 3 * w0, 3, a, e,
                                 t->ngrids);
    }
    if (t->dept_ok && m) {
        m &= c->dept8
                 ? ht__qtab_keep(t->dept_ok, c->dept8 + w0, 1, a, e, t->ndepts)
                 : ht__qtab_keep(t->dept_ok, c->dept + w0, 2, a, e, t->ndepts);
    }
    return m;
}

/* Those of the rows @m (bits from @w0) that pass the whole filter. */
static inline __attribute__((always_inline)) uint64_t ht__qtab_rest(
    const ht__qtab *t, const cols *c, size_t w0, uint64_t m) {
    for (uint64_t b = t->rest ? m : 0; b; b &= b - 1) {
        int k = __builtin_ctzll(b);
        if (!ht__match(t->q, c, w0 + (size_t)k)) {
            m &= ~(1ull << k);
        }
    }
    return m;
}

/* The parts a walk over @ix is split in, a thread each (the cores, from
 * ht__index_set_parts' size on), and running @fn on @parts arguments
 * @size bytes apart from @arg0, the first here. */
size_t ht__index_parts(const ht_index *ix);
void ht__index_run_parts(void *(*fn)(void *), void *arg0, size_t size,
                         size_t parts);

/* Whether bases keep categories, departments, grids and ids in fewer
 * bytes when they fit (the default), for tests of both ways. */
void ht__index_set_narrow(bool on);

void ht__index_cols_free(cols *c);
ht_status ht__index_cols_reserve(cols *c, size_t need, ht_error *err);
void ht__index_cols_copy_row(cols *dst, size_t di, const cols *src, size_t si);
void ht__index_dict_unref(dict *d);
void ht__index_base_unref(base *b);
/* Sort @raw's rows into a new base (cells, by-id order); @raw is left to
 * the caller. */
ht_status ht__index_base_build(cols *raw, base **out, ht_error *err);

/* A new base's serial. */
uint64_t ht__index_next_serial(void);

/* Pack @c's positions and streets (see cols); false when out of memory
 * (@c readable still, packed or not). */
bool ht__index_cols_pack(cols *c);

/* Set @b's extent (qx0 ... qy1) and its grids' from the rows of @c;
 * false when out of memory. */
bool ht__index_extent(const cols *c, base *b);

/* The newest incidents (ht_index_newest) and counts by group looked for
 * with @parts threads (0: the cores) from @from incidents on; for tests. */
void ht__index_set_parts(size_t parts, size_t from);

#endif
