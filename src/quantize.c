/* SPDX-License-Identifier: Apache-2.0 */
/* Colour reduction to a palette of 256 (median cut over the distinct
 * premultiplied colours, weighted by their pixels), for PNGs of 8 bits:
 * the fully transparent pixels keep an entry of their own, every pixel
 * takes its box's mean. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hutong/png.h"

/* Pixels a palette is chosen from at most (a larger image is sampled). */
#define SAMPLE (1u << 22)

typedef struct qcolor {
    uint32_t c; /* premultiplied ARGB */
    uint32_t n; /* its pixels */
} qcolor;

typedef struct qbox {
    size_t lo, hi; /* colours [lo, hi) */
    uint64_t n;
    int axis, range; /* the channel of the widest range (shift), its range */
} qbox;

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static int cmp_qcolor(const void *a, const void *b) {
    uint32_t x = ((const qcolor *)a)->c, y = ((const qcolor *)b)->c;
    return (x > y) - (x < y);
}

/* By one channel (its shift), a comparison each: qsort has no context. */
#define CMP_CHANNEL(name, shift)                            \
    static int name(const void *a, const void *b) {         \
        uint32_t x = ((const qcolor *)a)->c >> (shift)&255; \
        uint32_t y = ((const qcolor *)b)->c >> (shift)&255; \
        return (x > y) - (x < y);                           \
    }
CMP_CHANNEL(cmp_b, 0)
CMP_CHANNEL(cmp_g, 8)
CMP_CHANNEL(cmp_r, 16)
CMP_CHANNEL(cmp_a, 24)

static void measure(qbox *b, const qcolor *q) {
    int lo[4] = {255, 255, 255, 255}, hi[4] = {0, 0, 0, 0};
    b->n = 0;
    for (size_t i = b->lo; i < b->hi; i++) {
        for (int k = 0; k < 4; k++) {
            int v = (int)(q[i].c >> (8 * k) & 255);
            lo[k] = v < lo[k] ? v : lo[k];
            hi[k] = v > hi[k] ? v : hi[k];
        }
        b->n += q[i].n;
    }
    b->axis = 0;
    b->range = -1;
    for (int k = 0; k < 4; k++) {
        if (hi[k] - lo[k] > b->range) {
            b->range = hi[k] - lo[k];
            b->axis = 8 * k;
        }
    }
}

/* The count-weighted mean of box @b, rounded. */
static uint32_t mean(const qbox *b, const qcolor *q) {
    uint64_t s[4] = {0, 0, 0, 0};
    for (size_t i = b->lo; i < b->hi; i++) {
        for (int k = 0; k < 4; k++) {
            s[k] += (uint64_t)(q[i].c >> (8 * k) & 255) * q[i].n;
        }
    }
    uint32_t c = 0;
    for (int k = 0; k < 4; k++) {
        c |= (uint32_t)((s[k] + b->n / 2) / b->n) << (8 * k);
    }
    return c;
}

static uint32_t dist(uint32_t a, uint32_t b) {
    uint32_t d = 0;
    for (int k = 0; k < 32; k += 8) {
        int x = (int)(a >> k & 255) - (int)(b >> k & 255);
        d += (uint32_t)(x * x);
    }
    return d;
}

