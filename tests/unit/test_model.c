/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: model. */
#include "hutong/model.h"

#include "ht_test.h"

static void test_model_names_round_trip(void **state) {
    (void)state;
    for (int v = 0; v < HT_LEVEL_COUNT; v++) {
        ht_level out;
        assert_int_equal(
            ht_model_level_parse(ht_model_level_name((ht_level)v), &out, NULL),
            HT_OK);
        assert_int_equal(out, v);
    }
    for (int v = 0; v < HT_KIND_COUNT; v++) {
        ht_street_kind out;
        assert_int_equal(ht_model_kind_parse(
                             ht_model_kind_name((ht_street_kind)v), &out, NULL),
                         HT_OK);
        assert_int_equal(out, v);
    }
    for (int v = 0; v < HT_SOURCE_COUNT; v++) {
        ht_source out;
        assert_int_equal(ht_model_source_parse(
                             ht_model_source_name((ht_source)v), &out, NULL),
                         HT_OK);
        assert_int_equal(out, v);
    }
    for (int v = 0; v < HT_STATE_COUNT; v++) {
        ht_state out;
        assert_int_equal(
            ht_model_state_parse(ht_model_state_name((ht_state)v), &out, NULL),
            HT_OK);
        assert_int_equal(out, v);
    }
    assert_string_equal(ht_model_level_name(HT_LEVEL_COUNT), "?");
}

static void test_model_aliases_and_case(void **state) {
    (void)state;
    ht_level l;
    assert_int_equal(ht_model_level_parse(" Street ", &l, NULL), HT_OK);
    assert_int_equal(l, HT_LEVEL_STREET);
    assert_int_equal(ht_model_level_parse("社区", &l, NULL), HT_OK);
    assert_int_equal(l, HT_LEVEL_COMMUNITY);
    ht_source s;
    assert_int_equal(ht_model_source_parse("12345", &s, NULL), HT_OK);
    assert_int_equal(s, HT_SOURCE_HOTLINE);
    ht_state st;
    assert_int_equal(ht_model_state_parse("结案", &st, NULL), HT_OK);
    assert_int_equal(st, HT_STATE_CLOSED);
}

static void test_model_unknown_names_list_choices(void **state) {
    (void)state;
    ht_level l = HT_LEVEL_GRID;
    ht_error err = {0};
    assert_int_equal(ht_model_level_parse("block", &l, &err), HT_EINVAL);
    assert_contains(err.msg, "unknown grid level \"block\"");
    assert_contains(err.msg, "district|street|community|grid");
    assert_int_equal(l, HT_LEVEL_GRID);
    assert_int_equal(ht_model_level_parse(NULL, &l, &err), HT_EINVAL);
    ht_state st;
    assert_int_equal(ht_model_state_parse("open", &st, &err), HT_EINVAL);
    assert_contains(err.msg, "reported|dispatched|handling|closed|evaluated");
}

static void test_model_kind_from_name(void **state) {
    (void)state;
    assert_int_equal(ht_model_kind_from_name("菊儿胡同"), HT_KIND_HUTONG);
    assert_int_equal(ht_model_kind_from_name("东四十条"), HT_KIND_HUTONG);
    assert_int_equal(ht_model_kind_from_name("南锣鼓巷"), HT_KIND_ALLEY);
    assert_int_equal(ht_model_kind_from_name("东四北大街"), HT_KIND_STREET);
    assert_int_equal(ht_model_kind_from_name("天坛路"), HT_KIND_ROAD);
    assert_int_equal(ht_model_kind_from_name("天坛"), HT_KIND_OTHER);
    assert_int_equal(ht_model_kind_from_name(NULL), HT_KIND_OTHER);
    assert_int_equal(ht_model_kind_from_name(""), HT_KIND_OTHER);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_names_round_trip),
        cmocka_unit_test(test_model_aliases_and_case),
        cmocka_unit_test(test_model_unknown_names_list_choices),
        cmocka_unit_test(test_model_kind_from_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
