/* SPDX-License-Identifier: Apache-2.0 */
/* The server's internals, shared by its files: http.c (requests,
 * responses, query parsing, the connection guard), routes.c (the route
 * table, dispatch, access, metrics), live.c (index snapshots, the change
 * log, expiry cells, workers and styles), events.c (Server-Sent Events),
 * ingest.c (POST and PATCH), routes_maps.c, routes_api.c, routes_wms.c
 * (the handlers) and server.c (start and stop). libmicrohttpd's types stay
 * here, out of include/hutong/. */
#ifndef HUTONG_SERVER_INT_H
#define HUTONG_SERVER_INT_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "hutong/buf.h"
#include "hutong/cache.h"
#include "hutong/crs.h"
#include "hutong/features.h"
#include "hutong/filter.h"
#include "hutong/heat.h"
#include "hutong/index.h"
#include "hutong/render.h"
#include "hutong/server.h"
#include "hutong/store.h"
#include "hutong/style.h"
#include "hutong/token.h"
#include "hutong/wms.h"

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
    R_WMTS,
    R_MAP,
    R_API,
    R_OGCAPI,
    R_PAGE,
    R_STATIC,
    R_HEALTH,
    R_METRICS,
    R_OTHER,
    R_COUNT
};
#define NSTATUS 14  /* statuses counted, and "other" (routes.c) */
#define NBUCKETS 11 /* bounds of the render time histogram (routes.c) */

/* What a route's pattern captures of the path. */
#define HT__ROUTE_ARGS 4
#define HT__ROUTE_ARG_SIZE 160

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
    unsigned long version;       /* of the index its renderer holds */
    ht_transform *to_wgs84[8];   /* per ht_wms_crs entry, made on first use */
    ht_transform *from_wgs84[8]; /* the same, the other way */
    struct worker *next;
} worker;

struct ht_server {
    struct MHD_Daemon *d;
    char *db, *host;
    FILE *log;
    uint16_t port;
    ht_store *store;
    ht_features *feat;
    atomic_int exports;       /* /api/incidents.csv being written */
    ht_index *index;          /* the current snapshot: take it with index_ref */
    ht_heat_atlases *atlases; /* density grids per class, for every worker */
    /* The base the index's snapshot file holds (0: none) and its stamp:
     * the density grids of that base are saved beside it. */
    uint64_t stamped_base;
    char heat_note[400]; /* how the grids were had at the start */
    int64_t stamp_source, stamp_version;
    pthread_mutex_t imu;  /* guards index and changes */
    atomic_ulong version; /* bumped by every write */
    struct change {
        unsigned long version; /* the snapshot these made */
        int64_t *ids;
        size_t n;
    } changes[CHANGE_LOG]; /* by version % CHANGE_LOG */
    /* Neighbourhood versions: the last change of an incident in each cell
     * of a square grid over the district (and one for anywhere else): a
     * write, or the clock passing a deadline. A tile's key holds the
     * largest within its reach. Marks count up from 1. */
    ht_bbox cells_box;
    double cell;
    size_t cnx, cny;
    atomic_ulong *cells, elsewhere, marks;
    ht_store *writer;           /* read-write connection, with --tokens */
    char *index_path;           /* the index's snapshot beside the database */
    char index_note[400];       /* how it was loaded */
    int64_t index_data_version; /* the data version the loaded index
                                   holds; -1: not known */
    pthread_mutex_t wmu;        /* one write at a time */
    /* On a database server: the follower's own connection, the last
     * change of the log it applied, and whether it runs (follow.c). */
    ht_store *follow;
    bool read_replica;   /* --read-db: reads (and the follower) on a replica */
    int64_t database_id; /* the database's id, stamped on --index-file */
    int64_t follow_seq;
    atomic_bool follow_stop;
    bool follow_started;
    pthread_t follow_thread;
    /* Who may read and write: a tokens file, or the database's tokens
     * (PostgreSQL), read again by the follower when their version changes;
     * replaced under tmu (ht__server_check_token). */
    ht_tokens *tokens;
    int64_t tokens_version;
    pthread_mutex_t tmu;
    bool private_reads;  /* reads need a token too */
    bool trust_proxy;    /* absolute URLs from X-Forwarded-* */
    char *contact[3];    /* WMS ContactInformation: person, organization,
                            email (NULL: not said) */
    pthread_mutex_t emu; /* events and listeners */
    char *events[EVENT_RING];
    char event_grid[EVENT_RING][32]; /* the grid of each event, or "" */
    unsigned long event_seq;         /* events so far */
    int64_t overdue_checked; /* incidents turning overdue up to this time
                                have been announced (beat thread); the
                                second before a minute */
    ht_store *beat_reader;   /* the beat thread's own connection */
    int64_t overdue_next;    /* the next deadline in the snapshot of
                                version overdue_version: nothing turns
                                overdue before it */
    unsigned long overdue_version;
    sse_sub *subs;
    bool closing;
    pthread_t beat_thread;
    pthread_cond_t beat_cv;
    bool beat_started;
    /* the statistics' tallies of all time made after the start */
    pthread_t tally_thread;
    bool tally_started;
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
    bool vary_proxy;   /* ... and from X-Forwarded-* (--trust-proxy) */
    ht_token_info who; /* the writer's token, then */
    int label;         /* the route's label for /metrics (R_OTHER: none) */
    char allow[64];    /* a 405's Allow header */
    const char *content_crs; /* a Content-Crs header ("<uri>"), or NULL */
    char args[HT__ROUTE_ARGS][HT__ROUTE_ARG_SIZE]; /* the route's captures */
} request;

