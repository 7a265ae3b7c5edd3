/* SPDX-License-Identifier: Apache-2.0 */
/* Density grids kept per class (severity x major category) over an
 * index's base, and the grid of a filter summed from them. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hutong/heat.h"

#include "heat_int.h"

#define MAX_PARTS 4

static _Atomic size_t atlas_parts;

void ht__heat_atlas_set_parts(size_t parts) {
    atlas_parts = parts > MAX_PARTS ? MAX_PARTS : parts;
}

typedef struct atlas_part {
    ht_heat_atlas *a;
    const ht_index *ix;
    size_t part, parts;
    double **v; /* this part's own classes */
    bool ok;
} atlas_part;

size_t ht__heat_atlas_class(const ht_heat_atlas *a, int severity,
                            unsigned major) {
    int s = severity < 1 ? 1 : severity > SEVERITIES ? SEVERITIES : severity;
    return (size_t)(s - 1) * a->nclass + major;
}

static void count_row(void *ud, double x, double y, int severity,
                      unsigned major, int64_t t) {
    (void)x, (void)y, (void)t;
    ht_heat_atlas *a = ud;
    if (major < a->nclass) {
        a->count[ht__heat_atlas_class(a, severity, major)]++;
    }
}

static void splat_row(void *ud, double x, double y, int severity,
                      unsigned major, int64_t t) {
    (void)t;
    atlas_part *p = ud;
    if (!p->ok || major >= p->a->nclass) {
        return;
    }
    size_t c = ht__heat_atlas_class(p->a, severity, major);
    if (!p->v[c]) {
        p->v[c] = calloc(p->a->geo->nx * p->a->geo->ny, sizeof *p->v[c]);
        if (!p->v[c]) {
            p->ok = false;
            return;
        }
    }
    ht__heat_add(p->a->geo, p->v[c], x, y, 1);
}

static void *splat_part(void *arg) {
    atlas_part *p = arg;
    ht_index_base_rows(p->ix, p->part, p->parts, splat_row, p);
    return NULL;
}

void ht_heat_atlas_unref(ht_heat_atlas *a) {
    if (!a || atomic_fetch_sub(&a->refs, 1) != 1) {
        return;
    }
    for (size_t c = 0; a->v && c < SEVERITIES * a->nclass; c++) {
        ht__heat_spans_free(a->v[c]);
    }
    free(a->v);
    free(a->count);
    ht__heat_slices_free(atomic_load(&a->slices));
    ht__heat_margins_free(atomic_load(&a->margins));
    ht_heat_free(a->geo);
    free(a);
}

ht_heat_atlas *ht_heat_atlas_ref(ht_heat_atlas *a) {
    atomic_fetch_add(&a->refs, 1);
    return a;
}

