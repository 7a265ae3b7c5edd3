/* SPDX-License-Identifier: Apache-2.0 */
/* Integration tests: several `hutong serve` on one PostgreSQL database
 * (run by tests/pg/with-cluster; skipped without it). A write through one
 * server, or an INSERT by another client straight into the tables, reaches
 * the other server's index, tiles and /api/events; a server killed in the
 * middle of writes loses nothing it acknowledged; one started late starts
 * from the database as it is; the database stopped and started under load:
 * reads go on from memory, writes answer 503 with Retry-After, and the
 * servers reconnect by themselves. */
#include <libpq-fe.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
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

/* Milliseconds since @t0. */
static long since_ms(const struct timespec *t0) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* POST on @port with the token @tok until it answers @want, at most @ms:
 * the status last answered. */
static int post_with_until(int port, const char *tok, const char *id, int want,
                           int ms) {
    char hdr[160];
    snprintf(hdr, sizeof hdr, "Authorization: Bearer %s\r\n", tok);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int st;
    for (;;) {
        char *csv = incident_csv(id, 600);
        st =
            ts_http(port, "POST", "/api/incidents", hdr, csv, NULL, NULL, NULL);
        free(csv);
        if (st == want || since_ms(&t0) > ms) {
            return st;
        }
        struct timespec nap = {0, 50 * 1000000L};
        nanosleep(&nap, NULL);
    }
}

/* Tokens live in the database: one made while the servers run writes
 * through both within a second, and once revoked through neither. */
static void test_cluster_tokens_shared(void **state) {
    (void)state;
    if (!ts_pg()) {
        skip();
    }
    ts_server a = serve("ta.log"), b = serve("tb.log");
    char *tok = ts_token_new(db, tokens, "late", NULL, true);
    char *rd = ts_token_new(db, tokens, "late-reader", NULL, false);
    assert_int_equal(post_with_until(b.port, tok, "tok-b", 201, 1500), 201);
    assert_int_equal(post_with_until(a.port, tok, "tok-a", 201, 1500), 201);
    assert_int_equal(post_with_until(a.port, rd, "tok-r", 403, 1500), 403);
    char *err = NULL;
    assert_int_equal(ts_hutong(NULL, &err, "token", "revoke", "--name", "late",
                               "--db", db, (const char *)NULL),
                     0);
    assert_contains(err, "revoked");
    free(err);
    assert_int_equal(post_with_until(a.port, tok, "tok-gone", 401, 1500), 401);
    assert_int_equal(post_with_until(b.port, tok, "tok-gone", 401, 1500), 401);
    /* Revoking it again: nothing to revoke, said so. */
    assert_int_equal(ts_hutong(NULL, &err, "token", "revoke", "--name", "late",
                               "--db", db, (const char *)NULL),
                     1);
    assert_contains(err, "no token named");
    free(err);
    /* A tokens file is refused on a database (they live in it). */
    assert_int_equal(ts_hutong(NULL, &err, "serve", "--db", db, "--tokens",
                               tokens, "--port", "0", (const char *)NULL),
                     2);
    assert_contains(err, "the tokens live in it");
    free(err);
    /* --read-db names a replica of a database server, not a file. */
    assert_int_equal(ts_hutong(NULL, &err, "serve", "--db", db, "--read-db",
                               "replica.db", "--port", "0", (const char *)NULL),
                     2);
    assert_contains(err, "a replica of a PostgreSQL --db");
    free(err);
    free(tok);
    free(rd);
    assert_int_equal(ts_serve_stop(a), 0);
    assert_int_equal(ts_serve_stop(b), 0);
}

/* An incident written straight into the table, then the change log
 * pruned past it (as an hour's pruning of day-old changes would). */
static int post_sql_insert_then_prune(void) {
    ts_db_int(db,
              "INSERT INTO incidents (external_id, category, severity, "
              "source, status, reported_at, geom) VALUES ('after-prune', "
              "'0101', 1, 'hotline', 'reported', extract(epoch FROM "
              "now())::bigint - 900, ST_SetSRID(ST_MakePoint(116.40, "
              "39.93), 4326)) RETURNING id");
    ts_db_int(db,
              "WITH m AS (INSERT INTO hutong_meta SELECT "
              "'changes_pruned_to', max(seq)::text FROM hutong_changes "
              "ON CONFLICT (key) DO UPDATE SET value = excluded.value "
              "RETURNING 1) SELECT count(*) FROM m");
    return 0;
}

