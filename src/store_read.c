/* SPDX-License-Identifier: Apache-2.0 */
/* The store's reads: walks over grids, streets, categories and incidents;
 * the incidents a filter selects, grouped and counted for statistics and
 * topics; the summary. Filters mean here exactly what they mean in the
 * in-memory index (tests compare the two on the demo). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hutong/datetime.h"
#include "hutong/store.h"

#include "store_int.h"
#include "store_pg.h"

/* grid_tree as of the grids in this transaction. */
static ht_status fresh_tree(ht_store *s, ht_error *err) {
    return s->tree_stale ? ht__store_rebuild_tree(s, err) : HT_OK;
}

ht_status ht_store_category_exists(ht_store *s, const char *code, bool *exists,
                                   ht_error *err) {
    if (s->pg) {
        return ht__pg_category_exists(s, code, exists, err);
    }
    sqlite3_stmt *q = s->stmt[ST_CAT_SELECT];
    ht__store_bind_text(q, 1, code);
    int rc = sqlite3_step(q);
    sqlite3_reset(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        return ht__store_dberr(s, "reading categories", err);
    }
    *exists = rc == SQLITE_ROW;
    return HT_OK;
}

/* Read one incident's head from a statement of ST_INC_HEAD_*. */
static ht_status incident_head(ht_store *s, sqlite3_stmt *q, bool *found,
                               ht_incident_head *out, ht_error *err) {
    int rc = sqlite3_step(q);
    *found = rc == SQLITE_ROW;
    if (*found) {
        const char *grid = (const char *)sqlite3_column_text(q, 4);
        *out = (ht_incident_head){
            .id = sqlite3_column_int64(q, 0),
            .state = HT_STATE_REPORTED,
            .reported_at = sqlite3_column_int64(q, 2),
            .closed_at = ht__store_col_time(q, 3),
        };
        ht_model_state_parse((const char *)sqlite3_column_text(q, 1),
                             &out->state, NULL);
        snprintf(out->grid_code, sizeof out->grid_code, "%s", grid ? grid : "");
        int64_t last = ht__store_col_time(q, 5);
        out->last_at = last == HT_TIME_NONE || last < out->reported_at
                           ? out->reported_at
                           : last;
    }
    sqlite3_reset(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        return ht__store_dberr(s, "reading incidents", err);
    }
    return HT_OK;
}

ht_status ht_store_find_incident(ht_store *s, const char *external_id,
                                 bool *found, ht_incident_head *out,
                                 ht_error *err) {
    if (s->pg) {
        return ht__pg_find_incident(s, external_id, found, out, err);
    }
    sqlite3_stmt *q = s->stmt[ST_INC_HEAD_EXT];
    ht__store_bind_text(q, 1, external_id);
    return incident_head(s, q, found, out, err);
}

ht_status ht_store_get_incident(ht_store *s, int64_t id, bool *found,
                                ht_incident_head *out, ht_error *err) {
    if (s->pg) {
        return ht__pg_get_incident(s, id, found, out, err);
    }
    sqlite3_stmt *q = s->stmt[ST_INC_HEAD_ID];
    sqlite3_bind_int64(q, 1, id);
    return incident_head(s, q, found, out, err);
}

ht_status ht_store_grid_exists(ht_store *s, const char *code, bool *exists,
                               ht_error *err) {
    if (s->pg) {
        return ht__pg_grid_exists(s, code, exists, err);
    }
    sqlite3_stmt *q = s->stmt[ST_GRID_PARENT];
    ht__store_bind_text(q, 1, code);
    int rc = sqlite3_step(q);
    sqlite3_reset(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        return ht__store_dberr(s, "reading grids", err);
    }
    *exists = rc == SQLITE_ROW;
    return HT_OK;
}

