/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: heat. The proofs of DESIGN.md section 4: exact densities (an
 * independent implementation here, with PROJ's geodesics), interpolation
 * within 1 % of the scale, seamless tiles, the same value at every zoom,
 * one scale per filter, and no limit on points in one place. */
#include <geodesic.h>
#include <math.h>

#include "hutong/crs.h"
#include "hutong/heat.h"
#include "hutong/import.h"
#include "hutong/render.h"
#include "hutong/tile.h"

#include "heat_int.h"
#include "ht_test.h"
#include "pool_int.h"

static ts_demo *demo;
static ht_index *ix;

static int setup(void **state) {
    (void)state;
    demo = ts_demo_new(20000);
    ht_error err = {0};
    if (ht_index_load(demo->fx->s, &ix, &err) != HT_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    ht_renderer_set_index(demo->rend, ix);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    ht_index_unref(ix);
    ts_demo_free(demo);
    return 0;
}

/* ---- an independent density: every incident, geodesic distances ---- */

typedef struct pts {
    double *lon, *lat;
    size_t n;
} pts;

static pts load_points(const char *db) {
    pts p = {0};
    size_t n2;
    p.lon =
        ts_db_doubles(db, "SELECT X(geom) FROM incidents ORDER BY id", &p.n);
    p.lat = ts_db_doubles(db, "SELECT Y(geom) FROM incidents ORDER BY id", &n2);
    assert_int_equal(p.n, n2);
    return p;
}

static double independent(const pts *p, double lon, double lat, double r,
                          bool gaussian) {
    struct geod_geodesic g;
    geod_init(&g, 6378137, 1 / 298.257223563);
    double sum = 0, dlat = r / 110000 * 1.1,
           dlon = dlat / cos(lat * HT_PI / 180);
    for (size_t i = 0; i < p->n; i++) {
        if (fabs(p->lat[i] - lat) > dlat || fabs(p->lon[i] - lon) > dlon) {
            continue;
        }
        double d;
        geod_inverse(&g, lat, lon, p->lat[i], p->lon[i], &d, NULL, NULL);
        if (d >= r) {
            continue;
        }
        if (gaussian) {
            double s = r / 3;
            sum += exp(-d * d / (2 * s * s)) / (2 * HT_PI * s * s);
        } else {
            double u = 1 - d * d / (r * r);
            sum += 3 / (HT_PI * r * r) * u * u;
        }
    }
    return sum * 1e6;
}

static ht_bbox district_box(void) {
    return ht_features_find_grid(demo->feat, "110101")->bbox;
}

/* ---- the export is exact ---- */

static void check_export(const pts *p, const char *kernel, double r) {
    /* 1.2 km x 1.2 km around the district's densest spot, in EPSG:4548. */
    ht_heat_opts o = {.radius_m = r};
    ht_heat_kernel_parse(kernel, &o.kernel, NULL);
    ht_heat *h;
    assert_int_equal(ht_heat_build(ix, NULL, &o, &h, NULL), HT_OK);
    ht_bbox d = district_box();
    double bx = 0, by = 0, best = -1;
    for (int j = 0; j < 60; j++) {
        for (int i = 0; i < 30; i++) {
            double x = d.minx + (d.maxx - d.minx) * (i + 0.5) / 30;
            double y = d.miny + (d.maxy - d.miny) * (j + 0.5) / 60;
            double v = ht_heat_sample(h, x, y);
            if (v > best) {
                best = v;
                bx = x;
                by = y;
            }
        }
    }
    ht_heat_free(h);
    double lon, lat, ex, ey;
    ht_tile_merc_to_lonlat(bx, by, &lon, &lat);
    ht_transform *t;
    assert_int_equal(ht_crs_transform_new(NULL, "EPSG:4548", &t, NULL), HT_OK);
    assert_int_equal(ht_crs_transform_point(t, lon, lat, &ex, &ey, NULL),
                     HT_OK);
    ht_crs_transform_free(t);
    char bbox[128], radius[16];
    snprintf(bbox, sizeof bbox, "%.3f,%.3f,%.3f,%.3f", ex - 600, ey - 600,
             ex + 600, ey + 600);
    snprintf(radius, sizeof radius, "%g", r);
    char *out = ts_path(demo->fx->dir, "d.asc");
    char *err = NULL;
    int rc =
        ts_hutong(NULL, &err, "render", "density", "--bbox", bbox, "--cellsize",
                  "40", "--crs", "EPSG:4548", "--radius", radius, "--kernel",
                  kernel, "--db", demo->fx->db, "-o", out, (const char *)NULL);
    if (rc != 0) {
        fail_msg("render density: %s", err);
    }
    free(err);
    FILE *f = fopen(out, "r");
    assert_non_null(f);
    size_t ncols, nrows;
    double xll, yll, cell, nodata;
    assert_int_equal(fscanf(f,
                            "ncols %zu nrows %zu xllcorner %lf yllcorner "
                            "%lf cellsize %lf NODATA_value %lf",
                            &ncols, &nrows, &xll, &yll, &cell, &nodata),
                     6);
    assert_int_equal(ncols, 30);
    assert_int_equal(nrows, 30);
    assert_true(cell == 40);
    double *v = malloc(ncols * nrows * sizeof *v), vmax = 0;
    for (size_t k = 0; k < ncols * nrows; k++) {
        assert_int_equal(fscanf(f, "%lf", &v[k]), 1);
    }
    fclose(f);
    ht_transform *inv;
    assert_int_equal(ht_crs_transform_new("EPSG:4548", NULL, &inv, NULL),
                     HT_OK);
    double *want = malloc(ncols * nrows * sizeof *want);
    for (size_t j = 0; j < nrows; j++) {
        for (size_t i = 0; i < ncols; i++) {
            double x = xll + (i + 0.5) * cell;
            double y = yll + (nrows - j - 0.5) * cell;
            double clon, clat;
            ht_crs_transform_point(inv, x, y, &clon, &clat, NULL);
            want[j * ncols + i] =
                independent(p, clon, clat, r, strcmp(kernel, "gaussian") == 0);
            vmax = fmax(vmax, want[j * ncols + i]);
        }
    }
    ht_crs_transform_free(inv);
    assert_true(vmax > 0);
    size_t checked = 0;
    for (size_t k = 0; k < ncols * nrows; k++) {
        if (want[k] <= 0.01 * vmax) {
            continue;
        }
        checked++;
        if (fabs(v[k] - want[k]) > 0.005 * want[k]) {
            fail_msg("%s cell %zu: file %.6g, direct %.6g", kernel, k, v[k],
                     want[k]);
        }
    }
    assert_true(checked > 100);
    char *prj = ts_path(demo->fx->dir, "d.prj");
    char *wkt = NULL;
    f = fopen(prj, "r");
    assert_non_null(f);
    char buf[64] = {0};
    assert_true(fread(buf, 1, 6, f) == 6);
    fclose(f);
    assert_string_equal(buf, "PROJCS");
    free(wkt);
    free(prj);
    free(want);
    free(v);
    free(out);
}

static void test_heat_export_matches_an_independent_sum(void **state) {
    (void)state;
    pts p = load_points(demo->fx->db);
    check_export(&p, "quartic", 150);
    check_export(&p, "gaussian", 200);
    free(p.lon);
    free(p.lat);
}

/* ---- threads change nothing but the last bits ---- */

/* Splatted by three threads, each a part of the index with its own nodes,
 * summed: the same density as by one, the same count and scale. */
static void test_heat_threads_build_the_same(void **state) {
    (void)state;
    ht_heat_opts o = {.radius_m = 150};
    ht_heat *one, *three;
    ht__heat_set_parts(1, 0);
    assert_int_equal(ht_heat_build(ix, NULL, &o, &one, NULL), HT_OK);
    ht__heat_set_parts(3, 0);
    assert_int_equal(ht_heat_build(ix, NULL, &o, &three, NULL), HT_OK);
    ht__heat_set_parts(0, 200000);
    assert_int_equal(ht_heat_count(one), ht_heat_count(three));
    assert_true(ht_heat_count(one) > 1000);
    assert_true(ht_heat_auto_scale(one) == ht_heat_auto_scale(three));
    double top = ht_heat_max(one);
    assert_true(fabs(ht_heat_max(three) - top) <= 1e-12 * top);
    ht_bbox d = district_box();
    for (int j = 0; j < 80; j++) {
        for (int i = 0; i < 40; i++) {
            double x = d.minx + (d.maxx - d.minx) * (i + 0.5) / 40;
            double y = d.miny + (d.maxy - d.miny) * (j + 0.5) / 80;
            assert_true(fabs(ht_heat_sample(one, x, y) -
                             ht_heat_sample(three, x, y)) <= 1e-12 * top);
        }
    }
    ht_heat_free(one);
    ht_heat_free(three);
}

/* ---- the grid interpolates within 1 % of the scale ---- */

static void test_heat_interpolation_within_one_percent(void **state) {
    (void)state;
    const ht_kernel kernels[] = {HT_KERNEL_QUARTIC, HT_KERNEL_GAUSSIAN};
    for (int k = 0; k < 2; k++) {
        ht_heat_opts o = {.radius_m = 150, .kernel = kernels[k]};
        ht_heat *h;
        assert_int_equal(ht_heat_build(ix, NULL, &o, &h, NULL), HT_OK);
        double top = ht_heat_auto_scale(h), worst = 0;
        assert_true(top > 0 && top <= ht_heat_max(h));
        assert_int_equal(ht_heat_count(h), 20000);
        assert_true(fabs(ht_heat_spacing_m(h) - 150.0 / 8) < 0.01);
        ht_bbox d = district_box();
        uint64_t s = 7;
        for (int i = 0; i < 3000; i++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            double x = d.minx + (d.maxx - d.minx) * (double)(s >> 11) / 9e15;
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            double y = d.miny + (d.maxy - d.miny) * (double)(s >> 11) / 9e15;
            double lon, lat;
            ht_tile_merc_to_lonlat(x, y, &lon, &lat);
            double e = ht_heat_exact(ix, NULL, &o, lon, lat);
            worst = fmax(worst, fabs(ht_heat_sample(h, x, y) - e) / top);
        }
        if (worst > 0.01) {
            fail_msg("kernel %d: interpolation off by %.3f %% of the scale", k,
                     worst * 100);
        }
        ht_heat_free(h);
    }
}

/* ---- tiles ---- */

static cairo_surface_t *render(const ht_style *style, ht_bbox b, int w, int h,
                               const ht_filter *f) {
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, w, h);
    cairo_t *cr = cairo_create(s);
    ht_render_req req = {.style = style,
                         .bbox = b,
                         .width = w,
                         .height = h,
                         .scale = 1,
                         .filter = f};
    ht_error err = {0};
    if (ht_render(demo->rend, &req, cr, &err) != HT_OK) {
        fail_msg("%s", err.msg);
    }
    cairo_destroy(cr);
    cairo_surface_flush(s);
    return s;
}

static uint32_t px(cairo_surface_t *s, int x, int y) {
    return (
        (const uint32_t *)(cairo_image_surface_get_data(s) +
                           (size_t)y * cairo_image_surface_get_stride(s)))[x];
}

static void test_heat_tiles_are_seamless(void **state) {
    (void)state;
    ht_style *style;
    assert_int_equal(ht_style_load("heat", &style, NULL), HT_OK);
    ht_bbox d = district_box();
    ht_tile_id t = ht_tile_at((d.minx + d.maxx) / 2, (d.miny + d.maxy) / 2, 15);
    ht_bbox a = ht_tile_bbox(t);
    ht_bbox c = ht_tile_bbox((ht_tile_id){15, t.x + 1, t.y + 1});
    ht_bbox whole = {a.minx, c.miny, c.maxx, a.maxy};
    cairo_surface_t *big = render(style, whole, 512, 512, NULL);
    size_t bad = 0, inked = 0;
    for (int q = 0; q < 4; q++) {
        ht_tile_id u = {15, t.x + (q & 1), t.y + (q >> 1)};
        cairo_surface_t *tile = render(style, ht_tile_bbox(u), 256, 256, NULL);
        for (int y = 0; y < 256; y++) {
            for (int x = 0; x < 256; x++) {
                uint32_t p = px(tile, x, y);
                uint32_t b = px(big, x + 256 * (q & 1), y + 256 * (q >> 1));
                inked += p != 0;
                for (int sh = 0; sh < 32; sh += 8) {
                    if (abs((int)(p >> sh & 255) - (int)(b >> sh & 255)) > 2) {
                        bad++;
                        break;
                    }
                }
            }
        }
        cairo_surface_destroy(tile);
    }
    assert_true(inked > 512 * 512 / 2); /* there is heat to compare */
    assert_true(bad <= 512 * 512 / 1000);
    cairo_surface_destroy(big);
    ht_style_unref(style);
}

static void test_heat_same_value_at_every_zoom(void **state) {
    (void)state;
    /* A grey ramp: intensity = density / top. */
    const char *json =
        "{\"layers\":[{\"id\":\"h\",\"type\":\"heatmap\",\"source\":"
        "\"incidents\",\"paint\":{\"heatmap-color\":[\"interpolate\","
        "[\"linear\"],[\"heatmap-density\"],0,\"#000000\",1,\"#ffffff\"]}}]}";
    ht_style *style;
    assert_int_equal(
        ht_style_load_json("grey.json", json, strlen(json), &style, NULL),
        HT_OK);
    ht_heat_opts o = {.radius_m = 150};
    ht_heat *h;
    assert_int_equal(ht_heat_build(ix, NULL, &o, &h, NULL), HT_OK);
    double top = ht_heat_auto_scale(h);
    ht_bbox d = district_box();
    int checked = 0;
    for (int j = 1; j < 40 && checked < 12; j++) {
        for (int i = 1; i < 20 && checked < 12; i++) {
            double x = d.minx + (d.maxx - d.minx) * i / 20.0;
            double y = d.miny + (d.maxy - d.miny) * j / 40.0;
            double v = ht_heat_sample(h, x, y);
            if (v < 0.25 * top || v > 0.75 * top) {
                continue;
            }
            double at[3];
            for (int z = 14; z <= 16; z++) {
                ht_bbox b = ht_tile_bbox(ht_tile_at(x, y, z));
                cairo_surface_t *s = render(style, b, 256, 256, NULL);
                int pxx = (int)((x - b.minx) / (b.maxx - b.minx) * 256);
                int pyy = (int)((b.maxy - y) / (b.maxy - b.miny) * 256);
                at[z - 14] = (px(s, pxx, pyy) & 255) / 255.0 * top;
                cairo_surface_destroy(s);
            }
            for (int z = 0; z < 3; z++) {
                if (fabs(at[z] - at[1]) > 0.05 * at[1]) {
                    fail_msg("z%d: %.1f against %.1f at z15", 14 + z, at[z],
                             at[1]);
                }
            }
            checked++;
        }
    }
    assert_true(checked >= 6);
    ht_heat_free(h);
    ht_style_unref(style);
}

static void test_heat_one_scale_per_filter(void **state) {
    (void)state;
    ht_style *style;
    assert_int_equal(ht_style_load("heat", &style, NULL), HT_OK);
    const ht_style_layer *l = ht_style_layer_at(style, 0);
    double all1, all2, heating;
    ht_filter f = ht_filter_all();
    assert_int_equal(ht_render_heat_top(demo->rend, style, l, &f, &all1, NULL),
                     HT_OK);
    assert_int_equal(
        ht_render_heat_top(demo->rend, style, l, NULL, &all2, NULL), HT_OK);
    assert_true(all1 == all2 && all1 > 0);
    ht_filter_set(&f, "category", "H02", 0, NULL);
    assert_int_equal(
        ht_render_heat_top(demo->rend, style, l, &f, &heating, NULL), HT_OK);
    assert_true(heating > 0 && heating < all1);
    /* The scale is the whole filtered dataset's, not a tile's. */
    ht_heat_opts o = {.radius_m = 150};
    ht_index_filter *q;
    ht_heat *h;
    assert_int_equal(ht_index_filter_new(ix, &f, &q, NULL), HT_OK);
    assert_int_equal(ht_heat_build(ix, q, &o, &h, NULL), HT_OK);
    assert_true(ht_heat_auto_scale(h) == heating);
    ht_heat_free(h);
    ht_index_filter_free(q);
    /* An unknown code in the filter is an error, not an empty map. */
    ht_filter bad = ht_filter_all();
    ht_filter_set(&bad, "category", "ZZ", 0, NULL);
    ht_error err = {0};
    double top;
    assert_int_equal(ht_render_heat_top(demo->rend, style, l, &bad, &top, &err),
                     HT_EINVAL);
    assert_contains(err.msg, "ZZ");
    ht_style_unref(style);
}

static void test_heat_many_points_in_one_place(void **state) {
    (void)state;
    /* 60,000 incidents on one spot: no limit, and the exact peak. */
    ts_store *s = ts_store_new();
    char cats[1024];
    snprintf(cats, sizeof cats, "%s/categories.csv", getenv("HUTONG_GEODATA"));
    ht_import_opts c = {.kind = HT_IMPORT_CATEGORIES};
    ht_import_opts i = {.kind = HT_IMPORT_INCIDENTS};
    assert_int_equal(ht_import_file(s->s, cats, &c, NULL, NULL), HT_OK);
    char *csv = ts_path(s->dir, "one.csv");
    FILE *f = fopen(csv, "w");
    fprintf(f, "id,lon,lat,category,reported_at\n");
    for (int k = 0; k < 60000; k++) {
        fprintf(f, "p%d,116.4,39.9,05,2026-01-01\n", k);
    }
    fclose(f);
    ht_error err = {0};
    assert_int_equal(ht_import_file(s->s, csv, &i, NULL, &err), HT_OK);
    ht_index *one;
    assert_int_equal(ht_index_load(s->s, &one, NULL), HT_OK);
    ht_heat_opts o = {.radius_m = 150};
    ht_heat *h;
    assert_int_equal(ht_heat_build(one, NULL, &o, &h, NULL), HT_OK);
    double x, y, want = 60000 * 3 / (HT_PI * 150 * 150) * 1e6;
    ht_tile_lonlat_to_merc(116.4, 39.9, &x, &y);
    double got = ht_heat_exact(one, NULL, &o, 116.4, 39.9);
    assert_true(fabs(got - want) / want < 1e-6);
    assert_true(fabs(ht_heat_max(h) - want) / want < 0.01);
    ht_heat_free(h);
    ht_index_unref(one);
    free(csv);
    ts_store_free(s);
}

static double by_severity(void *ud, const ht_incident_view *v) {
    (void)ud;
    return v->severity;
}

static void test_heat_update_matches_a_fresh_build(void **state) {
    (void)state;
    /* A snapshot with 40 incidents added in one place and 3 moved; the
     * grid of the old one updated with those ids must agree with one
     * built from scratch, and a point beyond the grid is refused. */
    const char *head = "id,lon,lat,category,severity,reported_at\n";
    char buf[4096];
    snprintf(buf, sizeof buf,
             "%sm0,116.40,39.93,0101,2,2026-11-01\n"
             "m1,116.401,39.93,0101,3,2026-11-01\n"
             "m2,116.402,39.93,0101,2,2026-11-01\n",
             head);
    ts_store_import(demo->fx, "m.csv", buf);
    ht_index *v1;
    assert_int_equal(ht_index_load(demo->fx->s, &v1, NULL), HT_OK);
    snprintf(buf, sizeof buf,
             "%sm0,116.42,39.90,0101,2,2026-11-01\n"
             "m1,116.421,39.90,0101,3,2026-11-01\n"
             "m2,116.422,39.90,0101,1,2026-11-01\n",
             head);
    for (int k = 0; k < 40; k++) {
        size_t used = strlen(buf);
        snprintf(buf + used, sizeof buf - used,
                 "u%d,%.5f,39.915,0101,%d,2026-11-01\n", k,
                 116.41 + k * 0.00002, 1 + k % 3);
    }
    ts_store_import(demo->fx, "u.csv", buf);
    int64_t ids[43];
    char ext[16];
    for (int k = 0; k < 3; k++) {
        snprintf(ext, sizeof ext, "m%d", k);
        ids[k] = ts_incident_id(demo->fx->db, ext);
    }
    for (int k = 0; k < 40; k++) {
        snprintf(ext, sizeof ext, "u%d", k);
        ids[3 + k] = ts_incident_id(demo->fx->db, ext);
    }
    ht_error err = {0};
    ht_index *v2;
    assert_int_equal(ht_index_apply(v1, demo->fx->s, ids, 43, &v2, &err),
                     HT_OK);
    ht_filter fl = ht_filter_all();
    assert_int_equal(ht_filter_set(&fl, "severity", "2", 0, NULL), HT_OK);
    for (int weighted = 0; weighted < 2; weighted++) {
        ht_index_filter *q1, *q2;
        assert_int_equal(ht_index_filter_new(v1, &fl, &q1, NULL), HT_OK);
        assert_int_equal(ht_index_filter_new(v2, &fl, &q2, NULL), HT_OK);
        ht_heat_opts o = {.radius_m = 150};
        if (weighted) {
            o.weight = by_severity;
        }
        ht_heat *up, *fresh;
        assert_int_equal(ht_heat_build(v1, q1, &o, &up, NULL), HT_OK);
        assert_int_equal(ht_heat_update(up, v1, q1, v2, q2, ids, 43, &err),
                         HT_OK);
        assert_int_equal(ht_heat_build(v2, q2, &o, &fresh, NULL), HT_OK);
        assert_int_equal(ht_heat_count(up), ht_heat_count(fresh));
        assert_true(fabs(ht_heat_max(up) - ht_heat_max(fresh)) <
                    1e-9 * ht_heat_max(fresh));
        assert_true(ht_heat_auto_scale(up) == ht_heat_auto_scale(fresh));
        double x0, y0, worst = 0;
        ht_tile_lonlat_to_merc(116.39, 39.89, &x0, &y0);
        for (int j = 0; j < 60; j++) {
            for (int i = 0; i < 60; i++) {
                double x = x0 + i * 70.0, y = y0 + j * 110.0;
                worst = fmax(worst, fabs(ht_heat_sample(up, x, y) -
                                         ht_heat_sample(fresh, x, y)));
            }
        }
        assert_true(worst < 1e-9 * ht_heat_max(fresh));
        /* Where the 40 are, the density rose. */
        double px, py;
        ht_tile_lonlat_to_merc(116.4104, 39.915, &px, &py);
        ht_heat *old;
        assert_int_equal(ht_heat_build(v1, q1, &o, &old, NULL), HT_OK);
        assert_true(ht_heat_sample(up, px, py) >
                    ht_heat_sample(old, px, py) + 100);
        ht_heat_free(old);
        ht_heat_free(fresh);
        ht_heat_free(up);
        ht_index_filter_free(q1);
        ht_index_filter_free(q2);
    }
    /* An incident far beyond the data: the grid cannot hold it. */
    snprintf(buf, sizeof buf, "%sfar,117.5,40.5,0101,2,2026-11-01\n", head);
    ts_store_import(demo->fx, "far.csv", buf);
    int64_t far = ts_incident_id(demo->fx->db, "far");
    ht_index *v3;
    assert_int_equal(ht_index_apply(v2, demo->fx->s, &far, 1, &v3, &err),
                     HT_OK);
    ht_heat_opts o = {.radius_m = 150};
    ht_heat *h;
    assert_int_equal(ht_heat_build(v2, NULL, &o, &h, NULL), HT_OK);
    double before = ht_heat_max(h);
    size_t n = ht_heat_count(h);
    assert_int_equal(ht_heat_update(h, v2, NULL, v3, NULL, &far, 1, &err),
                     HT_EINVAL);
    assert_contains(err.msg, "beyond the density grid");
    assert_true(ht_heat_max(h) == before && ht_heat_count(h) == n);
    ht_heat_free(h);
    ht_index_unref(v3);
    ht_index_unref(v2);
    ht_index_unref(v1);
}

static ht_style *heat_style(const char *paint_extra) {
    char json[1024];
    snprintf(json, sizeof json,
             "{\"version\":8,\"name\":\"t\",\"layers\":[{\"id\":\"h\","
             "\"type\":\"heatmap\",\"source\":\"incidents\",\"paint\":{"
             "\"heatmap-color\":[\"interpolate\",[\"linear\"],"
             "[\"heatmap-density\"],0,\"rgba(0,0,255,0)\",0.3,\"#00f\",1,"
             "\"#f00\"]%s}}]}",
             paint_extra);
    ht_style *s;
    ht_error err = {0};
    if (ht_style_load_json("t.json", json, strlen(json), &s, &err) != HT_OK) {
        fail_msg("%s", err.msg);
    }
    return s;
}

static void test_heat_per_day_shares_one_scale(void **state) {
    (void)state;
    ht_style *rate = heat_style(",\"heatmap-unit\":\"per-day\"");
    ht_style *total = heat_style("");
    const ht_style_layer *lr = ht_style_layer_at(rate, 0);
    int64_t first, last;
    assert_true(ht_index_time_range(ix, &first, &last));
    assert_true(first < last);
    int64_t ref_end = (last / 86400 + 1) * 86400;
    /* A week and a month, months apart: one top, in incidents/km2 a day. */
    ht_filter week = ht_filter_all(), month = ht_filter_all();
    ht_filter_set(&week, "from", "2026-11-01", 0, NULL);
    ht_filter_set(&week, "to", "2026-11-08", 0, NULL);
    ht_filter_set(&month, "from", "2026-06-01", 0, NULL);
    ht_filter_set(&month, "to", "2026-07-01", 0, NULL);
    double tw, tm;
    assert_int_equal(ht_render_heat_top(demo->rend, rate, lr, &week, &tw, NULL),
                     HT_OK);
    assert_int_equal(
        ht_render_heat_top(demo->rend, rate, lr, &month, &tm, NULL), HT_OK);
    assert_true(tw == tm && tw > 0);
    /* It is the reference period's p99 density over its 365 days. */
    ht_filter ref = ht_filter_all();
    ref.from = ref_end - 365 * 86400;
    ref.to = ref_end;
    double tref;
    assert_int_equal(
        ht_render_heat_top(demo->rend, total, ht_style_layer_at(total, 0), &ref,
                           &tref, NULL),
        HT_OK);
    assert_true(fabs(tw - tref / 365) <= 1e-12 * tref);
    /* Non-time filters still count: heating alone has its own scale. */
    ht_filter heat_only = week;
    ht_filter_set(&heat_only, "category", "H02", 0, NULL);
    double th;
    assert_int_equal(
        ht_render_heat_top(demo->rend, rate, lr, &heat_only, &th, NULL), HT_OK);
    assert_true(th > 0 && th != tw);
    /* Each pixel shows density / days: a per-day scale of 5 over a 7-day
     * window draws exactly what a total scale of 35 draws. */
    ht_style_unref(rate);
    ht_style_unref(total);
    rate = heat_style(",\"heatmap-unit\":\"per-day\",\"heatmap-scale\":5");
    total = heat_style(",\"heatmap-scale\":35");
    uint32_t *a = malloc(256 * 256 * 4), *b = malloc(256 * 256 * 4);
    ts_demo_tile(demo, NULL, rate, &week, a);
    ts_demo_tile(demo, NULL, total, &week, b);
    size_t inked = 0;
    for (int i = 0; i < 256 * 256; i++) {
        inked += a[i] != 0;
    }
    assert_true(inked > 1000);
    assert_memory_equal(a, b, 256 * 256 * 4);
    free(a);
    free(b);
    ht_style_unref(rate);
    ht_style_unref(total);
    /* Bad values are refused when the style loads. */
    const char *bad[] = {",\"heatmap-unit\":\"per-hour\"",
                         ",\"heatmap-reference-days\":0",
                         ",\"heatmap-reference-days\":[\"zoom\"]"};
    for (size_t k = 0; k < 3; k++) {
        char json[1024];
        snprintf(json, sizeof json,
                 "{\"version\":8,\"name\":\"t\",\"layers\":[{\"id\":\"h\","
                 "\"type\":\"heatmap\",\"source\":\"incidents\",\"paint\":{"
                 "\"heatmap-opacity\":1%s}}]}",
                 bad[k]);
        ht_style *s = NULL;
        ht_error err = {0};
        assert_int_equal(
            ht_style_load_json("t.json", json, strlen(json), &s, &err),
            HT_EINVAL);
        assert_contains(err.msg, "heatmap-");
        assert_null(s);
    }
}

/* Grids given back are handed out again, zeroed, within the pool's
 * bytes; one past them is freed, not kept. */
static void test_heat_pool_reuses_within_its_bytes(void **state) {
    (void)state;
    ht__pool_set_cap(3500 * sizeof(double));
    double *a = ht__heat_grid_take(1000, true);
    assert_non_null(a);
    for (size_t k = 0; k < 1000; k++) {
        assert_true(a[k] == 0);
        a[k] = 7;
    }
    ht__heat_grid_give(a, 1000);
    assert_int_equal(ht__pool_bytes(), 1000 * sizeof(double));
    /* another size: fresh */
    double *b = ht__heat_grid_take(999, true);
    assert_non_null(b);
    assert_true(b != a);
    double *c = ht__heat_grid_take(1000, true);
    assert_ptr_equal(c, a);
    assert_int_equal(ht__pool_bytes(), 0);
    for (size_t k = 0; k < 1000; k++) {
        assert_true(c[k] == 0);
    }
    /* not zeroed when not asked: the same values */
    c[5] = 3;
    ht__heat_grid_give(c, 1000);
    double *d = ht__heat_grid_take(1000, false);
    assert_ptr_equal(d, c);
    assert_true(d[5] == 3);
    ht__heat_grid_give(d, 1000);
    ht__heat_grid_give(b, 999);
    assert_int_equal(ht__pool_bytes(), 1999 * sizeof(double));
    /* Past its bytes: the grid given back longest ago goes. */
    double *e[3];
    for (int k = 0; k < 3; k++) {
        e[k] = ht__heat_grid_take(1000, false);
        assert_non_null(e[k]);
    }
    assert_int_equal(ht__pool_bytes(), 999 * sizeof(double));
    for (int k = 0; k < 3; k++) {
        ht__heat_grid_give(e[k], 1000);
    }
    /* 999 went first to make room for the third */
    assert_int_equal(ht__pool_bytes(), 3 * 1000 * sizeof(double));
    /* larger than the pool: freed */
    double *big = ht__heat_grid_take(5000, false);
    ht__heat_grid_give(big, 5000);
    assert_int_equal(ht__pool_bytes(), 3 * 1000 * sizeof(double));
    ht__heat_grid_give(NULL, 10);
    ht__pool_set_cap(HT__POOL_BYTES);
    assert_int_equal(ht__pool_bytes(), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heat_export_matches_an_independent_sum),
        cmocka_unit_test(test_heat_threads_build_the_same),
        cmocka_unit_test(test_heat_interpolation_within_one_percent),
        cmocka_unit_test(test_heat_tiles_are_seamless),
        cmocka_unit_test(test_heat_same_value_at_every_zoom),
        cmocka_unit_test(test_heat_one_scale_per_filter),
        cmocka_unit_test(test_heat_per_day_shares_one_scale),
        cmocka_unit_test(test_heat_many_points_in_one_place),
        cmocka_unit_test(test_heat_update_matches_a_fresh_build),
        cmocka_unit_test(test_heat_pool_reuses_within_its_bytes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
