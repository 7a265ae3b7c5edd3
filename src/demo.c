/* SPDX-License-Identifier: Apache-2.0 */
/* The deterministic synthetic Dongcheng demo data set. */
#include "hutong/demo.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hutong/buf.h"
#include "hutong/csv.h"
#include "hutong/datetime.h"
#include "hutong/import.h"
#include "hutong/locate.h"

/* The synthetic city sits on a jittered lattice of about 143 m x 144 m
 * cells, so every region (unit grid, community, street office, district) is
 * a union of cells and shares its edges exactly with its neighbours. */
#define NX 34
#define NY 94
#define X0 116.3800
#define Y0 39.8540
#define DX 0.00168
#define DY 0.00130
#define NV ((NX + 1) * (NY + 1))
#define NC (NX * NY)
#define NSTREETS 17
#define MAX_COMMUNITIES 256
#define DAY 86400

#define VID(i, j) ((j) * (NX + 1) + (i))
#define CID(i, j) ((j)*NX + (i))

/* A hand-drawn outline in the district's extent (lon, lat): synthetic, not
 * traced from any map. */
static const double outline[][2] = {
    {116.3918, 39.8570}, {116.4166, 39.8580}, {116.4345, 39.8620},
    {116.4338, 39.8850}, {116.4283, 39.8970}, {116.4276, 39.9250},
    {116.4290, 39.9470}, {116.4221, 39.9520}, {116.4194, 39.9720},
    {116.4014, 39.9730}, {116.3938, 39.9650}, {116.3931, 39.9490},
    {116.3883, 39.9470}, {116.3849, 39.9350}, {116.3842, 39.9150},
    {116.3869, 39.9000}, {116.3931, 39.8930}, {116.3911, 39.8750},
    {116.3918, 39.8570}};

/* Parks: centre lon/lat and semi-axes in metres. */
static const struct {
    double lon, lat, ax, ay;
} parks[] = {{116.4087, 39.8818, 620, 950},
             {116.4007, 39.9163, 262, 480},
             {116.4128, 39.9515, 220, 300},
             {116.4238, 39.8790, 276, 330}};

enum zone { Z_OLD = 0, Z_NORTH, Z_SOUTH };

typedef struct rng {
    uint64_t s;
} rng;

/* splitmix64: small, fast and good enough for synthetic data. */
static uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rng_next(rng *r) {
    r->s += 0x9e3779b97f4a7c15ULL;
    return mix(r->s);
}

static double rng_unit(rng *r) {
    return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

static double rng_normal(rng *r) {
    double u = rng_unit(r), v = rng_unit(r);
    return sqrt(-2 * log(u + 1e-300)) * cos(2 * HT_PI * v);
}

static double rng_exp(rng *r, double mean) {
    return -log(1 - rng_unit(r)) * mean;
}

static size_t rng_below(rng *r, size_t n) {
    return (size_t)(rng_unit(r) * (double)n);
}

/* Pick an index from @n weights. */
static size_t rng_pick(rng *r, const double *w, size_t n) {
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        total += w[i];
    }
    double x = rng_unit(r) * total;
    for (size_t i = 0; i < n; i++) {
        if (x < w[i]) {
            return i;
        }
        x -= w[i];
    }
    return n - 1;
}

typedef struct office {
    char code[16];
    char name[64];
    double lon, lat, area;
    int seed_cell;
    int ncomm;
} office;

typedef struct community {
    char code[16];
    char name[64];
    int office;
    int seed_cell;
} community;

typedef struct dseg {
    ht_point p[3];
    ht_street_kind kind;
    int name; /* index into names, or -1 */
    int run;  /* hutong or road run, or -1 */
} dseg;

typedef struct run {
    int first; /* first segment */
    int n;
    bool hutong;
} run;

typedef struct demo {
    ht_store *s;
    const ht_demo_opts *o;
    ht_error *err;
    rng r;
    int64_t end;
    ht_geom *outline;
    ht_point vert[NV];
    bool in[NC];
    bool park[NC];
    int zone[NC];
    int office_of[NC];
    int comm_of[NC];
    double pop[NC];
    char code[NC][16];
    office offices[NSTREETS];
    int noffices;
    community comms[MAX_COMMUNITIES];
    int ncomms;
    dseg *segs;
    int nsegs;
    size_t cap_segs;
    char (*names)[48];
    int nnames;
    size_t cap_names;
    run *runs;
    int nruns;
    size_t cap_runs;
    ht_demo_stats *stats;
} demo;

/* ---- lattice ---- */

static ht_point cell_centre(const demo *d, int c) {
    int i = c % NX, j = c / NX;
    ht_point a = d->vert[VID(i, j)], b = d->vert[VID(i + 1, j)];
    ht_point e = d->vert[VID(i + 1, j + 1)], f = d->vert[VID(i, j + 1)];
    return (ht_point){(a.x + b.x + e.x + f.x) / 4, (a.y + b.y + e.y + f.y) / 4};
}

/* A point at (u, v) in [0,1]^2 across cell @c, bilinearly. */
static ht_point cell_point(const demo *d, int c, double u, double v) {
    int i = c % NX, j = c / NX;
    ht_point a = d->vert[VID(i, j)], b = d->vert[VID(i + 1, j)];
    ht_point e = d->vert[VID(i + 1, j + 1)], f = d->vert[VID(i, j + 1)];
    return (ht_point){
        (1 - v) * ((1 - u) * a.x + u * b.x) + v * ((1 - u) * f.x + u * e.x),
        (1 - v) * ((1 - u) * a.y + u * b.y) + v * ((1 - u) * f.y + u * e.y)};
}

static double metres_x(double lat) {
    return 111320.0 * cos(lat * HT_PI / 180);
}

static ht_status make_lattice(demo *d) {
    ht_status st;
    d->outline = ht_geom_new(HT_GEOM_POLYGON);
    if (!d->outline) {
        return ht_error_set(d->err, HT_ENOMEM, "out of memory");
    }
    st = ht_geom_start_polygon(d->outline, d->err);
    if (st == HT_OK) {
        st = ht_geom_start_part(d->outline, d->err);
    }
    for (size_t k = 0; st == HT_OK && k < sizeof outline / sizeof *outline;
         k++) {
        st =
            ht_geom_add_point(d->outline, outline[k][0], outline[k][1], d->err);
    }
    if (st != HT_OK) {
        return st;
    }
    /* Vertex jitter comes from a hash of the position, not the stream, so
     * the lattice does not depend on the order of anything else. */
    for (int j = 0; j <= NY; j++) {
        for (int i = 0; i <= NX; i++) {
            uint64_t h = mix(d->r.s ^ ((uint64_t)i << 32 | (uint64_t)j));
            double jx = ((double)(h & 0xffff) / 65535.0 - 0.5) * 0.22;
            double jy = ((double)(h >> 16 & 0xffff) / 65535.0 - 0.5) * 0.22;
            d->vert[VID(i, j)] =
                (ht_point){X0 + (i + jx) * DX, Y0 + (j + jy) * DY};
        }
    }
    for (int c = 0; c < NC; c++) {
        ht_point p = cell_centre(d, c);
        d->in[c] = ht_geom_contains(d->outline, p.x, p.y);
        d->zone[c] = p.y > 39.9475 ? Z_NORTH : p.y < 39.8965 ? Z_SOUTH : Z_OLD;
        for (size_t k = 0; k < sizeof parks / sizeof *parks; k++) {
            double ex = (p.x - parks[k].lon) * metres_x(p.y) / parks[k].ax;
            double ey = (p.y - parks[k].lat) * 111320.0 / parks[k].ay;
            if (ex * ex + ey * ey < 1) {
                d->park[c] = true;
            }
        }
        d->office_of[c] = -1;
        d->comm_of[c] = -1;
    }
    return HT_OK;
}

/* ---- regions ---- */

typedef struct hnode {
    double cost;
    int cell;
    int label;
} hnode;

typedef struct heap {
    hnode *a;
    size_t n, cap;
} heap;

static bool heap_push(heap *h, hnode x) {
    if (ht_array_grow((void **)&h->a, &h->cap, h->n + 1, sizeof *h->a, NULL) !=
        HT_OK) {
        return false;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        /* Ties break on label then cell, so the result is deterministic. */
        if (h->a[p].cost < x.cost ||
            (h->a[p].cost == x.cost &&
             (h->a[p].label < x.label ||
              (h->a[p].label == x.label && h->a[p].cell <= x.cell)))) {
            break;
        }
        h->a[i] = h->a[p];
        i = p;
    }
    h->a[i] = x;
    return true;
}

static bool node_less(const hnode *a, const hnode *b) {
    if (a->cost != b->cost) {
        return a->cost < b->cost;
    }
    if (a->label != b->label) {
        return a->label < b->label;
    }
    return a->cell < b->cell;
}

static hnode heap_pop(heap *h) {
    hnode top = h->a[0], x = h->a[--h->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const hnode *best = &x;
        if (l < h->n && node_less(&h->a[l], best)) {
            m = l;
            best = &h->a[l];
        }
        if (r < h->n && node_less(&h->a[r], best)) {
            m = r;
        }
        if (m == i) {
            break;
        }
        h->a[i] = h->a[m];
        i = m;
    }
    if (h->n) {
        h->a[i] = x;
    }
    return top;
}

