/* SPDX-License-Identifier: MIT */
/* conf_errors: the list of "file:line: message" a config check collects, so that every
 * mistake is reported at once, not only the first. */
#pragma once

#include <stddef.h>

struct conf_errors {
	char **items; /* "file:line: message" */
	char **files;
	int *lines;
	size_t n, cap;
	/* Where warnings go (mistakes that do not refuse the config, such as an empty 责任人):
	 * `firegw check` sets it; NULL (the daemon, the tests) drops them. */
	struct conf_errors *warnings;
};

void conf_errors_init(struct conf_errors *e);
void conf_errors_finish(struct conf_errors *e);
void conf_errors_add(struct conf_errors *e, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A warning, "file:line: warning: ...", into e->warnings (if set). */
void conf_errors_warn(struct conf_errors *e, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Moves every item of src to the end of dst (src is left empty). */
void conf_errors_take(struct conf_errors *dst, struct conf_errors *src);
/* Orders the items from `from` on by file (in order of first appearance) and line. */
void conf_errors_sort(struct conf_errors *e, size_t from);
