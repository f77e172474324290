/* SPDX-License-Identifier: MIT */
/* uplink: the HTTPS forwarder, its backoff, heartbeat, resync and commands. */
#include "uplink.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "hazard.h"
#include "http.h"
#include "log.h"
#include "secret.h"
#include "uplink_reply.h"

#define BACKOFF_BASE_MS 1000
#define RETRY_AFTER_CAP UPLINK_REPLY_RETRY_AFTER_CAP_MS

/* log_state codes of the failures: a change of kind is logged, a repeat only counted. */
enum {
	FAIL_NETWORK = 1000,  /* + CURLcode */
	FAIL_REPLY = 2000,    /* a 200 whose body breaks the contract */
	FAIL_NOTHING = 2001,  /* a 200 that neither accepts nor rejects anything sent */
	FAIL_LEDGER = 2002,   /* the reply could not be recorded */
	FAIL_INTERNAL = 2003, /* out of memory, cannot start a request */
};

struct uplink {
	uv_loop_t *loop;
	const struct conf *conf;
	const struct platform_conf *pc; /* this destination */
	struct ledger *ledger;
	struct uplink_hooks hooks;
	struct http *http;
	struct http_tls tls;
	char *token;
	char *events_url, *heartbeat_url;
	uv_timer_t send_timer, heartbeat_timer;
	int open_handles; /* timers not closed yet, once uplink_free closes them */
	bool in_flight, hb_in_flight;
	bool backing_off;
	/* Set at start and by every failed exchange (events or heartbeat): the next successful
	 * one is a reconnect, and queues a resync of every open item. */
	bool need_resync;
	int64_t retry_not_before; /* mono ms: the platform's Retry-After, 0 if none */
	bool unreachable;         /* the last failure was the network's, not the platform's */
	uint64_t seen_appended;
	/* The batch in flight. */
	struct outbox_item *batch;
	size_t nbatch;
	json_t *results_sent; /* command results carried by the request in flight */
	struct log_state log, hb_log;
	struct uplink_stats stats;
};

static void uplink_send(struct uplink *u);

static void uplink_on_send_timer(uv_timer_t *t)
{
	struct uplink *u = t->data;

	u->backing_off = false;
	uplink_send(u);
}

static void uplink_schedule(struct uplink *u, int64_t delay_ms)
{
	u->stats.next_attempt_mono = clock_mono_ms() + delay_ms;
	/* libuv counts a timer from the loop's cached time, taken when this turn of the loop
	 * began: after a slow turn (a large reply, a busy machine) the timer would fire that much
	 * early, and a Retry-After be cut short. Count from now. */
	uv_update_time(u->loop);
	uv_timer_start(&u->send_timer, uplink_on_send_timer, (uint64_t)delay_ms, 0);
}

/* Exponential backoff with full jitter (a random delay between 0 and min(cap, base * 2^n)),
 * never earlier than the platform's Retry-After. Returns the delay. */
static int64_t uplink_backoff(struct uplink *u, int64_t retry_after_ms)
{
	unsigned shift = u->stats.failures < 20 ? u->stats.failures : 20;
	int64_t cap = (int64_t)BACKOFF_BASE_MS << shift;
	int64_t max = u->pc->backoff_max_ms;
	uint32_t r = 0;

	if (cap > max)
		cap = max;
	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (uint32_t)rand();
	int64_t delay = (int64_t)(r % (uint64_t)(cap + 1));
	u->retry_not_before = 0;
	if (retry_after_ms >= 0) {
		if (retry_after_ms > RETRY_AFTER_CAP)
			retry_after_ms = RETRY_AFTER_CAP;
		if (retry_after_ms > delay)
			delay = retry_after_ms;
		u->retry_not_before = clock_mono_ms() + retry_after_ms;
	}
	u->backing_off = true;
	uplink_schedule(u, delay);
	return delay;
}

