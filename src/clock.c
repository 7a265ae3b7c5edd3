/* SPDX-License-Identifier: Apache-2.0 */
/* The clock, which tests may set. */
#include "hutong/clock.h"

#include <stdatomic.h>
#include <time.h>

static _Atomic int64_t fixed;

int64_t ht_clock_now(void) {
    int64_t t = atomic_load_explicit(&fixed, memory_order_relaxed);
    return t ? t : (int64_t)time(NULL);
}

void ht_clock_set(int64_t t) {
    atomic_store_explicit(&fixed, t, memory_order_relaxed);
}
