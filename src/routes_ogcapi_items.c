/* SPDX-License-Identifier: Apache-2.0 */
/* OGC API Features: the collections' items, paged, filtered, boxed and
 * in the CRS asked (Part 2), and one feature. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hutong/datetime.h"
#include "hutong/model.h"
#include "hutong/ogcapi.h"
#include "hutong/stats.h"
#include "hutong/tile.h"

#include "routes_ogcapi_int.h"

/* ---- geometry in the asked CRS ---- */

typedef struct out_crs {
    const ht_ogc_crs *crs;
    ht_transform *t; /* from WGS 84 (EPSG:4548), the worker's */
    bool metres;
} out_crs;

/* Position (@lon, @lat) in @o's CRS and axis order: 1 cm (7 decimals of
 * a degree, 2 of a metre). */
static json_t *position(const out_crs *o, double lon, double lat) {
    double x = lon, y = lat;
    if (strcmp(o->crs->name, "EPSG:3857") == 0) {
        ht_tile_lonlat_to_merc(lon, lat, &x, &y);
    } else if (o->t) {
        ht_crs_transform_point(o->t, lon, lat, &x, &y, NULL);
    }
    double f = o->metres ? 1e2 : 1e7;
    x = round(x * f) / f;
    y = round(y * f) / f;
    return o->crs->north_first ? json_pack("[f,f]", y, x)
                               : json_pack("[f,f]", x, y);
}

/* @g (EPSG:3857: polygons or lines) as GeoJSON in @o. */
static json_t *geometry(const ht_geom *g, const out_crs *o) {
    bool poly = g->type == HT_GEOM_POLYGON || g->type == HT_GEOM_MULTIPOLYGON;
    json_t *all = json_array();
    size_t n = poly ? g->npolys : g->nparts;
    for (size_t j = 0; j < n; j++) {
        size_t i0 = poly ? g->polys[j] : j;
        size_t i1 = poly ? ht_geom_poly_end(g, j) : j + 1;
        json_t *rings = json_array();
        for (size_t i = i0; i < i1; i++) {
            json_t *ring = json_array();
            for (size_t k = g->parts[i]; k < ht_geom_part_end(g, i); k++) {
                double lon, lat;
                ht_tile_merc_to_lonlat(g->pts[k].x, g->pts[k].y, &lon, &lat);
                json_array_append_new(ring, position(o, lon, lat));
            }
            json_array_append_new(rings, ring);
        }
        json_array_append_new(
            all, poly ? rings : json_incref(json_array_get(rings, 0)));
        if (!poly) {
            json_decref(rings);
        }
    }
    if (!poly && n == 1) {
        json_t *line = json_incref(json_array_get(all, 0));
        json_decref(all);
        return json_pack("{s:s, s:o}", "type", "LineString", "coordinates",
                         line);
    }
    return json_pack("{s:s, s:o}", "type",
                     poly ? "MultiPolygon" : "MultiLineString", "coordinates",
                     all);
}

/* A point feature's WGS 84 position again, in @o. */
static void reproject_point(json_t *feature, const out_crs *o) {
    json_t *c =
        json_object_get(json_object_get(feature, "geometry"), "coordinates");
    double lon = json_number_value(json_array_get(c, 0));
    double lat = json_number_value(json_array_get(c, 1));
    json_object_set_new(json_object_get(feature, "geometry"), "coordinates",
                        position(o, lon, lat));
}

/* ---- items ---- */

typedef struct items_req {
    coll k;
    query q;
    size_t limit;
    out_crs out;
    bool has_box;
    ht_bbox box; /* EPSG:3857 */
} items_req;

static const char *crs_names(void) {
    return "crs: " HT_OGC_CRS84
           " or http://www.opengis.net/def/crs/EPSG/0/ 4326, 4490, 4548, "
           "3857";
}

