/* SPDX-License-Identifier: Apache-2.0 */
/* The store: the whole contract between hutong and its database. Every
 * query hutong makes is one of these operations; SpatiaLite implements
 * them (store.c, store_write.c, store_read.c), and so does PostgreSQL +
 * PostGIS (store_pg*.c) for a database URL, the same schema and meaning. */
#ifndef HUTONG_STORE_H
#define HUTONG_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "hutong/error.h"
#include "hutong/filter.h"
#include "hutong/geom.h"
#include "hutong/model.h"
#include "hutong/token.h"

/** Schema version written by this build; older files are migrated (2
 * added grid_tree: every grid with each of its ancestors). */
#define HT_STORE_SCHEMA_VERSION 4

/**
 * An open store: one SQLite connection with SpatiaLite loaded, and its
 * prepared statements. Use it from one thread at a time; open one per
 * thread.
 */
typedef struct ht_store ht_store;

/** Flags for ht_store_open. */
enum {
    HT_STORE_READONLY = 0,
    HT_STORE_WRITE = 1,  /**< open read-write (and migrate if old) */
    HT_STORE_CREATE = 3, /**< read-write, create file and schema if absent */
    /** With a database URL whose schema is known to be current: open even
     * while the database server is unreachable; the connection is made at
     * the first statement, which fails with HT_EBUSY until it can be. */
    HT_STORE_LAZY = 4,
};

/** Rows a bulk load wrote, by what became of them. */
typedef struct ht_import_counts {
    int64_t inserted, updated, unchanged;
} ht_import_counts;

/** What an upsert did. */
typedef enum ht_put_result {
    HT_PUT_INSERTED = 0,
    HT_PUT_UPDATED,
    HT_PUT_UNCHANGED,
    /** Held back by a bulk load (PostgreSQL's batches): decided, and
     * counted, by ht_store_bulk_flush. */
    HT_PUT_PENDING
} ht_put_result;

/** Whether @db names a PostgreSQL + PostGIS database (a postgresql:// or
 * postgres:// URL, the libpq connection URI) rather than a SpatiaLite
 * file. Cannot fail. */
bool ht_store_is_url(const char *db);

/**
 * Open the store at @path (a file, or a database URL: see
 * ht_store_is_url). With HT_STORE_CREATE a missing file or an empty
 * database gets the schema (WAL mode, spatial indexes). A file of an older
 * schema version is migrated first, one transaction a version (through a
 * connection of its own when opened for reading; HT_EIO when the file
 * cannot be written); one of a newer version, or a database that is not
 * hutong's, is refused (HT_EINVAL). *out is NULL on error and nothing is
 * left open.
 */
ht_status ht_store_open(const char *path, int flags, ht_store **out,
                        ht_error *err);

/** The path @s was opened with (borrowed from @s), for another connection
 * to the same store. Cannot fail. */
const char *ht_store_path(const ht_store *s);

/** Close @s; NULL is a no-op. Rolls back an open transaction. */
void ht_store_close(ht_store *s);

/** Schema version of the open file. Cannot fail. */
int ht_store_schema_version(const ht_store *s);

/** Begin a write transaction (BEGIN IMMEDIATE). HT_EBUSY when locked. */
ht_status ht_store_begin(ht_store *s, ht_error *err);

/** The data version: 0 for a new file, one more at every commit that
 * changed a row. */
ht_status ht_store_data_version(ht_store *s, int64_t *out, ht_error *err);

/** How many data versions commits through @s made. */
int64_t ht_store_versions_made(const ht_store *s);

/** Commit. On error the transaction is rolled back: nothing changes. */
ht_status ht_store_commit(ht_store *s, ht_error *err);

/**
 * Start bulk loading of incidents inside the open transaction: SpatiaLite's
 * per-row triggers on the incidents table (geometry check, timestamps,
 * spatial index) are set aside and the store keeps the spatial index itself
 * (one by one for a small load, rebuilt packed for a large one). When
 * @expected_rows (an estimate; 0 if unknown) is at least 10,000 and half
 * the table, the secondary indexes are also dropped and rebuilt at the end.
 * Commit (or ht_store_bulk_end) restores everything; so does a rollback.
 * Worth it from a few thousand rows: it changes the schema, which other
 * connections must notice.
 */
