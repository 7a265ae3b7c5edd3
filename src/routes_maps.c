/* SPDX-License-Identifier: Apache-2.0 */
/* Image routes: XYZ tiles, TileJSON, legends, static maps. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hutong/clock.h"
#include "hutong/crs.h"
#include "hutong/hash.h"
#include "hutong/print.h"
#include "hutong/tile.h"
#include "hutong/wms.h"

#include "server_int.h"

enum MHD_Result ht__maps_send_image(ht_server *s, struct MHD_Connection *c,
                                    request *rq, const ht_render_req *reqs,
                                    size_t n, const ht_rgba *background,
                                    ht_image_format fmt, const char *cc) {
    static const char *const types[] = {"image/png", "application/pdf",
                                        "image/svg+xml"};
    ht_error err = {0};
    worker *w = ht__live_worker_get(s, &err);
    ht_buf *out = w ? ht_buf_new() : NULL;
    ht_status st =
        !w     ? err.code
        : !out ? ht_error_set(&err, HT_ENOMEM, "out of memory")
               : ht_render_to_buf(w->rend, reqs, n, background, fmt, out, &err);
    if (st != HT_OK) {
        ht_buf_free(out);
        return ht__http_send_failure(c, rq, st, err.msg);
    }
    return ht__http_send_ht_buf(c, rq, types[fmt], out, NULL, cc);
}

enum MHD_Result ht__maps_send_legend(ht_server *s, struct MHD_Connection *c,
                                     request *rq, const ht_style *style,
                                     const ht_filter *f, double scale,
                                     bool empty_ok, const char *cc) {
    ht_error err = {0};
    worker *w = ht__live_worker_get(s, &err);
    ht_buf *out = w ? ht_buf_new() : NULL;
    ht_status st = !w     ? err.code
                   : !out ? ht_error_set(&err, HT_ENOMEM, "out of memory")
                          : ht_render_legend_to_buf(w->rend, style, f, scale,
                                                    empty_ok, out, &err);
    if (st != HT_OK) {
        ht_buf_free(out);
        return ht__http_send_failure(c, rq, st, err.msg);
    }
    return ht__http_send_ht_buf(c, rq, "image/png", out, NULL, cc);
}

/* The query (filters and @extra parameters) and the style @name of a
 * request: false, with the answer queued, for a bad query (400) or an
 * unknown style (404). */
static bool styled_query(ht_server *s, struct MHD_Connection *c, request *rq,
                         const char *name, const char *extra, query *q,
                         const ht_style **style, enum MHD_Result *answer) {
    ht_error err = {0};
    if (!ht__http_parse_query(c, extra, q)) {
        *answer = ht__http_send_error(c, rq, MHD_HTTP_BAD_REQUEST, q->bad);
        return false;
    }
    if (!(*style = ht__live_style_get(s, name, &err))) {
        *answer = ht__http_send_error(c, rq, MHD_HTTP_NOT_FOUND, err.msg);
        return false;
    }
    return true;
}

/* The whole of @text as a number 0..UINT32_MAX, at most ten digits. */
static bool tile_number(const char *text, uint32_t *out) {
    const char *p = text;
    return ht__http_parse_u32(&p, out) && *p == '\0';
}

/* The {y}[@2x].{png|jpg|webp} of a tile's path: @ytext cut to {y} (empty
 * when the rest is not one of those), the scale and the format. */
static void tile_suffix(char *ytext, int *scale, ht_image_format *fmt) {
    char *dot = strrchr(ytext, '.');
    if (!dot || ht_image_format_parse(dot + 1, fmt, NULL) != HT_OK ||
        !ht_image_format_is_raster(*fmt) || *fmt == HT_IMAGE_PNG8 ||
        strcmp(dot + 1, "jpeg") == 0) {
        ytext[0] = '\0';
        return;
    }
    *dot = '\0';
    size_t yl = (size_t)(dot - ytext);
    if (yl > 3 && strcmp(ytext + yl - 3, "@2x") == 0) {
        *scale = 2;
        ytext[yl - 3] = '\0';
    }
}

/* GET /tiles/{style}/{z}/{x}/{y}.png, .jpg, .webp and {y}@2x.png... +
 * filters. */
