/* SPDX-License-Identifier: MIT */
/* forward: the forwarder core of one destination: its batches, failures and backoff, the link,
 * the heartbeat schedule, resync and counters; the settlement of what came back is
 * forward_settle.c; the transports move the bytes (see forward.h for the contract). */
#include "forward.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "clock.h"
#include "forward_int.h"
#include "hazard.h"
#include "i18n.h"
#include "log.h"
#include "secret.h"
#include "uplink_reply.h"

static void forward_heartbeat_now(struct forward *f);

static const struct forward_transport *const forward_transports[] = {
    &forward_https, &forward_mqtt, &forward_gbt26875};

uv_loop_t *forward_loop(const struct forward *f)
{
	return f->loop;
}

struct ledger *forward_ledger(const struct forward *f)
{
	return f->ledger;
}

const struct conf *forward_conf(const struct forward *f)
{
	return f->conf;
}

const struct platform_conf *forward_pc(const struct forward *f)
{
	return f->pc;
}

const char *forward_label(const struct forward *f)
{
	return f->label;
}

void forward_count_request(struct forward *f)
{
	f->stats.requests++;
}

char *forward_secret(struct forward *f, const char *key, const char *path, const char *what,
                     bool *fatal, bool *failed)
{
	char err[512], *secret;

	*failed = false;
	if (!path)
		return NULL;
	errno = 0;
	secret = secret_read(path, what, err, sizeof(err));
	if (!secret) {
		*failed = true;
		*fatal = errno != ENOENT;
		log_err(_("%s %s %s%s"), strcmp(f->pc->name, "platform") ? f->label : "platform",
		        key, err,
		        *fatal ? ""
		               : _("; the uplink is off until it exists (then reload): hazards are "
		                   "recorded and wait in the outbox"));
	}
	return secret;
}

static void forward_on_send_timer(uv_timer_t *t)
{
	struct forward *f = t->data;

	if (f->backing_off && f->tp->reconnect)
		f->tp->reconnect(f->t);
	f->backing_off = false;
	forward_send(f);
}

static void forward_schedule(struct forward *f, int64_t delay_ms)
{
	f->stats.next_attempt_mono = clock_mono_ms() + delay_ms;
	/* libuv counts a timer from the loop's cached time, taken when this turn of the loop
	 * began: after a slow turn (a large reply, a busy machine) the timer would fire that much
	 * early, and a Retry-After be cut short. Count from now. */
	uv_update_time(f->loop);
	uv_timer_start(&f->send_timer, forward_on_send_timer, (uint64_t)delay_ms, 0);
}

/* Exponential backoff with full jitter (a random delay between 0 and min(cap, base * 2^n)),
 * never earlier than the receiver's Retry-After. Returns the delay. */
static int64_t forward_backoff(struct forward *f, int64_t retry_after_ms)
{
	unsigned shift = f->stats.failures < 20 ? f->stats.failures : 20;
	int64_t cap = (int64_t)BACKOFF_BASE_MS << shift;
	int64_t max = f->pc->backoff_max_ms;
	uint32_t r = 0;

	if (cap > max)
		cap = max;
	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (uint32_t)rand();
	int64_t delay = (int64_t)(r % (uint64_t)(cap + 1));
	f->retry_not_before = 0;
	if (retry_after_ms >= 0) {
		if (retry_after_ms > UPLINK_REPLY_RETRY_AFTER_CAP_MS)
			retry_after_ms = UPLINK_REPLY_RETRY_AFTER_CAP_MS;
		if (retry_after_ms > delay)
			delay = retry_after_ms;
		f->retry_not_before = clock_mono_ms() + retry_after_ms;
	}
	f->backing_off = true;
	forward_schedule(f, delay);
	return delay;
}

static void forward_next_free(struct forward *f)
{
	ledger_outbox_free(f->next, f->nnext);
	f->next = NULL;
	f->nnext = 0;
}

/* What was in flight is forgotten: those events are still in the outbox and go again, with
 * the same event_ids (the receiver stores each once). Returns how many there were. */
static size_t forward_drop_flight(struct forward *f)
{
	size_t n = f->nfl;

	f->nfl = 0;
	json_decref(f->results_sent);
	f->results_sent = NULL;
	forward_next_free(f);
	return n;
}

