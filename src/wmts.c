/* SPDX-License-Identifier: Apache-2.0 */
/* OGC WMTS 1.0.0: tile matrix sets, KVP and RESTful requests,
 * capabilities, exception reports. */
#include "hutong/wmts.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hutong/buf.h"
#include "hutong/tile.h"

/* Metres of a degree on the equator of a 6,378,137 m sphere (WGS 84's
 * and CGCS2000's semi-major axis), as WMTS converts degrees. */
#define DEGREE_M (6378137.0 * 2 * HT_PI / 360)
/* WMTS's standardised rendering pixel: 0.28 mm. */
#define PIXEL_M 0.00028

/* Tianditu's sets ("w" and "c") number their levels from 1, where the
 * world is 2 x 2 (Mercator) or 2 x 1 (longitude/latitude) tiles, each
 * level's pixel half the last's: level L of "c" has 0.703125 / 2^(L-1)
 * degrees a pixel, its origin at 180 W, 90 N. Tianditu publishes them to
 * level 18; the numbering goes on the same way. */
const ht_wmts_set ht_wmts_sets[] = {
    {"GoogleMapsCompatible", "Web Mercator (EPSG:3857), levels 0..22",
     "EPSG:3857", "urn:ogc:def:wkss:OGC:1.0:GoogleMapsCompatible", 0,
     HT_TILE_MAX_ZOOM, -HT_MERC_HALF, HT_MERC_HALF,
     2 * HT_MERC_HALF / HT_WMTS_TILE, 1, 1, 1},
    {"w", "天地图 Tianditu w: Web Mercator (EPSG:3857), levels 1..20",
     "EPSG:3857", NULL, 1, 20, -HT_MERC_HALF, HT_MERC_HALF,
     HT_MERC_HALF / HT_WMTS_TILE, 1, 2, 2},
    {"c",
     "天地图 Tianditu c: CGCS2000 longitude/latitude (EPSG:4490), "
     "levels 1..20",
     "EPSG:4490", NULL, 1, 20, -180, 90, 180.0 / HT_WMTS_TILE, DEGREE_M, 2, 1}};
const size_t ht_wmts_nsets = sizeof ht_wmts_sets / sizeof *ht_wmts_sets;

const ht_wmts_set *ht_wmts_set_find(const char *id) {
    for (size_t k = 0; id && k < ht_wmts_nsets; k++) {
        if (strcmp(ht_wmts_sets[k].id, id) == 0) {
            return &ht_wmts_sets[k];
        }
    }
    return NULL;
}

static double resolution(const ht_wmts_set *s, int level) {
    return ldexp(s->res0, -(level - s->first));
}

double ht_wmts_scale_denominator(const ht_wmts_set *s, int level) {
    return resolution(s, level) * s->metres_per_unit / PIXEL_M;
}

void ht_wmts_matrix_size(const ht_wmts_set *s, int level, uint32_t *width,
                         uint32_t *height) {
    *width = s->width0 << (level - s->first);
    *height = s->height0 << (level - s->first);
}

ht_status ht_wmts_tile_bbox(const ht_wmts_set *s, int level, uint32_t row,
                            uint32_t col, ht_bbox *out, ht_error *err) {
    if (level < s->first || level > s->last) {
        return ht_error_set(err, HT_EINVAL,
                            "TILEMATRIX %d: %s has levels %d..%d", level, s->id,
                            s->first, s->last);
    }
    uint32_t w, h;
    ht_wmts_matrix_size(s, level, &w, &h);
    if (row >= h || col >= w) {
        return ht_error_set(
            err, HT_EINVAL, "%s %u outside 0..%u at level %d of %s",
            row >= h ? "TILEROW" : "TILECOL", row >= h ? row : col,
            (row >= h ? h : w) - 1, level, s->id);
    }
    if (strcmp(s->crs, "EPSG:3857") == 0) {
        /* the XYZ tile, to the last bit: the same picture, cached once */
        *out = ht_tile_bbox((ht_tile_id){level, col, row});
        return HT_OK;
    }
    double span = resolution(s, level) * HT_WMTS_TILE;
    out->minx = s->left + col * span;
    out->maxx = s->left + (col + 1.0) * span;
    out->maxy = s->top - row * span;
    out->miny = s->top - (row + 1.0) * span;
    return HT_OK;
}

