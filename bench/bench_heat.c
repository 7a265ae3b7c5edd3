/* SPDX-License-Identifier: Apache-2.0 */
/* Benchmark: the heat engine over 1,000,000 incidents clustered like the
 * demo: index load time and memory, density-grid build time per filter,
 * and milliseconds per 256 px heat tile (render + PNG, one thread) at zoom
 * 12..17 with and without filters. Run by hand:
 *   build/bench/bench_heat [--db FILE] [--incidents N] [--tiles N]
 *                          [--style heat|heatrate]
 * Without --db it builds the demo with N incidents (default 1,000,000; the
 * first run takes about a minute) into the temporary folder and keeps it
 * for later runs (bench_open). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hutong/heat.h"
#include "hutong/png.h"
#include "hutong/render.h"
#include "hutong/tile.h"

#include "bench_util.h"

int main(int argc, char **argv) {
    const char *db = NULL, *style_name = "heat";
    size_t incidents = 1000000, per_zoom = 100;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--db") == 0) {
            db = argv[i + 1];
        } else if (strcmp(argv[i], "--incidents") == 0) {
            incidents = strtoull(argv[i + 1], NULL, 10);
        } else if (strcmp(argv[i], "--style") == 0) {
            style_name = argv[i + 1];
        } else if (strcmp(argv[i], "--tiles") == 0) {
            per_zoom = strtoull(argv[i + 1], NULL, 10);
        }
    }
    ht_error err = {0};
    ht_store *s;
    ht_features *f;
    ht_renderer *r;
    if (!bench_open(db, incidents, &s, &f, &r)) {
        return 1;
    }
    /* Index load: median of three. */
    double loads[3];
    ht_index *ix = NULL;
    for (int k = 0; k < 3; k++) {
        ht_index_unref(ix);
        double t0 = bench_now_ms();
        if (ht_index_load(s, &ix, &err) != HT_OK) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        loads[k] = bench_now_ms() - t0;
    }
    qsort(loads, 3, sizeof *loads, bench_cmp_double);
    printf(
        "index: %zu incidents, load median %.0f ms, %.0f bytes an "
        "incident (%.1f MB)\n",
        ht_index_count(ix), loads[1], ht_index_bytes_per_incident(ix),
        ht_index_bytes_per_incident(ix) * (double)ht_index_count(ix) / 1e6);
    ht_renderer_set_index(r, ix);
    ht_style *style;
    if (ht_style_load(style_name, &style, &err) != HT_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    struct {
        const char *name, *k1, *v1, *k2, *v2;
    } filters[] = {{"no filter", NULL, NULL, NULL, NULL},
                   {"category=H02 (heating)", "category", "H02", NULL, NULL},
                   {"severity=2,window=30d", "severity", "2", "window", "30d"},
                   {"grid=110101001,status=closed", "grid", "110101001",
                    "status", "closed"}};
    const ht_fgrid *district = ht_features_find_grid(f, "110101");
    ht_bbox box = district->bbox;
    cairo_surface_t *surf =
        cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 256, 256);
    ht_buf *png = ht_buf_new();
    double *ms = malloc(per_zoom * sizeof *ms);
    for (size_t fi = 0; fi < sizeof filters / sizeof *filters; fi++) {
        ht_filter flt = ht_filter_all();
        if (filters[fi].k1) {
            ht_filter_set(&flt, filters[fi].k1, filters[fi].v1, 1795824000,
                          NULL);
        }
        if (filters[fi].k2) {
            ht_filter_set(&flt, filters[fi].k2, filters[fi].v2, 1795824000,
                          NULL);
        }
        double top = 0, t0 = bench_now_ms();
        char unit[16];
        if (ht_render_heat_top(r, style, ht_style_layer_at(style, 0), &flt,
                               &top, &err) != HT_OK) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        {
            /* The window's own grid too (per-day scales come from the
             * reference period's): one tile builds it. */
            ht_render_req warm = {.style = style,
                                  .bbox = box,
                                  .width = 16,
                                  .height = 16,
                                  .scale = 1,
                                  .filter = &flt};
            cairo_surface_t *ws =
                cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 16, 16);
            cairo_t *wc = cairo_create(ws);
            ht_render(r, &warm, wc, &err);
            cairo_destroy(wc);
            cairo_surface_destroy(ws);
        }
        printf(
            "\n%s: density grids built in %.0f ms, scale top %.3g "
            "incidents/km2%s\n",
            filters[fi].name, bench_now_ms() - t0, top,
            strcmp(
                ht_style_string(ht_style_layer_at(style, 0), HT_P_HEATMAP_UNIT,
                                0, NULL, NULL, unit, sizeof unit),
                "per-day") == 0
                ? " a day"
                : "");
        printf("  zoom  tiles  median ms  p95 ms  (render + PNG)\n");
        for (int z = 12; z <= 17; z++) {
            ht_tile_id nw = ht_tile_at(box.minx, box.maxy, z);
            ht_tile_id se = ht_tile_at(box.maxx, box.miny, z);
            uint32_t x0 = nw.x, x1 = se.x, y0 = nw.y, y1 = se.y;
            size_t total = (size_t)(x1 - x0 + 1) * (y1 - y0 + 1);
            size_t step = total > per_zoom ? total / per_zoom : 1, n = 0;
            for (size_t k = 0; k < total && n < per_zoom; k += step) {
                ht_tile_id t = {z, x0 + (uint32_t)(k % (x1 - x0 + 1)),
                                y0 + (uint32_t)(k / (x1 - x0 + 1))};
                ht_render_req req = {.style = style,
                                     .bbox = ht_tile_bbox(t),
                                     .width = 256,
                                     .height = 256,
                                     .scale = 1,
                                     .filter = &flt};
                double a = bench_now_ms();
                cairo_t *cr = cairo_create(surf);
                cairo_set_operator(cr, CAIRO_OPERATOR_CLEAR);
                cairo_paint(cr);
                cairo_set_operator(cr, CAIRO_OPERATOR_OVER);
                ht_render(r, &req, cr, &err);
                cairo_destroy(cr);
                ht_buf_clear(png);
                ht_png_encode(surf, png, &err);
                ms[n++] = bench_now_ms() - a;
            }
            qsort(ms, n, sizeof *ms, bench_cmp_double);
            printf("  %4d  %5zu  %9.2f  %6.2f\n", z, n, ms[n / 2],
                   ms[(size_t)(0.95 * (double)(n - 1))]);
        }
    }
    /* How far the interpolated tiles are from the exact density. */
    ht_heat_opts o = {.radius_m = 150};
    ht_heat *h;
    ht_heat_build(ix, NULL, &o, &h, &err);
    double top = ht_heat_auto_scale(h), worst = 0, sum = 0;
    int n = 2000;
    for (int k = 0; k < n; k++) {
        double x = box.minx + (box.maxx - box.minx) * ((k * 7919) % n) / n;
        double y = box.miny + (box.maxy - box.miny) * ((k * 104729) % n) / n;
        double lon, lat;
        ht_tile_merc_to_lonlat(x, y, &lon, &lat);
        double e = fabs(ht_heat_sample(h, x, y) -
                        ht_heat_exact(ix, NULL, &o, lon, lat)) /
                   top;
        worst = fmax(worst, e);
        sum += e;
    }
    printf(
        "\ninterpolated against exact density at %d points: mean %.3f "
        "%%, worst %.3f %% of the scale top\n",
        n, 100 * sum / n, 100 * worst);
    /* What a write costs a density grid kept up to date instead of built
     * again: 10 incidents taken out and put back (the work of 10 changed
     * ones), rescaled. */
    int64_t ids[10];
    for (int k = 0; k < 10; k++) {
        ids[k] = 1 + k * 99991;
    }
    double up[9];
    for (int k = 0; k < 9; k++) {
        double a = bench_now_ms();
        ht_heat_update(h, ix, NULL, ix, NULL, ids, 10, &err);
        up[k] = bench_now_ms() - a;
    }
    qsort(up, 9, sizeof *up, bench_cmp_double);
    printf(
        "update of the unfiltered grid after a write of 10 incidents: "
        "median %.2f ms\n",
        up[4]);
    ht_heat_free(h);
    free(ms);
    ht_buf_free(png);
    cairo_surface_destroy(surf);
    ht_style_unref(style);
    ht_index_unref(ix);
    ht_renderer_free(r);
    ht_features_free(f);
    ht_store_close(s);
    return 0;
}
