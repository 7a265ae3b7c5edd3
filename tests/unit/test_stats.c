/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: stats. */
#include <math.h>
#include <sqlite3.h>

#include "hutong/clock.h"
#include "hutong/datetime.h"
#include "hutong/demo.h"
#include "hutong/import.h"
#include "hutong/index.h"
#include "hutong/stats.h"

#include "ht_test.h"
#include "stats_int.h"
#include "store_int.h"

static ts_store *fx;

/* A street office S1 (0.1 x 0.1 degrees) of two communities, C1 to the
 * west and C2 to the east; eight incidents, one outside every grid. */
static int setup(void **state) {
    (void)state;
    fx = ts_store_new();
    return ts_load_office(
        fx,
        "id,lon,lat,category,severity,source,status,reported_at,"
        "closed_at\n"
        "a,116.31,39.81,0101,1,hotline,reported,2026-01-10,\n"
        "b,116.32,39.82,0105,2,patrol,closed,2026-01-20,"
        "2026-01-21\n"
        "c,116.36,39.83,0503,3,app,dispatched,2026-02-10,\n"
        "d,116.37,39.84,0101,1,hotline,evaluated,2026-02-20,"
        "2026-02-20T12:00:00Z\n"
        "e,116.38,39.85,0503,2,whistle,handling,2026-03-01,\n"
        "f,116.50,39.86,01,1,other,reported,2026-03-05,\n"
        "g,116.39,39.87,0503,1,app,closed,2026-03-02,2026-03-04\n"
        "h,116.33,39.88,0503,2,patrol,reported,2026-03-03,\n");
}

static int teardown(void **state) {
    (void)state;
    ts_store_free(fx);
    return 0;
}

static ht_stats_row *run(const char *const *kv, size_t nkv, ht_stats_by by,
                         size_t *n) {
    ht_filter f = ht_filter_all();
    for (size_t k = 0; k + 1 < nkv; k += 2) {
        assert_int_equal(ht_filter_set(&f, kv[k], kv[k + 1], 0, NULL), HT_OK);
    }
    ht_stats_row *r = NULL;
    ht_error err = {0};
    if (ht_stats_compute(fx->s, &f, by, &r, n, &err) != HT_OK) {
        fail_msg("%s", err.msg);
    }
    return r;
}

static bool near(double a, double b, double tol) {
    return fabs(a - b) <= tol;
}

static void test_stats_by_street(void **state) {
    (void)state;
    size_t n;
    ht_stats_row *r = run(NULL, 0, HT_STATS_BY_STREET, &n);
    assert_int_equal(n, 2);
    assert_string_equal(r[0].key, "S1");
    assert_string_equal(r[0].name, "一街道");
    assert_int_equal(r[0].rank, 1);
    assert_int_equal(r[0].count, 7);
    assert_true(near(r[0].share, 7.0 / 8, 1e-12));
    assert_int_equal(r[0].prev, -1);
    assert_true(isnan(r[0].change_pct));
    /* No rules: what is done is on time, the rest pending. Five of seven
     * left "reported": the one imported as dispatched is on time, the four
     * imported further on have no known dispatch time; three closed, one
     * evaluated, none with a verdict. */
    assert_int_equal(r[0].response_decided, 1);
    assert_true(near(r[0].response, 1, 1e-12));
    assert_int_equal(r[0].resolution_decided, 3);
    assert_true(near(r[0].resolution, 1, 1e-12));
    assert_true(isnan(r[0].satisfaction));
    assert_int_equal(r[0].overdue, 0);
    assert_true(near(r[0].evaluated, 1.0 / 7, 1e-12));
    /* Closed after 24, 12 and 48 hours. */
    assert_true(near(r[0].median_close_h, 24, 1e-9));
    assert_true(near(r[0].per_1000, 0.7, 1e-12));
    /* 0.1 x 0.1 degrees at 39.85 N is about 11.10 x 8.55 km. */
    assert_true(near(r[0].per_km2, 7 / 94.9, 7 / 94.9 * 0.01));
    assert_string_equal(r[1].key, "-");
    assert_string_equal(r[1].name, "(no grid)");
    assert_int_equal(r[1].count, 1);
    assert_true(isnan(r[1].median_close_h));
    free(r);
}

static void test_stats_groupings(void **state) {
    (void)state;
    size_t n;
    ht_stats_row *r = run(NULL, 0, HT_STATS_BY_COMMUNITY, &n);
    assert_int_equal(n, 3);
    assert_string_equal(r[0].key, "C2");
    assert_int_equal(r[0].count, 4);
    assert_string_equal(r[1].key, "C1");
    assert_int_equal(r[1].count, 3);
    assert_true(isnan(r[1].per_1000)); /* no population */
    assert_int_equal(r[2].rank, 3);
    free(r);
    /* Categories roll up to the major one; a tie ranks by code. */
    r = run(NULL, 0, HT_STATS_BY_CATEGORY, &n);
    assert_int_equal(n, 2);
    assert_string_equal(r[0].key, "01");
    assert_string_equal(r[0].name, "市容环境");
    assert_int_equal(r[0].count, 4);
    assert_string_equal(r[1].key, "05");
    assert_int_equal(r[1].count, 4);
    free(r);
    /* Months stay in order and compare with the month before. */
    r = run(NULL, 0, HT_STATS_BY_MONTH, &n);
    assert_int_equal(n, 3);
    assert_string_equal(r[0].key, "2026-01");
    assert_int_equal(r[0].prev, -1);
    assert_string_equal(r[2].key, "2026-03");
    assert_int_equal(r[2].count, 4);
    assert_int_equal(r[2].rank, 1);
    assert_int_equal(r[2].prev, 2);
    assert_true(near(r[2].change_pct, 100, 1e-9));
    free(r);
}

/* Names, areas and residents are remembered by a connection, and follow
 * grids and categories changed through another one. */
