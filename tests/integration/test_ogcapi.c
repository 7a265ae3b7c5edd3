/* SPDX-License-Identifier: Apache-2.0 */
/* Integration: OGC API Features at /ogcapi on a real `hutong serve` — the
 * documents, the collections' items with their paging, filters, boxes
 * and CRSs, scoped readers, the errors — and the clients: GDAL's OGCAPI
 * driver and OWSLib's Features (each skipped when not installed). */
#include <jansson.h>
#include <math.h>
#include <unistd.h>

#include "ht_test.h"

#define H(out, err, ...) ts_hutong(out, err, __VA_ARGS__, (const char *)NULL)

#define OFFICE "110101001" /* 东华门街道 in the demo */

static char *dir, *db, *errlog, *tokens, *scoped;
static ts_server srv;

static int setup(void **state) {
    (void)state;
    dir = ts_tmpdir();
    db = ts_path(dir, "demo.db");
    errlog = ts_path(dir, "serve.log");
    tokens = ts_path(dir, "tokens");
    if (H(NULL, NULL, "demo", "--db", db, "--incidents", "2000") != 0) {
        return -1;
    }
    scoped = ts_token_new(db, tokens, "office", OFFICE, false);
    srv = ts_serve_start(db, errlog, tokens);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    ts_serve_stop(srv);
    ts_rmdir(dir);
    free(dir);
    free(db);
    free(errlog);
    free(tokens);
    free(scoped);
    return 0;
}

/* GET @path (with @headers): its JSON, the status checked; *head kept
 * when asked. */
static json_t *get_json(const char *path, const char *headers, int want,
                        char **head) {
    char *h = NULL, *body = NULL;
    int st = ts_http(srv.port, "GET", path, headers, NULL, &h, &body, NULL);
    if (st != want) {
        fail_msg("%s: %d (not %d) %s", path, st, want, body ? body : "");
    }
    json_t *j = json_loads(body, 0, NULL);
    if (!j) {
        fail_msg("%s: not JSON: %.200s", path, body);
    }
    free(body);
    if (head) {
        *head = h;
    } else {
        free(h);
    }
    return j;
}

/* The path of the link of @rel in @j's links (after the host), or NULL. */
static const char *link_path(json_t *j, const char *rel) {
    size_t k;
    json_t *l;
    json_array_foreach(json_object_get(j, "links"), k, l) {
        if (strcmp(json_string_value(json_object_get(l, "rel")), rel) == 0) {
            const char *href = json_string_value(json_object_get(l, "href"));
            const char *p = strstr(href, "://");
            return p ? strchr(p + 3, '/') : NULL;
        }
    }
    return NULL;
}

static size_t features(json_t *j) {
    return json_array_size(json_object_get(j, "features"));
}

static json_int_t matched(json_t *j) {
    return json_integer_value(json_object_get(j, "numberMatched"));
}

/* The landing page leads to the conformance classes, the collections and
 * the API's definition, every link absolute on this server. */
