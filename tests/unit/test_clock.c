/* SPDX-License-Identifier: MIT */
/* test_clock: whether the wall clock is synchronised, and the flag it puts on what is recorded.
 * The mapping of adjtimex's answer to a state, the state the kernel reports on this machine,
 * and hazard events that carry "time_quality" exactly while the clock is not known to be
 * synchronised, never stored with the hazard itself. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timex.h>
#include <cmocka.h>

#include "clock.h"
#include "hazard.h"
#include "ledger.h"
#include "policy.h"
#include "testutil.h"

#define T0 1795000000000LL

struct fixture {
	char *dir;
	char *path;
	struct ledger *l;
	struct policy p;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	testutil_log_capture();
	clock_set_fake(1000, T0);
	f->l = testutil_ledger_open(&f->dir, &f->path);
	policy_defaults(&f->p);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	testutil_ledger_close(f->l, f->dir, f->path);
	free(f);
	clock_set_fake(-1, -1);
	clock_set_fake_sync(-1);
	return 0;
}

static void test_sync_from_adjtimex(void **state)
{
	(void)state;
	/* Disciplined by NTP: TIME_OK, or a leap second announced. */
	assert_int_equal(clock_sync_from_adjtimex(TIME_OK, STA_PLL), CLOCK_SYNCED);
	assert_int_equal(clock_sync_from_adjtimex(TIME_INS, STA_PLL | STA_INS), CLOCK_SYNCED);
	assert_int_equal(clock_sync_from_adjtimex(TIME_WAIT, 0), CLOCK_SYNCED);
	/* Nothing ever set it (the kernel's state at boot), or it lost its source. */
	assert_int_equal(clock_sync_from_adjtimex(TIME_ERROR, STA_UNSYNC), CLOCK_UNSYNCED);
	assert_int_equal(clock_sync_from_adjtimex(TIME_ERROR, 0), CLOCK_UNSYNCED);
	assert_int_equal(clock_sync_from_adjtimex(TIME_OK, STA_UNSYNC), CLOCK_UNSYNCED);
	/* The kernel could not be asked (a seccomp filter answers EPERM). */
	assert_int_equal(clock_sync_from_adjtimex(-1, 0), CLOCK_SYNC_UNKNOWN);
	assert_null(clock_sync_name(CLOCK_SYNCED));
	assert_string_equal(clock_sync_name(CLOCK_UNSYNCED), "unsynchronised");
	assert_string_equal(clock_sync_name(CLOCK_SYNC_UNKNOWN), "unknown");
}

static void test_state_is_the_kernels(void **state)
{
	struct timex tx;
	int rc;

	(void)state;
	memset(&tx, 0, sizeof(tx));
	rc = adjtimex(&tx);
	assert_int_equal(clock_sync_state(), clock_sync_from_adjtimex(rc, tx.status));
	if (clock_sync_state() == CLOCK_UNSYNCED)
		assert_true(testutil_log_has("the wall clock is not synchronised"));
	/* A test may pretend otherwise, and stop pretending. */
	clock_set_fake_sync(CLOCK_SYNC_UNKNOWN);
	assert_string_equal(clock_time_quality(), "unknown");
	clock_set_fake_sync(-1);
	assert_int_equal(clock_sync_state(), clock_sync_from_adjtimex(rc, tx.status));
}

/* The hazard snapshot of the event with that seq. */
static json_t *event_hazard(struct fixture *f, int64_t seq, char *type, size_t len)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	json_t *e = NULL, *h;

	assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(
	    sqlite3_prepare_v2(db, "SELECT body FROM events WHERE seq = ?1", -1, &st, NULL),
	    SQLITE_OK);
	sqlite3_bind_int64(st, 1, seq);
	if (sqlite3_step(st) == SQLITE_ROW)
		e = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
	sqlite3_finalize(st);
	sqlite3_close(db);
	assert_non_null(e);
	snprintf(type, len, "%s", json_string_value(json_object_get(e, "type")));
	h = json_incref(json_object_get(e, "hazard"));
	json_decref(e);
	assert_non_null(h);
	return h;
}

static const char *quality_of(json_t *h)
{
	return json_string_value(json_object_get(h, "time_quality"));
}

static void test_events_flagged_while_unsynced(void **state)
{
	struct fixture *f = *state;
	struct hazard_obs o = {.device = "box",
	                       .point = "smoke",
	                       .kind = KIND_FIRE_ALARM,
	                       .level = LEVEL_ALARM,
	                       .value = 1,
	                       .threshold = NAN,
	                       .wall_ms = T0};
	enum hazard_outcome out;
	struct hazard mem;
	char type[32];
	json_t *h;

	clock_set_fake_sync(CLOCK_UNSYNCED);
	assert_int_equal(hazard_observe(f->l, &f->p, &o, &mem, &out), 0);
	assert_int_equal(out, HAZARD_RAISED);
	/* Not left on the item the caller keeps either (it may be written back later). */
	assert_null(json_object_get(mem.info, "time_quality"));
	item_finish(&mem);
	clock_set_fake_sync(CLOCK_SYNCED);
	assert_int_equal(
	    hazard_clear(f->l, "box", "smoke", KIND_FIRE_ALARM, T0 + 1000, false, &out), 0);
	assert_int_equal(out, HAZARD_CLEARED);
	clock_set_fake_sync(CLOCK_SYNC_UNKNOWN);
	o.wall_ms = T0 + 2000;
	assert_int_equal(hazard_observe(f->l, &f->p, &o, NULL, &out), 0);
	assert_int_equal(out, HAZARD_RECURRED);

	h = event_hazard(f, 1, type, sizeof(type));
	assert_string_equal(type, "raised");
	assert_string_equal(quality_of(h), "unsynchronised");
	json_decref(h);
	h = event_hazard(f, 2, type, sizeof(type));
	assert_string_equal(type, "cleared");
	assert_null(json_object_get(h, "time_quality")); /* synchronised: no field at all */
	json_decref(h);
	h = event_hazard(f, 3, type, sizeof(type));
	assert_string_equal(type, "recurred");
	assert_string_equal(quality_of(h), "unknown");
	json_decref(h);

	/* The flag belongs to the event: the hazard as stored (and as queried) has none. */
	struct hazard now;
	assert_int_equal(ledger_hazard_open_for(f->l, "box", "smoke", KIND_FIRE_ALARM, &now), 1);
	assert_null(json_object_get(now.info, "time_quality"));
	json_t *snap = item_to_json(&now);
	assert_null(json_object_get(snap, "time_quality"));
	json_decref(snap);
	item_finish(&now);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sync_from_adjtimex),
	    cmocka_unit_test_setup_teardown(test_state_is_the_kernels, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_events_flagged_while_unsynced, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
