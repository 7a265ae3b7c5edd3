/* SPDX-License-Identifier: Apache-2.0 */
/* Integration: `hutong export` (CSV, GeoJSON, GeoPackage) and GET
 * /api/incidents.csv: a dump imported again gives the same store; the
 * filters; the errors leave nothing behind; the server's CSV is the
 * command's, and readers that leave do not hold it up. */
#include <jansson.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hutong/csv.h"

#include "ht_test.h"

#define H(out, err, ...) ts_hutong(out, err, __VA_ARGS__, (const char *)NULL)

static char *dir, *db;

static int setup(void **state) {
    (void)state;
    dir = ts_tmpdir();
    db = ts_pg() ? ts_pg_new_db() : ts_path(dir, "demo.db");
    return H(NULL, NULL, "demo", "--db", db, "--incidents", "2000") == 0 ? 0
                                                                         : -1;
}

static int teardown(void **state) {
    (void)state;
    ts_rmdir(dir);
    free(dir);
    if (ts_pg()) {
        ts_pg_drop_db(db);
    }
    free(db);
    return 0;
}

/* The rows of two incident CSVs compared in the columns an import reads,
 * the grid and the position (not the deadlines, the department or the
 * steps, which an import does not carry): the rows, or -1 when they
 * differ. */
static long csv_columns_equal(const char *a, const char *b) {
    static const char *const keep[] = {
        "id",           "category",    "severity",  "source",
        "status",       "reported_at", "closed_at", "satisfaction",
        "whistle_kind", "grid_code",   "lon",       "lat"};
    enum { NK = sizeof keep / sizeof *keep };
    ht_csv *ca = NULL, *cb = NULL;
    assert_int_equal(ht_csv_open_mem(a, strlen(a), &ca, NULL), HT_OK);
    assert_int_equal(ht_csv_open_mem(b, strlen(b), &cb, NULL), HT_OK);
    int col[NK];
    long rows = -1;
    for (;;) {
        size_t na = 0, nb = 0;
        const char *const *fa, *const *fb;
        bool ea, eb;
        assert_int_equal(ht_csv_next(ca, &na, &fa, &ea, NULL), HT_OK);
        assert_int_equal(ht_csv_next(cb, &nb, &fb, &eb, NULL), HT_OK);
        if (ea || eb || na != nb) {
            rows = ea && eb ? rows : -2;
            break;
        }
        if (rows == -1) { /* the header */
            for (int k = 0; k < NK; k++) {
                col[k] = -1;
                for (size_t i = 0; i < na; i++) {
                    if (strcmp(fa[i], keep[k]) == 0) {
                        col[k] = (int)i;
                    }
                }
                assert_true(col[k] >= 0);
            }
            rows = 0;
            continue;
        }
        for (int k = 0; k < NK; k++) {
            if (strcmp(fa[col[k]], fb[col[k]]) != 0) {
                print_error("row %ld, %s: %s / %s\n", rows + 1, keep[k],
                            fa[col[k]], fb[col[k]]);
                rows = -2;
            }
        }
        if (rows < 0) {
            break;
        }
        rows++;
    }
    ht_csv_free(ca);
    ht_csv_free(cb);
    return rows < 0 ? -1 : rows;
}

/* Grids (GeoJSON), streets (GeoJSON) and incidents (CSV) exported and
 * imported into a new store: the same grids, the same incidents (each in
 * the same grid); the source store untouched. */
static void test_export_round_trip(void **state) {
    (void)state;
    uint64_t before = ts_db_fingerprint(db);
    char *grids = ts_path(dir, "grids.geojson");
    char *streets = ts_path(dir, "streets.geojson");
    char *incidents = ts_path(dir, "incidents.csv");
    char *out = NULL;
    assert_int_equal(H(&out, NULL, "export", "grids", "-o", grids, "--db", db),
                     0);
    assert_contains(out, "exported");
    free(out);
    assert_int_equal(
        H(NULL, NULL, "export", "streets", "-o", streets, "--db", db), 0);
    assert_int_equal(
        H(NULL, NULL, "export", "incidents", "-o", incidents, "--db", db), 0);
    assert_true(ts_db_fingerprint(db) == before);
    char *copy = ts_path(dir, "copy.db");
    assert_int_equal(H(NULL, NULL, "init", "--db", copy), 0);
    /* (the demo's categories: the shipped table) */
    char cats[512];
    snprintf(cats, sizeof cats, "%s/categories.csv", getenv("HUTONG_GEODATA"));
    assert_int_equal(H(NULL, NULL, "import", "categories", cats, "--db", copy),
                     0);
    assert_int_equal(H(NULL, NULL, "import", "grids", grids, "--db", copy), 0);
    assert_int_equal(H(NULL, NULL, "import", "streets", streets, "--db", copy),
                     0);
    char *err = NULL;
    if (H(NULL, &err, "import", "incidents", incidents, "--db", copy) != 0) {
        fail_msg("import: %s", err);
    }
    free(err);
    /* The copy's dumps: the grids' the same bytes; the incidents' the
     * same in what an import reads, and in the grid each falls in. */
    char *grids2 = ts_path(dir, "grids2.geojson");
    char *incidents2 = ts_path(dir, "incidents2.csv");
    char *streets2 = ts_path(dir, "streets2.geojson");
    assert_int_equal(
        H(NULL, NULL, "export", "grids", "-o", grids2, "--db", copy), 0);
    assert_int_equal(
        H(NULL, NULL, "export", "incidents", "-o", incidents2, "--db", copy),
        0);
    assert_int_equal(
        H(NULL, NULL, "export", "streets", "-o", streets2, "--db", copy), 0);
    char *g1 = ts_read(grids), *g2 = ts_read(grids2);
    assert_true(strlen(g1) > 1000);
    assert_string_equal(g1, g2);
    json_t *s1 = json_load_file(streets, 0, NULL);
    json_t *s2 = json_load_file(streets2, 0, NULL);
    assert_int_equal(json_array_size(json_object_get(s1, "features")),
                     json_array_size(json_object_get(s2, "features")));
    assert_true(json_array_size(json_object_get(s1, "features")) > 100);
    char *i1 = ts_read(incidents), *i2 = ts_read(incidents2);
    assert_int_equal(csv_columns_equal(i1, i2), 2000);
    free(g1);
    free(g2);
    free(i1);
    free(i2);
    json_decref(s1);
    json_decref(s2);
    free(grids2);
    free(incidents2);
    free(streets2);
    free(copy);
    free(grids);
    free(streets);
    free(incidents);
}

