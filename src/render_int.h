/* SPDX-License-Identifier: Apache-2.0 */
/* The renderer's internals, shared by its files: render.c (the renderer,
 * projection, geometry layers, the entry points), render_label.c (labels
 * and the glyph cache's drawing), render_heat.c (density grids and the
 * per-filter aggregate cache), render_classed.c (street heat, choropleths,
 * hotspots, and what a tile depends on), render_legend.c (legends). */
#ifndef HUTONG_RENDER_INT_H
#define HUTONG_RENDER_INT_H

#include <pango/pangocairo.h>

#include "hutong/crs.h"
#include "hutong/heat.h"
#include "hutong/render.h"

#define GLYPH_CACHE 4096
#define HEAT_CACHE 4
#define AGG_CACHE 16
#define LUT 1024
#define DEFAULT_FONT "Noto Sans CJK SC"

/* A text drawn once as a path, centred on (0, 0), reused by translation. */
typedef struct glyph {
    char *text;
    int size_q; /* font size in quarter pixels */
    char *family;
    cairo_path_t *path;
    double w, h; /* logical size, device px */
} glyph;

struct ht_renderer {
    ht_store *store;
    const ht_features *features;
    PangoFontMap *fontmap;
    PangoContext *pango;
    cairo_surface_t *scratch_surface;
    cairo_t *scratch; /* where text is turned into paths */
    glyph *glyphs;    /* open-addressed hash of GLYPH_CACHE slots */
    size_t nglyphs;
    ht_transform *tf; /* EPSG:4326 -> the request's CRS, when not 3857 */
    char tf_crs[HT_CRS_NAME_SIZE];
    ht_transform *inv; /* the request's CRS -> EPSG:4326 */
    uint32_t *ids;     /* query results */
    size_t cap_ids;
    ht_index *index;
    ht_heat_atlases *atlases; /* shared, borrowed; NULL: none */
    int times_known;          /* 0 unknown, 1 none, 2 first/last hold */
    int64_t first, last;      /* report times of the index */
    struct heat_slot {
        char *key;
        ht_heat *heat;
        uint64_t used;
        ht_filter filter; /* what it was built under, for updates */
    } heats[HEAT_CACHE];
    uint64_t clock;
    struct agg_slot {
        char *key;
        void *data;
        void (*free)(void *);
        uint64_t used;
        /* Take in one incident as it was (@w -1) or is (+1); NULL: the
         * aggregate is dropped on a change instead. */
        void (*add)(ht_renderer *r, void *data, const ht_incident_view *v,
                    int w);
        /* After the adds; false: drop it. */
        bool (*settle)(void *data);
        ht_filter filter; /* the incidents it counts */
    } aggs[AGG_CACHE];
};

/* Per-render state. */
typedef struct frame {
    ht_renderer *r;
    const ht_render_req *req;
    cairo_t *cr;
    double zoom;
    bool merc;       /* the request is EPSG:3857: an affine map */
    double sx, sy;   /* device px per CRS unit */
    double res_m;    /* projected metres per device px (3857) */
    ht_bbox query;   /* EPSG:3857 box with a margin */
    ht_bbox *placed; /* label boxes placed so far */
    size_t nplaced, cap_placed;
    ht_error *err;
} frame;

typedef struct incident_view {
    int64_t id;
    const char *category;
    const char *major;
    double severity;
    const char *source;
    const char *status;
    double hours_over; /* past the deadline of its state now; 0 when not */
} incident_view;

/* Hours past @late_at (HT_TIME_NONE: never late) at @now; 0 when not
 * late. */
double ht__render_hours_over(int64_t late_at, int64_t now);

typedef struct text_paint {
    ht_rgba color, halo;
    double halo_w, opacity;
} text_paint;

/* Keep @data under @key; @add (may be NULL) and @settle keep it up to date
 * with changes, counting the incidents of @filter. */
typedef struct agg_kind {
    void (*free)(void *);
    void (*add)(ht_renderer *r, void *data, const ht_incident_view *v, int w);
    bool (*settle)(void *data);
} agg_kind;

/* Features of a grids or streets layer, filtered: their index, the item
 * and its property getter. */
typedef struct item {
    const void *p;
    const ht_geom *geom;
} item;

/* Values per grid and their classes, for a choropleth or hotspot layer. */
typedef struct classed {
    double *value; /* per features grid; NAN: not in the layer */
    double breaks[12];
    int k;
    ht_rgba colors[12];
} classed;

