/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the test suites. */
#include "support.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hutong/demo.h"
#include "hutong/features.h"
#include "hutong/hash.h"
#include "hutong/import.h"
#include "hutong/render.h"
#include "hutong/tile.h"

/* SpatiaLite's header needs sqlite3.h before it. */
/* clang-format off */
#include <libpq-fe.h>
#include <sqlite3.h>
#include <spatialite.h>
/* clang-format on */

static void die(const char *what) {
    fprintf(stderr, "test support: %s: %s\n", what, strerror(errno));
    abort();
}

char *ts_iso(long offset_s, char out[static 24]) {
    time_t t = time(NULL) + offset_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 24, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return out;
}

char *ts_date(int days, char out[static 16]) {
    time_t t = time(NULL) + (time_t)days * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 16, "%Y-%m-%d", &tm);
    return out;
}

char *ts_month(int months, char out[static 16]) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    int m = tm.tm_year * 12 + tm.tm_mon + months;
    snprintf(out, 16, "%04d-%02d", 1900 + m / 12, m % 12 + 1);
    return out;
}

char *ts_tmpdir(void) {
    const char *base = getenv("TMPDIR");
    char *t = malloc(4096);
    if (!t) {
        die("malloc");
    }
    snprintf(t, 4096, "%s/hutong-test-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(t)) {
        die("mkdtemp");
    }
    return t;
}

void ts_rmdir(const char *dir) {
    char *argv[] = {"/bin/rm", "-rf", (char *)dir, NULL};
    ts_run(argv, 30, NULL, NULL);
}

char *ts_path(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (!p) {
        die("malloc");
    }
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

char *ts_read(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        die("cannot read a file");
    }
    char *data = NULL;
    size_t len = 0, cap = 0, n;
    char chunk[4096];
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            data = realloc(data, cap);
            if (!data) {
                die("out of memory");
            }
        }
        memcpy(data + len, chunk, n);
        len += n;
    }
    fclose(f);
    if (!data) {
        data = calloc(1, 1);
    }
    data[len] = '\0';
    return data;
}

void ts_write(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(text, 1, strlen(text), f) != strlen(text) || fclose(f)) {
        die(path);
    }
}

typedef struct sink {
    char *data;
    size_t len, cap;
} sink;

static void sink_read(sink *s, int fd, int *open_fds) {
    char buf[65536];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) {
        (*open_fds)--;
        return;
    }
    if (s->len + (size_t)n + 1 > s->cap) {
        s->cap = (s->len + (size_t)n + 1) * 2;
        s->data = realloc(s->data, s->cap);
        if (!s->data) {
            die("realloc");
        }
    }
    memcpy(s->data + s->len, buf, (size_t)n);
    s->len += (size_t)n;
    s->data[s->len] = 0;
}

int ts_run(char *const argv[], int timeout_s, char **out, char **errout) {
    int po[2], pe[2];
    if (pipe(po) || pipe(pe)) {
        die("pipe");
    }
    pid_t pid = fork();
    if (pid < 0) {
        die("fork");
    }
    if (pid == 0) {
        dup2(po[1], 1);
        dup2(pe[1], 2);
        close(po[0]);
        close(pe[0]);
        close(po[1]);
        close(pe[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    sink so = {0}, se = {0};
    int open_fds = 2;
    struct pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
    time_t deadline = time(NULL) + timeout_s;
    bool killed = false;
    while (open_fds > 0) {
        int left = (int)(deadline - time(NULL));
        if (left <= 0) {
            kill(pid, SIGKILL);
            killed = true;
            break;
        }
        if (poll(fds, 2, left * 1000) < 0 && errno != EINTR) {
            die("poll");
        }
        for (int k = 0; k < 2; k++) {
            if (fds[k].fd >= 0 && fds[k].revents) {
                int before = open_fds;
                sink_read(k ? &se : &so, fds[k].fd, &open_fds);
                if (open_fds < before) {
                    fds[k].fd = -1;
                }
            }
        }
    }
    close(po[0]);
    close(pe[0]);
    int status;
    waitpid(pid, &status, 0);
    if (out) {
        *out = so.data ? so.data : strdup("");
    } else {
        free(so.data);
    }
    if (errout) {
        *errout = se.data ? se.data : strdup("");
    } else {
        free(se.data);
    }
    if (killed || !WIFEXITED(status)) {
        return -1;
    }
    return WEXITSTATUS(status);
}

int ts_hutong(char **out, char **errout, ...) {
    const char *bin = getenv("HUTONG_BIN");
    char *argv[32] = {(char *)(bin ? bin : "hutong")};
    int n = 1;
    va_list ap;
    va_start(ap, errout);
    const char *a;
    while (n < 31 && (a = va_arg(ap, const char *)) != NULL) {
        argv[n++] = (char *)a;
    }
    va_end(ap);
    argv[n] = NULL;
    return ts_run(argv, 120, out, errout);
}

bool ts_pg(void) {
    const char *pg = getenv("HUTONG_TEST_PG");
    return pg && *pg;
}

/* The result of @sql on the database at @url (aborts on an error). */
static PGresult *pg_query(const char *url, const char *sql) {
    PGconn *c = PQconnectdb(url);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "cannot connect to %s: %s\n", url, PQerrorMessage(c));
        abort();
    }
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK &&
        PQresultStatus(r) != PGRES_COMMAND_OK) {
        fprintf(stderr, "bad test SQL %s: %s\n", sql, PQerrorMessage(c));
        abort();
    }
    PQfinish(c);
    return r;
}