/* A route's handler: @args holds what its pattern captured, in order. */
typedef enum MHD_Result (*ht__handler)(struct ht_server *s,
                                       struct MHD_Connection *c, request *rq,
                                       const char *const *args);

typedef struct query {
    ht_filter filter;
    char allowed[320]; /* " a b c " */
    struct {
        char key[16];
        char value[128];
    } extra[12]; /* parameters that are not filters */
    int nextra;
    char bad[300]; /* the first problem */
    size_t bytes;
    double scale;             /* "scale" when allowed */
    char text[MAX_QUERY + 1]; /* the parameters re-encoded, for links */
    int64_t now;              /* the clock of windows (window=24h) */
} query;

/* http.c (each documented there) */
void ht__http_base_url(ht_server *s, struct MHD_Connection *c, request *rq,
                       char *out, size_t size);
const char *ht__http_cache_control_of(const ht_server *s, const ht_filter *f);
void ht__http_client_addr(struct MHD_Connection *c, char *out, size_t size);
bool ht__http_count_param(const query *q, const char *key, long lo, long hi,
                          long *out, char *bad, size_t size);
bool ht__http_etag_matches(struct MHD_Connection *c, const char *etag);
size_t ht__http_host_port_len(const char *p);
long long ht__http_now_ms(void);
void ht__http_on_connection(void *cls, struct MHD_Connection *c,
                            void **socket_context,
                            enum MHD_ConnectionNotificationCode code);
bool ht__http_parse_query(struct MHD_Connection *c, const char *extra,
                          query *q);
bool ht__http_parse_u32(const char **p, uint32_t *out);
const char *ht__http_qget(const query *q, const char *key);
void ht__http_reap_slow(ht_server *s);
void ht__http_redact_tokens(char *uri);
enum MHD_Result ht__http_send_buf(struct MHD_Connection *c, request *rq,
                                  unsigned status, const char *type, void *data,
                                  size_t len, const char *etag,
                                  const char *cache_control);
enum MHD_Result ht__http_send_error(struct MHD_Connection *c, request *rq,
                                    unsigned status, const char *msg);
enum MHD_Result ht__http_send_failure(struct MHD_Connection *c, request *rq,
                                      ht_status st, const char *msg);
enum MHD_Result ht__http_send_ht_buf(struct MHD_Connection *c, request *rq,
                                     const char *type, ht_buf *b,
                                     const char *etag,
                                     const char *cache_control);
enum MHD_Result ht__http_send_json(struct MHD_Connection *c, request *rq,
                                   json_t *j, const char *cache_control);
enum MHD_Result ht__http_send_not_modified(struct MHD_Connection *c,
                                           request *rq, const char *etag,
                                           const char *cache_control);
enum MHD_Result ht__http_send_page(struct MHD_Connection *c, request *rq,
                                   const unsigned char *page, size_t len);
enum MHD_Result ht__http_send_preflight(struct MHD_Connection *c, request *rq);
enum MHD_Result ht__http_send_text_json(struct MHD_Connection *c, request *rq,
                                        char *text);
double ht__http_since_ms(const struct timespec *t0);
conn_slot *ht__http_slot_of(struct MHD_Connection *c);
bool ht__http_text_ok(const char *t);

