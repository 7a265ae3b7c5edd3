/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: style. */
#include <math.h>

#include "hutong/style.h"

#include "ht_test.h"

/* A feature for expressions: a few fixed properties. */
typedef struct feat {
    const char *level;
    const char *name;
    double severity;
} feat;

static bool get(const void *f, const char *name, ht_value *out) {
    const feat *x = f;
    if (strcmp(name, "level") == 0 && x->level) {
        *out = (ht_value){.type = HT_VAL_STRING, .s = x->level};
        return true;
    }
    if (strcmp(name, "name") == 0 && x->name) {
        *out = (ht_value){.type = HT_VAL_STRING, .s = x->name};
        return true;
    }
    if (strcmp(name, "severity") == 0) {
        *out = (ht_value){.type = HT_VAL_NUMBER, .n = x->severity};
        return true;
    }
    return false;
}

static ht_style *load(const char *json) {
    ht_style *s = NULL;
    ht_error err = {0};
    if (ht_style_load_json("t.json", json, strlen(json), &s, &err) != HT_OK) {
        fail_msg("%s", err.msg);
    }
    return s;
}

static bool near(double a, double b) {
    return fabs(a - b) < 1e-9;
}

static void test_style_colors(void **state) {
    (void)state;
    ht_rgba c;
    assert_int_equal(ht_style_parse_color("#f00", &c, NULL), HT_OK);
    assert_true(near(c.r, 1) && near(c.g, 0) && near(c.a, 1));
    assert_int_equal(ht_style_parse_color("#11223380", &c, NULL), HT_OK);
    assert_true(near(c.r, 0x11 / 255.0) && near(c.a, 0x80 / 255.0));
    assert_int_equal(ht_style_parse_color("rgba(255, 0, 0, 0.5)", &c, NULL),
                     HT_OK);
    assert_true(near(c.r, 1) && near(c.a, 0.5));
    assert_int_equal(ht_style_parse_color("hsl(120, 100%, 50%)", &c, NULL),
                     HT_OK);
    assert_true(near(c.g, 1) && near(c.r, 0));
    assert_int_equal(ht_style_parse_color("transparent", &c, NULL), HT_OK);
    assert_true(near(c.a, 0));
    ht_error err = {0};
    const char *bad[] = {"",         "#12",          "#ggg",
                         "rgb(1,2)", "rgb(300,0,0)", "rgba(1,2,3)",
                         "blurple",  "rgb(1,2,3) x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(ht_style_parse_color(bad[i], &c, &err), HT_EINVAL);
    }
}

