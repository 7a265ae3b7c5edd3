/* SPDX-License-Identifier: Apache-2.0 */
/* Hashes: FNV-1a 64 and SHA-256 (GLib's, already linked through Pango). */
#include "hutong/hash.h"

#include <glib.h>

uint64_t ht_hash64(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ b[i]) * 1099511628211ULL;
    }
    return h;
}

uint64_t ht_hash64_str(uint64_t h, const char *s) {
    for (; s && *s; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    }
    return h;
}

void ht_sha256(const void *p, size_t n, uint8_t out[32]) {
    GChecksum *c = g_checksum_new(G_CHECKSUM_SHA256);
    /* GLib takes lengths as gssize: feed larger inputs in parts. */
    const guchar *b = p;
    while (n > 0) {
        size_t part = n > (size_t)G_MAXSSIZE ? (size_t)G_MAXSSIZE : n;
        g_checksum_update(c, b, (gssize)part);
        b += part;
        n -= part;
    }
    gsize len = 32;
    g_checksum_get_digest(c, out, &len);
    g_checksum_free(c);
}
