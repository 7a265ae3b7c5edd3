/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: a CRS name as a user gives it (--crs, ?crs=, a GeoJSON
 * file's crs member): normalised, and when it is one, a transform to
 * WGS 84 made and used on two points, and its WKT and axis order. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "hutong/crs.h"

#include "fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 256) {
        return 0; /* names are short; PROJ's parser is not ours to fuzz */
    }
    char *text = fz_text(data, size);
    if (!text) {
        return 0;
    }
    char name[HT_CRS_NAME_SIZE];
    ht_error err = {0};
    if (ht_crs_normalize(text, name, &err) == HT_OK) {
        ht_transform *t = NULL;
        if (ht_crs_transform_new(name, "EPSG:4326", &t, &err) == HT_OK) {
            double x, y;
            ht_crs_transform_point(t, 116.4, 39.9, &x, &y, &err);
            ht_crs_transform_point(t, 440000, 4418000, &x, &y, &err);
            ht_crs_transform_free(t);
        }
        bool north;
        ht_crs_north_first(name, &north, &err);
    }
    free(text);
    return 0;
}
