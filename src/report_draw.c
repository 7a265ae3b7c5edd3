/* SPDX-License-Identifier: Apache-2.0 */
/* The monthly report's pages, on A4 portrait, sizes in millimetres: the
 * overview, the rising topics, the ranking, a page per top topic. Every
 * part records the box it drew in, so that tests can check that nothing
 * overlaps and everything stays on the page. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hutong/datetime.h"

#include "report_int.h"

#define MAGENTA 0xe0008a
#define INK 0x1a1a1a
#define GREY 0x6e6e6e
#define RULE 0xc8c8c8
#define WORSE 0xc62828 /* more incidents, lower rates, a lower rank */
#define BETTER 0x2e7d32

/* The page's margin and the bottom of its body (above the footer). */
#define M 10.0
#define BODY_BOTTOM (297.0 - M - 6 - 3)

static ht_print_box mm(double x, double y, double w, double h) {
    return (ht_print_box){x * HT__MM, y * HT__MM, w * HT__MM, h * HT__MM};
}

static void record(ht__rctx *x, const char *what, ht_print_box b) {
    ht_report_page *p = x->page;
    if (p->nboxes < HT_REPORT_MAX_BOXES && b.w > 0 && b.h > 0) {
        p->box[p->nboxes] = b;
        snprintf(p->what[p->nboxes], sizeof p->what[0], "%s", what);
        p->nboxes++;
    }
}

static ht_print_box text(ht__rctx *x, ht_print_box b, const char *s,
                         double size, bool bold, double align, uint32_t rgb) {
    return ht__print_text(&x->c, b, s, size, bold, align, rgb);
}

/* @s wrapped into @b (cut with an ellipsis when it does not fit); the box
 * of the text. */
static ht_print_box para(ht__rctx *x, ht_print_box b, const char *s,
                         double size, uint32_t rgb) {
    PangoLayout *l = x->c.layout;
    PangoFontDescription *fd = pango_font_description_new();
    pango_font_description_set_family(fd, HT__PRINT_FONT);
    pango_font_description_set_absolute_size(fd, size * PANGO_SCALE);
    pango_layout_set_font_description(l, fd);
    pango_font_description_free(fd);
    pango_layout_set_width(l, (int)(b.w * PANGO_SCALE));
    pango_layout_set_height(l, (int)(b.h * PANGO_SCALE));
    pango_layout_set_wrap(l, PANGO_WRAP_WORD_CHAR);
    pango_layout_set_ellipsize(l, PANGO_ELLIPSIZE_END);
    pango_layout_set_text(l, s, -1);
    int w, h;
    pango_layout_get_size(l, &w, &h);
    cairo_move_to(x->c.cr, b.x, b.y);
    ht__print_rgb(x->c.cr, rgb, 1);
    pango_cairo_show_layout(x->c.cr, l);
    pango_layout_set_width(l, -1);
    pango_layout_set_height(l, -1);
    pango_layout_set_ellipsize(l, PANGO_ELLIPSIZE_NONE);
    return (ht_print_box){b.x, b.y, fmin(w / (double)PANGO_SCALE, b.w),
                          fmin(h / (double)PANGO_SCALE, b.h)};
}

/* "+12.3%" against @prev; "新增" when there was none. */
static void change(int64_t now, int64_t prev, char *out, size_t size) {
    if (prev <= 0) {
        snprintf(out, size, now > 0 ? "新增" : "–");
    } else {
        snprintf(out, size, "%+.1f%%",
                 (double)(now - prev) / (double)prev * 100);
    }
}

/* The change of a rate in percentage points. */
static void points(double now, double prev, char *out, size_t size) {
    if (isnan(now) || isnan(prev)) {
        snprintf(out, size, "–");
    } else {
        snprintf(out, size, "%+.1f", (now - prev) * 100);
    }
}

static void month_cn(const char *month, char *out, size_t size) {
    int y = 0, m = 0;
    if (sscanf(month, "%d-%d", &y, &m) == 2) {
        snprintf(out, size, "%d年%d月", y, m);
    } else {
        snprintf(out, size, "%s", month);
    }
}

/* What the ranking's areas are called. */
static const char *unit_word(const ht_report_data *d) {
    return d->by == HT_STATS_BY_STREET      ? "街道"
           : d->by == HT_STATS_BY_COMMUNITY ? "社区"
                                            : "网格";
}

/* Title and subtitle; returns where the body starts (mm). */
static double page_title(ht__rctx *x, const char *title, const char *sub) {
    ht_print_box a = text(x, mm(M, M, 190, 9), title, 16, true, 0, INK);
    ht_print_box b = text(x, mm(M, M + 9.5, 190, 5), sub, 8, false, 0, GREY);
    record(x, "title",
           (ht_print_box){a.x, a.y, fmax(a.w, b.w), b.y + b.h - a.y});
    return M + 17;
}

static ht_status footer(ht__rctx *x) {
    char extra[200];
    snprintf(extra, sizeof extra, "每月一题 %s · %s", x->d->month,
             x->d->area_name);
    record(x, "footer", ht__print_footer(&x->c, extra));
    return HT_OK;
}

ht_status ht__report_begin(ht__rctx *x) {
    const ht_report_data *d = x->d;
    ht__pctx *c = &x->c;
    x->top = d->area[0] ? ht_features_find_grid(c->f, d->area) : NULL;
    if (d->area[0] && !x->top) {
        return ht_error_set(c->err, HT_EINVAL, "no grid \"%s\"", d->area);
    }
    x->box = ht_bbox_empty();
    for (size_t i = 0; i < ht_features_grid_count(c->f); i++) {
        const ht_fgrid *g = ht_features_grid(c->f, i);
        if (x->top ? g == x->top : g->level == HT_LEVEL_DISTRICT) {
            ht_bbox_add(&x->box, g->bbox.minx, g->bbox.miny);
            ht_bbox_add(&x->box, g->bbox.maxx, g->bbox.maxy);
        }
    }
    if (x->box.minx > x->box.maxx) {
        return ht_error_set(c->err, HT_EINVAL, "no grid to map");
    }
    /* A month not over yet ends today. */
    char a[32], b[32];
    ht_datetime_format(d->from, a, sizeof a);
    int64_t last = d->to - 1 < c->o->now ? d->to - 1 : c->o->now;
    ht_datetime_format(last, b, sizeof b);
    a[10] = b[10] = '\0';
    snprintf(c->period, sizeof c->period, "%.10s 至 %.10s%s", a, b,
             d->to - 1 > c->o->now ? "（本月未完）" : "");
    return HT_OK;
}

