/* SPDX-License-Identifier: Apache-2.0 */
/* Circle layers: incidents as dots, the most severe on top. A layer of
 * many dots on an image composites each from two coverage masks (the disk
 * and its ring) cut once per size at a quarter of a pixel's offsets, where
 * a path a dot cost Cairo more than the rest of the tile. On a plain ARGB
 * image those masks are composited here, pixel for pixel as Cairo would
 * (its solid colour over, through an 8-bit mask), without Cairo's cost of
 * a call: two patterns and a composite's setup a dot. */
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hutong/buf.h"
#include "hutong/clock.h"
#include "hutong/index.h"
#include "hutong/model.h"
#include "hutong/style.h"

#include "pool_int.h"
#include "render_int.h"

/* An incident kept for drawing: the row's strings are copied (codes are
 * short), since SQLite's go with the row. */
typedef struct circle {
    int64_t id;
    double severity;
    const char *category, *major, *source, *status; /* static or the
                                                        snapshot's */
    double hours_over;
    double x, y;
} circle;

static int cmp_circle(const void *a, const void *b) {
    const circle *p = a, *q = b;
    if (p->severity != q->severity) {
        return p->severity < q->severity ? -1 : 1;
    }
    return (p->id > q->id) - (p->id < q->id);
}

/* Where dots are drawn from, most severe last: (severity, id) as one key
 * where both fit it (severities 0 to 31, ids from 0), a row each. */
typedef struct dot_order {
    uint64_t key;
    size_t i;
} dot_order;

/* Whether dots are ordered by keys where they can be (a knob for tests,
 * which compare the two ways). */
static _Atomic bool keys_on = true;

void ht__render_set_dot_keys(bool on) {
    keys_on = on;
}

static bool order_key(const circle *c, uint64_t *key) {
    if (!keys_on || !(c->severity >= 0 && c->severity < 32 &&
                      c->severity == floor(c->severity) && c->id >= 0 &&
                      c->id < (int64_t)1 << 58)) {
        return false;
    }
    *key = (uint64_t)c->severity << 58 | (uint64_t)c->id;
    return true;
}

/* @o (@n) sorted by key, through @tmp (as many): a byte of the keys at a
 * time, only the bytes where they differ. */
static void sort_order(dot_order *o, dot_order *tmp, size_t n) {
    uint64_t differ = 0;
    for (size_t k = 1; k < n; k++) {
        differ |= o[k].key ^ o[0].key;
    }
    for (int b = 0; b < 64; b += 8) {
        if (!(differ >> b & 255)) {
            continue;
        }
        size_t at[256] = {0};
        for (size_t k = 0; k < n; k++) {
            at[o[k].key >> b & 255]++;
        }
        for (size_t v = 0, sum = 0; v < 256; v++) {
            size_t c = at[v];
            at[v] = sum;
            sum += c;
        }
        for (size_t k = 0; k < n; k++) {
            tmp[at[o[k].key >> b & 255]++] = o[k];
        }
        memcpy(o, tmp, n * sizeof *o);
    }
}

static incident_view circle_view(const circle *c) {
    return (incident_view){c->id,     c->category, c->major,     c->severity,
                           c->source, c->status,   c->hours_over};
}

/* The incidents of a circle layer inside the frame, from the index. */
typedef struct circles {
    frame *f;
    const ht_style_layer *l;
    circle *cs;
    size_t n, cap;
    bool failed;
    int64_t now; /* for hours_over */
} circles;

