/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: printed pages and atlases. The demo has a fixed seed and end
 * date, and every print here a fixed print date and period, so nothing
 * depends on today. */
#include <math.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hutong/crs.h"
#include "hutong/print.h"
#include "hutong/tile.h"

#include "ht_test.h"

/* The demo's end (2026-11-28) and the 30 days before it. */
#define END 1795824000
#define DAY 86400

static ts_demo *demo;
static ht_style *print_style, *heat_style;
static char *dir;

static int setup(void **state) {
    (void)state;
    demo = ts_demo_new(3000);
    dir = ts_tmpdir();
    if (ht_style_load("print", &print_style, NULL) != HT_OK ||
        ht_style_load("heat", &heat_style, NULL) != HT_OK) {
        return -1;
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    ht_style_unref(print_style);
    ht_style_unref(heat_style);
    ts_demo_free(demo);
    ts_rmdir(dir);
    free(dir);
    return 0;
}

static ht_print_opts opts(void) {
    ht_print_opts o = ht_print_opts_default(END);
    o.style = print_style;
    o.layer = heat_style;
    o.dpi = 150;
    o.filter.from = END - 30 * DAY;
    o.filter.to = END;
    return o;
}

static void test_print_round_scale(void **state) {
    (void)state;
    const double in[] = {1,    450,  500,  501,   1800,  2000,
                         2001, 2600, 7000, 12000, 24000, 26000};
    const double want[] = {1,    500,  500,   1000,  2000,  2000,
                           2500, 5000, 10000, 20000, 25000, 50000};
    for (size_t k = 0; k < sizeof in / sizeof *in; k++) {
        assert_true(fabs(ht_print_round_scale(in[k]) - want[k]) < 1e-6);
    }
}

static void test_print_parse(void **state) {
    (void)state;
    ht_paper p;
    ht_error err = {0};
    assert_int_equal(ht_print_paper_parse("a3", &p, &err), HT_OK);
    assert_int_equal(p, HT_PAPER_A3);
    p = HT_PAPER_A1;
    assert_int_equal(ht_print_paper_parse("A5", &p, &err), HT_EINVAL);
    assert_contains(err.msg, "A5");
    assert_int_equal(p, HT_PAPER_A1); /* unchanged */
    double s, l;
    ht_print_paper_mm(HT_PAPER_A0, &s, &l);
    assert_true(s == 841 && l == 1189);
    ht_orientation o = HT_ORIENT_PORTRAIT;
    assert_int_equal(ht_print_orientation_parse("sideways", &o, &err),
                     HT_EINVAL);
    assert_int_equal(o, HT_ORIENT_PORTRAIT);
    assert_int_equal(ht_print_orientation_parse("landscape", &o, &err), HT_OK);
    assert_int_equal(o, HT_ORIENT_LANDSCAPE);
}

static void test_print_select(void **state) {
    (void)state;
    const ht_features *f = demo->feat;
    const char **codes;
    size_t n;
    ht_error err = {0};
    assert_int_equal(
        ht_print_select(f, "110101001", HT_LEVEL_GRID, &codes, &n, &err),
        HT_OK);
    size_t want = 0;
    for (size_t i = 0; i < ht_features_grid_count(f); i++) {
        const ht_fgrid *g = ht_features_grid(f, i);
        want +=
            g->level == HT_LEVEL_GRID && strncmp(g->code, "110101001", 9) == 0;
    }
    assert_int_equal(n, want);
    assert_true(n > 20);
    for (size_t k = 0; k < n; k++) {
        assert_int_equal(strncmp(codes[k], "110101001", 9), 0);
    }
    free(codes);
    assert_int_equal(
        ht_print_select(f, NULL, HT_LEVEL_STREET, &codes, &n, &err), HT_OK);
    assert_int_equal(n, 17);
    free(codes);
    assert_int_equal(
        ht_print_select(f, "110101999", HT_LEVEL_GRID, &codes, &n, &err),
        HT_ENOTFOUND);
    assert_null(codes);
    assert_int_equal(ht_print_select(f, "110101001001001", HT_LEVEL_STREET,
                                     &codes, &n, &err),
                     HT_EINVAL);
}

static bool inside(ht_print_box b, const ht_print_page *p, double margin) {
    return b.w > 0 && b.h > 0 && b.x >= margin && b.y >= margin &&
           b.x + b.w <= p->width_pt - margin &&
           b.y + b.h <= p->height_pt - margin;
}

static bool overlap(ht_print_box a, ht_print_box b) {
    return a.w > 0 && b.w > 0 && a.x < b.x + b.w && b.x < a.x + a.w &&
           a.y < b.y + b.h && b.y < a.y + a.h;
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

/* A 20-page atlas: every page has its title, legend and scale bar (and
 * every other part) inside the page, none over another; the pages are
 * numbered after a cover and an index. */
static void test_print_atlas_layout(void **state) {
    (void)state;
    const char **codes;
    size_t n;
    assert_int_equal(ht_print_select(demo->feat, "110101002", HT_LEVEL_GRID,
                                     &codes, &n, NULL),
                     HT_OK);
    assert_true(n >= 20);
    n = 20;
    ht_print_opts o = opts();
    char *pdf = ts_path(dir, "atlas.pdf");
    ht_print_page *pages;
    ht_error err = {0};
    ht_status st = ht_print_atlas(demo->rend, demo->fx->s, demo->feat, codes, n,
                                  &o, pdf, NULL, NULL, &pages, &err);
    if (st != HT_OK) {
        fail_msg("%s", err.msg);
    }
    double margin = 10 * 72 / 25.4 - 0.5;
    for (size_t i = 0; i < n; i++) {
        const ht_print_page *p = &pages[i];
        assert_string_equal(p->code, codes[i]);
        assert_int_equal(p->number, 3 + (int)i); /* cover, one index page */
        const ht_print_part must[] = {
            HT_PART_TITLE,    HT_PART_MAP,     HT_PART_LEGEND,
            HT_PART_SCALEBAR, HT_PART_NORTH,   HT_PART_INSET,
            HT_PART_TABLE,    HT_PART_STREETS, HT_PART_FOOTER};
        for (size_t k = 0; k < sizeof must / sizeof *must; k++) {
            if (!inside(p->part[must[k]], p, margin)) {
                fail_msg("page %d: part %d outside the page or empty",
                         p->number, (int)must[k]);
            }
            for (size_t q = k + 1; q < sizeof must / sizeof *must; q++) {
                if (overlap(p->part[must[k]], p->part[must[q]])) {
                    fail_msg("page %d: parts %d and %d overlap", p->number,
                             (int)must[k], (int)must[q]);
                }
            }
        }
        assert_true(p->scale >= 500 && p->scale <= 10000);
    }
    assert_int_equal(pages_of(pdf), 22);
    free(pages);
    free(codes);
    unlink(pdf);
    free(pdf);
}

/* The page's text (pdftotext), or NULL without poppler-utils. */
static char *pdf_text(const char *pdf) {
    char *out = NULL;
    char *const argv[] = {"/usr/bin/pdftotext", (char *)pdf, "-", NULL};
    if (ts_run(argv, 60, &out, NULL) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

/* One page in @crs: the scale text agrees with the scale bar and with two
 * points of the area measured on the page. */
static void check_scale(const char *crs) {
    ht_print_opts o = opts();
    o.crs = crs;
    ht_buf *b = ht_buf_new();
    ht_print_page p;
    ht_error err = {0};
    const char *code = "110101003002001";
    ht_status st = ht_print_page_pdf(demo->rend, demo->fx->s, demo->feat, code,
                                     &o, b, &p, &err);
    if (st != HT_OK) {
        fail_msg("%s", err.msg);
    }
    /* The scale bar: its paper length at the scale is its ground length. */
    double bar_m = p.scalebar_pt / 72 * 0.0254 * p.scale;
    assert_true(fabs(bar_m - p.scalebar_m) < p.scalebar_m * 1e-9);
    assert_true(p.scalebar_pt > p.part[HT_PART_SCALEBAR].w * 0.35);
    /* Two points of the area 1/4 and 3/4 across its box, on the page. */
    const ht_fgrid *g = ht_features_find_grid(demo->feat, code);
    double lon[2], lat[2], px[2], py[2];
    ht_transform *t = NULL;
    if (crs) {
        assert_int_equal(ht_crs_transform_new("EPSG:4326", crs, &t, NULL),
                         HT_OK);
    }
    for (int k = 0; k < 2; k++) {
        double mx =
            g->bbox.minx + (g->bbox.maxx - g->bbox.minx) * (1 + 2 * k) / 4;
        double my =
            g->bbox.miny + (g->bbox.maxy - g->bbox.miny) * (3 - 2 * k) / 4;
        ht_tile_merc_to_lonlat(mx, my, &lon[k], &lat[k]);
        double x = mx, y = my;
        if (t) {
            ht_crs_transform_point(t, lon[k], lat[k], &x, &y, NULL);
        }
        ht_print_box m = p.part[HT_PART_MAP];
        double s = m.w / (p.map_bbox.maxx - p.map_bbox.minx);
        px[k] = m.x + (x - p.map_bbox.minx) * s;
        py[k] = m.y + (p.map_bbox.maxy - y) * s;
        assert_true(px[k] > m.x && px[k] < m.x + m.w);
        assert_true(py[k] > m.y && py[k] < m.y + m.h);
    }
    ht_crs_transform_free(t);
    double paper_m = hypot(px[1] - px[0], py[1] - py[0]) / 72 * 0.0254;
    double ground_m = ts_dist_m(lon[0], lat[0], lon[1], lat[1]);
    assert_true(fabs(paper_m * p.scale - ground_m) < ground_m * 0.01);
    /* And the scale the page prints is that one. */
    char path[600], want[64];
    snprintf(path, sizeof path, "%s/scale.pdf", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite(b->data, 1, b->len, f);
    fclose(f);
    char *text = pdf_text(path);
    assert_non_null(text); /* pdftotext, from poppler-utils (.ci/deps) */
    long s = lround(p.scale);
    if (s >= 1000) {
        snprintf(want, sizeof want, "1:%ld,%03ld", s / 1000, s % 1000);
    } else {
        snprintf(want, sizeof want, "1:%ld", s);
    }
    assert_contains(text, want);
    assert_contains(text, code);
    assert_contains(text, "1/1");
    free(text);
    unlink(path);
    ht_buf_free(b);
    /* Grid north and true north part in Gauss-Krüger zone 39 (central
     * meridian 117 E): the convergence is about (lon - 117) sin(lat). */
    double want_conv = 0;
    if (crs) {
        double lo, la;
        ht_tile_merc_to_lonlat(g->label.x, g->label.y, &lo, &la);
        want_conv = -(lo - 117) * sin(la * HT_PI / 180);
    }
    assert_true(fabs(p.convergence_deg - want_conv) < 0.02);
}

static void test_print_scale_web_mercator(void **state) {
    (void)state;
    check_scale(NULL);
}

static void test_print_scale_gauss_kruger(void **state) {
    (void)state;
    check_scale("EPSG:4548");
}

/* Bad options and codes: a clear error, and nothing under the output name
 * (an older file there stays as it was). */
static void test_print_bad_input(void **state) {
    (void)state;
    char *pdf = ts_path(dir, "keep.pdf");
    ts_write(pdf, "older atlas");
    const char *codes[] = {"110101001001001", "110101009999999"};
    ht_print_opts o = opts();
    ht_error err = {0};
    assert_int_equal(ht_print_atlas(demo->rend, demo->fx->s, demo->feat, codes,
                                    2, &o, pdf, NULL, NULL, NULL, &err),
                     HT_EINVAL);
    assert_contains(err.msg, "110101009999999");
    o.dpi = 100;
    assert_int_equal(ht_print_atlas(demo->rend, demo->fx->s, demo->feat, codes,
                                    1, &o, pdf, NULL, NULL, NULL, &err),
                     HT_EINVAL);
    assert_contains(err.msg, "dpi 100");
    char *text = ts_read(pdf);
    assert_string_equal(text, "older atlas");
    free(text);
    /* A folder that does not exist. */
    o = opts();
    char *nowhere = ts_path(dir, "no/such/atlas.pdf");
    assert_int_equal(ht_print_atlas(demo->rend, demo->fx->s, demo->feat, codes,
                                    1, &o, nowhere, NULL, NULL, NULL, &err),
                     HT_EIO);
    free(nowhere);
    /* PNG pages too large for an image. */
    o.format = HT_PRINT_PNG;
    o.paper = HT_PAPER_A0;
    o.dpi = 600;
    char *pngdir = ts_path(dir, "big");
    assert_int_equal(ht_print_atlas(demo->rend, demo->fx->s, demo->feat, codes,
                                    1, &o, pngdir, NULL, NULL, NULL, &err),
                     HT_EINVAL);
    assert_contains(err.msg, "lower --dpi");
    struct stat sb;
    assert_int_not_equal(stat(pngdir, &sb), 0);
    free(pngdir);
    /* The disk fills up half-way (a file size limit of 64 KB): an error,
     * and neither the atlas nor its temporary file is left. */
    o = opts();
    char *full = ts_path(dir, "full.pdf");
    struct rlimit was, lim;
    getrlimit(RLIMIT_FSIZE, &was);
    lim = was;
    lim.rlim_cur = 64 * 1024;
    void (*old)(int) = signal(SIGXFSZ, SIG_IGN);
    setrlimit(RLIMIT_FSIZE, &lim);
    ht_status st = ht_print_atlas(demo->rend, demo->fx->s, demo->feat, codes, 1,
                                  &o, full, NULL, NULL, NULL, &err);
    setrlimit(RLIMIT_FSIZE, &was);
    signal(SIGXFSZ, old);
    assert_int_equal(st, HT_EIO);
    assert_int_not_equal(stat(full, &sb), 0);
    char tmp[700];
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", full, (long)getpid());
    assert_int_not_equal(stat(tmp, &sb), 0);
    free(full);
    unlink(pdf);
    free(pdf);
}

/* PNG pages: a folder of page-NNNN.png, cover first. */
static void test_print_png_pages(void **state) {
    (void)state;
    const char *codes[] = {"110101001001001", "110101001001002"};
    ht_print_opts o = opts();
    o.format = HT_PRINT_PNG;
    char *out = ts_path(dir, "pages");
    ht_error err = {0};
    assert_int_equal(ht_print_atlas(demo->rend, demo->fx->s, demo->feat, codes,
                                    2, &o, out, NULL, NULL, NULL, &err),
                     HT_OK);
    for (int k = 1; k <= 4; k++) {
        char p[700];
        snprintf(p, sizeof p, "%s/page-%04d.png", out, k);
        cairo_surface_t *s = cairo_image_surface_create_from_png(p);
        assert_int_equal(cairo_surface_status(s), CAIRO_STATUS_SUCCESS);
        /* A4 at 150 dpi. */
        assert_int_equal(cairo_image_surface_get_width(s), 1240);
        assert_int_equal(cairo_image_surface_get_height(s), 1754);
        cairo_surface_destroy(s);
    }
    char p[700];
    snprintf(p, sizeof p, "%s/page-0005.png", out);
    assert_int_not_equal(access(p, F_OK), 0);
    free(out);
}

static int cmp_line(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sort the lines of @text in place. */
static void sort_lines(char *text) {
    size_t n = 0, len = strlen(text);
    char **lines = malloc((len + 1) * sizeof *lines);
    char *copy = strdup(text);
    assert_non_null(lines);
    assert_non_null(copy);
    for (char *p = strtok(copy, "\n"); p; p = strtok(NULL, "\n")) {
        lines[n++] = p;
    }
    qsort(lines, n, sizeof *lines, cmp_line);
    size_t o = 0;
    for (size_t k = 0; k < n; k++) {
        o += (size_t)snprintf(text + o, len + 1 - o, "%s\n", lines[k]);
    }
    text[o < len ? o : len] = '\0';
    free(copy);
    free(lines);
}

/* Two threads draw the same atlas as one: the same pages, the same
 * boxes, the same text. */
static void test_print_threads(void **state) {
    (void)state;
    const char **codes;
    size_t n;
    assert_int_equal(ht_print_select(demo->feat, "110101003002", HT_LEVEL_GRID,
                                     &codes, &n, NULL),
                     HT_OK);
    char *text[2];
    ht_print_page *pages[2];
    for (int k = 0; k < 2; k++) {
        ht_print_opts o = opts();
        o.threads = k + 1;
        char *pdf = ts_path(dir, k ? "two.pdf" : "one.pdf");
        ht_error err = {0};
        if (ht_print_atlas(demo->rend, demo->fx->s, demo->feat, codes, n, &o,
                           pdf, NULL, NULL, &pages[k], &err) != HT_OK) {
            fail_msg("%s", err.msg);
        }
        assert_int_equal(pages_of(pdf), (int)n + 2);
        text[k] = pdf_text(pdf);
        assert_non_null(text[k]);
        unlink(pdf);
        free(pdf);
    }
    /* The same lines (pdftotext may take a page's text objects in
     * another order). */
    for (int k = 0; k < 2; k++) {
        sort_lines(text[k]);
    }
    assert_string_equal(text[0], text[1]);
    for (size_t i = 0; i < n; i++) {
        assert_memory_equal(&pages[0][i], &pages[1][i], sizeof pages[0][i]);
    }
    for (int k = 0; k < 2; k++) {
        free(text[k]);
        free(pages[k]);
    }
    free(codes);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_print_round_scale),
        cmocka_unit_test(test_print_parse),
        cmocka_unit_test(test_print_select),
        cmocka_unit_test(test_print_atlas_layout),
        cmocka_unit_test(test_print_scale_web_mercator),
        cmocka_unit_test(test_print_scale_gauss_kruger),
        cmocka_unit_test(test_print_bad_input),
        cmocka_unit_test(test_print_png_pages),
        cmocka_unit_test(test_print_threads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
