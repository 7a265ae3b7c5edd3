/* SPDX-License-Identifier: Apache-2.0 */
/* The print module's internals, shared by print.c (atlases, cover, index,
 * output files) and print_page.c (an area's page and its parts). */
#ifndef HUTONG_PRINT_INT_H
#define HUTONG_PRINT_INT_H

#include <cairo.h>
#include <pango/pangocairo.h>
#include <stdio.h>

#include "hutong/crs.h"
#include "hutong/print.h"

/* Millimetres to points. */
#define HT__MM (72.0 / 25.4)

/* Text colours and the font of every printed word. */
#define HT__PRINT_FONT "Noto Sans CJK SC"

/* What drawing a page needs: the page in points on @cr. */
typedef struct ht__pctx {
    ht_renderer *r;
    ht_store *store;
    const ht_features *f;
    const ht_print_opts *o;
    cairo_t *cr;
    PangoLayout *layout;
    ht_transform *to_crs; /* EPSG:4326 -> the map's CRS; NULL: 3857 */
    double w_pt, h_pt;    /* the page */
    double u;             /* the paper's size against A4 (1, 1.41, 2 ..) */
    bool landscape;
    bool vector;       /* a PDF page (rasters embedded as JPEG) */
    int number, pages; /* this page, of all */
    char period[64];   /* "2026-11-01 – 2026-11-30" */
    char printed[16];  /* the print date */
    ht_error *err;
} ht__pctx;

/* A document being written: a PDF (streamed to a temporary file beside
 * its path) or a folder of PNG pages (made under a temporary name). */
typedef struct ht__pdoc {
    ht_print_format fmt;
    cairo_surface_t *pdf;
    const char *path;
    char tmp[4200]; /* "" when not written to a file */
    FILE *f;
    int werr; /* the first errno of a failed write */
    size_t pngs;
} ht__pdoc;

/* Check @o's DPI, paper and style. */
ht_status ht__print_check_opts(const ht_print_opts *o, ht_error *err);

/* Set up what every page shares (A4 portrait until a page sets its
 * size). */
ht_status ht__print_ctx_open(ht__pctx *c, ht_renderer *r, ht_store *store,
                             const ht_features *f, const ht_print_opts *o,
                             ht_error *err);

/* Start writing @path in @c's format (its first page sized as @c's). */
ht_status ht__print_doc_open(ht__pctx *c, ht__pdoc *d, const char *path);

/* Start page c->number at @c's size: c->cr and c->layout drawing on it;
 * *img is the page's image when writing PNG pages. */
ht_status ht__print_page_begin(ht__pctx *c, ht__pdoc *d, cairo_surface_t **img);

/* End the page begun (after @st, the drawing's outcome): shown on the PDF
 * or written as page-NNNN.png. Returns @st or the write's failure. */
ht_status ht__print_page_end(ht__pctx *c, ht__pdoc *d, cairo_surface_t *img,
                             ht_status st);

/* Finish @d: after @st == HT_OK renamed to its path, else nothing left
 * under either name. Returns @st or the failure to finish. */
ht_status ht__print_doc_close(ht__pctx *c, ht__pdoc *d, ht_status st);

/* @c's layout on its cairo_t: a point a unit, unhinted metrics. */
void ht__print_new_layout(ht__pctx *c);

/* Text in @b (points): @size pt, shrunk down to 70 % to fit the width,
 * then cut with an ellipsis; @align 0 left, 0.5 centre, 1 right; vertically
 * centred. Returns the box of the drawn text. */
ht_print_box ht__print_text(ht__pctx *c, ht_print_box b, const char *text,
                            double size, bool bold, double align, uint32_t rgb);

/* The width in points of @text at @size pt. */
double ht__print_text_width(ht__pctx *c, const char *text, double size,
                            bool bold);

/* Set up @c's page size (points) for @landscape on @o's paper. */
void ht__print_page_size(ht__pctx *c, bool landscape);

/* The map scale a map box of @w_pt x @h_pt needs to hold grid @g with a
 * margin (an unrounded denominator), and whether it sits better on a
 * landscape page (with HT_ORIENT_AUTO). */
