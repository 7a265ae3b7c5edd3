/* SPDX-License-Identifier: Apache-2.0 */
/* Levelled one-line logging to stderr. */
#ifndef HUTONG_LOG_H
#define HUTONG_LOG_H

#include <stdbool.h>

typedef enum ht_log_level {
    HT_LOG_DEBUG = 0,
    HT_LOG_INFO,
    HT_LOG_WARN,
    HT_LOG_ERROR,
    HT_LOG_OFF
} ht_log_level;

/** Set the lowest level that is written (default HT_LOG_INFO). Thread-safe. */
void ht_log_set_level(ht_log_level level);

/** True when messages at @level are written. Thread-safe. */
bool ht_log_enabled(ht_log_level level);

/** Write one line: UTC ISO-8601 time, level, module, message. Thread-safe. */
void ht__log_write(ht_log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** Log at @level; the arguments are evaluated only when the level is on. */
#define ht_log(level, module, ...)                     \
    do {                                               \
        if (ht_log_enabled(level)) {                   \
            ht__log_write(level, module, __VA_ARGS__); \
        }                                              \
    } while (0)

#endif
