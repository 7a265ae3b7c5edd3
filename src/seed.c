/* SPDX-License-Identifier: Apache-2.0 */
/* Seeding: worker threads (each with its own store connection and a
 * renderer sharing the snapshot) draw tiles; the calling thread writes
 * them, to an MBTiles file in transactions of a batch, or workers write
 * {z}/{x}/{y}.png files themselves (a temporary name, then renamed).
 * MBTiles is a SQLite file of its own, not hutong's store: its SQL stays
 * here. */
#include "hutong/seed.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hutong/buf.h"
#include "hutong/tile.h"

#define BATCH 256

typedef struct zrange {
    int z;
    uint32_t x0, x1, y0, y1;
} zrange;

static void ranges(const ht_bbox *b, int zmin, int zmax, zrange *out) {
    for (int z = zmin; z <= zmax; z++) {
        double x0, y0, x1, y1;
        ht_tile_lonlat_to_merc(b->minx, b->miny, &x0, &y0);
        ht_tile_lonlat_to_merc(b->maxx, b->maxy, &x1, &y1);
        ht_tile_id a = ht_tile_at(x0, y1, z), c = ht_tile_at(x1, y0, z);
        out[z - zmin] = (zrange){z, a.x, c.x, a.y, c.y};
    }
}

size_t ht_seed_count(const ht_bbox *bbox, int zmin, int zmax) {
    if (zmin < 0 || zmax > 22 || zmin > zmax) {
        return 0;
    }
    zrange r[23];
    ranges(bbox, zmin, zmax, r);
    size_t n = 0;
    for (int k = 0; k <= zmax - zmin; k++) {
        n += (size_t)(r[k].x1 - r[k].x0 + 1) * (r[k].y1 - r[k].y0 + 1);
    }
    return n;
}

/* The tile of index @i in zoom, then column, then row order. */
static ht_tile_id tile_of(const zrange *r, int nz, size_t i) {
    for (int k = 0; k < nz; k++) {
        size_t w = r[k].x1 - r[k].x0 + 1, h = r[k].y1 - r[k].y0 + 1;
        if (i < w * h) {
            return (ht_tile_id){(uint32_t)r[k].z, r[k].x0 + (uint32_t)(i / h),
                                r[k].y0 + (uint32_t)(i % h)};
        }
        i -= w * h;
    }
    return (ht_tile_id){0, 0, 0};
}

typedef struct done_tile {
    ht_tile_id t;
    ht_buf *png;
} done_tile;

typedef struct job {
    const ht_seed_opts *o;
    const ht_features *f;
    const char *db, *path;
    ht_index *ix;
    zrange r[23];
    int nz;
    size_t total;
    unsigned char *skip; /* a bit per tile already there */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t next;
    done_tile queue[64];
    size_t qlen;
    size_t finished; /* tiles a worker is through with */
    bool stop;
    ht_status st;
    ht_error err;
} job;

static void job_fail(job *j, ht_status st, const ht_error *err) {
    pthread_mutex_lock(&j->mu);
    if (j->st == HT_OK) {
        j->st = st;
        j->err = *err;
    }
    j->stop = true;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

/* A folder tile, written under a temporary name and renamed. */
static ht_status write_file(const char *root, ht_tile_id t, const ht_buf *b,
                            ht_error *err) {
    char path[4200], tmp[4300];
    snprintf(path, sizeof path, "%s/%u", root, t.z);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%u/%u", root, t.z, t.x);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%u/%u/%u.png", root, t.z, t.x, t.y);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    bool ok = f && fwrite(b->data, 1, b->len, f) == b->len;
    ok = f && fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return ht_error_set(err, HT_EIO, "cannot write tile %u/%u/%u: %s", t.z,
                            t.x, t.y, strerror(e));
    }
    return HT_OK;
}