ht_status ht_store_bulk_begin(ht_store *s, size_t expected_rows, ht_error *err);

/**
 * Write the incidents a bulk load holds back (on PostgreSQL, put_incident
 * answers HT_PUT_PENDING and sends them in batches through COPY) and add
 * how many of them were inserted, updated and left unchanged since the
 * last call to the three counts. A SpatiaLite load holds nothing back.
 */
ht_status ht_store_bulk_flush(ht_store *s, ht_import_counts *counts,
                              ht_error *err);

/** End bulk mode (a no-op outside it). On error the transaction is rolled
 * back. */
ht_status ht_store_bulk_end(ht_store *s, ht_error *err);

/** Roll back the open transaction, if any. Cannot fail. */
void ht_store_rollback(ht_store *s);

/**
 * Insert or update a category by code. HT_EINVAL for a missing code, name
 * or dictionary. Call inside a transaction; on error the row is unchanged.
 */
ht_status ht_store_put_category(ht_store *s, const ht_category_rec *rec,
                                ht_put_result *res, ht_error *err);

/** Set the resident's verdict on evaluated incident @id. HT_ENOTFOUND
 * when there is no such evaluated incident. In a transaction. */
ht_status ht_store_set_satisfaction(ht_store *s, int64_t id, ht_satisfaction v,
                                    ht_error *err);

/** A deadline rule: per category (it and its descendants, unless they
 * have their own) and severity (0: any), the response deadline (reported
 * to dispatched) and the resolution deadline (reported to closed). */
typedef struct ht_rule_rec {
    const char *category;
    int severity;
    double response_h, resolution_h;
} ht_rule_rec;

/**
 * Insert or replace a rule. At the commit every category's deadlines are
 * resolved again and every incident's deadlines recomputed. HT_EINVAL for a
 * missing category, a severity outside 0..3, a response deadline not above
 * 0 or above the resolution deadline. Call inside a transaction.
 */
ht_status ht_store_put_rule(ht_store *s, const ht_rule_rec *rec,
                            ht_put_result *res, ht_error *err);

typedef ht_status (*ht_store_name_fn)(const char *name, void *ud,
                                      ht_error *err);

/** Every department incidents were dispatched to, once each. Reads only. */
ht_status ht_store_each_department(ht_store *s, ht_store_name_fn fn, void *ud,
                                   ht_error *err);

/** Called for each resolved deadline: a category and severity (1..3)
 * with its response and resolution deadlines in seconds after the report. */
typedef ht_status (*ht_store_deadline_fn)(const char *category, int severity,
                                          int64_t response_s,
                                          int64_t resolution_s, void *ud,
                                          ht_error *err);

/** Every deadline the rules resolve to (what incidents' deadlines are:
 * reported_at + these). Reads only. */
ht_status ht_store_each_deadline(ht_store *s, ht_store_deadline_fn fn, void *ud,
                                 ht_error *err);

/** True when category @code exists. */
ht_status ht_store_category_exists(ht_store *s, const char *code, bool *exists,
                                   ht_error *err);

/**
 * Insert or update a grid by code; the geometry is stored as MULTIPOLYGON.
 * *old_bbox (may be NULL) receives the previous geometry's box on update,
 * else an empty box. Call inside a transaction.
 */
ht_status ht_store_put_grid(ht_store *s, const ht_grid_rec *rec,
                            ht_put_result *res, ht_bbox *old_bbox,
                            ht_error *err);

/**
 * Insert or update a street segment by source id (a new row for a NULL
 * source id). *id receives its row id. Call inside a transaction.
 */
ht_status ht_store_put_street(ht_store *s, const ht_street_rec *rec,
                              ht_put_result *res, int64_t *id,
                              ht_bbox *old_bbox, ht_error *err);

/**
 * Insert or update an incident by external id (NULL: always a new row),
 * with its grid code (NULL for none) and street id (-1 for none). An update
 * that changes the status appends that status to incident_events (at
 * rec->state_at, else closed_at for closed states, else reported_at); a new
 * incident's first state is its own row, so nothing is logged for it.
 * *id receives the row id. Call inside a transaction.
 */
