/* SPDX-License-Identifier: Apache-2.0 */
/* Tokens in a PostgreSQL database: several servers on one database share
 * them (a token made or revoked through any of them, or by hand in the
 * table, holds on every server within a second; see follow.c). The table
 * keeps hashes only, as a tokens file does; every change to it bumps
 * hutong_meta's tokens_version and notifies the servers. */
#include <string.h>

#include "store_pg.h"

const char ht__pg_schema_tokens[] =
    "CREATE TABLE hutong_tokens ("
    " name text COLLATE \"C\" PRIMARY KEY,"
    " hash text COLLATE \"C\" NOT NULL UNIQUE"
    "  CHECK (hash ~ '^[0-9a-f]{64}$'),"
    " scope text COLLATE \"C\" NOT NULL CHECK (scope ~ '^[!-~]{1,31}$'),"
    " write boolean NOT NULL,"
    " created_at timestamptz NOT NULL DEFAULT now(),"
    " CHECK (name ~ '^[!-~]{1,63}$'));"
    "INSERT INTO hutong_meta VALUES ('tokens_version', '0')"
    " ON CONFLICT (key) DO NOTHING;"
    "CREATE FUNCTION hutong_note_tokens() RETURNS trigger LANGUAGE plpgsql"
    " AS $f$ BEGIN"
    " UPDATE hutong_meta SET value = (value::bigint + 1)::text"
    "  WHERE key = 'tokens_version';"
    " PERFORM pg_notify('hutong_changes', 'tokens');"
    " RETURN NULL; END $f$;"
    "CREATE TRIGGER hutong_tokens_changed"
    " AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON hutong_tokens"
    " FOR EACH STATEMENT EXECUTE FUNCTION hutong_note_tokens();";

ht_status ht__pg_tokens_version(ht_store *s, int64_t *out, ht_error *err) {
    return ht__pg_number(s,
                         "SELECT value FROM hutong_meta WHERE key = "
                         "'tokens_version'",
                         "reading the tokens' version", out, err);
}

ht_status ht__pg_tokens_load(ht_store *s, ht_tokens **out, int64_t *version,
                             ht_error *err) {
    *out = NULL;
    /* The version first: a change in between is read again next time. */
    ht_status st = ht__pg_tokens_version(s, version, err);
    PGresult *r = NULL;
    if (st == HT_OK) {
        st = ht__pg_run(s, -1,
                        "SELECT hash, scope, write, name FROM hutong_tokens "
                        "ORDER BY name",
                        NULL, &r, "reading the tokens", err);
    }
    if (st != HT_OK) {
        return st;
    }
    ht_tokens *t = ht_tokens_new();
    if (!t) {
        st = ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    for (int i = 0; st == HT_OK && i < PQntuples(r); i++) {
        st = ht_tokens_add(t, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
                           strcmp(PQgetvalue(r, i, 2), "t") == 0,
                           PQgetvalue(r, i, 3), err);
    }
    PQclear(r);
    if (st != HT_OK) {
        ht_tokens_free(t);
        return st;
    }
    *out = t;
    return HT_OK;
}

ht_status ht__pg_token_add(ht_store *s, const char *hash, const char *scope,
                           bool write, const char *name, ht_error *err) {
    pg_params p = {0};
    ht__pg_text(&p, name);
    ht__pg_text(&p, hash);
    ht__pg_text(&p, scope);
    ht__pg_text(&p, write ? "t" : "f");
    PGresult *r = NULL;
    ht_status st = ht__pg_run(
        s, -1,
        "INSERT INTO hutong_tokens (name, hash, scope, write) VALUES ($1, $2, "
        "$3, $4::boolean) ON CONFLICT (name) DO NOTHING RETURNING name",
        &p, &r, "adding the token", err);
    if (st != HT_OK) {
        return st;
    }
    bool added = PQntuples(r) == 1;
    PQclear(r);
    return added ? HT_OK
                 : ht_error_set(err, HT_EINVAL,
                                "a token named \"%s\" exists: revoke it first "
                                "(hutong token revoke --name %s)",
                                name, name);
}

ht_status ht__pg_token_revoke(ht_store *s, const char *name, size_t *removed,
                              ht_error *err) {
    pg_params p = {0};
    ht__pg_text(&p, name);
    PGresult *r = NULL;
    ht_status st = ht__pg_run(
        s, -1, "DELETE FROM hutong_tokens WHERE name = $1 RETURNING 1", &p, &r,
        "revoking the token", err);
    if (st == HT_OK) {
        *removed = (size_t)PQntuples(r);
        PQclear(r);
    }
    return st;
}
