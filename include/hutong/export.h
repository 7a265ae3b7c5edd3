/* SPDX-License-Identifier: Apache-2.0 */
/* Complete dumps of the store: incidents (with the filters), grids and
 * streets as CSV, GeoJSON or GeoPackage, a row at a time (memory does not
 * grow with the rows). */
#ifndef HUTONG_EXPORT_H
#define HUTONG_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "hutong/error.h"
#include "hutong/filter.h"
#include "hutong/geom.h"
#include "hutong/store.h"

typedef enum ht_export_what {
    HT_EXPORT_INCIDENTS = 0,
    HT_EXPORT_GRIDS,
    HT_EXPORT_STREETS
} ht_export_what;

typedef enum ht_export_format {
    HT_EXPORT_CSV = 0,
    HT_EXPORT_GEOJSON,
    HT_EXPORT_GPKG
} ht_export_format;

/** "incidents", "grids" or "streets"; HT_EINVAL names them. */
ht_status ht_export_what_parse(const char *s, ht_export_what *out,
                               ht_error *err);

/** The format a file name's extension says (.csv, .geojson or .json,
 * .gpkg); HT_EINVAL names them. */
ht_status ht_export_format_of(const char *path, ht_export_format *out,
                              ht_error *err);

/** Called every 10,000 rows and at the end with the rows written. */
typedef void (*ht_export_progress_fn)(size_t rows, void *ud);

typedef struct ht_export_opts {
    ht_export_what what;
    ht_export_format format;
    const ht_filter *filter; /**< incidents only; NULL: all */
    const ht_bbox *box;      /**< incidents only, lon/lat; NULL: anywhere */
    ht_export_progress_fn progress;
    void *ud;
} ht_export_opts;

/**
 * Write @o's rows of @s to @out as CSV (a header, RFC 4180, times in ISO
 * 8601 UTC; incidents with lon and lat, grids and streets with their
 * outline or line as WKT) or GeoJSON (a FeatureCollection, WGS 84); coordinates
 to 15 digits (the stored ones, to 10 nm).
 * Incidents' columns are those `hutong import` reads (id is the external
 * id), and their row id, grid, street, department and deadlines. *@rows
 * gets the rows written. HT_EIO when @out cannot be written (a reader
 * gone), HT_EINVAL for an unknown code in the filter.
 */
ht_status ht_export_stream(ht_store *s, const ht_export_opts *o, FILE *out,
                           size_t *rows, ht_error *err);

/**
 * Write @o's rows of @s as a GeoPackage at @path (a table named after
 * them, EPSG:4326, with its spatial index), written beside it and renamed
 * into place: on any error nothing is left at @path.
 */
ht_status ht_export_gpkg(ht_store *s, const ht_export_opts *o, const char *path,
                         size_t *rows, ht_error *err);

#endif
