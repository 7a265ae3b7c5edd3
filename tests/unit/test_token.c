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

/* Tokens read from elsewhere (a database): the same checks as a file's;
 * a malformed entry refused and the set unchanged. */
static void test_token_make_and_add(void **state) {
    (void)state;
    char tok[68], hash[65];
    ht_error err = {0};
    assert_int_equal(ht_token_make("110101001", "office", tok, hash, &err),
                     HT_OK);
    assert_int_equal(strlen(tok), 67);
    assert_int_equal(strlen(hash), 64);
    assert_int_equal(ht_token_make("a b", "x", tok, hash, &err), HT_EINVAL);
    char longname[65];
    memset(longname, 'n', 64);
    longname[64] = '\0';
    assert_int_equal(ht_token_make("*", longname, tok, hash, &err), HT_EINVAL);
    longname[63] = '\0';
    assert_int_equal(ht_token_make("*", longname, tok, hash, &err), HT_OK);
    assert_int_equal(ht_token_make("*", "office", tok, hash, &err), HT_OK);
    ht_tokens *t = ht_tokens_new();
    assert_int_equal(ht_tokens_add(t, hash, "110101001", true, "office", &err),
                     HT_OK);
    char bad[65];
    memcpy(bad, hash, sizeof bad);
    bad[10] = 'g';
    assert_int_equal(ht_tokens_add(t, bad, "*", true, "x", &err), HT_EINVAL);
    assert_int_equal(ht_tokens_add(t, "abc", "*", true, "x", &err), HT_EINVAL);
    assert_int_equal(ht_tokens_add(t, hash, "", true, "x", &err), HT_EINVAL);
    assert_int_equal(ht_tokens_count(t), 1);
    ht_token_info who;
    assert_true(ht_tokens_check(t, tok, &who));
    assert_string_equal(who.scope, "110101001");
    assert_string_equal(who.name, "office");
    assert_true(who.write);
    tok[5] ^= 1;
    assert_false(ht_tokens_check(t, tok, &who));
    ht_tokens_entry(t, 0, &who);
    assert_string_equal(who.name, "office");
    ht_tokens_free(t);
}

/* Revoking by name rewrites the file without that name's lines (comments
 * and the others kept, mode 0600); an unknown name writes nothing. */
static void test_token_revoke_file(void **state) {
    (void)state;
    char *dir = ts_tmpdir(), *path = ts_path(dir, "tokens");
    char a[68], b[68], c[68];
    ht_error err = {0};
    FILE *f = fopen(path, "w");
    fputs("# made by hand\n", f);
    fclose(f);
    chmod(path, 0600);
    assert_int_equal(ht_tokens_create(path, "*", true, "ingest", a, &err),
                     HT_OK);
    assert_int_equal(ht_tokens_create(path, "*", false, "wall", b, &err),
                     HT_OK);
    assert_int_equal(ht_tokens_create(path, "*", false, "wall", c, &err),
                     HT_OK);
    size_t removed = 9;
    char *before = ts_read(path);
    assert_int_equal(ht_tokens_revoke(path, "nobody", &removed, &err), HT_OK);
    assert_int_equal(removed, 0);
    char *same = ts_read(path);
    assert_string_equal(before, same);
    assert_int_equal(ht_tokens_revoke(path, "wall", &removed, &err), HT_OK);
    assert_int_equal(removed, 2);
    char *after = ts_read(path);
    assert_non_null(strstr(after, "# made by hand\n"));
    assert_null(strstr(after, " wall"));
    ht_tokens *t;
    ht_token_info who;
    assert_int_equal(ht_tokens_load(path, &t, &err), HT_OK);
    assert_int_equal(ht_tokens_count(t), 1);
    assert_true(ht_tokens_check(t, a, &who));
    assert_false(ht_tokens_check(t, b, &who));
    assert_false(ht_tokens_check(t, c, &who));
    ht_tokens_free(t);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    /* A file others may write is refused here too, and left alone. */
    assert_int_equal(chmod(path, 0666), 0);
    assert_int_equal(ht_tokens_revoke(path, "ingest", &removed, &err),
                     HT_EINVAL);
    char *kept = ts_read(path);
    assert_string_equal(kept, after);
    free(before);
    free(same);
    free(after);
    free(kept);
    ts_rmdir(dir);
    free(dir);
    free(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_create_and_check),
        cmocka_unit_test(test_token_file_mode),
        cmocka_unit_test(test_token_make_and_add),
        cmocka_unit_test(test_token_revoke_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
