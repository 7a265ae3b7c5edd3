/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: a style (JSON) loaded and, when it loads, every property
 * and filter of every layer evaluated at a few zooms for a feature that
 * has a number, a string and a null property. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hutong/style.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool get(const void *feature, const char *name, ht_value *out) {
    (void)feature;
    if (strcmp(name, "severity") == 0 || strcmp(name, "population") == 0) {
        *out = (ht_value){.type = HT_VAL_NUMBER, .n = 2};
        return true;
    }
    if (strcmp(name, "name") == 0 || strcmp(name, "code") == 0 ||
        strcmp(name, "kind") == 0 || strcmp(name, "level") == 0) {
        *out = (ht_value){.type = HT_VAL_STRING, .s = "胡同 110101001"};
        return true;
    }
    if (strcmp(name, "nothing") == 0) {
        *out = (ht_value){.type = HT_VAL_NULL};
        return true;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ht_style *s = NULL;
    ht_error err = {0};
    if (ht_style_load_json("fuzz.json", (const char *)data, size, &s, &err) !=
        HT_OK) {
        return 0;
    }
    static const double zooms[] = {0, 11.5, 16, 22};
    int dummy = 0;
    for (size_t i = 0; i < ht_style_layer_count(s); i++) {
        const ht_style_layer *l = ht_style_layer_at(s, i);
        for (size_t z = 0; z < sizeof zooms / sizeof *zooms; z++) {
            double zoom = zooms[z];
            ht_style_layer_visible(l, zoom);
            ht_style_filter(l, zoom, get, &dummy);
            for (int p = 0; p < HT_P_COUNT; p++) {
                char buf[256];
                double nums[8];
                const char *strs[8];
                ht_style_number(l, (ht_prop)p, zoom, get, &dummy);
                ht_style_color(l, (ht_prop)p, zoom, get, &dummy);
                ht_style_bool(l, (ht_prop)p, zoom, get, &dummy);
                ht_style_string(l, (ht_prop)p, zoom, get, &dummy, buf,
                                sizeof buf);
                ht_style_numbers(l, (ht_prop)p, zoom, nums, 8);
                ht_style_strings(l, (ht_prop)p, zoom, strs, 8);
            }
            ht_style_heat_color(l, zoom, 12.5, 100);
            ht_style_ramp_color(l, HT_P_STREET_HEAT_COLOR, zoom, 3, 0);
        }
    }
    ht_style_unref(s);
    return 0;
}