static void test_stats_names_follow_changes(void **state) {
    (void)state;
    ts_store *g = ts_store_new();
    assert_int_equal(ts_load_office(g,
                                    "id,lon,lat,category,severity,source,"
                                    "status,reported_at\n"
                                    "a,116.31,39.81,0101,1,hotline,"
                                    "reported,2026-01-10\n"),
                     0);
    ht_filter f = ht_filter_all();
    ht_error err = {0};
    ht_stats_row *r = NULL;
    size_t n = 0;
    const char *const keys[] = {"S1", "C1", "nowhere"};
    bool found[3];
    ht_group_info info[3];
    assert_int_equal(
        ht_store_group_infos(g->s, HT_GROUP_GRID, keys, 3, found, info, &err),
        HT_OK);
    assert_true(found[0] && found[1] && !found[2]);
    /* no reading left open (SQLite's: PostgreSQL's are asked each alone) */
    assert_true(g->s->pg || sqlite3_get_autocommit(g->s->db));
    assert_string_equal(info[0].name, "一街道");
    assert_int_equal(info[0].population, 10000);
    assert_int_equal(
        ht_stats_compute(g->s, &f, HT_STATS_BY_STREET, &r, &n, &err), HT_OK);
    assert_string_equal(r[0].name, "一街道");
    double per_km2 = r[0].per_km2, per_1000 = r[0].per_1000;
    free(r);
    /* Another connection renames the office, halves it and counts more
     * residents; then renames a major category. */
    ht_store *w = NULL;
    assert_int_equal(ht_store_open(g->db, HT_STORE_WRITE, &w, &err), HT_OK);
    char *gp = ts_path(g->dir, "renamed.geojson");
    ts_write(gp,
             "{\"type\":\"FeatureCollection\",\"features\":["
             "{\"type\":\"Feature\",\"properties\":{\"code\":\"S1\","
             "\"name\":\"新街道\",\"level\":\"street\",\"population\":"
             "20000},\"geometry\":{\"type\":\"Polygon\",\"coordinates\":"
             "[[[116.3,39.8],[116.35,39.8],[116.35,39.9],[116.3,39.9],"
             "[116.3,39.8]]]}}]}");
    ht_import_opts go = {.kind = HT_IMPORT_GRIDS};
    assert_int_equal(ht_import_file(w, gp, &go, NULL, &err), HT_OK);
    ht_store_close(w);
    assert_int_equal(
        ht_stats_compute(g->s, &f, HT_STATS_BY_STREET, &r, &n, &err), HT_OK);
    assert_string_equal(r[0].name, "新街道");
    assert_true(near(r[0].per_km2, 2 * per_km2, per_km2 * 1e-6));
    assert_true(near(r[0].per_1000, per_1000 / 2, 1e-12));
    free(r);
    assert_int_equal(ht_store_open(g->db, HT_STORE_WRITE, &w, &err), HT_OK);
    char *cp = ts_path(g->dir, "renamed.csv");
    ts_write(cp, "code,parent,name\n01,,城市环境\n");
    ht_import_opts co = {.kind = HT_IMPORT_CATEGORIES};
    if (ht_import_file(w, cp, &co, NULL, &err) != HT_OK) {
        fail_msg("%s", err.msg);
    }
    ht_store_close(w);
    assert_int_equal(
        ht_stats_compute(g->s, &f, HT_STATS_BY_CATEGORY, &r, &n, &err), HT_OK);
    assert_string_equal(r[0].name, "城市环境");
    free(r);
    free(gp);
    free(cp);
    ts_store_free(g);
}

static void test_stats_filters_and_change(void **state) {
    (void)state;
    /* March against the 31 days before it. */
    const char *const march[] = {"from", "2026-03-01", "to", "2026-04-01"};
    size_t n;
    ht_stats_row *r = run(march, 4, HT_STATS_BY_COMMUNITY, &n);
    assert_int_equal(n, 3);
    assert_string_equal(r[0].key, "C2");
    assert_int_equal(r[0].count, 2);
    assert_int_equal(r[0].prev, 2);
    assert_true(near(r[0].change_pct, 0, 1e-12));
    assert_string_equal(r[1].key, "-");
    assert_string_equal(r[2].key, "C1");
    assert_int_equal(r[2].prev, 0);
    assert_true(isnan(r[2].change_pct));
    free(r);
    /* The same filters as the maps: a category and a grid. */
    const char *const kv[] = {"category", "05", "grid", "C2", "severity", "2"};
    r = run(kv, 6, HT_STATS_BY_GRID, &n);
    assert_int_equal(n, 1);
    assert_string_equal(r[0].key, "C2");
    assert_int_equal(r[0].count, 2); /* c (3) and e (2); g is 1 */
    free(r);
    /* A filter nothing passes: no rows, not an error. */
    const char *const none[] = {"from", "2030-01-01", "to", "2030-02-01"};
    r = run(none, 4, HT_STATS_BY_STREET, &n);
    assert_int_equal(n, 0);
    free(r);
    const char *const st[] = {"status", "reported", "source", "patrol"};
    r = run(st, 4, HT_STATS_BY_STREET, &n);
    assert_int_equal(n, 1);
    assert_int_equal(r[0].count, 1);
    assert_int_equal(r[0].response_decided, 0); /* pending: no rule */
    assert_true(isnan(r[0].response));
    free(r);
}

/* The three rates by hand: rules for 01 (2 h to dispatch, 24 h to close;
 * severity 3: 1 h and 4 h), steps at exact seconds, the clock set 30 h
 * after the reports. */
