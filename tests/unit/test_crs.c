/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: crs. */
#include <math.h>

#include "hutong/crs.h"

#include "ht_test.h"

static void test_crs_gcj02_published_vector(void **state) {
    (void)state;
    /* The widely published eviltransform test vector (DOMAIN.md section 3):
     * WGS 84 (39.911954 N, 116.377817 E) -> GCJ-02 (39.91334545536069,
     * 116.38404722455657). */
    double lon, lat;
    ht_crs_wgs84_to_gcj02(116.377817, 39.911954, &lon, &lat);
    assert_true(fabs(lon - 116.38404722455657) < 1e-9);
    assert_true(fabs(lat - 39.91334545536069) < 1e-9);
    ht_crs_gcj02_to_wgs84(116.38404722455657, 39.91334545536069, &lon, &lat);
    assert_true(ts_dist_m(lon, lat, 116.377817, 39.911954) < 0.01);
}

static void test_crs_round_trips_below_a_centimetre(void **state) {
    (void)state;
    double worst_gcj = 0, worst_bd = 0;
    for (double lat = 18.5; lat < 53; lat += 1.7) {
        for (double lon = 74; lon < 134; lon += 2.3) {
            double g1, g2, w1, w2, b1, b2, c1, c2;
            ht_crs_wgs84_to_gcj02(lon, lat, &g1, &g2);
            ht_crs_gcj02_to_wgs84(g1, g2, &w1, &w2);
            worst_gcj = fmax(worst_gcj, ts_dist_m(lon, lat, w1, w2));
            ht_crs_gcj02_to_bd09(g1, g2, &b1, &b2);
            ht_crs_bd09_to_gcj02(b1, b2, &c1, &c2);
            worst_bd = fmax(worst_bd, ts_dist_m(g1, g2, c1, c2));
            /* Inside China the offset is never zero. */
            assert_true(ts_dist_m(lon, lat, g1, g2) > 1);
        }
    }
    assert_true(worst_gcj < 0.01);
    assert_true(worst_bd < 0.01);
}

static void test_crs_bd09_known_offset(void **state) {
    (void)state;
    /* Tiananmen: GCJ-02 (116.3975, 39.9087) is about (116.404, 39.915) in
     * Baidu's BD-09, the often quoted pair. */
    double lon, lat;
    ht_crs_gcj02_to_bd09(116.3975, 39.9087, &lon, &lat);
    assert_true(fabs(lon - 116.404) < 0.0005);
    assert_true(fabs(lat - 39.915) < 0.0005);
}

static void test_crs_outside_china_is_identity(void **state) {
    (void)state;
    double lon, lat;
    ht_crs_wgs84_to_gcj02(2.3522, 48.8566, &lon, &lat); /* Paris */
    assert_true(lon == 2.3522 && lat == 48.8566);
    ht_crs_gcj02_to_wgs84(-74.006, 40.7128, &lon, &lat);
    assert_true(lon == -74.006 && lat == 40.7128);
    assert_true(ht_crs_outside_china(139.69, 35.69)); /* Tokyo */
    assert_false(ht_crs_outside_china(116.39, 39.9));
}

static void test_crs_normalize(void **state) {
    (void)state;
    char out[HT_CRS_NAME_SIZE];
    static const struct {
        const char *in, *out;
    } ok[] = {{"EPSG:4326", "EPSG:4326"}, {"epsg:3857", "EPSG:3857"},
              {"4548", "EPSG:4548"},      {"wgs84", "EPSG:4326"},
              {"CGCS2000", "EPSG:4490"},  {"GCJ-02", "gcj02"},
              {"bd09", "bd09"},           {"esri:102100", "ESRI:102100"}};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        assert_int_equal(ht_crs_normalize(ok[i].in, out, NULL), HT_OK);
        assert_string_equal(out, ok[i].out);
    }
    const char *bad[] = {"",           "EPSG:",      ":4326",
                         "EPSG:43 26", "+proj=merc", "EPSG:4326;drop"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ht_error err = {0};
        assert_int_equal(ht_crs_normalize(bad[i], out, &err), HT_EINVAL);
    }
}

