/* SPDX-License-Identifier: Apache-2.0 */
/* Density grids per class in a file beside the index's snapshot, so a
 * restart sums heat maps at once instead of splatting every incident:
 * stamped as the snapshot is, and checked against the index read from it
 * (rows, node geometry, category codes). The grids per span of time
 * follow those per class, and those per value of a dimension follow. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hutong/heat.h"
#include "hutong/model.h"

#include "heat_int.h"

static const char magic[8] = {'H', 'T', 'H', 'E', 'A', 'T', 0, 7};
static const char trailer[8] = {'H', 'T', 'H', 'E', 'A', 'T', 'E', 'N'};

typedef struct io {
    FILE *f;
    bool ok;
} io;

static void put(io *o, const void *p, size_t n) {
    if (o->ok && n && fwrite(p, 1, n, o->f) != n) {
        o->ok = false;
    }
}

static void get(io *i, void *p, size_t n) {
    if (i->ok && n && fread(p, 1, n, i->f) != n) {
        i->ok = false;
    }
    /* A byte of each page read here, once: on some virtual machines the
     * first read of a page the kernel filled costs more than its copy did,
     * and the first request would pay it (as the index's snapshot). */
    volatile const unsigned char *b = p;
    unsigned char seen = 0;
    for (size_t at = 0; i->ok && n >= 65536 && at < n; at += 4096) {
        seen ^= b[at];
    }
    (void)seen;
}

/* The slices' fields, after the classes; none: all 0. */
typedef struct slices_head {
    int64_t span, first;
    uint64_t n, present;
} slices_head;

/* A margin's fields before its nodes (box[2] * box[3] of them). */
typedef struct margin_head {
    uint64_t dim, value, count;
    uint32_t box[4]; /* i0, j0, ni, nj */
    char name[65];
    char pad[7];
} margin_head;

/* A grid's spans: how many values, each row's first column and length,
 * the values. */
static void put_spans(io *o, const heat_spans *sp) {
    uint64_t nv = sp->nv;
    put(o, &nv, sizeof nv);
    put(o, sp->row, sp->ny * sizeof *sp->row);
    put(o, sp->v, sp->nv * sizeof *sp->v);
}

/* The fields that place the nodes, in the file's order. */
typedef struct head {
    int64_t source, version;
    double radius_m;
    uint64_t kernel;
    double x0, y0, step;
    uint64_t nx, ny, classes;
} head;

