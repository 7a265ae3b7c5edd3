/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: cache. */
#include <pthread.h>

#include "hutong/cache.h"

#include "ht_test.h"

static bool has(ht_cache *c, const char *key) {
    void *d;
    size_t n;
    if (!ht_cache_get(c, key, &d, &n)) {
        return false;
    }
    free(d);
    return true;
}

static void test_cache_lru_within_budget(void **state) {
    (void)state;
    ht_cache *c;
    /* Room for about three 1000-byte values with their keys. */
    assert_int_equal(ht_cache_new(3400, &c, NULL), HT_OK);
    char v[1000];
    memset(v, 'x', sizeof v);
    ht_cache_put(c, "a", v, sizeof v);
    ht_cache_put(c, "b", v, sizeof v);
    ht_cache_put(c, "c", v, sizeof v);
    assert_true(has(c, "a")); /* a is now the most recent */
    ht_cache_put(c, "d", v, sizeof v);
    assert_false(has(c, "b")); /* the least recently used went */
    assert_true(has(c, "a") && has(c, "c") && has(c, "d"));
    ht_cache_stats s = ht_cache_get_stats(c);
    assert_int_equal(s.entries, 3);
    assert_true(s.bytes <= 3400);
    assert_int_equal(s.evictions, 1);
    /* Values come back byte for byte; a put replaces. */
    ht_cache_put(c, "a", "hello", 5);
    void *d;
    size_t n;
    assert_true(ht_cache_get(c, "a", &d, &n));
    assert_int_equal(n, 5);
    assert_memory_equal(d, "hello", 5);
    free(d);
    /* A value larger than the budget is not kept, and evicts nothing. */
    char big[5000] = {0};
    ht_cache_put(c, "big", big, sizeof big);
    assert_false(has(c, "big"));
    assert_true(has(c, "c"));
    ht_cache_free(c);
}

static void test_cache_drop_prefix(void **state) {
    (void)state;
    ht_cache *c;
    assert_int_equal(ht_cache_new(1 << 20, &c, NULL), HT_OK);
    char key[64];
    for (int k = 0; k < 10000; k++) { /* enough to grow the table */
        snprintf(key, sizeof key, "%s|%d", k % 2 ? "heat" : "default", k);
        ht_cache_put(c, key, &k, sizeof k);
    }
    assert_int_equal(ht_cache_get_stats(c).entries, 10000);
    assert_int_equal(ht_cache_drop_prefix(c, "heat|"), 5000);
    assert_false(has(c, "heat|1"));
    assert_true(has(c, "default|2"));
    void *d;
    size_t n;
    assert_true(ht_cache_get(c, "default|9998", &d, &n));
    assert_int_equal(*(int *)d, 9998);
    free(d);
    ht_cache_free(c);
}

typedef struct churn_arg {
    ht_cache *c;
    int wrong; /* values that came back other than put */
} churn_arg;

/* cmocka's asserts belong to the main thread: count, check after. */
static void *churn(void *arg) {
    churn_arg *a = arg;
    ht_cache *c = a->c;
    char key[32];
    for (int k = 0; k < 20000; k++) {
        snprintf(key, sizeof key, "k%d", k % 500);
        if (k % 3) {
            ht_cache_put(c, key, key, strlen(key) + 1);
        } else {
            void *d;
            size_t n;
            if (ht_cache_get(c, key, &d, &n)) {
                a->wrong += n != strlen(key) + 1 || strcmp(d, key) != 0;
                free(d);
            }
        }
    }
    return NULL;
}

static void test_cache_threads(void **state) {
    (void)state;
    ht_cache *c;
    /* Room for all 500 keys: every get after the first round hits. */
    assert_int_equal(ht_cache_new(60000, &c, NULL), HT_OK);
    pthread_t t[4];
    churn_arg a[4];
    for (int k = 0; k < 4; k++) {
        a[k] = (churn_arg){c, 0};
        pthread_create(&t[k], NULL, churn, &a[k]);
    }
    for (int k = 0; k < 4; k++) {
        pthread_join(t[k], NULL);
        assert_int_equal(a[k].wrong, 0);
    }
    ht_cache_stats s = ht_cache_get_stats(c);
    assert_true(s.bytes <= 60000);
    assert_true(s.hits > 4 * 5000);
    assert_int_equal(s.entries, 500);
    ht_cache_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cache_lru_within_budget),
        cmocka_unit_test(test_cache_drop_prefix),
        cmocka_unit_test(test_cache_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