/* ---- maps ---- */

static bool boxes_meet(ht_print_box a, ht_print_box b) {
    return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h &&
           b.y < a.y + a.h;
}

/* A tag on the map: an area's count where the area is. */
typedef struct tag {
    ht_print_box box;
    char text[120];
} tag;

/* The report's area in box @b: @layer of the incidents passing @filter
 * under the base map, the base's labels over it (with @labels), the world
 * outside greyed, the area's boundary, the @nmark areas @mark in magenta
 * with their counts. *denom: the scale (the area fills the box: rounded up
 * to a thousand, not to the series of large scales). */
static ht_status area_map(ht__rctx *x, ht_print_box b, const ht_filter *filter,
                          const ht_style *layer, const ht_topic *mark,
                          size_t nmark, bool labels, double *denom) {
    ht__pctx *c = &x->c;
    double k, conv;
    ht_status st = ht__print_ground_per_unit(c, &x->box, &k, &conv, c->err);
    if (st != HT_OK) {
        return st;
    }
    const ht_bbox *a = &x->box;
    double s = fmax((a->maxx - a->minx) * 1.06 / b.w,
                    (a->maxy - a->miny) * 1.06 / b.h); /* units a point */
    double need = s * k * 72 / 0.0254;
    need =
        need >= 10000 ? ceil(need / 1000) * 1000 : ht_print_round_scale(need);
    s = need * 0.0254 / 72 / k;
    double cx = (a->minx + a->maxx) / 2, cy = (a->miny + a->maxy) / 2;
    ht_bbox bb = {cx - b.w * s / 2, cy - b.h * s / 2, cx + b.w * s / 2,
                  cy + b.h * s / 2};
    *denom = need;
    ht_print_opts po = *c->o;
    po.filter = *filter;
    po.layer = layer;
    const ht_print_opts *keep = c->o;
    c->o = &po;
    st = ht__print_under(c, &bb, NULL, b);
    /* The marked areas' tags, which the labels keep clear of. */
    tag tags[HT_REPORT_TOPIC_AREAS];
    size_t ntags = 0;
    ht_print_box avoid[HT_REPORT_TOPIC_AREAS];
    for (size_t i = 0; st == HT_OK && i < nmark && ntags < 8; i++) {
        const ht_fgrid *g = ht_features_find_grid(c->f, mark[i].area);
        if (!g) {
            continue;
        }
        tag *t = &tags[ntags];
        snprintf(t->text, sizeof t->text, "%s %lld",
                 g->name ? g->name : g->code, (long long)mark[i].count);
        double fs = 7, tw = ht__print_text_width(c, t->text, fs, true);
        double px, py;
        ht__print_to_page(c, b, &bb, g->label.x, g->label.y, &px, &py);
        /* At the area's label point, else a line above or below it. */
        static const double shift[5] = {0, 1.1, -1.1, 2.2, -2.2};
        bool placed = false;
        for (int q = 0; q < 5 && !placed; q++) {
            t->box = (ht_print_box){
                fmin(fmax(px - tw / 2, b.x + 2), b.x + b.w - tw - 2),
                fmin(fmax(py - fs * 0.7 + shift[q] * fs * 1.4, b.y + 2),
                     b.y + b.h - fs * 1.4 - 2),
                tw, fs * 1.4};
            placed = true;
            for (size_t o = 0; o < ntags && placed; o++) {
                placed = !boxes_meet(t->box, tags[o].box);
            }
        }
        if (placed) {
            avoid[ntags] = t->box;
            ntags++;
        }
    }
    if (st == HT_OK && labels) {
        ht_render_req req = {.style = po.style,
                             .bbox = bb,
                             .filter = &po.filter,
                             .layers = HT_RENDER_LABELS_ONLY,
                             .transparent = true};
        st = ht__print_map(c, req, b, avoid, ntags);
    }
    c->o = keep;
    if (st != HT_OK) {
        return st;
    }
    cairo_t *cr = c->cr;
    /* Outside the area veiled; its boundary. */
    if (x->top) {
        ht__print_veil(c, b, &bb, x->top->geom, 0.6, 1.3, INK);
    }
    cairo_save(cr);
    cairo_rectangle(cr, b.x, b.y, b.w, b.h);
    cairo_clip(cr);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    for (size_t i = 0; i < nmark; i++) {
        const ht_fgrid *g = ht_features_find_grid(c->f, mark[i].area);
        if (!g) {
            continue;
        }
        cairo_new_path(cr);
        ht__print_geom_path(c, b, &bb, g->geom);
        ht__print_rgb(cr, MAGENTA, 1);
        cairo_set_line_width(cr, 1.4);
        cairo_stroke(cr);
    }
    cairo_restore(cr);
    for (size_t i = 0; i < ntags; i++) {
        text(x, tags[i].box, tags[i].text, 7, true, 0.5, MAGENTA);
    }
    cairo_rectangle(cr, b.x, b.y, b.w, b.h);
    cairo_set_line_width(cr, 0.6);
    ht__print_rgb(cr, INK, 1);
    cairo_stroke(cr);
    record(x, "map", b);
    return HT_OK;
}

/* The heat's legend in @s; its box. */
static ht_print_box legend(ht__rctx *x, ht_print_box s,
                           const ht_filter *filter) {
    ht_print_box used = ht__print_legend(&x->c, x->ro->print.layer, filter, s);
    record(x, "legend", used);
    return used;
}

static void scalebar(ht__rctx *x, ht_print_box s, double denom) {
    double len_m, len_pt;
    record(x, "scalebar", ht__print_scalebar(&x->c, s, denom, &len_m, &len_pt));
}

/* ---- tables ---- */

