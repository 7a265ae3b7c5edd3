/* SPDX-License-Identifier: Apache-2.0 */
/* Integration tests: the hutong command line, run as a process. */
#include <jansson.h>
#include <sys/stat.h>
#include <unistd.h>

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
    assert_int_equal(H(&out, NULL, "--version"), 0);
    assert_contains(out, "hutong ");
    free(out);
    /* --help on every command (anywhere after it, nothing done): its
     * usage, exit 0; `help COMMAND` the same. */
    static const char *const cmds[] = {"init",   "import", "demo",  "summary",
                                       "render", "stats",  "serve", "token",
                                       "print",  "report", "seed"};
    for (size_t k = 0; k < sizeof cmds / sizeof *cmds; k++) {
        char want[64];
        snprintf(want, sizeof want, "usage: hutong %s", cmds[k]);
        assert_int_equal(H(&out, NULL, cmds[k], "--help"), 0);
        assert_contains(out, want);
        assert_contains(out, "Exit codes");
        free(out);
        assert_int_equal(H(&out, NULL, "help", cmds[k]), 0);
        assert_contains(out, want);
        free(out);
    }
    assert_int_equal(H(&out, NULL, "render", "map", "--size", "1x1", "-h"), 0);
    assert_contains(out, "render    map");
    assert_null(strstr(out, "serve     ["));
    free(out);
    assert_int_equal(H(NULL, &err, "help", "frobnicate"), 2);
    assert_contains(err, "unknown command \"frobnicate\"");
    free(err);
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

/* On a terminal (a pseudo-terminal through script(1)), a long import
 * shows a bar: how far, rows/s and the time left; off a terminal, none. */
static void test_cli_import_progress_on_a_terminal(void **state) {
    (void)state;
    char *const probe[] = {"/usr/bin/script", "-qc", "true", "/dev/null", NULL};
    if (access(probe[0], X_OK) != 0 || ts_run(probe, 30, NULL, NULL) != 0) {
        print_message(
            "no script(1) or no pseudo-terminal here: the "
            "terminal check is skipped\n");
        return;
    }
    char *db = ts_path(dir, "progress.db"), *csv = ts_path(dir, "many.csv");
    assert_int_equal(H(NULL, NULL, "init", "--db", db), 0);
    char cats[1024];
    snprintf(cats, sizeof cats, "%s/categories.csv", getenv("HUTONG_GEODATA"));
    assert_int_equal(H(NULL, NULL, "import", "categories", cats, "--db", db),
                     0);
    FILE *f = fopen(csv, "w");
    fputs("id,lon,lat,category,severity,reported_at\n", f);
    for (int k = 0; k < 15000; k++) {
        fprintf(f, "p%d,%.5f,%.5f,0101,%d,2026-11-%02dT08:00:00Z\n", k,
                116.40 + (k % 97) * 0.0003, 39.90 + (k % 89) * 0.0003,
                1 + k % 3, 1 + k % 28);
    }
    fclose(f);
    char cmd[2048], *out = NULL, *err = NULL;
    snprintf(cmd, sizeof cmd, "%s import incidents %s --db %s",
             getenv("HUTONG_BIN"), csv, db);
    char *const argv[] = {"/usr/bin/script", "-qc", cmd, "/dev/null", NULL};
    assert_int_equal(ts_run(argv, 120, &out, &err), 0);
    assert_contains(out, "rows/s");
    assert_contains(out, "%");
    assert_contains(out, "15000 rows read");
    free(out);
    free(err);
    /* "-": standard input, its format sniffed */
    snprintf(cmd, sizeof cmd, "head -n 101 %s | %s import incidents - --db %s",
             csv, getenv("HUTONG_BIN"), db);
    char *const sh[] = {"/bin/sh", "-c", cmd, NULL};
    assert_int_equal(ts_run(sh, 120, &out, &err), 0);
    assert_contains(out, "standard input: 100 rows read");
    free(out);
    free(err);
    /* off a terminal: only the summary */
    assert_int_equal(H(&out, &err, "import", "incidents", csv, "--db", db), 0);
    assert_null(strstr(err, "rows/s"));
    free(out);
    free(err);
    free(db);
    free(csv);
}

