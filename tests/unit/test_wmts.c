/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: wmts (tile matrix sets, KVP and RESTful requests,
 * documents). */
#include <math.h>

#include "hutong/tile.h"
#include "hutong/wmts.h"

#include "ht_test.h"

/* Parse "K=V&K=V" (no escapes) into a request. */
static ht_status parse(const char *q, ht_wmts_req *w, char code[40],
                       char locator[40], ht_error *err) {
    static char buf[2048];
    snprintf(buf, sizeof buf, "%s", q);
    const char *keys[32], *vals[32];
    size_t n = 0;
    for (char *p = strtok(buf, "&"); p && n < 32; p = strtok(NULL, "&")) {
        char *eq = strchr(p, '=');
        if (eq) {
            *eq = '\0';
        }
        keys[n] = p;
        vals[n++] = eq ? eq + 1 : "";
    }
    return ht_wmts_parse(keys, vals, n, 1795824000, w, code, locator, err);
}

static bool near(double a, double b, double tol) {
    return fabs(a - b) <= tol;
}

/* Tianditu's "c": level 1 is two tiles of 0.703125 degrees a pixel from
 * 180 W, 90 N; each level halves it; level 18 is 262144 x 131072 tiles
 * (as Tianditu's capabilities have it). Scale denominators of a 0.28 mm
 * pixel (degrees of a 6378137 m sphere). */
static void test_wmts_tianditu_c_grid(void **state) {
    (void)state;
    const ht_wmts_set *c = ht_wmts_set_find("c");
    assert_non_null(c);
    assert_string_equal(c->crs, "EPSG:4490");
    assert_int_equal(c->first, 1);
    uint32_t w, h;
    ht_wmts_matrix_size(c, 1, &w, &h);
    assert_int_equal(w, 2);
    assert_int_equal(h, 1);
    ht_wmts_matrix_size(c, 18, &w, &h);
    assert_int_equal(w, 262144);
    assert_int_equal(h, 131072);
    ht_bbox b;
    assert_int_equal(ht_wmts_tile_bbox(c, 1, 0, 1, &b, NULL), HT_OK);
    assert_true(b.minx == 0 && b.maxx == 180 && b.miny == -90 && b.maxy == 90);
    /* Tiananmen (116.3975 E, 39.9087 N) at level 18: 2.68e-6 degrees a
     * pixel. */
    double res = 0.703125 / (1 << 17);
    uint32_t col = (uint32_t)((116.3975 + 180) / (256 * res));
    uint32_t row = (uint32_t)((90 - 39.9087) / (256 * res));
    assert_int_equal(ht_wmts_tile_bbox(c, 18, row, col, &b, NULL), HT_OK);
    assert_true(b.minx <= 116.3975 && b.maxx > 116.3975);
    assert_true(b.miny < 39.9087 && b.maxy >= 39.9087);
    assert_true(near(b.maxx - b.minx, 256 * res, 1e-12));
    assert_true(near(b.maxy - b.miny, 256 * res, 1e-12));
    assert_true(near(ht_wmts_scale_denominator(c, 1), 279541132.0143589, 1e-3));
    assert_true(near(ht_wmts_scale_denominator(c, 18),
                     279541132.0143589 / (1 << 17), 1e-6));
    /* Outside the set: its level, row or column named. */
    ht_error err = {0};
    assert_int_equal(ht_wmts_tile_bbox(c, 0, 0, 0, &b, &err), HT_EINVAL);
    assert_non_null(strstr(err.msg, "1..20"));
    assert_int_equal(ht_wmts_tile_bbox(c, 1, 1, 0, &b, &err), HT_EINVAL);
    assert_non_null(strstr(err.msg, "TILEROW"));
    assert_int_equal(ht_wmts_tile_bbox(c, 1, 0, 2, &b, &err), HT_EINVAL);
    assert_non_null(strstr(err.msg, "TILECOL"));
}

/* The Mercator sets are the XYZ tiles: GoogleMapsCompatible from level 0,
 * Tianditu's "w" from 1 (2 x 2), the same numbers. */
