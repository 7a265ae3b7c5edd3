/* SPDX-License-Identifier: Apache-2.0 */
/* The in-memory incident index: projected, columnar, spatially ordered. */
#ifndef HUTONG_INDEX_H
#define HUTONG_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hutong/error.h"
#include "hutong/filter.h"
#include "hutong/geom.h"
#include "hutong/model.h"
#include "hutong/stats.h"
#include "hutong/store.h"

/**
 * An immutable snapshot of every incident: EPSG:3857 position (1 cm
 * steps), report time, category, severity, source, status, grid and street,
 * department, satisfaction, whistle kind and when it turns overdue, ordered
 * by a uniform spatial cell grid. 39 bytes an incident. Updates make
 * a new snapshot that shares the bulk of the old one, so readers holding a
 * reference never wait and never see a half-made change.
 */
typedef struct ht_index ht_index;

/** An incident as a filter or a style sees it (strings borrowed from the
 * index). */
typedef struct ht_incident_view {
    int64_t id;
    int64_t reported_at;
    int severity;
    ht_source source;
    ht_state state;
    const char *category;
    const char *major;
    const char *grid_code; /**< NULL when in no grid */
    int64_t street_id;     /**< -1 when on no street */
    int64_t late_at;       /**< when it is overdue if still open as it is (the
                              deadline of its state); HT_TIME_NONE: never */
} ht_incident_view;

/** A filter compiled against one index's dictionaries. */
typedef struct ht_index_filter ht_index_filter;

/** Load every incident of @s. One reference for the caller. */
ht_status ht_index_load(ht_store *s, ht_index **out, ht_error *err);

/**
 * Save @ix into the file @path (written beside, then renamed over it),
 * stamped with @data_version: the store's data version it holds
 * (ht_store_data_version). Changes since its base are folded in.
 */
ht_status ht_index_save(const ht_index *ix, const char *path,
                        int64_t data_version, ht_error *err);

/**
 * Read a snapshot saved by ht_index_save, when it holds @data_version:
 * HT_ENOTFOUND (with the reason) when the file is absent, of another data
 * version, not a snapshot, damaged or truncated; then load from the store.
 */
ht_status ht_index_read(const char *path, int64_t data_version, ht_index **out,
                        ht_error *err);

/**
 * The same for a database server's index: stamped with @source (the
 * database's own id, not 0) and @version (the last change of its change
 * log the index holds). Reading takes a snapshot of @source of any version
 * and sets *@version to it: the caller applies the changes after it.
 */
ht_status ht_index_save_stamped(const ht_index *ix, const char *path,
                                int64_t source, int64_t version, ht_error *err);
ht_status ht_index_read_stamped(const char *path, int64_t source,
                                int64_t *version, ht_index **out,
                                ht_error *err);

/** Take / drop a reference (thread-safe; NULL is a no-op for unref). */
ht_index *ht_index_ref(ht_index *ix);
void ht_index_unref(ht_index *ix);

/**
 * A new snapshot in which the incidents with the row ids @ids (just
 * inserted, changed or deleted in @s) are as @s now holds them. @ix is not
 * changed. When the changes pile up (an eighth of the base) the snapshot is
 * rebuilt whole.
 */
ht_status ht_index_apply(const ht_index *ix, ht_store *s, const int64_t *ids,
                         size_t n, ht_index **out, ht_error *err);

/** Live incidents in the snapshot. */
size_t ht_index_count(const ht_index *ix);

/** Bytes of per-incident arrays per incident (the memory budget). */
double ht_index_bytes_per_incident(const ht_index *ix);

/** Earliest and latest report time of the live incidents; false when
 * there are none. */
bool ht_index_time_range(const ht_index *ix, int64_t *first, int64_t *last);

/** Box of all incidents in EPSG:3857 (empty when none). */
ht_bbox ht_index_bbox(const ht_index *ix);

/**
 * Compile @f for @ix. HT_EINVAL names an unknown category or grid code.
 * The compiled filter borrows @ix: free it before dropping the index.
 */
ht_status ht_index_filter_new(const ht_index *ix, const ht_filter *f,
                              ht_index_filter **out, ht_error *err);
void ht_index_filter_free(ht_index_filter *q);

