/* SPDX-License-Identifier: Apache-2.0 */
/* WebP through libwebp: Cairo's pixels are premultiplied native-endian
 * 32-bit words (A, R, G, B from the high byte down); WebP wants straight
 * R, G, B(, A) bytes. */
#include "hutong/webp.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <webp/encode.h>

ht_status ht_webp_encode(cairo_surface_t *s, int quality, ht_buf *out,
                         ht_error *err) {
    cairo_format_t f = cairo_image_surface_get_format(s);
    if (cairo_surface_get_type(s) != CAIRO_SURFACE_TYPE_IMAGE ||
        (f != CAIRO_FORMAT_ARGB32 && f != CAIRO_FORMAT_RGB24)) {
        return ht_error_set(err, HT_EINVAL,
                            "WebP needs an ARGB32 or RGB24 image");
    }
    if (quality < 1 || quality > 100) {
        return ht_error_set(err, HT_EINVAL, "WebP quality %d outside 1..100",
                            quality);
    }
    cairo_surface_flush(s);
    int w = cairo_image_surface_get_width(s);
    int h = cairo_image_surface_get_height(s);
    int stride = cairo_image_surface_get_stride(s);
    const unsigned char *data = cairo_image_surface_get_data(s);
    uint8_t *rgba = malloc((size_t)w * (size_t)h * 4);
    if (!rgba) {
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    bool opaque = true;
    for (int y = 0; y < h; y++) {
        const uint32_t *row = (const uint32_t *)(data + (size_t)y * stride);
        uint8_t *o = rgba + (size_t)y * (size_t)w * 4;
        for (int x = 0; x < w; x++, o += 4) {
            uint32_t p = row[x];
            unsigned a = f == CAIRO_FORMAT_RGB24 ? 255 : p >> 24;
            unsigned r = p >> 16 & 0xff, g = p >> 8 & 0xff, b = p & 0xff;
            if (a != 255) {
                opaque = false;
                /* straight from premultiplied, rounded */
                r = a ? (r * 255 + a / 2) / a : 0;
                g = a ? (g * 255 + a / 2) / a : 0;
                b = a ? (b * 255 + a / 2) / a : 0;
            }
            o[0] = (uint8_t)(r > 255 ? 255 : r);
            o[1] = (uint8_t)(g > 255 ? 255 : g);
            o[2] = (uint8_t)(b > 255 ? 255 : b);
            o[3] = (uint8_t)a;
        }
    }
    uint8_t *webp = NULL;
    size_t len;
    if (opaque) {
        /* the alpha plane dropped: RGB packed in place */
        for (size_t i = 0; i < (size_t)w * (size_t)h; i++) {
            rgba[3 * i] = rgba[4 * i];
            rgba[3 * i + 1] = rgba[4 * i + 1];
            rgba[3 * i + 2] = rgba[4 * i + 2];
        }
        len = WebPEncodeRGB(rgba, w, h, w * 3, (float)quality, &webp);
    } else {
        len = WebPEncodeRGBA(rgba, w, h, w * 4, (float)quality, &webp);
    }
    free(rgba);
    ht_status st = len ? ht_buf_append(out, webp, len, err)
                       : ht_error_set(err, HT_ERENDER,
                                      "WebP: the encoder failed (%dx%d)", w, h);
    WebPFree(webp);
    return st;
}
