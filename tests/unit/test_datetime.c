/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: datetime. */
#include "hutong/datetime.h"

#include "ht_test.h"

static int64_t parse_ok(const char *s) {
    int64_t t = 0;
    ht_error err = {0};
    if (ht_datetime_parse(s, 0, &t, &err) != HT_OK) {
        fail_msg("%s: %s", s, err.msg);
    }
    return t;
}

static void test_datetime_accepted_forms(void **state) {
    (void)state;
    /* 2024-03-01T12:00:00Z = 1709294400 */
    assert_int_equal(parse_ok("2024-03-01T12:00:00Z"), 1709294400);
    assert_int_equal(parse_ok("2024-03-01T12:00Z"), 1709294400);
    assert_int_equal(parse_ok("2024-03-01 20:00:00+08:00"), 1709294400);
    assert_int_equal(parse_ok("2024-03-01T20:00:00+0800"), 1709294400);
    assert_int_equal(parse_ok("2024-03-01T20:00:00+08"), 1709294400);
    assert_int_equal(parse_ok("2024-03-01T07:30:00-04:30"), 1709294400);
    assert_int_equal(parse_ok("2024-03-01T12:00:00.987Z"), 1709294400);
    assert_int_equal(parse_ok("2024-03-01"), 1709251200);
    assert_int_equal(parse_ok("  2024-03-01  "), 1709251200);
    assert_int_equal(parse_ok("2024-02-29"), 1709164800);
    assert_int_equal(parse_ok("1970-01-01T00:00:00Z"), 0);
    assert_int_equal(parse_ok("1969-12-31T23:59:59Z"), -1);
}

static void test_datetime_refusals_name_the_reason(void **state) {
    (void)state;
    static const struct {
        const char *in, *why;
    } bad[] = {{"2024-03-01T12:00:00", "no time zone"},
               {"2023-02-29", "not a valid date"},
               {"2024-13-01", "not a valid date"},
               {"2024-04-31", "not a valid date"},
               {"24-03-01", "not an ISO 8601 date"},
               {"", "not an ISO 8601 date"},
               {"yesterday", "not an ISO 8601 date"},
               {"2024-03-01T25:00Z", "out of range"},
               {"2024-03-01T12:60Z", "out of range"},
               {"2024-03-01T12:00:00Zjunk", "unexpected text"},
               {"2024-03-01T12:00+19:00", "too large"},
               {"2024-03-01X12:00Z", "expected 'T'"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int64_t t = 12345;
        ht_error err = {0};
        assert_int_equal(ht_datetime_parse(bad[i].in, 0, &t, &err), HT_EINVAL);
        assert_contains(err.msg, bad[i].why);
        assert_int_equal(t, 12345); /* untouched on error */
    }
    int64_t t;
    assert_int_equal(ht_datetime_parse("2024-03-01T12:00:00", 1, &t, NULL),
                     HT_OK);
    assert_int_equal(t, 1709294400);
}

static void test_datetime_civil_round_trip(void **state) {
    (void)state;
    for (int64_t t = -5000000000LL; t < 5000000000LL; t += 7777777) {
        int y, m, d, hh, mm, ss;
        ht_datetime_to_civil(t, &y, &m, &d, &hh, &mm, &ss);
        assert_int_equal(ht_datetime_from_civil(y, m, d, hh, mm, ss), t);
        char buf[32];
        ht_datetime_format(t, buf, sizeof buf);
        assert_int_equal(parse_ok(buf), t);
    }
    char buf[32];
    ht_datetime_format(1709294400, buf, sizeof buf);
    assert_string_equal(buf, "2024-03-01T12:00:00Z");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_datetime_accepted_forms),
        cmocka_unit_test(test_datetime_refusals_name_the_reason),
        cmocka_unit_test(test_datetime_civil_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
