/* SPDX-License-Identifier: Apache-2.0 */
/* Circle layers: incidents as dots, the most severe on top. A layer of
 * many dots on an image composites each from two coverage masks (the disk
 * and its ring) cut once per size at a quarter of a pixel's offsets, where
 * a path a dot cost Cairo more than the rest of the tile. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "hutong/buf.h"
#include "hutong/clock.h"
#include "hutong/index.h"
#include "hutong/model.h"
#include "hutong/style.h"

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
    cairo_surface_t *disk[SUB * SUB], *ring[SUB * SUB];
} dot_size;

typedef struct dot_masks {
    bool on;
    dot_size sizes[SIZES];
    size_t n;
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
            if (m->sizes[k].disk[q]) {
                cairo_surface_destroy(m->sizes[k].disk[q]);
            }
            if (m->sizes[k].ring[q]) {
                cairo_surface_destroy(m->sizes[k].ring[q]);
            }
        }
    }
    m->n = 0;
}

/* The coverage of a disk of @rad (or its ring of @sw) centred @c + @dx,
 * @c + @dy in a square of 2c + 1 pixels, as Cairo fills (strokes) it. */
static cairo_surface_t *mask_of(const dot_size *d, double dx, double dy,
                                bool ring) {
    int size = 2 * d->c + 1;
    cairo_surface_t *m =
        cairo_image_surface_create(CAIRO_FORMAT_A8, size, size);
    cairo_t *cr = cairo_create(m);
    cairo_arc(cr, d->c + dx, d->c + dy, d->rad, 0, 2 * HT_PI);
    if (ring) {
        cairo_set_line_width(cr, d->sw);
        cairo_stroke(cr);
    } else {
        cairo_fill(cr);
    }
    cairo_destroy(cr);
    if (cairo_surface_status(m) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(m);
        return NULL;
    }
    return m;
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
    if (!d->disk[q] && !(d->disk[q] = mask_of(d, dx, dy, false))) {
        return false;
    }
    if (sw > 0 && !d->ring[q] && !(d->ring[q] = mask_of(d, dx, dy, true))) {
        return false;
    }
    ht__render_set_color(cr, fill, op);
    cairo_mask_surface(cr, d->disk[q], px - d->c, py - d->c);
    if (sw > 0) {
        ht__render_set_color(cr, ring, op);
        cairo_mask_surface(cr, d->ring[q], px - d->c, py - d->c);
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
    ht_index_visit(f->r->index, q, &f->query, collect_circle, &c);
    ht_index_filter_free(q);
    if (c.failed) {
        free(c.cs);
        return ht_error_set(f->err, HT_ENOMEM, "out of memory");
    }
    circle *cs = c.cs;
    size_t n = c.n;
    /* The most severe on top. */
    if (n > 1) { /* qsort(NULL, 0) is undefined */
        qsort(cs, n, sizeof *cs, cmp_circle);
    }
    double s = f->req->scale;
    dot_masks masks = {.on = n >= masks_from && masks_fit(f->cr)};
    for (size_t i = 0; st == HT_OK && i < n; i++) {
        incident_view view = circle_view(&cs[i]);
        const incident_view *v = &view;
        double rad = ht_style_number(l, HT_P_CIRCLE_RADIUS, f->zoom,
                                     ht__render_get_incident, v) *
                     s;
        double op = ht_style_number(l, HT_P_CIRCLE_OPACITY, f->zoom,
                                    ht__render_get_incident, v);
        double sw = ht_style_number(l, HT_P_CIRCLE_STROKE_WIDTH, f->zoom,
                                    ht__render_get_incident, v) *
                    s;
        if (!isfinite(cs[i].x) || rad <= 0) {
            continue;
        }
        ht_rgba fill = ht_style_color(l, HT_P_CIRCLE_COLOR, f->zoom,
                                      ht__render_get_incident, v);
        ht_rgba ring = sw > 0
                           ? ht_style_color(l, HT_P_CIRCLE_STROKE_COLOR,
                                            f->zoom, ht__render_get_incident, v)
                           : fill;
        if (masks.on && dot_masked(f->cr, &masks, cs[i].x, cs[i].y, rad, sw,
                                   fill, ring, op)) {
            continue;
        }
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
    masks_free(&masks);
    free(cs);
    return st;
}
