/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: features and render. */
#include <math.h>
#include <pthread.h>
#include <turbojpeg.h>
#include <webp/decode.h>

#include "hutong/clock.h"
#include "hutong/demo.h"
#include "hutong/hash.h"
#include "hutong/render.h"
#include "hutong/tile.h"

#include "ht_test.h"
#include "render_int.h"

static ts_demo *demo;
static ht_features *feat;
static ht_renderer *rend;

static int setup(void **state) {
    (void)state;
    demo = ts_demo_new(3000);
    feat = demo->feat;
    rend = demo->rend;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    ts_demo_free(demo);
    return 0;
}

static ht_style *style(const char *json) {
    ht_style *s;
    ht_error err = {0};
    if (ht_style_load_json("t.json", json, strlen(json), &s, &err) != HT_OK) {
        fail_msg("%s", err.msg);
    }
    return s;
}

static uint32_t pixel(cairo_surface_t *s, int x, int y) {
    cairo_surface_flush(s);
    const unsigned char *d = cairo_image_surface_get_data(s);
    return ((const uint32_t *)(d + (size_t)y *
                                       cairo_image_surface_get_stride(s)))[x];
}

static void test_render_features_loaded(void **state) {
    (void)state;
    assert_true(ht_features_grid_count(feat) > 2000);
    assert_true(ht_features_street_count(feat) > 2000);
    assert_true(ht_features_chain_count(feat) > 300);
    const ht_fgrid *d = ht_features_find_grid(feat, "110101");
    assert_non_null(d);
    assert_int_equal(d->level, HT_LEVEL_DISTRICT);
    assert_null(ht_features_find_grid(feat, "nope"));
    /* The label point lies inside its polygon. */
    const ht_fgrid *g = ht_features_find_grid(feat, "110101001001001");
    assert_non_null(g);
    assert_true(ht_geom_contains(g->geom, g->label.x, g->label.y));
    /* A query returns each item once, all meeting the box. */
    uint32_t *ids = NULL;
    size_t n, cap = 0;
    assert_int_equal(
        ht_features_query(feat, HT_F_GRIDS, &d->bbox, &ids, &n, &cap, NULL),
        HT_OK);
    assert_int_equal(n, ht_features_grid_count(feat));
    for (size_t i = 1; i < n; i++) {
        assert_true(ids[i] > ids[i - 1]);
    }
    ht_bbox far = {0, 0, 10, 10};
    assert_int_equal(
        ht_features_query(feat, HT_F_STREETS, &far, &ids, &n, &cap, NULL),
        HT_OK);
    assert_int_equal(n, 0);
    free(ids);
}

static void test_render_zoom_of_requests(void **state) {
    (void)state;
    ht_style *s =
        style("{\"layers\":[{\"id\":\"b\",\"type\":\"background\"}]}");
    ht_render_req req = {.style = s,
                         .bbox = ht_tile_bbox((ht_tile_id){15, 26978, 12413}),
                         .width = 256,
                         .height = 256,
                         .scale = 1};
    double z;
    assert_int_equal(ht_render_zoom(rend, &req, &z, NULL), HT_OK);
    assert_true(z == 15);
    req.width = req.height = 512;
    req.scale = 2;
    assert_int_equal(ht_render_zoom(rend, &req, &z, NULL), HT_OK);
    assert_true(z == 15); /* @2x draws the same zoom, sharper */
    /* The same ground resolution in Gauss-Krueger gives the same zoom. */
    ht_bbox m = req.bbox;
    double lon0, lat0, lon1, lat1;
    ht_tile_merc_to_lonlat(m.minx, m.miny, &lon0, &lat0);
    ht_tile_merc_to_lonlat(m.maxx, m.maxy, &lon1, &lat1);
    double gw = (lon1 - lon0) * 111320 * cos((lat0 + lat1) / 2 * HT_PI / 180);
    ht_render_req gk = {.style = s,
                        .bbox = {440000, 4417000, 440000 + gw, 4417000 + gw},
                        .crs = "EPSG:4548",
                        .width = 256,
                        .height = 256,
                        .scale = 1};
    assert_int_equal(ht_render_zoom(rend, &gk, &z, NULL), HT_OK);
    assert_true(fabs(z - 15) < 0.02);
    ht_style_unref(s);
}