/* live.c (each documented there) */
bool ht__live_cells_init(ht_server *s);
const ht_fgrid *ht__live_grid_at(const ht_features *f, double x, double y);
bool ht__live_in_scope(ht_server *s, const char *code, const char *area);
size_t ht__live_index_count(ht_server *s, double *bytes);
ht_index *ht__live_index_ref(ht_server *s);
unsigned long ht__live_neighbourhood_version(ht_server *s,
                                             const ht_render_req *req);
void ht__live_publish(ht_server *s, ht_store *from, const int64_t *ids,
                      size_t n);
void ht__live_reload(ht_server *s, ht_store *from);
ht_status ht__live_stats(ht_server *s, ht_store *store, const ht_filter *f,
                         ht_stats_by by, ht_stats_row **rows, size_t *n,
                         ht_error *err);
void ht__live_mark(ht_server *s, const ht_index *ix, const int64_t *ids,
                   size_t n, unsigned long m);
bool ht__live_scope_filter(ht_server *s, const request *rq, ht_filter *f);
const ht_style *ht__live_style_get(ht_server *s, const char *name,
                                   ht_error *err);
size_t ht__live_style_names(char **names, size_t max);

/* Start building the density grids per class of every heatmap layer the
 * styles draw (without a weight or a filter of their own). */
void ht__live_prepare_atlases(ht_server *s);

/* Save the density grids of @ix's base carried past its changes, beside
 * the snapshot just saved from @ix stamped (@source, @version). */
void ht__live_save_atlases(ht_server *s, const ht_index *ix, int64_t source,
                           int64_t version);
worker *ht__live_worker_get(ht_server *s, ht_error *err);

/* routes.c (each documented there) */
void ht__routes_count_request(ht_server *s, const request *rq);
void ht__routes_observe_render(ht_server *s, double secs);
bool ht__routes_match(const char *pattern, const char *path,
                      char args[HT__ROUTE_ARGS][HT__ROUTE_ARG_SIZE],
                      size_t *nargs);
enum MHD_Result ht__routes_handle(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **req_cls);
bool ht__routes_reader_scope(ht_server *s, struct MHD_Connection *c,
                             request *rq, enum MHD_Result *answer);
enum MHD_Result ht__routes_send_outside(struct MHD_Connection *c, request *rq);
/* The grid a path names ({code}) and the request's query (filters and
 * @extra): NULL, with the answer queued, for a grid outside a scoped
 * reader's area or unknown to it (403), unknown (404), a bad query or a
 * grid filter beside the path's (400). */
const ht_fgrid *ht__routes_area(ht_server *s, struct MHD_Connection *c,
                                request *rq, const char *code,
                                const char *extra, query *q,
                                enum MHD_Result *answer);
json_t *ht__routes_text_or_null(const char *v);

/* routes_maps.c (each documented there) */
enum MHD_Result ht__route_legend(ht_server *s, struct MHD_Connection *c,
                                 request *rq, const char *const *args);
enum MHD_Result ht__route_map_png(ht_server *s, struct MHD_Connection *c,
                                  request *rq, const char *const *args);
enum MHD_Result ht__route_print(ht_server *s, struct MHD_Connection *c,
                                request *rq, const char *const *args);
enum MHD_Result ht__route_map_pdf(ht_server *s, struct MHD_Connection *c,
                                  request *rq, const char *const *args);
enum MHD_Result ht__route_tile(ht_server *s, struct MHD_Connection *c,
                               request *rq, const char *const *args);
enum MHD_Result ht__route_tilejson(ht_server *s, struct MHD_Connection *c,
                                   request *rq, const char *const *args);

/* routes_api.c (each documented there) */
json_t *ht__api_grid_json(const ht_fgrid *g);
/* routes_api.c: grid @code's polygons as GeoJSON in @crs (x, y order;
 * NULL: WGS 84), or NULL. */
json_t *ht__api_grid_geometry(worker *w, const char *code, const char *crs);
/* routes_api.c: a page of incidents, newest first: up to @limit older
 * than the cursor (@before_t, @before_id; INT64_MAX for the first page)
 * passing @filter and, when set, in @box (EPSG:3857), as GeoJSON features
 * (WGS 84, 1 cm) late or not at @now; @matched counts all that pass from
 * the cursor on; @more says whether a page follows, its cursor @next_t,
 * @next_id. HT_EINVAL for a filter the index refuses. */
typedef struct ht__incident_page {
    const ht_filter *filter;
    const ht_bbox *box;
    int64_t before_t, before_id;
    size_t limit;
    int64_t now;
    json_t *features; /* the caller's */
    size_t matched;
    bool more;
    int64_t next_t, next_id;
} ht__incident_page;
ht_status ht__api_incident_page(ht_server *s, ht__incident_page *p,
                                ht_error *err);
