/* SPDX-License-Identifier: Apache-2.0 */
/* Atlases: areas chosen, a cover (the areas numbered on a map of them all)
 * and an index, one page per area, written as one PDF or a folder of PNG
 * pages under a temporary name and renamed at the end. */
#include <cairo-pdf.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hutong/datetime.h"
#include "hutong/jpeg.h"
#include "hutong/png.h"
#include "hutong/tile.h"

#include "print_int.h"

static const struct {
    const char *name;
    double short_mm, long_mm;
} papers[HT_PAPER_COUNT] = {
    {"A4", 210, 297}, {"A3", 297, 420},  {"A2", 420, 594},
    {"A1", 594, 841}, {"A0", 841, 1189},
};

ht_status ht_print_paper_parse(const char *s, ht_paper *out, ht_error *err) {
    for (int k = 0; s && k < HT_PAPER_COUNT; k++) {
        if (strcasecmp(s, papers[k].name) == 0) {
            *out = (ht_paper)k;
            return HT_OK;
        }
    }
    return ht_error_set(err, HT_EINVAL,
                        "paper \"%s\" is not one of A4, A3, A2, A1, A0",
                        s ? s : "");
}

void ht_print_paper_mm(ht_paper p, double *short_mm, double *long_mm) {
    *short_mm = papers[p].short_mm;
    *long_mm = papers[p].long_mm;
}

ht_status ht_print_orientation_parse(const char *s, ht_orientation *out,
                                     ht_error *err) {
    static const char *const names[] = {"auto", "portrait", "landscape"};
    for (int k = 0; s && k < 3; k++) {
        if (strcmp(s, names[k]) == 0) {
            *out = (ht_orientation)k;
            return HT_OK;
        }
    }
    return ht_error_set(err, HT_EINVAL,
                        "orientation \"%s\" is not auto, portrait or landscape",
                        s ? s : "");
}

ht_print_opts ht_print_opts_default(int64_t now) {
    return (ht_print_opts){.paper = HT_PAPER_A4,
                           .orientation = HT_ORIENT_AUTO,
                           .dpi = 300,
                           .filter = ht_filter_all(),
                           .now = now};
}

double ht_print_round_scale(double denominator) {
    static const double series[] = {1, 2, 2.5, 5, 10};
    double p = pow(10, floor(log10(fmax(denominator, 1))));
    for (int k = 0; k < 5; k++) {
        if (series[k] * p >= denominator * (1 - 1e-9)) {
            return series[k] * p;
        }
    }
    return 10 * p;
}

void ht__print_thousands(double v, char *out, size_t size) {
    char digits[32];
    snprintf(digits, sizeof digits, "%.0f", v);
    size_t n = strlen(digits), o = 0;
    for (size_t k = 0; k < n && o + 2 < size; k++) {
        if (k > 0 && (n - k) % 3 == 0) {
            out[o++] = ',';
        }
        out[o++] = digits[k];
    }
    out[o] = '\0';
}

void ht__print_page_size(ht__pctx *c, bool landscape) {
    double a = papers[c->o->paper].short_mm, b = papers[c->o->paper].long_mm;
    c->landscape = landscape;
    c->w_pt = (landscape ? b : a) * HT__MM;
    c->h_pt = (landscape ? a : b) * HT__MM;
    c->u = a / 210.0;
}

static void set_font(ht__pctx *c, double size, bool bold) {
    PangoFontDescription *fd = pango_font_description_new();
    pango_font_description_set_family(fd, HT__PRINT_FONT);
    pango_font_description_set_weight(
        fd, bold ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL);
    pango_font_description_set_absolute_size(fd, size * PANGO_SCALE);
    pango_layout_set_font_description(c->layout, fd);
    pango_font_description_free(fd);
}

double ht__print_text_width(ht__pctx *c, const char *text, double size,
                            bool bold) {
    set_font(c, size, bold);
    pango_layout_set_text(c->layout, text, -1);
    int w, h;
    pango_layout_get_size(c->layout, &w, &h);
    return w / (double)PANGO_SCALE;
}

ht_print_box ht__print_text(ht__pctx *c, ht_print_box b, const char *text,
                            double size, bool bold, double align,
                            uint32_t rgb) {
    double s = size, w = ht__print_text_width(c, text, s, bold);
    while (w > b.w && s > size * 0.7) {
        s *= 0.95;
        w = ht__print_text_width(c, text, s, bold);
    }
    if (w > b.w) {
        pango_layout_set_width(c->layout, (int)(b.w * PANGO_SCALE));
        pango_layout_set_ellipsize(c->layout, PANGO_ELLIPSIZE_END);
        int iw, ih;
        pango_layout_get_size(c->layout, &iw, &ih);
        w = iw / (double)PANGO_SCALE;
    }
    PangoRectangle ink, logical;
    pango_layout_get_extents(c->layout, &ink, &logical);
    double lh = logical.height / (double)PANGO_SCALE;
    double x = b.x + (b.w - w) * align, y = b.y + (b.h - lh) / 2;
    cairo_t *cr = c->cr;
    /* A white halo first, so that text over the map stays legible; then
     * the text itself as text (fonts embedded, searchable). */
    cairo_move_to(cr, x, y);
    pango_cairo_layout_path(cr, c->layout);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_set_line_width(cr, s * 0.18);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    cairo_stroke(cr);
    cairo_move_to(cr, x, y);
    cairo_set_source_rgb(cr, ((rgb >> 16) & 255) / 255.0,
                         ((rgb >> 8) & 255) / 255.0, (rgb & 255) / 255.0);
    pango_cairo_show_layout(cr, c->layout);
    pango_layout_set_width(c->layout, -1);
    pango_layout_set_ellipsize(c->layout, PANGO_ELLIPSIZE_NONE);
    return (ht_print_box){x, y, fmin(w, b.w), lh};
}

