/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: a WMTS request, KVP parameters "KEY=value" one a line (as
 * the server hands them over after decoding the query), or a RESTful path
 * after /wmts/1.0.0/ on a first line starting with "/"; parsed, a tile's
 * box found, and the exception report of its error. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hutong/wmts.h"

#include "fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fz_text(data, size);
    if (!text) {
        return 0;
    }
    ht_wmts_req w;
    char code[40] = "", locator[40] = "";
    ht_error err = {0};
    ht_status st;
    if (text[0] == '/') {
        ht_filter f = ht_filter_all();
        text[strcspn(text, "\n")] = '\0';
        st = ht_wmts_parse_rest(text + 1, &f, &w, code, locator, &err);
    } else {
        const char *keys[64], *values[64];
        size_t n = 0;
        for (char *line = text, *next; line && n < 64; line = next) {
            next = strchr(line, '\n');
            if (next) {
                *next++ = '\0';
            }
            char *eq = strchr(line, '=');
            keys[n] = line;
            values[n++] = eq ? eq + 1 : NULL;
            if (eq) {
                *eq = '\0';
            }
        }
        st =
            ht_wmts_parse(keys, values, n, 1795824000, &w, code, locator, &err);
    }
    if (st != HT_OK) {
        free(ht_wmts_exception(code, locator, err.msg));
    } else if (w.op != HT_WMTS_GET_CAPABILITIES) {
        ht_bbox b;
        if (ht_wmts_tile_bbox(w.set, w.level, w.row, w.col, &b, &err) !=
            HT_OK) {
            abort(); /* a parsed tile is one of its set */
        }
    }
    free(text);
    return 0;
}
