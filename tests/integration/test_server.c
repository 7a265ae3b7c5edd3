/* SPDX-License-Identifier: Apache-2.0 */
/* Integration: `hutong serve` on a free loopback port, spoken to over
 * real sockets. */
#include <arpa/inet.h>
#include <cairo.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include "hutong/tile.h"

#include "ht_test.h"

#define H(out, err, ...) ts_hutong(out, err, __VA_ARGS__, (const char *)NULL)

static char *dir, *db, *errlog;
static ts_server srv;

static int setup(void **state) {
    (void)state;
    dir = ts_tmpdir();
    db = ts_pg() ? ts_pg_new_db() : ts_path(dir, "demo.db");
    errlog = ts_path(dir, "serve.log");
    /* The demo ends today (its default), so windows that reach the present
     * hold data whatever the date. */
    if (H(NULL, NULL, "demo", "--db", db, "--incidents", "3000") != 0) {
        return -1;
    }
    srv = ts_serve_start(db, errlog, NULL);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    ts_serve_stop(srv);
    ts_rmdir(dir);
    free(dir);
    free(db);
    free(errlog);
    return 0;
}

static int get(const char *path, char **head, char **body, size_t *len) {
    return ts_http(srv.port, "GET", path, NULL, NULL, head, body, len);
}

static json_t *get_json(const char *path, int want) {
    char *head, *body;
    assert_int_equal(get(path, &head, &body, NULL), want);
    assert_string_equal(ts_header(head, "content-type"), "application/json");
    json_error_t je;
    json_t *j = json_loads(body, 0, &je);
    if (!j) {
        fail_msg("%s: not JSON: %s", path, body);
    }
    free(head);
    free(body);
    return j;
}

static int png_width(const char *body, size_t len) {
    assert_true(len > 24);
    assert_memory_equal(body, "\x89PNG\r\n\x1a\n", 8);
    const unsigned char *b = (const unsigned char *)body;
    return b[16] << 24 | b[17] << 16 | b[18] << 8 | b[19];
}

/* A demo database of @incidents ending today, in the test folder (caller
 * frees). */
static char *demo_db(const char *name, const char *incidents) {
    char *path = ts_pg() ? ts_pg_new_db() : ts_path(dir, name);
    assert_int_equal(
        H(NULL, NULL, "demo", "--db", path, "--incidents", incidents), 0);
    return path;
}

static void test_server_health(void **state) {
    (void)state;
    json_t *j = get_json("/healthz", 200);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "ok");
    assert_int_equal(json_integer_value(json_object_get(j, "incidents")), 3000);
    json_decref(j);
    /* The root lists the shipped styles with their TileJSON. */
    j = get_json("/api", 200);
    json_t *styles = json_object_get(j, "styles");
    bool heat = false;
    for (size_t k = 0; k < json_array_size(styles); k++) {
        json_t *e = json_array_get(styles, k);
        if (strcmp(json_string_value(json_object_get(e, "name")), "heat") ==
            0) {
            heat = true;
            assert_contains(json_string_value(json_object_get(e, "tilejson")),
                            "/tiles/heat.json");
        }
    }
    assert_true(heat);
    assert_true(json_array_size(styles) >= 9);
    json_decref(j);
    /* The viewer page, and the code table it offers. */
    char *head, *body;
    assert_int_equal(get("/", &head, &body, NULL), 200);
    assert_contains(ts_header(head, "content-type"), "text/html");
    assert_contains(body, "/static/leaflet/leaflet.js");
    free(head);
    free(body);
    j = get_json("/api/categories", 200);
    assert_true(json_array_size(json_object_get(j, "categories")) > 20);
    json_decref(j);
    /* The departments, in name order: those of the store. */
    j = get_json("/api/departments", 200);
    json_t *ds = json_object_get(j, "departments");
    int64_t nd =
        ts_db_int(db, "SELECT count(DISTINCT department) FROM incidents");
    assert_true(nd > 5);
    assert_int_equal(json_array_size(ds), nd);
    for (size_t k = 0; k < json_array_size(ds); k++) {
        const char *d = json_string_value(json_array_get(ds, k));
        char sql[200];
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM incidents WHERE department = '%s'", d);
        assert_true(ts_db_int(db, sql) > 0);
        assert_true(k == 0 ||
                    strcmp(json_string_value(json_array_get(ds, k - 1)), d) <
                        0);
    }
    json_decref(j);
    /* The grids under a point, lowest first, each the parent of the one
     * before, up to the district. */
    j = get_json("/api/grids?at=116.4109,39.8822", 200);
    json_t *gs = json_object_get(j, "grids");
    assert_int_equal(json_array_size(gs), 4);
    const char *levels[] = {"grid", "community", "street", "district"};
    for (size_t k = 0; k < 4; k++) {
        json_t *g = json_array_get(gs, k);
        assert_string_equal(json_string_value(json_object_get(g, "level")),
                            levels[k]);
        if (k > 0) {
            assert_string_equal(json_string_value(json_object_get(g, "code")),
                                json_string_value(json_object_get(
                                    json_array_get(gs, k - 1), "parent_code")));
        }
    }
    json_decref(j);
    assert_int_equal(get("/api/grids?at=200,1", NULL, &body, NULL), 400);
    free(body);
    assert_int_equal(
        get("/static/leaflet/../../../etc/passwd", NULL, &body, NULL), 404);
    free(body);
}

static void test_server_tiles_etag_and_cache(void **state) {
    (void)state;
    const char *path = "/tiles/default/15/26978/12413.png";
    char *head, *body;
    size_t len;
    assert_int_equal(get(path, &head, &body, &len), 200);
    assert_string_equal(ts_header(head, "content-type"), "image/png");
    assert_int_equal(png_width(body, len), 256);
    char etag[64];
    snprintf(etag, sizeof etag, "%s", ts_header(head, "etag"));
    assert_true(strlen(etag) > 4 && etag[0] == '"');
    assert_contains(ts_header(head, "cache-control"), "max-age=");
    assert_string_equal(ts_header(head, "access-control-allow-origin"), "*");
    free(head);
    /* The second time comes from the cache, byte for byte. */
    char *again;
    size_t len2;
    assert_int_equal(get(path, &head, &again, &len2), 200);
    assert_int_equal(len2, len);
    assert_memory_equal(again, body, len);
    assert_string_equal(ts_header(head, "etag"), etag);
    free(head);
    free(again);
    free(body);
    /* A window reaching the present moves every minute; a past period
     * does not (this server takes no writes), but on a database any other
     * client may change it. */
    struct {
        const char *query, *cc;
    } ages[] = {{"?window=24h", "max-age=60"},
                {"?from=2026-01-01&to=2026-02-01",
                 ts_pg() ? "max-age=300" : "max-age=3600"}};
    for (size_t k = 0; k < 2; k++) {
        char p[128];
        snprintf(p, sizeof p, "%s%s", path, ages[k].query);
        assert_int_equal(get(p, &head, &body, NULL), 200);
        assert_contains(ts_header(head, "cache-control"), ages[k].cc);
        free(head);
        free(body);
    }
    json_t *j = get_json("/healthz", 200);
    assert_true(json_integer_value(json_object_get(
                    json_object_get(j, "tile_cache"), "hits")) >= 1);
    json_decref(j);
    /* A client that has it gets 304 and no body. */
    char hdr[128];
    snprintf(hdr, sizeof hdr, "If-None-Match: %s\r\n", etag);
    assert_int_equal(
        ts_http(srv.port, "GET", path, hdr, NULL, &head, &body, &len), 304);
    assert_int_equal(len, 0);
    free(head);
    free(body);
    /* Another filter is another tile, with another ETag. */
    assert_int_equal(
        get("/tiles/default/15/26978/12413.png?category=01", &head, NULL, NULL),
        200);
    assert_string_not_equal(ts_header(head, "etag"), etag);
    free(head);
    /* @2x is 512 px; heat tiles take the filters. */
    assert_int_equal(
        get("/tiles/wall/15/26978/12413@2x.png", NULL, &body, &len), 200);
    assert_int_equal(png_width(body, len), 512);
    free(body);
    assert_int_equal(get("/tiles/heat/14/13489/6206.png?window=30d&"
                         "severity=2&status=open",
                         &head, &body, &len),
                     200);
    assert_int_equal(png_width(body, len), 256);
    free(head);
    free(body);
}

static void test_server_tilejson_and_legend(void **state) {
    (void)state;
    json_t *j = get_json("/tiles/heat.json?window=7d&category=H02", 200);
    assert_string_equal(json_string_value(json_object_get(j, "tilejson")),
                        "3.0.0");
    const char *url =
        json_string_value(json_array_get(json_object_get(j, "tiles"), 0));
    assert_non_null(url);
    assert_contains(url, "/tiles/heat/{z}/{x}/{y}.png?");
    assert_contains(url, "window=7d");
    assert_contains(url, "category=H02");
    json_t *b = json_object_get(j, "bounds");
    /* The district: about 116.37-116.45 E, 39.85-39.98 N. */
    assert_true(json_real_value(json_array_get(b, 0)) > 116.3);
    assert_true(json_real_value(json_array_get(b, 2)) < 116.5);
    assert_true(json_real_value(json_array_get(b, 1)) > 39.8);
    assert_true(json_real_value(json_array_get(b, 3)) < 40.0);
    const char *legend = json_string_value(json_object_get(j, "legend"));
    assert_non_null(legend);
    /* TileJSON's legend is HTML: the image, its URL escaped */
    assert_contains(legend, "<img src=\"http://");
    assert_contains(legend, "/legend/heat.png?");
    assert_contains(legend, "&amp;");
    assert_contains(legend, "\" alt=\"");
    json_decref(j);
    j = get_json("/tiles/default.json", 200);
    assert_null(json_object_get(j, "legend"));
    json_decref(j);
    char *body;
    size_t len;
    assert_int_equal(get("/legend/hotspots.png?scale=2", NULL, &body, &len),
                     200);
    assert_int_equal(png_width(body, len), 720);
    free(body);
}

