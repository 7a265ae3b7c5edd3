/* SPDX-License-Identifier: Apache-2.0 */
/* What the benchmarks share: a clock, an order for qsort, and the demo
 * database they measure with its features and a renderer. */
#ifndef HUTONG_BENCH_UTIL_H
#define HUTONG_BENCH_UTIL_H
#include <stddef.h>

#include "hutong/features.h"
#include "hutong/render.h"
#include "hutong/store.h"

/** Milliseconds on the monotonic clock. */
double bench_now_ms(void);

/** qsort order of doubles, ascending. */
int bench_cmp_double(const void *a, const void *b);

/** A first (cold) run, then the median, p95 and max of the others. */
typedef struct bench_timing {
    double first, median, p95, max;
} bench_timing;

/** Summarise @runs + 1 times in @ms (the first one cold; the rest are
 * sorted in place). */
bench_timing bench_summarise(double *ms, int runs);

/**
 * Open @db (NULL: the demo with @incidents incidents, 0 for the demo's
 * default, built on first use into the temporary folder and kept for later
 * runs) read-only, with its features and a renderer. Prints the error and
 * returns false on failure.
 */
bool bench_open(const char *db, size_t incidents, ht_store **s, ht_features **f,
                ht_renderer **r);
#endif
