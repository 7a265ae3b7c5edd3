/* SPDX-License-Identifier: Apache-2.0 */
/* Aggregates: street heat, counts per grid, classes, hotspots (Gi*). */
#ifndef HUTONG_ANALYSIS_H
#define HUTONG_ANALYSIS_H

#include <stddef.h>
#include <stdint.h>

#include "hutong/error.h"
#include "hutong/features.h"
#include "hutong/index.h"

/** Incidents snapped to each street segment under a filter. */
typedef struct ht_street_heat {
    size_t n;          /**< street segments, parallel to the features */
    uint32_t *count;   /**< incidents on each */
    double *rate;      /**< incidents per 100 m of street */
    double auto_scale; /**< 99th percentile of the non-zero rates */
    size_t total;      /**< incidents on any street */
} ht_street_heat;

/** Segments shorter than this count as this long: a 3 m stub holding one
 * incident is not "33 per 100 m". */
#define HT_STREET_MIN_LENGTH_M 20.0

/** Count the incidents of @ix passing @q (NULL: all) per street segment of
 * @f, and their rates. */
ht_status ht_analysis_street_heat(const ht_index *ix, const ht_index_filter *q,
                                  const ht_features *f, ht_street_heat **out,
                                  ht_error *err);
void ht_street_heat_free(ht_street_heat *h);

/** Count @w (+1 or -1) more incidents on the segment with @street_id
 * (nothing when it is not one of @f's, or when the count would go below
 * 0), updating its rate; ht_street_heat_rescale then redoes the auto
 * scale. */
void ht_street_heat_add(ht_street_heat *h, const ht_features *f,
                        int64_t street_id, int w);
ht_status ht_street_heat_rescale(ht_street_heat *h, ht_error *err);

/**
 * Incidents passing @q per grid of @f, each counted in its grid and every
 * grid above it: *out (freed by the caller) is parallel to the features'
 * grids.
 */
ht_status ht_analysis_grid_counts(const ht_index *ix, const ht_index_filter *q,
                                  const ht_features *f, double **out,
                                  ht_error *err);

/** Add @w to the counts of grid @grid_code (NULL or unknown: nothing) and
 * of every grid above it, as ht_analysis_grid_counts counts. */
void ht_analysis_grid_counts_add(const ht_features *f, double *counts,
                                 const char *grid_code, double w);

/** Ways to class values. */
typedef enum ht_classing {
    HT_CLASS_QUANTILE = 0,
    HT_CLASS_JENKS,
    HT_CLASS_FIXED
} ht_classing;

/**
 * Upper bounds of the first @k - 1 of @k classes of @values (@n of them):
 * quantiles (equal counts) or Jenks natural breaks (least squared deviation
 * within classes, Fisher's exact algorithm). HT_EINVAL for k outside
 * 2..12. @values is not changed.
 */
ht_status ht_analysis_breaks(const double *values, size_t n, int k,
                             ht_classing how, double *breaks, ht_error *err);

/** The class (0..k-1) of @v among @k classes with @breaks. */
int ht_analysis_class_of(double v, const double *breaks, int k);

/** Neighbour lists in CSR form: item i's neighbours are
 * nbr[start[i] .. start[i+1]) (never i itself). */
typedef struct ht_neighbours {
    size_t n;
    uint32_t *start;
    uint32_t *nbr;
} ht_neighbours;

/**
 * Neighbours among the grids @ids of @f: grids sharing an edge (two
 * consecutive vertices in common), or with label points within
 * @distance_m on the ground (when > 0).
 */
ht_status ht_analysis_neighbours(const ht_features *f, const uint32_t *ids,
                                 size_t n, double distance_m,
                                 ht_neighbours *out, ht_error *err);
void ht_neighbours_free(ht_neighbours *nb);

/**
 * Getis-Ord Gi* of @x (n values) with binary weights: the item and its
 * neighbours. z[i] is the z-score (0 where undefined: no variance).
 */
ht_status ht_analysis_gistar(const double *x, const ht_neighbours *nb,
                             double *z, ht_error *err);

/** A z-score's class as ArcGIS shows it: 3 / 2 / 1 hot at 99 / 95 / 90 %
 * confidence (z >= 2.576 / 1.960 / 1.645), -3..-1 cold, 0 not significant.
 */
int ht_analysis_gistar_class(double z);

#endif
