/* SPDX-License-Identifier: Apache-2.0 */
/* Importers: GeoJSON and CSV files into the store, all or nothing. */
#include "hutong/import.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "hutong/buf.h"
#include "hutong/crs.h"
#include "hutong/csv.h"
#include "hutong/datetime.h"
#include "hutong/locate.h"
#include "hutong/model.h"

/* Our field names per kind; defaults read the column of the same name. */
enum { F_MAX = 12 };

static const char *const kind_names[HT_IMPORT_KIND_COUNT] = {
    "grids", "streets", "incidents", "categories", "rules"};

static const char *const kind_fields[HT_IMPORT_KIND_COUNT][F_MAX] = {
    [HT_IMPORT_GRIDS] = {"code", "name", "level", "parent_code", "population",
                         "responsible", "valid_from", "valid_to"},
    [HT_IMPORT_STREETS] = {"id", "name", "kind"},
    [HT_IMPORT_INCIDENTS] = {"id", "lon", "lat", "category", "severity",
                             "source", "status", "reported_at", "closed_at",
                             "satisfaction", "whistle_kind"},
    [HT_IMPORT_CATEGORIES] = {"code", "parent_code", "name", "color",
                              "dictionary"},
    [HT_IMPORT_RULES] = {"category", "severity", "response_h", "resolution_h"},
};

/* The longest value of each field, in bytes: codes and ids are short,
 * names a line of text. Longer values are refused with the row named. */
static const unsigned short field_max[HT_IMPORT_KIND_COUNT][F_MAX] = {
    [HT_IMPORT_GRIDS] = {64, 200, 32, 64, 32, 200, 64, 64},
    [HT_IMPORT_STREETS] = {128, 200, 32},
    [HT_IMPORT_INCIDENTS] = {128, 64, 64, 32, 16, 32, 32, 64, 64, 32, 32},
    [HT_IMPORT_CATEGORIES] = {32, 32, 200, 16, 32},
    [HT_IMPORT_RULES] = {32, 16, 32, 32},
};

/* How many category codes an import remembers as known. */
#define CAT_CACHE 128

/* From this input size on, incidents load in the store's bulk mode. */
#define HT_IMPORT_BULK_BYTES (1u << 20)

/* Field indexes, per kind. */
enum { G_CODE, G_NAME, G_LEVEL, G_PARENT, G_POP, G_RESP, G_FROM, G_TO };
enum { S_ID, S_NAME, S_KIND };
enum {
    I_ID,
    I_LON,
    I_LAT,
    I_CAT,
    I_SEV,
    I_SRC,
    I_STATUS,
    I_REP,
    I_CLOSED,
    I_SAT,
    I_WHISTLE
};
enum { C_CODE, C_PARENT, C_NAME, C_COLOR, C_DICT };
enum { R_CAT, R_SEV, R_RESP, R_RESOL };

typedef struct link {
    char *code;
    ht_level level;
    ht_point inside;
} link;

typedef struct importer {
    ht_store *s;
    const ht_import_opts *o;
    const char *name;
    ht_import_stats *stats;
    ht_transform *tf;
    ht_locator *loc;
    double snap_m;
    int nf;
    const char *src[F_MAX]; /* source column/property per field */
    const char *val[F_MAX]; /* this row's values; NULL when absent */
    char num[F_MAX][40];    /* text of JSON numbers */
    bool csv;
    size_t where; /* CSV line or GeoJSON feature number */
    ht_csv *in;   /* the CSV read (its bytes: the progress), or NULL */
    size_t total; /* the input's bytes (CSV) or features (GeoJSON) */
    ht_geom *geom;
    bool have_level;
    ht_level level;
    ht_bbox touched; /* area whose incidents must be re-located */
    link *links;
    size_t nlinks, cap_links;
    /* Categories already found to exist (a dictionary is small). */
    char known_cat[CAT_CACHE][32];
    int nknown_cat;
    ht_error *err;
} importer;

ht_status ht_import_kind_parse(const char *s, ht_import_kind *out,
                               ht_error *err) {
    for (int k = 0; k < HT_IMPORT_KIND_COUNT; k++) {
        if (s && strcmp(s, kind_names[k]) == 0) {
            *out = (ht_import_kind)k;
            return HT_OK;
        }
    }
    return ht_error_set(err, HT_EINVAL,
                        "unknown import kind \"%s\" (expected "
                        "grids|streets|incidents|categories)",
                        s ? s : "");
}

static int field_index(ht_import_kind kind, const char *name, size_t len) {
    for (int i = 0; i < F_MAX && kind_fields[kind][i]; i++) {
        if (strlen(kind_fields[kind][i]) == len &&
            strncmp(kind_fields[kind][i], name, len) == 0) {
            return i;
        }
    }
    return -1;
}

ht_status ht_import_opts_add_field(ht_import_opts *o, const char *spec,
                                   ht_error *err) {
    const char *eq = spec ? strchr(spec, '=') : NULL;
    if (!eq || eq == spec || !eq[1]) {
        return ht_error_set(err, HT_EINVAL,
                            "--field \"%s\": expected NAME=SOURCE",
                            spec ? spec : "");
    }
    if (field_index(o->kind, spec, (size_t)(eq - spec)) < 0) {
        return ht_error_set(err, HT_EINVAL,
                            "--field \"%s\": %.*s is not a field of %s", spec,
                            (int)(eq - spec), spec, kind_names[o->kind]);
    }
    if (o->nmaps == HT_IMPORT_MAX_MAPS) {
        return ht_error_set(err, HT_EINVAL, "too many --field options");
    }
    o->map_name[o->nmaps] = spec;
    o->map_source[o->nmaps] = eq + 1;
    o->nmaps++;
    return HT_OK;
}

/* ---- messages ---- */

