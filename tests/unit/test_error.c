/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: error. */
#include "hutong/error.h"

#include "ht_test.h"

static void test_error_status_str_every_code(void **state) {
    (void)state;
    for (int c = 0; c < HT_STATUS_END; c++) {
        const char *s = ht_status_str((ht_status)c);
        assert_non_null(s);
        assert_string_not_equal(s, "EUNKNOWN");
        for (int d = 0; d < c; d++) {
            assert_string_not_equal(s, ht_status_str((ht_status)d));
        }
    }
    assert_string_equal(ht_status_str(HT_STATUS_END), "EUNKNOWN");
    assert_string_equal(ht_status_str((ht_status)-1), "EUNKNOWN");
}

static void test_error_set_and_prefix(void **state) {
    (void)state;
    ht_error err = {0};
    assert_int_equal(
        ht_error_set(&err, HT_EINVAL, "zoom %d outside 0..%d", 23, 22),
        HT_EINVAL);
    assert_int_equal(err.code, HT_EINVAL);
    assert_string_equal(err.msg, "zoom 23 outside 0..22");
    ht_error_prefix(&err, "%s: ", "tile");
    assert_string_equal(err.msg, "tile: zoom 23 outside 0..22");
    ht_error_clear(&err);
    assert_int_equal(err.code, HT_OK);
    assert_string_equal(err.msg, "");
    /* NULL is allowed everywhere. */
    assert_int_equal(ht_error_set(NULL, HT_EIO, "x"), HT_EIO);
    ht_error_prefix(NULL, "x");
    ht_error_clear(NULL);
}

static void test_error_truncates_long_messages(void **state) {
    (void)state;
    ht_error err = {0};
    char big[1000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    ht_error_set(&err, HT_EINVAL, "%s", big);
    assert_int_equal(strlen(err.msg), HT_ERROR_MSG_SIZE - 1);
    ht_error_prefix(&err, "file.csv: ");
    assert_int_equal(strlen(err.msg), HT_ERROR_MSG_SIZE - 1);
    assert_memory_equal(err.msg, "file.csv: aaa", 13);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_status_str_every_code),
        cmocka_unit_test(test_error_set_and_prefix),
        cmocka_unit_test(test_error_truncates_long_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
