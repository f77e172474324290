/* SPDX-License-Identifier: MIT */
/* gbt26875_link: one connection's exchanges with a monitoring centre: serials, the frame in
 * flight and its resends, the heartbeat, and the answers to the centre's controls and reads. */
#include "gbt26875_link.h"

#include <string.h>

void gbt26875_link_init(struct gbt26875_link *l, const struct gbt26875_link_conf *conf,
                        const struct gbt26875_link_ops *ops)
{
	memset(l, 0, sizeof(*l));
	l->conf = *conf;
	if (l->conf.answer_timeout_ms <= 0)
		l->conf.answer_timeout_ms = 10000;
	if (l->conf.tries <= 0)
		l->conf.tries = 3;
	if (l->conf.heartbeat_ms < 0)
		l->conf.heartbeat_ms = 30000;
	if (ops)
		l->ops = *ops;
	l->state = GBT26875_LINK_CLOSED;
}

void gbt26875_link_open(struct gbt26875_link *l, int64_t now_ms)
{
	l->state = GBT26875_LINK_IDLE;
	l->serial = 0;
	l->tries = 0;
	l->out_len = 0;
	l->heartbeat = false;
	l->idle_since_ms = now_ms;
}

void gbt26875_link_close(struct gbt26875_link *l)
{
	l->state = GBT26875_LINK_CLOSED;
	l->out_len = 0;
	l->tries = 0;
}

enum gbt26875_err gbt26875_link_send(struct gbt26875_link *l, const uint8_t *adu, size_t len,
                                     const struct gbt26875_time *t, int64_t now_ms,
                                     const uint8_t **frame, size_t *frame_len)
{
	struct gbt26875_header h = {
	    .serial = (uint16_t)(l->serial + 1),
	    .version = GBT26875_VERSION,
	    .user_version = l->conf.user_version,
	    .time = *t,
	    .src = l->conf.src,
	    .dst = l->conf.dst,
	    .cmd = GBT26875_CMD_SEND,
	};
	enum gbt26875_err e;

	*frame = NULL;
	*frame_len = 0;
	if (l->state != GBT26875_LINK_IDLE)
		return GBT26875_BAD_ARG;
	e = gbt26875_frame_build(&h, adu, len, l->out, sizeof(l->out), &l->out_len);
	if (e != GBT26875_OK)
		return e;
	l->serial = h.serial;
	l->heartbeat = len == 0;
	l->heartbeats += l->heartbeat;
	l->tries = 1;
	l->deadline_ms = now_ms + l->conf.answer_timeout_ms;
	l->state = GBT26875_LINK_WAITING;
	*frame = l->out;
	*frame_len = l->out_len;
	return GBT26875_OK;
}

/* The answer frame (command cmd, this ADU) to the centre's frame h, into ev->reply. */
static void gbt26875_link_reply(struct gbt26875_link *l, const struct gbt26875_header *h,
                                uint8_t cmd, const struct gbt26875_adu *adu,
                                const struct gbt26875_time *t, struct gbt26875_link_event *ev)
{
	struct gbt26875_header a = {
	    .serial = h->serial,
	    .version = GBT26875_VERSION,
	    .user_version = l->conf.user_version,
	    .time = *t,
	    .src = l->conf.src,
	    .dst = h->src,
	    .cmd = cmd,
	};

	if (cmd == GBT26875_CMD_DENY)
		l->controls_denied++;
	if (gbt26875_frame_build(&a, adu ? adu->buf : NULL, adu ? adu->len : 0, ev->reply,
	                         sizeof(ev->reply), &ev->reply_len) != GBT26875_OK)
		ev->reply_len = 0;
}

