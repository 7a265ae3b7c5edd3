/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: index. */
#include <math.h>
#include <sqlite3.h>

#include "hutong/demo.h"
#include "hutong/import.h"
#include "hutong/index.h"
#include "hutong/tile.h"

#include "ht_test.h"
#include "index_int.h"

static ts_store *fx;

/* Grids: a street office with two communities; six incidents. */
static int setup(void **state) {
    (void)state;
    fx = ts_store_new();
    return ts_load_office(
        fx,
        "id,lon,lat,category,severity,source,status,reported_at\n"
        "a,116.31,39.81,0101,1,hotline,reported,2026-01-10\n"
        "b,116.32,39.82,0105,2,patrol,closed,2026-01-20\n"
        "c,116.36,39.83,05,3,app,dispatched,2026-02-10\n"
        "d,116.37,39.84,H02,1,hotline,evaluated,2026-02-20\n"
        "e,116.38,39.85,0503,2,whistle,handling,2026-03-01\n"
        "f,116.50,39.86,01,1,other,reported,2026-03-05\n");
}

static int teardown(void **state) {
    (void)state;
    ts_store_free(fx);
    return 0;
}

static void collect(void *ud, double x, double y, const ht_incident_view *v) {
    (void)x;
    (void)y;
    char *out = ud;
    char id[16];
    snprintf(id, sizeof id, "%lld,", (long long)v->id);
    strcat(out, id);
}

/* Row ids of the incidents passing filter "key=value[;key=value]". */
static char *ids(const ht_index *ix, const char *const *kv, size_t n) {
    ht_filter f = ht_filter_all();
    for (size_t i = 0; i + 1 < n; i += 2) {
        assert_int_equal(ht_filter_set(&f, kv[i], kv[i + 1], 0, NULL), HT_OK);
    }
    ht_index_filter *q;
    ht_error err = {0};
    if (ht_index_filter_new(ix, &f, &q, &err) != HT_OK) {
        fail_msg("%s", err.msg);
    }
    static char out[256];
    out[0] = '\0';
    ht_index_visit(ix, q, NULL, collect, out);
    ht_index_filter_free(q);
    return out;
}

/* The extent of the incidents, point by point. */
static void extend(void *ud, double x, double y, int severity) {
    (void)severity;
    ht_bbox_add(ud, x, y);
}

static void assert_extent(const ht_index *ix) {
    ht_bbox want = ht_bbox_empty(), got = ht_index_bbox(ix);
    ht_index_points(ix, NULL, NULL, extend, &want);
    assert_true(got.minx == want.minx && got.miny == want.miny &&
                got.maxx == want.maxx && got.maxy == want.maxy);
}

static void test_index_filters(void **state) {
    (void)state;
    ht_index *ix;
    assert_int_equal(ht_index_load(fx->s, &ix, NULL), HT_OK);
    assert_int_equal(ht_index_count(ix), 6);
    const char *sev[] = {"severity", "2"};
    assert_string_equal(ids(ix, sev, 2), "2,3,5,");
    const char *open[] = {"status", "open"};
    assert_string_equal(ids(ix, open, 2), "1,3,5,6,");
    /* A major code matches its minors. */
    const char *major[] = {"category", "01"};
    assert_string_equal(ids(ix, major, 2), "1,2,6,");
    const char *street[] = {"category", "05"};
    assert_string_equal(ids(ix, street, 2), "3,5,");
    /* A grid and everything under it. */
    const char *s1[] = {"grid", "S1"};
    assert_string_equal(ids(ix, s1, 2), "1,2,3,4,5,");
    const char *c2[] = {"grid", "C2"};
    assert_string_equal(ids(ix, c2, 2), "3,4,5,");
    const char *time[] = {"from", "2026-01-15", "to", "2026-02-20"};
    assert_string_equal(ids(ix, time, 4), "2,3,");
    const char *src[] = {"source", "hotline,whistle"};
    assert_string_equal(ids(ix, src, 2), "1,4,5,");
    /* Unknown codes are errors naming the parameter. */
    ht_filter f = ht_filter_all();
    ht_filter_set(&f, "category", "ZZ", 0, NULL);
    ht_index_filter *q = (ht_index_filter *)1;
    ht_error err = {0};
    assert_int_equal(ht_index_filter_new(ix, &f, &q, &err), HT_EINVAL);
    assert_null(q);
    assert_contains(err.msg, "category: unknown code \"ZZ\"");
    f = ht_filter_all();
    ht_filter_set(&f, "grid", "NOPE", 0, NULL);
    assert_int_equal(ht_index_filter_new(ix, &f, &q, &err), HT_EINVAL);
    assert_contains(err.msg, "grid: unknown code \"NOPE\"");
    /* Box queries. */
    double x, y;
    ht_bbox all = ht_index_bbox(ix);
    ht_tile_lonlat_to_merc(116.355, 39.85, &x, &y);
    ht_bbox east = {x, all.miny, all.maxx, all.maxy};
    char out[256] = "";
    ht_index_visit(ix, NULL, &east, collect, out);
    assert_string_equal(out, "3,4,5,6,");
    ht_index_unref(ix);
}

/* The filter of up to two key and value pairs (@kv: a NULL key ends
 * them), relative dates read at a set clock. */
static ht_filter filter_kv(const char *const kv[4]) {
    ht_filter f = ht_filter_all();
    for (int p = 0; p < 4 && kv[p]; p += 2) {
        assert_int_equal(ht_filter_set(&f, kv[p], kv[p + 1], 1795824000, NULL),
                         HT_OK);
    }
    return f;
}

/* A grid filter walks the cells of its grids' rows only: an incident
 * moved into a grid from beyond them is found there, and one moved out is
 * not. */
static void test_index_grid_filters_follow_moves(void **state) {
    (void)state;
    ts_store *g = ts_store_new();
    assert_int_equal(
        ts_load_office(g,
                       "id,lon,lat,category,severity,source,status,"
                       "reported_at\n"
                       "a,116.31,39.81,0101,1,hotline,reported,2026-01-10\n"
                       "b,116.32,39.82,0105,2,patrol,closed,2026-01-20\n"
                       "e,116.38,39.85,0503,2,whistle,handling,2026-03-01\n"
                       "f,116.50,39.86,01,1,other,reported,2026-03-05\n"),
        0);
    ht_index *v1, *v2;
    assert_int_equal(ht_index_load(g->s, &v1, NULL), HT_OK);
    const char *c1[] = {"grid", "C1"}, *c2[] = {"grid", "C2"};
    assert_string_equal(ids(v1, c1, 2), "1,2,");
    assert_string_equal(ids(v1, c2, 2), "3,");
    /* f (in no grid) and e (in C2) moved to C1's far corner. */
    ts_store_import(g, "moved.csv",
                    "id,lon,lat,category,severity,source,status,reported_at\n"
                    "e,116.349,39.899,0503,2,whistle,handling,2026-03-01\n"
                    "f,116.301,39.899,01,1,other,reported,2026-03-05\n");
    ht_error err = {0};
    int64_t moved[] = {ts_incident_id(g->db, "e"), ts_incident_id(g->db, "f")};
    assert_int_equal(ht_index_apply(v1, g->s, moved, 2, &v2, &err), HT_OK);
    assert_string_equal(ids(v2, c1, 2), "1,2,3,4,");
    assert_string_equal(ids(v2, c2, 2), "");
    ht_index_unref(v2);
    ht_index_unref(v1);
    ts_store_free(g);
}

