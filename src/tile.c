/* SPDX-License-Identifier: Apache-2.0 */
/* Web Mercator tile maths: XYZ tiles, boxes, zoom levels. */
#include "hutong/tile.h"

#include <math.h>

#define MERC_MAX_LAT 85.05112877980659

ht_status ht_tile_check(ht_tile_id t, ht_error *err) {
    if (t.z < 0 || t.z > HT_TILE_MAX_ZOOM) {
        return ht_error_set(err, HT_EINVAL, "zoom %d outside 0..%d", t.z,
                            HT_TILE_MAX_ZOOM);
    }
    uint32_t n = 1u << t.z;
    if (t.x >= n) {
        return ht_error_set(err, HT_EINVAL, "x %u outside 0..%u at zoom %d",
                            (unsigned)t.x, (unsigned)(n - 1), t.z);
    }
    if (t.y >= n) {
        return ht_error_set(err, HT_EINVAL, "y %u outside 0..%u at zoom %d",
                            (unsigned)t.y, (unsigned)(n - 1), t.z);
    }
    return HT_OK;
}

ht_bbox ht_tile_bbox(ht_tile_id t) {
    double size = 2 * HT_MERC_HALF / (double)(1u << t.z);
    double minx = -HT_MERC_HALF + size * t.x;
    double maxy = HT_MERC_HALF - size * t.y;
    return (ht_bbox){minx, maxy - size, minx + size, maxy};
}

ht_tile_id ht_tile_at(double x, double y, int z) {
    double n = (double)(1u << z);
    double fx = floor((x + HT_MERC_HALF) / (2 * HT_MERC_HALF) * n);
    double fy = floor((HT_MERC_HALF - y) / (2 * HT_MERC_HALF) * n);
    fx = fmin(fmax(fx, 0), n - 1);
    fy = fmin(fmax(fy, 0), n - 1);
    return (ht_tile_id){z, (uint32_t)fx, (uint32_t)fy};
}

void ht_tile_lonlat_to_merc(double lon, double lat, double *x, double *y) {
    lat = fmax(fmin(lat, MERC_MAX_LAT), -MERC_MAX_LAT);
    *x = lon * HT_MERC_HALF / 180.0;
    *y = log(tan(HT_PI / 4 + lat * HT_PI / 360.0)) * HT_MERC_HALF / HT_PI;
}

void ht_tile_merc_to_lonlat(double x, double y, double *lon, double *lat) {
    *lon = x * 180.0 / HT_MERC_HALF;
    *lat =
        (2 * atan(exp(y * HT_PI / HT_MERC_HALF)) - HT_PI / 2) * 180.0 / HT_PI;
}

double ht_tile_zoom_for_resolution(double m_per_px, double lat_deg) {
    if (!(m_per_px > 0)) {
        return -INFINITY;
    }
    /* Tiles of zoom z show 2 * HALF / (256 * 2^z) projected metres per
     * pixel, that is cos(lat) times as many ground metres. */
    double ground0 = 2 * HT_MERC_HALF / 256.0 * cos(lat_deg * HT_PI / 180.0);
    return log2(ground0 / m_per_px);
}
