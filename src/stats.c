/* SPDX-License-Identifier: Apache-2.0 */
/* Statistics for the same filters as the maps. */
#include "hutong/stats.h"

#include <jansson.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hutong/buf.h"
#include "hutong/datetime.h"
#include "hutong/model.h"

#include "store_int.h"

static const char *const by_names[HT_STATS_BY_COUNT] = {
    "street", "community", "grid", "category", "month"};

ht_status ht_stats_by_parse(const char *s, ht_stats_by *out, ht_error *err) {
    for (int k = 0; k < HT_STATS_BY_COUNT; k++) {
        if (s && strcmp(s, by_names[k]) == 0) {
            *out = (ht_stats_by)k;
            return HT_OK;
        }
    }
    return ht_error_set(err, HT_EINVAL,
                        "by: \"%s\" is not street, community, grid, category "
                        "or month",
                        s ? s : "");
}

/* Each grid with its street office and community (walking parents). */
static const char anc_sql[] =
    "DROP TABLE IF EXISTS temp.ht_anc;"
    "CREATE TEMP TABLE ht_anc AS WITH RECURSIVE a(code, up, depth) AS ("
    " SELECT code, code, 0 FROM grids UNION ALL"
    " SELECT a.code, g.parent_code, a.depth + 1 FROM a JOIN grids g"
    " ON g.code = a.up WHERE g.parent_code IS NOT NULL AND a.depth < 16)"
    " SELECT a.code AS code,"
    " max(CASE WHEN g.level = 'street' THEN g.code END) AS street,"
    " max(CASE WHEN g.level = 'community' THEN g.code END) AS community"
    " FROM a JOIN grids g ON g.code = a.up GROUP BY a.code;"
    "CREATE INDEX temp.ht_anc_code ON ht_anc (code);";

static const char *const key_sql[HT_STATS_BY_COUNT] = {
    "coalesce(a.street, '-')", "coalesce(a.community, '-')",
    "coalesce(i.grid_code, '-')", "coalesce(c.parent_code, i.category)",
    "strftime('%Y-%m', i.reported_at, 'unixepoch')"};

/* The WHERE clause of a filter; parameters bound by bind_filter in the
 * same order. Enumerations are written as literals from hutong's own
 * names; codes and times are bound. */
static ht_status where_clause(ht_store *s, const ht_filter *f, ht_buf *w,
                              ht_error *err) {
    ht_status st = ht_buf_appendf(w, err, " WHERE 1");
    if (st == HT_OK && f->from != INT64_MIN) {
        st = ht_buf_appendf(w, err, " AND i.reported_at >= ?");
    }
    if (st == HT_OK && f->to != INT64_MAX) {
        st = ht_buf_appendf(w, err, " AND i.reported_at < ?");
    }
    if (st == HT_OK && f->severity) {
        st = ht_buf_appendf(w, err, " AND i.severity IN (0");
        for (int k = 1; k <= 3 && st == HT_OK; k++) {
            if (f->severity >> k & 1) {
                st = ht_buf_appendf(w, err, ",%d", k);
            }
        }
        if (st == HT_OK) {
            st = ht_buf_appendf(w, err, ")");
        }
    }
    struct {
        unsigned mask;
        const char *col;
        int count;
        const char *(*name)(int);
    } sets[2] = {{f->status, "i.status", HT_STATE_COUNT, NULL},
                 {f->source, "i.source", HT_SOURCE_COUNT, NULL}};
    for (int q = 0; q < 2 && st == HT_OK; q++) {
        if (!sets[q].mask) {
            continue;
        }
        st = ht_buf_appendf(w, err, " AND %s IN (''", sets[q].col);
        for (int k = 0; k < sets[q].count && st == HT_OK; k++) {
            if (sets[q].mask >> k & 1) {
                st =
                    ht_buf_appendf(w, err, ",'%s'",
                                   q == 0 ? ht_model_state_name((ht_state)k)
                                          : ht_model_source_name((ht_source)k));
            }
        }
        if (st == HT_OK) {
            st = ht_buf_appendf(w, err, ")");
        }
    }
    /* Codes must exist: an unknown one is a mistake, not an empty answer. */
    sqlite3 *db = ht__store_db(s);
    for (size_t k = 0; k < f->ncategory && st == HT_OK; k++) {
        sqlite3_stmt *q = NULL;
        sqlite3_prepare_v2(db, "SELECT 1 FROM categories WHERE code = ?", -1,
                           &q, NULL);
        sqlite3_bind_text(q, 1, f->category[k], -1, SQLITE_STATIC);
        if (sqlite3_step(q) != SQLITE_ROW) {
            st = ht_error_set(err, HT_EINVAL, "category: unknown code \"%s\"",
                              f->category[k]);
        }
        sqlite3_finalize(q);
    }
    if (st == HT_OK && f->ncategory) {
        st = ht_buf_appendf(w, err,
                            " AND i.category IN (SELECT code FROM categories "
                            "WHERE code IN (''");
        for (size_t k = 0; k < f->ncategory && st == HT_OK; k++) {
            st = ht_buf_appendf(w, err, ",?");
        }
        if (st == HT_OK) {
            st = ht_buf_appendf(w, err, ") OR parent_code IN (''");
        }
        for (size_t k = 0; k < f->ncategory && st == HT_OK; k++) {
            st = ht_buf_appendf(w, err, ",?");
        }
        if (st == HT_OK) {
            st = ht_buf_appendf(w, err, "))");
        }
    }
    if (st == HT_OK && f->grid[0]) {
        sqlite3_stmt *q = NULL;
        sqlite3_prepare_v2(db, "SELECT 1 FROM grids WHERE code = ?", -1, &q,
                           NULL);
        sqlite3_bind_text(q, 1, f->grid, -1, SQLITE_STATIC);
        if (sqlite3_step(q) != SQLITE_ROW) {
            st = ht_error_set(err, HT_EINVAL, "grid: unknown code \"%s\"",
                              f->grid);
        }
        sqlite3_finalize(q);
        if (st == HT_OK) {
            st = ht_buf_appendf(
                w, err,
                " AND i.grid_code IN (WITH RECURSIVE sub(code, depth) AS "
                "(SELECT ?, 0 UNION ALL SELECT g.code, sub.depth + 1 FROM "
                "grids g JOIN sub ON g.parent_code = sub.code WHERE "
                "sub.depth < 16) SELECT code FROM sub)");
        }
    }
    return st;
}