static void test_render_refuses_bad_requests(void **state) {
    (void)state;
    ht_style *s =
        style("{\"layers\":[{\"id\":\"b\",\"type\":\"background\"}]}");
    cairo_surface_t *surf =
        cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 16, 16);
    cairo_t *cr = cairo_create(surf);
    ht_render_req ok = {.style = s,
                        .bbox = ht_tile_bbox((ht_tile_id){15, 26978, 12413}),
                        .width = 16,
                        .height = 16,
                        .scale = 1};
    static const struct {
        int w, h;
        double scale;
        ht_bbox bbox;
        const char *crs, *want;
    } bad[] = {
        {0, 16, 1, {0, 0, 1, 1}, NULL, "image size 0x16"},
        {16385, 16, 1, {0, 0, 1, 1}, NULL, "outside 1..16384"},
        {16, 16, 1, {1, 0, 0, 1}, NULL, "empty or invalid bbox"},
        {16, 16, 1, {0, 0, NAN, 1}, NULL, "empty or invalid bbox"},
        {16, 16, 9, {0, 0, 1, 1}, NULL, "scale 9"},
        {16, 16, 1, {0, 0, 1, 1}, "EPSG:999999", "unknown CRS"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ht_render_req r = ok;
        r.width = bad[i].w;
        r.height = bad[i].h;
        r.scale = bad[i].scale;
        r.bbox = bad[i].bbox;
        r.crs = bad[i].crs;
        ht_error err = {0};
        assert_int_equal(ht_render(rend, &r, cr, &err), HT_EINVAL);
        assert_contains(err.msg, bad[i].want);
    }
    assert_int_equal(ht_render(rend, &ok, cr, NULL), HT_OK);
    cairo_destroy(cr);
    cairo_surface_destroy(surf);
    ht_style_unref(s);
}

static void test_render_draws_what_the_style_says(void **state) {
    (void)state;
    /* Red background, blue district fill from zoom 10: a tile inside the
     * district is blue, one outside red; below zoom 10 all red. */
    ht_style *s = style(
        "{\"layers\":[{\"id\":\"b\",\"type\":\"background\",\"paint\":{"
        "\"background-color\":\"#ff0000\"}},{\"id\":\"d\",\"type\":\"fill\","
        "\"source\":\"grids\",\"minzoom\":10,\"filter\":[\"==\",[\"get\","
        "\"level\"],\"district\"],\"paint\":{\"fill-color\":\"#0000ff\"}}]}");
    const ht_fgrid *d = ht_features_find_grid(feat, "110101");
    double lon, lat;
    ht_tile_merc_to_lonlat(d->label.x, d->label.y, &lon, &lat);
    int z = 14;
    double size = 2 * HT_MERC_HALF / (1 << z);
    ht_tile_id at = ht_tile_at(d->label.x, d->label.y, z);
    uint32_t tx = at.x, ty = at.y;
    cairo_surface_t *surf =
        cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 256, 256);
    cairo_t *cr = cairo_create(surf);
    ht_render_req req = {.style = s,
                         .bbox = ht_tile_bbox((ht_tile_id){z, tx, ty}),
                         .width = 256,
                         .height = 256,
                         .scale = 1};
    assert_int_equal(ht_render(rend, &req, cr, NULL), HT_OK);
    int px = (int)((d->label.x - req.bbox.minx) / size * 256);
    int py = (int)((req.bbox.maxy - d->label.y) / size * 256);
    assert_int_equal(pixel(surf, px, py), 0xff0000ff);
    req.bbox = ht_tile_bbox((ht_tile_id){z, tx + 40, ty});
    assert_int_equal(ht_render(rend, &req, cr, NULL), HT_OK);
    assert_int_equal(pixel(surf, 128, 128), 0xffff0000);
    req.bbox = ht_tile_bbox((ht_tile_id){9, tx >> 5, ty >> 5});
    assert_int_equal(ht_render(rend, &req, cr, NULL), HT_OK);
    assert_int_equal(pixel(surf, 128, 128), 0xffff0000);
    cairo_destroy(cr);
    cairo_surface_destroy(surf);
    ht_style_unref(s);
}

