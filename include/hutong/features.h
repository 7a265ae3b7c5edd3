/* SPDX-License-Identifier: Apache-2.0 */
/* The map's grids and streets in memory, projected for rendering. */
#ifndef HUTONG_FEATURES_H
#define HUTONG_FEATURES_H

#include <stddef.h>
#include <stdint.h>

#include "hutong/error.h"
#include "hutong/geom.h"
#include "hutong/model.h"
#include "hutong/store.h"

/** A grid as the renderer sees it (coordinates in EPSG:3857 metres). */
typedef struct ht_fgrid {
    char *code;
    char *name;
    char *parent_code;
    char *responsible; /**< the person or unit in charge; NULL: unknown */
    ht_level level;
    int64_t population; /**< -1 when unknown */
    ht_geom *geom;      /**< polygonal, EPSG:3857 */
    ht_bbox bbox;
    ht_point label; /**< an interior point, EPSG:3857 */
    double area_m2; /**< on the ground */
} ht_fgrid;

/** A street segment (EPSG:3857). */
typedef struct ht_fstreet {
    int64_t id;
    char *name; /**< NULL when unnamed */
    ht_street_kind kind;
    ht_geom *geom;
    ht_bbox bbox;
    double length_m; /**< on the ground */
} ht_fstreet;

/** Connected segments of one named street, for labels (EPSG:3857). */
typedef struct ht_fchain {
    const char *name; /**< borrowed from a segment */
    ht_street_kind kind;
    ht_point *pts;
    size_t npts;
    double length_m; /**< projected metres */
    ht_bbox bbox;
} ht_fchain;

/**
 * All grids and streets of a store, projected once to EPSG:3857, with
 * bucket indexes for box queries and the streets' name chains. Immutable
 * after loading: share it between threads.
 */
typedef struct ht_features ht_features;

/** Load from @s. On error *out is NULL. */
ht_status ht_features_load(ht_store *s, ht_features **out, ht_error *err);

/** Free @f; NULL is a no-op. */
void ht_features_free(ht_features *f);

/** Counts and items. */
size_t ht_features_grid_count(const ht_features *f);
size_t ht_features_street_count(const ht_features *f);
size_t ht_features_chain_count(const ht_features *f);
const ht_fgrid *ht_features_grid(const ht_features *f, size_t i);
const ht_fstreet *ht_features_street(const ht_features *f, size_t i);
const ht_fchain *ht_features_chain(const ht_features *f, size_t i);

/** Find a grid by code; NULL if none. */
const ht_fgrid *ht_features_find_grid(const ht_features *f, const char *code);

/** The index of the street segment with row id @id, or (size_t)-1. */
size_t ht_features_street_by_id(const ht_features *f, int64_t id);

/** The index of grid @g in the grid list (for arrays parallel to it). */
size_t ht_features_grid_index(const ht_features *f, const ht_fgrid *g);

/** Which kind of item a query returns. */
typedef enum ht_fkind { HT_F_GRIDS, HT_F_STREETS, HT_F_CHAINS } ht_fkind;

/**
 * Indices of the items of @kind whose boxes meet @box (EPSG:3857), in
 * ascending order, into *@out (grown as needed; the caller frees it).
 * Returns HT_ENOMEM on failure.
 */
ht_status ht_features_query(const ht_features *f, ht_fkind kind,
                            const ht_bbox *box, uint32_t **out, size_t *n,
                            size_t *cap, ht_error *err);

#endif