static void test_server_api(void **state) {
    (void)state;
    /* Statistics under the filters: every incident once. */
    json_t *j = get_json("/api/stats?by=category", 200);
    assert_int_equal(json_integer_value(json_object_get(j, "total")), 3000);
    json_t *rows = json_object_get(j, "rows");
    json_int_t sum = 0;
    for (size_t k = 0; k < json_array_size(rows); k++) {
        sum += json_integer_value(
            json_object_get(json_array_get(rows, k), "count"));
    }
    assert_int_equal(sum, 3000);
    json_decref(j);
    j = get_json("/api/stats?by=street&window=30d&limit=3", 200);
    assert_true(json_array_size(json_object_get(j, "rows")) == 3);
    assert_non_null(json_object_get(j, "from"));
    json_t *first = json_array_get(json_object_get(j, "rows"), 0);
    assert_int_equal(json_integer_value(json_object_get(first, "rank")), 1);
    assert_true(json_is_integer(json_object_get(first, "prev")));
    json_decref(j);
    /* Last month: a whole month of the demo, so some topics rose. */
    char month[16], topics[64];
    snprintf(topics, sizeof topics, "/api/topics?month=%s&min=1&limit=5",
             ts_month(-1, month));
    j = get_json(topics, 200);
    assert_string_equal(json_string_value(json_object_get(j, "month")), month);
    size_t ntopics = json_array_size(json_object_get(j, "topics"));
    assert_true(ntopics >= 1 && ntopics <= 5);
    json_decref(j);
    /* Grids: a list by level, and one with its geometry and figures. */
    j = get_json("/api/grids?level=street", 200);
    assert_int_equal(json_integer_value(json_object_get(j, "count")), 17);
    json_decref(j);
    j = get_json("/api/grids?parent=110101001", 200);
    assert_true(json_integer_value(json_object_get(j, "count")) > 3);
    json_decref(j);
    j = get_json("/api/grids/110101001", 200);
    assert_string_equal(json_string_value(json_object_get(j, "type")),
                        "Feature");
    json_t *geom = json_object_get(j, "geometry");
    assert_string_equal(json_string_value(json_object_get(geom, "type")),
                        "MultiPolygon");
    json_t *props = json_object_get(j, "properties");
    assert_string_equal(json_string_value(json_object_get(props, "name")),
                        "东华门街道");
    json_int_t office = json_integer_value(
        json_object_get(json_object_get(props, "stats"), "total"));
    assert_true(office > 0 && office < 3000);
    json_decref(j);
    /* Bad input names the parameter. */
    const struct {
        const char *path;
        int status;
        const char *says;
    } bad[] = {{"/api/stats?by=ward", 400, "by"},
               {"/api/stats?limit=0", 400, "limit"},
               {"/api/stats?category=ZZ", 400, "ZZ"},
               {"/api/stats?colour=1", 400, "colour"},
               {"/api/topics", 400, "month"},
               {"/api/topics?month=2026-13", 400, "month"},
               {"/api/topics?month=2026-10&window=7d", 400, "no filters"},
               {"/api/grids?level=ward", 400, "level"},
               {"/api/grids/nope", 404, "no such grid"},
               {"/api/grids/110101001?grid=110101002", 400, "grid"}};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        char *body;
        int st = get(bad[k].path, NULL, &body, NULL);
        if (st != bad[k].status || !strstr(body, bad[k].says)) {
            fail_msg("%s: %d %s", bad[k].path, st, body);
        }
        free(body);
    }
}

static int png_height(const char *body) {
    const unsigned char *b = (const unsigned char *)body;
    return b[20] << 24 | b[21] << 16 | b[22] << 8 | b[23];
}

static void test_server_wms(void **state) {
    (void)state;
    char *head, *body;
    size_t len;
    /* Capabilities: every style a layer, four CRSs. */
    assert_int_equal(
        get("/wms?SERVICE=WMS&REQUEST=GetCapabilities", &head, &body, NULL),
        200);
    assert_string_equal(ts_header(head, "content-type"), "text/xml");
    assert_contains(body, "<WMS_Capabilities version=\"1.3.0\"");
    assert_contains(body, "<Name>heat</Name>");
    assert_contains(body, "<Name>default</Name>");
    assert_contains(body, "<CRS>EPSG:4548</CRS>");
    assert_contains(body, "xlink:href=\"http://127.0.0.1:");
    free(head);
    free(body);
    assert_int_equal(get("/wms?SERVICE=WMS&VERSION=1.1.1&REQUEST="
                         "GetCapabilities",
                         NULL, &body, NULL),
                     200);
    assert_contains(body, "<WMT_MS_Capabilities version=\"1.1.1\">");
    free(body);
    /* GetMap in 1.3.0 lat/lon order and in 1.1.1 lon/lat: the same box,
     * the same picture. */
    const char *v13 =
        "/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=default,heat&"
        "STYLES=&CRS=EPSG:4326&BBOX=39.86,116.38,39.97,116.44&WIDTH=240&"
        "HEIGHT=440&FORMAT=image/png&window=30d";
    const char *v11 =
        "/wms?SERVICE=WMS&VERSION=1.1.1&REQUEST=GetMap&LAYERS=default,heat&"
        "STYLES=&SRS=EPSG:4326&BBOX=116.38,39.86,116.44,39.97&WIDTH=240&"
        "HEIGHT=440&FORMAT=image/png&window=30d";
    char *b11;
    size_t len11;
    assert_int_equal(get(v13, &head, &body, &len), 200);
    assert_string_equal(ts_header(head, "content-type"), "image/png");
    assert_int_equal(png_width(body, len), 240);
    assert_int_equal(png_height(body), 440);
    assert_int_equal(get(v11, NULL, &b11, &len11), 200);
    assert_int_equal(len11, len);
    assert_memory_equal(b11, body, len);
    free(head);
    free(body);
    free(b11);
    /* EPSG:4548, northing first in 1.3.0, transparent. */
    assert_int_equal(get("/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&"
                         "LAYERS=choropleth&STYLES=&CRS=EPSG:4548&BBOX="
                         "4413700,447200,4426800,451700&WIDTH=200&HEIGHT=580&"
                         "FORMAT=image/png&TRANSPARENT=TRUE",
                         NULL, &body, &len),
                     200);
    assert_int_equal(png_width(body, len), 200);
    free(body);
    /* GetFeatureInfo: the grid under the pixel with its figures. */
    json_t *j = get_json(
        "/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetFeatureInfo&LAYERS="
        "default,heat&QUERY_LAYERS=heat&STYLES=&CRS=EPSG:4326&BBOX=39.86,116."
        "38,"
        "39.97,116.44&WIDTH=240&HEIGHT=440&I=120&J=220&INFO_FORMAT="
        "application/json",
        200);
    json_t *f = json_array_get(json_object_get(j, "features"), 0);
    assert_non_null(f);
    json_t *props = json_object_get(f, "properties");
    assert_string_equal(json_string_value(json_object_get(props, "level")),
                        "grid");
    assert_true(json_integer_value(json_object_get(props, "incidents")) >= 0);
    json_decref(j);
    assert_int_equal(get("/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST="
                         "GetFeatureInfo&LAYERS=grids&QUERY_LAYERS=grids&"
                         "CRS=EPSG:4326&BBOX=39.86,116.38,39.97,116.44&WIDTH="
                         "240&HEIGHT=440&I=120&J=220&INFO_FORMAT=text/html",
                         &head, &body, NULL),
                     200);
    assert_contains(ts_header(head, "content-type"), "text/html");
    assert_contains(body, "incidents");
    free(head);
    free(body);
    /* GetLegendGraphic: in real units for heat layers. */
    assert_int_equal(get("/wms?SERVICE=WMS&REQUEST=GetLegendGraphic&LAYER="
                         "streetheat&FORMAT=image/png",
                         NULL, &body, &len),
                     200);
    assert_int_equal(png_width(body, len), 360);
    free(body);
    /* Exceptions: OGC reports with codes. */
    const struct {
        const char *q, *code;
    } bad[] = {
        {"REQUEST=GetMap&VERSION=1.3.0&LAYERS=nope&CRS=EPSG:3857&BBOX=0,0,1,1&"
         "WIDTH=1&HEIGHT=1&FORMAT=image/png",
         "LayerNotDefined"},
        {"REQUEST=GetMap&VERSION=1.3.0&LAYERS=default&CRS=EPSG:2000&BBOX=0,0,"
         "1,1&WIDTH=1&HEIGHT=1&FORMAT=image/png",
         "InvalidCRS"},
        {"REQUEST=GetMap&VERSION=1.3.0&LAYERS=default&CRS=EPSG:3857&BBOX=0,0,"
         "1,1&WIDTH=9999&HEIGHT=1&FORMAT=image/png",
         "InvalidParameterValue"},
        {"REQUEST=GetFeatureInfo&VERSION=1.3.0&LAYERS=default&QUERY_LAYERS="
         "default&CRS=EPSG:3857&BBOX=0,0,1,1&WIDTH=2&HEIGHT=2&I=1&J=1",
         "LayerNotQueryable"},
        {"REQUEST=GetFeatureInfo&VERSION=1.3.0&LAYERS=nope&QUERY_LAYERS=nope&"
         "CRS=EPSG:3857&BBOX=0,0,1,1&WIDTH=2&HEIGHT=2&I=1&J=1",
         "LayerNotDefined"},
        {"REQUEST=Transaction", "OperationNotSupported"}};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        char path[512];
        snprintf(path, sizeof path, "/wms?SERVICE=WMS&%s", bad[k].q);
        assert_int_equal(get(path, &head, &body, NULL), 400);
        assert_string_equal(ts_header(head, "content-type"), "text/xml");
        char want[80];
        snprintf(want, sizeof want, "code=\"%s\"", bad[k].code);
        assert_contains(body, want);
        free(head);
        free(body);
    }
}

static void test_server_static_maps(void **state) {
    (void)state;
    char *head, *body;
    size_t len;
    assert_int_equal(get("/map.png?grid=110101003&width=600&height=400&"
                         "style=print&crs=EPSG:4548&window=30d",
                         &head, &body, &len),
                     200);
    assert_string_equal(ts_header(head, "content-type"), "image/png");
    assert_int_equal(png_width(body, len), 600);
    assert_int_equal(png_height(body), 400);
    free(head);
    free(body);
    /* High-DPI wall images: scale multiplies the pixels. */
    assert_int_equal(get("/map.png?bbox=12955000,4845000,12962000,4862000&"
                         "width=300&height=700&style=wall&scale=2",
                         NULL, &body, &len),
                     200);
    assert_int_equal(png_width(body, len), 600);
    assert_int_equal(png_height(body), 1400);
    free(body);
    assert_int_equal(get("/map.pdf?grid=110101001&width=595&height=842&"
                         "style=print",
                         &head, &body, &len),
                     200);
    assert_string_equal(ts_header(head, "content-type"), "application/pdf");
    assert_true(len > 1000);
    assert_memory_equal(body, "%PDF-", 5);
    free(head);
    free(body);
    const struct {
        const char *path, *says;
    } bad[] = {{"/map.png?width=10", "bbox or grid"},
               {"/map.png?bbox=1,2,3&width=10", "bbox"},
               {"/map.png?bbox=3,2,1,4", "bbox"},
               {"/map.png?grid=nope", "nope"},
               {"/map.png?grid=110101001&width=5000", "width"},
               {"/map.png?grid=110101001&width=3000&scale=2", "scale"},
               {"/map.png?grid=110101001&crs=EPSG:0", "EPSG:0"},
               {"/map.png?grid=110101001&style=..", "style"}};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        int st = get(bad[k].path, NULL, &body, NULL);
        if ((st != 400 && st != 404) || !strstr(body, bad[k].says)) {
            fail_msg("%s: %d %s", bad[k].path, st, body);
        }
        free(body);
    }
}

