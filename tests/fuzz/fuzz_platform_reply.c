/* SPDX-License-Identifier: MIT */
/* fuzz_platform_reply: libFuzzer target for the platform's replies to the HTTPS uplink
 * (daemon/uplink_reply.c) and their Retry-After (http_retry_after_ms in protocols/http.c).
 *
 * An input is text: a first line "STATUS [RETRY-AFTER]" (e.g. "503 120", "200",
 * "429 Wed, 21 Oct 2026 07:28:00 GMT"), then the body. Without a newline the whole input is
 * the body of a 200. The body is checked as the reply to a batch of seven events (the ids
 * below: the docs' examples and short ones), as the reply to a request that carried only
 * command results, and as a heartbeat reply.
 *
 * Holds: no crash, no leak; an OK verdict names only events that were sent, each at most
 * once, none both accepted and rejected, and only command objects; any other verdict has an
 * error text and carries nothing to apply; Retry-After is -1 or within its cap.
 *
 *   build-fuzz/tests/fuzz-platform-reply -max_len=8192 tests/fuzz/corpus/platform_reply */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "uplink_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 2026-11-23T08:00:00Z: HTTP dates in the corpus are around it. */
#define NOW ((time_t)1795420800)

static const char *const sent[] = {
    "1cc4fa55-1f1c-40b0-87cf-ace3daf2d7da",
    "ff4eb5d5-a9e4-4919-9458-4602efa817ef",
    "a1",
    "b2",
    "c3",
    "d4",
    "e5",
};
#define NSENT (sizeof(sent) / sizeof(sent[0]))

static void check(const struct uplink_reply *r, enum uplink_reply_kind kind, size_t nsent)
{
	unsigned char seen[NSENT] = {0};

	if (r->kind != kind)
		abort();
	if (r->retry_after_ms < -1 || r->retry_after_ms > UPLINK_REPLY_RETRY_AFTER_CAP_MS)
		abort();
	if (kind != UPLINK_REPLY_OK) {
		/* Nothing to apply from a reply that is not taken. */
		if (!r->error || !*r->error || r->naccepted || r->nrejected || r->commands)
			abort();
		return;
	}
	if (r->error || !json_is_object(r->root))
		abort();
	for (size_t i = 0; i < r->naccepted; i++) {
		if (r->accepted[i] >= nsent || seen[r->accepted[i]]++)
			abort();
	}
	for (size_t i = 0; i < r->nrejected; i++) {
		if (r->rejected[i].index >= nsent || seen[r->rejected[i].index]++)
			abort();
	}
	if (nsent > 0 && r->naccepted + r->nrejected == 0)
		abort(); /* that is UPLINK_REPLY_NOTHING */
	if (r->commands) {
		size_t i;
		json_t *c;

		if (!json_is_array(r->commands))
			abort();
		json_array_foreach(r->commands, i, c)
		{
			if (!json_is_object(c))
				abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	const char *nl = memchr(text, '\n', size);
	const char *body = text;
	size_t len = size;
	long status = 200;
	int64_t retry = -1;
	struct uplink_reply r;
	enum uplink_reply_kind k;

	if (nl) {
		char head[256], *end;
		size_t hl =
		    (size_t)(nl - text) < sizeof(head) - 1 ? (size_t)(nl - text) : sizeof(head) - 1;

		memcpy(head, text, hl);
		head[hl] = '\0';
		status = strtol(head, &end, 10);
		if (end != head && (*end == ' ' || *end == '\0')) {
			retry = *end ? http_retry_after_ms(end + 1, NOW) : -1;
			if (retry < -1)
				abort();
			body = nl + 1;
			len = size - (size_t)(nl + 1 - text);
		} else {
			status = 200; /* no status line: all of it is the body */
		}
	}

	k = uplink_reply_events(&r, status, body, len, retry, sent, NSENT);
	check(&r, k, NSENT);
	uplink_reply_free(&r);

	k = uplink_reply_events(&r, status, body, len, retry, sent, 0);
	check(&r, k, 0);
	uplink_reply_free(&r);

	k = uplink_reply_heartbeat(&r, status, body, len, retry);
	check(&r, k, 0);
	if (k == UPLINK_REPLY_OK && (r.naccepted || r.nrejected))
		abort();
	uplink_reply_free(&r);
	return 0;
}
