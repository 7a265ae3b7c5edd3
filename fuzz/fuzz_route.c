/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: a request line as the server sees it, "METHOD /path?query":
 * routed through the route table, and its query decoded the way
 * libmicrohttpd decodes it (percent escapes, '+') and parsed with every
 * parameter any route takes. */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hutong/buf.h"

#include "fixture.h"
#include "server_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Percent-decode @s in place ('+' is a space), as MHD does. */
static void unescape(char *s) {
    char *w = s;
    for (char *r = s; *r; r++) {
        int hi, lo;
        if (*r == '+') {
            *w++ = ' ';
        } else if (*r == '%' && (hi = ht_hex_digit(r[1])) >= 0 &&
                   (lo = ht_hex_digit(r[2])) >= 0) {
            *w++ = (char)(hi * 16 + lo);
            r += 2;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fz_text(data, size);
    if (!text) {
        return 0;
    }
    char *sp = strchr(text, ' ');
    const char *method = sp ? text : "GET";
    char *path = sp ? sp + 1 : text;
    if (sp) {
        *sp = '\0';
    }
    char *qs = strchr(path, '?');
    if (qs) {
        *qs++ = '\0';
    }
    unescape(path);
    char args[HT__ROUTE_ARGS][HT__ROUTE_ARG_SIZE];
    int other;
    ht__routes_find(method, path, args, &other);
    query *q = malloc(sizeof *q);
    if (q) {
        ht__http_query_begin(q,
                             "bbox limit cursor scale by month min level "
                             "parent at width height crs style transparent",
                             1795824000);
        bool ok = true;
        for (char *p = qs, *next; ok && p; p = next) {
            next = strchr(p, '&');
            if (next) {
                *next++ = '\0';
            }
            char *eq = strchr(p, '=');
            if (eq) {
                *eq++ = '\0';
                unescape(eq);
            }
            unescape(p);
            ok = ht__http_query_arg(q, p, eq);
        }
        if (ok) {
            ht__http_query_end(q);
        }
        free(q);
    }
    free(text);
    return 0;
}