static void test_cli_init_import_and_bad_input(void **state) {
    (void)state;
    char *db = ts_path(dir, "cli.db");
    char *out, *err;
    assert_int_equal(H(&out, NULL, "init", "--db", db), 0);
    assert_contains(out, "created, schema version 4");
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
    /* A folder for a file: said so, the data untouched. */
    assert_int_equal(H(NULL, &err, "import", "incidents", dir, "--db", db), 2);
    assert_contains(err, "is a folder");
    free(err);
    assert_true(ts_db_fingerprint(db) == before);
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

static void test_cli_render_tiles_and_maps(void **state) {
    (void)state;
    char *db = ts_path(dir, "render.db");
    char *out, *err;
    assert_int_equal(H(NULL, NULL, "demo", "--db", db, "--incidents", "500",
                       "--end", "2026-11-28"),
                     0);
    char *png = ts_path(dir, "t.png");
    assert_int_equal(H(NULL, &err, "render", "tile", "15", "26978", "12413",
                       "--style", "default", "--db", db, "-o", png),
                     0);
    free(err);
    FILE *f = fopen(png, "rb");
    assert_non_null(f);
    unsigned char head[8];
    assert_int_equal(fread(head, 1, 8, f), 8);
    fclose(f);
    assert_memory_equal(head, "\x89PNG\r\n\x1a\n", 8);
    /* @2x is 512 px: the IHDR width. */
    assert_int_equal(
        H(NULL, NULL, "render", "tile", "15", "26978", "12413", "--style",
          "wall", "--scale", "2", "--db", db, "-o", png),
        0);
    f = fopen(png, "rb");
    unsigned char ihdr[24];
    assert_int_equal(fread(ihdr, 1, 24, f), 24);
    fclose(f);
    assert_int_equal(ihdr[18] << 8 | ihdr[19], 512);
    /* SVG and PDF through Cairo's own surfaces; a grid map in EPSG:4548. */
    char *svg = ts_path(dir, "m.svg"), *pdf = ts_path(dir, "m.pdf");
    assert_int_equal(H(NULL, &err, "render", "map", "--grid", "110101001001",
                       "--size", "640x480", "--crs", "EPSG:4548", "--style",
                       "print", "--db", db, "-o", svg),
                     0);
    free(err);
    assert_int_equal(H(NULL, &err, "render", "map", "--bbox",
                       "12955000,4852000,12960000,4857000", "--size", "400x400",
                       "--style", "default", "--db", db, "-o", pdf),
                     0);
    free(err);
    char buf[8] = {0};
    f = fopen(svg, "rb");
    assert_int_equal(fread(buf, 1, 5, f), 5);
    fclose(f);
    assert_string_equal(buf, "<?xml");
    f = fopen(pdf, "rb");
    assert_int_equal(fread(buf, 1, 5, f), 5);
    fclose(f);
    assert_memory_equal(buf, "%PDF-", 5);
    /* "-o -": standard output, PNG or --format */
    assert_int_equal(H(&out, NULL, "render", "tile", "15", "26978", "12413",
                       "--style", "default", "--db", db, "-o", "-"),
                     0);
    assert_memory_equal(out, "\x89PNG", 4);
    free(out);
    assert_int_equal(
        H(&out, NULL, "render", "tile", "15", "26978", "12413", "--style",
          "default", "--format", "webp", "--db", db, "-o", "-"),
        0);
    assert_memory_equal(out, "RIFF", 4);
    free(out);
    /* JPEG and WebP by their extension. */
    char *jpg = ts_path(dir, "m.jpg"), *webp = ts_path(dir, "t.webp");
    assert_int_equal(H(NULL, NULL, "render", "map", "--bbox",
                       "12955000,4852000,12960000,4857000", "--size", "300x200",
                       "--style", "default", "--db", db, "-o", jpg),
                     0);
    assert_int_equal(H(NULL, NULL, "render", "tile", "15", "26978", "12413",
                       "--style", "heat", "--db", db, "-o", webp),
                     0);
    f = fopen(jpg, "rb");
    assert_int_equal(fread(buf, 1, 3, f), 3);
    fclose(f);
    assert_memory_equal(buf, "\xff\xd8\xff", 3);
    char riff[12];
    f = fopen(webp, "rb");
    assert_int_equal(fread(riff, 1, 12, f), 12);
    fclose(f);
    assert_memory_equal(riff, "RIFF", 4);
    assert_memory_equal(riff + 8, "WEBP", 4);
    free(jpg);
    free(webp);
    /* Bad requests: exit 2, a clear message, no file left behind. */
    static const struct {
        const char *a[12];
        const char *want;
    } bad[] = {
        {{"render", "tile", "23", "0", "0", "--style", "default", "-o", "OUT"},
         "zoom 23 outside 0..22"},
        {{"render", "tile", "3", "8", "0", "--style", "default", "-o", "OUT"},
         "x 8 outside 0..7"},
        {{"render", "tile", "3", "-1", "0", "--style", "default", "-o", "OUT"},
         "does not exist"},
        {{"render", "tile", "3", "1", "--style", "default", "-o", "OUT"},
         "Z X Y"},
        {{"render", "map", "--bbox", "0,0,1,1", "--size", "16385x100",
          "--style", "default", "-o", "OUT"},
         "at most 16384 px"},
        {{"render", "map", "--bbox", "1,0,0,1", "--size", "10x10", "--style",
          "default", "-o", "OUT"},
         "--bbox"},
        {{"render", "map", "--grid", "nope", "--size", "10x10", "--style",
          "default", "-o", "OUT"},
         "no grid \"nope\""},
        {{"render", "map", "--bbox", "0,0,1,1", "--size", "10x10", "--crs",
          "EPSG:999999", "--style", "default", "-o", "OUT"},
         "unknown CRS"},
        {{"render", "tile", "3", "1", "1", "--style", "nosuchstyle", "-o",
          "OUT"},
         "no style \"nosuchstyle\""},
        {{"render", "tile", "3", "1", "1", "--style", "BADSTYLE", "-o", "OUT"},
         "layers[0].type: unknown layer type"},
        {{"render", "tile", "3", "1", "1", "--style", "default", "-o",
          "OUTBMP"},
         "must end in .png, .jpg, .webp, .svg or .pdf"},
        {{"render", "map", "--bbox", "0,0,1,1", "--size", "10x10", "--crs",
          "foo", "--style", "default", "-o", "OUT"},
         "\"foo\" is not a CRS"},
        /* degrees to a CRS of metres: refused, the fix named */
        {{"render", "map", "--bbox", "116.40,39.90,116.42,39.92", "--size",
          "10x10", "--style", "default", "-o", "OUT"},
         "add --crs EPSG:4326"},
        {{"render", "tile", "15", "26978", "12413", "--scale", "3", "--style",
          "default", "-o", "OUT"},
         "1 or 2 (256 or 512 px)"},
    };
    char *badstyle = ts_path(dir, "bad.json");
    ts_write(badstyle, "{\"layers\":[{\"id\":\"a\",\"type\":\"raster\"}]}");
    char *target = ts_path(dir, "bad-out.png");
    char *bmp = ts_path(dir, "bad-out.bmp");
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        const char *argv[16] = {0};
        int n = 0;
        for (int i = 0; i < 12 && bad[k].a[i]; i++) {
            const char *a = bad[k].a[i];
            argv[n++] = strcmp(a, "OUT") == 0        ? target
                        : strcmp(a, "OUTBMP") == 0   ? bmp
                        : strcmp(a, "BADSTYLE") == 0 ? badstyle
                                                     : a;
        }
        argv[n++] = "--db";
        argv[n++] = db;
        /* argv is NULL-terminated: ts_hutong stops at the first NULL. */
        int rc =
            ts_hutong(NULL, &err, argv[0], argv[1], argv[2], argv[3], argv[4],
                      argv[5], argv[6], argv[7], argv[8], argv[9], argv[10],
                      argv[11], argv[12], argv[13], argv[14], argv[15]);
        if (rc != 2) {
            fail_msg("case %zu: exit %d: %s", k, rc, err);
        }
        assert_contains(err, bad[k].want);
        free(err);
        struct stat sb;
        assert_int_not_equal(stat(target, &sb), 0);
    }
    free(badstyle);
    free(target);
    free(bmp);
    free(svg);
    free(pdf);
    free(png);
    free(db);
    (void)out;
}