static ht_transform *tf(const char *src, const char *dst) {
    ht_transform *t = NULL;
    ht_error err = {0};
    if (ht_crs_transform_new(src, dst, &t, &err) != HT_OK) {
        fail_msg("%s -> %s: %s", src, dst, err.msg);
    }
    return t;
}

static void test_crs_proj_axis_order_is_xy(void **state) {
    (void)state;
    /* EPSG:4548 (CGCS2000 / 3-degree GK CM 117E) is northing,easting in its
     * EPSG definition; hutong always works in easting,northing. */
    ht_transform *fwd = tf("EPSG:4326", "EPSG:4548");
    double x, y;
    assert_int_equal(ht_crs_transform_point(fwd, 117.0, 39.9, &x, &y, NULL),
                     HT_OK);
    assert_true(fabs(x - 500000) < 0.001);
    assert_true(y > 4400000 && y < 4430000);
    double x2, y2;
    assert_int_equal(ht_crs_transform_point(fwd, 116.39, 39.9, &x2, &y2, NULL),
                     HT_OK);
    assert_true(x2 < 500000); /* west of the central meridian */
    ht_transform *inv = tf("EPSG:4548", NULL);
    double lon, lat;
    assert_int_equal(ht_crs_transform_point(inv, x2, y2, &lon, &lat, NULL),
                     HT_OK);
    assert_true(ts_dist_m(lon, lat, 116.39, 39.9) < 0.001);
    ht_crs_transform_free(fwd);
    ht_crs_transform_free(inv);
    /* EPSG:4326 itself is lat,lon in EPSG: still x = lon here. */
    ht_transform *merc = tf("EPSG:4326", "EPSG:3857");
    assert_int_equal(ht_crs_transform_point(merc, 116.39, 39.9, &x, &y, NULL),
                     HT_OK);
    assert_true(fabs(x - 116.39 * 20037508.342789244 / 180) < 0.01);
    ht_crs_transform_free(merc);
}

static void test_crs_round_trip_epsg(void **state) {
    (void)state;
    const char *crss[] = {"EPSG:3857", "EPSG:4490", "EPSG:4548", "gcj02",
                          "bd09"};
    for (size_t i = 0; i < sizeof crss / sizeof *crss; i++) {
        ht_transform *fwd = tf(NULL, crss[i]), *inv = tf(crss[i], NULL);
        for (double lat = 39.85; lat < 39.98; lat += 0.013) {
            for (double lon = 116.37; lon < 116.45; lon += 0.011) {
                double x, y, lo, la;
                assert_int_equal(
                    ht_crs_transform_point(fwd, lon, lat, &x, &y, NULL), HT_OK);
                assert_int_equal(
                    ht_crs_transform_point(inv, x, y, &lo, &la, NULL), HT_OK);
                assert_true(ts_dist_m(lo, la, lon, lat) < 0.01);
            }
        }
        ht_crs_transform_free(fwd);
        ht_crs_transform_free(inv);
    }
    /* CGCS2000 loads as WGS 84 (same to well under a metre at map scale). */
    ht_transform *c = tf("EPSG:4490", NULL);
    double lon, lat;
    ht_crs_transform_point(c, 116.4, 39.9, &lon, &lat, NULL);
    assert_true(ts_dist_m(lon, lat, 116.4, 39.9) < 1);
    ht_crs_transform_free(c);
}

