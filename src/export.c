/* SPDX-License-Identifier: Apache-2.0 */
/* Complete dumps of the store: incidents, grids and streets as CSV,
 * GeoJSON or GeoPackage (through SpatiaLite, which writes it), a row at a
 * time. */
#include "hutong/export.h"

#include <jansson.h>
#include <math.h>
#include <sqlite3.h>
/* (after sqlite3.h, whose types it uses) */
#include <spatialite.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "hutong/buf.h"
#include "hutong/datetime.h"
#include "hutong/model.h"

#define EVERY 10000 /* rows between progress calls */

typedef enum ctype { T_TEXT, T_INT, T_REAL, T_TIME } ctype;

typedef struct column {
    const char *name;
    ctype type;
} column;

/* Incidents: what `hutong import` reads (id the external id), then what
 * the store adds. lon and lat are CSV's geometry. */
static const column inc_cols[] = {{"id", T_TEXT},
                                  {"category", T_TEXT},
                                  {"severity", T_INT},
                                  {"source", T_TEXT},
                                  {"status", T_TEXT},
                                  {"reported_at", T_TIME},
                                  {"closed_at", T_TIME},
                                  {"satisfaction", T_TEXT},
                                  {"whistle_kind", T_TEXT},
                                  {"department", T_TEXT},
                                  {"row_id", T_INT},
                                  {"grid_code", T_TEXT},
                                  {"street_id", T_INT},
                                  {"response_due", T_TIME},
                                  {"resolution_due", T_TIME},
                                  {"dispatched_at", T_TIME},
                                  {"handling_at", T_TIME}};
static const column grid_cols[] = {
    {"code", T_TEXT},        {"name", T_TEXT},      {"level", T_TEXT},
    {"parent_code", T_TEXT}, {"population", T_INT}, {"responsible", T_TEXT},
    {"valid_from", T_TIME},  {"valid_to", T_TIME}};
static const column street_cols[] = {
    {"row_id", T_INT}, {"id", T_TEXT}, {"name", T_TEXT}, {"kind", T_TEXT}};

#define NCOLS(a) (sizeof a / sizeof *a)
#define MAX_COLS 17

typedef struct val {
    bool null;
    const char *s;
    int64_t i;
    double d;
} val;

static val text(const char *s) {
    return (val){.null = !s, .s = s};
}
static val num(int64_t i) {
    return (val){.i = i};
}
static val num_or_null(int64_t i, bool null) {
    return (val){.null = null, .i = i};
}
static val at(int64_t t) {
    return (val){.null = t == HT_TIME_NONE, .i = t};
}

static const char *const names[] = {"incidents", "grids", "streets"};

ht_status ht_export_what_parse(const char *s, ht_export_what *out,
                               ht_error *err) {
    for (int k = 0; k < 3; k++) {
        if (s && strcmp(s, names[k]) == 0) {
            *out = (ht_export_what)k;
            return HT_OK;
        }
    }
    return ht_error_set(err, HT_EINVAL,
                        "\"%s\": export incidents, grids or streets",
                        s ? s : "");
}

ht_status ht_export_format_of(const char *path, ht_export_format *out,
                              ht_error *err) {
    const char *dot = path ? strrchr(path, '.') : NULL;
    if (dot && strcasecmp(dot, ".csv") == 0) {
        *out = HT_EXPORT_CSV;
    } else if (dot && (strcasecmp(dot, ".geojson") == 0 ||
                       strcasecmp(dot, ".json") == 0)) {
        *out = HT_EXPORT_GEOJSON;
    } else if (dot && strcasecmp(dot, ".gpkg") == 0) {
        *out = HT_EXPORT_GPKG;
    } else {
        return ht_error_set(err, HT_EINVAL,
                            "\"%s\": the output is .csv, .geojson (.json) or "
                            ".gpkg",
                            path ? path : "");
    }
    return HT_OK;
}

/* ---- a writer of rows ---- */

typedef struct sink {
    const ht_export_opts *o;
    const column *cols;
    size_t ncols;
    FILE *f;
    sqlite3 *db;
    sqlite3_stmt *ins;
    ht_buf *tmp; /* WKT or WKB of a row */
    ht_bbox extent;
    size_t rows;
    bool failed; /* @f could not be written */
} sink;

static void csv_field(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') {
            fputc('"', f);
        }
        fputc(*s, f);
    }
    fputc('"', f);
}

