/* SPDX-License-Identifier: Apache-2.0 */
/* The map commands: render (tile, map, density, legend) and stats. */

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
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hutong/buf.h"
#include "hutong/crs.h"
#include "hutong/datetime.h"
#include "hutong/demo.h"
#include "hutong/features.h"
#include "hutong/filter.h"
#include "hutong/geotiff.h"
#include "hutong/heat.h"
#include "hutong/import.h"
#include "hutong/index.h"
#include "hutong/log.h"
#include "hutong/png.h"
#include "hutong/print.h"
#include "hutong/render.h"
#include "hutong/seed.h"
#include "hutong/server.h"
#include "hutong/stats.h"
#include "hutong/store.h"
#include "hutong/style.h"
#include "hutong/summary.h"
#include "hutong/tile.h"
#include "hutong/token.h"

#include "cli_int.h"

static const char *extension(const char *path) {
    const char *dot = strrchr(path, '.');
    return dot && !strchr(dot, '/') ? dot + 1 : "";
}

/* Whether @b, a box in @crs (NULL: EPSG:3857), lies outside China there
 * but inside it read as longitudes and latitudes: degrees given to a CRS
 * of metres. */
static bool looks_like_degrees(const ht_bbox *b, const char *crs) {
    double cx = (b->minx + b->maxx) / 2, cy = (b->miny + b->maxy) / 2;
    if (ht_crs_outside_china(cx, cy)) {
        return false;
    }
    ht_transform *t = NULL;
    double lon, lat;
    bool far = ht_crs_transform_new(crs ? crs : "EPSG:3857", "EPSG:4326", &t,
                                    NULL) == HT_OK &&
               ht_crs_transform_point(t, cx, cy, &lon, &lat, NULL) == HT_OK &&
               ht_crs_outside_china(lon, lat);
    ht_crs_transform_free(t);
    return far;
}

/* Everything a render needs, opened from the options: to the file @path
 * (its format by its extension) or, for "-", to standard output in
 * @format (NULL: PNG). */