static void test_stats_three_rates(void **state) {
    (void)state;
    ts_store *g = ts_store_new();
    int64_t R = ht_datetime_from_civil(2026, 3, 1, 0, 0, 0), H = 3600;
    char csv[2048], t0[32], te[32];
    ht_datetime_format(R, t0, sizeof t0);
    ht_datetime_format(R + 29 * H, te, sizeof te);
    snprintf(csv, sizeof csv,
             "id,lon,lat,category,severity,source,status,reported_at,"
             "whistle_kind\n"
             "a,116.31,39.81,0101,1,hotline,reported,%s,\n"
             "b,116.32,39.82,0101,1,hotline,reported,%s,\n"
             "c,116.33,39.83,0105,3,patrol,reported,%s,\n"
             "d,116.34,39.84,0101,1,app,reported,%s,\n"
             "e,116.35,39.85,0101,1,app,reported,%s,\n"
             "f,116.36,39.86,0503,1,app,reported,%s,\n"
             "g,116.37,39.87,0101,1,hotline,reported,%s,\n"
             "w,116.38,39.88,0101,1,whistle,reported,%s,攻坚哨\n",
             t0, t0, t0, t0, te, t0, t0, t0);
    assert_int_equal(ts_load_office(g, csv), 0);
    char *rules = ts_path(g->dir, "rules.csv");
    ts_write(rules,
             "category,severity,response_h,resolution_h\n"
             "01,0,2,24\n"
             "01,3,1,4\n");
    ht_import_opts ro = {.kind = HT_IMPORT_RULES};
    ht_error err = {0};
    assert_int_equal(ht_import_file(g->s, rules, &ro, NULL, &err), HT_OK);
    free(rules);
    /* Severity 3 takes its own rule; 0101 inherits 01's. */
    assert_int_equal(
        ts_db_int(g->db,
                  "SELECT resolution_due - reported_at FROM incidents "
                  "WHERE external_id = 'c'"),
        4 * H);
    assert_int_equal(
        ts_db_int(g->db,
                  "SELECT response_due - reported_at FROM incidents "
                  "WHERE external_id = 'a'"),
        2 * H);
    assert_int_equal(ts_db_int(g->db,
                               "SELECT count(*) FROM incidents WHERE "
                               "external_id = 'f' AND response_due "
                               "IS NULL"),
                     1);
    struct step {
        const char *id;
        ht_state to;
        int64_t at;
        const char *dept;
    } steps[] = {
        /* dispatched at the deadline's second; arrived an hour later */
        {"a", HT_STATE_DISPATCHED, R + 2 * H, "城管委"},
        {"a", HT_STATE_HANDLING, R + 3 * H, "城管委"},
        {"a", HT_STATE_CLOSED, R + 24 * H, "城管委"},
        {"a", HT_STATE_EVALUATED, R + 25 * H, NULL},
        {"b", HT_STATE_DISPATCHED, R + 2 * H + 1, "城管委"}, /* a second late */
        {"b", HT_STATE_CLOSED, R + 24 * H + 1, "城管委"},
        {"b", HT_STATE_EVALUATED, R + 25 * H, NULL},
        {"c", HT_STATE_DISPATCHED, R + H / 2, "园林局"},
        {"c", HT_STATE_HANDLING, R + H, "园林局"},
        {"f", HT_STATE_DISPATCHED, R + 10 * H, "城管委"},
        {"f", HT_STATE_HANDLING, R + 14 * H, "城管委"},
        {"g", HT_STATE_DISPATCHED, R + H, "城管委"},
        {"g", HT_STATE_HANDLING, R + 2 * H, "城管委"},
        {"g", HT_STATE_CLOSED, R + 10 * H, "城管委"},
        {"g", HT_STATE_EVALUATED, R + 11 * H, NULL},
    };
    assert_int_equal(ht_store_begin(g->s, &err), HT_OK);
    for (size_t k = 0; k < sizeof steps / sizeof *steps; k++) {
        bool found;
        ht_incident_head head;
        assert_int_equal(
            ht_store_find_incident(g->s, steps[k].id, &found, &head, &err),
            HT_OK);
        assert_true(found);
        assert_int_equal(
            ht_store_step_incident(g->s, head.id, steps[k].to, steps[k].at,
                                   steps[k].dept, &err),
            HT_OK);
    }
    assert_int_equal(ht_store_commit(g->s, &err), HT_OK);
    /* The verdicts, as an import of the evaluated incidents. */
    char *ev = ts_path(g->dir, "ev.csv"), ca[32], cb[32], cg[32];
    ht_datetime_format(R + 24 * H, ca, sizeof ca);
    ht_datetime_format(R + 24 * H + 1, cb, sizeof cb);
    ht_datetime_format(R + 10 * H, cg, sizeof cg);
    snprintf(csv, sizeof csv,
             "id,lon,lat,category,severity,source,status,reported_at,"
             "closed_at,satisfaction\n"
             "a,116.31,39.81,0101,1,hotline,evaluated,%s,%s,满意\n"
             "b,116.32,39.82,0101,1,hotline,evaluated,%s,%s,unsatisfied\n"
             "g,116.37,39.87,0101,1,hotline,evaluated,%s,%s,基本满意\n",
             t0, ca, t0, cb, t0, cg);
    ts_write(ev, csv);
    ht_import_opts io = {.kind = HT_IMPORT_INCIDENTS};
    assert_int_equal(ht_import_file(g->s, ev, &io, NULL, &err), HT_OK);
    free(ev);
    ht_clock_set(R + 30 * H);
    ht_filter f = ht_filter_all();
    ht_stats_row *r = NULL;
    size_t n;
    assert_int_equal(
        ht_stats_compute(g->s, &f, HT_STATS_BY_STREET, &r, &n, &err), HT_OK);
    assert_int_equal(n, 1);
    /* Response: a (at the second), c, f (no rule), g on time; b a second
     * late, d and w never dispatched and past 2 h; e not yet due. */
    assert_int_equal(r[0].response_on_time, 4);
    assert_int_equal(r[0].response_decided, 7);
    assert_true(near(r[0].response, 4.0 / 7, 1e-12));
    /* Resolution: a, g on time; b late; c open past its 4 h; d and w open
     * past 24 h; e and f pending. */
    assert_int_equal(r[0].resolution_on_time, 2);
    assert_int_equal(r[0].resolution_decided, 6);
    assert_true(near(r[0].resolution, 2.0 / 6, 1e-12));
    /* Satisfaction: 满意 and 基本满意 of three verdicts. */
    assert_int_equal(r[0].satisfied, 2);
    assert_int_equal(r[0].rated, 3);
    assert_true(near(r[0].satisfaction, 2.0 / 3, 1e-12));
    assert_int_equal(r[0].overdue, 3); /* c, d and w */
    assert_int_equal(r[0].open, 5);    /* c, d, e, f, w */
    free(r);
    /* The departments' scorecard (一哨一考). 城管委: a, b, f, g, arriving
     * after 1, 4 and 1 hours (b never reported arriving); 园林局: c, after
     * half an hour, open past its deadline; d, e and the whistle w were
     * never dispatched. */
    assert_int_equal(
        ht_stats_compute(g->s, &f, HT_STATS_BY_DEPARTMENT, &r, &n, &err),
        HT_OK);
    assert_int_equal(n, 3);
    assert_string_equal(r[0].key, "城管委");
    assert_int_equal(r[0].count, 4);
    assert_int_equal(r[0].open, 1);
    assert_int_equal(r[0].overdue, 0);
    assert_true(near(r[0].median_arrive_h, 1, 1e-12));
    assert_true(near(r[0].p90_arrive_h, 4, 1e-12));
    assert_int_equal(r[0].response_on_time, 3);
    assert_int_equal(r[0].response_decided, 4);
    assert_int_equal(r[0].satisfied, 2);
    assert_int_equal(r[0].rated, 3);
    assert_string_equal(r[1].key, "-");
    assert_string_equal(r[1].name, "(not dispatched)");
    assert_int_equal(r[1].count, 3);
    assert_int_equal(r[1].whistles[0], 1);
    assert_int_equal(r[1].whistles[HT_WHISTLE_TOUGH], 1);
    assert_int_equal(r[1].whistles_decided, 1);
    assert_int_equal(r[1].whistles_on_time, 0);
    assert_true(isnan(r[1].median_arrive_h));
    assert_string_equal(r[2].key, "园林局");
    assert_true(near(r[2].median_arrive_h, 0.5, 1e-12));
    assert_int_equal(r[2].overdue, 1);
    free(r);
    /* The street office as the party that whistles: one whistle blown,
     * not answered in time. */
    ht_filter wf = ht_filter_all();
    assert_int_equal(ht_filter_set(&wf, "source", "whistle", 0, NULL), HT_OK);
    assert_int_equal(
        ht_stats_compute(g->s, &wf, HT_STATS_BY_STREET, &r, &n, &err), HT_OK);
    assert_int_equal(n, 1);
    assert_int_equal(r[0].whistles[0], 1);
    assert_int_equal(r[0].response_decided, 1);
    assert_int_equal(r[0].response_on_time, 0);
    free(r);
    /* A second before d's response deadline it was still pending. */
    ht_clock_set(R + 2 * H);
    assert_int_equal(
        ht_stats_compute(g->s, &f, HT_STATS_BY_STREET, &r, &n, &err), HT_OK);
    assert_int_equal(r[0].overdue, 0);
    assert_int_equal(r[0].response_decided, 5); /* d, e, w pending */
    free(r);
    ht_clock_set(0);
    /* Bad input: a clear error, the data untouched. */
    uint64_t before = ts_db_fingerprint(g->db);
    const char *bad_rules[] = {
        "category,severity,response_h,resolution_h\n01,0,30,24\n",
        "category,severity,response_h,resolution_h\n01,4,1,24\n",
        "category,severity,response_h,resolution_h\n99,0,1,24\n",
        "category,severity,response_h,resolution_h\n01,0,0,24\n",
        "category,severity,response_h\n01,0,1\n"};
    const char *says[] = {"resolution deadline", "severity", "99",
                          "response deadline", "resolution_h"};
    char *bad = ts_path(g->dir, "bad.csv");
    for (size_t k = 0; k < sizeof bad_rules / sizeof *bad_rules; k++) {
        ts_write(bad, bad_rules[k]);
        assert_int_equal(ht_import_file(g->s, bad, &ro, NULL, &err), HT_EINVAL);
        assert_contains(err.msg, says[k]);
    }
    ts_write(bad,
             "id,lon,lat,category,status,reported_at,satisfaction\n"
             "z,116.31,39.81,0101,closed,2026-03-01,满意\n");
    assert_int_equal(ht_import_file(g->s, bad, &io, NULL, &err), HT_EINVAL);
    assert_contains(err.msg, "evaluated");
    ts_write(bad,
             "id,lon,lat,category,status,reported_at,satisfaction\n"
             "z,116.31,39.81,0101,evaluated,2026-03-01,happy\n");
    assert_int_equal(ht_import_file(g->s, bad, &io, NULL, &err), HT_EINVAL);
    assert_contains(err.msg, "happy");
    assert_true(ts_db_fingerprint(g->db) == before);
    free(bad);
    ts_store_free(g);
}