ht_status ht_heat_atlas_save(const ht_heat_atlas *a, const ht_index *ix,
                             const char *path, int64_t source, int64_t version,
                             ht_error *err) {
    const ht_heat *g = a->geo;
    size_t nc = SEVERITIES * a->nclass, present = 0;
    for (size_t c = 0; c < nc; c++) {
        present += a->v[c] != NULL;
    }
    head h = {
        source,  version, g->o.radius_m, (uint64_t)g->o.kernel, g->x0, g->y0,
        g->step, g->nx,   g->ny,         (uint64_t)present};
    size_t len = strlen(path) + 8;
    char *tmp = malloc(len);
    if (!tmp) {
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    snprintf(tmp, len, "%s.tmp", path);
    io o = {fopen(tmp, "wb"), true};
    ht_status st = HT_OK;
    if (!o.f) {
        st = ht_error_set(err, HT_EIO, "%s: cannot write", tmp);
        free(tmp);
        return st;
    }
    put(&o, magic, sizeof magic);
    put(&o, &h, sizeof h);
    for (size_t c = 0; c < nc; c++) {
        if (!a->v[c]) {
            continue;
        }
        /* A class by its severity and its major's code: category indexes
         * are the index's own. */
        uint64_t sev = c / a->nclass + 1, count = a->count[c];
        char code[16] = {0};
        snprintf(code, sizeof code, "%s",
                 ht_index_category_code(ix, c % a->nclass));
        put(&o, &sev, sizeof sev);
        put(&o, code, sizeof code);
        put(&o, &count, sizeof count);
        put_spans(&o, a->v[c]);
    }
    const heat_slices *sl = ht__heat_atlas_slices(a);
    slices_head sh = {0};
    for (size_t k = 0; sl && k < sl->n; k++) {
        sh.present += sl->v[k] != NULL;
    }
    if (sl) {
        sh = (slices_head){sl->span, sl->first, sl->n, sh.present};
    }
    put(&o, &sh, sizeof sh);
    for (size_t k = 0; sl && k < sl->n; k++) {
        if (sl->v[k]) {
            uint64_t at = k, count = sl->count[k];
            put(&o, &at, sizeof at);
            put(&o, &count, sizeof count);
            put(&o, sl->times[k], sizeof *sl->times);
            put_spans(&o, sl->v[k]);
        }
    }
    const heat_margins *ms = ht__heat_atlas_margins(a);
    uint64_t nm = ms ? ms->n : 0;
    put(&o, &nm, sizeof nm);
    for (size_t k = 0; k < nm; k++) {
        const heat_margin *m = &ms->m[k];
        margin_head mh = {(uint64_t)m->dim,
                          m->value,
                          m->count,
                          {m->i0, m->j0, m->ni, m->nj},
                          {0},
                          {0}};
        memcpy(mh.name, m->name, sizeof mh.name);
        put(&o, &mh, sizeof mh);
        put(&o, m->v, (size_t)m->ni * m->nj * sizeof *m->v);
    }
    put(&o, trailer, sizeof trailer);
    bool flushed = fflush(o.f) == 0 && fsync(fileno(o.f)) == 0;
    bool closed = fclose(o.f) == 0;
    if (!o.ok || !flushed || !closed) {
        st = ht_error_set(err, HT_EIO, "%s: cannot write", tmp);
    } else if (rename(tmp, path) != 0) {
        st = ht_error_set(err, HT_EIO, "%s: cannot rename to %s", tmp, path);
    }
    if (st != HT_OK) {
        unlink(tmp);
    }
    free(tmp);
    return st;
}

/* The category index of code @code in @ix, or (size_t)-1. */
static size_t category_index(const ht_index *ix, const char *code) {
    for (size_t k = 0; k < ht_index_categories(ix); k++) {
        if (strcmp(ht_index_category_code(ix, k), code) == 0) {
            return k;
        }
    }
    return (size_t)-1;
}

/* What put_spans wrote, of @g's nodes, into *@out; why not. */
static const char *read_spans(io *in, const ht_heat *g, heat_spans **out) {
    uint64_t nv = UINT64_MAX;
    get(in, &nv, sizeof nv);
    if (!in->ok || nv > g->nx * g->ny) {
        return in->ok ? "damaged" : "truncated";
    }
    heat_spans *sp = calloc(1, sizeof *sp);
    size_t ny = g->ny;
    if (!sp || !(sp->row = malloc((ny ? ny : 1) * sizeof *sp->row)) ||
        !(sp->at = malloc((ny ? ny : 1) * sizeof *sp->at)) ||
        !(sp->v = malloc((nv ? nv : 1) * sizeof *sp->v))) {
        ht__heat_spans_free(sp);
        return "out of memory";
    }
    sp->ny = ny;
    sp->nv = (size_t)nv;
    get(in, sp->row, ny * sizeof *sp->row);
    if (!in->ok || !ht__heat_spans_check(sp, g->nx)) {
        ht__heat_spans_free(sp);
        return in->ok ? "damaged" : "truncated";
    }
    get(in, sp->v, sp->nv * sizeof *sp->v);
    if (!in->ok) {
        ht__heat_spans_free(sp);
        return "truncated";
    }
    *out = sp;
    return NULL;
}

static size_t slice_rows(const heat_slices *s) {
    size_t rows = 0;
    for (size_t k = 0; k < s->n; k++) {
        rows += s->count[k];
    }
    return rows;
}

/* The slices after the classes into *@out (NULL: none); why not. */
static const char *read_slices(io *in, const ht_heat *g, heat_slices **out) {
    slices_head sh;
    get(in, &sh, sizeof sh);
    if (!in->ok) {
        return "truncated";
    }
    if (sh.span == 0) {
        return NULL;
    }
    /* At most a slice an hour over the 32-bit times. */
    if (sh.span < 0 || sh.n > ((uint64_t)1 << 32) / 3600 + 2 ||
        sh.present > sh.n) {
        return "damaged";
    }
    heat_slices *s = calloc(1, sizeof *s);
    if (!s || !(s->v = calloc(sh.n ? sh.n : 1, sizeof *s->v)) ||
        !(s->count = calloc(sh.n ? sh.n : 1, sizeof *s->count)) ||
        !(s->times = calloc(sh.n ? sh.n : 1, sizeof *s->times))) {
        ht__heat_slices_free(s);
        return "out of memory";
    }
    *s = (heat_slices){sh.span, sh.first, sh.n, s->v, s->count, s->times, 0};
    for (uint64_t p = 0; p < sh.present; p++) {
        uint64_t at = 0, count = 0;
        int64_t times[2] = {0, 0};
        get(in, &at, sizeof at);
        get(in, &count, sizeof count);
        get(in, times, sizeof times);
        if (!in->ok || at >= sh.n || s->v[at] || count == 0 ||
            times[0] > times[1]) {
            ht__heat_slices_free(s);
            return in->ok ? "damaged" : "truncated";
        }
        const char *why = read_spans(in, g, &s->v[at]);
        if (why) {
            ht__heat_slices_free(s);
            return why;
        }
        s->count[at] = count;
        memcpy(s->times[at], times, sizeof times);
        s->bytes += ht__heat_spans_bytes(s->v[at]);
    }
    if (!in->ok) {
        ht__heat_slices_free(s);
        return "truncated";
    }
    *out = s;
    return NULL;
}

/* The margins after the slices into *@out (NULL: none); why not. */
static const char *read_margins(io *in, const ht_index *ix, const ht_heat *g,
                                size_t rows, heat_margins **out) {
    uint64_t n = 0;
    get(in, &n, sizeof n);
    if (!in->ok) {
        return "truncated";
    }
    size_t ndepts;
    const char *const *depts = ht_index_departments(ix, &ndepts);
    size_t ngrids = ht_index_groups(ix, HT_GROUP_GRID) - 1;
    if (n > 8 + 8 + 4 + (uint64_t)ndepts + ht_index_categories(ix) + ngrids) {
        return "damaged";
    }
    if (n == 0) {
        return NULL;
    }
    heat_margins *ms = calloc(1, sizeof *ms);
    if (!ms || !(ms->m = calloc(n, sizeof *ms->m))) {
        free(ms);
        return "out of memory";
    }
    const char *why = NULL;
    for (uint64_t k = 0; !why && k < n; k++) {
        margin_head mh;
        get(in, &mh, sizeof mh);
        mh.name[sizeof mh.name - 1] = '\0';
        bool known = mh.dim != MARGIN_DEPARTMENT && mh.dim != MARGIN_CATEGORY &&
                     mh.dim != MARGIN_GRID;
        for (size_t d = 0; !known && mh.dim == MARGIN_DEPARTMENT && d < ndepts;
             d++) {
            known = strcmp(depts[d], mh.name) == 0;
        }
        for (size_t c = 0;
             !known && mh.dim == MARGIN_CATEGORY && c < ht_index_categories(ix);
             c++) {
            known = strcmp(ht_index_category_code(ix, c), mh.name) == 0;
        }
        for (size_t gi = 0; !known && mh.dim == MARGIN_GRID && gi < ngrids;
             gi++) {
            char buf[16];
            known = ht_index_grid_is_community(ix, gi) &&
                    strcmp(ht_index_group_key(ix, HT_GROUP_GRID, gi, buf),
                           mh.name) == 0;
        }
        /* (a community's box within the nodes, the others' all of them) */
        bool whole = mh.box[0] == 0 && mh.box[1] == 0 && mh.box[2] == g->nx &&
                     mh.box[3] == g->ny;
        bool boxed = (uint64_t)mh.box[0] + mh.box[2] <= g->nx &&
                     (uint64_t)mh.box[1] + mh.box[3] <= g->ny;
        if (!in->ok) {
            why = "truncated";
        } else if (!(mh.dim == MARGIN_GRID ? boxed : whole)) {
            why = "damaged";
        } else if (mh.dim >= MARGIN_DIMS || mh.count > rows ||
                   mh.value >= (mh.dim == MARGIN_STATE    ? HT_STATE_COUNT
                                : mh.dim == MARGIN_SOURCE ? HT_SOURCE_COUNT
                                : mh.dim == MARGIN_SATISFACTION ? HT_SAT_COUNT
                                                                : 1)) {
            why = "damaged";
        } else if (!known) {
            why = "of other departments or categories than the index's";
        } else {
            size_t nodes = (size_t)mh.box[2] * mh.box[3];
            heat_margin *m = &ms->m[ms->n++];
            *m = (heat_margin){(margin_dim)mh.dim,
                               (uint32_t)mh.value,
                               "",
                               (size_t)mh.count,
                               mh.box[0],
                               mh.box[1],
                               mh.box[2],
                               mh.box[3],
                               malloc((nodes ? nodes : 1) * sizeof(float))};
            memcpy(m->name, mh.name, sizeof m->name);
            if (!m->v) {
                why = "out of memory";
                break;
            }
            get(in, m->v, nodes * sizeof *m->v);
            ms->bytes += nodes * sizeof *m->v;
            why = in->ok ? NULL : "truncated";
        }
    }
    if (why) {
        ht__heat_margins_free(ms);
        return why;
    }
    *out = ms;
    return NULL;
}

ht_status ht_heat_atlas_read(const char *path, const ht_index *ix,
                             const ht_heat_opts *o, int64_t source,
                             int64_t version, ht_heat_atlas **out,
                             ht_error *err) {
    *out = NULL;
    io in = {fopen(path, "rb"), true};
    if (!in.f) {
        return ht_error_set(err, HT_ENOTFOUND, "%s: none", path);
    }
    char m[8];
    head h;
    get(&in, m, sizeof m);
    get(&in, &h, sizeof h);
    const char *why = NULL;
    if (!in.ok || memcmp(m, magic, sizeof m) != 0) {
        why = "not density grids of this version";
    } else if (h.source != source || h.version != version) {
        why = "of another snapshot of the index";
    } else if (h.radius_m != o->radius_m || h.kernel != (uint64_t)o->kernel) {
        why = "of another radius or kernel";
    }
    ht_heat_atlas *a = NULL;
    ht_status st = why ? HT_OK : ht__heat_atlas_new(ix, o, &a, err);
    if (st != HT_OK) {
        fclose(in.f);
        return st;
    }
    size_t nc = 0, rows = 0;
    if (a) {
        const ht_heat *g = a->geo;
        nc = SEVERITIES * a->nclass;
        if (g->x0 != h.x0 || g->y0 != h.y0 || g->step != h.step ||
            g->nx != h.nx || g->ny != h.ny) {
            why = "of other nodes than the index's";
        } else if (h.classes > nc) {
            why = "damaged";
        }
    }
    for (uint64_t k = 0; !why && k < h.classes; k++) {
        uint64_t sev = 0, count = 0;
        char code[16];
        get(&in, &sev, sizeof sev);
        get(&in, code, sizeof code);
        get(&in, &count, sizeof count);
        code[15] = '\0';
        size_t major = in.ok ? category_index(ix, code) : (size_t)-1;
        if (!in.ok || sev < 1 || sev > SEVERITIES || major == (size_t)-1) {
            why = in.ok ? "of other categories than the index's" : "truncated";
            break;
        }
        size_t c = ht__heat_atlas_class(a, (int)sev, (unsigned)major);
        if (a->v[c]) {
            why = "damaged";
            break;
        }
        if ((why = read_spans(&in, a->geo, &a->v[c])) != NULL) {
            break;
        }
        a->count[c] = count;
        rows += count;
        a->bytes += ht__heat_spans_bytes(a->v[c]);
    }
    heat_slices *sl = NULL;
    heat_margins *ms = NULL;
    if (!why) {
        why = read_slices(&in, a->geo, &sl);
    }
    if (!why) {
        why = read_margins(&in, ix, a->geo, rows, &ms);
    }
    if (!why) {
        get(&in, m, sizeof m);
        if (!in.ok || memcmp(m, trailer, sizeof m) != 0) {
            why = "truncated";
        } else if (rows != ht_index_count(ix) ||
                   (sl && slice_rows(sl) != rows)) {
            why = "of another number of incidents than the index";
        }
    }
    fclose(in.f);
    if (why) {
        ht__heat_slices_free(sl);
        ht__heat_margins_free(ms);
        if (a) {
            ht_heat_atlas_unref(a);
        }
        return ht_error_set(err, HT_ENOTFOUND, "%s: %s", path, why);
    }
    atomic_store_explicit(&a->slices, sl, memory_order_release);
    atomic_store_explicit(&a->margins, ms, memory_order_release);
    *out = a;
    return HT_OK;
}