static void wkt_points(ht_buf *b, const ht_geom *g, size_t part) {
    ht_buf_appendf(b, NULL, "(");
    for (size_t k = g->parts[part]; k < ht_geom_part_end(g, part); k++) {
        ht_buf_appendf(b, NULL, "%s%.15g %.15g", k > g->parts[part] ? ", " : "",
                       g->pts[k].x, g->pts[k].y);
    }
    ht_buf_appendf(b, NULL, ")");
}

/* @g (polygons or one line, lon/lat) as WKT in @b. */
static void wkt(ht_buf *b, const ht_geom *g) {
    b->len = 0;
    if (g->type == HT_GEOM_POLYGON || g->type == HT_GEOM_MULTIPOLYGON) {
        ht_buf_appendf(b, NULL, "MULTIPOLYGON(");
        for (size_t j = 0; j < g->npolys; j++) {
            ht_buf_appendf(b, NULL, "%s(", j ? ", " : "");
            for (size_t i = g->polys[j]; i < ht_geom_poly_end(g, j); i++) {
                if (i > g->polys[j]) {
                    ht_buf_appendf(b, NULL, ", ");
                }
                wkt_points(b, g, i);
            }
            ht_buf_appendf(b, NULL, ")");
        }
        ht_buf_appendf(b, NULL, ")");
    } else {
        ht_buf_appendf(b, NULL, "LINESTRING");
        wkt_points(b, g, 0);
    }
    ht_buf_append(b, "", 1, NULL);
}

static json_t *geojson_points(const ht_geom *g, size_t part) {
    json_t *a = json_array();
    for (size_t k = g->parts[part]; k < ht_geom_part_end(g, part); k++) {
        json_array_append_new(a, json_pack("[f,f]", g->pts[k].x, g->pts[k].y));
    }
    return a;
}

static json_t *geojson_geom(const ht_geom *g, double lon, double lat) {
    if (!g) {
        return json_pack("{s:s, s:[f,f]}", "type", "Point", "coordinates", lon,
                         lat);
    }
    if (g->type == HT_GEOM_POLYGON || g->type == HT_GEOM_MULTIPOLYGON) {
        json_t *polys = json_array();
        for (size_t j = 0; j < g->npolys; j++) {
            json_t *rings = json_array();
            for (size_t i = g->polys[j]; i < ht_geom_poly_end(g, j); i++) {
                json_array_append_new(rings, geojson_points(g, i));
            }
            json_array_append_new(polys, rings);
        }
        return json_pack("{s:s, s:o}", "type", "MultiPolygon", "coordinates",
                         polys);
    }
    return json_pack("{s:s, s:o}", "type", "LineString", "coordinates",
                     geojson_points(g, 0));
}

static json_t *val_json(const column *c, const val *v) {
    if (v->null) {
        return json_null();
    }
    char t[32];
    switch (c->type) {
    case T_TEXT:
        return json_string(v->s);
    case T_INT:
        return json_integer(v->i);
    case T_REAL:
        return json_real(v->d);
    case T_TIME:
        ht_datetime_format(v->i, t, sizeof t);
        return json_string(t);
    }
    return json_null();
}

/* One row: its values @v, and its geometry @g (lon/lat; NULL: the point
 * @lon, @lat); @fid its feature id (text, or @fnum when NULL). */
