/* SPDX-License-Identifier: Apache-2.0 */
/* Golden-image tests: tiles and maps of the demo data for every shipped
 * style, compared pixel by pixel with tests/golden/<case>.png.
 *
 * Tolerance: a pixel differs when one of its channels differs by more than
 * 8 (of 255); at most 0.1 % of a case's pixels may differ. A failure writes
 * <case>-actual.png and <case>-diff.png (differing pixels in red) to the
 * build directory's golden-out/. HT_UPDATE_GOLDEN=1 rewrites the goldens. */
#include <math.h>
#include <sys/stat.h>

#include "hutong/crs.h"
#include "hutong/demo.h"
#include "hutong/png.h"
#include "hutong/print.h"
#include "hutong/render.h"
#include "hutong/tile.h"

#include "ht_test.h"

#define CHANNEL_TOLERANCE 8
#define MAX_DIFFERING 0.001

typedef struct gcase {
    const char *name;
    const char *style;
    int zoom;      /* > 0: the tile of this zoom over a point of the district */
    double fx, fy; /* where in the district box, 0..1 from west / south */
    double scale;
    const char *grid; /* else: a map of this grid */
    const char *crs;
    int w, h;
    /* A printed page (A4, 150 dpi, heat, the 30 days to the demo's end):
     * page @page of the atlas of this grid, or with "in:" of every grid
     * in that one (page 1: the cover). */
    const char *print;
    int page;
} gcase;

static const gcase cases[] = {
    {"default_z13", "default", 13, 0.5, 0.5, 1, NULL, NULL, 0, 0, NULL, 0},
    {"default_z15", "default", 15, 0.45, 0.62, 1, NULL, NULL, 0, 0, NULL, 0},
    {"default_z17", "default", 17, 0.5, 0.55, 1, NULL, NULL, 0, 0, NULL, 0},
    {"wall_z14", "wall", 14, 0.5, 0.7, 1, NULL, NULL, 0, 0, NULL, 0},
    {"wall_z16_2x", "wall", 16, 0.55, 0.45, 2, NULL, NULL, 0, 0, NULL, 0},
    {"print_z16", "print", 16, 0.5, 0.6, 1, NULL, NULL, 0, 0, NULL, 0},
    {"grids_z15", "grids", 15, 0.5, 0.3, 1, NULL, NULL, 0, 0, NULL, 0},
    {"print_community_4548", "print", 0, 0, 0, 1, "110101001001", "EPSG:4548",
     640, 480, NULL, 0},
    {"default_district", "default", 0, 0, 0, 1, "110101", NULL, 300, 560, NULL,
     0},
    {"heat_z14", "heat", 14, 0.45, 0.62, 1, NULL, NULL, 0, 0, NULL, 0},
    {"streetheat_z15", "streetheat", 15, 0.45, 0.62, 1, NULL, NULL, 0, 0, NULL,
     0},
    {"choropleth_district", "choropleth", 0, 0, 0, 1, "110101", NULL, 300, 560,
     NULL, 0},
    {"hotspots_district", "hotspots", 0, 0, 0, 1, "110101", NULL, 300, 560,
     NULL, 0},
    {"page_grid", "print", 0, 0, 0, 1, NULL, NULL, 0, 0, "110101001001001", 1},
    {"page_street_office", "print", 0, 0, 0, 1, NULL, NULL, 0, 0, "110101006",
     1},
    {"page_cover", "print", 0, 0, 0, 1, NULL, NULL, 0, 0, "in:110101001001", 1},
};

static ts_demo *demo;
static ht_features *feat;
static ht_renderer *rend;
static char *outdir;

static int setup(void **state) {
    (void)state;
    demo = ts_demo_new(3000);
    feat = demo->feat;
    rend = demo->rend;
    outdir =
        ts_path(getenv("HUTONG_BUILD_DIR") ? getenv("HUTONG_BUILD_DIR") : ".",
                "golden-out");
    mkdir(outdir, 0755);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    ts_demo_free(demo);
    free(outdir);
    return 0;
}

static void save(cairo_surface_t *s, const char *path) {
    ht_buf *b = ht_buf_new();
    assert_int_equal(ht_png_encode(s, b, NULL), HT_OK);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b->data, 1, b->len, f), b->len);
    fclose(f);
    ht_buf_free(b);
}

