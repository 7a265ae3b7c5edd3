/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: analysis. */
#include <geodesic.h>
#include <math.h>

#include "hutong/analysis.h"

#include "analysis_int.h"
#include "ht_test.h"

static bool near(double a, double b, double tol) {
    return fabs(a - b) <= tol;
}

static void test_analysis_breaks(void **state) {
    (void)state;
    const double v[] = {22, 1, 11, 2, 20, 3, 12, 21, 10};
    double b[2];
    assert_int_equal(ht_analysis_breaks(v, 9, 3, HT_CLASS_JENKS, b, NULL),
                     HT_OK);
    assert_true(b[0] == 3 && b[1] == 12);
    /* Natural breaks find the gaps even when quantiles cannot. */
    const double w[] = {1, 1.1, 1.2, 1.3, 1.4, 1.5, 9, 9.5, 30};
    assert_int_equal(ht_analysis_breaks(w, 9, 3, HT_CLASS_JENKS, b, NULL),
                     HT_OK);
    assert_true(b[0] == 1.5 && b[1] == 9.5);
    assert_int_equal(ht_analysis_breaks(w, 9, 3, HT_CLASS_QUANTILE, b, NULL),
                     HT_OK);
    assert_true(b[0] == 1.2 && b[1] == 1.5);
    assert_int_equal(ht_analysis_class_of(1.2, b, 3), 0);
    assert_int_equal(ht_analysis_class_of(1.3, b, 3), 1);
    assert_int_equal(ht_analysis_class_of(99, b, 3), 2);
    ht_error err = {0};
    assert_int_equal(ht_analysis_breaks(w, 9, 1, HT_CLASS_JENKS, b, &err),
                     HT_EINVAL);
    assert_int_equal(ht_analysis_breaks(w, 9, 13, HT_CLASS_JENKS, b, &err),
                     HT_EINVAL);
}

static void test_analysis_gistar_by_hand(void **state) {
    (void)state;
    /* Three areas in a row, 1 - 2 - 3, with 1, 2 and 6 incidents.
     * n = 3, mean = 3, S = sqrt(41/3 - 9) = 2.16025.
     * Area 3 (itself and 2): sum w x = 8, sum w = 2:
     *   z = (8 - 3 * 2) / (S * sqrt((3 * 2 - 4) / 2)) = 2 / 2.16025 = 0.9258
     * Area 2 (all three): z = (9 - 9) / ... = 0
     * Area 1 (itself and 2): z = (3 - 6) / 2.16025 = -1.3887 */
    uint32_t start[] = {0, 1, 3, 4}, nbr[] = {1, 0, 2, 1};
    ht_neighbours nb = {3, start, nbr};
    const double x[] = {1, 2, 6};
    double z[3];
    assert_int_equal(ht_analysis_gistar(x, &nb, z, NULL), HT_OK);
    assert_true(near(z[0], -1.3887, 1e-4));
    assert_true(near(z[1], 0, 1e-12));
    assert_true(near(z[2], 0.9258, 1e-4));
    assert_int_equal(ht_analysis_gistar_class(2.6), 3);
    assert_int_equal(ht_analysis_gistar_class(2.0), 2);
    assert_int_equal(ht_analysis_gistar_class(1.7), 1);
    assert_int_equal(ht_analysis_gistar_class(1.0), 0);
    assert_int_equal(ht_analysis_gistar_class(-2.0), -2);
    /* No variance: no z-scores. */
    const double flat[] = {4, 4, 4};
    assert_int_equal(ht_analysis_gistar(flat, &nb, z, NULL), HT_OK);
    assert_true(z[0] == 0 && z[2] == 0);
}

typedef struct take_out {
    const ht_features *f;
    double *counts;
    ht_street_heat *sh;
} take_out;

static void take_out_one(void *ud, double x, double y,
                         const ht_incident_view *v) {
    (void)x;
    (void)y;
    take_out *t = ud;
    ht_analysis_grid_counts_add(t->f, t->counts, v->grid_code, -1);
    ht_street_heat_add(t->sh, t->f, v->street_id, -1);
}

/* Counts and street heat kept up to date one incident at a time equal
 * those counted afresh: all, less the severity-3 ones, is severity 1-2. */
