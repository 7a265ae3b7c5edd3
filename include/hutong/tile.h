/* SPDX-License-Identifier: Apache-2.0 */
/* Web Mercator tile maths: XYZ tiles, boxes, zoom levels. */
#ifndef HUTONG_TILE_H
#define HUTONG_TILE_H

#include <stdbool.h>
#include <stdint.h>

#include "hutong/error.h"
#include "hutong/geom.h"

/** Highest zoom level hutong serves. */
#define HT_TILE_MAX_ZOOM 22

/** Half the width of the EPSG:3857 world in metres. */
#define HT_MERC_HALF 20037508.342789244

/** An XYZ tile: y counts from the north (TMS/MBTiles rows from the south:
 * tms_y = 2^z - 1 - y). */
typedef struct ht_tile_id {
    int z;
    uint32_t x;
    uint32_t y;
} ht_tile_id;

/**
 * Check that @t exists: 0 <= z <= HT_TILE_MAX_ZOOM, x and y below 2^z.
 * HT_EINVAL names the bad part ("zoom 23 outside 0..22").
 */
ht_status ht_tile_check(ht_tile_id t, ht_error *err);

/** The tile's box in EPSG:3857 metres. Cannot fail for a checked tile. */
ht_bbox ht_tile_bbox(ht_tile_id t);

/** The zoom-@z tile (0..HT_TILE_MAX_ZOOM) holding EPSG:3857 (@x, @y);
 * points beyond the world's edge take the edge tile. Cannot fail. */
ht_tile_id ht_tile_at(double x, double y, int z);

/** Lon/lat (degrees) to EPSG:3857 metres, closed form. Latitudes beyond
 * +-85.0511 are clamped. Cannot fail. */
void ht_tile_lonlat_to_merc(double lon, double lat, double *x, double *y);

/** EPSG:3857 metres to lon/lat degrees. Cannot fail. */
void ht_tile_merc_to_lonlat(double x, double y, double *lon, double *lat);

/**
 * The zoom level (possibly fractional) whose 256 px tiles show @m_per_px
 * ground metres per pixel at latitude @lat_deg: what a map of that scale
 * would look like as tiles. Cannot fail (returns -inf for m_per_px <= 0).
 */
double ht_tile_zoom_for_resolution(double m_per_px, double lat_deg);

#endif
