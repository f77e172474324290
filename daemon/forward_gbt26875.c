/* SPDX-License-Identifier: MIT */
/* forward_gbt26875: a fire monitoring centre as a destination, over GB/T 26875.3 on TCP. */
#include "forward_gbt26875.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "clock.h"
#include "conf_gbt26875.h"
#include "gbt26875_link.h"
#include "gbt_map.h"
#include "gbt_uitd.h"
#include "i18n.h"
#include "jsonfmt.h"
#include "log.h"

/* Events per batch: each makes at most one component status and one analog value, and a
 * frame holds at most 22 of the former. */
#define GBT_FWD_BATCH   20
#define GBT_FWD_FRAMES  5 /* fire, UITD at connect, other status, analog, UITD of an event */
#define GBT_FWD_BACKOFF_BASE_MS 1000

/* log_state codes. */
enum { FAIL_NETWORK = 1, FAIL_NO_ANSWER, FAIL_DENIED, FAIL_LEDGER, FAIL_INTERNAL };

struct gbt_fwd {
	uv_loop_t *loop;
	const struct conf *conf;
	const struct platform_conf *pc;
	const struct conf_gbt26875 *g;
	struct ledger *ledger;
	uv_timer_t link_timer, retry_timer;
	uv_tcp_t tcp;
	uv_connect_t conn_req;
	uv_getaddrinfo_t gai_req;
	int refs; /* open handles and pending requests: the struct goes with the last */
	bool stopping, resolving, tcp_open, connecting, connected, backing_off;
	struct gbt26875_stream stream;
	struct gbt26875_link link;
	/* The batch being sent, the frames it makes and the next one to send. */
	struct outbox_item *batch;
	size_t nbatch;
	bool unreadable[GBT_FWD_BATCH];
	uint8_t last_frame[GBT_FWD_BATCH]; /* 1 + the last frame holding the event's objects; 0: none */
	struct gbt26875_adu adus[GBT_FWD_FRAMES];
	bool adu_is_connect_uitd[GBT_FWD_FRAMES];
	size_t nadus, adu_next;
	bool uitd_due;       /* the UITD status is to be sent (after a connect, on a change) */
	uint8_t uitd_status; /* what the centre was last told */
	uint64_t seen_appended;
	int64_t clock_offset_ms; /* an applied clock sync */
	int64_t last_clock_sync_offset_ms, last_clock_sync_wall, last_roll_call_wall;
	int64_t last_confirm_wall;
	uint8_t roll_call_minutes;
	uint64_t connects, no_frame_events, out_of_range, unreadable_events, skipped_input;
	struct forward_stats stats;
	struct log_state log, input_log;
	char rbuf[2048];
};

static void gbt_fwd_connect(struct gbt_fwd *f);
static void gbt_fwd_pump(struct gbt_fwd *f);
static void gbt_fwd_on_retry(uv_timer_t *t);

static void gbt_fwd_unref(struct gbt_fwd *f)
{
	if (--f->refs == 0 && f->stopping)
		free(f);
}

static void gbt_fwd_handle_closed(uv_handle_t *h)
{
	struct gbt_fwd *f = h->data;

	if ((uv_tcp_t *)h == &f->tcp)
		f->tcp_open = false;
	gbt_fwd_unref(f);
}

/* The time frames carry: local time, plus an applied clock sync. */
static void gbt_fwd_now(const struct gbt_fwd *f, struct gbt26875_time *t)
{
	gbt_map_time((clock_wall_ms() + f->clock_offset_ms) / 1000, t);
}

static void gbt_fwd_arm(struct gbt_fwd *f);

static void gbt_fwd_batch_drop(struct gbt_fwd *f)
{
	ledger_outbox_free(f->batch, f->nbatch);
	f->batch = NULL;
	f->nbatch = 0;
	f->nadus = f->adu_next = 0;
}

static void gbt_fwd_written(uv_write_t *req, int status)
{
	(void)status; /* a failed write shows as a read error or a missing answer */
	free(req);
}

