/* SPDX-License-Identifier: Apache-2.0 */
/* OGC WMTS 1.0.0: tile matrix sets, KVP and RESTful requests,
 * capabilities, exception reports. */
#ifndef HUTONG_WMTS_H
#define HUTONG_WMTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hutong/error.h"
#include "hutong/filter.h"
#include "hutong/geom.h"
#include "hutong/render.h"
#include "hutong/wms.h"

#define HT_WMTS_TILE 256 /**< tile width and height, pixels */

/** A tile matrix set: square tiles of HT_WMTS_TILE px, each level half
 * the last's pixel size, from one top-left corner. */
typedef struct ht_wmts_set {
    const char *id, *title;
    const char *crs;        /**< "EPSG:3857", "EPSG:4490" */
    const char *well_known; /**< the well-known scale set's URN, or NULL */
    int first, last;        /**< the levels' identifiers */
    double left, top;       /**< the top-left corner: x (east), y (north) */
    double res0;            /**< CRS units per pixel at level @first */
    double metres_per_unit;
    uint32_t width0, height0; /**< tiles across and down at level @first */
} ht_wmts_set;

/** The sets served: GoogleMapsCompatible (EPSG:3857, levels 0..22), and
 * Tianditu's "w" (EPSG:3857) and "c" (CGCS2000 longitude/latitude,
 * EPSG:4490), levels 1..20, the same grid and numbering as Tianditu's. */
extern const ht_wmts_set ht_wmts_sets[];
extern const size_t ht_wmts_nsets;

/** The set named @id (case-sensitive, as WMTS identifiers are), or NULL. */
const ht_wmts_set *ht_wmts_set_find(const char *id);

/** The scale denominator of @level of @s (a 0.28 mm pixel). */
double ht_wmts_scale_denominator(const ht_wmts_set *s, int level);

/** Tiles across and down at @level. */
void ht_wmts_matrix_size(const ht_wmts_set *s, int level, uint32_t *width,
                         uint32_t *height);

/**
 * The box of tile (@level, @row, @col) of @s in its CRS's x, y (easting,
 * northing / longitude, latitude). HT_EINVAL, naming the part, when the
 * level or the row or the column is outside the set.
 */
ht_status ht_wmts_tile_bbox(const ht_wmts_set *s, int level, uint32_t row,
                            uint32_t col, ht_bbox *out, ht_error *err);

typedef enum ht_wmts_op {
    HT_WMTS_GET_CAPABILITIES = 0,
    HT_WMTS_GET_TILE,
    HT_WMTS_GET_FEATURE_INFO
} ht_wmts_op;

/** A parsed request. */
typedef struct ht_wmts_req {
    ht_wmts_op op;
    char layer[65];
    const ht_wmts_set *set;
    int level;
    uint32_t row, col;
    ht_image_format format;
    int i, j;             /**< GetFeatureInfo's pixel in the tile */
    char info_format[32]; /**< application/json, text/html, text/plain... */
    ht_filter filter;     /**< vendor parameters: the filters */
} ht_wmts_req;

/**
 * Parse the @n KVP parameters (keys case-insensitive; the filters as
 * vendor parameters). On error, @code gets the OWS exception code
 * (MissingParameterValue, InvalidParameterValue, OperationNotSupported,
 * TileOutOfRange...), @locator the parameter at fault and @err the
 * message; HT_EINVAL.
 */
ht_status ht_wmts_parse(const char *const *keys, const char *const *values,
                        size_t n, int64_t now, ht_wmts_req *out, char code[40],
                        char locator[40], ht_error *err);

/**
 * Parse the RESTful path after "/wmts/1.0.0/" (the filters come from the
 * query, given as @filter): "WMTSCapabilities.xml",
 * "{layer}/{style}/{set}/{level}/{row}/{col}.{png|jpg|webp}" or
 * "{layer}/{style}/{set}/{level}/{row}/{col}/{j}/{i}.{json|html|txt|gml}".
 * Errors as ht_wmts_parse.
 */
ht_status ht_wmts_parse_rest(const char *path, const ht_filter *filter,
                             ht_wmts_req *out, char code[40], char locator[40],
                             ht_error *err);

/** The OWS 1.1 exception report (malloc'd) for @code at @locator (may be
 * empty) saying @msg. */
char *ht_wmts_exception(const char *code, const char *locator, const char *msg);

/** The HTTP status an exception @code answers with. */
unsigned ht_wmts_exception_status(const char *code);

/**
 * The capabilities document (malloc'd) for @base_url ("http://host"):
 * every layer of @layers in every set, KVP and RESTful. @extent is the
 * data's box in lon/lat; @contact (NULL: none) who answers for it.
 */
char *ht_wmts_capabilities(const char *base_url, const ht_wms_layer *layers,
                           size_t n, ht_bbox extent,
                           const ht_wms_contact *contact);

#endif
