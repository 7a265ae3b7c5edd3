/* SPDX-License-Identifier: Apache-2.0 */
/* Web pages embedded in the binary (generated from src/web/). */
#ifndef HUTONG_WEB_ASSETS_H
#define HUTONG_WEB_ASSETS_H

#include <stddef.h>

extern const unsigned char ht_web_viewer_html[];
extern const size_t ht_web_viewer_html_len;
extern const unsigned char ht_web_wall_html[];
extern const size_t ht_web_wall_html_len;

#endif
