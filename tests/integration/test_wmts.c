/* SPDX-License-Identifier: Apache-2.0 */
/* Integration: WMTS on a real `hutong serve` — KVP and RESTful, the
 * Mercator sets the XYZ tiles, Tianditu's CGCS2000 "c" grid drawn natively
 * and seamless, feature info, the exceptions — and the clients: GDAL's
 * WMTS driver and OWSLib (each skipped when not installed). */
#include <jansson.h>
#include <math.h>
#include <unistd.h>

#include "ht_test.h"

#define H(out, err, ...) ts_hutong(out, err, __VA_ARGS__, (const char *)NULL)

static char *dir, *db, *errlog;
static ts_server srv;

/* A level-15 tile of "c" over the demo's middle (116.41 E, 39.91 N):
 * 0.703125 / 2^14 degrees a pixel, 256 a tile. */
#define LEVEL 15
static uint32_t row0, col0;

static int setup(void **state) {
    (void)state;
    dir = ts_tmpdir();
    db = ts_pg() ? ts_pg_new_db() : ts_path(dir, "demo.db");
    errlog = ts_path(dir, "serve.log");
    if (H(NULL, NULL, "demo", "--db", db, "--incidents", "2000") != 0) {
        return -1;
    }
    srv = ts_serve_start(db, errlog, NULL);
    double span = 0.703125 / (1 << (LEVEL - 1)) * 256;
    col0 = (uint32_t)((116.41 + 180) / span);
    row0 = (uint32_t)((90 - 39.91) / span);
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

/* GET @path: 200 and its body (@len bytes), else the test fails. */
static char *get_ok(const char *path, size_t *len) {
    char *body = NULL;
    int st = get(path, NULL, &body, len);
    if (st != 200) {
        fail_msg("%s: %d %s", path, st, body ? body : "");
    }
    return body;
}

/* The capabilities, KVP and RESTful the same document; one layer a style
 * with the sets, the "c" set as Tianditu draws it. */
static void test_wmts_capabilities(void **state) {
    (void)state;
    char *head = NULL;
    char *kvp = NULL;
    assert_int_equal(
        get("/wmts?SERVICE=WMTS&REQUEST=GetCapabilities", &head, &kvp, NULL),
        200);
    assert_contains(head, "content-type: application/xml");
    char *rest = get_ok("/wmts/1.0.0/WMTSCapabilities.xml", NULL);
    assert_string_equal(kvp, rest);
    assert_contains(kvp, "<ows:Identifier>heat</ows:Identifier>");
    assert_contains(kvp, "<ows:Identifier>wall</ows:Identifier>");
    assert_contains(kvp, "<ows:Identifier>c</ows:Identifier>");
    assert_contains(kvp, "<TopLeftCorner>90 -180</TopLeftCorner>");
    assert_contains(kvp, "<ScaleDenominator>279541132.0143");
    /* every address on this server */
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d/wmts", srv.port);
    assert_contains(kvp, base);
    free(head);
    free(kvp);
    free(rest);
}

/* GoogleMapsCompatible and "w" are the XYZ tiles, byte for byte; KVP and
 * RESTful the same; the filters are vendor parameters (a filter changes
 * the heat). */
static void test_wmts_mercator_tiles_are_xyz(void **state) {
    (void)state;
    size_t nx, ng, nw, nr, nf, nrf;
    char *xyz = get_ok("/tiles/heat/14/13489/6206.png", &nx);
    char *g = get_ok(
        "/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&"
        "LAYER=heat&STYLE=default&FORMAT=image/png&"
        "TILEMATRIXSET=GoogleMapsCompatible&TILEMATRIX=14&"
        "TILEROW=6206&TILECOL=13489",
        &ng);
    char *w = get_ok(
        "/wmts?service=wmts&request=GetTile&version=1.0.0&"
        "layer=heat&style=&format=image/png&tilematrixset=w&"
        "tilematrix=14&tilerow=6206&tilecol=13489",
        &nw);
    char *r = get_ok("/wmts/1.0.0/heat/default/w/14/6206/13489.png", &nr);
    assert_int_equal(nx, ng);
    assert_memory_equal(xyz, g, nx);
    assert_int_equal(nx, nw);
    assert_memory_equal(xyz, w, nx);
    assert_int_equal(nx, nr);
    assert_memory_equal(xyz, r, nx);
    char *f = get_ok(
        "/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&"
        "LAYER=heat&STYLE=default&FORMAT=image/png&"
        "TILEMATRIXSET=w&TILEMATRIX=14&TILEROW=6206&"
        "TILECOL=13489&severity=3",
        &nf);
    char *rf =
        get_ok("/wmts/1.0.0/heat/default/w/14/6206/13489.png?severity=3", &nrf);
    char *xf = get_ok("/tiles/heat/14/13489/6206.png?severity=3", NULL);
    assert_true(nf != nx || memcmp(f, xyz, nx) != 0);
    assert_int_equal(nf, nrf);
    assert_memory_equal(f, rf, nf);
    assert_memory_equal(f, xf, nf);
    free(xyz);
    free(g);
    free(w);
    free(r);
    free(f);
    free(rf);
    free(xf);
    /* JPEG and WebP too */
    char *head = NULL, *body = NULL;
    assert_int_equal(get("/wmts/1.0.0/default/default/c/15/4559/26979.jpg",
                         &head, &body, NULL),
                     200);
    assert_contains(head, "content-type: image/jpeg");
    free(head);
    free(body);
    head = body = NULL;
    assert_int_equal(get("/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&"
                         "LAYER=default&FORMAT=image/webp&TILEMATRIXSET=c&"
                         "TILEMATRIX=15&TILEROW=4559&TILECOL=26979",
                         &head, &body, NULL),
                     200);
    assert_contains(head, "content-type: image/webp");
    free(head);
    free(body);
}

/* Four "c" tiles side by side are the map of their box drawn in EPSG:4490
 * (WMS): the same pixels, within 2 levels a channel on at most 0.1 % of
 * them. The heat is drawn in longitude/latitude, not warped. */
static void test_wmts_c_tiles_are_seamless(void **state) {
    (void)state;
    double span = 0.703125 / (1 << (LEVEL - 1)) * 256;
    double minx = -180 + col0 * span, maxy = 90 - row0 * span;
    char path[512];
    snprintf(path, sizeof path,
             "/wms?SERVICE=WMS&VERSION=1.1.1&REQUEST=GetMap&LAYERS=heat&"
             "STYLES=&SRS=EPSG:4490&BBOX=%.12f,%.12f,%.12f,%.12f&WIDTH=512&"
             "HEIGHT=512&FORMAT=image/png&TRANSPARENT=TRUE",
             minx, maxy - 2 * span, minx + 2 * span, maxy);
    size_t nbig;
    char *big = get_ok(path, &nbig);
    cairo_surface_t *sb = ts_png_decode(big, nbig);
    assert_int_equal(cairo_surface_status(sb), CAIRO_STATUS_SUCCESS);
    long bad = 0, inked = 0;
    for (int q = 0; q < 4; q++) {
        snprintf(path, sizeof path, "/wmts/1.0.0/heat/default/c/%d/%u/%u.png",
                 LEVEL, row0 + (q >> 1), col0 + (q & 1));
        size_t n;
        char *t = get_ok(path, &n);
        cairo_surface_t *st = ts_png_decode(t, n);
        assert_int_equal(cairo_surface_status(st), CAIRO_STATUS_SUCCESS);
        assert_int_equal(cairo_image_surface_get_width(st), 256);
        for (int y = 0; y < 256; y++) {
            const uint32_t *pt =
                (const uint32_t *)(cairo_image_surface_get_data(st) +
                                   (size_t)y *
                                       cairo_image_surface_get_stride(st));
            const uint32_t *pb =
                (const uint32_t *)(cairo_image_surface_get_data(sb) +
                                   (size_t)(y + 256 * (q >> 1)) *
                                       cairo_image_surface_get_stride(sb)) +
                256 * (q & 1);
            for (int x = 0; x < 256; x++) {
                inked += pt[x] >> 24 != 0;
                for (int sh = 0; sh < 32; sh += 8) {
                    if (abs((int)(pt[x] >> sh & 255) -
                            (int)(pb[x] >> sh & 255)) > 2) {
                        bad++;
                        break;
                    }
                }
            }
        }
        cairo_surface_destroy(st);
        free(t);
    }
    cairo_surface_destroy(sb);
    free(big);
    assert_true(inked > 512 * 512 / 4); /* there is heat to compare */
    if (bad > 512 * 512 / 1000) {
        fail_msg("%ld pixels differ", bad);
    }
}

/* GetFeatureInfo, KVP and RESTful: the grid under the pixel, its outline
 * in EPSG:4490 (JSON, named; GML); a base map is not queryable. */
static void test_wmts_feature_info(void **state) {
    (void)state;
    char path[512];
    snprintf(path, sizeof path,
             "/wmts?SERVICE=WMTS&REQUEST=GetFeatureInfo&VERSION=1.0.0&"
             "LAYER=grids&STYLE=default&TILEMATRIXSET=c&TILEMATRIX=%d&"
             "TILEROW=%u&TILECOL=%u&I=128&J=128&INFOFORMAT=application/json",
             LEVEL, row0, col0);
    char *kvp = get_ok(path, NULL);
    snprintf(path, sizeof path,
             "/wmts/1.0.0/grids/default/c/%d/%u/%u/128/128.json", LEVEL, row0,
             col0);
    char *rest = get_ok(path, NULL);
    assert_string_equal(kvp, rest);
    json_t *j = json_loads(kvp, 0, NULL);
    assert_non_null(j);
    json_t *f = json_array_get(json_object_get(j, "features"), 0);
    assert_non_null(f);
    json_t *pt = json_array_get(
        json_array_get(
            json_array_get(
                json_object_get(json_object_get(f, "geometry"), "coordinates"),
                0),
            0),
        0);
    double x = json_number_value(json_array_get(pt, 0));
    double y = json_number_value(json_array_get(pt, 1));
    assert_true(x > 116.3 && x < 116.5 && y > 39.8 && y < 40);
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_object_get(j, "crs"), "properties"), "name")),
        "urn:ogc:def:crs:EPSG::4490");
    const char *code = json_string_value(
        json_object_get(json_object_get(f, "properties"), "code"));
    assert_non_null(code);
    snprintf(path, sizeof path,
             "/wmts/1.0.0/grids/default/c/%d/%u/%u/128/128.gml", LEVEL, row0,
             col0);
    char *head = NULL, *gml = NULL;
    assert_int_equal(get(path, &head, &gml, NULL), 200);
    assert_contains(head, "content-type: application/vnd.ogc.gml");
    assert_contains(gml, "<gml:MultiPolygon srsName=\"EPSG:4490\">");
    assert_contains(gml, code);
    free(head);
    free(gml);
    json_decref(j);
    free(kvp);
    free(rest);
    /* a base map */
    snprintf(path, sizeof path,
             "/wmts/1.0.0/default/default/c/%d/%u/%u/128/128.txt", LEVEL, row0,
             col0);
    char *body = NULL;
    assert_int_equal(get(path, NULL, &body, NULL), 400);
    assert_contains(body, "LayerNotQueryable");
    free(body);
}

