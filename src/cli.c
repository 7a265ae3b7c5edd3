/* SPDX-License-Identifier: Apache-2.0 */
/* The hutong command line: options, the shared helpers, and the commands
 * that set up and serve (init, import, demo, summary, serve, token). The
 * map commands are in cli_render.c, the batch ones in cli_batch.c. */
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
#include "hutong/clock.h"
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

#include "cli_int.h"

/* (in two: a C compiler need not take a longer literal than 4095) */
static const char *const usage_text[] = {
    "usage: hutong COMMAND [OPTIONS]\n"
    "\n"
    "commands:\n"
    "  init      [--db FILE]                create or migrate a database\n"
    "  import    grids|streets|incidents|categories|rules FILE|-\n"
    "            [--crs CRS] [--level L] [--field NAME=SOURCE ...] [--snap M]\n"
    "            [--dictionary D] [--db FILE]\n"
    "  demo      [--db FILE] [--seed N] [--end DATE] [--incidents N]\n"
    "            [--force]                  build the Dongcheng demo, then\n"
    "                                       summarise it\n"
    "  summary   [--db FILE]                what a database holds\n"
    "  render    tile Z X Y --style S [--scale 1|2] -o OUT.png|jpg|webp|-\n"
    "            [--db FILE]\n"
    "  render    map (--bbox W,S,E,N | --grid CODE) --size WxH [--crs CRS]\n"
    "            --style S [--scale N] -o OUT.png|jpg|webp|svg|pdf|-\n"
    "            [--format F] [--db FILE]   (-: standard output)\n"
    "  render    density --bbox W,S,E,N --cellsize C [--crs CRS]\n"
    "            [--radius M] [--kernel quartic|gaussian] -o OUT.tif|asc\n"
    "  render    legend --style S -o OUT.png\n"
    "            render takes filters: --from --to --window --category\n"
    "            --severity --status --source --grid\n"
    "  stats     [--by street|community|grid|category|month|department]\n"
    "            [--format table|csv|json] [--limit N] [filters]\n"
    "                                       counts, rates, change, time to\n"
    "                                       close, per group\n"
    "  stats     topics --month YYYY-MM [--by street|community]\n"
    "            [--min N] [--limit N] [--format table|csv|json]\n"
    "                                       the month's rising problems\n"
    "  serve     [--listen ADDR:PORT | --host ADDR --port P] [--threads N]\n"
    "            [--cache-mb M] [--tokens FILE [--private]] [--db FILE]\n"
    "            [--db URL [--read-db URL] [--index-file FILE] [--private]]\n"
    "            [--public-url URL | --trust-proxy] [--request-timeout S]\n"
    "            [--contact-person P] [--contact-organization O]\n"
    "            [--contact-email E]\n"
    "            [--max-connections N] [--max-connections-per-ip N]\n"
    "            [--max-listeners N] [--max-listeners-per-ip N]\n"
    "            [--heat-grids-from N]\n"
    "                                       serve over HTTP until SIGINT or\n"
    "                                       SIGTERM; --tokens allows writes\n"
    "                                       and scoped readers, --private\n"
    "                                       makes every read need a token\n"
    "  token     create --name N [--scope GRIDCODE] [--write]\n"
    "            [--tokens FILE] [--db FILE|URL]\n"
    "                                       make a token (printed once; the\n"
    "                                       file, or a PostgreSQL database,\n"
    "                                       keeps its hash)\n"
    "  token     list | revoke --name N [--tokens FILE] [--db FILE|URL]\n",
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
    "  report    --month YYYY-MM [--grid CODE] [--topics 0..10]\n"
    "            [--dpi 150..600] [--style report] [--layer "
    "report-heat|S|none]\n"
    "            [--format pdf|png] [-o OUT]\n"
    "                                       the monthly \"one topic a month\"\n"
    "                                       report on A4 (default OUT\n"
    "                                       report-YYYY-MM.pdf)\n"
    "  seed      --style S --zoom Z0-Z1 [--bbox W,S,E,N | --grid CODE]\n"
    "            [filters] [--threads N] -o OUT.mbtiles | DIR\n"
    "                                       pre-rendered tiles (MBTiles 1.3\n"
    "                                       or a {z}/{x}/{y}.png folder);\n"
    "                                       resumable: tiles already there\n"
    "                                       are kept\n"
    "  export    incidents|grids|streets [filters] [--bbox W,S,E,N]\n"
    "            -o OUT.csv|geojson|gpkg|- [--format csv|geojson] [--db FILE]\n"
    "                                       a complete dump (incidents: the\n"
    "                                       filters), a row at a time\n"
    "  version\n"
    "\n"
    "--db defaults to $HUTONG_DB, else hutong.db. Exit codes: 0 ok,\n"
    "1 runtime failure, 2 bad usage or bad input.\n"};

