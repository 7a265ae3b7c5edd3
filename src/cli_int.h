/* SPDX-License-Identifier: Apache-2.0 */
/* The command line's internals, shared by cli.c (options, helpers, set-up
 * and serving), cli_render.c (maps, stats) and cli_batch.c (print, seed,
 * report). */
#ifndef HUTONG_CLI_INT_H
#define HUTONG_CLI_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "hutong/buf.h"
#include "hutong/features.h"
#include "hutong/filter.h"
#include "hutong/import.h"
#include "hutong/render.h"
#include "hutong/store.h"
#include "hutong/style.h"

#define EXIT_USAGE 2

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
    const char *listen, *tokens, *name, *scope, *read_db, *index_file;
    const char *max_conns, *max_conns_ip, *max_listeners, *max_listeners_ip;
    const char *request_timeout, *public_url, *heat_grids_from;
    const char *contact_person, *contact_organization, *contact_email;
    const char *street, *community, *paper, *orientation, *dpi, *layer, *zoom;
    const char *topics;
    const char *department, *overdue, *satisfaction;
    bool write;
    bool private_reads;
    bool trust_proxy;
    bool all, uniform_scale;
    const char *fields[HT_IMPORT_MAX_MAPS + 1];
    int nfields;
    bool force;
    const char *pos[4];
    int npos;
} opts;

typedef struct cli_env {
    ht_store *store;
    ht_features *features;
    ht_renderer *renderer;
    ht_style *style;
} cli_env;

/* "hutong: MESSAGE" and a hint on stderr; returns EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parse argv[first..] ("--name value", "--name=value", positionals) into
 * @o, refusing options not in @allowed (" name name "). 0, or the exit
 * code of a usage error. --db defaults to $HUTONG_DB, else hutong.db. */
int cli_parse(int argc, char **argv, int first, const char *allowed, opts *o);

/* 0 for HT_OK, 2 for bad input (HT_EINVAL), else 1. */
int cli_exit_code(ht_status st);

/* Print @err and return its exit code. */
int cli_fail(const ht_error *err);

/* A progress bar on standard error (a terminal's): "WHAT: [####....]
 * 40% 12000 rows, 3000 rows/s, 0:03 left" (without a total: the count and
 * the rate). */
typedef struct cli_progress {
    const char *what, *unit;
    double t0;
} cli_progress;
void cli_progress_start(cli_progress *p, const char *what, const char *unit);
/* @count @unit so far; @done of @total of the work (@total 0: unknown) */
void cli_progress_show(cli_progress *p, size_t count, size_t done,
                       size_t total);
/* Seconds since cli_progress_start. */
double cli_progress_seconds(const cli_progress *p);

bool cli_file_exists(const char *path);
bool cli_parse_bbox(const char *s, ht_bbox *b);
bool cli_parse_int(const char *s, long lo, long hi, long *out);

/* Everything a render needs, opened from the options (--db, --style). */
ht_status cli_env_open(const opts *o, cli_env *e, ht_error *err);
void cli_env_close(cli_env *e);

/* Write the bytes of @b to @path (replacing it). */
ht_status cli_write_file(const char *path, const ht_buf *b, ht_error *err);
/* Remove a half-written output file (not "-", standard output). */
void cli_remove_output(const char *path);

/* The filter of the options: --from --to --window --category --severity
 * --status --source --grid. */
ht_status cli_filter(const opts *o, ht_filter *f, ht_error *err);

/* The time a print is dated: SOURCE_DATE_EPOCH when set (reproducible
 * prints), else now. */
int64_t cli_print_now(void);

/* The threads of a batch command: --threads 1..16, else the cores. */
bool cli_threads(const opts *o, int *out);

int cli_cmd_render(int argc, char **argv);
int cli_cmd_stats(int argc, char **argv);
int cli_cmd_print(int argc, char **argv);
int cli_cmd_seed(int argc, char **argv);
int cli_cmd_token(int argc, char **argv);
int cli_cmd_report(int argc, char **argv);
int cli_cmd_export(int argc, char **argv);

#endif
