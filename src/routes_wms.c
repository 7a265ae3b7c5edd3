/* SPDX-License-Identifier: Apache-2.0 */
/* OGC WMS 1.3.0 and 1.1.1. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hutong/clock.h"
#include "hutong/stats.h"
#include "hutong/tile.h"
#include "hutong/wms.h"

#include "server_int.h"

enum MHD_Result ht__ows_on_arg(void *cls, enum MHD_ValueKind kind,
                               const char *key, const char *value) {
    (void)kind;
    ht__ows_args *a = cls;
    a->bytes += strlen(key) + (value ? strlen(value) : 0) + 2;
    if (a->n == 64 || a->bytes > MAX_QUERY) {
        a->too_many = true;
        return MHD_NO;
    }
    if (!ht__http_text_ok(key) || !ht__http_text_ok(value)) {
        a->not_text = true;
        return MHD_NO;
    }
    a->keys[a->n] = key;
    a->values[a->n++] = value;
    return MHD_YES;
}

/* An exception report of WMS @version, or of WMTS (version 0). */
static enum MHD_Result wms_error(struct MHD_Connection *c, request *rq,
                                 int version, const char *code,
                                 const char *msg) {
    if (version == 0) {
        return ht__wmts_send_error(c, rq, code, "", msg);
    }
    char *x = ht_wms_exception(version, code, msg);
    if (!x) {
        return MHD_NO;
    }
    return ht__http_send_buf(c, rq, MHD_HTTP_BAD_REQUEST,
                             ht_wms_exception_type(version), x, strlen(x), NULL,
                             NULL);
}

static const struct {
    const char *name, *title;
} style_titles[] = {
    {"default", "标准底图 base map (light)"},
    {"wall", "大屏底图 command-center base map (dark)"},
    {"print", "打印底图 print base map"},
    {"report", "报告底图 report base map (small scales)"},
    {"grids", "单元网格 unit grid outlines"},
    {"heat", "事件热力 incident density (incidents/km²)"},
    {"heatrate", "日均热力 incident density per day (365-day scale)"},
    {"report-heat", "区级热力 incident density at district scale (400 m)"},
    {"lateness", "超时热力 density of incidents late now"},
    {"overdue", "超时事件 incidents late now, by hours late"},
    {"streetheat", "街巷热度 street heat (incidents per 100 m)"},
    {"choropleth", "网格密度 grid density (Jenks classes)"},
    {"hotspots", "热点分析 hotspots (Getis-Ord Gi*)"}};

/* Whether GetFeatureInfo answers about a layer of @st: an overlay (no
 * background: a base map, dots and all, is not) that shows the incidents
 * (heat, street heat, classes, hotspots, dots) or the grids' shapes (not
 * only their labels). */
static bool style_queryable(const ht_style *st) {
    bool data = false, background = false, grids = false;
    for (size_t k = 0; k < ht_style_layer_count(st); k++) {
        const ht_style_layer *l = ht_style_layer_at(st, k);
        data |=
            l->type == HT_LAYER_HEATMAP || l->type == HT_LAYER_STREET_HEAT ||
            l->type == HT_LAYER_CHOROPLETH || l->type == HT_LAYER_HOTSPOT ||
            (l->type == HT_LAYER_CIRCLE && l->source == HT_SOURCE_INCIDENTS);
        background |= l->type == HT_LAYER_BACKGROUND;
        grids |= l->source == HT_SOURCE_GRIDS &&
                 (l->type == HT_LAYER_FILL || l->type == HT_LAYER_LINE);
    }
    return !background && (data || grids);
}

size_t ht__ows_layers(ht_server *s, ht_wms_layer *layers, char **names,
                      size_t *nnames) {
    size_t n = ht__live_style_names(names, MAX_STYLES);
    size_t m = 0;
    for (size_t k = 0; k < n; k++) {
        const ht_style *st = ht__live_style_get(s, names[k], NULL);
        if (!st) {
            continue; /* a broken style is not offered */
        }
        layers[m] = (ht_wms_layer){names[k],
                                   names[k],
                                   NULL,
                                   ht_render_style_has_legend(st),
                                   style_queryable(st),
                                   1,
                                   1};
        if (layers[m].legend) {
            ht_render_legend_size(st, 1, &layers[m].legend_w,
                                  &layers[m].legend_h);
        }
        for (size_t t = 0; t < sizeof style_titles / sizeof *style_titles;
             t++) {
            if (strcmp(style_titles[t].name, names[k]) == 0) {
                layers[m].title = style_titles[t].title;
            }
        }
        m++;
    }
    *nnames = n;
    return m;
}