static void *worker(void *arg) {
    job *j = arg;
    ht_error err = {0};
    ht_store *store = NULL;
    ht_renderer *r = NULL;
    ht_status st = ht_store_open(j->db, HT_STORE_READONLY, &store, &err);
    if (st == HT_OK) {
        st = ht_renderer_new(store, j->f, &r, &err);
    }
    if (st == HT_OK) {
        ht_renderer_set_index(r, j->ix);
    } else {
        job_fail(j, st, &err);
    }
    for (;;) {
        pthread_mutex_lock(&j->mu);
        size_t i = j->next;
        bool quit = j->stop || i >= j->total || st != HT_OK;
        j->next += !quit;
        pthread_mutex_unlock(&j->mu);
        if (quit) {
            break;
        }
        ht_tile_id t = tile_of(j->r, j->nz, i);
        if (j->skip && (j->skip[i / 8] >> (i % 8) & 1)) {
            pthread_mutex_lock(&j->mu);
            j->finished++;
            pthread_cond_broadcast(&j->cv);
            pthread_mutex_unlock(&j->mu);
            continue;
        }
        ht_buf *png = ht_buf_new();
        ht_render_req req = {.style = j->o->style,
                             .bbox = ht_tile_bbox(t),
                             .width = 256,
                             .height = 256,
                             .scale = 1,
                             .filter = j->o->filter};
        st = png ? ht_render_to_buf(r, &req, 1, NULL, HT_IMAGE_PNG, png, &err)
                 : ht_error_set(&err, HT_ENOMEM, "out of memory");
        if (st == HT_OK && j->o->folder) {
            st = write_file(j->path, t, png, &err);
            ht_buf_free(png);
            png = NULL;
        }
        if (st != HT_OK) {
            ht_buf_free(png);
            job_fail(j, st, &err);
            break;
        }
        pthread_mutex_lock(&j->mu);
        while (png && !j->stop &&
               j->qlen == sizeof j->queue / sizeof *j->queue) {
            pthread_cond_wait(&j->cv, &j->mu);
        }
        if (png && !j->stop) {
            j->queue[j->qlen++] = (done_tile){t, png};
            png = NULL;
        }
        j->finished++;
        pthread_cond_broadcast(&j->cv);
        pthread_mutex_unlock(&j->mu);
        ht_buf_free(png);
    }
    ht_renderer_free(r);
    ht_store_close(store);
    return NULL;
}

/* ---- MBTiles ---- */

static ht_status sql_err(sqlite3 *db, const char *path, ht_error *err) {
    return ht_error_set(err, HT_EIO, "%s: %s", path, sqlite3_errmsg(db));
}

static ht_status mbtiles_open(const char *path, sqlite3 **out, ht_error *err) {
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                        NULL) != SQLITE_OK) {
        ht_status st = ht_error_set(err, HT_EIO, "cannot write %s: %s", path,
                                    db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return st;
    }
    sqlite3_busy_timeout(db, 5000);
    const char *schema =
        "PRAGMA synchronous = NORMAL;"
        "CREATE TABLE IF NOT EXISTS metadata (name TEXT, value TEXT);"
        "CREATE UNIQUE INDEX IF NOT EXISTS metadata_name ON metadata (name);"
        "CREATE TABLE IF NOT EXISTS tiles (zoom_level INTEGER, tile_column "
        "INTEGER, tile_row INTEGER, tile_data BLOB);"
        "CREATE UNIQUE INDEX IF NOT EXISTS tile_index ON tiles (zoom_level, "
        "tile_column, tile_row);";
    char *msg = NULL;
    if (sqlite3_exec(db, schema, NULL, NULL, &msg) != SQLITE_OK) {
        ht_status st =
            ht_error_set(err, HT_EINVAL, "%s is not an MBTiles file: %s", path,
                         msg ? msg : "unknown error");
        sqlite3_free(msg);
        sqlite3_close(db);
        return st;
    }
    *out = db;
    return HT_OK;
}

static ht_status mbtiles_metadata(sqlite3 *db, const char *path,
                                  const ht_seed_opts *o, ht_error *err) {
    char bounds[128], center[128], zmin[8], zmax[8];
    const ht_bbox *b = &o->bbox;
    snprintf(bounds, sizeof bounds, "%.6f,%.6f,%.6f,%.6f", b->minx, b->miny,
             b->maxx, b->maxy);
    snprintf(center, sizeof center, "%.6f,%.6f,%d", (b->minx + b->maxx) / 2,
             (b->miny + b->maxy) / 2, (o->zmin + o->zmax) / 2);
    snprintf(zmin, sizeof zmin, "%d", o->zmin);
    snprintf(zmax, sizeof zmax, "%d", o->zmax);
    const char *name = o->name ? o->name : ht_style_name(o->style);
    bool overlay = false;
    for (size_t i = 0; i < ht_style_layer_count(o->style); i++) {
        overlay = overlay ||
                  ht_style_layer_at(o->style, i)->type == HT_LAYER_BACKGROUND;
    }
    const char *kv[][2] = {
        {"name", name},
        {"format", "png"},
        {"bounds", bounds},
        {"center", center},
        {"minzoom", zmin},
        {"maxzoom", zmax},
        {"attribution", "hutong"},
        {"type", overlay ? "baselayer" : "overlay"},
        {"version", "1.3"},
        {"description", "hutong tiles of the style of that name"},
    };
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(db,
                           "INSERT OR REPLACE INTO metadata (name, value) "
                           "VALUES (?1, ?2)",
                           -1, &q, NULL) != SQLITE_OK) {
        return sql_err(db, path, err);
    }
    ht_status st = HT_OK;
    for (size_t k = 0; st == HT_OK && k < sizeof kv / sizeof *kv; k++) {
        sqlite3_bind_text(q, 1, kv[k][0], -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, kv[k][1], -1, SQLITE_STATIC);
        if (sqlite3_step(q) != SQLITE_DONE) {
            st = sql_err(db, path, err);
        }
        sqlite3_reset(q);
    }
    sqlite3_finalize(q);
    return st;
}

