/* SPDX-License-Identifier: Apache-2.0 */
/* What the statistics count, tallied by group in tight walks over the
 * index's columns: counters in one pass with histograms of the durations'
 * high bytes, then, for the ranks the medians need, one more pass counting
 * the low bytes of the codes in each rank's high byte. Every incident is
 * read twice at most and nothing is collected per incident. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hutong/index.h"

#include "index_int.h"

/* Counters per group, 32 bits within a part: two histograms of what a
 * row is, from which every figure is summed at the end, so that a row
 * costs two increments: A by response and resolution state (ht_due_state
 * at the time, 4 x 4) and the life cycle (open, closed, evaluated); B by
 * satisfaction and whistle kind (the extra column's four bits) and the
 * response state; then the durations known (to close, to arrive). */
enum { A_N = 4 * 4 * 3, B_N = 16 * 4, C_CLOSE = A_N + B_N, C_ARRIVE, NF };

#define INLINE static inline __attribute__((always_inline))

/* Rank slots per group: two to close, three to arrive. */
enum { CLOSE_SLOTS = 2, ARRIVE_SLOTS = 3, SLOTS = 5, NO_BIN = 0xffff };

typedef struct tally_part {
    const ht_index *ix;
    const ht_index_filter *q;
    ht_group by;
    int64_t now;
    bool arrive;
    size_t part, parts, ng;
    int pass;
    bool oom; /* a histogram could not be had */
    /* pass 1 */
    uint32_t **cnt; /* per group, NF: made when first needed */
    /* the high bytes' counts (256) of each group's durations to close,
     * then to arrive: made when first needed */
    uint32_t **hi; /* ng * 2 */
    /* pass 2: per group and slot the high byte wanted (NO_BIN: none), and
     * the low bytes' counts (256) of the codes with it, made when needed */
    const uint16_t *want; /* ng * SLOTS */
    uint32_t **lo;        /* ng * SLOTS */
    /* per high byte: 1 when a group wants it to close, 2 to arrive */
    const uint8_t *hot;
    /* the filter's tables */
    const ht__qtab *tab;
    /* the rows the first walk counted, while they are few (a window):
     * the second walk reads those, not every row again */
    uint32_t *rows;
    size_t nrows, caprows;
    bool listed;
} tally_part;

/* Rows a part lists at the most. */
#define LIST_ROWS (1u << 18)

/* Row @i in @p's list, while it holds them all. */
INLINE void list_row(tally_part *p, size_t i) {
    if (!p->listed) {
        return;
    }
    if (p->nrows == p->caprows) {
        size_t cap = p->caprows ? 2 * p->caprows : 4096;
        uint32_t *r =
            cap <= LIST_ROWS ? realloc(p->rows, cap * sizeof *r) : NULL;
        if (!r) {
            p->listed = false; /* too many (or no memory): walk again */
            return;
        }
        p->rows = r;
        p->caprows = cap;
    }
    p->rows[p->nrows++] = (uint32_t)i;
}

/* The month (ht__month_of) of each day since 1970, for the years the
 * index's times reach: a lookup where the calendar takes divisions. */
#define DAYS 50040 /* 137 years */
static uint16_t month_of_day[DAYS];
static pthread_once_t months_once = PTHREAD_ONCE_INIT;

static void make_months(void) {
    for (uint32_t d = 0; d < DAYS; d++) {
        month_of_day[d] = (uint16_t)ht__month_of(d * 86400u);
    }
}

/* The group of row @i: the month from the table, the others as every walk
 * finds them. */
INLINE size_t group_of(const tally_part *p, const cols *c, size_t i,
                       ht_group by) {
    if (by == HT_GROUP_MONTH) {
        uint32_t d = c->t[i] / 86400;
        return d < DAYS && month_of_day[d] < NMONTHS ? month_of_day[d]
                                                     : NMONTHS;
    }
    return ht__group_of_row(p->ix, c, i, by);
}

/* The @n counts at @at, made zero when first needed; NULL (and @p's oom
 * set) when out of memory. */
static inline uint32_t *block_at(tally_part *p, uint32_t **at, size_t n) {
    if (!*at && !(*at = calloc(n, sizeof **at))) {
        p->oom = true;
    }
    return *at;
}

