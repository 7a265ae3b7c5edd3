/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: the monthly report. The demo has a fixed seed and end date
 * (2026-11-28), every report here a fixed month and print date, so nothing
 * depends on today. The figures are checked against ht_stats computed
 * independently; the pages by the boxes their parts were drawn in. */
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hutong/datetime.h"
#include "hutong/report.h"

#include "ht_test.h"

#define END 1795824000 /* 2026-11-28 */

static ts_demo *demo;
static ht_style *base_style, *heat_style;
static char *dir;

static int setup(void **state) {
    (void)state;
    demo = ts_demo_new(3000);
    dir = ts_tmpdir();
    if (ht_style_load("report", &base_style, NULL) != HT_OK ||
        ht_style_load("report-heat", &heat_style, NULL) != HT_OK) {
        return -1;
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    ht_style_unref(base_style);
    ht_style_unref(heat_style);
    ts_demo_free(demo);
    ts_rmdir(dir);
    free(dir);
    return 0;
}

static ht_report_opts opts(void) {
    ht_report_opts o = {.print = ht_print_opts_default(END), .topic_pages = 3};
    o.print.style = base_style;
    o.print.layer = heat_style;
    o.print.dpi = 150;
    return o;
}

static ht_report_data compute(const char *month, const char *within) {
    ht_report_data d;
    ht_error err = {0};
    if (ht_report_compute(demo->fx->s, demo->feat, month, within, &d, &err) !=
        HT_OK) {
        fail_msg("%s", err.msg);
    }
    return d;
}

/* The stats rows of @by for [from, to) under @within. */
static ht_stats_row *rows_of(ht_stats_by by, int64_t from, int64_t to,
                             const char *within, const char *category,
                             size_t *n) {
    ht_filter f = ht_filter_all();
    f.from = from;
    f.to = to;
    if (within) {
        snprintf(f.grid, sizeof f.grid, "%s", within);
    }
    if (category) {
        f.ncategory = 1;
        snprintf(f.category[0], sizeof f.category[0], "%s", category);
    }
    ht_stats_row *r = NULL;
    assert_int_equal(ht_stats_compute(demo->fx->s, &f, by, &r, n, NULL), HT_OK);
    return r;
}

static int64_t total(const ht_stats_row *r, size_t n) {
    int64_t t = 0;
    for (size_t k = 0; k < n; k++) {
        t += r[k].count;
    }
    return t;
}

/* The mean of the rates a row has. */
static double mean3(const ht_stats_row *r) {
    const double v[3] = {r->response, r->resolution, r->satisfaction};
    double sum = 0;
    int n = 0;
    for (int i = 0; i < 3; i++) {
        if (!isnan(v[i])) {
            sum += v[i];
            n++;
        }
    }
    return n ? sum / n : NAN;
}

/* The month's figures, the ranking and its change against the month
 * before, all as ht_stats says. */
static void test_report_figures(void **state) {
    (void)state;
    ht_report_data d = compute("2026-10", NULL);
    assert_string_equal(d.month, "2026-10");
    assert_string_equal(d.prev_month, "2026-09");
    assert_int_equal(d.from, ht_datetime_from_civil(2026, 10, 1, 0, 0, 0));
    assert_int_equal(d.to, ht_datetime_from_civil(2026, 11, 1, 0, 0, 0));
    assert_int_equal(d.prev_from, ht_datetime_from_civil(2026, 9, 1, 0, 0, 0));
    assert_int_equal(d.by, HT_STATS_BY_STREET);
    assert_string_equal(d.area_name, "东城区");
    size_t n, np;
    ht_stats_row *cat =
        rows_of(HT_STATS_BY_CATEGORY, d.from, d.to, NULL, NULL, &n);
    assert_int_equal(d.now.count, total(cat, n));
    free(cat);
    cat = rows_of(HT_STATS_BY_CATEGORY, d.prev_from, d.from, NULL, NULL, &np);
    assert_int_equal(d.prev.count, total(cat, np));
    free(cat);
    ht_stats_row *now =
        rows_of(HT_STATS_BY_STREET, d.from, d.to, NULL, NULL, &n);
    ht_stats_row *prev =
        rows_of(HT_STATS_BY_STREET, d.prev_from, d.from, NULL, NULL, &np);
    /* Every street office of the district, each scored as stats says. */
    assert_int_equal(d.nranks, 17);
    for (size_t i = 0; i < d.nranks; i++) {
        const ht_report_rank *r = &d.ranks[i];
        const ht_stats_row *s = NULL, *p = NULL;
        for (size_t k = 0; k < n; k++) {
            s = strcmp(now[k].key, r->code) == 0 ? &now[k] : s;
        }
        for (size_t k = 0; k < np; k++) {
            p = strcmp(prev[k].key, r->code) == 0 ? &prev[k] : p;
        }
        if (!s || !p) {
            fail_msg("no stats for %s", r->code);
            return;
        }
        assert_int_equal(r->now.count, s->count);
        assert_int_equal(r->prev.count, p->count);
        assert_true(fabs(r->score - mean3(s)) < 1e-12);
        assert_true(fabs(r->prev_score - mean3(p)) < 1e-12);
        assert_int_equal(r->rank, (int)i + 1);
        /* Best first; ties by more incidents. */
        if (i > 0) {
            const ht_report_rank *q = &d.ranks[i - 1];
            assert_true(q->score > r->score ||
                        (q->score == r->score && q->now.count >= r->now.count));
        }
        /* Last month's rank: how many scored better then, plus one. */
        int better = 0;
        for (size_t k = 0; k < np; k++) {
            double ks = mean3(&prev[k]), rs = r->prev_score;
            if (strcmp(prev[k].key, "-") != 0 &&
                (ks > rs || (ks == rs && prev[k].count > r->prev.count) ||
                 (ks == rs && prev[k].count == r->prev.count &&
                  strcmp(prev[k].key, r->code) < 0))) {
                better++;
            }
        }
        assert_int_equal(r->prev_rank, better + 1);
    }
    free(now);
    free(prev);
    ht_report_data_free(&d);
}

/* Topics: rising pairs of ht_stats_topics grouped by category, each
 * area's rise at least the threshold, the figures of the category as
 * stats says. */
static void test_report_topics(void **state) {
    (void)state;
    ht_report_data d = compute("2026-11", NULL);
    assert_true(d.ntopics >= 1);
    ht_topic *t = NULL;
    size_t nt = 0;
    assert_int_equal(
        ht_stats_topics(demo->fx->s, "2026-11", HT_STATS_BY_STREET, NULL,
                        HT_REPORT_MIN_COUNT, 1000, &t, &nt, NULL),
        HT_OK);
    /* The first topic is the first pair's category. */
    assert_string_equal(d.topics[0].category, t[0].category);
    assert_string_equal(d.topics[0].areas[0].area, t[0].area);
    for (size_t i = 0; i < d.ntopics; i++) {
        const ht_report_topic *g = &d.topics[i];
        assert_true(g->nareas >= 1);
        assert_true(g->score >= HT_REPORT_MIN_SCORE);
        if (i > 0) {
            assert_true(d.topics[i - 1].score >= g->score);
        }
        for (size_t k = i + 1; k < d.ntopics; k++) {
            assert_string_not_equal(g->category, d.topics[k].category);
        }
        for (size_t a = 0; a < g->nareas; a++) {
            assert_true(g->areas[a].score >= HT_REPORT_MIN_SCORE);
            assert_true(g->areas[a].count >= HT_REPORT_MIN_COUNT);
            assert_string_equal(g->areas[a].category, g->category);
            if (a > 0) {
                assert_true(g->areas[a - 1].score >= g->areas[a].score);
            }
        }
        size_t n;
        ht_stats_row *r =
            rows_of(HT_STATS_BY_STREET, d.from, d.to, NULL, g->category, &n);
        assert_int_equal(g->now.count, total(r, n));
        free(r);
        r = rows_of(HT_STATS_BY_STREET, d.prev_from, d.from, NULL, g->category,
                    &n);
        assert_int_equal(g->prev.count, total(r, n));
        free(r);
    }
    free(t);
    ht_report_data_free(&d);
}

/* A street office's report ranks its communities. */
static void test_report_within(void **state) {
    (void)state;
    ht_report_data d = compute("2026-10", "110101003");
    assert_int_equal(d.by, HT_STATS_BY_COMMUNITY);
    assert_string_equal(d.area, "110101003");
    assert_true(d.nranks >= 2);
    size_t n;
    ht_stats_row *r =
        rows_of(HT_STATS_BY_CATEGORY, d.from, d.to, "110101003", NULL, &n);
    assert_int_equal(d.now.count, total(r, n));
    free(r);
    int64_t sum = 0;
    for (size_t i = 0; i < d.nranks; i++) {
        const ht_fgrid *g = ht_features_find_grid(demo->feat, d.ranks[i].code);
        assert_non_null(g);
        assert_int_equal(g->level, HT_LEVEL_COMMUNITY);
        assert_string_equal(g->parent_code, "110101003");
        sum += d.ranks[i].now.count;
    }
    assert_int_equal(sum, d.now.count);
    for (size_t i = 0; i < d.ntopics; i++) {
        for (size_t a = 0; a < d.topics[i].nareas; a++) {
            const ht_fgrid *g =
                ht_features_find_grid(demo->feat, d.topics[i].areas[a].area);
            assert_non_null(g);
            assert_string_equal(g->parent_code, "110101003");
        }
    }
    ht_report_data_free(&d);
}

static void test_report_bad_input(void **state) {
    (void)state;
    const char *months[] = {"2026-13",    "2026-1",  "26-10",
                            "2026-10-01", "2026/10", ""};
    ht_report_data d;
    ht_error err = {0};
    for (size_t k = 0; k < sizeof months / sizeof *months; k++) {
        assert_int_equal(ht_report_compute(demo->fx->s, demo->feat, months[k],
                                           NULL, &d, &err),
                         HT_EINVAL);
        assert_contains(err.msg, "YYYY-MM");
    }
    assert_int_equal(
        ht_report_compute(demo->fx->s, demo->feat, NULL, NULL, &d, &err),
        HT_EINVAL);
    assert_int_equal(ht_report_compute(demo->fx->s, demo->feat, "2026-10",
                                       "110101999", &d, &err),
                     HT_EINVAL);
    assert_contains(err.msg, "110101999");
    assert_int_equal(ht_report_compute(demo->fx->s, demo->feat, "2026-10",
                                       "110101001001001", &d, &err),
                     HT_EINVAL);
    assert_contains(err.msg, "unit grid");
    /* A month with nothing reported (long after the demo ends). */
    assert_int_equal(
        ht_report_compute(demo->fx->s, demo->feat, "2030-01", NULL, &d, &err),
        HT_EINVAL);
    assert_contains(err.msg, "2030-01");
    assert_null(d.ranks);
    /* Too many topic pages; an output that cannot be written: nothing is
     * left there. */
    ht_report_data ok = compute("2026-10", NULL);
    ht_report_opts o = opts();
    o.topic_pages = HT_REPORT_MAX_TOPIC_PAGES + 1;
    char *pdf = ts_path(dir, "bad.pdf");
    assert_int_equal(ht_report_print(demo->rend, demo->fx->s, demo->feat, &ok,
                                     &o, pdf, NULL, NULL, &err),
                     HT_EINVAL);
    o = opts();
    o.print.dpi = 100;
    assert_int_equal(ht_report_print(demo->rend, demo->fx->s, demo->feat, &ok,
                                     &o, pdf, NULL, NULL, &err),
                     HT_EINVAL);
    struct stat sb;
    assert_int_not_equal(stat(pdf, &sb), 0);
    char *nowhere = ts_path(dir, "no/such/r.pdf");
    o = opts();
    assert_int_equal(ht_report_print(demo->rend, demo->fx->s, demo->feat, &ok,
                                     &o, nowhere, NULL, NULL, &err),
                     HT_EIO);
    assert_contains(err.msg, "cannot write");
    free(nowhere);
    free(pdf);
    ht_report_data_free(&ok);
}

static bool inside(ht_print_box b, const ht_report_page *p, double margin) {
    return b.w > 0 && b.h > 0 && b.x >= margin && b.y >= margin &&
           b.x + b.w <= p->width_pt - margin &&
           b.y + b.h <= p->height_pt - margin;
}

static bool overlap(ht_print_box a, ht_print_box b) {
    return a.x < b.x + b.w - 0.01 && b.x < a.x + a.w - 0.01 &&
           a.y < b.y + b.h - 0.01 && b.y < a.y + a.h - 0.01;
}

static bool contains(ht_print_box a, ht_print_box b) {
    return b.x >= a.x - 0.01 && b.y >= a.y - 0.01 &&
           b.x + b.w <= a.x + a.w + 0.01 && b.y + b.h <= a.y + a.h + 0.01;
}

static size_t count_of(const ht_report_page *p, const char *what) {
    size_t n = 0;
    for (size_t k = 0; k < p->nboxes; k++) {
        n += strcmp(p->what[k], what) == 0;
    }
    return n;
}

/* Every page's parts inside the page margins, none over another (a card
 * holds its map). */
static void check_pages(const ht_report_page *pages, size_t n) {
    double margin = 10 * 72 / 25.4 - 0.5;
    for (size_t i = 0; i < n; i++) {
        const ht_report_page *p = &pages[i];
        assert_int_equal(p->number, (int)i + 1);
        assert_true(fabs(p->width_pt - 595.3) < 0.5);
        assert_true(fabs(p->height_pt - 841.9) < 0.5);
        assert_int_equal(count_of(p, "title"), 1);
        assert_int_equal(count_of(p, "footer"), 1);
        for (size_t a = 0; a < p->nboxes; a++) {
            if (!inside(p->box[a], p, margin)) {
                fail_msg("page %d: %s outside the page", p->number, p->what[a]);
            }
            for (size_t b = a + 1; b < p->nboxes; b++) {
                bool held = (strcmp(p->what[a], "card") == 0 &&
                             strcmp(p->what[b], "map") == 0 &&
                             contains(p->box[a], p->box[b])) ||
                            (strcmp(p->what[b], "card") == 0 &&
                             strcmp(p->what[a], "map") == 0 &&
                             contains(p->box[b], p->box[a]));
                if (!held && overlap(p->box[a], p->box[b])) {
                    fail_msg("page %d: %s and %s overlap", p->number,
                             p->what[a], p->what[b]);
                }
            }
        }
    }
}

/* The page count pdfinfo reads (-1 without poppler-utils). */
static int pages_of(const char *pdf) {
    char *out = NULL;
    char *const argv[] = {"/usr/bin/pdfinfo", (char *)pdf, NULL};
    if (ts_run(argv, 60, &out, NULL) != 0) {
        free(out);
        return -1;
    }
    const char *p = strstr(out, "Pages:");
    int n = p ? atoi(p + 6) : -1;
    free(out);
    return n;
}

static char *pdf_text(const char *pdf) {
    char *out = NULL;
    char *const argv[] = {"/usr/bin/pdftotext", (char *)pdf, "-", NULL};
    if (ts_run(argv, 60, &out, NULL) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

/* The district's report: the overview, the topics, the ranking and three
 * topic pages, with what each must hold, as text in the PDF. */
static void test_report_pages(void **state) {
    (void)state;
    ht_report_data d = compute("2026-11", NULL);
    ht_report_opts o = opts();
    char *pdf = ts_path(dir, "report.pdf");
    ht_report_page *pages;
    size_t n;
    ht_error err = {0};
    if (ht_report_print(demo->rend, demo->fx->s, demo->feat, &d, &o, pdf,
                        &pages, &n, &err) != HT_OK) {
        fail_msg("%s", err.msg);
    }
    size_t topics = d.ntopics < 3 ? d.ntopics : 3;
    assert_int_equal(n, 3 + topics);
    check_pages(pages, n);
    assert_string_equal(pages[0].kind, "overview");
    assert_int_equal(count_of(&pages[0], "kpi"), 4);
    assert_int_equal(count_of(&pages[0], "map"), 1);
    assert_int_equal(count_of(&pages[0], "legend"), 1);
    assert_int_equal(count_of(&pages[0], "scalebar"), 1);
    assert_int_equal(count_of(&pages[0], "categories"), 1);
    assert_string_equal(pages[1].kind, "topics");
    size_t cards = d.ntopics < 6 ? d.ntopics : 6;
    assert_int_equal(count_of(&pages[1], "card"), cards);
    assert_int_equal(count_of(&pages[1], "map"), cards);
    assert_string_equal(pages[2].kind, "ranking");
    assert_int_equal(count_of(&pages[2], "table"), 1);
    assert_int_equal(count_of(&pages[2], "chart"), 1);
    for (size_t i = 3; i < n; i++) {
        assert_string_equal(pages[i].kind, "topic");
        const char *must[] = {"map",   "legend", "scalebar",
                              "trend", "areas",  "streets"};
        for (size_t k = 0; k < sizeof must / sizeof *must; k++) {
            if (count_of(&pages[i], must[k]) != 1) {
                fail_msg("page %zu has no %s", i + 1, must[k]);
            }
        }
    }
    int np = pages_of(pdf);
    if (np >= 0) {
        assert_int_equal(np, (int)n);
        char *text = pdf_text(pdf);
        assert_non_null(text);
        assert_contains(text, "每月一题");
        assert_contains(text, "东城区");
        assert_contains(text, "街道排名");
        assert_contains(text, d.ranks[0].name);
        assert_contains(text, d.ranks[d.nranks - 1].name);
        assert_contains(text, d.topics[0].name);
        assert_contains(text, "2026-11-01 至 2026-11-28（本月未完）");
        /* The last page's number (pdftotext closes up its spaces). */
        char last[16];
        snprintf(last, sizeof last, "%zu/%zu", n, n);
        assert_contains(text, last);
        free(text);
    }
    free(pages);
    unlink(pdf);
    free(pdf);
    ht_report_data_free(&d);
}

/* A street office's report, as PNG pages: wide areas lay out otherwise;
 * still nothing overlaps. */
static void test_report_street_png(void **state) {
    (void)state;
    ht_report_data d = compute("2026-10", "110101003");
    ht_report_opts o = opts();
    o.print.format = HT_PRINT_PNG;
    o.topic_pages = 1;
    char *out = ts_path(dir, "street-pages");
    ht_report_page *pages;
    size_t n;
    ht_error err = {0};
    if (ht_report_print(demo->rend, demo->fx->s, demo->feat, &d, &o, out,
                        &pages, &n, &err) != HT_OK) {
        fail_msg("%s", err.msg);
    }
    check_pages(pages, n);
    for (size_t i = 1; i <= n; i++) {
        char name[64];
        snprintf(name, sizeof name, "street-pages/page-%04zu.png", i);
        char *p = ts_path(dir, name);
        struct stat sb;
        assert_int_equal(stat(p, &sb), 0);
        assert_true(sb.st_size > 5000);
        free(p);
    }
    free(pages);
    free(out);
    ht_report_data_free(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report_figures),
        cmocka_unit_test(test_report_topics),
        cmocka_unit_test(test_report_within),
        cmocka_unit_test(test_report_bad_input),
        cmocka_unit_test(test_report_pages),
        cmocka_unit_test(test_report_street_png),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
