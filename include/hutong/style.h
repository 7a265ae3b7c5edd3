/* SPDX-License-Identifier: Apache-2.0 */
/* Map styles: a subset of the MapLibre style specification. */
#ifndef HUTONG_STYLE_H
#define HUTONG_STYLE_H

#include <stdbool.h>
#include <stddef.h>

#include "hutong/error.h"
#include "hutong/filter.h"

/** A colour with straight (not premultiplied) alpha, channels 0..1. */
typedef struct ht_rgba {
    double r, g, b, a;
} ht_rgba;

/** Parse a CSS colour: #rgb, #rgba, #rrggbb, #rrggbbaa, rgb(), rgba(),
 * hsl(), hsla() or a few names (black, white, transparent, red, ...). */
ht_status ht_style_parse_color(const char *s, ht_rgba *out, ht_error *err);

/** Value types of expressions. */
typedef enum ht_value_type {
    HT_VAL_NULL = 0,
    HT_VAL_BOOL,
    HT_VAL_NUMBER,
    HT_VAL_STRING,
    HT_VAL_COLOR,
    HT_VAL_ARRAY
} ht_value_type;

/** A value. Strings and arrays are borrowed (from the style or the
 * feature) and live as long as their owner. */
typedef struct ht_value {
    ht_value_type type;
    bool b;
    double n;
    const char *s;
    ht_rgba c;
    const struct ht_value *items;
    size_t nitems;
} ht_value;

/** How expressions read a feature's properties: fill @out and return true,
 * or return false when the feature has no such property. */
typedef bool (*ht_style_get_fn)(const void *feature, const char *name,
                                ht_value *out);

/** Layer types. */
typedef enum ht_layer_type {
    HT_LAYER_BACKGROUND = 0,
    HT_LAYER_FILL,
    HT_LAYER_LINE,
    HT_LAYER_CIRCLE,
    HT_LAYER_SYMBOL,
    HT_LAYER_HEATMAP,
    HT_LAYER_STREET_HEAT,
    HT_LAYER_CHOROPLETH,
    HT_LAYER_HOTSPOT,
    HT_LAYER_TYPE_COUNT
} ht_layer_type;

/** Where a layer's features come from. */
typedef enum ht_source_kind {
    HT_SOURCE_NONE = 0, /* background */
    HT_SOURCE_GRIDS,
    HT_SOURCE_STREETS,
    HT_SOURCE_INCIDENTS
} ht_source_kind;

/** Every paint and layout property hutong understands. */
typedef enum ht_prop {
    HT_P_VISIBILITY = 0,
    HT_P_BACKGROUND_COLOR,
    HT_P_BACKGROUND_OPACITY,
    HT_P_FILL_COLOR,
    HT_P_FILL_OPACITY,
    HT_P_FILL_OUTLINE_COLOR,
    HT_P_LINE_COLOR,
    HT_P_LINE_WIDTH,
    HT_P_LINE_OPACITY,
    HT_P_LINE_DASHARRAY,
    HT_P_LINE_CAP,
    HT_P_LINE_JOIN,
    HT_P_CIRCLE_RADIUS,
    HT_P_CIRCLE_COLOR,
    HT_P_CIRCLE_OPACITY,
    HT_P_CIRCLE_STROKE_WIDTH,
    HT_P_CIRCLE_STROKE_COLOR,
    HT_P_TEXT_FIELD,
    HT_P_TEXT_SIZE,
    HT_P_TEXT_FONT,
    HT_P_SYMBOL_PLACEMENT,
    HT_P_TEXT_ALLOW_OVERLAP,
    HT_P_TEXT_PADDING,
    HT_P_SYMBOL_SPACING,
    HT_P_TEXT_COLOR,
    HT_P_TEXT_HALO_COLOR,
    HT_P_TEXT_HALO_WIDTH,
    HT_P_TEXT_OPACITY,
    HT_P_HEATMAP_RADIUS,
    HT_P_HEATMAP_KERNEL,
    HT_P_HEATMAP_WEIGHT,
    HT_P_HEATMAP_COLOR,
    HT_P_HEATMAP_OPACITY,
    HT_P_HEATMAP_SCALE,
    HT_P_HEATMAP_UNIT,
    HT_P_HEATMAP_REFERENCE_DAYS,
    HT_P_STREET_HEAT_COLOR,
    HT_P_STREET_HEAT_WIDTH,
    HT_P_STREET_HEAT_OPACITY,
    HT_P_STREET_HEAT_SCALE,
    HT_P_CHOROPLETH_METRIC,
    HT_P_CHOROPLETH_CLASSES,
    HT_P_CHOROPLETH_BREAKS,
    HT_P_CHOROPLETH_COLORS,
    HT_P_CHOROPLETH_OPACITY,
    HT_P_CHOROPLETH_OUTLINE_COLOR,
    HT_P_HOTSPOT_NEIGHBOURS,
    HT_P_HOTSPOT_DISTANCE,
    HT_P_HOTSPOT_COLORS,
    HT_P_HOTSPOT_OPACITY,
    HT_P_HOTSPOT_OUTLINE_COLOR,
    HT_P_COUNT
} ht_prop;

/** A compiled expression (opaque). */
typedef struct ht_expr ht_expr;