ht_status ht_store_put_incident(ht_store *s, const ht_incident_rec *rec,
                                const char *grid_code, int64_t street_id,
                                ht_put_result *res, int64_t *id, ht_error *err);

/**
 * Set the parent of grid @code; *changed tells whether it was different
 * (an equal parent writes nothing). Call inside a transaction.
 */
ht_status ht_store_set_grid_parent(ht_store *s, const char *code,
                                   const char *parent_code, bool *changed,
                                   ht_error *err);

/**
 * Find a category whose parent_code names no category: HT_EINVAL with its
 * code in @code (64 bytes), or HT_OK when every parent exists.
 */
ht_status ht_store_category_orphan(ht_store *s, char code[64], ht_error *err);

/** Append a life-cycle event. Call inside a transaction. */
ht_status ht_store_put_event(ht_store *s, int64_t incident_id, ht_state state,
                             int64_t at, const char *department, ht_error *err);

/**
 * Append a life-cycle event to the incident of @external_id whose put was
 * held back (HT_PUT_PENDING) by this bulk load: the event is held back with
 * it and written after it, as ht_store_put_event would. HT_EINVAL outside a
 * bulk load that holds incidents back.
 */
ht_status ht_store_put_event_pending(ht_store *s, const char *external_id,
                                     ht_state state, int64_t at,
                                     const char *department, ht_error *err);

/** Whether a bulk load here holds incidents back (PostgreSQL's batches). */
bool ht_store_bulk_batches(const ht_store *s);

/** What the store holds of an incident's place and life cycle. */
typedef struct ht_incident_head {
    int64_t id;
    ht_state state;
    int64_t reported_at; /**< UTC seconds */
    int64_t closed_at;   /**< UTC seconds, or HT_TIME_NONE */
    int64_t last_at;     /**< its latest logged step, else reported_at */
    char grid_code[64];  /**< "" when it lies in no grid */
} ht_incident_head;

/**
 * Look up the incident with external id @external_id: *found tells whether
 * it exists, and then *out holds its head. Reads only.
 */
ht_status ht_store_find_incident(ht_store *s, const char *external_id,
                                 bool *found, ht_incident_head *out,
                                 ht_error *err);

/** As ht_store_find_incident, by row id. */
ht_status ht_store_get_incident(ht_store *s, int64_t id, bool *found,
                                ht_incident_head *out, ht_error *err);

/**
 * One life-cycle step of incident @id: its status becomes @to (closing sets
 * closed_at to @at unless it has one) and the step is appended to
 * incident_events with @department (may be NULL). The caller checks that
 * the step is allowed. HT_ENOTFOUND when there is no such incident. Call
 * inside a transaction; on error roll it back.
 */
ht_status ht_store_step_incident(ht_store *s, int64_t id, ht_state to,
                                 int64_t at, const char *department,
                                 ht_error *err);

/**
 * *within: whether grid @code is @ancestor or lies under it (in
 * grid_tree; NULL or "" @code: false). Reads only.
 */
ht_status ht_store_grid_within(ht_store *s, const char *code,
                               const char *ancestor, bool *within,
                               ht_error *err);

/**
 * Note the incidents written from now on — inserted, updated, re-located
 * or stepped — when @on, until the next call (which forgets them). Cannot
 * fail.
 */
void ht_store_track_changes(ht_store *s, bool on);

/**
 * The incidents written while tracking, sorted and unique; *n gets their
 * number. Borrowed until the next write or ht_store_track_changes.
 */
const int64_t *ht_store_changes(ht_store *s, size_t *n);

/** Set the connection's page cache to @mb MiB. Cannot fail. */
void ht_store_set_cache_mb(ht_store *s, int mb);

/** Called for each category; a non-HT_OK return stops the walk. */
typedef ht_status (*ht_store_category_fn)(const ht_category_rec *rec, void *ud,
                                          ht_error *err);

/** Walk every category (code order). Reads only. */
ht_status ht_store_each_category(ht_store *s, ht_store_category_fn fn, void *ud,
                                 ht_error *err);

