/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: a CSV body imported as incidents or categories (the first
 * byte chooses the kind and the API's rules), inside a transaction that is
 * rolled back, so every input meets the same store. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "hutong/import.h"

#include "fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) {
        return 0;
    }
    ht_store *s = fz_store();
    ht_import_opts o = {
        .kind = data[0] & 1 ? HT_IMPORT_CATEGORIES : HT_IMPORT_INCIDENTS,
        .in_transaction = true,
        .lifecycle = (data[0] & 2) != 0,
        .scope = data[0] & 4 ? "110101001" : NULL,
        .now = 1735689600,
        .crs = data[0] & 8 ? "EPSG:4548" : NULL};
    ht_import_stats stats;
    ht_error err = {0};
    if (ht_store_begin(s, &err) == HT_OK) {
        ht_import_mem(s, "body", (const char *)data + 1, size - 1, "csv", &o,
                      &stats, &err);
        if (getenv("HT_FUZZ_VERBOSE")) {
            fprintf(stderr, "%s\n", err.msg[0] ? err.msg : "imported");
        }
        ht_store_rollback(s);
    }
    return 0;
}