static void test_ogcapi_documents(void **state) {
    (void)state;
    json_t *land = get_json("/ogcapi", NULL, 200, NULL);
    json_t *land2 = get_json("/ogcapi/?f=json", NULL, 200, NULL);
    assert_true(json_equal(land, land2));
    char host[64];
    snprintf(host, sizeof host, "http://127.0.0.1:%d/ogcapi/", srv.port);
    const char *conf = link_path(land, "conformance");
    const char *data = link_path(land, "data");
    const char *desc = link_path(land, "service-desc");
    assert_non_null(conf);
    assert_non_null(data);
    assert_non_null(desc);
    json_t *c = get_json(conf, NULL, 200, NULL);
    char *text = json_dumps(c, 0);
    assert_contains(text, "ogcapi-features-1/1.0/conf/core");
    assert_contains(text, "ogcapi-features-1/1.0/conf/geojson");
    assert_contains(text, "ogcapi-features-2/1.0/conf/crs");
    free(text);
    json_t *cols = get_json(data, NULL, 200, NULL);
    json_t *list = json_object_get(cols, "collections");
    assert_int_equal(json_array_size(list), 3);
    size_t k;
    json_t *col;
    json_array_foreach(list, k, col) {
        const char *items = link_path(col, "items");
        assert_non_null(items);
        assert_contains(
            json_string_value(json_object_get(
                json_array_get(json_object_get(col, "links"), 0), "href")),
            host);
        /* every collection offers the CRSs of Part 2, CRS84 stored */
        char *crs = json_dumps(json_object_get(col, "crs"), 0);
        assert_contains(crs, "EPSG/0/4490");
        assert_contains(crs, "EPSG/0/4548");
        free(crs);
        json_t *q = get_json(link_path(col,
                                       "http://www.opengis.net/def/rel/"
                                       "ogc/1.0/queryables"),
                             NULL, 200, NULL);
        assert_string_equal(json_string_value(json_object_get(q, "type")),
                            "object");
        json_decref(q);
    }
    /* the incidents' time extent */
    json_t *inc = get_json("/ogcapi/collections/incidents", NULL, 200, NULL);
    json_t *iv = json_array_get(
        json_object_get(
            json_object_get(json_object_get(inc, "extent"), "temporal"),
            "interval"),
        0);
    assert_true(json_is_string(json_array_get(iv, 0)));
    json_t *api = get_json(desc, NULL, 200, NULL);
    assert_string_equal(json_string_value(json_object_get(api, "openapi")),
                        "3.0.2");
    assert_non_null(json_object_get(json_object_get(api, "paths"),
                                    "/collections/{collectionId}/items"));
    json_decref(api);
    json_decref(inc);
    json_decref(cols);
    json_decref(c);
    json_decref(land);
    json_decref(land2);
}

/* Following the next links through the grids gives every one once;
 * numberMatched says how many; the figures are the statistics'. */
static void test_ogcapi_grids_pages_and_figures(void **state) {
    (void)state;
    json_t *all = get_json("/api/grids?level=grid", NULL, 200, NULL);
    json_int_t want = json_integer_value(json_object_get(all, "count"));
    json_decref(all);
    char path[1024] = "/ogcapi/collections/grids/items?level=grid&limit=150";
    json_int_t seen = 0;
    json_t *ids = json_object();
    for (int pages = 0; pages < 100; pages++) {
        char *head = NULL;
        json_t *p = get_json(path, NULL, 200, &head);
        assert_contains(head, "content-type: application/geo+json");
        assert_contains(
            head,
            "content-crs: <http://www.opengis.net/def/crs/ogc/1.3/crs84>");
        free(head);
        assert_int_equal(matched(p), want);
        assert_int_equal(
            json_integer_value(json_object_get(p, "numberReturned")),
            features(p));
        size_t k;
        json_t *f;
        json_array_foreach(json_object_get(p, "features"), k, f) {
            const char *id = json_string_value(json_object_get(f, "id"));
            assert_null(json_object_get(ids, id));
            json_object_set_new(ids, id, json_true());
            assert_string_equal(json_string_value(json_object_get(
                                    json_object_get(f, "geometry"), "type")),
                                "MultiPolygon");
            seen++;
        }
        const char *next = link_path(p, "next");
        if (!next) {
            json_decref(p);
            break;
        }
        assert_true(features(p) == 150);
        snprintf(path, sizeof path, "%s", next);
        json_decref(p);
    }
    assert_int_equal(seen, want);
    json_decref(ids);
    /* A street office's figures are its row of the statistics, under the
     * same filters; the district's the sum of its offices. */
    const char *filters[] = {"", "&severity=3", "&window=30d&category=01"};
    for (size_t k = 0; k < 3; k++) {
        snprintf(path, sizeof path,
                 "/ogcapi/collections/grids/items/" OFFICE "?f=json%s",
                 filters[k]);
        json_t *g = get_json(path, NULL, 200, NULL);
        json_t *props = json_object_get(g, "properties");
        snprintf(path, sizeof path, "/api/stats?by=street&limit=100%s",
                 filters[k]);
        json_t *st = get_json(path, NULL, 200, NULL);
        size_t i;
        json_t *row;
        json_int_t count = -1;
        json_array_foreach(json_object_get(st, "rows"), i, row) {
            if (strcmp(json_string_value(json_object_get(row, "key")),
                       OFFICE) == 0) {
                count = json_integer_value(json_object_get(row, "count"));
            }
        }
        if (count < 0) {
            count = 0;
        }
        assert_int_equal(
            json_integer_value(json_object_get(props, "incidents")), count);
        json_decref(st);
        json_decref(g);
    }
    json_t *d = get_json("/ogcapi/collections/grids/items?level=district", NULL,
                         200, NULL);
    json_t *s = get_json("/ogcapi/collections/grids/items?level=street", NULL,
                         200, NULL);
    json_int_t sum = 0;
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(s, "features"), i, f) {
        sum += json_integer_value(
            json_object_get(json_object_get(f, "properties"), "incidents"));
    }
    assert_int_equal(features(d), 1);
    assert_int_equal(
        json_integer_value(json_object_get(
            json_object_get(json_array_get(json_object_get(d, "features"), 0),
                            "properties"),
            "incidents")),
        sum);
    assert_int_equal(sum, 2000);
    json_decref(d);
    json_decref(s);
}

