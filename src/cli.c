/* SPDX-License-Identifier: Apache-2.0 */
/* The hutong command line. */
#include "hutong/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hutong/buf.h"
#include "hutong/datetime.h"
#include "hutong/demo.h"
#include "hutong/import.h"
#include "hutong/log.h"
#include "hutong/store.h"
#include "hutong/summary.h"

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
    const char *fields[HT_IMPORT_MAX_MAPS + 1];
    int nfields;
    bool force;
    const char *pos[4];
    int npos;
} opts;

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
        const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!v) {
            return usage_error("option \"%s\" needs a value", a);
        }
        if (strcmp(key, "db") == 0) {
            o->db = v;
        } else if (strcmp(key, "crs") == 0) {
            o->crs = v;
        } else if (strcmp(key, "level") == 0) {
            o->level = v;
        } else if (strcmp(key, "dictionary") == 0) {
            o->dictionary = v;
        } else if (strcmp(key, "seed") == 0) {
            o->seed = v;
        } else if (strcmp(key, "end") == 0) {
            o->end = v;
        } else if (strcmp(key, "incidents") == 0) {
            o->incidents = v;
        } else if (strcmp(key, "snap") == 0) {
            o->snap = v;
        } else if (strcmp(key, "field") == 0) {
            if (o->nfields == HT_IMPORT_MAX_MAPS) {
                return usage_error("too many %s options", "--field");
            }
            o->fields[o->nfields++] = v;
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
    return usage_error("unknown command \"%s\"", cmd);
}