/* @v (4 numbers in @crs's axis order) as a box in EPSG:3857. */
static bool box_to_merc(const double v[4], const ht_ogc_crs *crs, worker *w,
                        ht_bbox *out) {
    double b[4] = {v[0], v[1], v[2], v[3]};
    if (crs->north_first) {
        b[0] = v[1], b[1] = v[0], b[2] = v[3], b[3] = v[2];
    }
    if (strcmp(crs->name, "EPSG:3857") == 0) {
        *out = (ht_bbox){b[0], b[1], b[2], b[3]};
        return true;
    }
    ht_bbox ll = {b[0], b[1], b[2], b[3]};
    if (strcmp(crs->name, "EPSG:4548") == 0) {
        /* its edges, sampled, in longitude/latitude */
        size_t ci = 0;
        while (ci + 1 < ht_wms_ncrs && strcmp(ht_wms_crs[ci], crs->name)) {
            ci++;
        }
        ht_transform **t = &w->to_wgs84[ci];
        if (!*t &&
            ht_crs_transform_new(crs->name, "EPSG:4326", t, NULL) != HT_OK) {
            return false;
        }
        ll = ht_bbox_empty();
        for (int q = 0; q <= 16; q++) {
            double fx = b[0] + (b[2] - b[0]) * q / 16;
            double fy = b[1] + (b[3] - b[1]) * q / 16;
            double pts[4][2] = {{fx, b[1]}, {fx, b[3]}, {b[0], fy}, {b[2], fy}};
            for (int p = 0; p < 4; p++) {
                double x, y;
                if (ht_crs_transform_point(*t, pts[p][0], pts[p][1], &x, &y,
                                           NULL) != HT_OK) {
                    return false;
                }
                ht_bbox_add(&ll, x, y);
            }
        }
    }
    if (!(ll.minx >= -180 && ll.maxx <= 180 && ll.miny >= -90 &&
          ll.maxy <= 90)) {
        return false;
    }
    ht_tile_lonlat_to_merc(ll.minx, ll.miny, &out->minx, &out->miny);
    ht_tile_lonlat_to_merc(ll.maxx, ll.maxy, &out->maxx, &out->maxy);
    return true;
}