static void test_cli_stats(void **state) {
    (void)state;
    char *db = ts_path(dir, "stats.db");
    char *out, *err;
    /* Ending today (the default), so the last 30 days hold data. */
    assert_int_equal(H(NULL, NULL, "demo", "--db", db, "--incidents", "800"),
                     0);
    uint64_t before = ts_db_fingerprint(db);
    /* JSON: every incident counted once, ranked by count. */
    assert_int_equal(H(&out, NULL, "stats", "--by", "category", "--format",
                       "json", "--db", db),
                     0);
    json_error_t je;
    json_t *root = json_loads(out, 0, &je);
    assert_non_null(root);
    assert_int_equal(json_integer_value(json_object_get(root, "total")), 800);
    json_t *rows = json_object_get(root, "rows");
    json_int_t sum = 0, last = INT64_MAX;
    for (size_t k = 0; k < json_array_size(rows); k++) {
        json_int_t c = json_integer_value(
            json_object_get(json_array_get(rows, k), "count"));
        assert_true(c <= last);
        last = c;
        sum += c;
    }
    assert_int_equal(sum, 800);
    json_decref(root);
    free(out);
    /* The street offices of the last 30 days, against the 30 before. */
    assert_int_equal(H(&out, NULL, "stats", "--window", "30d", "--format",
                       "csv", "--db", db),
                     0);
    assert_contains(out, "rank,key,name,count,share_pct,prev,change_pct");
    assert_contains(out, "1101010");
    free(out);
    assert_int_equal(H(&out, NULL, "stats", "--by", "grid", "--limit", "3",
                       "--grid", "110101001", "--db", db),
                     0);
    assert_contains(out, "close h");
    assert_contains(out, "   1 110101001");
    free(out);
    /* Last month, a whole month of the demo: some topics rose. */
    char month[16];
    assert_int_equal(
        H(&out, NULL, "stats", "topics", "--month", ts_month(-1, month),
          "--min", "1", "--format", "csv", "--db", db),
        0);
    assert_contains(out, "rank,category,category_name,area,area_name,count");
    assert_contains(out, "\n1,");
    free(out);
    /* Bad input: exit 2, a message naming the option, data untouched. */
    const char *bad[][4] = {{"--by", "ward", NULL, NULL},
                            {"--format", "xml", NULL, NULL},
                            {"--category", "9999", NULL, NULL},
                            {"--grid", "nowhere", NULL, NULL},
                            {"--limit", "-1", NULL, NULL},
                            {"topics", NULL, NULL, NULL},
                            {"topics", "--month", "2026-1", NULL},
                            {"topics", "--month", "2026-11", "--window=30d"}};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        assert_int_equal(H(NULL, &err, "stats", "--db", db, bad[k][0],
                           bad[k][1], bad[k][2], bad[k][3]),
                         2);
        assert_contains(err, "hutong: ");
        free(err);
    }
    assert_true(ts_db_fingerprint(db) == before);
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
        cmocka_unit_test(test_cli_import_progress_on_a_terminal),
        cmocka_unit_test(test_cli_demo_builds_and_summarises),
        cmocka_unit_test(test_cli_render_tiles_and_maps),
        cmocka_unit_test(test_cli_stats),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
