/* SPDX-License-Identifier: Apache-2.0 */
/* Map styles: a subset of the MapLibre style specification. */
#include "hutong/style.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hutong/buf.h"

/* ---- colours ---- */

static double hue_to_rgb(double p, double q, double t) {
    t = t < 0 ? t + 1 : t > 1 ? t - 1 : t;
    if (t < 1.0 / 6) {
        return p + (q - p) * 6 * t;
    }
    if (t < 0.5) {
        return q;
    }
    if (t < 2.0 / 3) {
        return p + (q - p) * (2.0 / 3 - t) * 6;
    }
    return p;
}

ht_status ht_style_parse_color(const char *s, ht_rgba *out, ht_error *err) {
    static const struct {
        const char *name;
        ht_rgba c;
    } names[] = {{"black", {0, 0, 0, 1}},
                 {"white", {1, 1, 1, 1}},
                 {"transparent", {0, 0, 0, 0}},
                 {"red", {1, 0, 0, 1}},
                 {"green", {0, 128 / 255.0, 0, 1}},
                 {"blue", {0, 0, 1, 1}},
                 {"yellow", {1, 1, 0, 1}},
                 {"orange", {1, 165 / 255.0, 0, 1}},
                 {"gray", {128 / 255.0, 128 / 255.0, 128 / 255.0, 1}},
                 {"grey", {128 / 255.0, 128 / 255.0, 128 / 255.0, 1}}};
    size_t len = s ? strlen(s) : 0;
    if (len && s[0] == '#') {
        bool hex = true;
        for (size_t i = 1; i < len; i++) {
            hex = hex && ht_hex_digit((unsigned char)s[i]) >= 0;
        }
        if (hex && (len == 4 || len == 5)) {
            *out =
                (ht_rgba){ht_hex_digit(s[1]) / 15.0, ht_hex_digit(s[2]) / 15.0,
                          ht_hex_digit(s[3]) / 15.0,
                          len == 5 ? ht_hex_digit(s[4]) / 15.0 : 1};
            return HT_OK;
        }
        if (hex && (len == 7 || len == 9)) {
            double v[4] = {0, 0, 0, 255};
            for (size_t i = 0; i < (len - 1) / 2; i++) {
                v[i] = ht_hex_digit(s[1 + 2 * i]) * 16 +
                       ht_hex_digit(s[2 + 2 * i]);
            }
            *out = (ht_rgba){v[0] / 255, v[1] / 255, v[2] / 255, v[3] / 255};
            return HT_OK;
        }
    }
    double a[4] = {0, 0, 0, 1};
    int n = 0;
    char fn[8];
    if (len && sscanf(s, "%7[a-z](%n", fn, &n) == 1 && n > 0) {
        const char *p = s + n;
        int count = 0;
        bool pct[4] = {false};
        while (count < 4) {
            char *end;
            a[count] = strtod(p, &end);
            if (end == p) {
                break;
            }
            p = end;
            if (*p == '%') {
                pct[count] = true;
                p++;
            }
            count++;
            while (*p == ' ') {
                p++;
            }
            if (*p != ',') {
                break;
            }
            p++;
        }
        bool alpha = strcmp(fn, "rgba") == 0 || strcmp(fn, "hsla") == 0;
        bool ok = *p == ')' && p[1] == '\0' && count == (alpha ? 4 : 3);
        if (ok && (strcmp(fn, "rgb") == 0 || strcmp(fn, "rgba") == 0)) {
            for (int i = 0; i < 3; i++) {
                a[i] = pct[i] ? a[i] / 100 : a[i] / 255;
            }
        } else if (ok && (strcmp(fn, "hsl") == 0 || strcmp(fn, "hsla") == 0)) {
            double h = fmod(a[0], 360) / 360, sat = a[1] / 100, l = a[2] / 100;
            double q = l < 0.5 ? l * (1 + sat) : l + sat - l * sat;
            double pp = 2 * l - q;
            a[0] = hue_to_rgb(pp, q, h + 1.0 / 3);
            a[1] = hue_to_rgb(pp, q, h);
            a[2] = hue_to_rgb(pp, q, h - 1.0 / 3);
        } else {
            ok = false;
        }
        for (int i = 0; ok && i < 4; i++) {
            ok = a[i] >= 0 && a[i] <= 1;
        }
        if (ok) {
            *out = (ht_rgba){a[0], a[1], a[2], a[3]};
            return HT_OK;
        }
    }
    for (size_t i = 0; len && i < sizeof names / sizeof *names; i++) {
        if (strcasecmp(s, names[i].name) == 0) {
            *out = names[i].c;
            return HT_OK;
        }
    }
    return ht_error_set(err, HT_EINVAL, "\"%s\" is not a colour", s ? s : "");
}

/* ---- property table ---- */

typedef enum ptype {
    T_ANY = 0,
    T_COLOR,
    T_NUMBER,
    T_STRING,
    T_BOOL,
    T_ENUM,
    T_NUMARRAY,
    T_STRARRAY,
    T_TEXT /* a string with {token} substitution */
} ptype;

typedef struct propdef {
    const char *name;
    int layer; /* ht_layer_type, or -1 for every layer */
    bool layout;
    ptype type;
    const char *enums; /* "a|b|c" for T_ENUM */
    double dnum;       /* default number / bool */
    const char *dstr;  /* default colour, string or enum */
    bool data;         /* may depend on feature properties */
} propdef;