/* The size in device pixels of the map box @b at the options' DPI, capped
 * so that no side passes HT_RENDER_MAX_SIZE. */
static void map_pixels(const ht__pctx *c, ht_print_box b, int *w, int *h) {
    double dpi = c->o->dpi, side_in = fmax(b.w, b.h) / 72;
    dpi = fmin(dpi, (HT_RENDER_MAX_SIZE - 1) / side_in);
    *w = (int)lround(b.w / 72 * dpi);
    *h = (int)lround(b.h / 72 * dpi);
}

ht_status ht__print_map(ht__pctx *c, ht_render_req req, ht_print_box b,
                        const ht_print_box *avoid, size_t navoid) {
    map_pixels(c, b, &req.width, &req.height);
    ht_bbox dev[64];
    double kx = req.width / b.w, ky = req.height / b.h;
    for (size_t k = 0; k < navoid && k < 64; k++) {
        dev[k] = (ht_bbox){(avoid[k].x - b.x) * kx, (avoid[k].y - b.y) * ky,
                           (avoid[k].x + avoid[k].w - b.x) * kx,
                           (avoid[k].y + avoid[k].h - b.y) * ky};
    }
    req.avoid = dev;
    req.navoid = navoid < 64 ? navoid : 64;
    /* A style's CSS pixel is 1/96 inch on paper. */
    req.scale = req.width / (b.w / 72) / 96;
    cairo_t *cr = c->cr;
    cairo_save(cr);
    cairo_rectangle(cr, b.x, b.y, b.w, b.h);
    cairo_clip(cr);
    cairo_translate(cr, b.x, b.y);
    cairo_scale(cr, b.w / req.width, b.h / req.height);
    ht_status st = ht_render(c->r, &req, cr, c->err);
    cairo_restore(cr);
    return st;
}

ht_status ht__print_heat(ht__pctx *c, ht_render_req req, ht_print_box b) {
    map_pixels(c, b, &req.width, &req.height);
    req.scale = req.width / (b.w / 72) / 96;
    req.transparent = true;
    cairo_surface_t *img =
        cairo_image_surface_create(CAIRO_FORMAT_RGB24, req.width, req.height);
    cairo_t *cr = cairo_create(img);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    ht_status st =
        cairo_status(cr) == CAIRO_STATUS_SUCCESS
            ? ht_render(c->r, &req, cr, c->err)
            : ht_error_set(c->err, HT_ENOMEM, "out of memory for the heat");
    cairo_destroy(cr);
    /* Quality 90: the ramp's steps stay clean, a tenth of the bytes of
     * the pixels deflated. */
    if (st == HT_OK && c->vector) {
        st = ht_jpeg_attach(img, 90, c->err);
    }
    if (st == HT_OK) {
        cairo_save(c->cr);
        cairo_rectangle(c->cr, b.x, b.y, b.w, b.h);
        cairo_clip(c->cr);
        cairo_translate(c->cr, b.x, b.y);
        cairo_scale(c->cr, b.w / req.width, b.h / req.height);
        cairo_set_source_surface(c->cr, img, 0, 0);
        cairo_paint(c->cr);
        cairo_restore(c->cr);
    }
    cairo_surface_destroy(img);
    return st;
}

/* Whether @s draws a density raster (heatmap layers), which goes under
 * the base map, rather than lines and areas (street heat, choropleths,
 * hotspots), which go over it. */
static bool raster_layer(const ht_style *s) {
    for (size_t i = 0; i < ht_style_layer_count(s); i++) {
        if (ht_style_layer_at(s, i)->type == HT_LAYER_HEATMAP) {
            return true;
        }
    }
    return false;
}

ht_status ht__print_under(ht__pctx *c, const ht_bbox *bbox, const char *crs,
                          ht_print_box b) {
    ht_render_req req = {.style = c->o->style,
                         .bbox = *bbox,
                         .crs = crs,
                         .filter = &c->o->filter,
                         .layers = HT_RENDER_NO_LABELS};
    ht_render_req h = req;
    h.style = c->o->layer;
    h.layers = HT_RENDER_ALL;
    h.transparent = true;
    if (c->o->layer && raster_layer(c->o->layer)) {
        ht_status st = ht__print_heat(c, h, b);
        req.transparent = true;
        return st == HT_OK ? ht__print_map(c, req, b, NULL, 0) : st;
    }
    ht_status st = ht__print_map(c, req, b, NULL, 0);
    if (st == HT_OK && c->o->layer) {
        st = ht__print_map(c, h, b, NULL, 0);
    }
    return st;
}

