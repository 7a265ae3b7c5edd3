/* SPDX-License-Identifier: Apache-2.0 */
/* A GeoTIFF of one float band, by hand: the TIFF 6.0 baseline (one
 * uncompressed strip, little-endian), the GeoTIFF 1.1 keys of an EPSG
 * CRS, and GDAL's own tags for the band's unit and no-data value. */
#include "hutong/geotiff.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hutong/buf.h"

enum { T_ASCII = 2, T_SHORT = 3, T_LONG = 4, T_DOUBLE = 12 };

static void put16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v) {
    for (int k = 0; k < 4; k++) {
        p[k] = (uint8_t)(v >> (8 * k));
    }
}

static void put64(uint8_t *p, double d) {
    uint64_t v;
    memcpy(&v, &d, sizeof v);
    for (int k = 0; k < 8; k++) {
        p[k] = (uint8_t)(v >> (8 * k));
    }
}

static uint64_t data_bytes(const ht_geotiff *g) {
    return (uint64_t)g->ncols * g->nrows * 4;
}

static ht_status io_error(ht_error *err) {
    return ht_error_set(err, HT_EIO, "GeoTIFF: %s", strerror(errno));
}

ht_status ht_geotiff_begin(FILE *f, const ht_geotiff *g, ht_error *err) {
    if (g->ncols == 0 || g->nrows == 0 || g->ncols > UINT32_MAX ||
        data_bytes(g) > (uint64_t)UINT32_MAX - (1u << 20)) {
        return ht_error_set(err, HT_EINVAL,
                            "GeoTIFF: %zu x %zu cells: none, or past 4 GiB",
                            g->ncols, g->nrows);
    }
    uint8_t h[8] = {'I', 'I'};
    put16(h + 2, 42);
    put32(h + 4, (uint32_t)(8 + data_bytes(g))); /* the directory, after */
    return fwrite(h, 1, sizeof h, f) == sizeof h ? HT_OK : io_error(err);
}

ht_status ht_geotiff_row(FILE *f, const float *row, size_t ncols,
                         ht_error *err) {
    uint8_t buf[4096];
    size_t n = 0;
    for (size_t i = 0; i < ncols; i++) {
        uint32_t v;
        memcpy(&v, &row[i], sizeof v);
        put32(buf + n, v);
        n += 4;
        if (n == sizeof buf || i + 1 == ncols) {
            if (fwrite(buf, 1, n, f) != n) {
                return io_error(err);
            }
            n = 0;
        }
    }
    return HT_OK;
}

