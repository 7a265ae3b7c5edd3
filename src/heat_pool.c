/* SPDX-License-Identifier: Apache-2.0 */
/* Density grids' nodes kept for the next request. A request's grid, its
 * threads' partial sums and the residue it takes out are each a megabyte
 * or more at city scale; fresh from the system, every page of them costs a
 * fault, and where a sum reads a page before writing it (the kernel maps
 * its zero page, then replaces it) a flush of every core's TLB as well:
 * under a hypervisor that was a quarter of a new filter's first tile. A
 * grid given back is kept, to the pool's bytes, and handed out again,
 * zeroed by a memset that faults nothing. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "heat_int.h"

#define POOL_GRIDS 8

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    double *v;
    size_t nodes;
    unsigned long used; /* when it was given back */
} pool[POOL_GRIDS];
static size_t pool_bytes, pool_cap = HT__HEAT_POOL_BYTES;
static unsigned long pool_clock;

/* Whether every place of the pool holds a grid (call with mu held). */
static bool pool_full(void) {
    for (int k = 0; k < POOL_GRIDS; k++) {
        if (!pool[k].v) {
            return false;
        }
    }
    return true;
}

double *ht__heat_grid_take(size_t nodes, bool zero) {
    double *v = NULL;
    pthread_mutex_lock(&mu);
    /* the one given back last: the likeliest still in the caches */
    int best = -1;
    for (int k = 0; k < POOL_GRIDS; k++) {
        if (pool[k].v && pool[k].nodes == nodes &&
            (best < 0 || pool[k].used > pool[best].used)) {
            best = k;
        }
    }
    if (best >= 0) {
        v = pool[best].v;
        pool[best].v = NULL;
        pool_bytes -= nodes * sizeof *v;
    }
    pthread_mutex_unlock(&mu);
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
    if (!v) {
        return;
    }
    size_t bytes = nodes * sizeof *v;
    double *drop[POOL_GRIDS + 1];
    size_t ndrop = 0;
    pthread_mutex_lock(&mu);
    if (bytes > pool_cap) {
        drop[ndrop++] = v;
        v = NULL;
    }
    /* Room made by dropping the grids given back longest ago. */
    while (v && (pool_bytes + bytes > pool_cap || pool_full())) {
        int old = -1;
        for (int k = 0; k < POOL_GRIDS; k++) {
            if (pool[k].v && (old < 0 || pool[k].used < pool[old].used)) {
                old = k;
            }
        }
        drop[ndrop++] = pool[old].v;
        pool_bytes -= pool[old].nodes * sizeof *v;
        pool[old].v = NULL;
    }
    for (int k = 0; v && k < POOL_GRIDS; k++) {
        if (!pool[k].v) {
            pool[k].v = v;
            pool[k].nodes = nodes;
            pool[k].used = ++pool_clock;
            pool_bytes += bytes;
            v = NULL;
        }
    }
    pthread_mutex_unlock(&mu);
    for (size_t k = 0; k < ndrop; k++) {
        free(drop[k]);
    }
}

size_t ht__heat_pool_bytes(void) {
    pthread_mutex_lock(&mu);
    size_t n = pool_bytes;
    pthread_mutex_unlock(&mu);
    return n;
}

void ht__heat_pool_set_cap(size_t bytes) {
    double *drop[POOL_GRIDS];
    size_t ndrop = 0;
    pthread_mutex_lock(&mu);
    pool_cap = bytes;
    for (int k = 0; k < POOL_GRIDS; k++) {
        if (pool[k].v) {
            drop[ndrop++] = pool[k].v;
            pool[k].v = NULL;
        }
    }
    pool_bytes = 0;
    pthread_mutex_unlock(&mu);
    for (size_t k = 0; k < ndrop; k++) {
        free(drop[k]);
    }
}
