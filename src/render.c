/* SPDX-License-Identifier: Apache-2.0 */
/* Drawing styled layers of grids, streets and incidents with Cairo: the
 * renderer, projection, geometry layers and the entry points. */
#include "hutong/render.h"

#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hutong/analysis.h"
#include "hutong/buf.h"
#include "hutong/clock.h"
#include "hutong/datetime.h"
#include "hutong/hash.h"
#include "hutong/jpeg.h"
#include "hutong/png.h"
#include "hutong/tile.h"
#include "hutong/webp.h"

#include "render_int.h"

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
const glyph *ht__render_text_glyph(ht_renderer *r, const char *text,
                                   double size, const char *family) {
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

void ht__render_to_px(const frame *f, double mx, double my, double *px,
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
ht_status ht__render_frame_setup(frame *f, ht_error *err) {
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
    ht_status st = ht__render_frame_setup(&f, err);
    if (st == HT_OK) {
        *zoom = f.zoom;
    }
    return st;
}

/* ---- feature properties for expressions ---- */

bool ht__render_get_grid(const void *p, const char *name, ht_value *out) {
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

bool ht__render_get_street(const void *p, const char *name, ht_value *out) {
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

bool ht__render_get_chain(const void *p, const char *name, ht_value *out) {
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

bool ht__render_get_incident(const void *p, const char *name, ht_value *out) {
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
    } else if (strcmp(name, "hours_over") == 0) {
        *out = (ht_value){.type = HT_VAL_NUMBER, .n = v->hours_over};
    } else {
        return false;
    }
    return true;
}

double ht__render_hours_over(int64_t late_at, int64_t now) {
    return late_at != HT_TIME_NONE && now > late_at
               ? (double)(now - late_at) / 3600.0
               : 0;
}

/* ---- geometry layers ---- */

void ht__render_set_color(cairo_t *cr, ht_rgba c, double opacity) {
    cairo_set_source_rgba(cr, c.r, c.g, c.b, c.a * opacity);
}

void ht__render_add_geom_path(frame *f, const ht_geom *g, bool close) {
    for (size_t i = 0; i < g->nparts; i++) {
        size_t a = g->parts[i], b = ht_geom_part_end(g, i);
        for (size_t k = a; k < b; k++) {
            double x, y;
            ht__render_to_px(f, g->pts[k].x, g->pts[k].y, &x, &y);
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

ht_status ht__render_query(frame *f, ht_fkind kind, size_t *n) {
    return ht_features_query(f->r->features, kind, &f->query, &f->r->ids, n,
                             &f->r->cap_ids, f->err);
}

bool ht__render_item_at(frame *f, const ht_style_layer *l, size_t i, item *it,
                        ht_style_get_fn *get) {
    uint32_t id = f->r->ids[i];
    if (l->source == HT_SOURCE_GRIDS) {
        const ht_fgrid *g = ht_features_grid(f->r->features, id);
        *it = (item){g, g->geom};
        *get = ht__render_get_grid;
    } else {
        const ht_fstreet *s = ht_features_street(f->r->features, id);
        *it = (item){s, s->geom};
        *get = ht__render_get_street;
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
    ht_status st = ht__render_query(f, HT_F_GRIDS, &n);
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
        if (!ht__render_item_at(f, l, i, &it, &get)) {
            continue;
        }
        ht__render_add_geom_path(f, it.geom, true);
        drawn++;
        if (!batch) {
            ht_rgba c = ht_style_color(l, HT_P_FILL_COLOR, f->zoom, get, it.p);
            double o =
                ht_style_number(l, HT_P_FILL_OPACITY, f->zoom, get, it.p);
            ht_rgba oc =
                ht_style_color(l, HT_P_FILL_OUTLINE_COLOR, f->zoom, get, it.p);
            ht__render_set_color(f->cr, c, o);
            cairo_fill_preserve(f->cr);
            ht__render_set_color(f->cr, oc, o);
            cairo_stroke(f->cr);
        }
    }
    if (batch && drawn) {
        ht_rgba c = ht_style_color(l, HT_P_FILL_COLOR, f->zoom, NULL, NULL);
        double o = ht_style_number(l, HT_P_FILL_OPACITY, f->zoom, NULL, NULL);
        ht_rgba oc =
            ht_style_color(l, HT_P_FILL_OUTLINE_COLOR, f->zoom, NULL, NULL);
        ht__render_set_color(f->cr, c, o);
        if (oc.a > 0) {
            cairo_fill_preserve(f->cr);
            ht__render_set_color(f->cr, oc, o);
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
    ht_status st = ht__render_query(
        f, l->source == HT_SOURCE_GRIDS ? HT_F_GRIDS : HT_F_STREETS, &n);
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
        if (!ht__render_item_at(f, l, i, &it, &get)) {
            continue;
        }
        if (!batch) {
            double w = ht_style_number(l, HT_P_LINE_WIDTH, f->zoom, get, it.p);
            if (w <= 0) {
                continue;
            }
            stroke_setup(f, l, w * s);
        }
        ht__render_add_geom_path(f, it.geom, close);
        drawn++;
        if (!batch) {
            ht__render_set_color(
                f->cr, ht_style_color(l, HT_P_LINE_COLOR, f->zoom, get, it.p),
                ht_style_number(l, HT_P_LINE_OPACITY, f->zoom, get, it.p));
            cairo_stroke(f->cr);
        }
    }
    if (batch && drawn) {
        ht__render_set_color(
            f->cr, ht_style_color(l, HT_P_LINE_COLOR, f->zoom, NULL, NULL),
            ht_style_number(l, HT_P_LINE_OPACITY, f->zoom, NULL, NULL));
        cairo_stroke(f->cr);
    }
    cairo_new_path(f->cr);
    cairo_set_dash(f->cr, NULL, 0, 0);
    return HT_OK;
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

ht_status ht_render(ht_renderer *r, const ht_render_req *req, cairo_t *cr,
                    ht_error *err) {
    /* The style's own filter parameters join the request's. */
    ht_render_req with;
    ht_filter flt;
    if (ht_style_has_filter(req->style)) {
        flt = req->filter ? *req->filter : ht_filter_all();
        ht_status fst =
            ht_style_apply_filter(req->style, &flt, ht_clock_now(), err);
        if (fst != HT_OK) {
            return fst;
        }
        with = *req;
        with.filter = &flt;
        req = &with;
    }
    frame f = {.r = r, .req = req, .cr = cr, .err = err};
    ht_status st = ht__render_frame_setup(&f, err);
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
        ht__render_add_geom_path(&f, g->geom, true);
        cairo_set_fill_rule(cr, CAIRO_FILL_RULE_EVEN_ODD);
        cairo_clip(cr);
        cairo_set_fill_rule(cr, CAIRO_FILL_RULE_WINDING);
    }
    if (req->navoid) {
        st = ht_array_grow((void **)&f.placed, &f.cap_placed, req->navoid,
                           sizeof *f.placed, err);
        for (size_t k = 0; st == HT_OK && k < req->navoid; k++) {
            f.placed[f.nplaced++] = req->avoid[k];
        }
    }
    size_t nl = ht_style_layer_count(req->style);
    for (size_t i = 0; i < nl && st == HT_OK; i++) {
        const ht_style_layer *l = ht_style_layer_at(req->style, i);
        bool label = l->type == HT_LAYER_SYMBOL;
        if (!ht_style_layer_visible(l, f.zoom) ||
            (req->layers == HT_RENDER_NO_LABELS && label) ||
            (req->layers == HT_RENDER_LABELS_ONLY && !label)) {
            continue;
        }
        cairo_save(cr);
        switch (l->type) {
        case HT_LAYER_BACKGROUND:
            if (req->transparent) {
                break;
            }
            ht__render_set_color(
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
            st = ht__render_dots(&f, l);
            break;
        case HT_LAYER_SYMBOL:
            st = ht__render_draw_symbols(&f, l);
            break;
        case HT_LAYER_HEATMAP:
            st = ht__render_draw_heatmap(&f, l);
            break;
        case HT_LAYER_STREET_HEAT:
            st = ht__render_draw_street_heat(&f, l);
            break;
        case HT_LAYER_CHOROPLETH:
            st = ht__render_draw_classed(&f, l, false);
            break;
        case HT_LAYER_HOTSPOT:
            st = ht__render_draw_classed(&f, l, true);
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

/* ---- images ---- */

ht_status ht_image_format_parse(const char *ext, ht_image_format *out,
                                ht_error *err) {
    static const struct {
        const char *name;
        ht_image_format fmt;
    } names[] = {{"png", HT_IMAGE_PNG},   {"pdf", HT_IMAGE_PDF},
                 {"svg", HT_IMAGE_SVG},   {"jpg", HT_IMAGE_JPEG},
                 {"jpeg", HT_IMAGE_JPEG}, {"webp", HT_IMAGE_WEBP},
                 {"png8", HT_IMAGE_PNG8}};
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        if (ext && strcasecmp(ext, names[k].name) == 0) {
            *out = names[k].fmt;
            return HT_OK;
        }
    }
    return ht_error_set(err, HT_EINVAL,
                        "\"%s\": an image is png, jpg, webp, pdf or svg",
                        ext ? ext : "");
}

const char *ht_image_format_mime(ht_image_format fmt) {
    switch (fmt) {
    case HT_IMAGE_PDF:
        return "application/pdf";
    case HT_IMAGE_SVG:
        return "image/svg+xml";
    case HT_IMAGE_JPEG:
        return "image/jpeg";
    case HT_IMAGE_WEBP:
        return "image/webp";
    case HT_IMAGE_PNG8:
        return "image/png; mode=8bit";
    case HT_IMAGE_PNG:
    default:
        return "image/png";
    }
}

bool ht_image_format_is_raster(ht_image_format fmt) {
    return fmt == HT_IMAGE_PNG || fmt == HT_IMAGE_PNG8 ||
           fmt == HT_IMAGE_JPEG || fmt == HT_IMAGE_WEBP;
}

/* Quality of the lossy formats: what base maps and heat keep sharp. */
#define JPEG_QUALITY 88
#define WEBP_QUALITY 85

ht_status ht_image_encode(cairo_surface_t *surf, ht_image_format fmt,
                          const ht_rgba *background, ht_buf *out,
                          ht_error *err) {
    if (!ht_image_format_is_raster(fmt)) {
        return ht_error_set(err, HT_EINVAL, "%s is not a raster format",
                            ht_image_format_mime(fmt));
    }
    if (fmt == HT_IMAGE_PNG) {
        return ht_png_encode(surf, out, err);
    }
    if (fmt == HT_IMAGE_PNG8) {
        /* (a copy: @surf stays as drawn) */
        cairo_surface_t *c = cairo_image_surface_create(
            CAIRO_FORMAT_ARGB32, cairo_image_surface_get_width(surf),
            cairo_image_surface_get_height(surf));
        cairo_t *cr = cairo_create(c);
        cairo_set_operator(cr, CAIRO_OPERATOR_SOURCE);
        cairo_set_source_surface(cr, surf, 0, 0);
        cairo_paint(cr);
        ht_status st = cairo_status(cr) != CAIRO_STATUS_SUCCESS
                           ? ht_error_set(err, HT_ENOMEM, "out of memory")
                           : ht_png_quantize(c, err);
        cairo_destroy(cr);
        if (st == HT_OK) {
            st = ht_png_encode(c, out, err);
        }
        cairo_surface_destroy(c);
        return st;
    }
    if (fmt == HT_IMAGE_WEBP) {
        return ht_webp_encode(surf, WEBP_QUALITY, out, err);
    }
    int w = cairo_image_surface_get_width(surf);
    int h = cairo_image_surface_get_height(surf);
    cairo_surface_t *flat =
        cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    cairo_t *cr = cairo_create(flat);
    if (background) {
        cairo_set_source_rgb(cr, background->r, background->g, background->b);
    } else {
        cairo_set_source_rgb(cr, 1, 1, 1);
    }
    cairo_paint(cr);
    cairo_set_source_surface(cr, surf, 0, 0);
    cairo_paint(cr);
    ht_status st = cairo_status(cr) == CAIRO_STATUS_SUCCESS
                       ? ht_jpeg_encode(flat, JPEG_QUALITY, out, err)
                       : ht_error_set(err, HT_ENOMEM, "out of memory");
    cairo_destroy(cr);
    cairo_surface_destroy(flat);
    return st;
}

cairo_status_t ht_render_cairo_writer(void *closure, const unsigned char *data,
                                      unsigned int length) {
    return ht_buf_append(closure, data, length, NULL) == HT_OK
               ? CAIRO_STATUS_SUCCESS
               : CAIRO_STATUS_NO_MEMORY;
}

ht_status ht_render_to_buf(ht_renderer *r, const ht_render_req *reqs, size_t n,
                           const ht_rgba *background, ht_image_format fmt,
                           ht_buf *out, ht_error *err) {
    if (n == 0) {
        return ht_error_set(err, HT_EINVAL, "nothing to draw");
    }
    int w = reqs[0].width, h = reqs[0].height;
    if (w < 1 || h < 1 || w > HT_RENDER_MAX_SIZE || h > HT_RENDER_MAX_SIZE) {
        return ht_error_set(err, HT_EINVAL, "image size %dx%d outside 1..%d", w,
                            h, HT_RENDER_MAX_SIZE);
    }
    /* Vector output streams into a buffer of its own, so that @out only
     * ever receives a whole image. */
    bool raster = ht_image_format_is_raster(fmt);
    ht_buf *vec = raster ? NULL : ht_buf_new();
    if (!raster && !vec) {
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    cairo_surface_t *surf =
        fmt == HT_IMAGE_PDF ? cairo_pdf_surface_create_for_stream(
                                  ht_render_cairo_writer, vec, w, h)
        : fmt == HT_IMAGE_SVG
            ? cairo_svg_surface_create_for_stream(ht_render_cairo_writer, vec,
                                                  w, h)
            : cairo_image_surface_create(CAIRO_FORMAT_ARGB32, w, h);
    cairo_t *cr = cairo_create(surf);
    ht_status st = HT_OK;
    if (cairo_status(cr) != CAIRO_STATUS_SUCCESS) {
        st = ht_error_set(err, HT_ERENDER, "cannot draw: %s",
                          cairo_status_to_string(cairo_status(cr)));
    }
    if (st == HT_OK && background) {
        cairo_set_source_rgba(cr, background->r, background->g, background->b,
                              background->a);
        cairo_paint(cr);
    }
    for (size_t k = 0; st == HT_OK && k < n; k++) {
        cairo_save(cr);
        st = ht_render(r, &reqs[k], cr, err);
        cairo_restore(cr);
    }
    cairo_destroy(cr);
    if (st == HT_OK && raster) {
        st = ht_image_encode(surf, fmt, background, out, err);
    } else if (st == HT_OK) {
        cairo_surface_finish(surf); /* the last bytes reach @vec */
        if (cairo_surface_status(surf) != CAIRO_STATUS_SUCCESS) {
            st = ht_error_set(
                err, HT_ERENDER, "cannot write the image: %s",
                cairo_status_to_string(cairo_surface_status(surf)));
        } else {
            st = ht_buf_append(out, vec->data, vec->len, err);
        }
    }
    cairo_surface_destroy(surf);
    ht_buf_free(vec);
    return st;
}

ht_status ht_render_legend_to_buf(ht_renderer *r, const ht_style *style,
                                  const ht_filter *filter, double scale,
                                  bool empty_ok, ht_buf *out, ht_error *err) {
    bool legend = ht_render_style_has_legend(style);
    if (!legend && !empty_ok) {
        return ht_error_set(err, HT_EINVAL,
                            "this style has no heat layer to explain");
    }
    int w = 1, h = 1;
    if (legend) {
        ht_render_legend_size(style, scale, &w, &h);
    }
    cairo_surface_t *surf =
        cairo_image_surface_create(CAIRO_FORMAT_ARGB32, w, h);
    ht_status st = HT_OK;
    if (legend) {
        cairo_t *cr = cairo_create(surf);
        st = ht_render_legend(r, style, filter, scale, cr, err);
        cairo_destroy(cr);
    }
    if (st == HT_OK) {
        st = ht_png_encode(surf, out, err);
    }
    cairo_surface_destroy(surf);
    return st;
}
