/* SPDX-License-Identifier: Apache-2.0 */
/* Statistics for the same filters as the maps: counts, rates, rankings,
 * change, time to close, the life-cycle rates, and the month's topics. */
#ifndef HUTONG_STATS_H
#define HUTONG_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "hutong/error.h"
#include "hutong/filter.h"
#include "hutong/store.h"

/** What to group by. */
typedef enum ht_stats_by {
    HT_STATS_BY_STREET = 0, /**< street office (街道) */
    HT_STATS_BY_COMMUNITY,
    HT_STATS_BY_GRID,       /**< the lowest grid each incident fell in */
    HT_STATS_BY_CATEGORY,   /**< major category */
    HT_STATS_BY_MONTH,      /**< UTC calendar month */
    HT_STATS_BY_DEPARTMENT, /**< the department dispatched to (一哨一考) */
    HT_STATS_BY_COUNT
} ht_stats_by;

/** Parse "street", "community", "grid", "category", "month". */
ht_status ht_stats_by_parse(const char *s, ht_stats_by *out, ht_error *err);

/** One group. NAN where a figure does not apply. */
typedef struct ht_stats_row {
    char key[40];  /**< code or month */
    char name[96]; /**< its name ("" for months) */
    int rank;      /**< 1 for the most incidents */
    int64_t count;
    double share;          /**< of all incidents passing the filter */
    int64_t prev;          /**< the previous period of the same length (by
                              month: the calendar month before); -1 when
                              unknown (no [from, to), first month) */
    double change_pct;     /**< (count - prev) / prev * 100 */
    double per_km2;        /**< grids only */
    double per_1000;       /**< per 1,000 residents, grids with a population */
    double median_close_h; /**< median hours from report to close */
    /** The three rates (README "The three rates"): response = dispatched
     * within the response deadline / decided (dispatched, or past the
     * deadline undispatched); resolution = closed within the resolution
     * deadline / decided (closed, or open past the deadline); satisfaction
     * = (满意 + 基本满意) / evaluated with a verdict. NAN when nothing is
     * decided. An incident without a rule is on time once dispatched
     * (closed) and pending until then; one past "reported" whose dispatch
     * time is unknown is in no response count. */
    double response, resolution, satisfaction;
    int64_t response_on_time, response_decided;
    int64_t resolution_on_time, resolution_decided;
    int64_t satisfied, rated; /**< satisfied: 满意 or 基本满意 */
    int64_t overdue;          /**< open now and past a deadline */
    int64_t open;             /**< not closed now */
    /** By department: hours from dispatch to its first "handling" step
     * (报到, the department arriving), median and 90th percentile; NAN
     * elsewhere or when none arrived. */
    double median_arrive_h, p90_arrive_h;
    /** Whistles (source whistle) among them, by kind (index 0: all), and
     * those answered (dispatched) within their response deadline, of the
     * decided ones. */
    int64_t whistles[HT_WHISTLE_COUNT];
    int64_t whistles_on_time, whistles_decided;
    double evaluated; /**< share evaluated by the resident */
} ht_stats_row;

/** How an incident stands against a deadline at a time. */
typedef enum ht_due_state {
    HT_DUE_PENDING = 0, /**< not done, not yet due */
    HT_DUE_ON_TIME,     /**< done by the deadline (or done, no deadline) */
    HT_DUE_LATE,        /**< done after it, or not done and past it */
    HT_DUE_UNKNOWN /**< done, when not known (dispatched, imported without its
                      history): in no rate */
} ht_due_state;

/**
 * Where @f stands at @now: against its response deadline (dispatched by
 * then; at the deadline's second is on time) and its resolution deadline
 * (closed by then). Cannot fail.
 */
void ht_stats_due(const ht_store_fact *f, int64_t now, ht_due_state *response,
                  ht_due_state *resolution);

/** One incident as the statistics count it, from the store or the index
 * (which hold it differently and must count it the same). */
typedef struct ht_stats_fact {
    ht_state state;
    ht_due_state response, resolution; /**< at the time of the figures */
    ht_satisfaction satisfaction;
    ht_whistle whistle;
    /** Report to close, and dispatch to the first "handling" step (by
     * department only), as ht_stats_duration_code: HT_STATS_NO_DURATION
     * for none. */
    uint16_t close, arrive;
} ht_stats_fact;

/**
 * A duration of @seconds as both sources keep it: 16 bits, to the minute
 * below 22.7 days, then to 64 minutes (up to 1,456 days, beyond which it
 * saturates); HT_STATS_NO_DURATION for a negative one. ht_stats_hours gives
 * back its hours (the bucket's start), NAN for none.
 */
#define HT_STATS_NO_DURATION 0xffffu
uint16_t ht_stats_duration_code(int64_t seconds);
double ht_stats_hours(uint16_t code);

/** The 0-based nearest rank of the 90th percentile of @n values:
 * ceil(0.9 n) - 1, counted in integers (0.9 n in floating point is above
 * the whole number it should be for some n, 110 among them). */
int64_t ht_stats_p90_rank(int64_t n);

/**
 * Group the incidents of @s passing @f. Rows are ranked by count (ties by
 * key), months in calendar order; rates as of ht_clock_now(). *rows is
 * freed by the caller.
 * HT_EINVAL for an unknown category or grid code in @f.
 */
ht_status ht_stats_compute(ht_store *s, const ht_filter *f, ht_stats_by by,
                           ht_stats_row **rows, size_t *n, ht_error *err);

struct ht_index;
/**
 * The same from the in-memory index @ix (a snapshot of @s, which still
 * names the groups and gives their areas and residents): the same rows,
 * without reading the incidents from the file.
 */
ht_status ht_stats_compute_ix(ht_store *s, const struct ht_index *ix,
                              const ht_filter *f, ht_stats_by by,
                              ht_stats_row **rows, size_t *n, ht_error *err);

/** A rising problem of a month. */
typedef struct ht_topic {
    char category[16], category_name[64];
    char area[40], area_name[96];
    int64_t count, prev;
    double score; /**< (count - prev) / sqrt(prev + 1) */
} ht_topic;

/**
 * The month's rising problems ("one topic a month"): every (minor
 * category, area) pair with at least @min_count incidents in @month
 * ("YYYY-MM", UTC), scored (count - prev) / sqrt(prev + 1) against the
 * month before — how many Poisson standard deviations the count rose
 * above last month's, +1 so that a first appearance is not infinite.
 * Highest scores first, at most @max of them. @by is street or community.
 * @within: only incidents in that grid's subtree (NULL: all).
 */
ht_status ht_stats_topics(ht_store *s, const char *month, ht_stats_by by,
                          const char *within, int64_t min_count, size_t max,
                          ht_topic **topics, size_t *n, ht_error *err);

/** The same counted from the index @ix, a snapshot of @s (which names the
 * categories and areas). */
ht_status ht_stats_topics_ix(ht_store *s, const struct ht_index *ix,
                             const char *month, ht_stats_by by,
                             const char *within, int64_t min_count, size_t max,
                             ht_topic **topics, size_t *n, ht_error *err);

/**
 * @n rows as JSON (the first @limit of them; figures that do not apply are
 * null): {"by", "total", "groups", "from"/"to" when @f has both, "rows"}.
 * Malloc'd; NULL when out of memory.
 */
char *ht_stats_rows_json(const ht_stats_row *r, size_t n, size_t limit,
                         ht_stats_by by, const ht_filter *f);

/** Topics as JSON: {"month", "topics": [{"rank", "category", ...}]}. */
char *ht_stats_topics_json(const ht_topic *t, size_t n, const char *month);

#endif
