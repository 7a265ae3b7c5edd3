/* SPDX-License-Identifier: Apache-2.0 */
/* The hutong command line. */
#include "hutong/cli.h"

#include <errno.h>
#include <limits.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hutong/buf.h"
#include "hutong/crs.h"
#include "hutong/datetime.h"
#include "hutong/demo.h"
#include "hutong/features.h"
#include "hutong/filter.h"
#include "hutong/heat.h"
#include "hutong/import.h"
#include "hutong/index.h"
#include "hutong/log.h"
#include "hutong/png.h"
#include "hutong/print.h"
#include "hutong/render.h"
#include "hutong/seed.h"
#include "hutong/server.h"
#include "hutong/stats.h"
#include "hutong/store.h"
#include "hutong/style.h"
#include "hutong/summary.h"
#include "hutong/tile.h"
#include "hutong/token.h"

#define EXIT_USAGE 2

static const char usage_text[] =
    "usage: hutong COMMAND [OPTIONS]\n"
    "\n"
    "commands:\n"
    "  init      [--db FILE]                create or migrate a database\n"
    "  import    grids|streets|incidents|categories FILE [--crs CRS]\n"
    "            [--level L] [--field NAME=SOURCE ...] [--snap M]\n"
    "            [--dictionary D] [--db FILE]\n"
    "  demo      [--db FILE] [--seed N] [--end DATE] [--incidents N]\n"
    "            [--force]                  build the Dongcheng demo, then\n"
    "                                       summarise it\n"
    "  summary   [--db FILE]                what a database holds\n"
    "  render    tile Z X Y --style S [--scale 1|2] -o OUT.png [--db FILE]\n"
    "  render    map (--bbox W,S,E,N | --grid CODE) --size WxH [--crs CRS]\n"
    "            --style S [--scale N] -o OUT.png|svg|pdf [--db FILE]\n"
    "  render    density --bbox W,S,E,N --cellsize C [--crs CRS]\n"
    "            [--radius M] [--kernel quartic|gaussian] -o OUT.asc\n"
    "  render    legend --style S -o OUT.png\n"
    "            render takes filters: --from --to --window --category\n"
    "            --severity --status --source --grid\n"
    "  stats     [--by street|community|grid|category|month]\n"
    "            [--format table|csv|json] [--limit N] [filters]\n"
    "                                       counts, rates, change, time to\n"
    "                                       close, per group\n"
    "  stats     topics --month YYYY-MM [--by street|community]\n"
    "            [--min N] [--limit N] [--format table|csv|json]\n"
    "                                       the month's rising problems\n"
    "  serve     [--listen ADDR:PORT | --host ADDR --port P] [--threads N]\n"
    "            [--cache-mb M] [--tokens FILE [--private]] [--db FILE]\n"
    "            [--public-url URL] [--request-timeout S]\n"
    "            [--max-connections N] [--max-connections-per-ip N]\n"
    "            [--max-listeners N] [--max-listeners-per-ip N]\n"
    "                                       serve over HTTP until SIGINT or\n"
    "                                       SIGTERM; --tokens allows writes\n"
    "                                       and scoped readers, --private\n"
    "                                       makes every read need a token\n"
    "  token     create --name N [--scope GRIDCODE] [--write]\n"
    "            [--tokens FILE] [--db FILE]\n"
    "                                       make a token (printed once; the\n"
    "                                       file keeps its hash)\n"
    "  print     (--grid CODE | --street CODE | --community CODE | --all)\n"
    "            [--level grid|community|street] [--paper A4|A3|A2|A1|A0]\n"
    "            [--orientation auto|portrait|landscape] [--dpi 150..600]\n"
    "            [--crs CRS] [--style print] [--layer heat|streetheat|none]\n"
    "            [--uniform-scale] [--format pdf|png] [--threads N]\n"
    "            [filters] -o OUT\n"
    "                                       printed grid maps: a page per\n"
    "                                       area (PDF atlas, or a folder of\n"
    "                                       PNG pages); the period defaults\n"
    "                                       to the last 30 days\n"
    "  seed      --style S --zoom Z0-Z1 [--bbox W,S,E,N | --grid CODE]\n"
    "            [filters] [--threads N] -o OUT.mbtiles | DIR\n"
    "                                       pre-rendered tiles (MBTiles 1.3\n"
    "                                       or a {z}/{x}/{y}.png folder);\n"
    "                                       resumable: tiles already there\n"
    "                                       are kept\n"
    "  version\n"
    "\n"
    "--db defaults to $HUTONG_DB, else hutong.db. Exit codes: 0 ok,\n"
    "1 runtime failure, 2 bad usage or bad input.\n";

/* Parsed options: flags with values, and positional arguments. */
typedef struct opts {
    const char *db;
    const char *crs;
    const char *level;
    const char *dictionary;
    const char *seed;
    const char *end;
    const char *incidents;
    const char *snap;
    const char *style;
    const char *out;
    const char *bbox;
    const char *grid;
    const char *size;
    const char *scale;
    const char *from, *to, *window, *category, *severity, *status, *source;
    const char *radius, *kernel, *cellsize;
    const char *by, *format, *month, *limit, *min;
    const char *host, *port, *threads, *cache_mb;
    const char *listen, *tokens, *name, *scope;
    const char *max_conns, *max_conns_ip, *max_listeners, *max_listeners_ip;
    const char *request_timeout, *public_url;
    const char *street, *community, *paper, *orientation, *dpi, *layer, *zoom;
    bool write;
    bool private_reads;
    bool all, uniform_scale;
    const char *fields[HT_IMPORT_MAX_MAPS + 1];
    int nfields;
    bool force;
    const char *pos[4];
    int npos;
} opts;

/* Options that take a value, and where parse() puts it. */
static const struct {
    const char *name;
    size_t at;
} value_opts[] = {
    {"db", offsetof(opts, db)},
    {"crs", offsetof(opts, crs)},
    {"level", offsetof(opts, level)},
    {"dictionary", offsetof(opts, dictionary)},
    {"seed", offsetof(opts, seed)},
    {"end", offsetof(opts, end)},
    {"incidents", offsetof(opts, incidents)},
    {"snap", offsetof(opts, snap)},
    {"style", offsetof(opts, style)},
    {"out", offsetof(opts, out)},
    {"bbox", offsetof(opts, bbox)},
    {"grid", offsetof(opts, grid)},
    {"size", offsetof(opts, size)},
    {"scale", offsetof(opts, scale)},
    {"from", offsetof(opts, from)},
    {"to", offsetof(opts, to)},
    {"window", offsetof(opts, window)},
    {"category", offsetof(opts, category)},
    {"severity", offsetof(opts, severity)},
    {"status", offsetof(opts, status)},
    {"source", offsetof(opts, source)},
    {"radius", offsetof(opts, radius)},
    {"kernel", offsetof(opts, kernel)},
    {"cellsize", offsetof(opts, cellsize)},
    {"listen", offsetof(opts, listen)},
    {"tokens", offsetof(opts, tokens)},
    {"name", offsetof(opts, name)},
    {"scope", offsetof(opts, scope)},
    {"host", offsetof(opts, host)},
    {"port", offsetof(opts, port)},
    {"threads", offsetof(opts, threads)},
    {"cache-mb", offsetof(opts, cache_mb)},
    {"by", offsetof(opts, by)},
    {"format", offsetof(opts, format)},
    {"month", offsetof(opts, month)},
    {"limit", offsetof(opts, limit)},
    {"min", offsetof(opts, min)},
    {"max-connections", offsetof(opts, max_conns)},
    {"max-connections-per-ip", offsetof(opts, max_conns_ip)},
    {"max-listeners", offsetof(opts, max_listeners)},
    {"max-listeners-per-ip", offsetof(opts, max_listeners_ip)},
    {"request-timeout", offsetof(opts, request_timeout)},
    {"public-url", offsetof(opts, public_url)},
    {"street", offsetof(opts, street)},
    {"community", offsetof(opts, community)},
    {"paper", offsetof(opts, paper)},
    {"orientation", offsetof(opts, orientation)},
    {"dpi", offsetof(opts, dpi)},
    {"layer", offsetof(opts, layer)},
    {"zoom", offsetof(opts, zoom)},
};

