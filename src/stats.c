/* SPDX-License-Identifier: Apache-2.0 */
/* Statistics for the same filters as the maps. */
#include "hutong/stats.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hutong/buf.h"
#include "hutong/clock.h"
#include "hutong/datetime.h"
#include "hutong/index.h"
#include "hutong/model.h"

#include "stats_int.h"

static const char *const by_names[HT_STATS_BY_COUNT] = {
    "street", "community", "grid", "category", "month", "department"};

ht_status ht_stats_by_parse(const char *s, ht_stats_by *out, ht_error *err) {
    for (int k = 0; k < HT_STATS_BY_COUNT; k++) {
        if (s && strcmp(s, by_names[k]) == 0) {
            *out = (ht_stats_by)k;
            return HT_OK;
        }
    }
    return ht_error_set(err, HT_EINVAL,
                        "by: \"%s\" is not street, community, grid, category, "
                        "month or department",
                        s ? s : "");
}

/* The store's grouping of each "by". */
static ht_group group_of(ht_stats_by by) {
    static const ht_group g[HT_STATS_BY_COUNT] = {
        HT_GROUP_STREET,   HT_GROUP_COMMUNITY, HT_GROUP_GRID,
        HT_GROUP_CATEGORY, HT_GROUP_MONTH,     HT_GROUP_DEPARTMENT};
    return g[by];
}

/* The previous period's count of each row's key. */
typedef struct prev_ctx {
    ht_stats_row *rows;
    size_t n;
} prev_ctx;

/* A key against a row, for bsearch over rows in key order. */
static int cmp_row_key(const void *key, const void *row) {
    return strcmp(key, ((const ht_stats_row *)row)->key);
}

/* (the rows are in key order when the period before is counted) */
static ht_status take_prev(const char *key, int64_t count, void *ud,
                           ht_error *err) {
    (void)err;
    prev_ctx *p = ud;
    ht_stats_row *hit =
        bsearch(key, p->rows, p->n, sizeof *p->rows, cmp_row_key);
    if (hit) {
        hit->prev = count;
    }
    return HT_OK;
}

/* Name, and for grids the density and rate, of the keys of @r (@n rows). */
static ht_status describe(ht_store *s, ht_stats_by by, ht_stats_row *r,
                          size_t n, ht_error *err) {
    const char **keys = malloc((n + 1) * sizeof *keys);
    bool *found = malloc((n + 1) * sizeof *found);
    ht_group_info *info = malloc((n + 1) * sizeof *info);
    ht_status st = keys && found && info
                       ? HT_OK
                       : ht_error_set(err, HT_ENOMEM, "out of memory");
    size_t m = 0;
    for (size_t k = 0; st == HT_OK && k < n; k++) {
        r[k].name[0] = '\0';
        r[k].per_km2 = r[k].per_1000 = NAN;
        if (by == HT_STATS_BY_MONTH) {
            continue;
        }
        if (strcmp(r[k].key, "-") == 0) {
            snprintf(r[k].name, sizeof r[k].name, "%s",
                     by == HT_STATS_BY_DEPARTMENT ? "(not dispatched)"
                                                  : "(no grid)");
            continue;
        }
        keys[m++] = r[k].key;
    }
    if (st == HT_OK && m) {
        st = ht_store_group_infos(s, group_of(by), keys, m, found, info, err);
    }
    for (size_t k = 0, j = 0; st == HT_OK && k < n && j < m; k++) {
        if (r[k].key != keys[j]) {
            continue;
        }
        if (found[j]) {
            snprintf(r[k].name, sizeof r[k].name, "%s", info[j].name);
            if (info[j].area_m2 > 0) {
                r[k].per_km2 = (double)r[k].count / (info[j].area_m2 / 1e6);
            }
            if (info[j].population > 0) {
                r[k].per_1000 =
                    (double)r[k].count / (double)info[j].population * 1000;
            }
        }
        j++;
    }
    free(keys);
    free(found);
    free(info);
    return st;
}