ht_status ht_store_each_grid(ht_store *s, ht_store_grid_fn fn, void *ud,
                             ht_error *err) {
    if (s->pg) {
        return ht__pg_each_grid(s, fn, ud, err);
    }
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(
            s->db,
            "SELECT code, parent_code, level, name, population, responsible, "
            "valid_from, valid_to, AsBinary(geom) FROM grids ORDER BY code",
            -1, &q, NULL) != SQLITE_OK) {
        return ht__store_dberr(s, "reading grids", err);
    }
    ht_status st = HT_OK;
    int rc;
    while (st == HT_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        ht_geom *g = NULL;
        const void *blob = sqlite3_column_blob(q, 8);
        int n = sqlite3_column_bytes(q, 8);
        if (!blob) {
            continue; /* a grid without geometry cannot locate anything */
        }
        if ((st = ht_geom_from_wkb(blob, (size_t)n, &g, err)) != HT_OK) {
            break;
        }
        ht_grid_rec rec = {
            .code = (const char *)sqlite3_column_text(q, 0),
            .parent_code = (const char *)sqlite3_column_text(q, 1),
            .name = (const char *)sqlite3_column_text(q, 3),
            .population = sqlite3_column_type(q, 4) == SQLITE_NULL
                              ? -1
                              : sqlite3_column_int64(q, 4),
            .responsible = (const char *)sqlite3_column_text(q, 5),
            .valid_from = ht__store_col_time(q, 6),
            .valid_to = ht__store_col_time(q, 7),
            .geom = g,
        };
        st = ht_model_level_parse((const char *)sqlite3_column_text(q, 2),
                                  &rec.level, err);
        if (st == HT_OK) {
            st = fn(&rec, ud, err);
        }
        ht_geom_free(g);
    }
    if (st == HT_OK) {
        st = ht__store_step_err(s, rc, "reading grids", err);
    }
    sqlite3_finalize(q);
    return st;
}

ht_status ht_store_each_street(ht_store *s, ht_store_street_fn fn, void *ud,
                               ht_error *err) {
    if (s->pg) {
        return ht__pg_each_street(s, fn, ud, err);
    }
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT id, source_id, name, kind, AsBinary(geom) "
                           "FROM streets ORDER BY id",
                           -1, &q, NULL) != SQLITE_OK) {
        return ht__store_dberr(s, "reading streets", err);
    }
    ht_status st = HT_OK;
    int rc;
    ht_geom *g = NULL;
    while (st == HT_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        const void *blob = sqlite3_column_blob(q, 4);
        int n = sqlite3_column_bytes(q, 4);
        if (!blob) {
            continue;
        }
        HT_CLEAR(g, ht_geom_free);
        if ((st = ht_geom_from_wkb(blob, (size_t)n, &g, err)) != HT_OK) {
            break;
        }
        ht_street_rec rec = {
            .source_id = (const char *)sqlite3_column_text(q, 1),
            .name = (const char *)sqlite3_column_text(q, 2),
            .geom = g,
        };
        st = ht_model_kind_parse((const char *)sqlite3_column_text(q, 3),
                                 &rec.kind, err);
        if (st == HT_OK) {
            st = fn(sqlite3_column_int64(q, 0), &rec, ud, err);
        }
    }
    ht_geom_free(g);
    if (st == HT_OK) {
        st = ht__store_step_err(s, rc, "reading streets", err);
    }
    sqlite3_finalize(q);
    return st;
}

ht_status ht_store_grid_within(ht_store *s, const char *code,
                               const char *ancestor, bool *within,
                               ht_error *err) {
    if (s->pg) {
        return ht__pg_grid_within(s, code, ancestor, within, err);
    }
    *within = false;
    if (!code || !*code || !ancestor) {
        return HT_OK;
    }
    ht_status st = fresh_tree(s, err);
    if (st != HT_OK) {
        return st;
    }
    sqlite3_stmt *q = s->stmt[ST_GRID_WITHIN];
    ht__store_bind_text(q, 1, code);
    ht__store_bind_text(q, 2, ancestor);
    int rc = sqlite3_step(q);
    sqlite3_reset(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        return ht__store_dberr(s, "reading the grid tree", err);
    }
    *within = rc == SQLITE_ROW;
    return HT_OK;
}

