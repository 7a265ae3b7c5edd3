/* SPDX-License-Identifier: Apache-2.0 */
/* Printed grid maps: a page per area (title, map, legend, scale bar, north
 * arrow, inset, figures), atlases with a cover and an index, as PDF or
 * PNG pages. */
#ifndef HUTONG_PRINT_H
#define HUTONG_PRINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hutong/error.h"
#include "hutong/features.h"
#include "hutong/filter.h"
#include "hutong/render.h"
#include "hutong/store.h"
#include "hutong/style.h"

/** ISO 216 sheet sizes. */
typedef enum ht_paper {
    HT_PAPER_A4 = 0,
    HT_PAPER_A3,
    HT_PAPER_A2,
    HT_PAPER_A1,
    HT_PAPER_A0,
    HT_PAPER_COUNT
} ht_paper;

/** Parse "A4" .. "A0" (any case); HT_EINVAL names anything else. */
ht_status ht_print_paper_parse(const char *s, ht_paper *out, ht_error *err);

/** The short and long side of @p in millimetres. Cannot fail. */
void ht_print_paper_mm(ht_paper p, double *short_mm, double *long_mm);

typedef enum ht_orientation {
    HT_ORIENT_AUTO = 0, /**< the one that shows the area at the larger scale */
    HT_ORIENT_PORTRAIT,
    HT_ORIENT_LANDSCAPE
} ht_orientation;

/** Parse "auto", "portrait", "landscape". */
ht_status ht_print_orientation_parse(const char *s, ht_orientation *out,
                                     ht_error *err);

/** Output kinds. */
typedef enum ht_print_format {
    HT_PRINT_PDF = 0, /**< one PDF, vector lines and text */
    HT_PRINT_PNG      /**< a folder of page-NNNN.png */
} ht_print_format;

#define HT_PRINT_MIN_DPI 150
#define HT_PRINT_MAX_DPI 600

/** How to print. Zero is not a valid value for every field: start from
 * ht_print_opts_default. */
typedef struct ht_print_opts {
    ht_paper paper;
    ht_orientation orientation;
    int dpi;               /**< HT_PRINT_MIN_DPI..HT_PRINT_MAX_DPI: rasters
                              (heat) and PNG pages */
    const char *crs;       /**< the map's CRS; NULL: EPSG:3857 */
    const ht_style *style; /**< the base map, labels drawn last */
    const ht_style *layer; /**< heat or street heat over it; NULL: none */
    bool uniform_scale;    /**< every page at the scale of the largest */
    ht_filter filter;      /**< the period and filters of heat and figures
                              (its grid is each page's area) */
    int64_t now;           /**< the print date (UTC seconds) */
    const char *source;    /**< the data-source line; NULL: "hutong" */
    ht_print_format format;
    int threads; /**< area pages drawn at once (each thread with
                    its own connection to the store); 0 or 1:
                    one */
} ht_print_opts;

/** Defaults: A4, auto orientation, 300 DPI, EPSG:3857, no styles (set
 * @style), every incident, now = @now, PDF. Cannot fail. */
ht_print_opts ht_print_opts_default(int64_t now);

/** A rectangle on the page, in points (1/72 in) from its top-left
 * corner. */
typedef struct ht_print_box {
    double x, y, w, h;
} ht_print_box;

/** The parts of an area's page. */
typedef enum ht_print_part {
    HT_PART_TITLE = 0,
    HT_PART_MAP,
    HT_PART_LEGEND,
    HT_PART_SCALEBAR,
    HT_PART_NORTH,
    HT_PART_INSET,
    HT_PART_TABLE,
    HT_PART_STREETS,
    HT_PART_FOOTER,
    HT_PART_COUNT
} ht_print_part;

/** What was drawn on an area's page: the boxes its parts were drawn in
 * (zero width: a part the page has not), and its map's geometry. */
typedef struct ht_print_page {
    char code[40];
    int number; /**< 1-based, counting cover and index */
    double width_pt, height_pt;
    ht_print_box part[HT_PART_COUNT];
    ht_bbox map_bbox;       /**< what the map box shows, in the CRS */
    double scale;           /**< the scale denominator, 2000 for 1:2,000 */
    double scalebar_m;      /**< the scale bar's length on the ground */
    double scalebar_pt;     /**< and on paper */
    double convergence_deg; /**< grid north from true north, clockwise */
} ht_print_page;

/** The standard scale denominator (1:500, 1:1,000, 1:2,000, 1:2,500,
 * 1:5,000, 1:10,000 ... each series 1, 2, 2.5, 5 x 10^n) at or above
 * @denominator. Cannot fail. */
double ht_print_round_scale(double denominator);

/**
 * The areas to print: with @within NULL every grid of @level; else the
 * grids of @level in @within's subtree (@within itself when it is of
 * @level). Codes in order, *out (and each code) borrowed from @f.
 * HT_ENOTFOUND for an unknown @within, HT_EINVAL when nothing is of
 * @level there.
 */
ht_status ht_print_select(const ht_features *f, const char *within,
                          ht_level level, const char ***out, size_t *n,
                          ht_error *err);

/** Progress: @done of @total pages. */
typedef void (*ht_print_progress_fn)(size_t done, size_t total, void *ud);

/**
 * Print the areas @codes (n >= 1) into @path: a PDF atlas (or, as
 * HT_PRINT_PNG, the folder @path of page PNGs), one page per area, after a
 * cover and an index when n > 1. Draws with @r; the figures come from
 * @store. The file is written under a temporary name beside @path and
 * renamed at the end: on error nothing is left under @path (PNG: no new
 * page files). @pages (may be NULL): what each area page holds, malloc'd,
 * n entries, freed by the caller. HT_EINVAL for bad options or codes,
 * HT_EIO when the output cannot be written.
 */
ht_status ht_print_atlas(ht_renderer *r, ht_store *store, const ht_features *f,
                         const char *const *codes, size_t n,
                         const ht_print_opts *o, const char *path,
                         ht_print_progress_fn progress, void *ud,
                         ht_print_page **pages, ht_error *err);

/**
 * One area page as a PDF appended to @out (the HTTP route's print). The
 * same page as in an atlas, numbered 1 / 1. On error @out is unchanged.
 */
ht_status ht_print_page_pdf(ht_renderer *r, ht_store *store,
                            const ht_features *f, const char *code,
                            const ht_print_opts *o, ht_buf *out,
                            ht_print_page *page, ht_error *err);

#endif