static int usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "hutong: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(see 'hutong help')\n");
    va_end(ap);
    return EXIT_USAGE;
}

/* Parse argv[first..]: "--name value", "--name=value" or positionals. */
static int parse(int argc, char **argv, int first, const char *allowed,
                 opts *o) {
    memset(o, 0, sizeof *o);
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-o") == 0) {
            a = "--out"; /* the one short option */
        }
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            if (o->npos == 4) {
                return usage_error("too many arguments at \"%s\"", a);
            }
            o->pos[o->npos++] = a;
            continue;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        char key[32];
        if (len >= sizeof key) {
            return usage_error("unknown option \"%s\"", a);
        }
        memcpy(key, name, len);
        key[len] = '\0';
        char probe[40];
        snprintf(probe, sizeof probe, " %s ", key);
        if (!strstr(allowed, probe)) {
            return usage_error("unknown option \"%s\" for this command", a);
        }
        if (strcmp(key, "force") == 0) {
            o->force = true;
            continue;
        }
        if (strcmp(key, "write") == 0) {
            o->write = true;
            continue;
        }
        if (strcmp(key, "private") == 0) {
            o->private_reads = true;
            continue;
        }
        if (strcmp(key, "all") == 0) {
            o->all = true;
            continue;
        }
        if (strcmp(key, "uniform-scale") == 0) {
            o->uniform_scale = true;
            continue;
        }
        const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!v) {
            return usage_error("option \"%s\" needs a value", a);
        }
        if (strcmp(key, "field") == 0) {
            if (o->nfields == HT_IMPORT_MAX_MAPS) {
                return usage_error("too many %s options", "--field");
            }
            o->fields[o->nfields++] = v;
            continue;
        }
        for (size_t k = 0; k < sizeof value_opts / sizeof *value_opts; k++) {
            if (strcmp(key, value_opts[k].name) == 0) {
                *(const char **)((char *)o + value_opts[k].at) = v;
                break;
            }
        }
    }
    if (!o->db) {
        const char *env = getenv("HUTONG_DB");
        o->db = env && *env ? env : "hutong.db";
    }
    return 0;
}

static int exit_code(ht_status st) {
    return st == HT_OK ? 0 : st == HT_EINVAL ? EXIT_USAGE : 1;
}

static int fail(const ht_error *err) {
    fprintf(stderr, "hutong: %s\n", err->msg);
    return exit_code(err->code);
}

static bool file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

static int cmd_init(int argc, char **argv) {
    opts o;
    int rc = parse(argc, argv, 2, " db ", &o);
    if (rc) {
        return rc;
    }
    if (o.npos) {
        return usage_error("init takes no argument (\"%s\")", o.pos[0]);
    }
    bool existed = file_exists(o.db);
    ht_error err = {0};
    ht_store *s;
    if (ht_store_open(o.db, HT_STORE_CREATE, &s, &err) != HT_OK) {
        return fail(&err);
    }
    printf("%s: %s, schema version %d\n", o.db, existed ? "ready" : "created",
           ht_store_schema_version(s));
    ht_store_close(s);
    return 0;
}

static void import_progress(size_t rows, void *ud) {
    fprintf(stderr, "\r%s: %zu rows", (const char *)ud, rows);
}

static int cmd_import(int argc, char **argv) {
    opts o;
    int rc = parse(argc, argv, 2, " db crs level field snap dictionary ", &o);
    if (rc) {
        return rc;
    }
    if (o.npos != 2) {
        return usage_error("import needs a kind and a file");
    }
    ht_error err = {0};
    ht_import_opts io = {0};
    if (ht_import_kind_parse(o.pos[0], &io.kind, &err) != HT_OK) {
        return fail(&err);
    }
    io.crs = o.crs;
    io.level = o.level;
    io.dictionary = o.dictionary;
    if (o.level && io.kind != HT_IMPORT_GRIDS) {
        return usage_error("--level applies to grids only");
    }
    if (o.snap) {
        char *end;
        io.snap_m = strtod(o.snap, &end);
        if (*end || !(io.snap_m > 0) || io.snap_m > 10000) {
            return usage_error("--snap \"%s\": expected metres in (0, 10000]",
                               o.snap);
        }
    }
    for (int i = 0; i < o.nfields; i++) {
        if (ht_import_opts_add_field(&io, o.fields[i], &err) != HT_OK) {
            return fail(&err);
        }
    }
    if (access(o.pos[1], R_OK) != 0) {
        fprintf(stderr, "hutong: %s: %s\n", o.pos[1], strerror(errno));
        return EXIT_USAGE;
    }
    if (!file_exists(o.db)) {
        fprintf(stderr,
                "hutong: %s does not exist (run 'hutong init --db "
                "%s' first)\n",
                o.db, o.db);
        return EXIT_USAGE;
    }
    if (isatty(STDERR_FILENO)) {
        io.progress = import_progress;
        io.progress_ud = (void *)o.pos[1];
    }
    ht_store *s;
    if (ht_store_open(o.db, HT_STORE_WRITE, &s, &err) != HT_OK) {
        return fail(&err);
    }
    ht_import_stats stats;
    ht_status st = ht_import_file(s, o.pos[1], &io, &stats, &err);
    if (io.progress) {
        fprintf(stderr, "\r\033[K");
    }
    ht_store_close(s);
    if (st != HT_OK) {
        fprintf(stderr, "hutong: %s\nhutong: nothing was imported\n", err.msg);
        return exit_code(st);
    }
    printf("%s: %zu %s read: %zu new, %zu updated, %zu unchanged", o.pos[1],
           stats.rows,
           io.kind == HT_IMPORT_INCIDENTS || io.kind == HT_IMPORT_CATEGORIES
               ? "rows"
               : "features",
           stats.inserted, stats.updated, stats.unchanged);
    if (io.kind == HT_IMPORT_GRIDS || io.kind == HT_IMPORT_STREETS) {
        printf("; %zu incidents re-located", stats.relocated);
    }
    if (io.kind == HT_IMPORT_GRIDS) {
        printf("; %zu grids linked to a parent", stats.linked);
    }
    printf("\n");
    return 0;
}

static int print_summary(const char *db) {
    ht_error err = {0};
    ht_store *s;
    if (ht_store_open(db, HT_STORE_READONLY, &s, &err) != HT_OK) {
        return fail(&err);
    }
    ht_buf *b = ht_buf_new();
    ht_status st = b ? ht_summary_text(s, b, &err)
                     : ht_error_set(&err, HT_ENOMEM, "out of memory");
    ht_store_close(s);
    if (st == HT_OK) {
        printf("%s:\n%s", db, (const char *)b->data);
    }
    ht_buf_free(b);
    return st == HT_OK ? 0 : fail(&err);
}