ht_status ht_store_each_category(ht_store *s, ht_store_category_fn fn, void *ud,
                                 ht_error *err) {
    if (s->pg) {
        return ht__pg_each_category(s, fn, ud, err);
    }
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT code, parent_code, name, color, "
                           "dictionary FROM categories ORDER BY code",
                           -1, &q, NULL) != SQLITE_OK) {
        return ht__store_dberr(s, "reading categories", err);
    }
    ht_status st = HT_OK;
    int rc;
    while (st == HT_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        ht_category_rec rec = {
            .code = (const char *)sqlite3_column_text(q, 0),
            .parent_code = (const char *)sqlite3_column_text(q, 1),
            .name = (const char *)sqlite3_column_text(q, 2),
            .color = (const char *)sqlite3_column_text(q, 3),
            .dictionary = (const char *)sqlite3_column_text(q, 4)};
        st = fn(&rec, ud, err);
    }
    if (st == HT_OK) {
        st = ht__store_step_err(s, rc, "reading categories", err);
    }
    sqlite3_finalize(q);
    return st;
}

ht_status ht_store_each_grid_link(ht_store *s, ht_store_link_fn fn, void *ud,
                                  ht_error *err) {
    if (s->pg) {
        return ht__pg_each_grid_link(s, fn, ud, err);
    }
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT code, parent_code, level FROM grids ORDER "
                           "BY code",
                           -1, &q, NULL) != SQLITE_OK) {
        return ht__store_dberr(s, "reading grids", err);
    }
    ht_status st = HT_OK;
    int rc;
    while (st == HT_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        ht_level level = HT_LEVEL_GRID;
        ht_model_level_parse((const char *)sqlite3_column_text(q, 2), &level,
                             NULL);
        st = fn((const char *)sqlite3_column_text(q, 0),
                (const char *)sqlite3_column_text(q, 1), level, ud, err);
    }
    if (st == HT_OK) {
        st = ht__store_step_err(s, rc, "reading grids", err);
    }
    sqlite3_finalize(q);
    return st;
}

ht_status ht_store_grid_geometry(ht_store *s, const char *code, ht_geom **out,
                                 ht_error *err) {
    if (s->pg) {
        return ht__pg_grid_geometry(s, code, out, err);
    }
    *out = NULL;
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT AsBinary(geom) FROM grids WHERE code = ?1",
                           -1, &q, NULL) != SQLITE_OK) {
        return ht__store_dberr(s, "reading grids", err);
    }
    ht__store_bind_text(q, 1, code);
    int rc = sqlite3_step(q);
    ht_status st;
    if (rc == SQLITE_ROW && sqlite3_column_blob(q, 0)) {
        st = ht_geom_from_wkb(sqlite3_column_blob(q, 0),
                              (size_t)sqlite3_column_bytes(q, 0), out, err);
    } else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
        st = ht_error_set(err, HT_ENOTFOUND, "no grid \"%s\"", code);
    } else {
        st = ht__store_dberr(s, "reading grids", err);
    }
    sqlite3_finalize(q);
    return st;
}

/* ---- incidents ---- */

bool ht__store_incident_row(sqlite3_stmt *q, ht_incident_row *out) {
    *out = (ht_incident_row){
        .id = sqlite3_column_int64(q, 0),
        .external_id = (const char *)sqlite3_column_text(q, 1),
        .category = (const char *)sqlite3_column_text(q, 2),
        .severity = sqlite3_column_int(q, 3),
        .reported_at = sqlite3_column_int64(q, 6),
        .closed_at = ht__store_col_time(q, 7),
        .grid_code = (const char *)sqlite3_column_text(q, 8),
        .street_id = sqlite3_column_type(q, 9) == SQLITE_NULL
                         ? -1
                         : sqlite3_column_int64(q, 9),
        .department = (const char *)sqlite3_column_text(q, 11),
        .response_due = ht__store_col_time(q, 14),
        .resolution_due = ht__store_col_time(q, 15),
        .dispatched_at = ht__store_col_time(q, 16),
        .handling_at = ht__store_col_time(q, 17)};
    if (sqlite3_column_type(q, 12) != SQLITE_NULL) {
        ht_model_satisfaction_parse((const char *)sqlite3_column_text(q, 12),
                                    &out->satisfaction, NULL);
    }
    if (sqlite3_column_type(q, 13) != SQLITE_NULL) {
        ht_model_whistle_parse((const char *)sqlite3_column_text(q, 13),
                               &out->whistle, NULL);
    }
    return out->category &&
           ht_model_source_parse((const char *)sqlite3_column_text(q, 4),
                                 &out->source, NULL) == HT_OK &&
           ht_model_state_parse((const char *)sqlite3_column_text(q, 5),
                                &out->state, NULL) == HT_OK &&
           ht__store_blob_point(sqlite3_column_blob(q, 10),
                                sqlite3_column_bytes(q, 10), &out->lon,
                                &out->lat);
}

