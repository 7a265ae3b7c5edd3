/* SPDX-License-Identifier: Apache-2.0 */
/* OGC API Features at /ogcapi (Part 1 Core and GeoJSON, Part 2 CRS, Part 3
 * queryables): the collections grids, streets and incidents, for GDAL's
 * OGCAPI driver, QGIS and OWSLib. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hutong/datetime.h"
#include "hutong/model.h"
#include "hutong/ogcapi.h"

#include "routes_ogcapi_int.h"

#define SPEC "http://www.opengis.net/spec/ogcapi-features-"

static const char *const conformance[] = {
    SPEC "1/1.0/conf/core", SPEC "1/1.0/conf/geojson", SPEC "2/1.0/conf/crs",
    SPEC "3/1.0/conf/queryables",
    SPEC "3/1.0/conf/queryables-query-parameters"};

const coll_info ht__ogc_colls[NCOLL] = {
    {"grids", "网格 grids",
     "The grid hierarchy (district, street offices, communities, unit "
     "grids), each with its outline and its incidents' figures for the "
     "incident filters given (from, to, window, datetime, category, "
     "severity, status, source, department, overdue, satisfaction); grid "
     "keeps a subtree.",
     "limit offset crs bbox bbox-crs datetime f level parent_code parent"},
    {"streets", "街巷 streets and alleys",
     "Street segments with their names and kinds (road, street, hutong, "
     "alley, other).",
     "limit offset crs bbox bbox-crs f kind name"},
    {"incidents", "事件 incidents",
     "Incidents, newest first, with their category, severity, source, "
     "status, times, grid, department, verdict and lateness; the filters as "
     "query parameters.",
     "limit cursor crs bbox bbox-crs datetime f"}};

json_t *ht__ogc_link(const char *base, const char *path, const char *rel,
                     const char *type, const char *title) {
    size_t n = strlen(base) + strlen(path) + 1;
    char *href = malloc(n);
    if (!href) {
        return json_null();
    }
    snprintf(href, n, "%s%s", base, path);
    json_t *l =
        json_pack("{s:s, s:s, s:s}", "href", href, "rel", rel, "type", type);
    free(href);
    if (title) {
        json_object_set_new(l, "title", json_string(title));
    }
    return l;
}

enum MHD_Result ht__ogc_send(struct MHD_Connection *c, request *rq, json_t *j,
                             const char *type) {
    char *s = json_dumps(
        j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    json_decref(j);
    if (!s) {
        return ht__http_send_failure(c, rq, HT_ENOMEM, "out of memory");
    }
    return ht__http_send_buf(c, rq, MHD_HTTP_OK, type, s, strlen(s), NULL,
                             "no-cache");
}

bool ht__ogc_coll(struct MHD_Connection *c, request *rq, const char *id,
                  coll *k, enum MHD_Result *answer) {
    for (*k = 0; *k < NCOLL; (*k)++) {
        if (strcmp(ht__ogc_colls[*k].id, id) == 0) {
            return true;
        }
    }
    *answer =
        ht__http_send_error(c, rq, MHD_HTTP_NOT_FOUND,
                            "no such collection: grids, streets or incidents");
    return false;
}

/* The query with only the parameters @allowed ("f" and the token always);
 * false with the answer queued otherwise. */
static bool simple_query(struct MHD_Connection *c, request *rq, query *q,
                         const char *allowed, enum MHD_Result *answer) {
    if (!ht__http_parse_query(c, allowed, q)) {
        *answer = ht__http_send_error(c, rq, MHD_HTTP_BAD_REQUEST, q->bad);
        return false;
    }
    const char *f = ht__http_qget(q, "f");
    if (f && strcmp(f, "json") != 0) {
        *answer = ht__http_send_error(c, rq, MHD_HTTP_BAD_REQUEST,
                                      "f: json (GeoJSON for features)");
        return false;
    }
    ht_filter all = ht_filter_all();
    if (memcmp(&q->filter, &all, sizeof all) != 0) {
        *answer = ht__http_send_error(
            c, rq, MHD_HTTP_BAD_REQUEST,
            "the incident filters apply to a collection's items");
        return false;
    }
    return true;
}

