/* SPDX-License-Identifier: Apache-2.0 */
/* The index's insides, shared by index.c (building, querying) and
 * index_file.c (saving and reading a snapshot beside the database). */
#ifndef HUTONG_INDEX_INT_H
#define HUTONG_INDEX_INT_H

#include <stdatomic.h>
#include <stdint.h>

#include "hutong/index.h"

#define NONE32 UINT32_MAX
#define NONE16 UINT16_MAX
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
    uint32_t *x, *y, *t;
    uint16_t *cat;
    uint8_t *flags; /* severity | source << 2 | state << 5 */
    uint32_t *grid, *street, *id;
    uint16_t *dept; /* NONE16: not dispatched to a department */
    uint8_t *extra; /* satisfaction | whistle kind << 2 */
    uint8_t *outc;  /* response | resolution << 2: an ht_due_state when
                       done (on time, late, unknown), else pending: its
                       deadline is the report + the rule (dict) */
    uint16_t *close, *arrive; /* hours to close, dispatch to "handling"
                                 (ht_stats_duration_code) */
    size_t n, cap;
} cols;

/* The sorted bulk of a snapshot, shared by its successors. */
typedef struct base {
    atomic_int refs;
    cols c;
    uint32_t *by_id; /* positions sorted by id */
    int shift;       /* cell = quantised coordinate >> shift */
    uint32_t cx0, cy0, nx, ny;
    uint32_t *start; /* nx * ny + 1 */
    /* the rows' extent in quantised steps (dead ones too); qx0 > qx1 when
     * there are none */
    uint32_t qx0, qy0, qx1, qy1;
    uint64_t serial; /* ht_index_base_serial: never reused in a process */
} base;

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

/* Set @b's extent (qx0 ... qy1) from the rows of @c. */
void ht__index_extent(const cols *c, base *b);

/* The newest incidents (ht_index_newest) and counts by group looked for
 * with @parts threads (0: the cores) from @from incidents on; for tests. */
void ht__index_set_parts(size_t parts, size_t from);

#endif
