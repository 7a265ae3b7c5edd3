/* SPDX-License-Identifier: Apache-2.0 */
/* The store's writes: categories, grids (and their tree), streets,
 * incidents and their life-cycle steps, re-location. Each runs inside the
 * caller's transaction; on error the caller rolls it back. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hutong/datetime.h"
#include "hutong/store.h"

#include "store_int.h"
#include "store_pg.h"

ht_status ht_store_put_category(ht_store *s, const ht_category_rec *rec,
                                ht_put_result *res, ht_error *err) {
    if (!rec->code || !*rec->code || !rec->name || !*rec->name ||
        !rec->dictionary || !*rec->dictionary) {
        return ht_error_set(err, HT_EINVAL,
                            "a category needs a code, a name and a "
                            "dictionary");
    }
    if (s->pg) {
        return ht__pg_put_category(s, rec, res, err);
    }
    sqlite3_stmt *q = s->stmt[ST_CAT_SELECT];
    ht__store_bind_text(q, 1, rec->code);
    int rc = sqlite3_step(q);
    bool exists = rc == SQLITE_ROW;
    bool same = exists && ht__store_col_text_eq(q, 0, rec->parent_code) &&
                ht__store_col_text_eq(q, 1, rec->name) &&
                ht__store_col_text_eq(q, 2, rec->color) &&
                ht__store_col_text_eq(q, 3, rec->dictionary);
    sqlite3_reset(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        return ht__store_dberr(s, "reading categories", err);
    }
    if (same) {
        *res = HT_PUT_UNCHANGED;
        return HT_OK;
    }
    q = s->stmt[exists ? ST_CAT_UPDATE : ST_CAT_INSERT];
    ht__store_bind_text(q, 1, rec->code);
    ht__store_bind_text(q, 2, rec->parent_code);
    ht__store_bind_text(q, 3, rec->name);
    ht__store_bind_text(q, 4, rec->color);
    ht__store_bind_text(q, 5, rec->dictionary);
    *res = exists ? HT_PUT_UPDATED : HT_PUT_INSERTED;
    s->deadlines_stale = true;
    return ht__store_step_done(s, q, "writing a category", err);
}

ht_status ht_store_put_rule(ht_store *s, const ht_rule_rec *rec,
                            ht_put_result *res, ht_error *err) {
    if (!rec->category || !*rec->category) {
        return ht_error_set(err, HT_EINVAL, "a rule needs a category");
    }
    if (rec->severity < 0 || rec->severity > 3) {
        return ht_error_set(err, HT_EINVAL, "severity %d outside 0..3 (0: any)",
                            rec->severity);
    }
    if (!(rec->response_h > 0) || !(rec->resolution_h >= rec->response_h) ||
        rec->resolution_h > 24 * 366) {
        return ht_error_set(err, HT_EINVAL,
                            "deadlines %g h and %g h: the response deadline "
                            "must be above 0 and at most the resolution "
                            "deadline (at most a year)",
                            rec->response_h, rec->resolution_h);
    }
    if (s->pg) {
        return ht__pg_put_rule(s, rec, res, err);
    }
    sqlite3_stmt *q = s->stmt[ST_RULE_SELECT];
    ht__store_bind_text(q, 1, rec->category);
    sqlite3_bind_int(q, 2, rec->severity);
    int rc = sqlite3_step(q);
    bool exists = rc == SQLITE_ROW;
    bool same = exists && sqlite3_column_double(q, 0) == rec->response_h &&
                sqlite3_column_double(q, 1) == rec->resolution_h;
    sqlite3_reset(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        return ht__store_dberr(s, "reading rules", err);
    }
    if (same) {
        *res = HT_PUT_UNCHANGED;
        return HT_OK;
    }
    q = s->stmt[ST_RULE_PUT];
    ht__store_bind_text(q, 1, rec->category);
    sqlite3_bind_int(q, 2, rec->severity);
    sqlite3_bind_double(q, 3, rec->response_h);
    sqlite3_bind_double(q, 4, rec->resolution_h);
    ht_status st = ht__store_step_done(s, q, "writing a rule", err);
    if (st != HT_OK) {
        return st;
    }
    *res = exists ? HT_PUT_UPDATED : HT_PUT_INSERTED;
    s->deadlines_stale = true;
    return HT_OK;
}

static ht_status wkb_of(ht_store *s, const ht_geom *g, ht_geom_type as,
                        ht_error *err) {
    ht_geom tmp = *g;
    tmp.type = as;
    ht_buf_clear(s->wkb);
    return ht_geom_to_wkb(&tmp, s->wkb, err);
}

ht_status ht_store_put_grid(ht_store *s, const ht_grid_rec *rec,
                            ht_put_result *res, ht_bbox *old_bbox,
                            ht_error *err) {
    if (old_bbox) {
        *old_bbox = ht_bbox_empty();
    }
    if (!rec->code || !*rec->code) {
        return ht_error_set(err, HT_EINVAL, "a grid needs a code");
    }
    ht_status st = wkb_of(s, rec->geom, HT_GEOM_MULTIPOLYGON, err);
    if (st != HT_OK) {
        return st;
    }
    if (s->pg) {
        return ht__pg_put_grid(s, rec, res, old_bbox, err);
    }
    const char *level = ht_model_level_name(rec->level);
    sqlite3_stmt *q = s->stmt[ST_GRID_SELECT];
    ht__store_bind_text(q, 1, rec->code);
    int rc = sqlite3_step(q);
    bool exists = rc == SQLITE_ROW;
    /* A grid given without a parent keeps the one it has (the importer
     * links it again by containment). */
    bool same =
        exists &&
        (!rec->parent_code || ht__store_col_text_eq(q, 0, rec->parent_code)) &&
        ht__store_col_text_eq(q, 1, level) &&
        ht__store_col_text_eq(q, 2, rec->name) &&
        ht__store_col_time(q, 3) ==
            (rec->population < 0 ? HT_TIME_NONE : rec->population) &&
        ht__store_col_text_eq(q, 4, rec->responsible) &&
        ht__store_col_time(q, 5) == rec->valid_from &&
        ht__store_col_time(q, 6) == rec->valid_to &&
        ht__store_col_blob_eq(q, 7, s->wkb);
    if (exists && old_bbox) {
        *old_bbox = ht__store_col_bbox(q, 8);
    }
    sqlite3_reset(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        return ht__store_dberr(s, "reading grids", err);
    }
    if (same) {
        *res = HT_PUT_UNCHANGED;
        return HT_OK;
    }
    q = s->stmt[exists ? ST_GRID_UPDATE : ST_GRID_INSERT];
    ht__store_bind_text(q, 1, rec->code);
    ht__store_bind_text(q, 2, rec->parent_code);
    ht__store_bind_text(q, 3, level);
    ht__store_bind_text(q, 4, rec->name);
    ht__store_bind_time(q, 5,
                        rec->population < 0 ? HT_TIME_NONE : rec->population);
    ht__store_bind_text(q, 6, rec->responsible);
    ht__store_bind_time(q, 7, rec->valid_from);
    ht__store_bind_time(q, 8, rec->valid_to);
    sqlite3_bind_blob(q, 9, s->wkb->data, (int)s->wkb->len, SQLITE_STATIC);
    *res = exists ? HT_PUT_UPDATED : HT_PUT_INSERTED;
    s->tree_stale = true;
    return ht__store_step_done(s, q, "writing a grid", err);
}