/* The items' parameters: false with the answer queued on a bad one. */
static bool items_parse(ht_server *s, struct MHD_Connection *c, request *rq,
                        worker *w, items_req *r, enum MHD_Result *answer) {
    query *q = &r->q;
    if (!ht__http_parse_query(c, ht__ogc_colls[r->k].params, q)) {
        *answer = ht__http_send_error(c, rq, MHD_HTTP_BAD_REQUEST, q->bad);
        return false;
    }
    char bad[300] = "";
    ht_filter all = ht_filter_all();
    const char *f = ht__http_qget(q, "f");
    long limit = 100;
    const ht_ogc_crs *out = ht_ogc_crs_find(ht__http_qget(q, "crs"));
    const char *bbox_crs = ht__http_qget(q, "bbox-crs");
    const ht_ogc_crs *in =
        bbox_crs ? ht_ogc_crs_find(bbox_crs) : &ht_ogc_crss[0];
    const char *bbox = ht__http_qget(q, "bbox");
    const char *dt = ht__http_qget(q, "datetime");
    ht_error err = {0};
    if (f && strcmp(f, "json") != 0) {
        snprintf(bad, sizeof bad, "f: json (GeoJSON)");
    } else if (!ht__http_count_param(q, "limit", 1, MAX_LIMIT, &limit, bad,
                                     sizeof bad)) {
    } else if (ht__http_qget(q, "crs") && !out) {
        snprintf(bad, sizeof bad, "%s", crs_names());
    } else if (!in) {
        snprintf(bad, sizeof bad, "bbox-%s", crs_names());
    } else if (r->k == STREETS && memcmp(&q->filter, &all, sizeof all) != 0) {
        snprintf(bad, sizeof bad,
                 "streets: the incident filters do not apply to them");
    } else if (dt &&
               (q->filter.from != INT64_MIN || q->filter.to != INT64_MAX)) {
        snprintf(bad, sizeof bad,
                 "datetime, or from, to and window: one or the other");
    } else if (dt && ht_ogc_datetime(dt, &q->filter.from, &q->filter.to,
                                     &err) != HT_OK) {
        snprintf(bad, sizeof bad, "%s", err.msg);
    } else if (bbox) {
        double v[4];
        if (ht_ogc_bbox(bbox, v, &err) != HT_OK) {
            snprintf(bad, sizeof bad, "%s", err.msg);
        } else if (!box_to_merc(v, in, w, &r->box)) {
            snprintf(bad, sizeof bad,
                     "bbox: outside the world of its CRS (%s; longitude "
                     "first in CRS84, latitude first in EPSG:4326 and 4490)",
                     in->uri);
        }
        r->has_box = true;
    }
    if (bad[0]) {
        *answer = ht__http_send_error(c, rq, MHD_HTTP_BAD_REQUEST, bad);
        return false;
    }
    if (!ht__live_scope_filter(s, rq, &q->filter)) {
        *answer = ht__routes_send_outside(c, rq);
        return false;
    }
    r->limit = (size_t)limit;
    r->out.crs = out ? out : &ht_ogc_crss[0];
    r->out.metres = strcmp(r->out.crs->name, "EPSG:4548") == 0 ||
                    strcmp(r->out.crs->name, "EPSG:3857") == 0;
    if (strcmp(r->out.crs->name, "EPSG:4548") == 0) {
        size_t ci = 0;
        while (ci + 1 < ht_wms_ncrs && strcmp(ht_wms_crs[ci], "EPSG:4548")) {
            ci++;
        }
        ht_transform **t = &w->from_wgs84[ci];
        if (!*t &&
            ht_crs_transform_new("EPSG:4326", "EPSG:4548", t, &err) != HT_OK) {
            *answer = ht__http_send_failure(c, rq, err.code, err.msg);
            return false;
        }
        r->out.t = *t;
    }
    return true;
}

/* The query string of a link: the request's parameters but @drop, then
 * @add (each may be NULL). */
static void link_query(const query *q, const char *drop, const char *add,
                       char *out, size_t size) {
    size_t o = 0;
    out[0] = '\0';
    for (const char *p = q->text; *p;) {
        size_t len = strcspn(p, "&");
        size_t klen = strcspn(p, "=");
        bool skip = drop && klen == strlen(drop) && strncmp(p, drop, klen) == 0;
        if (!skip && o + len + 2 < size) {
            o += (size_t)snprintf(out + o, size - o, "%s%.*s", o ? "&" : "",
                                  (int)len, p);
        }
        p += len + (p[len] == '&');
    }
    if (add && o + strlen(add) + 2 < size) {
        snprintf(out + o, size - o, "%s%s", o ? "&" : "", add);
    }
}

/* The figures of the page's grids: by street office, community and grid
 * (the district: the sum of its offices), for the query's filters. */
typedef struct figures {
    ht_stats_row *rows[3];
    size_t n[3];
} figures;

static int cmp_row(const void *a, const void *b) {
    return strcmp(((const ht_stats_row *)a)->key,
                  ((const ht_stats_row *)b)->key);
}

/* Which of the figures' groupings holds @g's row (0: street offices,
 * whose sum is the district's; 1: communities; 2: unit grids). */
static int grouping_of(const ht_fgrid *g) {
    return g->level == HT_LEVEL_GRID        ? 2
           : g->level == HT_LEVEL_COMMUNITY ? 1
                                            : 0;
}

