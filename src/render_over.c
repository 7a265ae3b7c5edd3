/* SPDX-License-Identifier: Apache-2.0 */
/* Coverage masks composited over an image by hutong, pixel for pixel as
 * Cairo would (its solid colour over, through an 8-bit mask: pixman's
 * arithmetic), without Cairo's cost of a call: two patterns and a
 * composite's setup each, which at 20,000 dots a tile were most of it. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "render_int.h"

/* Whether masks are composited here when they can be (a knob for
 * tests), and the pictures that were. */
static _Atomic bool direct_on = true;
static _Atomic size_t direct_pictures = 0;

void ht__render_set_dots_direct(bool on) {
    direct_on = on;
}

size_t ht__render_dots_direct_pictures(void) {
    return direct_pictures;
}

/* Cairo turns a colour's channel (premultiplied, 0 to 1) into 16 bits and
 * an image's pixel keeps the top 8; how it rounds differs between its
 * versions. Which of two ways this Cairo takes is asked of it once, on
 * probes that tell them apart (none: masks go through Cairo). */
static int rounding = -1; /* 0: d × 65535 + ½; 1: d × 65536 less its
                             carry; 2: neither */
static pthread_once_t rounding_once = PTHREAD_ONCE_INIT;

static unsigned channel8(double d, int way) {
    d = d < 0 ? 0 : d > 1 ? 1 : d;
    if (way == 0) {
        return (unsigned)(uint16_t)(d * 65535.0 + 0.5) >> 8;
    }
    uint32_t i = (uint32_t)(d * 65536);
    return (uint16_t)(i - (i >> 16)) >> 8;
}

static uint32_t pixel_of(ht_rgba c, double op, int way) {
    double a = c.a * op;
    a = a < 0 ? 0 : a > 1 ? 1 : a;
    double r = c.r < 0 ? 0 : c.r > 1 ? 1 : c.r;
    double g = c.g < 0 ? 0 : c.g > 1 ? 1 : c.g;
    double b = c.b < 0 ? 0 : c.b > 1 ? 1 : c.b;
    return (uint32_t)channel8(a, way) << 24 |
           (uint32_t)channel8(r * a, way) << 16 |
           (uint32_t)channel8(g * a, way) << 8 | channel8(b * a, way);
}

static void find_rounding(void) {
    cairo_surface_t *px = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 1, 1);
    cairo_t *cr = cairo_create(px);
    cairo_set_operator(cr, CAIRO_OPERATOR_SOURCE);
    bool fits[2] = {true, true};
    for (int k = 0; k < 1024; k++) {
        /* every 256th (where the two differ) and values between */
        double v = k < 256 ? k / 256.0 : (double)((k * 7919) % 10007) / 10007;
        ht_rgba c = {v, 1 - v, (double)(k % 17) / 16, k % 3 ? 1 : v};
        double op = k % 5 ? 1 : 0.95;
        ht__render_set_color(cr, c, op);
        cairo_paint(cr);
        cairo_surface_flush(px);
        uint32_t got = *(const uint32_t *)cairo_image_surface_get_data(px);
        for (int w = 0; w < 2; w++) {
            fits[w] = fits[w] && pixel_of(c, op, w) == got;
        }
    }
    bool ok = cairo_status(cr) == CAIRO_STATUS_SUCCESS;
    cairo_destroy(cr);
    cairo_surface_destroy(px);
    rounding = !ok ? 2 : fits[0] ? 0 : fits[1] ? 1 : 2;
}

/* Each of @x's four channels × @a / 255, rounded as pixman does: two at
 * a time, 16 bits apart (x × a + 128 and its carry stay within them). */
static inline uint32_t mul_un8x4(uint32_t x, uint32_t a) {
    uint32_t rb = (x & 0xff00ff) * a + 0x800080;
    rb = ((rb + (rb >> 8 & 0xff00ff)) >> 8) & 0xff00ff;
    uint32_t ag = (x >> 8 & 0xff00ff) * a + 0x800080;
    ag = (ag + (ag >> 8 & 0xff00ff)) & 0xff00ff00;
    return rb | ag;
}

/* @src (premultiplied) through @mask's coverage over @dst's pixels, in
 * each row from @lo to @hi (where the coverage is). Over is s + d × (1 -
 * s's alpha): no channel passes 255 (s's are at most its alpha), so no
 * sum needs the saturation pixman gives it. */
static void over_masked(uint32_t *dst, size_t dstride, const uint8_t *mask,
                        size_t mstride, const uint8_t *lo, const uint8_t *hi,
                        int w, int h, uint32_t src) {
    if (!src) {
        return;
    }
    uint32_t ia_full = 255 - (src >> 24);
    for (int y = 0; y < h; y++) {
        uint32_t *d = (uint32_t *)((char *)dst + (size_t)y * dstride);
        const uint8_t *m = mask + (size_t)y * mstride;
        int x1 = hi[y] < w ? hi[y] : w;
        for (int x = lo[y]; x < x1; x++) {
            uint32_t cov = m[x];
            if (cov == 255) {
                d[x] = src + mul_un8x4(d[x], ia_full);
            } else if (cov) {
                uint32_t s = mul_un8x4(src, cov);
                d[x] = s + mul_un8x4(d[x], 255 - (s >> 24));
            }
        }
    }
}

