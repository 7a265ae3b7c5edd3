/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the test suites. */
#ifndef HUTONG_TEST_SUPPORT_H
#define HUTONG_TEST_SUPPORT_H

#include <cairo.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "hutong/geom.h"
#include "hutong/store.h"

/* The PNG @data (@len bytes) as an image surface (check its status;
 * caller destroys). */
cairo_surface_t *ts_png_decode(const char *data, size_t len);

/* A fresh temporary directory (removed by ts_rmdir); aborts on failure. */
char *ts_tmpdir(void);

/* Remove a directory tree. */
void ts_rmdir(const char *dir);

/* Join dir and name into a static-lifetime-free string (caller frees). */
char *ts_path(const char *dir, const char *name);

/* Write text to a file; aborts on failure. */
void ts_write(const char *path, const char *text);

/* The whole of the file at @path, NUL-terminated (malloc'd); aborts when it
 * cannot be read. */
char *ts_read(const char *path);

/* Run argv (argv[0] a path) with a timeout in seconds; capture stdout and
 * stderr (caller frees). Returns the exit code, or -1 on a signal/timeout. */
int ts_run(char *const argv[], int timeout_s, char **out, char **errout);

/* Run $HUTONG_BIN with the NULL-terminated arguments (timeout 120 s);
 * returns its exit code and, where asked, what it printed (caller frees). */
int ts_hutong(char **out, char **errout, ...);

/* A hash of every row of every table of the SQLite file at path: equal
 * fingerprints mean equal contents. */
uint64_t ts_db_fingerprint(const char *path);

/* Hold the write lock of the SQLite file at @path (BEGIN IMMEDIATE on a
 * connection of its own) until ts_db_unlock. */
void *ts_db_lock(const char *path);
void ts_db_unlock(void *lock);

/* One integer from a SQL query on the file at path (SpatiaLite loaded). */
int64_t ts_db_int(const char *path, const char *sql);

/* One double from a SQL query on the file at path (SpatiaLite loaded). */
double ts_db_double(const char *path, const char *sql);

/* The first column of every row of a query, as doubles, into a new array
 * (caller frees); *n receives the count. */
double *ts_db_doubles(const char *path, const char *sql, size_t *n);

/* One text value (caller frees; NULL for SQL NULL). */
char *ts_db_text(const char *path, const char *sql);

/* Ground distance in metres between two lon/lat points (haversine on the
 * mean radius; ample for the metre-level checks of the tests). */
double ts_dist_m(double lon1, double lat1, double lon2, double lat2);

/* Times relative to the clock (never a fixed calendar date, so a test reads
 * the same on any day, and under faketime):
 * ts_iso: the UTC time @offset_s seconds from now, "YYYY-MM-DDTHH:MM:SSZ";
 * ts_date: the UTC date @days from today, "YYYY-MM-DD";
 * ts_month: the UTC month @months from this one, "YYYY-MM".
 * Each writes into @out and returns it. */
char *ts_iso(long offset_s, char out[static 24]);
char *ts_date(int days, char out[static 16]);
char *ts_month(int months, char out[static 16]);

/* Whether the tests run on PostgreSQL: HUTONG_TEST_PG names a throwaway
 * cluster's maintenance database (tests/pg/with-cluster sets it). Then each
 * ts_store is a new database made from hutong_template, dropped at the
 * end, and ts_db_* run their SQL there. */
bool ts_pg(void);
char *ts_pg_new_db(void); /* a new database's URL (caller frees) */
void ts_pg_drop_db(const char *url);

/* A temporary folder with a new store "t.db" in it (or, with ts_pg(), a
 * new database), open for writing. */
typedef struct ts_store {
    char *dir;
    char *db;
    ht_store *s;
} ts_store;

/* Create one; aborts on failure. */
ts_store *ts_store_new(void);

/* Close the store, remove the folder, free. */
void ts_store_free(ts_store *f);

/* Import the incidents CSV @csv_text into @f's store (through a file
 * @name in its folder); aborts on failure. */
void ts_store_import(ts_store *f, const char *name, const char *csv_text);

/* The row id of the incident with external id @external in the store at
 * @db (0 when there is none). */
int64_t ts_incident_id(const char *db, const char *external);

/* Close and reopen the store for writing (so the file is complete). */
void ts_store_reopen(ts_store *f);

/* A store with a small demo (@incidents incidents, fixed seed and end),
 * its features and a renderer; aborts on failure. */
typedef struct ts_demo {
    ts_store *fx;
    struct ht_features *feat;
    struct ht_renderer *rend;
} ts_demo;

ts_demo *ts_demo_new(size_t incidents);
void ts_demo_free(ts_demo *d);