static void test_server_incidents_paging(void **state) {
    (void)state;
    /* Three pages of 1000 hold every incident once, newest first. */
    char path[256] = "/api/incidents?limit=1000";
    int64_t seen = 0, last_id = INT64_MAX;
    char last_at[32] = "9999";
    for (int page = 0; page < 4; page++) {
        json_t *j = get_json(path, 200);
        json_t *fs = json_object_get(j, "features");
        for (size_t k = 0; k < json_array_size(fs); k++) {
            json_t *f = json_array_get(fs, k);
            const char *at = json_string_value(json_object_get(
                json_object_get(f, "properties"), "reported_at"));
            int64_t id = json_integer_value(json_object_get(f, "id"));
            int c = strcmp(at, last_at);
            assert_true(c < 0 || (c == 0 && id < last_id));
            snprintf(last_at, sizeof last_at, "%s", at);
            last_id = id;
            seen++;
        }
        const char *next = json_string_value(json_object_get(j, "next"));
        if (!next) {
            json_decref(j);
            break;
        }
        assert_true(page < 2);
        snprintf(path, sizeof path, "/api/incidents?limit=1000&cursor=%s",
                 next);
        json_decref(j);
    }
    assert_int_equal(seen, 3000);
    /* Filters and a box narrow it; positions come back inside the box. */
    json_t *j = get_json(
        "/api/incidents?bbox=116.38,39.86,116.41,39.92&"
        "severity=3&limit=1000",
        200);
    json_t *fs = json_object_get(j, "features");
    assert_true(json_array_size(fs) > 0 && json_array_size(fs) < 3000);
    for (size_t k = 0; k < json_array_size(fs); k++) {
        json_t *f = json_array_get(fs, k);
        json_t *xy =
            json_object_get(json_object_get(f, "geometry"), "coordinates");
        double lon = json_real_value(json_array_get(xy, 0));
        double lat = json_real_value(json_array_get(xy, 1));
        assert_true(lon >= 116.38 && lon <= 116.41 && lat >= 39.86 &&
                    lat <= 39.92);
        assert_int_equal(json_integer_value(json_object_get(
                             json_object_get(f, "properties"), "severity")),
                         3);
    }
    json_decref(j);
    const char *bad[] = {"/api/incidents?limit=0", "/api/incidents?cursor=x",
                         "/api/incidents?bbox=1,2,3",
                         "/api/incidents?category=ZZ"};
    for (size_t k = 0; k < 4; k++) {
        char *body;
        assert_int_equal(get(bad[k], NULL, &body, NULL), 400);
        free(body);
    }
}

static void test_server_writes(void **state) {
    (void)state;
    char *wdb = demo_db("writes.db", "500"), *tokens = ts_path(dir, "tokens");
    char *wlog = ts_path(dir, "writes.log");
    char *tw, *err;
    /* On PostgreSQL the tokens live in the database (no --tokens). */
    const char *where[2] = {ts_pg() ? "--db" : "--tokens",
                            ts_pg() ? wdb : tokens};
    assert_int_equal(H(&tw, &err, "token", "create", "--name", "ingest",
                       "--write", where[0], where[1]),
                     0);
    assert_contains(err, "shown only this once");
    free(err);
    tw[strcspn(tw, "\n")] = 0;
    char *tr = ts_token_new(wdb, tokens, "viewer", NULL, false);
    char *ts = ts_token_new(wdb, tokens, "office", "110101001", true);
    assert_int_equal(H(NULL, &err, "token", "create", "--tokens", tokens), 2);
    free(err);
    /* A scope names a grid of the database; the tokens are left as they
     * were. */
    char *before_tokens = NULL, *after_tokens = NULL;
    assert_int_equal(
        H(&before_tokens, NULL, "token", "list", where[0], where[1]), 0);
    assert_contains(before_tokens, "office\t110101001\tread,write\n");
    assert_contains(before_tokens, "viewer\t*\tread\n");
    assert_int_equal(H(NULL, &err, "token", "create", "--name", "x", "--scope",
                       "110101999", where[0], where[1], "--db", wdb),
                     2);
    assert_contains(err, "no such grid");
    free(err);
    /* A name taken: refused in the database (a file takes both). */
    if (ts_pg()) {
        assert_int_equal(
            H(NULL, &err, "token", "create", "--name", "viewer", "--db", wdb),
            2);
        assert_contains(err, "revoke it first");
        free(err);
        assert_int_equal(H(NULL, &err, "token", "create", "--name", "x",
                           "--tokens", tokens, "--db", wdb),
                         2);
        assert_contains(err, "live in it");
        free(err);
    }
    char *nodb = ts_path(dir, "nothing.db");
    assert_int_equal(H(NULL, &err, "token", "create", "--name", "x", "--scope",
                       "110101001", "--tokens", tokens, "--db", nodb),
                     2);
    assert_contains(err, "give --db");
    free(err);
    free(nodb);
    assert_int_equal(
        H(&after_tokens, NULL, "token", "list", where[0], where[1]), 0);
    assert_string_equal(before_tokens, after_tokens);
    free(before_tokens);
    free(after_tokens);
    ts_server w = ts_serve_start(wdb, wlog, tokens);
    char auth_w[128], auth_r[128], auth_s[128];
    snprintf(auth_w, sizeof auth_w, "Authorization: Bearer %s\r\n", tw);
    snprintf(auth_r, sizeof auth_r, "Authorization: Bearer %s\r\n", tr);
    snprintf(auth_s, sizeof auth_s, "Authorization: Bearer %s\r\n", ts);
    /* Reported six hours ago: inside window=24h on any day. */
    char r1[24], r2[24], csv[256];
    snprintf(csv, sizeof csv,
             "id,lon,lat,category,severity,source,status,reported_at\n"
             "live-1,116.4100,39.9150,0101,2,app,reported,%s\n"
             "live-2,116.4000,39.9300,0503,1,patrol,reported,%s\n",
             ts_iso(-6 * 3600, r1), ts_iso(-6 * 3600 + 60, r2));
    char *head, *body;
    const char *tile = "/tiles/heat/15/26978/12413.png";
    assert_int_equal(
        ts_http(w.port, "GET", tile, NULL, NULL, &head, NULL, NULL), 200);
    char etag[64];
    snprintf(etag, sizeof etag, "%s", ts_header(head, "etag"));
    free(head);
    uint64_t before = ts_db_fingerprint(wdb);
    /* No token, a read token, a malformed body, a scoped token writing
     * outside its area: refused, and the file is as it was. */
    struct {
        const char *auth, *body;
        int status;
        const char *says;
    } refused[] = {
        {NULL, csv, 401, "bearer token"},
        {auth_r, csv, 403, "not write"},
        {auth_w,
         "id,lon,lat,category,severity,reported_at\nx,116.41,abc,"
         "0101,2,2026-11-28\n",
         400, "line 2"},
        {auth_w, "", 400, "empty"},
        {auth_s, csv, 403, "outside"},
    };
    for (size_t k = 0; k < sizeof refused / sizeof *refused; k++) {
        int st = ts_http(w.port, "POST", "/api/incidents", refused[k].auth,
                         refused[k].body, NULL, &body, NULL);
        if (st != refused[k].status || !strstr(body, refused[k].says)) {
            fail_msg("refusal %zu: %d %s", k, st, body);
        }
        assert_null(strstr(body, "/tmp/"));
        free(body);
    }
    assert_true(ts_db_fingerprint(wdb) == before);
    /* A live listener, before the write. */
    int sse = ts_sse_open(w.port, "");
    /* Accepted: 201 with the ids, on disk before the answer. */
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(ts_http(w.port, "POST", "/api/incidents", auth_w, csv,
                             NULL, &body, NULL),
                     201);
    assert_contains(body, "\"inserted\":2");
    free(body);
    assert_int_equal(ts_db_int(wdb,
                               "SELECT count(*) FROM incidents WHERE "
                               "external_id LIKE 'live-%'"),
                     2);
    /* The listener hears of both within a second of the commit. */
    char *heard = ts_sse_until(sse, "\"external_id\":\"live-2\"", 1000);
    assert_non_null(heard);
    assert_contains(heard, "event: incident");
    assert_contains(heard, "\"external_id\":\"live-1\"");
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true((t1.tv_sec - t0.tv_sec) * 1000 +
                    (t1.tv_nsec - t0.tv_nsec) / 1000000 <
                1000);
    free(heard);
    /* The metrics count the write, its events and the listener. */
    assert_int_equal(
        ts_http(w.port, "GET", "/metrics", NULL, NULL, NULL, &body, NULL), 200);
    assert_contains(body, "hutong_writes_total 1\n");
    assert_contains(body, "hutong_events_total 2\n");
    assert_contains(body, "hutong_event_listeners 1\n");
    free(body);
    /* Everyone sees it: the count, the feed, new tile ETags. */
    assert_int_equal(ts_http(w.port, "GET", "/api/incidents?limit=1", NULL,
                             NULL, NULL, &body, NULL),
                     200);
    assert_contains(body, "\"matched\":502");
    assert_contains(body, "live-2");
    free(body);
    assert_int_equal(
        ts_http(w.port, "GET", tile, NULL, NULL, &head, NULL, NULL), 200);
    assert_string_not_equal(ts_header(head, "etag"), etag);
    free(head);
    /* The same rows again change nothing; GeoJSON in a CRS too. */
    assert_int_equal(ts_http(w.port, "POST", "/api/incidents", auth_w, csv,
                             NULL, &body, NULL),
                     200);
    assert_contains(body, "\"unchanged\":2");
    free(body);
    const char *gj =
        "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\","
        "\"properties\":{\"id\":\"live-3\",\"category\":\"0105\",\"severity\":"
        "3,\"reported_at\":\"2026-11-28T06:02:00+08:00\"},\"geometry\":{"
        "\"type\":\"Point\",\"coordinates\":[116.4162,39.9163]}}]}";
    assert_int_equal(ts_http(w.port, "POST", "/api/incidents?crs=gcj02", auth_w,
                             gj, NULL, &body, NULL),
                     201);
    free(body);
    assert_int_equal(ts_db_int(wdb, "SELECT count(*) FROM incidents"), 503);
    /* Life-cycle steps: forward only, logged, closed_at kept. */
    int64_t id = ts_db_int(wdb,
                           "SELECT id FROM incidents WHERE external_id "
                           "= 'live-1'");
    char path[64];
    snprintf(path, sizeof path, "/api/incidents/%lld", (long long)id);
    int64_t events = ts_db_int(wdb, "SELECT count(*) FROM incident_events");
    char step[128], at[24];
    snprintf(step, sizeof step,
             "{\"status\":\"dispatched\",\"at\":\"%s\",\"department\":"
             "\"城管\"}",
             ts_iso(-5 * 3600, at));
    assert_int_equal(
        ts_http(w.port, "PATCH", path, auth_w, step, NULL, &body, NULL), 200);
    assert_contains(body, "\"from\":\"reported\"");
    free(body);
    /* Without "at", the step happens now. */
    int64_t t_before = (int64_t)time(NULL);
    assert_int_equal(ts_http(w.port, "PATCH", path, auth_w,
                             "{\"status\":\"closed\"}", NULL, &body, NULL),
                     200);
    free(body);
    int64_t t_after = (int64_t)time(NULL);
    char sql[160];
    snprintf(sql, sizeof sql,
             "SELECT closed_at FROM incidents WHERE id = %lld AND status = "
             "'closed'",
             (long long)id);
    int64_t closed_at = ts_db_int(wdb, sql);
    assert_true(closed_at >= t_before && closed_at <= t_after);
    assert_int_equal(ts_db_int(wdb, "SELECT count(*) FROM incident_events"),
                     events + 2);
    uint64_t kept = ts_db_fingerprint(wdb);
    /* live-2 lies in 110101002, outside the office token's 110101001. */
    char path2[64];
    snprintf(path2, sizeof path2, "/api/incidents/%lld",
             (long long)ts_db_int(wdb,
                                  "SELECT id FROM incidents WHERE "
                                  "external_id = 'live-2' AND grid_code "
                                  "LIKE '110101002%'"));
    struct {
        const char *path, *auth, *body;
        int status;
        const char *says;
    } no[] = {
        {path, auth_w, "{\"status\":\"handling\"}", 409, "cannot go"},
        {path, auth_w, "{\"status\":\"done\"}", 400, "status"},
        {path, auth_w, "{\"status\":\"evaluated\",\"at\":\"2020-01-01\"}", 400,
         "before the report"},
        {path, auth_w, "[1]", 400, "JSON object"},
        {path, auth_r, "{\"status\":\"evaluated\"}", 403, "not write"},
        {path2, auth_s, "{\"status\":\"evaluated\"}", 403, "outside"},
        {"/api/incidents/999999", auth_w, "{\"status\":\"evaluated\"}", 404,
         "no such"},
        /* A verdict belongs to an evaluated incident; this one is closed. */
        {path, auth_w, "{\"satisfaction\":\"满意\"}", 409, "only an evaluated"},
        {path, auth_w, "{\"status\":\"evaluated\",\"satisfaction\":\"happy\"}",
         400, "satisfaction"},
        {path, auth_w, "{\"satisfaction\":3}", 400, "satisfaction"},
    };
    for (size_t k = 0; k < sizeof no / sizeof *no; k++) {
        int st = ts_http(w.port, "PATCH", no[k].path, no[k].auth, no[k].body,
                         NULL, &body, NULL);
        if (st != no[k].status || !strstr(body, no[k].says)) {
            fail_msg("patch %zu: %d %s", k, st, body);
        }
        free(body);
    }
    assert_true(ts_db_fingerprint(wdb) == kept);
    assert_int_equal(ts_http(w.port, "GET",
                             "/api/incidents?limit=5&status="
                             "closed&window=24h",
                             NULL, NULL, NULL, &body, NULL),
                     200);
    assert_contains(body, "live-1");
    free(body);
    /* The step to "evaluated" with the resident's verdict, then the verdict
     * changed alone; the dispatch time and department are the first
     * dispatch's. */
    assert_int_equal(ts_http(w.port, "PATCH", path, auth_w,
                             "{\"status\":\"evaluated\",\"satisfaction\":"
                             "\"基本满意\"}",
                             NULL, &body, NULL),
                     200);
    assert_contains(body, "\"satisfaction\":\"basic\"");
    free(body);
    assert_int_equal(
        ts_http(w.port, "PATCH", path, auth_w,
                "{\"satisfaction\":\"unsatisfied\"}", NULL, &body, NULL),
        200);
    assert_contains(body, "\"status\":\"evaluated\"");
    free(body);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM incidents WHERE id = %lld AND "
             "satisfaction = 'unsatisfied' AND department = '城管' AND "
             "dispatched_at < closed_at",
             (long long)id);
    assert_int_equal(ts_db_int(wdb, sql), 1);
    /* The new department and the verdict filter the maps' index and the
     * stats alike. */
    assert_int_equal(ts_http(w.port, "GET",
                             "/api/incidents?limit=5&department=%E5%9F%8E%E7"
                             "%AE%A1&satisfaction=unsatisfied",
                             NULL, NULL, NULL, &body, NULL),
                     200);
    assert_contains(body, "live-1");
    free(body);
    assert_int_equal(ts_http(w.port, "GET",
                             "/api/stats?by=department&department=%E5%9F%8E"
                             "%E7%AE%A1",
                             NULL, NULL, NULL, &body, NULL),
                     200);
    assert_contains(body, "\"total\": 1");
    free(body);
    assert_int_equal(ts_http(w.port, "GET", "/api/stats?overdue=maybe", NULL,
                             NULL, NULL, &body, NULL),
                     400);
    assert_contains(body, "overdue");
    free(body);
    /* Too large. */
    char *big = malloc((1u << 20) + 100);
    memset(big, 'x', (1u << 20) + 99);
    big[(1u << 20) + 99] = '\0';
    assert_int_equal(ts_http(w.port, "POST", "/api/incidents", auth_w, big,
                             NULL, &body, NULL),
                     413);
    free(body);
    free(big);
    /* A life-cycle step is heard too; the server stops with the
     * listener still connected. */
    heard = ts_sse_until(sse, "\"status\":\"closed\"", 1000);
    assert_non_null(heard);
    free(heard);
    assert_int_equal(ts_serve_stop(w), 0);
    close(sse);
    free(tw);
    free(tr);
    free(ts);
    free(wdb);
    free(tokens);
    free(wlog);
}

