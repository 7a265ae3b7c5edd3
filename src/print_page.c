/* SPDX-License-Identifier: Apache-2.0 */
/* An area's printed page: title, map (base, heat, labels over the heat,
 * neighbours greyed with their codes, the area's boundary in magenta),
 * legend, scale bar, north arrow, inset, figures by category, top alleys,
 * footer. Sizes are those of an A4 sheet in millimetres, times the
 * paper's size against A4. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hutong/stats.h"
#include "hutong/tile.h"

#include "print_int.h"

#define MAGENTA 0xe0008a
#define INK 0x1a1a1a
#define GREY 0x6e6e6e

static ht_print_box mm_box(const ht__pctx *c, double x, double y, double w,
                           double h) {
    double k = c->u * HT__MM;
    return (ht_print_box){x * k, y * k, w * k, h * k};
}

/* The slots of a page: where each part may draw. */
static void slots(const ht__pctx *c, ht_print_box s[HT_PART_COUNT]) {
    double W = c->w_pt / (c->u * HT__MM), H = c->h_pt / (c->u * HT__MM);
    double m = 10;
    s[HT_PART_TITLE] = mm_box(c, m, m, W - 2 * m, 15);
    s[HT_PART_FOOTER] = mm_box(c, m, H - m - 6, W - 2 * m, 6);
    if (!c->landscape) {
        double y = H - m - 6 - 2 - 66;
        s[HT_PART_MAP] = mm_box(c, m, m + 17, W - 2 * m, y - 3 - (m + 17));
        s[HT_PART_LEGEND] = mm_box(c, m, y, 58, 24);
        s[HT_PART_SCALEBAR] = mm_box(c, m, y + 26, 58, 14);
        s[HT_PART_NORTH] = mm_box(c, m, y + 42, 58, 24);
        s[HT_PART_INSET] = mm_box(c, m + 61, y, 50, 66);
        s[HT_PART_TABLE] = mm_box(c, m + 114, y, W - 2 * m - 114, 40);
        s[HT_PART_STREETS] = mm_box(c, m + 114, y + 42, W - 2 * m - 114, 24);
    } else {
        double x = W - m - 80, y = m + 17;
        s[HT_PART_MAP] = mm_box(c, m, y, x - 3 - m, H - m - 6 - 2 - y);
        s[HT_PART_LEGEND] = mm_box(c, x, y, 80, 22);
        s[HT_PART_SCALEBAR] = mm_box(c, x, y + 24, 80, 13);
        s[HT_PART_NORTH] = mm_box(c, x, y + 39, 80, 16);
        s[HT_PART_INSET] = mm_box(c, x, y + 57, 80, 40);
        s[HT_PART_TABLE] = mm_box(c, x, y + 99, 80, 38);
        s[HT_PART_STREETS] = mm_box(c, x, y + 139, 80, 24);
    }
}

ht_status ht__print_ground_per_unit(ht__pctx *c, const ht_bbox *b, double *k,
                                    double *conv_deg, ht_error *err) {
    double lon, lat;
    ht_tile_merc_to_lonlat((b->minx + b->maxx) / 2, (b->miny + b->maxy) / 2,
                           &lon, &lat);
    /* Two points 0.01 degree of longitude apart, and one to the north. */
    double x0, y0, x1, y1, x2, y2;
    const double d = 0.005;
    if (c->to_crs) {
        ht_status st =
            ht_crs_transform_point(c->to_crs, lon - d, lat, &x0, &y0, err);
        if (st == HT_OK) {
            st = ht_crs_transform_point(c->to_crs, lon + d, lat, &x1, &y1, err);
        }
        if (st == HT_OK) {
            st = ht_crs_transform_point(c->to_crs, lon - d, lat + 2 * d, &x2,
                                        &y2, err);
        }
        if (st != HT_OK) {
            return st;
        }
    } else {
        ht_tile_lonlat_to_merc(lon - d, lat, &x0, &y0);
        ht_tile_lonlat_to_merc(lon + d, lat, &x1, &y1);
        ht_tile_lonlat_to_merc(lon - d, lat + 2 * d, &x2, &y2);
    }
    /* WGS 84's radius of the parallel: exact on the ellipsoid. */
    const double a = 6378137.0, e2 = 0.00669437999014;
    double s = sin(lat * HT_PI / 180);
    double n = a / sqrt(1 - e2 * s * s);
    double ground = n * cos(lat * HT_PI / 180) * (2 * d) * HT_PI / 180;
    *k = ground / hypot(x1 - x0, y1 - y0);
    *conv_deg = atan2(x2 - x0, y2 - y0) * 180 / HT_PI;
    return HT_OK;
}

