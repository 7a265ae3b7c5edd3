/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: import. */
#include <math.h>

#include "hutong/crs.h"
#include "hutong/demo.h"
#include "hutong/import.h"

#include "ht_test.h"

typedef ts_store fixture;

static void reopen(fixture *f) {
    ts_store_reopen(f);
}

/* Write @text to @name in the fixture's folder and import it. */
static ht_status import_text(fixture *f, ht_import_opts *o, const char *name,
                             const char *text, ht_import_stats *stats,
                             ht_error *err) {
    char *p = ts_path(f->dir, name);
    ts_write(p, text);
    ht_import_stats local;
    ht_status st = ht_import_file(f->s, p, o, stats ? stats : &local, err);
    free(p);
    return st;
}

static void must(ht_status st, const ht_error *err) {
    if (st != HT_OK) {
        fail_msg("%s", err->msg);
    }
}

static int setup(void **state) {
    fixture *f = ts_store_new();
    char cats[1024];
    snprintf(cats, sizeof cats, "%s/categories.csv", ht_demo_geodata_dir());
    ht_import_opts o = {.kind = HT_IMPORT_CATEGORIES};
    ht_error err = {0};
    if (ht_import_file(f->s, cats, &o, NULL, &err) != HT_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state) {
    ts_store_free(*state);
    return 0;
}

/* A district 0.1 x 0.1 degrees, two streets (west and east halves) and two
 * communities in the west street, as GeoJSON with levels as properties and
 * no parent codes: the importer links parents by containment. */
static const char grids_geojson[] =
    "{\"type\":\"FeatureCollection\",\"features\":["
    "{\"type\":\"Feature\",\"properties\":{\"code\":\"110101\",\"level\":"
    "\"district\",\"name\":\"东城区\"},\"geometry\":{\"type\":\"Polygon\","
    "\"coordinates\":[[[116.3,39.8],[116.4,39.8],[116.4,39.9],[116.3,39.9],"
    "[116.3,39.8]]]}},"
    "{\"type\":\"Feature\",\"properties\":{\"code\":\"110101001\",\"level\":"
    "\"street\",\"name\":\"西\",\"population\":1200},\"geometry\":{\"type\":"
    "\"MultiPolygon\",\"coordinates\":[[[[116.3,39.8],[116.35,39.8],[116.35,"
    "39.9],[116.3,39.9],[116.3,39.8]]]]}},"
    "{\"type\":\"Feature\",\"properties\":{\"code\":\"110101002\",\"level\":"
    "\"street\",\"name\":\"东\"},\"geometry\":{\"type\":\"Polygon\","
    "\"coordinates\":[[[116.35,39.8],[116.4,39.8],[116.4,39.9],[116.35,39.9],"
    "[116.35,39.8]]]}},"
    "{\"type\":\"Feature\",\"properties\":{\"code\":\"110101001001\","
    "\"level\":\"community\"},\"geometry\":{\"type\":\"Polygon\","
    "\"coordinates\":[[[116.3,39.8],[116.35,39.8],[116.35,39.85],[116.3,"
    "39.85],[116.3,39.8]]]}},"
    "{\"type\":\"Feature\",\"properties\":{\"code\":\"110101001002\","
    "\"level\":\"社区\"},\"geometry\":{\"type\":\"Polygon\",\"coordinates\":"
    "[[[116.3,39.85],[116.35,39.85],[116.35,39.9],[116.3,39.9],[116.3,"
    "39.85]]]}}]}";

static const char streets_geojson[] =
    "{\"type\":\"FeatureCollection\",\"features\":["
    "{\"type\":\"Feature\",\"id\":5,\"properties\":{\"name\":\"菊儿胡同\"},"
    "\"geometry\":{\"type\":\"MultiLineString\",\"coordinates\":[[[116.31,"
    "39.82],[116.34,39.82]],[[116.31,39.88],[116.34,39.88]]]}},"
    "{\"type\":\"Feature\",\"properties\":{\"id\":\"R1\",\"name\":\"东四北"
    "大街\",\"kind\":\"lane\"},\"geometry\":{\"type\":\"LineString\","
    "\"coordinates\":[[116.36,39.80],[116.36,39.90]]}}]}";

static const char incidents_csv[] =
    "id,lon,lat,category,reported_at,severity,status,closed_at\n"
    "A1,116.32,39.8201,0101,2024-05-01T08:00:00+08:00,,,\n"
    "A2,116.32,39.87,H02,2024-12-01,3,closed,2024-12-02T00:00Z\n"
    "A3,116.3601,39.85,05,2024-05-01T00:00Z,2,dispatched,\n"
    "A4,116.5,39.85,05,2024-05-01T00:00Z,1,,\n";

static void test_import_grids_link_parents_by_containment(void **state) {
    fixture *f = *state;
    ht_import_opts o = {.kind = HT_IMPORT_GRIDS};
    ht_import_stats st;
    ht_error err = {0};
    must(import_text(f, &o, "g.geojson", grids_geojson, &st, &err), &err);
    assert_int_equal(st.rows, 5);
    assert_int_equal(st.inserted, 5);
    assert_int_equal(st.linked, 4);
    reopen(f);
    assert_db_text(f->db,
                   "SELECT parent_code FROM grids "
                   "WHERE code = '110101002'",
                   "110101");
    assert_db_text(f->db,
                   "SELECT parent_code FROM grids "
                   "WHERE code = '110101001002'",
                   "110101001");
    assert_int_equal(ts_db_int(f->db,
                               "SELECT population FROM grids WHERE "
                               "code = '110101001'"),
                     1200);
    assert_db_text(f->db,
                   "SELECT GeometryType(geom) FROM "
                   "grids WHERE code = '110101002'",
                   "MULTIPOLYGON");
    /* --level overrides the property for the whole file. */
    o.level = "grid";
    const char one[] =
        "{\"type\":\"Feature\",\"properties\":{\"code\":\"110101001001001\","
        "\"level\":\"nonsense\"},\"geometry\":{\"type\":\"Polygon\","
        "\"coordinates\":[[[116.3,39.8],[116.31,39.8],[116.31,39.81],[116.3,"
        "39.81],[116.3,39.8]]]}}";
    must(import_text(f, &o, "one.geojson", one, &st, &err), &err);
    assert_int_equal(st.linked, 1);
    reopen(f);
    assert_db_text(f->db,
                   "SELECT parent_code || level FROM "
                   "grids WHERE code = "
                   "'110101001001001'",
                   "110101001001grid");
}

static void test_import_incidents_defaults_and_location(void **state) {
    fixture *f = *state;
    ht_import_opts g = {.kind = HT_IMPORT_GRIDS};
    ht_import_opts s = {.kind = HT_IMPORT_STREETS};
    ht_import_opts i = {.kind = HT_IMPORT_INCIDENTS};
    ht_import_stats st;
    ht_error err = {0};
    must(import_text(f, &g, "g.geojson", grids_geojson, NULL, &err), &err);
    must(import_text(f, &s, "s.geojson", streets_geojson, &st, &err), &err);
    assert_int_equal(st.inserted, 3); /* the MultiLineString gives two */
    must(import_text(f, &i, "i.csv", incidents_csv, &st, &err), &err);
    assert_int_equal(st.rows, 4);
    assert_int_equal(st.inserted, 4);
    reopen(f);
    const char *q =
        "SELECT grid_code || '|' || coalesce(CAST(street_id AS TEXT), '-') || "
        "'|' || source || '|' || status || '|' || severity || '|' "
        "|| reported_at FROM incidents WHERE external_id = 'A1'";
    char *a1 = ts_db_text(f->db, q);
    char want[128];
    int64_t sid =
        ts_db_int(f->db, "SELECT id FROM streets WHERE source_id = '5:0'");
    snprintf(want, sizeof want, "110101001001|%lld|other|reported|1|%d",
             (long long)sid, 1714521600);
    assert_string_equal(a1, want);
    free(a1);
    assert_db_text(f->db,
                   "SELECT kind FROM streets WHERE "
                   "source_id = '5:1'",
                   "hutong");
    assert_db_text(f->db,
                   "SELECT kind FROM streets WHERE "
                   "source_id = 'R1'",
                   "alley");
    assert_db_text(f->db,
                   "SELECT grid_code || status || "
                   "closed_at FROM incidents WHERE "
                   "external_id = 'A2'",
                   "110101001002closed1733097600");
    /* On a street of the east half, 8.5 m from R1. */
    assert_db_text(f->db,
                   "SELECT grid_code || '|' || "
                   "CASE WHEN street_id IS NOT NULL THEN 1 ELSE 0 END FROM "
                   "incidents WHERE external_id = "
                   "'A3'",
                   "110101002|1");
    /* Outside every grid: stored without a grid. */
    assert_null(ts_db_text(f->db,
                           "SELECT grid_code FROM incidents WHERE "
                           "external_id = 'A4'"));
    /* New incidents log nothing: their first state is their row. */
    assert_int_equal(ts_db_int(f->db, "SELECT count(*) FROM incident_events"),
                     0);
}

static void test_import_twice_changes_nothing(void **state) {
    fixture *f = *state;
    ht_import_opts g = {.kind = HT_IMPORT_GRIDS};
    ht_import_opts i = {.kind = HT_IMPORT_INCIDENTS};
    ht_import_stats st;
    ht_error err = {0};
    must(import_text(f, &g, "g.geojson", grids_geojson, NULL, &err), &err);
    must(import_text(f, &i, "i.csv", incidents_csv, NULL, &err), &err);
    reopen(f);
    uint64_t before = ts_db_fingerprint(f->db);
    must(import_text(f, &i, "i.csv", incidents_csv, &st, &err), &err);
    assert_int_equal(st.unchanged, 4);
    assert_int_equal(st.inserted + st.updated, 0);
    must(import_text(f, &g, "g.geojson", grids_geojson, &st, &err), &err);
    assert_int_equal(st.unchanged, 5);
    assert_int_equal(st.relocated, 0);
    reopen(f);
    assert_true(ts_db_fingerprint(f->db) == before);
}

static void test_import_order_does_not_matter(void **state) {
    fixture *f = *state;
    ht_import_opts g = {.kind = HT_IMPORT_GRIDS};
    ht_import_opts s = {.kind = HT_IMPORT_STREETS};
    ht_import_opts i = {.kind = HT_IMPORT_INCIDENTS};
    ht_import_stats st;
    ht_error err = {0};
    /* Incidents first: nothing to locate them in yet. */
    must(import_text(f, &i, "i.csv", incidents_csv, NULL, &err), &err);
    reopen(f);
    assert_int_equal(ts_db_int(f->db,
                               "SELECT count(grid_code) + "
                               "count(street_id) FROM incidents"),
                     0);
    must(import_text(f, &g, "g.geojson", grids_geojson, &st, &err), &err);
    assert_int_equal(st.relocated, 3);
    must(import_text(f, &s, "s.geojson", streets_geojson, &st, &err), &err);
    assert_int_equal(st.relocated, 2);
    reopen(f);
    char *late = ts_db_text(f->db,
                            "SELECT group_concat(external_id || ':' || "
                            "coalesce(grid_code, '-') || ':' || "
                            "coalesce((SELECT source_id FROM streets s WHERE "
                            "s.id = street_id), '-'), ',') FROM (SELECT * "
                            "FROM incidents ORDER BY external_id) AS t");
    assert_string_equal(late,
                        "A1:110101001001:5:0,A2:110101001002:-,"
                        "A3:110101002:R1,A4:-:-");
    free(late);
}

typedef struct bad_case {
    ht_import_kind kind;
    const char *file;
    const char *text;
    const char *crs;
    const char *want[3];
} bad_case;

#define X10 "xxxxxxxxxx"
#define X100 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10

static const bad_case bad_cases[] = {
    {HT_IMPORT_INCIDENTS,
     "long.csv",
     "id,lon,lat,category,reported_at\nB1,116.32,39.82,05,2024-05-01\n"
     "B2" X100 X10 X10 X10 ",116.32,39.82,05,2024-05-01\n",
     NULL,
     {"long.csv: line 3", "field \"id\"", "132 bytes, longer than the 128"}},
    {HT_IMPORT_INCIDENTS,
     "utf8.csv",
     "id,lon,lat,category,reported_at\nB1,116.32,39.82,05,2024-05-01\n"
     "B2\xff,116.32,39.82,05,2024-05-01\n",
     NULL,
     {"utf8.csv: line 3", "field 1", "not UTF-8 text"}},
    {HT_IMPORT_GRIDS,
     "longname.geojson",
     "{\"type\":\"Feature\",\"properties\":{\"code\":\"9\",\"level\":"
     "\"grid\",\"name\":\"" X100 X100 "x\"},\"geometry\":{\"type\":"
     "\"Polygon\",\"coordinates\":[[[116.3,39.8],[116.31,39.8],[116.31,"
     "39.81],[116.3,39.8]]]}}",
     NULL,
     {"longname.geojson: feature 1", "field \"name\"", "201 bytes"}},
    {HT_IMPORT_GRIDS,
     "malformed.geojson",
     "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\",",
     NULL,
     {"malformed.geojson", "malformed JSON", "line 1"}},
    {HT_IMPORT_INCIDENTS,
     "lon.csv",
     "id,lon,lat,category,reported_at\nB1,116.32,39.82,05,2024-05-01\n"
     "B2,abc,39.82,05,2024-05-01\n",
     NULL,
     {"lon.csv: line 3", "field \"lon\"", "\"abc\" is not a number"}},
    {HT_IMPORT_INCIDENTS,
     "area.csv",
     "id,lon,lat,category,reported_at\nB1,116.32,39.82,05,2024-05-01\n"
     "B2,116.32,95,05,2024-05-01\n",
     NULL,
     {"area.csv: line 3", "outside the area of use of EPSG:4326", ""}},
    {HT_IMPORT_INCIDENTS,
     "gk.csv",
     "id,lon,lat,category,reported_at\nB1,440000,4418000,05,2024-05-01\n"
     "B2,-2500000,4418000,05,2024-05-01\n",
     "EPSG:4548",
     {"gk.csv: line 3", "EPSG:4548", ""}},
    {HT_IMPORT_INCIDENTS,
     "cat.csv",
     "id,lon,lat,category,reported_at\nB1,116.32,39.82,05,2024-05-01\n"
     "B2,116.32,39.82,9999,2024-05-01\n",
     NULL,
     {"cat.csv: line 3", "field \"category\"", "unknown category"}},
    {HT_IMPORT_GRIDS,
     "level.geojson",
     "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\","
     "\"properties\":{\"code\":\"X1\",\"level\":\"grid\"},\"geometry\":{"
     "\"type\":\"Polygon\",\"coordinates\":[[[116.3,39.8],[116.31,39.8],"
     "[116.31,39.81],[116.3,39.8]]]}},{\"type\":\"Feature\",\"properties\":"
     "{\"code\":\"X2\",\"level\":\"block\"},\"geometry\":{\"type\":"
     "\"Polygon\",\"coordinates\":[[[116.3,39.8],[116.31,39.8],[116.31,"
     "39.81],[116.3,39.8]]]}}]}",
     NULL,
     {"level.geojson: feature 2", "field \"level\"",
      "unknown grid level \"block\""}},
    {HT_IMPORT_INCIDENTS,
     "empty.csv",
     "",
     NULL,
     {"empty.csv", "the file is empty", ""}},
    {HT_IMPORT_GRIDS,
     "empty.geojson",
     "",
     NULL,
     {"empty.geojson", "the file is empty", ""}},
    {HT_IMPORT_INCIDENTS,
     "nolat.csv",
     "id,lon,category,reported_at\nB1,116.32,05,2024-05-01\n",
     NULL,
     {"nolat.csv: line 1", "missing column \"lat\"", ""}},
    {HT_IMPORT_INCIDENTS,
     "header.csv",
     "id,lon,lat,category,reported_at\n",
     NULL,
     {"header.csv", "no data rows", ""}},
    {HT_IMPORT_INCIDENTS,
     "date.csv",
     "id,lon,lat,category,reported_at\nB1,116.32,39.82,05,2024-13-01\n",
     NULL,
     {"date.csv: line 2", "field \"reported_at\"", "not a valid date"}},
    {HT_IMPORT_INCIDENTS,
     "zone.csv",
     "id,lon,lat,category,reported_at\nB1,116.32,39.82,05,2024-05-01T08:00\n",
     NULL,
     {"zone.csv: line 2", "field \"reported_at\"", "no time zone"}},
    {HT_IMPORT_INCIDENTS,
     "closed.csv",
     "id,lon,lat,category,reported_at,closed_at\n"
     "B1,116.32,39.82,05,2024-05-02,2024-05-01\n",
     NULL,
     {"closed.csv: line 2", "field \"closed_at\"", "before reported"}},
    {HT_IMPORT_INCIDENTS,
     "sev.csv",
     "id,lon,lat,category,reported_at,severity\n"
     "B1,116.32,39.82,05,2024-05-02,5\n",
     NULL,
     {"sev.csv: line 2", "field \"severity\"", "5 outside 1..3"}},
    {HT_IMPORT_INCIDENTS,
     "status.csv",
     "id,lon,lat,category,reported_at,status\n"
     "B1,116.32,39.82,05,2024-05-02,open\n",
     NULL,
     {"status.csv: line 2", "field \"status\"", "unknown status"}},
    {HT_IMPORT_INCIDENTS,
     "width.csv",
     "id,lon,lat,category,reported_at\nB1,116.32,39.82,05\n",
     NULL,
     {"width.csv: line 2", "4 fields where the header has 5", ""}},
    {HT_IMPORT_INCIDENTS,
     "noid.csv",
     "id,lon,lat,category,reported_at\n,116.32,39.82,05,2024-05-01\n",
     NULL,
     {"noid.csv: line 2", "field \"id\"", "value missing"}},
    {HT_IMPORT_GRIDS,
     "ring.geojson",
     "{\"type\":\"Feature\",\"properties\":{\"code\":\"X1\",\"level\":"
     "\"grid\"},\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[116.3,"
     "39.8],[116.31,39.8],[116.31,39.81],[116.3,39.81]]]}}",
     NULL,
     {"ring.geojson: feature 1", "ring 0 is not closed", ""}},
    {HT_IMPORT_GRIDS,
     "point.geojson",
     "{\"type\":\"Feature\",\"properties\":{\"code\":\"X1\",\"level\":"
     "\"grid\"},\"geometry\":{\"type\":\"Point\",\"coordinates\":[116.3,"
     "39.8]}}",
     NULL,
     {"point.geojson: feature 1", "Polygon or MultiPolygon", ""}},
    {HT_IMPORT_INCIDENTS,
     "nogeom.geojson",
     "{\"type\":\"Feature\",\"properties\":{\"id\":\"B1\",\"category\":"
     "\"05\",\"reported_at\":\"2024-05-01\"},\"geometry\":null}",
     NULL,
     {"nogeom.geojson: feature 1", "needs a Point", ""}},
    {HT_IMPORT_INCIDENTS,
     "crs.csv",
     "id,lon,lat,category,reported_at\nB1,116.32,39.82,05,2024-05-01\n",
     "EPSG:999999",
     {"crs.csv", "unknown CRS", ""}},
    {HT_IMPORT_STREETS,
     "kind.geojson",
     "{\"type\":\"Feature\",\"properties\":{\"kind\":\"river\"},\"geometry\":"
     "{\"type\":\"LineString\",\"coordinates\":[[116.3,39.8],[116.31,39.8]]}}",
     NULL,
     {"kind.geojson: feature 1", "field \"kind\"", "unknown street kind"}},
    {HT_IMPORT_STREETS,
     "streets.csv",
     "id,name\n1,x\n",
     NULL,
     {"streets.csv", "need geometry", ""}},
    {HT_IMPORT_CATEGORIES,
     "cats.csv",
     "code,parent_code,name\nZ1,,甲\nZ2,Z9,乙\n",
     NULL,
     {"cats.csv", "\"Z2\"", "not in the dictionary"}},
    {HT_IMPORT_CATEGORIES,
     "colour.csv",
     "code,name,color\nZ1,甲,red\n",
     NULL,
     {"colour.csv: line 2", "field \"color\"", "not a colour"}},
    {HT_IMPORT_GRIDS,
     "notfc.geojson",
     "{\"type\":\"Topology\"}",
     NULL,
     {"notfc.geojson", "not a GeoJSON Feature or FeatureCollection", ""}},
    {HT_IMPORT_GRIDS,
     "pop.geojson",
     "{\"type\":\"Feature\",\"properties\":{\"code\":\"X1\",\"level\":"
     "\"grid\",\"population\":-3},\"geometry\":{\"type\":\"Polygon\","
     "\"coordinates\":[[[116.3,39.8],[116.31,39.8],[116.31,39.81],[116.3,"
     "39.8]]]}}",
     NULL,
     {"pop.geojson: feature 1", "field \"population\"", "outside"}},
};

/* The grids and incidents of the tests above, imported and on disk. */
static void load_grids_and_incidents(fixture *f) {
    ht_import_opts g = {.kind = HT_IMPORT_GRIDS};
    ht_import_opts i = {.kind = HT_IMPORT_INCIDENTS};
    ht_error err = {0};
    must(import_text(f, &g, "g.geojson", grids_geojson, NULL, &err), &err);
    must(import_text(f, &i, "i.csv", incidents_csv, NULL, &err), &err);
    reopen(f);
}

static void test_import_bad_input_changes_nothing(void **state) {
    fixture *f = *state;
    load_grids_and_incidents(f);
    uint64_t before = ts_db_fingerprint(f->db);
    for (size_t k = 0; k < sizeof bad_cases / sizeof *bad_cases; k++) {
        const bad_case *c = &bad_cases[k];
        ht_import_opts o = {.kind = c->kind, .crs = c->crs};
        ht_error e = {0};
        ht_status st = import_text(f, &o, c->file, c->text, NULL, &e);
        if (st != HT_EINVAL) {
            fail_msg("%s: status %s, message \"%s\"", c->file,
                     ht_status_str(st), e.msg);
        }
        for (int w = 0; w < 3; w++) {
            assert_contains(e.msg, c->want[w]);
        }
        reopen(f);
        if (ts_db_fingerprint(f->db) != before) {
            fail_msg("%s changed the database", c->file);
        }
    }
}

static void test_import_field_mapping_and_crs(void **state) {
    fixture *f = *state;
    double glon, glat;
    ht_crs_wgs84_to_gcj02(116.4042, 39.8799, &glon, &glat);
    char csv[512];
    snprintf(csv, sizeof csv,
             "ext,x,y,type,time\nT1,%.12f,%.12f,05,2024-05-01T00:00:00Z\n",
             glon, glat);
    ht_import_opts o = {.kind = HT_IMPORT_INCIDENTS, .crs = "gcj02"};
    ht_error err = {0};
    assert_int_equal(ht_import_opts_add_field(&o, "id=ext", &err), HT_OK);
    assert_int_equal(ht_import_opts_add_field(&o, "lon=x", &err), HT_OK);
    assert_int_equal(ht_import_opts_add_field(&o, "lat=y", &err), HT_OK);
    assert_int_equal(ht_import_opts_add_field(&o, "category=type", &err),
                     HT_OK);
    assert_int_equal(ht_import_opts_add_field(&o, "reported_at=time", &err),
                     HT_OK);
    must(import_text(f, &o, "m.csv", csv, NULL, &err), &err);
    reopen(f);
    double lon = ts_db_double(f->db, "SELECT X(geom) FROM incidents");
    double lat = ts_db_double(f->db, "SELECT Y(geom) FROM incidents");
    assert_true(ts_dist_m(lon, lat, 116.4042, 39.8799) < 0.01);
    assert_int_equal(ht_import_opts_add_field(&o, "nonsense", &err), HT_EINVAL);
    assert_contains(err.msg, "NAME=SOURCE");
    assert_int_equal(ht_import_opts_add_field(&o, "colour=c", &err), HT_EINVAL);
    assert_contains(err.msg, "not a field of incidents");
}

static void test_import_projected_grids_and_legacy_crs(void **state) {
    fixture *f = *state;
    /* A grid given in EPSG:4548 (x,y = easting,northing). */
    ht_transform *t;
    ht_error err = {0};
    must(ht_crs_transform_new(NULL, "EPSG:4548", &t, &err), &err);
    const double ll[5][2] = {{116.40, 39.90},
                             {116.41, 39.90},
                             {116.41, 39.91},
                             {116.40, 39.91},
                             {116.40, 39.90}};
    char gj[2048] =
        "{\"type\":\"Feature\",\"properties\":{\"code\":\"P1\","
        "\"level\":\"grid\"},\"geometry\":{\"type\":\"Polygon\","
        "\"coordinates\":[[";
    for (int k = 0; k < 5; k++) {
        double x, y;
        ht_crs_transform_point(t, ll[k][0], ll[k][1], &x, &y, NULL);
        char v[80];
        snprintf(v, sizeof v, "%s[%.6f,%.6f]", k ? "," : "", x, y);
        strcat(gj, v);
    }
    strcat(gj, "]]}}");
    ht_crs_transform_free(t);
    ht_import_opts o = {.kind = HT_IMPORT_GRIDS, .crs = "EPSG:4548"};
    must(import_text(f, &o, "gk.geojson", gj, NULL, &err), &err);
    /* A legacy "crs" member naming EPSG:3857 is honoured without --crs. */
    const char merc[] =
        "{\"type\":\"FeatureCollection\",\"crs\":{\"type\":\"name\","
        "\"properties\":{\"name\":\"urn:ogc:def:crs:EPSG::3857\"}},"
        "\"features\":[{\"type\":\"Feature\",\"properties\":{\"id\":\"M1\","
        "\"category\":\"05\",\"reported_at\":\"2024-05-01\"},\"geometry\":{"
        "\"type\":\"Point\",\"coordinates\":[12958145.326,4852146.727]}}]}";
    ht_import_opts m = {.kind = HT_IMPORT_INCIDENTS};
    must(import_text(f, &m, "merc.geojson", merc, NULL, &err), &err);
    reopen(f);
    double minx = ts_db_double(f->db, "SELECT MbrMinX(geom) FROM grids");
    double maxy = ts_db_double(f->db, "SELECT MbrMaxY(geom) FROM grids");
    assert_true(fabs(minx - 116.40) < 1e-7);
    assert_true(fabs(maxy - 39.91) < 1e-7);
    double lon = ts_db_double(f->db, "SELECT X(geom) FROM incidents");
    double lat = ts_db_double(f->db, "SELECT Y(geom) FROM incidents");
    /* x = lon / 180 * 20037508.342789, y = R ln tan(pi / 4 + lat / 2) */
    if (!(fabs(lon - 116.405) < 1e-8 && fabs(lat - 39.905) < 1e-8)) {
        fail_msg("EPSG:3857 point read as %.7f, %.7f", lon, lat);
    }
    assert_db_text(f->db, "SELECT grid_code FROM incidents", "P1");
}

/* The rules of writes from outside (the HTTP API): a scope, and a life
 * cycle that moves forward only. Each refusal leaves the store as it was. */
static void test_import_api_rules(void **state) {
    fixture *f = *state;
    load_grids_and_incidents(f);
    ht_import_opts i = {.kind = HT_IMPORT_INCIDENTS};
    ht_error err = {0};
    const int64_t now = 1735689600; /* 2025-01-01, the clock of the test */
    ht_import_opts api = {.kind = HT_IMPORT_INCIDENTS,
                          .lifecycle = true,
                          .scope = "110101001",
                          .now = now};
    const char *head = "id,lon,lat,category,reported_at,status,closed_at\n";
    const struct {
        const char *row, *says;
        ht_status want;
    } bad[] = {
        /* A3 lies in 110101002: moving it into 110101001 is a take-over. */
        {"A3,116.32,39.83,05,2024-05-01T00:00Z,dispatched,",
         "incident \"A3\" lies outside", HT_EAUTH},
        /* A new incident outside the area. */
        {"N1,116.37,39.85,05,2024-05-01,reported,", "the point lies outside",
         HT_EAUTH},
        /* A1 moved out of the area. */
        {"A1,116.37,39.85,0101,2024-05-01T08:00:00+08:00,reported,",
         "the point lies outside", HT_EAUTH},
        /* A2 is closed: back to reported is refused. */
        {"A2,116.32,39.87,H02,2024-12-01,reported,",
         "closed; it cannot go back to reported", HT_ECONFLICT},
        /* Times after the clock. */
        {"N2,116.32,39.83,05,2025-03-01,reported,", "in the future", HT_EINVAL},
        {"A1,116.32,39.8201,0101,2024-05-01T08:00:00+08:00,closed,2025-02-01",
         "in the future", HT_EINVAL},
    };
    uint64_t before = ts_db_fingerprint(f->db);
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        char body[256];
        snprintf(body, sizeof body, "%s%s\n", head, bad[k].row);
        ht_import_stats st;
        ht_error e = {0};
        ht_status got = ht_import_mem(f->s, "body", body, strlen(body), "csv",
                                      &api, &st, &e);
        if (got != bad[k].want || !strstr(e.msg, bad[k].says) ||
            !strstr(e.msg, "body: line 2")) {
            fail_msg("case %zu: %s: %s", k, ht_status_str(got), e.msg);
        }
    }
    assert_true(ts_db_fingerprint(f->db) == before);
    /* Forward: A1 closes now, without a closing time: logged at the clock,
     * closed at the clock. */
    char body[256];
    snprintf(body, sizeof body,
             "%sA1,116.32,39.8201,0101,2024-05-01T08:00:00+08:00,closed,\n",
             head);
    ht_import_stats st;
    must(
        ht_import_mem(f->s, "body", body, strlen(body), "csv", &api, &st, &err),
        &err);
    assert_int_equal(st.updated, 1);
    assert_int_equal(ts_db_int(f->db,
                               "SELECT closed_at FROM incidents WHERE "
                               "external_id = 'A1'"),
                     now);
    assert_int_equal(ts_db_int(f->db,
                               "SELECT at FROM incident_events e JOIN "
                               "incidents i ON i.id = e.incident_id WHERE "
                               "i.external_id = 'A1' AND e.status = 'closed'"),
                     now);
    /* Without the rules (an administrator's import) the same file may
     * still correct anything. */
    snprintf(body, sizeof body,
             "%sA3,116.32,39.83,05,2024-05-01T00:00Z,reported,\n", head);
    must(ht_import_mem(f->s, "body", body, strlen(body), "csv", &i, &st, &err),
         &err);
    assert_int_equal(st.updated, 1);
}

