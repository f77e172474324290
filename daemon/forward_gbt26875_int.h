/* SPDX-License-Identifier: MIT */
/* forward_gbt26875_int: the GB/T 26875.3 transport's own state (struct gbt_fwd), shared by its
 * two files: forward_gbt26875.c (batches as frames, exchanges, the UITD status, the transport's
 * table) and forward_gbt26875_conn.c (the TCP connection and what it reads). Nothing else
 * includes it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "forward.h"
#include "gbt26875_link.h"
#include "gbt_batch.h"
#include "log.h"

/* The failures the core is told of (log_state codes). */
enum { FAIL_NETWORK = 1, FAIL_NO_ANSWER, FAIL_DENIED, FAIL_INTERNAL, FAIL_LEDGER };

struct gbt_fwd {
	struct forward *f;
	uv_loop_t *loop;
	const struct conf *conf;
	const struct platform_conf *pc;
	const struct conf_gbt26875 *g;
	uv_timer_t link_timer, conn_timer, settle_timer;
	uv_tcp_t tcp;
	uv_connect_t conn_req;
	uv_getaddrinfo_t gai_req;
	int refs; /* open handles and pending requests: the struct goes with the last */
	bool stopping, resolving, tcp_open, connecting, connected;
	bool wait_close; /* a reconnect waits for the last socket to close */
	bool is_down;    /* the core was told (forward_lost); until the next reconnect */
	struct gbt26875_stream stream;
	struct gbt26875_link link;
	/* The events in flight (the core's batch) and the frames they make, sent in order. */
	struct gbt_batch b;
	/* Events given back to the outbox with part of their objects confirmed: left out when
	 * they are sent again. */
	struct gbt_batch_sent sent[2 * GBT_BATCH_EVENTS];
	size_t nsent;
	bool uitd_due;       /* the UITD status is to be told (after a connect, on a change) */
	uint8_t uitd_status; /* what the centre was last told */
	int64_t clock_offset_ms; /* an applied clock sync */
	int64_t last_clock_sync_offset_ms, last_clock_sync_wall, last_roll_call_wall;
	int64_t last_confirm_wall;
	uint8_t roll_call_minutes;
	uint64_t connects, skipped_input;
	/* A frame denied at every try: the first event it carries (-1: the UITD status alone)
	 * and how many exchanges in a row ended so (deny_limit). */
	int64_t denied_key;
	int denied_exchanges;
	struct log_state input_log;
	char last_down[256]; /* why the connection is down, for status */
	char rbuf[2048];
};

/* forward_gbt26875.c */
/* Drops a reference (an open handle or a pending request): the struct goes with the last. */
void gbt_fwd_unref(struct gbt_fwd *t);
/* The time sent to the centre (an applied clock sync moves it). */
void gbt_fwd_now(const struct gbt_fwd *t, struct gbt26875_time *tm);
/* Arms the link's timer for its next deadline (answer timeout, heartbeat). */
void gbt_fwd_arm(struct gbt_fwd *t);
void gbt_fwd_write(struct gbt_fwd *t, const uint8_t *data, size_t len);
/* The connection is down (or could not be made): the core is told, and backs off. */
void gbt_fwd_lost(struct gbt_fwd *t, int code, const char *what, bool unreachable);
/* The UITD status joins the frames to send. */
void gbt_fwd_add_uitd(struct gbt_fwd *t);
/* Sends the next frame of the batch, if the link is idle. */
void gbt_fwd_pump(struct gbt_fwd *t);
/* The frame in flight was confirmed: its events settled, the next frame sent. */
void gbt_fwd_confirmed(struct gbt_fwd *t);
/* A frame denied at every try: true if it went to the dead letters (deny_limit) and the
 * link goes on, false if the connection is to be dropped. */
bool gbt_fwd_refuse(struct gbt_fwd *t);

/* forward_gbt26875_conn.c */
/* Resolves and connects; the connect timeout covers both (the transport's reconnect). */
void gbt_fwd_reconnect(void *tp);