ht_status ht_store_each_incident(ht_store *s, const int64_t *ids, size_t n,
                                 ht_store_incident_fn fn, void *ud,
                                 ht_error *err) {
    if (s->pg) {
        return ht__pg_each_incident(s, ids, n, fn, ud, err);
    }
    sqlite3_stmt *q = ids ? s->stmt[ST_INC_ROW] : NULL;
    if (!ids &&
        sqlite3_prepare_v2(s->db, HT__STORE_INCIDENT_ROW_SQL " ORDER BY i.id",
                           -1, &q, NULL) != SQLITE_OK) {
        return ht__store_dberr(s, "reading incidents", err);
    }
    ht_status st = HT_OK;
    int rc = SQLITE_DONE;
    /* Many ids: one read transaction for them all, not a lock taken and
     * given back for each (a page of 10,000 spent a tenth of its time in
     * fcntl). */
    bool own = ids && n > 1 && !s->in_tx && sqlite3_get_autocommit(s->db) &&
               sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
    for (size_t k = 0; st == HT_OK && (!ids || k < n); k++) {
        if (ids) {
            sqlite3_reset(q);
            sqlite3_bind_int64(q, 1, ids[k]);
        }
        while (st == HT_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
            ht_incident_row row;
            if (ht__store_incident_row(q, &row)) {
                st = fn(&row, ud, err);
            }
        }
        if (st == HT_OK) {
            st = ht__store_step_err(s, rc, "reading incidents", err);
        }
        if (!ids) {
            break;
        }
    }
    if (ids) {
        sqlite3_reset(q);
    } else {
        sqlite3_finalize(q);
    }
    if (own) {
        sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL); /* (read only) */
    }
    return st;
}

/* ---- filters as SQL ---- */

ht_status ht_store_check_filter(ht_store *s, const ht_filter *f,
                                ht_error *err) {
    /* Codes must exist: an unknown one is a mistake, not an empty answer. */
    for (size_t k = 0; k < f->ncategory; k++) {
        bool exists;
        ht_status st =
            ht_store_category_exists(s, f->category[k], &exists, err);
        if (st != HT_OK) {
            return st;
        }
        if (!exists) {
            return ht_error_set(err, HT_EINVAL, "category: unknown code \"%s\"",
                                f->category[k]);
        }
    }
    if (f->grid[0]) {
        bool exists;
        ht_status st = ht_store_grid_exists(s, f->grid, &exists, err);
        if (st != HT_OK) {
            return st;
        }
        if (!exists) {
            return ht_error_set(err, HT_EINVAL, "grid: unknown code \"%s\"",
                                f->grid);
        }
    }
    return HT_OK;
}

/* Enumerations are written as literals from hutong's own names; codes
 * and times are bound (where_bind here, where_params in store_pg_read.c). */