void forward_failed(struct forward *f, int code, const char *what, int64_t retry_after_ms,
                    bool unreachable)
{
	char detail[sizeof(f->stats.last_error) + 128];
	int64_t waiting;

	/* What was accepted before is recorded first, before a resync becomes due; if the ledger
	 * fails there, that failure is the one reported (once). */
	if (forward_flush(f) < 0)
		return;
	waiting = ledger_outbox_depth_dest(f->ledger, f->pc->name);
	forward_drop_flight(f);
	f->stats.failures++;
	f->unreachable = unreachable;
	snprintf(f->stats.last_error, sizeof(f->stats.last_error), "%s", what);
	snprintf(detail, sizeof(detail), _("%s; %lld event(s) stay in the outbox and are retried"),
	         what, (long long)(waiting > 0 ? waiting : 0));
	log_state_report(&f->log, code, f->label, detail);
	f->need_resync = true;
	int64_t delay = forward_backoff(f, retry_after_ms);
	log_debug("%s: failure %u in a row (%s); next attempt in %.1f s%s", f->label,
	          f->stats.failures, what, (double)delay / 1000.0,
	          retry_after_ms >= 0 ? " (Retry-After)" : "");
}

void forward_lost(struct forward *f, int code, const char *what, bool unreachable)
{
	if (f->freeing)
		return;
	forward_failed(f, code, what, -1, unreachable);
	f->up = false;
}

void forward_alive(struct forward *f)
{
	if (f->freeing || f->backing_off || !f->stats.failures)
		return;
	f->stats.failures = 0;
	f->stats.last_error[0] = '\0';
	log_state_report(&f->log, 0, f->label, NULL);
}

bool forward_newer(const struct forward *f)
{
	return ledger_events_appended(f->ledger) != f->seen_appended;
}

void forward_requeue(struct forward *f)
{
	if (f->freeing)
		return;
	forward_flush(f);
	forward_drop_flight(f);
	forward_send(f);
}

/* The first success after a failure (or since start) is a reconnect: the current state of
 * every open item goes out, so the receiver cannot drift from the ledger. */
static void forward_connected(struct forward *f)
{
	int n;

	if (!f->need_resync || f->tp->no_resync) {
		f->need_resync = false;
		return;
	}
	f->need_resync = false;
	n = hazard_resync_all(f->ledger, f->pc->name, clock_wall_ms());
	if (n < 0)
		f->need_resync = true; /* the ledger failed: try again at the next success */
}

size_t forward_link(struct forward *f, bool up)
{
	size_t n = 0;

	if (f->freeing)
		return 0;
	forward_flush(f);
	if (up) {
		f->up = true;
		f->need_resync = true;
		if (!f->tp->answer_proves_link) {
			f->stats.failures = 0;
			f->stats.last_error[0] = '\0';
		}
		forward_connected(f);
		/* The heartbeat goes at once: the receiver sees the gateway is back. */
		forward_heartbeat_now(f);
		forward_send(f);
		return 0;
	}
	n = forward_drop_flight(f);
	f->up = false;
	f->need_resync = true;
	f->stats.failures++;
	return n;
}

/* The seqs a read of the outbox leaves out: those in flight and those whose acceptance is
 * not committed yet. Returns how many. */
static size_t forward_skip(struct forward *f)
{
	size_t n = 0;

	for (size_t i = 0; i < f->nfl; i++)
		f->skip[n++] = f->fl[i].seq;
	for (size_t i = 0; i < f->ndeferred; i++)
		f->skip[n++] = f->deferred[i];
	return n;
}

void forward_prefetch(struct forward *f)
{
	if (f->tp->mode != FORWARD_ONE_BATCH || f->next || f->nfl == 0 || f->ndeferred ||
	    f->backing_off || f->freeing)
		return;
	/* The batch in flight was the head of the outbox when it was read, and the next one is
	 * used only if nothing was queued since (a new fire alarm would go first): so it is what
	 * follows the last event in flight, read by an index seek, nothing skipped. */
	struct outbox_item after = {.seq = f->fl[f->nfl - 1].seq, .prio = f->fl[f->nfl - 1].prio};
	size_t max = (size_t)f->pc->batch;

	if (f->tp->max_batch && max > f->tp->max_batch)
		max = f->tp->max_batch;
	f->next_appended = f->seen_appended;
	if (ledger_outbox_batch_after(f->ledger, f->pc->name, max,
	                              FORWARD_REQUEST_MAX, &after, &f->next, &f->nnext) < 0)
		forward_next_free(f);
}

