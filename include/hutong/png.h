/* SPDX-License-Identifier: Apache-2.0 */
/* Fast, small PNG encoding of Cairo image surfaces. */
#ifndef HUTONG_PNG_H
#define HUTONG_PNG_H

#include <cairo.h>

#include "hutong/buf.h"
#include "hutong/error.h"

/** zlib level used for truecolour images, chosen by measurement (see the
 * README's PNG notes and bench/bench_render). */
#define HT_PNG_LEVEL 2

/**
 * Append @s (a CAIRO_FORMAT_ARGB32 image surface) to @out as PNG. The rule:
 * an image of at most 256 distinct colours is written as an 8-bit (or
 * smaller) palette PNG with transparency, losslessly; otherwise as RGB when
 * fully opaque, else RGBA, with the SUB filter at HT_PNG_LEVEL. Cairo's
 * premultiplied alpha is undone. On error @out is left as it was.
 */
ht_status ht_png_encode(cairo_surface_t *s, ht_buf *out, ht_error *err);

/** As ht_png_encode with an explicit zlib level (0..9) and whether a
 * palette may be used: for measurements. */
ht_status ht_png_encode_with(cairo_surface_t *s, int level, int allow_palette,
                             ht_buf *out, ht_error *err);

/**
 * Reduce @s (ARGB32) to at most 256 colours in place (median cut over its
 * distinct premultiplied colours; a large image's palette from a sample),
 * fully transparent pixels kept so: ht_png_encode then writes a palette
 * PNG ("image/png; mode=8bit"). HT_EINVAL for another format.
 */
ht_status ht_png_quantize(cairo_surface_t *s, ht_error *err);

#endif
