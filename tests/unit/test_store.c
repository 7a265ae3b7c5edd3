/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: store. */
#include <math.h>
#include <sqlite3.h>

#include "hutong/datetime.h"
#include "hutong/store.h"

#include "ht_test.h"

typedef ts_store fixture;

static int setup(void **state) {
    *state = ts_store_new();
    return 0;
}

static int teardown(void **state) {
    ts_store_free(*state);
    return 0;
}

static void test_store_schema_and_reopen(void **state) {
    fixture *f = *state;
    assert_int_equal(ht_store_schema_version(f->s), HT_STORE_SCHEMA_VERSION);
    ht_store_close(f->s);
    f->s = NULL;
    if (ts_pg()) {
        /* The same geometry columns in EPSG:4326, each with a GiST index. */
        assert_int_equal(ts_db_int(f->db,
                                   "SELECT count(*) FROM geometry_columns "
                                   "WHERE srid = 4326 AND f_table_name IN "
                                   "('grids', 'streets', 'incidents')"),
                         3);
        assert_int_equal(ts_db_int(f->db,
                                   "SELECT count(*) FROM pg_indexes WHERE "
                                   "indexdef LIKE '%USING gist (geom)%'"),
                         3);
    } else {
        assert_db_text(f->db, "PRAGMA journal_mode", "wal");
        assert_int_equal(
            ts_db_int(f->db, "SELECT count(*) FROM geometry_columns"), 3);
        assert_int_equal(ts_db_int(f->db,
                                   "SELECT count(*) FROM geometry_columns "
                                   "WHERE spatial_index_enabled = 1"),
                         3);
    }
    ht_error err = {0};
    assert_int_equal(ht_store_open(f->db, HT_STORE_READONLY, &f->s, &err),
                     HT_OK);
    assert_int_equal(ht_store_schema_version(f->s), HT_STORE_SCHEMA_VERSION);
}

/* A grid tree to test: a district, a street office, a community, a grid;
 * the caller frees the strings of nothing (all static). */
static void put_tree(fixture *f) {
    static const struct {
        const char *code, *parent;
        ht_level level;
    } g[] = {{"D", NULL, HT_LEVEL_DISTRICT},
             {"S1", "D", HT_LEVEL_STREET},
             {"S2", "D", HT_LEVEL_STREET},
             {"C1", "S1", HT_LEVEL_COMMUNITY},
             {"G1", "C1", HT_LEVEL_GRID}};
    ht_error err = {0};
    assert_int_equal(ht_store_begin(f->s, &err), HT_OK);
    for (size_t k = 0; k < sizeof g / sizeof *g; k++) {
        ht_geom *sq = ts_square(116.3 + 0.01 * (double)k, 39.9, 0.005);
        ht_grid_rec rec = {.code = g[k].code,
                           .parent_code = g[k].parent,
                           .level = g[k].level,
                           .population = -1,
                           .valid_from = HT_TIME_NONE,
                           .valid_to = HT_TIME_NONE,
                           .geom = sq};
        ht_put_result r;
        assert_int_equal(ht_store_put_grid(f->s, &rec, &r, NULL, &err), HT_OK);
        ht_geom_free(sq);
    }
    assert_int_equal(ht_store_commit(f->s, &err), HT_OK);
}

static bool within(fixture *f, const char *code, const char *ancestor) {
    bool in = false;
    ht_error err = {0};
    assert_int_equal(ht_store_grid_within(f->s, code, ancestor, &in, &err),
                     HT_OK);
    return in;
}

/* grid_tree follows the grids: written at commit, inside a transaction as
 * soon as asked, and rebuilt by the migration from schema 1. */
