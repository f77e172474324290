/* SPDX-License-Identifier: MIT */
/* test_uplink_reply: the platform's replies as docs/platform-api.md describes them (sections
 * 5, 7, 8 and 10) and each way a reply can break the contract (not JSON, cut short, not an
 * object, wrong types, phantom ids, an id both accepted and rejected, a key twice, numbers
 * too big, an HTTP error), and the forms of Retry-After. A reply that breaks the contract
 * gets its own error and carries nothing to apply: nothing leaves the outbox for it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "http.h"
#include "uplink_reply.h"

static const char *const sent[] = {
    "1cc4fa55-1f1c-40b0-87cf-ace3daf2d7da", /* docs section 5 */
    "ff4eb5d5-a9e4-4919-9458-4602efa817ef",
    "a1", /* docs section 10 */
    "b2",
};
#define NSENT (sizeof(sent) / sizeof(sent[0]))

static enum uplink_reply_kind events(struct uplink_reply *r, const char *body, size_t nsent)
{
	return uplink_reply_events(r, 200, body, strlen(body), -1, sent, nsent);
}

/* Nothing to apply, and the error it must say. */
static void assert_refused(const struct uplink_reply *r, enum uplink_reply_kind kind,
                           const char *error)
{
	assert_int_equal(r->kind, kind);
	assert_non_null(r->error);
	assert_string_equal(r->error, error);
	assert_int_equal(r->naccepted, 0);
	assert_int_equal(r->nrejected, 0);
	assert_null(r->commands);
}

static void test_documented_reply(void **state)
{
	struct uplink_reply r;

	(void)state;
	/* Section 5's example. */
	assert_int_equal(
	    events(&r,
	           "{\"accepted\": [\"1cc4fa55-1f1c-40b0-87cf-ace3daf2d7da\"],\n"
	           " \"rejected\": [{\"event_id\": \"ff4eb5d5-a9e4-4919-9458-4602efa817ef\", "
	           "\"reason\": \"unknown device smoke-9\"}],\n \"commands\": []}",
	           NSENT),
	    UPLINK_REPLY_OK);
	assert_null(r.error);
	assert_int_equal(r.naccepted, 1);
	assert_int_equal(r.accepted[0], 0);
	assert_int_equal(r.nrejected, 1);
	assert_int_equal(r.rejected[0].index, 1);
	assert_string_equal(r.rejected[0].reason, "unknown device smoke-9");
	assert_null(r.commands);
	assert_int_equal(r.retry_after_ms, -1);
	uplink_reply_free(&r);

	/* Section 10: both accepted, a command back; other keys are ignored. */
	assert_int_equal(events(&r,
	                        "{\"accepted\":[\"a1\",\"b2\"],\"rejected\":[],\"later\":{\"x\":1},"
	                        "\"commands\":[{\"id\":\"cmd-1\",\"type\":\"hazard.acknowledge\","
	                        "\"hazard_id\":\"ZW-0001-000003\"}]}",
	                        NSENT),
	                 UPLINK_REPLY_OK);
	assert_int_equal(r.naccepted, 2);
	assert_int_equal(r.accepted[0], 2);
	assert_int_equal(r.accepted[1], 3);
	assert_int_equal(r.nrejected, 0);
	assert_int_equal(json_array_size(r.commands), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(r.commands, 0), "id")),
	                    "cmd-1");
	uplink_reply_free(&r);

	/* Some of the batch answered: the rest is simply not named (it stays in the outbox). */
	assert_int_equal(events(&r, "{\"accepted\":[\"b2\"]}", NSENT), UPLINK_REPLY_OK);
	assert_int_equal(r.naccepted, 1);
	assert_int_equal(r.accepted[0], 3);
	uplink_reply_free(&r);

	/* A rejection without a reason. */
	assert_int_equal(
	    events(&r, "{\"accepted\":[],\"rejected\":[{\"event_id\":\"a1\"}]}", NSENT),
	    UPLINK_REPLY_OK);
	assert_int_equal(r.nrejected, 1);
	assert_null(r.rejected[0].reason);
	uplink_reply_free(&r);

	/* An id named twice counts once. */
	assert_int_equal(events(&r,
	                        "{\"accepted\":[\"a1\",\"a1\"],\"rejected\":[{\"event_id\":\"b2\"},"
	                        "{\"event_id\":\"b2\",\"reason\":\"again\"}]}",
	                        NSENT),
	                 UPLINK_REPLY_OK);
	assert_int_equal(r.naccepted, 1);
	assert_int_equal(r.nrejected, 1);
	uplink_reply_free(&r);
}