/* A file of schema 1 with a life-cycle log: migrated on opening, each
 * incident's dispatch time and department taken from the log. */
static void test_stats_migration_from_v1(void **state) {
    (void)state;
    if (ts_pg()) {
        skip(); /* schema 1 was a SpatiaLite file's */
    }
    ts_store *g = ts_store_new();
    assert_int_equal(
        ts_load_office(g,
                       "id,lon,lat,category,severity,source,status,"
                       "reported_at\n"
                       "a,116.31,39.81,0101,1,hotline,reported,2026-03-01\n"
                       "b,116.32,39.82,0101,1,hotline,reported,2026-03-01\n"),
        0);
    ht_error err = {0};
    bool found;
    ht_incident_head head;
    assert_int_equal(ht_store_find_incident(g->s, "a", &found, &head, &err),
                     HT_OK);
    int64_t R = ht_datetime_from_civil(2026, 3, 1, 0, 0, 0);
    assert_int_equal(ht_store_begin(g->s, &err), HT_OK);
    assert_int_equal(ht_store_step_incident(g->s, head.id, HT_STATE_DISPATCHED,
                                            R + 600, "园林局", &err),
                     HT_OK);
    assert_int_equal(ht_store_step_incident(g->s, head.id, HT_STATE_HANDLING,
                                            R + 1800, NULL, &err),
                     HT_OK);
    assert_int_equal(ht_store_step_incident(g->s, head.id, HT_STATE_CLOSED,
                                            R + 7200, NULL, &err),
                     HT_OK);
    assert_int_equal(ht_store_commit(g->s, &err), HT_OK);
    assert_int_equal(ts_db_int(g->db,
                               "SELECT handling_at FROM incidents "
                               "WHERE external_id = 'a'"),
                     R + 1800);
    ht_store_close(g->s);
    g->s = NULL;
    sqlite3 *db;
    sqlite3_open(g->db, &db);
    assert_int_equal(sqlite3_exec(db, ts_schema_v1_sql, NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(ht_store_open(g->db, HT_STORE_WRITE, &g->s, &err), HT_OK);
    assert_int_equal(ht_store_schema_version(g->s), HT_STORE_SCHEMA_VERSION);
    assert_int_equal(ts_db_int(g->db,
                               "SELECT dispatched_at FROM incidents "
                               "WHERE external_id = 'a'"),
                     R + 600);
    /* (v4) when the department arrived, from the log too */
    assert_int_equal(ts_db_int(g->db,
                               "SELECT handling_at FROM incidents "
                               "WHERE external_id = 'a'"),
                     R + 1800);
    char *dept = ts_db_text(
        g->db, "SELECT department FROM incidents WHERE external_id = 'a'");
    assert_string_equal(dept, "园林局");
    free(dept);
    assert_int_equal(ts_db_int(g->db,
                               "SELECT count(*) FROM incidents WHERE "
                               "external_id = 'b' AND dispatched_at "
                               "IS NULL AND response_due IS NULL"),
                     1);
    /* Rules imported afterwards give every incident its deadlines. */
    char *rules = ts_path(g->dir, "rules.csv");
    ts_write(rules, "category,response_h,resolution_h\n01,2,24\n");
    ht_import_opts ro = {.kind = HT_IMPORT_RULES};
    assert_int_equal(ht_import_file(g->s, rules, &ro, NULL, &err), HT_OK);
    assert_int_equal(ts_db_int(g->db,
                               "SELECT count(*) FROM incidents WHERE "
                               "resolution_due = reported_at + 86400"),
                     2);
    free(rules);
    ts_store_free(g);
}

static void test_stats_bad_input(void **state) {
    (void)state;
    uint64_t before = ts_db_fingerprint(fx->db);
    ht_error err = {0};
    ht_stats_by by;
    assert_int_equal(ht_stats_by_parse("ward", &by, &err), HT_EINVAL);
    assert_contains(err.msg, "ward");
    ht_filter f = ht_filter_all();
    snprintf(f.category[0], sizeof f.category[0], "%s", "9999");
    f.ncategory = 1;
    ht_stats_row *r = NULL;
    size_t n = 5;
    assert_int_equal(
        ht_stats_compute(fx->s, &f, HT_STATS_BY_STREET, &r, &n, &err),
        HT_EINVAL);
    assert_contains(err.msg, "9999");
    assert_null(r);
    assert_int_equal(n, 0);
    f = ht_filter_all();
    snprintf(f.grid, sizeof f.grid, "%s", "C9");
    assert_int_equal(
        ht_stats_compute(fx->s, &f, HT_STATS_BY_STREET, &r, &n, &err),
        HT_EINVAL);
    assert_contains(err.msg, "C9");
    ht_topic *t = NULL;
    assert_int_equal(ht_stats_topics(fx->s, "2026-3", HT_STATS_BY_STREET, NULL,
                                     1, 10, &t, &n, &err),
                     HT_EINVAL);
    assert_int_equal(ht_stats_topics(fx->s, "2026-13", HT_STATS_BY_STREET, NULL,
                                     1, 10, &t, &n, &err),
                     HT_EINVAL);
    assert_int_equal(ht_stats_topics(fx->s, "2026-03", HT_STATS_BY_GRID, NULL,
                                     1, 10, &t, &n, &err),
                     HT_EINVAL);
    assert_null(t);
    ts_store_reopen(fx);
    assert_true(ts_db_fingerprint(fx->db) == before);
}

static void test_stats_topics(void **state) {
    (void)state;
    ht_topic *t = NULL;
    size_t n;
    ht_error err = {0};
    assert_int_equal(ht_stats_topics(fx->s, "2026-03", HT_STATS_BY_COMMUNITY,
                                     NULL, 1, 10, &t, &n, &err),
                     HT_OK);
    /* First appearances score (1 - 0) / 1; 0503 in C2 rose from one to
     * two: (2 - 1) / sqrt(2). */
    assert_int_equal(n, 3);
    assert_string_equal(t[0].category, "01");
    assert_string_equal(t[0].area, "-");
    assert_string_equal(t[1].category, "0503");
    assert_string_equal(t[1].area, "C1");
    assert_string_equal(t[1].area_name, "西社区");
    assert_true(near(t[1].score, 1, 1e-12));
    assert_string_equal(t[2].area, "C2");
    assert_int_equal(t[2].count, 2);
    assert_int_equal(t[2].prev, 1);
    assert_true(near(t[2].score, 1 / sqrt(2), 1e-12));
    free(t);
    /* A floor on the count, and a cap on how many. */
    assert_int_equal(ht_stats_topics(fx->s, "2026-03", HT_STATS_BY_COMMUNITY,
                                     NULL, 2, 10, &t, &n, &err),
                     HT_OK);
    assert_int_equal(n, 1);
    free(t);
    assert_int_equal(ht_stats_topics(fx->s, "2026-03", HT_STATS_BY_STREET, NULL,
                                     1, 1, &t, &n, &err),
                     HT_OK);
    assert_int_equal(n, 1);
    assert_string_equal(t[0].area, "S1");
    free(t);
    /* Within one community's subtree: only its topic. */
    assert_int_equal(ht_stats_topics(fx->s, "2026-03", HT_STATS_BY_COMMUNITY,
                                     "C2", 1, 10, &t, &n, &err),
                     HT_OK);
    assert_int_equal(n, 1);
    assert_string_equal(t[0].area, "C2");
    assert_int_equal(t[0].count, 2);
    free(t);
}

/* Ids of incidents: the store's (SQL) and the index's (in memory). */
typedef struct idset {
    int64_t *v;
    size_t n, cap;
} idset;

static void idset_add(idset *s, int64_t id) {
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        assert_non_null(s->v);
    }
    s->v[s->n++] = id;
}

static int cmp_id(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static ht_status fact_id(const ht_store_fact *fact, void *ud, ht_error *err) {
    (void)err;
    idset_add(ud, fact->id);
    return HT_OK;
}

static void visit_id(void *ud, double x, double y, const ht_incident_view *v) {
    (void)x;
    (void)y;
    idset_add(ud, v->id);
}

/* One filter grammar, two interpreters: the store's SQL (statistics) and
 * the in-memory index (maps) select exactly the same incidents of the
 * demo for every kind of filter, alone and combined. */
static void test_stats_filters_mean_the_same_in_sql_and_in_memory(
    void **state) {
    (void)state;
    ts_demo *d = ts_demo_new(3000);
    ht_index *ix = NULL;
    ht_error err = {0};
    assert_int_equal(ht_index_load(d->fx->s, &ix, &err), HT_OK);
    const int64_t now = 1795824000; /* the demo's end, the test's clock */
    static const char *const cases[][6] = {
        {NULL},
        {"from", "2026-06-01", "to", "2026-07-15T08:00+08:00", NULL},
        {"window", "30d", NULL},
        {"window", "month", NULL},
        {"category", "01", NULL},
        {"category", "0101", NULL},
        {"category", "01,H02,0503", NULL},
        {"severity", "2", NULL},
        {"severity", "1,3", NULL},
        {"status", "open", NULL},
        {"status", "closed", NULL},
        {"status", "reported,evaluated", NULL},
        {"source", "hotline,app", NULL},
        {"source", "whistle", NULL},
        {"grid", "110101001", NULL},
        {"grid", "110101001001", NULL},
        {"grid", "110101", NULL},
        {"grid", "110101003", "category", "05", "severity", "2"},
        {"window", "7d", "status", "open", "source", "patrol"},
        {"department", "城管执法队", NULL},
        {"department", "供热公司,环卫中心", NULL},
        {"department", "nobody", NULL},
        {"overdue", "1", NULL},
        {"overdue", "1", "department", "城管执法队", NULL},
        {"satisfaction", "unsatisfied", NULL},
        {"satisfaction", "满意,basic", NULL},
        {"satisfaction", "none", "status", "closed", NULL},
        {"overdue", "0", "satisfaction", "satisfied", "category", "H02"},
    };
    size_t nonempty = 0;
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        ht_filter f = ht_filter_all();
        for (int i = 0; i < 6 && cases[k][i]; i += 2) {
            assert_int_equal(
                ht_filter_set(&f, cases[k][i], cases[k][i + 1], now, &err),
                HT_OK);
        }
        idset sql = {0}, mem = {0};
        assert_int_equal(ht_store_each_fact(d->fx->s, &f, HT_GROUP_GRID,
                                            fact_id, &sql, &err),
                         HT_OK);
        ht_index_filter *q = NULL;
        assert_int_equal(ht_index_filter_new(ix, &f, &q, &err), HT_OK);
        ht_index_visit(ix, q, NULL, visit_id, &mem);
        ht_index_filter_free(q);
        if (sql.n > 1) {
            qsort(sql.v, sql.n, sizeof *sql.v, cmp_id);
        }
        if (mem.n > 1) {
            qsort(mem.v, mem.n, sizeof *mem.v, cmp_id);
        }
        if (sql.n != mem.n ||
            (sql.n && memcmp(sql.v, mem.v, sql.n * sizeof *sql.v) != 0)) {
            fail_msg("case %zu (%s=%s): SQL %zu, index %zu", k,
                     cases[k][0] ? cases[k][0] : "all",
                     cases[k][1] ? cases[k][1] : "", sql.n, mem.n);
        }
        nonempty += sql.n > 0 && sql.n < 3000;
        free(sql.v);
        free(mem.v);
    }
    /* The cases select something, and not everything. */
    assert_true(nonempty >= 15);
    ht_index_unref(ix);
    ts_demo_free(d);
}

/* Two equal numbers, or both NaN. */
static bool same(double a, double b) {
    return (isnan(a) && isnan(b)) || a == b;
}

/* The same figures, row for row and field for field (@by, @k: what is
 * compared, for the message). */
static void assert_same_stats(const ht_stats_row *a, size_t na,
                              const ht_stats_row *b, size_t nb, int by,
                              size_t k) {
    if (na != nb) {
        fail_msg(
            "by %d case %zu: %zu rows from SQL, %zu from the "
            "index",
            by, k, na, nb);
    }
    for (size_t r = 0; r < na; r++) {
        const ht_stats_row *p = &a[r], *q = &b[r];
        bool ok = strcmp(p->key, q->key) == 0 &&
                  strcmp(p->name, q->name) == 0 && p->rank == q->rank &&
                  p->count == q->count && same(p->share, q->share) &&
                  p->prev == q->prev && same(p->change_pct, q->change_pct) &&
                  same(p->per_km2, q->per_km2) &&
                  same(p->per_1000, q->per_1000) &&
                  same(p->median_close_h, q->median_close_h) &&
                  same(p->response, q->response) &&
                  same(p->resolution, q->resolution) &&
                  same(p->satisfaction, q->satisfaction) &&
                  p->response_on_time == q->response_on_time &&
                  p->response_decided == q->response_decided &&
                  p->resolution_on_time == q->resolution_on_time &&
                  p->resolution_decided == q->resolution_decided &&
                  p->satisfied == q->satisfied && p->rated == q->rated &&
                  p->overdue == q->overdue && p->open == q->open &&
                  same(p->median_arrive_h, q->median_arrive_h) &&
                  same(p->p90_arrive_h, q->p90_arrive_h) &&
                  memcmp(p->whistles, q->whistles, sizeof p->whistles) == 0 &&
                  p->whistles_on_time == q->whistles_on_time &&
                  p->whistles_decided == q->whistles_decided &&
                  same(p->evaluated, q->evaluated);
        if (!ok) {
            fail_msg(
                "by %d case %zu row %zu: SQL %s count %lld "
                "overdue %lld median %g, index %s count %lld "
                "overdue %lld median %g",
                by, k, r, p->key, (long long)p->count, (long long)p->overdue,
                p->median_close_h, q->key, (long long)q->count,
                (long long)q->overdue, q->median_close_h);
        }
    }
}

/* The figures from the index are the store's, row for row and field for
 * field, for every grouping and kind of filter (the clock set, so open
 * incidents are judged at one time). */
static void test_stats_from_the_index_equal_the_stores(void **state) {
    (void)state;
    ts_demo *d = ts_demo_new(3000);
    ht_index *ix = NULL;
    ht_error err = {0};
    assert_int_equal(ht_index_load(d->fx->s, &ix, &err), HT_OK);
    const int64_t now = 1795824000 - 5 * 3600;
    ht_clock_set(now);
    /* Counted by three threads, each a part of the index, merged. */
    ht__stats_set_parts(3, 0);
    static const char *const cases[][6] = {
        {NULL},
        {"window", "30d", NULL},
        {"window", "month", NULL},
        {"from", "2026-06-01", "to", "2026-07-15T08:00+08:00", NULL},
        {"category", "01", "severity", "2", NULL},
        {"status", "open", NULL},
        {"source", "whistle", NULL},
        {"grid", "110101003", "window", "7d", NULL},
        {"department", "城管执法队", NULL},
        {"overdue", "1", NULL},
        {"satisfaction", "unsatisfied", "window", "30d", NULL},
        {"department", "nobody", NULL},
    };
    size_t rows_seen = 0;
    for (int by = 0; by < HT_STATS_BY_COUNT; by++) {
        for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
            ht_filter f = ht_filter_all();
            for (int i = 0; i < 6 && cases[k][i]; i += 2) {
                assert_int_equal(
                    ht_filter_set(&f, cases[k][i], cases[k][i + 1], now, &err),
                    HT_OK);
            }
            ht_stats_row *a = NULL, *b = NULL;
            size_t na = 0, nb = 0;
            assert_int_equal(
                ht_stats_compute(d->fx->s, &f, (ht_stats_by)by, &a, &na, &err),
                HT_OK);
            if (ht_stats_compute_ix(d->fx->s, ix, &f, (ht_stats_by)by, &b, &nb,
                                    &err) != HT_OK) {
                fail_msg("by %d case %zu: %s", by, k, err.msg);
            }
            assert_same_stats(a, na, b, nb, by, k);
            rows_seen += na;
            free(a);
            free(b);
        }
    }
    /* And the month's topics, by street and community, within an area
     * or not, with and without a floor. */
    static const char *const months[] = {"2026-10", "2026-11", "2026-06"};
    size_t topics_seen = 0;
    for (size_t m = 0; m < 3; m++) {
        for (int by = 0; by < 2; by++) {
            for (int w = 0; w < 2; w++) {
                for (int64_t min = 0; min <= 3; min += 3) {
                    ht_topic *a = NULL, *b = NULL;
                    size_t na = 0, nb = 0;
                    const char *within = w ? "110101001" : NULL;
                    assert_int_equal(
                        ht_stats_topics(d->fx->s, months[m], (ht_stats_by)by,
                                        within, min, 1000, &a, &na, &err),
                        HT_OK);
                    assert_int_equal(
                        ht_stats_topics_ix(d->fx->s, ix, months[m],
                                           (ht_stats_by)by, within, min, 1000,
                                           &b, &nb, &err),
                        HT_OK);
                    assert_int_equal(na, nb);
                    for (size_t k = 0; k < na; k++) {
                        assert_string_equal(a[k].category, b[k].category);
                        assert_string_equal(a[k].category_name,
                                            b[k].category_name);
                        assert_string_equal(a[k].area, b[k].area);
                        assert_string_equal(a[k].area_name, b[k].area_name);
                        assert_int_equal(a[k].count, b[k].count);
                        assert_int_equal(a[k].prev, b[k].prev);
                        assert_true(a[k].score == b[k].score);
                    }
                    topics_seen += na;
                    free(a);
                    free(b);
                }
            }
        }
    }
    assert_true(topics_seen > 100);
    ht_clock_set(0);
    ht__stats_set_parts(0, 400000);
    assert_true(rows_seen > 500);
    /* A bad code: the same clear error. */
    ht_filter f = ht_filter_all();
    snprintf(f.grid, sizeof f.grid, "999");
    ht_stats_row *b = NULL;
    size_t nb = 0;
    assert_int_equal(ht_stats_compute_ix(d->fx->s, ix, &f, HT_STATS_BY_STREET,
                                         &b, &nb, &err),
                     HT_EINVAL);
    assert_contains(err.msg, "999");
    ht_index_unref(ix);
    ts_demo_free(d);
}

