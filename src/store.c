/* SPDX-License-Identifier: Apache-2.0 */
/* The SpatiaLite store: the connection, schema and migrations,
 * transactions and bulk loads, and the helpers of store_write.c and
 * store_read.c. */
#include "hutong/store.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hutong/buf.h"
#include "hutong/datetime.h"

#include "store_int.h"
#include "store_pg.h"

/* SpatiaLite's header needs sqlite3.h before it. */
/* clang-format off */
#include <sqlite3.h>
#include <spatialite.h>
/* clang-format on */

const char *const ht__store_stmt_sql[ST_COUNT] = {
    [ST_CAT_SELECT] =
        "SELECT parent_code, name, color, dictionary "
        "FROM categories WHERE code = ?1",
    [ST_CAT_INSERT] =
        "INSERT INTO categories (code, parent_code, name, "
        "color, dictionary) VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_CAT_UPDATE] =
        "UPDATE categories SET parent_code = ?2, name = ?3, "
        "color = ?4, dictionary = ?5 WHERE code = ?1",
    [ST_GRID_SELECT] =
        "SELECT parent_code, level, name, population, responsible, "
        "valid_from, valid_to, AsBinary(geom), MbrMinX(geom), "
        "MbrMinY(geom), MbrMaxX(geom), MbrMaxY(geom) FROM grids "
        "WHERE code = ?1",
    [ST_GRID_INSERT] =
        "INSERT INTO grids (code, parent_code, level, name, population, "
        "responsible, valid_from, valid_to, geom) VALUES (?1, ?2, ?3, ?4, "
        "?5, ?6, ?7, ?8, GeomFromWKB(?9, 4326))",
    [ST_GRID_UPDATE] =
        "UPDATE grids SET parent_code = coalesce(?2, parent_code), level = ?3, "
        "name = ?4, "
        "population = ?5, responsible = ?6, valid_from = ?7, valid_to = ?8, "
        "geom = GeomFromWKB(?9, 4326) WHERE code = ?1",
    [ST_STREET_SELECT] =
        "SELECT id, name, kind, AsBinary(geom), MbrMinX(geom), "
        "MbrMinY(geom), MbrMaxX(geom), MbrMaxY(geom) FROM streets "
        "WHERE source_id = ?1",
    [ST_STREET_INSERT] =
        "INSERT INTO streets (source_id, name, kind, geom) "
        "VALUES (?1, ?2, ?3, GeomFromWKB(?4, 4326))",
    [ST_STREET_UPDATE] =
        "UPDATE streets SET name = ?2, kind = ?3, "
        "geom = GeomFromWKB(?4, 4326) WHERE id = ?1",
    [ST_INC_SELECT] =
        "SELECT id, category, severity, source, status, reported_at, "
        "closed_at, grid_code, street_id, X(geom), Y(geom), satisfaction, "
        "whistle_kind FROM incidents WHERE external_id = ?1",
    [ST_INC_INSERT] =
        "INSERT INTO incidents (external_id, category, severity, source, "
        "status, reported_at, closed_at, grid_code, street_id, geom, "
        "satisfaction, whistle_kind, dispatched_at, response_due, "
        "resolution_due) VALUES "
        "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "
        "CASE WHEN ?5 = 'dispatched' THEN ?13 END, " HT__STORE_DUE_SQL
        ") ON CONFLICT (external_id) DO NOTHING",
    [ST_INC_UPDATE] =
        "UPDATE incidents SET category = ?2, severity = ?3, source = ?4, "
        "status = ?5, reported_at = ?6, closed_at = ?7, grid_code = ?8, "
        "street_id = ?9, geom = ?10, satisfaction = ?11, whistle_kind = ?12, "
        "dispatched_at = CASE WHEN ?5 = 'reported' THEN NULL "
        "WHEN ?5 = 'dispatched' THEN min(coalesce(dispatched_at, ?13), ?13) "
        "ELSE dispatched_at END, "
        "(response_due, resolution_due) = (SELECT " HT__STORE_DUE_SQL
        ") WHERE id = ?1",
    [ST_EVENT_INSERT] =
        "INSERT INTO incident_events (incident_id, status, "
        "at, department) VALUES (?1, ?2, ?3, ?4)",
    [ST_INC_RELOCATE] =
        "UPDATE incidents SET grid_code = ?2, street_id = ?3 "
        "WHERE id = ?1",
    [ST_INC_INDEX] =
        "INSERT OR REPLACE INTO idx_incidents_geom (pkid, xmin, "
        "xmax, ymin, ymax) VALUES (?1, ?2, ?2, ?3, ?3)",
    [ST_INC_HEAD_EXT] =
        "SELECT i.id, i.status, i.reported_at, i.closed_at, i.grid_code, "
        "(SELECT max(at) FROM incident_events e WHERE e.incident_id = i.id) "
        "FROM incidents i WHERE i.external_id = ?1",
    [ST_INC_HEAD_ID] =
        "SELECT i.id, i.status, i.reported_at, i.closed_at, i.grid_code, "
        "(SELECT max(at) FROM incident_events e WHERE e.incident_id = i.id) "
        "FROM incidents i WHERE i.id = ?1",
    [ST_INC_STEP] =
        "UPDATE incidents SET status = ?2, closed_at = CASE WHEN ?3 THEN "
        "coalesce(closed_at, ?4) ELSE closed_at END, "
        "dispatched_at = CASE WHEN ?2 = 'reported' THEN dispatched_at "
        "ELSE coalesce(dispatched_at, ?4) END, "
        "department = coalesce(?5, department) WHERE id = ?1",
    [ST_GRID_PARENT] = "SELECT parent_code FROM grids WHERE code = ?1",
    [ST_GRID_WITHIN] =
        "SELECT 1 FROM grid_tree WHERE code = ?1 AND ancestor = ?2",
    [ST_INC_ROW] = HT__STORE_INCIDENT_ROW_SQL " WHERE i.id = ?1",
    [ST_CAT_NAME] = "SELECT name, NULL, NULL FROM categories WHERE code = ?1",
    [ST_GRID_INFO] =
        "SELECT name, Area(geom, 1), population FROM grids WHERE code = ?1",
    [ST_INC_DISPATCH] =
        "UPDATE incidents SET dispatched_at = min(coalesce(dispatched_at, ?2), "
        "?2), department = coalesce(?3, department) WHERE id = ?1",
    [ST_INC_HANDLING] =
        "UPDATE incidents SET handling_at = min(coalesce(handling_at, ?2), "
        "?2) WHERE id = ?1",
    [ST_RULE_SELECT] =
        "SELECT response_h, resolution_h FROM deadline_rules WHERE "
        "category = ?1 AND severity = ?2",
    [ST_RULE_PUT] =
        "INSERT OR REPLACE INTO deadline_rules (category, severity, "
        "response_h, resolution_h) VALUES (?1, ?2, ?3, ?4)",
    [ST_INC_SATISFACTION] =
        "UPDATE incidents SET satisfaction = ?2 WHERE id = ?1 AND status = "
        "'evaluated'",
    [ST_GRID_SET_PARENT] =
        "UPDATE grids SET parent_code = ?2 WHERE code = ?1 "
        "AND parent_code IS NOT ?2",
};