static void test_commands_only(void **state)
{
	const char *cmds = "{\"accepted\": [], \"commands\": [\n"
	                   "  {\"id\": \"cmd-77\", \"type\": \"hazard.assign\", \"hazard_id\": "
	                   "\"ZW-0001-000123\", \"assignee\": \"李工\", \"deadline\": "
	                   "\"2027-01-31T00:00:00.000Z\"}, 7, \"x\", null]}";
	struct uplink_reply r;

	(void)state;
	/* Section 7: a request that carried only command results; what is not an object in
	 * "commands" is not a command. */
	assert_int_equal(events(&r, cmds, 0), UPLINK_REPLY_OK);
	assert_int_equal(json_array_size(r.commands), 1);
	uplink_reply_free(&r);
	/* The same reply to a request that carried events answers none of them. */
	assert_int_equal(events(&r, cmds, NSENT), UPLINK_REPLY_NOTHING);
	assert_refused(&r, UPLINK_REPLY_NOTHING,
	               "the reply neither accepts nor rejects any event sent");
	uplink_reply_free(&r);
	/* "commands" that is not an array is ignored, the reply still counts. */
	assert_int_equal(events(&r, "{\"accepted\":[\"a1\"],\"commands\":{\"id\":\"c\"}}", NSENT),
	                 UPLINK_REPLY_OK);
	assert_null(r.commands);
	uplink_reply_free(&r);
}

static void test_heartbeat_reply(void **state)
{
	const char *ok = "{\"commands\":[{\"id\":\"c1\",\"type\":\"hazard.close\","
	                 "\"hazard_id\":\"ZW-0001-000001\"}],\"accepted\":[\"zz\"]}";
	struct uplink_reply r;

	(void)state;
	assert_int_equal(uplink_reply_heartbeat(&r, 200, ok, strlen(ok), -1), UPLINK_REPLY_OK);
	assert_int_equal(json_array_size(r.commands), 1);
	assert_int_equal(r.naccepted, 0); /* a heartbeat reply accepts nothing */
	uplink_reply_free(&r);
	assert_int_equal(uplink_reply_heartbeat(&r, 200, "{}", 2, -1), UPLINK_REPLY_OK);
	assert_null(r.commands);
	uplink_reply_free(&r);
	uplink_reply_heartbeat(&r, 200, "[]", 2, -1);
	assert_refused(&r, UPLINK_REPLY_BAD, "reply is not a JSON object");
	uplink_reply_free(&r);
	uplink_reply_heartbeat(&r, 500, "{\"commands\":[{\"id\":\"c\"}]}", 25, 2000);
	assert_refused(&r, UPLINK_REPLY_HTTP, "a status other than 200");
	assert_int_equal(r.retry_after_ms, 2000);
	uplink_reply_free(&r);
}