static int cmd_summary(int argc, char **argv) {
    opts o;
    int rc = parse(argc, argv, 2, " db ", &o);
    if (rc) {
        return rc;
    }
    if (!file_exists(o.db)) {
        fprintf(stderr, "hutong: %s does not exist\n", o.db);
        return EXIT_USAGE;
    }
    return print_summary(o.db);
}

static void demo_progress(const char *stage, size_t done, size_t total,
                          void *ud) {
    (void)ud;
    if (total) {
        fprintf(stderr, "\rbuilding the demo: %s %zu/%zu", stage, done, total);
    } else {
        fprintf(stderr, "\r\033[Kbuilding the demo: %s", stage);
    }
}

static int cmd_demo(int argc, char **argv) {
    opts o;
    int rc = parse(argc, argv, 2, " db seed end incidents force ", &o);
    if (rc) {
        return rc;
    }
    ht_demo_opts dopt = {0};
    ht_error err = {0};
    if (o.seed) {
        char *end;
        dopt.seed = strtoull(o.seed, &end, 10);
        if (*end || !dopt.seed) {
            return usage_error("--seed \"%s\": expected a positive number",
                               o.seed);
        }
    }
    if (o.end && ht_datetime_parse(o.end, 1, &dopt.end, &err) != HT_OK) {
        fprintf(stderr, "hutong: --end: %s\n", err.msg);
        return EXIT_USAGE;
    }
    if (o.incidents) {
        char *end;
        unsigned long long n = strtoull(o.incidents, &end, 10);
        if (*end || n == 0 || n > 50000000ULL) {
            return usage_error("--incidents \"%s\": expected 1..50000000",
                               o.incidents);
        }
        dopt.incidents = (size_t)n;
    }
    if (file_exists(o.db) && !o.force) {
        printf("%s exists: using it (--force rebuilds it)\n", o.db);
        return print_summary(o.db);
    }
    /* Build beside the target and rename, so an interrupted build never
     * leaves a half-made database under the real name. */
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.building", o.db);
    char side[4200];
    const char *sfx[] = {"", "-wal", "-shm"};
    for (int k = 0; k < 3; k++) {
        snprintf(side, sizeof side, "%s%s", tmp, sfx[k]);
        remove(side);
    }
    if (isatty(STDERR_FILENO)) {
        dopt.progress = demo_progress;
    }
    ht_store *s;
    ht_demo_stats ds;
    ht_status st = ht_store_open(tmp, HT_STORE_CREATE, &s, &err);
    if (st == HT_OK) {
        st = ht_demo_build(s, &dopt, &ds, &err);
        ht_store_close(s);
    }
    if (dopt.progress) {
        fprintf(stderr, "\r\033[K");
    }
    if (st == HT_OK) {
        for (int k = 0; k < 3 && st == HT_OK; k++) {
            snprintf(side, sizeof side, "%s%s", o.db, sfx[k]);
            remove(side);
        }
        if (rename(tmp, o.db) != 0) {
            st = ht_error_set(&err, HT_EIO, "rename %s: %s", tmp,
                              strerror(errno));
        }
    }
    if (st != HT_OK) {
        remove(tmp);
        return fail(&err);
    }
    printf(
        "built %s: %zu grids, %zu street segments, %zu incidents, %zu "
        "events\n",
        o.db, ds.grids[0] + ds.grids[1] + ds.grids[2] + ds.grids[3], ds.streets,
        ds.incidents, ds.events);
    return print_summary(o.db);
}

static bool parse_bbox(const char *s, ht_bbox *b) {
    return ht_bbox_parse(s, b, NULL) == HT_OK;
}

static bool parse_int(const char *s, long lo, long hi, long *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < lo || v > hi) {
        return false;
    }
    *out = v;
    return true;
}

static const char *extension(const char *path) {
    const char *dot = strrchr(path, '.');
    return dot && !strchr(dot, '/') ? dot + 1 : "";
}

/* Everything a render needs, opened from the options. */
typedef struct render_env {
    ht_store *store;
    ht_features *features;
    ht_renderer *renderer;
    ht_style *style;
} render_env;

static void render_env_close(render_env *e) {
    ht_renderer_free(e->renderer);
    ht_features_free(e->features);
    ht_store_close(e->store);
    ht_style_unref(e->style);
}

static ht_status render_env_open(const opts *o, render_env *e, ht_error *err) {
    memset(e, 0, sizeof *e);
    ht_status st = ht_style_load(o->style, &e->style, err);
    if (st == HT_OK) {
        st = ht_store_open(o->db, HT_STORE_READONLY, &e->store, err);
    }
    if (st == HT_OK) {
        st = ht_features_load(e->store, &e->features, err);
    }
    if (st == HT_OK) {
        st = ht_renderer_new(e->store, e->features, &e->renderer, err);
    }
    if (st != HT_OK) {
        render_env_close(e);
    }
    return st;
}

/* Write the bytes of @b to @path (replacing it). */
static ht_status write_file(const char *path, const ht_buf *b, ht_error *err) {
    FILE *f = fopen(path, "wb");
    ht_status st = HT_OK;
    if (!f || fwrite(b->data, 1, b->len, f) != b->len) {
        st = ht_error_set(err, HT_EIO, "%s: %s", path, strerror(errno));
    }
    if (f && fclose(f) != 0 && st == HT_OK) {
        st = ht_error_set(err, HT_EIO, "%s: %s", path, strerror(errno));
    }
    return st;
}

/* Render @req into the file @path (PNG, SVG or PDF by extension). */
static ht_status render_to_file(render_env *e, const ht_render_req *req,
                                const char *path, ht_error *err) {
    ht_image_format fmt;
    if (ht_image_format_parse(extension(path), &fmt, NULL) != HT_OK) {
        return ht_error_set(err, HT_EINVAL,
                            "%s: output must end in .png, .svg or .pdf", path);
    }
    ht_buf *b = ht_buf_new();
    ht_status st = b ? ht_render_to_buf(e->renderer, req, 1, NULL, fmt, b, err)
                     : ht_error_set(err, HT_ENOMEM, "out of memory");
    if (st == HT_OK) {
        st = write_file(path, b, err);
    }
    ht_buf_free(b);
    return st;
}

/* The filter of the options: --from --to --window --category --severity
 * --status --source --grid. */
static ht_status filter_from_opts(const opts *o, ht_filter *f, ht_error *err) {
    *f = ht_filter_all();
    const char *keys[8] = {"from",     "to",     "window", "category",
                           "severity", "status", "source", "grid"};
    const char *vals[8] = {o->from,     o->to,     o->window, o->category,
                           o->severity, o->status, o->source, o->grid};
    int64_t now = (int64_t)time(NULL);
    for (int k = 0; k < 8; k++) {
        if (vals[k]) {
            ht_status st = ht_filter_set(f, keys[k], vals[k], now, err);
            if (st != HT_OK) {
                ht_error_prefix(err, "--");
                return st;
            }
        }
    }
    return ht_filter_check(f, err);
}

/* `render density`: the exact kernel density at every cell centre, as an
 * ESRI ASCII grid (with a .prj beside it). */
