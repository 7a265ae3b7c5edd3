/* SPDX-License-Identifier: Apache-2.0 */
/* The PostgreSQL + PostGIS store: the connection, schema and migrations,
 * transactions, and the helpers of store_pg_write.c and store_pg_read.c.
 * Its schema is the SpatiaLite store's, table for table and column for
 * column (geometry in EPSG:4326 with GiST indexes; text compared byte by
 * byte, COLLATE "C", as SQLite does). */
#include "store_pg.h"

#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hutong/buf.h"
#include "hutong/datetime.h"

#include "store_int.h"

bool ht__store_is_pg(const char *path) {
    return path && (strncmp(path, "postgresql://", 13) == 0 ||
                    strncmp(path, "postgres://", 11) == 0);
}

/* ---- parameters ---- */

static int pp_next(pg_params *p) {
    /* Overflow is a programming error: the statements are fixed. */
    return p->n < PG_MAX_PARAMS ? p->n++ : PG_MAX_PARAMS - 1;
}

void ht__pg_text(pg_params *p, const char *v) {
    int i = pp_next(p);
    p->v[i] = v;
    p->len[i] = 0;
    p->fmt[i] = 0;
}

void ht__pg_i64(pg_params *p, int64_t v) {
    int i = pp_next(p);
    snprintf(p->num[i], sizeof p->num[i], "%" PRId64, v);
    p->v[i] = p->num[i];
    p->len[i] = 0;
    p->fmt[i] = 0;
}

void ht__pg_time(pg_params *p, int64_t t) {
    if (t == HT_TIME_NONE) {
        ht__pg_text(p, NULL);
    } else {
        ht__pg_i64(p, t);
    }
}

void ht__pg_f64(pg_params *p, double v) {
    int i = pp_next(p);
    snprintf(p->num[i], sizeof p->num[i], "%.17g", v);
    p->v[i] = p->num[i];
    p->len[i] = 0;
    p->fmt[i] = 0;
}

void ht__pg_blob(pg_params *p, const void *data, size_t len) {
    int i = pp_next(p);
    p->v[i] = data;
    p->len[i] = (int)len;
    p->fmt[i] = 1;
}

/* ---- running statements ---- */

/* The status an error result stands for: a broken integrity rule is bad
 * input, a lock or serialisation failure is "busy", a lost connection is
 * the database being away. */
static ht_status pg_status(const PGresult *r) {
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (!state) {
        return HT_EBUSY; /* no answer from the server: it is away */
    }
    if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0) {
        return HT_EBUSY; /* connection lost, server shutting down */
    }
    if (strncmp(state, "23", 2) == 0 || strncmp(state, "22", 2) == 0) {
        return HT_EINVAL;
    }
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
        strcmp(state, "55P03") == 0) {
        return HT_EBUSY;
    }
    return HT_EDB;
}

/* @err from a failed result (or the connection), prefixed with @what. */
static ht_status pg_err(ht_store *s, PGresult *r, const char *what,
                        ht_error *err) {
    const char *msg = r ? PQresultErrorMessage(r) : "";
    if (!msg || !*msg) {
        msg = PQerrorMessage(s->pg->conn);
    }
    char clean[200];
    snprintf(clean, sizeof clean, "%s", msg && *msg ? msg : "error");
    size_t n = strlen(clean);
    while (n && (clean[n - 1] == '\n' || clean[n - 1] == ' ')) {
        clean[--n] = '\0';
    }
    return ht_error_set(err, pg_status(r), "%s: %s", what, clean);
}

static bool changed_rows(PGresult *r) {
    const char *n = PQcmdTuples(r);
    return n && *n && strcmp(n, "0") != 0;
}

static ht_status session_setup(ht_store *s, ht_error *err);

/* A connection found lost is made again, outside a transaction (inside
 * one, the transaction is gone: its statements fail until the rollback).
 * HT_EBUSY while the database cannot be reached: the caller answers 503
 * and the next call tries again. */
static ht_status reconnect_if_lost(ht_store *s, ht_error *err) {
    struct ht_pg *pg = s->pg;
    if (PQstatus(pg->conn) == CONNECTION_OK) {
        return HT_OK;
    }
    if (s->in_tx || pg->cursors) {
        return ht_error_set(err, HT_EBUSY, "the database connection was lost");
    }
    PQreset(pg->conn);
    if (PQstatus(pg->conn) != CONNECTION_OK) {
        return ht_error_set(err, HT_EBUSY, "the database is unreachable");
    }
    return session_setup(s, err);
}