static void test_store_grid_tree(void **state) {
    fixture *f = *state;
    put_tree(f);
    assert_true(within(f, "G1", "G1") && within(f, "G1", "C1") &&
                within(f, "G1", "S1") && within(f, "G1", "D"));
    assert_false(within(f, "G1", "S2") || within(f, "S1", "G1") ||
                 within(f, "X", "X") || within(f, "", "D"));
    assert_int_equal(ts_db_int(f->db, "SELECT count(*) FROM grid_tree"),
                     1 + 2 + 2 + 3 + 4);
    assert_db_text(f->db,
                   "SELECT ancestor FROM grid_tree WHERE code = 'G1' AND "
                   "level = 'street'",
                   "S1");
    /* C1 moves to S2: seen in the transaction, and after it. */
    ht_error err = {0};
    bool changed;
    assert_int_equal(ht_store_begin(f->s, &err), HT_OK);
    assert_int_equal(ht_store_set_grid_parent(f->s, "C1", "S2", &changed, &err),
                     HT_OK);
    assert_true(changed);
    assert_true(within(f, "G1", "S2"));
    assert_false(within(f, "G1", "S1"));
    assert_int_equal(ht_store_commit(f->s, &err), HT_OK);
    assert_db_text(f->db,
                   "SELECT ancestor FROM grid_tree WHERE code = 'G1' AND "
                   "level = 'street'",
                   "S2");
    if (ts_pg()) {
        return; /* schema 1 was a SpatiaLite file's */
    }
    /* A file of schema 1 (no grid_tree) is migrated on opening, even for
     * reading, and its tree filled. */
    ht_store_close(f->s);
    f->s = NULL;
    sqlite3 *db;
    sqlite3_open(f->db, &db);
    assert_int_equal(sqlite3_exec(db, ts_schema_v1_sql, NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(ht_store_open(f->db, HT_STORE_READONLY, &f->s, &err),
                     HT_OK);
    assert_int_equal(ht_store_schema_version(f->s), HT_STORE_SCHEMA_VERSION);
    assert_true(within(f, "G1", "S2") && within(f, "G1", "D"));
    assert_int_equal(ts_db_int(f->db, "SELECT count(*) FROM grid_tree"), 12);
}

/* The same on PostgreSQL: a database of another application, one of a
 * newer hutong, one that cannot be reached. */
static void refuses_foreign_and_newer_databases(fixture *f) {
    char *other = ts_pg_new_db();
    ts_db_int(other, "CREATE TABLE t (x integer)");
    ht_store *s = (ht_store *)1;
    ht_error err = {0};
    assert_int_equal(ht_store_open(other, HT_STORE_CREATE, &s, &err),
                     HT_EINVAL);
    assert_null(s);
    assert_contains(err.msg, "not a hutong database");
    assert_int_equal(ts_db_int(other,
                               "SELECT count(*) FROM pg_tables WHERE "
                               "tablename = 'hutong_meta'"),
                     0);
    ts_pg_drop_db(other);
    ht_store_close(f->s);
    f->s = NULL;
    ts_db_int(f->db,
              "UPDATE hutong_meta SET value = '99' WHERE key = "
              "'schema_version'");
    uint64_t before = ts_db_fingerprint(f->db);
    assert_int_equal(ht_store_open(f->db, HT_STORE_WRITE, &s, &err), HT_EINVAL);
    assert_contains(err.msg, "schema version 99");
    assert_true(ts_db_fingerprint(f->db) == before);
    /* A server that is not there: the database is away, named without
     * its password. */
    assert_int_equal(ht_store_open("postgresql://u:secret@127.0.0.1:1/x",
                                   HT_STORE_WRITE, &s, &err),
                     HT_EIO);
    assert_contains(err.msg, "cannot connect");
    assert_null(strstr(err.msg, "secret"));
    free(other);
}

static void test_store_refuses_foreign_and_newer_files(void **state) {
    fixture *f = *state;
    if (ts_pg()) {
        refuses_foreign_and_newer_databases(f);
        return;
    }
    char *other = ts_path(f->dir, "other.db");
    sqlite3 *db;
    sqlite3_open(other, &db);
    sqlite3_exec(db, "CREATE TABLE t (x)", NULL, NULL, NULL);
    sqlite3_close(db);
    ht_store *s = (ht_store *)1;
    ht_error err = {0};
    assert_int_equal(ht_store_open(other, HT_STORE_CREATE, &s, &err),
                     HT_EINVAL);
    assert_null(s);
    assert_contains(err.msg, "not a hutong database");
    /* A file from a newer hutong is refused, and left as it was. */
    ht_store_close(f->s);
    f->s = NULL;
    sqlite3_open(f->db, &db);
    sqlite3_exec(db,
                 "UPDATE hutong_meta SET value = '99' WHERE key = "
                 "'schema_version'",
                 NULL, NULL, NULL);
    sqlite3_close(db);
    uint64_t before = ts_db_fingerprint(f->db);
    assert_int_equal(ht_store_open(f->db, HT_STORE_WRITE, &s, &err), HT_EINVAL);
    assert_contains(err.msg, "schema version 99");
    assert_true(ts_db_fingerprint(f->db) == before);
    char *missing = ts_path(f->dir, "missing.db");
    assert_int_equal(ht_store_open(missing, HT_STORE_WRITE, &s, &err), HT_EIO);
    free(missing);
    free(other);
}

static void test_store_upserts_report_what_they_did(void **state) {
    fixture *f = *state;
    ht_put_result r;
    ht_error err = {0};
    ht_category_rec cat = {"0101", NULL, "私搭乱建", "#c9302c", "cjt214"};
    assert_int_equal(ht_store_begin(f->s, &err), HT_OK);
    assert_int_equal(ht_store_put_category(f->s, &cat, &r, &err), HT_OK);
    assert_int_equal(r, HT_PUT_INSERTED);
    assert_int_equal(ht_store_put_category(f->s, &cat, &r, &err), HT_OK);
    assert_int_equal(r, HT_PUT_UNCHANGED);
    cat.color = "#000000";
    assert_int_equal(ht_store_put_category(f->s, &cat, &r, &err), HT_OK);
    assert_int_equal(r, HT_PUT_UPDATED);
    ht_geom *g = ts_square(116.40, 39.90, 0.01);
    ht_grid_rec grid = {.code = "110101001",
                        .parent_code = "110101",
                        .level = HT_LEVEL_STREET,
                        .name = "东华门街道",
                        .population = 1000,
                        .valid_from = HT_TIME_NONE,
                        .valid_to = HT_TIME_NONE,
                        .geom = g};
    ht_bbox old;
    assert_int_equal(ht_store_put_grid(f->s, &grid, &r, &old, &err), HT_OK);
    assert_int_equal(r, HT_PUT_INSERTED);
    assert_true(old.minx > old.maxx);
    assert_int_equal(ht_store_put_grid(f->s, &grid, &r, &old, &err), HT_OK);
    assert_int_equal(r, HT_PUT_UNCHANGED);
    ht_geom_free(g);
    g = ts_square(116.41, 39.91, 0.01);
    grid.geom = g;
    assert_int_equal(ht_store_put_grid(f->s, &grid, &r, &old, &err), HT_OK);
    assert_int_equal(r, HT_PUT_UPDATED);
    assert_true(fabs(old.minx - 116.40) < 1e-12); /* the previous box */
    ht_geom_free(g);
    ht_incident_rec inc = {.external_id = "A-1",
                           .category = "0101",
                           .severity = 2,
                           .source = HT_SOURCE_HOTLINE,
                           .state = HT_STATE_CLOSED,
                           .reported_at = 1700000000,
                           .closed_at = 1700003600,
                           .state_at = HT_TIME_NONE,
                           .lon = 116.415,
                           .lat = 39.915};
    int64_t id, id2;
    assert_int_equal(
        ht_store_put_incident(f->s, &inc, "110101001", -1, &r, &id, &err),
        HT_OK);
    assert_int_equal(r, HT_PUT_INSERTED);
    assert_int_equal(
        ht_store_put_incident(f->s, &inc, "110101001", -1, &r, &id2, &err),
        HT_OK);
    assert_int_equal(r, HT_PUT_UNCHANGED);
    assert_int_equal(id, id2);
    inc.state = HT_STATE_EVALUATED;
    assert_int_equal(
        ht_store_put_incident(f->s, &inc, "110101001", -1, &r, &id2, &err),
        HT_OK);
    assert_int_equal(r, HT_PUT_UPDATED);
    /* Bad severity: refused, nothing written. */
    inc.severity = 4;
    inc.external_id = "A-2";
    assert_int_equal(
        ht_store_put_incident(f->s, &inc, NULL, -1, &r, &id2, &err), HT_EINVAL);
    assert_contains(err.msg, "severity 4");
    assert_int_equal(ht_store_commit(f->s, &err), HT_OK);
    int64_t n;
    assert_int_equal(ht_store_count(f->s, "incidents", &n, &err), HT_OK);
    assert_int_equal(n, 1);
    /* Only the change hutong saw is logged: evaluated (update). */
    assert_int_equal(ht_store_count(f->s, "incident_events", &n, &err), HT_OK);
    assert_int_equal(n, 1);
    assert_int_equal(ht_store_count(f->s, "users; DROP", &n, &err), HT_EINVAL);
}

static void test_store_rollback_leaves_nothing(void **state) {
    fixture *f = *state;
    ht_store_close(f->s);
    f->s = NULL;
    uint64_t before = ts_db_fingerprint(f->db);
    ht_error err = {0};
    assert_int_equal(ht_store_open(f->db, HT_STORE_WRITE, &f->s, &err), HT_OK);
    assert_int_equal(ht_store_begin(f->s, &err), HT_OK);
    assert_int_equal(ht_store_begin(f->s, &err), HT_EINTERNAL);
    ht_category_rec cat = {"05", NULL, "街面秩序", NULL, "cjt214"};
    ht_put_result r;
    assert_int_equal(ht_store_put_category(f->s, &cat, &r, &err), HT_OK);
    ht_store_rollback(f->s);
    ht_store_close(f->s);
    f->s = NULL;
    assert_true(ts_db_fingerprint(f->db) == before);
}

static ht_status locate_const(double lon, double lat, int64_t t, char code[64],
                              int64_t *street, void *ud, ht_error *err) {
    (void)lon;
    (void)lat;
    (void)t;
    (void)err;
    snprintf(code, 64, "%s", (const char *)ud);
    *street = -1;
    return HT_OK;
}

static void test_store_relocate_uses_the_spatial_index(void **state) {
    fixture *f = *state;
    ht_error err = {0};
    ht_put_result r;
    int64_t id;
    ht_store_begin(f->s, &err);
    ht_category_rec cat = {"05", NULL, "街面秩序", NULL, "cjt214"};
    ht_store_put_category(f->s, &cat, &r, &err);
    char eid[16];
    for (int k = 0; k < 10; k++) {
        snprintf(eid, sizeof eid, "E%d", k);
        ht_incident_rec inc = {.external_id = eid,
                               .category = "05",
                               .severity = 1,
                               .reported_at = 1700000000,
                               .closed_at = HT_TIME_NONE,
                               .state_at = HT_TIME_NONE,
                               .lon = 116.40 + k * 0.01,
                               .lat = 39.9};
        assert_int_equal(
            ht_store_put_incident(f->s, &inc, NULL, -1, &r, &id, &err), HT_OK);
    }
    ht_bbox b = {116.425, 39.8, 116.455, 40.0}; /* k = 3, 4, 5 */
    size_t changed;
    assert_int_equal(
        ht_store_relocate(f->s, &b, locate_const, "G1", &changed, &err), HT_OK);
    assert_int_equal(changed, 3);
    assert_int_equal(
        ht_store_relocate(f->s, &b, locate_const, "G1", &changed, &err), HT_OK);
    assert_int_equal(changed, 0);
    ht_store_commit(f->s, &err);
    ht_store_close(f->s);
    f->s = NULL;
    assert_int_equal(ts_db_int(f->db,
                               "SELECT count(*) FROM incidents WHERE "
                               "grid_code = 'G1'"),
                     3);
}

/* Put @n incidents on a pseudo-random spread around Dongcheng. */
static void put_many(ht_store *s, int first, int n) {
    ht_put_result r;
    int64_t id;
    char eid[24];
    uint64_t x = 0x9e3779b97f4a7c15ULL * (uint64_t)(first + 1);
    for (int k = first; k < first + n; k++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        snprintf(eid, sizeof eid, "P%d", k);
        ht_incident_rec inc = {
            .external_id = eid,
            .category = "05",
            .severity = 1,
            .reported_at = 1700000000,
            .closed_at = HT_TIME_NONE,
            .state_at = HT_TIME_NONE,
            .lon = 116.38 + (double)(x % 1000003) / 1000003.0 * 0.07,
            .lat = 39.85 + (double)(x / 1000003 % 999983) / 999983.0 * 0.12};
        assert_int_equal(
            ht_store_put_incident(s, &inc, NULL, -1, &r, &id, NULL), HT_OK);
    }
}

/* The R-tree answers every box query with a superset of the exact
 * answer, and SQLite's own check finds nothing wrong with it. */
static void check_index(const char *db, int64_t rows) {
    assert_db_text(db, "SELECT rtreecheck('idx_incidents_geom')", "ok");
    assert_int_equal(ts_db_int(db, "SELECT count(*) FROM idx_incidents_geom"),
                     rows);
    char sql[512];
    for (int k = 0; k < 12; k++) {
        double x0 = 116.38 + 0.005 * k, y0 = 39.85 + 0.009 * k;
        char cond[200];
        snprintf(cond, sizeof cond,
                 "xmin <= %.6f AND xmax >= %.6f AND ymin <= %.6f AND ymax "
                 ">= %.6f",
                 x0 + 0.01, x0, y0 + 0.01, y0);
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM incidents WHERE X(geom) BETWEEN %.6f "
                 "AND %.6f AND Y(geom) BETWEEN %.6f AND %.6f AND id NOT IN "
                 "(SELECT pkid FROM idx_incidents_geom WHERE %s)",
                 x0, x0 + 0.01, y0, y0 + 0.01, cond);
        assert_int_equal(ts_db_int(db, sql), 0);
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM incidents WHERE X(geom) BETWEEN %.6f "
                 "AND %.6f AND Y(geom) BETWEEN %.6f AND %.6f",
                 x0, x0 + 0.01, y0, y0 + 0.01);
        assert_true(ts_db_int(db, sql) > 0);
    }
}

