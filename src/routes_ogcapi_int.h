/* SPDX-License-Identifier: Apache-2.0 */
/* OGC API Features' internals, shared by routes_ogcapi.c (the documents)
 * and routes_ogcapi_items.c (the features). */
#ifndef HUTONG_ROUTES_OGCAPI_INT_H
#define HUTONG_ROUTES_OGCAPI_INT_H

#include <jansson.h>

#include "server_int.h"

#define GEOJSON "application/geo+json"
#define MAX_LIMIT 10000 /* features a page */

typedef enum coll { GRIDS = 0, STREETS, INCIDENTS, NCOLL } coll;

/* A collection's id, title, description and the parameters of its items
 * besides the filters. */
typedef struct coll_info {
    const char *id, *title, *description, *params;
} coll_info;
extern const coll_info ht__ogc_colls[NCOLL];

/* The collection named @id in @k; false, with a 404 queued in @answer,
 * when there is none. */
bool ht__ogc_coll(struct MHD_Connection *c, request *rq, const char *id,
                  coll *k, enum MHD_Result *answer);

/* A link object to @base @path. */
json_t *ht__ogc_link(const char *base, const char *path, const char *rel,
                     const char *type, const char *title);

/* @j (consumed) as a 200 of @type (with rq->content_crs, when set, as
 * its Content-Crs). */
enum MHD_Result ht__ogc_send(struct MHD_Connection *c, request *rq, json_t *j,
                             const char *type);

#endif
