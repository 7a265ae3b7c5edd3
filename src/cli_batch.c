/* SPDX-License-Identifier: Apache-2.0 */
/* The batch commands: print (atlases), report (the monthly report), seed
 * (tiles). */

#include <errno.h>
#include <limits.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hutong/buf.h"
#include "hutong/crs.h"
#include "hutong/datetime.h"
#include "hutong/demo.h"
#include "hutong/features.h"
#include "hutong/filter.h"
#include "hutong/heat.h"
#include "hutong/import.h"
#include "hutong/index.h"
#include "hutong/log.h"
#include "hutong/png.h"
#include "hutong/print.h"
#include "hutong/render.h"
#include "hutong/report.h"
#include "hutong/seed.h"
#include "hutong/server.h"
#include "hutong/stats.h"
#include "hutong/store.h"
#include "hutong/style.h"
#include "hutong/summary.h"
#include "hutong/tile.h"
#include "hutong/token.h"

#include "cli_int.h"

static void print_progress(size_t done, size_t total, void *ud) {
    cli_progress_show(ud, done, done, total);
    if (done == total) {
        fputc('\n', stderr);
    }
}

int cli_cmd_print(int argc, char **argv) {
    opts o;
    int rc = cli_parse(
        argc, argv, 2,
        " db grid street community all level paper orientation dpi "
        "crs style layer uniform-scale format out from to window "
        "category severity status source department overdue satisfaction "
        "threads ",
        &o);
    if (rc) {
        return rc;
    }
    int picks = !!o.grid + !!o.street + !!o.community + o.all;
    if (picks != 1) {
        return cli_usage_error(
            "print needs one of --grid, --street, --community or --all");
    }
    if (!o.out) {
        return cli_usage_error("print needs -o OUT");
    }
    int64_t now = cli_print_now();
    ht_print_opts po = ht_print_opts_default(now);
    ht_error err = {0};
    ht_status st = HT_OK;
    long dpi = po.dpi;
    if (o.paper) {
        st = ht_print_paper_parse(o.paper, &po.paper, &err);
    }
    if (st == HT_OK && o.orientation) {
        st = ht_print_orientation_parse(o.orientation, &po.orientation, &err);
    }
    if (st == HT_OK && o.dpi &&
        !cli_parse_int(o.dpi, HT_PRINT_MIN_DPI, HT_PRINT_MAX_DPI, &dpi)) {
        st = ht_error_set(&err, HT_EINVAL, "--dpi \"%s\" outside %d..%d", o.dpi,
                          HT_PRINT_MIN_DPI, HT_PRINT_MAX_DPI);
    }
    po.dpi = (int)dpi;
    if (st == HT_OK && o.format && strcmp(o.format, "pdf") != 0 &&
        strcmp(o.format, "png") != 0) {
        st = ht_error_set(&err, HT_EINVAL, "--format \"%s\" is not pdf or png",
                          o.format);
    }
    po.format =
        o.format && strcmp(o.format, "png") == 0 ? HT_PRINT_PNG : HT_PRINT_PDF;
    ht_level level = HT_LEVEL_GRID;
    if (st == HT_OK && o.level) {
        st = ht_model_level_parse(o.level, &level, &err);
    }
    const char *layer = o.layer ? o.layer : "heat";
    if (st == HT_OK && strcmp(layer, "heat") != 0 &&
        strcmp(layer, "streetheat") != 0 && strcmp(layer, "none") != 0) {
        st = ht_error_set(&err, HT_EINVAL,
                          "--layer \"%s\" is not heat, streetheat or none",
                          layer);
    }
    char crs[HT_CRS_NAME_SIZE] = "EPSG:3857";
    if (st == HT_OK && o.crs) {
        st = ht_crs_normalize(o.crs, crs, &err);
    }
    po.crs = crs;
    if (st == HT_OK && !cli_threads(&o, &po.threads)) {
        st = ht_error_set(&err, HT_EINVAL, "--threads \"%s\" outside 1..16",
                          o.threads);
    }
    /* The filters, less --grid (the area); the last 30 days by default. */
    opts fo = o;
    fo.grid = NULL;
    if (!fo.from && !fo.to && !fo.window) {
        fo.window = "30d";
    }
    if (st == HT_OK) {
        st = cli_filter(&fo, &po.filter, &err);
    }
    if (st != HT_OK) {
        return cli_fail(&err);
    }
    if (o.npos) {
        return cli_usage_error("print takes no argument \"%s\"", o.pos[0]);
    }
    o.style = o.style ? o.style : "print";
    cli_env e;
    ht_style *heat = NULL;
    st = cli_env_open(&o, &e, &err);
    if (st != HT_OK) {
        return cli_fail(&err);
    }
    po.style = e.style;
    if (strcmp(layer, "none") != 0) {
        st = ht_style_load(layer, &heat, &err);
        po.layer = heat;
    }
    const char **codes = NULL;
    size_t n = 0;
    const char *within = o.grid        ? o.grid
                         : o.street    ? o.street
                         : o.community ? o.community
                                       : NULL;
    if (st == HT_OK && o.grid) {
        if (!ht_features_find_grid(e.features, o.grid)) {
            st =
                ht_error_set(&err, HT_EINVAL, "--grid: no grid \"%s\"", o.grid);
        } else {
            codes = malloc(sizeof *codes);
            st = codes ? HT_OK : ht_error_set(&err, HT_ENOMEM, "out of memory");
            if (codes) {
                codes[0] = o.grid;
                n = 1;
            }
        }
    } else if (st == HT_OK) {
        st = ht_print_select(e.features, within, level, &codes, &n, &err);
        if (st == HT_ENOTFOUND) {
            err.code = st = HT_EINVAL;
        }
    }
    if (st == HT_OK) {
        cli_progress bar;
        cli_progress_start(&bar, "printing", "pages");
        st = ht_print_atlas(e.renderer, e.store, e.features, codes, n, &po,
                            o.out, isatty(2) ? print_progress : NULL, &bar,
                            NULL, &err);
    }
    free(codes);
    ht_style_unref(heat);
    cli_env_close(&e);
    return st == HT_OK ? 0 : cli_fail(&err);
}