static void collect_circle(void *ud, double x, double y,
                           const ht_incident_view *iv) {
    circles *c = ud;
    circle e = {.id = iv->id,
                .severity = iv->severity,
                .category = iv->category,
                .major = iv->major,
                .source = ht_model_source_name(iv->source),
                .status = ht_model_state_name(iv->state),
                .hours_over = ht__render_hours_over(iv->late_at, c->now)};
    incident_view v = circle_view(&e);
    if (c->failed ||
        !ht_style_filter(c->l, c->f->zoom, ht__render_get_incident, &v)) {
        return;
    }
    if (ht_array_grow((void **)&c->cs, &c->cap, c->n + 1, sizeof *c->cs,
                      NULL) != HT_OK) {
        c->failed = true;
        return;
    }
    ht__render_to_px(c->f, x, y, &e.x, &e.y);
    c->cs[c->n++] = e;
}

/* ---- dots from masks ---- */

/* From this many dots in a picture on an image (a knob for tests). */
static _Atomic size_t masks_from = 1000;

void ht__render_set_dot_masks_from(size_t n) {
    masks_from = n;
}
/* Offsets a pixel is cut in, each way. */
#define SUB 4
/* Sizes (radius and ring) a picture keeps masks of. */
#define SIZES 8

typedef struct dot_size {
    double rad, sw;
    int c; /* the centre's pixel in a mask, each way */
    ht__mask disk[SUB * SUB], ring[SUB * SUB];
} dot_size;

typedef struct dot_masks {
    bool on;
    dot_size sizes[SIZES];
    size_t n;
    ht__over dr;
} dot_masks;

/* Whether masks draw on @cr as paths would: an image, no transformation. */
static bool masks_fit(cairo_t *cr) {
    cairo_matrix_t m;
    cairo_get_matrix(cr, &m);
    return cairo_surface_get_type(cairo_get_target(cr)) ==
               CAIRO_SURFACE_TYPE_IMAGE &&
           m.xx == 1 && m.yy == 1 && m.xy == 0 && m.yx == 0 && m.x0 == 0 &&
           m.y0 == 0;
}

static void masks_free(dot_masks *m) {
    for (size_t k = 0; k < m->n; k++) {
        for (int q = 0; q < SUB * SUB; q++) {
            ht__mask *ms[2] = {&m->sizes[k].disk[q], &m->sizes[k].ring[q]};
            for (int r = 0; r < 2; r++) {
                if (ms[r]->s) {
                    cairo_surface_destroy(ms[r]->s);
                }
                free(ms[r]->lo);
            }
        }
    }
    m->n = 0;
}

/* The coverage of a disk of @rad (or its ring of @sw) centred @c + @dx,
 * @c + @dy in a square of 2c + 1 pixels, as Cairo fills (strokes) it, into
 * @m; false when out of memory. */
static bool mask_of(const dot_size *d, double dx, double dy, bool ring,
                    ht__mask *m) {
    int size = 2 * d->c + 1;
    cairo_surface_t *s =
        cairo_image_surface_create(CAIRO_FORMAT_A8, size, size);
    cairo_t *cr = cairo_create(s);
    cairo_arc(cr, d->c + dx, d->c + dy, d->rad, 0, 2 * HT_PI);
    if (ring) {
        cairo_set_line_width(cr, d->sw);
        cairo_stroke(cr);
    } else {
        cairo_fill(cr);
    }
    cairo_destroy(cr);
    if (!ht__mask_init(m, s)) {
        cairo_surface_destroy(s);
        return false;
    }
    return true;
}

/* A dot at (@x, @y) from masks, its centre moved to the nearest quarter
 * of a pixel; false when it cannot be (too many sizes, no memory): draw
 * it as a path then. */
