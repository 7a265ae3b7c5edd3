/* SPDX-License-Identifier: Apache-2.0 */
/* The PostgreSQL store's bulk loads: inside ht_store_bulk_begin/end an
 * incident is not written row by row but appended to a batch, sent with
 * COPY into a temporary staging table and written by a few statements a
 * batch, meaning exactly what ht__pg_put_incident means row by row: new
 * external ids inserted (ids from the table's sequence), changed rows
 * updated with their status change logged, unchanged rows left alone. The
 * caller's transaction holds it all: a failure anywhere rolls back the
 * whole load. A batch never holds one external id twice (a repeat sends
 * the batch first), so a later row of a file sees an earlier one as the
 * row-by-row path does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hutong/datetime.h"
#include "hutong/hash.h"

#include "store_int.h"
#include "store_pg.h"

enum { BATCH_ROWS = 4000, BATCH_SLOTS = 8192 };

struct ht_pg_bulk {
    ht_buf *copy;               /* the batch as COPY text */
    size_t rows;                /* in the batch */
    ht_buf *events;             /* events by external id, as COPY text */
    size_t nevents;             /* in it */
    uint64_t seen[BATCH_SLOTS]; /* hashes of its external ids (0: free) */
    int64_t inserted, updated, unchanged; /* decided so far */
};

ht_status ht__pg_bulk_begin(ht_store *s, ht_error *err) {
    struct ht_pg *pg = s->pg;
    if (!(pg->bulk = calloc(1, sizeof *pg->bulk)) ||
        !(pg->bulk->copy = ht_buf_new()) ||
        !(pg->bulk->events = ht_buf_new())) {
        ht__pg_bulk_forget(s);
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    ht_status st = ht__pg_exec(
        s,
        "CREATE TEMP TABLE IF NOT EXISTS hutong_batch ("
        " n integer, external_id text COLLATE \"C\","
        " category text COLLATE \"C\", severity integer,"
        " source text COLLATE \"C\", status text COLLATE \"C\","
        " reported_at bigint, closed_at bigint, grid_code text COLLATE \"C\","
        " street_id bigint, lon double precision, lat double precision,"
        " satisfaction text COLLATE \"C\", whistle_kind text COLLATE \"C\","
        " state_at bigint, old_id bigint, new_id bigint, same boolean,"
        " state_changed boolean);"
        "CREATE TEMP TABLE IF NOT EXISTS hutong_event_batch ("
        " n integer, external_id text COLLATE \"C\", status text COLLATE"
        " \"C\", at bigint, department text COLLATE \"C\");"
        "TRUNCATE hutong_batch, hutong_event_batch",
        err);
    if (st != HT_OK) {
        ht__pg_bulk_forget(s);
    }
    return st;
}

void ht__pg_bulk_forget(ht_store *s) {
    if (s->pg && s->pg->bulk) {
        ht_buf_free(s->pg->bulk->copy);
        ht_buf_free(s->pg->bulk->events);
        free(s->pg->bulk);
        s->pg->bulk = NULL;
    }
}

/* @v as a COPY text field (NULL: \N), then a tab or the end of the line. */
static ht_status field(ht_buf *b, const char *v, bool last, ht_error *err) {
    ht_status st = HT_OK;
    if (!v) {
        st = ht_buf_append(b, "\\N", 2, err);
    }
    for (const char *c = v; c && *c && st == HT_OK; c++) {
        char esc[2] = {'\\', 0};
        switch (*c) {
        case '\\':
            esc[1] = '\\';
            break;
        case '\t':
            esc[1] = 't';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        default:
            break;
        }
        st = esc[1] ? ht_buf_append(b, esc, 2, err)
                    : ht_buf_append(b, c, 1, err);
    }
    return st == HT_OK ? ht_buf_append(b, last ? "\n" : "\t", 1, err) : st;
}

static ht_status field_i64(ht_buf *b, int64_t v, bool none, ht_error *err) {
    char num[32];
    snprintf(num, sizeof num, "%lld", (long long)v);
    return field(b, none ? NULL : num, false, err);
}

static ht_status field_f64(ht_buf *b, double v, ht_error *err) {
    char num[32];
    snprintf(num, sizeof num, "%.17g", v);
    return field(b, num, false, err);
}

/* Write the batch: COPY, then match, insert, update, log; the results
 * counted and the changes noted. */
/* COPY @data into @table (@cols); @what names the rows in errors. */
static ht_status copy_in(ht_store *s, const char *table_cols,
                         const ht_buf *data, const char *what, ht_error *err) {
    PGconn *conn = s->pg->conn;
    char sql[512];
    snprintf(sql, sizeof sql, "COPY %s FROM STDIN", table_cols);
    PGresult *r = PQexec(conn, sql);
    bool in_copy = PQresultStatus(r) == PGRES_COPY_IN;
    PQclear(r);
    if (!in_copy ||
        PQputCopyData(conn, (const char *)data->data, (int)data->len) != 1 ||
        PQputCopyEnd(conn, NULL) != 1) {
        return ht_error_set(err, HT_EDB, "writing %s: %s", what,
                            PQerrorMessage(conn));
    }
    ht_status st = HT_OK;
    while ((r = PQgetResult(conn)) != NULL) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK && st == HT_OK) {
            st = ht_error_set(err, HT_EINVAL, "writing %s: %s", what,
                              PQresultErrorMessage(r));
        }
        PQclear(r);
    }
    return st;
}