bool ht_store_is_url(const char *db) {
    return ht__store_is_pg(db);
}

static void no_memstatus(void) {
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

ht_status ht__store_dberr(ht_store *s, const char *what, ht_error *err) {
    int code = sqlite3_errcode(s->db);
    ht_status st = (code == SQLITE_BUSY || code == SQLITE_LOCKED) ? HT_EBUSY
                   : code == SQLITE_CONSTRAINT                    ? HT_EINVAL
                                                                  : HT_EDB;
    return ht_error_set(err, st, "%s: %s", what, sqlite3_errmsg(s->db));
}

ht_status ht__store_exec(ht_store *s, const char *sql, ht_error *err) {
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        ht_status st = ht_error_set(err, HT_EDB, "%s", msg ? msg : "error");
        sqlite3_free(msg);
        return st;
    }
    return HT_OK;
}

/* Run a SELECT of one SpatiaLite function that returns 1 on success. */
static ht_status exec_fn(ht_store *s, const char *sql, ht_error *err) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        return ht__store_dberr(s, sql, err);
    }
    int rc = sqlite3_step(st);
    int ok = rc == SQLITE_ROW && sqlite3_column_int(st, 0) == 1;
    sqlite3_finalize(st);
    if (!ok) {
        return ht_error_set(err, HT_EDB, "%s failed: %s", sql,
                            sqlite3_errmsg(s->db));
    }
    return HT_OK;
}

static const char schema_v1[] =
    "CREATE TABLE hutong_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE categories ("
    " code TEXT PRIMARY KEY, parent_code TEXT, name TEXT NOT NULL,"
    " color TEXT, dictionary TEXT NOT NULL);"
    "CREATE INDEX categories_parent ON categories (parent_code);"
    "CREATE TABLE grids ("
    " code TEXT PRIMARY KEY, parent_code TEXT,"
    " level TEXT NOT NULL CHECK (level IN "
    "  ('district', 'street', 'community', 'grid')),"
    " name TEXT, population INTEGER CHECK (population >= 0),"
    " responsible TEXT, valid_from INTEGER, valid_to INTEGER);"
    "CREATE INDEX grids_parent ON grids (parent_code);"
    "CREATE INDEX grids_level ON grids (level);"
    "CREATE TABLE streets ("
    " id INTEGER PRIMARY KEY, source_id TEXT UNIQUE, name TEXT,"
    " kind TEXT NOT NULL CHECK (kind IN "
    "  ('road', 'street', 'hutong', 'alley', 'other')));"
    "CREATE INDEX streets_name ON streets (name);"
    "CREATE TABLE incidents ("
    " id INTEGER PRIMARY KEY, external_id TEXT UNIQUE,"
    " category TEXT NOT NULL,"
    " severity INTEGER NOT NULL CHECK (severity BETWEEN 1 AND 3),"
    " source TEXT NOT NULL CHECK (source IN "
    "  ('hotline', 'patrol', 'app', 'whistle', 'other')),"
    " status TEXT NOT NULL CHECK (status IN "
    "  ('reported', 'dispatched', 'handling', 'closed', 'evaluated')),"
    " reported_at INTEGER NOT NULL, closed_at INTEGER,"
    " grid_code TEXT, street_id INTEGER);"
    "CREATE INDEX incidents_reported ON incidents (reported_at);"
    "CREATE INDEX incidents_grid ON incidents (grid_code);"
    "CREATE INDEX incidents_street ON incidents (street_id);"
    "CREATE TABLE incident_events ("
    " id INTEGER PRIMARY KEY,"
    " incident_id INTEGER NOT NULL REFERENCES incidents (id)"
    "  ON DELETE CASCADE,"
    " status TEXT NOT NULL CHECK (status IN "
    "  ('reported', 'dispatched', 'handling', 'closed', 'evaluated')),"
    " at INTEGER NOT NULL, department TEXT);"
    "CREATE INDEX incident_events_incident ON incident_events "
    " (incident_id, at);";

/* Version 2: every grid with each of its ancestors (itself included), the
 * ancestor's level and how far up it is. Kept by the store whenever grids
 * change (rebuilt before the commit), so that "in the subtree of" and
 * "the street office of" are one join, never a recursive query. */
static const char schema_v2[] =
    "CREATE TABLE grid_tree ("
    " code TEXT NOT NULL, ancestor TEXT NOT NULL, level TEXT NOT NULL,"
    " depth INTEGER NOT NULL, PRIMARY KEY (code, ancestor)) WITHOUT ROWID;"
    "CREATE INDEX grid_tree_ancestor ON grid_tree (ancestor, code);"
    "CREATE INDEX grid_tree_level ON grid_tree (level, code);";

/* Version 3: the closed loop. Incidents gain the resident's satisfaction,
 * the kind of a whistle, when they were first dispatched (left
 * "reported") and to which department, and their two deadlines (UTC
 * seconds: reported + the rule's hours); deadline_rules holds the rules as
 * imported (per category, inherited down the dictionary, and severity, 0
 * for any), deadlines the rule every category and severity resolves to
 * (rebuilt with the rules or the dictionary), which the incidents' writes
 * read. */
