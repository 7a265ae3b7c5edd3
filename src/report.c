/* SPDX-License-Identifier: Apache-2.0 */
/* The monthly report's figures (the month against the one before, the
 * ranking, the rising topics grouped by category) and its document: the
 * pages in order, written with the print module's output. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hutong/datetime.h"

#include "report_int.h"

/* ---- months ---- */

void ht__report_month_name(int64_t t, char *out, size_t size) {
    int y, m, d, hh, mm, ss;
    ht_datetime_to_civil(t, &y, &m, &d, &hh, &mm, &ss);
    snprintf(out, size, "%04d-%02d", y % 10000, m);
}

/* ---- figures ---- */

static ht_report_kpi kpi_none(void) {
    return (ht_report_kpi){0, NAN, NAN, NAN, NAN};
}

static ht_report_kpi kpi_of(const ht_stats_row *r) {
    return (ht_report_kpi){r->count, r->response, r->resolution,
                           r->satisfaction, r->median_close_h};
}

ht_status ht__report_kpis(ht_store *s, const ht_filter *base, int64_t from,
                          int64_t to, ht_report_kpi *out, size_t nmonths,
                          ht_error *err) {
    for (size_t k = 0; k < nmonths; k++) {
        out[k] = kpi_none();
    }
    ht_filter f = *base;
    f.from = from;
    f.to = to;
    ht_stats_row *rows = NULL;
    size_t n = 0;
    ht_status st = ht_stats_compute(s, &f, HT_STATS_BY_MONTH, &rows, &n, err);
    if (st != HT_OK) {
        return st;
    }
    int y0, m0, d, hh, mm, ss;
    ht_datetime_to_civil(from, &y0, &m0, &d, &hh, &mm, &ss);
    for (size_t i = 0; i < n; i++) {
        int y, m;
        if (sscanf(rows[i].key, "%d-%d", &y, &m) != 2) {
            continue;
        }
        long k = (long)(y * 12 + m) - (long)(y0 * 12 + m0);
        if (k >= 0 && (size_t)k < nmonths) {
            out[k] = kpi_of(&rows[i]);
        }
    }
    free(rows);
    return HT_OK;
}

double ht__report_score(const ht_report_kpi *k) {
    /* The mean of the rates there are (a month may have no verdicts). */
    const double v[3] = {k->response, k->resolution, k->satisfaction};
    double sum = 0;
    int n = 0;
    for (int i = 0; i < 3; i++) {
        if (!isnan(v[i])) {
            sum += v[i];
            n++;
        }
    }
    return k->count > 0 && n > 0 ? sum / n : NAN;
}

/* Ranking order: scored before unscored, higher score, more incidents,
 * code. */
static int cmp_score(double sa, int64_t ca, const char *ka, double sb,
                     int64_t cb, const char *kb) {
    if (isnan(sa) != isnan(sb)) {
        return isnan(sa) ? 1 : -1;
    }
    if (!isnan(sa) && sa != sb) {
        return sa > sb ? -1 : 1;
    }
    if (ca != cb) {
        return ca > cb ? -1 : 1;
    }
    return strcmp(ka, kb);
}

static int cmp_now(const void *a, const void *b) {
    const ht_report_rank *p = a, *q = b;
    return cmp_score(p->score, p->now.count, p->code, q->score, q->now.count,
                     q->code);
}

static int cmp_prev(const void *a, const void *b) {
    const ht_report_rank *p = a, *q = b;
    return cmp_score(p->prev_score, p->prev.count, p->code, q->prev_score,
                     q->prev.count, q->code);
}

/* The rows of @by for [from, to) under @within, joined into @r by code. */
static ht_status fill_month(ht_store *s, const char *within, ht_stats_by by,
                            int64_t from, int64_t to, ht_report_rank *r,
                            size_t n, bool prev, ht_error *err) {
    ht_filter f = ht_filter_all();
    f.from = from;
    f.to = to;
    snprintf(f.grid, sizeof f.grid, "%s", within ? within : "");
    ht_stats_row *rows = NULL;
    size_t m = 0;
    ht_status st = ht_stats_compute(s, &f, by, &rows, &m, err);
    if (st != HT_OK) {
        return st;
    }
    for (size_t i = 0; i < m; i++) {
        for (size_t k = 0; k < n; k++) {
            if (strcmp(r[k].code, rows[i].key) == 0) {
                *(prev ? &r[k].prev : &r[k].now) = kpi_of(&rows[i]);
                break;
            }
        }
    }
    free(rows);
    return HT_OK;
}

/* The areas one level under @top (NULL: the street offices of the store),
 * ranked for this month and the one before. */
