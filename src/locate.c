/* SPDX-License-Identifier: Apache-2.0 */
/* Point location: which grid holds a point, which street it is on. */
#include "hutong/locate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hutong/buf.h"
#include "hutong/datetime.h"

#include "bucket_int.h"

typedef struct poly {
    char *code;
    ht_level level;
    int64_t valid_from;
    int64_t valid_to;
    ht_geom *geom;
    ht_bbox bbox;
} poly;

typedef struct seg {
    double x0, y0, x1, y1;
    int64_t id;
} seg;

struct ht_locator {
    double max_snap_m;
    poly *polys;
    size_t npolys, cap_polys;
    seg *segs;
    size_t nsegs, cap_segs;
    size_t nstreets;
    ht__buckets gridx;
    ht__buckets streetx;
    bool built;
};

ht_status ht_locator_new(double max_snap_m, ht_locator **out, ht_error *err) {
    *out = NULL;
    if (!(max_snap_m > 0) || max_snap_m > 10000) {
        return ht_error_set(err, HT_EINVAL,
                            "snap distance %g m outside (0, 10000]",
                            max_snap_m);
    }
    ht_locator *l = calloc(1, sizeof *l);
    if (!l) {
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    l->max_snap_m = max_snap_m;
    *out = l;
    return HT_OK;
}

void ht_locator_free(ht_locator *l) {
    if (!l) {
        return;
    }
    for (size_t i = 0; i < l->npolys; i++) {
        free(l->polys[i].code);
        ht_geom_free(l->polys[i].geom);
    }
    free(l->polys);
    free(l->segs);
    ht__buckets_free(&l->gridx);
    ht__buckets_free(&l->streetx);
    free(l);
}

size_t ht_locator_grid_count(const ht_locator *l) {
    return l->npolys;
}

size_t ht_locator_street_count(const ht_locator *l) {
    return l->nstreets;
}

ht_status ht_locator_add_grid(ht_locator *l, const ht_grid_rec *rec,
                              ht_error *err) {
    if (l->built) {
        return ht_error_set(err, HT_EINTERNAL, "locator already built");
    }
    ht_status st = ht_array_grow((void **)&l->polys, &l->cap_polys,
                                 l->npolys + 1, sizeof *l->polys, err);
    if (st != HT_OK) {
        return st;
    }
    poly p = {.level = rec->level,
              .valid_from = rec->valid_from,
              .valid_to = rec->valid_to};
    p.code = strdup(rec->code);
    p.geom = ht_geom_clone(rec->geom);
    if (!p.code || !p.geom) {
        free(p.code);
        ht_geom_free(p.geom);
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    p.bbox = ht_geom_bbox(p.geom);
    l->polys[l->npolys++] = p;
    return HT_OK;
}

ht_status ht_locator_add_street(ht_locator *l, int64_t id, const ht_geom *line,
                                ht_error *err) {
    if (l->built) {
        return ht_error_set(err, HT_EINTERNAL, "locator already built");
    }
    for (size_t i = 0; i < line->nparts; i++) {
        size_t a = line->parts[i], b = ht_geom_part_end(line, i);
        for (size_t k = a; k + 1 < b; k++) {
            ht_status st = ht_array_grow((void **)&l->segs, &l->cap_segs,
                                         l->nsegs + 1, sizeof *l->segs, err);
            if (st != HT_OK) {
                return st;
            }
            l->segs[l->nsegs++] =
                (seg){line->pts[k].x, line->pts[k].y, line->pts[k + 1].x,
                      line->pts[k + 1].y, id};
        }
    }
    l->nstreets++;
    return HT_OK;
}

/* Deeper levels first, so the first hit in a cell is the lowest level;
 * then by code, for a stable answer where grids overlap. */
static int cmp_poly_ptr(const void *a, const void *b) {
    const poly *p = *(const poly *const *)a;
    const poly *q = *(const poly *const *)b;
    if (p->level != q->level) {
        return p->level > q->level ? -1 : 1;
    }
    return strcmp(p->code, q->code);
}

/* Metres per degree of longitude and latitude at @lat (WGS 84). */
static void metres_per_degree(double lat, double *mx, double *my) {
    const double a = 6378137.0, e2 = 0.00669437999014;
    double phi = lat * HT_PI / 180, s = sin(phi);
    double w = sqrt(1 - e2 * s * s);
    *mx = HT_PI / 180 * a * cos(phi) / w;
    *my = HT_PI / 180 * a * (1 - e2) / (w * w * w);
}

ht_status ht_locator_build(ht_locator *l, ht_error *err) {
    if (l->built) {
        return HT_OK;
    }
    ht_status st = HT_OK;
    ht_bbox *boxes = malloc(
        (l->npolys > l->nsegs ? l->npolys : l->nsegs) * sizeof *boxes + 1);
    if (!boxes) {
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    if (l->npolys) {
        /* Filling in priority order leaves every cell's list sorted. */
        const poly **byrank = malloc(l->npolys * sizeof *byrank);
        uint32_t *order = malloc(l->npolys * sizeof *order);
        if (!byrank || !order) {
            st = ht_error_set(err, HT_ENOMEM, "out of memory");
        } else {
            for (size_t k = 0; k < l->npolys; k++) {
                byrank[k] = &l->polys[k];
                boxes[k] = l->polys[k].bbox;
            }
            qsort(byrank, l->npolys, sizeof *byrank, cmp_poly_ptr);
            for (size_t k = 0; k < l->npolys; k++) {
                order[k] = (uint32_t)(byrank[k] - l->polys);
            }
            st = ht__buckets_build(&l->gridx, boxes, l->npolys, order, 0, 0,
                                   err);
        }
        free(byrank);
        free(order);
    }
    if (st == HT_OK && l->nsegs) {
        ht_bbox all = ht_bbox_empty();
        for (size_t k = 0; k < l->nsegs; k++) {
            const seg *sg = &l->segs[k];
            boxes[k] = ht_bbox_empty();
            ht_bbox_add(&boxes[k], sg->x0, sg->y0);
            ht_bbox_add(&boxes[k], sg->x1, sg->y1);
            ht_bbox_add(&all, sg->x0, sg->y0);
            ht_bbox_add(&all, sg->x1, sg->y1);
        }
        /* Cells at least the snap distance wide at the box's worst latitude,
         * so a 3 x 3 neighbourhood holds every segment within reach. */
        double mx, my;
        double lat = fmin(fmax(fabs(all.miny), fabs(all.maxy)), 89.0);
        metres_per_degree(lat, &mx, &my);
        st = ht__buckets_build(&l->streetx, boxes, l->nsegs, NULL,
                               l->max_snap_m / mx, l->max_snap_m / my, err);
    }
    free(boxes);
    if (st == HT_OK) {
        l->built = true;
    }
    return st;
}

static bool valid_at(const poly *p, int64_t t) {
    if (t == HT_TIME_NONE) {
        return true;
    }
    return (p->valid_from == HT_TIME_NONE || p->valid_from <= t) &&
           (p->valid_to == HT_TIME_NONE || t < p->valid_to);
}

const char *ht_locator_find_grid(const ht_locator *l, double lon, double lat,
                                 int64_t t, int level) {
    const ht__buckets *b = &l->gridx;
    if (!l->built || !l->npolys || lon < b->box.minx || lon > b->box.maxx ||
        lat < b->box.miny || lat > b->box.maxy) {
        return NULL;
    }
    ht_bbox at = {lon, lat, lon, lat};
    size_t i, j, i1, j1;
    ht__buckets_range(b, &at, &i, &j, &i1, &j1);
    size_t c = j * b->nx + i;
    for (size_t k = b->start[c]; k < b->start[c + 1]; k++) {
        const poly *p = &l->polys[b->items[k]];
        if ((level >= 0 && (int)p->level != level) || !valid_at(p, t)) {
            continue;
        }
        if (lon < p->bbox.minx || lon > p->bbox.maxx || lat < p->bbox.miny ||
            lat > p->bbox.maxy) {
            continue;
        }
        if (ht_geom_contains(p->geom, lon, lat)) {
            return p->code;
        }
    }
    return NULL;
}

int64_t ht_locator_find_street(const ht_locator *l, double lon, double lat,
                               double snap_m, double *dist_m) {
    const ht__buckets *b = &l->streetx;
    if (snap_m > l->max_snap_m) {
        snap_m = l->max_snap_m;
    }
    if (!l->built || !l->nsegs) {
        return -1;
    }
    double fi = (lon - b->box.minx) / b->cw, fj = (lat - b->box.miny) / b->ch;
    if (fi < -1 || fj < -1 || fi >= (double)b->nx + 1 ||
        fj >= (double)b->ny + 1) {
        return -1;
    }
    double mx, my;
    metres_per_degree(lat, &mx, &my);
    long ci = (long)floor(fi), cj = (long)floor(fj);
    double best = snap_m * snap_m;
    int64_t best_id = -1;
    for (long j = cj - 1; j <= cj + 1; j++) {
        for (long i = ci - 1; i <= ci + 1; i++) {
            if (i < 0 || j < 0 || i >= (long)b->nx || j >= (long)b->ny) {
                continue;
            }
            size_t c = (size_t)j * b->nx + (size_t)i;
            for (size_t k = b->start[c]; k < b->start[c + 1]; k++) {
                const seg *s = &l->segs[b->items[k]];
                /* Local tangent plane around the query point, in metres. */
                double ax = (s->x0 - lon) * mx, ay = (s->y0 - lat) * my;
                double bx = (s->x1 - lon) * mx, by = (s->y1 - lat) * my;
                double dx = bx - ax, dy = by - ay;
                double len2 = dx * dx + dy * dy;
                double u = len2 > 0 ? -(ax * dx + ay * dy) / len2 : 0;
                u = u < 0 ? 0 : u > 1 ? 1 : u;
                double px = ax + u * dx, py = ay + u * dy;
                double d2 = px * px + py * py;
                if (d2 < best ||
                    (d2 == best && best_id >= 0 && s->id < best_id)) {
                    best = d2;
                    best_id = s->id;
                }
            }
        }
    }
    if (best_id >= 0 && dist_m) {
        *dist_m = sqrt(best);
    }
    return best_id;
}

static ht_status load_grid(const ht_grid_rec *rec, void *ud, ht_error *err) {
    return ht_locator_add_grid(ud, rec, err);
}

static ht_status load_street(int64_t id, const ht_street_rec *rec, void *ud,
                             ht_error *err) {
    return ht_locator_add_street(ud, id, rec->geom, err);
}

ht_status ht_locator_load(ht_store *s, double max_snap_m, ht_locator **out,
                          ht_error *err) {
    ht_locator *l;
    ht_status st = ht_locator_new(max_snap_m, &l, err);
    if (st != HT_OK) {
        *out = NULL;
        return st;
    }
    st = ht_store_each_grid(s, load_grid, l, err);
    if (st == HT_OK) {
        st = ht_store_each_street(s, load_street, l, err);
    }
    if (st == HT_OK) {
        st = ht_locator_build(l, err);
    }
    if (st != HT_OK) {
        ht_locator_free(l);
        l = NULL;
    }
    *out = l;
    return st;
}