/* The box of @g (3857) in the CRS. */
static ht_status crs_box(ht__pctx *c, const ht_bbox *m, ht_bbox *out,
                         ht_error *err) {
    if (!c->to_crs) {
        *out = *m;
        return HT_OK;
    }
    *out = ht_bbox_empty();
    for (int k = 0; k <= 8; k++) {
        double fx = m->minx + (m->maxx - m->minx) * k / 8.0;
        double fy = m->miny + (m->maxy - m->miny) * k / 8.0;
        double pts[4][2] = {
            {fx, m->miny}, {fx, m->maxy}, {m->minx, fy}, {m->maxx, fy}};
        for (int q = 0; q < 4; q++) {
            double lon, lat, x, y;
            ht_tile_merc_to_lonlat(pts[q][0], pts[q][1], &lon, &lat);
            ht_status st =
                ht_crs_transform_point(c->to_crs, lon, lat, &x, &y, err);
            if (st != HT_OK) {
                return st;
            }
            ht_bbox_add(out, x, y);
        }
    }
    return HT_OK;
}

ht_status ht__print_need_scale(ht__pctx *c, const ht_fgrid *g, bool landscape,
                               double *denominator, ht_error *err) {
    bool was = c->landscape;
    ht__print_page_size(c, landscape);
    ht_print_box s[HT_PART_COUNT];
    slots(c, s);
    ht__print_page_size(c, was);
    ht_bbox b;
    double k, conv;
    ht_status st = crs_box(c, &g->bbox, &b, err);
    if (st == HT_OK) {
        st = ht__print_ground_per_unit(c, &g->bbox, &k, &conv, err);
    }
    if (st != HT_OK) {
        return st;
    }
    /* The area with a margin of 6 % on each side. */
    double gw = (b.maxx - b.minx) * k * 1.12, gh = (b.maxy - b.miny) * k * 1.12;
    double pw = s[HT_PART_MAP].w / 72 * 0.0254;
    double ph = s[HT_PART_MAP].h / 72 * 0.0254;
    *denominator = fmax(fmax(gw / pw, gh / ph), 1);
    return HT_OK;
}

void ht__print_to_page(ht__pctx *c, ht_print_box b, const ht_bbox *bbox,
                       double mx, double my, double *px, double *py) {
    double x = mx, y = my;
    if (c->to_crs) {
        double lon, lat;
        ht_tile_merc_to_lonlat(mx, my, &lon, &lat);
        if (ht_crs_transform_point(c->to_crs, lon, lat, &x, &y, NULL) !=
            HT_OK) {
            x = bbox->minx, y = bbox->miny;
        }
    }
    double s = b.w / (bbox->maxx - bbox->minx);
    *px = b.x + (x - bbox->minx) * s;
    *py = b.y + (bbox->maxy - y) * s;
}

void ht__print_geom_path(ht__pctx *c, ht_print_box b, const ht_bbox *bbox,
                         const ht_geom *g) {
    for (size_t p = 0; p < g->nparts; p++) {
        size_t end = p + 1 < g->nparts ? g->parts[p + 1] : g->npts;
        for (size_t i = g->parts[p]; i < end; i++) {
            double x, y;
            ht__print_to_page(c, b, bbox, g->pts[i].x, g->pts[i].y, &x, &y);
            if (i == g->parts[p]) {
                cairo_move_to(c->cr, x, y);
            } else {
                cairo_line_to(c->cr, x, y);
            }
        }
        cairo_close_path(c->cr);
    }
}

void ht__print_rgb(cairo_t *cr, uint32_t rgb, double a) {
    cairo_set_source_rgba(cr, ((rgb >> 16) & 255) / 255.0,
                          ((rgb >> 8) & 255) / 255.0, (rgb & 255) / 255.0, a);
}

/* A row of table cells. */
#define CELL 100
typedef char cell_row[5][CELL];

static bool overlaps(ht_print_box a, ht_print_box b) {
    return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h &&
           b.y < a.y + a.h;
}

/* A neighbour's code on the map. */
typedef struct code_label {
    ht_print_box box;
    const char *code;
} code_label;

#define MAX_CODES 64

/* Where the codes of the neighbours of @g go on the map: each where its
 * visible part has room, nearest to its own label point, none over
 * another. Returns how many (at most MAX_CODES). */