/* Pixels of two PNGs differing by more than 8 in a channel (all of them
 * when the sizes differ). */
static long png_diff(const char *a, size_t na, const char *b, size_t nb) {
    cairo_surface_t *sa = ts_png_decode(a, na);
    cairo_surface_t *sb = ts_png_decode(b, nb);
    assert_int_equal(cairo_surface_status(sa), CAIRO_STATUS_SUCCESS);
    assert_int_equal(cairo_surface_status(sb), CAIRO_STATUS_SUCCESS);
    int w = cairo_image_surface_get_width(sa);
    int h = cairo_image_surface_get_height(sa);
    long bad = 0;
    if (w != cairo_image_surface_get_width(sb) ||
        h != cairo_image_surface_get_height(sb)) {
        bad = (long)w * h;
    }
    for (int j = 0; !bad && j < h; j++) {
        const uint32_t *pa =
            (const uint32_t *)(cairo_image_surface_get_data(sa) +
                               (size_t)j * cairo_image_surface_get_stride(sa));
        const uint32_t *pb =
            (const uint32_t *)(cairo_image_surface_get_data(sb) +
                               (size_t)j * cairo_image_surface_get_stride(sb));
        for (int i = 0; i < w; i++) {
            for (int c = 0; c < 32; c += 8) {
                int d = (int)(pa[i] >> c & 255) - (int)(pb[i] >> c & 255);
                if (d > 8 || d < -8) {
                    bad++;
                    break;
                }
            }
        }
    }
    cairo_surface_destroy(sa);
    cairo_surface_destroy(sb);
    return bad;
}

#define EXP_SIDE 7 /* tiles of a block around the write, each way */
#define EXP_STYLES 5

typedef struct shot {
    char etag[40];
    char *png;
    size_t len;
} shot;

/* A write expires only the cached tiles it can change: heat and markers
 * within the kernel's reach, the choropleth and hotspot tiles whose
 * grids changed class. Every tile still served as it was is proven
 * current against a fresh server on the same file. */