ht_status ht_store_set_grid_parent(ht_store *s, const char *code,
                                   const char *parent_code, bool *changed,
                                   ht_error *err) {
    if (s->pg) {
        return ht__pg_set_grid_parent(s, code, parent_code, changed, err);
    }
    sqlite3_stmt *q = s->stmt[ST_GRID_SET_PARENT];
    ht__store_bind_text(q, 1, code);
    ht__store_bind_text(q, 2, parent_code);
    ht_status st =
        ht__store_step_done(s, q, "linking a grid to its parent", err);
    *changed = st == HT_OK && sqlite3_changes(s->db) > 0;
    s->tree_stale = s->tree_stale || *changed;
    return st;
}

ht_status ht_store_category_orphan(ht_store *s, char code[64], ht_error *err) {
    if (s->pg) {
        return ht__pg_category_orphan(s, code, err);
    }
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT code FROM categories WHERE parent_code "
                           "IS NOT NULL AND parent_code NOT IN (SELECT code "
                           "FROM categories) ORDER BY code LIMIT 1",
                           -1, &q, NULL) != SQLITE_OK) {
        return ht__store_dberr(s, "checking categories", err);
    }
    int rc = sqlite3_step(q);
    ht_status st = HT_OK;
    if (rc == SQLITE_ROW) {
        snprintf(code, 64, "%s", (const char *)sqlite3_column_text(q, 0));
        st = ht_error_set(err, HT_EINVAL,
                          "category \"%s\" has an unknown "
                          "parent",
                          code);
    } else if (rc != SQLITE_DONE) {
        st = ht__store_dberr(s, "checking categories", err);
    }
    sqlite3_finalize(q);
    return st;
}