static void test_style_expressions(void **state) {
    (void)state;
    ht_style *s = load(
        "{\"version\":8,\"layers\":["
        "{\"id\":\"a\",\"type\":\"line\",\"source\":\"grids\","
        " \"filter\":[\"all\",[\"==\",[\"get\",\"level\"],\"grid\"],"
        "  [\">=\",[\"zoom\"],10]],"
        " \"paint\":{\"line-width\":[\"interpolate\",[\"linear\"],[\"zoom\"],"
        "   10,1,20,11],"
        "  \"line-opacity\":[\"interpolate\",[\"exponential\",2],[\"zoom\"],"
        "   0,0,2,1],"
        "  \"line-color\":[\"match\",[\"get\",\"severity\"],3,\"#ff0000\","
        "   [1,2],\"#00ff00\",\"#0000ff\"],"
        "  \"line-dasharray\":[4,2]},"
        " \"layout\":{\"line-cap\":\"round\"}},"
        "{\"id\":\"b\",\"type\":\"symbol\",\"source\":\"streets\","
        " \"filter\":[\"in\",\"level\",\"street\",\"grid\"],"
        " \"layout\":{\"text-field\":\"{name} ({level})\","
        "  \"text-size\":[\"step\",[\"zoom\"],10,14,12,16,14]},"
        " \"paint\":{\"text-color\":[\"case\",[\"has\",\"name\"],\"#111\","
        "  \"#999\"]}}]}");
    const ht_style_layer *a = ht_style_layer_at(s, 0),
                         *b = ht_style_layer_at(s, 1);
    feat g = {"grid", "菊儿胡同", 3}, st = {"street", NULL, 1};
    assert_true(ht_style_filter(a, 12, get, &g));
    assert_false(ht_style_filter(a, 9, get, &g));
    assert_false(ht_style_filter(a, 12, get, &st));
    assert_true(near(ht_style_number(a, HT_P_LINE_WIDTH, 15, get, &g), 6));
    assert_true(near(ht_style_number(a, HT_P_LINE_WIDTH, 5, get, &g), 1));
    assert_true(near(ht_style_number(a, HT_P_LINE_WIDTH, 25, get, &g), 11));
    /* exponential base 2 between 0 and 2: (2^1 - 1) / (2^2 - 1) = 1/3 */
    assert_true(
        near(ht_style_number(a, HT_P_LINE_OPACITY, 1, NULL, NULL), 1.0 / 3));
    assert_true(a->zoom_only[HT_P_LINE_WIDTH]);
    assert_false(a->zoom_only[HT_P_LINE_COLOR]);
    ht_rgba c = ht_style_color(a, HT_P_LINE_COLOR, 12, get, &g);
    assert_true(near(c.r, 1) && near(c.b, 0));
    c = ht_style_color(a, HT_P_LINE_COLOR, 12, get, &st);
    assert_true(near(c.g, 1));
    g.severity = 7;
    c = ht_style_color(a, HT_P_LINE_COLOR, 12, get, &g);
    assert_true(near(c.b, 1));
    double dash[4];
    assert_int_equal(ht_style_numbers(a, HT_P_LINE_DASHARRAY, 12, dash, 4), 2);
    assert_true(near(dash[0], 4) && near(dash[1], 2));
    char buf[256];
    assert_string_equal(
        ht_style_string(a, HT_P_LINE_CAP, 12, NULL, NULL, buf, sizeof buf),
        "round");
    assert_string_equal(
        ht_style_string(a, HT_P_LINE_JOIN, 12, NULL, NULL, buf, sizeof buf),
        "miter"); /* the default */
    /* legacy "in" filter, token text, step, case/has */
    assert_true(ht_style_filter(b, 12, get, &st));
    feat other = {"community", "x", 1};
    assert_false(ht_style_filter(b, 12, get, &other));
    assert_string_equal(
        ht_style_string(b, HT_P_TEXT_FIELD, 12, get, &g, buf, sizeof buf),
        "菊儿胡同 (grid)");
    assert_true(near(ht_style_number(b, HT_P_TEXT_SIZE, 13, NULL, NULL), 10));
    assert_true(near(ht_style_number(b, HT_P_TEXT_SIZE, 14, NULL, NULL), 12));
    assert_true(near(ht_style_number(b, HT_P_TEXT_SIZE, 18, NULL, NULL), 14));
    c = ht_style_color(b, HT_P_TEXT_COLOR, 12, get, &st);
    assert_true(near(c.r, 0x99 / 255.0));
    assert_true(ht_style_layer_visible(a, 0));
    assert_string_equal(ht_style_name(s), "t");
    ht_style_unref(ht_style_ref(s));
    ht_style_unref(s);
}

