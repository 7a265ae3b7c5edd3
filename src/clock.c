/* SPDX-License-Identifier: Apache-2.0 */
/* The clock, which tests may set: in the process (ht_clock_set), or for a
 * server they start, through a file named by HUTONG_CLOCK_FILE that holds
 * the time in UTC seconds (read at every call: a test hook, not for
 * production). */
#include "hutong/clock.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static _Atomic int64_t fixed;

static int64_t from_file(const char *path) {
    FILE *f = fopen(path, "r");
    long long v = 0;
    if (f) {
        if (fscanf(f, "%lld", &v) != 1) {
            v = 0;
        }
        fclose(f);
    }
    return v > 0 ? (int64_t)v : 0;
}

int64_t ht_clock_now(void) {
    int64_t t = atomic_load_explicit(&fixed, memory_order_relaxed);
    if (t) {
        return t;
    }
    const char *path = getenv("HUTONG_CLOCK_FILE");
    if (path && *path && (t = from_file(path)) > 0) {
        return t;
    }
    return (int64_t)time(NULL);
}

void ht_clock_set(int64_t t) {
    atomic_store_explicit(&fixed, t, memory_order_relaxed);
}