/* Grow labelled regions from seeds over the cells where allowed[c] equals
 * @parent, each at speed factor[k]. A cell takes the label of the neighbour
 * that reached it first, so every region is connected. */
static ht_status grow(demo *d, const int *allowed, int parent, const int *seeds,
                      const double *factor, int nseeds, int *label) {
    heap h = {0};
    for (int c = 0; c < NC; c++) {
        if (allowed[c] == parent) {
            label[c] = -1;
        }
    }
    for (int k = 0; k < nseeds; k++) {
        if (!heap_push(&h, (hnode){0, seeds[k], k})) {
            free(h.a);
            return ht_error_set(d->err, HT_ENOMEM, "out of memory");
        }
    }
    while (h.n) {
        hnode x = heap_pop(&h);
        if (label[x.cell] != -1) {
            continue;
        }
        label[x.cell] = x.label;
        int i = x.cell % NX, j = x.cell / NX;
        const int nb[4][2] = {{i + 1, j}, {i - 1, j}, {i, j + 1}, {i, j - 1}};
        for (int k = 0; k < 4; k++) {
            int ni = nb[k][0], nj = nb[k][1];
            if (ni < 0 || nj < 0 || ni >= NX || nj >= NY) {
                continue;
            }
            int n = CID(ni, nj);
            if (allowed[n] != parent || label[n] != -1) {
                continue;
            }
            if (!heap_push(
                    &h, (hnode){x.cost + 1.0 / factor[x.label], n, x.label})) {
                free(h.a);
                return ht_error_set(d->err, HT_ENOMEM, "out of memory");
            }
        }
    }
    free(h.a);
    return HT_OK;
}

static int nearest_cell(const demo *d, double lon, double lat,
                        const int *allowed, int parent) {
    int best = -1;
    double bd = HUGE_VAL;
    for (int c = 0; c < NC; c++) {
        if (allowed[c] != parent) {
            continue;
        }
        ht_point p = cell_centre(d, c);
        double dx = (p.x - lon) * metres_x(lat), dy = (p.y - lat) * 111320.0;
        if (dx * dx + dy * dy < bd) {
            bd = dx * dx + dy * dy;
            best = c;
        }
    }
    return best;
}

static ht_status make_offices(demo *d) {
    int *allowed = malloc(NC * sizeof *allowed);
    if (!allowed) {
        return ht_error_set(d->err, HT_ENOMEM, "out of memory");
    }
    int seeds[NSTREETS];
    double factor[NSTREETS], total_area = 0;
    int ncells = 0;
    for (int c = 0; c < NC; c++) {
        allowed[c] = d->in[c] ? 0 : -1;
        ncells += d->in[c];
    }
    for (int k = 0; k < NSTREETS; k++) {
        seeds[k] =
            nearest_cell(d, d->offices[k].lon, d->offices[k].lat, allowed, 0);
        d->offices[k].seed_cell = seeds[k];
        factor[k] = sqrt(d->offices[k].area);
        total_area += d->offices[k].area;
    }
    /* Adjust speeds until the areas come near the targets. */
    ht_status st = HT_OK;
    for (int round = 0; st == HT_OK && round < 12; round++) {
        st = grow(d, allowed, 0, seeds, factor, NSTREETS, d->office_of);
        int count[NSTREETS] = {0};
        for (int c = 0; c < NC; c++) {
            if (d->in[c]) {
                count[d->office_of[c]]++;
            }
        }
        for (int k = 0; k < NSTREETS; k++) {
            double target = ncells * d->offices[k].area / total_area;
            double f = sqrt(target / (count[k] ? count[k] : 1));
            factor[k] *= fmin(fmax(f, 0.7), 1.4);
        }
    }
    free(allowed);
    return st;
}

static ht_status make_communities(demo *d) {
    int *label = malloc(NC * sizeof *label);
    if (!label) {
        return ht_error_set(d->err, HT_ENOMEM, "out of memory");
    }
    ht_status st = HT_OK;
    int base = 0;
    for (int k = 0; st == HT_OK && k < NSTREETS; k++) {
        int n = d->offices[k].ncomm;
        int seeds[64];
        double factor[64];
        /* Farthest-point seeds, starting next to the office's seed. */
        seeds[0] = d->offices[k].seed_cell;
        for (int m = 1; m < n; m++) {
            int best = -1;
            double bd = -1;
            for (int c = 0; c < NC; c++) {
                if (d->office_of[c] != k) {
                    continue;
                }
                ht_point p = cell_centre(d, c);
                double md = HUGE_VAL;
                for (int q = 0; q < m; q++) {
                    ht_point s = cell_centre(d, seeds[q]);
                    double dx = (p.x - s.x) * metres_x(p.y);
                    double dy = (p.y - s.y) * 111320.0;
                    md = fmin(md, dx * dx + dy * dy);
                }
                if (md > bd) {
                    bd = md;
                    best = c;
                }
            }
            seeds[m] = best;
        }
        /* Codes run north to south, west to east, like the grid numbers. */
        for (int a = 1; a < n; a++) {
            for (int b = a; b > 0; b--) {
                int p = seeds[b - 1], q = seeds[b];
                if (p / NX > q / NX || (p / NX == q / NX && p % NX < q % NX)) {
                    break;
                }
                seeds[b - 1] = q;
                seeds[b] = p;
            }
        }
        for (int m = 0; m < n; m++) {
            factor[m] = 1;
        }
        st = grow(d, d->office_of, k, seeds, factor, n, label);
        for (int c = 0; st == HT_OK && c < NC; c++) {
            if (d->office_of[c] == k) {
                d->comm_of[c] = base + label[c];
            }
        }
        for (int m = 0; m < n; m++) {
            d->comms[base + m].seed_cell = seeds[m];
        }
        base += n;
    }
    free(label);
    return st;
}

/* Trace the union of the cells where lab[c] == value into a multipolygon:
 * boundary edges run with the region on their left; at a vertex where two
 * ways go on, turning left first keeps every ring simple. */