static void test_analysis_counts_kept_up_to_date(void **state) {
    (void)state;
    ts_demo *d = ts_demo_new(3000);
    ht_index *ix;
    assert_int_equal(ht_index_load(d->fx->s, &ix, NULL), HT_OK);
    ht_filter three = ht_filter_all(), low = ht_filter_all();
    assert_int_equal(ht_filter_set(&three, "severity", "3", 0, NULL), HT_OK);
    assert_int_equal(ht_filter_set(&low, "severity", "1,2", 0, NULL), HT_OK);
    ht_index_filter *q3, *ql;
    assert_int_equal(ht_index_filter_new(ix, &three, &q3, NULL), HT_OK);
    assert_int_equal(ht_index_filter_new(ix, &low, &ql, NULL), HT_OK);
    take_out t = {d->feat, NULL, NULL};
    double *want;
    ht_street_heat *sh_want;
    assert_int_equal(
        ht_analysis_grid_counts(ix, NULL, d->feat, &t.counts, NULL), HT_OK);
    assert_int_equal(ht_analysis_street_heat(ix, NULL, d->feat, &t.sh, NULL),
                     HT_OK);
    assert_int_equal(ht_analysis_grid_counts(ix, ql, d->feat, &want, NULL),
                     HT_OK);
    assert_int_equal(ht_analysis_street_heat(ix, ql, d->feat, &sh_want, NULL),
                     HT_OK);
    ht_index_visit(ix, q3, NULL, take_out_one, &t);
    assert_int_equal(ht_street_heat_rescale(t.sh, NULL), HT_OK);
    for (size_t i = 0; i < ht_features_grid_count(d->feat); i++) {
        assert_true(t.counts[i] == want[i]);
    }
    assert_int_equal(t.sh->total, sh_want->total);
    for (size_t i = 0; i < sh_want->n; i++) {
        assert_int_equal(t.sh->count[i], sh_want->count[i]);
        assert_true(t.sh->rate[i] == sh_want->rate[i]);
    }
    assert_true(t.sh->auto_scale == sh_want->auto_scale);
    assert_true(sh_want->total < 3000 && sh_want->total > 1000);
    /* Below zero is refused, not wrapped. */
    size_t empty = 0;
    while (empty < t.sh->n && t.sh->count[empty]) {
        empty++;
    }
    assert_true(empty < t.sh->n);
    ht_street_heat_add(t.sh, d->feat, ht_features_street(d->feat, empty)->id,
                       -1);
    assert_int_equal(t.sh->count[empty], 0);
    free(t.counts);
    free(want);
    ht_street_heat_free(t.sh);
    ht_street_heat_free(sh_want);
    ht_index_filter_free(q3);
    ht_index_filter_free(ql);
    ht_index_unref(ix);
    ts_demo_free(d);
}

