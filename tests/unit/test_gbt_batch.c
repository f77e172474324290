/* SPDX-License-Identifier: MIT */
/* test_gbt_batch: the frames one batch makes for a GB/T 26875.3 centre (docs/gbt26875.md
 * section 2): fire alarms first and in a frame of their own, the UITD status after them when
 * due, the other states, then the readings; an event leaves only when every frame holding one
 * of its objects is confirmed; an event with no frame and an unreadable one are settled with
 * the first confirm; a frame given up (deny_limit) makes its events dead letters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "conf.h"
#include "gbt_batch.h"
#include "testutil.h"

static struct conf *conf;
static char *dir;

static const char config[] =
    "mqtt {\n  host = \"127.0.0.1\"\n}\n"
    "device \"sa-1\" {\n  key = \"A1\"\n  profile = \"smoke-json\"\n  location = \"3F 走廊\"\n}\n"
    "device \"efd-1\" {\n  key = \"E1\"\n  profile = \"efd-json\"\n  location = \"配电间\"\n}\n"
    "platform \"centre\" {\n  transport = \"gbt26875\"\n  url = \"gbt26875://c.invalid:9000\"\n"
    "  source_address = \"889\"\n}\n";

static int setup(void **state)
{
	(void)state;
	dir = testutil_mkdtemp();
	conf = testutil_conf(dir, config);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	conf_free(conf);
	testutil_rmdir(dir);
	free(dir);
	return 0;
}

/* An outbox item as the ledger hands it. */
static void item(struct outbox_item *it, int64_t seq, const char *type, const char *kind,
                 const char *device, const char *point, const char *extra)
{
	char body[1024];

	snprintf(body, sizeof(body),
	         "{\"event_id\":\"e%lld\",\"seq\":%lld,\"type\":\"%s\",\"at\":"
	         "\"2026-11-23T07:59:58.120Z\",\"hazard\":{\"kind\":\"%s\",\"device_id\":\"%s\","
	         "\"point\":\"%s\",%s}}",
	         (long long)seq, (long long)seq, type, kind, device, point, extra);
	memset(it, 0, sizeof(*it));
	it->seq = seq;
	snprintf(it->event_id, sizeof(it->event_id), "e%lld", (long long)seq);
	it->body = strdup(body);
}

static void items_free(struct outbox_item *it, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(it[i].body);
}

/* The seqs gbt_batch_settle hands over now, in ev order, as a string "1,3". */
static const char *settled(struct gbt_batch *b)
{
	static char out[128];
	size_t idx[GBT_BATCH_EVENTS], n = gbt_batch_settle(b, idx), off = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n; i++)
		off += (size_t)snprintf(out + off, sizeof(out) - off, "%s%lld%s", i ? "," : "",
		                        (long long)b->ev[idx[i]].seq,
		                        gbt_batch_reason(&b->ev[idx[i]]) ? "x" : "");
	return out;
}

static void test_fire_first_then_uitd_then_states_then_readings(void **state)
{
	struct gbt_batch b = {0};
	struct outbox_item it[4];
	struct gbt26875_time now = {.day = 23, .mon = 11, .year = 26};

	(void)state;
	/* A residual current alarm (status + reading), an assignment (no frame), a fire alarm,
	 * a body that is not JSON. */
	item(&it[0], 1, "raised", "residual_current", "efd-1", "leak",
	     "\"active\":true,\"level\":\"alarm\",\"value\":350,\"unit\":\"mA\"");
	item(&it[1], 2, "assigned", "residual_current", "efd-1", "leak", "\"active\":true");
	item(&it[2], 3, "raised", "fire_alarm", "sa-1", "smoke",
	     "\"active\":true,\"level\":\"alarm\"");
	item(&it[3], 4, "raised", "fire_alarm", "sa-1", "smoke", "\"active\":true");
	free(it[3].body);
	it[3].body = strdup("not json");
	assert_int_equal(gbt_batch_build(&b, conf, conf->platforms[0].gbt, it, 4, 0, true, 0, &now, NULL, 0),
	                 4);
	assert_int_equal(b.nadus, 4);
	assert_int_equal(b.adus[0].buf[0], GBT26875_T_COMPONENT_STATUS); /* the fire alarm */
	assert_int_equal(b.adus[0].buf[1], 1);
	assert_true(b.adu_is_uitd[1]);                                   /* then the UITD */
	assert_int_equal(b.adus[2].buf[0], GBT26875_T_COMPONENT_STATUS); /* the supervisory */
	assert_int_equal(b.adus[3].buf[0], GBT26875_T_ANALOG);           /* its reading */
	assert_int_equal(b.unreadable_events, 1);
	assert_int_equal(b.no_frame_events, 1);

	/* Nothing confirmed: only the events no frame holds (the assignment, the unreadable). */
	assert_string_equal(settled(&b), "2,4x");
	assert_int_equal(gbt_batch_confirmed(&b), -1); /* the fire alarm's frame */
	assert_string_equal(settled(&b), "3");
	assert_int_equal(gbt_batch_confirmed(&b), 0); /* the UITD status it told */
	assert_string_equal(settled(&b), "");
	assert_int_equal(gbt_batch_confirmed(&b), -1); /* the supervisory status: not yet */
	assert_string_equal(settled(&b), "");
	assert_non_null(gbt_batch_next(&b));
	assert_int_equal(gbt_batch_confirmed(&b), -1); /* its reading: now the event */
	assert_string_equal(settled(&b), "1");
	assert_null(gbt_batch_next(&b));
	assert_int_equal(gbt_batch_confirmed(&b), -1);
	items_free(it, 4);
}

