/* SPDX-License-Identifier: Apache-2.0 */
/* Drawing styled layers of grids, streets and incidents with Cairo. */
#include "hutong/render.h"

#include <math.h>
#include <pango/pangocairo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hutong/analysis.h"
#include "hutong/buf.h"
#include "hutong/crs.h"
#include "hutong/hash.h"
#include "hutong/heat.h"
#include "hutong/tile.h"

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
    int times_known;     /* 0 unknown, 1 none, 2 first/last hold */
    int64_t first, last; /* report times of the index */
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

/* ---- renderer ---- */

ht_status ht_renderer_new(ht_store *store, const ht_features *features,
                          ht_renderer **out, ht_error *err) {
    *out = NULL;
    ht_renderer *r = calloc(1, sizeof *r);
    if (!r || !(r->glyphs = calloc(GLYPH_CACHE, sizeof *r->glyphs))) {
        free(r);
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    r->store = store;
    r->features = features;
    /* One font map per renderer: Pango's default one is per thread anyway,
     * and fontconfig is set up once here, not per request. */
    r->fontmap = pango_cairo_font_map_new();
    r->pango = r->fontmap ? pango_font_map_create_context(r->fontmap) : NULL;
    r->scratch_surface = cairo_image_surface_create(CAIRO_FORMAT_A8, 1, 1);
    r->scratch = cairo_create(r->scratch_surface);
    if (!r->pango || cairo_status(r->scratch) != CAIRO_STATUS_SUCCESS) {
        ht_renderer_free(r);
        return ht_error_set(err, HT_ERENDER, "cannot set up fonts");
    }
    cairo_font_options_t *fo = cairo_font_options_create();
    /* Unhinted outlines: the same shapes at every scale and position. */
    cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_NONE);
    cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
    cairo_font_options_set_antialias(fo, CAIRO_ANTIALIAS_GRAY);
    pango_cairo_context_set_font_options(r->pango, fo);
    cairo_font_options_destroy(fo);
    pango_cairo_context_set_resolution(r->pango, 72);
    *out = r;
    return HT_OK;
}

static void glyphs_clear(ht_renderer *r) {
    for (size_t i = 0; i < GLYPH_CACHE; i++) {
        glyph *g = &r->glyphs[i];
        if (g->text) {
            free(g->text);
            free(g->family);
            cairo_path_destroy(g->path);
        }
        memset(g, 0, sizeof *g);
    }
    r->nglyphs = 0;
}

void ht_renderer_free(ht_renderer *r) {
    if (!r) {
        return;
    }
    if (r->glyphs) {
        glyphs_clear(r);
        free(r->glyphs);
    }
    if (r->scratch) {
        cairo_destroy(r->scratch);
    }
    if (r->scratch_surface) {
        cairo_surface_destroy(r->scratch_surface);
    }
    if (r->pango) {
        g_object_unref(r->pango);
    }
    if (r->fontmap) {
        g_object_unref(r->fontmap);
    }
    ht_crs_transform_free(r->tf);
    ht_crs_transform_free(r->inv);
    for (int k = 0; k < HEAT_CACHE; k++) {
        free(r->heats[k].key);
        ht_heat_free(r->heats[k].heat);
    }
    for (int k = 0; k < AGG_CACHE; k++) {
        free(r->aggs[k].key);
        if (r->aggs[k].data) {
            r->aggs[k].free(r->aggs[k].data);
        }
    }
    ht_index_unref(r->index);
    free(r->ids);
    free(r);
}

/* The cached path of @text at @size px in @family. NULL when out of
 * memory or when the text has no ink. */
static const glyph *text_glyph(ht_renderer *r, const char *text, double size,
                               const char *family) {
    int q = (int)lround(size * 4);
    uint64_t h = ht_hash64_str(ht_hash64_str(HT_HASH64_INIT, text), family);
    h = ht_hash64(h, &q, sizeof q);
    size_t slot = h % GLYPH_CACHE;
    for (size_t probe = 0; probe < GLYPH_CACHE; probe++) {
        glyph *g = &r->glyphs[(slot + probe) % GLYPH_CACHE];
        if (!g->text) {
            break;
        }
        if (g->size_q == q && strcmp(g->text, text) == 0 &&
            strcmp(g->family, family) == 0) {
            return g;
        }
    }
    if (r->nglyphs >= GLYPH_CACHE * 3 / 4) {
        glyphs_clear(r);
    }
    PangoLayout *layout = pango_layout_new(r->pango);
    PangoFontDescription *fd = pango_font_description_new();
    pango_font_description_set_family(fd, family);
    pango_font_description_set_absolute_size(fd, q / 4.0 * PANGO_SCALE);
    pango_layout_set_font_description(layout, fd);
    pango_font_description_free(fd);
    pango_layout_set_text(layout, text, -1);
    PangoRectangle logical;
    pango_layout_get_extents(layout, NULL, &logical);
    double w = logical.width / (double)PANGO_SCALE;
    double hgt = logical.height / (double)PANGO_SCALE;
    cairo_new_path(r->scratch);
    cairo_move_to(r->scratch, -w / 2 - logical.x / (double)PANGO_SCALE,
                  -hgt / 2 - logical.y / (double)PANGO_SCALE);
    pango_cairo_layout_path(r->scratch, layout);
    cairo_path_t *path = cairo_copy_path(r->scratch);
    cairo_new_path(r->scratch);
    g_object_unref(layout);
    char *t = strdup(text), *fam = strdup(family);
    if (!path || path->status != CAIRO_STATUS_SUCCESS || !t || !fam) {
        if (path) {
            cairo_path_destroy(path);
        }
        free(t);
        free(fam);
        return NULL;
    }
    for (size_t probe = 0;; probe++) {
        glyph *g = &r->glyphs[(slot + probe) % GLYPH_CACHE];
        if (!g->text) {
            *g = (glyph){t, q, fam, path, w, hgt};
            r->nglyphs++;
            return g;
        }
    }
}

/* ---- projection ---- */

static void to_px(const frame *f, double mx, double my, double *px,
                  double *py) {
    const ht_bbox *b = &f->req->bbox;
    if (f->merc) {
        *px = (mx - b->minx) * f->sx;
        *py = (b->maxy - my) * f->sy;
        return;
    }
    double lon, lat, x = NAN, y = NAN;
    ht_tile_merc_to_lonlat(mx, my, &lon, &lat);
    if (ht_crs_transform_point(f->r->tf, lon, lat, &x, &y, NULL) != HT_OK) {
        x = y = NAN;
    }
    *px = (x - b->minx) * f->sx;
    *py = (b->maxy - y) * f->sy;
}

/* Set up the transforms for a CRS other than EPSG:3857. */
static ht_status use_crs(ht_renderer *r, const char *crs, ht_error *err) {
    if (r->tf && strcmp(r->tf_crs, crs) == 0) {
        return HT_OK;
    }
    HT_CLEAR(r->tf, ht_crs_transform_free);
    HT_CLEAR(r->inv, ht_crs_transform_free);
    ht_status st = ht_crs_transform_new("EPSG:4326", crs, &r->tf, err);
    if (st == HT_OK) {
        st = ht_crs_transform_new(crs, "EPSG:4326", &r->inv, err);
    }
    if (st != HT_OK) {
        HT_CLEAR(r->tf, ht_crs_transform_free);
        return st;
    }
    snprintf(r->tf_crs, sizeof r->tf_crs, "%s", crs);
    return HT_OK;
}

static bool is_merc(const char *crs) {
    char name[HT_CRS_NAME_SIZE];
    return !crs || (ht_crs_normalize(crs, name, NULL) == HT_OK &&
                    (strcmp(name, "EPSG:3857") == 0 ||
                     strcmp(name, "EPSG:900913") == 0));
}

/* A tile of zoom 15 must draw at zoom 15, not 14.999999999: snap values
 * within a millionth of a whole zoom. */
static double snap_zoom(double z) {
    double r = round(z);
    return fabs(z - r) < 1e-6 ? r : z;
}

/* The request's box in EPSG:3857 (envelope of its densified edges) and
 * the ground resolution at its centre. */
static ht_status frame_setup(frame *f, ht_error *err) {
    const ht_render_req *q = f->req;
    if (q->width < 1 || q->height < 1 || q->width > HT_RENDER_MAX_SIZE ||
        q->height > HT_RENDER_MAX_SIZE) {
        return ht_error_set(err, HT_EINVAL,
                            "image size %dx%d outside 1..%d on a side",
                            q->width, q->height, HT_RENDER_MAX_SIZE);
    }
    if (!(q->bbox.maxx > q->bbox.minx) || !(q->bbox.maxy > q->bbox.miny) ||
        !isfinite(q->bbox.minx + q->bbox.maxx + q->bbox.miny + q->bbox.maxy)) {
        return ht_error_set(err, HT_EINVAL, "empty or invalid bbox");
    }
    if (!(q->scale >= 0.25 && q->scale <= 8)) {
        return ht_error_set(err, HT_EINVAL, "scale %g outside 0.25..8",
                            q->scale);
    }
    f->merc = is_merc(q->crs);
    f->sx = q->width / (q->bbox.maxx - q->bbox.minx);
    f->sy = q->height / (q->bbox.maxy - q->bbox.miny);
    double cx = (q->bbox.minx + q->bbox.maxx) / 2;
    double cy = (q->bbox.miny + q->bbox.maxy) / 2;
    if (f->merc) {
        f->res_m = 1 / f->sx;
        f->zoom =
            snap_zoom(log2(2 * HT_MERC_HALF / 256 / (f->res_m * q->scale)));
        double margin = 64 * f->res_m;
        f->query = (ht_bbox){q->bbox.minx - margin, q->bbox.miny - margin,
                             q->bbox.maxx + margin, q->bbox.maxy + margin};
        return HT_OK;
    }
    ht_status st = use_crs(f->r, q->crs, err);
    if (st != HT_OK) {
        return st;
    }
    f->query = ht_bbox_empty();
    for (int k = 0; k <= 16; k++) {
        double t = k / 16.0;
        double ex[4][2] = {
            {q->bbox.minx + t * (q->bbox.maxx - q->bbox.minx), q->bbox.miny},
            {q->bbox.minx + t * (q->bbox.maxx - q->bbox.minx), q->bbox.maxy},
            {q->bbox.minx, q->bbox.miny + t * (q->bbox.maxy - q->bbox.miny)},
            {q->bbox.maxx, q->bbox.miny + t * (q->bbox.maxy - q->bbox.miny)}};
        for (int e = 0; e < 4; e++) {
            double lon, lat, mx, my;
            st = ht_crs_transform_point(f->r->inv, ex[e][0], ex[e][1], &lon,
                                        &lat, err);
            if (st != HT_OK) {
                ht_error_prefix(err, "bbox: ");
                return st;
            }
            ht_tile_lonlat_to_merc(lon, lat, &mx, &my);
            ht_bbox_add(&f->query, mx, my);
        }
    }
    /* Ground metres per device pixel at the centre, from a 1 px step. */
    double lon0, lat0, lon1, lat1;
    st = ht_crs_transform_point(f->r->inv, cx, cy, &lon0, &lat0, err);
    if (st == HT_OK) {
        st = ht_crs_transform_point(f->r->inv, cx + 1 / f->sx, cy, &lon1, &lat1,
                                    err);
    }
    if (st != HT_OK) {
        return st;
    }
    double mx = 111320.0 * cos(lat0 * HT_PI / 180);
    double ground = hypot((lon1 - lon0) * mx, (lat1 - lat0) * 110574.0);
    f->zoom = snap_zoom(ht_tile_zoom_for_resolution(ground * q->scale, lat0));
    double mx0, my0, mx1, my1;
    ht_tile_lonlat_to_merc(lon0, lat0, &mx0, &my0);
    ht_tile_lonlat_to_merc(lon1, lat1, &mx1, &my1);
    f->res_m = hypot(mx1 - mx0, my1 - my0);
    double margin = 64 * f->res_m;
    f->query.minx -= margin;
    f->query.miny -= margin;
    f->query.maxx += margin;
    f->query.maxy += margin;
    return HT_OK;
}