/** One layer of a style. Read-only once loaded. */
typedef struct ht_style_layer {
    char *id;
    ht_layer_type type;
    ht_source_kind source;
    double minzoom;             /**< shown from this zoom on (inclusive) */
    double maxzoom;             /**< hidden from this zoom on (exclusive) */
    ht_expr *filter;            /**< NULL: every feature */
    ht_expr *props[HT_P_COUNT]; /**< NULL: the property's default */
    /** true when props[p] depends on zoom at most (not on features), so a
     * renderer may evaluate it once per image */
    bool zoom_only[HT_P_COUNT];
    /** metadata "hutong:legend": a legend's own title; and of a circle
     * layer (NULL title: none) a
     * colour ramp of circle-color over property @legend_prop from the
     * first to the last of @legend_stops, ticked at each; and optionally
     * circles of circle-radius for values of @legend_size_prop */
    char *legend_title;
    char *legend_prop;
    double legend_stops[8];
    int nlegend_stops;
    char *legend_size_prop;
    double legend_sizes[4];
    int nlegend_sizes;
} ht_style_layer;

/** A loaded style: immutable and reference counted, so one style may be
 * shared by every thread. */
typedef struct ht_style ht_style;

/**
 * Load a style from JSON text; @name stands for the file in messages.
 * Everything is checked at load: an unknown layer type, source or
 * property, a value of the wrong type, an unparsable colour, an expression
 * with the wrong arguments, malformed JSON. HT_EINVAL names the file, the
 * JSON path ("layers[2].paint.line-width") and the reason; *out is NULL on
 * error. The new style has one reference.
 */
ht_status ht_style_load_json(const char *name, const char *json, size_t len,
                             ht_style **out, ht_error *err);

/** The folder of shipped styles: $HUTONG_STYLES when set, else the source
 * tree's styles/ as configured at build time. Never NULL. */
const char *ht_style_dir(void);

/**
 * Load a style by name ("default": ht_style_dir()/default.json) or by path
 * (anything with a '/' or ending in .json). As ht_style_load_file.
 */
ht_status ht_style_load(const char *name_or_path, ht_style **out,
                        ht_error *err);

/** As ht_style_load_json, reading the file at @path. */
ht_status ht_style_load_file(const char *path, ht_style **out, ht_error *err);

/** Take a reference. Thread-safe. */
ht_style *ht_style_ref(ht_style *s);

/** Drop a reference, freeing the style at zero; NULL is a no-op.
 * Thread-safe. */
void ht_style_unref(ht_style *s);

/** The style's name (its "name" member, else the file's base name). */
const char *ht_style_name(const ht_style *s);

/** Whether @s's metadata sets filter parameters ("hutong:filter", e.g.
 * {"overdue": "1"} for a picture of the incidents late now). */
bool ht_style_has_filter(const ht_style *s);

/** Whether @s's metadata asks a server to keep its heat layers' density
 * grids per class only once they are asked for ("hutong:density-grids":
 * "on-demand"; "at-start" by default). */
bool ht_style_grids_on_demand(const ht_style *s);

/** Add @s's filter parameters to @f (at @now, for "overdue", unless @f
 * already has an "overdue" time: applying twice is applying once). */
ht_status ht_style_apply_filter(const ht_style *s, ht_filter *f, int64_t now,
                                ht_error *err);

/** Number of layers, and layer @i (0 = drawn first). */
size_t ht_style_layer_count(const ht_style *s);
const ht_style_layer *ht_style_layer_at(const ht_style *s, size_t i);

/** The JSON name of a property ("line-width"). */
const char *ht_style_prop_name(ht_prop p);

/**
 * Evaluate property @p of @l at @zoom for a feature (@get may be NULL for
 * zoom-only properties). Never fails: a missing property, or a runtime
 * type mismatch (a "get" of the wrong type), gives the default, as in
 * MapLibre. Strings are borrowed from the style or the feature.
 */
double ht_style_number(const ht_style_layer *l, ht_prop p, double zoom,
                       ht_style_get_fn get, const void *feature);
ht_rgba ht_style_color(const ht_style_layer *l, ht_prop p, double zoom,
                       ht_style_get_fn get, const void *feature);
bool ht_style_bool(const ht_style_layer *l, ht_prop p, double zoom,
                   ht_style_get_fn get, const void *feature);
/** A string property (text-field, enums); @buf (size >= 256) holds text
 * built by the expression, such as "{code} {name}" substitutions. */
const char *ht_style_string(const ht_style_layer *l, ht_prop p, double zoom,
                            ht_style_get_fn get, const void *feature, char *buf,
                            size_t size);
/** A number-array property (line-dasharray): up to @max values into @out,
 * returning how many (0 for none). */
size_t ht_style_numbers(const ht_style_layer *l, ht_prop p, double zoom,
                        double *out, size_t max);

/** A string-array property (text-font): up to @max borrowed strings into
 * @out, returning how many (0 for none). */
size_t ht_style_strings(const ht_style_layer *l, ht_prop p, double zoom,
                        const char **out, size_t max);

/**
 * The colour of heatmap-color for a density @value (incidents/km2) on a
 * scale whose top is @top (heatmap-density = value / top, clamped to 1).
 */
ht_rgba ht_style_heat_color(const ht_style_layer *l, double zoom, double value,
                            double top);

/**
 * The colour of a heat-like property @p (heatmap-color, street-heat-color)
 * at @value on a scale of top @top; as ht_style_heat_color.
 */
ht_rgba ht_style_ramp_color(const ht_style_layer *l, ht_prop p, double zoom,
                            double value, double top);

/** True when the layer's filter accepts the feature (no filter: true). */
bool ht_style_filter(const ht_style_layer *l, double zoom, ht_style_get_fn get,
                     const void *feature);

/** True when the layer is visible at @zoom (visibility, min/maxzoom). */
bool ht_style_layer_visible(const ht_style_layer *l, double zoom);

#endif