static ht_status trace(demo *d, const int *lab, int value, ht_geom *g) {
    typedef struct edge {
        int from, to, dir, next;
        bool used;
    } edge;
    int *first = malloc(NV * sizeof *first);
    edge *e = malloc(4 * NC * sizeof *e);
    int *ring = malloc((4 * NC + 1) * sizeof *ring);
    if (!first || !e || !ring) {
        free(first);
        free(e);
        free(ring);
        return ht_error_set(d->err, HT_ENOMEM, "out of memory");
    }
    for (int v = 0; v < NV; v++) {
        first[v] = -1;
    }
    int ne = 0;
#define INSIDE(i, j) \
    ((i) >= 0 && (j) >= 0 && (i) < NX && (j) < NY && lab[CID(i, j)] == value)
    for (int j = 0; j < NY; j++) {
        for (int i = 0; i < NX; i++) {
            if (!INSIDE(i, j)) {
                continue;
            }
            /* E, N, W, S sides, counter-clockwise. */
            const int sides[4][5] = {
                {i, j - 1, VID(i, j), VID(i + 1, j), 0},
                {i + 1, j, VID(i + 1, j), VID(i + 1, j + 1), 1},
                {i, j + 1, VID(i + 1, j + 1), VID(i, j + 1), 2},
                {i - 1, j, VID(i, j + 1), VID(i, j), 3}};
            for (int k = 0; k < 4; k++) {
                if (INSIDE(sides[k][0], sides[k][1])) {
                    continue;
                }
                e[ne] = (edge){sides[k][2], sides[k][3], sides[k][4],
                               first[sides[k][2]], false};
                first[sides[k][2]] = ne++;
            }
        }
    }
#undef INSIDE
    ht_geom_reset(g, HT_GEOM_MULTIPOLYGON);
    ht_geom *holes = ht_geom_new(HT_GEOM_MULTIPOLYGON);
    ht_status st =
        holes ? HT_OK : ht_error_set(d->err, HT_ENOMEM, "out of memory");
    for (int s = 0; st == HT_OK && s < ne; s++) {
        if (e[s].used) {
            continue;
        }
        int n = 0, cur = s;
        e[s].used = true;
        ring[n++] = e[s].from;
        for (;;) {
            int v = e[cur].to;
            if (v == e[s].from) {
                break;
            }
            ring[n++] = v;
            int pick = -1;
            const int pref[3] = {(e[cur].dir + 1) % 4, e[cur].dir,
                                 (e[cur].dir + 3) % 4};
            for (int p = 0; p < 3 && pick < 0; p++) {
                for (int x = first[v]; x >= 0; x = e[x].next) {
                    if (!e[x].used && e[x].dir == pref[p]) {
                        pick = x;
                        break;
                    }
                }
            }
            if (HT_NEVER(pick < 0)) {
                st = ht_error_set(d->err, HT_EINTERNAL, "open ring");
                break;
            }
            e[pick].used = true;
            cur = pick;
        }
        ring[n++] = e[s].from;
        /* Exterior rings are counter-clockwise: put them in @g, holes
         * aside until every exterior is known. */
        ht_geom *dst = g;
        double area = 0;
        for (int k = 0; k + 1 < n; k++) {
            ht_point a = d->vert[ring[k]], b = d->vert[ring[k + 1]];
            area += (a.x - X0) * (b.y - Y0) - (b.x - X0) * (a.y - Y0);
        }
        if (area < 0) {
            dst = holes;
        }
        if (st == HT_OK) {
            st = ht_geom_start_polygon(dst, d->err);
        }
        if (st == HT_OK) {
            st = ht_geom_start_part(dst, d->err);
        }
        for (int k = 0; st == HT_OK && k < n; k++) {
            st = ht_geom_add_point(dst, d->vert[ring[k]].x, d->vert[ring[k]].y,
                                   d->err);
        }
    }
    /* Append each hole to the exterior that holds it (rebuilding @g in
     * polygon order). */
    if (st == HT_OK && holes->npolys) {
        ht_geom *out = ht_geom_new(HT_GEOM_MULTIPOLYGON);
        if (!out) {
            st = ht_error_set(d->err, HT_ENOMEM, "out of memory");
        }
        for (size_t p = 0; st == HT_OK && p < g->npolys; p++) {
            st = ht_geom_start_polygon(out, d->err);
            for (size_t rr = g->polys[p];
                 st == HT_OK && rr < ht_geom_poly_end(g, p); rr++) {
                st = ht_geom_start_part(out, d->err);
                for (size_t k = g->parts[rr];
                     st == HT_OK && k < ht_geom_part_end(g, rr); k++) {
                    st = ht_geom_add_point(out, g->pts[k].x, g->pts[k].y,
                                           d->err);
                }
            }
            ht_geom ext = {.type = HT_GEOM_POLYGON,
                           .pts = g->pts,
                           .npts = ht_geom_part_end(g, g->polys[p]),
                           .parts = g->parts + g->polys[p],
                           .nparts = 1,
                           .polys = (size_t[]){0},
                           .npolys = 1};
            for (size_t h = 0; st == HT_OK && h < holes->nparts; h++) {
                /* A point just inside the hole: the midpoint of its first
                 * edge nudged to the edge's right. */
                size_t a = holes->parts[h];
                ht_point p0 = holes->pts[a], p1 = holes->pts[a + 1];
                ht_point m = {(p0.x + p1.x) / 2 + (p1.y - p0.y) * 0.1,
                              (p0.y + p1.y) / 2 - (p1.x - p0.x) * 0.1};
                if (!ht_geom_contains(&ext, m.x, m.y)) {
                    continue;
                }
                st = ht_geom_start_part(out, d->err);
                for (size_t k = a;
                     st == HT_OK && k < ht_geom_part_end(holes, h); k++) {
                    st = ht_geom_add_point(out, holes->pts[k].x,
                                           holes->pts[k].y, d->err);
                }
            }
        }
        if (st == HT_OK) {
            ht_geom tmp = *g;
            *g = *out;
            *out = tmp;
        }
        ht_geom_free(out);
    }
    ht_geom_free(holes);
    free(first);
    free(e);
    free(ring);
    return st;
}

/* ---- shipped tables ---- */

static ht_status read_table(demo *d, const char *file, size_t want_cols,
                            ht_status (*row)(demo *, const char *const *)) {
    char path[1024];
    const char *dir =
        d->o->geodata_dir ? d->o->geodata_dir : ht_demo_geodata_dir();
    snprintf(path, sizeof path, "%s/%s", dir, file);
    ht_csv *c;
    ht_status st = ht_csv_open_file(path, &c, d->err);
    if (st != HT_OK) {
        return st;
    }
    size_t nf;
    const char *const *f;
    bool eof, header = true;
    while ((st = ht_csv_next(c, &nf, &f, &eof, d->err)) == HT_OK && !eof) {
        if (nf < want_cols) {
            st = ht_error_set(d->err, HT_EINVAL, "%s: line %zu: %zu fields",
                              path, ht_csv_line(c), nf);
            break;
        }
        if (!header && (st = row(d, f)) != HT_OK) {
            ht_error_prefix(d->err, "%s: line %zu: ", path, ht_csv_line(c));
            break;
        }
        header = false;
    }
    ht_csv_free(c);
    return st;
}

static int office_index(const demo *d, const char *code) {
    for (int k = 0; k < NSTREETS; k++) {
        if (strcmp(d->offices[k].code, code) == 0) {
            return k;
        }
    }
    return -1;
}

static ht_status office_row(demo *d, const char *const *f) {
    if (d->noffices >= NSTREETS) {
        return ht_error_set(d->err, HT_EINVAL, "more than %d offices",
                            NSTREETS);
    }
    office *o = &d->offices[d->noffices++];
    snprintf(o->code, sizeof o->code, "%s", f[0]);
    snprintf(o->name, sizeof o->name, "%s", f[1]);
    o->lon = atof(f[2]);
    o->lat = atof(f[3]);
    o->area = atof(f[4]);
    if (strlen(o->code) != 9 || !(o->area > 0)) {
        return ht_error_set(d->err, HT_EINVAL, "bad street office row");
    }
    return HT_OK;
}

static ht_status community_row(demo *d, const char *const *f) {
    int k = office_index(d, f[2]);
    if (k < 0 || strlen(f[0]) != 12 || d->ncomms >= MAX_COMMUNITIES) {
        return ht_error_set(d->err, HT_EINVAL, "bad community row");
    }
    community *c = &d->comms[d->ncomms++];
    snprintf(c->code, sizeof c->code, "%s", f[0]);
    snprintf(c->name, sizeof c->name, "%s", f[1]);
    c->office = k;
    d->offices[k].ncomm++;
    return HT_OK;
}

static int cmp_comm(const void *a, const void *b) {
    const community *p = a, *q = b;
    if (p->office != q->office) {
        return p->office - q->office;
    }
    return strcmp(p->code, q->code);
}

/* ---- grids ---- */

static ht_status put_region(demo *d, const int *lab, int value,
                            const char *code, const char *parent,
                            ht_level level, const char *name, double pop) {
    ht_geom *g = ht_geom_new(HT_GEOM_MULTIPOLYGON);
    if (!g) {
        return ht_error_set(d->err, HT_ENOMEM, "out of memory");
    }
    ht_status st = trace(d, lab, value, g);
    if (st == HT_OK) {
        char resp[96];
        snprintf(resp, sizeof resp, "%s网格管理站", name);
        ht_grid_rec r = {
            .code = code,
            .parent_code = parent,
            .level = level,
            .name = name,
            .population = (int64_t)llround(pop),
            .responsible = resp,
            .valid_from = ht_datetime_from_civil(2024, 1, 1, 0, 0, 0),
            .valid_to = HT_TIME_NONE,
            .geom = g};
        ht_put_result res;
        st = ht_store_put_grid(d->s, &r, &res, NULL, d->err);
        d->stats->grids[level]++;
    }
    ht_geom_free(g);
    return st;
}

static void make_population(demo *d) {
    /* Residents per cell by zone, lognormal spread, scaled to the district's
     * about 704,000 (2022). Parks have none; the commercial core few. */
    double total = 0;
    for (int c = 0; c < NC; c++) {
        if (!d->in[c] || d->park[c]) {
            d->pop[c] = 0;
            continue;
        }
        ht_point p = cell_centre(d, c);
        double base = d->zone[c] == Z_OLD ? 330 : 420;
        if (p.x > 116.405 && p.x < 116.425 && p.y > 39.903 && p.y < 39.918) {
            base = 120;
        }
        d->pop[c] = base * exp(0.45 * rng_normal(&d->r));
        total += d->pop[c];
    }
    for (int c = 0; c < NC; c++) {
        d->pop[c] = round(d->pop[c] * 704000.0 / total);
    }
}

