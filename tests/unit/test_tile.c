/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: tile. */
#include <math.h>

#include "hutong/tile.h"

#include "ht_test.h"

static void test_tile_check_ranges(void **state) {
    (void)state;
    ht_error err = {0};
    assert_int_equal(ht_tile_check((ht_tile_id){0, 0, 0}, &err), HT_OK);
    assert_int_equal(ht_tile_check((ht_tile_id){22, 4194303, 4194303}, &err),
                     HT_OK);
    assert_int_equal(ht_tile_check((ht_tile_id){23, 0, 0}, &err), HT_EINVAL);
    assert_contains(err.msg, "zoom 23 outside 0..22");
    assert_int_equal(ht_tile_check((ht_tile_id){-1, 0, 0}, &err), HT_EINVAL);
    assert_int_equal(ht_tile_check((ht_tile_id){3, 8, 0}, &err), HT_EINVAL);
    assert_contains(err.msg, "x 8 outside 0..7");
    assert_int_equal(ht_tile_check((ht_tile_id){3, 0, 8}, &err), HT_EINVAL);
    assert_contains(err.msg, "y 8 outside 0..7");
}

static void test_tile_bbox_y_counts_from_the_north(void **state) {
    (void)state;
    ht_bbox w = ht_tile_bbox((ht_tile_id){0, 0, 0});
    assert_true(fabs(w.minx + HT_MERC_HALF) < 1e-6);
    assert_true(fabs(w.maxy - HT_MERC_HALF) < 1e-6);
    ht_bbox nw = ht_tile_bbox((ht_tile_id){1, 0, 0});
    assert_true(nw.miny == 0 && nw.maxx == 0);
    assert_true(fabs(nw.maxy - HT_MERC_HALF) < 1e-6);
    /* The tile holding Tiananmen at zoom 15 (a well-known address). */
    double x, y;
    ht_tile_lonlat_to_merc(116.3913, 39.9073, &x, &y);
    int z = 15;
    ht_tile_id at = ht_tile_at(x, y, z);
    uint32_t tx = at.x, ty = at.y;
    assert_int_equal(tx, 26978);
    assert_int_equal(ty, 12416);
    /* Beyond the world's edge: the edge tile. */
    ht_tile_id first = ht_tile_at(-HT_MERC_HALF - 1, HT_MERC_HALF + 1, 3);
    ht_tile_id last = ht_tile_at(HT_MERC_HALF, -HT_MERC_HALF, 3);
    assert_true(first.z == 3 && first.x == 0 && first.y == 0);
    assert_true(last.x == 7 && last.y == 7);
    ht_bbox b = ht_tile_bbox((ht_tile_id){z, tx, ty});
    assert_true(x >= b.minx && x < b.maxx && y > b.miny && y <= b.maxy);
}

static void test_tile_mercator_round_trip(void **state) {
    (void)state;
    for (double lat = -85; lat <= 85; lat += 5) {
        for (double lon = -180; lon <= 180; lon += 15) {
            double x, y, lo, la;
            ht_tile_lonlat_to_merc(lon, lat, &x, &y);
            ht_tile_merc_to_lonlat(x, y, &lo, &la);
            assert_true(fabs(lo - lon) < 1e-9 && fabs(la - lat) < 1e-9);
        }
    }
    double x, y;
    ht_tile_lonlat_to_merc(116.39, 39.9, &x, &y);
    assert_true(fabs(x - 12956475.53) < 0.01); /* 116.39 / 180 * HALF */
}

static void test_tile_zoom_for_resolution(void **state) {
    (void)state;
    /* At the equator zoom 0 shows 156543.03 m per pixel. */
    assert_true(fabs(ht_tile_zoom_for_resolution(156543.03392804097, 0)) <
                1e-9);
    double res15 = 156543.03392804097 / 32768 * cos(39.9 * HT_PI / 180);
    assert_true(fabs(ht_tile_zoom_for_resolution(res15, 39.9) - 15) < 1e-9);
    assert_true(isinf(ht_tile_zoom_for_resolution(0, 0)));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tile_check_ranges),
        cmocka_unit_test(test_tile_bbox_y_counts_from_the_north),
        cmocka_unit_test(test_tile_mercator_round_trip),
        cmocka_unit_test(test_tile_zoom_for_resolution),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