ht_status ht_render_zoom(ht_renderer *r, const ht_render_req *req, double *zoom,
                         ht_error *err) {
    frame f = {.r = r, .req = req};
    ht_status st = frame_setup(&f, err);
    if (st == HT_OK) {
        *zoom = f.zoom;
    }
    return st;
}

/* ---- feature properties for expressions ---- */

static bool get_grid(const void *p, const char *name, ht_value *out) {
    const ht_fgrid *g = p;
    if (strcmp(name, "code") == 0) {
        *out = (ht_value){.type = HT_VAL_STRING, .s = g->code};
    } else if (strcmp(name, "name") == 0 && g->name) {
        *out = (ht_value){.type = HT_VAL_STRING, .s = g->name};
    } else if (strcmp(name, "level") == 0) {
        *out = (ht_value){.type = HT_VAL_STRING,
                          .s = ht_model_level_name(g->level)};
    } else if (strcmp(name, "parent_code") == 0 && g->parent_code) {
        *out = (ht_value){.type = HT_VAL_STRING, .s = g->parent_code};
    } else if (strcmp(name, "population") == 0 && g->population >= 0) {
        *out = (ht_value){.type = HT_VAL_NUMBER, .n = (double)g->population};
    } else {
        return false;
    }
    return true;
}

static bool get_street(const void *p, const char *name, ht_value *out) {
    const ht_fstreet *s = p;
    if (strcmp(name, "id") == 0) {
        *out = (ht_value){.type = HT_VAL_NUMBER, .n = (double)s->id};
    } else if (strcmp(name, "name") == 0 && s->name) {
        *out = (ht_value){.type = HT_VAL_STRING, .s = s->name};
    } else if (strcmp(name, "kind") == 0) {
        *out =
            (ht_value){.type = HT_VAL_STRING, .s = ht_model_kind_name(s->kind)};
    } else {
        return false;
    }
    return true;
}

static bool get_chain(const void *p, const char *name, ht_value *out) {
    const ht_fchain *c = p;
    if (strcmp(name, "name") == 0) {
        *out = (ht_value){.type = HT_VAL_STRING, .s = c->name};
    } else if (strcmp(name, "kind") == 0) {
        *out =
            (ht_value){.type = HT_VAL_STRING, .s = ht_model_kind_name(c->kind)};
    } else {
        return false;
    }
    return true;
}

typedef struct incident_view {
    int64_t id;
    const char *category;
    const char *major;
    double severity;
    const char *source;
    const char *status;
} incident_view;

static bool get_incident(const void *p, const char *name, ht_value *out) {
    const incident_view *v = p;
    if (strcmp(name, "id") == 0) {
        *out = (ht_value){.type = HT_VAL_NUMBER, .n = (double)v->id};
    } else if (strcmp(name, "category") == 0 && v->category) {
        *out = (ht_value){.type = HT_VAL_STRING, .s = v->category};
    } else if (strcmp(name, "major") == 0 && v->major) {
        *out = (ht_value){.type = HT_VAL_STRING, .s = v->major};
    } else if (strcmp(name, "severity") == 0) {
        *out = (ht_value){.type = HT_VAL_NUMBER, .n = v->severity};
    } else if (strcmp(name, "source") == 0 && v->source) {
        *out = (ht_value){.type = HT_VAL_STRING, .s = v->source};
    } else if (strcmp(name, "status") == 0 && v->status) {
        *out = (ht_value){.type = HT_VAL_STRING, .s = v->status};
    } else {
        return false;
    }
    return true;
}

/* ---- geometry layers ---- */

static void set_color(cairo_t *cr, ht_rgba c, double opacity) {
    cairo_set_source_rgba(cr, c.r, c.g, c.b, c.a * opacity);
}

static void add_geom_path(frame *f, const ht_geom *g, bool close) {
    for (size_t i = 0; i < g->nparts; i++) {
        size_t a = g->parts[i], b = ht_geom_part_end(g, i);
        for (size_t k = a; k < b; k++) {
            double x, y;
            to_px(f, g->pts[k].x, g->pts[k].y, &x, &y);
            if (!isfinite(x) || !isfinite(y)) {
                continue;
            }
            if (k == a) {
                cairo_move_to(f->cr, x, y);
            } else {
                cairo_line_to(f->cr, x, y);
            }
        }
        if (close) {
            cairo_close_path(f->cr);
        }
    }
}

static ht_status query(frame *f, ht_fkind kind, size_t *n) {
    return ht_features_query(f->r->features, kind, &f->query, &f->r->ids, n,
                             &f->r->cap_ids, f->err);
}

/* Features of a grids or streets layer, filtered: their index, the item
 * and its property getter. */
typedef struct item {
    const void *p;
    const ht_geom *geom;
} item;

static bool item_at(frame *f, const ht_style_layer *l, size_t i, item *it,
                    ht_style_get_fn *get) {
    uint32_t id = f->r->ids[i];
    if (l->source == HT_SOURCE_GRIDS) {
        const ht_fgrid *g = ht_features_grid(f->r->features, id);
        *it = (item){g, g->geom};
        *get = get_grid;
    } else {
        const ht_fstreet *s = ht_features_street(f->r->features, id);
        *it = (item){s, s->geom};
        *get = get_street;
    }
    return ht_style_filter(l, f->zoom, *get, it->p);
}

static void stroke_setup(frame *f, const ht_style_layer *l, double width) {
    char buf[16];
    const char *cap =
        ht_style_string(l, HT_P_LINE_CAP, f->zoom, NULL, NULL, buf, sizeof buf);
    const char *join =
        ht_style_string(l, HT_P_LINE_JOIN, f->zoom, NULL, NULL, buf + 8, 8);
    cairo_set_line_cap(f->cr, strcmp(cap, "round") == 0 ? CAIRO_LINE_CAP_ROUND
                              : strcmp(cap, "square") == 0
                                  ? CAIRO_LINE_CAP_SQUARE
                                  : CAIRO_LINE_CAP_BUTT);
    cairo_set_line_join(f->cr,
                        strcmp(join, "round") == 0   ? CAIRO_LINE_JOIN_ROUND
                        : strcmp(join, "bevel") == 0 ? CAIRO_LINE_JOIN_BEVEL
                                                     : CAIRO_LINE_JOIN_MITER);
    cairo_set_line_width(f->cr, width);
    double dash[16];
    size_t nd = ht_style_numbers(l, HT_P_LINE_DASHARRAY, f->zoom, dash, 16);
    /* MapLibre's dash lengths are in line widths. */
    for (size_t k = 0; k < nd; k++) {
        dash[k] *= width > 0 ? width : 1;
    }
    cairo_set_dash(f->cr, dash, (int)nd, 0);
}

static ht_status draw_fill(frame *f, const ht_style_layer *l) {
    if (l->source == HT_SOURCE_STREETS) {
        return HT_OK; /* lines have no area */
    }
    size_t n;
    ht_status st = query(f, HT_F_GRIDS, &n);
    if (st != HT_OK) {
        return st;
    }
    double s = f->req->scale;
    bool batch = l->zoom_only[HT_P_FILL_COLOR] &&
                 l->zoom_only[HT_P_FILL_OPACITY] &&
                 l->zoom_only[HT_P_FILL_OUTLINE_COLOR];
    cairo_set_fill_rule(f->cr, CAIRO_FILL_RULE_EVEN_ODD);
    cairo_set_dash(f->cr, NULL, 0, 0);
    cairo_set_line_width(f->cr, 1.0 * (s > 1 ? s : 1));
    cairo_set_line_join(f->cr, CAIRO_LINE_JOIN_ROUND);
    cairo_new_path(f->cr);
    size_t drawn = 0;
    for (size_t i = 0; i < n; i++) {
        item it;
        ht_style_get_fn get;
        if (!item_at(f, l, i, &it, &get)) {
            continue;
        }
        add_geom_path(f, it.geom, true);
        drawn++;
        if (!batch) {
            ht_rgba c = ht_style_color(l, HT_P_FILL_COLOR, f->zoom, get, it.p);
            double o =
                ht_style_number(l, HT_P_FILL_OPACITY, f->zoom, get, it.p);
            ht_rgba oc =
                ht_style_color(l, HT_P_FILL_OUTLINE_COLOR, f->zoom, get, it.p);
            set_color(f->cr, c, o);
            cairo_fill_preserve(f->cr);
            set_color(f->cr, oc, o);
            cairo_stroke(f->cr);
        }
    }
    if (batch && drawn) {
        ht_rgba c = ht_style_color(l, HT_P_FILL_COLOR, f->zoom, NULL, NULL);
        double o = ht_style_number(l, HT_P_FILL_OPACITY, f->zoom, NULL, NULL);
        ht_rgba oc =
            ht_style_color(l, HT_P_FILL_OUTLINE_COLOR, f->zoom, NULL, NULL);
        set_color(f->cr, c, o);
        if (oc.a > 0) {
            cairo_fill_preserve(f->cr);
            set_color(f->cr, oc, o);
            cairo_stroke(f->cr);
        } else {
            cairo_fill(f->cr);
        }
    }
    cairo_new_path(f->cr);
    return HT_OK;
}

static ht_status draw_line(frame *f, const ht_style_layer *l) {
    size_t n;
    ht_status st =
        query(f, l->source == HT_SOURCE_GRIDS ? HT_F_GRIDS : HT_F_STREETS, &n);
    if (st != HT_OK) {
        return st;
    }
    double s = f->req->scale;
    bool batch = l->zoom_only[HT_P_LINE_COLOR] &&
                 l->zoom_only[HT_P_LINE_WIDTH] &&
                 l->zoom_only[HT_P_LINE_OPACITY];
    bool close = l->source == HT_SOURCE_GRIDS;
    cairo_new_path(f->cr);
    if (batch) {
        double w = ht_style_number(l, HT_P_LINE_WIDTH, f->zoom, NULL, NULL);
        if (w <= 0) {
            return HT_OK;
        }
        stroke_setup(f, l, w * s);
    }
    size_t drawn = 0;
    for (size_t i = 0; i < n; i++) {
        item it;
        ht_style_get_fn get;
        if (!item_at(f, l, i, &it, &get)) {
            continue;
        }
        if (!batch) {
            double w = ht_style_number(l, HT_P_LINE_WIDTH, f->zoom, get, it.p);
            if (w <= 0) {
                continue;
            }
            stroke_setup(f, l, w * s);
        }
        add_geom_path(f, it.geom, close);
        drawn++;
        if (!batch) {
            set_color(
                f->cr, ht_style_color(l, HT_P_LINE_COLOR, f->zoom, get, it.p),
                ht_style_number(l, HT_P_LINE_OPACITY, f->zoom, get, it.p));
            cairo_stroke(f->cr);
        }
    }
    if (batch && drawn) {
        set_color(f->cr,
                  ht_style_color(l, HT_P_LINE_COLOR, f->zoom, NULL, NULL),
                  ht_style_number(l, HT_P_LINE_OPACITY, f->zoom, NULL, NULL));
        cairo_stroke(f->cr);
    }
    cairo_new_path(f->cr);
    cairo_set_dash(f->cr, NULL, 0, 0);
    return HT_OK;
}

