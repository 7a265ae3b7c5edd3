/* SPDX-License-Identifier: Apache-2.0 */
/* The JSON API: statistics, topics, grids, incidents. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hutong/datetime.h"
#include "hutong/model.h"
#include "hutong/stats.h"
#include "hutong/tile.h"

#include "server_int.h"
#include "stats_int.h"

/* GET /api/stats?by=street|community|grid|category|month|department&limit=N
 * + filters */
enum MHD_Result ht__route_stats(ht_server *s, struct MHD_Connection *c,
                                request *rq, const char *const *args) {
    (void)args;
    query q;
    if (!ht__http_parse_query(c, "by limit", &q)) {
        return ht__http_send_error(c, rq, MHD_HTTP_BAD_REQUEST, q.bad);
    }
    if (!ht__live_scope_filter(s, rq, &q.filter)) {
        return ht__routes_send_outside(c, rq);
    }
    ht_error err = {0};
    ht_stats_by by = HT_STATS_BY_STREET;
    long limit = 100000;
    char bad[160];
    if (ht__http_qget(&q, "by") &&
        ht_stats_by_parse(ht__http_qget(&q, "by"), &by, &err) != HT_OK) {
        return ht__http_send_error(c, rq, MHD_HTTP_BAD_REQUEST, err.msg);
    }
    if (!ht__http_count_param(&q, "limit", 1, 100000, &limit, bad,
                              sizeof bad)) {
        return ht__http_send_error(c, rq, MHD_HTTP_BAD_REQUEST, bad);
    }
    worker *w = ht__live_worker_get(s, &err);
    ht_stats_row *rows = NULL;
    size_t n = 0;
    ht_status st =
        w ? ht__live_stats(s, w->store, &q.filter, by, &rows, &n, &err)
          : HT_EDB;
    if (st != HT_OK) {
        return ht__http_send_failure(c, rq, st, err.msg);
    }
    char *j = ht_stats_rows_json(rows, n, (size_t)limit, by, &q.filter);
    free(rows);
    return ht__http_send_text_json(c, rq, j);
}

/* GET /api/topics?month=YYYY-MM&by=street|community&min=N&limit=N */
enum MHD_Result ht__route_topics(ht_server *s, struct MHD_Connection *c,
                                 request *rq, const char *const *args) {
    (void)args;
    query q;
    if (!ht__http_parse_query(c, "month by min limit", &q)) {
        return ht__http_send_error(c, rq, MHD_HTTP_BAD_REQUEST, q.bad);
    }
    if (!ht__http_qget(&q, "month")) {
        return ht__http_send_error(c, rq, MHD_HTTP_BAD_REQUEST,
                                   "month: required, YYYY-MM");
    }
    char fkey[1024];
    ht_filter all = ht_filter_all(), *f = &q.filter;
    ht_filter_key(f, fkey, sizeof fkey);
    char akey[1024];
    ht_filter_key(&all, akey, sizeof akey);
    if (strcmp(fkey, akey) != 0) {
        return ht__http_send_error(
            c, rq, MHD_HTTP_BAD_REQUEST,
            "topics take no filters: month, by, min, limit");
    }
    ht_error err = {0};
    ht_stats_by by = HT_STATS_BY_STREET;
    long min = 3, limit = 10;
    char bad[160];
    if (ht__http_qget(&q, "by") &&
        ht_stats_by_parse(ht__http_qget(&q, "by"), &by, &err) != HT_OK) {
        return ht__http_send_error(c, rq, MHD_HTTP_BAD_REQUEST, err.msg);
    }
    if (!ht__http_count_param(&q, "min", 1, 1000000, &min, bad, sizeof bad) ||
        !ht__http_count_param(&q, "limit", 1, 1000, &limit, bad, sizeof bad)) {
        return ht__http_send_error(c, rq, MHD_HTTP_BAD_REQUEST, bad);
    }
    worker *w = ht__live_worker_get(s, &err);
    ht_topic *t = NULL;
    size_t n = 0;
    ht_index *ix = w ? ht__live_index_ref(s) : NULL;
    ht_status st =
        !w   ? HT_EDB
        : ix ? ht_stats_topics_ix(w->store, ix, ht__http_qget(&q, "month"), by,
                                  rq->scope[0] ? rq->scope : NULL, min,
                                  (size_t)limit, &t, &n, &err)
             : ht_stats_topics(w->store, ht__http_qget(&q, "month"), by,
                               rq->scope[0] ? rq->scope : NULL, min,
                               (size_t)limit, &t, &n, &err);
    ht_index_unref(ix);
    if (st != HT_OK) {
        return ht__http_send_failure(c, rq, st, err.msg);
    }
    char *j = ht_stats_topics_json(t, n, ht__http_qget(&q, "month"));
    free(t);
    return ht__http_send_text_json(c, rq, j);
}