static const propdef props[HT_P_COUNT] = {
    [HT_P_VISIBILITY] = {"visibility", -1, true, T_ENUM, "visible|none", 0,
                         "visible", false},
    [HT_P_BACKGROUND_COLOR] = {"background-color", HT_LAYER_BACKGROUND, false,
                               T_COLOR, NULL, 0, "#000000", false},
    [HT_P_BACKGROUND_OPACITY] = {"background-opacity", HT_LAYER_BACKGROUND,
                                 false, T_NUMBER, NULL, 1, NULL, false},
    [HT_P_FILL_COLOR] = {"fill-color", HT_LAYER_FILL, false, T_COLOR, NULL, 0,
                         "#000000", true},
    [HT_P_FILL_OPACITY] = {"fill-opacity", HT_LAYER_FILL, false, T_NUMBER, NULL,
                           1, NULL, true},
    [HT_P_FILL_OUTLINE_COLOR] = {"fill-outline-color", HT_LAYER_FILL, false,
                                 T_COLOR, NULL, 0, "transparent", true},
    [HT_P_LINE_COLOR] = {"line-color", HT_LAYER_LINE, false, T_COLOR, NULL, 0,
                         "#000000", true},
    [HT_P_LINE_WIDTH] = {"line-width", HT_LAYER_LINE, false, T_NUMBER, NULL, 1,
                         NULL, true},
    [HT_P_LINE_OPACITY] = {"line-opacity", HT_LAYER_LINE, false, T_NUMBER, NULL,
                           1, NULL, true},
    [HT_P_LINE_DASHARRAY] = {"line-dasharray", HT_LAYER_LINE, false, T_NUMARRAY,
                             NULL, 0, NULL, false},
    [HT_P_LINE_CAP] = {"line-cap", HT_LAYER_LINE, true, T_ENUM,
                       "butt|round|square", 0, "butt", false},
    [HT_P_LINE_JOIN] = {"line-join", HT_LAYER_LINE, true, T_ENUM,
                        "bevel|round|miter", 0, "miter", false},
    [HT_P_CIRCLE_RADIUS] = {"circle-radius", HT_LAYER_CIRCLE, false, T_NUMBER,
                            NULL, 5, NULL, true},
    [HT_P_CIRCLE_COLOR] = {"circle-color", HT_LAYER_CIRCLE, false, T_COLOR,
                           NULL, 0, "#000000", true},
    [HT_P_CIRCLE_OPACITY] = {"circle-opacity", HT_LAYER_CIRCLE, false, T_NUMBER,
                             NULL, 1, NULL, true},
    [HT_P_CIRCLE_STROKE_WIDTH] = {"circle-stroke-width", HT_LAYER_CIRCLE, false,
                                  T_NUMBER, NULL, 0, NULL, true},
    [HT_P_CIRCLE_STROKE_COLOR] = {"circle-stroke-color", HT_LAYER_CIRCLE, false,
                                  T_COLOR, NULL, 0, "#000000", true},
    [HT_P_TEXT_FIELD] = {"text-field", HT_LAYER_SYMBOL, true, T_TEXT, NULL, 0,
                         "", true},
    [HT_P_TEXT_SIZE] = {"text-size", HT_LAYER_SYMBOL, true, T_NUMBER, NULL, 16,
                        NULL, true},
    [HT_P_TEXT_FONT] = {"text-font", HT_LAYER_SYMBOL, true, T_STRARRAY, NULL, 0,
                        NULL, false},
    [HT_P_SYMBOL_PLACEMENT] = {"symbol-placement", HT_LAYER_SYMBOL, true,
                               T_ENUM, "point|line", 0, "point", false},
    [HT_P_TEXT_ALLOW_OVERLAP] = {"text-allow-overlap", HT_LAYER_SYMBOL, true,
                                 T_BOOL, NULL, 0, NULL, false},
    [HT_P_TEXT_PADDING] = {"text-padding", HT_LAYER_SYMBOL, true, T_NUMBER,
                           NULL, 2, NULL, false},
    [HT_P_SYMBOL_SPACING] = {"symbol-spacing", HT_LAYER_SYMBOL, true, T_NUMBER,
                             NULL, 250, NULL, false},
    [HT_P_TEXT_COLOR] = {"text-color", HT_LAYER_SYMBOL, false, T_COLOR, NULL, 0,
                         "#000000", true},
    [HT_P_TEXT_HALO_COLOR] = {"text-halo-color", HT_LAYER_SYMBOL, false,
                              T_COLOR, NULL, 0, "transparent", true},
    [HT_P_TEXT_HALO_WIDTH] = {"text-halo-width", HT_LAYER_SYMBOL, false,
                              T_NUMBER, NULL, 0, NULL, true},
    [HT_P_TEXT_OPACITY] = {"text-opacity", HT_LAYER_SYMBOL, false, T_NUMBER,
                           NULL, 1, NULL, true},
    [HT_P_HEATMAP_RADIUS] = {"heatmap-radius", HT_LAYER_HEATMAP, false,
                             T_NUMBER, NULL, 150, NULL, false},
    [HT_P_HEATMAP_KERNEL] = {"heatmap-kernel", HT_LAYER_HEATMAP, false, T_ENUM,
                             "quartic|gaussian", 0, "quartic", false},
    [HT_P_HEATMAP_WEIGHT] = {"heatmap-weight", HT_LAYER_HEATMAP, false,
                             T_NUMBER, NULL, 1, NULL, true},
    [HT_P_HEATMAP_COLOR] = {"heatmap-color", HT_LAYER_HEATMAP, false, T_COLOR,
                            NULL, 0, "transparent", false},
    [HT_P_HEATMAP_OPACITY] = {"heatmap-opacity", HT_LAYER_HEATMAP, false,
                              T_NUMBER, NULL, 1, NULL, false},
    [HT_P_HEATMAP_SCALE] = {"heatmap-scale", HT_LAYER_HEATMAP, false, T_NUMBER,
                            NULL, 0, NULL, false},
    [HT_P_HEATMAP_UNIT] = {"heatmap-unit", HT_LAYER_HEATMAP, false, T_ENUM,
                           "total|per-day", 0, "total", false},
    [HT_P_HEATMAP_REFERENCE_DAYS] = {"heatmap-reference-days", HT_LAYER_HEATMAP,
                                     false, T_NUMBER, NULL, 365, NULL, false},
    [HT_P_STREET_HEAT_COLOR] = {"street-heat-color", HT_LAYER_STREET_HEAT,
                                false, T_COLOR, NULL, 0, "transparent", false},
    [HT_P_STREET_HEAT_WIDTH] = {"street-heat-width", HT_LAYER_STREET_HEAT,
                                false, T_NUMBER, NULL, 3, NULL, false},
    [HT_P_STREET_HEAT_OPACITY] = {"street-heat-opacity", HT_LAYER_STREET_HEAT,
                                  false, T_NUMBER, NULL, 1, NULL, false},
    [HT_P_STREET_HEAT_SCALE] = {"street-heat-scale", HT_LAYER_STREET_HEAT,
                                false, T_NUMBER, NULL, 0, NULL, false},
    [HT_P_CHOROPLETH_METRIC] = {"choropleth-metric", HT_LAYER_CHOROPLETH, false,
                                T_ENUM, "count|density|rate|change", 0,
                                "density", false},
    [HT_P_CHOROPLETH_CLASSES] = {"choropleth-classes", HT_LAYER_CHOROPLETH,
                                 false, T_ENUM, "quantile|jenks|fixed", 0,
                                 "jenks", false},
    [HT_P_CHOROPLETH_BREAKS] = {"choropleth-breaks", HT_LAYER_CHOROPLETH, false,
                                T_NUMARRAY, NULL, 0, NULL, false},
    [HT_P_CHOROPLETH_COLORS] = {"choropleth-colors", HT_LAYER_CHOROPLETH, false,
                                T_STRARRAY, NULL, 0, NULL, false},
    [HT_P_CHOROPLETH_OPACITY] = {"choropleth-opacity", HT_LAYER_CHOROPLETH,
                                 false, T_NUMBER, NULL, 0.75, NULL, false},
    [HT_P_CHOROPLETH_OUTLINE_COLOR] = {"choropleth-outline-color",
                                       HT_LAYER_CHOROPLETH, false, T_COLOR,
                                       NULL, 0, "transparent", false},
    [HT_P_HOTSPOT_NEIGHBOURS] = {"hotspot-neighbours", HT_LAYER_HOTSPOT, false,
                                 T_ENUM, "contiguity|distance", 0, "contiguity",
                                 false},
    [HT_P_HOTSPOT_DISTANCE] = {"hotspot-distance", HT_LAYER_HOTSPOT, false,
                               T_NUMBER, NULL, 300, NULL, false},
    [HT_P_HOTSPOT_COLORS] = {"hotspot-colors", HT_LAYER_HOTSPOT, false,
                             T_STRARRAY, NULL, 0, NULL, false},
    [HT_P_HOTSPOT_OPACITY] = {"hotspot-opacity", HT_LAYER_HOTSPOT, false,
                              T_NUMBER, NULL, 0.75, NULL, false},
    [HT_P_HOTSPOT_OUTLINE_COLOR] = {"hotspot-outline-color", HT_LAYER_HOTSPOT,
                                    false, T_COLOR, NULL, 0, "transparent",
                                    false},
};

const char *ht_style_prop_name(ht_prop p) {
    return (int)p >= 0 && p < HT_P_COUNT ? props[p].name : "?";
}

/* ---- expressions ---- */

typedef enum ekind {
    E_LIT,
    E_GET,
    E_HAS,
    E_ZOOM,
    E_INTERP,
    E_STEP,
    E_MATCH,
    E_CASE,
    E_EQ,
    E_NE,
    E_LT,
    E_LE,
    E_GT,
    E_GE,
    E_ALL,
    E_ANY,
    E_NOT,
    E_IN,
    E_COALESCE,
    E_TO_STRING,
    E_TO_NUMBER,
    E_CONCAT,
    E_ADD,
    E_SUB,
    E_MUL,
    E_DIV,
    E_TOKENS,
    E_HEAT_DENSITY,
    E_HEAT_VALUE
} ekind;

struct ht_expr {
    ekind k;
    ht_value lit;
    char *str;       /* E_GET/E_HAS name, E_TOKENS template, string lit */
    ht_value *items; /* array literal items (owned) */
    char **item_strs;
    size_t nitem_strs;
    ht_expr **a; /* arguments */
    size_t na;
    double base;   /* E_INTERP: 1 for linear */
    double *stops; /* E_INTERP/E_STEP stop inputs, ascending */
    size_t nstops;
    ht_value *labels;  /* E_MATCH: labels of every branch, flat */
    size_t *lab_start; /* first label of branch i */
    size_t *lab_count; /* number of labels of branch i */
    char **label_strs; /* owned strings of the labels */
    size_t nlabel_strs;
    bool feature; /* depends on feature properties */
};

static void expr_free(ht_expr *e) {
    if (!e) {
        return;
    }
    for (size_t i = 0; i < e->na; i++) {
        expr_free(e->a[i]);
    }
    for (size_t i = 0; i < e->nitem_strs; i++) {
        free(e->item_strs[i]);
    }
    for (size_t i = 0; i < e->nlabel_strs; i++) {
        free(e->label_strs[i]);
    }
    free(e->item_strs);
    free(e->label_strs);
    free(e->a);
    free(e->str);
    free(e->items);
    free(e->stops);
    free(e->labels);
    free(e->lab_start);
    free(e->lab_count);
    free(e);
}

/* Compile context: where we are, for messages. */
typedef struct cctx {
    const char *file;
    char path[256];
    ht_error *err;
    bool filter; /* legacy filter syntax allowed */
} cctx;