/* Incident @id as a feature, as in a page; NULL when there is none. */
json_t *ht__api_incident_feature(ht_server *s, int64_t id, int64_t now);
/* A cursor "T_ID" of a page's "next" into its parts; false if it is not
 * one. */
bool ht__api_parse_cursor(const char *cursor, int64_t *t, int64_t *id);
enum MHD_Result ht__route_grid(ht_server *s, struct MHD_Connection *c,
                               request *rq, const char *const *args);
enum MHD_Result ht__route_grids(ht_server *s, struct MHD_Connection *c,
                                request *rq, const char *const *args);
enum MHD_Result ht__route_incidents(ht_server *s, struct MHD_Connection *c,
                                    request *rq, const char *const *args);
enum MHD_Result ht__route_stats(ht_server *s, struct MHD_Connection *c,
                                request *rq, const char *const *args);
enum MHD_Result ht__route_topics(ht_server *s, struct MHD_Connection *c,
                                 request *rq, const char *const *args);

/* routes_wms.c (each documented there) */
enum MHD_Result ht__route_wms(ht_server *s, struct MHD_Connection *c,
                              request *rq, const char *const *args);
/* The KVP parameters of an OGC request (WMS, WMTS), collected by
 * ht__ows_on_arg from the connection: at most 64 and MAX_QUERY bytes,
 * UTF-8 text. */
typedef struct ht__ows_args {
    const char *keys[64], *values[64];
    size_t n, bytes;
    bool too_many, not_text;
} ht__ows_args;
enum MHD_Result ht__ows_on_arg(void *cls, enum MHD_ValueKind kind,
                               const char *key, const char *value);
/* The layers offered (WMS and WMTS): the styles that load, in @layers,
 * their count returned; @names (MAX_STYLES) holds every style's name, to
 * free, @nnames of them. */
size_t ht__ows_layers(ht_server *s, ht_wms_layer *layers, char **names,
                      size_t *nnames);
/* The data's box in longitude/latitude. */
ht_bbox ht__ows_extent(const ht_server *s);
/* GetFeatureInfo of @w (WMS; of WMTS when its version is 0): the grid at
 * its pixel with its figures, in its info format. */
enum MHD_Result ht__ows_send_info(ht_server *s, struct MHD_Connection *c,
                                  request *rq, const ht_wms_req *w);

/* routes_export.c: GET /api/incidents.csv, streamed */
enum MHD_Result ht__route_incidents_csv(ht_server *s, struct MHD_Connection *c,
                                        request *rq, const char *const *args);
/* http.c: what the pipe @fd delivers as a 200 of @type (its reading end,
 * closed with the response), with @disposition (a Content-Disposition, or
 * NULL). */
enum MHD_Result ht__http_send_pipe(struct MHD_Connection *c, request *rq,
                                   const char *type, int fd,
                                   const char *disposition);

/* routes_ogcapi.c: OGC API Features (each documented there) */
enum MHD_Result ht__route_ogc_landing(ht_server *s, struct MHD_Connection *c,
                                      request *rq, const char *const *args);
enum MHD_Result ht__route_ogc_api(ht_server *s, struct MHD_Connection *c,
                                  request *rq, const char *const *args);
enum MHD_Result ht__route_ogc_conformance(ht_server *s,
                                          struct MHD_Connection *c, request *rq,
                                          const char *const *args);
enum MHD_Result ht__route_ogc_collections(ht_server *s,
                                          struct MHD_Connection *c, request *rq,
                                          const char *const *args);
enum MHD_Result ht__route_ogc_collection(ht_server *s, struct MHD_Connection *c,
                                         request *rq, const char *const *args);
enum MHD_Result ht__route_ogc_queryables(ht_server *s, struct MHD_Connection *c,
                                         request *rq, const char *const *args);
enum MHD_Result ht__route_ogc_items(ht_server *s, struct MHD_Connection *c,
                                    request *rq, const char *const *args);
enum MHD_Result ht__route_ogc_item(ht_server *s, struct MHD_Connection *c,
                                   request *rq, const char *const *args);

/* routes_wmts.c */
enum MHD_Result ht__route_wmts(ht_server *s, struct MHD_Connection *c,
                               request *rq, const char *const *args);
enum MHD_Result ht__route_wmts_rest(ht_server *s, struct MHD_Connection *c,
                                    request *rq, const char *const *args);