static const char *pg_first(PGresult *r) {
    return PQntuples(r) > 0 && PQnfields(r) > 0 && !PQgetisnull(r, 0, 0)
               ? PQgetvalue(r, 0, 0)
               : NULL;
}

static sqlite3 *open_db(const char *path, void **cache) {
    sqlite3 *db;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fprintf(stderr, "cannot open %s\n", path);
        abort();
    }
    *cache = spatialite_alloc_connection();
    spatialite_init_ex(db, *cache, 0);
    return db;
}

static void close_db(sqlite3 *db, void *cache) {
    sqlite3_close(db);
    spatialite_cleanup_ex(cache);
}

void *ts_db_lock(const char *path) {
    sqlite3 *db;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
        sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        fprintf(stderr, "cannot lock %s\n", path);
        abort();
    }
    return db;
}

void ts_db_unlock(void *lock) {
    sqlite3_exec(lock, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(lock);
}

/* Every table's rows (but PostGIS's own), in a fixed order, hashed. */
static uint64_t pg_fingerprint(const char *url) {
    PGresult *tables =
        pg_query(url,
                 "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                 "AND tablename <> 'spatial_ref_sys' ORDER BY tablename");
    uint64_t h = HT_HASH64_INIT;
    for (int i = 0; i < PQntuples(tables); i++) {
        const char *name = PQgetvalue(tables, i, 0);
        h = ht_hash64(h, name, strlen(name));
        char sql[256];
        snprintf(sql, sizeof sql,
                 "SELECT t::text FROM \"%s\" t ORDER BY t::text COLLATE \"C\"",
                 name);
        PGresult *rows = pg_query(url, sql);
        for (int k = 0; k < PQntuples(rows); k++) {
            const char *v = PQgetvalue(rows, k, 0);
            h = ht_hash64(h, v, strlen(v) + 1);
        }
        PQclear(rows);
    }
    PQclear(tables);
    return h;
}

uint64_t ts_db_fingerprint(const char *path) {
    if (ht_store_is_url(path)) {
        return pg_fingerprint(path);
    }
    void *cache;
    sqlite3 *db = open_db(path, &cache);
    uint64_t h = HT_HASH64_INIT;
    sqlite3_stmt *tables;
    sqlite3_prepare_v2(db,
                       "SELECT name FROM sqlite_master WHERE type = 'table' "
                       "AND name NOT LIKE 'sqlite_%' AND sql NOT LIKE "
                       "'%VIRTUAL%' ORDER BY name",
                       -1, &tables, NULL);
    while (sqlite3_step(tables) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(tables, 0);
        h = ht_hash64(h, name, strlen(name));
        char sql[256];
        snprintf(sql, sizeof sql, "SELECT * FROM \"%s\" ORDER BY rowid", name);
        sqlite3_stmt *q;
        if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) {
            snprintf(sql, sizeof sql, "SELECT * FROM \"%s\"", name);
            sqlite3_prepare_v2(db, sql, -1, &q, NULL);
        }
        while (sqlite3_step(q) == SQLITE_ROW) {
            for (int c = 0; c < sqlite3_column_count(q); c++) {
                int t = sqlite3_column_type(q, c);
                h = ht_hash64(h, &t, sizeof t);
                const void *b = sqlite3_column_blob(q, c);
                h = ht_hash64(h, b ? b : "",
                              (size_t)sqlite3_column_bytes(q, c));
            }
        }
        sqlite3_finalize(q);
    }
    sqlite3_finalize(tables);
    close_db(db, cache);
    return h;
}

static sqlite3_stmt *query(sqlite3 *db, const char *sql) {
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) {
        fprintf(stderr, "bad test SQL %s: %s\n", sql, sqlite3_errmsg(db));
        abort();
    }
    sqlite3_step(q);
    return q;
}

