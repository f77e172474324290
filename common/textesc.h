/* SPDX-License-Identifier: MIT */
/* textesc: text from outside (the platform, a config, a device) made safe to print on a
 * terminal: control characters become visible \xNN escapes, valid UTF-8 passes unchanged. */
#ifndef FIREGW_TEXTESC_H
#define FIREGW_TEXTESC_H

#include <stddef.h>

/* Writes s to out (size bytes, always terminated when size > 0) with every C0 control byte
 * (0x00-0x1f: ESC, newline, carriage return, tab...), DEL (0x7f), C1 control character
 * (U+0080-U+009F, whose UTF-8 form some terminals obey like ESC [) and byte that is not part
 * of valid UTF-8 written as \xNN, one escape per byte. Everything else, Chinese text
 * included, is copied as it is. Returns the length of the whole escaped text, as snprintf
 * does: out was big enough when the result is below size. A NULL s is "". */
size_t textesc(char *out, size_t size, const char *s);

/* The escaped text of s in a new string (free() it); NULL when memory runs out. */
char *textesc_dup(const char *s);

#endif