/* PostgreSQL's bulk load: incidents held back, written in batches through
 * COPY, counted as the row-by-row path counts them; a repeat within the
 * load sees the earlier row; a rollback leaves nothing. */
static void bulk_through_copy(fixture *f) {
    ht_error err = {0};
    ht_put_result r;
    int64_t id;
    ht_store_begin(f->s, &err);
    ht_category_rec cat = {"05", NULL, "街面秩序", NULL, "cjt214"};
    ht_store_put_category(f->s, &cat, &r, &err);
    ht_store_commit(f->s, &err);
    assert_int_equal(ht_store_begin(f->s, &err), HT_OK);
    assert_int_equal(ht_store_bulk_begin(f->s, 9000, &err), HT_OK);
    put_many(f->s, 0, 9000);
    /* P5 again, moved: an update of the row above. */
    ht_incident_rec again = {.external_id = "P5",
                             .category = "05",
                             .severity = 2,
                             .reported_at = 1700000000,
                             .closed_at = HT_TIME_NONE,
                             .state_at = HT_TIME_NONE,
                             .lon = 116.4,
                             .lat = 39.9};
    assert_int_equal(
        ht_store_put_incident(f->s, &again, NULL, -1, &r, &id, &err), HT_OK);
    assert_int_equal(r, HT_PUT_PENDING);
    ht_import_counts c = {0};
    assert_int_equal(ht_store_bulk_flush(f->s, &c, &err), HT_OK);
    assert_int_equal(c.inserted, 9000);
    assert_int_equal(c.updated, 1);
    assert_int_equal(c.unchanged, 0);
    assert_int_equal(ht_store_commit(f->s, &err), HT_OK);
    assert_int_equal(ts_db_int(f->db, "SELECT count(*) FROM incidents"), 9000);
    assert_int_equal(ts_db_int(f->db,
                               "SELECT severity FROM incidents WHERE "
                               "external_id = 'P5'"),
                     2);
    /* The same rows again: unchanged; a rolled-back load: nothing. */
    uint64_t before = ts_db_fingerprint(f->db);
    assert_int_equal(ht_store_begin(f->s, &err), HT_OK);
    assert_int_equal(ht_store_bulk_begin(f->s, 9000, &err), HT_OK);
    put_many(f->s, 100, 5000);
    put_many(f->s, 20000, 5000);
    ht_store_rollback(f->s);
    assert_true(ts_db_fingerprint(f->db) == before);
}