static void print_usage(FILE *f) {
    for (size_t k = 0; k < sizeof usage_text / sizeof *usage_text; k++) {
        fputs(usage_text[k], f);
    }
}

/* Options that take a value, and where cli_cli_parse() puts it. */
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
    {"read-db", offsetof(opts, read_db)},
    {"index-file", offsetof(opts, index_file)},
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
    {"heat-grids-from", offsetof(opts, heat_grids_from)},
    {"public-url", offsetof(opts, public_url)},
    {"contact-person", offsetof(opts, contact_person)},
    {"contact-organization", offsetof(opts, contact_organization)},
    {"contact-email", offsetof(opts, contact_email)},
    {"street", offsetof(opts, street)},
    {"community", offsetof(opts, community)},
    {"paper", offsetof(opts, paper)},
    {"orientation", offsetof(opts, orientation)},
    {"dpi", offsetof(opts, dpi)},
    {"layer", offsetof(opts, layer)},
    {"zoom", offsetof(opts, zoom)},
    {"topics", offsetof(opts, topics)},
    {"department", offsetof(opts, department)},
    {"overdue", offsetof(opts, overdue)},
    {"satisfaction", offsetof(opts, satisfaction)},
};

int cli_usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "hutong: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(see 'hutong help')\n");
    va_end(ap);
    return EXIT_USAGE;
}

