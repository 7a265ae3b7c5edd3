/* SPDX-License-Identifier: Apache-2.0 */
/* The PostgreSQL store's writes, each meaning what store_write.c's does:
 * categories and rules, grids and their tree, streets, incidents and
 * their life-cycle steps, re-location. Inside the caller's transaction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hutong/datetime.h"

#include "store_int.h"
#include "store_pg.h"

ht_status ht__pg_put_category(ht_store *s, const ht_category_rec *rec,
                              ht_put_result *res, ht_error *err) {
    pg_params p = {0};
    ht__pg_text(&p, rec->code);
    PGresult *r = NULL;
    ht_status st = ht__pg_run(s, PQ_CAT_SELECT,
                              "SELECT parent_code, name, color, dictionary "
                              "FROM categories WHERE code = $1",
                              &p, &r, "reading categories", err);
    if (st != HT_OK) {
        return st;
    }
    bool exists = PQntuples(r) == 1;
    bool same = exists && ht__pg_col_text_eq(r, 0, 0, rec->parent_code) &&
                ht__pg_col_text_eq(r, 0, 1, rec->name) &&
                ht__pg_col_text_eq(r, 0, 2, rec->color) &&
                ht__pg_col_text_eq(r, 0, 3, rec->dictionary);
    PQclear(r);
    if (same) {
        *res = HT_PUT_UNCHANGED;
        return HT_OK;
    }
    ht__pg_text(&p, rec->parent_code);
    ht__pg_text(&p, rec->name);
    ht__pg_text(&p, rec->color);
    ht__pg_text(&p, rec->dictionary);
    st = ht__pg_run(s, exists ? PQ_CAT_UPDATE : PQ_CAT_INSERT,
                    exists ? "UPDATE categories SET parent_code = $2, name = "
                             "$3, color = $4, dictionary = $5 WHERE code = $1"
                           : "INSERT INTO categories (code, parent_code, "
                             "name, color, dictionary) VALUES ($1, $2, $3, "
                             "$4, $5)",
                    &p, NULL, "writing a category", err);
    if (st == HT_OK) {
        *res = exists ? HT_PUT_UPDATED : HT_PUT_INSERTED;
        s->deadlines_stale = true;
    }
    return st;
}

ht_status ht__pg_put_rule(ht_store *s, const ht_rule_rec *rec,
                          ht_put_result *res, ht_error *err) {
    pg_params p = {0};
    ht__pg_text(&p, rec->category);
    ht__pg_i64(&p, rec->severity);
    PGresult *r = NULL;
    ht_status st = ht__pg_run(s, -1,
                              "SELECT response_h, resolution_h FROM "
                              "deadline_rules WHERE category = $1 AND "
                              "severity = $2",
                              &p, &r, "reading rules", err);
    if (st != HT_OK) {
        return st;
    }
    bool exists = PQntuples(r) == 1;
    bool same = exists && ht__pg_col_f64(r, 0, 0) == rec->response_h &&
                ht__pg_col_f64(r, 0, 1) == rec->resolution_h;
    PQclear(r);
    if (same) {
        *res = HT_PUT_UNCHANGED;
        return HT_OK;
    }
    ht__pg_f64(&p, rec->response_h);
    ht__pg_f64(&p, rec->resolution_h);
    st = ht__pg_run(s, -1,
                    "INSERT INTO deadline_rules (category, severity, "
                    "response_h, resolution_h) VALUES ($1, $2, $3, $4) ON "
                    "CONFLICT (category, severity) DO UPDATE SET response_h "
                    "= excluded.response_h, resolution_h = "
                    "excluded.resolution_h",
                    &p, NULL, "writing a rule", err);
    if (st == HT_OK) {
        *res = exists ? HT_PUT_UPDATED : HT_PUT_INSERTED;
        s->deadlines_stale = true;
    }
    return st;
}

ht_status ht__pg_set_satisfaction(ht_store *s, int64_t id, ht_satisfaction v,
                                  ht_error *err) {
    pg_params p = {0};
    ht__pg_i64(&p, id);
    ht__pg_text(&p, v == HT_SAT_NONE ? NULL : ht_model_satisfaction_name(v));
    PGresult *r = NULL;
    ht_status st = ht__pg_run(s, -1,
                              "UPDATE incidents SET satisfaction = $2 WHERE "
                              "id = $1 AND status = 'evaluated' RETURNING id",
                              &p, &r, "writing a verdict", err);
    if (st != HT_OK) {
        return st;
    }
    int n = PQntuples(r);
    PQclear(r);
    if (n != 1) {
        return ht_error_set(err, HT_ENOTFOUND, "no evaluated incident %lld",
                            (long long)id);
    }
    return ht__store_changed(s, id, err);
}

/* The grid's or street's columns of a select: the stored geometry's WKB
 * and its box. */