static ht_expr *fail(cctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static ht_expr *fail(cctx *c, const char *fmt, ...) {
    char why[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    ht_error_set(c->err, HT_EINVAL, "%s: %s: %s", c->file, c->path, why);
    return NULL;
}

static ht_expr *enew(ekind k) {
    ht_expr *e = calloc(1, sizeof *e);
    if (e) {
        e->k = k;
        e->base = 1;
    }
    return e;
}

static const char *type_name(ptype t) {
    static const char *const n[] = {
        "any",     "colour",           "number",           "string", "boolean",
        "keyword", "array of numbers", "array of strings", "text"};
    return n[t];
}

static ht_expr *compile(cctx *c, json_t *j, ptype want);

/* A JSON scalar as a literal of the wanted type. */
static ht_expr *literal(cctx *c, json_t *j, ptype want) {
    ht_expr *e = enew(E_LIT);
    if (!e) {
        return fail(c, "out of memory");
    }
    if (json_is_number(j)) {
        e->lit = (ht_value){.type = HT_VAL_NUMBER, .n = json_number_value(j)};
    } else if (json_is_boolean(j)) {
        e->lit = (ht_value){.type = HT_VAL_BOOL, .b = json_is_true(j)};
    } else if (json_is_null(j)) {
        e->lit = (ht_value){.type = HT_VAL_NULL};
    } else if (json_is_string(j)) {
        const char *s = json_string_value(j);
        if (want == T_COLOR) {
            ht_error sub = {0};
            if (ht_style_parse_color(s, &e->lit.c, &sub) != HT_OK) {
                expr_free(e);
                return fail(c, "%s", sub.msg);
            }
            e->lit.type = HT_VAL_COLOR;
            return e;
        }
        e->str = strdup(s);
        if (!e->str) {
            expr_free(e);
            return fail(c, "out of memory");
        }
        e->lit = (ht_value){.type = HT_VAL_STRING, .s = e->str};
    } else {
        expr_free(e);
        return fail(c, "unexpected JSON value");
    }
    /* Check what can be checked now. */
    ptype got = e->lit.type == HT_VAL_NUMBER   ? T_NUMBER
                : e->lit.type == HT_VAL_BOOL   ? T_BOOL
                : e->lit.type == HT_VAL_STRING ? T_STRING
                                               : T_ANY;
    bool ok = want == T_ANY || got == T_ANY || got == want ||
              (want == T_ENUM && got == T_STRING) ||
              (want == T_TEXT && got == T_STRING) ||
              (want == T_TEXT && got == T_NUMBER);
    if (!ok) {
        expr_free(e);
        return fail(c, "expected a %s", type_name(want));
    }
    return e;
}

/* An array literal: numbers or strings. */
static ht_expr *array_literal(cctx *c, json_t *arr, ptype want) {
    ht_expr *e = enew(E_LIT);
    size_t n = json_array_size(arr);
    if (!e || !(e->items = calloc(n ? n : 1, sizeof *e->items)) ||
        !(e->item_strs = calloc(n ? n : 1, sizeof *e->item_strs))) {
        expr_free(e);
        return fail(c, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(arr, i);
        if (json_is_number(v) && want != T_STRARRAY) {
            e->items[i] =
                (ht_value){.type = HT_VAL_NUMBER, .n = json_number_value(v)};
        } else if (json_is_string(v) && want != T_NUMARRAY) {
            char *s = strdup(json_string_value(v));
            if (!s) {
                expr_free(e);
                return fail(c, "out of memory");
            }
            e->item_strs[e->nitem_strs++] = s;
            e->items[i] = (ht_value){.type = HT_VAL_STRING, .s = s};
        } else {
            expr_free(e);
            return fail(c, "item %zu: expected a %s", i,
                        want == T_STRARRAY ? "string" : "number");
        }
        if (want == T_NUMARRAY && e->items[i].n < 0) {
            expr_free(e);
            return fail(c, "item %zu: negative", i);
        }
    }
    e->lit = (ht_value){.type = HT_VAL_ARRAY, .items = e->items, .nitems = n};
    return e;
}

static const struct {
    const char *name;
    ekind k;
} ops[] = {{"get", E_GET},
           {"has", E_HAS},
           {"zoom", E_ZOOM},
           {"interpolate", E_INTERP},
           {"step", E_STEP},
           {"match", E_MATCH},
           {"case", E_CASE},
           {"==", E_EQ},
           {"!=", E_NE},
           {"<", E_LT},
           {"<=", E_LE},
           {">", E_GT},
           {">=", E_GE},
           {"all", E_ALL},
           {"any", E_ANY},
           {"!", E_NOT},
           {"in", E_IN},
           {"coalesce", E_COALESCE},
           {"to-string", E_TO_STRING},
           {"to-number", E_TO_NUMBER},
           {"concat", E_CONCAT},
           {"+", E_ADD},
           {"-", E_SUB},
           {"*", E_MUL},
           {"/", E_DIV},
           {"literal", E_LIT},
           {"heatmap-density", E_HEAT_DENSITY},
           {"heatmap-value", E_HEAT_VALUE}};

static int find_op(const char *name) {
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
        if (strcmp(ops[i].name, name) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* Append to the JSON path for the duration of a sub-compile. */
static size_t path_push(cctx *c, size_t i) {
    size_t len = strlen(c->path);
    snprintf(c->path + len, sizeof c->path - len, "[%zu]", i);
    return len;
}

static ht_expr *compile_at(cctx *c, json_t *j, ptype want, size_t i) {
    size_t len = path_push(c, i);
    ht_expr *e = compile(c, j, want);
    if (e) {
        c->path[len] = '\0';
    }
    return e;
}

static bool add_arg(cctx *c, ht_expr *e, ht_expr *a) {
    if (!a) {
        return false;
    }
    ht_expr **na = realloc(e->a, (e->na + 1) * sizeof *na);
    if (!na) {
        expr_free(a);
        fail(c, "out of memory");
        return false;
    }
    e->a = na;
    e->a[e->na++] = a;
    e->feature = e->feature || a->feature;
    return true;
}

/* A legacy filter (["==", "level", "street"], ["in", "kind", "a", "b"],
 * ["has", "name"], ["!in", ...], ["!has", ...], ["none", ...]) rewritten
 * as the expression it means. */
static ht_expr *legacy_filter(cctx *c, json_t *j, const char *op) {
    size_t n = json_array_size(j);
    const char *key = json_string_value(json_array_get(j, 1));
    bool negate = op[0] == '!' && op[1] != '=' && op[1] != '\0';
    const char *base = negate ? op + 1 : op;
    ht_expr *get = enew(E_GET);
    if (!get || !(get->str = strdup(key))) {
        expr_free(get);
        return fail(c, "out of memory");
    }
    get->feature = true;
    ht_expr *e = NULL;
    if (strcmp(base, "has") == 0) {
        get->k = E_HAS;
        e = get;
    } else if (strcmp(base, "in") == 0) {
        e = enew(E_ANY);
        for (size_t i = 2; e && i < n; i++) {
            ht_expr *eq = enew(E_EQ);
            ht_expr *g = enew(E_GET);
            if (!eq || !g || !(g->str = strdup(key))) {
                expr_free(eq);
                expr_free(g);
                expr_free(e);
                expr_free(get);
                return fail(c, "out of memory");
            }
            g->feature = true;
            if (!add_arg(c, eq, g) ||
                !add_arg(c, eq,
                         compile_at(c, json_array_get(j, i), T_ANY, i)) ||
                !add_arg(c, e, eq)) {
                expr_free(eq);
                expr_free(e);
                expr_free(get);
                return NULL;
            }
        }
        expr_free(get);
    } else {
        int o = find_op(base);
        e = enew(ops[o].k);
        if (!e || n != 3) {
            expr_free(e);
            expr_free(get); /* not an argument of anything yet */
            return n != 3 ? fail(c, "\"%s\" takes a key and a value", op)
                          : fail(c, "out of memory");
        }
        /* add_arg frees an argument it cannot add; e owns those it did. */
        if (!add_arg(c, e, get) ||
            !add_arg(c, e, compile_at(c, json_array_get(j, 2), T_ANY, 2))) {
            expr_free(e);
            return NULL;
        }
    }
    if (e && negate) {
        ht_expr *not = enew(E_NOT);
        if (!not ) {
            expr_free(e);
            return fail(c, "out of memory");
        }
        if (!add_arg(c, not, e)) {
            expr_free(not );
            return fail(c, "out of memory");
        }
        e = not ;
    }
    return e;
}

static ht_expr *compile_call(cctx *c, json_t *j, ptype want) {
    size_t n = json_array_size(j);
    const char *op = json_string_value(json_array_get(j, 0));
    bool legacy_key = n >= 2 && json_is_string(json_array_get(j, 1));
    if (c->filter && op &&
        ((legacy_key && (strcmp(op, "==") == 0 || strcmp(op, "!=") == 0 ||
                         strcmp(op, "<") == 0 || strcmp(op, "<=") == 0 ||
                         strcmp(op, ">") == 0 || strcmp(op, ">=") == 0 ||
                         strcmp(op, "in") == 0 || strcmp(op, "!in") == 0 ||
                         strcmp(op, "has") == 0 || strcmp(op, "!has") == 0)))) {
        return legacy_filter(c, j, op);
    }
    if (op && strcmp(op, "none") == 0) {
        /* legacy: no sub-filter matches */
        ht_expr *any = enew(E_ANY), *not = enew(E_NOT);
        for (size_t i = 1; any && i < n; i++) {
            if (!add_arg(c, any,
                         compile_at(c, json_array_get(j, i), T_BOOL, i))) {
                expr_free(any);
                expr_free(not );
                return NULL;
            }
        }
        if (!not || !add_arg(c, not, any)) {
            expr_free(not );
            return fail(c, "out of memory");
        }
        return not ;
    }
    int o = op ? find_op(op) : -1;
    if (o < 0) {
        return fail(c, "unknown expression \"%s\"", op ? op : "(not a name)");
    }
    ekind k = ops[o].k;
    ht_expr *e = NULL;
    switch (k) {
    case E_LIT:
        if (n != 2) {
            return fail(c, "\"literal\" takes one value");
        }
        return json_is_array(json_array_get(j, 1))
                   ? array_literal(c, json_array_get(j, 1),
                                   want == T_STRARRAY ? T_STRARRAY : T_ANY)
                   : literal(c, json_array_get(j, 1), want);
    case E_GET:
    case E_HAS:
        if (n != 2 || !json_is_string(json_array_get(j, 1))) {
            return fail(c, "\"%s\" takes one property name", op);
        }
        e = enew(k);
        if (!e || !(e->str = strdup(json_string_value(json_array_get(j, 1))))) {
            expr_free(e);
            return fail(c, "out of memory");
        }
        e->feature = true;
        return e;
    case E_ZOOM:
    case E_HEAT_DENSITY:
    case E_HEAT_VALUE:
        return n == 1 ? enew(k) : fail(c, "\"%s\" takes nothing", op);
    case E_INTERP:
    case E_STEP: {
        bool interp = k == E_INTERP;
        size_t first = 3; /* index of the first stop input, both forms */
        if (n < (interp ? 5u : 3u) || (n - first) % 2 != 0) {
            return fail(c, interp ? "\"interpolate\" takes a type, an input "
                                    "and pairs of stops"
                                  : "\"step\" takes an input, a default and "
                                    "pairs of stops");
        }
        e = enew(k);
        if (!e) {
            return fail(c, "out of memory");
        }
        if (interp) {
            json_t *t = json_array_get(j, 1);
            const char *tn = json_string_value(json_array_get(t, 0));
            if (tn && strcmp(tn, "linear") == 0 && json_array_size(t) == 1) {
                e->base = 1;
            } else if (tn && strcmp(tn, "exponential") == 0 &&
                       json_array_size(t) == 2 &&
                       json_is_number(json_array_get(t, 1)) &&
                       json_number_value(json_array_get(t, 1)) > 0) {
                e->base = json_number_value(json_array_get(t, 1));
            } else {
                expr_free(e);
                return fail(c,
                            "interpolation type must be [\"linear\"] or "
                            "[\"exponential\", base > 0]");
            }
            if (want != T_NUMBER && want != T_COLOR && want != T_ANY) {
                expr_free(e);
                return fail(c, "cannot interpolate a %s", type_name(want));
            }
        }
        /* a[0] input; for step a[1] default; then one output per stop. */
        if (!add_arg(c, e,
                     compile_at(c, json_array_get(j, interp ? 2 : 1), T_NUMBER,
                                interp ? 2 : 1))) {
            expr_free(e);
            return NULL;
        }
        if (!interp &&
            !add_arg(c, e, compile_at(c, json_array_get(j, 2), want, 2))) {
            expr_free(e);
            return NULL;
        }
        size_t nst = (n - first) / 2;
        e->stops = calloc(nst, sizeof *e->stops);
        if (!e->stops) {
            expr_free(e);
            return fail(c, "out of memory");
        }
        for (size_t i = 0; i < nst; i++) {
            json_t *in = json_array_get(j, first + 2 * i);
            if (!json_is_number(in) ||
                (i && json_number_value(in) <= e->stops[i - 1])) {
                expr_free(e);
                path_push(c, first + 2 * i);
                return fail(c,
                            "stop inputs must be numbers in ascending "
                            "order");
            }
            e->stops[e->nstops++] = json_number_value(in);
            if (!add_arg(c, e,
                         compile_at(c, json_array_get(j, first + 2 * i + 1),
                                    want, first + 2 * i + 1))) {
                expr_free(e);
                return NULL;
            }
        }
        return e;
    }
    case E_MATCH: {
        if (n < 5 || n % 2 != 1) {
            return fail(c,
                        "\"match\" takes an input, label/output pairs and "
                        "a fallback");
        }
        e = enew(E_MATCH);
        size_t nb = (n - 3) / 2;
        if (!e || !(e->lab_start = calloc(nb, sizeof(size_t))) ||
            !(e->lab_count = calloc(nb, sizeof(size_t)))) {
            expr_free(e);
            return fail(c, "out of memory");
        }
        if (!add_arg(c, e, compile_at(c, json_array_get(j, 1), T_ANY, 1))) {
            expr_free(e);
            return NULL;
        }
        size_t nl = 0;
        for (size_t b = 0; b < nb; b++) {
            json_t *lab = json_array_get(j, 2 + 2 * b);
            nl += json_is_array(lab) ? json_array_size(lab) : 1;
        }
        e->labels = calloc(nl ? nl : 1, sizeof *e->labels);
        e->label_strs = calloc(nl ? nl : 1, sizeof *e->label_strs);
        if (!e->labels || !e->label_strs) {
            expr_free(e);
            return fail(c, "out of memory");
        }
        size_t li = 0;
        for (size_t b = 0; b < nb; b++) {
            json_t *lab = json_array_get(j, 2 + 2 * b);
            size_t cnt = json_is_array(lab) ? json_array_size(lab) : 1;
            e->lab_start[b] = li;
            e->lab_count[b] = cnt;
            for (size_t q = 0; q < cnt; q++) {
                json_t *v = json_is_array(lab) ? json_array_get(lab, q) : lab;
                if (json_is_number(v)) {
                    e->labels[li++] = (ht_value){.type = HT_VAL_NUMBER,
                                                 .n = json_number_value(v)};
                } else if (json_is_string(v)) {
                    char *s = strdup(json_string_value(v));
                    if (!s) {
                        expr_free(e);
                        return fail(c, "out of memory");
                    }
                    e->label_strs[e->nlabel_strs++] = s;
                    e->labels[li++] = (ht_value){.type = HT_VAL_STRING, .s = s};
                } else {
                    expr_free(e);
                    path_push(c, 2 + 2 * b);
                    return fail(c, "match labels must be numbers or strings");
                }
            }
            if (!add_arg(c, e,
                         compile_at(c, json_array_get(j, 3 + 2 * b), want,
                                    3 + 2 * b))) {
                expr_free(e);
                return NULL;
            }
        }
        if (!add_arg(c, e,
                     compile_at(c, json_array_get(j, n - 1), want, n - 1))) {
            expr_free(e);
            return NULL;
        }
        return e;
    }
    case E_CASE:
        if (n < 4 || n % 2 != 0) {
            return fail(c,
                        "\"case\" takes condition/output pairs and a "
                        "fallback");
        }
        e = enew(E_CASE);
        for (size_t i = 1; e && i < n; i++) {
            bool cond = i % 2 == 1 && i != n - 1;
            if (!add_arg(c, e,
                         compile_at(c, json_array_get(j, i),
                                    cond ? T_BOOL : want, i))) {
                expr_free(e);
                return NULL;
            }
        }
        return e ? e : fail(c, "out of memory");
    default:
        break;
    }
    /* The rest take plain argument lists. */
    size_t min = 1, max = (size_t)-1;
    ptype argt = T_ANY;
    switch (k) {
    case E_EQ:
    case E_NE:
    case E_LT:
    case E_LE:
    case E_GT:
    case E_GE:
    case E_IN:
        min = max = 2;
        break;
    case E_NOT:
        min = max = 1;
        argt = T_BOOL;
        break;
    case E_ALL:
    case E_ANY:
        min = 0;
        argt = T_BOOL;
        break;
    case E_TO_STRING:
    case E_TO_NUMBER:
        min = max = 1;
        break;
    case E_SUB:
        min = 1;
        max = 2;
        argt = T_NUMBER;
        break;
    case E_DIV:
        min = max = 2;
        argt = T_NUMBER;
        break;
    case E_ADD:
    case E_MUL:
        min = 2;
        argt = T_NUMBER;
        break;
    default:
        break;
    }
    if (n - 1 < min || n - 1 > max) {
        return fail(c, "\"%s\" takes %zu%s argument%s", op, min,
                    max == min ? "" : " or more", min == 1 ? "" : "s");
    }
    e = enew(k);
    if (!e) {
        return fail(c, "out of memory");
    }
    for (size_t i = 1; i < n; i++) {
        json_t *arg = json_array_get(j, i);
        ptype t = argt;
        if (k == E_IN && i == 2 && json_is_array(arg) &&
            !json_is_string(json_array_get(arg, 0))) {
            t = T_ANY;
        }
        if (k == E_COALESCE) {
            t = want;
        }
        if (!add_arg(c, e, compile_at(c, arg, t, i))) {
            expr_free(e);
            return NULL;
        }
    }
    return e;
}

static ht_expr *compile(cctx *c, json_t *j, ptype want) {
    if (json_is_array(j)) {
        json_t *first = json_array_get(j, 0);
        bool is_call =
            json_is_string(first) &&
            (find_op(json_string_value(first)) >= 0 || want != T_STRARRAY);
        if ((want == T_NUMARRAY || want == T_STRARRAY) && !is_call) {
            return array_literal(c, j, want);
        }
        if (json_array_size(j) == 0) {
            return fail(c, "empty array");
        }
        return compile_call(c, j, want);
    }
    if (json_is_object(j)) {
        return fail(c, "objects are not supported here (use expressions)");
    }
    if (want == T_TEXT && json_is_string(j) &&
        strchr(json_string_value(j), '{')) {
        ht_expr *e = enew(E_TOKENS);
        if (!e || !(e->str = strdup(json_string_value(j)))) {
            expr_free(e);
            return fail(c, "out of memory");
        }
        e->feature = true;
        return e;
    }
    if (want == T_NUMARRAY || want == T_STRARRAY) {
        return fail(c, "expected an array");
    }
    /* Keywords (T_ENUM) are checked by the caller, which knows them. */
    return literal(c, j, want);
}

/* ---- evaluation ---- */

typedef struct ectx {
    double zoom;
    double heat_density, heat_value;
    ht_style_get_fn get;
    const void *feature;
    char *buf; /* scratch for built strings */
    size_t size;
    size_t used;
} ectx;

static const char *scratch(ectx *x, const char *s) {
    size_t n = strlen(s) + 1;
    if (!x->buf || x->used + n > x->size) {
        return "";
    }
    char *p = x->buf + x->used;
    memcpy(p, s, n);
    x->used += n;
    return p;
}

static void to_text(const ht_value *v, char *out, size_t size) {
    switch (v->type) {
    case HT_VAL_STRING:
        snprintf(out, size, "%s", v->s);
        break;
    case HT_VAL_NUMBER:
        snprintf(out, size, "%.15g", v->n);
        break;
    case HT_VAL_BOOL:
        snprintf(out, size, "%s", v->b ? "true" : "false");
        break;
    case HT_VAL_COLOR:
        snprintf(out, size, "rgba(%d,%d,%d,%g)", (int)lround(v->c.r * 255),
                 (int)lround(v->c.g * 255), (int)lround(v->c.b * 255), v->c.a);
        break;
    default:
        out[0] = '\0';
        break;
    }
}

static ht_value eval(const ht_expr *e, ectx *x);

static bool values_equal(const ht_value *a, const ht_value *b) {
    if (a->type != b->type) {
        return false;
    }
    switch (a->type) {
    case HT_VAL_NUMBER:
        return a->n == b->n;
    case HT_VAL_STRING:
        return strcmp(a->s, b->s) == 0;
    case HT_VAL_BOOL:
        return a->b == b->b;
    case HT_VAL_NULL:
        return true;
    default:
        return false;
    }
}

static int compare(const ht_value *a, const ht_value *b, bool *ok) {
    *ok = a->type == b->type &&
          (a->type == HT_VAL_NUMBER || a->type == HT_VAL_STRING);
    if (!*ok) {
        return 0;
    }
    if (a->type == HT_VAL_NUMBER) {
        return (a->n > b->n) - (a->n < b->n);
    }
    return strcmp(a->s, b->s);
}

static ht_value interpolate(const ht_value *a, const ht_value *b, double t) {
    if (a->type == HT_VAL_NUMBER && b->type == HT_VAL_NUMBER) {
        return (ht_value){.type = HT_VAL_NUMBER, .n = a->n + (b->n - a->n) * t};
    }
    if (a->type == HT_VAL_COLOR && b->type == HT_VAL_COLOR) {
        ht_rgba c = {
            a->c.r + (b->c.r - a->c.r) * t, a->c.g + (b->c.g - a->c.g) * t,
            a->c.b + (b->c.b - a->c.b) * t, a->c.a + (b->c.a - a->c.a) * t};
        return (ht_value){.type = HT_VAL_COLOR, .c = c};
    }
    return t < 0.5 ? *a : *b;
}

static ht_value eval_interp(const ht_expr *e, ectx *x) {
    ht_value in = eval(e->a[0], x);
    if (in.type != HT_VAL_NUMBER) {
        return (ht_value){0};
    }
    if (e->k == E_STEP) {
        size_t out = 1; /* the default */
        for (size_t i = 0; i < e->nstops && in.n >= e->stops[i]; i++) {
            out = i + 2;
        }
        return eval(e->a[out], x);
    }
    if (in.n <= e->stops[0]) {
        return eval(e->a[1], x);
    }
    if (in.n >= e->stops[e->nstops - 1]) {
        return eval(e->a[e->nstops], x);
    }
    size_t i = 0;
    while (in.n >= e->stops[i + 1]) {
        i++;
    }
    double x0 = e->stops[i], x1 = e->stops[i + 1];
    double t = e->base == 1 ? (in.n - x0) / (x1 - x0)
                            : (pow(e->base, in.n - x0) - 1) /
                                  (pow(e->base, x1 - x0) - 1);
    ht_value a = eval(e->a[i + 1], x), b = eval(e->a[i + 2], x);
    return interpolate(&a, &b, t);
}

static ht_value eval_tokens(const ht_expr *e, ectx *x) {
    char out[512];
    size_t o = 0;
    for (const char *p = e->str; *p && o + 1 < sizeof out;) {
        const char *close = *p == '{' ? strchr(p, '}') : NULL;
        if (!close) {
            out[o++] = *p++;
            continue;
        }
        char name[64];
        size_t n = (size_t)(close - p - 1);
        if (n >= sizeof name) {
            n = sizeof name - 1;
        }
        memcpy(name, p + 1, n);
        name[n] = '\0';
        ht_value v = {0};
        if (x->get && x->get(x->feature, name, &v)) {
            char t[256];
            to_text(&v, t, sizeof t);
            size_t tl = strlen(t);
            if (tl > sizeof out - 1 - o) {
                tl = sizeof out - 1 - o;
            }
            memcpy(out + o, t, tl);
            o += tl;
        }
        p = close + 1;
    }
    out[o] = '\0';
    return (ht_value){.type = HT_VAL_STRING, .s = scratch(x, out)};
}

static ht_value eval(const ht_expr *e, ectx *x) {
    ht_value v = {0};
    switch (e->k) {
    case E_LIT:
        return e->lit;
    case E_GET:
        if (x->get && x->get(x->feature, e->str, &v)) {
            return v;
        }
        return (ht_value){0};
    case E_HAS:
        return (ht_value){.type = HT_VAL_BOOL,
                          .b = x->get && x->get(x->feature, e->str, &v)};
    case E_ZOOM:
        return (ht_value){.type = HT_VAL_NUMBER, .n = x->zoom};
    case E_INTERP:
    case E_STEP:
        return eval_interp(e, x);
    case E_MATCH: {
        ht_value in = eval(e->a[0], x);
        size_t nb = e->na - 2;
        for (size_t b = 0; b < nb; b++) {
            for (size_t q = 0; q < e->lab_count[b]; q++) {
                if (values_equal(&in, &e->labels[e->lab_start[b] + q])) {
                    return eval(e->a[1 + b], x);
                }
            }
        }
        return eval(e->a[e->na - 1], x);
    }
    case E_CASE:
        for (size_t i = 0; i + 1 < e->na; i += 2) {
            ht_value c = eval(e->a[i], x);
            if (c.type == HT_VAL_BOOL && c.b) {
                return eval(e->a[i + 1], x);
            }
        }
        return eval(e->a[e->na - 1], x);
    case E_EQ:
    case E_NE: {
        ht_value a = eval(e->a[0], x), b = eval(e->a[1], x);
        bool eq = values_equal(&a, &b);
        return (ht_value){.type = HT_VAL_BOOL, .b = e->k == E_EQ ? eq : !eq};
    }
    case E_LT:
    case E_LE:
    case E_GT:
    case E_GE: {
        ht_value a = eval(e->a[0], x), b = eval(e->a[1], x);
        bool ok;
        int c = compare(&a, &b, &ok);
        bool r = ok && (e->k == E_LT   ? c < 0
                        : e->k == E_LE ? c <= 0
                        : e->k == E_GT ? c > 0
                                       : c >= 0);
        return (ht_value){.type = HT_VAL_BOOL, .b = r};
    }
    case E_ALL:
    case E_ANY: {
        bool all = e->k == E_ALL;
        for (size_t i = 0; i < e->na; i++) {
            ht_value c = eval(e->a[i], x);
            bool t = c.type == HT_VAL_BOOL && c.b;
            if (all != t) {
                return (ht_value){.type = HT_VAL_BOOL, .b = !all};
            }
        }
        return (ht_value){.type = HT_VAL_BOOL, .b = all};
    }
    case E_NOT: {
        ht_value c = eval(e->a[0], x);
        return (ht_value){.type = HT_VAL_BOOL,
                          .b = !(c.type == HT_VAL_BOOL && c.b)};
    }
    case E_IN: {
        ht_value needle = eval(e->a[0], x), hay = eval(e->a[1], x);
        bool found = false;
        if (hay.type == HT_VAL_ARRAY) {
            for (size_t i = 0; i < hay.nitems && !found; i++) {
                found = values_equal(&needle, &hay.items[i]);
            }
        } else if (hay.type == HT_VAL_STRING && needle.type == HT_VAL_STRING) {
            found = strstr(hay.s, needle.s) != NULL;
        }
        return (ht_value){.type = HT_VAL_BOOL, .b = found};
    }
    case E_COALESCE:
        for (size_t i = 0; i < e->na; i++) {
            v = eval(e->a[i], x);
            if (v.type != HT_VAL_NULL) {
                return v;
            }
        }
        return (ht_value){0};
    case E_TO_STRING: {
        char t[256];
        v = eval(e->a[0], x);
        to_text(&v, t, sizeof t);
        return (ht_value){.type = HT_VAL_STRING, .s = scratch(x, t)};
    }
    case E_TO_NUMBER: {
        v = eval(e->a[0], x);
        if (v.type == HT_VAL_STRING) {
            char *end;
            double d = strtod(v.s, &end);
            return *end || end == v.s
                       ? (ht_value){0}
                       : (ht_value){.type = HT_VAL_NUMBER, .n = d};
        }
        if (v.type == HT_VAL_BOOL) {
            return (ht_value){.type = HT_VAL_NUMBER, .n = v.b};
        }
        return v.type == HT_VAL_NUMBER ? v : (ht_value){0};
    }
    case E_CONCAT: {
        char out[512] = "";
        for (size_t i = 0; i < e->na; i++) {
            char t[256];
            v = eval(e->a[i], x);
            to_text(&v, t, sizeof t);
            strncat(out, t, sizeof out - strlen(out) - 1);
        }
        return (ht_value){.type = HT_VAL_STRING, .s = scratch(x, out)};
    }
    case E_ADD:
    case E_SUB:
    case E_MUL:
    case E_DIV: {
        double acc = 0;
        for (size_t i = 0; i < e->na; i++) {
            ht_value a = eval(e->a[i], x);
            if (a.type != HT_VAL_NUMBER) {
                return (ht_value){0};
            }
            if (i == 0) {
                acc = e->k == E_SUB && e->na == 1 ? -a.n : a.n;
            } else if (e->k == E_ADD) {
                acc += a.n;
            } else if (e->k == E_SUB) {
                acc -= a.n;
            } else if (e->k == E_MUL) {
                acc *= a.n;
            } else {
                acc /= a.n;
            }
        }
        return (ht_value){.type = HT_VAL_NUMBER, .n = acc};
    }
    case E_TOKENS:
        return eval_tokens(e, x);
    case E_HEAT_DENSITY:
        return (ht_value){.type = HT_VAL_NUMBER, .n = x->heat_density};
    case E_HEAT_VALUE:
        return (ht_value){.type = HT_VAL_NUMBER, .n = x->heat_value};
    }
    return (ht_value){0};
}

/* ---- styles ---- */

/* Most filter parameters a style's metadata sets. */
#define STYLE_FILTERS 4

struct ht_style {
    atomic_int refs;
    char *name;
    ht_style_layer *layers;
    size_t nlayers;
    /* metadata "hutong:filter": parameters every picture of the style
     * adds to the request's filter */
    size_t nfilter;
    char fkey[STYLE_FILTERS][24], fval[STYLE_FILTERS][80];
    /* metadata "hutong:density-grids": "on-demand": a server keeps its
     * heat layers' grids per class once asked for, not from the start */
    bool grids_on_demand;
};

/* Read metadata "hutong:filter" ({"overdue": "1"}): each a filter
 * parameter checked now, applied at every request. */
static ht_status style_filter(const char *name, json_t *root, ht_style *s,
                              ht_error *err) {
    json_t *f =
        json_object_get(json_object_get(root, "metadata"), "hutong:filter");
    if (!f) {
        return HT_OK;
    }
    if (!json_is_object(f) || json_object_size(f) > STYLE_FILTERS) {
        return ht_error_set(err, HT_EINVAL,
                            "%s: metadata.hutong:filter: an object of at most "
                            "%d filter parameters",
                            name, STYLE_FILTERS);
    }
    const char *key;
    json_t *val;
    json_object_foreach(f, key, val) {
        const char *v = json_string_value(val);
        ht_filter probe = ht_filter_all();
        if (!v || strlen(key) >= sizeof s->fkey[0] ||
            strlen(v) >= sizeof s->fval[0] || strcmp(key, "window") == 0 ||
            strcmp(key, "from") == 0 || strcmp(key, "to") == 0 ||
            ht_filter_set(&probe, key, v, 0, err) != HT_OK) {
            ht_status st = ht_error_set(
                err, HT_EINVAL,
                "%s: metadata.hutong:filter: \"%s\" is not a filter "
                "parameter with a text value (times come from the request)",
                name, key);
            return st;
        }
        snprintf(s->fkey[s->nfilter], sizeof s->fkey[0], "%s", key);
        snprintf(s->fval[s->nfilter], sizeof s->fval[0], "%s", v);
        s->nfilter++;
    }
    return HT_OK;
}

/* Read metadata "hutong:density-grids": "at-start" (the default) or
 * "on-demand". */
static ht_status style_grids(const char *name, json_t *root, ht_style *s,
                             ht_error *err) {
    json_t *g = json_object_get(json_object_get(root, "metadata"),
                                "hutong:density-grids");
    const char *v = json_string_value(g);
    if (!g) {
        return HT_OK;
    }
    if (!v || (strcmp(v, "at-start") != 0 && strcmp(v, "on-demand") != 0)) {
        return ht_error_set(err, HT_EINVAL,
                            "%s: metadata.hutong:density-grids: \"at-start\" "
                            "or \"on-demand\"",
                            name);
    }
    s->grids_on_demand = strcmp(v, "on-demand") == 0;
    return HT_OK;
}

bool ht_style_grids_on_demand(const ht_style *s) {
    return s && s->grids_on_demand;
}

bool ht_style_has_filter(const ht_style *s) {
    return s && s->nfilter > 0;
}

ht_status ht_style_apply_filter(const ht_style *s, ht_filter *f, int64_t now,
                                ht_error *err) {
    for (size_t k = 0; s && k < s->nfilter; k++) {
        /* "overdue" fixed once (the tile route, for its cache key) stays
         * at that minute when the renderer applies the style again. */
        if (strcmp(s->fkey[k], "overdue") == 0 && f->overdue_at != 0) {
            continue;
        }
        ht_status st = ht_filter_set(f, s->fkey[k], s->fval[k], now, err);
        if (st != HT_OK) {
            return st;
        }
    }
    return HT_OK;
}

static void layer_free(ht_style_layer *l) {
    free(l->id);
    free(l->legend_title);
    free(l->legend_prop);
    free(l->legend_size_prop);
    expr_free(l->filter);
    for (int p = 0; p < HT_P_COUNT; p++) {
        expr_free(l->props[p]);
    }
}

ht_style *ht_style_ref(ht_style *s) {
    atomic_fetch_add(&s->refs, 1);
    return s;
}

void ht_style_unref(ht_style *s) {
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1) {
        return;
    }
    for (size_t i = 0; i < s->nlayers; i++) {
        layer_free(&s->layers[i]);
    }
    free(s->layers);
    free(s->name);
    free(s);
}

const char *ht_style_name(const ht_style *s) {
    return s->name;
}

size_t ht_style_layer_count(const ht_style *s) {
    return s->nlayers;
}

const ht_style_layer *ht_style_layer_at(const ht_style *s, size_t i) {
    return i < s->nlayers ? &s->layers[i] : NULL;
}

static bool enum_ok(const char *enums, const char *v) {
    size_t n = strlen(v);
    for (const char *p = enums; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, v, n) == 0) {
            return true;
        }
        p += len + (bar ? 1 : 0);
    }
    return false;
}

static ht_status load_props(cctx *c, ht_style_layer *l, json_t *obj,
                            bool layout) {
    if (!obj) {
        return HT_OK;
    }
    const char *section = layout ? "layout" : "paint";
    if (!json_is_object(obj)) {
        fail(c, "\"%s\" must be an object", section);
        return HT_EINVAL;
    }
    size_t base = strlen(c->path);
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val) {
        snprintf(c->path + base, sizeof c->path - base, ".%s.%s", section, key);
        int p = -1;
        for (int i = 0; i < HT_P_COUNT; i++) {
            if (strcmp(props[i].name, key) == 0) {
                p = i;
            }
        }
        if (p < 0) {
            fail(c, "unknown property");
            return HT_EINVAL;
        }
        const propdef *d = &props[p];
        if ((d->layer >= 0 && d->layer != (int)l->type) ||
            d->layout != layout) {
            static const char *const tn[HT_LAYER_TYPE_COUNT] = {
                "background", "fill",        "line",       "circle", "symbol",
                "heatmap",    "street-heat", "choropleth", "hotspot"};
            fail(c, "not a %s property of a %s layer", section, tn[l->type]);
            return HT_EINVAL;
        }
        ht_expr *e = compile(c, val, d->type);
        if (!e) {
            return HT_EINVAL;
        }
        if (d->type == T_ENUM && e->k == E_LIT &&
            (e->lit.type != HT_VAL_STRING || !enum_ok(d->enums, e->lit.s))) {
            expr_free(e);
            fail(c, "expected one of %s", d->enums);
            return HT_EINVAL;
        }
        /* The heat scale must not change with zoom: radius and scale are
         * numbers, not expressions. */
        if ((p == HT_P_STREET_HEAT_SCALE || p == HT_P_HOTSPOT_DISTANCE) &&
            (e->k != E_LIT || e->lit.n < 0)) {
            expr_free(e);
            fail(c, "expected a number >= 0");
            return HT_EINVAL;
        }
        if (p == HT_P_CHOROPLETH_COLORS || p == HT_P_HOTSPOT_COLORS) {
            size_t need = p == HT_P_HOTSPOT_COLORS ? 7 : 0;
            bool ok = e->k == E_LIT && e->lit.type == HT_VAL_ARRAY &&
                      (need ? e->lit.nitems == need
                            : e->lit.nitems >= 2 && e->lit.nitems <= 12);
            for (size_t i = 0; ok && i < e->lit.nitems; i++) {
                ht_rgba col;
                ok = ht_style_parse_color(e->lit.items[i].s, &col, NULL) ==
                     HT_OK;
            }
            if (!ok) {
                expr_free(e);
                fail(c, need ? "expected 7 colours (3 cold, neutral, 3 hot)"
                             : "expected 2 to 12 colours");
                return HT_EINVAL;
            }
        }
        if (p == HT_P_HEATMAP_REFERENCE_DAYS &&
            (e->k != E_LIT || !(e->lit.n >= 1 && e->lit.n <= 3660))) {
            expr_free(e);
            fail(c, "expected a number of days in 1..3660");
            return HT_EINVAL;
        }
        if ((p == HT_P_HEATMAP_RADIUS || p == HT_P_HEATMAP_SCALE) &&
            (e->k != E_LIT || e->lit.n < 0 ||
             (p == HT_P_HEATMAP_RADIUS && (e->lit.n < 1 || e->lit.n > 5000)))) {
            expr_free(e);
            fail(c, p == HT_P_HEATMAP_RADIUS
                        ? "expected a number of metres in 1..5000"
                        : "expected a number >= 0 (0: auto)");
            return HT_EINVAL;
        }
        if (e->feature && !d->data) {
            expr_free(e);
            fail(c, "cannot depend on feature properties");
            return HT_EINVAL;
        }
        l->props[p] = e;
        l->zoom_only[p] = !e->feature;
    }
    c->path[base] = '\0';
    return HT_OK;
}

/* A layer's metadata "hutong:legend": {"title": T} names its legend; a
 * circle layer's is {"title": T, "property": P,
 * "stops": [v0, v1, ...] (2 to 8 rising numbers), optionally "size":
 * {"property": Q, "values": [1 to 4 numbers]}}. */
static ht_status load_layer_legend(cctx *c, ht_style_layer *l, json_t *meta,
                                   size_t base) {
    json_t *lg = json_object_get(meta, "hutong:legend");
    if (!lg) {
        return HT_OK;
    }
    snprintf(c->path + base, sizeof c->path - base, ".metadata.hutong:legend");
    const char *title = json_string_value(json_object_get(lg, "title"));
    const char *prop = json_string_value(json_object_get(lg, "property"));
    json_t *stops = json_object_get(lg, "stops");
    if (l->type != HT_LAYER_CIRCLE) {
        /* the other legends draw themselves: a title of their own */
        if (!json_is_object(lg) || !title || !*title ||
            json_object_size(lg) != 1) {
            fail(c,
                 "a layer other than a circle layer takes only "
                 "{\"title\": text}");
            return HT_EINVAL;
        }
        if (!(l->legend_title = strdup(title))) {
            fail(c, "out of memory");
            return HT_ENOMEM;
        }
        c->path[base] = '\0';
        return HT_OK;
    }
    if (!json_is_object(lg) || !title || !*title || !prop || !*prop ||
        !json_is_array(stops) || json_array_size(stops) < 2 ||
        json_array_size(stops) > 8) {
        fail(c,
             "expected {\"title\": text, \"property\": name, "
             "\"stops\": 2 to 8 numbers}");
        return HT_EINVAL;
    }
    for (size_t i = 0; i < json_array_size(stops); i++) {
        json_t *v = json_array_get(stops, i);
        if (!json_is_number(v) ||
            (i > 0 && json_number_value(v) <= l->legend_stops[i - 1])) {
            fail(c, "stops must be rising numbers");
            return HT_EINVAL;
        }
        l->legend_stops[i] = json_number_value(v);
    }
    l->nlegend_stops = (int)json_array_size(stops);
    json_t *size = json_object_get(lg, "size");
    const char *sprop = json_string_value(json_object_get(size, "property"));
    json_t *vals = json_object_get(size, "values");
    if (size && (!sprop || !*sprop || !json_is_array(vals) ||
                 json_array_size(vals) < 1 || json_array_size(vals) > 4)) {
        fail(c,
             "\"size\" is {\"property\": name, \"values\": 1 to 4 "
             "numbers}");
        return HT_EINVAL;
    }
    for (size_t i = 0; size && i < json_array_size(vals); i++) {
        json_t *v = json_array_get(vals, i);
        if (!json_is_number(v)) {
            fail(c, "\"size\" values must be numbers");
            return HT_EINVAL;
        }
        l->legend_sizes[i] = json_number_value(v);
    }
    l->nlegend_sizes = size ? (int)json_array_size(vals) : 0;
    if ((size && !(l->legend_size_prop = strdup(sprop))) ||
        !(l->legend_title = strdup(title)) ||
        !(l->legend_prop = strdup(prop))) {
        fail(c, "out of memory");
        return HT_ENOMEM;
    }
    c->path[base] = '\0';
    return HT_OK;
}

static ht_status load_layer(cctx *c, ht_style_layer *l, json_t *j) {
    static const char *const types[HT_LAYER_TYPE_COUNT] = {
        "background", "fill",        "line",       "circle", "symbol",
        "heatmap",    "street-heat", "choropleth", "hotspot"};
    static const char *const sources[] = {"", "grids", "streets", "incidents"};
    static const char *const keys[] = {"id",     "type",    "source",
                                       "filter", "minzoom", "maxzoom",
                                       "paint",  "layout",  "metadata"};
    if (!json_is_object(j)) {
        fail(c, "a layer must be an object");
        return HT_EINVAL;
    }
    size_t base = strlen(c->path);
    const char *key;
    json_t *val;
    json_object_foreach(j, key, val) {
        bool known = false;
        for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
            known = known || strcmp(keys[i], key) == 0;
        }
        if (!known) {
            snprintf(c->path + base, sizeof c->path - base, ".%s", key);
            fail(c, "unknown layer member");
            return HT_EINVAL;
        }
    }
    const char *id = json_string_value(json_object_get(j, "id"));
    const char *type = json_string_value(json_object_get(j, "type"));
    if (!id || !*id) {
        fail(c, "a layer needs a string \"id\"");
        return HT_EINVAL;
    }
    if (!(l->id = strdup(id))) {
        fail(c, "out of memory");
        return HT_ENOMEM;
    }
    int t = -1;
    for (int i = 0; type && i < HT_LAYER_TYPE_COUNT; i++) {
        if (strcmp(types[i], type) == 0) {
            t = i;
        }
    }
    if (t < 0) {
        snprintf(c->path + base, sizeof c->path - base, ".type");
        fail(c,
             "unknown layer type \"%s\" (expected background, fill, "
             "line, circle or symbol)",
             type ? type : "");
        return HT_EINVAL;
    }
    l->type = (ht_layer_type)t;
    json_t *src = json_object_get(j, "source");
    if (l->type == HT_LAYER_BACKGROUND) {
        if (src) {
            snprintf(c->path + base, sizeof c->path - base, ".source");
            fail(c, "a background layer has no source");
            return HT_EINVAL;
        }
    } else {
        const char *s = json_string_value(src);
        int k = -1;
        for (int i = 1; s && i < 4; i++) {
            if (strcmp(sources[i], s) == 0) {
                k = i;
            }
        }
        if (k < 0) {
            snprintf(c->path + base, sizeof c->path - base, ".source");
            fail(c, "source must be \"grids\", \"streets\" or \"incidents\"");
            return HT_EINVAL;
        }
        l->source = (ht_source_kind)k;
        static const ht_source_kind needs[HT_LAYER_TYPE_COUNT] = {
            [HT_LAYER_HEATMAP] = HT_SOURCE_INCIDENTS,
            [HT_LAYER_STREET_HEAT] = HT_SOURCE_STREETS,
            [HT_LAYER_CHOROPLETH] = HT_SOURCE_GRIDS,
            [HT_LAYER_HOTSPOT] = HT_SOURCE_GRIDS};
        if (needs[l->type] && l->source != needs[l->type]) {
            static const char *const names[] = {"", "grids", "streets",
                                                "incidents"};
            snprintf(c->path + base, sizeof c->path - base, ".source");
            fail(c, "this layer type reads \"%s\"", names[needs[l->type]]);
            return HT_EINVAL;
        }
    }
    l->minzoom = 0;
    l->maxzoom = 24;
    const char *zk[2] = {"minzoom", "maxzoom"};
    for (int z = 0; z < 2; z++) {
        json_t *v = json_object_get(j, zk[z]);
        if (!v) {
            continue;
        }
        if (!json_is_number(v) || json_number_value(v) < 0 ||
            json_number_value(v) > 24) {
            snprintf(c->path + base, sizeof c->path - base, ".%s", zk[z]);
            fail(c, "expected a number in 0..24");
            return HT_EINVAL;
        }
        *(z ? &l->maxzoom : &l->minzoom) = json_number_value(v);
    }
    json_t *filter = json_object_get(j, "filter");
    if (filter) {
        snprintf(c->path + base, sizeof c->path - base, ".filter");
        c->filter = true;
        l->filter = compile(c, filter, T_BOOL);
        c->filter = false;
        if (!l->filter) {
            return HT_EINVAL;
        }
        c->path[base] = '\0';
    }
    ht_status st = load_props(c, l, json_object_get(j, "paint"), false);
    if (st == HT_OK) {
        st = load_props(c, l, json_object_get(j, "layout"), true);
    }
    if (st == HT_OK) {
        st = load_layer_legend(c, l, json_object_get(j, "metadata"), base);
    }
    if (st == HT_OK && l->type == HT_LAYER_CHOROPLETH) {
        char buf[16];
        double b[16];
        const char *cols[16];
        size_t nb = ht_style_numbers(l, HT_P_CHOROPLETH_BREAKS, 0, b, 16);
        size_t nc = ht_style_strings(l, HT_P_CHOROPLETH_COLORS, 0, cols, 16);
        bool fixed = strcmp(ht_style_string(l, HT_P_CHOROPLETH_CLASSES, 0, NULL,
                                            NULL, buf, sizeof buf),
                            "fixed") == 0;
        if (fixed && (nc ? nc : 5) != nb + 1) {
            snprintf(c->path + base, sizeof c->path - base,
                     ".paint.choropleth-breaks");
            fail(c, "fixed classes need one break fewer than colours");
            return HT_EINVAL;
        }
    }
    return st;
}