static void uplink_fail(struct uplink *u, int code, const char *what, int64_t retry_after_ms)
{
	char detail[sizeof(u->stats.last_error) + 128];
	int64_t waiting = ledger_outbox_depth_dest(u->ledger, u->pc->name);

	u->stats.failures++;
	u->unreachable = code > FAIL_NETWORK && code < FAIL_REPLY;
	snprintf(u->stats.last_error, sizeof(u->stats.last_error), "%s", what);
	snprintf(detail, sizeof(detail), "%s; %lld event(s) stay in the outbox and are retried",
	         what, (long long)(waiting > 0 ? waiting : 0));
	log_state_report(&u->log, code, "platform uplink", detail);
	u->need_resync = true;
	int64_t delay = uplink_backoff(u, retry_after_ms);
	log_debug("platform uplink: failure %u in a row (%s); next attempt in %.1f s%s",
	          u->stats.failures, what, (double)delay / 1000.0,
	          retry_after_ms >= 0 ? " (Retry-After)" : "");
}

/* What to check when the exchange failed below HTTP, or "". */
static const char *uplink_hint(int curl_code)
{
	switch (curl_code) {
	case CURLE_COULDNT_RESOLVE_HOST:
		return " (check the host name in platform url and the gateway's DNS: "
		       "/etc/resolv.conf, the 4G modem)";
	case CURLE_COULDNT_CONNECT:
		return " (is the platform up, and the port in platform url right? a firewall on "
		       "the way?)";
	case CURLE_OPERATION_TIMEDOUT:
		return " (the link or the platform is slow; platform timeout sets the limit)";
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
		return " (check platform ca_file and pin, and the gateway's clock: a certificate "
		       "is "
		       "valid only between two dates)";
	default:
		return "";
	}
}

/* Why an exchange failed, for the log; its log_state code. */
static int uplink_http_failure(const struct http_reply *r, const char *url, char *what, size_t len)
{
	if (r->status == 0) {
		snprintf(what, len, "%s: %s%s", url, r->error, uplink_hint((int)r->curl_code));
		return FAIL_NETWORK + r->curl_code;
	}
	snprintf(what, len, "HTTP %ld from %s%s", r->status, url,
	         r->status == 401 || r->status == 403
	             ? " (is the token in token_file the one the platform issued?)"
	             : "");
	return (int)r->status;
}

static void uplink_batch_free(struct uplink *u)
{
	ledger_outbox_free(u->batch, u->nbatch);
	u->batch = NULL;
	u->nbatch = 0;
	json_decref(u->results_sent);
	u->results_sent = NULL;
}

/* The event_ids of the batch in flight, in batch order (pointers into it); NULL if out of
 * memory. */
static const char **uplink_batch_ids(struct uplink *u)
{
	const char **ids = calloc(u->nbatch ? u->nbatch : 1, sizeof(*ids));

	for (size_t i = 0; ids && i < u->nbatch; i++)
		ids[i] = u->batch[i].event_id;
	return ids;
}

/* Applies the commands of a reply (an array of command objects, or NULL); returns how many
 * there were. Inside a transaction. */
static int uplink_commands(struct uplink *u, json_t *cmds, int *rc)
{
	int n = hazard_apply_commands(u->ledger, &u->conf->policy, cmds, HAZARD_CMDS_PER_REPLY,
	                              clock_wall_ms());

	if (n < 0) {
		*rc = n;
		return 0;
	}
	u->stats.commands += (uint64_t)n;
	return n;
}

static void uplink_results_reported(struct uplink *u, json_t *sent, int *rc)
{
	size_t i;
	json_t *r;

	json_array_foreach(sent, i, r)
	{
		if (*rc == 0)
			*rc = ledger_command_reported(u->ledger,
			                              json_string_value(json_object_get(r, "id")));
	}
}

/* A heartbeat that gets through after a failure (or the first since start) is a reconnect:
 * the current state of every open item goes out, so the platform cannot drift from the
 * ledger. An events reply does the same inside its own transaction (uplink_on_events). */
static void uplink_connected(struct uplink *u)
{
	if (!u->need_resync)
		return;
	u->need_resync = false;
	if (hazard_resync_all(u->ledger, u->pc->name, clock_wall_ms()) < 0)
		u->need_resync = true; /* the ledger failed: try again at the next success */
}