#define CELL 96
#define MAX_COLS 10

typedef struct table {
    int ncols;
    double width[MAX_COLS]; /* shares of the table's width */
    double align[MAX_COLS]; /* 0 left, 1 right */
    size_t nrows;           /* under the header */
    char (*cell)[MAX_COLS][CELL];
    uint32_t (*colour)[MAX_COLS]; /* 0: ink */
} table;

static ht_status table_new(table *t, int ncols, size_t nrows, ht_error *err) {
    memset(t, 0, sizeof *t);
    t->ncols = ncols;
    t->cell = calloc(nrows + 1, sizeof *t->cell);
    t->colour = calloc(nrows + 1, sizeof *t->colour);
    if (!t->cell || !t->colour) {
        free(t->cell);
        free(t->colour);
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    return HT_OK;
}

static void table_free(table *t) {
    free(t->cell);
    free(t->colour);
}

/* Header row 0 bold over a rule, rows at most @max_rh high, shaded every
 * other; returns the box used. */
static ht_print_box draw_table(ht__rctx *x, ht_print_box s, const char *title,
                               const table *t, double max_rh) {
    double y = s.y;
    ht_print_box used = {s.x, s.y, s.w, 0};
    if (title) {
        text(x, (ht_print_box){s.x, y, s.w, 6}, title, 9, true, 0, INK);
        y += 7;
    }
    size_t rows = t->nrows + 1;
    double rh = fmin((s.y + s.h - y) / (double)rows, max_rh);
    double fs = fmin(rh * 0.6, 8);
    cairo_t *cr = x->c.cr;
    for (size_t r = 0; r < rows; r++) {
        double yy = y + rh * (double)r, xx = s.x;
        if (r > 0 && r % 2 == 0) {
            cairo_rectangle(cr, s.x, yy, s.w, rh);
            ht__print_rgb(cr, 0xf3f3f3, 1);
            cairo_fill(cr);
        }
        for (int k = 0; k < t->ncols; k++) {
            double w = s.w * t->width[k];
            uint32_t col = t->colour[r][k] ? t->colour[r][k] : INK;
            if (t->cell[r][k][0]) {
                text(x, (ht_print_box){xx + 1, yy, w - 2, rh}, t->cell[r][k],
                     r == 0 ? fs * 0.95 : fs, r == 0, t->align[k], col);
            }
            xx += w;
        }
        if (r == 0) {
            cairo_move_to(cr, s.x, yy + rh);
            cairo_line_to(cr, s.x + s.w, yy + rh);
            cairo_set_line_width(cr, 0.5);
            ht__print_rgb(cr, INK, 1);
            cairo_stroke(cr);
        }
    }
    cairo_move_to(cr, s.x, y + rh * (double)rows);
    cairo_line_to(cr, s.x + s.w, y + rh * (double)rows);
    cairo_set_line_width(cr, 0.3);
    ht__print_rgb(cr, RULE, 1);
    cairo_stroke(cr);
    used.h = y + rh * (double)rows - s.y;
    return used;
}

static void setcell(table *t, size_t r, int k, uint32_t colour, const char *fmt,
                    ...) __attribute__((format(printf, 5, 6)));

static void setcell(table *t, size_t r, int k, uint32_t colour, const char *fmt,
                    ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->cell[r][k], CELL, fmt, ap);
    va_end(ap);
    t->colour[r][k] = colour;
}

/* Red when @now is above @prev (more incidents), green below. */
static uint32_t count_colour(int64_t now, int64_t prev) {
    return prev <= 0 || now == prev ? 0 : now > prev ? WORSE : BETTER;
}

static uint32_t rate_colour(double now, double prev) {
    if (isnan(now) || isnan(prev) || fabs(now - prev) < 0.0005) {
        return 0;
    }
    return now > prev ? BETTER : WORSE;
}

/* The rising topics in a few lines (the tall overview's column); returns
 * the mm below them. */
static double topic_list(ht__rctx *x, ht_print_box s) {
    const ht_report_data *d = x->d;
    if (d->ntopics == 0 || s.h < 20) {
        return s.y;
    }
    ht_print_box t0 = text(x, (ht_print_box){s.x, s.y, s.w, 6}, "本月上升问题",
                           9, true, 0, INK);
    double y = s.y + 7, lh = 4.2 * HT__MM;
    for (size_t i = 0; i < d->ntopics && y + lh * 2 <= s.y + s.h; i++) {
        const ht_report_topic *t = &d->topics[i];
        char line[200];
        snprintf(line, sizeof line, "%zu. %s", i + 1, t->name);
        text(x, (ht_print_box){s.x, y, s.w * 0.5, lh}, line, 7.5, true, 0, INK);
        const ht_topic *a = &t->areas[0];
        snprintf(line, sizeof line, "%s %lld（上月 %lld）",
                 a->area_name[0] ? a->area_name : a->area, (long long)a->count,
                 (long long)a->prev);
        text(x, (ht_print_box){s.x + s.w * 0.5, y, s.w * 0.5, lh}, line, 7,
             false, 1, GREY);
        y += lh;
    }
    record(x, "topics", (ht_print_box){s.x, t0.y, s.w, y - t0.y});
    return y / HT__MM + 4;
}

/* ---- layout ---- */

/* Where a page's map and the rest go below @y (mm): a tall area (taller
 * than wide, like Dongcheng) gets a map on the left and a column on the
 * right; a wide one a map across the page and the rest under it. */
typedef struct layout {
    bool tall;
    ht_print_box map;  /* mm */
    ht_print_box side; /* mm: the column, or the band under the map */
} layout;

static layout lay_out(const ht__rctx *x, double y, double band_h) {
    double aspect = (x->box.maxx - x->box.minx) / (x->box.maxy - x->box.miny);
    double h = BODY_BOTTOM - y;
    layout l = {.tall = aspect < 0.8};
    if (l.tall) {
        double w = fmin(fmax(h * aspect * 1.08, 95), 112);
        l.map = (ht_print_box){M, y, w, h};
        l.side = (ht_print_box){M + w + 5, y, 190 - w - 5, h};
    } else {
        double mh = fmin(190 / aspect * 1.08, h - band_h - 4);
        l.map = (ht_print_box){M, y, 190, mh};
        l.side = (ht_print_box){M, y + mh + 4, 190, h - mh - 4};
    }
    return l;
}