static void test_wmts_mercator_sets_are_xyz(void **state) {
    (void)state;
    const ht_wmts_set *g = ht_wmts_set_find("GoogleMapsCompatible");
    const ht_wmts_set *w = ht_wmts_set_find("w");
    assert_non_null(g);
    assert_non_null(w);
    assert_null(ht_wmts_set_find("googlemapscompatible"));
    assert_null(ht_wmts_set_find("EPSG:4490"));
    ht_bbox a, b, t = ht_tile_bbox((ht_tile_id){14, 13489, 6206});
    assert_int_equal(ht_wmts_tile_bbox(g, 14, 6206, 13489, &a, NULL), HT_OK);
    assert_int_equal(ht_wmts_tile_bbox(w, 14, 6206, 13489, &b, NULL), HT_OK);
    assert_memory_equal(&a, &t, sizeof t);
    assert_memory_equal(&b, &t, sizeof t);
    assert_true(near(ht_wmts_scale_denominator(g, 0), 559082264.0287178, 1e-3));
    assert_true(near(ht_wmts_scale_denominator(w, 1), 279541132.0143589, 1e-3));
    uint32_t mw, mh;
    ht_wmts_matrix_size(w, 1, &mw, &mh);
    assert_int_equal(mw, 2);
    assert_int_equal(mh, 2);
    assert_int_equal(ht_wmts_tile_bbox(w, 0, 0, 0, &a, NULL), HT_EINVAL);
    assert_int_equal(ht_wmts_tile_bbox(g, HT_TILE_MAX_ZOOM + 1, 0, 0, &a, NULL),
                     HT_EINVAL);
}