/* A style whose metadata names "hutong:labels-of": BASE takes the symbol
 * (text) layers of the shipped style BASE as its own: labels to lay over
 * a heat layer, placed exactly where BASE places them. */
static ht_status labels_of(const char *name, json_t *root, ht_error *err) {
    json_t *meta = json_object_get(root, "metadata");
    const char *base =
        json_string_value(json_object_get(meta, "hutong:labels-of"));
    if (!json_is_object(root) || !json_object_get(meta, "hutong:labels-of")) {
        return HT_OK;
    }
    if (!base || !*base || json_object_get(root, "layers")) {
        return ht_error_set(err, HT_EINVAL,
                            "%s: metadata.hutong:labels-of names a shipped "
                            "style, and the style has no layers of its own",
                            name);
    }
    for (const char *p = base; *p; p++) {
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_') {
            return ht_error_set(err, HT_EINVAL, "%s: bad style name \"%s\"",
                                name, base);
        }
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.json", ht_style_dir(), base);
    json_error_t jerr;
    json_t *b = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    json_t *from = json_object_get(b, "layers");
    json_t *meta_b = json_object_get(b, "metadata");
    if (!json_is_array(from) || json_object_get(meta_b, "hutong:labels-of")) {
        json_decref(b);
        return ht_error_set(err, HT_EINVAL,
                            "%s: no shipped style \"%s\" to take labels of",
                            name, base);
    }
    json_t *keep = json_array();
    size_t i;
    json_t *l;
    json_array_foreach(from, i, l) {
        const char *t = json_string_value(json_object_get(l, "type"));
        if (t && strcmp(t, "symbol") == 0) {
            json_array_append(keep, l);
        }
    }
    json_decref(b);
    json_object_set_new(root, "layers", keep);
    return HT_OK;
}