/* GET /ogcapi */
enum MHD_Result ht__route_ogc_landing(ht_server *s, struct MHD_Connection *c,
                                      request *rq, const char *const *args) {
    (void)args;
    query q;
    enum MHD_Result answer;
    if (!simple_query(c, rq, &q, "f", &answer)) {
        return answer;
    }
    char base[300];
    ht__http_base_url(s, c, rq, base, sizeof base);
    json_t *links = json_array();
    json_array_append_new(
        links, ht__ogc_link(base, "/ogcapi", "self", "application/json",
                            "this document"));
    json_array_append_new(
        links, ht__ogc_link(base, "/ogcapi/conformance", "conformance",
                            "application/json", "conformance classes"));
    json_array_append_new(links,
                          ht__ogc_link(base, "/ogcapi/collections", "data",
                                       "application/json", "the collections"));
    json_array_append_new(
        links, ht__ogc_link(base, "/ogcapi/api", "service-desc",
                            "application/vnd.oai.openapi+json;version=3.0",
                            "the API's definition (OpenAPI 3.0)"));
    json_t *j = json_pack(
        "{s:s, s:s, s:o}", "title", "hutong: city grid incidents",
        "description",
        "Grids, streets and alleys, and the incidents reported in them, as "
        "OGC API Features",
        "links", links);
    return ht__ogc_send(c, rq, j, "application/json");
}

/* GET /ogcapi/conformance */
enum MHD_Result ht__route_ogc_conformance(ht_server *s,
                                          struct MHD_Connection *c, request *rq,
                                          const char *const *args) {
    (void)s, (void)args;
    query q;
    enum MHD_Result answer;
    if (!simple_query(c, rq, &q, "f", &answer)) {
        return answer;
    }
    json_t *list = json_array();
    for (size_t k = 0; k < sizeof conformance / sizeof *conformance; k++) {
        json_array_append_new(list, json_string(conformance[k]));
    }
    return ht__ogc_send(c, rq, json_pack("{s:o}", "conformsTo", list),
                        "application/json");
}

static json_t *crs_list(void) {
    json_t *a = json_array();
    for (size_t k = 0; k < ht_ogc_ncrs; k++) {
        json_array_append_new(a, json_string(ht_ogc_crss[k].uri));
    }
    return a;
}

static json_t *collection_json(ht_server *s, const char *base, coll k) {
    char path[128];
    json_t *links = json_array();
    snprintf(path, sizeof path, "/ogcapi/collections/%s", ht__ogc_colls[k].id);
    json_array_append_new(
        links, ht__ogc_link(base, path, "self", "application/json", NULL));
    snprintf(path, sizeof path, "/ogcapi/collections/%s/items",
             ht__ogc_colls[k].id);
    json_array_append_new(links, ht__ogc_link(base, path, "items", GEOJSON,
                                              ht__ogc_colls[k].title));
    snprintf(path, sizeof path, "/ogcapi/collections/%s/queryables",
             ht__ogc_colls[k].id);
    json_array_append_new(
        links,
        ht__ogc_link(base, path,
                     "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                     "application/schema+json", "what may be filtered on"));
    ht_bbox ll = ht__ows_extent(s);
    json_t *extent =
        json_pack("{s:{s:[[f,f,f,f]], s:s}}", "spatial", "bbox", ll.minx,
                  ll.miny, ll.maxx, ll.maxy, "crs", HT_OGC_CRS84);
    if (k == INCIDENTS) {
        ht_index *ix = ht__live_index_ref(s);
        int64_t first, last;
        char a[32] = "", b[32] = "";
        if (ht_index_time_range(ix, &first, &last)) {
            ht_datetime_format(first, a, sizeof a);
            ht_datetime_format(last, b, sizeof b);
        }
        ht_index_unref(ix);
        json_object_set_new(
            extent, "temporal",
            json_pack("{s:[[o,o]], s:s}", "interval",
                      a[0] ? json_string(a) : json_null(),
                      b[0] ? json_string(b) : json_null(), "trs",
                      "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"));
    }
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:s, s:o}", "id",
                     ht__ogc_colls[k].id, "title", ht__ogc_colls[k].title,
                     "description", ht__ogc_colls[k].description, "itemType",
                     "feature", "extent", extent, "crs", crs_list(),
                     "storageCrs", HT_OGC_CRS84, "links", links);
}