static void test_wmts_kvp(void **state) {
    (void)state;
    ht_wmts_req w;
    char code[40], loc[40];
    ht_error err = {0};
    assert_int_equal(parse("service=WMTS&request=GetTile&version=1.0.0&layer="
                           "heat&style=default&format=image/webp&"
                           "tilematrixset=c&tilematrix=16&tilerow=9118&"
                           "tilecol=53959&severity=3&window=7d",
                           &w, code, loc, &err),
                     HT_OK);
    assert_int_equal(w.op, HT_WMTS_GET_TILE);
    assert_string_equal(w.layer, "heat");
    assert_string_equal(w.set->id, "c");
    assert_int_equal(w.level, 16);
    assert_int_equal(w.row, 9118);
    assert_int_equal(w.col, 53959);
    assert_int_equal(w.format, HT_IMAGE_WEBP);
    /* the filters: vendor parameters */
    assert_true(w.filter.to - w.filter.from == 7 * 86400);
    assert_int_equal(parse("SERVICE=WMTS&REQUEST=GetFeatureInfo&VERSION=1.0.0&"
                           "LAYER=grids&STYLE=&FORMAT=image/png&TILEMATRIXSET="
                           "GoogleMapsCompatible&TILEMATRIX=0&TILEROW=0&"
                           "TILECOL=0&I=255&J=0&INFOFORMAT=text/html",
                           &w, code, loc, &err),
                     HT_OK);
    assert_int_equal(w.op, HT_WMTS_GET_FEATURE_INFO);
    assert_int_equal(w.i, 255);
    assert_string_equal(w.info_format, "text/html");
    assert_int_equal(
        parse("SERVICE=WMTS&REQUEST=GetCapabilities", &w, code, loc, &err),
        HT_OK);
    assert_int_equal(w.op, HT_WMTS_GET_CAPABILITIES);
    /* Each bad request: its OWS code and the parameter at fault. */
    static const char tile[] =
        "SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=heat&STYLE=default&"
        "FORMAT=image/png&TILEMATRIXSET=c&TILEMATRIX=3&TILEROW=1&TILECOL=2";
    static const struct {
        const char *q, *code, *locator;
    } bad[] = {
        {"REQUEST=GetTile", "MissingParameterValue", "SERVICE"},
        {"SERVICE=WMS&REQUEST=GetCapabilities", "InvalidParameterValue",
         "SERVICE"},
        {"SERVICE=WMTS", "MissingParameterValue", "REQUEST"},
        {"SERVICE=WMTS&REQUEST=GetMap", "OperationNotSupported", "REQUEST"},
        {"SERVICE=WMTS&REQUEST=GetTile&VERSION=2.0.0", "InvalidParameterValue",
         "VERSION"},
        {"SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&FORMAT=image/png",
         "MissingParameterValue", "LAYER"},
        {"SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=heat&STYLE=dark&"
         "FORMAT=image/png",
         "InvalidParameterValue", "STYLE"},
        {"SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=heat&FORMAT=image/"
         "gif",
         "InvalidParameterValue", "FORMAT"},
        {"SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=heat&FORMAT=image/"
         "png&TILEMATRIXSET=EPSG:4490&TILEMATRIX=1&TILEROW=0&TILECOL=0",
         "InvalidParameterValue", "TILEMATRIXSET"},
        {"SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=heat&FORMAT=image/"
         "png&TILEMATRIXSET=c&TILEMATRIX=0&TILEROW=0&TILECOL=0",
         "InvalidParameterValue", "TILEMATRIX"},
        {"SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=heat&FORMAT=image/"
         "png&TILEMATRIXSET=c&TILEMATRIX=1&TILEROW=1&TILECOL=0",
         "TileOutOfRange", "TILEROW"},
        {"SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=heat&FORMAT=image/"
         "png&TILEMATRIXSET=c&TILEMATRIX=1&TILEROW=0&TILECOL=-1",
         "TileOutOfRange", "TILECOL"},
        {"SERVICE=WMTS&REQUEST=GetFeatureInfo&VERSION=1.0.0&LAYER=heat&"
         "TILEMATRIXSET=c&TILEMATRIX=1&TILEROW=0&TILECOL=0&I=256&J=0&"
         "INFOFORMAT=text/plain",
         "PointIJOutOfRange", "I"},
        {"SERVICE=WMTS&REQUEST=GetFeatureInfo&VERSION=1.0.0&LAYER=heat&"
         "TILEMATRIXSET=c&TILEMATRIX=1&TILEROW=0&TILECOL=0&I=1&J=0&"
         "INFOFORMAT=text/csv",
         "InvalidParameterValue", "INFOFORMAT"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        err.msg[0] = '\0';
        if (parse(bad[k].q, &w, code, loc, &err) != HT_EINVAL ||
            strcmp(code, bad[k].code) != 0 ||
            strcmp(loc, bad[k].locator) != 0 || !err.msg[0]) {
            fail_msg("case %zu: %s %s (%s)", k, code, loc, err.msg);
        }
    }
    /* A filter's bad value is the filter's error. */
    char q[512];
    snprintf(q, sizeof q, "%s&severity=9", tile);
    assert_int_equal(parse(q, &w, code, loc, &err), HT_EINVAL);
    assert_string_equal(code, "InvalidParameterValue");
    assert_non_null(strstr(err.msg, "severity"));
    assert_int_equal(parse(tile, &w, code, loc, &err), HT_OK);
}

static void test_wmts_rest(void **state) {
    (void)state;
    ht_wmts_req w;
    char code[40], loc[40];
    ht_error err = {0};
    ht_filter f = ht_filter_all();
    f.severity = 2;
    assert_int_equal(
        ht_wmts_parse_rest("WMTSCapabilities.xml", &f, &w, code, loc, &err),
        HT_OK);
    assert_int_equal(w.op, HT_WMTS_GET_CAPABILITIES);
    assert_int_equal(ht_wmts_parse_rest("heat/default/w/14/6206/13489.jpg", &f,
                                        &w, code, loc, &err),
                     HT_OK);
    assert_int_equal(w.op, HT_WMTS_GET_TILE);
    assert_int_equal(w.format, HT_IMAGE_JPEG);
    assert_int_equal(w.row, 6206);
    assert_int_equal(w.col, 13489);
    assert_int_equal(w.filter.severity, 2);
    assert_int_equal(ht_wmts_parse_rest("grids/default/c/16/9118/53959/7/200."
                                        "gml",
                                        &f, &w, code, loc, &err),
                     HT_OK);
    assert_int_equal(w.op, HT_WMTS_GET_FEATURE_INFO);
    assert_int_equal(w.j, 7);
    assert_int_equal(w.i, 200);
    assert_string_equal(w.info_format, HT_WMS_GML);
    static const struct {
        const char *path, *code;
    } bad[] = {{"heat/default/c/16/9118/53959", "InvalidParameterValue"},
               {"heat/default/c/16/9118/53959.gif", "InvalidParameterValue"},
               {"heat/default/c/16/9118", "InvalidParameterValue"},
               {"heat//c/16/9118/53959.png", "InvalidParameterValue"},
               {"heat/default/c/16/9118/53959.png/", "InvalidParameterValue"},
               {"heat/dark/c/16/9118/53959.png", "InvalidParameterValue"},
               {"heat/default/c/21/9118/53959.png", "InvalidParameterValue"},
               {"heat/default/c/1/0/2.png", "TileOutOfRange"},
               {"heat/default/c/1/0/1/256/0.json", "PointIJOutOfRange"},
               {"heat/default/c/1/0/1/0/0.xml", "InvalidParameterValue"},
               {"a/b/c/d/e/f/g/h/i.png", "InvalidParameterValue"}};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        if (ht_wmts_parse_rest(bad[k].path, &f, &w, code, loc, &err) !=
                HT_EINVAL ||
            strcmp(code, bad[k].code) != 0) {
            fail_msg("case %zu (%s): %s", k, bad[k].path, code);
        }
    }
}