json_t *ht__api_grid_json(const ht_fgrid *g) {
    json_t *o = json_pack("{s:s, s:s, s:s}", "code", g->code, "name",
                          g->name ? g->name : "", "level",
                          ht_model_level_name(g->level));
    json_object_set_new(
        o, "parent_code",
        g->parent_code ? json_string(g->parent_code) : json_null());
    json_object_set_new(
        o, "population",
        g->population >= 0 ? json_integer(g->population) : json_null());
    json_object_set_new(o, "area_km2", json_real(g->area_m2 / 1e6));
    return o;
}

/* Append @g to @arr when it is of @level (NULL: any) under @parent (NULL:
 * any). */
static void grid_keep(json_t *arr, const ht_fgrid *g, const ht_level *level,
                      const char *parent) {
    if ((!level || g->level == *level) &&
        (!parent || (g->parent_code && strcmp(g->parent_code, parent) == 0))) {
        json_array_append_new(arr, ht__api_grid_json(g));
    }
}

/* GET /api/grids?level=L&parent=CODE&at=LON,LAT: grids, without geometry. */
enum MHD_Result ht__route_grids(ht_server *s, struct MHD_Connection *c,
                                request *rq, const char *const *args) {
    (void)args;
    query q;
    if (!ht__http_parse_query(c, "level parent at", &q)) {
        return ht__http_send_error(c, rq, MHD_HTTP_BAD_REQUEST, q.bad);
    }
    ht_level level = HT_LEVEL_GRID;
    const char *lv = ht__http_qget(&q, "level"),
               *parent = ht__http_qget(&q, "parent");
    if (lv && ht_model_level_parse(lv, &level, NULL) != HT_OK) {
        return ht__http_send_error(
            c, rq, MHD_HTTP_BAD_REQUEST,
            "level: district, street, community or grid");
    }
    if (parent && !ht_features_find_grid(s->feat, parent)) {
        return ht__http_send_error(c, rq, MHD_HTTP_NOT_FOUND,
                                   "parent: no such grid");
    }
    const char *at = ht__http_qget(&q, "at");
    double ax = 0, ay = 0;
    if (at) {
        double lon, lat;
        char tail;
        if (sscanf(at, "%lf,%lf%c", &lon, &lat, &tail) != 2 ||
            !(lon >= -180 && lon <= 180 && lat >= -85 && lat <= 85)) {
            return ht__http_send_error(c, rq, MHD_HTTP_BAD_REQUEST,
                                       "at: expected LON,LAT in WGS 84");
        }
        ht_tile_lonlat_to_merc(lon, lat, &ax, &ay);
    }
    json_t *arr = json_array();
    /* With "at": the grid under the point and its ancestors, lowest
     * level first; else every grid. */
    if (at) {
        for (const ht_fgrid *g = ht__live_grid_at(s->feat, ax, ay); g;
             g = g->parent_code ? ht_features_find_grid(s->feat, g->parent_code)
                                : NULL) {
            if (!rq->scope[0] || ht__live_in_scope(s, g->code, rq->scope)) {
                grid_keep(arr, g, lv ? &level : NULL, parent);
            }
        }
    } else {
        for (size_t i = 0; i < ht_features_grid_count(s->feat); i++) {
            const ht_fgrid *g = ht_features_grid(s->feat, i);
            if (!rq->scope[0] || ht__live_in_scope(s, g->code, rq->scope)) {
                grid_keep(arr, g, lv ? &level : NULL, parent);
            }
        }
    }
    json_t *j = json_pack("{s:I, s:o}", "count",
                          (json_int_t)json_array_size(arr), "grids", arr);
    return ht__http_send_json(c, rq, j, "public, max-age=300");
}

