/* SPDX-License-Identifier: Apache-2.0 */
/* Benchmark: printed maps. One A3 page at 300 DPI (median and p95 of
 * --runs), then atlases of every unit grid of the demo (or the first
 * --pages of them) with one thread and with --threads: seconds, pages a
 * second, the ratio, and the process's peak RSS. Run by hand:
 *   build/bench/bench_print [--db FILE] [--runs N] [--pages N]
 *                           [--threads T] [--dpi D]
 * Without --db it uses the default demo (bench_open). The atlases go to
 * the temporary folder and are removed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "hutong/print.h"

#include "bench_util.h"

static double peak_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

int main(int argc, char **argv) {
    const char *db = NULL;
    int runs = 7, threads = 2, dpi = 300;
    long pages = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--db") == 0) {
            db = argv[i + 1];
        } else if (strcmp(argv[i], "--runs") == 0) {
            runs = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--pages") == 0) {
            pages = atol(argv[i + 1]);
        } else if (strcmp(argv[i], "--threads") == 0) {
            threads = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--dpi") == 0) {
            dpi = atoi(argv[i + 1]);
        }
    }
    ht_store *s;
    ht_features *f;
    ht_renderer *r;
    if (!bench_open(db, 0, &s, &f, &r)) {
        return 1;
    }
    ht_style *print, *heat;
    ht_error err = {0};
    if (ht_style_load("print", &print, &err) != HT_OK ||
        ht_style_load("heat", &heat, &err) != HT_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    int64_t now = (int64_t)time(NULL);
    ht_print_opts o = ht_print_opts_default(now);
    o.style = print;
    o.layer = heat;
    o.dpi = dpi;
    ht_filter_set(&o.filter, "window", "30d", now, NULL);

    /* One A3 page of a street office, the first run warming the caches. */
    o.paper = HT_PAPER_A3;
    double *ms = calloc((size_t)runs + 1, sizeof *ms);
    size_t bytes = 0;
    for (int k = 0; k <= runs; k++) {
        ht_buf *b = ht_buf_new();
        double t0 = bench_now_ms();
        if (ht_print_page_pdf(r, s, f, "110101006", &o, b, NULL, &err) !=
            HT_OK) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        ms[k] = bench_now_ms() - t0;
        bytes = b->len;
        ht_buf_free(b);
    }
    qsort(ms + 1, (size_t)runs, sizeof *ms, bench_cmp_double);
    printf(
        "A3 page at %d dpi (street office 110101006): first %.0f ms, "
        "median %.0f ms, p95 %.0f ms over %d runs, %zu KB\n",
        dpi, ms[0], ms[1 + runs / 2], ms[1 + (runs * 95 + 99) / 100 - 1], runs,
        bytes / 1024);
    free(ms);

    /* The atlas of every unit grid, A4. */
    o.paper = HT_PAPER_A4;
    const char **codes;
    size_t n;
    if (ht_print_select(f, NULL, HT_LEVEL_GRID, &codes, &n, &err) != HT_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    if (pages > 0 && (size_t)pages < n) {
        n = (size_t)pages;
    }
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char path[600];
    snprintf(path, sizeof path, "%s/hutong-bench-atlas-%ld.pdf", tmp,
             (long)getpid());
    double secs[2] = {0, 0};
    int counts[2] = {1, threads};
    for (int k = 0; k < 2; k++) {
        o.threads = counts[k];
        double t0 = bench_now_ms();
        if (ht_print_atlas(r, s, f, codes, n, &o, path, NULL, NULL, NULL,
                           &err) != HT_OK) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        secs[k] = (bench_now_ms() - t0) / 1000;
        FILE *pf = fopen(path, "rb");
        long size = 0;
        if (pf) {
            fseek(pf, 0, SEEK_END);
            size = ftell(pf);
            fclose(pf);
        }
        printf(
            "atlas of %zu unit grids, A4 %d dpi, %d thread%s: %.1f s, "
            "%.1f pages/s, %.0f MB, peak RSS so far %.0f MB\n",
            n, dpi, counts[k], counts[k] > 1 ? "s" : "", secs[k],
            (double)n / secs[k], size / 1048576.0, peak_rss_mb());
        unlink(path);
    }
    printf("%d threads against 1: %.2fx\n", threads, secs[0] / secs[1]);
    free(codes);
    ht_style_unref(print);
    ht_style_unref(heat);
    ht_renderer_free(r);
    ht_features_free(f);
    ht_store_close(s);
    return 0;
}
