/* SPDX-License-Identifier: Apache-2.0 */
/* GET /api/incidents.csv: every incident passing the filters as CSV,
 * written by a thread of its own through a pipe, a row at a time (the
 * server's memory does not grow with them). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hutong/export.h"
#include "hutong/log.h"

#include "server_int.h"

#define MAX_EXPORTS 4 /* written at once; more wait (503) */

typedef struct csv_job {
    ht_server *s;
    ht_store *store; /* a connection of its own */
    ht_filter filter;
    ht_bbox box;
    bool has_box;
    FILE *out;
} csv_job;

static void *csv_main(void *arg) {
    csv_job *j = arg;
    ht_export_opts o = {.what = HT_EXPORT_INCIDENTS,
                        .format = HT_EXPORT_CSV,
                        .filter = &j->filter,
                        .box = j->has_box ? &j->box : NULL};
    size_t rows;
    ht_error err = {0};
    if (ht_export_stream(j->store, &o, j->out, &rows, &err) != HT_OK &&
        err.code != HT_EIO) {
        /* (EIO: the reader is gone) */
        ht_log(HT_LOG_WARN, "export", "incidents.csv: %s", err.msg);
    }
    fclose(j->out);
    ht_store_close(j->store);
    atomic_fetch_sub(&j->s->exports, 1);
    free(j);
    return NULL;
}

enum MHD_Result ht__route_incidents_csv(ht_server *s, struct MHD_Connection *c,
                                        request *rq, const char *const *args) {
    (void)args;
    query q;
    if (!ht__http_parse_query(c, "bbox", &q)) {
        return ht__http_send_error(c, rq, MHD_HTTP_BAD_REQUEST, q.bad);
    }
    if (!ht__live_scope_filter(s, rq, &q.filter)) {
        return ht__routes_send_outside(c, rq);
    }
    csv_job *j = calloc(1, sizeof *j);
    if (!j) {
        return ht__http_send_failure(c, rq, HT_ENOMEM, "out of memory");
    }
    j->s = s;
    j->filter = q.filter;
    const char *bbox = ht__http_qget(&q, "bbox");
    if (bbox && (ht_bbox_parse(bbox, &j->box, NULL) != HT_OK ||
                 !(j->box.minx >= -180 && j->box.maxx <= 180 &&
                   j->box.miny >= -90 && j->box.maxy <= 90))) {
        free(j);
        return ht__http_send_error(c, rq, MHD_HTTP_BAD_REQUEST,
                                   "bbox: W,S,E,N in WGS 84 degrees");
    }
    j->has_box = bbox != NULL;
    /* A code that does not exist is the client's mistake: said now, not
     * as an empty file. */
    ht_error err = {0};
    worker *w = ht__live_worker_get(s, &err);
    if (!w || ht_store_check_filter(w->store, &j->filter, &err) != HT_OK) {
        free(j);
        return err.code == HT_EINVAL
                   ? ht__http_send_error(c, rq, MHD_HTTP_BAD_REQUEST, err.msg)
                   : ht__http_send_failure(c, rq, err.code, err.msg);
    }
    if (atomic_fetch_add(&s->exports, 1) >= MAX_EXPORTS) {
        atomic_fetch_sub(&s->exports, 1);
        free(j);
        rq->retry_after = 10;
        return ht__http_send_error(c, rq, MHD_HTTP_SERVICE_UNAVAILABLE,
                                   "4 exports are being written: try again");
    }
    int fds[2] = {-1, -1};
    pthread_t t;
    pthread_attr_t attr;
    bool ok = pipe(fds) == 0 &&
              ht_store_open(ht_store_path(w->store), HT_STORE_READONLY,
                            &j->store, &err) == HT_OK &&
              (j->out = fdopen(fds[1], "w")) != NULL;
    if (ok) {
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        ok = pthread_create(&t, &attr, csv_main, j) == 0;
        pthread_attr_destroy(&attr);
    }
    if (!ok) {
        if (j->out) {
            fclose(j->out);
        } else if (fds[1] >= 0) {
            close(fds[1]);
        }
        if (fds[0] >= 0) {
            close(fds[0]);
        }
        ht_store_close(j->store);
        atomic_fetch_sub(&s->exports, 1);
        free(j);
        return ht__http_send_failure(
            c, rq, err.code ? err.code : HT_EIO,
            err.code ? err.msg : "the export cannot start");
    }
    return ht__http_send_pipe(c, rq, "text/csv; charset=utf-8", fds[0],
                              "attachment; filename=\"incidents.csv\"");
}
