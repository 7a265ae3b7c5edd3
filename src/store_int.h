/* SPDX-License-Identifier: Apache-2.0 */
/* The store's internals, shared by its files (store.c: the connection,
 * schema and transactions; store_write.c: writes; store_read.c: reads).
 * No other module sees SQL. */
#ifndef HUTONG_STORE_INT_H
#define HUTONG_STORE_INT_H

#include <sqlite3.h>

#include "hutong/buf.h"
#include "hutong/store.h"

/* The columns of an incident row, read by ht__store_incident_row. */
#define HT__STORE_INCIDENT_COLS                                                \
    "i.id, i.external_id, i.category, i.severity, i.source, "                  \
    "i.status, i.reported_at, i.closed_at, i.grid_code, i.street_id, i.geom, " \
    "i.department, i.satisfaction, i.whistle_kind, i.response_due, "           \
    "i.resolution_due, i.dispatched_at, i.handling_at"
#define HT__STORE_INCIDENT_ROW_SQL \
    "SELECT " HT__STORE_INCIDENT_COLS " FROM incidents i"

/* An incident's two deadlines from its category (?2), severity (?3) and
 * report time (?6): NULL without a rule. */
#define HT__STORE_DUE_SQL                                             \
    "?6 + (SELECT response_s FROM deadlines WHERE category = ?2 AND " \
    "severity = ?3), ?6 + (SELECT resolution_s FROM deadlines WHERE " \
    "category = ?2 AND severity = ?3)"

/* Prepared once per connection. */
enum {
    ST_CAT_SELECT,
    ST_CAT_INSERT,
    ST_CAT_UPDATE,
    ST_GRID_SELECT,
    ST_GRID_INSERT,
    ST_GRID_UPDATE,
    ST_STREET_SELECT,
    ST_STREET_INSERT,
    ST_STREET_UPDATE,
    ST_INC_SELECT,
    ST_INC_INSERT,
    ST_INC_UPDATE,
    ST_EVENT_INSERT,
    ST_INC_RELOCATE,
    ST_GRID_SET_PARENT,
    ST_INC_INDEX,
    ST_INC_HEAD_EXT,
    ST_INC_HEAD_ID,
    ST_INC_STEP,
    ST_GRID_PARENT,
    ST_GRID_WITHIN,
    ST_INC_ROW,
    ST_CAT_NAME,
    ST_GRID_INFO,
    ST_INC_DISPATCH,
    ST_INC_HANDLING,
    ST_RULE_SELECT,
    ST_RULE_PUT,
    ST_INC_SATISFACTION,
    ST_COUNT
};

struct bulk_point {
    uint64_t key; /* Morton order of the point, for index locality */
    int64_t id;
    double x, y;
};

struct ht_store {
    /* The PostgreSQL connection when the store is on PostGIS
     * (store_pg.h); NULL for a SpatiaLite file. */
    struct ht_pg *pg;
    sqlite3 *db;
    char *path;   /* as opened */
    void *splite; /* SpatiaLite connection cache */
    int version;
    bool in_tx;
    int64_t changes_at_begin; /* sqlite3_total_changes when it began */
    int64_t versions_made;    /* data versions this connection committed */
    /* Bulk mode: SpatiaLite's per-row triggers on incidents (and for large
     * loads its secondary indexes) are set aside, their CREATE statements
     * kept here in the order they are restored, and the store does their
     * work. */
    bool bulk;
    char **bulk_triggers;
    int nbulk_triggers;
    struct bulk_point *bulk_pts; /* spatial index rows, written at the end */
    size_t nbulk_pts, cap_bulk_pts;
    sqlite3_stmt *stmt[ST_COUNT];
    ht_buf *wkb;
    bool tree_stale;      /* grids changed: grid_tree is rebuilt at commit */
    bool deadlines_stale; /* rules or categories changed: deadlines are
                             rebuilt at commit */
    /* Incidents written while tracking (ht_store_track_changes). */
    bool track;
    int64_t *changed;
    size_t nchanged, cap_changed;
    /* Groups' names remembered (store_names.c). */
    struct ht__store_names *names;
};

/* The number hutong_meta holds under @key (0 when none), either engine. */
ht_status ht__store_meta_number(ht_store *s, const char *key, int64_t *out,
                                ht_error *err);

/* Forget what store_names.c remembered; NULL is a no-op. */
void ht__store_names_free(struct ht__store_names *m);

/* Move the names' version (grids or categories changed), in the
 * transaction that changes them: SQLite, then PostgreSQL. */
#define HT__STORE_NAMES_MOVED                                            \
    "INSERT INTO hutong_meta VALUES ('names_version', '1') ON CONFLICT " \
    "(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1;"
#define HT__PG_NAMES_MOVED                                               \
    "INSERT INTO hutong_meta VALUES ('names_version', '1') ON CONFLICT " \
    "(key) DO UPDATE SET value = (hutong_meta.value::bigint + 1)::text;"

