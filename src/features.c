/* SPDX-License-Identifier: Apache-2.0 */
/* The map's grids and streets in memory, projected for rendering. */
#include "hutong/features.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hutong/buf.h"
#include "hutong/tile.h"

#include "bucket_int.h"

struct ht_features {
    ht_fgrid *grids;
    size_t ngrids, cap_grids;
    ht_fstreet *streets;
    size_t nstreets, cap_streets;
    ht_fchain *chains;
    size_t nchains, cap_chains;
    uint32_t *by_code; /* grid indices sorted by code */
    ht__buckets index[3];
};

/* A copy of lon/lat @g in EPSG:3857. */
static ht_geom *project(const ht_geom *g) {
    ht_geom *m = ht_geom_clone(g);
    for (size_t i = 0; m && i < m->npts; i++) {
        ht_tile_lonlat_to_merc(m->pts[i].x, m->pts[i].y, &m->pts[i].x,
                               &m->pts[i].y);
    }
    return m;
}

static char *dup_or_null(const char *s) {
    return s ? strdup(s) : NULL;
}

static ht_status add_grid(const ht_grid_rec *rec, void *ud, ht_error *err) {
    ht_features *f = ud;
    ht_status st = ht_array_grow((void **)&f->grids, &f->cap_grids,
                                 f->ngrids + 1, sizeof *f->grids, err);
    if (st != HT_OK) {
        return st;
    }
    ht_fgrid g = {.level = rec->level, .population = rec->population};
    g.code = strdup(rec->code);
    g.name = dup_or_null(rec->name);
    g.parent_code = dup_or_null(rec->parent_code);
    g.responsible = dup_or_null(rec->responsible);
    g.geom = project(rec->geom);
    if (!g.code || (rec->name && !g.name) ||
        (rec->parent_code && !g.parent_code) ||
        (rec->responsible && !g.responsible) || !g.geom) {
        free(g.code);
        free(g.name);
        free(g.parent_code);
        free(g.responsible);
        ht_geom_free(g.geom);
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    g.bbox = ht_geom_bbox(g.geom);
    g.area_m2 = ht_geom_area_m2(rec->geom);
    if (ht_geom_interior_point(g.geom, &g.label, NULL) != HT_OK) {
        g.label = (ht_point){(g.bbox.minx + g.bbox.maxx) / 2,
                             (g.bbox.miny + g.bbox.maxy) / 2};
    }
    f->grids[f->ngrids++] = g;
    return HT_OK;
}

static ht_status add_street(int64_t id, const ht_street_rec *rec, void *ud,
                            ht_error *err) {
    ht_features *f = ud;
    ht_status st = ht_array_grow((void **)&f->streets, &f->cap_streets,
                                 f->nstreets + 1, sizeof *f->streets, err);
    if (st != HT_OK) {
        return st;
    }
    ht_fstreet s = {.id = id, .kind = rec->kind};
    s.name = dup_or_null(rec->name);
    s.geom = project(rec->geom);
    if ((rec->name && !s.name) || !s.geom) {
        free(s.name);
        ht_geom_free(s.geom);
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    s.bbox = ht_geom_bbox(s.geom);
    /* Ground length on the ellipsoid's local tangent plane, vertex to
     * vertex, at each step's mid latitude. */
    const ht_geom *ll = rec->geom;
    for (size_t k = 1; k < ll->npts; k++) {
        double phi = (ll->pts[k].y + ll->pts[k - 1].y) / 2 * HT_PI / 180;
        double sn = sin(phi), w = sqrt(1 - 0.00669437999014 * sn * sn);
        double n = 6378137.0 / w,
               m = 6378137.0 * (1 - 0.00669437999014) / (w * w * w);
        double dx =
            (ll->pts[k].x - ll->pts[k - 1].x) * HT_PI / 180 * n * cos(phi);
        double dy = (ll->pts[k].y - ll->pts[k - 1].y) * HT_PI / 180 * m;
        s.length_m += hypot(dx, dy);
    }
    f->streets[f->nstreets++] = s;
    return HT_OK;
}

/* A feature's index with the keys it sorts by: the comparisons need no
 * context shared between threads. */
typedef struct keyed {
    const char *text;
    int64_t id;
    uint32_t at;
} keyed;

/* By text, then id: streets by name group a name's segments; grids by
 * code. */
static int cmp_keyed(const void *a, const void *b) {
    const keyed *p = a, *q = b;
    int c = strcmp(p->text, q->text);
    return c ? c : (p->id > q->id) - (p->id < q->id);
}

/* Sort @n indexes at @idx by the keys of @keys (the same order); @keys is
 * scratch. */
static void sort_keyed(uint32_t *idx, keyed *keys, size_t n) {
    if (n > 1) {
        qsort(keys, n, sizeof *keys, cmp_keyed);
    }
    for (size_t i = 0; i < n; i++) {
        idx[i] = keys[i].at;
    }
}

static bool same_pt(ht_point a, ht_point b) {
    return a.x == b.x && a.y == b.y;
}

/* Append segment @s to the chain being built, forwards or reversed. */
static ht_status chain_push(ht_point **pts, size_t *n, size_t *cap,
                            const ht_geom *g, bool reverse, bool skip_first,
                            ht_error *err) {
    for (size_t k = skip_first ? 1 : 0; k < g->npts; k++) {
        size_t i = reverse ? g->npts - 1 - k : k;
        ht_status st =
            ht_array_grow((void **)pts, cap, *n + 1, sizeof **pts, err);
        if (st != HT_OK) {
            return st;
        }
        (*pts)[(*n)++] = g->pts[i];
    }
    return HT_OK;
}

/* Join the segments of each street name into chains: extend a chain at its
 * tail while an unused segment of that name starts or ends there. */
static ht_status build_chains(ht_features *f, ht_error *err) {
    uint32_t *idx = malloc((f->nstreets + 1) * sizeof *idx);
    bool *used = calloc(f->nstreets + 1, sizeof *used);
    size_t n = 0;
    ht_status st =
        idx && used ? HT_OK : ht_error_set(err, HT_ENOMEM, "out of memory");
    for (size_t i = 0; st == HT_OK && i < f->nstreets; i++) {
        if (f->streets[i].name && f->streets[i].geom->npts >= 2) {
            idx[n++] = (uint32_t)i;
        }
    }
    keyed *keys = st == HT_OK ? malloc((n + 1) * sizeof *keys) : NULL;
    if (st == HT_OK && !keys) {
        st = ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    if (st == HT_OK) {
        for (size_t i = 0; i < n; i++) {
            const ht_fstreet *s = &f->streets[idx[i]];
            keys[i] = (keyed){s->name, s->id, idx[i]};
        }
        sort_keyed(idx, keys, n);
    }
    free(keys);
    for (size_t a = 0; st == HT_OK && a < n;) {
        size_t b = a;
        while (b < n &&
               strcmp(f->streets[idx[b]].name, f->streets[idx[a]].name) == 0) {
            b++;
        }
        for (size_t s0 = a; st == HT_OK && s0 < b; s0++) {
            if (used[idx[s0]]) {
                continue;
            }
            ht_point *pts = NULL;
            size_t np = 0, cap = 0;
            used[idx[s0]] = true;
            st = chain_push(&pts, &np, &cap, f->streets[idx[s0]].geom, false,
                            false, err);
            for (bool grew = true; st == HT_OK && grew;) {
                grew = false;
                for (size_t k = a; k < b && st == HT_OK; k++) {
                    const ht_geom *g = f->streets[idx[k]].geom;
                    if (used[idx[k]]) {
                        continue;
                    }
                    bool fwd = same_pt(g->pts[0], pts[np - 1]);
                    bool rev = same_pt(g->pts[g->npts - 1], pts[np - 1]);
                    if (fwd || rev) {
                        used[idx[k]] = true;
                        st = chain_push(&pts, &np, &cap, g, rev, true, err);
                        grew = true;
                    }
                }
            }
            if (st == HT_OK) {
                st = ht_array_grow((void **)&f->chains, &f->cap_chains,
                                   f->nchains + 1, sizeof *f->chains, err);
            }
            if (st != HT_OK) {
                free(pts);
                break;
            }
            ht_fchain c = {.name = f->streets[idx[s0]].name,
                           .kind = f->streets[idx[s0]].kind,
                           .pts = pts,
                           .npts = np,
                           .bbox = ht_bbox_empty()};
            for (size_t k = 0; k < np; k++) {
                ht_bbox_add(&c.bbox, pts[k].x, pts[k].y);
                if (k) {
                    c.length_m +=
                        hypot(pts[k].x - pts[k - 1].x, pts[k].y - pts[k - 1].y);
                }
            }
            f->chains[f->nchains++] = c;
        }
        a = b;
    }
    free(idx);
    free(used);
    return st;
}

static ht_status build_indexes(ht_features *f, ht_error *err) {
    size_t most = f->ngrids > f->nstreets ? f->ngrids : f->nstreets;
    most = most > f->nchains ? most : f->nchains;
    ht_bbox *boxes = malloc((most + 1) * sizeof *boxes);
    f->by_code = malloc((f->ngrids + 1) * sizeof *f->by_code);
    if (!boxes || !f->by_code) {
        free(boxes);
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    keyed *keys = malloc((f->ngrids + 1) * sizeof *keys);
    if (!keys) {
        free(boxes);
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < f->ngrids; i++) {
        boxes[i] = f->grids[i].bbox;
        keys[i] = (keyed){f->grids[i].code, 0, (uint32_t)i};
    }
    sort_keyed(f->by_code, keys, f->ngrids);
    free(keys);
    ht_status st = ht__buckets_build(&f->index[HT_F_GRIDS], boxes, f->ngrids,
                                     NULL, 0, 0, err);
    for (size_t i = 0; st == HT_OK && i < f->nstreets; i++) {
        boxes[i] = f->streets[i].bbox;
    }
    if (st == HT_OK) {
        st = ht__buckets_build(&f->index[HT_F_STREETS], boxes, f->nstreets,
                               NULL, 0, 0, err);
    }
    for (size_t i = 0; st == HT_OK && i < f->nchains; i++) {
        boxes[i] = f->chains[i].bbox;
    }
    if (st == HT_OK) {
        st = ht__buckets_build(&f->index[HT_F_CHAINS], boxes, f->nchains, NULL,
                               0, 0, err);
    }
    free(boxes);
    return st;
}

ht_status ht_features_load(ht_store *s, ht_features **out, ht_error *err) {
    *out = NULL;
    ht_features *f = calloc(1, sizeof *f);
    if (!f) {
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    ht_status st = ht_store_each_grid(s, add_grid, f, err);
    if (st == HT_OK) {
        st = ht_store_each_street(s, add_street, f, err);
    }
    if (st == HT_OK) {
        st = build_chains(f, err);
    }
    if (st == HT_OK) {
        st = build_indexes(f, err);
    }
    if (st != HT_OK) {
        ht_features_free(f);
        return st;
    }
    *out = f;
    return HT_OK;
}

void ht_features_free(ht_features *f) {
    if (!f) {
        return;
    }
    for (size_t i = 0; i < f->ngrids; i++) {
        free(f->grids[i].code);
        free(f->grids[i].name);
        free(f->grids[i].parent_code);
        free(f->grids[i].responsible);
        ht_geom_free(f->grids[i].geom);
    }
    for (size_t i = 0; i < f->nstreets; i++) {
        free(f->streets[i].name);
        ht_geom_free(f->streets[i].geom);
    }
    for (size_t i = 0; i < f->nchains; i++) {
        free(f->chains[i].pts);
    }
    for (int k = 0; k < 3; k++) {
        ht__buckets_free(&f->index[k]);
    }
    free(f->grids);
    free(f->streets);
    free(f->chains);
    free(f->by_code);
    free(f);
}

size_t ht_features_grid_count(const ht_features *f) {
    return f->ngrids;
}

size_t ht_features_street_count(const ht_features *f) {
    return f->nstreets;
}

size_t ht_features_chain_count(const ht_features *f) {
    return f->nchains;
}

const ht_fgrid *ht_features_grid(const ht_features *f, size_t i) {
    return i < f->ngrids ? &f->grids[i] : NULL;
}

const ht_fstreet *ht_features_street(const ht_features *f, size_t i) {
    return i < f->nstreets ? &f->streets[i] : NULL;
}

const ht_fchain *ht_features_chain(const ht_features *f, size_t i) {
    return i < f->nchains ? &f->chains[i] : NULL;
}

const ht_fgrid *ht_features_find_grid(const ht_features *f, const char *code) {
    size_t lo = 0, hi = f->ngrids;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(f->grids[f->by_code[mid]].code, code);
        if (c == 0) {
            return &f->grids[f->by_code[mid]];
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

size_t ht_features_street_by_id(const ht_features *f, int64_t id) {
    /* Streets are loaded in id order. */
    size_t lo = 0, hi = f->nstreets;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (f->streets[mid].id == id) {
            return mid;
        }
        if (f->streets[mid].id < id) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return (size_t)-1;
}

size_t ht_features_grid_index(const ht_features *f, const ht_fgrid *g) {
    return (size_t)(g - f->grids);
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

ht_status ht_features_query(const ht_features *f, ht_fkind kind,
                            const ht_bbox *box, uint32_t **out, size_t *n,
                            size_t *cap, ht_error *err) {
    *n = 0;
    const ht__buckets *b = &f->index[kind];
    size_t count = kind == HT_F_GRIDS     ? f->ngrids
                   : kind == HT_F_STREETS ? f->nstreets
                                          : f->nchains;
    if (count == 0 || box->maxx < b->box.minx || box->minx > b->box.maxx ||
        box->maxy < b->box.miny || box->miny > b->box.maxy) {
        return HT_OK;
    }
    size_t i0, j0, i1, j1;
    ht__buckets_range(b, box, &i0, &j0, &i1, &j1);
    for (size_t j = j0; j <= j1; j++) {
        for (size_t i = i0; i <= i1; i++) {
            size_t c = j * b->nx + i;
            for (size_t k = b->start[c]; k < b->start[c + 1]; k++) {
                uint32_t item = b->items[k];
                const ht_bbox *ib = kind == HT_F_GRIDS ? &f->grids[item].bbox
                                    : kind == HT_F_STREETS
                                        ? &f->streets[item].bbox
                                        : &f->chains[item].bbox;
                if (!ht_bbox_intersects(ib, box)) {
                    continue;
                }
                ht_status st =
                    ht_array_grow((void **)out, cap, *n + 1, sizeof **out, err);
                if (st != HT_OK) {
                    return st;
                }
                (*out)[(*n)++] = item;
            }
        }
    }
    /* An item in several cells is listed once. */
    if (*n > 1) { /* qsort(NULL, 0) is undefined */
        qsort(*out, *n, sizeof **out, cmp_u32);
    }
    size_t w = 0;
    for (size_t r = 0; r < *n; r++) {
        if (w == 0 || (*out)[w - 1] != (*out)[r]) {
            (*out)[w++] = (*out)[r];
        }
    }
    *n = w;
    return HT_OK;
}