static int bind_filter(sqlite3_stmt *q, const ht_filter *f) {
    int i = 1;
    if (f->from != INT64_MIN) {
        sqlite3_bind_int64(q, i++, f->from);
    }
    if (f->to != INT64_MAX) {
        sqlite3_bind_int64(q, i++, f->to);
    }
    for (int pass = 0; pass < 2 && f->ncategory; pass++) {
        for (size_t k = 0; k < f->ncategory; k++) {
            sqlite3_bind_text(q, i++, f->category[k], -1, SQLITE_STATIC);
        }
    }
    if (f->grid[0]) {
        sqlite3_bind_text(q, i++, f->grid, -1, SQLITE_STATIC);
    }
    return i;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Counts per key of @f, for the previous period. */
static ht_status prev_counts(ht_store *s, const ht_filter *f, ht_stats_by by,
                             ht_stats_row *rows, size_t n, ht_error *err) {
    ht_filter p = *f;
    p.to = f->from;
    p.from = f->from - (f->to - f->from);
    ht_buf *sql = ht_buf_new();
    ht_status st = sql ? ht_buf_appendf(sql, err,
                                        "SELECT %s AS k, count(*) FROM "
                                        "incidents i LEFT JOIN temp.ht_anc a "
                                        "ON a.code = i.grid_code LEFT JOIN "
                                        "categories c ON c.code = i.category",
                                        key_sql[by])
                       : ht_error_set(err, HT_ENOMEM, "out of memory");
    if (st == HT_OK) {
        st = where_clause(s, &p, sql, err);
    }
    if (st == HT_OK) {
        st = ht_buf_appendf(sql, err, " GROUP BY k");
    }
    sqlite3_stmt *q = NULL;
    if (st == HT_OK &&
        sqlite3_prepare_v2(ht__store_db(s), (const char *)sql->data, -1, &q,
                           NULL) != SQLITE_OK) {
        st = ht__store_dberr(s, "statistics", err);
    }
    if (st == HT_OK) {
        bind_filter(q, &p);
    }
    for (size_t k = 0; k < n; k++) {
        rows[k].prev = 0;
    }
    while (st == HT_OK && sqlite3_step(q) == SQLITE_ROW) {
        const char *key = (const char *)sqlite3_column_text(q, 0);
        for (size_t k = 0; key && k < n; k++) {
            if (strcmp(rows[k].key, key) == 0) {
                rows[k].prev = sqlite3_column_int64(q, 1);
            }
        }
    }
    sqlite3_finalize(q);
    ht_buf_free(sql);
    for (size_t k = 0; st == HT_OK && k < n; k++) {
        rows[k].change_pct = rows[k].prev > 0
                                 ? (double)(rows[k].count - rows[k].prev) /
                                       (double)rows[k].prev * 100
                                 : NAN;
    }
    return st;
}

/* The statement that names a key of @by (NULL by month). */
static const char *describe_sql(ht_stats_by by) {
    return by == HT_STATS_BY_MONTH ? NULL
           : by == HT_STATS_BY_CATEGORY
               ? "SELECT name, NULL, NULL FROM categories WHERE code = ?"
               : "SELECT name, Area(geom, 1), population FROM grids WHERE "
                 "code = ?";
}

/* Name, area and population of @r's key, through @q (describe_sql's
 * statement, prepared once per computation). */
static void describe(sqlite3_stmt *q, ht_stats_by by, ht_stats_row *r) {
    r->name[0] = '\0';
    r->per_km2 = r->per_1000 = NAN;
    if (by == HT_STATS_BY_MONTH || strcmp(r->key, "-") == 0) {
        if (by != HT_STATS_BY_MONTH) {
            snprintf(r->name, sizeof r->name, "(no grid)");
        }
        return;
    }
    if (!q) {
        return;
    }
    sqlite3_reset(q);
    sqlite3_bind_text(q, 1, r->key, -1, SQLITE_STATIC);
    if (sqlite3_step(q) == SQLITE_ROW) {
        const char *nm = (const char *)sqlite3_column_text(q, 0);
        snprintf(r->name, sizeof r->name, "%s", nm ? nm : "");
        double area = sqlite3_column_double(q, 1);
        if (area > 0) {
            r->per_km2 = (double)r->count / (area / 1e6);
        }
        if (sqlite3_column_type(q, 2) != SQLITE_NULL &&
            sqlite3_column_int64(q, 2) > 0) {
            r->per_1000 =
                (double)r->count / (double)sqlite3_column_int64(q, 2) * 1000;
        }
    }
}

static int cmp_rank(const void *a, const void *b) {
    const ht_stats_row *p = a, *q = b;
    if (p->count != q->count) {
        return p->count > q->count ? -1 : 1;
    }
    return strcmp(p->key, q->key);
}

ht_status ht_stats_compute(ht_store *s, const ht_filter *f, ht_stats_by by,
                           ht_stats_row **rows, size_t *n, ht_error *err) {
    *rows = NULL;
    *n = 0;
    sqlite3 *db = ht__store_db(s);
    char *msg = NULL;
    if (sqlite3_exec(db, anc_sql, NULL, NULL, &msg) != SQLITE_OK) {
        ht_status st =
            ht_error_set(err, HT_EDB, "statistics: %s", msg ? msg : "error");
        sqlite3_free(msg);
        return st;
    }
    ht_buf *sql = ht_buf_new();
    ht_status st =
        sql ? ht_buf_appendf(sql, err,
                             "SELECT %s AS k, i.status, i.reported_at, "
                             "i.closed_at FROM incidents i LEFT JOIN "
                             "temp.ht_anc a ON a.code = i.grid_code LEFT JOIN "
                             "categories c ON c.code = i.category",
                             key_sql[by])
            : ht_error_set(err, HT_ENOMEM, "out of memory");
    if (st == HT_OK) {
        st = where_clause(s, f, sql, err);
    }
    if (st == HT_OK) {
        st = ht_buf_appendf(sql, err, " ORDER BY k");
    }
    sqlite3_stmt *q = NULL;
    if (st == HT_OK && sqlite3_prepare_v2(db, (const char *)sql->data, -1, &q,
                                          NULL) != SQLITE_OK) {
        st = ht__store_dberr(s, "statistics", err);
    }
    if (st == HT_OK) {
        bind_filter(q, f);
    }
    ht_stats_row *out = NULL;
    size_t m = 0, cap = 0, total = 0, cap_d = 0, nd = 0;
    double *dur = NULL;
    int64_t responded = 0, resolved = 0, evaluated = 0;
    int rc = SQLITE_ROW;
    while (st == HT_OK) {
        rc = sqlite3_step(q);
        const char *key =
            rc == SQLITE_ROW ? (const char *)sqlite3_column_text(q, 0) : NULL;
        bool new_group = rc != SQLITE_ROW || m == 0 ||
                         strcmp(out[m - 1].key, key ? key : "-") != 0;
        if (new_group && m > 0) {
            /* Close the group before. */
            ht_stats_row *r = &out[m - 1];
            r->response = (double)responded / (double)r->count;
            r->resolution = (double)resolved / (double)r->count;
            r->evaluated = (double)evaluated / (double)r->count;
            if (nd > 1) {
                qsort(dur, nd, sizeof *dur, cmp_double);
            }
            r->median_close_h =
                nd ? (nd % 2 ? dur[nd / 2]
                             : (dur[nd / 2 - 1] + dur[nd / 2]) / 2)
                   : NAN;
            responded = resolved = evaluated = 0;
            nd = 0;
        }
        if (rc != SQLITE_ROW) {
            break;
        }
        if (new_group) {
            if ((st = ht_array_grow((void **)&out, &cap, m + 1, sizeof *out,
                                    err)) != HT_OK) {
                break;
            }
            out[m] = (ht_stats_row){.prev = -1, .change_pct = NAN};
            snprintf(out[m].key, sizeof out[m].key, "%s", key ? key : "-");
            m++;
        }
        ht_stats_row *r = &out[m - 1];
        r->count++;
        total++;
        ht_state state = HT_STATE_REPORTED;
        ht_model_state_parse((const char *)sqlite3_column_text(q, 1), &state,
                             NULL);
        responded += state != HT_STATE_REPORTED;
        resolved += state >= HT_STATE_CLOSED;
        evaluated += state == HT_STATE_EVALUATED;
        if (state >= HT_STATE_CLOSED &&
            sqlite3_column_type(q, 3) != SQLITE_NULL) {
            if ((st = ht_array_grow((void **)&dur, &cap_d, nd + 1, sizeof *dur,
                                    err)) != HT_OK) {
                break;
            }
            dur[nd++] = (double)(sqlite3_column_int64(q, 3) -
                                 sqlite3_column_int64(q, 2)) /
                        3600.0;
        }
    }
    if (st == HT_OK && rc != SQLITE_DONE) {
        st = ht__store_dberr(s, "statistics", err);
    }
    sqlite3_finalize(q);
    ht_buf_free(sql);
    free(dur);
    sqlite3_stmt *dq = NULL;
    if (st == HT_OK && describe_sql(by)) {
        sqlite3_prepare_v2(db, describe_sql(by), -1, &dq, NULL);
    }
    for (size_t k = 0; st == HT_OK && k < m; k++) {
        out[k].share = (double)out[k].count / (double)total;
        describe(dq, by, &out[k]);
    }
    sqlite3_finalize(dq);
    if (st == HT_OK && by != HT_STATS_BY_MONTH && f->from != INT64_MIN &&
        f->to != INT64_MAX) {
        st = prev_counts(s, f, by, out, m, err);
    }
    /* Months compare with the calendar month before, when it is there. */
    for (size_t k = 1; st == HT_OK && by == HT_STATS_BY_MONTH && k < m; k++) {
        int y, mo, py, pm;
        if (sscanf(out[k].key, "%d-%d", &y, &mo) == 2 &&
            sscanf(out[k - 1].key, "%d-%d", &py, &pm) == 2 &&
            y * 12 + mo - 1 == py * 12 + pm) {
            out[k].prev = out[k - 1].count;
            out[k].change_pct = (double)(out[k].count - out[k].prev) /
                                (double)out[k].prev * 100;
        }
    }
    /* Ranks by count; months stay in calendar order. */
    ht_stats_row *ranked =
        st == HT_OK ? malloc((m + 1) * sizeof *ranked) : NULL;
    if (st == HT_OK && !ranked) {
        st = ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    if (st == HT_OK && m > 0) {
        memcpy(ranked, out, m * sizeof *out);
        if (m > 1) {
            qsort(ranked, m, sizeof *ranked, cmp_rank);
        }
        for (size_t k = 0; k < m; k++) {
            ranked[k].rank = (int)k + 1;
            for (size_t j = 0; j < m; j++) {
                if (strcmp(out[j].key, ranked[k].key) == 0) {
                    out[j].rank = (int)k + 1;
                }
            }
        }
        if (by != HT_STATS_BY_MONTH) {
            memcpy(out, ranked, m * sizeof *out);
        }
    }
    free(ranked);
    sqlite3_exec(db, "DROP TABLE IF EXISTS temp.ht_anc", NULL, NULL, NULL);
    if (st != HT_OK) {
        free(out);
        return st;
    }
    *rows = out;
    *n = m;
    return HT_OK;
}

static int cmp_topic(const void *a, const void *b) {
    const ht_topic *p = a, *q = b;
    if (p->score != q->score) {
        return p->score > q->score ? -1 : 1;
    }
    int c = strcmp(p->category, q->category);
    return c ? c : strcmp(p->area, q->area);
}

ht_status ht_stats_topics(ht_store *s, const char *month, ht_stats_by by,
                          const char *within, int64_t min_count, size_t max,
                          ht_topic **topics, size_t *n, ht_error *err) {
    *topics = NULL;
    *n = 0;
    int y, mo;
    char extra;
    if (!month || sscanf(month, "%4d-%2d%c", &y, &mo, &extra) != 2 ||
        strlen(month) != 7 || mo < 1 || mo > 12) {
        return ht_error_set(err, HT_EINVAL, "month: \"%s\" is not YYYY-MM",
                            month ? month : "");
    }
    if (by != HT_STATS_BY_STREET && by != HT_STATS_BY_COMMUNITY) {
        return ht_error_set(err, HT_EINVAL,
                            "by: topics are by street or "
                            "community");
    }
    int64_t start = ht_datetime_from_civil(y, mo, 1, 0, 0, 0);
    int64_t next = ht_datetime_from_civil(mo == 12 ? y + 1 : y,
                                          mo == 12 ? 1 : mo + 1, 1, 0, 0, 0);
    int64_t before = ht_datetime_from_civil(mo == 1 ? y - 1 : y,
                                            mo == 1 ? 12 : mo - 1, 1, 0, 0, 0);
    sqlite3 *db = ht__store_db(s);
    char *msg = NULL;
    if (sqlite3_exec(db, anc_sql, NULL, NULL, &msg) != SQLITE_OK) {
        ht_status st =
            ht_error_set(err, HT_EDB, "topics: %s", msg ? msg : "error");
        sqlite3_free(msg);
        return st;
    }
    char sql[1200];
    snprintf(sql, sizeof sql,
             "SELECT i.category, %s AS area, sum(i.reported_at >= ?2) AS now,"
             " sum(i.reported_at < ?2) AS prev,"
             " (SELECT name FROM categories WHERE code = i.category),"
             " (SELECT name FROM grids WHERE code = %s)"
             " FROM incidents i LEFT JOIN temp.ht_anc a ON a.code ="
             " i.grid_code WHERE i.reported_at >= ?1 AND i.reported_at < ?3"
             " AND (?5 IS NULL OR i.grid_code IN (WITH RECURSIVE sub(code,"
             " depth) AS (SELECT ?5, 0 UNION ALL SELECT g.code, sub.depth + 1"
             " FROM grids g JOIN sub ON g.parent_code = sub.code WHERE"
             " sub.depth < 16) SELECT code FROM sub))"
             " GROUP BY i.category, area HAVING now >= ?4",
             key_sql[by], key_sql[by]);
    sqlite3_stmt *q = NULL;
    ht_status st = HT_OK;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) {
        st = ht__store_dberr(s, "topics", err);
    }
    ht_topic *out = NULL;
    size_t m = 0, cap = 0;
    if (st == HT_OK) {
        sqlite3_bind_int64(q, 1, before);
        sqlite3_bind_int64(q, 2, start);
        sqlite3_bind_int64(q, 3, next);
        sqlite3_bind_int64(q, 4, min_count);
        if (within) {
            sqlite3_bind_text(q, 5, within, -1, SQLITE_STATIC);
        }
    }
    while (st == HT_OK && sqlite3_step(q) == SQLITE_ROW) {
        if ((st = ht_array_grow((void **)&out, &cap, m + 1, sizeof *out,
                                err)) != HT_OK) {
            break;
        }
        ht_topic *t = &out[m++];
        memset(t, 0, sizeof *t);
        const char *c = (const char *)sqlite3_column_text(q, 0);
        const char *a = (const char *)sqlite3_column_text(q, 1);
        const char *cn = (const char *)sqlite3_column_text(q, 4);
        const char *an = (const char *)sqlite3_column_text(q, 5);
        snprintf(t->category, sizeof t->category, "%s", c ? c : "");
        snprintf(t->area, sizeof t->area, "%s", a ? a : "-");
        snprintf(t->category_name, sizeof t->category_name, "%s", cn ? cn : "");
        snprintf(t->area_name, sizeof t->area_name, "%s", an ? an : "");
        t->count = sqlite3_column_int64(q, 2);
        t->prev = sqlite3_column_int64(q, 3);
        t->score = (double)(t->count - t->prev) / sqrt((double)t->prev + 1);
    }
    sqlite3_finalize(q);
    sqlite3_exec(db, "DROP TABLE IF EXISTS temp.ht_anc", NULL, NULL, NULL);
    if (st != HT_OK) {
        free(out);
        return st;
    }
    if (m > 1) {
        qsort(out, m, sizeof *out, cmp_topic);
    }
    *n = m < max ? m : max;
    *topics = out;
    return HT_OK;
}

/* ---- JSON ---- */

static json_t *json_num(double v) {
    return isnan(v) ? json_null() : json_real(v);
}

char *ht_stats_rows_json(const ht_stats_row *r, size_t n, size_t limit,
                         ht_stats_by by, const ht_filter *f) {
    size_t shown = n < limit ? n : limit;
    static const char *const by_name[] = {"street", "community", "grid",
                                          "category", "month"};
    int64_t total = 0;
    for (size_t k = 0; k < n; k++) {
        total += r[k].count;
    }
    json_t *root = json_object(), *arr = json_array();
    json_object_set_new(root, "by", json_string(by_name[by]));
    json_object_set_new(root, "total", json_integer(total));
    json_object_set_new(root, "groups", json_integer((json_int_t)n));
    if (f->from != INT64_MIN && f->to != INT64_MAX) {
        char a[32], b[32];
        ht_datetime_format(f->from, a, sizeof a);
        ht_datetime_format(f->to, b, sizeof b);
        json_object_set_new(root, "from", json_string(a));
        json_object_set_new(root, "to", json_string(b));
    }
    for (size_t k = 0; k < shown; k++) {
        json_t *o = json_object();
        json_object_set_new(o, "rank", json_integer(r[k].rank));
        json_object_set_new(o, "key", json_string(r[k].key));
        json_object_set_new(o, "name", json_string(r[k].name));
        json_object_set_new(o, "count", json_integer(r[k].count));
        json_object_set_new(o, "share", json_num(r[k].share));
        json_object_set_new(
            o, "prev", r[k].prev >= 0 ? json_integer(r[k].prev) : json_null());
        json_object_set_new(o, "change_pct", json_num(r[k].change_pct));
        json_object_set_new(o, "per_km2", json_num(r[k].per_km2));
        json_object_set_new(o, "per_1000", json_num(r[k].per_1000));
        json_object_set_new(o, "median_close_h", json_num(r[k].median_close_h));
        json_object_set_new(o, "response", json_num(r[k].response));
        json_object_set_new(o, "resolution", json_num(r[k].resolution));
        json_object_set_new(o, "evaluated", json_num(r[k].evaluated));
        json_array_append_new(arr, o);
    }
    json_object_set_new(root, "rows", arr);
    char *out = json_dumps(
        root, JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    json_decref(root);
    return out;
}

char *ht_stats_topics_json(const ht_topic *t, size_t n, const char *month) {
    json_t *root = json_object(), *arr = json_array();
    json_object_set_new(root, "month", json_string(month));
    for (size_t k = 0; k < n; k++) {
        json_t *o = json_object();
        json_object_set_new(o, "rank", json_integer((json_int_t)k + 1));
        json_object_set_new(o, "category", json_string(t[k].category));
        json_object_set_new(o, "category_name",
                            json_string(t[k].category_name));
        json_object_set_new(o, "area", json_string(t[k].area));
        json_object_set_new(o, "area_name", json_string(t[k].area_name));
        json_object_set_new(o, "count", json_integer(t[k].count));
        json_object_set_new(o, "prev", json_integer(t[k].prev));
        json_object_set_new(o, "score", json_real(t[k].score));
        json_array_append_new(arr, o);
    }
    json_object_set_new(root, "topics", arr);
    char *out = json_dumps(
        root, JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    json_decref(root);
    return out;
}