static size_t place_codes(ht__pctx *c, const ht_fgrid *g, ht_print_box b,
                          const ht_bbox *bbox, const ht_bbox *m3857,
                          code_label *placed) {
    size_t np = 0, nids = 0, cap = 0;
    double size = 6.5 * c->u;
    uint32_t *ids = NULL;
    /* The grids on the map, from the features' spatial index. */
    if (ht_features_query(c->f, HT_F_GRIDS, m3857, &ids, &nids, &cap, NULL) !=
        HT_OK) {
        nids = 0;
    }
    for (size_t a = 0; a < nids && np < MAX_CODES; a++) {
        const ht_fgrid *n = ht_features_grid(c->f, ids[a]);
        if (n == g || n->level != g->level) {
            continue;
        }
        /* Candidates: a lattice over the part of its box on the map; the
         * one nearest to the map's edge wins, so codes stand at the edges
         * and leave the middle to the street names. */
        ht_bbox v = {
            fmax(n->bbox.minx, m3857->minx), fmax(n->bbox.miny, m3857->miny),
            fmin(n->bbox.maxx, m3857->maxx), fmin(n->bbox.maxy, m3857->maxy)};
        double best = INFINITY, bx = 0, by = 0;
        double tw = ht__print_text_width(c, n->code, size, false);
        for (int k = 0; k < 81; k++) {
            double x = v.minx + (v.maxx - v.minx) * (k % 9 + 0.5) / 9;
            double y = v.miny + (v.maxy - v.miny) * (k / 9 + 0.5) / 9;
            if (!ht_geom_contains(n->geom, x, y) ||
                ht_geom_contains(g->geom, x, y)) {
                continue;
            }
            double px, py;
            ht__print_to_page(c, b, bbox, x, y, &px, &py);
            ht_print_box t = {px - tw / 2 - 1, py - size * 0.7, tw + 2,
                              size * 1.4};
            if (t.x < b.x + 2 || t.y < b.y + 2 || t.x + t.w > b.x + b.w - 2 ||
                t.y + t.h > b.y + b.h - 2) {
                continue;
            }
            bool free_spot = true;
            for (size_t q = 0; q < np && free_spot; q++) {
                free_spot = !overlaps(t, placed[q].box);
            }
            double d = fmin(fmin(t.x - b.x, b.x + b.w - t.x - t.w),
                            fmin(t.y - b.y, b.y + b.h - t.y - t.h));
            if (free_spot && d < best) {
                best = d, bx = px, by = py;
            }
        }
        if (isfinite(best)) {
            ht_print_box t = {bx - tw / 2 - 1, by - size * 0.7, tw + 2,
                              size * 1.4};
            placed[np++] = (code_label){t, n->code};
        }
    }
    free(ids);
    return np;
}

/* The part of the world (3857) that the map box @b shows. */
static ht_bbox visible_3857(ht__pctx *c, const ht_fgrid *g, ht_print_box b,
                            const ht_bbox *bbox) {
    ht_bbox vis = ht_bbox_empty();
    double dx = g->bbox.maxx - g->bbox.minx, dy = g->bbox.maxy - g->bbox.miny;
    ht_bbox around = {g->bbox.minx - 4 * dx - 500, g->bbox.miny - 4 * dy - 500,
                      g->bbox.maxx + 4 * dx + 500, g->bbox.maxy + 4 * dy + 500};
    for (int k = 0; k <= 32; k++) {
        for (int q = 0; q <= 32; q++) {
            double x = around.minx + (around.maxx - around.minx) * k / 32;
            double y = around.miny + (around.maxy - around.miny) * q / 32;
            double px, py;
            ht__print_to_page(c, b, bbox, x, y, &px, &py);
            if (px >= b.x && px <= b.x + b.w && py >= b.y && py <= b.y + b.h) {
                ht_bbox_add(&vis, x, y);
            }
        }
    }
    double pad =
        fmax(around.maxx - around.minx, around.maxy - around.miny) / 32;
    vis.minx -= pad, vis.miny -= pad, vis.maxx += pad, vis.maxy += pad;
    return vis;
}

/* The map: the heat, the base without labels, the labels (clear of
 * the neighbours' codes), the world outside the area greyed, its boundary,
 * the codes. */
static ht_status draw_map(ht__pctx *c, const ht_fgrid *g, ht_print_box b,
                          const ht_bbox *bbox) {
    ht_bbox vis = visible_3857(c, g, b, bbox);
    code_label codes[MAX_CODES];
    size_t ncodes = place_codes(c, g, b, bbox, &vis, codes);
    ht_print_box avoid[MAX_CODES];
    for (size_t k = 0; k < ncodes; k++) {
        avoid[k] = codes[k].box;
    }
    /* The heat first, on white: the streets and boundaries stay legible
     * over it. */
    ht_status st = ht__print_under(c, bbox, c->o->crs, b);
    ht_render_req req = {.style = c->o->style,
                         .bbox = *bbox,
                         .crs = c->o->crs,
                         .filter = &c->o->filter};
    if (st == HT_OK) {
        req.layers = HT_RENDER_LABELS_ONLY;
        req.transparent = true;
        st = ht__print_map(c, req, b, avoid, ncodes);
    }
    if (st != HT_OK) {
        return st;
    }
    cairo_t *cr = c->cr;
    ht__print_veil(c, b, bbox, g->geom, 0.55, 1.8 * c->u, MAGENTA);
    for (size_t k = 0; k < ncodes; k++) {
        ht__print_text(c, codes[k].box, codes[k].code, 6.5 * c->u, false, 0.5,
                       GREY);
    }
    cairo_rectangle(cr, b.x, b.y, b.w, b.h);
    cairo_set_line_width(cr, 0.6 * c->u);
    ht__print_rgb(cr, INK, 1);
    cairo_stroke(cr);
    return HT_OK;
}

