/* SPDX-License-Identifier: Apache-2.0 */
/* Integration: GIS clients pointed at a real `hutong serve` — GDAL's WMS
 * driver with its defaults (skipped when GDAL is not installed) — and the
 * image formats they ask for. */
#include <jansson.h>
#include <math.h>
#include <unistd.h>

#include "ht_test.h"

#define H(out, err, ...) ts_hutong(out, err, __VA_ARGS__, (const char *)NULL)

static char *dir, *db, *errlog;
static ts_server srv;

static int setup(void **state) {
    (void)state;
    dir = ts_tmpdir();
    db = ts_pg() ? ts_pg_new_db() : ts_path(dir, "demo.db");
    errlog = ts_path(dir, "serve.log");
    if (H(NULL, NULL, "demo", "--db", db, "--incidents", "2000") != 0) {
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

static bool is_jpeg(const char *b, size_t len) {
    return len > 4 && (unsigned char)b[0] == 0xff &&
           (unsigned char)b[1] == 0xd8 && (unsigned char)b[len - 2] == 0xff &&
           (unsigned char)b[len - 1] == 0xd9;
}

static bool is_webp(const char *b, size_t len) {
    return len > 12 && memcmp(b, "RIFF", 4) == 0 &&
           memcmp(b + 8, "WEBP", 4) == 0;
}

/* Tiles and WMS maps in PNG, JPEG and WebP, each with its media type; a
 * tile path of another extension is not one. */
static void test_gis_formats(void **state) {
    (void)state;
    char *head, *body;
    size_t len;
    static const char *const tiles[] = {"/tiles/default/14/13489/6206.jpg",
                                        "/tiles/default/14/13489/6206.webp",
                                        "/tiles/heat/14/13489/6206@2x.webp",
                                        "/tiles/default/14/13489/6206.png"};
    static const char *const types[] = {"image/jpeg", "image/webp",
                                        "image/webp", "image/png"};
    for (int k = 0; k < 4; k++) {
        assert_int_equal(get(tiles[k], &head, &body, &len), 200);
        assert_string_equal(ts_header(head, "content-type"), types[k]);
        assert_true(k == 0  ? is_jpeg(body, len)
                    : k < 3 ? is_webp(body, len)
                            : memcmp(body, "\x89PNG", 4) == 0);
        free(head);
        free(body);
    }
    assert_int_equal(get("/tiles/default/14/13489/6206.gif", NULL, NULL, NULL),
                     404);
    assert_int_equal(get("/tiles/default/14/13489/6206.jpeg", NULL, NULL, NULL),
                     404);
    static const char *const maps[] = {"image/jpeg", "image/webp",
                                       "image/png;%20mode=8bit"};
    static const char *const mtypes[] = {"image/jpeg", "image/webp",
                                         "image/png; mode=8bit"};
    for (int k = 0; k < 3; k++) {
        char path[400];
        snprintf(path, sizeof path,
                 "/wms?SERVICE=WMS&VERSION=1.1.1&REQUEST=GetMap&LAYERS=default,"
                 "heat&SRS=EPSG:4326&BBOX=116.38,39.86,116.44,39.97&WIDTH=300&"
                 "HEIGHT=400&FORMAT=%s&TRANSPARENT=TRUE",
                 maps[k]);
        assert_int_equal(get(path, &head, &body, &len), 200);
        assert_string_equal(ts_header(head, "content-type"), mtypes[k]);
        /* (8 bits: a palette PNG, IHDR's colour type 3) */
        assert_true(k == 0   ? is_jpeg(body, len)
                    : k == 1 ? is_webp(body, len)
                             : len > 26 && memcmp(body, "\x89PNG", 4) == 0 &&
                                   body[25] == 3);
        free(head);
        free(body);
    }
}

/* The value of "KEY=" on a line of @text that starts with @key (malloc'd),
 * or NULL. */
static char *line_value(const char *text, const char *key) {
    const char *p = strstr(text, key);
    if (!p) {
        return NULL;
    }
    p += strlen(key);
    return strndup(p, strcspn(p, "\r\n"));
}

/* GDAL's WMS driver as it comes: the capabilities' subdatasets carry no
 * FORMAT, so it asks for JPEG; gdal_translate makes an image of one. */
static void test_gis_gdal_wms_defaults(void **state) {
    (void)state;
    if (access("/usr/bin/gdal_translate", X_OK) != 0) {
        print_message("GDAL not installed: its WMS check is skipped\n");
        return;
    }
    char url[128], *out = NULL, *err = NULL;
    snprintf(url, sizeof url, "WMS:http://127.0.0.1:%d/wms", srv.port);
    char *const info[] = {"/usr/bin/gdalinfo", url, NULL};
    if (ts_run(info, 60, &out, &err) != 0) {
        fail_msg("gdalinfo %s: %s", url, err);
    }
    /* The base map's subdataset. */
    char *name = NULL;
    for (int k = 1; k < 100 && !name; k++) {
        char key[64];
        snprintf(key, sizeof key, "SUBDATASET_%d_NAME=", k);
        char *v = line_value(out, key);
        if (!v) {
            break;
        }
        if (strstr(v, "LAYERS=default&")) {
            name = v;
        } else {
            free(v);
        }
    }
    assert_non_null(name);
    assert_null(strstr(name, "FORMAT"));
    free(out);
    free(err);
    char *tif = ts_path(dir, "gdal.tif");
    char *const translate[] = {"/usr/bin/gdal_translate",
                               "-q",
                               "-outsize",
                               "256",
                               "256",
                               "-of",
                               "GTiff",
                               name,
                               tif,
                               NULL};
    out = err = NULL;
    if (ts_run(translate, 120, &out, &err) != 0) {
        fail_msg("gdal_translate %s: %s", name, err);
    }
    free(out);
    free(err);
    /* What it made: 256 x 256, three or four bands, not all one colour. */
    char *const stats[] = {"/usr/bin/gdalinfo", "-stats", tif, NULL};
    assert_int_equal(ts_run(stats, 60, &out, NULL), 0);
    assert_contains(out, "Size is 256, 256");
    assert_contains(out, "Band 3");
    char *sd = line_value(out, "STATISTICS_STDDEV=");
    assert_non_null(sd);
    assert_true(atof(sd) > 1);
    free(sd);
    free(out);
    /* It asked for JPEG, and was answered. */
    char *log = ts_read(errlog);
    bool jpeg = false;
    for (const char *l = log; l && *l && !jpeg; l += strcspn(l, "\n"), l++) {
        char *line = strndup(l, strcspn(l, "\n"));
        jpeg = strstr(line, "GetMap") && strstr(line, "image/jpeg") &&
               strstr(line, " 200 ");
        free(line);
        if (!l[strcspn(l, "\n")]) {
            break;
        }
    }
    assert_true(jpeg);
    free(log);
    free(tif);
    free(name);
}

/* The "tiles" URL of the TileJSON at @path on @port, sent @headers. */
static char *tilejson_url(int port, const char *path, const char *headers) {
    char *body = NULL;
    assert_int_equal(
        ts_http(port, "GET", path, headers, NULL, NULL, &body, NULL), 200);
    json_t *j = json_loads(body, 0, NULL);
    assert_non_null(j);
    char *url = strdup(
        json_string_value(json_array_get(json_object_get(j, "tiles"), 0)));
    json_decref(j);
    free(body);
    return url;
}

/* Behind a proxy: with --trust-proxy the X-Forwarded-* headers make every
 * absolute URL, checked (a bad one is ignored); without it they are
 * ignored. The README's sample, deploy/nginx-proxy.conf, run as it is:
 * hutong under /hutong/ of nginx, its URLs through nginx, and they work. */
static void test_gis_behind_a_proxy(void **state) {
    (void)state;
    const char *fwd =
        "X-Forwarded-Proto: https\r\n"
        "X-Forwarded-Host: maps.example.cn\r\n"
        "X-Forwarded-Prefix: /hutong/\r\n";
    char *url = tilejson_url(srv.port, "/tiles/default.json", fwd);
    char want[128];
    snprintf(want, sizeof want, "http://127.0.0.1:%d/tiles/default/", srv.port);
    assert_true(strncmp(url, want, strlen(want)) == 0); /* ignored */
    free(url);
    char *plog = ts_path(dir, "proxied.log");
    const char *const extra[] = {
        "--trust-proxy",   "--contact-organization", "东城区城市管理指挥中心",
        "--contact-email", "ops@example.cn",         NULL};
    ts_server p = ts_serve_start_with(db, plog, extra);
    url = tilejson_url(p.port, "/tiles/default.json", fwd);
    assert_true(
        strncmp(url, "https://maps.example.cn/hutong/tiles/default/", 45) == 0);
    free(url);
    char *head = NULL;
    assert_int_equal(ts_http(p.port, "GET", "/tiles/default.json", fwd, NULL,
                             &head, NULL, NULL),
                     200);
    assert_contains(ts_header(head, "vary"), "x-forwarded-host");
    free(head);
    /* The WMS capabilities name who answers for it. */
    char *body = NULL;
    assert_int_equal(
        ts_http(p.port, "GET", "/wms?SERVICE=WMS&REQUEST=GetCapabilities", NULL,
                NULL, NULL, &body, NULL),
        200);
    assert_contains(body, "<ContactOrganization>东城区城市管理指挥中心<");
    assert_contains(body, "<ContactElectronicMailAddress>ops@example.cn<");
    free(body);
    /* A value that would not make a safe URL: the Host's. */
    url = tilejson_url(p.port, "/tiles/default.json",
                       "X-Forwarded-Host: a\"b<c\r\n");
    snprintf(want, sizeof want, "http://127.0.0.1:%d/tiles/", p.port);
    assert_true(strncmp(url, want, strlen(want)) == 0);
    free(url);
    url = tilejson_url(p.port, "/tiles/default.json",
                       "X-Forwarded-Proto: gopher\r\n");
    assert_true(strncmp(url, want, strlen(want)) == 0);
    free(url);
    /* Through nginx, as the sample has it. */
    const char *deploy = getenv("HUTONG_DEPLOY");
    if (!deploy || access("/usr/sbin/nginx", X_OK) != 0) {
        print_message("nginx not installed: the proxy sample is skipped\n");
    } else {
        int port = ts_free_port();
        char to[40], listen[40];
        snprintf(to, sizeof to, "http://127.0.0.1:%d/;", p.port);
        snprintf(listen, sizeof listen, "listen 127.0.0.1:%d;", port);
        char *sample_path = ts_path(deploy, "nginx-proxy.conf");
        char *sample = ts_read(sample_path),
             *s1 = ts_replace_all(sample, "http://127.0.0.1:8081/;", to),
             *site = ts_replace_all(s1, "listen 127.0.0.1:8080;", listen);
        assert_non_null(strstr(site, to));
        assert_non_null(strstr(site, listen));
        pid_t ng = ts_nginx_start(dir, site, port);
        assert_true(ng > 0);
        url = tilejson_url(port, "/hutong/tiles/heat.json?window=30d", NULL);
        snprintf(want, sizeof want, "http://127.0.0.1:%d/hutong/tiles/heat/",
                 port);
        if (strncmp(url, want, strlen(want)) != 0) {
            fail_msg("through nginx: %s", url);
        }
        free(url);
        /* and the URLs work: a tile, the WMS capabilities' own address */
        char *h = NULL;
        body = NULL;
        assert_int_equal(ts_http(port, "GET",
                                 "/hutong/tiles/heat/14/13489/"
                                 "6206.png?window=30d",
                                 NULL, NULL, &h, NULL, NULL),
                         200);
        assert_string_equal(ts_header(h, "content-type"), "image/png");
        free(h);
        assert_int_equal(ts_http(port, "GET",
                                 "/hutong/wms?SERVICE=WMS&REQUEST="
                                 "GetCapabilities",
                                 NULL, NULL, NULL, &body, NULL),
                         200);
        snprintf(want, sizeof want, "http://127.0.0.1:%d/hutong/wms?", port);
        assert_contains(body, want);
        free(body);
        /* the WMTS capabilities' templates and the OGC API's links too,
         * followed: a tile, the next page */
        body = NULL;
        assert_int_equal(
            ts_http(port, "GET", "/hutong/wmts/1.0.0/WMTSCapabilities.xml",
                    NULL, NULL, NULL, &body, NULL),
            200);
        snprintf(want, sizeof want,
                 "template=\"http://127.0.0.1:%d/hutong/wmts/1.0.0/heat/",
                 port);
        assert_contains(body, want);
        free(body);
        h = NULL;
        assert_int_equal(ts_http(port, "GET",
                                 "/hutong/wmts/1.0.0/heat/default/c/15/4559/"
                                 "26979.png",
                                 NULL, NULL, &h, NULL, NULL),
                         200);
        assert_string_equal(ts_header(h, "content-type"), "image/png");
        free(h);
        body = NULL;
        assert_int_equal(ts_http(port, "GET",
                                 "/hutong/ogcapi/collections/grids/items?"
                                 "limit=5",
                                 NULL, NULL, NULL, &body, NULL),
                         200);
        json_t *page = json_loads(body, 0, NULL);
        free(body);
        const char *next = NULL;
        size_t k;
        json_t *l;
        json_array_foreach(json_object_get(page, "links"), k, l) {
            if (strcmp(json_string_value(json_object_get(l, "rel")), "next") ==
                0) {
                next = json_string_value(json_object_get(l, "href"));
            }
        }
        snprintf(want, sizeof want,
                 "http://127.0.0.1:%d/hutong/ogcapi/collections/grids/items?",
                 port);
        assert_non_null(next);
        assert_true(strncmp(next, want, strlen(want)) == 0);
        body = NULL;
        assert_int_equal(ts_http(port, "GET", strstr(next, "/hutong/"), NULL,
                                 NULL, NULL, &body, NULL),
                         200);
        assert_contains(body, "\"numberReturned\":5");
        free(body);
        json_decref(page);
        ts_nginx_stop(ng);
        free(sample);
        free(s1);
        free(site);
        free(sample_path);
    }
    assert_int_equal(ts_serve_stop(p), 0);
    free(plog);
}

/* GetFeatureInfo in JSON: the grid found with its outline, in the
 * request's CRS (x, y; named when not WGS 84), so a client can draw it. */
static void test_gis_feature_info_geometry(void **state) {
    (void)state;
    static const struct {
        const char *q;
        double lo, hi; /* the first x: degrees or metres */
        const char *urn;
    } cases[] = {
        {"VERSION=1.3.0&CRS=EPSG:4326&BBOX=39.86,116.38,39.97,116.44", 116.3,
         116.5, NULL},
        {"VERSION=1.3.0&CRS=CRS:84&BBOX=116.38,39.86,116.44,39.97", 116.3,
         116.5, NULL},
        {"VERSION=1.1.1&SRS=EPSG:3857&BBOX=12955000,4845000,12962000,4862000",
         12.9e6, 12.97e6, "urn:ogc:def:crs:EPSG::3857"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        char path[512], *body = NULL;
        snprintf(path, sizeof path,
                 "/wms?SERVICE=WMS&REQUEST=GetFeatureInfo&LAYERS=grids&"
                 "QUERY_LAYERS=grids&%s&WIDTH=240&HEIGHT=440&I=120&J=220&X=120&"
                 "Y=220&INFO_FORMAT=application/json",
                 cases[k].q);
        assert_int_equal(get(path, NULL, &body, NULL), 200);
        json_t *j = json_loads(body, 0, NULL);
        assert_non_null(j);
        json_t *f = json_array_get(json_object_get(j, "features"), 0);
        assert_non_null(f);
        json_t *g = json_object_get(f, "geometry");
        assert_string_equal(json_string_value(json_object_get(g, "type")),
                            "MultiPolygon");
        json_t *pt = json_array_get(
            json_array_get(json_array_get(json_object_get(g, "coordinates"), 0),
                           0),
            0);
        double x = json_number_value(json_array_get(pt, 0));
        if (!(x > cases[k].lo && x < cases[k].hi)) {
            fail_msg("case %zu: x %g", k, x);
        }
        json_t *crs = json_object_get(j, "crs");
        if (cases[k].urn) {
            assert_string_equal(
                json_string_value(json_object_get(
                    json_object_get(crs, "properties"), "name")),
                cases[k].urn);
        } else {
            assert_null(crs);
        }
        /* no float of 17 digits (39.909999999999997) */
        assert_null(strstr(body, "99999999"));
        /* The same in GML: the grid, its outline in the request's CRS. */
        const char *code = json_string_value(json_object_get(f, "id"));
        char *gpath =
            ts_replace_all(path, "application/json", "application/vnd.ogc.gml");
        char *head = NULL, *gml = NULL;
        assert_int_equal(get(gpath, &head, &gml, NULL), 200);
        assert_contains(head, "content-type: application/vnd.ogc.gml");
        assert_contains(gml, "<wfs:FeatureCollection");
        assert_contains(gml, code);
        assert_contains(gml, k == 2
                                 ? "<gml:MultiPolygon srsName=\"EPSG:3857\">"
                                 : "<gml:MultiPolygon srsName=\"EPSG:4326\">");
        const char *c = strstr(gml, "<gml:coordinates");
        assert_non_null(c);
        c = strchr(c, '>') + 1;
        double gx = atof(c);
        if (!(gx > cases[k].lo && gx < cases[k].hi)) {
            fail_msg("case %zu: GML x %g", k, gx);
        }
        free(head);
        free(gml);
        free(gpath);
        json_decref(j);
        free(body);
    }
}

/* `render density -o FILE.tif`: a GeoTIFF GDAL reads with its CRS (EPSG:3857
 * in metres, EPSG:4490 in degrees), origin, cell size, unit and no-data
 * value, its cells the ASCII grid's; a CRS with no EPSG code refused. */
static void test_gis_density_geotiff(void **state) {
    (void)state;
    char *tif = ts_path(dir, "d.tif"), *asc = ts_path(dir, "d.asc"),
         *geo = ts_path(dir, "g.tif");
    const char *box = "12955000,4850000,12960000,4856000";
    assert_int_equal(H(NULL, NULL, "render", "density", "--bbox", box,
                       "--cellsize", "100", "--db", db, "-o", tif),
                     0);
    assert_int_equal(H(NULL, NULL, "render", "density", "--bbox", box,
                       "--cellsize", "100", "--db", db, "-o", asc),
                     0);
    assert_int_equal(H(NULL, NULL, "render", "density", "--bbox",
                       "116.40,39.90,116.42,39.92", "--crs", "EPSG:4490",
                       "--cellsize", "0.001", "--db", db, "-o", geo),
                     0);
    char buf[4] = {0};
    FILE *f = fopen(tif, "rb");
    assert_int_equal(fread(buf, 1, 4, f), 4);
    fclose(f);
    assert_memory_equal(buf, "II*\0", 4);
    char *err = NULL;
    assert_int_equal(H(NULL, &err, "render", "density", "--bbox",
                       "116.40,39.90,116.42,39.92", "--crs", "gcj02",
                       "--cellsize", "0.001", "--db", db, "-o", geo),
                     2);
    assert_contains(err, "EPSG");
    free(err);
    if (access("/usr/bin/gdalinfo", X_OK) != 0) {
        print_message("GDAL not installed: the GeoTIFF check is skipped\n");
    } else {
        char *out = NULL;
        char *const info[] = {"/usr/bin/gdalinfo", tif, NULL};
        assert_int_equal(ts_run(info, 60, &out, NULL), 0);
        assert_contains(out, "Driver: GTiff/GeoTIFF");
        assert_contains(out, "Size is 50, 60");
        assert_contains(out, "ID[\"EPSG\",3857]");
        assert_contains(out, "Origin = (12955000.000");
        assert_contains(out, "Pixel Size = (100.000000000000000,-100.0");
        assert_contains(out, "Unit Type: incidents/km²");
        assert_contains(out, "NoData Value=-9999");
        free(out);
        char *const ginfo[] = {"/usr/bin/gdalinfo", geo, NULL};
        assert_int_equal(ts_run(ginfo, 60, &out, NULL), 0);
        assert_contains(out, "ID[\"EPSG\",4490]");
        assert_contains(out, "Pixel Size = (0.001000000000000,-0.0010");
        free(out);
        /* cell by cell the ASCII grid's (float32 of the same sums) */
        for (int k = 0; k < 4; k++) {
            char px[8], py[8], *a = NULL, *t = NULL;
            snprintf(px, sizeof px, "%d", 5 + 11 * k);
            snprintf(py, sizeof py, "%d", 7 + 13 * k);
            char *const qa[] = {
                "/usr/bin/gdallocationinfo", "-valonly", asc, px, py, NULL};
            char *const qt[] = {
                "/usr/bin/gdallocationinfo", "-valonly", tif, px, py, NULL};
            assert_int_equal(ts_run(qa, 60, &a, NULL), 0);
            assert_int_equal(ts_run(qt, 60, &t, NULL), 0);
            double va = atof(a), vt = atof(t);
            if (!(fabs(va - vt) <= 1e-5 * (fabs(va) + 1))) {
                fail_msg("cell %s,%s: asc %g tif %g", px, py, va, vt);
            }
            free(a);
            free(t);
        }
    }
    free(tif);
    free(asc);
    free(geo);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gis_formats),
        cmocka_unit_test(test_gis_gdal_wms_defaults),
        cmocka_unit_test(test_gis_behind_a_proxy),
        cmocka_unit_test(test_gis_feature_info_geometry),
        cmocka_unit_test(test_gis_density_geotiff),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