/* A printed page of @c, read back from its PNG. */
static cairo_surface_t *print_case(const gcase *c, const ht_style *style) {
    ht_style *heat;
    assert_int_equal(ht_style_load("heat", &heat, NULL), HT_OK);
    const int64_t end = 1795824000; /* the demo's end */
    ht_print_opts o = ht_print_opts_default(end);
    o.style = style;
    o.layer = heat;
    o.dpi = 150;
    o.format = HT_PRINT_PNG;
    o.filter.from = end - 30 * 86400;
    o.filter.to = end;
    const char *one[1] = {c->print}, **codes = one;
    size_t n = 1;
    if (strncmp(c->print, "in:", 3) == 0) {
        assert_int_equal(ht_print_select(feat, c->print + 3, HT_LEVEL_GRID,
                                         &codes, &n, NULL),
                         HT_OK);
    }
    char *dir = ts_tmpdir(), *pages = ts_path(dir, "pages"), path[600];
    ht_error err = {0};
    if (ht_print_atlas(rend, demo->fx->s, feat, codes, n, &o, pages, NULL, NULL,
                       NULL, &err) != HT_OK) {
        fail_msg("%s: %s", c->name, err.msg);
    }
    snprintf(path, sizeof path, "%s/page-%04d.png", pages, c->page);
    cairo_surface_t *png = cairo_image_surface_create_from_png(path);
    assert_int_equal(cairo_surface_status(png), CAIRO_STATUS_SUCCESS);
    /* As ARGB32, like the other cases. */
    int w = cairo_image_surface_get_width(png);
    int h = cairo_image_surface_get_height(png);
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, w, h);
    cairo_t *cr = cairo_create(s);
    cairo_set_source_surface(cr, png, 0, 0);
    cairo_paint(cr);
    cairo_destroy(cr);
    cairo_surface_destroy(png);
    if (codes != one) {
        free(codes);
    }
    ts_rmdir(dir);
    free(dir);
    free(pages);
    ht_style_unref(heat);
    return s;
}

static cairo_surface_t *render_case(const gcase *c) {
    ht_style *style;
    ht_error err = {0};
    if (ht_style_load(c->style, &style, &err) != HT_OK) {
        fail_msg("%s", err.msg);
    }
    if (c->print) {
        cairo_surface_t *page = print_case(c, style);
        ht_style_unref(style);
        return page;
    }
    ht_render_req req = {.style = style, .scale = c->scale, .crs = c->crs};
    if (c->zoom > 0) {
        const ht_fgrid *d = ht_features_find_grid(feat, "110101");
        double x = d->bbox.minx + (d->bbox.maxx - d->bbox.minx) * c->fx;
        double y = d->bbox.miny + (d->bbox.maxy - d->bbox.miny) * c->fy;
        req.bbox = ht_tile_bbox(ht_tile_at(x, y, c->zoom));
        req.width = req.height = (int)(256 * c->scale);
    } else {
        /* A map of a grid: its box in the CRS, 5 % margin, image shape. */
        const ht_fgrid *g = ht_features_find_grid(feat, c->grid);
        assert_non_null(g);
        ht_bbox b = g->bbox;
        if (c->crs) {
            ht_transform *t;
            assert_int_equal(
                ht_crs_transform_new("EPSG:4326", c->crs, &t, NULL), HT_OK);
            ht_bbox m = b;
            b = ht_bbox_empty();
            for (int k = 0; k < 4; k++) {
                double lon, lat, px, py;
                ht_tile_merc_to_lonlat(k & 1 ? m.maxx : m.minx,
                                       k & 2 ? m.maxy : m.miny, &lon, &lat);
                ht_crs_transform_point(t, lon, lat, &px, &py, NULL);
                ht_bbox_add(&b, px, py);
            }
            ht_crs_transform_free(t);
        }
        double cx = (b.minx + b.maxx) / 2, cy = (b.miny + b.maxy) / 2;
        double bw = (b.maxx - b.minx) * 1.1, bh = (b.maxy - b.miny) * 1.1;
        if (bw / bh < (double)c->w / c->h) {
            bw = bh * c->w / c->h;
        } else {
            bh = bw * c->h / c->w;
        }
        req.bbox =
            (ht_bbox){cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2};
        req.width = c->w;
        req.height = c->h;
    }
    cairo_surface_t *s =
        cairo_image_surface_create(CAIRO_FORMAT_ARGB32, req.width, req.height);
    cairo_t *cr = cairo_create(s);
    if (ht_render(rend, &req, cr, &err) != HT_OK) {
        fail_msg("%s: %s", c->name, err.msg);
    }
    cairo_destroy(cr);
    ht_style_unref(style);
    return s;
}