/* Mark the tiles already in the file (or folder). */
static ht_status mark_existing(job *j, sqlite3 *db, ht_error *err) {
    sqlite3_stmt *q = NULL;
    if (db && sqlite3_prepare_v2(db,
                                 "SELECT 1 FROM tiles WHERE zoom_level = ?1 "
                                 "AND tile_column = ?2 AND tile_row = ?3",
                                 -1, &q, NULL) != SQLITE_OK) {
        return sql_err(db, j->path, err);
    }
    for (size_t i = 0; i < j->total; i++) {
        ht_tile_id t = tile_of(j->r, j->nz, i);
        bool have;
        if (q) {
            sqlite3_bind_int(q, 1, (int)t.z);
            sqlite3_bind_int64(q, 2, t.x);
            sqlite3_bind_int64(q, 3, ((int64_t)1 << t.z) - 1 - t.y);
            have = sqlite3_step(q) == SQLITE_ROW;
            sqlite3_reset(q);
        } else {
            char p[4200];
            snprintf(p, sizeof p, "%s/%u/%u/%u.png", j->path, t.z, t.x, t.y);
            have = access(p, F_OK) == 0;
        }
        if (have) {
            j->skip[i / 8] |= (unsigned char)(1u << (i % 8));
        }
    }
    sqlite3_finalize(q);
    return HT_OK;
}

static ht_status check(const ht_seed_opts *o, ht_error *err) {
    if (!o->style) {
        return ht_error_set(err, HT_EINVAL, "no style to seed");
    }
    if (o->zmin < 0 || o->zmax > 22 || o->zmin > o->zmax) {
        return ht_error_set(err, HT_EINVAL, "zooms %d-%d outside 0..22",
                            o->zmin, o->zmax);
    }
    const ht_bbox *b = &o->bbox;
    if (!(b->minx < b->maxx && b->miny < b->maxy && b->minx >= -180 &&
          b->maxx <= 180 && b->miny >= -85.05 && b->maxy <= 85.05)) {
        return ht_error_set(err, HT_EINVAL,
                            "bbox: W,S,E,N in degrees, W < E, S < N");
    }
    return HT_OK;
}

