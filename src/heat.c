/* SPDX-License-Identifier: Apache-2.0 */
/* Kernel density of incidents, in incidents per km2 on the ground. */
#include "hutong/heat.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hutong/tile.h"

#define WGS84_A 6378137.0
#define WGS84_E2 0.00669437999014
/* Grid nodes at most; beyond it the spacing grows. */
#define MAX_NODES (16u << 20)

struct ht_heat {
    double x0, y0; /* EPSG:3857 position of node (0, 0) */
    double step;   /* node spacing, projected metres */
    size_t nx, ny;
    float *v;     /* densities, row-major from the south */
    double scale; /* auto scale (p99 of non-zero nodes) */
    double max;
    size_t count;
    double spacing_m;
};

ht_status ht_heat_kernel_parse(const char *s, ht_kernel *out, ht_error *err) {
    if (s && strcmp(s, "quartic") == 0) {
        *out = HT_KERNEL_QUARTIC;
        return HT_OK;
    }
    if (s && strcmp(s, "gaussian") == 0) {
        *out = HT_KERNEL_GAUSSIAN;
        return HT_OK;
    }
    return ht_error_set(err, HT_EINVAL,
                        "kernel: \"%s\" is not quartic or gaussian",
                        s ? s : "");
}

/* Metres on the ground per projected metre, east-west and north-south, at
 * latitude @phi (radians): the ellipsoid's radii of curvature against
 * Web Mercator's sphere. */
static void ground_factors(double phi, double *kx, double *ky) {
    double s = sin(phi), w = sqrt(1 - WGS84_E2 * s * s);
    double n = WGS84_A / w, m = WGS84_A * (1 - WGS84_E2) / (w * w * w);
    *kx = n * cos(phi) / WGS84_A;
    *ky = m * cos(phi) / WGS84_A;
}

static double lat_of(double y) {
    return 2 * atan(exp(y / WGS84_A)) - HT_PI / 2;
}

/* Kernel value per m2 at squared ground distance @d2 (0 beyond r). */
static double kernel(ht_kernel k, double r, double d2) {
    double r2 = r * r;
    if (d2 >= r2) {
        return 0;
    }
    if (k == HT_KERNEL_QUARTIC) {
        double u = 1 - d2 / r2;
        return 3 / (HT_PI * r2) * u * u;
    }
    double s2 = r2 / 9; /* sigma = r / 3 */
    return exp(-d2 / (2 * s2)) / (2 * HT_PI * s2);
}

typedef struct splat {
    ht_heat *h;
    double *acc;
    const ht_heat_opts *o;
    double *row_lat; /* latitude of each node row, radians */
} splat;

static void add_point(splat *s, double x, double y, double w) {
    ht_heat *h = s->h;
    double r = s->o->radius_m;
    double phi = lat_of(y), kx, ky;
    ground_factors(phi, &kx, &ky);
    /* Node range within the radius, with a node of slack. */
    double rx = r / kx, ry = r / ky * 1.01;
    long i0 = (long)ceil((x - rx - h->x0) / h->step);
    long i1 = (long)floor((x + rx - h->x0) / h->step);
    long j0 = (long)ceil((y - ry - h->y0) / h->step);
    long j1 = (long)floor((y + ry - h->y0) / h->step);
    i0 = i0 < 0 ? 0 : i0;
    j0 = j0 < 0 ? 0 : j0;
    i1 = i1 >= (long)h->nx ? (long)h->nx - 1 : i1;
    j1 = j1 >= (long)h->ny ? (long)h->ny - 1 : j1;
    for (long j = j0; j <= j1; j++) {
        /* Factors at the pair's mid latitude. */
        double mkx, mky;
        ground_factors((phi + s->row_lat[j]) / 2, &mkx, &mky);
        double dy = (h->y0 + (double)j * h->step - y) * mky;
        double dy2 = dy * dy;
        double *row = s->acc + (size_t)j * h->nx;
        for (long i = i0; i <= i1; i++) {
            double dx = (h->x0 + (double)i * h->step - x) * mkx;
            double d2 = dx * dx + dy2;
            if (d2 < r * r) {
                row[i] += w * kernel(s->o->kernel, r, d2);
            }
        }
    }
}

static void splat_point(void *ud, double x, double y, int severity) {
    (void)severity;
    splat *s = ud;
    add_point(s, x, y, 1);
    s->h->count++;
}

