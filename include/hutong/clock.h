/* SPDX-License-Identifier: Apache-2.0 */
/* The time "now" of everything that depends on it (open incidents past
 * their deadline): the system clock, unless a test has set it. */
#ifndef HUTONG_CLOCK_H
#define HUTONG_CLOCK_H

#include <stdint.h>

/** UTC seconds now: the set time, else the time in the file named by
 * $HUTONG_CLOCK_FILE (a test hook for servers), else the system clock. */
int64_t ht_clock_now(void);

/** Fix "now" at @t (UTC seconds); 0 goes back to the system clock. For
 * tests; not meant to change while other threads read it. */
void ht_clock_set(int64_t t);

#endif
