/* SPDX-License-Identifier: Apache-2.0 */
/* The HTTP server: libmicrohttpd with a thread pool; one read-only store
 * connection and renderer per worker thread, the features and incident
 * index shared. */
#include "hutong/server.h"

#include <arpa/inet.h>
#include <cairo-pdf.h>
#include <cairo.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "hutong/buf.h"
#include "hutong/cache.h"
#include "hutong/crs.h"
#include "hutong/datetime.h"
#include "hutong/features.h"
#include "hutong/filter.h"
#include "hutong/hash.h"
#include "hutong/import.h"
#include "hutong/index.h"
#include "hutong/log.h"
#include "hutong/model.h"
#include "hutong/png.h"
#include "hutong/render.h"
#include "hutong/stats.h"
#include "hutong/store.h"
#include "hutong/style.h"
#include "hutong/tile.h"
#include "hutong/token.h"
#include "hutong/wms.h"

#include "web_assets.h"

#define MAX_STYLES 64
#define MAX_ZOOM 22
#define MAX_QUERY 2048 /* bytes of query parameters */
#define MAX_BODY \
    (1u << 20) /* bytes of a POST: below the importer's bulk mode */
#define LEAFLET_DIR "/usr/share/javascript/leaflet" /* Debian libjs-leaflet */

/* Routes and statuses counted for /metrics. */
enum {
    R_TILE,
    R_TILEJSON,
    R_LEGEND,
    R_WMS,
    R_MAP,
    R_API,
    R_PAGE,
    R_STATIC,
    R_HEALTH,
    R_METRICS,
    R_OTHER,
    R_COUNT
};
static const char *const route_names[R_COUNT] = {
    "tiles", "tilejson", "legend", "wms",     "map",  "api",
    "page",  "static",   "health", "metrics", "other"};
static const unsigned status_codes[] = {200, 201, 204, 304, 400, 401, 403,
                                        404, 405, 409, 413, 500, 503};
#define NSTATUS (sizeof status_codes / sizeof *status_codes + 1)
/* Upper bounds of the tile render time histogram, seconds. */
static const double render_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                        0.1,   0.25,   0.5,   1,    2.5};
#define NBUCKETS (sizeof render_buckets / sizeof *render_buckets)

/* Live events: a ring of the newest, and the connections listening. */
#define EVENT_RING 1024
#define CHANGE_LOG 256 /* writes a worker may lag and still catch up */
#define CELL_M 250.0   /* side of a neighbourhood cell, EPSG:3857 metres */
#define BEAT_SECONDS 15

/* A connection, from accept to close: whether it owes a request, and since
 * when. A request must arrive whole (head and body) within the request
 * timeout of the moment the connection was ready for it (accepted, or its
 * previous answer sent); the beat thread cuts those that do not. */
typedef struct conn_slot {
    struct conn_slot *prev, *next;
    int fd;
    atomic_bool waiting;   /* no whole request yet */
    atomic_llong ready_ms; /* monotonic ms it began waiting */
    bool cut;              /* shut down by the reaper */
} conn_slot;

typedef struct sse_sub {
    char scope[32]; /* only events inside this grid; "": all */
    char addr[48];  /* the listener's address */
    struct MHD_Connection *conn;
    struct ht_server *server;
    unsigned long next; /* the sequence number it wants next */
    bool hello, beat, suspended;
    char *part; /* an event being sent in parts, or NULL */
    size_t part_len, part_off;
    struct sse_sub *link;
} sse_sub;

typedef struct worker {
    ht_store *store;
    ht_renderer *rend;
    unsigned long version;     /* of the index its renderer holds */
    ht_transform *to_wgs84[8]; /* per ht_wms_crs entry, made on first use */
    struct worker *next;
} worker;

struct ht_server {
    struct MHD_Daemon *d;
    char *db, *host;
    FILE *log;
    uint16_t port;
    ht_store *store;
    ht_features *feat;
    ht_index *index;      /* the current snapshot: take it with index_ref */
    pthread_mutex_t imu;  /* guards index and changes */
    atomic_ulong version; /* bumped by every write */
    struct change {
        unsigned long version; /* the snapshot these made */
        int64_t *ids;
        size_t n;
    } changes[CHANGE_LOG]; /* by version % CHANGE_LOG */
    /* Neighbourhood versions: the last write that changed an incident in
     * each cell of a square grid over the district (and one for anywhere
     * else). A tile's key holds the largest within its reach. */
    ht_bbox cells_box;
    double cell;
    size_t cnx, cny;
    atomic_ulong *cells, elsewhere;
    ht_store *writer;    /* read-write connection, with --tokens */
    pthread_mutex_t wmu; /* one write at a time */
    ht_tokens *tokens;
    bool private_reads;  /* reads need a token too */
    pthread_mutex_t emu; /* events and listeners */
    char *events[EVENT_RING];
    char event_grid[EVENT_RING][32]; /* the grid of each event, or "" */
    unsigned long event_seq;         /* events so far */
    sse_sub *subs;
    bool closing;
    pthread_t beat_thread;
    pthread_cond_t beat_cv;
    bool beat_started;
    ht_cache *cache;
    ht_bbox extent; /* EPSG:3857, of the district */
    uint64_t etag_seed;
    pthread_key_t key;
    pthread_mutex_t mu; /* workers and styles */
    worker *workers;
    struct {
        char name[65];
        ht_style *style;
    } styles[MAX_STYLES];
    int nstyles;
    struct timespec started;
    /* Connections and their limits. */
    pthread_mutex_t cmu; /* the list of connections */
    conn_slot *conns;
    unsigned max_conns, max_conns_ip, max_listeners, max_listeners_ip;
    unsigned request_timeout_s;
    atomic_ulong open_conns, timed_out, listeners_refused;
    char *public_url; /* without a trailing slash, or NULL */
    atomic_ulong requests[R_COUNT][NSTATUS];
    atomic_ulong render_le[NBUCKETS + 1]; /* last: +Inf */
    atomic_ulong render_us;               /* sum, microseconds */
};

/* One request: when it started, what it answered. */
typedef struct request {
    struct timespec t0;
    bool seen;
    ht_buf *body;    /* a POST's body */
    bool body_large; /* over MAX_BODY: refused */
    unsigned status;
    size_t bytes;
    char method[8];
    char uri[256];
    char scope[32];    /* the reader's area (a grid code); "": everything */
    int retry_after;   /* seconds, sent with a 503; 0: none */
    bool writing;      /* a write let through: its body is kept */
    bool vary_host;    /* the answer holds URLs made from Host */
    ht_token_info who; /* the writer's token, then */
} request;

static double since_ms(const struct timespec *t0) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) * 1e3 +
           (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* ---- text ---- */

/* Whether @t (may be NULL) is valid UTF-8: what JSON and XML can carry. */
static bool text_ok(const char *t) {
    return !t || ht_utf8_valid_prefix(t, strlen(t)) == strlen(t);
}

/* ---- host names ---- */

/* The length of a host[:port] at the start of @p (a DNS name or IPv4
 * address of [A-Za-z0-9.-], or an IPv6 literal in brackets, and a port of
 * 1-5 digits), or 0 when there is none. */
static size_t host_port_len(const char *p) {
    size_t n;
    if (*p == '[') {
        n = 1 + strspn(p + 1, "0123456789abcdefABCDEF:.");
        if (n == 1 || p[n] != ']') {
            return 0;
        }
        n++;
    } else {
        n = strspn(p,
                   "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                   "0123456789.-");
        if (n == 0 || p[0] == '.' || p[0] == '-' || n > 253) {
            return 0;
        }
    }
    if (p[n] == ':') {
        size_t d = strspn(p + n + 1, "0123456789");
        if (d == 0 || d > 5) {
            return 0;
        }
        n += 1 + d;
    }
    return n;
}

bool ht_server_public_url_ok(const char *url) {
    const char *p = !url                               ? NULL
                    : strncmp(url, "http://", 7) == 0  ? url + 7
                    : strncmp(url, "https://", 8) == 0 ? url + 8
                                                       : NULL;
    size_t n = p ? host_port_len(p) : 0;
    if (!n || strlen(url) > 200) {
        return false;
    }
    const char *path = p + n;
    return *path == '\0' ||
           (*path == '/' &&
            strspn(path,
                   "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                   "0123456789-._~/%") == strlen(path));
}

/* ---- connections ---- */

static long long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* The client's address as text ("-" when unknown). */
static void client_addr(struct MHD_Connection *c, char *out, size_t size) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    snprintf(out, size, "-");
    if (sa && sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out,
                  (socklen_t)size);
    } else if (sa && sa->sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out,
                  (socklen_t)size);
    }
}

static conn_slot *slot_of(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* A connection opens and closes: its slot in the list the reaper walks.
 * MHD reports the close before it closes the socket, so the reaper, under
 * cmu, never touches a descriptor that is gone. */
static void on_connection(void *cls, struct MHD_Connection *c,
                          void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
    ht_server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        conn_slot *k = calloc(1, sizeof *k);
        if (!k) {
            return; /* not watched: only the idle timeout applies */
        }
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        k->fd = ci ? ci->connect_fd : -1;
        atomic_store(&k->waiting, true);
        atomic_store(&k->ready_ms, now_ms());
        pthread_mutex_lock(&s->cmu);
        k->next = s->conns;
        if (s->conns) {
            s->conns->prev = k;
        }
        s->conns = k;
        pthread_mutex_unlock(&s->cmu);
        atomic_fetch_add(&s->open_conns, 1);
        *socket_context = k;
        return;
    }
    conn_slot *k = *socket_context;
    if (!k) {
        return;
    }
    pthread_mutex_lock(&s->cmu);
    if (k->prev) {
        k->prev->next = k->next;
    } else {
        s->conns = k->next;
    }
    if (k->next) {
        k->next->prev = k->prev;
    }
    pthread_mutex_unlock(&s->cmu);
    atomic_fetch_sub(&s->open_conns, 1);
    free(k);
    *socket_context = NULL;
}

/* Cut the connections that owe a request past the timeout: shutting the
 * socket down makes MHD see the end of it and close the connection in
 * its own thread. */
static void reap_slow(ht_server *s) {
    long long limit = now_ms() - (long long)s->request_timeout_s * 1000;
    pthread_mutex_lock(&s->cmu);
    for (conn_slot *k = s->conns; k; k = k->next) {
        if (!k->cut && k->fd >= 0 && atomic_load(&k->waiting) &&
            atomic_load(&k->ready_ms) < limit) {
            k->cut = true;
            shutdown(k->fd, SHUT_RDWR);
            atomic_fetch_add(&s->timed_out, 1);
        }
    }
    pthread_mutex_unlock(&s->cmu);
}

/* ---- responses ---- */

/* Text worth compressing: JSON, GeoJSON, HTML, XML, CSV, plain text. */
static bool compressible(const char *type) {
    return strncmp(type, "application/json", 16) == 0 ||
           strncmp(type, "application/geo+json", 20) == 0 ||
           strncmp(type, "text/", 5) == 0 ||
           strncmp(type, "application/vnd.ogc.wms_xml", 27) == 0;
}

/* Whether the client takes gzip: "gzip" (or "*") among Accept-Encoding's
 * codings, without q=0. */
static bool takes_gzip(struct MHD_Connection *c) {
    const char *ae =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept-Encoding");
    while (ae && *ae) {
        ae += strspn(ae, " \t,");
        size_t n = strcspn(ae, ",;");
        bool match = (n == 4 && strncasecmp(ae, "gzip", 4) == 0) ||
                     (n == 1 && *ae == '*');
        const char *end = ae + strcspn(ae, ",");
        if (match) {
            /* A weight of zero refuses it: q=0, q=0.0, q=0.00... */
            const char *q = ae + n;
            while (q < end && (*q == ';' || *q == ' ')) {
                q++;
            }
            if (q + 2 <= end && (q[0] == 'q' || q[0] == 'Q') && q[1] == '=') {
                return strtod(q + 2, NULL) > 0;
            }
            return true;
        }
        ae = end;
    }
    return false;
}

/* @data (@len bytes) as a gzip member, malloc'd, in *out; false when it
 * does not pay or fails. */
static bool gzip_of(const void *data, size_t len, void **out, size_t *olen) {
    z_stream z = {0};
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK) {
        return false;
    }
    size_t cap = deflateBound(&z, (uLong)len);
    unsigned char *buf = malloc(cap);
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)len;
    z.next_out = buf;
    z.avail_out = (uInt)cap;
    bool ok = buf && deflate(&z, Z_FINISH) == Z_STREAM_END && z.total_out < len;
    deflateEnd(&z);
    if (!ok) {
        free(buf);
        return false;
    }
    *out = buf;
    *olen = z.total_out;
    return true;
}

#define GZIP_MIN 1024 /* smaller bodies go as they are */

static enum MHD_Result send_buf(struct MHD_Connection *c, request *rq,
                                unsigned status, const char *type, void *data,
                                size_t len, const char *etag,
                                const char *cache_control) {
    bool text = compressible(type), gz = false;
    void *packed;
    size_t plen;
    if (text && len >= GZIP_MIN && len <= UINT_MAX && takes_gzip(c) &&
        gzip_of(data, len, &packed, &plen)) {
        free(data);
        data = packed;
        len = plen;
        gz = true;
    }
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(data);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Access-Control-Allow-Origin", "*");
    MHD_add_response_header(r, "Access-Control-Expose-Headers", "ETag");
    if (text || rq->vary_host) {
        MHD_add_response_header(r, "Vary",
                                !rq->vary_host ? "Accept-Encoding"
                                : text         ? "Accept-Encoding, Host"
                                               : "Host");
    }
    if (gz) {
        MHD_add_response_header(r, "Content-Encoding", "gzip");
    }
    if (etag) {
        MHD_add_response_header(r, "ETag", etag);
    }
    MHD_add_response_header(r, "Cache-Control",
                            cache_control ? cache_control : "no-store");
    if (status == MHD_HTTP_SERVICE_UNAVAILABLE && rq->retry_after > 0) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", rq->retry_after);
        MHD_add_response_header(r, "Retry-After", ra);
    }
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    rq->status = status;
    rq->bytes = len;
    return ok;
}

/* The bytes of @b as a 200 response; @b is consumed. */
static enum MHD_Result send_ht_buf(struct MHD_Connection *c, request *rq,
                                   const char *type, ht_buf *b,
                                   const char *etag,
                                   const char *cache_control) {
    size_t len = b->len;
    void *data = b->data ? b->data : malloc(1);
    b->data = NULL; /* handed over: MHD frees it */
    ht_buf_free(b);
    if (!data) {
        return MHD_NO;
    }
    return send_buf(c, rq, MHD_HTTP_OK, type, data, len, etag, cache_control);
}

static enum MHD_Result send_error(struct MHD_Connection *c, request *rq,
                                  unsigned status, const char *msg) {
    /* DESIGN.md section 6: a short code for programs, the message for
     * people. */
    const char *code = status == MHD_HTTP_BAD_REQUEST    ? "bad_request"
                       : status == MHD_HTTP_UNAUTHORIZED ? "unauthorized"
                       : status == MHD_HTTP_FORBIDDEN    ? "forbidden"
                       : status == MHD_HTTP_NOT_FOUND    ? "not_found"
                       : status == MHD_HTTP_METHOD_NOT_ALLOWED
                           ? "method_not_allowed"
                       : status == MHD_HTTP_CONFLICT            ? "conflict"
                       : status == MHD_HTTP_CONTENT_TOO_LARGE   ? "too_large"
                       : status == MHD_HTTP_SERVICE_UNAVAILABLE ? "unavailable"
                                                                : "internal";
    /* The message may quote the request: invalid UTF-8 becomes '?', so
     * that there is always an answer. */
    char clean[HT_ERROR_MSG_SIZE + 64];
    snprintf(clean, sizeof clean, "%s", msg);
    for (size_t at = 0, n = strlen(clean); at < n;) {
        at += ht_utf8_valid_prefix(clean + at, n - at);
        if (at < n) {
            clean[at++] = '?';
        }
    }
    json_t *j = json_pack("{s:s, s:s, s:i}", "error", code, "message", clean,
                          "status", (int)status);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!s) {
        return MHD_NO;
    }
    size_t n = strlen(s);
    char *body = realloc(s, n + 2);
    if (!body) {
        free(s);
        return MHD_NO;
    }
    body[n] = '\n';
    return send_buf(c, rq, status, "application/json", body, n + 1, NULL, NULL);
}