static const char schema_v3[] =
    "ALTER TABLE incidents ADD COLUMN satisfaction TEXT CHECK (satisfaction "
    " IN ('satisfied', 'basic', 'unsatisfied'));"
    "ALTER TABLE incidents ADD COLUMN whistle_kind TEXT CHECK (whistle_kind "
    " IN ('daily', 'tough', 'emergency'));"
    "ALTER TABLE incidents ADD COLUMN dispatched_at INTEGER;"
    "ALTER TABLE incidents ADD COLUMN department TEXT;"
    "ALTER TABLE incidents ADD COLUMN response_due INTEGER;"
    "ALTER TABLE incidents ADD COLUMN resolution_due INTEGER;"
    "CREATE TABLE deadline_rules ("
    " category TEXT NOT NULL,"
    " severity INTEGER NOT NULL CHECK (severity BETWEEN 0 AND 3),"
    " response_h REAL NOT NULL CHECK (response_h > 0),"
    " resolution_h REAL NOT NULL CHECK (resolution_h >= response_h),"
    " PRIMARY KEY (category, severity)) WITHOUT ROWID;"
    "CREATE TABLE deadlines ("
    " category TEXT NOT NULL, severity INTEGER NOT NULL,"
    " response_s INTEGER NOT NULL, resolution_s INTEGER NOT NULL,"
    " PRIMARY KEY (category, severity)) WITHOUT ROWID;"
    "CREATE INDEX incidents_department ON incidents (department);"
    /* What the log tells of files written before. */
    "UPDATE incidents SET"
    " dispatched_at = (SELECT min(at) FROM incident_events e"
    "  WHERE e.incident_id = incidents.id AND e.status <> 'reported'),"
    " department = (SELECT department FROM incident_events e"
    "  WHERE e.incident_id = incidents.id AND e.department IS NOT NULL"
    "  ORDER BY at DESC, id DESC LIMIT 1);";

/* Version 4: when a department first reported it was handling the
 * incident (its first "handling" step: the 报到 of its scorecard), kept on
 * the incident so the index holds it; recovered from the log. */
static const char schema_v4[] =
    "ALTER TABLE incidents ADD COLUMN handling_at INTEGER;"
    "UPDATE incidents SET handling_at = (SELECT min(at) FROM incident_events e"
    " WHERE e.incident_id = incidents.id AND e.status = 'handling');";

static ht_status create_schema(ht_store *s, ht_error *err) {
    static const char *const fns[] = {
        "SELECT InitSpatialMetadata(0, 'WGS84_ONLY')",
        "SELECT AddGeometryColumn('grids', 'geom', 4326, 'MULTIPOLYGON', "
        "'XY', 1)",
        "SELECT AddGeometryColumn('streets', 'geom', 4326, 'LINESTRING', "
        "'XY', 1)",
        "SELECT AddGeometryColumn('incidents', 'geom', 4326, 'POINT', 'XY', "
        "1)",
        "SELECT CreateSpatialIndex('grids', 'geom')",
        "SELECT CreateSpatialIndex('streets', 'geom')",
        "SELECT CreateSpatialIndex('incidents', 'geom')",
    };
    ht_status st = ht__store_exec(s, "BEGIN IMMEDIATE", err);
    if (st != HT_OK) {
        return st;
    }
    st = ht__store_exec(s, schema_v1, err);
    if (st == HT_OK) {
        st = ht__store_exec(s, schema_v2, err);
    }
    if (st == HT_OK) {
        st = ht__store_exec(s, schema_v3, err);
    }
    if (st == HT_OK) {
        st = ht__store_exec(s, schema_v4, err);
    }
    for (size_t i = 0; st == HT_OK && i < sizeof fns / sizeof *fns; i++) {
        st = exec_fn(s, fns[i], err);
    }
    if (st == HT_OK) {
        char sql[160];
        snprintf(sql, sizeof sql,
                 "INSERT INTO hutong_meta VALUES ('schema_version', '%d');"
                 "PRAGMA application_id = 1752462446;", /* 'htong' */
                 HT_STORE_SCHEMA_VERSION);
        st = ht__store_exec(s, sql, err);
    }
    if (st == HT_OK) {
        st = ht__store_exec(s, "COMMIT", err);
    }
    if (st != HT_OK) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        ht_error_prefix(err, "creating the schema: ");
    }
    return st;
}

/* Migrations from version i to i + 1, run in one transaction each; a new
 * version appends here. The tree of an existing file is filled by the
 * rebuild that follows (migrate). */
static const char *const migrations[] = {schema_v2, schema_v3, schema_v4};

static ht_status read_version(ht_store *s, int *version, ht_error *err) {
    sqlite3_stmt *q = NULL;
    *version = 0;
    int rc = sqlite3_prepare_v2(
        s->db, "SELECT value FROM hutong_meta WHERE key = 'schema_version'", -1,
        &q, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(q);
        return HT_ENOTFOUND; /* no meta table */
    }
    if (sqlite3_step(q) == SQLITE_ROW) {
        *version = sqlite3_column_int(q, 0);
    }
    sqlite3_finalize(q);
    return *version > 0 ? HT_OK
                        : ht_error_set(err, HT_EINVAL,
                                       "hutong_meta has no schema_version");
}

static ht_status migrate(ht_store *s, const char *path, ht_error *err) {
    while (s->version < HT_STORE_SCHEMA_VERSION) {
        const char *sql = migrations[s->version - 1];
        char bump[96];
        snprintf(bump, sizeof bump,
                 "UPDATE hutong_meta SET value = '%d' WHERE key = "
                 "'schema_version'",
                 s->version + 1);
        ht_status st = ht__store_exec(s, "BEGIN IMMEDIATE", err);
        if (st == HT_OK && sql) {
            st = ht__store_exec(s, sql, err);
        }
        if (st == HT_OK && s->version + 1 == 2) {
            st = ht__store_rebuild_tree(s, err);
        }
        if (st == HT_OK && s->version + 1 == 3) {
            st = ht__store_rebuild_deadlines(s, err);
        }
        if (st == HT_OK) {
            st = ht__store_exec(s, bump, err);
        }
        if (st == HT_OK) {
            st = ht__store_exec(s, "COMMIT", err);
        }
        if (st != HT_OK) {
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
            ht_error_prefix(err, "%s: migrating from schema %d: ", path,
                            s->version);
            return st;
        }
        s->version++;
    }
    return HT_OK;
}

static bool db_is_empty(ht_store *s) {
    sqlite3_stmt *q = NULL;
    bool empty = false;
    if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM sqlite_master", -1, &q,
                           NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW) {
        empty = sqlite3_column_int(q, 0) == 0;
    }
    sqlite3_finalize(q);
    return empty;
}