static void test_render_shipped_styles_everywhere(void **state) {
    (void)state;
    /* Every shipped style renders tiles at zoom 11..18 and a map in
     * EPSG:4548 without error, and draws something. */
    const char *names[] = {"default", "wall",       "print",      "grids",
                           "heat",    "streetheat", "choropleth", "hotspots"};
    const ht_fgrid *d = ht_features_find_grid(feat, "110101");
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        ht_style *s;
        assert_int_equal(ht_style_load(names[k], &s, NULL), HT_OK);
        for (int z = 11; z <= 18; z++) {
            cairo_surface_t *surf =
                cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 256, 256);
            cairo_t *cr = cairo_create(surf);
            ht_render_req req = {
                .style = s,
                .bbox = ht_tile_bbox(ht_tile_at(d->label.x, d->label.y, z)),
                .width = 256,
                .height = 256,
                .scale = 1};
            ht_error err = {0};
            if (ht_render(rend, &req, cr, &err) != HT_OK) {
                fail_msg("%s z%d: %s", names[k], z, err.msg);
            }
            cairo_destroy(cr);
            cairo_surface_flush(surf);
            const uint32_t *p =
                (const uint32_t *)cairo_image_surface_get_data(surf);
            size_t inked = 0;
            for (int i = 0; i < 256 * 256; i++) {
                inked += p[i] != 0;
            }
            /* Base maps always draw; overlays may be empty here. */
            assert_true(inked > 0 || k >= 4);
            cairo_surface_destroy(surf);
        }
        cairo_surface_t *surf =
            cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 300, 600);
        cairo_t *cr = cairo_create(surf);
        ht_render_req gk = {.style = s,
                            .bbox = {436500, 4412000, 444000, 4427000},
                            .crs = "EPSG:4548",
                            .width = 300,
                            .height = 600,
                            .scale = 1};
        ht_error err = {0};
        if (ht_render(rend, &gk, cr, &err) != HT_OK) {
            fail_msg("%s EPSG:4548: %s", names[k], err.msg);
        }
        cairo_destroy(cr);
        cairo_surface_destroy(surf);
        ht_style_unref(s);
    }
}

/* Red minus blue of a pixel (premultiplied ARGB32). */
static int warmth(cairo_surface_t *s, int x, int y) {
    uint32_t p = pixel(s, x, y);
    return (int)(p >> 16 & 0xff) - (int)(p & 0xff);
}

static void test_render_legends_in_real_units(void **state) {
    (void)state;
    /* One legend per heat layer, sized from the style: a ramp is 78 px,
     * classes 30 + 20 per class + 8. */
    const struct {
        const char *style;
        int h;
    } cases[] = {{"heat", 78},
                 {"streetheat", 78},
                 {"choropleth", 30 + 5 * 20 + 8},
                 {"hotspots", 30 + 7 * 20 + 8},
                 /* shaded communities, then the dots' ramp and sizes */
                 {"overdue", 30 + 5 * 20 + 8 + 78 + 28}};
    ht_filter f = ht_filter_all();
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        ht_style *s;
        assert_int_equal(ht_style_load(cases[k].style, &s, NULL), HT_OK);
        int w, h;
        ht_render_legend_size(s, 2, &w, &h);
        assert_int_equal(w, 720);
        assert_int_equal(h, cases[k].h * 2);
        ht_render_legend_size(s, 1, &w, &h);
        assert_int_equal(h, cases[k].h);
        cairo_surface_t *surf =
            cairo_image_surface_create(CAIRO_FORMAT_ARGB32, w, h);
        cairo_t *cr = cairo_create(surf);
        ht_error err = {0};
        if (ht_render_legend(rend, s, &f, 1, cr, &err) != HT_OK) {
            fail_msg("%s: %s", cases[k].style, err.msg);
        }
        cairo_destroy(cr);
        if (k < 2) {
            /* Ramps run from cold (left) to hot (right). */
            assert_true(pixel(surf, 20, 34) != pixel(surf, w - 20, 34));
        } else if (k == 4) {
            /* The dots' ramp: from orange (a minute late) to purple (a
             * week late), the colours circle-color gives those hours. */
            int y = 138 + 34;
            uint32_t early = pixel(surf, 16, y), late = pixel(surf, w - 16, y);
            assert_true((early >> 16 & 0xff) > 0xe0 && (early & 0xff) < 0x80);
            assert_true((late & 0xff) > (late >> 8 & 0xff) + 0x30);
            /* three circles of rising size in the last row: runs of the
             * dots' reddish fill across its middle (text is grey) */
            int runs[4] = {0}, nrun = 0;
            bool in = false;
            for (int x = 0; x < w; x++) {
                uint32_t p = pixel(surf, x, h - 18);
                bool red = (int)(p >> 16 & 0xff) - (int)(p >> 8 & 0xff) > 0x40;
                if (red && !in && nrun < 4) {
                    nrun++;
                }
                if (red) {
                    runs[nrun - 1]++;
                }
                in = red;
            }
            assert_int_equal(nrun, 3);
            assert_true(runs[0] < runs[1] && runs[1] < runs[2]);
        } else {
            /* Highest class on top: warmest swatch first, coolest last
             * (the hotspot legend ends in the blue cold spots). */
            int top = warmth(surf, 28, 38);
            int bottom = warmth(surf, 28, h - 20);
            assert_true(top > bottom);
            if (k == 3) {
                assert_true(top > 0 && bottom < 0);
            }
        }
        cairo_surface_destroy(surf);
        ht_style_unref(s);
    }
    /* A style without heat layers has no legend: a clear error. */
    ht_style *d;
    assert_int_equal(ht_style_load("default", &d, NULL), HT_OK);
    cairo_surface_t *surf =
        cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 360, 78);
    cairo_t *cr = cairo_create(surf);
    ht_error err = {0};
    assert_int_equal(ht_render_legend(rend, d, &f, 1, cr, &err), HT_EINVAL);
    assert_contains(err.msg, "default");
    cairo_destroy(cr);
    cairo_surface_destroy(surf);
    ht_style_unref(d);
}