ht_status ht_store_put_street(ht_store *s, const ht_street_rec *rec,
                              ht_put_result *res, int64_t *id,
                              ht_bbox *old_bbox, ht_error *err) {
    if (old_bbox) {
        *old_bbox = ht_bbox_empty();
    }
    ht_status st = wkb_of(s, rec->geom, HT_GEOM_LINESTRING, err);
    if (st != HT_OK) {
        return st;
    }
    if (s->pg) {
        return ht__pg_put_street(s, rec, res, id, old_bbox, err);
    }
    const char *kind = ht_model_kind_name(rec->kind);
    bool exists = false, same = false;
    int64_t old_id = 0;
    if (rec->source_id) {
        sqlite3_stmt *q = s->stmt[ST_STREET_SELECT];
        ht__store_bind_text(q, 1, rec->source_id);
        int rc = sqlite3_step(q);
        exists = rc == SQLITE_ROW;
        if (exists) {
            old_id = sqlite3_column_int64(q, 0);
            same = ht__store_col_text_eq(q, 1, rec->name) &&
                   ht__store_col_text_eq(q, 2, kind) &&
                   ht__store_col_blob_eq(q, 3, s->wkb);
            if (old_bbox) {
                *old_bbox = ht__store_col_bbox(q, 4);
            }
        }
        sqlite3_reset(q);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
            return ht__store_dberr(s, "reading streets", err);
        }
    }
    if (same) {
        *res = HT_PUT_UNCHANGED;
        *id = old_id;
        return HT_OK;
    }
    sqlite3_stmt *q = s->stmt[exists ? ST_STREET_UPDATE : ST_STREET_INSERT];
    if (exists) {
        sqlite3_bind_int64(q, 1, old_id);
    } else {
        ht__store_bind_text(q, 1, rec->source_id);
    }
    ht__store_bind_text(q, 2, rec->name);
    ht__store_bind_text(q, 3, kind);
    sqlite3_bind_blob(q, 4, s->wkb->data, (int)s->wkb->len, SQLITE_STATIC);
    st = ht__store_step_done(s, q, "writing a street", err);
    if (st == HT_OK) {
        *res = exists ? HT_PUT_UPDATED : HT_PUT_INSERTED;
        *id = exists ? old_id : sqlite3_last_insert_rowid(s->db);
    }
    return st;
}

ht_status ht_store_put_event_pending(ht_store *s, const char *external_id,
                                     ht_state state, int64_t at,
                                     const char *department, ht_error *err) {
    if (!s->pg || !s->pg->bulk || !external_id) {
        return ht_error_set(err, HT_EINVAL,
                            "an event by external id needs a bulk load on "
                            "PostgreSQL that holds its incident back");
    }
    return ht__pg_bulk_put_event(s, external_id, state, at, department, err);
}

bool ht_store_bulk_batches(const ht_store *s) {
    return s->pg != NULL;
}

ht_status ht_store_put_event(ht_store *s, int64_t incident_id, ht_state state,
                             int64_t at, const char *department,
                             ht_error *err) {
    if (s->pg) {
        return ht__pg_put_event(s, incident_id, state, at, department, err);
    }
    sqlite3_stmt *q = s->stmt[ST_EVENT_INSERT];
    sqlite3_bind_int64(q, 1, incident_id);
    ht__store_bind_text(q, 2, ht_model_state_name(state));
    sqlite3_bind_int64(q, 3, at);
    ht__store_bind_text(q, 4, department);
    ht_status st = ht__store_step_done(s, q, "writing an event", err);
    if (st != HT_OK ||
        (state != HT_STATE_DISPATCHED && state != HT_STATE_HANDLING)) {
        return st;
    }
    if (state == HT_STATE_HANDLING) {
        /* The department's first report from the scene. */
        q = s->stmt[ST_INC_HANDLING];
        sqlite3_bind_int64(q, 1, incident_id);
        sqlite3_bind_int64(q, 2, at);
        return ht__store_step_done(s, q, "writing an event", err);
    }
    /* The first dispatch is when the incident was answered, and to whom. */
    q = s->stmt[ST_INC_DISPATCH];
    sqlite3_bind_int64(q, 1, incident_id);
    sqlite3_bind_int64(q, 2, at);
    ht__store_bind_text(q, 3, department);
    return ht__store_step_done(s, q, "writing an event", err);
}

