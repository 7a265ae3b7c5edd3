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
    char scope[32];
    char name[64];
    bool write;
} entry;

struct ht_tokens {
    entry *e;
    size_t n, cap;
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
    ht_tokens *t = ht_tokens_new();
    char line[512];
    size_t lineno = 0;
    ht_status st = t ? HT_OK : ht_error_set(err, HT_ENOMEM, "out of memory");
    while (st == HT_OK && fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0] || line[0] == '#') {
            continue;
        }
        char hex[80], scope[64], rights[16], name[80];
        bool ok = sscanf(line, "sha256:%79s %63s %15s %79s", hex, scope, rights,
                         name) == 4 &&
                  (strcmp(rights, "read") == 0 || strcmp(rights, "write") == 0);
        if (ok) {
            st = ht_tokens_add(t, hex, scope, strcmp(rights, "write") == 0,
                               name, err);
            ok = st != HT_EINVAL;
        }
        if (!ok) {
            st = ht_error_set(err, HT_EINVAL,
                              "%s: line %zu: expected \"sha256:<64 hex> "
                              "<scope> <read|write> <name>\"",
                              path, lineno);
        }
    }
    fclose(f);
    if (st != HT_OK) {
        ht_tokens_free(t);
        return st;
    }
    *out = t;
    return HT_OK;
}

ht_tokens *ht_tokens_new(void) {
    return calloc(1, sizeof(ht_tokens));
}

ht_status ht_tokens_add(ht_tokens *t, const char *hash, const char *scope,
                        bool write, const char *name, ht_error *err) {
    entry e = {.write = write};
    bool ok = strlen(hash) == 64 && word_ok(scope, sizeof e.scope) &&
              word_ok(name, sizeof e.name);
    for (int i = 0; ok && i < 32; i++) {
        int hi = ht_hex_digit(hash[2 * i]), lo = ht_hex_digit(hash[2 * i + 1]);
        ok = hi >= 0 && lo >= 0;
        e.hash[i] = ok ? (uint8_t)(hi << 4 | lo) : 0;
    }
    if (!ok) {
        return ht_error_set(err, HT_EINVAL,
                            "token \"%.63s\": a hash of 64 hex digits, a scope "
                            "and a name of printable characters",
                            name);
    }
    snprintf(e.scope, sizeof e.scope, "%s", scope);
    snprintf(e.name, sizeof e.name, "%s", name);
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        entry *ne = realloc(t->e, cap * sizeof *ne);
        if (!ne) {
            return ht_error_set(err, HT_ENOMEM, "out of memory");
        }
        t->e = ne;
        t->cap = cap;
    }
    t->e[t->n++] = e;
    return HT_OK;
}

void ht_tokens_entry(const ht_tokens *t, size_t k, ht_token_info *info) {
    const entry *e = &t->e[k];
    *info = (ht_token_info){.write = e->write};
    snprintf(info->scope, sizeof info->scope, "%s", e->scope);
    snprintf(info->name, sizeof info->name, "%s", e->name);
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
        ht_tokens_entry(t, (size_t)(found - t->e), info);
    }
    return found != NULL;
}

ht_status ht_token_make(const char *scope, const char *name, char token[68],
                        char hash[65], ht_error *err) {
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
    for (int i = 0; i < 32; i++) {
        hash[2 * i] = hexd[h[i] >> 4];
        hash[2 * i + 1] = hexd[h[i] & 15];
    }
    hash[64] = '\0';
    return HT_OK;
}

ht_status ht_tokens_create(const char *path, const char *scope, bool can_write,
                           const char *name, char token[68], ht_error *err) {
    char hash[65];
    ht_status st = ht_token_make(scope, name, token, hash, err);
    if (st != HT_OK) {
        return st;
    }
    char line[200];
    int n = snprintf(line, sizeof line, "sha256:%s %s %s %s\n", hash, scope,
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

ht_status ht_tokens_revoke(const char *path, const char *name, size_t *removed,
                           ht_error *err) {
    *removed = 0;
    ht_tokens *t = NULL;
    ht_status st = ht_tokens_load(path, &t, err); /* checks file and mode */
    ht_tokens_free(t);
    if (st != HT_OK) {
        return st;
    }
    FILE *f = fopen(path, "r");
    if (!f) {
        return ht_error_set(err, HT_EIO, "%s: %s", path, strerror(errno));
    }
    ht_buf *kept = ht_buf_new();
    char line[512];
    while (kept && fgets(line, sizeof line, f)) {
        char hex[80], scope[64], rights[16], got[80];
        if (line[0] != '#' &&
            sscanf(line, "sha256:%79s %63s %15s %79s", hex, scope, rights,
                   got) == 4 &&
            strcmp(got, name) == 0) {
            (*removed)++;
            continue;
        }
        if (ht_buf_append(kept, line, strlen(line), err) != HT_OK) {
            break;
        }
    }
    fclose(f);
    if (!kept) {
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    if (*removed == 0) {
        ht_buf_free(kept);
        return HT_OK;
    }
    /* Beside it, then renamed over it: a reader sees one or the other. */
    size_t plen = strlen(path) + 8;
    char *tmp = malloc(plen);
    int fd = -1;
    if (tmp) {
        snprintf(tmp, plen, "%s.new", path);
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    }
    size_t n = kept->len;
    bool ok = fd >= 0 && fchmod(fd, 0600) == 0 &&
              (n == 0 || write(fd, kept->data, n) == (ssize_t)n) &&
              fsync(fd) == 0;
    ok = fd >= 0 && close(fd) == 0 && ok && rename(tmp, path) == 0;
    if (!ok) {
        int e = errno;
        if (tmp) {
            unlink(tmp);
        }
        st = ht_error_set(err, HT_EIO, "%s: cannot rewrite: %s", path,
                          strerror(e));
        *removed = 0;
    }
    free(tmp);
    ht_buf_free(kept);
    return st;
}