static ht_status figures_get(ht_server *s, worker *w, const ht_filter *f,
                             const bool need[3], figures *out, ht_error *err) {
    static const ht_stats_by by[3] = {HT_STATS_BY_STREET, HT_STATS_BY_COMMUNITY,
                                      HT_STATS_BY_GRID};
    memset(out, 0, sizeof *out);
    for (int k = 0; k < 3; k++) {
        if (!need[k]) {
            continue;
        }
        ht_status st = ht__live_stats(s, w->store, f, by[k], &out->rows[k],
                                      &out->n[k], err);
        if (st != HT_OK) {
            return st;
        }
        qsort(out->rows[k], out->n[k], sizeof *out->rows[k], cmp_row);
    }
    return HT_OK;
}

static json_t *rate(int64_t on_time, int64_t decided) {
    return decided > 0
               ? json_real(round((double)on_time / (double)decided * 1e4) / 1e4)
               : json_null();
}

/* @g's figures into @props: its row (the district's: its offices'). */
static void figures_put(const figures *fig, const ht_fgrid *g, json_t *props) {
    ht_stats_row sum;
    memset(&sum, 0, sizeof sum);
    const ht_stats_row *r = NULL;
    if (g->level == HT_LEVEL_DISTRICT) {
        for (size_t k = 0; k < fig->n[0]; k++) {
            const ht_stats_row *o = &fig->rows[0][k];
            sum.count += o->count;
            sum.open += o->open;
            sum.overdue += o->overdue;
            sum.response_on_time += o->response_on_time;
            sum.response_decided += o->response_decided;
            sum.resolution_on_time += o->resolution_on_time;
            sum.resolution_decided += o->resolution_decided;
            sum.satisfied += o->satisfied;
            sum.rated += o->rated;
        }
        r = &sum;
    } else {
        int k = grouping_of(g);
        ht_stats_row key;
        snprintf(key.key, sizeof key.key, "%s", g->code);
        r = fig->rows[k]
                ? bsearch(&key, fig->rows[k], fig->n[k], sizeof key, cmp_row)
                : NULL;
        if (!r) {
            r = &sum; /* none: zeros */
        }
    }
    json_object_set_new(props, "incidents", json_integer(r->count));
    json_object_set_new(props, "open", json_integer(r->open));
    json_object_set_new(props, "overdue", json_integer(r->overdue));
    json_object_set_new(
        props, "per_km2",
        g->area_m2 > 0
            ? json_real(round((double)r->count / (g->area_m2 / 1e6) * 100) /
                        100)
            : json_null());
    json_object_set_new(props, "response",
                        rate(r->response_on_time, r->response_decided));
    json_object_set_new(props, "resolution",
                        rate(r->resolution_on_time, r->resolution_decided));
    json_object_set_new(props, "satisfaction", rate(r->satisfied, r->rated));
}

static json_t *grid_feature(const ht_fgrid *g, const figures *fig,
                            const out_crs *o) {
    json_t *props = ht__api_grid_json(g);
    json_object_set_new(
        props, "responsible",
        g->responsible ? json_string(g->responsible) : json_null());
    if (fig) {
        figures_put(fig, g, props);
    }
    return json_pack("{s:s, s:s, s:o, s:o}", "type", "Feature", "id", g->code,
                     "properties", props, "geometry", geometry(g->geom, o));
}

static json_t *street_feature(const ht_fstreet *st, const out_crs *o) {
    json_t *props = json_pack("{s:o, s:s, s:f}", "name",
                              st->name ? json_string(st->name) : json_null(),
                              "kind", ht_model_kind_name(st->kind), "length_m",
                              round(st->length_m * 10) / 10);
    return json_pack("{s:s, s:I, s:o, s:o}", "type", "Feature", "id",
                     (json_int_t)st->id, "properties", props, "geometry",
                     geometry(st->geom, o));
}

/* Whether grid @g is listed by @r: in the reader's area and the grid
 * filter's subtree, of the level and parent asked, meeting the box. */