/* The capabilities: every layer in every set, KVP and RESTful; feature
 * info formats only on the layers that answer; the sets' matrices; the
 * names escaped. The exception report escapes too. */
static void test_wmts_documents(void **state) {
    (void)state;
    ht_wms_layer layers[] = {
        {"heat", "热力 <heat>", NULL, true, true, 120, 80},
        {"default", "base & map", NULL, false, false, 1, 1}};
    ht_wms_contact who = {"王 & 李", "东城区网格化中心", NULL};
    char *x =
        ht_wmts_capabilities("http://h:1/p", layers, 2,
                             (ht_bbox){116.38, 39.85, 116.45, 39.98}, &who);
    assert_non_null(x);
    assert_non_null(strstr(x, "<ows:Title>热力 &lt;heat&gt;</ows:Title>"));
    assert_non_null(strstr(x, "base &amp; map"));
    assert_non_null(strstr(x, "王 &amp; 李"));
    assert_non_null(strstr(x, "<ows:Identifier>c</ows:Identifier>"));
    assert_non_null(strstr(x, "urn:ogc:def:crs:EPSG::4490"));
    assert_non_null(strstr(x, "<TopLeftCorner>90 -180</TopLeftCorner>"));
    assert_non_null(strstr(x, "urn:ogc:def:wkss:OGC:1.0:GoogleMapsCompatible"));
    assert_non_null(strstr(x,
                           "template=\"http://h:1/p/wmts/1.0.0/heat/"
                           "{Style}/{TileMatrixSet}/{TileMatrix}/"
                           "{TileRow}/{TileCol}.png\""));
    assert_non_null(strstr(x,
                           "/heat/{Style}/{TileMatrixSet}/{TileMatrix}/"
                           "{TileRow}/{TileCol}/{J}/{I}.json\""));
    assert_null(strstr(x,
                       "/default/{Style}/{TileMatrixSet}/{TileMatrix}/"
                       "{TileRow}/{TileCol}/{J}/{I}"));
    assert_non_null(strstr(x, "xlink:href=\"http://h:1/p/legend/heat.png\""));
    assert_non_null(strstr(x, "xlink:href=\"http://h:1/p/wmts?\""));
    /* one InfoFormat list (heat's), three sets a layer */
    size_t info = 0, links = 0;
    for (const char *p = x; (p = strstr(p, "<InfoFormat>")); p++) {
        info++;
    }
    for (const char *p = x; (p = strstr(p, "<TileMatrixSetLink>")); p++) {
        links++;
    }
    assert_int_equal(info, 4);
    assert_int_equal(links, 2 * ht_wmts_nsets);
    /* c to level 20: level 19 is 524288 x 262144 tiles */
    assert_non_null(strstr(x,
                           "<MatrixWidth>524288</MatrixWidth>\n"
                           "        <MatrixHeight>262144</MatrixHeight>"));
    free(x);
    x = ht_wmts_exception("TileOutOfRange", "TILEROW", "row \"9\" < 1");
    assert_non_null(strstr(x,
                           "exceptionCode=\"TileOutOfRange\" "
                           "locator=\"TILEROW\""));
    assert_non_null(strstr(x, "row &quot;9&quot; &lt; 1"));
    free(x);
    assert_int_equal(ht_wmts_exception_status("OperationNotSupported"), 501);
    assert_int_equal(ht_wmts_exception_status("TileOutOfRange"), 400);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wmts_tianditu_c_grid),
        cmocka_unit_test(test_wmts_mercator_sets_are_xyz),
        cmocka_unit_test(test_wmts_kvp),
        cmocka_unit_test(test_wmts_rest),
        cmocka_unit_test(test_wmts_documents),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