/* An incident kept for drawing: the row's strings are copied (codes are
 * short), since SQLite's go with the row. */
typedef struct circle {
    int64_t id;
    double severity;
    const char *category, *major, *source, *status; /* static or the
                                                        snapshot's */
    double x, y;
} circle;

static int cmp_circle(const void *a, const void *b) {
    const circle *p = a, *q = b;
    if (p->severity != q->severity) {
        return p->severity < q->severity ? -1 : 1;
    }
    return (p->id > q->id) - (p->id < q->id);
}

static incident_view circle_view(const circle *c) {
    return (incident_view){c->id,       c->category, c->major,
                           c->severity, c->source,   c->status};
}

static ht_status ensure_index(ht_renderer *r, ht_error *err);

/* The incidents of a circle layer inside the frame, from the index. */
typedef struct circles {
    frame *f;
    const ht_style_layer *l;
    circle *cs;
    size_t n, cap;
    bool failed;
} circles;

static void collect_circle(void *ud, double x, double y,
                           const ht_incident_view *iv) {
    circles *c = ud;
    circle e = {.id = iv->id,
                .severity = iv->severity,
                .category = iv->category,
                .major = iv->major,
                .source = ht_model_source_name(iv->source),
                .status = ht_model_state_name(iv->state)};
    incident_view v = circle_view(&e);
    if (c->failed || !ht_style_filter(c->l, c->f->zoom, get_incident, &v)) {
        return;
    }
    if (ht_array_grow((void **)&c->cs, &c->cap, c->n + 1, sizeof *c->cs,
                      NULL) != HT_OK) {
        c->failed = true;
        return;
    }
    to_px(c->f, x, y, &e.x, &e.y);
    c->cs[c->n++] = e;
}

static ht_status draw_circles(frame *f, const ht_style_layer *l) {
    if ((!f->r->store && !f->r->index) || l->source != HT_SOURCE_INCIDENTS) {
        return HT_OK;
    }
    ht_status st = ensure_index(f->r, f->err);
    ht_index_filter *q = NULL;
    if (st == HT_OK && f->req->filter) {
        st = ht_index_filter_new(f->r->index, f->req->filter, &q, f->err);
    }
    if (st != HT_OK) {
        return st;
    }
    /* The request's filter, like the heat: the dots are the incidents the
     * rest of the picture counts. */
    circles c = {.f = f, .l = l};
    ht_index_visit(f->r->index, q, &f->query, collect_circle, &c);
    ht_index_filter_free(q);
    if (c.failed) {
        free(c.cs);
        return ht_error_set(f->err, HT_ENOMEM, "out of memory");
    }
    circle *cs = c.cs;
    size_t n = c.n;
    /* The most severe on top. */
    if (n > 1) { /* qsort(NULL, 0) is undefined */
        qsort(cs, n, sizeof *cs, cmp_circle);
    }
    double s = f->req->scale;
    for (size_t i = 0; st == HT_OK && i < n; i++) {
        incident_view view = circle_view(&cs[i]);
        const incident_view *v = &view;
        double rad =
            ht_style_number(l, HT_P_CIRCLE_RADIUS, f->zoom, get_incident, v) *
            s;
        double op =
            ht_style_number(l, HT_P_CIRCLE_OPACITY, f->zoom, get_incident, v);
        double sw = ht_style_number(l, HT_P_CIRCLE_STROKE_WIDTH, f->zoom,
                                    get_incident, v) *
                    s;
        if (!isfinite(cs[i].x) || rad <= 0) {
            continue;
        }
        cairo_new_path(f->cr);
        cairo_arc(f->cr, cs[i].x, cs[i].y, rad, 0, 2 * HT_PI);
        set_color(
            f->cr,
            ht_style_color(l, HT_P_CIRCLE_COLOR, f->zoom, get_incident, v), op);
        if (sw > 0) {
            cairo_fill_preserve(f->cr);
            cairo_set_line_width(f->cr, sw);
            set_color(f->cr,
                      ht_style_color(l, HT_P_CIRCLE_STROKE_COLOR, f->zoom,
                                     get_incident, v),
                      op);
            cairo_stroke(f->cr);
        } else {
            cairo_fill(f->cr);
        }
    }
    free(cs);
    return st;
}

/* ---- labels ---- */

static bool box_free(const frame *f, const ht_bbox *b) {
    if (b->minx < 0 || b->miny < 0 || b->maxx > f->req->width ||
        b->maxy > f->req->height) {
        return false; /* a label is never cut by the edge */
    }
    for (size_t i = 0; i < f->nplaced; i++) {
        if (ht_bbox_intersects(&f->placed[i], b)) {
            return false;
        }
    }
    return true;
}

static ht_status place_box(frame *f, const ht_bbox *b) {
    ht_status st = ht_array_grow((void **)&f->placed, &f->cap_placed,
                                 f->nplaced + 1, sizeof *f->placed, f->err);
    if (st == HT_OK) {
        f->placed[f->nplaced++] = *b;
    }
    return st;
}

typedef struct text_paint {
    ht_rgba color, halo;
    double halo_w, opacity;
} text_paint;

static void draw_glyph(frame *f, const glyph *g, double x, double y,
                       const text_paint *tp) {
    cairo_save(f->cr);
    cairo_translate(f->cr, x, y);
    cairo_new_path(f->cr);
    cairo_append_path(f->cr, g->path);
    if (tp->halo_w > 0 && tp->halo.a > 0) {
        cairo_set_line_join(f->cr, CAIRO_LINE_JOIN_ROUND);
        cairo_set_line_width(f->cr, 2 * tp->halo_w);
        cairo_set_dash(f->cr, NULL, 0, 0);
        set_color(f->cr, tp->halo, tp->opacity);
        cairo_stroke_preserve(f->cr);
    }
    set_color(f->cr, tp->color, tp->opacity);
    cairo_fill(f->cr);
    cairo_restore(f->cr);
}

/* The next UTF-8 character of @s into @out (up to 4 bytes + NUL). */
static size_t utf8_next(const char *s, char out[8]) {
    unsigned char c = (unsigned char)*s;
    size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    for (size_t i = 0; i < n; i++) {
        if (!s[i]) {
            n = i;
            break;
        }
        out[i] = s[i];
    }
    out[n] = '\0';
    return n ? n : 1;
}

/* Point along polyline @p (device px) at distance @d. */
static ht_point along(const ht_point *p, const double *cum, size_t n,
                      double d) {
    size_t k = 1;
    while (k + 1 < n && cum[k] < d) {
        k++;
    }
    double seg = cum[k] - cum[k - 1];
    double t = seg > 0 ? (d - cum[k - 1]) / seg : 0;
    return (ht_point){p[k - 1].x + (p[k].x - p[k - 1].x) * t,
                      p[k - 1].y + (p[k].y - p[k - 1].y) * t};
}

/* The first family of text-font, else Noto Sans CJK SC. */
static const char *font_family(const ht_style_layer *l, double zoom) {
    const char *fam[1];
    return ht_style_strings(l, HT_P_TEXT_FONT, zoom, fam, 1) ? fam[0]
                                                             : DEFAULT_FONT;
}

typedef struct line_label {
    const ht_fchain *c;
    int rank;
} line_label;

static int cmp_line_label(const void *a, const void *b) {
    const line_label *p = a, *q = b;
    if (p->rank != q->rank) {
        return p->rank - q->rank;
    }
    if (p->c->length_m != q->c->length_m) {
        return p->c->length_m > q->c->length_m ? -1 : 1;
    }
    return strcmp(p->c->name, q->c->name);
}

static int kind_rank(ht_street_kind k) {
    static const int rank[HT_KIND_COUNT] = {[HT_KIND_ROAD] = 0,
                                            [HT_KIND_STREET] = 1,
                                            [HT_KIND_HUTONG] = 2,
                                            [HT_KIND_ALLEY] = 3,
                                            [HT_KIND_OTHER] = 4};
    return rank[k];
}

/* Upright characters spaced along the street, as Chinese maps set them:
 * horizontal streets read left to right, north-south ones top to bottom. */
static ht_status label_line(frame *f, const ht_style_layer *l,
                            const ht_fchain *c, const char *text, double size,
                            const char *family, const text_paint *tp,
                            bool overlap, double pad) {
    size_t n = c->npts;
    ht_point *p = malloc(n * sizeof *p);
    double *cum = malloc(n * sizeof *cum);
    if (!p || !cum) {
        free(p);
        free(cum);
        return ht_error_set(f->err, HT_ENOMEM, "out of memory");
    }
    for (size_t k = 0; k < n; k++) {
        to_px(f, c->pts[k].x, c->pts[k].y, &p[k].x, &p[k].y);
    }
    /* Read in the natural direction: west to east, else north to south. */
    double dx = p[n - 1].x - p[0].x, dy = p[n - 1].y - p[0].y;
    if ((fabs(dx) >= fabs(dy) && dx < 0) || (fabs(dy) > fabs(dx) && dy < 0)) {
        for (size_t k = 0; k < n / 2; k++) {
            ht_point t = p[k];
            p[k] = p[n - 1 - k];
            p[n - 1 - k] = t;
        }
    }
    cum[0] = 0;
    for (size_t k = 1; k < n; k++) {
        cum[k] = cum[k - 1] + hypot(p[k].x - p[k - 1].x, p[k].y - p[k - 1].y);
    }
    double total_len = cum[n - 1];
    /* Characters and their advances. */
    const glyph *gl[64];
    size_t nch = 0;
    double adv = 0;
    for (const char *s = text; *s && nch < 64;) {
        char ch[8];
        s += utf8_next(s, ch);
        if (ch[0] == ' ') {
            continue;
        }
        gl[nch] = text_glyph(f->r, ch, size, family);
        if (!gl[nch]) {
            continue;
        }
        adv += fmax(gl[nch]->w, gl[nch]->h * 0.9) + size * 0.1;
        nch++;
    }
    ht_status st = HT_OK;
    double spacing =
        ht_style_number(l, HT_P_SYMBOL_SPACING, f->zoom, NULL, NULL) *
        f->req->scale;
    if (nch == 0 || adv + 2 * pad > total_len) {
        goto done;
    }
    /* Anchors every `spacing` px from the chain's start, in world units so
     * that neighbouring tiles agree on them. */
    double world_len = c->length_m / f->res_m;
    size_t nanchors =
        world_len > 2 * spacing ? (size_t)(world_len / spacing) : 1;
    for (size_t a = 0; a < nanchors && st == HT_OK; a++) {
        double d = nanchors == 1 ? total_len / 2
                                 : (a + 0.5) * spacing * total_len / world_len;
        double start = d - adv / 2;
        if (start < pad || start + adv > total_len - pad) {
            continue;
        }
        ht_point at[64];
        ht_bbox boxes[64];
        bool ok = true;
        double pos = start;
        for (size_t k = 0; k < nch && ok; k++) {
            double step = fmax(gl[k]->w, gl[k]->h * 0.9) + size * 0.1;
            at[k] = along(p, cum, n, pos + step / 2);
            pos += step;
            double hw = gl[k]->w / 2 + pad, hh = gl[k]->h / 2 + pad;
            boxes[k] = (ht_bbox){at[k].x - hw, at[k].y - hh, at[k].x + hw,
                                 at[k].y + hh};
            ok = box_free(f, &boxes[k]) || (overlap && boxes[k].minx >= 0);
            /* A sharp bend would crowd the characters: skip the spot. */
            if (ok && k > 0 &&
                hypot(at[k].x - at[k - 1].x, at[k].y - at[k - 1].y) <
                    0.75 * size) {
                ok = false;
            }
        }
        if (!ok) {
            continue;
        }
        for (size_t k = 0; k < nch && st == HT_OK; k++) {
            st = place_box(f, &boxes[k]);
            draw_glyph(f, gl[k], at[k].x, at[k].y, tp);
        }
    }
done:
    free(p);
    free(cum);
    return st;
}