static ht_print_box mmb(ht_print_box b) {
    return mm(b.x, b.y, b.w, b.h);
}

/* The map's legend and scale bar at the top of @s (mm), at most @w mm
 * wide; returns the mm below them. */
static double legend_scale(ht__rctx *x, ht_print_box s, double w,
                           const ht_filter *filter, double denom) {
    ht_print_box lg = legend(x, mm(s.x, s.y, w, 28), filter);
    double y = s.y + (lg.h > 0 ? lg.h / HT__MM + 3 : 0);
    scalebar(x, mm(s.x, y, w, 12), denom);
    return y + 14;
}

/* The monthly counts of @f (its period replaced) over the year to the
 * report's month, the month itself in magenta. */
static ht_status trend(ht__rctx *x, const ht_filter *f, const char *title,
                       ht_print_box s) {
    ht__pctx *c = &x->c;
    const ht_report_data *d = x->d;
    int y, m, dd, hh, mi, ss;
    ht_datetime_to_civil(d->from, &y, &m, &dd, &hh, &mi, &ss);
    ht_report_kpi k[12];
    ht_status st = ht__report_kpis(
        c->store, f, ht_datetime_month_start(y, m, -11), d->to, k, 12, c->err);
    if (st != HT_OK) {
        return st;
    }
    text(x, (ht_print_box){s.x, s.y, s.w, 6}, title, 9, true, 0, INK);
    int64_t max = 1;
    for (int i = 0; i < 12; i++) {
        max = k[i].count > max ? k[i].count : max;
    }
    double top = s.y + 8 + 8, bottom = s.y + s.h - 9;
    double bw = s.w / 12;
    cairo_t *cr = c->cr;
    for (int i = 0; i < 12; i++) {
        double h = (bottom - top) * (double)k[i].count / (double)max;
        double bx = s.x + bw * i + bw * 0.15;
        cairo_rectangle(cr, bx, bottom - h, bw * 0.7, h);
        ht__print_rgb(cr, i == 11 ? MAGENTA : 0x9e9e9e, 1);
        cairo_fill(cr);
        char lab[16];
        snprintf(lab, sizeof lab, "%lld", (long long)k[i].count);
        text(x, (ht_print_box){s.x + bw * i, bottom - h - 8, bw, 7.5}, lab,
             fmin(6.5, bw * 0.3), false, 0.5, i == 11 ? MAGENTA : GREY);
        char mon[8];
        int64_t ms = ht_datetime_month_start(y, m, i - 11);
        ht__report_month_name(ms, mon, sizeof mon);
        text(x, (ht_print_box){s.x + bw * i, bottom + 1, bw, 7.5}, mon + 5, 6.5,
             false, 0.5, GREY);
    }
    cairo_move_to(cr, s.x, bottom);
    cairo_line_to(cr, s.x + s.w, bottom);
    ht__print_rgb(cr, INK, 1);
    cairo_set_line_width(cr, 0.5);
    cairo_stroke(cr);
    record(x, "trend", s);
    return HT_OK;
}

/* ---- the overview ---- */

static void kpi_card(ht__rctx *x, ht_print_box b, const char *label,
                     const char *value, const char *delta, uint32_t dcol) {
    cairo_t *cr = x->c.cr;
    cairo_rectangle(cr, b.x, b.y, b.w, b.h);
    ht__print_rgb(cr, 0xf5f5f5, 1);
    cairo_fill_preserve(cr);
    ht__print_rgb(cr, RULE, 1);
    cairo_set_line_width(cr, 0.5);
    cairo_stroke(cr);
    double p = 2.5 * HT__MM;
    text(x, (ht_print_box){b.x + p, b.y + p * 0.6, b.w - 2 * p, b.h * 0.22},
         label, 7.5, false, 0, GREY);
    text(x, (ht_print_box){b.x + p, b.y + b.h * 0.3, b.w - 2 * p, b.h * 0.4},
         value, 17, true, 0, INK);
    text(x, (ht_print_box){b.x + p, b.y + b.h * 0.72, b.w - 2 * p, b.h * 0.22},
         delta, 7, false, 0, dcol ? dcol : GREY);
    record(x, "kpi", b);
}

/* The month's incidents by major category against the month before. */
static ht_status category_table(ht__rctx *x, ht_print_box s) {
    ht__pctx *c = &x->c;
    const ht_report_data *d = x->d;
    ht_filter f = c->o->filter, pf = f;
    pf.from = d->prev_from;
    pf.to = d->from;
    ht_stats_row *rows = NULL, *prev = NULL;
    size_t n = 0, np = 0;
    ht_status st =
        ht_stats_compute(c->store, &f, HT_STATS_BY_CATEGORY, &rows, &n, c->err);
    if (st == HT_OK) {
        st = ht_stats_compute(c->store, &pf, HT_STATS_BY_CATEGORY, &prev, &np,
                              c->err);
    }
    table t;
    size_t shown = n < 9 ? n : 9;
    if (st == HT_OK) {
        st = table_new(&t, 5, shown, c->err);
    }
    if (st == HT_OK) {
        static const char *head[5] = {"类别", "本月", "上月", "环比", "解决率"};
        static const double w[5] = {0.38, 0.14, 0.14, 0.17, 0.17};
        for (int k = 0; k < 5; k++) {
            setcell(&t, 0, k, 0, "%s", head[k]);
            t.width[k] = w[k];
            t.align[k] = k == 0 ? 0 : 1;
        }
        for (size_t i = 0; i < shown; i++) {
            int64_t p = 0;
            for (size_t q = 0; q < np; q++) {
                if (strcmp(prev[q].key, rows[i].key) == 0) {
                    p = prev[q].count;
                }
            }
            char ch[32], res[32];
            change(rows[i].count, p, ch, sizeof ch);
            ht__print_pct(rows[i].resolution, res, sizeof res);
            setcell(&t, i + 1, 0, 0, "%s",
                    rows[i].name[0] ? rows[i].name : rows[i].key);
            setcell(&t, i + 1, 1, 0, "%lld", (long long)rows[i].count);
            setcell(&t, i + 1, 2, 0, "%lld", (long long)p);
            setcell(&t, i + 1, 3, count_colour(rows[i].count, p), "%s", ch);
            setcell(&t, i + 1, 4, 0, "%s", res);
        }
        t.nrows = shown;
        record(x, "categories",
               draw_table(x, s, "本月事件类别（与上月比）", &t, 4.6 * HT__MM));
        table_free(&t);
    }
    free(rows);
    free(prev);
    return st;
}

