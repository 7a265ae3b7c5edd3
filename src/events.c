/* SPDX-License-Identifier: Apache-2.0 */
/* Live events: Server-Sent Events from suspended connections, with a
 * heartbeat thread that also reaps slow connections. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hutong/clock.h"
#include "hutong/datetime.h"

#include "server_int.h"

/* Give every suspended listener its turn again. Call with emu held. */
void ht__events_wake_listeners(ht_server *s) {
    for (sse_sub *u = s->subs; u; u = u->link) {
        if (u->suspended) {
            u->suspended = false;
            MHD_resume_connection(u->conn);
        }
    }
}

/* What an event of the ring is about. */
typedef struct announce {
    ht_server *s;
    const char *event; /* "incident" or "overdue" */
} announce;

/* One event of the ring: an incident as the store now holds it. Call
 * with emu held. */
static ht_status announce_row(const ht_incident_row *r, void *ud,
                              ht_error *err) {
    (void)err;
    const announce *a = ud;
    ht_server *s = a->s;
    char at[32];
    ht_datetime_format(r->reported_at, at, sizeof at);
    json_t *j =
        json_pack("{s:I, s:s?, s:s, s:i, s:s, s:s, s:s, s:s?, s:[f,f]}", "id",
                  (json_int_t)r->id, "external_id", r->external_id, "category",
                  r->category, "severity", r->severity, "source",
                  ht_model_source_name(r->source), "status",
                  ht_model_state_name(r->state), "reported_at", at, "grid_code",
                  r->grid_code, "lonlat", round(r->lon * 1e7) / 1e7,
                  round(r->lat * 1e7) / 1e7);
    if (j && r->department) {
        json_object_set_new(j, "department", json_string(r->department));
    }
    if (j && strcmp(a->event, "overdue") == 0) {
        /* Which deadline it passed, and when. */
        bool response = r->state == HT_STATE_REPORTED &&
                        r->response_due != HT_TIME_NONE &&
                        (r->resolution_due == HT_TIME_NONE ||
                         r->response_due <= r->resolution_due);
        char due[32];
        ht_datetime_format(response ? r->response_due : r->resolution_due, due,
                           sizeof due);
        json_object_set_new(j, "deadline",
                            json_string(response ? "response" : "resolution"));
        json_object_set_new(j, "due", json_string(due));
        /* by the server's clock, which may not be the listener's */
        int64_t late_at = response ? r->response_due : r->resolution_due;
        int64_t now = ht_clock_now();
        json_object_set_new(
            j, "hours_over",
            json_real(now > late_at
                          ? round((double)(now - late_at) / 36.0) / 100
                          : 0));
    }
    char *data =
        j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(j);
    char *ev = NULL;
    size_t len = data ? strlen(data) + 64 : 0;
    if (data && (ev = malloc(len))) {
        snprintf(ev, len, "id: %lu\nevent: %s\ndata: %s\n\n", s->event_seq + 1,
                 a->event, data);
        char **slot = &s->events[s->event_seq % EVENT_RING];
        free(*slot);
        *slot = ev;
        snprintf(s->event_grid[s->event_seq % EVENT_RING],
                 sizeof s->event_grid[0], "%s",
                 r->grid_code ? r->grid_code : "");
        s->event_seq++;
    }
    free(data);
    return HT_OK;
}