/* A server with --index-file @file on @on, its log in @log. */
static ts_server serve_indexed(const char *on, const char *log,
                               const char *file) {
    const char *extra[] = {"--index-file", file, NULL};
    return ts_serve_start_with(on, log, extra);
}

/* Whether the server log @log says @what of its index. */
static bool index_note_says(const char *log, const char *what) {
    char *text = ts_read(log);
    const char *note = strstr(text, "hutong: index: ");
    bool yes =
        note && strstr(note, what) && strstr(note, what) < strchr(note, '\n');
    if (!yes) {
        fprintf(stderr, "index note: %.300s\n", note ? note : text);
    }
    free(text);
    return yes;
}

/* --index-file: a restart reads the snapshot saved at the stop and the
 * change log after it (writes made while it was away included); a
 * snapshot of another database, or one the pruned log no longer reaches
 * back to, is passed over for the database. */
static void test_cluster_index_file(void **state) {
    (void)state;
    if (!ts_pg()) {
        skip();
    }
    char *file = ts_path(dir, "cluster.index"), *log = ts_path(dir, "ix.log");
    ts_server a = serve_indexed(db, log, file);
    assert_true(index_note_says(log, "loaded from the database"));
    assert_int_equal(access(file, R_OK), 0); /* saved after the load */
    assert_int_equal(post(a.port, "before-stop"), 201);
    assert_int_equal(ts_serve_stop(a), 0);
    char sql[600];
    snprintf(sql, sizeof sql,
             "INSERT INTO incidents (external_id, category, severity, "
             "source, status, reported_at, geom) VALUES ('while-away', "
             "'0101', 1, 'hotline', 'reported', extract(epoch FROM "
             "now())::bigint - 900, ST_SetSRID(ST_MakePoint(116.40, 39.93), "
             "4326)) RETURNING id");
    assert_true(ts_db_int(db, sql) > 0);
    a = serve_indexed(db, log, file);
    assert_true(index_note_says(log, "read from"));
    assert_true(sees(a.port, "before-stop", 1000));
    assert_true(sees(a.port, "while-away", 1000));
    char *body = NULL;
    assert_int_equal(
        ts_http(a.port, "GET", "/healthz", NULL, NULL, NULL, &body, NULL), 200);
    long long in_db = ts_db_int(db, "SELECT count(*) FROM incidents");
    char want[64];
    snprintf(want, sizeof want, "\"incidents\":%lld", in_db);
    assert_contains(body, want);
    free(body);
    assert_int_equal(ts_serve_stop(a), 0);
    /* The log pruned past the snapshot: loaded from the database. */
    assert_int_equal(post_sql_insert_then_prune(), 0);
    a = serve_indexed(db, log, file);
    assert_true(index_note_says(log, "beyond the change log's reach"));
    assert_true(sees(a.port, "after-prune", 1000));
    assert_int_equal(ts_serve_stop(a), 0);
    /* Another database's snapshot: passed over. */
    char *other = ts_pg_new_db();
    assert_int_equal(ts_hutong(NULL, NULL, "demo", "--db", other, "--incidents",
                               "50", (const char *)NULL),
                     0);
    ts_server o = serve_indexed(other, log, file);
    assert_true(index_note_says(log, "of another database"));
    assert_int_equal(ts_serve_stop(o), 0);
    ts_pg_drop_db(other);
    free(other);
    free(file);
    free(log);
}

/* @db's database on the replica of HUTONG_TEST_PG_REPLICA (caller frees). */
static char *on_replica(void) {
    const char *rep = getenv("HUTONG_TEST_PG_REPLICA");
    const char *rq = strstr(rep, "/postgres?");
    const char *q = strchr(db, '?');
    const char *name = q;
    while (name > db && name[-1] != '/') {
        name--;
    }
    size_t len = strlen(rep) + strlen(db);
    char *url = malloc(len);
    snprintf(url, len, "%.*s/%.*s%s", (int)(rq - rep), rep, (int)(q - name),
             name, rq + strlen("/postgres"));
    return url;
}

