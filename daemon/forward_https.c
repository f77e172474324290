/* SPDX-License-Identifier: MIT */
/* forward_https: the HTTPS transport of the forwarder (docs/platform-api.md): a batch as one
 * POST /v1/events (the stored event bodies spliced into one request, held once), the
 * heartbeat as POST /v1/heartbeat, and the platform's replies read by uplink_reply and handed
 * to the core (forward.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

#include "clock.h"
#include "forward.h"
#include "http.h"
#include "i18n.h"
#include "log.h"
#include "secret.h"
#include "uplink_reply.h"

/* log_state codes of the failures: a change of kind is logged, a repeat only counted. */
enum {
	FAIL_NETWORK = 1000,  /* + CURLcode */
	FAIL_REPLY = 2000,    /* a 200 whose body breaks the contract */
	FAIL_NOTHING = 2001,  /* a 200 that neither accepts nor rejects anything sent */
	FAIL_LEDGER = 2002,   /* the reply could not be recorded */
	FAIL_INTERNAL = 2003, /* out of memory */
};

struct forward_https;

/* One request: what the reply is checked against (a heartbeat's carries nothing). */
struct forward_https_req {
	struct forward_https *h;
	struct forward_https_req *next; /* the transport's list of requests in flight */
	size_t n;
	bool results; /* it carried command results */
	int64_t *seqs;
	const char **ids; /* into idbuf */
	char (*idbuf)[40];
	char (*hidbuf)[HAZARD_ID_LEN];
};

/* One curl multi handle for every HTTPS destination: one connection cache and one CA store
 * (libcurl keeps it in the multi handle) however many platform blocks there are. */
static struct http *forward_https_http;
static unsigned forward_https_users;

struct forward_https {
	struct forward *f;
	const struct platform_conf *pc;
	struct http *http; /* forward_https_http */
	struct forward_https_req hb; /* the heartbeat's */
	struct http_tls tls;
	char *token;
	char *events_url, *heartbeat_url;
	bool hb_in_flight;
	/* The events requests in flight: one, or two when a failure to record a reply (the
	 * next request already sent) ended in a backoff shorter than that request. */
	struct forward_https_req *reqs;
};

static void forward_https_req_free(struct forward_https_req *r)
{
	if (!r)
		return;
	free(r->seqs);
	free(r->ids);
	free(r->idbuf);
	free(r->hidbuf);
	free(r);
}

/* What to check when the exchange failed below HTTP, or "". */
static const char *forward_https_hint(int curl_code)
{
	switch (curl_code) {
	case CURLE_COULDNT_RESOLVE_HOST:
		return _(" (check the host name in platform url and the gateway's DNS: "
		         "/etc/resolv.conf, the 4G modem)");
	case CURLE_COULDNT_CONNECT:
		return _(" (is the platform up, and the port in platform url right? a firewall on "
		         "the way?)");
	case CURLE_OPERATION_TIMEDOUT:
		return _(" (the link or the platform is slow; platform timeout sets the limit)");
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
		return _(" (check platform ca_file and pin, and the gateway's clock: a certificate "
		         "is valid only between two dates)");
	default:
		return "";
	}
}

/* Why an exchange failed, for the log; its log_state code. */
static int forward_https_failure(const struct http_reply *r, const char *url, char *what,
                                 size_t len)
{
	if (r->status == 0) {
		snprintf(what, len, "%s: %s%s", url, r->error,
		         forward_https_hint((int)r->curl_code));
		return FAIL_NETWORK + r->curl_code;
	}
	snprintf(what, len, _("HTTP %ld from %s%s"), r->status, url,
	         r->status == 401 || r->status == 403
	             ? _(" (is the token in token_file the one the platform issued?)")
	             : "");
	return (int)r->status;
}

