/* SPDX-License-Identifier: Apache-2.0 */
/* Coordinate transforms: any EPSG CRS through PROJ, plus GCJ-02 and BD-09. */
#include "hutong/crs.h"

#include <ctype.h>
#include <math.h>
#include <proj.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum stage_kind {
    STAGE_IDENTITY,
    STAGE_PROJ,
    STAGE_GCJ02,
    STAGE_BD09
} stage_kind;

/* One half of a transform: between some CRS and WGS 84 lon/lat. */
typedef struct stage {
    stage_kind kind;
    PJ *pj; /* normalised for x,y order; CRS -> EPSG:4326 */
} stage;

struct ht_transform {
    PJ_CONTEXT *ctx;
    stage in;                        /* src -> WGS 84 */
    stage out;                       /* WGS 84 -> dst (PJ used in reverse) */
    double west, south, east, north; /* source area of use, degrees */
    char src[HT_CRS_NAME_SIZE];
};

ht_status ht_crs_normalize(const char *spec, char out[HT_CRS_NAME_SIZE],
                           ht_error *err) {
    static const struct {
        const char *alias;
        const char *name;
    } aliases[] = {{"wgs84", "EPSG:4326"},
                   {"cgcs2000", "EPSG:4490"},
                   {"webmercator", "EPSG:3857"},
                   {"gcj02", "gcj02"},
                   {"gcj-02", "gcj02"},
                   {"bd09", "bd09"},
                   {"bd-09", "bd09"}};
    if (!spec || !*spec || strlen(spec) >= HT_CRS_NAME_SIZE - 8) {
        return ht_error_set(err, HT_EINVAL, "empty or overlong CRS");
    }
    for (size_t i = 0; i < sizeof aliases / sizeof *aliases; i++) {
        if (strcasecmp(spec, aliases[i].alias) == 0) {
            snprintf(out, HT_CRS_NAME_SIZE, "%s", aliases[i].name);
            return HT_OK;
        }
    }
    const char *colon = strchr(spec, ':');
    const char *code = colon ? colon + 1 : spec;
    size_t auth_len = colon ? (size_t)(colon - spec) : 0;
    for (size_t i = 0; i < auth_len; i++) {
        if (!isalpha((unsigned char)spec[i])) {
            auth_len = 0;
            break;
        }
    }
    bool ok = *code != '\0' && (!colon || auth_len > 0);
    for (const char *p = code; ok && *p; p++) {
        /* (a code alone is EPSG's number: digits) */
        ok = colon ? isalnum((unsigned char)*p) != 0
                   : isdigit((unsigned char)*p) != 0;
    }
    if (!ok) {
        return ht_error_set(err, HT_EINVAL,
                            "\"%s\" is not a CRS (expected EPSG:n or its "
                            "number, wgs84, cgcs2000, webmercator, gcj02 or "
                            "bd09)",
                            spec);
    }
    char auth[16] = "EPSG";
    for (size_t i = 0; colon && i < auth_len && i < sizeof auth - 1; i++) {
        auth[i] = (char)toupper((unsigned char)spec[i]);
        auth[i + 1] = '\0';
    }
    snprintf(out, HT_CRS_NAME_SIZE, "%s:%s", auth, code);
    return HT_OK;
}

static ht_status stage_init(PJ_CONTEXT *ctx, const char *name, stage *s,
                            double area[4], ht_error *err) {
    area[0] = -180;
    area[1] = -90;
    area[2] = 180;
    area[3] = 90;
    if (strcmp(name, "gcj02") == 0) {
        s->kind = STAGE_GCJ02;
        return HT_OK;
    }
    if (strcmp(name, "bd09") == 0) {
        s->kind = STAGE_BD09;
        return HT_OK;
    }
    if (strcmp(name, "EPSG:4326") == 0) {
        s->kind = STAGE_IDENTITY;
        return HT_OK;
    }
    PJ *crs = proj_create(ctx, name);
    if (!crs || !proj_is_crs(crs)) {
        proj_destroy(crs);
        return ht_error_set(err, HT_EINVAL, "unknown CRS \"%s\"", name);
    }
    double w, so, e, n;
    if (proj_get_area_of_use(ctx, crs, &w, &so, &e, &n, NULL) && w > -1000) {
        area[0] = w;
        area[1] = so;
        area[2] = e;
        area[3] = n;
    }
    PJ *wgs = proj_create(ctx, "EPSG:4326");
    PJ *raw =
        wgs ? proj_create_crs_to_crs_from_pj(ctx, crs, wgs, NULL, NULL) : NULL;
    proj_destroy(wgs);
    proj_destroy(crs);
    PJ *norm = raw ? proj_normalize_for_visualization(ctx, raw) : NULL;
    proj_destroy(raw);
    if (!norm) {
        return ht_error_set(
            err, HT_EPROJ, "no transform from \"%s\" to EPSG:4326: %s", name,
            proj_context_errno_string(ctx, proj_context_errno(ctx)));
    }
    s->kind = STAGE_PROJ;
    s->pj = norm;
    return HT_OK;
}