static int cmd_density(const opts *o) {
    ht_bbox b;
    if (!o->bbox || !parse_bbox(o->bbox, &b)) {
        return usage_error("render density needs --bbox W,S,E,N");
    }
    char *end = NULL;
    double cell = o->cellsize ? strtod(o->cellsize, &end) : 0;
    if (!o->cellsize || *end || !(cell > 0)) {
        return usage_error("render density needs --cellsize C > 0");
    }
    double ncd = ceil((b.maxx - b.minx) / cell - 1e-9);
    double nrd = ceil((b.maxy - b.miny) / cell - 1e-9);
    if (ncd * nrd > 16777216.0) {
        return usage_error("--cellsize %g: %.0f x %.0f cells, at most 2^24",
                           cell, ncd, nrd);
    }
    size_t ncols = (size_t)ncd, nrows = (size_t)nrd;
    ht_heat_opts ho = {.radius_m = HT_HEAT_RADIUS_M};
    ht_error err = {0};
    if (o->radius) {
        ho.radius_m = strtod(o->radius, &end);
        if (*end || !(ho.radius_m >= 1 && ho.radius_m <= 5000)) {
            return usage_error("--radius \"%s\": metres in 1..5000", o->radius);
        }
    }
    if (o->kernel &&
        ht_heat_kernel_parse(o->kernel, &ho.kernel, &err) != HT_OK) {
        return fail(&err);
    }
    const char *crs = o->crs ? o->crs : "EPSG:3857";
    if (strcmp(extension(o->out), "asc") != 0) {
        return usage_error("%s: output must end in .asc", o->out);
    }
    ht_filter f;
    if (filter_from_opts(o, &f, &err) != HT_OK) {
        return fail(&err);
    }
    if (!file_exists(o->db)) {
        fprintf(stderr, "hutong: %s does not exist\n", o->db);
        return EXIT_USAGE;
    }
    ht_store *s = NULL;
    ht_index *ix = NULL;
    ht_index_filter *q = NULL;
    ht_transform *t = NULL;
    char *wkt = NULL;
    FILE *out = NULL;
    ht_status st = ht_crs_transform_new(crs, "EPSG:4326", &t, &err);
    if (st == HT_OK) {
        st = ht_crs_wkt(crs, &wkt, &err);
    }
    if (st == HT_OK) {
        st = ht_store_open(o->db, HT_STORE_READONLY, &s, &err);
    }
    if (st == HT_OK) {
        st = ht_index_load(s, &ix, &err);
    }
    if (st == HT_OK) {
        st = ht_index_filter_new(ix, &f, &q, &err);
    }
    if (st == HT_OK && !(out = fopen(o->out, "w"))) {
        st = ht_error_set(&err, HT_EIO, "%s: %s", o->out, strerror(errno));
    }
    if (st == HT_OK) {
        fprintf(out,
                "ncols %zu\nnrows %zu\nxllcorner %.10g\nyllcorner %.10g\n"
                "cellsize %.10g\nNODATA_value -9999\n",
                ncols, nrows, b.minx, b.maxy - (double)nrows * cell, cell);
        for (size_t j = 0; j < nrows; j++) {
            double y = b.maxy - ((double)j + 0.5) * cell;
            for (size_t i = 0; i < ncols; i++) {
                double x = b.minx + ((double)i + 0.5) * cell, lon, lat;
                double v = -9999;
                if (ht_crs_transform_point(t, x, y, &lon, &lat, NULL) ==
                    HT_OK) {
                    v = ht_heat_exact(ix, q, &ho, lon, lat);
                }
                fprintf(out, i ? " %.7g" : "%.7g", v);
            }
            fputc('\n', out);
        }
        if (fclose(out) != 0) {
            st = ht_error_set(&err, HT_EIO, "%s: %s", o->out, strerror(errno));
        }
        out = NULL;
    }
    if (st == HT_OK) {
        char prj[4200];
        snprintf(prj, sizeof prj, "%.*s.prj", (int)(strlen(o->out) - 4),
                 o->out);
        FILE *pf = fopen(prj, "w");
        if (!pf || fputs(wkt, pf) < 0 || fclose(pf) != 0) {
            st = ht_error_set(&err, HT_EIO, "%s: cannot write", prj);
        }
    }
    if (out) {
        fclose(out);
    }
    free(wkt);
    ht_crs_transform_free(t);
    ht_index_filter_free(q);
    ht_index_unref(ix);
    ht_store_close(s);
    if (st != HT_OK) {
        remove(o->out);
        return fail(&err);
    }
    return 0;
}

static int cmd_legend(const opts *o) {
    ht_error err = {0};
    ht_filter f;
    if (filter_from_opts(o, &f, &err) != HT_OK) {
        return fail(&err);
    }
    if (strcmp(extension(o->out), "png") != 0) {
        return usage_error("%s: a legend is a .png", o->out);
    }
    if (!file_exists(o->db)) {
        fprintf(stderr, "hutong: %s does not exist\n", o->db);
        return EXIT_USAGE;
    }
    double scale = o->scale ? strtod(o->scale, NULL) : 1;
    if (!(scale >= 0.25 && scale <= 8)) {
        return usage_error("--scale: expected 0.25..8");
    }
    render_env e;
    if (render_env_open(o, &e, &err) != HT_OK) {
        return fail(&err);
    }
    ht_buf *b = ht_buf_new();
    ht_status st = b ? ht_render_legend_to_buf(e.renderer, e.style, &f, scale,
                                               false, b, &err)
                     : ht_error_set(&err, HT_ENOMEM, "out of memory");
    if (st == HT_OK) {
        st = write_file(o->out, b, &err);
    }
    ht_buf_free(b);
    render_env_close(&e);
    if (st != HT_OK) {
        remove(o->out);
        return fail(&err);
    }
    return 0;
}

