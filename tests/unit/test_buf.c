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

static void test_buf_utf8(void **state) {
    (void)state;
    const struct {
        const char *s;
        size_t valid; /* the length of the valid prefix */
    } cases[] = {
        {"", 0},
        {"plain", 5},
        {"东城区 网格", 16},
        {"\xf0\x9f\x97\xba map", 8}, /* U+1F5FA */
        {"a\x80", 1},                /* a lone continuation byte */
        {"a\xc0\x80", 1},            /* overlong NUL */
        {"\xe0\x80\xaf", 0},         /* overlong '/' */
        {"x\xed\xa0\x80", 1},        /* a surrogate */
        {"\xf4\x90\x80\x80", 0},     /* past U+10FFFF */
        {"ok\xe4\xb8", 2},           /* cut short */
        {"\xf5\x80\x80\x80", 0},
        {"\xff", 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        size_t got = ht_utf8_valid_prefix(cases[k].s, strlen(cases[k].s));
        if (got != cases[k].valid) {
            fail_msg("case %zu: %zu, not %zu", k, got, cases[k].valid);
        }
    }
}

/* Markup's five characters escaped, the rest as it is; NULL adds none. */
static void test_buf_escaped(void **state) {
    (void)state;
    ht_buf *b = ht_buf_new();
    assert_int_equal(ht_buf_append_escaped(b, "a<b> & \"c\" 'd' 东城", NULL),
                     HT_OK);
    assert_string_equal((const char *)b->data,
                        "a&lt;b&gt; &amp; &quot;c&quot; &#39;d&#39; 东城");
    assert_int_equal(ht_buf_append_escaped(b, NULL, NULL), HT_OK);
    assert_int_equal(b->len, strlen((const char *)b->data));
    ht_buf_free(b);
}

/* A buffer's text handed over as a string: terminated, the buffer gone
 * (NULL for none). */
static void test_buf_take_string(void **state) {
    (void)state;
    ht_buf *b = ht_buf_new();
    assert_int_equal(ht_buf_appendf(b, NULL, "a%db", 7), HT_OK);
    char *s = ht_buf_take_string(b);
    assert_string_equal(s, "a7b");
    free(s);
    s = ht_buf_take_string(ht_buf_new());
    assert_string_equal(s, "");
    free(s);
    assert_null(ht_buf_take_string(NULL));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_take_string),
        cmocka_unit_test(test_buf_escaped),
        cmocka_unit_test(test_buf_append_grows_and_terminates),
        cmocka_unit_test(test_buf_read_file),
        cmocka_unit_test(test_buf_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
