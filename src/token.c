/* SPDX-License-Identifier: Apache-2.0 */
/* Bearer tokens: SHA-256 (FIPS 180-4), a hashed tokens file, checks. */
#include "hutong/token.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- SHA-256 ---- */

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
    0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t rotr(uint32_t x, int n) {
    return x >> n | x << (32 - n);
}

static void block(uint32_t h[8], const uint8_t b[64]) {
    uint32_t w[64];
    for (int i = 0; i < 16; i++) {
        w[i] = (uint32_t)b[4 * i] << 24 | (uint32_t)b[4 * i + 1] << 16 |
               (uint32_t)b[4 * i + 2] << 8 | b[4 * i + 3];
    }
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ w[i - 15] >> 3;
        uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ w[i - 2] >> 10;
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], bb = h[1], c = h[2], d = h[3], e = h[4], f = h[5],
             g = h[6], hh = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) +
                      ((e & f) ^ (~e & g)) + K[i] + w[i];
        uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) +
                      ((a & bb) ^ (a & c) ^ (bb & c));
        hh = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = bb;
        bb = a;
        a = t1 + t2;
    }
    h[0] += a;
    h[1] += bb;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
}

void ht_sha256(const void *p, size_t n, uint8_t out[32]) {
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                     0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    const uint8_t *b = p;
    size_t left = n;
    for (; left >= 64; left -= 64, b += 64) {
        block(h, b);
    }
    uint8_t tail[128] = {0};
    memcpy(tail, b, left);
    tail[left] = 0x80;
    size_t tl = left + 9 <= 64 ? 64 : 128;
    uint64_t bits = (uint64_t)n * 8;
    for (int i = 0; i < 8; i++) {
        tail[tl - 1 - i] = (uint8_t)(bits >> (8 * i));
    }
    block(h, tail);
    if (tl == 128) {
        block(h, tail + 64);
    }
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(h[i] >> 8);
        out[4 * i + 3] = (uint8_t)h[i];
    }
}

/* ---- tokens ---- */

typedef struct entry {
    uint8_t hash[32];
    char scope[40];
    char name[64];
    bool write;
} entry;

struct ht_tokens {
    entry *e;
    size_t n;
};

static int hexval(char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* A scope or a name: printable ASCII without spaces, 1..max-1 bytes. */
static bool word_ok(const char *s, size_t max) {
    size_t n = strlen(s);
    if (n == 0 || n >= max) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] <= ' ' || s[i] > '~') {
            return false;
        }
    }
    return true;
}

ht_status ht_tokens_load(const char *path, ht_tokens **out, ht_error *err) {
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (!f) {
        return ht_error_set(err, HT_EIO, "%s: %s", path, strerror(errno));
    }
    /* Whoever may write the file may give themselves a write token. */
    struct stat sb;
    bool stat_ok = fstat(fileno(f), &sb) == 0;
    if (!stat_ok || !S_ISREG(sb.st_mode) ||
        (sb.st_mode & (S_IWGRP | S_IWOTH))) {
        fclose(f);
        if (!stat_ok || !S_ISREG(sb.st_mode)) {
            return ht_error_set(err, HT_EINVAL, "%s: not a regular file", path);
        }
        return ht_error_set(err, HT_EINVAL,
                            "%s: mode %04o lets others change it (anyone who "
                            "can write it can add a write token): chmod 600 "
                            "it",
                            path, (unsigned)(sb.st_mode & 07777));
    }
    ht_tokens *t = calloc(1, sizeof *t);
    char line[512];
    size_t cap = 0, lineno = 0;
    ht_status st = t ? HT_OK : ht_error_set(err, HT_ENOMEM, "out of memory");
    while (st == HT_OK && fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0] || line[0] == '#') {
            continue;
        }
        char hex[80], scope[64], rights[16], name[80];
        entry e;
        bool ok = sscanf(line, "sha256:%79s %63s %15s %79s", hex, scope, rights,
                         name) == 4 &&
                  strlen(hex) == 64 && word_ok(scope, sizeof e.scope) &&
                  word_ok(name, sizeof e.name) &&
                  (strcmp(rights, "read") == 0 || strcmp(rights, "write") == 0);
        e.write = ok && strcmp(rights, "write") == 0;
        for (int i = 0; ok && i < 32; i++) {
            int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
            ok = hi >= 0 && lo >= 0;
            e.hash[i] = (uint8_t)(hi << 4 | lo);
        }
        if (!ok) {
            st = ht_error_set(err, HT_EINVAL,
                              "%s: line %zu: expected \"sha256:<64 hex> "
                              "<scope> <read|write> <name>\"",
                              path, lineno);
            break;
        }
        snprintf(e.scope, sizeof e.scope, "%s", scope);
        snprintf(e.name, sizeof e.name, "%s", name);
        if (t->n == cap) {
            cap = cap ? cap * 2 : 8;
            entry *ne = realloc(t->e, cap * sizeof *ne);
            if (!ne) {
                st = ht_error_set(err, HT_ENOMEM, "out of memory");
                break;
            }
            t->e = ne;
        }
        t->e[t->n++] = e;
    }
    fclose(f);
    if (st != HT_OK) {
        ht_tokens_free(t);
        return st;
    }
    *out = t;
    return HT_OK;
}