static void gbt_fwd_lost(struct gbt_fwd *f, int code, const char *what);

static void gbt_fwd_write(struct gbt_fwd *f, const uint8_t *data, size_t len)
{
	uv_write_t *req = malloc(sizeof(*req) + len);
	uv_buf_t b;

	if (!req) {
		gbt_fwd_lost(f, FAIL_INTERNAL, _("out of memory"));
		return;
	}
	memcpy(req + 1, data, len);
	b = uv_buf_init((char *)(req + 1), (unsigned)len);
	if (uv_write(req, (uv_stream_t *)&f->tcp, &b, 1, gbt_fwd_written) != 0) {
		free(req);
		gbt_fwd_lost(f, FAIL_NETWORK, _("cannot write to the centre"));
	}
}

/* Exponential backoff with full jitter, capped by backoff_max. */
static void gbt_fwd_backoff(struct gbt_fwd *f)
{
	unsigned shift = f->stats.failures < 20 ? f->stats.failures : 20;
	int64_t cap = (int64_t)GBT_FWD_BACKOFF_BASE_MS << shift;
	uint32_t r = 0;

	if (cap > f->pc->backoff_max_ms)
		cap = f->pc->backoff_max_ms;
	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (uint32_t)rand();
	int64_t delay = (int64_t)(r % (uint64_t)(cap + 1));
	f->backing_off = true;
	f->stats.next_attempt_mono = clock_mono_ms() + delay;
	uv_update_time(f->loop);
	uv_timer_start(&f->retry_timer, gbt_fwd_on_retry, (uint64_t)delay, 0);
}

/* A failed exchange: the batch stays in the outbox and goes again after the backoff. */
static void gbt_fwd_fail(struct gbt_fwd *f, int code, const char *what)
{
	char detail[sizeof(f->stats.last_error) + 128];
	int64_t waiting = ledger_outbox_depth_dest(f->ledger, f->pc->name);

	f->stats.failures++;
	snprintf(f->stats.last_error, sizeof(f->stats.last_error), "%s", what);
	snprintf(detail, sizeof(detail), _("%s; %lld event(s) stay in the outbox and are retried"),
	         what, (long long)(waiting > 0 ? waiting : 0));
	log_state_report(&f->log, code, f->pc->label, detail);
	gbt_fwd_batch_drop(f);
	gbt_fwd_backoff(f);
}

static void gbt_fwd_close_tcp(struct gbt_fwd *f)
{
	f->connected = f->connecting = false;
	gbt26875_link_close(&f->link);
	uv_timer_stop(&f->link_timer);
	if (f->tcp_open && !uv_is_closing((uv_handle_t *)&f->tcp))
		uv_close((uv_handle_t *)&f->tcp, gbt_fwd_handle_closed);
}

/* The connection is gone or useless: close it and reconnect after the backoff. */
static int gbt_fwd_settle(struct gbt_fwd *f, size_t confirmed);

static void gbt_fwd_lost(struct gbt_fwd *f, int code, const char *what)
{
	/* The frames of the batch confirmed before this failure: their events are the centre's
	 * (a ledger failure here is reported and backed off by itself). */
	if (f->nbatch > 0 && f->adu_next > 0 && !f->stopping)
		(void)gbt_fwd_settle(f, f->adu_next);
	gbt_fwd_close_tcp(f);
	gbt_fwd_fail(f, code, what);
}

/* ---- what the centre may read (gbt_uitd.c) ---- */

static uint8_t gbt_fwd_uitd_status(void *ctx)
{
	return gbt_uitd_status(((struct gbt_fwd *)ctx)->ledger);
}

static size_t gbt_fwd_config_text(void *ctx, char *buf, size_t cap)
{
	return gbt_uitd_config(((struct gbt_fwd *)ctx)->conf, buf, cap);
}

/* ---- the batch and its frames ---- */