/* The ADU answering a read; false when firegw cannot answer it (then it is denied). */
static bool gbt26875_link_read(struct gbt26875_link *l, const struct gbt26875_control *c,
                               const struct gbt26875_time *t, struct gbt26875_adu *a)
{
	const struct gbt26875_link_ops *o = &l->ops;
	struct gbt26875_operation ops[127];
	uint8_t major = 0, minor = 0;
	char text[GBT26875_CONFIG_MAX + 1];
	size_t n;

	switch (c->type) {
	case GBT26875_T_READ_UITD_STATUS:
		if (!o->uitd_status)
			return false;
		gbt26875_adu_start(a, GBT26875_T_UITD_STATUS);
		return gbt26875_adu_add_uitd(a, o->uitd_status(o->ctx), t) == GBT26875_OK;
	case GBT26875_T_READ_UITD_OPERATIONS:
		if (!o->operations)
			return false;
		n = o->operations(o->ctx, &c->time, c->records < 127 ? c->records : 127, ops);
		gbt26875_adu_start(a, GBT26875_T_UITD_OPERATIONS);
		for (size_t i = 0; i < n && i < 127; i++)
			if (gbt26875_adu_add_operation(a, &ops[i]) != GBT26875_OK)
				return false;
		return true;
	case GBT26875_T_READ_UITD_VERSION:
		if (!o->version)
			return false;
		o->version(o->ctx, &major, &minor);
		return gbt26875_adu_version(a, major, minor) == GBT26875_OK;
	case GBT26875_T_READ_UITD_CONFIG:
		if (!o->config)
			return false;
		n = o->config(o->ctx, text, sizeof(text));
		return gbt26875_adu_config(a, text, n < GBT26875_CONFIG_MAX ? n : GBT26875_CONFIG_MAX) ==
		       GBT26875_OK;
	case GBT26875_T_READ_UITD_TIME:
		return gbt26875_adu_time(a, t) == GBT26875_OK;
	default:
		return false;
	}
}

/* A control (1) or request (4) from the centre. */
static void gbt26875_link_control(struct gbt26875_link *l, const struct gbt26875_frame *f,
                                  int64_t now_ms, const struct gbt26875_time *t,
                                  struct gbt26875_link_event *ev)
{
	struct gbt26875_adu a;

	l->controls++;
	if (gbt26875_adu_control_decode(f->h.cmd, f->adu, f->adu_len, &ev->control) != GBT26875_OK) {
		gbt26875_link_reply(l, &f->h, GBT26875_CMD_DENY, NULL, t, ev);
		return;
	}
	ev->have_control = true;
	switch (ev->control.type) {
	case GBT26875_T_CLOCK_SYNC:
		l->clock_syncs++;
		l->last_clock_sync = ev->control.time;
		gbt26875_link_reply(l, &f->h, GBT26875_CMD_CONFIRM, NULL, t, ev);
		return;
	case GBT26875_T_ROLL_CALL:
		l->roll_calls++;
		l->last_roll_call_ms = now_ms;
		gbt26875_link_reply(l, &f->h, GBT26875_CMD_CONFIRM, NULL, t, ev);
		return;
	case GBT26875_T_INIT_UITD:
		gbt26875_link_reply(l, &f->h, GBT26875_CMD_DENY, NULL, t, ev);
		return;
	default:
		if (gbt26875_link_read(l, &ev->control, t, &a))
			gbt26875_link_reply(l, &f->h, GBT26875_CMD_ANSWER, &a, t, ev);
		else
			gbt26875_link_reply(l, &f->h, GBT26875_CMD_DENY, NULL, t, ev);
		return;
	}
}

enum gbt26875_outcome gbt26875_link_input(struct gbt26875_link *l, const struct gbt26875_frame *f,
                                          enum gbt26875_err parse_err, int64_t now_ms,
                                          const struct gbt26875_time *t,
                                          struct gbt26875_link_event *ev)
{
	uint8_t cmd = f->h.cmd;