/* ---- requests ---- */

static ht_status fail(char code[40], char locator[40], const char *c,
                      const char *where, ht_error *err, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static ht_status fail(char code[40], char locator[40], const char *c,
                      const char *where, ht_error *err, const char *fmt, ...) {
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(code, 40, "%s", c);
    snprintf(locator, 40, "%s", where);
    return ht_error_set(err, HT_EINVAL, "%s", msg);
}

/* The whole of @s as a number 0..@hi. */
static bool parse_u32(const char *s, uint32_t hi, uint32_t *out) {
    char *end;
    if (!s || *s < '0' || *s > '9' || strlen(s) > 10) {
        return false;
    }
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || v > hi) {
        return false;
    }
    *out = (uint32_t)v;
    return true;
}

static const struct {
    const char *mime, *ext;
    ht_image_format fmt;
} tile_formats[] = {{"image/png", "png", HT_IMAGE_PNG},
                    {"image/jpeg", "jpg", HT_IMAGE_JPEG},
                    {"image/webp", "webp", HT_IMAGE_WEBP}};

static const struct {
    const char *mime, *ext;
} info_formats[] = {{"application/json", "json"},
                    {HT_WMS_GML, "gml"},
                    {"text/html", "html"},
                    {"text/plain", "txt"}};

#define NTILE (sizeof tile_formats / sizeof *tile_formats)
#define NINFO (sizeof info_formats / sizeof *info_formats)

/* The tile's address in @out, from its set, level, row and column as
 * text: errors as the parsers give them. */
static ht_status locate(const char *set, const char *level, const char *row,
                        const char *col, ht_wmts_req *out, char code[40],
                        char locator[40], ht_error *err) {
    if (!set || !*set) {
        return fail(code, locator, "MissingParameterValue", "TILEMATRIXSET",
                    err, "TILEMATRIXSET is missing");
    }
    if (!(out->set = ht_wmts_set_find(set))) {
        return fail(code, locator, "InvalidParameterValue", "TILEMATRIXSET",
                    err, "TILEMATRIXSET \"%s\": GoogleMapsCompatible, w or c",
                    set);
    }
    uint32_t v;
    if (!level || !*level) {
        return fail(code, locator, "MissingParameterValue", "TILEMATRIX", err,
                    "TILEMATRIX is missing");
    }
    if (!parse_u32(level, 99, &v) || (int)v < out->set->first ||
        (int)v > out->set->last) {
        return fail(code, locator, "InvalidParameterValue", "TILEMATRIX", err,
                    "TILEMATRIX \"%s\": %s has levels %d..%d", level,
                    out->set->id, out->set->first, out->set->last);
    }
    out->level = (int)v;
    if (!row || !col) {
        return fail(code, locator, "MissingParameterValue",
                    row ? "TILECOL" : "TILEROW", err, "%s is missing",
                    row ? "TILECOL" : "TILEROW");
    }
    uint32_t w, h;
    ht_wmts_matrix_size(out->set, out->level, &w, &h);
    if (!parse_u32(row, UINT32_MAX, &out->row) || out->row >= h) {
        return fail(code, locator, "TileOutOfRange", "TILEROW", err,
                    "TILEROW \"%s\": 0..%u at level %d of %s", row, h - 1,
                    out->level, out->set->id);
    }
    if (!parse_u32(col, UINT32_MAX, &out->col) || out->col >= w) {
        return fail(code, locator, "TileOutOfRange", "TILECOL", err,
                    "TILECOL \"%s\": 0..%u at level %d of %s", col, w - 1,
                    out->level, out->set->id);
    }
    return HT_OK;
}

/* @name as a layer's identifier in @out. */
static ht_status take_layer(const char *name, ht_wmts_req *out, char code[40],
                            char locator[40], ht_error *err) {
    if (!name || !*name) {
        return fail(code, locator, "MissingParameterValue", "LAYER", err,
                    "LAYER is missing");
    }
    if (strlen(name) >= sizeof out->layer) {
        return fail(code, locator, "InvalidParameterValue", "LAYER", err,
                    "LAYER: a style's name, up to 64 bytes");
    }
    snprintf(out->layer, sizeof out->layer, "%s", name);
    return HT_OK;
}