/* The earliest and latest report times, kept with the base: asked of
 * every row again only when the earliest or latest of the base is gone. */
static void test_index_time_range(void **state) {
    (void)state;
    ts_store *g = ts_store_new();
    assert_int_equal(
        ts_load_office(g,
                       "id,lon,lat,category,severity,source,status,"
                       "reported_at\n"
                       "a,116.31,39.81,0101,1,hotline,reported,2026-01-10\n"
                       "b,116.32,39.82,0105,2,patrol,closed,2026-01-20\n"
                       "c,116.36,39.83,05,3,app,dispatched,2026-02-10\n"),
        0);
    ht_index *v[4];
    assert_int_equal(ht_index_load(g->s, &v[0], NULL), HT_OK);
    int64_t first, last, day = 86400;
    int64_t jan10 = 1768003200; /* 2026-01-10 */
    assert_true(ht_index_time_range(v[0], &first, &last));
    assert_int_equal(first, jan10);
    assert_int_equal(last, jan10 + 31 * day);
    /* b moved a day on (a dead row, not at either end); then a, the
     * earliest, deleted; then a later one added. */
    ht_error err = {0};
    ts_store_import(g, "moved.csv",
                    "id,lon,lat,category,severity,source,status,reported_at\n"
                    "b,116.32,39.82,0105,2,patrol,closed,2026-01-21\n");
    int64_t b = ts_incident_id(g->db, "b"), a = ts_incident_id(g->db, "a");
    assert_int_equal(ht_index_apply(v[0], g->s, &b, 1, &v[1], &err), HT_OK);
    assert_true(ht_index_time_range(v[1], &first, &last));
    assert_int_equal(first, jan10);
    assert_int_equal(last, jan10 + 31 * day);
    /* (deleted by hand: another system's write, on the file) */
    sqlite3 *raw = NULL;
    if (!ts_pg()) {
        assert_int_equal(sqlite3_open(g->db, &raw), SQLITE_OK);
        assert_int_equal(
            sqlite3_exec(raw, "DELETE FROM incidents WHERE external_id = 'a'",
                         NULL, NULL, NULL),
            SQLITE_OK);
        sqlite3_close(raw);
        ts_store_reopen(g);
        assert_int_equal(ht_index_apply(v[1], g->s, &a, 1, &v[2], &err), HT_OK);
        assert_true(ht_index_time_range(v[2], &first, &last));
        assert_int_equal(first, jan10 + 11 * day); /* b's, moved */
        assert_int_equal(last, jan10 + 31 * day);
        ht_index_unref(v[2]);
    }
    ts_store_import(g, "later.csv",
                    "id,lon,lat,category,severity,source,status,reported_at\n"
                    "d,116.33,39.83,0101,1,app,reported,2026-03-01\n");
    int64_t d = ts_incident_id(g->db, "d");
    assert_int_equal(ht_index_apply(v[1], g->s, &d, 1, &v[3], &err), HT_OK);
    assert_true(ht_index_time_range(v[3], &first, &last));
    assert_int_equal(first, jan10);
    assert_int_equal(last, jan10 + 50 * day);
    ht_index_unref(v[3]);
    ht_index_unref(v[1]);
    ht_index_unref(v[0]);
    ts_store_free(g);
}

static void test_index_snapshots(void **state) {
    (void)state;
    ht_index *v1;
    assert_int_equal(ht_index_load(fx->s, &v1, NULL), HT_OK);
    /* A new incident and a status change, committed to the store. */
    ht_import_opts i = {.kind = HT_IMPORT_INCIDENTS};
    char *ip = ts_path(fx->dir, "more.csv");
    ts_write(ip,
             "id,lon,lat,category,severity,source,status,reported_at\n"
             "a,116.31,39.81,0101,1,hotline,closed,2026-01-10\n"
             "g,116.33,39.83,0101,3,app,reported,2026-04-01\n");
    ht_error err = {0};
    assert_int_equal(ht_import_file(fx->s, ip, &i, NULL, &err), HT_OK);
    free(ip);
    /* The new one's id is the store's to choose (PostgreSQL's sequence
     * leaves gaps where an upsert found the row). */
    int64_t g = ts_db_int(fx->db,
                          "SELECT id FROM incidents WHERE "
                          "external_id = 'g'");
    int64_t changed[] = {1, g};
    ht_index *v2;
    assert_int_equal(ht_index_apply(v1, fx->s, changed, 2, &v2, &err), HT_OK);
    const char *open[] = {"status", "open"};
    char before[256], after[256];
    snprintf(before, sizeof before, "%s", ids(v1, open, 2));
    snprintf(after, sizeof after, "%s", ids(v2, open, 2));
    assert_string_equal(before, "1,3,5,6,"); /* the old snapshot as it was */
    char want[64];
    snprintf(want, sizeof want, "3,5,6,%lld,", (long long)g);
    assert_string_equal(after, want);
    assert_int_equal(ht_index_count(v1), 6);
    assert_int_equal(ht_index_count(v2), 7);
    /* The extent kept with the base, and the new one's added. */
    assert_extent(v1);
    assert_extent(v2);
    /* One incident as each snapshot holds it. */
    double x, y;
    ht_incident_view v;
    assert_true(ht_index_find(v1, NULL, 1, &x, &y, &v));
    assert_int_equal(v.state, HT_STATE_REPORTED);
    assert_true(ht_index_find(v2, NULL, 1, &x, &y, &v));
    assert_int_equal(v.state, HT_STATE_CLOSED);
    assert_false(ht_index_find(v1, NULL, 7, &x, &y, NULL));
    assert_true(ht_index_find(v2, NULL, g, &x, &y, &v));
    assert_int_equal(v.severity, 3);
    double lon, lat;
    ht_tile_merc_to_lonlat(x, y, &lon, &lat);
    assert_true(fabs(lon - 116.33) < 1e-6 && fabs(lat - 39.83) < 1e-6);
    ht_filter closed = ht_filter_all();
    assert_int_equal(ht_filter_set(&closed, "status", "closed", 0, NULL),
                     HT_OK);
    ht_index_filter *q;
    assert_int_equal(ht_index_filter_new(v2, &closed, &q, NULL), HT_OK);
    assert_true(ht_index_find(v2, q, 1, &x, &y, NULL));
    assert_false(ht_index_find(v2, q, g, &x, &y, NULL));
    assert_false(ht_index_find(v2, q, 999, &x, &y, NULL));
    ht_index_filter_free(q);
    /* Again: a row of the delta (7) and one of the base (3) change, and a
     * new one (8) comes; ids given out of order and twice. */
    char *ip2 = ts_path(fx->dir, "again.csv");
    ts_write(ip2,
             "id,lon,lat,category,severity,source,status,reported_at\n"
             "g,116.34,39.84,0101,2,app,closed,2026-04-01\n"
             "c,116.36,39.83,05,1,app,closed,2026-02-10\n"
             "h,116.35,39.85,0101,1,app,reported,2026-04-02\n");
    assert_int_equal(ht_import_file(fx->s, ip2, &i, NULL, &err), HT_OK);
    free(ip2);
    int64_t h = ts_db_int(fx->db,
                          "SELECT id FROM incidents WHERE "
                          "external_id = 'h'");
    int64_t again[] = {h, g, 3, g};
    ht_index *v3;
    assert_int_equal(ht_index_apply(v2, fx->s, again, 4, &v3, &err), HT_OK);
    assert_int_equal(ht_index_count(v3), 8);
    snprintf(want, sizeof want, "5,6,%lld,", (long long)h);
    assert_string_equal(ids(v3, open, 2), want);
    assert_true(ht_index_find(v3, NULL, g, &x, &y, &v));
    assert_int_equal(v.severity, 2);
    assert_true(ht_index_find(v3, NULL, 3, &x, &y, &v));
    assert_int_equal(v.state, HT_STATE_CLOSED);
    assert_true(ht_index_find(v3, NULL, 1, &x, &y, &v)); /* kept */
    assert_int_equal(v.state, HT_STATE_CLOSED);
    assert_true(ht_index_find(v2, NULL, g, &x, &y, &v)); /* v2 as it was */
    assert_int_equal(v.severity, 3);
    ht_index_unref(v3);
    /* The old snapshot lives on after the new one is gone, and back. */
    ht_index_unref(v2);
    assert_string_equal(ids(v1, open, 2), "1,3,5,6,");
    ht_index_unref(v1);
}

