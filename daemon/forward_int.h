/* SPDX-License-Identifier: MIT */
/* forward_int: the forwarder core's own state (struct forward), shared by its two files:
 * forward.c (batches, failures, the link, heartbeats, start and stop) and forward_settle.c
 * (the settlement of answers and the drain's pipeline). Nothing outside the core includes it. */
#pragma once

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "log.h"

#define BACKOFF_BASE_MS 1000

/* log_state codes of the core's own failures (a transport's are its own, below 1000 or from
 * FORWARD_FAIL_* in its file). */
enum {
	FAIL_LEDGER = 2002,   /* the answer could not be recorded, or the outbox read */
	FAIL_INTERNAL = 2003, /* out of memory, cannot start a request */
};

struct forward {
	uv_loop_t *loop;
	const struct conf *conf;
	const struct platform_conf *pc; /* this destination */
	struct ledger *ledger;
	struct forward_hooks hooks;
	const struct forward_transport *tp;
	void *t; /* the transport's state */
	char label[128], hb_label[140];
	uv_timer_t send_timer, heartbeat_timer, commit_timer;
	int open_handles; /* timers not closed yet, once forward_free closes them */
	bool up;          /* the transport's connection (always, for one without) */
	bool backing_off;
	bool freeing;
	/* Set at start and by every failure: the next success is a reconnect, and queues a
	 * resync of every open item. */
	bool need_resync;
	bool unreachable;         /* the last failure was the network's, not the receiver's */
	int64_t retry_not_before; /* mono ms: the receiver's Retry-After, 0 if none */
	uint64_t seen_appended;
	size_t window; /* events in flight, at most */
	/* Events in flight, in the order sent. */
	struct forward_flight {
		int64_t seq, prio;
	} *fl;
	size_t nfl;
	json_t *results_sent; /* command results carried by what is in flight */
	/* FORWARD_ONE_BATCH: the next batch, read while one is in flight, and how many events
	 * the ledger had appended then (a newer event, a fire alarm, may have to go first). */
	struct outbox_item *next;
	size_t nnext;
	uint64_t next_appended;
	/* Accepted events whose transaction follows the send of the next batch. */
	int64_t *deferred;
	size_t ndeferred;
	bool commit_on_sent; /* their transaction waits for forward_sent */
	int64_t *skip; /* scratch: the seqs a read leaves out */
	struct log_state log, hb_log;
	struct forward_stats stats;
};

/* Sends the next batch if the transport has room and the core is not backing off. */
void forward_send(struct forward *f);
/* Reads the next batch while one is in flight (FORWARD_ONE_BATCH). */
void forward_prefetch(struct forward *f);
/* The deferred transaction of an accepted batch, now: anything that changes the state it
 * records (another answer, a failure, a lost heartbeat, a stop) runs it first. Returns 0, or
 * -1 when the ledger failed (then reported with forward_failed: those events stay in the
 * outbox and go again). */
int forward_flush(struct forward *f);
