/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: the server's route table and its patterns. */
#include "ht_test.h"
#include "server_int.h"

static void test_routes_patterns(void **state) {
    (void)state;
    char a[HT__ROUTE_ARGS][HT__ROUTE_ARG_SIZE];
    size_t n;
    assert_true(ht__routes_match("/", "/", a, &n) && n == 0);
    assert_true(ht__routes_match("/api/grids", "/api/grids", a, &n) && n == 0);
    assert_false(ht__routes_match("/api/grids", "/api/grids/", a, &n));
    assert_false(ht__routes_match("/api/grids", "/api/gridsx", a, &n));
    assert_true(
        ht__routes_match("/tiles/{style}.json", "/tiles/heat.json", a, &n));
    assert_true(n == 1 && strcmp(a[0], "heat") == 0);
    assert_false(
        ht__routes_match("/tiles/{style}.json", "/tiles/.json", a, &n));
    assert_false(
        ht__routes_match("/tiles/{style}.json", "/tiles/a/b.json", a, &n));
    assert_true(ht__routes_match("/tiles/{s}/{z}/{x}/{y}",
                                 "/tiles/wall/15/26978/12413@2x.png", a, &n));
    assert_true(n == 4 && strcmp(a[0], "wall") == 0 &&
                strcmp(a[3], "12413@2x.png") == 0);
    assert_false(
        ht__routes_match("/tiles/{s}/{z}/{x}/{y}", "/tiles/a/1/2", a, &n));
    assert_true(ht__routes_match("/static/leaflet/{file*}",
                                 "/static/leaflet/images/layers.png", a, &n));
    assert_true(n == 1 && strcmp(a[0], "images/layers.png") == 0);
    assert_false(
        ht__routes_match("/static/leaflet/{file*}", "/static/leaflet/", a, &n));
    /* A capture longer than the room for it matches nothing. */
    char long_path[400] = "/api/grids/";
    memset(long_path + 11, 'x', 300);
    assert_false(ht__routes_match("/api/grids/{code}", long_path, a, &n));
}

static void test_routes_table(void **state) {
    (void)state;
    char a[HT__ROUTE_ARGS][HT__ROUTE_ARG_SIZE];
    int other;
    assert_true(ht__routes_find("GET", "/healthz", a, &other) >= 0);
    assert_true(ht__routes_find("HEAD", "/healthz", a, &other) >= 0);
    /* The same path, another method: none, and the other is named. */
    assert_int_equal(ht__routes_find("POST", "/healthz", a, &other), -1);
    assert_true(other >= 0);
    assert_int_equal(ht__routes_find("GET", "/nowhere", a, &other), -1);
    assert_int_equal(other, -1);
    int get = ht__routes_find("GET", "/api/incidents", a, &other);
    int post = ht__routes_find("POST", "/api/incidents", a, &other);
    assert_true(get >= 0 && post >= 0 && get != post);
    assert_true(ht__routes_find("PATCH", "/api/incidents/42", a, &other) >= 0);
    assert_string_equal(a[0], "42");
    assert_int_equal(ht__routes_find("PUT", "/api/incidents/42", a, &other),
                     -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes_patterns),
        cmocka_unit_test(test_routes_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
