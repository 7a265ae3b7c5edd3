/* SPDX-License-Identifier: Apache-2.0 */
/* Drawing styled layers of grids, streets and incidents with Cairo. */
#ifndef HUTONG_RENDER_H
#define HUTONG_RENDER_H

#include <cairo.h>

#include "hutong/error.h"
#include "hutong/features.h"
#include "hutong/geom.h"
#include "hutong/store.h"
#include "hutong/style.h"

/** Largest image side, in device pixels. */
#define HT_RENDER_MAX_SIZE 16384

/** What to draw. */
typedef struct ht_render_req {
    const ht_style *style;
    ht_bbox bbox;      /**< in @crs units, x,y (easting, northing) */
    const char *crs;   /**< NULL or "EPSG:3857": Web Mercator */
    int width, height; /**< device pixels, 1..HT_RENDER_MAX_SIZE */
    double scale;      /**< device pixels per CSS pixel: 1, 2 for @2x */
} ht_render_req;

/**
 * A renderer: fonts, a glyph cache and transforms for one thread. It reads
 * the shared, immutable features (grids, streets) and, for incident
 * layers, its own store connection (may be NULL: no incidents drawn).
 */
typedef struct ht_renderer ht_renderer;

/** Create a renderer. Borrows @store and @features, which must outlive it. */
ht_status ht_renderer_new(ht_store *store, const ht_features *features,
                          ht_renderer **out, ht_error *err);

/** Free @r; NULL is a no-op. */
void ht_renderer_free(ht_renderer *r);

/**
 * The style zoom of a request: for EPSG:3857, the zoom whose 256 px tiles
 * have this resolution (a 512 px @2x tile of zoom z draws at zoom z); for
 * other CRSs, the zoom of the same ground resolution at the box's centre.
 * HT_EINVAL for an empty box, a bad size or an unknown CRS.
 */
ht_status ht_render_zoom(ht_renderer *r, const ht_render_req *req, double *zoom,
                         ht_error *err);

/**
 * Draw @req onto @cr, whose target is @req->width x @req->height device
 * pixels (any Cairo surface: image, SVG, PDF). Layers in style order;
 * labels never overlap each other and are never cut by the image edge.
 * HT_EINVAL for a bad request (named), HT_EDB/HT_ERENDER on failures.
 */
ht_status ht_render(ht_renderer *r, const ht_render_req *req, cairo_t *cr,
                    ht_error *err);

#endif