/* Every incident of @ix as text, in id order: all it holds of each. */
static void describe_row(void *ud, double x, double y,
                         const ht_incident_view *v) {
    char *out = ud;
    char row[256];
    snprintf(row, sizeof row,
             "%lld %.3f %.3f %lld %d %d %d %s %s %s %lld %lld;",
             (long long)v->id, x, y, (long long)v->reported_at, v->severity,
             (int)v->source, (int)v->state, v->category, v->major,
             v->grid_code ? v->grid_code : "-", (long long)v->street_id,
             (long long)v->late_at);
    strcat(out, row);
}

static int cmp_text(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The rows in one order, whatever the order the index keeps them in. */
static char *dump(const ht_index *ix) {
    char *raw = calloc(1, 1 << 16), *out = calloc(1, 1 << 16);
    ht_index_visit(ix, NULL, NULL, describe_row, raw);
    char *rows[64];
    size_t n = 0;
    for (char *p = strtok(raw, ";"); p && n < 64; p = strtok(NULL, ";")) {
        rows[n++] = p;
    }
    qsort(rows, n, sizeof *rows, cmp_text);
    for (size_t k = 0; k < n; k++) {
        strcat(out, rows[k]);
        strcat(out, ";");
    }
    free(raw);
    return out;
}

/* A snapshot in a file: read back the same (changes folded in), and only
 * for its data version; a damaged, truncated or foreign file, or none, is
 * "not found" with the reason, never a crash or a wrong index. */
static void test_index_file(void **state) {
    (void)state;
    ht_index *a;
    ht_error err = {0};
    assert_int_equal(ht_index_load(fx->s, &a, &err), HT_OK);
    char *path = ts_path(fx->dir, "x.index");
    ht_index *none = (ht_index *)1;
    assert_int_equal(ht_index_read(path, 0, &none, &err), HT_ENOTFOUND);
    assert_null(none);
    assert_contains(err.msg, "no snapshot");
    assert_int_equal(ht_index_save(a, path, 42, &err), HT_OK);
    ht_index *b = NULL;
    assert_int_equal(ht_index_read(path, 41, &b, &err), HT_ENOTFOUND);
    assert_null(b);
    assert_contains(err.msg, "data version 42");
    assert_int_equal(ht_index_read(path, 42, &b, &err), HT_OK);
    char *da = dump(a), *db = dump(b);
    assert_true(strlen(da) > 100);
    assert_string_equal(da, db);
    assert_int_equal(ht_index_count(a), ht_index_count(b));
    assert_extent(b);
    free(db);
    ht_index_unref(b);
    /* With changes on top of its base: folded into the saved one. */
    ht_import_opts i = {.kind = HT_IMPORT_INCIDENTS};
    char *ip = ts_path(fx->dir, "file.csv");
    ts_write(ip,
             "id,lon,lat,category,severity,source,status,reported_at\n"
             "b,116.32,39.82,0105,3,patrol,closed,2026-01-20\n"
             "z,116.35,39.84,0101,2,app,reported,2026-05-01\n");
    assert_int_equal(ht_import_file(fx->s, ip, &i, NULL, &err), HT_OK);
    free(ip);
    int64_t changed[] = {2, 9, 10, 11};
    ht_index *c;
    assert_int_equal(ht_index_apply(a, fx->s, changed, 4, &c, &err), HT_OK);
    assert_int_equal(ht_index_save(c, path, 43, &err), HT_OK);
    assert_int_equal(ht_index_read(path, 43, &b, &err), HT_OK);
    char *dc = dump(c);
    db = dump(b);
    assert_string_equal(dc, db);
    assert_string_not_equal(da, dc);
    free(db);
    ht_index_unref(b);
    /* Cut short, or not ours. */
    char *bytes = ts_read(path);
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fclose(f);
    for (long cut = len - 1; cut > 0; cut = cut * 2 / 3) {
        f = fopen(path, "wb");
        fwrite(bytes, 1, (size_t)cut, f);
        fclose(f);
        b = NULL;
        assert_int_equal(ht_index_read(path, 43, &b, &err), HT_ENOTFOUND);
        assert_null(b);
    }
    /* One byte too many: refused too. */
    f = fopen(path, "wb");
    fwrite(bytes, 1, (size_t)len, f);
    fwrite("x", 1, 1, f); /* one byte too many */
    fclose(f);
    assert_int_equal(ht_index_read(path, 43, &b, &err), HT_ENOTFOUND);
    assert_contains(err.msg, "damaged or truncated");
    ts_write(path, "not an index at all, just some text\n");
    assert_int_equal(ht_index_read(path, 43, &b, &err), HT_ENOTFOUND);
    assert_contains(err.msg, "not an index snapshot");
    /* A database server's: of its database, at any change of its log;
     * never taken for a file's, nor a file's for it. */
    int64_t seq = 0;
    assert_int_equal(ht_index_save_stamped(c, path, 7771, 912, &err), HT_OK);
    assert_int_equal(ht_index_read_stamped(path, 7772, &seq, &b, &err),
                     HT_ENOTFOUND);
    assert_contains(err.msg, "of another database");
    assert_null(b);
    assert_int_equal(ht_index_read(path, 912, &b, &err), HT_ENOTFOUND);
    assert_int_equal(ht_index_read_stamped(path, 7771, &seq, &b, &err), HT_OK);
    assert_int_equal(seq, 912);
    db = dump(b);
    assert_string_equal(dc, db);
    free(db);
    ht_index_unref(b);
    assert_int_equal(ht_index_save(c, path, 43, &err), HT_OK);
    assert_int_equal(ht_index_read_stamped(path, 7771, &seq, &b, &err),
                     HT_ENOTFOUND);
    assert_null(b);
    free(bytes);
    free(da);
    free(dc);
    free(path);
    ht_index_unref(c);
    ht_index_unref(a);
}

/* The newest incidents (the incident pages): looked for in three threads,
 * the same page and count as in one, for every page size, cursor, filter
 * and box. */
static void test_index_newest_in_parts(void **state) {
    (void)state;
    ht_index *ix;
    ht_error err = {0};
    assert_int_equal(ht_index_load(fx->s, &ix, &err), HT_OK);
    ht_filter all = ht_filter_all(), sev = ht_filter_all();
    assert_int_equal(ht_filter_set(&sev, "severity", "1", 0, NULL), HT_OK);
    ht_index_filter *qs[2];
    assert_int_equal(ht_index_filter_new(ix, &all, &qs[0], &err), HT_OK);
    assert_int_equal(ht_index_filter_new(ix, &sev, &qs[1], &err), HT_OK);
    ht_bbox box;
    ht_tile_lonlat_to_merc(116.305, 39.805, &box.minx, &box.miny);
    ht_tile_lonlat_to_merc(116.375, 39.845, &box.maxx, &box.maxy);
    const ht_bbox *boxes[2] = {NULL, &box};
    int64_t cursors[][2] = {{INT64_MAX, INT64_MAX}, {1772323200, 4}};
    size_t checked = 0;
    for (int f = 0; f < 2; f++) {
        for (int b = 0; b < 2; b++) {
            for (int cu = 0; cu < 2; cu++) {
                for (size_t k = 0; k <= 7; k++) {
                    int64_t one[8], three[8];
                    size_t n1 = 0, n3 = 0, m1 = 0, m3 = 0;
                    ht__index_set_parts(1, 0);
                    assert_int_equal(
                        ht_index_newest(ix, qs[f], boxes[b], cursors[cu][0],
                                        cursors[cu][1], k, one, &n1, &m1, &err),
                        HT_OK);
                    ht__index_set_parts(3, 0);
                    assert_int_equal(
                        ht_index_newest(ix, qs[f], boxes[b], cursors[cu][0],
                                        cursors[cu][1], k, three, &n3, &m3,
                                        &err),
                        HT_OK);
                    assert_int_equal(n1, n3);
                    assert_int_equal(m1, m3);
                    assert_true(n1 <= k && n1 <= m1);
                    if (n1) {
                        assert_memory_equal(one, three, n1 * sizeof *one);
                    }
                    checked += n1;
                }
            }
        }
    }
    /* Counts by group too. */
    for (int f = 0; f < 2; f++) {
        ht_group by[] = {HT_GROUP_GRID, HT_GROUP_STREET, HT_GROUP_CATEGORY};
        for (size_t b = 0; b < sizeof by / sizeof *by; b++) {
            size_t ng = ht_index_groups(ix, by[b]);
            int64_t *c1 = calloc(ng + 1, sizeof *c1),
                    *c3 = calloc(ng + 1, sizeof *c3), sum = 0;
            ht__index_set_parts(1, 0);
            ht_index_group_counts(ix, qs[f], by[b], c1);
            ht__index_set_parts(3, 0);
            ht_index_group_counts(ix, qs[f], by[b], c3);
            assert_memory_equal(c1, c3, ng * sizeof *c1);
            for (size_t g = 0; g < ng; g++) {
                sum += c1[g];
            }
            assert_true(sum > 0);
            free(c1);
            free(c3);
        }
    }
    ht__index_set_parts(0, 400000);
    assert_true(checked > 20);
    /* Newest first, every incident counted. */
    int64_t top[3];
    size_t n = 0, m = 0;
    assert_int_equal(ht_index_newest(ix, qs[0], NULL, INT64_MAX, INT64_MAX, 3,
                                     top, &n, &m, &err),
                     HT_OK);
    assert_int_equal(n, 3);
    assert_int_equal(m, ht_index_count(ix));
    assert_true(top[0] > top[1] && top[1] > top[2]);
    ht_index_filter_free(qs[0]);
    ht_index_filter_free(qs[1]);
    ht_index_unref(ix);
}

/* Run @sql (an UPDATE ... RETURNING id) on either engine's @db. */
static void change(const char *db, const char *sql) {
    if (ht_store_is_url(db)) {
        assert_true(ts_db_int(db, sql) > 0);
        return;
    }
    sqlite3 *h;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_changes(h), 1);
    sqlite3_close(h);
}