void forward_send(struct forward *f)
{
	struct outbox_item *items = NULL;
	size_t n = 0, room;
	json_t *results = NULL;
	int rc;

	if (!f->t || !f->up || f->backing_off || f->freeing)
		return;
	if (f->tp->mode == FORWARD_ONE_BATCH ? f->nfl > 0 : f->nfl >= f->window)
		return;
	room = f->tp->mode == FORWARD_ONE_BATCH ? (size_t)f->pc->batch : f->window - f->nfl;
	if (f->tp->max_batch && room > f->tp->max_batch)
		room = f->tp->max_batch;
	f->seen_appended = ledger_events_appended(f->ledger);
	if (f->next && f->next_appended == f->seen_appended) {
		items = f->next;
		n = f->nnext;
		f->next = NULL;
		f->nnext = 0;
	} else {
		forward_next_free(f);
		rc = ledger_outbox_batch_skip(f->ledger, f->pc->name, room,
		                              FORWARD_REQUEST_MAX * (f->tp->mode == FORWARD_WINDOW
		                                                         ? f->window
		                                                         : 1),
		                              f->skip, forward_skip(f), &items, &n);
		if (rc < 0) {
			if (f->tp->mode == FORWARD_ONE_BATCH)
				forward_failed(f, FAIL_LEDGER, _("cannot read the outbox"), -1, false);
			else
				log_state_report(&f->hb_log, FAIL_LEDGER, f->label,
				                 _("cannot read the outbox; the events wait there and "
				                   "are sent later"));
			return;
		}
	}
	if (!f->results_sent) {
		results = ledger_command_results(f->ledger);
		if (json_array_size(results) == 0) {
			json_decref(results);
			results = NULL;
		}
	}
	if (n == 0 && !results) {
		/* Nothing to say: the heartbeat is the contact that finds out whether the
		 * receiver is there (and triggers the resync when it is). */
		ledger_outbox_free(items, n);
		return;
	}
	struct forward_batch b = {items, n, results};
	int k = f->tp->send(f->t, &b);
	if (!b.results) { /* not sent: they go with a later batch */
		json_decref(results);
		results = NULL;
	}
	if (k < 0) {
		ledger_outbox_free(items, n);
		json_decref(results);
		if (f->tp->mode == FORWARD_ONE_BATCH)
			forward_failed(f, FAIL_INTERNAL,
			               k == -ENOMEM ? _("out of memory") : _("cannot start a request"),
			               -1, false);
		return;
	}
	for (size_t i = 0; i < (size_t)k && i < n; i++)
		f->fl[f->nfl++] = (struct forward_flight){items[i].seq, items[i].prio};
	ledger_outbox_free(items, n);
	/* The transport reports their arrival, or fails. While earlier results are in flight
	 * (a pipelined batch, the MQTT window) none were taken: those stay. */
	if (results)
		f->results_sent = results;
	f->stats.sent += (uint64_t)k;
	forward_prefetch(f);
}

void forward_kick(struct forward *f)
{
	if (f && ledger_events_appended(f->ledger) != f->seen_appended)
		forward_send(f);
}

void forward_heartbeat_done(struct forward *f, bool ok, json_t *commands, int code,
                            const char *what)
{
	const char *hb = f->hb_label;
	int rc, n = 0;

	if (f->freeing)
		return;
	if (!ok) {
		log_state_report(&f->hb_log, code, hb, what);
		forward_flush(f); /* recorded without the resync this failure makes due */
		f->need_resync = true;
		return;
	}
	log_state_report(&f->hb_log, 0, hb, NULL);
	if (json_array_size(commands) > 0) {
		rc = ledger_begin(f->ledger);
		n = rc == 0 ? hazard_apply_commands(f->ledger, &f->conf->policy, commands,
		                                    HAZARD_CMDS_PER_REPLY, clock_wall_ms())
		            : 0;
		if (rc == 0 && n >= 0)
			rc = ledger_commit(f->ledger);
		else
			ledger_rollback(f->ledger);
		if (rc == 0 && n > 0) {
			f->stats.commands += (uint64_t)n;
			if (f->hooks.changed)
				f->hooks.changed(f->hooks.userdata);
		}
	}
	/* The receiver can be reached again: a backoff because it could not be ends here (one
	 * it asked for with Retry-After, or after an error it answered, runs its course). */
	if (f->backing_off && f->unreachable && clock_mono_ms() >= f->retry_not_before &&
	    f->nfl == 0) {
		uv_timer_stop(&f->send_timer);
		f->backing_off = false;
	}
	if (f->nfl == 0 && !f->backing_off) /* else the events' answer decides */
		forward_connected(f);
	/* New events (the commands') and command results go out now. */
	forward_send(f);
}

uint64_t forward_heartbeat_delay(int64_t interval_ms)
{
	uint32_t r = 0;

	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (uint32_t)rand();
	return (uint64_t)interval_ms * (900 + r % 201) / 1000;
}

static void forward_heartbeat_now(struct forward *f)
{
	json_t *body;
	char stamp[32];

	if (!f->up || !f->hooks.heartbeat || !f->tp->heartbeat)
		return;
	body = f->hooks.heartbeat(f->hooks.userdata);
	if (!body)
		return;
	if (!json_object_get(body, "sent_at")) {
		clock_format_iso(clock_wall_ms(), stamp, sizeof(stamp));
		json_object_set_new(body, "sent_at", json_string(stamp));
	}
	f->tp->heartbeat(f->t, body);
}

