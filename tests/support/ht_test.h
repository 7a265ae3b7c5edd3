/* SPDX-License-Identifier: Apache-2.0 */
/* cmocka and the headers it needs before it, in the order it needs them. */
#ifndef HUTONG_HT_TEST_H
#define HUTONG_HT_TEST_H

/* cmocka needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

/* Assert that haystack contains needle, printing both when not. */
#define assert_contains(haystack, needle)                                  \
    do {                                                                   \
        const char *h_ = (haystack), *n_ = (needle);                       \
        if (!h_ || !strstr(h_, n_)) {                                      \
            fail_msg("\"%s\" does not contain \"%s\"", h_ ? h_ : "(null)", \
                     n_);                                                  \
        }                                                                  \
    } while (0)

/* Assert that a query's text value equals want (freeing it). */
#define assert_db_text(path, sql, want)   \
    do {                                  \
        char *t_ = ts_db_text(path, sql); \
        assert_non_null(t_);              \
        assert_string_equal(t_, want);    \
        free(t_);                         \
    } while (0)

#endif