ht_print_box ht__print_footer(ht__pctx *c, const char *extra) {
    double k = c->u * HT__MM, m = 10 * k;
    ht_print_box s = {m, c->h_pt - m - 6 * k, c->w_pt - 2 * m, 6 * k};
    char num[32], line[512];
    snprintf(num, sizeof num, "%d / %d", c->number, c->pages);
    double fs = 6.5 * c->u;
    double nw = ht__print_text_width(c, num, fs, true);
    const char *crs = c->o->crs ? c->o->crs : "EPSG:3857";
    snprintf(line, sizeof line,
             "数据期间 %s · 打印日期 %s · 坐标系 %s%s%s · 数据来源 %s",
             c->period, c->printed, crs, extra ? " · " : "", extra ? extra : "",
             c->o->source ? c->o->source : "hutong");
    cairo_move_to(c->cr, s.x, s.y);
    cairo_line_to(c->cr, s.x + s.w, s.y);
    cairo_set_line_width(c->cr, 0.4 * c->u);
    cairo_set_source_rgb(c->cr, 0.1, 0.1, 0.1);
    cairo_stroke(c->cr);
    ht__print_text(c, (ht_print_box){s.x, s.y + 0.5, s.w - nw - 4 * k, s.h},
                   line, fs, false, 0, 0x404040);
    ht__print_text(c, (ht_print_box){s.x + s.w - nw, s.y + 0.5, nw, s.h}, num,
                   fs, true, 1, 0x1a1a1a);
    return s;
}

/* Whether @anc is @g or above it. */
static bool is_under(const ht_features *f, const ht_fgrid *g,
                     const ht_fgrid *anc) {
    for (int hops = 0; g && hops < 16; hops++) {
        if (g == anc) {
            return true;
        }
        g = g->parent_code ? ht_features_find_grid(f, g->parent_code) : NULL;
    }
    return false;
}