/** Called for each grid's place in the tree (no geometry). */
typedef ht_status (*ht_store_link_fn)(const char *code, const char *parent_code,
                                      ht_level level, void *ud, ht_error *err);

/** Walk every grid's code, parent and level (code order). Reads only. */
ht_status ht_store_each_grid_link(ht_store *s, ht_store_link_fn fn, void *ud,
                                  ht_error *err);

/** *exists: whether a grid has the code @code. Reads only. */
ht_status ht_store_grid_exists(ht_store *s, const char *code, bool *exists,
                               ht_error *err);

/**
 * The polygon of grid @code (WGS 84), the caller's: HT_ENOTFOUND when
 * there is no such grid (or it has no geometry).
 */
ht_status ht_store_grid_geometry(ht_store *s, const char *code, ht_geom **out,
                                 ht_error *err);

/** An incident as stored. Strings are borrowed for the call. */
typedef struct ht_incident_row {
    int64_t id;
    const char *external_id; /**< NULL when it has none */
    const char *category;
    int severity;
    ht_source source;
    ht_state state;
    int64_t reported_at;    /**< UTC seconds */
    int64_t closed_at;      /**< UTC seconds, or HT_TIME_NONE */
    const char *grid_code;  /**< NULL when in no grid */
    int64_t street_id;      /**< -1 when on no street */
    double lon, lat;        /**< WGS 84 */
    const char *department; /**< the one dispatched to; NULL: none */
    ht_satisfaction satisfaction;
    ht_whistle whistle;
    int64_t response_due, resolution_due; /**< HT_TIME_NONE: no rule */
    int64_t dispatched_at; /**< first left "reported"; or HT_TIME_NONE */
    int64_t handling_at;   /**< first "handling" step; or HT_TIME_NONE */
} ht_incident_row;

/** Called for each incident row. */
typedef ht_status (*ht_store_incident_fn)(const ht_incident_row *row, void *ud,
                                          ht_error *err);

/**
 * Walk the incidents @ids (@n of them, in that order; those that do not
 * exist are passed over), or every incident in id order when @ids is NULL.
 * Rows whose point or status cannot be read are passed over. Reads only
 * (outside a transaction, several ids are read in one; @fn must not
 * write).
 */
ht_status ht_store_each_incident(ht_store *s, const int64_t *ids, size_t n,
                                 ht_store_incident_fn fn, void *ud,
                                 ht_error *err);

/**
 * Walk every incident passing @f (as ht_store_each_fact reads it), in id
 * order, a row at a time (the database's cursor: memory does not grow
 * with their number). HT_EINVAL for an unknown code in @f. Reads only.
 */
ht_status ht_store_each_incident_where(ht_store *s, const ht_filter *f,
                                       ht_store_incident_fn fn, void *ud,
                                       ht_error *err);

/**
 * HT_EINVAL, naming it, when @f names a category or grid code that does
 * not exist. Reads only.
 */
ht_status ht_store_check_filter(ht_store *s, const ht_filter *f, ht_error *err);

/** How statistics group incidents. */
typedef enum ht_group {
    HT_GROUP_STREET = 0, /**< the street office whose subtree holds it */
    HT_GROUP_COMMUNITY,  /**< the community whose subtree holds it */
    HT_GROUP_GRID,       /**< the lowest grid it lies in */
    HT_GROUP_CATEGORY,   /**< its major category */
    HT_GROUP_MONTH,      /**< its report's UTC month, "YYYY-MM" */
    HT_GROUP_DEPARTMENT, /**< the department it was dispatched to */
    HT_GROUP_COUNT
} ht_group;

/** What a statistic needs of one incident. Strings are borrowed. */
typedef struct ht_store_fact {
    const char *key; /**< its group's key; "-" when it has none */
    int64_t id;
    ht_state state;
    int64_t reported_at, closed_at; /**< closed_at: HT_TIME_NONE if open */
    int64_t dispatched_at;          /**< first left "reported"; or NONE */
    int64_t response_due, resolution_due; /**< HT_TIME_NONE: no rule */
    ht_satisfaction satisfaction;
    ht_whistle whistle;
    int64_t handling_at; /**< its first "handling" step, by department
                            only; else HT_TIME_NONE */
} ht_store_fact;