static int cmp_rank(const void *a, const void *b) {
    const ht_stats_row *p = a, *q = b;
    if (p->count != q->count) {
        return p->count > q->count ? -1 : 1;
    }
    return strcmp(p->key, q->key);
}

void ht_stats_due(const ht_store_fact *f, int64_t now, ht_due_state *response,
                  ht_due_state *resolution) {
    int64_t done[2] = {f->dispatched_at, f->state >= HT_STATE_CLOSED
                                             ? f->closed_at
                                             : HT_TIME_NONE};
    int64_t due[2] = {f->response_due, f->resolution_due};
    /* Done, but when is not known. */
    bool unknown[2] = {f->state > HT_STATE_REPORTED && done[0] == HT_TIME_NONE,
                       f->state >= HT_STATE_CLOSED && done[1] == HT_TIME_NONE};
    ht_due_state out[2];
    for (int k = 0; k < 2; k++) {
        if (unknown[k]) {
            out[k] = HT_DUE_UNKNOWN;
        } else if (done[k] != HT_TIME_NONE) {
            out[k] = due[k] == HT_TIME_NONE || done[k] <= due[k]
                         ? HT_DUE_ON_TIME
                         : HT_DUE_LATE;
        } else {
            out[k] = due[k] != HT_TIME_NONE && now > due[k] ? HT_DUE_LATE
                                                            : HT_DUE_PENDING;
        }
    }
    *response = out[0];
    *resolution = out[1];
}

uint16_t ht_stats_duration_code(int64_t seconds) {
    if (seconds < 0) {
        return HT_STATS_NO_DURATION;
    }
    int64_t m = seconds / 60;
    if (m < 32768) {
        return (uint16_t)m;
    }
    int64_t k = (m - 32768) / 64;
    return (uint16_t)(32768 + (k < 32766 ? k : 32766));
}

double ht_stats_hours(uint16_t code) {
    if (code == HT_STATS_NO_DURATION) {
        return NAN;
    }
    double m = code < 32768 ? code : 32768.0 + (code - 32768.0) * 64;
    return m / 60.0;
}

static double ratio(int64_t a, int64_t b) {
    return b > 0 ? (double)a / (double)b : NAN;
}

/* One row being counted, with the durations of its medians. */
typedef struct group {
    ht_stats_row row;
    int64_t evaluated;
    uint16_t *dur; /* to close (ht_stats_duration_code) */
    size_t nd, cap_d;
    uint16_t *arr; /* to arrive */
    size_t na, cap_a;
} group;

static ht_status group_add(group *g, const ht_stats_fact *f, ht_error *err) {
    ht_stats_row *r = &g->row;
    r->count++;
    ht_due_state resp = f->response, resol = f->resolution;
    r->response_decided += resp == HT_DUE_ON_TIME || resp == HT_DUE_LATE;
    r->response_on_time += resp == HT_DUE_ON_TIME;
    r->resolution_decided += resol == HT_DUE_ON_TIME || resol == HT_DUE_LATE;
    r->resolution_on_time += resol == HT_DUE_ON_TIME;
    r->overdue += f->state < HT_STATE_CLOSED &&
                  (resp == HT_DUE_LATE || resol == HT_DUE_LATE);
    r->rated += f->satisfaction != HT_SAT_NONE;
    r->satisfied +=
        f->satisfaction == HT_SAT_SATISFIED || f->satisfaction == HT_SAT_BASIC;
    g->evaluated += f->state == HT_STATE_EVALUATED;
    r->open += f->state < HT_STATE_CLOSED;
    if (f->whistle != HT_WHISTLE_NONE) {
        r->whistles[0]++;
        r->whistles[f->whistle]++;
        r->whistles_decided += resp == HT_DUE_ON_TIME || resp == HT_DUE_LATE;
        r->whistles_on_time += resp == HT_DUE_ON_TIME;
    }
    if (f->arrive != HT_STATS_NO_DURATION) {
        ht_status st = g->na < g->cap_a
                           ? HT_OK
                           : ht_array_grow((void **)&g->arr, &g->cap_a,
                                           g->na + 1, sizeof *g->arr, err);
        if (st != HT_OK) {
            return st;
        }
        g->arr[g->na++] = f->arrive;
    }
    if (f->close != HT_STATS_NO_DURATION) {
        ht_status st = g->nd < g->cap_d
                           ? HT_OK
                           : ht_array_grow((void **)&g->dur, &g->cap_d,
                                           g->nd + 1, sizeof *g->dur, err);
        if (st != HT_OK) {
            return st;
        }
        g->dur[g->nd++] = f->close;
    }
    return HT_OK;
}

