/* SPDX-License-Identifier: Apache-2.0 */
/* The PostgreSQL store's reads, each meaning what store_read.c's does:
 * walks over categories, grids, streets and incidents; the incidents a
 * filter selects, grouped and counted; topics; the summary. Keys are
 * ordered byte by byte (COLLATE "C"), as SQLite orders them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hutong/datetime.h"

#include "store_int.h"
#include "store_pg.h"

static ht_status fresh_tree(ht_store *s, ht_error *err) {
    return s->tree_stale ? ht__pg_rebuild_tree(s, err) : HT_OK;
}

static ht_status exists_one(ht_store *s, int slot, const char *sql,
                            const char *key, const char *key2, bool *exists,
                            const char *what, ht_error *err) {
    pg_params p = {0};
    ht__pg_text(&p, key);
    if (key2) {
        ht__pg_text(&p, key2);
    }
    PGresult *r = NULL;
    ht_status st = ht__pg_run(s, slot, sql, &p, &r, what, err);
    if (st == HT_OK) {
        *exists = PQntuples(r) > 0;
        PQclear(r);
    }
    return st;
}

ht_status ht__pg_category_exists(ht_store *s, const char *code, bool *exists,
                                 ht_error *err) {
    return exists_one(s, PQ_CAT_SELECT,
                      "SELECT parent_code, name, color, dictionary FROM "
                      "categories WHERE code = $1",
                      code, NULL, exists, "reading categories", err);
}

ht_status ht__pg_grid_exists(ht_store *s, const char *code, bool *exists,
                             ht_error *err) {
    return exists_one(s, PQ_GRID_PARENT,
                      "SELECT parent_code FROM grids WHERE code = $1", code,
                      NULL, exists, "reading grids", err);
}

ht_status ht__pg_grid_within(ht_store *s, const char *code,
                             const char *ancestor, bool *within,
                             ht_error *err) {
    *within = false;
    if (!code || !*code || !ancestor) {
        return HT_OK;
    }
    ht_status st = fresh_tree(s, err);
    return st != HT_OK ? st
                       : exists_one(s, PQ_GRID_WITHIN,
                                    "SELECT 1 FROM grid_tree WHERE code = $1 "
                                    "AND ancestor = $2",
                                    code, ancestor, within,
                                    "reading the grid tree", err);
}

#define HEAD_SQL                                                          \
    "SELECT i.id, i.status, i.reported_at, i.closed_at, i.grid_code, "    \
    "(SELECT max(at) FROM incident_events e WHERE e.incident_id = i.id) " \
    "FROM incidents i WHERE "

static ht_status incident_head(ht_store *s, int slot, const char *sql,
                               pg_params *p, bool *found, ht_incident_head *out,
                               ht_error *err) {
    PGresult *r = NULL;
    ht_status st = ht__pg_run(s, slot, sql, p, &r, "reading incidents", err);
    if (st != HT_OK) {
        return st;
    }
    *found = PQntuples(r) == 1;
    if (*found) {
        const char *grid = ht__pg_col_text(r, 0, 4);
        *out = (ht_incident_head){
            .id = ht__pg_col_time(r, 0, 0),
            .state = HT_STATE_REPORTED,
            .reported_at = ht__pg_col_time(r, 0, 2),
            .closed_at = ht__pg_col_time(r, 0, 3),
        };
        ht_model_state_parse(ht__pg_col_text(r, 0, 1), &out->state, NULL);
        snprintf(out->grid_code, sizeof out->grid_code, "%s", grid ? grid : "");
        int64_t last = ht__pg_col_time(r, 0, 5);
        out->last_at = last == HT_TIME_NONE || last < out->reported_at
                           ? out->reported_at
                           : last;
    }
    PQclear(r);
    return HT_OK;
}

ht_status ht__pg_find_incident(ht_store *s, const char *external_id,
                               bool *found, ht_incident_head *out,
                               ht_error *err) {
    pg_params p = {0};
    ht__pg_text(&p, external_id);
    return incident_head(s, PQ_INC_HEAD_EXT, HEAD_SQL "i.external_id = $1", &p,
                         found, out, err);
}

ht_status ht__pg_get_incident(ht_store *s, int64_t id, bool *found,
                              ht_incident_head *out, ht_error *err) {
    pg_params p = {0};
    ht__pg_i64(&p, id);
    return incident_head(s, PQ_INC_HEAD_ID, HEAD_SQL "i.id = $1", &p, found,
                         out, err);
}

/* ---- walks ---- */