/* A box finds the grids that meet it, in CRS84 or latitude first in
 * EPSG:4326; the answer in EPSG:4490 is latitude first, in EPSG:4548
 * northing first in metres. */
static void test_ogcapi_boxes_and_crs(void **state) {
    (void)state;
    json_t *a = get_json(
        "/ogcapi/collections/grids/items?bbox=116.405,39.91,"
        "116.406,39.911&level=grid",
        NULL, 200, NULL);
    json_t *b = get_json(
        "/ogcapi/collections/grids/items?bbox=39.91,116.405,39.911,116.406&"
        "bbox-crs=http://www.opengis.net/def/crs/EPSG/0/4326&level=grid",
        NULL, 200, NULL);
    assert_true(features(a) >= 1 && features(a) <= 4);
    assert_true(json_equal(json_object_get(a, "features"),
                           json_object_get(b, "features")));
    /* the grid under the box's middle is among them */
    json_t *at =
        get_json("/api/grids?at=116.4055,39.9105&level=grid", NULL, 200, NULL);
    const char *code = json_string_value(json_object_get(
        json_array_get(json_object_get(at, "grids"), 0), "code"));
    assert_non_null(code);
    bool found = false;
    size_t k;
    json_t *f;
    json_array_foreach(json_object_get(a, "features"), k, f) {
        found |= strcmp(json_string_value(json_object_get(f, "id")), code) == 0;
    }
    assert_true(found);
    char path[512];
    snprintf(path, sizeof path,
             "/ogcapi/collections/grids/items/%s?crs=http://www.opengis.net/"
             "def/crs/EPSG/0/4490",
             code);
    char *head = NULL;
    json_t *lat_first = get_json(path, NULL, 200, &head);
    assert_contains(head,
                    "content-crs: <http://www.opengis.net/def/crs/epsg/0/"
                    "4490>");
    free(head);
    snprintf(path, sizeof path, "/ogcapi/collections/grids/items/%s", code);
    json_t *lon_first = get_json(path, NULL, 200, NULL);
    json_t *p1 = json_array_get(
        json_array_get(
            json_array_get(
                json_object_get(json_object_get(lat_first, "geometry"),
                                "coordinates"),
                0),
            0),
        0);
    json_t *p2 = json_array_get(
        json_array_get(
            json_array_get(
                json_object_get(json_object_get(lon_first, "geometry"),
                                "coordinates"),
                0),
            0),
        0);
    assert_true(fabs(json_real_value(json_array_get(p1, 0)) -
                     json_real_value(json_array_get(p2, 1))) < 1e-6);
    assert_true(fabs(json_real_value(json_array_get(p1, 1)) -
                     json_real_value(json_array_get(p2, 0))) < 1e-6);
    snprintf(path, sizeof path,
             "/ogcapi/collections/grids/items/%s?crs=http://www.opengis.net/"
             "def/crs/EPSG/0/4548",
             code);
    json_t *gk = get_json(path, NULL, 200, NULL);
    json_t *p3 = json_array_get(
        json_array_get(
            json_array_get(
                json_object_get(json_object_get(gk, "geometry"), "coordinates"),
                0),
            0),
        0);
    double n = json_number_value(json_array_get(p3, 0));
    double e = json_number_value(json_array_get(p3, 1));
    assert_true(n > 4.4e6 && n < 4.43e6);  /* Beijing, 39.9 N */
    assert_true(e > 440000 && e < 460000); /* near 117 E (500 km false E) */
    json_decref(gk);
    json_decref(lat_first);
    json_decref(lon_first);
    json_decref(at);
    json_decref(a);
    json_decref(b);
}

