/* SPDX-License-Identifier: Apache-2.0 */
/* The domain vocabulary and its names. */
#include "hutong/model.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

typedef struct alias {
    const char *name;
    int value;
} alias;

static const char *const level_names[] = {"district", "street", "community",
                                          "grid"};
static const char *const kind_names[] = {"road", "street", "hutong", "alley",
                                         "other"};
static const char *const source_names[] = {"hotline", "patrol", "app",
                                           "whistle", "other"};
static const char *const state_names[] = {"reported", "dispatched", "handling",
                                          "closed", "evaluated"};

static const char *const satisfaction_names[] = {"none", "satisfied", "basic",
                                                 "unsatisfied"};
static const char *const whistle_names[] = {"none", "daily", "tough",
                                            "emergency"};

static const alias level_aliases[] = {
    {"区", HT_LEVEL_DISTRICT},    {"街道", HT_LEVEL_STREET},
    {"社区", HT_LEVEL_COMMUNITY}, {"网格", HT_LEVEL_GRID},
    {"unit", HT_LEVEL_GRID},      {NULL, 0}};
static const alias kind_aliases[] = {{"胡同", HT_KIND_HUTONG},
                                     {"巷", HT_KIND_ALLEY},
                                     {"lane", HT_KIND_ALLEY},
                                     {"街", HT_KIND_STREET},
                                     {"avenue", HT_KIND_STREET},
                                     {"路", HT_KIND_ROAD},
                                     {NULL, 0}};
static const alias source_aliases[] = {
    {"12345", HT_SOURCE_HOTLINE}, {"热线", HT_SOURCE_HOTLINE},
    {"巡查", HT_SOURCE_PATROL},   {"随手拍", HT_SOURCE_APP},
    {"吹哨", HT_SOURCE_WHISTLE},  {NULL, 0}};
static const alias state_aliases[] = {
    {"上报", HT_STATE_REPORTED},  {"派遣", HT_STATE_DISPATCHED},
    {"处置", HT_STATE_HANDLING},  {"结案", HT_STATE_CLOSED},
    {"评价", HT_STATE_EVALUATED}, {NULL, 0}};

static const alias satisfaction_aliases[] = {
    {"满意", HT_SAT_SATISFIED},
    {"基本满意", HT_SAT_BASIC},
    {"不满意", HT_SAT_UNSATISFIED},
    {"basically satisfied", HT_SAT_BASIC},
    {NULL, 0}};
static const alias whistle_aliases[] = {{"日常哨", HT_WHISTLE_DAILY},
                                        {"攻坚哨", HT_WHISTLE_TOUGH},
                                        {"应急哨", HT_WHISTLE_EMERGENCY},
                                        {NULL, 0}};

static ht_status parse_name(const char *what, const char *const *names, int n,
                            const alias *aliases, const char *s, int *out,
                            ht_error *err) {
    if (s) {
        size_t len = strlen(s);
        while (len && (s[len - 1] == ' ' || s[len - 1] == '\t')) {
            len--;
        }
        while (len && (*s == ' ' || *s == '\t')) {
            s++;
            len--;
        }
        for (int i = 0; i < n; i++) {
            if (strlen(names[i]) == len && strncasecmp(names[i], s, len) == 0) {
                *out = i;
                return HT_OK;
            }
        }
        for (const alias *a = aliases; a->name; a++) {
            if (strlen(a->name) == len && strncasecmp(a->name, s, len) == 0) {
                *out = a->value;
                return HT_OK;
            }
        }
    }
    char list[128] = "";
    for (int i = 0; i < n; i++) {
        strncat(list, names[i], sizeof list - strlen(list) - 1);
        if (i + 1 < n) {
            strncat(list, "|", sizeof list - strlen(list) - 1);
        }
    }
    return ht_error_set(err, HT_EINVAL, "unknown %s \"%s\" (expected %s)", what,
                        s ? s : "", list);
}

#define NAME_FN(fn, type, names)                           \
    const char *fn(type v) {                               \
        int n = (int)(sizeof names / sizeof *names);       \
        return (int)v >= 0 && (int)v < n ? names[v] : "?"; \
    }

NAME_FN(ht_model_level_name, ht_level, level_names)
NAME_FN(ht_model_kind_name, ht_street_kind, kind_names)
NAME_FN(ht_model_source_name, ht_source, source_names)
NAME_FN(ht_model_state_name, ht_state, state_names)
NAME_FN(ht_model_satisfaction_name, ht_satisfaction, satisfaction_names)
NAME_FN(ht_model_whistle_name, ht_whistle, whistle_names)

#define PARSE_FN(fn, type, what, names, aliases)                         \
    ht_status fn(const char *s, type *out, ht_error *err) {              \
        int v;                                                           \
        ht_status st =                                                   \
            parse_name(what, names, (int)(sizeof names / sizeof *names), \
                       aliases, s, &v, err);                             \
        if (st == HT_OK) {                                               \
            *out = (type)v;                                              \
        }                                                                \
        return st;                                                       \
    }

PARSE_FN(ht_model_level_parse, ht_level, "grid level", level_names,
         level_aliases)
PARSE_FN(ht_model_kind_parse, ht_street_kind, "street kind", kind_names,
         kind_aliases)
PARSE_FN(ht_model_source_parse, ht_source, "source", source_names,
         source_aliases)
PARSE_FN(ht_model_state_parse, ht_state, "status", state_names, state_aliases)
PARSE_FN(ht_model_satisfaction_parse, ht_satisfaction, "satisfaction",
         satisfaction_names, satisfaction_aliases)
PARSE_FN(ht_model_whistle_parse, ht_whistle, "whistle kind", whistle_names,
         whistle_aliases)

static int ends_with(const char *s, size_t len, const char *suffix) {
    size_t n = strlen(suffix);
    return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

ht_street_kind ht_model_kind_from_name(const char *name) {
    if (!name || !*name) {
        return HT_KIND_OTHER;
    }
    size_t len = strlen(name);
    if (ends_with(name, len, "胡同") || ends_with(name, len, "条")) {
        return HT_KIND_HUTONG;
    }
    if (ends_with(name, len, "巷") || ends_with(name, len, "夹道") ||
        ends_with(name, len, "里")) {
        return HT_KIND_ALLEY;
    }
    if (ends_with(name, len, "街")) {
        return HT_KIND_STREET;
    }
    if (ends_with(name, len, "路") || ends_with(name, len, "桥") ||
        ends_with(name, len, "环") || ends_with(name, len, "道")) {
        return HT_KIND_ROAD;
    }
    return HT_KIND_OTHER;
}