/* The reply's verdict as the core's outcome, recorded; 0, or a failure already reported. */
static void forward_https_settle(struct forward_https *h, struct forward_https_req *q,
                                 const struct uplink_reply *rep)
{
	int64_t *acc = calloc(rep->naccepted ? rep->naccepted : 1, sizeof(*acc));
	struct forward_reject *rej =
	    calloc(rep->nrejected ? rep->nrejected : 1, sizeof(*rej));
	char what[512];
	int rc = -ENOMEM;

	if (acc && rej) {
		for (size_t i = 0; i < rep->naccepted; i++)
			acc[i] = q->seqs[rep->accepted[i]];
		for (size_t i = 0; i < rep->nrejected; i++)
			rej[i] = (struct forward_reject){
			    q->seqs[rep->rejected[i].index], rep->rejected[i].reason,
			    q->idbuf[rep->rejected[i].index], q->hidbuf[rep->rejected[i].index]};
		struct forward_outcome o = {acc, rep->naccepted, rej, rep->nrejected, rep->commands,
		                            q->results, true};
		rc = forward_settle(h->f, &o);
	}
	free(acc);
	free(rej);
	if (rc < 0) {
		snprintf(what, sizeof(what),
		         _("cannot record the platform's reply in the ledger (%s)"), strerror(-rc));
		forward_failed(h->f, rc == -ENOMEM ? FAIL_INTERNAL : FAIL_LEDGER, what, -1, false);
	}
}

/* The batch's request is written out: the core may record the answer before it. */
static void forward_https_on_sent(void *userdata)
{
	struct forward_https_req *q = userdata;

	forward_sent(q->h->f);
}

static void forward_https_on_events(const struct http_reply *r, void *userdata)
{
	struct forward_https_req *q = userdata;
	struct forward_https *h = q->h;
	struct uplink_reply rep = {.retry_after_ms = -1};
	char what[512];
	int code = 0;

	for (struct forward_https_req **p = &h->reqs; *p; p = &(*p)->next) {
		if (*p == q) {
			*p = q->next;
			break;
		}
	}
	forward_count_request(h->f);
	uplink_reply_events(&rep, r->status, r->body, r->len, r->retry_after_ms,
	                    (const char *const *)q->ids, q->n);
	switch (rep.kind) {
	case UPLINK_REPLY_OK:
		forward_https_settle(h, q, &rep);
		break;
	case UPLINK_REPLY_HTTP:
		code = forward_https_failure(r, h->events_url, what, sizeof(what));
		break;
	case UPLINK_REPLY_BAD:
		code = FAIL_REPLY;
		snprintf(what, sizeof(what), _("%s: %s; treated as a failure"), h->events_url,
		         rep.error);
		break;
	case UPLINK_REPLY_NOTHING:
		/* Sending the same batch again at once would spin: back off as for a failure. */
		code = FAIL_NOTHING;
		snprintf(what, sizeof(what),
		         _("%s: the reply neither accepts nor rejects any of the %zu event(s) sent; "
		           "treated as a failure"),
		         h->events_url, q->n);
		break;
	}
	if (code)
		forward_failed(h->f, code, what, rep.retry_after_ms,
		               code > FAIL_NETWORK && code < FAIL_REPLY);
	uplink_reply_free(&rep);
	forward_https_req_free(q);
}

/* The stored body of an outbox event, as it goes in a request. The ledger holds the JSON
 * firegw wrote, so it is spliced in as text (parsing each body into a tree and printing the
 * batch again cost most of a drain's CPU). One that does not even look like an object gets
 * a stand-in event the platform can reject: never sent, it would block the outbox for
 * good. */
static char *forward_https_event_text(const struct outbox_item *it)
{
	size_t n = strlen(it->body);
	json_error_t jerr;
	json_t *standin;
	char *text;

	if (n >= 2 && it->body[0] == '{' && it->body[n - 1] == '}')
		return NULL; /* use it->body as it is */
	json_decref(json_loads(it->body, 0, &jerr));
	log_err(_("ledger event %s (seq %lld) has a body that is not a JSON object (%s); sending "
	          "a stand-in event the platform can reject"),
	        it->event_id, (long long)it->seq, jerr.text);
	standin =
	    json_pack("{s:s, s:I, s:s, s:n, s:{s:s}}", "event_id", it->event_id, "seq",
	              (json_int_t)it->seq, "type", "corrupt", "at", "hazard", "id", it->hazard_id);
	text = standin ? json_dumps(standin, JSON_COMPACT) : NULL;
	json_decref(standin);
	return text ? text : strdup("{}");
}

