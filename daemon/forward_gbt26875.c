/* SPDX-License-Identifier: MIT */
/* forward_gbt26875: the transport of a destination that is a fire monitoring centre over
 * GB/T 26875.3-2011 (docs/gbt26875.md), one of the forwarder core's transports (forward.h).
 * It owns the TCP connection to the centre, the frames a batch of events makes (fire alarms
 * first), one exchange at a time with its answer timeout and tries under the same serial
 * (gbt26875_link.c), the empty send-data heartbeat when idle, the UITD status after a connect
 * and on a change. The connection itself and what it reads (the centre's answers, controls and
 * reads) are forward_gbt26875_conn.c. The core owns the batches, their settlement in the
 * ledger, the backoff between connections and the counters. */
#include "forward_gbt26875_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "conf_gbt26875.h"
#include "gbt26875_link.h"
#include "gbt_batch.h"
#include "gbt_map.h"
#include "gbt_uitd.h"
#include "i18n.h"
#include "jsonfmt.h"
#include "log.h"

static void gbt_fwd_on_link_timer(uv_timer_t *h);

void gbt_fwd_unref(struct gbt_fwd *t)
{
	if (--t->refs == 0 && t->stopping)
		free(t);
}

static void gbt_fwd_handle_closed(uv_handle_t *h)
{
	struct gbt_fwd *t = h->data;

	if ((uv_tcp_t *)h == &t->tcp)
		t->tcp_open = false;
	gbt_fwd_unref(t);
}

/* The time frames carry: local time, plus an applied clock sync. */
void gbt_fwd_now(const struct gbt_fwd *t, struct gbt26875_time *tm)
{
	gbt_map_time((clock_wall_ms() + t->clock_offset_ms) / 1000, tm);
}

void gbt_fwd_arm(struct gbt_fwd *t)
{
	int64_t next = gbt26875_link_next(&t->link), now;

	if (next == INT64_MAX) {
		uv_timer_stop(&t->link_timer);
		return;
	}
	now = clock_mono_ms();
	uv_update_time(t->loop);
	uv_timer_start(&t->link_timer, gbt_fwd_on_link_timer,
	               (uint64_t)(next > now ? next - now : 0), 0);
}

static void gbt_fwd_written(uv_write_t *req, int status)
{
	(void)status; /* a failed write shows as a read error or a missing answer */
	free(req);
}

void gbt_fwd_write(struct gbt_fwd *t, const uint8_t *data, size_t len)
{
	uv_write_t *req = malloc(sizeof(*req) + len);
	uv_buf_t b;

	if (!req) {
		gbt_fwd_lost(t, FAIL_INTERNAL, _("out of memory"), false);
		return;
	}
	memcpy(req + 1, data, len);
	b = uv_buf_init((char *)(req + 1), (unsigned)len);
	if (uv_write(req, (uv_stream_t *)&t->tcp, &b, 1, gbt_fwd_written) != 0) {
		free(req);
		gbt_fwd_lost(t, FAIL_NETWORK, _("cannot write to the centre"), true);
	}
}

/* ---- settling what the centre confirmed ---- */

/* The events whose frames are all confirmed, and those no frame carries, are recorded by the
 * core (accepted; one that could not be read goes to this destination's dead letters); when
 * `done`, the frames are forgotten first (the core may hand the next batch at once). Returns 0
 * or the core's negative errno (reported here: the core backs off and sends them again). */
/* The centre has the objects `kinds` of event `seq` (the oldest kept goes when full). */
static void gbt_fwd_keep_sent(struct gbt_fwd *t, int64_t seq, uint8_t kinds)
{
	for (size_t i = 0; i < t->nsent; i++)
		if (t->sent[i].seq == seq) {
			t->sent[i].kinds |= kinds;
			return;
		}
	if (t->nsent == sizeof(t->sent) / sizeof(t->sent[0])) {
		memmove(t->sent, t->sent + 1, (t->nsent - 1) * sizeof(t->sent[0]));
		t->nsent--;
	}
	t->sent[t->nsent++] = (struct gbt_batch_sent){seq, kinds};
}

/* Before the batch is forgotten: what the centre has of its events not settled is kept
 * (and what was kept of its events is dropped: settled, or kept again here). */