static void test_style_rejects_bad_styles(void **state) {
    (void)state;
    static const struct {
        const char *json, *want;
    } bad[] = {
        {"{\"layers\":[", "malformed JSON"},
        {"{\"layers\":[]}", "layers: a style needs a non-empty"},
        {"{\"layers\":[{\"id\":\"a\",\"type\":\"raster\"}]}",
         "layers[0].type: unknown layer type \"raster\""},
        {"{\"layers\":[{\"id\":\"a\",\"type\":\"line\",\"source\":\"x\"}]}",
         "layers[0].source: source must be"},
        {"{\"layers\":[{\"id\":\"a\",\"type\":\"line\",\"source\":\"grids\","
         "\"paint\":{\"line-colour\":\"red\"}}]}",
         "layers[0].paint.line-colour: unknown property"},
        {"{\"layers\":[{\"id\":\"a\",\"type\":\"line\",\"source\":\"grids\","
         "\"paint\":{\"fill-color\":\"red\"}}]}",
         "layers[0].paint.fill-color: not a paint property of a line layer"},
        {"{\"layers\":[{\"id\":\"a\",\"type\":\"line\",\"source\":\"grids\","
         "\"paint\":{\"line-color\":\"#12345\"}}]}",
         "layers[0].paint.line-color: \"#12345\" is not a colour"},
        {"{\"layers\":[{\"id\":\"a\",\"type\":\"line\",\"source\":\"grids\","
         "\"paint\":{\"line-width\":\"wide\"}}]}",
         "layers[0].paint.line-width: expected a number"},
        {"{\"layers\":[{\"id\":\"a\",\"type\":\"line\",\"source\":\"grids\","
         "\"layout\":{\"line-cap\":\"pointy\"}}]}",
         "layers[0].layout.line-cap: expected one of butt|round|square"},
        {"{\"layers\":[{\"id\":\"a\",\"type\":\"line\",\"source\":\"grids\","
         "\"paint\":{\"line-width\":[\"interpolate\",[\"linear\"],[\"zoom\"],"
         "10,1,5,2]}}]}",
         "ascending order"},
        {"{\"layers\":[{\"id\":\"a\",\"type\":\"line\",\"source\":\"grids\","
         "\"paint\":{\"line-width\":[\"frobnicate\",1]}}]}",
         "layers[0].paint.line-width: unknown expression \"frobnicate\""},
        {"{\"layers\":[{\"id\":\"a\",\"type\":\"line\",\"source\":\"grids\","
         "\"paint\":{\"line-color\":[\"match\",[\"get\",\"k\"],\"a\","
         "\"red\",\"nope\"]}}]}",
         "layers[0].paint.line-color[4]: \"nope\" is not a colour"},
        {"{\"layers\":[{\"id\":\"a\",\"type\":\"line\",\"source\":\"grids\","
         "\"paint\":{\"line-dasharray\":[\"get\",\"d\"]}}]}",
         "cannot depend on feature properties"},
        {"{\"layers\":[{\"id\":\"a\",\"type\":\"line\",\"source\":\"grids\","
         "\"minzoom\":30}]}",
         "layers[0].minzoom: expected a number in 0..24"},
        {"{\"layers\":[{\"id\":\"a\",\"type\":\"background\"},{\"id\":\"a\","
         "\"type\":\"background\"}]}",
         "layers[1]: layer id \"a\" is used twice"},
        {"{\"layers\":[{\"id\":\"a\",\"type\":\"background\","
         "\"sauce\":1}]}",
         "layers[0].sauce: unknown layer member"},
        {"{\"version\":7,\"layers\":[{\"id\":\"a\",\"type\":\"background\"}]}",
         "version: only version 8"},
        {"{\"layers\":[{\"id\":\"h\",\"type\":\"heatmap\",\"source\":"
         "\"grids\"}]}",
         "layers[0].source: this layer type reads \"incidents\""},
        {"{\"layers\":[{\"id\":\"h\",\"type\":\"heatmap\",\"source\":"
         "\"incidents\",\"paint\":{\"heatmap-radius\":[\"zoom\"]}}]}",
         "heatmap-radius: expected a number of metres"},
        {"{\"layers\":[{\"id\":\"h\",\"type\":\"hotspot\",\"source\":"
         "\"grids\",\"paint\":{\"hotspot-colors\":[\"#fff\"]}}]}",
         "hotspot-colors: expected 7 colours"},
        {"{\"layers\":[{\"id\":\"c\",\"type\":\"choropleth\",\"source\":"
         "\"grids\",\"paint\":{\"choropleth-classes\":\"fixed\","
         "\"choropleth-breaks\":[1,2]}}]}",
         "fixed classes need one break fewer than colours"},
        {"{\"layers\":[{\"id\":\"c\",\"type\":\"choropleth\",\"source\":"
         "\"grids\",\"paint\":{\"choropleth-metric\":\"mean\"}}]}",
         "expected one of count|density|rate|change"},
        {"{\"layers\":[{\"id\":\"a\",\"type\":\"fill\",\"source\":\"grids\","
         "\"filter\":[\"==\",[\"get\",\"level\"]]}]}",
         "layers[0].filter: \"==\" takes 2 arguments"},
        /* Found by fuzzing: a legacy filter of the wrong arity leaked its
         * key (the sanitizer build fails on a leak). */
        {"{\"layers\":[{\"id\":\"a\",\"type\":\"fill\",\"source\":\"grids\","
         "\"filter\":[\"==\",\"==\",[\"get\",\"level\"],\"street\"]}]}",
         "takes a key and a value"},
        {"{\"layers\":[{\"id\":\"a\",\"type\":\"fill\",\"source\":\"grids\","
         "\"filter\":[\"!in\",\"kind\",[\"zoom\"],[1]]}]}",
         "layers[0].filter"}, /* a layer's own legend */
        {"{\"layers\":[{\"id\":\"a\",\"type\":\"circle\",\"source\":"
         "\"incidents\",\"metadata\":{\"hutong:legend\":{\"title\":\"t\","
         "\"property\":\"p\",\"stops\":[0,24,24]}}}]}",
         "layers[0].metadata.hutong:legend: stops must be rising numbers"},
        {"{\"layers\":[{\"id\":\"a\",\"type\":\"circle\",\"source\":"
         "\"incidents\",\"metadata\":{\"hutong:legend\":{\"title\":\"t\","
         "\"stops\":[0,1]}}}]}",
         "layers[0].metadata.hutong:legend: expected {\"title\": text"},
        {"{\"layers\":[{\"id\":\"a\",\"type\":\"circle\",\"source\":"
         "\"incidents\",\"metadata\":{\"hutong:legend\":{\"title\":\"t\","
         "\"property\":\"p\",\"stops\":[0,1],\"size\":{\"values\":[1]}}}}]}",
         "\"size\" is {\"property\": name"},
        {"{\"layers\":[{\"id\":\"a\",\"type\":\"fill\",\"source\":\"grids\","
         "\"metadata\":{\"hutong:legend\":{\"title\":\"t\",\"stops\":[0,1]}}}]"
         "}",
         "a layer other than a circle layer takes only {\"title\": text}"},
        {"{\"metadata\":{\"hutong:density-grids\":\"later\"},\"layers\":"
         "[{\"id\":\"h\",\"type\":\"heatmap\",\"source\":\"incidents\"}]}",
         "metadata.hutong:density-grids: \"at-start\" or \"on-demand\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ht_style *s = (ht_style *)1;
        ht_error err = {0};
        assert_int_equal(ht_style_load_json("bad.json", bad[i].json,
                                            strlen(bad[i].json), &s, &err),
                         HT_EINVAL);
        assert_null(s);
        assert_contains(err.msg, "bad.json");
        assert_contains(err.msg, bad[i].want);
    }
}

static void test_style_shipped_styles_load(void **state) {
    (void)state;
    const char *dir = getenv("HUTONG_STYLES");
    assert_non_null(dir);
    const char *names[] = {"default", "wall",       "print",      "grids",
                           "heat",    "streetheat", "choropleth", "hotspots"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s.json", dir, names[i]);
        ht_style *s = NULL;
        ht_error err = {0};
        if (ht_style_load_file(path, &s, &err) != HT_OK) {
            fail_msg("%s", err.msg);
        }
        assert_string_equal(ht_style_name(s), names[i]);
        assert_true(ht_style_layer_count(s) > 0);
        assert_false(ht_style_grids_on_demand(s));
        ht_style_unref(s);
    }
    /* The monthly report's 400 m heat: its grids per class on demand. */
    char path[1024];
    snprintf(path, sizeof path, "%s/report-heat.json", dir);
    ht_style *s = NULL;
    assert_int_equal(ht_style_load_file(path, &s, NULL), HT_OK);
    assert_true(ht_style_grids_on_demand(s));
    ht_style_unref(s);
}

/* A labels style takes the symbol layers of its base, nothing else; a
 * base that is not shipped, or layers of its own beside it, are refused. */
static void test_style_labels_of(void **state) {
    (void)state;
    ht_style *base, *lab;
    assert_int_equal(ht_style_load("wall", &base, NULL), HT_OK);
    assert_int_equal(ht_style_load("wall-labels", &lab, NULL), HT_OK);
    size_t symbols = 0;
    for (size_t i = 0; i < ht_style_layer_count(base); i++) {
        symbols += ht_style_layer_at(base, i)->type == HT_LAYER_SYMBOL;
    }
    assert_true(symbols > 0);
    assert_int_equal(ht_style_layer_count(lab), symbols);
    for (size_t i = 0; i < ht_style_layer_count(lab); i++) {
        assert_int_equal(ht_style_layer_at(lab, i)->type, HT_LAYER_SYMBOL);
    }
    assert_string_equal(ht_style_name(lab), "wall-labels");
    ht_style_unref(base);
    ht_style_unref(lab);
    const char *bad[] = {
        "{\"version\":8,\"metadata\":{\"hutong:labels-of\":\"nope\"}}",
        "{\"version\":8,\"metadata\":{\"hutong:labels-of\":\"../x\"}}",
        ("{\"version\":8,\"metadata\":{\"hutong:labels-of\":\"wall\"},"
         "\"layers\":[{\"id\":\"b\",\"type\":\"background\"}]}"),
        "{\"version\":8,\"metadata\":{\"hutong:labels-of\":\"heat\"}}",
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        ht_error err = {0};
        ht_style *s = (ht_style *)1;
        assert_int_equal(
            ht_style_load_json("t", bad[k], strlen(bad[k]), &s, &err),
            HT_EINVAL);
        assert_null(s);
        assert_true(err.msg[0] != '\0');
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_style_colors),
        cmocka_unit_test(test_style_expressions),
        cmocka_unit_test(test_style_rejects_bad_styles),
        cmocka_unit_test(test_style_shipped_styles_load),
        cmocka_unit_test(test_style_labels_of),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
