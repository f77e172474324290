/* SPDX-License-Identifier: MIT */
/* uplink: forwarding the ledger to the county platform over HTTPS (docs/platform-api.md).
 * It drains the alarm lane of the outbox in batches, in seq order; an event leaves the
 * outbox only in the transaction that records the platform's acceptance; rejected events go
 * to the dead-letter table with the platform's reason; everything else (network errors,
 * timeouts, 408, 429, 5xx, a reply that is not the contract) is retried with exponential
 * backoff and full jitter, honouring Retry-After, with the same event_ids. It sends the
 * heartbeat, a resync of every open item after each reconnect, applies the commands that
 * come back (once each) and reports their results in the next request. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "conf.h"
#include "http.h"
#include "ledger.h"

/* What one request to the platform carries, at most: the events' JSON of a batch (a batch
 * stops growing at it; an event larger alone is dead-lettered, see ledger_outbox_batch). */
#define UPLINK_REQUEST_MAX (1024 * 1024)
/* A platform reply (HTTPS body or MQTT command message), at most: larger is dropped unread. */
#define UPLINK_REPLY_MAX HTTP_MAX_REPLY

struct uplink_hooks {
	/* The heartbeat body (new reference). */
	json_t *(*heartbeat)(void *userdata);
	/* Platform commands changed items: live state must follow the ledger. */
	void (*changed)(void *userdata);
	void *userdata;
};

struct uplink_stats {
	int64_t last_success_wall; /* 0: never */
	int64_t next_attempt_mono;
	unsigned failures; /* in a row */
	uint64_t sent, accepted, rejected, requests, commands;
	char last_error[256];
};

struct uplink;

/* NULL with the reason logged if the platform section cannot be used. *fatal is set when the
 * daemon must not start (a token file readable by others); a token file that is missing only
 * keeps the uplink off (alarms are still recorded and wait in the outbox). */
struct uplink *uplink_new(uv_loop_t *loop, const struct conf *c,
                          const struct platform_conf *pc, struct ledger *l,
                          const struct uplink_hooks *hooks, bool *fatal);
void uplink_free(struct uplink *u);
/* New events may be in the outbox: send soon, unless backing off. */
void uplink_kick(struct uplink *u);
const struct uplink_stats *uplink_stats(const struct uplink *u);
/* The delay to the next heartbeat: `interval_ms` give or take 10 % at random, so that gateways
 * started together (a power cut) drift apart and do not all come back to a platform that
 * recovers in the same second (a heartbeat that gets through ends the backoff). */
uint64_t uplink_heartbeat_delay(int64_t interval_ms);