/* @sql's one number on @url, -1 when it cannot be read (yet). */
static long long pg_number(const char *url, const char *sql) {
    PGconn *c = PQconnectdb(url);
    long long v = -1;
    if (PQstatus(c) == CONNECTION_OK) {
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
            v = atoll(PQgetvalue(r, 0, 0));
        }
        PQclear(r);
    }
    PQfinish(c);
    return v;
}

/* --read-db: a server reading a streaming replica sees every write (its
 * own at once, others' once replayed) and sends its writes to the
 * primary; its reads are the replica's, so they go on with the primary
 * stopped. */
static void test_cluster_read_replica(void **state) {
    (void)state;
    if (!ts_pg() || !getenv("HUTONG_TEST_PG_REPLICA")) {
        skip();
    }
    char *rurl = on_replica();
    const char *count = "SELECT count(*) FROM incidents";
    long long want = pg_number(db, count);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (pg_number(rurl, count) != want && since_ms(&t0) < 10000) {
        struct timespec nap = {0, 50 * 1000000L};
        nanosleep(&nap, NULL);
    }
    assert_int_equal(pg_number(rurl, count), want);
    const char *busy =
        "SELECT count(*) FROM pg_stat_activity WHERE datname = "
        "current_database() AND pid <> pg_backend_pid()";
    assert_int_equal(pg_number(rurl, busy), 0);
    ts_server a = serve("pa.log");
    char *log = ts_path(dir, "pr.log");
    const char *extra[] = {"--read-db", rurl, NULL};
    ts_server r = ts_serve_start_with(db, log, extra);
    assert_true(r.port > 0);
    assert_true(pg_number(rurl, busy) >= 1); /* it reads the replica */
    assert_int_equal(post(a.port, "via-primary"), 201);
    assert_true(sees(r.port, "via-primary", 1000));
    int sse = ts_sse_open(r.port, "");
    assert_int_equal(post(r.port, "via-replica-server"), 201);
    assert_true(sees(r.port, "via-replica-server", 100));
    assert_true(sees(a.port, "via-replica-server", 1000));
    char *heard =
        ts_sse_until(sse, "\"external_id\":\"via-replica-server\"", 1000);
    assert_non_null(heard);
    free(heard);
    /* Its own write read back from the replica is not news twice. */
    heard = ts_sse_until(sse, "\"external_id\":\"via-replica-server\"", 800);
    assert_null(heard);
    close(sse);
    /* The primary stopped: the replica still answers the pages it reads
     * through SQL; writes wait for the primary. */
    if (getenv("HUTONG_TEST_PG_STOP")) {
        assert_int_equal(system(getenv("HUTONG_TEST_PG_STOP")), 0);
        char *body = NULL;
        assert_int_equal(ts_http(r.port, "GET", "/api/incidents?limit=5", NULL,
                                 NULL, NULL, &body, NULL),
                         200);
        free(body);
        assert_int_equal(post(r.port, "while-primary-down"), 503);
        assert_int_equal(system(getenv("HUTONG_TEST_PG_START")), 0);
        int st = 0;
        for (int k = 0; k < 50 && st != 201; k++) {
            st = post(r.port, "after-primary-back");
            if (st != 201) {
                struct timespec nap = {0, 100 * 1000000L};
                nanosleep(&nap, NULL);
            }
        }
        assert_int_equal(st, 201);
    }
    free(rurl);
    free(log);
    assert_int_equal(ts_serve_stop(a), 0);
    assert_int_equal(ts_serve_stop(r), 0);
}

/* A port free now (the kernel's choice for a socket bound and closed). */
/* How many lines of the server log @path request @uri. */
static int requests_of(const char *path, const char *uri) {
    char *text = ts_read(path), want[160];
    snprintf(want, sizeof want, " GET %s ", uri);
    int n = 0;
    for (const char *p = strstr(text, want); p; p = strstr(p + 1, want)) {
        n++;
    }
    free(text);
    return n;
}

/* The README's sample, deploy/nginx-cluster.conf, run as it is (its
 * ports changed to free ones): each tile URL goes to one server, the
 * tiles spread over both, a write through nginx reaches both servers, and
 * with one server killed nginx sends its tiles to the other. */