/* A position of GeoJSON, to 1 cm: 7 decimals of a degree (or 2 of a
 * metre when @metres). */
static json_t *position_json(ht_point p, bool metres) {
    double f = metres ? 1e2 : 1e7;
    return json_pack("[f,f]", round(p.x * f) / f, round(p.y * f) / f);
}

static json_t *geom_json_in(const ht_geom *g, bool metres) {
    json_t *polys = json_array();
    for (size_t j = 0; j < g->npolys; j++) {
        json_t *rings = json_array();
        for (size_t i = g->polys[j]; i < ht_geom_poly_end(g, j); i++) {
            json_t *ring = json_array();
            for (size_t k = g->parts[i]; k < ht_geom_part_end(g, i); k++) {
                json_array_append_new(ring, position_json(g->pts[k], metres));
            }
            json_array_append_new(rings, ring);
        }
        json_array_append_new(polys, rings);
    }
    return json_pack("{s:s, s:o}", "type", "MultiPolygon", "coordinates",
                     polys);
}

/* A polygonal geometry (WGS 84) as a GeoJSON MultiPolygon. */
static json_t *geom_json(const ht_geom *g) {
    return geom_json_in(g, false);
}

json_t *ht__api_grid_geometry(worker *w, const char *code, const char *crs) {
    ht_geom *poly = NULL;
    ht_transform *t = NULL;
    json_t *j = NULL;
    bool wgs84 =
        !crs || strcmp(crs, "EPSG:4326") == 0 || strcmp(crs, "CRS:84") == 0;
    if (ht_store_grid_geometry(w->store, code, &poly, NULL) == HT_OK &&
        (wgs84 ||
         (ht_crs_transform_new("EPSG:4326", crs, &t, NULL) == HT_OK &&
          ht_crs_transform_points(t, poly->pts, poly->npts, NULL) == HT_OK))) {
        bool geographic = wgs84 || strcmp(crs, "EPSG:4490") == 0;
        j = geom_json_in(poly, !geographic);
    }
    ht_crs_transform_free(t);
    ht_geom_free(poly);
    return j;
}

/* GET /api/grids/{code}: a GeoJSON Feature (WGS 84) with the grid's
 * statistics under the filters. */
enum MHD_Result ht__route_grid(ht_server *s, struct MHD_Connection *c,
                               request *rq, const char *const *args) {
    const char *code = args[0];
    query q;
    enum MHD_Result answer;
    const ht_fgrid *g = ht__routes_area(s, c, rq, code, "", &q, &answer);
    if (!g) {
        return answer;
    }
    ht_error err = {0};
    worker *w = ht__live_worker_get(s, &err);
    if (!w) {
        return ht__http_send_failure(c, rq, err.code, err.msg);
    }
    /* The geometry as the store holds it (WGS 84). */
    ht_geom *poly = NULL;
    json_t *geom = NULL;
    if (ht_store_grid_geometry(w->store, code, &poly, &err) == HT_OK) {
        geom = geom_json(poly);
        ht_geom_free(poly);
    }
    /* Its figures: the whole grid, then by category. */
    ht_filter f = q.filter;
    snprintf(f.grid, sizeof f.grid, "%s", code);
    ht_stats_row *rows = NULL;
    size_t n = 0;
    if (ht__live_stats(s, w->store, &f, HT_STATS_BY_CATEGORY, &rows, &n,
                       &err) != HT_OK) {
        json_decref(geom);
        return ht__http_send_failure(c, rq, err.code, err.msg);
    }
    json_t *stats =
        ht__stats_rows_object(rows, n, 20, HT_STATS_BY_CATEGORY, &f);
    free(rows);
    json_t *props = ht__api_grid_json(g);
    json_object_set_new(props, "stats", stats ? stats : json_null());
    json_t *j =
        json_pack("{s:s, s:s, s:o, s:o}", "type", "Feature", "id", code,
                  "properties", props, "geometry", geom ? geom : json_null());
    return ht__http_send_json(c, rq, j, "no-cache");
}

