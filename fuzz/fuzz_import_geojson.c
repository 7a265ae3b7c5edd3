/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: a GeoJSON body imported as grids, streets, incidents or
 * categories (the first byte chooses the kind and options), inside a
 * transaction that is rolled back. */
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
    static const ht_import_kind kinds[4] = {HT_IMPORT_GRIDS, HT_IMPORT_STREETS,
                                            HT_IMPORT_INCIDENTS,
                                            HT_IMPORT_CATEGORIES};
    ht_store *s = fz_store();
    ht_import_opts o = {.kind = kinds[data[0] & 3],
                        .in_transaction = true,
                        .lifecycle = (data[0] & 4) != 0,
                        .scope = data[0] & 8 ? "110101001" : NULL,
                        .now = 1735689600,
                        .level = data[0] & 16 ? "grid" : NULL,
                        .crs = data[0] & 32 ? "gcj02" : NULL};
    ht_import_stats stats;
    ht_error err = {0};
    if (ht_store_begin(s, &err) == HT_OK) {
        ht_import_mem(s, "body", (const char *)data + 1, size - 1, "geojson",
                      &o, &stats, &err);
        if (getenv("HT_FUZZ_VERBOSE")) {
            fprintf(stderr, "%s\n", err.msg[0] ? err.msg : "imported");
        }
        ht_store_rollback(s);
    }
    return 0;
}
