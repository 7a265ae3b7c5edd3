/* SPDX-License-Identifier: Apache-2.0 */
/* `hutong export`: a complete dump of incidents (with the filters), grids
 * or streets as CSV, GeoJSON or GeoPackage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hutong/export.h"

#include "cli_int.h"

static void show(size_t rows, void *ud) {
    cli_progress_show(ud, rows, 0, 0);
}

int cli_cmd_export(int argc, char **argv) {
    opts o;
    int rc = cli_parse(argc, argv, 2,
                       " db out format bbox from to window category severity "
                       "status source grid department overdue satisfaction ",
                       &o);
    if (rc) {
        return rc;
    }
    ht_error err = {0};
    ht_export_what what;
    if (o.npos != 1) {
        return cli_usage_error("export: incidents, grids or streets");
    }
    if (ht_export_what_parse(o.pos[0], &what, &err) != HT_OK) {
        return cli_fail(&err);
    }
    if (!o.out) {
        return cli_usage_error(
            "export needs -o FILE.csv|.geojson|.gpkg (or "
            "- with --format csv|geojson)");
    }
    bool to_stdout = strcmp(o.out, "-") == 0;
    ht_export_opts eo = {.what = what};
    if (to_stdout) {
        if (!o.format ||
            (strcmp(o.format, "csv") && strcmp(o.format, "geojson"))) {
            return cli_usage_error(
                "-o -: give --format csv or geojson (a "
                "GeoPackage is a file)");
        }
        eo.format =
            strcmp(o.format, "csv") == 0 ? HT_EXPORT_CSV : HT_EXPORT_GEOJSON;
    } else if (o.format) {
        return cli_usage_error(
            "--format is for -o -: a file's extension says "
            "its format");
    } else if (ht_export_format_of(o.out, &eo.format, &err) != HT_OK) {
        return cli_fail(&err);
    }
    ht_filter f;
    if (cli_filter(&o, &f, &err) != HT_OK) {
        return cli_fail(&err);
    }
    ht_filter all = ht_filter_all();
    ht_bbox box;
    if (o.bbox && !cli_parse_bbox(o.bbox, &box)) {
        return cli_usage_error("--bbox \"%s\": W,S,E,N in degrees", o.bbox);
    }
    if (what != HT_EXPORT_INCIDENTS &&
        (memcmp(&f, &all, sizeof f) != 0 || o.bbox)) {
        return cli_usage_error(
            "export %s: the filters and --bbox are for "
            "incidents",
            o.pos[0]);
    }
    eo.filter = &f;
    eo.box = o.bbox ? &box : NULL;
    if (!cli_file_exists(o.db)) {
        fprintf(stderr, "hutong: %s does not exist\n", o.db);
        return EXIT_USAGE;
    }
    ht_store *s = NULL;
    ht_status st = ht_store_open(o.db, HT_STORE_READONLY, &s, &err);
    if (st != HT_OK) {
        return cli_fail(&err);
    }
    cli_progress bar;
    cli_progress_start(&bar, "exporting", "rows");
    bool tty = isatty(STDERR_FILENO);
    eo.progress = tty ? show : NULL;
    eo.ud = &bar;
    size_t rows = 0;
    if (eo.format == HT_EXPORT_GPKG) {
        st = ht_export_gpkg(s, &eo, o.out, &rows, &err);
    } else if (to_stdout) {
        st = ht_export_stream(s, &eo, stdout, &rows, &err);
    } else {
        /* written beside, renamed into place: never half a file */
        size_t n = strlen(o.out) + 8;
        char *part = malloc(n);
        FILE *out = NULL;
        if (part) {
            snprintf(part, n, "%s.part", o.out);
            out = fopen(part, "wb");
        }
        if (!out) {
            st = ht_error_set(&err, HT_EIO, "%s: cannot be written", o.out);
        } else {
            st = ht_export_stream(s, &eo, out, &rows, &err);
            if (fclose(out) != 0 && st == HT_OK) {
                st = ht_error_set(&err, HT_EIO, "%s: cannot be written", o.out);
            }
            if (st == HT_OK && rename(part, o.out) != 0) {
                st = ht_error_set(&err, HT_EIO, "%s: cannot be written", o.out);
            }
            if (st != HT_OK) {
                unlink(part);
            }
        }
        free(part);
    }
    ht_store_close(s);
    if (tty) {
        fputs("\n", stderr);
    }
    if (st != HT_OK) {
        return cli_fail(&err);
    }
    if (!to_stdout) {
        printf("exported %zu %s to %s in %.1f s\n", rows, o.pos[0], o.out,
               cli_progress_seconds(&bar));
    }
    return 0;
}
