/* SPDX-License-Identifier: Apache-2.0 */
/* The city-scale data set for the benchmarks: a demo store (FROM, e.g.
 * `hutong demo --incidents 1000000`) copied into OUT with COPIES - 1 more
 * copies of its incidents, each shifted COPY × SHIFT days earlier and
 * scattered by up to 35 m, so the same grids and streets hold COPIES times
 * as many incidents (the copies carry their deadlines, dispatch, arrival,
 * verdicts and departments, not their life-cycle log). Run by hand:
 *   build/bench/bench_city --from DEMO.db --copies 10 [--shift-days 3]
 *                          -o CITY.db
 * then measure OUT with bench_stats, bench_heat, bench/city.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"

/* SpatiaLite's header needs sqlite3.h before it. */
/* clang-format off */
#include <sqlite3.h>
#include <spatialite.h>
/* clang-format on */

static int exec(sqlite3 *db, const char *sql) {
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "bench_city: %s\n  in: %.200s\n", msg ? msg : "?", sql);
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    const char *from = NULL, *out = NULL;
    int copies = 10, shift_days = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--from") == 0) {
            from = argv[i + 1];
        } else if (strcmp(argv[i], "-o") == 0) {
            out = argv[i + 1];
        } else if (strcmp(argv[i], "--copies") == 0) {
            copies = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--shift-days") == 0) {
            shift_days = atoi(argv[i + 1]);
        }
    }
    if (!from || !out || copies < 1 || copies > 100 || shift_days < 0) {
        fprintf(stderr,
                "usage: bench_city --from DEMO.db --copies 1..100 "
                "[--shift-days D] -o CITY.db\n");
        return 2;
    }
    if (access(out, F_OK) == 0) {
        fprintf(stderr, "bench_city: %s exists\n", out);
        return 1;
    }
    sqlite3 *db;
    if (sqlite3_open(from, &db) != SQLITE_OK) {
        fprintf(stderr, "bench_city: cannot open %s\n", from);
        return 1;
    }
    void *cache = spatialite_alloc_connection();
    spatialite_init_ex(db, cache, 0);
    double t0 = bench_now_ms();
    char *sql = sqlite3_mprintf("VACUUM INTO %Q", out);
    int rc = exec(db, sql);
    sqlite3_free(sql);
    spatialite_cleanup_ex(cache);
    sqlite3_close(db);
    if (rc != 0 || sqlite3_open(out, &db) != SQLITE_OK) {
        return 1;
    }
    cache = spatialite_alloc_connection();
    spatialite_init_ex(db, cache, 0);
    printf("copied %s in %.1f s\n", from, (bench_now_ms() - t0) / 1e3);
    exec(db,
         "PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF; "
         "PRAGMA cache_size = -1000000");
    sqlite3_stmt *q;
    sqlite3_prepare_v2(db, "SELECT count(*) FROM incidents", -1, &q, NULL);
    sqlite3_step(q);
    long long base = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    /* The incidents' triggers and indexes go while the copies are made
     * (a trigger per row, an index insertion per row), and come back
     * after, as they were. */
    char *saved[32];
    int nsaved = 0;
    sqlite3_prepare_v2(db,
                       "SELECT name, type, sql FROM sqlite_master WHERE "
                       "tbl_name = 'incidents' AND type IN ('trigger', "
                       "'index') AND sql IS NOT NULL",
                       -1, &q, NULL);
    char *drops = sqlite3_mprintf("%s", "");
    while (sqlite3_step(q) == SQLITE_ROW && nsaved < 32) {
        saved[nsaved++] = sqlite3_mprintf("%s", sqlite3_column_text(q, 2));
        char *d =
            sqlite3_mprintf("%sDROP %s %Q;", drops, sqlite3_column_text(q, 1),
                            sqlite3_column_text(q, 0));
        sqlite3_free(drops);
        drops = d;
    }
    sqlite3_finalize(q);
    if (exec(db, drops) != 0) {
        return 1;
    }
    sqlite3_free(drops);
    for (int k = 1; k < copies; k++) {
        double t1 = bench_now_ms();
        long long s = (long long)k * shift_days * 86400;
        sql = sqlite3_mprintf(
            "BEGIN;"
            "INSERT INTO incidents (external_id, category, severity, source,"
            " status, reported_at, closed_at, grid_code, street_id,"
            " satisfaction, whistle_kind, dispatched_at, department,"
            " response_due, resolution_due, handling_at, geom)"
            " SELECT external_id || '-c%d', category, severity, source,"
            " status, reported_at - %lld, closed_at - %lld, grid_code,"
            " street_id, satisfaction, whistle_kind, dispatched_at - %lld,"
            " department, response_due - %lld, resolution_due - %lld,"
            " handling_at - %lld,"
            " ShiftCoords(geom, (random() %% 400) * 1e-6,"
            "  (random() %% 300) * 1e-6)"
            " FROM incidents WHERE id <= %lld;"
            "COMMIT;",
            k, s, s, s, s, s, s, base);
        rc = exec(db, sql);
        sqlite3_free(sql);
        if (rc != 0) {
            return 1;
        }
        double ms = bench_now_ms() - t1;
        printf("copy %d: %lld incidents in %.1f s (%.0f rows/s)\n", k, base,
               ms / 1e3, (double)base / (ms / 1e3));
        fflush(stdout);
    }
    double t2 = bench_now_ms();
    for (int i = 0; i < nsaved; i++) {
        if (exec(db, saved[i]) != 0) {
            return 1;
        }
        sqlite3_free(saved[i]);
    }
    printf("indexes and triggers back in %.1f s\n",
           (bench_now_ms() - t2) / 1e3);
    exec(db, "PRAGMA wal_checkpoint(TRUNCATE); ANALYZE");
    spatialite_cleanup_ex(cache);
    sqlite3_close(db);
    printf("%s: %lld incidents, %.1f s in all\n", out, base * copies,
           (bench_now_ms() - t0) / 1e3);
    return 0;
}
