/* SPDX-License-Identifier: Apache-2.0 */
/* JPEG through TurboJPEG: Cairo's RGB24 is B, G, R, X in memory on a
 * little-endian machine and X, R, G, B on a big-endian one. */
#include "hutong/jpeg.h"

#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

static ht_status encode(cairo_surface_t *s, int quality, unsigned char **jpg,
                        unsigned long *len, ht_error *err) {
    if (cairo_surface_get_type(s) != CAIRO_SURFACE_TYPE_IMAGE ||
        cairo_image_surface_get_format(s) != CAIRO_FORMAT_RGB24) {
        return ht_error_set(err, HT_EINVAL, "JPEG needs an RGB24 image");
    }
    if (quality < 1 || quality > 100) {
        return ht_error_set(err, HT_EINVAL, "JPEG quality %d outside 1..100",
                            quality);
    }
    cairo_surface_flush(s);
    tjhandle tj = tjInitCompress();
    if (!tj) {
        return ht_error_set(err, HT_ENOMEM, "cannot start the JPEG encoder");
    }
    const unsigned one = 1;
    int pf = *(const unsigned char *)&one ? TJPF_BGRX : TJPF_XRGB;
    *jpg = NULL;
    *len = 0;
    int rc = tjCompress2(
        tj, cairo_image_surface_get_data(s), cairo_image_surface_get_width(s),
        cairo_image_surface_get_stride(s), cairo_image_surface_get_height(s),
        pf, jpg, len, TJSAMP_420, quality, TJFLAG_ACCURATEDCT);
    ht_status st = HT_OK;
    if (rc != 0) {
        st = ht_error_set(err, HT_ERENDER, "JPEG: %s", tjGetErrorStr2(tj));
        tjFree(*jpg);
        *jpg = NULL;
    }
    tjDestroy(tj);
    return st;
}

ht_status ht_jpeg_encode(cairo_surface_t *s, int quality, ht_buf *out,
                         ht_error *err) {
    unsigned char *jpg;
    unsigned long len;
    ht_status st = encode(s, quality, &jpg, &len, err);
    if (st == HT_OK) {
        st = ht_buf_append(out, jpg, len, err);
        tjFree(jpg);
    }
    return st;
}

static void release(void *p) {
    tjFree(p);
}

ht_status ht_jpeg_attach(cairo_surface_t *s, int quality, ht_error *err) {
    unsigned char *jpg;
    unsigned long len;
    ht_status st = encode(s, quality, &jpg, &len, err);
    if (st == HT_OK &&
        cairo_surface_set_mime_data(s, CAIRO_MIME_TYPE_JPEG, jpg, len, release,
                                    jpg) != CAIRO_STATUS_SUCCESS) {
        tjFree(jpg);
        st = ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    return st;
}