void ht_tokens_free(ht_tokens *t) {
    if (t) {
        free(t->e);
        free(t);
    }
}

size_t ht_tokens_count(const ht_tokens *t) {
    return t ? t->n : 0;
}

bool ht_tokens_check(const ht_tokens *t, const char *token,
                     ht_token_info *info) {
    if (!t || !token) {
        return false;
    }
    uint8_t h[32];
    ht_sha256(token, strlen(token), h);
    const entry *found = NULL;
    for (size_t k = 0; k < t->n; k++) {
        uint8_t diff = 0;
        for (int i = 0; i < 32; i++) {
            diff |= (uint8_t)(h[i] ^ t->e[k].hash[i]);
        }
        if (diff == 0 && !found) {
            found = &t->e[k];
        }
    }
    if (found) {
        *info = (ht_token_info){found->scope, found->name, found->write};
    }
    return found != NULL;
}

ht_status ht_tokens_create(const char *path, const char *scope, bool can_write,
                           const char *name, char token[68], ht_error *err) {
    if (!word_ok(scope, sizeof((entry *)0)->scope)) {
        return ht_error_set(err, HT_EINVAL,
                            "scope \"%s\": \"*\" or a grid code", scope);
    }
    if (!word_ok(name, sizeof((entry *)0)->name)) {
        return ht_error_set(err, HT_EINVAL,
                            "name \"%s\": 1..63 printable characters, no "
                            "spaces",
                            name);
    }
    uint8_t raw[32];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
        return ht_error_set(err, HT_EIO, "no randomness: %s", strerror(errno));
    }
    static const char hexd[] = "0123456789abcdef";
    memcpy(token, "ht_", 3);
    for (int i = 0; i < 32; i++) {
        token[3 + 2 * i] = hexd[raw[i] >> 4];
        token[4 + 2 * i] = hexd[raw[i] & 15];
    }
    token[67] = '\0';
    uint8_t h[32];
    ht_sha256(token, 67, h);
    char line[200];
    int n = snprintf(line, sizeof line, "sha256:");
    for (int i = 0; i < 32; i++) {
        n += snprintf(line + n, sizeof line - (size_t)n, "%02x", h[i]);
    }
    n += snprintf(line + n, sizeof line - (size_t)n, " %s %s %s\n", scope,
                  can_write ? "write" : "read", name);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        return ht_error_set(err, HT_EIO, "%s: %s", path, strerror(errno));
    }
    /* An existing file keeps its mode on open: make it 0600 again. */
    if (fchmod(fd, 0600) != 0) {
        int e = errno;
        close(fd);
        return ht_error_set(err, HT_EIO, "%s: %s", path, strerror(e));
    }
    ssize_t w = write(fd, line, (size_t)n);
    int fs = fsync(fd);
    if (close(fd) != 0 || w != n || fs != 0) {
        return ht_error_set(err, HT_EIO, "%s: cannot write", path);
    }
    return HT_OK;
}
