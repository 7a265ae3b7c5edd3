/* SPDX-License-Identifier: Apache-2.0 */
/* A byte-bounded, thread-safe LRU cache: a chained hash table of entries
 * on a doubly linked recency list, under one mutex. */
#include "hutong/cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hutong/hash.h"

typedef struct entry {
    struct entry *next_hash, *prev_lru, *next_lru;
    uint64_t hash;
    size_t len;
    char *key;
    unsigned char *data;
} entry;

struct ht_cache {
    pthread_mutex_t mu;
    entry **buckets;
    size_t nbuckets;
    entry *head, *tail; /* most recent first */
    size_t bytes, max_bytes, entries;
    uint64_t hits, misses, evictions;
};

static uint64_t hash_key(const char *s) {
    return ht_hash64_str(HT_HASH64_INIT, s);
}

static size_t cost(const entry *e) {
    return e->len + strlen(e->key) + sizeof *e;
}

ht_status ht_cache_new(size_t max_bytes, ht_cache **out, ht_error *err) {
    ht_cache *c = calloc(1, sizeof *c);
    if (!c || !(c->buckets = calloc(4096, sizeof *c->buckets))) {
        free(c);
        *out = NULL;
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    c->nbuckets = 4096;
    c->max_bytes = max_bytes;
    pthread_mutex_init(&c->mu, NULL);
    *out = c;
    return HT_OK;
}

static void lru_unlink(ht_cache *c, entry *e) {
    if (e->prev_lru) {
        e->prev_lru->next_lru = e->next_lru;
    } else {
        c->head = e->next_lru;
    }
    if (e->next_lru) {
        e->next_lru->prev_lru = e->prev_lru;
    } else {
        c->tail = e->prev_lru;
    }
    e->prev_lru = e->next_lru = NULL;
}

static void lru_push_front(ht_cache *c, entry *e) {
    e->next_lru = c->head;
    e->prev_lru = NULL;
    if (c->head) {
        c->head->prev_lru = e;
    }
    c->head = e;
    if (!c->tail) {
        c->tail = e;
    }
}

static entry **slot_of(ht_cache *c, const char *key, uint64_t h) {
    entry **p = &c->buckets[h % c->nbuckets];
    while (*p && ((*p)->hash != h || strcmp((*p)->key, key) != 0)) {
        p = &(*p)->next_hash;
    }
    return p;
}

/* Unlink @e from its bucket and the list, and free it. */
static void remove_entry(ht_cache *c, entry *e) {
    entry **p = slot_of(c, e->key, e->hash);
    *p = e->next_hash;
    lru_unlink(c, e);
    c->bytes -= cost(e);
    c->entries--;
    free(e->key);
    free(e->data);
    free(e);
}

static void grow(ht_cache *c) {
    size_t n = c->nbuckets * 2;
    entry **b = calloc(n, sizeof *b);
    if (!b) {
        return; /* longer chains, still correct */
    }
    for (size_t i = 0; i < c->nbuckets; i++) {
        entry *e = c->buckets[i];
        while (e) {
            entry *next = e->next_hash;
            e->next_hash = b[e->hash % n];
            b[e->hash % n] = e;
            e = next;
        }
    }
    free(c->buckets);
    c->buckets = b;
    c->nbuckets = n;
}

void ht_cache_free(ht_cache *c) {
    if (!c) {
        return;
    }
    while (c->head) {
        remove_entry(c, c->head);
    }
    free(c->buckets);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

bool ht_cache_get(ht_cache *c, const char *key, void **data, size_t *len) {
    uint64_t h = hash_key(key);
    pthread_mutex_lock(&c->mu);
    entry *e = *slot_of(c, key, h);
    void *copy = e ? malloc(e->len ? e->len : 1) : NULL;
    if (copy) {
        memcpy(copy, e->data, e->len);
        *len = e->len;
        lru_unlink(c, e);
        lru_push_front(c, e);
        c->hits++;
    } else {
        c->misses++;
    }
    pthread_mutex_unlock(&c->mu);
    *data = copy;
    return copy != NULL;
}

void ht_cache_put(ht_cache *c, const char *key, const void *data, size_t len) {
    entry *e = calloc(1, sizeof *e);
    if (!e || !(e->key = strdup(key)) || !(e->data = malloc(len ? len : 1))) {
        if (e) {
            free(e->key);
        }
        free(e);
        return;
    }
    memcpy(e->data, data, len);
    e->len = len;
    e->hash = hash_key(key);
    if (cost(e) > c->max_bytes) {
        free(e->key);
        free(e->data);
        free(e);
        return;
    }
    pthread_mutex_lock(&c->mu);
    entry *old = *slot_of(c, key, e->hash);
    if (old) {
        remove_entry(c, old);
    }
    while (c->tail && c->bytes + cost(e) > c->max_bytes) {
        remove_entry(c, c->tail);
        c->evictions++;
    }
    entry **p = &c->buckets[e->hash % c->nbuckets];
    e->next_hash = *p;
    *p = e;
    lru_push_front(c, e);
    c->bytes += cost(e);
    c->entries++;
    if (c->entries > c->nbuckets) {
        grow(c);
    }
    pthread_mutex_unlock(&c->mu);
}

size_t ht_cache_drop_prefix(ht_cache *c, const char *prefix) {
    size_t n = 0, plen = strlen(prefix);
    pthread_mutex_lock(&c->mu);
    for (entry *e = c->head; e;) {
        entry *next = e->next_lru;
        if (strncmp(e->key, prefix, plen) == 0) {
            remove_entry(c, e);
            n++;
        }
        e = next;
    }
    pthread_mutex_unlock(&c->mu);
    return n;
}

ht_cache_stats ht_cache_get_stats(ht_cache *c) {
    pthread_mutex_lock(&c->mu);
    ht_cache_stats s = {c->hits,    c->misses, c->evictions,
                        c->entries, c->bytes,  c->max_bytes};
    pthread_mutex_unlock(&c->mu);
    return s;
}
