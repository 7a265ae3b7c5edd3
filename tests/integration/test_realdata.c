/* SPDX-License-Identifier: Apache-2.0 */
/* Integration test on the real Dongcheng layers of the shared test data
 * (not shipped: skipped when the folder is absent). */
#include <sys/stat.h>

#include "hutong/crs.h"

#include "ht_test.h"

static char *dir, *data;

/* WGS 84 landmarks (DOMAIN.md section 3 and OSM positions named in the
 * shared data's README) and the street office each lies in; "" = outside
 * Dongcheng. */
static const struct {
    const char *id;
    double lon, lat;
    const char *office;
} landmarks[] = {
    {"tiantan", 116.4042, 39.8799, "110101016"},    /* Temple of Heaven */
    {"tiananmen", 116.3913, 39.9073, "110101001"},  /* Tiananmen */
    {"nanluogu", 116.39786, 39.93220, "110101003"}, /* 南锣鼓巷 stop */
    {"yuhuayuan", 116.3906, 39.9215, "110101001"},  /* 御花园 */
    {"ditan", 116.4115, 39.9530, "110101010"},      /* 地坛 */
    {"beihai", 116.3889, 39.9255, ""},              /* 北海, Xicheng */
};
#define NLM (sizeof landmarks / sizeof *landmarks)

/* Run hutong; on failure print what it said. Returns its exit code. */
#define run(...) report(ts_hutong(NULL, &said, __VA_ARGS__, (const char *)NULL))

static char *said;

static int report(int rc) {
    if (rc != 0) {
        fprintf(stderr, "hutong: exit %d: %s\n", rc, said ? said : "");
    }
    free(said);
    said = NULL;
    return rc;
}

static char *shared(const char *name) {
    return ts_path(data, name);
}

/* Write the landmarks as CSV, in WGS 84 or converted to GCJ-02. */
static char *landmark_csv(const char *name, bool gcj) {
    char *p = ts_path(dir, name);
    FILE *f = fopen(p, "w");
    fprintf(f, "id,lon,lat,category,reported_at\n");
    for (size_t k = 0; k < NLM; k++) {
        double lon = landmarks[k].lon, lat = landmarks[k].lat;
        if (gcj) {
            ht_crs_wgs84_to_gcj02(lon, lat, &lon, &lat);
        }
        fprintf(f, "%s%s,%.12f,%.12f,05,2026-01-01T09:00:00+08:00\n",
                landmarks[k].id, gcj ? "-gcj" : "", lon, lat);
    }
    if (gcj) {
        /* The published vector, given in GCJ-02. */
        fprintf(f,
                "vector-gcj,116.38404722455657,39.91334545536069,05,"
                "2026-01-01\n");
    }
    fclose(f);
    return p;
}

static void load_layers(const char *db) {
    char cats[1024];
    snprintf(cats, sizeof cats, "%s/categories.csv", getenv("HUTONG_GEODATA"));
    char *offices = shared("dongcheng_street_offices.geojson");
    char *roads = shared("dongcheng_roads.geojson");
    assert_int_equal(
        run("import", "grids", offices, "--level", "street", "--db", db), 0);
    assert_int_equal(run("import", "streets", roads, "--db", db), 0);
    free(offices);
    free(roads);
}