ht_status ht_style_load_json(const char *name, const char *json, size_t len,
                             ht_style **out, ht_error *err) {
    *out = NULL;
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        return ht_error_set(err, HT_EINVAL,
                            "%s: line %d, column %d: malformed JSON: %s", name,
                            jerr.line, jerr.column, jerr.text);
    }
    cctx c = {.file = name, .err = err};
    ht_style *s = calloc(1, sizeof *s);
    ht_status st = s ? HT_OK : ht_error_set(err, HT_ENOMEM, "out of memory");
    if (st == HT_OK) {
        st = labels_of(name, root, err);
    }
    if (st == HT_OK) {
        st = style_filter(name, root, s, err);
        if (st == HT_OK) {
            st = style_grids(name, root, s, err);
        }
    }
    json_t *layers = json_object_get(root, "layers");
    if (st == HT_OK && (!json_is_object(root) || !json_is_array(layers) ||
                        json_array_size(layers) == 0)) {
        snprintf(c.path, sizeof c.path, "layers");
        fail(&c, "a style needs a non-empty \"layers\" array");
        st = HT_EINVAL;
    }
    const char *key;
    json_t *val;
    if (st == HT_OK) {
        json_object_foreach(root, key, val) {
            static const char *const top[] = {"version", "name", "layers",
                                              "metadata", "sources"};
            bool known = false;
            for (size_t i = 0; i < sizeof top / sizeof *top; i++) {
                known = known || strcmp(top[i], key) == 0;
            }
            if (!known) {
                snprintf(c.path, sizeof c.path, "%s", key);
                fail(&c,
                     "unknown member (hutong reads version, name, "
                     "layers, sources, metadata)");
                st = HT_EINVAL;
                break;
            }
        }
    }
    json_t *version = json_object_get(root, "version");
    if (st == HT_OK && version &&
        !(json_is_integer(version) && json_integer_value(version) == 8)) {
        snprintf(c.path, sizeof c.path, "version");
        fail(&c, "only version 8 styles are read");
        st = HT_EINVAL;
    }
    if (st == HT_OK) {
        atomic_init(&s->refs, 1);
        const char *n = json_string_value(json_object_get(root, "name"));
        if (!n) {
            n = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
        }
        s->name = strdup(n);
        char *dot = s->name ? strrchr(s->name, '.') : NULL;
        if (dot && strcmp(dot, ".json") == 0) {
            *dot = '\0';
        }
        s->nlayers = json_array_size(layers);
        s->layers = calloc(s->nlayers, sizeof *s->layers);
        if (!s->name || !s->layers) {
            st = ht_error_set(err, HT_ENOMEM, "out of memory");
        }
    }
    for (size_t i = 0; st == HT_OK && i < s->nlayers; i++) {
        snprintf(c.path, sizeof c.path, "layers[%zu]", i);
        st = load_layer(&c, &s->layers[i], json_array_get(layers, i));
        for (size_t k = 0; st == HT_OK && k < i; k++) {
            if (strcmp(s->layers[k].id, s->layers[i].id) == 0) {
                fail(&c, "layer id \"%s\" is used twice", s->layers[i].id);
                st = HT_EINVAL;
            }
        }
    }
    json_decref(root);
    if (st != HT_OK) {
        if (s && !atomic_load(&s->refs)) {
            atomic_init(&s->refs, 1);
        }
        ht_style_unref(s);
        return st;
    }
    *out = s;
    return HT_OK;
}