ht_status ht__store_where_sql(const ht_filter *f, ht_buf *w, ht_error *err) {
    ht_status st = ht_buf_appendf(w, err, " WHERE 1 = 1");
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
    const struct {
        unsigned mask;
        const char *col;
        int count;
    } sets[2] = {{f->status, "i.status", HT_STATE_COUNT},
                 {f->source, "i.source", HT_SOURCE_COUNT}};
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
    /* A code matches itself and, for a major, its minors. */
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
        st = ht_buf_appendf(w, err,
                            " AND i.grid_code IN (SELECT code FROM grid_tree "
                            "WHERE ancestor = ?)");
    }
    if (st == HT_OK && f->ndepartment) {
        st = ht_buf_appendf(w, err, " AND i.department IN (''");
        for (size_t k = 0; k < f->ndepartment && st == HT_OK; k++) {
            st = ht_buf_appendf(w, err, ",?");
        }
        if (st == HT_OK) {
            st = ht_buf_appendf(w, err, ")");
        }
    }
    if (st == HT_OK && f->satisfaction) {
        st = ht_buf_appendf(w, err,
                            " AND coalesce(i.satisfaction, 'none') IN (''");
        for (int k = 0; k < HT_SAT_COUNT && st == HT_OK; k++) {
            if (f->satisfaction >> k & 1) {
                st = ht_buf_appendf(
                    w, err, ",'%s'",
                    ht_model_satisfaction_name((ht_satisfaction)k));
            }
        }
        if (st == HT_OK) {
            st = ht_buf_appendf(w, err, ")");
        }
    }
    /* Overdue: open, and undispatched past the response deadline or
     * unclosed past the resolution deadline (as ht_stats_due). */
    if (st == HT_OK && f->overdue_at) {
        st = ht_buf_appendf(
            w, err,
            " AND i.status IN ('reported', 'dispatched', 'handling') AND "
            "((i.status = 'reported' AND i.response_due < ?) OR "
            "i.resolution_due < ?)");
    }
    return st;
}

static int where_bind(sqlite3_stmt *q, const ht_filter *f, int i) {
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
    for (size_t k = 0; k < f->ndepartment; k++) {
        sqlite3_bind_text(q, i++, f->department[k], -1, SQLITE_STATIC);
    }
    if (f->overdue_at) {
        sqlite3_bind_int64(q, i++, f->overdue_at);
        sqlite3_bind_int64(q, i++, f->overdue_at);
    }
    return i;
}

/* The key of a group, as SQL over incidents "i" and categories "c". */
static const char *group_sql(ht_group by) {
    static const char *const key[HT_GROUP_COUNT] = {
        "coalesce((SELECT min(ancestor) FROM grid_tree t WHERE t.code = "
        "i.grid_code AND t.level = 'street'), '-')",
        "coalesce((SELECT min(ancestor) FROM grid_tree t WHERE t.code = "
        "i.grid_code AND t.level = 'community'), '-')",
        "coalesce(i.grid_code, '-')",
        "coalesce(c.parent_code, i.category)",
        "strftime('%Y-%m', i.reported_at, 'unixepoch')",
        "coalesce(i.department, '-')"};
    return key[by];
}

/* Prepare "SELECT @cols FROM incidents i ... WHERE <f> @tail" with the
 * filter bound; *q is NULL on error. */
static ht_status prepare_filtered(ht_store *s, const ht_filter *f,
                                  const char *cols, const char *tail,
                                  sqlite3_stmt **q, ht_error *err) {
    *q = NULL;
    ht_status st = fresh_tree(s, err);
    if (st == HT_OK) {
        st = ht_store_check_filter(s, f, err);
    }
    if (st != HT_OK) {
        return st;
    }
    ht_buf *sql = ht_buf_new();
    st = sql ? ht_buf_appendf(sql, err,
                              "SELECT %s FROM incidents i LEFT JOIN "
                              "categories c ON c.code = i.category",
                              cols)
             : ht_error_set(err, HT_ENOMEM, "out of memory");
    if (st == HT_OK) {
        st = ht__store_where_sql(f, sql, err);
    }
    if (st == HT_OK) {
        st = ht_buf_appendf(sql, err, "%s", tail);
    }
    if (st == HT_OK && sqlite3_prepare_v2(s->db, (const char *)sql->data, -1, q,
                                          NULL) != SQLITE_OK) {
        st = ht__store_dberr(s, "selecting incidents", err);
    }
    ht_buf_free(sql);
    if (st == HT_OK) {
        where_bind(*q, f, 1);
    }
    return st;
}

