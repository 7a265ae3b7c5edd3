/* SPDX-License-Identifier: Apache-2.0 */
/* Kernel density of incidents, in incidents per km2 on the ground. */
#ifndef HUTONG_HEAT_H
#define HUTONG_HEAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/**
 * Density grids kept per class: one for each severity and major category
 * of the rows of an index's base (replaced and deleted ones too), on the
 * nodes ht_heat_build would use. The grid of a filter that restricts
 * nothing but severities and whole major classes is then a sum of a few
 * of them and of the changes since the base (ht_heat_from_atlas): a few
 * milliseconds, where a build splats every incident again. Immutable and
 * reference-counted: share it between threads.
 */
typedef struct ht_heat_atlas ht_heat_atlas;

/** Build the grids of @ix's base with @o (no weight). HT_ENOMEM when they
 * would take more than @max_bytes (the message says how much). */
ht_status ht_heat_atlas_build(const ht_index *ix, const ht_heat_opts *o,
                              size_t max_bytes, ht_heat_atlas **out,
                              ht_error *err);
ht_heat_atlas *ht_heat_atlas_ref(ht_heat_atlas *a);

/** What the grids per span of report time take at most, in bytes an
 * incident of the index (ht_heat_atlases). */
#define HT_HEAT_SLICE_BYTES 3

/** The fewest incidents a span of report time holds on the whole: fewer
 * cost less to splat than to keep. */
#define HT_HEAT_SLICE_ROWS 50000

/**
 * Add to @a grids per span of report time over its base (@ix's), within
 * @max_bytes: whole hours, as short as the budget allows (spans of
 * HT_HEAT_SLICE_ROWS incidents at the shortest). The grid of a
 * filter that restricts nothing but the time is then the sum of the spans
 * its window covers, of the rows of the (at most two) spans it cuts, and
 * of the changes since the base. Once per atlas: others may read @a
 * meanwhile, and see them when they are made. HT_ENOMEM when two spans
 * do not fit.
 */
ht_status ht_heat_atlas_add_slices(ht_heat_atlas *a, const ht_index *ix,
                                   size_t max_bytes, ht_error *err);

/** What the grids per value of a dimension take at most, in bytes an
 * incident of the index (ht_heat_atlases; 8 MB at the least). */
#define HT_HEAT_MARGIN_BYTES 1

/** The least share of the base, in percent, a value holds to get a grid
 * of its own: fewer incidents cost less to splat than to keep. */
#define HT_HEAT_MARGIN_PERCENT 8

/**
 * Add to @a a grid per value of a dimension the classes do not hold (a
 * state, a source, a department, a verdict) that holds HT_HEAT_MARGIN_PERCENT
 * of its base (@ix's) or more, and not all of it, the largest first within
 * @max_bytes; and one per community, each over its own place only, within
 * as much again at most (a few grids' worth: a street office is the sum of
 * its communities'). A filter of such a value (and whatever else) is then that
 * grid less the incidents it holds that the filter does not pass, when
 * those are fewer than the classes around it would leave (source=patrol:
 * that grid alone). Once per atlas, as ht_heat_atlas_add_slices.
 */
ht_status ht_heat_atlas_add_margins(ht_heat_atlas *a, const ht_index *ix,
                                    size_t max_bytes, ht_error *err);
void ht_heat_atlas_unref(ht_heat_atlas *a);

/** Bytes of its grids; the base it holds (ht_index_base_serial); its
 * radius and kernel. */
size_t ht_heat_atlas_bytes(const ht_heat_atlas *a);
uint64_t ht_heat_atlas_base(const ht_heat_atlas *a);
double ht_heat_atlas_radius(const ht_heat_atlas *a);
ht_kernel ht_heat_atlas_kernel(const ht_heat_atlas *a);

/** Seconds each of its grids per span of time covers; 0 without them. */
int64_t ht_heat_atlas_slice_span(const ht_heat_atlas *a);

/** Whether @a gives the grid of @ix under @q with @o: the same base, radius
 * and kernel, no weight, a filter of severities and classes only, or (once
 * its slices are added) of report times only. */
bool ht_heat_atlas_serves(const ht_heat_atlas *a, const ht_index *ix,
                          const ht_index_filter *q, const ht_heat_opts *o);

