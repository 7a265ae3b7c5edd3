/* SPDX-License-Identifier: Apache-2.0 */
/* Integration tests: the hutong command line, run as a process. */
#include <sys/stat.h>

#include "ht_test.h"

#define H(out, err, ...) ts_hutong(out, err, __VA_ARGS__, (const char *)NULL)

static char *dir;

static void test_cli_usage_errors_exit_2(void **state) {
    (void)state;
    char *out, *err;
    assert_int_equal(H(NULL, &err, NULL), 2);
    assert_contains(err, "usage: hutong");
    free(err);
    assert_int_equal(H(&out, NULL, "help"), 0);
    assert_contains(out, "import");
    free(out);
    assert_int_equal(H(&out, NULL, "version"), 0);
    assert_contains(out, "hutong ");
    free(out);
    assert_int_equal(H(NULL, &err, "frobnicate"), 2);
    assert_contains(err, "unknown command \"frobnicate\"");
    free(err);
    assert_int_equal(H(NULL, &err, "init", "--colour", "red"), 2);
    assert_contains(err, "unknown option \"--colour\"");
    free(err);
    assert_int_equal(H(NULL, &err, "import", "grids"), 2);
    assert_contains(err, "needs a kind and a file");
    free(err);
    assert_int_equal(H(NULL, &err, "import", "roads", "x.csv"), 2);
    assert_contains(err, "unknown import kind \"roads\"");
    free(err);
    char *db = ts_path(dir, "none.db");
    assert_int_equal(H(NULL, &err, "summary", "--db", db), 2);
    assert_contains(err, "does not exist");
    free(err);
    free(db);
}

static void test_cli_init_import_and_bad_input(void **state) {
    (void)state;
    char *db = ts_path(dir, "cli.db");
    char *out, *err;
    assert_int_equal(H(&out, NULL, "init", "--db", db), 0);
    assert_contains(out, "created, schema version 1");
    free(out);
    assert_int_equal(H(&out, NULL, "init", "--db", db), 0);
    assert_contains(out, "ready");
    free(out);
    char cats[1024];
    snprintf(cats, sizeof cats, "%s/categories.csv", getenv("HUTONG_GEODATA"));
    assert_int_equal(H(&out, &err, "import", "categories", cats, "--db", db),
                     0);
    assert_contains(out, "33 new");
    free(out);
    free(err);
    char *good = ts_path(dir, "good.csv");
    ts_write(good,
             "id,lon,lat,category,reported_at,source\n"
             "C1,116.40,39.90,05,2024-05-01T08:00+08:00,hotline\n"
             "C2,116.41,39.91,H02,2024-12-01,app\n");
    assert_int_equal(H(&out, &err, "import", "incidents", good, "--db", db), 0);
    assert_contains(out, "2 rows read: 2 new, 0 updated, 0 unchanged");
    free(out);
    free(err);
    uint64_t before = ts_db_fingerprint(db);
    /* The same file again changes nothing. */
    assert_int_equal(H(&out, &err, "import", "incidents", good, "--db", db), 0);
    assert_contains(out, "0 new, 0 updated, 2 unchanged");
    free(out);
    free(err);
    assert_true(ts_db_fingerprint(db) == before);
    /* A bad row after good ones: exit 2, a precise message, no change. */
    char *bad = ts_path(dir, "bad.csv");
    ts_write(bad,
             "id,lon,lat,category,reported_at\n"
             "C3,116.40,39.90,05,2024-05-01\n"
             "C4,116.40,forty,05,2024-05-01\n");
    assert_int_equal(H(&out, &err, "import", "incidents", bad, "--db", db), 2);
    assert_contains(err,
                    "bad.csv: line 3, field \"lat\": \"forty\" is not a "
                    "number");
    assert_contains(err, "nothing was imported");
    free(out);
    free(err);
    assert_true(ts_db_fingerprint(db) == before);
    /* Missing file, missing database, misplaced option. */
    char *missing = ts_path(dir, "missing.csv");
    assert_int_equal(H(NULL, &err, "import", "incidents", missing, "--db", db),
                     2);
    assert_contains(err, "missing.csv");
    free(err);
    char *nodb = ts_path(dir, "nodb.db");
    assert_int_equal(H(NULL, &err, "import", "incidents", good, "--db", nodb),
                     2);
    assert_contains(err, "hutong init");
    free(err);
    assert_int_equal(H(NULL, &err, "import", "incidents", good, "--level",
                       "grid", "--db", db),
                     2);
    assert_contains(err, "--level applies to grids only");
    free(err);
    assert_int_equal(
        H(NULL, &err, "import", "incidents", good, "--snap", "-4", "--db", db),
        2);
    free(err);
    assert_int_equal(H(NULL, &err, "import", "incidents", good, "--field",
                       "colour=c", "--db", db),
                     2);
    assert_contains(err, "not a field of incidents");
    free(err);
    assert_true(ts_db_fingerprint(db) == before);
    struct stat sb;
    assert_int_not_equal(stat(nodb, &sb), 0); /* not created by accident */
    free(db);
    free(good);
    free(bad);
    free(missing);
    free(nodb);
}

static void test_cli_demo_builds_and_summarises(void **state) {
    (void)state;
    char *db = ts_path(dir, "demo.db");
    char *out, *err;
    assert_int_equal(H(&out, &err, "demo", "--db", db, "--incidents", "3000",
                       "--end", "2026-11-28"),
                     0);
    assert_contains(out, "built");
    assert_contains(out, "grids by level");
    assert_contains(out, "community         169");
    assert_contains(out, "street             17");
    assert_contains(out, "district            1");
    assert_contains(out, "incidents by category");
    assert_contains(out, "incidents by month");
    assert_contains(out, "2026-11");
    assert_contains(out, "2025-12");
    free(out);
    free(err);
    char *tmp = ts_path(dir, "demo.db.building");
    struct stat sb;
    assert_int_not_equal(stat(tmp, &sb), 0);
    assert_int_equal(ts_db_int(db, "SELECT count(*) FROM incidents"), 3000);
    /* Second run keeps the database. */
    assert_int_equal(H(&out, NULL, "demo", "--db", db), 0);
    assert_contains(out, "exists: using it");
    free(out);
    assert_int_equal(ts_db_int(db, "SELECT count(*) FROM incidents"), 3000);
    assert_int_equal(H(NULL, &err, "demo", "--db", db, "--end", "soon"), 2);
    assert_contains(err, "--end");
    free(err);
    assert_int_equal(H(NULL, &err, "demo", "--db", db, "--incidents", "0"), 2);
    free(err);
    assert_int_equal(H(&out, NULL, "summary", "--db", db), 0);
    assert_contains(out, "incidents located");
    free(out);
    free(tmp);
    free(db);
}

static int setup(void **state) {
    (void)state;
    dir = ts_tmpdir();
    return 0;
}

static int teardown(void **state) {
    (void)state;
    ts_rmdir(dir);
    free(dir);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_usage_errors_exit_2),
        cmocka_unit_test(test_cli_init_import_and_bad_input),
        cmocka_unit_test(test_cli_demo_builds_and_summarises),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
