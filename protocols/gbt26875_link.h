/* SPDX-License-Identifier: MIT */
/* gbt26875_link: the device side of GB/T 26875.3 exchanges on one connection, as a state
 * machine driven by explicit times (docs/gbt26875.md section 10). It numbers the frames it
 * starts, keeps the one in flight for resending with the same serial (answer timeout 10 s, 3
 * tries), settles it on the centre's confirm or deny, schedules the heartbeat (an empty
 * send-data frame), and answers the centre's control and read frames through callbacks. No
 * socket, timer or ledger: the transport writes the bytes it is given and calls back at
 * gbt26875_link_next(), so the unit tests drive it with made-up times. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gbt26875.h"
#include "gbt26875_adu.h"

enum gbt26875_link_state {
	GBT26875_LINK_CLOSED,  /* no connection */
	GBT26875_LINK_IDLE,    /* connected, nothing in flight */
	GBT26875_LINK_WAITING, /* a frame sent, its answer awaited */
};

enum gbt26875_outcome {
	GBT26875_OUT_NONE,
	GBT26875_OUT_CONFIRMED, /* the centre confirmed the frame in flight */
	GBT26875_OUT_DENIED,    /* the centre denied it */
	GBT26875_OUT_FAILED,    /* no answer after the last try: the link is closed */
};

struct gbt26875_link_conf {
	uint64_t src, dst;          /* the gateway's and the centre's addresses */
	uint8_t user_version;       /* 1 */
	int64_t answer_timeout_ms;  /* 10000 */
	int tries;                  /* 3 */
	int64_t heartbeat_ms;       /* 30000; 0: none */
};

/* What the link needs to answer the centre's reads; any may be NULL (that read is denied). */
struct gbt26875_link_ops {
	uint8_t (*uitd_status)(void *ctx);
	/* Up to max records from `from` (all zero: the oldest); returns how many. */
	size_t (*operations)(void *ctx, const struct gbt26875_time *from, size_t max,
	                     struct gbt26875_operation *out);
	void (*version)(void *ctx, uint8_t *major, uint8_t *minor);
	/* The configuration text (at most GBT26875_CONFIG_MAX bytes); returns its length. */
	size_t (*config)(void *ctx, char *buf, size_t cap);
	void *ctx;
};

struct gbt26875_link {
	struct gbt26875_link_conf conf;
	struct gbt26875_link_ops ops;
	enum gbt26875_link_state state;
	uint16_t serial;      /* the last serial firegw started on this connection */
	bool heartbeat;       /* the frame in flight is a heartbeat */
	int tries;            /* sends of the frame in flight so far */
	int64_t deadline_ms;  /* when the frame in flight times out */
	int64_t idle_since_ms;/* the last exchange's end (heartbeat schedule) */
	size_t out_len;
	uint8_t out[GBT26875_MAX_FRAME]; /* the frame in flight, resent as it is */
	/* counters, for status */
	uint64_t confirmed, denied, failed, resent, heartbeats, stray_answers;
	uint64_t controls, controls_denied, roll_calls, clock_syncs, bad_frames;
	int64_t last_confirm_ms, last_roll_call_ms;
	struct gbt26875_time last_clock_sync;
};

/* What one input frame did. */
struct gbt26875_link_event {
	enum gbt26875_outcome outcome; /* of the exchange in flight */
	bool heartbeat;                /* that exchange was a heartbeat */
	bool have_control;             /* the centre sent a control or read: control says which */
	struct gbt26875_control control;
	size_t reply_len;              /* a frame to write back (answer, confirm or deny), or 0 */
	uint8_t reply[GBT26875_MAX_FRAME];
};

void gbt26875_link_init(struct gbt26875_link *l, const struct gbt26875_link_conf *conf,
                        const struct gbt26875_link_ops *ops);
/* A new connection: serials start again at 0. */
void gbt26875_link_open(struct gbt26875_link *l, int64_t now_ms);
/* The connection is gone; a frame in flight is abandoned (the caller settles it as FAILED). */
void gbt26875_link_close(struct gbt26875_link *l);

/* Starts an upload of `adu` (len 0: a heartbeat) with the next serial, sent at `t`. *frame and
 * *len are the bytes to write. BAD_ARG when the link is not idle (one exchange at a time). */
enum gbt26875_err gbt26875_link_send(struct gbt26875_link *l, const uint8_t *adu, size_t len,
                                     const struct gbt26875_time *t, int64_t now_ms,
                                     const uint8_t **frame, size_t *frame_len);

/* A frame the stream gave (parse_err OK), or a bad frame whose header could be read (parse_err
 * BAD_CHECKSUM/BAD_VERSION/BAD_COMMAND). Fills ev; returns ev->outcome. */
enum gbt26875_outcome gbt26875_link_input(struct gbt26875_link *l, const struct gbt26875_frame *f,
                                          enum gbt26875_err parse_err, int64_t now_ms,
                                          const struct gbt26875_time *t,
                                          struct gbt26875_link_event *ev);

/* After a deny of the frame in flight (the centre could not use it: damaged on the way):
 * the same frame again, same serial and bytes, as one more try. BAD_ARG when the link is not
 * idle after a deny or every try is used (then the exchange has failed). */
enum gbt26875_err gbt26875_link_resend(struct gbt26875_link *l, int64_t now_ms,
                                       const uint8_t **frame, size_t *frame_len);

enum gbt26875_due {
	GBT26875_DUE_NOTHING,
	GBT26875_DUE_RESEND,    /* write *frame again: same bytes, same serial */
	GBT26875_DUE_FAILED,    /* the last try timed out: FAILED, the link is closed */
	GBT26875_DUE_HEARTBEAT, /* write *frame: a heartbeat was started */
};

/* What is due at now_ms. */
enum gbt26875_due gbt26875_link_tick(struct gbt26875_link *l, int64_t now_ms,
                                     const struct gbt26875_time *t, const uint8_t **frame,
                                     size_t *frame_len);
/* When tick must next be called (INT64_MAX: nothing scheduled). */
int64_t gbt26875_link_next(const struct gbt26875_link *l);