static ht_status flush_incidents(ht_store *s, ht_error *err) {
    struct ht_pg_bulk *b = s->pg->bulk;
    PGresult *r = NULL;
    ht_status st = copy_in(s,
                           "hutong_batch (n, external_id, category, "
                           "severity, source, status, reported_at, closed_at, "
                           "grid_code, street_id, lon, lat, satisfaction, "
                           "whistle_kind, state_at)",
                           b->copy, "incidents", err);
    static const char *const steps[] = {
        /* What each row finds: its incident, and whether it would change. */
        "UPDATE hutong_batch b SET old_id = i.id, state_changed = i.status "
        "<> b.status, same = i.category = b.category AND i.severity = "
        "b.severity AND i.source = b.source AND i.status = b.status AND "
        "i.reported_at = b.reported_at AND i.closed_at IS NOT DISTINCT FROM "
        "b.closed_at AND i.grid_code IS NOT DISTINCT FROM b.grid_code AND "
        "i.street_id IS NOT DISTINCT FROM b.street_id AND i.satisfaction IS "
        "NOT DISTINCT FROM b.satisfaction AND i.whistle_kind IS NOT "
        "DISTINCT FROM b.whistle_kind AND ST_X(i.geom) = b.lon AND "
        "ST_Y(i.geom) = b.lat FROM incidents i WHERE i.external_id = "
        "b.external_id",
        /* New ones get their ids in the order of the file. */
        "UPDATE hutong_batch SET new_id = nextval(pg_get_serial_sequence("
        "'incidents', 'id')) FROM (SELECT n AS k FROM hutong_batch WHERE "
        "old_id IS NULL ORDER BY n) o WHERE n = o.k",
        "INSERT INTO incidents (id, external_id, category, severity, source, "
        "status, reported_at, closed_at, grid_code, street_id, geom, "
        "satisfaction, whistle_kind, dispatched_at, response_due, "
        "resolution_due) SELECT b.new_id, b.external_id, b.category, "
        "b.severity, b.source, b.status, b.reported_at, b.closed_at, "
        "b.grid_code, b.street_id, ST_SetSRID(ST_MakePoint(b.lon, b.lat), "
        "4326), b.satisfaction, b.whistle_kind, CASE WHEN b.status = "
        "'dispatched' THEN b.state_at END, b.reported_at + d.response_s, "
        "b.reported_at + d.resolution_s FROM hutong_batch b LEFT JOIN "
        "deadlines d ON d.category = b.category AND d.severity = b.severity "
        "WHERE b.old_id IS NULL ORDER BY b.n",
        "UPDATE incidents i SET category = b.category, severity = "
        "b.severity, source = b.source, status = b.status, reported_at = "
        "b.reported_at, closed_at = b.closed_at, grid_code = b.grid_code, "
        "street_id = b.street_id, geom = ST_SetSRID(ST_MakePoint(b.lon, "
        "b.lat), 4326), satisfaction = b.satisfaction, whistle_kind = "
        "b.whistle_kind, dispatched_at = CASE WHEN b.status = 'reported' "
        "THEN NULL WHEN b.status = 'dispatched' THEN "
        "least(coalesce(i.dispatched_at, b.state_at), b.state_at) ELSE "
        "i.dispatched_at END, handling_at = CASE WHEN b.state_changed AND "
        "b.status = 'handling' THEN least(coalesce(i.handling_at, "
        "b.state_at), b.state_at) ELSE i.handling_at END, response_due = "
        "b.reported_at + (SELECT response_s FROM deadlines d WHERE "
        "d.category = b.category AND d.severity = b.severity), "
        "resolution_due = b.reported_at + (SELECT resolution_s FROM "
        "deadlines d WHERE d.category = b.category AND d.severity = "
        "b.severity) FROM hutong_batch b WHERE b.old_id = i.id AND NOT "
        "b.same",
        /* The life-cycle log records the changes hutong sees. */
        "INSERT INTO incident_events (incident_id, status, at) SELECT "
        "old_id, status, state_at FROM hutong_batch WHERE old_id IS NOT "
        "NULL AND NOT same AND state_changed ORDER BY n",
    };
    for (size_t k = 0; st == HT_OK && k < sizeof steps / sizeof *steps; k++) {
        st = ht__pg_run(s, -1, steps[k], NULL, NULL, "writing incidents", err);
    }
    if (st == HT_OK) {
        st = ht__pg_run(s, -1,
                        "SELECT coalesce(new_id, old_id), old_id IS NULL, "
                        "coalesce(same, false) FROM hutong_batch ORDER BY n",
                        NULL, &r, "writing incidents", err);
    }
    for (int i = 0; st == HT_OK && i < PQntuples(r); i++) {
        bool is_new = strcmp(PQgetvalue(r, i, 1), "t") == 0;
        bool same = strcmp(PQgetvalue(r, i, 2), "t") == 0;
        b->inserted += is_new;
        b->updated += !is_new && !same;
        b->unchanged += same;
        if (!same) {
            st = ht__store_changed(s, ht__pg_col_time(r, i, 0), err);
        }
    }
    if (r) {
        PQclear(r);
    }
    if (st == HT_OK) {
        s->pg->dirty = true;
        st = ht__pg_exec(s, "TRUNCATE hutong_batch", err);
    }
    ht_buf_clear(b->copy);
    b->rows = 0;
    memset(b->seen, 0, sizeof b->seen);
    return st;
}