static void gbt_fwd_keep_partial(struct gbt_fwd *t)
{
	struct gbt_batch_sent cur[GBT_BATCH_EVENTS];
	size_t n = gbt_batch_partial(&t->b, cur), kept = 0;

	for (size_t i = 0; i < t->nsent; i++) {
		bool in_batch = false;

		for (size_t k = 0; k < t->b.nev && !in_batch; k++)
			in_batch = t->b.ev[k].seq == t->sent[i].seq;
		if (!in_batch)
			t->sent[kept++] = t->sent[i];
	}
	t->nsent = kept;
	for (size_t i = 0; i < n; i++)
		gbt_fwd_keep_sent(t, cur[i].seq, cur[i].kinds);
}

static void gbt_fwd_close_tcp(struct gbt_fwd *t)
{
	t->connected = t->connecting = t->wait_close = false;
	gbt26875_link_close(&t->link);
	uv_timer_stop(&t->link_timer);
	uv_timer_stop(&t->conn_timer);
	uv_timer_stop(&t->settle_timer);
	if (t->tcp_open && !uv_is_closing((uv_handle_t *)&t->tcp))
		uv_close((uv_handle_t *)&t->tcp, gbt_fwd_handle_closed);
}

/* The connection is closed and the batch forgotten (what the centre has of it kept); the core
 * backs off, then asks for a reconnect. */
static void gbt_fwd_down(struct gbt_fwd *t, int code, const char *what, bool unreachable)
{
	gbt_fwd_close_tcp(t);
	snprintf(t->last_down, sizeof(t->last_down), "%s", what);
	gbt_fwd_keep_partial(t);
	gbt_batch_clear(&t->b);
	t->is_down = true;
	forward_lost(t->f, code, what, unreachable);
}

/* The events the confirmed frames completed go to the core (accepted, or rejected with the
 * reason); when `done`, the batch is forgotten first (the core may hand the next from inside
 * forward_settle). A ledger that cannot record them takes the connection down: an answer to
 * the frame in flight must not be taken for the next batch's. Returns 0 or the negative
 * errno (handled). */
static int gbt_fwd_settle(struct gbt_fwd *t, bool done)
{
	/* Copied: the core may hand the next batch from inside forward_settle. */
	struct gbt_batch_event ev[GBT_BATCH_EVENTS];
	struct forward_reject rej[GBT_BATCH_EVENTS];
	int64_t acc[GBT_BATCH_EVENTS];
	size_t idx[GBT_BATCH_EVENTS], n = gbt_batch_settle(&t->b, idx), na = 0, nr = 0;
	int rc;

	for (size_t i = 0; i < n; i++) {
		const char *why = gbt_batch_reason(&t->b.ev[idx[i]]);

		ev[i] = t->b.ev[idx[i]];
		if (why)
			rej[nr++] = (struct forward_reject){ev[i].seq, why, ev[i].event_id,
			                                    ev[i].hazard_id};
		else
			acc[na++] = ev[i].seq;
	}
	if (done) {
		gbt_fwd_keep_partial(t);
		gbt_batch_clear(&t->b);
	}
	if (n == 0)
		return 0;
	struct forward_outcome o = {.accepted = acc, .naccepted = na, .rejected = rej,
	                            .nrejected = nr};
	rc = forward_settle(t->f, &o);
	if (rc < 0) {
		char what[256];

		/* They stay in the outbox: the centre has all of those it confirmed. */
		for (size_t i = 0; i < n; i++)
			if (!gbt_batch_reason(&ev[i]))
				gbt_fwd_keep_sent(t, ev[i].seq, gbt_batch_event_kinds(&ev[i]));
		snprintf(what, sizeof(what),
		         _("cannot record the centre's confirm in the ledger (%s)"), strerror(-rc));
		gbt_fwd_down(t, FAIL_LEDGER, what, false);
	}
	return rc;
}

/* The connection is gone or useless: what the centre confirmed before is settled, the rest
 * stays in the outbox, and the core backs off, then asks for a reconnect. */
void gbt_fwd_lost(struct gbt_fwd *t, int code, const char *what, bool unreachable)
{
	if (t->stopping || t->is_down)
		return; /* the core knows (a ledger failure took the connection down) */
	gbt_fwd_close_tcp(t);
	if (gbt_fwd_settle(t, true) < 0)
		return; /* reported */
	gbt_fwd_down(t, code, what, unreachable);
}

/* ---- what the centre may read (gbt_uitd.c) ---- */