static bool dot_masked(cairo_t *cr, dot_masks *m, double x, double y,
                       double rad, double sw, ht_rgba fill, ht_rgba ring,
                       double op) {
    dot_size *d = NULL;
    for (size_t k = 0; k < m->n && !d; k++) {
        d = m->sizes[k].rad == rad && m->sizes[k].sw == sw ? &m->sizes[k]
                                                           : NULL;
    }
    if (!d && (m->n == SIZES || !(rad + sw < 64))) {
        return false;
    }
    if (!d) {
        d = &m->sizes[m->n++];
        *d = (dot_size){.rad = rad, .sw = sw, .c = (int)ceil(rad + sw) + 2};
    }
    double qx = floor(x * SUB + 0.5), qy = floor(y * SUB + 0.5);
    double px = floor(qx / SUB), py = floor(qy / SUB);
    int q = (int)(qx - px * SUB) * SUB + (int)(qy - py * SUB);
    double dx = (qx - px * SUB) / SUB, dy = (qy - py * SUB) / SUB;
    if (!d->disk[q].s && !mask_of(d, dx, dy, false, &d->disk[q])) {
        return false;
    }
    if (sw > 0 && !d->ring[q].s && !mask_of(d, dx, dy, true, &d->ring[q])) {
        return false;
    }
    if (m->dr.on) {
        if (!(fabs(px) < 1 << 20 && fabs(py) < 1 << 20)) {
            return true; /* far off the picture */
        }
        ht__over_mask(&m->dr, &d->disk[q], (int)px - d->c, (int)py - d->c, fill,
                      op);
        if (sw > 0) {
            ht__over_mask(&m->dr, &d->ring[q], (int)px - d->c, (int)py - d->c,
                          ring, op);
        }
        return true;
    }
    ht__render_set_color(cr, fill, op);
    cairo_mask_surface(cr, d->disk[q].s, px - d->c, py - d->c);
    if (sw > 0) {
        ht__render_set_color(cr, ring, op);
        cairo_mask_surface(cr, d->ring[q].s, px - d->c, py - d->c);
    }
    return true;
}

