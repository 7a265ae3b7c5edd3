/* SPDX-License-Identifier: Apache-2.0 */
/* Streaming RFC 4180 CSV reader. */
#include "hutong/csv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hutong/buf.h"

#define CHUNK (1u << 20)

struct ht_csv {
    FILE *f;
    const char *mem;
    size_t mem_len;
    char *chunk;   /* file data buffer */
    size_t before; /* bytes of the chunks before this one */
    size_t pos;
    size_t len;
    bool at_start;
    size_t line;
    size_t rec_line;
    char *text; /* unescaped field text, NUL-separated */
    size_t text_len;
    size_t text_cap;
    size_t *offs;
    size_t noffs;
    size_t cap_offs;
    const char **ptrs;
};

static ht_csv *csv_new(void) {
    ht_csv *c = calloc(1, sizeof *c);
    if (c) {
        c->at_start = true;
        c->line = 1;
    }
    return c;
}

ht_status ht_csv_open_file(const char *path, ht_csv **out, ht_error *err) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        return ht_error_set(err, HT_EIO, "%s: %s", path, strerror(errno));
    }
    ht_csv *c = csv_new();
    if (!c || !(c->chunk = malloc(CHUNK))) {
        free(c);
        fclose(f);
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    c->f = f;
    *out = c;
    return HT_OK;
}

ht_status ht_csv_open_mem(const char *data, size_t len, ht_csv **out,
                          ht_error *err) {
    *out = NULL;
    ht_csv *c = csv_new();
    if (!c) {
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    c->mem = data;
    c->mem_len = len;
    *out = c;
    return HT_OK;
}

void ht_csv_free(ht_csv *c) {
    if (!c) {
        return;
    }
    if (c->f) {
        fclose(c->f);
    }
    free(c->chunk);
    free(c->text);
    free(c->offs);
    free(c->ptrs);
    free(c);
}

size_t ht_csv_line(const ht_csv *c) {
    return c->rec_line;
}

size_t ht_csv_offset(const ht_csv *c) {
    return c->f ? c->before + c->pos : c->pos;
}

/* Next byte, or -1 at end of input. */
static int getbyte(ht_csv *c) {
    if (c->f) {
        if (c->pos == c->len) {
            c->before += c->len;
            c->len = fread(c->chunk, 1, CHUNK, c->f);
            c->pos = 0;
            if (c->len == 0) {
                return -1;
            }
        }
        return (unsigned char)c->chunk[c->pos++];
    }
    if (c->pos == c->mem_len) {
        return -1;
    }
    return (unsigned char)c->mem[c->pos++];
}

static int peekbyte(ht_csv *c) {
    int b = getbyte(c);
    if (b >= 0) {
        c->pos--; /* getbyte never refills before returning a byte */
    }
    return b;
}

/* Room for one more byte of field text. */
static ht_status text_room(ht_csv *c, ht_error *err) {
    if (c->text_len + 1 >= c->text_cap) {
        return ht_array_grow((void **)&c->text, &c->text_cap, c->text_len + 2,
                             1, err);
    }
    return HT_OK;
}

static ht_status put_char(ht_csv *c, char ch, ht_error *err) {
    if (ch == '\0') {
        /* It would end the field early: "a\0b" read as "a". */
        return ht_error_set(err, HT_EINVAL,
                            "line %zu: a NUL byte; fields are text",
                            c->rec_line);
    }
    ht_status st = text_room(c, err);
    if (st == HT_OK) {
        c->text[c->text_len++] = ch;
    }
    return st;
}

static ht_status end_field(ht_csv *c, size_t start, ht_error *err) {
    ht_status st = text_room(c, err);
    if (st != HT_OK) {
        return st;
    }
    c->text[c->text_len++] = '\0'; /* the field's end */
    if (c->noffs == c->cap_offs) {
        /* offs and ptrs grow together; cap_offs counts both. */
        size_t cap = c->cap_offs;
        st = ht_array_grow((void **)&c->offs, &cap, c->noffs + 1,
                           sizeof *c->offs, err);
        if (st == HT_OK) {
            size_t pcap = c->cap_offs;
            st = ht_array_grow((void **)&c->ptrs, &pcap, cap, sizeof *c->ptrs,
                               err);
        }
        if (st != HT_OK) {
            return st;
        }
        c->cap_offs = cap;
    }
    c->offs[c->noffs++] = start;
    return HT_OK;
}

ht_status ht_csv_next(ht_csv *c, size_t *nfields, const char *const **fields,
                      bool *eof, ht_error *err) {
    *eof = false;
    *nfields = 0;
    if (c->at_start) {
        c->at_start = false;
        if (peekbyte(c) == 0xEF) {
            int a = getbyte(c), b = getbyte(c), d = getbyte(c);
            if (!(a == 0xEF && b == 0xBB && d == 0xBF)) {
                return ht_error_set(err, HT_EINVAL, "line 1: not UTF-8 text");
            }
        }
    }
    int ch;
    /* Skip blank lines. */
    while ((ch = peekbyte(c)) == '\n' || ch == '\r') {
        getbyte(c);
        if (ch == '\n') {
            c->line++;
        }
    }
    if (ch < 0) {
        *eof = true;
        return HT_OK;
    }
    c->rec_line = c->line;
    c->text_len = 0;
    c->noffs = 0;
    size_t start = 0;
    ht_status st = HT_OK;
    for (;;) {
        ch = getbyte(c);
        if (ch == '"' && c->text_len == start) {
            /* Quoted field. */
            for (;;) {
                ch = getbyte(c);
                if (ch < 0) {
                    return ht_error_set(err, HT_EINVAL,
                                        "line %zu: quote never closed",
                                        c->rec_line);
                }
                if (ch == '"') {
                    if (peekbyte(c) == '"') {
                        getbyte(c);
                    } else {
                        break;
                    }
                }
                if (ch == '\n') {
                    c->line++;
                }
                if ((st = put_char(c, (char)ch, err)) != HT_OK) {
                    return st;
                }
            }
            ch = getbyte(c);
            if (ch == '\r' && peekbyte(c) == '\n') {
                ch = getbyte(c);
            }
            if (ch >= 0 && ch != ',' && ch != '\n') {
                return ht_error_set(err, HT_EINVAL,
                                    "line %zu: text after a closing quote",
                                    c->line);
            }
        }
        if (ch == '\r' && peekbyte(c) == '\n') {
            ch = getbyte(c);
        }
        if (ch < 0 || ch == ',' || ch == '\n') {
            if ((st = end_field(c, start, err)) != HT_OK) {
                return st;
            }
            start = c->text_len;
            if (ch != ',') {
                if (ch == '\n') {
                    c->line++;
                }
                break;
            }
            continue;
        }
        if ((st = put_char(c, (char)ch, err)) != HT_OK) {
            return st;
        }
    }
    /* The fields hold no NUL (put_char), so the record's text is valid
     * exactly when each field is. */
    size_t ok = ht_utf8_valid_prefix(c->text, c->text_len);
    if (ok != c->text_len) {
        size_t field = 0;
        while (field + 1 < c->noffs && c->offs[field + 1] <= ok) {
            field++;
        }
        return ht_error_set(
            err, HT_EINVAL, "line %zu, field %zu: not UTF-8 text (byte 0x%02X)",
            c->rec_line, field + 1, (unsigned)(unsigned char)c->text[ok]);
    }
    for (size_t i = 0; i < c->noffs; i++) {
        c->ptrs[i] = c->text + c->offs[i];
    }
    *nfields = c->noffs;
    *fields = c->ptrs;
    return HT_OK;
}
