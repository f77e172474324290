/* SPDX-License-Identifier: MIT */
/* forward_gbt26875_conn: the GB/T 26875.3 transport's TCP connection to the monitoring centre
 * (resolve, connect under the connect timeout, reconnect when the core asks) and what it reads:
 * the stream of frames into the link (gbt26875_link.c), the centre's answers, and its clock
 * syncs and roll calls recorded. */
#include "forward_gbt26875_int.h"

#include <stdio.h>
#include <time.h>

#include "clock.h"
#include "conf_gbt26875.h"
#include "i18n.h"

/* A clock sync or roll call: recorded, logged, shown in status. */
static void gbt_fwd_control(struct gbt_fwd *t, const struct gbt26875_control *c)
{
	struct tm tm;

	if (c->type == GBT26875_T_CLOCK_SYNC) {
		gbt26875_time_to_tm(&c->time, &tm);
		tm.tm_isdst = -1;
		int64_t centre_ms = (int64_t)mktime(&tm) * 1000;
		t->last_clock_sync_wall = clock_wall_ms();
		t->last_clock_sync_offset_ms = centre_ms - t->last_clock_sync_wall;
		if (t->g->apply_clock_sync)
			t->clock_offset_ms = t->last_clock_sync_offset_ms;
		log_notice(_("%s: clock sync from the centre, offset %+.1f s: %s"), t->pc->label,
		           (double)t->last_clock_sync_offset_ms / 1000.0,
		           t->g->apply_clock_sync ? _("applied to the times sent to it")
		                                  : _("recorded, not applied (apply_clock_sync)"));
	} else if (c->type == GBT26875_T_ROLL_CALL) {
		t->last_roll_call_wall = clock_wall_ms();
		t->roll_call_minutes = c->timeout_min;
		log_notice(_("%s: roll call (查岗) from the centre answered"), t->pc->label);
	}
}

static void gbt_fwd_input(struct gbt_fwd *t, const struct gbt26875_frame *fr,
                          enum gbt26875_err perr)
{
	struct gbt26875_link_event ev;
	struct gbt26875_time now;
	char what[160];

	gbt_fwd_now(t, &now);
	enum gbt26875_outcome out =
	    gbt26875_link_input(&t->link, fr, perr, clock_mono_ms(), &now, &ev);
	if (ev.reply_len)
		gbt_fwd_write(t, ev.reply, ev.reply_len);
	if (!t->connected)
		return;
	if (ev.have_control)
		gbt_fwd_control(t, &ev.control);
	if (out == GBT26875_OUT_CONFIRMED) {
		t->last_confirm_wall = clock_wall_ms();
		forward_alive(t->f);
		if (!ev.heartbeat)
			gbt_fwd_confirmed(t);
		else
			gbt_fwd_pump(t);
	} else if (out == GBT26875_OUT_DENIED && !ev.heartbeat) {
		/* A deny says the frame could not be used (damaged on the way): the same frame
		 * again, as one more try; after the last, a failure like any other. */
		const uint8_t *frame;
		size_t len;

		if (gbt26875_link_resend(&t->link, clock_mono_ms(), &frame, &len) == GBT26875_OK) {
			log_info(_("%s: the centre denied serial %u; sent again (try %d of %d)"),
			         t->pc->label, fr->h.serial, t->link.tries, t->link.conf.tries);
			gbt_fwd_write(t, frame, len);
		} else if (!gbt_fwd_refuse(t)) {
			snprintf(what, sizeof(what), _("the centre denied frame serial %u %d times"),
			         fr->h.serial, t->link.tries);
			gbt_fwd_lost(t, FAIL_DENIED, what, false);
			return;
		}
	} else if (out == GBT26875_OUT_DENIED) {
		gbt_fwd_pump(t);
	}
	if (t->connected)
		gbt_fwd_arm(t);
}

static void gbt_fwd_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct gbt_fwd *t = h->data;

	(void)suggested;
	*buf = uv_buf_init(t->rbuf, sizeof(t->rbuf));
}

static void gbt_fwd_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct gbt_fwd *t = s->data;
	struct gbt26875_frame fr;
	size_t off = 0;

	if (n < 0) {
		gbt_fwd_lost(t, FAIL_NETWORK,
		             n == UV_EOF ? _("the centre closed the connection") : uv_strerror((int)n),
		             true);
		return;
	}
	/* The stream takes what fits (at most one frame's worth beyond a frame); what it
	 * cannot use it skips, counted. */
	while (off < (size_t)n && t->connected) {
		off += gbt26875_stream_feed(&t->stream, buf->base + off, (size_t)n - off);
		for (;;) {
			enum gbt26875_err e = gbt26875_stream_next(&t->stream, &fr);

			if (e == GBT26875_NEED_MORE || !t->connected)
				break;
			if (e == GBT26875_OK || e == GBT26875_BAD_CHECKSUM ||
			    e == GBT26875_BAD_VERSION || e == GBT26875_BAD_COMMAND)
				gbt_fwd_input(t, &fr, e);
			if (e != GBT26875_OK) {
				/* Logged when the kind of bad input changes, else only counted
				 * (status: input_skipped): a centre sending noise cannot flood the
				 * log. */
				t->skipped_input++;
				log_state_report(&t->input_log, (int)e, t->pc->label, t->stream.detail);
			}
		}
	}
}

