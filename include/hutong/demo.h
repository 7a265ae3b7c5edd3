/* SPDX-License-Identifier: Apache-2.0 */
/* The deterministic synthetic Dongcheng demo data set. */
#ifndef HUTONG_DEMO_H
#define HUTONG_DEMO_H

#include <stddef.h>
#include <stdint.h>

#include "hutong/error.h"
#include "hutong/model.h"
#include "hutong/store.h"

/** Options for ht_demo_build; zero-initialise, then set what differs. */
typedef struct ht_demo_opts {
    /** Folder with categories.csv, communities.csv, street_offices.csv;
     * NULL: ht_demo_geodata_dir() */
    const char *geodata_dir;
    /** Random seed; 0 means the default (2004) */
    uint64_t seed;
    /** Incidents fall in the 365 days before this time (UTC seconds);
     * 0 means today 00:00 UTC */
    int64_t end;
    /** Number of incidents; 0 means 200,000 */
    size_t incidents;
    /** Progress callback (may be NULL): a stage name and a count. */
    void (*progress)(const char *stage, size_t done, size_t total, void *ud);
    void *progress_ud;
} ht_demo_opts;

/** What the demo holds. */
typedef struct ht_demo_stats {
    size_t grids[HT_LEVEL_COUNT];
    size_t streets;
    size_t incidents;
    size_t events;
    int64_t population;
} ht_demo_stats;

/**
 * The shipped geodata folder: $HUTONG_GEODATA when set, else the source
 * tree's geodata/ as configured at build time. Never NULL.
 */
const char *ht_demo_geodata_dir(void);

/**
 * Build the synthetic Dongcheng into the empty store @s: the category
 * dictionary, the district, its 17 street offices and 169 communities
 * (real names and codes, synthetic geometry) that tile it without gaps or
 * overlaps, about 2,000 unit grids with 15-digit codes numbered west to
 * east then north to south, a street and hutong network, and incidents
 * with their life-cycle events. The same options give the same data.
 * HT_EINVAL when the store already holds grids or incidents. Runs in one
 * transaction: on error nothing changes.
 */
ht_status ht_demo_build(ht_store *s, const ht_demo_opts *o,
                        ht_demo_stats *stats, ht_error *err);

#endif