/* Set the error for the current row: "<file>: line 12, field "lon": ...". */
static ht_status row_error(importer *im, int field, ht_status code,
                           const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static ht_status row_error(importer *im, int field, ht_status code,
                           const char *fmt, ...) {
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    char fld[80] = "";
    if (field >= 0) {
        snprintf(fld, sizeof fld, ", field \"%s\"", im->src[field]);
    }
    return ht_error_set(im->err, code, "%s: %s %zu%s: %s", im->name,
                        im->csv ? "line" : "feature", im->where, fld, what);
}

/* Prefix a lower module's message with the row and field. */
static ht_status row_wrap(importer *im, int field, ht_status st) {
    char inner[HT_ERROR_MSG_SIZE];
    snprintf(inner, sizeof inner, "%s", im->err ? im->err->msg : "");
    return row_error(im, field, st, "%s", inner);
}

/* ---- value parsing ---- */

static bool blank(const char *v) {
    if (!v) {
        return true;
    }
    while (isspace((unsigned char)*v)) {
        v++;
    }
    return *v == '\0';
}

static const char *val(importer *im, int f) {
    return blank(im->val[f]) ? NULL : im->val[f];
}

static ht_status need(importer *im, int f, const char **out) {
    *out = val(im, f);
    if (!*out) {
        return row_error(im, f, HT_EINVAL, "value missing");
    }
    return HT_OK;
}

static ht_status parse_double(importer *im, int f, double *out) {
    const char *v;
    ht_status st = need(im, f, &v);
    if (st != HT_OK) {
        return st;
    }
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    while (isspace((unsigned char)*end)) {
        end++;
    }
    if (end == v || *end || errno == ERANGE || !isfinite(d)) {
        return row_error(im, f, HT_EINVAL, "\"%s\" is not a number", v);
    }
    *out = d;
    return HT_OK;
}

static ht_status parse_int(importer *im, int f, long long lo, long long hi,
                           long long *out) {
    const char *v = val(im, f);
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    /* Accept "2.0" from spreadsheets, nothing fractional. */
    if (*end == '.') {
        const char *z = end + 1;
        while (*z == '0') {
            z++;
        }
        end = (char *)z;
    }
    while (isspace((unsigned char)*end)) {
        end++;
    }
    if (end == v || *end || errno == ERANGE) {
        return row_error(im, f, HT_EINVAL, "\"%s\" is not a whole number", v);
    }
    if (x < lo || x > hi) {
        return row_error(im, f, HT_EINVAL, "%lld outside %lld..%lld", x, lo,
                         hi);
    }
    *out = x;
    return HT_OK;
}

static ht_status parse_time(importer *im, int f, bool required, int64_t *out) {
    const char *v = val(im, f);
    *out = HT_TIME_NONE;
    if (!v) {
        return required ? row_error(im, f, HT_EINVAL, "value missing") : HT_OK;
    }
    ht_status st = ht_datetime_parse(v, 0, out, im->err);
    return st == HT_OK ? HT_OK : row_wrap(im, f, st);
}

/* ---- rows ---- */

static void touch(importer *im, const ht_bbox *b, double margin_deg) {
    if (b->minx > b->maxx) {
        return;
    }
    ht_bbox_add(&im->touched, b->minx - margin_deg, b->miny - margin_deg);
    ht_bbox_add(&im->touched, b->maxx + margin_deg, b->maxy + margin_deg);
}

static void count(importer *im, ht_put_result r) {
    if (r == HT_PUT_PENDING) {
        return; /* counted when the store writes it (run) */
    }
    if (r == HT_PUT_INSERTED) {
        im->stats->inserted++;
    } else if (r == HT_PUT_UPDATED) {
        im->stats->updated++;
    } else {
        im->stats->unchanged++;
    }
}

/* Bring the row's geometry to lon/lat and check it. */
static ht_status prepare_geom(importer *im, ht_geom_type t1, ht_geom_type t2,
                              const char *what) {
    ht_geom *g = im->geom;
    if (!g) {
        return row_error(im, -1, HT_EINVAL, "%s needs a %s geometry",
                         kind_names[im->o->kind], what);
    }
    if (g->type != t1 && g->type != t2) {
        return row_error(im, -1, HT_EINVAL,
                         "geometry must be a %s, not WKB type %d", what,
                         (int)g->type);
    }
    ht_status st = ht_geom_validate(g, im->err);
    if (st == HT_OK) {
        st = ht_crs_transform_points(im->tf, g->pts, g->npts, im->err);
    }
    if (st != HT_OK) {
        char inner[HT_ERROR_MSG_SIZE];
        snprintf(inner, sizeof inner, "%s", im->err ? im->err->msg : "");
        return row_error(im, -1, st, "geometry: %s", inner);
    }
    ht_geom_orient(g);
    return HT_OK;
}

static ht_status add_link(importer *im, const char *code, ht_level level) {
    ht_point p;
    if (ht_geom_interior_point(im->geom, &p, im->err) != HT_OK) {
        return row_error(im, -1, HT_EINVAL, "geometry has no interior");
    }
    ht_status st = ht_array_grow((void **)&im->links, &im->cap_links,
                                 im->nlinks + 1, sizeof *im->links, im->err);
    if (st != HT_OK) {
        return st;
    }
    char *c = strdup(code);
    if (!c) {
        return ht_error_set(im->err, HT_ENOMEM, "out of memory");
    }
    im->links[im->nlinks++] = (link){c, level, p};
    return HT_OK;
}

static ht_status row_grid(importer *im) {
    ht_grid_rec r = {.population = -1};
    ht_status st = need(im, G_CODE, &r.code);
    if (st != HT_OK) {
        return st;
    }
    if (strlen(r.code) > 63) {
        return row_error(im, G_CODE, HT_EINVAL, "code longer than 63 bytes");
    }
    if (im->have_level) {
        r.level = im->level;
    } else {
        const char *lv = val(im, G_LEVEL);
        if (!lv) {
            return row_error(im, G_LEVEL, HT_EINVAL,
                             "value missing (or give --level)");
        }
        if ((st = ht_model_level_parse(lv, &r.level, im->err)) != HT_OK) {
            return row_wrap(im, G_LEVEL, st);
        }
    }
    r.name = val(im, G_NAME);
    r.parent_code = val(im, G_PARENT);
    r.responsible = val(im, G_RESP);
    if (val(im, G_POP)) {
        long long pop;
        if ((st = parse_int(im, G_POP, 0, 1000000000LL, &pop)) != HT_OK) {
            return st;
        }
        r.population = pop;
    }
    if ((st = parse_time(im, G_FROM, false, &r.valid_from)) != HT_OK ||
        (st = parse_time(im, G_TO, false, &r.valid_to)) != HT_OK) {
        return st;
    }
    if (r.valid_from != HT_TIME_NONE && r.valid_to != HT_TIME_NONE &&
        r.valid_to <= r.valid_from) {
        return row_error(im, G_TO, HT_EINVAL, "not after valid_from");
    }
    if ((st = prepare_geom(im, HT_GEOM_POLYGON, HT_GEOM_MULTIPOLYGON,
                           "Polygon or MultiPolygon")) != HT_OK) {
        return st;
    }
    r.geom = im->geom;
    ht_put_result res;
    ht_bbox old;
    if ((st = ht_store_put_grid(im->s, &r, &res, &old, im->err)) != HT_OK) {
        return row_wrap(im, -1, st);
    }
    count(im, res);
    if (res != HT_PUT_UNCHANGED) {
        ht_bbox nb = ht_geom_bbox(im->geom);
        touch(im, &nb, 0);
        touch(im, &old, 0);
    }
    if (!r.parent_code && r.level != HT_LEVEL_DISTRICT) {
        return add_link(im, r.code, r.level);
    }
    return HT_OK;
}

/* Degrees that certainly cover @m metres at latitudes below 85. */
static double metres_to_deg_margin(double m) {
    return m / 111320.0 / cos(85.0 * HT_PI / 180.0) * 1.01;
}

static ht_status row_street(importer *im) {
    ht_street_rec r = {0};
    r.source_id = val(im, S_ID);
    r.name = val(im, S_NAME);
    ht_status st;
    const char *k = val(im, S_KIND);
    if (k) {
        if ((st = ht_model_kind_parse(k, &r.kind, im->err)) != HT_OK) {
            return row_wrap(im, S_KIND, st);
        }
    } else {
        r.kind = ht_model_kind_from_name(r.name);
    }
    if ((st = prepare_geom(im, HT_GEOM_LINESTRING, HT_GEOM_MULTILINESTRING,
                           "LineString or MultiLineString")) != HT_OK) {
        return st;
    }
    /* Each part of a MultiLineString is a segment: "<id>:<part>". */
    ht_geom *g = im->geom;
    ht_geom *part = ht_geom_new(HT_GEOM_LINESTRING);
    if (!part) {
        return ht_error_set(im->err, HT_ENOMEM, "out of memory");
    }
    double margin = metres_to_deg_margin(im->snap_m);
    for (size_t i = 0; st == HT_OK && i < g->nparts; i++) {
        ht_geom_reset(part, HT_GEOM_LINESTRING);
        st = ht_geom_start_part(part, im->err);
        for (size_t k2 = g->parts[i];
             st == HT_OK && k2 < ht_geom_part_end(g, i); k2++) {
            st = ht_geom_add_point(part, g->pts[k2].x, g->pts[k2].y, im->err);
        }
        if (st != HT_OK) {
            break;
        }
        char sid[96];
        ht_street_rec pr = r;
        pr.geom = part;
        if (r.source_id && g->nparts > 1) {
            snprintf(sid, sizeof sid, "%s:%zu", r.source_id, i);
            pr.source_id = sid;
        }
        ht_put_result res;
        int64_t id;
        ht_bbox old;
        st = ht_store_put_street(im->s, &pr, &res, &id, &old, im->err);
        if (st != HT_OK) {
            st = row_wrap(im, -1, st);
            break;
        }
        count(im, res);
        if (res != HT_PUT_UNCHANGED) {
            ht_bbox nb = ht_geom_bbox(part);
            touch(im, &nb, margin);
            touch(im, &old, margin);
        }
    }
    ht_geom_free(part);
    return st;
}

static ht_status check_category(importer *im, const char *code) {
    for (int k = 0; k < im->nknown_cat; k++) {
        if (strcmp(im->known_cat[k], code) == 0) {
            return HT_OK;
        }
    }
    bool exists;
    ht_status st = ht_store_category_exists(im->s, code, &exists, im->err);
    if (st != HT_OK) {
        return row_wrap(im, I_CAT, st);
    }
    if (!exists) {
        return row_error(im, I_CAT, HT_EINVAL,
                         "unknown category \"%s\" (import the categories "
                         "first)",
                         code);
    }
    if (im->nknown_cat < CAT_CACHE && strlen(code) < sizeof im->known_cat[0]) {
        snprintf(im->known_cat[im->nknown_cat++], sizeof im->known_cat[0], "%s",
                 code);
    }
    return HT_OK;
}

/* The rules of writes from outside (ht_import_opts.lifecycle and .scope),
 * checked against the stored incident before anything is written; may
 * set the row's state time and keep its closing time. */
static ht_status guard_incident(importer *im, ht_incident_rec *r,
                                const char *grid) {
    const ht_import_opts *o = im->o;
    ht_incident_head old;
    bool found, in;
    ht_status st =
        ht_store_find_incident(im->s, r->external_id, &found, &old, im->err);
    if (st != HT_OK) {
        return row_wrap(im, -1, st);
    }
    if (o->scope) {
        if (found && ((st = ht_store_grid_within(im->s, old.grid_code, o->scope,
                                                 &in, im->err)) != HT_OK ||
                      !in)) {
            return st != HT_OK ? row_wrap(im, -1, st)
                               : row_error(im, I_ID, HT_EAUTH,
                                           "incident \"%s\" lies outside "
                                           "this token's area %s",
                                           r->external_id, o->scope);
        }
        if ((st = ht_store_grid_within(im->s, grid, o->scope, &in, im->err)) !=
            HT_OK) {
            return row_wrap(im, -1, st);
        }
        if (!in) {
            return row_error(im, im->csv ? I_LON : -1, HT_EAUTH,
                             "the point lies outside this token's area %s",
                             o->scope);
        }
    }
    if (!o->lifecycle) {
        return HT_OK;
    }
    int64_t now = o->now ? o->now : (int64_t)time(NULL);
    if (r->reported_at > now + 300) {
        return row_error(im, I_REP, HT_EINVAL, "in the future");
    }
    if (r->closed_at != HT_TIME_NONE && r->closed_at > now + 300) {
        return row_error(im, I_CLOSED, HT_EINVAL, "in the future");
    }
    if (!found) {
        return HT_OK;
    }
    if (r->state < old.state) {
        return row_error(im, I_STATUS, HT_ECONFLICT,
                         "incident \"%s\" is %s; it cannot go back to %s",
                         r->external_id, ht_model_state_name(old.state),
                         ht_model_state_name(r->state));
    }
    if (r->reported_at > old.last_at) {
        return row_error(im, I_REP, HT_ECONFLICT,
                         "after the incident's latest step");
    }
    if (r->state >= HT_STATE_CLOSED && r->closed_at == HT_TIME_NONE) {
        r->closed_at = old.closed_at;
    }
    if (r->state != old.state) {
        r->state_at =
            r->state >= HT_STATE_CLOSED && r->closed_at != HT_TIME_NONE
                ? r->closed_at
                : now;
        if (r->state_at < old.last_at) {
            return row_error(im,
                             r->state >= HT_STATE_CLOSED ? I_CLOSED : I_STATUS,
                             HT_ECONFLICT,
                             "the step to %s would come before the "
                             "incident's latest step",
                             ht_model_state_name(r->state));
        }
        if (r->state >= HT_STATE_CLOSED && r->closed_at == HT_TIME_NONE) {
            r->closed_at = r->state_at;
        }
    }
    return HT_OK;
}

static ht_status row_incident(importer *im) {
    ht_incident_rec r = {.severity = 1,
                         .source = HT_SOURCE_OTHER,
                         .state = HT_STATE_REPORTED,
                         .state_at = HT_TIME_NONE};
    ht_status st = need(im, I_ID, &r.external_id);
    if (st == HT_OK) {
        st = need(im, I_CAT, &r.category);
    }
    if (st != HT_OK) {
        return st;
    }
    if ((st = check_category(im, r.category)) != HT_OK) {
        return st;
    }
    if (val(im, I_SEV)) {
        long long sev;
        if ((st = parse_int(im, I_SEV, 1, 3, &sev)) != HT_OK) {
            return st;
        }
        r.severity = (int)sev;
    }
    if (val(im, I_SRC) && (st = ht_model_source_parse(val(im, I_SRC), &r.source,
                                                      im->err)) != HT_OK) {
        return row_wrap(im, I_SRC, st);
    }
    if (val(im, I_STATUS) &&
        (st = ht_model_state_parse(val(im, I_STATUS), &r.state, im->err)) !=
            HT_OK) {
        return row_wrap(im, I_STATUS, st);
    }
    if ((st = parse_time(im, I_REP, true, &r.reported_at)) != HT_OK ||
        (st = parse_time(im, I_CLOSED, false, &r.closed_at)) != HT_OK) {
        return st;
    }
    if (r.closed_at != HT_TIME_NONE && r.closed_at < r.reported_at) {
        return row_error(im, I_CLOSED, HT_EINVAL, "before reported_at");
    }
    if (val(im, I_SAT) && *val(im, I_SAT)) {
        if ((st = ht_model_satisfaction_parse(val(im, I_SAT), &r.satisfaction,
                                              im->err)) != HT_OK) {
            return row_wrap(im, I_SAT, st);
        }
        if (r.satisfaction != HT_SAT_NONE && r.state != HT_STATE_EVALUATED) {
            return row_error(im, I_SAT, HT_EINVAL,
                             "only an evaluated incident has a satisfaction");
        }
    }
    if (val(im, I_WHISTLE) && *val(im, I_WHISTLE)) {
        if ((st = ht_model_whistle_parse(val(im, I_WHISTLE), &r.whistle,
                                         im->err)) != HT_OK) {
            return row_wrap(im, I_WHISTLE, st);
        }
        if (r.whistle != HT_WHISTLE_NONE && r.source != HT_SOURCE_WHISTLE) {
            return row_error(im, I_WHISTLE, HT_EINVAL,
                             "only a whistle (source whistle) has a kind");
        }
    }
    double x, y;
    if (im->csv) {
        if ((st = parse_double(im, I_LON, &x)) != HT_OK ||
            (st = parse_double(im, I_LAT, &y)) != HT_OK) {
            return st;
        }
    } else {
        if (!im->geom || im->geom->type != HT_GEOM_POINT ||
            im->geom->npts != 1) {
            return row_error(im, -1, HT_EINVAL,
                             "an incident needs a Point geometry");
        }
        x = im->geom->pts[0].x;
        y = im->geom->pts[0].y;
    }
    if ((st = ht_crs_transform_point(im->tf, x, y, &r.lon, &r.lat, im->err)) !=
        HT_OK) {
        return row_wrap(im, im->csv ? I_LON : -1, st);
    }
    const char *grid =
        ht_locator_find_grid(im->loc, r.lon, r.lat, r.reported_at, -1);
    if ((im->o->lifecycle || im->o->scope) &&
        (st = guard_incident(im, &r, grid)) != HT_OK) {
        return st;
    }
    int64_t street =
        ht_locator_find_street(im->loc, r.lon, r.lat, im->snap_m, NULL);
    ht_put_result res;
    int64_t id;
    st = ht_store_put_incident(im->s, &r, grid, street, &res, &id, im->err);
    if (st != HT_OK) {
        return row_wrap(im, -1, st);
    }
    count(im, res);
    return HT_OK;
}

static ht_status row_rule(importer *im) {
    ht_rule_rec r = {0};
    ht_status st = need(im, R_CAT, &r.category);
    if (st != HT_OK) {
        return st;
    }
    if ((st = check_category(im, r.category)) != HT_OK) {
        return st;
    }
    if (val(im, R_SEV) && *val(im, R_SEV)) {
        long long sev;
        if ((st = parse_int(im, R_SEV, 0, 3, &sev)) != HT_OK) {
            return st;
        }
        r.severity = (int)sev;
    }
    if (!val(im, R_RESP) || !val(im, R_RESOL)) {
        return row_error(im, val(im, R_RESP) ? R_RESOL : R_RESP, HT_EINVAL,
                         "missing");
    }
    if ((st = parse_double(im, R_RESP, &r.response_h)) != HT_OK ||
        (st = parse_double(im, R_RESOL, &r.resolution_h)) != HT_OK) {
        return st;
    }
    ht_put_result res;
    st = ht_store_put_rule(im->s, &r, &res, im->err);
    if (st != HT_OK) {
        return row_wrap(im, -1, st);
    }
    count(im, res);
    return HT_OK;
}

static bool valid_color(const char *c) {
    if (!c || c[0] != '#' || (strlen(c) != 7 && strlen(c) != 4)) {
        return false;
    }
    for (const char *p = c + 1; *p; p++) {
        if (ht_hex_digit((unsigned char)*p) < 0) {
            return false;
        }
    }
    return true;
}

static ht_status row_category(importer *im) {
    ht_category_rec r = {0};
    ht_status st = need(im, C_CODE, &r.code);
    if (st == HT_OK) {
        st = need(im, C_NAME, &r.name);
    }
    if (st != HT_OK) {
        return st;
    }
    r.parent_code = val(im, C_PARENT);
    r.color = val(im, C_COLOR);
    if (r.color && !valid_color(r.color)) {
        return row_error(im, C_COLOR, HT_EINVAL,
                         "\"%s\" is not a colour (#rrggbb)", r.color);
    }
    r.dictionary = val(im, C_DICT);
    if (!r.dictionary) {
        r.dictionary = im->o->dictionary ? im->o->dictionary : "local";
    }
    if (r.parent_code && strcmp(r.parent_code, r.code) == 0) {
        return row_error(im, C_PARENT, HT_EINVAL,
                         "a category cannot be its "
                         "own parent");
    }
    ht_put_result res;
    if ((st = ht_store_put_category(im->s, &r, &res, im->err)) != HT_OK) {
        return row_wrap(im, -1, st);
    }
    count(im, res);
    return HT_OK;
}

static ht_status process_row(importer *im) {
    im->stats->rows++;
    if (im->o->progress && im->stats->rows % 10000 == 0) {
        im->o->progress(im->stats->rows,
                        im->in ? ht_csv_offset(im->in) : im->where, im->total,
                        im->o->progress_ud);
    }
    for (int f = 0; f < im->nf; f++) {
        size_t len = im->val[f] ? strlen(im->val[f]) : 0;
        if (len > field_max[im->o->kind][f]) {
            return row_error(im, f, HT_EINVAL,
                             "%zu bytes, longer than the %u allowed", len,
                             (unsigned)field_max[im->o->kind][f]);
        }
    }
    switch (im->o->kind) {
    case HT_IMPORT_GRIDS:
        return row_grid(im);
    case HT_IMPORT_STREETS:
        return row_street(im);
    case HT_IMPORT_INCIDENTS:
        return row_incident(im);
    case HT_IMPORT_CATEGORIES:
        return row_category(im);
    case HT_IMPORT_RULES:
        return row_rule(im);
    case HT_IMPORT_KIND_COUNT:
        break;
    }
    return ht_error_set(im->err, HT_EINTERNAL, "bad import kind");
}

/* ---- CSV ---- */

static ht_status run_csv(importer *im, ht_csv *c) {
    if (im->o->kind == HT_IMPORT_GRIDS || im->o->kind == HT_IMPORT_STREETS) {
        return ht_error_set(im->err, HT_EINVAL,
                            "%s: %s need geometry: give a GeoJSON file",
                            im->name, kind_names[im->o->kind]);
    }
    im->csv = true;
    size_t nf;
    const char *const *fields;
    bool eof;
    ht_status st = ht_csv_next(c, &nf, &fields, &eof, im->err);
    if (st != HT_OK) {
        ht_error_prefix(im->err, "%s: ", im->name);
        return st;
    }
    if (eof) {
        return ht_error_set(im->err, HT_EINVAL, "%s: the file is empty",
                            im->name);
    }
    int col[F_MAX];
    size_t ncols = nf;
    for (int f = 0; f < im->nf; f++) {
        col[f] = -1;
        for (size_t i = 0; i < nf; i++) {
            const char *h = fields[i];
            while (isspace((unsigned char)*h)) {
                h++;
            }
            size_t hl = strlen(h);
            while (hl && isspace((unsigned char)h[hl - 1])) {
                hl--;
            }
            if (strlen(im->src[f]) == hl && strncmp(h, im->src[f], hl) == 0) {
                col[f] = (int)i;
                break;
            }
        }
    }
    /* Required columns must be in the header. */
    static const int req_inc[] = {I_ID, I_LON, I_LAT, I_CAT, I_REP};
    static const int req_cat[] = {C_CODE, C_NAME};
    static const int req_rule[] = {R_CAT, R_RESP, R_RESOL};
    ht_import_kind kind = im->o->kind;
    const int *req = kind == HT_IMPORT_INCIDENTS ? req_inc
                     : kind == HT_IMPORT_RULES   ? req_rule
                                                 : req_cat;
    size_t nreq = kind == HT_IMPORT_INCIDENTS ? sizeof req_inc / sizeof *req_inc
                  : kind == HT_IMPORT_RULES ? sizeof req_rule / sizeof *req_rule
                                            : sizeof req_cat / sizeof *req_cat;
    for (size_t i = 0; i < nreq; i++) {
        if (col[req[i]] < 0) {
            return ht_error_set(im->err, HT_EINVAL,
                                "%s: line %zu: missing column \"%s\"", im->name,
                                ht_csv_line(c), im->src[req[i]]);
        }
    }
    size_t rows = 0;
    for (;;) {
        st = ht_csv_next(c, &nf, &fields, &eof, im->err);
        if (st != HT_OK) {
            ht_error_prefix(im->err, "%s: ", im->name);
            return st;
        }
        if (eof) {
            break;
        }
        im->where = ht_csv_line(c);
        if (nf != ncols) {
            return row_error(im, -1, HT_EINVAL,
                             "%zu fields where the header has %zu", nf, ncols);
        }
        for (int f = 0; f < im->nf; f++) {
            im->val[f] = col[f] >= 0 ? fields[col[f]] : NULL;
        }
        if ((st = process_row(im)) != HT_OK) {
            return st;
        }
        rows++;
    }
    if (rows == 0) {
        return ht_error_set(im->err, HT_EINVAL,
                            "%s: no data rows after the header", im->name);
    }
    return HT_OK;
}

/* ---- GeoJSON ---- */

static ht_status json_ring(importer *im, json_t *arr, const char *what) {
    if (!json_is_array(arr)) {
        return row_error(im, -1, HT_EINVAL, "geometry: %s is not an array",
                         what);
    }
    ht_status st = ht_geom_start_part(im->geom, im->err);
    size_t i;
    json_t *pt;
    json_array_foreach(arr, i, pt) {
        if (st != HT_OK) {
            break;
        }
        json_t *x = json_array_get(pt, 0), *y = json_array_get(pt, 1);
        if (!json_is_number(x) || !json_is_number(y)) {
            return row_error(im, -1, HT_EINVAL,
                             "geometry: position %zu of a %s is not a pair "
                             "of numbers",
                             i, what);
        }
        st = ht_geom_add_point(im->geom, json_number_value(x),
                               json_number_value(y), im->err);
    }
    return st;
}

static ht_status json_polygon(importer *im, json_t *rings) {
    if (!json_is_array(rings) || json_array_size(rings) == 0) {
        return row_error(im, -1, HT_EINVAL, "geometry: polygon has no rings");
    }
    ht_status st = ht_geom_start_polygon(im->geom, im->err);
    size_t i;
    json_t *ring;
    json_array_foreach(rings, i, ring) {
        if (st == HT_OK) {
            st = json_ring(im, ring, "ring");
        }
    }
    return st;
}

static ht_status json_geometry(importer *im, json_t *g) {
    if (json_is_null(g) || !g) {
        HT_CLEAR(im->geom, ht_geom_free);
        return HT_OK;
    }
    const char *type = json_string_value(json_object_get(g, "type"));
    json_t *coords = json_object_get(g, "coordinates");
    static const char *const names[] = {
        NULL,         "Point",           "LineString",  "Polygon",
        "MultiPoint", "MultiLineString", "MultiPolygon"};
    int t = 0;
    for (int k = 1; k <= 6 && type; k++) {
        if (strcmp(type, names[k]) == 0) {
            t = k;
        }
    }
    if (!t) {
        return row_error(im, -1, HT_EINVAL,
                         "geometry type \"%s\" not supported",
                         type ? type : "(none)");
    }
    if (!json_is_array(coords)) {
        return row_error(im, -1, HT_EINVAL, "geometry has no coordinates");
    }
    if (!im->geom && !(im->geom = ht_geom_new((ht_geom_type)t))) {
        return ht_error_set(im->err, HT_ENOMEM, "out of memory");
    }
    ht_geom_reset(im->geom, (ht_geom_type)t);
    ht_status st = HT_OK;
    size_t i;
    json_t *m;
    switch ((ht_geom_type)t) {
    case HT_GEOM_POINT: {
        json_t *wrap = json_array();
        json_array_append(wrap, coords);
        st = wrap ? json_ring(im, wrap, "Point")
                  : ht_error_set(im->err, HT_ENOMEM, "out of memory");
        json_decref(wrap);
        break;
    }
    case HT_GEOM_LINESTRING:
        st = json_ring(im, coords, "LineString");
        break;
    case HT_GEOM_POLYGON:
        st = json_polygon(im, coords);
        break;
    case HT_GEOM_MULTIPOINT:
        json_array_foreach(coords, i, m) {
            json_t *wrap = json_array();
            json_array_append(wrap, m);
            if (st == HT_OK) {
                st = json_ring(im, wrap, "MultiPoint member");
            }
            json_decref(wrap);
        }
        break;
    case HT_GEOM_MULTILINESTRING:
        json_array_foreach(coords, i, m) {
            if (st == HT_OK) {
                st = json_ring(im, m, "MultiLineString member");
            }
        }
        break;
    case HT_GEOM_MULTIPOLYGON:
        json_array_foreach(coords, i, m) {
            if (st == HT_OK) {
                st = json_polygon(im, m);
            }
        }
        break;
    }
    return st;
}

static void json_to_val(importer *im, int f, json_t *v) {
    if (json_is_string(v)) {
        im->val[f] = json_string_value(v);
    } else if (json_is_integer(v)) {
        snprintf(im->num[f], sizeof im->num[f], "%" JSON_INTEGER_FORMAT,
                 json_integer_value(v));
        im->val[f] = im->num[f];
    } else if (json_is_real(v)) {
        snprintf(im->num[f], sizeof im->num[f], "%.17g", json_real_value(v));
        im->val[f] = im->num[f];
    } else if (json_is_true(v) || json_is_false(v)) {
        im->val[f] = json_is_true(v) ? "true" : "false";
    } else {
        im->val[f] = NULL; /* null, absent, or a nested value */
    }
}

static ht_status run_feature(importer *im, json_t *feat) {
    if (!json_is_object(feat) ||
        !json_is_string(json_object_get(feat, "type")) ||
        strcmp(json_string_value(json_object_get(feat, "type")), "Feature")) {
        return row_error(im, -1, HT_EINVAL, "not a GeoJSON Feature");
    }
    json_t *props = json_object_get(feat, "properties");
    if (props && !json_is_object(props) && !json_is_null(props)) {
        return row_error(im, -1, HT_EINVAL, "properties is not an object");
    }
    for (int f = 0; f < im->nf; f++) {
        json_t *v = json_object_get(props, im->src[f]);
        /* The Feature's own "id" stands in for a missing "id" property. */
        if (!v && strcmp(im->src[f], "id") == 0) {
            v = json_object_get(feat, "id");
        }
        json_to_val(im, f, v);
    }
    ht_status st = json_geometry(im, json_object_get(feat, "geometry"));
    return st == HT_OK ? process_row(im) : st;
}

/* The legacy GeoJSON 2008 "crs" member, as a CRS spec; NULL if absent. */
static const char *legacy_crs(json_t *root, char *buf, size_t size) {
    const char *name = json_string_value(json_object_get(
        json_object_get(json_object_get(root, "crs"), "properties"), "name"));
    if (!name) {
        return NULL;
    }
    if (strstr(name, "CRS84")) {
        return "EPSG:4326";
    }
    const char *e = strstr(name, "EPSG");
    if (!e) {
        return name;
    }
    const char *digits = e + 4;
    while (*digits && !isdigit((unsigned char)*digits)) {
        digits++;
    }
    snprintf(buf, size, "EPSG:%s", digits);
    return buf;
}

static ht_status open_transform(importer *im, const char *crs) {
    ht_status st = ht_crs_transform_new(crs, "EPSG:4326", &im->tf, im->err);
    if (st != HT_OK) {
        ht_error_prefix(im->err, "%s: ", im->name);
    }
    return st;
}

static ht_status run_geojson(importer *im, const char *data, size_t len) {
    json_error_t jerr;
    json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        if (len == 0) {
            return ht_error_set(im->err, HT_EINVAL, "%s: the file is empty",
                                im->name);
        }
        return ht_error_set(im->err, HT_EINVAL,
                            "%s: line %d, column %d: malformed JSON: %s",
                            im->name, jerr.line, jerr.column, jerr.text);
    }
    ht_status st = HT_OK;
    char crsbuf[64];
    if (!im->tf) {
        st = open_transform(im, legacy_crs(root, crsbuf, sizeof crsbuf));
    }
    const char *type = json_string_value(json_object_get(root, "type"));
    if (st != HT_OK) {
        /* fallthrough to cleanup */
    } else if (type && strcmp(type, "FeatureCollection") == 0) {
        json_t *feats = json_object_get(root, "features");
        if (!json_is_array(feats)) {
            st = ht_error_set(im->err, HT_EINVAL,
                              "%s: \"features\" is not an array", im->name);
        } else if (json_array_size(feats) == 0) {
            st = ht_error_set(im->err, HT_EINVAL, "%s: no features", im->name);
        }
        im->total = json_array_size(feats);
        for (size_t i = 0; st == HT_OK && i < json_array_size(feats); i++) {
            im->where = i + 1;
            st = run_feature(im, json_array_get(feats, i));
        }
    } else if (type && strcmp(type, "Feature") == 0) {
        im->where = 1;
        st = run_feature(im, root);
    } else {
        st = ht_error_set(im->err, HT_EINVAL,
                          "%s: not a GeoJSON Feature or FeatureCollection",
                          im->name);
    }
    json_decref(root);
    return st;
}