/* Sends now unless a request is in flight or the uplink is backing off. */
static void uplink_poke(struct uplink *u)
{
	if (!u->in_flight && !u->backing_off)
		uplink_send(u);
}

static void uplink_on_events(const struct http_reply *r, void *userdata)
{
	struct uplink *u = userdata;
	struct uplink_reply rep = {.retry_after_ms = -1};
	const char **ids;
	char what[512];
	int rc = 0, ncmd = 0, code;

	u->in_flight = false;
	u->stats.requests++;
	ids = uplink_batch_ids(u);
	if (!ids) {
		code = FAIL_INTERNAL;
		snprintf(what, sizeof(what), "out of memory");
		goto fail;
	}
	uplink_reply_events(&rep, r->status, r->body, r->len, r->retry_after_ms,
	                    (const char *const *)ids, u->nbatch);
	free(ids);
	switch (rep.kind) {
	case UPLINK_REPLY_OK:
		break;
	case UPLINK_REPLY_HTTP:
		code = uplink_http_failure(r, u->events_url, what, sizeof(what));
		goto fail;
	case UPLINK_REPLY_BAD:
		code = FAIL_REPLY;
		snprintf(what, sizeof(what), "%s: %s; treated as a failure", u->events_url,
		         rep.error);
		goto fail;
	case UPLINK_REPLY_NOTHING:
		/* Sending the same batch again at once would spin: back off as for a failure. */
		code = FAIL_NOTHING;
		snprintf(what, sizeof(what),
		         "%s: the reply neither accepts nor rejects any of the %zu event(s) sent; "
		         "treated as a failure",
		         u->events_url, u->nbatch);
		goto fail;
	}

	/* One transaction: what was accepted leaves, what was rejected is dead-lettered, the
	 * commands are applied and the results we carried are marked reported. Every index is
	 * one of the batch, each at most once (uplink_reply). A full batch that only accepts
	 * is a drain going on: its commit does not wait for the disk (a power cut would send
	 * those events again, which the platform stores once), the last batch's does, and
	 * makes every one before it durable too (docs/architecture.md, section 5). */
	bool relaxed = u->nbatch == (size_t)u->pc->batch && rep.nrejected == 0 &&
	               json_array_size(rep.commands) == 0 &&
	               json_array_size(u->results_sent) == 0 && !u->need_resync;
	int resynced = 0;
	rc = relaxed ? ledger_begin_relaxed(u->ledger) : ledger_begin(u->ledger);
	for (size_t i = 0; rc == 0 && i < rep.naccepted; i++)
		rc = ledger_outbox_accept(u->ledger, u->pc->name, u->batch[rep.accepted[i]].seq);
	for (size_t i = 0; rc == 0 && i < rep.nrejected; i++) {
		const struct outbox_item *it = &u->batch[rep.rejected[i].index];
		const char *why = rep.rejected[i].reason;

		rc = ledger_deadletter(u->ledger, u->pc->name, it->seq, why ? why : "rejected without a reason",
		                       clock_wall_ms());
		if (rc == 0)
			log_err(
			    "platform rejected event %s of %s: %s; kept in the dead-letter table",
			    it->event_id, it->hazard_id, why ? why : "no reason given");
	}
	if (rc == 0)
		ncmd = uplink_commands(u, rep.commands, &rc);
	if (rc == 0)
		uplink_results_reported(u, u->results_sent, &rc);
	/* The first success after a failure is a reconnect: the resync of every open item goes
	 * in the same transaction, so the outbox never looks drained before it is queued. */
	if (rc == 0 && u->need_resync &&
	    (resynced = hazard_resync_all(u->ledger, u->pc->name, clock_wall_ms())) < 0)
		rc = resynced;
	if (rc == 0)
		rc = ledger_commit(u->ledger);
	else
		ledger_rollback(u->ledger);
	if (rc < 0) {
		code = FAIL_LEDGER;
		snprintf(what, sizeof(what),
		         "cannot record the platform's reply in the ledger (%s)", strerror(-rc));
		goto fail;
	}
	if (u->need_resync) {
		u->need_resync = false;
		if (resynced > 0)
			log_info("platform uplink: resync of %d open item(s) queued", resynced);
	}
	u->stats.accepted += rep.naccepted;
	u->stats.rejected += rep.nrejected;
	uplink_reply_free(&rep);
	u->stats.last_success_wall = clock_wall_ms();
	u->stats.failures = 0;
	u->retry_not_before = 0;
	log_state_report(&u->log, 0, "platform uplink", NULL);
	uplink_batch_free(u);
	if (ncmd > 0 && u->hooks.changed)
		u->hooks.changed(u->hooks.userdata);
	uplink_send(u); /* the resync, if one was due, went in with the reply above */
	return;
fail:
	uplink_batch_free(u);
	uplink_fail(u, code, what, rep.retry_after_ms);
	uplink_reply_free(&rep);
}

