/* SPDX-License-Identifier: Apache-2.0 */
/* Integration: the batch commands as processes — `print` and `report`
 * (exit codes, nothing left under the output name on failure) and `seed`
 * (MBTiles and folders, resumed, tiles equal to the server's). */
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ht_test.h"

#define H(out, err, ...) ts_hutong(out, err, __VA_ARGS__, (const char *)NULL)

static char *dir, *db;

static int setup(void **state) {
    (void)state;
    dir = ts_tmpdir();
    db = ts_path(dir, "demo.db");
    return H(NULL, NULL, "demo", "--db", db, "--incidents", "3000", "--end",
             "2026-11-28") == 0
               ? 0
               : -1;
}

static int teardown(void **state) {
    (void)state;
    ts_rmdir(dir);
    free(dir);
    free(db);
    return 0;
}

static void test_batch_print_exit_codes(void **state) {
    (void)state;
    char *pdf = ts_path(dir, "g.pdf"), *err;
    const char *period[] = {"--from", "2026-10-29", "--to", "2026-11-28"};
    assert_int_equal(H(NULL, NULL, "print", "--db", db, "--grid",
                       "110101001001001", period[0], period[1], period[2],
                       period[3], "--dpi", "150", "-o", pdf),
                     0);
    struct stat sb;
    assert_int_equal(stat(pdf, &sb), 0);
    assert_true(sb.st_size > 10000);
    /* Bad input: exit 2, the older file untouched. */
    ts_write(pdf, "older");
    const char *bad[][4] = {
        {"--grid", "110101009999999", "--dpi", "150"},
        {"--grid", "110101001001001", "--dpi", "90"},
        {"--grid", "110101001001001", "--paper", "B5"},
        {"--grid", "110101001001001", "--orientation", "up"},
        {"--street", "110101999", "--dpi", "150"},
        {"--grid", "110101001001001", "--layer", "fire"},
    };
    const char *says[] = {"110101009999999", "dpi", "B5", "up",
                          "110101999",       "fire"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        assert_int_equal(H(NULL, &err, "print", "--db", db, bad[k][0],
                           bad[k][1], bad[k][2], bad[k][3], "-o", pdf),
                         2);
        assert_contains(err, says[k]);
        free(err);
    }
    assert_int_equal(H(NULL, &err, "print", "--db", db, "-o", pdf), 2);
    assert_contains(err, "one of --grid");
    free(err);
    char *text = ts_read(pdf);
    assert_string_equal(text, "older");
    free(text);
    /* An output that cannot be written: exit 1. */
    char *nowhere = ts_path(dir, "no/such/g.pdf");
    assert_int_equal(H(NULL, &err, "print", "--db", db, "--grid",
                       "110101001001001", "--dpi", "150", "-o", nowhere),
                     1);
    assert_contains(err, "cannot write");
    free(err);
    free(nowhere);
    free(pdf);
}

/* `report`: a PDF with embedded fonts, its default name, the exit codes of
 * bad input with nothing written. */