/* Packed positions read back as they were: blocks of near rows (offsets
 * up to 65535 steps), blocks with a row far off (kept whole), a last
 * block part full; a snapshot's rows where they were put. */
static void test_index_positions_packed(void **state) {
    (void)state;
    cols c = {0};
    size_t n = 64 * 5 + 17;
    assert_int_equal(ht__index_cols_reserve(&c, n, NULL), HT_OK);
    uint32_t seed = 7;
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        size_t k = i / 64;
        uint32_t x0 = 2000000000u + (uint32_t)k * 1000000u;
        c.x[i] = x0 + (k == 1 ? (seed >> 8) % 65536 : (seed >> 12) % 4000);
        c.y[i] = 1500000000u + (seed >> 4) % 30000;
    }
    c.x[64 * 2 + 5] = 4000000000u; /* block 2: wide in x */
    c.y[64 * 3 + 63] = 10;         /* block 3: wide in y */
    c.x[64 * 4 + 1] = 2004000000u; /* block 4: just fits */
    c.x[64 * 4] = 2004000000u + 65535;
    /* Streets: one id past 3 bytes, so all by their places in a table. */
    for (size_t i = 0; i < n; i++) {
        c.street[i] = i % 5 == 0 ? NONE32 : (uint32_t)(i % 7) * 1000;
    }
    c.street[9] = 4000000000u;
    /* Categories, departments and grids past a byte, a byte and 2 bytes:
     * kept whole. */
    for (size_t i = 0; i < n; i++) {
        c.cat[i] = (uint16_t)(i % 3 == 0 ? 300 : i % 40);
        c.dept[i] = (uint16_t)(i % 4 == 0 ? NONE16 : i % 4 == 1 ? 255 : i);
        ht__set_grid(&c, i, i % 5 == 0 ? NONE32 : (uint32_t)(i * 211));
        c.id[i] = (uint32_t)(i * 1000);
    }
    ht__set_grid(&c, 1, NONE24 - 1);
    c.id[64 * 3 + 5] = 1u << 25; /* block 3 spans more than 2^24 ids */
    c.n = n;
    uint32_t *x = malloc(n * 4), *y = malloc(n * 4), *st = malloc(n * 4);
    memcpy(st, c.street, n * 4);
    memcpy(x, c.x, n * 4);
    memcpy(y, c.y, n * 4);
    assert_true(ht__index_cols_pack(&c));
    assert_null(c.x);
    assert_int_equal(c.nwide, 2);
    for (size_t i = 0; i < n; i++) {
        uint32_t qx, qy;
        ht__row_q(&c, i, &qx, &qy);
        assert_int_equal(qx, x[i]);
        assert_int_equal(qy, y[i]);
        assert_int_equal(ht__row_street(&c, i), st[i]);
    }
    assert_null(c.street);
    assert_int_equal(c.nsids, 8); /* 0, 1000 ... 6000 and the large one */
    assert_non_null(c.cat);
    assert_null(c.cat8);
    assert_non_null(c.dept);
    assert_null(c.dept8);
    assert_non_null(c.grid);
    assert_null(c.grid2);
    assert_non_null(c.id);
    assert_null(c.id3);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(ht__row_id(&c, i),
                         i == 64 * 3 + 5 ? 1u << 25 : i * 1000);
        assert_int_equal(ht__row_cat(&c, i), i % 3 == 0 ? 300 : i % 40);
        assert_int_equal(ht__row_dept(&c, i), i % 4 == 0   ? NONE16
                                              : i % 4 == 1 ? 255
                                                           : i);
        assert_int_equal(ht__row_grid(&c, i), i == 1       ? NONE24 - 1
                                              : i % 5 == 0 ? NONE32
                                                           : i * 211);
    }
    free(x);
    free(y);
    free(st);
    ht__index_cols_free(&c);
    /* All of them within a byte, a byte and 2 bytes, the largest that fit
     * and none among them: packed, read back the same. */
    assert_int_equal(ht__index_cols_reserve(&c, n, NULL), HT_OK);
    for (size_t i = 0; i < n; i++) {
        c.x[i] = c.y[i] = 2000000000u + (uint32_t)i;
        c.street[i] = NONE32;
        c.cat[i] = (uint16_t)(i % 3 == 0 ? 254 : i % 40);
        c.dept[i] = (uint16_t)(i % 4 == 0 ? NONE16 : i % 4 == 1 ? 254 : i % 9);
        ht__set_grid(&c, i, i % 5 == 0 ? NONE32 : (uint32_t)(i * 190));
        /* ids out of order, a block's 2^24 - 1 apart at most */
        c.id[i] = (uint32_t)(4000000000u - i * 7919 % 10007 * 1000);
    }
    uint32_t top = 0;
    for (size_t i = 64 * 2 + 1; i < 64 * 3; i++) {
        top = c.id[i] > top ? c.id[i] : top;
    }
    c.id[64 * 2] = top - NONE24; /* block 2: the widest that fits */
    uint32_t *ids = malloc(n * sizeof *ids);
    memcpy(ids, c.id, n * sizeof *ids);
    ht__set_grid(&c, 1, NONE16 - 1);
    c.n = n;
    assert_true(ht__index_cols_pack(&c));
    assert_null(c.cat);
    assert_non_null(c.cat8);
    assert_null(c.dept);
    assert_non_null(c.dept8);
    assert_null(c.grid);
    assert_non_null(c.grid2);
    assert_null(c.id);
    assert_non_null(c.id3);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(ht__row_id(&c, i), ids[i]);
        assert_int_equal(ht__row_cat(&c, i), i % 3 == 0 ? 254 : i % 40);
        assert_int_equal(ht__row_dept(&c, i), i % 4 == 0   ? NONE16
                                              : i % 4 == 1 ? 254
                                                           : i % 9);
        assert_int_equal(ht__row_grid(&c, i), i == 1       ? NONE16 - 1
                                              : i % 5 == 0 ? NONE32
                                                           : i * 190);
    }
    free(ids);
    ht__index_cols_free(&c);
    /* Grids in three bytes (a delta's): none, the largest, neighbours
     * untouched. */
    assert_int_equal(ht__index_cols_reserve(&c, 8, NULL), HT_OK);
    const uint32_t g[] = {0, NONE32, NONE24 - 1, 70000, 1};
    for (size_t i = 0; i < 5; i++) {
        ht__set_grid(&c, i, g[i]);
    }
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(ht__row_grid(&c, i), g[i]);
    }
    ht__index_cols_free(&c);
    /* Incidents in Dongcheng and one far west: the base's rows where they
     * were put, found and walked. */
    ts_store *f = ts_store_new();
    assert_int_equal(ts_load_office(f,
                                    "id,lon,lat,category,severity,"
                                    "reported_at\n"
                                    "a,116.41,39.91,0101,1,2026-01-10\n"
                                    "b,116.4101,39.9101,0101,2,2026-01-11\n"
                                    "c,87.6,43.8,0101,3,2026-01-12\n"
                                    "d,116.42,39.92,0101,1,2026-01-13\n"),
                     0);
    /* a street's id past 3 bytes (ids grow with imports on some engines) */
    change(f->db,
           "UPDATE incidents SET street_id = 20000000 WHERE "
           "external_id = 'b' RETURNING id");
    change(f->db,
           "UPDATE incidents SET street_id = 7 WHERE external_id = "
           "'d' RETURNING id");
    ht_index *ix, *again;
    assert_int_equal(ht_index_load(f->s, &ix, NULL), HT_OK);
    char *path = ts_path(f->dir, "packed.index");
    assert_int_equal(ht_index_save(ix, path, 5, NULL), HT_OK);
    assert_int_equal(ht_index_read(path, 5, &again, NULL), HT_OK);
    free(path);
    const int64_t street[] = {-1, 20000000, -1, 7};
    for (int k = 0; k < 4; k++) {
        int64_t id =
            ts_incident_id(f->db, (const char *[]){"a", "b", "c", "d"}[k]);
        ht_incident_view v, w;
        double vx, vy, wx, wy;
        assert_true(ht_index_find(ix, NULL, id, &vx, &vy, &v));
        assert_true(ht_index_find(again, NULL, id, &wx, &wy, &w));
        assert_int_equal(v.street_id, street[k]);
        assert_int_equal(w.street_id, street[k]);
        assert_true(vx == wx && vy == wy);
    }
    ht_index_unref(again);
    const double lon[] = {116.41, 116.4101, 87.6, 116.42};
    const double lat[] = {39.91, 39.9101, 43.8, 39.92};
    const char *ext[] = {"a", "b", "c", "d"};
    for (int k = 0; k < 4; k++) {
        double mx, my, fx2, fy2;
        ht_tile_lonlat_to_merc(lon[k], lat[k], &mx, &my);
        int64_t id = ts_incident_id(f->db, ext[k]);
        assert_true(ht_index_find(ix, NULL, id, &fx2, &fy2, NULL));
        assert_true(fabs(fx2 - mx) < 0.01 && fabs(fy2 - my) < 0.01);
    }
    ht_index_unref(ix);
    ts_store_free(f);
    /* A district's few incidents: some 11 a cell, most blocks wide, 39
     * bytes each at most still (34 and the blocks'). */
    ts_demo *d = ts_demo_new(5000);
    assert_int_equal(ht_index_load(d->fx->s, &ix, NULL), HT_OK);
    assert_true(ht_index_bytes_per_incident(ix) <= 39);
    ht_index_unref(ix);
    ts_demo_free(d);
}