/* Incidents: datetime as the from/to filters; the filters; the cursor
 * pages; one by id. */
static void test_ogcapi_incidents(void **state) {
    (void)state;
    char from[16], to[16], path[512];
    ts_date(-30, from);
    ts_date(-10, to);
    snprintf(path, sizeof path,
             "/ogcapi/collections/incidents/items?datetime=%sT00:00:00Z/"
             "%sT23:59:59Z&severity=2&limit=1",
             from, to);
    json_t *a = get_json(path, NULL, 200, NULL);
    snprintf(path, sizeof path,
             "/api/incidents?from=%s&to=%s&severity=2&limit=1", from, to);
    json_t *b = get_json(path, NULL, 200, NULL);
    /* the interval's end day is in it: /api's to= is the day after */
    json_decref(b);
    char day_after[16];
    ts_date(-9, day_after);
    snprintf(path, sizeof path,
             "/api/incidents?from=%s&to=%s&severity=2&limit=1", from,
             day_after);
    b = get_json(path, NULL, 200, NULL);
    assert_true(matched(a) > 0);
    assert_int_equal(matched(a),
                     json_integer_value(json_object_get(b, "matched")));
    json_decref(a);
    json_decref(b);
    /* every incident once through the pages */
    snprintf(path, sizeof path,
             "/ogcapi/collections/incidents/items?limit=700&crs=EPSG:3857");
    size_t seen = 0;
    for (int pages = 0; pages < 10; pages++) {
        json_t *p = get_json(path, NULL, 200, NULL);
        double x = json_number_value(json_array_get(
            json_object_get(
                json_object_get(
                    json_array_get(json_object_get(p, "features"), 0),
                    "geometry"),
                "coordinates"),
            0));
        assert_true(x > 1.29e7 && x < 1.3e7); /* metres of EPSG:3857 */
        seen += features(p);
        const char *next = link_path(p, "next");
        if (!next) {
            json_decref(p);
            break;
        }
        assert_non_null(strstr(next, "crs=EPSG"));
        snprintf(path, sizeof path, "%s", next);
        json_decref(p);
    }
    assert_int_equal(seen, 2000);
    json_t *one =
        get_json("/ogcapi/collections/incidents/items/17", NULL, 200, NULL);
    assert_int_equal(json_integer_value(json_object_get(one, "id")), 17);
    assert_non_null(
        json_object_get(json_object_get(one, "properties"), "category"));
    json_decref(one);
    json_t *st =
        get_json("/ogcapi/collections/streets/items?kind=hutong&limit=5", NULL,
                 200, NULL);
    size_t k;
    json_t *f;
    assert_true(features(st) > 0);
    json_array_foreach(json_object_get(st, "features"), k, f) {
        assert_string_equal(json_string_value(json_object_get(
                                json_object_get(f, "properties"), "kind")),
                            "hutong");
    }
    json_decref(st);
}

/* A reader scoped to a street office sees its grids and incidents only;
 * another's are not found. */