static ht_status make_grids(demo *d) {
    ht_status st = HT_OK;
    int *lab = malloc(NC * sizeof *lab);
    if (!lab) {
        return ht_error_set(d->err, HT_ENOMEM, "out of memory");
    }
    double dpop = 0, opop[NSTREETS] = {0}, cpop[MAX_COMMUNITIES] = {0};
    for (int c = 0; c < NC; c++) {
        lab[c] = d->in[c] ? 1 : 0;
        if (d->in[c]) {
            dpop += d->pop[c];
            opop[d->office_of[c]] += d->pop[c];
            cpop[d->comm_of[c]] += d->pop[c];
        }
    }
    d->stats->population = (int64_t)dpop;
    st = put_region(d, lab, 1, "110101", NULL, HT_LEVEL_DISTRICT, "东城区",
                    dpop);
    for (int k = 0; st == HT_OK && k < NSTREETS; k++) {
        st = put_region(d, d->office_of, k, d->offices[k].code, "110101",
                        HT_LEVEL_STREET, d->offices[k].name, opop[k]);
    }
    for (int m = 0; st == HT_OK && m < d->ncomms; m++) {
        community *cm = &d->comms[m];
        st = put_region(d, d->comm_of, m, cm->code, d->offices[cm->office].code,
                        HT_LEVEL_COMMUNITY, cm->name, cpop[m]);
    }
    /* Unit grids: one cell each, numbered north to south, west to east
     * inside their community (row-major from the top row). */
    int *seq = calloc(MAX_COMMUNITIES, sizeof *seq);
    ht_geom *g = ht_geom_new(HT_GEOM_POLYGON);
    if (!seq || !g) {
        st = ht_error_set(d->err, HT_ENOMEM, "out of memory");
    }
    for (int j = NY - 1; st == HT_OK && j >= 0; j--) {
        for (int i = 0; st == HT_OK && i < NX; i++) {
            int c = CID(i, j);
            if (!d->in[c]) {
                continue;
            }
            community *cm = &d->comms[d->comm_of[c]];
            int n = ++seq[d->comm_of[c]];
            snprintf(d->code[c], sizeof d->code[c], "%s%03d", cm->code, n);
            char name[96];
            snprintf(name, sizeof name, "%s第%d网格", cm->name, n);
            ht_geom_reset(g, HT_GEOM_POLYGON);
            const int corners[5] = {VID(i, j), VID(i + 1, j), VID(i + 1, j + 1),
                                    VID(i, j + 1), VID(i, j)};
            st = ht_geom_start_polygon(g, d->err);
            if (st == HT_OK) {
                st = ht_geom_start_part(g, d->err);
            }
            for (int k = 0; st == HT_OK && k < 5; k++) {
                st = ht_geom_add_point(g, d->vert[corners[k]].x,
                                       d->vert[corners[k]].y, d->err);
            }
            char resp[96];
            snprintf(resp, sizeof resp, "%s网格员", cm->name);
            ht_grid_rec r = {
                .code = d->code[c],
                .parent_code = cm->code,
                .level = HT_LEVEL_GRID,
                .name = name,
                .population = (int64_t)d->pop[c],
                .responsible = resp,
                .valid_from = ht_datetime_from_civil(2024, 1, 1, 0, 0, 0),
                .valid_to = HT_TIME_NONE,
                .geom = g};
            ht_put_result res;
            if (st == HT_OK) {
                st = ht_store_put_grid(d->s, &r, &res, NULL, d->err);
                d->stats->grids[HT_LEVEL_GRID]++;
            }
        }
    }
    ht_geom_free(g);
    free(seq);
    free(lab);
    return st;
}

/* ---- streets ---- */

/* Name stems in the style of Beijing's hutongs: trades, temples, offices
 * and families. The placement is synthetic. */
static const char *const hutong_stems[] = {
    "菊儿",     "帽儿",     "雨儿",     "福祥",     "蓑衣",     "沙井",
    "秦老",     "棉花",     "兵马司",   "炒豆",     "板厂",     "圆恩寺",
    "府学",     "大兴",     "方家",     "史家",     "干面",     "演乐",
    "本司",     "礼士",     "堂子",     "金鱼",     "总布",     "竹竿",
    "羊管",     "豆瓣",     "新太仓",   "海运仓",   "石雀",     "分司厅",
    "箭厂",     "草厂",     "鲜鱼口",   "施家",     "花市",     "手帕",
    "细管",     "翠花",     "钱粮",     "贡院",     "麻线",     "盔甲厂",
    "船板",     "洋溢",     "椿树",     "香饵",     "官书院",   "育群",
    "石桥",     "銮庆",     "大佛寺",   "永康",     "车辇店",   "经厂",
    "拐棒",     "织染局",   "油漆作",   "嵩祝院",   "骑河楼",   "磁器库",
    "甘雨",     "校尉",     "锡拉",     "果子",     "打磨厂",   "长巷",
    "草市",     "青云",     "奋章",     "罗车",     "宽街",     "魏家",
    "南剪子",   "北剪子",   "前拐棒",   "东旺",     "香串",     "铁狮子",
    "什锦花园", "赵府",     "灯草",     "马大人",   "慧照寺",   "东四块玉",
    "中剪子",   "后局大院", "北新仓",   "南门仓",   "东门仓",   "大取灯",
    "小取灯",   "国旺",     "前细瓦厂", "后细瓦厂", "东黄城根", "织染",
    "报房",     "新鲜",     "烧酒",     "吉兆",     "汪家",     "黄米",
    "安乐堂",   "大菊",     "北吉祥",   "南吉祥",   "弓箭",     "西扬威",
    "东扬威",   "秦家",     "麻状元",   "冰窖",     "西石槽",   "朝阳",
    "红星",     "小牌坊",   "东堂",     "智化寺",   "禄米仓",   "芳嘉园",
    "北官厅",   "南官厅",   "新开路",   "西花厅",   "大羊宜宾", "小羊宜宾"};

static const char *const numerals[] = {"头",   "二",   "三",   "四",  "五",
                                       "六",   "七",   "八",   "九",  "十",
                                       "十一", "十二", "十三", "十四"};

static const char *const ns_roads[] = {"安定门", "交道口", "雍和宫",
                                       "北新桥", "东四",   "朝阳门",
                                       "东单",   "崇文门", "广渠门"};

static const char *const ew_roads[] = {
    "和平里北", "和平里中", "和平里南", "地坛",     "鼓楼东",
    "交道口东", "东直门内", "隆福寺",   "朝阳门内", "金宝",
    "东长安",   "前门东",   "广渠门内", "法华寺",   "永定门外"};

static const char *const res_stems[] = {
    "和平里", "安德",   "青年湖", "化工",   "光明",   "左安",   "夕照寺",
    "永外",   "沙子口", "安乐林", "定安",   "革新",   "琉璃井", "桃园",
    "景泰",   "彭庄",   "民旺",   "地坛东", "南岗子", "李村"};

static const char *const res_suffix[] = {"北街", "南街", "东路", "西路",
                                         "中街", "一巷", "二巷", "三巷"};

#define NMAIN_I 6
#define NMAIN_J 15

static int main_i(int i) {
    return i >= 4 && (i - 4) % 5 == 0 && (i - 4) / 5 < NMAIN_I ? (i - 4) / 5
                                                               : -1;
}

static int main_j(int j) {
    return j >= 5 && (j - 5) % 6 == 0 && (j - 5) / 6 < NMAIN_J ? (j - 5) / 6
                                                               : -1;
}

static ht_status add_name(demo *d, const char *name, int *out) {
    for (int k = 0; k < d->nnames; k++) {
        if (strcmp(d->names[k], name) == 0) {
            *out = k;
            return HT_OK;
        }
    }
    ht_status st =
        ht_array_grow((void **)&d->names, &d->cap_names, (size_t)d->nnames + 1,
                      sizeof *d->names, d->err);
    if (st != HT_OK) {
        return st;
    }
    snprintf(d->names[d->nnames], sizeof d->names[0], "%s", name);
    *out = d->nnames++;
    return HT_OK;
}

static bool name_used(const demo *d, const char *name) {
    for (int k = 0; k < d->nnames; k++) {
        if (strcmp(d->names[k], name) == 0) {
            return true;
        }
    }
    return false;
}

/* A fresh hutong name: stem + 胡同, with a direction when the stem is taken. */
static ht_status hutong_name(demo *d, int *out) {
    static const char *const dirs[] = {"",   "东", "西", "南", "北",
                                       "前", "后", "大", "小"};
    size_t n = sizeof hutong_stems / sizeof *hutong_stems;
    char buf[48];
    for (int tries = 0; tries < 400; tries++) {
        const char *stem = hutong_stems[rng_below(&d->r, n)];
        const char *dir = dirs[tries < 40 ? 0 : 1 + rng_below(&d->r, 8)];
        snprintf(buf, sizeof buf, "%s%s胡同", dir, stem);
        if (!name_used(d, buf)) {
            return add_name(d, buf, out);
        }
    }
    snprintf(buf, sizeof buf, "无名胡同%d", d->nnames);
    return add_name(d, buf, out);
}

static int start_run(demo *d, bool hutong) {
    if (ht_array_grow((void **)&d->runs, &d->cap_runs, (size_t)d->nruns + 1,
                      sizeof *d->runs, NULL) != HT_OK) {
        return -1;
    }
    d->runs[d->nruns] = (run){d->nsegs, 0, hutong};
    return d->nruns++;
}

static ht_status add_seg(demo *d, ht_point a, ht_point b, double wiggle_m,
                         ht_street_kind kind, int name, int runi) {
    ht_status st = ht_array_grow((void **)&d->segs, &d->cap_segs,
                                 (size_t)d->nsegs + 1, sizeof *d->segs, d->err);
    if (st != HT_OK) {
        return st;
    }
    double mx = metres_x(a.y), dxm = (b.x - a.x) * mx,
           dym = (b.y - a.y) * 111320.0;
    double len = sqrt(dxm * dxm + dym * dym);
    double off = len > 0 ? wiggle_m * rng_normal(&d->r) / len : 0;
    ht_point m = {(a.x + b.x) / 2 - dym * off / mx,
                  (a.y + b.y) / 2 + dxm * off / 111320.0};
    d->segs[d->nsegs++] = (dseg){{a, m, b}, kind, name, runi};
    if (runi >= 0) {
        d->runs[runi].n++;
    }
    return HT_OK;
}