ht_bbox ht__ows_extent(const ht_server *s) {
    ht_bbox ll;
    ht_tile_merc_to_lonlat(s->extent.minx, s->extent.miny, &ll.minx, &ll.miny);
    ht_tile_merc_to_lonlat(s->extent.maxx, s->extent.maxy, &ll.maxx, &ll.maxy);
    return ll;
}

static enum MHD_Result wms_capabilities(ht_server *s, struct MHD_Connection *c,
                                        request *rq, int version) {
    char base[300];
    ht__http_base_url(s, c, rq, base, sizeof base);
    char *names[MAX_STYLES];
    ht_wms_layer layers[MAX_STYLES];
    size_t n;
    size_t m = ht__ows_layers(s, layers, names, &n);
    ht_bbox ll = ht__ows_extent(s);
    ht_bbox boxes[8];
    for (size_t k = 0; k < ht_wms_ncrs && k < 8; k++) {
        /* The extent's edges, sampled, in each CRS. */
        ht_transform *t = NULL;
        boxes[k] = ht_bbox_empty();
        if (ht_crs_transform_new("EPSG:4326", ht_wms_crs[k], &t, NULL) ==
            HT_OK) {
            for (int q = 0; q <= 16; q++) {
                double fx = ll.minx + (ll.maxx - ll.minx) * q / 16;
                double fy = ll.miny + (ll.maxy - ll.miny) * q / 16;
                double pts[4][2] = {
                    {fx, ll.miny}, {fx, ll.maxy}, {ll.minx, fy}, {ll.maxx, fy}};
                for (int p = 0; p < 4; p++) {
                    double x, y;
                    if (ht_crs_transform_point(t, pts[p][0], pts[p][1], &x, &y,
                                               NULL) == HT_OK) {
                        ht_bbox_add(&boxes[k], x, y);
                    }
                }
            }
        }
        ht_crs_transform_free(t);
    }
    ht_wms_contact who = {s->contact[0], s->contact[1], s->contact[2]};
    char *xml = ht_wms_capabilities(version, base, layers, m, ll, boxes, &who);
    for (size_t k = 0; k < n; k++) {
        free(names[k]);
    }
    if (!xml) {
        return ht__http_send_failure(c, rq, HT_ENOMEM, "out of memory");
    }
    return ht__http_send_buf(
        c, rq, MHD_HTTP_OK,
        version == 111 ? "application/vnd.ogc.wms_xml" : "text/xml", xml,
        strlen(xml), NULL, "public, max-age=300");
}

static enum MHD_Result wms_map(ht_server *s, struct MHD_Connection *c,
                               request *rq, const ht_wms_req *w) {
    ht_error err = {0};
    const ht_style *styles[HT_WMS_MAX_LAYERS];
    for (int k = 0; k < w->nlayers; k++) {
        if (!(styles[k] = ht__live_style_get(s, w->layers[k], &err))) {
            return wms_error(c, rq, w->version, "LayerNotDefined", err.msg);
        }
    }
    ht_filter f = w->filter;
    if (!ht__live_scope_filter(s, rq, &f)) {
        return ht__routes_send_outside(c, rq);
    }
    /* Later layers lay over earlier ones: no backgrounds. */
    ht_render_req reqs[HT_WMS_MAX_LAYERS];
    for (int k = 0; k < w->nlayers; k++) {
        reqs[k] = (ht_render_req){.style = styles[k],
                                  .bbox = w->bbox,
                                  .crs = w->crs,
                                  .width = w->width,
                                  .height = w->height,
                                  .scale = 1,
                                  .filter = &f,
                                  .transparent = w->transparent || k > 0,
                                  .clip_grid = rq->scope[0] ? rq->scope : NULL};
    }
    ht_rgba bg = {w->bgcolor.r, w->bgcolor.g, w->bgcolor.b, 1};
    worker *wk = ht__live_worker_get(s, &err);
    ht_buf *img = wk ? ht_buf_new() : NULL;
    /* (JPEG has no transparency: over the background) */
    bool clear = (w->transparent || rq->scope[0]) && w->format != HT_IMAGE_JPEG;
    ht_status st =
        !wk    ? err.code
        : !img ? ht_error_set(&err, HT_ENOMEM, "out of memory")
               : ht_render_to_buf(wk->rend, reqs, (size_t)w->nlayers,
                                  clear ? NULL : &bg, w->format, img, &err);
    if (st != HT_OK) {
        ht_buf_free(img);
        return st == HT_EINVAL ? wms_error(c, rq, w->version,
                                           "InvalidParameterValue", err.msg)
                               : ht__http_send_failure(c, rq, st, err.msg);
    }
    return ht__http_send_ht_buf(c, rq, ht_image_format_mime(w->format), img,
                                NULL, ht__http_cache_control_of(s, &w->filter));
}