static void forward_on_heartbeat(uv_timer_t *t)
{
	struct forward *f = t->data;

	uv_timer_start(&f->heartbeat_timer, forward_on_heartbeat,
	               forward_heartbeat_delay(f->pc->heartbeat_ms), 0);
	forward_heartbeat_now(f);
}

static const struct forward_transport *forward_find(const char *name)
{
	for (size_t i = 0; i < sizeof(forward_transports) / sizeof(forward_transports[0]); i++)
		if (strcmp(forward_transports[i]->name, name ? name : "https") == 0)
			return forward_transports[i];
	return NULL;
}

/* All three timers live in the struct: it goes with the last of their close callbacks
 * (libuv runs them in no promised order). */
static void forward_closed(uv_handle_t *h)
{
	struct forward *f = h->data;

	if (--f->open_handles == 0)
		free(f);
}

static void forward_release(struct forward *f)
{
	forward_drop_flight(f);
	free(f->fl);
	free(f->deferred);
	free(f->skip);
	f->open_handles = 3;
	uv_close((uv_handle_t *)&f->send_timer, forward_closed);
	uv_close((uv_handle_t *)&f->heartbeat_timer, forward_closed);
	uv_close((uv_handle_t *)&f->commit_timer, forward_closed);
}

struct forward *forward_new(uv_loop_t *loop, const struct conf *c, const struct platform_conf *pc,
                            struct ledger *l, const struct forward_hooks *hooks, bool *fatal)
{
	const struct forward_transport *tp = forward_find(pc->transport);
	struct forward *f;

	*fatal = false;
	if (!pc->enabled)
		return NULL;
	if (!tp) {
		log_err(_("platform '%s': transport '%s' is not part of this firegw; its events wait "
		          "in the outbox"),
		        pc->name, pc->transport);
		return NULL;
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->loop = loop;
	f->conf = c;
	f->pc = pc;
	f->ledger = l;
	f->tp = tp;
	if (hooks)
		f->hooks = *hooks;
	if (strcmp(pc->name, "platform") == 0)
		snprintf(f->label, sizeof(f->label), "platform uplink");
	else
		snprintf(f->label, sizeof(f->label), "platform '%s'", pc->name);
	snprintf(f->hb_label, sizeof(f->hb_label), "%s heartbeat",
	         strcmp(pc->name, "platform") ? f->label : "platform");
	f->window = (size_t)(pc->batch > 0 ? pc->batch : 100);
	/* One batch in flight (the next is sent once the last one's events have landed), or a
	 * window of events. */
	f->fl = calloc(f->window, sizeof(*f->fl));
	f->deferred = calloc(f->window, sizeof(*f->deferred));
	f->skip = calloc(2 * f->window, sizeof(*f->skip));
	uv_timer_init(loop, &f->send_timer);
	uv_timer_init(loop, &f->heartbeat_timer);
	uv_timer_init(loop, &f->commit_timer);
	f->send_timer.data = f->heartbeat_timer.data = f->commit_timer.data = f;
	f->need_resync = true;
	f->seen_appended = (uint64_t)-1;
	f->up = !tp->link;
	if (f->fl && f->deferred && f->skip)
		f->t = tp->start(f, fatal);
	if (!f->t) {
		f->freeing = true;
		forward_release(f);
		return NULL;
	}
	/* The first heartbeat goes at once: it is the first contact when nothing waits in the
	 * outbox, and that contact (a reconnect too) queues the resync. A transport with a
	 * connection sends it when the connection is up. */
	uv_timer_start(&f->heartbeat_timer, forward_on_heartbeat,
	               f->up ? 0 : forward_heartbeat_delay(pc->heartbeat_ms), 0);
	if (f->up)
		forward_schedule(f, 0);
	return f;
}

void forward_free(struct forward *f)
{
	if (!f)
		return;
	/* An accepted batch is recorded before the stop: not sent again at the next start. */
	forward_flush(f);
	/* Callbacks from the transport's last words (a DISCONNECT, a heartbeat) see this. */
	f->freeing = true;
	f->tp->stop(f->t);
	f->t = NULL;
	uv_timer_stop(&f->send_timer);
	uv_timer_stop(&f->heartbeat_timer);
	uv_timer_stop(&f->commit_timer);
	forward_release(f);
}

const struct forward_stats *forward_stats(struct forward *f)
{
	if (f->tp->stats && f->t)
		f->tp->stats(f->t, &f->stats);
	return &f->stats;
}

void forward_status_json(struct forward *f, json_t *o)
{
	if (f->tp->status_json && f->t)
		f->tp->status_json(f->t, o);
}