static uint8_t gbt_fwd_uitd_status(void *ctx)
{
	struct gbt_fwd *t = ctx;

	return gbt_uitd_status(forward_ledger(t->f));
}

static size_t gbt_fwd_config_text(void *ctx, char *buf, size_t cap)
{
	return gbt_uitd_config(((struct gbt_fwd *)ctx)->conf, buf, cap);
}

/* ---- a batch and its frames (gbt_batch.c) ---- */

/* The UITD status frame, when the centre is to be told (after a connect, on a change). */
void gbt_fwd_add_uitd(struct gbt_fwd *t)
{
	struct gbt26875_time tm;

	gbt_fwd_now(t, &tm);
	if (t->uitd_due)
		(void)gbt_batch_add_uitd(&t->b, gbt_fwd_uitd_status(t), &tm);
}

static void gbt_fwd_on_settle(uv_timer_t *h)
{
	struct gbt_fwd *t = h->data;

	gbt_fwd_pump(t);
}

/* The core's batch: its frames, fire alarms first, queued after what is queued (at most the
 * UITD status of a connect); the first goes at once if the link is idle. */
static int gbt_fwd_send(void *tp, struct forward_batch *fb)
{
	struct gbt_fwd *t = tp;
	struct gbt26875_time tm;
	size_t n;

	fb->results = NULL; /* the platform's command results are not the centre's */
	if (!t->connected || gbt_batch_busy(&t->b))
		return 0;
	if (fb->n > 0 && gbt_fwd_uitd_status(t) != t->uitd_status)
		t->uitd_due = true;
	gbt_fwd_now(t, &tm);
	n = gbt_batch_build(&t->b, t->conf, t->g, fb->items, fb->n, t->clock_offset_ms,
	                    t->uitd_due, gbt_fwd_uitd_status(t), &tm, t->sent, t->nsent);
	/* The first frame goes (or events without a frame are settled) on the next turn of the
	 * loop, not from inside send: a failure there calls back into the core, which has not
	 * yet counted this batch in flight. */
	uv_timer_start(&t->settle_timer, gbt_fwd_on_settle, 0, 0);
	return (int)n;
}

/* Sends the next frame when the link is idle, or settles a batch whose frames are all
 * confirmed (the core then hands the next). */
void gbt_fwd_pump(struct gbt_fwd *t)
{
	const struct gbt26875_adu *a;
	struct gbt26875_time tm;
	const uint8_t *frame;
	size_t len;

	if (!t->connected || t->link.state != GBT26875_LINK_IDLE)
		return;
	if (!(a = gbt_batch_next(&t->b))) {
		(void)gbt_fwd_settle(t, true); /* or the UITD status alone is done */
		return;
	}
	gbt_fwd_now(t, &tm);
	if (gbt26875_link_send(&t->link, a->buf, a->len, &tm, clock_mono_ms(), &frame, &len) !=
	    GBT26875_OK) {
		gbt_fwd_lost(t, FAIL_INTERNAL, _("cannot build a frame"), false);
		return;
	}
	forward_count_request(t->f);
	gbt_fwd_write(t, frame, len);
	if (t->connected)
		gbt_fwd_arm(t);
}

/* A frame was confirmed: the next goes, then the events it completes are settled (a fire
 * alarm is recorded as the centre's as soon as its frame is confirmed); a fire alarm queued
 * since the batch was read overtakes the rest of the batch. */
void gbt_fwd_confirmed(struct gbt_fwd *t)
{
	int told;

	if (!gbt_batch_next(&t->b))
		return;
	if ((told = gbt_batch_confirmed(&t->b)) >= 0) {
		/* Still due if the gateway's state changed since the frame was built. */
		t->uitd_status = (uint8_t)told;
		t->uitd_due = gbt_fwd_uitd_status(t) != t->uitd_status;
	}
	if (!gbt_batch_next(&t->b)) {
		gbt_fwd_pump(t); /* settles the batch; the core hands the next */
		return;
	}
	if (gbt_batch_busy(&t->b) && forward_newer(t->f)) {
		/* Unless the core handed a batch already (it had nothing left in flight). */
		if (gbt_fwd_settle(t, true) == 0 && !gbt_batch_busy(&t->b))
			forward_requeue(t->f);
		return;
	}
	gbt_fwd_pump(t);
	(void)gbt_fwd_settle(t, false);
}

