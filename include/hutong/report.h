/* SPDX-License-Identifier: Apache-2.0 */
/* The monthly "one topic a month" (每月一题) report: the month's figures
 * and heat, its rising topics, the ranking of the areas under the report's
 * area with the change against the month before, and a page per top topic;
 * printed on A4 with the print module's machinery. */
#ifndef HUTONG_REPORT_H
#define HUTONG_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "hutong/error.h"
#include "hutong/features.h"
#include "hutong/print.h"
#include "hutong/stats.h"
#include "hutong/store.h"

/** The three rates and the count of a month. NAN where nothing was
 * reported. */
typedef struct ht_report_kpi {
    int64_t count;
    double response, resolution, satisfaction;
    double median_close_h;
} ht_report_kpi;

/** A row of the ranking: an area under the report's area. */
typedef struct ht_report_rank {
    char code[40], name[96];
    int rank;      /**< 1 for the best score this month */
    int prev_rank; /**< last month's rank; 0: nothing reported then */
    double score;  /**< the mean of the three rates, 0..1 */
    double prev_score;
    ht_report_kpi now, prev;
} ht_report_rank;

/** Most areas one topic lists. */
#define HT_REPORT_TOPIC_AREAS 8

/** A rising topic: a minor category and the areas where it rose. */
typedef struct ht_report_topic {
    char category[16], name[64];
    double score; /**< its best area's rise (ht_stats_topics' score) */
    ht_report_kpi now, prev; /**< in the whole report area */
    size_t nareas;
    ht_topic areas[HT_REPORT_TOPIC_AREAS]; /**< highest score first */
} ht_report_topic;

/** Least rise (Poisson standard deviations) and count of a topic. */
#define HT_REPORT_MIN_SCORE 2.0
#define HT_REPORT_MIN_COUNT 3

/** What a report says, computed before anything is drawn. */
typedef struct ht_report_data {
    char month[8], prev_month[8]; /**< "YYYY-MM" */
    int64_t from, to, prev_from;  /**< [from, to) the month, UTC */
    char area[32], area_name[96]; /**< the report's area; "" the store */
    ht_level area_level;          /**< HT_LEVEL_DISTRICT for the store */
    ht_stats_by by;               /**< what the ranking ranks */
    ht_report_kpi now, prev;
    ht_report_rank *ranks; /**< best first */
    size_t nranks;
    ht_report_topic *topics; /**< highest score first */
    size_t ntopics;
} ht_report_data;

/**
 * Compute the report of @month ("YYYY-MM", UTC) for area @within (a
 * district, street office or community code; NULL: the whole store). The
 * ranking ranks the areas one level down (street offices of a district,
 * communities of a street office, unit grids of a community) by the mean
 * of their three rates, ties by more incidents, then by code. HT_EINVAL
 * for a bad month, an unknown or unit-grid @within, or a month in which
 * nothing was reported there.
 */
ht_status ht_report_compute(ht_store *s, const ht_features *f,
                            const char *month, const char *within,
                            ht_report_data *out, ht_error *err);

/** Free what @d holds; a zeroed @d is fine. */
void ht_report_data_free(ht_report_data *d);

/** Most pages of top topics. */
#define HT_REPORT_MAX_TOPIC_PAGES 10
/** Most boxes a report page records. */
#define HT_REPORT_MAX_BOXES 48

/** What a report page holds: the boxes its parts were drawn in. */
typedef struct ht_report_page {
    int number;
    char kind[16]; /**< "overview", "topics", "ranking", "topic" */
    double width_pt, height_pt;
    size_t nboxes;
    ht_print_box box[HT_REPORT_MAX_BOXES];
    char what[HT_REPORT_MAX_BOXES][24]; /**< "title", "map", "table" ... */
} ht_report_page;

/** How to print a report. */
typedef struct ht_report_opts {
    ht_print_opts print; /**< DPI, format, styles (style: the base map;
                            layer: the heat), print date, source; A4;
                            its filter is the report's month */
    size_t topic_pages;  /**< 0..HT_REPORT_MAX_TOPIC_PAGES */
} ht_report_opts;

/**
 * Print @d into @path (a PDF, or a folder of PNG pages): the overview
 * (figures against last month, the month's heat, its categories), the
 * rising topics (each with a small map of where it concentrates, the areas
 * where it rose and its streets), the ranking with the three rates, and a
 * page for each of the first @o->topic_pages topics. Written under a
 * temporary name and renamed at the end: on error nothing is left under
 * @path. @pages (may be NULL): what each page holds, malloc'd, *npages
 * entries.
 */
ht_status ht_report_print(ht_renderer *r, ht_store *s, const ht_features *f,
                          const ht_report_data *d, const ht_report_opts *o,
                          const char *path, ht_report_page **pages,
                          size_t *npages, ht_error *err);

#endif