ht_status ht__render_dots(frame *f, const ht_style_layer *l) {
    if ((!f->r->store && !f->r->index) || l->source != HT_SOURCE_INCIDENTS) {
        return HT_OK;
    }
    ht_status st = ht__render_ensure_index(f->r, f->err);
    ht_index_filter *q = NULL;
    if (st == HT_OK && f->req->filter) {
        st = ht_index_filter_new(f->r->index, f->req->filter, &q, f->err);
    }
    if (st != HT_OK) {
        return st;
    }
    /* The request's filter, like the heat: the dots are the incidents the
     * rest of the picture counts. */
    circles c = {.f = f, .l = l, .now = ht_clock_now()};
    size_t bytes;
    /* (the arrays of the last picture: fresh, every page faulted) */
    c.cs = ht__pool_take(HT__POOL_DOTS, 0, SIZE_MAX, &bytes);
    c.cap = bytes / sizeof *c.cs;
    ht_index_visit(f->r->index, q, &f->query, collect_circle, &c);
    ht_index_filter_free(q);
    circle *cs = c.cs;
    size_t n = c.n;
    /* The most severe on top: by their keys (two arrays of the dots'
     * order), else their circles sorted. */
    dot_order *ord = NULL;
    size_t ord_bytes = 0;
    if (!c.failed && n > 1) {
        ord = ht__pool_take(HT__POOL_DOT_ORDER, 2 * n * sizeof *ord, SIZE_MAX,
                            &ord_bytes);
        if (!ord) {
            ord_bytes = 2 * n * sizeof *ord;
            ord = malloc(ord_bytes);
            c.failed = !ord;
        }
        for (size_t i = 0; ord && i < n; i++) {
            ord[i].i = i;
            if (!order_key(&cs[i], &ord[i].key)) {
                ht__pool_give(HT__POOL_DOT_ORDER, ord, ord_bytes);
                ord = NULL;
                qsort(cs, n, sizeof *cs, cmp_circle);
            }
        }
        if (ord) {
            sort_order(ord, ord + n, n);
        }
    }
    if (c.failed) {
        ht__pool_give(HT__POOL_DOT_ORDER, ord, ord_bytes);
        ht__pool_give(HT__POOL_DOTS, cs, c.cap * sizeof *cs);
        return ht_error_set(f->err, HT_ENOMEM, "out of memory");
    }
    double s = f->req->scale;
    dot_masks masks = {.on = n >= masks_from && masks_fit(f->cr)};
    masks.dr.on = masks.on && ht__over_begin(f->cr, &masks.dr);
    /* What no incident changes (zoom-only properties), read once. */
    const bool *once = l->zoom_only;
    double rad1 =
        once[HT_P_CIRCLE_RADIUS]
            ? ht_style_number(l, HT_P_CIRCLE_RADIUS, f->zoom, NULL, NULL) * s
            : 0;
    double op1 =
        once[HT_P_CIRCLE_OPACITY]
            ? ht_style_number(l, HT_P_CIRCLE_OPACITY, f->zoom, NULL, NULL)
            : 0;
    double sw1 = once[HT_P_CIRCLE_STROKE_WIDTH]
                     ? ht_style_number(l, HT_P_CIRCLE_STROKE_WIDTH, f->zoom,
                                       NULL, NULL) *
                           s
                     : 0;
    ht_rgba fill1 =
        once[HT_P_CIRCLE_COLOR]
            ? ht_style_color(l, HT_P_CIRCLE_COLOR, f->zoom, NULL, NULL)
            : (ht_rgba){0};
    ht_rgba ring1 =
        once[HT_P_CIRCLE_STROKE_COLOR]
            ? ht_style_color(l, HT_P_CIRCLE_STROKE_COLOR, f->zoom, NULL, NULL)
            : (ht_rgba){0};
    for (size_t k = 0; st == HT_OK && k < n; k++) {
        size_t i = ord ? ord[k].i : k;
        incident_view view = circle_view(&cs[i]);
        const incident_view *v = &view;
        double rad = once[HT_P_CIRCLE_RADIUS]
                         ? rad1
                         : ht_style_number(l, HT_P_CIRCLE_RADIUS, f->zoom,
                                           ht__render_get_incident, v) *
                               s;
        double op = once[HT_P_CIRCLE_OPACITY]
                        ? op1
                        : ht_style_number(l, HT_P_CIRCLE_OPACITY, f->zoom,
                                          ht__render_get_incident, v);
        double sw = once[HT_P_CIRCLE_STROKE_WIDTH]
                        ? sw1
                        : ht_style_number(l, HT_P_CIRCLE_STROKE_WIDTH, f->zoom,
                                          ht__render_get_incident, v) *
                              s;
        if (!isfinite(cs[i].x) || rad <= 0) {
            continue;
        }
        ht_rgba fill = once[HT_P_CIRCLE_COLOR]
                           ? fill1
                           : ht_style_color(l, HT_P_CIRCLE_COLOR, f->zoom,
                                            ht__render_get_incident, v);
        ht_rgba ring =
            sw <= 0 ? fill
            : once[HT_P_CIRCLE_STROKE_COLOR]
                ? ring1
                : ht_style_color(l, HT_P_CIRCLE_STROKE_COLOR, f->zoom,
                                 ht__render_get_incident, v);
        if (masks.on && dot_masked(f->cr, &masks, cs[i].x, cs[i].y, rad, sw,
                                   fill, ring, op)) {
            continue;
        }
        ht__over_settle(&masks.dr);
        cairo_new_path(f->cr);
        cairo_arc(f->cr, cs[i].x, cs[i].y, rad, 0, 2 * HT_PI);
        ht__render_set_color(f->cr, fill, op);
        if (sw > 0) {
            cairo_fill_preserve(f->cr);
            cairo_set_line_width(f->cr, sw);
            ht__render_set_color(f->cr, ring, op);
            cairo_stroke(f->cr);
        } else {
            cairo_fill(f->cr);
        }
    }
    ht__over_settle(&masks.dr);
    masks_free(&masks);
    ht__pool_give(HT__POOL_DOT_ORDER, ord, ord_bytes);
    ht__pool_give(HT__POOL_DOTS, cs, c.cap * sizeof *cs);
    return st;
}
