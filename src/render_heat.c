/* SPDX-License-Identifier: Apache-2.0 */
/* Density grids and the per-filter aggregate cache, kept up to date with
 * the index snapshots. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hutong/analysis.h"
#include "hutong/buf.h"
#include "hutong/clock.h"
#include "hutong/datetime.h"
#include "hutong/hash.h"
#include "hutong/render.h"
#include "hutong/tile.h"

#include "render_int.h"

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
    } else if (strcmp(name, "hours_over") == 0) {
        *out =
            (ht_value){.type = HT_VAL_NUMBER,
                       .n = ht__render_hours_over(v->late_at, ht_clock_now())};
    } else {
        return false;
    }
    return true;
}

static double style_weight(void *ud, const ht_incident_view *v) {
    const ht_style_layer *l = ud;
    return ht_style_number(l, HT_P_HEATMAP_WEIGHT, 0, get_view, v);
}

ht_status ht__render_ensure_index(ht_renderer *r, ht_error *err) {
    if (r->index) {
        return HT_OK;
    }
    if (!r->store) {
        return ht_error_set(err, HT_EINVAL, "no incidents to aggregate");
    }
    return ht_index_load(r->store, &r->index, err);
}

ht_status ht_renderer_index(ht_renderer *r, ht_index **out, ht_error *err) {
    ht_status st = ht__render_ensure_index(r, err);
    *out = st == HT_OK ? r->index : NULL;
    return st;
}

/* Per-filter aggregates (street heat, choropleth, hotspots): a small LRU. */
void *ht__render_agg_get(ht_renderer *r, const char *key) {
    for (int k = 0; k < AGG_CACHE; k++) {
        if (r->aggs[k].key && strcmp(r->aggs[k].key, key) == 0) {
            r->aggs[k].used = ++r->clock;
            return r->aggs[k].data;
        }
    }
    return NULL;
}