static void test_crs_rejects_bad_input(void **state) {
    (void)state;
    ht_transform *t = (ht_transform *)1;
    ht_error err = {0};
    assert_int_equal(ht_crs_transform_new("EPSG:999999", NULL, &t, &err),
                     HT_EINVAL);
    assert_null(t);
    assert_contains(err.msg, "unknown CRS \"EPSG:999999\"");
    assert_int_equal(ht_crs_transform_new("nonsense!", NULL, &t, &err),
                     HT_EINVAL);
    /* Outside the area of use, the output is left alone. */
    t = tf("EPSG:4548", NULL);
    double x = 7, y = 7;
    ht_transform *fwd = tf(NULL, "EPSG:3857");
    double gx, gy;
    ht_crs_transform_point(fwd, 0, 0, &gx, &gy, NULL);
    ht_transform *k = tf(NULL, "EPSG:4548");
    double ex, ey;
    /* Far east of zone 39 (115.5..118.5 E): rejected when read back. */
    ht_crs_transform_point(k, 121.0, 39.9, &ex, &ey, NULL);
    assert_int_equal(ht_crs_transform_point(t, ex, ey, &x, &y, &err),
                     HT_EINVAL);
    assert_contains(err.msg, "outside the area of use of EPSG:4548");
    assert_true(x == 7 && y == 7);
    ht_crs_transform_free(k);
    ht_crs_transform_free(fwd);
    ht_crs_transform_free(t);
    t = tf(NULL, NULL);
    assert_true(ht_crs_transform_is_identity(t));
    assert_int_equal(ht_crs_transform_point(t, 116, 95, &x, &y, &err),
                     HT_EINVAL);
    assert_contains(err.msg, "outside the area of use of EPSG:4326");
    assert_int_equal(ht_crs_transform_point(t, NAN, 1, &x, &y, &err),
                     HT_EINVAL);
    ht_point pts[3] = {{116, 39}, {117, 40}, {200, 40}};
    assert_int_equal(ht_crs_transform_points(t, pts, 3, &err), HT_EINVAL);
    assert_contains(err.msg, "vertex 2");
    ht_crs_transform_free(t);
    t = tf("EPSG:3857", NULL);
    assert_int_equal(ht_crs_transform_point(t, 0, 3.0e7, &x, &y, &err),
                     HT_EINVAL);
    ht_crs_transform_free(t);
    ht_crs_transform_free(NULL);
}

static void test_crs_points_in_place(void **state) {
    (void)state;
    ht_transform *t = tf("gcj02", NULL);
    ht_point pts[2] = {{116.38404722455657, 39.91334545536069}, {2, 48}};
    assert_int_equal(ht_crs_transform_points(t, pts, 2, NULL), HT_OK);
    assert_true(ts_dist_m(pts[0].x, pts[0].y, 116.377817, 39.911954) < 0.01);
    assert_true(pts[1].x == 2 && pts[1].y == 48);
    ht_crs_transform_free(t);
}

static void test_crs_axis_order(void **state) {
    (void)state;
    const struct {
        const char *crs;
        bool north;
    } cases[] = {{"EPSG:4326", true},   {"EPSG:4490", true},
                 {"EPSG:4548", true},   {"EPSG:3857", false},
                 {"EPSG:32650", false}, {"gcj02", false}};
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        bool north = !cases[k].north;
        assert_int_equal(ht_crs_north_first(cases[k].crs, &north, NULL), HT_OK);
        assert_int_equal(north, cases[k].north);
    }
    bool b;
    ht_error err = {0};
    assert_int_equal(ht_crs_north_first("EPSG:999999", &b, &err), HT_EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crs_axis_order),
        cmocka_unit_test(test_crs_gcj02_published_vector),
        cmocka_unit_test(test_crs_round_trips_below_a_centimetre),
        cmocka_unit_test(test_crs_bd09_known_offset),
        cmocka_unit_test(test_crs_outside_china_is_identity),
        cmocka_unit_test(test_crs_normalize),
        cmocka_unit_test(test_crs_proj_axis_order_is_xy),
        cmocka_unit_test(test_crs_round_trip_epsg),
        cmocka_unit_test(test_crs_rejects_bad_input),
        cmocka_unit_test(test_crs_points_in_place),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