/* Street-heat tiles of six filters drawn by four threads at once (each
 * with its own renderer and store connection, the features shared) equal
 * those drawn by one: nothing is shared between the renderers' sorts. */
enum { SH_FILTERS = 6, SH_TILES = 6, SH_THREADS = 4 };

typedef struct sh_job {
    const ht_style *style;
    uint64_t hash[SH_FILTERS][SH_TILES];
    bool failed;
} sh_job;

static const char *const sh_filters[SH_FILTERS][2] = {
    {"category", "01"}, {"category", "05"},    {"severity", "2"},
    {"status", "open"}, {"source", "hotline"}, {"from", "2026-06-01"}};

static uint64_t surface_hash(cairo_surface_t *s) {
    cairo_surface_flush(s);
    const unsigned char *d = cairo_image_surface_get_data(s);
    size_t n = (size_t)cairo_image_surface_get_stride(s) *
               (size_t)cairo_image_surface_get_height(s);
    return ht_hash64(HT_HASH64_INIT, d, n);
}

static void *sh_draw(void *arg) {
    sh_job *job = arg;
    ht_store *s = NULL;
    ht_renderer *r = NULL;
    ht_error err = {0};
    if (ht_store_open(demo->fx->db, HT_STORE_READONLY, &s, &err) != HT_OK ||
        ht_renderer_new(s, feat, &r, &err) != HT_OK) {
        job->failed = true;
    }
    const ht_fgrid *d = ht_features_find_grid(feat, "110101001");
    for (int k = 0; !job->failed && k < SH_FILTERS; k++) {
        ht_filter f = ht_filter_all();
        ht_filter_set(&f, sh_filters[k][0], sh_filters[k][1], 0, NULL);
        for (int t = 0; t < SH_TILES; t++) {
            ht_tile_id id = ht_tile_at(d->label.x, d->label.y, 14 + t % 3);
            id.x += (uint32_t)(t / 3);
            cairo_surface_t *surf =
                cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 256, 256);
            cairo_t *cr = cairo_create(surf);
            ht_render_req req = {.style = job->style,
                                 .bbox = ht_tile_bbox(id),
                                 .width = 256,
                                 .height = 256,
                                 .scale = 1,
                                 .filter = &f};
            job->failed |= ht_render(r, &req, cr, &err) != HT_OK;
            cairo_destroy(cr);
            job->hash[k][t] = surface_hash(surf);
            cairo_surface_destroy(surf);
        }
    }
    ht_renderer_free(r);
    ht_store_close(s);
    return NULL;
}

/* @s over the demo's district at "now" @now, transparent, @w by @h, into
 * @px (premultiplied ARGB, @w * @h). */
