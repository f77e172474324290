/* SPDX-License-Identifier: MIT */
/* dispwidth: how many terminal columns a UTF-8 text takes (a Chinese character two, a Latin
 * letter one), so that tables of mixed text line up; printf's %-16s counts bytes. */
#pragma once

#include <stddef.h>

/* Columns `s` takes as UTF-8 (wcwidth in C.UTF-8, or in LC_CTYPE where the system lacks it); a
 * byte that is not UTF-8, or a character without a width, counts as one. */
int dispwidth_of(const char *s);
/* `s` followed by spaces up to `width` columns (nothing added when it is wider), into out.
 * Returns out. */
char *dispwidth_pad(char *out, size_t outlen, const char *s, int width);
/* As dispwidth_pad, but a text wider than `width` is cut at a character's end to width - 1
 * columns and ends in "…", so the next column stays in place. Returns out. */
char *dispwidth_cut(char *out, size_t outlen, const char *s, int width);