/* The events held back, after the incidents they name (this batch's or an
 * earlier one's): each one as ht__pg_put_event writes it, the incident's
 * dispatch (its earliest, and the last department named) and first
 * report from the scene (its earliest) set as those events in their order
 * set them. */
static ht_status flush_events(ht_store *s, ht_error *err) {
    struct ht_pg_bulk *b = s->pg->bulk;
    ht_status st = copy_in(s,
                           "hutong_event_batch (n, external_id, status, at, "
                           "department)",
                           b->events, "events", err);
    static const char *const steps[] = {
        "UPDATE incidents i SET dispatched_at = least(coalesce("
        "i.dispatched_at, e.at), e.at), department = coalesce(e.department, "
        "i.department) FROM (SELECT external_id, min(at) AS at, (array_agg("
        "department ORDER BY n DESC) FILTER (WHERE department IS NOT "
        "NULL))[1] AS department FROM hutong_event_batch WHERE status = "
        "'dispatched' GROUP BY external_id) e WHERE i.external_id = "
        "e.external_id",
        "UPDATE incidents i SET handling_at = least(coalesce(i.handling_at, "
        "e.at), e.at) FROM (SELECT external_id, min(at) AS at FROM "
        "hutong_event_batch WHERE status = 'handling' GROUP BY external_id) "
        "e WHERE i.external_id = e.external_id",
    };
    PGresult *r = NULL;
    if (st == HT_OK) {
        st = ht__pg_run(s, -1,
                        "WITH w AS (INSERT INTO incident_events (incident_id, "
                        "status, at, department) SELECT i.id, e.status, e.at, "
                        "e.department FROM hutong_event_batch e JOIN "
                        "incidents i ON i.external_id = e.external_id ORDER "
                        "BY e.n RETURNING 1) SELECT count(*) FROM w",
                        NULL, &r, "writing events", err);
    }
    if (st == HT_OK) {
        long long got = atoll(PQgetvalue(r, 0, 0));
        if (got != (long long)b->nevents) {
            st = ht_error_set(err, HT_EINVAL,
                              "writing events: %lld of %zu name an incident "
                              "written",
                              got, b->nevents);
        }
    }
    if (r) {
        PQclear(r);
    }
    for (size_t k = 0; st == HT_OK && k < sizeof steps / sizeof *steps; k++) {
        st = ht__pg_run(s, -1, steps[k], NULL, NULL, "writing events", err);
    }
    if (st == HT_OK) {
        st = ht__pg_exec(s, "TRUNCATE hutong_event_batch", err);
    }
    ht_buf_clear(b->events);
    b->nevents = 0;
    return st;
}