/* {"gateway", "sent_at", ["command_results",] "events": [the batch]} as one string, written
 * once: the head by hand, each body copied in from the batch (the one copy: curl sends it
 * from there). */
static char *forward_https_request_text(struct forward_https *h, const struct forward_batch *b)
{
	const struct conf *c = forward_conf(h->f);
	char stamp[32], *res = NULL, *gw, *text, **standins;
	json_t *g = json_string(c->gateway_id);
	size_t total, off = 0;

	clock_format_iso(clock_wall_ms(), stamp, sizeof(stamp));
	gw = g ? json_dumps(g, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
	json_decref(g);
	if (b->results)
		res = json_dumps(b->results, JSON_COMPACT);
	standins = calloc(b->n ? b->n : 1, sizeof(*standins));
	if (!gw || !standins || (b->results && !res)) {
		free(gw);
		free(res);
		free(standins);
		return NULL;
	}
	total = strlen(gw) + strlen(stamp) + (res ? strlen(res) : 0) + 96;
	for (size_t i = 0; i < b->n; i++) {
		standins[i] = forward_https_event_text(&b->items[i]);
		total += strlen(standins[i] ? standins[i] : b->items[i].body) + 1;
	}
	text = malloc(total);
	if (text) {
		off = (size_t)snprintf(text, total, "{\"gateway\":%s,\"sent_at\":\"%s\"%s%s,\"events\":[",
		                       gw, stamp, res ? ",\"command_results\":" : "", res ? res : "");
		for (size_t i = 0; i < b->n; i++) {
			const char *e = standins[i] ? standins[i] : b->items[i].body;
			size_t el = strlen(e);

			if (i)
				text[off++] = ',';
			memcpy(text + off, e, el);
			off += el;
		}
		memcpy(text + off, "]}", 3);
	}
	for (size_t i = 0; i < b->n; i++)
		free(standins[i]);
	free(standins);
	free(gw);
	free(res);
	return text;
}

static int forward_https_send(void *t, struct forward_batch *b)
{
	struct forward_https *h = t;
	const struct platform_conf *pc = h->pc;
	struct forward_https_req *q = calloc(1, sizeof(*q));
	char *text;
	int rc;

	if (q) {
		q->h = h;
		q->n = b->n;
		q->results = b->results != NULL;
		q->seqs = calloc(b->n ? b->n : 1, sizeof(*q->seqs));
		q->ids = calloc(b->n ? b->n : 1, sizeof(*q->ids));
		q->idbuf = calloc(b->n ? b->n : 1, sizeof(*q->idbuf));
		q->hidbuf = calloc(b->n ? b->n : 1, sizeof(*q->hidbuf));
	}
	if (!q || !q->seqs || !q->ids || !q->idbuf || !q->hidbuf) {
		forward_https_req_free(q);
		return -ENOMEM;
	}
	for (size_t i = 0; i < b->n; i++) {
		q->seqs[i] = b->items[i].seq;
		snprintf(q->idbuf[i], sizeof(q->idbuf[i]), "%s", b->items[i].event_id);
		snprintf(q->hidbuf[i], sizeof(q->hidbuf[i]), "%s", b->items[i].hazard_id);
		q->ids[i] = q->idbuf[i];
	}
	text = forward_https_request_text(h, b);
	if (!text) {
		forward_https_req_free(q);
		return -ENOMEM;
	}
	rc = http_post_json(h->http, h->events_url, h->token, text, strlen(text), &h->tls,
	                    pc->connect_timeout_ms, pc->timeout_ms, forward_https_on_events,
	                    forward_https_on_sent, q);
	if (rc < 0) {
		forward_https_req_free(q);
		return rc == -ENOMEM ? rc : -EIO;
	}
	q->next = h->reqs;
	h->reqs = q;
	return (int)b->n;
}

static void forward_https_on_heartbeat(const struct http_reply *r, void *userdata)
{
	struct forward_https *h = ((struct forward_https_req *)userdata)->h;
	struct uplink_reply rep;
	char what[512];

	h->hb_in_flight = false;
	switch (uplink_reply_heartbeat(&rep, r->status, r->body, r->len, r->retry_after_ms)) {
	case UPLINK_REPLY_OK:
		forward_heartbeat_done(h->f, true, rep.commands, 0, NULL);
		break;
	case UPLINK_REPLY_HTTP: {
		int code = forward_https_failure(r, h->heartbeat_url, what, sizeof(what));

		forward_heartbeat_done(h->f, false, NULL, code, what);
		break;
	}
	default:
		snprintf(what, sizeof(what), _("the platform's %s; ignored"), rep.error);
		forward_heartbeat_done(h->f, false, NULL, FAIL_REPLY, what);
		break;
	}
	uplink_reply_free(&rep);
}

static int forward_https_heartbeat(void *t, json_t *body)
{
	struct forward_https *h = t;
	char *text;

	if (h->hb_in_flight) {
		json_decref(body);
		return 0;
	}
	text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (!text)
		return -ENOMEM;
	if (http_post_json(h->http, h->heartbeat_url, h->token, text, strlen(text), &h->tls,
	                   h->pc->connect_timeout_ms, h->pc->timeout_ms, forward_https_on_heartbeat,
	                   NULL, &h->hb) < 0)
		return -EIO;
	h->hb_in_flight = true;
	return 0;
}

/* A request of `arg` (a struct forward_https): every userdata given to http is a request. */
static bool forward_https_owns(void *userdata, void *arg)
{
	return ((struct forward_https_req *)userdata)->h == arg;
}

static void forward_https_stop(void *t)
{
	struct forward_https *h = t;

	if (!h)
		return;
	if (h->http) {
		http_cancel(h->http, forward_https_owns, h); /* no callback after this */
		if (--forward_https_users == 0) {
			http_free(forward_https_http);
			forward_https_http = NULL;
		}
	}
	while (h->reqs) {
		struct forward_https_req *q = h->reqs;

		h->reqs = q->next;
		forward_https_req_free(q);
	}
	free(h->events_url);
	free(h->heartbeat_url);
	secret_free(h->token);
	free(h);
}

static void *forward_https_start(struct forward *f, bool *fatal)
{
	const struct platform_conf *pc = forward_pc(f);
	struct forward_https *h = calloc(1, sizeof(*h));
	bool failed = false;
	size_t ulen;

	if (!h)
		return NULL;
	h->f = f;
	h->pc = pc;
	h->hb.h = h;
	h->token = forward_secret(f, "token_file", pc->token_file, "token", fatal, &failed);
	if (failed) {
		forward_https_stop(h);
		return NULL;
	}
	ulen = strlen(pc->url);
	while (ulen > 0 && pc->url[ulen - 1] == '/')
		ulen--;
	if (asprintf(&h->events_url, "%.*s/v1/events", (int)ulen, pc->url) < 0)
		h->events_url = NULL; /* asprintf leaves it undefined */
	if (h->events_url &&
	    asprintf(&h->heartbeat_url, "%.*s/v1/heartbeat", (int)ulen, pc->url) < 0)
		h->heartbeat_url = NULL;
	h->tls = (struct http_tls){pc->ca_file, pc->cert_file, pc->key_file, pc->pin};
	if (h->heartbeat_url && !forward_https_http)
		forward_https_http = http_new(forward_loop(f));
	if (h->heartbeat_url && forward_https_http) {
		h->http = forward_https_http;
		forward_https_users++;
	}
	if (!h->http) {
		log_err(_("%s: out of memory; hazards are recorded and wait in the outbox"),
		        forward_label(f));
		forward_https_stop(h);
		return NULL;
	}
	log_info(_("%s: %s, batches of %d"), forward_label(f), h->events_url, pc->batch);
	return h;
}

const struct forward_transport forward_https = {
    .name = "https",
    .mode = FORWARD_ONE_BATCH,
    .start = forward_https_start,
    .stop = forward_https_stop,
    .send = forward_https_send,
    .heartbeat = forward_https_heartbeat,
    .reports_sent = true,
};