static ht_status rank_areas(ht_store *s, const ht_features *f,
                            const ht_fgrid *top, ht_report_data *d,
                            ht_error *err) {
    ht_level want = top ? (ht_level)(top->level + 1) : HT_LEVEL_STREET;
    size_t ng = ht_features_grid_count(f), n = 0;
    ht_report_rank *r = calloc(ng + 1, sizeof *r);
    if (!r) {
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < ng; i++) {
        const ht_fgrid *g = ht_features_grid(f, i);
        if (g->level != want) {
            continue;
        }
        /* Under @top: its ancestors include @top. */
        bool under = !top;
        for (const ht_fgrid *p = g; !under && p && p->parent_code;) {
            p = ht_features_find_grid(f, p->parent_code);
            under = p == top;
        }
        if (!under) {
            continue;
        }
        ht_report_rank *x = &r[n++];
        snprintf(x->code, sizeof x->code, "%s", g->code);
        snprintf(x->name, sizeof x->name, "%s", g->name ? g->name : g->code);
        x->now = x->prev = kpi_none();
    }
    const char *within = top ? top->code : NULL;
    ht_status st =
        fill_month(s, within, d->by, d->from, d->to, r, n, false, err);
    if (st == HT_OK) {
        st = fill_month(s, within, d->by, d->prev_from, d->from, r, n, true,
                        err);
    }
    if (st != HT_OK) {
        free(r);
        return st;
    }
    for (size_t k = 0; k < n; k++) {
        r[k].score = ht__report_score(&r[k].now);
        r[k].prev_score = ht__report_score(&r[k].prev);
    }
    qsort(r, n, sizeof *r, cmp_prev);
    for (size_t k = 0; k < n; k++) {
        r[k].prev_rank = isnan(r[k].prev_score) ? 0 : (int)k + 1;
    }
    qsort(r, n, sizeof *r, cmp_now);
    for (size_t k = 0; k < n; k++) {
        r[k].rank = isnan(r[k].score) ? 0 : (int)k + 1;
    }
    d->ranks = r;
    d->nranks = n;
    return HT_OK;
}

/* Most topics a report holds. */
#define MAX_TOPICS 12

