/* SPDX-License-Identifier: Apache-2.0 */
/* Legends in real units for the heat layers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hutong/analysis.h"
#include "hutong/buf.h"
#include "hutong/clock.h"
#include "hutong/hash.h"
#include "hutong/render.h"
#include "hutong/tile.h"

#include "render_int.h"

/* ---- legends ---- */

#define LEGEND_W 360
#define LEGEND_ROW 78   /* a ramp */
#define LEGEND_HEAD 30  /* a title above class swatches */
#define LEGEND_CLASS 20 /* one class swatch */

#define LEGEND_SIZES 28 /* the row of circle sizes */

static bool has_legend(const ht_style_layer *l) {
    return l->type == HT_LAYER_HEATMAP || l->type == HT_LAYER_STREET_HEAT ||
           l->type == HT_LAYER_CHOROPLETH || l->type == HT_LAYER_HOTSPOT ||
           (l->type == HT_LAYER_CIRCLE && l->nlegend_stops);
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
    if (l->type == HT_LAYER_CIRCLE) {
        return LEGEND_ROW + (l->nlegend_sizes ? LEGEND_SIZES : 0);
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
    const glyph *g = ht__render_text_glyph(r, s, size, DEFAULT_FONT);
    if (g) {
        ht__render_draw_glyph(&(frame){.r = r, .cr = cr}, g, x + g->w / 2, y,
                              &legend_ink);
    }
}

/* The frame of a ramp of @bw x @bh at (@x0, @y). */
static void ramp_frame(cairo_t *cr, double x0, double y, double bw, double bh) {
    cairo_set_source_rgb(cr, 0.3, 0.3, 0.35);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, x0 + 0.5, y + 0.5, bw - 1, bh - 1);
    cairo_stroke(cr);
}

/* A tick at @x under a ramp whose bottom is at @y, and its label below,
 * kept within the ramp's width (@x0, @bw). */