typedef struct hit {
    int64_t id, reported_at, street_id, late_at;
    double x, y;
    int severity;
    ht_source source;
    ht_state state;
    const char *category, *grid_code;
} hit;

/* The newest @keep incidents older than the cursor, newest first;
 * @matched counts every one that qualified. */
typedef struct hits {
    hit *v;
    size_t n, keep, matched;
    int64_t before_t, before_id; /* the cursor: strictly older than this */
} hits;

/* The external ids and closing times of a page, by position. */
typedef struct page_extra {
    const int64_t *ids;
    size_t n, next; /* rows come in the order of @ids: where to look */
    struct {
        char *external_id, *department;
        int64_t closed_at;
        ht_satisfaction satisfaction;
        ht_whistle whistle;
    } * v;
} page_extra;

static ht_status take_extra(const ht_incident_row *r, void *ud, ht_error *err) {
    (void)err;
    page_extra *p = ud;
    /* From where the last one was (ids missing from the store are passed
     * over), then from the start: linear for a page of 10,000. */
    for (size_t pass = 0; pass < 2; pass++) {
        for (size_t k = pass ? 0 : p->next; k < p->n; k++) {
            if (p->ids[k] == r->id && !p->v[k].external_id) {
                p->v[k].external_id =
                    r->external_id ? strdup(r->external_id) : NULL;
                p->v[k].department =
                    r->department ? strdup(r->department) : NULL;
                p->v[k].closed_at = r->closed_at;
                p->v[k].satisfaction = r->satisfaction;
                p->v[k].whistle = r->whistle;
                p->next = k + 1;
                return HT_OK;
            }
        }
    }
    return HT_OK;
}

/* The extras of @shown hits from the store (what the index does not
 * hold: external ids, closing times, departments, verdicts, whistle
 * kinds), by position; NULL when out of memory. */
static page_extra fetch_extra(ht_server *s, const hit *v, size_t shown) {
    ht_error err = {0};
    worker *wk = ht__live_worker_get(s, &err);
    int64_t *ids = malloc((shown ? shown : 1) * sizeof *ids);
    page_extra extra = {.n = 0};
    extra.v = calloc(shown ? shown : 1, sizeof *extra.v);
    for (size_t k = 0; ids && extra.v && k < shown; k++) {
        ids[k] = v[k].id;
        extra.v[k].closed_at = HT_TIME_NONE;
    }
    if (wk && ids && extra.v) {
        extra.ids = ids;
        extra.n = shown;
        ht_store_each_incident(wk->store, ids, shown, take_extra, &extra, NULL);
    }
    free(ids);
    extra.ids = NULL;
    extra.n = shown;
    return extra;
}

static void free_extra(page_extra *extra) {
    for (size_t k = 0; extra->v && k < extra->n; k++) {
        free(extra->v[k].external_id);
        free(extra->v[k].department);
    }
    free(extra->v);
}

/* Incident @v as a GeoJSON feature (WGS 84, 1 cm), with the extras of
 * its position @k in @extra, late or not at @now. */