ht_status ht__print_need_scale(ht__pctx *c, const ht_fgrid *g, bool landscape,
                               double *denominator, ht_error *err);

/* Draw the page of area @g at scale @denominator (0: its own, rounded).
 * Fills @page. */
ht_status ht__print_area_page(ht__pctx *c, const ht_fgrid *g,
                              double denominator, ht_print_page *page);

/* Draw @req (its bbox, crs, style) into the box @b of the page at the
 * options' DPI (capped so that no side passes HT_RENDER_MAX_SIZE); its
 * labels keep clear of the @navoid page boxes @avoid. */
ht_status ht__print_map(ht__pctx *c, ht_render_req req, ht_print_box b,
                        const ht_print_box *avoid, size_t navoid);

/* The heat layer @req under everything else in the box @b: drawn onto
 * white at the options' DPI and, on a PDF page, embedded as a JPEG. */
ht_status ht__print_heat(ht__pctx *c, ht_render_req req, ht_print_box b);

/* What lies under the labels in the map box @b showing @bbox (in @crs,
 * NULL: 3857): the base style without its labels and the options' layer —
 * a density raster under the base (its streets and boundaries stay
 * legible), street heat, choropleths and hotspots over it. */
ht_status ht__print_under(ht__pctx *c, const ht_bbox *bbox, const char *crs,
                          ht_print_box b);

/* A 3857 point on the page, for a map box @b showing @bbox of the CRS. */
void ht__print_to_page(ht__pctx *c, ht_print_box b, const ht_bbox *bbox,
                       double mx, double my, double *px, double *py);

/* The polygon @g (3857) as a path on the page. */
void ht__print_geom_path(ht__pctx *c, ht_print_box b, const ht_bbox *bbox,
                         const ht_geom *g);

/* Metres on the ground per unit of the map's CRS, east-west, at the
 * centre of @b (3857 box); and the grid convergence there (degrees). */
ht_status ht__print_ground_per_unit(ht__pctx *c, const ht_bbox *b, double *k,
                                    double *conv_deg, ht_error *err);

/* The scale as text and a bar of a round length in the slot @s, for a map
 * at 1:@denom; the bar's length on the ground and on paper. Returns the
 * box drawn in. */
ht_print_box ht__print_scalebar(ht__pctx *c, ht_print_box s, double denom,
                                double *len_m, double *len_pt);

/* A named street's incidents: all its segments together. */
typedef struct ht__street_rate {
    const char *name; /* borrowed from the features */
    double count, length_m;
} ht__street_rate;

/* The named streets (whose middle lies) in area @g — or, @g NULL, in the
 * 3857 box @box — with incidents passing @filter (its grid ignored), most
 * incidents per 100 m first (lengths under 50 m count as 50 m). *out
 * malloc'd. */
ht_status ht__print_top_streets(ht__pctx *c, const ht_fgrid *g,
                                const ht_bbox *box, const ht_filter *filter,
                                ht__street_rate **out, size_t *n);

/* @rgb (0xrrggbb) at alpha @a as @cr's source. */
void ht__print_rgb(cairo_t *cr, uint32_t rgb, double a);

/* "12.3%", or "–" for NAN. */
void ht__print_pct(double v, char *out, size_t size);

/* The world outside polygon @g (3857) veiled in white at @veil in the map
 * box @b showing @bbox, and @g's boundary stroked @width pt in @rgb. */
void ht__print_veil(ht__pctx *c, ht_print_box b, const ht_bbox *bbox,
                    const ht_geom *g, double veil, double width, uint32_t rgb);

/* @layer's legend for @filter in the slot @s (a CSS pixel 0.75 pt at
 * most); the box drawn in, empty for a style without one. */
ht_print_box ht__print_legend(ht__pctx *c, const ht_style *layer,
                              const ht_filter *filter, ht_print_box s);

/* "1:2,000" style thousands. */
void ht__print_thousands(double v, char *out, size_t size);

/* The footer line: period, print date, CRS, @extra, source; "n / N". */
ht_print_box ht__print_footer(ht__pctx *c, const char *extra);

#endif