ht_status ht_store_step_incident(ht_store *s, int64_t id, ht_state to,
                                 int64_t at, const char *department,
                                 ht_error *err) {
    if (s->pg) {
        return ht__pg_step_incident(s, id, to, at, department, err);
    }
    sqlite3_stmt *q = s->stmt[ST_INC_STEP];
    sqlite3_bind_int64(q, 1, id);
    ht__store_bind_text(q, 2, ht_model_state_name(to));
    sqlite3_bind_int(q, 3, to >= HT_STATE_CLOSED);
    sqlite3_bind_int64(q, 4, at);
    ht__store_bind_text(q, 5, department);
    ht_status st = ht__store_step_done(s, q, "a life-cycle step", err);
    if (st == HT_OK && sqlite3_changes(s->db) != 1) {
        return ht_error_set(err, HT_ENOTFOUND, "no incident %lld",
                            (long long)id);
    }
    if (st == HT_OK) {
        st = ht_store_put_event(s, id, to, at, department, err);
    }
    return st == HT_OK ? ht__store_changed(s, id, err) : st;
}

/* Bind ?2..?13 of ST_INC_INSERT / ST_INC_UPDATE (the same for both). */
static void bind_incident(sqlite3_stmt *q, const ht_incident_rec *rec,
                          const char *grid_code, int64_t street_id,
                          const unsigned char *blob) {
    ht__store_bind_text(q, 2, rec->category);
    sqlite3_bind_int(q, 3, rec->severity);
    ht__store_bind_text(q, 4, ht_model_source_name(rec->source));
    ht__store_bind_text(q, 5, ht_model_state_name(rec->state));
    sqlite3_bind_int64(q, 6, rec->reported_at);
    ht__store_bind_time(q, 7, rec->closed_at);
    ht__store_bind_text(q, 8, grid_code);
    ht__store_bind_time(q, 9, street_id < 0 ? HT_TIME_NONE : street_id);
    sqlite3_bind_blob(q, 10, blob, 60, SQLITE_STATIC);
    ht__store_bind_text(q, 11, ht__store_sat_text(rec->satisfaction));
    ht__store_bind_text(q, 12, ht__store_whistle_text(rec->whistle));
    sqlite3_bind_int64(q, 13, ht__store_state_time(rec));
}

int64_t ht__store_state_time(const ht_incident_rec *rec) {
    if (rec->state_at != HT_TIME_NONE) {
        return rec->state_at;
    }
    if (rec->state >= HT_STATE_CLOSED && rec->closed_at != HT_TIME_NONE) {
        return rec->closed_at;
    }
    return rec->reported_at;
}

const char *ht__store_sat_text(ht_satisfaction v) {
    return v == HT_SAT_NONE ? NULL : ht_model_satisfaction_name(v);
}

const char *ht__store_whistle_text(ht_whistle v) {
    return v == HT_WHISTLE_NONE ? NULL : ht_model_whistle_name(v);
}

ht_status ht__store_bulk_remember(ht_store *s, int64_t id, double x, double y,
                                  ht_error *err) {
    ht_status st = ht_array_grow((void **)&s->bulk_pts, &s->cap_bulk_pts,
                                 s->nbulk_pts + 1, sizeof *s->bulk_pts, err);
    if (st != HT_OK) {
        return st;
    }
    s->bulk_pts[s->nbulk_pts++] = (struct bulk_point){0, id, x, y};
    return HT_OK;
}