/**
 * The incident @id as @ix holds it, when it is there and passes @q (NULL:
 * any): its EPSG:3857 position and, when @v is not NULL, its view (valid
 * while @ix is).
 */
bool ht_index_find(const ht_index *ix, const ht_index_filter *q, int64_t id,
                   double *x, double *y, ht_incident_view *v);

/** The departments incidents were dispatched to, in name order: @n of
 * them, borrowed from the index (valid while a reference is held). */
const char *const *ht_index_departments(const ht_index *ix, size_t *n);

/**
 * The ids of the incidents that turned overdue in (@after, @upto]: open
 * incidents whose deadline of their state (the response deadline while
 * "reported", the resolution deadline until closed) lies in it; *ids
 * malloc'd, ascending. *next: the earliest such deadline after @upto
 * (INT64_MAX: none), before which a later call finds nothing new.
 */
ht_status ht_index_crossings(const ht_index *ix, int64_t after, int64_t upto,
                             int64_t **ids, size_t *n, int64_t *next,
                             ht_error *err);

/**
 * Groups of @by in @ix: ids 0..n-1 (grids, categories, months since 1970,
 * departments), of which n-1 stands for none ("-").
 */
size_t ht_index_groups(const ht_index *ix, ht_group by);

/** The key of group @gid of @by, as the store's statistics name it: a
 * grid or category code, "YYYY-MM", a department, "-" for none. */
const char *ht_index_group_key(const ht_index *ix, ht_group by, size_t gid,
                               char buf[16]);

/** What the statistics count of one group (ht_index_tally): the
 * counters of ht_stats_row, and the duration codes at the ranks its
 * medians need. */
typedef struct ht_index_tally {
    int64_t count;
    int64_t response_on_time, response_decided;
    int64_t resolution_on_time, resolution_decided;
    int64_t satisfied, rated, overdue, open, evaluated;
    int64_t whistles[HT_WHISTLE_COUNT];
    int64_t whistles_on_time, whistles_decided;
    /** Durations known: to close, and (when asked) to arrive. */
    int64_t nclose, narrive;
    /** The codes (ht_stats_duration_code) to close of ranks (n-1)/2 and
     * n/2 (0-based, of nclose); to arrive of ranks (n-1)/2, n/2 and
     * ceil(0.9 n) - 1 (of narrive). Unset when there are none. */
    uint16_t close[2], arrive[3];
} ht_index_tally;

/**
 * Tally the incidents passing @q (NULL: all) by group of @by, as the
 * statistics count them at @now (hours to arrive when @arrive): out[gid] for
 * each of ht_index_groups(@by) groups, zeroed first. Counted in @parts parts
 * (0: as many as the index's walks take), a thread each, in one walk for the
 * counters and the durations' high bytes and one more for the low bytes of the
 * ranks' (exact, @v untouched). HT_ENOMEM when the histograms cannot be had.
 */
ht_status ht_index_tally_groups(const ht_index *ix, const ht_index_filter *q,
                                ht_group by, int64_t now, bool arrive,
                                size_t parts, ht_index_tally *out,
                                ht_error *err);

/** counts[gid] += 1 for every incident passing @q (counts holds
 * ht_index_groups entries). */
void ht_index_group_counts(const ht_index *ix, const ht_index_filter *q,
                           ht_group by, int64_t *counts);

/** Part @part of @parts (0-based) of the incidents passing @q, counted
 * by street id into @counts (@nids entries, zeroed by the caller; ids
 * from @nids on and incidents on no street are not counted): the fast path
 * of street heat, a thread a part. */
void ht_index_street_counts(const ht_index *ix, const ht_index_filter *q,
                            size_t part, size_t parts, uint32_t *counts,
                            size_t nids);

/** The street of every incident passing @q that lies on one. */
void ht_index_each_street(const ht_index *ix, const ht_index_filter *q,
                          void (*fn)(void *ud, int64_t street_id), void *ud);

/** Minor categories in @ix (ids 0..n-1) and the code of one. */
size_t ht_index_categories(const ht_index *ix);
const char *ht_index_category_code(const ht_index *ix, size_t cat);

/**
 * counts[(cat * ht_index_groups(by) + gid) * 2 + (report >= @split)] += 1
 * for every incident passing @q: the pairs of (minor) category and group
 * before and from @split.
 */