/* Every bad request: its status and OWS exception code; nothing drawn. */
static void test_wmts_errors(void **state) {
    (void)state;
    static const struct {
        const char *path;
        int status;
        const char *code;
    } cases[] = {
        {"/wmts?REQUEST=GetCapabilities", 400, "MissingParameterValue"},
        {"/wmts?SERVICE=WMTS&REQUEST=GetMap", 501, "OperationNotSupported"},
        {"/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=nope&"
         "FORMAT=image/png&TILEMATRIXSET=c&TILEMATRIX=1&TILEROW=0&TILECOL=0",
         400, "InvalidParameterValue"},
        {"/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=heat&"
         "FORMAT=image/png&TILEMATRIXSET=c&TILEMATRIX=1&TILEROW=1&TILECOL=0",
         400, "TileOutOfRange"},
        {"/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=heat&"
         "FORMAT=image/png&TILEMATRIXSET=c&TILEMATRIX=1&TILEROW=0&TILECOL=0&"
         "window=3x",
         400, "InvalidParameterValue"},
        {"/wmts/1.0.0/heat/default/c/1/0/2.png", 404, "TileOutOfRange"},
        {"/wmts/1.0.0/heat/default/EPSG:4326/1/0/0.png", 404,
         "InvalidParameterValue"},
        {"/wmts/1.0.0/heat/default/c/1/0/0.gif", 404, "InvalidParameterValue"},
        {"/wmts/1.0.0/heat/default/c/1/0/0.png?severity=7", 400,
         "InvalidParameterValue"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        char *head = NULL, *body = NULL;
        int st = get(cases[k].path, &head, &body, NULL);
        if (st != cases[k].status || !strstr(head, "application/xml") ||
            !strstr(body, cases[k].code) ||
            !strstr(body, "<ows:ExceptionReport")) {
            fail_msg("case %zu (%s): %d %s", k, cases[k].path, st, body);
        }
        free(head);
        free(body);
    }
}

/* GDAL's WMTS driver pointed at the capabilities: the "c" set read as
 * EPSG:4490 with Tianditu's level 20 pixel (0.703125 / 2^19 degrees),
 * over the data; gdal_translate makes a picture of it. */
static void test_wmts_gdal(void **state) {
    (void)state;
    if (access("/usr/bin/gdal_translate", X_OK) != 0) {
        print_message("GDAL not installed: its WMTS check is skipped\n");
        return;
    }
    char url[256], *out = NULL, *err = NULL;
    snprintf(url, sizeof url,
             "WMTS:http://127.0.0.1:%d/wmts?SERVICE=WMTS&REQUEST="
             "GetCapabilities,layer=heat,tilematrixset=c",
             srv.port);
    char *const info[] = {"/usr/bin/gdalinfo", url, NULL};
    if (ts_run(info, 60, &out, &err) != 0) {
        fail_msg("gdalinfo %s: %s", url, err);
    }
    assert_contains(out, "ID[\"EPSG\",4490]");
    assert_contains(out, "Pixel Size = (0.000001341104507,-0.000001341104507)");
    /* its corners: the demo's box, about Dongcheng */
    const char *ul = strstr(out, "Upper Left  (");
    assert_non_null(ul);
    double lon, lat;
    assert_int_equal(sscanf(ul + 13, "%lf, %lf", &lon, &lat), 2);
    assert_true(lon > 116.3 && lon < 116.45 && lat > 39.9 && lat < 40.05);
    free(out);
    free(err);
    char *tif = ts_path(dir, "wmts.tif");
    char *const translate[] = {"/usr/bin/gdal_translate",
                               "-q",
                               "-outsize",
                               "200",
                               "0",
                               "-of",
                               "GTiff",
                               url,
                               tif,
                               NULL};
    out = err = NULL;
    if (ts_run(translate, 120, &out, &err) != 0) {
        fail_msg("gdal_translate %s: %s", url, err);
    }
    free(out);
    free(err);
    char *const stats[] = {"/usr/bin/gdalinfo", "-stats", tif, NULL};
    assert_int_equal(ts_run(stats, 60, &out, NULL), 0);
    assert_contains(out, "Size is 200, ");
    assert_contains(out, "Band 4");
    const char *sd = strstr(out, "STATISTICS_STDDEV=");
    assert_non_null(sd);
    assert_true(atof(sd + 18) > 1);
    free(out);
    free(tif);
}

/* OWSLib's WebMapTileService, as a Python client would use it. */
static void test_wmts_owslib(void **state) {
    (void)state;
    char *const probe[] = {"/usr/bin/python3", "-c", "import owslib.wmts",
                           NULL};
    if (access("/usr/bin/python3", X_OK) != 0 ||
        ts_run(probe, 60, NULL, NULL) != 0) {
        print_message("OWSLib not installed: its WMTS check is skipped\n");
        return;
    }
    char *script = ts_path(dir, "wmts.py");
    ts_write(script,
             "import sys\n"
             "from owslib.wmts import WebMapTileService\n"
             "w = WebMapTileService(sys.argv[1] + '/wmts')\n"
             "assert {'heat', 'default', 'grids'} <= set(w.contents)\n"
             "assert {'GoogleMapsCompatible', 'w', 'c'} <= "
             "set(w.tilematrixsets)\n"
             "c = w.tilematrixsets['c']\n"
             "assert c.crs == 'urn:ogc:def:crs:EPSG::4490', c.crs\n"
             "m = c.tilematrix['1']\n"
             "assert (m.matrixwidth, m.matrixheight) == (2, 1)\n"
             "assert tuple(m.topleftcorner) == (90.0, -180.0)\n"
             "assert abs(c.tilematrix['18'].scaledenominator - "
             "279541132.0143589 / 2**17) < 1e-6\n"
             "assert 'application/json' in w.contents['heat'].infoformats\n"
             "assert not w.contents['default'].infoformats\n"
             "t = w.gettile(layer='heat', tilematrixset='c', "
             "tilematrix=sys.argv[2], row=int(sys.argv[3]), "
             "column=int(sys.argv[4]), format='image/png').read()\n"
             "assert t[:8] == b'\\x89PNG\\r\\n\\x1a\\n'\n"
             "print('ok', len(w.contents), len(t))\n");
    char base[64], level[8], row[16], col[16];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", srv.port);
    snprintf(level, sizeof level, "%d", LEVEL);
    snprintf(row, sizeof row, "%u", row0);
    snprintf(col, sizeof col, "%u", col0);
    char *const run[] = {
        "/usr/bin/python3", script, base, level, row, col, NULL};
    char *out = NULL, *err = NULL;
    if (ts_run(run, 120, &out, &err) != 0) {
        fail_msg("OWSLib: %s %s", out, err);
    }
    assert_contains(out, "ok ");
    free(out);
    free(err);
    free(script);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wmts_capabilities),
        cmocka_unit_test(test_wmts_mercator_tiles_are_xyz),
        cmocka_unit_test(test_wmts_c_tiles_are_seamless),
        cmocka_unit_test(test_wmts_feature_info),
        cmocka_unit_test(test_wmts_errors),
        cmocka_unit_test(test_wmts_gdal),
        cmocka_unit_test(test_wmts_owslib),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
