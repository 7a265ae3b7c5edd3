/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: buf. */
#include "hutong/buf.h"

#include "ht_test.h"

static void test_buf_append_grows_and_terminates(void **state) {
    (void)state;
    ht_buf *b = ht_buf_new();
    assert_non_null(b);
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(ht_buf_append(b, "abc", 3, NULL), HT_OK);
    }
    assert_int_equal(b->len, 3000);
    assert_int_equal(b->data[b->len], 0);
    assert_int_equal(ht_buf_appendf(b, NULL, "%d-%s", 42, "x"), HT_OK);
    assert_string_equal((char *)b->data + 3000, "42-x");
    ht_buf_clear(b);
    assert_int_equal(b->len, 0);
    assert_string_equal((char *)b->data, "");
    ht_buf_free(b);
    ht_buf_free(NULL);
}

static void test_buf_read_file(void **state) {
    (void)state;
    char *dir = ts_tmpdir();
    char *p = ts_path(dir, "f.txt");
    ts_write(p, "hello\nworld\n");
    ht_buf *b = ht_buf_new();
    ht_error err = {0};
    assert_int_equal(ht_buf_read_file(b, p, &err), HT_OK);
    assert_string_equal((char *)b->data, "hello\nworld\n");
    free(p);
    p = ts_path(dir, "missing.txt");
    assert_int_equal(ht_buf_read_file(b, p, &err), HT_EIO);
    assert_contains(err.msg, "missing.txt");
    assert_int_equal(b->len, 0);
    ht_buf_free(b);
    free(p);
    ts_rmdir(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_append_grows_and_terminates),
        cmocka_unit_test(test_buf_read_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
