/* SPDX-License-Identifier: Apache-2.0 */
/* A progress bar for long jobs on a terminal: how far, how fast, how long
 * still. */
#include <stdio.h>
#include <time.h>

#include "cli_int.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cli_progress_start(cli_progress *p, const char *what, const char *unit) {
    p->what = what;
    p->unit = unit;
    p->t0 = now_s();
}

void cli_progress_show(cli_progress *p, size_t count, size_t done,
                       size_t total) {
    double el = now_s() - p->t0;
    double rate = el > 0 ? (double)count / el : 0;
    double f = total ? (double)done / (double)total : 0;
    f = f > 1 ? 1 : f;
    char bar[24] = "";
    char left[32] = "";
    if (total) {
        int w = 20, full = (int)(f * w + 0.5);
        for (int k = 0; k < w; k++) {
            bar[k] = k < full ? '#' : '.';
        }
        bar[w] = '\0';
        if (f > 0 && el > 0.5) {
            double s = el * (1 - f) / f;
            snprintf(left, sizeof left, ", %d:%02d left", (int)(s / 60),
                     (int)s % 60);
        }
    }
    char pct[8] = "";
    if (total) {
        snprintf(pct, sizeof pct, "%3.0f%% ", f * 100);
    }
    fprintf(stderr, "\r\033[K%s: %s%s%s%s%zu %s, %.0f %s/s%s", p->what,
            total ? "[" : "", bar, total ? "] " : "", pct, count, p->unit, rate,
            p->unit, left);
    fflush(stderr);
}

double cli_progress_seconds(const cli_progress *p) {
    return now_s() - p->t0;
}