static void test_uitd_queued_once_and_before_the_batch(void **state)
{
	struct gbt_batch b = {0};
	struct outbox_item it[1];
	struct gbt26875_time now = {.day = 23, .mon = 11, .year = 26};

	(void)state;
	assert_true(gbt_batch_add_uitd(&b, 0, &now)); /* on connect, nothing waiting */
	assert_true(gbt_batch_add_uitd(&b, 0, &now)); /* queued already: not twice */
	assert_int_equal(b.nadus, 1);
	item(&it[0], 7, "raised", "fire_alarm", "sa-1", "smoke", "\"active\":true,\"level\":\"alarm\"");
	assert_int_equal(gbt_batch_build(&b, conf, conf->platforms[0].gbt, it, 1, 0, true, 0, &now, NULL, 0),
	                 1);
	assert_int_equal(b.nadus, 2); /* the UITD in flight first, then the fire alarm */
	assert_true(b.adu_is_uitd[0] && !b.adu_is_uitd[1]);
	assert_int_equal(gbt_batch_confirmed(&b), 0);
	assert_string_equal(settled(&b), "");
	assert_int_equal(gbt_batch_confirmed(&b), -1);
	assert_string_equal(settled(&b), "7");
	items_free(it, 1);
}

static void test_refused_frame_makes_dead_letters(void **state)
{
	struct gbt_batch b = {0};
	struct outbox_item it[2];
	struct gbt26875_time now = {.day = 23, .mon = 11, .year = 26};

	(void)state;
	item(&it[0], 11, "raised", "fire_alarm", "sa-1", "smoke", "\"active\":true,\"level\":\"alarm\"");
	item(&it[1], 12, "raised", "residual_current", "efd-1", "leak",
	     "\"active\":true,\"level\":\"alarm\",\"value\":350,\"unit\":\"mA\"");
	assert_int_equal(gbt_batch_build(&b, conf, conf->platforms[0].gbt, it, 2, 0, false, 0, &now, NULL, 0),
	                 2);
	assert_int_equal(gbt_batch_next_key(&b), 11);
	assert_int_equal(gbt_batch_refuse_next(&b), 1);
	assert_int_equal(gbt_batch_confirmed(&b), -1); /* given up: the rest goes on */
	assert_string_equal(settled(&b), "11x");
	assert_string_equal(gbt_batch_reason(&b.ev[0]),
	                    "the monitoring centre denied its frame at every try, deny_limit times");
	assert_int_equal(gbt_batch_next_key(&b), 12);
	assert_int_equal(b.refused_events, 1);
	gbt_batch_clear(&b);
	assert_null(gbt_batch_next(&b));
	assert_int_equal(gbt_batch_next_key(&b), -1);
	items_free(it, 2);
}