static ht_status render_to_file(cli_env *e, const ht_render_req *req,
                                const char *path, const char *format,
                                ht_error *err) {
    ht_image_format fmt;
    bool out = strcmp(path, "-") == 0;
    if (out ? ht_image_format_parse(format ? format : "png", &fmt, err) != HT_OK
            : ht_image_format_parse(extension(path), &fmt, NULL) != HT_OK) {
        if (out) {
            return HT_EINVAL;
        }
        return ht_error_set(
            err, HT_EINVAL,
            "%s: output must end in .png, .jpg, .webp, .svg or .pdf", path);
    }
    ht_buf *b = ht_buf_new();
    ht_status st = b ? ht_render_to_buf(e->renderer, req, 1, NULL, fmt, b, err)
                     : ht_error_set(err, HT_ENOMEM, "out of memory");
    if (st == HT_OK) {
        st = cli_write_file(path, b, err);
    }
    ht_buf_free(b);
    return st;
}
static int cmd_density(const opts *o) {
    ht_bbox b;
    if (!o->bbox || !cli_parse_bbox(o->bbox, &b)) {
        return cli_usage_error("render density needs --bbox W,S,E,N");
    }
    char *end = NULL;
    double cell = o->cellsize ? strtod(o->cellsize, &end) : 0;
    if (!o->cellsize || *end || !(cell > 0)) {
        return cli_usage_error("render density needs --cellsize C > 0");
    }
    double ncd = ceil((b.maxx - b.minx) / cell - 1e-9);
    double nrd = ceil((b.maxy - b.miny) / cell - 1e-9);
    if (ncd * nrd > 16777216.0) {
        return cli_usage_error("--cellsize %g: %.0f x %.0f cells, at most 2^24",
                               cell, ncd, nrd);
    }
    size_t ncols = (size_t)ncd, nrows = (size_t)nrd;
    ht_heat_opts ho = {.radius_m = HT_HEAT_RADIUS_M};
    ht_error err = {0};
    if (o->radius) {
        ho.radius_m = strtod(o->radius, &end);
        if (*end || !(ho.radius_m >= 1 && ho.radius_m <= 5000)) {
            return cli_usage_error("--radius \"%s\": metres in 1..5000",
                                   o->radius);
        }
    }
    if (o->kernel &&
        ht_heat_kernel_parse(o->kernel, &ho.kernel, &err) != HT_OK) {
        return cli_fail(&err);
    }
    const char *crs = o->crs ? o->crs : "EPSG:3857";
    const char *ext = extension(o->out);
    bool tif = strcasecmp(ext, "tif") == 0 || strcasecmp(ext, "tiff") == 0;
    if (!tif && strcmp(ext, "asc") != 0) {
        return cli_usage_error(
            "%s: output must end in .tif (GeoTIFF) or .asc "
            "(ESRI ASCII grid)",
            o->out);
    }
    /* A GeoTIFF names its CRS by EPSG code, and degrees or metres. */
    ht_geotiff gt = {.ncols = ncols,
                     .nrows = nrows,
                     .x0 = b.minx,
                     .y0 = b.maxy,
                     .cell = cell,
                     .unit = "incidents/km²",
                     .description = "incident density (exact kernel sum)",
                     .nodata = -9999};
    if (tif) {
        char name[HT_CRS_NAME_SIZE];
        if (ht_crs_normalize(crs, name, &err) != HT_OK ||
            ht_crs_is_geographic(crs, &gt.geographic, &err) != HT_OK) {
            return cli_fail(&err);
        }
        char *endp = NULL;
        long code =
            strncmp(name, "EPSG:", 5) == 0 ? strtol(name + 5, &endp, 10) : 0;
        if (!endp || *endp || code <= 0 || code > 65535) {
            return cli_usage_error("--crs %s: a GeoTIFF needs an EPSG CRS",
                                   crs);
        }
        gt.epsg = (int)code;
    }
    ht_filter f;
    if (cli_filter(o, &f, &err) != HT_OK) {
        return cli_fail(&err);
    }
    if (!cli_file_exists(o->db)) {
        fprintf(stderr, "hutong: %s does not exist\n", o->db);
        return EXIT_USAGE;
    }
    ht_store *s = NULL;
    ht_index *ix = NULL;
    ht_index_filter *q = NULL;
    ht_transform *t = NULL;
    char *wkt = NULL;
    FILE *out = NULL;
    ht_status st = ht_crs_transform_new(crs, "EPSG:4326", &t, &err);
    if (st == HT_OK) {
        st = ht_crs_wkt(crs, &wkt, &err);
    }
    if (st == HT_OK) {
        st = ht_store_open(o->db, HT_STORE_READONLY, &s, &err);
    }
    if (st == HT_OK) {
        st = ht_index_load(s, &ix, &err);
    }
    if (st == HT_OK) {
        st = ht_index_filter_new(ix, &f, &q, &err);
    }
    if (st == HT_OK && !(out = fopen(o->out, tif ? "wb" : "w"))) {
        st = ht_error_set(&err, HT_EIO, "%s: %s", o->out, strerror(errno));
    }
    float *row = st == HT_OK && tif ? malloc(ncols * sizeof *row) : NULL;
    if (st == HT_OK && tif && !row) {
        st = ht_error_set(&err, HT_ENOMEM, "out of memory");
    }
    if (st == HT_OK && tif) {
        st = ht_geotiff_begin(out, &gt, &err);
        for (size_t j = 0; st == HT_OK && j < nrows; j++) {
            double y = b.maxy - ((double)j + 0.5) * cell;
            for (size_t i = 0; i < ncols; i++) {
                double x = b.minx + ((double)i + 0.5) * cell, lon, lat;
                row[i] = gt.nodata;
                if (ht_crs_transform_point(t, x, y, &lon, &lat, NULL) ==
                    HT_OK) {
                    row[i] = (float)ht_heat_exact(ix, q, &ho, lon, lat);
                }
            }
            st = ht_geotiff_row(out, row, ncols, &err);
        }
        if (st == HT_OK) {
            st = ht_geotiff_end(out, &gt, &err);
        }
        if (fclose(out) != 0 && st == HT_OK) {
            st = ht_error_set(&err, HT_EIO, "%s: %s", o->out, strerror(errno));
        }
        out = NULL;
    } else if (st == HT_OK) {
        fprintf(out,
                "ncols %zu\nnrows %zu\nxllcorner %.10g\nyllcorner %.10g\n"
                "cellsize %.10g\nNODATA_value -9999\n",
                ncols, nrows, b.minx, b.maxy - (double)nrows * cell, cell);
        for (size_t j = 0; j < nrows; j++) {
            double y = b.maxy - ((double)j + 0.5) * cell;
            for (size_t i = 0; i < ncols; i++) {
                double x = b.minx + ((double)i + 0.5) * cell, lon, lat;
                double v = -9999;
                if (ht_crs_transform_point(t, x, y, &lon, &lat, NULL) ==
                    HT_OK) {
                    v = ht_heat_exact(ix, q, &ho, lon, lat);
                }
                fprintf(out, i ? " %.7g" : "%.7g", v);
            }
            fputc('\n', out);
        }
        if (fclose(out) != 0) {
            st = ht_error_set(&err, HT_EIO, "%s: %s", o->out, strerror(errno));
        }
        out = NULL;
    }
    free(row);
    if (st == HT_OK && !tif) {
        char prj[4200];
        snprintf(prj, sizeof prj, "%.*s.prj", (int)(strlen(o->out) - 4),
                 o->out);
        FILE *pf = fopen(prj, "w");
        if (!pf || fputs(wkt, pf) < 0 || fclose(pf) != 0) {
            st = ht_error_set(&err, HT_EIO, "%s: cannot write", prj);
        }
    }
    if (out) {
        fclose(out);
    }
    free(wkt);
    ht_crs_transform_free(t);
    ht_index_filter_free(q);
    ht_index_unref(ix);
    ht_store_close(s);
    if (st != HT_OK) {
        cli_remove_output(o->out);
        return cli_fail(&err);
    }
    return 0;
}