/* GET /ogcapi/collections */
enum MHD_Result ht__route_ogc_collections(ht_server *s,
                                          struct MHD_Connection *c, request *rq,
                                          const char *const *args) {
    (void)args;
    query q;
    enum MHD_Result answer;
    if (!simple_query(c, rq, &q, "f", &answer)) {
        return answer;
    }
    char base[300];
    ht__http_base_url(s, c, rq, base, sizeof base);
    json_t *list = json_array();
    for (int k = 0; k < NCOLL; k++) {
        json_array_append_new(list, collection_json(s, base, (coll)k));
    }
    json_t *links = json_array();
    json_array_append_new(links,
                          ht__ogc_link(base, "/ogcapi/collections", "self",
                                       "application/json", NULL));
    return ht__ogc_send(c, rq,
                        json_pack("{s:o, s:o, s:o}", "links", links,
                                  "collections", list, "crs", crs_list()),
                        "application/json");
}

/* GET /ogcapi/collections/{id} */
enum MHD_Result ht__route_ogc_collection(ht_server *s, struct MHD_Connection *c,
                                         request *rq, const char *const *args) {
    coll k;
    query q;
    enum MHD_Result answer;
    if (!ht__ogc_coll(c, rq, args[0], &k, &answer) ||
        !simple_query(c, rq, &q, "f", &answer)) {
        return answer;
    }
    char base[300];
    ht__http_base_url(s, c, rq, base, sizeof base);
    return ht__ogc_send(c, rq, collection_json(s, base, k), "application/json");
}

/* ---- queryables ---- */

static json_t *enum_of(const char *(*name)(int), int n) {
    json_t *a = json_array();
    for (int k = 0; k < n; k++) {
        json_array_append_new(a, json_string(name(k)));
    }
    return a;
}

static const char *level_name(int v) {
    return ht_model_level_name((ht_level)v);
}
static const char *kind_name(int v) {
    return ht_model_kind_name((ht_street_kind)v);
}
static const char *source_name(int v) {
    return ht_model_source_name((ht_source)v);
}
static const char *state_name(int v) {
    return ht_model_state_name((ht_state)v);
}

static json_t *prop(const char *type, const char *title) {
    return json_pack("{s:s, s:s}", "type", type, "title", title);
}

/* GET /ogcapi/collections/{id}/queryables: a JSON Schema of what the
 * items may be filtered on, each by a query parameter of its name. */