ht_status ht_store_open(const char *path, int flags, ht_store **out,
                        ht_error *err) {
    *out = NULL;
    ht_store *s = calloc(1, sizeof *s);
    if (!s || !(s->wkb = ht_buf_new()) || !(s->path = strdup(path))) {
        if (s) {
            ht_buf_free(s->wkb);
        }
        free(s);
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    if (ht__store_is_pg(path)) {
        ht_status pst = ht__pg_open(s, path, flags, err);
        if (pst != HT_OK) {
            ht_store_close(s);
            return pst;
        }
        *out = s;
        return HT_OK;
    }
    bool write = (flags & HT_STORE_WRITE) != 0;
    bool create = (flags & HT_STORE_CREATE) == HT_STORE_CREATE;
    int oflags = write ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY;
    if (create) {
        oflags |= SQLITE_OPEN_CREATE;
    }
    oflags |= SQLITE_OPEN_NOMUTEX;
    ht_status st = HT_OK;
    /* Global memory statistics take a mutex on every allocation; hutong
     * does not read them. Only possible before SQLite initialises. */
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, no_memstatus);
    if (sqlite3_open_v2(path, &s->db, oflags, NULL) != SQLITE_OK) {
        st = ht_error_set(err, HT_EIO, "%s: %s", path,
                          s->db ? sqlite3_errmsg(s->db) : "cannot open");
        goto done;
    }
    sqlite3_extended_result_codes(s->db, 0);
    sqlite3_busy_timeout(s->db, 5000);
    s->splite = spatialite_alloc_connection();
    spatialite_init_ex(s->db, s->splite, 0);
    if (write) {
        /* WAL: readers never block the writer. synchronous=FULL makes a
         * commit durable before it returns, which acknowledged writes need. */
        st = ht__store_exec(
            s,
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; "
            "PRAGMA cache_size = -65536;",
            err);
        if (st != HT_OK) {
            ht_error_prefix(err, "%s: ", path);
            goto done;
        }
    }
    ht_error probe = {0};
    st = read_version(s, &s->version, &probe);
    if (st == HT_ENOTFOUND && create && db_is_empty(s)) {
        if ((st = create_schema(s, err)) != HT_OK) {
            ht_error_prefix(err, "%s: ", path);
            goto done;
        }
        s->version = HT_STORE_SCHEMA_VERSION;
    } else if (st != HT_OK) {
        st = ht_error_set(err, HT_EINVAL,
                          "%s is not a hutong database (run 'hutong init')",
                          path);
        goto done;
    }
    if (s->version > HT_STORE_SCHEMA_VERSION) {
        st = ht_error_set(err, HT_EINVAL,
                          "%s has schema version %d; this hutong knows up "
                          "to %d",
                          path, s->version, HT_STORE_SCHEMA_VERSION);
        goto done;
    }
    if (s->version < HT_STORE_SCHEMA_VERSION && !write) {
        /* An older file is brought up to date first, through a writable
         * connection of its own (one transaction per step), then read. */
        ht_store *w = NULL;
        if ((st = ht_store_open(path, HT_STORE_WRITE, &w, err)) != HT_OK) {
            ht_error_prefix(err,
                            "%s has the old schema version %d and cannot "
                            "be migrated: ",
                            path, s->version);
            goto done;
        }
        ht_store_close(w);
        if ((st = read_version(s, &s->version, err)) != HT_OK) {
            goto done;
        }
    }
    if (s->version < HT_STORE_SCHEMA_VERSION &&
        (st = migrate(s, path, err)) != HT_OK) {
        goto done;
    }
    for (int i = 0; i < ST_COUNT; i++) {
        if (sqlite3_prepare_v3(s->db, ht__store_stmt_sql[i], -1,
                               SQLITE_PREPARE_PERSISTENT, &s->stmt[i],
                               NULL) != SQLITE_OK) {
            st = ht__store_dberr(s, "preparing statements", err);
            goto done;
        }
    }
done:
    if (st != HT_OK) {
        ht_store_close(s);
        return st;
    }
    *out = s;
    return HT_OK;
}

void ht_store_close(ht_store *s) {
    if (!s) {
        return;
    }
    if (s->in_tx) {
        ht_store_rollback(s);
    }
    ht__pg_close(s);
    for (int i = 0; i < ST_COUNT; i++) {
        sqlite3_finalize(s->stmt[i]);
    }
    sqlite3_close(s->db);
    if (s->splite) {
        spatialite_cleanup_ex(s->splite);
    }
    ht_buf_free(s->wkb);
    ht__store_names_free(s->names);
    free(s->changed);
    free(s->path);
    free(s);
}

const char *ht_store_path(const ht_store *s) {
    return s->path;
}

int ht_store_schema_version(const ht_store *s) {
    return s->version;
}

int64_t ht_store_versions_made(const ht_store *s) {
    return s->versions_made;
}

ht_status ht__store_meta_number(ht_store *s, const char *key, int64_t *out,
                                ht_error *err) {
    *out = 0;
    if (s->pg) {
        return ht__pg_meta_number(s, key, out, err);
    }
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT value FROM hutong_meta WHERE key = ?1", -1,
                           &q, NULL) != SQLITE_OK) {
        return ht__store_dberr(s, "reading hutong_meta", err);
    }
    ht__store_bind_text(q, 1, key);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(q, 0);
    }
    sqlite3_finalize(q);
    return rc == SQLITE_ROW || rc == SQLITE_DONE
               ? HT_OK
               : ht__store_dberr(s, "reading hutong_meta", err);
}

ht_status ht_store_data_version(ht_store *s, int64_t *out, ht_error *err) {
    return ht__store_meta_number(s, "data_version", out, err);
}

ht_status ht_store_begin(ht_store *s, ht_error *err) {
    if (s->pg) {
        return ht__pg_begin(s, err);
    }
    if (s->in_tx) {
        return ht_error_set(err, HT_EINTERNAL, "transaction already open");
    }
    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        return ht__store_dberr(s, "begin", err);
    }
    s->in_tx = true;
    s->changes_at_begin = sqlite3_total_changes64(s->db);
    return HT_OK;
}