static int cmd_legend(const opts *o) {
    ht_error err = {0};
    ht_filter f;
    if (cli_filter(o, &f, &err) != HT_OK) {
        return cli_fail(&err);
    }
    if (strcmp(extension(o->out), "png") != 0) {
        return cli_usage_error("%s: a legend is a .png", o->out);
    }
    if (!cli_file_exists(o->db)) {
        fprintf(stderr, "hutong: %s does not exist\n", o->db);
        return EXIT_USAGE;
    }
    double scale = o->scale ? strtod(o->scale, NULL) : 1;
    if (!(scale >= 0.25 && scale <= 8)) {
        return cli_usage_error("--scale: expected 0.25..8");
    }
    cli_env e;
    if (cli_env_open(o, &e, &err) != HT_OK) {
        return cli_fail(&err);
    }
    ht_buf *b = ht_buf_new();
    ht_status st = b ? ht_render_legend_to_buf(e.renderer, e.style, &f, scale,
                                               false, b, &err)
                     : ht_error_set(&err, HT_ENOMEM, "out of memory");
    if (st == HT_OK) {
        st = cli_write_file(o->out, b, &err);
    }
    ht_buf_free(b);
    cli_env_close(&e);
    if (st != HT_OK) {
        cli_remove_output(o->out);
        return cli_fail(&err);
    }
    return 0;
}

