/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: a date or time as imports, filters and PATCH take them;
 * what parses is formatted and parsed again to the same instant. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "hutong/datetime.h"

#include "fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fz_text(data, size);
    if (!text) {
        return 0;
    }
    int64_t t;
    ht_error err = {0};
    if (ht_datetime_parse(text, size > 0 && data[0] & 1, &t, &err) == HT_OK) {
        char back[64];
        ht_datetime_format(t, back, sizeof back);
        int64_t again;
        if (ht_datetime_parse(back, 0, &again, &err) != HT_OK || again != t) {
            abort(); /* a time we write must read back as itself */
        }
    }
    free(text);
    return 0;
}