static void district_px(const ht_style *s, int64_t now, int w, int h,
                        uint32_t *px) {
    ht_clock_set(now);
    const ht_fgrid *d = ht_features_find_grid(feat, "110101");
    ht_render_req req = {.style = s,
                         .bbox = d->bbox,
                         .width = w,
                         .height = h,
                         .scale = 1,
                         .transparent = true};
    cairo_surface_t *img =
        cairo_image_surface_create(CAIRO_FORMAT_ARGB32, w, h);
    cairo_t *cr = cairo_create(img);
    ht_error err = {0};
    if (ht_render(rend, &req, cr, &err) != HT_OK) {
        fail_msg("%s", err.msg);
    }
    cairo_destroy(cr);
    cairo_surface_flush(img);
    assert_int_equal(cairo_image_surface_get_stride(img), w * 4);
    memcpy(px, cairo_image_surface_get_data(img), (size_t)w * h * 4);
    cairo_surface_destroy(img);
    ht_clock_set(0);
}

/* The painted pixels of @s over the demo's district at the clock @now. */
static long painted_at(const ht_style *s, int64_t now) {
    static uint32_t px[200 * 300];
    district_px(s, now, 200, 300, px);
    long n = 0;
    for (size_t k = 0; k < 200 * 300; k++) {
        n += (px[k] >> 24) != 0;
    }
    return n;
}

/* A style's own filter: "lateness" draws the incidents late at the clock
 * — none before the demo's first report, some at its end (open incidents
 * past their deadlines); a bad "hutong:filter" is refused at load. */
static void test_render_style_filter(void **state) {
    (void)state;
    ht_style *late;
    ht_error err = {0};
    assert_int_equal(ht_style_load("lateness", &late, &err), HT_OK);
    assert_true(ht_style_has_filter(late));
    ht_filter f = ht_filter_all();
    assert_int_equal(ht_style_apply_filter(late, &f, 1795824037, &err), HT_OK);
    assert_int_equal(f.overdue_at, 1795824000);
    assert_int_equal(painted_at(late, 1700000000), 0);
    assert_true(painted_at(late, 1795824000) > 100);
    ht_style_unref(late);
    /* "overdue": the late incidents' dots and their communities shaded
     * over the outlines, which alone are drawn when nothing is late. */
    ht_style *od;
    assert_int_equal(ht_style_load("overdue", &od, &err), HT_OK);
    long early = painted_at(od, 1700000000), end = painted_at(od, 1795824000);
    assert_true(early > 0);
    assert_true(end > early + 50);
    ht_style_unref(od);
    const char *bad[] = {
        "{\"version\":8,\"metadata\":{\"hutong:filter\":{\"overdue\":\"x\"}},"
        "\"layers\":[{\"id\":\"b\",\"type\":\"background\"}]}",
        "{\"version\":8,\"metadata\":{\"hutong:filter\":{\"window\":"
        "\"24h\"}},\"layers\":[{\"id\":\"b\",\"type\":\"background\"}]}",
        "{\"version\":8,\"metadata\":{\"hutong:filter\":[1]},"
        "\"layers\":[{\"id\":\"b\",\"type\":\"background\"}]}"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        ht_style *s = NULL;
        assert_int_equal(
            ht_style_load_json("bad.json", bad[k], strlen(bad[k]), &s, &err),
            HT_EINVAL);
        assert_contains(err.msg, "hutong:filter");
        assert_null(s);
    }
}

/* Dots drawn from masks cut at quarter pixels look as the paths do: the
 * pixels at their edges a little apart, none by much. */
static void test_render_dots_from_masks(void **state) {
    (void)state;
    ht_style *s = style(
        "{\"layers\":[{\"id\":\"bg\",\"type\":\"background\","
        "\"paint\":{\"background-color\":\"#fafafa\"}},"
        "{\"id\":\"dots\",\"type\":\"circle\",\"source\":"
        "\"incidents\",\"paint\":{\"circle-color\":[\"match\","
        "[\"get\",\"severity\"],3,\"#a63603\",2,\"#e6550d\","
        "\"#fd8d3c\"],\"circle-radius\":[\"match\",[\"get\","
        "\"severity\"],3,5.5,2,4,3],\"circle-stroke-width\":0.8,"
        "\"circle-stroke-color\":\"#ffffff\",\"circle-opacity\":0.9}}]}");
    static uint32_t paths[256 * 256], masked[256 * 256];
    ht__render_set_dot_masks_from(SIZE_MAX);
    ts_demo_tile(demo, NULL, s, NULL, paths);
    ht__render_set_dot_masks_from(1);
    ts_demo_tile(demo, NULL, s, NULL, masked);
    ht__render_set_dot_masks_from(1000);
    size_t over8 = 0, dots = 0;
    int worst = 0;
    for (size_t k = 0; k < 256 * 256; k++) {
        int d = 0;
        for (int c = 0; c < 32; c += 8) {
            int a = (int)(paths[k] >> c & 255), b = (int)(masked[k] >> c & 255);
            d = abs(a - b) > d ? abs(a - b) : d;
        }
        over8 += d > 8;
        worst = d > worst ? d : worst;
        dots += paths[k] != 0xfffafafa;
    }
    /* A dot moves by an eighth of a pixel at most: its thin ring's edge
     * pixels change (about a fifth of the dots' pixels, by 47 of 255 at
     * most, on this demo), nothing else. */
    assert_true(dots > 2000);
    assert_true(over8 * 4 <= dots);
    assert_true(worst <= 64);
    ht_style_unref(s);
}