static void test_store_bulk_mode_keeps_the_spatial_index(void **state) {
    fixture *f = *state;
    if (ts_pg()) {
        bulk_through_copy(f);
        return;
    }
    ht_error err = {0};
    ht_put_result r;
    const char *triggers =
        "SELECT count(*) FROM sqlite_master WHERE type = "
        "'trigger' AND tbl_name = 'incidents'";
    ht_store_close(f->s);
    int64_t ntrig = ts_db_int(f->db, triggers);
    assert_true(ntrig >= 6);
    assert_int_equal(ht_store_open(f->db, HT_STORE_WRITE, &f->s, &err), HT_OK);
    ht_store_begin(f->s, &err);
    ht_category_rec cat = {"05", NULL, "街面秩序", NULL, "cjt214"};
    ht_store_put_category(f->s, &cat, &r, &err);
    ht_store_commit(f->s, &err);
    /* A small load: rows indexed one by one at the end. */
    assert_int_equal(ht_store_begin(f->s, &err), HT_OK);
    assert_int_equal(ht_store_bulk_begin(f->s, 500, &err), HT_OK);
    assert_int_equal(ht_store_bulk_begin(f->s, 500, &err), HT_EINTERNAL);
    put_many(f->s, 0, 500);
    assert_int_equal(ht_store_commit(f->s, &err), HT_OK);
    ht_store_close(f->s);
    f->s = NULL;
    assert_int_equal(ts_db_int(f->db, triggers), ntrig);
    check_index(f->db, 500);
    /* A large one: the index is rebuilt, packed. */
    assert_int_equal(ht_store_open(f->db, HT_STORE_WRITE, &f->s, &err), HT_OK);
    ht_store_begin(f->s, &err);
    ht_store_bulk_begin(f->s, 20000, &err);
    put_many(f->s, 500, 20000);
    assert_int_equal(ht_store_commit(f->s, &err), HT_OK);
    ht_store_close(f->s);
    f->s = NULL;
    assert_int_equal(ts_db_int(f->db, triggers), ntrig);
    check_index(f->db, 20500);
    /* Triggers work again: an ordinary insert is indexed by them. */
    assert_int_equal(ht_store_open(f->db, HT_STORE_WRITE, &f->s, &err), HT_OK);
    ht_store_begin(f->s, &err);
    put_many(f->s, 20500, 10);
    ht_store_commit(f->s, &err);
    ht_store_close(f->s);
    f->s = NULL;
    check_index(f->db, 20510);
    /* A rolled-back bulk load leaves triggers and data as they were. */
    uint64_t before = ts_db_fingerprint(f->db);
    assert_int_equal(ht_store_open(f->db, HT_STORE_WRITE, &f->s, &err), HT_OK);
    ht_store_begin(f->s, &err);
    ht_store_bulk_begin(f->s, 40000, &err);
    put_many(f->s, 30000, 5000);
    ht_store_rollback(f->s);
    ht_store_close(f->s);
    f->s = NULL;
    assert_true(ts_db_fingerprint(f->db) == before);
    assert_int_equal(ts_db_int(f->db, triggers), ntrig);
}

