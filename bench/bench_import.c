/* SPDX-License-Identifier: Apache-2.0 */
/* Benchmark: incidents per second for a large CSV import, including grid
 * assignment and street snapping, into the demo district. Run by hand:
 *   build/bench/bench_import [--rows N] [--runs R] [--dir DIR] [--keep 1]
 * --keep 1 leaves the base database and the CSV in DIR for experiments. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hutong/demo.h"
#include "hutong/import.h"
#include "hutong/locate.h"
#include "hutong/store.h"

#include "bench_util.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rnd_state = 88172645463325252ULL;

static double rnd(void) {
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return (double)(rnd_state >> 11) / 9007199254740992.0;
}

typedef struct seg {
    double x0, y0, x1, y1;
} seg;

typedef struct segs {
    seg *a;
    size_t n, cap;
} segs;

static ht_status collect(int64_t id, const ht_street_rec *rec, void *ud,
                         ht_error *err) {
    (void)id;
    (void)err;
    segs *s = ud;
    const ht_geom *g = rec->geom;
    for (size_t k = 0; k + 1 < g->npts; k++) {
        if (s->n == s->cap) {
            s->cap = s->cap ? s->cap * 2 : 4096;
            s->a = realloc(s->a, s->cap * sizeof *s->a);
        }
        s->a[s->n++] =
            (seg){g->pts[k].x, g->pts[k].y, g->pts[k + 1].x, g->pts[k + 1].y};
    }
    return HT_OK;
}

static int copy_file(const char *from, const char *to) {
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    if (!a || !b) {
        return -1;
    }
    char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, a)) > 0) {
        fwrite(buf, 1, n, b);
    }
    fclose(a);
    return fclose(b);
}

int main(int argc, char **argv) {
    size_t rows = 1000000;
    int runs = 3;
    const char *dir = "/tmp";
    int keep = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--rows") == 0) {
            rows = strtoull(argv[i + 1], NULL, 10);
        } else if (strcmp(argv[i], "--runs") == 0) {
            runs = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--keep") == 0) {
            keep = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--dir") == 0) {
            dir = argv[i + 1];
        }
    }
    if (runs < 1 || runs > 50 || rows == 0) {
        fprintf(stderr, "usage: %s [--rows N] [--runs 1..50] [--dir DIR]\n",
                argv[0]);
        return 2;
    }
    char base[1024], csv[1024], work[1024];
    snprintf(base, sizeof base, "%s/bench_import_base.db", dir);
    snprintf(csv, sizeof csv, "%s/bench_import.csv", dir);
    snprintf(work, sizeof work, "%s/bench_import_run.db", dir);
    unlink(base);
    ht_error err = {0};
    ht_store *s;
    /* The demo district with one incident: grids and streets to match. */
    ht_demo_opts o = {.end = 1795824000, .incidents = 1};
    ht_demo_stats ds;
    if (ht_store_open(base, HT_STORE_CREATE, &s, &err) != HT_OK ||
        ht_demo_build(s, &o, &ds, &err) != HT_OK) {
        fprintf(stderr, "demo: %s\n", err.msg);
        return 1;
    }
    segs sg = {0};
    ht_store_each_street(s, collect, &sg, &err);
    ht_store_close(s);
    /* Clustered like the demo: 60 % within 20 m of a street, 40 % spread
     * over the district's box (some fall outside every grid, as real feeds
     * do). */
    static const char *const cats[] = {"0101", "0102", "0105", "0201",
                                       "0301", "0402", "0502", "0503",
                                       "H01",  "H02",  "H04",  "H0601"};
    static const char *const src[] = {"hotline", "patrol", "app", "whistle"};
    static const char *const sts[] = {"reported", "dispatched", "closed",
                                      "evaluated"};
    FILE *f = fopen(csv, "w");
    fprintf(f,
            "id,lon,lat,category,severity,source,status,reported_at,"
            "closed_at\n");
    for (size_t k = 0; k < rows; k++) {
        double lon, lat;
        if (rnd() < 0.6) {
            seg *e = &sg.a[(size_t)(rnd() * (double)sg.n)];
            double u = rnd();
            lon = e->x0 + (e->x1 - e->x0) * u + (rnd() - 0.5) * 0.0004;
            lat = e->y0 + (e->y1 - e->y0) * u + (rnd() - 0.5) * 0.0003;
        } else {
            lon = 116.384 + rnd() * 0.051;
            lat = 39.857 + rnd() * 0.116;
        }
        long t = 1735689600L + (long)(rnd() * 365 * 86400);
        int st = (int)(rnd() * 4);
        char closed[32] = "";
        if (st >= 2) {
            snprintf(closed, sizeof closed, "%ld", t + 3600);
        }
        char rep[32], clo[32];
        time_t tt = t;
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(rep, sizeof rep, "%Y-%m-%dT%H:%M:%SZ", &tm);
        clo[0] = 0;
        if (st >= 2) {
            tt = t + 3600;
            gmtime_r(&tt, &tm);
            strftime(clo, sizeof clo, "%Y-%m-%dT%H:%M:%SZ", &tm);
        }
        fprintf(f, "B%09zu,%.7f,%.7f,%s,%d,%s,%s,%s,%s\n", k, lon, lat,
                cats[(size_t)(rnd() * 12)], 1 + (int)(rnd() * 3),
                src[(size_t)(rnd() * 4)], sts[st], rep, clo);
    }
    fclose(f);
    free(sg.a);
    printf(
        "import of %zu CSV rows into the demo district (%zu unit grids, "
        "%zu street segments), %d runs\n",
        rows, ds.grids[HT_LEVEL_GRID], ds.streets, runs);
    double *rate = calloc((size_t)runs, sizeof *rate);
    for (int r = 0; r < runs; r++) {
        unlink(work);
        copy_file(base, work);
        if (ht_store_open(work, HT_STORE_WRITE, &s, &err) != HT_OK) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        ht_import_opts io = {.kind = HT_IMPORT_INCIDENTS};
        ht_import_stats st;
        double t0 = now_s();
        ht_status rc = ht_import_file(s, csv, &io, &st, &err);
        double dt = now_s() - t0;
        ht_store_close(s);
        if (rc != HT_OK) {
            fprintf(stderr, "import: %s\n", err.msg);
            return 1;
        }
        rate[r] = (double)st.inserted / dt;
        printf("  run %d: %.2f s, %.0f rows/s (%zu new)\n", r + 1, dt, rate[r],
               st.inserted);
    }
    qsort(rate, (size_t)runs, sizeof *rate, bench_cmp_double);
    printf("median: %.0f rows/s\n", rate[runs / 2]);
    free(rate);
    unlink(work);
    if (!keep) {
        unlink(base);
        unlink(csv);
    }
    return 0;
}