static bool grid_listed(ht_server *s, const request *rq, const items_req *r,
                        const ht_fgrid *g, const ht_level *level,
                        const char *parent) {
    return (!rq->scope[0] || ht__live_in_scope(s, g->code, rq->scope)) &&
           (!r->q.filter.grid[0] ||
            ht__live_in_scope(s, g->code, r->q.filter.grid)) &&
           (!level || g->level == *level) &&
           (!parent ||
            (g->parent_code && strcmp(g->parent_code, parent) == 0)) &&
           (!r->has_box || ht_geom_meets_box(g->geom, &r->box));
}

static bool street_listed(const items_req *r, const ht_fstreet *st,
                          const ht_street_kind *kind, const char *name) {
    return (!kind || st->kind == *kind) &&
           (!name || (st->name && strcmp(st->name, name) == 0)) &&
           (!r->has_box || ht_geom_meets_box(st->geom, &r->box));
}

/* The grids or streets of @r from @offset: @features, @matched. */
static ht_status list_items(ht_server *s, const request *rq, worker *w,
                            const items_req *r, size_t offset, json_t *features,
                            size_t *matched, char *bad, size_t bad_size) {
    const query *q = &r->q;
    ht_error err = {0};
    if (r->k == GRIDS) {
        ht_level level;
        const char *lv = ht__http_qget(q, "level");
        const char *parent = ht__http_qget(q, "parent_code");
        parent = parent ? parent : ht__http_qget(q, "parent");
        if (lv && ht_model_level_parse(lv, &level, NULL) != HT_OK) {
            snprintf(bad, bad_size,
                     "level: district, street, community or grid");
            return HT_EINVAL;
        }
        size_t n = ht_features_grid_count(s->feat);
        const ht_fgrid **page = malloc((r->limit + 1) * sizeof *page);
        size_t np = 0;
        bool need[3] = {false, false, false};
        if (!page) {
            return HT_ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
            const ht_fgrid *g = ht_features_grid(s->feat, i);
            if (grid_listed(s, rq, r, g, lv ? &level : NULL, parent)) {
                if (*matched >= offset && np < r->limit) {
                    page[np++] = g;
                    need[grouping_of(g)] = true;
                }
                (*matched)++;
            }
        }
        figures fig;
        ht_status st = figures_get(s, w, &q->filter, need, &fig, &err);
        for (size_t i = 0; st == HT_OK && i < np; i++) {
            json_array_append_new(features,
                                  grid_feature(page[i], &fig, &r->out));
        }
        for (int k = 0; k < 3; k++) {
            free(fig.rows[k]);
        }
        free(page);
        if (st == HT_EINVAL) {
            snprintf(bad, bad_size, "%s", err.msg);
        }
        return st;
    }
    ht_street_kind kind;
    const char *kd = ht__http_qget(q, "kind");
    const char *name = ht__http_qget(q, "name");
    if (kd && ht_model_kind_parse(kd, &kind, NULL) != HT_OK) {
        snprintf(bad, bad_size, "kind: road, street, hutong, alley or other");
        return HT_EINVAL;
    }
    size_t n = ht_features_street_count(s->feat);
    for (size_t i = 0; i < n; i++) {
        const ht_fstreet *st = ht_features_street(s->feat, i);
        if (street_listed(r, st, kd ? &kind : NULL, name)) {
            if (*matched >= offset && json_array_size(features) < r->limit) {
                json_array_append_new(features, street_feature(st, &r->out));
            }
            (*matched)++;
        }
    }
    return HT_OK;
}

static enum MHD_Result send_features(struct MHD_Connection *c, request *rq,
                                     json_t *j, const out_crs *o) {
    char crs[128];
    snprintf(crs, sizeof crs, "<%s>", o->crs->uri);
    rq->content_crs = crs;
    enum MHD_Result r = ht__ogc_send(c, rq, j, GEOJSON);
    rq->content_crs = NULL;
    return r;
}

/* The collection @id and the items' parameters into @r, this thread's
 * worker in @w: false with the answer queued (404, 400, a failure). */