void ht__print_veil(ht__pctx *c, ht_print_box b, const ht_bbox *bbox,
                    const ht_geom *g, double veil, double width, uint32_t rgb) {
    cairo_t *cr = c->cr;
    cairo_save(cr);
    cairo_rectangle(cr, b.x, b.y, b.w, b.h);
    cairo_clip(cr);
    cairo_new_path(cr);
    cairo_rectangle(cr, b.x, b.y, b.w, b.h);
    ht__print_geom_path(c, b, bbox, g);
    cairo_set_fill_rule(cr, CAIRO_FILL_RULE_EVEN_ODD);
    ht__print_rgb(cr, 0xffffff, veil);
    cairo_fill(cr);
    cairo_new_path(cr);
    ht__print_geom_path(c, b, bbox, g);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    cairo_set_line_width(cr, width);
    ht__print_rgb(cr, rgb, 1);
    cairo_stroke(cr);
    cairo_restore(cr);
}

/* 1, 2 or 5 times a power of ten, at most @max. */
static double round_length(double max) {
    double p = pow(10, floor(log10(max)));
    double m = max / p;
    return (m >= 5 ? 5 : m >= 2 ? 2 : 1) * p;
}

ht_print_box ht__print_scalebar(ht__pctx *c, ht_print_box s, double denom,
                                double *len_m_out, double *len_pt_out) {
    char text[64], num[32];
    ht__print_thousands(denom, num, sizeof num);
    snprintf(text, sizeof text, "比例尺 1:%s", num);
    double fs = 7 * c->u;
    ht_print_box tb = ht__print_text(c, (ht_print_box){s.x, s.y, s.w, fs * 1.5},
                                     text, fs, true, 0, INK);
    /* The longest round length that fits 85 % of the slot. */
    double max_m = s.w * 0.85 / 72 * 0.0254 * denom;
    double len_m = round_length(max_m);
    double len_pt = len_m / denom / 0.0254 * 72;
    double y = s.y + fs * 1.9, bh = 2.2 * c->u;
    cairo_t *cr = c->cr;
    for (int k = 0; k < 4; k++) {
        cairo_rectangle(cr, s.x + len_pt * k / 4, y, len_pt / 4, bh);
        ht__print_rgb(cr, k % 2 ? 0xffffff : INK, 1);
        cairo_fill_preserve(cr);
        ht__print_rgb(cr, INK, 1);
        cairo_set_line_width(cr, 0.4 * c->u);
        cairo_stroke(cr);
    }
    bool km = len_m >= 1000;
    for (int k = 0; k <= 2; k++) {
        double v = len_m * k / 2 / (km ? 1000 : 1);
        char lab[32];
        if (k == 2) {
            snprintf(lab, sizeof lab, "%g %s", v, km ? "km" : "m");
        } else {
            snprintf(lab, sizeof lab, "%g", v);
        }
        double tw = ht__print_text_width(c, lab, fs * 0.9, false);
        double x = s.x + len_pt * k / 2 - (k == 0 ? 0 : tw / 2);
        if (k == 2) {
            x = fmin(x, s.x + s.w - tw);
        }
        ht__print_text(c, (ht_print_box){x, y + bh + 1, tw, fs * 1.3}, lab,
                       fs * 0.9, false, 0, INK);
    }
    *len_m_out = len_m;
    *len_pt_out = len_pt;
    double bottom = y + bh + 1 + fs * 1.3;
    double right = fmax(tb.x + tb.w, s.x + len_pt);
    return (ht_print_box){s.x, s.y, fmin(right, s.x + s.w) - s.x, bottom - s.y};
}

static ht_print_box draw_north(ht__pctx *c, ht_print_box s, double conv) {
    cairo_t *cr = c->cr;
    double h = fmin(s.h, 16 * c->u * HT__MM * 0.8), w = h * 0.45;
    double cx = s.x + w, cy = s.y + h / 2;
    /* Grid north is up the page; true north turned by the convergence. */
    cairo_save(cr);
    cairo_translate(cr, cx, cy);
    cairo_rotate(cr, -conv * HT_PI / 180);
    cairo_move_to(cr, 0, -h * 0.42);
    cairo_line_to(cr, w * 0.35, h * 0.3);
    cairo_line_to(cr, 0, h * 0.16);
    cairo_close_path(cr);
    ht__print_rgb(cr, INK, 1);
    cairo_fill(cr);
    cairo_move_to(cr, 0, -h * 0.42);
    cairo_line_to(cr, -w * 0.35, h * 0.3);
    cairo_line_to(cr, 0, h * 0.16);
    cairo_close_path(cr);
    ht__print_rgb(cr, 0xffffff, 1);
    cairo_fill_preserve(cr);
    ht__print_rgb(cr, INK, 1);
    cairo_set_line_width(cr, 0.5 * c->u);
    cairo_stroke(cr);
    cairo_restore(cr);
    double fs = 7 * c->u;
    ht__print_text(c, (ht_print_box){cx - fs, s.y - fs * 0.2, 2 * fs, fs * 1.2},
                   "北", fs, true, 0.5, INK);
    ht_print_box used = {s.x, s.y - fs * 0.2, 2 * w, h + fs * 0.2};
    if (fabs(conv) >= 0.005) {
        char note[160];
        snprintf(note, sizeof note,
                 "指北针示真北；真北在坐标北以%s %.2f°（子午线收敛角）",
                 conv > 0 ? "东" : "西", fabs(conv));
        /* Two lines beside the arrow. */
        double x = s.x + 2.2 * w, tw = s.x + s.w - x;
        PangoLayout *l = c->layout;
        PangoFontDescription *fd = pango_font_description_new();
        pango_font_description_set_family(fd, HT__PRINT_FONT);
        pango_font_description_set_absolute_size(fd, fs * 0.85 * PANGO_SCALE);
        pango_layout_set_font_description(l, fd);
        pango_font_description_free(fd);
        pango_layout_set_width(l, (int)(tw * PANGO_SCALE));
        pango_layout_set_wrap(l, PANGO_WRAP_CHAR);
        pango_layout_set_ellipsize(l, PANGO_ELLIPSIZE_END);
        pango_layout_set_height(l, (int)(s.h * PANGO_SCALE));
        pango_layout_set_text(l, note, -1);
        int lw, lh;
        pango_layout_get_size(l, &lw, &lh);
        cairo_move_to(cr, x, s.y + (s.h - lh / (double)PANGO_SCALE) / 2);
        ht__print_rgb(cr, INK, 1);
        pango_cairo_show_layout(cr, l);
        pango_layout_set_width(l, -1);
        pango_layout_set_height(l, -1);
        pango_layout_set_ellipsize(l, PANGO_ELLIPSIZE_NONE);
        used.w = x + lw / (double)PANGO_SCALE - s.x;
    }
    return used;
}