static void ramp_tick(ht_renderer *r, cairo_t *cr, double x, const char *label,
                      double x0, double bw, double y, double scale) {
    cairo_move_to(cr, x + 0.5, y);
    cairo_line_to(cr, x + 0.5, y + 4 * scale);
    cairo_stroke(cr);
    const glyph *ng = ht__render_text_glyph(r, label, 11 * scale, DEFAULT_FONT);
    if (ng) {
        double nx = fmin(fmax(x, x0 + ng->w / 2), x0 + bw - ng->w / 2);
        ht__render_draw_glyph(&(frame){.r = r, .cr = cr}, ng, nx,
                              y + 14 * scale, &legend_ink);
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
    ramp_frame(cr, x0, y0 + 26 * scale, bw, bh);
    double step = top > 0 ? nice_step(top) : 1;
    for (double t = 0; top > 0 && t <= top * 1.0001; t += step) {
        char num[32];
        snprintf(num, sizeof num, "%g", t);
        ramp_tick(r, cr, x0 + t / top * (bw - 1), num, x0, bw,
                  y0 + 26 * scale + bh, scale);
    }
}

/* The one property a circle legend sets on its pretend feature. */
typedef struct legend_feature {
    const char *name;
    double value;
} legend_feature;

static bool legend_get(const void *feature, const char *name, ht_value *out) {
    const legend_feature *f = feature;
    if (strcmp(name, f->name) != 0) {
        return false;
    }
    *out = (ht_value){.type = HT_VAL_NUMBER, .n = f->value};
    return true;
}

/* A circle layer's colour ramp over its legend property, ticked at the
 * stops, then its circles at each size value (drawn at zoom 15). */
static void legend_circles(ht_renderer *r, cairo_t *cr, const ht_style_layer *l,
                           double y0, double scale) {
    double x0 = 14 * scale, bw = (LEGEND_W - 28) * scale, bh = 16 * scale;
    double lo = l->legend_stops[0], hi = l->legend_stops[l->nlegend_stops - 1];
    legend_text(r, cr, l->legend_title, 13 * scale, x0, y0 + 14 * scale);
    double op = ht_style_number(l, HT_P_CIRCLE_OPACITY, 15, NULL, NULL);
    for (int k = 0; k < (int)bw; k++) {
        legend_feature f = {l->legend_prop, lo + (hi - lo) * k / (bw - 1)};
        ht_rgba c = ht_style_color(l, HT_P_CIRCLE_COLOR, 15, legend_get, &f);
        cairo_set_source_rgba(cr, c.r, c.g, c.b, c.a * op);
        cairo_rectangle(cr, x0 + k, y0 + 26 * scale, 1, bh);
        cairo_fill(cr);
    }
    ramp_frame(cr, x0, y0 + 26 * scale, bw, bh);
    for (int i = 0; i < l->nlegend_stops; i++) {
        char num[32];
        snprintf(num, sizeof num, "%g%s", l->legend_stops[i],
                 i == l->nlegend_stops - 1 ? "+" : "");
        ramp_tick(r, cr, x0 + (l->legend_stops[i] - lo) / (hi - lo) * (bw - 1),
                  num, x0, bw, y0 + 26 * scale + bh, scale);
    }
    double x = x0, y = y0 + (LEGEND_ROW + LEGEND_SIZES / 2.0 - 4) * scale;
    legend_feature mid = {l->legend_prop, (lo + hi) / 2};
    ht_rgba fill = ht_style_color(l, HT_P_CIRCLE_COLOR, 15, legend_get, &mid);
    for (int i = 0; i < l->nlegend_sizes; i++) {
        legend_feature f = {l->legend_size_prop, l->legend_sizes[i]};
        double rad =
            ht_style_number(l, HT_P_CIRCLE_RADIUS, 15, legend_get, &f) * scale;
        rad = fmin(fmax(rad, 1), 11 * scale);
        cairo_arc(cr, x + rad, y, rad, 0, 2 * HT_PI);
        cairo_set_source_rgba(cr, fill.r, fill.g, fill.b, fill.a * op);
        cairo_fill_preserve(cr);
        cairo_set_source_rgb(cr, 0.3, 0.3, 0.35);
        cairo_stroke(cr);
        char text[64];
        snprintf(text, sizeof text, "%s %g", l->legend_size_prop,
                 l->legend_sizes[i]);
        legend_text(r, cr, text, 11 * scale, x + 2 * rad + 5 * scale, y);
        x += 2 * rad + 95 * scale;
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
        ht__render_set_color(cr, c->colors[cls], op);
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
    if (l->type == HT_LAYER_CIRCLE) {
        legend_circles(r, cr, l, y0, scale);
        return HT_OK;
    }
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
            legend_ramp(r, cr, l, top,
                        l->legend_title ? l->legend_title : title, y0, scale);
        }
        return st;
    }
    if (l->type == HT_LAYER_STREET_HEAT) {
        const ht_street_heat *sh;
        double top;
        ht_status st = ht__render_street_heat_for(r, l, filter, &sh, &top, err);
        if (st == HT_OK) {
            legend_ramp(r, cr, l, top,
                        l->legend_title
                            ? l->legend_title
                            : "街巷热度 incidents per 100 m of street",
                        y0, scale);
        }
        return st;
    }
    bool hot = l->type == HT_LAYER_HOTSPOT;
    ht_render_req req = {.style = style, .filter = filter, .scale = scale};
    frame f = {.r = r, .req = &req, .cr = cr, .err = err};
    const classed *c;
    ht_status st = ht__render_classed_for(&f, l, hot, &c);
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
    legend_classes(r, cr, l, c, l->legend_title ? l->legend_title : title,
                   labels, y0, scale);
    return HT_OK;
}

ht_status ht_render_legend(ht_renderer *r, const ht_style *style,
                           const ht_filter *filter, double scale, cairo_t *cr,
                           ht_error *err) {
    /* A style's own filter parameters set its scale too. */
    ht_filter flt;
    if (ht_style_has_filter(style)) {
        flt = filter ? *filter : ht_filter_all();
        ht_status fst = ht_style_apply_filter(style, &flt, ht_clock_now(), err);
        if (fst != HT_OK) {
            return fst;
        }
        filter = &flt;
    }
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
                          "choropleth or hotspot layer, nor a circle layer "
                          "with a legend",
                          ht_style_name(style));
    }
    return st;
}
