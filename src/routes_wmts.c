/* SPDX-License-Identifier: Apache-2.0 */
/* OGC WMTS 1.0.0, KVP (/wmts?) and RESTful (/wmts/1.0.0/...): every style
 * a layer, in Web Mercator and in Tianditu's grids, drawn natively in
 * each (CGCS2000 longitude/latitude too: not warped from Mercator). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hutong/clock.h"
#include "hutong/wmts.h"

#include "server_int.h"

enum MHD_Result ht__wmts_send_error(struct MHD_Connection *c, request *rq,
                                    const char *code, const char *locator,
                                    const char *msg) {
    char *x = ht_wmts_exception(code, locator, msg);
    if (!x) {
        return MHD_NO;
    }
    return ht__http_send_buf(c, rq, ht_wmts_exception_status(code),
                             "application/xml", x, strlen(x), NULL, NULL);
}

static enum MHD_Result capabilities(ht_server *s, struct MHD_Connection *c,
                                    request *rq) {
    char base[300];
    ht__http_base_url(s, c, rq, base, sizeof base);
    char *names[MAX_STYLES];
    ht_wms_layer layers[MAX_STYLES];
    size_t n;
    size_t m = ht__ows_layers(s, layers, names, &n);
    ht_wms_contact who = {s->contact[0], s->contact[1], s->contact[2]};
    char *xml = ht_wmts_capabilities(base, layers, m, ht__ows_extent(s), &who);
    for (size_t k = 0; k < n; k++) {
        free(names[k]);
    }
    if (!xml) {
        return ht__http_send_failure(c, rq, HT_ENOMEM, "out of memory");
    }
    return ht__http_send_buf(c, rq, MHD_HTTP_OK, "application/xml", xml,
                             strlen(xml), NULL, "public, max-age=300");
}

static enum MHD_Result tile(ht_server *s, struct MHD_Connection *c, request *rq,
                            const ht_wmts_req *w) {
    ht_error err = {0};
    const ht_style *style = ht__live_style_get(s, w->layer, &err);
    if (!style) {
        return ht__wmts_send_error(c, rq, "InvalidParameterValue", "LAYER",
                                   err.msg);
    }
    ht_bbox box;
    if (ht_wmts_tile_bbox(w->set, w->level, w->row, w->col, &box, &err) !=
        HT_OK) {
        return ht__wmts_send_error(c, rq, "TileOutOfRange", "TILEROW", err.msg);
    }
    bool merc = strcmp(w->set->crs, "EPSG:3857") == 0;
    /* A Mercator set's tile is an XYZ tile (Tianditu's "w" numbers its
     * levels as zoom levels): the same cache entry. */
    char where[64];
    if (merc) {
        snprintf(where, sizeof where, "%d/%u/%u", w->level, w->col, w->row);
    } else {
        snprintf(where, sizeof where, "%s:%d/%u/%u", w->set->id, w->level,
                 w->col, w->row);
    }
    ht__maps_tile t = {w->layer,       style, w->filter,
                       ht_clock_now(), box,   merc ? NULL : w->set->crs,
                       where,          1,     w->format};
    return ht__maps_send_tile(s, c, rq, &t);
}

static enum MHD_Result info(ht_server *s, struct MHD_Connection *c, request *rq,
                            const ht_wmts_req *w) {
    ht_wms_req q;
    memset(&q, 0, sizeof q);
    q.op = HT_WMS_GET_FEATURE_INFO;
    q.version = 0; /* answered as WMTS */
    snprintf(q.query_layers[0], sizeof q.query_layers[0], "%s", w->layer);
    q.nquery = 1;
    snprintf(q.crs, sizeof q.crs, "%s", w->set->crs);
    ht_error err = {0};
    if (ht_wmts_tile_bbox(w->set, w->level, w->row, w->col, &q.bbox, &err) !=
        HT_OK) {
        return ht__wmts_send_error(c, rq, "TileOutOfRange", "TILEROW", err.msg);
    }
    q.width = q.height = HT_WMTS_TILE;
    q.i = w->i;
    q.j = w->j;
    snprintf(q.info_format, sizeof q.info_format, "%s", w->info_format);
    q.filter = w->filter;
    return ht__ows_send_info(s, c, rq, &q);
}

static enum MHD_Result answer(ht_server *s, struct MHD_Connection *c,
                              request *rq, const ht_wmts_req *w) {
    switch (w->op) {
    case HT_WMTS_GET_CAPABILITIES:
        return capabilities(s, c, rq);
    case HT_WMTS_GET_TILE:
        return tile(s, c, rq, w);
    case HT_WMTS_GET_FEATURE_INFO:
        return info(s, c, rq, w);
    }
    return MHD_NO;
}

/* GET /wmts?SERVICE=WMTS&REQUEST=... (+ filters) */
enum MHD_Result ht__route_wmts(ht_server *s, struct MHD_Connection *c,
                               request *rq, const char *const *args) {
    (void)args;
    ht__ows_args a = {0};
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, ht__ows_on_arg, &a);
    if (a.too_many || a.not_text) {
        return ht__wmts_send_error(c, rq, "InvalidParameterValue", "",
                                   a.too_many
                                       ? "too many or too long parameters"
                                       : "a parameter is not UTF-8 text");
    }
    ht_wmts_req w;
    char code[40], locator[40];
    ht_error err = {0};
    if (ht_wmts_parse(a.keys, a.values, a.n, ht_clock_now(), &w, code, locator,
                      &err) != HT_OK) {
        return ht__wmts_send_error(c, rq, code, locator, err.msg);
    }
    return answer(s, c, rq, &w);
}

/* GET /wmts/1.0.0/WMTSCapabilities.xml, a tile
 * /wmts/1.0.0/{layer}/{style}/{set}/{level}/{row}/{col}.png (.jpg, .webp)
 * or its feature info .../{col}/{j}/{i}.json (.gml, .html, .txt), with the
 * filters in the query. */
enum MHD_Result ht__route_wmts_rest(ht_server *s, struct MHD_Connection *c,
                                    request *rq, const char *const *args) {
    query q;
    if (!ht__http_parse_query(c, "", &q)) {
        return ht__wmts_send_error(c, rq, "InvalidParameterValue", "", q.bad);
    }
    ht_wmts_req w;
    char code[40], locator[40];
    ht_error err = {0};
    if (ht_wmts_parse_rest(args[0], &q.filter, &w, code, locator, &err) !=
        HT_OK) {
        /* (a resource that is not there: 404, as REST has it) */
        unsigned status = strcmp(code, "OperationNotSupported") == 0
                              ? ht_wmts_exception_status(code)
                              : MHD_HTTP_NOT_FOUND;
        char *x = ht_wmts_exception(code, locator, err.msg);
        if (!x) {
            return MHD_NO;
        }
        return ht__http_send_buf(c, rq, status, "application/xml", x, strlen(x),
                                 NULL, NULL);
    }
    return answer(s, c, rq, &w);
}
