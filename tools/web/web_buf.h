/* SPDX-License-Identifier: MIT */
/* web_buf: the growing text buffer firegw-web writes its pages into, with HTML escaping of
 * everything that comes from outside (device names, hazard titles, platform errors). A buffer
 * that hits its bound or runs out of memory stays failed: the page is then refused whole, never
 * sent cut short. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* The largest page firegw-web builds (a hazard list of 500 items fits in a fraction). */
#define WEB_BUF_MAX (4u * 1024 * 1024)

struct web_buf {
	char *data;
	size_t len, cap;
	bool failed;
};

void web_buf_init(struct web_buf *b);
void web_buf_free(struct web_buf *b);
/* Appends text as it is (markup the program wrote itself). */
void web_buf_add(struct web_buf *b, const char *s);
void web_buf_addf(struct web_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends text with & < > " ' escaped (and control characters as textesc shows them): for
 * every string that did not come from this program. A NULL s is "". */
void web_buf_esc(struct web_buf *b, const char *s);
/* Hands the text over (NUL-terminated; free() it) and resets b; NULL if b failed. */
char *web_buf_take(struct web_buf *b, size_t *len);