/* Shared by the renderer's files; each documented where it is defined. */
void ht__render_add_geom_path(frame *f, const ht_geom *g, bool close);
void *ht__render_agg_get(ht_renderer *r, const char *key);
void ht__render_agg_key(const ht_style *style, const ht_style_layer *l,
                        const ht_filter *filter, char *out, size_t size);
ht_status ht__render_agg_put(ht_renderer *r, const char *key, void *data,
                             const agg_kind *kind, const ht_filter *filter,
                             ht_error *err);
ht_status ht__render_classed_for(frame *f, const ht_style_layer *l, bool hot,
                                 const classed **out);
ht_status ht__render_draw_classed(frame *f, const ht_style_layer *l, bool hot);
void ht__render_draw_glyph(frame *f, const glyph *g, double x, double y,
                           const text_paint *tp);
ht_status ht__render_draw_heatmap(frame *f, const ht_style_layer *l);
ht_status ht__render_draw_street_heat(frame *f, const ht_style_layer *l);
ht_status ht__render_draw_symbols(frame *f, const ht_style_layer *l);
ht_status ht__render_ensure_index(ht_renderer *r, ht_error *err);
ht_status ht__render_frame_setup(frame *f, ht_error *err);
bool ht__render_get_chain(const void *p, const char *name, ht_value *out);
bool ht__render_get_grid(const void *p, const char *name, ht_value *out);
bool ht__render_get_street(const void *p, const char *name, ht_value *out);
ht_status ht__render_heat_scale(ht_renderer *r, const ht_style *style,
                                const ht_style_layer *l,
                                const ht_filter *filter, double *top,
                                double *per, ht_error *err);
bool ht__render_item_at(frame *f, const ht_style_layer *l, size_t i, item *it,
                        ht_style_get_fn *get);
ht_status ht__render_query(frame *f, ht_fkind kind, size_t *n);
void ht__render_set_color(cairo_t *cr, ht_rgba c, double opacity);

/* Draw circle layer @l: its incidents as dots (render_dots.c). */
ht_status ht__render_dots(frame *f, const ht_style_layer *l);

/* Dots from masks from @n dots in a picture on (1000); for tests. */
void ht__render_set_dot_masks_from(size_t n);
/* ---- masks composited by hutong (render_over.c) ---- */

/* An 8-bit coverage mask (a square of @size pixels, at most 255) and, per
 * row, where it is not 0 (from lo to hi). */
typedef struct ht__mask {
    cairo_surface_t *s;
    const uint8_t *px;
    size_t stride;
    int size;
    uint8_t *lo, *hi; /* one allocation: free(lo) */
} ht__mask;

/* @m of A8 square image @s (kept by @m, not referenced); false when it
 * cannot be (not square A8 of 1 to 255 pixels, no memory). */
bool ht__mask_init(ht__mask *m, cairo_surface_t *s);

/* A picture composited into by hutong: its pixels and clip. */
typedef struct ht__over {
    bool on, dirty;
    cairo_surface_t *target;
    uint32_t *data;
    size_t stride;
    int x0, y0, x1, y1; /* the clip, pixels x0 <= x < x1 */
} ht__over;

/* Whether masks can be composited into @cr's picture by hutong as Cairo
 * would: an ARGB image drawn as it is (no group, transformation or device
 * offset), over, clipped to one rectangle of whole pixels; sets @o. */
bool ht__over_begin(cairo_t *cr, ht__over *o);
/* Colour @c at opacity @op through mask @m at pixel (@x, @y), clipped. */
void ht__over_mask(ht__over *o, const ht__mask *m, int x, int y, ht_rgba c,
                   double op);
/* Cairo told of the pixels written (before it draws again, and at the
 * end). */
void ht__over_settle(ht__over *o);
/* Whether masks are composited by hutong where they can be (true) or by
 * Cairo (tests compare the two). */
void ht__render_set_dots_direct(bool on);
/* Whether dots are put in order by keys (true) or by qsort (tests). */
void ht__render_set_dot_keys(bool on);
/* How many pictures had their dots composited by hutong so far. */
size_t ht__render_dots_direct_pictures(void);
ht_status ht__render_street_heat_for(ht_renderer *r, const ht_style_layer *l,
                                     const ht_filter *filter,
                                     const ht_street_heat **out, double *top,
                                     ht_error *err);
const glyph *ht__render_text_glyph(ht_renderer *r, const char *text,
                                   double size, const char *family);
void ht__render_to_px(const frame *f, double mx, double my, double *px,
                      double *py);
bool ht__render_get_incident(const void *p, const char *name, ht_value *out);

#endif