enum MHD_Result ht__route_ogc_queryables(ht_server *s, struct MHD_Connection *c,
                                         request *rq, const char *const *args) {
    coll k;
    query q;
    enum MHD_Result answer;
    if (!ht__ogc_coll(c, rq, args[0], &k, &answer) ||
        !simple_query(c, rq, &q, "f", &answer)) {
        return answer;
    }
    json_t *p = json_object();
    if (k == GRIDS) {
        json_t *lv = prop("string", "level");
        json_object_set_new(lv, "enum", enum_of(level_name, HT_LEVEL_COUNT));
        json_object_set_new(p, "level", lv);
        json_object_set_new(p, "parent_code",
                            prop("string", "the parent grid's code"));
        json_object_set_new(
            p, "grid", prop("string", "a grid's code: it and its subtree"));
    } else if (k == STREETS) {
        json_t *kd = prop("string", "kind");
        json_object_set_new(kd, "enum", enum_of(kind_name, HT_KIND_COUNT));
        json_object_set_new(p, "kind", kd);
        json_object_set_new(p, "name", prop("string", "the street's name"));
    }
    if (k != STREETS) {
        /* the incident filters: of the items (incidents) or of the
         * figures (grids) */
        json_object_set_new(
            p, "category",
            prop("string",
                 "category codes, comma-separated (a major code "
                 "takes its minors)"));
        json_t *sev =
            prop("integer", "severity: at least this (or a list 1,3)");
        json_object_set_new(sev, "minimum", json_integer(1));
        json_object_set_new(sev, "maximum", json_integer(3));
        json_object_set_new(p, "severity", sev);
        json_t *st = prop("string", "status (or open, closed; a list)");
        json_t *states = enum_of(state_name, HT_STATE_COUNT);
        json_array_append_new(states, json_string("open"));
        json_object_set_new(st, "enum", states);
        json_object_set_new(p, "status", st);
        json_t *src = prop("string", "source (a list)");
        json_object_set_new(src, "enum", enum_of(source_name, HT_SOURCE_COUNT));
        json_object_set_new(p, "source", src);
        if (k == INCIDENTS) {
            json_object_set_new(
                p, "grid", prop("string", "a grid's code: it and its subtree"));
        }
        json_object_set_new(
            p, "department",
            prop("string", "the department dispatched to (a list)"));
        json_object_set_new(p, "overdue",
                            prop("boolean", "1: open and past a deadline now"));
        json_object_set_new(p, "satisfaction",
                            prop("string", "the resident's verdict (a list)"));
        json_object_set_new(
            p, "window", prop("string", "the last 24h, 7d, 30d or this month"));
        json_t *dt = prop("string", "report time: an instant or a/b");
        json_object_set_new(dt, "format", json_string("date-time"));
        json_object_set_new(p, "datetime", dt);
    }
    char base[300], id[512];
    ht__http_base_url(s, c, rq, base, sizeof base);
    snprintf(id, sizeof id, "%s/ogcapi/collections/%s/queryables", base,
             ht__ogc_colls[k].id);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:o, s:b}", "$schema",
                          "https://json-schema.org/draft/2019-09/schema", "$id",
                          id, "type", "object", "title", ht__ogc_colls[k].title,
                          "properties", p, "additionalProperties", 0);
    return ht__ogc_send(c, rq, j, "application/schema+json");
}

/* ---- the API's definition ---- */

static json_t *param(const char *name, const char *in, const char *desc,
                     json_t *schema) {
    return json_pack("{s:s, s:s, s:s, s:b, s:o}", "name", name, "in", in,
                     "description", desc, "required", strcmp(in, "path") == 0,
                     "schema", schema);
}

static json_t *string_schema(void) {
    return json_pack("{s:s}", "type", "string");
}

static json_t *answer(const char *desc, const char *type) {
    json_t *r = json_pack("{s:s}", "description", desc);
    if (type) {
        json_object_set_new(r, "content", json_pack("{s:{}}", type));
    }
    return r;
}

static json_t *operation(const char *id, const char *summary, json_t *params,
                         const char *type) {
    return json_pack(
        "{s:{s:s, s:s, s:o, s:{s:o, s:o, s:o}}}", "get", "operationId", id,
        "summary", summary, "parameters", params ? params : json_array(),
        "responses", "200", answer("the document", type), "400",
        answer("a bad parameter, named", "application/json"), "404",
        answer("no such collection or feature", "application/json"));
}