/* A filter implies another when each of its terms is within the other's:
 * values, times, categories, grids; not the other way round. */
static void test_index_filter_implies(void **state) {
    (void)state;
    ht_index *ix;
    assert_int_equal(ht_index_load(fx->s, &ix, NULL), HT_OK);
    const char *fs[][4] = {
        {"source", "patrol", NULL, NULL},           /* 0 */
        {"source", "patrol,hotline", NULL, NULL},   /* 1 */
        {"source", "patrol", "severity", "3"},      /* 2 */
        {"status", "closed", "source", "patrol"},   /* 3 */
        {"category", "0105", "source", "patrol"},   /* 4 */
        {"category", "01", NULL, NULL},             /* 5 */
        {"from", "2026-02-01", "source", "patrol"}, /* 6 */
        {"grid", "C1", NULL, NULL},                 /* 7 */
        {"grid", "S1", NULL, NULL},                 /* 8 */
        {"satisfaction", "satisfied", NULL, NULL},  /* 9 */
    };
    size_t n = sizeof fs / sizeof *fs;
    ht_index_filter *q[10];
    for (size_t k = 0; k < n; k++) {
        ht_filter f = ht_filter_all();
        assert_int_equal(ht_filter_set(&f, fs[k][0], fs[k][1], 0, NULL), HT_OK);
        if (fs[k][2]) {
            assert_int_equal(ht_filter_set(&f, fs[k][2], fs[k][3], 0, NULL),
                             HT_OK);
        }
        assert_int_equal(ht_index_filter_new(ix, &f, &q[k], NULL), HT_OK);
    }
    /* [a][b]: a implies b */
    const int yes[][2] = {{0, 1}, {2, 0}, {2, 1}, {3, 0}, {4, 0},
                          {4, 5}, {6, 0}, {7, 8}, {0, 0}};
    const int no[][2] = {{1, 0}, {0, 2}, {0, 3}, {0, 5}, {5, 4},
                         {0, 6}, {8, 7}, {9, 0}, {0, 9}};
    for (size_t k = 0; k < sizeof yes / sizeof *yes; k++) {
        if (!ht_index_filter_implies(q[yes[k][0]], q[yes[k][1]])) {
            fail_msg("%d does not imply %d", yes[k][0], yes[k][1]);
        }
    }
    for (size_t k = 0; k < sizeof no / sizeof *no; k++) {
        if (ht_index_filter_implies(q[no[k][0]], q[no[k][1]])) {
            fail_msg("%d implies %d", no[k][0], no[k][1]);
        }
    }
    assert_true(ht_index_filter_implies(q[0], NULL));
    assert_false(ht_index_filter_implies(NULL, q[0]));
    /* Grids: the street office's two communities hold all of its rows
     * (none is in the office's own code); one does not; a filter of no
     * grids is within none. */
    ht_filter f2 = ht_filter_all();
    assert_int_equal(ht_filter_set(&f2, "grid", "C2", 0, NULL), HT_OK);
    ht_index_filter *c2;
    assert_int_equal(ht_index_filter_new(ix, &f2, &c2, NULL), HT_OK);
    const ht_index_filter *both[] = {q[7], c2}, *one[] = {q[7]};
    assert_true(ht_index_filter_grids_within(q[8], both, 2));
    assert_false(ht_index_filter_grids_within(q[8], one, 1));
    assert_true(ht_index_filter_grids_within(q[7], one, 1));
    assert_false(ht_index_filter_grids_within(q[0], both, 2));
    assert_true(ht_index_filter_names_grids(q[7]));
    assert_false(ht_index_filter_names_grids(q[3]));
    /* The grids around a filter: its grids, nothing else asked. */
    ht_index_filter *around;
    assert_int_equal(ht_index_filter_grid_superset(q[3], &around, NULL), HT_OK);
    assert_true(ht_index_filter_implies(q[3], around));
    assert_false(ht_index_filter_names_grids(around));
    ht_index_filter_free(around);
    ht_filter f3 = ht_filter_all();
    assert_int_equal(ht_filter_set(&f3, "grid", "C2", 0, NULL), HT_OK);
    assert_int_equal(ht_filter_set(&f3, "status", "closed", 0, NULL), HT_OK);
    ht_index_filter *c2closed;
    assert_int_equal(ht_index_filter_new(ix, &f3, &c2closed, NULL), HT_OK);
    assert_int_equal(ht_index_filter_grid_superset(c2closed, &around, NULL),
                     HT_OK);
    assert_true(ht_index_filter_implies(around, c2));
    assert_true(ht_index_filter_implies(c2, around));
    assert_false(ht_index_filter_implies(around, c2closed));
    ht_index_filter_free(around);
    ht_index_filter_free(c2closed);
    ht_index_filter_free(c2);
    for (size_t k = 0; k < n; k++) {
        ht_index_filter_free(q[k]);
    }
    ht_index_unref(ix);
}

