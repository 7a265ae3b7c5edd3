/* SPDX-License-Identifier: Apache-2.0 */
/* Kernel density of incidents, in incidents per km2 on the ground. */
#ifndef HUTONG_HEAT_H
#define HUTONG_HEAT_H

#include <stddef.h>

#include "hutong/error.h"
#include "hutong/geom.h"
#include "hutong/index.h"

/** Kernels (DESIGN.md section 4). */
typedef enum ht_kernel { HT_KERNEL_QUARTIC = 0, HT_KERNEL_GAUSSIAN } ht_kernel;

/** Default kernel radius on the ground. */
#define HT_HEAT_RADIUS_M 150.0

/** How a density is made. */
typedef struct ht_heat_opts {
    double radius_m; /**< kernel radius on the ground, 1..5000 m */
    ht_kernel kernel;
    /** weight of an incident; NULL: 1 each */
    double (*weight)(void *ud, const ht_incident_view *v);
    void *weight_ud;
} ht_heat_opts;

/**
 * The density of the incidents passing a filter, evaluated once on a grid
 * of about radius/8 spacing (projected so that spacing is metres on the
 * ground at the data's latitude) over the data's extent plus a radius, and
 * interpolated between nodes. Immutable: share it.
 *
 * Density at a point = sum of w * K(d) per m2, reported per km2, with d
 * the ground distance (WGS 84 local tangent plane at the mid latitude:
 * within 0.01 % of the geodesic at 1 km):
 *   quartic:  K = 3 / (pi r2) (1 - d2/r2)2 for d < r
 *   gaussian: sigma = r/3, K = exp(-d2 / (2 sigma2)) / (2 pi sigma2), d < r
 */
typedef struct ht_heat ht_heat;

/** Build the density grid of @ix under @q (NULL: all). */
ht_status ht_heat_build(const ht_index *ix, const ht_index_filter *q,
                        const ht_heat_opts *o, ht_heat **out, ht_error *err);

/** Free @h; NULL is a no-op. */
void ht_heat_free(ht_heat *h);

/**
 * Bring @h, built from @old under @qold, up to date with @now under @qnow
 * after the incidents @ids changed: each is taken out as @old held it and
 * put in as @now holds it, in place, with the same options (including the
 * weight callback and its data, which must still be valid). HT_EINVAL when
 * an incident now lies beyond the grid's nodes: @h is untouched then, and
 * must be built again.
 */
ht_status ht_heat_update(ht_heat *h, const ht_index *old,
                         const ht_index_filter *qold, const ht_index *now,
                         const ht_index_filter *qnow, const int64_t *ids,
                         size_t n, ht_error *err);

/** @v rounded to the nearest step of the R10 series (1, 1.25, 1.6, 2,
 * 2.5, 3.15, 4, 5, 6.3, 8 times a power of ten); 0 for v <= 0. */
double ht_heat_nice(double v);

/** Density (incidents/km2) at EPSG:3857 (@x, @y), interpolated; 0 outside
 * the grid. Thread-safe. */
double ht_heat_sample(const ht_heat *h, double x, double y);

/** The colour scale's top under `auto`: the 99th percentile of the
 * non-zero node densities, rounded to the R10 series (ht_heat_nice), the
 * same for every tile, zoom and image of the filter. The rounding keeps a
 * few more incidents from moving it, so that a write leaves the cached
 * tiles away from it valid. 0 when there are no incidents. */
double ht_heat_auto_scale(const ht_heat *h);

/** The largest node density. */
double ht_heat_max(const ht_heat *h);

/** Number of incidents that went into @h, and its node spacing in ground
 * metres. */
size_t ht_heat_count(const ht_heat *h);
double ht_heat_spacing_m(const ht_heat *h);

/**
 * The exact density at (@lon, @lat): a direct sum over the incidents
 * within the radius (through the index), no grid. Thread-safe.
 */
double ht_heat_exact(const ht_index *ix, const ht_index_filter *q,
                     const ht_heat_opts *o, double lon, double lat);

/** Parse "quartic" / "gaussian". */
ht_status ht_heat_kernel_parse(const char *s, ht_kernel *out, ht_error *err);

#endif