static ht_status run_once(ht_store *s, int slot, const char *sql,
                          const pg_params *p, PGresult **out, const char *what,
                          ht_error *err) {
    struct ht_pg *pg = s->pg;
    if (out) {
        *out = NULL;
    }
    ht_status rst = reconnect_if_lost(s, err);
    if (rst != HT_OK) {
        return rst;
    }
    int n = p ? p->n : 0;
    const char *const *v = p ? p->v : NULL;
    const int *len = p ? p->len : NULL, *fmt = p ? p->fmt : NULL;
    PGresult *r;
    if (slot >= 0 && slot < PQ_COUNT) {
        char name[16];
        snprintf(name, sizeof name, "ht%d", slot);
        if (!pg->prepared[slot]) {
            r = PQprepare(pg->conn, name, sql, n, NULL);
            if (PQresultStatus(r) != PGRES_COMMAND_OK) {
                ht_status st = pg_err(s, r, what, err);
                PQclear(r);
                return st;
            }
            PQclear(r);
            pg->prepared[slot] = true;
        }
        r = PQexecPrepared(pg->conn, name, n, v, len, fmt, 0);
    } else {
        r = PQexecParams(pg->conn, sql, n, NULL, v, len, fmt, 0);
    }
    ExecStatusType es = PQresultStatus(r);
    if (es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK) {
        ht_status st = pg_err(s, r, what, err);
        PQclear(r);
        return st;
    }
    if (es == PGRES_COMMAND_OK && changed_rows(r)) {
        pg->dirty = true;
    } else if (es == PGRES_TUPLES_OK && PQntuples(r) > 0 &&
               strncmp(PQcmdStatus(r), "SELECT", 6) != 0 &&
               strncmp(PQcmdStatus(r), "FETCH", 5) != 0) {
        pg->dirty = true; /* INSERT/UPDATE ... RETURNING */
    }
    if (out) {
        *out = r;
    } else {
        PQclear(r);
    }
    return HT_OK;
}

static ht_status exec_once(ht_store *s, const char *sql, ht_error *err) {
    if (strncmp(sql, "SET ", 4) != 0) {
        ht_status rst = reconnect_if_lost(s, err);
        if (rst != HT_OK) {
            return rst;
        }
    }
    PGresult *r = PQexec(s->pg->conn, sql);
    ExecStatusType es = PQresultStatus(r);
    ht_status st = HT_OK;
    if (es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK) {
        st = pg_err(s, r, "database", err);
    } else if (changed_rows(r)) {
        s->pg->dirty = true;
    }
    PQclear(r);
    return st;
}

/* Whether a statement that failed with @st found the connection lost
 * while nothing was open on it: then it is worth one more try, on a
 * connection made again (a restarted database server). */
static bool retry_lost(ht_store *s, ht_status st) {
    return st == HT_EBUSY && PQstatus(s->pg->conn) != CONNECTION_OK &&
           !s->in_tx && !s->pg->cursors;
}

ht_status ht__pg_run(ht_store *s, int slot, const char *sql, const pg_params *p,
                     PGresult **out, const char *what, ht_error *err) {
    ht_status st = run_once(s, slot, sql, p, out, what, err);
    return retry_lost(s, st) ? run_once(s, slot, sql, p, out, what, err) : st;
}

ht_status ht__pg_exec(ht_store *s, const char *sql, ht_error *err) {
    ht_status st = exec_once(s, sql, err);
    return retry_lost(s, st) && strncmp(sql, "SET ", 4) != 0
               ? exec_once(s, sql, err)
               : st;
}

ht_status ht__pg_walk(ht_store *s, const char *sql, const pg_params *p,
                      ht__pg_row_fn fn, void *ud, const char *what,
                      ht_error *err) {
    struct ht_pg *pg = s->pg;
    ht_status st = HT_OK;
    bool own_tx = !s->in_tx && pg->cursors == 0;
    if (own_tx) {
        if ((st = ht__pg_exec(s, "BEGIN READ ONLY", err)) != HT_OK) {
            return st;
        }
        pg->walk_tx = true;
    }
    int depth = ++pg->cursors;
    ht_buf *decl = ht_buf_new();
    st = decl ? ht_buf_appendf(decl, err,
                               "DECLARE htc%d NO SCROLL CURSOR FOR %s", depth,
                               sql)
              : ht_error_set(err, HT_ENOMEM, "out of memory");
    if (st == HT_OK) {
        st = ht__pg_run(s, -1, (const char *)decl->data, p, NULL, what, err);
    }
    ht_buf_free(decl);
    bool open = st == HT_OK;
    char fetch[48];
    snprintf(fetch, sizeof fetch, "FETCH 5000 FROM htc%d", depth);
    while (st == HT_OK) {
        PGresult *r = NULL;
        if ((st = ht__pg_run(s, -1, fetch, NULL, &r, what, err)) != HT_OK) {
            break;
        }
        int rows = PQntuples(r);
        for (int i = 0; st == HT_OK && i < rows; i++) {
            st = fn(r, i, ud, err);
        }
        PQclear(r);
        if (rows < 5000) {
            break;
        }
    }
    if (open) {
        char close[32];
        snprintf(close, sizeof close, "CLOSE htc%d", depth);
        PGresult *r = PQexec(pg->conn, close);
        PQclear(r);
    }
    pg->cursors--;
    if (own_tx) {
        PGresult *r = PQexec(pg->conn, st == HT_OK ? "COMMIT" : "ROLLBACK");
        PQclear(r);
        pg->walk_tx = false;
    }
    return st;
}

/* ---- columns ---- */

