/* SPDX-License-Identifier: MIT */
/* ctl_report: how firegwctl prints the monthly bulletin (月通报) and weekly statistics (周统计)
 * the daemon computed (daemon/ledger_report.c): the site's header, the figures as one
 * paragraph and as tables, the hazard list, or all of it as CSV for WPS and Excel. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

struct ctl_report_opts {
	bool csv;
	const char *encoding; /* CSV: "utf-8" (with a BOM, the default) or "gb18030" */
};

/* True if the encoding is one ctl_report_print can write. */
bool ctl_report_encoding_ok(const char *encoding);
/* Prints the "report" object of the reply to stdout. Returns 0, or 1 if the output could not
 * be converted or written (said on stderr). */
int ctl_report_print(json_t *report, const struct ctl_report_opts *o);