static void test_realdata_landmarks_fall_in_their_street_office(void **state) {
    (void)state;
    char *db = ts_path(dir, "real.db");
    char cats[1024];
    snprintf(cats, sizeof cats, "%s/categories.csv", getenv("HUTONG_GEODATA"));
    assert_int_equal(run("init", "--db", db), 0);
    assert_int_equal(run("import", "categories", cats, "--db", db), 0);
    load_layers(db);
    assert_int_equal(ts_db_int(db,
                               "SELECT count(*) FROM grids WHERE level = "
                               "'street'"),
                     17);
    assert_int_equal(ts_db_int(db, "SELECT count(*) FROM streets"), 15542);
    char *wgs = landmark_csv("wgs.csv", false);
    char *gcj = landmark_csv("gcj.csv", true);
    assert_int_equal(run("import", "incidents", wgs, "--db", db), 0);
    assert_int_equal(
        run("import", "incidents", gcj, "--crs", "gcj02", "--db", db), 0);
    char sql[512];
    for (size_t k = 0; k < NLM; k++) {
        for (int g = 0; g < 2; g++) {
            snprintf(sql, sizeof sql,
                     "SELECT coalesce(grid_code, '') FROM incidents WHERE "
                     "external_id = '%s%s'",
                     landmarks[k].id, g ? "-gcj" : "");
            char *code = ts_db_text(db, sql);
            if (strcmp(code, landmarks[k].office) != 0) {
                fail_msg("%s%s: in \"%s\", expected \"%s\"", landmarks[k].id,
                         g ? "-gcj" : "", code, landmarks[k].office);
            }
            free(code);
        }
        /* The GCJ-02 copy lands within 1 m of the WGS 84 position. */
        snprintf(sql, sizeof sql,
                 "SELECT X(geom) FROM incidents WHERE external_id = '%s-gcj'",
                 landmarks[k].id);
        double lon = ts_db_double(db, sql);
        snprintf(sql, sizeof sql,
                 "SELECT Y(geom) FROM incidents WHERE external_id = '%s-gcj'",
                 landmarks[k].id);
        double lat = ts_db_double(db, sql);
        double d = ts_dist_m(lon, lat, landmarks[k].lon, landmarks[k].lat);
        if (d > 1.0) {
            fail_msg("%s: GCJ-02 copy %.3f m away", landmarks[k].id, d);
        }
    }
    double vlon = ts_db_double(db,
                               "SELECT X(geom) FROM incidents WHERE "
                               "external_id = 'vector-gcj'");
    double vlat = ts_db_double(db,
                               "SELECT Y(geom) FROM incidents WHERE "
                               "external_id = 'vector-gcj'");
    assert_true(ts_dist_m(vlon, vlat, 116.377817, 39.911954) < 1.0);
    /* Snapping: the street chosen is the nearest one, within 30 m; where
     * none is chosen, none is that close. Distances on the ellipsoid. */
    int snapped = 0;
    for (size_t k = 0; k < NLM; k++) {
        snprintf(sql, sizeof sql,
                 "SELECT coalesce(street_id, -1) FROM incidents WHERE "
                 "external_id = '%s'",
                 landmarks[k].id);
        int64_t sid = ts_db_int(db, sql);
        snprintf(sql, sizeof sql,
                 "SELECT coalesce(min(Distance(s.geom, i.geom, 1)), 1e9) FROM "
                 "streets s, "
                 "incidents i WHERE i.external_id = '%s' AND s.id IN "
                 "(SELECT pkid FROM idx_streets_geom WHERE xmin <= "
                 "X(i.geom) + 0.001 AND xmax >= X(i.geom) - 0.001 AND ymin "
                 "<= Y(i.geom) + 0.001 AND ymax >= Y(i.geom) - 0.001)",
                 landmarks[k].id);
        double best = ts_db_double(db, sql);
        if (sid < 0) {
            assert_true(best > 29.5);
            continue;
        }
        snapped++;
        snprintf(sql, sizeof sql,
                 "SELECT Distance(s.geom, i.geom, 1) FROM streets s, "
                 "incidents i WHERE i.external_id = '%s' AND s.id = %lld",
                 landmarks[k].id, (long long)sid);
        double got = ts_db_double(db, sql);
        if (!(got <= 30.1 && got - best < 0.05)) {
            fail_msg("%s: street %lld at %.2f m, nearest at %.2f m",
                     landmarks[k].id, (long long)sid, got, best);
        }
    }
    assert_true(snapped >= 3);
    free(wgs);
    free(gcj);
    free(db);
}

static void test_realdata_import_order_does_not_matter(void **state) {
    (void)state;
    /* Incidents first, then the layers: the same grids and streets. */
    char *a = ts_path(dir, "real.db");
    char *b = ts_path(dir, "late.db");
    char cats[1024];
    snprintf(cats, sizeof cats, "%s/categories.csv", getenv("HUTONG_GEODATA"));
    assert_int_equal(run("init", "--db", b), 0);
    assert_int_equal(run("import", "categories", cats, "--db", b), 0);
    char *wgs = landmark_csv("wgs.csv", false);
    assert_int_equal(run("import", "incidents", wgs, "--db", b), 0);
    assert_int_equal(ts_db_int(b, "SELECT count(grid_code) FROM incidents"), 0);
    load_layers(b);
    const char *q =
        "SELECT group_concat(external_id || ':' || "
        "coalesce(grid_code, '-') || ':' || coalesce(street_id, "
        "'-'), ',') FROM (SELECT * FROM incidents WHERE "
        "external_id NOT LIKE '%gcj' ORDER BY external_id)";
    char *ra = ts_db_text(a, q), *rb = ts_db_text(b, q);
    assert_string_equal(ra, rb);
    free(ra);
    free(rb);
    free(wgs);
    free(a);
    free(b);
}

int main(void) {
    const char *base = getenv("HUTONG_SHARED_DATA");
    struct stat sb;
    char probe[4096];
    snprintf(probe, sizeof probe, "%s/dongcheng_street_offices.geojson",
             base ? base : "");
    if (!base || stat(probe, &sb) != 0) {
        printf("shared Dongcheng data not found: skipped\n");
        return 77; /* meson's "skipped" */
    }
    data = strdup(base);
    dir = ts_tmpdir();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_realdata_landmarks_fall_in_their_street_office),
        cmocka_unit_test(test_realdata_import_order_does_not_matter),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    ts_rmdir(dir);
    free(dir);
    free(data);
    return rc;
}
