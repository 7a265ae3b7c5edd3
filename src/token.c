/* SPDX-License-Identifier: Apache-2.0 */
/* Bearer tokens: a file of their SHA-256 hashes, and the checks. */
#include "hutong/token.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hutong/buf.h"
#include "hutong/hash.h"

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
            int hi = ht_hex_digit(hex[2 * i]),
                lo = ht_hex_digit(hex[2 * i + 1]);
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