/* ---- the connection ---- */

static void gbt_fwd_on_connect(uv_connect_t *req, int status)
{
	struct gbt_fwd *t = req->data;
	char what[256];

	if (t->stopping || !t->connecting) {
		gbt_fwd_unref(t); /* the last reference, maybe: t goes with it */
		return;
	}
	gbt_fwd_unref(t); /* not the last: the timers hold theirs */
	t->connecting = false;
	uv_timer_stop(&t->conn_timer);
	if (status < 0) {
		snprintf(what, sizeof(what), _("cannot connect to %s:%d: %s"), t->g->host, t->g->port,
		         uv_strerror(status));
		gbt_fwd_lost(t, FAIL_NETWORK, what, true);
		return;
	}
	uv_tcp_nodelay(&t->tcp, 1);
	uv_tcp_keepalive(&t->tcp, 1, 60);
	if (uv_read_start((uv_stream_t *)&t->tcp, gbt_fwd_alloc, gbt_fwd_on_read) != 0) {
		gbt_fwd_lost(t, FAIL_NETWORK, _("cannot read from the centre"), true);
		return;
	}
	t->connected = true;
	t->connects++;
	t->last_down[0] = '\0';
	gbt26875_stream_init(&t->stream);
	gbt26875_link_open(&t->link, clock_mono_ms());
	gbt_batch_clear(&t->b);
	t->uitd_due = true;
	log_notice(_("%s: connected to the monitoring centre %s:%d"), t->pc->label, t->g->host,
	           t->g->port);
	/* The core sends what waits (the UITD status goes with the first batch, after its fire
	 * alarms); with nothing waiting, the UITD status alone. */
	forward_link(t->f, true);
	if (t->connected && !gbt_batch_next(&t->b)) {
		gbt_fwd_add_uitd(t);
		gbt_fwd_pump(t);
	}
	if (t->connected)
		gbt_fwd_arm(t);
}

static void gbt_fwd_on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *ai)
{
	struct gbt_fwd *t = req->data;
	char what[256];

	t->resolving = false;
	if (t->stopping || !t->connecting) {
		/* Stopped, or the connect timeout gave up on this attempt (its cancel came too
		 * late): the core's next reconnect makes the next one. */
		uv_freeaddrinfo(ai);
		gbt_fwd_unref(t); /* the last reference, maybe: t goes with it */
		return;
	}
	gbt_fwd_unref(t); /* not the last: the timers hold theirs */
	if (status < 0 || !ai) {
		snprintf(what, sizeof(what), _("cannot resolve %s: %s"), t->g->host,
		         uv_strerror(status));
		uv_freeaddrinfo(ai);
		gbt_fwd_lost(t, FAIL_NETWORK, what, true);
		return;
	}
	uv_tcp_init(t->loop, &t->tcp);
	t->tcp.data = t;
	t->tcp_open = true;
	t->refs++;
	t->conn_req.data = t;
	if (uv_tcp_connect(&t->conn_req, &t->tcp, ai->ai_addr, gbt_fwd_on_connect) == 0)
		t->refs++;
	else {
		snprintf(what, sizeof(what), _("cannot connect to %s:%d"), t->g->host, t->g->port);
		gbt_fwd_lost(t, FAIL_NETWORK, what, true);
	}
	uv_freeaddrinfo(ai);
}

static void gbt_fwd_on_conn_timer(uv_timer_t *h);

/* Resolves and connects; the connect timeout covers both. A socket still closing (the last
 * connection's) is waited for. */
void gbt_fwd_reconnect(void *tp)
{
	struct gbt_fwd *t = tp;
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	char port[8];

	if (t->stopping || t->connected || t->connecting || t->wait_close)
		return; /* up (the failure was not the connection's), or on its way */
	t->is_down = false;
	uv_update_time(t->loop);
	if (t->tcp_open || t->resolving) {
		t->wait_close = true;
		uv_timer_start(&t->conn_timer, gbt_fwd_on_conn_timer, 50, 0);
		return;
	}
	t->connecting = true;
	snprintf(port, sizeof(port), "%d", t->g->port);
	t->gai_req.data = t;
	if (uv_getaddrinfo(t->loop, &t->gai_req, gbt_fwd_on_resolved, t->g->host, port, &hints) !=
	    0) {
		gbt_fwd_lost(t, FAIL_NETWORK, _("cannot start resolving the centre's host"), true);
		return;
	}
	t->resolving = true;
	t->refs++;
	uv_timer_start(&t->conn_timer, gbt_fwd_on_conn_timer, (uint64_t)t->pc->connect_timeout_ms,
	               0);
}

static void gbt_fwd_on_conn_timer(uv_timer_t *h)
{
	struct gbt_fwd *t = h->data;
	char what[160];

	if (t->wait_close) {
		t->wait_close = false;
		gbt_fwd_reconnect(t);
		return;
	}
	if (!t->connecting)
		return;
	snprintf(what, sizeof(what), _("no connection to %s:%d within %.1f s"), t->g->host,
	         t->g->port, (double)t->pc->connect_timeout_ms / 1000.0);
	if (t->resolving)
		uv_cancel((uv_req_t *)&t->gai_req);
	gbt_fwd_lost(t, FAIL_NETWORK, what, true);
}
