/* SPDX-License-Identifier: Apache-2.0 */
/* Geometry values: points, boxes, lines and polygons, and WKB. */
#include "hutong/geom.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

ht_bbox ht_bbox_empty(void) {
    return (ht_bbox){HUGE_VAL, HUGE_VAL, -HUGE_VAL, -HUGE_VAL};
}

ht_status ht_bbox_parse(const char *text, ht_bbox *out, ht_error *err) {
    double v[4];
    const char *p = text ? text : "";
    for (int k = 0; k < 4; k++) {
        char *end;
        v[k] = strtod(p, &end);
        if (end == p || isspace((unsigned char)*p) || !isfinite(v[k]) ||
            (k < 3 && *end != ',') || (k == 3 && *end)) {
            return ht_error_set(err, HT_EINVAL,
                                "\"%.60s\": expected four numbers a,b,c,d",
                                text ? text : "");
        }
        p = end + 1;
    }
    if (!(v[0] < v[2] && v[1] < v[3])) {
        return ht_error_set(err, HT_EINVAL,
                            "\"%.60s\": the first corner must lie below "
                            "and left of the second",
                            text);
    }
    *out = (ht_bbox){v[0], v[1], v[2], v[3]};
    return HT_OK;
}

void ht_bbox_add(ht_bbox *b, double x, double y) {
    if (x < b->minx) {
        b->minx = x;
    }
    if (x > b->maxx) {
        b->maxx = x;
    }
    if (y < b->miny) {
        b->miny = y;
    }
    if (y > b->maxy) {
        b->maxy = y;
    }
}

bool ht_bbox_intersects(const ht_bbox *a, const ht_bbox *b) {
    return a->minx <= b->maxx && b->minx <= a->maxx && a->miny <= b->maxy &&
           b->miny <= a->maxy;
}

ht_geom *ht_geom_new(ht_geom_type type) {
    ht_geom *g = calloc(1, sizeof *g);
    if (g) {
        g->type = type;
    }
    return g;
}

ht_geom *ht_geom_clone(const ht_geom *g) {
    ht_geom *c = ht_geom_new(g->type);
    if (!c) {
        return NULL;
    }
    c->pts = malloc((g->npts ? g->npts : 1) * sizeof *c->pts);
    c->parts = malloc((g->nparts ? g->nparts : 1) * sizeof *c->parts);
    c->polys = malloc((g->npolys ? g->npolys : 1) * sizeof *c->polys);
    if (!c->pts || !c->parts || !c->polys) {
        ht_geom_free(c);
        return NULL;
    }
    if (g->npts) {
        memcpy(c->pts, g->pts, g->npts * sizeof *c->pts);
    }
    if (g->nparts) {
        memcpy(c->parts, g->parts, g->nparts * sizeof *c->parts);
    }
    if (g->npolys) {
        memcpy(c->polys, g->polys, g->npolys * sizeof *c->polys);
    }
    c->npts = c->cap_pts = g->npts;
    c->nparts = c->cap_parts = g->nparts;
    c->npolys = c->cap_polys = g->npolys;
    return c;
}

void ht_geom_free(ht_geom *g) {
    if (g) {
        free(g->pts);
        free(g->parts);
        free(g->polys);
        free(g);
    }
}

void ht_geom_reset(ht_geom *g, ht_geom_type type) {
    g->type = type;
    g->npts = 0;
    g->nparts = 0;
    g->npolys = 0;
}

ht_status ht_geom_start_polygon(ht_geom *g, ht_error *err) {
    ht_status st = ht_array_grow((void **)&g->polys, &g->cap_polys,
                                 g->npolys + 1, sizeof *g->polys, err);
    if (st == HT_OK) {
        g->polys[g->npolys++] = g->nparts;
    }
    return st;
}

ht_status ht_geom_start_part(ht_geom *g, ht_error *err) {
    ht_status st = ht_array_grow((void **)&g->parts, &g->cap_parts,
                                 g->nparts + 1, sizeof *g->parts, err);
    if (st == HT_OK) {
        g->parts[g->nparts++] = g->npts;
    }
    return st;
}

ht_status ht_geom_add_point(ht_geom *g, double x, double y, ht_error *err) {
    ht_status st = ht_array_grow((void **)&g->pts, &g->cap_pts, g->npts + 1,
                                 sizeof *g->pts, err);
    if (st == HT_OK) {
        g->pts[g->npts++] = (ht_point){x, y};
    }
    return st;
}

size_t ht_geom_part_end(const ht_geom *g, size_t i) {
    return i + 1 < g->nparts ? g->parts[i + 1] : g->npts;
}

