/* SPDX-License-Identifier: Apache-2.0 */
/* Status codes and per-call error messages. */
#include "hutong/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

ht_status ht_error_set(ht_error *err, ht_status code, const char *fmt, ...) {
    if (!err) {
        return code;
    }
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

void ht_error_clear(ht_error *err) {
    if (err) {
        err->code = HT_OK;
        err->msg[0] = '\0';
    }
}

void ht_error_prefix(ht_error *err, const char *fmt, ...) {
    if (!err) {
        return;
    }
    char prefix[HT_ERROR_MSG_SIZE];
    char old[HT_ERROR_MSG_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    size_t np = strlen(prefix), no = strnlen(old, sizeof old - 1);
    if (no > sizeof err->msg - 1 - np) {
        no = sizeof err->msg - 1 - np; /* truncate the tail, keep context */
    }
    memcpy(err->msg, prefix, np);
    memcpy(err->msg + np, old, no);
    err->msg[np + no] = '\0';
}

const char *ht_status_str(ht_status code) {
    static const char *const names[HT_STATUS_END] = {
        [HT_OK] = "OK",
        [HT_EINVAL] = "EINVAL",
        [HT_ENOTFOUND] = "ENOTFOUND",
        [HT_ENOMEM] = "ENOMEM",
        [HT_EIO] = "EIO",
        [HT_EDB] = "EDB",
        [HT_EPROJ] = "EPROJ",
        [HT_ERENDER] = "ERENDER",
        [HT_EAUTH] = "EAUTH",
        [HT_EBUSY] = "EBUSY",
        [HT_EINTERNAL] = "EINTERNAL",
        [HT_ECONFLICT] = "ECONFLICT",
    };
    if ((int)code < 0 || code >= HT_STATUS_END) {
        return "EUNKNOWN";
    }
    return names[code];
}