/* The frame in flight was denied at every try. Until the same frame has been so `deny_limit`
 * exchanges in a row (a new connection each time), a failure like any other; then its events
 * go to this destination's dead letters (a centre that denies a well-formed frame has a
 * configuration to fix; kept trying, the frame would hold back every fire alarm after it) and
 * the rest of the batch goes on. Returns true if the frame was given up. */
bool gbt_fwd_refuse(struct gbt_fwd *t)
{
	int64_t key = gbt_batch_next_key(&t->b);

	if (key != t->denied_key)
		t->denied_exchanges = 0;
	t->denied_key = key;
	if (t->g->deny_limit == 0 || ++t->denied_exchanges < t->g->deny_limit)
		return false;
	t->denied_exchanges = 0;
	t->denied_key = -2;
	(void)gbt_batch_refuse_next(&t->b);
	log_err(_("%s: the centre denied the same frame at every try in %d exchanges; its "
	          "events go to the dead-letter table of this destination ('firegwctl "
	          "deadletter'); check the addresses and codes it expects"),
	        t->pc->label, t->g->deny_limit);
	gbt_fwd_confirmed(t); /* a UITD status given up is told again after the next connect */
	return true;
}

/* ---- the link ---- */

static void gbt_fwd_on_link_timer(uv_timer_t *h)
{
	struct gbt_fwd *t = h->data;
	struct gbt26875_time now;
	const uint8_t *frame;
	size_t len;
	char what[160];

	gbt_fwd_now(t, &now);
	switch (gbt26875_link_tick(&t->link, clock_mono_ms(), &now, &frame, &len)) {
	case GBT26875_DUE_RESEND:
		log_debug("%s: no answer to serial %u; sent again (try %d of %d)", t->pc->label,
		          t->link.serial, t->link.tries, t->link.conf.tries);
		gbt_fwd_write(t, frame, len);
		break;
	case GBT26875_DUE_HEARTBEAT:
		gbt_fwd_write(t, frame, len);
		break;
	case GBT26875_DUE_FAILED:
		snprintf(what, sizeof(what), _("no answer from the centre to %d tries of %.1f s"),
		         t->link.conf.tries, (double)t->link.conf.answer_timeout_ms / 1000.0);
		gbt_fwd_lost(t, FAIL_NO_ANSWER, what, false);
		return;
	default:
		break;
	}
	if (t->connected)
		gbt_fwd_arm(t);
}

/* ---- the transport's table ---- */

static void *gbt_fwd_start(struct forward *f, bool *fatal)
{
	const struct platform_conf *pc = forward_pc(f);
	struct gbt_fwd *t;

	*fatal = false;
	if (!pc->gbt)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t) {
		log_err(_("%s: out of memory; hazards are recorded and wait in the outbox"),
		        pc->label);
		return NULL;
	}
	t->f = f;
	t->loop = forward_loop(f);
	t->conf = forward_conf(f);
	t->pc = pc;
	t->g = pc->gbt;
	struct gbt26875_link_conf lc = {
	    .src = t->g->src,
	    .dst = t->g->dst,
	    .user_version = 1,
	    .answer_timeout_ms = t->g->answer_timeout_ms,
	    .tries = t->g->tries,
	    .heartbeat_ms = pc->heartbeat_ms,
	};
	struct gbt26875_link_ops ops = {gbt_fwd_uitd_status, gbt_uitd_operations, gbt_uitd_version,
	                                gbt_fwd_config_text, t};
	gbt26875_link_init(&t->link, &lc, &ops);
	gbt26875_stream_init(&t->stream);
	uv_timer_init(t->loop, &t->link_timer);
	uv_timer_init(t->loop, &t->conn_timer);
	uv_timer_init(t->loop, &t->settle_timer);
	t->link_timer.data = t->conn_timer.data = t->settle_timer.data = t;
	t->refs = 3;
	t->uitd_status = 0xFF; /* nothing told yet */
	t->denied_key = -2;
	log_info(_("%s: monitoring centre gbt26875://%s:%d, source address %llu, centre address "
	           "%llu"),
	         pc->label, t->g->host, t->g->port, (unsigned long long)t->g->src,
	         (unsigned long long)t->g->dst);
	gbt_fwd_reconnect(t);
	return t;
}

