/* SPDX-License-Identifier: Apache-2.0 */
/* Large buffers kept for the next request (pool.c). */
#ifndef HUTONG_POOL_INT_H
#define HUTONG_POOL_INT_H

#include <stddef.h>

/* What the buffers are for: one kind is never handed out for another. */
enum { HT__POOL_GRID = 1, HT__POOL_DOTS, HT__POOL_DOT_ORDER };

/* What the pool holds at most, in bytes. */
#define HT__POOL_BYTES ((size_t)16 << 20)

/* The buffer of @kind given back last whose bytes lie between @min and
 * @max (its bytes in @bytes), taken out of the pool; NULL (and 0) when
 * none. Give it back (or free it). */
void *ht__pool_take(int kind, size_t min, size_t max, size_t *bytes);
/* Keep @p (@bytes, of @kind) for the next, within the pool's bytes (those
 * given back longest ago dropped to make room), or free it. NULL: none. */
void ht__pool_give(int kind, void *p, size_t bytes);
/* What the pool holds now; setting its bytes empties it (for tests). */
size_t ht__pool_bytes(void);
void ht__pool_set_cap(size_t bytes);

#endif