static void test_server_expiry_by_neighbourhood(void **state) {
    (void)state;
    char *edb = demo_db("expiry.db", "3000"), *tokens = ts_path(dir, "etokens");
    char *elog = ts_path(dir, "expiry.log"), *elog2 = ts_path(dir, "e2.log");
    char *tw = ts_token_new(edb, tokens, "ingest", NULL, true);
    char auth[128];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n", tw);
    ts_server a = ts_serve_start(edb, elog, tokens);
    /* The write goes to P; its z15 tile is (cx, cy). */
    const double plon = 116.4100, plat = 39.9150;
    double px, py;
    ht_tile_lonlat_to_merc(plon, plat, &px, &py);
    const char *styles[EXP_STYLES] = {"heat", "default", "streetheat",
                                      "choropleth", "hotspots"};
    /* Markers show from z16: look at them at z17. How far (in tiles) the
     * reach may take a change: the kernel radius or the markers' margin,
     * plus a 250 m neighbourhood cell. */
    const int zoom[EXP_STYLES] = {15, 17, 15, 15, 15};
    const int near[EXP_STYLES] = {1, 2, 0, 0, 0};
    int cxs[EXP_STYLES], cys[EXP_STYLES];
    for (int k = 0; k < EXP_STYLES; k++) {
        ht_tile_id t = ht_tile_at(px, py, zoom[k]);
        cxs[k] = (int)t.x;
        cys[k] = (int)t.y;
    }
    static shot before[EXP_STYLES][EXP_SIDE][EXP_SIDE];
    char path[128], hdr[128];
    for (int k = 0; k < EXP_STYLES; k++) {
        for (int j = 0; j < EXP_SIDE; j++) {
            for (int i = 0; i < EXP_SIDE; i++) {
                shot *sh = &before[k][j][i];
                char *head;
                snprintf(path, sizeof path, "/tiles/%s/%d/%d/%d.png", styles[k],
                         zoom[k], cxs[k] + i - EXP_SIDE / 2,
                         cys[k] + j - EXP_SIDE / 2);
                assert_int_equal(ts_http(a.port, "GET", path, NULL, NULL, &head,
                                         &sh->png, &sh->len),
                                 200);
                snprintf(sh->etag, sizeof sh->etag, "%s",
                         ts_header(head, "etag"));
                free(head);
            }
        }
    }
    /* Twenty reports at P, a few metres apart, in the last day. */
    char csv[4096] = "id,lon,lat,category,severity,reported_at\n", at[24];
    for (int k = 0; k < 20; k++) {
        size_t used = strlen(csv);
        snprintf(csv + used, sizeof csv - used, "near-%d,%.5f,%.5f,0101,2,%s\n",
                 k, plon + (k % 5) * 0.00003, plat + (k / 5) * 0.00003,
                 ts_iso(-3600L * (k + 1), at));
    }
    char *body;
    assert_int_equal(
        ts_http(a.port, "POST", "/api/incidents", auth, csv, NULL, &body, NULL),
        201);
    free(body);
    ts_server b = ts_serve_start(edb, elog2, NULL);
    int changed[EXP_STYLES] = {0}, differs[EXP_STYLES] = {0};
    for (int k = 0; k < EXP_STYLES; k++) {
        for (int j = 0; j < EXP_SIDE; j++) {
            for (int i = 0; i < EXP_SIDE; i++) {
                shot *sh = &before[k][j][i];
                char *head, *now, *fresh;
                size_t nnow, nfresh;
                snprintf(path, sizeof path, "/tiles/%s/%d/%d/%d.png", styles[k],
                         zoom[k], cxs[k] + i - EXP_SIDE / 2,
                         cys[k] + j - EXP_SIDE / 2);
                snprintf(hdr, sizeof hdr, "If-None-Match: %s\r\n", sh->etag);
                int st =
                    ts_http(a.port, "GET", path, hdr, NULL, &head, &now, &nnow);
                assert_true(st == 200 || st == 304);
                assert_int_equal(ts_http(b.port, "GET", path, NULL, NULL, NULL,
                                         &fresh, &nfresh),
                                 200);
                /* Kept or new, what A serves is what a fresh server
                 * draws. */
                long bad = st == 304 ? png_diff(sh->png, sh->len, fresh, nfresh)
                                     : png_diff(now, nnow, fresh, nfresh);
                if (bad > 65) {
                    fail_msg("%s: %s tile differs from a fresh one in %ld px",
                             path, st == 304 ? "kept" : "new", bad);
                }
                differs[k] += png_diff(sh->png, sh->len, fresh, nfresh) > 65;
                int di = i - EXP_SIDE / 2, dj = j - EXP_SIDE / 2;
                if (st == 200) {
                    changed[k]++;
                    assert_string_not_equal(ts_header(head, "etag"), sh->etag);
                    /* Heat and markers: only tiles near P (a z15 tile is
                     * about 940 m, a z17 one 235 m). */
                    if (k < 2 && (abs(di) > near[k] || abs(dj) > near[k])) {
                        fail_msg("%s expired, %d,%d tiles from the write", path,
                                 di, dj);
                    }
                }
                if (k < 2 && di == 0 && dj == 0) {
                    assert_int_equal(st, 200); /* P's own tile */
                    if (png_diff(sh->png, sh->len, now, nnow) == 0) {
                        fail_msg("%s: the write does not show", path);
                    }
                }
                free(head);
                free(now);
                free(fresh);
                free(sh->png);
            }
        }
    }
    /* Aggregates are classed against the whole district: street heat's
     * and the choropleth's breaks and Gi* weigh every street, community or
     * grid against all of them, so 20 reports may move items anywhere
     * across a class bound — and so change every tile's key — or none, as
     * the demo's data (which follows the calendar) has it. What holds for
     * them is that every tile a fresh server draws differently was expired
     * (and the tiles kept are right, checked above). */
    for (int k = 2; k < EXP_STYLES; k++) {
        if (changed[k] < differs[k]) {
            fail_msg("%s: %d of %d tiles expired, %d differ", styles[k],
                     changed[k], EXP_SIDE * EXP_SIDE, differs[k]);
        }
    }
    print_message(
        "expired of %d: heat %d, default %d, streetheat %d, "
        "choropleth %d, hotspots %d\n",
        EXP_SIDE * EXP_SIDE, changed[0], changed[1], changed[2], changed[3],
        changed[4]);
    assert_int_equal(ts_serve_stop(b), 0);
    assert_int_equal(ts_serve_stop(a), 0);
    free(tw);
    free(edb);
    free(tokens);
    free(elog);
    free(elog2);
}

/* Share of fully transparent pixels in a PNG. */
static double png_clear_share(const char *png, size_t len) {
    cairo_surface_t *sf = ts_png_decode(png, len);
    assert_int_equal(cairo_surface_status(sf), CAIRO_STATUS_SUCCESS);
    int w = cairo_image_surface_get_width(sf);
    int h = cairo_image_surface_get_height(sf);
    long clear = 0;
    for (int j = 0; j < h; j++) {
        const uint32_t *p =
            (const uint32_t *)(cairo_image_surface_get_data(sf) +
                               (size_t)j * cairo_image_surface_get_stride(sf));
        for (int i = 0; i < w; i++) {
            clear += (p[i] >> 24) == 0;
        }
    }
    cairo_surface_destroy(sf);
    return (double)clear / ((double)w * h);
}

#define SUBTREE(code)                                                        \
    "WITH RECURSIVE sub(code, depth) AS (SELECT code, 0 FROM grids WHERE "   \
    "code = '" code                                                          \
    "' UNION ALL "                                                           \
    "SELECT g.code, sub.depth + 1 FROM grids g JOIN sub ON g.parent_code = " \
    "sub.code WHERE sub.depth < 16) "

/* A token scoped to a street office reads only inside it: incidents,
 * statistics, grids, events, and images transparent outside; --private
 * makes every read need a token. */
/* An incident passing its deadline while the server runs, without any
 * write: an "overdue" event, and the lateness tiles show it. The server's
 * clock is a file the test writes (HUTONG_CLOCK_FILE). */
/* The count of incidents late now on the server at @port. */
static long overdue_total(int port) {
    char *body;
    assert_int_equal(ts_http(port, "GET", "/api/stats?overdue=1", NULL, NULL,
                             NULL, &body, NULL),
                     200);
    const char *p = strstr(body, "\"total\":");
    long n = p ? strtol(p + 8, NULL, 10) : -1;
    free(body);
    return n;
}

/* The body of GET @path from the server at @port (caller frees). */
static char *body_of(int port, const char *path) {
    char *body;
    assert_int_equal(ts_http(port, "GET", path, NULL, NULL, NULL, &body, NULL),
                     200);
    return body;
}

/* Density grids per class (--heat-grids-from 1 keeps them for the small
 * demo): built in the background at the start, saved beside the index's
 * snapshot, read at the next start (the same tiles); after a write, saved
 * carried past it as the snapshot folds it in, and read again. */
static char *png_of(int port, const char *path, size_t *len) {
    char *body;
    assert_int_equal(ts_http(port, "GET", path, NULL, NULL, NULL, &body, len),
                     200);
    assert_true(*len > 100 && memcmp(body, "\x89PNG", 4) == 0);
    return body;
}

static void test_server_heat_grids(void **state) {
    (void)state;
    if (ts_pg()) {
        skip(); /* the files lie beside a SpatiaLite database */
    }
    char *sdb = demo_db("grids.db", "2000"), *tokens = ts_path(dir, "gtokens");
    char *log = ts_path(dir, "grids.log"), heat[600];
    snprintf(heat, sizeof heat, "%s.index.heat-150-quartic", sdb);
    char *tw = ts_token_new(sdb, tokens, "ingest", NULL, true);
    const char *extra[] = {"--heat-grids-from", "1", "--tokens", tokens, NULL};
    const char *tile = "/tiles/heat/14/13490/6206.png",
               *cat = "/tiles/heat/14/13490/6206.png?category=01";
    /* Without the option the demo is too small for them. */
    ts_server p = ts_serve_start(sdb, log, NULL);
    assert_int_equal(ts_serve_stop(p), 0);
    char *text = ts_read(log);
    assert_contains(text, "density grids built per filter (2000 incidents");
    free(text);
    assert_int_not_equal(access(heat, F_OK), 0);
    ts_server a = ts_serve_start_with(sdb, log, extra);
    size_t nt0, nc0, nt1, nc1, nt2;
    char *t0 = png_of(a.port, tile, &nt0), *c0 = png_of(a.port, cat, &nc0);
    assert_int_equal(ts_serve_stop(a), 0);
    text = ts_read(log);
    assert_contains(text, "150 m quartic built in the background");
    /* not the monthly report's 400 m: on demand */
    assert_null(strstr(text, "400 m"));
    free(text);
    assert_int_equal(access(heat, R_OK), 0);
    ts_server b = ts_serve_start_with(sdb, log, extra);
    text = ts_read(log);
    assert_contains(text, "150 m quartic (and per ");
    assert_contains(text, " h of report time) read from");
    free(text);
    /* A window: summed from the grids per span of time. */
    size_t nw;
    char *w1 = png_of(b.port, "/tiles/heat/14/13490/6206.png?window=30d", &nw);
    assert_true(nw > 100);
    free(w1);
    char *t1 = png_of(b.port, tile, &nt1), *c1 = png_of(b.port, cat, &nc1);
    assert_int_equal(nt0, nt1);
    assert_int_equal(nc0, nc1);
    assert_memory_equal(t0, t1, nt0);
    assert_memory_equal(c0, c1, nc0);
    /* A write: the snapshot folds it in at the stop, the grids too. */
    char hdr[300];
    snprintf(hdr, sizeof hdr,
             "Content-Type: text/csv\r\nAuthorization: Bearer %s\r\n", tw);
    const char *csv =
        "id,lon,lat,category,severity,source,status,"
        "reported_at\ngrid-1,116.4105,39.9152,0101,2,app,"
        "reported,2026-03-01T08:00:00Z\n";
    assert_int_equal(
        ts_http(b.port, "POST", "/api/incidents", hdr, csv, NULL, NULL, NULL),
        201);
    assert_int_equal(ts_serve_stop(b), 0);
    ts_server c = ts_serve_start_with(sdb, log, extra);
    text = ts_read(log);
    assert_contains(text, " h of report time) read from");
    free(text);
    char *t2 = png_of(c.port, tile, &nt2);
    assert_int_equal(ts_serve_stop(c), 0);
    /* Damaged: built again. */
    ts_write(heat, "HTHEAT garbage");
    ts_server d = ts_serve_start_with(sdb, log, extra);
    text = ts_read(log);
    assert_contains(text, "built in the background (");
    assert_contains(text, "not density grids");
    free(text);
    assert_int_equal(ts_serve_stop(d), 0);
    free(t0);
    free(t1);
    free(t2);
    free(c0);
    free(c1);
    free(tw);
    free(log);
    free(tokens);
    free(sdb);
}

/* The index is saved beside the database (DB.index) and read back at the
 * next start when it holds the file's data version: after a start that
 * loaded it, after writes through the server (saved as it stops), and
 * never when stale or damaged (then the database is read again). */
