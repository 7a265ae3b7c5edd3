/* SPDX-License-Identifier: Apache-2.0 */
/* Bearer tokens for writes: a file of SHA-256 hashes, each with a scope. */
#ifndef HUTONG_TOKEN_H
#define HUTONG_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hutong/error.h"

/**
 * The tokens of a tokens file. Each line:
 *   sha256:<64 hex> <scope> <read|write> <name>
 * where scope is "*" (everywhere) or a grid code (that grid and everything
 * under it), and "write" allows ingest as well as reading; blank lines and
 * lines starting with '#' are skipped. The file holds hashes only: a token
 * is shown once, when it is made.
 */
typedef struct ht_tokens ht_tokens;

/** Read @path. HT_EINVAL names the line of a malformed entry; HT_EIO when
 * it cannot be read. */
ht_status ht_tokens_load(const char *path, ht_tokens **out, ht_error *err);
void ht_tokens_free(ht_tokens *t);
size_t ht_tokens_count(const ht_tokens *t);

/** What a token may do. */
typedef struct ht_token_info {
    const char *scope; /**< "*" or a grid code (borrowed) */
    const char *name;  /**< (borrowed) */
    bool write;
} ht_token_info;

/**
 * Check @token against every entry in constant time per entry (no early
 * exit on a mismatching byte, every entry compared). True, with what it
 * may do, when it matches.
 */
bool ht_tokens_check(const ht_tokens *t, const char *token,
                     ht_token_info *info);

/**
 * Make a new token: 32 random bytes from the kernel, written as "ht_" and
 * 64 hex digits into @token (at least 68 bytes), and append its hash line
 * with @scope ("*" or a grid code), @write and @name to @path (created
 * with mode 0600). HT_EINVAL for a bad scope or name, HT_EIO on file
 * errors.
 */
ht_status ht_tokens_create(const char *path, const char *scope, bool write,
                           const char *name, char token[68], ht_error *err);

#endif
