/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: demo. */
#include <math.h>

#include "hutong/clock.h"
#include "hutong/datetime.h"
#include "hutong/demo.h"
#include "hutong/index.h"
#include "hutong/locate.h"
#include "hutong/stats.h"

#include "ht_test.h"

#define END_2026 1795824000 /* 2026-11-28T00:00:00Z */

typedef struct fixture {
    char *dir;
    char *db;
    ht_demo_stats stats;
} fixture;

static char *build(const char *dir, const char *name, uint64_t seed,
                   ht_demo_stats *stats) {
    char *db = ts_path(dir, name);
    ht_store *s;
    ht_error err = {0};
    ht_demo_opts o = {.seed = seed, .end = END_2026, .incidents = 4000};
    if (ht_store_open(db, HT_STORE_CREATE, &s, &err) != HT_OK ||
        ht_demo_build(s, &o, stats, &err) != HT_OK) {
        fail_msg("demo: %s", err.msg);
    }
    ht_store_close(s);
    return db;
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    f->dir = ts_tmpdir();
    f->db = build(f->dir, "demo.db", 0, &f->stats);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    ts_rmdir(f->dir);
    free(f->db);
    free(f->dir);
    free(f);
    return 0;
}

static void test_demo_hierarchy_and_codes(void **state) {
    fixture *f = *state;
    const char *db = f->db;
    assert_int_equal(f->stats.grids[HT_LEVEL_DISTRICT], 1);
    assert_int_equal(f->stats.grids[HT_LEVEL_STREET], 17);
    assert_int_equal(f->stats.grids[HT_LEVEL_COMMUNITY], 169);
    size_t units = f->stats.grids[HT_LEVEL_GRID];
    assert_true(units > 1800 && units < 2300);
    /* The real street office names and codes. */
    assert_db_text(db,
                   "SELECT name FROM grids WHERE code = "
                   "'110101016'",
                   "天坛街道");
    assert_int_equal(ts_db_int(db,
                               "SELECT count(*) FROM grids WHERE level = "
                               "'street' AND parent_code = '110101' AND "
                               "length(code) = 9"),
                     17);
    /* Communities are real ones, under their real street office. */
    assert_db_text(db,
                   "SELECT parent_code FROM grids WHERE "
                   "code = '110101001001'",
                   "110101001");
    assert_db_text(db,
                   "SELECT name FROM grids WHERE code = "
                   "'110101001001'",
                   "多福巷社区");
    /* Unit grids: 15 digits, prefixed by their community's code. */
    assert_int_equal(ts_db_int(db,
                               "SELECT count(*) FROM grids g JOIN grids "
                               "c ON c.code = g.parent_code WHERE "
                               "g.level = 'grid' AND c.level = "
                               "'community' AND length(g.code) = 15 AND "
                               "substr(g.code, 1, 12) = c.code AND "
                               "g.code GLOB '[0-9]*'"),
                     (int64_t)units);
    /* Every community has grids; populations add up the hierarchy. */
    assert_int_equal(ts_db_int(db,
                               "SELECT count(*) FROM grids c WHERE level "
                               "= 'community' AND NOT EXISTS (SELECT 1 "
                               "FROM grids g WHERE g.parent_code = "
                               "c.code)"),
                     0);
    int64_t pop = ts_db_int(db,
                            "SELECT population FROM grids WHERE level = "
                            "'district'");
    assert_true(pop > 690000 && pop < 720000);
    assert_int_equal(ts_db_int(db,
                               "SELECT sum(population) FROM grids WHERE "
                               "level = 'grid'"),
                     pop);
}

static void test_demo_grids_are_numbered_west_east_north_south(void **state) {
    fixture *f = *state;
    /* Within a community, each next grid is either east of the previous one
     * in the same row, or in a row further south. */
    int64_t bad = ts_db_int(
        f->db,
        "WITH g AS (SELECT code, parent_code AS c, "
        " CAST(((MbrMinY(geom) + MbrMaxY(geom)) / 2 - 39.854) / 0.0013 "
        " AS INTEGER) AS row, "
        " (MbrMinX(geom) + MbrMaxX(geom)) / 2 AS x FROM grids WHERE level = "
        " 'grid'), s AS (SELECT c, row, x, lag(row) OVER w AS prow, lag(x) "
        " OVER w AS px FROM g WINDOW w AS (PARTITION BY c ORDER BY code)) "
        "SELECT count(*) FROM s WHERE prow IS NOT NULL AND NOT "
        " ((row = prow AND x > px) OR row < prow)");
    assert_int_equal(bad, 0);
}