/* The masks composited by hutong on an image give Cairo's pixels exactly:
 * over an opaque background, and over a transparent one (the overdue
 * overlay: its communities' translucent shades, then the dots). */
static void test_render_dots_direct_as_cairo(void **state) {
    (void)state;
    const char *dots =
        "{\"id\":\"dots\",\"type\":\"circle\",\"source\":"
        "\"incidents\",\"paint\":{\"circle-color\":[\"interpolate\","
        "[\"linear\"],[\"get\",\"id\"],0,\"#fd8d3c\",3000,"
        "\"#54278f\"],\"circle-radius\":[\"match\",[\"get\","
        "\"severity\"],3,5.5,2,4,3],\"circle-stroke-width\":0.8,"
        "\"circle-stroke-color\":\"#ffffff\",\"circle-opacity\":"
        "[\"match\",[\"get\",\"severity\"],3,1,0.7]}}";
    char json[2048];
    snprintf(json, sizeof json,
             "{\"layers\":[{\"id\":\"bg\",\"type\":\"background\","
             "\"paint\":{\"background-color\":\"#fafafa\"}},%s]}",
             dots);
    ht_style *opaque = style(json);
    snprintf(json, sizeof json, "{\"layers\":[%s]}", dots);
    ht_style *clear = style(json);
    ht_style *od;
    assert_int_equal(ht_style_load("overdue", &od, NULL), HT_OK);
    static uint32_t cairo_px[256 * 256], ours[256 * 256];
    ht__render_set_dot_masks_from(1);
    /* a tile over a background; the whole district's dots (overlapping)
     * over nothing; the overdue overlay when some are late */
    ht_style *styles[] = {opaque, clear, od};
    for (int k = 0; k < 3; k++) {
        size_t before = ht__render_dots_direct_pictures();
        for (int direct = 0; direct < 2; direct++) {
            ht__render_set_dots_direct(direct);
            uint32_t *px = direct ? ours : cairo_px;
            if (k == 0) {
                ts_demo_tile(demo, NULL, styles[k], NULL, px);
            } else {
                district_px(styles[k], 1900000000, 256, 256, px);
            }
            assert_int_equal(ht__render_dots_direct_pictures(),
                             before + (size_t)direct);
        }
        size_t differ = 0, painted = 0;
        for (size_t p = 0; p < 256 * 256; p++) {
            differ += cairo_px[p] != ours[p];
            painted += ours[p] != (k == 0 ? 0xfffafafa : 0);
        }
        assert_true(painted > 2000);
        assert_int_equal(differ, 0);
    }
    ht__render_set_dot_masks_from(1000);
    ht_style_unref(opaque);
    ht_style_unref(clear);
    ht_style_unref(od);
}

/* Dots in order by their keys (severity, id) as by the comparison:
 * large opaque dots of a colour each, overlapping, the same pixels. */
static void test_render_dots_order(void **state) {
    (void)state;
    ht_style *s = style(
        "{\"layers\":[{\"id\":\"dots\",\"type\":\"circle\","
        "\"source\":\"incidents\",\"paint\":{\"circle-color\":"
        "[\"interpolate\",[\"linear\"],[\"get\",\"id\"],0,"
        "\"#ff0000\",1500,\"#00ff00\",3000,\"#0000ff\"],"
        "\"circle-radius\":[\"match\",[\"get\",\"severity\"],3,9,2,"
        "7,5]}}]}");
    static uint32_t keyed[256 * 256], compared[256 * 256];
    ht__render_set_dot_keys(false);
    district_px(s, 1900000000, 256, 256, compared);
    ht__render_set_dot_keys(true);
    district_px(s, 1900000000, 256, 256, keyed);
    size_t differ = 0, painted = 0;
    for (size_t p = 0; p < 256 * 256; p++) {
        differ += keyed[p] != compared[p];
        painted += keyed[p] != 0;
    }
    assert_true(painted > 10000);
    assert_int_equal(differ, 0);
    ht_style_unref(s);
}