/* GET /ogcapi/api: OpenAPI 3.0 */
enum MHD_Result ht__route_ogc_api(ht_server *s, struct MHD_Connection *c,
                                  request *rq, const char *const *args) {
    (void)args;
    query q;
    enum MHD_Result ans;
    if (!simple_query(c, rq, &q, "f", &ans)) {
        return ans;
    }
    char base[300], server[400];
    ht__http_base_url(s, c, rq, base, sizeof base);
    snprintf(server, sizeof server, "%s/ogcapi", base);
    json_t *ids = json_array();
    for (int k = 0; k < NCOLL; k++) {
        json_array_append_new(ids, json_string(ht__ogc_colls[k].id));
    }
    json_t *coll_id =
        param("collectionId", "path", "grids, streets or incidents",
              json_pack("{s:s, s:o}", "type", "string", "enum", ids));
    json_t *items = json_array();
    json_array_append_new(items, json_incref(coll_id));
    json_array_append_new(
        items,
        param("limit", "query", "features a page, 1..10000 (100)",
              json_pack("{s:s, s:i, s:i, s:i}", "type", "integer", "minimum", 1,
                        "maximum", MAX_LIMIT, "default", 100)));
    json_array_append_new(
        items,
        param("bbox", "query",
              "minx,miny,maxx,maxy in bbox-crs (CRS84: longitude "
              "first)",
              json_pack("{s:s, s:i, s:i, s:{s:s}}", "type", "array", "minItems",
                        4, "maxItems", 6, "items", "type", "number")));
    static const char *const text_params[][2] = {
        {"bbox-crs", "the CRS of bbox (CRS84)"},
        {"crs", "the CRS of the answer (CRS84)"},
        {"datetime", "report time: an instant, or a/b with .. for open"},
        {"offset", "grids, streets: the first feature's position"},
        {"cursor", "incidents: as in the next link"},
        {"category", "incidents (grids: their figures): category codes"},
        {"severity", "at least this, or a list 1,3"},
        {"status", "reported, dispatched, handling, closed, evaluated, open"},
        {"source", "hotline, patrol, app, whistle, other"},
        {"grid", "a grid's code: it and its subtree"},
        {"department", "the department dispatched to"},
        {"overdue", "1: open and past a deadline now"},
        {"satisfaction", "the resident's verdict"},
        {"window", "24h, 7d, 30d or month"},
        {"from", "report time, from (ISO 8601)"},
        {"to", "report time, before (ISO 8601)"},
        {"level", "grids: district, street, community or grid"},
        {"parent_code", "grids: the parent's code"},
        {"kind", "streets: road, street, hutong, alley or other"},
        {"name", "streets: the name"}};
    for (size_t k = 0; k < sizeof text_params / sizeof *text_params; k++) {
        json_array_append_new(items, param(text_params[k][0], "query",
                                           text_params[k][1], string_schema()));
    }
    json_t *one =
        json_pack("[o, o]", json_incref(coll_id),
                  param("featureId", "path",
                        "a grid's code, a street's or an incident's id",
                        string_schema()));
    json_t *paths = json_object();
    json_object_set_new(
        paths, "/",
        operation("landing", "the landing page", NULL, "application/json"));
    json_object_set_new(paths, "/conformance",
                        operation("conformance", "the conformance classes",
                                  NULL, "application/json"));
    json_object_set_new(
        paths, "/collections",
        operation("collections", "the collections", NULL, "application/json"));
    json_object_set_new(
        paths, "/collections/{collectionId}",
        operation("collection", "a collection", json_pack("[O]", coll_id),
                  "application/json"));
    json_object_set_new(
        paths, "/collections/{collectionId}/items",
        operation("items", "a page of features", items, GEOJSON));
    json_object_set_new(paths, "/collections/{collectionId}/items/{featureId}",
                        operation("item", "one feature", one, GEOJSON));
    json_object_set_new(
        paths, "/collections/{collectionId}/queryables",
        operation("queryables", "what the items may be filtered on",
                  json_pack("[O]", coll_id), "application/schema+json"));
    json_decref(coll_id);
    json_t *j = json_pack("{s:s, s:{s:s, s:s, s:s}, s:[{s:s}], s:o}", "openapi",
                          "3.0.2", "info", "title", "hutong OGC API Features",
                          "version", "1.0", "description",
                          "Grids, streets and alleys, and incidents", "servers",
                          "url", server, "paths", paths);
    return ht__ogc_send(c, rq, j,
                        "application/vnd.oai.openapi+json;version=3.0");
}