#define GEOM_COLS                                              \
    "ST_AsBinary(geom, 'NDR'), ST_XMin(geom), ST_YMin(geom), " \
    "ST_XMax(geom), ST_YMax(geom)"

static bool bytea_eq(PGresult *r, int row, int col, const ht_buf *want,
                     ht_buf *tmp) {
    return ht__pg_col_bytea(r, row, col, tmp, NULL) == HT_OK &&
           tmp->len == want->len &&
           memcmp(tmp->data, want->data, want->len) == 0;
}

static ht_bbox col_bbox(PGresult *r, int row, int col) {
    if (PQgetisnull(r, row, col)) {
        return ht_bbox_empty();
    }
    return (ht_bbox){
        ht__pg_col_f64(r, row, col), ht__pg_col_f64(r, row, col + 1),
        ht__pg_col_f64(r, row, col + 2), ht__pg_col_f64(r, row, col + 3)};
}

ht_status ht__pg_put_grid(ht_store *s, const ht_grid_rec *rec,
                          ht_put_result *res, ht_bbox *old_bbox,
                          ht_error *err) {
    /* s->wkb holds the grid's MULTIPOLYGON (ht_store_put_grid). */
    const char *level = ht_model_level_name(rec->level);
    pg_params p = {0};
    ht__pg_text(&p, rec->code);
    PGresult *r = NULL;
    ht_status st = ht__pg_run(s, -1,
                              "SELECT parent_code, level, name, population, "
                              "responsible, valid_from, valid_to, " GEOM_COLS
                              " FROM grids WHERE code = $1",
                              &p, &r, "reading grids", err);
    if (st != HT_OK) {
        return st;
    }
    bool exists = PQntuples(r) == 1;
    ht_buf *tmp = ht_buf_new();
    if (!tmp) {
        PQclear(r);
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    bool same =
        exists &&
        (!rec->parent_code || ht__pg_col_text_eq(r, 0, 0, rec->parent_code)) &&
        ht__pg_col_text_eq(r, 0, 1, level) &&
        ht__pg_col_text_eq(r, 0, 2, rec->name) &&
        ht__pg_col_time(r, 0, 3) ==
            (rec->population < 0 ? HT_TIME_NONE : rec->population) &&
        ht__pg_col_text_eq(r, 0, 4, rec->responsible) &&
        ht__pg_col_time(r, 0, 5) == rec->valid_from &&
        ht__pg_col_time(r, 0, 6) == rec->valid_to &&
        bytea_eq(r, 0, 7, s->wkb, tmp);
    if (exists && old_bbox) {
        *old_bbox = col_bbox(r, 0, 8);
    }
    PQclear(r);
    ht_buf_free(tmp);
    if (same) {
        *res = HT_PUT_UNCHANGED;
        return HT_OK;
    }
    ht__pg_text(&p, rec->parent_code);
    ht__pg_text(&p, level);
    ht__pg_text(&p, rec->name);
    ht__pg_time(&p, rec->population < 0 ? HT_TIME_NONE : rec->population);
    ht__pg_text(&p, rec->responsible);
    ht__pg_time(&p, rec->valid_from);
    ht__pg_time(&p, rec->valid_to);
    ht__pg_blob(&p, s->wkb->data, s->wkb->len);
    st = ht__pg_run(
        s, -1,
        exists ? "UPDATE grids SET parent_code = coalesce($2, parent_code), "
                 "level = $3, name = $4, population = $5, responsible = $6, "
                 "valid_from = $7, valid_to = $8, geom = "
                 "ST_GeomFromWKB($9, 4326) WHERE code = $1"
               : "INSERT INTO grids (code, parent_code, level, name, "
                 "population, responsible, valid_from, valid_to, geom) "
                 "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
                 "ST_GeomFromWKB($9, 4326))",
        &p, NULL, "writing a grid", err);
    if (st == HT_OK) {
        *res = exists ? HT_PUT_UPDATED : HT_PUT_INSERTED;
        s->tree_stale = true;
    }
    return st;
}

ht_status ht__pg_set_grid_parent(ht_store *s, const char *code,
                                 const char *parent_code, bool *changed,
                                 ht_error *err) {
    pg_params p = {0};
    ht__pg_text(&p, code);
    ht__pg_text(&p, parent_code);
    PGresult *r = NULL;
    ht_status st = ht__pg_run(s, -1,
                              "UPDATE grids SET parent_code = $2 WHERE code "
                              "= $1 AND parent_code IS DISTINCT FROM $2 "
                              "RETURNING code",
                              &p, &r, "linking a grid to its parent", err);
    *changed = st == HT_OK && PQntuples(r) > 0;
    PQclear(r);
    s->tree_stale = s->tree_stale || *changed;
    return st;
}

ht_status ht__pg_category_orphan(ht_store *s, char code[64], ht_error *err) {
    PGresult *r = NULL;
    ht_status st = ht__pg_run(s, -1,
                              "SELECT code FROM categories WHERE parent_code "
                              "IS NOT NULL AND parent_code NOT IN (SELECT "
                              "code FROM categories) ORDER BY code LIMIT 1",
                              NULL, &r, "checking categories", err);
    if (st != HT_OK) {
        return st;
    }
    if (PQntuples(r) == 1) {
        snprintf(code, 64, "%s", PQgetvalue(r, 0, 0));
        st = ht_error_set(err, HT_EINVAL,
                          "category \"%s\" has an unknown parent", code);
    }
    PQclear(r);
    return st;
}

ht_status ht__pg_put_street(ht_store *s, const ht_street_rec *rec,
                            ht_put_result *res, int64_t *id, ht_bbox *old_bbox,
                            ht_error *err) {
    /* s->wkb holds the street's LINESTRING (ht_store_put_street). */
    const char *kind = ht_model_kind_name(rec->kind);
    bool exists = false, same = false;
    int64_t old_id = 0;
    ht_status st = HT_OK;
    if (rec->source_id) {
        pg_params p = {0};
        ht__pg_text(&p, rec->source_id);
        PGresult *r = NULL;
        st = ht__pg_run(s, -1,
                        "SELECT id, name, kind, " GEOM_COLS
                        " FROM streets WHERE source_id = $1",
                        &p, &r, "reading streets", err);
        if (st != HT_OK) {
            return st;
        }
        exists = PQntuples(r) == 1;
        if (exists) {
            ht_buf *tmp = ht_buf_new();
            old_id = ht__pg_col_time(r, 0, 0);
            same = tmp && ht__pg_col_text_eq(r, 0, 1, rec->name) &&
                   ht__pg_col_text_eq(r, 0, 2, kind) &&
                   bytea_eq(r, 0, 3, s->wkb, tmp);
            ht_buf_free(tmp);
            if (old_bbox) {
                *old_bbox = col_bbox(r, 0, 4);
            }
        }
        PQclear(r);
    }
    if (same) {
        *res = HT_PUT_UNCHANGED;
        *id = old_id;
        return HT_OK;
    }
    pg_params p = {0};
    if (exists) {
        ht__pg_i64(&p, old_id);
    } else {
        ht__pg_text(&p, rec->source_id);
    }
    ht__pg_text(&p, rec->name);
    ht__pg_text(&p, kind);
    ht__pg_blob(&p, s->wkb->data, s->wkb->len);
    PGresult *r = NULL;
    st = ht__pg_run(s, -1,
                    exists ? "UPDATE streets SET name = $2, kind = $3, geom = "
                             "ST_GeomFromWKB($4, 4326) WHERE id = $1 "
                             "RETURNING id"
                           : "INSERT INTO streets (source_id, name, kind, "
                             "geom) VALUES ($1, $2, $3, "
                             "ST_GeomFromWKB($4, 4326)) RETURNING id",
                    &p, &r, "writing a street", err);
    if (st == HT_OK) {
        *res = exists ? HT_PUT_UPDATED : HT_PUT_INSERTED;
        *id = PQntuples(r) == 1 ? ht__pg_col_time(r, 0, 0) : old_id;
        PQclear(r);
    }
    return st;
}

ht_status ht__pg_put_event(ht_store *s, int64_t incident_id, ht_state state,
                           int64_t at, const char *department, ht_error *err) {
    pg_params p = {0};
    ht__pg_i64(&p, incident_id);
    ht__pg_text(&p, ht_model_state_name(state));
    ht__pg_i64(&p, at);
    ht__pg_text(&p, department);
    ht_status st = ht__pg_run(s, PQ_EVENT_INSERT,
                              "INSERT INTO incident_events (incident_id, "
                              "status, at, department) VALUES ($1, $2, $3, "
                              "$4)",
                              &p, NULL, "writing an event", err);
    if (st != HT_OK ||
        (state != HT_STATE_DISPATCHED && state != HT_STATE_HANDLING)) {
        return st;
    }
    pg_params q = {0};
    ht__pg_i64(&q, incident_id);
    ht__pg_i64(&q, at);
    if (state == HT_STATE_HANDLING) {
        return ht__pg_run(s, PQ_INC_HANDLING,
                          "UPDATE incidents SET handling_at = "
                          "least(coalesce(handling_at, $2), $2) WHERE id = $1",
                          &q, NULL, "writing an event", err);
    }
    ht__pg_text(&q, department);
    return ht__pg_run(s, PQ_INC_DISPATCH,
                      "UPDATE incidents SET dispatched_at = "
                      "least(coalesce(dispatched_at, $2), $2), department = "
                      "coalesce($3, department) WHERE id = $1",
                      &q, NULL, "writing an event", err);
}

ht_status ht__pg_step_incident(ht_store *s, int64_t id, ht_state to, int64_t at,
                               const char *department, ht_error *err) {
    pg_params p = {0};
    ht__pg_i64(&p, id);
    ht__pg_text(&p, ht_model_state_name(to));
    ht__pg_text(&p, to >= HT_STATE_CLOSED ? "t" : "f");
    ht__pg_i64(&p, at);
    ht__pg_text(&p, department);
    PGresult *r = NULL;
    ht_status st = ht__pg_run(
        s, PQ_INC_STEP,
        "UPDATE incidents SET status = $2, closed_at = CASE WHEN $3::boolean "
        "THEN coalesce(closed_at, $4) ELSE closed_at END, dispatched_at = "
        "CASE WHEN $2 = 'reported' THEN dispatched_at ELSE "
        "coalesce(dispatched_at, $4) END, department = coalesce($5, "
        "department) WHERE id = $1 RETURNING id",
        &p, &r, "a life-cycle step", err);
    if (st != HT_OK) {
        return st;
    }
    int n = PQntuples(r);
    PQclear(r);
    if (n != 1) {
        return ht_error_set(err, HT_ENOTFOUND, "no incident %lld",
                            (long long)id);
    }
    st = ht__pg_put_event(s, id, to, at, department, err);
    return st == HT_OK ? ht__store_changed(s, id, err) : st;
}

/* $2..$14 of the insert and the update (the same for both). */
static void incident_params(pg_params *p, const ht_incident_rec *rec,
                            const char *grid_code, int64_t street_id) {
    ht__pg_text(p, rec->category);
    ht__pg_i64(p, rec->severity);
    ht__pg_text(p, ht_model_source_name(rec->source));
    ht__pg_text(p, ht_model_state_name(rec->state));
    ht__pg_i64(p, rec->reported_at);
    ht__pg_time(p, rec->closed_at);
    ht__pg_text(p, grid_code);
    ht__pg_time(p, street_id < 0 ? HT_TIME_NONE : street_id);
    ht__pg_f64(p, rec->lon);
    ht__pg_f64(p, rec->lat);
    ht__pg_text(p, ht__store_sat_text(rec->satisfaction));
    ht__pg_text(p, ht__store_whistle_text(rec->whistle));
    ht__pg_i64(p, ht__store_state_time(rec));
}

#define PG_DUE_SQL                                                    \
    "$6 + (SELECT response_s FROM deadlines WHERE category = $2 AND " \
    "severity = $3), $6 + (SELECT resolution_s FROM deadlines WHERE " \
    "category = $2 AND severity = $3)"

ht_status ht__pg_put_incident(ht_store *s, const ht_incident_rec *rec,
                              const char *grid_code, int64_t street_id,
                              ht_put_result *res, int64_t *id, ht_error *err) {
    if (s->pg->bulk) {
        *res = HT_PUT_PENDING;
        *id = 0;
        return ht__pg_bulk_put_incident(s, rec, grid_code, street_id,
                                        ht__store_state_time(rec), err);
    }
    pg_params p = {0};
    ht__pg_text(&p, rec->external_id);
    incident_params(&p, rec, grid_code, street_id);
    PGresult *r = NULL;
    ht_status st = ht__pg_run(
        s, PQ_INC_INSERT,
        "INSERT INTO incidents (external_id, category, severity, source, "
        "status, reported_at, closed_at, grid_code, street_id, geom, "
        "satisfaction, whistle_kind, dispatched_at, response_due, "
        "resolution_due) VALUES ($1, $2, $3::integer, $4, $5, $6::bigint, "
        "$7, $8, $9, ST_SetSRID(ST_MakePoint($10, $11), 4326), $12, $13, "
        "CASE WHEN $5 = 'dispatched' THEN $14::bigint END, " PG_DUE_SQL
        ") ON CONFLICT (external_id) DO NOTHING RETURNING id",
        &p, &r, "writing an incident", err);
    if (st != HT_OK) {
        return st;
    }
    if (PQntuples(r) == 1) {
        *id = ht__pg_col_time(r, 0, 0);
        PQclear(r);
        *res = HT_PUT_INSERTED;
        return ht__store_changed(s, *id, err);
    }
    PQclear(r);
    pg_params q = {0};
    ht__pg_text(&q, rec->external_id);
    st = ht__pg_run(s, PQ_INC_SELECT,
                    "SELECT id, category, severity, source, status, "
                    "reported_at, closed_at, grid_code, street_id, "
                    "ST_X(geom), ST_Y(geom), satisfaction, whistle_kind "
                    "FROM incidents WHERE external_id = $1",
                    &q, &r, "reading incidents", err);
    if (st != HT_OK) {
        return st;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        return ht_error_set(err, HT_EDB,
                            "reading incidents: the incident "
                            "that stopped the insert is gone");
    }
    int64_t old_id = ht__pg_col_time(r, 0, 0);
    bool state_changed =
        !ht__pg_col_text_eq(r, 0, 4, ht_model_state_name(rec->state));
    bool moved = ht__pg_col_f64(r, 0, 9) != rec->lon ||
                 ht__pg_col_f64(r, 0, 10) != rec->lat;
    bool same =
        ht__pg_col_text_eq(r, 0, 1, rec->category) &&
        ht__pg_col_time(r, 0, 2) == rec->severity &&
        ht__pg_col_text_eq(r, 0, 3, ht_model_source_name(rec->source)) &&
        !state_changed && ht__pg_col_time(r, 0, 5) == rec->reported_at &&
        ht__pg_col_time(r, 0, 6) == rec->closed_at &&
        ht__pg_col_text_eq(r, 0, 7, grid_code) &&
        ht__pg_col_time(r, 0, 8) ==
            (street_id < 0 ? HT_TIME_NONE : street_id) &&
        ht__pg_col_text_eq(r, 0, 11, ht__store_sat_text(rec->satisfaction)) &&
        ht__pg_col_text_eq(r, 0, 12, ht__store_whistle_text(rec->whistle)) &&
        !moved;
    PQclear(r);
    *id = old_id;
    if (same) {
        *res = HT_PUT_UNCHANGED;
        return HT_OK;
    }
    pg_params u = {0};
    ht__pg_i64(&u, old_id);
    incident_params(&u, rec, grid_code, street_id);
    st = ht__pg_run(
        s, PQ_INC_UPDATE,
        "UPDATE incidents SET category = $2, severity = $3::integer, source "
        "= $4, status = $5, reported_at = $6::bigint, closed_at = $7, "
        "grid_code = $8, street_id = $9, geom = "
        "ST_SetSRID(ST_MakePoint($10, $11), 4326), satisfaction = $12, "
        "whistle_kind = $13, dispatched_at = CASE WHEN $5 = 'reported' THEN "
        "NULL WHEN $5 = 'dispatched' THEN least(coalesce(dispatched_at, "
        "$14::bigint), $14::bigint) ELSE dispatched_at END, (response_due, "
        "resolution_due) = (SELECT " PG_DUE_SQL ") WHERE id = $1",
        &u, NULL, "writing an incident", err);
    if (st != HT_OK) {
        return st;
    }
    *res = HT_PUT_UPDATED;
    if (state_changed) {
        st = ht__pg_put_event(s, old_id, rec->state, ht__store_state_time(rec),
                              NULL, err);
    }
    return st == HT_OK ? ht__store_changed(s, old_id, err) : st;
}

typedef struct moved {
    int64_t id;
    int64_t street_id;
    char code[64];
} moved;

typedef struct relocate_walk {
    ht_store_locate_fn fn;
    void *ud;
    moved *list;
    size_t n, cap;
} relocate_walk;

static ht_status relocate_row(PGresult *r, int row, void *ud, ht_error *err) {
    relocate_walk *w = ud;
    moved m = {.id = ht__pg_col_time(r, row, 0)};
    ht_status st =
        w->fn(ht__pg_col_f64(r, row, 1), ht__pg_col_f64(r, row, 2),
              ht__pg_col_time(r, row, 3), m.code, &m.street_id, w->ud, err);
    if (st != HT_OK) {
        return st;
    }
    const char *old = ht__pg_col_text(r, row, 4);
    int64_t old_street = ht__pg_col_time(r, row, 5);
    bool same = (old ? strcmp(old, m.code) == 0 : m.code[0] == '\0') &&
                old_street == (m.street_id < 0 ? HT_TIME_NONE : m.street_id);
    if (same) {
        return HT_OK;
    }
    st = ht_array_grow((void **)&w->list, &w->cap, w->n + 1, sizeof *w->list,
                       err);
    if (st == HT_OK) {
        w->list[w->n++] = m;
    }
    return st;
}

ht_status ht__pg_relocate(ht_store *s, const ht_bbox *bbox,
                          ht_store_locate_fn fn, void *ud, size_t *changed,
                          ht_error *err) {
    pg_params p = {0};
    ht__pg_f64(&p, bbox->minx);
    ht__pg_f64(&p, bbox->miny);
    ht__pg_f64(&p, bbox->maxx);
    ht__pg_f64(&p, bbox->maxy);
    relocate_walk w = {.fn = fn, .ud = ud};
    /* Collect first, then update, so the scan never sees its own writes. */
    ht_status st = ht__pg_walk(
        s,
        "SELECT id, ST_X(geom), ST_Y(geom), reported_at, grid_code, "
        "street_id FROM incidents WHERE geom && ST_MakeEnvelope($1, $2, $3, "
        "$4, 4326)",
        &p, relocate_row, &w, "reading incidents", err);
    for (size_t i = 0; st == HT_OK && i < w.n; i++) {
        pg_params u = {0};
        ht__pg_i64(&u, w.list[i].id);
        ht__pg_text(&u, w.list[i].code[0] ? w.list[i].code : NULL);
        ht__pg_time(
            &u, w.list[i].street_id < 0 ? HT_TIME_NONE : w.list[i].street_id);
        st = ht__pg_run(s, PQ_INC_RELOCATE,
                        "UPDATE incidents SET grid_code = $2, street_id = $3 "
                        "WHERE id = $1",
                        &u, NULL, "re-locating incidents", err);
        if (st == HT_OK) {
            st = ht__store_changed(s, w.list[i].id, err);
        }
    }
    if (st == HT_OK) {
        *changed = w.n;
    }
    free(w.list);
    return st;
}
