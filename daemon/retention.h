/* SPDX-License-Identifier: MIT */
/* retention: the ledger's history pruned off the hot path, by the retention section's rules:
 * the history of closed items, delivered to every destination, kept keep_months whole months
 * (the months still kept stay complete for the monthly report), and a size cap that prunes
 * the oldest delivered history first once the pages in use pass max_size_mb (down to 90% of
 * it). Never an unsent event, an open item or its history (ledger_prune_step). */
#pragma once

#include <jansson.h>
#include <stdint.h>
#include <uv.h>

struct ledger;
struct retention_conf;
struct retention;

/* Starts the pruning timer (first look 10 s after start). NULL if out of memory. */
struct retention *retention_start(uv_loop_t *loop, struct ledger *l,
                                  const struct retention_conf *rc);
/* After a reload: the new rules (the conf must outlive them). */
void retention_set_conf(struct retention *r, const struct retention_conf *rc);
void retention_stop(struct retention *r);
/* Items closed before this (wall ms) are past keep_months: the start of the month that many
 * months before `now_ms` (UTC). */
int64_t retention_horizon(int keep_months, int64_t now_ms);
/* For `firegwctl status`: sizes, the cap, the oldest item kept and what the next prune will
 * remove. Reads every item (not for the heartbeat). */
json_t *retention_status(struct retention *r, struct ledger *l);