enum MHD_Result ht__route_tile(ht_server *s, struct MHD_Connection *c,
                               request *rq, const char *const *args) {
    const char *name = args[0];
    uint32_t z, x, y;
    int scale = 1;
    ht_image_format fmt = HT_IMAGE_PNG;
    char ytext[HT__ROUTE_ARG_SIZE];
    snprintf(ytext, sizeof ytext, "%s", args[3]);
    tile_suffix(ytext, &scale, &fmt);
    if (!tile_number(args[1], &z) || !tile_number(args[2], &x) ||
        !tile_number(ytext, &y)) {
        return ht__http_send_error(c, rq, MHD_HTTP_NOT_FOUND,
                                   "expected /tiles/{style}/{z}/{x}/{y}.png "
                                   "(or @2x.png, .jpg, .webp)");
    }
    ht_tile_id t = {(int)(z > 99 ? 99 : z), x, y};
    ht_error err = {0};
    if (z > MAX_ZOOM) {
        return ht__http_send_error(c, rq, MHD_HTTP_BAD_REQUEST,
                                   "zoom out of range 0..22");
    }
    if (ht_tile_check(t, &err) != HT_OK) {
        return ht__http_send_error(c, rq, MHD_HTTP_BAD_REQUEST, err.msg);
    }
    query q;
    const ht_style *style;
    enum MHD_Result answer;
    if (!styled_query(s, c, rq, name, "", &q, &style, &answer)) {
        return answer;
    }
    char where[48];
    snprintf(where, sizeof where, "%u/%u/%u", z, x, y);
    ht__maps_tile tile = {name, style, q.filter, q.now, ht_tile_bbox(t),
                          NULL, where, scale,    fmt};
    return ht__maps_send_tile(s, c, rq, &tile);
}

enum MHD_Result ht__maps_send_tile(ht_server *s, struct MHD_Connection *c,
                                   request *rq, ht__maps_tile *t) {
    ht_error err = {0};
    const char *name = t->name;
    const ht_style *style = t->style;
    int scale = t->scale;
    ht_image_format fmt = t->fmt;
    ht_filter filter = t->filter;
    int px = 256 * scale;
    /* A scoped reader: its area's incidents, drawn only inside it; a
     * filter on a grid outside it shows nothing. */
    bool outside = !ht__live_scope_filter(s, rq, &filter);
    /* A style's own filter (the incidents late now) is part of the key:
     * "now" to the minute. */
    if (ht_style_apply_filter(style, &filter, t->now, &err) != HT_OK) {
        return ht__http_send_failure(c, rq, err.code, err.msg);
    }
    ht_render_req req = {.style = style,
                         .bbox = t->bbox,
                         .crs = t->crs,
                         .width = px,
                         .height = px,
                         .scale = scale,
                         .filter = &filter,
                         .clip_grid = rq->scope[0] ? rq->scope : NULL};
    const char *cc = ht__http_cache_control_of(s, &filter);
    if (outside) {
        return ht__http_send_blank(c, rq, px, px, fmt, cc);
    }
    /* The key holds what the tile depends on: the last write within its
     * reach (read first: a write publishes its snapshot before it marks
     * the cells, so the worker below draws at least that) and the
     * aggregates it shows. Writes elsewhere leave it valid. */
    ht_render_req merc = req;
    if (t->crs) {
        /* (longitude/latitude: the cells are in EPSG:3857) */
        ht_tile_lonlat_to_merc(t->bbox.minx, t->bbox.miny, &merc.bbox.minx,
                               &merc.bbox.miny);
        ht_tile_lonlat_to_merc(t->bbox.maxx, t->bbox.maxy, &merc.bbox.maxx,
                               &merc.bbox.maxy);
        merc.crs = NULL;
    }
    unsigned long near = ht__live_neighbourhood_version(s, &merc);
    /* The incidents late now: drawn for this minute, taken after the
     * neighbourhood (a deadline passed before this minute has marked it:
     * see announce_overdue), and keyed not by the minute but by those
     * marks and the hour (the dots' hours past their deadline). */
    ht_filter keyed = filter;
    if (filter.overdue_at) {
        filter.overdue_at = ht_clock_now() / 60 * 60;
        keyed.overdue_at = filter.overdue_at / 3600 * 3600;
    }
    worker *w = ht__live_worker_get(s, &err);
    if (!w) {
        return ht__http_send_failure(c, rq, err.code, err.msg);
    }
    uint64_t fp;
    ht_status st = ht_render_fingerprint(w->rend, &req, &fp, &err);
    if (st != HT_OK) {
        return ht__http_send_failure(c, rq, st, err.msg);
    }
    char fkey[1024], key[1400], etag[40];
    ht_filter_key(&keyed, fkey, sizeof fkey);
    snprintf(key, sizeof key, "tile|%s|%s@%d.%d|%s|n%lu|%016llx|%s", name,
             t->where, scale, (int)fmt, fkey, near, (unsigned long long)fp,
             rq->scope);
    snprintf(etag, sizeof etag, "\"%016llx\"",
             (unsigned long long)ht_hash64(s->etag_seed, key, strlen(key)));
    if (ht__http_etag_matches(c, etag)) {
        return ht__http_send_not_modified(c, rq, etag, cc);
    }
    void *data;
    size_t len;
    if (ht_cache_get(s->cache, key, &data, &len)) {
        return ht__http_send_buf(c, rq, MHD_HTTP_OK, ht_image_format_mime(fmt),
                                 data, len, etag, cc);
    }
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ht_buf *img = ht_buf_new();
    st = img ? ht_render_to_buf(w->rend, &req, 1, NULL, fmt, img, &err)
             : ht_error_set(&err, HT_ENOMEM, "out of memory");
    if (st != HT_OK) {
        ht_buf_free(img);
        return ht__http_send_failure(c, rq, st, err.msg);
    }
    ht__routes_observe_render(s, ht__http_since_ms(&t0) / 1e3);
    ht_cache_put(s->cache, key, img->data, img->len);
    return ht__http_send_ht_buf(c, rq, ht_image_format_mime(fmt), img, etag,
                                cc);
}

