/* SPDX-License-Identifier: Apache-2.0 */
/* Geometry values: points, boxes, lines and polygons, and WKB. */
#ifndef HUTONG_GEOM_H
#define HUTONG_GEOM_H

#include <stdbool.h>
#include <stddef.h>

#include "hutong/buf.h"
#include "hutong/error.h"

/** Pi, since strict C11 headers do not define M_PI. */
#define HT_PI 3.14159265358979323846

/** A coordinate pair, always x,y (lon,lat for geographic data). */
typedef struct ht_point {
    double x;
    double y;
} ht_point;

/** An axis-aligned box; empty when minx > maxx. */
typedef struct ht_bbox {
    double minx;
    double miny;
    double maxx;
    double maxy;
} ht_bbox;

/** Geometry types, numbered as in WKB. */
typedef enum ht_geom_type {
    HT_GEOM_POINT = 1,
    HT_GEOM_LINESTRING = 2,
    HT_GEOM_POLYGON = 3,
    HT_GEOM_MULTIPOINT = 4,
    HT_GEOM_MULTILINESTRING = 5,
    HT_GEOM_MULTIPOLYGON = 6
} ht_geom_type;

/**
 * A geometry in flat arrays. `pts` holds every vertex; part i (a point, a
 * line or a ring) is pts[parts[i] .. parts[i+1]) (the last part ends at
 * npts). For polygon types, polygon j is made of parts[polys[j] ..
 * polys[j+1]), its first ring the exterior. Read the fields freely; build
 * through the functions below.
 */
typedef struct ht_geom {
    ht_geom_type type;
    ht_point *pts;
    size_t npts;
    size_t cap_pts;
    size_t *parts;
    size_t nparts;
    size_t cap_parts;
    size_t *polys;
    size_t npolys;
    size_t cap_polys;
} ht_geom;

/** An empty box (minx > maxx). Cannot fail. */
ht_bbox ht_bbox_empty(void);

/** Grow @b to include (x, y). Cannot fail. */
void ht_bbox_add(ht_bbox *b, double x, double y);

/**
 * Parse "A,B,C,D": four finite numbers, separated by commas and nothing
 * else, with A < C and B < D, into @out as {A, B, C, D} (the caller knows
 * the axis order). HT_EINVAL says what is wrong, quoting the text.
 */
ht_status ht_bbox_parse(const char *text, ht_bbox *out, ht_error *err);

/** True when the boxes share at least one point. Cannot fail. */
bool ht_bbox_intersects(const ht_bbox *a, const ht_bbox *b);

/** A new empty geometry of @type, or NULL when out of memory. */
ht_geom *ht_geom_new(ht_geom_type type);

/** A deep copy of @g (exactly sized), or NULL when out of memory. */
ht_geom *ht_geom_clone(const ht_geom *g);

/** Free @g; NULL is a no-op. */
void ht_geom_free(ht_geom *g);

/** Empty @g and give it @type, keeping its storage. Cannot fail. */
void ht_geom_reset(ht_geom *g, ht_geom_type type);

/** Start a new polygon (polygon types only). HT_ENOMEM on failure. */
ht_status ht_geom_start_polygon(ht_geom *g, ht_error *err);

/** Start a new part: a point, a line or a ring. HT_ENOMEM on failure. */
ht_status ht_geom_start_part(ht_geom *g, ht_error *err);

/** Append a vertex to the current part. HT_ENOMEM on failure. */
ht_status ht_geom_add_point(ht_geom *g, double x, double y, ht_error *err);

/** Index one past the last vertex of part @i. Cannot fail. */
size_t ht_geom_part_end(const ht_geom *g, size_t i);

/** Index one past the last ring of polygon @j. Cannot fail. */
size_t ht_geom_poly_end(const ht_geom *g, size_t j);

/** Bounding box of all vertices (empty box for an empty geometry). */
ht_bbox ht_geom_bbox(const ht_geom *g);

/**
 * Check that @g is well formed: at least one part, finite coordinates,
 * lines of two or more vertices, rings of four or more that are closed.
 * HT_EINVAL names the part and the problem. Does not change @g.
 */
ht_status ht_geom_validate(const ht_geom *g, ht_error *err);

/**
 * Give polygons the right-hand orientation of RFC 7946 (exterior
 * counter-clockwise, holes clockwise) by reversing rings as needed.
 * Cannot fail.
 */
void ht_geom_orient(ht_geom *g);

/** Append @g as little-endian WKB to @out. HT_ENOMEM leaves @out as was. */
ht_status ht_geom_to_wkb(const ht_geom *g, ht_buf *out, ht_error *err);

/**
 * Parse WKB (either byte order, 2D types 1..6) into a new geometry owned by
 * the caller. HT_EINVAL for truncated or unsupported input, *out NULL.
 */
ht_status ht_geom_from_wkb(const void *data, size_t len, ht_geom **out,
                           ht_error *err);

/**
 * True when (x, y) is inside a polygon of @g (even-odd rule, so holes are
 * outside; points on an edge may go either way). False for non-polygons.
 */
bool ht_geom_contains(const ht_geom *g, double x, double y);

/**
 * True when @g meets the box @b: a vertex or a piece of a line or a ring
 * inside it (edges included), or, for polygons, the box inside one.
 */
bool ht_geom_meets_box(const ht_geom *g, const ht_bbox *b);

/**
 * A point strictly inside the polygonal geometry @g, on a horizontal line
 * through the middle of its largest polygon's box, in the widest interior
 * span. HT_EINVAL when @g has no area.
 */
ht_status ht_geom_interior_point(const ht_geom *g, ht_point *out,
                                 ht_error *err);

/**
 * Area in square metres of a lon/lat polygonal geometry on the WGS 84
 * authalic sphere (holes subtracted). 0 for other types. Cannot fail.
 */
double ht_geom_area_m2(const ht_geom *g);

/** Signed planar area of ring @i (positive counter-clockwise). */
double ht_geom_ring_signed_area(const ht_geom *g, size_t i);

#endif
