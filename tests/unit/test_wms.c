/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: wms. */
#include <math.h>

#include "hutong/wms.h"

#include "ht_test.h"

/* Parse "K=V&K=V" (no escapes) into a request. */
static ht_status parse(const char *q, ht_wms_req *w, char code[40],
                       ht_error *err) {
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
    return ht_wms_parse(keys, vals, n, 1795824000, w, code, err);
}

static void test_wms_getmap_axis_order(void **state) {
    (void)state;
    ht_wms_req w;
    char code[40];
    ht_error err = {0};
    /* 1.3.0 and EPSG:4326: latitude first. */
    assert_int_equal(parse("SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS="
                           "default,heat&STYLES=&CRS=EPSG:4326&BBOX=39.85,"
                           "116.38,39.98,116.45&WIDTH=256&HEIGHT=512&FORMAT="
                           "image/png&window=7d&category=01",
                           &w, code, &err),
                     HT_OK);
    assert_int_equal(w.op, HT_WMS_GET_MAP);
    assert_int_equal(w.version, 130);
    assert_int_equal(w.nlayers, 2);
    assert_string_equal(w.layers[1], "heat");
    assert_true(w.bbox.minx == 116.38 && w.bbox.miny == 39.85);
    assert_true(w.bbox.maxx == 116.45 && w.bbox.maxy == 39.98);
    assert_int_equal(w.width, 256);
    assert_int_equal(w.height, 512);
    assert_false(w.transparent);
    /* The filters are vendor parameters. */
    assert_int_equal(w.filter.ncategory, 1);
    assert_true(w.filter.to - w.filter.from == 7 * 86400);
    /* 1.1.1 and SRS: always x, y. So is EPSG:3857 in 1.3.0; EPSG:4548's
     * own order is northing first. */
    assert_int_equal(parse("REQUEST=GetMap&VERSION=1.1.1&LAYERS=default&SRS="
                           "EPSG:4326&BBOX=116.38,39.85,116.45,39.98&WIDTH=2&"
                           "HEIGHT=2&FORMAT=image/png",
                           &w, code, &err),
                     HT_OK);
    assert_true(w.bbox.minx == 116.38 && w.bbox.maxy == 39.98);
    assert_int_equal(parse("REQUEST=GetMap&VERSION=1.3.0&LAYERS=default&CRS="
                           "EPSG:3857&BBOX=12955000,4845000,12962000,4862000&"
                           "WIDTH=2&HEIGHT=2&FORMAT=image/png&TRANSPARENT=TRUE"
                           "&BGCOLOR=0x102030",
                           &w, code, &err),
                     HT_OK);
    assert_true(w.bbox.minx == 12955000 && w.bbox.miny == 4845000);
    assert_true(w.transparent);
    assert_true(fabs(w.bgcolor.r - 16 / 255.0) < 1e-9);
    assert_int_equal(parse("REQUEST=GetMap&VERSION=1.3.0&LAYERS=default&CRS="
                           "EPSG:4548&BBOX=4413748,447240,4426776,451638&"
                           "WIDTH=2&HEIGHT=2&FORMAT=image/png",
                           &w, code, &err),
                     HT_OK);
    assert_true(w.bbox.minx == 447240 && w.bbox.miny == 4413748);
    assert_int_equal(w.format, HT_IMAGE_PNG);
    /* CRS:84: WGS 84, longitude first even in 1.3.0. */
    assert_int_equal(parse("REQUEST=GetMap&VERSION=1.3.0&LAYERS=default&CRS="
                           "CRS:84&BBOX=116.38,39.85,116.45,39.98&WIDTH=2&"
                           "HEIGHT=2&FORMAT=image/png",
                           &w, code, &err),
                     HT_OK);
    assert_string_equal(w.crs, "EPSG:4326");
    assert_true(w.bbox.minx == 116.38 && w.bbox.maxy == 39.98);
    /* The formats by media type or short name, any case. */
    const struct {
        const char *name;
        ht_image_format fmt;
    } formats[] = {{"image/jpeg", HT_IMAGE_JPEG},
                   {"JPEG", HT_IMAGE_JPEG},
                   {"image/webp", HT_IMAGE_WEBP},
                   {"png", HT_IMAGE_PNG},
                   {"image/png; mode=8bit", HT_IMAGE_PNG8}};
    for (size_t k = 0; k < sizeof formats / sizeof *formats; k++) {
        char q[256];
        snprintf(q, sizeof q,
                 "REQUEST=GetMap&VERSION=1.1.1&LAYERS=default&SRS=EPSG:3857&"
                 "BBOX=0,0,1,1&WIDTH=2&HEIGHT=2&FORMAT=%s",
                 formats[k].name);
        assert_int_equal(parse(q, &w, code, &err), HT_OK);
        assert_int_equal(w.format, formats[k].fmt);
    }
    /* Keys are case-insensitive. */
    assert_int_equal(parse("request=GetFeatureInfo&version=1.3.0&layers=grids&"
                           "query_layers=grids&crs=EPSG:3857&bbox=0,0,10,10&"
                           "width=10&height=10&i=3&j=4&info_format=text/html",
                           &w, code, &err),
                     HT_OK);
    assert_int_equal(w.op, HT_WMS_GET_FEATURE_INFO);
    assert_true(w.i == 3 && w.j == 4);
    assert_string_equal(w.info_format, "text/html");
    assert_int_equal(parse("request=GetFeatureInfo&version=1.3.0&layers=grids&"
                           "query_layers=grids&crs=EPSG:3857&bbox=0,0,10,10&"
                           "width=10&height=10&i=3&j=4&info_format="
                           "application/vnd.ogc.gml",
                           &w, code, &err),
                     HT_OK);
    assert_string_equal(w.info_format, HT_WMS_GML);
}