static void test_ogcapi_scoped_reader(void **state) {
    (void)state;
    char auth[160];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n", scoped);
    json_t *g = get_json("/ogcapi/collections/grids/items?limit=10000", auth,
                         200, NULL);
    size_t k;
    json_t *f;
    assert_true(features(g) > 10);
    json_array_foreach(json_object_get(g, "features"), k, f) {
        assert_int_equal(
            strncmp(json_string_value(json_object_get(f, "id")), OFFICE, 9), 0);
    }
    json_t *i = get_json("/ogcapi/collections/incidents/items?limit=10000",
                         auth, 200, NULL);
    json_t *s =
        get_json("/ogcapi/collections/grids/items/" OFFICE, NULL, 200, NULL);
    assert_int_equal(features(i),
                     json_integer_value(json_object_get(
                         json_object_get(s, "properties"), "incidents")));
    json_array_foreach(json_object_get(i, "features"), k, f) {
        assert_int_equal(
            strncmp(json_string_value(json_object_get(
                        json_object_get(f, "properties"), "grid_code")),
                    OFFICE, 9),
            0);
    }
    json_t *other =
        get_json("/ogcapi/collections/grids/items/110101002", auth, 404, NULL);
    json_decref(other);
    json_decref(g);
    json_decref(i);
    json_decref(s);
}