	ev->outcome = GBT26875_OUT_NONE;
	ev->heartbeat = false;
	ev->have_control = false;
	ev->reply_len = 0;
	memset(&ev->control, 0, sizeof(ev->control));
	if (l->state == GBT26875_LINK_CLOSED)
		return ev->outcome;
	if (parse_err != GBT26875_OK) {
		/* Deny what the centre started; never answer an answer (that could loop). */
		l->bad_frames++;
		if (cmd != GBT26875_CMD_CONFIRM && cmd != GBT26875_CMD_ANSWER &&
		    cmd != GBT26875_CMD_DENY)
			gbt26875_link_reply(l, &f->h, GBT26875_CMD_DENY, NULL, t, ev);
		return ev->outcome;
	}
	switch (cmd) {
	case GBT26875_CMD_CONFIRM:
	case GBT26875_CMD_DENY:
		if (l->state != GBT26875_LINK_WAITING || f->h.serial != l->serial) {
			l->stray_answers++;
			return ev->outcome;
		}
		ev->outcome = cmd == GBT26875_CMD_CONFIRM ? GBT26875_OUT_CONFIRMED : GBT26875_OUT_DENIED;
		ev->heartbeat = l->heartbeat;
		if (cmd == GBT26875_CMD_CONFIRM) {
			l->confirmed++;
			l->last_confirm_ms = now_ms;
			l->tries = 0;
		} else {
			l->denied++; /* tries kept: gbt26875_link_resend may send it again */
		}
		l->state = GBT26875_LINK_IDLE;
		l->idle_since_ms = now_ms;
		return ev->outcome;
	case GBT26875_CMD_CONTROL:
	case GBT26875_CMD_REQUEST:
		gbt26875_link_control(l, f, now_ms, t, ev);
		return ev->outcome;
	case GBT26875_CMD_ANSWER:
		l->stray_answers++; /* firegw sends no requests */
		return ev->outcome;
	default:
		/* Send data to a device: not for a UITD. */
		gbt26875_link_reply(l, &f->h, GBT26875_CMD_DENY, NULL, t, ev);
		return ev->outcome;
	}
}

enum gbt26875_err gbt26875_link_resend(struct gbt26875_link *l, int64_t now_ms,
                                       const uint8_t **frame, size_t *frame_len)
{
	if (l->state != GBT26875_LINK_IDLE || l->out_len == 0 || l->tries < 1 ||
	    l->tries >= l->conf.tries)
		return GBT26875_BAD_ARG;
	l->tries++;
	l->resent++;
	l->deadline_ms = now_ms + l->conf.answer_timeout_ms;
	l->state = GBT26875_LINK_WAITING;
	*frame = l->out;
	*frame_len = l->out_len;
	return GBT26875_OK;
}

enum gbt26875_due gbt26875_link_tick(struct gbt26875_link *l, int64_t now_ms,
                                     const struct gbt26875_time *t, const uint8_t **frame,
                                     size_t *frame_len)
{
	*frame = NULL;
	*frame_len = 0;
	if (l->state == GBT26875_LINK_WAITING && now_ms >= l->deadline_ms) {
		if (l->tries >= l->conf.tries) {
			l->failed++;
			gbt26875_link_close(l);
			return GBT26875_DUE_FAILED;
		}
		l->tries++;
		l->resent++;
		l->deadline_ms = now_ms + l->conf.answer_timeout_ms;
		*frame = l->out;
		*frame_len = l->out_len;
		return GBT26875_DUE_RESEND;
	}
	if (l->state == GBT26875_LINK_IDLE && l->conf.heartbeat_ms > 0 &&
	    now_ms - l->idle_since_ms >= l->conf.heartbeat_ms &&
	    gbt26875_link_send(l, NULL, 0, t, now_ms, frame, frame_len) == GBT26875_OK)
		return GBT26875_DUE_HEARTBEAT;
	return GBT26875_DUE_NOTHING;
}

int64_t gbt26875_link_next(const struct gbt26875_link *l)
{
	switch (l->state) {
	case GBT26875_LINK_WAITING:
		return l->deadline_ms;
	case GBT26875_LINK_IDLE:
		return l->conf.heartbeat_ms > 0 ? l->idle_since_ms + l->conf.heartbeat_ms : INT64_MAX;
	default:
		return INT64_MAX;
	}
}