/* Each way a 200 breaks section 5, and what it says. */
static void test_bad_replies(void **state)
{
	static const struct {
		const char *body;
		const char *error;
	} cases[] = {
	    /* garbage (receiver.py's "garbage" mode), empty, cut short */
	    {"<html><body>Bad Gateway</body></html>", "reply is not valid JSON"},
	    {"", "reply is not valid JSON"},
	    {"{\"accepted\": [\"a1\", \"b2\"", "reply is not valid JSON"},
	    {"{\"accepted\": [\"a1\"]} trailing", "reply is not valid JSON"},
	    {"{\"accepted\": [\"a\xff\"]}", "reply is not valid JSON"},
	    /* numbers no JSON parser here can hold */
	    {"{\"accepted\": [\"a1\"], \"n\": 123456789012345678901234567890}",
	     "reply is not valid JSON"},
	    {"{\"accepted\": [\"a1\"], \"n\": 1e99999}", "reply is not valid JSON"},
	    /* not an object */
	    {"[\"a1\"]", "reply is not a JSON object"},
	    /* a key twice: which one holds? */
	    {"{\"accepted\": [\"a1\"], \"accepted\": []}", "reply has a key twice in one object"},
	    {"{\"accepted\": [], \"rejected\": [{\"event_id\": \"a1\", \"event_id\": \"b2\"}]}",
	     "reply has a key twice in one object"},
	    /* wrong types */
	    {"{}", "reply has no \"accepted\" array"},
	    {"{\"accepted\": \"a1\"}", "reply has no \"accepted\" array"},
	    {"{\"accepted\": null}", "reply has no \"accepted\" array"},
	    {"{\"accepted\": [\"a1\"], \"rejected\": {\"event_id\": \"b2\"}}",
	     "\"rejected\" is not an array"},
	    {"{\"accepted\": [7]}", "reply accepts an event_id that was not sent"},
	    {"{\"accepted\": [], \"rejected\": [\"a1\"]}",
	     "reply rejects an event_id that was not sent"},
	    {"{\"accepted\": [], \"rejected\": [{\"reason\": \"no id\"}]}",
	     "reply rejects an event_id that was not sent"},
	    /* phantom ids (receiver.py's "phantom" mode), after real ones */
	    {"{\"accepted\": [\"a1\", \"zz-not-sent\"]}",
	     "reply accepts an event_id that was not sent"},
	    {"{\"accepted\": [\"a1\"], \"rejected\": [{\"event_id\": \"A1\"}]}",
	     "reply rejects an event_id that was not sent"},
	    /* both */
	    {"{\"accepted\": [\"a1\", \"b2\"], \"rejected\": [{\"event_id\": \"b2\", \"reason\": "
	     "\"x\"}]}",
	     "reply both accepts and rejects an event_id"},
	};
	struct uplink_reply r;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("# %s\n", cases[i].body);
		uplink_reply_events(&r, 200, cases[i].body, strlen(cases[i].body), -1, sent, NSENT);
		assert_refused(&r, UPLINK_REPLY_BAD, cases[i].error);
		uplink_reply_free(&r);
	}
	/* A NUL inside the body is not JSON either. */
	uplink_reply_events(&r, 200, "{\"accepted\":[\"a1\"]}\0", 21, -1, sent, NSENT);
	assert_refused(&r, UPLINK_REPLY_BAD, "reply is not valid JSON");
	uplink_reply_free(&r);
	/* An HTTP error: its body, however good, is not read. */
	uplink_reply_events(&r, 503, "{\"accepted\":[\"a1\"]}", 19, 30000, sent, NSENT);
	assert_refused(&r, UPLINK_REPLY_HTTP, "a status other than 200");
	assert_int_equal(r.retry_after_ms, 30000);
	uplink_reply_free(&r);
	uplink_reply_events(&r, 0, NULL, 0, -1, sent, NSENT);
	assert_refused(&r, UPLINK_REPLY_HTTP, "no reply");
	uplink_reply_free(&r);
}

static void test_retry_after(void **state)
{
	const time_t now = 1795420800; /* Mon, 23 Nov 2026 08:00:00 GMT */
	struct uplink_reply r;

	(void)state;
	assert_int_equal(http_retry_after_ms("120", now), 120000);
	assert_int_equal(http_retry_after_ms(" 5 ", now), 5000);
	assert_int_equal(http_retry_after_ms("0", now), 0);
	assert_int_equal(http_retry_after_ms("Mon, 23 Nov 2026 08:00:30 GMT", now), 30000);
	assert_int_equal(http_retry_after_ms("Sun, 22 Nov 2026 08:00:00 GMT", now), 0);
	assert_int_equal(http_retry_after_ms("soon", now), -1);
	assert_int_equal(http_retry_after_ms("", now), -1);
	assert_int_equal(http_retry_after_ms("-5", now), -1);
	assert_int_equal(http_retry_after_ms("5s", now), -1);
	/* Too big for any clock: capped, not wrapped around to a negative delay. */
	assert_true(http_retry_after_ms("99999999999999999999999999", now) >=
	            UPLINK_REPLY_RETRY_AFTER_CAP_MS);
	/* The reply caps what it honours at an hour, and keeps it for every verdict. */
	uplink_reply_events(&r, 429, "", 0, http_retry_after_ms("86400", now), sent, NSENT);
	assert_int_equal(r.retry_after_ms, UPLINK_REPLY_RETRY_AFTER_CAP_MS);
	uplink_reply_free(&r);
	uplink_reply_events(&r, 200, "nonsense", 8, 3000, sent, NSENT);
	assert_int_equal(r.kind, UPLINK_REPLY_BAD);
	assert_int_equal(r.retry_after_ms, 3000);
	uplink_reply_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_documented_reply), cmocka_unit_test(test_commands_only),
	    cmocka_unit_test(test_heartbeat_reply),  cmocka_unit_test(test_bad_replies),
	    cmocka_unit_test(test_retry_after),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