int cli_cmd_render(int argc, char **argv) {
    opts o;
    int rc = cli_parse(argc, argv, 2,
                       " db style out format bbox grid size crs scale from to "
                       "window "
                       "category severity status source department overdue "
                       "satisfaction radius kernel cellsize ",
                       &o);
    if (rc) {
        return rc;
    }
    bool tile = o.npos >= 1 && strcmp(o.pos[0], "tile") == 0;
    bool map = o.npos >= 1 && strcmp(o.pos[0], "map") == 0;
    bool density = o.npos == 1 && strcmp(o.pos[0], "density") == 0;
    bool legend = o.npos == 1 && strcmp(o.pos[0], "legend") == 0;
    if (!tile && !map && !density && !legend) {
        return cli_usage_error(
            "render needs \"tile Z X Y\", \"map\", "
            "\"density\" or \"legend\"");
    }
    if (!o.out) {
        return cli_usage_error("render needs -o OUT");
    }
    if (density) {
        return cmd_density(&o);
    }
    if (!o.style) {
        return cli_usage_error("render needs --style");
    }
    if (legend) {
        return cmd_legend(&o);
    }
    double scale = 1;
    if (o.scale) {
        char *end;
        scale = strtod(o.scale, &end);
        if (*end || !(scale >= 0.25 && scale <= 8)) {
            return cli_usage_error("--scale \"%s\": expected 0.25..8", o.scale);
        }
    }
    ht_render_req req = {.scale = scale};
    if (tile) {
        long z, x, y;
        if (o.npos != 4 || !cli_parse_int(o.pos[1], -1000000, 1000000, &z) ||
            !cli_parse_int(o.pos[2], -(1L << 31), 1L << 31, &x) ||
            !cli_parse_int(o.pos[3], -(1L << 31), 1L << 31, &y)) {
            return cli_usage_error("render tile needs Z X Y as whole numbers");
        }
        ht_error err = {0};
        if (z < 0 || x < 0 || y < 0 ||
            ht_tile_check((ht_tile_id){(int)z, (uint32_t)x, (uint32_t)y},
                          &err) != HT_OK) {
            if (!err.msg[0]) {
                ht_error_set(&err, HT_EINVAL, "tile %ld/%ld/%ld does not exist",
                             z, x, y);
            }
            fprintf(stderr, "hutong: %s\n", err.msg);
            return EXIT_USAGE;
        }
        if (o.bbox || o.size || o.crs) {
            return cli_usage_error(
                "render tile takes no --bbox, --size "
                "or --crs");
        }
        if (scale != 1 && scale != 2) {
            return cli_usage_error(
                "render tile --scale \"%s\": 1 or 2 (256 or 512 px)", o.scale);
        }
        req.bbox = ht_tile_bbox((ht_tile_id){(int)z, (uint32_t)x, (uint32_t)y});
        req.width = req.height = (int)lround(256 * scale);
    } else {
        long w = 0, h = 0;
        char *xpos = o.size ? strchr(o.size, 'x') : NULL;
        if (!o.size || !xpos) {
            return cli_usage_error("render map needs --size WxH");
        }
        char wbuf[16];
        snprintf(wbuf, sizeof wbuf, "%.*s", (int)(xpos - o.size), o.size);
        if (!cli_parse_int(wbuf, 1, 1L << 30, &w) ||
            !cli_parse_int(xpos + 1, 1, 1L << 30, &h)) {
            return cli_usage_error("--size \"%s\": expected WxH in pixels",
                                   o.size);
        }
        if (w > HT_RENDER_MAX_SIZE || h > HT_RENDER_MAX_SIZE) {
            return cli_usage_error("--size %ldx%ld: at most %d px on a side", w,
                                   h, HT_RENDER_MAX_SIZE);
        }
        if (!o.bbox == !o.grid) {
            return cli_usage_error("render map needs --bbox or --grid (one)");
        }
        if (o.bbox && !cli_parse_bbox(o.bbox, &req.bbox)) {
            return cli_usage_error(
                "--bbox \"%s\": expected W,S,E,N with W < E "
                "and S < N",
                o.bbox);
        }
        req.width = (int)w;
        req.height = (int)h;
        req.crs = o.crs;
        if (o.bbox && looks_like_degrees(&req.bbox, o.crs)) {
            return cli_usage_error(
                "--bbox \"%s\" reads as degrees, but %s is in metres: add "
                "--crs EPSG:4326 (or give the box in metres)",
                o.bbox, o.crs ? o.crs : "EPSG:3857 (the default)");
        }
    }
    if (!cli_file_exists(o.db)) {
        fprintf(stderr, "hutong: %s does not exist\n", o.db);
        return EXIT_USAGE;
    }
    ht_error err = {0};
    ht_filter filter;
    /* --grid filters incidents; for a map it also sets the extent. */
    if (cli_filter(&o, &filter, &err) != HT_OK) {
        return cli_fail(&err);
    }
    req.filter = &filter;
    cli_env e;
    if (cli_env_open(&o, &e, &err) != HT_OK) {
        return cli_fail(&err);
    }
    req.style = e.style;
    ht_status st = HT_OK;
    if (o.grid) {
        st = ht_render_fit_grid(e.features, o.grid, o.crs, req.width,
                                req.height, &req.bbox, &err);
    }
    if (st == HT_OK) {
        st = render_to_file(&e, &req, o.out, o.format, &err);
    }
    cli_env_close(&e);
    if (st != HT_OK) {
        cli_remove_output(o.out);
        return cli_fail(&err);
    }
    return 0;
}

