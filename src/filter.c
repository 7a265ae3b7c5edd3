/* SPDX-License-Identifier: Apache-2.0 */
/* The one filter grammar: time, category, severity, status, source, grid. */
#include "hutong/filter.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hutong/datetime.h"
#include "hutong/hash.h"

ht_filter ht_filter_all(void) {
    ht_filter f;
    memset(&f, 0, sizeof f);
    f.from = INT64_MIN;
    f.to = INT64_MAX;
    return f;
}

/* Split @value on commas into trimmed tokens; HT_EINVAL on empty ones. */
static ht_status split(const char *key, const char *value, char out[][32],
                       size_t *n, ht_error *err) {
    *n = 0;
    const char *p = value;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        while (len && isspace((unsigned char)*p)) {
            p++;
            len--;
        }
        while (len && isspace((unsigned char)p[len - 1])) {
            len--;
        }
        if (len == 0 || len >= 32) {
            return ht_error_set(err, HT_EINVAL,
                                "%s: \"%s\" has an empty or overlong value",
                                key, value);
        }
        if (*n == HT_FILTER_MAX_VALUES) {
            return ht_error_set(err, HT_EINVAL, "%s: more than %d values", key,
                                HT_FILTER_MAX_VALUES);
        }
        memcpy(out[*n], p, len);
        out[*n][len] = '\0';
        (*n)++;
        if (!comma) {
            return HT_OK;
        }
        p = comma + 1;
    }
}

static int cmp_code(const void *a, const void *b) {
    return strcmp(a, b);
}

static ht_status set_window(ht_filter *f, const char *v, int64_t now,
                            ht_error *err) {
    int64_t end = now / 60 * 60;
    int64_t span = 0;
    if (strcmp(v, "24h") == 0) {
        span = 86400;
    } else if (strcmp(v, "7d") == 0) {
        span = 7 * 86400;
    } else if (strcmp(v, "30d") == 0) {
        span = 30 * 86400;
    } else if (strcmp(v, "month") == 0) {
        int y, m, d, hh, mm, ss;
        ht_datetime_to_civil(now, &y, &m, &d, &hh, &mm, &ss);
        f->from = ht_datetime_from_civil(y, m, 1, 0, 0, 0);
        f->to = end;
        return HT_OK;
    } else {
        return ht_error_set(err, HT_EINVAL,
                            "window: \"%s\" is not 24h, 7d, 30d or month", v);
    }
    f->from = end - span;
    f->to = end;
    return HT_OK;
}

static int cmp_department(const void *a, const void *b) {
    return strcmp(a, b);
}

/* "a,b": up to HT_FILTER_MAX_DEPARTMENTS names of 1..64 bytes, sorted and
 * deduplicated. */
static ht_status set_departments(ht_filter *g, const char *value,
                                 ht_error *err) {
    size_t n = 0;
    for (const char *p = value;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == 0 || len >= sizeof g->department[0]) {
            return ht_error_set(err, HT_EINVAL,
                                "department: each name 1..64 bytes");
        }
        if (n == HT_FILTER_MAX_DEPARTMENTS) {
            return ht_error_set(err, HT_EINVAL, "department: at most %d names",
                                HT_FILTER_MAX_DEPARTMENTS);
        }
        memcpy(g->department[n], p, len);
        g->department[n][len] = '\0';
        n++;
        if (!comma) {
            break;
        }
        p = comma + 1;
    }
    qsort(g->department, n, sizeof g->department[0], cmp_department);
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (w == 0 || strcmp(g->department[w - 1], g->department[i]) != 0) {
            memmove(g->department[w++], g->department[i],
                    sizeof g->department[0]);
        }
    }
    g->ndepartment = w;
    return HT_OK;
}

