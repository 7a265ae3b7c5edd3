/* SPDX-License-Identifier: Apache-2.0 */
/* The store on PostgreSQL + PostGIS: the same operations as the SpatiaLite
 * store (store.h), chosen by a --db that is a postgresql:// URL. Each
 * public ht_store_* function hands its work here when the store's pg is
 * set (store_pg.c: the connection, schema, transactions and helpers;
 * store_pg_write.c: writes; store_pg_read.c: reads). */
#ifndef HUTONG_STORE_PG_H
#define HUTONG_STORE_PG_H

#include <libpq-fe.h>

#include "hutong/store.h"

/* Whether @path names a PostgreSQL database (postgresql:// or
 * postgres://) rather than a SpatiaLite file. */
bool ht__store_is_pg(const char *path);

/* Parameters of one statement, all sent as text (NULL: SQL NULL) but for
 * blobs, sent binary. */
enum { PG_MAX_PARAMS = 40 };
typedef struct pg_params {
    int n;
    const char *v[PG_MAX_PARAMS];
    int len[PG_MAX_PARAMS];
    int fmt[PG_MAX_PARAMS];
    char num[PG_MAX_PARAMS][32];
} pg_params;

void ht__pg_text(pg_params *p, const char *v);
void ht__pg_i64(pg_params *p, int64_t v);
void ht__pg_time(pg_params *p, int64_t t); /* HT_TIME_NONE: NULL */
void ht__pg_f64(pg_params *p, double v);
void ht__pg_blob(pg_params *p, const void *data, size_t len);

/* Statements prepared once per connection, by slot. */
enum {
    PQ_CAT_SELECT,
    PQ_CAT_INSERT,
    PQ_CAT_UPDATE,
    PQ_INC_INSERT,
    PQ_INC_SELECT,
    PQ_INC_UPDATE,
    PQ_EVENT_INSERT,
    PQ_INC_DISPATCH,
    PQ_INC_HANDLING,
    PQ_INC_STEP,
    PQ_INC_HEAD_EXT,
    PQ_INC_HEAD_ID,
    PQ_GRID_PARENT,
    PQ_GRID_WITHIN,
    PQ_INC_ROW,
    PQ_INC_RELOCATE,
    PQ_COUNT
};

struct ht_pg_bulk;

struct ht_pg {
    struct ht_pg_bulk *bulk; /* a bulk load's batch (store_pg_bulk.c) */
    PGconn *conn;
    bool dirty;     /* a statement of the open transaction changed a row */
    int cursors;    /* open walks (cursor names are by depth) */
    bool walk_tx;   /* a walk opened the read transaction it runs in */
    bool listening; /* LISTEN hutong_changes was sent on this session */
    bool standby;   /* a replica (in recovery): no LISTEN, no writes */
    bool prepared[PQ_COUNT];
};

/* Open @s->pg on @url (the store's other fields set by the caller);
 * create the schema with HT_STORE_CREATE on an empty database, migrate an
 * older one. */
ht_status ht__pg_open(ht_store *s, const char *url, int flags, ht_error *err);
void ht__pg_close(ht_store *s);

/* Run @sql with @p (NULL: none); *out (may be NULL) receives the result
 * of a statement returning rows, the caller's to PQclear. @slot >= 0
 * prepares the statement once per connection. A statement that changed
 * rows marks the transaction dirty. */
ht_status ht__pg_run(ht_store *s, int slot, const char *sql, const pg_params *p,
                     PGresult **out, const char *what, ht_error *err);

/* The one number @sql answers (0 for no row or NULL). */
ht_status ht__pg_number(ht_store *s, const char *sql, const char *what,
                        int64_t *out, ht_error *err);

/* Run SQL text of one or more statements without parameters. */
ht_status ht__pg_exec(ht_store *s, const char *sql, ht_error *err);

/* Walk the rows of @sql (with @p) in batches through a cursor, so a
 * large table never sits whole in memory and @fn may run other
 * statements. */
typedef ht_status (*ht__pg_row_fn)(PGresult *r, int row, void *ud,
                                   ht_error *err);
