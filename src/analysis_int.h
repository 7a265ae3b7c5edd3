/* SPDX-License-Identifier: Apache-2.0 */
/* A knob of the aggregates for tests (analysis.c). */
#ifndef HUTONG_ANALYSIS_INT_H
#define HUTONG_ANALYSIS_INT_H

#include <stddef.h>

/* Count street heat with @parts threads (0: the cores) from @from
 * incidents on. */
void ht__analysis_set_parts(size_t parts, size_t from);

#endif