typedef union walk_fn {
    ht_store_category_fn category;
    ht_store_link_fn link;
    ht_store_grid_fn grid;
    ht_store_street_fn street;
    ht_store_incident_fn incident;
    ht_store_fact_fn fact;
    ht_store_count_fn count;
} walk_fn;

typedef struct walk {
    ht_store *s;
    walk_fn fn;
    void *ud;
    ht_buf *blob;
    const ht_filter *f;
} walk;

static ht_status category_row(PGresult *r, int row, void *ud, ht_error *err) {
    walk *w = ud;
    ht_category_rec rec = {.code = ht__pg_col_text(r, row, 0),
                           .parent_code = ht__pg_col_text(r, row, 1),
                           .name = ht__pg_col_text(r, row, 2),
                           .color = ht__pg_col_text(r, row, 3),
                           .dictionary = ht__pg_col_text(r, row, 4)};
    return w->fn.category(&rec, w->ud, err);
}

ht_status ht__pg_each_category(ht_store *s, ht_store_category_fn fn, void *ud,
                               ht_error *err) {
    walk w = {.s = s, .fn.category = fn, .ud = ud};
    return ht__pg_walk(s,
                       "SELECT code, parent_code, name, color, dictionary "
                       "FROM categories ORDER BY code",
                       NULL, category_row, &w, "reading categories", err);
}

static ht_status link_row(PGresult *r, int row, void *ud, ht_error *err) {
    walk *w = ud;
    ht_level level = HT_LEVEL_GRID;
    ht_model_level_parse(ht__pg_col_text(r, row, 2), &level, NULL);
    return w->fn.link(ht__pg_col_text(r, row, 0), ht__pg_col_text(r, row, 1),
                      level, w->ud, err);
}

ht_status ht__pg_each_grid_link(ht_store *s, ht_store_link_fn fn, void *ud,
                                ht_error *err) {
    walk w = {.s = s, .fn.link = fn, .ud = ud};
    return ht__pg_walk(s,
                       "SELECT code, parent_code, level FROM grids ORDER BY "
                       "code",
                       NULL, link_row, &w, "reading grids", err);
}

static ht_status grid_row(PGresult *r, int row, void *ud, ht_error *err) {
    walk *w = ud;
    ht_status st = ht__pg_col_bytea(r, row, 8, w->blob, err);
    if (st == HT_ENOTFOUND) {
        return HT_OK; /* a grid without geometry cannot locate anything */
    }
    ht_geom *g = NULL;
    if (st != HT_OK || (st = ht_geom_from_wkb(w->blob->data, w->blob->len, &g,
                                              err)) != HT_OK) {
        return st;
    }
    ht_grid_rec rec = {
        .code = ht__pg_col_text(r, row, 0),
        .parent_code = ht__pg_col_text(r, row, 1),
        .name = ht__pg_col_text(r, row, 3),
        .population = PQgetisnull(r, row, 4) ? -1 : ht__pg_col_time(r, row, 4),
        .responsible = ht__pg_col_text(r, row, 5),
        .valid_from = ht__pg_col_time(r, row, 6),
        .valid_to = ht__pg_col_time(r, row, 7),
        .geom = g,
    };
    st = ht_model_level_parse(ht__pg_col_text(r, row, 2), &rec.level, err);
    if (st == HT_OK) {
        st = w->fn.grid(&rec, w->ud, err);
    }
    ht_geom_free(g);
    return st;
}

