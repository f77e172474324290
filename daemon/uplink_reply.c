/* SPDX-License-Identifier: MIT */
/* uplink_reply: the platform's replies, checked against the contract (pure; see the header). */
#include "uplink_reply.h"

#include <stdlib.h>
#include <string.h>

/* Where an event_id sent stands in the reply. */
enum { SEEN_NONE, SEEN_ACCEPTED, SEEN_REJECTED };

static void uplink_reply_init(struct uplink_reply *r, int64_t retry_after_ms)
{
	memset(r, 0, sizeof(*r));
	if (retry_after_ms < 0)
		retry_after_ms = -1;
	else if (retry_after_ms > UPLINK_REPLY_RETRY_AFTER_CAP_MS)
		retry_after_ms = UPLINK_REPLY_RETRY_AFTER_CAP_MS;
	r->retry_after_ms = retry_after_ms;
}

/* Drops whatever was gathered: a verdict other than OK carries nothing to apply. */
static enum uplink_reply_kind uplink_reply_fail(struct uplink_reply *r, enum uplink_reply_kind kind,
                                                const char *why)
{
	free(r->accepted);
	free(r->rejected);
	json_decref(r->commands);
	json_decref(r->root);
	r->accepted = NULL;
	r->rejected = NULL;
	r->commands = r->root = NULL;
	r->naccepted = r->nrejected = 0;
	r->kind = kind;
	r->error = why;
	return kind;
}

/* Status and body: r->root is a JSON object after a 0 return. */
static int uplink_reply_load(struct uplink_reply *r, long status, const char *body, size_t len)
{
	json_error_t jerr;

	if (status != 200) {
		uplink_reply_fail(r, UPLINK_REPLY_HTTP,
		                  status == 0 ? "no reply" : "a status other than 200");
		return -1;
	}
	r->root = json_loadb(body ? body : "", body ? len : 0, JSON_REJECT_DUPLICATES, &jerr);
	if (!r->root) {
		/* A key given twice could mean either value: neither is taken. */
		uplink_reply_fail(r, UPLINK_REPLY_BAD,
		                  json_error_code(&jerr) == json_error_duplicate_key
		                      ? "reply has a key twice in one object"
		                      : "reply is not valid JSON");
		return -1;
	}
	if (!json_is_object(r->root)) {
		uplink_reply_fail(r, UPLINK_REPLY_BAD, "reply is not a JSON object");
		return -1;
	}
	return 0;
}

/* The command objects of "commands" (anything else in the array is not a command and is
 * skipped; a "commands" that is not an array is ignored, as before). */
static int uplink_reply_commands(struct uplink_reply *r)
{
	json_t *cmds = json_object_get(r->root, "commands"), *c;
	size_t i;

	if (!json_is_array(cmds))
		return 0;
	json_array_foreach(cmds, i, c)
	{
		if (!json_is_object(c))
			continue;
		if (!r->commands && !(r->commands = json_array()))
			return -1;
		if (json_array_append(r->commands, c) != 0)
			return -1;
	}
	return 0;
}

/* The event_ids sent, sorted, each with its index: a reply's ids are looked up in
 * O(log n), so a hostile reply of many ids costs n log n, not n times the batch. */
struct uplink_reply_id {
	const char *id;
	size_t index;
};

static int uplink_reply_id_cmp(const void *a, const void *b)
{
	const struct uplink_reply_id *x = a, *y = b;

	return strcmp(x->id, y->id);
}

/* The index of an event_id among those sent, or -1. */
static long uplink_reply_find(const char *id, const struct uplink_reply_id *sorted, size_t n)
{
	struct uplink_reply_id key = {id, 0}, *hit;

	if (!id)
		return -1;
	hit = bsearch(&key, sorted, n, sizeof(*sorted), uplink_reply_id_cmp);
	return hit ? (long)hit->index : -1;
}

