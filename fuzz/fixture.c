/* SPDX-License-Identifier: Apache-2.0 */
/* The fuzz targets' store. */
#include "fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hutong/demo.h"
#include "hutong/import.h"

static const char grids[] =
    "{\"type\":\"FeatureCollection\",\"features\":["
    "{\"type\":\"Feature\",\"properties\":{\"code\":\"110101\",\"level\":"
    "\"district\",\"name\":\"东城区\"},\"geometry\":{\"type\":\"Polygon\","
    "\"coordinates\":[[[116.3,39.8],[116.5,39.8],[116.5,40.0],[116.3,40.0],"
    "[116.3,39.8]]]}},"
    "{\"type\":\"Feature\",\"properties\":{\"code\":\"110101001\",\"level\":"
    "\"street\",\"name\":\"东华门街道\",\"population\":1200},\"geometry\":{"
    "\"type\":\"Polygon\",\"coordinates\":[[[116.3,39.8],[116.4,39.8],"
    "[116.4,40.0],[116.3,40.0],[116.3,39.8]]]}},"
    "{\"type\":\"Feature\",\"properties\":{\"code\":\"110101002\",\"level\":"
    "\"street\",\"name\":\"景山街道\"},\"geometry\":{\"type\":\"Polygon\","
    "\"coordinates\":[[[116.4,39.8],[116.5,39.8],[116.5,40.0],[116.4,40.0],"
    "[116.4,39.8]]]}},"
    "{\"type\":\"Feature\",\"properties\":{\"code\":\"110101001001\","
    "\"level\":\"community\"},\"geometry\":{\"type\":\"Polygon\","
    "\"coordinates\":[[[116.3,39.8],[116.4,39.8],[116.4,39.9],[116.3,39.9],"
    "[116.3,39.8]]]}},"
    "{\"type\":\"Feature\",\"properties\":{\"code\":\"110101001001001\","
    "\"level\":\"grid\"},\"geometry\":{\"type\":\"Polygon\",\"coordinates\":"
    "[[[116.3,39.8],[116.35,39.8],[116.35,39.85],[116.3,39.85],"
    "[116.3,39.8]]]}}]}";

/* The streets span a few kilometres only: each import builds the locator's
 * street buckets anew, cells as wide as the snap distance, and a street
 * across the whole fixture made that most of every run. */
static const char streets[] =
    "{\"type\":\"FeatureCollection\",\"features\":["
    "{\"type\":\"Feature\",\"id\":5,\"properties\":{\"name\":\"菊儿胡同\"},"
    "\"geometry\":{\"type\":\"LineString\",\"coordinates\":[[116.31,39.82],"
    "[116.34,39.82]]}},"
    "{\"type\":\"Feature\",\"properties\":{\"id\":\"R1\",\"name\":\"东四北大"
    "街\"},\"geometry\":{\"type\":\"LineString\",\"coordinates\":[[116.41,"
    "39.82],[116.41,39.84]]}}]}";

static const char incidents[] =
    "id,lon,lat,category,reported_at,severity,status,closed_at\n"
    "A1,116.32,39.8201,0101,2024-05-01T08:00:00+08:00,1,reported,\n"
    "A2,116.32,39.87,H02,2024-12-01,3,closed,2024-12-02T00:00Z\n"
    "A3,116.41,39.83,05,2024-05-01T00:00Z,2,dispatched,\n";

static void must(ht_status st, const ht_error *err) {
    if (st != HT_OK) {
        fprintf(stderr, "fuzz fixture: %s\n", err->msg);
        abort();
    }
}

static ht_store *s;
static char dir[512];

/* The store and its folder go when the process ends. */
static void cleanup(void) {
    ht_store_close(s);
    s = NULL;
    const char *files[] = {"f.db", "f.db-wal", "f.db-shm"};
    for (int k = 0; k < 3; k++) {
        char path[600];
        snprintf(path, sizeof path, "%s/%s", dir, files[k]);
        unlink(path);
    }
    rmdir(dir);
}

ht_store *fz_store(void) {
    if (s) {
        return s;
    }
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/hutong-fuzz-XXXXXX",
             base && *base ? base : "/tmp");
    if (!mkdtemp(dir)) {
        abort();
    }
    char path[600], cats[1024];
    snprintf(path, sizeof path, "%s/f.db", dir);
    snprintf(cats, sizeof cats, "%s/categories.csv", ht_demo_geodata_dir());
    ht_error err = {0};
    must(ht_store_open(path, HT_STORE_CREATE, &s, &err), &err);
    ht_import_opts c = {.kind = HT_IMPORT_CATEGORIES};
    ht_import_opts g = {.kind = HT_IMPORT_GRIDS};
    ht_import_opts st = {.kind = HT_IMPORT_STREETS};
    ht_import_opts i = {.kind = HT_IMPORT_INCIDENTS};
    ht_import_stats stats;
    must(ht_import_file(s, cats, &c, &stats, &err), &err);
    must(ht_import_mem(s, "grids", grids, strlen(grids), "geojson", &g, &stats,
                       &err),
         &err);
    must(ht_import_mem(s, "streets", streets, strlen(streets), "geojson", &st,
                       &stats, &err),
         &err);
    must(ht_import_mem(s, "incidents", incidents, strlen(incidents), "csv", &i,
                       &stats, &err),
         &err);
    atexit(cleanup);
    return s;
}

char *fz_text(const uint8_t *data, size_t size) {
    char *t = malloc(size + 1);
    if (t) {
        memcpy(t, data, size);
        t[size] = '\0';
    }
    return t;
}
