/* SPDX-License-Identifier: Apache-2.0 */
/* The one filter grammar: time, category, severity, status, source, grid. */
#ifndef HUTONG_FILTER_H
#define HUTONG_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hutong/error.h"
#include "hutong/model.h"

/** Most comma-separated values one parameter takes. */
#define HT_FILTER_MAX_VALUES 32
/** Most departments one filter names. */
#define HT_FILTER_MAX_DEPARTMENTS 8

/**
 * A parsed, normalised filter (value type; zero-initialise for "all").
 * Times are UTC seconds; [from, to). Sets are sorted and deduplicated, so
 * equal filters have equal keys.
 */
typedef struct ht_filter {
    int64_t from;      /**< INT64_MIN: no lower bound */
    int64_t to;        /**< INT64_MAX: no upper bound */
    unsigned severity; /**< bit s set: severity s accepted (bits 1..3); 0 all */
    unsigned status;   /**< bit per ht_state; 0: all */
    unsigned source;   /**< bit per ht_source; 0: all */
    size_t ncategory;
    char category[HT_FILTER_MAX_VALUES][16]; /**< codes; a major matches
                                                 its minors */
    char grid[32];         /**< a grid code: it and its descendants; "" all */
    unsigned satisfaction; /**< bit per ht_satisfaction (HT_SAT_NONE: no
                              verdict); 0 all */
    /** Overdue only: open and past a deadline at @overdue_at (the
     * filter's "now", rounded down to the minute); 0: any. */
    int64_t overdue_at;
    size_t ndepartment;
    char department[HT_FILTER_MAX_DEPARTMENTS][65]; /**< sorted */
} ht_filter;

/** A filter that accepts everything. Cannot fail. */
ht_filter ht_filter_all(void);

/**
 * Apply one parameter (as in HTTP queries and CLI flags) to @f:
 *   from, to   ISO 8601 date or time (UTC unless an offset is given)
 *   window     24h | 7d | 30d | month (the calendar month so far), ending
 *              at @now (rounded down to the minute, so caches share it)
 *   category   comma list of codes
 *   severity   "2" (at least 2) or a list "1,3"
 *   status     open | closed | a list of states
 *   source     a list of sources
 *   grid       a grid code
 *   department comma list of departments (the one dispatched to)
 *   overdue    1: open and past a deadline at @now (to the minute); 0 any
 *   satisfaction  a list of satisfied|basic|unsatisfied|none (or 满意 ...)
 * HT_EINVAL names the parameter and the bad value; @f is unchanged then.
 */
ht_status ht_filter_set(ht_filter *f, const char *key, const char *value,
                        int64_t now, ht_error *err);

/** Check the whole filter (from before to). HT_EINVAL names the problem. */
ht_status ht_filter_check(const ht_filter *f, ht_error *err);

/**
 * The canonical text of @f ("from=...;to=...;category=01,0203;..."), equal
 * for equal filters: a cache key. Writes at most @size bytes.
 */
void ht_filter_key(const ht_filter *f, char *out, size_t size);

#endif