typedef ht_status (*ht_store_fact_fn)(const ht_store_fact *fact, void *ud,
                                      ht_error *err);

/**
 * Every incident passing @f with its key of @by, in key order. The filter
 * means what it means in the in-memory index: [from, to) of the report
 * time, a major category matches its minors, severity and status and
 * source sets, a grid and its subtree. HT_EINVAL for an unknown code in
 * @f. Reads only.
 */
ht_status ht_store_each_fact(ht_store *s, const ht_filter *f, ht_group by,
                             ht_store_fact_fn fn, void *ud, ht_error *err);

typedef ht_status (*ht_store_count_fn)(const char *key, int64_t count, void *ud,
                                       ht_error *err);

/** The incidents passing @f counted per key of @by, in key order. */
ht_status ht_store_group_counts(ht_store *s, const ht_filter *f, ht_group by,
                                ht_store_count_fn fn, void *ud, ht_error *err);

/** What names a group's key. */
typedef struct ht_group_info {
    char name[96];
    double area_m2;     /**< grids: the geodesic area; else NAN */
    int64_t population; /**< grids with one; else -1 */
} ht_group_info;

/** The name (and for grids area and population) of @key of @by; *found is
 * false for keys that name nothing (months, "-"). Reads only. */
ht_status ht_store_group_info(ht_store *s, ht_group by, const char *key,
                              bool *found, ht_group_info *out, ht_error *err);

/**
 * The same for @n keys at once (@found and @out have room for @n),
 * remembered by the connection until grids or categories change (the
 * store moves a version with them; a batch reads it once), so that naming
 * thousands of groups costs a lookup each.
 */
ht_status ht_store_group_infos(ht_store *s, ht_group by,
                               const char *const *keys, size_t n, bool *found,
                               ht_group_info *out, ht_error *err);

/** A (category, area) pair of two months. Strings are borrowed. */
typedef struct ht_store_topic {
    const char *category, *category_name; /**< the minor category */
    const char *area, *area_name;         /**< "-" and NULL: no area */
    int64_t count, prev; /**< in [start, next) and in [before, start) */
} ht_store_topic;

typedef ht_status (*ht_store_topic_fn)(const ht_store_topic *t, void *ud,
                                       ht_error *err);

/**
 * Every (minor category, area of @by — street or community) pair with at
 * least @min_count incidents reported in [@start, @next), with its count
 * in [@before, @start) too; only incidents in @within's subtree when it is
 * not NULL. HT_EINVAL for another @by. Reads only.
 */
ht_status ht_store_topic_counts(ht_store *s, ht_group by, const char *within,
                                int64_t before, int64_t start, int64_t next,
                                int64_t min_count, ht_store_topic_fn fn,
                                void *ud, ht_error *err);

/** The sections of the summary, and their columns. */
typedef enum ht_summary_section {
    HT_SUMMARY_GRIDS = 0,  /**< level, grids, residents */
    HT_SUMMARY_STREETS,    /**< kind, segments, km */
    HT_SUMMARY_CATEGORIES, /**< major code, incidents, name */
    HT_SUMMARY_MONTHS,     /**< "YYYY-MM", incidents */
    HT_SUMMARY_STATES,     /**< status, incidents */
    HT_SUMMARY_LOCATED,    /**< incidents, in a grid, on a street, events */
    HT_SUMMARY_COUNT
} ht_summary_section;

/** Called for each row of a summary section, its columns as text. */
typedef ht_status (*ht_store_summary_fn)(const char *const *cols, int n,
                                         void *ud, ht_error *err);

/** The rows of summary section @which. Reads only. */
ht_status ht_store_summary(ht_store *s, ht_summary_section which,
                           ht_store_summary_fn fn, void *ud, ht_error *err);

/** Called for each grid; a non-HT_OK return stops the walk. */
typedef ht_status (*ht_store_grid_fn)(const ht_grid_rec *rec, void *ud,
                                      ht_error *err);
/** Called for each street segment with its row id. */
typedef ht_status (*ht_store_street_fn)(int64_t id, const ht_street_rec *rec,
                                        void *ud, ht_error *err);