static void seed_progress(size_t done, size_t total, void *ud) {
    cli_progress_show(ud, done, done, total);
    if (done == total) {
        fputc('\n', stderr);
    }
}

/* `seed`: tiles into MBTiles or a folder. */
int cli_cmd_seed(int argc, char **argv) {
    opts o;
    int rc = cli_parse(argc, argv, 2,
                       " db style zoom bbox grid threads out from to window "
                       "category severity status source department overdue "
                       "satisfaction ",
                       &o);
    if (rc) {
        return rc;
    }
    int z0, z1, used = 0;
    if (!o.style || !o.zoom || !o.out) {
        return cli_usage_error("seed needs --style, --zoom Z0-Z1 and -o OUT");
    }
    if (sscanf(o.zoom, "%d-%d%n", &z0, &z1, &used) != 2 ||
        o.zoom[used] != '\0') {
        if (sscanf(o.zoom, "%d%n", &z0, &used) != 1 || o.zoom[used]) {
            return cli_usage_error("--zoom \"%s\": Z or Z0-Z1", o.zoom);
        }
        z1 = z0;
    }
    if (o.bbox && o.grid) {
        return cli_usage_error("seed takes --bbox or --grid, not both");
    }
    ht_seed_opts so = {.zmin = z0, .zmax = z1};
    if (!cli_threads(&o, &so.threads)) {
        return cli_usage_error("--threads \"%s\" outside 1..16", o.threads);
    }
    size_t n = strlen(o.out);
    so.folder = !(n > 8 && strcmp(o.out + n - 8, ".mbtiles") == 0);
    opts fo = o;
    fo.grid = NULL;
    ht_filter filter;
    ht_error err = {0};
    ht_status st = cli_filter(&fo, &filter, &err);
    if (st != HT_OK) {
        return cli_fail(&err);
    }
    so.filter = &filter;
    if (o.bbox && !cli_parse_bbox(o.bbox, &so.bbox)) {
        return cli_usage_error("--bbox: W,S,E,N in degrees");
    }
    cli_env e;
    st = cli_env_open(&o, &e, &err);
    if (st != HT_OK) {
        return cli_fail(&err);
    }
    so.style = e.style;
    if (!o.bbox) {
        /* A grid's box, or every grid's. */
        ht_bbox m = ht_bbox_empty();
        for (size_t i = 0; i < ht_features_grid_count(e.features); i++) {
            const ht_fgrid *g = ht_features_grid(e.features, i);
            if (!o.grid || strcmp(g->code, o.grid) == 0) {
                ht_bbox_add(&m, g->bbox.minx, g->bbox.miny);
                ht_bbox_add(&m, g->bbox.maxx, g->bbox.maxy);
            }
        }
        if (m.minx > m.maxx) {
            cli_env_close(&e);
            return cli_usage_error("--grid: no grid \"%s\"",
                                   o.grid ? o.grid : "");
        }
        ht_tile_merc_to_lonlat(m.minx, m.miny, &so.bbox.minx, &so.bbox.miny);
        ht_tile_merc_to_lonlat(m.maxx, m.maxy, &so.bbox.maxx, &so.bbox.maxy);
    }
    cli_progress bar;
    cli_progress_start(&bar, "seeding", "tiles");
    if (isatty(2)) {
        so.progress = seed_progress;
        so.ud = &bar;
    }
    ht_seed_stats stats;
    st = ht_seed(e.renderer, e.store, e.features, &so, o.out, &stats, &err);
    cli_env_close(&e);
    if (st != HT_OK) {
        return cli_fail(&err);
    }
    printf("%zu tiles: %zu drawn, %zu already there, %.1f s\n", stats.total,
           stats.drawn, stats.skipped, cli_progress_seconds(&bar));
    return 0;
}