ht_status ht__report_overview(ht__rctx *x) {
    const ht_report_data *d = x->d;
    ht__pctx *c = &x->c;
    char title[200], sub[300], mc[32];
    month_cn(d->month, mc, sizeof mc);
    snprintf(title, sizeof title, "%s %s 每月一题 月度报告", d->area_name, mc);
    snprintf(
        sub, sizeof sub,
        "数据期间 %s · 与 %s 比较 · 排名按%s，上升问题按 (本月−上月)/√(上月+1)",
        c->period, d->prev_month, unit_word(d));
    double y = page_title(x, title, sub);
    /* Four figures against last month. */
    const ht_report_kpi *a = &d->now, *p = &d->prev;
    char v[4][32], dl[4][64];
    uint32_t col[4];
    snprintf(v[0], sizeof v[0], "%lld", (long long)a->count);
    char ch[32];
    change(a->count, p->count, ch, sizeof ch);
    snprintf(dl[0], sizeof dl[0], "上月 %lld · 环比 %s", (long long)p->count,
             ch);
    col[0] = count_colour(a->count, p->count);
    const double now_r[3] = {a->response, a->resolution, a->satisfaction};
    const double prev_r[3] = {p->response, p->resolution, p->satisfaction};
    for (int k = 0; k < 3; k++) {
        char pts[32];
        ht__print_pct(now_r[k], v[k + 1], sizeof v[k + 1]);
        points(now_r[k], prev_r[k], pts, sizeof pts);
        snprintf(dl[k + 1], sizeof dl[k + 1], "较上月 %s 个百分点", pts);
        col[k + 1] = rate_colour(now_r[k], prev_r[k]);
    }
    static const char *labels[4] = {"本月事件（件）", "响应率", "解决率",
                                    "满意率"};
    double cw = (190 - 3 * 4) / 4.0;
    for (int k = 0; k < 4; k++) {
        kpi_card(x, mm(M + k * (cw + 4), y, cw, 20), labels[k], v[k], dl[k],
                 col[k]);
    }
    y += 24;
    /* The month's heat over the whole area; beside or under it the legend,
     * the scale and the categories (and, beside it, the topics). */
    layout l = lay_out(x, y, 58);
    double denom;
    ht_status st = area_map(x, mmb(l.map), &c->o->filter, x->ro->print.layer,
                            NULL, 0, true, &denom);
    if (st != HT_OK) {
        return st;
    }
    ht_print_box s = l.side;
    if (l.tall) {
        double yy = legend_scale(x, s, s.w, &c->o->filter, denom) + 2;
        st = category_table(x, mm(s.x, yy, s.w, 58));
        double ty = yy + 62;
        if (st == HT_OK) {
            ty = topic_list(x, mm(s.x, ty, s.w, 62));
        }
        if (st == HT_OK && s.y + s.h - ty >= 40) {
            st = trend(x, &c->o->filter, "近十二个月事件（件）",
                       mm(s.x, ty, s.w, fmin(s.y + s.h - ty, 70)));
        }
    } else {
        double yy = legend_scale(x, s, 58, &c->o->filter, denom) + 2;
        topic_list(x, mm(s.x, yy, 58, s.y + s.h - yy));
        st = category_table(x, mm(s.x + 64, s.y, s.w - 64, 58));
        double ty = s.y + 62;
        if (st == HT_OK && s.y + s.h - ty >= 40) {
            st = trend(x, &c->o->filter, "近十二个月事件（件）",
                       mm(s.x + 64, ty, s.w - 64, fmin(s.y + s.h - ty, 70)));
        }
    }
    return st == HT_OK ? footer(x) : st;
}

/* ---- rising topics ---- */

/* The topic's filter: its category in the month. */
static ht_filter topic_filter(const ht__rctx *x, const ht_report_topic *t) {
    ht_filter f = x->c.o->filter;
    f.ncategory = 1;
    snprintf(f.category[0], sizeof f.category[0], "%s", t->category);
    return f;
}

/* "名称 12 件（上月 3）" for the areas of a topic. */
static void areas_line(const ht_report_topic *t, size_t max, char *out,
                       size_t size) {
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < t->nareas && i < max; i++) {
        int n = snprintf(
            out + used, size - used, "%s%s %lld（上月 %lld）", i ? "；" : "",
            t->areas[i].area_name[0] ? t->areas[i].area_name : t->areas[i].area,
            (long long)t->areas[i].count, (long long)t->areas[i].prev);
        if (n < 0 || (size_t)n >= size - used) {
            break;
        }
        used += (size_t)n;
    }
}

/* The first @max streets of a topic as one line. */
static ht_status streets_line(ht__rctx *x, const ht_filter *f, size_t max,
                              char *out, size_t size) {
    ht__street_rate *sr = NULL;
    size_t n = 0;
    ht_status st = ht__print_top_streets(&x->c, x->top, &x->box, f, &sr, &n);
    if (st != HT_OK) {
        return st;
    }
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && i < max; i++) {
        int k = snprintf(out + used, size - used, "%s%s %.0f", i ? "；" : "",
                         sr[i].name, sr[i].count);
        if (k < 0 || (size_t)k >= size - used) {
            break;
        }
        used += (size_t)k;
    }
    if (n == 0) {
        snprintf(out, size, "（无街巷事件）");
    }
    free(sr);
    return HT_OK;
}

#define CARDS 6