ht_status ht_store_put_incident(ht_store *s, const ht_incident_rec *rec,
                                const char *grid_code, int64_t street_id,
                                ht_put_result *res, int64_t *id,
                                ht_error *err) {
    if (rec->severity < 1 || rec->severity > 3) {
        return ht_error_set(err, HT_EINVAL, "severity %d outside 1..3",
                            rec->severity);
    }
    if (s->pg) {
        return ht__pg_put_incident(s, rec, grid_code, street_id, res, id, err);
    }
    unsigned char blob[60];
    ht__store_point_blob(blob, rec->lon, rec->lat);
    /* Most rows of an import are new: try the insert first; the unique
     * index on external_id tells whether the incident exists. */
    sqlite3_stmt *q = s->stmt[ST_INC_INSERT];
    ht__store_bind_text(q, 1, rec->external_id);
    bind_incident(q, rec, grid_code, street_id, blob);
    ht_status st = ht__store_step_done(s, q, "writing an incident", err);
    if (st != HT_OK) {
        return st;
    }
    if (sqlite3_changes(s->db) == 1) {
        *id = sqlite3_last_insert_rowid(s->db);
        *res = HT_PUT_INSERTED;
        st = s->bulk ? ht__store_bulk_remember(s, *id, rec->lon, rec->lat, err)
                     : HT_OK;
        return st == HT_OK ? ht__store_changed(s, *id, err) : st;
    }
    q = s->stmt[ST_INC_SELECT];
    ht__store_bind_text(q, 1, rec->external_id);
    int rc = sqlite3_step(q);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(q);
        return ht__store_dberr(s, "reading incidents", err);
    }
    int64_t old_id = sqlite3_column_int64(q, 0);
    bool state_changed =
        !ht__store_col_text_eq(q, 4, ht_model_state_name(rec->state));
    bool moved = sqlite3_column_double(q, 9) != rec->lon ||
                 sqlite3_column_double(q, 10) != rec->lat;
    bool same =
        ht__store_col_text_eq(q, 1, rec->category) &&
        sqlite3_column_int(q, 2) == rec->severity &&
        ht__store_col_text_eq(q, 3, ht_model_source_name(rec->source)) &&
        !state_changed && ht__store_col_time(q, 5) == rec->reported_at &&
        ht__store_col_time(q, 6) == rec->closed_at &&
        ht__store_col_text_eq(q, 7, grid_code) &&
        ht__store_col_time(q, 8) ==
            (street_id < 0 ? HT_TIME_NONE : street_id) &&
        ht__store_col_text_eq(q, 11, ht__store_sat_text(rec->satisfaction)) &&
        ht__store_col_text_eq(q, 12, ht__store_whistle_text(rec->whistle)) &&
        !moved;
    sqlite3_reset(q);
    *id = old_id;
    if (same) {
        *res = HT_PUT_UNCHANGED;
        return HT_OK;
    }
    q = s->stmt[ST_INC_UPDATE];
    sqlite3_bind_int64(q, 1, old_id);
    bind_incident(q, rec, grid_code, street_id, blob);
    if ((st = ht__store_step_done(s, q, "writing an incident", err)) != HT_OK) {
        return st;
    }
    *res = HT_PUT_UPDATED;
    if (s->bulk && moved &&
        (st = ht__store_bulk_remember(s, old_id, rec->lon, rec->lat, err)) !=
            HT_OK) {
        return st;
    }
    /* The life-cycle log records the changes hutong sees; a new incident's
     * first state is its own row. */
    if (state_changed) {
        st = ht_store_put_event(s, old_id, rec->state,
                                ht__store_state_time(rec), NULL, err);
    }
    return st == HT_OK ? ht__store_changed(s, old_id, err) : st;
}

typedef struct moved {
    int64_t id;
    int64_t street_id;
    char code[64];
} moved;

