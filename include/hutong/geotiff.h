/* SPDX-License-Identifier: Apache-2.0 */
/* GeoTIFF of one band of 32-bit floats, written by hand (classic TIFF,
 * little-endian, one uncompressed strip): a raster GDAL and QGIS read with
 * its georeferencing, its unit and its no-data value. */
#ifndef HUTONG_GEOTIFF_H
#define HUTONG_GEOTIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "hutong/error.h"

/** What a GeoTIFF says of its grid. */
typedef struct ht_geotiff {
    size_t ncols, nrows;
    double x0, y0;    /**< the top-left corner (west, north), CRS units */
    double cell;      /**< cell size, CRS units */
    int epsg;         /**< the CRS's EPSG code */
    bool geographic;  /**< degrees (GeographicTypeGeoKey), else projected */
    const char *unit; /**< the band's unit ("incidents/km²") */
    const char *description; /**< the band's description, or NULL */
    float nodata;            /**< the no-data value */
} ht_geotiff;

/**
 * Start a GeoTIFF of @g on @f (opened "wb", at its start): the header;
 * the caller then writes g->nrows rows of g->ncols floats, north first,
 * with ht_geotiff_row, and ends with ht_geotiff_end (the directory).
 * HT_EINVAL for a grid past 4 GiB or of no cells, HT_EIO on a write error.
 */
ht_status ht_geotiff_begin(FILE *f, const ht_geotiff *g, ht_error *err);
ht_status ht_geotiff_row(FILE *f, const float *row, size_t ncols,
                         ht_error *err);
ht_status ht_geotiff_end(FILE *f, const ht_geotiff *g, ht_error *err);

#endif