int64_t ts_db_int(const char *path, const char *sql) {
    if (ht_store_is_url(path)) {
        PGresult *r = pg_query(path, sql);
        const char *v = pg_first(r);
        int64_t n = v ? strtoll(v, NULL, 10) : 0;
        PQclear(r);
        return n;
    }
    void *cache;
    sqlite3 *db = open_db(path, &cache);
    sqlite3_stmt *q = query(db, sql);
    int64_t v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    close_db(db, cache);
    return v;
}

double ts_db_double(const char *path, const char *sql) {
    if (ht_store_is_url(path)) {
        PGresult *r = pg_query(path, sql);
        const char *v = pg_first(r);
        double d = v ? strtod(v, NULL) : 0;
        PQclear(r);
        return d;
    }
    void *cache;
    sqlite3 *db = open_db(path, &cache);
    sqlite3_stmt *q = query(db, sql);
    double v = sqlite3_column_double(q, 0);
    sqlite3_finalize(q);
    close_db(db, cache);
    return v;
}

double *ts_db_doubles(const char *path, const char *sql, size_t *n) {
    if (ht_store_is_url(path)) {
        PGresult *r = pg_query(path, sql);
        *n = (size_t)PQntuples(r);
        double *v = malloc((*n ? *n : 1) * sizeof *v);
        if (!v) {
            die("malloc");
        }
        for (size_t i = 0; i < *n; i++) {
            v[i] = strtod(PQgetvalue(r, (int)i, 0), NULL);
        }
        PQclear(r);
        return v;
    }
    void *cache;
    sqlite3 *db = open_db(path, &cache);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) {
        fprintf(stderr, "bad test SQL %s\n", sql);
        abort();
    }
    size_t cap = 1024;
    double *v = malloc(cap * sizeof *v);
    *n = 0;
    while (v && sqlite3_step(q) == SQLITE_ROW) {
        if (*n == cap) {
            cap *= 2;
            v = realloc(v, cap * sizeof *v);
            if (!v) {
                die("realloc");
            }
        }
        v[(*n)++] = sqlite3_column_double(q, 0);
    }
    sqlite3_finalize(q);
    close_db(db, cache);
    return v;
}

char *ts_db_text(const char *path, const char *sql) {
    if (ht_store_is_url(path)) {
        PGresult *r = pg_query(path, sql);
        const char *v = pg_first(r);
        char *s = v ? strdup(v) : NULL;
        PQclear(r);
        return s;
    }
    void *cache;
    sqlite3 *db = open_db(path, &cache);
    sqlite3_stmt *q = query(db, sql);
    const unsigned char *t = sqlite3_column_text(q, 0);
    char *v = t ? strdup((const char *)t) : NULL;
    sqlite3_finalize(q);
    close_db(db, cache);
    return v;
}

double ts_dist_m(double lon1, double lat1, double lon2, double lat2) {
    const double r = 6371008.8, k = 3.14159265358979323846 / 180;
    double dlat = (lat2 - lat1) * k, dlon = (lon2 - lon1) * k;
    double a = sin(dlat / 2) * sin(dlat / 2) +
               cos(lat1 * k) * cos(lat2 * k) * sin(dlon / 2) * sin(dlon / 2);
    return 2 * r * asin(sqrt(a));
}

char *ts_pg_new_db(void) {
    const char *base = getenv("HUTONG_TEST_PG");
    const char *slash = strstr(base, "/postgres?");
    if (!slash) {
        fprintf(stderr, "HUTONG_TEST_PG: expected .../postgres?...\n");
        abort();
    }
    static int counter;
    char name[64], sql[160];
    snprintf(name, sizeof name, "ht_%d_%d", (int)getpid(), ++counter);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s TEMPLATE hutong_template",
             name);
    PQclear(pg_query(base, sql));
    size_t len = strlen(base) + 64;
    char *url = malloc(len);
    if (!url) {
        die("malloc");
    }
    snprintf(url, len, "%.*s/%s%s", (int)(slash - base), base, name,
             slash + strlen("/postgres"));
    return url;
}