ht_status ht_png_quantize(cairo_surface_t *s, ht_error *err) {
    if (cairo_surface_get_type(s) != CAIRO_SURFACE_TYPE_IMAGE ||
        cairo_image_surface_get_format(s) != CAIRO_FORMAT_ARGB32) {
        return ht_error_set(err, HT_EINVAL, "quantizing needs an ARGB32 image");
    }
    cairo_surface_flush(s);
    int w = cairo_image_surface_get_width(s);
    int h = cairo_image_surface_get_height(s);
    int stride = cairo_image_surface_get_stride(s);
    unsigned char *data = cairo_image_surface_get_data(s);
    size_t npx = (size_t)w * (size_t)h, step = npx / SAMPLE + 1;
    uint32_t *px = malloc((npx / step + 1) * sizeof *px);
    if (!px) {
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    /* The sample's colours, sorted, then distinct with their counts. */
    size_t m = 0;
    for (size_t i = 0; i < npx; i += step) {
        px[m++] =
            ((const uint32_t *)(data + (i / (size_t)w) *
                                           (size_t)stride))[i % (size_t)w];
    }
    qsort(px, m, sizeof *px, cmp_u32);
    qcolor *q = malloc((m ? m : 1) * sizeof *q);
    if (!q) {
        free(px);
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    size_t nq = 0;
    bool clear = false; /* a fully transparent pixel: an entry of its own */
    for (size_t i = 0; i < m; i++) {
        if (px[i] >> 24 == 0) {
            clear = true;
        } else if (nq && q[nq - 1].c == px[i]) {
            q[nq - 1].n++;
        } else {
            q[nq++] = (qcolor){px[i], 1};
        }
    }
    free(px);
    int room = clear ? 255 : 256;
    if (nq <= (size_t)room && step == 1) {
        free(q);
        return HT_OK; /* (few enough already: the PNG is a palette) */
    }
    /* Median cut: the box of most pixels times range split at its
     * weighted median along its widest channel. */
    qbox box[256];
    int nb = 0;
    if (nq) {
        box[nb] = (qbox){0, nq, 0, 0, 0};
        measure(&box[nb++], q);
    }
    while (nb < room) {
        int best = -1;
        double score = 0;
        for (int k = 0; k < nb; k++) {
            double sc = (double)box[k].n * box[k].range;
            if (box[k].hi - box[k].lo > 1 && box[k].range > 0 && sc > score) {
                score = sc;
                best = k;
            }
        }
        if (best < 0) {
            break;
        }
        qbox *b = &box[best];
        int (*const by[4])(const void *, const void *) = {cmp_b, cmp_g, cmp_r,
                                                          cmp_a};
        qsort(q + b->lo, b->hi - b->lo, sizeof *q, by[b->axis / 8]);
        uint64_t half = 0;
        size_t cut = b->lo;
        while (cut < b->hi - 1 && half + q[cut].n <= b->n / 2) {
            half += q[cut++].n;
        }
        /* at a change of the channel's value nearest the median: equal
         * values never end in two boxes */
        uint32_t sh = (uint32_t)b->axis;
        size_t up = cut, down = cut;
        while (up < b->hi && up > b->lo &&
               (q[up].c >> sh & 255) == (q[up - 1].c >> sh & 255)) {
            up++;
        }
        while (down > b->lo &&
               (q[down].c >> sh & 255) == (q[down - 1].c >> sh & 255)) {
            down--;
        }
        cut =
            down > b->lo && (up >= b->hi || cut - down <= up - cut) ? down : up;
        cut = cut <= b->lo ? b->lo + 1 : cut >= b->hi ? b->hi - 1 : cut;
        box[nb] = (qbox){cut, b->hi, 0, 0, 0};
        b->hi = cut;
        measure(b, q);
        measure(&box[nb++], q);
    }
    uint32_t pal[256];
    for (int k = 0; k < nb; k++) {
        pal[k] = mean(&box[k], q);
        for (size_t i = box[k].lo; i < box[k].hi; i++) {
            q[i].n = (uint32_t)k; /* (the count is spent: its entry) */
        }
    }
    /* Each colour to its box's entry (sorted again to be searched); one
     * the sample missed, to the nearest. */
    qsort(q, nq, sizeof *q, cmp_qcolor);
    uint32_t last = 0, last_to = 0;
    bool have_last = false;
    for (int y = 0; y < h; y++) {
        uint32_t *row = (uint32_t *)(data + (size_t)y * (size_t)stride);
        for (int x = 0; x < w; x++) {
            uint32_t c = row[x];
            if (c >> 24 == 0) {
                row[x] = 0;
                continue;
            }
            if (have_last && c == last) {
                row[x] = last_to;
                continue;
            }
            size_t lo = 0, hi = nq;
            while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (q[mid].c < c) {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            uint32_t to = c; /* (no entry at all: as it is) */
            if (lo < nq && q[lo].c == c) {
                to = pal[q[lo].n];
            } else if (nb > 0) {
                to = pal[0];
                for (int k = 1; k < nb; k++) {
                    to = dist(pal[k], c) < dist(to, c) ? pal[k] : to;
                }
            }
            last = c;
            last_to = to;
            have_last = true;
            row[x] = to;
        }
    }
    free(q);
    cairo_surface_mark_dirty(s);
    return HT_OK;
}