ht_status ht_store_commit(ht_store *s, ht_error *err) {
    if (s->pg) {
        return ht__pg_commit(s, err);
    }
    ht_status bst = ht_store_bulk_end(s, err);
    if (bst == HT_OK && s->tree_stale) {
        bst = ht__store_rebuild_tree(s, err);
    }
    if (bst == HT_OK && s->deadlines_stale) {
        bst = ht__store_rebuild_deadlines(s, err);
    }
    if (bst != HT_OK) {
        ht_store_rollback(s);
        return bst;
    }
    if (!s->in_tx) {
        return ht_error_set(err, HT_EINTERNAL, "no transaction open");
    }
    /* Every write that changed a row moves the data version (what a saved
     * index of the file is checked against). */
    bool changed = sqlite3_total_changes64(s->db) != s->changes_at_begin;
    if (changed &&
        sqlite3_exec(s->db,
                     "INSERT INTO hutong_meta VALUES ('data_version', '1') ON "
                     "CONFLICT (key) DO UPDATE SET value = CAST(value AS "
                     "INTEGER) + 1",
                     NULL, NULL, NULL) != SQLITE_OK) {
        ht_status st = ht__store_dberr(s, "commit", err);
        ht_store_rollback(s);
        return st;
    }
    if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        ht_status st = ht__store_dberr(s, "commit", err);
        ht_store_rollback(s);
        return st;
    }
    s->versions_made += changed;
    s->in_tx = false;
    s->tree_stale = false;
    s->deadlines_stale = false;
    return HT_OK;
}

static void bulk_forget(ht_store *s) {
    for (int i = 0; i < s->nbulk_triggers; i++) {
        sqlite3_free(s->bulk_triggers[i]);
    }
    sqlite3_free(s->bulk_triggers);
    s->bulk_triggers = NULL;
    s->nbulk_triggers = 0;
    free(s->bulk_pts);
    s->bulk_pts = NULL;
    s->nbulk_pts = s->cap_bulk_pts = 0;
    s->bulk = false;
}

void ht_store_rollback(ht_store *s) {
    if (s->pg) {
        ht__pg_bulk_forget(s);
        ht__pg_rollback(s);
        return;
    }
    if (s->in_tx) {
        /* Rolling back also brings back any triggers set aside. */
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        s->in_tx = false;
    }
    s->tree_stale = false;
    s->deadlines_stale = false;
    bulk_forget(s);
}

ht_status ht_store_bulk_begin(ht_store *s, size_t expected_rows,
                              ht_error *err) {
    if (!s->in_tx || s->bulk) {
        return ht_error_set(err, HT_EINTERNAL,
                            "bulk mode needs an open transaction, once");
    }
    if (s->pg) {
        (void)expected_rows; /* PostgreSQL keeps its indexes through it */
        return ht__pg_bulk_begin(s, err);
    }
    int64_t existing = 0;
    ht_status st = ht_store_count(s, "incidents", &existing, err);
    if (st != HT_OK) {
        return st;
    }
    /* A load as large as half the table also rebuilds the secondary
     * indexes at the end: sorting once beats a million random inserts. */
    bool indexes =
        expected_rows >= 10000 && (int64_t)expected_rows * 2 >= existing;
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT type, name, sql FROM sqlite_master WHERE "
                           "tbl_name = 'incidents' AND (type = 'trigger' OR "
                           "(?1 AND type = 'index' AND sql IS NOT NULL)) "
                           "ORDER BY type = 'trigger', name",
                           -1, &q, NULL) != SQLITE_OK) {
        return ht__store_dberr(s, "reading the schema", err);
    }
    sqlite3_bind_int(q, 1, indexes);
    /* Collect first: the schema cannot change under a running SELECT. */
    char **drops = NULL;
    int ndrops = 0;
    while (st == HT_OK && sqlite3_step(q) == SQLITE_ROW) {
        char **t = sqlite3_realloc(s->bulk_triggers,
                                   (int)sizeof *t * (s->nbulk_triggers + 1));
        char **d =
            t ? sqlite3_realloc(drops, (int)sizeof *d * (ndrops + 1)) : NULL;
        if (t) {
            s->bulk_triggers = t;
        }
        if (d) {
            drops = d;
        }
        char *sql = sqlite3_mprintf("%s", sqlite3_column_text(q, 2));
        char *drop =
            sqlite3_mprintf("DROP %s \"%w\"", sqlite3_column_text(q, 0),
                            sqlite3_column_text(q, 1));
        if (!t || !d || !sql || !drop) {
            sqlite3_free(sql);
            sqlite3_free(drop);
            st = ht_error_set(err, HT_ENOMEM, "out of memory");
            break;
        }
        s->bulk_triggers[s->nbulk_triggers++] = sql;
        drops[ndrops++] = drop;
    }
    sqlite3_finalize(q);
    for (int k = 0; k < ndrops; k++) {
        if (st == HT_OK) {
            st = ht__store_exec(s, drops[k], err);
        }
        sqlite3_free(drops[k]);
    }
    sqlite3_free(drops);
    if (st != HT_OK) {
        ht_store_rollback(s);
        return st;
    }
    /* Large loads get a larger page cache while they last. */
    ht__store_exec(s, "PRAGMA cache_size = -262144", NULL);
    s->bulk = true;
    return HT_OK;
}

static uint64_t spread_bits(uint32_t v) {
    uint64_t x = v;
    x = (x | x << 16) & 0x0000ffff0000ffffULL;
    x = (x | x << 8) & 0x00ff00ff00ff00ffULL;
    x = (x | x << 4) & 0x0f0f0f0f0f0f0f0fULL;
    x = (x | x << 2) & 0x3333333333333333ULL;
    x = (x | x << 1) & 0x5555555555555555ULL;
    return x;
}

static int cmp_bulk_point(const void *a, const void *b) {
    const struct bulk_point *p = a, *q = b;
    if (p->key != q->key) {
        return p->key < q->key ? -1 : 1;
    }
    return (p->id > q->id) - (p->id < q->id);
}

static void morton_keys(struct bulk_point *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t gx = (uint32_t)((p[i].x + 180.0) / 360.0 * 4294967295.0);
        uint32_t gy = (uint32_t)((p[i].y + 90.0) / 180.0 * 4294967295.0);
        p[i].key = spread_bits(gx) | spread_bits(gy) << 1;
    }
    if (n > 1) { /* qsort(NULL, 0) is undefined */
        qsort(p, n, sizeof *p, cmp_bulk_point);
    }
}