enum MHD_Result ht__route_tilejson(ht_server *s, struct MHD_Connection *c,
                                   request *rq, const char *const *args) {
    const char *name = args[0];
    query q;
    const ht_style *style;
    enum MHD_Result answer;
    if (!styled_query(s, c, rq, name, "", &q, &style, &answer)) {
        return answer;
    }
    char base[300], url[3000];
    ht__http_base_url(s, c, rq, base, sizeof base);
    /* The district, or the reader's area. */
    const ht_fgrid *area =
        rq->scope[0] ? ht_features_find_grid(s->feat, rq->scope) : NULL;
    ht_bbox ext = area ? area->bbox : s->extent;
    double w, so, e, n;
    ht_tile_merc_to_lonlat(ext.minx, ext.miny, &w, &so);
    ht_tile_merc_to_lonlat(ext.maxx, ext.maxy, &e, &n);
    json_t *j = json_object();
    json_object_set_new(j, "tilejson", json_string("3.0.0"));
    json_object_set_new(j, "name", json_string(name));
    json_object_set_new(j, "scheme", json_string("xyz"));
    snprintf(url, sizeof url, "%s/tiles/%s/{z}/{x}/{y}.png%s%s", base, name,
             q.text[0] ? "?" : "", q.text);
    json_object_set_new(j, "tiles", json_pack("[s]", url));
    json_object_set_new(j, "minzoom", json_integer(0));
    json_object_set_new(j, "maxzoom", json_integer(MAX_ZOOM));
    json_object_set_new(j, "bounds", json_pack("[f,f,f,f]", w, so, e, n));
    json_object_set_new(j, "center",
                        json_pack("[f,f,i]", (w + e) / 2, (so + n) / 2, 13));
    json_object_set_new(
        j, "attribution",
        json_string("hutong; grids and incidents: the district's data"));
    if (ht_render_style_has_legend(style)) {
        /* TileJSON's legend is HTML (or text): the image, its URL
         * escaped for an attribute */
        snprintf(url, sizeof url, "%s/legend/%s.png%s%s", base, name,
                 q.text[0] ? "?" : "", q.text);
        ht_buf *html = ht_buf_new();
        if (html) {
            ht_buf_appendf(html, NULL, "<img src=\"");
            ht_buf_append_escaped(html, url, NULL);
            ht_buf_appendf(html, NULL, "\" alt=\"");
            ht_buf_append_escaped(html, ht_style_name(style), NULL);
            ht_buf_appendf(html, NULL, " legend\">");
            json_object_set_new(j, "legend",
                                json_string((const char *)html->data));
        }
        ht_buf_free(html);
    }
    return ht__http_send_json(c, rq, j, "public, max-age=60");
}