enum uplink_reply_kind uplink_reply_events(struct uplink_reply *r, long status, const char *body,
                                           size_t len, int64_t retry_after_ms,
                                           const char *const *sent, size_t nsent)
{
	json_t *acc, *rej, *v;
	struct uplink_reply_id *sorted = NULL;
	unsigned char *seen;
	size_t i, nsorted = 0;

	uplink_reply_init(r, retry_after_ms);
	if (uplink_reply_load(r, status, body, len) < 0)
		return r->kind;
	acc = json_object_get(r->root, "accepted");
	rej = json_object_get(r->root, "rejected");
	if (!json_is_array(acc))
		return uplink_reply_fail(r, UPLINK_REPLY_BAD, "reply has no \"accepted\" array");
	if (rej && !json_is_array(rej))
		return uplink_reply_fail(r, UPLINK_REPLY_BAD, "\"rejected\" is not an array");
	sorted = calloc(nsent ? nsent : 1, sizeof(*sorted));
	for (i = 0; sorted && i < nsent; i++) {
		if (sent[i])
			sorted[nsorted++] = (struct uplink_reply_id){sent[i], i};
	}
	if (sorted)
		qsort(sorted, nsorted, sizeof(*sorted), uplink_reply_id_cmp);
	seen = calloc(nsent ? nsent : 1, 1);
	r->accepted = malloc((json_array_size(acc) ? json_array_size(acc) : 1) * sizeof(size_t));
	r->rejected = malloc((json_array_size(rej) ? json_array_size(rej) : 1) *
	                     sizeof(struct uplink_reply_reject));
	if (!sorted || !seen || !r->accepted || !r->rejected) {
		free(sorted);
		free(seen);
		return uplink_reply_fail(r, UPLINK_REPLY_BAD, "out of memory");
	}
	json_array_foreach(acc, i, v)
	{
		long k = uplink_reply_find(json_string_value(v), sorted, nsorted);

		if (k < 0) {
			free(sorted);
			free(seen);
			return uplink_reply_fail(r, UPLINK_REPLY_BAD,
			                         "reply accepts an event_id that was not sent");
		}
		if (seen[k] == SEEN_ACCEPTED)
			continue; /* named twice: accepted once */
		seen[k] = SEEN_ACCEPTED;
		r->accepted[r->naccepted++] = (size_t)k;
	}
	json_array_foreach(rej, i, v)
	{
		long k = uplink_reply_find(json_string_value(json_object_get(v, "event_id")),
		                           sorted, nsorted);

		if (k < 0) {
			free(sorted);
			free(seen);
			return uplink_reply_fail(r, UPLINK_REPLY_BAD,
			                         "reply rejects an event_id that was not sent");
		}
		if (seen[k] == SEEN_ACCEPTED) {
			free(sorted);
			free(seen);
			return uplink_reply_fail(r, UPLINK_REPLY_BAD,
			                         "reply both accepts and rejects an event_id");
		}
		if (seen[k] == SEEN_REJECTED)
			continue;
		seen[k] = SEEN_REJECTED;
		r->rejected[r->nrejected++] = (struct uplink_reply_reject){
		    (size_t)k, json_string_value(json_object_get(v, "reason"))};
	}
	free(sorted);
	free(seen);
	/* Sending the same batch again at once would spin: the caller backs off. */
	if (nsent > 0 && r->naccepted == 0 && r->nrejected == 0)
		return uplink_reply_fail(r, UPLINK_REPLY_NOTHING,
		                         "the reply neither accepts nor rejects any event sent");
	if (uplink_reply_commands(r) < 0)
		return uplink_reply_fail(r, UPLINK_REPLY_BAD, "out of memory");
	r->kind = UPLINK_REPLY_OK;
	return r->kind;
}

enum uplink_reply_kind uplink_reply_heartbeat(struct uplink_reply *r, long status, const char *body,
                                              size_t len, int64_t retry_after_ms)
{
	uplink_reply_init(r, retry_after_ms);
	if (uplink_reply_load(r, status, body, len) < 0)
		return r->kind;
	if (uplink_reply_commands(r) < 0)
		return uplink_reply_fail(r, UPLINK_REPLY_BAD, "out of memory");
	r->kind = UPLINK_REPLY_OK;
	return r->kind;
}

void uplink_reply_free(struct uplink_reply *r)
{
	if (!r)
		return;
	free(r->accepted);
	free(r->rejected);
	json_decref(r->commands);
	json_decref(r->root);
	memset(r, 0, sizeof(*r));
	r->retry_after_ms = -1;
}
