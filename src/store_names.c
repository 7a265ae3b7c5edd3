/* SPDX-License-Identifier: Apache-2.0 */
/* The names of groups (and the areas and residents of grids), remembered
 * by a connection until grids or categories change: the store moves
 * `names_version` in hutong_meta in the transaction that changes them
 * (rebuilding the grid tree or the deadlines), and every batch asks it
 * once. A ranking of two thousand grids then costs one query, not two
 * thousand geodesic areas. */
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "hutong/store.h"

#include "store_int.h"
#include "store_pg.h"

typedef struct known {
    bool found;
    ht_group_info info;
} known;

struct ht__store_names {
    int64_t version; /* of the names held */
    GHashTable *by[HT_GROUP_COUNT];
};

void ht__store_names_free(struct ht__store_names *m) {
    if (!m) {
        return;
    }
    for (int k = 0; k < HT_GROUP_COUNT; k++) {
        if (m->by[k]) {
            g_hash_table_destroy(m->by[k]);
        }
    }
    free(m);
}

ht_status ht_store_group_infos(ht_store *s, ht_group by,
                               const char *const *keys, size_t n, bool *found,
                               ht_group_info *out, ht_error *err) {
    if (by == HT_GROUP_MONTH || by == HT_GROUP_DEPARTMENT || by < 0 ||
        by >= HT_GROUP_COUNT) {
        /* Named by themselves: nothing to remember. */
        for (size_t k = 0; k < n; k++) {
            ht_status st =
                ht_store_group_info(s, by, keys[k], &found[k], &out[k], err);
            if (st != HT_OK) {
                return st;
            }
        }
        return HT_OK;
    }
    int64_t version;
    ht_status st = ht__store_meta_number(s, "names_version", &version, err);
    if (st != HT_OK) {
        return st;
    }
    struct ht__store_names *m = s->names;
    if (!m && !(m = s->names = calloc(1, sizeof *m))) {
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    if (m->version != version) {
        for (int k = 0; k < HT_GROUP_COUNT; k++) {
            if (m->by[k]) {
                g_hash_table_remove_all(m->by[k]);
            }
        }
        m->version = version;
    }
    if (!m->by[by]) {
        m->by[by] =
            g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    }
    GHashTable *t = m->by[by];
    /* Many not known yet (a first ranking of every grid): asked in one
     * read transaction, not one each (its locks took 60 % of the time). */
    size_t misses = 0;
    for (size_t k = 0; k < n && misses < 2; k++) {
        misses += g_hash_table_lookup(t, keys[k]) == NULL;
    }
    bool txn = misses > 1 && !s->pg && sqlite3_get_autocommit(s->db) &&
               sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
    for (size_t k = 0; st == HT_OK && k < n; k++) {
        const known *hit = g_hash_table_lookup(t, keys[k]);
        if (!hit) {
            known *add = g_new0(known, 1);
            st = ht_store_group_info(s, by, keys[k], &add->found, &add->info,
                                     err);
            if (st != HT_OK) {
                g_free(add);
                break;
            }
            g_hash_table_insert(t, g_strdup(keys[k]), add);
            hit = add;
        }
        found[k] = hit->found;
        out[k] = hit->info;
    }
    /* (ended whatever happened: a reader left in it would see this
     * snapshot of the data from then on) */
    if (txn && (st != HT_OK ||
                sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    }
    return st;
}
