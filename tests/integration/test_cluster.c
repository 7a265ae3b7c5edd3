/* SPDX-License-Identifier: Apache-2.0 */
/* Integration tests: several `hutong serve` on one PostgreSQL database
 * (run by tests/pg/with-cluster; skipped without it). A write through one
 * server, or an INSERT by another client straight into the tables, reaches
 * the other server's index, tiles and /api/events; a server killed in the
 * middle of writes loses nothing it acknowledged; one started late starts
 * from the database as it is; the database stopped and started under load:
 * reads go on from memory, writes answer 503 with Retry-After, and the
 * servers reconnect by themselves. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ht_test.h"

#define H(out, err, ...) ts_hutong(out, err, __VA_ARGS__, (const char *)NULL)

static char *dir, *db, *tokens, *auth;

static int setup(void **state) {
    (void)state;
    if (!ts_pg()) {
        return 0;
    }
    dir = ts_tmpdir();
    db = ts_pg_new_db();
    tokens = ts_path(dir, "tokens");
    if (H(NULL, NULL, "demo", "--db", db, "--incidents", "800") != 0) {
        return -1;
    }
    char *t = ts_token_new(db, tokens, "ingest", NULL, true);
    size_t n = strlen(t) + 40;
    auth = malloc(n);
    snprintf(auth, n, "Authorization: Bearer %s\r\n", t);
    free(t);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    if (!ts_pg()) {
        return 0;
    }
    ts_pg_drop_db(db);
    ts_rmdir(dir);
    free(dir);
    free(db);
    free(tokens);
    free(auth);
    return 0;
}

static ts_server serve(const char *name) {
    char *log = ts_path(dir, name);
    ts_server s = ts_serve_start(db, log, tokens);
    free(log);
    return s;
}

/* One incident near the centre of the demo, reported @ago seconds ago. */
static char *incident_csv(const char *id, long ago) {
    char when[24];
    char *csv = malloc(256);
    snprintf(csv, 256,
             "id,lon,lat,category,severity,source,status,reported_at\n"
             "%s,116.4000,39.9300,0101,2,app,reported,%s\n",
             id, ts_iso(-ago, when));
    return csv;
}

static int post(int port, const char *id) {
    char *csv = incident_csv(id, 3600);
    char *body = NULL;
    int st =
        ts_http(port, "POST", "/api/incidents", auth, csv, NULL, &body, NULL);
    free(csv);
    free(body);
    return st;
}

/* Whether /api/incidents on @port finds external id @id within @ms. */
static bool sees(int port, const char *id, int ms) {
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        char *body = NULL;
        int st = ts_http(port, "GET", "/api/incidents?window=24h&limit=1000",
                         NULL, NULL, NULL, &body, NULL);
        char want[96];
        snprintf(want, sizeof want, "\"%s\"", id);
        bool found = st == 200 && body && strstr(body, want);
        free(body);
        if (found) {
            return true;
        }
        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 >
            ms) {
            return false;
        }
        struct timespec nap = {0, 50 * 1000000L};
        nanosleep(&nap, NULL);
    }
}

static const char *tile = "/tiles/heat/15/26978/12413.png";

static void etag_of(int port, char out[64]) {
    char *head = NULL;
    assert_int_equal(ts_http(port, "GET", tile, NULL, NULL, &head, NULL, NULL),
                     200);
    snprintf(out, 64, "%s", ts_header(head, "etag"));
    free(head);
}

/* A POST to the first server: on the second's event stream within a
 * second, its tile changed; an INSERT by another client: on both. */
static void test_cluster_write_reaches_the_other_server(void **state) {
    (void)state;
    if (!ts_pg()) {
        skip();
    }
    ts_server a = serve("a.log"), b = serve("b.log");
    char before[64], after[64];
    etag_of(b.port, before);
    int sse = ts_sse_open(b.port, "");
    assert_int_equal(post(a.port, "from-a"), 201);
    char *heard = ts_sse_until(sse, "\"external_id\":\"from-a\"", 1000);
    assert_non_null(heard);
    free(heard);
    etag_of(b.port, after);
    assert_string_not_equal(before, after);
    assert_true(sees(b.port, "from-a", 1000));
    /* Another system writes straight into the table. */
    char sql[600], when[24];
    ts_iso(-1800, when);
    snprintf(sql, sizeof sql,
             "INSERT INTO incidents (external_id, category, severity, "
             "source, status, reported_at, geom) VALUES ('from-sql', '0101', "
             "1, 'hotline', 'reported', extract(epoch FROM now())::bigint - "
             "1800, ST_SetSRID(ST_MakePoint(116.40, 39.93), 4326)) "
             "RETURNING id");
    assert_true(ts_db_int(db, sql) > 0);
    heard = ts_sse_until(sse, "\"external_id\":\"from-sql\"", 1000);
    assert_non_null(heard);
    free(heard);
    assert_true(sees(a.port, "from-sql", 1000));
    assert_true(sees(b.port, "from-sql", 1000));
    close(sse);
    assert_int_equal(ts_serve_stop(a), 0);
    assert_int_equal(ts_serve_stop(b), 0);
}