/* Tokens live in a PostgreSQL database (every change bumps their version,
 * a name is taken once, malformed rows are refused by the table); a
 * SpatiaLite file keeps none and says where they are. */
static void test_store_tokens(void **state) {
    fixture *f = *state;
    ht_error err = {0};
    int64_t v0 = -1, v1 = -1, v2 = -1, v3 = -1;
    ht_tokens *t = NULL;
    if (!ts_pg()) {
        assert_int_equal(ht_store_tokens_version(f->s, &v0, &err), HT_EINVAL);
        assert_contains(err.msg, "tokens file");
        assert_int_equal(ht_store_tokens_load(f->s, &t, &v0, &err), HT_EINVAL);
        assert_null(t);
        return;
    }
    char tok[68], hash[65], tok2[68], hash2[65];
    assert_int_equal(ht_token_make("*", "ingest", tok, hash, &err), HT_OK);
    assert_int_equal(ht_token_make("110101001", "office", tok2, hash2, &err),
                     HT_OK);
    assert_int_equal(ht_store_tokens_version(f->s, &v0, &err), HT_OK);
    assert_int_equal(ht_store_token_add(f->s, hash, "*", true, "ingest", &err),
                     HT_OK);
    assert_int_equal(ht_store_tokens_version(f->s, &v1, &err), HT_OK);
    assert_true(v1 > v0);
    assert_int_equal(
        ht_store_token_add(f->s, hash2, "110101001", false, "ingest", &err),
        HT_EINVAL);
    assert_contains(err.msg, "revoke it first");
    assert_int_equal(
        ht_store_token_add(f->s, "zz", "110101001", false, "office", &err),
        HT_EINVAL);
    assert_int_equal(
        ht_store_token_add(f->s, hash2, "110101001", false, "office", &err),
        HT_OK);
    assert_int_equal(ht_store_tokens_load(f->s, &t, &v2, &err), HT_OK);
    assert_true(v2 > v1);
    assert_int_equal(ht_tokens_count(t), 2);
    ht_token_info who;
    assert_true(ht_tokens_check(t, tok2, &who));
    assert_string_equal(who.scope, "110101001");
    assert_false(who.write);
    assert_true(ht_tokens_check(t, tok, &who));
    assert_true(who.write);
    ht_tokens_free(t);
    size_t removed = 0;
    assert_int_equal(ht_store_token_revoke(f->s, "ingest", &removed, &err),
                     HT_OK);
    assert_int_equal(removed, 1);
    assert_int_equal(ht_store_token_revoke(f->s, "ingest", &removed, &err),
                     HT_OK);
    assert_int_equal(removed, 0);
    assert_int_equal(ht_store_tokens_load(f->s, &t, &v3, &err), HT_OK);
    assert_true(v3 > v2);
    assert_int_equal(ht_tokens_count(t), 1);
    assert_false(ht_tokens_check(t, tok, &who));
    ht_tokens_free(t);
    /* By hand in the table: the version moves too. */
    assert_int_equal(
        ts_db_int(f->db,
                  "WITH d AS (DELETE FROM hutong_tokens RETURNING 1) "
                  "SELECT count(*) FROM d"),
        1);
    assert_int_equal(ht_store_tokens_version(f->s, &v0, &err), HT_OK);
    assert_true(v0 > v3);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_store_schema_and_reopen, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_store_refuses_foreign_and_newer_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_grid_tree, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_upserts_report_what_they_did,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_rollback_leaves_nothing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_store_relocate_uses_the_spatial_index, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_store_bulk_mode_keeps_the_spatial_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_tokens, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