static void test_batch_report(void **state) {
    (void)state;
    char *pdf = ts_path(dir, "r.pdf"), *out, *err;
    assert_int_equal(H(&out, NULL, "report", "--db", db, "--month", "2026-10",
                       "--dpi", "150", "--topics", "1", "-o", pdf),
                     0);
    assert_contains(out, "4 pages");
    assert_contains(out, "17 street offices ranked");
    free(out);
    struct stat sb;
    assert_int_equal(stat(pdf, &sb), 0);
    assert_true(sb.st_size > 10000);
    /* Every font embedded (pdffonts' "emb" column), when poppler is
     * there. */
    char *fonts = NULL;
    char *const argv[] = {"/usr/bin/pdffonts", pdf, NULL};
    if (ts_run(argv, 60, &fonts, NULL) == 0) {
        assert_contains(fonts, "NotoSansCJK");
        char *line = strstr(fonts, "-----");
        assert_non_null(line);
        size_t nfonts = 0;
        for (line = strchr(line, '\n'); line && line[1];
             line = strchr(line + 1, '\n')) {
            /* The columns from the right: emb sub uni object-id gen. */
            char buf[400], *tok[32];
            size_t nt = 0;
            const char *end = strchr(line + 1, '\n');
            size_t len = end ? (size_t)(end - line - 1) : strlen(line + 1);
            snprintf(buf, sizeof buf, "%.*s", (int)len, line + 1);
            for (char *s = strtok(buf, " "); s && nt < 32;
                 s = strtok(NULL, " ")) {
                tok[nt++] = s;
            }
            if (nt >= 6) {
                assert_string_equal(tok[nt - 5], "yes");
                nfonts++;
            }
        }
        assert_true(nfonts >= 1);
    }
    free(fonts);
    /* Bad input: exit 2, the older file untouched. */
    ts_write(pdf, "older");
    const char *bad[][4] = {
        {"--month", "2026-13", "--dpi", "150"},
        {"--month", "2026-10", "--grid", "110101999"},
        {"--month", "2026-10", "--grid", "110101001001001"},
        {"--month", "2030-01", "--dpi", "150"},
        {"--month", "2026-10", "--topics", "11"},
        {"--month", "2026-10", "--dpi", "1000"},
        {"--month", "2026-10", "--layer", "fire"},
    };
    const char *says[] = {"YYYY-MM",  "110101999", "unit grid", "2030-01",
                          "--topics", "--dpi",     "fire"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        assert_int_equal(H(NULL, &err, "report", "--db", db, bad[k][0],
                           bad[k][1], bad[k][2], bad[k][3], "-o", pdf),
                         2);
        assert_contains(err, says[k]);
        free(err);
    }
    assert_int_equal(H(NULL, &err, "report", "--db", db, "-o", pdf), 2);
    assert_contains(err, "--month");
    free(err);
    char *text = ts_read(pdf);
    assert_string_equal(text, "older");
    free(text);
    /* An output that cannot be written: exit 1, nothing left. */
    char *nowhere = ts_path(dir, "no/such/r.pdf");
    assert_int_equal(H(NULL, &err, "report", "--db", db, "--month", "2026-10",
                       "--dpi", "150", "-o", nowhere),
                     1);
    assert_contains(err, "cannot write");
    free(err);
    free(nowhere);
    free(pdf);
}

/* The blob of tile z/x/y (XYZ) in an MBTiles file, and its length. */
static char *mbtile(const char *path, int z, int x, int y, size_t *len) {
    char sql[300];
    snprintf(sql, sizeof sql,
             "SELECT hex(tile_data) FROM tiles WHERE zoom_level = %d AND "
             "tile_column = %d AND tile_row = %d",
             z, x, (1 << z) - 1 - y);
    char *hex = ts_db_text(path, sql);
    if (!hex) {
        return NULL;
    }
    size_t n = strlen(hex) / 2;
    char *b = malloc(n + 1);
    for (size_t k = 0; k < n; k++) {
        unsigned v;
        sscanf(hex + 2 * k, "%2x", &v);
        b[k] = (char)v;
    }
    free(hex);
    *len = n;
    return b;
}

