/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: ogcapi (CRS URIs, datetime, bbox). */
#include <stdint.h>

#include "hutong/datetime.h"
#include "hutong/ogcapi.h"

#include "ht_test.h"

static void test_ogcapi_crs(void **state) {
    (void)state;
    const ht_ogc_crs *c = ht_ogc_crs_find(HT_OGC_CRS84);
    assert_non_null(c);
    assert_string_equal(c->name, "EPSG:4326");
    assert_false(c->north_first);
    c = ht_ogc_crs_find("http://www.opengis.net/def/crs/EPSG/0/4490");
    assert_non_null(c);
    assert_string_equal(c->name, "EPSG:4490");
    assert_true(c->north_first);
    assert_ptr_equal(ht_ogc_crs_find("[EPSG:4490]"), c);
    assert_ptr_equal(ht_ogc_crs_find("epsg:4490"), c);
    c = ht_ogc_crs_find("http://www.opengis.net/def/crs/EPSG/0/4548");
    assert_true(c && c->north_first);
    c = ht_ogc_crs_find("http://www.opengis.net/def/crs/EPSG/0/3857");
    assert_true(c && !c->north_first);
    /* EPSG:4326 by its URI is latitude first; CRS84 is not */
    assert_true(ht_ogc_crs_find("EPSG:4326")->north_first);
    assert_false(ht_ogc_crs_find("CRS84")->north_first);
    assert_null(ht_ogc_crs_find("http://www.opengis.net/def/crs/EPSG/0/2000"));
    assert_null(ht_ogc_crs_find("EPSG:43"));
    assert_null(ht_ogc_crs_find(""));
    assert_null(ht_ogc_crs_find("[]"));
    assert_null(ht_ogc_crs_find(NULL));
}

static void test_ogcapi_datetime(void **state) {
    (void)state;
    int64_t from, to, t;
    ht_datetime_parse("2026-11-01T08:00:00Z", 0, &t, NULL);
    /* an instant: its second */
    assert_int_equal(ht_ogc_datetime("2026-11-01T08:00:00Z", &from, &to, NULL),
                     HT_OK);
    assert_true(from == t && to == t + 1);
    /* a date: its day */
    assert_int_equal(ht_ogc_datetime("2026-11-01", &from, &to, NULL), HT_OK);
    assert_true(from == t - 8 * 3600 && to == from + 86400);
    /* closed intervals, the end's second or day included; open ends */
    assert_int_equal(
        ht_ogc_datetime("2026-11-01T08:00:00Z/2026-11-02", &from, &to, NULL),
        HT_OK);
    assert_true(from == t && to == t - 8 * 3600 + 2 * 86400);
    assert_int_equal(
        ht_ogc_datetime("../2026-11-01T08:00:00+08:00", &from, &to, NULL),
        HT_OK);
    assert_true(from == INT64_MIN && to == t - 8 * 3600 + 1);
    assert_int_equal(ht_ogc_datetime("2026-11-01T08:00:00Z/", &from, &to, NULL),
                     HT_OK);
    assert_true(from == t && to == INT64_MAX);
    /* bad: nothing, reversed, a local time, three parts, junk */
    static const char *const bad[] = {"",
                                      "..",
                                      "2026-11-02/2026-11-01",
                                      "2026-11-01T08:00:00",
                                      "a/b/c",
                                      "2026-13-01",
                                      "yesterday"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        ht_error err = {0};
        from = to = 7;
        if (ht_ogc_datetime(bad[k], &from, &to, &err) != HT_EINVAL ||
            !strstr(err.msg, "datetime") || from != 7 || to != 7) {
            fail_msg("\"%s\": %s", bad[k], err.msg);
        }
    }
}

static void test_ogcapi_bbox(void **state) {
    (void)state;
    double v[4];
    assert_int_equal(ht_ogc_bbox("116.38,39.85,116.45,39.98", v, NULL), HT_OK);
    assert_true(v[0] == 116.38 && v[1] == 39.85 && v[2] == 116.45 &&
                v[3] == 39.98);
    /* six numbers: the heights left out */
    assert_int_equal(ht_ogc_bbox("1,2,0,3,4,100", v, NULL), HT_OK);
    assert_true(v[0] == 1 && v[1] == 2 && v[2] == 3 && v[3] == 4);
    static const char *const bad[] = {
        "1,2,3",  "1,2,3,4,5", "1,2,3,x", "3,2,1,4",   "1,4,3,2",
        "1,,3,4", "1,2,3,4,",  "",        "nan,2,3,4", "1,2,3,4,5,6,7"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        ht_error err = {0};
        if (ht_ogc_bbox(bad[k], v, &err) != HT_EINVAL ||
            !strstr(err.msg, "bbox")) {
            fail_msg("\"%s\"", bad[k]);
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ogcapi_crs),
        cmocka_unit_test(test_ogcapi_datetime),
        cmocka_unit_test(test_ogcapi_bbox),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