/* The filter of a case: up to two key, value pairs. */
static ht_filter case_filter(const char *const kv[4]) {
    ht_filter f = ht_filter_all();
    for (int i = 0; i < 4 && kv[i]; i += 2) {
        assert_int_equal(ht_filter_set(&f, kv[i], kv[i + 1], 0, NULL), HT_OK);
    }
    return f;
}

/* Every grouping of each filter @cases holds (@n of them), from the store
 * and from @ix at the clock's time, the same. */
static void check_stats(ht_store *s, const ht_index *ix,
                        const char *const (*cases)[4], size_t n) {
    ht_error err = {0};
    for (int by = 0; by < HT_STATS_BY_COUNT; by++) {
        for (size_t k = 0; k < n; k++) {
            ht_filter f = case_filter(cases[k]);
            ht_stats_row *a = NULL, *b = NULL;
            size_t na = 0, nb = 0;
            assert_int_equal(
                ht_stats_compute(s, &f, (ht_stats_by)by, &a, &na, &err), HT_OK);
            if (ht_stats_compute_ix(s, ix, &f, (ht_stats_by)by, &b, &nb,
                                    &err) != HT_OK) {
                fail_msg("by %d case %zu: %s", by, k, err.msg);
            }
            assert_same_stats(a, na, b, nb, by, k);
            free(a);
            free(b);
        }
    }
}

