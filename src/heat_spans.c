/* SPDX-License-Identifier: Apache-2.0 */
/* A density grid kept row by row from its first node that is not 0 to its
 * last: a class of few incidents (a severity of a minor category) covers
 * a part of the district, and the rest of its rectangle is 0. */
#include <stdlib.h>
#include <string.h>

#include "heat_int.h"

heat_spans *ht__heat_spans_new(const double *v, size_t nx, size_t ny) {
    heat_spans *s = calloc(1, sizeof *s);
    if (!s || !(s->row = malloc((ny ? ny : 1) * sizeof *s->row)) ||
        !(s->at = malloc((ny ? ny : 1) * sizeof *s->at))) {
        ht__heat_spans_free(s);
        return NULL;
    }
    s->ny = ny;
    /* As floats: a node is 0 when its float is. */
    size_t nv = 0;
    for (size_t j = 0; j < ny; j++) {
        const double *r = v + j * nx;
        size_t i0 = 0, i1 = nx;
        while (i0 < nx && (float)r[i0] == 0) {
            i0++;
        }
        while (i1 > i0 && (float)r[i1 - 1] == 0) {
            i1--;
        }
        s->row[j][0] = (uint32_t)(i0 < i1 ? i0 : 0);
        s->row[j][1] = (uint32_t)(i1 - (i0 < i1 ? i0 : i1));
        s->at[j] = nv;
        nv += s->row[j][1];
    }
    s->nv = nv;
    if (!(s->v = malloc((nv ? nv : 1) * sizeof *s->v))) {
        ht__heat_spans_free(s);
        return NULL;
    }
    for (size_t j = 0; j < ny; j++) {
        const double *r = v + j * nx + s->row[j][0];
        float *o = s->v + s->at[j];
        for (size_t k = 0; k < s->row[j][1]; k++) {
            o[k] = (float)r[k];
        }
    }
    return s;
}

bool ht__heat_spans_check(heat_spans *s, size_t nx) {
    size_t nv = 0;
    for (size_t j = 0; j < s->ny; j++) {
        if (s->row[j][0] > nx || s->row[j][1] > nx - s->row[j][0]) {
            return false;
        }
        s->at[j] = nv;
        nv += s->row[j][1];
    }
    return nv == s->nv;
}

void ht__heat_spans_free(heat_spans *s) {
    if (s) {
        free(s->row);
        free(s->at);
        free(s->v);
        free(s);
    }
}

size_t ht__heat_spans_bytes(const heat_spans *s) {
    return s->nv * sizeof *s->v + s->ny * (sizeof *s->row + sizeof *s->at);
}

void ht__heat_spans_add_rows(const heat_spans *s, size_t nx, size_t j0,
                             size_t j1, double *acc) {
    for (size_t j = j0; j < j1 && j < s->ny; j++) {
        double *o = acc + (j - j0) * nx + s->row[j][0];
        const float *v = s->v + s->at[j];
        for (size_t k = 0; k < s->row[j][1]; k++) {
            o[k] += v[k];
        }
    }
}

void ht__heat_spans_add(const heat_spans *s, size_t nx, double *acc) {
    ht__heat_spans_add_rows(s, nx, 0, s->ny, acc);
}

heat_spans *ht__heat_spans_plus(const heat_spans *was, double *acc, size_t nx,
                                size_t ny) {
    size_t nodes = nx * ny;
    double *sum = acc ? acc : calloc(nodes ? nodes : 1, sizeof *sum);
    if (!sum) {
        return NULL;
    }
    if (was) {
        ht__heat_spans_add(was, nx, sum);
    }
    heat_spans *s = ht__heat_spans_new(sum, nx, ny);
    if (!acc) {
        free(sum);
    }
    return s;
}