const char *ht__pg_col_text(PGresult *r, int row, int col) {
    return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

int64_t ht__pg_col_time(PGresult *r, int row, int col) {
    return PQgetisnull(r, row, col)
               ? HT_TIME_NONE
               : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

double ht__pg_col_f64(PGresult *r, int row, int col) {
    return PQgetisnull(r, row, col) ? NAN
                                    : strtod(PQgetvalue(r, row, col), NULL);
}

bool ht__pg_col_text_eq(PGresult *r, int row, int col, const char *v) {
    const char *c = ht__pg_col_text(r, row, col);
    if (!c || !v) {
        return c == NULL && v == NULL;
    }
    return strcmp(c, v) == 0;
}

static int hexval(int c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

ht_status ht__pg_col_bytea(PGresult *r, int row, int col, ht_buf *out,
                           ht_error *err) {
    ht_buf_clear(out);
    const char *t = ht__pg_col_text(r, row, col);
    if (!t) {
        return HT_ENOTFOUND;
    }
    if (t[0] != '\\' || t[1] != 'x') {
        return ht_error_set(err, HT_EDB, "a bytea column not in hex");
    }
    t += 2;
    size_t n = strlen(t) / 2;
    for (size_t i = 0; i < n; i++) {
        int hi = hexval((unsigned char)t[2 * i]);
        int lo = hexval((unsigned char)t[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return ht_error_set(err, HT_EDB, "a bytea column not in hex");
        }
        unsigned char b = (unsigned char)(hi << 4 | lo);
        ht_status st = ht_buf_append(out, &b, 1, err);
        if (st != HT_OK) {
            return st;
        }
    }
    return HT_OK;
}

ht_status ht__pg_number_params(const char *sql, int first, ht_buf *out,
                               ht_error *err) {
    ht_status st = HT_OK;
    int k = first;
    for (const char *c = sql; *c && st == HT_OK; c++) {
        st = *c == '?' ? ht_buf_appendf(out, err, "$%d", k++)
                       : ht_buf_append(out, c, 1, err);
    }
    if (st == HT_OK) {
        st = ht_buf_append(out, "", 1, err); /* NUL */
    }
    return st;
}

/* ---- the schema ---- */

/* Schema 1..4 as in store.c, written for PostgreSQL. */
static const char schema_v1[] =
    "CREATE EXTENSION IF NOT EXISTS postgis;"
    "CREATE TABLE hutong_meta (key text COLLATE \"C\" PRIMARY KEY,"
    " value text NOT NULL);"
    "CREATE TABLE categories ("
    " code text COLLATE \"C\" PRIMARY KEY, parent_code text COLLATE \"C\","
    " name text NOT NULL, color text, dictionary text NOT NULL);"
    "CREATE INDEX categories_parent ON categories (parent_code);"
    "CREATE TABLE grids ("
    " code text COLLATE \"C\" PRIMARY KEY, parent_code text COLLATE \"C\","
    " level text COLLATE \"C\" NOT NULL CHECK (level IN "
    "  ('district', 'street', 'community', 'grid')),"
    " name text, population bigint CHECK (population >= 0),"
    " responsible text, valid_from bigint, valid_to bigint,"
    " geom geometry(MultiPolygon, 4326));"
    "CREATE INDEX grids_parent ON grids (parent_code);"
    "CREATE INDEX grids_level ON grids (level);"
    "CREATE INDEX grids_geom ON grids USING gist (geom);"
    "CREATE TABLE streets ("
    " id bigserial PRIMARY KEY, source_id text COLLATE \"C\" UNIQUE,"
    " name text,"
    " kind text COLLATE \"C\" NOT NULL CHECK (kind IN "
    "  ('road', 'street', 'hutong', 'alley', 'other')),"
    " geom geometry(LineString, 4326));"
    "CREATE INDEX streets_name ON streets (name);"
    "CREATE INDEX streets_geom ON streets USING gist (geom);"
    "CREATE TABLE incidents ("
    " id bigserial PRIMARY KEY, external_id text COLLATE \"C\" UNIQUE,"
    " category text COLLATE \"C\" NOT NULL,"
    " severity integer NOT NULL CHECK (severity BETWEEN 1 AND 3),"
    " source text COLLATE \"C\" NOT NULL CHECK (source IN "
    "  ('hotline', 'patrol', 'app', 'whistle', 'other')),"
    " status text COLLATE \"C\" NOT NULL CHECK (status IN "
    "  ('reported', 'dispatched', 'handling', 'closed', 'evaluated')),"
    " reported_at bigint NOT NULL, closed_at bigint,"
    " grid_code text COLLATE \"C\", street_id bigint,"
    " geom geometry(Point, 4326) NOT NULL);"
    "CREATE INDEX incidents_reported ON incidents (reported_at);"
    "CREATE INDEX incidents_grid ON incidents (grid_code);"
    "CREATE INDEX incidents_street ON incidents (street_id);"
    "CREATE INDEX incidents_geom ON incidents USING gist (geom);"
    "CREATE TABLE incident_events ("
    " id bigserial PRIMARY KEY,"
    " incident_id bigint NOT NULL REFERENCES incidents (id)"
    "  ON DELETE CASCADE,"
    " status text COLLATE \"C\" NOT NULL CHECK (status IN "
    "  ('reported', 'dispatched', 'handling', 'closed', 'evaluated')),"
    " at bigint NOT NULL, department text COLLATE \"C\");"
    "CREATE INDEX incident_events_incident ON incident_events "
    " (incident_id, at);";

static const char schema_v2[] =
    "CREATE TABLE grid_tree ("
    " code text COLLATE \"C\" NOT NULL, ancestor text COLLATE \"C\" NOT NULL,"
    " level text COLLATE \"C\" NOT NULL, depth integer NOT NULL,"
    " PRIMARY KEY (code, ancestor));"
    "CREATE INDEX grid_tree_ancestor ON grid_tree (ancestor, code);"
    "CREATE INDEX grid_tree_level ON grid_tree (level, code);";

static const char schema_v3[] =
    "ALTER TABLE incidents ADD COLUMN satisfaction text COLLATE \"C\""
    " CHECK (satisfaction IN ('satisfied', 'basic', 'unsatisfied'));"
    "ALTER TABLE incidents ADD COLUMN whistle_kind text COLLATE \"C\""
    " CHECK (whistle_kind IN ('daily', 'tough', 'emergency'));"
    "ALTER TABLE incidents ADD COLUMN dispatched_at bigint;"
    "ALTER TABLE incidents ADD COLUMN department text COLLATE \"C\";"
    "ALTER TABLE incidents ADD COLUMN response_due bigint;"
    "ALTER TABLE incidents ADD COLUMN resolution_due bigint;"
    "CREATE TABLE deadline_rules ("
    " category text COLLATE \"C\" NOT NULL,"
    " severity integer NOT NULL CHECK (severity BETWEEN 0 AND 3),"
    " response_h double precision NOT NULL CHECK (response_h > 0),"
    " resolution_h double precision NOT NULL"
    "  CHECK (resolution_h >= response_h),"
    " PRIMARY KEY (category, severity));"
    "CREATE TABLE deadlines ("
    " category text COLLATE \"C\" NOT NULL, severity integer NOT NULL,"
    " response_s bigint NOT NULL, resolution_s bigint NOT NULL,"
    " PRIMARY KEY (category, severity));"
    "CREATE INDEX incidents_department ON incidents (department);"
    "UPDATE incidents SET"
    " dispatched_at = (SELECT min(at) FROM incident_events e"
    "  WHERE e.incident_id = incidents.id AND e.status <> 'reported'),"
    " department = (SELECT department FROM incident_events e"
    "  WHERE e.incident_id = incidents.id AND e.department IS NOT NULL"
    "  ORDER BY at DESC, id DESC LIMIT 1);";

static const char schema_v4[] =
    "ALTER TABLE incidents ADD COLUMN handling_at bigint;"
    "UPDATE incidents SET handling_at = (SELECT min(at) FROM incident_events e"
    " WHERE e.incident_id = incidents.id AND e.status = 'handling');";

static const char *const migrations[] = {schema_v2, schema_v3, schema_v4};

/* The change log, PostgreSQL's alone: every write to incidents, by hutong
 * or by any other client of the database, leaves its incident's id, the
 * writing process's origin (hutong.origin, unset for others) and a
 * notification on channel hutong_changes at commit; servers read the log
 * after the last change they saw. The trigger takes the writers' lock
 * first, so changes are numbered in the order they commit. */
static const char schema_changes[] =
    "CREATE TABLE hutong_changes ("
    " seq bigserial PRIMARY KEY, incident_id bigint NOT NULL,"
    " origin text COLLATE \"C\", at timestamptz NOT NULL DEFAULT now());"
    "CREATE INDEX hutong_changes_at ON hutong_changes (at);"
    /* One statement at a time (its rows as a transition table): a load
     * of a million rows is one insert into the log, not a million. */
    "CREATE FUNCTION hutong_note_changes() RETURNS trigger LANGUAGE plpgsql"
    " AS $f$ BEGIN"
    " PERFORM pg_advisory_xact_lock(1752462446);"
    " INSERT INTO hutong_changes (incident_id, origin) SELECT id,"
    "  nullif(current_setting('hutong.origin', true), '') FROM changed"
    "  ORDER BY id;"
    " IF FOUND THEN PERFORM pg_notify('hutong_changes', ''); END IF;"
    " RETURN NULL; END $f$;"
    "CREATE TRIGGER incidents_inserted AFTER INSERT ON incidents"
    " REFERENCING NEW TABLE AS changed FOR EACH STATEMENT"
    " EXECUTE FUNCTION hutong_note_changes();"
    "CREATE TRIGGER incidents_updated AFTER UPDATE ON incidents"
    " REFERENCING NEW TABLE AS changed FOR EACH STATEMENT"
    " EXECUTE FUNCTION hutong_note_changes();"
    "CREATE TRIGGER incidents_deleted AFTER DELETE ON incidents"
    " REFERENCING OLD TABLE AS changed FOR EACH STATEMENT"
    " EXECUTE FUNCTION hutong_note_changes();";

/* hutong's schema version, 0 when the database has no hutong_meta, -1 when
 * it has one without a version. */
static ht_status read_version(ht_store *s, int *version, ht_error *err) {
    *version = 0;
    PGresult *r = NULL;
    ht_status st =
        ht__pg_run(s, -1, "SELECT to_regclass('hutong_meta') IS NOT NULL", NULL,
                   &r, "reading the schema version", err);
    if (st != HT_OK) {
        return st;
    }
    bool has = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (!has) {
        return HT_OK;
    }
    st = ht__pg_run(s, -1,
                    "SELECT value FROM hutong_meta WHERE key = "
                    "'schema_version'",
                    NULL, &r, "reading the schema version", err);
    if (st != HT_OK) {
        return st;
    }
    *version = PQntuples(r) == 1 ? atoi(PQgetvalue(r, 0, 0)) : -1;
    if (*version == 0) {
        *version = -1;
    }
    PQclear(r);
    return HT_OK;
}

/* Whether the database holds no table of its own (PostGIS's may be
 * there). */
static ht_status db_is_empty(ht_store *s, bool *empty, ht_error *err) {
    int64_t n = 0;
    ht_status st = ht__pg_number(
        s,
        "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() "
        "AND tablename <> 'spatial_ref_sys'",
        "inspecting the database", &n, err);
    *empty = st == HT_OK && n == 0;
    return st;
}

/* One transaction: BEGIN, @sql (may be NULL), @more, COMMIT; rolled back
 * on error. */
static ht_status in_tx(ht_store *s, const char *sql, const char *more,
                       ht_error *err) {
    ht_status st = ht__pg_exec(s, "BEGIN", err);
    if (st == HT_OK) {
        st = ht__pg_exec(s, "SELECT pg_advisory_xact_lock(1752462446)", err);
    }
    if (st == HT_OK && sql) {
        st = ht__pg_exec(s, sql, err);
    }
    if (st == HT_OK && more) {
        st = ht__pg_exec(s, more, err);
    }
    if (st == HT_OK) {
        st = ht__pg_exec(s, "COMMIT", err);
    }
    if (st != HT_OK) {
        PQclear(PQexec(s->pg->conn, "ROLLBACK"));
    }
    return st;
}

static ht_status create_schema(ht_store *s, ht_error *err) {
    ht_buf *sql = ht_buf_new();
    char meta[128];
    snprintf(meta, sizeof meta,
             "INSERT INTO hutong_meta VALUES ('schema_version', '%d');",
             HT_STORE_SCHEMA_VERSION);
    ht_status st =
        sql ? ht_buf_appendf(sql, err, "%s%s%s%s%s%s%s", schema_v1, schema_v2,
                             schema_v3, schema_v4, schema_changes, meta,
                             ht__pg_schema_tokens)
            : ht_error_set(err, HT_ENOMEM, "out of memory");
    if (st == HT_OK) {
        st = in_tx(s, (const char *)sql->data, NULL, err);
    }
    ht_buf_free(sql);
    if (st != HT_OK) {
        ht_error_prefix(err, "creating the schema: ");
    }
    return st;
}

static ht_status migrate(ht_store *s, ht_error *err) {
    while (s->version < HT_STORE_SCHEMA_VERSION) {
        char bump[96];
        snprintf(bump, sizeof bump,
                 "UPDATE hutong_meta SET value = '%d' WHERE key = "
                 "'schema_version'",
                 s->version + 1);
        ht_status st = in_tx(s, migrations[s->version - 1],
                             s->version + 1 == 2 ? NULL : bump, err);
        if (st == HT_OK && s->version + 1 == 2) {
            /* The tree of an existing database, then the bump. */
            st = ht__pg_begin(s, err);
            if (st == HT_OK) {
                s->tree_stale = true;
                st = ht__pg_exec(s, bump, err);
            }
            if (st == HT_OK) {
                st = ht__pg_commit(s, err);
            }
        }
        if (st == HT_OK && s->version + 1 == 3) {
            st = ht__pg_begin(s, err);
            if (st == HT_OK) {
                s->deadlines_stale = true;
                st = ht__pg_commit(s, err);
            }
        }
        if (st != HT_OK) {
            ht_error_prefix(err, "migrating from schema %d: ", s->version);
            return st;
        }
        s->version++;
    }
    return HT_OK;
}

/* @url without its password, for messages. */
static void url_for_messages(const char *url, char *out, size_t n) {
    const char *at = strchr(url, '@');
    const char *scheme = strstr(url, "://");
    const char *colon = scheme ? strchr(scheme + 3, ':') : NULL;
    if (at && colon && colon < at) {
        snprintf(out, n, "%.*s:***%s", (int)(colon - url), url, at);
    } else {
        snprintf(out, n, "%s", url);
    }
}

/* This process's origin in the change log: its own writes are not news
 * to it. */
static char origin[40];
static pthread_once_t origin_once = PTHREAD_ONCE_INIT;

static void make_origin(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(origin, sizeof origin, "%ld-%lx", (long)getpid(),
             (unsigned long)ts.tv_nsec ^ (unsigned long)ts.tv_sec);
}

/* The session's settings, again after a reconnection. Times are numbers;
 * messages and floats plain. */
static ht_status session_setup(ht_store *s, ht_error *err) {
    pthread_once(&origin_once, make_origin);
    char sql[320];
    snprintf(sql, sizeof sql,
             "SET client_min_messages = warning; SET extra_float_digits = 1; "
             "SET lock_timeout = '5s'; SET bytea_output = 'hex'; "
             "SET hutong.origin = '%s'",
             origin);
    memset(s->pg->prepared, 0, sizeof s->pg->prepared);
    s->pg->listening = false;
    ht_status st = ht__pg_exec(s, sql, err);
    PGresult *r = NULL;
    if (st == HT_OK) {
        st = ht__pg_run(s, -1, "SELECT pg_is_in_recovery()", NULL, &r,
                        "asking whether the database is a replica", err);
    }
    if (st == HT_OK) {
        s->pg->standby = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
        PQclear(r);
    }
    return st;
}

/* A database made before tokens lived in it gets their table; one made
 * before its index could be kept in a file gets its id (random, kept in
 * hutong_meta: a replica has its primary's). */
static ht_status ensure_extras(ht_store *s, ht_error *err) {
    PGresult *r = NULL;
    ht_status st = ht__pg_run(
        s, -1,
        "SELECT to_regclass('hutong_tokens') IS NOT NULL, EXISTS (SELECT 1 "
        "FROM hutong_meta WHERE key = 'database_id')",
        NULL, &r, "looking for the tokens' table", err);
    if (st != HT_OK) {
        return st;
    }
    bool tokens = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    bool id = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
    PQclear(r);
    if (s->pg->standby) {
        return HT_OK;
    }
    if (!tokens) {
        st = in_tx(s, ht__pg_schema_tokens, NULL, err);
    }
    if (st == HT_OK && !id) {
        st = ht__pg_exec(s,
                         "INSERT INTO hutong_meta VALUES ('database_id', "
                         "(1 + floor(random() * 9.2e18))::bigint::text) ON "
                         "CONFLICT (key) DO NOTHING",
                         err);
    }
    return st;
}

ht_status ht__pg_number(ht_store *s, const char *sql, const char *what,
                        int64_t *out, ht_error *err) {
    *out = 0;
    PGresult *r = NULL;
    ht_status st = ht__pg_run(s, -1, sql, NULL, &r, what, err);
    if (st == HT_OK) {
        if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0)) {
            *out = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        }
        PQclear(r);
    }
    return st;
}

ht_status ht__pg_database_id(ht_store *s, int64_t *out, ht_error *err) {
    return ht__pg_number(s,
                         "SELECT value FROM hutong_meta WHERE key = "
                         "'database_id'",
                         "reading the database's id", out, err);
}

ht_status ht__pg_open(ht_store *s, const char *url, int flags, ht_error *err) {
    char shown[256];
    url_for_messages(url, shown, sizeof shown);
    s->pg = calloc(1, sizeof *s->pg);
    if (!s->pg) {
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    s->pg->conn = PQconnectdb(url);
    if (PQstatus(s->pg->conn) != CONNECTION_OK && (flags & HT_STORE_LAZY)) {
        s->version = HT_STORE_SCHEMA_VERSION; /* as the caller knows */
        return HT_OK; /* reconnect_if_lost makes it at the first use */
    }
    if (PQstatus(s->pg->conn) != CONNECTION_OK) {
        char msg[200];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(s->pg->conn));
        size_t n = strlen(msg);
        while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' ')) {
            msg[--n] = '\0';
        }
        return ht_error_set(err, HT_EIO, "%s: cannot connect: %s", shown, msg);
    }
    ht_status st = session_setup(s, err);
    bool write = (flags & HT_STORE_WRITE) != 0;
    bool create = (flags & HT_STORE_CREATE) == HT_STORE_CREATE;
    if (st == HT_OK) {
        st = read_version(s, &s->version, err);
    }
    bool empty = false;
    if (st == HT_OK && s->version == 0 && create &&
        (st = db_is_empty(s, &empty, err)) == HT_OK && empty) {
        if ((st = create_schema(s, err)) == HT_OK) {
            s->version = HT_STORE_SCHEMA_VERSION;
        }
    } else if (st == HT_OK && s->version <= 0) {
        st = ht_error_set(err, HT_EINVAL,
                          "%s is not a hutong database (run 'hutong init')",
                          shown);
    }
    if (st == HT_OK && s->version > HT_STORE_SCHEMA_VERSION) {
        st = ht_error_set(err, HT_EINVAL,
                          "%s has schema version %d; this hutong knows up "
                          "to %d",
                          shown, s->version, HT_STORE_SCHEMA_VERSION);
    }
    (void)write; /* a reader migrates too: the server is one database */
    if (st == HT_OK && s->version < HT_STORE_SCHEMA_VERSION) {
        st = migrate(s, err);
    }
    if (st == HT_OK) {
        st = ensure_extras(s, err);
    }
    if (st != HT_OK) {
        ht_error_prefix(err, "%s: ", shown);
    }
    return st;
}