/* The HTTP status of a failed operation. */
static unsigned http_status_of(ht_status st) {
    switch (st) {
    case HT_EINVAL:
        return MHD_HTTP_BAD_REQUEST;
    case HT_EAUTH:
        return MHD_HTTP_FORBIDDEN;
    case HT_ENOTFOUND:
        return MHD_HTTP_NOT_FOUND;
    case HT_ECONFLICT:
        return MHD_HTTP_CONFLICT;
    case HT_EBUSY:
        return MHD_HTTP_SERVICE_UNAVAILABLE;
    default:
        return MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
}

/* A failed operation answered with its status's HTTP code. The client
 * reads @msg for 4xx; a 5xx is logged with @msg and the client told only
 * what kind of failure it was (no machine paths, no SQL). A busy store
 * asks the client to come back in a second. */
static enum MHD_Result send_failure(struct MHD_Connection *c, request *rq,
                                    ht_status st, const char *msg) {
    unsigned status = http_status_of(st);
    if (status < 500) {
        return send_error(c, rq, status, msg);
    }
    ht_log(HT_LOG_ERROR, "server", "%s %s: %s", rq->method, rq->uri, msg);
    if (status == MHD_HTTP_SERVICE_UNAVAILABLE) {
        rq->retry_after = 1;
        return send_error(c, rq, status,
                          "the database is busy: try again in a moment");
    }
    return send_error(c, rq, status,
                      "internal error: the server could not complete the "
                      "request (logged)");
}

static enum MHD_Result send_json(struct MHD_Connection *c, request *rq,
                                 json_t *j, const char *cache_control) {
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (!s) {
        return send_error(c, rq, MHD_HTTP_INTERNAL_SERVER_ERROR,
                          "out of memory");
    }
    return send_buf(c, rq, MHD_HTTP_OK, "application/json", s, strlen(s), NULL,
                    cache_control);
}

/* ---- per-thread workers and shared styles ---- */

/* The current index snapshot, with a reference for the caller. */
static ht_index *index_ref(ht_server *s) {
    pthread_mutex_lock(&s->imu);
    ht_index *ix = ht_index_ref(s->index);
    pthread_mutex_unlock(&s->imu);
    return ix;
}

/* Incidents in the current snapshot, and its bytes. */
static size_t index_count(ht_server *s, double *bytes) {
    ht_index *ix = index_ref(s);
    size_t n = ht_index_count(ix);
    if (bytes) {
        *bytes = ht_index_bytes_per_incident(ix) * (double)n;
    }
    ht_index_unref(ix);
    return n;
}

/* Move worker @w on to the current snapshot: its density grids take in
 * the incidents changed since (from the change log), or start again when
 * it lags too far. */
static void worker_catch_up(ht_server *s, worker *w) {
    pthread_mutex_lock(&s->imu);
    unsigned long v = atomic_load(&s->version);
    ht_index *ix = ht_index_ref(s->index);
    size_t n = 0;
    bool logged = v - w->version <= CHANGE_LOG;
    for (unsigned long k = w->version + 1; logged && k <= v; k++) {
        logged = s->changes[k % CHANGE_LOG].version == k;
        n += logged ? s->changes[k % CHANGE_LOG].n : 0;
    }
    int64_t *ids = logged ? malloc((n ? n : 1) * sizeof *ids) : NULL;
    n = 0;
    for (unsigned long k = w->version + 1; ids && k <= v; k++) {
        const struct change *ch = &s->changes[k % CHANGE_LOG];
        memcpy(ids + n, ch->ids, ch->n * sizeof *ids);
        n += ch->n;
    }
    pthread_mutex_unlock(&s->imu);
    if (ids) {
        ht_renderer_advance(w->rend, ix, ids, n);
    } else {
        ht_renderer_set_index(w->rend, ix);
    }
    free(ids);
    ht_index_unref(ix);
    w->version = v;
}

static worker *worker_get(ht_server *s, ht_error *err) {
    worker *w = pthread_getspecific(s->key);
    if (w && w->version != atomic_load(&s->version)) {
        worker_catch_up(s, w);
    }
    if (w) {
        return w;
    }
    w = calloc(1, sizeof *w);
    if (!w) {
        ht_error_set(err, HT_ENOMEM, "out of memory");
        return NULL;
    }
    if (ht_store_open(s->db, HT_STORE_READONLY, &w->store, err) != HT_OK ||
        ht_renderer_new(w->store, s->feat, &w->rend, err) != HT_OK) {
        ht_store_close(w->store);
        free(w);
        return NULL;
    }
    pthread_mutex_lock(&s->imu);
    w->version = atomic_load(&s->version);
    ht_index *ix = ht_index_ref(s->index);
    pthread_mutex_unlock(&s->imu);
    ht_renderer_set_index(w->rend, ix);
    ht_index_unref(ix);
    pthread_mutex_lock(&s->mu);
    w->next = s->workers;
    s->workers = w;
    pthread_mutex_unlock(&s->mu);
    pthread_setspecific(s->key, w);
    return w;
}

/* A style by name, loaded once. NULL with HT_EINVAL for a bad or unknown
 * name (never a path: names are [A-Za-z0-9_-]). */
static const ht_style *style_get(ht_server *s, const char *name,
                                 ht_error *err) {
    size_t n = strlen(name);
    bool ok = n > 0 && n <= 64;
    for (size_t i = 0; ok && i < n; i++) {
        char ch = name[i];
        ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
             (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
    }
    if (!ok) {
        ht_error_set(err, HT_EINVAL, "bad style name");
        return NULL;
    }
    pthread_mutex_lock(&s->mu);
    const ht_style *found = NULL;
    for (int k = 0; k < s->nstyles && !found; k++) {
        if (strcmp(s->styles[k].name, name) == 0) {
            found = s->styles[k].style;
        }
    }
    if (!found) {
        ht_style *st = NULL;
        if (s->nstyles == MAX_STYLES) {
            ht_error_set(err, HT_EINVAL, "too many styles");
        } else if (ht_style_load(name, &st, err) != HT_OK) {
            /* The message may name a folder: not for the network. */
            ht_error_set(err, HT_EINVAL, "no style \"%s\"", name);
        } else {
            snprintf(s->styles[s->nstyles].name,
                     sizeof s->styles[s->nstyles].name, "%s", name);
            s->styles[s->nstyles++].style = st;
            found = st;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return found;
}

/* ---- query parameters ---- */

typedef struct query {
    ht_filter filter;
    char allowed[200]; /* " a b c " */
    struct {
        char key[16];
        char value[128];
    } extra[8]; /* parameters that are not filters */
    int nextra;
    char bad[300]; /* the first problem */
    size_t bytes;
    double scale;             /* "scale" when allowed */
    char text[MAX_QUERY + 1]; /* the parameters re-encoded, for links */
} query;

static void url_encode(char *out, size_t size, const char *in) {
    static const char hex[] = "0123456789ABCDEF";
    size_t o = strlen(out);
    for (const unsigned char *p = (const unsigned char *)in; *p && o + 4 < size;
         p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
            (*p >= '0' && *p <= '9') || strchr("-_.~,:", *p)) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    out[o] = '\0';
}

static const char filter_keys[] =
    " from to window category severity status source grid ";

/* A non-filter parameter of the query, or NULL. */
static const char *qget(const query *q, const char *key) {
    for (int k = 0; k < q->nextra; k++) {
        if (strcmp(q->extra[k].key, key) == 0) {
            return q->extra[k].value;
        }
    }
    return NULL;
}

static enum MHD_Result on_arg(void *cls, enum MHD_ValueKind kind,
                              const char *key, const char *value) {
    (void)kind;
    query *q = cls;
    if (q->bad[0]) {
        return MHD_NO;
    }
    q->bytes += strlen(key) + (value ? strlen(value) : 0) + 2;
    if (q->bytes > MAX_QUERY) {
        snprintf(q->bad, sizeof q->bad, "query longer than %d bytes",
                 MAX_QUERY);
        return MHD_NO;
    }
    if (!text_ok(key) || !text_ok(value)) {
        snprintf(q->bad, sizeof q->bad, "%s: not UTF-8 text",
                 text_ok(key) ? key : "a parameter name");
        return MHD_NO;
    }
    bool token = strcmp(key, "token") == 0; /* taken by reader_scope */
    char probe[80];
    snprintf(probe, sizeof probe, " %s ", key);
    if (!token && (strlen(key) > 40 || !strstr(q->allowed, probe))) {
        snprintf(q->bad, sizeof q->bad, "unknown parameter \"%.40s\"", key);
        return MHD_NO;
    }
    if (!value) {
        snprintf(q->bad, sizeof q->bad, "%s: needs a value", key);
        return MHD_NO;
    }
    size_t t = strlen(q->text);
    snprintf(q->text + t, sizeof q->text - t, "%s%s=", t ? "&" : "", key);
    url_encode(q->text, sizeof q->text, value);
    if (token) {
        return MHD_YES; /* kept in links (tile URLs cannot carry headers) */
    }
    if (!strstr(filter_keys, probe)) {
        if (q->nextra == 8 || strlen(value) >= sizeof q->extra[0].value) {
            snprintf(q->bad, sizeof q->bad, "%s: too long", key);
            return MHD_NO;
        }
        snprintf(q->extra[q->nextra].key, sizeof q->extra[0].key, "%s", key);
        snprintf(q->extra[q->nextra++].value, sizeof q->extra[0].value, "%s",
                 value);
        return MHD_YES;
    }
    ht_error err = {0};
    if (ht_filter_set(&q->filter, key, value, (int64_t)time(NULL), &err) !=
        HT_OK) {
        snprintf(q->bad, sizeof q->bad, "%s", err.msg);
        return MHD_NO;
    }
    return MHD_YES;
}

/* Parse the query of @c; false (with q->bad) on a bad one. */
static bool parse_query(struct MHD_Connection *c, const char *extra, query *q) {
    memset(q, 0, sizeof *q);
    q->filter = ht_filter_all();
    q->scale = 1;
    snprintf(q->allowed, sizeof q->allowed, "%s%s ", filter_keys, extra);
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, on_arg, q);
    const char *scale = qget(q, "scale");
    if (!q->bad[0] && scale) {
        char *end;
        q->scale = strtod(scale, &end);
        if (*end || !(q->scale >= 0.25 && q->scale <= 8)) {
            snprintf(q->bad, sizeof q->bad, "scale: expected 0.25..8");
        }
    }
    if (!q->bad[0]) {
        ht_error err = {0};
        if (ht_filter_check(&q->filter, &err) != HT_OK) {
            snprintf(q->bad, sizeof q->bad, "%s", err.msg);
        }
    }
    return !q->bad[0];
}

/* ---- readers' areas ---- */

/* Whether grid @code is @area or lies in its subtree. */
static bool in_scope(ht_server *s, const char *code, const char *area) {
    const ht_fgrid *g =
        code && code[0] ? ht_features_find_grid(s->feat, code) : NULL;
    for (int depth = 0; g && depth < 16; depth++) {
        if (strcmp(g->code, area) == 0) {
            return true;
        }
        g = g->parent_code ? ht_features_find_grid(s->feat, g->parent_code)
                           : NULL;
    }
    return false;
}

/* Who reads: a token from "Authorization: Bearer" or ?token= sets the
 * request's area when it is scoped. false, with the answer queued, for a
 * token that is not ours, or for none when reads are private. */
static bool reader_scope(ht_server *s, struct MHD_Connection *c, request *rq,
                         enum MHD_Result *answer) {
    const char *auth =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    const char *tok =
        auth && strncmp(auth, "Bearer ", 7) == 0
            ? auth + 7
            : MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token");
    rq->scope[0] = '\0';
    if (!tok) {
        if (s->private_reads) {
            *answer = send_error(c, rq, MHD_HTTP_UNAUTHORIZED,
                                 "this server is private: a token is needed "
                                 "(Authorization: Bearer ... or ?token=)");
            return false;
        }
        return true;
    }
    ht_token_info who;
    if (!s->tokens || !ht_tokens_check(s->tokens, tok, &who)) {
        *answer = send_error(c, rq, MHD_HTTP_UNAUTHORIZED,
                             "unknown or revoked token");
        return false;
    }
    if (strcmp(who.scope, "*") != 0) {
        snprintf(rq->scope, sizeof rq->scope, "%s", who.scope);
    }
    return true;
}

/* Narrow @f to the reader's area: false when the filter's own grid lies
 * outside it. */
static bool scope_filter(ht_server *s, const request *rq, ht_filter *f) {
    if (!rq->scope[0]) {
        return true;
    }
    if (!f->grid[0] || in_scope(s, rq->scope, f->grid)) {
        snprintf(f->grid, sizeof f->grid, "%s", rq->scope);
        return true;
    }
    return in_scope(s, f->grid, rq->scope);
}

static enum MHD_Result send_outside(struct MHD_Connection *c, request *rq) {
    return send_error(c, rq, MHD_HTTP_FORBIDDEN,
                      "outside the area this token may read");
}

/* ---- routes ---- */

/* The absolute URL of the service: --public-url, else "http://" and the
 * request's Host (checked by handle: host[:port] only), and then the
 * answer varies with Host. */
static void base_url(ht_server *s, struct MHD_Connection *c, request *rq,
                     char *out, size_t size) {
    if (s->public_url) {
        snprintf(out, size, "%s", s->public_url);
        return;
    }
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    if (host && *host) {
        snprintf(out, size, "http://%s", host);
    } else {
        snprintf(out, size, "http://%s:%u", s->host, (unsigned)s->port);
    }
    rq->vary_host = true;
}

/* Parse an unsigned decimal of at most 10 digits ending at one of @ends. */
static bool parse_u32(const char **p, uint32_t *out) {
    const char *s = *p;
    uint64_t v = 0;
    int n = 0;
    while (*s >= '0' && *s <= '9' && n < 11) {
        v = v * 10 + (uint64_t)(*s++ - '0');
        n++;
    }
    if (n == 0 || n > 10 || v > UINT32_MAX) {
        return false;
    }
    *out = (uint32_t)v;
    *p = s;
    return true;
}

static bool etag_matches(struct MHD_Connection *c, const char *etag) {
    const char *inm =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-None-Match");
    return inm && (strstr(inm, etag) || strcmp(inm, "*") == 0);
}

static enum MHD_Result send_not_modified(struct MHD_Connection *c, request *rq,
                                         const char *etag,
                                         const char *cache_control) {
    struct MHD_Response *r =
        MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (!r) {
        return MHD_NO;
    }
    MHD_add_response_header(r, "ETag", etag);
    MHD_add_response_header(r, "Cache-Control", cache_control);
    MHD_add_response_header(r, "Access-Control-Allow-Origin", "*");
    enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_NOT_MODIFIED, r);
    MHD_destroy_response(r);
    rq->status = MHD_HTTP_NOT_MODIFIED;
    return ok;
}

/* Tiles of a live window change as time passes: cache them briefly. */
static const char *cache_control_of(const ht_server *s, const ht_filter *f) {
    /* A window that reaches the present (window=24h ends at this minute)
     * moves and takes in new reports: a minute. With writes on, older
     * incidents still change (life-cycle steps): five. Else an hour. */
    if (f->to == INT64_MAX || f->to >= (int64_t)time(NULL) - 120) {
        return "public, max-age=60";
    }
    return s->writer ? "public, max-age=300" : "public, max-age=3600";
}

static void png_of(cairo_surface_t *surf, ht_buf **out, ht_error *err,
                   ht_status *st) {
    *out = ht_buf_new();
    if (!*out) {
        *st = ht_error_set(err, HT_ENOMEM, "out of memory");
        return;
    }
    *st = ht_png_encode(surf, *out, err);
}

/* After drawing with status @st: @surf as PNG bytes in *out, the surface
 * destroyed either way. */
static ht_status encode_png(cairo_surface_t *surf, ht_status st, ht_buf **out,
                            ht_error *err) {
    *out = NULL;
    if (st == HT_OK) {
        png_of(surf, out, err, &st);
    }
    cairo_surface_destroy(surf);
    if (st != HT_OK) {
        ht_buf_free(*out);
        *out = NULL;
    }
    return st;
}

/* The cell grid: @s->extent and 20 km around it. */
static bool cells_init(ht_server *s) {
    if (s->extent.minx > s->extent.maxx) {
        return true; /* no data: every change is "elsewhere" */
    }
    double pad = 20000;
    s->cell = CELL_M;
    s->cells_box = (ht_bbox){s->extent.minx - pad, s->extent.miny - pad,
                             s->extent.maxx + pad, s->extent.maxy + pad};
    s->cnx = (size_t)ceil((s->cells_box.maxx - s->cells_box.minx) / s->cell);
    s->cny = (size_t)ceil((s->cells_box.maxy - s->cells_box.miny) / s->cell);
    if (s->cnx * s->cny > (1u << 22)) {
        s->cnx = s->cny = 0; /* a district, not a country */
        return true;
    }
    s->cells = calloc(s->cnx * s->cny, sizeof *s->cells);
    return s->cells != NULL;
}

static void mark_cell(ht_server *s, double x, double y, unsigned long v) {
    double fx = (x - s->cells_box.minx) / s->cell;
    double fy = (y - s->cells_box.miny) / s->cell;
    if (s->cells && fx >= 0 && fy >= 0 && fx < (double)s->cnx &&
        fy < (double)s->cny) {
        atomic_store(&s->cells[(size_t)fy * s->cnx + (size_t)fx], v);
    } else {
        atomic_store(&s->elsewhere, v);
    }
}

/* The last write that changed an incident within reach of @req (0: none
 * since the start). */
static unsigned long neighbourhood_version(ht_server *s,
                                           const ht_render_req *req) {
    double reach = ht_render_reach(req);
    if (reach < 0) {
        return 0; /* draws no incident itself */
    }
    double x0 = (req->bbox.minx - reach - s->cells_box.minx) / s->cell;
    double y0 = (req->bbox.miny - reach - s->cells_box.miny) / s->cell;
    double x1 = (req->bbox.maxx + reach - s->cells_box.minx) / s->cell;
    double y1 = (req->bbox.maxy + reach - s->cells_box.miny) / s->cell;
    unsigned long v = 0;
    if (!s->cells || x0 < 0 || y0 < 0 || x1 >= (double)s->cnx ||
        y1 >= (double)s->cny) {
        v = atomic_load(&s->elsewhere);
    }
    if (!s->cells || x1 < 0 || y1 < 0 || x0 >= (double)s->cnx ||
        y0 >= (double)s->cny) {
        return v;
    }
    size_t i0 = x0 < 0 ? 0 : (size_t)x0, j0 = y0 < 0 ? 0 : (size_t)y0;
    size_t i1 = x1 >= (double)s->cnx ? s->cnx - 1 : (size_t)x1;
    size_t j1 = y1 >= (double)s->cny ? s->cny - 1 : (size_t)y1;
    for (size_t j = j0; j <= j1; j++) {
        const atomic_ulong *row = s->cells + j * s->cnx;
        for (size_t i = i0; i <= i1; i++) {
            unsigned long c =
                atomic_load_explicit(&row[i], memory_order_relaxed);
            v = c > v ? c : v;
        }
    }
    atomic_thread_fence(memory_order_acquire);
    return v;
}

/* The query (filters and @extra parameters) and the style @name of a
 * request: false, with the answer queued, for a bad query (400) or an
 * unknown style (404). */
static bool styled_query(ht_server *s, struct MHD_Connection *c, request *rq,
                         const char *name, const char *extra, query *q,
                         const ht_style **style, enum MHD_Result *answer) {
    ht_error err = {0};
    if (!parse_query(c, extra, q)) {
        *answer = send_error(c, rq, MHD_HTTP_BAD_REQUEST, q->bad);
        return false;
    }
    if (!(*style = style_get(s, name, &err))) {
        *answer = send_error(c, rq, MHD_HTTP_NOT_FOUND, err.msg);
        return false;
    }
    return true;
}

static enum MHD_Result route_tile(ht_server *s, struct MHD_Connection *c,
                                  request *rq, const char *path) {
    /* {style}/{z}/{x}/{y}.png or {y}@2x.png */
    const char *slash = strchr(path, '/');
    char name[80];
    if (!slash || (size_t)(slash - path) >= sizeof name) {
        return send_error(c, rq, MHD_HTTP_NOT_FOUND, "no such tile");
    }
    memcpy(name, path, (size_t)(slash - path));
    name[slash - path] = '\0';
    const char *p = slash + 1;
    uint32_t z, x, y;
    int scale = 1;
    if (!parse_u32(&p, &z) || *p++ != '/' || !parse_u32(&p, &x) ||
        *p++ != '/' || !parse_u32(&p, &y)) {
        return send_error(c, rq, MHD_HTTP_NOT_FOUND,
                          "expected /tiles/{style}/{z}/{x}/{y}.png");
    }
    if (strcmp(p, "@2x.png") == 0) {
        scale = 2;
    } else if (strcmp(p, ".png") != 0) {
        return send_error(c, rq, MHD_HTTP_NOT_FOUND,
                          "expected /tiles/{style}/{z}/{x}/{y}.png");
    }
    ht_tile_id t = {(int)(z > 99 ? 99 : z), x, y};
    ht_error err = {0};
    if (z > MAX_ZOOM) {
        return send_error(c, rq, MHD_HTTP_BAD_REQUEST,
                          "zoom out of range 0..22");
    }
    if (ht_tile_check(t, &err) != HT_OK) {
        return send_error(c, rq, MHD_HTTP_BAD_REQUEST, err.msg);
    }
    query q;
    const ht_style *style;
    enum MHD_Result answer;
    if (!styled_query(s, c, rq, name, "", &q, &style, &answer)) {
        return answer;
    }
    int px = 256 * scale;
    /* A scoped reader: its area's incidents, drawn only inside it; a
     * filter on a grid outside it shows nothing. */
    bool outside = !scope_filter(s, rq, &q.filter);
    ht_render_req req = {.style = style,
                         .bbox = ht_tile_bbox(t),
                         .width = px,
                         .height = px,
                         .scale = scale,
                         .filter = &q.filter,
                         .clip_grid = rq->scope[0] ? rq->scope : NULL};
    if (outside) {
        ht_buf *png = NULL;
        cairo_surface_t *blank =
            cairo_image_surface_create(CAIRO_FORMAT_ARGB32, px, px);
        if (encode_png(blank, HT_OK, &png, &err) != HT_OK) {
            return send_error(c, rq, MHD_HTTP_INTERNAL_SERVER_ERROR, err.msg);
        }
        return send_ht_buf(c, rq, "image/png", png, NULL,
                           cache_control_of(s, &q.filter));
    }
    /* The key holds what the tile depends on: the last write within its
     * reach (read first: a write publishes its snapshot before it marks
     * the cells, so the worker below draws at least that) and the
     * aggregates it shows. Writes elsewhere leave it valid. */
    unsigned long near = neighbourhood_version(s, &req);
    worker *w = worker_get(s, &err);
    if (!w) {
        return send_error(c, rq, MHD_HTTP_INTERNAL_SERVER_ERROR, err.msg);
    }
    uint64_t fp;
    ht_status st = ht_render_fingerprint(w->rend, &req, &fp, &err);
    if (st != HT_OK) {
        return send_error(c, rq,
                          st == HT_EINVAL ? MHD_HTTP_BAD_REQUEST
                                          : MHD_HTTP_INTERNAL_SERVER_ERROR,
                          err.msg);
    }
    char fkey[1024], key[1400], etag[40];
    ht_filter_key(&q.filter, fkey, sizeof fkey);
    snprintf(key, sizeof key, "tile|%s|%u/%u/%u@%d|%s|n%lu|%016llx|%s", name, z,
             x, y, scale, fkey, near, (unsigned long long)fp, rq->scope);
    snprintf(etag, sizeof etag, "\"%016llx\"",
             (unsigned long long)ht_hash64(s->etag_seed, key, strlen(key)));
    const char *cc = cache_control_of(s, &q.filter);
    if (etag_matches(c, etag)) {
        return send_not_modified(c, rq, etag, cc);
    }
    void *data;
    size_t len;
    if (ht_cache_get(s->cache, key, &data, &len)) {
        return send_buf(c, rq, MHD_HTTP_OK, "image/png", data, len, etag, cc);
    }
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cairo_surface_t *surf =
        cairo_image_surface_create(CAIRO_FORMAT_ARGB32, px, px);
    cairo_t *cr = cairo_create(surf);
    st = ht_render(w->rend, &req, cr, &err);
    cairo_destroy(cr);
    ht_buf *png = NULL;
    if ((st = encode_png(surf, st, &png, &err)) != HT_OK) {
        return send_error(c, rq,
                          st == HT_EINVAL ? MHD_HTTP_BAD_REQUEST
                                          : MHD_HTTP_INTERNAL_SERVER_ERROR,
                          err.msg);
    }
    double secs = since_ms(&t0) / 1e3;
    size_t bucket = 0;
    while (bucket < NBUCKETS && secs > render_buckets[bucket]) {
        bucket++;
    }
    atomic_fetch_add(&s->render_le[bucket], 1);
    atomic_fetch_add(&s->render_us, (unsigned long)(secs * 1e6));
    ht_cache_put(s->cache, key, png->data, png->len);
    return send_ht_buf(c, rq, "image/png", png, etag, cc);
}

static enum MHD_Result route_tilejson(ht_server *s, struct MHD_Connection *c,
                                      request *rq, const char *name) {
    query q;
    const ht_style *style;
    enum MHD_Result answer;
    if (!styled_query(s, c, rq, name, "", &q, &style, &answer)) {
        return answer;
    }
    char base[300], url[3000];
    base_url(s, c, rq, base, sizeof base);
    /* The district, or the reader's area. */
    const ht_fgrid *area =
        rq->scope[0] ? ht_features_find_grid(s->feat, rq->scope) : NULL;
    ht_bbox ext = area ? area->bbox : s->extent;
    double w, so, e, n;
    ht_tile_merc_to_lonlat(ext.minx, ext.miny, &w, &so);
    ht_tile_merc_to_lonlat(ext.maxx, ext.maxy, &e, &n);
    json_t *j = json_object();
    json_object_set_new(j, "tilejson", json_string("3.0.0"));
    json_object_set_new(j, "name", json_string(name));
    json_object_set_new(j, "scheme", json_string("xyz"));
    snprintf(url, sizeof url, "%s/tiles/%s/{z}/{x}/{y}.png%s%s", base, name,
             q.text[0] ? "?" : "", q.text);
    json_object_set_new(j, "tiles", json_pack("[s]", url));
    json_object_set_new(j, "minzoom", json_integer(0));
    json_object_set_new(j, "maxzoom", json_integer(MAX_ZOOM));
    json_object_set_new(j, "bounds", json_pack("[f,f,f,f]", w, so, e, n));
    json_object_set_new(j, "center",
                        json_pack("[f,f,i]", (w + e) / 2, (so + n) / 2, 13));
    json_object_set_new(
        j, "attribution",
        json_string("hutong; grids and incidents: the district's data"));
    if (ht_render_style_has_legend(style)) {
        snprintf(url, sizeof url, "%s/legend/%s.png%s%s", base, name,
                 q.text[0] ? "?" : "", q.text);
        json_object_set_new(j, "legend", json_string(url));
    }
    return send_json(c, rq, j, "public, max-age=60");
}

static enum MHD_Result route_legend(ht_server *s, struct MHD_Connection *c,
                                    request *rq, const char *name) {
    query q;
    const ht_style *style;
    enum MHD_Result answer;
    if (!styled_query(s, c, rq, name, "scale", &q, &style, &answer)) {
        return answer;
    }
    ht_error err = {0};
    if (!ht_render_style_has_legend(style)) {
        return send_error(c, rq, MHD_HTTP_NOT_FOUND,
                          "this style has no heat layer to explain");
    }
    if (!scope_filter(s, rq, &q.filter)) {
        return send_outside(c, rq);
    }
    worker *wk = worker_get(s, &err);
    if (!wk) {
        return send_error(c, rq, MHD_HTTP_INTERNAL_SERVER_ERROR, err.msg);
    }
    int w, h;
    ht_render_legend_size(style, q.scale, &w, &h);
    cairo_surface_t *surf =
        cairo_image_surface_create(CAIRO_FORMAT_ARGB32, w, h);
    cairo_t *cr = cairo_create(surf);
    ht_status st =
        ht_render_legend(wk->rend, style, &q.filter, q.scale, cr, &err);
    cairo_destroy(cr);
    ht_buf *png = NULL;
    if ((st = encode_png(surf, st, &png, &err)) != HT_OK) {
        return send_error(c, rq,
                          st == HT_EINVAL ? MHD_HTTP_BAD_REQUEST
                                          : MHD_HTTP_INTERNAL_SERVER_ERROR,
                          err.msg);
    }
    return send_ht_buf(c, rq, "image/png", png, NULL,
                       cache_control_of(s, &q.filter));
}

static enum MHD_Result route_health(ht_server *s, struct MHD_Connection *c,
                                    request *rq) {
    ht_cache_stats cs = ht_cache_get_stats(s->cache);
    json_t *j = json_pack("{s:s, s:I, s:I, s:{s:I, s:I, s:I, s:I}}", "status",
                          "ok", "incidents", (json_int_t)index_count(s, NULL),
                          "grids", (json_int_t)ht_features_grid_count(s->feat),
                          "tile_cache", "entries", (json_int_t)cs.entries,
                          "bytes", (json_int_t)cs.bytes, "hits",
                          (json_int_t)cs.hits, "misses", (json_int_t)cs.misses);
    return send_json(c, rq, j, NULL);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names of the styles in the styles folder, sorted (caller frees). */
static size_t style_names(char **names, size_t max) {
    size_t n = 0;
    DIR *d = opendir(ht_style_dir());
    for (struct dirent *e; d && (e = readdir(d)) && n < max;) {
        size_t len = strlen(e->d_name);
        if (len > 5 && len < 70 && strcmp(e->d_name + len - 5, ".json") == 0 &&
            (names[n] = strndup(e->d_name, len - 5))) {
            n++;
        }
    }
    if (d) {
        closedir(d);
    }
    qsort(names, n, sizeof *names, cmp_str);
    return n;
}

/* The API root: what is served, with links. */
static enum MHD_Result route_root(ht_server *s, struct MHD_Connection *c,
                                  request *rq) {
    char base[300];
    base_url(s, c, rq, base, sizeof base);
    char *names[MAX_STYLES];
    size_t n = style_names(names, MAX_STYLES);
    json_t *styles = json_array();
    for (size_t k = 0; k < n; k++) {
        char url[512];
        snprintf(url, sizeof url, "%s/tiles/%s.json", base, names[k]);
        json_array_append_new(
            styles, json_pack("{s:s, s:s}", "name", names[k], "tilejson", url));
        free(names[k]);
    }
    json_t *j = json_pack("{s:s, s:s, s:I, s:o, s:s, s:s}", "service", "hutong",
                          "version", HT_VERSION, "incidents",
                          (json_int_t)index_count(s, NULL), "styles", styles,
                          "tiles", "/tiles/{style}/{z}/{x}/{y}.png", "legend",
                          "/legend/{style}.png");
    return send_json(c, rq, j, NULL);
}

/* A JSON text (malloc'd) as a 200 response. */
static enum MHD_Result send_text_json(struct MHD_Connection *c, request *rq,
                                      char *text) {
    if (!text) {
        return send_error(c, rq, MHD_HTTP_INTERNAL_SERVER_ERROR,
                          "out of memory");
    }
    return send_buf(c, rq, MHD_HTTP_OK, "application/json", text, strlen(text),
                    NULL, "no-cache");
}

static bool count_param(const query *q, const char *key, long lo, long hi,
                        long *out, char *bad, size_t size) {
    const char *v = qget(q, key);
    if (!v) {
        return true;
    }
    char *end;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < lo || n > hi) {
        snprintf(bad, size, "%s: a whole number %ld..%ld", key, lo, hi);
        return false;
    }
    *out = n;
    return true;
}

/* GET /api/stats?by=street|community|grid|category|month&limit=N + filters */
static enum MHD_Result route_stats(ht_server *s, struct MHD_Connection *c,
                                   request *rq) {
    query q;
    if (!parse_query(c, "by limit", &q)) {
        return send_error(c, rq, MHD_HTTP_BAD_REQUEST, q.bad);
    }
    if (!scope_filter(s, rq, &q.filter)) {
        return send_outside(c, rq);
    }
    ht_error err = {0};
    ht_stats_by by = HT_STATS_BY_STREET;
    long limit = 100000;
    char bad[160];
    if (qget(&q, "by") &&
        ht_stats_by_parse(qget(&q, "by"), &by, &err) != HT_OK) {
        return send_error(c, rq, MHD_HTTP_BAD_REQUEST, err.msg);
    }
    if (!count_param(&q, "limit", 1, 100000, &limit, bad, sizeof bad)) {
        return send_error(c, rq, MHD_HTTP_BAD_REQUEST, bad);
    }
    worker *w = worker_get(s, &err);
    ht_stats_row *rows = NULL;
    size_t n = 0;
    ht_status st =
        w ? ht_stats_compute(w->store, &q.filter, by, &rows, &n, &err) : HT_EDB;
    if (st != HT_OK) {
        return send_error(c, rq,
                          st == HT_EINVAL ? MHD_HTTP_BAD_REQUEST
                                          : MHD_HTTP_INTERNAL_SERVER_ERROR,
                          err.msg);
    }
    char *j = ht_stats_rows_json(rows, n, (size_t)limit, by, &q.filter);
    free(rows);
    return send_text_json(c, rq, j);
}

/* GET /api/topics?month=YYYY-MM&by=street|community&min=N&limit=N */
static enum MHD_Result route_topics(ht_server *s, struct MHD_Connection *c,
                                    request *rq) {
    query q;
    if (!parse_query(c, "month by min limit", &q)) {
        return send_error(c, rq, MHD_HTTP_BAD_REQUEST, q.bad);
    }
    if (!qget(&q, "month")) {
        return send_error(c, rq, MHD_HTTP_BAD_REQUEST,
                          "month: required, YYYY-MM");
    }
    char fkey[1024];
    ht_filter all = ht_filter_all(), *f = &q.filter;
    ht_filter_key(f, fkey, sizeof fkey);
    char akey[1024];
    ht_filter_key(&all, akey, sizeof akey);
    if (strcmp(fkey, akey) != 0) {
        return send_error(c, rq, MHD_HTTP_BAD_REQUEST,
                          "topics take no filters: month, by, min, limit");
    }
    ht_error err = {0};
    ht_stats_by by = HT_STATS_BY_STREET;
    long min = 3, limit = 10;
    char bad[160];
    if (qget(&q, "by") &&
        ht_stats_by_parse(qget(&q, "by"), &by, &err) != HT_OK) {
        return send_error(c, rq, MHD_HTTP_BAD_REQUEST, err.msg);
    }
    if (!count_param(&q, "min", 1, 1000000, &min, bad, sizeof bad) ||
        !count_param(&q, "limit", 1, 1000, &limit, bad, sizeof bad)) {
        return send_error(c, rq, MHD_HTTP_BAD_REQUEST, bad);
    }
    worker *w = worker_get(s, &err);
    ht_topic *t = NULL;
    size_t n = 0;
    ht_status st = w ? ht_stats_topics(w->store, qget(&q, "month"), by,
                                       rq->scope[0] ? rq->scope : NULL, min,
                                       (size_t)limit, &t, &n, &err)
                     : HT_EDB;
    if (st != HT_OK) {
        return send_error(c, rq,
                          st == HT_EINVAL ? MHD_HTTP_BAD_REQUEST
                                          : MHD_HTTP_INTERNAL_SERVER_ERROR,
                          err.msg);
    }
    char *j = ht_stats_topics_json(t, n, qget(&q, "month"));
    free(t);
    return send_text_json(c, rq, j);
}

static json_t *grid_json(const ht_fgrid *g) {
    json_t *o = json_pack("{s:s, s:s, s:s}", "code", g->code, "name",
                          g->name ? g->name : "", "level",
                          ht_model_level_name(g->level));
    json_object_set_new(
        o, "parent_code",
        g->parent_code ? json_string(g->parent_code) : json_null());
    json_object_set_new(
        o, "population",
        g->population >= 0 ? json_integer(g->population) : json_null());
    json_object_set_new(o, "area_km2", json_real(g->area_m2 / 1e6));
    return o;
}

/* The grid of the lowest level containing EPSG:3857 (@x, @y), through
 * the features' spatial index; NULL when none does. */
static const ht_fgrid *grid_at(const ht_features *f, double x, double y) {
    ht_bbox box = {x, y, x, y};
    uint32_t *ids = NULL;
    size_t n = 0, cap = 0;
    const ht_fgrid *best = NULL;
    if (ht_features_query(f, HT_F_GRIDS, &box, &ids, &n, &cap, NULL) == HT_OK) {
        for (size_t k = 0; k < n; k++) {
            const ht_fgrid *g = ht_features_grid(f, ids[k]);
            if ((!best || g->level > best->level) &&
                ht_geom_contains(g->geom, x, y)) {
                best = g;
            }
        }
    }
    free(ids);
    return best;
}

static json_t *text_or_null(const char *v) {
    return v ? json_string(v) : json_null();
}

static ht_status category_json(const ht_category_rec *rec, void *ud,
                               ht_error *err) {
    (void)err;
    json_array_append_new(
        ud,
        json_pack("{s:o, s:o, s:o, s:o}", "code", text_or_null(rec->code),
                  "parent_code", text_or_null(rec->parent_code), "name",
                  text_or_null(rec->name), "color", text_or_null(rec->color)));
    return HT_OK;
}

/* GET /api/categories: the code table. */
static enum MHD_Result route_categories(ht_server *s, struct MHD_Connection *c,
                                        request *rq) {
    query q;
    if (!parse_query(c, "", &q)) {
        return send_error(c, rq, MHD_HTTP_BAD_REQUEST, q.bad);
    }
    ht_error err = {0};
    worker *w = worker_get(s, &err);
    if (!w) {
        return send_error(c, rq, MHD_HTTP_INTERNAL_SERVER_ERROR, err.msg);
    }
    json_t *arr = json_array();
    if (ht_store_each_category(w->store, category_json, arr, &err) != HT_OK) {
        json_decref(arr);
        return send_failure(c, rq, err.code, err.msg);
    }
    return send_json(c, rq, json_pack("{s:o}", "categories", arr),
                     "public, max-age=300");
}

/* GET /static/leaflet/{file}: Leaflet from Debian's libjs-leaflet. Names
 * are checked against a fixed pattern, never joined blindly. */
static enum MHD_Result route_leaflet(struct MHD_Connection *c, request *rq,
                                     const char *name) {
    static const char *const files[] = {"leaflet.js",
                                        "leaflet.css",
                                        "images/layers.png",
                                        "images/layers-2x.png",
                                        "images/marker-icon.png",
                                        "images/marker-icon-2x.png",
                                        "images/marker-shadow.png"};
    int k = 0;
    while (k < 7 && strcmp(files[k], name) != 0) {
        k++;
    }
    if (k == 7) {
        return send_error(c, rq, MHD_HTTP_NOT_FOUND, "not found");
    }
    char path[256];
    snprintf(path, sizeof path, "%s/%s", LEAFLET_DIR, files[k]);
    ht_buf *b = ht_buf_new();
    ht_error err = {0};
    if (!b || ht_buf_read_file(b, path, &err) != HT_OK) {
        ht_buf_free(b);
        return send_error(c, rq, MHD_HTTP_NOT_FOUND,
                          "Leaflet is not installed (Debian package "
                          "libjs-leaflet)");
    }
    const char *type = strstr(files[k], ".js")    ? "text/javascript"
                       : strstr(files[k], ".css") ? "text/css"
                                                  : "image/png";
    return send_ht_buf(c, rq, type, b, NULL, "public, max-age=86400");
}

static enum MHD_Result send_page(struct MHD_Connection *c, request *rq,
                                 const unsigned char *page, size_t len) {
    void *data = malloc(len);
    if (!data) {
        return send_error(c, rq, MHD_HTTP_INTERNAL_SERVER_ERROR,
                          "out of memory");
    }
    memcpy(data, page, len);
    return send_buf(c, rq, MHD_HTTP_OK, "text/html; charset=utf-8", data, len,
                    NULL, "no-cache");
}

/* Append @g to @arr when it is of @level (NULL: any) under @parent (NULL:
 * any). */
static void grid_keep(json_t *arr, const ht_fgrid *g, const ht_level *level,
                      const char *parent) {
    if ((!level || g->level == *level) &&
        (!parent || (g->parent_code && strcmp(g->parent_code, parent) == 0))) {
        json_array_append_new(arr, grid_json(g));
    }
}

/* GET /api/grids?level=L&parent=CODE&at=LON,LAT: grids, without geometry. */
static enum MHD_Result route_grids(ht_server *s, struct MHD_Connection *c,
                                   request *rq) {
    query q;
    if (!parse_query(c, "level parent at", &q)) {
        return send_error(c, rq, MHD_HTTP_BAD_REQUEST, q.bad);
    }
    ht_level level = HT_LEVEL_GRID;
    const char *lv = qget(&q, "level"), *parent = qget(&q, "parent");
    if (lv && ht_model_level_parse(lv, &level, NULL) != HT_OK) {
        return send_error(c, rq, MHD_HTTP_BAD_REQUEST,
                          "level: district, street, community or grid");
    }
    if (parent && !ht_features_find_grid(s->feat, parent)) {
        return send_error(c, rq, MHD_HTTP_NOT_FOUND, "parent: no such grid");
    }
    const char *at = qget(&q, "at");
    double ax = 0, ay = 0;
    if (at) {
        double lon, lat;
        char tail;
        if (sscanf(at, "%lf,%lf%c", &lon, &lat, &tail) != 2 ||
            !(lon >= -180 && lon <= 180 && lat >= -85 && lat <= 85)) {
            return send_error(c, rq, MHD_HTTP_BAD_REQUEST,
                              "at: expected LON,LAT in WGS 84");
        }
        ht_tile_lonlat_to_merc(lon, lat, &ax, &ay);
    }
    json_t *arr = json_array();
    /* With "at": the grid under the point and its ancestors, lowest
     * level first; else every grid. */
    if (at) {
        for (const ht_fgrid *g = grid_at(s->feat, ax, ay); g;
             g = g->parent_code ? ht_features_find_grid(s->feat, g->parent_code)
                                : NULL) {
            if (!rq->scope[0] || in_scope(s, g->code, rq->scope)) {
                grid_keep(arr, g, lv ? &level : NULL, parent);
            }
        }
    } else {
        for (size_t i = 0; i < ht_features_grid_count(s->feat); i++) {
            const ht_fgrid *g = ht_features_grid(s->feat, i);
            if (!rq->scope[0] || in_scope(s, g->code, rq->scope)) {
                grid_keep(arr, g, lv ? &level : NULL, parent);
            }
        }
    }
    json_t *j = json_pack("{s:I, s:o}", "count",
                          (json_int_t)json_array_size(arr), "grids", arr);
    return send_json(c, rq, j, "public, max-age=300");
}

/* A position of GeoJSON, to 1 cm: 7 decimals of a degree. */
static json_t *position_json(ht_point p) {
    return json_pack("[f,f]", round(p.x * 1e7) / 1e7, round(p.y * 1e7) / 1e7);
}

/* A polygonal geometry as a GeoJSON MultiPolygon. */
static json_t *geom_json(const ht_geom *g) {
    json_t *polys = json_array();
    for (size_t j = 0; j < g->npolys; j++) {
        json_t *rings = json_array();
        for (size_t i = g->polys[j]; i < ht_geom_poly_end(g, j); i++) {
            json_t *ring = json_array();
            for (size_t k = g->parts[i]; k < ht_geom_part_end(g, i); k++) {
                json_array_append_new(ring, position_json(g->pts[k]));
            }
            json_array_append_new(rings, ring);
        }
        json_array_append_new(polys, rings);
    }
    return json_pack("{s:s, s:o}", "type", "MultiPolygon", "coordinates",
                     polys);
}

/* GET /api/grids/{code}: a GeoJSON Feature (WGS 84) with the grid's
 * statistics under the filters. */
static enum MHD_Result route_grid(ht_server *s, struct MHD_Connection *c,
                                  request *rq, const char *code) {
    const ht_fgrid *g = ht_features_find_grid(s->feat, code);
    /* A scoped reader is told the same of a grid outside its area and of
     * one that does not exist: it learns nothing of other areas. */
    if (rq->scope[0] && (!g || !in_scope(s, code, rq->scope))) {
        return send_outside(c, rq);
    }
    if (!g) {
        return send_error(c, rq, MHD_HTTP_NOT_FOUND, "no such grid");
    }
    query q;
    if (!parse_query(c, "", &q)) {
        return send_error(c, rq, MHD_HTTP_BAD_REQUEST, q.bad);
    }
    if (q.filter.grid[0]) {
        return send_error(c, rq, MHD_HTTP_BAD_REQUEST,
                          "grid: the path names the grid");
    }
    ht_error err = {0};
    worker *w = worker_get(s, &err);
    if (!w) {
        return send_error(c, rq, MHD_HTTP_INTERNAL_SERVER_ERROR, err.msg);
    }
    /* The geometry as the store holds it (WGS 84). */
    ht_geom *poly = NULL;
    json_t *geom = NULL;
    if (ht_store_grid_geometry(w->store, code, &poly, &err) == HT_OK) {
        geom = geom_json(poly);
        ht_geom_free(poly);
    }
    /* Its figures: the whole grid, then by category. */
    ht_filter f = q.filter;
    snprintf(f.grid, sizeof f.grid, "%s", code);
    ht_stats_row *rows = NULL;
    size_t n = 0;
    if (ht_stats_compute(w->store, &f, HT_STATS_BY_CATEGORY, &rows, &n, &err) !=
        HT_OK) {
        json_decref(geom);
        return send_error(c, rq,
                          err.code == HT_EINVAL
                              ? MHD_HTTP_BAD_REQUEST
                              : MHD_HTTP_INTERNAL_SERVER_ERROR,
                          err.msg);
    }
    char *by_cat = ht_stats_rows_json(rows, n, 20, HT_STATS_BY_CATEGORY, &f);
    free(rows);
    json_t *props = grid_json(g);
    json_t *stats = by_cat ? json_loads(by_cat, 0, NULL) : NULL;
    free(by_cat);
    json_object_set_new(props, "stats", stats ? stats : json_null());
    json_t *j =
        json_pack("{s:s, s:s, s:o, s:o}", "type", "Feature", "id", code,
                  "properties", props, "geometry", geom ? geom : json_null());
    return send_json(c, rq, j, "no-cache");
}

/* ---- WMS ---- */

typedef struct args {
    const char *keys[64], *values[64];
    size_t n, bytes;
    bool too_many, not_text;
} args;

static enum MHD_Result on_wms_arg(void *cls, enum MHD_ValueKind kind,
                                  const char *key, const char *value) {
    (void)kind;
    args *a = cls;
    a->bytes += strlen(key) + (value ? strlen(value) : 0) + 2;
    if (a->n == 64 || a->bytes > MAX_QUERY) {
        a->too_many = true;
        return MHD_NO;
    }
    if (!text_ok(key) || !text_ok(value)) {
        a->not_text = true;
        return MHD_NO;
    }
    a->keys[a->n] = key;
    a->values[a->n++] = value;
    return MHD_YES;
}

static enum MHD_Result wms_error(struct MHD_Connection *c, request *rq,
                                 int version, const char *code,
                                 const char *msg) {
    char *x = ht_wms_exception(version, code, msg);
    if (!x) {
        return MHD_NO;
    }
    return send_buf(c, rq, MHD_HTTP_BAD_REQUEST, ht_wms_exception_type(version),
                    x, strlen(x), NULL, NULL);
}

static const struct {
    const char *name, *title;
} style_titles[] = {
    {"default", "标准底图 base map (light)"},
    {"wall", "大屏底图 command-center base map (dark)"},
    {"print", "打印底图 print base map"},
    {"grids", "单元网格 unit grid outlines"},
    {"heat", "事件热力 incident density (incidents/km²)"},
    {"heatrate", "日均热力 incident density per day (365-day scale)"},
    {"streetheat", "街巷热度 street heat (incidents per 100 m)"},
    {"choropleth", "网格密度 grid density (Jenks classes)"},
    {"hotspots", "热点分析 hotspots (Getis-Ord Gi*)"}};

static enum MHD_Result wms_capabilities(ht_server *s, struct MHD_Connection *c,
                                        request *rq, int version) {
    char base[300];
    base_url(s, c, rq, base, sizeof base);
    char *names[MAX_STYLES];
    size_t n = style_names(names, MAX_STYLES);
    ht_wms_layer layers[MAX_STYLES];
    size_t m = 0;
    for (size_t k = 0; k < n; k++) {
        const ht_style *st = style_get(s, names[k], NULL);
        if (!st) {
            continue; /* a broken style is not offered */
        }
        layers[m] = (ht_wms_layer){
            names[k], names[k], NULL, ht_render_style_has_legend(st), 1, 1};
        if (layers[m].legend) {
            ht_render_legend_size(st, 1, &layers[m].legend_w,
                                  &layers[m].legend_h);
        }
        for (size_t t = 0; t < sizeof style_titles / sizeof *style_titles;
             t++) {
            if (strcmp(style_titles[t].name, names[k]) == 0) {
                layers[m].title = style_titles[t].title;
            }
        }
        m++;
    }
    ht_bbox ll;
    ht_tile_merc_to_lonlat(s->extent.minx, s->extent.miny, &ll.minx, &ll.miny);
    ht_tile_merc_to_lonlat(s->extent.maxx, s->extent.maxy, &ll.maxx, &ll.maxy);
    ht_bbox boxes[8];
    for (size_t k = 0; k < ht_wms_ncrs && k < 8; k++) {
        /* The extent's edges, sampled, in each CRS. */
        ht_transform *t = NULL;
        boxes[k] = ht_bbox_empty();
        if (ht_crs_transform_new("EPSG:4326", ht_wms_crs[k], &t, NULL) ==
            HT_OK) {
            for (int q = 0; q <= 16; q++) {
                double fx = ll.minx + (ll.maxx - ll.minx) * q / 16;
                double fy = ll.miny + (ll.maxy - ll.miny) * q / 16;
                double pts[4][2] = {
                    {fx, ll.miny}, {fx, ll.maxy}, {ll.minx, fy}, {ll.maxx, fy}};
                for (int p = 0; p < 4; p++) {
                    double x, y;
                    if (ht_crs_transform_point(t, pts[p][0], pts[p][1], &x, &y,
                                               NULL) == HT_OK) {
                        ht_bbox_add(&boxes[k], x, y);
                    }
                }
            }
        }
        ht_crs_transform_free(t);
    }
    char *xml = ht_wms_capabilities(version, base, layers, m, ll, boxes);
    for (size_t k = 0; k < n; k++) {
        free(names[k]);
    }
    if (!xml) {
        return send_error(c, rq, MHD_HTTP_INTERNAL_SERVER_ERROR,
                          "out of memory");
    }
    return send_buf(c, rq, MHD_HTTP_OK,
                    version == 111 ? "application/vnd.ogc.wms_xml" : "text/xml",
                    xml, strlen(xml), NULL, "public, max-age=300");
}

/* PNG bytes of @surf as a response. */
static enum MHD_Result send_png(struct MHD_Connection *c, request *rq,
                                cairo_surface_t *surf, const char *cc) {
    ht_error err = {0};
    ht_status st;
    ht_buf *png = NULL;
    png_of(surf, &png, &err, &st);
    if (st != HT_OK) {
        ht_buf_free(png);
        return send_error(c, rq, MHD_HTTP_INTERNAL_SERVER_ERROR, err.msg);
    }
    return send_ht_buf(c, rq, "image/png", png, NULL, cc);
}

static enum MHD_Result wms_map(ht_server *s, struct MHD_Connection *c,
                               request *rq, const ht_wms_req *w) {
    ht_error err = {0};
    const ht_style *styles[HT_WMS_MAX_LAYERS];
    for (int k = 0; k < w->nlayers; k++) {
        if (!(styles[k] = style_get(s, w->layers[k], &err))) {
            return wms_error(c, rq, w->version, "LayerNotDefined", err.msg);
        }
    }
    ht_filter f = w->filter;
    if (!scope_filter(s, rq, &f)) {
        return send_outside(c, rq);
    }
    worker *wk = worker_get(s, &err);
    if (!wk) {
        return send_error(c, rq, MHD_HTTP_INTERNAL_SERVER_ERROR, err.msg);
    }
    cairo_surface_t *surf =
        cairo_image_surface_create(CAIRO_FORMAT_ARGB32, w->width, w->height);
    cairo_t *cr = cairo_create(surf);
    if (!w->transparent && !rq->scope[0]) {
        cairo_set_source_rgb(cr, w->bgcolor.r, w->bgcolor.g, w->bgcolor.b);
        cairo_paint(cr);
    }
    ht_status st = HT_OK;
    for (int k = 0; k < w->nlayers && st == HT_OK; k++) {
        /* Later layers lay over earlier ones: no backgrounds. */
        ht_render_req req = {.style = styles[k],
                             .bbox = w->bbox,
                             .crs = w->crs,
                             .width = w->width,
                             .height = w->height,
                             .scale = 1,
                             .filter = &f,
                             .transparent = w->transparent || k > 0,
                             .clip_grid = rq->scope[0] ? rq->scope : NULL};
        cairo_save(cr);
        st = ht_render(wk->rend, &req, cr, &err);
        cairo_restore(cr);
    }
    cairo_destroy(cr);
    enum MHD_Result r =
        st == HT_OK ? send_png(c, rq, surf, cache_control_of(s, &w->filter))
                    : wms_error(c, rq, w->version,
                                st == HT_EINVAL ? "InvalidParameterValue"
                                                : "NoApplicableCode",
                                err.msg);
    cairo_surface_destroy(surf);
    return r;
}

static enum MHD_Result wms_legend(ht_server *s, struct MHD_Connection *c,
                                  request *rq, const ht_wms_req *w) {
    ht_error err = {0};
    const ht_style *style = style_get(s, w->layers[0], &err);
    if (!style) {
        return wms_error(c, rq, w->version, "LayerNotDefined", err.msg);
    }
    ht_filter f = w->filter;
    if (!scope_filter(s, rq, &f)) {
        return send_outside(c, rq);
    }
    worker *wk = worker_get(s, &err);
    if (!wk) {
        return send_error(c, rq, MHD_HTTP_INTERNAL_SERVER_ERROR, err.msg);
    }
    /* Base maps have no units to explain: an empty graphic. */
    int lw = 1, lh = 1;
    bool legend = ht_render_style_has_legend(style);
    if (legend) {
        ht_render_legend_size(style, w->scale, &lw, &lh);
    }
    cairo_surface_t *surf =
        cairo_image_surface_create(CAIRO_FORMAT_ARGB32, lw, lh);
    ht_status st = HT_OK;
    if (legend) {
        cairo_t *cr = cairo_create(surf);
        st = ht_render_legend(wk->rend, style, &f, w->scale, cr, &err);
        cairo_destroy(cr);
    }
    enum MHD_Result r =
        st == HT_OK ? send_png(c, rq, surf, cache_control_of(s, &w->filter))
                    : wms_error(c, rq, w->version, "NoApplicableCode", err.msg);
    cairo_surface_destroy(surf);
    return r;
}

/* @s with HTML's special characters escaped. */
static void html_text(ht_buf *b, const char *s) {
    for (; s && *s; s++) {
        const char *e = *s == '<'    ? "&lt;"
                        : *s == '>'  ? "&gt;"
                        : *s == '&'  ? "&amp;"
                        : *s == '"'  ? "&quot;"
                        : *s == '\'' ? "&#39;"
                                     : NULL;
        if (e) {
            ht_buf_appendf(b, NULL, "%s", e);
        } else {
            ht_buf_append(b, s, 1, NULL);
        }
    }
}

static enum MHD_Result wms_info(ht_server *s, struct MHD_Connection *c,
                                request *rq, const ht_wms_req *w) {
    ht_error err = {0};
    double x =
        w->bbox.minx + (w->i + 0.5) * (w->bbox.maxx - w->bbox.minx) / w->width;
    double y =
        w->bbox.maxy - (w->j + 0.5) * (w->bbox.maxy - w->bbox.miny) / w->height;
    worker *wk = worker_get(s, &err);
    if (!wk) {
        return send_error(c, rq, MHD_HTTP_INTERNAL_SERVER_ERROR, err.msg);
    }
    /* The worker keeps one transform per served CRS. */
    size_t ci = 0; /* the request's CRS is one served (checked) */
    while (ci + 1 < ht_wms_ncrs && strcmp(ht_wms_crs[ci], w->crs) != 0) {
        ci++;
    }
    ht_transform **t = &wk->to_wgs84[ci];
    double lon, lat, mx, my;
    if ((!*t && ht_crs_transform_new(w->crs, "EPSG:4326", t, &err) != HT_OK) ||
        ht_crs_transform_point(*t, x, y, &lon, &lat, &err) != HT_OK) {
        return wms_error(c, rq, w->version, "InvalidPoint", err.msg);
    }
    ht_tile_lonlat_to_merc(lon, lat, &mx, &my);
    const ht_fgrid *hit = grid_at(s->feat, mx, my);
    if (hit && rq->scope[0] && !in_scope(s, hit->code, rq->scope)) {
        hit = NULL; /* not this reader's to see */
    }
    ht_stats_row *rows = NULL;
    size_t n = 0;
    int64_t total = 0;
    /* The figures are the clicked grid's (within a grid filter, when one
     * is given: nothing when the grid lies outside it), never another's. */
    if (hit && (!w->filter.grid[0] || in_scope(s, hit->code, w->filter.grid))) {
        ht_filter f = w->filter;
        snprintf(f.grid, sizeof f.grid, "%s", hit->code);
        if (ht_stats_compute(wk->store, &f, HT_STATS_BY_CATEGORY, &rows, &n,
                             &err) != HT_OK) {
            return wms_error(c, rq, w->version, "InvalidParameterValue",
                             err.msg);
        }
        for (size_t k = 0; k < n; k++) {
            total += rows[k].count;
        }
    }
    ht_buf *b = ht_buf_new();
    const char *type = w->info_format;
    if (!b) {
        free(rows);
        return MHD_NO;
    }
    if (strcmp(type, "application/json") == 0) {
        json_t *fc =
            json_pack("{s:s, s:[]}", "type", "FeatureCollection", "features");
        if (hit) {
            json_t *props = grid_json(hit);
            json_object_set_new(props, "incidents", json_integer(total));
            json_t *cats = json_array();
            for (size_t k = 0; k < n && k < 10; k++) {
                json_array_append_new(
                    cats, json_pack("{s:s, s:s, s:I}", "code", rows[k].key,
                                    "name", rows[k].name, "count",
                                    (json_int_t)rows[k].count));
            }
            json_object_set_new(props, "by_category", cats);
            json_array_append_new(
                json_object_get(fc, "features"),
                json_pack("{s:s, s:s, s:o, s:n}", "type", "Feature", "id",
                          hit->code, "properties", props, "geometry"));
        }
        char *text = json_dumps(fc, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(fc);
        if (text) {
            ht_buf_append(b, text, strlen(text), NULL);
        }
        free(text);
    } else if (strcmp(type, "text/html") == 0) {
        ht_buf_appendf(b, NULL,
                       "<!DOCTYPE html><html><head><meta charset=\"utf-8\">"
                       "<title>hutong</title></head><body>");
        if (hit) {
            ht_buf_appendf(b, NULL, "<h3>");
            html_text(b, hit->name);
            ht_buf_appendf(b, NULL, "</h3><p>");
            html_text(b, hit->code);
            ht_buf_appendf(b, NULL,
                           " &middot; %s &middot; %lld incidents</p><table>",
                           ht_model_level_name(hit->level), (long long)total);
            for (size_t k = 0; k < n && k < 10; k++) {
                ht_buf_appendf(b, NULL, "<tr><td>");
                html_text(b, rows[k].name);
                ht_buf_appendf(b, NULL, "</td><td>%lld</td></tr>",
                               (long long)rows[k].count);
            }
            ht_buf_appendf(b, NULL, "</table>");
        } else {
            ht_buf_appendf(b, NULL, "<p>No grid here.</p>");
        }
        ht_buf_appendf(b, NULL, "</body></html>\n");
        type = "text/html; charset=utf-8";
    } else {
        if (hit) {
            ht_buf_appendf(b, NULL, "grid %s %s (%s): %lld incidents\n",
                           hit->code, hit->name ? hit->name : "",
                           ht_model_level_name(hit->level), (long long)total);
            for (size_t k = 0; k < n && k < 10; k++) {
                ht_buf_appendf(b, NULL, "  %s %s: %lld\n", rows[k].key,
                               rows[k].name, (long long)rows[k].count);
            }
        } else {
            ht_buf_appendf(b, NULL, "no grid here\n");
        }
        type = "text/plain; charset=utf-8";
    }
    free(rows);
    return send_ht_buf(c, rq, type, b, NULL, "no-cache");
}

static enum MHD_Result route_wms(ht_server *s, struct MHD_Connection *c,
                                 request *rq) {
    args a = {0};
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, on_wms_arg, &a);
    if (a.too_many) {
        return wms_error(c, rq, 130, "InvalidParameterValue",
                         "too many or too long parameters");
    }
    if (a.not_text) {
        return wms_error(c, rq, 130, "InvalidParameterValue",
                         "a parameter is not UTF-8 text");
    }
    ht_wms_req w;
    char code[40];
    ht_error err = {0};
    if (ht_wms_parse(a.keys, a.values, a.n, (int64_t)time(NULL), &w, code,
                     &err) != HT_OK) {
        return wms_error(c, rq, w.version, code, err.msg);
    }
    switch (w.op) {
    case HT_WMS_GET_CAPABILITIES:
        return wms_capabilities(s, c, rq, w.version);
    case HT_WMS_GET_MAP:
        return wms_map(s, c, rq, &w);
    case HT_WMS_GET_FEATURE_INFO:
        return wms_info(s, c, rq, &w);
    case HT_WMS_GET_LEGEND_GRAPHIC:
        return wms_legend(s, c, rq, &w);
    }
    return MHD_NO;
}

/* ---- static images ---- */

static cairo_status_t to_buf(void *closure, const unsigned char *data,
                             unsigned int length) {
    return ht_buf_append(closure, data, length, NULL) == HT_OK
               ? CAIRO_STATUS_SUCCESS
               : CAIRO_STATUS_NO_MEMORY;
}

/* GET /map.png|pdf?bbox=W,S,E,N|grid=CODE&width=&height=&crs=&style=
 * &scale=&transparent= + filters. */
static enum MHD_Result route_map(ht_server *s, struct MHD_Connection *c,
                                 request *rq, bool pdf) {
    query q;
    if (!parse_query(c, "bbox width height crs style scale transparent", &q)) {
        return send_error(c, rq, MHD_HTTP_BAD_REQUEST, q.bad);
    }
    char bad[160];
    long w = 1024, h = 768;
    if (!count_param(&q, "width", 1, HT_WMS_MAX_SIZE, &w, bad, sizeof bad) ||
        !count_param(&q, "height", 1, HT_WMS_MAX_SIZE, &h, bad, sizeof bad)) {
        return send_error(c, rq, MHD_HTTP_BAD_REQUEST, bad);
    }
    if (q.scale > 4) {
        return send_error(c, rq, MHD_HTTP_BAD_REQUEST, "scale: 0.25..4");
    }
    if (!pdf &&
        (w * q.scale > HT_WMS_MAX_SIZE || h * q.scale > HT_WMS_MAX_SIZE)) {
        return send_error(c, rq, MHD_HTTP_BAD_REQUEST,
                          "width and height times scale: at most 4096 px");
    }
    const char *bbox = qget(&q, "bbox"), *crs = qget(&q, "crs");
    const char *name = qget(&q, "style") ? qget(&q, "style") : "default";
    if (!bbox == !q.filter.grid[0]) {
        return send_error(c, rq, MHD_HTTP_BAD_REQUEST,
                          "bbox or grid: one of them sets the extent");
    }
    ht_error err = {0};
    const ht_style *style = style_get(s, name, &err);
    if (!style) {
        return send_error(c, rq, MHD_HTTP_NOT_FOUND, err.msg);
    }
    int pw = (int)lround((double)w * (pdf ? 1 : q.scale));
    int ph = (int)lround((double)h * (pdf ? 1 : q.scale));
    ht_render_req req = {
        .style = style,
        .crs = crs,
        .width = pw,
        .height = ph,
        .scale = pdf ? 1 : q.scale,
        .filter = &q.filter,
        .transparent = qget(&q, "transparent") &&
                       strcmp(qget(&q, "transparent"), "true") == 0};
    if (!scope_filter(s, rq, &q.filter)) {
        return send_outside(c, rq);
    }
    req.clip_grid = rq->scope[0] ? rq->scope : NULL;
    if (bbox) {
        if (ht_bbox_parse(bbox, &req.bbox, NULL) != HT_OK) {
            return send_error(c, rq, MHD_HTTP_BAD_REQUEST,
                              "bbox: W,S,E,N in the crs, W < E and S < N");
        }
    } else if (ht_render_fit_grid(s->feat, q.filter.grid, crs, pw, ph,
                                  &req.bbox, &err) != HT_OK) {
        return send_error(c, rq, MHD_HTTP_BAD_REQUEST, err.msg);
    }
    worker *wk = worker_get(s, &err);
    if (!wk) {
        return send_error(c, rq, MHD_HTTP_INTERNAL_SERVER_ERROR, err.msg);
    }
    ht_buf *out = ht_buf_new();
    cairo_surface_t *surf =
        pdf ? cairo_pdf_surface_create_for_stream(to_buf, out, pw, ph)
            : cairo_image_surface_create(CAIRO_FORMAT_ARGB32, pw, ph);
    cairo_t *cr = cairo_create(surf);
    ht_status st = out ? ht_render(wk->rend, &req, cr, &err)
                       : ht_error_set(&err, HT_ENOMEM, "out of memory");
    cairo_destroy(cr);
    enum MHD_Result r;
    if (st != HT_OK) {
        r = send_error(c, rq,
                       st == HT_EINVAL ? MHD_HTTP_BAD_REQUEST
                                       : MHD_HTTP_INTERNAL_SERVER_ERROR,
                       err.msg);
    } else if (!pdf) {
        r = send_png(c, rq, surf, cache_control_of(s, &q.filter));
    } else {
        cairo_surface_finish(surf); /* the last bytes reach @out */
        if (cairo_surface_status(surf) == CAIRO_STATUS_SUCCESS) {
            r = send_ht_buf(c, rq, "application/pdf", out, NULL,
                            cache_control_of(s, &q.filter));
            out = NULL;
        } else {
            r = send_error(c, rq, MHD_HTTP_INTERNAL_SERVER_ERROR,
                           "cannot write the PDF");
        }
    }
    cairo_surface_destroy(surf);
    ht_buf_free(out);
    return r;
}

/* ---- metrics ---- */

static int route_of(const char *uri) {
    static const struct {
        const char *prefix;
        int route;
    } map[] = {{"/tiles/", R_TILE},    {"/legend/", R_LEGEND},
               {"/wms", R_WMS},        {"/map.", R_MAP},
               {"/api", R_API},        {"/static/", R_STATIC},
               {"/healthz", R_HEALTH}, {"/metrics", R_METRICS}};
    size_t q = strcspn(uri, "?");
    if (strncmp(uri, "/tiles/", 7) == 0 && q > 5 &&
        strncmp(uri + q - 5, ".json", 5) == 0) {
        return R_TILEJSON;
    }
    if ((q == 1 && uri[0] == '/') ||
        (q == 5 && strncmp(uri, "/wall", 5) == 0)) {
        return R_PAGE;
    }
    for (size_t k = 0; k < sizeof map / sizeof *map; k++) {
        if (strncmp(uri, map[k].prefix, strlen(map[k].prefix)) == 0) {
            return map[k].route;
        }
    }
    return R_OTHER;
}

static void count_request(ht_server *s, const request *rq) {
    size_t st = 0;
    while (st < NSTATUS - 1 && status_codes[st] != rq->status) {
        st++;
    }
    atomic_fetch_add(&s->requests[route_of(rq->uri)][st], 1);
}

/* GET /metrics: Prometheus text format 0.0.4. */
static enum MHD_Result route_metrics(ht_server *s, struct MHD_Connection *c,
                                     request *rq) {
    ht_buf *b = ht_buf_new();
    if (!b) {
        return MHD_NO;
    }
    ht_buf_appendf(b, NULL,
                   "# HELP hutong_http_requests_total HTTP requests by route "
                   "and status.\n"
                   "# TYPE hutong_http_requests_total counter\n");
    for (int r = 0; r < R_COUNT; r++) {
        for (size_t k = 0; k < NSTATUS; k++) {
            unsigned long n = atomic_load(&s->requests[r][k]);
            if (!n) {
                continue;
            }
            char code[8] = "other";
            if (k < NSTATUS - 1) {
                snprintf(code, sizeof code, "%u", status_codes[k]);
            }
            ht_buf_appendf(b, NULL,
                           "hutong_http_requests_total{route=\"%s\","
                           "status=\"%s\"} %lu\n",
                           route_names[r], code, n);
        }
    }
    ht_buf_appendf(b, NULL,
                   "# HELP hutong_tile_render_seconds Time to render and "
                   "encode a tile that was not cached.\n"
                   "# TYPE hutong_tile_render_seconds histogram\n");
    unsigned long cum = 0;
    for (size_t k = 0; k <= NBUCKETS; k++) {
        cum += atomic_load(&s->render_le[k]);
        if (k < NBUCKETS) {
            ht_buf_appendf(b, NULL,
                           "hutong_tile_render_seconds_bucket{le=\"%g\"} %lu\n",
                           render_buckets[k], cum);
        } else {
            ht_buf_appendf(b, NULL,
                           "hutong_tile_render_seconds_bucket{le=\"+Inf\"} "
                           "%lu\n",
                           cum);
        }
    }
    ht_buf_appendf(b, NULL,
                   "hutong_tile_render_seconds_sum %.6f\n"
                   "hutong_tile_render_seconds_count %lu\n",
                   (double)atomic_load(&s->render_us) / 1e6, cum);
    ht_cache_stats cs = ht_cache_get_stats(s->cache);
    double idx_bytes;
    size_t nidx = index_count(s, &idx_bytes);
    ht_buf_appendf(
        b, NULL,
        "# HELP hutong_tile_cache_hits_total Tiles served from the cache.\n"
        "# TYPE hutong_tile_cache_hits_total counter\n"
        "hutong_tile_cache_hits_total %llu\n"
        "# HELP hutong_tile_cache_misses_total Tiles not in the cache.\n"
        "# TYPE hutong_tile_cache_misses_total counter\n"
        "hutong_tile_cache_misses_total %llu\n"
        "# HELP hutong_tile_cache_evictions_total Tiles evicted for room.\n"
        "# TYPE hutong_tile_cache_evictions_total counter\n"
        "hutong_tile_cache_evictions_total %llu\n"
        "# HELP hutong_tile_cache_bytes Bytes held by the tile cache.\n"
        "# TYPE hutong_tile_cache_bytes gauge\n"
        "hutong_tile_cache_bytes %zu\n"
        "# HELP hutong_tile_cache_entries Tiles held by the tile cache.\n"
        "# TYPE hutong_tile_cache_entries gauge\n"
        "hutong_tile_cache_entries %zu\n"
        "# HELP hutong_index_incidents Incidents in the in-memory index.\n"
        "# TYPE hutong_index_incidents gauge\n"
        "hutong_index_incidents %zu\n"
        "# HELP hutong_index_bytes Bytes of the index's per-incident "
        "arrays.\n"
        "# TYPE hutong_index_bytes gauge\n"
        "hutong_index_bytes %.0f\n"
        "# HELP hutong_connections Connections open.\n"
        "# TYPE hutong_connections gauge\n"
        "hutong_connections %lu\n"
        "# HELP hutong_connections_timed_out_total Connections cut for not "
        "sending a whole request in time.\n"
        "# TYPE hutong_connections_timed_out_total counter\n"
        "hutong_connections_timed_out_total %lu\n"
        "# HELP hutong_event_listeners_refused_total Event streams refused "
        "for the listener limits.\n"
        "# TYPE hutong_event_listeners_refused_total counter\n"
        "hutong_event_listeners_refused_total %lu\n"
        "# HELP hutong_uptime_seconds Seconds since the server started.\n"
        "# TYPE hutong_uptime_seconds gauge\n"
        "hutong_uptime_seconds %.0f\n",
        (unsigned long long)cs.hits, (unsigned long long)cs.misses,
        (unsigned long long)cs.evictions, cs.bytes, cs.entries, nidx, idx_bytes,
        atomic_load(&s->open_conns), atomic_load(&s->timed_out),
        atomic_load(&s->listeners_refused), since_ms(&s->started) / 1e3);
    pthread_mutex_lock(&s->emu);
    unsigned long events = s->event_seq;
    size_t listeners = 0;
    for (const sse_sub *u = s->subs; u; u = u->link) {
        listeners++;
    }
    pthread_mutex_unlock(&s->emu);
    ht_buf_appendf(
        b, NULL,
        "# HELP hutong_writes_total Writes committed (POST and PATCH).\n"
        "# TYPE hutong_writes_total counter\n"
        "hutong_writes_total %lu\n"
        "# HELP hutong_events_total Incident events sent to listeners.\n"
        "# TYPE hutong_events_total counter\n"
        "hutong_events_total %lu\n"
        "# HELP hutong_event_listeners Connected /api/events listeners.\n"
        "# TYPE hutong_event_listeners gauge\n"
        "hutong_event_listeners %zu\n",
        atomic_load(&s->version), events, listeners);
    return send_ht_buf(c, rq, "text/plain; version=0.0.4", b, NULL, NULL);
}

/* ---- incidents ---- */

typedef struct hit {
    int64_t id, reported_at, street_id;
    double x, y;
    int severity;
    ht_source source;
    ht_state state;
    const char *category, *grid_code;
} hit;

/* The newest @keep incidents older than the cursor, as a heap whose root
 * is the oldest of them; @matched counts every one that qualified. */
typedef struct hits {
    hit *v;
    size_t n, keep, matched;
    int64_t before_t, before_id; /* the cursor: strictly older than this */
} hits;

/* Order: newer first (later report, then higher id). */
static bool newer(const hit *p, const hit *q) {
    return p->reported_at != q->reported_at ? p->reported_at > q->reported_at
                                            : p->id > q->id;
}

static void swap_hits(hit *a, hit *b) {
    hit t = *a;
    *a = *b;
    *b = t;
}

static void collect_hit(void *ud, double x, double y,
                        const ht_incident_view *v) {
    hits *h = ud;
    if (v->reported_at > h->before_t ||
        (v->reported_at == h->before_t && v->id >= h->before_id)) {
        return;
    }
    h->matched++;
    hit e = {v->id,       v->reported_at, v->street_id, x,
             y,           v->severity,    v->source,    v->state,
             v->category, v->grid_code};
    size_t i;
    if (h->n < h->keep) {
        i = h->n++;
        h->v[i] = e;
        for (; i > 0 && newer(&h->v[(i - 1) / 2], &h->v[i]); i = (i - 1) / 2) {
            swap_hits(&h->v[i], &h->v[(i - 1) / 2]);
        }
        return;
    }
    if (!newer(&e, &h->v[0])) {
        return;
    }
    h->v[0] = e; /* replaces the oldest kept, then sinks */
    for (i = 0;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && newer(&h->v[m], &h->v[l])) {
            m = l;
        }
        if (r < h->n && newer(&h->v[m], &h->v[r])) {
            m = r;
        }
        if (m == i) {
            break;
        }
        swap_hits(&h->v[i], &h->v[m]);
        i = m;
    }
}

static int cmp_newest(const void *a, const void *b) {
    return newer(a, b) ? -1 : newer(b, a) ? 1 : 0;
}

/* The external ids and closing times of a page, by position. */
typedef struct page_extra {
    const int64_t *ids;
    size_t n;
    struct {
        char *external_id;
        int64_t closed_at;
    } * v;
} page_extra;

static ht_status take_extra(const ht_incident_row *r, void *ud, ht_error *err) {
    (void)err;
    page_extra *p = ud;
    for (size_t k = 0; k < p->n; k++) {
        if (p->ids[k] == r->id && !p->v[k].external_id) {
            p->v[k].external_id =
                r->external_id ? strdup(r->external_id) : NULL;
            p->v[k].closed_at = r->closed_at;
        }
    }
    return HT_OK;
}

/* GET /api/incidents?bbox=W,S,E,N&limit=N&cursor=C + filters: GeoJSON,
 * newest first; "next" is the cursor of the following page. */
static enum MHD_Result route_incidents(ht_server *s, struct MHD_Connection *c,
                                       request *rq) {
    query q;
    if (!parse_query(c, "bbox limit cursor", &q)) {
        return send_error(c, rq, MHD_HTTP_BAD_REQUEST, q.bad);
    }
    if (!scope_filter(s, rq, &q.filter)) {
        return send_outside(c, rq);
    }
    long limit = 100;
    char bad[160];
    if (!count_param(&q, "limit", 1, 1000, &limit, bad, sizeof bad)) {
        return send_error(c, rq, MHD_HTTP_BAD_REQUEST, bad);
    }
    /* One more than the page: whether there is a next one. */
    hits h = {.keep = (size_t)limit + 1,
              .before_t = INT64_MAX,
              .before_id = INT64_MAX};
    const char *cursor = qget(&q, "cursor");
    char tail;
    long long ct, cid;
    if (cursor) {
        if (sscanf(cursor, "%lld_%lld%c", &ct, &cid, &tail) != 2) {
            return send_error(c, rq, MHD_HTTP_BAD_REQUEST,
                              "cursor: as given in \"next\"");
        }
        h.before_t = ct;
        h.before_id = cid;
    }
    ht_bbox box, *boxp = NULL;
    const char *bbox = qget(&q, "bbox");
    if (bbox) {
        ht_bbox ll;
        if (ht_bbox_parse(bbox, &ll, NULL) != HT_OK ||
            !(ll.minx >= -180 && ll.maxx <= 180 && ll.miny >= -85 &&
              ll.maxy <= 85)) {
            return send_error(c, rq, MHD_HTTP_BAD_REQUEST,
                              "bbox: W,S,E,N in WGS 84 degrees");
        }
        ht_tile_lonlat_to_merc(ll.minx, ll.miny, &box.minx, &box.miny);
        ht_tile_lonlat_to_merc(ll.maxx, ll.maxy, &box.maxx, &box.maxy);
        boxp = &box;
    }
    ht_error err = {0};
    ht_index_filter *f = NULL;
    ht_index *ix = index_ref(s);
    if (ht_index_filter_new(ix, &q.filter, &f, &err) != HT_OK) {
        ht_index_unref(ix);
        return send_error(c, rq, MHD_HTTP_BAD_REQUEST, err.msg);
    }
    if (!(h.v = malloc(h.keep * sizeof *h.v))) {
        ht_index_filter_free(f);
        ht_index_unref(ix);
        return send_error(c, rq, MHD_HTTP_INTERNAL_SERVER_ERROR,
                          "out of memory");
    }
    ht_index_visit(ix, f, boxp, collect_hit, &h);
    ht_index_filter_free(f);
    /* The hits borrow category and grid strings from the snapshot: keep
     * it until the page is written. */
    if (h.n > 1) {
        qsort(h.v, h.n, sizeof *h.v, cmp_newest);
    }
    size_t shown = h.n < (size_t)limit ? h.n : (size_t)limit;
    /* What the index does not hold, from the store: external ids and
     * closing times. */
    worker *wk = worker_get(s, &err);
    int64_t *ids = malloc((shown ? shown : 1) * sizeof *ids);
    page_extra extra = {.n = 0};
    extra.v = calloc(shown ? shown : 1, sizeof *extra.v);
    for (size_t k = 0; ids && extra.v && k < shown; k++) {
        ids[k] = h.v[k].id;
        extra.v[k].closed_at = HT_TIME_NONE;
    }
    if (wk && ids && extra.v) {
        extra.ids = ids;
        extra.n = shown;
        ht_store_each_incident(wk->store, ids, shown, take_extra, &extra, NULL);
    }
    json_t *features = json_array();
    for (size_t k = 0; k < shown; k++) {
        const hit *v = &h.v[k];
        double lon, lat;
        ht_tile_merc_to_lonlat(v->x, v->y, &lon, &lat);
        char at[32];
        ht_datetime_format(v->reported_at, at, sizeof at);
        json_t *props = json_pack(
            "{s:s, s:i, s:s, s:s, s:s}", "category", v->category, "severity",
            v->severity, "source", ht_model_source_name(v->source), "status",
            ht_model_state_name(v->state), "reported_at", at);
        json_object_set_new(
            props, "grid_code",
            v->grid_code ? json_string(v->grid_code) : json_null());
        json_object_set_new(
            props, "street_id",
            v->street_id >= 0 ? json_integer(v->street_id) : json_null());
        json_object_set_new(
            props, "external_id",
            extra.v ? text_or_null(extra.v[k].external_id) : json_null());
        json_t *closed = json_null();
        if (extra.v && extra.v[k].closed_at != HT_TIME_NONE) {
            char ct_s[32];
            ht_datetime_format(extra.v[k].closed_at, ct_s, sizeof ct_s);
            json_decref(closed);
            closed = json_string(ct_s);
        }
        json_object_set_new(props, "closed_at", closed);
        /* Positions are kept to 1 cm: 7 decimals of a degree. */
        json_array_append_new(
            features,
            json_pack("{s:s, s:I, s:o, s:{s:s, s:[f,f]}}", "type", "Feature",
                      "id", (json_int_t)v->id, "properties", props, "geometry",
                      "type", "Point", "coordinates", round(lon * 1e7) / 1e7,
                      round(lat * 1e7) / 1e7));
    }
    for (size_t k = 0; extra.v && k < shown; k++) {
        free(extra.v[k].external_id);
    }
    free(extra.v);
    free(ids);
    json_t *j =
        json_pack("{s:s, s:I, s:o}", "type", "FeatureCollection", "matched",
                  (json_int_t)h.matched, "features", features);
    if (h.n > shown) {
        char next[48];
        snprintf(next, sizeof next, "%lld_%lld",
                 (long long)h.v[shown - 1].reported_at,
                 (long long)h.v[shown - 1].id);
        json_object_set_new(j, "next", json_string(next));
    }
    free(h.v);
    ht_index_unref(ix);
    return send_json(c, rq, j, "no-cache");
}

/* ---- live events (Server-Sent Events) ---- */

/* Give every suspended listener its turn again. Call with emu held. */
static void wake_listeners(ht_server *s) {
    for (sse_sub *u = s->subs; u; u = u->link) {
        if (u->suspended) {
            u->suspended = false;
            MHD_resume_connection(u->conn);
        }
    }
}

/* One event of the ring: an incident as the writer now holds it. Call
 * with emu held. */
static ht_status announce_row(const ht_incident_row *r, void *ud,
                              ht_error *err) {
    (void)err;
    ht_server *s = ud;
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
    char *data = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    char *ev = NULL;
    size_t len = data ? strlen(data) + 64 : 0;
    if (data && (ev = malloc(len))) {
        snprintf(ev, len, "id: %lu\nevent: incident\ndata: %s\n\n",
                 s->event_seq + 1, data);
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
static void announce(ht_server *s, const int64_t *ids, size_t n) {
    pthread_mutex_lock(&s->emu);
    /* At most a ring's worth: listeners that fall behind refetch. */
    size_t first = n > EVENT_RING ? n - EVENT_RING : 0;
    ht_store_each_incident(s->writer, ids + first, n - first, announce_row, s,
                           NULL);
    wake_listeners(s);
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
            !in_scope(s, s->event_grid[u->next % EVENT_RING], u->scope)) {
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

/* Every BEAT_SECONDS, a comment to each listener. */
/* Every second, cut connections that are too slow to send a request;
 * every BEAT_SECONDS, a comment to each listener. */
static void *beat_main(void *arg) {
    ht_server *s = arg;
    long long next_beat = now_ms() + BEAT_SECONDS * 1000;
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
        reap_slow(s);
        pthread_mutex_lock(&s->emu);
        if (now_ms() >= next_beat) {
            next_beat = now_ms() + BEAT_SECONDS * 1000;
            for (sse_sub *u = s->subs; u; u = u->link) {
                u->beat = true;
            }
            wake_listeners(s);
        }
    }
    pthread_mutex_unlock(&s->emu);
    return NULL;
}

/* GET /api/events: new and changed incidents as they are committed. */
static enum MHD_Result route_events(ht_server *s, struct MHD_Connection *c,
                                    request *rq) {
    query q;
    if (!parse_query(c, "", &q)) {
        return send_error(c, rq, MHD_HTTP_BAD_REQUEST, q.bad);
    }
    sse_sub *u = calloc(1, sizeof *u);
    if (!u) {
        return MHD_NO;
    }
    u->conn = c;
    u->server = s;
    snprintf(u->scope, sizeof u->scope, "%s", rq->scope);
    client_addr(c, u->addr, sizeof u->addr);
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
        return send_error(c, rq, MHD_HTTP_SERVICE_UNAVAILABLE, msg);
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

/* ---- writes ---- */

/* The token of the request, checked: NULL with the response queued when
 * it may not write. */
static bool may_write(ht_server *s, struct MHD_Connection *c, request *rq,
                      ht_token_info *who, enum MHD_Result *answer) {
    if (!s->tokens) {
        *answer = send_error(c, rq, MHD_HTTP_FORBIDDEN,
                             "writes are off: start the server with --tokens");
        return false;
    }
    const char *auth =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!auth || strncmp(auth, "Bearer ", 7) != 0 ||
        !ht_tokens_check(s->tokens, auth + 7, who)) {
        *answer = send_error(c, rq, MHD_HTTP_UNAUTHORIZED,
                             "a bearer token is needed (Authorization: "
                             "Bearer ...)");
        return false;
    }
    if (!who->write) {
        *answer = send_error(c, rq, MHD_HTTP_FORBIDDEN,
                             "this token may read, not write");
        return false;
    }
    return true;
}

/* After a commit: a new snapshot with the incidents @ids as the store now
 * holds them, for everyone from the next request on. Call with wmu held. */
static void publish(ht_server *s, const int64_t *ids, size_t n) {
    ht_index *old = index_ref(s), *nx = NULL;
    ht_error ierr = {0};
    if (ht_index_apply(old, s->writer, ids, n, &nx, &ierr) != HT_OK) {
        ht_log(HT_LOG_WARN, "server", "index update: %s; reloading", ierr.msg);
        nx = NULL;
        ht_index_load(s->writer, &nx, &ierr);
    }
    int64_t *copy = nx ? malloc((n ? n : 1) * sizeof *copy) : NULL;
    if (copy) {
        memcpy(copy, ids, n * sizeof *copy);
    }
    if (nx) {
        /* Snapshot, version and its changes together: a worker catching
         * up sees all three or none. No change list (out of memory): the
         * log has a gap, and workers start their aggregates again. */
        pthread_mutex_lock(&s->imu);
        ht_index *prev = s->index;
        s->index = nx;
        unsigned long v = atomic_load(&s->version) + 1;
        struct change *ch = &s->changes[v % CHANGE_LOG];
        free(ch->ids);
        *ch = (struct change){copy ? v : 0, copy, copy ? n : 0};
        atomic_store(&s->version, v);
        pthread_mutex_unlock(&s->imu);
        ht_index_unref(prev);
        /* Then the neighbourhoods of the changes, where they were and
         * where they are: the tiles within reach get new keys. */
        for (size_t k = 0; k < n; k++) {
            double x, y;
            if (ht_index_find(old, NULL, ids[k], &x, &y, NULL)) {
                mark_cell(s, x, y, v);
            }
            if (ht_index_find(nx, NULL, ids[k], &x, &y, NULL)) {
                mark_cell(s, x, y, v);
            }
        }
    } else {
        free(copy);
    }
    ht_index_unref(old);
}

/* POST /api/incidents?crs=: GeoJSON or CSV, all or nothing, durable
 * before the answer. */
static enum MHD_Result route_post_incidents(ht_server *s,
                                            struct MHD_Connection *c,
                                            request *rq) {
    const ht_token_info who = rq->who; /* checked by begin_write */
    if (rq->body_large) {
        return send_error(c, rq, MHD_HTTP_CONTENT_TOO_LARGE,
                          "body over 1 MiB: send it in parts, or use "
                          "hutong import");
    }
    if (!rq->body || rq->body->len == 0) {
        return send_error(c, rq, MHD_HTTP_BAD_REQUEST, "empty body");
    }
    const char *crs =
        MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "crs");
    char cname[HT_CRS_NAME_SIZE];
    ht_error err = {0};
    if (crs && ht_crs_normalize(crs, cname, &err) != HT_OK) {
        return send_error(c, rq, MHD_HTTP_BAD_REQUEST, err.msg);
    }
    /* The Content-Type names the format; without one the importer sniffs
     * it. Messages name the input "body". */
    const char *type =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    const char *format = !type                               ? NULL
                         : strncmp(type, "text/csv", 8) == 0 ? "csv"
                         : strstr(type, "json")              ? "geojson"
                                                             : NULL;
    /* The API's rules: a scoped token writes inside its area only (where
     * an incident is stored and where the row puts it), and an update
     * moves the life cycle forward only, as PATCH does. */
    ht_import_opts io = {
        .kind = HT_IMPORT_INCIDENTS,
        .crs = crs ? cname : NULL,
        .in_transaction = true,
        .lifecycle = true,
        .scope = strcmp(who.scope, "*") != 0 ? who.scope : NULL};
    ht_import_stats stats = {0};
    int64_t *ids = NULL;
    size_t nids = 0;
    pthread_mutex_lock(&s->wmu);
    ht_status st = ht_store_begin(s->writer, &err);
    ht_store_track_changes(s->writer, true);
    if (st == HT_OK) {
        st = ht_import_mem(s->writer, "body", (const char *)rq->body->data,
                           rq->body->len, format, &io, &stats, &err);
    }
    if (st == HT_OK) {
        const int64_t *changed = ht_store_changes(s->writer, &nids);
        ids = malloc((nids ? nids : 1) * sizeof *ids);
        if (ids) {
            memcpy(ids, changed, nids * sizeof *ids);
        } else {
            st = ht_error_set(&err, HT_ENOMEM, "out of memory");
        }
    }
    ht_store_track_changes(s->writer, false);
    if (st == HT_OK) {
        st = ht_store_commit(s->writer, &err); /* synchronous = FULL */
    } else {
        ht_store_rollback(s->writer);
    }
    if (st == HT_OK && nids) {
        publish(s, ids, nids);
        announce(s, ids, nids);
    }
    pthread_mutex_unlock(&s->wmu);
    if (st != HT_OK) {
        free(ids);
        return send_failure(c, rq, st, err.msg);
    }
    json_t *arr = json_array();
    for (size_t k = 0; k < nids; k++) {
        json_array_append_new(arr, json_integer(ids[k]));
    }
    free(ids);
    json_t *j = json_pack(
        "{s:I, s:I, s:I, s:I, s:o}", "rows", (json_int_t)stats.rows, "inserted",
        (json_int_t)stats.inserted, "updated", (json_int_t)stats.updated,
        "unchanged", (json_int_t)stats.unchanged, "ids", arr);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!text) {
        return MHD_NO;
    }
    return send_buf(c, rq, stats.inserted ? MHD_HTTP_CREATED : MHD_HTTP_OK,
                    "application/json", text, strlen(text), NULL, NULL);
}

/* PATCH /api/incidents/{id}: {"status": S, "at": ISO (default now),
 * "department": D}: a step forward in the life cycle, logged. */
static enum MHD_Result route_patch_incident(ht_server *s,
                                            struct MHD_Connection *c,
                                            request *rq, const char *idtext) {
    const ht_token_info who = rq->who; /* checked by begin_write */
    char *end;
    long long id = strtoll(idtext, &end, 10);
    if (!*idtext || *end || id <= 0) {
        return send_error(c, rq, MHD_HTTP_NOT_FOUND, "no such incident");
    }
    json_error_t je;
    json_t *j =
        rq->body && !rq->body_large
            ? json_loadb((const char *)rq->body->data, rq->body->len, 0, &je)
            : NULL;
    const char *status = json_string_value(json_object_get(j, "status"));
    const char *at_text = json_string_value(json_object_get(j, "at"));
    const char *dept = json_string_value(json_object_get(j, "department"));
    ht_state to;
    int64_t now = (int64_t)time(NULL), at = now;
    ht_error err = {0};
    char bad[300] = "";
    if (!json_is_object(j)) {
        snprintf(bad, sizeof bad,
                 "body: a JSON object {\"status\", \"at\", \"department\"}");
    } else if (!status || ht_model_state_parse(status, &to, &err) != HT_OK) {
        snprintf(bad, sizeof bad,
                 "status: dispatched, handling, closed or evaluated");
    } else if (at_text && ht_datetime_parse(at_text, 0, &at, &err) != HT_OK) {
        snprintf(bad, sizeof bad, "at: %s", err.msg);
    } else if (at > now + 300) {
        snprintf(bad, sizeof bad, "at: in the future");
    } else if (dept && (strlen(dept) == 0 || strlen(dept) > 64)) {
        snprintf(bad, sizeof bad, "department: 1..64 bytes");
    }
    if (bad[0]) {
        json_decref(j);
        return send_error(c, rq, MHD_HTTP_BAD_REQUEST, bad);
    }
    pthread_mutex_lock(&s->wmu);
    ht_status st = ht_store_begin(s->writer, &err);
    ht_incident_head old = {.state = HT_STATE_REPORTED};
    bool found = false, in = true;
    if (st == HT_OK) {
        st = ht_store_get_incident(s->writer, id, &found, &old, &err);
    }
    if (st == HT_OK && found && strcmp(who.scope, "*") != 0) {
        st = ht_store_grid_within(s->writer, old.grid_code, who.scope, &in,
                                  &err);
    }
    if (st != HT_OK) {
        /* a failure of the store: reported as such below */
    } else if (!found) {
        st = ht_error_set(&err, HT_ENOTFOUND, "no such incident");
    } else if (!in) {
        st = ht_error_set(&err, HT_EAUTH,
                          "this incident lies outside the token's area");
    } else if (to <= old.state) {
        st = ht_error_set(&err, HT_ECONFLICT,
                          "status: the incident is %s; it cannot go to %s",
                          ht_model_state_name(old.state),
                          ht_model_state_name(to));
    } else if (at < old.reported_at) {
        st = ht_error_set(&err, HT_EINVAL, "at: before the report");
    } else if (at < old.last_at) {
        char last[32];
        ht_datetime_format(old.last_at, last, sizeof last);
        st = ht_error_set(&err, HT_EINVAL,
                          "at: before the incident's latest step (%s)", last);
    }
    if (st == HT_OK) {
        st = ht_store_step_incident(s->writer, id, to, at, dept, &err);
    }
    if (st == HT_OK) {
        st = ht_store_commit(s->writer, &err);
    } else {
        ht_store_rollback(s->writer);
    }
    if (st == HT_OK) {
        int64_t one = id;
        publish(s, &one, 1);
        announce(s, &one, 1);
    }
    pthread_mutex_unlock(&s->wmu);
    json_decref(j);
    if (st != HT_OK) {
        return send_failure(c, rq, st, err.msg);
    }
    ht_state from = old.state;
    char when[32];
    ht_datetime_format(at, when, sizeof when);
    json_t *r = json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)id, "from",
                          ht_model_state_name(from), "status",
                          ht_model_state_name(to), "at", when);
    return send_json(c, rq, r, NULL);
}