static ht_status flush(ht_store *s, ht_error *err) {
    struct ht_pg_bulk *b = s->pg->bulk;
    ht_status st = HT_OK;
    if (b && b->rows) {
        st = flush_incidents(s, err);
    }
    if (st == HT_OK && b && b->nevents) {
        st = flush_events(s, err);
    }
    return st;
}

/* Whether the batch holds external id @eid already (0 hashes mean free;
 * a hash seen is a repeat, or rarely another id with the same hash: either
 * way the batch goes first). Records it otherwise. */
static bool seen_before(struct ht_pg_bulk *b, const char *eid) {
    uint64_t h = ht_hash64(HT_HASH64_INIT, eid, strlen(eid)) | 1;
    for (size_t k = h % BATCH_SLOTS;; k = (k + 1) % BATCH_SLOTS) {
        if (b->seen[k] == h) {
            return true;
        }
        if (!b->seen[k]) {
            b->seen[k] = h;
            return false;
        }
    }
}

ht_status ht__pg_bulk_put_incident(ht_store *s, const ht_incident_rec *rec,
                                   const char *grid_code, int64_t street_id,
                                   int64_t state_at, ht_error *err) {
    struct ht_pg_bulk *b = s->pg->bulk;
    ht_status st = HT_OK;
    if (rec->external_id && seen_before(b, rec->external_id)) {
        if ((st = flush(s, err)) != HT_OK) {
            return st;
        }
        seen_before(b, rec->external_id);
    }
    ht_buf *c = b->copy;
    char n[24];
    snprintf(n, sizeof n, "%zu", b->rows);
    if ((st = field(c, n, false, err)) != HT_OK ||
        (st = field(c, rec->external_id, false, err)) != HT_OK ||
        (st = field(c, rec->category, false, err)) != HT_OK ||
        (st = field_i64(c, rec->severity, false, err)) != HT_OK ||
        (st = field(c, ht_model_source_name(rec->source), false, err)) !=
            HT_OK ||
        (st = field(c, ht_model_state_name(rec->state), false, err)) != HT_OK ||
        (st = field_i64(c, rec->reported_at, false, err)) != HT_OK ||
        (st = field_i64(c, rec->closed_at, rec->closed_at == HT_TIME_NONE,
                        err)) != HT_OK ||
        (st = field(c, grid_code, false, err)) != HT_OK ||
        (st = field_i64(c, street_id, street_id < 0, err)) != HT_OK ||
        (st = field_f64(c, rec->lon, err)) != HT_OK ||
        (st = field_f64(c, rec->lat, err)) != HT_OK ||
        (st = field(c, ht__store_sat_text(rec->satisfaction), false, err)) !=
            HT_OK ||
        (st = field(c, ht__store_whistle_text(rec->whistle), false, err)) !=
            HT_OK) {
        return st;
    }
    snprintf(n, sizeof n, "%lld", (long long)state_at);
    if ((st = field(c, n, true, err)) != HT_OK) {
        return st;
    }
    return ++b->rows >= BATCH_ROWS ? flush(s, err) : HT_OK;
}

ht_status ht__pg_bulk_put_event(ht_store *s, const char *external_id,
                                ht_state state, int64_t at,
                                const char *department, ht_error *err) {
    struct ht_pg_bulk *b = s->pg->bulk;
    ht_buf *c = b->events;
    char n[24];
    snprintf(n, sizeof n, "%zu", b->nevents);
    ht_status st;
    if ((st = field(c, n, false, err)) != HT_OK ||
        (st = field(c, external_id, false, err)) != HT_OK ||
        (st = field(c, ht_model_state_name(state), false, err)) != HT_OK ||
        (st = field_i64(c, at, false, err)) != HT_OK ||
        (st = field(c, department, true, err)) != HT_OK) {
        return st;
    }
    return ++b->nevents >= 4 * BATCH_ROWS ? flush(s, err) : HT_OK;
}

ht_status ht__pg_bulk_end(ht_store *s, ht_error *err) {
    ht_status st = flush(s, err);
    ht__pg_bulk_forget(s);
    return st;
}

ht_status ht__pg_bulk_flush(ht_store *s, ht_import_counts *counts,
                            ht_error *err) {
    struct ht_pg_bulk *b = s->pg->bulk;
    if (!b) {
        return HT_OK;
    }
    ht_status st = flush(s, err);
    counts->inserted += b->inserted;
    counts->updated += b->updated;
    counts->unchanged += b->unchanged;
    b->inserted = b->updated = b->unchanged = 0;
    return st;
}