size_t ht_geom_poly_end(const ht_geom *g, size_t j) {
    return j + 1 < g->npolys ? g->polys[j + 1] : g->nparts;
}

ht_bbox ht_geom_bbox(const ht_geom *g) {
    ht_bbox b = ht_bbox_empty();
    for (size_t i = 0; i < g->npts; i++) {
        ht_bbox_add(&b, g->pts[i].x, g->pts[i].y);
    }
    return b;
}

static bool is_polygonal(const ht_geom *g) {
    return g->type == HT_GEOM_POLYGON || g->type == HT_GEOM_MULTIPOLYGON;
}

ht_status ht_geom_validate(const ht_geom *g, ht_error *err) {
    if (g->nparts == 0) {
        return ht_error_set(err, HT_EINVAL, "empty geometry");
    }
    for (size_t i = 0; i < g->npts; i++) {
        if (!isfinite(g->pts[i].x) || !isfinite(g->pts[i].y)) {
            return ht_error_set(err, HT_EINVAL, "vertex %zu is not finite", i);
        }
    }
    if (is_polygonal(g) && g->npolys == 0) {
        return ht_error_set(err, HT_EINVAL, "polygon without rings");
    }
    for (size_t i = 0; i < g->nparts; i++) {
        size_t a = g->parts[i], b = ht_geom_part_end(g, i), n = b - a;
        switch (g->type) {
        case HT_GEOM_POINT:
        case HT_GEOM_MULTIPOINT:
            if (n != 1) {
                return ht_error_set(err, HT_EINVAL,
                                    "point %zu has %zu coordinates", i, n);
            }
            break;
        case HT_GEOM_LINESTRING:
        case HT_GEOM_MULTILINESTRING:
            if (n < 2) {
                return ht_error_set(err, HT_EINVAL,
                                    "line %zu has %zu vertices, needs 2", i, n);
            }
            break;
        case HT_GEOM_POLYGON:
        case HT_GEOM_MULTIPOLYGON:
            if (n < 4) {
                return ht_error_set(err, HT_EINVAL,
                                    "ring %zu has %zu vertices, needs 4", i, n);
            }
            if (g->pts[a].x != g->pts[b - 1].x ||
                g->pts[a].y != g->pts[b - 1].y) {
                return ht_error_set(err, HT_EINVAL, "ring %zu is not closed",
                                    i);
            }
            break;
        }
    }
    return HT_OK;
}

double ht_geom_ring_signed_area(const ht_geom *g, size_t i) {
    if (i >= g->nparts) {
        return 0; /* a polygon without rings */
    }
    size_t a = g->parts[i], b = ht_geom_part_end(g, i);
    double s = 0;
    for (size_t k = a; k + 1 < b; k++) {
        s += (g->pts[k].x - g->pts[a].x) * (g->pts[k + 1].y - g->pts[a].y) -
             (g->pts[k + 1].x - g->pts[a].x) * (g->pts[k].y - g->pts[a].y);
    }
    return s / 2;
}

static void reverse_part(ht_geom *g, size_t i) {
    size_t a = g->parts[i], b = ht_geom_part_end(g, i);
    while (b > a + 1) {
        ht_point t = g->pts[a];
        g->pts[a] = g->pts[b - 1];
        g->pts[b - 1] = t;
        a++;
        b--;
    }
}

void ht_geom_orient(ht_geom *g) {
    if (!is_polygonal(g)) {
        return;
    }
    for (size_t j = 0; j < g->npolys; j++) {
        size_t end = ht_geom_poly_end(g, j);
        for (size_t i = g->polys[j]; i < end; i++) {
            double s = ht_geom_ring_signed_area(g, i);
            bool exterior = i == g->polys[j];
            if ((exterior && s < 0) || (!exterior && s > 0)) {
                reverse_part(g, i);
            }
        }
    }
}

/* ---- WKB ---- */

static void put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void put_f64(uint8_t *p, double d) {
    uint64_t v;
    memcpy(&v, &d, 8);
    for (int k = 0; k < 8; k++) {
        p[k] = (uint8_t)(v >> (8 * k));
    }
}

static ht_status wkb_header(ht_buf *out, uint32_t type, ht_error *err) {
    uint8_t h[5] = {1};
    put_u32(h + 1, type);
    return ht_buf_append(out, h, 5, err);
}

static ht_status wkb_u32(ht_buf *out, size_t v, ht_error *err) {
    uint8_t b[4];
    put_u32(b, (uint32_t)v);
    return ht_buf_append(out, b, 4, err);
}