ht_status ht_store_each_incident_where(ht_store *s, const ht_filter *f,
                                       ht_store_incident_fn fn, void *ud,
                                       ht_error *err) {
    if (s->pg) {
        return ht__pg_each_incident_where(s, f, fn, ud, err);
    }
    sqlite3_stmt *q;
    ht_status st = prepare_filtered(s, f, HT__STORE_INCIDENT_COLS,
                                    " ORDER BY i.id", &q, err);
    int rc = SQLITE_DONE;
    while (st == HT_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        ht_incident_row row;
        if (ht__store_incident_row(q, &row)) {
            st = fn(&row, ud, err);
        }
    }
    if (st == HT_OK) {
        st = ht__store_step_err(s, rc, "reading incidents", err);
    }
    sqlite3_finalize(q);
    return st;
}

ht_status ht_store_each_fact(ht_store *s, const ht_filter *f, ht_group by,
                             ht_store_fact_fn fn, void *ud, ht_error *err) {
    if (s->pg) {
        return ht__pg_each_fact(s, f, by, fn, ud, err);
    }
    char cols[400];
    snprintf(cols, sizeof cols,
             "%s AS k, i.status, i.reported_at, i.closed_at, i.id, "
             "i.dispatched_at, i.response_due, i.resolution_due, "
             "i.satisfaction, i.whistle_kind, %s",
             group_sql(by),
             /* When a department arrived: its scorecard's figure. */
             by == HT_GROUP_DEPARTMENT ? "i.handling_at" : "NULL");
    sqlite3_stmt *q;
    ht_status st = prepare_filtered(s, f, cols, " ORDER BY k", &q, err);
    int rc = SQLITE_DONE;
    while (st == HT_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        ht_store_fact fact = {.key = (const char *)sqlite3_column_text(q, 0),
                              .state = HT_STATE_REPORTED,
                              .reported_at = sqlite3_column_int64(q, 2),
                              .closed_at = ht__store_col_time(q, 3),
                              .id = sqlite3_column_int64(q, 4),
                              .dispatched_at = ht__store_col_time(q, 5),
                              .response_due = ht__store_col_time(q, 6),
                              .resolution_due = ht__store_col_time(q, 7),
                              .handling_at = ht__store_col_time(q, 10)};
        ht_model_state_parse((const char *)sqlite3_column_text(q, 1),
                             &fact.state, NULL);
        if (sqlite3_column_type(q, 8) != SQLITE_NULL) {
            ht_model_satisfaction_parse((const char *)sqlite3_column_text(q, 8),
                                        &fact.satisfaction, NULL);
        }
        if (sqlite3_column_type(q, 9) != SQLITE_NULL) {
            ht_model_whistle_parse((const char *)sqlite3_column_text(q, 9),
                                   &fact.whistle, NULL);
        }
        if (!fact.key) {
            fact.key = "-";
        }
        st = fn(&fact, ud, err);
    }
    if (st == HT_OK) {
        st = ht__store_step_err(s, rc, "statistics", err);
    }
    sqlite3_finalize(q);
    return st;
}

ht_status ht_store_group_counts(ht_store *s, const ht_filter *f, ht_group by,
                                ht_store_count_fn fn, void *ud, ht_error *err) {
    if (s->pg) {
        return ht__pg_group_counts(s, f, by, fn, ud, err);
    }
    char cols[400];
    snprintf(cols, sizeof cols, "%s AS k, count(*)", group_sql(by));
    sqlite3_stmt *q;
    ht_status st =
        prepare_filtered(s, f, cols, " GROUP BY k ORDER BY k", &q, err);
    int rc = SQLITE_DONE;
    while (st == HT_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        const char *key = (const char *)sqlite3_column_text(q, 0);
        st = fn(key ? key : "-", sqlite3_column_int64(q, 1), ud, err);
    }
    if (st == HT_OK) {
        st = ht__store_step_err(s, rc, "statistics", err);
    }
    sqlite3_finalize(q);
    return st;
}