ht_status ht_filter_set(ht_filter *f, const char *key, const char *value,
                        int64_t now, ht_error *err) {
    if (!key || !value) {
        return ht_error_set(err, HT_EINVAL, "filter parameter without value");
    }
    ht_filter g = *f; /* change a copy: on error nothing changes */
    char vals[HT_FILTER_MAX_VALUES][32];
    size_t n = 0;
    ht_status st = HT_OK;
    if (strcmp(key, "from") == 0 || strcmp(key, "to") == 0) {
        int64_t t;
        if ((st = ht_datetime_parse(value, 1, &t, err)) != HT_OK) {
            ht_error_prefix(err, "%s: ", key);
            return st;
        }
        *(key[0] == 'f' ? &g.from : &g.to) = t;
    } else if (strcmp(key, "window") == 0) {
        st = set_window(&g, value, now, err);
    } else if (strcmp(key, "category") == 0) {
        if ((st = split(key, value, vals, &n, err)) == HT_OK) {
            for (size_t i = 0; i < n && st == HT_OK; i++) {
                if (strlen(vals[i]) >= sizeof g.category[0]) {
                    st = ht_error_set(err, HT_EINVAL,
                                      "category: \"%s\" is too long", vals[i]);
                }
                snprintf(g.category[i], sizeof g.category[i], "%s", vals[i]);
            }
            qsort(g.category, n, sizeof g.category[0], cmp_code);
            size_t w = 0;
            for (size_t i = 0; i < n; i++) {
                if (w == 0 || strcmp(g.category[w - 1], g.category[i]) != 0) {
                    memmove(g.category[w++], g.category[i],
                            sizeof g.category[0]);
                }
            }
            g.ncategory = w;
        }
    } else if (strcmp(key, "severity") == 0) {
        if ((st = split(key, value, vals, &n, err)) == HT_OK) {
            unsigned mask = 0;
            for (size_t i = 0; i < n && st == HT_OK; i++) {
                char *end;
                long s = strtol(vals[i], &end, 10);
                if (*end || s < 1 || s > 3) {
                    st = ht_error_set(err, HT_EINVAL,
                                      "severity: \"%s\" is not 1, 2 or 3",
                                      vals[i]);
                } else {
                    mask |= 1u << s;
                }
            }
            /* One value means "at least": 2 is 2 and 3. */
            if (st == HT_OK && n == 1) {
                long s = strtol(vals[0], NULL, 10);
                mask = 0;
                for (long k = s; k <= 3; k++) {
                    mask |= 1u << k;
                }
            }
            g.severity = mask;
        }
    } else if (strcmp(key, "status") == 0) {
        if ((st = split(key, value, vals, &n, err)) == HT_OK) {
            unsigned mask = 0;
            for (size_t i = 0; i < n && st == HT_OK; i++) {
                ht_state s;
                if (strcmp(vals[i], "open") == 0) {
                    mask |= 1u << HT_STATE_REPORTED |
                            1u << HT_STATE_DISPATCHED | 1u << HT_STATE_HANDLING;
                } else if (strcmp(vals[i], "closed") == 0) {
                    mask |= 1u << HT_STATE_CLOSED | 1u << HT_STATE_EVALUATED;
                } else if ((st = ht_model_state_parse(vals[i], &s, err)) ==
                           HT_OK) {
                    mask |= 1u << s;
                } else {
                    ht_error_prefix(err, "status: ");
                }
            }
            g.status = mask;
        }
    } else if (strcmp(key, "source") == 0) {
        if ((st = split(key, value, vals, &n, err)) == HT_OK) {
            unsigned mask = 0;
            for (size_t i = 0; i < n && st == HT_OK; i++) {
                ht_source s;
                if ((st = ht_model_source_parse(vals[i], &s, err)) == HT_OK) {
                    mask |= 1u << s;
                } else {
                    ht_error_prefix(err, "source: ");
                }
            }
            g.source = mask;
        }
    } else if (strcmp(key, "grid") == 0) {
        size_t len = strlen(value);
        bool ok = len > 0 && len < sizeof g.grid;
        for (size_t i = 0; ok && i < len; i++) {
            ok = isalnum((unsigned char)value[i]) || value[i] == '-' ||
                 value[i] == '_';
        }
        if (!ok) {
            return ht_error_set(err, HT_EINVAL,
                                "grid: \"%s\" is not a grid code", value);
        }
        snprintf(g.grid, sizeof g.grid, "%s", value);
    } else if (strcmp(key, "department") == 0) {
        st = set_departments(&g, value, err);
    } else if (strcmp(key, "overdue") == 0) {
        if (strcmp(value, "1") == 0 || strcmp(value, "true") == 0) {
            g.overdue_at = now / 60 * 60;
        } else if (strcmp(value, "0") == 0 || strcmp(value, "false") == 0) {
            g.overdue_at = 0;
        } else {
            return ht_error_set(err, HT_EINVAL, "overdue: \"%s\" is not 1 or 0",
                                value);
        }
    } else if (strcmp(key, "satisfaction") == 0) {
        if ((st = split(key, value, vals, &n, err)) == HT_OK) {
            unsigned mask = 0;
            for (size_t i = 0; i < n && st == HT_OK; i++) {
                ht_satisfaction s;
                if ((st = ht_model_satisfaction_parse(vals[i], &s, err)) ==
                    HT_OK) {
                    mask |= 1u << s;
                } else {
                    ht_error_prefix(err, "satisfaction: ");
                }
            }
            g.satisfaction = mask;
        }
    } else {
        return ht_error_set(err, HT_EINVAL,
                            "unknown filter \"%s\" (from, to, window, "
                            "category, severity, status, source, grid, "
                            "department, overdue, satisfaction)",
                            key);
    }
    if (st == HT_OK) {
        *f = g;
    }
    return st;
}

ht_status ht_filter_check(const ht_filter *f, ht_error *err) {
    if (f->from != INT64_MIN && f->to != INT64_MAX && f->from >= f->to) {
        return ht_error_set(err, HT_EINVAL, "from: not before to");
    }
    return HT_OK;
}

void ht_filter_key(const ht_filter *f, char *out, size_t size) {
    size_t o = 0;
    o += (size_t)snprintf(out + o, size - o,
                          "from=%lld;to=%lld;sev=%u;"
                          "st=%u;src=%u;grid=%s;cat=",
                          (long long)f->from, (long long)f->to, f->severity,
                          f->status, f->source, f->grid);
    for (size_t i = 0; i < f->ncategory && o < size; i++) {
        o += (size_t)snprintf(out + o, size - o, "%s%s", i ? "," : "",
                              f->category[i]);
    }
    if (o < size && (f->satisfaction || f->overdue_at || f->ndepartment)) {
        /* The departments as a hash of their sorted names: the key
         * stays short whatever their length. */
        uint64_t h = HT_HASH64_INIT;
        for (size_t i = 0; i < f->ndepartment; i++) {
            h = ht_hash64_str(h, f->department[i]);
            h = ht_hash64(h, "", 1);
        }
        snprintf(out + o, size - o, ";sat=%u;overdue=%lld;dept=%zu:%016llx",
                 f->satisfaction, (long long)f->overdue_at, f->ndepartment,
                 (unsigned long long)h);
    }
}