static void gbt_fwd_stop(void *tp)
{
	struct gbt_fwd *t = tp;

	if (!t)
		return;
	t->stopping = true;
	gbt_batch_clear(&t->b);
	if (t->resolving)
		uv_cancel((uv_req_t *)&t->gai_req);
	t->connected = t->connecting = false;
	gbt26875_link_close(&t->link);
	if (t->tcp_open && !uv_is_closing((uv_handle_t *)&t->tcp))
		uv_close((uv_handle_t *)&t->tcp, gbt_fwd_handle_closed);
	uv_close((uv_handle_t *)&t->link_timer, gbt_fwd_handle_closed);
	uv_close((uv_handle_t *)&t->conn_timer, gbt_fwd_handle_closed);
	uv_close((uv_handle_t *)&t->settle_timer, gbt_fwd_handle_closed);
}

static void gbt_fwd_stats(void *tp, struct forward_stats *s)
{
	struct gbt_fwd *t = tp;

	if (!t->connected && t->last_down[0] && !s->last_error[0])
		snprintf(s->last_error, sizeof(s->last_error), "%s", t->last_down);
}

/* The link to the centre, as the object "gbt26875" of the destination in `firegwctl status`. */
static void gbt_fwd_status_json(void *tp, json_t *dest)
{
	static const char *const states[] = {"closed", "idle", "waiting"};
	const struct gbt_fwd *t = tp;
	const struct gbt26875_link *l = &t->link;
	json_t *skipped = json_object(), *o;

	for (int e = GBT26875_GARBAGE; e < GBT26875_ERR_COUNT; e++)
		if (t->stream.errors[e])
			json_object_set_new(skipped, gbt26875_err_name((enum gbt26875_err)e),
			                    json_integer((json_int_t)t->stream.errors[e]));
	o = json_pack(
	    "{s:s, s:b, s:s, s:I, s:I, s:I, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:I, "
	    "s:o, s:I, s:b, s:I, s:I, s:I, s:I, s:I, s:o}",
	    "link", t->connected ? states[l->state] : t->connecting ? "connecting" : "closed",
	    "connected", t->connected, "centre", t->g->host, "port", (json_int_t)t->g->port,
	    "source_address", (json_int_t)t->g->src, "centre_address", (json_int_t)t->g->dst,
	    "last_confirm", jsonfmt_time(t->last_confirm_wall), "connects",
	    (json_int_t)t->connects, "confirmed", (json_int_t)l->confirmed, "denied",
	    (json_int_t)l->denied, "failed", (json_int_t)l->failed, "resent", (json_int_t)l->resent,
	    "heartbeats", (json_int_t)l->heartbeats, "stray_answers", (json_int_t)l->stray_answers,
	    "roll_calls", (json_int_t)l->roll_calls, "last_roll_call",
	    jsonfmt_time(t->last_roll_call_wall), "clock_syncs", (json_int_t)l->clock_syncs,
	    "last_clock_sync", jsonfmt_time(t->last_clock_sync_wall), "clock_offset_ms",
	    (json_int_t)t->last_clock_sync_offset_ms, "clock_applied", t->g->apply_clock_sync,
	    "controls", (json_int_t)l->controls, "controls_denied", (json_int_t)l->controls_denied,
	    "bad_frames", (json_int_t)l->bad_frames, "events_without_frame",
	    (json_int_t)t->b.no_frame_events, "readings_out_of_range", (json_int_t)t->b.out_of_range,
	    "input_skipped", skipped);
	if (!o)
		return;
	/* The answer time the last roll call asked for, and events that could not be read
	 * (dead-lettered for this destination). */
	json_object_set_new(o, "roll_call_minutes", json_integer(t->roll_call_minutes));
	json_object_set_new(o, "unreadable_events", json_integer((json_int_t)t->b.unreadable_events));
	json_object_set_new(o, "refused_events", json_integer((json_int_t)t->b.refused_events));
	json_object_set_new(dest, "gbt26875", o);
}

const struct forward_transport forward_gbt26875 = {
    .name = "gbt26875",
    .mode = FORWARD_ONE_BATCH,
    .start = gbt_fwd_start,
    .stop = gbt_fwd_stop,
    .send = gbt_fwd_send,
    .stats = gbt_fwd_stats,
    .status_json = gbt_fwd_status_json,
    .reconnect = gbt_fwd_reconnect,
    .link = true,
    .answer_proves_link = true,
    .max_batch = GBT_BATCH_EVENTS,
    .no_resync = true,
};