/* ---- after the rows ---- */

static ht_status locate_cb(double lon, double lat, int64_t t, char code[64],
                           int64_t *street, void *ud, ht_error *err) {
    (void)err;
    importer *im = ud;
    const char *c = ht_locator_find_grid(im->loc, lon, lat, t, -1);
    snprintf(code, 64, "%s", c ? c : "");
    *street = ht_locator_find_street(im->loc, lon, lat, im->snap_m, NULL);
    return HT_OK;
}

static ht_status finish(importer *im) {
    ht_status st = HT_OK;
    ht_import_kind k = im->o->kind;
    if (k != HT_IMPORT_GRIDS && k != HT_IMPORT_STREETS) {
        return HT_OK;
    }
    /* Fresh index of what the store now holds, this file included. */
    HT_CLEAR(im->loc, ht_locator_free);
    if ((st = ht_locator_load(im->s, im->snap_m, &im->loc, im->err)) != HT_OK) {
        return st;
    }
    for (size_t i = 0; i < im->nlinks; i++) {
        link *l = &im->links[i];
        const char *parent = ht_locator_find_grid(
            im->loc, l->inside.x, l->inside.y, HT_TIME_NONE, (int)l->level - 1);
        bool changed = false;
        if (parent &&
            (st = ht_store_set_grid_parent(im->s, l->code, parent, &changed,
                                           im->err)) != HT_OK) {
            return st;
        }
        im->stats->linked += changed;
    }
    return ht_store_relocate(im->s, &im->touched, locate_cb, im,
                             &im->stats->relocated, im->err);
}