ht_status ht__pg_each_grid(ht_store *s, ht_store_grid_fn fn, void *ud,
                           ht_error *err) {
    walk w = {.s = s, .fn.grid = fn, .ud = ud, .blob = ht_buf_new()};
    if (!w.blob) {
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    ht_status st = ht__pg_walk(
        s,
        "SELECT code, parent_code, level, name, population, responsible, "
        "valid_from, valid_to, ST_AsBinary(geom, 'NDR') FROM grids ORDER BY "
        "code",
        NULL, grid_row, &w, "reading grids", err);
    ht_buf_free(w.blob);
    return st;
}

static ht_status street_row(PGresult *r, int row, void *ud, ht_error *err) {
    walk *w = ud;
    ht_status st = ht__pg_col_bytea(r, row, 4, w->blob, err);
    if (st == HT_ENOTFOUND) {
        return HT_OK;
    }
    ht_geom *g = NULL;
    if (st != HT_OK || (st = ht_geom_from_wkb(w->blob->data, w->blob->len, &g,
                                              err)) != HT_OK) {
        return st;
    }
    ht_street_rec rec = {
        .source_id = ht__pg_col_text(r, row, 1),
        .name = ht__pg_col_text(r, row, 2),
        .geom = g,
    };
    st = ht_model_kind_parse(ht__pg_col_text(r, row, 3), &rec.kind, err);
    if (st == HT_OK) {
        st = w->fn.street(ht__pg_col_time(r, row, 0), &rec, w->ud, err);
    }
    ht_geom_free(g);
    return st;
}

ht_status ht__pg_each_street(ht_store *s, ht_store_street_fn fn, void *ud,
                             ht_error *err) {
    walk w = {.s = s, .fn.street = fn, .ud = ud, .blob = ht_buf_new()};
    if (!w.blob) {
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    ht_status st = ht__pg_walk(s,
                               "SELECT id, source_id, name, kind, "
                               "ST_AsBinary(geom, 'NDR') FROM streets ORDER "
                               "BY id",
                               NULL, street_row, &w, "reading streets", err);
    ht_buf_free(w.blob);
    return st;
}

ht_status ht__pg_grid_geometry(ht_store *s, const char *code, ht_geom **out,
                               ht_error *err) {
    *out = NULL;
    pg_params p = {0};
    ht__pg_text(&p, code);
    PGresult *r = NULL;
    ht_status st = ht__pg_run(s, -1,
                              "SELECT ST_AsBinary(geom, 'NDR') FROM grids "
                              "WHERE code = $1",
                              &p, &r, "reading grids", err);
    if (st != HT_OK) {
        return st;
    }
    ht_buf *b = ht_buf_new();
    if (!b) {
        st = ht_error_set(err, HT_ENOMEM, "out of memory");
    } else if (PQntuples(r) != 1 ||
               (st = ht__pg_col_bytea(r, 0, 0, b, err)) == HT_ENOTFOUND) {
        st = ht_error_set(err, HT_ENOTFOUND, "no grid \"%s\"", code);
    } else if (st == HT_OK) {
        st = ht_geom_from_wkb(b->data, b->len, out, err);
    }
    ht_buf_free(b);
    PQclear(r);
    return st;
}

/* ---- incidents ---- */

#define ROW_COLS                                                          \
    "i.id, i.external_id, i.category, i.severity, i.source, "             \
    "i.status, i.reported_at, i.closed_at, i.grid_code, i.street_id, "    \
    "ST_X(i.geom), ST_Y(i.geom), i.department, i.satisfaction, "          \
    "i.whistle_kind, i.response_due, i.resolution_due, i.dispatched_at, " \
    "i.handling_at"
#define ROW_SQL "SELECT " ROW_COLS " FROM incidents i"

/* The incident of row @row of a result of ROW_SQL: false when an enum
 * cannot be read. Strings are borrowed from the result. */
static bool incident_row(PGresult *r, int row, ht_incident_row *out) {
    *out = (ht_incident_row){
        .id = ht__pg_col_time(r, row, 0),
        .external_id = ht__pg_col_text(r, row, 1),
        .category = ht__pg_col_text(r, row, 2),
        .severity = (int)ht__pg_col_time(r, row, 3),
        .reported_at = ht__pg_col_time(r, row, 6),
        .closed_at = ht__pg_col_time(r, row, 7),
        .grid_code = ht__pg_col_text(r, row, 8),
        .street_id = PQgetisnull(r, row, 9) ? -1 : ht__pg_col_time(r, row, 9),
        .lon = ht__pg_col_f64(r, row, 10),
        .lat = ht__pg_col_f64(r, row, 11),
        .department = ht__pg_col_text(r, row, 12),
        .response_due = ht__pg_col_time(r, row, 15),
        .resolution_due = ht__pg_col_time(r, row, 16),
        .dispatched_at = ht__pg_col_time(r, row, 17),
        .handling_at = ht__pg_col_time(r, row, 18)};
    if (!PQgetisnull(r, row, 13)) {
        ht_model_satisfaction_parse(ht__pg_col_text(r, row, 13),
                                    &out->satisfaction, NULL);
    }
    if (!PQgetisnull(r, row, 14)) {
        ht_model_whistle_parse(ht__pg_col_text(r, row, 14), &out->whistle,
                               NULL);
    }
    return out->category &&
           ht_model_source_parse(ht__pg_col_text(r, row, 4), &out->source,
                                 NULL) == HT_OK &&
           ht_model_state_parse(ht__pg_col_text(r, row, 5), &out->state,
                                NULL) == HT_OK &&
           isfinite(out->lon) && isfinite(out->lat);
}

static ht_status incident_walk_row(PGresult *r, int row, void *ud,
                                   ht_error *err) {
    walk *w = ud;
    ht_incident_row inc;
    return incident_row(r, row, &inc) ? w->fn.incident(&inc, w->ud, err)
                                      : HT_OK;
}

ht_status ht__pg_each_incident(ht_store *s, const int64_t *ids, size_t n,
                               ht_store_incident_fn fn, void *ud,
                               ht_error *err) {
    walk w = {.s = s, .fn.incident = fn, .ud = ud};
    if (!ids) {
        return ht__pg_walk(s, ROW_SQL " ORDER BY i.id", NULL, incident_walk_row,
                           &w, "reading incidents", err);
    }
    ht_status st = HT_OK;
    for (size_t k = 0; st == HT_OK && k < n; k++) {
        pg_params p = {0};
        ht__pg_i64(&p, ids[k]);
        PGresult *r = NULL;
        st = ht__pg_run(s, PQ_INC_ROW, ROW_SQL " WHERE i.id = $1", &p, &r,
                        "reading incidents", err);
        for (int i = 0; st == HT_OK && i < PQntuples(r); i++) {
            st = incident_walk_row(r, i, &w, err);
        }
        PQclear(r);
    }
    return st;
}

/* ---- filters ---- */

/* The parameters of ht__store_where_sql's placeholders, in its order. */
static void where_params(const ht_filter *f, pg_params *p) {
    if (f->from != INT64_MIN) {
        ht__pg_i64(p, f->from);
    }
    if (f->to != INT64_MAX) {
        ht__pg_i64(p, f->to);
    }
    for (int pass = 0; pass < 2 && f->ncategory; pass++) {
        for (size_t k = 0; k < f->ncategory; k++) {
            ht__pg_text(p, f->category[k]);
        }
    }
    if (f->grid[0]) {
        ht__pg_text(p, f->grid);
    }
    for (size_t k = 0; k < f->ndepartment; k++) {
        ht__pg_text(p, f->department[k]);
    }
    if (f->overdue_at) {
        ht__pg_i64(p, f->overdue_at);
        ht__pg_i64(p, f->overdue_at);
    }
}

/* As store_read.c's group keys, months by PostgreSQL's clock functions. */
static const char *group_sql(ht_group by) {
    static const char *const key[HT_GROUP_COUNT] = {
        "coalesce((SELECT min(ancestor) FROM grid_tree t WHERE t.code = "
        "i.grid_code AND t.level = 'street'), '-')",
        "coalesce((SELECT min(ancestor) FROM grid_tree t WHERE t.code = "
        "i.grid_code AND t.level = 'community'), '-')",
        "coalesce(i.grid_code, '-')",
        "coalesce(c.parent_code, i.category)",
        "to_char(to_timestamp(i.reported_at) AT TIME ZONE 'UTC', 'YYYY-MM')",
        "coalesce(i.department, '-')"};
    return key[by];
}

/* "SELECT @cols FROM incidents i ... WHERE <f> @tail" with its
 * parameters. */
static ht_status filtered_sql(ht_store *s, const ht_filter *f, const char *cols,
                              const char *tail, ht_buf *out, pg_params *p,
                              ht_error *err) {
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
    if (st == HT_OK) {
        st = ht__pg_number_params((const char *)sql->data, 1, out, err);
    }
    ht_buf_free(sql);
    where_params(f, p);
    return st;
}

static ht_status fact_row(PGresult *r, int row, void *ud, ht_error *err) {
    walk *w = ud;
    ht_store_fact fact = {.key = ht__pg_col_text(r, row, 0),
                          .state = HT_STATE_REPORTED,
                          .reported_at = ht__pg_col_time(r, row, 2),
                          .closed_at = ht__pg_col_time(r, row, 3),
                          .id = ht__pg_col_time(r, row, 4),
                          .dispatched_at = ht__pg_col_time(r, row, 5),
                          .response_due = ht__pg_col_time(r, row, 6),
                          .resolution_due = ht__pg_col_time(r, row, 7),
                          .handling_at = ht__pg_col_time(r, row, 10)};
    ht_model_state_parse(ht__pg_col_text(r, row, 1), &fact.state, NULL);
    if (!PQgetisnull(r, row, 8)) {
        ht_model_satisfaction_parse(ht__pg_col_text(r, row, 8),
                                    &fact.satisfaction, NULL);
    }
    if (!PQgetisnull(r, row, 9)) {
        ht_model_whistle_parse(ht__pg_col_text(r, row, 9), &fact.whistle, NULL);
    }
    if (!fact.key) {
        fact.key = "-";
    }
    return w->fn.fact(&fact, w->ud, err);
}

ht_status ht__pg_each_incident_where(ht_store *s, const ht_filter *f,
                                     ht_store_incident_fn fn, void *ud,
                                     ht_error *err) {
    walk w = {.s = s, .fn.incident = fn, .ud = ud};
    ht_buf *sql = ht_buf_new();
    pg_params p = {0};
    ht_status st =
        sql ? filtered_sql(s, f, ROW_COLS, " ORDER BY i.id", sql, &p, err)
            : ht_error_set(err, HT_ENOMEM, "out of memory");
    if (st == HT_OK) {
        st = ht__pg_walk(s, (const char *)sql->data, &p, incident_walk_row, &w,
                         "reading incidents", err);
    }
    ht_buf_free(sql);
    return st;
}

ht_status ht__pg_each_fact(ht_store *s, const ht_filter *f, ht_group by,
                           ht_store_fact_fn fn, void *ud, ht_error *err) {
    char cols[480];
    snprintf(
        cols, sizeof cols,
        "(%s) COLLATE \"C\" AS k, i.status, i.reported_at, i.closed_at, i.id, "
        "i.dispatched_at, i.response_due, i.resolution_due, "
        "i.satisfaction, i.whistle_kind, %s",
        group_sql(by),
        by == HT_GROUP_DEPARTMENT ? "i.handling_at" : "NULL::bigint");
    ht_buf *sql = ht_buf_new();
    pg_params p = {0};
    ht_status st = sql ? filtered_sql(s, f, cols, " ORDER BY k", sql, &p, err)
                       : ht_error_set(err, HT_ENOMEM, "out of memory");
    walk w = {.s = s, .fn.fact = fn, .ud = ud};
    if (st == HT_OK) {
        st = ht__pg_walk(s, (const char *)sql->data, &p, fact_row, &w,
                         "statistics", err);
    }
    ht_buf_free(sql);
    return st;
}

static ht_status count_row(PGresult *r, int row, void *ud, ht_error *err) {
    walk *w = ud;
    const char *key = ht__pg_col_text(r, row, 0);
    return w->fn.count(key ? key : "-", ht__pg_col_time(r, row, 1), w->ud, err);
}

ht_status ht__pg_group_counts(ht_store *s, const ht_filter *f, ht_group by,
                              ht_store_count_fn fn, void *ud, ht_error *err) {
    char cols[400];
    snprintf(cols, sizeof cols, "(%s) COLLATE \"C\" AS k, count(*)",
             group_sql(by));
    ht_buf *sql = ht_buf_new();
    pg_params p = {0};
    ht_status st =
        sql ? filtered_sql(s, f, cols, " GROUP BY k ORDER BY k", sql, &p, err)
            : ht_error_set(err, HT_ENOMEM, "out of memory");
    walk w = {.s = s, .fn.count = fn, .ud = ud};
    if (st == HT_OK) {
        st = ht__pg_walk(s, (const char *)sql->data, &p, count_row, &w,
                         "statistics", err);
    }
    ht_buf_free(sql);
    return st;
}

ht_status ht__pg_group_info(ht_store *s, ht_group by, const char *key,
                            bool *found, ht_group_info *out, ht_error *err) {
    pg_params p = {0};
    ht__pg_text(&p, key);
    PGresult *r = NULL;
    ht_status st = ht__pg_run(
        s, -1,
        by == HT_GROUP_CATEGORY
            ? "SELECT name, NULL, NULL FROM categories WHERE code = $1"
            : "SELECT name, ST_Area(geom::geography, true), population FROM "
              "grids WHERE code = $1",
        &p, &r, "naming groups", err);
    if (st != HT_OK) {
        return st;
    }
    if (PQntuples(r) == 1) {
        *found = true;
        const char *nm = ht__pg_col_text(r, 0, 0);
        snprintf(out->name, sizeof out->name, "%s", nm ? nm : "");
        if (!PQgetisnull(r, 0, 1)) {
            out->area_m2 = ht__pg_col_f64(r, 0, 1);
        }
        if (!PQgetisnull(r, 0, 2)) {
            out->population = ht__pg_col_time(r, 0, 2);
        }
    }
    PQclear(r);
    return HT_OK;
}

typedef struct topic_walk {
    ht_store_topic_fn fn;
    void *ud;
} topic_walk;

static ht_status topic_row(PGresult *r, int row, void *ud, ht_error *err) {
    topic_walk *w = ud;
    const char *area = ht__pg_col_text(r, row, 1);
    ht_store_topic t = {.category = ht__pg_col_text(r, row, 0),
                        .area = area ? area : "-",
                        .count = ht__pg_col_time(r, row, 2),
                        .prev = ht__pg_col_time(r, row, 3),
                        .category_name = ht__pg_col_text(r, row, 4),
                        .area_name = ht__pg_col_text(r, row, 5)};
    return w->fn(&t, w->ud, err);
}

ht_status ht__pg_topic_counts(ht_store *s, ht_group by, const char *within,
                              int64_t before, int64_t start, int64_t next,
                              int64_t min_count, ht_store_topic_fn fn, void *ud,
                              ht_error *err) {
    ht_status st = fresh_tree(s, err);
    if (st != HT_OK) {
        return st;
    }
    char sql[1600];
    snprintf(sql, sizeof sql,
             "SELECT t.category, t.area, t.now, t.prev,"
             " (SELECT name FROM categories WHERE code = t.category),"
             " (SELECT name FROM grids WHERE code = t.area) FROM ("
             "SELECT i.category, %s AS area,"
             " count(*) FILTER (WHERE i.reported_at >= $2) AS now,"
             " count(*) FILTER (WHERE i.reported_at < $2) AS prev"
             " FROM incidents i WHERE i.reported_at >= $1::bigint AND"
             " i.reported_at < $3::bigint AND ($5::text IS NULL OR"
             " i.grid_code IN (SELECT code FROM grid_tree WHERE ancestor ="
             " $5)) GROUP BY 1, 2 HAVING count(*) FILTER (WHERE"
             " i.reported_at >= $2::bigint) >= $4::bigint) t",
             group_sql(by));
    pg_params p = {0};
    ht__pg_i64(&p, before);
    ht__pg_i64(&p, start);
    ht__pg_i64(&p, next);
    ht__pg_i64(&p, min_count);
    ht__pg_text(&p, within);
    topic_walk w = {fn, ud};
    return ht__pg_walk(s, sql, &p, topic_row, &w, "topics", err);
}

static const char *const summary_sql[HT_SUMMARY_COUNT] = {
    "SELECT level, count(*), coalesce(sum(population), 0) FROM grids "
    "GROUP BY level ORDER BY CASE level WHEN 'district' THEN 0 "
    "WHEN 'street' THEN 1 WHEN 'community' THEN 2 ELSE 3 END",
    "SELECT kind, count(*), round((sum(ST_Length(geom::geography, true)) / "
    "1000.0)::numeric, 1) FROM streets GROUP BY kind ORDER BY count(*) DESC",
    "SELECT m.code, count(*), m.name FROM incidents i "
    "JOIN categories c ON c.code = i.category "
    "JOIN categories m ON m.code = coalesce(c.parent_code, c.code) "
    "GROUP BY m.code, m.name ORDER BY count(*) DESC, m.code",
    "SELECT to_char(to_timestamp(reported_at) AT TIME ZONE 'UTC', "
    "'YYYY-MM') AS m, count(*) FROM incidents GROUP BY 1 ORDER BY 1",
    "SELECT status, count(*) FROM incidents GROUP BY status ORDER BY "
    "CASE status WHEN 'reported' THEN 0 WHEN 'dispatched' THEN 1 "
    "WHEN 'handling' THEN 2 WHEN 'closed' THEN 3 ELSE 4 END",
    "SELECT count(*), count(grid_code), count(street_id), "
    "(SELECT count(*) FROM incident_events) FROM incidents"};

typedef struct summary_walk {
    ht_store_summary_fn fn;
    void *ud;
} summary_walk;

static ht_status summary_row(PGresult *r, int row, void *ud, ht_error *err) {
    summary_walk *w = ud;
    int n = PQnfields(r);
    const char *cols[8];
    for (int c = 0; c < n && c < 8; c++) {
        cols[c] = ht__pg_col_text(r, row, c);
    }
    return w->fn(cols, n < 8 ? n : 8, w->ud, err);
}

ht_status ht__pg_summary(ht_store *s, ht_summary_section which,
                         ht_store_summary_fn fn, void *ud, ht_error *err) {
    summary_walk w = {fn, ud};
    return ht__pg_walk(s, summary_sql[which], NULL, summary_row, &w, "summary",
                       err);
}

typedef struct deadline_walk {
    ht_store_deadline_fn fn;
    void *ud;
} deadline_walk;

static ht_status deadline_row(PGresult *r, int row, void *ud, ht_error *err) {
    deadline_walk *w = ud;
    return w->fn(ht__pg_col_text(r, row, 0), (int)ht__pg_col_time(r, row, 1),
                 ht__pg_col_time(r, row, 2), ht__pg_col_time(r, row, 3), w->ud,
                 err);
}

ht_status ht__pg_each_deadline(ht_store *s, ht_store_deadline_fn fn, void *ud,
                               ht_error *err) {
    deadline_walk w = {fn, ud};
    return ht__pg_walk(s,
                       "SELECT category, severity, response_s, resolution_s "
                       "FROM deadlines",
                       NULL, deadline_row, &w, "reading deadlines", err);
}

typedef struct name_walk {
    ht_store_name_fn fn;
    void *ud;
} name_walk;

static ht_status name_row(PGresult *r, int row, void *ud, ht_error *err) {
    name_walk *w = ud;
    return w->fn(ht__pg_col_text(r, row, 0), w->ud, err);
}

ht_status ht__pg_each_department(ht_store *s, ht_store_name_fn fn, void *ud,
                                 ht_error *err) {
    name_walk w = {fn, ud};
    return ht__pg_walk(s,
                       "SELECT DISTINCT department FROM incidents WHERE "
                       "department IS NOT NULL",
                       NULL, name_row, &w, "reading departments", err);
}