static void test_demo_levels_tile_without_gaps_or_overlaps(void **state) {
    fixture *f = *state;
    const char *db = f->db;
    double district = ts_db_double(db,
                                   "SELECT Area(geom, 1) FROM grids "
                                   "WHERE level = 'district'");
    assert_true(district > 39e6 && district < 45e6); /* about 41.8 km2 */
    const char *levels[] = {"street", "community", "grid"};
    for (int k = 0; k < 3; k++) {
        char sql[160];
        snprintf(sql, sizeof sql,
                 "SELECT sum(Area(geom, 1)) FROM grids WHERE level = '%s'",
                 levels[k]);
        double sum = ts_db_double(db, sql);
        /* Geodesic areas summed over thousands of polygons: allow for
         * rounding (1e-8 is 0.4 m2 here). */
        if (fabs(sum - district) / district > 1e-8) {
            fail_msg("%s areas add up to %.3f m2, district %.3f m2", levels[k],
                     sum, district);
        }
    }
    /* Each child lies inside its parent, and the geometries are valid. */
    assert_int_equal(ts_db_int(db,
                               "SELECT count(*) FROM grids c JOIN grids "
                               "p ON p.code = c.parent_code WHERE NOT "
                               "ST_CoveredBy(c.geom, p.geom)"),
                     0);
    assert_int_equal(ts_db_int(db,
                               "SELECT count(*) FROM grids WHERE NOT "
                               "ST_IsValid(geom)"),
                     0);
    /* Random points inside the district fall in exactly one grid of each
     * level (no gaps, no overlaps). */
    ht_store *s;
    ht_locator *l;
    assert_int_equal(ht_store_open(db, HT_STORE_READONLY, &s, NULL), HT_OK);
    assert_int_equal(ht_locator_load(s, 30, &l, NULL), HT_OK);
    ht_store_close(s);
    uint64_t x = 42;
    int inside = 0;
    for (int k = 0; k < 5000; k++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        double lon = 116.38 + (double)(x >> 40) / (1 << 24) * 0.06;
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        double lat = 39.85 + (double)(x >> 40) / (1 << 24) * 0.13;
        const char *d =
            ht_locator_find_grid(l, lon, lat, HT_TIME_NONE, HT_LEVEL_DISTRICT);
        if (!d) {
            continue;
        }
        inside++;
        const char *g =
            ht_locator_find_grid(l, lon, lat, HT_TIME_NONE, HT_LEVEL_GRID);
        const char *c =
            ht_locator_find_grid(l, lon, lat, HT_TIME_NONE, HT_LEVEL_COMMUNITY);
        const char *st =
            ht_locator_find_grid(l, lon, lat, HT_TIME_NONE, HT_LEVEL_STREET);
        assert_non_null(g);
        assert_non_null(c);
        assert_non_null(st);
        assert_memory_equal(g, c, 12);
        assert_memory_equal(c, st, 9);
    }
    assert_true(inside > 1000);
    ht_locator_free(l);
}

static void test_demo_incidents_and_streets(void **state) {
    fixture *f = *state;
    const char *db = f->db;
    assert_int_equal(f->stats.incidents, 4000);
    assert_int_equal(ts_db_int(db, "SELECT count(*) FROM incidents"), 4000);
    assert_int_equal(ts_db_int(db,
                               "SELECT count(*) FROM incidents WHERE "
                               "reported_at < 1795824000 - 365 * 86400 "
                               "OR reported_at >= 1795824000"),
                     0);
    assert_int_equal(ts_db_int(db,
                               "SELECT count(*) FROM incidents WHERE "
                               "category NOT IN (SELECT code FROM "
                               "categories)"),
                     0);
    /* Every incident lies in a unit grid; most sit on a street. */
    assert_int_equal(ts_db_int(db,
                               "SELECT count(*) FROM incidents i LEFT "
                               "JOIN grids g ON g.code = i.grid_code "
                               "WHERE g.level IS NOT 'grid'"),
                     0);
    assert_true(ts_db_int(db, "SELECT count(street_id) FROM incidents") > 2000);
    /* Heating complaints only in the heating season (Nov 15 .. Mar 15). */
    assert_int_equal(ts_db_int(db,
                               "SELECT count(*) FROM incidents WHERE "
                               "category = 'H02' AND "
                               "strftime('%m-%d', reported_at + 8 * "
                               "3600, 'unixepoch') BETWEEN '03-17' AND "
                               "'11-13'"),
                     0);
    /* Life cycle: closed ones have closed_at and events in order. */
    assert_int_equal(ts_db_int(db,
                               "SELECT count(*) FROM incidents WHERE "
                               "(status IN ('closed', 'evaluated')) != "
                               "(closed_at IS NOT NULL)"),
                     0);
    assert_int_equal(ts_db_int(db,
                               "SELECT count(*) FROM incident_events e "
                               "JOIN incidents i ON i.id = "
                               "e.incident_id WHERE e.at < "
                               "i.reported_at OR e.at > 1795824000"),
                     0);
    assert_int_equal(ts_db_int(db, "SELECT count(*) FROM incident_events"),
                     (int64_t)f->stats.events);
    /* A street network with hutongs, named like Beijing's. */
    assert_true(f->stats.streets > 2000);
    assert_true(ts_db_int(db,
                          "SELECT count(*) FROM streets WHERE kind = "
                          "'hutong' AND name LIKE '%胡同'") > 300);
    assert_true(ts_db_int(db,
                          "SELECT count(*) FROM streets WHERE name = "
                          "'东四头条'") > 0);
}