static json_t *incident_json(const hit *v, const page_extra *extra, size_t k,
                             int64_t now) {
    double lon, lat;
    ht_tile_merc_to_lonlat(v->x, v->y, &lon, &lat);
    char at[32];
    ht_datetime_format(v->reported_at, at, sizeof at);
    json_t *props = json_pack("{s:s, s:i, s:s, s:s, s:s}", "category",
                              v->category, "severity", v->severity, "source",
                              ht_model_source_name(v->source), "status",
                              ht_model_state_name(v->state), "reported_at", at);
    json_object_set_new(props, "grid_code",
                        v->grid_code ? json_string(v->grid_code) : json_null());
    json_object_set_new(
        props, "street_id",
        v->street_id >= 0 ? json_integer(v->street_id) : json_null());
    json_object_set_new(props, "external_id",
                        extra->v
                            ? ht__routes_text_or_null(extra->v[k].external_id)
                            : json_null());
    json_t *closed = json_null();
    if (extra->v && extra->v[k].closed_at != HT_TIME_NONE) {
        char ct_s[32];
        ht_datetime_format(extra->v[k].closed_at, ct_s, sizeof ct_s);
        json_decref(closed);
        closed = json_string(ct_s);
    }
    json_object_set_new(props, "closed_at", closed);
    json_object_set_new(props, "department",
                        extra->v
                            ? ht__routes_text_or_null(extra->v[k].department)
                            : json_null());
    json_object_set_new(
        props, "satisfaction",
        extra->v && extra->v[k].satisfaction != HT_SAT_NONE
            ? json_string(ht_model_satisfaction_name(extra->v[k].satisfaction))
            : json_null());
    json_object_set_new(
        props, "whistle_kind",
        extra->v && extra->v[k].whistle != HT_WHISTLE_NONE
            ? json_string(ht_model_whistle_name(extra->v[k].whistle))
            : json_null());
    /* Late now: the hours past the deadline of its state (0: not). */
    bool late = v->late_at != HT_TIME_NONE && now > v->late_at;
    json_object_set_new(props, "overdue", json_boolean(late));
    json_object_set_new(
        props, "hours_over",
        json_real(late ? round((double)(now - v->late_at) / 36.0) / 100 : 0));
    /* Positions are kept to 1 cm: 7 decimals of a degree. */
    return json_pack("{s:s, s:I, s:o, s:{s:s, s:[f,f]}}", "type", "Feature",
                     "id", (json_int_t)v->id, "properties", props, "geometry",
                     "type", "Point", "coordinates", round(lon * 1e7) / 1e7,
                     round(lat * 1e7) / 1e7);
}

static hit hit_of(double x, double y, const ht_incident_view *v) {
    return (hit){
        v->id,       v->reported_at, v->street_id, v->late_at,  x,           y,
        v->severity, v->source,      v->state,     v->category, v->grid_code};
}

