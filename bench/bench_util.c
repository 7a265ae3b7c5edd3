/* SPDX-License-Identifier: Apache-2.0 */
/* What the benchmarks share. */
#include "bench_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include "hutong/demo.h"

double bench_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int bench_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

bool bench_open(const char *db, size_t incidents, ht_store **s, ht_features **f,
                ht_renderer **r) {
    ht_error err = {0};
    char path[512];
    if (!db) {
        const char *tmp = getenv("TMPDIR");
        snprintf(path, sizeof path, "%s/hutong_bench_demo_%zu.db",
                 tmp && *tmp ? tmp : "/tmp", incidents);
        struct stat sb;
        if (stat(path, &sb) != 0) {
            printf("building the demo (%zu incidents, 0: default)...\n",
                   incidents);
            ht_demo_opts o = {.end = 1795824000, .incidents = incidents};
            if (ht_store_open(path, HT_STORE_CREATE, s, &err) != HT_OK ||
                ht_demo_build(*s, &o, NULL, &err) != HT_OK) {
                fprintf(stderr, "demo: %s\n", err.msg);
                ht_store_close(*s);
                remove(path);
                return false;
            }
            ht_store_close(*s);
        }
        db = path;
    }
    if (ht_store_open(db, HT_STORE_READONLY, s, &err) != HT_OK ||
        ht_features_load(*s, f, &err) != HT_OK ||
        ht_renderer_new(*s, *f, r, &err) != HT_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return false;
    }
    return true;
}

bench_timing bench_summarise(double *ms, int runs) {
    qsort(ms + 1, (size_t)runs, sizeof *ms, bench_cmp_double);
    return (bench_timing){ms[0], ms[1 + runs / 2],
                          ms[1 + (runs * 95 + 99) / 100 - 1], ms[runs]};
}
