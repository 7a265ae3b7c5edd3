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

/** What a token may do (copies: valid after the tokens are freed). */
typedef struct ht_token_info {
    char scope[32]; /**< "*" or a grid code */
    char name[64];
    bool write;
} ht_token_info;

/** An empty set, for tokens read from elsewhere (a database). */
ht_tokens *ht_tokens_new(void);

/**
 * Add an entry: @hash the token's SHA-256 as 64 hex digits, @scope "*" or
 * a grid code, @name 1..63 printable characters without spaces. HT_EINVAL
 * for a malformed one (the set is unchanged).
 */
ht_status ht_tokens_add(ht_tokens *t, const char *hash, const char *scope,
                        bool write, const char *name, ht_error *err);

/** Entry @k (0 .. count-1) without its hash, for listings. */
void ht_tokens_entry(const ht_tokens *t, size_t k, ht_token_info *info);

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

/**
 * Make a new token for @scope and @name (checked as ht_tokens_add does)
 * without writing it anywhere: the token into @token, its SHA-256 as 64
 * hex digits into @hash.
 */
ht_status ht_token_make(const char *scope, const char *name, char token[68],
                        char hash[65], ht_error *err);

/**
 * Remove every entry named @name from the file at @path (rewritten whole
 * and renamed over it, comments kept); @removed is how many. Nothing is
 * written when there is none.
 */
ht_status ht_tokens_revoke(const char *path, const char *name, size_t *removed,
                           ht_error *err);

#endif
