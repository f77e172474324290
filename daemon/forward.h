/* SPDX-License-Identifier: MIT */
/* forward: the forwarder core of one destination (a `platform "name" { }` block), and the
 * contract of its transports (docs/architecture.md, "The forwarder").
 *
 * The core owns what every transport shares: the next batch of the outbox for its
 * destination (alarm lane first, seq order, never an event already in flight), the
 * settlement of an answer in one ledger transaction (accepted events leave the outbox,
 * rejected ones go to dead letters with the receiver's reason, platform commands are applied
 * once and their results marked reported, the resync of every open item after a reconnect),
 * exponential backoff with full jitter honouring Retry-After, the heartbeat schedule, the
 * counters `firegwctl status` shows, and reading the destination's secret. The daemon calls
 * only the core (forward_new, forward_kick, forward_stats, forward_free).
 *
 * A transport (forward_https.c, forward_mqtt.c, ...) is a table of functions that moves
 * bytes: it turns a batch into what its protocol sends, and tells the core what came back.
 *
 * The contract of a transport (struct forward_transport):
 *  - start(f): set up (read the secret with forward_secret, open nothing that blocks);
 *    returns the transport's state or NULL (reason logged; *fatal when the daemon must not
 *    start). A transport that has a connection reports it with forward_link(f, up); one
 *    without (HTTPS: a request is its own connection) is up from the start.
 *  - send(t, batch): the events of `batch` (and, when batch->results is not NULL, the command
 *    results it carries) go out. Returns how many of the events it took (the first k; those
 *    are now in flight, the rest stay in the outbox for a later batch), or a negative errno.
 *    The batch's memory is the core's and valid only during the call: keep the seqs (and
 *    event_ids) you need. Every event taken is answered later, asynchronously, by exactly one
 *    of: forward_settle (accepted or rejected: a reply, a PUBACK, a confirm frame; one call
 *    may settle part of a batch, a stream transport settles each frame's event on its
 *    confirm), forward_failed (the exchange failed: every event in flight stays in the outbox,
 *    the core backs off and sends them again with the same event_ids), or forward_link(f,
 *    false) (the connection dropped: the same, and the core waits for forward_link(f, true)
 *    instead of a timer). send may be called from inside forward_settle (the next batch goes
 *    while the last one is being recorded).
 *  - heartbeat(t, body): sends the heartbeat (body is the transport's to free); a reply, if
 *    the protocol has one, comes back by forward_heartbeat_done. NULL: the transport has its
 *    own keep-alive (a GB/T 26875.3 empty send-data frame is one).
 *  - stats(t, s): optional; fills in what only the transport knows (why its connection is
 *    down, when it tries again).
 *  - status_json(t, o): optional; adds the transport's own fields to the destination's
 *    object in `firegwctl status` (a GB/T centre's roll calls, say).
 *  - reconnect(t): optional; called by the core when its backoff ends after a failure, before
 *    the next send: a transport with a connection drops and reopens it here (one whose
 *    connection is still up after a failure that was not the connection's keeps it).
 *  - link: the transport has a connection of its own: the core sends nothing until the
 *    transport reports it up (forward_link), and a transport that loses it, or cannot open it,
 *    reports forward_lost: the core backs off, then calls reconnect.
 *  - answer_proves_link: a connection that opens is not yet a success (a TCP connect to a
 *    centre that then never answers): the failures in a row, and so the backoff, go on
 *    growing until the transport reports an answer (forward_alive).
 *  - max_batch: the most events one send may carry whatever the block's `batch` (0: no cap).
 *  - no_resync: the receiver keeps no copy of the items (a GB/T 26875.3 centre is told of
 *    states as they change): no resync of the open items after a reconnect.
 *  - reports_sent: the transport calls forward_sent when a batch's request is written out; the
 *    transaction of the answer before it waits for that (FORWARD_ONE_BATCH), so that it does
 *    not stop the request half-way. Without it the transaction follows the send at once.
 *  - stop(t): frees everything; no callback into the core after it.
 *  - mode: FORWARD_ONE_BATCH keeps one batch in flight (order is kept across batches; the next
 *    batch is read while one is in flight, and sent as soon as the last one's answer is in,
 *    before its transaction commits, which follows once the request is out); FORWARD_WINDOW keeps up to `batch` events in flight and
 *    sends more as each is settled (MQTT QoS 1, one message per event).
 * Everything runs on the loop thread. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "conf.h"
#include "http.h"
#include "ledger.h"

/* What one request to the platform carries, at most: the events' JSON of a batch (a batch
 * stops growing at it; an event larger alone is dead-lettered, see ledger_outbox_batch). */
#define FORWARD_REQUEST_MAX (1024 * 1024)
/* A platform reply (HTTPS body or MQTT command message), at most: larger is dropped unread. */
#define FORWARD_REPLY_MAX HTTP_MAX_REPLY

struct forward_hooks {
	/* The heartbeat body (new reference). */
	json_t *(*heartbeat)(void *userdata);
	/* Platform commands changed items: live state must follow the ledger. */
	void (*changed)(void *userdata);
	void *userdata;
};

struct forward_stats {
	int64_t last_success_wall; /* 0: never */
	int64_t next_attempt_mono;
	unsigned failures; /* in a row */
	uint64_t sent, accepted, rejected, requests, commands;
	char last_error[256];
};

struct forward;

/* What the core hands a transport. */
struct forward_batch {
	const struct outbox_item *items; /* bodies as the ledger holds them */
	size_t n;
	/* Command results to report with it, NULL if none; a transport that cannot send them
	 * now sets it to NULL (they go with a later batch). */
	json_t *results;
};