/* The shipped whistle list: 14 classes, 45 items, its own dictionary; and
 * rules for a whistle class, inherited by its items; whistles and verdicts
 * in GeoJSON. */
static void test_import_whistles_and_rules(void **state) {
    fixture *f = *state;
    char path[1024];
    snprintf(path, sizeof path, "%s/whistles.csv", ht_demo_geodata_dir());
    ht_import_opts c = {.kind = HT_IMPORT_CATEGORIES};
    ht_import_stats st;
    ht_error err = {0};
    must(ht_import_file(f->s, path, &c, &st, &err), &err);
    assert_int_equal(st.inserted, 59);
    assert_int_equal(ts_db_int(f->db,
                               "SELECT count(*) FROM categories WHERE "
                               "dictionary = 'whistle' AND "
                               "parent_code IS NULL"),
                     14);
    assert_int_equal(ts_db_int(f->db,
                               "SELECT count(*) FROM categories WHERE "
                               "dictionary = 'whistle' AND "
                               "parent_code IS NOT NULL"),
                     45);
    ht_import_opts r = {.kind = HT_IMPORT_RULES};
    must(import_text(f, &r, "r.csv",
                     "category,severity,response_h,resolution_h\n"
                     "W11,,0.5,4\n",
                     &st, &err),
         &err);
    assert_int_equal(st.inserted, 1);
    ht_import_opts i = {.kind = HT_IMPORT_INCIDENTS};
    must(import_text(
             f, &i, "w.geojson",
             "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":"
             "\"Feature\",\"properties\":{\"id\":\"w1\",\"category\":"
             "\"W1101\",\"source\":\"吹哨\",\"whistle_kind\":\"应急哨\","
             "\"severity\":3,\"status\":\"evaluated\",\"satisfaction\":"
             "\"满意\",\"reported_at\":\"2026-03-01T00:00Z\",\"closed_at\":"
             "\"2026-03-01T03:00Z\"},\"geometry\":{\"type\":\"Point\","
             "\"coordinates\":[116.32,39.82]}}]}",
             &st, &err),
         &err);
    assert_int_equal(ts_db_int(f->db,
                               "SELECT count(*) FROM incidents WHERE "
                               "external_id = 'w1' AND whistle_kind = "
                               "'emergency' AND satisfaction = "
                               "'satisfied' AND resolution_due = "
                               "reported_at + 14400"),
                     1);
    /* A kind on what is not a whistle is refused. */
    uint64_t before = ts_db_fingerprint(f->db);
    assert_int_equal(
        import_text(f, &i, "bad.csv",
                    "id,lon,lat,category,source,reported_at,whistle_kind\n"
                    "w2,116.32,39.82,W1101,hotline,2026-03-01,daily\n",
                    &st, &err),
        HT_EINVAL);
    assert_contains(err.msg, "whistle");
    assert_true(ts_db_fingerprint(f->db) == before);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_import_grids_link_parents_by_containment, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_import_incidents_defaults_and_location, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_twice_changes_nothing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_order_does_not_matter,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_bad_input_changes_nothing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_field_mapping_and_crs,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_import_projected_grids_and_legacy_crs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_api_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_whistles_and_rules, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