void ht__stats_ranks(const uint16_t *v, size_t n, const size_t *ks, size_t m,
                     uint16_t *out) {
    /* A radix select in two passes, @v untouched: the high bytes' counts
     * give each rank's high byte and its rank among the values with it;
     * one more pass counts the low bytes of those values. Linear, with no
     * branch on the data, where Hoare's select swaps. */
    enum { RANKS = 4 };
    uint32_t hi[256] = {0};
    uint32_t lo[RANKS][256];
    unsigned bin[RANKS];
    size_t within[RANKS];
    m = m < RANKS ? m : RANKS;
    for (size_t i = 0; i < n; i++) {
        hi[v[i] >> 8]++;
    }
    for (size_t r = 0; r < m; r++) {
        size_t below = 0;
        unsigned b = 0;
        while (below + hi[b] <= ks[r]) {
            below += hi[b++];
        }
        bin[r] = b;
        within[r] = ks[r] - below;
        memset(lo[r], 0, sizeof lo[r]);
    }
    /* Ranks in one high byte share its counts: the first of them counts. */
    size_t first[RANKS];
    for (size_t r = 0; r < m; r++) {
        first[r] = r;
        for (size_t q = 0; q < r; q++) {
            if (bin[q] == bin[r]) {
                first[r] = first[q];
                break;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        unsigned h = v[i] >> 8, l = v[i] & 0xff;
        for (size_t r = 0; r < m; r++) {
            lo[r][l] += first[r] == r && bin[r] == h;
        }
    }
    for (size_t r = 0; r < m; r++) {
        const uint32_t *c = lo[first[r]];
        size_t below = 0;
        unsigned l = 0;
        while (below + c[l] <= within[r]) {
            below += c[l++];
        }
        out[r] = (uint16_t)(bin[r] << 8 | l);
    }
}

int64_t ht_stats_p90_rank(int64_t n) {
    return n > 0 ? (9 * n + 9) / 10 - 1 : 0;
}

/* The median hours of @n codes (the mean of the middle two when even). */
double ht__stats_median(const uint16_t *v, size_t n) {
    if (n == 0) {
        return NAN;
    }
    size_t ks[2] = {(n - 1) / 2, n / 2};
    uint16_t got[2];
    ht__stats_ranks(v, n, ks, n % 2 ? 1 : 2, got);
    return n % 2 ? ht_stats_hours(got[0])
                 : (ht_stats_hours(got[0]) + ht_stats_hours(got[1])) / 2;
}

/* @r's rates and share evaluated, from its counts. */
static void row_rates(ht_stats_row *r, int64_t evaluated) {
    r->response = ratio(r->response_on_time, r->response_decided);
    r->resolution = ratio(r->resolution_on_time, r->resolution_decided);
    r->satisfaction = ratio(r->satisfied, r->rated);
    r->evaluated = r->count ? (double)evaluated / (double)r->count : NAN;
}

/* The median hours of the codes of ranks (n-1)/2 and n/2 of @n. */
static double median_of(int64_t n, uint16_t lo, uint16_t hi) {
    return n % 2 ? ht_stats_hours(lo)
                 : (ht_stats_hours(lo) + ht_stats_hours(hi)) / 2;
}

/* A group's rates and medians; its durations freed. */
static void group_close(group *g) {
    ht_stats_row *r = &g->row;
    row_rates(r, g->evaluated);
    r->median_close_h = ht__stats_median(g->dur, g->nd);
    r->median_arrive_h = r->p90_arrive_h = NAN;
    if (g->na) {
        /* The median and the nearest-rank 90th percentile in one go. */
        size_t n = g->na, ks[3] = {(n - 1) / 2, n / 2,
                                   (size_t)ht_stats_p90_rank((int64_t)n)};
        uint16_t got[3];
        ht__stats_ranks(g->arr, n, ks, 3, got);
        r->median_arrive_h = median_of((int64_t)n, got[0], got[1]);
        r->p90_arrive_h = ht_stats_hours(got[2]);
    }
    free(g->dur);
    free(g->arr);
    g->dur = g->arr = NULL;
    g->nd = g->na = g->cap_d = g->cap_a = 0;
}

static void group_start(group *g, const char *key) {
    *g = (group){.row = {.prev = -1, .change_pct = NAN}};
    snprintf(g->row.key, sizeof g->row.key, "%s", key);
}

/* The store's facts, in key order, one group after another. */
typedef struct grouper {
    group *out;
    size_t m, cap;
    int64_t now;
    bool arrive; /* hours to arrive counted (by department) */
} grouper;

static ht_status take_fact(const ht_store_fact *fact, void *ud, ht_error *err) {
    grouper *g = ud;
    if (g->m == 0 || strcmp(g->out[g->m - 1].row.key, fact->key) != 0) {
        ht_status st = ht_array_grow((void **)&g->out, &g->cap, g->m + 1,
                                     sizeof *g->out, err);
        if (st != HT_OK) {
            return st;
        }
        group_start(&g->out[g->m++], fact->key);
    }
    /* As the index keeps it: durations in 16 bits (ht_stats_duration_code). */
    ht_stats_fact f = {.state = fact->state,
                       .satisfaction = fact->satisfaction,
                       .whistle = fact->whistle,
                       .close = HT_STATS_NO_DURATION,
                       .arrive = HT_STATS_NO_DURATION};
    ht_stats_due(fact, g->now, &f.response, &f.resolution);
    if (g->arrive && fact->handling_at != HT_TIME_NONE &&
        fact->dispatched_at != HT_TIME_NONE) {
        f.arrive =
            ht_stats_duration_code(fact->handling_at - fact->dispatched_at);
    }
    if (fact->state >= HT_STATE_CLOSED && fact->closed_at != HT_TIME_NONE) {
        f.close = ht_stats_duration_code(fact->closed_at - fact->reported_at);
    }
    return group_add(&g->out[g->m - 1], &f, err);
}

/* Counts of the period @p (before the figures' own), per row, from the
 * store or the index. */
typedef ht_status (*prev_fn)(void *ud, const ht_filter *p, ht_stats_row *rows,
                             size_t n, ht_error *err);

/* Shares, names, the period before, ranks: the groups (in key order,
 * closed) become the rows. Takes @groups. */
static ht_status finish(ht_store *s, const ht_filter *f, ht_stats_by by,
                        group *groups, size_t m, prev_fn prev, void *prev_ud,
                        ht_stats_row **rows, size_t *n, ht_error *err) {
    ht_stats_row *out = malloc((m + 1) * sizeof *out);
    ht_status st = out ? HT_OK : ht_error_set(err, HT_ENOMEM, "out of memory");
    int64_t total = 0;
    for (size_t k = 0; st == HT_OK && k < m; k++) {
        out[k] = groups[k].row;
        total += out[k].count;
    }
    free(groups);
    for (size_t k = 0; st == HT_OK && k < m; k++) {
        out[k].share = (double)out[k].count / (double)total;
    }
    if (st == HT_OK) {
        st = describe(s, by, out, m, err);
    }
    if (st == HT_OK && by != HT_STATS_BY_MONTH && f->from != INT64_MIN &&
        f->to != INT64_MAX) {
        ht_filter p = *f;
        p.to = f->from;
        p.from = f->from - (f->to - f->from);
        for (size_t k = 0; k < m; k++) {
            out[k].prev = 0;
        }
        st = prev(prev_ud, &p, out, m, err);
        for (size_t k = 0; st == HT_OK && k < m; k++) {
            out[k].change_pct = out[k].prev > 0
                                    ? (double)(out[k].count - out[k].prev) /
                                          (double)out[k].prev * 100
                                    : NAN;
        }
    }
    /* Months compare with the calendar month before, when it is there. */
    for (size_t k = 1; st == HT_OK && by == HT_STATS_BY_MONTH && k < m; k++) {
        int y, mo, py, pm;
        if (sscanf(out[k].key, "%d-%d", &y, &mo) == 2 &&
            sscanf(out[k - 1].key, "%d-%d", &py, &pm) == 2 &&
            y * 12 + mo - 1 == py * 12 + pm) {
            out[k].prev = out[k - 1].count;
            out[k].change_pct = (double)(out[k].count - out[k].prev) /
                                (double)out[k].prev * 100;
        }
    }
    /* Ranks by count; months stay in calendar order. */
    ht_stats_row *ranked =
        st == HT_OK ? malloc((m + 1) * sizeof *ranked) : NULL;
    if (st == HT_OK && !ranked) {
        st = ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    if (st == HT_OK && m > 0) {
        memcpy(ranked, out, m * sizeof *out);
        if (m > 1) {
            qsort(ranked, m, sizeof *ranked, cmp_rank);
        }
        for (size_t k = 0; k < m; k++) {
            ranked[k].rank = (int)k + 1;
        }
        if (by != HT_STATS_BY_MONTH) {
            memcpy(out, ranked, m * sizeof *out);
        } else {
            /* months keep calendar order (rows in key order) with their
             * ranks: find each by its key */
            for (size_t k = 0; k < m; k++) {
                ht_stats_row *hit =
                    bsearch(ranked[k].key, out, m, sizeof *out, cmp_row_key);
                if (hit) {
                    hit->rank = (int)k + 1;
                }
            }
        }
    }
    free(ranked);
    if (st != HT_OK) {
        free(out);
        return st;
    }
    *rows = out;
    *n = m;
    return HT_OK;
}

/* The store's side. */
typedef struct store_src {
    ht_store *s;
    ht_stats_by by;
} store_src;

static ht_status store_prev(void *ud, const ht_filter *p, ht_stats_row *rows,
                            size_t n, ht_error *err) {
    const store_src *src = ud;
    prev_ctx ctx = {rows, n};
    return ht_store_group_counts(src->s, p, group_of(src->by), take_prev, &ctx,
                                 err);
}

ht_status ht_stats_compute(ht_store *s, const ht_filter *f, ht_stats_by by,
                           ht_stats_row **rows, size_t *n, ht_error *err) {
    *rows = NULL;
    *n = 0;
    grouper g = {.now = ht_clock_now(), .arrive = by == HT_STATS_BY_DEPARTMENT};
    ht_status st = ht_store_each_fact(s, f, group_of(by), take_fact, &g, err);
    for (size_t k = 0; k < g.m; k++) {
        group_close(&g.out[k]);
    }
    if (st != HT_OK) {
        free(g.out);
        return st;
    }
    store_src src = {s, by};
    return finish(s, f, by, g.out, g.m, store_prev, &src, rows, n, err);
}

/* The index's side: what ht_index_tally_groups counted of each group. */
typedef struct index_src {
    const ht_index *ix;
    ht_group by;
} index_src;

/* Group @g, started, from its tally @t. */
static void group_of_tally(group *g, const ht_index_tally *t) {
    ht_stats_row *r = &g->row;
    r->count = t->count;
    r->response_on_time = t->response_on_time;
    r->response_decided = t->response_decided;
    r->resolution_on_time = t->resolution_on_time;
    r->resolution_decided = t->resolution_decided;
    r->satisfied = t->satisfied;
    r->rated = t->rated;
    r->overdue = t->overdue;
    r->open = t->open;
    memcpy(r->whistles, t->whistles, sizeof r->whistles);
    r->whistles_on_time = t->whistles_on_time;
    r->whistles_decided = t->whistles_decided;
    g->evaluated = t->evaluated;
    row_rates(r, t->evaluated);
    r->median_close_h =
        t->nclose ? median_of(t->nclose, t->close[0], t->close[1]) : NAN;
    r->median_arrive_h = r->p90_arrive_h = NAN;
    if (t->narrive) {
        r->median_arrive_h = median_of(t->narrive, t->arrive[0], t->arrive[1]);
        r->p90_arrive_h = ht_stats_hours(t->arrive[2]);
    }
}

static ht_status index_prev(void *ud, const ht_filter *p, ht_stats_row *rows,
                            size_t n, ht_error *err) {
    const index_src *x = ud;
    ht_index_filter *q;
    ht_status st = ht_index_filter_new(x->ix, p, &q, err);
    size_t ng = ht_index_groups(x->ix, x->by);
    int64_t *counts = st == HT_OK ? calloc(ng, sizeof *counts) : NULL;
    if (st == HT_OK && !counts) {
        st = ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    if (st == HT_OK) {
        ht_index_group_counts(x->ix, q, x->by, counts);
        prev_ctx ctx = {rows, n};
        for (size_t g = 0; st == HT_OK && g < ng; g++) {
            char buf[16];
            if (counts[g]) {
                st = take_prev(ht_index_group_key(x->ix, x->by, g, buf),
                               counts[g], &ctx, err);
            }
        }
    }
    free(counts);
    ht_index_filter_free(q);
    return st;
}

static int cmp_group_key(const void *a, const void *b) {
    return strcmp(((const group *)a)->row.key, ((const group *)b)->row.key);
}

/* Threads for a large index (a part each); one below this many. */
#define MAX_PARTS 4
static _Atomic size_t parallel_from = 400000, forced_parts = 0;

void ht__stats_set_parts(size_t parts, size_t from) {
    forced_parts = parts > MAX_PARTS ? MAX_PARTS : parts;
    parallel_from = from;
}

ht_status ht_stats_compute_ix(ht_store *s, const ht_index *ix,
                              const ht_filter *f, ht_stats_by by,
                              ht_stats_row **rows, size_t *n, ht_error *err) {
    *rows = NULL;
    *n = 0;
    ht_index_filter *q;
    ht_status st = ht_index_filter_new(ix, f, &q, err);
    if (st != HT_OK) {
        return st;
    }
    long cores =
        forced_parts ? (long)forced_parts : sysconf(_SC_NPROCESSORS_ONLN);
    size_t parts = ht_index_count(ix) < parallel_from || cores < 2 ? 1
                   : cores > MAX_PARTS                             ? MAX_PARTS
                                       : (size_t)cores;
    index_src x = {ix, group_of(by)};
    size_t ng = ht_index_groups(ix, x.by);
    ht_index_tally *t = malloc(ng * sizeof *t);
    group *groups = calloc(ng, sizeof *groups);
    st = t && groups ? ht_index_tally_groups(ix, q, x.by, ht_clock_now(),
                                             by == HT_STATS_BY_DEPARTMENT,
                                             parts, t, err)
                     : ht_error_set(err, HT_ENOMEM, "out of memory");
    ht_index_filter_free(q);
    size_t m = 0;
    for (size_t g = 0; st == HT_OK && g < ng; g++) {
        if (t[g].count) {
            char buf[16];
            group_start(&groups[m], ht_index_group_key(ix, x.by, g, buf));
            group_of_tally(&groups[m++], &t[g]);
        }
    }
    free(t);
    if (st != HT_OK) {
        free(groups);
        return st;
    }
    /* In key order, as the store gives them. */
    if (m > 1) {
        qsort(groups, m, sizeof *groups, cmp_group_key);
    }
    return finish(s, f, by, groups, m, index_prev, &x, rows, n, err);
}

static int cmp_topic(const void *a, const void *b) {
    const ht_topic *p = a, *q = b;
    if (p->score != q->score) {
        return p->score > q->score ? -1 : 1;
    }
    int c = strcmp(p->category, q->category);
    return c ? c : strcmp(p->area, q->area);
}

typedef struct topics_ctx {
    ht_topic *out;
    size_t m, cap;
} topics_ctx;

static ht_status take_topic(const ht_store_topic *st, void *ud, ht_error *err) {
    topics_ctx *c = ud;
    ht_status rc =
        ht_array_grow((void **)&c->out, &c->cap, c->m + 1, sizeof *c->out, err);
    if (rc != HT_OK) {
        return rc;
    }
    ht_topic *t = &c->out[c->m++];
    memset(t, 0, sizeof *t);
    snprintf(t->category, sizeof t->category, "%s",
             st->category ? st->category : "");
    snprintf(t->area, sizeof t->area, "%s", st->area);
    snprintf(t->category_name, sizeof t->category_name, "%s",
             st->category_name ? st->category_name : "");
    snprintf(t->area_name, sizeof t->area_name, "%s",
             st->area_name ? st->area_name : "");
    t->count = st->count;
    t->prev = st->prev;
    t->score = (double)(t->count - t->prev) / sqrt((double)t->prev + 1);
    return HT_OK;
}

ht_status ht_stats_topics(ht_store *s, const char *month, ht_stats_by by,
                          const char *within, int64_t min_count, size_t max,
                          ht_topic **topics, size_t *n, ht_error *err) {
    *topics = NULL;
    *n = 0;
    int y, mo;
    ht_status pst = ht_datetime_parse_month(month, &y, &mo, err);
    if (pst != HT_OK) {
        return pst;
    }
    if (by != HT_STATS_BY_STREET && by != HT_STATS_BY_COMMUNITY) {
        return ht_error_set(err, HT_EINVAL,
                            "by: topics are by street or "
                            "community");
    }
    int64_t start = ht_datetime_month_start(y, mo, 0);
    int64_t next = ht_datetime_month_start(y, mo, 1);
    int64_t before = ht_datetime_month_start(y, mo, -1);
    topics_ctx ctx = {0};
    ht_status st =
        ht_store_topic_counts(s, group_of(by), within, before, start, next,
                              min_count, take_topic, &ctx, err);
    ht_topic *out = ctx.out;
    size_t m = ctx.m;
    if (st != HT_OK) {
        free(out);
        return st;
    }
    if (m > 1) {
        qsort(out, m, sizeof *out, cmp_topic);
    }
    *n = m < max ? m : max;
    *topics = out;
    return HT_OK;
}

ht_status ht_stats_topics_ix(ht_store *s, const ht_index *ix, const char *month,
                             ht_stats_by by, const char *within,
                             int64_t min_count, size_t max, ht_topic **topics,
                             size_t *n, ht_error *err) {
    *topics = NULL;
    *n = 0;
    int y, mo;
    ht_status st = ht_datetime_parse_month(month, &y, &mo, err);
    if (st != HT_OK) {
        return st;
    }
    if (by != HT_STATS_BY_STREET && by != HT_STATS_BY_COMMUNITY) {
        return ht_error_set(err, HT_EINVAL,
                            "by: topics are by street or community");
    }
    int64_t start = ht_datetime_month_start(y, mo, 0);
    ht_filter f = ht_filter_all();
    f.from = ht_datetime_month_start(y, mo, -1);
    f.to = ht_datetime_month_start(y, mo, 1);
    if (within) {
        snprintf(f.grid, sizeof f.grid, "%s", within);
    }
    ht_index_filter *q;
    if ((st = ht_index_filter_new(ix, &f, &q, err)) != HT_OK) {
        return st;
    }
    ht_group g = group_of(by);
    size_t ng = ht_index_groups(ix, g), nc = ht_index_categories(ix);
    int64_t *counts = calloc(nc * ng * 2 + 1, sizeof *counts);
    if (!counts) {
        ht_index_filter_free(q);
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    ht_index_pair_counts(ix, q, g, start, counts);
    ht_index_filter_free(q);
    /* The names of the categories and areas met, in two batches. */
    const char **ckeys = calloc(nc + 1, sizeof *ckeys);
    const char **akeys = calloc(ng + 1, sizeof *akeys);
    char(*abuf)[16] = calloc(ng + 1, sizeof *abuf);
    bool *cfound = calloc(nc + 1, sizeof *cfound);
    bool *afound = calloc(ng + 1, sizeof *afound);
    ht_group_info *cinfo = calloc(nc + 1, sizeof *cinfo);
    ht_group_info *ainfo = calloc(ng + 1, sizeof *ainfo);
    size_t *cat_at = calloc(nc + 1, sizeof *cat_at);
    size_t *area_at = calloc(ng + 1, sizeof *area_at);
    if (!ckeys || !akeys || !abuf || !cfound || !afound || !cinfo || !ainfo ||
        !cat_at || !area_at) {
        st = ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    size_t ncat = 0, narea = 0;
    for (size_t c = 0; st == HT_OK && c < nc; c++) {
        cat_at[c] = (size_t)-1;
        for (size_t a = 0; a < ng; a++) {
            const int64_t *k = counts + (c * ng + a) * 2;
            if (k[1] < min_count || k[0] + k[1] == 0) {
                continue;
            }
            if (cat_at[c] == (size_t)-1) {
                cat_at[c] = ncat;
                ckeys[ncat++] = ht_index_category_code(ix, c);
            }
            if (!area_at[a]) {
                const char *key = ht_index_group_key(ix, g, a, abuf[a]);
                area_at[a] = strcmp(key, "-") == 0 ? (size_t)-1 : ++narea;
                if (area_at[a] != (size_t)-1) {
                    akeys[narea - 1] = key;
                }
            }
        }
    }
    if (st == HT_OK && ncat) {
        st = ht_store_group_infos(s, HT_GROUP_CATEGORY, ckeys, ncat, cfound,
                                  cinfo, err);
    }
    if (st == HT_OK && narea) {
        st = ht_store_group_infos(s, g, akeys, narea, afound, ainfo, err);
    }
    topics_ctx ctx = {0};
    for (size_t c = 0; st == HT_OK && c < nc; c++) {
        for (size_t a = 0; st == HT_OK && a < ng; a++) {
            const int64_t *k = counts + (c * ng + a) * 2;
            if (k[1] < min_count || k[0] + k[1] == 0) {
                continue;
            }
            char buf[16];
            size_t ci = cat_at[c], ai = area_at[a];
            ht_store_topic t = {
                .category = ht_index_category_code(ix, c),
                .category_name = cfound[ci] ? cinfo[ci].name : NULL,
                .area = ht_index_group_key(ix, g, a, buf),
                .area_name = ai != (size_t)-1 && afound[ai - 1]
                                 ? ainfo[ai - 1].name
                                 : NULL,
                .count = k[1],
                .prev = k[0]};
            st = take_topic(&t, &ctx, err);
        }
    }
    free(ckeys);
    free(akeys);
    free(abuf);
    free(cfound);
    free(afound);
    free(cinfo);
    free(ainfo);
    free(cat_at);
    free(area_at);
    free(counts);
    if (st != HT_OK) {
        free(ctx.out);
        return st;
    }
    if (ctx.m > 1) {
        qsort(ctx.out, ctx.m, sizeof *ctx.out, cmp_topic);
    }
    *n = ctx.m < max ? ctx.m : max;
    *topics = ctx.out;
    return HT_OK;
}