void ts_pg_drop_db(const char *url) {
    const char *base = getenv("HUTONG_TEST_PG");
    const char *q = strchr(url, '?');
    const char *slash = q ? q : url + strlen(url);
    while (slash > url && slash[-1] != '/') {
        slash--;
    }
    char sql[160];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %.*s WITH (FORCE)",
             (int)((q ? q : url + strlen(url)) - slash), slash);
    PQclear(pg_query(base, sql));
}

ts_store *ts_store_new(void) {
    ts_store *f = calloc(1, sizeof *f);
    if (!f) {
        die("calloc");
    }
    f->dir = ts_tmpdir();
    f->db = ts_pg() ? ts_pg_new_db() : ts_path(f->dir, "t.db");
    ht_error err = {0};
    if (ht_store_open(f->db, HT_STORE_CREATE, &f->s, &err) != HT_OK) {
        fprintf(stderr, "test support: %s\n", err.msg);
        abort();
    }
    return f;
}

void ts_store_free(ts_store *f) {
    ht_store_close(f->s);
    if (ht_store_is_url(f->db)) {
        ts_pg_drop_db(f->db);
    }
    ts_rmdir(f->dir);
    free(f->db);
    free(f->dir);
    free(f);
}

void ts_store_import(ts_store *f, const char *name, const char *csv_text) {
    char *p = ts_path(f->dir, name);
    ts_write(p, csv_text);
    ht_import_opts io = {.kind = HT_IMPORT_INCIDENTS};
    ht_error err = {0};
    if (ht_import_file(f->s, p, &io, NULL, &err) != HT_OK) {
        fprintf(stderr, "import %s: %s\n", name, err.msg);
        abort();
    }
    free(p);
}

int64_t ts_incident_id(const char *db, const char *external) {
    char sql[160];
    snprintf(sql, sizeof sql,
             "SELECT id FROM incidents WHERE external_id = '%s'", external);
    return ts_db_int(db, sql);
}

void ts_store_reopen(ts_store *f) {
    ht_store_close(f->s);
    ht_error err = {0};
    if (ht_store_open(f->db, HT_STORE_WRITE, &f->s, &err) != HT_OK) {
        fprintf(stderr, "test support: %s\n", err.msg);
        abort();
    }
}

ht_geom *ts_square(double x, double y, double size) {
    ht_geom *g = ht_geom_new(HT_GEOM_POLYGON);
    if (!g || ht_geom_start_polygon(g, NULL) != HT_OK ||
        ht_geom_start_part(g, NULL) != HT_OK) {
        die("geometry");
    }
    const double c[5][2] = {
        {x, y}, {x + size, y}, {x + size, y + size}, {x, y + size}, {x, y}};
    for (int k = 0; k < 5; k++) {
        if (ht_geom_add_point(g, c[k][0], c[k][1], NULL) != HT_OK) {
            die("geometry");
        }
    }
    return g;
}

ts_demo *ts_demo_new(size_t incidents) {
    ts_demo *d = calloc(1, sizeof *d);
    if (!d) {
        die("calloc");
    }
    d->fx = ts_store_new();
    ht_error err = {0};
    ht_demo_opts o = {.end = 1795824000, .incidents = incidents};
    if (ht_demo_build(d->fx->s, &o, NULL, &err) != HT_OK ||
        ht_features_load(d->fx->s, &d->feat, &err) != HT_OK ||
        ht_renderer_new(d->fx->s, d->feat, &d->rend, &err) != HT_OK) {
        fprintf(stderr, "test support: %s\n", err.msg);
        abort();
    }
    return d;
}

void ts_demo_free(ts_demo *d) {
    ht_renderer_free(d->rend);
    ht_features_free(d->feat);
    ts_store_free(d->fx);
    free(d);
}

void ts_demo_tile(ts_demo *d, ht_renderer *r, const ht_style *s,
                  const ht_filter *f, uint32_t *px) {
    const ht_fgrid *g = ht_features_find_grid(d->feat, "110101");
    ht_tile_id t = ht_tile_at(g->label.x, g->label.y, 14);
    cairo_surface_t *surf =
        cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 256, 256);
    cairo_t *cr = cairo_create(surf);
    ht_render_req req = {.style = s,
                         .bbox = ht_tile_bbox(t),
                         .width = 256,
                         .height = 256,
                         .scale = 1,
                         .filter = f};
    ht_error err = {0};
    if (ht_render(r ? r : d->rend, &req, cr, &err) != HT_OK) {
        fprintf(stderr, "render: %s\n", err.msg);
        abort();
    }
    cairo_destroy(cr);
    cairo_surface_flush(surf);
    memcpy(px, cairo_image_surface_get_data(surf), 256 * 256 * 4);
    cairo_surface_destroy(surf);
}