/* The statements, in ST_ order (store.c). */
extern const char *const ht__store_stmt_sql[ST_COUNT];

/* Set @err from the connection's last error, prefixed with @what. */
ht_status ht__store_dberr(ht_store *s, const char *what, ht_error *err);

/* Run SQL text (no rows): HT_EDB with SQLite's message. */
ht_status ht__store_exec(ht_store *s, const char *sql, ht_error *err);

/* Step a write statement to completion and reset it. */
ht_status ht__store_step_done(ht_store *s, sqlite3_stmt *q, const char *what,
                              ht_error *err);

/* HT_OK when a read loop ended with SQLITE_DONE (@rc), else the error. */
ht_status ht__store_step_err(ht_store *s, int rc, const char *what,
                             ht_error *err);

/* Bind text or NULL; a time or NULL (HT_TIME_NONE). */
void ht__store_bind_text(sqlite3_stmt *q, int i, const char *v);
void ht__store_bind_time(sqlite3_stmt *q, int i, int64_t t);

/* Column helpers: text equality (NULL equals NULL), a time or
 * HT_TIME_NONE, blob equality, four MBR columns as a box. */
bool ht__store_col_text_eq(sqlite3_stmt *q, int i, const char *v);
int64_t ht__store_col_time(sqlite3_stmt *q, int i);
bool ht__store_col_blob_eq(sqlite3_stmt *q, int i, const ht_buf *b);
ht_bbox ht__store_col_bbox(sqlite3_stmt *q, int i);

/* A POINT of SRID 4326 in SpatiaLite's own blob format (60 bytes, little
 * endian), and back: false for a blob that is not such a point. The one
 * place that knows the layout. */
void ht__store_point_blob(unsigned char b[60], double x, double y);
bool ht__store_blob_point(const void *blob, int len, double *x, double *y);

/* The incident of the current row of a statement selecting
 * HT__STORE_INCIDENT_ROW_SQL's columns: false when its point or an enum
 * cannot be read. Strings are borrowed until the statement moves. */
bool ht__store_incident_row(sqlite3_stmt *q, ht_incident_row *out);

/* Resolve deadline_rules into deadlines for every category and severity
 * and recompute every incident's deadlines. Inside the caller's
 * transaction. */
ht_status ht__store_rebuild_deadlines(ht_store *s, ht_error *err);

/* Remember incident @id for the bulk load's spatial index. */
ht_status ht__store_bulk_remember(ht_store *s, int64_t id, double x, double y,
                                  ht_error *err);

/* Note a written incident, when tracking. */
ht_status ht__store_changed(ht_store *s, int64_t id, ht_error *err);

/* The WHERE clause of @f over incidents "i" (categories "c" joined),
 * its parameters as "?" in the order both engines bind them
 * (store_read.c). */
ht_status ht__store_where_sql(const ht_filter *f, ht_buf *w, ht_error *err);

/* An incident record's columns as both engines write them: when its
 * state was reached, as far as the record tells (state_at, else closed_at
 * for a closed state, else reported_at); its satisfaction and whistle kind
 * as text, NULL for none (store_write.c). */
int64_t ht__store_state_time(const ht_incident_rec *rec);
const char *ht__store_sat_text(ht_satisfaction v);
const char *ht__store_whistle_text(ht_whistle v);

/* The deadlines every category and severity resolves to, rebuilt from the
 * rules (the same SQL on both engines): each category with its ancestors
 * (depth 0 itself); for each severity the rule of the nearest ancestor
 * that has one, a rule for that severity before one for any (0). */
#define HT__STORE_DEADLINES_SQL                                            \
    "DELETE FROM deadlines;"                                               \
    "INSERT INTO deadlines (category, severity, response_s, resolution_s)" \
    " WITH RECURSIVE up(code, anc, depth) AS ("                            \
    "  SELECT code, code, 0 FROM categories"                               \
    "  UNION ALL SELECT up.code, c.parent_code, up.depth + 1"              \
    "  FROM up JOIN categories c ON c.code = up.anc"                       \
    "  WHERE c.parent_code IS NOT NULL AND up.depth < 16),"                \
    " sev(v) AS (VALUES (1), (2), (3)),"                                   \
    " pick AS (SELECT up.code AS code, sev.v AS severity,"                 \
    "  r.response_h AS rh, r.resolution_h AS sh, row_number() OVER ("      \
    "   PARTITION BY up.code, sev.v"                                       \
    "   ORDER BY up.depth, r.severity = 0) AS k"                           \
    "  FROM up CROSS JOIN sev JOIN deadline_rules r"                       \
    "  ON r.category = up.anc AND r.severity IN (sev.v, 0))"               \
    " SELECT code, severity, CAST(round(rh * 3600) AS INTEGER),"           \
    "  CAST(round(sh * 3600) AS INTEGER) FROM pick WHERE k = 1;"

/* Rebuild grid_tree from the grids' parent links (store_write.c). */
ht_status ht__store_rebuild_tree(ht_store *s, ht_error *err);

#endif
