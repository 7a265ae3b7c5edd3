/* SPDX-License-Identifier: Apache-2.0 */
/* Integration: `hutong serve` under attack. Each case is a defect found by
 * attacking the server (issue 9), kept here so it does not come back. */
#include <jansson.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ht_test.h"

#define H(out, err, ...) ts_hutong(out, err, __VA_ARGS__, (const char *)NULL)

static char *dir, *db, *tokens, *errlog;
static char *tok_all, *tok_office, *tok_read;
static char auth_all[128], auth_office[128], auth_read[128];
static ts_server srv;

static int setup(void **state) {
    (void)state;
    dir = ts_tmpdir();
    db = ts_path(dir, "demo.db");
    tokens = ts_path(dir, "tokens");
    errlog = ts_path(dir, "serve.log");
    /* The demo ends today (its default). */
    if (H(NULL, NULL, "demo", "--db", db, "--incidents", "2000") != 0) {
        return -1;
    }
    tok_all = ts_token_new(tokens, "ingest", NULL, true);
    tok_office = ts_token_new(tokens, "office", "110101001", true);
    tok_read = ts_token_new(tokens, "viewer", NULL, false);
    snprintf(auth_all, sizeof auth_all, "Authorization: Bearer %s\r\n",
             tok_all);
    snprintf(auth_office, sizeof auth_office, "Authorization: Bearer %s\r\n",
             tok_office);
    snprintf(auth_read, sizeof auth_read, "Authorization: Bearer %s\r\n",
             tok_read);
    srv = ts_serve_start(db, errlog, tokens);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    ts_serve_stop(srv);
    ts_rmdir(dir);
    free(dir);
    free(db);
    free(tokens);
    free(errlog);
    free(tok_all);
    free(tok_office);
    free(tok_read);
    return 0;
}

/* One incident of the database chosen by @where, as a CSV body that
 * re-posts it with status @status and, unless NULL, at @lonlat ("x,y"). */
static char *repost(const char *where, const char *status, const char *lonlat) {
    char pos[64], sql[1024];
    if (lonlat) {
        snprintf(pos, sizeof pos, "'%s'", lonlat);
    } else {
        snprintf(pos, sizeof pos, "printf('%%.7f,%%.7f', X(geom), Y(geom))");
    }
    snprintf(sql, sizeof sql,
             "SELECT external_id || ',' || %s || ',' || category || ',' || "
             "severity || ',' || source || ',%s,' || strftime('%%Y-%%m-%%dT"
             "%%H:%%M:%%SZ', reported_at, 'unixepoch') FROM incidents WHERE "
             "%s ORDER BY id LIMIT 1",
             pos, status, where);
    char *row = ts_db_text(db, sql);
    assert_non_null(row);
    size_t n = strlen(row) + 128;
    char *csv = malloc(n);
    snprintf(csv, n,
             "id,lon,lat,category,severity,source,status,reported_at\n%s\n",
             row);
    free(row);
    return csv;
}

static int post(const char *auth, const char *body, char **resp) {
    return ts_http(srv.port, "POST", "/api/incidents", auth, body, NULL, resp,
                   NULL);
}

/* Issue 9, item 2: a scoped write token took over incidents outside its
 * area through the POST upsert, and moved their status backwards. */
static void test_security_upsert_scope_and_life_cycle(void **state) {
    (void)state;
    /* Another street office's closed incident, re-posted by 110101001's
     * token with a position inside 110101001 and status "reported". */
    const char *other = "grid_code NOT LIKE '110101001%' AND status = 'closed'";
    char *csv = repost(other, "reported", "116.4100000,39.9150000");
    uint64_t before = ts_db_fingerprint(db);
    char *body;
    assert_int_equal(post(auth_office, csv, &body), 403);
    assert_contains(body, "outside this token's area");
    assert_contains(body, "line 2");
    free(body);
    free(csv);
    /* The same as "closed", so only the area is wrong: still refused. */
    csv = repost(other, "closed", "116.4100000,39.9150000");
    assert_int_equal(post(auth_office, csv, &body), 403);
    free(body);
    free(csv);
    /* Its own closed incident moved out of the area (into 110101002). */
    const char *own = "grid_code LIKE '110101001%' AND status = 'closed'";
    csv = repost(own, "closed", "116.4000000,39.9300000");
    assert_int_equal(post(auth_office, csv, &body), 403);
    assert_contains(body, "the point lies outside");
    free(body);
    free(csv);
    /* Its own closed incident, back to "reported": the life cycle goes
     * forward only, for every token. */
    csv = repost(own, "reported", NULL);
    assert_int_equal(post(auth_office, csv, &body), 409);
    assert_contains(body, "cannot go back to reported");
    free(body);
    assert_int_equal(post(auth_all, csv, &body), 409);
    free(body);
    free(csv);
    assert_true(ts_db_fingerprint(db) == before);
    /* Forward through POST is a logged step at the time of the write. */
    char *ext = ts_db_text(db,
                           "SELECT external_id FROM incidents WHERE "
                           "grid_code LIKE '110101001%' AND status IN "
                           "('reported', 'dispatched', 'handling') "
                           "ORDER BY id LIMIT 1");
    assert_non_null(ext);
    char where[160];
    snprintf(where, sizeof where, "external_id = '%s'", ext);
    csv = repost(where, "closed", NULL);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM incident_events e JOIN incidents i ON "
             "i.id = e.incident_id WHERE i.external_id = '%s'",
             ext);
    int64_t events = ts_db_int(db, sql);
    int64_t t0 = (int64_t)time(NULL);
    assert_int_equal(post(auth_office, csv, &body), 200);
    assert_contains(body, "\"updated\":1");
    free(body);
    assert_int_equal(ts_db_int(db, sql), events + 1);
    snprintf(sql, sizeof sql,
             "SELECT max(e.at) FROM incident_events e JOIN incidents i ON "
             "i.id = e.incident_id WHERE i.external_id = '%s' AND e.status = "
             "'closed'",
             ext);
    assert_true(ts_db_int(db, sql) >= t0);
    snprintf(sql, sizeof sql,
             "SELECT closed_at FROM incidents WHERE external_id = '%s'", ext);
    assert_true(ts_db_int(db, sql) >= t0);
    free(csv);
    free(ext);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_security_upsert_scope_and_life_cycle),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