static enum MHD_Result wms_legend(ht_server *s, struct MHD_Connection *c,
                                  request *rq, const ht_wms_req *w) {
    ht_error err = {0};
    const ht_style *style = ht__live_style_get(s, w->layers[0], &err);
    if (!style) {
        return wms_error(c, rq, w->version, "LayerNotDefined", err.msg);
    }
    ht_filter f = w->filter;
    if (!ht__live_scope_filter(s, rq, &f)) {
        return ht__routes_send_outside(c, rq);
    }
    /* Base maps have no units to explain: an empty graphic. */
    return ht__maps_send_legend(s, c, rq, style, &f, w->scale, true,
                                ht__http_cache_control_of(s, &w->filter));
}

/* GML 2 coordinates of a GeoJSON ring: "x,y x,y ...". */
static void gml_ring(ht_buf *b, const json_t *ring) {
    size_t k;
    const json_t *pt;
    ht_buf_appendf(b, NULL,
                   "<gml:LinearRing><gml:coordinates decimal=\".\" cs=\",\" "
                   "ts=\" \">");
    json_array_foreach(ring, k, pt) {
        ht_buf_appendf(b, NULL, "%s%.15g,%.15g", k ? " " : "",
                       json_number_value(json_array_get(pt, 0)),
                       json_number_value(json_array_get(pt, 1)));
    }
    ht_buf_appendf(b, NULL, "</gml:coordinates></gml:LinearRing>");
}

/* A GeoJSON (Multi)Polygon as a GML 2 MultiPolygon in @crs. */
static void gml_geometry(ht_buf *b, const json_t *geom, const char *crs) {
    const char *type = json_string_value(json_object_get(geom, "type"));
    const json_t *coords = json_object_get(geom, "coordinates");
    bool multi = type && strcmp(type, "MultiPolygon") == 0;
    if (!type || (!multi && strcmp(type, "Polygon") != 0)) {
        return;
    }
    ht_buf_appendf(b, NULL, "<gml:MultiPolygon srsName=\"");
    ht_buf_append_escaped(b, crs, NULL);
    ht_buf_appendf(b, NULL, "\">");
    size_t np = multi ? json_array_size(coords) : 1;
    for (size_t p = 0; p < np; p++) {
        const json_t *poly = multi ? json_array_get(coords, p) : coords;
        size_t k;
        const json_t *ring;
        ht_buf_appendf(b, NULL, "<gml:polygonMember><gml:Polygon>");
        json_array_foreach(poly, k, ring) {
            ht_buf_appendf(
                b, NULL, k ? "<gml:innerBoundaryIs>" : "<gml:outerBoundaryIs>");
            gml_ring(b, ring);
            ht_buf_appendf(
                b, NULL,
                k ? "</gml:innerBoundaryIs>" : "</gml:outerBoundaryIs>");
        }
        ht_buf_appendf(b, NULL, "</gml:Polygon></gml:polygonMember>");
    }
    ht_buf_appendf(b, NULL, "</gml:MultiPolygon>");
}

/* GetFeatureInfo in GML: the grid at the point (none: an empty
 * collection) with its figures and its outline in @crs. */
static void info_gml(ht_buf *b, const ht_fgrid *hit, int64_t total,
                     const ht_stats_row *rows, size_t n, const json_t *geom,
                     const char *crs) {
    ht_buf_appendf(b, NULL,
                   "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                   "<wfs:FeatureCollection "
                   "xmlns:wfs=\"http://www.opengis.net/wfs\" "
                   "xmlns:gml=\"http://www.opengis.net/gml\" "
                   "xmlns:hutong=\"urn:x-hutong\">\n");
    if (hit) {
        ht_buf_appendf(b, NULL,
                       "  <gml:featureMember>\n    <hutong:grid "
                       "fid=\"grid.");
        ht_buf_append_escaped(b, hit->code, NULL);
        ht_buf_appendf(b, NULL, "\">\n      <hutong:code>");
        ht_buf_append_escaped(b, hit->code, NULL);
        ht_buf_appendf(b, NULL, "</hutong:code>\n      <hutong:name>");
        ht_buf_append_escaped(b, hit->name ? hit->name : "", NULL);
        ht_buf_appendf(b, NULL,
                       "</hutong:name>\n      <hutong:level>%s</hutong:level>\n"
                       "      <hutong:incidents>%lld</hutong:incidents>\n"
                       "      <hutong:by_category>",
                       ht_model_level_name(hit->level), (long long)total);
        for (size_t k = 0; k < n && k < 10; k++) {
            ht_buf_appendf(b, NULL, "%s", k ? "; " : "");
            ht_buf_append_escaped(b, rows[k].name, NULL);
            ht_buf_appendf(b, NULL, " %lld", (long long)rows[k].count);
        }
        ht_buf_appendf(b, NULL, "</hutong:by_category>\n");
        if (geom) {
            ht_buf_appendf(b, NULL, "      <hutong:geometry>");
            gml_geometry(b, geom, crs);
            ht_buf_appendf(b, NULL, "</hutong:geometry>\n");
        }
        ht_buf_appendf(b, NULL, "    </hutong:grid>\n  </gml:featureMember>\n");
    }
    ht_buf_appendf(b, NULL, "</wfs:FeatureCollection>\n");
}

