/* SPDX-License-Identifier: Apache-2.0 */
/* The base's tallies kept between requests. A tally of the whole time
 * (no window, no lateness: what a ranking of all time asks) walks every
 * row of the index; the base's part of it changes only when rows of the
 * base die (an incident changed moves to the changes) and, for rows whose
 * deadlines are still pending, with the clock. So the base's counters of
 * every other row, the high bytes of its durations and the low bytes of
 * the ranks asked so far are kept per grouping and filter, with a list of
 * the pending rows; a request adds the pending rows at its time and the
 * changes, and takes out the rows dead since (one look at the dead bits'
 * words). Exact: the same figures as the walks, tested against them. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hutong/index.h"

#include "index_int.h"
#include "index_tally_int.h"
#include "stats_int.h"

enum { NF = TALLY_NF, SLOTS = TALLY_SLOTS, NO_BIN = TALLY_NO_BIN };
enum { CLOSE_SLOTS = TALLY_CLOSE_SLOTS };

/* Low bytes' histograms kept per group (a request asks five at most). */
#define LOS 8

/* Bytes the tallies of one base keep at most: 0 keeps none (every tally
 * walks); SIZE_MAX: one byte an incident, 8 MiB at least (a tally of
 * every grid of a city, whatever its incidents, takes about 6). */
static _Atomic size_t budget = SIZE_MAX;

/* Answers from a tally kept from an earlier request. */
static _Atomic uint64_t hits;

/* Every other group's counts in 32 bits (a test's). */
static _Atomic bool wide;

void ht__tally_memo_set_wide(bool on) {
    wide = on;
}

void ht__tally_memo_set_budget(size_t bytes) {
    budget = bytes;
}

uint64_t ht__tally_memo_hits(void) {
    return hits;
}

typedef struct memo {
    struct memo *next;
    ht_group by;
    bool arrive;
    ht_index_filter *q; /* a copy; NULL: every incident */
    /* the base's tally (its counters and high bytes moved to cnt, hi) */
    ht__tally_base b;
    /* Per group (NULL: none) the TALLY_NF counters, the high bytes (to
     * close, to arrive), the low bytes of LOS bytes: in 16 bits when
     * every count of the group is below 2^16 (narrow[g]: they only fall,
     * as rows die), else 32 */
    uint8_t *narrow;
    void **cnt, **hi; /* ng, ng * 2 */
    uint16_t *lokey;  /* ng * LOS: kind << 8 | high byte; NO_BIN: none */
    void **lo;        /* ng * LOS */
    uint8_t *lonext;  /* ng: where the next goes when all are taken */
    size_t bytes;
    uint64_t used;
} memo;

/* Filters asked once, remembered (not kept) so that a second asking keeps
 * its tally: a one-off filter costs no more than its walks. */
#define SEEN 64

struct ht__tally_memos {
    pthread_mutex_t mu;
    struct {
        ht_index_filter *q;
        ht_group by;
        bool arrive;
    } seen[SEEN];
    size_t nseen;
    uint64_t *dead; /* the dead rows every memo leaves out */
    size_t words;
    memo *list;
    uint64_t tick;
};

static void free_all(void **a, size_t n) {
    for (size_t k = 0; a && k < n; k++) {
        free(a[k]);
    }
    free(a);
}

static void memo_free(memo *m) {
    if (!m) {
        return;
    }
    ht_index_filter_free(m->q);
    free_all(m->lo, m->b.ng * LOS);
    free_all(m->cnt, m->b.ng);
    free_all(m->hi, m->b.ng * 2);
    free(m->narrow);
    free(m->lokey);
    free(m->lonext);
    ht__tally_base_free(&m->b);
    free(m);
}

