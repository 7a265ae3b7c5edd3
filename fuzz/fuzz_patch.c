/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: a PATCH /api/incidents/{id} body, parsed into a step. */
#include <stddef.h>
#include <stdint.h>

#include "server_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ht__step step;
    ht_error err = {0};
    ht__ingest_parse_step((const char *)data, size, 1795824000, &step, &err);
    return 0;
}