static ht_status wkb_points(ht_buf *out, const ht_geom *g, size_t part,
                            bool counted, ht_error *err) {
    size_t a = g->parts[part], b = ht_geom_part_end(g, part);
    ht_status st = counted ? wkb_u32(out, b - a, err) : HT_OK;
    if (st != HT_OK) {
        return st;
    }
    if ((st = ht_buf_reserve(out, (b - a) * 16, err)) != HT_OK) {
        return st;
    }
    for (size_t k = a; k < b; k++) {
        put_f64(out->data + out->len, g->pts[k].x);
        put_f64(out->data + out->len + 8, g->pts[k].y);
        out->len += 16;
    }
    out->data[out->len] = 0;
    return HT_OK;
}

static ht_status wkb_polygon(ht_buf *out, const ht_geom *g, size_t j,
                             ht_error *err) {
    size_t end = ht_geom_poly_end(g, j);
    ht_status st = wkb_header(out, HT_GEOM_POLYGON, err);
    if (st == HT_OK) {
        st = wkb_u32(out, end - g->polys[j], err);
    }
    for (size_t i = g->polys[j]; st == HT_OK && i < end; i++) {
        st = wkb_points(out, g, i, true, err);
    }
    return st;
}

ht_status ht_geom_to_wkb(const ht_geom *g, ht_buf *out, ht_error *err) {
    size_t mark = out->len;
    ht_status st = wkb_header(out, g->type, err);
    switch (g->type) {
    case HT_GEOM_POINT:
        if (st == HT_OK) {
            st = g->nparts ? wkb_points(out, g, 0, false, err)
                           : ht_error_set(err, HT_EINVAL, "empty point");
        }
        break;
    case HT_GEOM_LINESTRING:
        if (st == HT_OK) {
            st = g->nparts ? wkb_points(out, g, 0, true, err)
                           : ht_error_set(err, HT_EINVAL, "empty line");
        }
        break;
    case HT_GEOM_POLYGON:
        out->len = mark; /* wkb_polygon writes its own header */
        st = g->npolys ? wkb_polygon(out, g, 0, err)
                       : ht_error_set(err, HT_EINVAL, "empty polygon");
        break;
    case HT_GEOM_MULTIPOINT:
    case HT_GEOM_MULTILINESTRING:
        if (st == HT_OK) {
            st = wkb_u32(out, g->nparts, err);
        }
        for (size_t i = 0; st == HT_OK && i < g->nparts; i++) {
            bool pt = g->type == HT_GEOM_MULTIPOINT;
            st = wkb_header(out, pt ? HT_GEOM_POINT : HT_GEOM_LINESTRING, err);
            if (st == HT_OK) {
                st = wkb_points(out, g, i, !pt, err);
            }
        }
        break;
    case HT_GEOM_MULTIPOLYGON:
        if (st == HT_OK) {
            st = wkb_u32(out, g->npolys, err);
        }
        for (size_t j = 0; st == HT_OK && j < g->npolys; j++) {
            st = wkb_polygon(out, g, j, err);
        }
        break;
    }
    if (st != HT_OK) {
        out->len = mark;
        out->data[mark] = 0;
    }
    return st;
}

typedef struct wkb_reader {
    const uint8_t *p;
    size_t len;
    size_t off;
    bool be;
} wkb_reader;

static bool rd_u32(wkb_reader *r, uint32_t *v) {
    if (r->len - r->off < 4) {
        return false;
    }
    const uint8_t *p = r->p + r->off;
    *v = r->be ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
                     (uint32_t)p[2] << 8 | p[3]
               : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 |
                     (uint32_t)p[1] << 8 | p[0];
    r->off += 4;
    return true;
}

static bool rd_f64(wkb_reader *r, double *d) {
    if (r->len - r->off < 8) {
        return false;
    }
    uint64_t v = 0;
    for (int k = 0; k < 8; k++) {
        uint64_t byte = r->p[r->off + (r->be ? (size_t)k : (size_t)(7 - k))];
        v = v << 8 | byte;
    }
    memcpy(d, &v, 8);
    r->off += 8;
    return true;
}

static bool rd_header(wkb_reader *r, uint32_t *type) {
    if (r->off >= r->len || r->p[r->off] > 1) {
        return false;
    }
    r->be = r->p[r->off] == 0;
    r->off++;
    return rd_u32(r, type);
}

static ht_status rd_points(wkb_reader *r, ht_geom *g, uint32_t n,
                           ht_error *err) {
    if (n > (r->len - r->off) / 16) {
        return ht_error_set(err, HT_EINVAL, "WKB truncated");
    }
    ht_status st = ht_geom_start_part(g, err);
    for (uint32_t k = 0; st == HT_OK && k < n; k++) {
        double x, y;
        rd_f64(r, &x);
        rd_f64(r, &y);
        st = ht_geom_add_point(g, x, y, err);
    }
    return st;
}