static bool usable(const demo *d, int i, int j) {
    if (i < 0 || j < 0 || i >= NX || j >= NY) {
        return false;
    }
    int c = CID(i, j);
    return d->in[c] && !d->park[c];
}

static ht_point midpoint(ht_point a, ht_point b) {
    return (ht_point){(a.x + b.x) / 2, (a.y + b.y) / 2};
}

static ht_status main_roads(demo *d) {
    ht_status st = HT_OK;
    char buf[48];
    for (int i = 0; st == HT_OK && i <= NX; i++) {
        int k = main_i(i);
        if (k < 0) {
            continue;
        }
        int runi = -1;
        for (int j = 0; st == HT_OK && j < NY; j++) {
            if (!usable(d, i - 1, j) && !usable(d, i, j)) {
                runi = -1;
                continue;
            }
            ht_point a = d->vert[VID(i, j)], b = d->vert[VID(i, j + 1)];
            double y = (a.y + b.y) / 2;
            const char *suffix = y > 39.9475   ? "外大街"
                                 : y > 39.922  ? "北大街"
                                 : y > 39.8965 ? "南大街"
                                               : "路";
            snprintf(buf, sizeof buf, "%s%s", ns_roads[k], suffix);
            int name;
            if ((st = add_name(d, buf, &name)) != HT_OK) {
                break;
            }
            if (runi < 0 && (runi = start_run(d, false)) < 0) {
                return ht_error_set(d->err, HT_ENOMEM, "out of memory");
            }
            st = add_seg(d, a, b, 2, HT_KIND_STREET, name, runi);
        }
    }
    for (int j = 0; st == HT_OK && j <= NY; j++) {
        int k = main_j(j);
        if (k < 0) {
            continue;
        }
        int runi = -1;
        snprintf(buf, sizeof buf, "%s%s", ew_roads[k],
                 k % 3 == 0   ? "大街"
                 : k % 3 == 1 ? "街"
                              : "路");
        int name;
        if ((st = add_name(d, buf, &name)) != HT_OK) {
            break;
        }
        for (int i = 0; st == HT_OK && i < NX; i++) {
            if (!usable(d, i, j - 1) && !usable(d, i, j)) {
                runi = -1;
                continue;
            }
            if (runi < 0 && (runi = start_run(d, false)) < 0) {
                return ht_error_set(d->err, HT_ENOMEM, "out of memory");
            }
            st =
                add_seg(d, d->vert[VID(i, j)], d->vert[VID(i + 1, j)], 2,
                        k % 3 == 2 ? HT_KIND_ROAD : HT_KIND_STREET, name, runi);
        }
    }
    return st;
}

static ht_status hutongs(demo *d) {
    ht_status st = HT_OK;
    int dongsi = office_index(d, "110101006");
    int dongsi_row = 0;
    for (int j = NY - 1; st == HT_OK && j >= 0; j--) {
        bool counted = false;
        int runi = -1, name = -1;
        for (int i = 0; st == HT_OK && i < NX; i++) {
            int c = CID(i, j);
            if (main_i(i) >= 0) {
                runi = -1; /* a main road ends the hutong's name */
            }
            if (!usable(d, i, j) || d->zone[c] != Z_OLD) {
                runi = -1;
                continue;
            }
            if (runi < 0) {
                if ((runi = start_run(d, true)) < 0) {
                    return ht_error_set(d->err, HT_ENOMEM, "out of memory");
                }
                if (d->office_of[c] == dongsi && dongsi_row < 14) {
                    char buf[48];
                    snprintf(buf, sizeof buf, "东四%s条", numerals[dongsi_row]);
                    counted = true;
                    st = add_name(d, buf, &name);
                } else {
                    st = hutong_name(d, &name);
                }
            }
            ht_point a = midpoint(d->vert[VID(i, j)], d->vert[VID(i, j + 1)]);
            ht_point b =
                midpoint(d->vert[VID(i + 1, j)], d->vert[VID(i + 1, j + 1)]);
            if (st == HT_OK) {
                st = add_seg(d, a, b, 6, HT_KIND_HUTONG, name, runi);
            }
            /* Some blocks have a north-south alley through them. */
            if (st == HT_OK && rng_unit(&d->r) < 0.22) {
                int an = -1;
                if (rng_unit(&d->r) < 0.4) {
                    char buf[48];
                    size_t n = sizeof hutong_stems / sizeof *hutong_stems;
                    snprintf(buf, sizeof buf, "%s%s",
                             hutong_stems[rng_below(&d->r, n)],
                             rng_unit(&d->r) < 0.5 ? "巷" : "夹道");
                    st = add_name(d, buf, &an);
                }
                ht_point lo =
                    midpoint(d->vert[VID(i, j)], d->vert[VID(i + 1, j)]);
                ht_point hi = midpoint(d->vert[VID(i, j + 1)],
                                       d->vert[VID(i + 1, j + 1)]);
                ht_point mid = midpoint(a, b);
                if (st == HT_OK) {
                    st = add_seg(d, lo, mid, 3, HT_KIND_ALLEY, an, -1);
                }
                if (st == HT_OK) {
                    st = add_seg(d, mid, hi, 3, HT_KIND_ALLEY, an, -1);
                }
            }
        }
        if (counted) {
            dongsi_row++;
        }
    }
    return st;
}

static ht_status residential(demo *d) {
    ht_status st = HT_OK;
    size_t nstem = sizeof res_stems / sizeof *res_stems;
    size_t nsuf = sizeof res_suffix / sizeof *res_suffix;
    char buf[48];
    for (int pass = 0; pass < 2; pass++) {
        int outer = pass == 0 ? NY : NX, inner = pass == 0 ? NX : NY;
        for (int a = 2; st == HT_OK && a < outer; a += 2) {
            if ((pass == 0 ? main_j(a) : main_i(a)) >= 0) {
                continue;
            }
            int runi = -1, name = -1;
            for (int b = 0; st == HT_OK && b < inner; b++) {
                /* pass 0: row line a, edge from column b; pass 1: column
                 * line a, edge from row b. */
                int i = pass == 0 ? b : a, j = pass == 0 ? a : b;
                ht_point p = d->vert[VID(i, j)];
                ht_point q =
                    pass == 0 ? d->vert[VID(i + 1, j)] : d->vert[VID(i, j + 1)];
                bool ok = pass == 0 ? usable(d, i, j - 1) || usable(d, i, j)
                                    : usable(d, i - 1, j) || usable(d, i, j);
                double y = (p.y + q.y) / 2;
                bool outside_old = y > 39.9475 || y < 39.8965;
                if ((pass == 0 ? main_i(b) : main_j(b)) >= 0) {
                    runi = -1;
                }
                if (!ok || !outside_old) {
                    runi = -1;
                    continue;
                }
                if (runi < 0) {
                    if ((runi = start_run(d, false)) < 0) {
                        return ht_error_set(d->err, HT_ENOMEM, "out of memory");
                    }
                    name = -1;
                    if (rng_unit(&d->r) < 0.55) {
                        snprintf(buf, sizeof buf, "%s%s",
                                 res_stems[rng_below(&d->r, nstem)],
                                 res_suffix[rng_below(&d->r, nsuf)]);
                        st = add_name(d, buf, &name);
                    }
                }
                ht_street_kind kind =
                    name < 0 ? HT_KIND_OTHER
                             : ht_model_kind_from_name(d->names[name]);
                if (st == HT_OK) {
                    st = add_seg(d, p, q, 3, kind, name, runi);
                }
            }
        }
    }
    return st;
}

static ht_status make_streets(demo *d) {
    ht_status st = main_roads(d);
    if (st == HT_OK) {
        st = hutongs(d);
    }
    if (st == HT_OK) {
        st = residential(d);
    }
    ht_geom *g = ht_geom_new(HT_GEOM_LINESTRING);
    if (!g) {
        return ht_error_set(d->err, HT_ENOMEM, "out of memory");
    }
    for (int k = 0; st == HT_OK && k < d->nsegs; k++) {
        const dseg *s = &d->segs[k];
        ht_geom_reset(g, HT_GEOM_LINESTRING);
        st = ht_geom_start_part(g, d->err);
        for (int p = 0; st == HT_OK && p < 3; p++) {
            st = ht_geom_add_point(g, s->p[p].x, s->p[p].y, d->err);
        }
        char sid[32];
        snprintf(sid, sizeof sid, "demo-%05d", k + 1);
        ht_street_rec r = {.source_id = sid,
                           .name = s->name >= 0 ? d->names[s->name] : NULL,
                           .kind = s->kind,
                           .geom = g};
        ht_put_result res;
        int64_t id;
        if (st == HT_OK) {
            st = ht_store_put_street(d->s, &r, &res, &id, NULL, d->err);
            d->stats->streets++;
        }
    }
    ht_geom_free(g);
    return st;
}

/* ---- incidents ---- */

/* Where incidents come from: each component has its places, its season,
 * its hours and its categories. */