ht_status ht_seed(ht_renderer *r, ht_store *store, const ht_features *f,
                  const ht_seed_opts *o, const char *path, ht_seed_stats *stats,
                  ht_error *err) {
    memset(stats, 0, sizeof *stats);
    ht_status st = check(o, err);
    if (st != HT_OK) {
        return st;
    }
    job j = {.o = o, .f = f, .db = ht_store_path(store), .path = path};
    pthread_mutex_init(&j.mu, NULL);
    pthread_cond_init(&j.cv, NULL);
    j.nz = o->zmax - o->zmin + 1;
    ranges(&o->bbox, o->zmin, o->zmax, j.r);
    j.total = ht_seed_count(&o->bbox, o->zmin, o->zmax);
    stats->total = j.total;
    sqlite3 *db = NULL;
    if (o->folder) {
        if (mkdir(path, 0755) != 0 && errno != EEXIST) {
            return ht_error_set(err, HT_EIO, "cannot make %s: %s", path,
                                strerror(errno));
        }
    } else {
        st = mbtiles_open(path, &db, err);
        if (st == HT_OK) {
            st = mbtiles_metadata(db, path, o, err);
        }
    }
    j.skip = st == HT_OK ? calloc(j.total / 8 + 1, 1) : NULL;
    if (st == HT_OK && !j.skip) {
        st = ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    if (st == HT_OK) {
        st = mark_existing(&j, db, err);
    }
    if (st == HT_OK) {
        st = ht_renderer_index(r, &j.ix, err);
    }
    for (size_t i = 0; st == HT_OK && i < j.total; i++) {
        stats->skipped += j.skip[i / 8] >> (i % 8) & 1;
    }
    sqlite3_stmt *ins = NULL;
    if (st == HT_OK && db &&
        sqlite3_prepare_v2(db,
                           "INSERT OR REPLACE INTO tiles (zoom_level, "
                           "tile_column, tile_row, tile_data) VALUES (?1, ?2, "
                           "?3, ?4)",
                           -1, &ins, NULL) != SQLITE_OK) {
        st = sql_err(db, path, err);
    }
    int nt = o->threads < 1 ? 1 : o->threads > 16 ? 16 : o->threads;
    pthread_t th[16];
    int started = 0;
    if (st == HT_OK) {
        for (; started < nt; started++) {
            if (pthread_create(&th[started], NULL, worker, &j) != 0) {
                break;
            }
        }
        if (started == 0) {
            st = ht_error_set(err, HT_ENOMEM, "cannot start a thread");
        }
    }
    size_t in_batch = 0, reported = 0;
    bool in_tx = false;
    pthread_mutex_lock(&j.mu);
    while (st == HT_OK && started > 0) {
        while (j.qlen == 0 && !j.stop && j.finished < j.total) {
            pthread_cond_wait(&j.cv, &j.mu);
        }
        if (j.st != HT_OK) {
            st = j.st;
            *err = j.err;
            break;
        }
        if (j.qlen == 0 && j.finished >= j.total) {
            break;
        }
        done_tile d[64];
        size_t n = j.qlen;
        memcpy(d, j.queue, n * sizeof *d);
        j.qlen = 0;
        size_t fin = j.finished;
        pthread_cond_broadcast(&j.cv);
        pthread_mutex_unlock(&j.mu);
        for (size_t k = 0; k < n; k++) {
            if (st == HT_OK && !in_tx) {
                in_tx =
                    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
                st = in_tx ? HT_OK : sql_err(db, path, err);
            }
            if (st == HT_OK) {
                sqlite3_bind_int(ins, 1, (int)d[k].t.z);
                sqlite3_bind_int64(ins, 2, d[k].t.x);
                sqlite3_bind_int64(ins, 3,
                                   ((int64_t)1 << d[k].t.z) - 1 - d[k].t.y);
                sqlite3_bind_blob(ins, 4, d[k].png->data, (int)d[k].png->len,
                                  SQLITE_STATIC);
                if (sqlite3_step(ins) != SQLITE_DONE) {
                    st = sql_err(db, path, err);
                }
                sqlite3_reset(ins);
            }
            ht_buf_free(d[k].png);
            if (st == HT_OK && ++in_batch == BATCH) {
                st = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK
                         ? HT_OK
                         : sql_err(db, path, err);
                in_tx = false;
                in_batch = 0;
            }
        }
        if (o->progress && fin != reported) {
            o->progress(fin, j.total, o->ud);
            reported = fin;
        }
        pthread_mutex_lock(&j.mu);
        if (st != HT_OK) {
            j.stop = true;
            pthread_cond_broadcast(&j.cv);
        }
    }
    if (started > 0) {
        j.stop = j.stop || st != HT_OK;
        pthread_cond_broadcast(&j.cv);
    }
    pthread_mutex_unlock(&j.mu);
    for (int k = 0; k < started; k++) {
        pthread_join(th[k], NULL);
    }
    for (size_t k = 0; k < j.qlen; k++) {
        ht_buf_free(j.queue[k].png);
    }
    /* Tiles drawn before a failure are good ones: kept, for the next run
     * to skip. */
    if (in_tx && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK &&
        st == HT_OK) {
        st = sql_err(db, path, err);
    }
    if (st == HT_OK && o->progress && reported != j.total) {
        o->progress(j.total, j.total, o->ud);
    }
    stats->drawn =
        j.finished > stats->skipped ? j.finished - stats->skipped : 0;
    pthread_cond_destroy(&j.cv);
    pthread_mutex_destroy(&j.mu);
    sqlite3_finalize(ins);
    sqlite3_close(db);
    free(j.skip);
    return st;
}
