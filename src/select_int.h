/* SPDX-License-Identifier: Apache-2.0 */
/* Selection (the k-th smallest) for any ordered type, shared by the heat
 * engine's scale and the statistics' medians. */
#ifndef HUTONG_SELECT_INT_H
#define HUTONG_SELECT_INT_H

#include <stddef.h>
#include <stdint.h>

/* Define `static type name(type *v, size_t n, size_t k)`: the @k-th
 * smallest of @v[0..n) (0-based, n > 0), which it partly orders: what lies
 * after position @k is not smaller. Hoare's select with a pseudo-random
 * pivot: linear on average. */
#define HT__DEFINE_KTH(name, type)                  \
    static type name(type *v, size_t n, size_t k) { \
        size_t lo = 0, hi = n - 1;                  \
        uint64_t r = 0x9e3779b97f4a7c15ull ^ n;     \
        while (lo < hi) {                           \
            r ^= r << 13;                           \
            r ^= r >> 7;                            \
            r ^= r << 17;                           \
            type p = v[lo + r % (hi - lo + 1)];     \
            size_t i = lo, j = hi;                  \
            while (i <= j) {                        \
                while (v[i] < p) {                  \
                    i++;                            \
                }                                   \
                while (v[j] > p) {                  \
                    j--;                            \
                }                                   \
                if (i <= j) {                       \
                    type t = v[i];                  \
                    v[i] = v[j];                    \
                    v[j] = t;                       \
                    i++;                            \
                    if (j == 0) {                   \
                        break;                      \
                    }                               \
                    j--;                            \
                }                                   \
            }                                       \
            if (k <= j) {                           \
                hi = j;                             \
            } else if (k >= i) {                    \
                lo = i;                             \
            } else {                                \
                break; /* v[k] equals the pivot */  \
            }                                       \
        }                                           \
        return v[k];                                \
    }

#endif
