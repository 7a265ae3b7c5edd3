/* SPDX-License-Identifier: Apache-2.0 */
/* The route table: one row per route drives dispatch, access and the
 * metrics labels; and the small routes (pages, health, metrics). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server_int.h"
#include "web_assets.h"

/* Statuses counted for /metrics (the last column: any other). */
static const unsigned status_codes[NSTATUS - 1] = {
    200, 201, 204, 304, 400, 401, 403, 404, 405, 409, 413, 500, 503};
static const char *const route_names[R_COUNT] = {
    "tiles", "tilejson", "legend", "wms",    "wmts",    "map",
    "api",   "page",     "static", "health", "metrics", "other"};
/* Upper bounds of the tile render time histogram, seconds. */
static const double render_buckets[NBUCKETS] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};

/* Who reads: a token from "Authorization: Bearer" or ?token= sets the
 * request's area when it is scoped. false, with the answer queued, for a
 * token that is not ours, or for none when reads are private. */
bool ht__routes_reader_scope(ht_server *s, struct MHD_Connection *c,
                             request *rq, enum MHD_Result *answer) {
    const char *auth =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    const char *tok =
        auth && strncmp(auth, "Bearer ", 7) == 0
            ? auth + 7
            : MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token");
    rq->scope[0] = '\0';
    if (!tok) {
        if (s->private_reads) {
            *answer =
                ht__http_send_error(c, rq, MHD_HTTP_UNAUTHORIZED,
                                    "this server is private: a token is needed "
                                    "(Authorization: Bearer ... or ?token=)");
            return false;
        }
        return true;
    }
    ht_token_info who;
    if (!ht__server_check_token(s, tok, &who)) {
        *answer = ht__http_send_error(c, rq, MHD_HTTP_UNAUTHORIZED,
                                      "unknown or revoked token");
        return false;
    }
    if (strcmp(who.scope, "*") != 0) {
        snprintf(rq->scope, sizeof rq->scope, "%s", who.scope);
    }
    return true;
}

enum MHD_Result ht__routes_send_outside(struct MHD_Connection *c, request *rq) {
    return ht__http_send_error(c, rq, MHD_HTTP_FORBIDDEN,
                               "outside the area this token may read");
}

const ht_fgrid *ht__routes_area(ht_server *s, struct MHD_Connection *c,
                                request *rq, const char *code,
                                const char *extra, query *q,
                                enum MHD_Result *answer) {
    const ht_fgrid *g = ht_features_find_grid(s->feat, code);
    /* A scoped reader is told the same of a grid outside its area and of
     * one that does not exist: it learns nothing of other areas. */
    if (rq->scope[0] && (!g || !ht__live_in_scope(s, code, rq->scope))) {
        *answer = ht__routes_send_outside(c, rq);
        return NULL;
    }
    if (!g) {
        *answer =
            ht__http_send_error(c, rq, MHD_HTTP_NOT_FOUND, "no such grid");
        return NULL;
    }
    if (!ht__http_parse_query(c, extra, q)) {
        *answer = ht__http_send_error(c, rq, MHD_HTTP_BAD_REQUEST, q->bad);
        return NULL;
    }
    if (q->filter.grid[0]) {
        *answer = ht__http_send_error(c, rq, MHD_HTTP_BAD_REQUEST,
                                      "grid: the path names the grid");
        return NULL;
    }
    return g;
}

/* The token of the request, checked: NULL with the response queued when
 * it may not write. */
static bool may_write(ht_server *s, struct MHD_Connection *c, request *rq,
                      ht_token_info *who, enum MHD_Result *answer) {
    if (!s->writer) {
        *answer = ht__http_send_error(
            c, rq, MHD_HTTP_FORBIDDEN,
            "writes are off: start the server with --tokens");
        return false;
    }
    const char *auth =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!auth || strncmp(auth, "Bearer ", 7) != 0 ||
        !ht__server_check_token(s, auth + 7, who)) {
        *answer =
            ht__http_send_error(c, rq, MHD_HTTP_UNAUTHORIZED,
                                "a bearer token is needed (Authorization: "
                                "Bearer ...)");
        return false;
    }
    if (!who->write) {
        *answer = ht__http_send_error(c, rq, MHD_HTTP_FORBIDDEN,
                                      "this token may read, not write");
        return false;
    }
    return true;
}