ht_status ht_crs_transform_new(const char *src, const char *dst,
                               ht_transform **out, ht_error *err) {
    *out = NULL;
    char sname[HT_CRS_NAME_SIZE], dname[HT_CRS_NAME_SIZE];
    ht_status st = ht_crs_normalize(src ? src : "EPSG:4326", sname, err);
    if (st != HT_OK) {
        return st;
    }
    if ((st = ht_crs_normalize(dst ? dst : "EPSG:4326", dname, err)) != HT_OK) {
        return st;
    }
    ht_transform *t = calloc(1, sizeof *t);
    if (!t) {
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    t->ctx = proj_context_create();
    if (!t->ctx) {
        free(t);
        return ht_error_set(err, HT_ENOMEM, "cannot create a PROJ context");
    }
    proj_log_level(t->ctx, PJ_LOG_NONE);
    proj_context_set_enable_network(t->ctx, 0);
    snprintf(t->src, sizeof t->src, "%s", sname);
    double area[4], unused[4];
    st = stage_init(t->ctx, sname, &t->in, area, err);
    if (st == HT_OK) {
        st = stage_init(t->ctx, dname, &t->out, unused, err);
    }
    if (st != HT_OK) {
        ht_crs_transform_free(t);
        return st;
    }
    t->west = area[0];
    t->south = area[1];
    t->east = area[2];
    t->north = area[3];
    *out = t;
    return HT_OK;
}

void ht_crs_transform_free(ht_transform *t) {
    if (!t) {
        return;
    }
    proj_destroy(t->in.pj);
    proj_destroy(t->out.pj);
    proj_context_destroy(t->ctx);
    free(t);
}

bool ht_crs_transform_is_identity(const ht_transform *t) {
    return t->in.kind == STAGE_IDENTITY && t->out.kind == STAGE_IDENTITY;
}

bool ht_crs_outside_china(double lon, double lat) {
    return lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271;
}

/* The published GCJ-02 offset polynomials (Krasovsky ellipsoid). */
static double gcj_dlat(double x, double y) {
    double r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y +
               0.2 * sqrt(fabs(x));
    r +=
        (20.0 * sin(6.0 * x * HT_PI) + 20.0 * sin(2.0 * x * HT_PI)) * 2.0 / 3.0;
    r += (20.0 * sin(y * HT_PI) + 40.0 * sin(y / 3.0 * HT_PI)) * 2.0 / 3.0;
    r += (160.0 * sin(y / 12.0 * HT_PI) + 320 * sin(y * HT_PI / 30.0)) * 2.0 /
         3.0;
    return r;
}

static double gcj_dlon(double x, double y) {
    double r =
        300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt(fabs(x));
    r +=
        (20.0 * sin(6.0 * x * HT_PI) + 20.0 * sin(2.0 * x * HT_PI)) * 2.0 / 3.0;
    r += (20.0 * sin(x * HT_PI) + 40.0 * sin(x / 3.0 * HT_PI)) * 2.0 / 3.0;
    r += (150.0 * sin(x / 12.0 * HT_PI) + 300.0 * sin(x / 30.0 * HT_PI)) * 2.0 /
         3.0;
    return r;
}

void ht_crs_wgs84_to_gcj02(double lon, double lat, double *olon, double *olat) {
    const double a = 6378245.0;
    const double ee = 0.00669342162296594323;
    if (ht_crs_outside_china(lon, lat)) {
        *olon = lon;
        *olat = lat;
        return;
    }
    double dlat = gcj_dlat(lon - 105.0, lat - 35.0);
    double dlon = gcj_dlon(lon - 105.0, lat - 35.0);
    double radlat = lat / 180.0 * HT_PI;
    double magic = sin(radlat);
    magic = 1 - ee * magic * magic;
    double sqrtmagic = sqrt(magic);
    dlat = (dlat * 180.0) / ((a * (1 - ee)) / (magic * sqrtmagic) * HT_PI);
    dlon = (dlon * 180.0) / (a / sqrtmagic * cos(radlat) * HT_PI);
    *olon = lon + dlon;
    *olat = lat + dlat;
}

void ht_crs_gcj02_to_bd09(double lon, double lat, double *olon, double *olat) {
    const double xpi = HT_PI * 3000.0 / 180.0;
    double z = sqrt(lon * lon + lat * lat) + 0.00002 * sin(lat * xpi);
    double theta = atan2(lat, lon) + 0.000003 * cos(lon * xpi);
    *olon = z * cos(theta) + 0.0065;
    *olat = z * sin(theta) + 0.006;
}

/* Invert a forward map f by fixed-point iteration: x <- x + (target - f(x)).
 * Both offsets are smooth and small, so this converges to far below 1 mm in
 * a handful of rounds; stop once the step is under 1e-12 degrees. */
static void invert(void (*f)(double, double, double *, double *), double lon,
                   double lat, double *olon, double *olat) {
    double x = lon, y = lat;
    for (int i = 0; i < 30; i++) {
        double fx, fy;
        f(x, y, &fx, &fy);
        double dx = lon - fx, dy = lat - fy;
        x += dx;
        y += dy;
        if (fabs(dx) < 1e-12 && fabs(dy) < 1e-12) {
            break;
        }
    }
    *olon = x;
    *olat = y;
}

void ht_crs_gcj02_to_wgs84(double lon, double lat, double *olon, double *olat) {
    invert(ht_crs_wgs84_to_gcj02, lon, lat, olon, olat);
}

void ht_crs_bd09_to_gcj02(double lon, double lat, double *olon, double *olat) {
    invert(ht_crs_gcj02_to_bd09, lon, lat, olon, olat);
}

static ht_status stage_to_wgs84(ht_transform *t, const stage *s, double *x,
                                double *y, ht_error *err) {
    switch (s->kind) {
    case STAGE_IDENTITY:
        return HT_OK;
    case STAGE_GCJ02:
        ht_crs_gcj02_to_wgs84(*x, *y, x, y);
        return HT_OK;
    case STAGE_BD09: {
        double gx, gy;
        ht_crs_bd09_to_gcj02(*x, *y, &gx, &gy);
        ht_crs_gcj02_to_wgs84(gx, gy, x, y);
        return HT_OK;
    }
    case STAGE_PROJ: {
        PJ_COORD c = proj_coord(*x, *y, 0, 0);
        c = proj_trans(s->pj, PJ_FWD, c);
        if (!isfinite(c.xy.x) || !isfinite(c.xy.y)) {
            int e = proj_errno(s->pj);
            proj_errno_reset(s->pj);
            return ht_error_set(
                err, HT_EINVAL, "(%g, %g) cannot be transformed from %s: %s",
                *x, *y, t->src,
                e ? proj_context_errno_string(t->ctx, e) : "no result");
        }
        *x = c.xy.x;
        *y = c.xy.y;
        return HT_OK;
    }
    }
    return HT_EINTERNAL;
}

static ht_status stage_from_wgs84(ht_transform *t, const stage *s, double *x,
                                  double *y, ht_error *err) {
    switch (s->kind) {
    case STAGE_IDENTITY:
        return HT_OK;
    case STAGE_GCJ02:
        ht_crs_wgs84_to_gcj02(*x, *y, x, y);
        return HT_OK;
    case STAGE_BD09:
        ht_crs_wgs84_to_gcj02(*x, *y, x, y);
        ht_crs_gcj02_to_bd09(*x, *y, x, y);
        return HT_OK;
    case STAGE_PROJ: {
        PJ_COORD c = proj_trans(s->pj, PJ_INV, proj_coord(*x, *y, 0, 0));
        if (!isfinite(c.xy.x) || !isfinite(c.xy.y)) {
            int e = proj_errno(s->pj);
            proj_errno_reset(s->pj);
            return ht_error_set(
                err, HT_EINVAL, "(%g, %g) cannot be transformed: %s", *x, *y,
                e ? proj_context_errno_string(t->ctx, e) : "no result");
        }
        *x = c.xy.x;
        *y = c.xy.y;
        return HT_OK;
    }
    }
    return HT_EINTERNAL;
}

ht_status ht_crs_transform_point(ht_transform *t, double x, double y,
                                 double *ox, double *oy, ht_error *err) {
    if (!isfinite(x) || !isfinite(y)) {
        return ht_error_set(err, HT_EINVAL, "coordinate is not finite");
    }
    double lx = x, ly = y;
    ht_status st = stage_to_wgs84(t, &t->in, &lx, &ly, err);
    if (st != HT_OK) {
        return st;
    }
    /* A small margin lets data that hugs an area's edge through. */
    const double eps = 1e-6;
    if (!(lx >= t->west - eps && lx <= t->east + eps && ly >= t->south - eps &&
          ly <= t->north + eps)) {
        return ht_error_set(err, HT_EINVAL,
                            "(%.9g, %.9g) is outside the area of use of %s "
                            "(lon %g..%g, lat %g..%g)",
                            x, y, t->src, t->west, t->east, t->south, t->north);
    }
    if ((st = stage_from_wgs84(t, &t->out, &lx, &ly, err)) != HT_OK) {
        return st;
    }
    *ox = lx;
    *oy = ly;
    return HT_OK;
}

ht_status ht_crs_transform_points(ht_transform *t, ht_point *pts, size_t n,
                                  ht_error *err) {
    if (ht_crs_transform_is_identity(t)) {
        for (size_t i = 0; i < n; i++) {
            double x = pts[i].x, y = pts[i].y;
            if (!(x >= -180 && x <= 180 && y >= -90 && y <= 90)) {
                return ht_error_set(err, HT_EINVAL,
                                    "vertex %zu (%.9g, %.9g) is outside the "
                                    "area of use of EPSG:4326 (lon "
                                    "-180..180, lat -90..90)",
                                    i, x, y);
            }
        }
        return HT_OK;
    }
    ht_point *tmp = malloc((n ? n : 1) * sizeof *tmp);
    if (!tmp) {
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        ht_status st = ht_crs_transform_point(t, pts[i].x, pts[i].y, &tmp[i].x,
                                              &tmp[i].y, err);
        if (st != HT_OK) {
            ht_error_prefix(err, "vertex %zu: ", i);
            free(tmp);
            return st;
        }
    }
    memcpy(pts, tmp, n * sizeof *tmp);
    free(tmp);
    return HT_OK;
}

ht_status ht_crs_wkt(const char *spec, char **out, ht_error *err) {
    *out = NULL;
    char name[HT_CRS_NAME_SIZE];
    ht_status st = ht_crs_normalize(spec, name, err);
    if (st != HT_OK) {
        return st;
    }
    PJ_CONTEXT *ctx = proj_context_create();
    if (!ctx) {
        return ht_error_set(err, HT_ENOMEM, "cannot create a PROJ context");
    }
    proj_log_level(ctx, PJ_LOG_NONE);
    PJ *crs = proj_create(ctx, name);
    const char *wkt = crs && proj_is_crs(crs)
                          ? proj_as_wkt(ctx, crs, PJ_WKT1_ESRI, NULL)
                          : NULL;
    if (wkt && !(*out = strdup(wkt))) {
        st = ht_error_set(err, HT_ENOMEM, "out of memory");
    } else if (!wkt) {
        st = ht_error_set(err, HT_EINVAL, "no WKT for CRS \"%s\"", name);
    }
    proj_destroy(crs);
    proj_context_destroy(ctx);
    return st;
}

ht_status ht_crs_north_first(const char *spec, bool *out, ht_error *err) {
    char name[HT_CRS_NAME_SIZE];
    ht_status st = ht_crs_normalize(spec, name, err);
    if (st != HT_OK) {
        return st;
    }
    if (strcmp(name, "gcj02") == 0 || strcmp(name, "bd09") == 0) {
        *out = false; /* longitude, latitude by convention */
        return HT_OK;
    }
    PJ_CONTEXT *ctx = proj_context_create();
    if (!ctx) {
        return ht_error_set(err, HT_ENOMEM, "cannot create a PROJ context");
    }
    proj_log_level(ctx, PJ_LOG_NONE);
    PJ *crs = proj_create(ctx, name);
    PJ *cs = crs && proj_is_crs(crs) ? proj_crs_get_coordinate_system(ctx, crs)
                                     : NULL;
    const char *dir = NULL;
    if (!cs ||
        !proj_cs_get_axis_info(ctx, cs, 0, NULL, NULL, &dir, NULL, NULL, NULL,
                               NULL) ||
        !dir) {
        st = ht_error_set(err, HT_EINVAL, "unknown CRS \"%s\"", name);
    } else {
        *out = strcmp(dir, "north") == 0 || strcmp(dir, "south") == 0;
    }
    proj_destroy(cs);
    proj_destroy(crs);
    proj_context_destroy(ctx);
    return st;
}

ht_status ht_crs_is_geographic(const char *spec, bool *out, ht_error *err) {
    char name[HT_CRS_NAME_SIZE];
    ht_status st = ht_crs_normalize(spec, name, err);
    if (st != HT_OK) {
        return st;
    }
    if (strcmp(name, "gcj02") == 0 || strcmp(name, "bd09") == 0) {
        *out = true;
        return HT_OK;
    }
    PJ_CONTEXT *ctx = proj_context_create();
    if (!ctx) {
        return ht_error_set(err, HT_ENOMEM, "cannot create a PROJ context");
    }
    proj_log_level(ctx, PJ_LOG_NONE);
    PJ *crs = proj_create(ctx, name);
    if (!crs || !proj_is_crs(crs)) {
        st = ht_error_set(err, HT_EINVAL, "unknown CRS \"%s\"", name);
    } else {
        PJ_TYPE t = proj_get_type(crs);
        *out = t == PJ_TYPE_GEOGRAPHIC_2D_CRS || t == PJ_TYPE_GEOGRAPHIC_3D_CRS;
    }
    proj_destroy(crs);
    proj_context_destroy(ctx);
    return st;
}
