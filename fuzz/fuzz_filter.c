/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: filter parameters, one "key=value" a line (as they come
 * from a query string or the command line), set, checked and keyed. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hutong/filter.h"

#include "fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fz_text(data, size);
    if (!text) {
        return 0;
    }
    ht_filter f = ht_filter_all();
    ht_error err = {0};
    bool ok = true;
    for (char *line = text, *next; ok && line; line = next) {
        next = strchr(line, '\n');
        if (next) {
            *next++ = '\0';
        }
        char *eq = strchr(line, '=');
        if (!eq) {
            continue;
        }
        *eq = '\0';
        ok = ht_filter_set(&f, line, eq + 1, 1795824000, &err) == HT_OK;
    }
    if (ok && ht_filter_check(&f, &err) == HT_OK) {
        char key[1024];
        ht_filter_key(&f, key, sizeof key);
    }
    free(text);
    return 0;
}
