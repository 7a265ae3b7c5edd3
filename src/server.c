/* SPDX-License-Identifier: Apache-2.0 */
/* The HTTP server: libmicrohttpd with a thread pool; one read-only store
 * connection and renderer per worker thread, the features and incident
 * index shared. Start and stop. */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "hutong/clock.h"
#include "hutong/hash.h"
#include "hutong/log.h"

#include "server_int.h"

/* Density grids per class from this many incidents on (below, a build
 * takes a few tens of milliseconds), within this many bytes a radius. */
#define ATLAS_FROM 200000
#define ATLAS_MAX_BYTES ((size_t)256 << 20)

static void completed(void *cls, struct MHD_Connection *c, void **req_cls,
                      enum MHD_RequestTerminationCode toe) {
    ht_server *s = cls;
    request *rq = *req_cls;
    (void)toe;
    /* Kept alive, the connection waits for its next request. */
    conn_slot *slot = ht__http_slot_of(c);
    if (slot) {
        atomic_store(&slot->ready_ms, ht__http_now_ms());
        atomic_store(&slot->waiting, true);
    }
    if (!rq) {
        return;
    }
    if (rq->seen) {
        ht__routes_count_request(s, rq);
    }
    if (s->log) {
        char addr[64];
        ht__http_client_addr(c, addr, sizeof addr);
        fprintf(s->log, "%s %s %s %u %zu %.1fms\n", addr, rq->method, rq->uri,
                rq->status, rq->bytes, ht__http_since_ms(&rq->t0));
        fflush(s->log);
    }
    ht_buf_free(rq->body);
    free(rq);
    *req_cls = NULL;
}

/* A request starts: its clock and its URI (with the query, as sent) for
 * the access log. The result becomes the request's state. */
static void *uri_logger(void *cls, const char *uri, struct MHD_Connection *c) {
    (void)cls;
    (void)c;
    request *rq = calloc(1, sizeof *rq);
    if (rq) {
        rq->label = R_OTHER; /* until a route is found */
        clock_gettime(CLOCK_MONOTONIC, &rq->t0);
        /* Control characters never reach the log. */
        size_t n = 0;
        for (const char *p = uri; *p && n + 1 < sizeof rq->uri; p++) {
            rq->uri[n++] = (unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p;
        }
        rq->uri[n] = '\0';
        ht__http_redact_tokens(rq->uri);
    }
    return rq;
}

/* @want connections, within the open-file limit (raised to fit when the
 * hard limit allows): each takes a descriptor, and the database files,
 * the log and the listening socket need some. */
static unsigned fit_connections(unsigned want) {
    const rlim_t spare = 64;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        return want;
    }
    rlim_t need = (rlim_t)want + spare;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need
                          ? need
                          : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        unsigned fit =
            rl.rlim_cur > 2 * spare ? (unsigned)(rl.rlim_cur - spare) : 16;
        ht_log(HT_LOG_WARN, "server",
               "open-file limit %llu: %u connections at most, not %u",
               (unsigned long long)rl.rlim_cur, fit, want);
        return fit;
    }
    return want;
}

/* The index: from its snapshot beside the database (DB.index) when that
 * holds the store's data version, else from the store, then saved for the
 * next start when nothing was written meanwhile. */
/* A database server's index from @path, a snapshot of this database at a
 * change its log still holds after: the follower applies the rest.
 * HT_ENOTFOUND (the reason in @why) when there is none such: the index
 * loads from the database, and is saved there. */
/* The index's base is the snapshot file's, stamped (@source, @version). */
static void stamp(ht_server *s, int64_t source, int64_t version) {
    s->stamped_base = ht_index_base_serial(s->index);
    s->stamp_source = source;
    s->stamp_version = version;
}