ht_status ht__api_incident_page(ht_server *s, ht__incident_page *p,
                                ht_error *err) {
    p->features = NULL;
    p->matched = 0;
    p->more = false;
    /* One more than the page: whether there is a next one. */
    hits h = {.keep = p->limit + 1,
              .before_t = p->before_t,
              .before_id = p->before_id};
    ht_index_filter *f = NULL;
    ht_index *ix = ht__live_index_ref(s);
    ht_status st = ht_index_filter_new(ix, p->filter, &f, err);
    if (st != HT_OK) {
        ht_index_unref(ix);
        return st;
    }
    h.v = malloc(h.keep * sizeof *h.v);
    /* The newest by their times and ids alone, then each as the index
     * holds it (found by id). */
    int64_t *newest = malloc(h.keep * sizeof *newest);
    size_t found = 0;
    if (!h.v || !newest ||
        ht_index_newest(ix, f, p->box, h.before_t, h.before_id, h.keep, newest,
                        &found, &h.matched, err) != HT_OK) {
        free(newest);
        free(h.v);
        ht_index_filter_free(f);
        ht_index_unref(ix);
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    ht_index_filter_free(f);
    for (size_t k = 0; k < found; k++) {
        double x, y;
        ht_incident_view v;
        if (ht_index_find(ix, NULL, newest[k], &x, &y, &v)) {
            h.v[h.n++] = hit_of(x, y, &v);
        }
    }
    free(newest);
    /* The hits borrow category and grid strings from the snapshot: keep
     * it until the page is written. */
    size_t shown = h.n < p->limit ? h.n : p->limit;
    page_extra extra = fetch_extra(s, h.v, shown);
    p->features = json_array();
    for (size_t k = 0; k < shown; k++) {
        json_array_append_new(p->features,
                              incident_json(&h.v[k], &extra, k, p->now));
    }
    free_extra(&extra);
    p->matched = h.matched;
    if (h.n > shown) {
        p->more = true;
        p->next_t = h.v[shown - 1].reported_at;
        p->next_id = h.v[shown - 1].id;
    }
    free(h.v);
    ht_index_unref(ix);
    return HT_OK;
}

json_t *ht__api_incident_feature(ht_server *s, int64_t id, int64_t now) {
    ht_index *ix = ht__live_index_ref(s);
    double x, y;
    ht_incident_view v;
    json_t *j = NULL;
    if (ht_index_find(ix, NULL, id, &x, &y, &v)) {
        hit h = hit_of(x, y, &v);
        page_extra extra = fetch_extra(s, &h, 1);
        j = incident_json(&h, &extra, 0, now);
        free_extra(&extra);
    }
    ht_index_unref(ix);
    return j;
}

/* GET /api/incidents?bbox=W,S,E,N&limit=N&cursor=C + filters: GeoJSON,
 * newest first; "next" is the cursor of the following page. */
enum MHD_Result ht__route_incidents(ht_server *s, struct MHD_Connection *c,
                                    request *rq, const char *const *args) {
    (void)args;
    query q;
    if (!ht__http_parse_query(c, "bbox limit cursor", &q)) {
        return ht__http_send_error(c, rq, MHD_HTTP_BAD_REQUEST, q.bad);
    }
    if (!ht__live_scope_filter(s, rq, &q.filter)) {
        return ht__routes_send_outside(c, rq);
    }
    long limit = 100;
    char bad[160];
    if (!ht__http_count_param(&q, "limit", 1, 1000, &limit, bad, sizeof bad)) {
        return ht__http_send_error(c, rq, MHD_HTTP_BAD_REQUEST, bad);
    }
    ht__incident_page p = {.filter = &q.filter,
                           .before_t = INT64_MAX,
                           .before_id = INT64_MAX,
                           .limit = (size_t)limit,
                           .now = q.now};
    const char *cursor = ht__http_qget(&q, "cursor");
    if (cursor && !ht__api_parse_cursor(cursor, &p.before_t, &p.before_id)) {
        return ht__http_send_error(c, rq, MHD_HTTP_BAD_REQUEST,
                                   "cursor: as given in \"next\"");
    }
    ht_bbox box;
    const char *bbox = ht__http_qget(&q, "bbox");
    if (bbox) {
        ht_bbox ll;
        if (ht_bbox_parse(bbox, &ll, NULL) != HT_OK ||
            !(ll.minx >= -180 && ll.maxx <= 180 && ll.miny >= -85 &&
              ll.maxy <= 85)) {
            return ht__http_send_error(c, rq, MHD_HTTP_BAD_REQUEST,
                                       "bbox: W,S,E,N in WGS 84 degrees");
        }
        ht_tile_lonlat_to_merc(ll.minx, ll.miny, &box.minx, &box.miny);
        ht_tile_lonlat_to_merc(ll.maxx, ll.maxy, &box.maxx, &box.maxy);
        p.box = &box;
    }
    ht_error err = {0};
    ht_status st = ht__api_incident_page(s, &p, &err);
    if (st != HT_OK) {
        return st == HT_EINVAL
                   ? ht__http_send_error(c, rq, MHD_HTTP_BAD_REQUEST, err.msg)
                   : ht__http_send_failure(c, rq, st, err.msg);
    }
    json_t *j =
        json_pack("{s:s, s:I, s:o}", "type", "FeatureCollection", "matched",
                  (json_int_t)p.matched, "features", p.features);
    if (p.more) {
        char next[48];
        snprintf(next, sizeof next, "%lld_%lld", (long long)p.next_t,
                 (long long)p.next_id);
        json_object_set_new(j, "next", json_string(next));
    }
    return ht__http_send_json(c, rq, j, "no-cache");
}

bool ht__api_parse_cursor(const char *cursor, int64_t *t, int64_t *id) {
    char tail;
    long long ct, cid;
    if (sscanf(cursor, "%lld_%lld%c", &ct, &cid, &tail) != 2) {
        return false;
    }
    *t = ct;
    *id = cid;
    return true;
}