static struct gbt26875_adu *gbt_fwd_adu(struct gbt_fwd *f, struct gbt26875_adu **slot, uint8_t type)
{
	if (!*slot && f->nadus < GBT_FWD_FRAMES) {
		*slot = &f->adus[f->nadus];
		f->adu_is_connect_uitd[f->nadus++] = false;
		gbt26875_adu_start(*slot, type);
	}
	return *slot;
}

/* Event i has an object in frame `a`: it is settled only once that frame is confirmed. */
static void gbt_fwd_mark(struct gbt_fwd *f, size_t i, const struct gbt26875_adu *a)
{
	uint8_t n = a ? (uint8_t)(a - f->adus + 1) : 0;

	if (n > f->last_frame[i])
		f->last_frame[i] = n;
}

/* The frames of the batch, fire alarms first: 1 if there is something to send or settle, 0
 * if the outbox is empty, -1 on a ledger failure (handled). */
static int gbt_fwd_load(struct gbt_fwd *f)
{
	struct gbt26875_adu *fire = NULL, *status = NULL, *analog = NULL, *uitd = NULL;
	int rc;

	f->seen_appended = ledger_events_appended(f->ledger);
	rc = ledger_outbox_batch(f->ledger, f->pc->name, GBT_FWD_BATCH, 256 * 1024, &f->batch,
	                         &f->nbatch);
	if (rc < 0) {
		gbt_fwd_fail(f, FAIL_LEDGER, _("cannot read the outbox"));
		return -1;
	}
	if (f->nbatch == 0) { /* an empty batch is still an allocation */
		ledger_outbox_free(f->batch, 0);
		f->batch = NULL;
	}
	f->nadus = f->adu_next = 0;
	struct gbt_map_out o[GBT_FWD_BATCH];
	for (size_t i = 0; i < f->nbatch; i++) {
		f->unreadable[i] = gbt_map_event(f->conf, f->g, f->batch[i].body, f->clock_offset_ms,
		                                 &o[i]) < 0;
		f->last_frame[i] = 0;
		if (!f->unreadable[i] && o[i].fire) {
			gbt26875_adu_add_status(gbt_fwd_adu(f, &fire, GBT26875_T_COMPONENT_STATUS),
			                        &o[i].st);
			gbt_fwd_mark(f, i, fire);
		}
	}
	if (f->nbatch > 0 && gbt_fwd_uitd_status(f) != f->uitd_status)
		f->uitd_due = true;
	if (f->uitd_due) {
		struct gbt26875_adu *a = NULL, *u = gbt_fwd_adu(f, &a, GBT26875_T_UITD_STATUS);
		struct gbt26875_time t;

		gbt_fwd_now(f, &t);
		f->adu_is_connect_uitd[f->nadus - 1] = true;
		gbt26875_adu_add_uitd(u, gbt_fwd_uitd_status(f), &t);
	}
	for (size_t i = 0; i < f->nbatch; i++) {
		if (f->unreadable[i]) {
			f->unreadable_events++;
			log_err(_("%s: outbox event %s (seq %lld) cannot be read; it goes to the "
			          "dead-letter table of this destination"),
			        f->pc->label, f->batch[i].event_id, (long long)f->batch[i].seq);
			continue;
		}
		if (o[i].status && !o[i].fire) {
			gbt26875_adu_add_status(gbt_fwd_adu(f, &status, GBT26875_T_COMPONENT_STATUS),
			                        &o[i].st);
			gbt_fwd_mark(f, i, status);
		}
		if (o[i].analog) {
			gbt26875_adu_add_analog(gbt_fwd_adu(f, &analog, GBT26875_T_ANALOG), &o[i].an);
			gbt_fwd_mark(f, i, analog);
		}
		if (o[i].uitd && gbt_fwd_adu(f, &uitd, GBT26875_T_UITD_STATUS)) {
			if (uitd->len == 2) /* one object: the newest condition wins below */
				gbt26875_adu_add_uitd(uitd, o[i].uitd_status, &o[i].time);
			else
				uitd->buf[2] = o[i].uitd_status;
			gbt_fwd_mark(f, i, uitd);
		}
		f->out_of_range += o[i].out_of_range;
		f->no_frame_events += !o[i].status && !o[i].analog && !o[i].uitd;
	}
	return f->nbatch > 0 || f->nadus > 0;
}

