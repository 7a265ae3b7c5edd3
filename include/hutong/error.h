/* SPDX-License-Identifier: Apache-2.0 */
/* Status codes and per-call error messages. */
#ifndef HUTONG_ERROR_H
#define HUTONG_ERROR_H

#include <stddef.h>

/** Result of every fallible hutong call. HT_OK is zero. */
typedef enum ht_status {
    HT_OK = 0,
    HT_EINVAL,
    HT_ENOTFOUND,
    HT_ENOMEM,
    HT_EIO,
    HT_EDB,
    HT_EPROJ,
    HT_ERENDER,
    HT_EAUTH,
    HT_EBUSY,
    HT_EINTERNAL,
    HT_ECONFLICT, /**< the request conflicts with what is stored */
    HT_STATUS_END
} ht_status;

/** Size of the message buffer of ht_error, terminator included. */
#define HT_ERROR_MSG_SIZE 256

/**
 * A status with a message, owned by the caller (one per call or per thread:
 * there is no global error state). Zero-initialise it, or ht_error_clear().
 */
typedef struct ht_error {
    ht_status code;
    char msg[HT_ERROR_MSG_SIZE];
} ht_error;

/**
 * Record a status and a printf-style message in @err (which may be NULL).
 * Messages longer than the buffer are truncated. Returns @code, so that a
 * caller can write `return ht_error_set(err, HT_EINVAL, "...")`.
 * Thread-safe for distinct @err objects.
 */
ht_status ht_error_set(ht_error *err, ht_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** Reset @err (may be NULL) to HT_OK with an empty message. Cannot fail. */
void ht_error_clear(ht_error *err);

/**
 * Prefix the message already in @err with printf-style context, e.g. the
 * file name ("a.csv: " + "row 3: ..."). Keeps the code. No-op for NULL.
 */
void ht_error_prefix(ht_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/** Stable short name of a status ("EINVAL", ...); never NULL. */
const char *ht_status_str(ht_status code);

/**
 * Defensive branch for a condition that should never hold (as in h3's
 * NEVER): true when @x holds, and aborts in debug builds so tests find it.
 */
#ifdef NDEBUG
#define HT_NEVER(x) (x)
#else
#include <assert.h>
#define HT_NEVER(x) ((x) ? (assert(!"HT_NEVER: " #x), 1) : 0)
#endif

/** Free @p with @fn when non-NULL, then set it to NULL. */
#define HT_CLEAR(p, fn) \
    do {                \
        if ((p)) {      \
            fn((p));    \
            (p) = NULL; \
        }               \
    } while (0)

#endif