static bool items_begin(ht_server *s, struct MHD_Connection *c, request *rq,
                        const char *id, items_req *r, worker **w,
                        enum MHD_Result *answer) {
    memset(r, 0, sizeof *r);
    if (!ht__ogc_coll(c, rq, id, &r->k, answer)) {
        return false;
    }
    ht_error err = {0};
    if (!(*w = ht__live_worker_get(s, &err))) {
        *answer = ht__http_send_failure(c, rq, err.code, err.msg);
        return false;
    }
    return items_parse(s, c, rq, *w, r, answer);
}

/* GET /ogcapi/collections/{id}/items */
enum MHD_Result ht__route_ogc_items(ht_server *s, struct MHD_Connection *c,
                                    request *rq, const char *const *args) {
    items_req r;
    worker *w;
    ht_error err = {0};
    enum MHD_Result answer;
    if (!items_begin(s, c, rq, args[0], &r, &w, &answer)) {
        return answer;
    }
    json_t *features = json_array();
    size_t matched = 0;
    char bad[300] = "", next[96] = "";
    bool first_page = true;
    if (r.k == INCIDENTS) {
        ht__incident_page p = {.filter = &r.q.filter,
                               .box = r.has_box ? &r.box : NULL,
                               .before_t = INT64_MAX,
                               .before_id = INT64_MAX,
                               .limit = r.limit,
                               .now = r.q.now};
        const char *cursor = ht__http_qget(&r.q, "cursor");
        if (cursor &&
            !ht__api_parse_cursor(cursor, &p.before_t, &p.before_id)) {
            json_decref(features);
            return ht__http_send_error(c, rq, MHD_HTTP_BAD_REQUEST,
                                       "cursor: as given in the next link");
        }
        first_page = !cursor;
        ht_status st = ht__api_incident_page(s, &p, &err);
        if (st != HT_OK) {
            json_decref(features);
            return st == HT_EINVAL ? ht__http_send_error(
                                         c, rq, MHD_HTTP_BAD_REQUEST, err.msg)
                                   : ht__http_send_failure(c, rq, st, err.msg);
        }
        json_decref(features);
        features = p.features;
        for (size_t k = 0; k < json_array_size(features); k++) {
            reproject_point(json_array_get(features, k), &r.out);
        }
        matched = p.matched;
        if (p.more) {
            snprintf(next, sizeof next, "cursor=%lld_%lld", (long long)p.next_t,
                     (long long)p.next_id);
        }
    } else {
        long offset = 0;
        if (!ht__http_count_param(&r.q, "offset", 0, 1000000000, &offset, bad,
                                  sizeof bad)) {
            json_decref(features);
            return ht__http_send_error(c, rq, MHD_HTTP_BAD_REQUEST, bad);
        }
        ht_status st = list_items(s, rq, w, &r, (size_t)offset, features,
                                  &matched, bad, sizeof bad);
        if (st != HT_OK) {
            json_decref(features);
            return st == HT_EINVAL
                       ? ht__http_send_error(c, rq, MHD_HTTP_BAD_REQUEST, bad)
                       : ht__http_send_failure(c, rq, st, "out of memory");
        }
        if ((size_t)offset + json_array_size(features) < matched) {
            snprintf(next, sizeof next, "offset=%zu",
                     (size_t)offset + json_array_size(features));
        }
    }
    char base[300], path[128], qs[MAX_QUERY + 128];
    ht__http_base_url(s, c, rq, base, sizeof base);
    json_t *links = json_array();
    snprintf(path, sizeof path, "/ogcapi/collections/%s/items",
             ht__ogc_colls[r.k].id);
    link_query(&r.q, NULL, NULL, qs, sizeof qs);
    char href[sizeof qs + 512];
    snprintf(href, sizeof href, "%s%s", path, qs[0] ? "?" : "");
    snprintf(href + strlen(href), sizeof href - strlen(href), "%s", qs);
    json_array_append_new(
        links, ht__ogc_link(base, href, "self", GEOJSON, "this page"));
    if (next[0]) {
        link_query(&r.q, r.k == INCIDENTS ? "cursor" : "offset", next, qs,
                   sizeof qs);
        snprintf(href, sizeof href, "%s?%s", path, qs);
        json_array_append_new(
            links, ht__ogc_link(base, href, "next", GEOJSON, "the next page"));
    }
    snprintf(path, sizeof path, "/ogcapi/collections/%s",
             ht__ogc_colls[r.k].id);
    json_array_append_new(links, ht__ogc_link(base, path, "collection",
                                              "application/json", NULL));
    char stamp[32];
    ht_datetime_format(r.q.now, stamp, sizeof stamp);
    json_t *j = json_pack("{s:s, s:o, s:s, s:I}", "type", "FeatureCollection",
                          "links", links, "timeStamp", stamp, "numberReturned",
                          (json_int_t)json_array_size(features));
    if (first_page || r.k != INCIDENTS) {
        json_object_set_new(j, "numberMatched",
                            json_integer((json_int_t)matched));
    }
    json_object_set_new(j, "features", features);
    return send_features(c, rq, j, &r.out);
}