static void text_paint_at(frame *f, const ht_style_layer *l,
                          ht_style_get_fn get, const void *p, text_paint *tp) {
    tp->color = ht_style_color(l, HT_P_TEXT_COLOR, f->zoom, get, p);
    tp->halo = ht_style_color(l, HT_P_TEXT_HALO_COLOR, f->zoom, get, p);
    tp->halo_w = ht_style_number(l, HT_P_TEXT_HALO_WIDTH, f->zoom, get, p) *
                 f->req->scale;
    tp->opacity = ht_style_number(l, HT_P_TEXT_OPACITY, f->zoom, get, p);
}

static ht_status draw_symbols(frame *f, const ht_style_layer *l) {
    if (l->source == HT_SOURCE_INCIDENTS) {
        return HT_OK;
    }
    const char *family = font_family(l, f->zoom);
    bool overlap =
        ht_style_bool(l, HT_P_TEXT_ALLOW_OVERLAP, f->zoom, NULL, NULL);
    double pad = ht_style_number(l, HT_P_TEXT_PADDING, f->zoom, NULL, NULL) *
                 f->req->scale;
    char place[16], buf[256];
    bool on_line = strcmp(ht_style_string(l, HT_P_SYMBOL_PLACEMENT, f->zoom,
                                          NULL, NULL, place, sizeof place),
                          "line") == 0;
    ht_status st = HT_OK;
    size_t n;
    if (l->source == HT_SOURCE_STREETS && on_line) {
        if ((st = query(f, HT_F_CHAINS, &n)) != HT_OK) {
            return st;
        }
        line_label *ll = malloc((n + 1) * sizeof *ll);
        if (!ll) {
            return ht_error_set(f->err, HT_ENOMEM, "out of memory");
        }
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            const ht_fchain *c =
                ht_features_chain(f->r->features, f->r->ids[i]);
            if (ht_style_filter(l, f->zoom, get_chain, c)) {
                ll[m++] = (line_label){c, kind_rank(c->kind)};
            }
        }
        qsort(ll, m, sizeof *ll, cmp_line_label);
        for (size_t i = 0; i < m && st == HT_OK; i++) {
            const ht_fchain *c = ll[i].c;
            const char *text = ht_style_string(l, HT_P_TEXT_FIELD, f->zoom,
                                               get_chain, c, buf, sizeof buf);
            double size =
                ht_style_number(l, HT_P_TEXT_SIZE, f->zoom, get_chain, c) *
                f->req->scale;
            if (!*text || size <= 0) {
                continue;
            }
            text_paint tp;
            text_paint_at(f, l, get_chain, c, &tp);
            st = label_line(f, l, c, text, size, family, &tp, overlap, pad);
        }
        free(ll);
        return st;
    }
    /* Point labels: grids at their interior point (streets at the middle
     * vertex of the segment). */
    if ((st = query(f, l->source == HT_SOURCE_GRIDS ? HT_F_GRIDS : HT_F_STREETS,
                    &n)) != HT_OK) {
        return st;
    }
    for (size_t i = 0; i < n && st == HT_OK; i++) {
        item it;
        ht_style_get_fn get;
        if (!item_at(f, l, i, &it, &get)) {
            continue;
        }
        ht_point anchor;
        if (l->source == HT_SOURCE_GRIDS) {
            anchor = ((const ht_fgrid *)it.p)->label;
        } else {
            anchor = it.geom->pts[it.geom->npts / 2];
        }
        const char *text = ht_style_string(l, HT_P_TEXT_FIELD, f->zoom, get,
                                           it.p, buf, sizeof buf);
        double size = ht_style_number(l, HT_P_TEXT_SIZE, f->zoom, get, it.p) *
                      f->req->scale;
        if (!*text || size <= 0) {
            continue;
        }
        const glyph *g = text_glyph(f->r, text, size, family);
        if (!g) {
            continue;
        }
        double x, y;
        to_px(f, anchor.x, anchor.y, &x, &y);
        ht_bbox b = {x - g->w / 2 - pad, y - g->h / 2 - pad, x + g->w / 2 + pad,
                     y + g->h / 2 + pad};
        if (!box_free(f, &b) &&
            !(overlap && b.minx >= 0 && b.miny >= 0 &&
              b.maxx <= f->req->width && b.maxy <= f->req->height)) {
            continue;
        }
        text_paint tp;
        text_paint_at(f, l, get, it.p, &tp);
        st = place_box(f, &b);
        draw_glyph(f, g, x, y, &tp);
    }
    return st;
}

/* ---- heat maps ---- */

static void drop_aggregates(ht_renderer *r);
static void drop_aggregate(struct agg_slot *a);
static bool advance_aggregate(ht_renderer *r, struct agg_slot *a, ht_index *ix,
                              const int64_t *ids, size_t n);

static void drop_heat(struct heat_slot *h) {
    HT_CLEAR(h->key, free);
    HT_CLEAR(h->heat, ht_heat_free);
    h->used = 0;
}

/* Carry density grid @h from r->index to @ix past the changes @ids. */
static bool advance_heat(ht_renderer *r, struct heat_slot *h, ht_index *ix,
                         const int64_t *ids, size_t n) {
    ht_index_filter *qold = NULL, *qnow = NULL;
    ht_error err = {0};
    bool ok = ht_index_filter_new(r->index, &h->filter, &qold, &err) == HT_OK &&
              ht_index_filter_new(ix, &h->filter, &qnow, &err) == HT_OK &&
              ht_heat_update(h->heat, r->index, qold, ix, qnow, ids, n, &err) ==
                  HT_OK;
    ht_index_filter_free(qold);
    ht_index_filter_free(qnow);
    return ok;
}

void ht_renderer_advance(ht_renderer *r, ht_index *ix, const int64_t *ids,
                         size_t n) {
    if (!r->index || !ix) {
        ht_renderer_set_index(r, ix);
        return;
    }
    for (int k = 0; k < HEAT_CACHE; k++) {
        if (r->heats[k].heat && !advance_heat(r, &r->heats[k], ix, ids, n)) {
            drop_heat(&r->heats[k]);
        }
    }
    if (r->times_known == 2) {
        /* Report times only ever widen the range. */
        for (size_t k = 0; k < n; k++) {
            double x, y;
            ht_incident_view v;
            if (ht_index_find(ix, NULL, ids[k], &x, &y, &v)) {
                r->first = v.reported_at < r->first ? v.reported_at : r->first;
                r->last = v.reported_at > r->last ? v.reported_at : r->last;
            }
        }
    } else {
        r->times_known = 0;
    }
    for (int k = 0; k < AGG_CACHE; k++) {
        if (r->aggs[k].data && !advance_aggregate(r, &r->aggs[k], ix, ids, n)) {
            drop_aggregate(&r->aggs[k]);
        }
    }
    ht_index_ref(ix);
    ht_index_unref(r->index);
    r->index = ix;
}

void ht_renderer_set_index(ht_renderer *r, ht_index *ix) {
    ht_index_unref(r->index);
    r->index = ix ? ht_index_ref(ix) : NULL;
    r->times_known = 0;
    for (int k = 0; k < HEAT_CACHE; k++) {
        drop_heat(&r->heats[k]);
    }
    drop_aggregates(r);
}

static void drop_aggregate(struct agg_slot *a) {
    HT_CLEAR(a->key, free);
    if (a->data) {
        a->free(a->data);
        a->data = NULL;
    }
    a->used = 0;
}

static void drop_aggregates(ht_renderer *r) {
    for (int k = 0; k < AGG_CACHE; k++) {
        drop_aggregate(&r->aggs[k]);
    }
}

/* Carry aggregate @a from r->index to @ix past the changes @ids: each
 * changed incident out as it was, in as it is, when it passes the filter. */
static bool advance_aggregate(ht_renderer *r, struct agg_slot *a, ht_index *ix,
                              const int64_t *ids, size_t n) {
    if (!a->add) {
        return false;
    }
    ht_index_filter *qold = NULL, *qnow = NULL;
    bool ok = ht_index_filter_new(r->index, &a->filter, &qold, NULL) == HT_OK &&
              ht_index_filter_new(ix, &a->filter, &qnow, NULL) == HT_OK;
    for (size_t k = 0; ok && k < n; k++) {
        double x, y;
        ht_incident_view v;
        if (ht_index_find(r->index, qold, ids[k], &x, &y, &v)) {
            a->add(r, a->data, &v, -1);
        }
        if (ht_index_find(ix, qnow, ids[k], &x, &y, &v)) {
            a->add(r, a->data, &v, 1);
        }
    }
    ht_index_filter_free(qold);
    ht_index_filter_free(qnow);
    return ok && (!a->settle || a->settle(a->data));
}

static bool get_view(const void *p, const char *name, ht_value *out) {
    const ht_incident_view *v = p;
    if (strcmp(name, "id") == 0) {
        *out = (ht_value){.type = HT_VAL_NUMBER, .n = (double)v->id};
    } else if (strcmp(name, "category") == 0) {
        *out = (ht_value){.type = HT_VAL_STRING, .s = v->category};
    } else if (strcmp(name, "major") == 0) {
        *out = (ht_value){.type = HT_VAL_STRING, .s = v->major};
    } else if (strcmp(name, "severity") == 0) {
        *out = (ht_value){.type = HT_VAL_NUMBER, .n = v->severity};
    } else if (strcmp(name, "source") == 0) {
        *out = (ht_value){.type = HT_VAL_STRING,
                          .s = ht_model_source_name(v->source)};
    } else if (strcmp(name, "status") == 0) {
        *out = (ht_value){.type = HT_VAL_STRING,
                          .s = ht_model_state_name(v->state)};
    } else if (strcmp(name, "grid") == 0 && v->grid_code) {
        *out = (ht_value){.type = HT_VAL_STRING, .s = v->grid_code};
    } else {
        return false;
    }
    return true;
}

static double style_weight(void *ud, const ht_incident_view *v) {
    const ht_style_layer *l = ud;
    return ht_style_number(l, HT_P_HEATMAP_WEIGHT, 0, get_view, v);
}

static ht_status ensure_index(ht_renderer *r, ht_error *err) {
    if (r->index) {
        return HT_OK;
    }
    if (!r->store) {
        return ht_error_set(err, HT_EINVAL, "no incidents to aggregate");
    }
    return ht_index_load(r->store, &r->index, err);
}

/* Per-filter aggregates (street heat, choropleth, hotspots): a small LRU. */
static void *agg_get(ht_renderer *r, const char *key) {
    for (int k = 0; k < AGG_CACHE; k++) {
        if (r->aggs[k].key && strcmp(r->aggs[k].key, key) == 0) {
            r->aggs[k].used = ++r->clock;
            return r->aggs[k].data;
        }
    }
    return NULL;
}

