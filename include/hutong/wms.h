/* SPDX-License-Identifier: Apache-2.0 */
/* OGC WMS 1.3.0 and 1.1.1: request parsing, capabilities, exceptions. */
#ifndef HUTONG_WMS_H
#define HUTONG_WMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hutong/crs.h"
#include "hutong/error.h"
#include "hutong/filter.h"
#include "hutong/geom.h"
#include "hutong/render.h"
#include "hutong/style.h"

#define HT_WMS_MAX_SIZE 4096 /**< MaxWidth and MaxHeight */
#define HT_WMS_MAX_LAYERS 8

typedef enum ht_wms_op {
    HT_WMS_GET_CAPABILITIES = 0,
    HT_WMS_GET_MAP,
    HT_WMS_GET_FEATURE_INFO,
    HT_WMS_GET_LEGEND_GRAPHIC
} ht_wms_op;

/** A parsed request. The bbox is in the CRS's x, y (easting, northing /
 * longitude, latitude) order whatever the version's axis order. */
typedef struct ht_wms_req {
    ht_wms_op op;
    int version; /**< 130 or 111 */
    char layers[HT_WMS_MAX_LAYERS][65];
    int nlayers;
    char query_layers[HT_WMS_MAX_LAYERS][65]; /**< GetFeatureInfo's */
    int nquery;
    char crs[HT_CRS_NAME_SIZE];
    ht_bbox bbox;
    int width, height;
    bool transparent;
    ht_image_format format; /**< GetMap: PNG, JPEG or WebP */
    ht_rgba bgcolor;
    int i, j;             /**< GetFeatureInfo pixel (I/J or X/Y) */
    char info_format[32]; /**< application/json, text/html, text/plain */
    double scale;         /**< GetLegendGraphic: device pixels per px */
    ht_filter filter;     /**< vendor parameters: the filters */
} ht_wms_req;

/** GetFeatureInfo's GML (GML 2 features in a collection, x, y in the
 * request's CRS), as MapServer names it and QGIS asks for it. */
#define HT_WMS_GML "application/vnd.ogc.gml"

/** The CRSs served. */
extern const char *const ht_wms_crs[];
extern const size_t ht_wms_ncrs;

/**
 * Parse the @n parameters (keys case-insensitive, as WMS wants; the filter
 * names are vendor parameters). On error, @code gets the OGC exception
 * code (InvalidParameterValue, MissingParameterValue, InvalidCRS,
 * InvalidFormat, OperationNotSupported, LayerNotDefined, InvalidPoint...)
 * and @err the message; HT_EINVAL.
 */
ht_status ht_wms_parse(const char *const *keys, const char *const *values,
                       size_t n, int64_t now, ht_wms_req *out, char code[40],
                       ht_error *err);

/** Read the filters among the @n parameters (vendor parameters named as
 * in the query strings of the API; other keys are ignored) into @filter,
 * and check them. HT_EINVAL with the message for a bad one. */
ht_status ht_wms_parse_filters(const char *const *keys,
                               const char *const *values, size_t n, int64_t now,
                               ht_filter *filter, ht_error *err);

/** The value of parameter @name among the @n (keys case-insensitive, as
 * OGC's KVP has them; "" for one without a value), or NULL. */
const char *ht_wms_param(const char *const *keys, const char *const *values,
                         size_t n, const char *name);

/** Whether GetFeatureInfo answers in @type (application/json, GML,
 * text/html, text/plain). */
bool ht_wms_info_format_ok(const char *type);

/** An OGC service exception report (XML, malloc'd). */
char *ht_wms_exception(int version, const char *code, const char *msg);

/** The MIME type of exception reports of @version. */
const char *ht_wms_exception_type(int version);

/** A layer offered: a style. */
typedef struct ht_wms_layer {
    const char *name, *title, *abstract;
    bool legend;            /**< has a legend graphic in real units */
    bool queryable;         /**< GetFeatureInfo answers about it */
    int legend_w, legend_h; /**< its size in pixels */
} ht_wms_layer;

/** Who answers for the service (each NULL: not said). */
typedef struct ht_wms_contact {
    const char *person, *organization, *email;
} ht_wms_contact;

/**
 * The capabilities document (malloc'd) for @base_url ("http://host").
 * @extent is the data's box in lon/lat; @boxes[k] the same in
 * ht_wms_crs[k] (x, y order); @contact (NULL: none) its ContactInformation.
 */
char *ht_wms_capabilities(int version, const char *base_url,
                          const ht_wms_layer *layers, size_t n, ht_bbox extent,
                          const ht_bbox *boxes, const ht_wms_contact *contact);

#endif
