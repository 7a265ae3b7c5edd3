/* SPDX-License-Identifier: Apache-2.0 */
/* Benchmark: the figures the wall and the dashboards ask for, from the
 * store's SQL and from the in-memory index, in one run: for each query the
 * first run, then median, p95 and max of --runs, and the ratio of the
 * medians. Also the index's load time. Run by hand:
 *   build/bench/bench_stats [--db FILE] [--runs N] [--only index|sql]
 * (default: the demo of 200,000 incidents, built on first use). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hutong/clock.h"
#include "hutong/index.h"
#include "hutong/stats.h"

#include "bench_util.h"

/* @runs + 1 computations of @f by @by, from the index when @ix is set. */
static bool measure(ht_store *s, const ht_index *ix, const ht_filter *f,
                    ht_stats_by by, int runs, bench_timing *out, size_t *rows) {
    double *ms = malloc((size_t)(runs + 1) * sizeof *ms);
    for (int k = 0; ms && k <= runs; k++) {
        ht_stats_row *r = NULL;
        size_t n = 0;
        ht_error err = {0};
        double t0 = bench_now_ms();
        ht_status st = ix ? ht_stats_compute_ix(s, ix, f, by, &r, &n, &err)
                          : ht_stats_compute(s, f, by, &r, &n, &err);
        ms[k] = bench_now_ms() - t0;
        free(r);
        if (st != HT_OK) {
            fprintf(stderr, "stats: %s\n", err.msg);
            free(ms);
            return false;
        }
        *rows = n;
    }
    if (!ms) {
        return false;
    }
    *out = bench_summarise(ms, runs);
    free(ms);
    return true;
}

int main(int argc, char **argv) {
    const char *db = NULL, *only = "";
    int runs = 9;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--db") == 0) {
            db = argv[i + 1];
        } else if (strcmp(argv[i], "--runs") == 0) {
            runs = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--only") == 0) {
            only = argv[i + 1]; /* "index" or "sql", for a profile */
        }
    }
    runs = runs < 1 ? 1 : runs;
    ht_store *s;
    ht_features *feat;
    ht_renderer *rend;
    if (!bench_open(db, 0, &s, &feat, &rend)) {
        return 1;
    }
    ht_error err = {0};
    ht_index *ix = NULL;
    double t0 = bench_now_ms();
    /* The server's snapshot beside the database, when it is current. */
    char snap[1100];
    int64_t version = -1;
    snprintf(snap, sizeof snap, "%s.index", db ? db : "");
    bool read = db && ht_store_data_version(s, &version, NULL) == HT_OK &&
                ht_index_read(snap, version, &ix, NULL) == HT_OK;
    if (!read && ht_index_load(s, &ix, &err) != HT_OK) {
        fprintf(stderr, "index: %s\n", err.msg);
        return 1;
    }
    double load = bench_now_ms() - t0;
    printf("%zu incidents; index %s in %.0f ms (%.0f bytes an incident)\n",
           ht_index_count(ix), read ? "read from its snapshot" : "loaded", load,
           ht_index_bytes_per_incident(ix));
    /* The figures as of the newest report, so windows hold data. */
    int64_t first, last;
    if (ht_index_time_range(ix, &first, &last)) {
        ht_clock_set(last + 1);
    }
    int64_t now = ht_clock_now();
    static const struct {
        const char *by, *k1, *v1, *k2, *v2;
    } q[] = {
        {"street", "window", "30d", NULL, NULL},
        {"street", "window", "24h", NULL, NULL},
        {"grid", NULL, NULL, NULL, NULL},
        {"grid", "window", "30d", NULL, NULL},
        {"department", "window", "month", NULL, NULL},
        {"department", "overdue", "1", NULL, NULL},
        {"category", "window", "7d", "severity", "3"},
        {"month", NULL, NULL, NULL, NULL},
        {"community", "window", "30d", "category", "01"},
    };
    printf("%-44s %5s | %25s | %25s | %7s\n", "query", "rows",
           "SQL first/median/p95 ms", "index first/median/p95 ms", "ratio");
    for (size_t k = 0; k < sizeof q / sizeof *q; k++) {
        ht_filter f = ht_filter_all();
        ht_stats_by by;
        if (ht_stats_by_parse(q[k].by, &by, &err) != HT_OK ||
            (q[k].k1 && ht_filter_set(&f, q[k].k1, q[k].v1, now, &err)) ||
            (q[k].k2 && ht_filter_set(&f, q[k].k2, q[k].v2, now, &err))) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        bench_timing a = {0}, b = {0};
        size_t na = 0, nb = 0;
        if ((strcmp(only, "index") != 0 &&
             !measure(s, NULL, &f, by, runs, &a, &na)) ||
            (strcmp(only, "sql") != 0 &&
             !measure(s, ix, &f, by, runs, &b, &nb))) {
            return 1;
        }
        na = only[0] ? nb : na;
        char name[64];
        snprintf(name, sizeof name, "by=%s%s%s%s%s%s%s", q[k].by,
                 q[k].k1 ? " " : "", q[k].k1 ? q[k].k1 : "", q[k].k1 ? "=" : "",
                 q[k].k1 ? q[k].v1 : "", q[k].k2 ? " " : "",
                 q[k].k2 ? q[k].k2 : "");
        printf(
            "%-44s %5zu | %7.1f %8.1f %8.1f | %7.1f %8.1f %8.1f | "
            "%6.1fx%s\n",
            name, nb, a.first, a.median, a.p95, b.first, b.median, b.p95,
            b.median > 0 ? a.median / b.median : 0,
            na == nb ? "" : "  (rows differ!)");
    }
    ht_clock_set(0);
    ht_index_unref(ix);
    ht_renderer_free(rend);
    ht_features_free(feat);
    ht_store_close(s);
    return 0;
}