void ht__pg_close(ht_store *s) {
    if (!s->pg) {
        return;
    }
    PQfinish(s->pg->conn);
    free(s->pg);
    s->pg = NULL;
}

/* ---- transactions ---- */

ht_status ht__pg_meta_number(ht_store *s, const char *key, int64_t *out,
                             ht_error *err) {
    /* (keys are the store's own words: no quote in them) */
    char sql[128];
    snprintf(sql, sizeof sql,
             "SELECT coalesce((SELECT value::bigint FROM hutong_meta WHERE "
             "key = '%s'), 0)",
             key);
    return ht__pg_number(s, sql, "reading hutong_meta", out, err);
}

ht_status ht__pg_begin(ht_store *s, ht_error *err) {
    if (s->in_tx) {
        return ht_error_set(err, HT_EINTERNAL, "transaction already open");
    }
    /* One writer at a time, as SQLite's BEGIN IMMEDIATE: rebuilding the
     * grid tree or the deadlines rewrites whole tables. */
    ht_status st = ht__pg_exec(s, "BEGIN", err);
    if (st == HT_OK) {
        st = ht__pg_exec(s, "SELECT pg_advisory_xact_lock(1752462446)", err);
        if (st != HT_OK) {
            PQclear(PQexec(s->pg->conn, "ROLLBACK"));
            ht_error_prefix(err, "begin: ");
            return st;
        }
    }
    if (st == HT_OK) {
        s->in_tx = true;
        s->pg->dirty = false;
    }
    return st;
}

