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
#include "index_tally_int.h"

/* Counters per group (index_tally_int.h), 32 bits within a part. */
enum { A_N = TALLY_A, C_CLOSE = TALLY_CLOSE, C_ARRIVE = TALLY_ARRIVE };
enum { NF = TALLY_NF };

#define INLINE static inline __attribute__((always_inline))

enum { CLOSE_SLOTS = TALLY_CLOSE_SLOTS, ARRIVE_SLOTS = 3 };
enum { SLOTS = TALLY_SLOTS, NO_BIN = TALLY_NO_BIN };

typedef struct tally_part {
    const ht_index *ix;
    const ht_index_filter *q;
    ht_group by;
    int64_t now;
    bool arrive;
    size_t part, parts, ng;
    int pass;
    bool base_only; /* the base's rows alone (not the changes) */
    /* the base's tally to keep: rows with a deadline pending are listed in
     * pend, their counters left to the time of the figures */
    bool keep;
    uint32_t *pend;
    size_t npend, cappend;
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
/* Row @i in @p's list of rows with a deadline pending. */
static void pend_row(tally_part *p, size_t i) {
    if (p->npend == p->cappend) {
        size_t cap = p->cappend ? 2 * p->cappend : 4096;
        uint32_t *r = realloc(p->pend, cap * sizeof *r);
        if (!r) {
            p->oom = true;
            return;
        }
        p->pend = r;
        p->cappend = cap;
    }
    p->pend[p->npend++] = (uint32_t)i;
}

INLINE void count_row(tally_part *p, const cols *c, size_t i, ht_group by) {
    size_t g = group_of(p, c, i, by);
    uint32_t *a = block_at(p, &p->cnt[g], NF);
    if (!a) {
        return;
    }
    if (p->keep && ht__tally_pending(c, i)) {
        pend_row(p, i);
    } else {
        size_t ka, kb;
        ht__tally_ab(p->ix->d, c, i, p->now, &ka, &kb);
        a[ka]++;
        a[kb]++;
    }
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

void ht__tally_figures(ht_index_tally *t, const int64_t *v) {
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
    for (size_t i = 0; p->part == 0 && !p->base_only && i < dl->n; i++) {
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

uint16_t ht__tally_rank_bin(const uint32_t *h, int64_t k, int64_t *within) {
    int64_t below = 0;
    unsigned b = 0;
    while (b < 255 && below + h[b] <= k) {
        below += h[b++];
    }
    *within = k - below;
    return (uint16_t)b;
}

uint16_t ht__tally_rank_low(const uint32_t *h, int64_t within) {
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
        free(tp[p].pend);
        tp[p].pend = NULL;
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

void ht__tally_ranks(const ht_index_tally *t, int64_t ks[TALLY_SLOTS]) {
    int64_t n[2] = {t->nclose, t->narrive};
    ks[0] = (n[0] - 1) / 2;
    ks[1] = n[0] / 2;
    ks[2] = (n[1] - 1) / 2;
    ks[3] = n[1] / 2;
    ks[4] = ht_stats_p90_rank(n[1]);
}

enum { MAX_PARTS = 4 };

/* The parts of a tally of @by in @parts threads (at most MAX_PARTS; 0:
 * as the index's walks take), set up for a first walk; false when out of
 * memory (the parts freed). */
static bool parts_init(tally_part *tp, size_t *parts, const ht_index *ix,
                       const ht_index_filter *q, const ht__qtab *tab,
                       ht_group by, int64_t now, bool arrive) {
    size_t ng = ht_index_groups(ix, by);
    size_t n = *parts ? *parts : ht__index_parts(ix);
    n = n > MAX_PARTS ? MAX_PARTS : n;
    *parts = n;
    bool ok = true;
    for (size_t p = 0; p < n; p++) {
        tp[p] = (tally_part){.ix = ix,
                             .q = q,
                             .by = by,
                             .now = now,
                             .arrive = arrive,
                             .part = p,
                             .parts = n,
                             .ng = ng,
                             .pass = 1,
                             .tab = tab,
                             .listed = q != NULL,
                             .cnt = calloc(ng, sizeof(uint32_t *)),
                             .hi = calloc(ng * 2, sizeof(uint32_t *))};
        ok = ok && tp[p].cnt && tp[p].hi;
    }
    if (by == HT_GROUP_MONTH) {
        pthread_once(&months_once, make_months);
    }
    if (!ok) {
        free_parts(tp, n);
    }
    return ok;
}

/* Runs pass @pass of the parts; false (the parts freed) when one ran out
 * of memory. */
static bool parts_run(tally_part *tp, size_t parts, int pass) {
    for (size_t p = 0; p < parts; p++) {
        tp[p].pass = pass;
    }
    ht__index_run_parts(run_part, tp, sizeof *tp, parts);
    bool ok = true;
    for (size_t p = 0; p < parts; p++) {
        ok = ok && !tp[p].oom;
    }
    if (!ok) {
        free_parts(tp, parts);
    }
    return ok;
}

/* The high bytes the slots of @want ask for: 1 to close, 2 to arrive. */
static void hot_bytes(const uint16_t *want, size_t ng, uint8_t hot[256]) {
    memset(hot, 0, 256);
    for (size_t k = 0; k < ng * SLOTS; k++) {
        if (want[k] != NO_BIN) {
            hot[want[k]] |= k % SLOTS < CLOSE_SLOTS ? 1 : 2;
        }
    }
}

/* A second walk of the parts for the low bytes @want asks, summed into
 * the first part's (its lo: ng * SLOTS); false when out of memory (the
 * parts freed). */
static bool parts_lows(tally_part *tp, size_t parts, const uint16_t *want,
                       const uint8_t *hot) {
    size_t ng = tp[0].ng;
    bool ok = true;
    for (size_t p = 0; p < parts; p++) {
        tp[p].want = want;
        tp[p].hot = hot;
        ok = ok && (tp[p].lo = calloc(ng * SLOTS, sizeof(uint32_t *)));
    }
    if (!ok) {
        free_parts(tp, parts);
        return false;
    }
    if (!parts_run(tp, parts, 2)) {
        return false;
    }
    for (size_t p = 1; p < parts; p++) {
        add_counts(tp[0].lo, tp[p].lo, ng * SLOTS);
    }
    return true;
}

static ht_status no_memory(ht_error *err) {
    return ht_error_set(err, HT_ENOMEM, "out of memory for the tally");
}

/* The parts and @q's tables for a walk of the base alone (no list of
 * rows kept for a second walk); false when out of memory (none made). */
static bool base_parts(tally_part *tp, size_t *parts, ht__qtab *tab,
                       const ht_index *ix, const ht_index_filter *q,
                       ht_group by, bool arrive) {
    if (!ht__qtab_init(tab, ix, q)) {
        return false;
    }
    if (!parts_init(tp, parts, ix, q, tab, by, 0, arrive)) {
        ht__qtab_free(tab);
        return false;
    }
    for (size_t p = 0; p < *parts; p++) {
        tp[p].base_only = true;
        tp[p].listed = false;
    }
    return true;
}

ht_status ht__tally_base_counts(const ht_index *ix, const ht_index_filter *q,
                                ht_group by, bool arrive, size_t parts,
                                ht__tally_base *out, ht_error *err) {
    memset(out, 0, sizeof *out);
    q = ht__index_filter_all(q) ? NULL : q;
    ht__qtab tab;
    tally_part tp[MAX_PARTS];
    if (!base_parts(tp, &parts, &tab, ix, q, by, arrive)) {
        return no_memory(err);
    }
    for (size_t p = 0; p < parts; p++) {
        tp[p].keep = true;
    }
    bool ok = parts_run(tp, parts, 1);
    ht__qtab_free(&tab);
    if (!ok) {
        return no_memory(err);
    }
    size_t ng = tp[0].ng, npend = 0;
    for (size_t p = 0; p < parts; p++) {
        npend += tp[p].npend;
    }
    uint32_t *pend = malloc((npend ? npend : 1) * sizeof *pend);
    if (!pend) {
        free_parts(tp, parts);
        return no_memory(err);
    }
    /* the parts are runs of rows in order: their lists, one after the
     * other, are in order */
    npend = 0;
    for (size_t p = 0; p < parts; p++) {
        if (tp[p].npend) {
            memcpy(pend + npend, tp[p].pend, tp[p].npend * sizeof *pend);
        }
        npend += tp[p].npend;
    }
    for (size_t p = 1; p < parts; p++) {
        add_counts(tp[0].hi, tp[p].hi, ng * 2);
        for (size_t g = 0; g < ng; g++) {
            uint32_t *a = tp[0].cnt[g], *b = tp[p].cnt[g];
            if (!b) {
                continue;
            }
            if (!a) {
                tp[0].cnt[g] = b;
                tp[p].cnt[g] = NULL;
                continue;
            }
            for (int f = 0; f < NF; f++) {
                a[f] += b[f];
            }
        }
    }
    *out = (ht__tally_base){ng, tp[0].cnt, tp[0].hi, pend, npend};
    tp[0].cnt = tp[0].hi = NULL;
    free_parts(tp, parts);
    return HT_OK;
}

void ht__tally_base_free(ht__tally_base *b) {
    free_counts(b->cnt, b->ng);
    free_counts(b->hi, b->ng * 2);
    free(b->pend);
    memset(b, 0, sizeof *b);
}

ht_status ht__tally_base_lows(const ht_index *ix, const ht_index_filter *q,
                              ht_group by, bool arrive, size_t parts,
                              const uint16_t *want, uint32_t **lo,
                              ht_error *err) {
    q = ht__index_filter_all(q) ? NULL : q;
    ht__qtab tab;
    tally_part tp[MAX_PARTS];
    if (!base_parts(tp, &parts, &tab, ix, q, by, arrive)) {
        return no_memory(err);
    }
    size_t ng = tp[0].ng;
    uint8_t hot[256];
    hot_bytes(want, ng, hot);
    bool ok = parts_lows(tp, parts, want, hot);
    ht__qtab_free(&tab);
    if (!ok) {
        return no_memory(err);
    }
    add_counts(lo, tp[0].lo, ng * SLOTS);
    free_parts(tp, parts);
    return HT_OK;
}

ht_status ht_index_tally_groups(const ht_index *ix, const ht_index_filter *q,
                                ht_group by, int64_t now, bool arrive,
                                size_t parts, ht_index_tally *out,
                                ht_error *err) {
    size_t ng = ht_index_groups(ix, by);
    memset(out, 0, ng * sizeof *out);
    /* A filter that passes everything is not asked, row by row; the
     * others' simple parts are tables. */
    q = ht__index_filter_all(q) ? NULL : q;
    ht_status st;
    if (ht__tally_memo(ix, q, by, now, arrive, parts, out, &st, err)) {
        return st;
    }
    ht__qtab tab;
    tally_part tp[MAX_PARTS];
    if (!ht__qtab_init(&tab, ix, q)) {
        return no_memory(err);
    }
    if (!parts_init(tp, &parts, ix, q, &tab, by, now, arrive) ||
        !parts_run(tp, parts, 1)) {
        ht__qtab_free(&tab);
        return no_memory(err);
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
        ht__tally_figures(t, v);
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
    bool ok = want && within && from;
    for (size_t g = 0; ok && g < ng; g++) {
        const ht_index_tally *t = &out[g];
        int64_t n[2] = {t->nclose, t->narrive};
        int64_t ks[SLOTS];
        ht__tally_ranks(t, ks);
        for (int s = 0; s < SLOTS; s++) {
            int kind = s < CLOSE_SLOTS ? 0 : 1;
            size_t at = g * SLOTS + (size_t)s;
            want[at] = NO_BIN;
            from[at] = (uint8_t)s;
            if (n[kind] == 0) {
                continue;
            }
            want[at] = ht__tally_rank_bin(hi[g * 2 + (size_t)kind], ks[s],
                                          &within[at]);
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
    uint8_t hot[256];
    if (ok) {
        hot_bytes(want, ng, hot);
    } else {
        free_parts(tp, parts);
    }
    if (!ok || !parts_lows(tp, parts, want, hot)) {
        free(want);
        free(within);
        free(from);
        ht__qtab_free(&tab);
        return no_memory(err);
    }
    uint32_t **lo = tp[0].lo;
    for (size_t g = 0; g < ng; g++) {
        ht_index_tally *t = &out[g];
        uint16_t got[SLOTS] = {0};
        for (int s = 0; s < SLOTS; s++) {
            size_t at = g * SLOTS + (size_t)s;
            int kind = s < CLOSE_SLOTS ? 0 : 1;
            if ((kind ? t->narrive : t->nclose) == 0) {
                continue;
            }
            size_t src = g * SLOTS + from[at];
            got[s] = (uint16_t)(want[at] << 8 |
                                ht__tally_rank_low(lo[src], within[at]));
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
