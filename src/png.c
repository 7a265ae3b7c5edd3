/* SPDX-License-Identifier: Apache-2.0 */
/* Fast, small PNG encoding of Cairo image surfaces. */
#include "hutong/png.h"

#include <png.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct sink {
    ht_buf *out;
    bool failed;
} sink;

static void write_cb(png_structp png, png_bytep data, png_size_t len) {
    sink *s = png_get_io_ptr(png);
    if (!s->failed && ht_buf_append(s->out, data, len, NULL) != HT_OK) {
        s->failed = true;
    }
}

static void flush_cb(png_structp png) {
    (void)png;
}

/* Distinct premultiplied ARGB values, up to 256, in a small hash. */
typedef struct palette {
    uint32_t key[1024];
    uint16_t index[1024];
    bool used[1024];
    uint32_t color[256];
    int n;
} palette;

/* The palette index of @c, adding it when @add; -1 when absent or full. */
static int pal_find(palette *p, uint32_t c, bool add) {
    size_t h = (size_t)((c * 2654435761u) >> 22);
    for (size_t i = 0; i < 1024; i++) {
        size_t slot = (h + i) & 1023;
        if (!p->used[slot]) {
            if (!add || p->n >= 256) {
                return -1;
            }
            p->used[slot] = true;
            p->key[slot] = c;
            p->index[slot] = (uint16_t)p->n;
            p->color[p->n] = c;
            return p->n++;
        }
        if (p->key[slot] == c) {
            return p->index[slot];
        }
    }
    return -1;
}

static void unpremultiply(uint32_t px, uint8_t out[4]) {
    uint32_t a = px >> 24;
    uint32_t r = px >> 16 & 255, g = px >> 8 & 255, b = px & 255;
    if (a == 0) {
        out[0] = out[1] = out[2] = out[3] = 0;
        return;
    }
    if (a < 255) {
        r = (r * 255 + a / 2) / a;
        g = (g * 255 + a / 2) / a;
        b = (b * 255 + a / 2) / a;
    }
    out[0] = (uint8_t)(r > 255 ? 255 : r);
    out[1] = (uint8_t)(g > 255 ? 255 : g);
    out[2] = (uint8_t)(b > 255 ? 255 : b);
    out[3] = (uint8_t)a;
}

ht_status ht_png_encode_with(cairo_surface_t *s, int level, int allow_palette,
                             ht_buf *out, ht_error *err) {
    if (cairo_surface_get_type(s) != CAIRO_SURFACE_TYPE_IMAGE ||
        cairo_image_surface_get_format(s) != CAIRO_FORMAT_ARGB32) {
        return ht_error_set(err, HT_EINVAL, "PNG needs an ARGB32 image");
    }
    cairo_surface_flush(s);
    int w = cairo_image_surface_get_width(s);
    int h = cairo_image_surface_get_height(s);
    int stride = cairo_image_surface_get_stride(s);
    const unsigned char *data = cairo_image_surface_get_data(s);
    /* Scan once: opaque? how many colours? */
    bool opaque = true;
    palette *pal = allow_palette ? calloc(1, sizeof *pal) : NULL;
    bool use_pal = pal != NULL;
    uint32_t prev = 0;
    bool have_prev = false;
    for (int y = 0; y < h; y++) {
        const uint32_t *row = (const uint32_t *)(data + (size_t)y * stride);
        for (int x = 0; x < w; x++) {
            opaque = opaque && (row[x] >> 24) == 255;
            /* Runs of one colour are the rule on maps: skip the lookup. */
            if (use_pal && !(have_prev && row[x] == prev)) {
                use_pal = pal_find(pal, row[x], true) >= 0;
                prev = row[x];
                have_prev = true;
            }
        }
    }
    size_t mark = out->len;
    sink sk = {out, false};
    png_structp png =
        png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    unsigned char *volatile row = NULL;
    uint8_t *volatile idx = NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, NULL);
        free(pal);
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(row);
        free(idx);
        free(pal);
        out->len = mark;
        out->data[mark] = 0;
        return ht_error_set(err, HT_ERENDER, "PNG encoding failed");
    }
    png_set_write_fn(png, &sk, write_cb, flush_cb);
    png_set_compression_level(png, level);
    if (use_pal) {
        /* Transparent entries first keep the tRNS chunk short. */
        uint32_t order[256];
        int n = 0;
        for (int pass = 0; pass < 2; pass++) {
            for (int i = 0; i < pal->n; i++) {
                bool trans = (pal->color[i] >> 24) < 255;
                if (trans == (pass == 0)) {
                    order[n++] = pal->color[i];
                }
            }
        }
        memset(pal->used, 0, sizeof pal->used);
        pal->n = 0;
        png_color colors[256];
        png_byte alpha[256];
        int ntrans = 0;
        for (int i = 0; i < n; i++) {
            pal_find(pal, order[i], true);
            uint8_t c[4];
            unpremultiply(order[i], c);
            colors[i] = (png_color){c[0], c[1], c[2]};
            alpha[i] = c[3];
            ntrans += c[3] < 255;
        }
        int depth = n <= 2 ? 1 : n <= 4 ? 2 : n <= 16 ? 4 : 8;
        png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth,
                     PNG_COLOR_TYPE_PALETTE, PNG_INTERLACE_NONE,
                     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
        png_set_PLTE(png, info, colors, n);
        if (ntrans) {
            png_set_tRNS(png, info, alpha, ntrans, NULL);
        }
        png_set_filter(png, 0, PNG_FILTER_NONE);
        png_write_info(png, info);
        idx = malloc((size_t)w);
        row = malloc((size_t)w);
        if (!idx || !row) {
            png_error(png, "out of memory");
        }
        for (int y = 0; y < h; y++) {
            const uint32_t *src = (const uint32_t *)(data + (size_t)y * stride);
            for (int x = 0; x < w; x++) {
                idx[x] = (uint8_t)pal_find(pal, src[x], false);
            }
            /* Pack to the bit depth, most significant bits first. */
            int per = 8 / depth;
            memset(row, 0, (size_t)w);
            for (int x = 0; x < w; x++) {
                row[x / per] |=
                    (unsigned char)(idx[x] << (8 - depth * (x % per + 1)));
            }
            png_write_row(png, row);
        }
    } else {
        int ch = opaque ? 3 : 4;
        png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8,
                     opaque ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_RGB_ALPHA,
                     PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                     PNG_FILTER_TYPE_DEFAULT);
        png_set_filter(png, 0, PNG_FILTER_SUB);
        png_write_info(png, info);
        row = malloc((size_t)w * 4);
        if (!row) {
            png_error(png, "out of memory");
        }
        for (int y = 0; y < h; y++) {
            const uint32_t *src = (const uint32_t *)(data + (size_t)y * stride);
            for (int x = 0; x < w; x++) {
                uint8_t c[4];
                unpremultiply(src[x], c);
                memcpy(row + (size_t)x * ch, c, (size_t)ch);
            }
            png_write_row(png, row);
        }
    }
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    free(row);
    free(idx);
    free(pal);
    if (sk.failed) {
        out->len = mark;
        out->data[mark] = 0;
        return ht_error_set(err, HT_ENOMEM, "out of memory for PNG");
    }
    return HT_OK;
}

ht_status ht_png_encode(cairo_surface_t *s, ht_buf *out, ht_error *err) {
    return ht_png_encode_with(s, HT_PNG_LEVEL, 1, out, err);
}
