/* SPDX-License-Identifier: Apache-2.0 */
/* Point location: which grid holds a point, which street it is on. */
#ifndef HUTONG_LOCATE_H
#define HUTONG_LOCATE_H

#include <stdint.h>

#include "hutong/error.h"
#include "hutong/geom.h"
#include "hutong/model.h"
#include "hutong/store.h"

/** Default distance within which an incident snaps to a street. */
#define HT_LOCATE_SNAP_M 30.0

/**
 * An in-memory index of grid polygons and street segments (lon/lat) that
 * answers point queries in microseconds. Build it once, then query it from
 * any number of threads (queries do not modify it).
 */
typedef struct ht_locator ht_locator;

/**
 * A new empty locator whose street queries reach up to @max_snap_m metres
 * (> 0). Add grids and streets, then ht_locator_build.
 */
ht_status ht_locator_new(double max_snap_m, ht_locator **out, ht_error *err);

/** Free @l; NULL is a no-op. */
void ht_locator_free(ht_locator *l);

/** Add a copy of a grid polygon (code, level, validity). Before build. */
ht_status ht_locator_add_grid(ht_locator *l, const ht_grid_rec *rec,
                              ht_error *err);

/** Add a copy of a street line with its row id. Before build. */
ht_status ht_locator_add_street(ht_locator *l, int64_t id, const ht_geom *line,
                                ht_error *err);

/** Build the bucket indexes. After it, no more adds. */
ht_status ht_locator_build(ht_locator *l, ht_error *err);

/**
 * Load every grid and street of @s into a new, built locator.
 */
ht_status ht_locator_load(ht_store *s, double max_snap_m, ht_locator **out,
                          ht_error *err);

/**
 * Code of the lowest-level grid that contains (lon, lat) and is valid at
 * time @t (UTC seconds; HT_TIME_NONE ignores validity), or NULL. With
 * @level >= 0, only grids of that level are considered. The string is
 * borrowed from @l. Thread-safe after build.
 */
const char *ht_locator_find_grid(const ht_locator *l, double lon, double lat,
                                 int64_t t, int level);

/**
 * Row id of the street segment nearest to (lon, lat) within @snap_m metres
 * (at most the locator's max), or -1. Ties go to the lower id. Distances
 * are measured on the WGS 84 ellipsoid's local tangent plane, within 0.1 %
 * at these ranges. Thread-safe after build.
 */
int64_t ht_locator_find_street(const ht_locator *l, double lon, double lat,
                               double snap_m, double *dist_m);

/** Numbers of grids and street segments held. */
size_t ht_locator_grid_count(const ht_locator *l);
size_t ht_locator_street_count(const ht_locator *l);

#endif