/* The stored body of an outbox event, as it goes in a request. The ledger holds the JSON
 * firegw wrote, so it is spliced in as text (parsing each body into a tree and printing the
 * batch again cost most of a drain's CPU). One that does not even look like an object gets
 * a stub the platform can reject: never sent, it would block the outbox for good. */
static char *uplink_event_text(const struct outbox_item *it)
{
	size_t n = strlen(it->body);
	json_error_t jerr;
	json_t *stub;
	char *text;

	if (n >= 2 && it->body[0] == '{' && it->body[n - 1] == '}')
		return NULL; /* use it->body as it is */
	json_decref(json_loads(it->body, 0, &jerr));
	log_err("ledger event %s (seq %lld) has a body that is not a JSON object (%s); sending "
	        "a stub the platform can reject",
	        it->event_id, (long long)it->seq, jerr.text);
	stub =
	    json_pack("{s:s, s:I, s:s, s:n, s:{s:s}}", "event_id", it->event_id, "seq",
	              (json_int_t)it->seq, "type", "corrupt", "at", "hazard", "id", it->hazard_id);
	text = stub ? json_dumps(stub, JSON_COMPACT) : NULL;
	json_decref(stub);
	return text ? text : strdup("{}");
}

/* `head` ({"gateway", "sent_at", ...}) with "events": [the batch] added, as one string. */
static char *uplink_request_text(struct uplink *u, json_t *head)
{
	char *h = json_dumps(head, JSON_COMPACT), *text, **stubs;
	size_t total, off;

	if (!h)
		return NULL;
	stubs = calloc(u->nbatch ? u->nbatch : 1, sizeof(*stubs));
	if (!stubs) {
		free(h);
		return NULL;
	}
	total = strlen(h) + sizeof(",\"events\":[]}");
	for (size_t i = 0; i < u->nbatch; i++) {
		stubs[i] = uplink_event_text(&u->batch[i]);
		total += strlen(stubs[i] ? stubs[i] : u->batch[i].body) + 1;
	}
	text = malloc(total);
	if (text) {
		off = strlen(h) - 1; /* without its closing brace */
		memcpy(text, h, off);
		off +=
		    (size_t)snprintf(text + off, total - off, "%s\"events\":[", off > 1 ? "," : "");
		for (size_t i = 0; i < u->nbatch; i++) {
			const char *b = stubs[i] ? stubs[i] : u->batch[i].body;
			size_t bl = strlen(b);

			if (i)
				text[off++] = ',';
			memcpy(text + off, b, bl);
			off += bl;
		}
		memcpy(text + off, "]}", 3);
	}
	/* The request is the one copy from here on: the batch keeps seqs and event_ids. */
	for (size_t i = 0; i < u->nbatch; i++) {
		free(stubs[i]);
		free(u->batch[i].body);
		u->batch[i].body = NULL;
	}
	free(stubs);
	free(h);
	return text;
}

