/* SPDX-License-Identifier: Apache-2.0 */
/* Writes: POST /api/incidents and PATCH /api/incidents/{id}. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hutong/clock.h"
#include "hutong/datetime.h"
#include "hutong/import.h"

#include "server_int.h"

/* POST /api/incidents?crs=: GeoJSON or CSV, all or nothing, durable
 * before the answer. */
enum MHD_Result ht__route_post_incidents(ht_server *s, struct MHD_Connection *c,
                                         request *rq, const char *const *args) {
    (void)args;
    const ht_token_info who = rq->who; /* checked by begin_write */
    if (rq->body_large) {
        return ht__http_send_error(c, rq, MHD_HTTP_CONTENT_TOO_LARGE,
                                   "body over 1 MiB: send it in parts, or use "
                                   "hutong import");
    }
    if (!rq->body || rq->body->len == 0) {
        return ht__http_send_error(c, rq, MHD_HTTP_BAD_REQUEST, "empty body");
    }
    const char *crs =
        MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "crs");
    char cname[HT_CRS_NAME_SIZE];
    ht_error err = {0};
    if (crs && ht_crs_normalize(crs, cname, &err) != HT_OK) {
        return ht__http_send_error(c, rq, MHD_HTTP_BAD_REQUEST, err.msg);
    }
    /* The Content-Type names the format; without one the importer sniffs
     * it. Messages name the input "body". */
    const char *type =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    const char *format = !type                               ? NULL
                         : strncmp(type, "text/csv", 8) == 0 ? "csv"
                         : strstr(type, "json")              ? "geojson"
                                                             : NULL;
    /* The API's rules: a scoped token writes inside its area only (where
     * an incident is stored and where the row puts it), and an update
     * moves the life cycle forward only, as PATCH does. */
    ht_import_opts io = {
        .kind = HT_IMPORT_INCIDENTS,
        .crs = crs ? cname : NULL,
        .in_transaction = true,
        .lifecycle = true,
        .now = ht_clock_now(),
        .scope = strcmp(who.scope, "*") != 0 ? who.scope : NULL};
    ht_import_stats stats = {0};
    int64_t *ids = NULL;
    size_t nids = 0;
    pthread_mutex_lock(&s->wmu);
    ht_status st = ht_store_begin(s->writer, &err);
    ht_store_track_changes(s->writer, true);
    if (st == HT_OK) {
        st = ht_import_mem(s->writer, "body", (const char *)rq->body->data,
                           rq->body->len, format, &io, &stats, &err);
    }
    if (st == HT_OK) {
        const int64_t *changed = ht_store_changes(s->writer, &nids);
        ids = malloc((nids ? nids : 1) * sizeof *ids);
        if (ids) {
            memcpy(ids, changed, nids * sizeof *ids);
        } else {
            st = ht_error_set(&err, HT_ENOMEM, "out of memory");
        }
    }
    ht_store_track_changes(s->writer, false);
    if (st == HT_OK) {
        st = ht_store_commit(s->writer, &err); /* synchronous = FULL */
    } else {
        ht_store_rollback(s->writer);
    }
    if (st == HT_OK && nids) {
        ht__live_publish(s, s->writer, ids, nids);
        ht__events_announce(s, s->writer, ids, nids);
    }
    pthread_mutex_unlock(&s->wmu);
    if (st != HT_OK) {
        free(ids);
        return ht__http_send_failure(c, rq, st, err.msg);
    }
    json_t *arr = json_array();
    for (size_t k = 0; k < nids; k++) {
        json_array_append_new(arr, json_integer(ids[k]));
    }
    free(ids);
    json_t *j = json_pack(
        "{s:I, s:I, s:I, s:I, s:o}", "rows", (json_int_t)stats.rows, "inserted",
        (json_int_t)stats.inserted, "updated", (json_int_t)stats.updated,
        "unchanged", (json_int_t)stats.unchanged, "ids", arr);
    char *text = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15));
    json_decref(j);
    if (!text) {
        return MHD_NO;
    }
    return ht__http_send_buf(
        c, rq, stats.inserted ? MHD_HTTP_CREATED : MHD_HTTP_OK,
        "application/json", text, strlen(text), NULL, NULL);
}

ht_status ht__ingest_parse_step(const char *body, size_t len, int64_t now,
                                ht__step *out, ht_error *err) {
    json_error_t je;
    json_t *j = json_loadb(body, len, 0, &je);
    const char *status = json_string_value(json_object_get(j, "status"));
    const char *at_text = json_string_value(json_object_get(j, "at"));
    const char *dept = json_string_value(json_object_get(j, "department"));
    json_t *sat = json_object_get(j, "satisfaction");
    *out = (ht__step){.at = now, .step = status != NULL};
    ht_status st = HT_OK;
    if (!json_is_object(j)) {
        st = ht_error_set(err, HT_EINVAL,
                          "body: a JSON object {\"status\", \"at\", "
                          "\"department\", \"satisfaction\"}");
    } else if (sat && (!json_is_string(sat) ||
                       ht_model_satisfaction_parse(json_string_value(sat),
                                                   &out->satisfaction,
                                                   NULL) != HT_OK ||
                       out->satisfaction == HT_SAT_NONE)) {
        st = ht_error_set(err, HT_EINVAL,
                          "satisfaction: satisfied, basic or unsatisfied "
                          "(满意, 基本满意, 不满意)");
    } else if ((!status && !sat) ||
               (status &&
                ht_model_state_parse(status, &out->to, NULL) != HT_OK)) {
        st = ht_error_set(err, HT_EINVAL,
                          "status: dispatched, handling, closed or evaluated");
    } else if (at_text &&
               ht_datetime_parse(at_text, 0, &out->at, err) != HT_OK) {
        ht_error_prefix(err, "at: ");
        st = HT_EINVAL;
    } else if (out->at > now + 300) {
        st = ht_error_set(err, HT_EINVAL, "at: in the future");
    } else if (dept &&
               (strlen(dept) == 0 || strlen(dept) >= sizeof out->department)) {
        st = ht_error_set(err, HT_EINVAL, "department: 1..64 bytes");
    } else if (dept) {
        snprintf(out->department, sizeof out->department, "%s", dept);
    }
    json_decref(j);
    return st;
}