struct ht_style;
struct ht_filter;

/* The 256 px tile at zoom 14 over grid 110101 of @d's district drawn by
 * @r (NULL: @d's renderer) in @s under @f, as premultiplied ARGB into @px
 * (256 * 256); aborts when it cannot be drawn. */
void ts_demo_tile(ts_demo *d, struct ht_renderer *r, const struct ht_style *s,
                  const struct ht_filter *f, uint32_t *px);

/* SQL that turns a file of the current schema back into one of schema 1
 * (what hutong 0.1 wrote): no grid_tree, no closed-loop columns or rules. */
extern const char ts_schema_v1_sql[];

/* An axis-aligned square polygon (caller frees). */
ht_geom *ts_square(double x, double y, double size);

/* A `hutong serve` child on a free loopback port (with --tokens @tokens
 * unless NULL); its stderr goes to @errpath. Aborts when it does not announce
 * its port within 60 s. */
typedef struct ts_server {
    int pid;
    int port;
    char errpath[512]; /* its stderr, shown when it does not exit cleanly */
} ts_server;

ts_server ts_serve_start(const char *db, const char *errpath,
                         const char *tokens);

/* The same, with --private (reads need a token) when @private_reads. */
ts_server ts_serve_start_private(const char *db, const char *errpath,
                                 const char *tokens, bool private_reads);

/* The same, with more `serve` options (a NULL-terminated list, may be
 * NULL). */
ts_server ts_serve_start_with(const char *db, const char *errpath,
                              const char *const *extra);

/* SIGTERM, then wait (at most 30 s): the exit status, or -1 if it had to
 * be killed or died of a signal. When it is not 0 the end of the server's
 * stderr (a sanitizer's report, say) is copied to this process's stderr. */
int ts_serve_stop(ts_server s);

/* One HTTP/1.1 request to 127.0.0.1:@port (Connection: close). @headers:
 * extra header lines, each ending in CRLF, or NULL. Returns the status;
 * *head (the response head, lower-cased) and *body are malloc'd, NUL
 * terminated; *len is the body length. Aborts on socket errors. */
int ts_http(int port, const char *method, const char *path, const char *headers,
            const char *body, char **head, char **resp, size_t *len);

/* Send the bytes @req (@len) to 127.0.0.1:@port as they are and read
 * until the server closes or @ms pass: the status of the answer, 0 when
 * none came (the connection closed without one) or -1 on a timeout;
 * *resp (may be NULL) receives everything read, NUL terminated. */
int ts_http_raw(int port, const char *req, size_t len, int ms, char **resp);

/* ts_http_raw from the local address @from (e.g. "127.0.0.2": every
 * 127.x.y.z is this machine), NULL for any. */
int ts_http_raw_from(int port, const char *from, const char *req, size_t len,
                     int ms, char **resp);

/* A connected TCP socket to 127.0.0.1:@port, or -1; ts_connect_from binds
 * it to the local address @from first (NULL: any). */
int ts_connect(int port);
int ts_connect_from(int port, const char *from);

/* Read @fd until @want appears (within @ms): what was read (caller frees),
 * or NULL. */
char *ts_sse_until(int fd, const char *want, int ms);

/* A listener on /api/events (@query: "" or "?token=..."), its hello read;
 * aborts when none comes in 5 s. */
int ts_sse_open(int port, const char *query);

/* A new token made by `hutong token create` in the file @tokens for the
 * database @db (where a scope's grid must exist): @scope NULL for
 * everywhere (caller frees). Aborts on failure. */
char *ts_token_new(const char *db, const char *tokens, const char *name,
                   const char *scope, bool write);

/* The value of header @name (lower case) in @head ("" if absent, static). */
const char *ts_header(const char *head, const char *name);

/* GeoJSON of a street office S1 "一街道" (116.3-116.4 E, 39.8-39.9 N,
 * 10,000 residents) halved into communities C1 "西社区" (west) and C2
 * "东社区" (east). */
extern const char ts_office_geojson[];

/* Load the shipped categories, ts_office_geojson and the incidents CSV
 * @csv into @fx; 0, or -1 with the reason on stderr. */
int ts_load_office(ts_store *fx, const char *csv);

/* A free loopback port (bound, then let go). */
int ts_free_port(void);

/* @text with every @from replaced by @to (caller frees). */
char *ts_replace_all(const char *text, const char *from, const char *to);

/* nginx (/usr/sbin/nginx) serving @site, a server block that listens on
 * loopback @port, from a folder "nginx" under @dir: its pid once the
 * port answers, or -1. ts_nginx_stop ends it. */
pid_t ts_nginx_start(const char *dir, const char *site, int port);
void ts_nginx_stop(pid_t pid);

#endif