static void uplink_send(struct uplink *u)
{
	json_t *body, *results;
	char *text, stamp[32];
	int rc;

	if (u->in_flight || u->backing_off)
		return;
	u->seen_appended = ledger_events_appended(u->ledger);
	rc = ledger_outbox_batch(u->ledger, u->pc->name, (size_t)u->pc->batch, UPLINK_REQUEST_MAX,
	                         &u->batch, &u->nbatch);
	if (rc < 0) {
		uplink_fail(u, FAIL_LEDGER, "cannot read the outbox", -1);
		return;
	}
	results = ledger_command_results(u->ledger);
	if (u->nbatch == 0 && json_array_size(results) == 0) {
		/* Nothing to say: the heartbeat is the contact that finds out whether the
		 * platform is there (and triggers the resync when it is). */
		json_decref(results);
		uplink_batch_free(u);
		return;
	}
	clock_format_iso(clock_wall_ms(), stamp, sizeof(stamp));
	body = json_pack("{s:s, s:s}", "gateway", u->conf->gateway_id, "sent_at", stamp);
	if (json_array_size(results) > 0)
		json_object_set(body, "command_results", results);
	u->results_sent = results;
	text = uplink_request_text(u, body);
	json_decref(body);
	if (!text) {
		uplink_batch_free(u);
		uplink_fail(u, FAIL_INTERNAL, "out of memory", -1);
		return;
	}
	rc = http_post_json(u->http, u->events_url, u->token, text, strlen(text), &u->tls,
	                    u->pc->connect_timeout_ms, u->pc->timeout_ms,
	                    uplink_on_events, u);
	if (rc < 0) {
		uplink_batch_free(u);
		uplink_fail(u, FAIL_INTERNAL, "cannot start a request", -1);
		return;
	}
	u->in_flight = true;
	u->stats.sent += u->nbatch;
}

void uplink_kick(struct uplink *u)
{
	if (u && !u->in_flight && !u->backing_off &&
	    ledger_events_appended(u->ledger) != u->seen_appended)
		uplink_send(u);
}

static void uplink_on_heartbeat_reply(const struct http_reply *r, void *userdata)
{
	struct uplink *u = userdata;
	struct uplink_reply rep;
	char what[512];
	int rc;

	u->hb_in_flight = false;
	switch (uplink_reply_heartbeat(&rep, r->status, r->body, r->len, r->retry_after_ms)) {
	case UPLINK_REPLY_OK:
		break;
	case UPLINK_REPLY_HTTP: {
		int code = uplink_http_failure(r, u->heartbeat_url, what, sizeof(what));

		uplink_reply_free(&rep);
		log_state_report(&u->hb_log, code, "platform heartbeat", what);
		u->need_resync = true;
		return;
	}
	default:
		snprintf(what, sizeof(what), "the platform's %s; ignored", rep.error);
		uplink_reply_free(&rep);
		log_state_report(&u->hb_log, FAIL_REPLY, "platform heartbeat", what);
		u->need_resync = true;
		return;
	}
	log_state_report(&u->hb_log, 0, "platform heartbeat", NULL);
	rc = ledger_begin(u->ledger);
	int n = rc == 0 ? uplink_commands(u, rep.commands, &rc) : 0;
	if (rc == 0)
		rc = ledger_commit(u->ledger);
	else
		ledger_rollback(u->ledger);
	uplink_reply_free(&rep);
	if (rc == 0 && n > 0 && u->hooks.changed)
		u->hooks.changed(u->hooks.userdata);
	/* The platform can be reached again: a backoff because it could not be ends here (one
	 * it asked for with Retry-After, or after an error it answered, runs its course). */
	if (u->backing_off && u->unreachable && clock_mono_ms() >= u->retry_not_before &&
	    !u->in_flight) {
		uv_timer_stop(&u->send_timer);
		u->backing_off = false;
	}
	if (!u->in_flight) /* else the events reply decides */
		uplink_connected(u);
	/* New events (the commands') and command results go out now. */
	uplink_poke(u);
}

uint64_t uplink_heartbeat_delay(int64_t interval_ms)
{
	uint32_t r = 0;

	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (uint32_t)rand();
	return (uint64_t)interval_ms * (900 + r % 201) / 1000;
}