/* The figures of two indexes' stats the same (@ix with the base's kept
 * tallies and without). */
static void check_kept_against_walks(ht_store *s, const ht_index *ix,
                                     const char *const (*cases)[4], size_t n) {
    ht_error err = {0};
    for (int by = 0; by < HT_STATS_BY_COUNT; by++) {
        for (size_t k = 0; k < n; k++) {
            ht_filter f = case_filter(cases[k]);
            ht_stats_row *a = NULL, *b = NULL;
            size_t na = 0, nb = 0;
            ht__tally_memo_set_budget(0);
            assert_int_equal(
                ht_stats_compute_ix(s, ix, &f, (ht_stats_by)by, &a, &na, &err),
                HT_OK);
            ht__tally_memo_set_budget((size_t)256 << 20);
            assert_int_equal(
                ht_stats_compute_ix(s, ix, &f, (ht_stats_by)by, &b, &nb, &err),
                HT_OK);
            assert_same_stats(a, na, b, nb, by, k);
            free(a);
            free(b);
        }
    }
}

/* The tallies of all time kept between requests: asked again, after
 * incidents closed (new durations, other medians), deleted and added,
 * with the clock on (deadlines pending become late), for an older index
 * than they have seen, and within a budget too small to keep them: the
 * store's figures every time. Counts kept in 16 bits, or every other
 * group's in 32 when @wide. */