ht_status ht__render_agg_put(ht_renderer *r, const char *key, void *data,
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

void ht__render_agg_key(const ht_style *style, const ht_style_layer *l,
                        const ht_filter *filter, char *out, size_t size) {
    ht_filter all = ht_filter_all();
    char fkey[1024];
    ht_filter_key(filter ? filter : &all, fkey, sizeof fkey);
    snprintf(out, size, "%s|%s|%s", ht_style_name(style), l->id, fkey);
}

ht_status ht_render_heat_opts(const ht_style_layer *l, ht_heat_opts *o,
                              ht_error *err) {
    char kbuf[16];
    *o = (ht_heat_opts){
        .radius_m = ht_style_number(l, HT_P_HEATMAP_RADIUS, 0, NULL, NULL)};
    ht_status st =
        ht_heat_kernel_parse(ht_style_string(l, HT_P_HEATMAP_KERNEL, 0, NULL,
                                             NULL, kbuf, sizeof kbuf),
                             &o->kernel, err);
    if (st == HT_OK && l->props[HT_P_HEATMAP_WEIGHT] &&
        !(l->zoom_only[HT_P_HEATMAP_WEIGHT] &&
          ht_style_number(l, HT_P_HEATMAP_WEIGHT, 0, NULL, NULL) == 1)) {
        o->weight = style_weight;
        o->weight_ud = (void *)l;
    }
    return st;
}

void ht_renderer_set_atlases(ht_renderer *r, ht_heat_atlases *atlases) {
    r->atlases = atlases;
}

/* The layer's density grid under @filter: from the cache, else summed
 * from the grids per class, else built. */
static ht_status heat_for(ht_renderer *r, const ht_style *style,
                          const ht_style_layer *l, const ht_filter *filter,
                          const ht_heat **out, ht_error *err) {
    ht_status st = ht__render_ensure_index(r, err);
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
    ht_heat_opts o;
    st = ht_render_heat_opts(l, &o, err);
    ht_heat *h = NULL;
    /* Summed from the grids per class when they serve the filter (for
     * the whole, waited for while they are built: a build costs as much). */
    unsigned sev;
    bool whole =
        f->ncategory == 0 && ht_index_filter_classes(q, &sev) && sev == 0xe;
    /* (a style with a filter of its own never asks what they hold) */
    ht_heat_atlas *a =
        st == HT_OK && r->atlases && !ht_style_has_filter(style)
            ? ht_heat_atlases_get(r->atlases, r->index, &o, whole)
            : NULL;
    if (a) {
        ht_error aerr = {0};
        st = ht_heat_from_atlas(a, r->index, q, &o, &h, &aerr);
        if (st != HT_OK && st != HT_ENOTFOUND) {
            ht_error_set(err, st, "%s", aerr.msg);
        }
        st = st == HT_ENOTFOUND ? HT_OK : st;
    }
    ht_heat_atlas_unref(a);
    if (st == HT_OK && !h) {
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
ht_status ht__render_heat_scale(ht_renderer *r, const ht_style *style,
                                const ht_style_layer *l,
                                const ht_filter *filter, double *top,
                                double *per, ht_error *err) {
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
    if ((st = ht__render_ensure_index(r, err)) != HT_OK) {
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
    return ht__render_heat_scale(r, style, l, filter, top, &per, err);
}

/* The density at the centre of pixel (i, j); 0 where the CRS has no
 * inverse. */
static double heat_at(const frame *f, const ht_heat *h, int i, int j) {
    const ht_bbox *b = &f->req->bbox;
    double cx = b->minx + (i + 0.5) / f->sx, cy = b->maxy - (j + 0.5) / f->sy;
    double mx = cx, my = cy;
    if (!f->merc) {
        double lon, lat;
        if (ht_crs_transform_point(f->r->inv, cx, cy, &lon, &lat, NULL) !=
            HT_OK) {
            return 0;
        }
        ht_tile_lonlat_to_merc(lon, lat, &mx, &my);
    }
    return ht_heat_sample(h, mx, my);
}

ht_status ht__render_draw_heatmap(frame *f, const ht_style_layer *l) {
    const ht_heat *h;
    double unit_top, per;
    ht_status st = ht__render_heat_scale(f->r, f->req->style, l, f->req->filter,
                                         &unit_top, &per, f->err);
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
    /* Every pixel shows the density at its centre. Where the density grid
     * is coarse against the pixels (a printed page: a cell is a hundred
     * pixels wide), the density is taken every STEP pixels and linearly
     * interpolated between: on a cubic surface whose cells span 48 pixels
     * or more that differs from sampling each pixel by less than 0.1 % of
     * the scale, at a sixteenth of the cost (and of the PROJ calls). */
    double cell_px = ht_heat_spacing_m(h) * f->sx * (f->merc ? 1 : 0.7);
    int step = cell_px >= 48 ? 4 : 1;
    int nsx = (w - 1) / step + 2, nsy = (hgt - 1) / step + 2;
    double *lat = malloc((size_t)nsx * 2 * sizeof *lat);
    if (!lat) {
        cairo_surface_destroy(img);
        return ht_error_set(f->err, HT_ENOMEM, "out of memory for the heat");
    }
    double *row0 = lat, *row1 = lat + nsx;
    for (int sj = 0; sj < nsy; sj++) {
        int j0 = sj * step;
        /* The lattice row at pixel row j0 (clamped to the last row). */
        int jj = j0 < hgt ? j0 : hgt - 1;
        for (int si = 0; si < nsx; si++) {
            int ii = si * step < w ? si * step : w - 1;
            row1[si] = heat_at(f, h, ii, jj);
        }
        if (sj > 0) {
            int ja = (sj - 1) * step, jb = j0 < hgt ? j0 : hgt - 1;
            for (int j = ja; j < hgt && j < ja + step; j++) {
                double ty = jb > ja ? (double)(j - ja) / (jb - ja) : 0;
                uint32_t *row = (uint32_t *)(data + (size_t)j * stride);
                for (int i = 0; i < w; i++) {
                    int si = i / step, ia = si * step;
                    int ib = ia + step < w ? ia + step : w - 1;
                    double tx = ib > ia ? (double)(i - ia) / (ib - ia) : 0;
                    double v0 = row0[si] + (row0[si + 1] - row0[si]) * tx;
                    double v1 = row1[si] + (row1[si + 1] - row1[si]) * tx;
                    double v = v0 + (v1 - v0) * ty;
                    int k = (int)(fmin(v / top, 1) * (LUT - 1) + 0.5);
                    row[i] = v > 0 ? lut[k] : lut[0];
                }
            }
        }
        double *t = row0;
        row0 = row1;
        row1 = t;
    }
    free(lat);
    cairo_surface_mark_dirty(img);
    cairo_set_source_surface(f->cr, img, 0, 0);
    cairo_paint(f->cr);
    cairo_surface_destroy(img);
    return HT_OK;
}