static void test_render_threads_share_nothing(void **state) {
    (void)state;
    ht_style *st;
    assert_int_equal(ht_style_load("streetheat", &st, NULL), HT_OK);
    sh_job alone = {.style = st};
    sh_draw(&alone);
    assert_false(alone.failed);
    /* Most of the tiles draw streets (else the comparison proves little). */
    cairo_surface_t *blank =
        cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 256, 256);
    uint64_t empty = surface_hash(blank);
    cairo_surface_destroy(blank);
    int drawn = 0;
    for (int k = 0; k < SH_FILTERS; k++) {
        for (int t = 0; t < SH_TILES; t++) {
            drawn += alone.hash[k][t] != empty;
        }
    }
    assert_true(drawn > SH_FILTERS * SH_TILES / 2);
    sh_job jobs[SH_THREADS];
    pthread_t th[SH_THREADS];
    for (int k = 0; k < SH_THREADS; k++) {
        jobs[k] = (sh_job){.style = st};
        assert_int_equal(pthread_create(&th[k], NULL, sh_draw, &jobs[k]), 0);
    }
    for (int k = 0; k < SH_THREADS; k++) {
        pthread_join(th[k], NULL);
        assert_false(jobs[k].failed);
        assert_memory_equal(jobs[k].hash, alone.hash, sizeof alone.hash);
    }
    ht_style_unref(st);
}

/* The tile at zoom 14 over the district's label, shifted @dx tiles east. */
static ht_render_req district_tile(const ht_style *s, int dx) {
    const ht_fgrid *d = ht_features_find_grid(feat, "110101");
    ht_tile_id at = ht_tile_at(d->label.x, d->label.y, 14);
    return (ht_render_req){
        .style = s,
        .bbox = ht_tile_bbox((ht_tile_id){14, at.x + (uint32_t)dx, at.y}),
        .width = 256,
        .height = 256,
        .scale = 1};
}

/* Pixel (x, y) of a JPEG (its R, G, B), the image 256 x 256. */
static void jpeg_pixel(const ht_buf *b, int x, int y, int rgb[3]) {
    tjhandle tj = tjInitDecompress();
    int w, h, sub, cs;
    assert_int_equal(tjDecompressHeader3(tj, (const unsigned char *)b->data,
                                         b->len, &w, &h, &sub, &cs),
                     0);
    assert_int_equal(w, 256);
    assert_int_equal(h, 256);
    unsigned char *px = malloc(256 * 256 * 3);
    assert_int_equal(tjDecompress2(tj, (const unsigned char *)b->data, b->len,
                                   px, 256, 0, 256, TJPF_RGB, 0),
                     0);
    for (int k = 0; k < 3; k++) {
        rgb[k] = px[(y * 256 + x) * 3 + k];
    }
    free(px);
    tjDestroy(tj);
}

/* Pixel (x, y) of a WebP (R, G, B, A), the image 256 x 256. */
static void webp_pixel(const ht_buf *b, int x, int y, int rgba[4]) {
    int w, h;
    assert_true(WebPGetInfo((const uint8_t *)b->data, b->len, &w, &h));
    assert_int_equal(w, 256);
    assert_int_equal(h, 256);
    uint8_t *px = WebPDecodeRGBA((const uint8_t *)b->data, b->len, &w, &h);
    assert_non_null(px);
    for (int k = 0; k < 4; k++) {
        rgba[k] = px[(y * 256 + x) * 4 + k];
    }
    WebPFree(px);
}

static bool near_rgb(const int *got, int r, int g, int b) {
    return abs(got[0] - r) <= 12 && abs(got[1] - g) <= 12 &&
           abs(got[2] - b) <= 12;
}

/* PNG, JPEG and WebP from one drawing: JPEG flattened on the background
 * (white without one), WebP with its transparency; the names and media
 * types of every format, and the ones refused. */