/* Every layer has one style, "default" (an empty STYLE is it too). */
static ht_status check_style(const char *style, char code[40], char locator[40],
                             ht_error *err) {
    if (style && *style && strcmp(style, "default") != 0) {
        return fail(code, locator, "InvalidParameterValue", "STYLE", err,
                    "STYLE \"%s\": every layer has one style, default", style);
    }
    return HT_OK;
}

ht_status ht_wmts_parse(const char *const *keys, const char *const *values,
                        size_t n, int64_t now, ht_wmts_req *out, char code[40],
                        char locator[40], ht_error *err) {
    memset(out, 0, sizeof *out);
    out->filter = ht_filter_all();
    code[0] = locator[0] = '\0';
    if (ht_wms_parse_filters(keys, values, n, now, &out->filter, err) !=
        HT_OK) {
        snprintf(code, 40, "InvalidParameterValue");
        return HT_EINVAL;
    }
    const char *service = ht_wms_param(keys, values, n, "SERVICE");
    const char *request = ht_wms_param(keys, values, n, "REQUEST");
    const char *version = ht_wms_param(keys, values, n, "VERSION");
    if (!request || !*request) {
        return fail(code, locator, "MissingParameterValue", "REQUEST", err,
                    "REQUEST is missing");
    }
    if (!service || strcasecmp(service, "WMTS") != 0) {
        return fail(code, locator,
                    service ? "InvalidParameterValue" : "MissingParameterValue",
                    "SERVICE", err, "SERVICE \"%s\": WMTS",
                    service ? service : "");
    }
    if (strcasecmp(request, "GetCapabilities") == 0) {
        out->op = HT_WMTS_GET_CAPABILITIES;
        return HT_OK;
    }
    bool tile = strcasecmp(request, "GetTile") == 0;
    bool info = strcasecmp(request, "GetFeatureInfo") == 0;
    if (!tile && !info) {
        return fail(code, locator, "OperationNotSupported", "REQUEST", err,
                    "REQUEST \"%s\": GetCapabilities, GetTile or "
                    "GetFeatureInfo",
                    request);
    }
    out->op = tile ? HT_WMTS_GET_TILE : HT_WMTS_GET_FEATURE_INFO;
    if (!version || strcmp(version, "1.0.0") != 0) {
        return fail(code, locator,
                    version ? "InvalidParameterValue" : "MissingParameterValue",
                    "VERSION", err, "VERSION \"%s\": 1.0.0",
                    version ? version : "");
    }
    ht_status st = take_layer(ht_wms_param(keys, values, n, "LAYER"), out, code,
                              locator, err);
    if (st == HT_OK) {
        st = check_style(ht_wms_param(keys, values, n, "STYLE"), code, locator,
                         err);
    }
    if (st != HT_OK) {
        return st;
    }
    const char *format = ht_wms_param(keys, values, n, "FORMAT");
    size_t f = 0;
    while (format && f < NTILE && strcasecmp(format, tile_formats[f].mime)) {
        f++;
    }
    if (tile && (!format || f == NTILE)) {
        return fail(code, locator,
                    format ? "InvalidParameterValue" : "MissingParameterValue",
                    "FORMAT", err,
                    "FORMAT \"%s\": image/png, image/jpeg or image/webp",
                    format ? format : "");
    }
    out->format = f < NTILE ? tile_formats[f].fmt : HT_IMAGE_PNG;
    st = locate(ht_wms_param(keys, values, n, "TILEMATRIXSET"),
                ht_wms_param(keys, values, n, "TILEMATRIX"),
                ht_wms_param(keys, values, n, "TILEROW"),
                ht_wms_param(keys, values, n, "TILECOL"), out, code, locator,
                err);
    if (st != HT_OK || tile) {
        return st;
    }
    const char *qi = ht_wms_param(keys, values, n, "I");
    const char *qj = ht_wms_param(keys, values, n, "J");
    uint32_t i, j;
    if (!qi || !qj) {
        return fail(code, locator, "MissingParameterValue", qi ? "J" : "I", err,
                    "%s is missing", qi ? "J" : "I");
    }
    if (!parse_u32(qi, HT_WMTS_TILE - 1, &i) ||
        !parse_u32(qj, HT_WMTS_TILE - 1, &j)) {
        return fail(code, locator, "PointIJOutOfRange", "I", err,
                    "I and J: a pixel of the tile, 0..%d", HT_WMTS_TILE - 1);
    }
    out->i = (int)i;
    out->j = (int)j;
    const char *type = ht_wms_param(keys, values, n, "INFOFORMAT");
    if (!type || !*type) {
        return fail(code, locator, "MissingParameterValue", "INFOFORMAT", err,
                    "INFOFORMAT is missing");
    }
    if (!ht_wms_info_format_ok(type)) {
        return fail(code, locator, "InvalidParameterValue", "INFOFORMAT", err,
                    "INFOFORMAT \"%s\": application/json, %s, text/html or "
                    "text/plain",
                    type, HT_WMS_GML);
    }
    snprintf(out->info_format, sizeof out->info_format, "%s", type);
    return HT_OK;
}

