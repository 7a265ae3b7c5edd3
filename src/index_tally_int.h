/* SPDX-License-Identifier: Apache-2.0 */
/* The statistics' tally inside: what index_tally.c (the walks) and
 * index_tally_memo.c (the base's tallies kept between requests) share. */
#ifndef HUTONG_INDEX_TALLY_INT_H
#define HUTONG_INDEX_TALLY_INT_H

#include "index_int.h"

/* Counters per group: two histograms of what a row is, from which every
 * figure is summed at the end, so that a row costs two increments: A by
 * response and resolution state (ht_due_state at the time, 4 x 4) and the
 * life cycle (open, closed, evaluated); B by satisfaction and whistle kind
 * (the extra column's four bits) and the response state; then the
 * durations known (to close, to arrive). */
enum { TALLY_A = 4 * 4 * 3, TALLY_B = 16 * 4 };
enum { TALLY_CLOSE = TALLY_A + TALLY_B, TALLY_ARRIVE, TALLY_NF };

/* Rank slots per group: two to close, three to arrive. */
enum { TALLY_CLOSE_SLOTS = 2, TALLY_SLOTS = 5, TALLY_NO_BIN = 0xffff };

/* Whether row @i's stored deadlines leave one to judge at the time of the
 * figures (so that its counters change with the clock). */
static inline __attribute__((always_inline)) bool ht__tally_pending(
    const cols *c, size_t i) {
    unsigned oc = c->extra[i] >> 4;
    return (oc & 3) == HT_DUE_PENDING || (oc >> 2 & 3) == HT_DUE_PENDING;
}

/* The two counters row @i adds to at @now: A's and B's. */
static inline __attribute__((always_inline)) void ht__tally_ab(
    const dict *d, const cols *c, size_t i, int64_t now, size_t *a, size_t *b) {
    unsigned st = c->flags[i] >> 5, oc = c->extra[i] >> 4;
    unsigned r0 = oc & 3, r1 = oc >> 2 & 3;
    if (r0 == HT_DUE_PENDING) {
        r0 = ht__due_state(d, c, i, 0, now);
    }
    if (r1 == HT_DUE_PENDING) {
        r1 = ht__due_state(d, c, i, 1, now);
    }
    unsigned life = st < HT_STATE_CLOSED ? 0 : st == HT_STATE_CLOSED ? 1 : 2;
    *a = (r0 * 4 + r1) * 3 + life;
    *b = TALLY_A + (c->extra[i] & 15u) * 4 + r0;
}

/* Group @g's figures (not the ranks) from @v, its TALLY_NF counters. */
void ht__tally_figures(ht_index_tally *t, const int64_t *v);

/* The rank of each slot of @t's durations (TALLY_SLOTS: to close (n-1)/2
 * and n/2, to arrive (n-1)/2, n/2 and the 90th percentile's). */
void ht__tally_ranks(const ht_index_tally *t, int64_t ks[TALLY_SLOTS]);

/* The high byte of rank @k among the counts @h (256 of them), and the
 * rank within it; the low byte of rank @within among @h (0 when NULL). */
uint16_t ht__tally_rank_bin(const uint32_t *h, int64_t k, int64_t *within);
uint16_t ht__tally_rank_low(const uint32_t *h, int64_t within);

/* The base's side of a tally (its live rows passing @q, the changes not
 * counted), as ht__tally_base_counts makes it: per group (NULL: no row)
 * the TALLY_NF counters, of every row but those with a deadline pending
 * (listed, in order, in @pend: their durations are counted), and the
 * durations' high bytes (256, to close then to arrive: ng * 2). */
typedef struct ht__tally_base {
    size_t ng;
    uint32_t **cnt;
    uint32_t **hi;
    uint32_t *pend;
    size_t npend;
} ht__tally_base;

ht_status ht__tally_base_counts(const ht_index *ix, const ht_index_filter *q,
                                ht_group by, bool arrive, size_t parts,
                                ht__tally_base *out, ht_error *err);
void ht__tally_base_free(ht__tally_base *b);

/* Adds to @lo (ng * TALLY_SLOTS histograms, made when first needed) the
 * low bytes of the durations of the base's live rows passing @q whose
 * high byte a slot of their group wants (@want, ng * TALLY_SLOTS, NO_BIN
 * for none; a byte two slots of a kind want is counted in the first). */
ht_status ht__tally_base_lows(const ht_index *ix, const ht_index_filter *q,
                              ht_group by, bool arrive, size_t parts,
                              const uint16_t *want, uint32_t **lo,
                              ht_error *err);

/* The tally from the base's kept tallies when @q is one they keep (none
 * of time or lateness): true when it answered (@st its status), false
 * when the walks must. */
bool ht__tally_memo(const ht_index *ix, const ht_index_filter *q, ht_group by,
                    int64_t now, bool arrive, size_t parts, ht_index_tally *out,
                    ht_status *st, ht_error *err);

/* The base's kept tallies, freed with it. */
void ht__tally_memos_free(struct ht__tally_memos *m);

#endif