/* GET /metrics: Prometheus text format 0.0.4. */
static enum MHD_Result route_metrics(ht_server *s, struct MHD_Connection *c,
                                     request *rq, const char *const *args) {
    (void)args;
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
    size_t nidx = ht__live_index_count(s, &idx_bytes);
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
        atomic_load(&s->listeners_refused),
        ht__http_since_ms(&s->started) / 1e3);
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
    return ht__http_send_ht_buf(c, rq, "text/plain; version=0.0.4", b, NULL,
                                NULL);
}

static enum MHD_Result route_health(ht_server *s, struct MHD_Connection *c,
                                    request *rq, const char *const *args) {
    (void)args;
    ht_cache_stats cs = ht_cache_get_stats(s->cache);
    json_t *j = json_pack(
        "{s:s, s:I, s:I, s:{s:I, s:I, s:I, s:I}}", "status", "ok", "incidents",
        (json_int_t)ht__live_index_count(s, NULL), "grids",
        (json_int_t)ht_features_grid_count(s->feat), "tile_cache", "entries",
        (json_int_t)cs.entries, "bytes", (json_int_t)cs.bytes, "hits",
        (json_int_t)cs.hits, "misses", (json_int_t)cs.misses);
    return ht__http_send_json(c, rq, j, NULL);
}

/* The API root: what is served, with links. */
static enum MHD_Result route_root(ht_server *s, struct MHD_Connection *c,
                                  request *rq, const char *const *args) {
    (void)args;
    char base[300];
    ht__http_base_url(s, c, rq, base, sizeof base);
    char *names[MAX_STYLES];
    size_t n = ht__live_style_names(names, MAX_STYLES);
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
                          (json_int_t)ht__live_index_count(s, NULL), "styles",
                          styles, "tiles", "/tiles/{style}/{z}/{x}/{y}.png",
                          "legend", "/legend/{style}.png");
    return ht__http_send_json(c, rq, j, NULL);
}

json_t *ht__routes_text_or_null(const char *v) {
    return v ? json_string(v) : json_null();
}

static ht_status category_json(const ht_category_rec *rec, void *ud,
                               ht_error *err) {
    (void)err;
    json_array_append_new(
        ud, json_pack("{s:o, s:o, s:o, s:o}", "code",
                      ht__routes_text_or_null(rec->code), "parent_code",
                      ht__routes_text_or_null(rec->parent_code), "name",
                      ht__routes_text_or_null(rec->name), "color",
                      ht__routes_text_or_null(rec->color)));
    return HT_OK;
}

/* GET /api/categories: the code table. */
static enum MHD_Result route_categories(ht_server *s, struct MHD_Connection *c,
                                        request *rq, const char *const *args) {
    (void)args;
    query q;
    if (!ht__http_parse_query(c, "", &q)) {
        return ht__http_send_error(c, rq, MHD_HTTP_BAD_REQUEST, q.bad);
    }
    ht_error err = {0};
    worker *w = ht__live_worker_get(s, &err);
    if (!w) {
        return ht__http_send_failure(c, rq, err.code, err.msg);
    }
    json_t *arr = json_array();
    if (ht_store_each_category(w->store, category_json, arr, &err) != HT_OK) {
        json_decref(arr);
        return ht__http_send_failure(c, rq, err.code, err.msg);
    }
    return ht__http_send_json(c, rq, json_pack("{s:o}", "categories", arr),
                              "public, max-age=300");
}

/* GET /api/departments: the departments incidents were dispatched to,
 * from the index (for filters: department=). */
static enum MHD_Result route_departments(ht_server *s, struct MHD_Connection *c,
                                         request *rq, const char *const *args) {
    (void)args;
    query q;
    if (!ht__http_parse_query(c, "", &q)) {
        return ht__http_send_error(c, rq, MHD_HTTP_BAD_REQUEST, q.bad);
    }
    ht_index *ix = ht__live_index_ref(s);
    json_t *arr = json_array();
    size_t n = 0;
    const char *const *names = ix ? ht_index_departments(ix, &n) : NULL;
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(arr, json_string(names[i]));
    }
    ht_index_unref(ix);
    return ht__http_send_json(c, rq, json_pack("{s:o}", "departments", arr),
                              "no-cache");
}

/* GET /static/leaflet/{file}: Leaflet from Debian's libjs-leaflet. Names
 * are checked against a fixed pattern, never joined blindly. */