/* Float bounds as SQLite's R-tree stores them: rounded outwards. */
static float float_down(double v) {
    float f = (float)v;
    return (double)f > v ? nextafterf(f, -INFINITY) : f;
}

static float float_up(double v) {
    float f = (float)v;
    return (double)f < v ? nextafterf(f, INFINITY) : f;
}

typedef struct rt_entry {
    int64_t id;   /* incident id (leaves) or child node number */
    float box[4]; /* xmin, xmax, ymin, ymax */
} rt_entry;

static void put_be(unsigned char *p, uint64_t v, int bytes) {
    for (int k = 0; k < bytes; k++) {
        p[k] = (unsigned char)(v >> (8 * (bytes - 1 - k)));
    }
}

/* Rebuild the incidents' R-tree from every incident, packed bottom-up in
 * Morton order (a "packed R-tree"): full nodes, good locality, and a few
 * seconds less per million rows than SQLite's one-by-one inserts. It writes
 * the rtree module's shadow tables in the format rtree.c documents: node
 * blobs of the existing size, cells of a big-endian 64-bit rowid and four
 * 32-bit floats, the tree depth in the root's first two bytes. */
static ht_status rtree_rebuild(ht_store *s, ht_error *err) {
    sqlite3_stmt *q = NULL;
    ht_status st = HT_OK;
    size_t nodesize = 0, n = 0, cap = 0;
    struct bulk_point *pts = NULL;
    rt_entry *lv = NULL, *up = NULL;
    unsigned char *blob = NULL;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT length(data) FROM idx_incidents_geom_node "
                           "WHERE nodeno = 1",
                           -1, &q, NULL) != SQLITE_OK ||
        sqlite3_step(q) != SQLITE_ROW) {
        st = ht__store_dberr(s, "reading the spatial index", err);
        goto done;
    }
    nodesize = (size_t)sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    q = NULL;
    size_t maxcells = nodesize > 4 ? (nodesize - 4) / 24 : 0;
    if (HT_NEVER(maxcells < 4)) {
        st = ht_error_set(err, HT_EINTERNAL, "odd R-tree node size %zu",
                          nodesize);
        goto done;
    }
    /* Leave some room in each node for later one-by-one inserts. */
    size_t fill = maxcells * 9 / 10;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT id, geom FROM incidents WHERE geom IS NOT "
                           "NULL",
                           -1, &q, NULL) != SQLITE_OK) {
        st = ht__store_dberr(s, "reading incidents", err);
        goto done;
    }
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        double x, y;
        if (!ht__store_blob_point(sqlite3_column_blob(q, 1),
                                  sqlite3_column_bytes(q, 1), &x, &y)) {
            st = ht_error_set(err, HT_EINTERNAL,
                              "incident %lld is not a point blob",
                              (long long)sqlite3_column_int64(q, 0));
            goto done;
        }
        if ((st = ht_array_grow((void **)&pts, &cap, n + 1, sizeof *pts,
                                err)) != HT_OK) {
            goto done;
        }
        pts[n++] = (struct bulk_point){0, sqlite3_column_int64(q, 0), x, y};
    }
    if (rc != SQLITE_DONE) {
        st = ht__store_dberr(s, "reading incidents", err);
        goto done;
    }
    sqlite3_finalize(q);
    q = NULL;
    morton_keys(pts, n);
    if ((st = ht__store_exec(s,
                             "DELETE FROM idx_incidents_geom_node; "
                             "DELETE FROM idx_incidents_geom_rowid; "
                             "DELETE FROM idx_incidents_geom_parent;",
                             err)) != HT_OK) {
        goto done;
    }
    lv = malloc((n ? n : 1) * sizeof *lv);
    up = malloc((n / fill + 2) * sizeof *up);
    blob = calloc(1, nodesize);
    sqlite3_stmt *wn = NULL, *wr = NULL, *wp = NULL;
    if (!lv || !up || !blob) {
        st = ht_error_set(err, HT_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        lv[i] = (rt_entry){pts[i].id,
                           {float_down(pts[i].x), float_up(pts[i].x),
                            float_down(pts[i].y), float_up(pts[i].y)}};
    }
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO idx_incidents_geom_node (nodeno, "
                           "data) VALUES (?1, ?2)",
                           -1, &wn, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db,
                           "INSERT INTO idx_incidents_geom_rowid (rowid, "
                           "nodeno) VALUES (?1, ?2)",
                           -1, &wr, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db,
                           "INSERT INTO idx_incidents_geom_parent (nodeno, "
                           "parentnode) VALUES (?1, ?2)",
                           -1, &wp, NULL) != SQLITE_OK) {
        st = ht__store_dberr(s, "writing the spatial index", err);
        goto stmts;
    }
    /* Nodes of the next level up are numbered from here; the root is 1. */
    int64_t next_node = 2;
    size_t count = n;
    int depth = 0;
    for (bool leaves = true;; leaves = false) {
        size_t nnodes = count <= maxcells ? 1 : (count + fill - 1) / fill;
        bool root = nnodes == 1;
        size_t per = root ? count : fill;
        for (size_t k = 0; st == HT_OK && k < nnodes; k++) {
            size_t a = k * per, e = a + per < count ? a + per : count;
            int64_t nodeno = root ? 1 : next_node++;
            memset(blob, 0, nodesize);
            put_be(blob, root ? (uint64_t)depth : 0, 2);
            put_be(blob + 2, e - a, 2);
            float box[4] = {INFINITY, -INFINITY, INFINITY, -INFINITY};
            for (size_t i = a; st == HT_OK && i < e; i++) {
                unsigned char *c = blob + 4 + (i - a) * 24;
                put_be(c, (uint64_t)lv[i].id, 8);
                for (int d = 0; d < 4; d++) {
                    uint32_t bits;
                    memcpy(&bits, &lv[i].box[d], 4);
                    put_be(c + 8 + 4 * d, bits, 4);
                }
                box[0] = fminf(box[0], lv[i].box[0]);
                box[1] = fmaxf(box[1], lv[i].box[1]);
                box[2] = fminf(box[2], lv[i].box[2]);
                box[3] = fmaxf(box[3], lv[i].box[3]);
                sqlite3_stmt *w = leaves ? wr : wp;
                sqlite3_bind_int64(w, 1, lv[i].id);
                sqlite3_bind_int64(w, 2, nodeno);
                st =
                    ht__store_step_done(s, w, "writing the spatial index", err);
            }
            sqlite3_bind_int64(wn, 1, nodeno);
            sqlite3_bind_blob(wn, 2, blob, (int)nodesize, SQLITE_STATIC);
            if (st == HT_OK) {
                st = ht__store_step_done(s, wn, "writing the spatial index",
                                         err);
            }
            up[k] = (rt_entry){nodeno, {box[0], box[1], box[2], box[3]}};
        }
        if (st != HT_OK || root) {
            break;
        }
        memcpy(lv, up, nnodes * sizeof *up);
        count = nnodes;
        depth++;
    }