ht_status ht_wmts_parse_rest(const char *path, const ht_filter *filter,
                             ht_wmts_req *out, char code[40], char locator[40],
                             ht_error *err) {
    memset(out, 0, sizeof *out);
    out->filter = *filter;
    code[0] = locator[0] = '\0';
    if (strcmp(path, "WMTSCapabilities.xml") == 0) {
        out->op = HT_WMTS_GET_CAPABILITIES;
        return HT_OK;
    }
    /* {layer}/{style}/{set}/{level}/{row}/{col}[/{j}/{i}].{ext} */
    char parts[8][80];
    size_t np = 0;
    for (const char *p = path; np < 8;) {
        size_t len = strcspn(p, "/");
        if (len == 0 || len >= sizeof parts[0]) {
            break;
        }
        memcpy(parts[np], p, len);
        parts[np++][len] = '\0';
        p += len;
        if (!*p) {
            np += 100; /* the whole path taken: marks it done */
            break;
        }
        p++;
    }
    bool whole = np >= 100;
    np = whole ? np - 100 : np;
    char *dot =
        whole && (np == 6 || np == 8) ? strrchr(parts[np - 1], '.') : NULL;
    if (!dot) {
        return fail(code, locator, "InvalidParameterValue", "", err,
                    "expected /wmts/1.0.0/WMTSCapabilities.xml, "
                    "/wmts/1.0.0/{layer}/default/{set}/{level}/{row}/"
                    "{col}.png (.jpg, .webp) or .../{col}/{j}/{i}.json "
                    "(.gml, .html, .txt)");
    }
    *dot = '\0';
    const char *ext = dot + 1;
    ht_status st = take_layer(parts[0], out, code, locator, err);
    if (st == HT_OK) {
        st = check_style(parts[1], code, locator, err);
    }
    if (st == HT_OK) {
        st = locate(parts[2], parts[3], parts[4], parts[5], out, code, locator,
                    err);
    }
    if (st != HT_OK) {
        return st;
    }
    if (np == 6) {
        out->op = HT_WMTS_GET_TILE;
        for (size_t f = 0; f < NTILE; f++) {
            if (strcmp(ext, tile_formats[f].ext) == 0) {
                out->format = tile_formats[f].fmt;
                return HT_OK;
            }
        }
        return fail(code, locator, "InvalidParameterValue", "FORMAT", err,
                    "a tile is .png, .jpg or .webp, not .%s", ext);
    }
    out->op = HT_WMTS_GET_FEATURE_INFO;
    uint32_t j, i;
    if (!parse_u32(parts[6], HT_WMTS_TILE - 1, &j) ||
        !parse_u32(parts[7], HT_WMTS_TILE - 1, &i)) {
        return fail(code, locator, "PointIJOutOfRange", "I", err,
                    "J and I: a pixel of the tile, 0..%d", HT_WMTS_TILE - 1);
    }
    out->i = (int)i;
    out->j = (int)j;
    for (size_t f = 0; f < NINFO; f++) {
        if (strcmp(ext, info_formats[f].ext) == 0) {
            snprintf(out->info_format, sizeof out->info_format, "%s",
                     info_formats[f].mime);
            return HT_OK;
        }
    }
    return fail(code, locator, "InvalidParameterValue", "INFOFORMAT", err,
                "feature info is .json, .gml, .html or .txt, not .%s", ext);
}

/* ---- documents ---- */