static enum MHD_Result route_leaflet(ht_server *s, struct MHD_Connection *c,
                                     request *rq, const char *const *args) {
    (void)s;
    const char *name = args[0];
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
        return ht__http_send_error(c, rq, MHD_HTTP_NOT_FOUND, "not found");
    }
    char path[256];
    snprintf(path, sizeof path, "%s/%s", LEAFLET_DIR, files[k]);
    ht_buf *b = ht_buf_new();
    ht_error err = {0};
    if (!b || ht_buf_read_file(b, path, &err) != HT_OK) {
        ht_buf_free(b);
        return ht__http_send_error(c, rq, MHD_HTTP_NOT_FOUND,
                                   "Leaflet is not installed (Debian package "
                                   "libjs-leaflet)");
    }
    const char *type = strstr(files[k], ".js")    ? "text/javascript"
                       : strstr(files[k], ".css") ? "text/css"
                                                  : "image/png";
    return ht__http_send_ht_buf(c, rq, type, b, NULL, "public, max-age=86400");
}

static enum MHD_Result route_viewer(ht_server *s, struct MHD_Connection *c,
                                    request *rq, const char *const *args) {
    (void)s;
    (void)args;
    return ht__http_send_page(c, rq, ht_web_viewer_html,
                              ht_web_viewer_html_len);
}

static enum MHD_Result route_wall(ht_server *s, struct MHD_Connection *c,
                                  request *rq, const char *const *args) {
    (void)s;
    (void)args;
    return ht__http_send_page(c, rq, ht_web_wall_html, ht_web_wall_html_len);
}

/* ---- the table ---- */

/* Who may call a route: anyone; readers (a token when reads are private,
 * and a scoped token narrows what they see); writers (a write token). */
typedef enum route_access {
    ACCESS_PUBLIC,
    ACCESS_READ,
    ACCESS_WRITE
} route_access;

typedef struct route {
    const char *method; /* "GET" (HEAD too), "POST" or "PATCH" */
    /* "/"-separated segments: a literal, or "{name}" (one segment, with
     * an optional literal prefix and suffix around it), or "{name*}" (the
     * rest of the path); what the braces match is passed as args */
    const char *pattern;
    ht__handler fn;
    int label; /* of /metrics */
    route_access access;
} route;

/* Every route. Pages, Leaflet, the code table, health and metrics stay
 * open when reads are private (the pages pass their own ?token= on). */
static const route routes[] = {
    {"GET", "/", route_viewer, R_PAGE, ACCESS_PUBLIC},
    {"GET", "/wall", route_wall, R_PAGE, ACCESS_PUBLIC},
    {"GET", "/static/leaflet/{file*}", route_leaflet, R_STATIC, ACCESS_PUBLIC},
    {"GET", "/api", route_root, R_API, ACCESS_PUBLIC},
    {"GET", "/api/categories", route_categories, R_API, ACCESS_PUBLIC},
    {"GET", "/api/departments", route_departments, R_API, ACCESS_READ},
    {"GET", "/healthz", route_health, R_HEALTH, ACCESS_PUBLIC},
    {"GET", "/metrics", route_metrics, R_METRICS, ACCESS_PUBLIC},
    {"GET", "/tiles/{style}.json", ht__route_tilejson, R_TILEJSON, ACCESS_READ},
    {"GET", "/tiles/{style}/{z}/{x}/{y}", ht__route_tile, R_TILE, ACCESS_READ},
    {"GET", "/legend/{style}.png", ht__route_legend, R_LEGEND, ACCESS_READ},
    {"GET", "/map.png", ht__route_map_png, R_MAP, ACCESS_READ},
    {"GET", "/map.pdf", ht__route_map_pdf, R_MAP, ACCESS_READ},
    {"GET", "/print/{code}.pdf", ht__route_print, R_MAP, ACCESS_READ},
    {"GET", "/wms", ht__route_wms, R_WMS, ACCESS_READ},
    {"GET", "/wmts", ht__route_wmts, R_WMTS, ACCESS_READ},
    {"GET", "/wmts/1.0.0/{path*}", ht__route_wmts_rest, R_WMTS, ACCESS_READ},
    {"GET", "/api/incidents", ht__route_incidents, R_API, ACCESS_READ},
    {"GET", "/api/incidents.csv", ht__route_incidents_csv, R_API, ACCESS_READ},
    {"POST", "/api/incidents", ht__route_post_incidents, R_API, ACCESS_WRITE},
    {"PATCH", "/api/incidents/{id}", ht__route_patch_incident, R_API,
     ACCESS_WRITE},
    {"GET", "/api/events", ht__route_events, R_API, ACCESS_READ},
    {"GET", "/api/stats", ht__route_stats, R_API, ACCESS_READ},
    {"GET", "/api/topics", ht__route_topics, R_API, ACCESS_READ},
    {"GET", "/api/grids", ht__route_grids, R_API, ACCESS_READ},
    {"GET", "/api/grids/{code}", ht__route_grid, R_API, ACCESS_READ},
    {"GET", "/ogcapi", ht__route_ogc_landing, R_OGCAPI, ACCESS_READ},
    {"GET", "/ogcapi/", ht__route_ogc_landing, R_OGCAPI, ACCESS_READ},
    {"GET", "/ogcapi/api", ht__route_ogc_api, R_OGCAPI, ACCESS_READ},
    {"GET", "/ogcapi/conformance", ht__route_ogc_conformance, R_OGCAPI,
     ACCESS_READ},
    {"GET", "/ogcapi/collections", ht__route_ogc_collections, R_OGCAPI,
     ACCESS_READ},
    {"GET", "/ogcapi/collections/{id}", ht__route_ogc_collection, R_OGCAPI,
     ACCESS_READ},
    {"GET", "/ogcapi/collections/{id}/items", ht__route_ogc_items, R_OGCAPI,
     ACCESS_READ},
    {"GET", "/ogcapi/collections/{id}/items/{fid}", ht__route_ogc_item,
     R_OGCAPI, ACCESS_READ},
    {"GET", "/ogcapi/collections/{id}/queryables", ht__route_ogc_queryables,
     R_OGCAPI, ACCESS_READ},
};

