/* SPDX-License-Identifier: Apache-2.0 */
/* Growable byte buffer. */
#include "hutong/buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ht_buf *ht_buf_new(void) {
    ht_buf *b = calloc(1, sizeof *b);
    if (!b) {
        return NULL;
    }
    b->data = malloc(64);
    if (!b->data) {
        free(b);
        return NULL;
    }
    b->cap = 64;
    b->data[0] = 0;
    return b;
}

void ht_buf_free(ht_buf *b) {
    if (b) {
        free(b->data);
        free(b);
    }
}

ht_status ht_buf_reserve(ht_buf *b, size_t extra, ht_error *err) {
    if (extra >= SIZE_MAX - b->len - 1) {
        return ht_error_set(err, HT_ENOMEM, "buffer size overflow");
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap) {
        return HT_OK;
    }
    size_t cap = b->cap;
    while (cap < need) {
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    }
    uint8_t *p = realloc(b->data, cap);
    if (!p) {
        return ht_error_set(err, HT_ENOMEM, "out of memory (%zu bytes)", cap);
    }
    b->data = p;
    b->cap = cap;
    return HT_OK;
}

ht_status ht_buf_append(ht_buf *b, const void *p, size_t n, ht_error *err) {
    ht_status st = ht_buf_reserve(b, n, err);
    if (st != HT_OK) {
        return st;
    }
    if (n) {
        memcpy(b->data + b->len, p, n);
    }
    b->len += n;
    b->data[b->len] = 0;
    return HT_OK;
}

ht_status ht_buf_appendf(ht_buf *b, ht_error *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return ht_error_set(err, HT_EINTERNAL, "bad format string");
    }
    ht_status st = ht_buf_reserve(b, (size_t)n, err);
    if (st != HT_OK) {
        return st;
    }
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return HT_OK;
}

void ht_buf_clear(ht_buf *b) {
    b->len = 0;
    b->data[0] = 0;
}

char *ht_buf_take_string(ht_buf *b) {
    if (!b || ht_buf_append(b, "", 1, NULL) != HT_OK) {
        ht_buf_free(b);
        return NULL;
    }
    char *s = (char *)b->data; /* handed over */
    b->data = NULL;
    ht_buf_free(b);
    return s;
}

ht_status ht_array_grow(void **p, size_t *cap, size_t need, size_t elem,
                        ht_error *err) {
    if (need <= *cap) {
        return HT_OK;
    }
    size_t ncap = *cap ? *cap : 16;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2) {
            return ht_error_set(err, HT_ENOMEM, "array size overflow");
        }
        ncap *= 2;
    }
    if (elem && ncap > SIZE_MAX / elem) {
        return ht_error_set(err, HT_ENOMEM, "array size overflow");
    }
    void *q = realloc(*p, ncap * elem);
    if (!q) {
        return ht_error_set(err, HT_ENOMEM, "out of memory (%zu bytes)",
                            ncap * elem);
    }
    *p = q;
    *cap = ncap;
    return HT_OK;
}

ht_status ht_buf_read_file(ht_buf *b, const char *path, ht_error *err) {
    ht_buf_clear(b);
    FILE *f = fopen(path, "rb");
    if (!f) {
        return ht_error_set(err, HT_EIO, "%s: %s", path, strerror(errno));
    }
    ht_status st = HT_OK;
    for (;;) {
        st = ht_buf_reserve(b, 1 << 16, err);
        if (st != HT_OK) {
            break;
        }
        size_t n = fread(b->data + b->len, 1, b->cap - b->len - 1, f);
        b->len += n;
        if (n == 0) {
            if (ferror(f)) {
                st = ht_error_set(err, HT_EIO, "%s: read error", path);
            }
            break;
        }
    }
    fclose(f);
    if (st != HT_OK) {
        ht_buf_clear(b);
    } else {
        b->data[b->len] = 0;
    }
    return st;
}

size_t ht_utf8_valid_prefix(const void *p, size_t n) {
    const unsigned char *s = p;
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        unsigned lo = 0x80, hi = 0xBF; /* range of the second byte */
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            lo = c == 0xE0 ? 0xA0 : 0x80; /* no overlong forms */
            hi = c == 0xED ? 0x9F : 0xBF; /* no surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            lo = c == 0xF0 ? 0x90 : 0x80;
            hi = c == 0xF4 ? 0x8F : 0xBF; /* up to U+10FFFF */
        } else {
            return i;
        }
        if (i + len > n || s[i + 1] < lo || s[i + 1] > hi) {
            return i;
        }
        for (size_t k = 2; k < len; k++) {
            if (s[i + k] < 0x80 || s[i + k] > 0xBF) {
                return i;
            }
        }
        i += len;
    }
    return n;
}

int ht_hex_digit(int c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

ht_status ht_buf_append_escaped(ht_buf *b, const char *s, ht_error *err) {
    size_t mark = b->len;
    ht_status st = HT_OK;
    while (st == HT_OK && s && *s) {
        size_t run = strcspn(s, "&<>\"'");
        st = ht_buf_append(b, s, run, err);
        s += run;
        if (st == HT_OK && *s) {
            const char *e = *s == '&'   ? "&amp;"
                            : *s == '<' ? "&lt;"
                            : *s == '>' ? "&gt;"
                            : *s == '"' ? "&quot;"
                                        : "&#39;";
            st = ht_buf_append(b, e, strlen(e), err);
            s++;
        }
    }
    if (st != HT_OK) {
        b->len = mark;
        b->data[mark] = 0;
    }
    return st;
}
