/* SPDX-License-Identifier: Apache-2.0 */
/* Statistics as JSON: the rows written straight into a buffer (two
 * thousand grids' rows took 40 ms as a tree of JSON values, 1.3 MB of
 * text), parsed into an object for the answers that embed them. */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hutong/buf.h"
#include "hutong/datetime.h"
#include "hutong/model.h"

#include "stats_int.h"

/* A buffer written into, and whether every write fit. */
typedef struct writer {
    ht_buf *b;
    bool ok;
} writer;

static void put(writer *w, const char *p, size_t n) {
    w->ok = w->ok && ht_buf_append(w->b, p, n, NULL) == HT_OK;
}

static void putf(writer *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void putf(writer *w, const char *fmt, ...) {
    char t[160];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t, sizeof t, fmt, ap);
    va_end(ap);
    w->ok = w->ok && n >= 0 && (size_t)n < sizeof t;
    put(w, t, n > 0 ? (size_t)n : 0);
}

/* @s as a JSON string. */
static void put_str(writer *b, const char *s) {
    put(b, "\"", 1);
    const char *run = s;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch >= 0x20 && ch != '"' && ch != '\\') {
            continue;
        }
        put(b, run, (size_t)(s - run));
        switch (ch) {
        case '"':
            put(b, "\\\"", 2);
            break;
        case '\\':
            put(b, "\\\\", 2);
            break;
        case '\n':
            put(b, "\\n", 2);
            break;
        case '\t':
            put(b, "\\t", 2);
            break;
        default:
            putf(b, "\\u%04x", ch);
        }
        run = s + 1;
    }
    put(b, run, (size_t)(s - run));
    put(b, "\"", 1);
}

/* @v to six significant digits (null when not a number), as jansson
 * writes a real with that precision: with a point. */
static void put_num(writer *b, double v) {
    if (!isfinite(v)) {
        put(b, "null", 4);
        return;
    }
    char t[40];
    int n = snprintf(t, sizeof t, "%.6g", v);
    if (n > 0 && !strpbrk(t, ".eE")) {
        t[n++] = '.';
        t[n++] = '0';
        t[n] = '\0';
    }
    put(b, t, n > 0 ? (size_t)n : 0);
}

static void put_key(writer *b, const char *key, bool first) {
    putf(b, "%s\"%s\": ", first ? "" : ", ", key);
}

static void put_int(writer *b, const char *key, int64_t v) {
    put_key(b, key, false);
    putf(b, "%lld", (long long)v);
}

static void put_real(writer *b, const char *key, double v) {
    put_key(b, key, false);
    put_num(b, v);
}

static void put_row(writer *b, const ht_stats_row *r, ht_stats_by by) {
    putf(b, "{\"rank\": %d", r->rank);
    put_key(b, "key", false);
    put_str(b, r->key);
    put_key(b, "name", false);
    put_str(b, r->name);
    put_int(b, "count", r->count);
    put_real(b, "share", r->share);
    put_key(b, "prev", false);
    if (r->prev >= 0) {
        putf(b, "%lld", (long long)r->prev);
    } else {
        put(b, "null", 4);
    }
    put_real(b, "change_pct", r->change_pct);
    put_real(b, "per_km2", r->per_km2);
    put_real(b, "per_1000", r->per_1000);
    put_real(b, "median_close_h", r->median_close_h);
    put_real(b, "response", r->response);
    put_real(b, "resolution", r->resolution);
    put_real(b, "satisfaction", r->satisfaction);
    put_real(b, "evaluated", r->evaluated);
    put_int(b, "overdue", r->overdue);
    put_int(b, "open", r->open);
    if (by == HT_STATS_BY_DEPARTMENT) {
        put_real(b, "median_arrive_h", r->median_arrive_h);
        put_real(b, "p90_arrive_h", r->p90_arrive_h);
    }
    put_key(b, "whistles", false);
    put(b, "{", 1);
    for (int q = 0; q < HT_WHISTLE_COUNT; q++) {
        put_key(b, q ? ht_model_whistle_name((ht_whistle)q) : "all", q == 0);
        putf(b, "%lld", (long long)r->whistles[q]);
    }
    put_real(b, "on_time_rate",
             r->whistles_decided
                 ? (double)r->whistles_on_time / (double)r->whistles_decided
                 : NAN);
    put(b, "}", 1);
    /* The counts behind each rate. */
    put_key(b, "counts", false);
    putf(b, "{\"response_on_time\": %lld", (long long)r->response_on_time);
    put_int(b, "response_decided", r->response_decided);
    put_int(b, "resolution_on_time", r->resolution_on_time);
    put_int(b, "resolution_decided", r->resolution_decided);
    put_int(b, "satisfied", r->satisfied);
    put_int(b, "rated", r->rated);
    put(b, "}}", 2);
}

char *ht_stats_rows_json(const ht_stats_row *r, size_t n, size_t limit,
                         ht_stats_by by, const ht_filter *f) {
    static const char *const by_name[] = {
        "street", "community", "grid", "category", "month", "department"};
    size_t shown = n < limit ? n : limit;
    int64_t total = 0;
    for (size_t k = 0; k < n; k++) {
        total += r[k].count;
    }
    writer w = {ht_buf_new(), true}, *b = &w;
    w.ok = w.b && ht_buf_reserve(w.b, 64 + shown * 700, NULL) == HT_OK;
    putf(b, "{\"by\": \"%s\", \"total\": %lld, \"groups\": %zu", by_name[by],
         (long long)total, n);
    if (f->from != INT64_MIN && f->to != INT64_MAX) {
        char a[32], z[32];
        ht_datetime_format(f->from, a, sizeof a);
        ht_datetime_format(f->to, z, sizeof z);
        putf(b, ", \"from\": \"%s\", \"to\": \"%s\"", a, z);
    }
    put(b, ", \"rows\": [", 11);
    for (size_t k = 0; k < shown; k++) {
        put(b, k ? ",\n " : "\n ", k ? 3 : 2);
        put_row(b, &r[k], by);
    }
    put(b, "\n]}", 3);
    char *out = NULL;
    if (w.ok) {
        out = (char *)w.b->data;
        w.b->data = NULL;
    }
    ht_buf_free(w.b);
    return out;
}

json_t *ht__stats_rows_object(const ht_stats_row *r, size_t n, size_t limit,
                              ht_stats_by by, const ht_filter *f) {
    char *text = ht_stats_rows_json(r, n, limit, by, f);
    json_t *o = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    return o;
}

char *ht_stats_topics_json(const ht_topic *t, size_t n, const char *month) {
    json_t *root = json_object(), *arr = json_array();
    json_object_set_new(root, "month", json_string(month));
    for (size_t k = 0; k < n; k++) {
        json_t *o = json_object();
        json_object_set_new(o, "rank", json_integer((json_int_t)k + 1));
        json_object_set_new(o, "category", json_string(t[k].category));
        json_object_set_new(o, "category_name",
                            json_string(t[k].category_name));
        json_object_set_new(o, "area", json_string(t[k].area));
        json_object_set_new(o, "area_name", json_string(t[k].area_name));
        json_object_set_new(o, "count", json_integer(t[k].count));
        json_object_set_new(o, "prev", json_integer(t[k].prev));
        json_object_set_new(o, "score", json_real(t[k].score));
        json_array_append_new(arr, o);
    }
    json_object_set_new(root, "topics", arr);
    char *out = json_dumps(
        root, JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    json_decref(root);
    return out;
}