ts_server ts_serve_start(const char *db, const char *errpath,
                         const char *tokens) {
    return ts_serve_start_private(db, errpath, tokens, false);
}

ts_server ts_serve_start_private(const char *db, const char *errpath,
                                 const char *tokens, bool private_reads) {
    const char *extra[4] = {NULL};
    int n = 0;
    /* On PostgreSQL the tokens are the database's own. */
    bool in_db = strncmp(db, "postgresql://", 13) == 0;
    if (tokens && !in_db) {
        extra[n++] = "--tokens";
        extra[n++] = tokens;
    }
    if (tokens && private_reads) {
        extra[n++] = "--private";
    }
    return ts_serve_start_with(db, errpath, extra);
}

ts_server ts_serve_start_with(const char *db, const char *errpath,
                              const char *const *extra) {
    const char *bin = getenv("HUTONG_BIN");
    if (!bin) {
        die("HUTONG_BIN is not set");
    }
    const char *argv[48] = {bin,      "serve", "--db",      db,
                            "--port", "0",     "--threads", "2"};
    int argc = 8;
    for (int k = 0; extra && extra[k] && argc < 47; k++) {
        argv[argc++] = extra[k];
    }
    argv[argc] = NULL;
    int po[2];
    if (pipe(po)) {
        die("pipe");
    }
    pid_t pid = fork();
    if (pid < 0) {
        die("fork");
    }
    if (pid == 0) {
        /* A test that fails half-way leaves no server behind. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(po[1], 1);
        dup2(fd, 2);
        close(po[0]);
        close(po[1]);
        close(fd);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    close(po[1]);
    /* The first line: "hutong: serving DB on http://127.0.0.1:PORT/ ..." */
    char line[512];
    size_t n = 0;
    time_t deadline = time(NULL) + 60;
    while (n + 1 < sizeof line && time(NULL) < deadline) {
        struct pollfd pfd = {po[0], POLLIN, 0};
        if (poll(&pfd, 1, 1000) <= 0) {
            continue;
        }
        ssize_t r = read(po[0], line + n, 1);
        if (r <= 0 || line[n] == '\n') {
            break;
        }
        n++;
    }
    line[n] = '\0';
    close(po[0]);
    const char *p = strstr(line, "127.0.0.1:");
    ts_server s = {(int)pid, p ? atoi(p + 10) : 0, ""};
    snprintf(s.errpath, sizeof s.errpath, "%s", errpath);
    if (s.port <= 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        fprintf(stderr, "server did not start: \"%s\"\n", line);
        abort();
    }
    return s;
}

/* The server's stderr onto ours: from its first sanitizer report (or the
 * last 4 KB when there is none), at most 12 KB. */
static void show_log(const char *path) {
    if (access(path, R_OK) != 0) {
        return;
    }
    char *text = ts_read(path);
    size_t len = strlen(text);
    const char *from = strstr(text, "Sanitizer");
    if (from) {
        while (from > text && from[-1] != '\n') {
            from--;
        }
    } else {
        from = text + (len > 4096 ? len - 4096 : 0);
    }
    size_t n = strlen(from);
    fprintf(stderr, "--- the server's log (%s) ---\n%.*s%s\n--- end ---\n",
            path, (int)(n > 12288 ? 12288 : n), from,
            n > 12288 ? "\n[...]" : "");
    free(text);
}

int ts_serve_stop(ts_server s) {
    kill(s.pid, SIGTERM);
    int rc = -1;
    for (int k = 0; k < 300; k++) {
        int status;
        if (waitpid(s.pid, &status, WNOHANG) == s.pid) {
            rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
            break;
        }
        nanosleep(&(struct timespec){0, 100000000}, NULL);
        if (k == 299) {
            kill(s.pid, SIGKILL);
            waitpid(s.pid, NULL, 0);
        }
    }
    if (rc != 0) {
        show_log(s.errpath);
    }
    return rc;
}

int ts_http(int port, const char *method, const char *path, const char *headers,
            const char *body, char **head, char **resp, size_t *len) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        die("connect");
    }
    size_t blen = body ? strlen(body) : 0;
    char *req = NULL;
    size_t rlen = 0;
    FILE *m = open_memstream(&req, &rlen);
    fprintf(m,
            "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n"
            "%s",
            method, path, port, headers ? headers : "");
    if (body) {
        fprintf(m, "Content-Length: %zu\r\n", blen);
    }
    fprintf(m, "\r\n");
    if (body) {
        fwrite(body, 1, blen, m);
    }
    fclose(m);
    for (size_t off = 0; off < rlen;) {
        ssize_t w = send(fd, req + off, rlen - off, MSG_NOSIGNAL);
        if (w <= 0) {
            break; /* answered before the body was read: read the answer */
        }
        off += (size_t)w;
    }
    free(req);
    sink all = {0};
    int open_fds = 1;
    while (open_fds) {
        struct pollfd pfd = {fd, POLLIN, 0};
        if (poll(&pfd, 1, 60000) <= 0) {
            die("http: no answer in 60 s");
        }
        sink_read(&all, fd, &open_fds);
    }
    close(fd);
    char *data = all.data ? all.data : calloc(1, 1);
    char *sep = strstr(data, "\r\n\r\n");
    if (!sep) {
        die("http: no response head");
    }
    size_t hl = (size_t)(sep - data);
    char *h = malloc(hl + 1);
    for (size_t i = 0; i < hl; i++) {
        h[i] = (char)tolower((unsigned char)data[i]);
    }
    h[hl] = '\0';
    size_t bl = all.len - hl - 4;
    char *b = malloc(bl + 1);
    memcpy(b, sep + 4, bl);
    b[bl] = '\0';
    if (strstr(h, "\ntransfer-encoding: chunked")) {
        /* the chunks' data, one after the other (in place: it shrinks) */
        size_t in = 0, out = 0;
        for (;;) {
            char *end;
            unsigned long n = strtoul(b + in, &end, 16);
            char *crlf = strstr(end, "\r\n");
            if (end == b + in || !crlf) {
                die("http: a bad chunk");
            }
            in = (size_t)(crlf + 2 - b);
            if (n == 0) {
                break;
            }
            if (in + n + 2 > bl) {
                die("http: a chunk cut short");
            }
            memmove(b + out, b + in, n);
            out += n;
            in += n + 2;
        }
        bl = out;
        b[bl] = '\0';
    }
    int status = 0;
    sscanf(h, "http/1.%*d %d", &status);
    free(data);
    if (head) {
        *head = h;
    } else {
        free(h);
    }
    if (resp) {
        *resp = b;
    } else {
        free(b);
    }
    if (len) {
        *len = bl;
    }
    return status;
}

