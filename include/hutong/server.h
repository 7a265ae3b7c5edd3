/* SPDX-License-Identifier: Apache-2.0 */
/* The HTTP server (libmicrohttpd): tiles, TileJSON, legends, health. */
#ifndef HUTONG_SERVER_H
#define HUTONG_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hutong/error.h"

/** How to serve. Zero values take the defaults. */
typedef struct ht_server_opts {
    const char *db; /**< the SpatiaLite file or PostgreSQL URL (required) */
    /** a streaming replica of a PostgreSQL @db: the server reads from it
     * (index, change log, pages), writes go to @db; NULL: @db */
    const char *read_db;
    /** a PostgreSQL server's index snapshot: read at the start when it is
     * of this database and the change log still reaches back to it (then
     * brought up to date from the log), written after a load, hourly and at
     * the stop; NULL: none (a SpatiaLite file's is always DB.index) */
    const char *index_file;
    const char *host;   /**< address to bind; default 127.0.0.1 */
    uint16_t port;      /**< 0: any free port (see ht_server_port) */
    unsigned threads;   /**< worker threads; 0: one per CPU */
    size_t cache_bytes; /**< tile cache budget; 0: 256 MiB */
    bool no_cache;      /**< keep no rendered tiles (benchmarks) */
    FILE *access_log;   /**< one line per request; NULL: none */
    /** tokens file; NULL: no writes (on a PostgreSQL database the tokens
     * are its own, and this must be NULL) */
    const char *tokens;
    /** reads need a token from the file too (else they are open, and a
     * token only narrows them to its area) */
    bool private_reads;
    /** connections open at once; 0: 1,000 (the open-file limit is raised
     * to fit, or the number lowered to it) */
    unsigned max_connections;
    /** of them from one client address; 0: 64 */
    unsigned max_connections_per_ip;
    /** event-stream listeners at once; 0: 256. Capped at half of
     * max_connections, so listeners never take every connection. */
    unsigned max_listeners;
    /** of them from one client address; 0: 16 */
    unsigned max_listeners_per_ip;
    /** seconds a connection has to send a whole request (head and body)
     * from when it is ready for one; longer is cut. 0: 10 */
    unsigned request_timeout_s;
    /** the public address of the service ("https://maps.example.org"),
     * used for absolute URLs (TileJSON); NULL: the request's validated
     * Host, with Vary: Host */
    const char *public_url;
    /** absolute URLs from X-Forwarded-Proto, -Host and -Prefix when a
     * request has them (a proxy in front sets them; without this they
     * are ignored), checked as public_url is; public_url wins */
    bool trust_proxy;
    /** the WMS capabilities' ContactInformation (each NULL: not said) */
    const char *contact_person, *contact_organization, *contact_email;
    /** density grids per class (ht_heat_atlas) are kept for heat maps from
     * this many incidents on, read from beside the index's snapshot or
     * built in the background; 0: 200,000 */
    size_t heat_grids_from;
} ht_server_opts;

typedef struct ht_server ht_server;

/**
 * Whether @url may be a public URL: "http://" or "https://", a host
 * ([A-Za-z0-9.-], or an IPv6 literal in brackets), an optional port and
 * path, nothing that could break out of a URL or a JSON string.
 */
bool ht_server_public_url_ok(const char *url);

/**
 * Open the database (features and the incident index are loaded once and
 * shared; each worker thread opens its own read-only connection and
 * renderer on first use) and start listening. HT_EINVAL for bad options,
 * HT_EIO when the address cannot be bound.
 */
ht_status ht_server_start(const ht_server_opts *o, ht_server **out,
                          ht_error *err);

/** The port it listens on. */
uint16_t ht_server_port(const ht_server *s);

/** How the index came to be at start: read from its snapshot, or loaded
 * from the database (and why), with the time it took. */
const char *ht_server_index_note(const ht_server *s);

/** How the density grids per class were had at the start (read, being
 * built, or none and why), for the log. */
const char *ht_server_heat_note(const ht_server *s);

/** Stop accepting, let requests in flight finish, close everything. */
void ht_server_stop(ht_server *s);

#endif
