/* SPDX-License-Identifier: Apache-2.0 */
/* Statistics as JSON objects, for the server to embed without printing and
 * parsing them again (stats.c, routes_api.c). */
#ifndef HUTONG_STATS_INT_H
#define HUTONG_STATS_INT_H

#include <jansson.h>
#include <stdbool.h>

#include "hutong/stats.h"

/* The object ht_stats_rows_json prints (a new reference; NULL when out of
 * memory). */
json_t *ht__stats_rows_object(const ht_stats_row *r, size_t n, size_t limit,
                              ht_stats_by by, const ht_filter *f);

/* The median in hours of the @n duration codes @v (NAN for none). */
double ht__stats_median(const uint16_t *v, size_t n);
/* The @ks[r]-th smallest (0-based, each below @n) of the @n codes @v into
 * @out[r], for @m ranks (at most 4), @v untouched. */
void ht__stats_ranks(const uint16_t *v, size_t n, const size_t *ks, size_t m,
                     uint16_t *out);

/* Count with @parts threads (0: the cores) from @from incidents on; for
 * tests. */
void ht__stats_set_parts(size_t parts, size_t from);

/* Bytes the tallies of all time kept of an index's base take at most
 * (index_tally_memo.c): 0 keeps none, SIZE_MAX (the default) one byte an
 * incident and 8 MiB at least. For tests and benches. */
void ht__tally_memo_set_budget(size_t bytes);
/* How many tallies a kept one answered. */
uint64_t ht__tally_memo_hits(void);
/* Every other group's kept counts in 32 bits even when 16 hold them. */
void ht__tally_memo_set_wide(bool on);

#endif
