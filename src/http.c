/* SPDX-License-Identifier: Apache-2.0 */
/* HTTP: requests, responses (gzip, ETag, CORS, the one mapping from
 * ht_status to an HTTP status), query parsing, URLs, and the guard that
 * cuts connections too slow to send a request. */
#include <arpa/inet.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <zlib.h>

#include "hutong/clock.h"
#include "hutong/log.h"
#include "hutong/png.h"

#include "server_int.h"

double ht__http_since_ms(const struct timespec *t0) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) * 1e3 +
           (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Whether @t (may be NULL) is valid UTF-8: what JSON and XML can carry. */
bool ht__http_text_ok(const char *t) {
    return !t || ht_utf8_valid_prefix(t, strlen(t)) == strlen(t);
}

/* The length of a host[:port] at the start of @p (a DNS name or IPv4
 * address of [A-Za-z0-9.-], or an IPv6 literal in brackets, and a port of
 * 1-5 digits), or 0 when there is none. */
size_t ht__http_host_port_len(const char *p) {
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
    size_t n = p ? ht__http_host_port_len(p) : 0;
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

long long ht__http_now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* The client's address as text ("-" when unknown). */
void ht__http_client_addr(struct MHD_Connection *c, char *out, size_t size) {
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

conn_slot *ht__http_slot_of(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* A connection opens and closes: its slot in the list the reaper walks.
 * MHD reports the close before it closes the socket, so the reaper, under
 * cmu, never touches a descriptor that is gone. */
void ht__http_on_connection(void *cls, struct MHD_Connection *c,
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
        atomic_store(&k->ready_ms, ht__http_now_ms());
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
void ht__http_reap_slow(ht_server *s) {
    long long limit =
        ht__http_now_ms() - (long long)s->request_timeout_s * 1000;
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

/* Text worth compressing: JSON, GeoJSON, HTML, XML, CSV, plain text. */
static bool compressible(const char *type) {
    return strncmp(type, "application/json", 16) == 0 ||
           strncmp(type, "application/geo+json", 20) == 0 ||
           strncmp(type, "application/schema+json", 23) == 0 ||
           strncmp(type, "application/vnd.oai.openapi+json", 32) == 0 ||
           strncmp(type, "application/xml", 15) == 0 ||
           strncmp(type, "application/vnd.ogc.gml", 23) == 0 ||
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

enum MHD_Result ht__http_send_buf(struct MHD_Connection *c, request *rq,
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
        char vary[128];
        snprintf(vary, sizeof vary, "%s%s%s", text ? "Accept-Encoding" : "",
                 text && rq->vary_host ? ", " : "",
                 !rq->vary_host   ? ""
                 : rq->vary_proxy ? "Host, X-Forwarded-Proto, "
                                    "X-Forwarded-Host, X-Forwarded-Prefix"
                                  : "Host");
        MHD_add_response_header(r, "Vary", vary);
    }
    if (gz) {
        MHD_add_response_header(r, "Content-Encoding", "gzip");
    }
    if (etag) {
        MHD_add_response_header(r, "ETag", etag);
    }
    if (rq->content_crs) {
        MHD_add_response_header(r, "Content-Crs", rq->content_crs);
    }
    MHD_add_response_header(r, "Cache-Control",
                            cache_control ? cache_control : "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED && rq->allow[0]) {
        MHD_add_response_header(r, "Allow", rq->allow);
    }
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

enum MHD_Result ht__http_send_pipe(struct MHD_Connection *c, request *rq,
                                   const char *type, int fd,
                                   const char *disposition) {
    struct MHD_Response *r = MHD_create_response_from_pipe(fd);
    if (!r) {
        close(fd);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Access-Control-Allow-Origin", "*");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (disposition) {
        MHD_add_response_header(r, "Content-Disposition", disposition);
    }
    enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    rq->status = MHD_HTTP_OK;
    return ok;
}

/* The bytes of @b as a 200 response; @b is consumed. */
enum MHD_Result ht__http_send_ht_buf(struct MHD_Connection *c, request *rq,
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
    return ht__http_send_buf(c, rq, MHD_HTTP_OK, type, data, len, etag,
                             cache_control);
}

enum MHD_Result ht__http_send_error(struct MHD_Connection *c, request *rq,
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
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
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
    return ht__http_send_buf(c, rq, status, "application/json", body, n + 1,
                             NULL, NULL);
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
enum MHD_Result ht__http_send_failure(struct MHD_Connection *c, request *rq,
                                      ht_status st, const char *msg) {
    unsigned status = http_status_of(st);
    if (status < 500) {
        return ht__http_send_error(c, rq, status, msg);
    }
    ht_log(HT_LOG_ERROR, "server", "%s %s: %s", rq->method, rq->uri, msg);
    if (status == MHD_HTTP_SERVICE_UNAVAILABLE) {
        rq->retry_after = 1;
        return ht__http_send_error(
            c, rq, status, "the database is busy: try again in a moment");
    }
    return ht__http_send_error(
        c, rq, status,
        "internal error: the server could not complete the "
        "request (logged)");
}

enum MHD_Result ht__http_send_json(struct MHD_Connection *c, request *rq,
                                   json_t *j, const char *cache_control) {
    char *s = json_dumps(
        j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    json_decref(j);
    if (!s) {
        return ht__http_send_failure(c, rq, HT_ENOMEM, "out of memory");
    }
    return ht__http_send_buf(c, rq, MHD_HTTP_OK, "application/json", s,
                             strlen(s), NULL, cache_control);
}

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
    " from to window category severity status source grid department "
    "overdue satisfaction ";

/* A non-filter parameter of the query, or NULL. */
const char *ht__http_qget(const query *q, const char *key) {
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
    if (!ht__http_text_ok(key) || !ht__http_text_ok(value)) {
        snprintf(q->bad, sizeof q->bad, "%s: not UTF-8 text",
                 ht__http_text_ok(key) ? key : "a parameter name");
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
        if (q->nextra == (int)(sizeof q->extra / sizeof *q->extra) ||
            strlen(value) >= sizeof q->extra[0].value) {
            snprintf(q->bad, sizeof q->bad, "%s: too long", key);
            return MHD_NO;
        }
        snprintf(q->extra[q->nextra].key, sizeof q->extra[0].key, "%s", key);
        snprintf(q->extra[q->nextra++].value, sizeof q->extra[0].value, "%s",
                 value);
        return MHD_YES;
    }
    ht_error err = {0};
    if (ht_filter_set(&q->filter, key, value, q->now, &err) != HT_OK) {
        snprintf(q->bad, sizeof q->bad, "%s", err.msg);
        return MHD_NO;
    }
    return MHD_YES;
}

void ht__http_query_begin(query *q, const char *extra, int64_t now) {
    memset(q, 0, sizeof *q);
    q->filter = ht_filter_all();
    q->scale = 1;
    q->now = now;
    snprintf(q->allowed, sizeof q->allowed, "%s%s ", filter_keys, extra);
}

bool ht__http_query_arg(query *q, const char *key, const char *value) {
    return on_arg(q, MHD_GET_ARGUMENT_KIND, key, value) == MHD_YES;
}

bool ht__http_query_end(query *q) {
    const char *scale = ht__http_qget(q, "scale");
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

bool ht__http_parse_query(struct MHD_Connection *c, const char *extra,
                          query *q) {
    ht__http_query_begin(q, extra, ht_clock_now());
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, on_arg, q);
    return ht__http_query_end(q);
}

bool ht__http_count_param(const query *q, const char *key, long lo, long hi,
                          long *out, char *bad, size_t size) {
    const char *v = ht__http_qget(q, key);
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

/* The absolute URL of the service: --public-url, else "http://" and the
 * request's Host (checked by handle: host[:port] only), and then the
 * answer varies with Host. */
/* The first of the values of header @name (a proxy's own first, as
 * "a, b" lists them), trimmed, into @out; false when none or too long. */
static bool first_value(struct MHD_Connection *c, const char *name, char *out,
                        size_t size) {
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
    if (!v) {
        return false;
    }
    v += strspn(v, " \t");
    size_t n = strcspn(v, ",");
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t')) {
        n--;
    }
    if (n == 0 || n >= size) {
        return false;
    }
    memcpy(out, v, n);
    out[n] = '\0';
    return true;
}

/* The base URL a proxy in front tells (X-Forwarded-Proto, -Host, -Prefix;
 * the Host for a missing host), checked as --public-url is; false when
 * the request has none of them or they do not make a safe URL. */
static bool forwarded_base(struct MHD_Connection *c, char *out, size_t size) {
    char proto[16] = "http", host[256] = "", prefix[256] = "";
    bool p = first_value(c, "X-Forwarded-Proto", proto, sizeof proto);
    bool h = first_value(c, "X-Forwarded-Host", host, sizeof host);
    bool x = first_value(c, "X-Forwarded-Prefix", prefix, sizeof prefix);
    if (!p && !h && !x) {
        return false;
    }
    if ((strcasecmp(proto, "http") != 0 && strcasecmp(proto, "https") != 0) ||
        (x && prefix[0] != '/') ||
        (!h && !first_value(c, "Host", host, sizeof host))) {
        return false;
    }
    size_t n = strlen(prefix);
    while (n > 0 && prefix[n - 1] == '/') {
        prefix[--n] = '\0';
    }
    char url[600];
    snprintf(url, sizeof url, "%s://%s%s",
             strcasecmp(proto, "https") == 0 ? "https" : "http", host, prefix);
    if (!ht_server_public_url_ok(url) || strlen(url) >= size) {
        return false;
    }
    snprintf(out, size, "%s", url);
    return true;
}

void ht__http_base_url(ht_server *s, struct MHD_Connection *c, request *rq,
                       char *out, size_t size) {
    if (s->public_url) {
        snprintf(out, size, "%s", s->public_url);
        return;
    }
    if (s->trust_proxy) {
        rq->vary_host = rq->vary_proxy = true;
        if (forwarded_base(c, out, size)) {
            return;
        }
    }
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    if (host && *host) {
        snprintf(out, size, "http://%s", host);
    } else {
        snprintf(out, size, "http://%s:%u", s->host, (unsigned)s->port);
    }
    rq->vary_host = true;
}

bool ht__http_etag_matches(struct MHD_Connection *c, const char *etag) {
    const char *inm =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-None-Match");
    return inm && (strstr(inm, etag) || strcmp(inm, "*") == 0);
}

enum MHD_Result ht__http_send_not_modified(struct MHD_Connection *c,
                                           request *rq, const char *etag,
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

/* A JSON text (malloc'd) as a 200 response. */
enum MHD_Result ht__http_send_text_json(struct MHD_Connection *c, request *rq,
                                        char *text) {
    if (!text) {
        return ht__http_send_failure(c, rq, HT_ENOMEM, "out of memory");
    }
    return ht__http_send_buf(c, rq, MHD_HTTP_OK, "application/json", text,
                             strlen(text), NULL, "no-cache");
}

enum MHD_Result ht__http_send_page(struct MHD_Connection *c, request *rq,
                                   const unsigned char *page, size_t len) {
    void *data = malloc(len);
    if (!data) {
        return ht__http_send_failure(c, rq, HT_ENOMEM, "out of memory");
    }
    memcpy(data, page, len);
    return ht__http_send_buf(c, rq, MHD_HTTP_OK, "text/html; charset=utf-8",
                             data, len, NULL, "no-cache");
}

/* OPTIONS: the CORS preflight a browser sends before a request with a
 * token header or a body from a dashboard on another origin. */
enum MHD_Result ht__http_send_preflight(struct MHD_Connection *c, request *rq) {
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
void ht__http_redact_tokens(char *uri) {
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

enum MHD_Result ht__http_send_blank(struct MHD_Connection *c, request *rq,
                                    int w, int h, ht_image_format fmt,
                                    const char *cc) {
    cairo_surface_t *blank =
        cairo_image_surface_create(CAIRO_FORMAT_ARGB32, w, h);
    ht_buf *img = ht_buf_new();
    ht_error err = {0};
    ht_status st = img ? ht_image_encode(blank, fmt, NULL, img, &err)
                       : ht_error_set(&err, HT_ENOMEM, "out of memory");
    cairo_surface_destroy(blank);
    if (st != HT_OK) {
        ht_buf_free(img);
        return ht__http_send_failure(c, rq, st, err.msg);
    }
    return ht__http_send_ht_buf(c, rq, ht_image_format_mime(fmt), img, NULL,
                                cc);
}

/* Tiles of a live window change as time passes: cache them briefly. */
const char *ht__http_cache_control_of(const ht_server *s, const ht_filter *f) {
    /* A window that reaches the present (window=24h ends at this minute)
     * moves and takes in new reports: a minute. With writes on (or on a
     * database others write to), older incidents still change (life-cycle
     * steps): five. Else an hour.
     * The incidents late now change as time passes: a minute. */
    if (f->overdue_at != 0 || f->to == INT64_MAX ||
        f->to >= ht_clock_now() - 120) {
        return "public, max-age=60";
    }
    return s->writer || s->follow ? "public, max-age=300"
                                  : "public, max-age=3600";
}

/* Parse an unsigned decimal of at most 10 digits ending at one of @ends. */
bool ht__http_parse_u32(const char **p, uint32_t *out) {
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