ht_status ht_print_select(const ht_features *f, const char *within,
                          ht_level level, const char ***out, size_t *n,
                          ht_error *err) {
    *out = NULL;
    *n = 0;
    const ht_fgrid *top = NULL;
    if (within) {
        top = ht_features_find_grid(f, within);
        if (!top) {
            return ht_error_set(err, HT_ENOTFOUND, "no grid \"%s\"", within);
        }
    }
    size_t ng = ht_features_grid_count(f);
    const char **codes = malloc((ng + 1) * sizeof *codes);
    if (!codes) {
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    size_t k = 0;
    for (size_t i = 0; i < ng; i++) {
        const ht_fgrid *g = ht_features_grid(f, i);
        if (g->level != level) {
            continue;
        }
        if (!top || is_under(f, g, top)) {
            codes[k++] = g->code;
        }
    }
    if (k == 0) {
        free(codes);
        return ht_error_set(err, HT_EINVAL, "no %s to print in %s",
                            ht_model_level_name(level),
                            within ? within : "the store");
    }
    *out = codes;
    *n = k;
    return HT_OK;
}

/* ---- output: a file written under a temporary name ---- */

static cairo_status_t sink_write(void *closure, const unsigned char *data,
                                 unsigned int length) {
    ht__pdoc *d = closure;
    if (d->werr == 0 && fwrite(data, 1, length, d->f) != length) {
        d->werr = errno ? errno : EIO;
    }
    return d->werr ? CAIRO_STATUS_WRITE_ERROR : CAIRO_STATUS_SUCCESS;
}

ht_status ht__print_doc_open(ht__pctx *c, ht__pdoc *d, const char *path) {
    memset(d, 0, sizeof *d);
    d->fmt = c->o->format;
    d->path = path;
    snprintf(d->tmp, sizeof d->tmp, "%s.tmp-%ld", path, (long)getpid());
    if (d->fmt == HT_PRINT_PNG) {
        if (mkdir(d->tmp, 0755) != 0) {
            return ht_error_set(c->err, HT_EIO, "cannot make %s: %s", path,
                                strerror(errno));
        }
        return HT_OK;
    }
    d->f = fopen(d->tmp, "wb");
    if (!d->f) {
        return ht_error_set(c->err, HT_EIO, "cannot write %s: %s", path,
                            strerror(errno));
    }
    d->pdf =
        cairo_pdf_surface_create_for_stream(sink_write, d, c->w_pt, c->h_pt);
    cairo_pdf_surface_set_metadata(d->pdf, CAIRO_PDF_METADATA_CREATOR,
                                   "hutong " HT_VERSION);
    char date[32];
    ht_datetime_format(c->o->now, date, sizeof date);
    cairo_pdf_surface_set_metadata(d->pdf, CAIRO_PDF_METADATA_CREATE_DATE,
                                   date);
    return HT_OK;
}

ht_status ht__print_doc_close(ht__pctx *c, ht__pdoc *d, ht_status st) {
    ht_error *err = c->err;
    const char *path = d->path;
    if (d->pdf) {
        cairo_surface_finish(d->pdf);
        if (st == HT_OK &&
            cairo_surface_status(d->pdf) != CAIRO_STATUS_SUCCESS) {
            st = ht_error_set(
                err, HT_EIO, "cannot write %s: %s", path,
                d->werr ? strerror(d->werr)
                        : cairo_status_to_string(cairo_surface_status(d->pdf)));
        }
        cairo_surface_destroy(d->pdf);
        d->pdf = NULL;
    }
    if (d->f) {
        if ((fflush(d->f) != 0 || fsync(fileno(d->f)) != 0) && st == HT_OK) {
            st = ht_error_set(err, HT_EIO, "cannot write %s: %s", path,
                              strerror(errno));
        }
        if (fclose(d->f) != 0 && st == HT_OK) {
            st = ht_error_set(err, HT_EIO, "cannot write %s: %s", path,
                              strerror(errno));
        }
        d->f = NULL;
    }
    if (!d->tmp[0]) {
        return st;
    }
    if (st == HT_OK && rename(d->tmp, path) != 0) {
        st = ht_error_set(err, HT_EIO, "cannot write %s: %s", path,
                          strerror(errno));
    }
    if (st != HT_OK) {
        /* Nothing stays under the temporary name either. */
        for (int p = 1; d->fmt == HT_PRINT_PNG && p <= c->pages; p++) {
            char page[4300];
            snprintf(page, sizeof page, "%s/page-%04d.png", d->tmp, p);
            unlink(page);
        }
        if (d->fmt == HT_PRINT_PNG) {
            rmdir(d->tmp);
        } else {
            unlink(d->tmp);
        }
    }
    return st;
}

/* The period of @f as text. */
static void period_text(const ht_filter *f, int64_t now, char *out,
                        size_t size) {
    char a[32] = "", b[32] = "";
    if (f->from != INT64_MIN) {
        ht_datetime_format(f->from, a, sizeof a);
        a[10] = '\0';
    }
    int64_t to = f->to != INT64_MAX ? f->to - 1 : now;
    ht_datetime_format(to, b, sizeof b);
    b[10] = '\0';
    snprintf(out, size, "%s 至 %s", a[0] ? a : "全部", b);
}

/* The cover: the areas numbered on a map of them all, and a title. */
static ht_status draw_cover(ht__pctx *c, const ht_fgrid *const *gs, size_t n,
                            int first_page, const char *title) {
    double k = c->u * HT__MM, m = 10 * k;
    ht__print_text(c, (ht_print_box){m, m, c->w_pt - 2 * m, 14 * k}, title,
                   20 * c->u, true, 0, 0x1a1a1a);
    char sub[160];
    snprintf(sub, sizeof sub, "共 %zu 幅 · 数据期间 %s", n, c->period);
    ht__print_text(c, (ht_print_box){m, m + 15 * k, c->w_pt - 2 * m, 7 * k},
                   sub, 9 * c->u, false, 0, 0x6e6e6e);
    ht_print_box mb = {m, m + 25 * k, c->w_pt - 2 * m,
                       c->h_pt - 2 * m - 35 * k};
    ht_bbox all = ht_bbox_empty();
    for (size_t i = 0; i < n; i++) {
        ht_bbox_add(&all, gs[i]->bbox.minx, gs[i]->bbox.miny);
        ht_bbox_add(&all, gs[i]->bbox.maxx, gs[i]->bbox.maxy);
    }
    /* The map box's shape around them (3857: the cover is a locator). */
    double cx = (all.minx + all.maxx) / 2, cy = (all.miny + all.maxy) / 2;
    double s = fmax((all.maxx - all.minx) * 1.08 / mb.w,
                    (all.maxy - all.miny) * 1.08 / mb.h);
    ht_bbox b = {cx - mb.w * s / 2, cy - mb.h * s / 2, cx + mb.w * s / 2,
                 cy + mb.h * s / 2};
    ht_transform *keep = c->to_crs;
    c->to_crs = NULL;
    ht_status st = ht__print_under(c, &b, NULL, mb);
    cairo_t *cr = c->cr;
    for (size_t i = 0; st == HT_OK && i < n; i++) {
        cairo_new_path(cr);
        ht__print_geom_path(c, mb, &b, gs[i]->geom);
        cairo_set_source_rgb(cr, 0xe0 / 255.0, 0, 0x8a / 255.0);
        cairo_set_line_width(cr, 0.5 * c->u);
        cairo_stroke(cr);
    }
    /* Numbers where they fit inside their area. */
    for (size_t i = 0; st == HT_OK && i < n; i++) {
        double px, py;
        ht__print_to_page(c, mb, &b, gs[i]->label.x, gs[i]->label.y, &px, &py);
        double side = fmin(gs[i]->bbox.maxx - gs[i]->bbox.minx,
                           gs[i]->bbox.maxy - gs[i]->bbox.miny) /
                      s;
        char num[16];
        snprintf(num, sizeof num, "%zu", first_page + i);
        double fs = fmin(fmax(side * 0.3, 0), 10 * c->u);
        if (fs < 3) {
            continue;
        }
        double tw = ht__print_text_width(c, num, fs, true);
        ht__print_text(c, (ht_print_box){px - tw / 2, py - fs, tw, fs * 2}, num,
                       fs, true, 0.5, 0x1a1a1a);
    }
    c->to_crs = keep;
    if (st == HT_OK) {
        cairo_rectangle(cr, mb.x, mb.y, mb.w, mb.h);
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        cairo_set_line_width(cr, 0.6 * c->u);
        cairo_stroke(cr);
        ht__print_footer(c, "图中数字为页码");
    }
    return st;
}

/* Rows of the index a page holds: three columns. */
static size_t index_rows(const ht__pctx *c) {
    double k = c->u * HT__MM;
    double rows = (c->h_pt - 2 * 10 * k - 6 * k - 16 * k) / (4.2 * k);
    return (size_t)fmax(rows, 1) * 3;
}

static void draw_index(ht__pctx *c, const ht_fgrid *const *gs, size_t n,
                       size_t from, int first_page) {
    double k = c->u * HT__MM, m = 10 * k;
    ht__print_text(c, (ht_print_box){m, m, c->w_pt - 2 * m, 10 * k},
                   "索引（页码 · 编码 · 名称）", 12 * c->u, true, 0, 0x1a1a1a);
    size_t per = index_rows(c), rows = per / 3;
    double colw = (c->w_pt - 2 * m) / 3, rh = 4.2 * k;
    for (size_t i = from; i < n && i < from + per; i++) {
        size_t q = i - from, col = q / rows, row = q % rows;
        double x = m + colw * (double)col, y = m + 14 * k + rh * (double)row;
        char page[16], text[200];
        snprintf(page, sizeof page, "%zu", first_page + i);
        snprintf(text, sizeof text, "%s  %s", gs[i]->code,
                 gs[i]->name ? gs[i]->name : "");
        ht__print_text(c, (ht_print_box){x, y, 10 * k, rh}, page, 7 * c->u,
                       true, 1, 0x1a1a1a);
        ht__print_text(c, (ht_print_box){x + 12 * k, y, colw - 14 * k, rh},
                       text, 7 * c->u, false, 0, 0x1a1a1a);
    }
    ht__print_footer(c, NULL);
}

/* @c's layout on its cairo_t: a point a unit, and metrics that do not
 * depend on the surface (unhinted, as on PDF), so that a page is laid out
 * alike on a PDF, an image or a recording surface. */
void ht__print_new_layout(ht__pctx *c) {
    c->layout = pango_cairo_create_layout(c->cr);
    PangoContext *pc = pango_layout_get_context(c->layout);
    pango_cairo_context_set_resolution(pc, 72);
    cairo_font_options_t *fo = cairo_font_options_create();
    cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
    cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_NONE);
    pango_cairo_context_set_font_options(pc, fo);
    cairo_font_options_destroy(fo);
    pango_layout_context_changed(c->layout);
}