static ht_status check_categories(importer *im);

static ht_status run(ht_store *s, const char *name, const char *data,
                     size_t len, ht_csv *csv, size_t len_hint,
                     const ht_import_opts *o, ht_import_stats *stats,
                     ht_error *err) {
    importer im = {.s = s,
                   .o = o,
                   .name = name,
                   .err = err,
                   .in = csv,
                   .total = csv ? len_hint : 0};
    ht_import_stats local = {0};
    im.stats = &local;
    im.touched = ht_bbox_empty();
    im.snap_m = o->snap_m > 0 ? o->snap_m : HT_LOCATE_SNAP_M;
    ht_status st = HT_OK;
    if ((int)o->kind < 0 || o->kind >= HT_IMPORT_KIND_COUNT) {
        return ht_error_set(err, HT_EINVAL, "bad import kind");
    }
    for (im.nf = 0; im.nf < F_MAX && kind_fields[o->kind][im.nf]; im.nf++) {
        im.src[im.nf] = kind_fields[o->kind][im.nf];
    }
    for (size_t i = 0; i < o->nmaps; i++) {
        const char *eq = strchr(o->map_name[i], '=');
        size_t n = eq ? (size_t)(eq - o->map_name[i]) : strlen(o->map_name[i]);
        int f = field_index(o->kind, o->map_name[i], n);
        if (f < 0) {
            return ht_error_set(err, HT_EINVAL, "--field %s: unknown field",
                                o->map_name[i]);
        }
        im.src[f] = o->map_source[i];
    }
    if (o->level) {
        if ((st = ht_model_level_parse(o->level, &im.level, err)) != HT_OK) {
            ht_error_prefix(err, "--level: ");
            return st;
        }
        im.have_level = true;
    }
    if (o->crs || csv) {
        if ((st = open_transform(&im, o->crs)) != HT_OK) {
            return st;
        }
    }
    if (!o->in_transaction && (st = ht_store_begin(s, err)) != HT_OK) {
        ht_crs_transform_free(im.tf);
        return st;
    }
    if (o->kind == HT_IMPORT_INCIDENTS) {
        st = ht_locator_load(s, im.snap_m, &im.loc, err);
        /* Large files load faster without SpatiaLite's per-row triggers;
         * small ones are not worth a schema change. */
        if (st == HT_OK && len_hint > HT_IMPORT_BULK_BYTES) {
            /* About 90 bytes a CSV row, 250 a GeoJSON feature. */
            st = ht_store_bulk_begin(s, len_hint / (csv ? 90 : 250), err);
        }
    }
    if (st == HT_OK) {
        st = csv ? run_csv(&im, csv) : run_geojson(&im, data, len);
    }
    if (st == HT_OK && o->kind == HT_IMPORT_INCIDENTS) {
        ht_import_counts held = {0};
        st = ht_store_bulk_flush(s, &held, err);
        local.inserted += (size_t)held.inserted;
        local.updated += (size_t)held.updated;
        local.unchanged += (size_t)held.unchanged;
    }
    if (st == HT_OK) {
        st = finish(&im);
    }
    if (st == HT_OK && o->kind == HT_IMPORT_CATEGORIES) {
        st = check_categories(&im);
    }
    if (!o->in_transaction) {
        if (st == HT_OK) {
            st = ht_store_commit(s, err);
        } else {
            ht_store_rollback(s);
        }
    }
    for (size_t i = 0; i < im.nlinks; i++) {
        free(im.links[i].code);
    }
    free(im.links);
    ht_geom_free(im.geom);
    ht_locator_free(im.loc);
    ht_crs_transform_free(im.tf);
    if (st == HT_OK && stats) {
        *stats = local;
    }
    return st;
}

