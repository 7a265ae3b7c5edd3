/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: a WMS request, its parameters "KEY=value" one a line (what
 * the server hands over after decoding the query), parsed; and the
 * exception report of its error. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hutong/wms.h"

#include "fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fz_text(data, size);
    if (!text) {
        return 0;
    }
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
    ht_wms_req w;
    char code[40] = "";
    ht_error err = {0};
    if (ht_wms_parse(keys, values, n, 1795824000, &w, code, &err) != HT_OK) {
        free(ht_wms_exception(w.version, code, err.msg));
    }
    free(text);
    return 0;
}
