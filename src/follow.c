/* SPDX-License-Identifier: Apache-2.0 */
/* Several servers on one database: the follower. On PostgreSQL every
 * write to an incident, by another hutong server, an importer or any other
 * client, leaves a row in the database's change log and a notification
 * (store_pg.c). This thread listens on a connection of its own, reads the
 * log after the last change it applied, and brings the index, the tiles'
 * keys and /api/events up to date as the server's own writes do; a
 * notification missed (a lost connection, a restart of the database) is
 * caught up by reading the log again at least every half second. */
#include <stdlib.h>
#include <time.h>

#include "hutong/log.h"

#include "server_int.h"

enum { FOLLOW_BATCH = 4096, FOLLOW_WAIT_MS = 500 };

/* Changes older than a day are pruned, by each server about hourly. */
#define FOLLOW_KEEP_S (24 * 3600)

/* Apply everything after s->follow_seq. Reading a replica, this server's
 * own writes are read back too (the replica may have shown an incident
 * without one of them when another change to it was applied): they are
 * applied again but not announced again. */
static void follow_catch_up(ht_server *s) {
    int64_t *ids = NULL;
    bool *own = NULL;
    size_t n = 0, cap = 0, ocap = 0;
    int64_t last = s->follow_seq;
    bool gap = false;
    ht_error err = {0};
    for (;;) {
        if (ht_array_grow((void **)&ids, &cap, n + FOLLOW_BATCH, sizeof *ids,
                          &err) != HT_OK ||
            (s->read_replica &&
             ht_array_grow((void **)&own, &ocap, n + FOLLOW_BATCH, sizeof *own,
                           &err) != HT_OK)) {
            break;
        }
        size_t got = 0;
        bool g = false;
        int64_t to = last;
        if (ht_store_changes_after(s->follow, last, ids + n,
                                   own ? own + n : NULL, FOLLOW_BATCH, &got,
                                   &to, &g, &err) != HT_OK) {
            ht_log(HT_LOG_WARN, "follow", "%s", err.msg);
            break;
        }
        gap = gap || g;
        n += got;
        bool more = to != last;
        last = to;
        /* A large change (a rebuild of every deadline) is a reload. */
        if (!more || n > 200000) {
            gap = gap || more;
            break;
        }
    }
    if (last == s->follow_seq && !gap) {
        free(ids);
        free(own);
        return;
    }
    pthread_mutex_lock(&s->wmu);
    if (gap) {
        ht_log(HT_LOG_INFO, "follow",
               "change log beyond reach: index reloaded");
        ht__live_reload(s, s->follow);
    } else if (n) {
        ht__live_publish(s, s->follow, ids, n);
        size_t news = 0;
        for (size_t k = 0; k < n; k++) {
            if (!own || !own[k]) {
                ids[news++] = ids[k];
            }
        }
        if (news) {
            ht__events_announce(s, s->follow, ids, news);
        }
    }
    s->follow_seq = last;
    pthread_mutex_unlock(&s->wmu);
    free(ids);
    free(own);
}

void *ht__follow_main(void *arg) {
    ht_server *s = arg;
    struct timespec last_prune = {0};
    bool away = false;
    while (!atomic_load(&s->follow_stop)) {
        bool woke = false;
        ht_error err = {0};
        if (ht_store_wait_change(s->follow, FOLLOW_WAIT_MS, &woke, &err) !=
            HT_OK) {
            if (!away) {
                ht_log(HT_LOG_WARN, "follow", "%s; trying again", err.msg);
            }
            away = true;
            struct timespec ts = {0, FOLLOW_WAIT_MS * 1000000L};
            nanosleep(&ts, NULL);
        } else {
            away = false;
        }
        follow_catch_up(s);
        ht__server_refresh_tokens(s);
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - last_prune.tv_sec >= 3600) {
            /* The snapshot first, so a restart reads it and the log after. */
            if (last_prune.tv_sec != 0) {
                ht__server_save_pg_index(s);
            }
            last_prune = now;
            ht_store_prune_changes(s->follow, FOLLOW_KEEP_S, NULL);
        }
    }
    return NULL;
}