int ts_connect(int port) {
    return ts_connect_from(port, NULL);
}

int ts_connect_from(int port, const char *from) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return -1;
    }
    if (from) {
        struct sockaddr_in me = {.sin_family = AF_INET};
        inet_pton(AF_INET, from, &me.sin_addr);
        if (bind(fd, (struct sockaddr *)&me, sizeof me) != 0) {
            close(fd);
            return -1;
        }
    }
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static long ms_since(const struct timespec *t0) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)(t.tv_sec - t0->tv_sec) * 1000 +
           (t.tv_nsec - t0->tv_nsec) / 1000000;
}

int ts_http_raw(int port, const char *req, size_t len, int ms, char **resp) {
    return ts_http_raw_from(port, NULL, req, len, ms, resp);
}

int ts_http_raw_from(int port, const char *from, const char *req, size_t len,
                     int ms, char **resp) {
    int fd = ts_connect_from(port, from);
    if (fd < 0) {
        die("connect");
    }
    for (size_t off = 0; off < len;) {
        ssize_t w = send(fd, req + off, len - off, MSG_NOSIGNAL);
        if (w <= 0) {
            break; /* the server may refuse before reading it all */
        }
        off += (size_t)w;
    }
    sink all = {0};
    int open_fds = 1;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    bool timeout = false;
    while (open_fds) {
        long left = ms - ms_since(&t0);
        struct pollfd pfd = {fd, POLLIN, 0};
        if (left <= 0 || poll(&pfd, 1, (int)left) <= 0) {
            timeout = true;
            break;
        }
        sink_read(&all, fd, &open_fds);
    }
    close(fd);
    char *data = all.data ? all.data : calloc(1, 1);
    int status = 0;
    if (sscanf(data, "HTTP/1.%*d %d", &status) != 1) {
        status = timeout ? -1 : 0;
    }
    if (resp) {
        *resp = data;
    } else {
        free(data);
    }
    return status;
}

char *ts_sse_until(int fd, const char *want, int ms) {
    size_t cap = 1 << 16, n = 0;
    char *buf = calloc(1, cap + 1);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        long left = ms - ms_since(&t0);
        struct pollfd p = {fd, POLLIN, 0};
        if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
            break;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r <= 0) {
            break;
        }
        n += (size_t)r;
        buf[n] = '\0';
        if (strstr(buf, want)) {
            return buf;
        }
        if (n == cap) {
            n = 0; /* keep the newest */
        }
    }
    free(buf);
    return NULL;
}