ht_status ht__print_page_begin(ht__pctx *c, ht__pdoc *o,
                               cairo_surface_t **img) {
    *img = NULL;
    c->vector = o->fmt == HT_PRINT_PDF;
    if (o->fmt == HT_PRINT_PDF) {
        cairo_pdf_surface_set_size(o->pdf, c->w_pt, c->h_pt);
        c->cr = cairo_create(o->pdf);
    } else {
        double px = c->o->dpi / 72.0;
        int w = (int)lround(c->w_pt * px), h = (int)lround(c->h_pt * px);
        if (w > HT_RENDER_MAX_SIZE || h > HT_RENDER_MAX_SIZE) {
            return ht_error_set(c->err, HT_EINVAL,
                                "a %s page at %d dpi is %d x %d px; PNG pages "
                                "are at most %d px: lower --dpi",
                                papers[c->o->paper].name, c->o->dpi, w, h,
                                HT_RENDER_MAX_SIZE);
        }
        *img = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, w, h);
        c->cr = cairo_create(*img);
        cairo_scale(c->cr, px, px);
        cairo_set_source_rgb(c->cr, 1, 1, 1);
        cairo_paint(c->cr);
    }
    if (cairo_status(c->cr) != CAIRO_STATUS_SUCCESS) {
        return ht_error_set(c->err, HT_ENOMEM, "cannot draw a page: %s",
                            cairo_status_to_string(cairo_status(c->cr)));
    }
    ht__print_new_layout(c);
    return HT_OK;
}

ht_status ht__print_page_end(ht__pctx *c, ht__pdoc *o, cairo_surface_t *img,
                             ht_status st) {
    if (c->layout) {
        g_object_unref(c->layout);
        c->layout = NULL;
    }
    if (st == HT_OK && o->fmt == HT_PRINT_PDF) {
        cairo_show_page(c->cr);
    }
    cairo_destroy(c->cr);
    c->cr = NULL;
    if (st == HT_OK && img) {
        ht_buf *b = ht_buf_new();
        st = b ? ht_png_encode(img, b, c->err)
               : ht_error_set(c->err, HT_ENOMEM, "out of memory");
        char path[4300];
        snprintf(path, sizeof path, "%s/page-%04d.png", o->tmp, c->number);
        FILE *f = st == HT_OK ? fopen(path, "wb") : NULL;
        if (st == HT_OK && (!f || fwrite(b->data, 1, b->len, f) != b->len)) {
            st = ht_error_set(c->err, HT_EIO, "cannot write page %d: %s",
                              c->number, strerror(errno));
        }
        if (f && fclose(f) != 0 && st == HT_OK) {
            st = ht_error_set(c->err, HT_EIO, "cannot write page %d: %s",
                              c->number, strerror(errno));
        }
        o->pngs += st == HT_OK;
        ht_buf_free(b);
    }
    cairo_surface_destroy(img);
    return st;
}

