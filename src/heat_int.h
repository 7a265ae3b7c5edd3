/* SPDX-License-Identifier: Apache-2.0 */
/* A knob of the heat engine for tests (heat.c). */
#ifndef HUTONG_HEAT_INT_H
#define HUTONG_HEAT_INT_H

#include <stddef.h>

/* Splat with @parts threads (0: the cores) from indexes of @from
 * incidents on. */
void ht__heat_set_parts(size_t parts, size_t from);

#endif