/* Cut "/prefix" + name + suffix: the name, or false. */
static bool cut(const char *url, const char *prefix, const char *suffix,
                char *name, size_t size) {
    size_t lp = strlen(prefix), ls = strlen(suffix), lu = strlen(url);
    if (lu <= lp + ls || strncmp(url, prefix, lp) != 0 ||
        strcmp(url + lu - ls, suffix) != 0 || lu - lp - ls >= size) {
        return false;
    }
    memcpy(name, url + lp, lu - lp - ls);
    name[lu - lp - ls] = '\0';
    return !strchr(name, '/');
}

/* OPTIONS: the CORS preflight a browser sends before a request with a
 * token header or a body from a dashboard on another origin. */
static enum MHD_Result send_preflight(struct MHD_Connection *c, request *rq) {
    struct MHD_Response *r =
        MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (!r) {
        return MHD_NO;
    }
    MHD_add_response_header(r, "Access-Control-Allow-Origin", "*");
    MHD_add_response_header(r, "Access-Control-Allow-Methods",
                            "GET, HEAD, POST, PATCH, OPTIONS");
    MHD_add_response_header(r, "Access-Control-Allow-Headers",
                            "Authorization, Content-Type, If-None-Match");
    MHD_add_response_header(r, "Access-Control-Max-Age", "86400");
    enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_NO_CONTENT, r);
    MHD_destroy_response(r);
    rq->status = MHD_HTTP_NO_CONTENT;
    return ok;
}