/* ---- stats ---- */

typedef enum out_format { FMT_TABLE, FMT_CSV, FMT_JSON } out_format;

static bool parse_format(const char *s, out_format *f) {
    if (!s || strcmp(s, "table") == 0) {
        *f = FMT_TABLE;
    } else if (strcmp(s, "csv") == 0) {
        *f = FMT_CSV;
    } else if (strcmp(s, "json") == 0) {
        *f = FMT_JSON;
    } else {
        return false;
    }
    return true;
}

/* Columns a UTF-8 string takes on a terminal: CJK (3- and 4-byte
 * sequences) two, others one. */
static int display_width(const char *s) {
    int w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p & 0xC0) != 0x80) {
            w += *p >= 0xE0 ? 2 : 1;
        }
    }
    return w;
}

static void print_padded(const char *s, int width) {
    fputs(s, stdout);
    for (int k = display_width(s); k < width; k++) {
        putchar(' ');
    }
}

/* Column @c of a table row: left-aligned text or right-aligned figures,
 * one space between columns and none at the end of the line. */
static void table_cell(int c, const char *s, int width, bool left) {
    if (c > 0) {
        putchar(' ');
    }
    if (left) {
        print_padded(s, width);
    } else {
        printf("%*s", width, s);
    }
}

/* A CSV field, quoted when it needs to be. */
static void print_csv_text(const char *s) {
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        if (*s == '"') {
            putchar('"');
        }
        putchar(*s);
    }
    putchar('"');
}

/* A number cell: empty in CSV and "-" in tables when it does not apply. */
static void num_cell(char *buf, size_t len, double v, int decimals, bool csv) {
    if (isnan(v)) {
        snprintf(buf, len, "%s", csv ? "" : "-");
    } else {
        snprintf(buf, len, "%.*f", decimals, v);
    }
}

