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

/* Distinct pixel values of @s. */
static size_t distinct(cairo_surface_t *s) {
    int w = cairo_image_surface_get_width(s);
    int h = cairo_image_surface_get_height(s);
    uint32_t *v = malloc((size_t)w * (size_t)h * sizeof *v);
    size_t n = 0;
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            v[n++] = px(s, x, y);
        }
    }
    size_t d = 0;
    for (size_t i = 0; i < n; i++) {
        bool seen = false;
        for (size_t j = 0; j < d && !seen; j++) {
            seen = v[j] == v[i];
        }
        if (!seen) {
            v[d++] = v[i];
        }
    }
    free(v);
    return d;
}

/* Colours reduced to a palette (mode=8bit): a gradient of 65,536 colours
 * with a transparent hole and a translucent band to 256 at most, each
 * pixel near what it was, the hole still clear; an image of few colours
 * untouched; another format refused. */
static void test_png_quantize(void **state) {
    (void)state;
    cairo_surface_t *s =
        cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 256, 256);
    cairo_surface_flush(s);
    unsigned char *d = cairo_image_surface_get_data(s);
    int stride = cairo_image_surface_get_stride(s);
    for (int y = 0; y < 256; y++) {
        uint32_t *row = (uint32_t *)(d + (size_t)y * (size_t)stride);
        for (int x = 0; x < 256; x++) {
            uint32_t a = y >= 200 ? 128 : 255;
            uint32_t r = (uint32_t)x * a / 255, g = (uint32_t)y * a / 255,
                     b = 64 * a / 255;
            row[x] = x >= 100 && x < 120 && y >= 100 && y < 120
                         ? 0
                         : a << 24 | r << 16 | g << 8 | b;
        }
    }
    cairo_surface_mark_dirty(s);
    cairo_surface_t *orig =
        cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 256, 256);
    cairo_t *cr = cairo_create(orig);
    cairo_set_operator(cr, CAIRO_OPERATOR_SOURCE);
    cairo_set_source_surface(cr, s, 0, 0);
    cairo_paint(cr);
    cairo_destroy(cr);
    assert_int_equal(ht_png_quantize(s, NULL), HT_OK);
    assert_true(distinct(s) <= 256);
    double err = 0;
    int worst = 0;
    for (int y = 0; y < 256; y++) {
        for (int x = 0; x < 256; x++) {
            uint32_t p = px(s, x, y), q = px(orig, x, y);
            if (q == 0) {
                assert_int_equal(p, 0);
            }
            for (int k = 0; k < 32; k += 8) {
                int e = abs((int)(p >> k & 255) - (int)(q >> k & 255));
                err += e;
                worst = e > worst ? e : worst;
            }
        }
    }
    /* a 256 x 256 gradient in 256 boxes: about 16 levels a box side */
    assert_true(err / (256.0 * 256 * 4) < 4);
    assert_true(worst <= 24);
    ht_buf *b = ht_buf_new();
    assert_int_equal(ht_png_encode(s, b, NULL), HT_OK);
    assert_int_equal(color_type(b), 3); /* palette */
    /* Few colours already: the same pixels. */
    cairo_surface_t *few =
        cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 64, 64);
    cr = cairo_create(few);
    cairo_set_source_rgb(cr, 0.2, 0.4, 0.6);
    cairo_rectangle(cr, 0, 0, 32, 64);
    cairo_fill(cr);
    cairo_destroy(cr);
    cairo_surface_flush(few);
    size_t bytes = (size_t)cairo_image_surface_get_stride(few) * 64;
    unsigned char *before = malloc(bytes);
    memcpy(before, cairo_image_surface_get_data(few), bytes);
    assert_int_equal(ht_png_quantize(few, NULL), HT_OK);
    assert_memory_equal(cairo_image_surface_get_data(few), before, bytes);
    free(before);
    cairo_surface_t *rgb = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 4, 4);
    ht_error e = {0};
    assert_int_equal(ht_png_quantize(rgb, &e), HT_EINVAL);
    assert_contains(e.msg, "ARGB32");
    cairo_surface_destroy(rgb);
    cairo_surface_destroy(few);
    cairo_surface_destroy(orig);
    cairo_surface_destroy(s);
    ht_buf_free(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_png_palette_is_lossless),
        cmocka_unit_test(test_png_truecolour_round_trip),
        cmocka_unit_test(test_png_quantize),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