/* `report`: the monthly "one topic a month" report. */
int cli_cmd_report(int argc, char **argv) {
    opts o;
    int rc = cli_parse(argc, argv, 2,
                       " db month grid topics dpi style layer format out ", &o);
    if (rc) {
        return rc;
    }
    if (o.npos) {
        return cli_usage_error("report takes no argument \"%s\"", o.pos[0]);
    }
    if (!o.month) {
        return cli_usage_error("report needs --month YYYY-MM");
    }
    ht_report_opts ro = {.print = ht_print_opts_default(cli_print_now()),
                         .topic_pages = 3};
    long v;
    if (o.topics) {
        if (!cli_parse_int(o.topics, 0, HT_REPORT_MAX_TOPIC_PAGES, &v)) {
            return cli_usage_error("--topics \"%s\" outside 0..%d", o.topics,
                                   HT_REPORT_MAX_TOPIC_PAGES);
        }
        ro.topic_pages = (size_t)v;
    }
    if (o.dpi) {
        if (!cli_parse_int(o.dpi, HT_PRINT_MIN_DPI, HT_PRINT_MAX_DPI, &v)) {
            return cli_usage_error("--dpi \"%s\" outside %d..%d", o.dpi,
                                   HT_PRINT_MIN_DPI, HT_PRINT_MAX_DPI);
        }
        ro.print.dpi = (int)v;
    }
    if (o.format && strcmp(o.format, "pdf") != 0 &&
        strcmp(o.format, "png") != 0) {
        return cli_usage_error("--format \"%s\" is not pdf or png", o.format);
    }
    ro.print.format =
        o.format && strcmp(o.format, "png") == 0 ? HT_PRINT_PNG : HT_PRINT_PDF;
    const char *layer = o.layer ? o.layer : "report-heat";
    char out[64];
    if (!o.out) {
        snprintf(out, sizeof out, "report-%.7s%s", o.month,
                 ro.print.format == HT_PRINT_PDF ? ".pdf" : "");
        o.out = out;
    }
    o.style = o.style ? o.style : "report";
    cli_env e;
    ht_error err = {0};
    ht_style *heat = NULL;
    ht_status st = cli_env_open(&o, &e, &err);
    if (st != HT_OK) {
        return cli_fail(&err);
    }
    ro.print.style = e.style;
    if (strcmp(layer, "none") != 0) {
        st = ht_style_load(layer, &heat, &err);
        ro.print.layer = heat;
    }
    ht_report_data d = {0};
    if (st == HT_OK) {
        st = ht_report_compute(e.store, e.features, o.month, o.grid, &d, &err);
    }
    if (st == HT_OK) {
        st = ht_report_print(e.renderer, e.store, e.features, &d, &ro, o.out,
                             NULL, NULL, &err);
    }
    if (st == HT_OK) {
        size_t pages =
            3 + (ro.topic_pages < d.ntopics ? ro.topic_pages : d.ntopics);
        printf("%s: %zu pages, %zu rising topics, %zu %s ranked\n", o.out,
               pages, d.ntopics, d.nranks,
               d.by == HT_STATS_BY_STREET      ? "street offices"
               : d.by == HT_STATS_BY_COMMUNITY ? "communities"
                                               : "grids");
    }
    ht_report_data_free(&d);
    ht_style_unref(heat);
    cli_env_close(&e);
    return st == HT_OK ? 0 : cli_fail(&err);
}