enum comp {
    C_BACKGROUND,
    C_ALLEY,
    C_MARKET,
    C_SCHOOL,
    C_NOISE,
    C_HEATING,
    C_CONSTRUCTION,
    C_MAINROAD,
    C_RAIN,
    C_PARK,
    C_COUNT
};

static const double comp_share[C_COUNT] = {40, 15, 10, 6,   6,
                                           10, 5,  6,  1.5, 0.5};
static const double comp_wmax[C_COUNT] = {1.15, 2.2, 1.4, 1, 3.75,
                                          3.5,  1,   1.1, 1, 6};

typedef struct catw {
    const char *code;
    double w;
} catw;

static const catw cats_background[] = {
    {"0102", 3}, {"0104", 2},  {"0105", 2},  {"0201", 2},    {"H01", 4},
    {"H05", 2},  {"H0601", 1}, {"H0602", 1}, {"H0603", 0.5}, {"H07", 1.5},
    {"0504", 1}, {"0101", 1},  {NULL, 0}};
static const catw cats_alley[] = {{"0105", 3}, {"0101", 3}, {"0102", 2},
                                  {"H03", 2},  {"0503", 2}, {"0504", 1},
                                  {NULL, 0}};
static const catw cats_market[] = {{"0502", 4}, {"0501", 3}, {"0102", 2},
                                   {"H08", 2},  {"H04", 1},  {NULL, 0}};
static const catw cats_school[] = {
    {"0503", 4}, {"H09", 3}, {"0504", 1}, {NULL, 0}};
static const catw cats_noise[] = {{"H04", 6}, {"0502", 1}, {NULL, 0}};
static const catw cats_heating[] = {{"H02", 1}, {NULL, 0}};
static const catw cats_construction[] = {
    {"0301", 3}, {"0302", 2}, {"0303", 1}, {NULL, 0}};
static const catw cats_mainroad[] = {{"0503", 3}, {"0202", 1}, {"0201", 2},
                                     {"H09", 1},  {"0104", 1}, {NULL, 0}};
static const catw cats_rain[] = {{"0402", 3}, {"0401", 1}, {NULL, 0}};
static const catw cats_park[] = {
    {"0104", 2}, {"0102", 1}, {"0501", 1}, {NULL, 0}};
static const catw *const comp_cats[C_COUNT] = {
    cats_background, cats_alley,        cats_market,   cats_school, cats_noise,
    cats_heating,    cats_construction, cats_mainroad, cats_rain,   cats_park};

static const double comp_source[C_COUNT][HT_SOURCE_COUNT] = {
    {60, 20, 18, 0, 2}, {30, 48, 15, 5, 2}, {30, 50, 20, 0, 0},
    {60, 10, 30, 0, 0}, {90, 0, 10, 0, 0},  {100, 0, 0, 0, 0},
    {60, 15, 0, 25, 0}, {10, 60, 30, 0, 0}, {40, 50, 0, 10, 0},
    {0, 70, 30, 0, 0}};

/* Local (UTC+8) hour-of-day weights. */
static const double hours_day[24] = {0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.5, 1.2,
                                     2.5, 3.2, 3.0, 2.5, 2.0, 2.4, 2.8, 2.7,
                                     2.4, 2.0, 1.6, 1.3, 1.0, 0.8, 0.5, 0.3};
static const double hours_night[24] = {3, 2, 1, 0.3, 0,   0, 0, 0,
                                       0, 0, 0, 0,   0,   0, 0, 0,
                                       0, 0, 0, 0.2, 0.6, 2, 3, 3.5};
static const double hours_school[24] = {0, 0,   0,   0, 0, 0, 0, 3,
                                        2, 0.2, 0,   0, 0, 0, 0, 0.5,
                                        3, 2,   0.3, 0, 0, 0, 0, 0};
static const double hours_heat[24] = {0.5, 0.3, 0.2, 0.2, 0.3, 0.8, 2,   2.5,
                                      2,   1.2, 1,   1,   1,   1,   1,   1.2,
                                      1.5, 2,   2.5, 2.8, 2.5, 2,   1.5, 1};

#define NMARKETS 8
#define NSCHOOLS 16
#define NSITES 5
#define NHOT 24
#define NNOISE 6
#define NRAIN 10
#define NSTORMS 9

typedef struct places {
    ht_point market[NMARKETS];
    ht_point school[NSCHOOLS];
    ht_point site[NSITES];
    int site_from[NSITES], site_to[NSITES];
    int hot[NHOT], hot_trend[NHOT];
    int noise[NNOISE];
    ht_point rain[NRAIN];
    int storm[NSTORMS];
    int *hutong_runs;
    int nhutong_runs;
    int *main_segs;
    int nmain;
    double *pop_cdf;
    double *heat_cdf;
} places;

typedef struct inc {
    int64_t t_rep, t_disp, t_hand, t_close, t_eval;
    double lon, lat;
    const char *cat;
    const char *dept;
    int sev;
    int src;
    size_t serial;
} inc;

static int random_cell(demo *d, bool old_only) {
    for (;;) {
        int c = (int)rng_below(&d->r, NC);
        if (d->in[c] && !d->park[c] && (!old_only || d->zone[c] == Z_OLD)) {
            return c;
        }
    }
}

static ht_status make_places(demo *d, places *pl) {
    for (int k = 0; k < NMARKETS; k++) {
        pl->market[k] = cell_point(d, random_cell(d, k < 5), 0.5, 0.5);
    }
    for (int k = 0; k < NSCHOOLS; k++) {
        pl->school[k] = cell_point(d, random_cell(d, false), rng_unit(&d->r),
                                   rng_unit(&d->r));
    }
    for (int k = 0; k < NSITES; k++) {
        pl->site[k] = cell_point(d, random_cell(d, false), 0.5, 0.5);
        pl->site_from[k] = (int)rng_below(&d->r, 250);
        pl->site_to[k] = pl->site_from[k] + 90 + (int)rng_below(&d->r, 110);
    }
    for (int k = 0; k < NRAIN; k++) {
        pl->rain[k] = cell_point(d, random_cell(d, false), 0.5, 0.5);
    }
    for (int k = 0; k < NSTORMS; k++) {
        pl->storm[k] = -1; /* filled in per year in day_weight */
    }
    pl->hutong_runs = malloc((size_t)(d->nruns + 1) * sizeof(int));
    pl->main_segs = malloc((size_t)(d->nsegs + 1) * sizeof(int));
    pl->pop_cdf = malloc(NC * sizeof(double));
    pl->heat_cdf = malloc(NC * sizeof(double));
    if (!pl->hutong_runs || !pl->main_segs || !pl->pop_cdf || !pl->heat_cdf) {
        return ht_error_set(d->err, HT_ENOMEM, "out of memory");
    }
    for (int k = 0; k < d->nruns; k++) {
        if (d->runs[k].hutong && d->runs[k].n >= 2) {
            pl->hutong_runs[pl->nhutong_runs++] = k;
        }
    }
    for (int k = 0; k < d->nsegs; k++) {
        if (d->segs[k].kind == HT_KIND_STREET ||
            d->segs[k].kind == HT_KIND_ROAD) {
            pl->main_segs[pl->nmain++] = k;
        }
    }
    if (pl->nhutong_runs < NHOT + NNOISE || pl->nmain == 0) {
        return ht_error_set(d->err, HT_EINTERNAL, "too few streets");
    }
    /* Hot alleys: a third improve after a mid-year campaign, a third get
     * worse in the last quarter, the rest stay as they are. */
    for (int k = 0; k < NHOT + NNOISE; k++) {
        int pick;
        bool dup;
        do {
            pick = pl->hutong_runs[rng_below(&d->r, (size_t)pl->nhutong_runs)];
            dup = false;
            for (int q = 0; q < k; q++) {
                dup = dup ||
                      (q < NHOT ? pl->hot[q] : pl->noise[q - NHOT]) == pick;
            }
        } while (dup);
        if (k < NHOT) {
            pl->hot[k] = pick;
            pl->hot_trend[k] = k % 3;
        } else {
            pl->noise[k - NHOT] = pick;
        }
    }
    double acc = 0, hacc = 0;
    for (int c = 0; c < NC; c++) {
        acc += d->pop[c];
        /* Heating complaints come mostly from old bungalows and the older
         * estates of the north and south. */
        hacc += d->pop[c] * (d->zone[c] == Z_OLD ? 1.3 : 1.0);
        pl->pop_cdf[c] = acc;
        pl->heat_cdf[c] = hacc;
    }
    for (int k = 0; k < NSTORMS; k++) {
        /* Storm days fall in July and August: stored as day-of-year. */
        pl->storm[k] = 182 + (int)rng_below(&d->r, 62);
    }
    return HT_OK;
}

static int pick_cdf(demo *d, const double *cdf) {
    double x = rng_unit(&d->r) * cdf[NC - 1];
    int lo = 0, hi = NC - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (cdf[mid] > x) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return lo;
}