bool ht__over_begin(cairo_t *cr, ht__over *dr) {
    *dr = (ht__over){0};
    cairo_surface_t *t = cairo_get_target(cr);
    cairo_matrix_t m;
    cairo_get_matrix(cr, &m);
    double ox, oy, sx, sy;
    cairo_surface_get_device_offset(t, &ox, &oy);
    cairo_surface_get_device_scale(t, &sx, &sy);
    if (!direct_on || cairo_get_group_target(cr) != t ||
        cairo_surface_get_type(t) != CAIRO_SURFACE_TYPE_IMAGE || m.xx != 1 ||
        m.yy != 1 || m.xy != 0 || m.yx != 0 || m.x0 != 0 || m.y0 != 0 ||
        cairo_image_surface_get_format(t) != CAIRO_FORMAT_ARGB32 ||
        cairo_get_operator(cr) != CAIRO_OPERATOR_OVER || ox != 0 || oy != 0 ||
        sx != 1 || sy != 1) {
        return false;
    }
    pthread_once(&rounding_once, find_rounding);
    if (rounding > 1) {
        return false;
    }
    cairo_rectangle_list_t *rl = cairo_copy_clip_rectangle_list(cr);
    bool one = rl->status == CAIRO_STATUS_SUCCESS && rl->num_rectangles == 1;
    if (one) {
        cairo_rectangle_t r = rl->rectangles[0];
        int w = cairo_image_surface_get_width(t);
        int h = cairo_image_surface_get_height(t);
        one = r.x == floor(r.x) && r.y == floor(r.y) &&
              r.width == floor(r.width) && r.height == floor(r.height) &&
              r.x >= 0 && r.y >= 0 && r.x + r.width <= w && r.y + r.height <= h;
        dr->x0 = one ? (int)r.x : 0;
        dr->y0 = one ? (int)r.y : 0;
        dr->x1 = one ? (int)(r.x + r.width) : 0;
        dr->y1 = one ? (int)(r.y + r.height) : 0;
    }
    cairo_rectangle_list_destroy(rl);
    if (!one) {
        return false;
    }
    cairo_surface_flush(t);
    dr->target = t;
    dr->data = (uint32_t *)(void *)cairo_image_surface_get_data(t);
    dr->stride = (size_t)cairo_image_surface_get_stride(t);
    dr->on = dr->data != NULL;
    direct_pictures += dr->on;
    return dr->on;
}

bool ht__mask_init(ht__mask *m, cairo_surface_t *s) {
    cairo_surface_flush(s);
    int size = cairo_image_surface_get_width(s);
    uint8_t *rows = malloc(2 * (size_t)(size > 0 ? size : 1));
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS ||
        cairo_image_surface_get_format(s) != CAIRO_FORMAT_A8 ||
        cairo_image_surface_get_height(s) != size || size < 1 || size > 255 ||
        !rows) {
        free(rows);
        return false;
    }
    *m = (ht__mask){.s = s,
                    .px = cairo_image_surface_get_data(s),
                    .stride = (size_t)cairo_image_surface_get_stride(s),
                    .size = size,
                    .lo = rows,
                    .hi = rows + size};
    for (int y = 0; y < size; y++) {
        const uint8_t *r = m->px + (size_t)y * m->stride;
        int lo = 0, hi = size;
        while (lo < size && !r[lo]) {
            lo++;
        }
        while (hi > lo && !r[hi - 1]) {
            hi--;
        }
        m->lo[y] = (uint8_t)lo;
        m->hi[y] = (uint8_t)hi;
    }
    return true;
}

void ht__over_mask(ht__over *dr, const ht__mask *m, int x, int y, ht_rgba c,
                   double op) {
    uint32_t src = pixel_of(c, op, rounding);
    int ax = x < dr->x0 ? dr->x0 : x, ay = y < dr->y0 ? dr->y0 : y;
    int bx = x + m->size > dr->x1 ? dr->x1 : x + m->size;
    int by = y + m->size > dr->y1 ? dr->y1 : y + m->size;
    if (ax >= bx || ay >= by) {
        return;
    }
    int cut = ax - x; /* the mask's columns left of the clip */
    uint8_t lo[256], hi[256];
    for (int r = ay - y; r < by - y; r++) {
        int a = m->lo[r] - cut, b = m->hi[r] - cut;
        lo[r] = (uint8_t)(a < 0 ? 0 : a);
        hi[r] = (uint8_t)(b < 0 ? 0 : b);
    }
    over_masked((uint32_t *)((char *)dr->data + (size_t)ay * dr->stride) + ax,
                dr->stride, m->px + (size_t)(ay - y) * m->stride + cut,
                m->stride, lo + (ay - y), hi + (ay - y), bx - ax, by - ay, src);
    dr->dirty = true;
}

void ht__over_settle(ht__over *dr) {
    if (dr->dirty) {
        cairo_surface_mark_dirty(dr->target);
        dr->dirty = false;
    }
}