/* The first `confirmed` frames of the batch were confirmed: the events whose objects are all
 * in them leave the outbox of this destination, in one transaction; the batch is done with
 * (what was not settled is read again with the next batch). */
static int gbt_fwd_settle(struct gbt_fwd *f, size_t confirmed)
{
	size_t n = 0;
	int rc = 0;

	for (size_t i = 0; i < f->nbatch; i++)
		n += f->last_frame[i] <= confirmed;
	if (n == 0) {
		gbt_fwd_batch_drop(f);
		return 0;
	}
	rc = ledger_begin(f->ledger);
	for (size_t i = 0; rc == 0 && i < f->nbatch; i++)
		if (f->last_frame[i] <= confirmed)
			rc = f->unreadable[i]
		         ? ledger_deadletter(f->ledger, f->pc->name, f->batch[i].seq,
		                             "not an event firegw can read", clock_wall_ms())
		         : ledger_outbox_accept(f->ledger, f->pc->name, f->batch[i].seq);
	if (rc == 0)
		rc = ledger_commit(f->ledger);
	else
		ledger_rollback(f->ledger);
	if (rc < 0) {
		gbt_fwd_fail(f, FAIL_LEDGER, _("cannot record the centre's confirm in the ledger"));
		return -1;
	}
	f->stats.accepted += n;
	f->stats.last_success_wall = clock_wall_ms();
	gbt_fwd_batch_drop(f);
	return 0;
}

/* Sends the next frame when the link is idle: the rest of the batch, else the next batch. */
static void gbt_fwd_pump(struct gbt_fwd *f)
{
	for (int guard = 0; guard < 64; guard++) {
		if (!f->connected || f->backing_off || f->link.state != GBT26875_LINK_IDLE)
			return;
		/* New events since this batch was read (a fire alarm, maybe): what is confirmed
		 * is settled and the rest read again with them, new fire alarms first. */
		if (f->adu_next > 0 && f->adu_next < f->nadus &&
		    ledger_events_appended(f->ledger) != f->seen_appended) {
			if (gbt_fwd_settle(f, f->adu_next) < 0)
				return;
			continue;
		}
		if (f->adu_next < f->nadus) {
			const struct gbt26875_adu *a = &f->adus[f->adu_next];
			struct gbt26875_time t;
			const uint8_t *frame;
			size_t len;

			gbt_fwd_now(f, &t);
			if (gbt26875_link_send(&f->link, a->buf, a->len, &t, clock_mono_ms(), &frame,
			                       &len) != GBT26875_OK) {
				gbt_fwd_lost(f, FAIL_INTERNAL, _("cannot build a frame"));
				return;
			}
			f->stats.requests++;
			f->stats.sent += a->buf[1];
			gbt_fwd_write(f, frame, len);
			gbt_fwd_arm(f);
			return;
		}
		if ((f->nbatch > 0 || f->nadus > 0) && gbt_fwd_settle(f, f->nadus) < 0)
			return;
		if (gbt_fwd_load(f) <= 0)
			return;
	}
	uv_timer_start(&f->retry_timer, gbt_fwd_on_retry, 0, 0); /* more next turn */
}

/* ---- the link ---- */

static void gbt_fwd_on_link_timer(uv_timer_t *t)
{
	struct gbt_fwd *f = t->data;
	struct gbt26875_time now;
	const uint8_t *frame;
	size_t len;
	char what[160];

	gbt_fwd_now(f, &now);
	switch (gbt26875_link_tick(&f->link, clock_mono_ms(), &now, &frame, &len)) {
	case GBT26875_DUE_RESEND:
		log_debug("%s: no answer to serial %u; sent again (try %d of %d)", f->pc->label,
		          f->link.serial, f->link.tries, f->link.conf.tries);
		gbt_fwd_write(f, frame, len);
		break;
	case GBT26875_DUE_HEARTBEAT:
		gbt_fwd_write(f, frame, len);
		break;
	case GBT26875_DUE_FAILED:
		snprintf(what, sizeof(what), _("no answer from the centre to %d tries of %.1f s"),
		         f->link.conf.tries, (double)f->link.conf.answer_timeout_ms / 1000.0);
		gbt_fwd_lost(f, FAIL_NO_ANSWER, what);
		return;
	default:
		break;
	}
	if (f->connected)
		gbt_fwd_arm(f);
}

