/* SPDX-License-Identifier: Apache-2.0 */
/* JPEG encoding of opaque Cairo image surfaces (libjpeg-turbo): rasters
 * embedded in PDF pages as they are. */
#ifndef HUTONG_JPEG_H
#define HUTONG_JPEG_H

#include <cairo.h>

#include "hutong/buf.h"
#include "hutong/error.h"

/**
 * Append @s (a CAIRO_FORMAT_RGB24 image surface) to @out as a baseline
 * JPEG of @quality (1..100), 4:2:0 chroma. On error @out is left as it
 * was: HT_EINVAL for another format or quality, HT_ERENDER when the
 * encoder fails.
 */
ht_status ht_jpeg_encode(cairo_surface_t *s, int quality, ht_buf *out,
                         ht_error *err);

/**
 * Give @s (RGB24) its JPEG encoding as mime data, so that a PDF surface
 * embeds those bytes (DCTDecode) instead of compressing the pixels again.
 * On error @s is unchanged.
 */
ht_status ht_jpeg_attach(cairo_surface_t *s, int quality, ht_error *err);

#endif