static void test_demo_is_deterministic_and_refuses_full_db(void **state) {
    fixture *f = *state;
    ht_demo_stats st;
    char *again = build(f->dir, "again.db", 0, &st);
    assert_true(ts_db_fingerprint(again) != 0);
    /* Timestamps of SpatiaLite's bookkeeping differ; compare the data. */
    const char *q =
        "SELECT sum(length(AsBinary(geom)) * rowid) + "
        "sum(unicode(code)) FROM grids";
    assert_int_equal(ts_db_int(again, q), ts_db_int(f->db, q));
    const char *qi =
        "SELECT total(X(geom) * id) + total(reported_at % 9973) "
        "+ total(unicode(category) * severity) FROM incidents";
    assert_true(ts_db_double(again, qi) == ts_db_double(f->db, qi));
    const char *qs = "SELECT total(GLength(geom) * id) FROM streets";
    assert_true(ts_db_double(again, qs) == ts_db_double(f->db, qs));
    char *other = build(f->dir, "other.db", 7, &st);
    assert_true(ts_db_double(other, qi) != ts_db_double(f->db, qi));
    /* A database that holds data is refused and left as it was. */
    ht_store *s;
    ht_error err = {0};
    uint64_t before = ts_db_fingerprint(again);
    assert_int_equal(ht_store_open(again, HT_STORE_WRITE, &s, &err), HT_OK);
    ht_demo_opts o = {.end = END_2026, .incidents = 10};
    assert_int_equal(ht_demo_build(s, &o, NULL, &err), HT_EINVAL);
    assert_contains(err.msg, "empty database");
    ht_store_close(s);
    assert_true(ts_db_fingerprint(again) == before);
    free(again);
    free(other);
}

/* Stats by department and by grid of a demo of the store, and its events
 * (caller frees). */
static char *life_cycle_digest(const char *db) {
    ht_store *s;
    ht_error err = {0};
    ht_index *ix;
    assert_int_equal(ht_store_open(db, HT_STORE_READONLY, &s, &err), HT_OK);
    assert_int_equal(ht_index_load(s, &ix, &err), HT_OK);
    ht_filter all = ht_filter_all();
    char *parts[2];
    ht_stats_by by[2] = {HT_STATS_BY_DEPARTMENT, HT_STATS_BY_GRID};
    for (int k = 0; k < 2; k++) {
        ht_stats_row *rows;
        size_t n;
        assert_int_equal(
            ht_stats_compute_ix(s, ix, &all, by[k], &rows, &n, &err), HT_OK);
        parts[k] = ht_stats_rows_json(rows, n, 0, by[k], &all);
        free(rows);
    }
    int64_t events = 0;
    assert_int_equal(ht_store_count(s, "incident_events", &events, &err),
                     HT_OK);
    size_t len = strlen(parts[0]) + strlen(parts[1]) + 64;
    char *out = malloc(len);
    snprintf(out, len, "%s\n%s\n%lld", parts[0], parts[1], (long long)events);
    free(parts[0]);
    free(parts[1]);
    ht_index_unref(ix);
    ht_store_close(s);
    return out;
}

/* On PostgreSQL the demo sends incidents and their events in batches:
 * what it writes reads back as the SpatiaLite demo's does, event by event
 * (the department that took each incident, when it was dispatched and
 * first reported from the scene, as the medians and rates by department
 * show them). */
static void test_demo_batches_match_row_by_row(void **state) {
    fixture *f = *state;
    if (!ts_pg()) {
        skip(); /* SpatiaLite writes row by row */
    }
    char *url = ts_pg_new_db();
    ht_store *s;
    ht_error err = {0};
    ht_demo_stats st;
    ht_demo_opts o = {.seed = 0, .end = END_2026, .incidents = 4000};
    assert_int_equal(ht_store_open(url, HT_STORE_CREATE, &s, &err), HT_OK);
    assert_int_equal(ht_demo_build(s, &o, &st, &err), HT_OK);
    ht_store_close(s);
    assert_int_equal(st.events, f->stats.events);
    ht_clock_set(END_2026 + 3 * 86400); /* both read at one time */
    char *want = life_cycle_digest(f->db), *got = life_cycle_digest(url);
    ht_clock_set(0);
    assert_string_equal(got, want);
    /* An event by external id outside such a load is refused. */
    assert_int_equal(ht_store_open(url, HT_STORE_WRITE, &s, &err), HT_OK);
    assert_int_equal(ht_store_begin(s, &err), HT_OK);
    assert_int_equal(
        ht_store_put_event_pending(s, "x", HT_STATE_HANDLING, 1, NULL, &err),
        HT_EINVAL);
    assert_contains(err.msg, "bulk load");
    ht_store_rollback(s);
    ht_store_close(s);
    free(want);
    free(got);
    ts_pg_drop_db(url);
    free(url);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_demo_hierarchy_and_codes),
        cmocka_unit_test(test_demo_grids_are_numbered_west_east_north_south),
        cmocka_unit_test(test_demo_levels_tile_without_gaps_or_overlaps),
        cmocka_unit_test(test_demo_incidents_and_streets),
        cmocka_unit_test(test_demo_is_deterministic_and_refuses_full_db),
        cmocka_unit_test(test_demo_batches_match_row_by_row),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