int ts_sse_open(int port, const char *query) {
    int fd = ts_connect(port);
    if (fd < 0) {
        die("connect");
    }
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET /api/events%s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                     query);
    if (write(fd, req, (size_t)n) != n) {
        die("write");
    }
    char *hello = ts_sse_until(fd, "hutong events", 5000);
    if (!hello || !strstr(hello, "text/event-stream")) {
        fprintf(stderr, "test support: no event stream: %s\n",
                hello ? hello : "(nothing)");
        abort();
    }
    free(hello);
    return fd;
}

char *ts_token_new(const char *db, const char *tokens, const char *name,
                   const char *scope, bool write) {
    char *t = NULL;
    const char *args[12] = {"token", "create", "--name", name, "--db", db};
    int n = 6;
    /* On PostgreSQL the tokens are the database's own. */
    if (strncmp(db, "postgresql://", 13) != 0) {
        args[n++] = "--tokens";
        args[n++] = tokens;
    }
    if (scope) {
        args[n++] = "--scope";
        args[n++] = scope;
    }
    if (write) {
        args[n++] = "--write";
    }
    if (ts_hutong(&t, NULL, args[0], args[1], args[2], args[3], args[4],
                  args[5], n > 6 ? args[6] : NULL, n > 7 ? args[7] : NULL,
                  n > 8 ? args[8] : NULL, n > 9 ? args[9] : NULL,
                  n > 10 ? args[10] : NULL, (const char *)NULL) != 0) {
        fprintf(stderr, "test support: token create failed\n");
        abort();
    }
    t[strcspn(t, "\n")] = 0;
    return t;
}

const char *ts_header(const char *head, const char *name) {
    static char value[512];
    char probe[128];
    snprintf(probe, sizeof probe, "\r\n%s:", name);
    const char *p = strstr(head, probe);
    value[0] = '\0';
    if (p) {
        p += strlen(probe);
        while (*p == ' ') {
            p++;
        }
        size_t n = strcspn(p, "\r\n");
        n = n < sizeof value - 1 ? n : sizeof value - 1;
        memcpy(value, p, n);
        value[n] = '\0';
    }
    return value;
}

const char ts_office_geojson[] =
    "{\"type\":\"FeatureCollection\",\"features\":["
    "{\"type\":\"Feature\",\"properties\":{\"code\":\"S1\",\"name\":"
    "\"一街道\",\"level\":\"street\",\"population\":10000},"
    "\"geometry\":{\"type\":\"Polygon\",\"coordinates\":"
    "[[[116.3,39.8],[116.4,39.8],[116.4,39.9],[116.3,39.9],[116.3,"
    "39.8]]]}},"
    "{\"type\":\"Feature\",\"properties\":{\"code\":\"C1\",\"name\":"
    "\"西社区\",\"level\":\"community\"},\"geometry\":{\"type\":"
    "\"Polygon\",\"coordinates\":[[[116.3,39.8],[116.35,39.8],[116.35,"
    "39.9],[116.3,39.9],[116.3,39.8]]]}},"
    "{\"type\":\"Feature\",\"properties\":{\"code\":\"C2\",\"name\":"
    "\"东社区\",\"level\":\"community\"},\"geometry\":{\"type\":"
    "\"Polygon\",\"coordinates\":[[[116.35,39.8],[116.4,39.8],[116.4,"
    "39.9],[116.35,39.9],[116.35,39.8]]]}}]}";

int ts_load_office(ts_store *fx, const char *csv) {
    ht_error err = {0};
    char cats[1024];
    snprintf(cats, sizeof cats, "%s/categories.csv", ht_demo_geodata_dir());
    ht_import_opts c = {.kind = HT_IMPORT_CATEGORIES};
    ht_import_opts g = {.kind = HT_IMPORT_GRIDS};
    ht_import_opts i = {.kind = HT_IMPORT_INCIDENTS};
    char *gp = ts_path(fx->dir, "g.geojson"), *ip = ts_path(fx->dir, "i.csv");
    ts_write(gp, ts_office_geojson);
    ts_write(ip, csv);
    int rc = 0;
    if (ht_import_file(fx->s, cats, &c, NULL, &err) != HT_OK ||
        ht_import_file(fx->s, gp, &g, NULL, &err) != HT_OK ||
        ht_import_file(fx->s, ip, &i, NULL, &err) != HT_OK) {
        fprintf(stderr, "%s\n", err.msg);
        rc = -1;
    }
    free(gp);
    free(ip);
    return rc;
}