static ht_status read_pg_index(ht_server *s, const char *path,
                               const struct timespec *t0, ht_error *why,
                               ht_error *err) {
    if (!(s->index_path = strdup(path))) {
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    ht_status st = ht_store_database_id(s->follow, &s->database_id, err);
    if (st != HT_OK) {
        return st;
    }
    int64_t seq = 0;
    bool reachable = false;
    if (ht_index_read_stamped(path, s->database_id, &seq, &s->index, why) !=
        HT_OK) {
        return HT_ENOTFOUND;
    }
    st = ht_store_changes_reachable(s->follow, seq, &reachable, err);
    if (st != HT_OK || !reachable) {
        HT_CLEAR(s->index, ht_index_unref);
        if (st == HT_OK) {
            ht_error_set(why, HT_ENOTFOUND,
                         "%s: of change %lld, beyond the change log's reach",
                         path, (long long)seq);
        }
        return st == HT_OK ? HT_ENOTFOUND : st;
    }
    s->follow_seq = seq;
    stamp(s, s->database_id, seq);
    snprintf(s->index_note, sizeof s->index_note,
             "%zu incidents read from %s in %.0f ms (change %lld; the change "
             "log brings it up to date)",
             ht_index_count(s->index), path, ht__http_since_ms(t0),
             (long long)seq);
    return HT_OK;
}

static ht_status load_index(ht_server *s, const char *db,
                            const char *index_file, ht_error *err) {
    size_t len = strlen(db) + 8;
    if (!(s->index_path = malloc(len))) {
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    snprintf(s->index_path, len, "%s.index", db);
    s->index_data_version = -1;
    int64_t v0, v1;
    ht_status st = ht_store_data_version(s->store, &v0, err);
    if (st != HT_OK) {
        return st;
    }
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ht_error why = {0};
    if (ht_store_is_url(db)) {
        /* No file beside a database server: --index-file, or loaded. */
        HT_CLEAR(s->index_path, free);
        snprintf(why.msg, sizeof why.msg, "a database server");
        if (index_file && (st = read_pg_index(s, index_file, &t0, &why, err)) !=
                              HT_ENOTFOUND) {
            return st;
        }
    } else if (ht_index_read(s->index_path, v0, &s->index, &why) == HT_OK) {
        s->index_data_version = v0;
        stamp(s, 0, v0);
        snprintf(s->index_note, sizeof s->index_note,
                 "%zu incidents read from %s in %.0f ms",
                 ht_index_count(s->index), s->index_path,
                 ht__http_since_ms(&t0));
        return HT_OK;
    }
    st = ht_index_load(s->store, &s->index, err);
    if (st != HT_OK || ht_store_data_version(s->store, &v1, err) != HT_OK) {
        return st != HT_OK ? st : err->code;
    }
    snprintf(s->index_note, sizeof s->index_note,
             "%zu incidents loaded from the database in %.0f ms (%s)",
             ht_index_count(s->index), ht__http_since_ms(&t0), why.msg);
    if (s->follow && s->index_path) {
        ht__server_save_pg_index(s); /* the next start reads it */
    } else if (v1 == v0 && s->index_path) {
        s->index_data_version = v0;
        ht_error serr = {0};
        if (ht_index_save(s->index, s->index_path, v0, &serr) != HT_OK) {
            ht_log(HT_LOG_WARN, "server", "index snapshot: %s", serr.msg);
        } else {
            stamp(s, 0, v0);
        }
    }
    return HT_OK;
}

/* Incidents from which the tallies of all time are made at the start. */
#define TALLY_WARM_FROM 400000

/* The tallies of all time a ranking asks first (index_tally_memo.c keeps
 * them), made while the first requests are few, in one thread (the other
 * core answers them): by grid last, so that a tight budget lets the
 * others go first. */
static void *warm_tallies(void *arg) {
    ht_server *s = arg;
    /* below the requests: a core they want is theirs (on Linux the nice
     * value is a thread's own, and 0 is this thread) */
    setpriority(PRIO_PROCESS, 0, 19);
    ht_index *ix = ht__live_index_ref(s);
    static const ht_group order[] = {HT_GROUP_CATEGORY,   HT_GROUP_MONTH,
                                     HT_GROUP_DEPARTMENT, HT_GROUP_STREET,
                                     HT_GROUP_COMMUNITY,  HT_GROUP_GRID};
    for (size_t k = 0; ix && k < sizeof order / sizeof *order; k++) {
        pthread_mutex_lock(&s->emu);
        bool closing = s->closing;
        pthread_mutex_unlock(&s->emu);
        ht_index_tally *t = malloc(ht_index_groups(ix, order[k]) * sizeof *t);
        ht_error err = {0};
        if (closing || !t ||
            ht_index_tally_groups(ix, NULL, order[k], ht_clock_now(),
                                  order[k] == HT_GROUP_DEPARTMENT, 1, t,
                                  &err) != HT_OK) {
            free(t);
            break;
        }
        free(t);
    }
    ht_index_unref(ix);
    malloc_trim(0); /* the walks' histograms, freed: to the system */
    return NULL;
}

ht_status ht_server_start(const ht_server_opts *o, ht_server **out,
                          ht_error *err) {
    *out = NULL;
    if (!o->db) {
        return ht_error_set(err, HT_EINVAL, "serve: no database");
    }
    if (o->read_db &&
        (!ht_store_is_url(o->db) || !ht_store_is_url(o->read_db))) {
        return ht_error_set(err, HT_EINVAL,
                            "serve: --read-db is a replica of a PostgreSQL "
                            "--db (both postgresql:// URLs)");
    }
    ht_server *s = calloc(1, sizeof *s);
    /* Everything but writes reads the replica when there is one. */
    const char *rdb = o->read_db ? o->read_db : o->db;
    if (!s || !(s->db = strdup(rdb)) ||
        !(s->host = strdup(o->host ? o->host : "127.0.0.1"))) {
        if (s) {
            free(s->db);
        }
        free(s);
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    s->log = o->access_log;
    pthread_mutex_init(&s->imu, NULL);
    pthread_mutex_init(&s->emu, NULL);
    pthread_cond_init(&s->beat_cv, NULL);
    pthread_mutex_init(&s->wmu, NULL);
    pthread_mutex_init(&s->tmu, NULL);
    clock_gettime(CLOCK_MONOTONIC, &s->started);
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->cmu, NULL);
    pthread_key_create(&s->key, NULL);
    s->max_conns =
        fit_connections(o->max_connections ? o->max_connections : 1000);
    s->max_conns_ip =
        o->max_connections_per_ip ? o->max_connections_per_ip : 64;
    s->max_listeners = o->max_listeners ? o->max_listeners : 256;
    if (s->max_listeners > s->max_conns / 2) {
        s->max_listeners = s->max_conns / 2 ? s->max_conns / 2 : 1;
    }
    s->max_listeners_ip =
        o->max_listeners_per_ip ? o->max_listeners_per_ip : 16;
    s->request_timeout_s = o->request_timeout_s ? o->request_timeout_s : 10;
    if (o->public_url) {
        if (!ht_server_public_url_ok(o->public_url)) {
            ht_server_stop(s);
            return ht_error_set(err, HT_EINVAL,
                                "serve: --public-url \"%s\" is not an http:// "
                                "or https:// URL of a host",
                                o->public_url);
        }
        s->public_url = strdup(o->public_url);
        if (!s->public_url) {
            ht_server_stop(s);
            return ht_error_set(err, HT_ENOMEM, "out of memory");
        }
        size_t len = strlen(s->public_url);
        while (len > 0 && s->public_url[len - 1] == '/') {
            s->public_url[--len] = '\0';
        }
    }
    s->read_replica = o->read_db != NULL;
    ht_status st = ht_store_open(rdb, HT_STORE_READONLY, &s->store, err);
    if (st == HT_OK) {
        st = ht_features_load(s->store, &s->feat, err);
    }
    if (st == HT_OK && ht_store_is_url(o->db)) {
        /* Several servers on one database: changes from the one read
         * before the index on are the follower's. */
        st = ht_store_open(rdb, HT_STORE_READONLY, &s->follow, err);
        if (st == HT_OK) {
            st = ht_store_last_change(s->follow, &s->follow_seq, err);
        }
    }
    if (st == HT_OK) {
        st = load_index(s, o->db, o->index_file, err);
    }
    if (st == HT_OK) {
        st = ht_heat_atlases_new(
            o->heat_grids_from ? o->heat_grids_from : ATLAS_FROM,
            ATLAS_MAX_BYTES, &s->atlases, err);
    }
    if (st == HT_OK) {
        /* Before any worker can ask for them. */
        ht__live_prepare_atlases(s);
    }
    bool on_db = ht_store_is_url(o->db);
    if (st == HT_OK && on_db && o->tokens) {
        st = ht_error_set(err, HT_EINVAL,
                          "serve: on a PostgreSQL database the tokens live in "
                          "it, shared by every server (hutong token create "
                          "--db URL): no --tokens FILE");
    }
    if (st == HT_OK && o->private_reads && !o->tokens && !on_db) {
        st = ht_error_set(err, HT_EINVAL,
                          "serve: --private needs --tokens (who may read)");
    }
    s->private_reads = o->private_reads;
    s->trust_proxy = o->trust_proxy;
    const char *contact[3] = {o->contact_person, o->contact_organization,
                              o->contact_email};
    for (int k = 0; k < 3; k++) {
        if (contact[k] && !(s->contact[k] = strdup(contact[k]))) {
            ht_server_stop(s);
            return ht_error_set(err, HT_ENOMEM, "out of memory");
        }
    }
    if (st == HT_OK && o->tokens) {
        st = ht_tokens_load(o->tokens, &s->tokens, err);
    } else if (st == HT_OK && on_db) {
        st = ht_store_tokens_load(s->follow, &s->tokens, &s->tokens_version,
                                  err);
    }
    if (st == HT_OK && s->tokens) {
        st = ht_store_open(o->db, HT_STORE_WRITE, &s->writer, err);
        if (st == HT_OK) {
            /* Writes here are small: a 16 MB page cache, not the importer's
             * 64 MB, which an index rebuild (it reads every incident
             * through this connection) would otherwise fill and keep. */
            ht_store_set_cache_mb(s->writer, 16);
        }
    }
    if (st == HT_OK) {
        st = ht_cache_new(o->no_cache      ? 0
                          : o->cache_bytes ? o->cache_bytes
                                           : 256u << 20,
                          &s->cache, err);
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(o->port)};
    if (st == HT_OK && inet_pton(AF_INET, s->host, &sa.sin_addr) != 1) {
        st = ht_error_set(err, HT_EINVAL,
                          "serve: \"%s\" is not an IPv4 address", s->host);
    }
    if (st == HT_OK) {
        s->extent = ht_bbox_empty();
        for (size_t i = 0; i < ht_features_grid_count(s->feat); i++) {
            const ht_fgrid *g = ht_features_grid(s->feat, i);
            ht_bbox_add(&s->extent, g->bbox.minx, g->bbox.miny);
            ht_bbox_add(&s->extent, g->bbox.maxx, g->bbox.maxy);
        }
        if (s->extent.minx > s->extent.maxx) {
            s->extent = ht_index_bbox(s->index);
        }
        if (!ht__live_cells_init(s)) {
            st = ht_error_set(err, HT_ENOMEM, "out of memory");
        }
    }
    if (st == HT_OK) {
        /* ETags change when the file does. */
        struct stat sb;
        uint64_t h = HT_HASH64_INIT;
        if (stat(o->db, &sb) == 0) {
            h = ht_hash64(h, &sb.st_mtim, sizeof sb.st_mtim);
            h = ht_hash64(h, &sb.st_size, sizeof sb.st_size);
        }
        size_t n = ht_index_count(s->index);
        s->etag_seed = ht_hash64(h, &n, sizeof n);
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        unsigned threads =
            o->threads ? o->threads : (unsigned)(cpus > 0 ? cpus : 2);
        s->d = MHD_start_daemon(
            MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO |
                MHD_ALLOW_SUSPEND_RESUME,
            0, NULL, NULL, ht__routes_handle, s, MHD_OPTION_SOCK_ADDR, &sa,
            MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_TIMEOUT,
            30u, MHD_OPTION_CONNECTION_LIMIT, s->max_conns,
            MHD_OPTION_PER_IP_CONNECTION_LIMIT, s->max_conns_ip,
            MHD_OPTION_NOTIFY_CONNECTION, ht__http_on_connection, s,
            MHD_OPTION_NOTIFY_COMPLETED, completed, s,
            MHD_OPTION_URI_LOG_CALLBACK, uri_logger, s, MHD_OPTION_END);
        if (!s->d) {
            int e = errno;
            st = ht_error_set(err, HT_EIO, "serve: cannot listen on %s:%u: %s",
                              s->host, (unsigned)o->port,
                              e ? strerror(e) : "the address is not usable");
        }
    }
    if (st != HT_OK) {
        ht_server_stop(s);
        return st;
    }
    const union MHD_DaemonInfo *di =
        MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : o->port;
    /* Incidents already late when the server starts are not news. */
    s->overdue_checked = ht_clock_now() / 60 * 60 - 1;
    s->beat_started =
        pthread_create(&s->beat_thread, NULL, ht__events_beat_main, s) == 0;
    s->follow_started = s->follow && pthread_create(&s->follow_thread, NULL,
                                                    ht__follow_main, s) == 0;
    ht_index *ix = ht__live_index_ref(s);
    s->tally_started =
        ix && ht_index_count(ix) >= TALLY_WARM_FROM &&
        pthread_create(&s->tally_thread, NULL, warm_tallies, s) == 0;
    ht_index_unref(ix);
    *out = s;
    return HT_OK;
}

void ht__server_save_pg_index(ht_server *s) {
    if (!s->index_path || !s->index) {
        return;
    }
    /* The index and the last change it holds, together: the follower
     * applies changes under wmu. */
    pthread_mutex_lock(&s->wmu);
    ht_index *ix = ht__live_index_ref(s);
    int64_t seq = s->follow_seq;
    pthread_mutex_unlock(&s->wmu);
    ht_error err = {0};
    if (ht_index_save_stamped(ix, s->index_path, s->database_id, seq, &err) !=
        HT_OK) {
        ht_log(HT_LOG_WARN, "server", "index snapshot: %s", err.msg);
    } else {
        ht__live_save_atlases(s, ix, s->database_id, seq);
    }
    ht_index_unref(ix);
}

bool ht__server_check_token(ht_server *s, const char *token,
                            ht_token_info *who) {
    pthread_mutex_lock(&s->tmu);
    bool ok = s->tokens && ht_tokens_check(s->tokens, token, who);
    pthread_mutex_unlock(&s->tmu);
    return ok;
}

void ht__server_refresh_tokens(ht_server *s) {
    int64_t v;
    ht_tokens *t = NULL;
    ht_error err = {0};
    if (ht_store_tokens_version(s->follow, &v, &err) != HT_OK ||
        v == s->tokens_version) {
        return;
    }
    if (ht_store_tokens_load(s->follow, &t, &v, &err) != HT_OK) {
        ht_log(HT_LOG_WARN, "tokens", "%s", err.msg);
        return;
    }
    pthread_mutex_lock(&s->tmu);
    ht_tokens *old = s->tokens;
    s->tokens = t;
    s->tokens_version = v;
    pthread_mutex_unlock(&s->tmu);
    ht_tokens_free(old);
    ht_log(HT_LOG_INFO, "tokens", "%zu tokens (version %lld)",
           ht_tokens_count(t), (long long)v);
}

const char *ht_server_heat_note(const ht_server *s) {
    return s->heat_note;
}

const char *ht_server_index_note(const ht_server *s) {
    return s->index_note;
}

uint16_t ht_server_port(const ht_server *s) {
    return s->port;
}

/* A snapshot of the live index, for the next start, when this server's
 * writes are the only ones since it was loaded (else the next start reads
 * the store). */
static void save_index(ht_server *s) {
    if (s->follow) {
        ht__server_save_pg_index(s);
        return;
    }
    int64_t v;
    int64_t made = s->writer ? ht_store_versions_made(s->writer) : 0;
    if (!s->writer || !s->index || s->index_data_version < 0 || made == 0 ||
        ht_store_data_version(s->writer, &v, NULL) != HT_OK ||
        v != s->index_data_version + made) {
        return;
    }
    ht_error err = {0};
    ht_index *ix = ht__live_index_ref(s);
    if (ht_index_save(ix, s->index_path, v, &err) != HT_OK) {
        ht_log(HT_LOG_WARN, "server", "index snapshot: %s", err.msg);
    } else {
        ht__live_save_atlases(s, ix, 0, v);
    }
    ht_index_unref(ix);
}

void ht_server_stop(ht_server *s) {
    if (!s) {
        return;
    }
    /* Listeners end their streams first: MHD must not stop with
     * connections suspended. */
    pthread_mutex_lock(&s->emu);
    s->closing = true;
    ht__events_wake_listeners(s);
    pthread_cond_broadcast(&s->beat_cv);
    pthread_mutex_unlock(&s->emu);
    if (s->beat_started) {
        pthread_join(s->beat_thread, NULL);
    }
    if (s->tally_started) {
        pthread_join(s->tally_thread, NULL);
    }
    atomic_store(&s->follow_stop, true);
    if (s->follow_started) {
        pthread_join(s->follow_thread, NULL);
    }
    for (int k = 0; k < 200; k++) {
        pthread_mutex_lock(&s->emu);
        bool any = false;
        for (sse_sub *u = s->subs; u && !any; u = u->link) {
            any = u->suspended;
            if (any) {
                u->suspended = false; /* suspended again meanwhile */
                MHD_resume_connection(u->conn);
            }
        }
        bool listening = s->subs != NULL;
        pthread_mutex_unlock(&s->emu);
        if (!listening || !s->d) {
            break;
        }
        nanosleep(&(struct timespec){0, 10000000}, NULL);
    }
    if (s->d) {
        MHD_stop_daemon(s->d); /* joins the workers after their requests */
    }
    /* The exports being written find their readers gone (the pipes are
     * closed with their responses) and stop. */
    for (int k = 0; k < 1000 && atomic_load(&s->exports) > 0; k++) {
        nanosleep(&(struct timespec){0, 10000000}, NULL);
    }
    /* The density grids being built are done (and saved) before the
     * snapshot is, which may fold changes into a base of its own. */
    ht_heat_atlases_wait(s->atlases);
    save_index(s);
    free(s->index_path);
    for (int k = 0; k < EVENT_RING; k++) {
        free(s->events[k]);
    }
    for (worker *w = s->workers; w;) {
        worker *next = w->next;
        ht_renderer_free(w->rend);
        ht_store_close(w->store);
        for (int k = 0; k < 8; k++) {
            ht_crs_transform_free(w->to_wgs84[k]);
            ht_crs_transform_free(w->from_wgs84[k]);
        }
        free(w);
        w = next;
    }
    ht_heat_atlases_free(s->atlases); /* after the renderers borrowing it */
    for (int k = 0; k < s->nstyles; k++) {
        ht_style_unref(s->styles[k].style);
    }
    ht_cache_free(s->cache);
    free(s->cells);
    for (int k = 0; k < CHANGE_LOG; k++) {
        free(s->changes[k].ids);
    }
    ht_store_close(s->writer);
    ht_store_close(s->follow);
    ht_store_close(s->beat_reader);
    ht_tokens_free(s->tokens);
    ht_index_unref(s->index);
    ht_features_free(s->feat);
    ht_store_close(s->store);
    pthread_key_delete(s->key);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->cmu);
    pthread_mutex_destroy(&s->imu);
    pthread_mutex_destroy(&s->emu);
    pthread_cond_destroy(&s->beat_cv);
    pthread_mutex_destroy(&s->wmu);
    pthread_mutex_destroy(&s->tmu);
    free(s->db);
    free(s->host);
    free(s->public_url);
    for (int k = 0; k < 3; k++) {
        free(s->contact[k]);
    }
    free(s);
}
