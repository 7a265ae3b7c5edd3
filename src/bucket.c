/* SPDX-License-Identifier: Apache-2.0 */
/* A uniform bucket grid over boxes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bucket_int.h"

static size_t clampz(double v, size_t hi) {
    if (!(v > 0)) {
        return 0;
    }
    return v >= (double)hi ? hi - 1 : (size_t)v;
}

void ht__buckets_range(const ht__buckets *b, const ht_bbox *r, size_t *i0,
                       size_t *j0, size_t *i1, size_t *j1) {
    *i0 = clampz((r->minx - b->box.minx) / b->cw, b->nx);
    *i1 = clampz((r->maxx - b->box.minx) / b->cw, b->nx);
    *j0 = clampz((r->miny - b->box.miny) / b->ch, b->ny);
    *j1 = clampz((r->maxy - b->box.miny) / b->ch, b->ny);
}

void ht__buckets_free(ht__buckets *b) {
    free(b->start);
    free(b->items);
    memset(b, 0, sizeof *b);
}

ht_status ht__buckets_build(ht__buckets *b, const ht_bbox *boxes, size_t n,
                            const uint32_t *order, double cell_w, double cell_h,
                            ht_error *err) {
    memset(b, 0, sizeof *b);
    b->box = ht_bbox_empty();
    for (size_t k = 0; k < n; k++) {
        ht_bbox_add(&b->box, boxes[k].minx, boxes[k].miny);
        ht_bbox_add(&b->box, boxes[k].maxx, boxes[k].maxy);
    }
    if (n == 0) {
        b->box = (ht_bbox){0, 0, 1, 1};
    }
    double w = fmax(b->box.maxx - b->box.minx, 1e-9);
    double h = fmax(b->box.maxy - b->box.miny, 1e-9);
    if (!(cell_w > 0) || !(cell_h > 0)) {
        double cells = fmin(fmax((double)n * 4, 4096), 1 << 22);
        cell_w = cell_h = sqrt(w * h / cells);
    }
    while ((w / cell_w) * (h / cell_h) > (double)(1 << 23)) {
        cell_w *= 2;
        cell_h *= 2;
    }
    b->nx = (size_t)ceil(w / cell_w);
    b->ny = (size_t)ceil(h / cell_h);
    b->nx += b->nx == 0;
    b->ny += b->ny == 0;
    b->cw = fmax(w / (double)b->nx, cell_w);
    b->ch = fmax(h / (double)b->ny, cell_h);
    size_t ncell = b->nx * b->ny;
    b->start = calloc(ncell + 1, sizeof *b->start);
    if (!b->start) {
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    /* Two passes, count then place, keep it to two allocations. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t kk = 0; kk < n; kk++) {
            size_t k = order ? order[kk] : kk;
            size_t i0, j0, i1, j1;
            ht__buckets_range(b, &boxes[k], &i0, &j0, &i1, &j1);
            for (size_t j = j0; j <= j1; j++) {
                for (size_t i = i0; i <= i1; i++) {
                    size_t c = j * b->nx + i;
                    if (pass == 0) {
                        b->start[c + 1]++;
                    } else {
                        b->items[b->start[c]++] = (uint32_t)k;
                    }
                }
            }
        }
        if (pass == 0) {
            for (size_t c = 0; c < ncell; c++) {
                b->start[c + 1] += b->start[c];
            }
            b->items = malloc((b->start[ncell] ? b->start[ncell] : 1) *
                              sizeof *b->items);
            if (!b->items) {
                ht__buckets_free(b);
                return ht_error_set(err, HT_ENOMEM, "out of memory");
            }
        } else {
            /* start[c] now holds the end of cell c: shift back. */
            memmove(b->start + 1, b->start, ncell * sizeof *b->start);
            b->start[0] = 0;
        }
    }
    return HT_OK;
}