static int cmd_render(int argc, char **argv) {
    opts o;
    int rc = parse(argc, argv, 2,
                   " db style out bbox grid size crs scale from to window "
                   "category severity status source radius kernel cellsize ",
                   &o);
    if (rc) {
        return rc;
    }
    bool tile = o.npos >= 1 && strcmp(o.pos[0], "tile") == 0;
    bool map = o.npos >= 1 && strcmp(o.pos[0], "map") == 0;
    bool density = o.npos == 1 && strcmp(o.pos[0], "density") == 0;
    bool legend = o.npos == 1 && strcmp(o.pos[0], "legend") == 0;
    if (!tile && !map && !density && !legend) {
        return usage_error(
            "render needs \"tile Z X Y\", \"map\", "
            "\"density\" or \"legend\"");
    }
    if (!o.out) {
        return usage_error("render needs -o OUT");
    }
    if (density) {
        return cmd_density(&o);
    }
    if (!o.style) {
        return usage_error("render needs --style");
    }
    if (legend) {
        return cmd_legend(&o);
    }
    double scale = 1;
    if (o.scale) {
        char *end;
        scale = strtod(o.scale, &end);
        if (*end || !(scale >= 0.25 && scale <= 8)) {
            return usage_error("--scale \"%s\": expected 0.25..8", o.scale);
        }
    }
    ht_render_req req = {.scale = scale};
    if (tile) {
        long z, x, y;
        if (o.npos != 4 || !parse_int(o.pos[1], -1000000, 1000000, &z) ||
            !parse_int(o.pos[2], -(1L << 31), 1L << 31, &x) ||
            !parse_int(o.pos[3], -(1L << 31), 1L << 31, &y)) {
            return usage_error("render tile needs Z X Y as whole numbers");
        }
        ht_error err = {0};
        if (z < 0 || x < 0 || y < 0 ||
            ht_tile_check((ht_tile_id){(int)z, (uint32_t)x, (uint32_t)y},
                          &err) != HT_OK) {
            if (!err.msg[0]) {
                ht_error_set(&err, HT_EINVAL, "tile %ld/%ld/%ld does not exist",
                             z, x, y);
            }
            fprintf(stderr, "hutong: %s\n", err.msg);
            return EXIT_USAGE;
        }
        if (o.bbox || o.size || o.crs) {
            return usage_error(
                "render tile takes no --bbox, --size "
                "or --crs");
        }
        req.bbox = ht_tile_bbox((ht_tile_id){(int)z, (uint32_t)x, (uint32_t)y});
        req.width = req.height = (int)lround(256 * scale);
    } else {
        long w = 0, h = 0;
        char *xpos = o.size ? strchr(o.size, 'x') : NULL;
        if (!o.size || !xpos) {
            return usage_error("render map needs --size WxH");
        }
        char wbuf[16];
        snprintf(wbuf, sizeof wbuf, "%.*s", (int)(xpos - o.size), o.size);
        if (!parse_int(wbuf, 1, 1L << 30, &w) ||
            !parse_int(xpos + 1, 1, 1L << 30, &h)) {
            return usage_error("--size \"%s\": expected WxH in pixels", o.size);
        }
        if (w > HT_RENDER_MAX_SIZE || h > HT_RENDER_MAX_SIZE) {
            return usage_error("--size %ldx%ld: at most %d px on a side", w, h,
                               HT_RENDER_MAX_SIZE);
        }
        if (!o.bbox == !o.grid) {
            return usage_error("render map needs --bbox or --grid (one)");
        }
        if (o.bbox && !parse_bbox(o.bbox, &req.bbox)) {
            return usage_error(
                "--bbox \"%s\": expected W,S,E,N with W < E "
                "and S < N",
                o.bbox);
        }
        req.width = (int)w;
        req.height = (int)h;
        req.crs = o.crs;
    }
    if (!file_exists(o.db)) {
        fprintf(stderr, "hutong: %s does not exist\n", o.db);
        return EXIT_USAGE;
    }
    ht_error err = {0};
    ht_filter filter;
    /* --grid filters incidents; for a map it also sets the extent. */
    if (filter_from_opts(&o, &filter, &err) != HT_OK) {
        return fail(&err);
    }
    req.filter = &filter;
    render_env e;
    if (render_env_open(&o, &e, &err) != HT_OK) {
        return fail(&err);
    }
    req.style = e.style;
    ht_status st = HT_OK;
    if (o.grid) {
        st = ht_render_fit_grid(e.features, o.grid, o.crs, req.width,
                                req.height, &req.bbox, &err);
    }
    if (st == HT_OK) {
        st = render_to_file(&e, &req, o.out, &err);
    }
    render_env_close(&e);
    if (st != HT_OK) {
        remove(o.out);
        return fail(&err);
    }
    return 0;
}

/* ---- stats ---- */

typedef enum out_format { FMT_TABLE, FMT_CSV, FMT_JSON } out_format;

static bool parse_format(const char *s, out_format *f) {
    if (!s || strcmp(s, "table") == 0) {
        *f = FMT_TABLE;
    } else if (strcmp(s, "csv") == 0) {
        *f = FMT_CSV;
    } else if (strcmp(s, "json") == 0) {
        *f = FMT_JSON;
    } else {
        return false;
    }
    return true;
}

/* Columns a UTF-8 string takes on a terminal: CJK (3- and 4-byte
 * sequences) two, others one. */
static int display_width(const char *s) {
    int w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p & 0xC0) != 0x80) {
            w += *p >= 0xE0 ? 2 : 1;
        }
    }
    return w;
}

static void print_padded(const char *s, int width) {
    fputs(s, stdout);
    for (int k = display_width(s); k < width; k++) {
        putchar(' ');
    }
}

/* Column @c of a table row: left-aligned text or right-aligned figures,
 * one space between columns and none at the end of the line. */
static void table_cell(int c, const char *s, int width, bool left) {
    if (c > 0) {
        putchar(' ');
    }
    if (left) {
        print_padded(s, width);
    } else {
        printf("%*s", width, s);
    }
}

/* A CSV field, quoted when it needs to be. */
static void print_csv_text(const char *s) {
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        if (*s == '"') {
            putchar('"');
        }
        putchar(*s);
    }
    putchar('"');
}

/* A number cell: empty in CSV and "-" in tables when it does not apply. */
static void num_cell(char *buf, size_t len, double v, int decimals, bool csv) {
    if (isnan(v)) {
        snprintf(buf, len, "%s", csv ? "" : "-");
    } else {
        snprintf(buf, len, "%.*f", decimals, v);
    }
}

static bool parse_count(const char *s, long lo, long hi, long *out) {
    char *end = NULL;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || v < lo || v > hi) {
        return false;
    }
    *out = v;
    return true;
}

static void print_stats_rows(const ht_stats_row *r, size_t n, size_t limit,
                             ht_stats_by by, out_format fmt,
                             const ht_filter *f) {
    static const char *const heads[] = {
        "rank",           "key",          "name",
        "count",          "share_pct",    "prev",
        "change_pct",     "per_km2",      "per_1000",
        "median_close_h", "response_pct", "resolution_pct",
        "evaluated_pct"};
    enum { NH = sizeof heads / sizeof *heads };
    size_t shown = n < limit ? n : limit;
    if (fmt == FMT_JSON) {
        char *j = ht_stats_rows_json(r, n, limit, by, f);
        if (j) {
            puts(j);
        }
        free(j);
        return;
    }
    bool csv = fmt == FMT_CSV;
    int widths[NH] = {4, 3, 4, 8, 7, 8, 8, 8, 8, 9, 9, 9, 9};
    for (size_t k = 0; k < shown; k++) {
        int kw = display_width(r[k].key), nw = display_width(r[k].name);
        widths[1] = kw > widths[1] ? kw : widths[1];
        widths[2] = nw > widths[2] ? nw : widths[2];
    }
    if (csv) {
        for (int c = 0; c < NH; c++) {
            printf(c ? ",%s" : "%s", heads[c]);
        }
        putchar('\n');
    } else {
        static const char *const short_heads[NH] = {
            "rank", "key",   "name",    "count", "share%", "prev", "change%",
            "/km2", "/1000", "close h", "resp%", "resol%", "eval%"};
        for (int c = 0; c < NH; c++) {
            table_cell(c, short_heads[c], widths[c], c == 1 || c == 2);
        }
        putchar('\n');
    }
    for (size_t k = 0; k < shown; k++) {
        char cell[NH][48];
        snprintf(cell[0], sizeof cell[0], "%d", r[k].rank);
        snprintf(cell[3], sizeof cell[3], "%lld", (long long)r[k].count);
        num_cell(cell[4], sizeof cell[4], r[k].share * 100, 1, csv);
        if (r[k].prev >= 0) {
            snprintf(cell[5], sizeof cell[5], "%lld", (long long)r[k].prev);
        } else {
            snprintf(cell[5], sizeof cell[5], "%s", csv ? "" : "-");
        }
        num_cell(cell[6], sizeof cell[6], r[k].change_pct, 1, csv);
        num_cell(cell[7], sizeof cell[7], r[k].per_km2, 1, csv);
        num_cell(cell[8], sizeof cell[8], r[k].per_1000, 2, csv);
        num_cell(cell[9], sizeof cell[9], r[k].median_close_h, 1, csv);
        num_cell(cell[10], sizeof cell[10], r[k].response * 100, 1, csv);
        num_cell(cell[11], sizeof cell[11], r[k].resolution * 100, 1, csv);
        num_cell(cell[12], sizeof cell[12], r[k].evaluated * 100, 1, csv);
        for (int c = 0; c < NH; c++) {
            if (csv) {
                if (c) {
                    putchar(',');
                }
                if (c == 1) {
                    print_csv_text(r[k].key);
                } else if (c == 2) {
                    print_csv_text(r[k].name);
                } else {
                    fputs(cell[c], stdout);
                }
            } else {
                table_cell(c,
                           c == 1   ? r[k].key
                           : c == 2 ? r[k].name
                                    : cell[c],
                           widths[c], c == 1 || c == 2);
            }
        }
        putchar('\n');
    }
}