static int day_of_year(int y, int m, int dd) {
    return (int)((ht_datetime_from_civil(y, m, dd, 0, 0, 0) -
                  ht_datetime_from_civil(y, 1, 1, 0, 0, 0)) /
                 DAY);
}

static double day_weight(const demo *d, const places *pl, int comp, int dayi,
                         int which) {
    int64_t t = d->end - 365 * (int64_t)DAY + (int64_t)dayi * DAY;
    int y, m, dd, hh, mi, ss;
    ht_datetime_to_civil(t, &y, &m, &dd, &hh, &mi, &ss);
    int wday = (int)(((t / DAY) % 7 + 11) % 7); /* 0 = Sunday */
    bool weekend = wday == 0 || wday == 6;
    switch (comp) {
    case C_BACKGROUND:
        return (1 - 0.18 * dayi / 365.0) * (weekend ? 0.85 : 1) *
               (m >= 6 && m <= 8 ? 1.15 : 1);
    case C_ALLEY:
        return pl->hot_trend[which] == 1   ? (dayi < 200 ? 1.3 : 0.45)
               : pl->hot_trend[which] == 2 ? (dayi > 300 ? 2.2 : 0.9)
                                           : 1;
    case C_MARKET:
        return weekend ? 1.4 : 1;
    case C_SCHOOL: {
        bool holiday = (m == 7 && dd >= 10) || m == 8 || (m == 1 && dd >= 20) ||
                       (m == 2 && dd <= 20);
        return weekend || holiday ? 0 : 1;
    }
    case C_NOISE:
        return (m >= 6 && m <= 9 ? 2.5 : 1) *
               (wday == 5 || wday == 6 ? 1.5 : 1);
    case C_HEATING:
        if ((m == 11 && dd >= 15) || (m == 12 && dd <= 10)) {
            return 3.5;
        }
        if (m == 1 && dd >= 8 && dd <= 20) {
            return 2;
        }
        return m == 12 || m <= 2 || (m == 3 && dd <= 15) ? 1 : 0;
    case C_CONSTRUCTION:
        return dayi >= pl->site_from[which] && dayi < pl->site_to[which] ? 1
                                                                         : 0;
    case C_MAINROAD:
        return weekend ? 1 : 1.1;
    case C_RAIN: {
        int doy = day_of_year(y, m, dd);
        for (int k = 0; k < NSTORMS; k++) {
            if (pl->storm[k] == doy) {
                return 1;
            }
        }
        return 0;
    }
    case C_PARK:
        return (weekend ? 2 : 1) * (m == 10 && dd <= 7 ? 3 : 1);
    }
    return 0;
}

static const char *department(const char *cat) {
    static const struct {
        const char *prefix, *dept;
    } table[] = {
        {"0102", "环卫中心"},    {"0103", "环卫中心"},  {"0104", "环卫中心"},
        {"01", "城管执法队"},    {"02", "城管执法队"},  {"03", "住建委"},
        {"0401", "市政路政"},    {"04", "排水集团"},    {"0503", "交通支队"},
        {"05", "城管执法队"},    {"H01", "房管所"},     {"H02", "供热公司"},
        {"H03", "交通支队"},     {"H04", "派出所"},     {"H05", "环卫中心"},
        {"H0601", "自来水公司"}, {"H0602", "供电公司"}, {"H0603", "燃气公司"},
        {"H07", "房管所"},       {"H08", "市场监管所"}, {"H09", "交通支队"}};
    for (size_t k = 0; k < sizeof table / sizeof *table; k++) {
        if (strncmp(cat, table[k].prefix, strlen(table[k].prefix)) == 0) {
            return table[k].dept;
        }
    }
    return "街道办";
}

/* Deadlines from the 12345 rules: emergencies 2 h, utilities 24 h,
 * general 7 days, complex cases 15 days. */
static double deadline_h(const char *cat) {
    if (strncmp(cat, "04", 2) == 0) {
        return 2;
    }
    if (strncmp(cat, "H02", 3) == 0 || strncmp(cat, "H06", 3) == 0) {
        return 24;
    }
    if (strcmp(cat, "0101") == 0) {
        return 360;
    }
    return 168;
}

static ht_point jitter_m(demo *d, ht_point p, double sigma_m) {
    return (ht_point){p.x + rng_normal(&d->r) * sigma_m / metres_x(p.y),
                      p.y + rng_normal(&d->r) * sigma_m / 111320.0};
}

static ht_point along_seg(demo *d, const dseg *s, double sigma_m) {
    double u = rng_unit(&d->r) * 2;
    int k = u < 1 ? 0 : 1;
    u -= k;
    ht_point a = s->p[k], b = s->p[k + 1];
    return jitter_m(d, (ht_point){a.x + (b.x - a.x) * u, a.y + (b.y - a.y) * u},
                    sigma_m);
}

static ht_point along_run(demo *d, int runi, double sigma_m) {
    /* A run's segments may be interleaved with alleys: take its k-th own. */
    const run *r = &d->runs[runi];
    int k = (int)rng_below(&d->r, (size_t)r->n), s = r->first;
    for (;; s++) {
        if (d->segs[s].run == runi && k-- == 0) {
            break;
        }
    }
    return along_seg(d, &d->segs[s], sigma_m);
}

static void make_one(demo *d, const places *pl, const ht_locator *loc, inc *x) {
    int comp = (int)rng_pick(&d->r, comp_share, C_COUNT);
    int which = 0;
    if (comp == C_ALLEY) {
        which = (int)rng_below(&d->r, NHOT);
    } else if (comp == C_CONSTRUCTION) {
        which = (int)rng_below(&d->r, NSITES);
    }
    const double *hours = comp == C_NOISE     ? hours_night
                          : comp == C_SCHOOL  ? hours_school
                          : comp == C_HEATING ? hours_heat
                                              : hours_day;
    int64_t start = d->end - 365 * (int64_t)DAY;
    do {
        int dayi;
        do {
            dayi = (int)rng_below(&d->r, 365);
        } while (rng_unit(&d->r) * comp_wmax[comp] >=
                 day_weight(d, pl, comp, dayi, which));
        int hour = (int)rng_pick(&d->r, hours, 24);
        /* Hours are Beijing time (UTC+8); keep the window exact. */
        x->t_rep = start + (int64_t)dayi * DAY + (hour - 8) * 3600 +
                   (int64_t)rng_below(&d->r, 3600);
    } while (x->t_rep < start || x->t_rep >= d->end);
    ht_point p;
    for (int tries = 0;; tries++) {
        switch (comp) {
        case C_ALLEY:
            p = along_run(d, pl->hot[which], 6);
            break;
        case C_MARKET:
            p = jitter_m(d, pl->market[rng_below(&d->r, NMARKETS)], 70);
            break;
        case C_SCHOOL:
            p = jitter_m(d, pl->school[rng_below(&d->r, NSCHOOLS)], 60);
            break;
        case C_NOISE:
            p = along_run(d, pl->noise[rng_below(&d->r, NNOISE)], 8);
            break;
        case C_HEATING:
            p = cell_point(d, pick_cdf(d, pl->heat_cdf), rng_unit(&d->r),
                           rng_unit(&d->r));
            break;
        case C_CONSTRUCTION:
            p = jitter_m(d, pl->site[which], 40);
            break;
        case C_MAINROAD:
            p = along_seg(
                d, &d->segs[pl->main_segs[rng_below(&d->r, (size_t)pl->nmain)]],
                10);
            break;
        case C_RAIN:
            p = jitter_m(d, pl->rain[rng_below(&d->r, NRAIN)], 30);
            break;
        case C_PARK: {
            int c;
            do {
                c = (int)rng_below(&d->r, NC);
            } while (!d->park[c] || !d->in[c]);
            p = cell_point(d, c, rng_unit(&d->r), rng_unit(&d->r));
            break;
        }
        default:
            p = cell_point(d, pick_cdf(d, pl->pop_cdf), rng_unit(&d->r),
                           rng_unit(&d->r));
            break;
        }
        if (tries > 50 || ht_locator_find_grid(loc, p.x, p.y, HT_TIME_NONE,
                                               HT_LEVEL_DISTRICT)) {
            break;
        }
    }
    x->lon = round(p.x * 1e7) / 1e7; /* about 1 cm, like real feeds */
    x->lat = round(p.y * 1e7) / 1e7;
    const catw *cw = comp_cats[comp];
    double w[16];
    size_t n = 0;
    for (; cw[n].code; n++) {
        w[n] = cw[n].w;
    }
    x->cat = cw[rng_pick(&d->r, w, n)].code;
    x->dept = department(x->cat);
    int y, m, dd, hh, mi, ss;
    ht_datetime_to_civil(x->t_rep, &y, &m, &dd, &hh, &mi, &ss);
    double sev[3] = {78, 18, 4};
    if (strncmp(x->cat, "04", 2) == 0) {
        sev[0] = 30, sev[1] = 40, sev[2] = 30;
    } else if (strcmp(x->cat, "H02") == 0 && (m == 12 || m == 1)) {
        sev[0] = 55, sev[1] = 35, sev[2] = 10;
    }
    x->sev = 1 + (int)rng_pick(&d->r, sev, 3);
    x->src = (int)rng_pick(&d->r, comp_source[comp], HT_SOURCE_COUNT);
    double dl = deadline_h(x->cat) * 3600;
    x->t_disp =
        x->t_rep + 300 + (int64_t)rng_exp(&d->r, dl < 8000 ? 600 : 3600);
    x->t_hand = x->t_disp + (int64_t)rng_exp(&d->r, 0.15 * dl);
    double late = rng_unit(&d->r) < 0.04 ? 4 : 1;
    x->t_close = x->t_hand + 600 + (int64_t)rng_exp(&d->r, 0.35 * dl * late);
    double p_eval = x->src == HT_SOURCE_HOTLINE ? 0.8 : 0.25;
    x->t_eval = rng_unit(&d->r) < p_eval
                    ? x->t_close + 7200 + (int64_t)rng_exp(&d->r, 36 * 3600)
                    : INT64_MAX;
}