stmts:
    sqlite3_finalize(wn);
    sqlite3_finalize(wr);
    sqlite3_finalize(wp);
done:
    sqlite3_finalize(q);
    free(pts);
    free(lv);
    free(up);
    free(blob);
    return st;
}

/* Write the deferred spatial index rows. A load that adds much to the
 * index rebuilds it packed; a small one inserts its rows one by one, in
 * Morton order so that neighbours in space share cached pages. */
static ht_status bulk_flush_index(ht_store *s, ht_error *err) {
    if (s->nbulk_pts == 0) {
        return HT_OK;
    }
    int64_t total = 0;
    ht_status st = ht_store_count(s, "incidents", &total, err);
    if (st != HT_OK) {
        return st;
    }
    /* One-by-one inserts cost about 7 us a row here, a packed rebuild
     * about 0.5 us per row of the whole table. */
    if (s->nbulk_pts >= 4096 && (int64_t)s->nbulk_pts * 12 >= total) {
        return rtree_rebuild(s, err);
    }
    morton_keys(s->bulk_pts, s->nbulk_pts);
    sqlite3_stmt *x = s->stmt[ST_INC_INDEX];
    for (size_t i = 0; st == HT_OK && i < s->nbulk_pts; i++) {
        sqlite3_bind_int64(x, 1, s->bulk_pts[i].id);
        sqlite3_bind_double(x, 2, s->bulk_pts[i].x);
        sqlite3_bind_double(x, 3, s->bulk_pts[i].y);
        st = ht__store_step_done(s, x, "indexing incidents", err);
    }
    return st;
}

ht_status ht_store_bulk_end(ht_store *s, ht_error *err) {
    if (s->pg) {
        ht_status pst = ht__pg_bulk_end(s, err);
        if (pst != HT_OK) {
            ht_store_rollback(s);
        }
        return pst;
    }
    if (!s->bulk) {
        return HT_OK;
    }
    ht_status st = bulk_flush_index(s, err);
    for (int i = 0; st == HT_OK && i < s->nbulk_triggers; i++) {
        st = ht__store_exec(s, s->bulk_triggers[i], err);
    }
    if (st == HT_OK) {
        /* What the per-row timestamp triggers would have left. */
        st = ht__store_exec(
            s,
            "UPDATE geometry_columns_time SET last_insert = "
            "strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), last_update = "
            "strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE "
            "Lower(f_table_name) = 'incidents'",
            err);
    }
    if (st != HT_OK) {
        ht_store_rollback(s);
        return st;
    }
    ht__store_exec(s, "PRAGMA cache_size = -65536", NULL);
    bulk_forget(s);
    return HT_OK;
}

/* ---- binding helpers ---- */

void ht__store_bind_text(sqlite3_stmt *q, int i, const char *v) {
    if (v) {
        sqlite3_bind_text(q, i, v, -1, SQLITE_STATIC);
    } else {
        sqlite3_bind_null(q, i);
    }
}

void ht__store_bind_time(sqlite3_stmt *q, int i, int64_t t) {
    if (t == HT_TIME_NONE) {
        sqlite3_bind_null(q, i);
    } else {
        sqlite3_bind_int64(q, i, t);
    }
}

bool ht__store_col_text_eq(sqlite3_stmt *q, int i, const char *v) {
    const char *c = (const char *)sqlite3_column_text(q, i);
    if (!c || !v) {
        return c == NULL && v == NULL;
    }
    return strcmp(c, v) == 0;
}

int64_t ht__store_col_time(sqlite3_stmt *q, int i) {
    return sqlite3_column_type(q, i) == SQLITE_NULL
               ? HT_TIME_NONE
               : sqlite3_column_int64(q, i);
}

bool ht__store_col_blob_eq(sqlite3_stmt *q, int i, const ht_buf *b) {
    int n = sqlite3_column_bytes(q, i);
    const void *p = sqlite3_column_blob(q, i);
    return p && (size_t)n == b->len && memcmp(p, b->data, b->len) == 0;
}

ht_bbox ht__store_col_bbox(sqlite3_stmt *q, int i) {
    if (sqlite3_column_type(q, i) == SQLITE_NULL) {
        return ht_bbox_empty();
    }
    return (ht_bbox){
        sqlite3_column_double(q, i), sqlite3_column_double(q, i + 1),
        sqlite3_column_double(q, i + 2), sqlite3_column_double(q, i + 3)};
}

ht_status ht__store_step_done(ht_store *s, sqlite3_stmt *q, const char *what,
                              ht_error *err) {
    int rc = sqlite3_step(q);
    ht_status st = rc == SQLITE_DONE ? HT_OK : ht__store_dberr(s, what, err);
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    return st;
}

ht_status ht__store_step_err(ht_store *s, int rc, const char *what,
                             ht_error *err) {
    return rc == SQLITE_DONE ? HT_OK : ht__store_dberr(s, what, err);
}

/* A POINT in SRID 4326 in SpatiaLite's own BLOB format (little endian):
 * start, byte order, SRID, MBR, MBR end, class, x, y, end. Built here
 * rather than by MakePoint() for every row of a large import. */
void ht__store_point_blob(unsigned char b[60], double x, double y) {
    uint32_t srid = 4326, cls = 1;
    const double mbr[4] = {x, y, x, y};
    b[0] = 0x00;
    b[1] = 0x01;
    for (int k = 0; k < 4; k++) {
        b[2 + k] = (unsigned char)(srid >> (8 * k));
        b[39 + k] = (unsigned char)(cls >> (8 * k));
    }
    for (int m = 0; m < 4; m++) {
        uint64_t v;
        memcpy(&v, &mbr[m], 8);
        for (int k = 0; k < 8; k++) {
            b[6 + 8 * m + k] = (unsigned char)(v >> (8 * k));
        }
    }
    b[38] = 0x7C;
    for (int m = 0; m < 2; m++) {
        uint64_t v;
        memcpy(&v, &mbr[m], 8);
        for (int k = 0; k < 8; k++) {
            b[43 + 8 * m + k] = (unsigned char)(v >> (8 * k));
        }
    }
    b[59] = 0xFE;
}

