/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: geom. */
#include <math.h>

#include "hutong/geom.h"

#include "ht_test.h"

/* A polygon from flat x,y pairs; rings separated by NAN. */
static ht_geom *poly(const double *xy, size_t n) {
    ht_geom *g = ht_geom_new(HT_GEOM_POLYGON);
    assert_int_equal(ht_geom_start_polygon(g, NULL), HT_OK);
    assert_int_equal(ht_geom_start_part(g, NULL), HT_OK);
    for (size_t i = 0; i < n; i += 2) {
        if (isnan(xy[i])) {
            assert_int_equal(ht_geom_start_part(g, NULL), HT_OK);
            i--;
            continue;
        }
        assert_int_equal(ht_geom_add_point(g, xy[i], xy[i + 1], NULL), HT_OK);
    }
    return g;
}

/* A 10 x 10 square with a 2 x 2 hole at (4..6, 4..6). */
static const double square_with_hole[] = {0, 0, 10, 0, 10, 10, 0, 10, 0, 0, NAN,
                                          4, 4, 4,  6, 6,  6,  6, 4,  4, 4};

static void test_geom_contains_respects_holes(void **state) {
    (void)state;
    ht_geom *g = poly(square_with_hole,
                      sizeof square_with_hole / sizeof *square_with_hole);
    assert_int_equal(g->nparts, 2);
    assert_int_equal(ht_geom_validate(g, NULL), HT_OK);
    assert_true(ht_geom_contains(g, 1, 1));
    assert_true(ht_geom_contains(g, 9, 5));
    assert_false(ht_geom_contains(g, 5, 5)); /* in the hole */
    assert_false(ht_geom_contains(g, 11, 5));
    assert_false(ht_geom_contains(g, -1, -1));
    ht_bbox b = ht_geom_bbox(g);
    assert_true(b.minx == 0 && b.miny == 0 && b.maxx == 10 && b.maxy == 10);
    ht_geom_free(g);
}

static void test_geom_wkb_round_trip_all_types(void **state) {
    (void)state;
    ht_buf *b = ht_buf_new();
    for (int t = HT_GEOM_POINT; t <= HT_GEOM_MULTIPOLYGON; t++) {
        ht_geom *g = ht_geom_new((ht_geom_type)t);
        int polys = t == HT_GEOM_POLYGON        ? 1
                    : t == HT_GEOM_MULTIPOLYGON ? 2
                                                : 0;
        int parts = t == HT_GEOM_POINT || t == HT_GEOM_LINESTRING ? 1 : 3;
        for (int p = 0; p < (polys ? polys : 1); p++) {
            if (polys) {
                ht_geom_start_polygon(g, NULL);
            }
            for (int r = 0; r < (polys ? 1 + p : parts); r++) {
                ht_geom_start_part(g, NULL);
                int n = t == HT_GEOM_POINT || t == HT_GEOM_MULTIPOINT ? 1
                        : polys                                       ? 5
                                                                      : 3;
                for (int k = 0; k < n; k++) {
                    double x = 116.4 + p + r * 0.01 + k * 0.001;
                    ht_geom_add_point(
                        g, polys && k == n - 1 ? 116.4 + p + r * 0.01 : x,
                        39.9 + (k % 2) * 0.001, NULL);
                }
            }
        }
        ht_buf_clear(b);
        assert_int_equal(ht_geom_to_wkb(g, b, NULL), HT_OK);
        ht_geom *back = NULL;
        assert_int_equal(ht_geom_from_wkb(b->data, b->len, &back, NULL), HT_OK);
        assert_int_equal(back->type, g->type);
        assert_int_equal(back->npts, g->npts);
        assert_int_equal(back->nparts, g->nparts);
        assert_int_equal(back->npolys, g->npolys);
        assert_memory_equal(back->pts, g->pts, g->npts * sizeof *g->pts);
        /* Every truncation is refused, never read past the end. */
        for (size_t cut = 0; cut < b->len; cut++) {
            ht_geom *bad = (ht_geom *)1;
            ht_error err = {0};
            assert_int_equal(ht_geom_from_wkb(b->data, cut, &bad, &err),
                             HT_EINVAL);
            assert_null(bad);
        }
        ht_geom_free(back);
        ht_geom_free(g);
    }
    ht_buf_free(b);
}

static void test_geom_wkb_big_endian(void **state) {
    (void)state;
    /* POINT(1 2) in big-endian WKB. */
    const unsigned char be[] = {0, 0, 0,    0, 1, 0x3f, 0xf0, 0, 0, 0, 0,
                                0, 0, 0x40, 0, 0, 0,    0,    0, 0, 0};
    ht_geom *g;
    assert_int_equal(ht_geom_from_wkb(be, sizeof be, &g, NULL), HT_OK);
    assert_true(g->pts[0].x == 1 && g->pts[0].y == 2);
    ht_geom_free(g);
    const unsigned char bad_type[] = {1, 7, 0, 0, 0};
    ht_error err = {0};
    assert_int_equal(ht_geom_from_wkb(bad_type, sizeof bad_type, &g, &err),
                     HT_EINVAL);
    assert_contains(err.msg, "type 7");
}

