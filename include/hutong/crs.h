/* SPDX-License-Identifier: Apache-2.0 */
/* Coordinate transforms: any EPSG CRS through PROJ, plus GCJ-02 and BD-09. */
#ifndef HUTONG_CRS_H
#define HUTONG_CRS_H

#include <stdbool.h>
#include <stddef.h>

#include "hutong/error.h"
#include "hutong/geom.h"

/**
 * A transform between two CRSs, always in x,y order (lon,lat for geographic
 * CRSs, easting,northing for projected ones, whatever the EPSG axis order).
 * It owns its PROJ context: use one object from one thread at a time, and
 * create it once per thread, not per feature.
 */
typedef struct ht_transform ht_transform;

/** Size of a buffer that holds any canonical CRS name. */
#define HT_CRS_NAME_SIZE 48

/**
 * Canonical name of a CRS spec: "EPSG:n" for "EPSG:n", "epsg:n", "n",
 * "wgs84" (EPSG:4326), "cgcs2000" (EPSG:4490), "webmercator" (EPSG:3857);
 * "AUTH:code" for other authorities; "gcj02" for gcj02/gcj-02; "bd09" for
 * bd09/bd-09. HT_EINVAL for anything else. Does not check that PROJ knows
 * the code (ht_crs_transform_new does).
 */
ht_status ht_crs_normalize(const char *spec, char out[HT_CRS_NAME_SIZE],
                           ht_error *err);

/**
 * Create a transform from @src to @dst (specs as for ht_crs_normalize; NULL
 * means EPSG:4326). Coordinates given in @src are checked against the CRS's
 * area of use (PROJ's, or the whole world for gcj02/bd09). HT_EINVAL names
 * an unknown CRS; *out is NULL on error.
 */
ht_status ht_crs_transform_new(const char *src, const char *dst,
                               ht_transform **out, ht_error *err);

/** Free @t; NULL is a no-op. */
void ht_crs_transform_free(ht_transform *t);

/** True when @t leaves coordinates unchanged. Cannot fail. */
bool ht_crs_transform_is_identity(const ht_transform *t);

/**
 * Transform one coordinate. HT_EINVAL when (x, y) is not finite or lies
 * outside the source CRS's area of use; HT_EPROJ when PROJ fails. Outputs
 * are written only on success.
 */
ht_status ht_crs_transform_point(ht_transform *t, double x, double y,
                                 double *ox, double *oy, ht_error *err);

/**
 * Transform @n points in place. On error the message names the index of
 * the failing point and @pts is left as it was.
 */
ht_status ht_crs_transform_points(ht_transform *t, ht_point *pts, size_t n,
                                  ht_error *err);

/**
 * The ESRI WKT of CRS @spec (for .prj files beside rasters), in a new
 * string the caller frees. HT_EINVAL for gcj02/bd09 (not CRSs PROJ knows)
 * and unknown codes.
 */
ht_status ht_crs_wkt(const char *spec, char **out, ht_error *err);

/**
 * Whether the CRS's own first axis points north (latitude or northing
 * first: EPSG:4326, EPSG:4490, EPSG:4548), as WMS 1.3.0 bounding boxes
 * follow it. HT_EINVAL for an unknown CRS.
 */
ht_status ht_crs_north_first(const char *spec, bool *out, ht_error *err);

/** Whether @spec is a geographic CRS (degrees: EPSG:4326, EPSG:4490, GCJ-02,
 * BD-09), not a projected one (metres). */
ht_status ht_crs_is_geographic(const char *spec, bool *out, ht_error *err);

/**
 * True outside the box where Chinese datum offsets apply (lon 72.004 to
 * 137.8347, lat 0.8293 to 55.8271); GCJ-02 and BD-09 are WGS 84 there.
 */
bool ht_crs_outside_china(double lon, double lat);

/** WGS 84 to GCJ-02 with the published formula. Cannot fail. */
void ht_crs_wgs84_to_gcj02(double lon, double lat, double *olon, double *olat);

/** GCJ-02 to WGS 84, inverting the forward formula by iteration. */
void ht_crs_gcj02_to_wgs84(double lon, double lat, double *olon, double *olat);

/** GCJ-02 to BD-09 with the published formula. Cannot fail. */
void ht_crs_gcj02_to_bd09(double lon, double lat, double *olon, double *olat);

/** BD-09 to GCJ-02, inverting the forward formula by iteration. */
void ht_crs_bd09_to_gcj02(double lon, double lat, double *olon, double *olat);

#endif
