/* SPDX-License-Identifier: Apache-2.0 */
/* Street heat, choropleths and hotspots; and what a tile depends on
 * (its reach and the fingerprint of the aggregates it draws). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hutong/analysis.h"
#include "hutong/buf.h"
#include "hutong/hash.h"
#include "hutong/render.h"
#include "hutong/tile.h"

#include "render_int.h"

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

ht_status ht_render_street_heat(ht_renderer *r, const ht_filter *filter,
                                const ht_street_heat **out, ht_error *err) {
    ht_status st = ht__render_ensure_index(r, err);
    if (st != HT_OK) {
        return st;
    }
    char key[1400];
    ht_filter all = ht_filter_all();
    char fkey[1024];
    ht_filter_key(filter ? filter : &all, fkey, sizeof fkey);
    snprintf(key, sizeof key, "street-heat|%s", fkey);
    ht_street_heat *sh = ht__render_agg_get(r, key);
    if (!sh) {
        ht_index_filter *q;
        st = ht_index_filter_new(r->index, filter ? filter : &all, &q, err);
        if (st == HT_OK) {
            st = ht_analysis_street_heat(r->index, q, r->features, &sh, err);
            ht_index_filter_free(q);
        }
        if (st == HT_OK) {
            st = ht__render_agg_put(r, key, sh, &street_heat_kind,
                                    filter ? filter : &all, err);
        }
        if (st != HT_OK) {
            return st;
        }
    }
    *out = sh;
    return HT_OK;
}

/* The street heat of a filter and the top of a layer's colour scale for
 * it. */
ht_status ht__render_street_heat_for(ht_renderer *r, const ht_style_layer *l,
                                     const ht_filter *filter,
                                     const ht_street_heat **out, double *top,
                                     ht_error *err) {
    ht_status st = ht_render_street_heat(r, filter, out, err);
    if (st == HT_OK) {
        double fixed =
            ht_style_number(l, HT_P_STREET_HEAT_SCALE, 0, NULL, NULL);
        *top = fixed > 0 ? fixed : (*out)->auto_scale;
    }
    return st;
}

ht_status ht__render_draw_street_heat(frame *f, const ht_style_layer *l) {
    const ht_street_heat *sh;
    double top;
    ht_status st =
        ht__render_street_heat_for(f->r, l, f->req->filter, &sh, &top, f->err);
    size_t n;
    if (st != HT_OK || !(top > 0) ||
        (st = ht__render_query(f, HT_F_STREETS, &n)) != HT_OK) {
        return st;
    }
    /* Hot streets last, on top. */
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t id = f->r->ids[i];
        if (sh->count[id] &&
            ht_style_filter(l, f->zoom, ht__render_get_street,
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
        ht__render_add_geom_path(f, s->geom, false);
        ht__render_set_color(
            f->cr,
            ht_style_ramp_color(l, HT_P_STREET_HEAT_COLOR, f->zoom,
                                sh->rate[f->r->ids[i]], top),
            op);
        cairo_stroke(f->cr);
    }
    return HT_OK;
}

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
    kept_counts *c = ht__render_agg_get(f->r, key);
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
            st = ht__render_agg_put(f->r, key, c, &counts_kind, flt, f->err);
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
    return ht_style_filter(l, 0, ht__render_get_grid, g);
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
ht_status ht__render_classed_for(frame *f, const ht_style_layer *l, bool hot,
                                 const classed **out) {
    ht_status st = ht__render_ensure_index(f->r, f->err);
    if (st != HT_OK) {
        return st;
    }
    char key[1400];
    ht__render_agg_key(f->req->style, l, f->req->filter, key, sizeof key);
    classed *c = ht__render_agg_get(f->r, key);
    if (!c) {
        st = hot ? build_hotspots(f, l, &c) : build_choropleth(f, l, &c);
        if (st == HT_OK) {
            ht_filter all = ht_filter_all();
            st = ht__render_agg_put(f->r, key, c, &classed_kind,
                                    f->req->filter ? f->req->filter : &all,
                                    f->err);
        }
        if (st != HT_OK) {
            return st;
        }
    }
    *out = c;
    return HT_OK;
}

ht_status ht__render_draw_classed(frame *f, const ht_style_layer *l, bool hot) {
    const classed *c;
    ht_status st = ht__render_classed_for(f, l, hot, &c);
    size_t n;
    if (st != HT_OK || (st = ht__render_query(f, HT_F_GRIDS, &n)) != HT_OK) {
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
        ht__render_add_geom_path(f, g->geom, true);
        ht__render_set_color(f->cr, c->colors[k], op);
        cairo_fill_preserve(f->cr);
        ht__render_set_color(f->cr, outline, 1);
        cairo_stroke(f->cr);
    }
    return HT_OK;
}

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
    ht_status st =
        ht__render_street_heat_for(f->r, l, f->req->filter, &sh, &top, f->err);
    if (st != HT_OK || (st = ht__render_query(f, HT_F_STREETS, &n)) != HT_OK) {
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
    ht_status st = ht__render_classed_for(f, l, hot, &c);
    if (st != HT_OK || (st = ht__render_query(f, HT_F_GRIDS, &n)) != HT_OK) {
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
    ht_status st = ht__render_frame_setup(&f, err);
    size_t nl = ht_style_layer_count(req->style);
    for (size_t i = 0; i < nl && st == HT_OK; i++) {
        const ht_style_layer *l = ht_style_layer_at(req->style, i);
        if (!ht_style_layer_visible(l, f.zoom)) {
            continue;
        }
        if (l->type == HT_LAYER_HEATMAP) {
            double top, per;
            st = ht__render_heat_scale(r, req->style, l, req->filter, &top,
                                       &per, err);
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