static void test_golden_images(void **state) {
    (void)state;
    const char *golden_dir = getenv("HUTONG_GOLDEN_DIR");
    assert_non_null(golden_dir);
    bool update = getenv("HT_UPDATE_GOLDEN") &&
                  strcmp(getenv("HT_UPDATE_GOLDEN"), "1") == 0;
    int failures = 0;
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        const gcase *c = &cases[k];
        cairo_surface_t *actual = render_case(c);
        char path[2048];
        snprintf(path, sizeof path, "%s/%s.png", golden_dir, c->name);
        if (update) {
            save(actual, path);
            printf("updated %s\n", path);
            cairo_surface_destroy(actual);
            continue;
        }
        cairo_surface_t *want = cairo_image_surface_create_from_png(path);
        if (cairo_surface_status(want) != CAIRO_STATUS_SUCCESS) {
            printf("%s: no golden (run with HT_UPDATE_GOLDEN=1)\n", path);
            failures++;
            cairo_surface_destroy(want);
            cairo_surface_destroy(actual);
            continue;
        }
        int w = cairo_image_surface_get_width(actual);
        int h = cairo_image_surface_get_height(actual);
        bool same_size = w == cairo_image_surface_get_width(want) &&
                         h == cairo_image_surface_get_height(want);
        cairo_surface_t *diff =
            cairo_image_surface_create(CAIRO_FORMAT_ARGB32, w, h);
        size_t differing = same_size ? 0 : (size_t)w * h;
        int worst = 0;
        if (same_size) {
            cairo_surface_flush(actual);
            cairo_surface_flush(want);
            const unsigned char *a = cairo_image_surface_get_data(actual);
            const unsigned char *g = cairo_image_surface_get_data(want);
            unsigned char *dd = cairo_image_surface_get_data(diff);
            int sa = cairo_image_surface_get_stride(actual);
            int sg = cairo_image_surface_get_stride(want);
            int sd = cairo_image_surface_get_stride(diff);
            for (int y = 0; y < h; y++) {
                const uint32_t *ra = (const uint32_t *)(a + (size_t)y * sa);
                const uint32_t *rg = (const uint32_t *)(g + (size_t)y * sg);
                uint32_t *rd = (uint32_t *)(dd + (size_t)y * sd);
                for (int x = 0; x < w; x++) {
                    int delta = 0;
                    for (int sh = 0; sh < 32; sh += 8) {
                        int dv = abs((int)(ra[x] >> sh & 255) -
                                     (int)(rg[x] >> sh & 255));
                        delta = dv > delta ? dv : delta;
                    }
                    worst = delta > worst ? delta : worst;
                    bool bad = delta > CHANNEL_TOLERANCE;
                    differing += bad;
                    rd[x] = bad ? 0xffff0000u
                                : 0x40000000u | (ra[x] & 0x00ffffffu) >> 2;
                }
            }
            cairo_surface_mark_dirty(diff);
        }
        double share = (double)differing / ((double)w * h);
        if (share > MAX_DIFFERING) {
            snprintf(path, sizeof path, "%s/%s-actual.png", outdir, c->name);
            save(actual, path);
            snprintf(path, sizeof path, "%s/%s-diff.png", outdir, c->name);
            save(diff, path);
            printf(
                "%s: %.3f %% of pixels differ by more than %d (worst %d)%s;"
                " see %s\n",
                c->name, share * 100, CHANNEL_TOLERANCE, worst,
                same_size ? "" : ", sizes differ", outdir);
            failures++;
        }
        cairo_surface_destroy(diff);
        cairo_surface_destroy(want);
        cairo_surface_destroy(actual);
    }
    assert_int_equal(failures, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_images),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