static ht_status put_row(sink *k, const val *v, const ht_geom *g, double lon,
                         double lat, const char *fid, int64_t fnum,
                         ht_error *err) {
    const ht_export_opts *o = k->o;
    if (g) {
        ht_bbox gb = ht_geom_bbox(g);
        ht_bbox_add(&k->extent, gb.minx, gb.miny);
        ht_bbox_add(&k->extent, gb.maxx, gb.maxy);
    } else {
        ht_bbox_add(&k->extent, lon, lat);
    }
    if (o->format == HT_EXPORT_CSV) {
        for (size_t c = 0; c < k->ncols; c++) {
            if (c) {
                fputc(',', k->f);
            }
            char t[32];
            if (v[c].null) {
                continue;
            }
            switch (k->cols[c].type) {
            case T_TEXT:
                csv_field(k->f, v[c].s);
                break;
            case T_INT:
                fprintf(k->f, "%lld", (long long)v[c].i);
                break;
            case T_REAL:
                fprintf(k->f, "%.15g", v[c].d);
                break;
            case T_TIME:
                ht_datetime_format(v[c].i, t, sizeof t);
                fputs(t, k->f);
                break;
            }
        }
        if (g) {
            wkt(k->tmp, g);
            fputc(',', k->f);
            csv_field(k->f, (const char *)k->tmp->data);
        } else {
            fprintf(k->f, ",%.15g,%.15g", lon, lat);
        }
        fputs("\r\n", k->f);
    } else if (o->format == HT_EXPORT_GEOJSON) {
        json_t *props = json_object();
        for (size_t c = 0; c < k->ncols; c++) {
            json_object_set_new(props, k->cols[c].name,
                                val_json(&k->cols[c], &v[c]));
        }
        json_t *f =
            json_pack("{s:s, s:o, s:o, s:o}", "type", "Feature", "id",
                      fid ? json_string(fid) : json_integer(fnum), "properties",
                      props, "geometry", geojson_geom(g, lon, lat));
        if (k->rows) {
            fputs(",\n", k->f);
        }
        json_dumpf(
            f, k->f,
            JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
        json_decref(f);
    } else {
        sqlite3_stmt *q = k->ins;
        sqlite3_reset(q);
        sqlite3_clear_bindings(q);
        int p = 1;
        if (g) {
            k->tmp->len = 0;
            if (ht_geom_to_wkb(g, k->tmp, err) != HT_OK) {
                return HT_ENOMEM;
            }
            sqlite3_bind_blob(q, p++, k->tmp->data, (int)k->tmp->len,
                              SQLITE_STATIC);
        } else {
            sqlite3_bind_double(q, p++, lon);
            sqlite3_bind_double(q, p++, lat);
        }
        for (size_t c = 0; c < k->ncols; c++, p++) {
            char t[32];
            if (v[c].null) {
                continue;
            }
            switch (k->cols[c].type) {
            case T_TEXT:
                sqlite3_bind_text(q, p, v[c].s, -1, SQLITE_STATIC);
                break;
            case T_INT:
                sqlite3_bind_int64(q, p, v[c].i);
                break;
            case T_REAL:
                sqlite3_bind_double(q, p, v[c].d);
                break;
            case T_TIME:
                ht_datetime_format(v[c].i, t, sizeof t);
                sqlite3_bind_text(q, p, t, -1, SQLITE_TRANSIENT);
                break;
            }
        }
        if (sqlite3_step(q) != SQLITE_DONE) {
            return ht_error_set(err, HT_EIO, "writing the GeoPackage: %s",
                                sqlite3_errmsg(k->db));
        }
    }
    if (k->f && ferror(k->f)) {
        k->failed = true;
        return ht_error_set(err, HT_EIO, "the output cannot be written");
    }
    k->rows++;
    if (o->progress && k->rows % EVERY == 0) {
        o->progress(k->rows, o->ud);
    }
    return HT_OK;
}

/* ---- the rows of each ---- */

static ht_status incident_row(const ht_incident_row *r, void *ud,
                              ht_error *err) {
    sink *k = ud;
    const ht_bbox *b = k->o->box;
    if (b && !(r->lon >= b->minx && r->lon <= b->maxx && r->lat >= b->miny &&
               r->lat <= b->maxy)) {
        return HT_OK;
    }
    bool evaluated = r->satisfaction != HT_SAT_NONE;
    bool whistle = r->whistle != HT_WHISTLE_NONE;
    val v[] = {
        text(r->external_id),
        text(r->category),
        num(r->severity),
        text(ht_model_source_name(r->source)),
        text(ht_model_state_name(r->state)),
        at(r->reported_at),
        at(r->closed_at),
        text(evaluated ? ht_model_satisfaction_name(r->satisfaction) : NULL),
        text(whistle ? ht_model_whistle_name(r->whistle) : NULL),
        text(r->department),
        num(r->id),
        text(r->grid_code),
        num_or_null(r->street_id, r->street_id < 0),
        at(r->response_due),
        at(r->resolution_due),
        at(r->dispatched_at),
        at(r->handling_at)};
    return put_row(k, v, NULL, r->lon, r->lat, NULL, r->id, err);
}

static ht_status grid_row(const ht_grid_rec *r, void *ud, ht_error *err) {
    sink *k = ud;
    val v[] = {text(r->code),
               text(r->name),
               text(ht_model_level_name(r->level)),
               text(r->parent_code),
               num_or_null(r->population, r->population < 0),
               text(r->responsible),
               at(r->valid_from),
               at(r->valid_to)};
    return put_row(k, v, r->geom, 0, 0, r->code, 0, err);
}

static ht_status street_row(int64_t id, const ht_street_rec *r, void *ud,
                            ht_error *err) {
    sink *k = ud;
    val v[] = {num(id), text(r->source_id), text(r->name),
               text(ht_model_kind_name(r->kind))};
    return put_row(k, v, r->geom, 0, 0, NULL, id, err);
}

static void columns_of(ht_export_what what, const column **cols, size_t *n) {
    if (what == HT_EXPORT_INCIDENTS) {
        *cols = inc_cols;
        *n = NCOLS(inc_cols);
    } else if (what == HT_EXPORT_GRIDS) {
        *cols = grid_cols;
        *n = NCOLS(grid_cols);
    } else {
        *cols = street_cols;
        *n = NCOLS(street_cols);
    }
}

static ht_status walk(ht_store *s, sink *k, ht_error *err) {
    ht_filter all = ht_filter_all();
    switch (k->o->what) {
    case HT_EXPORT_INCIDENTS:
        return ht_store_each_incident_where(
            s, k->o->filter ? k->o->filter : &all, incident_row, k, err);
    case HT_EXPORT_GRIDS:
        return ht_store_each_grid(s, grid_row, k, err);
    case HT_EXPORT_STREETS:
        return ht_store_each_street(s, street_row, k, err);
    }
    return HT_OK;
}

ht_status ht_export_stream(ht_store *s, const ht_export_opts *o, FILE *out,
                           size_t *rows, ht_error *err) {
    sink k = {.o = o, .f = out, .tmp = ht_buf_new(), .extent = ht_bbox_empty()};
    *rows = 0;
    if (!k.tmp) {
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    columns_of(o->what, &k.cols, &k.ncols);
    if (o->format == HT_EXPORT_CSV) {
        for (size_t c = 0; c < k.ncols; c++) {
            fprintf(out, "%s%s", c ? "," : "", k.cols[c].name);
        }
        fputs(o->what == HT_EXPORT_INCIDENTS ? ",lon,lat\r\n" : ",wkt\r\n",
              out);
    } else {
        fputs("{\"type\":\"FeatureCollection\",\"features\":[\n", out);
    }
    ht_status st = walk(s, &k, err);
    if (st == HT_OK && o->format == HT_EXPORT_GEOJSON) {
        fputs("\n]}\n", out);
    }
    if (st == HT_OK && (fflush(out) != 0 || ferror(out))) {
        st = ht_error_set(err, HT_EIO, "the output cannot be written");
    }
    if (st == HT_OK && o->progress) {
        o->progress(k.rows, o->ud);
    }
    ht_buf_free(k.tmp);
    *rows = k.rows;
    return st;
}

/* ---- GeoPackage ---- */

static ht_status gpkg_exec(sqlite3 *db, const char *sql, ht_error *err) {
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        ht_status st = ht_error_set(err, HT_EIO, "writing the GeoPackage: %s",
                                    msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return st;
    }
    return HT_OK;
}

/* The table, registered as features with its geometry column, and the
 * insert statement of its rows. */
static ht_status gpkg_table(sink *k, ht_error *err) {
    const char *name = names[k->o->what];
    const char *gtype = k->o->what == HT_EXPORT_INCIDENTS ? "POINT"
                        : k->o->what == HT_EXPORT_GRIDS   ? "MULTIPOLYGON"
                                                          : "LINESTRING";
    ht_buf *sql = ht_buf_new();
    ht_buf *ins = ht_buf_new();
    if (!sql || !ins) {
        ht_buf_free(sql);
        ht_buf_free(ins);
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    ht_buf_appendf(sql, NULL,
                   "SELECT gpkgCreateBaseTables(); "
                   /* GeoPackage 1.2 (SpatiaLite says 1.0) */
                   "PRAGMA application_id = 1196444487; "
                   "PRAGMA user_version = 10200; "
                   "CREATE TABLE %s (fid INTEGER PRIMARY KEY",
                   name);
    ht_buf_appendf(ins, NULL, "INSERT INTO %s (geom", name);
    for (size_t c = 0; c < k->ncols; c++) {
        static const char *const types[] = {"TEXT", "INTEGER", "REAL",
                                            "DATETIME"};
        ht_buf_appendf(sql, NULL, ", \"%s\" %s", k->cols[c].name,
                       types[k->cols[c].type]);
        ht_buf_appendf(ins, NULL, ", \"%s\"", k->cols[c].name);
    }
    ht_buf_appendf(
        sql, NULL,
        "); INSERT INTO gpkg_contents (table_name, data_type, identifier, "
        "description, srs_id) VALUES ('%s', 'features', '%s', 'hutong %s', "
        "4326); SELECT gpkgAddGeometryColumn('%s', 'geom', '%s', 0, 0, 4326);",
        name, name, name, name, gtype);
    ht_buf_appendf(ins, NULL, ") VALUES (%s",
                   k->o->what == HT_EXPORT_INCIDENTS
                       ? "AsGPB(MakePoint(?, ?, 4326))"
                   : k->o->what == HT_EXPORT_GRIDS
                       ? "AsGPB(CastToMultiPolygon(GeomFromWKB(?, 4326)))"
                       : "AsGPB(GeomFromWKB(?, 4326))");
    for (size_t c = 0; c < k->ncols; c++) {
        ht_buf_appendf(ins, NULL, ", ?");
    }
    ht_buf_appendf(ins, NULL, ")");
    ht_status st = ht_buf_append(sql, "", 1, err) == HT_OK &&
                           ht_buf_append(ins, "", 1, err) == HT_OK
                       ? gpkg_exec(k->db, (const char *)sql->data, err)
                       : HT_ENOMEM;
    if (st == HT_OK && sqlite3_prepare_v2(k->db, (const char *)ins->data, -1,
                                          &k->ins, NULL) != SQLITE_OK) {
        st = ht_error_set(err, HT_EIO, "writing the GeoPackage: %s",
                          sqlite3_errmsg(k->db));
    }
    ht_buf_free(sql);
    ht_buf_free(ins);
    return st;
}

ht_status ht_export_gpkg(ht_store *s, const ht_export_opts *o, const char *path,
                         size_t *rows, ht_error *err) {
    sink k = {.o = o, .tmp = ht_buf_new(), .extent = ht_bbox_empty()};
    *rows = 0;
    size_t n = strlen(path) + 8;
    char *part = malloc(n);
    if (!k.tmp || !part) {
        ht_buf_free(k.tmp);
        free(part);
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    snprintf(part, n, "%s.part", path);
    unlink(part);
    columns_of(o->what, &k.cols, &k.ncols);
    void *splite = NULL;
    ht_status st = HT_OK;
    if (sqlite3_open_v2(part, &k.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                        NULL) != SQLITE_OK) {
        st = ht_error_set(err, HT_EIO, "%s: %s", path,
                          k.db ? sqlite3_errmsg(k.db) : "cannot be written");
    } else {
        splite = spatialite_alloc_connection();
        spatialite_init_ex(k.db, splite, 0);
        st = gpkg_exec(k.db,
                       "PRAGMA cache_size = -16384; PRAGMA journal_mode = "
                       "OFF; PRAGMA synchronous = OFF; BEGIN",
                       err);
    }
    if (st == HT_OK) {
        st = gpkg_table(&k, err);
    }
    if (st == HT_OK) {
        st = walk(s, &k, err);
    }
    if (st == HT_OK && k.rows) {
        char sql[512];
        snprintf(sql, sizeof sql,
                 "UPDATE gpkg_contents SET min_x = %.7f, min_y = %.7f, "
                 "max_x = %.7f, max_y = %.7f WHERE table_name = '%s'",
                 k.extent.minx, k.extent.miny, k.extent.maxx, k.extent.maxy,
                 names[o->what]);
        st = gpkg_exec(k.db, sql, err);
    }
    if (st == HT_OK) {
        /* the spatial index, built once over every row */
        char sql[320];
        snprintf(
            sql, sizeof sql,
            "SELECT gpkgAddSpatialIndex('%s', 'geom'); "
            "INSERT INTO rtree_%s_geom SELECT fid, MbrMinX(g), MbrMaxX(g), "
            "MbrMinY(g), MbrMaxY(g) FROM (SELECT fid, GeomFromGPB(geom) "
            "AS g FROM %s)",
            names[o->what], names[o->what], names[o->what]);
        st = gpkg_exec(k.db, sql, err);
    }
    if (st == HT_OK) {
        st = gpkg_exec(k.db, "COMMIT", err);
    }
    sqlite3_finalize(k.ins);
    if (k.db && sqlite3_close(k.db) != SQLITE_OK && st == HT_OK) {
        st = ht_error_set(err, HT_EIO, "%s: cannot be closed", path);
    }
    if (splite) {
        spatialite_cleanup_ex(splite);
    }
    if (st == HT_OK && rename(part, path) != 0) {
        st = ht_error_set(err, HT_EIO, "%s: cannot be written", path);
    }
    if (st != HT_OK) {
        unlink(part);
    } else if (o->progress) {
        o->progress(k.rows, o->ud);
    }
    free(part);
    ht_buf_free(k.tmp);
    *rows = k.rows;
    return st;
}