ht_status ht_geotiff_end(FILE *f, const ht_geotiff *g, ht_error *err) {
    enum { NTAGS = 16 };
    uint32_t ifd = (uint32_t)(8 + data_bytes(g));
    /* What does not fit in an entry, after the directory. */
    uint32_t extra = ifd + 2 + NTAGS * 12 + 4;
    ht_buf *x = ht_buf_new(), *meta = ht_buf_new();
    if (!x || !meta) {
        ht_buf_free(x);
        ht_buf_free(meta);
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    uint8_t d[48];
    /* ModelPixelScale: x, y, z */
    uint32_t scale_at = extra + (uint32_t)x->len;
    put64(d, g->cell);
    put64(d + 8, g->cell);
    put64(d + 16, 0);
    ht_buf_append(x, d, 24, NULL);
    /* ModelTiepoint: raster (0, 0, 0) is the model's corner */
    uint32_t tie_at = extra + (uint32_t)x->len;
    double tie[6] = {0, 0, 0, g->x0, g->y0, 0};
    for (int k = 0; k < 6; k++) {
        put64(d + 8 * k, tie[k]);
    }
    ht_buf_append(x, d, 48, NULL);
    /* GeoKeyDirectory: version 1.1.0, the keys in order */
    uint16_t keys[] = {1,
                       1,
                       0,
                       4, /* header: four keys */
                       1024,
                       0,
                       1,
                       (uint16_t)(g->geographic ? 2 : 1),
                       1025,
                       0,
                       1,
                       1, /* PixelIsArea */
                       (uint16_t)(g->geographic ? 2048 : 3072),
                       0,
                       1,
                       (uint16_t)g->epsg,
                       (uint16_t)(g->geographic ? 2054 : 3076),
                       0,
                       1,
                       (uint16_t)(g->geographic ? 9102 : 9001)};
    size_t nkeys = sizeof keys / sizeof *keys;
    uint32_t keys_at = extra + (uint32_t)x->len;
    for (size_t k = 0; k < nkeys; k++) {
        put16(d, keys[k]);
        ht_buf_append(x, d, 2, NULL);
    }
    /* GDAL's metadata: the band's unit and description */
    ht_buf_appendf(meta, NULL, "<GDALMetadata>\n");
    if (g->unit) {
        ht_buf_appendf(meta, NULL, "  <Item name=\"UNIT\">");
        ht_buf_append_escaped(meta, g->unit, NULL);
        ht_buf_appendf(meta, NULL,
                       "</Item>\n  <Item name=\"UNITTYPE\" "
                       "sample=\"0\" role=\"unittype\">");
        ht_buf_append_escaped(meta, g->unit, NULL);
        ht_buf_appendf(meta, NULL, "</Item>\n");
    }
    if (g->description) {
        ht_buf_appendf(meta, NULL,
                       "  <Item name=\"DESCRIPTION\" sample=\"0\" "
                       "role=\"description\">");
        ht_buf_append_escaped(meta, g->description, NULL);
        ht_buf_appendf(meta, NULL, "</Item>\n");
    }
    ht_buf_appendf(meta, NULL, "</GDALMetadata>\n");
    uint32_t meta_at = extra + (uint32_t)x->len;
    ht_buf_append(x, meta->data, meta->len + 1, NULL); /* with its NUL */
    char nodata[32];
    int nl = snprintf(nodata, sizeof nodata, "%.9g", (double)g->nodata);
    uint32_t nodata_at = extra + (uint32_t)x->len;
    ht_buf_append(x, nodata, (size_t)nl + 1, NULL);
    struct {
        uint16_t tag, type;
        uint32_t count, value;
    } e[NTAGS] = {
        {256, T_LONG, 1, (uint32_t)g->ncols},
        {257, T_LONG, 1, (uint32_t)g->nrows},
        {258, T_SHORT, 1, 32},
        {259, T_SHORT, 1, 1}, /* no compression */
        {262, T_SHORT, 1, 1}, /* black is zero */
        {273, T_LONG, 1, 8},  /* the strip */
        {277, T_SHORT, 1, 1},
        {278, T_LONG, 1, (uint32_t)g->nrows},
        {279, T_LONG, 1, (uint32_t)data_bytes(g)},
        {284, T_SHORT, 1, 1},
        {339, T_SHORT, 1, 3}, /* IEEE floats */
        {33550, T_DOUBLE, 3, scale_at},
        {33922, T_DOUBLE, 6, tie_at},
        {34735, T_SHORT, (uint32_t)nkeys, keys_at},
        {42112, T_ASCII, (uint32_t)meta->len + 1, meta_at},
        {42113, T_ASCII, (uint32_t)nl + 1, nodata_at},
    };
    uint8_t dir[2 + NTAGS * 12 + 4];
    put16(dir, NTAGS);
    for (int k = 0; k < NTAGS; k++) {
        uint8_t *p = dir + 2 + 12 * k;
        put16(p, e[k].tag);
        put16(p + 2, e[k].type);
        put32(p + 4, e[k].count);
        if (e[k].type == T_SHORT && e[k].count == 1) {
            put16(p + 8, (uint16_t)e[k].value); /* left-justified */
            put16(p + 10, 0);
        } else {
            put32(p + 8, e[k].value);
        }
    }
    put32(dir + 2 + NTAGS * 12, 0); /* no next directory */
    ht_status st = fwrite(dir, 1, sizeof dir, f) == sizeof dir &&
                           fwrite(x->data, 1, x->len, f) == x->len
                       ? HT_OK
                       : io_error(err);
    ht_buf_free(x);
    ht_buf_free(meta);
    return st;
}