/* PATCH /api/incidents/{id}: {"status": S, "at": ISO (default now),
 * "department": D, "satisfaction": V}: a step forward in the life cycle,
 * logged; the resident's verdict with the step to "evaluated", or alone
 * for an incident already evaluated. */
enum MHD_Result ht__route_patch_incident(ht_server *s, struct MHD_Connection *c,
                                         request *rq, const char *const *args) {
    const char *idtext = args[0];
    const ht_token_info who = rq->who; /* checked by begin_write */
    char *end;
    long long id = strtoll(idtext, &end, 10);
    if (!*idtext || *end || id <= 0) {
        return ht__http_send_error(c, rq, MHD_HTTP_NOT_FOUND,
                                   "no such incident");
    }
    ht__step step;
    ht_error err = {0};
    if (!rq->body || rq->body_large ||
        ht__ingest_parse_step((const char *)rq->body->data, rq->body->len,
                              ht_clock_now(), &step, &err) != HT_OK) {
        return ht__http_send_error(
            c, rq, MHD_HTTP_BAD_REQUEST,
            rq->body && !rq->body_large
                ? err.msg
                : "body: a JSON object {\"status\", \"at\", \"department\"}");
    }
    ht_state to = step.to;
    int64_t at = step.at;
    const char *dept = step.department[0] ? step.department : NULL;
    pthread_mutex_lock(&s->wmu);
    ht_status st = ht_store_begin(s->writer, &err);
    ht_incident_head old = {.state = HT_STATE_REPORTED};
    bool found = false, in = true;
    if (st == HT_OK) {
        st = ht_store_get_incident(s->writer, id, &found, &old, &err);
    }
    if (st == HT_OK && found && strcmp(who.scope, "*") != 0) {
        st = ht_store_grid_within(s->writer, old.grid_code, who.scope, &in,
                                  &err);
    }
    if (st != HT_OK) {
        /* a failure of the store: reported as such below */
    } else if (!found) {
        st = ht_error_set(&err, HT_ENOTFOUND, "no such incident");
    } else if (!in) {
        st = ht_error_set(&err, HT_EAUTH,
                          "this incident lies outside the token's area");
    } else if (step.satisfaction != HT_SAT_NONE &&
               !(step.step ? to == HT_STATE_EVALUATED
                           : old.state == HT_STATE_EVALUATED)) {
        st = ht_error_set(&err, HT_ECONFLICT,
                          "satisfaction: only an evaluated incident has one "
                          "(the incident is %s)",
                          ht_model_state_name(step.step ? to : old.state));
    } else if (!step.step) {
        /* the verdict alone */
    } else if (to <= old.state) {
        st = ht_error_set(&err, HT_ECONFLICT,
                          "status: the incident is %s; it cannot go to %s",
                          ht_model_state_name(old.state),
                          ht_model_state_name(to));
    } else if (at < old.reported_at) {
        st = ht_error_set(&err, HT_EINVAL, "at: before the report");
    } else if (at < old.last_at) {
        char last[32];
        ht_datetime_format(old.last_at, last, sizeof last);
        st = ht_error_set(&err, HT_EINVAL,
                          "at: before the incident's latest step (%s)", last);
    }
    if (st == HT_OK && step.step) {
        st = ht_store_step_incident(s->writer, id, to, at, dept, &err);
    }
    if (st == HT_OK && step.satisfaction != HT_SAT_NONE) {
        st = ht_store_set_satisfaction(s->writer, id, step.satisfaction, &err);
    }
    if (st == HT_OK) {
        st = ht_store_commit(s->writer, &err);
    } else {
        ht_store_rollback(s->writer);
    }
    if (st == HT_OK) {
        int64_t one = id;
        ht__live_publish(s, s->writer, &one, 1);
        ht__events_announce(s, s->writer, &one, 1);
    }
    pthread_mutex_unlock(&s->wmu);
    if (st != HT_OK) {
        return ht__http_send_failure(c, rq, st, err.msg);
    }
    ht_state from = old.state;
    char when[32];
    ht_datetime_format(at, when, sizeof when);
    json_t *r =
        json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)id, "from",
                  ht_model_state_name(from), "status",
                  ht_model_state_name(step.step ? to : from), "at", when);
    if (step.satisfaction != HT_SAT_NONE) {
        json_object_set_new(
            r, "satisfaction",
            json_string(ht_model_satisfaction_name(step.satisfaction)));
    }
    return ht__http_send_json(c, rq, r, NULL);
}
