/* SPDX-License-Identifier: Apache-2.0 */
/* Pre-rendered tiles: a style's XYZ tiles over an area and a zoom range,
 * into an MBTiles 1.3 file or a {z}/{x}/{y}.png folder, resumable. */
#ifndef HUTONG_SEED_H
#define HUTONG_SEED_H

#include <stdbool.h>
#include <stddef.h>

#include "hutong/error.h"
#include "hutong/features.h"
#include "hutong/filter.h"
#include "hutong/geom.h"
#include "hutong/render.h"
#include "hutong/store.h"
#include "hutong/style.h"

/** What to seed. */
typedef struct ht_seed_opts {
    const ht_style *style;
    int zmin, zmax;          /**< 0..22, zmin <= zmax */
    ht_bbox bbox;            /**< lon/lat (EPSG:4326) W,S,E,N */
    const ht_filter *filter; /**< NULL: every incident */
    int threads;             /**< tiles drawn at once; 0 or 1: one */
    bool folder;             /**< a {z}/{x}/{y}.png folder, not MBTiles */
    const char *name;        /**< the metadata name; NULL: the style's */
    /** Progress: @done of @total tiles (skipped ones count), may be NULL */
    void (*progress)(size_t done, size_t total, void *ud);
    void *ud;
} ht_seed_opts;

/** What a seed did. */
typedef struct ht_seed_stats {
    size_t total;   /**< tiles in the area and zooms */
    size_t drawn;   /**< drawn and written now */
    size_t skipped; /**< already there (an earlier, interrupted run) */
} ht_seed_stats;

/** How many XYZ tiles cover @bbox (lon/lat) at zooms @zmin..@zmax. Cannot
 * fail. */
size_t ht_seed_count(const ht_bbox *bbox, int zmin, int zmax);

/**
 * Draw the tiles of @o into @path (MBTiles: TMS rows, the metadata table
 * with name, format, bounds, center, minzoom, maxzoom, attribution, type,
 * version, description; or a folder). Tiles already in @path are kept and
 * skipped, so a run that was stopped goes on where it was; tiles are
 * committed in batches, so a kill loses at most the last batch. @r draws
 * (its store gives the worker threads their connections). HT_EINVAL for
 * bad options, HT_EIO when @path cannot be written.
 */
ht_status ht_seed(ht_renderer *r, ht_store *store, const ht_features *f,
                  const ht_seed_opts *o, const char *path, ht_seed_stats *stats,
                  ht_error *err);

#endif
