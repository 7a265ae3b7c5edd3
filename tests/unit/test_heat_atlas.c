/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: density grids kept per class (severity x major category)
 * and summed: the same grid as a build for every filter they serve, after
 * changes too; the filters, options and bases they do not serve refused;
 * a size budget kept. */
#include <math.h>
#include <sqlite3.h>
#include <unistd.h>

#include "hutong/datetime.h"
#include "hutong/heat.h"
#include "hutong/import.h"
#include "hutong/render.h"
#include "hutong/style.h"
#include "hutong/tile.h"

#include "heat_int.h"
#include "ht_test.h"

static ts_demo *demo;
static ht_index *ix;
static const ht_index *over; /* the extent grids are compared over; NULL: ix */
static ht_heat_atlas *atlas;
static const ht_heat_opts opts = {.radius_m = 150};

static double weight_one(void *ud, const ht_incident_view *v) {
    (void)ud;
    (void)v;
    return 1;
}

static int setup(void **state) {
    (void)state;
    demo = ts_demo_new(20000);
    ht_error err = {0};
    if (ht_index_load(demo->fx->s, &ix, &err) != HT_OK ||
        ht_heat_atlas_build(ix, &opts, 1u << 30, &atlas, &err) != HT_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    ht_heat_atlas_unref(atlas);
    ht_index_unref(ix);
    ts_demo_free(demo);
    return 0;
}

static ht_filter filter_of(const char *key, const char *value, const char *key2,
                           const char *value2) {
    ht_filter f = ht_filter_all();
    ht_error err = {0};
    if ((key && ht_filter_set(&f, key, value, 1800000000, &err) != HT_OK) ||
        (key2 && ht_filter_set(&f, key2, value2, 1800000000, &err) != HT_OK)) {
        fail_msg("%s", err.msg);
    }
    return f;
}

/* Two grids alike: count, scale, top, and the density over the district
 * to 1e-6 of the top (the grids per class keep floats: 6e-8 of a node). */
static void assert_same_grid(const ht_heat *a, const ht_heat *b) {
    assert_int_equal(ht_heat_count(a), ht_heat_count(b));
    double top = ht_heat_max(b);
    assert_true(fabs(ht_heat_max(a) - top) <= 1e-6 * top);
    assert_true(ht_heat_auto_scale(a) == ht_heat_auto_scale(b));
    ht_bbox d = ht_index_bbox(over ? over : ix);
    for (int j = 0; j <= 60; j++) {
        for (int i = 0; i <= 60; i++) {
            double x = d.minx + (d.maxx - d.minx) * i / 60.0;
            double y = d.miny + (d.maxy - d.miny) * j / 60.0;
            assert_true(fabs(ht_heat_sample(a, x, y) -
                             ht_heat_sample(b, x, y)) <= 1e-6 * top);
        }
    }
}

/* The grid of @f on @at summed and built: alike. */
static void check_filter(const ht_heat_atlas *a, const ht_index *at,
                         const ht_filter *f) {
    ht_index_filter *q;
    assert_int_equal(ht_index_filter_new(at, f, &q, NULL), HT_OK);
    assert_true(ht_heat_atlas_serves(a, at, q, &opts));
    ht_heat *summed, *built;
    ht_error err = {0};
    assert_int_equal(ht_heat_from_atlas(a, at, q, &opts, &summed, &err), HT_OK);
    assert_int_equal(ht_heat_build(at, q, &opts, &built, NULL), HT_OK);
    assert_same_grid(summed, built);
    ht_heat_free(summed);
    ht_heat_free(built);
    ht_index_filter_free(q);
}

static void test_atlas_sums_equal_builds(void **state) {
    (void)state;
    ht_filter all = ht_filter_all();
    check_filter(atlas, ix, &all);
    ht_filter f = filter_of("severity", "3", NULL, NULL);
    check_filter(atlas, ix, &f);
    f = filter_of("severity", "1,3", NULL, NULL);
    check_filter(atlas, ix, &f);
    f = filter_of("category", "01", NULL, NULL);
    check_filter(atlas, ix, &f);
    f = filter_of("category", "01,03", "severity", "2");
    check_filter(atlas, ix, &f);
    /* A major and its own minor: the major's class still. */
    f = filter_of("category", "01,0101", NULL, NULL);
    check_filter(atlas, ix, &f);
    /* Every state, source and verdict named: no restriction. */
    f = filter_of("status", "reported,dispatched,handling,closed,evaluated",
                  "source", "hotline,patrol,app,whistle,other");
    check_filter(atlas, ix, &f);
    /* Not much of the district is counted twice: the sum of the classes of
     * each severity is the whole. */
    ht_index_filter *q;
    size_t total = 0;
    for (int s = 1; s <= 3; s++) {
        char v[4];
        snprintf(v, sizeof v, "%d", s);
        ht_filter fs = filter_of("severity", v, NULL, NULL);
        fs.severity = 1u << s;
        assert_int_equal(ht_index_filter_new(ix, &fs, &q, NULL), HT_OK);
        ht_heat *h;
        assert_int_equal(ht_heat_from_atlas(atlas, ix, q, &opts, &h, NULL),
                         HT_OK);
        total += ht_heat_count(h);
        ht_heat_free(h);
        ht_index_filter_free(q);
    }
    assert_int_equal(total, ht_index_count(ix));
}

/* The grid of @f on @at from the classes around it, less the rest: built
 * alike; or, when the rest is the larger, refused (HT_ENOTFOUND): false. */
static bool check_residue(const ht_heat_atlas *a, const ht_index *at,
                          const ht_filter *f) {
    ht_index_filter *q;
    assert_int_equal(ht_index_filter_new(at, f, &q, NULL), HT_OK);
    assert_false(ht_heat_atlas_serves(a, at, q, &opts));
    ht_heat *summed = (ht_heat *)1, *built;
    ht_error err = {0};
    ht_status st = ht_heat_from_atlas(a, at, q, &opts, &summed, &err);
    if (st == HT_OK) {
        assert_int_equal(ht_heat_build(at, q, &opts, &built, NULL), HT_OK);
        assert_same_grid(summed, built);
        ht_heat_free(summed);
        ht_heat_free(built);
    } else {
        assert_int_equal(st, HT_ENOTFOUND);
        assert_null(summed);
        assert_contains(err.msg, "more that it does not pass");
    }
    ht_index_filter_free(q);
    return st == HT_OK;
}

/* Filters beyond severity and whole classes: the classes around them
 * less what they do not pass, when that is the smaller part: the grid a
 * build gives; refused otherwise. */
static void test_atlas_residue_equal_builds(void **state) {
    (void)state;
    ht_filter served[] = {
        filter_of("status", "closed", NULL, NULL),
        filter_of("status", "closed", "category", "01"),
        filter_of("source", "hotline,patrol,app,other", NULL, NULL),
        filter_of("satisfaction", "satisfied,basic,none", "severity", "2"),
        filter_of("status", "dispatched,handling,closed,evaluated", "severity",
                  "1,3"),
        /* (most of the demo's year: the classes, less its first weeks) */
        filter_of("from", "2026-01-01", NULL, NULL),
    };
    for (size_t k = 0; k < sizeof served / sizeof *served; k++) {
        if (!check_residue(atlas, ix, &served[k])) {
            fail_msg("filter %zu refused", k);
        }
    }
    ht_filter refused[] = {
        filter_of("category", "0101", NULL, NULL),
        filter_of("status", "open", NULL, NULL),
        filter_of("source", "whistle", NULL, NULL),
        filter_of("grid", "110101001", NULL, NULL),
        filter_of("overdue", "1", NULL, NULL),
        filter_of("satisfaction", "unsatisfied", NULL, NULL),
        filter_of("severity", "3", "category", "0101"),
    };
    for (size_t k = 0; k < sizeof refused / sizeof *refused; k++) {
        if (check_residue(atlas, ix, &refused[k])) {
            fail_msg("filter %zu served", k);
        }
    }
}

/* Times, other options, a weight: refused with HT_ENOTFOUND, nothing
 * made. */
static void test_atlas_refuses_what_it_does_not_hold(void **state) {
    (void)state;
    ht_filter fs[] = {
        filter_of("window", "30d", NULL, NULL),
        filter_of("window", "30d", "status", "closed"),
    };
    for (size_t k = 0; k < sizeof fs / sizeof *fs; k++) {
        ht_index_filter *q;
        assert_int_equal(ht_index_filter_new(ix, &fs[k], &q, NULL), HT_OK);
        assert_false(ht_heat_atlas_serves(atlas, ix, q, &opts));
        ht_heat *h = (ht_heat *)1;
        ht_error err = {0};
        assert_int_equal(ht_heat_from_atlas(atlas, ix, q, &opts, &h, &err),
                         HT_ENOTFOUND);
        assert_null(h);
        ht_index_filter_free(q);
    }
    ht_heat_opts other[] = {{.radius_m = 200},
                            {.radius_m = 150, .kernel = HT_KERNEL_GAUSSIAN}};
    for (size_t k = 0; k < 2; k++) {
        ht_heat *h;
        assert_false(ht_heat_atlas_serves(atlas, ix, NULL, &other[k]));
        assert_int_equal(
            ht_heat_from_atlas(atlas, ix, NULL, &other[k], &h, NULL),
            HT_ENOTFOUND);
    }
    ht_heat_atlas *w;
    ht_heat_opts weighted = {.radius_m = 150, .weight = weight_one};
    ht_error err = {0};
    assert_int_equal(ht_heat_atlas_build(ix, &weighted, 1u << 30, &w, &err),
                     HT_EINVAL);
    assert_null(w);
    /* A new load: another base. */
    ht_index *again;
    assert_int_equal(ht_index_load(demo->fx->s, &again, NULL), HT_OK);
    assert_true(ht_index_base_serial(again) != ht_index_base_serial(ix));
    assert_true(ht_heat_atlas_base(atlas) == ht_index_base_serial(ix));
    assert_false(ht_heat_atlas_serves(atlas, again, NULL, &opts));
    ht_index_unref(again);
}

/* A budget: grids that would take more are not built, and say so. */
static void test_atlas_keeps_to_its_budget(void **state) {
    (void)state;
    size_t bytes = ht_heat_atlas_bytes(atlas);
    assert_true(bytes > 0);
    ht_heat_atlas *a = (ht_heat_atlas *)1;
    ht_error err = {0};
    assert_int_equal(ht_heat_atlas_build(ix, &opts, bytes - 1, &a, &err),
                     HT_ENOMEM);
    assert_null(a);
    assert_contains(err.msg, "density grids per class");
    assert_int_equal(ht_heat_atlas_build(ix, &opts, bytes, &a, &err), HT_OK);
    ht_heat_atlas_unref(a);
}

/* Built in one part and in three: the same grids. */
static void test_atlas_threads_build_the_same(void **state) {
    (void)state;
    ht_heat_atlas *one, *three;
    ht__heat_atlas_set_parts(1);
    assert_int_equal(ht_heat_atlas_build(ix, &opts, 1u << 30, &one, NULL),
                     HT_OK);
    ht__heat_atlas_set_parts(3);
    assert_int_equal(ht_heat_atlas_build(ix, &opts, 1u << 30, &three, NULL),
                     HT_OK);
    ht__heat_atlas_set_parts(0);
    ht_heat *a, *b;
    assert_int_equal(ht_heat_from_atlas(one, ix, NULL, &opts, &a, NULL), HT_OK);
    assert_int_equal(ht_heat_from_atlas(three, ix, NULL, &opts, &b, NULL),
                     HT_OK);
    assert_same_grid(a, b);
    ht_heat_free(a);
    ht_heat_free(b);
    ht_heat_atlas_unref(one);
    ht_heat_atlas_unref(three);
}

/* A renderer summing from shared atlases draws the tiles one building
 * every grid draws, for filters they serve and for others; the atlas it
 * waited for is the one asked for. */
static void test_atlas_renderer_draws_the_same(void **state) {
    (void)state;
    ht_heat_atlases *set;
    assert_int_equal(ht_heat_atlases_new(0, 1u << 30, &set, NULL), HT_OK);
    ht_renderer *plain, *summing;
    assert_int_equal(ht_renderer_new(demo->fx->s, demo->feat, &plain, NULL),
                     HT_OK);
    assert_int_equal(ht_renderer_new(demo->fx->s, demo->feat, &summing, NULL),
                     HT_OK);
    ht_renderer_set_index(plain, ix);
    ht_renderer_set_index(summing, ix);
    ht_renderer_set_atlases(summing, set);
    ht_style *st;
    ht_error err = {0};
    if (ht_style_load("heat", &st, &err) != HT_OK) {
        fail_msg("%s", err.msg);
    }
    ht_filter fs[] = {ht_filter_all(), filter_of("category", "01", NULL, NULL),
                      filter_of("severity", "3", NULL, NULL),
                      filter_of("window", "30d", NULL, NULL)};
    uint32_t *a = malloc(256 * 256 * 4), *b = malloc(256 * 256 * 4);
    for (size_t k = 0; k < sizeof fs / sizeof *fs; k++) {
        ts_demo_tile(demo, plain, st, &fs[k], a);
        ts_demo_tile(demo, summing, st, &fs[k], b);
        size_t differ = 0, lit = 0;
        for (size_t i = 0; i < 256 * 256; i++) {
            differ += a[i] != b[i];
            lit += a[i] != 0;
        }
        assert_true(lit > 1000 || k == 3);
        /* Only where a sum's last bits tip a colour step. */
        assert_true(differ <= 256 * 256 / 1000);
    }
    /* The whole waited for: the atlas is there, of this base. */
    ht_heat_opts o;
    assert_int_equal(ht_render_heat_opts(ht_style_layer_at(st, 0), &o, NULL),
                     HT_OK);
    ht_heat_atlas *got = ht_heat_atlases_get(set, ix, &o, true);
    assert_non_null(got);
    assert_true(ht_heat_atlas_base(got) == ht_index_base_serial(ix));
    ht_heat_atlas_unref(got);
    /* Another radius: started, not waited for, then there. */
    ht_heat_opts wide = {.radius_m = 400};
    ht_heat_atlases_prepare(set, ix, &wide);
    got = ht_heat_atlases_get(set, ix, &wide, true);
    assert_non_null(got);
    ht_heat_atlas_unref(got);
    /* Closed (a server stopping): no more builds, the built ones stay. */
    ht_heat_atlases_wait(set);
    ht_heat_opts other = {.radius_m = 250};
    ht_heat_atlases_prepare(set, ix, &other);
    assert_null(ht_heat_atlases_get(set, ix, &other, true));
    got = ht_heat_atlases_get(set, ix, &o, true);
    assert_non_null(got);
    ht_heat_atlas_unref(got);
    /* Small indexes are left to builds. */
    ht_heat_atlases *none;
    assert_int_equal(
        ht_heat_atlases_new(ht_index_count(ix) + 1, 1u << 30, &none, NULL),
        HT_OK);
    assert_null(ht_heat_atlases_get(none, ix, &o, true));
    ht_heat_atlases_free(none);
    free(a);
    free(b);
    ht_style_unref(st);
    ht_renderer_free(plain);
    ht_renderer_free(summing);
    ht_heat_atlases_free(set);
}

/* Saved and read back: the same sums; a file of another snapshot, radius
 * or kind, truncated or absent, refused with its reason. */
static void test_atlas_saved_and_read(void **state) {
    (void)state;
    char *path = ts_path(demo->fx->dir, "hutong.db.index.heat-150-quartic");
    ht_error err = {0};
    assert_int_equal(ht_heat_atlas_save(atlas, ix, path, 7, 42, &err), HT_OK);
    ht_heat_atlas *back;
    assert_int_equal(ht_heat_atlas_read(path, ix, &opts, 7, 42, &back, &err),
                     HT_OK);
    assert_int_equal(ht_heat_atlas_bytes(back), ht_heat_atlas_bytes(atlas));
    ht_filter fs[] = {ht_filter_all(), filter_of("category", "01", NULL, NULL)};
    for (size_t k = 0; k < 2; k++) {
        ht_index_filter *q;
        assert_int_equal(ht_index_filter_new(ix, &fs[k], &q, NULL), HT_OK);
        ht_heat *a, *b;
        assert_int_equal(ht_heat_from_atlas(atlas, ix, q, &opts, &a, NULL),
                         HT_OK);
        assert_int_equal(ht_heat_from_atlas(back, ix, q, &opts, &b, NULL),
                         HT_OK);
        assert_same_grid(a, b);
        ht_heat_free(a);
        ht_heat_free(b);
        ht_index_filter_free(q);
    }
    ht_heat_atlas_unref(back);
    /* The classes keep their rows' spans, not whole rectangles. */
    size_t nodes = atlas->geo->nx * atlas->geo->ny, whole = 0, kept = 0;
    for (size_t c = 0; c < SEVERITIES * atlas->nclass; c++) {
        if (atlas->v[c]) {
            whole += nodes;
            kept += atlas->v[c]->nv;
        }
    }
    assert_true(kept > 0 && kept < whole * 3 / 4);
    /* A class's span past the nodes, or longer than its values: damaged
     * (the first class's first row 128 bytes in: after the magic, the
     * head's 80 bytes and the class's severity, code, count and
     * values). */
    char *sbytes = ts_read(path);
    FILE *sf = fopen(path, "rb");
    assert_non_null(sf);
    fseek(sf, 0, SEEK_END);
    size_t slen = (size_t)ftell(sf);
    fclose(sf);
    char *spath = ts_path(demo->fx->dir, "spans.heat");
    for (int bad = 0; bad < 2; bad++) {
        uint32_t row[2];
        memcpy(row, sbytes + 128, sizeof row);
        uint32_t changed[2] = {bad ? row[0] : (uint32_t)atlas->geo->nx + 1,
                               bad ? row[1] + 1 : row[1]};
        sf = fopen(spath, "wb");
        assert_non_null(sf);
        assert_int_equal(fwrite(sbytes, 1, 128, sf), 128);
        assert_int_equal(fwrite(changed, 1, sizeof changed, sf),
                         sizeof changed);
        assert_int_equal(fwrite(sbytes + 136, 1, slen - 136, sf), slen - 136);
        fclose(sf);
        ht_heat_atlas *bad_a = (ht_heat_atlas *)1;
        assert_int_equal(
            ht_heat_atlas_read(spath, ix, &opts, 7, 42, &bad_a, &err),
            HT_ENOTFOUND);
        assert_null(bad_a);
        assert_contains(err.msg, "damaged");
    }
    free(spath);
    free(sbytes);
    ht_heat_atlas *none = (ht_heat_atlas *)1;
    assert_int_equal(ht_heat_atlas_read(path, ix, &opts, 7, 43, &none, &err),
                     HT_ENOTFOUND);
    assert_null(none);
    assert_contains(err.msg, "another snapshot");
    ht_heat_opts wide = {.radius_m = 400};
    assert_int_equal(ht_heat_atlas_read(path, ix, &wide, 7, 42, &none, &err),
                     HT_ENOTFOUND);
    assert_contains(err.msg, "another radius");
    /* Cut in the middle of a grid. */
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    assert_int_equal(truncate(path, size / 2), 0);
    assert_int_equal(ht_heat_atlas_read(path, ix, &opts, 7, 42, &none, &err),
                     HT_ENOTFOUND);
    assert_contains(err.msg, "truncated");
    ts_write(path,
             "not a grid at all, but long enough to read a head from it "
             "and then some more words to be sure of it");
    assert_int_equal(ht_heat_atlas_read(path, ix, &opts, 7, 42, &none, &err),
                     HT_ENOTFOUND);
    assert_contains(err.msg, "not density grids");
    unlink(path);
    assert_int_equal(ht_heat_atlas_read(path, ix, &opts, 7, 42, &none, &err),
                     HT_ENOTFOUND);
    assert_null(none);
    free(path);
}

/* Incidents added, moved to another severity and class, and deleted since
 * the base: the sums plus the changes equal a build of the new snapshot;
 * one beyond the extent widens the grid, which the sums refuse. */
static void test_atlas_follows_the_changes(void **state) {
    (void)state;
    const char *head = "id,lon,lat,category,severity,reported_at\n";
    char buf[4096];
    snprintf(buf, sizeof buf,
             "%sa0,116.40,39.93,0101,2,2026-11-01\n"
             "a1,116.401,39.93,0301,3,2026-11-01\n"
             "a2,116.402,39.93,0101,2,2026-11-01\n",
             head);
    ts_store_import(demo->fx, "a.csv", buf);
    ht_index *v1;
    assert_int_equal(ht_index_load(demo->fx->s, &v1, NULL), HT_OK);
    ht_heat_atlas *a;
    assert_int_equal(ht_heat_atlas_build(v1, &opts, 1u << 30, &a, NULL), HT_OK);
    /* a0 moved and made severity 1 of class 03, a1 made class 01; 30 new
     * in one place; a2 deleted. */
    snprintf(buf, sizeof buf,
             "%sa0,116.42,39.90,0301,1,2026-11-01\n"
             "a1,116.421,39.90,0102,3,2026-11-01\n",
             head);
    for (int k = 0; k < 30; k++) {
        size_t used = strlen(buf);
        snprintf(buf + used, sizeof buf - used,
                 "b%d,%.5f,39.915,%s,%d,2026-11-01\n", k, 116.41 + k * 0.00002,
                 k % 2 ? "0101" : "0302", 1 + k % 3);
    }
    ts_store_import(demo->fx, "b.csv", buf);
    int64_t ids[33];
    char ext[16];
    for (int k = 0; k < 3; k++) {
        snprintf(ext, sizeof ext, "a%d", k);
        ids[k] = ts_incident_id(demo->fx->db, ext);
    }
    for (int k = 0; k < 30; k++) {
        snprintf(ext, sizeof ext, "b%d", k);
        ids[3 + k] = ts_incident_id(demo->fx->db, ext);
    }
    char sql[128];
    snprintf(sql, sizeof sql, "DELETE FROM incidents WHERE id = %lld",
             (long long)ids[2]);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(demo->fx->db, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_changes(db), 1);
    sqlite3_close(db);
    ht_index *v2;
    ht_error err = {0};
    assert_int_equal(ht_index_apply(v1, demo->fx->s, ids, 33, &v2, &err),
                     HT_OK);
    assert_true(ht_index_base_serial(v2) == ht_index_base_serial(v1));
    assert_int_equal(ht_index_count(v2), ht_index_count(v1) + 29);
    const char *fs[][4] = {{NULL, NULL, NULL, NULL},
                           {"severity", "1", NULL, NULL},
                           {"severity", "3", "category", "01"},
                           {"category", "03", NULL, NULL}};
    for (size_t k = 0; k < 4; k++) {
        ht_filter f = filter_of(fs[k][0], fs[k][1], fs[k][2], fs[k][3]);
        check_filter(a, v2, &f);
    }
    /* And from the classes around a filter, less the rest. */
    ht_filter closed = filter_of("status", "closed", NULL, NULL);
    assert_true(check_residue(a, v2, &closed));
    closed = filter_of("status", "closed", "category", "01");
    assert_true(check_residue(a, v2, &closed));
    /* Carried past the changes, saved beside a snapshot that folds them
     * in, and read with it: a new base, the same sums as its builds. */
    ht_heat_atlas *adv;
    assert_int_equal(ht_heat_atlas_advance(a, v2, &adv, &err), HT_OK);
    char *ipath = ts_path(demo->fx->dir, "folded.index");
    char *apath = ts_path(demo->fx->dir, "folded.index.heat-150-quartic");
    assert_int_equal(ht_index_save(v2, ipath, 5, &err), HT_OK);
    assert_int_equal(ht_heat_atlas_save(adv, v2, apath, 0, 5, &err), HT_OK);
    ht_heat_atlas_unref(adv);
    ht_index *folded;
    assert_int_equal(ht_index_read(ipath, 5, &folded, &err), HT_OK);
    assert_true(ht_index_base_serial(folded) != ht_index_base_serial(v2));
    assert_int_equal(ht_heat_atlas_read(apath, folded, &opts, 0, 5, &adv, &err),
                     HT_OK);
    for (size_t k = 0; k < 4; k++) {
        ht_filter f = filter_of(fs[k][0], fs[k][1], fs[k][2], fs[k][3]);
        check_filter(adv, folded, &f);
    }
    /* The first atlas does not fit the folded base. */
    ht_heat_atlas *misfit;
    assert_int_equal(ht_heat_atlas_advance(a, folded, &misfit, &err),
                     HT_EINVAL);
    assert_null(misfit);
    ht_heat_atlas_unref(adv);
    ht_index_unref(folded);
    free(ipath);
    free(apath);
    /* One far beyond the data. */
    snprintf(buf, sizeof buf, "%sfar,117.5,40.5,0101,2,2026-11-01\n", head);
    ts_store_import(demo->fx, "far.csv", buf);
    int64_t far = ts_incident_id(demo->fx->db, "far");
    ht_index *v3;
    assert_int_equal(ht_index_apply(v2, demo->fx->s, &far, 1, &v3, &err),
                     HT_OK);
    ht_heat *h = (ht_heat *)1;
    assert_int_equal(ht_heat_from_atlas(a, v3, NULL, &opts, &h, &err),
                     HT_ENOTFOUND);
    assert_null(h);
    assert_contains(err.msg, "moved the grid");
    assert_int_equal(ht_heat_atlas_advance(a, v3, &adv, &err), HT_ENOTFOUND);
    assert_null(adv);
    ht_index_unref(v3);
    ht_index_unref(v2);
    ht_index_unref(v1);
    ht_heat_atlas_unref(a);
}

/* A window [@from, @to) of report times. */
static ht_filter window_of(int64_t from, int64_t to) {
    ht_filter f = ht_filter_all();
    f.from = from;
    f.to = to;
    return f;
}

/* An atlas of @at with slices of @span seconds (0: by @max_bytes, of
 * @rows rows at the fewest). */
static ht_heat_atlas *sliced(const ht_index *at, int64_t span, size_t max_bytes,
                             size_t rows) {
    ht_heat_atlas *a;
    ht_error err = {0};
    assert_int_equal(ht_heat_atlas_build(at, &opts, 1u << 30, &a, &err), HT_OK);
    ht__heat_atlas_set_slice_span(span, rows);
    ht_status st = ht_heat_atlas_add_slices(a, at, max_bytes, &err);
    ht__heat_atlas_set_slice_span(0, 0);
    if (st != HT_OK) {
        fail_msg("%s", err.msg);
    }
    return a;
}

/* Windows over @at's times: whole slices, cut ones (mostly out: their
 * rows in added; mostly in: the slice added and its rows out taken out),
 * within one slice, an hour, a second, before and after the data, from
 * the start, to the end, none. */
static void check_windows(const ht_heat_atlas *a, const ht_index *at) {
    const heat_slices *sl = ht__heat_atlas_slices(a);
    assert_non_null(sl);
    int64_t first, last, span = sl->span;
    assert_true(ht_index_time_range(at, &first, &last));
    int64_t mid = first + (last - first) / 2, s0 = (mid / span) * span;
    ht_filter fs[] = {
        window_of(s0, s0 + 3 * span),                /* whole slices */
        window_of(s0 - span / 3, s0 + 2 * span + 7), /* cut at both ends */
        window_of(s0 + 60, s0 + span - 60),          /* within one */
        window_of(s0 + span / 4, s0 + 2 * span + span * 3 / 4), /* mostly */
        window_of(mid, mid + 3600),
        window_of(mid, mid + 1),
        window_of(first - 86400 * 30, first + span / 2),
        window_of(INT64_MIN, mid),
        window_of(mid, INT64_MAX),
        window_of(last + 1, last + 86400),
        window_of(first - 86400, first),
        window_of(last - 30 * 86400, last + 1), /* the wall's month */
    };
    for (size_t k = 0; k < sizeof fs / sizeof *fs; k++) {
        check_filter(a, at, &fs[k]);
    }
}

/* Grids per span of time: a window's sum equals its build, with slices
 * of a day, of a week, and of the budget's span (whole hours, within it,
 * of a least number of rows); in one part and in three. */
static void test_slices_sum_equal_builds(void **state) {
    (void)state;
    int64_t spans[] = {86400, 7 * 86400};
    for (size_t k = 0; k < 2; k++) {
        ht_heat_atlas *a = sliced(ix, spans[k], 1u << 30, 0);
        assert_int_equal(ht__heat_atlas_slices(a)->span, spans[k]);
        check_windows(a, ix);
        ht_heat_atlas_unref(a);
    }
    const ht_heat *g = atlas->geo;
    size_t per = g->nx * g->ny * sizeof(float), budget = 40 * per;
    /* Spans of HT_HEAT_SLICE_ROWS at the shortest: two or three here. */
    ht_heat_atlas *a = sliced(ix, 0, budget, 0);
    assert_true(ht__heat_atlas_slices(a)->n <= 3);
    check_windows(a, ix);
    ht_heat_atlas_unref(a);
    ht__heat_atlas_set_parts(3);
    a = sliced(ix, 0, budget, 100);
    ht__heat_atlas_set_parts(0);
    const heat_slices *sl = ht__heat_atlas_slices(a);
    assert_int_equal(sl->span % 3600, 0);
    assert_true(sl->n <= 40 && sl->n >= 20);
    assert_true(sl->bytes <= budget);
    assert_int_equal(ht_heat_atlas_bytes(a),
                     ht_heat_atlas_bytes(atlas) + sl->bytes);
    size_t rows = 0;
    for (size_t k = 0; k < sl->n; k++) {
        rows += sl->count[k];
    }
    assert_int_equal(rows, ht_index_count(ix));
    check_windows(a, ix);
    /* The classes still, and a window with a class is built. */
    ht_filter f = filter_of("severity", "3", NULL, NULL);
    check_filter(a, ix, &f);
    f = filter_of("window", "30d", "category", "01");
    ht_index_filter *q;
    assert_int_equal(ht_index_filter_new(ix, &f, &q, NULL), HT_OK);
    assert_false(ht_heat_atlas_serves(a, ix, q, &opts));
    ht_index_filter_free(q);
    ht_heat_atlas_unref(a);
}

/* Slices over a budget of less than two grids are refused, and so is
 * adding them twice or to another base; the atlas serves classes still. */
static void test_slices_budget_and_misuse(void **state) {
    (void)state;
    ht_heat_atlas *a;
    assert_int_equal(ht_heat_atlas_build(ix, &opts, 1u << 30, &a, NULL), HT_OK);
    const ht_heat *g = a->geo;
    size_t per = g->nx * g->ny * sizeof(float);
    ht_error err = {0};
    assert_int_equal(ht_heat_atlas_add_slices(a, ix, 2 * per - 1, &err),
                     HT_ENOMEM);
    assert_contains(err.msg, "per span of time");
    assert_null(ht__heat_atlas_slices(a));
    ht_filter f = window_of(0, 1800000000);
    ht_index_filter *q;
    assert_int_equal(ht_index_filter_new(ix, &f, &q, NULL), HT_OK);
    assert_false(ht_heat_atlas_serves(a, ix, q, &opts));
    assert_int_equal(ht_heat_atlas_add_slices(a, ix, 1u << 30, &err), HT_OK);
    assert_true(ht_heat_atlas_serves(a, ix, q, &opts));
    assert_int_equal(ht_heat_atlas_add_slices(a, ix, 1u << 30, &err),
                     HT_EINVAL);
    assert_contains(err.msg, "already");
    ht_index_filter_free(q);
    ht_index *again;
    assert_int_equal(ht_index_load(demo->fx->s, &again, NULL), HT_OK);
    ht_heat_atlas *b;
    assert_int_equal(ht_heat_atlas_build(ix, &opts, 1u << 30, &b, NULL), HT_OK);
    assert_int_equal(ht_heat_atlas_add_slices(b, again, 1u << 30, &err),
                     HT_EINVAL);
    assert_contains(err.msg, "another base");
    ht_index_unref(again);
    ht_heat_atlas_unref(b);
    ht_heat_atlas_unref(a);
}

/* The grids' file @path cut by its last 100 bytes: refused as truncated
 * when read for @at of data version @version. */
static void assert_truncated(const char *path, const ht_index *at,
                             int64_t version) {
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fclose(fp);
    assert_int_equal(truncate(path, size - 100), 0);
    ht_heat_atlas *a = (ht_heat_atlas *)1;
    ht_error err = {0};
    assert_int_equal(ht_heat_atlas_read(path, at, &opts, 0, version, &a, &err),
                     HT_ENOTFOUND);
    assert_null(a);
    assert_contains(err.msg, "truncated");
}

/* Incidents added before and after the slices' times, moved in time and
 * deleted: windows sum as builds on the new snapshot; carried past the
 * changes (more slices), saved, read, and refused when cut in them. */
static void test_slices_follow_the_changes(void **state) {
    (void)state;
    ts_demo *d = ts_demo_new(3000);
    ht_index *v1;
    assert_int_equal(ht_index_load(d->fx->s, &v1, NULL), HT_OK);
    int64_t first, last;
    assert_true(ht_index_time_range(v1, &first, &last));
    /* Slices of a week: the year the newest is moved makes 52 more. */
    ht_heat_atlas *a = sliced(v1, 7 * 86400, 1u << 30, 0);
    const char *head = "id,lon,lat,category,severity,reported_at\n";
    char buf[4096], early[32], late[32];
    ht_datetime_format(first - 40 * 86400, early, sizeof early);
    ht_datetime_format(last + 10 * 86400 + 5, late, sizeof late);
    snprintf(buf, sizeof buf,
             "%sc0,116.40,39.93,0101,2,%s\n"
             "c1,116.401,39.93,0301,3,%s\n"
             "c2,116.402,39.931,0101,1,%s\n",
             head, early, late, late);
    ts_store_import(d->fx, "c.csv", buf);
    int64_t ids[4];
    for (int k = 0; k < 3; k++) {
        char ext[8];
        snprintf(ext, sizeof ext, "c%d", k);
        ids[k] = ts_incident_id(d->fx->db, ext);
    }
    /* The newest of the demo moved a year on, then deleted c2. */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(d->fx->db, &db), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT id FROM incidents WHERE "
                                        "reported_at <= ? ORDER BY "
                                        "reported_at DESC LIMIT 1",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(st, 1, last);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    ids[3] = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    char sql[160];
    snprintf(sql, sizeof sql,
             "UPDATE incidents SET reported_at = reported_at + 365 * 86400 "
             "WHERE id = %lld",
             (long long)ids[3]);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    snprintf(sql, sizeof sql, "DELETE FROM incidents WHERE id = %lld",
             (long long)ids[2]);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    ht_index *v2;
    ht_error err = {0};
    assert_int_equal(ht_index_apply(v1, d->fx->s, ids, 4, &v2, &err), HT_OK);
    assert_true(ht_index_base_serial(v2) == ht_index_base_serial(v1));
    over = v2;
    check_windows(a, v2);
    ht_filter f = window_of(first - 41 * 86400, first - 39 * 86400);
    check_filter(a, v2, &f);
    f = window_of(last + 300 * 86400, INT64_MAX);
    check_filter(a, v2, &f);
    ht_heat_atlas *adv;
    assert_int_equal(ht_heat_atlas_advance(a, v2, &adv, &err), HT_OK);
    const heat_slices *sl = ht__heat_atlas_slices(adv);
    assert_non_null(sl);
    assert_true(sl->n > ht__heat_atlas_slices(a)->n + 52);
    char *ipath = ts_path(d->fx->dir, "sliced.index");
    char *apath = ts_path(d->fx->dir, "sliced.index.heat-150-quartic");
    assert_int_equal(ht_index_save(v2, ipath, 9, &err), HT_OK);
    assert_int_equal(ht_heat_atlas_save(adv, v2, apath, 0, 9, &err), HT_OK);
    ht_heat_atlas_unref(adv);
    ht_index *folded;
    assert_int_equal(ht_index_read(ipath, 9, &folded, &err), HT_OK);
    assert_int_equal(ht_heat_atlas_read(apath, folded, &opts, 0, 9, &adv, &err),
                     HT_OK);
    over = folded;
    check_windows(adv, folded);
    check_filter(adv, folded, &f);
    ht_heat_atlas_unref(adv);
    /* Cut within the slices (past the classes): truncated. */
    assert_truncated(apath, folded, 9);
    over = NULL;
    free(ipath);
    free(apath);
    ht_index_unref(folded);
    ht_index_unref(v2);
    ht_index_unref(v1);
    ht_heat_atlas_unref(a);
    ts_demo_free(d);
}

/* Grids per value of a dimension: the values of a large share have one,
 * and a filter of one of them (with others or not) sums as its build,
 * where the classes around it refuse it; carried past changes, saved and
 * read; small values, a budget of none: no grids, refused as before. */
static void test_margins_equal_builds(void **state) {
    (void)state;
    ht_heat_atlas *a;
    ht_error err = {0};
    assert_int_equal(ht_heat_atlas_build(ix, &opts, 1u << 30, &a, &err), HT_OK);
    assert_int_equal(ht_heat_atlas_add_margins(a, ix, 1u << 30, &err), HT_OK);
    assert_int_equal(ht_heat_atlas_add_margins(a, ix, 1u << 30, &err),
                     HT_EINVAL);
    const heat_margins *ms = ht__heat_atlas_margins(a);
    assert_non_null(ms);
    /* The department of the most incidents, and the shares' rule. */
    size_t ndepts, st[8] = {0}, src[8] = {0}, sat[4] = {0};
    const char *const *depts = ht_index_departments(ix, &ndepts);
    size_t *dc = calloc(ndepts + 1, sizeof *dc), top = 0;
    size_t *cc = calloc(ht_index_categories(ix) + 1, sizeof *cc);
    ht_index_base_value_counts(ix, st, src, sat, dc, cc);
    for (size_t d = 1; d < ndepts; d++) {
        top = dc[d] > dc[top] ? d : top;
    }
    size_t total = ht_index_count(ix);
    bool patrol = false, dept = false;
    char minor[16] = "";
    /* (the values' first, the most incidents first; then the
     * communities', alike) */
    size_t ncomm = 0, comm_bytes = 0;
    for (size_t k = 0; k < ms->n; k++) {
        const heat_margin *m = &ms->m[k];
        if (m->dim == MARGIN_GRID) {
            ncomm++;
            comm_bytes += (size_t)m->ni * m->nj * sizeof(float);
            assert_true(k == 0 || ms->m[k - 1].dim != MARGIN_GRID ||
                        m->count <= ms->m[k - 1].count);
            continue;
        }
        assert_int_equal(ncomm, 0);
        assert_true(m->count * 100 >= total * HT_HEAT_MARGIN_PERCENT);
        assert_true(k == 0 || m->count <= ms->m[k - 1].count);
        patrol =
            patrol || (m->dim == MARGIN_SOURCE && m->value == HT_SOURCE_PATROL);
        dept = dept || (m->dim == MARGIN_DEPARTMENT &&
                        strcmp(m->name, depts[top]) == 0);
        assert_false(m->dim == MARGIN_SOURCE &&
                     src[m->value] * 100 < total * HT_HEAT_MARGIN_PERCENT);
        if (m->dim == MARGIN_CATEGORY) {
            snprintf(minor, sizeof minor, "%.15s", m->name);
        }
    }
    assert_true(patrol && dept);
    /* every community with incidents, each within its own box, within
     * the communities' bytes */
    size_t with = 0, ng = ht_index_groups(ix, HT_GROUP_COMMUNITY) - 1;
    for (size_t g = 0; g < ng; g++) {
        char buf[16];
        if (ht_index_grid_is_community(ix, g)) {
            ht_filter f =
                filter_of("grid", ht_index_group_key(ix, HT_GROUP_GRID, g, buf),
                          NULL, NULL);
            ht_index_filter *q;
            assert_int_equal(ht_index_filter_new(ix, &f, &q, NULL), HT_OK);
            size_t no, ni;
            ht_index_count_within(ix, q, q, 1, &no, &ni);
            with += no > 0;
            ht_index_filter_free(q);
        }
    }
    assert_true(ncomm > 0);
    assert_int_equal(ncomm, with);
    assert_true(comm_bytes <= HT__HEAT_GRID_MARGINS * a->geo->nx * a->geo->ny *
                                  sizeof(float));
    assert_true(comm_bytes < a->geo->nx * a->geo->ny * sizeof(float) * 3);
    /* a minor category of the demo's (0102, H02: a tenth each), none of
     * the majors */
    assert_true(minor[0] != '\0');
    for (size_t c = 0; c < ht_index_categories(ix); c++) {
        if (cc[c] * 100 >= total * HT_HEAT_MARGIN_PERCENT &&
            ht_index_category_is_major(ix, c)) {
            for (size_t k = 0; k < ms->n; k++) {
                assert_false(
                    ms->m[k].dim == MARGIN_CATEGORY &&
                    strcmp(ms->m[k].name, ht_index_category_code(ix, c)) == 0);
            }
        }
    }
    free(dc);
    free(cc);
    char dname[80];
    snprintf(dname, sizeof dname, "%s", depts[top]);
    /* the community of the most incidents among the grids', and its
     * street office (the code's first nine digits) */
    char community[32] = "", office[32] = "";
    size_t most = 0;
    for (size_t k = 0; k < ms->n; k++) {
        if (ms->m[k].dim == MARGIN_GRID && ms->m[k].count > most) {
            most = ms->m[k].count;
            snprintf(community, sizeof community, "%.31s", ms->m[k].name);
        }
        assert_true(
            ms->m[k].dim == MARGIN_GRID ||
            (ms->m[k].ni == 0 + a->geo->nx && ms->m[k].nj == 0 + a->geo->ny));
    }
    assert_true(strlen(community) > 9);
    snprintf(office, sizeof office, "%.9s", community);
    /* (a value with the rest of it mostly: patrols not reported) */
    ht_filter fs[] = {
        filter_of("source", "patrol", NULL, NULL),
        filter_of("department", dname, NULL, NULL),
        filter_of("source", "patrol", "status",
                  "dispatched,handling,closed,evaluated"),
        filter_of("department", dname, "severity", "1,2"),
        filter_of("category", minor, NULL, NULL),
        /* two values' grids added up (their union is the filter) */
        filter_of("source", "patrol,app", NULL, NULL),
        filter_of("status", "closed", NULL, NULL),
        /* a community's own grid, a street office's communities', and
         * a community's less its open incidents */
        filter_of("grid", community, NULL, NULL),
        filter_of("grid", office, NULL, NULL),
        filter_of("grid", community, "status", "closed"),
        /* the office's communities less its open incidents */
        filter_of("grid", office, "status", "closed"),
    };
    for (size_t k = 0; k < sizeof fs / sizeof *fs; k++) {
        if (!check_residue(a, ix, &fs[k])) {
            fail_msg("filter %zu refused", k);
        }
    }
    /* Without them: the classes around leave too much. */
    assert_false(check_residue(atlas, ix, &fs[0]));
    assert_false(check_residue(atlas, ix, &fs[1]));
    assert_false(check_residue(atlas, ix, &fs[4]));
    assert_false(check_residue(atlas, ix, &fs[5]));
    assert_false(check_residue(atlas, ix, &fs[7]));
    assert_false(check_residue(atlas, ix, &fs[8]));
    assert_false(check_residue(atlas, ix, &fs[9]));
    assert_false(check_residue(atlas, ix, &fs[10]));
    /* A union of values one of which has no grid: no sum of them. */
    ht_filter part = filter_of("source", "patrol,whistle", NULL, NULL);
    assert_false(check_residue(a, ix, &part));
    ht_filter small = filter_of("source", "whistle", NULL, NULL);
    assert_false(check_residue(a, ix, &small));
    /* Changes: patrols added, moved and deleted. */
    const char *head =
        "id,lon,lat,category,severity,source,status,"
        "reported_at\n";
    char buf[4096];
    snprintf(buf, sizeof buf,
             "%sm0,116.40,39.93,0101,2,patrol,closed,2026-11-01\n"
             "m1,116.401,39.93,0301,3,patrol,reported,2026-11-01\n"
             "m2,116.402,39.93,0101,2,hotline,closed,2026-11-01\n",
             head);
    ts_store_import(demo->fx, "m.csv", buf);
    int64_t ids[3];
    for (int k = 0; k < 3; k++) {
        char ext[8];
        snprintf(ext, sizeof ext, "m%d", k);
        ids[k] = ts_incident_id(demo->fx->db, ext);
    }
    ht_index *v2;
    assert_int_equal(ht_index_apply(ix, demo->fx->s, ids, 3, &v2, &err), HT_OK);
    assert_true(ht_index_base_serial(v2) == ht_index_base_serial(ix));
    over = v2;
    for (size_t k = 0; k < sizeof fs / sizeof *fs; k++) {
        assert_true(check_residue(a, v2, &fs[k]));
    }
    ht_heat_atlas *adv;
    assert_int_equal(ht_heat_atlas_advance(a, v2, &adv, &err), HT_OK);
    char *ipath = ts_path(demo->fx->dir, "margins.index");
    char *apath = ts_path(demo->fx->dir, "margins.index.heat-150-quartic");
    assert_int_equal(ht_index_save(v2, ipath, 7, &err), HT_OK);
    assert_int_equal(ht_heat_atlas_save(adv, v2, apath, 0, 7, &err), HT_OK);
    ht_heat_atlas_unref(adv);
    ht_index *folded;
    assert_int_equal(ht_index_read(ipath, 7, &folded, &err), HT_OK);
    if (ht_heat_atlas_read(apath, folded, &opts, 0, 7, &adv, &err) != HT_OK) {
        fail_msg("%s", err.msg);
    }
    assert_int_equal(ht__heat_atlas_margins(adv)->n, ms->n);
    over = folded;
    for (size_t k = 0; k < sizeof fs / sizeof *fs; k++) {
        assert_true(check_residue(adv, folded, &fs[k]));
    }
    over = NULL;
    /* A community's box moved past the nodes: refused as damaged (its
     * name in the file, its box's first column 16 bytes before it). */
    const heat_margins *am = ht__heat_atlas_margins(adv);
    const char *code = NULL;
    for (size_t k = 0; k < am->n && !code; k++) {
        code = am->m[k].dim == MARGIN_GRID ? am->m[k].name : NULL;
    }
    assert_non_null(code);
    FILE *fp = fopen(apath, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    rewind(fp);
    char *bytes = malloc((size_t)size);
    assert_non_null(bytes);
    assert_int_equal(fread(bytes, 1, (size_t)size, fp), (size_t)size);
    fclose(fp);
    size_t len = strlen(code) + 1, at = 16;
    while (at + len <= (size_t)size && memcmp(bytes + at, code, len) != 0) {
        at++;
    }
    assert_true(at + len <= (size_t)size);
    uint32_t far = 1u << 30;
    memcpy(bytes + at - 16, &far, sizeof far);
    char *dpath = ts_path(demo->fx->dir, "damaged.heat");
    fp = fopen(dpath, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(bytes, 1, (size_t)size, fp), (size_t)size);
    fclose(fp);
    free(bytes);
    ht_heat_atlas *bad = (ht_heat_atlas *)1;
    assert_int_equal(ht_heat_atlas_read(dpath, folded, &opts, 0, 7, &bad, &err),
                     HT_ENOTFOUND);
    assert_null(bad);
    assert_contains(err.msg, "damaged");
    free(dpath);
    ht_heat_atlas_unref(adv);
    /* Cut within the margins: truncated. */
    assert_truncated(apath, folded, 7);
    ht_index_unref(folded);
    ht_index_unref(v2);
    free(ipath);
    free(apath);
    ht_heat_atlas_unref(a);
    /* A budget of none: no grids. */
    assert_int_equal(ht_heat_atlas_build(ix, &opts, 1u << 30, &a, &err), HT_OK);
    assert_int_equal(ht_heat_atlas_add_margins(a, ix, 0, &err), HT_OK);
    assert_int_equal(ht__heat_atlas_margins(a)->n, 0);
    assert_false(check_residue(a, ix, &fs[0]));
    ht_heat_atlas_unref(a);
}

/* A grid kept by its rows' spans: every node as it was (as a float), 0
 * outside them; rows of nothing, of one node, whole; added whole and by
 * blocks of rows. */
static void test_spans_keep_the_nodes(void **state) {
    (void)state;
    enum { NX = 9, NY = 6 };
    double v[NY][NX] = {{0}};
    v[1][0] = 1.5;   /* a row's first column */
    v[1][4] = -2;    /* a hole between kept as 0 */
    v[2][8] = 1e-50; /* a float's 0: not kept */
    v[3][3] = 0.25;  /* one node */
    for (int i = 0; i < NX; i++) {
        v[4][i] = i + 1; /* the whole row */
    }
    v[5][7] = 3;
    v[5][8] = 1.0 / 3; /* the last column */
    heat_spans *s = ht__heat_spans_new(&v[0][0], NX, NY);
    assert_non_null(s);
    assert_int_equal(s->nv, 5 + 1 + NX + 2);
    assert_int_equal(s->row[0][1], 0);
    assert_int_equal(s->row[2][1], 0);
    double sum[NY][NX] = {{0}}, part[2][NX];
    ht__heat_spans_add(s, NX, &sum[0][0]);
    for (int j = 0; j < NY; j++) {
        for (int i = 0; i < NX; i++) {
            float want = (float)v[j][i];
            assert_true(ht__heat_spans_at(s, (size_t)i, (size_t)j) == want);
            assert_true(sum[j][i] == want);
        }
    }
    /* rows 4 and 5 into a block of two rows */
    memset(part, 0, sizeof part);
    ht__heat_spans_add_rows(s, NX, 4, 6, &part[0][0]);
    assert_true(part[0][8] == 9 && part[1][8] == (float)(1.0 / 3) &&
                part[1][0] == 0);
    /* from a file: rows past the columns or longer than the values */
    assert_true(ht__heat_spans_check(s, NX));
    s->row[3][0] = NX;
    assert_false(ht__heat_spans_check(s, NX));
    s->row[3][0] = 3;
    s->row[3][1] = 2;
    assert_false(ht__heat_spans_check(s, NX));
    ht__heat_spans_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spans_keep_the_nodes),
        cmocka_unit_test(test_atlas_sums_equal_builds),
        cmocka_unit_test(test_atlas_residue_equal_builds),
        cmocka_unit_test(test_atlas_refuses_what_it_does_not_hold),
        cmocka_unit_test(test_atlas_keeps_to_its_budget),
        cmocka_unit_test(test_atlas_threads_build_the_same),
        cmocka_unit_test(test_atlas_renderer_draws_the_same),
        cmocka_unit_test(test_atlas_saved_and_read),
        cmocka_unit_test(test_atlas_follows_the_changes),
        cmocka_unit_test(test_slices_sum_equal_builds),
        cmocka_unit_test(test_slices_budget_and_misuse),
        cmocka_unit_test(test_slices_follow_the_changes),
        cmocka_unit_test(test_margins_equal_builds),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
