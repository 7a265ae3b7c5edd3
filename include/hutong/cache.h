/* SPDX-License-Identifier: Apache-2.0 */
/* A byte-bounded, thread-safe LRU cache of rendered responses. */
#ifndef HUTONG_CACHE_H
#define HUTONG_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hutong/error.h"

typedef struct ht_cache ht_cache;

/** A cache holding at most @max_bytes of values (plus keys). */
ht_status ht_cache_new(size_t max_bytes, ht_cache **out, ht_error *err);
void ht_cache_free(ht_cache *c);

/**
 * Copy the value under @key into a new malloc'd buffer (*data, *len) and
 * mark it used; false when absent (or out of memory).
 */
bool ht_cache_get(ht_cache *c, const char *key, void **data, size_t *len);

/** Store a copy of @data under @key, evicting the least recently used
 * entries to stay within the budget; a value larger than the budget is
 * not stored. */
void ht_cache_put(ht_cache *c, const char *key, const void *data, size_t len);

/** Remove every entry whose key starts with @prefix. Returns how many. */
size_t ht_cache_drop_prefix(ht_cache *c, const char *prefix);

/** Counters. */
typedef struct ht_cache_stats {
    uint64_t hits, misses, evictions;
    size_t entries, bytes, max_bytes;
} ht_cache_stats;

ht_cache_stats ht_cache_get_stats(ht_cache *c);

#endif