/* The area (magenta) among its siblings in its parent. */
static ht_print_box draw_inset(ht__pctx *c, const ht_fgrid *g, ht_print_box s) {
    const ht_fgrid *p =
        g->parent_code ? ht_features_find_grid(c->f, g->parent_code) : NULL;
    const ht_fgrid *frame_g = p ? p : g;
    double fs = 6.5 * c->u, side = fmin(s.w, s.h - fs * 2.2);
    if (c->landscape) {
        side = fmin(s.h, s.w * 0.5);
    }
    ht_print_box box = {s.x, s.y, side, side};
    const ht_bbox *fb = &frame_g->bbox;
    double k = (side - 4) / fmax(fb->maxx - fb->minx, fb->maxy - fb->miny);
    double ox = box.x + (side - (fb->maxx - fb->minx) * k) / 2;
    double oy = box.y + (side - (fb->maxy - fb->miny) * k) / 2;
    cairo_t *cr = c->cr;
    cairo_rectangle(cr, box.x, box.y, box.w, box.h);
    ht__print_rgb(cr, 0xffffff, 1);
    cairo_fill_preserve(cr);
    cairo_set_line_width(cr, 0.5 * c->u);
    ht__print_rgb(cr, INK, 1);
    cairo_stroke(cr);
    /* The parent and its children: the grids in the parent's box (the
     * features' spatial index, in grid order: parents before children). */
    uint32_t *ids = NULL;
    size_t nids = 0, cap = 0;
    if (ht_features_query(c->f, HT_F_GRIDS, fb, &ids, &nids, &cap, NULL) !=
        HT_OK) {
        nids = 0;
    }
    for (size_t i = 0; i < nids; i++) {
        const ht_fgrid *n = ht_features_grid(c->f, ids[i]);
        bool self = n == g, parent = n == frame_g;
        bool sibling =
            p && n->parent_code && strcmp(n->parent_code, p->code) == 0;
        if (!self && !parent && !sibling) {
            continue;
        }
        cairo_new_path(cr);
        for (size_t q = 0; q < n->geom->nparts; q++) {
            size_t end =
                q + 1 < n->geom->nparts ? n->geom->parts[q + 1] : n->geom->npts;
            for (size_t j = n->geom->parts[q]; j < end; j++) {
                double x = ox + (n->geom->pts[j].x - fb->minx) * k;
                double y = oy + (fb->maxy - n->geom->pts[j].y) * k;
                if (j == n->geom->parts[q]) {
                    cairo_move_to(cr, x, y);
                } else {
                    cairo_line_to(cr, x, y);
                }
            }
            cairo_close_path(cr);
        }
        ht__print_rgb(cr, self ? MAGENTA : parent ? 0xf2f2f2 : 0xffffff, 1);
        cairo_fill_preserve(cr);
        ht__print_rgb(cr, parent ? INK : 0xb0b0b0, 1);
        cairo_set_line_width(cr, (parent ? 0.5 : 0.25) * c->u);
        cairo_stroke(cr);
    }
    free(ids);
    char caption[160];
    snprintf(caption, sizeof caption, "位置：%s",
             frame_g->name ? frame_g->name : frame_g->code);
    ht_print_box cb =
        c->landscape
            ? (ht_print_box){s.x + side + 2, s.y, s.w - side - 2, fs * 1.5}
            : (ht_print_box){s.x, s.y + side + 1, s.w, fs * 1.5};
    ht_print_box t = ht__print_text(c, cb, caption, fs, false, 0, INK);
    double right = fmax(box.x + box.w, t.x + t.w);
    double bottom = fmax(box.y + box.h, t.y + t.h);
    return (ht_print_box){s.x, s.y, right - s.x, bottom - s.y};
}