/* (256 of them: a histogram of bytes) */
static inline uint32_t *counts_at(tally_part *p, uint32_t **at) {
    return block_at(p, at, 256);
}
INLINE void count_row(tally_part *p, const cols *c, size_t i, ht_group by) {
    size_t g = group_of(p, c, i, by);
    uint32_t *a = block_at(p, &p->cnt[g], NF);
    if (!a) {
        return;
    }
    unsigned st = c->flags[i] >> 5, oc = c->extra[i] >> 4;
    unsigned r0 = oc & 3, r1 = oc >> 2 & 3;
    if (r0 == HT_DUE_PENDING) {
        r0 = ht__due_state(p->ix->d, c, i, 0, p->now);
    }
    if (r1 == HT_DUE_PENDING) {
        r1 = ht__due_state(p->ix->d, c, i, 1, p->now);
    }
    unsigned life = st < HT_STATE_CLOSED ? 0 : st == HT_STATE_CLOSED ? 1 : 2;
    a[(r0 * 4 + r1) * 3 + life]++;
    a[A_N + (c->extra[i] & 15) * 4 + r0]++;
    uint16_t cl = c->close[i];
    uint32_t *h;
    if (cl != HT_STATS_NO_DURATION && (h = counts_at(p, &p->hi[g * 2]))) {
        a[C_CLOSE]++;
        h[cl >> 8]++;
    }
    uint16_t ar = p->arrive ? c->arrive[i] : HT_STATS_NO_DURATION;
    if (ar != HT_STATS_NO_DURATION && (h = counts_at(p, &p->hi[g * 2 + 1]))) {
        a[C_ARRIVE]++;
        h[ar >> 8]++;
    }
}

/* Group @g's figures from @v, its counters summed over the parts. */
static void figures(ht_index_tally *t, const int64_t *v) {
    for (unsigned r0 = 0; r0 < 4; r0++) {
        for (unsigned r1 = 0; r1 < 4; r1++) {
            for (unsigned life = 0; life < 3; life++) {
                int64_t n = v[(r0 * 4 + r1) * 3 + life];
                t->count += n;
                t->response_on_time += r0 == HT_DUE_ON_TIME ? n : 0;
                t->response_decided +=
                    r0 == HT_DUE_ON_TIME || r0 == HT_DUE_LATE ? n : 0;
                t->resolution_on_time += r1 == HT_DUE_ON_TIME ? n : 0;
                t->resolution_decided +=
                    r1 == HT_DUE_ON_TIME || r1 == HT_DUE_LATE ? n : 0;
                t->overdue +=
                    life == 0 && (r0 == HT_DUE_LATE || r1 == HT_DUE_LATE) ? n
                                                                          : 0;
                t->open += life == 0 ? n : 0;
                t->evaluated += life == 2 ? n : 0;
            }
        }
    }
    for (unsigned ex = 0; ex < 16; ex++) {
        unsigned sat = ex & 3, wh = ex >> 2;
        for (unsigned r0 = 0; r0 < 4; r0++) {
            int64_t n = v[A_N + ex * 4 + r0];
            t->rated += sat != HT_SAT_NONE ? n : 0;
            t->satisfied +=
                sat == HT_SAT_SATISFIED || sat == HT_SAT_BASIC ? n : 0;
            if (wh != HT_WHISTLE_NONE) {
                t->whistles[0] += n;
                t->whistles[wh] += n;
                t->whistles_on_time += r0 == HT_DUE_ON_TIME ? n : 0;
                t->whistles_decided +=
                    r0 == HT_DUE_ON_TIME || r0 == HT_DUE_LATE ? n : 0;
            }
        }
    }
    t->nclose = v[C_CLOSE];
    t->narrive = v[C_ARRIVE];
}

/* The low byte of @code into the slot among @n from @s0 that wants its
 * high byte. */
INLINE void count_low(tally_part *p, size_t g, int s0, int n, uint16_t code) {
    const uint16_t *w = p->want + g * SLOTS + s0;
    for (int s = 0; s < n; s++) {
        uint32_t *h;
        if (w[s] == code >> 8) {
            if ((h = counts_at(p,
                               &p->lo[g * SLOTS + (size_t)s0 + (size_t)s]))) {
                h[code & 0xff]++;
            }
            return;
        }
    }
}

INLINE void rank_row(tally_part *p, const cols *c, size_t i, size_t g) {
    uint16_t cl = c->close[i];
    if (cl != HT_STATS_NO_DURATION) {
        count_low(p, g, 0, CLOSE_SLOTS, cl);
    }
    if (p->arrive && c->arrive[i] != HT_STATS_NO_DURATION) {
        count_low(p, g, CLOSE_SLOTS, ARRIVE_SLOTS, c->arrive[i]);
    }
}

/* Whether @code's high byte is one that slots @s0.. (@n) of group @g
 * want. */