char *ht_wmts_exception(const char *code, const char *locator,
                        const char *msg) {
    ht_buf *b = ht_buf_new();
    if (!b) {
        return NULL;
    }
    ht_buf_appendf(b, NULL,
                   "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                   "<ows:ExceptionReport "
                   "xmlns:ows=\"http://www.opengis.net/ows/1.1\" "
                   "version=\"1.0.0\" xml:lang=\"en\">\n"
                   "  <ows:Exception exceptionCode=\"");
    ht_buf_append_escaped(b, code, NULL);
    ht_buf_appendf(b, NULL, "\"");
    if (locator && *locator) {
        ht_buf_appendf(b, NULL, " locator=\"");
        ht_buf_append_escaped(b, locator, NULL);
        ht_buf_appendf(b, NULL, "\"");
    }
    ht_buf_appendf(b, NULL, ">\n    <ows:ExceptionText>");
    ht_buf_append_escaped(b, msg, NULL);
    ht_buf_appendf(b, NULL,
                   "</ows:ExceptionText>\n  </ows:Exception>\n"
                   "</ows:ExceptionReport>\n");
    return ht_buf_take_string(b);
}

unsigned ht_wmts_exception_status(const char *code) {
    if (strcmp(code, "OperationNotSupported") == 0) {
        return 501;
    }
    if (strcmp(code, "NoApplicableCode") == 0) {
        return 500;
    }
    return 400;
}

/* An operation's two addresses: KVP at /wmts?, RESTful under
 * /wmts/1.0.0/. */
static void operation(ht_buf *b, const char *name, const char *base) {
    static const char *const enc[2][2] = {{"/wmts?", "KVP"},
                                          {"/wmts/1.0.0/", "RESTful"}};
    ht_buf_appendf(b, NULL,
                   "    <ows:Operation name=\"%s\">\n      <ows:DCP>\n"
                   "        <ows:HTTP>\n",
                   name);
    for (int k = 0; k < 2; k++) {
        ht_buf_appendf(b, NULL, "          <ows:Get xlink:href=\"");
        ht_buf_append_escaped(b, base, NULL);
        ht_buf_appendf(b, NULL,
                       "%s\">\n"
                       "            <ows:Constraint name=\"GetEncoding\">\n"
                       "              <ows:AllowedValues><ows:Value>%s"
                       "</ows:Value></ows:AllowedValues>\n"
                       "            </ows:Constraint>\n"
                       "          </ows:Get>\n",
                       enc[k][0], enc[k][1]);
    }
    ht_buf_appendf(b, NULL,
                   "        </ows:HTTP>\n      </ows:DCP>\n"
                   "    </ows:Operation>\n");
}

