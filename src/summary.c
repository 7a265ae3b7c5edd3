/* SPDX-License-Identifier: Apache-2.0 */
/* A plain-text overview of what a store holds. */
#include "hutong/summary.h"

#include <sqlite3.h>

#include "store_int.h"

typedef struct section {
    const char *title;
    const char *sql;
    /* printf formats for the columns: each row prints them in order */
    const char *fmt;
} section;

static const section sections[] = {
    {"grids by level (level, grids, residents)",
     "SELECT level, count(*), coalesce(sum(population), 0) FROM grids "
     "GROUP BY level ORDER BY CASE level WHEN 'district' THEN 0 "
     "WHEN 'street' THEN 1 WHEN 'community' THEN 2 ELSE 3 END",
     "sii"},
    {"streets by kind (kind, segments, km)",
     "SELECT kind, count(*), round(sum(GLength(geom, 1)) / 1000.0, 1) "
     "FROM streets GROUP BY kind ORDER BY count(*) DESC",
     "ssf"},
    {"incidents by category (code, incidents, name)",
     "SELECT m.code, count(*), m.name FROM incidents i "
     "JOIN categories c ON c.code = i.category "
     "JOIN categories m ON m.code = coalesce(c.parent_code, c.code) "
     "GROUP BY m.code ORDER BY count(*) DESC, m.code",
     "sis"},
    {"incidents by month, UTC (month, incidents)",
     "SELECT strftime('%Y-%m', reported_at, 'unixepoch'), count(*) "
     "FROM incidents GROUP BY 1 ORDER BY 1",
     "si"},
    {"incidents by status (status, incidents)",
     "SELECT status, count(*) FROM incidents GROUP BY status ORDER BY "
     "CASE status WHEN 'reported' THEN 0 WHEN 'dispatched' THEN 1 "
     "WHEN 'handling' THEN 2 WHEN 'closed' THEN 3 ELSE 4 END",
     "si"},
    {"incidents located (total, in a grid, on a street, events)",
     "SELECT count(*), count(grid_code), count(street_id), "
     "(SELECT count(*) FROM incident_events) FROM incidents",
     "iiii"},
};

ht_status ht_summary_text(ht_store *s, ht_buf *out, ht_error *err) {
    sqlite3 *db = ht__store_db(s);
    ht_status st = HT_OK;
    for (size_t k = 0; st == HT_OK && k < sizeof sections / sizeof *sections;
         k++) {
        const section *sec = &sections[k];
        sqlite3_stmt *q = NULL;
        if (sqlite3_prepare_v2(db, sec->sql, -1, &q, NULL) != SQLITE_OK) {
            return ht__store_dberr(s, "summary", err);
        }
        st = ht_buf_appendf(out, err, "%s%s\n", k ? "\n" : "", sec->title);
        int rc;
        while (st == HT_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
            st = ht_buf_appendf(out, err, " ");
            for (int c = 0; st == HT_OK && sec->fmt[c]; c++) {
                switch (sec->fmt[c]) {
                case 'i':
                    st = ht_buf_appendf(out, err, " %10lld",
                                        (long long)sqlite3_column_int64(q, c));
                    break;
                case 'f':
                    st = ht_buf_appendf(out, err, " %10.1f",
                                        sqlite3_column_double(q, c));
                    break;
                default: {
                    /* Pad by bytes only where a column follows: CJK names
                     * come last, unpadded. */
                    const unsigned char *t = sqlite3_column_text(q, c);
                    st = ht_buf_appendf(out, err,
                                        sec->fmt[c + 1] ? " %-10s" : " %s",
                                        t ? (const char *)t : "-");
                    break;
                }
                }
            }
            if (st == HT_OK) {
                st = ht_buf_appendf(out, err, "\n");
            }
        }
        if (st == HT_OK && rc != SQLITE_DONE) {
            st = ht__store_dberr(s, "summary", err);
        }
        sqlite3_finalize(q);
    }
    return st;
}
