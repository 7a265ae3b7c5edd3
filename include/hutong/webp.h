/* SPDX-License-Identifier: Apache-2.0 */
/* WebP encoding of Cairo image surfaces (libwebp): lossy, with the alpha
 * channel kept when the image has one. */
#ifndef HUTONG_WEBP_H
#define HUTONG_WEBP_H

#include <cairo.h>

#include "hutong/buf.h"
#include "hutong/error.h"

/**
 * Append @s (a CAIRO_FORMAT_ARGB32 or RGB24 image surface) to @out as a
 * lossy WebP of @quality (1..100): with an alpha plane when a pixel is
 * not opaque. On error @out is left as it was: HT_EINVAL for another
 * format or quality, HT_ERENDER when the encoder fails.
 */
ht_status ht_webp_encode(cairo_surface_t *s, int quality, ht_buf *out,
                         ht_error *err);

#endif