ht_status ht__pg_commit(ht_store *s, ht_error *err) {
    if (!s->in_tx) {
        return ht_error_set(err, HT_EINTERNAL, "no transaction open");
    }
    ht_status st = s->pg->bulk ? ht__pg_bulk_end(s, err) : HT_OK;
    if (st == HT_OK && s->tree_stale) {
        st = ht__pg_rebuild_tree(s, err);
    }
    if (st == HT_OK && s->deadlines_stale) {
        st = ht__pg_rebuild_deadlines(s, err);
    }
    if (st == HT_OK && s->pg->dirty) {
        st = ht__pg_exec(
            s,
            "INSERT INTO hutong_meta VALUES ('data_version', '1') ON "
            "CONFLICT (key) DO UPDATE SET value = "
            "(hutong_meta.value::bigint + 1)::text",
            err);
    }
    bool dirty = s->pg->dirty;
    if (st == HT_OK) {
        st = ht__pg_exec(s, "COMMIT", err);
    }
    if (st != HT_OK) {
        ht_error_prefix(err, "commit: ");
        ht__pg_rollback(s);
        return st;
    }
    s->versions_made += dirty;
    s->in_tx = false;
    s->tree_stale = false;
    s->deadlines_stale = false;
    s->pg->dirty = false;
    return HT_OK;
}

