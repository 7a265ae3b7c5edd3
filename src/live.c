/* SPDX-License-Identifier: Apache-2.0 */
/* The server's live state: index snapshots and their change log, the
 * expiry cells, per-thread workers and the loaded styles. */
#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hutong/log.h"

#include "server_int.h"

/* The current index snapshot, with a reference for the caller. */
ht_index *ht__live_index_ref(ht_server *s) {
    pthread_mutex_lock(&s->imu);
    ht_index *ix = ht_index_ref(s->index);
    pthread_mutex_unlock(&s->imu);
    return ix;
}

/* Incidents in the current snapshot, and its bytes. */
size_t ht__live_index_count(ht_server *s, double *bytes) {
    ht_index *ix = ht__live_index_ref(s);
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

worker *ht__live_worker_get(ht_server *s, ht_error *err) {
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
    /* On a database server, a worker starts while it is away too: what it
     * draws comes from the index in memory. */
    if (ht_store_open(s->db, HT_STORE_READONLY | HT_STORE_LAZY, &w->store,
                      err) != HT_OK ||
        ht_renderer_new(w->store, s->feat, &w->rend, err) != HT_OK) {
        ht_store_close(w->store);
        free(w);
        return NULL;
    }
    ht_renderer_set_atlases(w->rend, s->atlases);
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
const ht_style *ht__live_style_get(ht_server *s, const char *name,
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

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names of the styles in the styles folder, sorted (caller frees). */
size_t ht__live_style_names(char **names, size_t max) {
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

/* The file of the density grids per class with @o beside the index's. */
static char *atlas_path(const ht_server *s, const ht_heat_opts *o) {
    if (!s->index_path) {
        return NULL;
    }
    size_t len = strlen(s->index_path) + 48;
    char *p = malloc(len);
    if (p) {
        snprintf(p, len, "%s.heat-%g-%s", s->index_path, o->radius_m,
                 ht_heat_kernel_name(o->kernel));
    }
    return p;
}

/* Save @a (of @ix's categories) beside the snapshot stamped (@source,
 * @version). */
static void save_beside(const ht_server *s, const ht_heat_atlas *a,
                        const ht_index *ix, int64_t source, int64_t version) {
    ht_heat_opts o = {.radius_m = ht_heat_atlas_radius(a),
                      .kernel = ht_heat_atlas_kernel(a)};
    char *path = atlas_path(s, &o);
    ht_error err = {0};
    if (path &&
        ht_heat_atlas_save(a, ix, path, source, version, &err) != HT_OK) {
        ht_log(HT_LOG_WARN, "server", "density grids: %s", err.msg);
    }
    free(path);
}

/* Save the grids built from the base the snapshot file holds. */
static void save_atlas(void *ud, const ht_heat_atlas *a, const ht_index *ix) {
    ht_server *s = ud;
    if (s->stamped_base && ht_heat_atlas_base(a) == s->stamped_base) {
        save_beside(s, a, ix, s->stamp_source, s->stamp_version);
    }
}

/* The grids with @o: read from their file when it holds the index's base,
 * else built in a thread. */
static void prepare_atlas(ht_server *s, const ht_index *ix,
                          const ht_heat_opts *o, char *note, size_t size) {
    char *path =
        s->stamped_base == ht_index_base_serial(ix) ? atlas_path(s, o) : NULL;
    ht_heat_atlas *a = NULL;
    ht_error why = {0};
    if (path && ht_heat_atlas_read(path, ix, o, s->stamp_source,
                                   s->stamp_version, &a, &why) == HT_OK) {
        ht_heat_atlases_put(s->atlases, a);
        size_t used = strlen(note);
        int64_t span = ht_heat_atlas_slice_span(a);
        char by_time[64] = "";
        if (span > 0) {
            snprintf(by_time, sizeof by_time,
                     " (and per %lld h of report time)",
                     (long long)(span / 3600));
        }
        snprintf(note + used, size - used, "%s%g m %s%s read from %s",
                 used ? "; " : "", o->radius_m, ht_heat_kernel_name(o->kernel),
                 by_time, path);
        ht_heat_atlas_unref(a);
    } else {
        ht_heat_atlases_prepare(s->atlases, ix, o);
        size_t used = strlen(note);
        snprintf(note + used, size - used,
                 "%s%g m %s built in the background%s%s%s", used ? "; " : "",
                 o->radius_m, ht_heat_kernel_name(o->kernel),
                 why.msg[0] ? " (" : "", why.msg, why.msg[0] ? ")" : "");
    }
    free(path);
}

typedef struct fold_ctx {
    ht_server *s;
    const ht_index *ix;
    int64_t source, version;
} fold_ctx;

/* Save @a carried past the changes the snapshot folded in. */
static void save_folded(void *ud, const ht_heat_atlas *a) {
    fold_ctx *c = ud;
    ht_heat_atlas *adv = NULL;
    ht_error err = {0};
    if (ht_heat_atlas_base(a) != ht_index_base_serial(c->ix)) {
        return;
    }
    if (ht_heat_atlas_advance(a, c->ix, &adv, &err) == HT_OK) {
        save_beside(c->s, adv, c->ix, c->source, c->version);
    } else {
        ht_log(HT_LOG_WARN, "server", "density grids: %s", err.msg);
    }
    ht_heat_atlas_unref(adv);
}

void ht__live_save_atlases(ht_server *s, const ht_index *ix, int64_t source,
                           int64_t version) {
    fold_ctx c = {s, ix, source, version};
    ht_heat_atlases_each(s->atlases, save_folded, &c);
}

void ht__live_prepare_atlases(ht_server *s) {
    ht_heat_atlases_on_built(s->atlases, save_atlas, s);
    char *names[MAX_STYLES];
    size_t n = ht__live_style_names(names, MAX_STYLES);
    ht_index *ix = ht__live_index_ref(s);
    char note[320] = "";
    bool large = ix && ht_index_count(ix) >= ht_heat_atlases_from(s->atlases);
    ht_heat_opts done[8];
    size_t ndone = 0;
    for (size_t k = 0; k < n; k++) {
        const ht_style *st =
            large ? ht__live_style_get(s, names[k], NULL) : NULL;
        for (size_t i = 0;
             st && !ht_style_has_filter(st) && !ht_style_grids_on_demand(st) &&
             i < ht_style_layer_count(st);
             i++) {
            const ht_style_layer *l = ht_style_layer_at(st, i);
            ht_heat_opts o;
            if (l->type != HT_LAYER_HEATMAP ||
                ht_render_heat_opts(l, &o, NULL) != HT_OK || o.weight) {
                continue;
            }
            /* Once for each radius and kernel the styles share. */
            bool seen = false;
            for (size_t d = 0; d < ndone; d++) {
                seen = seen || (done[d].radius_m == o.radius_m &&
                                done[d].kernel == o.kernel);
            }
            if (!seen && ndone < sizeof done / sizeof *done) {
                done[ndone++] = o;
                prepare_atlas(s, ix, &o, note, sizeof note);
            }
        }
        free(names[k]);
    }
    if (!large) {
        snprintf(s->heat_note, sizeof s->heat_note,
                 "density grids built per filter (%zu incidents, grids per "
                 "class from %zu)",
                 ix ? ht_index_count(ix) : 0, ht_heat_atlases_from(s->atlases));
    } else {
        snprintf(s->heat_note, sizeof s->heat_note,
                 "density grids per class: %s",
                 note[0] ? note : "no heat layer");
    }
    ht_index_unref(ix);
}

/* Whether grid @code is @area or lies in its subtree. */
bool ht__live_in_scope(ht_server *s, const char *code, const char *area) {
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

/* Narrow @f to the reader's area: false when the filter's own grid lies
 * outside it. */
bool ht__live_scope_filter(ht_server *s, const request *rq, ht_filter *f) {
    if (!rq->scope[0]) {
        return true;
    }
    if (!f->grid[0] || ht__live_in_scope(s, rq->scope, f->grid)) {
        snprintf(f->grid, sizeof f->grid, "%s", rq->scope);
        return true;
    }
    return ht__live_in_scope(s, f->grid, rq->scope);
}

/* The cell grid: @s->extent and 20 km around it. */
bool ht__live_cells_init(ht_server *s) {
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

/* Mark the cells of the incidents @ids where @ix has them with @m (a
 * value of s->marks). */
void ht__live_mark(ht_server *s, const ht_index *ix, const int64_t *ids,
                   size_t n, unsigned long m) {
    for (size_t k = 0; k < n; k++) {
        double x, y;
        if (ht_index_find(ix, NULL, ids[k], &x, &y, NULL)) {
            mark_cell(s, x, y, m);
        }
    }
}

/* The last change of an incident within reach of @req (0: none since the
 * start): a write, or its deadline passed. */
unsigned long ht__live_neighbourhood_version(ht_server *s,
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

/* Make @nx the current snapshot, with the change list @ids (@n of them,
 * taken over; NULL: a gap in the log, and workers start their aggregates
 * again), under one new version. */
static void swap_index(ht_server *s, ht_index *nx, int64_t *ids, size_t n) {
    pthread_mutex_lock(&s->imu);
    ht_index *prev = s->index;
    s->index = nx;
    unsigned long v = atomic_load(&s->version) + 1;
    struct change *ch = &s->changes[v % CHANGE_LOG];
    free(ch->ids);
    *ch = (struct change){ids ? v : 0, ids, ids ? n : 0};
    atomic_store(&s->version, v);
    pthread_mutex_unlock(&s->imu);
    ht_index_unref(prev);
    /* A new base (the changes piled up): its density grids per class. */
    ht_heat_atlases_follow(s->atlases, nx);
}

/* After a commit: a new snapshot with the incidents @ids as the store
 * @from now holds them, for everyone from the next request on. Call with
 * wmu held. */
void ht__live_publish(ht_server *s, ht_store *from, const int64_t *ids,
                      size_t n) {
    ht_index *old = ht__live_index_ref(s), *nx = NULL;
    ht_error ierr = {0};
    if (ht_index_apply(old, from, ids, n, &nx, &ierr) != HT_OK) {
        ht_log(HT_LOG_WARN, "server", "index update: %s; reloading", ierr.msg);
        nx = NULL;
        ht_index_load(from, &nx, &ierr);
    }
    int64_t *copy = nx ? malloc((n ? n : 1) * sizeof *copy) : NULL;
    if (copy) {
        memcpy(copy, ids, n * sizeof *copy);
    }
    if (nx) {
        /* Snapshot, version and its changes together: a worker catching
         * up sees all three or none. No change list (out of memory): the
         * log has a gap, and workers start their aggregates again. */
        swap_index(s, nx, copy, n);
        /* Then the neighbourhoods of the changes, where they were and
         * where they are: the tiles within reach get new keys. */
        unsigned long m = atomic_fetch_add(&s->marks, 1) + 1;
        ht__live_mark(s, old, ids, n, m);
        ht__live_mark(s, nx, ids, n, m);
    } else {
        free(copy);
    }
    ht_index_unref(old);
}

/* The whole index again from @from (a follower that lost track of the
 * changes): every worker starts its aggregates again and every tile gets
 * a new key. Call with wmu held. */
void ht__live_reload(ht_server *s, ht_store *from) {
    ht_index *nx = NULL;
    ht_error ierr = {0};
    if (ht_index_load(from, &nx, &ierr) != HT_OK) {
        ht_log(HT_LOG_WARN, "server", "index reload: %s", ierr.msg);
        return;
    }
    swap_index(s, nx, NULL, 0); /* a gap in the log */
    unsigned long m = atomic_fetch_add(&s->marks, 1) + 1;
    for (size_t i = 0; i < s->cnx * s->cny; i++) {
        atomic_store_explicit(&s->cells[i], m, memory_order_relaxed);
    }
    atomic_store(&s->elsewhere, m);
}

/* The grid of the lowest level containing EPSG:3857 (@x, @y), through
 * the features' spatial index; NULL when none does. */
const ht_fgrid *ht__live_grid_at(const ht_features *f, double x, double y) {
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

/* Figures from the live index (the store names the groups). */
ht_status ht__live_stats(ht_server *s, ht_store *store, const ht_filter *f,
                         ht_stats_by by, ht_stats_row **rows, size_t *n,
                         ht_error *err) {
    ht_index *ix = ht__live_index_ref(s);
    ht_status st = ix ? ht_stats_compute_ix(store, ix, f, by, rows, n, err)
                      : ht_stats_compute(store, f, by, rows, n, err);
    ht_index_unref(ix);
    return st;
}