/* The department scorecard (一哨一考): its own columns. */
static void print_scorecard(const ht_stats_row *r, size_t shown, bool csv) {
    static const char *const heads[] = {
        "rank",           "department",
        "count",          "open",
        "overdue",        "median_arrive_h",
        "p90_arrive_h",   "response_pct",
        "resolution_pct", "satisfaction_pct",
        "whistles",       "whistle_on_time_pct"};
    static const char *const short_heads[] = {
        "rank",  "department", "count",  "open", "overdue",  "arrive h",
        "p90 h", "resp%",      "resol%", "sat%", "whistles", "on time%"};
    enum { NH = sizeof heads / sizeof *heads };
    int widths[NH] = {4, 10, 7, 6, 7, 8, 7, 7, 7, 7, 8, 8};
    for (size_t k = 0; k < shown; k++) {
        int nw = display_width(r[k].name);
        widths[1] = nw > widths[1] ? nw : widths[1];
    }
    for (int c = 0; c < NH; c++) {
        if (csv) {
            printf(c ? ",%s" : "%s", heads[c]);
        } else {
            table_cell(c, short_heads[c], widths[c], c == 1);
        }
    }
    putchar('\n');
    for (size_t k = 0; k < shown; k++) {
        char cell[NH][48];
        snprintf(cell[0], sizeof cell[0], "%d", r[k].rank);
        snprintf(cell[2], sizeof cell[2], "%lld", (long long)r[k].count);
        snprintf(cell[3], sizeof cell[3], "%lld", (long long)r[k].open);
        snprintf(cell[4], sizeof cell[4], "%lld", (long long)r[k].overdue);
        num_cell(cell[5], sizeof cell[5], r[k].median_arrive_h, 1, csv);
        num_cell(cell[6], sizeof cell[6], r[k].p90_arrive_h, 1, csv);
        num_cell(cell[7], sizeof cell[7], r[k].response * 100, 1, csv);
        num_cell(cell[8], sizeof cell[8], r[k].resolution * 100, 1, csv);
        num_cell(cell[9], sizeof cell[9], r[k].satisfaction * 100, 1, csv);
        snprintf(cell[10], sizeof cell[10], "%lld",
                 (long long)r[k].whistles[0]);
        num_cell(cell[11], sizeof cell[11],
                 r[k].whistles_decided ? 100.0 * (double)r[k].whistles_on_time /
                                             (double)r[k].whistles_decided
                                       : NAN,
                 1, csv);
        for (int c = 0; c < NH; c++) {
            if (csv) {
                if (c) {
                    putchar(',');
                }
                if (c == 1) {
                    print_csv_text(r[k].name);
                } else {
                    fputs(cell[c], stdout);
                }
            } else {
                table_cell(c, c == 1 ? r[k].name : cell[c], widths[c], c == 1);
            }
        }
        putchar('\n');
    }
}