static size_t lines_of(const char *text) {
    size_t n = 0;
    for (const char *p = text; (p = strchr(p, '\n')); p++) {
        n++;
    }
    return n;
}

/* The filters choose the same incidents as the store's SQL; every format
 * holds them; standard output is the file. */
static void test_export_filters_and_formats(void **state) {
    (void)state;
    int64_t sev3 =
        ts_db_int(db, "SELECT count(*) FROM incidents WHERE severity = 3");
    int64_t boxed = ts_db_int(
        db,
        "SELECT count(*) FROM incidents WHERE X(geom) BETWEEN 116.40 AND "
        "116.42 AND Y(geom) BETWEEN 39.90 AND 39.93");
    assert_true(sev3 > 0 && boxed > 0);
    char *csv = ts_path(dir, "sev3.csv");
    assert_int_equal(H(NULL, NULL, "export", "incidents", "--severity", "3",
                       "-o", csv, "--db", db),
                     0);
    char *text = ts_read(csv);
    assert_int_equal(lines_of(text), (size_t)sev3 + 1);
    char *std = NULL;
    assert_int_equal(H(&std, NULL, "export", "incidents", "--severity", "3",
                       "-o", "-", "--format", "csv", "--db", db),
                     0);
    assert_string_equal(std, text);
    free(std);
    free(text);
    char *gj = ts_path(dir, "box.geojson");
    assert_int_equal(H(NULL, NULL, "export", "incidents", "--bbox",
                       "116.40,39.90,116.42,39.93", "-o", gj, "--db", db),
                     0);
    json_t *j = json_load_file(gj, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_array_size(json_object_get(j, "features")), boxed);
    json_t *f0 = json_array_get(json_object_get(j, "features"), 0);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(f0, "geometry"), "type")),
                        "Point");
    json_decref(j);
    /* GeoPackages: the rows, their table registered, the spatial index */
    static const char *const what[] = {"incidents", "grids", "streets"};
    for (int k = 0; k < 3; k++) {
        char name[32], sql[160];
        snprintf(name, sizeof name, "%s.gpkg", what[k]);
        char *gp = ts_path(dir, name);
        assert_int_equal(H(NULL, NULL, "export", what[k], "-o", gp, "--db", db),
                         0);
        snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", what[k]);
        int64_t want = ts_db_int(db, sql);
        assert_int_equal(ts_db_int(gp, sql), want);
        snprintf(sql, sizeof sql, "SELECT count(*) FROM rtree_%s_geom",
                 what[k]);
        assert_int_equal(ts_db_int(gp, sql), want);
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM gpkg_geometry_columns WHERE "
                 "table_name = '%s' AND srs_id = 4326",
                 what[k]);
        assert_int_equal(ts_db_int(gp, sql), 1);
        assert_int_equal(ts_db_int(gp, "PRAGMA application_id"), 1196444487);
        if (access("/usr/bin/ogrinfo", X_OK) == 0) {
            char *const info[] = {"/usr/bin/ogrinfo", "-so", "-ro", gp,
                                  (char *)what[k],    NULL};
            char *o = NULL;
            assert_int_equal(ts_run(info, 60, &o, NULL), 0);
            char count[48];
            snprintf(count, sizeof count, "Feature Count: %lld",
                     (long long)want);
            assert_contains(o, count);
            free(o);
        }
        free(gp);
    }
    free(csv);
    free(gj);
}