/* Parse argv[first..]: "--name value", "--name=value" or positionals. */
int cli_parse(int argc, char **argv, int first, const char *allowed, opts *o) {
    memset(o, 0, sizeof *o);
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-o") == 0) {
            a = "--out"; /* the one short option */
        }
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            if (o->npos == 4) {
                return cli_usage_error("too many arguments at \"%s\"", a);
            }
            o->pos[o->npos++] = a;
            continue;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        char key[32];
        if (len >= sizeof key) {
            return cli_usage_error("unknown option \"%s\"", a);
        }
        memcpy(key, name, len);
        key[len] = '\0';
        char probe[40];
        snprintf(probe, sizeof probe, " %s ", key);
        if (!strstr(allowed, probe)) {
            return cli_usage_error("unknown option \"%s\" for this command", a);
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
        if (strcmp(key, "trust-proxy") == 0) {
            o->trust_proxy = true;
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
            return cli_usage_error("option \"%s\" needs a value", a);
        }
        if (strcmp(key, "field") == 0) {
            if (o->nfields == HT_IMPORT_MAX_MAPS) {
                return cli_usage_error("too many %s options", "--field");
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

int cli_exit_code(ht_status st) {
    return st == HT_OK ? 0 : st == HT_EINVAL ? EXIT_USAGE : 1;
}

int cli_fail(const ht_error *err) {
    fprintf(stderr, "hutong: %s\n", err->msg);
    return cli_exit_code(err->code);
}

bool cli_file_exists(const char *path) {
    struct stat sb;
    /* A database URL is checked by connecting. */
    return ht_store_is_url(path) || stat(path, &sb) == 0;
}

static int cmd_init(int argc, char **argv) {
    opts o;
    int rc = cli_parse(argc, argv, 2, " db ", &o);
    if (rc) {
        return rc;
    }
    if (o.npos) {
        return cli_usage_error("init takes no argument (\"%s\")", o.pos[0]);
    }
    bool existed = cli_file_exists(o.db);
    ht_error err = {0};
    ht_store *s;
    if (ht_store_open(o.db, HT_STORE_CREATE, &s, &err) != HT_OK) {
        return cli_fail(&err);
    }
    printf("%s: %s, schema version %d\n", o.db, existed ? "ready" : "created",
           ht_store_schema_version(s));
    ht_store_close(s);
    return 0;
}

static void import_progress(size_t rows, size_t done, size_t total, void *ud) {
    cli_progress *p = ud;
    cli_progress_show(p, rows, done, total);
}

static int cmd_import(int argc, char **argv) {
    opts o;
    int rc =
        cli_parse(argc, argv, 2, " db crs level field snap dictionary ", &o);
    if (rc) {
        return rc;
    }
    if (o.npos != 2) {
        return cli_usage_error("import needs a kind and a file");
    }
    ht_error err = {0};
    ht_import_opts io = {0};
    if (ht_import_kind_parse(o.pos[0], &io.kind, &err) != HT_OK) {
        return cli_fail(&err);
    }
    io.crs = o.crs;
    io.level = o.level;
    io.dictionary = o.dictionary;
    if (o.level && io.kind != HT_IMPORT_GRIDS) {
        return cli_usage_error("--level applies to grids only");
    }
    if (o.snap) {
        char *end;
        io.snap_m = strtod(o.snap, &end);
        if (*end || !(io.snap_m > 0) || io.snap_m > 10000) {
            return cli_usage_error(
                "--snap \"%s\": expected metres in (0, 10000]", o.snap);
        }
    }
    for (int i = 0; i < o.nfields; i++) {
        if (ht_import_opts_add_field(&io, o.fields[i], &err) != HT_OK) {
            return cli_fail(&err);
        }
    }
    bool in = strcmp(o.pos[1], "-") == 0; /* standard input */
    if (!in && access(o.pos[1], R_OK) != 0) {
        fprintf(stderr, "hutong: %s: %s\n", o.pos[1], strerror(errno));
        return EXIT_USAGE;
    }
    if (!cli_file_exists(o.db)) {
        fprintf(stderr,
                "hutong: %s does not exist (run 'hutong init --db "
                "%s' first)\n",
                o.db, o.db);
        return EXIT_USAGE;
    }
    cli_progress bar;
    cli_progress_start(&bar, o.pos[1], "rows");
    if (isatty(STDERR_FILENO)) {
        io.progress = import_progress;
        io.progress_ud = &bar;
    }
    ht_store *s;
    if (ht_store_open(o.db, HT_STORE_WRITE, &s, &err) != HT_OK) {
        return cli_fail(&err);
    }
    ht_import_stats stats;
    ht_status st;
    if (in) {
        /* read whole: a file's format is sniffed from its first bytes */
        ht_buf *b = ht_buf_new();
        char chunk[65536];
        size_t n;
        st = b ? HT_OK : ht_error_set(&err, HT_ENOMEM, "out of memory");
        while (st == HT_OK && (n = fread(chunk, 1, sizeof chunk, stdin)) > 0) {
            st = ht_buf_append(b, chunk, n, &err);
        }
        if (st == HT_OK && ferror(stdin)) {
            st = ht_error_set(&err, HT_EIO, "standard input: %s",
                              strerror(errno));
        }
        if (st == HT_OK) {
            st = ht_import_mem(s, "standard input", (const char *)b->data,
                               b->len, NULL, &io, &stats, &err);
        }
        ht_buf_free(b);
    } else {
        st = ht_import_file(s, o.pos[1], &io, &stats, &err);
    }
    if (io.progress) {
        fprintf(stderr, "\r\033[K");
    }
    ht_store_close(s);
    if (st != HT_OK) {
        fprintf(stderr, "hutong: %s\nhutong: nothing was imported\n", err.msg);
        return cli_exit_code(st);
    }
    printf("%s: %zu %s read: %zu new, %zu updated, %zu unchanged",
           in ? "standard input" : o.pos[1], stats.rows,
           io.kind == HT_IMPORT_INCIDENTS || io.kind == HT_IMPORT_CATEGORIES ||
                   io.kind == HT_IMPORT_RULES
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
        return cli_fail(&err);
    }
    ht_buf *b = ht_buf_new();
    ht_status st = b ? ht_summary_text(s, b, &err)
                     : ht_error_set(&err, HT_ENOMEM, "out of memory");
    ht_store_close(s);
    if (st == HT_OK) {
        printf("%s:\n%s", db, (const char *)b->data);
    }
    ht_buf_free(b);
    return st == HT_OK ? 0 : cli_fail(&err);
}

static int cmd_summary(int argc, char **argv) {
    opts o;
    int rc = cli_parse(argc, argv, 2, " db ", &o);
    if (rc) {
        return rc;
    }
    if (!cli_file_exists(o.db)) {
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

/* The demo into a database server: built in place (there is no file to
 * build beside and rename); a database that holds incidents already is
 * used as it is. */
static int demo_into_database(const opts *o, ht_demo_opts *dopt) {
    ht_error err = {0};
    ht_store *s;
    if (ht_store_open(o->db, HT_STORE_CREATE, &s, &err) != HT_OK) {
        return cli_fail(&err);
    }
    int64_t n = 0;
    ht_status st = ht_store_count(s, "incidents", &n, &err);
    if (st == HT_OK && n > 0) {
        ht_store_close(s);
        printf(
            "%s holds incidents: using it%s\n", o->db,
            o->force ? " (--force rebuilds files only: empty it first)" : "");
        return print_summary(o->db);
    }
    if (isatty(STDERR_FILENO)) {
        dopt->progress = demo_progress;
    }
    ht_demo_stats ds;
    if (st == HT_OK) {
        st = ht_demo_build(s, dopt, &ds, &err);
    }
    ht_store_close(s);
    if (dopt->progress) {
        fprintf(stderr, "\r\033[K");
    }
    if (st != HT_OK) {
        return cli_fail(&err);
    }
    printf(
        "built %s: %zu grids, %zu street segments, %zu incidents, %zu "
        "events\n",
        o->db, ds.grids[0] + ds.grids[1] + ds.grids[2] + ds.grids[3],
        ds.streets, ds.incidents, ds.events);
    return print_summary(o->db);
}

static int cmd_demo(int argc, char **argv) {
    opts o;
    int rc = cli_parse(argc, argv, 2, " db seed end incidents force ", &o);
    if (rc) {
        return rc;
    }
    ht_demo_opts dopt = {0};
    ht_error err = {0};
    if (o.seed) {
        char *end;
        dopt.seed = strtoull(o.seed, &end, 10);
        if (*end || !dopt.seed) {
            return cli_usage_error("--seed \"%s\": expected a positive number",
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
            return cli_usage_error("--incidents \"%s\": expected 1..50000000",
                                   o.incidents);
        }
        dopt.incidents = (size_t)n;
    }
    if (ht_store_is_url(o.db)) {
        return demo_into_database(&o, &dopt);
    }
    if (cli_file_exists(o.db) && !o.force) {
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
        return cli_fail(&err);
    }
    printf(
        "built %s: %zu grids, %zu street segments, %zu incidents, %zu "
        "events\n",
        o.db, ds.grids[0] + ds.grids[1] + ds.grids[2] + ds.grids[3], ds.streets,
        ds.incidents, ds.events);
    return print_summary(o.db);
}

bool cli_parse_bbox(const char *s, ht_bbox *b) {
    return ht_bbox_parse(s, b, NULL) == HT_OK;
}

bool cli_parse_int(const char *s, long lo, long hi, long *out) {
    char *end = NULL;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || v < lo || v > hi) {
        return false;
    }
    *out = v;
    return true;
}

void cli_env_close(cli_env *e) {
    ht_renderer_free(e->renderer);
    ht_features_free(e->features);
    ht_store_close(e->store);
    ht_style_unref(e->style);
}

ht_status cli_env_open(const opts *o, cli_env *e, ht_error *err) {
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
        cli_env_close(e);
    }
    return st;
}

/* Write the bytes of @b to @path (replacing it). */
void cli_remove_output(const char *path) {
    if (path && strcmp(path, "-") != 0) {
        remove(path);
    }
}

ht_status cli_write_file(const char *path, const ht_buf *b, ht_error *err) {
    if (strcmp(path, "-") == 0) {
        /* standard output */
        return fwrite(b->data, 1, b->len, stdout) == b->len &&
                       fflush(stdout) == 0
                   ? HT_OK
                   : ht_error_set(err, HT_EIO, "standard output: %s",
                                  strerror(errno));
    }
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

/* The filter of the options: --from --to --window --category --severity
 * --status --source --grid. */
ht_status cli_filter(const opts *o, ht_filter *f, ht_error *err) {
    *f = ht_filter_all();
    const char *keys[11] = {"from",       "to",      "window",      "category",
                            "severity",   "status",  "source",      "grid",
                            "department", "overdue", "satisfaction"};
    const char *vals[11] = {o->from,     o->to,          o->window,
                            o->category, o->severity,    o->status,
                            o->source,   o->grid,        o->department,
                            o->overdue,  o->satisfaction};
    int64_t now = ht_clock_now();
    for (int k = 0; k < 11; k++) {
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

/* ---- serve ---- */

static int cmd_serve(int argc, char **argv) {
    opts o;
    int rc =
        cli_parse(argc, argv, 2,
                  " db read-db index-file host port listen threads "
                  "cache-mb tokens "
                  "private "
                  "max-connections max-connections-per-ip max-listeners "
                  "max-listeners-per-ip request-timeout public-url trust-proxy "
                  "contact-person contact-organization contact-email "
                  "heat-grids-from ",
                  &o);
    if (rc) {
        return rc;
    }
    if (o.npos) {
        return cli_usage_error("serve: unexpected \"%s\"", o.pos[0]);
    }
    /* --listen ADDR:PORT is --host ADDR --port PORT. */
    char lhost[64];
    if (o.listen) {
        const char *colon = strrchr(o.listen, ':');
        if (!colon || colon == o.listen ||
            (size_t)(colon - o.listen) >= sizeof lhost || o.host || o.port) {
            return cli_usage_error(
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
    if (o.port && !cli_parse_int(o.port, 0, 65535, &port) &&
        strcmp(o.port, "0") != 0) {
        return cli_usage_error("--port \"%s\": 0..65535 (0: any free port)",
                               o.port);
    }
    if (o.port && strcmp(o.port, "0") == 0) {
        port = 0;
    }
    if (o.threads && !cli_parse_int(o.threads, 1, 256, &threads)) {
        return cli_usage_error("--threads \"%s\": 1..256", o.threads);
    }
    if (o.cache_mb && strcmp(o.cache_mb, "0") == 0) {
        cache_mb = 0;
    } else if (o.cache_mb &&
               !cli_parse_int(o.cache_mb, 1, 1 << 20, &cache_mb)) {
        return cli_usage_error("--cache-mb \"%s\": 0 (no cache)..1048576",
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
        {"--heat-grids-from", o.heat_grids_from, 1, 1000000000, 0},
    };
    for (size_t k = 0; k < sizeof lim / sizeof *lim; k++) {
        if (lim[k].text &&
            !cli_parse_int(lim[k].text, lim[k].lo, lim[k].hi, &lim[k].value)) {
            return cli_usage_error("%s \"%s\": %ld..%ld", lim[k].name,
                                   lim[k].text, lim[k].lo, lim[k].hi);
        }
    }
    if (o.public_url && !ht_server_public_url_ok(o.public_url)) {
        return cli_usage_error(
            "--public-url \"%s\": http:// or https:// and a "
            "host, e.g. https://maps.example.org",
            o.public_url);
    }
    if (!cli_file_exists(o.db)) {
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
    if (o.read_db && (!ht_store_is_url(o.db) || !ht_store_is_url(o.read_db))) {
        return cli_usage_error(
            "--read-db %s: a replica of a PostgreSQL --db, both "
            "postgresql:// URLs",
            o.read_db);
    }
    if (o.index_file && !ht_store_is_url(o.db)) {
        return cli_usage_error(
            "--index-file: a SpatiaLite file's index snapshot is always "
            "beside it (%s.index); --index-file is for a PostgreSQL --db",
            o.db);
    }
    ht_server_opts so = {.db = o.db,
                         .read_db = o.read_db,
                         .index_file = o.index_file,
                         .host = o.host,
                         .port = (uint16_t)port,
                         .threads = (unsigned)threads,
                         .cache_bytes = (size_t)cache_mb << 20,
                         .no_cache = cache_mb == 0,
                         .access_log = stderr,
                         .tokens = o.tokens,
                         .private_reads = o.private_reads,
                         .trust_proxy = o.trust_proxy,
                         .contact_person = o.contact_person,
                         .contact_organization = o.contact_organization,
                         .contact_email = o.contact_email,
                         .max_connections = (unsigned)lim[0].value,
                         .max_connections_per_ip = (unsigned)lim[1].value,
                         .max_listeners = (unsigned)lim[2].value,
                         .max_listeners_per_ip = (unsigned)lim[3].value,
                         .request_timeout_s = (unsigned)lim[4].value,
                         .public_url = o.public_url,
                         .heat_grids_from = (size_t)lim[5].value};
    ht_server *srv;
    ht_error err = {0};
    if (ht_server_start(&so, &srv, &err) != HT_OK) {
        return cli_fail(&err);
    }
    fprintf(stderr, "hutong: index: %s\n", ht_server_index_note(srv));
    fprintf(stderr, "hutong: heat: %s\n", ht_server_heat_note(srv));
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

/* The time a print is dated: SOURCE_DATE_EPOCH when set (reproducible
 * prints), else now. */
int64_t cli_print_now(void) {
    const char *e = getenv("SOURCE_DATE_EPOCH");
    char *end;
    long long v = e && *e ? strtoll(e, &end, 10) : -1;
    return e && *e && !*end && v >= 0 ? (int64_t)v : (int64_t)time(NULL);
}

/* The threads of a batch command: --threads 1..16, else the cores. */
bool cli_threads(const opts *o, int *out) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (o->threads && !cli_parse_int(o->threads, 1, 16, &n)) {
        return false;
    }
    *out = (int)(n > 0 ? n : 1);
    return true;
}

/* `print`: an atlas of grid maps. */

/* The lines of the usage about @cmd (each block that starts with it and
 * the lines under it), then the notes at its end, to stdout; false when
 * no block is about it. */
static bool command_usage(const char *cmd) {
    size_t n = strlen(cmd), parts = sizeof usage_text / sizeof *usage_text;
    bool any = false, in = false;
    const char *notes = strstr(usage_text[parts - 1], "\n\n--db");
    for (size_t k = 0; k < parts; k++) {
        for (const char *l = usage_text[k]; *l && l != notes;) {
            size_t len = strcspn(l, "\n");
            if (len > 2 && l[0] == ' ' && l[1] == ' ' && l[2] != ' ') {
                in = strncmp(l + 2, cmd, n) == 0 &&
                     (l[2 + n] == ' ' || l[2 + n] == '\n');
            } else if (len == 0 || l[0] != ' ') {
                in = false;
            }
            if (in) {
                if (!any) {
                    printf("usage: hutong %s [OPTIONS]\n\n", cmd);
                }
                printf("%.*s\n", (int)len, l);
                any = true;
            }
            l += len + (l[len] == '\n');
        }
    }
    if (any && notes) {
        fputs(notes + 1, stdout);
    }
    return any;
}

static bool is_help(const char *a) {
    return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

int ht_cli_main(int argc, char **argv) {
    if (argc < 2) {
        print_usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "help") == 0 || is_help(cmd)) {
        /* `help COMMAND`: that command's */
        if (argc > 2 && strcmp(cmd, "help") == 0) {
            return command_usage(argv[2])
                       ? 0
                       : cli_usage_error("unknown command \"%s\"", argv[2]);
        }
        print_usage(stdout);
        return 0;
    }
    /* `COMMAND ... --help` anywhere: that command's usage, nothing done */
    for (int i = 2; i < argc; i++) {
        if (is_help(argv[i]) && command_usage(cmd)) {
            return 0;
        }
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
        return cli_cmd_render(argc, argv);
    }
    if (strcmp(cmd, "stats") == 0) {
        return cli_cmd_stats(argc, argv);
    }
    if (strcmp(cmd, "serve") == 0) {
        return cmd_serve(argc, argv);
    }
    if (strcmp(cmd, "token") == 0) {
        return cli_cmd_token(argc, argv);
    }
    if (strcmp(cmd, "print") == 0) {
        return cli_cmd_print(argc, argv);
    }
    if (strcmp(cmd, "report") == 0) {
        return cli_cmd_report(argc, argv);
    }
    if (strcmp(cmd, "seed") == 0) {
        return cli_cmd_seed(argc, argv);
    }
    if (strcmp(cmd, "export") == 0) {
        return cli_cmd_export(argc, argv);
    }
    return cli_usage_error("unknown command \"%s\"", cmd);
}
