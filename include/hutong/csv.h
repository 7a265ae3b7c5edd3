/* SPDX-License-Identifier: Apache-2.0 */
/* Streaming RFC 4180 CSV reader. */
#ifndef HUTONG_CSV_H
#define HUTONG_CSV_H

#include <stdbool.h>
#include <stddef.h>

#include "hutong/error.h"

/** A CSV reader over a file or a memory block. One thread at a time. */
typedef struct ht_csv ht_csv;

/** Open @path for reading. HT_EIO names the path and reason. */
ht_status ht_csv_open_file(const char *path, ht_csv **out, ht_error *err);

/** Read @len bytes at @data (borrowed until ht_csv_free). */
ht_status ht_csv_open_mem(const char *data, size_t len, ht_csv **out,
                          ht_error *err);

/** Close and free @c; NULL is a no-op. */
void ht_csv_free(ht_csv *c);

/**
 * Read the next record. Quoted fields may hold commas, quotes ("") and line
 * breaks; a UTF-8 byte-order mark is skipped; blank lines are skipped. On
 * HT_OK either *eof is true (no record) or *fields holds *nfields
 * NUL-terminated strings, valid until the next call. HT_EINVAL for a quote
 * that is never closed or stray text after a closing quote, naming the line.
 */
ht_status ht_csv_next(ht_csv *c, size_t *nfields, const char *const **fields,
                      bool *eof, ht_error *err);

/** Line number (1-based) where the last record returned started. */
/** The bytes read so far. */
size_t ht_csv_offset(const ht_csv *c);

size_t ht_csv_line(const ht_csv *c);

#endif