ht_status ht__report_topics(ht__rctx *x) {
    const ht_report_data *d = x->d;
    char sub[300];
    snprintf(sub, sizeof sub,
             "%s 比 %s 上升的问题（小类 × %s），至少 %d 件且升幅 ≥ %.0f "
             "个标准差；洋红为升幅最大的%s",
             d->month, d->prev_month, unit_word(d), HT_REPORT_MIN_COUNT,
             HT_REPORT_MIN_SCORE, unit_word(d));
    double y = page_title(x, "本月上升问题", sub);
    if (d->ntopics == 0) {
        record(x, "empty",
               text(x, mm(M, y + 10, 190, 10), "本月没有明显上升的问题。", 11,
                    false, 0, GREY));
        return footer(x);
    }
    double gap = 4, cw = (190 - gap) / 2;
    double ch = (BODY_BOTTOM - y - gap * 2 - 8) / 3;
    double aspect = (x->box.maxx - x->box.minx) / (x->box.maxy - x->box.miny);
    bool tall = aspect < 1;
    ht_status st = HT_OK;
    for (size_t i = 0; st == HT_OK && i < d->ntopics && i < CARDS; i++) {
        const ht_report_topic *t = &d->topics[i];
        double cx = M + (double)(i % 2) * (cw + gap);
        double cy = y + (double)(i / 2) * (ch + gap);
        ht_print_box card = mm(cx, cy, cw, ch);
        char head[160], line[600], ch1[32];
        snprintf(head, sizeof head, "%zu. %s", i + 1, t->name);
        text(x, mm(cx, cy, cw, 6), head, 10, true, 0, INK);
        /* A tall area: the map on the left, the words on the right; a
         * wide one: the map across, the words under it. */
        double my = cy + 7, mw = cw * 0.5, mhh = ch - 7;
        if (!tall) {
            mw = cw;
            mhh = fmin((ch - 7) * 0.55, cw / aspect * 1.1);
        }
        ht_filter f = topic_filter(x, t);
        double denom;
        st = area_map(x, mm(cx, my, mw, mhh), &f, x->ro->print.layer, t->areas,
                      t->nareas < 3 ? t->nareas : 3, false, &denom);
        if (st != HT_OK) {
            break;
        }
        double tx = tall ? cx + mw + 3 : cx, tw = tall ? cw - mw - 3 : cw;
        double ty = tall ? my : my + mhh + 2;
        change(t->now.count, t->prev.count, ch1, sizeof ch1);
        snprintf(line, sizeof line, "本月 %lld 件 · 上月 %lld 件 · %s",
                 (long long)t->now.count, (long long)t->prev.count, ch1);
        text(x, mm(tx, ty, tw, 5), line, 7.5, true, 0,
             count_colour(t->now.count, t->prev.count));
        ty += 6;
        text(x, mm(tx, ty, tw, 4.5), "升幅最大", 7, true, 0, GREY);
        areas_line(t, 4, line, sizeof line);
        ht_print_box p =
            para(x, mm(tx, ty + 4.5, tw, tall ? 21 : 8.5), line, 7, INK);
        ty += 4.5 + p.h / HT__MM + 2;
        text(x, mm(tx, ty, tw, 4.5), "街巷热度最高（件）", 7, true, 0, GREY);
        st = streets_line(x, &f, 4, line, sizeof line);
        if (st == HT_OK) {
            double left = cy + ch - (ty + 4.5);
            para(x, mm(tx, ty + 4.5, tw, fmax(left, 4)), line, 7, INK);
        }
        record(x, "card", card);
    }
    if (st == HT_OK && d->ntopics > CARDS) {
        char more[200];
        snprintf(more, sizeof more,
                 "另有 %zu 个上升问题，见 hutong stats topics --month %s",
                 d->ntopics - CARDS, d->month);
        record(
            x, "more",
            text(x, mm(M, BODY_BOTTOM - 6, 190, 5), more, 7.5, false, 0, GREY));
    }
    return st == HT_OK ? footer(x) : st;
}

/* ---- the ranking ---- */

/* A ranking row's figures: score, the three rates, count, change, the
 * median time to close. */
static void rates_cells(table *t, size_t q, const ht_report_kpi *now,
                        const ht_report_kpi *prev) {
    char b[32];
    ht__print_pct(ht__report_score(now), b, sizeof b);
    setcell(t, q, 3, 0, "%s", b);
    const double v[3] = {now->response, now->resolution, now->satisfaction};
    const double p[3] = {prev->response, prev->resolution, prev->satisfaction};
    for (int k = 0; k < 3; k++) {
        ht__print_pct(v[k], b, sizeof b);
        setcell(t, q, 4 + k, rate_colour(v[k], p[k]), "%s", b);
    }
    setcell(t, q, 7, 0, "%lld", (long long)now->count);
    change(now->count, prev->count, b, sizeof b);
    setcell(t, q, 8, count_colour(now->count, prev->count), "%s", b);
    if (isnan(now->median_close_h)) {
        setcell(t, q, 9, GREY, "–");
    } else {
        setcell(t, q, 9, 0, "%.1f", now->median_close_h);
    }
}

