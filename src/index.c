/* SPDX-License-Identifier: Apache-2.0 */
/* The in-memory incident index: projected, columnar, spatially ordered. */
#include "hutong/index.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hutong/buf.h"
#include "hutong/datetime.h"
#include "hutong/stats.h"
#include "hutong/tile.h"

#include "index_int.h"
#include "index_tally_int.h"

/* ---- columns ---- */

void ht__index_cols_free(cols *c) {
    free(c->x);
    free(c->y);
    free(c->ox);
    free(c->oy);
    free(c->bo);
    free(c->bw);
    free(c->whi);
    free(c->t);
    free(c->cat);
    free(c->cat8);
    free(c->flags);
    free(c->grid);
    free(c->grid2);
    free(c->street);
    free(c->street3);
    free(c->sids);
    free(c->id);
    free(c->ib);
    free(c->id3);
    free(c->dept);
    free(c->dept8);
    free(c->extra);
    free(c->close);
    free(c->arrive);
    memset(c, 0, sizeof *c);
}

ht_status ht__index_cols_reserve(cols *c, size_t need, ht_error *err) {
    if (need <= c->cap) {
        return HT_OK;
    }
    size_t cap = c->cap ? c->cap : 1024;
    while (cap < need) {
        cap *= 2;
    }
    void **arrays[12] = {
        (void **)&c->x,      (void **)&c->y,     (void **)&c->t,
        (void **)&c->cat,    (void **)&c->flags, (void **)&c->grid,
        (void **)&c->street, (void **)&c->id,    (void **)&c->dept,
        (void **)&c->extra,  (void **)&c->close, (void **)&c->arrive};
    const size_t size[12] = {4, 4, 4, 2, 1, 3, 4, 4, 2, 1, 2, 2};
    /* Each array keeps whatever moved, even if a later one fails, so
     * nothing leaks; the capacity grows only when all did (the grids' one
     * byte more: a row's 3 are read as 4). */
    for (int k = 0; k < 12; k++) {
        void *p = realloc(*arrays[k], cap * size[k] + (k == 5));
        if (!p) {
            return ht_error_set(err, HT_ENOMEM, "out of memory");
        }
        *arrays[k] = p;
    }
    c->cap = cap;
    return HT_OK;
}

void ht__index_cols_copy_row(cols *dst, size_t di, const cols *src, size_t si) {
    ht__row_q(src, si, &dst->x[di], &dst->y[di]);
    dst->t[di] = src->t[si];
    dst->cat[di] = (uint16_t)ht__row_cat(src, si);
    dst->flags[di] = src->flags[si];
    ht__set_grid(dst, di, ht__row_grid(src, si));
    dst->street[di] = ht__row_street(src, si);
    dst->id[di] = ht__row_id(src, si);
    dst->dept[di] = (uint16_t)ht__row_dept(src, si);
    dst->extra[di] = src->extra[si];
    dst->close[di] = src->close[si];
    dst->arrive[di] = src->arrive[si];
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The streets in 3 bytes a row: the ids themselves when all are under
 * NONE24, else their places in a sorted table of them (kept whole when
 * even those do not fit). */
static bool pack_streets(cols *c) {
    if (!c->street) {
        return true;
    }
    size_t n = c->n, nsids = 0;
    uint32_t *sids = NULL;
    bool big = false;
    for (size_t i = 0; i < n && !big; i++) {
        big = c->street[i] != NONE32 && c->street[i] >= NONE24;
    }
    if (big) {
        if (!(sids = malloc(n * sizeof *sids))) {
            return false;
        }
        for (size_t i = 0; i < n; i++) {
            if (c->street[i] != NONE32) {
                sids[nsids++] = c->street[i];
            }
        }
        qsort(sids, nsids, sizeof *sids, cmp_u32);
        size_t m = 0;
        for (size_t k = 0; k < nsids; k++) {
            if (m == 0 || sids[m - 1] != sids[k]) {
                sids[m++] = sids[k];
            }
        }
        nsids = m;
        if (nsids >= NONE24) {
            free(sids);
            return true;
        }
        uint32_t *fit = realloc(sids, (nsids ? nsids : 1) * sizeof *sids);
        sids = fit ? fit : sids;
    }
    uint8_t *s3 = malloc(3 * n + 1);
    if (!s3) {
        free(sids);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t v = c->street[i];
        if (v == NONE32) {
            v = NONE24;
        } else if (sids) {
            const uint32_t *at =
                bsearch(&v, sids, nsids, sizeof *sids, cmp_u32);
            v = (uint32_t)(at - sids);
        }
        ht__put3(s3, i, v);
    }
    free(c->street);
    c->street = NULL;
    c->street3 = s3;
    c->sids = sids;
    c->nsids = nsids;
    return true;
}

static atomic_bool narrow_off;

void ht__index_set_narrow(bool on) {
    atomic_store(&narrow_off, !on);
}

/* Categories and departments in a byte a row, grids in 2, when all
 * their values fit (a city's dictionaries: tens of categories and
 * departments, thousands of grids); each kept whole otherwise. */
static bool pack_narrow(cols *c) {
    if (atomic_load(&narrow_off) || !c->cat || !c->dept || !c->grid) {
        return true; /* (or packed already) */
    }
    size_t n = c->n;
    uint32_t cmax = 0, dmax = 0, gmax = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t g = ht__get3(c->grid, i);
        cmax = c->cat[i] > cmax ? c->cat[i] : cmax;
        dmax = c->dept[i] != NONE16 && c->dept[i] > dmax ? c->dept[i] : dmax;
        gmax = g != NONE24 && g > gmax ? g : gmax;
    }
    uint8_t *cat8 = cmax < NONE8 ? malloc(n ? n : 1) : NULL;
    uint8_t *dept8 = dmax < NONE8 ? malloc(n ? n : 1) : NULL;
    uint16_t *grid2 =
        gmax < NONE16 ? malloc((n ? n : 1) * sizeof *grid2) : NULL;
    if ((cmax < NONE8 && !cat8) || (dmax < NONE8 && !dept8) ||
        (gmax < NONE16 && !grid2)) {
        free(cat8);
        free(dept8);
        free(grid2);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (cat8) {
            cat8[i] = (uint8_t)c->cat[i];
        }
        if (dept8) {
            dept8[i] = c->dept[i] == NONE16 ? NONE8 : (uint8_t)c->dept[i];
        }
        if (grid2) {
            uint32_t g = ht__get3(c->grid, i);
            grid2[i] = g == NONE24 ? NONE16 : (uint16_t)g;
        }
    }
    if (cat8) {
        free(c->cat);
        c->cat = NULL;
        c->cat8 = cat8;
    }
    if (dept8) {
        free(c->dept);
        c->dept = NULL;
        c->dept8 = dept8;
    }
    if (grid2) {
        free(c->grid);
        c->grid = NULL;
        c->grid2 = grid2;
    }
    return true;
}

/* The ids by blocks of 64 rows, when each block's fit in 3 bytes above
 * its least (in a cell, rows are in id order: a block holds ids near
 * each other where the cell is busy); kept whole otherwise. */
static bool pack_ids(cols *c) {
    if (atomic_load(&narrow_off) || !c->id) {
        return true;
    }
    size_t n = c->n, nb = (n + 63) / 64;
    uint32_t *ib = malloc((nb ? nb : 1) * sizeof *ib);
    if (!ib) {
        return false;
    }
    for (size_t k = 0; k < nb; k++) {
        size_t e = n - k * 64 < 64 ? n - k * 64 : 64;
        uint32_t lo = UINT32_MAX, hi = 0;
        for (size_t i = k * 64; i < k * 64 + e; i++) {
            lo = c->id[i] < lo ? c->id[i] : lo;
            hi = c->id[i] > hi ? c->id[i] : hi;
        }
        if (hi - lo > NONE24) {
            free(ib);
            return true;
        }
        ib[k] = lo;
    }
    uint8_t *id3 = malloc(3 * n + 1);
    if (!id3) {
        free(ib);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        ht__put3(id3, i, c->id[i] - ib[i / 64]);
    }
    free(c->id);
    c->id = NULL;
    c->ib = ib;
    c->id3 = id3;
    return true;
}

bool ht__index_cols_pack(cols *c) {
    if (!pack_streets(c) || !pack_narrow(c) || !pack_ids(c)) {
        return false;
    }
    if (!c->x) {
        return true;
    }
    size_t n = c->n, nb = (n + 63) / 64, nwide = 0;
    uint16_t *ox = malloc((n ? n : 1) * sizeof *ox);
    uint16_t *oy = malloc((n ? n : 1) * sizeof *oy);
    uint32_t(*bo)[2] = malloc((nb ? nb : 1) * sizeof *bo);
    uint32_t *bw = malloc((nb ? nb : 1) * sizeof *bw);
    bool ok = ox && oy && bo && bw;
    for (size_t k = 0; ok && k < nb; k++) {
        size_t e = n - k * 64 < 64 ? n - k * 64 : 64;
        uint32_t x0 = UINT32_MAX, y0 = UINT32_MAX, x1 = 0, y1 = 0;
        for (size_t i = k * 64; i < k * 64 + e; i++) {
            x0 = c->x[i] < x0 ? c->x[i] : x0;
            y0 = c->y[i] < y0 ? c->y[i] : y0;
            x1 = c->x[i] > x1 ? c->x[i] : x1;
            y1 = c->y[i] > y1 ? c->y[i] : y1;
        }
        bo[k][0] = x0;
        bo[k][1] = y0;
        bw[k] = x1 - x0 > UINT16_MAX || y1 - y0 > UINT16_MAX ? (uint32_t)nwide++
                                                             : UINT32_MAX;
    }
    uint16_t(*whi)[2] =
        ok ? malloc((nwide ? nwide : 1) * 64 * sizeof *whi) : NULL;
    if (!ok || !whi) {
        free(ox);
        free(oy);
        free(bo);
        free(bw);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        size_t k = i / 64;
        if (bw[k] == UINT32_MAX) {
            ox[i] = (uint16_t)(c->x[i] - bo[k][0]);
            oy[i] = (uint16_t)(c->y[i] - bo[k][1]);
        } else {
            ox[i] = (uint16_t)c->x[i];
            oy[i] = (uint16_t)c->y[i];
            whi[(size_t)bw[k] * 64 + i % 64][0] = (uint16_t)(c->x[i] >> 16);
            whi[(size_t)bw[k] * 64 + i % 64][1] = (uint16_t)(c->y[i] >> 16);
        }
    }
    free(c->x);
    free(c->y);
    c->x = c->y = NULL;
    c->ox = ox;
    c->oy = oy;
    c->bo = bo;
    c->bw = bw;
    c->whi = whi;
    c->nwide = nwide;
    return true;
}

bool ht__index_pack_by_id(base *b) {
    size_t n = b->c.n;
    if (!b->by_id || n >= NONE24) {
        return true;
    }
    uint8_t *p = malloc(3 * n + 1);
    if (!p) {
        return false;
    }
    for (size_t k = 0; k < n; k++) {
        ht__put3(p, k, b->by_id[k]);
    }
    free(b->by_id);
    b->by_id = NULL;
    b->by_id3 = p;
    return true;
}