static void print_topics(const ht_topic *t, size_t n, const char *month,
                         out_format fmt) {
    if (fmt == FMT_JSON) {
        char *j = ht_stats_topics_json(t, n, month);
        if (j) {
            puts(j);
        }
        free(j);
        return;
    }
    if (fmt == FMT_CSV) {
        puts("rank,category,category_name,area,area_name,count,prev,score");
        for (size_t k = 0; k < n; k++) {
            printf("%zu,", k + 1);
            print_csv_text(t[k].category);
            putchar(',');
            print_csv_text(t[k].category_name);
            putchar(',');
            print_csv_text(t[k].area);
            putchar(',');
            print_csv_text(t[k].area_name);
            printf(",%lld,%lld,%.3f\n", (long long)t[k].count,
                   (long long)t[k].prev, t[k].score);
        }
        return;
    }
    printf("rising problems of %s (score = (count - prev) / sqrt(prev + 1))\n",
           month);
    printf("%4s ", "rank");
    print_padded("category", 30);
    putchar(' ');
    print_padded("area", 30);
    printf(" %6s %6s %7s\n", "count", "prev", "score");
    for (size_t k = 0; k < n; k++) {
        char a[160], b[160];
        snprintf(a, sizeof a, "%s %s", t[k].category, t[k].category_name);
        snprintf(b, sizeof b, "%s %s", t[k].area, t[k].area_name);
        printf("%4zu ", k + 1);
        print_padded(a, 30);
        putchar(' ');
        print_padded(b, 30);
        printf(" %6lld %6lld %7.2f\n", (long long)t[k].count,
               (long long)t[k].prev, t[k].score);
    }
}

static int cmd_stats(int argc, char **argv) {
    opts o;
    int rc = parse(argc, argv, 2,
                   " db by format limit month min from to window category "
                   "severity status source grid ",
                   &o);
    if (rc) {
        return rc;
    }
    bool topics = o.npos == 1 && strcmp(o.pos[0], "topics") == 0;
    if (o.npos > (topics ? 1 : 0)) {
        return usage_error("stats: unexpected \"%s\"", o.pos[o.npos - 1]);
    }
    out_format fmt;
    if (!parse_format(o.format, &fmt)) {
        return usage_error("--format \"%s\": table, csv or json", o.format);
    }
    long limit = topics ? 10 : LONG_MAX, min = 3;
    if (o.limit && !parse_count(o.limit, 1, 1000000, &limit)) {
        return usage_error("--limit \"%s\": a whole number 1..1000000",
                           o.limit);
    }
    if (o.min && !parse_count(o.min, 1, 1000000, &min)) {
        return usage_error("--min \"%s\": a whole number 1..1000000", o.min);
    }
    if (!topics && (o.month || o.min)) {
        return usage_error("--month and --min are for 'stats topics'");
    }
    if (topics && !o.month) {
        return usage_error("stats topics needs --month YYYY-MM");
    }
    if (topics && (o.from || o.to || o.window || o.category || o.severity ||
                   o.status || o.source || o.grid)) {
        return usage_error("stats topics takes no filters");
    }
    ht_error err = {0};
    ht_stats_by by = HT_STATS_BY_STREET;
    if (o.by && ht_stats_by_parse(o.by, &by, &err) != HT_OK) {
        ht_error_prefix(&err, "--");
        return fail(&err);
    }
    ht_filter f;
    if (filter_from_opts(&o, &f, &err) != HT_OK) {
        return fail(&err);
    }
    if (!file_exists(o.db)) {
        fprintf(stderr, "hutong: %s does not exist\n", o.db);
        return EXIT_USAGE;
    }
    ht_store *s = NULL;
    ht_status st = ht_store_open(o.db, HT_STORE_READONLY, &s, &err);
    if (st == HT_OK && topics) {
        ht_topic *t = NULL;
        size_t n = 0;
        st = ht_stats_topics(s, o.month, by, NULL, min, (size_t)limit, &t, &n,
                             &err);
        if (st == HT_OK) {
            print_topics(t, n, o.month, fmt);
        }
        free(t);
    } else if (st == HT_OK) {
        ht_stats_row *r = NULL;
        size_t n = 0;
        st = ht_stats_compute(s, &f, by, &r, &n, &err);
        if (st == HT_OK) {
            print_stats_rows(r, n, (size_t)limit, by, fmt, &f);
        }
        free(r);
    }
    ht_store_close(s);
    if (st != HT_OK) {
        if (err.code == HT_EINVAL && strncmp(err.msg, "--", 2) != 0) {
            ht_error_prefix(&err, "--");
        }
        return fail(&err);
    }
    return 0;
}

/* ---- serve ---- */

static int cmd_serve(int argc, char **argv) {
    opts o;
    int rc = parse(argc, argv, 2,
                   " db host port listen threads cache-mb tokens private "
                   "max-connections max-connections-per-ip max-listeners "
                   "max-listeners-per-ip request-timeout public-url ",
                   &o);
    if (rc) {
        return rc;
    }
    if (o.npos) {
        return usage_error("serve: unexpected \"%s\"", o.pos[0]);
    }
    /* --listen ADDR:PORT is --host ADDR --port PORT. */
    char lhost[64];
    if (o.listen) {
        const char *colon = strrchr(o.listen, ':');
        if (!colon || colon == o.listen ||
            (size_t)(colon - o.listen) >= sizeof lhost || o.host || o.port) {
            return usage_error(
                "--listen \"%s\": ADDR:PORT (and no --host "
                "or --port)",
                o.listen);
        }
        snprintf(lhost, sizeof lhost, "%.*s", (int)(colon - o.listen),
                 o.listen);
        o.host = lhost;
        o.port = colon + 1;
    }
    long port = 8080, threads = 0, cache_mb = 256;
    if (o.port && !parse_count(o.port, 0, 65535, &port) &&
        strcmp(o.port, "0") != 0) {
        return usage_error("--port \"%s\": 0..65535 (0: any free port)",
                           o.port);
    }
    if (o.port && strcmp(o.port, "0") == 0) {
        port = 0;
    }
    if (o.threads && !parse_count(o.threads, 1, 256, &threads)) {
        return usage_error("--threads \"%s\": 1..256", o.threads);
    }
    if (o.cache_mb && strcmp(o.cache_mb, "0") == 0) {
        cache_mb = 0;
    } else if (o.cache_mb && !parse_count(o.cache_mb, 1, 1 << 20, &cache_mb)) {
        return usage_error("--cache-mb \"%s\": 0 (no cache)..1048576",
                           o.cache_mb);
    }
    /* Limits that keep slow or greedy clients from locking others out. */
    struct {
        const char *name, *text;
        long lo, hi, value;
    } lim[] = {
        {"--max-connections", o.max_conns, 16, 1000000, 0},
        {"--max-connections-per-ip", o.max_conns_ip, 1, 1000000, 0},
        {"--max-listeners", o.max_listeners, 1, 1000000, 0},
        {"--max-listeners-per-ip", o.max_listeners_ip, 1, 1000000, 0},
        {"--request-timeout", o.request_timeout, 1, 3600, 0},
    };
    for (size_t k = 0; k < sizeof lim / sizeof *lim; k++) {
        if (lim[k].text &&
            !parse_count(lim[k].text, lim[k].lo, lim[k].hi, &lim[k].value)) {
            return usage_error("%s \"%s\": %ld..%ld", lim[k].name, lim[k].text,
                               lim[k].lo, lim[k].hi);
        }
    }
    if (o.public_url && !ht_server_public_url_ok(o.public_url)) {
        return usage_error(
            "--public-url \"%s\": http:// or https:// and a "
            "host, e.g. https://maps.example.org",
            o.public_url);
    }
    if (!file_exists(o.db)) {
        fprintf(stderr,
                "hutong: %s does not exist (build one with 'hutong "
                "demo')\n",
                o.db);
        return EXIT_USAGE;
    }
    /* The workers inherit a mask without these; this thread waits. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
#if defined(__GLIBC__)
    /* Snapshots, density grids and tiles come and go in blocks of hundreds
     * of kilobytes. glibc raises its mmap threshold past every large block
     * freed, after which such blocks come from the heap and stay there:
     * under 1,000 incidents/s for 4 min the server grew 178 to 236 MB and
     * still rising; with the threshold fixed at 128 KiB, 171 to 196 MB and
     * flat (bench/soak.sh). */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#endif
    ht_server_opts so = {.db = o.db,
                         .host = o.host,
                         .port = (uint16_t)port,
                         .threads = (unsigned)threads,
                         .cache_bytes = (size_t)cache_mb << 20,
                         .no_cache = cache_mb == 0,
                         .access_log = stderr,
                         .tokens = o.tokens,
                         .private_reads = o.private_reads,
                         .max_connections = (unsigned)lim[0].value,
                         .max_connections_per_ip = (unsigned)lim[1].value,
                         .max_listeners = (unsigned)lim[2].value,
                         .max_listeners_per_ip = (unsigned)lim[3].value,
                         .request_timeout_s = (unsigned)lim[4].value,
                         .public_url = o.public_url};
    ht_server *srv;
    ht_error err = {0};
    if (ht_server_start(&so, &srv, &err) != HT_OK) {
        return fail(&err);
    }
    printf("hutong: serving %s on http://%s:%u/ (Ctrl-C stops)\n", o.db,
           o.host ? o.host : "127.0.0.1", (unsigned)ht_server_port(srv));
    fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
    fprintf(stderr, "hutong: %s: finishing requests in flight\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM");
    ht_server_stop(srv);
    fprintf(stderr, "hutong: stopped\n");
    return 0;
}