struct forward_reject {
	int64_t seq;
	const char *reason;              /* the receiver's, NULL if it gave none */
	const char *event_id, *hazard_id; /* for the log line */
};

/* What came back for events in flight (forward_settle). */
struct forward_outcome {
	const int64_t *accepted;
	size_t naccepted;
	const struct forward_reject *rejected;
	size_t nrejected;
	json_t *commands; /* platform commands (an array of objects), NULL if none; borrowed */
	bool results;     /* the command results handed with a batch (forward_batch) arrived */
	/* A full batch that only accepts may commit without waiting for the disk (a drain:
	 * docs/architecture.md, section 5); the transport says whether its receiver dedups. */
	bool may_relax;
};

enum forward_mode { FORWARD_ONE_BATCH, FORWARD_WINDOW };

struct forward_transport {
	const char *name; /* the `transport` of the platform block */
	enum forward_mode mode;
	void *(*start)(struct forward *f, bool *fatal);
	void (*stop)(void *t);
	int (*send)(void *t, struct forward_batch *b);
	int (*heartbeat)(void *t, json_t *body);
	void (*stats)(void *t, struct forward_stats *s);
	void (*status_json)(void *t, json_t *o);
	void (*reconnect)(void *t);
	bool link;
	bool answer_proves_link;
	size_t max_batch;
	bool no_resync;
	bool reports_sent;
};

extern const struct forward_transport forward_https;
extern const struct forward_transport forward_mqtt;
extern const struct forward_transport forward_gbt26875;

/* The daemon's side. */

/* The running destination of `pc` (its transport chosen by pc->transport), or NULL with the
 * reason logged if it cannot run. *fatal is set when the daemon must not start (a secret file
 * readable by others); a secret file that is missing only keeps the destination off (alarms
 * are still recorded and wait in the outbox). */
struct forward *forward_new(uv_loop_t *loop, const struct conf *c, const struct platform_conf *pc,
                            struct ledger *l, const struct forward_hooks *hooks, bool *fatal);
void forward_free(struct forward *f);
/* New events may be in the outbox: send soon, unless backing off. Safe on NULL. */
void forward_kick(struct forward *f);
const struct forward_stats *forward_stats(struct forward *f);
/* The transport's own fields, added to a destination's status object. */
void forward_status_json(struct forward *f, json_t *o);
/* The delay to the next heartbeat: `interval_ms` give or take 10 % at random, so that gateways
 * started together (a power cut) drift apart and do not all come back to a platform that
 * recovers in the same second (a heartbeat that gets through ends the backoff). */
uint64_t forward_heartbeat_delay(int64_t interval_ms);

/* The transports' side. */

uv_loop_t *forward_loop(const struct forward *f);
struct ledger *forward_ledger(const struct forward *f);
const struct conf *forward_conf(const struct forward *f);
const struct platform_conf *forward_pc(const struct forward *f);
/* How log lines name the destination: "platform uplink" for the one platform block of old
 * configs, "platform 'centre'" for a named one. */
const char *forward_label(const struct forward *f);
/* Counts one request (a POST, a message published) for status. */
void forward_count_request(struct forward *f);
/* The secret at `path` (a token or password, `what` names it), or NULL: *failed when it could
 * not be read (logged, `key` names the setting), *fatal when the daemon must not start.
 * Free with secret_free. */
char *forward_secret(struct forward *f, const char *key, const char *path, const char *what,
                     bool *fatal, bool *failed);
/* Records an answer in one transaction (see the contract above). Returns 0 or a negative
 * errno (the ledger failed: nothing of it is recorded, the events stay in the outbox). */
int forward_settle(struct forward *f, const struct forward_outcome *o);
/* The exchange failed: `code` is the kind (a change of kind is logged, a repeat counted),
 * `what` says why, retry_after_ms is the receiver's Retry-After (-1 if none); `unreachable`
 * when the network failed rather than the receiver (a heartbeat that gets through then ends
 * the backoff). */
void forward_failed(struct forward *f, int code, const char *what, int64_t retry_after_ms,
                    bool unreachable);
/* The transport's connection was lost or could not be opened (a transport with `link`): as
 * forward_failed, and the core waits for forward_link(f, true) after calling reconnect once its
 * backoff ends. */
void forward_lost(struct forward *f, int code, const char *what, bool unreachable);
/* The receiver answered (a confirm of a heartbeat, say): the failures in a row end. */
void forward_alive(struct forward *f);
/* The request of the batch in flight is written out (a transport with reports_sent): the
 * transaction of the answer before it may run now, while the receiver works. */
void forward_sent(struct forward *f);
/* Events were queued since the batch in flight was read (a fire alarm may be among them). */
bool forward_newer(const struct forward *f);
/* The events in flight that forward_settle has not named go back to the outbox without a
 * failure, and the next batch is read at once (newer events first by the outbox's order): a
 * stream transport that sends a batch in several exchanges lets a new fire alarm overtake the
 * rest of it. Not from inside send. */
void forward_requeue(struct forward *f);
/* The connection is up (a resync and a heartbeat go at once) or lost (what was in flight stays
 * in the outbox and goes again after the reconnect). Returns how many events were in flight. */
size_t forward_link(struct forward *f, bool up);
/* The heartbeat's reply: `ok` and the platform's commands (borrowed, may be NULL), or a
 * failure (`code`, `what`) that is logged and makes the next success a reconnect. */
void forward_heartbeat_done(struct forward *f, bool ok, json_t *commands, int code,
                            const char *what);