/* ---- dictionaries ---- */

void ht__index_dict_unref(dict *d) {
    if (!d || atomic_fetch_sub(&d->refs, 1) != 1) {
        return;
    }
    for (size_t i = 0; i < d->ncats; i++) {
        free(d->cats[i].code);
    }
    for (size_t i = 0; i < d->ngrids; i++) {
        free(d->grids[i].code);
    }
    free(d->due);
    for (size_t i = 0; i < d->ndepts; i++) {
        free(d->depts[i]);
    }
    free(d->cats);
    free(d->grids);
    free(d->depts);
    free(d);
}

static size_t find_code(const void *arr, size_t n, size_t elem,
                        const char *code) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const char *c = *(char *const *)((const char *)arr + mid * elem);
        int r = strcmp(c, code);
        if (r == 0) {
            return mid;
        }
        if (r < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return (size_t)-1;
}

/* What dict_load collects: codes in store order with their parents. */
typedef struct dict_loader {
    dict *d;
    char **parents;
    size_t nparents, cap_parents;
    ht_level level; /* of the grid being added */
} dict_loader;

static ht_status dict_add(dict_loader *l, bool grid, const char *code,
                          const char *parent, ht_error *err) {
    dict *d = l->d;
    char *c = strdup(code), *p = parent ? strdup(parent) : NULL;
    ht_status st = c && (!parent || p)
                       ? ht_array_grow((void **)&l->parents, &l->cap_parents,
                                       l->nparents + 1, sizeof *l->parents, err)
                       : ht_error_set(err, HT_ENOMEM, "out of memory");
    if (st == HT_OK && !grid) {
        st = ht_array_grow((void **)&d->cats, &d->cap_cats, d->ncats + 1,
                           sizeof *d->cats, err);
        if (st == HT_OK) {
            d->cats[d->ncats++] = (cat_entry){c, 0};
        }
    } else if (st == HT_OK) {
        st = ht_array_grow((void **)&d->grids, &d->cap_grids, d->ngrids + 1,
                           sizeof *d->grids, err);
        if (st == HT_OK) {
            d->grids[d->ngrids++] =
                (grid_entry){c, NONE32, l->level, NONE32, NONE32};
        }
    }
    if (st != HT_OK) {
        free(c);
        free(p);
        return st;
    }
    l->parents[l->nparents++] = p;
    return HT_OK;
}

static ht_status dict_category(const ht_category_rec *rec, void *ud,
                               ht_error *err) {
    /* A major is its own major. */
    return dict_add(ud, false, rec->code,
                    rec->parent_code ? rec->parent_code : rec->code, err);
}

static ht_status dict_grid(const char *code, const char *parent_code,
                           ht_level level, void *ud, ht_error *err) {
    dict_loader *l = ud;
    l->level = level;
    return dict_add(ud, true, code, parent_code, err);
}

static ht_status dict_deadline(const char *category, int severity,
                               int64_t response_s, int64_t resolution_s,
                               void *ud, ht_error *err) {
    (void)err;
    dict *d = ud;
    size_t ci = find_code(d->cats, d->ncats, sizeof *d->cats, category);
    if (ci != (size_t)-1 && severity >= 1 && severity <= 3 && response_s >= 0 &&
        response_s <= INT32_MAX && resolution_s >= 0 &&
        resolution_s <= INT32_MAX) {
        d->due[ci][severity][0] = (int32_t)response_s;
        d->due[ci][severity][1] = (int32_t)resolution_s;
    }
    return HT_OK;
}

