/* SPDX-License-Identifier: Apache-2.0 */
/* Store internals shared with the modules that query it directly. */
#ifndef HUTONG_STORE_INT_H
#define HUTONG_STORE_INT_H

#include <sqlite3.h>

#include "hutong/store.h"

/** The store's SQLite connection (borrowed). */
sqlite3 *ht__store_db(ht_store *s);

/** Set @err from the connection's last error, prefixed with @what. */
ht_status ht__store_dberr(ht_store *s, const char *what, ht_error *err);

#endif
