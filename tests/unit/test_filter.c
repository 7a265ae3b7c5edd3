/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: filter. */
#include "hutong/filter.h"

#include "ht_test.h"

#define NOW 1795824000 /* 2026-11-28T00:00:00Z */

static ht_filter parse(const char *const *kv, size_t n) {
    ht_filter f = ht_filter_all();
    for (size_t i = 0; i + 1 < n; i += 2) {
        ht_error err = {0};
        if (ht_filter_set(&f, kv[i], kv[i + 1], NOW, &err) != HT_OK) {
            fail_msg("%s", err.msg);
        }
    }
    return f;
}

static void test_filter_values(void **state) {
    (void)state;
    const char *kv[] = {
        "from",     "2026-01-01",  "to",       "2026-02-01T08:00+08:00",
        "severity", "2",           "status",   "open",
        "source",   "hotline,app", "category", "05,01,05",
        "grid",     "110101001"};
    ht_filter f = parse(kv, sizeof kv / sizeof *kv);
    assert_int_equal(f.from, 1767225600);
    assert_int_equal(f.to, 1769904000);
    assert_int_equal(f.severity, 1u << 2 | 1u << 3); /* at least 2 */
    assert_int_equal(f.status, 1u << HT_STATE_REPORTED |
                                   1u << HT_STATE_DISPATCHED |
                                   1u << HT_STATE_HANDLING);
    assert_int_equal(f.source, 1u << HT_SOURCE_HOTLINE | 1u << HT_SOURCE_APP);
    assert_int_equal(f.ncategory, 2); /* sorted, deduplicated */
    assert_string_equal(f.category[0], "01");
    assert_string_equal(f.category[1], "05");
    assert_string_equal(f.grid, "110101001");
    const char *kv2[] = {"severity", "1,3", "status", "closed,reported"};
    ht_filter g = parse(kv2, 4);
    assert_int_equal(g.severity, 1u << 1 | 1u << 3);
    assert_int_equal(g.status, 1u << HT_STATE_CLOSED |
                                   1u << HT_STATE_EVALUATED |
                                   1u << HT_STATE_REPORTED);
}

static void test_filter_windows_and_keys(void **state) {
    (void)state;
    ht_filter f = ht_filter_all();
    assert_int_equal(ht_filter_set(&f, "window", "24h", NOW + 59, NULL), HT_OK);
    assert_int_equal(f.to, NOW); /* rounded to the minute */
    assert_int_equal(f.from, NOW - 86400);
    assert_int_equal(ht_filter_set(&f, "window", "month", NOW, NULL), HT_OK);
    assert_int_equal(f.from, 1793491200); /* 2026-11-01 */
    /* Equal filters, equal keys, whatever the order of values. */
    const char *a[] = {"category", "05,01", "source", "app,hotline"};
    const char *b[] = {"source", "hotline,app", "category", "01,05"};
    char ka[512], kb[512], kc[512];
    ht_filter fa = parse(a, 4), fb = parse(b, 4);
    ht_filter_key(&fa, ka, sizeof ka);
    ht_filter_key(&fb, kb, sizeof kb);
    assert_string_equal(ka, kb);
    ht_filter all = ht_filter_all();
    ht_filter_key(&all, kc, sizeof kc);
    assert_string_not_equal(ka, kc);
}