/* A MultiPolygon whose first member is POLYGON EMPTY (no rings): read
 * without it, and an interior point found in the other member. */
static void test_geom_wkb_empty_polygon_member(void **state) {
    (void)state;
    unsigned char w[128];
    size_t n = 0;
#define U8(v) (w[n++] = (unsigned char)(v))
#define U32(v)                           \
    do {                                 \
        uint32_t v_ = (v);               \
        for (int k_ = 0; k_ < 4; k_++) { \
            U8(v_ >> (8 * k_));          \
        }                                \
    } while (0)
#define F64(v)                 \
    do {                       \
        double d_ = (v);       \
        memcpy(w + n, &d_, 8); \
        n += 8;                \
    } while (0)
    U8(1);
    U32(6); /* MultiPolygon */
    U32(2);
    U8(1);
    U32(3); /* Polygon */
    U32(0); /* no rings */
    U8(1);
    U32(3);
    U32(1);
    U32(4);
    const double tri[] = {0, 0, 2, 0, 0, 2, 0, 0};
    for (int k = 0; k < 8; k++) {
        F64(tri[k]);
    }
    ht_geom *g;
    ht_error err = {0};
    assert_int_equal(ht_geom_from_wkb(w, n, &g, &err), HT_OK);
    assert_int_equal(g->npolys, 1);
    ht_point p;
    assert_int_equal(ht_geom_interior_point(g, &p, &err), HT_OK);
    assert_true(ht_geom_contains(g, p.x, p.y));
    ht_geom_free(g);
    /* Only the empty member: no area, said so. */
    n = 0;
    U8(1);
    U32(6);
    U32(1);
    U8(1);
    U32(3);
    U32(0);
#undef U8
#undef U32
#undef F64
    assert_int_equal(ht_geom_from_wkb(w, n, &g, &err), HT_OK);
    assert_int_equal(ht_geom_interior_point(g, &p, &err), HT_EINVAL);
    assert_contains(err.msg, "no area");
    ht_geom_free(g);
}

static void test_geom_bbox_parse(void **state) {
    (void)state;
    ht_bbox b;
    ht_error err = {0};
    assert_int_equal(ht_bbox_parse("116.40,39.90,116.42,39.92", &b, &err),
                     HT_OK);
    assert_true(b.minx == 116.40 && b.miny == 39.90 && b.maxx == 116.42 &&
                b.maxy == 39.92);
    assert_int_equal(ht_bbox_parse("-1e3,-2,3e-1,4", &b, &err), HT_OK);
    const char *bad[] = {"",          "1,2,3",      "1,2,3,4,5", "1,2,3,4 ",
                         " 1,2,3,4",  "1,,3,4",     "a,2,3,4",   "1,2,3,nan",
                         "1,2,3,inf", "3,2,1,4",    "1,4,3,2",   "1,2,1,4",
                         "1;2;3;4",   "0x1,2,3,4x", NULL};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        ht_bbox keep = {7, 7, 8, 8}, out = keep;
        if (ht_bbox_parse(bad[k], &out, &err) != HT_EINVAL) {
            fail_msg("\"%s\" accepted", bad[k] ? bad[k] : "(null)");
        }
        assert_memory_equal(&out, &keep, sizeof keep);
    }
}

static void test_geom_validate_rejects_bad_rings(void **state) {
    (void)state;
    const double open[] = {0, 0, 1, 0, 1, 1, 0, 1};
    ht_geom *g = poly(open, 8);
    ht_error err = {0};
    assert_int_equal(ht_geom_validate(g, &err), HT_EINVAL);
    assert_contains(err.msg, "not closed");
    ht_geom_free(g);
    const double tiny[] = {0, 0, 1, 0, 0, 0};
    g = poly(tiny, 6);
    assert_int_equal(ht_geom_validate(g, &err), HT_EINVAL);
    assert_contains(err.msg, "needs 4");
    ht_geom_free(g);
    const double inf[] = {0, 0, INFINITY, 0, 1, 1, 0, 0};
    g = poly(inf, 8);
    assert_int_equal(ht_geom_validate(g, &err), HT_EINVAL);
    assert_contains(err.msg, "not finite");
    ht_geom_free(g);
    g = ht_geom_new(HT_GEOM_LINESTRING);
    assert_int_equal(ht_geom_validate(g, &err), HT_EINVAL);
    ht_geom_start_part(g, NULL);
    ht_geom_add_point(g, 1, 1, NULL);
    assert_int_equal(ht_geom_validate(g, &err), HT_EINVAL);
    assert_contains(err.msg, "needs 2");
    ht_geom_free(g);
}