static void gbt_fwd_arm(struct gbt_fwd *f)
{
	int64_t next = gbt26875_link_next(&f->link), now;

	if (next == INT64_MAX) {
		uv_timer_stop(&f->link_timer);
		return;
	}
	now = clock_mono_ms();
	uv_update_time(f->loop);
	uv_timer_start(&f->link_timer, gbt_fwd_on_link_timer,
	               (uint64_t)(next > now ? next - now : 0), 0);
}

/* A clock sync or roll call: recorded, logged, shown in status. */
static void gbt_fwd_control(struct gbt_fwd *f, const struct gbt26875_control *c)
{
	struct tm tm;

	if (c->type == GBT26875_T_CLOCK_SYNC) {
		gbt26875_time_to_tm(&c->time, &tm);
		tm.tm_isdst = -1;
		int64_t centre_ms = (int64_t)mktime(&tm) * 1000;
		f->last_clock_sync_wall = clock_wall_ms();
		f->last_clock_sync_offset_ms = centre_ms - f->last_clock_sync_wall;
		if (f->g->apply_clock_sync)
			f->clock_offset_ms = f->last_clock_sync_offset_ms;
		log_notice(_("%s: clock sync from the centre, offset %+.1f s: %s"), f->pc->label,
		           (double)f->last_clock_sync_offset_ms / 1000.0,
		           f->g->apply_clock_sync ? _("applied to the times sent to it")
		                                  : _("recorded, not applied (apply_clock_sync)"));
	} else if (c->type == GBT26875_T_ROLL_CALL) {
		f->last_roll_call_wall = clock_wall_ms();
		f->roll_call_minutes = c->timeout_min;
		log_notice(_("%s: roll call (查岗) from the centre answered"), f->pc->label);
	}
}

static void gbt_fwd_input(struct gbt_fwd *f, const struct gbt26875_frame *fr,
                          enum gbt26875_err perr)
{
	struct gbt26875_link_event ev;
	struct gbt26875_time now;
	char what[160];

	gbt_fwd_now(f, &now);
	enum gbt26875_outcome out =
	    gbt26875_link_input(&f->link, fr, perr, clock_mono_ms(), &now, &ev);
	if (ev.reply_len)
		gbt_fwd_write(f, ev.reply, ev.reply_len);
	if (!f->connected)
		return;
	if (ev.have_control)
		gbt_fwd_control(f, &ev.control);
	if (out == GBT26875_OUT_CONFIRMED) {
		f->last_confirm_wall = clock_wall_ms();
		if (!ev.heartbeat && f->adu_next < f->nadus) {
			if (f->adu_is_connect_uitd[f->adu_next]) {
				f->uitd_due = false;
				f->uitd_status = f->adus[f->adu_next].buf[2];
			}
			f->adu_next++;
		}
		f->stats.failures = 0;
		f->stats.last_error[0] = '\0';
		log_state_report(&f->log, 0, f->pc->label, NULL);
		gbt_fwd_pump(f);
	} else if (out == GBT26875_OUT_DENIED && !ev.heartbeat) {
		/* A deny says the frame could not be used (damaged on the way): the same frame
		 * again, as one more try; after the last, a failure like any other. */
		const uint8_t *frame;
		size_t len;

		if (gbt26875_link_resend(&f->link, clock_mono_ms(), &frame, &len) == GBT26875_OK) {
			log_info(_("%s: the centre denied serial %u; sent again (try %d of %d)"),
			         f->pc->label, fr->h.serial, f->link.tries, f->link.conf.tries);
			gbt_fwd_write(f, frame, len);
		} else {
			snprintf(what, sizeof(what), _("the centre denied frame serial %u %d times"),
			         fr->h.serial, f->link.tries);
			gbt_fwd_lost(f, FAIL_DENIED, what);
			return;
		}
	} else if (out == GBT26875_OUT_DENIED) {
		gbt_fwd_pump(f);
	}
	if (f->connected)
		gbt_fwd_arm(f);
}