void ht__tally_memos_free(struct ht__tally_memos *s) {
    if (!s) {
        return;
    }
    while (s->list) {
        memo *m = s->list;
        s->list = m->next;
        memo_free(m);
    }
    for (size_t k = 0; k < s->nseen; k++) {
        ht_index_filter_free(s->seen[k].q);
    }
    free(s->dead);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* Words of a bit set of @n things. */
static size_t words_of(size_t n) {
    return n / 64 + 1;
}

static bool same_bits(const uint64_t *a, const uint64_t *b, size_t n) {
    return (!a && !b) || (a && b && memcmp(a, b, words_of(n) * sizeof *a) == 0);
}

static bool same_filter(const ht_index_filter *a, const ht_index_filter *b,
                        const dict *d) {
    if (!a || !b) {
        return !a && !b;
    }
    return a->t0 == b->t0 && a->t1 == b->t1 &&
           (a->sev & 0xf) == (b->sev & 0xf) &&
           (a->source & 0xff) == (b->source & 0xff) &&
           (a->state & 0xff) == (b->state & 0xff) &&
           (a->sat & 0xf) == (b->sat & 0xf) && a->overdue_at == b->overdue_at &&
           same_bits(a->cats, b->cats, d->ncats) &&
           same_bits(a->grids, b->grids, d->ngrids) &&
           same_bits(a->depts, b->depts, d->ndepts);
}

static uint64_t *copy_bits(const uint64_t *a, size_t n, bool *ok) {
    if (!a) {
        return NULL;
    }
    uint64_t *c = malloc(words_of(n) * sizeof *c);
    if (c) {
        memcpy(c, a, words_of(n) * sizeof *c);
    }
    *ok = *ok && c;
    return c;
}

/* A copy of @q standing alone (it asks nothing of an index: no lateness);
 * NULL for NULL, and when out of memory (@ok false). */
static ht_index_filter *copy_filter(const ht_index_filter *q, const dict *d,
                                    bool *ok) {
    if (!q) {
        return NULL;
    }
    ht_index_filter *c = malloc(sizeof *c);
    if (!c) {
        *ok = false;
        return NULL;
    }
    *c = *q;
    c->ix = NULL;
    c->cats = copy_bits(q->cats, d->ncats, ok);
    c->grids = copy_bits(q->grids, d->ngrids, ok);
    c->depts = copy_bits(q->depts, d->ndepts, ok);
    return c;
}

static pthread_mutex_t make_mu = PTHREAD_MUTEX_INITIALIZER;

/* The kept tallies of @ix's base, made (none kept, at @ix's dead rows)
 * when first asked; NULL when out of memory. */
static struct ht__tally_memos *memos_of(const ht_index *ix) {
    base *b = ix->b;
    struct ht__tally_memos *s = atomic_load(&b->memos);
    if (s) {
        return s;
    }
    pthread_mutex_lock(&make_mu);
    s = atomic_load(&b->memos);
    if (!s && (s = calloc(1, sizeof *s))) {
        s->words = words_of(b->c.n);
        s->dead = malloc(s->words * sizeof *s->dead);
        if (!s->dead || pthread_mutex_init(&s->mu, NULL) != 0) {
            free(s->dead);
            free(s);
            s = NULL;
        } else {
            memcpy(s->dead, ix->dead, s->words * sizeof *s->dead);
            atomic_store(&b->memos, s);
        }
    }
    pthread_mutex_unlock(&make_mu);
    return s;
}

/* Value @k of group @g's kept array @a, and one less of it. */
static inline uint32_t get(const memo *m, size_t g, const void *a, size_t k) {
    return m->narrow[g] ? ((const uint16_t *)a)[k] : ((const uint32_t *)a)[k];
}

static inline void take_one(const memo *m, size_t g, void *a, size_t k) {
    if (m->narrow[g]) {
        ((uint16_t *)a)[k]--;
    } else {
        ((uint32_t *)a)[k]--;
    }
}

/* The @n counts @a (taken) as @m keeps group @g's: themselves, or in 16
 * bits (NULL when out of memory). */
static void *keep(const memo *m, size_t g, uint32_t *a, size_t n) {
    if (!m->narrow[g] || !a) {
        return a;
    }
    uint16_t *c = malloc(n * sizeof *c);
    for (size_t k = 0; c && k < n; k++) {
        c[k] = (uint16_t)a[k];
    }
    free(a);
    return c;
}

/* Whether the @n counts of @a (NULL: none) are below 2^16. */
static bool fits16(const uint32_t *a, size_t n) {
    for (size_t j = 0; a && j < n; j++) {
        if (a[j] > UINT16_MAX) {
            return false;
        }
    }
    return true;
}

/* Group @g's kept low bytes of @key (kind << 8 | high byte), or NULL. */
static void *lo_of(const memo *m, size_t g, uint16_t key) {
    for (size_t k = g * LOS; k < (g + 1) * LOS; k++) {
        if (m->lokey[k] == key) {
            return m->lo[k];
        }
    }
    return NULL;
}

/* Takes base row @i (dead since) out of @m. */
static void memo_drop(memo *m, const ht_index *ix, size_t i) {
    const cols *c = &ix->b->c;
    if (m->q && !ht__match(m->q, c, i)) {
        return;
    }
    size_t g = ht__group_of_row(ix, c, i, m->by);
    void *a = m->cnt[g];
    if (!a) {
        return; /* (never: the row was counted) */
    }
    if (!ht__tally_pending(c, i)) {
        size_t ka, kb;
        ht__tally_ab(ix->d, c, i, 0, &ka, &kb);
        take_one(m, g, a, ka);
        take_one(m, g, a, kb);
    }
    uint16_t code[2] = {c->close[i],
                        m->arrive ? c->arrive[i] : HT_STATS_NO_DURATION};
    for (int kind = 0; kind < 2; kind++) {
        if (code[kind] == HT_STATS_NO_DURATION) {
            continue;
        }
        take_one(m, g, a, TALLY_CLOSE + (size_t)kind);
        take_one(m, g, m->hi[g * 2 + (size_t)kind], code[kind] >> 8);
        void *lo = lo_of(m, g, (uint16_t)(kind << 8 | code[kind] >> 8));
        if (lo) {
            take_one(m, g, lo, code[kind] & 0xff);
        }
    }
}

/* Brings every memo of @s to @ix's dead rows; false when @ix is older
 * than they are (a row dead to them lives in it): then they cannot
 * answer for it. */
static bool sync_to(struct ht__tally_memos *s, const ht_index *ix) {
    const uint64_t *d = ix->dead;
    for (size_t w = 0; w < s->words; w++) {
        if (s->dead[w] & ~d[w]) {
            return false;
        }
    }
    for (size_t w = 0; w < s->words; w++) {
        uint64_t x = d[w] & ~s->dead[w];
        for (; x; x &= x - 1) {
            size_t i = w * 64 + (size_t)__builtin_ctzll(x);
            for (memo *m = s->list; m; m = m->next) {
                memo_drop(m, ix, i);
            }
        }
        s->dead[w] = d[w];
    }
    return true;
}

static size_t memo_bytes(const memo *m) {
    size_t ng = m->b.ng, n = sizeof *m + ng * (2 * sizeof(void *) + 1);
    n += ng * LOS * (sizeof(uint16_t) + sizeof(void *)) + ng;
    n += m->b.npend * sizeof(uint32_t);
    for (size_t g = 0; g < ng; g++) {
        size_t w = m->narrow[g] ? sizeof(uint16_t) : sizeof(uint32_t);
        n += m->cnt[g] ? NF * w : 0;
        n += m->hi[2 * g] ? 256 * w : 0;
        n += m->hi[2 * g + 1] ? 256 * w : 0;
    }
    for (size_t k = 0; k < ng * LOS; k++) {
        n += m->lo[k] ? (m->narrow[k / LOS] ? 512 : 1024) : 0;
    }
    return n;
}

/* A new memo of the base's rows passing @q (at @ix's dead rows, which
 * @s's are); NULL (and @err set) when out of memory. */
static memo *memo_new(const ht_index *ix, const ht_index_filter *q, ht_group by,
                      bool arrive, size_t parts, ht_error *err) {
    memo *m = calloc(1, sizeof *m);
    bool ok = m != NULL;
    if (!ok) {
        ht_error_set(err, HT_ENOMEM, "out of memory for the tally");
        return NULL;
    }
    m->by = by;
    m->arrive = arrive;
    m->q = copy_filter(q, ix->d, &ok);
    if (!ok ||
        ht__tally_base_counts(ix, q, by, arrive, parts, &m->b, err) != HT_OK) {
        if (!ok) {
            ht_error_set(err, HT_ENOMEM, "out of memory for the tally");
        }
        memo_free(m);
        return NULL;
    }
    size_t ng = m->b.ng;
    m->narrow = calloc(ng ? ng : 1, 1);
    m->cnt = calloc(ng ? ng : 1, sizeof *m->cnt);
    m->hi = calloc(ng ? 2 * ng : 1, sizeof *m->hi);
    ok = m->narrow && m->cnt && m->hi;
    for (size_t g = 0; ok && g < ng; g++) {
        m->narrow[g] = !(wide && g % 2) && fits16(m->b.cnt[g], NF) &&
                       fits16(m->b.hi[2 * g], 256) &&
                       fits16(m->b.hi[2 * g + 1], 256);
        for (size_t k = 2 * g; k < 2 * g + 2; k++) {
            ok =
                ok && ((m->hi[k] = keep(m, g, m->b.hi[k], 256)) || !m->b.hi[k]);
            m->b.hi[k] = NULL;
        }
        ok = ok && ((m->cnt[g] = keep(m, g, m->b.cnt[g], NF)) || !m->b.cnt[g]);
        m->b.cnt[g] = NULL;
    }
    m->lokey = malloc(ng * LOS * sizeof *m->lokey);
    m->lo = calloc(ng * LOS, sizeof *m->lo);
    m->lonext = calloc(ng ? ng : 1, 1);
    if (!ok || !m->lokey || !m->lo || !m->lonext) {
        memo_free(m);
        ht_error_set(err, HT_ENOMEM, "out of memory for the tally");
        return NULL;
    }
    for (size_t k = 0; k < ng * LOS; k++) {
        m->lokey[k] = NO_BIN;
    }
    return m;
}

/* Keeps @h (taken) as group @g's low bytes of @key, in a free place or in
 * place of one @keys (the request's, SLOTS) does not hold. */
static void lo_put(memo *m, size_t g, uint16_t key, void *h,
                   const uint16_t *keys) {
    size_t at = (size_t)-1;
    for (size_t k = g * LOS; k < (g + 1) * LOS && at == (size_t)-1; k++) {
        at = m->lokey[k] == NO_BIN ? k : at;
    }
    for (int r = 0; r < LOS && at == (size_t)-1; r++) {
        size_t k = g * LOS + (m->lonext[g] + (size_t)r) % LOS;
        bool asked = false;
        for (int s = 0; s < SLOTS; s++) {
            asked |= keys[s] == m->lokey[k];
        }
        if (!asked) {
            at = k;
            m->lonext[g] = (uint8_t)((k - g * LOS + 1) % LOS);
        }
    }
    free(m->lo[at]); /* (a place is found: LOS > SLOTS) */
    m->lo[at] = h;
    m->lokey[at] = key;
}

/* The figures of @m for @ix at @now (dead rows synced): its counters, the
 * pending rows at @now and the changes. */
static ht_status answer(memo *m, const ht_index *ix, int64_t now, size_t parts,
                        ht_index_tally *out, ht_error *err) {
    const ht_index_filter *q = m->q;
    const cols *c = &ix->b->c, *dl = &ix->delta;
    size_t ng = m->b.ng;
    int64_t *v = calloc(ng * NF, sizeof *v);
    uint32_t **dhi = calloc(ng * 2, sizeof *dhi);
    uint16_t *want = malloc(ng * SLOTS * sizeof *want);
    uint16_t *miss = malloc(ng * SLOTS * sizeof *miss);
    int64_t *within = malloc(ng * SLOTS * sizeof *within);
    uint32_t **dlo = calloc(ng * SLOTS, sizeof *dlo);
    ht_status st =
        v && dhi && want && miss && within && dlo
            ? HT_OK
            : ht_error_set(err, HT_ENOMEM, "out of memory for the tally");
    for (size_t g = 0; st == HT_OK && g < ng; g++) {
        for (size_t f = 0; m->cnt[g] && f < NF; f++) {
            v[g * NF + f] = get(m, g, m->cnt[g], f);
        }
    }
    for (size_t k = 0; st == HT_OK && k < m->b.npend; k++) {
        size_t i = m->b.pend[k], ka, kb;
        if (ix->dead[i / 64] >> (i % 64) & 1) {
            continue;
        }
        size_t g = ht__group_of_row(ix, c, i, m->by);
        ht__tally_ab(ix->d, c, i, now, &ka, &kb);
        v[g * NF + ka]++;
        v[g * NF + kb]++;
    }
    for (size_t i = 0; st == HT_OK && i < dl->n; i++) {
        if (!ht__match(q, dl, i)) {
            continue;
        }
        size_t g = ht__group_of_row(ix, dl, i, m->by), ka, kb;
        ht__tally_ab(ix->d, dl, i, now, &ka, &kb);
        v[g * NF + ka]++;
        v[g * NF + kb]++;
        uint16_t code[2] = {dl->close[i],
                            m->arrive ? dl->arrive[i] : HT_STATS_NO_DURATION};
        for (size_t kind = 0; kind < 2; kind++) {
            uint32_t **h = &dhi[g * 2 + kind];
            if (code[kind] == HT_STATS_NO_DURATION) {
                continue;
            }
            if (!*h && !(*h = calloc(256, sizeof **h))) {
                st =
                    ht_error_set(err, HT_ENOMEM, "out of memory for the tally");
                break;
            }
            v[g * NF + TALLY_CLOSE + kind]++;
            (*h)[code[kind] >> 8]++;
        }
    }
    /* The figures; each rank's high byte, and the low bytes not kept. */
    bool missing = false;
    for (size_t g = 0; st == HT_OK && g < ng; g++) {
        ht_index_tally *t = &out[g];
        ht__tally_figures(t, v + g * NF);
        int64_t ks[SLOTS], n[2] = {t->nclose, t->narrive};
        ht__tally_ranks(t, ks);
        for (int s = 0; s < SLOTS; s++) {
            size_t at = g * SLOTS + (size_t)s, kind = s < CLOSE_SLOTS ? 0 : 1;
            want[at] = miss[at] = NO_BIN;
            if (n[kind] == 0) {
                continue;
            }
            uint32_t h[256] = {0};
            const void *kept = m->hi[g * 2 + kind];
            const uint32_t *more = dhi[g * 2 + kind];
            for (size_t b = 0; b < 256; b++) {
                h[b] = (kept ? get(m, g, kept, b) : 0) + (more ? more[b] : 0);
            }
            want[at] = ht__tally_rank_bin(h, ks[s], &within[at]);
            if (!lo_of(m, g, (uint16_t)(kind << 8 | want[at]))) {
                miss[at] = want[at];
                missing = true;
            }
        }
    }
    if (st == HT_OK && missing) {
        /* the base's low bytes of those, kept from now on */
        uint32_t **lo = calloc(ng * SLOTS, sizeof *lo);
        st = lo ? ht__tally_base_lows(ix, q, m->by, m->arrive, parts, miss, lo,
                                      err)
                : ht_error_set(err, HT_ENOMEM, "out of memory for the tally");
        for (size_t g = 0; st == HT_OK && g < ng; g++) {
            uint16_t keys[SLOTS];
            for (int s = 0; s < SLOTS; s++) {
                size_t at = g * SLOTS + (size_t)s;
                keys[s] =
                    want[at] == NO_BIN
                        ? NO_BIN
                        : (uint16_t)((s < CLOSE_SLOTS ? 0 : 1) << 8 | want[at]);
            }
            for (int s = 0; s < SLOTS; s++) {
                size_t at = g * SLOTS + (size_t)s;
                if (miss[at] == NO_BIN || lo_of(m, g, keys[s])) {
                    continue; /* (an earlier slot's byte: kept there) */
                }
                void *h = keep(
                    m, g, lo[at] ? lo[at] : calloc(256, sizeof *lo[at]), 256);
                lo[at] = NULL;
                if (!h) {
                    st = ht_error_set(err, HT_ENOMEM,
                                      "out of memory for the tally");
                    break;
                }
                lo_put(m, g, keys[s], h, keys);
            }
        }
        for (size_t k = 0; lo && k < ng * SLOTS; k++) {
            free(lo[k]);
        }
        free(lo);
    }
    /* The changes' low bytes of the ranks' high bytes (in the first slot
     * of a kind that wants one), then the ranks. */
    for (size_t i = 0; st == HT_OK && i < dl->n; i++) {
        if (!ht__match(q, dl, i)) {
            continue;
        }
        size_t g = ht__group_of_row(ix, dl, i, m->by);
        uint16_t code[2] = {dl->close[i],
                            m->arrive ? dl->arrive[i] : HT_STATS_NO_DURATION};
        for (int kind = 0; kind < 2; kind++) {
            int s0 = kind ? CLOSE_SLOTS : 0, s1 = kind ? SLOTS : CLOSE_SLOTS;
            for (int s = s0; code[kind] != HT_STATS_NO_DURATION && s < s1;
                 s++) {
                size_t at = g * SLOTS + (size_t)s;
                if (want[at] != code[kind] >> 8) {
                    continue;
                }
                if (!dlo[at] && !(dlo[at] = calloc(256, sizeof **dlo))) {
                    st = ht_error_set(err, HT_ENOMEM,
                                      "out of memory for the tally");
                } else {
                    dlo[at][code[kind] & 0xff]++;
                }
                break;
            }
        }
    }
    for (size_t g = 0; st == HT_OK && g < ng; g++) {
        ht_index_tally *t = &out[g];
        uint16_t code[SLOTS] = {0};
        for (int s = 0; s < SLOTS; s++) {
            size_t at = g * SLOTS + (size_t)s, kind = s < CLOSE_SLOTS ? 0 : 1;
            if (want[at] == NO_BIN) {
                continue;
            }
            size_t first = at;
            for (int e = kind ? CLOSE_SLOTS : 0; e < s; e++) {
                if (want[g * SLOTS + (size_t)e] == want[at]) {
                    first = g * SLOTS + (size_t)e;
                    break;
                }
            }
            uint32_t h[256];
            const void *kept = lo_of(m, g, (uint16_t)(kind << 8 | want[at]));
            for (size_t b = 0; b < 256; b++) {
                h[b] = (kept ? get(m, g, kept, b) : 0) +
                       (dlo[first] ? dlo[first][b] : 0);
            }
            code[s] =
                (uint16_t)(want[at] << 8 | ht__tally_rank_low(h, within[at]));
        }
        if (t->nclose) {
            t->close[0] = code[0];
            t->close[1] = code[1];
        }
        if (t->narrive) {
            t->arrive[0] = code[2];
            t->arrive[1] = code[3];
            t->arrive[2] = code[4];
        }
    }
    for (size_t k = 0; dhi && k < ng * 2; k++) {
        free(dhi[k]);
    }
    for (size_t k = 0; dlo && k < ng * SLOTS; k++) {
        free(dlo[k]);
    }
    free(v);
    free(dhi);
    free(want);
    free(miss);
    free(within);
    free(dlo);
    return st;
}

/* Whether @q (not NULL) was asked before of @by; if not, it is
 * remembered (the oldest forgotten). */
static bool seen_before(struct ht__tally_memos *s, const ht_index_filter *q,
                        ht_group by, bool arrive, const dict *d) {
    for (size_t k = 0; k < s->nseen; k++) {
        if (s->seen[k].by == by && s->seen[k].arrive == arrive &&
            same_filter(s->seen[k].q, q, d)) {
            return true;
        }
    }
    bool ok = true;
    ht_index_filter *c = copy_filter(q, d, &ok);
    if (!ok) {
        ht_index_filter_free(c);
        return false;
    }
    if (s->nseen == SEEN) {
        ht_index_filter_free(s->seen[0].q);
        memmove(s->seen, s->seen + 1, (SEEN - 1) * sizeof *s->seen);
        s->nseen--;
    }
    s->seen[s->nseen].q = c;
    s->seen[s->nseen].by = by;
    s->seen[s->nseen].arrive = arrive;
    s->nseen++;
    return false;
}

bool ht__tally_memo(const ht_index *ix, const ht_index_filter *q, ht_group by,
                    int64_t now, bool arrive, size_t parts, ht_index_tally *out,
                    ht_status *st, ht_error *err) {
    size_t cap = budget;
    size_t rows = ix->b->c.n;
    if (cap == SIZE_MAX) {
        cap = rows > ((size_t)8 << 20) ? rows : (size_t)8 << 20;
    }
    if (cap == 0 || (q && (q->t0 != 0 || q->t1 != NONE32 || q->overdue_at))) {
        return false;
    }
    struct ht__tally_memos *s = memos_of(ix);
    if (!s) {
        return false;
    }
    pthread_mutex_lock(&s->mu);
    if (!sync_to(s, ix)) {
        pthread_mutex_unlock(&s->mu);
        return false;
    }
    memo *m = s->list;
    while (m && !(m->by == by && m->arrive == arrive &&
                  same_filter(m->q, q, ix->d))) {
        m = m->next;
    }
    if (m) {
        hits++;
    } else if (q && !seen_before(s, q, by, arrive, ix->d)) {
        pthread_mutex_unlock(&s->mu);
        return false; /* a filter asked first: its walks */
    } else {
        if (!(m = memo_new(ix, q, by, arrive, parts, err))) {
            pthread_mutex_unlock(&s->mu);
            *st = HT_ENOMEM;
            return true;
        }
        m->next = s->list;
        s->list = m;
    }
    m->used = ++s->tick;
    *st = answer(m, ix, now, parts, out, err);
    m->bytes = memo_bytes(m);
    /* Within the budget: the least recently used go (this one too, when
     * it alone is more). */
    for (;;) {
        size_t total = s->words * sizeof *s->dead;
        memo **old = NULL;
        for (memo **p = &s->list; *p; p = &(*p)->next) {
            total += (*p)->bytes;
            if (!old || (*p)->used < (*old)->used) {
                old = p;
            }
        }
        if (total <= cap || !old) {
            break;
        }
        memo *gone = *old;
        *old = gone->next;
        memo_free(gone);
    }
    pthread_mutex_unlock(&s->mu);
    return true;
}