enum MHD_Result ht__route_legend(ht_server *s, struct MHD_Connection *c,
                                 request *rq, const char *const *args) {
    const char *name = args[0];
    query q;
    const ht_style *style;
    enum MHD_Result answer;
    if (!styled_query(s, c, rq, name, "scale", &q, &style, &answer)) {
        return answer;
    }
    if (!ht_render_style_has_legend(style)) {
        return ht__http_send_error(c, rq, MHD_HTTP_NOT_FOUND,
                                   "this style has no heat layer to explain");
    }
    if (!ht__live_scope_filter(s, rq, &q.filter)) {
        return ht__routes_send_outside(c, rq);
    }
    return ht__maps_send_legend(s, c, rq, style, &q.filter, q.scale, false,
                                ht__http_cache_control_of(s, &q.filter));
}

/* GET /map.png|pdf?bbox=W,S,E,N|grid=CODE&width=&height=&crs=&style=
 * &scale=&transparent= + filters. */
static enum MHD_Result route_map(ht_server *s, struct MHD_Connection *c,
                                 request *rq, bool pdf) {
    query q;
    if (!ht__http_parse_query(
            c, "bbox width height crs style scale transparent", &q)) {
        return ht__http_send_error(c, rq, MHD_HTTP_BAD_REQUEST, q.bad);
    }
    char bad[160];
    long w = 1024, h = 768;
    if (!ht__http_count_param(&q, "width", 1, HT_WMS_MAX_SIZE, &w, bad,
                              sizeof bad) ||
        !ht__http_count_param(&q, "height", 1, HT_WMS_MAX_SIZE, &h, bad,
                              sizeof bad)) {
        return ht__http_send_error(c, rq, MHD_HTTP_BAD_REQUEST, bad);
    }
    if (q.scale > 4) {
        return ht__http_send_error(c, rq, MHD_HTTP_BAD_REQUEST,
                                   "scale: 0.25..4");
    }
    if (!pdf &&
        (w * q.scale > HT_WMS_MAX_SIZE || h * q.scale > HT_WMS_MAX_SIZE)) {
        return ht__http_send_error(
            c, rq, MHD_HTTP_BAD_REQUEST,
            "width and height times scale: at most 4096 px");
    }
    const char *bbox = ht__http_qget(&q, "bbox"),
               *crs = ht__http_qget(&q, "crs");
    const char *name =
        ht__http_qget(&q, "style") ? ht__http_qget(&q, "style") : "default";
    if (!bbox == !q.filter.grid[0]) {
        return ht__http_send_error(c, rq, MHD_HTTP_BAD_REQUEST,
                                   "bbox or grid: one of them sets the extent");
    }
    ht_error err = {0};
    const ht_style *style = ht__live_style_get(s, name, &err);
    if (!style) {
        return ht__http_send_error(c, rq, MHD_HTTP_NOT_FOUND, err.msg);
    }
    int pw = (int)lround((double)w * (pdf ? 1 : q.scale));
    int ph = (int)lround((double)h * (pdf ? 1 : q.scale));
    ht_render_req req = {
        .style = style,
        .crs = crs,
        .width = pw,
        .height = ph,
        .scale = pdf ? 1 : q.scale,
        .filter = &q.filter,
        .transparent = ht__http_qget(&q, "transparent") &&
                       strcmp(ht__http_qget(&q, "transparent"), "true") == 0};
    if (!ht__live_scope_filter(s, rq, &q.filter)) {
        return ht__routes_send_outside(c, rq);
    }
    req.clip_grid = rq->scope[0] ? rq->scope : NULL;
    if (bbox) {
        if (ht_bbox_parse(bbox, &req.bbox, NULL) != HT_OK) {
            return ht__http_send_error(
                c, rq, MHD_HTTP_BAD_REQUEST,
                "bbox: W,S,E,N in the crs, W < E and S < N");
        }
    } else if (ht_render_fit_grid(s->feat, q.filter.grid, crs, pw, ph,
                                  &req.bbox, &err) != HT_OK) {
        return ht__http_send_error(c, rq, MHD_HTTP_BAD_REQUEST, err.msg);
    }
    return ht__maps_send_image(s, c, rq, &req, 1, NULL,
                               pdf ? HT_IMAGE_PDF : HT_IMAGE_PNG,
                               ht__http_cache_control_of(s, &q.filter));
}