/* The first call of a POST or PATCH: its route, the writer's token and
 * the size it announces are checked before any of the body is read. A
 * write let through (MHD_YES) has its body kept; any other is answered at
 * once, and MHD then closes the connection without reading the body. */
static enum MHD_Result begin_write(ht_server *s, struct MHD_Connection *c,
                                   request *rq, const char *url,
                                   const char *method) {
    char idtext[32];
    bool routed = strcmp(method, "POST") == 0
                      ? strcmp(url, "/api/incidents") == 0
                      : cut(url, "/api/incidents/", "", idtext, sizeof idtext);
    if (!routed) {
        return route_of(url) == R_OTHER
                   ? send_error(c, rq, MHD_HTTP_NOT_FOUND, "not found")
                   : send_error(c, rq, MHD_HTTP_METHOD_NOT_ALLOWED,
                                "only GET, HEAD and OPTIONS here");
    }
    enum MHD_Result answer;
    if (!may_write(s, c, rq, &rq->who, &answer)) {
        return answer;
    }
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > MAX_BODY) {
        return send_error(c, rq, MHD_HTTP_CONTENT_TOO_LARGE,
                          "body over 1 MiB: send it in parts, or use "
                          "hutong import");
    }
    rq->writing = true;
    return MHD_YES;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c,
                              const char *url, const char *method,
                              const char *version, const char *upload,
                              size_t *upload_size, void **req_cls) {
    (void)version;
    (void)upload;
    ht_server *s = cls;
    request *rq = *req_cls;
    if (!rq) {
        return MHD_NO; /* the URI callback ran out of memory */
    }
    if (!rq->seen) {
        rq->seen = true;
        snprintf(rq->method, sizeof rq->method, "%s", method);
        /* A write is authorised, routed and sized before its body is
         * read: whoever may not write gets an answer at once and sends no
         * body to a buffer. */
        if (strcmp(method, "POST") == 0 || strcmp(method, "PATCH") == 0) {
            return begin_write(s, c, rq, url, method);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        /* Bodies are kept for the writes let through, up to MAX_BODY. */
        if (!rq->body_large && rq->writing) {
            if (!rq->body) {
                rq->body = ht_buf_new();
            }
            if (!rq->body || rq->body->len + *upload_size > MAX_BODY ||
                ht_buf_append(rq->body, upload, *upload_size, NULL) != HT_OK) {
                rq->body_large = true;
                ht_buf_free(rq->body);
                rq->body = NULL;
            }
        }
        *upload_size = 0;
        return MHD_YES;
    }
    /* The whole request is in: its connection owes nothing now. */
    conn_slot *slot = slot_of(c);
    if (slot) {
        atomic_store(&slot->waiting, false);
    }
    /* A Host that is not host[:port] is refused (RFC 9112, 3.2): it
     * would otherwise reach the URLs the server writes. */
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    if (host && host_port_len(host) != strlen(host)) {
        return send_error(c, rq, MHD_HTTP_BAD_REQUEST,
                          "Host: not a host name or address with an "
                          "optional port");
    }
    if (strcmp(method, "OPTIONS") == 0) {
        return send_preflight(c, rq);
    }
    if (strcmp(method, "POST") == 0 && strcmp(url, "/api/incidents") == 0) {
        return route_post_incidents(s, c, rq);
    }
    char idtext[32];
    if (strcmp(method, "PATCH") == 0 &&
        cut(url, "/api/incidents/", "", idtext, sizeof idtext)) {
        return route_patch_incident(s, c, rq, idtext);
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        return send_error(c, rq, MHD_HTTP_METHOD_NOT_ALLOWED,
                          "only GET, HEAD and OPTIONS here");
    }
    /* Public: the pages (they pass their own ?token= on), Leaflet, the
     * code table, health and metrics. */
    if (strcmp(url, "/") == 0) {
        return send_page(c, rq, ht_web_viewer_html, ht_web_viewer_html_len);
    }
    if (strcmp(url, "/wall") == 0) {
        return send_page(c, rq, ht_web_wall_html, ht_web_wall_html_len);
    }
    if (strncmp(url, "/static/leaflet/", 16) == 0) {
        return route_leaflet(c, rq, url + 16);
    }
    if (strcmp(url, "/api") == 0) {
        return route_root(s, c, rq);
    }
    if (strcmp(url, "/api/categories") == 0) {
        return route_categories(s, c, rq);
    }
    if (strcmp(url, "/metrics") == 0) {
        return route_metrics(s, c, rq);
    }
    if (strcmp(url, "/healthz") == 0) {
        return route_health(s, c, rq);
    }
    enum MHD_Result answer;
    if (!reader_scope(s, c, rq, &answer)) {
        return answer;
    }
    char name[80];
    if (strncmp(url, "/tiles/", 7) == 0 && !strchr(url + 7, '.')) {
        return send_error(c, rq, MHD_HTTP_NOT_FOUND, "no such tile");
    }
    if (cut(url, "/tiles/", ".json", name, sizeof name)) {
        return route_tilejson(s, c, rq, name);
    }
    if (strncmp(url, "/tiles/", 7) == 0) {
        return route_tile(s, c, rq, url + 7);
    }
    if (cut(url, "/legend/", ".png", name, sizeof name)) {
        return route_legend(s, c, rq, name);
    }
    if (strcmp(url, "/map.png") == 0 || strcmp(url, "/map.pdf") == 0) {
        return route_map(s, c, rq, url[5] == 'p' && url[6] == 'd');
    }
    if (strcmp(url, "/wms") == 0) {
        return route_wms(s, c, rq);
    }
    if (strcmp(url, "/api/incidents") == 0) {
        return route_incidents(s, c, rq);
    }
    if (strcmp(url, "/api/events") == 0) {
        return route_events(s, c, rq);
    }
    if (strcmp(url, "/api/stats") == 0) {
        return route_stats(s, c, rq);
    }
    if (strcmp(url, "/api/topics") == 0) {
        return route_topics(s, c, rq);
    }
    if (strcmp(url, "/api/grids") == 0) {
        return route_grids(s, c, rq);
    }
    if (cut(url, "/api/grids/", "", name, sizeof name)) {
        return route_grid(s, c, rq, name);
    }
    return send_error(c, rq, MHD_HTTP_NOT_FOUND, "not found");
}

static void completed(void *cls, struct MHD_Connection *c, void **req_cls,
                      enum MHD_RequestTerminationCode toe) {
    ht_server *s = cls;
    request *rq = *req_cls;
    (void)toe;
    /* Kept alive, the connection waits for its next request. */
    conn_slot *slot = slot_of(c);
    if (slot) {
        atomic_store(&slot->ready_ms, now_ms());
        atomic_store(&slot->waiting, true);
    }
    if (!rq) {
        return;
    }
    if (rq->seen) {
        count_request(s, rq);
    }
    if (s->log) {
        char addr[64];
        client_addr(c, addr, sizeof addr);
        fprintf(s->log, "%s %s %s %u %zu %.1fms\n", addr, rq->method, rq->uri,
                rq->status, rq->bytes, since_ms(&rq->t0));
        fflush(s->log);
    }
    ht_buf_free(rq->body);
    free(rq);
    *req_cls = NULL;
}

/* Whether the query key at @k (@n bytes, percent-encoded as sent) decodes
 * to "token", the way MHD decodes it for the handlers ("%74oken",
 * "tok%65n" ...). */
static bool key_is_token(const char *k, size_t n) {
    static const char want[] = "token";
    size_t w = 0;
    for (size_t i = 0; i < n; i++, w++) {
        unsigned ch = (unsigned char)k[i];
        int hi = ch == '%' && i + 2 < n ? ht_hex_digit(k[i + 1]) : -1;
        int lo = hi >= 0 ? ht_hex_digit(k[i + 2]) : -1;
        if (lo >= 0) {
            ch = (unsigned)(hi * 16 + lo);
            i += 2;
        } else if (ch == '+') {
            ch = ' ';
        }
        if (w >= sizeof want - 1 || ch != (unsigned char)want[w]) {
            return false;
        }
    }
    return w == sizeof want - 1;
}

/* Tokens never reach the log: the value of every query parameter whose
 * decoded name is "token" becomes "-" in @uri (in place). */
static void redact_tokens(char *uri) {
    char *p = strchr(uri, '?');
    while (p) {
        char *key = p + 1;
        size_t len = strcspn(key, "&");
        size_t klen = strcspn(key, "=&");
        char *next = key[len] == '&' ? key + len : NULL;
        if (key[klen] == '=' && key_is_token(key, klen)) {
            char *val = key + klen + 1;
            size_t rest = strlen(key + len);
            memmove(val + 1, key + len, rest + 1);
            val[0] = '-';
            next = val[1] == '&' ? val + 1 : NULL;
        }
        p = next;
    }
}

/* A request starts: its clock and its URI (with the query, as sent) for
 * the access log. The result becomes the request's state. */
static void *uri_logger(void *cls, const char *uri, struct MHD_Connection *c) {
    (void)cls;
    (void)c;
    request *rq = calloc(1, sizeof *rq);
    if (rq) {
        clock_gettime(CLOCK_MONOTONIC, &rq->t0);
        /* Control characters never reach the log. */
        size_t n = 0;
        for (const char *p = uri; *p && n + 1 < sizeof rq->uri; p++) {
            rq->uri[n++] = (unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p;
        }
        rq->uri[n] = '\0';
        redact_tokens(rq->uri);
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

ht_status ht_server_start(const ht_server_opts *o, ht_server **out,
                          ht_error *err) {
    *out = NULL;
    if (!o->db) {
        return ht_error_set(err, HT_EINVAL, "serve: no database");
    }
    ht_server *s = calloc(1, sizeof *s);
    if (!s || !(s->db = strdup(o->db)) ||
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
    ht_status st = ht_store_open(o->db, HT_STORE_READONLY, &s->store, err);
    if (st == HT_OK) {
        st = ht_features_load(s->store, &s->feat, err);
    }
    if (st == HT_OK) {
        st = ht_index_load(s->store, &s->index, err);
    }
    if (st == HT_OK && o->private_reads && !o->tokens) {
        st = ht_error_set(err, HT_EINVAL,
                          "serve: --private needs --tokens (who may read)");
    }
    s->private_reads = o->private_reads;
    if (st == HT_OK && o->tokens) {
        st = ht_tokens_load(o->tokens, &s->tokens, err);
        if (st == HT_OK) {
            st = ht_store_open(o->db, HT_STORE_WRITE, &s->writer, err);
        }
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
        if (!cells_init(s)) {
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
            0, NULL, NULL, handle, s, MHD_OPTION_SOCK_ADDR, &sa,
            MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_TIMEOUT,
            30u, MHD_OPTION_CONNECTION_LIMIT, s->max_conns,
            MHD_OPTION_PER_IP_CONNECTION_LIMIT, s->max_conns_ip,
            MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
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
    s->beat_started = pthread_create(&s->beat_thread, NULL, beat_main, s) == 0;
    *out = s;
    return HT_OK;
}

uint16_t ht_server_port(const ht_server *s) {
    return s->port;
}

void ht_server_stop(ht_server *s) {
    if (!s) {
        return;
    }
    /* Listeners end their streams first: MHD must not stop with
     * connections suspended. */
    pthread_mutex_lock(&s->emu);
    s->closing = true;
    wake_listeners(s);
    pthread_cond_broadcast(&s->beat_cv);
    pthread_mutex_unlock(&s->emu);
    if (s->beat_started) {
        pthread_join(s->beat_thread, NULL);
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
    for (int k = 0; k < EVENT_RING; k++) {
        free(s->events[k]);
    }
    for (worker *w = s->workers; w;) {
        worker *next = w->next;
        ht_renderer_free(w->rend);
        ht_store_close(w->store);
        for (int k = 0; k < 8; k++) {
            ht_crs_transform_free(w->to_wgs84[k]);
        }
        free(w);
        w = next;
    }
    for (int k = 0; k < s->nstyles; k++) {
        ht_style_unref(s->styles[k].style);
    }
    ht_cache_free(s->cache);
    free(s->cells);
    for (int k = 0; k < CHANGE_LOG; k++) {
        free(s->changes[k].ids);
    }
    ht_store_close(s->writer);
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
    free(s->db);
    free(s->host);
    free(s->public_url);
    free(s);
}