typedef struct within_count {
    const ht_index *ix;
    const ht_index_filter *inner;
    size_t outer, both;
} within_count;

static void count_both(void *ud, double x, double y,
                       const ht_incident_view *v) {
    (void)x, (void)y;
    within_count *c = ud;
    double px, py;
    c->outer++;
    c->both += ht_index_find(c->ix, c->inner, v->id, &px, &py, NULL);
}

static void count_point(void *ud, double x, double y, int severity) {
    (void)x, (void)y, (void)severity;
    (*(size_t *)ud)++;
}

/* The ids of the incidents visited, and the box they are kept in (none:
 * every one). */
typedef struct id_list {
    const ht_bbox *box;
    int64_t *id;
    size_t n, cap;
} id_list;

static void list_id(void *ud, double x, double y, const ht_incident_view *v) {
    id_list *l = ud;
    if (l->box && !(x >= l->box->minx && x <= l->box->maxx &&
                    y >= l->box->miny && y <= l->box->maxy)) {
        return;
    }
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 256;
        l->id = realloc(l->id, l->cap * sizeof *l->id);
        assert_non_null(l->id);
    }
    l->id[l->n++] = v->id;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t p = *(const int64_t *)a, q = *(const int64_t *)b;
    return (p > q) - (p < q);
}