ht_status ht_store_group_info(ht_store *s, ht_group by, const char *key,
                              bool *found, ht_group_info *out, ht_error *err) {
    *found = false;
    *out = (ht_group_info){.area_m2 = NAN, .population = -1};
    if (by == HT_GROUP_MONTH) {
        return HT_OK;
    }
    if (by == HT_GROUP_DEPARTMENT) {
        /* A department is named by itself. */
        *found = true;
        snprintf(out->name, sizeof out->name, "%s", key);
        return HT_OK;
    }
    if (s->pg) {
        return ht__pg_group_info(s, by, key, found, out, err);
    }
    sqlite3_stmt *q =
        s->stmt[by == HT_GROUP_CATEGORY ? ST_CAT_NAME : ST_GRID_INFO];
    ht__store_bind_text(q, 1, key);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        *found = true;
        const char *nm = (const char *)sqlite3_column_text(q, 0);
        snprintf(out->name, sizeof out->name, "%s", nm ? nm : "");
        if (sqlite3_column_type(q, 1) != SQLITE_NULL) {
            out->area_m2 = sqlite3_column_double(q, 1);
        }
        if (sqlite3_column_type(q, 2) != SQLITE_NULL) {
            out->population = sqlite3_column_int64(q, 2);
        }
    }
    sqlite3_reset(q);
    return rc == SQLITE_ROW || rc == SQLITE_DONE
               ? HT_OK
               : ht__store_dberr(s, "naming groups", err);
}

ht_status ht_store_topic_counts(ht_store *s, ht_group by, const char *within,
                                int64_t before, int64_t start, int64_t next,
                                int64_t min_count, ht_store_topic_fn fn,
                                void *ud, ht_error *err) {
    if (by != HT_GROUP_STREET && by != HT_GROUP_COMMUNITY) {
        return ht_error_set(err, HT_EINVAL,
                            "by: topics are by street or community");
    }
    if (s->pg) {
        return ht__pg_topic_counts(s, by, within, before, start, next,
                                   min_count, fn, ud, err);
    }
    ht_status st = fresh_tree(s, err);
    if (st != HT_OK) {
        return st;
    }
    char sql[1400];
    snprintf(sql, sizeof sql,
             "SELECT i.category, %s AS area, sum(i.reported_at >= ?2) AS now,"
             " sum(i.reported_at < ?2) AS prev,"
             " (SELECT name FROM categories WHERE code = i.category),"
             " (SELECT name FROM grids WHERE code = %s)"
             " FROM incidents i WHERE i.reported_at >= ?1 AND"
             " i.reported_at < ?3 AND (?5 IS NULL OR i.grid_code IN (SELECT"
             " code FROM grid_tree WHERE ancestor = ?5))"
             " GROUP BY i.category, area HAVING now >= ?4",
             group_sql(by), group_sql(by));
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &q, NULL) != SQLITE_OK) {
        return ht__store_dberr(s, "topics", err);
    }
    sqlite3_bind_int64(q, 1, before);
    sqlite3_bind_int64(q, 2, start);
    sqlite3_bind_int64(q, 3, next);
    sqlite3_bind_int64(q, 4, min_count);
    ht__store_bind_text(q, 5, within);
    int rc;
    while (st == HT_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        const char *area = (const char *)sqlite3_column_text(q, 1);
        ht_store_topic t = {
            .category = (const char *)sqlite3_column_text(q, 0),
            .area = area ? area : "-",
            .count = sqlite3_column_int64(q, 2),
            .prev = sqlite3_column_int64(q, 3),
            .category_name = (const char *)sqlite3_column_text(q, 4),
            .area_name = (const char *)sqlite3_column_text(q, 5)};
        st = fn(&t, ud, err);
    }
    if (st == HT_OK) {
        st = ht__store_step_err(s, rc, "topics", err);
    }
    sqlite3_finalize(q);
    return st;
}

/* ---- the summary ---- */

