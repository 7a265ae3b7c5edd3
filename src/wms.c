/* SPDX-License-Identifier: Apache-2.0 */
/* OGC WMS 1.3.0 and 1.1.1: request parsing, capabilities, exceptions. */
#include "hutong/wms.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hutong/buf.h"

const char *const ht_wms_crs[] = {"EPSG:3857", "EPSG:4326", "EPSG:4490",
                                  "EPSG:4548"};
const size_t ht_wms_ncrs = sizeof ht_wms_crs / sizeof *ht_wms_crs;

static ht_status fail(char code[40], const char *c, ht_error *err,
                      const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static ht_status fail(char code[40], const char *c, ht_error *err,
                      const char *fmt, ...) {
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(code, 40, "%s", c);
    return ht_error_set(err, HT_EINVAL, "%s", msg);
}

static bool parse_int(const char *s, int lo, int hi, int *out) {
    char *end;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || !*s || *end || v < lo || v > hi) {
        return false;
    }
    *out = (int)v;
    return true;
}

/* The image format a GetMap FORMAT names (its media type, or the short
 * name some clients send); false for none or another. */
static bool map_format(const char *format, ht_image_format *out) {
    static const struct {
        const char *name;
        ht_image_format fmt;
    } names[] = {{"image/png", HT_IMAGE_PNG},
                 {"png", HT_IMAGE_PNG},
                 {"image/jpeg", HT_IMAGE_JPEG},
                 {"image/jpg", HT_IMAGE_JPEG},
                 {"jpeg", HT_IMAGE_JPEG},
                 {"jpg", HT_IMAGE_JPEG},
                 {"image/webp", HT_IMAGE_WEBP},
                 {"webp", HT_IMAGE_WEBP},
                 {"image/png; mode=8bit", HT_IMAGE_PNG8},
                 {"image/png;mode=8bit", HT_IMAGE_PNG8},
                 {"image/png8", HT_IMAGE_PNG8}};
    for (size_t k = 0; format && k < sizeof names / sizeof *names; k++) {
        if (strcasecmp(format, names[k].name) == 0) {
            *out = names[k].fmt;
            return true;
        }
    }
    return false;
}

ht_status ht_wms_parse_filters(const char *const *keys,
                               const char *const *values, size_t n, int64_t now,
                               ht_filter *filter, ht_error *err) {
    for (size_t i = 0; i < n; i++) {
        char lower[32];
        size_t len = strlen(keys[i]);
        if (len >= sizeof lower) {
            continue;
        }
        for (size_t k = 0; k <= len; k++) {
            lower[k] = (char)tolower((unsigned char)keys[i][k]);
        }
        char probe[48];
        snprintf(probe, sizeof probe, " %.40s ", lower);
        if (strstr(" from to window category severity status source grid "
                   "department overdue satisfaction ",
                   probe) &&
            ht_filter_set(filter, lower, values[i] ? values[i] : "", now,
                          err) != HT_OK) {
            return HT_EINVAL;
        }
    }
    return ht_filter_check(filter, err);
}

const char *ht_wms_param(const char *const *keys, const char *const *values,
                         size_t n, const char *name) {
    for (size_t i = 0; i < n; i++) {
        if (strcasecmp(keys[i], name) == 0) {
            return values[i] ? values[i] : "";
        }
    }
    return NULL;
}

bool ht_wms_info_format_ok(const char *type) {
    static const char *const types[] = {"application/json", "text/html",
                                        "text/plain", HT_WMS_GML};
    for (size_t k = 0; k < sizeof types / sizeof *types; k++) {
        if (strcmp(type, types[k]) == 0) {
            return true;
        }
    }
    return false;
}

