/* SPDX-License-Identifier: Apache-2.0 */
/* OGC API Features: the CRS URIs served, the `datetime` and `bbox`
 * parameters. */
#include "hutong/ogcapi.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hutong/datetime.h"

#define EPSG_URI "http://www.opengis.net/def/crs/EPSG/0/"

const ht_ogc_crs ht_ogc_crss[] = {{HT_OGC_CRS84, "EPSG:4326", false},
                                  {EPSG_URI "4326", "EPSG:4326", true},
                                  {EPSG_URI "4490", "EPSG:4490", true},
                                  {EPSG_URI "4548", "EPSG:4548", true},
                                  {EPSG_URI "3857", "EPSG:3857", false}};
const size_t ht_ogc_ncrs = sizeof ht_ogc_crss / sizeof *ht_ogc_crss;

const ht_ogc_crs *ht_ogc_crs_find(const char *uri) {
    if (!uri) {
        return NULL;
    }
    /* the safe CURIE [EPSG:4490] and the bare names too */
    char bare[64];
    size_t len = strlen(uri);
    if (len >= 2 && len < sizeof bare && uri[0] == '[' && uri[len - 1] == ']') {
        memcpy(bare, uri + 1, len - 2);
        bare[len - 2] = '\0';
        uri = bare;
    }
    if (strcasecmp(uri, "CRS84") == 0 || strcasecmp(uri, "OGC:CRS84") == 0) {
        return &ht_ogc_crss[0];
    }
    for (size_t k = 0; k < ht_ogc_ncrs; k++) {
        if (strcmp(uri, ht_ogc_crss[k].uri) == 0 ||
            (k > 0 && strcasecmp(uri, ht_ogc_crss[k].name) == 0)) {
            return &ht_ogc_crss[k];
        }
    }
    return NULL;
}

/* One end of an interval: open ("" or ".."), a date (its day) or a
 * time. */
static ht_status end_of(const char *text, bool upper, int64_t *out,
                        ht_error *err) {
    if (!*text || strcmp(text, "..") == 0) {
        *out = upper ? INT64_MAX : INT64_MIN;
        return HT_OK;
    }
    int64_t t;
    ht_error e = {0};
    if (ht_datetime_parse(text, 0, &t, &e) != HT_OK) {
        return ht_error_set(err, HT_EINVAL,
                            "datetime: \"%s\" is not an RFC 3339 time "
                            "(2026-11-01T08:00:00Z) or date (%s)",
                            text, e.msg);
    }
    bool date = strlen(text) == 10;
    /* [from, to): an upper end holds its own second (its day for a
     * date) */
    *out = upper ? t + (date ? 86400 : 1) : t;
    return HT_OK;
}

ht_status ht_ogc_datetime(const char *text, int64_t *from, int64_t *to,
                          ht_error *err) {
    char a[64], b[64];
    const char *slash = strchr(text, '/');
    if (strlen(text) >= sizeof a || (slash && strchr(slash + 1, '/'))) {
        return ht_error_set(err, HT_EINVAL,
                            "datetime: an instant or an interval a/b");
    }
    if (!slash) {
        if (!*text || strcmp(text, "..") == 0) {
            return ht_error_set(err, HT_EINVAL,
                                "datetime: an instant or an interval a/b");
        }
        ht_status st = end_of(text, false, from, err);
        if (st == HT_OK) {
            st = end_of(text, true, to, err);
        }
        return st;
    }
    snprintf(a, sizeof a, "%.*s", (int)(slash - text), text);
    snprintf(b, sizeof b, "%s", slash + 1);
    int64_t f, t;
    ht_status st = end_of(a, false, &f, err);
    if (st == HT_OK) {
        st = end_of(b, true, &t, err);
    }
    if (st != HT_OK) {
        return st;
    }
    if (f >= t) {
        return ht_error_set(err, HT_EINVAL,
                            "datetime: \"%s\" ends before it starts", text);
    }
    *from = f;
    *to = t;
    return HT_OK;
}

ht_status ht_ogc_bbox(const char *text, double out[4], ht_error *err) {
    double v[6];
    int n = 0;
    const char *p = text;
    while (n < 7) {
        char *end;
        double x = strtod(p, &end);
        if (end == p || !isfinite(x) || (*end && *end != ',')) {
            n = -1;
            break;
        }
        if (n < 6) {
            v[n] = x;
        }
        n++;
        if (!*end) {
            break;
        }
        p = end + 1;
    }
    if (n != 4 && n != 6) {
        return ht_error_set(err, HT_EINVAL,
                            "bbox: 4 numbers (minx,miny,maxx,maxy in the "
                            "order of bbox-crs; longitude first in CRS84)");
    }
    int half = n / 2;
    out[0] = v[0];
    out[1] = v[1];
    out[2] = v[half];
    out[3] = v[half + 1];
    if (!(out[0] <= out[2] && out[1] <= out[3])) {
        return ht_error_set(err, HT_EINVAL,
                            "bbox: the minimum before the maximum");
    }
    return HT_OK;
}