enum MHD_Result ht__ows_send_info(ht_server *s, struct MHD_Connection *c,
                                  request *rq, const ht_wms_req *w) {
    ht_error err = {0};
    /* Each layer asked about: one there, and one that answers. */
    for (int k = 0; k < w->nquery; k++) {
        const ht_style *st = ht__live_style_get(s, w->query_layers[k], &err);
        if (!st) {
            return wms_error(c, rq, w->version, "LayerNotDefined", err.msg);
        }
        if (!style_queryable(st)) {
            char msg[160];
            snprintf(msg, sizeof msg,
                     "layer \"%s\" is a base map: GetFeatureInfo answers "
                     "about the layers marked queryable",
                     w->query_layers[k]);
            return wms_error(c, rq, w->version, "LayerNotQueryable", msg);
        }
    }
    double x =
        w->bbox.minx + (w->i + 0.5) * (w->bbox.maxx - w->bbox.minx) / w->width;
    double y =
        w->bbox.maxy - (w->j + 0.5) * (w->bbox.maxy - w->bbox.miny) / w->height;
    worker *wk = ht__live_worker_get(s, &err);
    if (!wk) {
        return ht__http_send_failure(c, rq, err.code, err.msg);
    }
    /* The worker keeps one transform per served CRS. */
    size_t ci = 0; /* the request's CRS is one served (checked) */
    while (ci + 1 < ht_wms_ncrs && strcmp(ht_wms_crs[ci], w->crs) != 0) {
        ci++;
    }
    ht_transform **t = &wk->to_wgs84[ci];
    double lon, lat, mx, my;
    if ((!*t && ht_crs_transform_new(w->crs, "EPSG:4326", t, &err) != HT_OK) ||
        ht_crs_transform_point(*t, x, y, &lon, &lat, &err) != HT_OK) {
        return wms_error(c, rq, w->version, "InvalidPoint", err.msg);
    }
    ht_tile_lonlat_to_merc(lon, lat, &mx, &my);
    const ht_fgrid *hit = ht__live_grid_at(s->feat, mx, my);
    if (hit && rq->scope[0] && !ht__live_in_scope(s, hit->code, rq->scope)) {
        hit = NULL; /* not this reader's to see */
    }
    ht_stats_row *rows = NULL;
    size_t n = 0;
    int64_t total = 0;
    /* The figures are the clicked grid's (within a grid filter, when one
     * is given: nothing when the grid lies outside it), never another's. */
    if (hit && (!w->filter.grid[0] ||
                ht__live_in_scope(s, hit->code, w->filter.grid))) {
        ht_filter f = w->filter;
        snprintf(f.grid, sizeof f.grid, "%s", hit->code);
        if (ht__live_stats(s, wk->store, &f, HT_STATS_BY_CATEGORY, &rows, &n,
                           &err) != HT_OK) {
            return wms_error(c, rq, w->version, "InvalidParameterValue",
                             err.msg);
        }
        for (size_t k = 0; k < n; k++) {
            total += rows[k].count;
        }
    }
    ht_buf *b = ht_buf_new();
    const char *type = w->info_format;
    if (!b) {
        free(rows);
        return MHD_NO;
    }
    if (strcmp(type, "application/json") == 0) {
        json_t *fc =
            json_pack("{s:s, s:[]}", "type", "FeatureCollection", "features");
        if (hit) {
            json_t *props = ht__api_grid_json(hit);
            json_object_set_new(props, "incidents", json_integer(total));
            json_t *cats = json_array();
            for (size_t k = 0; k < n && k < 10; k++) {
                json_array_append_new(
                    cats, json_pack("{s:s, s:s, s:I}", "code", rows[k].key,
                                    "name", rows[k].name, "count",
                                    (json_int_t)rows[k].count));
            }
            json_object_set_new(props, "by_category", cats);
            /* its outline in the request's CRS (x, y), as WMS clients
             * draw it; named when not WGS 84 */
            json_t *geom = ht__api_grid_geometry(wk, hit->code, w->crs);
            json_array_append_new(
                json_object_get(fc, "features"),
                json_pack("{s:s, s:s, s:o, s:o}", "type", "Feature", "id",
                          hit->code, "properties", props, "geometry",
                          geom ? geom : json_null()));
            if (strncmp(w->crs, "EPSG:", 5) == 0 &&
                strcmp(w->crs, "EPSG:4326") != 0) {
                char urn[64];
                snprintf(urn, sizeof urn, "urn:ogc:def:crs:EPSG::%s",
                         strchr(w->crs, ':') + 1);
                json_object_set_new(fc, "crs",
                                    json_pack("{s:s, s:{s:s}}", "type", "name",
                                              "properties", "name", urn));
            }
        }
        char *text = json_dumps(
            fc, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
        json_decref(fc);
        if (text) {
            ht_buf_append(b, text, strlen(text), NULL);
        }
        free(text);
    } else if (strcmp(type, HT_WMS_GML) == 0) {
        json_t *geom =
            hit ? ht__api_grid_geometry(wk, hit->code, w->crs) : NULL;
        info_gml(b, hit, total, rows, n, geom, w->crs);
        json_decref(geom);
    } else if (strcmp(type, "text/html") == 0) {
        ht_buf_appendf(b, NULL,
                       "<!DOCTYPE html><html><head><meta charset=\"utf-8\">"
                       "<title>hutong</title></head><body>");
        if (hit) {
            ht_buf_appendf(b, NULL, "<h3>");
            ht_buf_append_escaped(b, hit->name, NULL);
            ht_buf_appendf(b, NULL, "</h3><p>");
            ht_buf_append_escaped(b, hit->code, NULL);
            ht_buf_appendf(b, NULL,
                           " &middot; %s &middot; %lld incidents</p><table>",
                           ht_model_level_name(hit->level), (long long)total);
            for (size_t k = 0; k < n && k < 10; k++) {
                ht_buf_appendf(b, NULL, "<tr><td>");
                ht_buf_append_escaped(b, rows[k].name, NULL);
                ht_buf_appendf(b, NULL, "</td><td>%lld</td></tr>",
                               (long long)rows[k].count);
            }
            ht_buf_appendf(b, NULL, "</table>");
        } else {
            ht_buf_appendf(b, NULL, "<p>No grid here.</p>");
        }
        ht_buf_appendf(b, NULL, "</body></html>\n");
        type = "text/html; charset=utf-8";
    } else {
        if (hit) {
            ht_buf_appendf(b, NULL, "grid %s %s (%s): %lld incidents\n",
                           hit->code, hit->name ? hit->name : "",
                           ht_model_level_name(hit->level), (long long)total);
            for (size_t k = 0; k < n && k < 10; k++) {
                ht_buf_appendf(b, NULL, "  %s %s: %lld\n", rows[k].key,
                               rows[k].name, (long long)rows[k].count);
            }
        } else {
            ht_buf_appendf(b, NULL, "no grid here\n");
        }
        type = "text/plain; charset=utf-8";
    }
    free(rows);
    return ht__http_send_ht_buf(c, rq, type, b, NULL, "no-cache");
}

enum MHD_Result ht__route_wms(ht_server *s, struct MHD_Connection *c,
                              request *rq, const char *const *args) {
    (void)args;
    ht__ows_args a = {0};
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, ht__ows_on_arg, &a);
    if (a.too_many) {
        return wms_error(c, rq, 130, "InvalidParameterValue",
                         "too many or too long parameters");
    }
    if (a.not_text) {
        return wms_error(c, rq, 130, "InvalidParameterValue",
                         "a parameter is not UTF-8 text");
    }
    ht_wms_req w;
    char code[40];
    ht_error err = {0};
    if (ht_wms_parse(a.keys, a.values, a.n, ht_clock_now(), &w, code, &err) !=
        HT_OK) {
        return wms_error(c, rq, w.version, code, err.msg);
    }
    switch (w.op) {
    case HT_WMS_GET_CAPABILITIES:
        return wms_capabilities(s, c, rq, w.version);
    case HT_WMS_GET_MAP:
        return wms_map(s, c, rq, &w);
    case HT_WMS_GET_FEATURE_INFO:
        return ht__ows_send_info(s, c, rq, &w);
    case HT_WMS_GET_LEGEND_GRAPHIC:
        return wms_legend(s, c, rq, &w);
    }
    return MHD_NO;
}