/* The areas' orientation and scale (one for all with uniform_scale). */
static ht_status plan(ht__pctx *c, const ht_fgrid *const *gs, size_t n,
                      bool *land, double *denom) {
    double uni = 0;
    for (size_t i = 0; i < n; i++) {
        double dp = 0, dl = 0;
        ht_status st = ht__print_need_scale(c, gs[i], false, &dp, c->err);
        if (st == HT_OK) {
            st = ht__print_need_scale(c, gs[i], true, &dl, c->err);
        }
        if (st != HT_OK) {
            return st;
        }
        ht_orientation o = c->o->orientation;
        land[i] = o == HT_ORIENT_LANDSCAPE || (o == HT_ORIENT_AUTO && dl < dp);
        denom[i] = ht_print_round_scale(land[i] ? dl : dp);
        uni = fmax(uni, denom[i]);
    }
    for (size_t i = 0; c->o->uniform_scale && i < n; i++) {
        denom[i] = uni;
    }
    return HT_OK;
}

ht_status ht__print_check_opts(const ht_print_opts *o, ht_error *err) {
    if (o->dpi < HT_PRINT_MIN_DPI || o->dpi > HT_PRINT_MAX_DPI) {
        return ht_error_set(err, HT_EINVAL, "dpi %d outside %d..%d", o->dpi,
                            HT_PRINT_MIN_DPI, HT_PRINT_MAX_DPI);
    }
    if (o->paper < 0 || o->paper >= HT_PAPER_COUNT || !o->style) {
        return ht_error_set(err, HT_EINVAL, "no paper or no style to print");
    }
    return HT_OK;
}

/* Set up what every page shares. */
ht_status ht__print_ctx_open(ht__pctx *c, ht_renderer *r, ht_store *store,
                             const ht_features *f, const ht_print_opts *o,
                             ht_error *err) {
    memset(c, 0, sizeof *c);
    c->r = r, c->store = store, c->f = f, c->o = o, c->err = err;
    ht__print_page_size(c, false);
    period_text(&o->filter, o->now, c->period, sizeof c->period);
    ht_datetime_format(o->now, c->printed, sizeof c->printed);
    c->printed[10] = '\0';
    if (o->crs && strcmp(o->crs, "EPSG:3857") != 0) {
        return ht_crs_transform_new("EPSG:4326", o->crs, &c->to_crs, err);
    }
    return HT_OK;
}

/* ---- area pages drawn by several threads ----
 * Each worker has its own store connection, renderer (sharing the main
 * renderer's snapshot) and PROJ transform, and draws whole pages into
 * cairo recording surfaces; the calling thread replays them in order onto
 * the output, so the PDF is written by one thread as Cairo requires.
 * Workers stay at most a few pages ahead: memory stays bounded. */

typedef struct slot {
    cairo_surface_t *rec;
    ht_status st;
    ht_error err;
    bool done;
} slot;

typedef struct pool {
    ht__pctx *c; /* the calling thread's */
    const ht_fgrid **gs;
    const bool *land;
    const double *denom;
    size_t n;
    int first;
    ht_print_page *pages;
    ht_index *ix;
    slot *slots;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t next, consumed, window;
    bool stop;
} pool;

static void *worker(void *arg) {
    pool *pl = arg;
    ht_error err = {0};
    ht_store *store = NULL;
    ht_renderer *r = NULL;
    ht__pctx c = {0};
    ht_status st = ht_store_open(ht_store_path(pl->c->store), HT_STORE_READONLY,
                                 &store, &err);
    if (st == HT_OK) {
        st = ht_renderer_new(store, pl->c->f, &r, &err);
    }
    if (st == HT_OK) {
        ht_renderer_set_index(r, pl->ix);
        st = ht__print_ctx_open(&c, r, store, pl->c->f, pl->c->o, &err);
        c.pages = pl->c->pages;
        c.vector = pl->c->o->format == HT_PRINT_PDF;
    }
    for (;;) {
        pthread_mutex_lock(&pl->mu);
        while (!pl->stop && pl->next < pl->n &&
               pl->next >= pl->consumed + pl->window) {
            pthread_cond_wait(&pl->cv, &pl->mu);
        }
        if (pl->stop || pl->next >= pl->n) {
            pthread_mutex_unlock(&pl->mu);
            break;
        }
        size_t i = pl->next++;
        pthread_mutex_unlock(&pl->mu);
        slot sl = {.st = st, .err = err};
        if (sl.st == HT_OK) {
            ht__print_page_size(&c, pl->land[i]);
            c.number = pl->first + (int)i;
            c.err = &sl.err;
            sl.rec = cairo_recording_surface_create(
                CAIRO_CONTENT_COLOR_ALPHA,
                &(cairo_rectangle_t){0, 0, c.w_pt, c.h_pt});
            c.cr = cairo_create(sl.rec);
            ht__print_new_layout(&c);
            sl.st =
                ht__print_area_page(&c, pl->gs[i], pl->denom[i], &pl->pages[i]);
            g_object_unref(c.layout);
            c.layout = NULL;
            cairo_destroy(c.cr);
            c.cr = NULL;
        }
        pthread_mutex_lock(&pl->mu);
        sl.done = true;
        pl->slots[i] = sl;
        pthread_cond_broadcast(&pl->cv);
        pthread_mutex_unlock(&pl->mu);
    }
    ht_crs_transform_free(c.to_crs);
    ht_renderer_free(r);
    ht_store_close(store);
    return NULL;
}