static void gbt_fwd_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct gbt_fwd *f = h->data;

	(void)suggested;
	*buf = uv_buf_init(f->rbuf, sizeof(f->rbuf));
}

static void gbt_fwd_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct gbt_fwd *f = s->data;
	struct gbt26875_frame fr;
	size_t off = 0;

	if (n < 0) {
		gbt_fwd_lost(f, FAIL_NETWORK,
		             n == UV_EOF ? _("the centre closed the connection") : uv_strerror((int)n));
		return;
	}
	/* The stream takes what fits (at most one frame's worth beyond a frame); what it
	 * cannot use it skips, counted. */
	while (off < (size_t)n && f->connected) {
		off += gbt26875_stream_feed(&f->stream, buf->base + off, (size_t)n - off);
		for (;;) {
			enum gbt26875_err e = gbt26875_stream_next(&f->stream, &fr);

			if (e == GBT26875_NEED_MORE || !f->connected)
				break;
			if (e == GBT26875_OK || e == GBT26875_BAD_CHECKSUM ||
			    e == GBT26875_BAD_VERSION || e == GBT26875_BAD_COMMAND)
				gbt_fwd_input(f, &fr, e);
			if (e != GBT26875_OK) {
				/* Logged when the kind of bad input changes, else only counted
				 * (status: input_skipped): a centre sending noise cannot flood the
				 * log. */
				f->skipped_input++;
				log_state_report(&f->input_log, (int)e, f->pc->label, f->stream.detail);
			}
		}
	}
}

static void gbt_fwd_on_connect(uv_connect_t *req, int status)
{
	struct gbt_fwd *f = req->data;
	char what[256];

	gbt_fwd_unref(f);
	if (f->stopping || !f->connecting)
		return;
	f->connecting = false;
	uv_timer_stop(&f->retry_timer);
	if (status < 0) {
		snprintf(what, sizeof(what), _("cannot connect to %s:%d: %s"), f->g->host, f->g->port,
		         uv_strerror(status));
		gbt_fwd_lost(f, FAIL_NETWORK, what);
		return;
	}
	uv_tcp_nodelay(&f->tcp, 1);
	uv_tcp_keepalive(&f->tcp, 1, 60);
	if (uv_read_start((uv_stream_t *)&f->tcp, gbt_fwd_alloc, gbt_fwd_on_read) != 0) {
		gbt_fwd_lost(f, FAIL_NETWORK, _("cannot read from the centre"));
		return;
	}
	f->connected = true;
	f->connects++;
	f->backing_off = false;
	gbt26875_stream_init(&f->stream);
	gbt26875_link_open(&f->link, clock_mono_ms());
	f->uitd_due = true;
	log_notice(_("%s: connected to the monitoring centre %s:%d"), f->pc->label, f->g->host,
	           f->g->port);
	gbt_fwd_pump(f);
	if (f->connected)
		gbt_fwd_arm(f);
}