static void print_stats_rows(const ht_stats_row *r, size_t n, size_t limit,
                             ht_stats_by by, out_format fmt,
                             const ht_filter *f) {
    static const char *const heads[] = {"rank",
                                        "key",
                                        "name",
                                        "count",
                                        "share_pct",
                                        "prev",
                                        "change_pct",
                                        "per_km2",
                                        "per_1000",
                                        "median_close_h",
                                        "response_pct",
                                        "resolution_pct",
                                        "satisfaction_pct",
                                        "evaluated_pct",
                                        "overdue"};
    enum { NH = sizeof heads / sizeof *heads };
    size_t shown = n < limit ? n : limit;
    if (fmt == FMT_JSON) {
        char *j = ht_stats_rows_json(r, n, limit, by, f);
        if (j) {
            puts(j);
        }
        free(j);
        return;
    }
    bool csv = fmt == FMT_CSV;
    if (by == HT_STATS_BY_DEPARTMENT) {
        print_scorecard(r, shown, csv);
        return;
    }
    int widths[NH] = {4, 3, 4, 8, 7, 8, 8, 8, 8, 9, 9, 9, 9, 9, 8};
    for (size_t k = 0; k < shown; k++) {
        int kw = display_width(r[k].key), nw = display_width(r[k].name);
        widths[1] = kw > widths[1] ? kw : widths[1];
        widths[2] = nw > widths[2] ? nw : widths[2];
    }
    if (csv) {
        for (int c = 0; c < NH; c++) {
            printf(c ? ",%s" : "%s", heads[c]);
        }
        putchar('\n');
    } else {
        static const char *const short_heads[NH] = {
            "rank",  "key",     "name", "count", "share%",
            "prev",  "change%", "/km2", "/1000", "close h",
            "resp%", "resol%",  "sat%", "eval%", "overdue"};
        for (int c = 0; c < NH; c++) {
            table_cell(c, short_heads[c], widths[c], c == 1 || c == 2);
        }
        putchar('\n');
    }
    for (size_t k = 0; k < shown; k++) {
        char cell[NH][48];
        snprintf(cell[0], sizeof cell[0], "%d", r[k].rank);
        snprintf(cell[3], sizeof cell[3], "%lld", (long long)r[k].count);
        num_cell(cell[4], sizeof cell[4], r[k].share * 100, 1, csv);
        if (r[k].prev >= 0) {
            snprintf(cell[5], sizeof cell[5], "%lld", (long long)r[k].prev);
        } else {
            snprintf(cell[5], sizeof cell[5], "%s", csv ? "" : "-");
        }
        num_cell(cell[6], sizeof cell[6], r[k].change_pct, 1, csv);
        num_cell(cell[7], sizeof cell[7], r[k].per_km2, 1, csv);
        num_cell(cell[8], sizeof cell[8], r[k].per_1000, 2, csv);
        num_cell(cell[9], sizeof cell[9], r[k].median_close_h, 1, csv);
        num_cell(cell[10], sizeof cell[10], r[k].response * 100, 1, csv);
        num_cell(cell[11], sizeof cell[11], r[k].resolution * 100, 1, csv);
        num_cell(cell[12], sizeof cell[12], r[k].satisfaction * 100, 1, csv);
        num_cell(cell[13], sizeof cell[13], r[k].evaluated * 100, 1, csv);
        snprintf(cell[14], sizeof cell[14], "%lld", (long long)r[k].overdue);
        for (int c = 0; c < NH; c++) {
            if (csv) {
                if (c) {
                    putchar(',');
                }
                if (c == 1) {
                    print_csv_text(r[k].key);
                } else if (c == 2) {
                    print_csv_text(r[k].name);
                } else {
                    fputs(cell[c], stdout);
                }
            } else {
                table_cell(c,
                           c == 1   ? r[k].key
                           : c == 2 ? r[k].name
                                    : cell[c],
                           widths[c], c == 1 || c == 2);
            }
        }
        putchar('\n');
    }
}

static void print_topics(const ht_topic *t, size_t n, const char *month,
                         out_format fmt) {
    if (fmt == FMT_JSON) {
        char *j = ht_stats_topics_json(t, n, month);
        if (j) {
            puts(j);
        }
        free(j);
        return;
    }
    if (fmt == FMT_CSV) {
        puts("rank,category,category_name,area,area_name,count,prev,score");
        for (size_t k = 0; k < n; k++) {
            printf("%zu,", k + 1);
            print_csv_text(t[k].category);
            putchar(',');
            print_csv_text(t[k].category_name);
            putchar(',');
            print_csv_text(t[k].area);
            putchar(',');
            print_csv_text(t[k].area_name);
            printf(",%lld,%lld,%.3f\n", (long long)t[k].count,
                   (long long)t[k].prev, t[k].score);
        }
        return;
    }
    printf("rising problems of %s (score = (count - prev) / sqrt(prev + 1))\n",
           month);
    printf("%4s ", "rank");
    print_padded("category", 30);
    putchar(' ');
    print_padded("area", 30);
    printf(" %6s %6s %7s\n", "count", "prev", "score");
    for (size_t k = 0; k < n; k++) {
        char a[160], b[160];
        snprintf(a, sizeof a, "%s %s", t[k].category, t[k].category_name);
        snprintf(b, sizeof b, "%s %s", t[k].area, t[k].area_name);
        printf("%4zu ", k + 1);
        print_padded(a, 30);
        putchar(' ');
        print_padded(b, 30);
        printf(" %6lld %6lld %7.2f\n", (long long)t[k].count,
               (long long)t[k].prev, t[k].score);
    }
}