static void test_render_raster_formats(void **state) {
    (void)state;
    ht_image_format f;
    ht_error err = {0};
    assert_int_equal(ht_image_format_parse("JPG", &f, NULL), HT_OK);
    assert_int_equal(f, HT_IMAGE_JPEG);
    assert_int_equal(ht_image_format_parse("jpeg", &f, NULL), HT_OK);
    assert_int_equal(f, HT_IMAGE_JPEG);
    assert_int_equal(ht_image_format_parse("webp", &f, NULL), HT_OK);
    assert_int_equal(f, HT_IMAGE_WEBP);
    assert_int_equal(ht_image_format_parse("gif", &f, &err), HT_EINVAL);
    assert_contains(err.msg, "webp");
    assert_string_equal(ht_image_format_mime(HT_IMAGE_JPEG), "image/jpeg");
    assert_string_equal(ht_image_format_mime(HT_IMAGE_WEBP), "image/webp");
    assert_string_equal(ht_image_format_mime(HT_IMAGE_PDF), "application/pdf");
    assert_false(ht_image_format_is_raster(HT_IMAGE_SVG));
    /* The district blue; nothing else drawn. */
    ht_style *s = style(
        "{\"layers\":[{\"id\":\"d\",\"type\":\"fill\",\"source\":"
        "\"grids\",\"filter\":[\"==\",[\"get\",\"level\"],\"district\"],"
        "\"paint\":{\"fill-color\":\"#0000ff\"}}]}");
    ht_render_req in = district_tile(s, 0), out = district_tile(s, 40);
    const ht_rgba red = {1, 0, 0, 1};
    int rgb[4];
    ht_buf *b = ht_buf_new();
    assert_int_equal(
        ht_render_to_buf(rend, &in, 1, NULL, HT_IMAGE_JPEG, b, NULL), HT_OK);
    assert_true(b->len > 2 && (unsigned char)b->data[0] == 0xff &&
                (unsigned char)b->data[1] == 0xd8);
    jpeg_pixel(b, 128, 128, rgb);
    assert_true(near_rgb(rgb, 0, 0, 255));
    b->len = 0;
    assert_int_equal(
        ht_render_to_buf(rend, &out, 1, NULL, HT_IMAGE_JPEG, b, NULL), HT_OK);
    jpeg_pixel(b, 128, 128, rgb);
    assert_true(near_rgb(rgb, 255, 255, 255));
    b->len = 0;
    assert_int_equal(
        ht_render_to_buf(rend, &out, 1, &red, HT_IMAGE_JPEG, b, NULL), HT_OK);
    jpeg_pixel(b, 128, 128, rgb);
    assert_true(near_rgb(rgb, 255, 0, 0));
    b->len = 0;
    assert_int_equal(
        ht_render_to_buf(rend, &in, 1, NULL, HT_IMAGE_WEBP, b, NULL), HT_OK);
    assert_true(b->len > 12 && memcmp(b->data, "RIFF", 4) == 0 &&
                memcmp(b->data + 8, "WEBP", 4) == 0);
    webp_pixel(b, 128, 128, rgb);
    assert_true(near_rgb(rgb, 0, 0, 255) && rgb[3] == 255);
    b->len = 0;
    assert_int_equal(
        ht_render_to_buf(rend, &out, 1, NULL, HT_IMAGE_WEBP, b, NULL), HT_OK);
    webp_pixel(b, 128, 128, rgb);
    assert_int_equal(rgb[3], 0); /* transparent, as the PNG */
    /* A vector format is not a raster's encoding. */
    cairo_surface_t *one =
        cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 1, 1);
    size_t len = b->len;
    assert_int_equal(ht_image_encode(one, HT_IMAGE_PDF, NULL, b, &err),
                     HT_EINVAL);
    assert_int_equal(b->len, len);
    cairo_surface_destroy(one);
    ht_buf_free(b);
    ht_style_unref(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_features_loaded),
        cmocka_unit_test(test_render_zoom_of_requests),
        cmocka_unit_test(test_render_refuses_bad_requests),
        cmocka_unit_test(test_render_draws_what_the_style_says),
        cmocka_unit_test(test_render_raster_formats),
        cmocka_unit_test(test_render_shipped_styles_everywhere),
        cmocka_unit_test(test_render_legends_in_real_units),
        cmocka_unit_test(test_render_style_filter),
        cmocka_unit_test(test_render_dots_from_masks),
        cmocka_unit_test(test_render_dots_direct_as_cairo),
        cmocka_unit_test(test_render_dots_order),
        cmocka_unit_test(test_render_threads_share_nothing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