const char ts_schema_v1_sql[] =
    "DROP TABLE grid_tree; DROP TABLE deadline_rules; DROP TABLE deadlines;"
    "DROP INDEX incidents_department;"
    "ALTER TABLE incidents DROP COLUMN satisfaction;"
    "ALTER TABLE incidents DROP COLUMN whistle_kind;"
    "ALTER TABLE incidents DROP COLUMN dispatched_at;"
    "ALTER TABLE incidents DROP COLUMN department;"
    "ALTER TABLE incidents DROP COLUMN response_due;"
    "ALTER TABLE incidents DROP COLUMN resolution_due;"
    "ALTER TABLE incidents DROP COLUMN handling_at;"
    "UPDATE hutong_meta SET value = '1' WHERE key = 'schema_version'";

int ts_free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        die("free port");
    }
    close(fd);
    return ntohs(sa.sin_port);
}

char *ts_replace_all(const char *text, const char *from, const char *to) {
    size_t n = 0, lf = strlen(from), lt = strlen(to);
    for (const char *p = strstr(text, from); p; p = strstr(p + lf, from)) {
        n++;
    }
    char *out = malloc(strlen(text) + n * lt + 1), *o = out;
    if (!out) {
        die("malloc");
    }
    for (const char *p = text;;) {
        const char *q = strstr(p, from);
        size_t k = q ? (size_t)(q - p) : strlen(p);
        memcpy(o, p, k);
        o += k;
        if (!q) {
            break;
        }
        memcpy(o, to, lt);
        o += lt;
        p = q + lf;
    }
    *o = '\0';
    return out;
}

pid_t ts_nginx_start(const char *dir, const char *site, int port) {
    char *ndir = ts_path(dir, "nginx"), *conf = ts_path(ndir, "nginx.conf"),
         *sitef = ts_path(ndir, "site.conf"),
         *elog = ts_path(ndir, "error.log");
    pid_t ng = -1;
    if (mkdir(ndir, 0755) != 0 && errno != EEXIST) {
        goto done;
    }
    ts_write(sitef, site);
    /* The main context a distribution's nginx.conf gives; workers as
     * root here only because the test's folder is root's. */
    FILE *f = fopen(conf, "w");
    if (!f) {
        goto done;
    }
    fprintf(f,
            "%s daemon off; worker_processes 1; pid %s/nginx.pid;\n"
            "events { worker_connections 256; }\n"
            "http { access_log off; client_body_temp_path %s/body;\n"
            " proxy_temp_path %s/proxy; fastcgi_temp_path %s/fcgi;\n"
            " uwsgi_temp_path %s/uwsgi; scgi_temp_path %s/scgi;\n"
            " include %s; }\n",
            geteuid() == 0 ? "user root;" : "", ndir, ndir, ndir, ndir, ndir,
            ndir, sitef);
    fclose(f);
    ng = fork();
    if (ng == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* a failed test leaves none */
        execl("/usr/sbin/nginx", "nginx", "-p", ndir, "-c", conf, "-e", elog,
              (char *)NULL);
        _exit(127);
    }
    bool up = false;
    for (int k = 0; ng > 0 && k < 200 && !up; k++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET,
                                 .sin_port = htons((uint16_t)port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        up = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
        close(fd);
        if (!up) {
            struct timespec nap = {0, 50 * 1000000L};
            nanosleep(&nap, NULL);
        }
    }
    if (ng > 0 && !up) {
        ts_nginx_stop(ng);
        ng = -1;
    }
done:
    free(ndir);
    free(conf);
    free(sitef);
    free(elog);
    return ng;
}

void ts_nginx_stop(pid_t pid) {
    if (pid > 0) {
        kill(pid, SIGQUIT);
        waitpid(pid, NULL, 0);
    }
}

typedef struct png_read {
    const unsigned char *p;
    size_t left;
} png_read;

static cairo_status_t png_read_cb(void *ud, unsigned char *data,
                                  unsigned int n) {
    png_read *r = ud;
    if (n > r->left) {
        return CAIRO_STATUS_READ_ERROR;
    }
    memcpy(data, r->p, n);
    r->p += n;
    r->left -= n;
    return CAIRO_STATUS_SUCCESS;
}

cairo_surface_t *ts_png_decode(const char *data, size_t len) {
    png_read r = {(const unsigned char *)data, len};
    return cairo_image_surface_create_from_png_stream(png_read_cb, &r);
}