static void layer_xml(ht_buf *b, const char *base, const ht_wms_layer *l,
                      ht_bbox extent) {
    ht_buf_appendf(b, NULL, "    <Layer>\n      <ows:Title>");
    ht_buf_append_escaped(b, l->title, NULL);
    ht_buf_appendf(b, NULL, "</ows:Title>\n");
    if (l->abstract) {
        ht_buf_appendf(b, NULL, "      <ows:Abstract>");
        ht_buf_append_escaped(b, l->abstract, NULL);
        ht_buf_appendf(b, NULL, "</ows:Abstract>\n");
    }
    ht_buf_appendf(b, NULL,
                   "      <ows:WGS84BoundingBox>\n"
                   "        <ows:LowerCorner>%.9g %.9g</ows:LowerCorner>\n"
                   "        <ows:UpperCorner>%.9g %.9g</ows:UpperCorner>\n"
                   "      </ows:WGS84BoundingBox>\n"
                   "      <ows:Identifier>",
                   extent.minx, extent.miny, extent.maxx, extent.maxy);
    ht_buf_append_escaped(b, l->name, NULL);
    ht_buf_appendf(b, NULL,
                   "</ows:Identifier>\n"
                   "      <Style isDefault=\"true\">\n"
                   "        <ows:Identifier>default</ows:Identifier>\n");
    if (l->legend) {
        ht_buf_appendf(b, NULL,
                       "        <LegendURL format=\"image/png\" "
                       "width=\"%d\" height=\"%d\" xlink:href=\"",
                       l->legend_w, l->legend_h);
        ht_buf_append_escaped(b, base, NULL);
        ht_buf_appendf(b, NULL, "/legend/");
        ht_buf_append_escaped(b, l->name, NULL);
        ht_buf_appendf(b, NULL, ".png\"/>\n");
    }
    ht_buf_appendf(b, NULL, "      </Style>\n");
    for (size_t f = 0; f < NTILE; f++) {
        ht_buf_appendf(b, NULL, "      <Format>%s</Format>\n",
                       tile_formats[f].mime);
    }
    for (size_t f = 0; l->queryable && f < NINFO; f++) {
        ht_buf_appendf(b, NULL, "      <InfoFormat>%s</InfoFormat>\n",
                       info_formats[f].mime);
    }
    for (size_t k = 0; k < ht_wmts_nsets; k++) {
        ht_buf_appendf(b, NULL,
                       "      <TileMatrixSetLink><TileMatrixSet>%s"
                       "</TileMatrixSet></TileMatrixSetLink>\n",
                       ht_wmts_sets[k].id);
    }
    for (size_t f = 0; f < NTILE; f++) {
        ht_buf_appendf(b, NULL,
                       "      <ResourceURL format=\"%s\" "
                       "resourceType=\"tile\" template=\"",
                       tile_formats[f].mime);
        ht_buf_append_escaped(b, base, NULL);
        ht_buf_appendf(b, NULL, "/wmts/1.0.0/");
        ht_buf_append_escaped(b, l->name, NULL);
        ht_buf_appendf(b, NULL,
                       "/{Style}/{TileMatrixSet}/{TileMatrix}/{TileRow}/"
                       "{TileCol}.%s\"/>\n",
                       tile_formats[f].ext);
    }
    for (size_t f = 0; l->queryable && f < NINFO; f++) {
        ht_buf_appendf(b, NULL,
                       "      <ResourceURL format=\"%s\" "
                       "resourceType=\"FeatureInfo\" template=\"",
                       info_formats[f].mime);
        ht_buf_append_escaped(b, base, NULL);
        ht_buf_appendf(b, NULL, "/wmts/1.0.0/");
        ht_buf_append_escaped(b, l->name, NULL);
        ht_buf_appendf(b, NULL,
                       "/{Style}/{TileMatrixSet}/{TileMatrix}/{TileRow}/"
                       "{TileCol}/{J}/{I}.%s\"/>\n",
                       info_formats[f].ext);
    }
    ht_buf_appendf(b, NULL, "    </Layer>\n");
}

static void set_xml(ht_buf *b, const ht_wmts_set *s) {
    /* EPSG:4490 is latitude first: its corners are written so */
    bool geo = strcmp(s->crs, "EPSG:4490") == 0;
    const char *code = strchr(s->crs, ':') + 1;
    double x0 = s->left, y1 = s->top;
    uint32_t w, h;
    ht_wmts_matrix_size(s, s->first, &w, &h);
    double x1 = x0 + w * s->res0 * HT_WMTS_TILE;
    double y0 = y1 - h * s->res0 * HT_WMTS_TILE;
    ht_buf_appendf(b, NULL,
                   "    <TileMatrixSet>\n      <ows:Title>%s</ows:Title>\n"
                   "      <ows:Identifier>%s</ows:Identifier>\n"
                   "      <ows:BoundingBox crs=\"urn:ogc:def:crs:EPSG::%s\">\n"
                   "        <ows:LowerCorner>%.17g %.17g</ows:LowerCorner>\n"
                   "        <ows:UpperCorner>%.17g %.17g</ows:UpperCorner>\n"
                   "      </ows:BoundingBox>\n"
                   "      <ows:SupportedCRS>urn:ogc:def:crs:EPSG::%s"
                   "</ows:SupportedCRS>\n",
                   s->title, s->id, code, geo ? y0 : x0, geo ? x0 : y0,
                   geo ? y1 : x1, geo ? x1 : y1, code);
    if (s->well_known) {
        ht_buf_appendf(b, NULL,
                       "      <WellKnownScaleSet>%s</WellKnownScaleSet>\n",
                       s->well_known);
    }
    for (int level = s->first; level <= s->last; level++) {
        ht_wmts_matrix_size(s, level, &w, &h);
        ht_buf_appendf(b, NULL,
                       "      <TileMatrix>\n"
                       "        <ows:Identifier>%d</ows:Identifier>\n"
                       "        <ScaleDenominator>%.17g</ScaleDenominator>\n"
                       "        <TopLeftCorner>%.17g %.17g</TopLeftCorner>\n"
                       "        <TileWidth>%d</TileWidth>\n"
                       "        <TileHeight>%d</TileHeight>\n"
                       "        <MatrixWidth>%u</MatrixWidth>\n"
                       "        <MatrixHeight>%u</MatrixHeight>\n"
                       "      </TileMatrix>\n",
                       level, ht_wmts_scale_denominator(s, level),
                       geo ? y1 : x0, geo ? x0 : y1, HT_WMTS_TILE, HT_WMTS_TILE,
                       w, h);
    }
    ht_buf_appendf(b, NULL, "    </TileMatrixSet>\n");
}

