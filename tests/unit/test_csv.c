/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: csv. */
#include "hutong/csv.h"

#include "ht_test.h"

static void test_csv_quotes_newlines_and_lines(void **state) {
    (void)state;
    const char *text =
        "\xEF\xBB\xBF"
        "a,b,c\r\n"
        "1,\"x, y\",\"say \"\"hi\"\"\"\r\n"
        "\n"
        "2,\"two\nlines\",\r\n"
        "3,,last";
    ht_csv *c;
    assert_int_equal(ht_csv_open_mem(text, strlen(text), &c, NULL), HT_OK);
    size_t n;
    const char *const *f;
    bool eof;
    assert_int_equal(ht_csv_next(c, &n, &f, &eof, NULL), HT_OK);
    assert_int_equal(n, 3);
    assert_string_equal(f[0], "a");
    assert_int_equal(ht_csv_line(c), 1);
    assert_int_equal(ht_csv_next(c, &n, &f, &eof, NULL), HT_OK);
    assert_string_equal(f[1], "x, y");
    assert_string_equal(f[2], "say \"hi\"");
    assert_int_equal(ht_csv_line(c), 2);
    assert_int_equal(ht_csv_next(c, &n, &f, &eof, NULL), HT_OK);
    assert_int_equal(ht_csv_line(c), 4); /* the blank line is skipped */
    assert_string_equal(f[1], "two\nlines");
    assert_string_equal(f[2], "");
    assert_int_equal(ht_csv_next(c, &n, &f, &eof, NULL), HT_OK);
    assert_int_equal(ht_csv_line(c), 6);
    assert_int_equal(n, 3);
    assert_string_equal(f[2], "last");
    assert_int_equal(ht_csv_next(c, &n, &f, &eof, NULL), HT_OK);
    assert_true(eof);
    ht_csv_free(c);
}

static void test_csv_errors_name_the_line(void **state) {
    (void)state;
    /* With their lengths: some hold NUL bytes. */
    static const char q1[] = "a,b\n1,\"never closed\n",
                      q2[] = "a,b\n1,\"x\"y\n", n1[] = "a,b\nnul-\0-1,2\n",
                      n2[] = "a,b\n1,\"in\0quotes\"\n",
                      u1[] = "a,b\n1,bad-\xff\n",
                      u2[] = "a,b\nover\xc0\xaflong,2\n",
                      u3[] = "a,b\n1,\xed\xa0\x80\n",
                      u4[] = "a,b\n1,cut-\xe4\xb8\n";
    const struct {
        const char *text;
        size_t len;
        const char *why;
    } bad[] = {
        {q1, sizeof q1 - 1, "line 2: quote never closed"},
        {q2, sizeof q2 - 1, "line 2: text after a closing quote"},
        {n1, sizeof n1 - 1, "line 2: a NUL byte"},
        {n2, sizeof n2 - 1, "line 2: a NUL byte"},
        {u1, sizeof u1 - 1, "line 2, field 2: not UTF-8 text (byte 0xFF)"},
        {u2, sizeof u2 - 1, "line 2, field 1: not UTF-8 text (byte 0xC0)"},
        {u3, sizeof u3 - 1, "line 2, field 2: not UTF-8 text (byte 0xED)"},
        {u4, sizeof u4 - 1, "line 2, field 2: not UTF-8 text (byte 0xE4)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ht_csv *c;
        ht_csv_open_mem(bad[i].text, bad[i].len, &c, NULL);
        size_t n;
        const char *const *f;
        bool eof;
        ht_error err = {0};
        assert_int_equal(ht_csv_next(c, &n, &f, &eof, &err), HT_OK);
        assert_int_equal(ht_csv_next(c, &n, &f, &eof, &err), HT_EINVAL);
        assert_contains(err.msg, bad[i].why);
        ht_csv_free(c);
    }
    ht_csv *c = NULL;
    ht_error err = {0};
    assert_int_equal(ht_csv_open_file("/nonexistent/x.csv", &c, &err), HT_EIO);
    assert_null(c);
    assert_contains(err.msg, "/nonexistent/x.csv");
}

static void test_csv_file_across_chunks(void **state) {
    (void)state;
    /* More than one 1 MiB read buffer, with quoted fields on the seams. */
    char *dir = ts_tmpdir();
    char *p = ts_path(dir, "big.csv");
    FILE *f = fopen(p, "w");
    fprintf(f, "id,text\n");
    for (int i = 0; i < 60000; i++) {
        fprintf(f, "%d,\"row %d, with \"\"quotes\"\"\"\n", i, i);
    }
    fclose(f);
    ht_csv *c;
    assert_int_equal(ht_csv_open_file(p, &c, NULL), HT_OK);
    size_t n;
    const char *const *fl;
    bool eof;
    ht_csv_next(c, &n, &fl, &eof, NULL);
    char want[64];
    for (int i = 0; i < 60000; i++) {
        assert_int_equal(ht_csv_next(c, &n, &fl, &eof, NULL), HT_OK);
        assert_false(eof);
        assert_int_equal(n, 2);
        assert_int_equal(atoi(fl[0]), i);
        snprintf(want, sizeof want, "row %d, with \"quotes\"", i);
        assert_string_equal(fl[1], want);
    }
    assert_int_equal(ht_csv_next(c, &n, &fl, &eof, NULL), HT_OK);
    assert_true(eof);
    ht_csv_free(c);
    free(p);
    ts_rmdir(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_quotes_newlines_and_lines),
        cmocka_unit_test(test_csv_errors_name_the_line),
        cmocka_unit_test(test_csv_file_across_chunks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