/* A server started after writes starts from them; one that stays up
 * through another's kill -9 in the middle of writes holds every write
 * that was acknowledged, as does the database. */
static void test_cluster_kill_and_late_start(void **state) {
    (void)state;
    if (!ts_pg()) {
        skip();
    }
    ts_server a = serve("ka.log"), b = serve("kb.log");
    pid_t child = fork();
    if (child == 0) {
        /* Writes one after another until killed; each acknowledged one
         * is noted in the file before the next is sent. */
        char *acked = ts_path(dir, "acked");
        for (int k = 0;; k++) {
            char id[32];
            snprintf(id, sizeof id, "kill-%d", k);
            int st = post(a.port, id);
            if (st == 201) {
                FILE *f = fopen(acked, "a");
                fprintf(f, "%s\n", id);
                fclose(f);
            }
        }
    }
    struct timespec nap = {0, 600 * 1000000L};
    nanosleep(&nap, NULL);
    kill(a.pid, SIGKILL);
    waitpid(a.pid, NULL, 0);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    char *acked_path = ts_path(dir, "acked");
    char *acked = ts_read(acked_path);
    assert_non_null(acked);
    int n = 0;
    for (char *line = strtok(acked, "\n"); line; line = strtok(NULL, "\n")) {
        char sql[160];
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM incidents WHERE external_id = '%s'",
                 line);
        assert_int_equal(ts_db_int(db, sql), 1);
        assert_true(sees(b.port, line, 1000));
        n++;
    }
    assert_true(n > 0);
    free(acked);
    free(acked_path);
    /* A server started now: everything the database holds. */
    assert_int_equal(post(b.port, "before-c"), 201);
    ts_server c = serve("kc.log");
    assert_true(sees(c.port, "before-c", 100));
    assert_int_equal(post(b.port, "after-c"), 201);
    assert_true(sees(c.port, "after-c", 1000));
    assert_int_equal(ts_serve_stop(b), 0);
    assert_int_equal(ts_serve_stop(c), 0);
}

/* The database stopped under load: tiles still served from memory, writes
 * answer 503 with Retry-After; started again: writes work again, on both
 * servers, without restarting them. */
static void test_cluster_database_restart(void **state) {
    (void)state;
    if (!ts_pg() || !getenv("HUTONG_TEST_PG_STOP")) {
        skip();
    }
    ts_server a = serve("ra.log"), b = serve("rb.log");
    assert_int_equal(system(getenv("HUTONG_TEST_PG_STOP")), 0);
    char *head = NULL, *body = NULL;
    for (int k = 0; k < 5; k++) {
        assert_int_equal(
            ts_http(b.port, "GET", tile, NULL, NULL, NULL, NULL, NULL), 200);
    }
    char *csv = incident_csv("while-down", 60);
    assert_int_equal(ts_http(a.port, "POST", "/api/incidents", auth, csv, &head,
                             &body, NULL),
                     503);
    assert_non_null(ts_header(head, "retry-after"));
    free(head);
    free(body);
    free(csv);
    assert_int_equal(system(getenv("HUTONG_TEST_PG_START")), 0);
    int st = 0;
    for (int k = 0; k < 50 && st != 201; k++) {
        st = post(a.port, "after-restart");
        if (st != 201) {
            struct timespec nap = {0, 100 * 1000000L};
            nanosleep(&nap, NULL);
        }
    }
    assert_int_equal(st, 201);
    assert_true(sees(b.port, "after-restart", 3000));
    assert_int_equal(ts_serve_stop(a), 0);
    assert_int_equal(ts_serve_stop(b), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cluster_write_reaches_the_other_server),
        cmocka_unit_test(test_cluster_kill_and_late_start),
        cmocka_unit_test(test_cluster_database_restart),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