bool ht__routes_match(const char *pattern, const char *path,
                      char args[HT__ROUTE_ARGS][HT__ROUTE_ARG_SIZE],
                      size_t *nargs) {
    *nargs = 0;
    const char *p = pattern, *u = path;
    while (*p && *u) {
        if (*p != '/' || *u != '/') {
            return false;
        }
        p++;
        u++;
        size_t pl = strcspn(p, "/"), ul = strcspn(u, "/");
        const char *open = memchr(p, '{', pl);
        if (!open) {
            if (pl != ul || strncmp(p, u, pl) != 0) {
                return false;
            }
            p += pl;
            u += ul;
            continue;
        }
        const char *close = memchr(open, '}', (size_t)(p + pl - open));
        if (!close || *nargs == HT__ROUTE_ARGS) {
            return false; /* a malformed pattern matches nothing */
        }
        bool rest = close[-1] == '*';
        size_t pre = (size_t)(open - p);
        size_t post = (size_t)(p + pl - close - 1);
        size_t len = rest ? strlen(u) : ul; /* what the segment offers */
        if (len < pre + post + 1 || strncmp(u, p, pre) != 0 ||
            strncmp(u + len - post, close + 1, post) != 0) {
            return false;
        }
        size_t n = len - pre - post;
        if (n >= HT__ROUTE_ARG_SIZE) {
            return false;
        }
        memcpy(args[*nargs], u + pre, n);
        args[(*nargs)++][n] = '\0';
        p += pl;
        u += len;
    }
    return *p == '\0' && *u == '\0';
}

int ht__routes_find(const char *method, const char *path,
                    char args[HT__ROUTE_ARGS][HT__ROUTE_ARG_SIZE], int *other) {
    *other = -1;
    const char *m = strcmp(method, "HEAD") == 0 ? "GET" : method;
    for (size_t k = 0; k < sizeof routes / sizeof *routes; k++) {
        size_t n;
        if (!ht__routes_match(routes[k].pattern, path, args, &n)) {
            continue;
        }
        if (strcmp(routes[k].method, m) == 0) {
            return (int)k;
        }
        *other = (int)k;
    }
    return -1;
}

/* The route of the request (its captures in rq->args, its label set):
 * NULL when there is none (see ht__routes_find). */
static const route *find_route(const char *method, const char *path,
                               request *rq, bool *elsewhere) {
    int other, k = ht__routes_find(method, path, rq->args, &other);
    *elsewhere = other >= 0;
    rq->label = k >= 0       ? routes[k].label
                : other >= 0 ? routes[other].label
                             : R_OTHER;
    return k >= 0 ? &routes[k] : NULL;
}