ht_status ht__report_ranking(ht__rctx *x) {
    const ht_report_data *d = x->d;
    ht__pctx *c = &x->c;
    char title[160], sub[300];
    snprintf(title, sizeof title, "%s排名", unit_word(d));
    snprintf(
        sub, sizeof sub,
        "得分 = 响应率、解决率、满意率的平均（缺项不计），同分时件数多者在前；"
        "名次变化与 %s 比较（▲ 上升，▼ 下降）",
        d->prev_month);
    double y = page_title(x, title, sub);
    size_t n = d->nranks;
    /* The table's rows: what fits above a chart of the same rows. */
    double avail = BODY_BOTTOM - y - 8;
    double rh = fmin(5.2, avail * 0.5 / (double)(n + 2));
    size_t shown = n;
    if (rh < 3.2) {
        rh = 3.2;
        shown = (size_t)(avail * 0.5 / rh) - 2;
    }
    table t;
    ht_status st = table_new(&t, 10, shown + 1, c->err);
    if (st != HT_OK) {
        return st;
    }
    static const char *head[10] = {"名次",   "变化",   "名称",   "得分",
                                   "响应率", "解决率", "满意率", "件数",
                                   "环比",   "结案(h)"};
    static const double w[10] = {0.065, 0.075, 0.2,   0.085, 0.09,
                                 0.09,  0.09,  0.075, 0.11,  0.12};
    for (int k = 0; k < 10; k++) {
        setcell(&t, 0, k, 0, "%s", head[k]);
        t.width[k] = w[k];
        t.align[k] = k == 2 ? 0 : k < 2 ? 0.5 : 1;
    }
    for (size_t i = 0; i < shown; i++) {
        const ht_report_rank *r = &d->ranks[i];
        size_t q = i + 1;
        if (r->rank) {
            setcell(&t, q, 0, 0, "%d", r->rank);
        } else {
            setcell(&t, q, 0, GREY, "–");
        }
        if (!r->rank || !r->prev_rank) {
            setcell(&t, q, 1, GREY, "%s", r->rank ? "新" : "–");
        } else if (r->rank == r->prev_rank) {
            setcell(&t, q, 1, GREY, "＝");
        } else if (r->rank < r->prev_rank) {
            setcell(&t, q, 1, BETTER, "▲%d", r->prev_rank - r->rank);
        } else {
            setcell(&t, q, 1, WORSE, "▼%d", r->rank - r->prev_rank);
        }
        setcell(&t, q, 2, 0, "%s", r->name);
        rates_cells(&t, q, &r->now, &r->prev);
    }
    /* The whole area, for reference. */
    setcell(&t, shown + 1, 2, 0, "%s（合计）", d->area_name);
    rates_cells(&t, shown + 1, &d->now, &d->prev);
    t.nrows = shown + 1;
    ht_print_box tb = draw_table(x, mm(M, y, 190, rh * (double)(shown + 2)),
                                 NULL, &t, rh * HT__MM);
    record(x, "table", tb);
    table_free(&t);
    if (shown < n) {
        char more[96];
        snprintf(more, sizeof more, "（另 %zu 个未列出）", n - shown);
        text(x, (ht_print_box){tb.x, tb.y + tb.h, tb.w, 4 * HT__MM}, more, 7,
             false, 1, GREY);
    }
    /* The three rates as bars, the same rows in the same order. */
    double top = (tb.y + tb.h) / HT__MM + 7;
    ht_print_box cb = mm(M, top, 190, BODY_BOTTOM - top);
    text(x, (ht_print_box){cb.x, cb.y, cb.w, 6}, "三率（本月）", 9, true, 0,
         INK);
    static const uint32_t colours[3] = {0x1f77b4, 0x2ca02c, 0xff7f0e};
    static const char *names[3] = {"响应率", "解决率", "满意率"};
    double lx = cb.x + cb.w - 60 * HT__MM;
    for (int k = 0; k < 3; k++) {
        double bx = lx + k * 20 * HT__MM;
        cairo_rectangle(c->cr, bx, cb.y + 1.5, 8, 5);
        ht__print_rgb(c->cr, colours[k], 1);
        cairo_fill(c->cr);
        text(x, (ht_print_box){bx + 10, cb.y, 15 * HT__MM, 8}, names[k], 7,
             false, 0, INK);
    }
    double ly = cb.y + 9, lw = 38 * HT__MM, bw = cb.w - lw - 12;
    double brh = fmin(7 * HT__MM, (cb.y + cb.h - ly - 12) / (double)shown);
    cairo_t *cr = c->cr;
    for (size_t i = 0; i < shown; i++) {
        const ht_report_rank *r = &d->ranks[i];
        double yy = ly + brh * (double)i;
        text(x, (ht_print_box){cb.x, yy, lw - 4, brh}, r->name,
             fmin(brh * 0.55, 7.5), false, 1, INK);
        const double v[3] = {r->now.response, r->now.resolution,
                             r->now.satisfaction};
        for (int k = 0; k < 3; k++) {
            double bh = brh * 0.75 / 3, by = yy + brh * 0.125 + bh * k;
            if (!isnan(v[k])) {
                cairo_rectangle(cr, cb.x + lw, by, bw * v[k], bh * 0.9);
                ht__print_rgb(cr, colours[k], 1);
                cairo_fill(cr);
            }
        }
    }
    /* The axis: 0, 50 and 100 %. */
    double ay = ly + brh * (double)shown + 1;
    for (int k = 0; k <= 4; k++) {
        double ax = cb.x + lw + bw * k / 4;
        cairo_move_to(cr, ax, ly - 1);
        cairo_line_to(cr, ax, ay);
        ht__print_rgb(cr, k == 0 ? INK : RULE, 1);
        cairo_set_line_width(cr, k == 0 ? 0.5 : 0.3);
        cairo_stroke(cr);
        char lab[16];
        snprintf(lab, sizeof lab, "%d%%", k * 25);
        double tw = ht__print_text_width(c, lab, 6.5, false);
        text(x, (ht_print_box){ax - tw / 2, ay + 1, tw, 8}, lab, 6.5, false,
             0.5, GREY);
    }
    record(x, "chart", (ht_print_box){cb.x, cb.y, cb.w, ay + 9 - cb.y});
    return footer(x);
}

/* ---- a topic's page ---- */

