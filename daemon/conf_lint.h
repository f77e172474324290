/* SPDX-License-Identifier: MIT */
/* conf_lint: what a config file's text must be before libconfuse reads it. It must be UTF-8:
 * a file saved as GBK (as Chinese Windows editors often do) is refused with its line and the
 * iconv command that converts it, since its Chinese names could not go into a hazard's JSON.
 * And the look-alikes a Chinese input method types where the syntax wants ASCII (a UTF-8 byte
 * order mark, a full-width space, Chinese quotation marks, ＝, ｛ and ｝) are each named as
 * what they are, instead of libconfuse's "no such option" about an invisible character. */
#pragma once

#include <stddef.h>

struct conf_errors;

/* 0 when buf (n bytes of `file`) is UTF-8; -1 with the error added. */
int conf_lint_utf8(const char *buf, size_t n, const char *file, struct conf_errors *errs);
/* Names every look-alike outside strings (comments are blanked already) and replaces it with
 * its ASCII meaning, padded with spaces to the same length, so that the parse goes on and
 * reports the file's other mistakes too. Returns how many it found. */
int conf_lint_lookalikes(char *buf, size_t n, const char *file, struct conf_errors *errs);