/* Counts of one filter within another (every set of the columns a walk
 * tests: time, flags, satisfaction, category; and grids, departments,
 * lateness) equal the incidents visited one by one, in one part or
 * three; the points outside are those; a sample of one block of 64 in
 * four counts the rows of those blocks. */
static void test_index_count_within(void **state) {
    (void)state;
    ts_demo *demo = ts_demo_new(3000);
    ht_index *dx;
    assert_int_equal(ht_index_load(demo->fx->s, &dx, NULL), HT_OK);
    const char *fs[][4] = {
        {NULL, NULL, NULL, NULL},
        {"from", "2026-06-01", NULL, NULL},
        {"status", "closed", NULL, NULL},
        {"satisfaction", "satisfied,none", NULL, NULL},
        {"category", "01", NULL, NULL},
        {"from", "2026-03-01", "source", "patrol,app"},
        {"severity", "2", "category", "0102,03"},
        {"satisfaction", "basic", "category", "01"},
        {"grid", "110101002", "status", "open"},
        {"overdue", "1", NULL, NULL},
        {"to", "2026-09-30", "satisfaction", "satisfied"},
        {"grid", "110101002", NULL, NULL},
    };
    size_t n = sizeof fs / sizeof *fs;
    ht_index_filter *q[sizeof fs / sizeof *fs];
    for (size_t k = 0; k < n; k++) {
        ht_filter f = filter_kv(fs[k]);
        assert_int_equal(ht_index_filter_new(dx, &f, &q[k], NULL), HT_OK);
    }
    for (size_t parts = 1; parts <= 3; parts += 2) {
        ht__index_set_parts(parts, 0);
        for (size_t a = 0; a < n; a++) {
            for (size_t b = 0; b < n; b++) {
                within_count want = {dx, q[b], 0, 0};
                ht_index_visit(dx, q[a], NULL, count_both, &want);
                size_t no, ni, po = 0, pi = 0, points = 0;
                ht_index_count_within(dx, q[a], q[b], 1, &no, &ni);
                if (no != want.outer || ni != want.both) {
                    fail_msg("%zu within %zu: %zu, %zu; want %zu, %zu", b, a,
                             ni, no, want.both, want.outer);
                }
                for (size_t p = 0; p < parts; p++) {
                    size_t o, i;
                    ht_index_points_outside_part(dx, q[a], q[b], p, parts,
                                                 count_point, &points, &o, &i);
                    po += o;
                    pi += i;
                }
                assert_int_equal(po, want.outer);
                assert_int_equal(pi, want.both);
                assert_int_equal(points, want.outer - want.both);
            }
        }
    }
    ht__index_set_parts(0, 400000);
    /* In a box: the incidents of the whole walk within it, for every
     * filter (the box's walk tests the filter 64 rows at a time first). */
    ht_bbox all = ht_index_bbox(dx), boxes[3];
    double w = all.maxx - all.minx, h = all.maxy - all.miny;
    boxes[0] = all;
    boxes[1] = (ht_bbox){all.minx + w * 0.21, all.miny + h * 0.33,
                         all.minx + w * 0.67, all.miny + h * 0.71};
    boxes[2] = (ht_bbox){all.minx + w * 0.4, all.miny + h * 0.4,
                         all.minx + w * 0.43, all.miny + h * 0.44};
    size_t seen = 0;
    for (size_t a = 0; a < n; a++) {
        for (int b = 0; b < 3; b++) {
            id_list got = {0}, whole = {.box = &boxes[b]};
            ht_index_visit(dx, q[a], &boxes[b], list_id, &got);
            ht_index_visit(dx, q[a], NULL, list_id, &whole);
            if (got.n > 1) { /* qsort(NULL, 0) is undefined */
                qsort(got.id, got.n, sizeof *got.id, cmp_i64);
            }
            if (whole.n > 1) {
                qsort(whole.id, whole.n, sizeof *whole.id, cmp_i64);
            }
            if (got.n != whole.n) {
                fail_msg("filter %zu, box %d: %zu, want %zu", a, b, got.n,
                         whole.n);
            }
            if (got.n) {
                assert_memory_equal(got.id, whole.id, got.n * sizeof *got.id);
            }
            seen += got.n;
            free(got.id);
            free(whole.id);
        }
    }
    assert_true(seen > 3000);
    /* (the base's rows in its blocks 0, 4, 8...: all of them live) */
    size_t rows = ht_index_count(dx), want = 0, no, ni;
    for (size_t w0 = 0; w0 < rows; w0 += 4 * 64) {
        want += rows - w0 < 64 ? rows - w0 : 64;
    }
    ht_index_count_within(dx, NULL, q[2], 4, &no, &ni);
    assert_int_equal(no, want);
    assert_true(ni > 0 && ni < no);
    for (size_t k = 0; k < n; k++) {
        ht_index_filter_free(q[k]);
    }
    ht_index_unref(dx);
    ts_demo_free(demo);
}

/* Everything a walk answers from a base with categories, departments and
 * grids in fewer bytes equals the whole columns' answer: the incidents
 * (in a box too), the counts by every grouping and by category pairs, for
 * filters on each of those columns. */