ht_status ht__heat_atlas_new(const ht_index *ix, const ht_heat_opts *o,
                             ht_heat_atlas **out, ht_error *err) {
    *out = NULL;
    ht_heat_atlas *a = calloc(1, sizeof *a);
    if (!a) {
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    atomic_init(&a->refs, 1);
    a->base = ht_index_base_serial(ix);
    a->nclass = ht_index_categories(ix);
    ht_heat_opts plain = {.radius_m = o->radius_m, .kernel = o->kernel};
    ht_status st = ht__heat_new(ix, &plain, &a->geo, err);
    if (st != HT_OK) {
        ht_heat_atlas_unref(a);
        return st;
    }
    /* The geometry is all it keeps of that grid. */
    ht__heat_grid_give(a->geo->v, a->geo->nx * a->geo->ny);
    a->geo->v = NULL;
    size_t nc = SEVERITIES * a->nclass;
    a->v = calloc(nc ? nc : 1, sizeof *a->v);
    a->count = calloc(nc ? nc : 1, sizeof *a->count);
    if (!a->v || !a->count) {
        ht_heat_atlas_unref(a);
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    *out = a;
    return HT_OK;
}

bool ht__heat_same_nodes(const ht_heat *a, const ht_heat *b) {
    return a->nx == b->nx && a->ny == b->ny && a->x0 == b->x0 &&
           a->y0 == b->y0 && a->step == b->step;
}

size_t ht__heat_atlas_parts(void) {
    long cores =
        atlas_parts ? (long)atlas_parts : sysconf(_SC_NPROCESSORS_ONLN);
    return cores < 2 ? 1 : cores > MAX_PARTS ? MAX_PARTS : (size_t)cores;
}

/* Splat the base in parts, a thread each, each into its own classes, and
 * add them up into @a's. */
static bool splat_parts(ht_heat_atlas *a, const ht_index *ix) {
    size_t parts = ht__heat_atlas_parts();
    size_t nc = SEVERITIES * a->nclass, nodes = a->geo->nx * a->geo->ny;
    atlas_part ps[MAX_PARTS];
    bool ok = true;
    for (size_t p = 0; p < parts; p++) {
        ps[p] =
            (atlas_part){a, ix, p, parts, calloc(nc, sizeof(double *)), true};
        ps[p].ok = ps[p].v != NULL;
        ok = ok && ps[p].ok;
    }
    if (ok) {
        ht__heat_run_parts(splat_part, ps, sizeof *ps, parts);
    }
    for (size_t p = 0; p < parts; p++) {
        ok = ok && ps[p].ok;
    }
    /* Summed in doubles, kept in floats: the grids are never changed, so
     * their rounding (6e-8 of a node) does not pile up. */
    double *sum = ok ? malloc(nodes * sizeof *sum) : NULL;
    ok = ok && sum;
    a->bytes = 0;
    for (size_t c = 0; ok && c < nc; c++) {
        bool any = false;
        for (size_t p = 0; p < parts; p++) {
            any = any || ps[p].v[c];
        }
        if (!any) {
            continue;
        }
        for (size_t k = 0; k < nodes; k++) {
            double v = 0;
            for (size_t p = 0; p < parts; p++) {
                v += ps[p].v[c] ? ps[p].v[c][k] : 0;
            }
            sum[k] = v;
        }
        if (!(a->v[c] = ht__heat_spans_new(sum, a->geo->nx, a->geo->ny))) {
            ok = false;
            break;
        }
        a->bytes += ht__heat_spans_bytes(a->v[c]);
    }
    free(sum);
    for (size_t p = 0; p < parts; p++) {
        for (size_t c = 0; ps[p].v && c < nc; c++) {
            free(ps[p].v[c]);
        }
        free(ps[p].v);
    }
    return ok;
}

ht_status ht_heat_atlas_build(const ht_index *ix, const ht_heat_opts *o,
                              size_t max_bytes, ht_heat_atlas **out,
                              ht_error *err) {
    *out = NULL;
    if (o->weight) {
        return ht_error_set(err, HT_EINVAL,
                            "density grids per class count incidents: no "
                            "weight");
    }
    ht_heat_atlas *a;
    ht_status st = ht__heat_atlas_new(ix, o, &a, err);
    if (st != HT_OK) {
        return st;
    }
    size_t nc = SEVERITIES * a->nclass, nodes = a->geo->nx * a->geo->ny;
    /* The classes present: their whole rectangles are more than they
     * keep (their spans), and are taken while they are summed. */
    ht_index_base_rows(ix, 0, 1, count_row, a);
    size_t used = 0;
    for (size_t c = 0; c < nc; c++) {
        used += a->count[c] > 0;
    }
    if (!splat_parts(a, ix)) {
        ht_heat_atlas_unref(a);
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    if (a->bytes > max_bytes) {
        size_t bytes = a->bytes;
        ht_heat_atlas_unref(a);
        return ht_error_set(err, HT_ENOMEM,
                            "density grids per class: %zu classes of %zu "
                            "nodes take %zu kB, over %zu kB",
                            used, nodes, bytes >> 10, max_bytes >> 10);
    }
    *out = a;
    return HT_OK;
}

size_t ht_heat_atlas_bytes(const ht_heat_atlas *a) {
    const heat_slices *sl = ht__heat_atlas_slices(a);
    const heat_margins *ms = ht__heat_atlas_margins(a);
    return a->bytes + (sl ? sl->bytes : 0) + (ms ? ms->bytes : 0);
}

uint64_t ht_heat_atlas_base(const ht_heat_atlas *a) {
    return a->base;
}

double ht_heat_atlas_radius(const ht_heat_atlas *a) {
    return a->geo->o.radius_m;
}

ht_kernel ht_heat_atlas_kernel(const ht_heat_atlas *a) {
    return a->geo->o.kernel;
}

/* How @a gives the grid of @ix under @q with @o. */
typedef enum served { NOT_SERVED, BY_CLASS, BY_TIME } served;

/* ht_heat_atlas_serves: by class with the severities @q passes in *@sev,
 * or by time, with its slices in *@sl and the window in @t. */
static served serves(const ht_heat_atlas *a, const ht_index *ix,
                     const ht_index_filter *q, const ht_heat_opts *o,
                     unsigned *sev, const heat_slices **sl, int64_t t[2]) {
    if (a->base != ht_index_base_serial(ix) || o->weight ||
        o->radius_m != a->geo->o.radius_m || o->kernel != a->geo->o.kernel) {
        return NOT_SERVED;
    }
    if (ht_index_filter_classes(q, sev)) {
        return BY_CLASS;
    }
    return (*sl = ht__heat_atlas_slices(a)) &&
                   ht_index_filter_window(q, &t[0], &t[1])
               ? BY_TIME
               : NOT_SERVED;
}

bool ht_heat_atlas_serves(const ht_heat_atlas *a, const ht_index *ix,
                          const ht_index_filter *q, const ht_heat_opts *o) {
    unsigned sev;
    const heat_slices *sl;
    int64_t t[2];
    return serves(a, ix, q, o, &sev, &sl, t) != NOT_SERVED;
}

long ht__heat_atlas_sum_classes(const ht_heat_atlas *a,
                                const ht_index_filter *q, unsigned sev,
                                ht_heat *h) {
    long count = 0;
    for (int s = 1; s <= SEVERITIES; s++) {
        for (size_t m = 0; (sev >> s & 1) && m < a->nclass; m++) {
            const heat_spans *v = a->v[ht__heat_atlas_class(a, s, (unsigned)m)];
            if (!v || !ht_index_filter_category(q, m)) {
                continue;
            }
            ht__heat_spans_add(v, h->nx, h->v);
            count += (long)a->count[ht__heat_atlas_class(a, s, (unsigned)m)];
        }
    }
    return count;
}

typedef struct change_ctx {
    ht_heat *h;
    long count;
} change_ctx;

static void add_change(void *ud, double x, double y, int sign, int severity,
                       unsigned major, int64_t t) {
    (void)severity, (void)major, (void)t;
    change_ctx *c = ud;
    ht__heat_add(c->h, c->h->v, x, y, sign);
    c->count += sign;
}

ht_status ht_heat_from_atlas(const ht_heat_atlas *a, const ht_index *ix,
                             const ht_index_filter *q, const ht_heat_opts *o,
                             ht_heat **out, ht_error *err) {
    *out = NULL;
    unsigned sev;
    const heat_slices *sl = NULL;
    int64_t t[2];
    served by = serves(a, ix, q, o, &sev, &sl, t);
    if (by == NOT_SERVED &&
        serves(a, ix, NULL, o, &sev, &sl, t) != NOT_SERVED) {
        /* The classes around it, less what they hold that it does not. */
        return ht__heat_from_residue(a, ix, q, o, out, err);
    }
    if (by == NOT_SERVED) {
        return ht_error_set(err, HT_ENOTFOUND,
                            "the density grids per class do not hold it");
    }
    ht_heat *h;
    ht_status st = ht__heat_new(ix, o, &h, err);
    if (st != HT_OK) {
        return st;
    }
    /* The same nodes as the base's: the changes lie within its extent (an
     * incident beyond it widens the grid, which is built whole then). */
    if (!ht__heat_same_nodes(h, a->geo)) {
        ht_heat_free(h);
        return ht_error_set(err, HT_ENOTFOUND,
                            "the changes since the base moved the grid");
    }
    long count = 0;
    if (by == BY_TIME &&
        !ht__heat_slices_sum(a, sl, ix, t[0], t[1], h, &count)) {
        ht_heat_free(h);
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    if (by == BY_CLASS) {
        count += ht__heat_atlas_sum_classes(a, q, sev, h);
    }
    change_ctx c = {h, 0};
    ht_index_changes(ix, q, add_change, &c);
    h->count = (size_t)(count + c.count);
    if (!ht__heat_finish(h)) {
        ht_heat_free(h);
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    *out = h;
    return HT_OK;
}

/* ---- carried past changes, for a snapshot that folds them in ---- */

typedef struct advance_ctx {
    ht_heat_atlas *a;
    double **acc; /* per class: what the changes add */
    bool ok;
} advance_ctx;

static void advance_change(void *ud, double x, double y, int sign, int severity,
                           unsigned major, int64_t t) {
    (void)t;
    advance_ctx *c = ud;
    ht_heat_atlas *a = c->a;
    if (!c->ok) {
        return;
    }
    size_t k = ht__heat_atlas_class(a, severity, major);
    if (!c->acc[k] &&
        !(c->acc[k] = calloc(a->geo->nx * a->geo->ny, sizeof *c->acc[k]))) {
        c->ok = false;
        return;
    }
    ht__heat_add(a->geo, c->acc[k], x, y, sign);
    a->count[k] = (size_t)((long)a->count[k] + sign);
}

ht_status ht_heat_atlas_advance(const ht_heat_atlas *from, const ht_index *ix,
                                ht_heat_atlas **out, ht_error *err) {
    *out = NULL;
    if (from->base != ht_index_base_serial(ix)) {
        return ht_error_set(err, HT_EINVAL,
                            "density grids of another base than the index's");
    }
    ht_heat_atlas *a;
    ht_status st = ht__heat_atlas_new(ix, &from->geo->o, &a, err);
    if (st != HT_OK) {
        return st;
    }
    /* The changes may widen the grid: then it is built whole. */
    if (!ht__heat_same_nodes(a->geo, from->geo)) {
        ht_heat_atlas_unref(a);
        return ht_error_set(err, HT_ENOTFOUND,
                            "the changes since the base moved the grid");
    }
    /* @ix's dictionary holds @from's categories first, and any the
     * changes brought after them. */
    size_t nc = SEVERITIES * a->nclass;
    const heat_spans **was = calloc(nc ? nc : 1, sizeof *was);
    advance_ctx c = {a, calloc(nc ? nc : 1, sizeof(double *)), true};
    c.ok = c.acc && was;
    for (size_t k = 0; c.ok && k < SEVERITIES * from->nclass; k++) {
        size_t to = ht__heat_atlas_class(a, (int)(k / from->nclass) + 1,
                                         (unsigned)(k % from->nclass));
        was[to] = from->v[k];
        a->count[to] = from->count[k];
    }
    if (c.ok) {
        ht_index_changes(ix, NULL, advance_change, &c);
    }
    for (size_t k = 0; c.ok && k < nc; k++) {
        if (!was[k] && !c.acc[k]) {
            continue;
        }
        if (!(a->v[k] = ht__heat_spans_plus(was[k], c.acc[k], a->geo->nx,
                                            a->geo->ny))) {
            c.ok = false;
            break;
        }
        a->bytes += ht__heat_spans_bytes(a->v[k]);
    }
    free(was);
    for (size_t k = 0; c.acc && k < nc; k++) {
        free(c.acc[k]);
    }
    free(c.acc);
    const heat_slices *sl = ht__heat_atlas_slices(from);
    heat_slices *moved = NULL;
    if (c.ok && sl) {
        c.ok = ht__heat_slices_advance(sl, a, ix, &moved);
        atomic_store_explicit(&a->slices, moved, memory_order_release);
    }
    const heat_margins *ms = ht__heat_atlas_margins(from);
    heat_margins *carried = NULL;
    if (c.ok && ms) {
        c.ok = ht__heat_margins_advance(ms, a, ix, &carried);
        atomic_store_explicit(&a->margins, carried, memory_order_release);
    }
    if (!c.ok) {
        ht_heat_atlas_unref(a);
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    *out = a;
    return HT_OK;
}

/* ---- a set shared by a process's renderers, built in threads ---- */

#define SHELF_KEYS 4

struct ht_heat_atlases {
    pthread_mutex_t mu;
    pthread_cond_t done;
    size_t from, max_bytes;
    void (*on_built)(void *ud, const ht_heat_atlas *a, const ht_index *ix);
    bool closed; /* no more builds */
    void *on_built_ud;
    struct shelf_key {
        bool used;
        double radius_m;
        ht_kernel kernel;
        ht_heat_atlas *a;      /* the newest built, or NULL */
        bool building, joined; /* a builder for @want runs / was joined */
        uint64_t want, failed; /* bases being built, last refused */
        pthread_t tid;
        const ht_index *ix; /* the builder's (a reference) */
        struct ht_heat_atlases *set;
    } keys[SHELF_KEYS];
};

ht_status ht_heat_atlases_new(size_t from, size_t max_bytes,
                              ht_heat_atlases **out, ht_error *err) {
    ht_heat_atlases *s = calloc(1, sizeof *s);
    if (!s) {
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->done, NULL);
    s->from = from;
    s->max_bytes = max_bytes;
    for (int k = 0; k < SHELF_KEYS; k++) {
        s->keys[k].joined = true;
        s->keys[k].set = s;
    }
    *out = s;
    return HT_OK;
}

size_t ht_heat_atlases_from(const ht_heat_atlases *s) {
    return s->from;
}

void ht_heat_atlases_wait(ht_heat_atlases *s) {
    for (int k = 0; s && k < SHELF_KEYS; k++) {
        pthread_mutex_lock(&s->mu);
        s->closed = true;
        struct shelf_key *e = &s->keys[k];
        bool join = !e->joined;
        e->joined = true;
        pthread_t tid = e->tid;
        pthread_mutex_unlock(&s->mu);
        if (join) {
            pthread_join(tid, NULL);
        }
    }
}

void ht_heat_atlases_free(ht_heat_atlases *s) {
    if (!s) {
        return;
    }
    ht_heat_atlases_wait(s);
    for (int k = 0; k < SHELF_KEYS; k++) {
        ht_heat_atlas_unref(s->keys[k].a);
    }
    pthread_cond_destroy(&s->done);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* What grids added to @a may take: @per bytes an incident of @ix (8 MB at
 * the least: a small index gets its few), within what the set has left. */
static size_t grow_budget(const ht_heat_atlases *s, const ht_heat_atlas *a,
                          const ht_index *ix, size_t per) {
    size_t budget = ht_index_count(ix) * per, used = ht_heat_atlas_bytes(a);
    budget = budget < (8u << 20) ? 8u << 20 : budget;
    size_t left = s->max_bytes > used ? s->max_bytes - used : 0;
    return budget < left ? budget : left;
}

static void *shelf_build(void *arg) {
    struct shelf_key *e = arg;
    ht_heat_atlases *s = e->set;
    ht_heat_opts o = {.radius_m = e->radius_m, .kernel = e->kernel};
    ht_heat_atlas *a = NULL;
    ht_error err = {0};
    ht_status st = ht_heat_atlas_build(e->ix, &o, s->max_bytes, &a, &err);
    /* Served by class at once; by time when its slices are added. */
    pthread_mutex_lock(&s->mu);
    if (st == HT_OK) {
        ht_heat_atlas_unref(e->a);
        e->a = ht_heat_atlas_ref(a);
    } else {
        e->failed = e->want;
    }
    pthread_cond_broadcast(&s->done);
    pthread_mutex_unlock(&s->mu);
    if (st == HT_OK) {
        /* (a small index gets its few spans, of HT_HEAT_SLICE_ROWS at the
         * shortest) */
        ht_heat_atlas_add_slices(
            a, e->ix, grow_budget(s, a, e->ix, HT_HEAT_SLICE_BYTES), &err);
        ht_heat_atlas_add_margins(
            a, e->ix, grow_budget(s, a, e->ix, HT_HEAT_MARGIN_BYTES), &err);
        if (s->on_built) {
            s->on_built(s->on_built_ud, a, e->ix);
        }
        ht_heat_atlas_unref(a);
    }
    pthread_mutex_lock(&s->mu);
    e->building = false;
    const ht_index *ix = e->ix;
    e->ix = NULL;
    pthread_cond_broadcast(&s->done);
    pthread_mutex_unlock(&s->mu);
    ht_index_unref((ht_index *)ix);
    return NULL;
}

/* Start building @e for @ix's base unless it is built, being built or was
 * refused. Call with mu held. */
static void shelf_start(struct shelf_key *e, const ht_index *ix) {
    uint64_t base = ht_index_base_serial(ix);
    /* Under way (for an older base: it finishes first), there, refused. */
    if (e->set->closed || e->building || e->failed == base ||
        (e->a && ht_heat_atlas_base(e->a) == base)) {
        return;
    }
    if (!e->joined) {
        pthread_join(e->tid, NULL); /* done: it cleared building */
        e->joined = true;
    }
    e->want = base;
    e->ix = ht_index_ref((ht_index *)ix);
    e->building = true;
    if (pthread_create(&e->tid, NULL, shelf_build, e) == 0) {
        e->joined = false;
    } else {
        e->building = false;
        e->failed = base;
        ht_index_unref((ht_index *)e->ix);
        e->ix = NULL;
    }
}

static struct shelf_key *shelf_key(ht_heat_atlases *s, const ht_heat_opts *o,
                                   bool add) {
    for (int k = 0; k < SHELF_KEYS; k++) {
        struct shelf_key *e = &s->keys[k];
        if (e->used && e->radius_m == o->radius_m && e->kernel == o->kernel) {
            return e;
        }
    }
    for (int k = 0; add && k < SHELF_KEYS; k++) {
        struct shelf_key *e = &s->keys[k];
        if (!e->used) {
            e->used = true;
            e->radius_m = o->radius_m;
            e->kernel = o->kernel;
            return e;
        }
    }
    return NULL;
}

void ht_heat_atlases_prepare(ht_heat_atlases *s, const ht_index *ix,
                             const ht_heat_opts *o) {
    if (!s || o->weight || ht_index_count(ix) < s->from) {
        return;
    }
    pthread_mutex_lock(&s->mu);
    struct shelf_key *e = shelf_key(s, o, true);
    if (e) {
        shelf_start(e, ix);
    }
    pthread_mutex_unlock(&s->mu);
}

void ht_heat_atlases_on_built(ht_heat_atlases *s,
                              void (*fn)(void *ud, const ht_heat_atlas *a,
                                         const ht_index *ix),
                              void *ud) {
    s->on_built = fn;
    s->on_built_ud = ud;
}

void ht_heat_atlases_put(ht_heat_atlases *s, ht_heat_atlas *a) {
    ht_heat_opts o = {.radius_m = a->geo->o.radius_m,
                      .kernel = a->geo->o.kernel};
    pthread_mutex_lock(&s->mu);
    struct shelf_key *e = shelf_key(s, &o, true);
    if (e && !(e->a && e->a->base == a->base)) {
        ht_heat_atlas_unref(e->a);
        e->a = ht_heat_atlas_ref(a);
    }
    pthread_mutex_unlock(&s->mu);
}

void ht_heat_atlases_each(ht_heat_atlases *s,
                          void (*fn)(void *ud, const ht_heat_atlas *a),
                          void *ud) {
    if (!s) {
        return;
    }
    pthread_mutex_lock(&s->mu);
    for (int k = 0; k < SHELF_KEYS; k++) {
        if (s->keys[k].a) {
            fn(ud, s->keys[k].a);
        }
    }
    pthread_mutex_unlock(&s->mu);
}

void ht_heat_atlases_follow(ht_heat_atlases *s, const ht_index *ix) {
    if (!s || ht_index_count(ix) < s->from) {
        return;
    }
    pthread_mutex_lock(&s->mu);
    for (int k = 0; k < SHELF_KEYS; k++) {
        if (s->keys[k].used) {
            shelf_start(&s->keys[k], ix);
        }
    }
    pthread_mutex_unlock(&s->mu);
}

ht_heat_atlas *ht_heat_atlases_get(ht_heat_atlases *s, const ht_index *ix,
                                   const ht_heat_opts *o, bool wait) {
    if (!s || o->weight || ht_index_count(ix) < s->from) {
        return NULL;
    }
    uint64_t base = ht_index_base_serial(ix);
    pthread_mutex_lock(&s->mu);
    struct shelf_key *e = shelf_key(s, o, true);
    ht_heat_atlas *a = NULL;
    while (e) {
        if (e->a && ht_heat_atlas_base(e->a) == base) {
            a = ht_heat_atlas_ref(e->a);
            break;
        }
        shelf_start(e, ix);
        if (!wait || !e->building || e->failed == base) {
            break;
        }
        pthread_cond_wait(&s->done, &s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return a;
}