static void kept_tallies(bool wide) {
    ht__tally_memo_set_wide(wide);
    ts_demo *d = ts_demo_new(3000);
    const char *db = d->fx->db;
    ht_index *v1 = NULL, *v2 = NULL;
    ht_error err = {0};
    assert_int_equal(ht_index_load(d->fx->s, &v1, &err), HT_OK);
    int64_t now = 1795824000 - 5 * 3600;
    ht_clock_set(now);
    ht__stats_set_parts(2, 0);
    static const char *const cases[][4] = {
        {NULL},
        {"category", "01", "severity", "2"},
        {"status", "open"},
        {"source", "whistle"},
        {"department", "城管执法队"},
    };
    size_t nc = sizeof cases / sizeof *cases;
    ht__tally_memo_set_budget((size_t)256 << 20); /* every one kept */
    uint64_t hits = ht__tally_memo_hits();
    /* All of the time: kept when first asked; a filter: when asked a
     * second time (a one-off one costs no more than its walks). */
    check_stats(d->fx->s, v1, cases, nc);
    assert_true(ht__tally_memo_hits() == hits);
    check_stats(d->fx->s, v1, cases, nc);
    assert_true(ht__tally_memo_hits() == hits + HT_STATS_BY_COUNT);
    check_stats(d->fx->s, v1, cases, nc);
    /* every grouping of every filter answered by the kept tallies */
    assert_true(ht__tally_memo_hits() ==
                hits + HT_STATS_BY_COUNT + HT_STATS_BY_COUNT * nc);
    /* 30 open incidents closed (hours apart), 30 closed ones closed days
     * later, 20 deleted, 40 added. */
    size_t n1, n2, n3;
    double *open = ts_db_doubles(db,
                                 "SELECT id FROM incidents WHERE status IN "
                                 "('reported', 'dispatched', 'handling') "
                                 "ORDER BY id LIMIT 30",
                                 &n1);
    double *closed = ts_db_doubles(db,
                                   "SELECT id FROM incidents WHERE status = "
                                   "'closed' ORDER BY id LIMIT 30 OFFSET 50",
                                   &n2);
    double *gone = ts_db_doubles(db,
                                 "SELECT id FROM incidents WHERE status = "
                                 "'evaluated' ORDER BY id LIMIT 20 OFFSET 90",
                                 &n3);
    assert_true(n1 >= 10 && n2 == 30 && n3 == 20);
    int64_t ids[200];
    size_t n = 0;
    char sql[256];
    for (size_t k = 0; k < n1; k++, n++) {
        ids[n] = (int64_t)open[k];
        snprintf(sql, sizeof sql,
                 "UPDATE incidents SET status = 'closed', closed_at = "
                 "reported_at + %zu * 3600 WHERE id = %lld",
                 1 + k * 7, (long long)ids[n]);
        ts_db_int(db, sql);
    }
    for (size_t k = 0; k < n2; k++, n++) {
        ids[n] = (int64_t)closed[k];
        snprintf(sql, sizeof sql,
                 "UPDATE incidents SET closed_at = closed_at + %zu * 86400 "
                 "WHERE id = %lld",
                 1 + k % 5, (long long)ids[n]);
        ts_db_int(db, sql);
    }
    for (size_t k = 0; k < n3; k++, n++) {
        ids[n] = (int64_t)gone[k];
        snprintf(sql, sizeof sql, "DELETE FROM incidents WHERE id = %lld",
                 (long long)ids[n]);
        ts_db_int(db, sql);
    }
    free(open);
    free(closed);
    free(gone);
    char csv[8192];
    size_t used = (size_t)snprintf(
        csv, sizeof csv,
        "id,lon,lat,category,severity,source,status,reported_at,closed_at\n");
    for (int k = 0; k < 40; k++) {
        used += (size_t)snprintf(
            csv + used, sizeof csv - used,
            "kept%d,%.5f,39.915,0101,%d,hotline,%s,2026-11-0%dT08:00:00Z,%s\n",
            k, 116.40 + k * 0.0002, 1 + k % 3, k % 2 ? "closed" : "reported",
            1 + k % 9, k % 2 ? "2026-11-20T08:00:00Z" : "");
    }
    ts_store_import(d->fx, "kept.csv", csv);
    for (int k = 0; k < 40; k++, n++) {
        char ext[16];
        snprintf(ext, sizeof ext, "kept%d", k);
        ids[n] = ts_incident_id(db, ext);
    }
    assert_int_equal(ht_index_apply(v1, d->fx->s, ids, n, &v2, &err), HT_OK);
    assert_true(ht_index_base_serial(v2) == ht_index_base_serial(v1));
    hits = ht__tally_memo_hits();
    check_stats(d->fx->s, v2, cases, nc);
    /* Three days on: what was pending is late now. */
    now += 3 * 86400;
    ht_clock_set(now);
    check_stats(d->fx->s, v2, cases, nc);
    assert_true(ht__tally_memo_hits() == hits + 2 * HT_STATS_BY_COUNT * nc);
    /* The older index, which the kept tallies are past: the walks'. */
    hits = ht__tally_memo_hits();
    check_kept_against_walks(d->fx->s, v1, cases, nc);
    assert_true(ht__tally_memo_hits() == hits);
    check_kept_against_walks(d->fx->s, v2, cases, nc);
    assert_true(ht__tally_memo_hits() == hits + HT_STATS_BY_COUNT * nc);
    /* Kept within too small a budget: none kept (but the one the first
     * request finds), the same figures. */
    ht__tally_memo_set_budget(1);
    hits = ht__tally_memo_hits();
    check_stats(d->fx->s, v2, cases, nc);
    assert_true(ht__tally_memo_hits() == hits + 1);
    ht__tally_memo_set_budget(SIZE_MAX);
    ht__tally_memo_set_wide(false);
    ht_clock_set(0);
    ht__stats_set_parts(0, 400000);
    ht_index_unref(v1);
    ht_index_unref(v2);
    ts_demo_free(d);
}