static void splat_view(void *ud, double x, double y,
                       const ht_incident_view *v) {
    splat *s = ud;
    double w = s->o->weight(s->o->weight_ud, v);
    if (isfinite(w) && w != 0) {
        add_point(s, x, y, w);
    }
    s->h->count++;
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

ht_status ht_heat_build(const ht_index *ix, const ht_index_filter *q,
                        const ht_heat_opts *o, ht_heat **out, ht_error *err) {
    *out = NULL;
    if (!(o->radius_m >= 1 && o->radius_m <= 5000)) {
        return ht_error_set(err, HT_EINVAL, "radius %g m outside 1..5000",
                            o->radius_m);
    }
    ht_heat *h = calloc(1, sizeof *h);
    if (!h) {
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    ht_bbox b = ht_index_bbox(ix);
    if (b.minx > b.maxx) {
        b = (ht_bbox){0, 0, 0, 0};
    }
    double phi0 = lat_of((b.miny + b.maxy) / 2), kx0, ky0;
    ground_factors(phi0, &kx0, &ky0);
    /* r/8 on the ground at the data's latitude; coarser only if the grid
     * would exceed MAX_NODES. */
    h->step = o->radius_m / 8 / kx0;
    double margin = o->radius_m / fmin(kx0, ky0) * 1.1 + 2 * h->step;
    double w = b.maxx - b.minx + 2 * margin, ht = b.maxy - b.miny + 2 * margin;
    while ((w / h->step + 2) * (ht / h->step + 2) > MAX_NODES) {
        h->step *= 1.25;
    }
    h->spacing_m = h->step * kx0;
    h->x0 = b.minx - margin;
    h->y0 = b.miny - margin;
    h->nx = (size_t)ceil(w / h->step) + 1;
    h->ny = (size_t)ceil(ht / h->step) + 1;
    size_t nodes = h->nx * h->ny;
    double *acc = calloc(nodes, sizeof *acc);
    double *row_lat = malloc(h->ny * sizeof *row_lat);
    h->v = malloc(nodes * sizeof *h->v);
    if (!acc || !row_lat || !h->v) {
        free(acc);
        free(row_lat);
        ht_heat_free(h);
        return ht_error_set(err, HT_ENOMEM, "out of memory for %zu nodes",
                            nodes);
    }
    for (size_t j = 0; j < h->ny; j++) {
        row_lat[j] = lat_of(h->y0 + (double)j * h->step);
    }
    splat s = {h, acc, o, row_lat};
    if (o->weight) {
        ht_index_visit(ix, q, NULL, splat_view, &s);
    } else {
        ht_index_points(ix, q, NULL, splat_point, &s);
    }
    /* Per m2 to per km2; the scale from the non-zero nodes. */
    size_t nz = 0;
    for (size_t k = 0; k < nodes; k++) {
        h->v[k] = (float)(acc[k] * 1e6);
        h->max = fmax(h->max, h->v[k]);
        nz += h->v[k] > 0;
    }
    float *vals = malloc((nz ? nz : 1) * sizeof *vals);
    if (vals) {
        size_t m = 0;
        for (size_t k = 0; k < nodes; k++) {
            if (h->v[k] > 0) {
                vals[m++] = h->v[k];
            }
        }
        if (m > 1) {
            qsort(vals, m, sizeof *vals, cmp_float);
        }
        h->scale = m ? vals[(size_t)(0.99 * (double)(m - 1))] : 0;
    }
    free(vals);
    free(acc);
    free(row_lat);
    if (!vals) {
        ht_heat_free(h);
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    *out = h;
    return HT_OK;
}

void ht_heat_free(ht_heat *h) {
    if (h) {
        free(h->v);
        free(h);
    }
}

/* Catmull-Rom weights for the four nodes around fraction @t. */
static void cubic_weights(double t, double w[4]) {
    double t2 = t * t, t3 = t2 * t;
    w[0] = (-t3 + 2 * t2 - t) / 2;
    w[1] = (3 * t3 - 5 * t2 + 2) / 2;
    w[2] = (-3 * t3 + 4 * t2 + t) / 2;
    w[3] = (t3 - t2) / 2;
}

double ht_heat_sample(const ht_heat *h, double x, double y) {
    /* Bicubic (Catmull-Rom) between nodes: the error shrinks with the
     * fourth power of the spacing, where bilinear's left 2 % of the scale
     * on the sharp peaks of clusters. */
    double fx = (x - h->x0) / h->step, fy = (y - h->y0) / h->step;
    if (!(fx >= 1 && fy >= 1 && fx < (double)(h->nx - 2) &&
          fy < (double)(h->ny - 2))) {
        return 0; /* the grid's margin is wider than the kernel */
    }
    size_t i = (size_t)fx, j = (size_t)fy;
    double wx[4], wy[4];
    cubic_weights(fx - (double)i, wx);
    cubic_weights(fy - (double)j, wy);
    const float *r = h->v + (j - 1) * h->nx + (i - 1);
    double v = 0;
    for (int b = 0; b < 4; b++, r += h->nx) {
        v +=
            wy[b] * (wx[0] * r[0] + wx[1] * r[1] + wx[2] * r[2] + wx[3] * r[3]);
    }
    return v > 0 ? v : 0;
}

double ht_heat_auto_scale(const ht_heat *h) {
    return h->scale;
}

double ht_heat_max(const ht_heat *h) {
    return h->max;
}

size_t ht_heat_count(const ht_heat *h) {
    return h->count;
}

double ht_heat_spacing_m(const ht_heat *h) {
    return h->spacing_m;
}

typedef struct exact {
    const ht_heat_opts *o;
    double lon, lat; /* radians */
    double sum;
} exact;

static void exact_view(void *ud, double x, double y,
                       const ht_incident_view *v) {
    exact *e = ud;
    double lon, lat;
    ht_tile_merc_to_lonlat(x, y, &lon, &lat);
    lon *= HT_PI / 180;
    lat *= HT_PI / 180;
    double kx, ky;
    ground_factors((lat + e->lat) / 2, &kx, &ky);
    /* kx, ky are per projected metre of the sphere: back to radians. */
    double dx = (lon - e->lon) * WGS84_A * kx;
    double dy = (lat - e->lat) * WGS84_A * ky / cos((lat + e->lat) / 2);
    double w = e->o->weight ? e->o->weight(e->o->weight_ud, v) : 1;
    e->sum += w * kernel(e->o->kernel, e->o->radius_m, dx * dx + dy * dy);
}

double ht_heat_exact(const ht_index *ix, const ht_index_filter *q,
                     const ht_heat_opts *o, double lon, double lat) {
    exact e = {o, lon * HT_PI / 180, lat * HT_PI / 180, 0};
    double x, y, kx, ky;
    ht_tile_lonlat_to_merc(lon, lat, &x, &y);
    ground_factors(e.lat, &kx, &ky);
    double rx = o->radius_m / kx * 1.01, ry = o->radius_m / ky * 1.01;
    ht_bbox box = {x - rx, y - ry, x + rx, y + ry};
    ht_index_visit(ix, q, &box, exact_view, &e);
    return e.sum * 1e6;
}