/**
 * The density grid of @ix under @q with @o, summed from @a: the same
 * nodes and values as ht_heat_build gives (to the sums' rounding).
 * HT_ENOTFOUND when @a does not serve it (ht_heat_atlas_serves) or the
 * changes since the base widened the extent: build it then.
 */
ht_status ht_heat_from_atlas(const ht_heat_atlas *a, const ht_index *ix,
                             const ht_index_filter *q, const ht_heat_opts *o,
                             ht_heat **out, ht_error *err);

/**
 * Save @a, built from @ix's base, into @path (written beside, then renamed
 * over it), stamped as the index's snapshot is (@source, @version: see
 * ht_index_save_stamped); @ix's base must be what that snapshot holds.
 */
ht_status ht_heat_atlas_save(const ht_heat_atlas *a, const ht_index *ix,
                             const char *path, int64_t source, int64_t version,
                             ht_error *err);

/**
 * Read what ht_heat_atlas_save wrote, for @ix just read from the snapshot
 * stamped (@source, @version), with @o's radius and kernel. HT_ENOTFOUND
 * (with the reason) when the file is absent, of another snapshot, radius,
 * kernel, nodes or categories, damaged or truncated: build it then.
 */
ht_status ht_heat_atlas_read(const char *path, const ht_index *ix,
                             const ht_heat_opts *o, int64_t source,
                             int64_t version, ht_heat_atlas **out,
                             ht_error *err);

/**
 * @from carried past the changes @ix made since its base (the same base):
 * the grids of the rows @ix holds, as a snapshot saved from @ix folds them
 * into a new base. HT_ENOTFOUND when the changes widened the grid, HT_EINVAL
 * for another base.
 */
ht_status ht_heat_atlas_advance(const ht_heat_atlas *from, const ht_index *ix,
                                ht_heat_atlas **out, ht_error *err);

/**
 * The atlases of a process, shared by its renderers: one per radius and
 * kernel (four at most), for the newest base asked for, built in threads
 * of their own for indexes of @from incidents or more, each within
 * @max_bytes. Thread-safe.
 */
typedef struct ht_heat_atlases ht_heat_atlases;
ht_status ht_heat_atlases_new(size_t from, size_t max_bytes,
                              ht_heat_atlases **out, ht_error *err);
/** The number of incidents from which @s keeps atlases. */
size_t ht_heat_atlases_from(const ht_heat_atlases *s);

/** Wait for the builds under way; none starts after (the atlases built
 * stay). NULL is a no-op. */
void ht_heat_atlases_wait(ht_heat_atlases *s);

/** Waits for the builds under way. NULL is a no-op. */
void ht_heat_atlases_free(ht_heat_atlases *s);

/** Start building the atlas of @ix with @o (no weight) if it is not there
 * or under way. */
void ht_heat_atlases_prepare(ht_heat_atlases *s, const ht_index *ix,
                             const ht_heat_opts *o);

/** Hand @a (a reference is taken) to @s, as if built there. */
void ht_heat_atlases_put(ht_heat_atlases *s, ht_heat_atlas *a);

/** Call @fn(ud, a, ix) in the builder's thread after each atlas built from
 * @ix (to save it); set before any is asked for. */
void ht_heat_atlases_on_built(ht_heat_atlases *s,
                              void (*fn)(void *ud, const ht_heat_atlas *a,
                                         const ht_index *ix),
                              void *ud);

/** @fn(ud, a) on every atlas built, under the set's lock; none for a NULL
 * set. */
void ht_heat_atlases_each(ht_heat_atlases *s,
                          void (*fn)(void *ud, const ht_heat_atlas *a),
                          void *ud);

/** Start building every atlas again for @ix's base when it is a new one. */
void ht_heat_atlases_follow(ht_heat_atlases *s, const ht_index *ix);

/**
 * The atlas of @ix's base with @o (a reference: unref it), started when
 * missing; NULL until it is built (or when it cannot be: too large, an
 * index too small, a weight). @wait: until it is built, when it is being.
 */
ht_heat_atlas *ht_heat_atlases_get(ht_heat_atlases *s, const ht_index *ix,
                                   const ht_heat_opts *o, bool wait);

/** Parse "quartic" / "gaussian". */
ht_status ht_heat_kernel_parse(const char *s, ht_kernel *out, ht_error *err);

/** The name ht_heat_kernel_parse reads for @k. */
const char *ht_heat_kernel_name(ht_kernel k);

#endif