enum MHD_Result ht__route_map_png(ht_server *s, struct MHD_Connection *c,
                                  request *rq, const char *const *args) {
    (void)args;
    return route_map(s, c, rq, false);
}

enum MHD_Result ht__route_map_pdf(ht_server *s, struct MHD_Connection *c,
                                  request *rq, const char *const *args) {
    (void)args;
    return route_map(s, c, rq, true);
}

/* GET /print/{code}.pdf?paper=&orientation=&dpi=&crs=&layer=&style= +
 * filters: the printed page of one area (the last 30 days unless a time
 * filter says otherwise). A scoped reader prints only inside its area. */
enum MHD_Result ht__route_print(ht_server *s, struct MHD_Connection *c,
                                request *rq, const char *const *args) {
    const char *code = args[0];
    query q;
    enum MHD_Result answer;
    if (!ht__routes_area(s, c, rq, code,
                         "paper orientation dpi crs layer style", &q,
                         &answer)) {
        return answer;
    }
    ht_error err = {0};
    ht_print_opts po = ht_print_opts_default(q.now);
    char bad[160];
    long dpi = po.dpi;
    const char *paper = ht__http_qget(&q, "paper"),
               *orient = ht__http_qget(&q, "orientation"),
               *layer = ht__http_qget(&q, "layer");
    const char *style_name =
        ht__http_qget(&q, "style") ? ht__http_qget(&q, "style") : "print";
    char crs[HT_CRS_NAME_SIZE] = "EPSG:3857";
    if (!ht__http_count_param(&q, "dpi", HT_PRINT_MIN_DPI, HT_PRINT_MAX_DPI,
                              &dpi, bad, sizeof bad)) {
        return ht__http_send_error(c, rq, MHD_HTTP_BAD_REQUEST, bad);
    }
    po.dpi = (int)dpi;
    layer = layer ? layer : "heat";
    if ((paper && ht_print_paper_parse(paper, &po.paper, &err) != HT_OK) ||
        (orient &&
         ht_print_orientation_parse(orient, &po.orientation, &err) != HT_OK) ||
        (ht__http_qget(&q, "crs") &&
         ht_crs_normalize(ht__http_qget(&q, "crs"), crs, &err) != HT_OK)) {
        return ht__http_send_error(c, rq, MHD_HTTP_BAD_REQUEST, err.msg);
    }
    if (strcmp(layer, "heat") != 0 && strcmp(layer, "streetheat") != 0 &&
        strcmp(layer, "none") != 0) {
        return ht__http_send_error(c, rq, MHD_HTTP_BAD_REQUEST,
                                   "layer: heat, streetheat or none");
    }
    po.crs = crs;
    po.filter = q.filter;
    if (po.filter.from == INT64_MIN && po.filter.to == INT64_MAX) {
        ht_filter_set(&po.filter, "window", "30d", q.now, NULL);
    }
    po.style = ht__live_style_get(s, style_name, &err);
    po.layer =
        strcmp(layer, "none") == 0 ? NULL : ht__live_style_get(s, layer, &err);
    if (!po.style || (strcmp(layer, "none") != 0 && !po.layer)) {
        return ht__http_send_error(c, rq, MHD_HTTP_NOT_FOUND, err.msg);
    }
    worker *w = ht__live_worker_get(s, &err);
    ht_buf *out = w ? ht_buf_new() : NULL;
    ht_status st = !w     ? err.code
                   : !out ? ht_error_set(&err, HT_ENOMEM, "out of memory")
                          : ht_print_page_pdf(w->rend, w->store, s->feat, code,
                                              &po, out, NULL, &err);
    if (st != HT_OK) {
        ht_buf_free(out);
        return ht__http_send_failure(c, rq, st, err.msg);
    }
    return ht__http_send_ht_buf(c, rq, "application/pdf", out, NULL,
                                ht__http_cache_control_of(s, &po.filter));
}
