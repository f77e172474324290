/* SPDX-License-Identifier: MIT */
/* ledger_query: what the operators' tools read from the ledger, as JSON. Read-only queries on the
 * daemon's own connection (WAL: they never block a commit for long): hazard lists with
 * filters, one hazard with its event history and the delivery state of each event, the
 * outbox and dead letters (the monthly report is ledger_report.c's). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "ledger.h"

struct ledger_query_filter {
	bool open_only;     /* not closed */
	int grade;          /* enum grade, or -1 for every grade */
	int64_t since_ms;   /* first seen at or after; 0 for all */
	int64_t until_ms;   /* first seen before; 0 for no bound */
	int limit;          /* newest first; 0: the default */
	const char *device; /* NULL for every device */
};

#define QUERY_DEFAULT_LIMIT 200
#define LEDGER_QUERY_MAX_LIMIT     10000

/* Each returns a new JSON value, or NULL with *err set to a message for the client. */
json_t *ledger_query_hazards(struct ledger *l, const struct ledger_query_filter *f, const char **err);
/* The item, its events (seq, type, at, event_id, delivery: queued | delivered | rejected
 * with the reason). NULL with *err "no hazard ..." when the id is unknown. */
json_t *ledger_query_hazard(struct ledger *l, const char *id, const char **err);
/* Depth and oldest age per lane, and the first `limit` alarm-lane rows. */
json_t *ledger_query_outbox(struct ledger *l, int limit, const char **err);
json_t *ledger_query_deadletter(struct ledger *l, int limit, const char **err);
/* Parses "YYYY-MM-DD", "YYYY-MM-DDTHH:MM[:SS]" (local time) or a duration ago ("24h", "7d").
 * Returns wall ms, or -1. */
int64_t ledger_query_parse_since(const char *s, int64_t now_ms);
