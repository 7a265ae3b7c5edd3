/* SPDX-License-Identifier: Apache-2.0 */
/* Large buffers kept for the next request: a density grid's nodes (its
 * sums' partial grids and residues, a megabyte or more each at city
 * scale) and a picture's dots (megabytes at 20,000 dots a tile). Fresh
 * from the system (malloc's mmap threshold is fixed at 128 KiB), every
 * page of them costs a fault, and where a sum reads a page before writing
 * it (the kernel maps its zero page, then replaces it) a flush of every
 * core's TLB as well: under a hypervisor that was a quarter of a new
 * filter's first tile. A buffer given back is kept, to the pool's bytes
 * (the ones given back longest ago dropped to make room), and handed out
 * again for its kind. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "heat_int.h"
#include "pool_int.h"

#define POOL_SLOTS 12

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    void *p;
    size_t bytes;
    int kind;
    unsigned long used; /* when it was given back */
} pool[POOL_SLOTS];
static size_t pool_bytes, pool_cap = HT__POOL_BYTES;
static unsigned long pool_clock;

/* Whether every place of the pool holds a buffer (call with mu held). */
static bool pool_full(void) {
    for (int k = 0; k < POOL_SLOTS; k++) {
        if (!pool[k].p) {
            return false;
        }
    }
    return true;
}

void *ht__pool_take(int kind, size_t min, size_t max, size_t *bytes) {
    void *p = NULL;
    *bytes = 0;
    pthread_mutex_lock(&mu);
    /* the one given back last: the likeliest still in the caches */
    int best = -1;
    for (int k = 0; k < POOL_SLOTS; k++) {
        if (pool[k].p && pool[k].kind == kind && pool[k].bytes >= min &&
            pool[k].bytes <= max &&
            (best < 0 || pool[k].used > pool[best].used)) {
            best = k;
        }
    }
    if (best >= 0) {
        p = pool[best].p;
        *bytes = pool[best].bytes;
        pool[best].p = NULL;
        pool_bytes -= *bytes;
    }
    pthread_mutex_unlock(&mu);
    return p;
}

void ht__pool_give(int kind, void *p, size_t bytes) {
    if (!p) {
        return;
    }
    void *drop[POOL_SLOTS + 1];
    size_t ndrop = 0;
    pthread_mutex_lock(&mu);
    if (bytes > pool_cap) {
        drop[ndrop++] = p;
        p = NULL;
    }
    /* Room made by dropping the buffers given back longest ago. */
    while (p && (pool_bytes + bytes > pool_cap || pool_full())) {
        int old = -1;
        for (int k = 0; k < POOL_SLOTS; k++) {
            if (pool[k].p && (old < 0 || pool[k].used < pool[old].used)) {
                old = k;
            }
        }
        drop[ndrop++] = pool[old].p;
        pool_bytes -= pool[old].bytes;
        pool[old].p = NULL;
    }
    for (int k = 0; p && k < POOL_SLOTS; k++) {
        if (!pool[k].p) {
            pool[k].p = p;
            pool[k].bytes = bytes;
            pool[k].kind = kind;
            pool[k].used = ++pool_clock;
            pool_bytes += bytes;
            p = NULL;
        }
    }
    pthread_mutex_unlock(&mu);
    for (size_t k = 0; k < ndrop; k++) {
        free(drop[k]);
    }
}

size_t ht__pool_bytes(void) {
    pthread_mutex_lock(&mu);
    size_t n = pool_bytes;
    pthread_mutex_unlock(&mu);
    return n;
}

void ht__pool_set_cap(size_t bytes) {
    void *drop[POOL_SLOTS];
    size_t ndrop = 0;
    pthread_mutex_lock(&mu);
    pool_cap = bytes;
    for (int k = 0; k < POOL_SLOTS; k++) {
        if (pool[k].p) {
            drop[ndrop++] = pool[k].p;
            pool[k].p = NULL;
        }
    }
    pool_bytes = 0;
    pthread_mutex_unlock(&mu);
    for (size_t k = 0; k < ndrop; k++) {
        free(drop[k]);
    }
}

/* ---- density grids' nodes ---- */

double *ht__heat_grid_take(size_t nodes, bool zero) {
    size_t bytes = nodes * sizeof(double);
    double *v = ht__pool_take(HT__POOL_GRID, bytes, bytes, &bytes);
    if (!v && !(v = malloc((nodes ? nodes : 1) * sizeof *v))) {
        return NULL;
    }
    /* (fresh pages too: written before they are read, they fault once) */
    if (zero) {
        memset(v, 0, nodes * sizeof *v);
    }
    return v;
}

void ht__heat_grid_give(double *v, size_t nodes) {
    ht__pool_give(HT__POOL_GRID, v, nodes * sizeof *v);
}