static int cmp_inc(const void *a, const void *b) {
    const inc *p = a, *q = b;
    if (p->t_rep != q->t_rep) {
        return p->t_rep < q->t_rep ? -1 : 1;
    }
    return p->serial < q->serial ? -1 : p->serial > q->serial;
}

static ht_status store_incidents(demo *d, const ht_locator *loc, inc *list,
                                 size_t n) {
    ht_status st = HT_OK;
    for (size_t k = 0; st == HT_OK && k < n; k++) {
        inc *x = &list[k];
        const int64_t times[5] = {x->t_rep, x->t_disp, x->t_hand, x->t_close,
                                  x->t_eval};
        int state = 0;
        while (state < 4 && times[state + 1] <= d->end) {
            state++;
        }
        char eid[32];
        snprintf(eid, sizeof eid, "demo-%07zu", k + 1);
        ht_incident_rec r = {
            .external_id = eid,
            .category = x->cat,
            .severity = x->sev,
            .source = (ht_source)x->src,
            .state = (ht_state)state,
            .reported_at = x->t_rep,
            .closed_at = state >= HT_STATE_CLOSED ? x->t_close : HT_TIME_NONE,
            .state_at = times[state],
            .lon = x->lon,
            .lat = x->lat};
        /* The resident's verdict and a whistle's kind, from a stream of
         * their own (the main one, and so the incidents, stay as they
         * were): late closing makes residents less satisfied. */
        rng own = {.s = (uint64_t)k * 0x9e3779b97f4a7c15ULL ^ 0x5a7157ULL};
        double u = rng_unit(&own);
        if (state == HT_STATE_EVALUATED) {
            bool slow = x->t_close - x->t_rep > deadline_h(x->cat) * 3600;
            double good = slow ? 0.45 : 0.86, fair = slow ? 0.75 : 0.97;
            r.satisfaction = u < good   ? HT_SAT_SATISFIED
                             : u < fair ? HT_SAT_BASIC
                                        : HT_SAT_UNSATISFIED;
        }
        if (r.source == HT_SOURCE_WHISTLE) {
            double v = rng_unit(&own);
            r.whistle = v < 0.7    ? HT_WHISTLE_DAILY
                        : v < 0.93 ? HT_WHISTLE_TOUGH
                                   : HT_WHISTLE_EMERGENCY;
        }
        const char *grid =
            ht_locator_find_grid(loc, x->lon, x->lat, x->t_rep, -1);
        int64_t street =
            ht_locator_find_street(loc, x->lon, x->lat, HT_LOCATE_SNAP_M, NULL);
        ht_put_result res;
        int64_t id;
        st = ht_store_put_incident(d->s, &r, grid, street, &res, &id, d->err);
        /* The full synthetic history, with the department that handled
         * each step after the report. */
        for (int q = 0; st == HT_OK && q <= state; q++) {
            st = res == HT_PUT_PENDING
                     ? ht_store_put_event_pending(d->s, r.external_id,
                                                  (ht_state)q, times[q],
                                                  q ? x->dept : NULL, d->err)
                     : ht_store_put_event(d->s, id, (ht_state)q, times[q],
                                          q ? x->dept : NULL, d->err);
            d->stats->events++;
        }
        d->stats->incidents++;
        if (d->o->progress && (k + 1) % 20000 == 0) {
            d->o->progress("incidents", k + 1, n, d->o->progress_ud);
        }
    }
    return st;
}

static ht_status make_incidents(demo *d) {
    size_t n = d->o->incidents ? d->o->incidents : 200000;
    places pl = {0};
    ht_locator *loc = NULL;
    inc *list = calloc(n, sizeof *list);
    ht_status st = list ? make_places(d, &pl)
                        : ht_error_set(d->err, HT_ENOMEM, "out of memory");
    if (st == HT_OK) {
        st = ht_locator_load(d->s, HT_LOCATE_SNAP_M, &loc, d->err);
    }
    for (size_t k = 0; st == HT_OK && k < n; k++) {
        list[k].serial = k;
        make_one(d, &pl, loc, &list[k]);
    }
    if (st == HT_OK) {
        qsort(list, n, sizeof *list, cmp_inc);
        st = store_incidents(d, loc, list, n);
    }
    ht_locator_free(loc);
    free(pl.hutong_runs);
    free(pl.main_segs);
    free(pl.pop_cdf);
    free(pl.heat_cdf);
    free(list);
    return st;
}

/* ---- entry point ---- */

const char *ht_demo_geodata_dir(void) {
    const char *env = getenv("HUTONG_GEODATA");
    return env && *env ? env : HT_GEODATA_DIR;
}

static void stage(demo *d, const char *name) {
    if (d->o->progress) {
        d->o->progress(name, 0, 0, d->o->progress_ud);
    }
}

ht_status ht_demo_build(ht_store *s, const ht_demo_opts *o,
                        ht_demo_stats *stats, ht_error *err) {
    int64_t ngrids = 0, nincidents = 0;
    ht_status st = ht_store_count(s, "grids", &ngrids, err);
    if (st == HT_OK) {
        st = ht_store_count(s, "incidents", &nincidents, err);
    }
    if (st != HT_OK) {
        return st;
    }
    if (ngrids || nincidents) {
        return ht_error_set(err, HT_EINVAL,
                            "the demo needs an empty database (this one has "
                            "%lld grids and %lld incidents)",
                            (long long)ngrids, (long long)nincidents);
    }
    demo *d = calloc(1, sizeof *d);
    if (!d) {
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    ht_demo_stats local = {0};
    d->s = s;
    d->o = o;
    d->err = err;
    d->stats = &local;
    d->r.s = o->seed ? o->seed : 2004;
    d->end = o->end;
    if (!d->end) {
        d->end = (int64_t)time(NULL) / DAY * DAY;
    }
    if ((st = ht_store_begin(s, err)) != HT_OK) {
        free(d);
        return st;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/categories.csv",
             o->geodata_dir ? o->geodata_dir : ht_demo_geodata_dir());
    ht_import_opts io = {.kind = HT_IMPORT_CATEGORIES, .in_transaction = true};
    stage(d, "categories");
    st = ht_import_file(s, path, &io, NULL, err);
    if (st == HT_OK) {
        snprintf(path, sizeof path, "%s/rules.csv",
                 o->geodata_dir ? o->geodata_dir : ht_demo_geodata_dir());
        io.kind = HT_IMPORT_RULES;
        st = ht_import_file(s, path, &io, NULL, err);
    }
    if (st == HT_OK) {
        st = read_table(d, "street_offices.csv", 5, office_row);
    }
    if (st == HT_OK && d->noffices != NSTREETS) {
        st = ht_error_set(err, HT_EINVAL,
                          "street_offices.csv: %d offices, "
                          "expected %d",
                          d->noffices, NSTREETS);
    }
    if (st == HT_OK) {
        st = read_table(d, "communities.csv", 3, community_row);
    }
    if (st == HT_OK) {
        qsort(d->comms, (size_t)d->ncomms, sizeof *d->comms, cmp_comm);
        stage(d, "grids");
        st = make_lattice(d);
    }
    if (st == HT_OK) {
        st = make_offices(d);
    }
    if (st == HT_OK) {
        st = make_communities(d);
    }
    if (st == HT_OK) {
        make_population(d);
        st = make_grids(d);
    }
    if (st == HT_OK) {
        stage(d, "streets");
        st = make_streets(d);
    }
    /* On PostgreSQL, incidents and their events in batches (COPY): a
     * statement an event would take a round trip each. */
    bool bulk = ht_store_bulk_batches(s);
    if (st == HT_OK && bulk) {
        st = ht_store_bulk_begin(s, o->incidents ? o->incidents : 200000, err);
    }
    if (st == HT_OK) {
        st = make_incidents(d);
    }
    if (st == HT_OK && bulk) {
        st = ht_store_bulk_end(s, err);
    }
    if (st == HT_OK) {
        st = ht_store_commit(s, err);
    } else {
        ht_store_rollback(s);
    }
    ht_geom_free(d->outline);
    free(d->segs);
    free(d->names);
    free(d->runs);
    free(d);
    if (st == HT_OK && stats) {
        *stats = local;
    }
    return st;
}