static void gbt_fwd_on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *ai)
{
	struct gbt_fwd *f = req->data;
	char what[256];

	f->resolving = false;
	if (f->stopping || !f->connecting) {
		/* Stopped, or the connect timeout gave up on this attempt (its cancel came too
		 * late): the backoff's retry makes the next one. */
		uv_freeaddrinfo(ai);
		gbt_fwd_unref(f);
		return;
	}
	gbt_fwd_unref(f);
	if (status < 0 || !ai) {
		f->connecting = false;
		uv_timer_stop(&f->retry_timer);
		snprintf(what, sizeof(what), _("cannot resolve %s: %s"), f->g->host,
		         uv_strerror(status));
		uv_freeaddrinfo(ai);
		gbt_fwd_fail(f, FAIL_NETWORK, what);
		return;
	}
	uv_tcp_init(f->loop, &f->tcp);
	f->tcp.data = f;
	f->tcp_open = true;
	f->refs++;
	f->conn_req.data = f;
	if (uv_tcp_connect(&f->conn_req, &f->tcp, ai->ai_addr, gbt_fwd_on_connect) == 0)
		f->refs++;
	else {
		snprintf(what, sizeof(what), _("cannot connect to %s:%d"), f->g->host, f->g->port);
		gbt_fwd_lost(f, FAIL_NETWORK, what);
	}
	uv_freeaddrinfo(ai);
}

static void gbt_fwd_connect(struct gbt_fwd *f)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	char port[8];

	if (f->tcp_open || f->resolving) { /* the old socket is still closing: soon */
		uv_timer_start(&f->retry_timer, gbt_fwd_on_retry, 50, 0);
		return;
	}
	snprintf(port, sizeof(port), "%d", f->g->port);
	f->connecting = true;
	f->backing_off = false;
	f->gai_req.data = f;
	if (uv_getaddrinfo(f->loop, &f->gai_req, gbt_fwd_on_resolved, f->g->host, port, &hints) != 0) {
		f->connecting = false;
		gbt_fwd_fail(f, FAIL_NETWORK, _("cannot start resolving the centre's host"));
		return;
	}
	f->resolving = true;
	f->refs++;
	/* The connect timeout: the whole of resolving and connecting. */
	uv_update_time(f->loop);
	uv_timer_start(&f->retry_timer, gbt_fwd_on_retry, (uint64_t)f->pc->connect_timeout_ms, 0);
}

static void gbt_fwd_on_retry(uv_timer_t *t)
{
	struct gbt_fwd *f = t->data;
	char what[160];

	if (f->connecting) {
		snprintf(what, sizeof(what), _("no connection to %s:%d within %.1f s"), f->g->host,
		         f->g->port, (double)f->pc->connect_timeout_ms / 1000.0);
		if (f->resolving)
			uv_cancel((uv_req_t *)&f->gai_req);
		gbt_fwd_lost(f, FAIL_NETWORK, what);
		return;
	}
	f->backing_off = false;
	if (!f->connected)
		gbt_fwd_connect(f);
	else
		gbt_fwd_pump(f);
}

/* ---- the interface ---- */

struct gbt_fwd *gbt_fwd_start(uv_loop_t *loop, const struct conf *c,
                              const struct platform_conf *pc, struct ledger *l)
{
	struct gbt_fwd *f;

	if (!pc->enabled || !pc->gbt || strcmp(pc->transport, "gbt26875") != 0)
		return NULL;
	f = calloc(1, sizeof(*f));
	if (!f) {
		log_err(_("%s: out of memory; hazards are recorded and wait in the outbox"),
		        pc->label);
		return NULL;
	}
	f->loop = loop;
	f->conf = c;
	f->pc = pc;
	f->g = pc->gbt;
	f->ledger = l;
	struct gbt26875_link_conf lc = {
	    .src = f->g->src,
	    .dst = f->g->dst,
	    .user_version = 1,
	    .answer_timeout_ms = f->g->answer_timeout_ms,
	    .tries = f->g->tries,
	    .heartbeat_ms = pc->heartbeat_ms,
	};
	struct gbt26875_link_ops ops = {gbt_fwd_uitd_status, gbt_uitd_operations, gbt_uitd_version,
	                                gbt_fwd_config_text, f};
	gbt26875_link_init(&f->link, &lc, &ops);
	gbt26875_stream_init(&f->stream);
	uv_timer_init(loop, &f->link_timer);
	uv_timer_init(loop, &f->retry_timer);
	f->link_timer.data = f->retry_timer.data = f;
	f->refs = 2;
	f->uitd_status = 0xFF; /* nothing told yet */
	gbt_fwd_connect(f);
	log_info(_("%s: monitoring centre gbt26875://%s:%d, source address %llu, centre address "
	           "%llu"),
	         pc->label, f->g->host, f->g->port, (unsigned long long)f->g->src,
	         (unsigned long long)f->g->dst);
	return f;
}