static void test_wms_errors_have_ogc_codes(void **state) {
    (void)state;
    const struct {
        const char *q, *code, *says;
    } cases[] = {
        {"SERVICE=WMS", "MissingParameterValue", "REQUEST"},
        {"REQUEST=GetMap&VERSION=1.3.0", "MissingParameterValue", "LAYERS"},
        {"REQUEST=Delete", "OperationNotSupported", "Delete"},
        {"SERVICE=WFS&REQUEST=GetMap", "InvalidParameterValue", "WFS"},
        {"REQUEST=GetMap&VERSION=2.0&LAYERS=a", "InvalidParameterValue",
         "VERSION"},
        {"REQUEST=GetMap&LAYERS=a&CRS=EPSG:2000&BBOX=0,0,1,1&WIDTH=1&HEIGHT=1&"
         "FORMAT=image/png",
         "InvalidCRS", "EPSG:2000"},
        {"REQUEST=GetMap&VERSION=1.1.1&LAYERS=a&SRS=EPSG:2000&BBOX=0,0,1,1&"
         "WIDTH=1&HEIGHT=1&FORMAT=image/png",
         "InvalidSRS", "EPSG:2000"},
        {"REQUEST=GetMap&LAYERS=a&CRS=EPSG:3857&BBOX=0,0,1&WIDTH=1&HEIGHT=1&"
         "FORMAT=image/png",
         "InvalidParameterValue", "BBOX"},
        {"REQUEST=GetMap&LAYERS=a&CRS=EPSG:3857&BBOX=1,0,0,1&WIDTH=1&HEIGHT=1&"
         "FORMAT=image/png",
         "InvalidParameterValue", "BBOX"},
        {"REQUEST=GetMap&LAYERS=a&CRS=EPSG:3857&BBOX=0,0,1,1&WIDTH=5000&"
         "HEIGHT=1&FORMAT=image/png",
         "InvalidParameterValue", "WIDTH"},
        {"REQUEST=GetMap&LAYERS=a&CRS=EPSG:3857&BBOX=0,0,1,1&WIDTH=1&HEIGHT=1&"
         "FORMAT=image/gif",
         "InvalidFormat", "mode=8bit, image/jpeg or image/webp"},
        {"REQUEST=GetMap&LAYERS=a&CRS=EPSG:3857&BBOX=0,0,1,1&WIDTH=1&HEIGHT=1",
         "MissingParameterValue", "FORMAT"},
        {"REQUEST=GetMap&LAYERS=a&CRS=EPSG:3857&BBOX=0,0,1,1&WIDTH=1&HEIGHT=1&"
         "FORMAT=image/png&BGCOLOR=red",
         "InvalidParameterValue", "BGCOLOR"},
        {"REQUEST=GetMap&LAYERS=a&CRS=EPSG:3857&BBOX=0,0,1,1&WIDTH=1&HEIGHT=1&"
         "FORMAT=image/png&severity=5",
         "InvalidParameterValue", "severity"},
        {"REQUEST=GetFeatureInfo&LAYERS=a&QUERY_LAYERS=a&CRS=EPSG:3857&BBOX=0,"
         "0,1,1&WIDTH=10&HEIGHT=10&I=10&J=0",
         "InvalidPoint", "I and J"},
        {"REQUEST=GetFeatureInfo&LAYERS=a&CRS=EPSG:3857&BBOX=0,0,1,1&WIDTH=10&"
         "HEIGHT=10&I=1&J=1",
         "MissingParameterValue", "QUERY_LAYERS"},
        {"REQUEST=GetFeatureInfo&LAYERS=a&QUERY_LAYERS=a&CRS=EPSG:3857&BBOX=0,"
         "0,1,1&WIDTH=10&HEIGHT=10&I=1&J=1&INFO_FORMAT=text/csv",
         "InvalidFormat", "application/vnd.ogc.gml"},
        {"REQUEST=GetLegendGraphic", "MissingParameterValue", "LAYER"},
        {"REQUEST=GetLegendGraphic&LAYER=heat&FORMAT=image/jpeg",
         "InvalidFormat", "jpeg"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        ht_wms_req w;
        char code[40];
        ht_error err = {0};
        if (parse(cases[k].q, &w, code, &err) != HT_EINVAL ||
            strcmp(code, cases[k].code) != 0 ||
            !strstr(err.msg, cases[k].says)) {
            fail_msg("%s: %s %s", cases[k].q, code, err.msg);
        }
    }
}

static void test_wms_documents(void **state) {
    (void)state;
    char *x = ht_wms_exception(130, "LayerNotDefined", "no style \"a<b\"");
    assert_contains(x, "<ServiceException code=\"LayerNotDefined\">");
    assert_contains(x, "no style &quot;a&lt;b&quot;");
    assert_contains(x, "version=\"1.3.0\"");
    free(x);
    assert_string_equal(ht_wms_exception_type(111),
                        "application/vnd.ogc.se_xml");
    ht_wms_layer layers[2] = {
        {"default", "base & map", NULL, false, false, 1, 1},
        {"heat", "heat", "density", true, true, 360, 78}};
    ht_bbox ll = {116.38, 39.85, 116.45, 39.98};
    ht_bbox boxes[4] = {{12955000, 4845000, 12962000, 4862000},
                        ll,
                        ll,
                        {447000, 4413000, 452000, 4427000}};
    ht_wms_contact who = {"王工", "东城区城市管理指挥中心", "ops@example.cn"};
    char *caps =
        ht_wms_capabilities(130, "http://h:1", layers, 2, ll, boxes, &who);
    /* ContactInformation after the OnlineResource, before the limits */
    const char *ci = strstr(caps, "<ContactInformation>");
    assert_non_null(ci);
    assert_true(ci < strstr(caps, "<LayerLimit>"));
    assert_contains(caps, "<ContactPerson>王工</ContactPerson>");
    assert_contains(caps, "<ContactElectronicMailAddress>ops@example.cn<");
    assert_contains(caps, "<WMS_Capabilities version=\"1.3.0\"");
    assert_contains(caps, "<Name>heat</Name>");
    assert_contains(caps, "<Title>base &amp; map</Title>");
    assert_contains(caps, "<CRS>EPSG:4548</CRS>");
    /* 1.3.0 bounding boxes in each CRS's own axis order. */
    assert_contains(caps,
                    "<BoundingBox CRS=\"EPSG:4326\" minx=\"39.85\" "
                    "miny=\"116.38\"");
    assert_contains(caps,
                    "<BoundingBox CRS=\"EPSG:4548\" minx=\"4413000\" "
                    "miny=\"447000\"");
    assert_contains(caps, "<BoundingBox CRS=\"EPSG:3857\" minx=\"12955000\"");
    assert_contains(caps, "<LegendURL width=\"360\" height=\"78\">");
    assert_contains(caps, "LAYER=heat");
    assert_contains(caps, "<MaxWidth>4096</MaxWidth>");
    assert_contains(caps, "<CRS>CRS:84</CRS>");
    /* Only the layers GetFeatureInfo answers about are queryable; each
     * layer has its own boxes. */
    assert_contains(caps, "<Layer queryable=\"0\">\n        <Name>default");
    assert_contains(caps, "<Layer queryable=\"1\">\n        <Name>heat");
    const char *heat = strstr(caps, "<Name>heat</Name>");
    assert_non_null(heat);
    assert_non_null(strstr(heat, "        <BoundingBox CRS=\"EPSG:3857\""));
    assert_non_null(strstr(heat, "        <EX_GeographicBoundingBox>"));
    assert_contains(caps, "<BoundingBox CRS=\"CRS:84\" minx=\"116.38\"");
    /* GetMap in PNG, JPEG (GDAL's first choice) and WebP */
    assert_contains(caps,
                    "<GetMap>\n        <Format>image/png</Format>\n"
                    "        <Format>image/png; mode=8bit</Format>\n"
                    "        <Format>image/jpeg</Format>\n"
                    "        <Format>image/webp</Format>");
    assert_contains(
        caps,
        "<GetFeatureInfo>\n        <Format>application/json</Format>\n"
        "        <Format>application/vnd.ogc.gml</Format>");
    free(caps);
    caps = ht_wms_capabilities(111, "http://h:1", layers, 2, ll, boxes, NULL);
    assert_null(strstr(caps, "ContactInformation"));
    assert_contains(caps, "<WMT_MS_Capabilities version=\"1.1.1\">");
    assert_contains(caps, "<SRS>EPSG:4326</SRS>");
    assert_contains(caps, "<BoundingBox SRS=\"EPSG:4326\" minx=\"116.38\"");
    assert_contains(caps, "<LatLonBoundingBox");
    free(caps);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wms_getmap_axis_order),
        cmocka_unit_test(test_wms_errors_have_ogc_codes),
        cmocka_unit_test(test_wms_documents),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
