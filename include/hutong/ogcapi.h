/* SPDX-License-Identifier: Apache-2.0 */
/* OGC API Features (Part 1 Core, GeoJSON; Part 2 CRS; Part 3
 * queryables): the CRS URIs served, the `datetime` and `bbox` parameters. */
#ifndef HUTONG_OGCAPI_H
#define HUTONG_OGCAPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hutong/error.h"
#include "hutong/geom.h"

#define HT_OGC_CRS84 "http://www.opengis.net/def/crs/OGC/1.3/CRS84"

/** A CRS served: its URI, its name for hutong's transforms, and whether
 * its first axis is the northing or the latitude (EPSG:4326, 4490, 4548:
 * coordinates are written in that order, as Part 2 asks). */
typedef struct ht_ogc_crs {
    const char *uri;
    const char *name;
    bool north_first;
} ht_ogc_crs;

/** CRS84 (the default), EPSG:4326, 4490, 4548 and 3857. */
extern const ht_ogc_crs ht_ogc_crss[];
extern const size_t ht_ogc_ncrs;

/** The CRS of @uri (its http://www.opengis.net/def/crs/... URI, or
 * "EPSG:n" / "[EPSG:n]" / "CRS84"), or NULL. */
const ht_ogc_crs *ht_ogc_crs_find(const char *uri);

/**
 * A `datetime` parameter: an instant or a closed interval "a/b" of RFC
 * 3339 times or dates, either end open as ".." or empty. Sets [@from,
 * @to) in seconds (INT64_MIN / INT64_MAX when open); a date as an end
 * stands for its whole day. HT_EINVAL names the problem.
 */
ht_status ht_ogc_datetime(const char *text, int64_t *from, int64_t *to,
                          ht_error *err);

/** A `bbox` parameter: 4 numbers (or 6, heights ignored), minimum before
 * maximum in the order of its CRS. HT_EINVAL names the problem. */
ht_status ht_ogc_bbox(const char *text, double out[4], ht_error *err);

#endif
