/* SPDX-License-Identifier: Apache-2.0 */
/* A plain-text overview of what a store holds. */
#include "hutong/summary.h"

#include <stdlib.h>

typedef struct section {
    ht_summary_section which;
    const char *title;
    /* how each column prints: integer, fixed with one decimal, string */
    const char *fmt;
} section;

static const section sections[] = {
    {HT_SUMMARY_GRIDS, "grids by level (level, grids, residents)", "sii"},
    {HT_SUMMARY_STREETS, "streets by kind (kind, segments, km)", "ssf"},
    {HT_SUMMARY_CATEGORIES, "incidents by category (code, incidents, name)",
     "sis"},
    {HT_SUMMARY_MONTHS, "incidents by month, UTC (month, incidents)", "si"},
    {HT_SUMMARY_STATES, "incidents by status (status, incidents)", "si"},
    {HT_SUMMARY_LOCATED,
     "incidents located (total, in a grid, on a street, events)", "iiii"},
};

typedef struct printer {
    ht_buf *out;
    const char *fmt;
} printer;

static ht_status print_row(const char *const *cols, int n, void *ud,
                           ht_error *err) {
    printer *p = ud;
    ht_status st = ht_buf_appendf(p->out, err, " ");
    for (int c = 0; st == HT_OK && p->fmt[c] && c < n; c++) {
        const char *v = cols[c];
        switch (p->fmt[c]) {
        case 'i':
            st = ht_buf_appendf(p->out, err, " %10lld",
                                v ? strtoll(v, NULL, 10) : 0LL);
            break;
        case 'f':
            st = ht_buf_appendf(p->out, err, " %10.1f",
                                v ? strtod(v, NULL) : 0.0);
            break;
        default:
            /* Pad by bytes only where a column follows: CJK names come
             * last, unpadded. */
            st = ht_buf_appendf(p->out, err, p->fmt[c + 1] ? " %-10s" : " %s",
                                v ? v : "-");
            break;
        }
    }
    return st == HT_OK ? ht_buf_appendf(p->out, err, "\n") : st;
}

ht_status ht_summary_text(ht_store *s, ht_buf *out, ht_error *err) {
    ht_status st = HT_OK;
    for (size_t k = 0; st == HT_OK && k < sizeof sections / sizeof *sections;
         k++) {
        const section *sec = &sections[k];
        st = ht_buf_appendf(out, err, "%s%s\n", k ? "\n" : "", sec->title);
        printer p = {out, sec->fmt};
        if (st == HT_OK) {
            st = ht_store_summary(s, sec->which, print_row, &p, err);
        }
    }
    return st;
}