char *ht_wmts_capabilities(const char *base_url, const ht_wms_layer *layers,
                           size_t n, ht_bbox extent,
                           const ht_wms_contact *contact) {
    ht_buf *b = ht_buf_new();
    if (!b) {
        return NULL;
    }
    ht_buf_appendf(
        b, NULL,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<Capabilities xmlns=\"http://www.opengis.net/wmts/1.0\" "
        "xmlns:ows=\"http://www.opengis.net/ows/1.1\" "
        "xmlns:xlink=\"http://www.w3.org/1999/xlink\" "
        "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
        "xmlns:gml=\"http://www.opengis.net/gml\" "
        "xsi:schemaLocation=\"http://www.opengis.net/wmts/1.0 "
        "http://schemas.opengis.net/wmts/1.0/"
        "wmtsGetCapabilities_response.xsd\" "
        "version=\"1.0.0\">\n"
        "  <ows:ServiceIdentification>\n"
        "    <ows:Title>hutong: city grid incidents</ows:Title>\n"
        "    <ows:Abstract>Grids, streets and alleys, and the incidents "
        "reported in them, as tiles in Web Mercator and in Tianditu's "
        "grids. Vendor parameters filter the incidents: from, to, window, "
        "category, severity, status, source, grid, department, overdue, "
        "satisfaction.</ows:Abstract>\n"
        "    <ows:ServiceType>OGC WMTS</ows:ServiceType>\n"
        "    <ows:ServiceTypeVersion>1.0.0</ows:ServiceTypeVersion>\n"
        "  </ows:ServiceIdentification>\n");
    if (contact &&
        (contact->person || contact->organization || contact->email)) {
        ht_buf_appendf(b, NULL,
                       "  <ows:ServiceProvider>\n"
                       "    <ows:ProviderName>");
        ht_buf_append_escaped(
            b, contact->organization ? contact->organization : "", NULL);
        ht_buf_appendf(b, NULL,
                       "</ows:ProviderName>\n"
                       "    <ows:ServiceContact>\n");
        if (contact->person) {
            ht_buf_appendf(b, NULL, "      <ows:IndividualName>");
            ht_buf_append_escaped(b, contact->person, NULL);
            ht_buf_appendf(b, NULL, "</ows:IndividualName>\n");
        }
        if (contact->email) {
            ht_buf_appendf(b, NULL,
                           "      <ows:ContactInfo><ows:Address>"
                           "<ows:ElectronicMailAddress>");
            ht_buf_append_escaped(b, contact->email, NULL);
            ht_buf_appendf(b, NULL,
                           "</ows:ElectronicMailAddress>"
                           "</ows:Address></ows:ContactInfo>\n");
        }
        ht_buf_appendf(b, NULL,
                       "    </ows:ServiceContact>\n"
                       "  </ows:ServiceProvider>\n");
    }
    ht_buf_appendf(b, NULL, "  <ows:OperationsMetadata>\n");
    operation(b, "GetCapabilities", base_url);
    operation(b, "GetTile", base_url);
    operation(b, "GetFeatureInfo", base_url);
    ht_buf_appendf(b, NULL, "  </ows:OperationsMetadata>\n  <Contents>\n");
    for (size_t k = 0; k < n; k++) {
        layer_xml(b, base_url, &layers[k], extent);
    }
    for (size_t k = 0; k < ht_wmts_nsets; k++) {
        set_xml(b, &ht_wmts_sets[k]);
    }
    ht_buf_appendf(b, NULL,
                   "  </Contents>\n  <ServiceMetadataURL "
                   "xlink:href=\"");
    ht_buf_append_escaped(b, base_url, NULL);
    ht_buf_appendf(b, NULL,
                   "/wmts/1.0.0/WMTSCapabilities.xml\"/>\n</Capabilities>\n");
    return ht_buf_take_string(b);
}
