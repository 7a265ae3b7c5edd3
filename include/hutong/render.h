/* SPDX-License-Identifier: Apache-2.0 */
/* Drawing styled layers of grids, streets and incidents with Cairo. */
#ifndef HUTONG_RENDER_H
#define HUTONG_RENDER_H

#include <cairo.h>

#include "hutong/analysis.h"
#include "hutong/buf.h"
#include "hutong/error.h"
#include "hutong/features.h"
#include "hutong/filter.h"
#include "hutong/geom.h"
#include "hutong/heat.h"
#include "hutong/index.h"
#include "hutong/store.h"
#include "hutong/style.h"

/** Largest image side, in device pixels. */
#define HT_RENDER_MAX_SIZE 16384

/** Which of a style's layers a request draws. */
typedef enum ht_render_layers {
    HT_RENDER_ALL = 0,     /**< every layer */
    HT_RENDER_NO_LABELS,   /**< every layer but the symbol (text) layers */
    HT_RENDER_LABELS_ONLY, /**< the symbol layers alone, on transparency:
                              labels to lay over a heat layer */
} ht_render_layers;

/** What to draw. */
typedef struct ht_render_req {
    const ht_style *style;
    ht_bbox bbox;            /**< in @crs units, x,y (easting, northing) */
    const char *crs;         /**< NULL or "EPSG:3857": Web Mercator */
    int width, height;       /**< device pixels, 1..HT_RENDER_MAX_SIZE */
    double scale;            /**< device pixels per CSS pixel: 1, 2 for @2x */
    const ht_filter *filter; /**< incidents drawn and counted; NULL: all */
    bool transparent;        /**< skip the style's background layers */
    /** draw only inside this grid (a reader's area; outside stays
     * transparent); NULL: everywhere */
    const char *clip_grid;
    ht_render_layers layers; /**< 0: all of them */
    /** boxes (device pixels, y down) that labels keep clear of: text the
     * caller draws over the map; may be NULL */
    const ht_bbox *avoid;
    size_t navoid;
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
 * Move @r on to snapshot @ix, which differs from the one it holds only in
 * the incidents @ids (added, changed or removed): its density grids are
 * updated in place (only the nodes within a radius of the changes move),
 * its other aggregates dropped. Without a snapshot yet, as
 * ht_renderer_set_index.
 */
void ht_renderer_advance(ht_renderer *r, ht_index *ix, const int64_t *ids,
                         size_t n);

/**
 * Use @ix (a reference is taken) for incident layers, heat maps in
 * particular; without one, the renderer loads its own from the store the
 * first time it needs it. Cached heat grids are dropped.
 */
void ht_renderer_set_index(ht_renderer *r, ht_index *ix);

/**
 * Density grids per class for @r to sum its heat maps from, shared with
 * the process's other renderers (borrowed: it must outlive @r; NULL: none,
 * every grid built). The filters they do not serve are built as before.
 */
void ht_renderer_set_atlases(ht_renderer *r, ht_heat_atlases *atlases);

/**
 * The heatmap options (radius, kernel, weight) of layer @l: for a caller
 * preparing atlases. HT_EINVAL for a bad kernel.
 */
ht_status ht_render_heat_opts(const ht_style_layer *l, ht_heat_opts *o,
                              ht_error *err);

/**
 * The snapshot @r draws incidents from (loaded from its store the first
 * time), borrowed: take a reference to share it with another renderer.
 * HT_EINVAL for a renderer with neither a store nor a snapshot.
 */
ht_status ht_renderer_index(ht_renderer *r, ht_index **out, ht_error *err);

/**
 * The top of the colour scale of heatmap layer @l under @filter, in
 * incidents/km2: heatmap-scale when the style fixes it, else the `auto`
 * scale of the whole filtered dataset (the same for every tile, zoom and
 * image). Builds (and caches) the layer's density grid.
 */
ht_status ht_render_heat_top(ht_renderer *r, const ht_style *style,
                             const ht_style_layer *l, const ht_filter *filter,
                             double *top, ht_error *err);

/**
 * The street heat (incidents per street segment and per 100 m) of the
 * incidents passing @filter (NULL: all), computed once per filter and
 * kept up to date by the renderer; *out is borrowed until the renderer
 * moves on to another snapshot.
 */
ht_status ht_render_street_heat(ht_renderer *r, const ht_filter *filter,
                                const ht_street_heat **out, ht_error *err);

/** Size of the legend image of @style (one bar per heatmap layer). */
void ht_render_legend_size(const ht_style *style, double scale, int *w, int *h);

/** Whether @style has a layer with a legend in real units (heatmap,
 * street-heat, choropleth, hotspot). */
bool ht_render_style_has_legend(const ht_style *style);

/**
 * Draw the legend of every heat layer of @style for @filter, in real
 * units: heatmap and street-heat ramps with ticks (incidents/km2,
 * incidents per 100 m of street), choropleth classes with their bounds
 * and unit, hotspot confidence classes. HT_EINVAL when the style has none
 * of these layers.
 */
ht_status ht_render_legend(ht_renderer *r, const ht_style *style,
                           const ht_filter *filter, double scale, cairo_t *cr,
                           ht_error *err);

/**
 * The style zoom of a request: for EPSG:3857, the zoom whose 256 px tiles
 * have this resolution (a 512 px @2x tile of zoom z draws at zoom z); for
 * other CRSs, the zoom of the same ground resolution at the box's centre.
 * HT_EINVAL for an empty box, a bad size or an unknown CRS.
 */
ht_status ht_render_zoom(ht_renderer *r, const ht_render_req *req, double *zoom,
                         ht_error *err);

/**
 * The box of grid @code in @crs (NULL: EPSG:3857), padded by 5 % and
 * widened to the shape of a @w x @h image. HT_EINVAL for an unknown grid
 * or CRS.
 */
ht_status ht_render_fit_grid(const ht_features *features, const char *code,
                             const char *crs, int w, int h, ht_bbox *out,
                             ht_error *err);

/**
 * How far (EPSG:3857 metres) beyond @req's box (EPSG:3857) an incident
 * may be and still change the image, through the style's incident layers
 * (markers, labels, densities); negative when no layer draws incidents
 * one by one. Aggregates are ht_render_fingerprint's.
 */
double ht_render_reach(const ht_render_req *req);

/**
 * A hash of what the image of @req takes from the whole dataset rather
 * than from the incidents within its reach: the colour scales of its heat
 * layers, the rates of the streets and the classes of the grids its
 * street-heat, choropleth and hotspot layers draw. Two renders of one
 * request with equal fingerprints and no incident changed within the
 * reach draw the same pixels. Builds the aggregates the render needs.
 */
ht_status ht_render_fingerprint(ht_renderer *r, const ht_render_req *req,
                                uint64_t *out, ht_error *err);

/**
 * Draw @req onto @cr, whose target is @req->width x @req->height device
 * pixels (any Cairo surface: image, SVG, PDF). Layers in style order;
 * labels never overlap each other and are never cut by the image edge.
 * HT_EINVAL for a bad request (named), HT_EDB/HT_ERENDER on failures.
 */
ht_status ht_render(ht_renderer *r, const ht_render_req *req, cairo_t *cr,
                    ht_error *err);

/** The image formats ht_render_to_buf writes. */
typedef enum ht_image_format {
    HT_IMAGE_PNG = 0,
    HT_IMAGE_PDF,
    HT_IMAGE_SVG,
    HT_IMAGE_JPEG, /**< flattened on the background (white without one) */
    HT_IMAGE_WEBP, /**< lossy, its alpha kept */
    HT_IMAGE_PNG8  /**< PNG of a palette of 256 at most (colours reduced) */
} ht_image_format;

/** The format of a file extension or a name ("png", "pdf", "svg", "jpg"
 * or "jpeg", "webp", "png8"); HT_EINVAL names anything else. */
ht_status ht_image_format_parse(const char *ext, ht_image_format *out,
                                ht_error *err);

/** The media type of @fmt ("image/png"...). */
const char *ht_image_format_mime(ht_image_format fmt);

/** Whether @fmt is drawn in pixels (PNG, PNG8, JPEG, WebP). */
bool ht_image_format_is_raster(ht_image_format fmt);

/** @surf (an ARGB32 image surface) appended to @out in @fmt, a raster
 * format (HT_EINVAL for another): JPEG flattened on @background, white
 * when NULL. On error @out is left as it was. */
ht_status ht_image_encode(cairo_surface_t *surf, ht_image_format fmt,
                          const ht_rgba *background, ht_buf *out,
                          ht_error *err);

/**
 * Draw the @n requests (n >= 1, of the first's size) one over the other —
 * on @background when it is not NULL, else transparent — into a new image
 * of @fmt appended to @out: PNG through ht_png_encode (@req->width x
 * height device pixels), PDF and SVG through Cairo's vector surfaces (one
 * point a pixel: lines and text stay vectors). The one way every command
 * and route makes an image. On error @out is left as it was; HT_EINVAL for
 * a bad request.
 */
ht_status ht_render_to_buf(ht_renderer *r, const ht_render_req *reqs, size_t n,
                           const ht_rgba *background, ht_image_format fmt,
                           ht_buf *out, ht_error *err);

/** A cairo_write_func_t appending to the ht_buf @closure. */
cairo_status_t ht_render_cairo_writer(void *closure, const unsigned char *data,
                                      unsigned int length);

/**
 * The legend of @style for @filter (ht_render_legend) as a PNG appended to
 * @out; a style without one gives an empty 1 x 1 image when @empty_ok,
 * else HT_EINVAL. On error @out is left as it was.
 */
ht_status ht_render_legend_to_buf(ht_renderer *r, const ht_style *style,
                                  const ht_filter *filter, double scale,
                                  bool empty_ok, ht_buf *out, ht_error *err);

#endif
