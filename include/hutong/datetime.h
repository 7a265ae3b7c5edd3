/* SPDX-License-Identifier: Apache-2.0 */
/* ISO 8601 times to and from UTC seconds. */
#ifndef HUTONG_DATETIME_H
#define HUTONG_DATETIME_H

#include <stddef.h>
#include <stdint.h>

#include "hutong/error.h"

/** Marks "no time" in int64 time fields. */
#define HT_TIME_NONE INT64_MIN

/**
 * Parse an ISO 8601 time into seconds since 1970-01-01T00:00:00Z.
 * Accepted: a bare date `YYYY-MM-DD` (midnight UTC), or a date and time
 * `YYYY-MM-DDThh:mm[:ss[.fff]]` (a space may stand for T) ending in `Z` or
 * an offset `±hh:mm` / `±hhmm` / `±hh`. A time without zone is refused
 * (HT_EINVAL) when @allow_local is 0, else read as UTC. Fractions of a
 * second are dropped. HT_EINVAL names the reason.
 */
ht_status ht_datetime_parse(const char *s, int allow_local, int64_t *out,
                            ht_error *err);

/** Seconds from the civil date (proleptic Gregorian, UTC). Cannot fail. */
int64_t ht_datetime_from_civil(int y, int m, int d, int hh, int mm, int ss);

/** Civil date of @t (UTC). Cannot fail. */
void ht_datetime_to_civil(int64_t t, int *y, int *m, int *d, int *hh, int *mm,
                          int *ss);

/**
 * Parse a calendar month "YYYY-MM" (1970..9999). HT_EINVAL names it.
 */
ht_status ht_datetime_parse_month(const char *s, int *y, int *m, ht_error *err);

/** The start (UTC) of month @m of year @y moved by @shift months. Cannot
 * fail. */
int64_t ht_datetime_month_start(int y, int m, int shift);

/**
 * Write @t as `YYYY-MM-DDThh:mm:ssZ` into @out (at least 21 bytes).
 * Cannot fail.
 */
void ht_datetime_format(int64_t t, char *out, size_t size);

#endif