static void test_cluster_nginx_consistent_hash(void **state) {
    (void)state;
    const char *nginx = "/usr/sbin/nginx", *deploy = getenv("HUTONG_DEPLOY");
    if (!ts_pg() || !deploy || access(nginx, X_OK) != 0) {
        skip();
    }
    char *la = ts_path(dir, "na.log"), *lb = ts_path(dir, "nb.log");
    ts_server a = ts_serve_start(db, la, tokens),
              b = ts_serve_start(db, lb, tokens);
    int port = ts_free_port();
    char pa[40], pb[40], pn[40],
        *sample_path = ts_path(deploy, "nginx-cluster.conf");
    snprintf(pa, sizeof pa, "127.0.0.1:%d ", a.port);
    snprintf(pb, sizeof pb, "127.0.0.1:%d ", b.port);
    snprintf(pn, sizeof pn, "127.0.0.1:%d;", port);
    char *sample = ts_read(sample_path),
         *s1 = ts_replace_all(sample, "127.0.0.1:8081 ", pa),
         *s2 = ts_replace_all(s1, "127.0.0.1:8082 ", pb),
         *site = ts_replace_all(s2, "127.0.0.1:8080;", pn);
    assert_non_null(strstr(site, pa));
    assert_non_null(strstr(site, pb));
    assert_non_null(strstr(site, pn));
    pid_t ng = ts_nginx_start(dir, site, port);
    assert_true(ng > 0);
    assert_int_equal(
        ts_http(port, "GET", "/healthz", NULL, NULL, NULL, NULL, NULL), 200);
    enum { TILES = 24 };
    char paths[TILES][64];
    for (int k = 0; k < TILES; k++) {
        snprintf(paths[k], sizeof paths[k], "/tiles/heat/14/%d/%d.png",
                 13486 + k % 6, 6204 + k / 6);
        for (int r = 0; r < 2; r++) {
            assert_int_equal(
                ts_http(port, "GET", paths[k], NULL, NULL, NULL, NULL, NULL),
                200);
        }
    }
    /* A server logs a request once its answer is sent: all of them in the
     * logs first. */
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int logged = 0; logged < 2 * TILES && since_ms(&t0) < 5000;) {
        logged = 0;
        for (int k = 0; k < TILES; k++) {
            logged += requests_of(la, paths[k]) + requests_of(lb, paths[k]);
        }
        if (logged < 2 * TILES) {
            struct timespec nap = {0, 50 * 1000000L};
            nanosleep(&nap, NULL);
        }
    }
    int on_a = 0, on_b = 0;
    for (int k = 0; k < TILES; k++) {
        int na = requests_of(la, paths[k]), nb = requests_of(lb, paths[k]);
        if (!((na == 2 && nb == 0) || (na == 0 && nb == 2))) {
            fprintf(stderr, "%s: %d on one server, %d on the other\n", paths[k],
                    na, nb);
        }
        assert_true((na == 2 && nb == 0) || (na == 0 && nb == 2));
        on_a += na > 0;
        on_b += nb > 0;
    }
    fprintf(stderr, "nginx: %d tiles on one server, %d on the other\n", on_a,
            on_b);
    assert_true(on_a > 0 && on_b > 0);
    /* A write through nginx: on both servers. */
    char *csv = incident_csv("via-nginx", 600);
    assert_int_equal(
        ts_http(port, "POST", "/api/incidents", auth, csv, NULL, NULL, NULL),
        201);
    free(csv);
    assert_true(sees(a.port, "via-nginx", 1000));
    assert_true(sees(b.port, "via-nginx", 1000));
    /* One server gone: every tile still answered, by the other. */
    kill(b.pid, SIGKILL);
    waitpid(b.pid, NULL, 0);
    for (int k = 0; k < TILES; k++) {
        assert_int_equal(
            ts_http(port, "GET", paths[k], NULL, NULL, NULL, NULL, NULL), 200);
    }
    ts_nginx_stop(ng);
    assert_int_equal(ts_serve_stop(a), 0);
    free(sample);
    free(s1);
    free(s2);
    free(site);
    free(sample_path);
    free(la);
    free(lb);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cluster_write_reaches_the_other_server),
        cmocka_unit_test(test_cluster_kill_and_late_start),
        cmocka_unit_test(test_cluster_database_restart),
        cmocka_unit_test(test_cluster_tokens_shared),
        cmocka_unit_test(test_cluster_read_replica),
        cmocka_unit_test(test_cluster_index_file),
        cmocka_unit_test(test_cluster_nginx_consistent_hash),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
