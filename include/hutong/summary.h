/* SPDX-License-Identifier: Apache-2.0 */
/* A plain-text overview of what a store holds. */
#ifndef HUTONG_SUMMARY_H
#define HUTONG_SUMMARY_H

#include "hutong/buf.h"
#include "hutong/error.h"
#include "hutong/store.h"

/**
 * Append to @out a report of @s: grids per level (with population),
 * streets per kind (with length), incidents per major category, per month
 * (UTC) and per status, and how many got a grid and a street. On error
 * @out may hold part of the report.
 */
ht_status ht_summary_text(ht_store *s, ht_buf *out, ht_error *err);

#endif