/* ---- token ---- */

static int cmd_token(int argc, char **argv) {
    opts o;
    int rc = parse(argc, argv, 2, " name scope write tokens db ", &o);
    if (rc) {
        return rc;
    }
    if (o.npos != 1 || strcmp(o.pos[0], "create") != 0) {
        return usage_error("token: expected 'token create --name N'");
    }
    if (!o.name) {
        return usage_error("token create needs --name N");
    }
    const char *path = o.tokens ? o.tokens : "hutong.tokens";
    char token[68];
    ht_error err = {0};
    /* A scope names a grid of the database the server will read. */
    if (o.scope && strcmp(o.scope, "*") != 0) {
        if (!file_exists(o.db)) {
            return usage_error(
                "--scope %s: no database %s to find the grid "
                "in (give --db)",
                o.scope, o.db);
        }
        ht_store *s;
        bool exists = false;
        ht_status st = ht_store_open(o.db, HT_STORE_READONLY, &s, &err);
        if (st == HT_OK) {
            st = ht_store_grid_exists(s, o.scope, &exists, &err);
            ht_store_close(s);
        }
        if (st != HT_OK) {
            return fail(&err);
        }
        if (!exists) {
            return usage_error("--scope %s: no such grid in %s", o.scope, o.db);
        }
    }
    if (ht_tokens_create(path, o.scope ? o.scope : "*", o.write, o.name, token,
                         &err) != HT_OK) {
        return fail(&err);
    }
    printf("%s\n", token);
    fprintf(stderr,
            "hutong: token \"%s\" (%s, %s) added to %s; it is shown only "
            "this once\n",
            o.name, o.scope ? o.scope : "everywhere",
            o.write ? "read and write" : "read", path);
    return 0;
}

static void print_progress(size_t done, size_t total, void *ud) {
    (void)ud;
    fprintf(stderr, "\rprinting: %zu / %zu pages", done, total);
    if (done == total) {
        fputc('\n', stderr);
    }
}

/* The time a print is dated: SOURCE_DATE_EPOCH when set (reproducible
 * prints), else now. */
static int64_t print_now(void) {
    const char *e = getenv("SOURCE_DATE_EPOCH");
    char *end;
    long long v = e && *e ? strtoll(e, &end, 10) : -1;
    return e && *e && !*end && v >= 0 ? (int64_t)v : (int64_t)time(NULL);
}

/* The threads of a batch command: --threads 1..16, else the cores. */
static bool batch_threads(const opts *o, int *out) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (o->threads && !parse_int(o->threads, 1, 16, &n)) {
        return false;
    }
    *out = (int)(n > 0 ? n : 1);
    return true;
}

/* `print`: an atlas of grid maps. */
static int cmd_print(int argc, char **argv) {
    opts o;
    int rc = parse(argc, argv, 2,
                   " db grid street community all level paper orientation dpi "
                   "crs style layer uniform-scale format out from to window "
                   "category severity status source threads ",
                   &o);
    if (rc) {
        return rc;
    }
    int picks = !!o.grid + !!o.street + !!o.community + o.all;
    if (picks != 1) {
        return usage_error(
            "print needs one of --grid, --street, --community or --all");
    }
    if (!o.out) {
        return usage_error("print needs -o OUT");
    }
    int64_t now = print_now();
    ht_print_opts po = ht_print_opts_default(now);
    ht_error err = {0};
    ht_status st = HT_OK;
    long dpi = po.dpi;
    if (o.paper) {
        st = ht_print_paper_parse(o.paper, &po.paper, &err);
    }
    if (st == HT_OK && o.orientation) {
        st = ht_print_orientation_parse(o.orientation, &po.orientation, &err);
    }
    if (st == HT_OK && o.dpi &&
        !parse_int(o.dpi, HT_PRINT_MIN_DPI, HT_PRINT_MAX_DPI, &dpi)) {
        st = ht_error_set(&err, HT_EINVAL, "--dpi \"%s\" outside %d..%d", o.dpi,
                          HT_PRINT_MIN_DPI, HT_PRINT_MAX_DPI);
    }
    po.dpi = (int)dpi;
    if (st == HT_OK && o.format && strcmp(o.format, "pdf") != 0 &&
        strcmp(o.format, "png") != 0) {
        st = ht_error_set(&err, HT_EINVAL, "--format \"%s\" is not pdf or png",
                          o.format);
    }
    po.format =
        o.format && strcmp(o.format, "png") == 0 ? HT_PRINT_PNG : HT_PRINT_PDF;
    ht_level level = HT_LEVEL_GRID;
    if (st == HT_OK && o.level) {
        st = ht_model_level_parse(o.level, &level, &err);
    }
    const char *layer = o.layer ? o.layer : "heat";
    if (st == HT_OK && strcmp(layer, "heat") != 0 &&
        strcmp(layer, "streetheat") != 0 && strcmp(layer, "none") != 0) {
        st = ht_error_set(&err, HT_EINVAL,
                          "--layer \"%s\" is not heat, streetheat or none",
                          layer);
    }
    char crs[HT_CRS_NAME_SIZE] = "EPSG:3857";
    if (st == HT_OK && o.crs) {
        st = ht_crs_normalize(o.crs, crs, &err);
    }
    po.crs = crs;
    if (st == HT_OK && !batch_threads(&o, &po.threads)) {
        st = ht_error_set(&err, HT_EINVAL, "--threads \"%s\" outside 1..16",
                          o.threads);
    }
    /* The filters, less --grid (the area); the last 30 days by default. */
    opts fo = o;
    fo.grid = NULL;
    if (!fo.from && !fo.to && !fo.window) {
        fo.window = "30d";
    }
    if (st == HT_OK) {
        st = filter_from_opts(&fo, &po.filter, &err);
    }
    if (st != HT_OK) {
        return fail(&err);
    }
    if (o.npos) {
        return usage_error("print takes no argument \"%s\"", o.pos[0]);
    }
    o.style = o.style ? o.style : "print";
    render_env e;
    ht_style *heat = NULL;
    st = render_env_open(&o, &e, &err);
    if (st != HT_OK) {
        return fail(&err);
    }
    po.style = e.style;
    if (strcmp(layer, "none") != 0) {
        st = ht_style_load(layer, &heat, &err);
        po.layer = heat;
    }
    const char **codes = NULL;
    size_t n = 0;
    const char *within = o.grid        ? o.grid
                         : o.street    ? o.street
                         : o.community ? o.community
                                       : NULL;
    if (st == HT_OK && o.grid) {
        if (!ht_features_find_grid(e.features, o.grid)) {
            st =
                ht_error_set(&err, HT_EINVAL, "--grid: no grid \"%s\"", o.grid);
        } else {
            codes = malloc(sizeof *codes);
            st = codes ? HT_OK : ht_error_set(&err, HT_ENOMEM, "out of memory");
            if (codes) {
                codes[0] = o.grid;
                n = 1;
            }
        }
    } else if (st == HT_OK) {
        st = ht_print_select(e.features, within, level, &codes, &n, &err);
        if (st == HT_ENOTFOUND) {
            err.code = st = HT_EINVAL;
        }
    }
    if (st == HT_OK) {
        st = ht_print_atlas(e.renderer, e.store, e.features, codes, n, &po,
                            o.out, isatty(2) ? print_progress : NULL, NULL,
                            NULL, &err);
    }
    free(codes);
    ht_style_unref(heat);
    render_env_close(&e);
    return st == HT_OK ? 0 : fail(&err);
}

