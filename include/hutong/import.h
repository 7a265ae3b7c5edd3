/* SPDX-License-Identifier: Apache-2.0 */
/* Importers: GeoJSON and CSV files into the store, all or nothing. */
#ifndef HUTONG_IMPORT_H
#define HUTONG_IMPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "hutong/error.h"
#include "hutong/store.h"

/** What a file holds. */
typedef enum ht_import_kind {
    HT_IMPORT_GRIDS = 0,
    HT_IMPORT_STREETS,
    HT_IMPORT_INCIDENTS,
    HT_IMPORT_CATEGORIES,
    HT_IMPORT_RULES, /**< deadline rules: category, severity, hours */
    HT_IMPORT_KIND_COUNT
} ht_import_kind;

/** At most this many --field mappings. */
#define HT_IMPORT_MAX_MAPS 16

/** Import options; zero-initialise, then set what differs. */
typedef struct ht_import_opts {
    ht_import_kind kind;
    /** CRS of the input (ht_crs_normalize spec); NULL: the GeoJSON file's
     * legacy "crs" member if any, else EPSG:4326. */
    const char *crs;
    /** grids: level of every feature (overrides the level field), or NULL */
    const char *level;
    /** categories: dictionary for rows without one; NULL: "local" */
    const char *dictionary;
    /** incidents: street snap distance in metres; 0: HT_LOCATE_SNAP_M */
    double snap_m;
    /** Field mappings: our field map_name[i] is read from map_source[i]. */
    size_t nmaps;
    const char *map_name[HT_IMPORT_MAX_MAPS];
    const char *map_source[HT_IMPORT_MAX_MAPS];
    /** The caller has begun a transaction on the store and will commit or
     * roll it back; the import then opens none of its own. */
    bool in_transaction;
    /** incidents, for writes from outside (the HTTP API): a row that
     * updates a stored incident keeps its life cycle moving forward (the
     * same status or a later one, as a PATCH step; HT_ECONFLICT
     * otherwise), a status change is logged at closed_at or else at @now,
     * not before the incident's latest step; no time lies after @now
     * (+5 min). */
    bool lifecycle;
    /** incidents: when set (a grid code), the incident as stored and as
     * the row puts it must both lie in that grid's subtree (HT_EAUTH
     * otherwise, checked before anything is written) */
    const char *scope;
    /** the clock for @lifecycle (UTC seconds); 0: the system's */
    int64_t now;
    /** Called every few thousand rows (may be NULL): the rows so far, and
     * how far through the input (@done of @total: bytes of a CSV file,
     * features of GeoJSON; @total 0: unknown) */
    void (*progress)(size_t rows, size_t done, size_t total, void *ud);
    void *progress_ud;
} ht_import_opts;

/** What an import did. */
typedef struct ht_import_stats {
    size_t rows;      /**< features or data rows read */
    size_t inserted;  /**< new rows stored */
    size_t updated;   /**< existing rows changed */
    size_t unchanged; /**< rows already stored as given */
    size_t relocated; /**< incidents whose grid or street changed */
    size_t linked;    /**< grids given a new parent by containment */
} ht_import_stats;

/** Parse an import kind ("grids", "streets", "incidents", "categories"). */
ht_status ht_import_kind_parse(const char *s, ht_import_kind *out,
                               ht_error *err);

/**
 * Add a mapping "NAME=SOURCE" to @o, checking NAME is a field of @o->kind.
 * @spec is borrowed and must outlive @o. HT_EINVAL names the problem.
 */
ht_status ht_import_opts_add_field(ht_import_opts *o, const char *spec,
                                   ht_error *err);

/**
 * Import the file at @path (GeoJSON by extension .geojson/.json or a
 * leading '{', otherwise CSV) into @s in one transaction. On any bad row
 * the message names the file, the line (CSV) or feature (GeoJSON, counted
 * from 1) and the field, the status is HT_EINVAL, and the store is exactly
 * as it was. Loading grids or streets re-locates the incidents they cover
 * in the same transaction.
 */
ht_status ht_import_file(ht_store *s, const char *path, const ht_import_opts *o,
                         ht_import_stats *stats, ht_error *err);

/**
 * As ht_import_file, for @len bytes at @data; @name stands for the file in
 * messages, @format is "geojson", "csv" or NULL (sniff).
 */
ht_status ht_import_mem(ht_store *s, const char *name, const char *data,
                        size_t len, const char *format, const ht_import_opts *o,
                        ht_import_stats *stats, ht_error *err);

#endif
