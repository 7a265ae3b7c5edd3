/* SPDX-License-Identifier: Apache-2.0 */
/* Aggregates: street heat, counts per grid, classes, hotspots (Gi*). */
#include "hutong/analysis.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hutong/buf.h"
#include "hutong/heat.h"

#include "analysis_int.h"

/* ---- street heat ---- */

typedef struct street_ctx {
    const ht_features *f;
    ht_street_heat *h;
    int64_t last_id;
    size_t last_index;
} street_ctx;

static void count_street(void *ud, int64_t street_id) {
    street_ctx *c = ud;
    /* Runs of incidents share a street: skip the lookup then. */
    if (street_id != c->last_id) {
        c->last_id = street_id;
        c->last_index = ht_features_street_by_id(c->f, street_id);
    }
    if (c->last_index != (size_t)-1) {
        c->h->count[c->last_index]++;
        c->h->total++;
    }
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void ht_street_heat_free(ht_street_heat *h) {
    if (h) {
        free(h->count);
        free(h->rate);
        free(h);
    }
}

/* Counting by street id, a part of the index a thread, from this many
 * incidents on. */
#define STREET_PARTS 4
static _Atomic size_t street_from = 400000, street_forced = 0;

void ht__analysis_set_parts(size_t parts, size_t from) {
    street_forced = parts > STREET_PARTS ? STREET_PARTS : parts;
    street_from = from;
}

typedef struct street_part {
    const ht_index *ix;
    const ht_index_filter *q;
    size_t part, parts, nids;
    uint32_t *counts;
} street_part;

static void *count_street_part(void *arg) {
    street_part *p = arg;
    ht_index_street_counts(p->ix, p->q, p->part, p->parts, p->counts, p->nids);
    return NULL;
}

/* The counts by street id, in threads, then by street: false when the
 * ids are too sparse for a table of them (or out of memory), for the
 * walk with a lookup per run of rows instead. */
static bool count_streets_by_id(const ht_index *ix, const ht_index_filter *q,
                                const ht_features *f, ht_street_heat *h) {
    size_t n = ht_features_street_count(f);
    int64_t top = n ? ht_features_street(f, n - 1)->id : 0; /* id order */
    if (n == 0 || top < 0 || (size_t)top > 8 * n + 4096) {
        return false;
    }
    size_t nids = (size_t)top + 1;
    long cores =
        street_forced ? (long)street_forced : sysconf(_SC_NPROCESSORS_ONLN);
    size_t parts = ht_index_count(ix) < street_from || cores < 2 ? 1
                   : cores > STREET_PARTS                        ? STREET_PARTS
                                          : (size_t)cores;
    street_part sp[STREET_PARTS];
    pthread_t tid[STREET_PARTS];
    bool started[STREET_PARTS] = {false}, ok = true;
    for (size_t p = 0; p < parts; p++) {
        sp[p] = (street_part){ix,    q,    p,
                              parts, nids, calloc(nids, sizeof(uint32_t))};
        ok = ok && sp[p].counts;
    }
    for (size_t p = 1; ok && p < parts; p++) {
        started[p] =
            pthread_create(&tid[p], NULL, count_street_part, &sp[p]) == 0;
    }
    for (size_t p = 0; ok && p < parts; p++) {
        if (p == 0 || !started[p]) {
            count_street_part(&sp[p]);
        } else {
            pthread_join(tid[p], NULL);
        }
    }
    for (size_t i = 0; ok && i < n; i++) {
        int64_t id = ht_features_street(f, i)->id;
        uint64_t c = 0;
        for (size_t p = 0; id >= 0 && p < parts; p++) {
            c += sp[p].counts[id];
        }
        h->count[i] = (uint32_t)c;
        h->total += c;
    }
    for (size_t p = 0; p < parts; p++) {
        free(sp[p].counts);
    }
    return ok;
}

ht_status ht_analysis_street_heat(const ht_index *ix, const ht_index_filter *q,
                                  const ht_features *f, ht_street_heat **out,
                                  ht_error *err) {
    *out = NULL;
    ht_street_heat *h = calloc(1, sizeof *h);
    size_t n = ht_features_street_count(f);
    if (h) {
        h->n = n;
        h->count = calloc(n + 1, sizeof *h->count);
        h->rate = calloc(n + 1, sizeof *h->rate);
    }
    if (!h || !h->count || !h->rate) {
        ht_street_heat_free(h);
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    if (!count_streets_by_id(ix, q, f, h)) {
        street_ctx c = {f, h, -1, (size_t)-1};
        ht_index_each_street(ix, q, count_street, &c);
    }
    for (size_t i = 0; i < n; i++) {
        double len =
            fmax(ht_features_street(f, i)->length_m, HT_STREET_MIN_LENGTH_M);
        h->rate[i] = h->count[i] / (len / 100);
    }
    ht_status st = ht_street_heat_rescale(h, err);
    if (st != HT_OK) {
        ht_street_heat_free(h);
        return st;
    }
    *out = h;
    return HT_OK;
}

void ht_street_heat_add(ht_street_heat *h, const ht_features *f,
                        int64_t street_id, int w) {
    size_t i =
        street_id < 0 ? (size_t)-1 : ht_features_street_by_id(f, street_id);
    if (i == (size_t)-1 || (w < 0 && h->count[i] < (uint32_t)-w)) {
        return;
    }
    h->count[i] = (uint32_t)((int64_t)h->count[i] + w);
    h->total = (size_t)((int64_t)h->total + w);
    double len =
        fmax(ht_features_street(f, i)->length_m, HT_STREET_MIN_LENGTH_M);
    h->rate[i] = h->count[i] / (len / 100);
}

ht_status ht_street_heat_rescale(ht_street_heat *h, ht_error *err) {
    double *nz = malloc((h->n + 1) * sizeof *nz);
    if (!nz) {
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    size_t m = 0;
    for (size_t i = 0; i < h->n; i++) {
        if (h->count[i]) {
            nz[m++] = h->rate[i];
        }
    }
    if (m > 1) {
        qsort(nz, m, sizeof *nz, cmp_double);
    }
    h->auto_scale = m ? ht_heat_nice(nz[(size_t)(0.99 * (double)(m - 1))]) : 0;
    free(nz);
    return HT_OK;
}

/* ---- counts per grid ---- */

void ht_analysis_grid_counts_add(const ht_features *f, double *counts,
                                 const char *grid_code, double w) {
    const ht_fgrid *g = grid_code ? ht_features_find_grid(f, grid_code) : NULL;
    for (int depth = 0; g && depth < 16; depth++) {
        counts[ht_features_grid_index(f, g)] += w;
        g = g->parent_code ? ht_features_find_grid(f, g->parent_code) : NULL;
    }
}

ht_status ht_analysis_grid_counts(const ht_index *ix, const ht_index_filter *q,
                                  const ht_features *f, double **out,
                                  ht_error *err) {
    size_t n = ht_features_grid_count(f);
    double *lowest = calloc(n + 1, sizeof *lowest);
    double *all = calloc(n + 1, sizeof *all);
    if (!lowest || !all) {
        free(lowest);
        free(all);
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    /* Counted by the index's grid ids, then named once each. */
    size_t ng = ht_index_groups(ix, HT_GROUP_GRID);
    int64_t *byid = calloc(ng, sizeof *byid);
    if (!byid) {
        free(lowest);
        free(all);
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    ht_index_group_counts(ix, q, HT_GROUP_GRID, byid);
    for (size_t k = 0; k + 1 < ng; k++) {
        char buf[16];
        const ht_fgrid *g =
            byid[k] ? ht_features_find_grid(
                          f, ht_index_group_key(ix, HT_GROUP_GRID, k, buf))
                    : NULL;
        if (g) {
            lowest[ht_features_grid_index(f, g)] += (double)byid[k];
        }
    }
    free(byid);
    /* Roll each grid's own count up its ancestors. */
    for (size_t i = 0; i < n; i++) {
        if (lowest[i] == 0) {
            continue;
        }
        const ht_fgrid *g = ht_features_grid(f, i);
        for (int depth = 0; g && depth < 16; depth++) {
            all[ht_features_grid_index(f, g)] += lowest[i];
            g = g->parent_code ? ht_features_find_grid(f, g->parent_code)
                               : NULL;
        }
    }
    free(lowest);
    *out = all;
    return HT_OK;
}

/* ---- classes ---- */

int ht_analysis_class_of(double v, const double *breaks, int k) {
    int c = 0;
    while (c < k - 1 && v > breaks[c]) {
        c++;
    }
    return c;
}

/* Fisher's exact optimal partition of sorted @v into @k classes (as in
 * Jenks 1977): lower[i][j] is the first index of class j of the best
 * partition of v[0..i] into j + 1 classes. */
static ht_status jenks(const double *v, size_t n, int k, double *breaks,
                       ht_error *err) {
    double *var = malloc(n * (size_t)k * sizeof *var);
    size_t *low = malloc(n * (size_t)k * sizeof *low);
    if (!var || !low) {
        free(var);
        free(low);
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        for (int j = 0; j < k; j++) {
            var[i * (size_t)k + (size_t)j] = INFINITY;
            low[i * (size_t)k + (size_t)j] = 0;
        }
    }
    for (size_t i = 0; i < n; i++) {
        /* One class holding v[m..i], for every m: its squared deviation. */
        double s = 0, s2 = 0, w = 0;
        for (size_t m = i + 1; m-- > 0;) {
            s += v[m];
            s2 += v[m] * v[m];
            w++;
            double dev = s2 - s * s / w;
            if (m == 0) {
                var[i * (size_t)k] = dev;
                low[i * (size_t)k] = 0;
                continue;
            }
            for (int j = 1; j < k; j++) {
                double cand = var[(m - 1) * (size_t)k + (size_t)(j - 1)] + dev;
                if (cand < var[i * (size_t)k + (size_t)j]) {
                    var[i * (size_t)k + (size_t)j] = cand;
                    low[i * (size_t)k + (size_t)j] = m;
                }
            }
        }
    }
    /* Walk back from the last value. */
    size_t end = n - 1;
    for (int j = k - 1; j > 0; j--) {
        size_t first = low[end * (size_t)k + (size_t)j];
        breaks[j - 1] = first > 0 ? v[first - 1] : v[0];
        end = first > 0 ? first - 1 : 0;
    }
    free(var);
    free(low);
    return HT_OK;
}

ht_status ht_analysis_breaks(const double *values, size_t n, int k,
                             ht_classing how, double *breaks, ht_error *err) {
    if (k < 2 || k > 12) {
        return ht_error_set(err, HT_EINVAL, "%d classes outside 2..12", k);
    }
    double *v = malloc((n ? n : 1) * sizeof *v);
    if (!v) {
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (isfinite(values[i])) {
            v[m++] = values[i];
        }
    }
    if (m > 1) {
        qsort(v, m, sizeof *v, cmp_double);
    }
    ht_status st = HT_OK;
    if (m == 0) {
        for (int c = 0; c < k - 1; c++) {
            breaks[c] = 0;
        }
    } else if (how == HT_CLASS_JENKS && m >= (size_t)k) {
        st = jenks(v, m, k, breaks, err);
    } else {
        for (int c = 0; c < k - 1; c++) {
            size_t at = (size_t)((double)(c + 1) * (double)m / k);
            breaks[c] = v[at ? at - 1 : 0];
        }
    }
    free(v);
    return st;
}

/* ---- neighbours ---- */

void ht_neighbours_free(ht_neighbours *nb) {
    free(nb->start);
    free(nb->nbr);
    memset(nb, 0, sizeof *nb);
}

typedef struct edge_key {
    double ax, ay, bx, by; /* ordered: (a) < (b) */
    uint32_t item;
} edge_key;

static int cmp_edge(const void *p, const void *q) {
    const edge_key *a = p, *b = q;
    const double ka[4] = {a->ax, a->ay, a->bx, a->by};
    const double kb[4] = {b->ax, b->ay, b->bx, b->by};
    for (int i = 0; i < 4; i++) {
        if (ka[i] != kb[i]) {
            return ka[i] < kb[i] ? -1 : 1;
        }
    }
    return (a->item > b->item) - (a->item < b->item);
}

typedef struct pair {
    uint32_t a, b;
} pair;

static int cmp_pair(const void *p, const void *q) {
    const pair *a = p, *b = q;
    if (a->a != b->a) {
        return a->a < b->a ? -1 : 1;
    }
    return (a->b > b->b) - (a->b < b->b);
}

ht_status ht_analysis_neighbours(const ht_features *f, const uint32_t *ids,
                                 size_t n, double distance_m,
                                 ht_neighbours *out, ht_error *err) {
    memset(out, 0, sizeof *out);
    pair *pairs = NULL;
    size_t np = 0, cap = 0;
    ht_status st = HT_OK;
    if (distance_m > 0) {
        /* Label points within the band (projected metres scaled by the
         * latitude's cos: ample at this scale). */
        for (size_t i = 0; i < n && st == HT_OK; i++) {
            const ht_fgrid *a = ht_features_grid(f, ids[i]);
            double lat = 2 * atan(exp(a->label.y / 6378137.0)) - HT_PI / 2;
            double band = distance_m / cos(lat);
            for (size_t j = 0; j < n && st == HT_OK; j++) {
                const ht_fgrid *b = ht_features_grid(f, ids[j]);
                if (i != j && hypot(a->label.x - b->label.x,
                                    a->label.y - b->label.y) <= band) {
                    st = ht_array_grow((void **)&pairs, &cap, np + 1,
                                       sizeof *pairs, err);
                    if (st == HT_OK) {
                        pairs[np++] = (pair){(uint32_t)i, (uint32_t)j};
                    }
                }
            }
        }
    } else {
        /* Shared edges: list every ring edge, sort, and pair equal ones. */
        edge_key *e = NULL;
        size_t ne = 0, ecap = 0;
        for (size_t i = 0; i < n && st == HT_OK; i++) {
            const ht_geom *g = ht_features_grid(f, ids[i])->geom;
            for (size_t p = 0; p < g->nparts && st == HT_OK; p++) {
                size_t a = g->parts[p], b = ht_geom_part_end(g, p);
                for (size_t k = a; k + 1 < b && st == HT_OK; k++) {
                    ht_point u = g->pts[k], v = g->pts[k + 1];
                    if (u.x > v.x || (u.x == v.x && u.y > v.y)) {
                        ht_point t = u;
                        u = v;
                        v = t;
                    }
                    st = ht_array_grow((void **)&e, &ecap, ne + 1, sizeof *e,
                                       err);
                    if (st == HT_OK) {
                        e[ne++] = (edge_key){u.x, u.y, v.x, v.y, (uint32_t)i};
                    }
                }
            }
        }
        if (st == HT_OK && ne > 1) {
            qsort(e, ne, sizeof *e, cmp_edge);
        }
        for (size_t k = 0; st == HT_OK && k + 1 < ne; k++) {
            for (size_t l = k + 1;
                 l < ne && st == HT_OK && e[l].ax == e[k].ax &&
                 e[l].ay == e[k].ay && e[l].bx == e[k].bx && e[l].by == e[k].by;
                 l++) {
                if (e[l].item == e[k].item) {
                    continue;
                }
                st = ht_array_grow((void **)&pairs, &cap, np + 2, sizeof *pairs,
                                   err);
                if (st == HT_OK) {
                    pairs[np++] = (pair){e[k].item, e[l].item};
                    pairs[np++] = (pair){e[l].item, e[k].item};
                }
            }
        }
        free(e);
    }
    if (st == HT_OK && np > 1) {
        qsort(pairs, np, sizeof *pairs, cmp_pair);
    }
    out->n = n;
    out->start = calloc(n + 1, sizeof *out->start);
    out->nbr = malloc((np ? np : 1) * sizeof *out->nbr);
    if (st == HT_OK && (!out->start || !out->nbr)) {
        st = ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    size_t m = 0;
    for (size_t k = 0; st == HT_OK && k < np; k++) {
        if (k && pairs[k].a == pairs[k - 1].a && pairs[k].b == pairs[k - 1].b) {
            continue; /* two shared edges make one neighbour */
        }
        out->nbr[m++] = pairs[k].b;
        out->start[pairs[k].a + 1]++;
    }
    for (size_t i = 0; st == HT_OK && i < n; i++) {
        out->start[i + 1] += out->start[i];
    }
    free(pairs);
    if (st != HT_OK) {
        ht_neighbours_free(out);
    }
    return st;
}

/* ---- Getis-Ord Gi* ---- */

ht_status ht_analysis_gistar(const double *x, const ht_neighbours *nb,
                             double *z, ht_error *err) {
    size_t n = nb->n;
    if (n < 2) {
        for (size_t i = 0; i < n; i++) {
            z[i] = 0;
        }
        return n ? HT_OK : ht_error_set(err, HT_EINVAL, "no areas");
    }
    double sum = 0, sum2 = 0;
    for (size_t i = 0; i < n; i++) {
        sum += x[i];
        sum2 += x[i] * x[i];
    }
    double mean = sum / (double)n;
    double s = sqrt(fmax(sum2 / (double)n - mean * mean, 0));
    for (size_t i = 0; i < n; i++) {
        /* Binary weights, the area itself included (the star). */
        double w = 1 + (double)(nb->start[i + 1] - nb->start[i]);
        double wx = x[i];
        for (uint32_t k = nb->start[i]; k < nb->start[i + 1]; k++) {
            wx += x[nb->nbr[k]];
        }
        double den = s * sqrt(((double)n * w - w * w) / (double)(n - 1));
        z[i] = den > 0 ? (wx - mean * w) / den : 0;
    }
    return HT_OK;
}

int ht_analysis_gistar_class(double z) {
    double a = fabs(z);
    int c = a >= 2.576 ? 3 : a >= 1.960 ? 2 : a >= 1.645 ? 1 : 0;
    return z < 0 ? -c : c;
}