static ht_status dict_department(const char *name, void *ud, ht_error *err) {
    dict *d = ud;
    char *c = strdup(name);
    ht_status st = c ? ht_array_grow((void **)&d->depts, &d->cap_depts,
                                     d->ndepts + 1, sizeof *d->depts, err)
                     : ht_error_set(err, HT_ENOMEM, "out of memory");
    if (st != HT_OK) {
        free(c);
        return st;
    }
    d->depts[d->ndepts++] = c;
    return HT_OK;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A department's index, or (size_t)-1. */
static size_t find_dept(const dict *d, const char *name) {
    const char *key = name;
    char *const *hit = d->ndepts ? bsearch(&key, d->depts, d->ndepts,
                                           sizeof *d->depts, cmp_str)
                                 : NULL;
    return hit ? (size_t)(hit - d->depts) : (size_t)-1;
}

/* Both tables read in code order, so lookups bisect. */
static ht_status dict_load(ht_store *s, dict **out, ht_error *err) {
    dict *d = calloc(1, sizeof *d);
    if (!d) {
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    atomic_init(&d->refs, 1);
    dict_loader l = {.d = d};
    ht_status st = ht_store_each_category(s, dict_category, &l, err);
    if (st == HT_OK) {
        st = ht_store_each_grid_link(s, dict_grid, &l, err);
    }
    if (st == HT_OK) {
        st = ht_store_each_department(s, dict_department, d, err);
    }
    if (st == HT_OK && d->ndepts > 1) {
        qsort(d->depts, d->ndepts, sizeof *d->depts, cmp_str);
    }
    if (st == HT_OK &&
        (d->ncats >= NONE16 || d->ngrids >= NONE24 || d->ndepts >= NONE16)) {
        st = ht_error_set(err, HT_EINVAL, "too many categories or grids");
    }
    for (size_t i = 0; st == HT_OK && i < d->ncats; i++) {
        size_t m = find_code(d->cats, d->ncats, sizeof *d->cats, l.parents[i]);
        d->cats[i].major = (uint16_t)(m == (size_t)-1 ? i : m);
    }
    for (size_t i = 0; st == HT_OK && i < d->ngrids; i++) {
        const char *p = l.parents[d->ncats + i];
        size_t m = p ? find_code(d->grids, d->ngrids, sizeof *d->grids, p)
                     : (size_t)-1;
        d->grids[i].parent = m == (size_t)-1 ? NONE32 : (uint32_t)m;
    }
    /* Each grid's street office and community, itself included. */
    for (size_t i = 0; st == HT_OK && i < d->ngrids; i++) {
        size_t a = i;
        for (int depth = 0; depth < 16 && a != NONE32; depth++) {
            if (d->grids[a].level == HT_LEVEL_STREET &&
                d->grids[i].street == NONE32) {
                d->grids[i].street = (uint32_t)a;
            }
            if (d->grids[a].level == HT_LEVEL_COMMUNITY &&
                d->grids[i].community == NONE32) {
                d->grids[i].community = (uint32_t)a;
            }
            a = d->grids[a].parent;
        }
    }
    if (st == HT_OK) {
        d->due = malloc((d->ncats ? d->ncats : 1) * sizeof *d->due);
        if (!d->due) {
            st = ht_error_set(err, HT_ENOMEM, "out of memory");
        } else {
            memset(d->due, 0xff, (d->ncats ? d->ncats : 1) * sizeof *d->due);
            st = ht_store_each_deadline(s, dict_deadline, d, err);
        }
    }
    for (size_t i = 0; i < l.nparents; i++) {
        free(l.parents[i]);
    }
    free(l.parents);
    if (st != HT_OK) {
        ht__index_dict_unref(d);
        return st;
    }
    *out = d;
    return HT_OK;
}

/* ---- reading incidents ---- */

/* Append incident @r to @c. HT_ENOTFOUND for a row it cannot hold (an
 * unknown category or grid: the dictionaries are stale). */
static ht_status read_row(const ht_incident_row *r, const dict *d, cols *c,
                          ht_error *err) {
    if (r->id < 0 || r->id >= NONE32) {
        return ht_error_set(err, HT_EINVAL,
                            "incident id %lld beyond the index's 32 bits",
                            (long long)r->id);
    }
    size_t ci = find_code(d->cats, d->ncats, sizeof *d->cats, r->category);
    size_t gi = r->grid_code ? find_code(d->grids, d->ngrids, sizeof *d->grids,
                                         r->grid_code)
                             : NONE32;
    size_t di = r->department ? find_dept(d, r->department) : NONE16;
    if (ci == (size_t)-1 || gi == (size_t)-1 || di == (size_t)-1) {
        return HT_ENOTFOUND;
    }
    ht_status st = ht__index_cols_reserve(c, c->n + 1, err);
    if (st != HT_OK) {
        return st;
    }
    double mx, my;
    ht_tile_lonlat_to_merc(r->lon, r->lat, &mx, &my);
    int64_t t = r->reported_at;
    size_t i = c->n++;
    c->x[i] = ht__quantise(mx);
    c->y[i] = ht__quantise(my);
    c->t[i] = t < 0 ? 0 : t > (int64_t)NONE32 ? NONE32 : (uint32_t)t;
    c->cat[i] = (uint16_t)ci;
    c->flags[i] = (uint8_t)((r->severity & 3) | (unsigned)r->source << 2 |
                            (unsigned)r->state << 5);
    ht__set_grid(c, i, (uint32_t)gi);
    c->street[i] = r->street_id < 0 ? NONE32 : (uint32_t)r->street_id;
    c->id[i] = (uint32_t)r->id;
    c->dept[i] = (uint16_t)di;
    c->extra[i] =
        (uint8_t)((unsigned)r->satisfaction | (unsigned)r->whistle << 2);
    /* What is decided stays so: the deadlines met or missed (as the
     * statistics judge them, at any time after: pending ones are judged
     * at the time of the figures). */
    ht_store_fact f = {.state = r->state,
                       .reported_at = r->reported_at,
                       .closed_at = r->closed_at,
                       .dispatched_at = r->dispatched_at,
                       .response_due = r->response_due,
                       .resolution_due = r->resolution_due};
    ht_due_state resp, resol;
    ht_stats_due(&f, INT64_MIN, &resp, &resol);
    c->extra[i] |= (uint8_t)((unsigned)resp << 4 | (unsigned)resol << 6);
    c->close[i] = r->state >= HT_STATE_CLOSED && r->closed_at != HT_TIME_NONE
                      ? ht_stats_duration_code(r->closed_at - r->reported_at)
                      : HT_STATS_NO_DURATION;
    c->arrive[i] =
        r->handling_at != HT_TIME_NONE && r->dispatched_at != HT_TIME_NONE
            ? ht_stats_duration_code(r->handling_at - r->dispatched_at)
            : HT_STATS_NO_DURATION;
    return HT_OK;
}

/* Reading every incident into columns. */
typedef struct loader {
    const dict *d;
    cols *c;
    bool stale; /* a row the dictionaries do not know */
} loader;

static ht_status load_row(const ht_incident_row *r, void *ud, ht_error *err) {
    loader *l = ud;
    ht_status st = read_row(r, l->d, l->c, err);
    if (st == HT_ENOTFOUND) {
        l->stale = true;
        st = HT_OK;
    }
    return st;
}

/* ---- building the sorted base ---- */

void ht__index_base_unref(base *b) {
    if (!b || atomic_fetch_sub(&b->refs, 1) != 1) {
        return;
    }
    ht__index_cols_free(&b->c);
    free(b->by_id);
    free(b->by_id3);
    free(b->start);
    free(b->gbox);
    ht__tally_memos_free(atomic_load(&b->memos));
    free(b);
}

/* A row and its incident id, sorted by the id: the pairs carry their key,
 * so that no sort context is shared between threads. */
typedef struct id_row {
    uint32_t id, row;
} id_row;

static int cmp_id_row(const void *a, const void *b) {
    const id_row *p = a, *q = b;
    return (p->id > q->id) - (p->id < q->id);
}

/* @order[0..n) becomes the rows 0..n-1 of @ids in increasing id order;
 * HT_ENOMEM leaves it unset. */
static ht_status order_by_id(uint32_t *order, const uint32_t *ids, size_t n,
                             ht_error *err) {
    id_row *p = malloc((n ? n : 1) * sizeof *p);
    if (!p) {
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        p[i] = (id_row){ids[i], (uint32_t)i};
    }
    if (n > 1) {
        qsort(p, n, sizeof *p, cmp_id_row);
    }
    for (size_t i = 0; i < n; i++) {
        order[i] = p[i].row;
    }
    free(p);
    return HT_OK;
}

bool ht__index_extent(const cols *c, base *b) {
    uint32_t minx = NONE32, miny = NONE32, maxx = 0, maxy = 0;
    uint32_t tlo = NONE32, thi = 0;
    size_t ng = 0;
    for (size_t i = 0; i < c->n; i++) {
        uint32_t x, y;
        ht__row_q(c, i, &x, &y);
        tlo = c->t[i] < tlo ? c->t[i] : tlo;
        thi = c->t[i] > thi ? c->t[i] : thi;
        minx = x < minx ? x : minx;
        miny = y < miny ? y : miny;
        maxx = x > maxx ? x : maxx;
        maxy = y > maxy ? y : maxy;
        uint32_t g = ht__row_grid(c, i);
        ng = g != NONE32 && g >= ng ? g + 1 : ng;
    }
    b->qx0 = minx;
    b->qy0 = miny;
    b->qx1 = maxx;
    b->qy1 = maxy;
    b->t_lo = tlo;
    b->t_hi = thi;
    free(b->gbox);
    b->ngbox = 0;
    if (!(b->gbox = malloc((ng ? ng : 1) * sizeof *b->gbox))) {
        return false;
    }
    b->ngbox = ng;
    for (size_t g = 0; g < ng; g++) {
        b->gbox[g][0] = b->gbox[g][1] = NONE32;
        b->gbox[g][2] = b->gbox[g][3] = 0;
    }
    for (size_t i = 0; i < c->n; i++) {
        uint32_t g = ht__row_grid(c, i), x, y;
        ht__row_q(c, i, &x, &y);
        if (g != NONE32) {
            uint32_t *e = b->gbox[g];
            e[0] = x < e[0] ? x : e[0];
            e[1] = y < e[1] ? y : e[1];
            e[2] = x > e[2] ? x : e[2];
            e[3] = y > e[3] ? y : e[3];
        }
    }
    return true;
}

uint64_t ht__index_next_serial(void) {
    static _Atomic uint64_t serial;
    return atomic_fetch_add(&serial, 1) + 1;
}

/* Sort @raw into cell order (a counting sort) and index the cells. */
ht_status ht__index_base_build(cols *raw, base **out, ht_error *err) {
    base *b = calloc(1, sizeof *b);
    if (!b) {
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    atomic_init(&b->refs, 1);
    b->serial = ht__index_next_serial();
    size_t n = raw->n;
    if (!ht__index_extent(raw, b)) {
        ht__index_base_unref(b);
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    uint32_t minx = b->qx0, miny = b->qy0, maxx = b->qx1, maxy = b->qy1;
    if (n == 0) {
        minx = miny = maxx = maxy = 0;
    }
    /* Cells of 2^15 steps (305 projected metres), coarser when needed to
     * stay under 2^22 cells. */
    b->shift = 15;
    while (((uint64_t)(maxx >> b->shift) - (minx >> b->shift) + 1) *
               ((uint64_t)(maxy >> b->shift) - (miny >> b->shift) + 1) >
           (1u << 22)) {
        b->shift++;
    }
    b->cx0 = minx >> b->shift;
    b->cy0 = miny >> b->shift;
    b->nx = (maxx >> b->shift) - b->cx0 + 1;
    b->ny = (maxy >> b->shift) - b->cy0 + 1;
    size_t ncell = (size_t)b->nx * b->ny;
    b->start = calloc(ncell + 1, sizeof *b->start);
    uint32_t *cell = malloc((n ? n : 1) * sizeof *cell);
    ht_status st = b->start && cell
                       ? ht__index_cols_reserve(&b->c, n ? n : 1, err)
                       : ht_error_set(err, HT_ENOMEM, "out of memory");
    if (st == HT_OK) {
        for (size_t i = 0; i < n; i++) {
            cell[i] = ((raw->y[i] >> b->shift) - b->cy0) * b->nx +
                      ((raw->x[i] >> b->shift) - b->cx0);
            b->start[cell[i] + 1]++;
        }
        for (size_t c = 0; c < ncell; c++) {
            b->start[c + 1] += b->start[c];
        }
        /* Stable placement keeps rows in id order within a cell. */
        for (size_t i = 0; i < n; i++) {
            ht__index_cols_copy_row(&b->c, b->start[cell[i]]++, raw, i);
        }
        memmove(b->start + 1, b->start, ncell * sizeof *b->start);
        b->start[0] = 0;
        b->c.n = n;
        b->by_id = malloc((n ? n : 1) * sizeof *b->by_id);
        if (!b->by_id) {
            st = ht_error_set(err, HT_ENOMEM, "out of memory");
        }
    }
    if (st == HT_OK) {
        st = order_by_id(b->by_id, b->c.id, n, err);
    }
    if (st == HT_OK && !ht__index_pack_by_id(b)) {
        st = ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    if (st == HT_OK && !ht__index_cols_pack(&b->c)) {
        st = ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    free(cell);
    if (st != HT_OK) {
        ht__index_base_unref(b);
        return st;
    }
    *out = b;
    return HT_OK;
}

/* ---- snapshots ---- */

ht_index *ht_index_ref(ht_index *ix) {
    atomic_fetch_add(&ix->refs, 1);
    return ix;
}

void ht_index_unref(ht_index *ix) {
    if (!ix || atomic_fetch_sub(&ix->refs, 1) != 1) {
        return;
    }
    ht__index_dict_unref(ix->d);
    ht__index_base_unref(ix->b);
    free(ix->dead);
    ht__index_cols_free(&ix->delta);
    free(ix);
}

ht_status ht_index_load(ht_store *s, ht_index **out, ht_error *err) {
    *out = NULL;
    ht_index *ix = calloc(1, sizeof *ix);
    if (!ix) {
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    atomic_init(&ix->refs, 1);
    cols raw = {0};
    ht_status st = dict_load(s, &ix->d, err);
    /* A row the dictionaries do not know cannot happen in a consistent
     * store (one transaction reads both): it is skipped. */
    loader l = {ix->d, &raw, false};
    if (st == HT_OK) {
        st = ht_store_each_incident(s, NULL, 0, load_row, &l, err);
    }
    if (st == HT_OK) {
        st = ht__index_base_build(&raw, &ix->b, err);
    }
    ht__index_cols_free(&raw);
    if (st == HT_OK) {
        ix->dead = malloc((ix->b->c.n / 64 + 1) * sizeof *ix->dead);
        /* written now, not at the first walk: a fresh page costs its
         * fault there (on some machines a millisecond for a few) */
        if (ix->dead) {
            memset(ix->dead, 0, (ix->b->c.n / 64 + 1) * sizeof *ix->dead);
        }
        if (!ix->dead) {
            st = ht_error_set(err, HT_ENOMEM, "out of memory");
        }
    }
    if (st != HT_OK) {
        ht_index_unref(ix);
        return st;
    }
    *out = ix;
    return HT_OK;
}

static size_t base_find(const base *b, uint32_t id) {
    size_t lo = 0, hi = b->c.n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        size_t at = ht__base_by_id(b, mid);
        uint32_t v = ht__row_id(&b->c, at);
        if (v == id) {
            return at;
        }
        if (v < id) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return (size_t)-1;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The delta of @nx: @old's rows but those of @changed (sorted), merged
 * with @fresh's rows, all in id order. O(old + fresh log fresh). */
static ht_status merge_delta(ht_index *nx, const cols *old,
                             const int64_t *changed, size_t n,
                             const cols *fresh, ht_error *err) {
    ht_status st =
        ht__index_cols_reserve(&nx->delta, old->n + fresh->n + 1, err);
    uint32_t *order = malloc((fresh->n + 1) * sizeof *order);
    if (st == HT_OK && !order) {
        st = ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    if (st != HT_OK) {
        free(order);
        return st;
    }
    if ((st = order_by_id(order, fresh->id, fresh->n, err)) != HT_OK) {
        free(order);
        return st;
    }
    size_t i = 0, j = 0, c = 0;
    cols *d = &nx->delta;
    while (i < old->n || j < fresh->n) {
        if (i < old->n && (j == fresh->n || old->id[i] < fresh->id[order[j]])) {
            /* Skip it when it changed (a fresh row replaces it, or it is
             * gone from the store). */
            while (c < n && changed[c] < (int64_t)old->id[i]) {
                c++;
            }
            if (!(c < n && changed[c] == (int64_t)old->id[i])) {
                ht__index_cols_copy_row(d, d->n++, old, i);
            }
            i++;
        } else {
            if (i < old->n && old->id[i] == fresh->id[order[j]]) {
                i++; /* replaced */
            }
            if (d->n == 0 || d->id[d->n - 1] != fresh->id[order[j]]) {
                ht__index_cols_copy_row(d, d->n++, fresh,
                                        order[j]); /* once an id */
            }
            j++;
        }
    }
    free(order);
    return HT_OK;
}

ht_status ht_index_apply(const ht_index *ix, ht_store *s, const int64_t *ids,
                         size_t n, ht_index **out, ht_error *err) {
    *out = NULL;
    if (ix->ndead + ix->delta.n + n > ix->b->c.n / 8 + 64) {
        return ht_index_load(s, out, err); /* rebuild whole */
    }
    ht_index *nx = calloc(1, sizeof *nx);
    if (!nx) {
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    atomic_init(&nx->refs, 1);
    atomic_fetch_add(&ix->d->refs, 1);
    atomic_fetch_add(&ix->b->refs, 1);
    nx->d = ix->d;
    nx->b = ix->b;
    nx->ndead = ix->ndead;
    size_t words = ix->b->c.n / 64 + 1;
    nx->dead = malloc(words * sizeof *nx->dead);
    int64_t *sorted = malloc((n ? n : 1) * sizeof *sorted);
    cols fresh = {0};
    ht_status st = nx->dead && sorted
                       ? HT_OK
                       : ht_error_set(err, HT_ENOMEM, "out of memory");
    if (st == HT_OK) {
        memcpy(nx->dead, ix->dead, words * sizeof *nx->dead);
        memcpy(sorted, ids, n * sizeof *sorted);
        qsort(sorted, n, sizeof *sorted, cmp_i64);
    }
    for (size_t k = 0; st == HT_OK && k < n; k++) {
        if (ids[k] >= 0 && ids[k] < NONE32) {
            size_t pos = base_find(nx->b, (uint32_t)ids[k]);
            if (pos != (size_t)-1 && !(nx->dead[pos / 64] >> (pos % 64) & 1)) {
                nx->dead[pos / 64] |= 1ull << (pos % 64);
                nx->ndead++;
            }
        }
    }
    /* The changed incidents as they are now; a new category or grid
     * means the dictionaries are stale: reload. */
    loader l = {nx->d, &fresh, false};
    if (st == HT_OK) {
        st = ht_store_each_incident(s, sorted, n, load_row, &l, err);
    }
    bool stale = l.stale;
    if (st == HT_OK && !stale) {
        st = merge_delta(nx, &ix->delta, sorted, n, &fresh, err);
    }
    ht__index_cols_free(&fresh);
    free(sorted);
    if (st == HT_OK && stale) {
        ht_index_unref(nx);
        return ht_index_load(s, out, err);
    }
    if (st != HT_OK) {
        ht_index_unref(nx);
        return st;
    }
    *out = nx;
    return HT_OK;
}

const char *const *ht_index_departments(const ht_index *ix, size_t *n) {
    *n = ix->d->ndepts;
    return (const char *const *)ix->d->depts;
}

size_t ht_index_count(const ht_index *ix) {
    return ix->b->c.n - ix->ndead + ix->delta.n;
}

double ht_index_bytes_per_incident(const ht_index *ix) {
    /* the base's: packed x and y (and a block's least position, its place
     * among the wide ones, and their high halves), t, cat (1 or 2 bytes),
     * flags, grid (2 or 3), street (3, and the table of large ids), id (3
     * and a block's least, or 4), dept (1 or 2), extra (with the outcomes),
     * hours to close and to arrive, and the by-id order (3 bytes under 16.7
     * million rows) */
    const cols *c = &ix->b->c;
    size_t n = c->n ? c->n : 1, nb = (c->n + 63) / 64;
    double xy =
        c->x ? 8 : 4 + (double)(nb * 12 + c->nwide * 64 * 4) / (double)n;
    double street = c->street ? 4 : 3 + (double)(c->nsids * 4) / (double)n;
    double id = c->id ? 4 : 3 + (double)(nb * 4) / (double)n;
    return xy + 4 + (c->cat8 ? 1 : 2) + 1 + (c->grid2 ? 2 : 3) + street + id +
           (c->dept8 ? 1 : 2) + 1 + 2 + 2 + (ix->b->by_id ? 4 : 3);
}

bool ht_index_time_range(const ht_index *ix, int64_t *first, int64_t *last) {
    const base *b = ix->b;
    uint32_t lo = UINT32_MAX, hi = 0;
    bool any = false;
    /* The base's, kept with it, unless a dead row held one of them (then
     * every live row is asked). */
    bool walk = false;
    size_t words = (b->c.n + 63) / 64;
    for (size_t w = 0; ix->ndead && !walk && w < words; w++) {
        for (uint64_t bits = ix->dead[w]; bits && !walk; bits &= bits - 1) {
            uint32_t t = b->c.t[w * 64 + (size_t)__builtin_ctzll(bits)];
            walk = t == b->t_lo || t == b->t_hi;
        }
    }
    if (!walk && b->c.n > ix->ndead) {
        lo = b->t_lo;
        hi = b->t_hi;
        any = true;
    }
    const cols *c[2] = {&b->c, &ix->delta};
    for (int k = walk ? 0 : 1; k < 2; k++) {
        for (size_t i = 0; i < c[k]->n; i++) {
            if (k == 0 && (ix->dead[i / 64] >> (i % 64) & 1)) {
                continue;
            }
            lo = c[k]->t[i] < lo ? c[k]->t[i] : lo;
            hi = c[k]->t[i] > hi ? c[k]->t[i] : hi;
            any = true;
        }
    }
    *first = lo;
    *last = hi;
    return any;
}

ht_bbox ht_index_bbox(const ht_index *ix) {
    /* The base's extent, kept with it, and the delta's rows. */
    ht_bbox b = ht_bbox_empty();
    const base *bs = ix->b;
    if (bs->qx0 <= bs->qx1) {
        ht_bbox_add(&b, ht__dequantise(bs->qx0), ht__dequantise(bs->qy0));
        ht_bbox_add(&b, ht__dequantise(bs->qx1), ht__dequantise(bs->qy1));
    }
    const cols *c = &ix->delta;
    for (size_t i = 0; i < c->n; i++) {
        ht_bbox_add(&b, ht__dequantise(c->x[i]), ht__dequantise(c->y[i]));
    }
    return b;
}

/* ---- filters ---- */

void ht_index_filter_free(ht_index_filter *q) {
    if (q) {
        free(q->cats);
        free(q->grids);
        free(q->depts);
        free(q);
    }
}

ht_status ht_index_filter_new(const ht_index *ix, const ht_filter *f,
                              ht_index_filter **out, ht_error *err) {
    *out = NULL;
    ht_index_filter *q = calloc(1, sizeof *q);
    if (!q) {
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    q->ix = ix;
    q->t0 = f->from <= 0                 ? 0
            : f->from >= (int64_t)NONE32 ? NONE32
                                         : (uint32_t)f->from;
    q->t1 = f->to == INT64_MAX        ? NONE32
            : f->to <= 0              ? 0
            : f->to > (int64_t)NONE32 ? NONE32
                                      : (uint32_t)(f->to - 1);
    if (f->to != INT64_MAX && f->to <= 0) {
        q->t0 = 1; /* nothing */
        q->t1 = 0;
    }
    q->sev = f->severity ? f->severity : ~0u;
    q->state = f->status ? f->status : ~0u;
    q->source = f->source ? f->source : ~0u;
    q->sat = f->satisfaction ? f->satisfaction : ~0u;
    q->overdue_at = f->overdue_at <= 0 ? 0
                    : f->overdue_at >= (int64_t)NONE32
                        ? NONE32 - 1
                        : (uint32_t)f->overdue_at;
    const dict *d = ix->d;
    ht_status st = HT_OK;
    if (f->ndepartment) {
        /* A department nobody was dispatched to matches nothing. */
        q->depts = calloc(d->ndepts / 64 + 1, sizeof *q->depts);
        if (!q->depts) {
            st = ht_error_set(err, HT_ENOMEM, "out of memory");
        }
        for (size_t k = 0; st == HT_OK && k < f->ndepartment; k++) {
            size_t di = find_dept(d, f->department[k]);
            if (di != (size_t)-1) {
                q->depts[di / 64] |= 1ull << (di % 64);
            }
        }
    }
    if (st == HT_OK && f->ncategory) {
        q->cats = calloc(d->ncats / 64 + 1, sizeof *q->cats);
        if (!q->cats) {
            st = ht_error_set(err, HT_ENOMEM, "out of memory");
        }
        for (size_t k = 0; st == HT_OK && k < f->ncategory; k++) {
            size_t c =
                find_code(d->cats, d->ncats, sizeof *d->cats, f->category[k]);
            if (c == (size_t)-1) {
                st = ht_error_set(err, HT_EINVAL,
                                  "category: unknown code \"%s\"",
                                  f->category[k]);
                break;
            }
            /* A code matches itself and, as a major, its minors. */
            for (size_t i = 0; i < d->ncats; i++) {
                if (i == c || d->cats[i].major == c) {
                    q->cats[i / 64] |= 1ull << (i % 64);
                }
            }
        }
    }
    if (st == HT_OK && f->grid[0]) {
        size_t g = find_code(d->grids, d->ngrids, sizeof *d->grids, f->grid);
        q->grids = calloc(d->ngrids / 64 + 1, sizeof *q->grids);
        if (g == (size_t)-1) {
            st = ht_error_set(err, HT_EINVAL, "grid: unknown code \"%s\"",
                              f->grid);
        } else if (!q->grids) {
            st = ht_error_set(err, HT_ENOMEM, "out of memory");
        }
        for (size_t i = 0; st == HT_OK && i < d->ngrids; i++) {
            /* Walk up the parents (with a bound, in case of a cycle). */
            size_t a = i;
            for (int depth = 0; depth < 16 && a != NONE32; depth++) {
                if (a == g) {
                    q->grids[i / 64] |= 1ull << (i % 64);
                    break;
                }
                a = d->grids[a].parent;
            }
        }
    }
    if (st != HT_OK) {
        ht_index_filter_free(q);
        return st;
    }
    *out = q;
    return HT_OK;
}

/* An incident's deadline of @k (0 response, 1 resolution) from its rule,
 * or NONE32. */

static ht_incident_view view_of(const ht_index *ix, const cols *c, size_t i) {
    const dict *d = ix->d;
    unsigned fl = c->flags[i];
    return (ht_incident_view){
        .id = ht__row_id(c, i),
        .reported_at = c->t[i],
        .severity = (int)(fl & 3),
        .source = (ht_source)(fl >> 2 & 7),
        .state = (ht_state)(fl >> 5),
        .category = d->cats[ht__row_cat(c, i)].code,
        .major = d->cats[d->cats[ht__row_cat(c, i)].major].code,
        .grid_code = ht__row_grid(c, i) == NONE32
                         ? NULL
                         : d->grids[ht__row_grid(c, i)].code,
        .street_id =
            ht__row_street(c, i) == NONE32 ? -1 : (int64_t)ht__row_street(c, i),
        .late_at = ht__late_of(d, c, i) == NONE32
                       ? HT_TIME_NONE
                       : (int64_t)ht__late_of(d, c, i)};
}

/* The simple tests, one function for each set of them that rejects some
 * value (time, flags, satisfaction, category): a walk reads only the
 * columns its filter asks about. */
static inline __attribute__((always_inline)) uint64_t qtab_loop(
    const ht__qtab *t, const cols *c, size_t w0, size_t a, size_t e, bool by_t,
    bool by_flags, bool by_sat, bool by_cat, bool cat8) {
    uint64_t m = 0;
    const uint32_t *tt = c->t + w0;
    const uint8_t *fl = c->flags + w0, *ex = c->extra + w0;
    const uint16_t *ct = cat8 ? NULL : c->cat + w0;
    const uint8_t *c8 = cat8 ? c->cat8 + w0 : NULL;
    for (size_t k = a; k < e; k++) {
        unsigned h = 1;
        if (by_t) {
            h &= tt[k] - t->t0 <= t->tw;
        }
        if (by_flags) {
            h &= t->flag_ok[fl[k]];
        }
        if (by_sat) {
            h &= t->sat_ok[ex[k] & 3];
        }
        if (by_cat) {
            h &= t->cat_ok[cat8 ? c8[k] : ct[k]];
        }
        m |= (uint64_t)h << k;
    }
    return m;
}

static inline __attribute__((always_inline)) uint64_t qtab_simple(
    const ht__qtab *t, const cols *c, size_t w0, size_t a, size_t e, bool by_t,
    bool by_flags, bool by_sat, bool by_cat) {
    if (!by_t && !by_flags && !by_sat && !by_cat) {
        uint64_t hi = e == 64 ? ~0ull : (1ull << e) - 1;
        return a >= e ? 0 : hi & ~((1ull << a) - 1);
    }
    if (by_cat && c->cat8) {
        return qtab_loop(t, c, w0, a, e, by_t, by_flags, by_sat, true, true);
    }
    return qtab_loop(t, c, w0, a, e, by_t, by_flags, by_sat, by_cat, false);
}

#define QTAB_SIMPLE(n)                                                        \
    static uint64_t qtab_simple_##n(const ht__qtab *t, const cols *c,         \
                                    size_t w0, size_t a, size_t e) {          \
        return qtab_simple(t, c, w0, a, e, (n)&1, (n) >> 1 & 1, (n) >> 2 & 1, \
                           (n) >> 3 & 1);                                     \
    }
QTAB_SIMPLE(0)
QTAB_SIMPLE(1)
QTAB_SIMPLE(2)
QTAB_SIMPLE(3)
QTAB_SIMPLE(4)
QTAB_SIMPLE(5)
QTAB_SIMPLE(6)
QTAB_SIMPLE(7)
QTAB_SIMPLE(8)
QTAB_SIMPLE(9)
QTAB_SIMPLE(10)
QTAB_SIMPLE(11)
QTAB_SIMPLE(12)
QTAB_SIMPLE(13)
QTAB_SIMPLE(14)
QTAB_SIMPLE(15)
#undef QTAB_SIMPLE

static const ht__qtab_fn qtab_simples[16] = {
    qtab_simple_0,  qtab_simple_1,  qtab_simple_2,  qtab_simple_3,
    qtab_simple_4,  qtab_simple_5,  qtab_simple_6,  qtab_simple_7,
    qtab_simple_8,  qtab_simple_9,  qtab_simple_10, qtab_simple_11,
    qtab_simple_12, qtab_simple_13, qtab_simple_14, qtab_simple_15};

/* Whether any of @n entries of @ok is 0. */
static bool rejects(const uint8_t *ok, size_t n) {
    for (size_t k = 0; k < n; k++) {
        if (!ok[k]) {
            return true;
        }
    }
    return false;
}

bool ht__qtab_init(ht__qtab *t, const ht_index *ix, const ht_index_filter *q) {
    size_t ncats = ix->d->ncats;
    *t = (ht__qtab){.q = q, .t0 = q ? q->t0 : 0, .tw = NONE32};
    if (!(t->cat_ok = malloc(ncats + 1))) {
        return false;
    }
    const dict *d = ix->d;
    t->ngrids = (uint32_t)d->ngrids;
    t->ndepts = (uint32_t)d->ndepts;
    if (q) {
        t->none = q->t1 < q->t0;
        t->tw = t->none ? 0 : q->t1 - q->t0;
        t->rest = q->overdue_at != 0;
    }
    if (q && q->grids && !(t->grid_ok = malloc((size_t)t->ngrids + 1))) {
        ht__qtab_free(t);
        return false;
    }
    if (q && q->depts && !(t->dept_ok = malloc((size_t)t->ndepts + 1))) {
        ht__qtab_free(t);
        return false;
    }
    for (size_t k = 0; t->grid_ok && k <= t->ngrids; k++) {
        t->grid_ok[k] = k < t->ngrids && (q->grids[k / 64] >> (k % 64) & 1);
    }
    for (size_t k = 0; t->dept_ok && k <= t->ndepts; k++) {
        t->dept_ok[k] = k < t->ndepts && (q->depts[k / 64] >> (k % 64) & 1);
    }
    /* (lateness is of open incidents only: the rest asks the open ones) */
    for (unsigned v = 0; v < 256; v++) {
        t->flag_ok[v] =
            !q || ((q->sev >> (v & 3) & 1) && (q->source >> (v >> 2 & 7) & 1) &&
                   (q->state >> (v >> 5) & 1) &&
                   (!q->overdue_at || (v >> 5) < HT_STATE_CLOSED));
    }
    for (unsigned v = 0; v < 4; v++) {
        t->sat_ok[v] = !q || (q->sat >> v & 1);
    }
    for (size_t k = 0; k <= ncats; k++) {
        t->cat_ok[k] = k == ncats || ht_index_filter_category(q, k);
    }
    unsigned by = (t->tw != NONE32) | rejects(t->flag_ok, 256) << 1 |
                  rejects(t->sat_ok, 4) << 2 | rejects(t->cat_ok, ncats) << 3;
    t->simple = qtab_simples[by];
    return true;
}

void ht__qtab_free(ht__qtab *t) {
    free(t->cat_ok);
    free(t->grid_ok);
    free(t->dept_ok);
    t->cat_ok = t->grid_ok = t->dept_ok = NULL;
}

/* What a walk calls for each row it passes. */
typedef void (*row_fn)(void *ud, const cols *c, size_t i);

/* The rows of part @part of @parts (of the base: a slice everywhere, cell
 * rows in a box; the delta with part 0) in @box (NULL: everywhere) passing
 * @q: @fn(ud, cols, i). */
/* Walks that split the index in parts, a thread a part (the newest
 * incidents, counts by group), from this many incidents on. */
#define INDEX_PARTS 4
static _Atomic size_t parts_from = 400000, parts_forced = 0;

void ht__index_set_parts(size_t parts, size_t from) {
    parts_forced = parts > INDEX_PARTS ? INDEX_PARTS : parts;
    parts_from = from;
}

size_t ht__index_parts(const ht_index *ix) {
    long cores =
        parts_forced ? (long)parts_forced : sysconf(_SC_NPROCESSORS_ONLN);
    return ht_index_count(ix) < parts_from || cores < 2 ? 1
           : cores > INDEX_PARTS                        ? INDEX_PARTS
                                                        : (size_t)cores;
}

/* Run @fn on each of @parts arguments, @size bytes apart from @arg0: the
 * first here, the others in threads (here too when a thread cannot be
 * had). */
void ht__index_run_parts(void *(*fn)(void *), void *arg0, size_t size,
                         size_t parts) {
    pthread_t tid[INDEX_PARTS];
    bool started[INDEX_PARTS] = {false};
    char *a = arg0;
    for (size_t p = 1; p < parts; p++) {
        started[p] = pthread_create(&tid[p], NULL, fn, a + p * size) == 0;
    }
    fn(a);
    for (size_t p = 1; p < parts; p++) {
        if (started[p]) {
            pthread_join(tid[p], NULL);
        } else {
            fn(a + p * size);
        }
    }
}

/* The box (quantised: x0, y0, x1, y1) of the base rows of @q's grids;
 * false when none of them has a row. */
static bool grids_qbox(const base *b, const ht_index_filter *q,
                       uint32_t qb[4]) {
    bool any = false;
    for (size_t g = 0; g < b->ngbox; g++) {
        const uint32_t *e = b->gbox[g];
        if (!(q->grids[g / 64] >> (g % 64) & 1) || e[0] > e[2]) {
            continue;
        }
        for (int k = 0; k < 2; k++) {
            qb[k] = any && qb[k] < e[k] ? qb[k] : e[k];
            qb[k + 2] = any && qb[k + 2] > e[k + 2] ? qb[k + 2] : e[k + 2];
        }
        any = true;
    }
    return any;
}

/* The base's cells over quantised box @qb: columns @cell[0] to @cell[1]
 * of rows @cell[2] to @cell[3]; false when there are none. */
static bool cells_over(const base *b, const uint32_t qb[4], size_t cell[4]) {
    int64_t ci0 = (int64_t)(qb[0] >> b->shift) - b->cx0;
    int64_t ci1 = (int64_t)(qb[2] >> b->shift) - b->cx0;
    int64_t cj0 = (int64_t)(qb[1] >> b->shift) - b->cy0;
    int64_t cj1 = (int64_t)(qb[3] >> b->shift) - b->cy0;
    ci0 = ci0 < 0 ? 0 : ci0;
    cj0 = cj0 < 0 ? 0 : cj0;
    ci1 = ci1 >= (int64_t)b->nx ? (int64_t)b->nx - 1 : ci1;
    cj1 = cj1 >= (int64_t)b->ny ? (int64_t)b->ny - 1 : cj1;
    if (!b->c.n || qb[0] > qb[2] || qb[1] > qb[3] || ci0 > ci1 || cj0 > cj1) {
        return false;
    }
    cell[0] = (size_t)ci0;
    cell[1] = (size_t)ci1;
    cell[2] = (size_t)cj0;
    cell[3] = (size_t)cj1;
    return true;
}

static inline void walk_rows(const ht_index *ix, const ht_index_filter *q,
                             const ht_bbox *box, size_t part, size_t parts,
                             row_fn fn, void *ud) {
    uint32_t qb[4] = {0, 0, NONE32, NONE32};
    if (box) {
        qb[0] = ht__quantise(box->minx);
        qb[1] = ht__quantise(box->miny);
        qb[2] = ht__quantise(box->maxx);
        qb[3] = ht__quantise(box->maxy);
    }
    const base *b = ix->b;
    /* A filter of grids: the cells of their rows only (the changes as
     * any box would cut them). */
    bool grids = !box && q && q->grids;
    if (grids && !grids_qbox(b, q, qb)) { /* none of its grids has a row */
        qb[0] = qb[1] = 1;
        qb[2] = qb[3] = 0;
    }
    uint32_t qx0 = qb[0], qy0 = qb[1], qx1 = qb[2], qy1 = qb[3];
    ht__qtab tab;
    if (!box && !grids && ht__qtab_init(&tab, ix, q)) {
        /* everywhere: a slice of the base, in storage order, 64 rows at a
         * time */
        size_t i0 = b->c.n / parts * part;
        size_t i1 = part + 1 == parts ? b->c.n : b->c.n / parts * (part + 1);
        for (size_t w0 = i0 / 64 * 64; !tab.none && w0 < i1; w0 += 64) {
            size_t a = w0 < i0 ? i0 - w0 : 0, e = i1 - w0 < 64 ? i1 - w0 : 64;
            uint64_t m =
                ht__qtab_block(&tab, &b->c, w0, a, e) & ~ix->dead[w0 / 64];
            for (m = ht__qtab_rest(&tab, &b->c, w0, m); m; m &= m - 1) {
                fn(ud, &b->c, w0 + (size_t)__builtin_ctzll(m));
            }
        }
        ht__qtab_free(&tab);
    } else if (!box && !grids) {
        /* (the same, row by row, when the tables cannot be had) */
        size_t i0 = b->c.n / parts * part;
        size_t i1 = part + 1 == parts ? b->c.n : b->c.n / parts * (part + 1);
        for (size_t i = i0; i < i1; i++) {
            if ((q && (b->c.t[i] < q->t0 || b->c.t[i] > q->t1)) ||
                (ix->dead[i / 64] >> (i % 64) & 1) || !ht__match(q, &b->c, i)) {
                continue;
            }
            fn(ud, &b->c, i);
        }
    } else {
        size_t cell[4] = {0, 0, 0, 0};
        bool any = cells_over(b, qb, cell);
        /* the filter's tables first, 64 rows at a time (a filter of
         * open or late incidents reads their flags only), then the box */
        bool tabs = any && ht__qtab_init(&tab, ix, q);
        for (size_t j = cell[2]; any && j <= cell[3] && !(tabs && tab.none);
             j++) {
            /* rows of cells dealt to the parts in turn: parts of about as
             * many incidents over any box */
            if (parts > 1 && j % parts != part) {
                continue;
            }
            size_t a = b->start[j * b->nx + cell[0]];
            size_t e = b->start[j * b->nx + cell[1] + 1];
            for (size_t w0 = a / 64 * 64; tabs && w0 < e; w0 += 64) {
                size_t lo = w0 < a ? a - w0 : 0, hi = e - w0 < 64 ? e - w0 : 64;
                uint64_t m = ht__qtab_block(&tab, &b->c, w0, lo, hi) &
                             ~ix->dead[w0 / 64];
                for (m = ht__qtab_rest(&tab, &b->c, w0, m); m; m &= m - 1) {
                    size_t i = w0 + (size_t)__builtin_ctzll(m);
                    uint32_t x, y;
                    ht__row_q(&b->c, i, &x, &y);
                    if (x >= qx0 && x <= qx1 && y >= qy0 && y <= qy1) {
                        fn(ud, &b->c, i);
                    }
                }
            }
            for (size_t i = a; !tabs && i < e; i++) {
                /* the time first: a window passes few rows */
                if (q && (b->c.t[i] < q->t0 || b->c.t[i] > q->t1)) {
                    continue;
                }
                uint32_t x, y;
                ht__row_q(&b->c, i, &x, &y);
                if (x < qx0 || x > qx1 || y < qy0 || y > qy1 ||
                    (ix->dead[i / 64] >> (i % 64) & 1) ||
                    !ht__match(q, &b->c, i)) {
                    continue;
                }
                fn(ud, &b->c, i);
            }
        }
        if (tabs) {
            ht__qtab_free(&tab);
        }
    }
    const cols *dl = &ix->delta;
    for (size_t i = 0; part == 0 && i < dl->n; i++) {
        if ((box && (dl->x[i] < qx0 || dl->x[i] > qx1 || dl->y[i] < qy0 ||
                     dl->y[i] > qy1)) ||
            !ht__match(q, dl, i)) {
            continue;
        }
        fn(ud, dl, i);
    }
}

typedef struct walk_ctx {
    const ht_index *ix;
    ht_index_visit_fn vf;
    ht_index_point_fn pf;
    void *ud;
} walk_ctx;

static void walk_row(void *ud, const cols *c, size_t i) {
    const walk_ctx *w = ud;
    double x, y;
    ht__row_m(c, i, &x, &y);
    if (w->pf) {
        w->pf(w->ud, x, y, (int)(c->flags[i] & 3));
    } else {
        ht_incident_view v = view_of(w->ix, c, i);
        w->vf(w->ud, x, y, &v);
    }
}

/* Walk the rows of part @part of @parts with views or positions. */
static void walk_part(const ht_index *ix, const ht_index_filter *q,
                      const ht_bbox *box, size_t part, size_t parts,
                      ht_index_visit_fn vf, ht_index_point_fn pf, void *ud) {
    walk_ctx w = {ix, vf, pf, ud};
    walk_rows(ix, q, box, part, parts, walk_row, &w);
}

/* The newest rows: a heap whose root is the oldest kept. */
typedef struct newest_ctx {
    int64_t *t, *id; /* kept, a heap of @n of @k */
    size_t n, k, matched;
    int64_t before_t, before_id;
} newest_ctx;

static bool newer_than(int64_t t1, int64_t id1, int64_t t2, int64_t id2) {
    return t1 != t2 ? t1 > t2 : id1 > id2;
}

static void heap_swap(newest_ctx *h, size_t a, size_t b) {
    int64_t t = h->t[a], id = h->id[a];
    h->t[a] = h->t[b];
    h->id[a] = h->id[b];
    h->t[b] = t;
    h->id[b] = id;
}

static void newest_row(void *ud, const cols *c, size_t i) {
    newest_ctx *h = ud;
    /* (the id read only where the times tie or it is kept) */
    int64_t t = c->t[i], id;
    if (t > h->before_t ||
        (t == h->before_t && !(h->before_id > (id = ht__row_id(c, i))))) {
        return; /* not older than the cursor */
    }
    h->matched++;
    if (h->n == h->k && (h->k == 0 || t < h->t[0])) {
        return; /* older than the heap's oldest */
    }
    id = ht__row_id(c, i);
    size_t p;
    if (h->n < h->k) {
        p = h->n++;
        h->t[p] = t;
        h->id[p] = id;
        for (; p > 0 && newer_than(h->t[(p - 1) / 2], h->id[(p - 1) / 2],
                                   h->t[p], h->id[p]);
             p = (p - 1) / 2) {
            heap_swap(h, p, (p - 1) / 2);
        }
        return;
    }
    if (h->k == 0 || !newer_than(t, id, h->t[0], h->id[0])) {
        return;
    }
    h->t[0] = t;
    h->id[0] = id;
    for (p = 0;;) {
        size_t l = 2 * p + 1, r = l + 1, m = p;
        if (l < h->n && newer_than(h->t[m], h->id[m], h->t[l], h->id[l])) {
            m = l;
        }
        if (r < h->n && newer_than(h->t[m], h->id[m], h->t[r], h->id[r])) {
            m = r;
        }
        if (m == p) {
            break;
        }
        heap_swap(h, p, m);
        p = m;
    }
}

static int cmp_newest(const void *a, const void *b) {
    const int64_t *p = a, *q = b; /* (t, id) pairs */
    return newer_than(p[0], p[1], q[0], q[1])   ? -1
           : newer_than(q[0], q[1], p[0], p[1]) ? 1
                                                : 0;
}

typedef struct newest_part {
    const ht_index *ix;
    const ht_index_filter *q;
    const ht_bbox *box;
    size_t part, parts;
    newest_ctx h;
} newest_part;

static void *newest_walk(void *arg) {
    newest_part *p = arg;
    walk_rows(p->ix, p->q, p->box, p->part, p->parts, newest_row, &p->h);
    return NULL;
}

ht_status ht_index_newest(const ht_index *ix, const ht_index_filter *q,
                          const ht_bbox *box, int64_t before_t,
                          int64_t before_id, size_t k, int64_t *ids, size_t *n,
                          size_t *matched, ht_error *err) {
    size_t parts = ht__index_parts(ix);
    newest_part np[INDEX_PARTS];
    bool ok = true;
    for (size_t p = 0; p < parts; p++) {
        np[p] = (newest_part){
            ix,
            q,
            box,
            p,
            parts,
            {malloc((k + 1) * sizeof(int64_t)),
             malloc((k + 1) * sizeof(int64_t)), 0, k, 0, before_t, before_id}};
        ok = ok && np[p].h.t && np[p].h.id;
    }
    /* Each part's newest k, then the newest k of them all. */
    int64_t *pairs = ok ? malloc((parts * k + 1) * 2 * sizeof *pairs) : NULL;
    ok = ok && pairs;
    if (ok) {
        ht__index_run_parts(newest_walk, np, sizeof *np, parts);
    }
    size_t m = 0, all = 0;
    for (size_t p = 0; ok && p < parts; p++) {
        for (size_t j = 0; j < np[p].h.n; j++, m++) {
            pairs[2 * m] = np[p].h.t[j];
            pairs[2 * m + 1] = np[p].h.id[j];
        }
        all += np[p].h.matched;
    }
    for (size_t p = 0; p < parts; p++) {
        free(np[p].h.t);
        free(np[p].h.id);
    }
    if (!ok) {
        free(pairs);
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    qsort(pairs, m, 2 * sizeof *pairs, cmp_newest);
    *n = m < k ? m : k;
    for (size_t j = 0; j < *n; j++) {
        ids[j] = pairs[2 * j + 1];
    }
    *matched = all;
    free(pairs);
    return HT_OK;
}

bool ht_index_find(const ht_index *ix, const ht_index_filter *q, int64_t id,
                   double *x, double *y, ht_incident_view *v) {
    const cols *c = NULL;
    size_t i = 0;
    /* A changed incident's row is in the delta (by id). */
    size_t lo = 0, hi = ix->delta.n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((int64_t)ix->delta.id[mid] < id) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (lo < ix->delta.n && (int64_t)ix->delta.id[lo] == id) {
        c = &ix->delta;
        i = lo;
    }
    if (!c && id >= 0 && id < NONE32) {
        size_t pos = base_find(ix->b, (uint32_t)id);
        if (pos != (size_t)-1 && !(ix->dead[pos / 64] >> (pos % 64) & 1)) {
            c = &ix->b->c;
            i = pos;
        }
    }
    if (!c || !ht__match(q, c, i)) {
        return false;
    }
    ht__row_m(c, i, x, y);
    if (v) {
        *v = view_of(ix, c, i);
    }
    return true;
}

void ht_index_visit(const ht_index *ix, const ht_index_filter *q,
                    const ht_bbox *box, ht_index_visit_fn fn, void *ud) {
    walk_part(ix, q, box, 0, 1, fn, NULL, ud);
}

void ht_index_points(const ht_index *ix, const ht_index_filter *q,
                     const ht_bbox *box, ht_index_point_fn fn, void *ud) {
    walk_part(ix, q, box, 0, 1, NULL, fn, ud);
}

void ht_index_visit_part(const ht_index *ix, const ht_index_filter *q,
                         size_t part, size_t parts, ht_index_visit_fn fn,
                         void *ud) {
    walk_part(ix, q, NULL, part, parts ? parts : 1, fn, NULL, ud);
}

void ht_index_points_part(const ht_index *ix, const ht_index_filter *q,
                          size_t part, size_t parts, ht_index_point_fn fn,
                          void *ud) {
    walk_part(ix, q, NULL, part, parts ? parts : 1, NULL, fn, ud);
}

ht_status ht_index_crossings(const ht_index *ix, int64_t after, int64_t upto,
                             int64_t **ids, size_t *n, int64_t *next,
                             ht_error *err) {
    *ids = NULL;
    *n = 0;
    *next = INT64_MAX;
    size_t m = 0, cap = 0;
    int64_t *out = NULL;
    const cols *c[2] = {&ix->b->c, &ix->delta};
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < c[k]->n; i++) {
            uint32_t late = ht__late_of(ix->d, c[k], i);
            if (late == NONE32 || (int64_t)late <= after ||
                (k == 0 && (ix->dead[i / 64] >> (i % 64) & 1))) {
                continue;
            }
            if ((int64_t)late > upto) {
                *next = (int64_t)late < *next ? (int64_t)late : *next;
                continue;
            }
            ht_status st =
                ht_array_grow((void **)&out, &cap, m + 1, sizeof *out, err);
            if (st != HT_OK) {
                free(out);
                return st;
            }
            out[m++] = ht__row_id(c[k], i);
        }
    }
    if (m > 1) {
        qsort(out, m, sizeof *out, cmp_i64);
    }
    *ids = out;
    *n = m;
    return HT_OK;
}

/* ---- statistics ---- */

/* Months from 1970 to 2106 (the reach of 32-bit seconds). */

size_t ht_index_groups(const ht_index *ix, ht_group by) {
    const dict *d = ix->d;
    switch (by) {
    case HT_GROUP_STREET:
    case HT_GROUP_COMMUNITY:
    case HT_GROUP_GRID:
        return d->ngrids + 1;
    case HT_GROUP_CATEGORY:
        return d->ncats + 1;
    case HT_GROUP_MONTH:
        return NMONTHS + 1;
    case HT_GROUP_DEPARTMENT:
    default:
        return d->ndepts + 1;
    }
}

const char *ht_index_group_key(const ht_index *ix, ht_group by, size_t gid,
                               char buf[16]) {
    const dict *d = ix->d;
    if (gid + 1 >= ht_index_groups(ix, by)) {
        return "-";
    }
    switch (by) {
    case HT_GROUP_STREET:
    case HT_GROUP_COMMUNITY:
    case HT_GROUP_GRID:
        return d->grids[gid].code;
    case HT_GROUP_CATEGORY:
        return d->cats[gid].code;
    case HT_GROUP_MONTH:
        snprintf(buf, 16, "%04d-%02d", 1970 + (int)(gid / 12),
                 (int)(gid % 12) + 1);
        return buf;
    case HT_GROUP_DEPARTMENT:
    default:
        return d->depts[gid];
    }
}

/* Every row of @ix passing @q. */
static void each_row(const ht_index *ix, const ht_index_filter *q, row_fn fn,
                     void *ud) {
    walk_rows(ix, q, NULL, 0, 1, fn, ud);
}

typedef struct facts_ctx {
    const ht_index *ix;
    ht_group by;
    int64_t *counts;
} facts_ctx;

static void count_row(void *ud, const cols *c, size_t i) {
    const facts_ctx *x = ud;
    x->counts[ht__group_of_row(x->ix, c, i, x->by)]++;
}

typedef struct counts_part {
    const ht_index_filter *q;
    size_t part, parts;
    facts_ctx x;
} counts_part;

static void *count_part(void *arg) {
    counts_part *p = arg;
    walk_rows(p->x.ix, p->q, NULL, p->part, p->parts, count_row, &p->x);
    return NULL;
}

void ht_index_group_counts(const ht_index *ix, const ht_index_filter *q,
                           ht_group by, int64_t *counts) {
    /* A part of the index a thread, each with counts of its own, summed;
     * in one part when those cannot be had. */
    size_t parts = ht__index_parts(ix), ng = ht_index_groups(ix, by);
    counts_part cp[INDEX_PARTS];
    bool ok = true;
    for (size_t p = 0; p < parts; p++) {
        cp[p] = (counts_part){
            q, p, parts, {ix, by, p ? calloc(ng + 1, sizeof *counts) : counts}};
        ok = ok && cp[p].x.counts;
    }
    if (!ok) {
        for (size_t p = 1; p < parts; p++) {
            free(cp[p].x.counts);
        }
        parts = 1;
        cp[0].parts = 1;
    }
    ht__index_run_parts(count_part, cp, sizeof *cp, parts);
    for (size_t p = 1; p < parts; p++) {
        for (size_t g = 0; g < ng; g++) {
            counts[g] += cp[p].x.counts[g];
        }
        free(cp[p].x.counts);
    }
}

size_t ht_index_categories(const ht_index *ix) {
    return ix->d->ncats;
}

const char *ht_index_category_code(const ht_index *ix, size_t cat) {
    return ix->d->cats[cat].code;
}

typedef struct pairs_ctx {
    const ht_index *ix;
    ht_group by;
    size_t ng;
    uint32_t split;
    int64_t *counts;
} pairs_ctx;

static void pair_row(void *ud, const cols *c, size_t i) {
    const pairs_ctx *x = ud;
    size_t g = ht__group_of_row(x->ix, c, i, x->by);
    x->counts[((size_t)ht__row_cat(c, i) * x->ng + g) * 2 +
              (c->t[i] >= x->split)]++;
}

void ht_index_pair_counts(const ht_index *ix, const ht_index_filter *q,
                          ht_group by, int64_t split, int64_t *counts) {
    pairs_ctx x = {ix, by, ht_index_groups(ix, by),
                   split <= 0                 ? 0
                   : split >= (int64_t)NONE32 ? NONE32
                                              : (uint32_t)split,
                   counts};
    each_row(ix, q, pair_row, &x);
}

typedef struct street_ctx {
    void (*fn)(void *ud, int64_t street_id);
    void *ud;
} street_ctx;

static void street_row(void *ud, const cols *c, size_t i) {
    const street_ctx *x = ud;
    uint32_t s = ht__row_street(c, i);
    if (s != NONE32) {
        x->fn(x->ud, (int64_t)s);
    }
}

typedef struct street_count_ctx {
    uint32_t *counts;
    size_t nids;
} street_count_ctx;

static void street_count_row(void *ud, const cols *c, size_t i) {
    const street_count_ctx *x = ud;
    uint32_t s = ht__row_street(c, i);
    if (s < x->nids) { /* NONE32 is past every id */
        x->counts[s]++;
    }
}

void ht_index_street_counts(const ht_index *ix, const ht_index_filter *q,
                            size_t part, size_t parts, uint32_t *counts,
                            size_t nids) {
    street_count_ctx x = {counts, nids < NONE32 ? nids : NONE32};
    walk_rows(ix, q, NULL, part, parts ? parts : 1, street_count_row, &x);
}

void ht_index_each_street(const ht_index *ix, const ht_index_filter *q,
                          void (*fn)(void *ud, int64_t street_id), void *ud) {
    street_ctx x = {fn, ud};
    each_row(ix, q, street_row, &x);
}

/* ---- for sums kept over the base ---- */

uint64_t ht_index_base_serial(const ht_index *ix) {
    return ix->b->serial;
}

void ht_index_base_rows_in(const ht_index *ix, const int64_t (*ranges)[2],
                           size_t nranges, size_t part, size_t parts,
                           ht_index_range_fn fn, void *ud) {
    const base *b = ix->b;
    const dict *d = ix->d;
    enum { MAX_RANGES = 8, BLOCK = 1024 };
    parts = parts ? parts : 1;
    size_t i0 = b->c.n / parts * part;
    size_t i1 = part + 1 == parts ? b->c.n : b->c.n / parts * (part + 1);
    /* Each range as its start and width in 32 bits: t - lo <= w (unsigned)
     * is one comparison. */
    uint32_t lo[MAX_RANGES], w[MAX_RANGES];
    size_t n = 0;
    for (size_t r = 0; r < nranges && n < MAX_RANGES; r++) {
        int64_t a = ranges[r][0] < 0 ? 0 : ranges[r][0];
        int64_t z = ranges[r][1] > (int64_t)UINT32_MAX ? (int64_t)UINT32_MAX
                                                       : ranges[r][1];
        if (a <= z) {
            lo[n] = (uint32_t)a;
            w[n++] = (uint32_t)(z - a);
        }
    }
    /* In blocks: which rows match, in a loop without calls, then those. */
    uint8_t in[BLOCK];
    for (size_t s0 = i0; n && s0 < i1; s0 += BLOCK) {
        size_t m = i1 - s0 < BLOCK ? i1 - s0 : BLOCK;
        const uint32_t *t = b->c.t + s0;
        memset(in, 0, m);
        for (size_t r = 0; r < n; r++) {
            for (size_t i = 0; i < m; i++) {
                in[i] |= (uint8_t)((uint32_t)(t[i] - lo[r]) <= w[r]) << r;
            }
        }
        memset(in + m, 0, BLOCK - m);
        /* Eight rows at a time: most match nothing. */
        for (size_t i8 = 0; i8 < m; i8 += 8) {
            uint64_t word;
            memcpy(&word, in + i8, sizeof word);
            for (size_t i = i8; word && i < i8 + 8; i++, word >>= 8) {
                if (word & 0xff) {
                    size_t j = s0 + i;
                    double x, y;
                    ht__row_m(&b->c, j, &x, &y);
                    fn(ud, x, y, (int)(b->c.flags[j] & 3),
                       d->cats[ht__row_cat(&b->c, j)].major, t[i],
                       (size_t)__builtin_ctz(in[i]));
                }
            }
        }
    }
}

typedef struct one_range {
    ht_index_class_fn fn;
    void *ud;
} one_range;

static void row_of_range(void *ud, double x, double y, int severity,
                         unsigned major, int64_t t, size_t range) {
    (void)range;
    one_range *o = ud;
    o->fn(o->ud, x, y, severity, major, t);
}

void ht_index_base_rows_between(const ht_index *ix, int64_t t0, int64_t t1,
                                size_t part, size_t parts, ht_index_class_fn fn,
                                void *ud) {
    const int64_t r[1][2] = {{t0, t1}};
    one_range o = {fn, ud};
    ht_index_base_rows_in(ix, r, 1, part, parts, row_of_range, &o);
}

void ht_index_base_rows(const ht_index *ix, size_t part, size_t parts,
                        ht_index_class_fn fn, void *ud) {
    ht_index_base_rows_between(ix, 0, UINT32_MAX, part, parts, fn, ud);
}

void ht_index_changes(const ht_index *ix, const ht_index_filter *q,
                      ht_index_change_fn fn, void *ud) {
    const base *b = ix->b;
    size_t words = (b->c.n + 63) / 64;
    for (size_t w = 0; ix->ndead && w < words; w++) {
        for (uint64_t bits = ix->dead[w]; bits; bits &= bits - 1) {
            size_t i = w * 64 + (size_t)__builtin_ctzll(bits);
            if (ht__match(q, &b->c, i)) {
                double x, y;
                ht__row_m(&b->c, i, &x, &y);
                fn(ud, x, y, -1, (int)(b->c.flags[i] & 3),
                   ix->d->cats[ht__row_cat(&b->c, i)].major, b->c.t[i]);
            }
        }
    }
    const cols *dl = &ix->delta;
    for (size_t i = 0; i < dl->n; i++) {
        if (ht__match(q, dl, i)) {
            fn(ud, ht__dequantise(dl->x[i]), ht__dequantise(dl->y[i]), 1,
               (int)(dl->flags[i] & 3), ix->d->cats[ht__row_cat(dl, i)].major,
               dl->t[i]);
        }
    }
}

/* Whether @q restricts nothing but the time, the severity and whole major
 * classes. */
static bool only_time_and_classes(const ht_index_filter *q) {
    const unsigned states = (1u << HT_STATE_COUNT) - 1,
                   sources = (1u << HT_SOURCE_COUNT) - 1,
                   sats = (1u << HT_SAT_COUNT) - 1;
    if ((q->state & states) != states || (q->source & sources) != sources ||
        q->grids || q->depts || (q->sat & sats) != sats || q->overdue_at) {
        return false;
    }
    const dict *d = q->ix->d;
    for (size_t i = 0; q->cats && i < d->ncats; i++) {
        if (ht_index_filter_category(q, i) !=
            ht_index_filter_category(q, d->cats[i].major)) {
            return false;
        }
    }
    return true;
}

bool ht_index_filter_classes(const ht_index_filter *q, unsigned *sev) {
    *sev = q ? q->sev & 0xe : 0xe;
    return !q || (q->t0 == 0 && q->t1 == NONE32 && only_time_and_classes(q));
}

bool ht_index_filter_window(const ht_index_filter *q, int64_t *t0,
                            int64_t *t1) {
    *t0 = q ? q->t0 : 0;
    *t1 = q ? q->t1 : NONE32;
    if (!q) {
        return true;
    }
    if ((q->sev & 0xe) != 0xe || !only_time_and_classes(q)) {
        return false;
    }
    for (size_t i = 0; q->cats && i < q->ix->d->ncats; i++) {
        if (!ht_index_filter_category(q, i)) {
            return false;
        }
    }
    return true;
}

/* A filter of @ix passing every incident; NULL when out of memory. */
static ht_index_filter *filter_open(const ht_index *ix) {
    ht_index_filter *s = calloc(1, sizeof *s);
    if (s) {
        s->ix = ix;
        s->t1 = NONE32;
        s->sev = s->state = s->source = s->sat = ~0u;
    }
    return s;
}

ht_status ht_index_filter_grid_superset(const ht_index_filter *q,
                                        ht_index_filter **out, ht_error *err) {
    *out = NULL;
    size_t words = q->ix->d->ngrids / 64 + 1;
    ht_index_filter *s = filter_open(q->ix);
    if (s && q->grids && !(s->grids = malloc(words * sizeof *s->grids))) {
        ht_index_filter_free(s);
        s = NULL;
    }
    if (!s) {
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    if (q->grids) {
        memcpy(s->grids, q->grids, words * sizeof *s->grids);
    }
    *out = s;
    return HT_OK;
}

ht_status ht_index_filter_class_superset(const ht_index_filter *q,
                                         ht_index_filter **out, ht_error *err) {
    *out = NULL;
    ht_index_filter *s = filter_open(q->ix);
    const dict *d = q->ix->d;
    if (s && q->cats &&
        !(s->cats = calloc(d->ncats / 64 + 1, sizeof *s->cats))) {
        ht_index_filter_free(s);
        s = NULL;
    }
    if (!s) {
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    s->sev = q->sev;
    /* Every category of a major class one of @q's categories is in. */
    for (size_t i = 0; q->cats && i < d->ncats; i++) {
        if (ht_index_filter_category(q, i)) {
            size_t m = d->cats[i].major;
            s->cats[m / 64] |= 1ull << (m % 64);
        }
    }
    for (size_t i = 0; q->cats && i < d->ncats; i++) {
        size_t m = d->cats[i].major;
        if (s->cats[m / 64] >> (m % 64) & 1) {
            s->cats[i / 64] |= 1ull << (i % 64);
        }
    }
    *out = s;
    return HT_OK;
}

size_t ht_index_passes_at_most(const ht_index *ix, const ht_index_filter *q) {
    const base *b = ix->b;
    if (!q || !q->grids || !b->c.n) {
        return ht_index_count(ix);
    }
    uint32_t e[4] = {NONE32, NONE32, 0, 0};
    for (size_t g = 0; g < b->ngbox; g++) {
        const uint32_t *r = b->gbox[g];
        if ((q->grids[g / 64] >> (g % 64) & 1) && r[0] <= r[2]) {
            e[0] = r[0] < e[0] ? r[0] : e[0];
            e[1] = r[1] < e[1] ? r[1] : e[1];
            e[2] = r[2] > e[2] ? r[2] : e[2];
            e[3] = r[3] > e[3] ? r[3] : e[3];
        }
    }
    size_t n = ix->delta.n;
    if (e[0] > e[2]) {
        return n;
    }
    size_t ci0 = (e[0] >> b->shift) - b->cx0, ci1 = (e[2] >> b->shift) - b->cx0;
    size_t cj0 = (e[1] >> b->shift) - b->cy0, cj1 = (e[3] >> b->shift) - b->cy0;
    for (size_t j = cj0; j <= cj1; j++) {
        n += b->start[j * b->nx + ci1 + 1] - b->start[j * b->nx + ci0];
    }
    return n;
}

/* The rows of part @part of @parts passing @outer, and of those @inner:
 * 64 of the base at a time, then the changes (part 0). @fn(ud, c, i) for
 * each passing @outer but not @inner, when set; the counts otherwise. */
typedef struct within_part {
    const ht_index *ix;
    const ht_index_filter *outer, *inner;
    size_t part, parts;
    size_t every; /* blocks of 64 of the base walked: one in @every */
    size_t n_outer, n_inner;
    ht_index_point_fn fn;
    void *ud;
    bool ok;
} within_part;

/* Rows @w0 + @a to @w0 + @e - 1 of the base: counted, and those outside
 * given to w->fn. */
static inline void within_block(within_part *w, const ht__qtab *to,
                                const ht__qtab *ti, const cols *c, size_t w0,
                                size_t a, size_t e) {
    const ht_index *ix = w->ix;
    uint64_t mo = ht__qtab_block(to, c, w0, a, e) & ~ix->dead[w0 / 64];
    mo = ht__qtab_rest(to, c, w0, mo);
    uint64_t mi = ti->none ? 0 : ht__qtab_block(ti, c, w0, a, e) & mo;
    mi = ht__qtab_rest(ti, c, w0, mi);
    for (uint64_t m = w->fn ? mo & ~mi : 0; m; m &= m - 1) {
        size_t i = w0 + (size_t)__builtin_ctzll(m);
        double x, y;
        ht__row_m(c, i, &x, &y);
        w->fn(w->ud, x, y, (int)(c->flags[i] & 3));
    }
    w->n_outer += (size_t)__builtin_popcountll(mo);
    w->n_inner += (size_t)__builtin_popcountll(mi);
}

static void *within_walk(void *arg) {
    within_part *w = arg;
    const ht_index *ix = w->ix;
    const base *b = ix->b;
    const cols *c = &b->c;
    ht__qtab to, ti;
    bool t1 = ht__qtab_init(&to, ix, w->outer);
    bool t2 = t1 && ht__qtab_init(&ti, ix, w->inner);
    if (!t2) {
        if (t1) {
            ht__qtab_free(&to);
        }
        w->ok = false;
        return NULL;
    }
    size_t n = c->n, parts = w->parts, part = w->part;
    if (w->outer && w->outer->grids) {
        /* an outer filter of grids (a street office, a community): the
         * cells of their rows only, rows of cells dealt to the parts */
        uint32_t qb[4];
        size_t cell[4] = {0, 0, 0, 0};
        bool any = grids_qbox(b, w->outer, qb) && cells_over(b, qb, cell);
        for (size_t j = cell[2]; any && !to.none && j <= cell[3]; j++) {
            if (parts > 1 && j % parts != part) {
                continue;
            }
            size_t a = b->start[j * b->nx + cell[0]];
            size_t e = b->start[j * b->nx + cell[1] + 1];
            for (size_t w0 = a / 64 * 64; w0 < e; w0 += 64) {
                if (w->every > 1 && w0 / 64 % w->every) {
                    continue;
                }
                within_block(w, &to, &ti, c, w0, w0 < a ? a - w0 : 0,
                             e - w0 < 64 ? e - w0 : 64);
            }
        }
    } else {
        size_t i0 = n / parts * part;
        size_t i1 = part + 1 == parts ? n : n / parts * (part + 1);
        for (size_t w0 = i0 / 64 * 64; !to.none && w0 < i1; w0 += 64) {
            if (w->every > 1 && w0 / 64 % w->every) {
                continue;
            }
            within_block(w, &to, &ti, c, w0, w0 < i0 ? i0 - w0 : 0,
                         i1 - w0 < 64 ? i1 - w0 : 64);
        }
    }
    ht__qtab_free(&to);
    ht__qtab_free(&ti);
    const cols *dl = &ix->delta;
    for (size_t i = 0; part == 0 && w->every <= 1 && i < dl->n; i++) {
        if (!ht__match(w->outer, dl, i)) {
            continue;
        }
        bool in = ht__match(w->inner, dl, i);
        if (w->fn && !in) {
            w->fn(w->ud, ht__dequantise(dl->x[i]), ht__dequantise(dl->y[i]),
                  (int)(dl->flags[i] & 3));
        }
        w->n_outer++;
        w->n_inner += in;
    }
    return NULL;
}

/* (row by row, when the tables cannot be had) */
typedef struct outside_ctx {
    const ht_index_filter *inner;
    within_part *w;
} outside_ctx;

static void outside_row(void *ud, const cols *c, size_t i) {
    const outside_ctx *o = ud;
    bool in = ht__match(o->inner, c, i);
    if (o->w->fn && !in) {
        double x, y;
        ht__row_m(c, i, &x, &y);
        o->w->fn(o->w->ud, x, y, (int)(c->flags[i] & 3));
    }
    o->w->n_outer++;
    o->w->n_inner += in;
}

static void *within_part_run(void *arg) {
    within_part *w = arg;
    within_walk(w);
    if (!w->ok) {
        outside_ctx o = {w->inner, w};
        w->n_outer = w->n_inner = 0;
        walk_rows(w->ix, w->outer, NULL, w->part, w->parts, outside_row, &o);
    }
    return NULL;
}

void ht_index_count_within(const ht_index *ix, const ht_index_filter *outer,
                           const ht_index_filter *inner, size_t every,
                           size_t *n_outer, size_t *n_inner) {
    size_t parts = ht__index_parts(ix);
    within_part w[INDEX_PARTS];
    for (size_t p = 0; p < parts; p++) {
        w[p] = (within_part){ix, outer, inner, p,    parts, every,
                             0,  0,     NULL,  NULL, true};
    }
    ht__index_run_parts(within_part_run, w, sizeof *w, parts);
    *n_outer = *n_inner = 0;
    for (size_t p = 0; p < parts; p++) {
        *n_outer += w[p].n_outer;
        *n_inner += w[p].n_inner;
    }
}

void ht_index_points_outside_part(const ht_index *ix,
                                  const ht_index_filter *outer,
                                  const ht_index_filter *inner, size_t part,
                                  size_t parts, ht_index_point_fn fn, void *ud,
                                  size_t *n_outer, size_t *n_inner) {
    within_part w = {ix, outer, inner, part, parts ? parts : 1, 1, 0,
                     0,  fn,    ud,    true};
    within_part_run(&w);
    *n_outer = w.n_outer;
    *n_inner = w.n_inner;
}

bool ht_index_filter_category(const ht_index_filter *q, size_t cat) {
    return !q || !q->cats || (q->cats[cat / 64] >> (cat % 64) & 1);
}