static void test_filter_errors_name_the_parameter(void **state) {
    (void)state;
    static const struct {
        const char *k, *v, *want;
    } bad[] = {{"from", "yesterday", "from: "},
               {"window", "2w", "window: \"2w\""},
               {"severity", "4", "severity: \"4\""},
               /* past the width of the mask: refused before any shift */
               {"severity", "203", "severity: \"203\""},
               {"severity", "1,-70", "severity: \"-70\""},
               {"severity", "1,,2", "severity: "},
               {"status", "lost", "status: unknown status \"lost\""},
               {"source", "fax", "source: unknown source \"fax\""},
               {"grid", "a b", "grid: \"a b\""},
               {"colour", "red", "unknown filter \"colour\""}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ht_filter f = ht_filter_all();
        ht_filter before = f;
        ht_error err = {0};
        assert_int_equal(ht_filter_set(&f, bad[i].k, bad[i].v, NOW, &err),
                         HT_EINVAL);
        assert_contains(err.msg, bad[i].want);
        assert_memory_equal(&f, &before, sizeof f); /* unchanged */
    }
    ht_filter f = ht_filter_all();
    ht_filter_set(&f, "from", "2026-02-01", NOW, NULL);
    ht_filter_set(&f, "to", "2026-01-01", NOW, NULL);
    ht_error err = {0};
    assert_int_equal(ht_filter_check(&f, &err), HT_EINVAL);
    assert_contains(err.msg, "from: not before to");
}

/* The closed loop's filters: departments sorted and deduplicated into the
 * key (as a hash: the key stays short), overdue at the minute of "now",
 * satisfaction sets; bad values named and the filter unchanged. */
static void test_filter_closed_loop(void **state) {
    (void)state;
    const int64_t now = 1795824037; /* 37 s past a minute */
    ht_filter a = ht_filter_all(), b = ht_filter_all();
    assert_int_equal(
        ht_filter_set(&a, "department", "园林局,城管委,园林局", now, NULL),
        HT_OK);
    assert_int_equal(a.ndepartment, 2);
    assert_true(strcmp(a.department[0], a.department[1]) < 0);
    assert_int_equal(
        ht_filter_set(&b, "department", "城管委,园林局", now, NULL), HT_OK);
    char ka[1024], kb[1024], kc[1024];
    ht_filter_key(&a, ka, sizeof ka);
    ht_filter_key(&b, kb, sizeof kb);
    assert_string_equal(ka, kb);
    assert_int_equal(ht_filter_set(&b, "department", "城管委", now, NULL),
                     HT_OK);
    ht_filter_key(&b, kc, sizeof kc);
    assert_string_not_equal(ka, kc);
    ht_filter o = ht_filter_all();
    assert_int_equal(ht_filter_set(&o, "overdue", "1", now, NULL), HT_OK);
    assert_int_equal(o.overdue_at, now - 37);
    ht_filter_key(&o, ka, sizeof ka);
    assert_contains(ka, "overdue=1795824000");
    assert_int_equal(ht_filter_set(&o, "overdue", "0", now, NULL), HT_OK);
    assert_int_equal(o.overdue_at, 0);
    ht_filter s = ht_filter_all();
    assert_int_equal(
        ht_filter_set(&s, "satisfaction", "满意,basic,none", now, NULL), HT_OK);
    assert_int_equal(s.satisfaction, 1u << HT_SAT_SATISFIED |
                                         1u << HT_SAT_BASIC |
                                         1u << HT_SAT_NONE);
    /* Bad values. */
    char long_name[80];
    memset(long_name, 'x', 70);
    long_name[70] = '\0';
    const char *bad[][2] = {
        {"department", ""},        {"department", "a,,b"},
        {"department", long_name}, {"department", "a,b,c,d,e,f,g,h,i"},
        {"overdue", "yes"},        {"satisfaction", "happy"}};
    const char *says[] = {"department", "department", "department",
                          "at most",    "overdue",    "happy"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        ht_filter f = ht_filter_all(), before = f;
        ht_error err = {0};
        assert_int_equal(ht_filter_set(&f, bad[k][0], bad[k][1], now, &err),
                         HT_EINVAL);
        assert_contains(err.msg, says[k]);
        assert_memory_equal(&f, &before, sizeof f);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filter_values),
        cmocka_unit_test(test_filter_windows_and_keys),
        cmocka_unit_test(test_filter_errors_name_the_parameter),
        cmocka_unit_test(test_filter_closed_loop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