void ht__pg_rollback(ht_store *s) {
    ht__pg_bulk_forget(s);
    if (s->in_tx) {
        PQclear(PQexec(s->pg->conn, "ROLLBACK"));
    }
    s->in_tx = false;
    s->tree_stale = false;
    s->deadlines_stale = false;
    s->pg->dirty = false;
}

ht_status ht__pg_rebuild_tree(ht_store *s, ht_error *err) {
    ht_status st = ht__pg_exec(
        s,
        "DELETE FROM grid_tree;"
        "INSERT INTO grid_tree (code, ancestor, level, depth) "
        "WITH RECURSIVE up(code, ancestor, depth) AS ("
        " SELECT code, code, 0 FROM grids UNION ALL"
        " SELECT up.code, g.parent_code, up.depth + 1 FROM up JOIN grids g"
        " ON g.code = up.ancestor WHERE g.parent_code IS NOT NULL AND"
        " up.depth < 16)"
        " SELECT up.code, up.ancestor, a.level, up.depth FROM up JOIN grids a"
        " ON a.code = up.ancestor ON CONFLICT DO NOTHING;" HT__PG_NAMES_MOVED,
        err);
    if (st != HT_OK) {
        ht_error_prefix(err, "rebuilding the grid tree: ");
    } else {
        s->tree_stale = false;
    }
    return st;
}