static void test_index_narrow_as_whole(void **state) {
    (void)state;
    ts_demo *demo = ts_demo_new(3000);
    /* and incidents dispatched to no department (the demo's all are) */
    ts_store_import(demo->fx, "undispatched.csv",
                    "id,lon,lat,category,severity,reported_at\n"
                    "u1,116.40,39.93,0101,2,2026-08-01\n"
                    "u2,116.41,39.92,0301,1,2026-08-02\n"
                    "u3,116.405,39.925,0101,3,2026-08-03\n");
    ht_index *ix[2];
    ht__index_set_narrow(false);
    assert_int_equal(ht_index_load(demo->fx->s, &ix[0], NULL), HT_OK);
    ht__index_set_narrow(true);
    assert_int_equal(ht_index_load(demo->fx->s, &ix[1], NULL), HT_OK);
    const cols *wide = &ix[0]->b->c, *narrow = &ix[1]->b->c;
    assert_true(wide->cat && wide->dept && wide->grid && wide->id);
    assert_true(narrow->cat8 && narrow->dept8 && narrow->grid2 && narrow->id3);
    assert_true(ht_index_bytes_per_incident(ix[1]) + 3.5 <=
                ht_index_bytes_per_incident(ix[0]));
    size_t nd;
    const char *const *depts = ht_index_departments(ix[1], &nd);
    assert_true(nd >= 2);
    char two[160];
    snprintf(two, sizeof two, "%s,%s", depts[0], depts[nd - 1]);
    const char *fs[][4] = {
        {NULL, NULL, NULL, NULL},
        {"category", "01", NULL, NULL},
        {"category", "0102,03", "severity", "2"},
        {"grid", "110101002", NULL, NULL},
        {"grid", "110101002", "status", "open"},
        {"department", depts[0], NULL, NULL},
        {"department", two, "status", "closed"},
        {"overdue", "1", NULL, NULL},
        {"department", depts[nd - 1], "category", "01"},
    };
    size_t n = sizeof fs / sizeof *fs;
    ht_bbox all = ht_index_bbox(ix[1]);
    double w = all.maxx - all.minx, h = all.maxy - all.miny;
    ht_bbox box = {all.minx + w * 0.3, all.miny + h * 0.3, all.minx + w * 0.7,
                   all.miny + h * 0.6};
    /* The first department's incidents, counted with no filter: its
     * filter (fs[5]) passes them and no undispatched one. */
    int64_t *by_dept = calloc(nd + 1, sizeof *by_dept);
    ht_index_group_counts(ix[1], NULL, HT_GROUP_DEPARTMENT, by_dept);
    assert_true(by_dept[0] > 0 && by_dept[nd] >= 3);
    size_t seen = 0;
    for (size_t k = 0; k < n; k++) {
        ht_filter f = filter_kv(fs[k]);
        ht_index_filter *q[2];
        id_list got[2][2] = {{{0}, {.box = &box}}, {{0}, {.box = &box}}};
        int64_t *counts[2][HT_GROUP_COUNT], *pairs[2];
        for (int v = 0; v < 2; v++) {
            assert_int_equal(ht_index_filter_new(ix[v], &f, &q[v], NULL),
                             HT_OK);
            ht_index_visit(ix[v], q[v], NULL, list_id, &got[v][0]);
            ht_index_visit(ix[v], q[v], &box, list_id, &got[v][1]);
            for (int by = 0; by < HT_GROUP_COUNT; by++) {
                size_t ng = ht_index_groups(ix[v], (ht_group)by) + 1;
                counts[v][by] = calloc(ng, sizeof **counts);
                ht_index_group_counts(ix[v], q[v], (ht_group)by, counts[v][by]);
            }
            size_t np = ht_index_categories(ix[v]) *
                        ht_index_groups(ix[v], HT_GROUP_DEPARTMENT) * 2;
            pairs[v] = calloc(np, sizeof **pairs);
            ht_index_pair_counts(ix[v], q[v], HT_GROUP_DEPARTMENT, 1780000000,
                                 pairs[v]);
        }
        if (k == 5) {
            assert_int_equal(got[1][0].n, by_dept[0]);
        }
        for (int b = 0; b < 2; b++) {
            if (got[0][b].n != got[1][b].n) {
                fail_msg("filter %zu: %zu incidents narrow, %zu whole", k,
                         got[1][b].n, got[0][b].n);
            }
            if (got[0][b].n) {
                qsort(got[0][b].id, got[0][b].n, sizeof(int64_t), cmp_i64);
                qsort(got[1][b].id, got[1][b].n, sizeof(int64_t), cmp_i64);
                assert_memory_equal(got[0][b].id, got[1][b].id,
                                    got[0][b].n * sizeof(int64_t));
            }
            seen += got[0][b].n;
            free(got[0][b].id);
            free(got[1][b].id);
        }
        for (int by = 0; by < HT_GROUP_COUNT; by++) {
            size_t ng = ht_index_groups(ix[0], (ht_group)by) + 1;
            assert_memory_equal(counts[0][by], counts[1][by],
                                ng * sizeof **counts);
            free(counts[0][by]);
            free(counts[1][by]);
        }
        assert_memory_equal(pairs[0], pairs[1],
                            ht_index_categories(ix[0]) *
                                ht_index_groups(ix[0], HT_GROUP_DEPARTMENT) *
                                2 * sizeof **pairs);
        free(pairs[0]);
        free(pairs[1]);
        ht_index_filter_free(q[0]);
        ht_index_filter_free(q[1]);
    }
    assert_true(seen > 3000);
    free(by_dept);
    /* Either way saved and read back as it was. */
    char *path = ts_path(demo->fx->dir, "narrow.index");
    for (int v = 0; v < 2; v++) {
        ht_index *back;
        assert_int_equal(ht_index_save(ix[v], path, 3, NULL), HT_OK);
        assert_int_equal(ht_index_read(path, 3, &back, NULL), HT_OK);
        const cols *bc = &back->b->c;
        assert_true(v ? bc->cat8 && bc->dept8 && bc->grid2 && bc->id3
                      : bc->cat && bc->dept && bc->grid && bc->id);
        id_list a = {0}, b = {0};
        ht_index_visit(ix[v], NULL, NULL, list_id, &a);
        ht_index_visit(back, NULL, NULL, list_id, &b);
        assert_int_equal(a.n, b.n);
        for (size_t i = 0; i < a.n; i++) {
            ht_incident_view va, vb;
            double x, y;
            assert_true(ht_index_find(ix[v], NULL, a.id[i], &x, &y, &va));
            assert_true(ht_index_find(back, NULL, a.id[i], &x, &y, &vb));
            assert_string_equal(va.category, vb.category);
            assert_true(va.grid_code == vb.grid_code ||
                        strcmp(va.grid_code, vb.grid_code) == 0);
        }
        int64_t *ca = calloc(nd + 1, sizeof *ca), *cb = calloc(nd + 1, 8);
        ht_index_group_counts(ix[v], NULL, HT_GROUP_DEPARTMENT, ca);
        ht_index_group_counts(back, NULL, HT_GROUP_DEPARTMENT, cb);
        assert_memory_equal(ca, cb, (nd + 1) * sizeof *ca);
        free(ca);
        free(cb);
        free(a.id);
        free(b.id);
        ht_index_unref(back);
    }
    free(path);
    ht_index_unref(ix[0]);
    ht_index_unref(ix[1]);
    ts_demo_free(demo);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_index_filters),
        cmocka_unit_test(test_index_grid_filters_follow_moves),
        cmocka_unit_test(test_index_time_range),
        cmocka_unit_test(test_index_snapshots),
        cmocka_unit_test(test_index_file),
        cmocka_unit_test(test_index_newest_in_parts),
        cmocka_unit_test(test_index_positions_packed),
        cmocka_unit_test(test_index_filter_implies),
        cmocka_unit_test(test_index_count_within),
        cmocka_unit_test(test_index_narrow_as_whole),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