/* Bad requests: exit 2 with the reason, no file and no part of one. */
static void test_export_errors(void **state) {
    (void)state;
    char *out = ts_path(dir, "bad.csv");
    char *part = ts_path(dir, "bad.csv.part");
    static const char *const cases[][8] = {
        {"export", "lakes", "-o", NULL, NULL, NULL, NULL, NULL},
        {"export", "grids", "--severity", "3", "-o", NULL, NULL, NULL},
        {"export", "incidents", "--category", "ZZZ", "-o", NULL, NULL, NULL},
        {"export", "incidents", "--bbox", "1,2,3", "-o", NULL, NULL, NULL},
        {"export", "incidents", NULL, NULL, NULL, NULL, NULL, NULL},
    };
    static const char *const says[] = {"incidents, grids or streets",
                                       "for incidents", "unknown code",
                                       "--bbox", "-o"};
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        const char *argv[12];
        int n = 0;
        for (int i = 0; i < 8 && cases[k][i]; i++) {
            argv[n++] = cases[k][i];
        }
        if (n > 2 && strcmp(argv[n - 1], "-o") == 0) {
            argv[n++] = out;
        }
        char *err = NULL;
        int rc;
        switch (n) {
        case 2:
            rc = H(NULL, &err, argv[0], argv[1], "--db", db);
            break;
        case 4:
            rc = H(NULL, &err, argv[0], argv[1], argv[2], argv[3], "--db", db);
            break;
        default:
            rc = H(NULL, &err, argv[0], argv[1], argv[2], argv[3], argv[4],
                   argv[5], "--db", db);
            break;
        }
        if (rc != 2 || !strstr(err, says[k])) {
            fail_msg("case %zu: %d %s", k, rc, err);
        }
        assert_false(access(out, F_OK) == 0);
        assert_false(access(part, F_OK) == 0);
        free(err);
    }
    char *err = NULL;
    assert_int_equal(
        H(NULL, &err, "export", "incidents", "-o", "x.shp", "--db", db), 2);
    assert_contains(err, ".gpkg");
    free(err);
    err = NULL;
    assert_int_equal(H(NULL, &err, "export", "grids", "-o", "-", "--db", db),
                     2);
    assert_contains(err, "--format");
    free(err);
    free(out);
    free(part);
}

/* GET /api/incidents.csv is the command's CSV (the filters, a scoped
 * reader's area); a bad code is a 400; readers leaving halfway do not
 * keep their exports from others. */
static void test_export_http_csv(void **state) {
    (void)state;
    char *errlog = ts_path(dir, "serve.log");
    char *tokens = ts_path(dir, "tokens");
    char *tok = ts_token_new(db, tokens, "office", "110101001", false);
    ts_server srv = ts_serve_start(db, errlog, tokens);
    char *want = NULL, *head = NULL, *body = NULL;
    assert_int_equal(
        H(&want, NULL, "export", "incidents", "--window", "30d", "--category",
          "01", "-o", "-", "--format", "csv", "--db", db),
        0);
    assert_int_equal(
        ts_http(srv.port, "GET", "/api/incidents.csv?window=30d&category=01",
                NULL, NULL, &head, &body, NULL),
        200);
    assert_contains(head, "content-type: text/csv");
    assert_contains(head, "attachment; filename=\"incidents.csv\"");
    assert_string_equal(body, want);
    assert_true(lines_of(body) > 10);
    free(head);
    free(body);
    free(want);
    /* a scoped reader: its area's */
    char auth[160];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n", tok);
    body = NULL;
    assert_int_equal(ts_http(srv.port, "GET", "/api/incidents.csv", auth, NULL,
                             NULL, &body, NULL),
                     200);
    assert_int_equal(lines_of(body) - 1,
                     (size_t)ts_db_int(db,
                                       "SELECT count(*) FROM incidents "
                                       "WHERE grid_code LIKE "
                                       "'110101001%'"));
    free(body);
    body = NULL;
    assert_int_equal(ts_http(srv.port, "GET", "/api/incidents.csv?category=ZZ",
                             NULL, NULL, NULL, &body, NULL),
                     400);
    assert_contains(body, "unknown code");
    free(body);
    /* Eight readers that leave after the first bytes (more than the four
     * exports written at once): the next one is served. */
    for (int k = 0; k < 8; k++) {
        int fd = ts_connect(srv.port);
        assert_true(fd >= 0);
        const char req[] = "GET /api/incidents.csv HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_int_equal(write(fd, req, sizeof req - 1),
                         (ssize_t)sizeof req - 1);
        char buf[512];
        assert_true(read(fd, buf, sizeof buf) > 0);
        close(fd);
    }
    int st = 0;
    for (int k = 0; k < 100 && st != 200; k++) {
        body = NULL;
        st = ts_http(srv.port, "GET", "/api/incidents.csv?severity=3", NULL,
                     NULL, NULL, &body, NULL);
        free(body);
        if (st != 200) {
            nanosleep(&(struct timespec){0, 100000000}, NULL);
        }
    }
    assert_int_equal(st, 200);
    assert_int_equal(ts_serve_stop(srv), 0);
    free(errlog);
    free(tokens);
    free(tok);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_export_round_trip),
        cmocka_unit_test(test_export_filters_and_formats),
        cmocka_unit_test(test_export_errors),
        cmocka_unit_test(test_export_http_csv),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