ht_status ht_wms_parse(const char *const *keys, const char *const *values,
                       size_t n, int64_t now, ht_wms_req *out, char code[40],
                       ht_error *err) {
    memset(out, 0, sizeof *out);
    out->filter = ht_filter_all();
    out->bgcolor = (ht_rgba){1, 1, 1, 1};
    out->scale = 1;
    out->version = 130;
    code[0] = '\0';
    /* Every key is a WMS parameter or a filter; others are ignored, as
     * the standard asks of unknown vendor parameters. */
    if (ht_wms_parse_filters(keys, values, n, now, &out->filter, err) !=
        HT_OK) {
        snprintf(code, 40, "InvalidParameterValue");
        return HT_EINVAL;
    }
    const char *service = ht_wms_param(keys, values, n, "SERVICE");
    const char *request = ht_wms_param(keys, values, n, "REQUEST");
    const char *version = ht_wms_param(keys, values, n, "VERSION");
    if (!request) {
        return fail(code, "MissingParameterValue", err, "%sREQUEST is missing",
                    "");
    }
    if (service && strcasecmp(service, "WMS") != 0) {
        return fail(code, "InvalidParameterValue", err,
                    "SERVICE \"%s\": only WMS", service);
    }
    if (version && strcmp(version, "1.1.1") == 0) {
        out->version = 111;
    } else if (version && strcmp(version, "1.3.0") != 0 &&
               strcasecmp(request, "GetCapabilities") != 0) {
        return fail(code, "InvalidParameterValue", err,
                    "VERSION \"%s\": 1.3.0 or 1.1.1", version);
    }
    if (strcasecmp(request, "GetCapabilities") == 0) {
        out->op = HT_WMS_GET_CAPABILITIES;
        return HT_OK;
    }
    if (strcasecmp(request, "GetLegendGraphic") == 0) {
        out->op = HT_WMS_GET_LEGEND_GRAPHIC;
        const char *layer = ht_wms_param(keys, values, n, "LAYER");
        const char *format = ht_wms_param(keys, values, n, "FORMAT");
        if (!layer || !*layer) {
            return fail(code, "MissingParameterValue", err,
                        "%sLAYER is missing", "");
        }
        if (format && strcasecmp(format, "image/png") != 0) {
            return fail(code, "InvalidFormat", err,
                        "FORMAT \"%s\": only image/png", format);
        }
        snprintf(out->layers[0], sizeof out->layers[0], "%s", layer);
        out->nlayers = 1;
        const char *scale = ht_wms_param(keys, values, n, "SCALE");
        if (scale) {
            char *end;
            out->scale = strtod(scale, &end);
            if (*end || !(out->scale >= 0.25 && out->scale <= 8)) {
                return fail(code, "InvalidParameterValue", err,
                            "SCALE \"%s\": 0.25..8", scale);
            }
        }
        return HT_OK;
    }
    bool map = strcasecmp(request, "GetMap") == 0;
    bool info = strcasecmp(request, "GetFeatureInfo") == 0;
    if (!map && !info) {
        return fail(code, "OperationNotSupported", err,
                    "REQUEST \"%s\": GetCapabilities, GetMap, GetFeatureInfo "
                    "or GetLegendGraphic",
                    request);
    }
    out->op = map ? HT_WMS_GET_MAP : HT_WMS_GET_FEATURE_INFO;
    const char *layers = ht_wms_param(keys, values, n, "LAYERS");
    if (!layers || !*layers) {
        return fail(code, "MissingParameterValue", err, "%sLAYERS is missing",
                    "");
    }
    for (const char *p = layers; *p;) {
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= sizeof out->layers[0] ||
            out->nlayers == HT_WMS_MAX_LAYERS) {
            return fail(code, "LayerNotDefined", err,
                        "LAYERS \"%s\": up to 8 style names", layers);
        }
        memcpy(out->layers[out->nlayers], p, len);
        out->layers[out->nlayers++][len] = '\0';
        p += len + (p[len] == ',');
    }
    const char *crs =
        ht_wms_param(keys, values, n, out->version == 130 ? "CRS" : "SRS");
    if (!crs) {
        return fail(code, "MissingParameterValue", err, "%s is missing",
                    out->version == 130 ? "CRS" : "SRS");
    }
    /* CRS:84: WGS 84 as EPSG:4326, but longitude first in any version */
    bool crs84 = strcasecmp(crs, "CRS:84") == 0;
    bool served = crs84;
    for (size_t k = 0; k < ht_wms_ncrs && !served; k++) {
        served = strcasecmp(crs, ht_wms_crs[k]) == 0;
    }
    if (!served ||
        ht_crs_normalize(crs84 ? "EPSG:4326" : crs, out->crs, NULL) != HT_OK) {
        return fail(code, out->version == 130 ? "InvalidCRS" : "InvalidSRS",
                    err,
                    "CRS \"%s\": EPSG:3857, EPSG:4326, EPSG:4490, "
                    "EPSG:4548 or CRS:84",
                    crs);
    }
    const char *bbox = ht_wms_param(keys, values, n, "BBOX");
    ht_bbox b;
    ht_error berr = {0};
    if (!bbox || ht_bbox_parse(bbox, &b, &berr) != HT_OK) {
        return fail(code,
                    bbox ? "InvalidParameterValue" : "MissingParameterValue",
                    err, "BBOX %s (minx,miny,maxx,maxy, min below max)",
                    bbox ? berr.msg : "missing");
    }
    /* WMS 1.3.0 follows the CRS's axis order: latitude or northing first
     * for EPSG:4326, 4490 and 4548. */
    bool north_first = false;
    if (out->version == 130 && !crs84) {
        ht_crs_north_first(out->crs, &north_first, NULL);
    }
    out->bbox = north_first ? (ht_bbox){b.miny, b.minx, b.maxy, b.maxx} : b;
    const char *w = ht_wms_param(keys, values, n, "WIDTH");
    const char *h = ht_wms_param(keys, values, n, "HEIGHT");
    if (!parse_int(w, 1, HT_WMS_MAX_SIZE, &out->width) ||
        !parse_int(h, 1, HT_WMS_MAX_SIZE, &out->height)) {
        return fail(code,
                    w && h ? "InvalidParameterValue" : "MissingParameterValue",
                    err, "WIDTH and HEIGHT: 1..%s pixels", "4096");
    }
    const char *format = ht_wms_param(keys, values, n, "FORMAT");
    if (map && !map_format(format, &out->format)) {
        return fail(code, format ? "InvalidFormat" : "MissingParameterValue",
                    err,
                    "FORMAT \"%s\": image/png, image/png; mode=8bit, "
                    "image/jpeg or image/webp",
                    format ? format : "");
    }
    const char *tr = ht_wms_param(keys, values, n, "TRANSPARENT");
    out->transparent = tr && strcasecmp(tr, "TRUE") == 0;
    const char *bg = ht_wms_param(keys, values, n, "BGCOLOR");
    if (bg) {
        char css[16];
        if (strlen(bg) != 8 || strncasecmp(bg, "0x", 2) != 0) {
            return fail(code, "InvalidParameterValue", err,
                        "BGCOLOR \"%s\": 0xRRGGBB", bg);
        }
        snprintf(css, sizeof css, "#%s", bg + 2);
        if (ht_style_parse_color(css, &out->bgcolor, NULL) != HT_OK) {
            return fail(code, "InvalidParameterValue", err,
                        "BGCOLOR \"%s\": 0xRRGGBB", bg);
        }
    }
    if (info) {
        const char *qi =
            ht_wms_param(keys, values, n, out->version == 130 ? "I" : "X");
        const char *qj =
            ht_wms_param(keys, values, n, out->version == 130 ? "J" : "Y");
        if (!parse_int(qi, 0, out->width - 1, &out->i) ||
            !parse_int(qj, 0, out->height - 1, &out->j)) {
            return fail(code, "InvalidPoint", err,
                        "%s: a pixel inside WIDTH x HEIGHT",
                        out->version == 130 ? "I and J" : "X and Y");
        }
        const char *f = ht_wms_param(keys, values, n, "INFO_FORMAT");
        snprintf(out->info_format, sizeof out->info_format, "%s",
                 f ? f : "text/plain");
        if (!ht_wms_info_format_ok(out->info_format)) {
            return fail(code, "InvalidFormat", err,
                        "INFO_FORMAT \"%s\": application/json, %s, "
                        "text/html or text/plain",
                        out->info_format, HT_WMS_GML);
        }
        const char *ql = ht_wms_param(keys, values, n, "QUERY_LAYERS");
        if (!ql || !*ql) {
            return fail(code, "MissingParameterValue", err,
                        "%sQUERY_LAYERS is missing", "");
        }
        for (const char *p = ql; *p;) {
            size_t len = strcspn(p, ",");
            if (len == 0 || len >= sizeof out->query_layers[0] ||
                out->nquery == HT_WMS_MAX_LAYERS) {
                return fail(code, "LayerNotDefined", err,
                            "QUERY_LAYERS \"%s\": up to 8 style names", ql);
            }
            memcpy(out->query_layers[out->nquery], p, len);
            out->query_layers[out->nquery++][len] = '\0';
            p += len + (p[len] == ',');
        }
    }
    return HT_OK;
}