ht_status ht__pg_rebuild_deadlines(ht_store *s, ht_error *err) {
    static const char sql[] = HT__STORE_DEADLINES_SQL
        /* Only the incidents whose deadlines move are written. */
        "UPDATE incidents SET response_due = reported_at + d.response_s,"
        " resolution_due = reported_at + d.resolution_s FROM deadlines d"
        " WHERE d.category = incidents.category"
        "  AND d.severity = incidents.severity AND (response_due,"
        "  resolution_due) IS DISTINCT FROM (reported_at + d.response_s,"
        "  reported_at + d.resolution_s);"
        "UPDATE incidents SET response_due = NULL, resolution_due = NULL"
        " WHERE (response_due IS NOT NULL OR resolution_due IS NOT NULL)"
        " AND NOT EXISTS (SELECT 1 FROM deadlines d WHERE d.category ="
        " incidents.category AND d.severity = "
        "incidents.severity);" HT__PG_NAMES_MOVED;
    ht_status st = ht__pg_exec(s, sql, err);
    if (st == HT_OK) {
        s->deadlines_stale = false;
    }
    return st;
}

ht_status ht__pg_count(ht_store *s, const char *table, int64_t *n,
                       ht_error *err) {
    char sql[64];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    return ht__pg_number(s, sql, "counting", n, err);
}