static void test_server_index_snapshot(void **state) {
    (void)state;
    if (ts_pg()) {
        skip(); /* the snapshot is a file beside a SpatiaLite database */
    }
    char *sdb = demo_db("snap.db", "2000"), *tokens = ts_path(dir, "stokens");
    char *log = ts_path(dir, "snap.log"), idx[600];
    snprintf(idx, sizeof idx, "%s.index", sdb);
    char *tw = ts_token_new(sdb, tokens, "ingest", NULL, true);
    char auth[128];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n", tw);
    ts_server a = ts_serve_start(sdb, log, tokens);
    char *stats0 = body_of(a.port, "/api/stats?by=grid");
    assert_int_equal(ts_serve_stop(a), 0);
    char *text = ts_read(log);
    assert_contains(text, "loaded from the database");
    free(text);
    assert_int_equal(access(idx, R_OK), 0);
    /* Read back: the same figures. */
    ts_server b = ts_serve_start(sdb, log, tokens);
    text = ts_read(log);
    assert_contains(text, "read from");
    free(text);
    char *stats1 = body_of(b.port, "/api/stats?by=grid");
    assert_string_equal(stats0, stats1);
    /* A write through it: saved as it stops, read back with the write. */
    const char *csv =
        "id,lon,lat,category,severity,source,status,"
        "reported_at\nsnap-1,116.4105,39.9152,0101,2,app,"
        "reported,2026-03-01T08:00:00Z\n";
    assert_int_equal(
        ts_http(b.port, "POST", "/api/incidents",
                "Content-Type: text/csv\r\nAuthorization: Bearer x\r\n", csv,
                NULL, NULL, NULL),
        401);
    char hdr[300];
    snprintf(hdr, sizeof hdr, "Content-Type: text/csv\r\n%s", auth);
    assert_int_equal(
        ts_http(b.port, "POST", "/api/incidents", hdr, csv, NULL, NULL, NULL),
        201);
    char *stats2 = body_of(b.port, "/api/stats?by=grid");
    assert_int_equal(ts_serve_stop(b), 0);
    ts_server c = ts_serve_start(sdb, log, tokens);
    text = ts_read(log);
    assert_contains(text, "read from");
    free(text);
    char *stats3 = body_of(c.port, "/api/stats?by=grid");
    assert_string_equal(stats2, stats3);
    assert_string_not_equal(stats0, stats3);
    char *page = body_of(c.port,
                         "/api/incidents?limit=5&bbox=116.41,39.915,"
                         "116.411,39.9155");
    assert_contains(page, "snap-1");
    free(page);
    assert_int_equal(ts_serve_stop(c), 0);
    /* Written behind its back (another process): stale, read again. */
    char *r2 = ts_path(dir, "rules2.csv");
    ts_write(r2, "category,response_h,resolution_h\n01,3,200\n");
    assert_int_equal(H(NULL, NULL, "import", "rules", r2, "--db", sdb), 0);
    free(r2);
    ts_server d = ts_serve_start(sdb, log, tokens);
    text = ts_read(log);
    assert_contains(text, "loaded from the database");
    free(text);
    char *stats_d = body_of(d.port, "/api/stats?by=grid");
    assert_string_not_equal(stats3, stats_d); /* the new rules' rates */
    assert_int_equal(ts_serve_stop(d), 0);
    /* Damaged: read again, and saved anew. */
    ts_write(idx, "HTIDX garbage");
    ts_server e = ts_serve_start(sdb, log, tokens);
    text = ts_read(log);
    assert_contains(text, "loaded from the database");
    free(text);
    char *stats4 = body_of(e.port, "/api/stats?by=grid");
    assert_string_equal(stats_d, stats4);
    assert_int_equal(ts_serve_stop(e), 0);
    ts_server f = ts_serve_start(sdb, log, tokens);
    text = ts_read(log);
    assert_contains(text, "read from");
    free(text);
    assert_int_equal(ts_serve_stop(f), 0);
    /* `hutong stats` reads the snapshot too: the same figures as from the
     * database alone (both at one time, by the clock file). */
    char *with = NULL, *without = NULL, *clock = ts_path(dir, "sclock");
    ts_write(clock, "1790000000\n");
    setenv("HUTONG_CLOCK_FILE", clock, 1);
    assert_int_equal(H(&with, NULL, "stats", "--by", "department", "--format",
                       "json", "--db", sdb),
                     0);
    unlink(idx);
    assert_int_equal(H(&without, NULL, "stats", "--by", "department",
                       "--format", "json", "--db", sdb),
                     0);
    unsetenv("HUTONG_CLOCK_FILE");
    free(clock);
    assert_true(strlen(with) > 200);
    assert_string_equal(with, without);
    free(with);
    free(without);
    free(stats0);
    free(stats1);
    free(stats2);
    free(stats3);
    free(stats4);
    free(stats_d);
    free(tw);
    free(sdb);
    free(tokens);
    free(log);
}

/* The path of the @style tile at zoom 17 under (@lon, @lat). */
static void tile17(const char *style, double lon, double lat, char *out,
                   size_t len) {
    double mx, my, span = 2 * 20037508.342789244 / (1 << 17);
    ht_tile_lonlat_to_merc(lon, lat, &mx, &my);
    snprintf(out, len, "/tiles/%s/17/%d/%d.png", style,
             (int)((mx + 20037508.342789244) / span),
             (int)((20037508.342789244 - my) / span));
}

/* Open incidents with the deadline of their state (dl) and position. */
#define OPEN_LATE                                                           \
    "WITH o AS (SELECT id, X(geom) AS x, Y(geom) AS y, CASE WHEN status = " \
    "'reported' THEN CASE WHEN response_due < resolution_due THEN "         \
    "response_due ELSE resolution_due END ELSE resolution_due "             \
    "END AS dl FROM incidents WHERE status IN ('reported', 'dispatched', "  \
    "'handling')) "

static void test_server_overdue_timer(void **state) {
    (void)state;
    char *odb = demo_db("overdue.db", "3000");
    char *clock = ts_path(dir, "clock"), *log = ts_path(dir, "overdue.log");
    /* The open incident that turns late last, of those whose deadline is
     * not within 5 minutes of a whole hour (the test stays in one hour). */
    int64_t id = ts_db_int(odb, OPEN_LATE
                           "SELECT id FROM o WHERE dl % 3600 "
                           "BETWEEN 300 AND 3300 ORDER BY dl "
                           "DESC LIMIT 1");
    char sql[900];
    snprintf(sql, sizeof sql, OPEN_LATE "SELECT dl FROM o WHERE id = %lld",
             (long long)id);
    int64_t late = ts_db_int(odb, sql);
    snprintf(sql, sizeof sql, "SELECT X(geom) FROM incidents WHERE id = %lld",
             (long long)id);
    double lon = ts_db_double(odb, sql);
    snprintf(sql, sizeof sql, "SELECT Y(geom) FROM incidents WHERE id = %lld",
             (long long)id);
    double lat = ts_db_double(odb, sql);
    /* And one late already, 2 km away or more, with no deadline passing
     * within 1 km of it while the test runs: its tile must stay. */
    snprintf(sql, sizeof sql,
             OPEN_LATE
             "SELECT a.id FROM o a WHERE a.dl < %lld AND (abs(a.x - "
             "%.7f) > 0.025 OR abs(a.y - %.7f) > 0.02) AND NOT "
             "EXISTS (SELECT 1 FROM o b WHERE b.dl BETWEEN %lld AND "
             "%lld AND abs(b.x - a.x) < 0.012 AND abs(b.y - a.y) < "
             "0.01) ORDER BY a.id LIMIT 1",
             (long long)(late - 3600), lon, lat, (long long)(late - 600),
             (long long)(late + 600));
    int64_t far = ts_db_int(odb, sql);
    assert_true(far > 0);
    snprintf(sql, sizeof sql, "SELECT X(geom) FROM incidents WHERE id = %lld",
             (long long)far);
    double flon = ts_db_double(odb, sql);
    snprintf(sql, sizeof sql, "SELECT Y(geom) FROM incidents WHERE id = %lld",
             (long long)far);
    double flat = ts_db_double(odb, sql);
    char now[32];
    snprintf(now, sizeof now, "%lld\n", (long long)(late - 30));
    ts_write(clock, now);
    setenv("HUTONG_CLOCK_FILE", clock, 1);
    ts_server a = ts_serve_start(odb, log, NULL);
    unsetenv("HUTONG_CLOCK_FILE");
    long total0 = overdue_total(a.port);
    /* The overdue tiles (z17) under both, before. */
    char tile[96], ftile[96], *head, *before, *after, inm[96], finm[96];
    tile17("overdue", lon, lat, tile, sizeof tile);
    tile17("overdue", flon, flat, ftile, sizeof ftile);
    size_t nb, na;
    assert_int_equal(
        ts_http(a.port, "GET", tile, NULL, NULL, &head, &before, &nb), 200);
    snprintf(inm, sizeof inm, "If-None-Match: %s\r\n", ts_header(head, "etag"));
    free(head);
    char *fbody;
    assert_int_equal(
        ts_http(a.port, "GET", ftile, NULL, NULL, &head, &fbody, NULL), 200);
    snprintf(finm, sizeof finm, "If-None-Match: %s\r\n",
             ts_header(head, "etag"));
    free(head);
    free(fbody);
    /* Within the minute the tile stays (no deadline passed near it). */
    snprintf(now, sizeof now, "%lld\n", (long long)(late - 30) / 60 * 60 + 59);
    ts_write(clock, now);
    assert_int_equal(
        ts_http(a.port, "GET", tile, inm, NULL, NULL, &fbody, NULL), 304);
    free(fbody);
    int sse = ts_sse_open(a.port, "");
    /* Time passes its deadline. */
    snprintf(now, sizeof now, "%lld\n", (long long)(late + 61));
    ts_write(clock, now);
    char want[64];
    snprintf(want, sizeof want, "\"id\":%lld,", (long long)id);
    char *heard = ts_sse_until(sse, want, 10000);
    if (!heard || !strstr(heard, "event: overdue")) {
        fail_msg("no overdue event for %lld: %s", (long long)id,
                 heard ? heard : "(nothing)");
    }
    assert_contains(heard, "\"due\":");
    free(heard);
    close(sse);
    /* The filter counts it late now. */
    assert_true(overdue_total(a.port) >= total0 + 1);
    /* Its tile expired (the old ETag no longer answers 304) and its
     * picture changed, though nothing was written. */
    assert_int_equal(ts_http(a.port, "GET", tile, inm, NULL, NULL, &after, &na),
                     200);
    assert_true(na != nb || memcmp(before, after, na) != 0);
    free(before);
    free(after);
    /* The far one's tile did not expire: only the right tiles do. */
    assert_int_equal(
        ts_http(a.port, "GET", ftile, finm, NULL, NULL, &fbody, NULL), 304);
    free(fbody);
    /* The incident's page says it is late, by about a minute. */
    char path[200], *body;
    snprintf(path, sizeof path,
             "/api/incidents?overdue=1&limit=1000&bbox=%.6f,%.6f,%.6f,%.6f",
             lon - 1e-4, lat - 1e-4, lon + 1e-4, lat + 1e-4);
    assert_int_equal(
        ts_http(a.port, "GET", path, NULL, NULL, NULL, &body, NULL), 200);
    json_t *page = json_loads(body, 0, NULL);
    json_t *f, *mine = NULL;
    size_t k;
    json_array_foreach(json_object_get(page, "features"), k, f) {
        if (json_integer_value(json_object_get(f, "id")) == id) {
            mine = json_object_get(f, "properties");
        }
    }
    if (!mine) {
        fail_msg("incident %lld not among the late ones: %s", (long long)id,
                 body);
    }
    assert_true(json_is_true(json_object_get(mine, "overdue")));
    double over = json_real_value(json_object_get(mine, "hours_over"));
    assert_true(over >= 0.01 && over <= 0.03); /* 61 s */
    assert_true(json_is_string(json_object_get(mine, "department")) ||
                json_is_null(json_object_get(mine, "department")));
    json_decref(page);
    free(body);
    assert_int_equal(ts_serve_stop(a), 0);
    free(odb);
    free(clock);
    free(log);
}