/* @s with XML's five characters escaped. */
static void xml_text(ht_buf *b, const char *s) {
    ht_buf_append_escaped(b, s, NULL);
}

const char *ht_wms_exception_type(int version) {
    return version == 111 ? "application/vnd.ogc.se_xml" : "text/xml";
}

char *ht_wms_exception(int version, const char *code, const char *msg) {
    ht_buf *b = ht_buf_new();
    if (!b) {
        return NULL;
    }
    ht_buf_appendf(b, NULL, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    if (version == 111) {
        ht_buf_appendf(b, NULL, "<ServiceExceptionReport version=\"1.1.1\">\n");
    } else {
        ht_buf_appendf(
            b, NULL,
            "<ServiceExceptionReport version=\"1.3.0\" "
            "xmlns=\"http://www.opengis.net/ogc\" "
            "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
            "xsi:schemaLocation=\"http://www.opengis.net/ogc "
            "http://schemas.opengis.net/wms/1.3.0/exceptions_1_3_0.xsd\">\n");
    }
    ht_buf_appendf(b, NULL, "  <ServiceException code=\"");
    xml_text(b, code);
    ht_buf_appendf(b, NULL, "\">");
    xml_text(b, msg);
    ht_buf_appendf(b, NULL, "</ServiceException>\n</ServiceExceptionReport>\n");
    return ht_buf_take_string(b);
}

static void online(ht_buf *b, const char *base) {
    ht_buf_appendf(b, NULL,
                   "<OnlineResource xmlns:xlink=\"http://www.w3.org/1999/"
                   "xlink\" xlink:type=\"simple\" xlink:href=\"");
    xml_text(b, base);
    ht_buf_appendf(b, NULL, "/wms?\"/>");
}

static void operation(ht_buf *b, const char *name, const char *const *formats,
                      size_t nf, const char *base) {
    ht_buf_appendf(b, NULL, "      <%s>\n", name);
    for (size_t k = 0; k < nf; k++) {
        ht_buf_appendf(b, NULL, "        <Format>%s</Format>\n", formats[k]);
    }
    ht_buf_appendf(b, NULL, "        <DCPType><HTTP><Get>");
    online(b, base);
    ht_buf_appendf(b, NULL, "</Get></HTTP></DCPType>\n      </%s>\n", name);
}

/* The bounding boxes of the data, @extent in lon/lat and @boxes[k] in
 * ht_wms_crs[k] (x, y), each line indented by @in: the geographic one, then
 * one per CRS in its own axis order (1.3.0), CRS:84 last. */
static void boxes_xml(ht_buf *b, bool v13, const char *in, ht_bbox extent,
                      const ht_bbox *boxes) {
    const char *crs_tag = v13 ? "CRS" : "SRS";
    if (v13) {
        ht_buf_appendf(b, NULL,
                       "%s<EX_GeographicBoundingBox>"
                       "<westBoundLongitude>%.6f</westBoundLongitude>"
                       "<eastBoundLongitude>%.6f</eastBoundLongitude>"
                       "<southBoundLatitude>%.6f</southBoundLatitude>"
                       "<northBoundLatitude>%.6f</northBoundLatitude>"
                       "</EX_GeographicBoundingBox>\n",
                       in, extent.minx, extent.maxx, extent.miny, extent.maxy);
    } else {
        ht_buf_appendf(b, NULL,
                       "%s<LatLonBoundingBox minx=\"%.6f\" miny=\"%.6f\" "
                       "maxx=\"%.6f\" maxy=\"%.6f\"/>\n",
                       in, extent.minx, extent.miny, extent.maxx, extent.maxy);
    }
    for (size_t k = 0; k < ht_wms_ncrs; k++) {
        bool nf = false;
        if (v13) {
            ht_crs_north_first(ht_wms_crs[k], &nf, NULL);
        }
        ht_bbox q = boxes[k];
        double v[4] = {q.minx, q.miny, q.maxx, q.maxy};
        if (nf) {
            v[0] = q.miny;
            v[1] = q.minx;
            v[2] = q.maxy;
            v[3] = q.maxx;
        }
        ht_buf_appendf(b, NULL,
                       "%s<BoundingBox %s=\"%s\" minx=\"%.9g\" "
                       "miny=\"%.9g\" maxx=\"%.9g\" maxy=\"%.9g\"/>\n",
                       in, crs_tag, ht_wms_crs[k], v[0], v[1], v[2], v[3]);
    }
    if (v13) {
        ht_buf_appendf(b, NULL,
                       "%s<BoundingBox CRS=\"CRS:84\" minx=\"%.9g\" "
                       "miny=\"%.9g\" maxx=\"%.9g\" maxy=\"%.9g\"/>\n",
                       in, extent.minx, extent.miny, extent.maxx, extent.maxy);
    }
}

char *ht_wms_capabilities(int version, const char *base_url,
                          const ht_wms_layer *layers, size_t n, ht_bbox extent,
                          const ht_bbox *boxes, const ht_wms_contact *contact) {
    bool v13 = version != 111;
    const char *crs_tag = v13 ? "CRS" : "SRS";
    ht_buf *b = ht_buf_new();
    if (!b) {
        return NULL;
    }
    ht_buf_appendf(b, NULL, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    if (v13) {
        ht_buf_appendf(
            b, NULL,
            "<WMS_Capabilities version=\"1.3.0\" "
            "xmlns=\"http://www.opengis.net/wms\" "
            "xmlns:sld=\"http://www.opengis.net/sld\" "
            "xmlns:xlink=\"http://www.w3.org/1999/xlink\" "
            "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
            "xsi:schemaLocation=\"http://www.opengis.net/wms "
            "http://schemas.opengis.net/wms/1.3.0/capabilities_1_3_0.xsd\">\n");
    } else {
        ht_buf_appendf(b, NULL, "<WMT_MS_Capabilities version=\"1.1.1\">\n");
    }
    ht_buf_appendf(b, NULL,
                   "  <Service>\n    <Name>%s</Name>\n"
                   "    <Title>hutong: city grid incidents</Title>\n"
                   "    <Abstract>Grids, streets and alleys, and the "
                   "incidents reported in them: heat maps, street heat, "
                   "choropleths and hotspots. Vendor parameters filter the "
                   "incidents: from, to, window, category, severity, status, "
                   "source, grid.</Abstract>\n    ",
                   v13 ? "WMS" : "OGC:WMS");
    online(b, base_url);
    ht_buf_appendf(b, NULL, "\n");
    if (contact &&
        (contact->person || contact->organization || contact->email)) {
        ht_buf_appendf(b, NULL, "    <ContactInformation>\n");
        if (contact->person || contact->organization) {
            ht_buf_appendf(b, NULL,
                           "      <ContactPersonPrimary>\n"
                           "        <ContactPerson>");
            xml_text(b, contact->person ? contact->person : "");
            ht_buf_appendf(b, NULL,
                           "</ContactPerson>\n"
                           "        <ContactOrganization>");
            xml_text(b, contact->organization ? contact->organization : "");
            ht_buf_appendf(b, NULL,
                           "</ContactOrganization>\n"
                           "      </ContactPersonPrimary>\n");
        }
        if (contact->email) {
            ht_buf_appendf(b, NULL, "      <ContactElectronicMailAddress>");
            xml_text(b, contact->email);
            ht_buf_appendf(b, NULL, "</ContactElectronicMailAddress>\n");
        }
        ht_buf_appendf(b, NULL, "    </ContactInformation>\n");
    }
    if (v13) {
        ht_buf_appendf(b, NULL,
                       "    <LayerLimit>%d</LayerLimit>\n"
                       "    <MaxWidth>%d</MaxWidth>\n"
                       "    <MaxHeight>%d</MaxHeight>\n",
                       HT_WMS_MAX_LAYERS, HT_WMS_MAX_SIZE, HT_WMS_MAX_SIZE);
    }
    ht_buf_appendf(b, NULL, "  </Service>\n  <Capability>\n    <Request>\n");
    const char *caps[] = {v13 ? "text/xml" : "application/vnd.ogc.wms_xml"};
    const char *png[] = {"image/png"};
    const char *maps[] = {"image/png", "image/png; mode=8bit", "image/jpeg",
                          "image/webp"};
    const char *info[] = {"application/json", HT_WMS_GML, "text/html",
                          "text/plain"};
    operation(b, "GetCapabilities", caps, 1, base_url);
    operation(b, "GetMap", maps, 4, base_url);
    operation(b, "GetFeatureInfo", info, 4, base_url);
    operation(b, v13 ? "sld:GetLegendGraphic" : "GetLegendGraphic", png, 1,
              base_url);
    ht_buf_appendf(b, NULL,
                   "    </Request>\n    <Exception>\n"
                   "      <Format>%s</Format>\n    </Exception>\n",
                   v13 ? "XML" : "application/vnd.ogc.se_xml");
    ht_buf_appendf(b, NULL, "    <Layer>\n      <Title>hutong</Title>\n");
    for (size_t k = 0; k < ht_wms_ncrs; k++) {
        ht_buf_appendf(b, NULL, "      <%s>%s</%s>\n", crs_tag, ht_wms_crs[k],
                       crs_tag);
    }
    if (v13) {
        /* WGS 84 in longitude, latitude order */
        ht_buf_appendf(b, NULL, "      <CRS>CRS:84</CRS>\n");
    }
    boxes_xml(b, v13, "      ", extent, boxes);
    for (size_t k = 0; k < n; k++) {
        ht_buf_appendf(b, NULL,
                       "      <Layer queryable=\"%d\">\n        <Name>",
                       layers[k].queryable ? 1 : 0);
        xml_text(b, layers[k].name);
        ht_buf_appendf(b, NULL, "</Name>\n        <Title>");
        xml_text(b, layers[k].title);
        ht_buf_appendf(b, NULL, "</Title>\n");
        if (layers[k].abstract) {
            ht_buf_appendf(b, NULL, "        <Abstract>");
            xml_text(b, layers[k].abstract);
            ht_buf_appendf(b, NULL, "</Abstract>\n");
        }
        /* (each layer's own: clients read a layer's, not its parent's) */
        boxes_xml(b, v13, "        ", extent, boxes);
        if (layers[k].legend) {
            ht_buf_appendf(b, NULL,
                           "        <Style>\n          <Name>default</Name>\n"
                           "          <Title>default</Title>\n"
                           "          <LegendURL width=\"%d\" height=\"%d\">\n"
                           "            <Format>image/png</Format>\n"
                           "            <OnlineResource "
                           "xmlns:xlink=\"http://www.w3.org/1999/xlink\" "
                           "xlink:type=\"simple\" xlink:href=\"",
                           layers[k].legend_w, layers[k].legend_h);
            xml_text(b, base_url);
            ht_buf_appendf(b, NULL,
                           "/wms?SERVICE=WMS&amp;REQUEST="
                           "GetLegendGraphic&amp;FORMAT=image/png"
                           "&amp;LAYER=");
            xml_text(b, layers[k].name);
            ht_buf_appendf(b, NULL,
                           "\"/>\n          </LegendURL>\n"
                           "        </Style>\n");
        }
        ht_buf_appendf(b, NULL, "      </Layer>\n");
    }
    ht_buf_appendf(b, NULL, "    </Layer>\n  </Capability>\n</%s>\n",
                   v13 ? "WMS_Capabilities" : "WMT_MS_Capabilities");
    return ht_buf_take_string(b);
}
