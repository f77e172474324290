/* SPDX-License-Identifier: MIT */
/* i18n: how firegw marks what a person reads, and which language it is read in. Every message
 * for a person (config check errors, firegwctl tables and errors, scan/probe output, log lines
 * an operator acts on) is written _("...") so gettext can give it in the reader's language
 * (po/zh_CN.po); N_("...") marks a string in a table that is translated where it is printed.
 * JSON keys and values, enum names in config and the platform contract are never marked. */
#pragma once

#include <libintl.h>

#define _(s)  gettext(s)
#define N_(s) (s)
/* A word whose English is also another word's (a hazard's status "open", a file "open" to
 * others): its context tells them apart. NC_ marks one in a table, i18n_word() translates it
 * where it is printed. */
#define NC_(ctx, s) (s)

/* `key` (an enum name such as "major") as context `ctx` says it in the reader's language: the
 * NC_(ctx, key) of a table; a key the catalogue does not know comes back as it is. */
const char *i18n_word(const char *ctx, const char *key);

/* Each program's main() calls this first: the language and character set from the locale
 * (LC_ALL, LC_MESSAGES, LANG; LANGUAGE as gettext reads it), the catalogue from
 * FIREGW_LOCALEDIR in the environment (the build tree's po/, for the tests) or the installed
 * one. A language whose locale is not installed (LANG=zh_CN.UTF-8 on a gateway that only has
 * C.UTF-8) is still spoken: messages are its, the character set UTF-8. Only LC_CTYPE and
 * LC_MESSAGES are set: numbers and times keep the C forms JSON and the ledger need. */
void i18n_init(void);
/* The daemon's `gateway.language` ("zh_CN", "en"; NULL or "" keeps the locale's): person-
 * facing log lines and control-socket replies in that language. Call before threads start. */
void i18n_set_language(const char *lang);