/* ---- the change log ---- */

ht_status ht__pg_last_change(ht_store *s, int64_t *out, ht_error *err) {
    return ht__pg_number(s, "SELECT max(seq) FROM hutong_changes",
                         "reading the change log", out, err);
}

ht_status ht__pg_changes_after(ht_store *s, int64_t after, int64_t *ids,
                               bool *own, size_t max, size_t *n, int64_t *last,
                               bool *gap, ht_error *err) {
    *n = 0;
    *last = after;
    *gap = false;
    pg_params p = {0};
    ht__pg_i64(&p, after);
    ht__pg_text(&p, origin);
    ht__pg_i64(&p, (int64_t)max);
    PGresult *r = NULL;
    /* Pruned past @after: what was in between is lost. */
    ht_status st = ht__pg_run(
        s, -1,
        "SELECT seq, incident_id, origin IS NOT DISTINCT FROM $2, "
        "coalesce((SELECT value::bigint FROM hutong_meta WHERE key = "
        "'changes_pruned_to'), 0) > $1::bigint FROM hutong_changes WHERE "
        "seq > $1 ORDER BY seq LIMIT $3",
        &p, &r, "reading the change log", err);
    if (st != HT_OK) {
        return st;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        *last = ht__pg_col_time(r, i, 0);
        if (strcmp(PQgetvalue(r, i, 3), "t") == 0) {
            *gap = true;
        }
        bool mine = strcmp(PQgetvalue(r, i, 2), "t") == 0;
        if (own) {
            own[*n] = mine;
        }
        if (!mine || own) {
            ids[(*n)++] = ht__pg_col_time(r, i, 1);
        }
    }
    PQclear(r);
    return HT_OK;
}

ht_status ht__pg_changes_reachable(ht_store *s, int64_t seq, bool *out,
                                   ht_error *err) {
    pg_params p = {0};
    ht__pg_i64(&p, seq);
    PGresult *r = NULL;
    /* Nothing after @seq pruned, and @seq not past the log's end (a
     * database restored from an older copy). */
    ht_status st = ht__pg_run(
        s, -1,
        "WITH m AS (SELECT coalesce((SELECT value::bigint FROM hutong_meta "
        "WHERE key = 'changes_pruned_to'), 0) AS pruned) SELECT pruned <= $1 "
        "AND $1 <= greatest(pruned, (SELECT coalesce(max(seq), 0) FROM "
        "hutong_changes)) FROM m",
        &p, &r, "reading the change log", err);
    if (st == HT_OK) {
        *out = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
        PQclear(r);
    }
    return st;
}

ht_status ht__pg_prune_changes(ht_store *s, int64_t keep_s, ht_error *err) {
    char sql[400];
    snprintf(sql, sizeof sql,
             "WITH gone AS (DELETE FROM hutong_changes WHERE at < now() - "
             "interval '%lld seconds' RETURNING seq) INSERT INTO hutong_meta "
             "SELECT 'changes_pruned_to', max(seq)::text FROM gone HAVING "
             "count(*) > 0 ON CONFLICT (key) DO UPDATE SET value = "
             "excluded.value",
             (long long)keep_s);
    return ht__pg_exec(s, sql, err);
}

ht_status ht__pg_wait_change(ht_store *s, int ms, bool *woke, ht_error *err) {
    *woke = false;
    struct ht_pg *pg = s->pg;
    if (pg->standby) {
        /* A replica cannot LISTEN: the caller reads the log each time. */
        struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        return HT_OK;
    }
    if (!pg->listening) {
        ht_status st = ht__pg_exec(s, "LISTEN hutong_changes", err);
        if (st != HT_OK) {
            return st;
        }
        pg->listening = true;
    }
    PGnotify *nf;
    PQconsumeInput(pg->conn);
    while ((nf = PQnotifies(pg->conn)) != NULL) {
        *woke = true;
        PQfreemem(nf);
    }
    if (*woke) {
        return HT_OK;
    }
    struct pollfd fd = {.fd = PQsocket(pg->conn), .events = POLLIN};
    if (fd.fd < 0) {
        return ht_error_set(err, HT_EBUSY, "the database is unreachable");
    }
    if (poll(&fd, 1, ms) > 0) {
        if (!PQconsumeInput(pg->conn)) {
            return ht_error_set(err, HT_EBUSY,
                                "the database is unreachable: %s",
                                PQerrorMessage(pg->conn));
        }
        while ((nf = PQnotifies(pg->conn)) != NULL) {
            *woke = true;
            PQfreemem(nf);
        }
    }
    return HT_OK;
}
