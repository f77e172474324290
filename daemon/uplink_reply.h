/* SPDX-License-Identifier: MIT */
/* uplink_reply: what the platform's answer to a request means (docs/platform-api.md sections
 * 5, 6 and 8), as a pure function: the status, the body and the Retry-After of a reply (and
 * the event_ids the request carried) in, a verdict out. No libuv, no curl handle, no ledger:
 * the HTTPS uplink applies the verdict, the fuzzer and the unit tests call it directly.
 *
 * A verdict other than UPLINK_REPLY_OK carries nothing to apply (no accepted, no rejected, no
 * commands): a reply that breaks the contract must not take anything out of the outbox. */
#pragma once

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Retry-After is honoured up to this long, even beyond backoff_max. */
#define UPLINK_REPLY_RETRY_AFTER_CAP_MS (60 * 60 * 1000)

enum uplink_reply_kind {
	UPLINK_REPLY_OK,      /* a valid 200: apply accepted, rejected and commands */
	UPLINK_REPLY_HTTP,    /* no HTTP reply at all (status 0) or a status other than 200 */
	UPLINK_REPLY_BAD,     /* a 200 whose body breaks the contract; error says how */
	UPLINK_REPLY_NOTHING, /* valid, but neither accepts nor rejects any of the events sent */
};

struct uplink_reply_reject {
	size_t index;       /* into the event_ids sent */
	const char *reason; /* the platform's, NULL if it gave none; lives as long as the reply */
};

struct uplink_reply {
	enum uplink_reply_kind kind;
	const char *error;      /* why the kind is not OK (static text, for the log), else NULL */
	int64_t retry_after_ms; /* the reply's Retry-After, capped; -1 if none */
	size_t *accepted;       /* indexes into the event_ids sent, each once, in reply order */
	size_t naccepted;
	struct uplink_reply_reject *rejected; /* each index once, never one also accepted */
	size_t nrejected;
	json_t *commands; /* an array of the command objects, in order; NULL if none */
	json_t *root;     /* the parsed body (owns the strings above) */
};

/* The reply to POST /v1/events that carried the events `sent` (their event_ids, nsent of
 * them; 0 for a request of command results only). retry_after_ms is what the HTTP layer
 * read from Retry-After (-1 if none). Fills *r (free it with uplink_reply_free whatever the
 * kind) and returns r->kind. */
enum uplink_reply_kind uplink_reply_events(struct uplink_reply *r, long status, const char *body,
                                           size_t len, int64_t retry_after_ms,
                                           const char *const *sent, size_t nsent);
/* The reply to POST /v1/heartbeat: a 200 with a JSON object; only its commands are used
 * (accepted and rejected stay empty). */
enum uplink_reply_kind uplink_reply_heartbeat(struct uplink_reply *r, long status, const char *body,
                                              size_t len, int64_t retry_after_ms);
void uplink_reply_free(struct uplink_reply *r);
