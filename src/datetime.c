/* SPDX-License-Identifier: Apache-2.0 */
/* ISO 8601 times to and from UTC seconds. */
#include "hutong/datetime.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* Days from civil, after Howard Hinnant's public-domain date algorithms. */
static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int64_t ht_datetime_from_civil(int y, int m, int d, int hh, int mm, int ss) {
    return days_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60 + ss;
}

void ht_datetime_to_civil(int64_t t, int *y, int *m, int *d, int *hh, int *mm,
                          int *ss) {
    int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
    int64_t secs = t - days * 86400;
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
    *hh = (int)(secs / 3600);
    *mm = (int)(secs / 60 % 60);
    *ss = (int)(secs % 60);
}

void ht_datetime_format(int64_t t, char *out, size_t size) {
    int y, m, d, hh, mm, ss;
    ht_datetime_to_civil(t, &y, &m, &d, &hh, &mm, &ss);
    snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, m, d, hh, mm, ss);
}

/* Read exactly @n digits. */
static int digits(const char **p, int n, int *v) {
    int x = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i])) {
            return 0;
        }
        x = x * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *v = x;
    return 1;
}

static int days_in_month(int y, int m) {
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 ? 28 + leap : dim[m - 1];
}

ht_status ht_datetime_parse(const char *s, int allow_local, int64_t *out,
                            ht_error *err) {
    const char *p = s;
    int y, mo, d, hh = 0, mi = 0, ss = 0;
    while (isspace((unsigned char)*p)) {
        p++;
    }
    if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) ||
        *p++ != '-' || !digits(&p, 2, &d)) {
        return ht_error_set(err, HT_EINVAL,
                            "\"%s\" is not an ISO 8601 date (YYYY-MM-DD)", s);
    }
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo)) {
        return ht_error_set(err, HT_EINVAL, "\"%s\" is not a valid date", s);
    }
    int64_t offset = 0;
    const char *rest = p;
    while (isspace((unsigned char)*rest)) {
        rest++;
    }
    if (*rest == '\0') {
        *out = ht_datetime_from_civil(y, mo, d, 0, 0, 0);
        return HT_OK;
    }
    if (*p != 'T' && *p != 't' && *p != ' ') {
        return ht_error_set(err, HT_EINVAL,
                            "\"%s\": expected 'T' after the date", s);
    }
    p++;
    if (!digits(&p, 2, &hh) || *p++ != ':' || !digits(&p, 2, &mi)) {
        return ht_error_set(err, HT_EINVAL, "\"%s\": bad time of day", s);
    }
    if (*p == ':') {
        p++;
        if (!digits(&p, 2, &ss)) {
            return ht_error_set(err, HT_EINVAL, "\"%s\": bad seconds", s);
        }
        if (*p == '.' || *p == ',') {
            p++;
            if (!isdigit((unsigned char)*p)) {
                return ht_error_set(err, HT_EINVAL, "\"%s\": bad fraction", s);
            }
            while (isdigit((unsigned char)*p)) {
                p++;
            }
        }
    }
    if (hh > 24 || mi > 59 || ss > 60 || (hh == 24 && (mi != 0 || ss != 0))) {
        return ht_error_set(err, HT_EINVAL, "\"%s\": time out of range", s);
    }
    if (ss == 60) {
        ss = 59; /* a leap second counts as the second before it */
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om = 0;
        p++;
        if (!digits(&p, 2, &oh)) {
            return ht_error_set(err, HT_EINVAL, "\"%s\": bad UTC offset", s);
        }
        if (*p == ':') {
            p++;
            if (!digits(&p, 2, &om)) {
                return ht_error_set(err, HT_EINVAL, "\"%s\": bad UTC offset",
                                    s);
            }
        } else if (isdigit((unsigned char)*p) && !digits(&p, 2, &om)) {
            return ht_error_set(err, HT_EINVAL, "\"%s\": bad UTC offset", s);
        }
        if (oh > 18 || om > 59) {
            return ht_error_set(err, HT_EINVAL, "\"%s\": UTC offset too large",
                                s);
        }
        offset = sign * (oh * 3600 + om * 60);
    } else if (!allow_local) {
        return ht_error_set(err, HT_EINVAL,
                            "\"%s\" has no time zone: add Z or an offset "
                            "such as +08:00",
                            s);
    }
    while (isspace((unsigned char)*p)) {
        p++;
    }
    if (*p) {
        return ht_error_set(err, HT_EINVAL,
                            "\"%s\": unexpected text after the time", s);
    }
    *out = ht_datetime_from_civil(y, mo, d, hh, mi, ss) - offset;
    return HT_OK;
}

ht_status ht_datetime_parse_month(const char *s, int *y, int *m,
                                  ht_error *err) {
    char extra;
    if (!s || strlen(s) != 7 || s[4] != '-' ||
        sscanf(s, "%4d-%2d%c", y, m, &extra) != 2 || *y < 1970 || *y > 9999 ||
        *m < 1 || *m > 12) {
        return ht_error_set(err, HT_EINVAL, "month \"%s\" is not YYYY-MM",
                            s ? s : "");
    }
    return HT_OK;
}

int64_t ht_datetime_month_start(int y, int m, int shift) {
    int k = y * 12 + (m - 1) + shift;
    return ht_datetime_from_civil(k / 12, k % 12 + 1, 1, 0, 0, 0);
}