static ht_status rd_simple(wkb_reader *r, ht_geom *g, uint32_t type,
                           ht_error *err) {
    uint32_t n = 1;
    if (type != HT_GEOM_POINT && !rd_u32(r, &n)) {
        return ht_error_set(err, HT_EINVAL, "WKB truncated");
    }
    if (type == HT_GEOM_POINT || type == HT_GEOM_LINESTRING) {
        return rd_points(r, g, n, err);
    }
    if (type != HT_GEOM_POLYGON) {
        return ht_error_set(err, HT_EINVAL, "WKB type %u not supported here",
                            (unsigned)type);
    }
    if (n == 0) {
        return HT_OK; /* POLYGON EMPTY: nothing to hold */
    }
    ht_status st = ht_geom_start_polygon(g, err);
    for (uint32_t i = 0; st == HT_OK && i < n; i++) {
        uint32_t m;
        if (!rd_u32(r, &m)) {
            return ht_error_set(err, HT_EINVAL, "WKB truncated");
        }
        st = rd_points(r, g, m, err);
    }
    return st;
}

ht_status ht_geom_from_wkb(const void *data, size_t len, ht_geom **out,
                           ht_error *err) {
    *out = NULL;
    wkb_reader r = {data, len, 0, false};
    uint32_t type;
    if (!rd_header(&r, &type)) {
        return ht_error_set(err, HT_EINVAL, "WKB header invalid");
    }
    if (type < HT_GEOM_POINT || type > HT_GEOM_MULTIPOLYGON) {
        return ht_error_set(err, HT_EINVAL, "WKB type %u not supported",
                            (unsigned)type);
    }
    ht_geom *g = ht_geom_new((ht_geom_type)type);
    if (!g) {
        return ht_error_set(err, HT_ENOMEM, "out of memory for geometry");
    }
    ht_status st;
    if (type <= HT_GEOM_POLYGON) {
        st = rd_simple(&r, g, type, err);
    } else {
        uint32_t n;
        st = rd_u32(&r, &n) ? HT_OK
                            : ht_error_set(err, HT_EINVAL, "WKB truncated");
        for (uint32_t i = 0; st == HT_OK && i < n; i++) {
            uint32_t sub;
            if (!rd_header(&r, &sub) || sub != type - 3) {
                st = ht_error_set(err, HT_EINVAL, "WKB member %u invalid",
                                  (unsigned)i);
                break;
            }
            st = rd_simple(&r, g, sub, err);
        }
    }
    if (st != HT_OK) {
        ht_geom_free(g);
        return st;
    }
    *out = g;
    return HT_OK;
}

/* ---- predicates and measures ---- */

static bool ring_crossings(const ht_geom *g, size_t i, double x, double y) {
    size_t a = g->parts[i], b = ht_geom_part_end(g, i);
    bool in = false;
    const ht_point *p = g->pts;
    for (size_t k = a, l = b - 1; k < b; l = k++) {
        if ((p[k].y > y) != (p[l].y > y) &&
            x < (p[l].x - p[k].x) * (y - p[k].y) / (p[l].y - p[k].y) + p[k].x) {
            in = !in;
        }
    }
    return in;
}