static void test_server_scoped_readers(void **state) {
    (void)state;
    char *rdb = demo_db("readers.db", "2000"),
         *tokens = ts_path(dir, "rtokens");
    char *rlog = ts_path(dir, "readers.log"), *plog = ts_path(dir, "priv.log");
    char *tw = ts_token_new(rdb, tokens, "ingest", NULL, true);
    char *tall = ts_token_new(rdb, tokens, "all", NULL, false);
    char *toff = ts_token_new(rdb, tokens, "office", "110101001", false);
    char auth_w[128], auth_all[128], auth_off[128], q_off[128];
    snprintf(auth_w, sizeof auth_w, "Authorization: Bearer %s\r\n", tw);
    snprintf(auth_all, sizeof auth_all, "Authorization: Bearer %s\r\n", tall);
    snprintf(auth_off, sizeof auth_off, "Authorization: Bearer %s\r\n", toff);
    snprintf(q_off, sizeof q_off, "token=%s", toff);
    int64_t total = ts_db_int(rdb, "SELECT count(*) FROM incidents");
    int64_t inside = ts_db_int(
        rdb, SUBTREE("110101001") "SELECT count(*) FROM incidents WHERE "
                                  "grid_code IN (SELECT code FROM sub)");
    int64_t grids_inside =
        ts_db_int(rdb, SUBTREE("110101001") "SELECT count(*) FROM sub");
    assert_true(inside > 0 && inside < total);
    ts_server a = ts_serve_start(rdb, rlog, tokens);
    char *body, *head, path[512], want[64];
    /* Incidents: the office's only, by header or by ?token=. */
    struct {
        const char *auth, *query;
        int64_t matched;
    } views[] = {
        {NULL, "", total},
        {auth_all, "", total},
        {auth_off, "", inside},
        {NULL, q_off, inside},
    };
    for (size_t k = 0; k < sizeof views / sizeof *views; k++) {
        snprintf(path, sizeof path, "/api/incidents?limit=5%s%s",
                 views[k].query[0] ? "&" : "", views[k].query);
        assert_int_equal(ts_http(a.port, "GET", path, views[k].auth, NULL, NULL,
                                 &body, NULL),
                         200);
        snprintf(want, sizeof want, "\"matched\":%lld",
                 (long long)views[k].matched);
        if (!strstr(body, want)) {
            fail_msg("view %zu: want %s in %.200s", k, want, body);
        }
        free(body);
    }
    /* Refused: a token that is not ours; anything outside the area. */
    struct {
        const char *path, *auth;
        int status;
        const char *says;
    } no[] = {
        {"/api/incidents", "Authorization: Bearer ht_nope\r\n", 401, "unknown"},
        {"/tiles/heat/14/13489/6206.png?token=ht_nope", NULL, 401, "unknown"},
        {"/api/incidents?grid=110101002", auth_off, 403, "outside"},
        {"/api/stats?grid=110101002", auth_off, 403, "outside"},
        {"/api/grids/110101002", auth_off, 403, "outside"},
        /* a grid that does not exist looks the same as one outside */
        {"/api/grids/110101999", auth_off, 403, "outside"},
        {"/api/stats?grid=110101999", auth_off, 403, "outside"},
        {"/map.png?grid=110101002&width=64&height=64", auth_off, 403,
         "outside"},
        {"/print/110101002004004.pdf?dpi=150", auth_off, 403, "outside"},
        {"/print/110101999.pdf", auth_off, 403, "outside"},
    };
    for (size_t k = 0; k < sizeof no / sizeof *no; k++) {
        int st = ts_http(a.port, "GET", no[k].path, no[k].auth, NULL, NULL,
                         &body, NULL);
        if (st != no[k].status || !strstr(body, no[k].says)) {
            fail_msg("%s: %d %s", no[k].path, st, body);
        }
        /* DESIGN.md's shape: a code and a message. */
        json_t *e = json_loads(body, 0, NULL);
        assert_string_equal(json_string_value(json_object_get(e, "error")),
                            st == 401 ? "unauthorized" : "forbidden");
        assert_non_null(strstr(json_string_value(json_object_get(e, "message")),
                               no[k].says));
        json_decref(e);
        free(body);
    }
    /* The office prints its own grids. */
    int pst = ts_http(a.port, "GET", "/print/110101001001001.pdf?dpi=150",
                      auth_off, NULL, NULL, &body, NULL);
    assert_int_equal(pst, 200);
    assert_int_equal(strncmp(body, "%PDF-", 5), 0);
    free(body);
    /* Grids and statistics: the office's subtree. */
    assert_int_equal(ts_http(a.port, "GET", "/api/grids/110101001", auth_off,
                             NULL, NULL, &body, NULL),
                     200);
    free(body);
    assert_int_equal(ts_http(a.port, "GET", "/api/grids?level=grid", auth_off,
                             NULL, NULL, &body, NULL),
                     200);
    json_t *j = json_loads(body, 0, NULL);
    free(body);
    json_t *arr = json_object_get(j, "grids");
    size_t gi;
    json_t *g;
    json_array_foreach(arr, gi, g) {
        const char *code = json_string_value(json_object_get(g, "code"));
        assert_true(strncmp(code, "110101001", 9) == 0);
    }
    assert_true(json_array_size(arr) > 0 &&
                (int64_t)json_array_size(arr) < grids_inside);
    json_decref(j);
    assert_int_equal(ts_http(a.port, "GET", "/api/stats?by=community", auth_off,
                             NULL, NULL, &body, NULL),
                     200);
    snprintf(want, sizeof want, "\"total\": %lld", (long long)inside);
    assert_contains(body, want);
    free(body);
    /* Images: the whole district, transparent outside the office for its
     * reader, opaque everywhere for the others. */
    const char *map =
        "/map.png?style=default&crs=EPSG:4326&bbox=116.38,"
        "39.86,116.44,39.97&width=300&height=400";
    size_t len;
    assert_int_equal(
        ts_http(a.port, "GET", map, auth_all, NULL, NULL, &body, &len), 200);
    assert_true(png_clear_share(body, len) == 0);
    free(body);
    assert_int_equal(
        ts_http(a.port, "GET", map, auth_off, NULL, NULL, &body, &len), 200);
    double clear = png_clear_share(body, len);
    free(body);
    if (!(clear > 0.5 && clear < 0.98)) {
        fail_msg("the office's map is %.1f %% transparent", clear * 100);
    }
    /* WMS too: drawn inside the office only. */
    snprintf(path, sizeof path,
             "/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=default&"
             "STYLES=&CRS=EPSG:4326&BBOX=39.86,116.38,39.97,116.44&WIDTH=300&"
             "HEIGHT=400&FORMAT=image/png&%s",
             q_off);
    assert_int_equal(
        ts_http(a.port, "GET", path, NULL, NULL, NULL, &body, &len), 200);
    double wclear = png_clear_share(body, len);
    free(body);
    assert_true(fabs(wclear - clear) < 0.02);
    /* GetFeatureInfo gives the clicked grid's figures, never those of a
     * grid filter outside the reader's area. */
    for (int outside = 0; outside < 2; outside++) {
        snprintf(path, sizeof path,
                 "/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetFeatureInfo&"
                 "LAYERS=grids&QUERY_LAYERS=grids&STYLES=&CRS=EPSG:4326&"
                 "BBOX=39.914,116.409,39.916,116.411&WIDTH=100&HEIGHT=100&I=50&"
                 "J=50&INFO_FORMAT=application/json&%s%s",
                 q_off, outside ? "&grid=110101002" : "");
        assert_int_equal(
            ts_http(a.port, "GET", path, NULL, NULL, NULL, &body, NULL), 200);
        json_t *fi = json_loads(body, 0, NULL);
        free(body);
        json_t *props = json_object_get(
            json_array_get(json_object_get(fi, "features"), 0), "properties");
        const char *code = json_string_value(json_object_get(props, "code"));
        assert_non_null(code);
        assert_true(strncmp(code, "110101001", 9) == 0);
        char sql[160];
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM incidents WHERE grid_code = '%s'", code);
        assert_int_equal(
            json_integer_value(json_object_get(props, "incidents")),
            outside ? 0 : ts_db_int(rdb, sql));
        json_decref(fi);
    }
    snprintf(path, sizeof path, "/tiles/default/12/3372/1551.png?%s", q_off);
    assert_int_equal(
        ts_http(a.port, "GET", path, NULL, NULL, &head, &body, &len), 200);
    double tclear = png_clear_share(body, len);
    assert_true(tclear > 0.5 && tclear < 1);
    char etag_off[40];
    snprintf(etag_off, sizeof etag_off, "%s", ts_header(head, "etag"));
    free(head);
    free(body);
    assert_int_equal(ts_http(a.port, "GET", "/tiles/default/12/3372/1551.png",
                             NULL, NULL, &head, &body, &len),
                     200);
    assert_true(png_clear_share(body, len) < tclear);
    assert_string_not_equal(ts_header(head, "etag"), etag_off);
    free(head);
    free(body);
    /* TileJSON hands the token on to its tile URLs. */
    snprintf(path, sizeof path, "/tiles/heat.json?%s", q_off);
    assert_int_equal(
        ts_http(a.port, "GET", path, NULL, NULL, NULL, &body, NULL), 200);
    assert_contains(body, q_off);
    free(body);
    /* Events: the office's reader hears of its incidents only. */
    snprintf(path, sizeof path, "?%s", q_off);
    int sse = ts_sse_open(a.port, path);
    char csv[160], r1[24], r2[24];
    snprintf(csv, sizeof csv,
             "id,lon,lat,category,severity,reported_at\n"
             "out-1,116.4000,39.9300,0101,2,%s\n"
             "in-1,116.4100,39.9150,0101,2,%s\n",
             ts_iso(-6 * 3600, r1), ts_iso(-6 * 3600 + 60, r2));
    assert_int_equal(ts_http(a.port, "POST", "/api/incidents", auth_w, csv,
                             NULL, &body, NULL),
                     201);
    free(body);
    char *heard = ts_sse_until(sse, "\"external_id\":\"in-1\"", 2000);
    assert_non_null(heard);
    assert_null(strstr(heard, "out-1"));
    free(heard);
    close(sse);
    assert_int_equal(ts_serve_stop(a), 0);
    /* The access log never holds a token. */
    char *logged = ts_read(rlog);
    assert_null(strstr(logged, toff));
    assert_contains(logged, "token=-");
    free(logged);
    /* Private: no token, no data; the pages and health stay open. */
    ts_server p = ts_serve_start_private(rdb, plog, tokens, true);
    assert_int_equal(
        ts_http(p.port, "GET", "/api/incidents", NULL, NULL, NULL, &body, NULL),
        401);
    assert_contains(body, "private");
    free(body);
    assert_int_equal(ts_http(p.port, "GET", "/tiles/heat/14/13489/6206.png",
                             NULL, NULL, NULL, &body, NULL),
                     401);
    free(body);
    const char *open_paths[] = {"/healthz", "/", "/wall", "/api/categories"};
    for (size_t k = 0; k < 4; k++) {
        assert_int_equal(ts_http(p.port, "GET", open_paths[k], NULL, NULL, NULL,
                                 &body, NULL),
                         200);
        free(body);
    }
    assert_int_equal(ts_http(p.port, "GET", "/api/incidents?limit=1", auth_all,
                             NULL, NULL, &body, NULL),
                     200);
    free(body);
    assert_int_equal(ts_serve_stop(p), 0);
    free(tw);
    free(tall);
    free(toff);
    free(rdb);
    free(tokens);
    free(rlog);
    free(plog);
}

