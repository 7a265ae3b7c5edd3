/* SPDX-License-Identifier: Apache-2.0 */
/* `hutong token create|list|revoke`: in a tokens file, or in a PostgreSQL
 * database, where every server on it shares them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hutong/store.h"
#include "hutong/token.h"

#include "cli_int.h"

/* `token list`: the tokens of the file or the database, without hashes. */
static int token_list(const char *path, const char *db) {
    ht_error err = {0};
    ht_tokens *t = NULL;
    ht_status st;
    if (db) {
        ht_store *s;
        int64_t v;
        st = ht_store_open(db, HT_STORE_READONLY, &s, &err);
        if (st == HT_OK) {
            st = ht_store_tokens_load(s, &t, &v, &err);
            ht_store_close(s);
        }
    } else {
        st = ht_tokens_load(path, &t, &err);
    }
    if (st != HT_OK) {
        return cli_fail(&err);
    }
    printf("name\tscope\trights\n");
    for (size_t k = 0; k < ht_tokens_count(t); k++) {
        ht_token_info e;
        ht_tokens_entry(t, k, &e);
        printf("%s\t%s\t%s\n", e.name, e.scope,
               e.write ? "read,write" : "read");
    }
    ht_tokens_free(t);
    return 0;
}

/* `token revoke --name N`: gone from the file or the database (servers on
 * a database drop it within a second; a server on a file reads it at
 * start). */
static int token_revoke(const char *path, const char *db, const char *name) {
    ht_error err = {0};
    size_t removed = 0;
    ht_status st;
    if (db) {
        ht_store *s;
        st = ht_store_open(db, HT_STORE_WRITE, &s, &err);
        if (st == HT_OK) {
            st = ht_store_token_revoke(s, name, &removed, &err);
            ht_store_close(s);
        }
    } else {
        st = ht_tokens_revoke(path, name, &removed, &err);
    }
    if (st != HT_OK) {
        return cli_fail(&err);
    }
    if (!removed) {
        fprintf(stderr, "hutong: no token named \"%s\" in %s\n", name,
                db ? "the database" : path);
        return EXIT_FAILURE;
    }
    fprintf(stderr, "hutong: token \"%s\" revoked%s\n", name,
            db ? " (every server on the database drops it within a second)"
               : " (restart the server that reads the file)");
    return 0;
}

int cli_cmd_token(int argc, char **argv) {
    opts o;
    int rc = cli_parse(argc, argv, 2, " name scope write tokens db ", &o);
    if (rc) {
        return rc;
    }
    const char *sub = o.npos == 1 ? o.pos[0] : "";
    if (strcmp(sub, "create") != 0 && strcmp(sub, "list") != 0 &&
        strcmp(sub, "revoke") != 0) {
        return cli_usage_error(
            "token: expected 'token create --name N', 'token list' or "
            "'token revoke --name N'");
    }
    /* On a PostgreSQL database the tokens live in it, for every server. */
    const char *in_db = ht_store_is_url(o.db) ? o.db : NULL;
    if (in_db && o.tokens) {
        return cli_usage_error(
            "token: on a PostgreSQL database the tokens live in it: no "
            "--tokens FILE");
    }
    const char *path = o.tokens ? o.tokens : "hutong.tokens";
    if (strcmp(sub, "list") == 0) {
        return token_list(path, in_db);
    }
    if (!o.name) {
        return cli_usage_error("token %s needs --name N", sub);
    }
    if (strcmp(sub, "revoke") == 0) {
        return token_revoke(path, in_db, o.name);
    }
    char token[68];
    ht_error err = {0};
    /* A scope names a grid of the database the server will read. */
    if (o.scope && strcmp(o.scope, "*") != 0) {
        if (!cli_file_exists(o.db)) {
            return cli_usage_error(
                "--scope %s: no database %s to find the grid "
                "in (give --db)",
                o.scope, o.db);
        }
        ht_store *s;
        bool exists = false;
        ht_status st = ht_store_open(o.db, HT_STORE_READONLY, &s, &err);
        if (st == HT_OK) {
            st = ht_store_grid_exists(s, o.scope, &exists, &err);
            ht_store_close(s);
        }
        if (st != HT_OK) {
            return cli_fail(&err);
        }
        if (!exists) {
            return cli_usage_error("--scope %s: no such grid in %s", o.scope,
                                   o.db);
        }
    }
    const char *scope = o.scope ? o.scope : "*";
    ht_status st;
    if (in_db) {
        char hash[65];
        ht_store *s = NULL;
        st = ht_token_make(scope, o.name, token, hash, &err);
        if (st == HT_OK) {
            st = ht_store_open(in_db, HT_STORE_WRITE, &s, &err);
        }
        if (st == HT_OK) {
            st = ht_store_token_add(s, hash, scope, o.write, o.name, &err);
        }
        ht_store_close(s);
    } else {
        st = ht_tokens_create(path, scope, o.write, o.name, token, &err);
    }
    if (st != HT_OK) {
        return cli_fail(&err);
    }
    printf("%s\n", token);
    fprintf(stderr,
            "hutong: token \"%s\" (%s, %s) added to %s; it is shown only "
            "this once\n",
            o.name, o.scope ? o.scope : "everywhere",
            o.write ? "read and write" : "read", in_db ? "the database" : path);
    return 0;
}