void gbt_fwd_stop(struct gbt_fwd *f)
{
	if (!f)
		return;
	if (f->nbatch > 0 && f->adu_next > 0) /* what the centre confirmed is its */
		(void)gbt_fwd_settle(f, f->adu_next);
	f->stopping = true;
	gbt_fwd_batch_drop(f);
	if (f->resolving)
		uv_cancel((uv_req_t *)&f->gai_req);
	gbt_fwd_close_tcp(f);
	uv_close((uv_handle_t *)&f->link_timer, gbt_fwd_handle_closed);
	uv_close((uv_handle_t *)&f->retry_timer, gbt_fwd_handle_closed);
}

void gbt_fwd_kick(struct gbt_fwd *f)
{
	if (f && f->connected && !f->backing_off && f->link.state == GBT26875_LINK_IDLE &&
	    f->nadus == 0 && ledger_events_appended(f->ledger) != f->seen_appended)
		gbt_fwd_pump(f);
}

const struct forward_stats *gbt_fwd_stats(const struct gbt_fwd *f)
{
	return &f->stats;
}

json_t *gbt_fwd_status_json(const struct gbt_fwd *f)
{
	static const char *const states[] = {"closed", "idle", "waiting"};
	const struct gbt26875_link *l = &f->link;
	json_t *skipped = json_object(), *o;

	for (int e = GBT26875_GARBAGE; e < GBT26875_ERR_COUNT; e++)
		if (f->stream.errors[e])
			json_object_set_new(skipped, gbt26875_err_name((enum gbt26875_err)e),
			                    json_integer((json_int_t)f->stream.errors[e]));
	o = json_pack(
	    "{s:s, s:b, s:s, s:I, s:I, s:I, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:I, "
	    "s:o, s:I, s:b, s:I, s:I, s:I, s:I, s:I, s:o}",
	    "link", f->connected ? states[l->state] : f->connecting ? "connecting" : "closed",
	    "connected", f->connected, "centre", f->g->host, "port", (json_int_t)f->g->port,
	    "source_address", (json_int_t)f->g->src, "centre_address", (json_int_t)f->g->dst,
	    "last_confirm", jsonfmt_time(f->last_confirm_wall), "connects",
	    (json_int_t)f->connects, "confirmed", (json_int_t)l->confirmed, "denied",
	    (json_int_t)l->denied, "failed", (json_int_t)l->failed, "resent", (json_int_t)l->resent,
	    "heartbeats", (json_int_t)l->heartbeats, "stray_answers", (json_int_t)l->stray_answers,
	    "roll_calls", (json_int_t)l->roll_calls, "last_roll_call",
	    jsonfmt_time(f->last_roll_call_wall), "clock_syncs", (json_int_t)l->clock_syncs,
	    "last_clock_sync", jsonfmt_time(f->last_clock_sync_wall), "clock_offset_ms",
	    (json_int_t)f->last_clock_sync_offset_ms, "clock_applied", f->g->apply_clock_sync,
	    "controls", (json_int_t)l->controls, "controls_denied", (json_int_t)l->controls_denied,
	    "bad_frames", (json_int_t)l->bad_frames, "events_without_frame",
	    (json_int_t)f->no_frame_events, "readings_out_of_range", (json_int_t)f->out_of_range,
	    "input_skipped", skipped);

	if (o) {
		/* The answer time the last roll call asked for, and events that could not be read
		 * (dead-lettered for this destination). */
		json_object_set_new(o, "roll_call_minutes", json_integer(f->roll_call_minutes));
		json_object_set_new(o, "unreadable_events",
		                    json_integer((json_int_t)f->unreadable_events));
	}
	return o;
}