static ht_status area_pages_parallel(pool *pl, ht__pdoc *w,
                                     ht_print_progress_fn progress, void *ud) {
    ht__pctx *c = pl->c;
    int nt = c->o->threads > 16 ? 16 : c->o->threads;
    ht_status st = ht_renderer_index(c->r, &pl->ix, c->err);
    pl->slots = calloc(pl->n, sizeof *pl->slots);
    if (st == HT_OK && !pl->slots) {
        st = ht_error_set(c->err, HT_ENOMEM, "out of memory");
    }
    if (st != HT_OK) {
        free(pl->slots);
        return st;
    }
    pl->window = 2 * (size_t)nt;
    pthread_mutex_init(&pl->mu, NULL);
    pthread_cond_init(&pl->cv, NULL);
    pthread_t th[16];
    int started = 0;
    for (; started < nt; started++) {
        if (pthread_create(&th[started], NULL, worker, pl) != 0) {
            break;
        }
    }
    if (started == 0) {
        st = ht_error_set(c->err, HT_ENOMEM, "cannot start a thread");
    }
    for (size_t i = 0; st == HT_OK && i < pl->n; i++) {
        pthread_mutex_lock(&pl->mu);
        while (!pl->slots[i].done) {
            pthread_cond_wait(&pl->cv, &pl->mu);
        }
        slot sl = pl->slots[i];
        pl->slots[i].rec = NULL;
        pthread_mutex_unlock(&pl->mu);
        st = sl.st;
        if (st != HT_OK) {
            *c->err = sl.err;
        }
        ht__print_page_size(c, pl->land[i]);
        c->number = pl->first + (int)i;
        cairo_surface_t *img = NULL;
        if (st == HT_OK) {
            st = ht__print_page_begin(c, w, &img);
        }
        if (st == HT_OK) {
            cairo_set_source_surface(c->cr, sl.rec, 0, 0);
            cairo_paint(c->cr);
        }
        if (c->cr) {
            st = ht__print_page_end(c, w, img, st);
        }
        cairo_surface_destroy(sl.rec);
        pthread_mutex_lock(&pl->mu);
        pl->consumed = i + 1;
        pthread_cond_broadcast(&pl->cv);
        pthread_mutex_unlock(&pl->mu);
        if (progress && st == HT_OK) {
            progress(i + 1, pl->n, ud);
        }
    }
    pthread_mutex_lock(&pl->mu);
    pl->stop = true;
    pthread_cond_broadcast(&pl->cv);
    pthread_mutex_unlock(&pl->mu);
    for (int k = 0; k < started; k++) {
        pthread_join(th[k], NULL);
    }
    for (size_t i = 0; i < pl->n; i++) {
        cairo_surface_destroy(pl->slots[i].rec);
    }
    free(pl->slots);
    pthread_cond_destroy(&pl->cv);
    pthread_mutex_destroy(&pl->mu);
    return st;
}