/* Keep @data under @key; @add (may be NULL) and @settle keep it up to date
 * with changes, counting the incidents of @filter. */
typedef struct agg_kind {
    void (*free)(void *);
    void (*add)(ht_renderer *r, void *data, const ht_incident_view *v, int w);
    bool (*settle)(void *data);
} agg_kind;

static ht_status agg_put(ht_renderer *r, const char *key, void *data,
                         const agg_kind *kind, const ht_filter *filter,
                         ht_error *err) {
    void (*fr)(void *) = kind->free;
    int slot = 0;
    for (int k = 1; k < AGG_CACHE; k++) {
        if (r->aggs[k].used < r->aggs[slot].used) {
            slot = k;
        }
    }
    char *kc = strdup(key);
    if (!kc) {
        fr(data);
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    struct agg_slot *a = &r->aggs[slot];
    free(a->key);
    if (a->data) {
        a->free(a->data);
    }
    *a = (struct agg_slot){kc,        data,         fr,     ++r->clock,
                           kind->add, kind->settle, *filter};
    return HT_OK;
}

static void agg_key(const ht_style *style, const ht_style_layer *l,
                    const ht_filter *filter, char *out, size_t size) {
    ht_filter all = ht_filter_all();
    char fkey[1024];
    ht_filter_key(filter ? filter : &all, fkey, sizeof fkey);
    snprintf(out, size, "%s|%s|%s", ht_style_name(style), l->id, fkey);
}

/* The layer's density grid under @filter: from the cache, else built. */
static ht_status heat_for(ht_renderer *r, const ht_style *style,
                          const ht_style_layer *l, const ht_filter *filter,
                          const ht_heat **out, ht_error *err) {
    ht_status st = ensure_index(r, err);
    if (st != HT_OK) {
        return st;
    }
    ht_filter all = ht_filter_all();
    const ht_filter *f = filter ? filter : &all;
    char fkey[1024], key[1400];
    ht_filter_key(f, fkey, sizeof fkey);
    snprintf(key, sizeof key, "%s|%s|%s", ht_style_name(style), l->id, fkey);
    int free_slot = 0;
    for (int k = 0; k < HEAT_CACHE; k++) {
        if (r->heats[k].key && strcmp(r->heats[k].key, key) == 0) {
            r->heats[k].used = ++r->clock;
            *out = r->heats[k].heat;
            return HT_OK;
        }
        if (r->heats[k].used < r->heats[free_slot].used) {
            free_slot = k;
        }
    }
    ht_index_filter *q;
    if ((st = ht_index_filter_new(r->index, f, &q, err)) != HT_OK) {
        return st;
    }
    char kbuf[16];
    ht_heat_opts o = {
        .radius_m = ht_style_number(l, HT_P_HEATMAP_RADIUS, 0, NULL, NULL)};
    st = ht_heat_kernel_parse(ht_style_string(l, HT_P_HEATMAP_KERNEL, 0, NULL,
                                              NULL, kbuf, sizeof kbuf),
                              &o.kernel, err);
    if (st == HT_OK && l->props[HT_P_HEATMAP_WEIGHT] &&
        !(l->zoom_only[HT_P_HEATMAP_WEIGHT] &&
          ht_style_number(l, HT_P_HEATMAP_WEIGHT, 0, NULL, NULL) == 1)) {
        o.weight = style_weight;
        o.weight_ud = (void *)l;
    }
    ht_heat *h = NULL;
    if (st == HT_OK) {
        st = ht_heat_build(r->index, q, &o, &h, err);
    }
    ht_index_filter_free(q);
    char *k = st == HT_OK ? strdup(key) : NULL;
    if (st == HT_OK && !k) {
        ht_heat_free(h);
        st = ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    if (st != HT_OK) {
        return st;
    }
    struct heat_slot *slot = &r->heats[free_slot];
    free(slot->key);
    ht_heat_free(slot->heat);
    *slot = (struct heat_slot){k, h, ++r->clock, *f};
    *out = h;
    return HT_OK;
}

#define DAY_S 86400

/* The colour scale of heatmap layer @l under @filter: its top, in the
 * layer's unit, and @per, what a density is divided by to be in that unit
 * (1 for "total"; the window's days for "per-day", whose `auto` top comes
 * from the reference period instead of the window). */
static ht_status heat_scale(ht_renderer *r, const ht_style *style,
                            const ht_style_layer *l, const ht_filter *filter,
                            double *top, double *per, ht_error *err) {
    double fixed = ht_style_number(l, HT_P_HEATMAP_SCALE, 0, NULL, NULL);
    char ubuf[16];
    bool per_day = strcmp(ht_style_string(l, HT_P_HEATMAP_UNIT, 0, NULL, NULL,
                                          ubuf, sizeof ubuf),
                          "per-day") == 0;
    *per = 1;
    const ht_heat *h;
    ht_status st;
    if (!per_day) {
        st = heat_for(r, style, l, filter, &h, err);
        if (st == HT_OK) {
            *top = fixed > 0 ? fixed : ht_heat_auto_scale(h);
        }
        return st;
    }
    if ((st = ensure_index(r, err)) != HT_OK) {
        return st;
    }
    ht_filter all = ht_filter_all();
    const ht_filter *f = filter ? filter : &all;
    if (!r->times_known) {
        /* Once per index: a scan of every incident. */
        r->times_known =
            ht_index_time_range(r->index, &r->first, &r->last) ? 2 : 1;
    }
    if (r->times_known == 1) {
        *top = fixed > 0 ? fixed : 0;
        return HT_OK;
    }
    int64_t first = r->first, last = r->last;
    /* The reference: the last N whole UTC days of the data, ending at the
     * midnight after the latest report, so it does not move with the
     * window shown and changes at most once a day. */
    double ref_days =
        ht_style_number(l, HT_P_HEATMAP_REFERENCE_DAYS, 0, NULL, NULL);
    int64_t ref_end = (last / DAY_S + 1) * DAY_S;
    int64_t lo = f->from != INT64_MIN ? f->from : first / DAY_S * DAY_S;
    int64_t hi = f->to != INT64_MAX ? f->to : ref_end;
    /* Windows shorter than an hour would turn one report into a blaze. */
    *per = fmax((double)(hi - lo) / DAY_S, 1.0 / 24);
    if (fixed > 0) {
        *top = fixed;
        return HT_OK;
    }
    ht_filter ref = *f;
    ref.from = ref_end - (int64_t)llround(ref_days * DAY_S);
    ref.to = ref_end;
    st = heat_for(r, style, l, &ref, &h, err);
    if (st == HT_OK) {
        *top = ht_heat_auto_scale(h) / ref_days;
    }
    return st;
}

ht_status ht_render_heat_top(ht_renderer *r, const ht_style *style,
                             const ht_style_layer *l, const ht_filter *filter,
                             double *top, ht_error *err) {
    double per;
    return heat_scale(r, style, l, filter, top, &per, err);
}

static ht_status draw_heatmap(frame *f, const ht_style_layer *l) {
    const ht_heat *h;
    double unit_top, per;
    ht_status st = heat_scale(f->r, f->req->style, l, f->req->filter, &unit_top,
                              &per, f->err);
    if (st == HT_OK) {
        st = heat_for(f->r, f->req->style, l, f->req->filter, &h, f->err);
    }
    /* The top as a density of this window (per-day: times its days). */
    double top = unit_top * per;
    if (st != HT_OK || !(top > 0)) {
        return st;
    }
    /* The colour of every density, once: premultiplied ARGB. */
    uint32_t lut[LUT];
    double op = ht_style_number(l, HT_P_HEATMAP_OPACITY, f->zoom, NULL, NULL);
    for (int k = 0; k < LUT; k++) {
        double v = top * k / (LUT - 1);
        ht_rgba c = ht_style_heat_color(l, f->zoom, v / per, unit_top);
        double a = fmin(fmax(c.a * op, 0), 1);
        uint32_t A = (uint32_t)lround(a * 255);
        uint32_t R = (uint32_t)lround(fmin(fmax(c.r, 0), 1) * a * 255);
        uint32_t G = (uint32_t)lround(fmin(fmax(c.g, 0), 1) * a * 255);
        uint32_t B = (uint32_t)lround(fmin(fmax(c.b, 0), 1) * a * 255);
        lut[k] = A << 24 | R << 16 | G << 8 | B;
    }
    int w = f->req->width, hgt = f->req->height;
    cairo_surface_t *img =
        cairo_image_surface_create(CAIRO_FORMAT_ARGB32, w, hgt);
    if (cairo_surface_status(img) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(img);
        return ht_error_set(f->err, HT_ENOMEM, "out of memory for the heat");
    }
    unsigned char *data = cairo_image_surface_get_data(img);
    int stride = cairo_image_surface_get_stride(img);
    const ht_bbox *b = &f->req->bbox;
    /* Every pixel shows the density at its centre. */
    for (int j = 0; j < hgt; j++) {
        uint32_t *row = (uint32_t *)(data + (size_t)j * stride);
        double cy = b->maxy - (j + 0.5) / f->sy;
        for (int i = 0; i < w; i++) {
            double cx = b->minx + (i + 0.5) / f->sx, mx = cx, my = cy;
            if (!f->merc) {
                double lon, lat;
                if (ht_crs_transform_point(f->r->inv, cx, cy, &lon, &lat,
                                           NULL) != HT_OK) {
                    row[i] = 0;
                    continue;
                }
                ht_tile_lonlat_to_merc(lon, lat, &mx, &my);
            }
            double v = ht_heat_sample(h, mx, my);
            int k = (int)(fmin(v / top, 1) * (LUT - 1) + 0.5);
            row[i] = v > 0 ? lut[k] : lut[0];
        }
    }
    cairo_surface_mark_dirty(img);
    cairo_set_source_surface(f->cr, img, 0, 0);
    cairo_paint(f->cr);
    cairo_surface_destroy(img);
    return HT_OK;
}

/* ---- street heat, choropleths, hotspots ---- */

static void street_heat_free(void *p) {
    ht_street_heat_free(p);
}

static void street_heat_add(ht_renderer *r, void *p, const ht_incident_view *v,
                            int w) {
    ht_street_heat_add(p, r->features, v->street_id, w);
}

static bool street_heat_settle(void *p) {
    return ht_street_heat_rescale(p, NULL) == HT_OK;
}

static const agg_kind street_heat_kind = {street_heat_free, street_heat_add,
                                          street_heat_settle};

/* A street and its rate, sorted by the rate (then by where it stood, so
 * the order is the same on every machine). The pairs carry their key: no
 * sort context shared between the threads that draw. */
typedef struct rated_street {
    double rate;
    uint32_t pos, id;
} rated_street;

static int cmp_rated_street(const void *a, const void *b) {
    const rated_street *p = a, *q = b;
    if (p->rate != q->rate) {
        return (p->rate > q->rate) - (p->rate < q->rate);
    }
    return (p->pos > q->pos) - (p->pos < q->pos);
}

/* The street heat of a filter (cached per renderer) and the top of a
 * layer's colour scale for it. */
static ht_status street_heat_for(ht_renderer *r, const ht_style_layer *l,
                                 const ht_filter *filter,
                                 const ht_street_heat **out, double *top,
                                 ht_error *err) {
    ht_status st = ensure_index(r, err);
    if (st != HT_OK) {
        return st;
    }
    char key[1400];
    ht_filter all = ht_filter_all();
    char fkey[1024];
    ht_filter_key(filter ? filter : &all, fkey, sizeof fkey);
    snprintf(key, sizeof key, "street-heat|%s", fkey);
    ht_street_heat *sh = agg_get(r, key);
    if (!sh) {
        ht_index_filter *q;
        st = ht_index_filter_new(r->index, filter ? filter : &all, &q, err);
        if (st == HT_OK) {
            st = ht_analysis_street_heat(r->index, q, r->features, &sh, err);
            ht_index_filter_free(q);
        }
        if (st == HT_OK) {
            st = agg_put(r, key, sh, &street_heat_kind, filter ? filter : &all,
                         err);
        }
        if (st != HT_OK) {
            return st;
        }
    }
    double fixed = ht_style_number(l, HT_P_STREET_HEAT_SCALE, 0, NULL, NULL);
    *top = fixed > 0 ? fixed : sh->auto_scale;
    *out = sh;
    return HT_OK;
}

static ht_status draw_street_heat(frame *f, const ht_style_layer *l) {
    const ht_street_heat *sh;
    double top;
    ht_status st = street_heat_for(f->r, l, f->req->filter, &sh, &top, f->err);
    size_t n;
    if (st != HT_OK || !(top > 0) ||
        (st = query(f, HT_F_STREETS, &n)) != HT_OK) {
        return st;
    }
    /* Hot streets last, on top. */
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t id = f->r->ids[i];
        if (sh->count[id] &&
            ht_style_filter(l, f->zoom, get_street,
                            ht_features_street(f->r->features, id))) {
            f->r->ids[m++] = id;
        }
    }
    if (m > 1) {
        rated_street *rs = malloc(m * sizeof *rs);
        if (!rs) {
            return ht_error_set(f->err, HT_ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < m; i++) {
            rs[i] = (rated_street){sh->rate[f->r->ids[i]], (uint32_t)i,
                                   f->r->ids[i]};
        }
        qsort(rs, m, sizeof *rs, cmp_rated_street);
        for (size_t i = 0; i < m; i++) {
            f->r->ids[i] = rs[i].id;
        }
        free(rs);
    }
    double w = ht_style_number(l, HT_P_STREET_HEAT_WIDTH, f->zoom, NULL, NULL) *
               f->req->scale;
    double op =
        ht_style_number(l, HT_P_STREET_HEAT_OPACITY, f->zoom, NULL, NULL);
    cairo_set_line_width(f->cr, w);
    cairo_set_line_cap(f->cr, CAIRO_LINE_CAP_ROUND);
    cairo_set_line_join(f->cr, CAIRO_LINE_JOIN_ROUND);
    for (size_t i = 0; i < m; i++) {
        const ht_fstreet *s = ht_features_street(f->r->features, f->r->ids[i]);
        cairo_new_path(f->cr);
        add_geom_path(f, s->geom, false);
        set_color(f->cr,
                  ht_style_ramp_color(l, HT_P_STREET_HEAT_COLOR, f->zoom,
                                      sh->rate[f->r->ids[i]], top),
                  op);
        cairo_stroke(f->cr);
    }
    return HT_OK;
}

/* Values per grid and their classes, for a choropleth or hotspot layer. */
typedef struct classed {
    double *value; /* per features grid; NAN: not in the layer */
    double breaks[12];
    int k;
    ht_rgba colors[12];
} classed;

static void classed_free(void *p) {
    classed *c = p;
    if (c) {
        free(c->value);
        free(c);
    }
}

/* Classes are made again after a change (from the kept counts). */
static const agg_kind classed_kind = {classed_free, NULL, NULL};

/* Counts per grid (ht_analysis_grid_counts), kept up to date. */
typedef struct kept_counts {
    double *v;
} kept_counts;

static void counts_free(void *p) {
    kept_counts *c = p;
    if (c) {
        free(c->v);
        free(c);
    }
}

static void counts_add(ht_renderer *r, void *p, const ht_incident_view *v,
                       int w) {
    ht_analysis_grid_counts_add(r->features, ((kept_counts *)p)->v,
                                v->grid_code, w);
}

static const agg_kind counts_kind = {counts_free, counts_add, NULL};

/* Counts per grid under @flt, in a copy of the renderer's kept ones (the
 * pass over the index is done once a filter, then kept up to date). */
static ht_status grid_counts(frame *f, const ht_filter *flt, double **out) {
    char fkey[1024], key[1100];
    ht_filter_key(flt, fkey, sizeof fkey);
    snprintf(key, sizeof key, "grid-counts|%s", fkey);
    size_t n = ht_features_grid_count(f->r->features) + 1;
    kept_counts *c = agg_get(f->r, key);
    ht_status st = HT_OK;
    if (!c) {
        ht_index_filter *q;
        c = calloc(1, sizeof *c);
        st = c ? ht_index_filter_new(f->r->index, flt, &q, f->err)
               : ht_error_set(f->err, HT_ENOMEM, "out of memory");
        if (st == HT_OK) {
            st = ht_analysis_grid_counts(f->r->index, q, f->r->features, &c->v,
                                         f->err);
            ht_index_filter_free(q);
        }
        if (st == HT_OK) {
            st = agg_put(f->r, key, c, &counts_kind, flt, f->err);
        } else {
            counts_free(c);
        }
        if (st != HT_OK) {
            return st;
        }
    }
    if (!(*out = malloc(n * sizeof **out))) {
        return ht_error_set(f->err, HT_ENOMEM, "out of memory");
    }
    memcpy(*out, c->v, n * sizeof **out);
    return HT_OK;
}

static void colors_of(const ht_style_layer *l, ht_prop p,
                      const char *const *dflt, int ndflt, classed *c) {
    const char *names[12];
    size_t n = ht_style_strings(l, p, 0, names, 12);
    const char *const *use = n ? names : dflt;
    c->k = n ? (int)n : ndflt;
    for (int i = 0; i < c->k; i++) {
        ht_style_parse_color(use[i], &c->colors[i], NULL);
    }
}

/* Membership in an aggregate must not change with zoom: layer filters are
 * read at zoom 0 here. */
static bool in_layer(const ht_style_layer *l, const ht_fgrid *g) {
    return ht_style_filter(l, 0, get_grid, g);
}

static ht_status build_choropleth(frame *f, const ht_style_layer *l,
                                  classed **out) {
    static const char *const seq[] = {"#ffffb2", "#fecc5c", "#fd8d3c",
                                      "#f03b20", "#bd0026"};
    static const char *const div[] = {"#2166ac", "#92c5de", "#f7f7f7",
                                      "#f4a582", "#b2182b"};
    char mbuf[16], cbuf[16];
    const char *metric = ht_style_string(l, HT_P_CHOROPLETH_METRIC, 0, NULL,
                                         NULL, mbuf, sizeof mbuf);
    const char *how = ht_style_string(l, HT_P_CHOROPLETH_CLASSES, 0, NULL, NULL,
                                      cbuf, sizeof cbuf);
    ht_filter all = ht_filter_all();
    const ht_filter *flt = f->req->filter ? f->req->filter : &all;
    bool change = strcmp(metric, "change") == 0;
    classed *c = calloc(1, sizeof *c);
    double *now = NULL, *prev = NULL;
    size_t n = ht_features_grid_count(f->r->features);
    ht_status st = c && (c->value = malloc((n + 1) * sizeof *c->value))
                       ? grid_counts(f, flt, &now)
                       : ht_error_set(f->err, HT_ENOMEM, "out of memory");
    bool timed = flt->from != INT64_MIN && flt->to != INT64_MAX;
    if (st == HT_OK && change && timed) {
        /* The previous period of the same length. */
        ht_filter before = *flt;
        before.to = flt->from;
        before.from = flt->from - (flt->to - flt->from);
        st = grid_counts(f, &before, &prev);
    }
    for (size_t i = 0; st == HT_OK && i < n; i++) {
        const ht_fgrid *g = ht_features_grid(f->r->features, i);
        double v = NAN;
        if (in_layer(l, g)) {
            if (strcmp(metric, "count") == 0) {
                v = now[i];
            } else if (strcmp(metric, "density") == 0) {
                v = g->area_m2 > 0 ? now[i] / (g->area_m2 / 1e6) : NAN;
            } else if (strcmp(metric, "rate") == 0) {
                v = g->population > 0 ? now[i] / (double)g->population * 1000
                                      : NAN;
            } else if (prev) {
                /* Symmetric percent change: defined when one side is 0. */
                double mid = (now[i] + prev[i]) / 2;
                v = mid > 0 ? (now[i] - prev[i]) / mid * 100 : 0;
            }
        }
        c->value[i] = v;
    }
    if (st == HT_OK) {
        colors_of(l, HT_P_CHOROPLETH_COLORS, change ? div : seq, 5, c);
        if (strcmp(how, "fixed") == 0) {
            ht_style_numbers(l, HT_P_CHOROPLETH_BREAKS, 0, c->breaks, 12);
        } else {
            st = ht_analysis_breaks(
                c->value, n, c->k,
                strcmp(how, "jenks") == 0 ? HT_CLASS_JENKS : HT_CLASS_QUANTILE,
                c->breaks, f->err);
        }
    }
    free(now);
    free(prev);
    if (st != HT_OK) {
        classed_free(c);
        return st;
    }
    *out = c;
    return HT_OK;
}

static ht_status build_hotspots(frame *f, const ht_style_layer *l,
                                classed **out) {
    static const char *const arc[] = {"#4575b5", "#849eba", "#c0ccbe",
                                      "#ffffbf", "#fab984", "#ed7551",
                                      "#d62f27"};
    ht_filter all = ht_filter_all();
    const ht_filter *flt = f->req->filter ? f->req->filter : &all;
    size_t n = ht_features_grid_count(f->r->features);
    classed *c = calloc(1, sizeof *c);
    double *counts = NULL, *x = NULL, *z = NULL;
    uint32_t *ids = NULL;
    ht_neighbours nb = {0};
    ht_status st = c && (c->value = malloc((n + 1) * sizeof *c->value)) &&
                           (ids = malloc((n + 1) * sizeof *ids)) &&
                           (x = malloc((n + 1) * sizeof *x)) &&
                           (z = malloc((n + 1) * sizeof *z))
                       ? grid_counts(f, flt, &counts)
                       : ht_error_set(f->err, HT_ENOMEM, "out of memory");
    size_t m = 0;
    for (size_t i = 0; st == HT_OK && i < n; i++) {
        c->value[i] = NAN;
        if (in_layer(l, ht_features_grid(f->r->features, i))) {
            x[m] = counts[i];
            ids[m++] = (uint32_t)i;
        }
    }
    char nbuf[16];
    bool dist = strcmp(ht_style_string(l, HT_P_HOTSPOT_NEIGHBOURS, 0, NULL,
                                       NULL, nbuf, sizeof nbuf),
                       "distance") == 0;
    if (st == HT_OK && m > 1) {
        st = ht_analysis_neighbours(
            f->r->features, ids, m,
            dist ? ht_style_number(l, HT_P_HOTSPOT_DISTANCE, 0, NULL, NULL) : 0,
            &nb, f->err);
        if (st == HT_OK) {
            st = ht_analysis_gistar(x, &nb, z, f->err);
        }
        for (size_t k = 0; st == HT_OK && k < m; k++) {
            /* Store the class + 3 (0..6), an index into the colours. */
            c->value[ids[k]] = ht_analysis_gistar_class(z[k]) + 3;
        }
    }
    if (st == HT_OK) {
        colors_of(l, HT_P_HOTSPOT_COLORS, arc, 7, c);
    }
    ht_neighbours_free(&nb);
    free(counts);
    free(ids);
    free(x);
    free(z);
    if (st != HT_OK) {
        classed_free(c);
        return st;
    }
    *out = c;
    return HT_OK;
}

/* The classes of a choropleth or hotspot layer for the filter of @f
 * (cached per renderer). */
static ht_status classed_for(frame *f, const ht_style_layer *l, bool hot,
                             const classed **out) {
    ht_status st = ensure_index(f->r, f->err);
    if (st != HT_OK) {
        return st;
    }
    char key[1400];
    agg_key(f->req->style, l, f->req->filter, key, sizeof key);
    classed *c = agg_get(f->r, key);
    if (!c) {
        st = hot ? build_hotspots(f, l, &c) : build_choropleth(f, l, &c);
        if (st == HT_OK) {
            ht_filter all = ht_filter_all();
            st = agg_put(f->r, key, c, &classed_kind,
                         f->req->filter ? f->req->filter : &all, f->err);
        }
        if (st != HT_OK) {
            return st;
        }
    }
    *out = c;
    return HT_OK;
}

static ht_status draw_classed(frame *f, const ht_style_layer *l, bool hot) {
    const classed *c;
    ht_status st = classed_for(f, l, hot, &c);
    size_t n;
    if (st != HT_OK || (st = query(f, HT_F_GRIDS, &n)) != HT_OK) {
        return st;
    }
    double op =
        ht_style_number(l, hot ? HT_P_HOTSPOT_OPACITY : HT_P_CHOROPLETH_OPACITY,
                        f->zoom, NULL, NULL);
    ht_rgba outline = ht_style_color(
        l, hot ? HT_P_HOTSPOT_OUTLINE_COLOR : HT_P_CHOROPLETH_OUTLINE_COLOR,
        f->zoom, NULL, NULL);
    cairo_set_fill_rule(f->cr, CAIRO_FILL_RULE_EVEN_ODD);
    cairo_set_line_width(f->cr, f->req->scale);
    for (size_t i = 0; i < n; i++) {
        uint32_t id = f->r->ids[i];
        double v = c->value[id];
        if (!isfinite(v)) {
            continue;
        }
        int k = hot ? (int)v : ht_analysis_class_of(v, c->breaks, c->k);
        const ht_fgrid *g = ht_features_grid(f->r->features, id);
        cairo_new_path(f->cr);
        add_geom_path(f, g->geom, true);
        set_color(f->cr, c->colors[k], op);
        cairo_fill_preserve(f->cr);
        set_color(f->cr, outline, 1);
        cairo_stroke(f->cr);
    }
    return HT_OK;
}

/* ---- legends ---- */

#define LEGEND_W 360
#define LEGEND_ROW 78   /* a ramp */
#define LEGEND_HEAD 30  /* a title above class swatches */
#define LEGEND_CLASS 20 /* one class swatch */

static bool has_legend(const ht_style_layer *l) {
    return l->type == HT_LAYER_HEATMAP || l->type == HT_LAYER_STREET_HEAT ||
           l->type == HT_LAYER_CHOROPLETH || l->type == HT_LAYER_HOTSPOT;
}

bool ht_render_style_has_legend(const ht_style *style) {
    for (size_t i = 0; i < ht_style_layer_count(style); i++) {
        if (has_legend(ht_style_layer_at(style, i))) {
            return true;
        }
    }
    return false;
}

/* Classes a choropleth or hotspot layer draws (known from the style). */
static int class_count(const ht_style_layer *l) {
    const char *names[12];
    if (l->type == HT_LAYER_HOTSPOT) {
        return 7;
    }
    size_t n = ht_style_strings(l, HT_P_CHOROPLETH_COLORS, 0, names, 12);
    return n ? (int)n : 5;
}

/* Height of a layer's legend in CSS pixels. */
static int legend_height(const ht_style_layer *l) {
    if (l->type == HT_LAYER_HEATMAP || l->type == HT_LAYER_STREET_HEAT) {
        return LEGEND_ROW;
    }
    return LEGEND_HEAD + class_count(l) * LEGEND_CLASS + 8;
}

void ht_render_legend_size(const ht_style *style, double scale, int *w,
                           int *h) {
    int total = 0;
    for (size_t i = 0; i < ht_style_layer_count(style); i++) {
        const ht_style_layer *l = ht_style_layer_at(style, i);
        total += has_legend(l) ? legend_height(l) : 0;
    }
    *w = (int)lround(LEGEND_W * scale);
    *h = (int)lround((total ? total : LEGEND_ROW) * scale);
}

/* A tidy step for ticks: 1, 2 or 5 times a power of ten. */
static double nice_step(double span) {
    double raw = span / 4, p = pow(10, floor(log10(raw))), m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

static const text_paint legend_ink = {{0.15, 0.15, 0.2, 1}, {1, 1, 1, 1}, 0, 1};

/* Text whose left edge is at @x, baseline-centred at @y. */
static void legend_text(ht_renderer *r, cairo_t *cr, const char *s, double size,
                        double x, double y) {
    const glyph *g = text_glyph(r, s, size, DEFAULT_FONT);
    if (g) {
        draw_glyph(&(frame){.r = r, .cr = cr}, g, x + g->w / 2, y, &legend_ink);
    }
}

/* A colour ramp from 0 to @top with ticks: heat and street heat. */
static void legend_ramp(ht_renderer *r, cairo_t *cr, const ht_style_layer *l,
                        double top, const char *title, double y0,
                        double scale) {
    double x0 = 14 * scale, bw = (LEGEND_W - 28) * scale, bh = 16 * scale;
    bool heat = l->type == HT_LAYER_HEATMAP;
    legend_text(r, cr, title, 13 * scale, x0, y0 + 14 * scale);
    double op = ht_style_number(
        l, heat ? HT_P_HEATMAP_OPACITY : HT_P_STREET_HEAT_OPACITY, 0, NULL,
        NULL);
    for (int k = 0; k < (int)bw; k++) {
        double v = top > 0 ? top * k / (bw - 1) : 0;
        ht_rgba c =
            heat ? ht_style_heat_color(l, 0, v, top)
                 : ht_style_ramp_color(l, HT_P_STREET_HEAT_COLOR, 0, v, top);
        cairo_set_source_rgba(cr, c.r, c.g, c.b, c.a * op);
        cairo_rectangle(cr, x0 + k, y0 + 26 * scale, 1, bh);
        cairo_fill(cr);
    }
    cairo_set_source_rgb(cr, 0.3, 0.3, 0.35);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, x0 + 0.5, y0 + 26 * scale + 0.5, bw - 1, bh - 1);
    cairo_stroke(cr);
    double step = top > 0 ? nice_step(top) : 1;
    for (double t = 0; top > 0 && t <= top * 1.0001; t += step) {
        double x = x0 + t / top * (bw - 1);
        cairo_move_to(cr, x + 0.5, y0 + 26 * scale + bh);
        cairo_line_to(cr, x + 0.5, y0 + 30 * scale + bh);
        cairo_stroke(cr);
        char num[32];
        snprintf(num, sizeof num, "%g", t);
        const glyph *ng = text_glyph(r, num, 11 * scale, DEFAULT_FONT);
        if (ng) {
            double nx = fmin(fmax(x, x0 + ng->w / 2), x0 + bw - ng->w / 2);
            draw_glyph(&(frame){.r = r, .cr = cr}, ng, nx, y0 + 40 * scale + bh,
                       &legend_ink);
        }
    }
}

/* Swatches, one per class, with their labels. */
static void legend_classes(ht_renderer *r, cairo_t *cr, const ht_style_layer *l,
                           const classed *c, const char *title,
                           const char *const *labels, double y0, double scale) {
    double x0 = 14 * scale;
    bool hot = l->type == HT_LAYER_HOTSPOT;
    double op = ht_style_number(
        l, hot ? HT_P_HOTSPOT_OPACITY : HT_P_CHOROPLETH_OPACITY, 0, NULL, NULL);
    legend_text(r, cr, title, 13 * scale, x0, y0 + 14 * scale);
    for (int k = 0; k < c->k; k++) {
        /* Highest class on top, as readers expect of a legend. */
        int cls = c->k - 1 - k;
        double y = y0 + (LEGEND_HEAD + k * LEGEND_CLASS) * scale;
        cairo_rectangle(cr, x0, y, 28 * scale, (LEGEND_CLASS - 4) * scale);
        set_color(cr, c->colors[cls], op);
        cairo_fill_preserve(cr);
        cairo_set_source_rgb(cr, 0.3, 0.3, 0.35);
        cairo_set_line_width(cr, 1);
        cairo_stroke(cr);
        legend_text(r, cr, labels[cls], 11 * scale, x0 + 38 * scale,
                    y + (LEGEND_CLASS - 4) * scale / 2);
    }
}

/* "%g" with at most 3 significant decimals, for class bounds. */
static void bound_text(char *out, size_t len, double v) {
    snprintf(out, len, fabs(v) >= 100 ? "%.0f" : "%.3g", v);
}

static ht_status legend_layer(ht_renderer *r, const ht_style *style,
                              const ht_style_layer *l, const ht_filter *filter,
                              double y0, double scale, cairo_t *cr,
                              ht_error *err) {
    char title[200];
    if (l->type == HT_LAYER_HEATMAP) {
        double top;
        ht_status st = ht_render_heat_top(r, style, l, filter, &top, err);
        if (st == HT_OK) {
            char ubuf[16];
            bool per_day = strcmp(ht_style_string(l, HT_P_HEATMAP_UNIT, 0, NULL,
                                                  NULL, ubuf, sizeof ubuf),
                                  "per-day") == 0;
            snprintf(title, sizeof title,
                     "事件密度 incidents/km²%s  (r = %g m)",
                     per_day ? " per day" : "",
                     ht_style_number(l, HT_P_HEATMAP_RADIUS, 0, NULL, NULL));
            legend_ramp(r, cr, l, top, title, y0, scale);
        }
        return st;
    }
    if (l->type == HT_LAYER_STREET_HEAT) {
        const ht_street_heat *sh;
        double top;
        ht_status st = street_heat_for(r, l, filter, &sh, &top, err);
        if (st == HT_OK) {
            legend_ramp(r, cr, l, top, "街巷热度 incidents per 100 m of street",
                        y0, scale);
        }
        return st;
    }
    bool hot = l->type == HT_LAYER_HOTSPOT;
    ht_render_req req = {.style = style, .filter = filter, .scale = scale};
    frame f = {.r = r, .req = &req, .cr = cr, .err = err};
    const classed *c;
    ht_status st = classed_for(&f, l, hot, &c);
    if (st != HT_OK) {
        return st;
    }
    char text[12][64];
    const char *labels[12];
    if (hot) {
        static const char *const names[7] = {"冷点 cold spot, 99 % confidence",
                                             "冷点 cold spot, 95 %",
                                             "冷点 cold spot, 90 %",
                                             "不显著 not significant",
                                             "热点 hot spot, 90 %",
                                             "热点 hot spot, 95 %",
                                             "热点 hot spot, 99 % confidence"};
        for (int k = 0; k < 7; k++) {
            labels[k] = names[k];
        }
        snprintf(title, sizeof title, "热点分析 Getis-Ord Gi* per grid");
    } else {
        char mbuf[16];
        const char *metric = ht_style_string(l, HT_P_CHOROPLETH_METRIC, 0, NULL,
                                             NULL, mbuf, sizeof mbuf);
        const char *unit =
            strcmp(metric, "density") == 0  ? "incidents/km²"
            : strcmp(metric, "rate") == 0   ? "incidents per 1,000 residents"
            : strcmp(metric, "change") == 0 ? "change vs previous period, %"
                                            : "incidents";
        snprintf(title, sizeof title, "网格 per grid: %s", unit);
        for (int k = 0; k < c->k; k++) {
            char lo[24], hi[24];
            if (k > 0) {
                bound_text(lo, sizeof lo, c->breaks[k - 1]);
            }
            if (k < c->k - 1) {
                bound_text(hi, sizeof hi, c->breaks[k]);
            }
            if (c->k == 1) {
                snprintf(text[k], sizeof text[k], "all");
            } else if (k == 0) {
                snprintf(text[k], sizeof text[k], "≤ %s", hi);
            } else if (k == c->k - 1) {
                snprintf(text[k], sizeof text[k], "> %s", lo);
            } else {
                snprintf(text[k], sizeof text[k], "%s – %s", lo, hi);
            }
            labels[k] = text[k];
        }
    }
    legend_classes(r, cr, l, c, title, labels, y0, scale);
    return HT_OK;
}

ht_status ht_render_legend(ht_renderer *r, const ht_style *style,
                           const ht_filter *filter, double scale, cairo_t *cr,
                           ht_error *err) {
    ht_status st = HT_OK;
    int y = 0, drawn = 0;
    cairo_set_source_rgba(cr, 1, 1, 1, 0.92);
    cairo_paint(cr);
    for (size_t i = 0; st == HT_OK && i < ht_style_layer_count(style); i++) {
        const ht_style_layer *l = ht_style_layer_at(style, i);
        if (!has_legend(l)) {
            continue;
        }
        cairo_save(cr);
        st = legend_layer(r, style, l, filter, y * scale, scale, cr, err);
        cairo_restore(cr);
        y += legend_height(l);
        drawn++;
    }
    if (st == HT_OK && drawn == 0) {
        st = ht_error_set(err, HT_EINVAL,
                          "style \"%s\" has no heatmap, street-heat, "
                          "choropleth or hotspot layer",
                          ht_style_name(style));
    }
    return st;
}

/* ---- extents ---- */

ht_status ht_render_fit_grid(const ht_features *features, const char *code,
                             const char *crs, int w, int h, ht_bbox *out,
                             ht_error *err) {
    const ht_fgrid *g = ht_features_find_grid(features, code);
    if (!g) {
        return ht_error_set(err, HT_EINVAL, "no grid \"%s\"", code);
    }
    ht_bbox b = g->bbox;
    char name[HT_CRS_NAME_SIZE];
    ht_status st = ht_crs_normalize(crs ? crs : "EPSG:3857", name, err);
    if (st != HT_OK) {
        return st;
    }
    if (strcmp(name, "EPSG:3857") != 0) {
        ht_transform *t;
        if ((st = ht_crs_transform_new("EPSG:4326", name, &t, err)) != HT_OK) {
            return st;
        }
        ht_bbox m = b;
        b = ht_bbox_empty();
        for (int k = 0; k <= 8 && st == HT_OK; k++) {
            double fx = m.minx + (m.maxx - m.minx) * k / 8.0;
            double fy = m.miny + (m.maxy - m.miny) * k / 8.0;
            double pts[4][2] = {
                {fx, m.miny}, {fx, m.maxy}, {m.minx, fy}, {m.maxx, fy}};
            for (int q = 0; q < 4 && st == HT_OK; q++) {
                double lon, lat, x, y;
                ht_tile_merc_to_lonlat(pts[q][0], pts[q][1], &lon, &lat);
                st = ht_crs_transform_point(t, lon, lat, &x, &y, err);
                ht_bbox_add(&b, x, y);
            }
        }
        ht_crs_transform_free(t);
        if (st != HT_OK) {
            return st;
        }
    }
    double cx = (b.minx + b.maxx) / 2, cy = (b.miny + b.maxy) / 2;
    double bw = (b.maxx - b.minx) * 1.1, bh = (b.maxy - b.miny) * 1.1;
    if (bw / bh < (double)w / h) {
        bw = bh * w / h;
    } else {
        bh = bw * h / w;
    }
    *out = (ht_bbox){cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2};
    return HT_OK;
}

/* ---- entry point ---- */

/* ---- what a tile depends on ---- */

double ht_render_reach(const ht_render_req *req) {
    double res = (req->bbox.maxx - req->bbox.minx) / req->width;
    double lon, lat;
    ht_tile_merc_to_lonlat((req->bbox.minx + req->bbox.maxx) / 2,
                           (req->bbox.miny + req->bbox.maxy) / 2, &lon, &lat);
    /* Ground metres to Web Mercator ones, at the box's nearer pole side. */
    double k = 1 / cos(fmin(fabs(lat) + 1, 89) * HT_PI / 180);
    double zoom = log2(2 * HT_MERC_HALF /
                       (256 * res * (req->scale > 0 ? req->scale : 1)));
    double reach = -1;
    for (size_t i = 0; i < ht_style_layer_count(req->style); i++) {
        const ht_style_layer *l = ht_style_layer_at(req->style, i);
        if (l->source != HT_SOURCE_INCIDENTS ||
            !ht_style_layer_visible(l, zoom)) {
            continue;
        }
        /* Markers and labels are looked up 64 px around the image; a
         * density reaches a radius, plus the nodes the interpolation
         * reads (2 spacings of r/8) and the grid's slack. */
        double m = 64 * res;
        if (l->type == HT_LAYER_HEATMAP) {
            double r = ht_style_number(l, HT_P_HEATMAP_RADIUS, 0, NULL, NULL);
            m = fmax(m, r * k * 1.6);
        }
        reach = fmax(reach, m);
    }
    return reach;
}

static uint64_t mix_double(uint64_t h, double v) {
    return ht_hash64(h, &v, sizeof v);
}

/* The street rates and colour scale a street-heat layer draws in @f. */
static ht_status street_heat_deps(frame *f, const ht_style_layer *l,
                                  uint64_t *h) {
    const ht_street_heat *sh;
    double top;
    size_t n;
    ht_status st = street_heat_for(f->r, l, f->req->filter, &sh, &top, f->err);
    if (st != HT_OK || (st = query(f, HT_F_STREETS, &n)) != HT_OK) {
        return st;
    }
    *h = mix_double(*h, top);
    for (size_t i = 0; i < n; i++) {
        uint32_t id = f->r->ids[i];
        if (sh->count[id]) {
            *h = ht_hash64(*h, &id, sizeof id);
            *h = mix_double(*h, sh->rate[id]);
        }
    }
    return HT_OK;
}

/* The classes and colours of the grids a choropleth or hotspot layer
 * draws in @f. */
static ht_status classed_deps(frame *f, const ht_style_layer *l, bool hot,
                              uint64_t *h) {
    const classed *c;
    size_t n;
    ht_status st = classed_for(f, l, hot, &c);
    if (st != HT_OK || (st = query(f, HT_F_GRIDS, &n)) != HT_OK) {
        return st;
    }
    *h = ht_hash64(*h, c->colors, sizeof c->colors);
    for (size_t i = 0; i < n; i++) {
        uint32_t id = f->r->ids[i];
        double v = c->value[id];
        int k = !isfinite(v) ? -1
                : hot        ? (int)v
                             : ht_analysis_class_of(v, c->breaks, c->k);
        *h = ht_hash64(*h, &id, sizeof id);
        *h = ht_hash64(*h, &k, sizeof k);
    }
    return HT_OK;
}

ht_status ht_render_fingerprint(ht_renderer *r, const ht_render_req *req,
                                uint64_t *out, ht_error *err) {
    frame f = {.r = r, .req = req, .err = err};
    uint64_t h = HT_HASH64_INIT;
    *out = h;
    if (!ht_render_style_has_legend(req->style)) {
        return HT_OK; /* no aggregates: base maps, markers */
    }
    ht_status st = frame_setup(&f, err);
    size_t nl = ht_style_layer_count(req->style);
    for (size_t i = 0; i < nl && st == HT_OK; i++) {
        const ht_style_layer *l = ht_style_layer_at(req->style, i);
        if (!ht_style_layer_visible(l, f.zoom)) {
            continue;
        }
        if (l->type == HT_LAYER_HEATMAP) {
            double top, per;
            st = heat_scale(r, req->style, l, req->filter, &top, &per, err);
            h = mix_double(mix_double(h, top), per);
        } else if (l->type == HT_LAYER_STREET_HEAT) {
            st = street_heat_deps(&f, l, &h);
        } else if (l->type == HT_LAYER_CHOROPLETH ||
                   l->type == HT_LAYER_HOTSPOT) {
            st = classed_deps(&f, l, l->type == HT_LAYER_HOTSPOT, &h);
        }
    }
    free(f.placed);
    *out = h;
    return st;
}

ht_status ht_render(ht_renderer *r, const ht_render_req *req, cairo_t *cr,
                    ht_error *err) {
    frame f = {.r = r, .req = req, .cr = cr, .err = err};
    ht_status st = frame_setup(&f, err);
    if (st != HT_OK) {
        return st;
    }
    if (req->clip_grid) {
        const ht_fgrid *g = ht_features_find_grid(r->features, req->clip_grid);
        if (!g) {
            return ht_error_set(err, HT_EINVAL, "no grid \"%s\" to clip to",
                                req->clip_grid);
        }
        cairo_new_path(cr);
        add_geom_path(&f, g->geom, true);
        cairo_set_fill_rule(cr, CAIRO_FILL_RULE_EVEN_ODD);
        cairo_clip(cr);
        cairo_set_fill_rule(cr, CAIRO_FILL_RULE_WINDING);
    }
    size_t nl = ht_style_layer_count(req->style);
    for (size_t i = 0; i < nl && st == HT_OK; i++) {
        const ht_style_layer *l = ht_style_layer_at(req->style, i);
        if (!ht_style_layer_visible(l, f.zoom)) {
            continue;
        }
        cairo_save(cr);
        switch (l->type) {
        case HT_LAYER_BACKGROUND:
            if (req->transparent) {
                break;
            }
            set_color(
                cr,
                ht_style_color(l, HT_P_BACKGROUND_COLOR, f.zoom, NULL, NULL),
                ht_style_number(l, HT_P_BACKGROUND_OPACITY, f.zoom, NULL,
                                NULL));
            cairo_paint(cr);
            break;
        case HT_LAYER_FILL:
            st = draw_fill(&f, l);
            break;
        case HT_LAYER_LINE:
            st = draw_line(&f, l);
            break;
        case HT_LAYER_CIRCLE:
            st = draw_circles(&f, l);
            break;
        case HT_LAYER_SYMBOL:
            st = draw_symbols(&f, l);
            break;
        case HT_LAYER_HEATMAP:
            st = draw_heatmap(&f, l);
            break;
        case HT_LAYER_STREET_HEAT:
            st = draw_street_heat(&f, l);
            break;
        case HT_LAYER_CHOROPLETH:
            st = draw_classed(&f, l, false);
            break;
        case HT_LAYER_HOTSPOT:
            st = draw_classed(&f, l, true);
            break;
        case HT_LAYER_TYPE_COUNT:
            break;
        }
        cairo_restore(cr);
    }
    free(f.placed);
    if (st == HT_OK && cairo_status(cr) != CAIRO_STATUS_SUCCESS) {
        st = ht_error_set(err, HT_ERENDER, "cairo: %s",
                          cairo_status_to_string(cairo_status(cr)));
    }
    return st;
}