static double rate(int64_t a, int64_t b) {
    return b > 0 ? (double)a / (double)b : NAN;
}

void ht__print_pct(double v, char *out, size_t size) {
    if (isnan(v)) {
        snprintf(out, size, "–");
    } else {
        snprintf(out, size, "%.1f%%", v * 100);
    }
}

/* Rows of text in columns: @cols widths as shares of @s.w; first row bold
 * (the header), a rule under it. */
static ht_print_box draw_rows(ht__pctx *c, ht_print_box s, const char *title,
                              cell_row *cells, size_t nrows, int ncols,
                              const double *cols) {
    double rh = fmin(s.h / (double)(nrows + 1), 3.7 * c->u * HT__MM);
    double fs = rh * 0.62;
    ht_print_box used = ht__print_text(c, (ht_print_box){s.x, s.y, s.w, rh},
                                       title, fs * 1.05, true, 0, INK);
    for (size_t r = 0; r < nrows; r++) {
        double y = s.y + rh * (double)(r + 1), x = s.x;
        for (int k = 0; k < ncols; k++) {
            double w = s.w * cols[k];
            ht__print_text(c, (ht_print_box){x + 0.5, y, w - 1, rh},
                           cells[r][k], fs, r == 0, k == 0 ? 0 : 1, INK);
            x += w;
        }
        if (r == 0) {
            cairo_move_to(c->cr, s.x, y + rh);
            cairo_line_to(c->cr, s.x + s.w, y + rh);
            cairo_set_line_width(c->cr, 0.4 * c->u);
            ht__print_rgb(c->cr, INK, 1);
            cairo_stroke(c->cr);
        }
    }
    used.w = s.w;
    used.h = rh * (double)(nrows + 1);
    return used;
}

/* Incidents of the area by category, with the three rates. */
static ht_status draw_table(ht__pctx *c, const ht_fgrid *g, ht_print_box s,
                            ht_print_box *used) {
    ht_filter f = c->o->filter;
    snprintf(f.grid, sizeof f.grid, "%s", g->code);
    ht_stats_row *rows = NULL;
    size_t n = 0;
    ht_status st =
        ht_stats_compute(c->store, &f, HT_STATS_BY_CATEGORY, &rows, &n, c->err);
    if (st != HT_OK) {
        return st;
    }
    double rh = fmin(s.h / 12.0, 3.7 * c->u * HT__MM);
    size_t fit = (size_t)fmax(s.h / rh - 1, 3); /* rows under the title */
    size_t shown = n + 2 <= fit ? n : fit - 3;  /* header, other, total */
    cell_row *cells = calloc(fit + 1, sizeof *cells);
    if (!cells) {
        free(rows);
        return ht_error_set(c->err, HT_ENOMEM, "out of memory");
    }
    size_t r = 0;
    const char *head[5] = {"类别", "件数", "响应率", "解决率", "满意率"};
    for (int k = 0; k < 5; k++) {
        snprintf(cells[r][k], CELL, "%s", head[k]);
    }
    r++;
    /* "Other" and the total from the counts behind the rates. */
    ht_stats_row other = {0}, all = {0};
    for (size_t i = 0; i < n; i++) {
        ht_stats_row *sum[2] = {&all, i >= shown ? &other : NULL};
        for (int q = 0; q < 2 && sum[q]; q++) {
            sum[q]->count += rows[i].count;
            sum[q]->response_on_time += rows[i].response_on_time;
            sum[q]->response_decided += rows[i].response_decided;
            sum[q]->resolution_on_time += rows[i].resolution_on_time;
            sum[q]->resolution_decided += rows[i].resolution_decided;
            sum[q]->satisfied += rows[i].satisfied;
            sum[q]->rated += rows[i].rated;
        }
        if (i >= shown) {
            continue;
        }
        snprintf(cells[r][0], CELL, "%s",
                 rows[i].name[0] ? rows[i].name : rows[i].key);
        snprintf(cells[r][1], CELL, "%lld", (long long)rows[i].count);
        ht__print_pct(rows[i].response, cells[r][2], CELL);
        ht__print_pct(rows[i].resolution, cells[r][3], CELL);
        ht__print_pct(rows[i].satisfaction, cells[r][4], CELL);
        r++;
    }
    const ht_stats_row *tail[2] = {&other, &all};
    const char *names[2] = {"其他", "合计"};
    for (int q = 0; q < 2; q++) {
        const ht_stats_row *t = tail[q];
        if (q == 0 && t->count == 0) {
            continue;
        }
        snprintf(cells[r][0], CELL, "%s", names[q]);
        snprintf(cells[r][1], CELL, "%lld", (long long)t->count);
        ht__print_pct(rate(t->response_on_time, t->response_decided),
                      cells[r][2], CELL);
        ht__print_pct(rate(t->resolution_on_time, t->resolution_decided),
                      cells[r][3], CELL);
        ht__print_pct(rate(t->satisfied, t->rated), cells[r][4], CELL);
        r++;
    }
    static const double cols[5] = {0.36, 0.13, 0.17, 0.17, 0.17};
    ht_print_box b = s;
    b.h = rh * (double)(r + 1);
    *used = draw_rows(c, b, "本期事件（按类别）", cells, r, 5, cols);
    free(cells);
    free(rows);
    return HT_OK;
}

