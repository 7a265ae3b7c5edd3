/* SPDX-License-Identifier: Apache-2.0 */
/* Labels: street names along their lines and names at points, never
 * overlapping, never cut by the edge. */
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

void ht__render_draw_glyph(frame *f, const glyph *g, double x, double y,
                           const text_paint *tp) {
    cairo_save(f->cr);
    cairo_translate(f->cr, x, y);
    cairo_new_path(f->cr);
    cairo_append_path(f->cr, g->path);
    if (tp->halo_w > 0 && tp->halo.a > 0) {
        cairo_set_line_join(f->cr, CAIRO_LINE_JOIN_ROUND);
        cairo_set_line_width(f->cr, 2 * tp->halo_w);
        cairo_set_dash(f->cr, NULL, 0, 0);
        ht__render_set_color(f->cr, tp->halo, tp->opacity);
        cairo_stroke_preserve(f->cr);
    }
    ht__render_set_color(f->cr, tp->color, tp->opacity);
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
        ht__render_to_px(f, c->pts[k].x, c->pts[k].y, &p[k].x, &p[k].y);
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
        gl[nch] = ht__render_text_glyph(f->r, ch, size, family);
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
            ht__render_draw_glyph(f, gl[k], at[k].x, at[k].y, tp);
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

ht_status ht__render_draw_symbols(frame *f, const ht_style_layer *l) {
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
        if ((st = ht__render_query(f, HT_F_CHAINS, &n)) != HT_OK) {
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
            if (ht_style_filter(l, f->zoom, ht__render_get_chain, c)) {
                ll[m++] = (line_label){c, kind_rank(c->kind)};
            }
        }
        qsort(ll, m, sizeof *ll, cmp_line_label);
        for (size_t i = 0; i < m && st == HT_OK; i++) {
            const ht_fchain *c = ll[i].c;
            const char *text =
                ht_style_string(l, HT_P_TEXT_FIELD, f->zoom,
                                ht__render_get_chain, c, buf, sizeof buf);
            double size = ht_style_number(l, HT_P_TEXT_SIZE, f->zoom,
                                          ht__render_get_chain, c) *
                          f->req->scale;
            if (!*text || size <= 0) {
                continue;
            }
            text_paint tp;
            text_paint_at(f, l, ht__render_get_chain, c, &tp);
            st = label_line(f, l, c, text, size, family, &tp, overlap, pad);
        }
        free(ll);
        return st;
    }
    /* Point labels: grids at their interior point (streets at the middle
     * vertex of the segment). */
    if ((st = ht__render_query(
             f, l->source == HT_SOURCE_GRIDS ? HT_F_GRIDS : HT_F_STREETS,
             &n)) != HT_OK) {
        return st;
    }
    for (size_t i = 0; i < n && st == HT_OK; i++) {
        item it;
        ht_style_get_fn get;
        if (!ht__render_item_at(f, l, i, &it, &get)) {
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
        const glyph *g = ht__render_text_glyph(f->r, text, size, family);
        if (!g) {
            continue;
        }
        double x, y;
        ht__render_to_px(f, anchor.x, anchor.y, &x, &y);
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
        ht__render_draw_glyph(f, g, x, y, &tp);
    }
    return st;
}