static ht_status check_categories(importer *im) {
    char orphan[64];
    ht_status st = ht_store_category_orphan(im->s, orphan, im->err);
    if (st == HT_EINVAL) {
        return ht_error_set(im->err, HT_EINVAL,
                            "%s: category \"%s\" names a parent_code that "
                            "is not in the dictionary",
                            im->name, orphan);
    }
    return st;
}

static bool looks_geojson(const char *name, const char *data, size_t len) {
    size_t n = strlen(name);
    if ((n >= 8 && strcasecmp(name + n - 8, ".geojson") == 0) ||
        (n >= 5 && strcasecmp(name + n - 5, ".json") == 0)) {
        return true;
    }
    if ((n >= 4 && strcasecmp(name + n - 4, ".csv") == 0) || !data) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (!isspace((unsigned char)data[i])) {
            return data[i] == '{';
        }
    }
    return false;
}

ht_status ht_import_mem(ht_store *s, const char *name, const char *data,
                        size_t len, const char *format, const ht_import_opts *o,
                        ht_import_stats *stats, ht_error *err) {
    bool geojson = format ? strcmp(format, "geojson") == 0
                          : looks_geojson(name, data, len);
    if (format && !geojson && strcmp(format, "csv") != 0) {
        return ht_error_set(err, HT_EINVAL, "unknown format \"%s\"", format);
    }
    if (geojson) {
        return run(s, name, data, len, NULL, len, o, stats, err);
    }
    ht_csv *c;
    ht_status st = ht_csv_open_mem(data, len, &c, err);
    if (st == HT_OK) {
        st = run(s, name, NULL, 0, c, len, o, stats, err);
        ht_csv_free(c);
    }
    return st;
}

