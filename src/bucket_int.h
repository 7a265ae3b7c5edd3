/* SPDX-License-Identifier: Apache-2.0 */
/* A uniform bucket grid over boxes: the in-memory spatial index shared by
 * locate and features. */
#ifndef HUTONG_BUCKET_INT_H
#define HUTONG_BUCKET_INT_H

#include <stddef.h>
#include <stdint.h>

#include "hutong/error.h"
#include "hutong/geom.h"

/** Cell (i, j) lists items items[start[c] .. start[c + 1]), c = j*nx + i. */
typedef struct ht__buckets {
    ht_bbox box;
    double cw, ch;
    size_t nx, ny;
    size_t *start;
    uint32_t *items;
} ht__buckets;

/**
 * Index @n boxes. Cells are about @cell_w x @cell_h (0: square cells, about
 * four per item), enlarged to keep the grid under 2^23 cells. Items enter
 * their cells in the order given by @order (NULL: 0..n-1), so every cell's
 * list keeps that order. On error @b holds nothing.
 */
ht_status ht__buckets_build(ht__buckets *b, const ht_bbox *boxes, size_t n,
                            const uint32_t *order, double cell_w, double cell_h,
                            ht_error *err);

/** Free the index (not @b itself). */
void ht__buckets_free(ht__buckets *b);

/** The range of cells that @r covers, clamped to the grid. */
void ht__buckets_range(const ht__buckets *b, const ht_bbox *r, size_t *i0,
                       size_t *j0, size_t *i1, size_t *j1);

#endif
