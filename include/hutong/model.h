/* SPDX-License-Identifier: Apache-2.0 */
/* The domain vocabulary: grid levels, street kinds, incident sources and
 * states, and the records that store and import exchange. */
#ifndef HUTONG_MODEL_H
#define HUTONG_MODEL_H

#include <stdint.h>

#include "hutong/error.h"
#include "hutong/geom.h"

/** Grid levels, from the top of the hierarchy down. */
typedef enum ht_level {
    HT_LEVEL_DISTRICT = 0,
    HT_LEVEL_STREET,
    HT_LEVEL_COMMUNITY,
    HT_LEVEL_GRID,
    HT_LEVEL_COUNT
} ht_level;

/** Kinds of street segment. */
typedef enum ht_street_kind {
    HT_KIND_ROAD = 0,
    HT_KIND_STREET,
    HT_KIND_HUTONG,
    HT_KIND_ALLEY,
    HT_KIND_OTHER,
    HT_KIND_COUNT
} ht_street_kind;

/** Where an incident came from. */
typedef enum ht_source {
    HT_SOURCE_HOTLINE = 0,
    HT_SOURCE_PATROL,
    HT_SOURCE_APP,
    HT_SOURCE_WHISTLE,
    HT_SOURCE_OTHER,
    HT_SOURCE_COUNT
} ht_source;

/** Life-cycle states of an incident, in order. */
typedef enum ht_state {
    HT_STATE_REPORTED = 0,
    HT_STATE_DISPATCHED,
    HT_STATE_HANDLING,
    HT_STATE_CLOSED,
    HT_STATE_EVALUATED,
    HT_STATE_COUNT
} ht_state;

/** The resident's evaluation of a closed incident (满意度). */
typedef enum ht_satisfaction {
    HT_SAT_NONE = 0,    /**< not evaluated */
    HT_SAT_SATISFIED,   /**< 满意 */
    HT_SAT_BASIC,       /**< 基本满意 */
    HT_SAT_UNSATISFIED, /**< 不满意 */
    HT_SAT_COUNT
} ht_satisfaction;

/** The kinds of a street office's whistle (吹哨). */
typedef enum ht_whistle {
    HT_WHISTLE_NONE = 0,  /**< not a whistle */
    HT_WHISTLE_DAILY,     /**< 日常哨 */
    HT_WHISTLE_TOUGH,     /**< 攻坚哨 */
    HT_WHISTLE_EMERGENCY, /**< 应急哨 */
    HT_WHISTLE_COUNT
} ht_whistle;

/** Canonical names ("district", "hutong", "hotline", "closed"...). */
const char *ht_model_level_name(ht_level v);
const char *ht_model_kind_name(ht_street_kind v);
const char *ht_model_source_name(ht_source v);
const char *ht_model_state_name(ht_state v);
/** "none", "satisfied", "basic", "unsatisfied". */
const char *ht_model_satisfaction_name(ht_satisfaction v);
/** "none", "daily", "tough", "emergency". */
const char *ht_model_whistle_name(ht_whistle v);

/**
 * Parse a name (canonical English, case-insensitive, or the usual Chinese
 * term: 区 街道 社区 网格; 热线 巡查 随手拍 吹哨 ...). HT_EINVAL lists the
 * accepted names. *out is unchanged on error.
 */
ht_status ht_model_level_parse(const char *s, ht_level *out, ht_error *err);
ht_status ht_model_kind_parse(const char *s, ht_street_kind *out,
                              ht_error *err);
ht_status ht_model_source_parse(const char *s, ht_source *out, ht_error *err);
ht_status ht_model_state_parse(const char *s, ht_state *out, ht_error *err);
/** Also 满意 基本满意 不满意. */
ht_status ht_model_satisfaction_parse(const char *s, ht_satisfaction *out,
                                      ht_error *err);
/** Also 日常哨 攻坚哨 应急哨. */
ht_status ht_model_whistle_parse(const char *s, ht_whistle *out, ht_error *err);

/**
 * Guess a street's kind from its Chinese name suffix: 胡同 and numbered
 * 条 are hutongs, 巷 夹道 are alleys, 街 streets, 路 桥 环 roads; anything
 * else (or NULL) is other. Cannot fail.
 */
ht_street_kind ht_model_kind_from_name(const char *name);

/** A grid of any level. Strings are borrowed; NULL means absent. */
typedef struct ht_grid_rec {
    const char *code;
    const char *parent_code;
    ht_level level;
    const char *name;
    int64_t population; /**< residents, or -1 when unknown */
    const char *responsible;
    int64_t valid_from;  /**< UTC seconds, or HT_TIME_NONE */
    int64_t valid_to;    /**< UTC seconds, or HT_TIME_NONE */
    const ht_geom *geom; /**< polygonal, lon/lat */
} ht_grid_rec;

/** A street segment. Strings are borrowed. */
typedef struct ht_street_rec {
    const char *source_id; /**< id in the source file, or NULL */
    const char *name;
    ht_street_kind kind;
    const ht_geom *geom; /**< one line, lon/lat */
} ht_street_rec;

/** An incident. Strings are borrowed. */
typedef struct ht_incident_rec {
    const char *external_id;
    const char *category;
    int severity; /**< 1..3 */
    ht_source source;
    ht_state state;
    int64_t reported_at; /**< UTC seconds */
    int64_t closed_at;   /**< UTC seconds, or HT_TIME_NONE */
    /** when the current state was reached; HT_TIME_NONE: closed_at for
     * closed and evaluated incidents, else reported_at */
    int64_t state_at;
    double lon;
    double lat;
    ht_satisfaction satisfaction; /**< evaluated incidents only */
    ht_whistle whistle;           /**< whistles (source whistle) only */
} ht_incident_rec;

/** A category of the dictionary. Strings are borrowed. */
typedef struct ht_category_rec {
    const char *code;
    const char *parent_code;
    const char *name;
    const char *color; /**< "#rrggbb" or NULL */
    const char *dictionary;
} ht_category_rec;

#endif