ht_status ht_import_file(ht_store *s, const char *path, const ht_import_opts *o,
                         ht_import_stats *stats, ht_error *err) {
    size_t n = strlen(path);
    if (n >= 4 && strcasecmp(path + n - 4, ".shp") == 0) {
        return ht_error_set(err, HT_EINVAL,
                            "%s: Shapefiles are not read yet; convert with "
                            "ogr2ogr -f GeoJSON",
                            path);
    }
    struct stat is;
    if (stat(path, &is) == 0 && S_ISDIR(is.st_mode)) {
        return ht_error_set(err, HT_EINVAL,
                            "%s is a folder: give the file to import", path);
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        return ht_error_set(err, HT_EIO, "%s: %s", path, strerror(errno));
    }
    char head[256];
    size_t hn = fread(head, 1, sizeof head, f);
    fclose(f);
    if (looks_geojson(path, head, hn)) {
        ht_buf *b = ht_buf_new();
        if (!b) {
            return ht_error_set(err, HT_ENOMEM, "out of memory");
        }
        ht_status st = ht_buf_read_file(b, path, err);
        if (st == HT_OK) {
            st = run(s, path, (const char *)b->data, b->len, NULL, b->len, o,
                     stats, err);
        }
        ht_buf_free(b);
        return st;
    }
    struct stat sb;
    size_t size = stat(path, &sb) == 0 ? (size_t)sb.st_size : 0;
    ht_csv *c;
    ht_status st = ht_csv_open_file(path, &c, err);
    if (st == HT_OK) {
        st = run(s, path, NULL, 0, c, size, o, stats, err);
        ht_csv_free(c);
    }
    return st;
}
