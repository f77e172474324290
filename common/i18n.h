/* SPDX-License-Identifier: MIT */
/* i18n: how firegw marks what a person reads. Every message for a person (config check
 * errors, firegwctl tables and errors, scan/probe output, log lines an operator acts on) is
 * written _("...") so gettext can give it in the reader's language (po/zh_CN.po); N_("...")
 * marks a string in a table that is translated where it is printed. JSON keys and values, enum
 * names in config and the platform contract are never marked. */
#pragma once

#include <libintl.h>

#define _(s)  gettext(s)
#define N_(s) (s)
