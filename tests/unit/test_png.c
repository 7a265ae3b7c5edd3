/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: png. */
#include "hutong/png.h"

#include "ht_test.h"

typedef struct reader {
    const ht_buf *b;
    size_t off;
} reader;

static cairo_status_t read_cb(void *ud, unsigned char *data, unsigned int len) {
    reader *r = ud;
    if (r->off + len > r->b->len) {
        return CAIRO_STATUS_READ_ERROR;
    }
    memcpy(data, r->b->data + r->off, len);
    r->off += len;
    return CAIRO_STATUS_SUCCESS;
}

static cairo_surface_t *decode(const ht_buf *b) {
    reader r = {b, 0};
    cairo_surface_t *s =
        cairo_image_surface_create_from_png_stream(read_cb, &r);
    assert_int_equal(cairo_surface_status(s), CAIRO_STATUS_SUCCESS);
    return s;
}

static uint32_t px(cairo_surface_t *s, int x, int y) {
    const unsigned char *d = cairo_image_surface_get_data(s);
    int stride = cairo_image_surface_get_stride(s);
    return ((const uint32_t *)(d + (size_t)y * stride))[x];
}

/* The PNG colour type byte of the IHDR chunk. */
static int color_type(const ht_buf *b) {
    return b->data[25];
}

static void test_png_palette_is_lossless(void **state) {
    (void)state;
    cairo_surface_t *s =
        cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 256, 256);
    cairo_t *cr = cairo_create(s);
    cairo_set_source_rgba(cr, 0.2, 0.4, 0.6, 0.5);
    cairo_paint(cr);
    cairo_set_source_rgb(cr, 1, 0, 0);
    cairo_rectangle(cr, 10, 10, 100, 50);
    cairo_fill(cr);
    cairo_destroy(cr);
    ht_buf *b = ht_buf_new();
    assert_int_equal(ht_png_encode(s, b, NULL), HT_OK);
    assert_memory_equal(b->data, "\x89PNG", 4);
    assert_int_equal(color_type(b), 3); /* palette */
    assert_int_equal(b->data[24], 1);   /* two colours: 1 bit */
    cairo_surface_t *d = decode(b);
    for (int y = 0; y < 256; y += 7) {
        for (int x = 0; x < 256; x += 5) {
            assert_int_equal(px(d, x, y), px(s, x, y));
        }
    }
    cairo_surface_destroy(d);
    /* Fully transparent: a tiny file. */
    cairo_surface_t *e =
        cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 256, 256);
    ht_buf_clear(b);
    assert_int_equal(ht_png_encode(e, b, NULL), HT_OK);
    assert_true(b->len < 200);
    cairo_surface_destroy(e);
    cairo_surface_destroy(s);
    ht_buf_free(b);
}

static void test_png_truecolour_round_trip(void **state) {
    (void)state;
    cairo_surface_t *s =
        cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 200, 100);
    /* Thousands of colours: red across, green down. */
    cairo_surface_flush(s);
    unsigned char *pd = cairo_image_surface_get_data(s);
    for (int y = 0; y < 100; y++) {
        uint32_t *row =
            (uint32_t *)(pd + (size_t)y * cairo_image_surface_get_stride(s));
        for (int x = 0; x < 200; x++) {
            row[x] = 0xff000000u | (uint32_t)(x * 255 / 199) << 16 |
                     (uint32_t)(y * 255 / 99) << 8 | 0x40;
        }
    }
    cairo_surface_mark_dirty(s);
    cairo_t *cr;
    cairo_pattern_t *g;
    ht_buf *b = ht_buf_new();
    assert_int_equal(ht_png_encode(s, b, NULL), HT_OK);
    assert_int_equal(color_type(b), 2); /* opaque: RGB */
    cairo_surface_t *d = decode(b);
    for (int y = 0; y < 100; y += 3) {
        for (int x = 0; x < 200; x += 3) {
            assert_int_equal(px(d, x, y), px(s, x, y));
        }
    }
    cairo_surface_destroy(d);
    /* Translucent gradient: RGBA, premultiplication undone within a unit. */
    cairo_surface_t *t =
        cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 300, 20);
    cr = cairo_create(t);
    g = cairo_pattern_create_linear(0, 0, 300, 0);
    cairo_pattern_add_color_stop_rgba(g, 0, 0, 0.5, 1, 0.1);
    cairo_pattern_add_color_stop_rgba(g, 1, 1, 0.5, 0, 0.9);
    cairo_set_source(cr, g);
    cairo_paint(cr);
    cairo_pattern_destroy(g);
    cairo_destroy(cr);
    ht_buf_clear(b);
    assert_int_equal(ht_png_encode(t, b, NULL), HT_OK);
    assert_int_equal(color_type(b), 6);
    d = decode(b);
    for (int x = 0; x < 300; x++) {
        uint32_t p = px(d, x, 10), q = px(t, x, 10);
        for (int sh = 0; sh < 32; sh += 8) {
            int dv = (int)(p >> sh & 255) - (int)(q >> sh & 255);
            assert_true(dv >= -1 && dv <= 1);
        }
    }
    cairo_surface_destroy(d);
    cairo_surface_destroy(t);
    cairo_surface_destroy(s);
    /* Not an ARGB32 image: refused, buffer untouched. */
    cairo_surface_t *a8 = cairo_image_surface_create(CAIRO_FORMAT_A8, 4, 4);
    ht_buf_clear(b);
    ht_error err = {0};
    assert_int_equal(ht_png_encode(a8, b, &err), HT_EINVAL);
    assert_int_equal(b->len, 0);
    cairo_surface_destroy(a8);
    ht_buf_free(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_png_palette_is_lossless),
        cmocka_unit_test(test_png_truecolour_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
