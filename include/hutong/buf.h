/* SPDX-License-Identifier: Apache-2.0 */
/* Growable byte buffer. */
#ifndef HUTONG_BUF_H
#define HUTONG_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "hutong/error.h"

/**
 * A growable byte buffer. Pass it by its handle (ht_buf *): the handle stays
 * valid while the contents move. `data` is always NUL-terminated one byte
 * past `len` (so text can be read as a C string); read the fields, change
 * them only through the functions below.
 */
typedef struct ht_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
} ht_buf;

/** A new empty buffer, or NULL when out of memory. Free with ht_buf_free. */
ht_buf *ht_buf_new(void);

/** Free @b and its contents; NULL is a no-op. */
void ht_buf_free(ht_buf *b);

/** Make room for @extra more bytes. HT_ENOMEM leaves @b unchanged. */
ht_status ht_buf_reserve(ht_buf *b, size_t extra, ht_error *err);

/** Append @n bytes. HT_ENOMEM leaves @b unchanged. */
ht_status ht_buf_append(ht_buf *b, const void *p, size_t n, ht_error *err);

/** Append a printf-formatted string. HT_ENOMEM leaves @b unchanged. */
ht_status ht_buf_appendf(ht_buf *b, ht_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** Append @s (NULL: nothing) with the five characters markup gives a
 * meaning escaped (&amp; &lt; &gt; &quot; &#39;): text or an attribute's
 * value of XML or HTML. HT_ENOMEM leaves @b unchanged. */
ht_status ht_buf_append_escaped(ht_buf *b, const char *s, ht_error *err);

/** Empty @b, keeping its storage. Cannot fail. */
void ht_buf_clear(ht_buf *b);

/** @b's text as a NUL-terminated malloc'd string, @b freed (NULL for a
 * NULL @b or when out of memory). */
char *ht_buf_take_string(ht_buf *b);

/**
 * Make the array *@p, with room for *@cap elements of @elem bytes, hold at
 * least @need elements (growing by doubling). HT_ENOMEM leaves *@p and
 * *@cap unchanged.
 */
ht_status ht_array_grow(void **p, size_t *cap, size_t need, size_t elem,
                        ht_error *err);

/**
 * Read a whole file into @b (replacing its contents). HT_EIO names the path
 * and the system's reason; on error @b is emptied.
 */
ht_status ht_buf_read_file(ht_buf *b, const char *path, ht_error *err);

/**
 * The length of the longest prefix of the @n bytes at @p that is valid
 * UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing past
 * U+10FFFF; NUL counts as valid): @n when all of it is. Cannot fail.
 */
size_t ht_utf8_valid_prefix(const void *p, size_t n);

/** The value of the hexadecimal digit @c (0-9, a-f, A-F), else -1. Cannot
 * fail. */
int ht_hex_digit(int c);

#endif