/* No route for the request: 404, or 405 with the methods of the path. */
static enum MHD_Result no_route(struct MHD_Connection *c, request *rq,
                                const char *path, bool elsewhere) {
    if (!elsewhere) {
        return ht__http_send_error(c, rq, MHD_HTTP_NOT_FOUND, "not found");
    }
    char allow[64] = "OPTIONS";
    char args[HT__ROUTE_ARGS][HT__ROUTE_ARG_SIZE];
    for (size_t k = 0; k < sizeof routes / sizeof *routes; k++) {
        size_t n;
        if (ht__routes_match(routes[k].pattern, path, args, &n) &&
            !strstr(allow, routes[k].method)) {
            size_t used = strlen(allow);
            snprintf(allow + used, sizeof allow - used, ", %s%s",
                     routes[k].method,
                     strcmp(routes[k].method, "GET") == 0 ? ", HEAD" : "");
        }
    }
    snprintf(rq->allow, sizeof rq->allow, "%s", allow);
    char msg[120];
    snprintf(msg, sizeof msg, "%s here: %s", rq->method, allow);
    return ht__http_send_error(c, rq, MHD_HTTP_METHOD_NOT_ALLOWED, msg);
}

/* The first call of a request. A write (POST, PATCH) is routed, its
 * writer's token checked and the size it announces bounded before any of
 * the body is read: one let through (MHD_YES) has its body kept; any other
 * is answered at once, and MHD then closes the connection without reading
 * the body. Other methods wait for the whole request. */
static enum MHD_Result begin_request(ht_server *s, struct MHD_Connection *c,
                                     request *rq, const char *url,
                                     const char *method) {
    if (strcmp(method, "POST") != 0 && strcmp(method, "PATCH") != 0) {
        return MHD_YES;
    }
    bool elsewhere;
    const route *r = find_route(method, url, rq, &elsewhere);
    if (!r) {
        return no_route(c, rq, url, elsewhere);
    }
    if (r->access == ACCESS_WRITE) {
        enum MHD_Result answer;
        if (!may_write(s, c, rq, &rq->who, &answer)) {
            return answer;
        }
        const char *cl =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > MAX_BODY) {
            return ht__http_send_error(c, rq, MHD_HTTP_CONTENT_TOO_LARGE,
                                       "body over 1 MiB: send it in parts, "
                                       "or use hutong import");
        }
        rq->writing = true;
    }
    return MHD_YES;
}

enum MHD_Result ht__routes_handle(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **req_cls) {
    (void)version;
    ht_server *s = cls;
    request *rq = *req_cls;
    if (!rq) {
        return MHD_NO; /* the URI callback ran out of memory */
    }
    if (!rq->seen) {
        rq->seen = true;
        snprintf(rq->method, sizeof rq->method, "%s", method);
        return begin_request(s, c, rq, url, method);
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
    conn_slot *slot = ht__http_slot_of(c);
    if (slot) {
        atomic_store(&slot->waiting, false);
    }
    /* A Host that is not host[:port] is refused (RFC 9112, 3.2): it
     * would otherwise reach the URLs the server writes. */
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    if (host && ht__http_host_port_len(host) != strlen(host)) {
        return ht__http_send_error(c, rq, MHD_HTTP_BAD_REQUEST,
                                   "Host: not a host name or address with "
                                   "an optional port");
    }
    if (strcmp(method, "OPTIONS") == 0) {
        return ht__http_send_preflight(c, rq);
    }
    bool elsewhere;
    const route *r = find_route(method, url, rq, &elsewhere);
    if (!r) {
        return no_route(c, rq, url, elsewhere);
    }
    enum MHD_Result answer;
    switch (r->access) {
    case ACCESS_PUBLIC:
        break;
    case ACCESS_READ:
        if (!ht__routes_reader_scope(s, c, rq, &answer)) {
            return answer;
        }
        break;
    case ACCESS_WRITE:
        if (!rq->writing && !may_write(s, c, rq, &rq->who, &answer)) {
            return answer;
        }
        rq->writing = true;
        break;
    }
    const char *args[HT__ROUTE_ARGS];
    for (size_t k = 0; k < HT__ROUTE_ARGS; k++) {
        args[k] = rq->args[k];
    }
    return r->fn(s, c, rq, args);
}

void ht__routes_count_request(ht_server *s, const request *rq) {
    size_t st = 0;
    while (st < NSTATUS - 1 && status_codes[st] != rq->status) {
        st++;
    }
    atomic_fetch_add(&s->requests[rq->label][st], 1);
}

void ht__routes_observe_render(ht_server *s, double secs) {
    size_t bucket = 0;
    while (bucket < NBUCKETS && secs > render_buckets[bucket]) {
        bucket++;
    }
    atomic_fetch_add(&s->render_le[bucket], 1);
    atomic_fetch_add(&s->render_us, (unsigned long)(secs * 1e6));
}
