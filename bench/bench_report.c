/* SPDX-License-Identifier: Apache-2.0 */
/* Benchmark: the monthly report. For --month (default: the last complete
 * month of the demo) over the whole store and over one street office:
 * the figures (ht_report_compute) and the printed PDF at --dpi, the first
 * run cold, then median and p95 of --runs; beside them, in the same run,
 * one A4 grid page of print for the ratio. Run by hand:
 *   build/bench/bench_report [--db FILE] [--month YYYY-MM] [--runs N]
 *                            [--dpi D]
 * The PDFs go to the temporary folder and are removed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hutong/datetime.h"
#include "hutong/report.h"

#include "bench_util.h"

int main(int argc, char **argv) {
    const char *db = NULL, *month = NULL;
    int runs = 7, dpi = 300;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--db") == 0) {
            db = argv[i + 1];
        } else if (strcmp(argv[i], "--month") == 0) {
            month = argv[i + 1];
        } else if (strcmp(argv[i], "--runs") == 0) {
            runs = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--dpi") == 0) {
            dpi = atoi(argv[i + 1]);
        }
    }
    runs = runs < 1 ? 1 : runs;
    ht_store *s;
    ht_features *f;
    ht_renderer *r;
    if (!bench_open(db, 0, &s, &f, &r)) {
        return 1;
    }
    char last[32];
    if (!month) {
        /* The month before this one. */
        int y, m, d, hh, mm, ss;
        ht_datetime_to_civil((int64_t)time(NULL), &y, &m, &d, &hh, &mm, &ss);
        snprintf(last, sizeof last, "%04d-%02d", m == 1 ? y - 1 : y,
                 m == 1 ? 12 : m - 1);
        month = last;
    }
    ht_style *base, *heat, *print;
    ht_error err = {0};
    if (ht_style_load("report", &base, &err) != HT_OK ||
        ht_style_load("report-heat", &heat, &err) != HT_OK ||
        ht_style_load("print", &print, &err) != HT_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    int64_t now = (int64_t)time(NULL);
    ht_report_opts ro = {.print = ht_print_opts_default(now), .topic_pages = 3};
    ro.print.style = base;
    ro.print.layer = heat;
    ro.print.dpi = dpi;
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char path[600];
    snprintf(path, sizeof path, "%s/hutong-bench-report-%ld.pdf", tmp,
             (long)getpid());
    double *cms = calloc((size_t)runs + 1, sizeof *cms);
    double *pms = calloc((size_t)runs + 1, sizeof *pms);
    double *gms = calloc((size_t)runs + 1, sizeof *gms);
    const char *areas[2] = {NULL, "110101003"};
    bench_timing page = {0};
    for (int a = 0; a < 2; a++) {
        size_t npages = 0;
        for (int k = 0; k <= runs; k++) {
            ht_report_data d;
            double t0 = bench_now_ms();
            if (ht_report_compute(s, f, month, areas[a], &d, &err) != HT_OK) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
            double t1 = bench_now_ms();
            ht_report_page *pages;
            if (ht_report_print(r, s, f, &d, &ro, path, &pages, &npages,
                                &err) != HT_OK) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
            cms[k] = t1 - t0;
            pms[k] = bench_now_ms() - t1;
            free(pages);
            ht_report_data_free(&d);
            /* One atlas page, interleaved: the same machine state. */
            ht_print_opts po = ht_print_opts_default(now);
            po.style = print;
            po.layer = ro.print.layer;
            po.dpi = dpi;
            ht_filter_set(&po.filter, "window", "30d", now, NULL);
            ht_buf *b = ht_buf_new();
            t0 = bench_now_ms();
            if (ht_print_page_pdf(r, s, f, "110101003002001", &po, b, NULL,
                                  &err) != HT_OK) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
            gms[k] = bench_now_ms() - t0;
            ht_buf_free(b);
        }
        bench_timing c = bench_summarise(cms, runs),
                     p = bench_summarise(pms, runs);
        page = bench_summarise(gms, runs);
        printf(
            "report %s of %s, %zu pages at %d dpi: figures first %.0f ms, "
            "median %.0f, p95 %.0f; print first %.0f ms, median %.0f, "
            "p95 %.0f (%d runs)\n",
            month, areas[a] ? areas[a] : "the district", npages, dpi, c.first,
            c.median, c.p95, p.first, p.median, p.p95, runs);
        printf(
            "  one A4 grid page in the same run: median %.0f ms; the whole "
            "report = %.1f pages' time\n",
            page.median, (c.median + p.median) / page.median);
    }
    unlink(path);
    free(cms);
    free(pms);
    free(gms);
    ht_style_unref(base);
    ht_style_unref(heat);
    ht_style_unref(print);
    ht_renderer_free(r);
    ht_features_free(f);
    ht_store_close(s);
    return 0;
}