/* Announce the incidents @ids as the writer now holds them. */
void ht__events_announce(ht_server *s, ht_store *from, const int64_t *ids,
                         size_t n) {
    pthread_mutex_lock(&s->emu);
    /* At most a ring's worth: listeners that fall behind refetch. */
    size_t first = n > EVENT_RING ? n - EVENT_RING : 0;
    announce a = {s, "incident"};
    ht_store_each_incident(from, ids + first, n - first, announce_row, &a,
                           NULL);
    ht__events_wake_listeners(s);
    pthread_mutex_unlock(&s->emu);
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    sse_sub *u = cls;
    ht_server *s = u->server;
    pthread_mutex_lock(&s->emu);
    if (s->closing) {
        pthread_mutex_unlock(&s->emu);
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    size_t n = 0;
    if (!u->hello) {
        n = (size_t)snprintf(buf, max, "retry: 2000\n: hutong events\n\n");
        u->hello = true;
    }
    /* The rest of an event larger than the buffer MHD offers. */
    if (u->part) {
        size_t len = u->part_len - u->part_off;
        len = len > max - n ? max - n : len;
        memcpy(buf + n, u->part + u->part_off, len);
        n += len;
        u->part_off += len;
        if (u->part_off == u->part_len) {
            HT_CLEAR(u->part, free);
        }
    }
    unsigned long oldest =
        s->event_seq > EVENT_RING ? s->event_seq - EVENT_RING : 0;
    if (u->next < oldest) {
        u->next = oldest; /* fell behind: the client refetches */
    }
    while (u->next < s->event_seq) {
        const char *ev = s->events[u->next % EVENT_RING];
        if (u->scope[0] &&
            !ht__live_in_scope(s, s->event_grid[u->next % EVENT_RING],
                               u->scope)) {
            u->next++; /* not this reader's */
            continue;
        }
        size_t len = ev ? strlen(ev) : 0;
        if (n + len > max) {
            if (n > 0 || u->part) {
                break; /* in the next call, from its start */
            }
            /* Larger than the whole buffer: sent in parts, from a copy,
             * since the ring may drop the event meanwhile. */
            if (!(u->part = malloc(len))) {
                break;
            }
            memcpy(u->part, ev, len);
            u->part_len = len;
            u->part_off = max;
            memcpy(buf, ev, max);
            n = max;
            u->next++;
            break;
        }
        memcpy(buf + n, ev, len);
        n += len;
        u->next++;
    }
    if (n == 0 && u->beat && max >= 3) {
        memcpy(buf, ":\n\n", 3); /* keeps proxies and dead peers honest */
        n = 3;
    }
    u->beat = false;
    if (n == 0) {
        u->suspended = true;
        MHD_suspend_connection(u->conn);
    }
    pthread_mutex_unlock(&s->emu);
    return (ssize_t)n;
}

static void sse_free(void *cls) {
    sse_sub *u = cls;
    ht_server *s = u->server;
    pthread_mutex_lock(&s->emu);
    for (sse_sub **p = &s->subs; *p; p = &(*p)->link) {
        if (*p == u) {
            *p = u->link;
            break;
        }
    }
    pthread_mutex_unlock(&s->emu);
    free(u->part);
    free(u);
}

/* The incidents that turned overdue since the last check: their
 * neighbourhoods marked (the tiles within reach get new keys) and each
 * announced as an "overdue" event (no write happened: time passed). Read
 * through the beat thread's own connection. Call without emu.
 *
 * Pictures of the incidents late now are drawn for "now" to the minute
 * (late when the deadline lies before the minute): the check runs at
 * whole minutes too, for the deadlines before it, so a tile's key changes
 * exactly when its picture does. */
static void announce_overdue(ht_server *s) {
    int64_t now = ht_clock_now() / 60 * 60 - 1;
    /* Nothing to look for until the next deadline, unless a write made a
     * new snapshot (which may hold nearer ones). */
    unsigned long version = atomic_load(&s->version);
    if (now <= s->overdue_checked ||
        (version == s->overdue_version && now < s->overdue_next)) {
        return;
    }
    if (!s->beat_reader &&
        ht_store_open(ht_store_path(s->store), HT_STORE_READONLY,
                      &s->beat_reader, NULL) != HT_OK) {
        return;
    }
    ht_index *ix = ht__live_index_ref(s);
    int64_t *ids = NULL;
    size_t n = 0;
    int64_t next = INT64_MAX;
    bool ok = ix && ht_index_crossings(ix, s->overdue_checked, now, &ids, &n,
                                       &next, NULL) == HT_OK;
    if (ok && n > 0) {
        /* marked first: a listener that fetches tiles on the event gets
         * the new ones */
        ht__live_mark(s, ix, ids, n, atomic_fetch_add(&s->marks, 1) + 1);
        pthread_mutex_lock(&s->emu);
        size_t first = n > EVENT_RING ? n - EVENT_RING : 0;
        announce a = {s, "overdue"};
        ht_store_each_incident(s->beat_reader, ids + first, n - first,
                               announce_row, &a, NULL);
        ht__events_wake_listeners(s);
        pthread_mutex_unlock(&s->emu);
    }
    free(ids);
    ht_index_unref(ix);
    if (!ok) {
        return; /* looked at again in a second */
    }
    s->overdue_checked = now;
    s->overdue_next = next;
    s->overdue_version = version;
}

/* Every second, cut connections that are too slow to send a request and
 * announce the incidents that turned overdue; every BEAT_SECONDS, a
 * comment to each listener. */
void *ht__events_beat_main(void *arg) {
    ht_server *s = arg;
    long long next_beat = ht__http_now_ms() + BEAT_SECONDS * 1000;
    pthread_mutex_lock(&s->emu);
    while (!s->closing) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_cond_timedwait(&s->beat_cv, &s->emu, &until);
        if (s->closing) {
            break;
        }
        pthread_mutex_unlock(&s->emu);
        ht__http_reap_slow(s);
        announce_overdue(s);
        pthread_mutex_lock(&s->emu);
        if (ht__http_now_ms() >= next_beat) {
            next_beat = ht__http_now_ms() + BEAT_SECONDS * 1000;
            for (sse_sub *u = s->subs; u; u = u->link) {
                u->beat = true;
            }
            ht__events_wake_listeners(s);
        }
    }
    pthread_mutex_unlock(&s->emu);
    return NULL;
}

