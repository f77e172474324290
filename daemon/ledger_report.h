/* SPDX-License-Identifier: MIT */
/* ledger_report: the monthly bulletin (月通报) and weekly statistics (周统计) as figures, counted
 * by item, not by event, from the ledger's event history: opening and closing stock, new items
 * by grade and kind, rectified and accepted, closed out, overdue at the end by stage, the
 * rectification rate, recurrences after close, regraded items, the oldest open item, fire
 * alarms apart, device online rate and faults, and the hazard list (隐患清单). Read-only, on
 * the daemon's connection; the period is the gateway's local month or week. The definitions
 * of every figure are in docs/operations.md, section 7. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger.h"

/* At most this many rows in the hazard list; beyond, "list_truncated" is true. */
#define LEDGER_REPORT_LIST_MAX 5000
/* The devices with the most faults, at most. */
#define LEDGER_REPORT_TOP_DEVICES 5

/* [start, end) in wall ms, local time. */
struct ledger_report_period {
	int64_t start_ms, end_ms;
	bool week;
	char label[16]; /* "2026-11", or the week's Monday "2026-11-16" */
};

/* The local month "YYYY-MM", or the local week (Monday 0:00 to the next Monday) holding the
 * day "YYYY-MM-DD". Returns 0, or -1 with *err set to a message for the client. */
int ledger_report_month(const char *month, struct ledger_report_period *p, const char **err);
int ledger_report_week(const char *day, struct ledger_report_period *p, const char **err);

struct ledger_report_opts {
	size_t devices; /* devices configured: the online rate's denominator */
	bool list;      /* add the hazard list */
	int64_t now_ms; /* the online rate counts the period up to now */
};

/* The figures as JSON (English keys), or NULL with *err set. */
json_t *ledger_report(struct ledger *l, const struct ledger_report_period *p,
                      const struct ledger_report_opts *o, const char **err);
/* The last full local month before now_ms, as the heartbeat carries it (docs/platform-api.md,
 * section 8): the figures of ledger_report without the list, the kinds with no new item left
 * out. NULL with *err set. */
json_t *ledger_report_bulletin(struct ledger *l, size_t devices, int64_t now_ms, const char **err);