static void test_what_the_centre_has_is_not_sent_again(void **state)
{
	struct gbt_batch b = {0};
	struct outbox_item it[2];
	struct gbt_batch_sent sent[GBT_BATCH_EVENTS];
	struct gbt26875_time now = {.day = 23, .mon = 11, .year = 26};
	size_t n;

	(void)state;
	item(&it[0], 21, "raised", "residual_current", "efd-1", "leak",
	     "\"active\":true,\"level\":\"alarm\",\"value\":350,\"unit\":\"mA\"");
	assert_int_equal(gbt_batch_build(&b, conf, conf->platforms[0].gbt, it, 1, 0, false, 0, &now,
	                                 NULL, 0),
	                 1);
	assert_int_equal(b.nadus, 2);                  /* its status, then its reading */
	assert_int_equal(gbt_batch_partial(&b, sent), 0);
	assert_int_equal(gbt_batch_confirmed(&b), -1); /* the status: the centre has it */
	n = gbt_batch_partial(&b, sent);
	assert_int_equal(n, 1);
	assert_int_equal(sent[0].seq, 21);
	assert_int_equal(sent[0].kinds, GBT_OBJ_STATUS);

	/* A fire alarm overtakes: the event is read again with it; its status is left out. */
	gbt_batch_clear(&b);
	item(&it[1], 22, "raised", "fire_alarm", "sa-1", "smoke", "\"active\":true,\"level\":\"alarm\"");
	struct outbox_item again[2] = {it[1], it[0]};
	assert_int_equal(gbt_batch_build(&b, conf, conf->platforms[0].gbt, again, 2, 0, false, 0,
	                                 &now, sent, n),
	                 2);
	assert_int_equal(b.nadus, 2); /* the fire alarm, the reading: no second status */
	assert_int_equal(b.adus[0].buf[0], GBT26875_T_COMPONENT_STATUS);
	assert_int_equal(b.adus[1].buf[0], GBT26875_T_ANALOG);
	assert_int_equal(gbt_batch_partial(&b, sent), 1); /* still: it has the status */
	assert_int_equal(gbt_batch_confirmed(&b), -1);
	assert_string_equal(settled(&b), "22");
	assert_int_equal(gbt_batch_confirmed(&b), -1);
	assert_string_equal(settled(&b), "21");
	assert_int_equal(gbt_batch_partial(&b, sent), 0); /* settled: nothing kept */
	items_free(it, 2);
}

/* Every event settled while the UITD status frame still waits for its confirm: the next batch
 * is taken at once and queued after it; while an event is not settled, none is. */
static void test_next_batch_after_a_waiting_uitd_status(void **state)
{
	struct gbt_batch b = {0};
	struct outbox_item it[2];
	struct gbt26875_time now = {.day = 23, .mon = 11, .year = 26};

	(void)state;
	item(&it[0], 31, "raised", "fire_alarm", "sa-1", "smoke", "\"active\":true,\"level\":\"alarm\"");
	item(&it[1], 32, "raised", "fire_alarm", "sa-1", "smoke", "\"active\":true,\"level\":\"alarm\"");
	assert_int_equal(gbt_batch_build(&b, conf, conf->platforms[0].gbt, it, 1, 0, true, 2, &now,
	                                 NULL, 0),
	                 1);
	assert_int_equal(b.nadus, 2); /* the fire alarm, then the UITD status it changed */
	assert_true(gbt_batch_busy(&b));
	assert_int_equal(gbt_batch_build(&b, conf, conf->platforms[0].gbt, it + 1, 1, 0, false, 0,
	                                 &now, NULL, 0),
	                 0); /* busy: nothing taken */
	assert_int_equal(gbt_batch_confirmed(&b), -1);
	assert_string_equal(settled(&b), "31");
	assert_false(gbt_batch_busy(&b)); /* the UITD status still waits: it holds nothing back */
	assert_int_equal(gbt_batch_build(&b, conf, conf->platforms[0].gbt, it + 1, 1, 0, true, 2,
	                                 &now, NULL, 0),
	                 1);
	assert_int_equal(b.nadus, 2); /* the waiting UITD status first, once; then the alarm */
	assert_true(b.adu_is_uitd[0] && !b.adu_is_uitd[1]);
	assert_int_equal(gbt_batch_confirmed(&b), 2);
	assert_string_equal(settled(&b), "");
	assert_int_equal(gbt_batch_confirmed(&b), -1);
	assert_string_equal(settled(&b), "32");
	items_free(it, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fire_first_then_uitd_then_states_then_readings),
	    cmocka_unit_test(test_uitd_queued_once_and_before_the_batch),
	    cmocka_unit_test(test_refused_frame_makes_dead_letters),
	    cmocka_unit_test(test_what_the_centre_has_is_not_sent_again),
	    cmocka_unit_test(test_next_batch_after_a_waiting_uitd_status),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