ht_status ht_print_atlas(ht_renderer *r, ht_store *store, const ht_features *f,
                         const char *const *codes, size_t n,
                         const ht_print_opts *o, const char *path,
                         ht_print_progress_fn progress, void *ud,
                         ht_print_page **pages_out, ht_error *err) {
    if (pages_out) {
        *pages_out = NULL;
    }
    ht_status st = ht__print_check_opts(o, err);
    if (st != HT_OK) {
        return st;
    }
    if (n == 0) {
        return ht_error_set(err, HT_EINVAL, "no area to print");
    }
    const ht_fgrid **gs = calloc(n, sizeof *gs);
    bool *land = calloc(n, sizeof *land);
    double *denom = calloc(n, sizeof *denom);
    ht_print_page *pages = calloc(n, sizeof *pages);
    if (!gs || !land || !denom || !pages) {
        st = ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    for (size_t i = 0; st == HT_OK && i < n; i++) {
        gs[i] = ht_features_find_grid(f, codes[i]);
        if (!gs[i]) {
            st = ht_error_set(err, HT_EINVAL, "no grid \"%s\" to print",
                              codes[i]);
        }
    }
    ht__pctx c = {0};
    if (st == HT_OK) {
        st = ht__print_ctx_open(&c, r, store, f, o, err);
    }
    if (st == HT_OK) {
        st = plan(&c, gs, n, land, denom);
    }
    ht__pdoc w = {0};
    if (st == HT_OK) {
        st = ht__print_doc_open(&c, &w, path);
    }
    /* Cover and index first when there is more than one area. */
    size_t per = 0, nindex = 0;
    if (st == HT_OK && n > 1) {
        ht__print_page_size(&c, false);
        per = index_rows(&c);
        nindex = (n + per - 1) / per;
    }
    int first = n > 1 ? (int)(2 + nindex) : 1;
    c.pages = (int)(n + (n > 1 ? 1 + nindex : 0));
    if (st == HT_OK && n > 1) {
        /* The nearest grid above them all. */
        const ht_fgrid *top = gs[0], *up;
        bool holds = false;
        while (!holds && top->parent_code &&
               (up = ht_features_find_grid(f, top->parent_code))) {
            top = up;
            holds = true;
            for (size_t i = 0; i < n && holds; i++) {
                holds = is_under(f, gs[i], top);
            }
        }
        char title[256];
        snprintf(title, sizeof title, "%s  %s网格图", top->code,
                 top->name ? top->name : "");
        cairo_surface_t *img;
        c.number = 1;
        st = ht__print_page_begin(&c, &w, &img);
        if (st == HT_OK) {
            st = draw_cover(&c, gs, n, first, title);
        }
        st = ht__print_page_end(&c, &w, img, st);
        for (size_t p = 0; st == HT_OK && p < nindex; p++) {
            c.number = (int)(2 + p);
            st = ht__print_page_begin(&c, &w, &img);
            if (st == HT_OK) {
                draw_index(&c, gs, n, p * per, first);
            }
            st = ht__print_page_end(&c, &w, img, st);
        }
    }
    if (st == HT_OK && o->threads > 1 && n > 1) {
        pool pl = {.c = &c,
                   .gs = gs,
                   .land = land,
                   .denom = denom,
                   .n = n,
                   .first = first,
                   .pages = pages};
        st = area_pages_parallel(&pl, &w, progress, ud);
    }
    for (size_t i = 0; st == HT_OK && (o->threads <= 1 || n == 1) && i < n;
         i++) {
        ht__print_page_size(&c, land[i]);
        c.number = first + (int)i;
        cairo_surface_t *img;
        st = ht__print_page_begin(&c, &w, &img);
        if (st == HT_OK) {
            st = ht__print_area_page(&c, gs[i], denom[i], &pages[i]);
        }
        st = ht__print_page_end(&c, &w, img, st);
        if (progress) {
            progress(i + 1, n, ud);
        }
    }
    st = ht__print_doc_close(&c, &w, st);
    ht_crs_transform_free(c.to_crs);
    free(gs);
    free(land);
    free(denom);
    if (st == HT_OK && pages_out) {
        *pages_out = pages;
    } else {
        free(pages);
    }
    return st;
}

ht_status ht_print_page_pdf(ht_renderer *r, ht_store *store,
                            const ht_features *f, const char *code,
                            const ht_print_opts *o, ht_buf *outb,
                            ht_print_page *page, ht_error *err) {
    ht_status st = ht__print_check_opts(o, err);
    const ht_fgrid *g = ht_features_find_grid(f, code);
    if (st == HT_OK && !g) {
        st = ht_error_set(err, HT_ENOTFOUND, "no grid \"%s\"", code);
    }
    ht__pctx c = {0};
    if (st == HT_OK) {
        st = ht__print_ctx_open(&c, r, store, f, o, err);
    }
    if (st != HT_OK) {
        ht_crs_transform_free(c.to_crs);
        return st;
    }
    bool land = false;
    double denom = 0;
    st = plan(&c, &g, 1, &land, &denom);
    ht__print_page_size(&c, land);
    ht_buf *vec = ht_buf_new();
    if (st == HT_OK && !vec) {
        st = ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    if (st == HT_OK) {
        ht__pdoc w = {.fmt = HT_PRINT_PDF};
        w.pdf = cairo_pdf_surface_create_for_stream(ht_render_cairo_writer, vec,
                                                    c.w_pt, c.h_pt);
        c.number = c.pages = 1;
        cairo_surface_t *img;
        st = ht__print_page_begin(&c, &w, &img);
        ht_print_page tmp;
        if (st == HT_OK) {
            st = ht__print_area_page(&c, g, denom, page ? page : &tmp);
        }
        st = ht__print_page_end(&c, &w, img, st);
        cairo_surface_finish(w.pdf);
        if (st == HT_OK &&
            cairo_surface_status(w.pdf) != CAIRO_STATUS_SUCCESS) {
            st = ht_error_set(
                err, HT_ERENDER, "cannot write the page: %s",
                cairo_status_to_string(cairo_surface_status(w.pdf)));
        }
        cairo_surface_destroy(w.pdf);
    }
    if (st == HT_OK) {
        st = ht_buf_append(outb, vec->data, vec->len, err);
    }
    ht_buf_free(vec);
    ht_crs_transform_free(c.to_crs);
    return st;
}