static int cmp_rate(const void *a, const void *b) {
    const ht__street_rate *p = a, *q = b;
    double rp = p->count / fmax(p->length_m, 50) * 100;
    double rq = q->count / fmax(q->length_m, 50) * 100;
    if (rp != rq) {
        return rp < rq ? 1 : -1;
    }
    return strcmp(p->name, q->name);
}

ht_status ht__print_top_streets(ht__pctx *c, const ht_fgrid *g,
                                const ht_bbox *box, const ht_filter *filter,
                                ht__street_rate **out, size_t *n) {
    *out = NULL;
    *n = 0;
    ht_filter f = *filter;
    f.grid[0] = '\0';
    const ht_street_heat *sh;
    ht_status st = ht_render_street_heat(c->r, &f, &sh, c->err);
    uint32_t *ids = NULL;
    size_t nids = 0, cap = 0;
    if (st == HT_OK) {
        st = ht_features_query(c->f, HT_F_STREETS, g ? &g->bbox : box, &ids,
                               &nids, &cap, c->err);
    }
    if (st != HT_OK) {
        return st;
    }
    ht__street_rate *nr = calloc(nids + 1, sizeof *nr);
    size_t nn = 0;
    for (size_t k = 0; nr && k < nids; k++) {
        const ht_fstreet *t = ht_features_street(c->f, ids[k]);
        const ht_geom *sg = t->geom;
        if (!t->name || sg->npts < 2) {
            continue;
        }
        const ht_point *mid = &sg->pts[sg->npts / 2];
        double mx = (sg->pts[sg->npts / 2 - 1].x + mid->x) / 2;
        double my = (sg->pts[sg->npts / 2 - 1].y + mid->y) / 2;
        if (g && !ht_geom_contains(g->geom, mx, my)) {
            continue;
        }
        size_t q = 0;
        while (q < nn && strcmp(nr[q].name, t->name) != 0) {
            q++;
        }
        if (q == nn) {
            nr[nn++] = (ht__street_rate){t->name, 0, 0};
        }
        nr[q].count += ids[k] < sh->n ? sh->count[ids[k]] : 0;
        nr[q].length_m += t->length_m;
    }
    free(ids);
    if (!nr) {
        return ht_error_set(c->err, HT_ENOMEM, "out of memory");
    }
    /* Streets without incidents are not ranked. */
    size_t kept = 0;
    for (size_t k = 0; k < nn; k++) {
        if (nr[k].count > 0) {
            nr[kept++] = nr[k];
        }
    }
    qsort(nr, kept, sizeof *nr, cmp_rate);
    *out = nr;
    *n = kept;
    return HT_OK;
}

/* The area's five named streets with the most incidents per 100 m. */
static ht_status draw_streets(ht__pctx *c, const ht_fgrid *g, ht_print_box s,
                              ht_print_box *used) {
    ht__street_rate *nr;
    size_t nn;
    ht_status st = ht__print_top_streets(c, g, NULL, &c->o->filter, &nr, &nn);
    if (st != HT_OK) {
        return st;
    }
    cell_row cells[6] = {{"街巷", "件数", "件/百米"}};
    size_t r = 1;
    for (size_t k = 0; k < nn && r < 6; k++) {
        snprintf(cells[r][0], CELL, "%zu. %s", r, nr[k].name);
        snprintf(cells[r][1], CELL, "%.0f", nr[k].count);
        snprintf(cells[r][2], CELL, "%.1f",
                 nr[k].count / fmax(nr[k].length_m, 50) * 100);
        r++;
    }
    if (r == 1) {
        snprintf(cells[r++][0], CELL, "本期无街巷事件");
    }
    free(nr);
    static const double cols[3] = {0.6, 0.16, 0.24};
    *used = draw_rows(c, s, "街巷热度前五", cells, r, 3, cols);
    return HT_OK;
}