INLINE bool wants(const tally_part *p, size_t g, int s0, int n, uint16_t code) {
    const uint16_t *w = p->want + g * SLOTS + s0;
    bool hit = false;
    for (int s = 0; s < n; s++) {
        hit |= w[s] == code >> 8;
    }
    return hit;
}

/* The group of row @i when a duration of it has a high byte its group
 * wants (a table of the high bytes any group wants first), else
 * (size_t)-1: most rows are passed over before the filter is asked. */
INLINE size_t wanted(const tally_part *p, const cols *c, size_t i,
                     ht_group by) {
    uint16_t cl = c->close[i];
    uint16_t ar = p->arrive ? c->arrive[i] : HT_STATS_NO_DURATION;
    if (!(p->hot[cl >> 8] & 1) && !(p->hot[ar >> 8] & 2)) {
        return (size_t)-1;
    }
    size_t g = group_of(p, c, i, by);
    return wants(p, g, 0, CLOSE_SLOTS, cl) ||
                   (p->arrive && wants(p, g, CLOSE_SLOTS, ARRIVE_SLOTS, ar))
               ? g
               : (size_t)-1;
}

/* Rows @i0..@i1 of the base in blocks of 64 (aligned to the dead bits'
 * words): which are within the filter's times and, in the second pass,
 * have a duration with a high byte some group wants, without a branch a
 * row; then those rows one by one. */
INLINE void walk_base(tally_part *p, size_t i0, size_t i1, int pass,
                      ht_group by) {
    const ht_index *ix = p->ix;
    const cols *c = &ix->b->c;
    const uint8_t *hot = p->hot;
    const ht__qtab *t = p->tab;
    if (pass == 2 && p->listed) {
        /* the rows the first walk counted, when they were few */
        for (size_t k = 0; k < p->nrows; k++) {
            size_t g = wanted(p, c, p->rows[k], by);
            if (g != (size_t)-1) {
                rank_row(p, c, p->rows[k], g);
            }
        }
        return;
    }
    for (size_t w0 = i0 / 64 * 64; !t->none && w0 < i1; w0 += 64) {
        size_t a = w0 < i0 ? i0 - w0 : 0, e = i1 - w0 < 64 ? i1 - w0 : 64;
        uint64_t m = ht__qtab_block(t, c, w0, a, e);
        if (pass == 2) {
            uint64_t d = 0;
            for (size_t k = a; k < e; k++) {
                unsigned h = hot[c->close[w0 + k] >> 8] & 1;
                if (p->arrive) {
                    h |= hot[c->arrive[w0 + k] >> 8] >> 1 & 1;
                }
                d |= (uint64_t)h << k;
            }
            m &= d;
        }
        m = ht__qtab_rest(t, c, w0, m & ~ix->dead[w0 / 64]);
        for (; m; m &= m - 1) {
            size_t i = w0 + (size_t)__builtin_ctzll(m);
            if (pass == 1) {
                count_row(p, c, i, by);
                list_row(p, i);
            } else {
                size_t g = wanted(p, c, i, by);
                if (g != (size_t)-1) {
                    rank_row(p, c, i, g);
                }
            }
        }
    }
}

INLINE void walk(tally_part *p, int pass, ht_group by) {
    const ht_index *ix = p->ix;
    const base *b = ix->b;
    const ht_index_filter *q = p->q;
    size_t n = b->c.n;
    size_t i0 = n / p->parts * p->part;
    size_t i1 = p->part + 1 == p->parts ? n : n / p->parts * (p->part + 1);
    if (pass == 1 && !q) {
        /* everything passes: no mask to make */
        for (size_t i = i0; i < i1; i++) {
            if (!(ix->dead[i / 64] >> (i % 64) & 1)) {
                count_row(p, &b->c, i, by);
            }
        }
    } else {
        walk_base(p, i0, i1, pass, by);
    }
    const cols *dl = &ix->delta;
    for (size_t i = 0; p->part == 0 && i < dl->n; i++) {
        size_t g = 0;
        if ((pass == 2 && (g = wanted(p, dl, i, by)) == (size_t)-1) ||
            !ht__match(q, dl, i)) {
            continue;
        }
        if (pass == 1) {
            count_row(p, dl, i, by);
        } else {
            rank_row(p, dl, i, g);
        }
    }
}