/* The month's rising (category, area) pairs grouped by category. */
static ht_status group_topics(ht_store *s, const ht_fgrid *top,
                              ht_report_data *d, ht_error *err) {
    ht_stats_by by = top && top->level >= HT_LEVEL_STREET
                         ? HT_STATS_BY_COMMUNITY
                         : HT_STATS_BY_STREET;
    ht_topic *t = NULL;
    size_t n = 0;
    ht_status st =
        ht_stats_topics(s, d->month, by, top ? top->code : NULL,
                        HT_REPORT_MIN_COUNT, (size_t)-1, &t, &n, err);
    if (st != HT_OK) {
        return st;
    }
    ht_report_topic *g = calloc(MAX_TOPICS, sizeof *g);
    size_t ng = 0;
    for (size_t i = 0; g && i < n && t[i].score >= HT_REPORT_MIN_SCORE; i++) {
        size_t k = 0;
        while (k < ng && strcmp(g[k].category, t[i].category) != 0) {
            k++;
        }
        if (k == ng) {
            if (ng == MAX_TOPICS) {
                continue;
            }
            ng++;
            snprintf(g[k].category, sizeof g[k].category, "%s", t[i].category);
            snprintf(
                g[k].name, sizeof g[k].name, "%s",
                t[i].category_name[0] ? t[i].category_name : t[i].category);
            g[k].score = t[i].score;
        }
        if (g[k].nareas < HT_REPORT_TOPIC_AREAS) {
            g[k].areas[g[k].nareas++] = t[i];
        }
    }
    free(t);
    if (!g) {
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    /* Each topic's figures over the whole area, this month and the last. */
    for (size_t k = 0; st == HT_OK && k < ng; k++) {
        ht_filter f = ht_filter_all();
        f.ncategory = 1;
        snprintf(f.category[0], sizeof f.category[0], "%s", g[k].category);
        snprintf(f.grid, sizeof f.grid, "%s", top ? top->code : "");
        ht_report_kpi two[2];
        st = ht__report_kpis(s, &f, d->prev_from, d->to, two, 2, err);
        g[k].prev = two[0];
        g[k].now = two[1];
    }
    if (st != HT_OK) {
        free(g);
        return st;
    }
    d->topics = g;
    d->ntopics = ng;
    return HT_OK;
}

ht_status ht_report_compute(ht_store *s, const ht_features *f,
                            const char *month, const char *within,
                            ht_report_data *d, ht_error *err) {
    memset(d, 0, sizeof *d);
    int y, m;
    ht_status mst = ht_datetime_parse_month(month, &y, &m, err);
    if (mst != HT_OK) {
        return mst;
    }
    const ht_fgrid *top = NULL;
    if (within) {
        top = ht_features_find_grid(f, within);
        if (!top) {
            return ht_error_set(err, HT_EINVAL, "no grid \"%s\"", within);
        }
        if (top->level >= HT_LEVEL_GRID) {
            return ht_error_set(err, HT_EINVAL,
                                "%s is a unit grid: a report covers a "
                                "district, a street office or a community",
                                within);
        }
    }
    d->from = ht_datetime_month_start(y, m, 0);
    d->to = ht_datetime_month_start(y, m, 1);
    d->prev_from = ht_datetime_month_start(y, m, -1);
    ht__report_month_name(d->from, d->month, sizeof d->month);
    ht__report_month_name(d->prev_from, d->prev_month, sizeof d->prev_month);
    if (top) {
        snprintf(d->area, sizeof d->area, "%s", top->code);
        snprintf(d->area_name, sizeof d->area_name, "%s",
                 top->name ? top->name : top->code);
        d->area_level = top->level;
    } else {
        /* The store: named after its one district when it has one. */
        const ht_fgrid *only = NULL;
        size_t roots = 0;
        for (size_t i = 0; i < ht_features_grid_count(f); i++) {
            const ht_fgrid *g = ht_features_grid(f, i);
            if (g->level == HT_LEVEL_DISTRICT) {
                only = g;
                roots++;
            }
        }
        snprintf(d->area_name, sizeof d->area_name, "%s",
                 roots == 1 && only->name ? only->name : "全部区域");
        d->area_level = HT_LEVEL_DISTRICT;
    }
    d->by = d->area_level == HT_LEVEL_DISTRICT ? HT_STATS_BY_STREET
            : d->area_level == HT_LEVEL_STREET ? HT_STATS_BY_COMMUNITY
                                               : HT_STATS_BY_GRID;
    ht_filter all = ht_filter_all();
    snprintf(all.grid, sizeof all.grid, "%s", d->area);
    ht_report_kpi two[2];
    ht_status st = ht__report_kpis(s, &all, d->prev_from, d->to, two, 2, err);
    d->prev = two[0];
    d->now = two[1];
    if (st == HT_OK && d->now.count == 0) {
        st = ht_error_set(err, HT_EINVAL, "nothing was reported in %s in %s",
                          d->area_name, d->month);
    }
    if (st == HT_OK) {
        st = rank_areas(s, f, top, d, err);
    }
    if (st == HT_OK) {
        st = group_topics(s, top, d, err);
    }
    if (st != HT_OK) {
        ht_report_data_free(d);
    }
    return st;
}

void ht_report_data_free(ht_report_data *d) {
    free(d->ranks);
    free(d->topics);
    d->ranks = NULL;
    d->topics = NULL;
    d->nranks = d->ntopics = 0;
}

/* ---- the document ---- */

ht_status ht_report_print(ht_renderer *r, ht_store *s, const ht_features *f,
                          const ht_report_data *d, const ht_report_opts *o,
                          const char *path, ht_report_page **pages_out,
                          size_t *npages_out, ht_error *err) {
    if (pages_out) {
        *pages_out = NULL;
        *npages_out = 0;
    }
    ht_print_opts po = o->print;
    po.paper = HT_PAPER_A4;
    po.crs = NULL;
    po.filter = ht_filter_all();
    po.filter.from = d->from;
    po.filter.to = d->to;
    snprintf(po.filter.grid, sizeof po.filter.grid, "%s", d->area);
    ht_status st = ht__print_check_opts(&po, err);
    if (st == HT_OK && o->topic_pages > HT_REPORT_MAX_TOPIC_PAGES) {
        st = ht_error_set(err, HT_EINVAL, "%zu topic pages: at most %d",
                          o->topic_pages, HT_REPORT_MAX_TOPIC_PAGES);
    }
    if (st != HT_OK) {
        return st;
    }
    size_t ntp = o->topic_pages < d->ntopics ? o->topic_pages : d->ntopics;
    size_t npages = 3 + ntp;
    ht_report_page *pages = calloc(npages, sizeof *pages);
    if (!pages) {
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    ht__rctx x = {.d = d, .ro = o};
    ht__pctx *c = &x.c;
    st = ht__print_ctx_open(c, r, s, f, &po, err);
    if (st == HT_OK) {
        st = ht__report_begin(&x);
    }
    ht__print_page_size(c, false);
    c->pages = (int)npages;
    ht__pdoc doc = {0};
    if (st == HT_OK) {
        st = ht__print_doc_open(c, &doc, path);
    }
    for (size_t p = 0; st == HT_OK && p < npages; p++) {
        c->number = (int)p + 1;
        x.page = &pages[p];
        pages[p].number = c->number;
        pages[p].width_pt = c->w_pt;
        pages[p].height_pt = c->h_pt;
        snprintf(pages[p].kind, sizeof pages[p].kind, "%s",
                 p == 0   ? "overview"
                 : p == 1 ? "topics"
                 : p == 2 ? "ranking"
                          : "topic");
        cairo_surface_t *img;
        st = ht__print_page_begin(c, &doc, &img);
        if (st == HT_OK) {
            st = p == 0   ? ht__report_overview(&x)
                 : p == 1 ? ht__report_topics(&x)
                 : p == 2 ? ht__report_ranking(&x)
                          : ht__report_topic(&x, p - 3);
        }
        if (c->cr) {
            st = ht__print_page_end(c, &doc, img, st);
        }
    }
    st = ht__print_doc_close(c, &doc, st);
    ht_crs_transform_free(c->to_crs);
    if (st == HT_OK && pages_out) {
        *pages_out = pages;
        *npages_out = npages;
    } else {
        free(pages);
    }
    return st;
}