/** Walk every grid (all levels, code order). */
ht_status ht_store_each_grid(ht_store *s, ht_store_grid_fn fn, void *ud,
                             ht_error *err);

/** Walk every street segment (id order). */
ht_status ht_store_each_street(ht_store *s, ht_store_street_fn fn, void *ud,
                               ht_error *err);

/**
 * Decide an incident's location: given its point and report time, write
 * its grid code (or "" for none, at most 63 bytes) and street id (-1).
 */
typedef ht_status (*ht_store_locate_fn)(double lon, double lat,
                                        int64_t reported_at, char code[64],
                                        int64_t *street_id, void *ud,
                                        ht_error *err);

/**
 * Re-locate every incident whose point lies in @bbox (through the spatial
 * index) with @fn, updating those whose grid or street changes; *changed
 * counts them. Call inside a transaction.
 */
ht_status ht_store_relocate(ht_store *s, const ht_bbox *bbox,
                            ht_store_locate_fn fn, void *ud, size_t *changed,
                            ht_error *err);

/** Number of rows in @table ("grids", "streets", "incidents", ...). */
ht_status ht_store_count(ht_store *s, const char *table, int64_t *n,
                         ht_error *err);

/* ---- several servers on one database (PostgreSQL) ---- */

/** The newest change in the database's change log (every write to an
 * incident, by any process; see store_pg.c), 0 when none; a SpatiaLite
 * file has no log: 0. */
ht_status ht_store_last_change(ht_store *s, int64_t *out, ht_error *err);

/**
 * The incidents written after change @after, at most @max ids into @ids
 * (*n of them, repeats possible), *last the newest change read (or
 * @after). With @own NULL this process's own writes are passed over; else
 * they are included and @own[k] tells which (a reader of a replica needs
 * them: the replica may show a row older than the write this process
 * made). *gap: changes after @after were pruned unread, so the caller must
 * reload. A SpatiaLite file: none. Reads only.
 */
ht_status ht_store_changes_after(ht_store *s, int64_t after, int64_t *ids,
                                 bool *own, size_t max, size_t *n,
                                 int64_t *last, bool *gap, ht_error *err);

/** Wait at most @ms for news of a change on this connection (LISTEN /
 * NOTIFY); *woke tells whether some came. A SpatiaLite file: sleeps.
 * HT_EBUSY when the database is unreachable. */
ht_status ht_store_wait_change(ht_store *s, int ms, bool *woke, ht_error *err);

/** The database's own id (random, made with it; a replica has its
 * primary's), for an index snapshot kept elsewhere; a SpatiaLite file: 0. */
ht_status ht_store_database_id(ht_store *s, int64_t *out, ht_error *err);

/** Whether a reader that has applied changes up to @seq can still read
 * every later one (none pruned); a SpatiaLite file: false. */
ht_status ht_store_changes_reachable(ht_store *s, int64_t seq, bool *out,
                                     ht_error *err);

/** Forget changes older than @keep_s seconds (noting how far, so a reader
 * behind them learns it has a gap). A SpatiaLite file: nothing. */
ht_status ht_store_prune_changes(ht_store *s, int64_t keep_s, ht_error *err);

/* Tokens in the database (PostgreSQL: shared by every server on it; a
 * SpatiaLite file keeps none, its server reads a tokens file: HT_EINVAL). */

/** A number that changes whenever the tokens do. */
ht_status ht_store_tokens_version(ht_store *s, int64_t *out, ht_error *err);

/** Every token (hashes, scopes, rights, names), and the version read
 * before them. */
ht_status ht_store_tokens_load(ht_store *s, ht_tokens **out, int64_t *version,
                               ht_error *err);

/** Add one (@hash: 64 hex digits of its SHA-256). HT_EINVAL when a token
 * of that name exists. */
ht_status ht_store_token_add(ht_store *s, const char *hash, const char *scope,
                             bool write, const char *name, ht_error *err);

/** Remove the token named @name; *removed is 0 when there was none. */
ht_status ht_store_token_revoke(ht_store *s, const char *name, size_t *removed,
                                ht_error *err);

#endif