/* A pass's walk with its grouping a constant, so that each has its loop. */
INLINE void walk_by(tally_part *p, int pass) {
    switch (p->by) {
    case HT_GROUP_STREET:
        walk(p, pass, HT_GROUP_STREET);
        break;
    case HT_GROUP_COMMUNITY:
        walk(p, pass, HT_GROUP_COMMUNITY);
        break;
    case HT_GROUP_GRID:
        walk(p, pass, HT_GROUP_GRID);
        break;
    case HT_GROUP_CATEGORY:
        walk(p, pass, HT_GROUP_CATEGORY);
        break;
    case HT_GROUP_MONTH:
        walk(p, pass, HT_GROUP_MONTH);
        break;
    case HT_GROUP_DEPARTMENT:
    default:
        walk(p, pass, HT_GROUP_DEPARTMENT);
        break;
    }
}

static void *run_part(void *arg) {
    tally_part *p = arg;
    if (p->pass == 1) {
        walk_by(p, 1);
    } else {
        walk_by(p, 2);
    }
    return NULL;
}

/* The high byte of rank @k among the counts @h (256 of them), and the
 * rank within it. */
static uint16_t rank_bin(const uint32_t *h, int64_t k, int64_t *within) {
    int64_t below = 0;
    unsigned b = 0;
    while (b < 255 && below + h[b] <= k) {
        below += h[b++];
    }
    *within = k - below;
    return (uint16_t)b;
}

static uint16_t rank_low(const uint32_t *h, int64_t within) {
    if (!h) {
        return 0; /* (none: the rank lies elsewhere) */
    }
    int64_t below = 0;
    unsigned l = 0;
    while (l < 255 && below + h[l] <= within) {
        below += h[l++];
    }
    return (uint16_t)l;
}

static void free_counts(uint32_t **c, size_t n) {
    for (size_t k = 0; c && k < n; k++) {
        free(c[k]);
    }
    free(c);
}

static void free_parts(tally_part *tp, size_t parts) {
    for (size_t p = 0; p < parts; p++) {
        free_counts(tp[p].cnt, tp[p].ng);
        free_counts(tp[p].hi, tp[p].ng * 2);
        free_counts(tp[p].lo, tp[p].ng * SLOTS);
        free(tp[p].rows);
        tp[p].cnt = NULL;
        tp[p].hi = tp[p].lo = NULL;
        tp[p].rows = NULL;
    }
}

/* @c[k] += @d[k] for each of @n histograms, a missing one of @c taken
 * from @d. */
static void add_counts(uint32_t **c, uint32_t **d, size_t n) {
    for (size_t k = 0; k < n; k++) {
        if (!d[k]) {
            continue;
        }
        if (!c[k]) {
            c[k] = d[k];
            d[k] = NULL;
            continue;
        }
        for (int b = 0; b < 256; b++) {
            c[k][b] += d[k][b];
        }
    }
}

