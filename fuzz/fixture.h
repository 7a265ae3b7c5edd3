/* SPDX-License-Identifier: Apache-2.0 */
/* What the fuzz targets share: a small store to import into. */
#ifndef HUTONG_FUZZ_FIXTURE_H
#define HUTONG_FUZZ_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "hutong/store.h"

/* A store in a temporary folder, made once per process: the shipped
 * categories, a district of two street offices with a community and a
 * grid, two streets and a few incidents. Aborts when it cannot be made. */
ht_store *fz_store(void);

/* A NUL-terminated copy of @size bytes at @data (caller frees). */
char *fz_text(const uint8_t *data, size_t size);

#endif
