/* SPDX-License-Identifier: Apache-2.0 */
/* Statistics as JSON objects, for the server to embed without printing and
 * parsing them again (stats.c, routes_api.c). */
#ifndef HUTONG_STATS_INT_H
#define HUTONG_STATS_INT_H

#include <jansson.h>

#include "hutong/stats.h"

/* The object ht_stats_rows_json prints (a new reference; NULL when out of
 * memory). */
json_t *ht__stats_rows_object(const ht_stats_row *r, size_t n, size_t limit,
                              ht_stats_by by, const ht_filter *f);

/* The @k-th smallest of the @n duration codes @v (0-based; reorders @v),
 * and their median in hours (NAN for none). */
uint16_t ht__stats_kth(uint16_t *v, size_t n, size_t k);
double ht__stats_median(uint16_t *v, size_t n);

/* Count with @parts threads (0: the cores) from @from incidents on; for
 * tests. */
void ht__stats_set_parts(size_t parts, size_t from);

#endif