ht_status ht_index_tally_groups(const ht_index *ix, const ht_index_filter *q,
                                ht_group by, int64_t now, bool arrive,
                                size_t parts, ht_index_tally *out,
                                ht_error *err) {
    enum { MAX_PARTS = 4 };
    size_t ng = ht_index_groups(ix, by);
    memset(out, 0, ng * sizeof *out);
    parts = parts ? parts : ht__index_parts(ix);
    parts = parts > MAX_PARTS ? MAX_PARTS : parts;
    tally_part tp[MAX_PARTS];
    bool ok = true;
    /* A filter that passes everything is not asked, row by row; the
     * others' simple parts are tables. */
    q = ht__index_filter_all(q) ? NULL : q;
    ht__qtab tab;
    if (!ht__qtab_init(&tab, ix, q)) {
        return ht_error_set(err, HT_ENOMEM, "out of memory for the tally");
    }
    if (by == HT_GROUP_MONTH) {
        pthread_once(&months_once, make_months);
    }
    for (size_t p = 0; p < parts; p++) {
        tp[p] = (tally_part){.ix = ix,
                             .q = q,
                             .by = by,
                             .now = now,
                             .arrive = arrive,
                             .part = p,
                             .parts = parts,
                             .ng = ng,
                             .pass = 1,
                             .tab = &tab,
                             .listed = q != NULL,
                             .cnt = calloc(ng, sizeof(uint32_t *)),
                             .hi = calloc(ng * 2, sizeof(uint32_t *))};
        ok = ok && tp[p].cnt && tp[p].hi;
    }
    if (ok) {
        ht__index_run_parts(run_part, tp, sizeof *tp, parts);
    }
    for (size_t p = 0; p < parts; p++) {
        ok = ok && !tp[p].oom;
    }
    if (!ok) {
        free_parts(tp, parts);
        ht__qtab_free(&tab);
        return ht_error_set(err, HT_ENOMEM, "out of memory for the tally");
    }
    /* The parts' counts summed into the first's (64 bits from here). */
    uint32_t **hi = tp[0].hi;
    for (size_t p = 1; p < parts; p++) {
        add_counts(hi, tp[p].hi, ng * 2);
    }
    bool ranks = false;
    for (size_t g = 0; g < ng; g++) {
        ht_index_tally *t = &out[g];
        int64_t v[NF] = {0};
        for (size_t p = 0; p < parts; p++) {
            for (int f = 0; tp[p].cnt[g] && f < NF; f++) {
                v[f] += tp[p].cnt[g][f];
            }
        }
        figures(t, v);
        ranks = ranks || t->nclose || t->narrive;
    }
    for (size_t p = 0; p < parts; p++) {
        free_counts(tp[p].cnt, ng);
        tp[p].cnt = NULL;
    }
    if (!ranks) {
        free_parts(tp, parts);
        ht__qtab_free(&tab);
        return HT_OK;
    }
    /* Each rank's high byte and its rank within it. */
    uint16_t *want = malloc(ng * SLOTS * sizeof *want);
    int64_t *within = malloc(ng * SLOTS * sizeof *within);
    uint8_t *from = malloc(ng * SLOTS);
    ok = want && within && from;
    for (size_t g = 0; ok && g < ng; g++) {
        const ht_index_tally *t = &out[g];
        int64_t n[2] = {t->nclose, t->narrive};
        int64_t ks[SLOTS] = {(n[0] - 1) / 2, n[0] / 2, (n[1] - 1) / 2, n[1] / 2,
                             0};
        ks[4] = ht_stats_p90_rank(n[1]);
        for (int s = 0; s < SLOTS; s++) {
            int kind = s < CLOSE_SLOTS ? 0 : 1;
            size_t at = g * SLOTS + (size_t)s;
            want[at] = NO_BIN;
            from[at] = (uint8_t)s;
            if (n[kind] == 0) {
                continue;
            }
            want[at] = rank_bin(hi[g * 2 + (size_t)kind], ks[s], &within[at]);
            /* a high byte an earlier slot of its kind wants is counted
             * there (count_low takes the first) */
            for (int e = kind ? CLOSE_SLOTS : 0; e < s; e++) {
                if (want[g * SLOTS + (size_t)e] == want[at]) {
                    from[at] = (uint8_t)e;
                    break;
                }
            }
        }
    }
    uint8_t hot[256] = {0};
    for (size_t k = 0; ok && k < ng * SLOTS; k++) {
        if (want[k] != NO_BIN) {
            hot[want[k]] |= k % SLOTS < CLOSE_SLOTS ? 1 : 2;
        }
    }
    for (size_t p = 0; ok && p < parts; p++) {
        tp[p].pass = 2;
        tp[p].want = want;
        tp[p].hot = hot;
        tp[p].lo = calloc(ng * SLOTS, sizeof(uint32_t *));
        ok = tp[p].lo != NULL;
    }
    if (ok) {
        ht__index_run_parts(run_part, tp, sizeof *tp, parts);
    }
    for (size_t p = 0; p < parts; p++) {
        ok = ok && !tp[p].oom;
    }
    if (!ok) {
        free(want);
        free(within);
        free(from);
        free_parts(tp, parts);
        ht__qtab_free(&tab);
        return ht_error_set(err, HT_ENOMEM, "out of memory for the tally");
    }
    uint32_t **lo = tp[0].lo;
    for (size_t p = 1; p < parts; p++) {
        add_counts(lo, tp[p].lo, ng * SLOTS);
    }
    for (size_t g = 0; g < ng; g++) {
        ht_index_tally *t = &out[g];
        uint16_t got[SLOTS];
        for (int s = 0; s < SLOTS; s++) {
            size_t at = g * SLOTS + (size_t)s;
            int kind = s < CLOSE_SLOTS ? 0 : 1;
            if ((kind ? t->narrive : t->nclose) == 0) {
                continue;
            }
            size_t src = g * SLOTS + from[at];
            got[s] = (uint16_t)(want[at] << 8 | rank_low(lo[src], within[at]));
        }
        if (t->nclose) {
            t->close[0] = got[0];
            t->close[1] = got[1];
        }
        if (t->narrive) {
            t->arrive[0] = got[2];
            t->arrive[1] = got[3];
            t->arrive[2] = got[4];
        }
    }
    free(want);
    free(within);
    free(from);
    free_parts(tp, parts);
    ht__qtab_free(&tab);
    return HT_OK;
}