/* The title: code and name, the area's place and who is responsible. */
static ht_print_box draw_title(ht__pctx *c, const ht_fgrid *g, ht_print_box s) {
    char line[512];
    snprintf(line, sizeof line, "%s  %s", g->code, g->name ? g->name : "");
    ht_print_box a = ht__print_text(c, (ht_print_box){s.x, s.y, s.w, s.h * 0.6},
                                    line, 15 * c->u, true, 0, INK);
    /* The chain of parents, top first. */
    const ht_fgrid *chain[8];
    int depth = 0;
    for (const ht_fgrid *p = g; p && p->parent_code && depth < 8;) {
        p = ht_features_find_grid(c->f, p->parent_code);
        if (p) {
            chain[depth++] = p;
        }
    }
    char place[400] = "";
    size_t used = 0;
    for (int k = depth - 1; k >= 0; k--) {
        used += (size_t)snprintf(
            place + used, sizeof place - used, "%s%s",
            chain[k]->name ? chain[k]->name : chain[k]->code, k ? " › " : "");
        used = used < sizeof place ? used : sizeof place - 1;
    }
    snprintf(line, sizeof line, "%s%s责任人：%s", place, depth ? "    " : "",
             g->responsible ? g->responsible : "（未登记）");
    ht_print_box b = ht__print_text(
        c, (ht_print_box){s.x, s.y + s.h * 0.62, s.w, s.h * 0.38}, line,
        8 * c->u, false, 0, GREY);
    double right = fmax(a.x + a.w, b.x + b.w);
    return (ht_print_box){s.x, s.y, right - s.x, b.y + b.h - s.y};
}

ht_print_box ht__print_legend(ht__pctx *c, const ht_style *layer,
                              const ht_filter *filter, ht_print_box s) {
    if (!layer || !ht_render_style_has_legend(layer)) {
        return (ht_print_box){s.x, s.y, 0, 0};
    }
    int w, h;
    ht_render_legend_size(layer, 1, &w, &h);
    /* A CSS pixel is 0.75 pt at most; smaller when the slot is. */
    double k = fmin(fmin(s.w / w, s.h / h), 0.75 * c->u * 1.2);
    cairo_save(c->cr);
    cairo_translate(c->cr, s.x, s.y);
    cairo_scale(c->cr, k, k);
    /* The legend paints its own backdrop: keep it to its box. */
    cairo_rectangle(c->cr, 0, 0, w, h);
    cairo_clip(c->cr);
    ht_status st = ht_render_legend(c->r, layer, filter, 1, c->cr, NULL);
    cairo_restore(c->cr);
    if (st != HT_OK) {
        return (ht_print_box){s.x, s.y, 0, 0};
    }
    return (ht_print_box){s.x, s.y, w * k, h * k};
}

ht_status ht__print_area_page(ht__pctx *c, const ht_fgrid *g,
                              double denominator, ht_print_page *page) {
    memset(page, 0, sizeof *page);
    snprintf(page->code, sizeof page->code, "%s", g->code);
    page->number = c->number;
    page->width_pt = c->w_pt;
    page->height_pt = c->h_pt;
    ht_print_box s[HT_PART_COUNT];
    slots(c, s);
    double need = denominator, k, conv;
    ht_status st = HT_OK;
    if (!(need > 0)) {
        st = ht__print_need_scale(c, g, c->landscape, &need, c->err);
        need = ht_print_round_scale(need);
    }
    ht_bbox gb;
    if (st == HT_OK) {
        st = ht__print_ground_per_unit(c, &g->bbox, &k, &conv, c->err);
    }
    if (st == HT_OK) {
        st = crs_box(c, &g->bbox, &gb, c->err);
    }
    if (st != HT_OK) {
        return st;
    }
    /* The map box at that scale, centred on the area. */
    ht_print_box mb = s[HT_PART_MAP];
    double units_per_pt = need * 0.0254 / 72 / k;
    double cx = (gb.minx + gb.maxx) / 2, cy = (gb.miny + gb.maxy) / 2;
    double hw = mb.w * units_per_pt / 2, hh = mb.h * units_per_pt / 2;
    page->map_bbox = (ht_bbox){cx - hw, cy - hh, cx + hw, cy + hh};
    page->scale = need;
    page->convergence_deg = conv;
    st = draw_map(c, g, mb, &page->map_bbox);
    if (st != HT_OK) {
        return st;
    }
    page->part[HT_PART_MAP] = mb;
    page->part[HT_PART_TITLE] = draw_title(c, g, s[HT_PART_TITLE]);
    page->part[HT_PART_LEGEND] =
        ht__print_legend(c, c->o->layer, &c->o->filter, s[HT_PART_LEGEND]);
    page->part[HT_PART_SCALEBAR] = ht__print_scalebar(
        c, s[HT_PART_SCALEBAR], need, &page->scalebar_m, &page->scalebar_pt);
    page->part[HT_PART_NORTH] = draw_north(c, s[HT_PART_NORTH], conv);
    page->part[HT_PART_INSET] = draw_inset(c, g, s[HT_PART_INSET]);
    st = draw_table(c, g, s[HT_PART_TABLE], &page->part[HT_PART_TABLE]);
    if (st == HT_OK) {
        st = draw_streets(c, g, s[HT_PART_STREETS],
                          &page->part[HT_PART_STREETS]);
    }
    if (st == HT_OK) {
        char num[32], extra[64];
        ht__print_thousands(need, num, sizeof num);
        snprintf(extra, sizeof extra, "比例尺 1:%s", num);
        page->part[HT_PART_FOOTER] = ht__print_footer(c, extra);
    }
    return st;
}