int cli_cmd_stats(int argc, char **argv) {
    opts o;
    int rc = cli_parse(argc, argv, 2,
                       " db by format limit month min from to window category "
                       "severity status source grid department overdue "
                       "satisfaction ",
                       &o);
    if (rc) {
        return rc;
    }
    bool topics = o.npos == 1 && strcmp(o.pos[0], "topics") == 0;
    if (o.npos > (topics ? 1 : 0)) {
        return cli_usage_error("stats: unexpected \"%s\"", o.pos[o.npos - 1]);
    }
    out_format fmt;
    if (!parse_format(o.format, &fmt)) {
        return cli_usage_error("--format \"%s\": table, csv or json", o.format);
    }
    long limit = topics ? 10 : LONG_MAX, min = 3;
    if (o.limit && !cli_parse_int(o.limit, 1, 1000000, &limit)) {
        return cli_usage_error("--limit \"%s\": a whole number 1..1000000",
                               o.limit);
    }
    if (o.min && !cli_parse_int(o.min, 1, 1000000, &min)) {
        return cli_usage_error("--min \"%s\": a whole number 1..1000000",
                               o.min);
    }
    if (!topics && (o.month || o.min)) {
        return cli_usage_error("--month and --min are for 'stats topics'");
    }
    if (topics && !o.month) {
        return cli_usage_error("stats topics needs --month YYYY-MM");
    }
    if (topics && (o.from || o.to || o.window || o.category || o.severity ||
                   o.status || o.source || o.grid)) {
        return cli_usage_error("stats topics takes no filters");
    }
    ht_error err = {0};
    ht_stats_by by = HT_STATS_BY_STREET;
    if (o.by && ht_stats_by_parse(o.by, &by, &err) != HT_OK) {
        ht_error_prefix(&err, "--");
        return cli_fail(&err);
    }
    ht_filter f;
    if (cli_filter(&o, &f, &err) != HT_OK) {
        return cli_fail(&err);
    }
    if (!cli_file_exists(o.db)) {
        fprintf(stderr, "hutong: %s does not exist\n", o.db);
        return EXIT_USAGE;
    }
    ht_store *s = NULL;
    ht_status st = ht_store_open(o.db, HT_STORE_READONLY, &s, &err);
    /* The server's snapshot of the index, when it holds the file as it is:
     * the same figures without reading every incident. */
    ht_index *ix = NULL;
    int64_t version;
    char snap[1100];
    snprintf(snap, sizeof snap, "%s.index", o.db);
    if (st == HT_OK && !ht_store_is_url(o.db) &&
        ht_store_data_version(s, &version, NULL) == HT_OK) {
        ht_index_read(snap, version, &ix, NULL);
    }
    if (st == HT_OK && topics) {
        ht_topic *t = NULL;
        size_t n = 0;
        st = ix ? ht_stats_topics_ix(s, ix, o.month, by, NULL, min,
                                     (size_t)limit, &t, &n, &err)
                : ht_stats_topics(s, o.month, by, NULL, min, (size_t)limit, &t,
                                  &n, &err);
        if (st == HT_OK) {
            print_topics(t, n, o.month, fmt);
        }
        free(t);
    } else if (st == HT_OK) {
        ht_stats_row *r = NULL;
        size_t n = 0;
        st = ix ? ht_stats_compute_ix(s, ix, &f, by, &r, &n, &err)
                : ht_stats_compute(s, &f, by, &r, &n, &err);
        if (st == HT_OK) {
            print_stats_rows(r, n, (size_t)limit, by, fmt, &f);
        }
        free(r);
    }
    ht_index_unref(ix);
    ht_store_close(s);
    if (st != HT_OK) {
        if (err.code == HT_EINVAL && strncmp(err.msg, "--", 2) != 0) {
            ht_error_prefix(&err, "--");
        }
        return cli_fail(&err);
    }
    return 0;
}