void ht_index_pair_counts(const ht_index *ix, const ht_index_filter *q,
                          ht_group by, int64_t split, int64_t *counts);

/**
 * The @k newest incidents passing @q in @box (EPSG:3857; NULL: anywhere)
 * older than the cursor (@before_t, @before_id) — newer: a later report,
 * then a higher id — newest first into @ids (room for @k), *n of them, and
 * how many passed in all (*matched). Only their times and ids are read.
 */
ht_status ht_index_newest(const ht_index *ix, const ht_index_filter *q,
                          const ht_bbox *box, int64_t before_t,
                          int64_t before_id, size_t k, int64_t *ids, size_t *n,
                          size_t *matched, ht_error *err);

/** Called for each incident: EPSG:3857 x, y and the incident. */
typedef void (*ht_index_visit_fn)(void *ud, double x, double y,
                                  const ht_incident_view *v);

/**
 * Visit the incidents passing @q (NULL: all) inside @box (EPSG:3857; NULL:
 * everywhere). Thread-safe.
 */
void ht_index_visit(const ht_index *ix, const ht_index_filter *q,
                    const ht_bbox *box, ht_index_visit_fn fn, void *ud);

/** Same, with only positions (x, y) and the incident's severity: the fast
 * path of heat maps. */
typedef void (*ht_index_point_fn)(void *ud, double x, double y, int severity);
void ht_index_points(const ht_index *ix, const ht_index_filter *q,
                     const ht_bbox *box, ht_index_point_fn fn, void *ud);

/** The same over everywhere, for part @part of @parts only (each incident
 * in one part, parts of about as many), so threads may share the work. */
void ht_index_visit_part(const ht_index *ix, const ht_index_filter *q,
                         size_t part, size_t parts, ht_index_visit_fn fn,
                         void *ud);
void ht_index_points_part(const ht_index *ix, const ht_index_filter *q,
                          size_t part, size_t parts, ht_index_point_fn fn,
                          void *ud);

/* ---- for sums kept over the base (partial density grids) ---- */

/**
 * The serial of @ix's base: the sorted bulk that the snapshots made from
 * it by ht_index_apply share until the changes pile up. Equal serials,
 * the same base rows. Never reused within a process.
 */
uint64_t ht_index_base_serial(const ht_index *ix);

/** Each row of the base, replaced and deleted ones too, as the base holds
 * it: @fn(ud, x, y, severity, major, t), @major the category index of its
 * major class (ht_index_category_code), @t its report time. Part @part of
 * @parts (slices of about as many rows). */
typedef void (*ht_index_class_fn)(void *ud, double x, double y, int severity,
                                  unsigned major, int64_t t);
void ht_index_base_rows(const ht_index *ix, size_t part, size_t parts,
                        ht_index_class_fn fn, void *ud);

/** Those rows of ht_index_base_rows reported from @t0 to @t1 (both in,
 * Unix seconds). */
void ht_index_base_rows_between(const ht_index *ix, int64_t t0, int64_t t1,
                                size_t part, size_t parts, ht_index_class_fn fn,
                                void *ud);

/** Those rows of ht_index_base_rows reported within one of @nranges
 * (at most 8) disjoint ranges of times, [from, to] both in, in one walk:
 * @fn(ud, x, y, severity, major, t, range), @range the index of the range
 * the row lies in. */
typedef void (*ht_index_range_fn)(void *ud, double x, double y, int severity,
                                  unsigned major, int64_t t, size_t range);
void ht_index_base_rows_in(const ht_index *ix, const int64_t (*ranges)[2],
                           size_t nranges, size_t part, size_t parts,
                           ht_index_range_fn fn, void *ud);

/** What @ix changed since its base, under @q (NULL: all): the base rows
 * replaced or deleted that pass @q as the base holds them, @fn(ud, x, y,
 * -1, severity, major, t), and the rows added or changed since that pass
 * @q as they are now, with +1. A sum over the base plus these is the sum
 * over @ix. */
typedef void (*ht_index_change_fn)(void *ud, double x, double y, int sign,
                                   int severity, unsigned major, int64_t t);