/* JSON is gzipped for clients that take it, and only then. */
static void test_server_gzip(void **state) {
    (void)state;
    /* Closed incidents: an open one's hours over its deadline grow with the
     * clock between the two requests. */
    const char *path = "/api/incidents?limit=300&status=closed";
    char *head, *plain, *packed;
    size_t nplain, npacked;
    assert_int_equal(
        ts_http(srv.port, "GET", path, NULL, NULL, &head, &plain, &nplain),
        200);
    assert_string_equal(ts_header(head, "content-encoding"), "");
    assert_contains(ts_header(head, "vary"), "accept-encoding"); /* lowered */
    free(head);
    assert_int_equal(ts_http(srv.port, "GET", path,
                             "Accept-Encoding: deflate, gzip;q=0.8\r\n", NULL,
                             &head, &packed, &npacked),
                     200);
    assert_string_equal(ts_header(head, "content-encoding"), "gzip");
    free(head);
    assert_true(npacked * 3 < nplain); /* GeoJSON packs well */
    /* Unpacked, the same bytes. */
    unsigned char *out = malloc(nplain + 1);
    z_stream z = {0};
    assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
    z.next_in = (Bytef *)packed;
    z.avail_in = (uInt)npacked;
    z.next_out = out;
    z.avail_out = (uInt)nplain + 1;
    assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
    assert_int_equal(z.total_out, nplain);
    inflateEnd(&z);
    assert_memory_equal(out, plain, nplain);
    free(out);
    free(packed);
    free(plain);
    /* Refused with q=0; small bodies and PNGs as they are. */
    struct {
        const char *path, *accept;
    } as_is[] = {
        {path, "Accept-Encoding: gzip;q=0\r\n"},
        {path, "Accept-Encoding: identity\r\n"},
        {"/healthz", "Accept-Encoding: gzip\r\n"},
        {"/tiles/heat/14/13489/6206.png", "Accept-Encoding: gzip\r\n"},
    };
    for (size_t k = 0; k < sizeof as_is / sizeof *as_is; k++) {
        assert_int_equal(ts_http(srv.port, "GET", as_is[k].path,
                                 as_is[k].accept, NULL, &head, &plain, NULL),
                         200);
        if (strcmp(ts_header(head, "content-encoding"), "") != 0) {
            fail_msg("%s with %s: gzipped", as_is[k].path, as_is[k].accept);
        }
        free(head);
        free(plain);
    }
}

static void test_server_bad_requests(void **state) {
    (void)state;
    const struct {
        const char *path;
        int status;
        const char *says;
    } cases[] = {
        {"/tiles/nope/1/1/1.png", 404, "no style"},
        {"/tiles/heat/23/1/1.png", 400, "zoom"},
        {"/tiles/heat/3/9/1.png", 400, "outside"},
        {"/tiles/heat/14/1/1.png?severity=9", 400, "severity"},
        {"/tiles/heat/14/1/1.png?window=1y", 400, "window"},
        {"/tiles/heat/14/1/1.png?category=ZZ", 400, "ZZ"},
        {"/tiles/heat/14/1/1.png?colour=red", 400, "colour"},
        {"/tiles/heat/14/x/1.png", 404, "{z}"},
        {"/tiles/heat/14/1/1.gif", 404, "{z}"},
        {"/tiles/heat/14/1/1.png8", 404, "{z}"},
        {"/tiles/..%2F..%2Fetc%2Fpasswd.json", 404, ""},
        {"/tiles/%2Fetc%2Fpasswd/1/1/1.png", 404, "not found"},
        {"/legend/default.png", 404, "no heat layer"},
        {"/legend/heat.png?scale=99", 400, "scale"},
        {"/nowhere", 404, "not found"},
        {"/print/110101999999999.pdf", 404, "no such grid"},
        {"/print/110101001001001.pdf?dpi=1200", 400, "dpi"},
        {"/print/110101001001001.pdf?paper=B5", 400, "B5"},
        {"/print/110101001001001.pdf?layer=fire", 400, "layer"},
        {"/print/110101001001001.pdf?grid=110101002", 400, "path names"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        char *head, *body;
        int st = get(cases[k].path, &head, &body, NULL);
        if (st != cases[k].status || !strstr(body, cases[k].says)) {
            fail_msg("%s: %d %s", cases[k].path, st, body);
        }
        /* Errors are JSON and never show a folder of the machine. */
        assert_string_equal(ts_header(head, "content-type"),
                            "application/json");
        assert_null(strstr(body, "/styles"));
        free(head);
        free(body);
    }
    /* A query too long to be honest. */
    char path[4200] = "/tiles/heat/14/1/1.png?category=";
    for (int k = 0; k < 1000; k++) {
        strcat(path, "0101");
    }
    char *body;
    assert_int_equal(get(path, NULL, &body, NULL), 400);
    free(body);
    assert_int_equal(
        ts_http(srv.port, "POST", "/healthz", NULL, "{}", NULL, &body, NULL),
        405);
    free(body);
    /* A dashboard on another origin may send a token header: the
     * browser's preflight is answered. */
    char *head;
    assert_int_equal(
        ts_http(srv.port, "OPTIONS", "/api/incidents",
                "Origin: http://dash.example\r\n"
                "Access-Control-Request-Headers: authorization\r\n",
                NULL, &head, &body, NULL),
        204);
    assert_string_equal(ts_header(head, "access-control-allow-origin"), "*");
    /* (ts_http lowers the head) */
    assert_contains(ts_header(head, "access-control-allow-headers"),
                    "authorization");
    assert_contains(ts_header(head, "access-control-allow-methods"), "patch");
    free(head);
    free(body);
}

/* Requests from several threads at once: every answer whole. */
static void *hammer(void *arg) {
    int *fails = arg;
    for (int k = 0; k < 12; k++) {
        char path[96];
        snprintf(path, sizeof path, "/tiles/heat/15/%d/12413.png",
                 26970 + k % 6);
        char *body;
        size_t len;
        if (get(path, NULL, &body, &len) != 200 || len < 100 ||
            memcmp(body, "\x89PNG", 4) != 0) {
            (*fails)++;
        }
        free(body);
    }
    return NULL;
}

static void test_server_concurrent_and_graceful_stop(void **state) {
    (void)state;
    pthread_t t[4];
    int fails[4] = {0};
    for (int k = 0; k < 4; k++) {
        pthread_create(&t[k], NULL, hammer, &fails[k]);
    }
    for (int k = 0; k < 4; k++) {
        pthread_join(t[k], NULL);
        assert_int_equal(fails[k], 0);
    }
    /* /metrics counts them, in Prometheus' text format. */
    char *head, *body;
    assert_int_equal(get("/metrics", &head, &body, NULL), 200);
    assert_contains(ts_header(head, "content-type"), "text/plain");
    assert_contains(body, "# TYPE hutong_http_requests_total counter");
    const char *m = strstr(body,
                           "hutong_http_requests_total{route=\"tiles\",status="
                           "\"200\"} ");
    assert_non_null(m);
    assert_true(atol(strchr(m, '}') + 2) >= 48);
    assert_non_null(strstr(body, "route=\"wms\",status=\"400\""));
    m = strstr(body, "hutong_tile_render_seconds_count ");
    assert_non_null(m);
    assert_true(atol(m + strlen("hutong_tile_render_seconds_count ")) >= 6);
    assert_contains(body, "hutong_tile_render_seconds_bucket{le=\"+Inf\"}");
    assert_contains(body, "hutong_index_incidents 3000");
    assert_contains(body, "hutong_tile_cache_hits_total ");
    free(head);
    free(body);
    /* SIGTERM: a clean exit, and an access log line per request. */
    assert_int_equal(ts_serve_stop(srv), 0);
    FILE *f = fopen(errlog, "r");
    assert_non_null(f);
    char line[600];
    int tiles = 0;
    bool stopped = false;
    while (fgets(line, sizeof line, f)) {
        tiles += strstr(line, "GET /tiles/heat/15/") && strstr(line, " 200 ");
        stopped |= strstr(line, "stopped") != NULL;
    }
    fclose(f);
    assert_int_equal(tiles, 48);
    assert_true(stopped);
    srv = ts_serve_start(db, errlog, NULL); /* for teardown */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_health),
        cmocka_unit_test(test_server_tiles_etag_and_cache),
        cmocka_unit_test(test_server_tilejson_and_legend),
        cmocka_unit_test(test_server_api),
        cmocka_unit_test(test_server_wms),
        cmocka_unit_test(test_server_static_maps),
        cmocka_unit_test(test_server_incidents_paging),
        cmocka_unit_test(test_server_writes),
        cmocka_unit_test(test_server_expiry_by_neighbourhood),
        cmocka_unit_test(test_server_overdue_timer),
        cmocka_unit_test(test_server_index_snapshot),
        cmocka_unit_test(test_server_heat_grids),
        cmocka_unit_test(test_server_scoped_readers),
        cmocka_unit_test(test_server_gzip),
        cmocka_unit_test(test_server_bad_requests),
        cmocka_unit_test(test_server_concurrent_and_graceful_stop),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