static void test_batch_seed_mbtiles(void **state) {
    (void)state;
    char *mb = ts_path(dir, "heat.mbtiles"), *out, *err;
    assert_int_equal(
        H(&out, NULL, "seed", "--db", db, "--style", "heat", "--zoom", "13-15",
          "--grid", "110101001", "--threads", "2", "-o", mb),
        0);
    int64_t n = ts_db_int(mb, "SELECT count(*) FROM tiles");
    assert_true(n > 10);
    char want[64];
    snprintf(want, sizeof want, "%lld tiles: %lld drawn, 0 already there",
             (long long)n, (long long)n);
    assert_contains(out, want);
    free(out);
    /* MBTiles 1.3 metadata. */
    char *v = ts_db_text(mb, "SELECT value FROM metadata WHERE name='format'");
    assert_string_equal(v, "png");
    free(v);
    v = ts_db_text(mb, "SELECT value FROM metadata WHERE name='minzoom'");
    assert_string_equal(v, "13");
    free(v);
    v = ts_db_text(mb, "SELECT value FROM metadata WHERE name='bounds'");
    double w, s, e, nn;
    assert_int_equal(sscanf(v, "%lf,%lf,%lf,%lf", &w, &s, &e, &nn), 4);
    assert_true(w > 116.3 && e < 116.5 && s > 39.8 && nn < 40.0 && w < e);
    free(v);
    /* Stopped half-way: the zoom-15 tiles gone, a second run draws just
     * those. */
    int64_t z15 = ts_db_int(mb,
                            "SELECT count(*) FROM tiles WHERE "
                            "zoom_level = 15");
    sqlite3 *h;
    assert_int_equal(sqlite3_open(mb, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, "DELETE FROM tiles WHERE zoom_level = 15",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(h);
    assert_int_equal(H(&out, NULL, "seed", "--db", db, "--style", "heat",
                       "--zoom", "13-15", "--grid", "110101001", "-o", mb),
                     0);
    snprintf(want, sizeof want, "%lld drawn, %lld already there",
             (long long)z15, (long long)(n - z15));
    assert_contains(out, want);
    free(out);
    assert_int_equal(ts_db_int(mb, "SELECT count(*) FROM tiles"), n);
    /* A tile equals the server's (TMS rows in the file). */
    char *log = ts_path(dir, "serve.log");
    ts_server srv = ts_serve_start(db, log, NULL);
    /* A zoom-14 tile in the middle of the file's. */
    const int z = 14;
    int x = (int)ts_db_int(mb,
                           "SELECT tile_column FROM tiles WHERE "
                           "zoom_level = 14 ORDER BY tile_column, "
                           "tile_row LIMIT 1 OFFSET (SELECT count(*) / 2 "
                           "FROM tiles WHERE zoom_level = 14)");
    int y = (1 << z) - 1 -
            (int)ts_db_int(mb,
                           "SELECT tile_row FROM tiles WHERE "
                           "zoom_level = 14 ORDER BY tile_column, "
                           "tile_row LIMIT 1 OFFSET (SELECT count(*) / 2 "
                           "FROM tiles WHERE zoom_level = 14)");
    size_t flen = 0, slen = 0;
    char *ftile = mbtile(mb, z, x, y, &flen), *stile, path[128];
    assert_non_null(ftile);
    snprintf(path, sizeof path, "/tiles/heat/%d/%d/%d.png", z, x, y);
    assert_int_equal(
        ts_http(srv.port, "GET", path, NULL, NULL, NULL, &stile, &slen), 200);
    assert_int_equal(flen, slen);
    assert_memory_equal(ftile, stile, slen);
    free(ftile);
    free(stile);
    assert_int_equal(ts_serve_stop(srv), 0);
    free(log);
    /* GDAL reads it, when GDAL is here. */
    char *const gdal[] = {"/usr/bin/gdalinfo", mb, NULL};
    if (access(gdal[0], X_OK) == 0) {
        assert_int_equal(ts_run(gdal, 60, &out, NULL), 0);
        assert_contains(out, "Driver: MBTiles");
        free(out);
    } else {
        print_message("gdalinfo not installed: the GDAL check is skipped\n");
    }
    /* Bad input. */
    assert_int_equal(H(NULL, &err, "seed", "--db", db, "--style", "heat",
                       "--zoom", "15-12", "-o", mb),
                     2);
    assert_contains(err, "zooms");
    free(err);
    assert_int_equal(H(NULL, &err, "seed", "--db", db, "--style", "heat",
                       "--zoom", "13", "--grid", "110101999", "-o", mb),
                     2);
    assert_contains(err, "110101999");
    free(err);
    free(mb);
}

static void test_batch_seed_folder(void **state) {
    (void)state;
    char *folder = ts_path(dir, "tiles"), *out;
    assert_int_equal(H(&out, NULL, "seed", "--db", db, "--style", "grids",
                       "--zoom", "14", "--grid", "110101001001", "-o", folder),
                     0);
    free(out);
    char p[700];
    snprintf(p, sizeof p, "%s/14", folder);
    struct stat sb;
    assert_int_equal(stat(p, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    assert_int_equal(H(&out, NULL, "seed", "--db", db, "--style", "grids",
                       "--zoom", "14", "--grid", "110101001001", "-o", folder),
                     0);
    assert_contains(out, " 0 drawn");
    free(out);
    free(folder);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_print_exit_codes),
        cmocka_unit_test(test_batch_report),
        cmocka_unit_test(test_batch_seed_mbtiles),
        cmocka_unit_test(test_batch_seed_folder),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
