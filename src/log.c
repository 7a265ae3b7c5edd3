/* SPDX-License-Identifier: Apache-2.0 */
/* Levelled one-line logging to stderr. */
#include "hutong/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

static atomic_int log_level = HT_LOG_INFO;

void ht_log_set_level(ht_log_level level) {
    atomic_store(&log_level, (int)level);
}

bool ht_log_enabled(ht_log_level level) {
    return (int)level >= atomic_load(&log_level);
}

void ht__log_write(ht_log_level level, const char *module, const char *fmt,
                   ...) {
    static const char *const names[] = {"DEBUG", "INFO", "WARN", "ERROR",
                                        "OFF"};
    char line[1024];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(
        line, sizeof line,
        "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s: ", tm.tm_year + 1900,
        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
        ts.tv_nsec / 1000000L, names[level], module);
    if (n < 0 || (size_t)n >= sizeof line) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    /* One fprintf per line keeps lines whole across threads (stdio locks). */
    fprintf(stderr, "%s\n", line);
}
