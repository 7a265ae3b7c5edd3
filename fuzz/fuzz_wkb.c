/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: WKB as the store hands it over, read; what reads is
 * checked, measured, written back and read again to the same bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hutong/buf.h"
#include "hutong/geom.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ht_geom *g = NULL;
    ht_error err = {0};
    if (ht_geom_from_wkb(data, size, &g, &err) != HT_OK) {
        return 0;
    }
    ht_geom_bbox(g);
    ht_geom_validate(g, &err);
    /* The features read grids from the store this way, unchecked. */
    ht_point p;
    if (ht_geom_interior_point(g, &p, &err) == HT_OK) {
        ht_geom_contains(g, p.x, p.y);
    }
    ht_buf *b = ht_buf_new();
    if (b && ht_geom_to_wkb(g, b, &err) == HT_OK) {
        ht_geom *again = NULL;
        if (ht_geom_from_wkb(b->data, b->len, &again, &err) != HT_OK) {
            abort(); /* what we write must read back */
        }
        ht_buf *b2 = ht_buf_new();
        if (b2 && ht_geom_to_wkb(again, b2, &err) == HT_OK &&
            (b2->len != b->len || memcmp(b2->data, b->data, b->len) != 0)) {
            abort(); /* and be written the same again */
        }
        ht_buf_free(b2);
        ht_geom_free(again);
    }
    ht_buf_free(b);
    ht_geom_free(g);
    return 0;
}