static void test_stats_kept_tallies_follow_changes(void **state) {
    (void)state;
    kept_tallies(false);
    kept_tallies(true);
}

static int cmp_u16(const void *a, const void *b) {
    return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

/* Selection against sorting: every rank of random arrays, with many
 * repeats and none, values in one high byte or spread, several ranks at
 * once in one byte or in several, and the median of odd and even counts;
 * the array is left as it was. */
static void test_stats_selection(void **state) {
    (void)state;
    uint64_t r = 12345;
    static uint16_t v[3000], w[3000], sorted[3000];
    for (size_t n = 1; n < 3000; n += n < 300 ? 7 : 331) {
        for (size_t i = 0; i < n; i++) {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            v[i] = (uint16_t)(n % 3 == 0   ? r >> 61
                              : n % 3 == 1 ? 0x1200 | r >> 60
                                           : r >> 48);
        }
        memcpy(sorted, v, n * sizeof *v);
        qsort(sorted, n, sizeof *sorted, cmp_u16);
        memcpy(w, v, n * sizeof *v);
        for (size_t k = 0; k < n; k += n < 300 ? 1 : 17) {
            size_t ks[4] = {k, n - 1 - k, k / 2, (k + n) / 2};
            uint16_t got[4];
            ht__stats_ranks(w, n, ks, 4, got);
            for (int q = 0; q < 4; q++) {
                assert_int_equal(got[q], sorted[ks[q]]);
            }
            ht__stats_ranks(w, n, &k, 1, got);
            assert_int_equal(got[0], sorted[k]);
        }
        assert_memory_equal(w, v, n * sizeof *v);
        double want = n % 2 ? ht_stats_hours(sorted[n / 2])
                            : (ht_stats_hours(sorted[n / 2 - 1]) +
                               ht_stats_hours(sorted[n / 2])) /
                                  2;
        assert_true(ht__stats_median(w, n) == want);
    }
    assert_true(isnan(ht__stats_median(NULL, 0)));
}

/* Durations in 16 bits: to the minute, then to 64 minutes; none below 0. */
static void test_stats_duration_codes(void **state) {
    (void)state;
    assert_int_equal(ht_stats_duration_code(-1), HT_STATS_NO_DURATION);
    assert_true(isnan(ht_stats_hours(HT_STATS_NO_DURATION)));
    assert_int_equal(ht_stats_duration_code(59), 0);
    assert_int_equal(ht_stats_duration_code(3600 + 59), 60);
    assert_true(ht_stats_hours(60) == 1.0);
    /* 22.7 days and beyond: hours to 64 minutes, never above the truth */
    int64_t s = 40LL * 86400 + 1234;
    double h = ht_stats_hours(ht_stats_duration_code(s));
    assert_true(h <= s / 3600.0 && h > s / 3600.0 - 64.0 / 60);
    assert_int_equal(ht_stats_duration_code(INT64_MAX / 2), 0xfffe);
}

/* The ranks the medians need, from the index's two walks: the middle two
 * of an even count in different high bytes of the codes, a count whose
 * 90th percentile is a whole rank (110), one, two and three threads, all
 * equal to the store's. */
static void test_stats_ranks_from_the_index(void **state) {
    (void)state;
    assert_int_equal(ht_stats_p90_rank(0), 0);
    assert_int_equal(ht_stats_p90_rank(1), 0);
    assert_int_equal(ht_stats_p90_rank(10), 8);
    assert_int_equal(ht_stats_p90_rank(11), 9);
    assert_int_equal(ht_stats_p90_rank(110), 98);
    ts_store *g = ts_store_new();
    /* Office S1: closed after 255 and 256 minutes (codes 0x00ff and
     * 0x0100). Community C2 (through S1 too): 110 incidents closed after
     * 1..110 hours. */
    size_t cap = 1 << 16, len = 0;
    char *csv = malloc(cap);
    len += (size_t)snprintf(csv + len, cap - len,
                            "id,lon,lat,category,severity,source,status,"
                            "reported_at,closed_at\n"
                            "a,116.31,39.81,0101,1,hotline,closed,"
                            "2026-01-10T00:00:00Z,2026-01-10T04:15:00Z\n"
                            "b,116.32,39.82,0101,1,hotline,closed,"
                            "2026-01-10T00:00:00Z,2026-01-10T04:16:00Z\n");
    for (int k = 1; k <= 110; k++) {
        len +=
            (size_t)snprintf(csv + len, cap - len,
                             "h%d,116.37,39.84,0503,2,patrol,closed,"
                             "2026-02-01T00:00:00Z,2026-02-%02dT%02d:00:00Z\n",
                             k, 1 + k / 24, k % 24);
    }
    assert_int_equal(ts_load_office(g, csv), 0);
    free(csv);
    ht_index *ix = NULL;
    ht_error err = {0};
    assert_int_equal(ht_index_load(g->s, &ix, &err), HT_OK);
    ht_filter f = ht_filter_all();
    ht_stats_row *a = NULL;
    size_t na = 0;
    assert_int_equal(
        ht_stats_compute(g->s, &f, HT_STATS_BY_COMMUNITY, &a, &na, &err),
        HT_OK);
    assert_int_equal(na, 2);
    assert_string_equal(a[0].key, "C2");
    assert_true(near(a[0].median_close_h, 55.5, 1e-9));
    assert_string_equal(a[1].key, "C1");
    assert_true(near(a[1].median_close_h, 255.5 / 60, 1e-9));
    for (size_t parts = 1; parts <= 3; parts++) {
        ht__stats_set_parts(parts, 0);
        ht_stats_row *b = NULL;
        size_t nb = 0;
        assert_int_equal(
            ht_stats_compute_ix(g->s, ix, &f, HT_STATS_BY_COMMUNITY, &b, &nb,
                                &err),
            HT_OK);
        assert_int_equal(nb, na);
        for (size_t k = 0; k < na; k++) {
            assert_string_equal(a[k].key, b[k].key);
            assert_true(a[k].median_close_h == b[k].median_close_h);
        }
        free(b);
    }
    ht__stats_set_parts(0, 400000);
    free(a);
    ht_index_unref(ix);
    ts_store_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stats_by_street),
        cmocka_unit_test(test_stats_groupings),
        cmocka_unit_test(test_stats_names_follow_changes),
        cmocka_unit_test(test_stats_filters_and_change),
        cmocka_unit_test(test_stats_three_rates),
        cmocka_unit_test(test_stats_migration_from_v1),
        cmocka_unit_test(test_stats_bad_input),
        cmocka_unit_test(test_stats_topics),
        cmocka_unit_test(test_stats_filters_mean_the_same_in_sql_and_in_memory),
        cmocka_unit_test(test_stats_from_the_index_equal_the_stores),
        cmocka_unit_test(test_stats_kept_tallies_follow_changes),
        cmocka_unit_test(test_stats_duration_codes),
        cmocka_unit_test(test_stats_ranks_from_the_index),
        cmocka_unit_test(test_stats_selection),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
