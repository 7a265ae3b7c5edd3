/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: hash. */
#include "hutong/hash.h"

#include "ht_test.h"

static void hex(const uint8_t h[32], char out[65]) {
    for (int i = 0; i < 32; i++) {
        snprintf(out + 2 * i, 3, "%02x", h[i]);
    }
}

static void test_hash_sha256_vectors(void **state) {
    (void)state;
    /* FIPS 180-4 examples, and the two-block padding edge. */
    const struct {
        const char *in, *out;
    } v[] = {
        {"",
         "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc",
         "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"}};
    uint8_t h[32];
    char s[65];
    for (size_t k = 0; k < 3; k++) {
        ht_sha256(v[k].in, strlen(v[k].in), h);
        hex(h, s);
        assert_string_equal(s, v[k].out);
    }
    char *a = malloc(1000000);
    memset(a, 'a', 1000000);
    ht_sha256(a, 1000000, h);
    hex(h, s);
    assert_string_equal(
        s, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(a);
}

static void test_hash_fnv1a_vectors(void **state) {
    (void)state;
    /* The FNV-1a 64 test vectors of its authors (draft-eastlake-fnv). */
    assert_true(ht_hash64(HT_HASH64_INIT, "", 0) == 0xcbf29ce484222325ULL);
    assert_true(ht_hash64_str(HT_HASH64_INIT, "a") == 0xaf63dc4c8601ec8cULL);
    assert_true(ht_hash64_str(HT_HASH64_INIT, "foobar") ==
                0x85944171f73967e8ULL);
    /* Pieces hash as the whole. */
    uint64_t h = ht_hash64_str(ht_hash64_str(HT_HASH64_INIT, "foo"), "bar");
    assert_true(h == 0x85944171f73967e8ULL);
    assert_true(ht_hash64_str(HT_HASH64_INIT, NULL) == HT_HASH64_INIT);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_sha256_vectors),
        cmocka_unit_test(test_hash_fnv1a_vectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