/* Each bad request: its status and a message naming the parameter. */
static void test_ogcapi_errors(void **state) {
    (void)state;
    static const struct {
        const char *path;
        int status;
        const char *says;
    } cases[] = {
        {"/ogcapi/collections/nope", 404, "grids, streets or incidents"},
        {"/ogcapi/collections/nope/items", 404, "grids, streets or incidents"},
        {"/ogcapi/collections/grids/items/nope", 404, "no such feature"},
        {"/ogcapi/collections/incidents/items/99999999", 404,
         "no such feature"},
        {"/ogcapi/collections/streets/items/x", 404, "no such feature"},
        {"/ogcapi/collections/grids/items?limit=0", 400, "limit"},
        {"/ogcapi/collections/grids/items?limit=10001", 400, "limit"},
        {"/ogcapi/collections/grids/items?crs=EPSG:2000", 400, "crs"},
        {"/ogcapi/collections/grids/items?bbox=1,2,3", 400, "bbox"},
        {"/ogcapi/collections/grids/items?bbox=116.4,39.9,116.5,39.95&bbox-"
         "crs=EPSG:9",
         400, "bbox-crs"},
        {"/ogcapi/collections/grids/items?bbox=39.9,116.4,39.95,116.5", 400,
         "bbox"},
        {"/ogcapi/collections/incidents/items?datetime=2026-02-01/2026-01-01",
         400, "datetime"},
        {"/ogcapi/collections/incidents/items?datetime=2026-02-01&window=7d",
         400, "datetime"},
        {"/ogcapi/collections/incidents/items?severity=5", 400, "severity"},
        {"/ogcapi/collections/incidents/items?cursor=x", 400, "cursor"},
        {"/ogcapi/collections/incidents/items?offset=3", 400, "offset"},
        {"/ogcapi/collections/streets/items?severity=3", 400, "streets"},
        {"/ogcapi/collections/streets/items?kind=canal", 400, "kind"},
        {"/ogcapi/collections/grids/items?level=city", 400, "level"},
        {"/ogcapi/collections/grids/items?f=html", 400, "f: json"},
        {"/ogcapi/collections?window=7d", 400, "filters"},
        {"/ogcapi?color=red", 400, "color"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        char *body = NULL;
        int st = ts_http(srv.port, "GET", cases[k].path, NULL, NULL, NULL,
                         &body, NULL);
        if (st != cases[k].status || !strstr(body, cases[k].says)) {
            fail_msg("case %zu (%s): %d %s", k, cases[k].path, st, body);
        }
        free(body);
    }
}

/* GDAL's OGCAPI driver reads the collections as vector layers, every
 * feature through the next links. */
static void test_ogcapi_gdal(void **state) {
    (void)state;
    if (access("/usr/bin/ogr2ogr", X_OK) != 0) {
        print_message("GDAL not installed: its OGC API check is skipped\n");
        return;
    }
    char url[160], *out = NULL, *err = NULL;
    snprintf(url, sizeof url,
             "OGCAPI:http://127.0.0.1:%d/ogcapi/collections/grids", srv.port);
    char *const info[] = {"/usr/bin/ogrinfo", "-so", url, "grids", NULL};
    if (ts_run(info, 120, &out, &err) != 0) {
        fail_msg("ogrinfo %s: %s", url, err);
    }
    json_t *g =
        get_json("/ogcapi/collections/grids/items?limit=1", NULL, 200, NULL);
    char count[64];
    snprintf(count, sizeof count, "Feature Count: %lld", (long long)matched(g));
    json_decref(g);
    assert_contains(out, count);
    assert_contains(out, "Multi Polygon");
    assert_contains(out, "incidents: Integer");
    free(out);
    free(err);
    snprintf(url, sizeof url,
             "OGCAPI:http://127.0.0.1:%d/ogcapi/collections/incidents",
             srv.port);
    char *dst = ts_path(dir, "incidents.geojson");
    char *const copy[] = {"/usr/bin/ogr2ogr", "-f", "GeoJSON", dst, url, NULL};
    out = err = NULL;
    if (ts_run(copy, 300, &out, &err) != 0) {
        fail_msg("ogr2ogr %s: %s", url, err);
    }
    free(out);
    free(err);
    json_t *j = json_load_file(dst, 0, NULL);
    assert_non_null(j);
    assert_int_equal(features(j), 2000);
    json_decref(j);
    free(dst);
}

/* OWSLib's Features, as a Python client would use it. */
static void test_ogcapi_owslib(void **state) {
    (void)state;
    char *const probe[] = {"/usr/bin/python3", "-c",
                           "import owslib.ogcapi.features", NULL};
    if (access("/usr/bin/python3", X_OK) != 0 ||
        ts_run(probe, 60, NULL, NULL) != 0) {
        print_message("OWSLib not installed: its OGC API check is skipped\n");
        return;
    }
    char *script = ts_path(dir, "features.py");
    ts_write(script,
             "import sys\n"
             "from owslib.ogcapi.features import Features\n"
             "f = Features(sys.argv[1] + '/ogcapi')\n"
             "assert any(c.endswith('conf/geojson') for c in "
             "f.conformance()['conformsTo'])\n"
             "ids = [c['id'] for c in f.collections()['collections']]\n"
             "assert ids == ['grids', 'streets', 'incidents'], ids\n"
             "g = f.collection_items('grids', limit=3, level='street')\n"
             "assert g['numberMatched'] > 3 and len(g['features']) == 3\n"
             "one = f.collection_item('grids', g['features'][0]['id'])\n"
             "assert one['properties']['level'] == 'street'\n"
             "q = f.collection_queryables('incidents')['properties']\n"
             "assert 'severity' in q and 'category' in q\n"
             "i = f.collection_items('incidents', limit=5, severity='3', "
             "bbox=[116.38, 39.85, 116.44, 39.98])\n"
             "assert all(x['properties']['severity'] == 3 for x in "
             "i['features'])\n"
             "assert f.api()['openapi'].startswith('3.0')\n"
             "print('ok', len(i['features']))\n");
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", srv.port);
    char *const run[] = {"/usr/bin/python3", script, base, NULL};
    char *out = NULL, *err = NULL;
    if (ts_run(run, 120, &out, &err) != 0) {
        fail_msg("OWSLib: %s %s", out, err);
    }
    assert_contains(out, "ok 5");
    free(out);
    free(err);
    free(script);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ogcapi_documents),
        cmocka_unit_test(test_ogcapi_grids_pages_and_figures),
        cmocka_unit_test(test_ogcapi_boxes_and_crs),
        cmocka_unit_test(test_ogcapi_incidents),
        cmocka_unit_test(test_ogcapi_scoped_reader),
        cmocka_unit_test(test_ogcapi_errors),
        cmocka_unit_test(test_ogcapi_gdal),
        cmocka_unit_test(test_ogcapi_owslib),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