ht_status ht__pg_walk(ht_store *s, const char *sql, const pg_params *p,
                      ht__pg_row_fn fn, void *ud, const char *what,
                      ht_error *err);

/* Column helpers: text or NULL; a time (or id) or HT_TIME_NONE; a double;
 * whether a text column equals @v (NULL equals NULL); a bytea column
 * (hex) decoded into @out. */
const char *ht__pg_col_text(PGresult *r, int row, int col);
int64_t ht__pg_col_time(PGresult *r, int row, int col);
double ht__pg_col_f64(PGresult *r, int row, int col);
bool ht__pg_col_text_eq(PGresult *r, int row, int col, const char *v);
ht_status ht__pg_col_bytea(PGresult *r, int row, int col, ht_buf *out,
                           ht_error *err);

/* ht__store_where_sql's "?" placeholders numbered $@first on. */
ht_status ht__pg_number_params(const char *sql, int first, ht_buf *out,
                               ht_error *err);

/* Bulk loads (store_pg_bulk.c): begin (in the caller's transaction),
 * hold back an incident, write the batch and take the counts decided since
 * the last call, end (the rest written), forget (a rollback). */
ht_status ht__pg_bulk_begin(ht_store *s, ht_error *err);
ht_status ht__pg_bulk_put_incident(ht_store *s, const ht_incident_rec *rec,
                                   const char *grid_code, int64_t street_id,
                                   int64_t state_at, ht_error *err);
ht_status ht__pg_bulk_flush(ht_store *s, ht_import_counts *counts,
                            ht_error *err);
ht_status ht__pg_bulk_put_event(ht_store *s, const char *external_id,
                                ht_state state, int64_t at,
                                const char *department, ht_error *err);
ht_status ht__pg_bulk_end(ht_store *s, ht_error *err);
void ht__pg_bulk_forget(ht_store *s);

/* The operations of store.h, for a store on PostgreSQL. */
ht_status ht__pg_last_change(ht_store *s, int64_t *out, ht_error *err);
ht_status ht__pg_changes_after(ht_store *s, int64_t after, int64_t *ids,
                               bool *own, size_t max, size_t *n, int64_t *last,
                               bool *gap, ht_error *err);
ht_status ht__pg_wait_change(ht_store *s, int ms, bool *woke, ht_error *err);
ht_status ht__pg_prune_changes(ht_store *s, int64_t keep_s, ht_error *err);
ht_status ht__pg_changes_reachable(ht_store *s, int64_t seq, bool *out,
                                   ht_error *err);

/* Tokens (store_pg_tokens.c): the table, its version, read, add, revoke. */
extern const char ht__pg_schema_tokens[];
ht_status ht__pg_tokens_version(ht_store *s, int64_t *out, ht_error *err);
ht_status ht__pg_tokens_load(ht_store *s, ht_tokens **out, int64_t *version,
                             ht_error *err);
ht_status ht__pg_token_add(ht_store *s, const char *hash, const char *scope,
                           bool write, const char *name, ht_error *err);
ht_status ht__pg_token_revoke(ht_store *s, const char *name, size_t *removed,
                              ht_error *err);
ht_status ht__pg_meta_number(ht_store *s, const char *key, int64_t *out,
                             ht_error *err);
ht_status ht__pg_database_id(ht_store *s, int64_t *out, ht_error *err);
ht_status ht__pg_begin(ht_store *s, ht_error *err);
ht_status ht__pg_commit(ht_store *s, ht_error *err);
void ht__pg_rollback(ht_store *s);
ht_status ht__pg_rebuild_tree(ht_store *s, ht_error *err);
ht_status ht__pg_rebuild_deadlines(ht_store *s, ht_error *err);
ht_status ht__pg_count(ht_store *s, const char *table, int64_t *n,
                       ht_error *err);

ht_status ht__pg_put_category(ht_store *s, const ht_category_rec *rec,
                              ht_put_result *res, ht_error *err);
ht_status ht__pg_set_satisfaction(ht_store *s, int64_t id, ht_satisfaction v,
                                  ht_error *err);