bool ht__store_blob_point(const void *blob, int len, double *x, double *y) {
    const unsigned char *b = blob;
    /* start, little endian, ..., class 1 (POINT) at byte 39, x and y at
     * 43 and 51, end: as ht__store_point_blob writes it. */
    if (!b || len != 60 || b[0] != 0x00 || b[1] != 0x01 || b[39] != 1 ||
        b[40] != 0 || b[41] != 0 || b[42] != 0 || b[59] != 0xFE) {
        return false;
    }
    memcpy(x, b + 43, 8);
    memcpy(y, b + 51, 8);
    return isfinite(*x) && isfinite(*y);
}

ht_status ht_store_count(ht_store *s, const char *table, int64_t *n,
                         ht_error *err) {
    static const char *const allowed[] = {"grids", "streets", "incidents",
                                          "incident_events", "categories"};
    bool ok = false;
    for (size_t i = 0; i < sizeof allowed / sizeof *allowed; i++) {
        ok = ok || strcmp(table, allowed[i]) == 0;
    }
    if (!ok) {
        return ht_error_set(err, HT_EINVAL, "unknown table \"%s\"", table);
    }
    if (s->pg) {
        return ht__pg_count(s, table, n, err);
    }
    char sql[64];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    sqlite3_stmt *q = NULL;
    ht_status st = HT_OK;
    if (sqlite3_prepare_v2(s->db, sql, -1, &q, NULL) != SQLITE_OK ||
        sqlite3_step(q) != SQLITE_ROW) {
        st = ht__store_dberr(s, "counting", err);
    } else {
        *n = sqlite3_column_int64(q, 0);
    }
    sqlite3_finalize(q);
    return st;
}

/* ---- what a writer changed ---- */

void ht_store_track_changes(ht_store *s, bool on) {
    s->track = on;
    s->nchanged = 0;
}

ht_status ht__store_changed(ht_store *s, int64_t id, ht_error *err) {
    if (!s->track) {
        return HT_OK;
    }
    ht_status st = ht_array_grow((void **)&s->changed, &s->cap_changed,
                                 s->nchanged + 1, sizeof *s->changed, err);
    if (st == HT_OK) {
        s->changed[s->nchanged++] = id;
    }
    return st;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

const int64_t *ht_store_changes(ht_store *s, size_t *n) {
    if (s->nchanged > 1) {
        qsort(s->changed, s->nchanged, sizeof *s->changed, cmp_i64);
        size_t w = 1;
        for (size_t i = 1; i < s->nchanged; i++) {
            if (s->changed[i] != s->changed[w - 1]) {
                s->changed[w++] = s->changed[i];
            }
        }
        s->nchanged = w;
    }
    *n = s->nchanged;
    return s->changed;
}

void ht_store_set_cache_mb(ht_store *s, int mb) {
    if (s->pg) {
        return; /* the server's own cache */
    }
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA cache_size = %d", -1024 * mb);
    sqlite3_exec(s->db, sql, NULL, NULL, NULL);
}

ht_status ht_store_bulk_flush(ht_store *s, ht_import_counts *counts,
                              ht_error *err) {
    return s->pg ? ht__pg_bulk_flush(s, counts, err) : HT_OK;
}

/* ---- the change log (PostgreSQL's; store_pg.c) ---- */

ht_status ht_store_last_change(ht_store *s, int64_t *out, ht_error *err) {
    *out = 0;
    return s->pg ? ht__pg_last_change(s, out, err) : HT_OK;
}

ht_status ht_store_changes_after(ht_store *s, int64_t after, int64_t *ids,
                                 bool *own, size_t max, size_t *n,
                                 int64_t *last, bool *gap, ht_error *err) {
    *n = 0;
    *last = after;
    *gap = false;
    return s->pg ? ht__pg_changes_after(s, after, ids, own, max, n, last, gap,
                                        err)
                 : HT_OK;
}

ht_status ht_store_wait_change(ht_store *s, int ms, bool *woke, ht_error *err) {
    *woke = false;
    if (s->pg) {
        return ht__pg_wait_change(s, ms, woke, err);
    }
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    return HT_OK;
}

ht_status ht_store_database_id(ht_store *s, int64_t *out, ht_error *err) {
    *out = 0;
    return s->pg ? ht__pg_database_id(s, out, err) : HT_OK;
}

ht_status ht_store_changes_reachable(ht_store *s, int64_t seq, bool *out,
                                     ht_error *err) {
    *out = false;
    return s->pg ? ht__pg_changes_reachable(s, seq, out, err) : HT_OK;
}

ht_status ht_store_prune_changes(ht_store *s, int64_t keep_s, ht_error *err) {
    return s->pg ? ht__pg_prune_changes(s, keep_s, err) : HT_OK;
}

static ht_status no_tokens(ht_error *err) {
    return ht_error_set(err, HT_EINVAL,
                        "a SpatiaLite file keeps no tokens: they live in a "
                        "tokens file (--tokens FILE)");
}

ht_status ht_store_tokens_version(ht_store *s, int64_t *out, ht_error *err) {
    *out = 0;
    return s->pg ? ht__pg_tokens_version(s, out, err) : no_tokens(err);
}

ht_status ht_store_tokens_load(ht_store *s, ht_tokens **out, int64_t *version,
                               ht_error *err) {
    *out = NULL;
    *version = 0;
    return s->pg ? ht__pg_tokens_load(s, out, version, err) : no_tokens(err);
}

ht_status ht_store_token_add(ht_store *s, const char *hash, const char *scope,
                             bool write, const char *name, ht_error *err) {
    return s->pg ? ht__pg_token_add(s, hash, scope, write, name, err)
                 : no_tokens(err);
}

ht_status ht_store_token_revoke(ht_store *s, const char *name, size_t *removed,
                                ht_error *err) {
    *removed = 0;
    return s->pg ? ht__pg_token_revoke(s, name, removed, err) : no_tokens(err);
}
