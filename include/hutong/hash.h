/* SPDX-License-Identifier: Apache-2.0 */
/* Hashes: FNV-1a 64 for keys and ETags, SHA-256 (GLib) for tokens. */
#ifndef HUTONG_HASH_H
#define HUTONG_HASH_H

#include <stddef.h>
#include <stdint.h>

/** FNV-1a 64's offset basis: the seed of a new hash. */
#define HT_HASH64_INIT 14695981039346656037ULL

/**
 * FNV-1a 64 of the @n bytes at @p, continuing from @h (HT_HASH64_INIT for
 * a new hash), so that several pieces hash as one. Not for secrets.
 * Cannot fail.
 */
uint64_t ht_hash64(uint64_t h, const void *p, size_t n);

/** ht_hash64 of a NUL-terminated string (NULL hashes as ""). */
uint64_t ht_hash64_str(uint64_t h, const char *s);

/** SHA-256 (FIPS 180-4) of the @n bytes at @p into @out. Cannot fail. */
void ht_sha256(const void *p, size_t n, uint8_t out[32]);

#endif
