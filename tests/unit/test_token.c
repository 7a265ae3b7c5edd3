/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: token. */
#include <sys/stat.h>

#include "hutong/token.h"

#include "ht_test.h"

static void test_token_create_and_check(void **state) {
    (void)state;
    char *dir = ts_tmpdir(), *path = ts_path(dir, "tokens");
    char t1[68], t2[68];
    ht_error err = {0};
    assert_int_equal(ht_tokens_create(path, "*", true, "ingest", t1, &err),
                     HT_OK);
    assert_int_equal(
        ht_tokens_create(path, "110101001", false, "donghuamen", t2, &err),
        HT_OK);
    assert_int_equal(strlen(t1), 67);
    assert_memory_equal(t1, "ht_", 3);
    assert_string_not_equal(t1, t2);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    /* The file holds hashes, never the tokens. */
    FILE *f = fopen(path, "r");
    char text[1024] = {0};
    assert_true(fread(text, 1, sizeof text - 1, f) > 0);
    fclose(f);
    assert_null(strstr(text, t1 + 3));
    assert_contains(text, "sha256:");
    ht_tokens *t;
    assert_int_equal(ht_tokens_load(path, &t, &err), HT_OK);
    assert_int_equal(ht_tokens_count(t), 2);
    ht_token_info info;
    assert_true(ht_tokens_check(t, t2, &info));
    assert_string_equal(info.scope, "110101001");
    assert_string_equal(info.name, "donghuamen");
    assert_false(info.write);
    assert_true(ht_tokens_check(t, t1, &info));
    assert_string_equal(info.scope, "*");
    assert_true(info.write);
    t1[10] ^= 1;
    assert_false(ht_tokens_check(t, t1, &info));
    assert_false(ht_tokens_check(t, "", &info));
    ht_tokens_free(t);
    /* Bad input is named and changes nothing. */
    assert_int_equal(ht_tokens_create(path, "a b", true, "x", t1, &err),
                     HT_EINVAL);
    assert_contains(err.msg, "scope");
    assert_int_equal(ht_tokens_create(path, "*", true, "", t1, &err),
                     HT_EINVAL);
    assert_contains(err.msg, "name");
    FILE *g = fopen(path, "a");
    fputs("# a comment\n\nsha256:xyz * broken\n", g);
    fclose(g);
    assert_int_equal(ht_tokens_load(path, &t, &err), HT_EINVAL);
    assert_contains(err.msg, "line 5");
    assert_null(t);
    assert_int_equal(ht_tokens_load("/nonexistent/tokens", &t, &err), HT_EIO);
    ts_rmdir(dir);
    free(dir);
    free(path);
}

/* Issue 9, item 11: a tokens file others may write is refused; making a
 * token puts such a file back to 0600. */
static void test_token_file_mode(void **state) {
    (void)state;
    char *dir = ts_tmpdir(), *path = ts_path(dir, "tokens");
    char tok[68];
    ht_error err = {0};
    assert_int_equal(ht_tokens_create(path, "*", true, "ingest", tok, &err),
                     HT_OK);
    ht_tokens *t;
    const mode_t bad[] = {0666, 0620, 0602, 0660};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        assert_int_equal(chmod(path, bad[k]), 0);
        assert_int_equal(ht_tokens_load(path, &t, &err), HT_EINVAL);
        assert_null(t);
        assert_contains(err.msg, "chmod 600");
    }
    /* Readable by others is no danger: it holds hashes. */
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(ht_tokens_load(path, &t, &err), HT_OK);
    ht_tokens_free(t);
    assert_int_equal(chmod(path, 0666), 0);
    assert_int_equal(ht_tokens_create(path, "*", false, "viewer", tok, &err),
                     HT_OK);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(ht_tokens_load(path, &t, &err), HT_OK);
    assert_int_equal(ht_tokens_count(t), 2);
    ht_tokens_free(t);
    /* A folder is not a tokens file. */
    assert_int_equal(ht_tokens_load(dir, &t, &err), HT_EINVAL);
    assert_contains(err.msg, "not a regular file");
    ts_rmdir(dir);
    free(dir);
    free(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_create_and_check),
        cmocka_unit_test(test_token_file_mode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