typedef struct seed_clock {
    double t0;
} seed_clock;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void seed_progress(size_t done, size_t total, void *ud) {
    seed_clock *c = ud;
    double el = now_s() - c->t0, rate = el > 0 ? (double)done / el : 0;
    double left = rate > 0 ? (double)(total - done) / rate : 0;
    fprintf(stderr, "\rseeding: %zu / %zu tiles, %.0f tiles/s, %d:%02d left  ",
            done, total, rate, (int)(left / 60), (int)left % 60);
    if (done == total) {
        fputc('\n', stderr);
    }
}

/* `seed`: tiles into MBTiles or a folder. */
static int cmd_seed(int argc, char **argv) {
    opts o;
    int rc = parse(argc, argv, 2,
                   " db style zoom bbox grid threads out from to window "
                   "category severity status source ",
                   &o);
    if (rc) {
        return rc;
    }
    int z0, z1, used = 0;
    if (!o.style || !o.zoom || !o.out) {
        return usage_error("seed needs --style, --zoom Z0-Z1 and -o OUT");
    }
    if (sscanf(o.zoom, "%d-%d%n", &z0, &z1, &used) != 2 ||
        o.zoom[used] != '\0') {
        if (sscanf(o.zoom, "%d%n", &z0, &used) != 1 || o.zoom[used]) {
            return usage_error("--zoom \"%s\": Z or Z0-Z1", o.zoom);
        }
        z1 = z0;
    }
    if (o.bbox && o.grid) {
        return usage_error("seed takes --bbox or --grid, not both");
    }
    ht_seed_opts so = {.zmin = z0, .zmax = z1};
    if (!batch_threads(&o, &so.threads)) {
        return usage_error("--threads \"%s\" outside 1..16", o.threads);
    }
    size_t n = strlen(o.out);
    so.folder = !(n > 8 && strcmp(o.out + n - 8, ".mbtiles") == 0);
    opts fo = o;
    fo.grid = NULL;
    ht_filter filter;
    ht_error err = {0};
    ht_status st = filter_from_opts(&fo, &filter, &err);
    if (st != HT_OK) {
        return fail(&err);
    }
    so.filter = &filter;
    if (o.bbox && !parse_bbox(o.bbox, &so.bbox)) {
        return usage_error("--bbox: W,S,E,N in degrees");
    }
    render_env e;
    st = render_env_open(&o, &e, &err);
    if (st != HT_OK) {
        return fail(&err);
    }
    so.style = e.style;
    if (!o.bbox) {
        /* A grid's box, or every grid's. */
        ht_bbox m = ht_bbox_empty();
        for (size_t i = 0; i < ht_features_grid_count(e.features); i++) {
            const ht_fgrid *g = ht_features_grid(e.features, i);
            if (!o.grid || strcmp(g->code, o.grid) == 0) {
                ht_bbox_add(&m, g->bbox.minx, g->bbox.miny);
                ht_bbox_add(&m, g->bbox.maxx, g->bbox.maxy);
            }
        }
        if (m.minx > m.maxx) {
            render_env_close(&e);
            return usage_error("--grid: no grid \"%s\"", o.grid ? o.grid : "");
        }
        ht_tile_merc_to_lonlat(m.minx, m.miny, &so.bbox.minx, &so.bbox.miny);
        ht_tile_merc_to_lonlat(m.maxx, m.maxy, &so.bbox.maxx, &so.bbox.maxy);
    }
    seed_clock clock = {now_s()};
    if (isatty(2)) {
        so.progress = seed_progress;
        so.ud = &clock;
    }
    ht_seed_stats stats;
    st = ht_seed(e.renderer, e.store, e.features, &so, o.out, &stats, &err);
    render_env_close(&e);
    if (st != HT_OK) {
        return fail(&err);
    }
    printf("%zu tiles: %zu drawn, %zu already there, %.1f s\n", stats.total,
           stats.drawn, stats.skipped, now_s() - clock.t0);
    return 0;
}

int ht_cli_main(int argc, char **argv) {
    if (argc < 2) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 ||
        strcmp(cmd, "-h") == 0) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("hutong %s\n", HT_VERSION);
        return 0;
    }
    ht_log_set_level(HT_LOG_WARN);
    if (strcmp(cmd, "init") == 0) {
        return cmd_init(argc, argv);
    }
    if (strcmp(cmd, "import") == 0) {
        return cmd_import(argc, argv);
    }
    if (strcmp(cmd, "demo") == 0) {
        return cmd_demo(argc, argv);
    }
    if (strcmp(cmd, "summary") == 0) {
        return cmd_summary(argc, argv);
    }
    if (strcmp(cmd, "render") == 0) {
        return cmd_render(argc, argv);
    }
    if (strcmp(cmd, "stats") == 0) {
        return cmd_stats(argc, argv);
    }
    if (strcmp(cmd, "serve") == 0) {
        return cmd_serve(argc, argv);
    }
    if (strcmp(cmd, "token") == 0) {
        return cmd_token(argc, argv);
    }
    if (strcmp(cmd, "print") == 0) {
        return cmd_print(argc, argv);
    }
    if (strcmp(cmd, "seed") == 0) {
        return cmd_seed(argc, argv);
    }
    return usage_error("unknown command \"%s\"", cmd);
}
