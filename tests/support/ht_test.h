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

#endif