/* The areas where the topic rose, with the topic's rates there. */
static ht_status topic_areas(ht__rctx *x, const ht_report_topic *t,
                             ht_print_box s, ht_print_box *used) {
    ht__pctx *c = &x->c;
    ht_filter f = topic_filter(x, t);
    ht_stats_row *rows = NULL;
    size_t n = 0;
    ht_stats_by by = x->d->area_level == HT_LEVEL_DISTRICT
                         ? HT_STATS_BY_STREET
                         : HT_STATS_BY_COMMUNITY;
    ht_status st = ht_stats_compute(c->store, &f, by, &rows, &n, c->err);
    table tb;
    if (st == HT_OK) {
        st = table_new(&tb, 7, t->nareas + 1, c->err);
    }
    if (st != HT_OK) {
        free(rows);
        return st;
    }
    static const char *head[7] = {"升幅最大", "本月",   "上月",  "升幅σ",
                                  "响应率",   "解决率", "满意率"};
    static const double w[7] = {0.28, 0.11, 0.11, 0.11, 0.13, 0.13, 0.13};
    for (int k = 0; k < 7; k++) {
        setcell(&tb, 0, k, 0, "%s", head[k]);
        tb.width[k] = w[k];
        tb.align[k] = k == 0 ? 0 : 1;
    }
    for (size_t i = 0; i < t->nareas; i++) {
        const ht_topic *a = &t->areas[i];
        const ht_stats_row *r = NULL;
        for (size_t q = 0; q < n; q++) {
            if (strcmp(rows[q].key, a->area) == 0) {
                r = &rows[q];
            }
        }
        char b[3][32];
        ht__print_pct(r ? r->response : NAN, b[0], sizeof b[0]);
        ht__print_pct(r ? r->resolution : NAN, b[1], sizeof b[1]);
        ht__print_pct(r ? r->satisfaction : NAN, b[2], sizeof b[2]);
        setcell(&tb, i + 1, 0, 0, "%s",
                a->area_name[0] ? a->area_name : a->area);
        setcell(&tb, i + 1, 1, 0, "%lld", (long long)a->count);
        setcell(&tb, i + 1, 2, 0, "%lld", (long long)a->prev);
        setcell(&tb, i + 1, 3, WORSE, "%.1f", a->score);
        for (int k = 0; k < 3; k++) {
            setcell(&tb, i + 1, 4 + k, 0, "%s", b[k]);
        }
    }
    tb.nrows = t->nareas;
    *used = draw_table(x, s, NULL, &tb, 4.6 * HT__MM);
    record(x, "areas", *used);
    table_free(&tb);
    free(rows);
    return HT_OK;
}

/* The topic's five streets. */
static ht_status topic_streets(ht__rctx *x, const ht_report_topic *t,
                               ht_print_box s, ht_print_box *used) {
    ht_filter f = topic_filter(x, t);
    ht__street_rate *sr = NULL;
    size_t n = 0;
    ht_status st = ht__print_top_streets(&x->c, x->top, &x->box, &f, &sr, &n);
    table tb;
    if (st == HT_OK) {
        st = table_new(&tb, 3, 6, x->c.err);
    }
    if (st != HT_OK) {
        free(sr);
        return st;
    }
    setcell(&tb, 0, 0, 0, "主要街巷");
    setcell(&tb, 0, 1, 0, "件数");
    setcell(&tb, 0, 2, 0, "件/百米");
    tb.width[0] = 0.6, tb.width[1] = 0.18, tb.width[2] = 0.22;
    tb.align[1] = tb.align[2] = 1;
    size_t r = 0;
    for (; r < n && r < 5; r++) {
        setcell(&tb, r + 1, 0, 0, "%zu. %s", r + 1, sr[r].name);
        setcell(&tb, r + 1, 1, 0, "%.0f", sr[r].count);
        setcell(&tb, r + 1, 2, 0, "%.1f",
                sr[r].count / fmax(sr[r].length_m, 50) * 100);
    }
    if (r == 0) {
        setcell(&tb, ++r, 0, GREY, "本月无街巷事件");
    }
    tb.nrows = r;
    *used = draw_table(x, s, NULL, &tb, 4.6 * HT__MM);
    record(x, "streets", *used);
    table_free(&tb);
    free(sr);
    return HT_OK;
}

ht_status ht__report_topic(ht__rctx *x, size_t i) {
    const ht_report_data *d = x->d;
    const ht_report_topic *t = &d->topics[i];
    char title[160], sub[400], ch[32], p[4][32];
    snprintf(title, sizeof title, "专题 %zu · %s（%s）", i + 1, t->name,
             t->category);
    change(t->now.count, t->prev.count, ch, sizeof ch);
    ht__print_pct(t->now.response, p[0], sizeof p[0]);
    ht__print_pct(t->now.resolution, p[1], sizeof p[1]);
    ht__print_pct(t->now.satisfaction, p[2], sizeof p[2]);
    snprintf(sub, sizeof sub,
             "%s本月 %lld 件，上月 %lld 件（%s）· 响应率 %s · 解决率 %s · "
             "满意率 %s",
             d->area_name, (long long)t->now.count, (long long)t->prev.count,
             ch, p[0], p[1], p[2]);
    double y = page_title(x, title, sub);
    layout l = lay_out(x, y, 90);
    double denom;
    ht_filter f = topic_filter(x, t);
    ht_status st = area_map(x, mmb(l.map), &f, x->ro->print.layer, t->areas,
                            t->nareas, false, &denom);
    if (st != HT_OK) {
        return st;
    }
    /* The legend and scale; the areas where it rose and its streets; the
     * year's trend: in the column of a tall area, beside and under the
     * legend for a wide one. */
    ht_print_box s = l.side, used, su;
    ht_print_box tables = s;
    if (l.tall) {
        double yy = legend_scale(x, s, s.w, &f, denom) + 2;
        st = trend(x, &f, "近十二个月（件）", mm(s.x, yy, s.w, 58));
        tables = (ht_print_box){s.x, yy + 62, s.w, s.y + s.h - yy - 62};
    } else {
        legend_scale(x, s, 58, &f, denom);
        tables = (ht_print_box){s.x + 64, s.y, s.w - 64, s.h};
    }
    if (st == HT_OK) {
        st = topic_areas(x, t, mm(tables.x, tables.y, tables.w, 46), &used);
    }
    if (st == HT_OK) {
        double sy = used.y + used.h + 3;
        st = topic_streets(
            x, t, (ht_print_box){used.x, sy, used.w, BODY_BOTTOM * HT__MM - sy},
            &su);
    }
    double ty = (su.y + su.h) / HT__MM + 5;
    if (st == HT_OK && !l.tall && BODY_BOTTOM - ty >= 35) {
        st = trend(x, &f, "近十二个月（件）",
                   mm(tables.x, ty, tables.w, fmin(BODY_BOTTOM - ty, 65)));
    }
    return st == HT_OK ? footer(x) : st;
}
