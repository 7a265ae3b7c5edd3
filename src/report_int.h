/* SPDX-License-Identifier: Apache-2.0 */
/* The monthly report's internals, shared by report.c (figures, document)
 * and report_draw.c (its pages). */
#ifndef HUTONG_REPORT_INT_H
#define HUTONG_REPORT_INT_H

#include "hutong/report.h"

#include "print_int.h"

/* What drawing the report needs. */
typedef struct ht__rctx {
    ht__pctx c; /* the print context: page, cairo_t, layout */
    const ht_report_data *d;
    const ht_report_opts *ro;
    const ht_fgrid *top;  /* the report's area; NULL: the store */
    ht_bbox box;          /* its box, EPSG:3857 */
    ht_report_page *page; /* the page being drawn, its boxes recorded */
} ht__rctx;

/* "YYYY-MM" of @t (UTC). */
void ht__report_month_name(int64_t t, char *out, size_t size);

/* The figures of each calendar month of [from, to) (month starts) passing
 * @base (its period replaced): out[k] the k-th month; months with nothing
 * reported have count 0 and NAN rates. */
ht_status ht__report_kpis(ht_store *s, const ht_filter *base, int64_t from,
                          int64_t to, ht_report_kpi *out, size_t nmonths,
                          ht_error *err);

/* The mean of the three rates; NAN when nothing was reported. */
double ht__report_score(const ht_report_kpi *k);

/* Find the report's area and its box; the period's text. */
ht_status ht__report_begin(ht__rctx *x);

/* The pages. */
ht_status ht__report_overview(ht__rctx *x);
ht_status ht__report_topics(ht__rctx *x);
ht_status ht__report_ranking(ht__rctx *x);
ht_status ht__report_topic(ht__rctx *x, size_t i);

#endif
