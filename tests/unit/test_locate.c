/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: locate. */
#include <math.h>

#include "hutong/datetime.h"
#include "hutong/locate.h"

#include "ht_test.h"

static void add(ht_locator *l, const char *code, ht_level level, double x,
                double y, double size, int64_t from, int64_t to) {
    ht_geom *g = ts_square(x, y, size);
    ht_grid_rec r = {.code = code,
                     .level = level,
                     .valid_from = from,
                     .valid_to = to,
                     .geom = g};
    assert_int_equal(ht_locator_add_grid(l, &r, NULL), HT_OK);
    ht_geom_free(g);
}

static void test_locate_lowest_level_wins(void **state) {
    (void)state;
    ht_locator *l;
    assert_int_equal(ht_locator_new(30, &l, NULL), HT_OK);
    const int64_t N = HT_TIME_NONE;
    add(l, "D", HT_LEVEL_DISTRICT, 116.0, 39.0, 1.0, N, N);
    add(l, "S1", HT_LEVEL_STREET, 116.0, 39.0, 0.5, N, N);
    add(l, "C1", HT_LEVEL_COMMUNITY, 116.0, 39.0, 0.25, N, N);
    add(l, "G1", HT_LEVEL_GRID, 116.0, 39.0, 0.1, N, N);
    /* An expired version and a current one of the same place. */
    add(l, "G2-old", HT_LEVEL_GRID, 116.1, 39.0, 0.1, N, 1000);
    add(l, "G2-new", HT_LEVEL_GRID, 116.1, 39.0, 0.1, 1000, N);
    assert_int_equal(ht_locator_build(l, NULL), HT_OK);
    assert_string_equal(ht_locator_find_grid(l, 116.05, 39.05, N, -1), "G1");
    assert_string_equal(ht_locator_find_grid(l, 116.2, 39.2, N, -1), "C1");
    assert_string_equal(ht_locator_find_grid(l, 116.3, 39.3, N, -1), "S1");
    assert_string_equal(ht_locator_find_grid(l, 116.9, 39.9, N, -1), "D");
    assert_null(ht_locator_find_grid(l, 117.1, 39.5, N, -1));
    assert_string_equal(
        ht_locator_find_grid(l, 116.05, 39.05, N, HT_LEVEL_STREET), "S1");
    assert_string_equal(ht_locator_find_grid(l, 116.15, 39.05, 500, -1),
                        "G2-old");
    assert_string_equal(ht_locator_find_grid(l, 116.15, 39.05, 2000, -1),
                        "G2-new");
    assert_int_equal(ht_locator_grid_count(l), 6);
    /* Adding after build is refused. */
    ht_error err = {0};
    ht_geom *g = ts_square(0, 0, 1);
    ht_grid_rec r = {.code = "X", .geom = g};
    assert_int_equal(ht_locator_add_grid(l, &r, &err), HT_EINTERNAL);
    ht_geom_free(g);
    ht_locator_free(l);
}

static ht_geom *line(double x0, double y0, double x1, double y1) {
    ht_geom *g = ht_geom_new(HT_GEOM_LINESTRING);
    ht_geom_start_part(g, NULL);
    ht_geom_add_point(g, x0, y0, NULL);
    ht_geom_add_point(g, x1, y1, NULL);
    return g;
}

static void test_locate_nearest_street_within_snap(void **state) {
    (void)state;
    ht_locator *l;
    assert_int_equal(ht_locator_new(30, &l, NULL), HT_OK);
    /* Two east-west streets 100 m apart at Beijing's latitude. */
    double dlat = 100 / 111035.0; /* metres per degree of lat near 39.9 */
    ht_geom *a = line(116.40, 39.90, 116.41, 39.90);
    ht_geom *b = line(116.40, 39.90 + dlat, 116.41, 39.90 + dlat);
    assert_int_equal(ht_locator_add_street(l, 7, a, NULL), HT_OK);
    assert_int_equal(ht_locator_add_street(l, 3, b, NULL), HT_OK);
    ht_geom_free(a);
    ht_geom_free(b);
    assert_int_equal(ht_locator_build(l, NULL), HT_OK);
    double d = -1;
    double m = 1 / 111035.0;
    assert_int_equal(ht_locator_find_street(l, 116.405, 39.90 + 20 * m, 30, &d),
                     7);
    assert_true(fabs(d - 20) < 0.05);
    assert_int_equal(ht_locator_find_street(l, 116.405, 39.90 + 75 * m, 30, &d),
                     3);
    assert_true(fabs(d - 25) < 0.05);
    /* 50 m from both: nothing within 30 m. */
    assert_int_equal(ht_locator_find_street(l, 116.405, 39.90 + 50 * m, 30, &d),
                     -1);
    /* Beyond the end of a segment the distance is to its end point. */
    double mx = 1 / 85390.0; /* metres per degree of lon near 39.9 */
    assert_int_equal(ht_locator_find_street(l, 116.41 + 20 * mx, 39.90, 30, &d),
                     7);
    assert_true(fabs(d - 20) < 0.2);
    /* A smaller snap distance than the build's is honoured. */
    assert_int_equal(ht_locator_find_street(l, 116.405, 39.90 + 20 * m, 10, &d),
                     -1);
    /* Far away. */
    assert_int_equal(ht_locator_find_street(l, 0, 0, 30, &d), -1);
    assert_int_equal(ht_locator_street_count(l), 2);
    ht_locator_free(l);
}

static void test_locate_ties_go_to_the_lower_id(void **state) {
    (void)state;
    ht_locator *l;
    ht_locator_new(30, &l, NULL);
    ht_geom *a = line(116.40, 39.90, 116.41, 39.90);
    ht_locator_add_street(l, 9, a, NULL);
    ht_locator_add_street(l, 4, a, NULL);
    ht_geom_free(a);
    ht_locator_build(l, NULL);
    assert_int_equal(ht_locator_find_street(l, 116.405, 39.9001, 30, NULL), 4);
    ht_locator_free(l);
}

static void test_locate_empty_and_bad(void **state) {
    (void)state;
    ht_locator *l = (ht_locator *)1;
    ht_error err = {0};
    assert_int_equal(ht_locator_new(0, &l, &err), HT_EINVAL);
    assert_null(l);
    assert_int_equal(ht_locator_new(20000, &l, &err), HT_EINVAL);
    assert_int_equal(ht_locator_new(30, &l, &err), HT_OK);
    assert_int_equal(ht_locator_build(l, &err), HT_OK);
    assert_null(ht_locator_find_grid(l, 116.4, 39.9, HT_TIME_NONE, -1));
    assert_int_equal(ht_locator_find_street(l, 116.4, 39.9, 30, NULL), -1);
    ht_locator_free(l);
    ht_locator_free(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_locate_lowest_level_wins),
        cmocka_unit_test(test_locate_nearest_street_within_snap),
        cmocka_unit_test(test_locate_ties_go_to_the_lower_id),
        cmocka_unit_test(test_locate_empty_and_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
