/* SPDX-License-Identifier: Apache-2.0 */
/* Benchmark: milliseconds per 256 px tile (render + PNG encode, one
 * thread) over a fixed list of tiles covering the demo district at zoom
 * 13..17, per style; and a PNG compression-level sweep. Run by hand:
 *   build/bench/bench_render [--db demo.db] [--tiles N] [--styles a,b]
 * Without --db it uses the default demo (seed 2004, end 2026-11-28), built
 * on first use and kept (bench_open). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hutong/png.h"
#include "hutong/render.h"
#include "hutong/tile.h"

#include "bench_util.h"

/* Tiles of zoom @z over the district's box, every @step-th of them. */
static size_t tiles_at(int z, ht_bbox box, size_t max, ht_tile_id *out) {
    ht_tile_id nw = ht_tile_at(box.minx, box.maxy, z);
    ht_tile_id se = ht_tile_at(box.maxx, box.miny, z);
    uint32_t x0 = nw.x, x1 = se.x, y0 = nw.y, y1 = se.y;
    size_t total = (size_t)(x1 - x0 + 1) * (y1 - y0 + 1);
    size_t step = total > max ? (total + max - 1) / max : 1;
    size_t n = 0, k = 0;
    for (uint32_t y = y0; y <= y1; y++) {
        for (uint32_t x = x0; x <= x1; x++, k++) {
            if (k % step == 0 && n < max) {
                out[n++] = (ht_tile_id){z, x, y};
            }
        }
    }
    return n;
}

int main(int argc, char **argv) {
    const char *db = NULL;
    size_t per_zoom = 120;
    char styles_arg[256] = "grids,default,wall,print";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--db") == 0) {
            db = argv[i + 1];
        } else if (strcmp(argv[i], "--tiles") == 0) {
            per_zoom = strtoull(argv[i + 1], NULL, 10);
        } else if (strcmp(argv[i], "--styles") == 0) {
            snprintf(styles_arg, sizeof styles_arg, "%s", argv[i + 1]);
        }
    }
    if (per_zoom < 1 || per_zoom > 5000) {
        fprintf(stderr, "--tiles: 1..5000\n");
        return 2;
    }
    ht_error err = {0};
    ht_store *s;
    ht_features *f;
    ht_renderer *r;
    if (!bench_open(db, 0, &s, &f, &r)) {
        return 1;
    }
    const ht_fgrid *district = ht_features_find_grid(f, "110101");
    ht_bbox box = district ? district->bbox : (ht_bbox){0, 0, 1, 1};
    ht_tile_id *tiles = malloc(per_zoom * sizeof *tiles);
    double *ms = malloc(per_zoom * sizeof *ms);
    double *enc = malloc(per_zoom * sizeof *enc);
    cairo_surface_t *surf =
        cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 256, 256);
    ht_buf *png = ht_buf_new();
    printf(
        "ms per 256 px tile, render + encode, one thread (%zu tiles a "
        "zoom)\n",
        per_zoom);
    printf("%-8s %4s %8s %8s %10s %9s\n", "style", "zoom", "median", "p95",
           "encode med", "bytes med");
    char *save = NULL;
    for (char *name = strtok_r(styles_arg, ",", &save); name;
         name = strtok_r(NULL, ",", &save)) {
        ht_style *style;
        if (ht_style_load(name, &style, &err) != HT_OK) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        for (int z = 13; z <= 17; z++) {
            size_t n = tiles_at(z, box, per_zoom, tiles);
            double *bytes = malloc(n * sizeof *bytes);
            /* one warm-up pass fills the glyph cache, as a server would */
            for (int pass = 0; pass < 2; pass++) {
                for (size_t i = 0; i < n; i++) {
                    ht_render_req req = {.style = style,
                                         .bbox = ht_tile_bbox(tiles[i]),
                                         .width = 256,
                                         .height = 256,
                                         .scale = 1};
                    double t0 = bench_now_ms();
                    cairo_t *cr = cairo_create(surf);
                    cairo_set_operator(cr, CAIRO_OPERATOR_CLEAR);
                    cairo_paint(cr);
                    cairo_set_operator(cr, CAIRO_OPERATOR_OVER);
                    if (ht_render(r, &req, cr, &err) != HT_OK) {
                        fprintf(stderr, "%s\n", err.msg);
                        return 1;
                    }
                    cairo_destroy(cr);
                    double t1 = bench_now_ms();
                    ht_buf_clear(png);
                    ht_png_encode(surf, png, &err);
                    double t2 = bench_now_ms();
                    ms[i] = t2 - t0;
                    enc[i] = t2 - t1;
                    bytes[i] = (double)png->len;
                }
            }
            qsort(ms, n, sizeof *ms, bench_cmp_double);
            qsort(enc, n, sizeof *enc, bench_cmp_double);
            qsort(bytes, n, sizeof *bytes, bench_cmp_double);
            printf("%-8s %4d %8.2f %8.2f %10.2f %9.0f\n", name, z, ms[n / 2],
                   ms[(size_t)(0.95 * (double)(n - 1))], enc[n / 2],
                   bytes[n / 2]);
            free(bytes);
        }
        ht_style_unref(style);
    }
    /* PNG levels: the default style at zoom 15, truecolour only. */
    ht_style *style;
    ht_style_load("default", &style, &err);
    size_t n = tiles_at(15, box, per_zoom < 60 ? per_zoom : 60, tiles);
    printf(
        "\nPNG encoding of %zu default-style zoom 15 tiles: median ms, "
        "mean bytes\n",
        n);
    for (int mode = -1; mode <= 9; mode++) {
        if (mode == 0 || mode == 4 || mode == 5 || mode == 7 || mode == 8) {
            continue;
        }
        double total = 0;
        for (size_t i = 0; i < n; i++) {
            ht_render_req req = {.style = style,
                                 .bbox = ht_tile_bbox(tiles[i]),
                                 .width = 256,
                                 .height = 256,
                                 .scale = 1};
            cairo_t *cr = cairo_create(surf);
            cairo_set_operator(cr, CAIRO_OPERATOR_CLEAR);
            cairo_paint(cr);
            cairo_set_operator(cr, CAIRO_OPERATOR_OVER);
            ht_render(r, &req, cr, &err);
            cairo_destroy(cr);
            double t0 = bench_now_ms();
            ht_buf_clear(png);
            if (mode < 0) {
                char tmp[] = "/tmp/bench_render_tile.png";
                cairo_surface_write_to_png(surf, tmp);
                FILE *fp = fopen(tmp, "rb");
                fseek(fp, 0, SEEK_END);
                png->len = (size_t)ftell(fp);
                fclose(fp);
                unlink(tmp);
            } else {
                ht_png_encode_with(surf, mode, 0, png, &err);
            }
            ms[i] = bench_now_ms() - t0;
            total += (double)png->len;
        }
        qsort(ms, n, sizeof *ms, bench_cmp_double);
        if (mode < 0) {
            printf("  cairo_surface_write_to_png: %6.2f ms %8.0f bytes\n",
                   ms[n / 2], total / (double)n);
        } else {
            printf("  libpng level %d, SUB:        %6.2f ms %8.0f bytes\n",
                   mode, ms[n / 2], total / (double)n);
        }
    }
    ht_style_unref(style);
    ht_buf_free(png);
    cairo_surface_destroy(surf);
    free(tiles);
    free(ms);
    free(enc);
    ht_renderer_free(r);
    ht_features_free(f);
    ht_store_close(s);
    return 0;
}