ht_status ht_store_relocate(ht_store *s, const ht_bbox *bbox,
                            ht_store_locate_fn fn, void *ud, size_t *changed,
                            ht_error *err) {
    *changed = 0;
    if (bbox->minx > bbox->maxx) {
        return HT_OK;
    }
    if (s->pg) {
        return ht__pg_relocate(s, bbox, fn, ud, changed, err);
    }
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(
            s->db,
            "SELECT id, X(geom), Y(geom), reported_at, grid_code, street_id "
            "FROM incidents WHERE id IN (SELECT pkid FROM "
            "idx_incidents_geom WHERE xmin <= ?3 AND xmax >= ?1 AND "
            "ymin <= ?4 AND ymax >= ?2)",
            -1, &q, NULL) != SQLITE_OK) {
        return ht__store_dberr(s, "reading incidents", err);
    }
    sqlite3_bind_double(q, 1, bbox->minx);
    sqlite3_bind_double(q, 2, bbox->miny);
    sqlite3_bind_double(q, 3, bbox->maxx);
    sqlite3_bind_double(q, 4, bbox->maxy);
    moved *list = NULL;
    size_t n = 0, cap = 0;
    ht_status st = HT_OK;
    int rc;
    /* Collect first, then update, so the scan never sees its own writes. */
    while (st == HT_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        moved m = {.id = sqlite3_column_int64(q, 0)};
        st = fn(sqlite3_column_double(q, 1), sqlite3_column_double(q, 2),
                sqlite3_column_int64(q, 3), m.code, &m.street_id, ud, err);
        if (st != HT_OK) {
            break;
        }
        const char *old = (const char *)sqlite3_column_text(q, 4);
        int64_t old_street = ht__store_col_time(q, 5);
        bool same =
            (old ? strcmp(old, m.code) == 0 : m.code[0] == '\0') &&
            old_street == (m.street_id < 0 ? HT_TIME_NONE : m.street_id);
        if (same) {
            continue;
        }
        if ((st = ht_array_grow((void **)&list, &cap, n + 1, sizeof *list,
                                err)) != HT_OK) {
            break;
        }
        list[n++] = m;
    }
    if (st == HT_OK) {
        st = ht__store_step_err(s, rc, "reading incidents", err);
    }
    sqlite3_finalize(q);
    sqlite3_stmt *u = s->stmt[ST_INC_RELOCATE];
    for (size_t i = 0; st == HT_OK && i < n; i++) {
        sqlite3_bind_int64(u, 1, list[i].id);
        ht__store_bind_text(u, 2, list[i].code[0] ? list[i].code : NULL);
        ht__store_bind_time(
            u, 3, list[i].street_id < 0 ? HT_TIME_NONE : list[i].street_id);
        st = ht__store_step_done(s, u, "re-locating incidents", err);
        if (st == HT_OK) {
            st = ht__store_changed(s, list[i].id, err);
        }
    }
    free(list);
    if (st == HT_OK) {
        *changed = n;
    }
    return st;
}

ht_status ht__store_rebuild_tree(ht_store *s, ht_error *err) {
    /* A parent naming no grid ends the chain; a cycle ends at depth 16. */
    ht_status st = ht__store_exec(
        s,
        "DELETE FROM grid_tree;"
        "INSERT OR IGNORE INTO grid_tree (code, ancestor, level, depth) "
        "WITH RECURSIVE up(code, ancestor, depth) AS ("
        " SELECT code, code, 0 FROM grids UNION ALL"
        " SELECT up.code, g.parent_code, up.depth + 1 FROM up JOIN grids g"
        " ON g.code = up.ancestor WHERE g.parent_code IS NOT NULL AND"
        " up.depth < 16)"
        " SELECT up.code, up.ancestor, a.level, up.depth FROM up JOIN grids a"
        " ON a.code = up.ancestor;" HT__STORE_NAMES_MOVED,
        err);
    if (st != HT_OK) {
        ht_error_prefix(err, "rebuilding the grid tree: ");
    } else {
        s->tree_stale = false;
    }
    return st;
}

ht_status ht__store_rebuild_deadlines(ht_store *s, ht_error *err) {
    static const char sql[] = HT__STORE_DEADLINES_SQL
        "UPDATE incidents SET (response_due, resolution_due) = ("
        " SELECT incidents.reported_at + d.response_s,"
        "  incidents.reported_at + d.resolution_s FROM deadlines d"
        " WHERE d.category = incidents.category"
        "  AND d.severity = incidents.severity);" HT__STORE_NAMES_MOVED;
    return ht__store_exec(s, sql, err);
}

ht_status ht_store_set_satisfaction(ht_store *s, int64_t id, ht_satisfaction v,
                                    ht_error *err) {
    if (s->pg) {
        return ht__pg_set_satisfaction(s, id, v, err);
    }
    sqlite3_stmt *q = s->stmt[ST_INC_SATISFACTION];
    sqlite3_bind_int64(q, 1, id);
    ht__store_bind_text(
        q, 2, v == HT_SAT_NONE ? NULL : ht_model_satisfaction_name(v));
    ht_status st = ht__store_step_done(s, q, "writing a verdict", err);
    if (st != HT_OK) {
        return st;
    }
    if (sqlite3_changes(s->db) != 1) {
        return ht_error_set(err, HT_ENOTFOUND, "no evaluated incident %lld",
                            (long long)id);
    }
    return ht__store_changed(s, id, err);
}
