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
};

void conf_errors_init(struct conf_errors *e);
void conf_errors_finish(struct conf_errors *e);
void conf_errors_add(struct conf_errors *e, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Orders the items from `from` on by file (in order of first appearance) and line. */
void conf_errors_sort(struct conf_errors *e, size_t from);