/* An OWS exception report of WMTS, with the status its @code has. */
enum MHD_Result ht__wmts_send_error(struct MHD_Connection *c, request *rq,
                                    const char *code, const char *locator,
                                    const char *msg);

/* ingest.c (each documented there) */
enum MHD_Result ht__route_patch_incident(ht_server *s, struct MHD_Connection *c,
                                         request *rq, const char *const *args);
enum MHD_Result ht__route_post_incidents(ht_server *s, struct MHD_Connection *c,
                                         request *rq, const char *const *args);

/* events.c (each documented there) */
void ht__events_announce(ht_server *s, ht_store *from, const int64_t *ids,
                         size_t n);
void *ht__follow_main(void *arg);

/* A database server's index into --index-file (if any), stamped with the
 * last change it holds: at a start that loaded it, hourly, at the stop. */
void ht__server_save_pg_index(ht_server *s);

/* Whether @token is one of the server's, with what it may do. */
bool ht__server_check_token(ht_server *s, const char *token,
                            ht_token_info *who);

/* Read the database's tokens again when their version is not the one
 * held (the follower, on a database server). */
void ht__server_refresh_tokens(ht_server *s);
void *ht__events_beat_main(void *arg);
enum MHD_Result ht__route_events(ht_server *s, struct MHD_Connection *c,
                                 request *rq, const char *const *args);
void ht__events_wake_listeners(ht_server *s);

/* routes_maps.c: the one way a route draws. @n requests, one over the
 * other, with this thread's renderer, sent as an image of @fmt (200, @cc);
 * a failure answered with its status. */
enum MHD_Result ht__maps_send_image(ht_server *s, struct MHD_Connection *c,
                                    request *rq, const ht_render_req *reqs,
                                    size_t n, const ht_rgba *background,
                                    ht_image_format fmt, const char *cc);
/* The legend of @style for @f as a PNG (a 1 x 1 image for a style without
 * one when @empty_ok). */
enum MHD_Result ht__maps_send_legend(ht_server *s, struct MHD_Connection *c,
                                     request *rq, const ht_style *style,
                                     const ht_filter *f, double scale,
                                     bool empty_ok, const char *cc);
/* routes_maps.c: a tile of @style (named @name) over @bbox in @crs (NULL:
 * EPSG:3857; else longitude/latitude), 256 px at @scale, with @filter at
 * @now: cached under @where (its address in its grid: XYZ's "z/x/y"), an
 * ETag, drawn only inside a scoped reader's area. */
typedef struct ht__maps_tile {
    const char *name;
    const ht_style *style;
    ht_filter filter;
    int64_t now;
    ht_bbox bbox;
    const char *crs;
    const char *where;
    int scale;
    ht_image_format fmt;
} ht__maps_tile;
enum MHD_Result ht__maps_send_tile(ht_server *s, struct MHD_Connection *c,
                                   request *rq, ht__maps_tile *t);

/* http.c: a blank image of @w x @h in @fmt (transparent, JPEG white). */
enum MHD_Result ht__http_send_blank(struct MHD_Connection *c, request *rq,
                                    int w, int h, ht_image_format fmt,
                                    const char *cc);

/* http.c: a query parsed from key/value pairs (what ht__http_parse_query
 * does with a connection's): begin, one call a parameter (false, with
 * q->bad, on a bad one), end (false on a bad query). */
void ht__http_query_begin(query *q, const char *extra, int64_t now);
bool ht__http_query_arg(query *q, const char *key, const char *value);
bool ht__http_query_end(query *q);

/* routes.c: the index of the route for @method (HEAD as GET) and @path,
 * its captures in @args; -1 when none. *other: a route of the same path
 * for another method, or -1. */
int ht__routes_find(const char *method, const char *path,
                    char args[HT__ROUTE_ARGS][HT__ROUTE_ARG_SIZE], int *other);

/* ingest.c: a PATCH body, {"status", "at" (default @now), "department"}:
 * a status and a time not after @now + 5 min (whether the step goes
 * forward is the store's to say). HT_EINVAL names what is wrong. */
typedef struct ht__step {
    bool step; /* a status was given: a step to @to */
    ht_state to;
    int64_t at;
    char department[65];          /* "" when none */
    ht_satisfaction satisfaction; /* HT_SAT_NONE when not given */
} ht__step;
ht_status ht__ingest_parse_step(const char *body, size_t len, int64_t now,
                                ht__step *out, ht_error *err);

#endif