/* GET /api/events: new and changed incidents as they are committed. */
enum MHD_Result ht__route_events(ht_server *s, struct MHD_Connection *c,
                                 request *rq, const char *const *args) {
    (void)args;
    query q;
    if (!ht__http_parse_query(c, "", &q)) {
        return ht__http_send_error(c, rq, MHD_HTTP_BAD_REQUEST, q.bad);
    }
    sse_sub *u = calloc(1, sizeof *u);
    if (!u) {
        return MHD_NO;
    }
    u->conn = c;
    u->server = s;
    snprintf(u->scope, sizeof u->scope, "%s", rq->scope);
    ht__http_client_addr(c, u->addr, sizeof u->addr);
    /* Listeners hold their connection for good: at most so many, and so
     * many from one address, so that they never take the connections the
     * tiles need. */
    pthread_mutex_lock(&s->emu);
    unsigned all = 0, here = 0;
    for (const sse_sub *v = s->subs; v; v = v->link) {
        all++;
        here += strcmp(v->addr, u->addr) == 0;
    }
    bool full = all >= s->max_listeners || here >= s->max_listeners_ip;
    if (!full) {
        u->next = s->event_seq; /* from now on */
        u->link = s->subs;
        s->subs = u;
    }
    pthread_mutex_unlock(&s->emu);
    if (full) {
        free(u);
        atomic_fetch_add(&s->listeners_refused, 1);
        char msg[200];
        snprintf(msg, sizeof msg,
                 "too many event listeners (at most %u from one address, %u "
                 "in all): try again later, or poll /api/incidents",
                 s->max_listeners_ip, s->max_listeners);
        rq->retry_after = 30;
        return ht__http_send_error(c, rq, MHD_HTTP_SERVICE_UNAVAILABLE, msg);
    }
    struct MHD_Response *r = MHD_create_response_from_callback(
        MHD_SIZE_UNKNOWN, 4096, sse_read, u, sse_free);
    if (!r) {
        sse_free(u);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "text/event-stream");
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    MHD_add_response_header(r, "Access-Control-Allow-Origin", "*");
    enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    rq->status = MHD_HTTP_OK;
    return ok;
}