static void uplink_on_heartbeat(uv_timer_t *t)
{
	struct uplink *u = t->data;
	json_t *body;
	char *text, stamp[32];

	uv_timer_start(&u->heartbeat_timer, uplink_on_heartbeat,
	               uplink_heartbeat_delay(u->pc->heartbeat_ms), 0);
	if (u->hb_in_flight || !u->hooks.heartbeat)
		return;
	body = u->hooks.heartbeat(u->hooks.userdata);
	if (body && !json_object_get(body, "sent_at")) {
		clock_format_iso(clock_wall_ms(), stamp, sizeof(stamp));
		json_object_set_new(body, "sent_at", json_string(stamp));
	}
	text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (!text)
		return;
	if (http_post_json(u->http, u->heartbeat_url, u->token, text, strlen(text), &u->tls,
	                   u->pc->connect_timeout_ms, u->pc->timeout_ms,
	                   uplink_on_heartbeat_reply, u) == 0)
		u->hb_in_flight = true;
}

/* An uplink whose timers were never started, undone: what uplink_new had made so far. */
static void uplink_discard(struct uplink *u)
{
	http_free(u->http);
	free(u->events_url);
	free(u->heartbeat_url);
	secret_free(u->token);
	free(u);
}

struct uplink *uplink_new(uv_loop_t *loop, const struct conf *c,
                          const struct platform_conf *pc, struct ledger *l,
                          const struct uplink_hooks *hooks, bool *fatal)
{
	struct uplink *u;
	char err[512];
	size_t ulen;

	*fatal = false;
	if (!pc->enabled || strcmp(pc->transport, "https") != 0)
		return NULL;
	u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	u->loop = loop;
	u->conf = c;
	u->pc = pc;
	u->ledger = l;
	if (hooks)
		u->hooks = *hooks;
	if (pc->token_file) {
		errno = 0;
		u->token = secret_read(pc->token_file, "token", err, sizeof(err));
		if (!u->token) {
			*fatal = errno != ENOENT;
			log_err("platform token_file %s%s", err,
			        *fatal
			            ? ""
			            : "; the uplink is off until it exists (then reload): hazards "
			              "are recorded and wait in the outbox");
			uplink_discard(u);
			return NULL;
		}
	}
	ulen = strlen(pc->url);
	while (ulen > 0 && pc->url[ulen - 1] == '/')
		ulen--;
	if (asprintf(&u->events_url, "%.*s/v1/events", (int)ulen, pc->url) < 0)
		u->events_url = NULL; /* asprintf leaves it undefined */
	if (u->events_url &&
	    asprintf(&u->heartbeat_url, "%.*s/v1/heartbeat", (int)ulen, pc->url) < 0)
		u->heartbeat_url = NULL;
	u->tls = (struct http_tls){pc->ca_file, pc->cert_file, pc->key_file, pc->pin};
	if (!u->heartbeat_url || !(u->http = http_new(loop))) {
		log_err("platform uplink: out of memory; hazards are recorded and wait in the "
		        "outbox");
		uplink_discard(u);
		return NULL;
	}
	uv_timer_init(loop, &u->send_timer);
	u->send_timer.data = u;
	uv_timer_init(loop, &u->heartbeat_timer);
	u->heartbeat_timer.data = u;
	/* The first heartbeat goes at once: it is the first contact when nothing waits in the
	 * outbox, and that contact (a reconnect too) queues the resync. */
	uv_timer_start(&u->heartbeat_timer, uplink_on_heartbeat, 0, 0); /* then re-armed */
	u->need_resync = true;
	u->seen_appended = (uint64_t)-1;
	uplink_schedule(u, 0);
	log_info("platform uplink: %s, batches of %d", u->events_url, pc->batch);
	return u;
}

/* Both timers live in the struct: it goes with the last of their close callbacks (libuv
 * runs them in no promised order). */
static void uplink_closed(uv_handle_t *h)
{
	struct uplink *u = h->data;

	if (--u->open_handles == 0)
		free(u);
}

void uplink_free(struct uplink *u)
{
	if (!u)
		return;
	http_free(u->http);
	uplink_batch_free(u);
	free(u->events_url);
	free(u->heartbeat_url);
	secret_free(u->token);
	u->open_handles = 2;
	uv_close((uv_handle_t *)&u->send_timer, uplink_closed);
	uv_close((uv_handle_t *)&u->heartbeat_timer, uplink_closed);
}

const struct uplink_stats *uplink_stats(const struct uplink *u)
{
	return &u->stats;
}