static void test_analysis_on_the_demo(void **state) {
    (void)state;
    ts_demo *d = ts_demo_new(5000);
    ht_index *ix;
    assert_int_equal(ht_index_load(d->fx->s, &ix, NULL), HT_OK);
    /* Counts roll up: the district holds every incident, its offices add
     * up to it. */
    double *c;
    assert_int_equal(ht_analysis_grid_counts(ix, NULL, d->feat, &c, NULL),
                     HT_OK);
    const ht_fgrid *dist = ht_features_find_grid(d->feat, "110101");
    assert_true(c[ht_features_grid_index(d->feat, dist)] == 5000);
    double offices = 0, units = 0;
    uint32_t *grids = malloc(ht_features_grid_count(d->feat) * 4);
    size_t ng = 0;
    for (size_t i = 0; i < ht_features_grid_count(d->feat); i++) {
        const ht_fgrid *g = ht_features_grid(d->feat, i);
        offices += g->level == HT_LEVEL_STREET ? c[i] : 0;
        units += g->level == HT_LEVEL_GRID ? c[i] : 0;
        if (g->level == HT_LEVEL_GRID) {
            grids[ng++] = (uint32_t)i;
        }
    }
    assert_true(offices == 5000 && units == 5000);
    free(c);
    /* Unit grids on the lattice: neighbours share edges, both ways. */
    ht_neighbours nb;
    assert_int_equal(ht_analysis_neighbours(d->feat, grids, ng, 0, &nb, NULL),
                     HT_OK);
    size_t four = 0;
    for (size_t i = 0; i < ng; i++) {
        size_t k = nb.start[i + 1] - nb.start[i];
        assert_true(k >= 1 && k <= 4);
        four += k == 4;
        for (uint32_t e = nb.start[i]; e < nb.start[i + 1]; e++) {
            uint32_t j = nb.nbr[e];
            assert_int_not_equal(j, i);
            bool back = false;
            for (uint32_t r = nb.start[j]; r < nb.start[j + 1]; r++) {
                back = back || nb.nbr[r] == i;
            }
            assert_true(back);
        }
    }
    assert_true(four > ng / 2);
    ht_neighbours_free(&nb);
    /* A distance band of 200 m: about the same lattice neighbours. */
    assert_int_equal(ht_analysis_neighbours(d->feat, grids, ng, 200, &nb, NULL),
                     HT_OK);
    assert_true(nb.start[ng] > 3 * ng);
    ht_neighbours_free(&nb);
    free(grids);
    /* Street heat: counts add up; rates are per 100 m of ground length. */
    ht_street_heat *sh;
    assert_int_equal(ht_analysis_street_heat(ix, NULL, d->feat, &sh, NULL),
                     HT_OK);
    int64_t on_street = ts_db_int(d->fx->db,
                                  "SELECT count(street_id) FROM "
                                  "incidents");
    assert_int_equal(sh->total, on_street);
    struct geod_geodesic geo;
    geod_init(&geo, 6378137, 1 / 298.257223563);
    size_t checked = 0;
    for (size_t i = 0; i < sh->n && checked < 50; i++) {
        const ht_fstreet *s = ht_features_street(d->feat, i);
        if (!sh->count[i] || s->length_m < 50) {
            continue;
        }
        char sql[160];
        snprintf(sql, sizeof sql,
                 "SELECT GLength(geom, 1) FROM streets WHERE id = %lld",
                 (long long)s->id);
        double len = ts_db_double(d->fx->db, sql);
        assert_true(fabs(s->length_m - len) / len < 1e-3);
        assert_true(fabs(sh->rate[i] - sh->count[i] / (len / 100)) <
                    1e-3 * sh->rate[i]);
        checked++;
    }
    assert_true(checked > 10);
    assert_true(sh->auto_scale > 0);
    /* Counted in three threads: the same, filtered or not. */
    ht_index_filter *ql;
    ht_filter flt = ht_filter_all();
    assert_int_equal(ht_filter_set(&flt, "severity", "3", 0, NULL), HT_OK);
    assert_int_equal(ht_index_filter_new(ix, &flt, &ql, NULL), HT_OK);
    ht_street_heat *one_f;
    assert_int_equal(ht_analysis_street_heat(ix, ql, d->feat, &one_f, NULL),
                     HT_OK);
    ht__analysis_set_parts(3, 0);
    ht_street_heat *three, *three_f;
    assert_int_equal(ht_analysis_street_heat(ix, NULL, d->feat, &three, NULL),
                     HT_OK);
    assert_int_equal(ht_analysis_street_heat(ix, ql, d->feat, &three_f, NULL),
                     HT_OK);
    ht__analysis_set_parts(0, 400000);
    assert_int_equal(three->total, sh->total);
    assert_memory_equal(three->count, sh->count, sh->n * sizeof *sh->count);
    assert_true(three_f->total > 0 && three_f->total < sh->total);
    assert_int_equal(three_f->total, one_f->total);
    assert_memory_equal(three_f->count, one_f->count,
                        sh->n * sizeof *sh->count);
    assert_true(three->auto_scale == sh->auto_scale);
    ht_street_heat_free(three);
    ht_street_heat_free(three_f);
    ht_street_heat_free(one_f);
    ht_index_filter_free(ql);
    ht_street_heat_free(sh);
    ht_index_unref(ix);
    ts_demo_free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_analysis_breaks),
        cmocka_unit_test(test_analysis_gistar_by_hand),
        cmocka_unit_test(test_analysis_on_the_demo),
        cmocka_unit_test(test_analysis_counts_kept_up_to_date),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