ht_status ht__pg_put_rule(ht_store *s, const ht_rule_rec *rec,
                          ht_put_result *res, ht_error *err);
ht_status ht__pg_put_grid(ht_store *s, const ht_grid_rec *rec,
                          ht_put_result *res, ht_bbox *old_bbox, ht_error *err);
ht_status ht__pg_put_street(ht_store *s, const ht_street_rec *rec,
                            ht_put_result *res, int64_t *id, ht_bbox *old_bbox,
                            ht_error *err);
ht_status ht__pg_put_incident(ht_store *s, const ht_incident_rec *rec,
                              const char *grid_code, int64_t street_id,
                              ht_put_result *res, int64_t *id, ht_error *err);
ht_status ht__pg_set_grid_parent(ht_store *s, const char *code,
                                 const char *parent_code, bool *changed,
                                 ht_error *err);
ht_status ht__pg_category_orphan(ht_store *s, char code[64], ht_error *err);
ht_status ht__pg_put_event(ht_store *s, int64_t incident_id, ht_state state,
                           int64_t at, const char *department, ht_error *err);
ht_status ht__pg_step_incident(ht_store *s, int64_t id, ht_state to, int64_t at,
                               const char *department, ht_error *err);
ht_status ht__pg_relocate(ht_store *s, const ht_bbox *bbox,
                          ht_store_locate_fn fn, void *ud, size_t *changed,
                          ht_error *err);

ht_status ht__pg_each_department(ht_store *s, ht_store_name_fn fn, void *ud,
                                 ht_error *err);
ht_status ht__pg_each_deadline(ht_store *s, ht_store_deadline_fn fn, void *ud,
                               ht_error *err);
ht_status ht__pg_category_exists(ht_store *s, const char *code, bool *exists,
                                 ht_error *err);
ht_status ht__pg_find_incident(ht_store *s, const char *external_id,
                               bool *found, ht_incident_head *out,
                               ht_error *err);
ht_status ht__pg_get_incident(ht_store *s, int64_t id, bool *found,
                              ht_incident_head *out, ht_error *err);
ht_status ht__pg_grid_within(ht_store *s, const char *code,
                             const char *ancestor, bool *within, ht_error *err);
ht_status ht__pg_each_category(ht_store *s, ht_store_category_fn fn, void *ud,
                               ht_error *err);
ht_status ht__pg_each_grid_link(ht_store *s, ht_store_link_fn fn, void *ud,
                                ht_error *err);
ht_status ht__pg_grid_exists(ht_store *s, const char *code, bool *exists,
                             ht_error *err);
ht_status ht__pg_grid_geometry(ht_store *s, const char *code, ht_geom **out,
                               ht_error *err);
ht_status ht__pg_each_incident(ht_store *s, const int64_t *ids, size_t n,
                               ht_store_incident_fn fn, void *ud,
                               ht_error *err);
ht_status ht__pg_each_incident_where(ht_store *s, const ht_filter *f,
                                     ht_store_incident_fn fn, void *ud,
                                     ht_error *err);
ht_status ht__pg_each_fact(ht_store *s, const ht_filter *f, ht_group by,
                           ht_store_fact_fn fn, void *ud, ht_error *err);
ht_status ht__pg_group_counts(ht_store *s, const ht_filter *f, ht_group by,
                              ht_store_count_fn fn, void *ud, ht_error *err);
ht_status ht__pg_group_info(ht_store *s, ht_group by, const char *key,
                            bool *found, ht_group_info *out, ht_error *err);
ht_status ht__pg_topic_counts(ht_store *s, ht_group by, const char *within,
                              int64_t before, int64_t start, int64_t next,
                              int64_t min_count, ht_store_topic_fn fn, void *ud,
                              ht_error *err);
ht_status ht__pg_summary(ht_store *s, ht_summary_section which,
                         ht_store_summary_fn fn, void *ud, ht_error *err);
ht_status ht__pg_each_grid(ht_store *s, ht_store_grid_fn fn, void *ud,
                           ht_error *err);
ht_status ht__pg_each_street(ht_store *s, ht_store_street_fn fn, void *ud,
                             ht_error *err);

#endif