static void test_geom_orient_and_interior_point(void **state) {
    (void)state;
    /* A clockwise U shape: its box centre (5, 5) is outside it. */
    const double u[] = {0, 0, 0,  10, 3,  10, 3, 3, 7,
                        3, 7, 10, 10, 10, 10, 0, 0, 0};
    ht_geom *g = poly(u, sizeof u / sizeof *u);
    assert_true(ht_geom_ring_signed_area(g, 0) < 0);
    ht_geom_orient(g);
    assert_true(ht_geom_ring_signed_area(g, 0) > 0);
    assert_false(ht_geom_contains(g, 5, 5));
    ht_point p;
    assert_int_equal(ht_geom_interior_point(g, &p, NULL), HT_OK);
    assert_true(ht_geom_contains(g, p.x, p.y));
    ht_geom_free(g);
    /* Holes end up clockwise. */
    g = poly(square_with_hole,
             sizeof square_with_hole / sizeof *square_with_hole);
    ht_geom_orient(g);
    assert_true(ht_geom_ring_signed_area(g, 1) < 0);
    assert_int_equal(ht_geom_interior_point(g, &p, NULL), HT_OK);
    assert_true(ht_geom_contains(g, p.x, p.y));
    ht_geom_free(g);
    ht_geom *line = ht_geom_new(HT_GEOM_LINESTRING);
    assert_int_equal(ht_geom_interior_point(line, &p, NULL), HT_EINVAL);
    ht_geom_free(line);
}

static void test_geom_area_on_the_sphere(void **state) {
    (void)state;
    /* 1 x 1 degree at the equator: R^2 * d_lambda * (sin 1 deg - sin 0). */
    const double sq[] = {0, 0, 1, 0, 1, 1, 0, 1, 0, 0};
    ht_geom *g = poly(sq, 10);
    double r = 6371007.181, k = HT_PI / 180;
    double want = r * r * k * sin(k);
    assert_true(fabs(ht_geom_area_m2(g) - want) / want < 1e-9);
    ht_geom_free(g);
    g = poly(square_with_hole,
             sizeof square_with_hole / sizeof *square_with_hole);
    double outer = r * r * 10 * k * sin(10 * k);
    double hole = r * r * 2 * k * (sin(6 * k) - sin(4 * k));
    assert_true(fabs(ht_geom_area_m2(g) - (outer - hole)) / outer < 1e-9);
    ht_geom_free(g);
}

/* A box meets a geometry through a vertex, an edge crossing it, or (a
 * polygon) lying inside it; not in a hole, not in the empty corner of an
 * L, not beside a line. */
static void test_geom_meets_box(void **state) {
    (void)state;
    /* an L: (0,0)-(10,0)-(10,4)-(4,4)-(4,10)-(0,10), a hole at (1..2)^2 */
    ht_geom *l = ht_geom_new(HT_GEOM_POLYGON);
    const double ring[][2] = {{0, 0},  {10, 0}, {10, 4}, {4, 4},
                              {4, 10}, {0, 10}, {0, 0}};
    const double hole[][2] = {{1, 1}, {2, 1}, {2, 2}, {1, 2}, {1, 1}};
    assert_int_equal(ht_geom_start_polygon(l, NULL), HT_OK);
    assert_int_equal(ht_geom_start_part(l, NULL), HT_OK);
    for (size_t k = 0; k < 7; k++) {
        ht_geom_add_point(l, ring[k][0], ring[k][1], NULL);
    }
    assert_int_equal(ht_geom_start_part(l, NULL), HT_OK);
    for (size_t k = 0; k < 5; k++) {
        ht_geom_add_point(l, hole[k][0], hole[k][1], NULL);
    }
    ht_bbox in_corner = {6, 6, 9, 9}, inside = {0.5, 5, 3, 9},
            in_hole = {1.2, 1.2, 1.8, 1.8}, across = {3, 6, 5, 7},
            vertex = {9, 3, 11, 5}, away = {20, 20, 30, 30};
    assert_false(ht_geom_meets_box(l, &in_corner));
    assert_true(ht_geom_meets_box(l, &inside));
    assert_false(ht_geom_meets_box(l, &in_hole));
    assert_true(ht_geom_meets_box(l, &across));
    assert_true(ht_geom_meets_box(l, &vertex));
    assert_false(ht_geom_meets_box(l, &away));
    /* a line crossing a box with no vertex in it; one passing by */
    ht_geom *s = ht_geom_new(HT_GEOM_LINESTRING);
    assert_int_equal(ht_geom_start_part(s, NULL), HT_OK);
    ht_geom_add_point(s, 0, 0, NULL);
    ht_geom_add_point(s, 10, 10, NULL);
    ht_bbox mid = {4, 4.5, 6, 5.5}, by = {6, 1, 9, 4};
    assert_true(ht_geom_meets_box(s, &mid));
    assert_false(ht_geom_meets_box(s, &by));
    assert_false(ht_geom_meets_box(NULL, &mid));
    ht_geom_free(l);
    ht_geom_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_geom_contains_respects_holes),
        cmocka_unit_test(test_geom_wkb_round_trip_all_types),
        cmocka_unit_test(test_geom_wkb_big_endian),
        cmocka_unit_test(test_geom_wkb_empty_polygon_member),
        cmocka_unit_test(test_geom_bbox_parse),
        cmocka_unit_test(test_geom_validate_rejects_bad_rings),
        cmocka_unit_test(test_geom_orient_and_interior_point),
        cmocka_unit_test(test_geom_area_on_the_sphere),
        cmocka_unit_test(test_geom_meets_box),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