bool ht_geom_contains(const ht_geom *g, double x, double y) {
    if (!is_polygonal(g)) {
        return false;
    }
    for (size_t j = 0; j < g->npolys; j++) {
        size_t end = ht_geom_poly_end(g, j);
        bool in = false;
        for (size_t i = g->polys[j]; i < end; i++) {
            if (ring_crossings(g, i, x, y)) {
                in = !in;
            }
        }
        if (in) {
            return true;
        }
    }
    return false;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

ht_status ht_geom_interior_point(const ht_geom *g, ht_point *out,
                                 ht_error *err) {
    if (!is_polygonal(g) || g->npolys == 0) {
        return ht_error_set(err, HT_EINVAL, "geometry has no area");
    }
    /* The polygon with the largest exterior ring carries the point. */
    size_t best = 0;
    double best_area = -1;
    for (size_t j = 0; j < g->npolys; j++) {
        double s = fabs(ht_geom_ring_signed_area(g, g->polys[j]));
        if (s > best_area) {
            best_area = s;
            best = j;
        }
    }
    size_t r0 = g->polys[best], r1 = ht_geom_poly_end(g, best);
    double miny = HUGE_VAL, maxy = -HUGE_VAL;
    for (size_t k = g->parts[r0]; k < ht_geom_part_end(g, r0); k++) {
        miny = fmin(miny, g->pts[k].y);
        maxy = fmax(maxy, g->pts[k].y);
    }
    /* Try scan lines near the middle, avoiding lines through vertices. */
    static const double fractions[] = {0.5, 0.37, 0.63, 0.21, 0.79, 0.1, 0.9};
    for (size_t f = 0; f < sizeof fractions / sizeof *fractions; f++) {
        double y = miny + (maxy - miny) * fractions[f];
        size_t nx = 0, cap = 0;
        double *xs = NULL;
        for (size_t i = r0; i < r1; i++) {
            size_t a = g->parts[i], b = ht_geom_part_end(g, i);
            for (size_t k = a + 1; k < b; k++) {
                ht_point p = g->pts[k - 1], q = g->pts[k];
                if ((p.y > y) == (q.y > y)) {
                    continue;
                }
                if (ht_array_grow((void **)&xs, &cap, nx + 1, sizeof *xs,
                                  err) != HT_OK) {
                    free(xs);
                    return HT_ENOMEM;
                }
                xs[nx++] = p.x + (q.x - p.x) * (y - p.y) / (q.y - p.y);
            }
        }
        if (nx > 1) { /* qsort(NULL, 0) is undefined */
            qsort(xs, nx, sizeof *xs, cmp_double);
        }
        double width = 0;
        for (size_t k = 0; k + 1 < nx; k += 2) {
            if (xs[k + 1] - xs[k] > width) {
                width = xs[k + 1] - xs[k];
                *out = (ht_point){(xs[k] + xs[k + 1]) / 2, y};
            }
        }
        free(xs);
        if (width > 0) {
            return HT_OK;
        }
    }
    return ht_error_set(err, HT_EINVAL, "polygon has no interior");
}

double ht_geom_area_m2(const ht_geom *g) {
    /* Spherical ring area (Chamberlain & Duquette, JPL 2007) on the
     * authalic radius of WGS 84. */
    const double r = 6371007.181;
    const double d2r = HT_PI / 180;
    if (!is_polygonal(g)) {
        return 0;
    }
    double total = 0;
    for (size_t j = 0; j < g->npolys; j++) {
        size_t end = ht_geom_poly_end(g, j);
        for (size_t i = g->polys[j]; i < end; i++) {
            size_t a = g->parts[i], b = ht_geom_part_end(g, i);
            double s = 0;
            for (size_t k = a; k + 1 < b; k++) {
                ht_point p = g->pts[k], q = g->pts[k + 1];
                s += (q.x - p.x) * d2r * (2 + sin(p.y * d2r) + sin(q.y * d2r));
            }
            double area = fabs(s * r * r / 2);
            total += i == g->polys[j] ? area : -area;
        }
    }
    return total;
}

/* Whether segment (a, b) meets box @r (Liang-Barsky clipping). */
static bool segment_meets_box(ht_point a, ht_point b, const ht_bbox *r) {
    double t0 = 0, t1 = 1, dx = b.x - a.x, dy = b.y - a.y;
    const double p[4] = {-dx, dx, -dy, dy};
    const double q[4] = {a.x - r->minx, r->maxx - a.x, a.y - r->miny,
                         r->maxy - a.y};
    for (int k = 0; k < 4; k++) {
        if (p[k] == 0) {
            if (q[k] < 0) {
                return false; /* parallel to this edge, outside it */
            }
            continue;
        }
        double t = q[k] / p[k];
        if (p[k] < 0) {
            t0 = t > t0 ? t : t0;
        } else {
            t1 = t < t1 ? t : t1;
        }
        if (t0 > t1) {
            return false;
        }
    }
    return true;
}

bool ht_geom_meets_box(const ht_geom *g, const ht_bbox *b) {
    if (!g || !g->npts) {
        return false;
    }
    ht_bbox gb = ht_geom_bbox(g);
    if (!ht_bbox_intersects(&gb, b)) {
        return false;
    }
    for (size_t i = 0; i < g->nparts; i++) {
        size_t k0 = g->parts[i], k1 = ht_geom_part_end(g, i);
        for (size_t k = k0; k < k1; k++) {
            const ht_point *p = &g->pts[k];
            if (p->x >= b->minx && p->x <= b->maxx && p->y >= b->miny &&
                p->y <= b->maxy) {
                return true;
            }
            if (k + 1 < k1 && segment_meets_box(*p, p[1], b)) {
                return true;
            }
        }
    }
    /* no edge in the box: a polygon meets it only holding it whole */
    return ht_geom_contains(g, (b->minx + b->maxx) / 2,
                            (b->miny + b->maxy) / 2);
}