/* GET /ogcapi/collections/{id}/items/{fid} */
enum MHD_Result ht__route_ogc_item(ht_server *s, struct MHD_Connection *c,
                                   request *rq, const char *const *args) {
    items_req r;
    worker *w;
    ht_error err = {0};
    enum MHD_Result answer;
    if (!items_begin(s, c, rq, args[0], &r, &w, &answer)) {
        return answer;
    }
    const char *fid = args[1];
    json_t *feature = NULL;
    char *end;
    long long id = strtoll(fid, &end, 10);
    bool numeric = *fid && !*end;
    if (r.k == GRIDS) {
        const ht_fgrid *g = ht_features_find_grid(s->feat, fid);
        if (g && (!rq->scope[0] || ht__live_in_scope(s, g->code, rq->scope))) {
            bool need[3] = {false, false, false};
            need[grouping_of(g)] = true;
            figures fig;
            if (figures_get(s, w, &r.q.filter, need, &fig, &err) == HT_OK) {
                feature = grid_feature(g, &fig, &r.out);
            }
            for (int k = 0; k < 3; k++) {
                free(fig.rows[k]);
            }
        }
    } else if (r.k == STREETS && numeric) {
        size_t i = ht_features_street_by_id(s->feat, (int64_t)id);
        if (i != (size_t)-1) {
            feature = street_feature(ht_features_street(s->feat, i), &r.out);
        }
    } else if (r.k == INCIDENTS && numeric) {
        feature = ht__api_incident_feature(s, (int64_t)id, r.q.now);
        const char *gc =
            feature ? json_string_value(json_object_get(
                          json_object_get(feature, "properties"), "grid_code"))
                    : NULL;
        if (feature && rq->scope[0] &&
            !(gc && ht__live_in_scope(s, gc, rq->scope))) {
            json_decref(feature); /* not this reader's to see */
            feature = NULL;
        }
        if (feature) {
            reproject_point(feature, &r.out);
        }
    }
    if (!feature) {
        return ht__http_send_error(c, rq, MHD_HTTP_NOT_FOUND,
                                   "no such feature in this collection");
    }
    char base[300], path[512];
    ht__http_base_url(s, c, rq, base, sizeof base);
    json_t *links = json_array();
    snprintf(path, sizeof path, "/ogcapi/collections/%s/items/%s",
             ht__ogc_colls[r.k].id, fid);
    json_array_append_new(links,
                          ht__ogc_link(base, path, "self", GEOJSON, NULL));
    snprintf(path, sizeof path, "/ogcapi/collections/%s",
             ht__ogc_colls[r.k].id);
    json_array_append_new(links, ht__ogc_link(base, path, "collection",
                                              "application/json", NULL));
    json_object_set_new(feature, "links", links);
    return send_features(c, rq, feature, &r.out);
}