void ht_index_changes(const ht_index *ix, const ht_index_filter *q,
                      ht_index_change_fn fn, void *ud);

/** Whether @q restricts nothing but the severity and whole major classes
 * (each major it passes with all of its minors); then *@sev holds the
 * severities it passes (bit s for severity s). */
bool ht_index_filter_classes(const ht_index_filter *q, unsigned *sev);

/** Whether @q restricts nothing but the report time (*@t0 to *@t1, both
 * in, Unix seconds; 0 to UINT32_MAX: any). */
bool ht_index_filter_window(const ht_index_filter *q, int64_t *t0, int64_t *t1);

/**
 * The classes around @q: a filter passing every incident of the
 * severities @q passes and of the major classes of the categories it
 * names (all of each), whatever else @q asks (time, state, source, grid,
 * department, satisfaction, lateness). ht_index_filter_classes holds for
 * it. Free it with ht_index_filter_free, before @q's index.
 */
ht_status ht_index_filter_class_superset(const ht_index_filter *q,
                                         ht_index_filter **out, ht_error *err);

/** The grids around @q: a filter passing every incident in the grids @q
 * names (every incident when it names none), whatever else @q asks.
 * Free it with ht_index_filter_free, before @q's index. */
ht_status ht_index_filter_grid_superset(const ht_index_filter *q,
                                        ht_index_filter **out, ht_error *err);

/** At least as many as the live incidents @q passes, cheaply: the rows in
 * the cells of its grids' rows when it names grids (and the changes),
 * else every live incident. */
size_t ht_index_passes_at_most(const ht_index *ix, const ht_index_filter *q);

/** The live incidents passing @outer (*@n_outer), and of those the ones
 * passing @inner too (*@n_inner), counted a part of the index a thread;
 * with @every above 1, of one block of 64 rows of the base in @every only
 * (and none of the changes): a sample, for an estimate of their ratio. */
void ht_index_count_within(const ht_index *ix, const ht_index_filter *outer,
                           const ht_index_filter *inner, size_t every,
                           size_t *n_outer, size_t *n_inner);

/** The positions and severities of the live incidents passing @outer but
 * not @inner, of part @part of @parts; *@n_outer and *@n_inner: how many of
 * the part pass @outer, and @inner too (ht_index_count_within). */
void ht_index_points_outside_part(const ht_index *ix,
                                  const ht_index_filter *outer,
                                  const ht_index_filter *inner, size_t part,
                                  size_t parts, ht_index_point_fn fn, void *ud,
                                  size_t *n_outer, size_t *n_inner);

/** How many of the base's rows (dead ones too) are of each state, source,
 * satisfaction, department (@dept: ht_index_departments' count of them)
 * and category (@cat: ht_index_categories' count, each its own, a minor
 * not its major's), added to the arrays. */
void ht_index_base_value_counts(const ht_index *ix, size_t state[8],
                                size_t source[8], size_t sat[4], size_t *dept,
                                size_t *cat);

/** Whether category index @cat is a major class. */
bool ht_index_category_is_major(const ht_index *ix, size_t cat);

/** The positions of the base's rows (dead ones too, as the grids per class
 * hold them) passing @q, of part @part of @parts. */
void ht_index_base_rows_matching(const ht_index *ix, const ht_index_filter *q,
                                 size_t part, size_t parts,
                                 ht_index_point_fn fn, void *ud);

/** Whether every incident @q passes, @m passes (judged by their terms,
 * of one dictionary: false when unsure); @m NULL passes all. */
bool ht_index_filter_implies(const ht_index_filter *q,
                             const ht_index_filter *m);

/** Whether every grid @q names (with those within them) that holds rows
 * of the base is among those one of @parts names: false when @q names
 * none. */
bool ht_index_filter_grids_within(const ht_index_filter *q,
                                  const ht_index_filter *const *parts,
                                  size_t n);

/** Whether @q passes only the incidents of some grids. */
bool ht_index_filter_names_grids(const ht_index_filter *q);

/** Whether grid index @g (a group of HT_GROUP_GRID) is a community. */
bool ht_index_grid_is_community(const ht_index *ix, size_t g);

/** Whether @q passes category index @cat (true when it names none). */
bool ht_index_filter_category(const ht_index_filter *q, size_t cat);

#endif