ht_status ht_style_load_file(const char *path, ht_style **out, ht_error *err) {
    *out = NULL;
    ht_buf *b = ht_buf_new();
    if (!b) {
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    ht_status st = ht_buf_read_file(b, path, err);
    if (st == HT_OK) {
        st = ht_style_load_json(path, (const char *)b->data, b->len, out, err);
    }
    ht_buf_free(b);
    return st;
}

/* ---- typed evaluation ---- */

static ht_value eval_prop(const ht_style_layer *l, ht_prop p, double zoom,
                          ht_style_get_fn get, const void *f, char *buf,
                          size_t size, bool *set) {
    *set = l->props[p] != NULL;
    if (!*set) {
        return (ht_value){0};
    }
    ectx x = {.zoom = zoom, .get = get, .feature = f, .buf = buf, .size = size};
    return eval(l->props[p], &x);
}

double ht_style_number(const ht_style_layer *l, ht_prop p, double zoom,
                       ht_style_get_fn get, const void *feature) {
    bool set;
    ht_value v = eval_prop(l, p, zoom, get, feature, NULL, 0, &set);
    return set && v.type == HT_VAL_NUMBER ? v.n : props[p].dnum;
}

ht_rgba ht_style_color(const ht_style_layer *l, ht_prop p, double zoom,
                       ht_style_get_fn get, const void *feature) {
    bool set;
    ht_value v = eval_prop(l, p, zoom, get, feature, NULL, 0, &set);
    ht_rgba c = {0, 0, 0, 1};
    if (set && v.type == HT_VAL_COLOR) {
        return v.c;
    }
    if (set && v.type == HT_VAL_STRING &&
        ht_style_parse_color(v.s, &c, NULL) == HT_OK) {
        return c; /* a colour read from a property */
    }
    ht_style_parse_color(props[p].dstr, &c, NULL);
    return c;
}

bool ht_style_bool(const ht_style_layer *l, ht_prop p, double zoom,
                   ht_style_get_fn get, const void *feature) {
    bool set;
    ht_value v = eval_prop(l, p, zoom, get, feature, NULL, 0, &set);
    return set && v.type == HT_VAL_BOOL ? v.b : props[p].dnum != 0;
}

const char *ht_style_string(const ht_style_layer *l, ht_prop p, double zoom,
                            ht_style_get_fn get, const void *feature, char *buf,
                            size_t size) {
    bool set;
    ht_value v = eval_prop(l, p, zoom, get, feature, buf, size, &set);
    if (set && v.type == HT_VAL_STRING) {
        return v.s;
    }
    if (set && v.type == HT_VAL_NUMBER && buf && size) {
        snprintf(buf, size, "%.15g", v.n);
        return buf;
    }
    return props[p].dstr ? props[p].dstr : "";
}

size_t ht_style_numbers(const ht_style_layer *l, ht_prop p, double zoom,
                        double *out, size_t max) {
    bool set;
    ht_value v = eval_prop(l, p, zoom, NULL, NULL, NULL, 0, &set);
    size_t n = 0;
    for (size_t i = 0; set && v.type == HT_VAL_ARRAY && i < v.nitems && n < max;
         i++) {
        if (v.items[i].type == HT_VAL_NUMBER) {
            out[n++] = v.items[i].n;
        }
    }
    return n;
}

size_t ht_style_strings(const ht_style_layer *l, ht_prop p, double zoom,
                        const char **out, size_t max) {
    bool set;
    ht_value v = eval_prop(l, p, zoom, NULL, NULL, NULL, 0, &set);
    size_t n = 0;
    for (size_t i = 0; set && v.type == HT_VAL_ARRAY && i < v.nitems && n < max;
         i++) {
        if (v.items[i].type == HT_VAL_STRING) {
            out[n++] = v.items[i].s;
        }
    }
    return n;
}

bool ht_style_filter(const ht_style_layer *l, double zoom, ht_style_get_fn get,
                     const void *feature) {
    if (!l->filter) {
        return true;
    }
    ectx x = {.zoom = zoom, .get = get, .feature = feature};
    ht_value v = eval(l->filter, &x);
    return v.type == HT_VAL_BOOL && v.b;
}

bool ht_style_layer_visible(const ht_style_layer *l, double zoom) {
    char buf[16];
    const char *vis =
        ht_style_string(l, HT_P_VISIBILITY, zoom, NULL, NULL, buf, sizeof buf);
    return strcmp(vis, "none") != 0 && zoom >= l->minzoom && zoom < l->maxzoom;
}

const char *ht_style_dir(void) {
    const char *env = getenv("HUTONG_STYLES");
    return env && *env ? env : HT_STYLES_DIR;
}

ht_status ht_style_load(const char *name_or_path, ht_style **out,
                        ht_error *err) {
    size_t n = strlen(name_or_path);
    if (strchr(name_or_path, '/') ||
        (n > 5 && strcmp(name_or_path + n - 5, ".json") == 0)) {
        return ht_style_load_file(name_or_path, out, err);
    }
    for (const char *p = name_or_path; *p; p++) {
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_') {
            *out = NULL;
            return ht_error_set(err, HT_EINVAL, "bad style name \"%s\"",
                                name_or_path);
        }
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.json", ht_style_dir(), name_or_path);
    ht_status st = ht_style_load_file(path, out, err);
    if (st == HT_EIO) {
        return ht_error_set(err, HT_EINVAL, "no style \"%s\" in %s",
                            name_or_path, ht_style_dir());
    }
    return st;
}

ht_rgba ht_style_heat_color(const ht_style_layer *l, double zoom, double value,
                            double top) {
    return ht_style_ramp_color(l, HT_P_HEATMAP_COLOR, zoom, value, top);
}

ht_rgba ht_style_ramp_color(const ht_style_layer *l, ht_prop p, double zoom,
                            double value, double top) {
    double d = top > 0 ? fmin(value / top, 1) : 0;
    if (!l->props[p]) {
        /* MapLibre's default ramp */
        static const double stops[][5] = {
            {0, 0, 0, 1, 0},   {0.1, 65 / 255.0, 105 / 255.0, 225 / 255.0, 1},
            {0.3, 0, 1, 1, 1}, {0.5, 0, 1, 0, 1},
            {0.7, 1, 1, 0, 1}, {1, 1, 0, 0, 1}};
        size_t i = 0;
        while (i + 2 < sizeof stops / sizeof *stops && d > stops[i + 1][0]) {
            i++;
        }
        double t = (d - stops[i][0]) / (stops[i + 1][0] - stops[i][0]);
        t = fmin(fmax(t, 0), 1);
        ht_rgba c;
        double *ch[4] = {&c.r, &c.g, &c.b, &c.a};
        for (int k = 0; k < 4; k++) {
            *ch[k] =
                stops[i][k + 1] + (stops[i + 1][k + 1] - stops[i][k + 1]) * t;
        }
        return c;
    }
    ectx x = {.zoom = zoom, .heat_density = d, .heat_value = value};
    ht_value v = eval(l->props[p], &x);
    ht_rgba c = {0, 0, 0, 0};
    if (v.type == HT_VAL_COLOR) {
        return v.c;
    }
    return c;
}