/* In the order of ht_summary_section, each documented there. */
static const char *const summary_sql[HT_SUMMARY_COUNT] = {
    "SELECT level, count(*), coalesce(sum(population), 0) FROM grids "
    "GROUP BY level ORDER BY CASE level WHEN 'district' THEN 0 "
    "WHEN 'street' THEN 1 WHEN 'community' THEN 2 ELSE 3 END",
    "SELECT kind, count(*), round(sum(GLength(geom, 1)) / 1000.0, 1) "
    "FROM streets GROUP BY kind ORDER BY count(*) DESC",
    "SELECT m.code, count(*), m.name FROM incidents i "
    "JOIN categories c ON c.code = i.category "
    "JOIN categories m ON m.code = coalesce(c.parent_code, c.code) "
    "GROUP BY m.code ORDER BY count(*) DESC, m.code",
    "SELECT strftime('%Y-%m', reported_at, 'unixepoch'), count(*) "
    "FROM incidents GROUP BY 1 ORDER BY 1",
    "SELECT status, count(*) FROM incidents GROUP BY status ORDER BY "
    "CASE status WHEN 'reported' THEN 0 WHEN 'dispatched' THEN 1 "
    "WHEN 'handling' THEN 2 WHEN 'closed' THEN 3 ELSE 4 END",
    "SELECT count(*), count(grid_code), count(street_id), "
    "(SELECT count(*) FROM incident_events) FROM incidents"};

ht_status ht_store_summary(ht_store *s, ht_summary_section which,
                           ht_store_summary_fn fn, void *ud, ht_error *err) {
    if (s->pg && which >= 0 && which < HT_SUMMARY_COUNT) {
        return ht__pg_summary(s, which, fn, ud, err);
    }
    sqlite3_stmt *q = NULL;
    if (which < 0 || which >= HT_SUMMARY_COUNT ||
        sqlite3_prepare_v2(s->db, summary_sql[which], -1, &q, NULL) !=
            SQLITE_OK) {
        return which < 0 || which >= HT_SUMMARY_COUNT
                   ? ht_error_set(err, HT_EINVAL, "no summary section %d",
                                  (int)which)
                   : ht__store_dberr(s, "summary", err);
    }
    ht_status st = HT_OK;
    int rc;
    while (st == HT_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        int n = sqlite3_column_count(q);
        const char *cols[8];
        for (int c = 0; c < n && c < 8; c++) {
            cols[c] = (const char *)sqlite3_column_text(q, c);
        }
        st = fn(cols, n < 8 ? n : 8, ud, err);
    }
    if (st == HT_OK) {
        st = ht__store_step_err(s, rc, "summary", err);
    }
    sqlite3_finalize(q);
    return st;
}

ht_status ht_store_each_deadline(ht_store *s, ht_store_deadline_fn fn, void *ud,
                                 ht_error *err) {
    if (s->pg) {
        return ht__pg_each_deadline(s, fn, ud, err);
    }
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT category, severity, response_s, "
                           "resolution_s FROM deadlines",
                           -1, &q, NULL) != SQLITE_OK) {
        return ht__store_dberr(s, "reading deadlines", err);
    }
    ht_status st = HT_OK;
    int rc;
    while (st == HT_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        st = fn((const char *)sqlite3_column_text(q, 0),
                sqlite3_column_int(q, 1), sqlite3_column_int64(q, 2),
                sqlite3_column_int64(q, 3), ud, err);
    }
    if (st == HT_OK) {
        st = ht__store_step_err(s, rc, "reading deadlines", err);
    }
    sqlite3_finalize(q);
    return st;
}

ht_status ht_store_each_department(ht_store *s, ht_store_name_fn fn, void *ud,
                                   ht_error *err) {
    if (s->pg) {
        return ht__pg_each_department(s, fn, ud, err);
    }
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT DISTINCT department FROM incidents WHERE "
                           "department IS NOT NULL",
                           -1, &q, NULL) != SQLITE_OK) {
        return ht__store_dberr(s, "reading departments", err);
    }
    ht_status st = HT_OK;
    int rc;
    while (st == HT_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        st = fn((const char *)sqlite3_column_text(q, 0), ud, err);
    }
    if (st == HT_OK) {
        st = ht__store_step_err(s, rc, "reading departments", err);
    }
    sqlite3_finalize(q);
    return st;
}
