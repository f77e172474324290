/* SPDX-License-Identifier: MIT */
/* test_rules: the rules engine and the hazard lifecycle, end to end into a real ledger.
 * Each test feeds readings at fake monotonic and wall times and checks the items, grades
 * and events the ledger then holds, as an operator or the platform would see them. */
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
#include <cmocka.h>

#include "clock.h"
#include "hazard.h"
#include "ingest.h"
#include "ledger.h"
#include "rules.h"
#include "testutil.h"

#define S      1000LL
#define MINUTE (60 * S)
#define H      (60 * MINUTE)
#define DAY    (24 * H)
#define T0     1795000000000LL /* wall clock at the start of each test */

static const char *devices =
    "bus \"tcp1\" {\n  type = \"tcp\"\n  host = \"127.0.0.1\"\n}\n"
    "device \"box\" {\n  bus = \"tcp1\"\n  unit = 1\n  profile = \"rcd-4t\"\n"
    "  location = \"3F corridor\"\n}\n"
    "device \"relay\" {\n  bus = \"tcp1\"\n  unit = 2\n  profile = \"rcd-relay\"\n}\n"
    "device \"smoke\" {\n  bus = \"tcp1\"\n  unit = 3\n  profile = \"smoke-modbus\"\n}\n"
    "device \"wireless\" {\n  key = \"860001\"\n  profile = \"smoke-codes\"\n"
    "  heartbeat_timeout = \"10m\"\n}\n"
    "site {\n  county = \"County\"\n  responsible = \"Wang\"\n  responsible_phone = \"138\"\n}\n";

struct fixture {
	char *dir;
	struct conf *conf;
	struct ledger *ledger;
	struct rules *rules;
	sqlite3 *db; /* a reader of our own, as an operator's tool would be */
	int64_t now; /* ms since the start of the test */
};

static struct fixture *fixture_new(const char *policy)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct ledger_open_info info;
	char *body;

	assert_non_null(f);
	f->dir = testutil_mkdtemp();
	assert_true(asprintf(&body, "%s%s", devices, policy ? policy : "") > 0);
	f->conf = testutil_conf(f->dir, body);
	free(body);
	clock_set_fake(1000, T0);
	assert_int_equal(ledger_open(&f->ledger, f->dir, "GW-T", &info), 0);
	f->rules = rules_new(f->conf, f->ledger);
	assert_non_null(f->rules);
	char *path;
	assert_true(asprintf(&path, "%s/ledger.db", f->dir) > 0);
	assert_int_equal(sqlite3_open_v2(path, &f->db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	free(path);
	return f;
}

static int setup(void **state)
{
	testutil_log_capture();
	*state = fixture_new(NULL);
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	sqlite3_close(f->db);
	rules_free(f->rules);
	ledger_close(f->ledger);
	conf_free(f->conf);
	testutil_rmdir(f->dir);
	free(f->dir);
	free(f);
	clock_set_fake(-1, -1);
	return 0;
}

static int64_t mono(struct fixture *f)
{
	return 1000 + f->now;
}

static int64_t wall(struct fixture *f)
{
	return T0 + f->now;
}

static void value_at(struct fixture *f, int64_t at, const char *dev, const char *point, double v)
{
	f->now = at;
	assert_int_equal(rules_value(f->rules, dev, point, v, mono(f), wall(f)), 0);
}

static void tick_at(struct fixture *f, int64_t at)
{
	f->now = at;
	assert_int_equal(rules_tick(f->rules, mono(f), wall(f)), 0);
}

static int64_t q_int(struct fixture *f, const char *fmt, ...)
{
	char sql[1024];
	sqlite3_stmt *st;
	int64_t v = -1;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	assert_int_equal(sqlite3_prepare_v2(f->db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static char *q_text(struct fixture *f, const char *fmt, ...)
{
	static char out[4][512];
	static int slot;
	char sql[1024];
	sqlite3_stmt *st;
	char *r = out[slot++ % 4];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	r[0] = '\0';
	assert_int_equal(sqlite3_prepare_v2(f->db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		snprintf(r, 512, "%s", sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return r;
}

/* The one open item at (device, point, kind), as the ledger holds it. */
static void open_item(struct fixture *f, const char *dev, const char *point, enum kind k,
                      struct hazard *h)
{
	assert_true(ledger_begin(f->ledger) == 0);
	assert_int_equal(ledger_hazard_open_for(f->ledger, dev, point, k, h), 1);
	ledger_rollback(f->ledger);
}

static int64_t count_items(struct fixture *f, const char *dev, const char *point)
{
	return q_int(f, "SELECT count(*) FROM hazards WHERE device='%s' AND point='%s'", dev,
	             point);
}

static char *event_types(struct fixture *f, const char *hazard_id)
{
	return q_text(f,
	              "SELECT group_concat(type, ',') FROM (SELECT type FROM events WHERE "
	              "hazard_id='%s' ORDER BY seq)",
	              hazard_id);
}

/* A residual-current alarm, held 5 s: the item a rental building's landlord gets. */
static void raise_leak_alarm(struct fixture *f, int64_t at)
{
	value_at(f, at, "box", "leak", 350);
	value_at(f, at + 5 * S, "box", "leak", 350);
}

static void test_alarm_grade_and_fields(void **state)
{
	struct fixture *f = *state;
	struct hazard h;

	raise_leak_alarm(f, 0);
	open_item(f, "box", "leak", KIND_RESIDUAL_CURRENT, &h);
	assert_string_equal(h.id, "GW-T-000001");
	assert_int_equal(h.grade, GRADE_SIGNIFICANT);
	assert_int_equal(h.status, HSTATUS_OPEN);
	assert_true(h.active);
	assert_int_equal(h.occurrences, 1);
	assert_true(h.value == 350 && h.threshold == 300);
	assert_string_equal(h.unit, "mA");
	assert_int_equal(h.deadline, wall(f) + 30 * DAY);
	assert_string_equal(json_string_value(json_object_get(h.info, "location")), "3F corridor");
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(h.info, "responsible"), "name")),
	    "Wang");
	item_finish(&h);
	assert_string_equal(event_types(f, "GW-T-000001"), "raised");
	/* The event is queued in the alarm lane with a full snapshot. */
	assert_int_equal(q_int(f, "SELECT count(*) FROM outbox WHERE lane=0"), 1);
	assert_string_equal(q_text(f, "SELECT json_extract(body, '$.hazard.grade') FROM events"),
	                    "significant");
	assert_string_equal(
	    q_text(f, "SELECT json_extract(body, '$.hazard.site.county') FROM events"), "County");
}

static void test_grade_defaults_per_kind(void **state)
{
	struct fixture *f = *state;
	struct hazard h;

	/* Smoke module status word: bit 0 fire, 1 fault, 2 low battery, 3 removed. */
	value_at(f, 0, "smoke", "status", 0x1);
	open_item(f, "smoke", "smoke", KIND_FIRE_ALARM, &h);
	assert_int_equal(h.grade, GRADE_IMMEDIATE);
	/* A fire alarm is an incident (警情): verified and closed, never rectified by a date. */
	assert_int_equal(h.iclass, ICLASS_INCIDENT);
	assert_int_equal(h.deadline, 0);
	item_finish(&h);
	value_at(f, 1 * S, "smoke", "status", 0x1 | 0x2 | 0x4 | 0x8);
	open_item(f, "smoke", "smoke", KIND_DEVICE_FAULT, &h);
	assert_int_equal(h.grade, GRADE_GENERAL);
	item_finish(&h);
	open_item(f, "smoke", "smoke", KIND_LOW_BATTERY, &h);
	assert_int_equal(h.grade, GRADE_GENERAL);
	assert_int_equal(h.deadline, wall(f) + 7 * DAY);
	item_finish(&h);
	open_item(f, "smoke", "smoke", KIND_TAMPER, &h);
	assert_int_equal(h.grade, GRADE_GENERAL);
	item_finish(&h);
	/* Arc fault, reported as a discrete condition (an AFDD's status). */
	f->now = 2 * S;
	assert_int_equal(rules_state(f->rules, "relay", "arc", KIND_ARC_FAULT, LEVEL_ALARM, false,
	                             mono(f), wall(f)),
	                 0);
	open_item(f, "relay", "arc", KIND_ARC_FAULT, &h);
	assert_int_equal(h.grade, GRADE_IMMEDIATE);
	item_finish(&h);
	/* Temperature above the high setpoint (90 degC) endangers life now. */
	value_at(f, 3 * S, "box", "t2", 95);
	value_at(f, 8 * S, "box", "t2", 95);
	open_item(f, "box", "t2", KIND_OVERTEMPERATURE, &h);
	assert_int_equal(h.grade, GRADE_IMMEDIATE);
	assert_true(h.threshold == 90);
	item_finish(&h);
	/* Temperature over the alarm but under the high setpoint: significant. */
	value_at(f, 10 * S, "box", "t3", 75);
	value_at(f, 15 * S, "box", "t3", 75);
	open_item(f, "box", "t3", KIND_OVERTEMPERATURE, &h);
	assert_int_equal(h.grade, GRADE_SIGNIFICANT);
	item_finish(&h);
	/* A pre-alarm is general. */
	value_at(f, 20 * S, "box", "t4", 62);
	value_at(f, 25 * S, "box", "t4", 62);
	open_item(f, "box", "t4", KIND_OVERTEMPERATURE, &h);
	assert_int_equal(h.grade, GRADE_GENERAL);
	item_finish(&h);
}

static void test_hold_time(void **state)
{
	struct fixture *f = *state;

	value_at(f, 0, "box", "leak", 350);
	value_at(f, 4 * S, "box", "leak", 350);
	assert_int_equal(count_items(f, "box", "leak"), 0);
	/* A dip below the setpoint restarts the hold. */
	value_at(f, 4500, "box", "leak", 100);
	value_at(f, 6 * S, "box", "leak", 350);
	value_at(f, 10 * S, "box", "leak", 350);
	assert_int_equal(count_items(f, "box", "leak"), 0);
	value_at(f, 11 * S, "box", "leak", 350);
	assert_int_equal(count_items(f, "box", "leak"), 1);
}

static void test_hold_runs_out_on_tick(void **state)
{
	struct fixture *f = *state;

	/* The relay reports its leak value without rules, the box reads once: the tick does
	 * not invent a raise without a reading, but the next reading after the hold does. */
	value_at(f, 0, "box", "leak", 350);
	tick_at(f, 6 * S);
	assert_int_equal(count_items(f, "box", "leak"), 0);
	value_at(f, 7 * S, "box", "leak", 340);
	assert_int_equal(count_items(f, "box", "leak"), 1);
}

static void test_hysteresis_and_clear_hold(void **state)
{
	struct fixture *f = *state;
	struct hazard h;

	raise_leak_alarm(f, 0);
	/* Below prealarm (250) but above clear (200): still active. */
	value_at(f, 10 * S, "box", "leak", 220);
	value_at(f, 60 * S, "box", "leak", 220);
	open_item(f, "box", "leak", KIND_RESIDUAL_CURRENT, &h);
	assert_true(h.active);
	item_finish(&h);
	/* Below clear: it clears only after clear_hold (10 s) below. */
	value_at(f, 61 * S, "box", "leak", 100);
	value_at(f, 70 * S, "box", "leak", 100);
	open_item(f, "box", "leak", KIND_RESIDUAL_CURRENT, &h);
	assert_true(h.active);
	item_finish(&h);
	value_at(f, 71 * S, "box", "leak", 100);
	open_item(f, "box", "leak", KIND_RESIDUAL_CURRENT, &h);
	assert_false(h.active);
	assert_int_equal(h.cleared_at, wall(f));
	/* Cleared is not closed: only the platform closes. */
	assert_int_equal(h.status, HSTATUS_OPEN);
	item_finish(&h);
	assert_string_equal(event_types(f, "GW-T-000001"), "raised,cleared");
}

static void test_dedup_recurred_and_peak(void **state)
{
	struct fixture *f = *state;
	struct hazard h;

	raise_leak_alarm(f, 0);
	value_at(f, 6 * S, "box", "leak", 420);
	value_at(f, 7 * S, "box", "leak", 380);
	value_at(f, 8 * S, "box", "leak", 100);
	value_at(f, 20 * S, "box", "leak", 100); /* cleared */
	raise_leak_alarm(f, 30 * S);             /* back while the item is open */
	assert_int_equal(count_items(f, "box", "leak"), 1);
	open_item(f, "box", "leak", KIND_RESIDUAL_CURRENT, &h);
	assert_int_equal(h.occurrences, 2);
	assert_true(h.peak == 420);
	assert_true(h.active);
	assert_int_equal(h.cleared_at, 0);
	item_finish(&h);
	assert_string_equal(event_types(f, "GW-T-000001"), "raised,cleared,recurred");
	/* A steady alarm adds no events. */
	value_at(f, 40 * S, "box", "leak", 360);
	value_at(f, 41 * S, "box", "leak", 360);
	assert_int_equal(q_int(f, "SELECT count(*) FROM events"), 3);
}

static void test_prealarm_then_alarm_same_item(void **state)
{
	struct fixture *f = *state;
	struct hazard h;

	value_at(f, 0, "box", "leak", 250);
	value_at(f, 5 * S, "box", "leak", 250);
	open_item(f, "box", "leak", KIND_RESIDUAL_CURRENT, &h);
	assert_int_equal(h.grade, GRADE_GENERAL);
	item_finish(&h);
	value_at(f, 6 * S, "box", "leak", 320);
	value_at(f, 11 * S, "box", "leak", 320);
	assert_int_equal(count_items(f, "box", "leak"), 1);
	open_item(f, "box", "leak", KIND_RESIDUAL_CURRENT, &h);
	assert_int_equal(h.grade, GRADE_SIGNIFICANT);
	assert_true(h.threshold == 300);
	item_finish(&h);
	assert_string_equal(event_types(f, "GW-T-000001"), "raised,escalated");
}

/* Held 30 minutes: by default the county decides, so the item keeps its grade and says a
 * higher one is suggested, once. */
static void test_escalation_after_duration(void **state)
{
	struct fixture *f = *state;
	struct hazard h;

	raise_leak_alarm(f, 0);
	tick_at(f, 5 * S + 29 * MINUTE);
	assert_string_equal(event_types(f, "GW-T-000001"), "raised");
	tick_at(f, 5 * S + 30 * MINUTE);
	open_item(f, "box", "leak", KIND_RESIDUAL_CURRENT, &h);
	assert_int_equal(h.grade, GRADE_SIGNIFICANT);
	assert_int_equal(h.escalations, 0);
	json_t *sug = json_object_get(h.info, "escalation_suggested");
	assert_string_equal(json_string_value(json_object_get(sug, "grade")), "major");
	assert_string_equal(json_string_value(json_object_get(sug, "reason")), "persisted");
	assert_int_equal(json_integer_value(json_object_get(sug, "after_s")), 30 * 60);
	item_finish(&h);
	/* Once only. */
	tick_at(f, 5 * S + 3 * H);
	assert_string_equal(event_types(f, "GW-T-000001"), "raised,escalation_suggested");
}

/* A county that lets the gateway regrade: up one grade after 30 minutes. */
static void test_escalation_automatic_when_allowed(void **state)
{
	struct fixture *f = fixture_new("policy {\n  auto_regrade = true\n}\n");
	struct hazard h;

	(void)state;
	raise_leak_alarm(f, 0);
	tick_at(f, 5 * S + 29 * MINUTE);
	open_item(f, "box", "leak", KIND_RESIDUAL_CURRENT, &h);
	assert_int_equal(h.grade, GRADE_SIGNIFICANT);
	int64_t deadline = h.deadline;
	item_finish(&h);
	tick_at(f, 5 * S + 30 * MINUTE);
	open_item(f, "box", "leak", KIND_RESIDUAL_CURRENT, &h);
	assert_int_equal(h.grade, GRADE_MAJOR);
	assert_int_equal(h.escalations, 1);
	assert_null(json_object_get(h.info, "escalation_suggested"));
	/* Escalation never moves the deadline later (major's 60 days > significant's 30). */
	assert_int_equal(h.deadline, deadline);
	item_finish(&h);
	tick_at(f, 5 * S + 3 * H);
	assert_string_equal(event_types(f, "GW-T-000001"), "raised,escalated");
	void *st = f;
	teardown(&st);
}

/* A leak that grows past the worsening bands (500 and 1000 mA by default) tells the platform
 * at each band, once per band while it lasts; a new occurrence starts from where it is. */
static void test_worsened_bands(void **state)
{
	struct fixture *f = *state;
	struct hazard h;

	raise_leak_alarm(f, 0);
	value_at(f, 10 * S, "box", "leak", 450);
	value_at(f, 20 * S, "box", "leak", 600);
	value_at(f, 30 * S, "box", "leak", 700);
	value_at(f, 40 * S, "box", "leak", 550);
	value_at(f, 50 * S, "box", "leak", 650);
	assert_string_equal(event_types(f, "GW-T-000001"), "raised,worsened");
	open_item(f, "box", "leak", KIND_RESIDUAL_CURRENT, &h);
	json_t *w = json_object_get(h.info, "worsened");
	assert_true(json_real_value(json_object_get(w, "band")) == 500);
	assert_true(json_real_value(json_object_get(w, "value")) == 600);
	assert_int_equal(h.grade, GRADE_SIGNIFICANT); /* worse, but the grade is the county's */
	item_finish(&h);
	value_at(f, 60 * S, "box", "leak", 1100);
	assert_string_equal(event_types(f, "GW-T-000001"), "raised,worsened,worsened");
	/* Cleared, and back at 800 mA while the item is open: a recurrence, already past 500. */
	value_at(f, 70 * S, "box", "leak", 0);
	value_at(f, 90 * S, "box", "leak", 0);
	value_at(f, 100 * S, "box", "leak", 800);
	value_at(f, 105 * S, "box", "leak", 800);
	value_at(f, 110 * S, "box", "leak", 900);
	assert_string_equal(event_types(f, "GW-T-000001"),
	                    "raised,worsened,worsened,cleared,recurred");
	value_at(f, 120 * S, "box", "leak", 1200);
	assert_string_equal(event_types(f, "GW-T-000001"),
	                    "raised,worsened,worsened,cleared,recurred,worsened");
}

static void test_no_escalation_once_cleared(void **state)
{
	struct fixture *f = *state;

	raise_leak_alarm(f, 0);
	value_at(f, 10 * S, "box", "leak", 0);
	value_at(f, 30 * S, "box", "leak", 0);
	tick_at(f, 2 * H);
	assert_string_equal(event_types(f, "GW-T-000001"), "raised,cleared");
}

/* What the platform does when it accepts and closes an item. */
static void close_item(struct fixture *f, const char *id)
{
	struct hazard h;

	assert_int_equal(ledger_begin(f->ledger), 0);
	assert_int_equal(ledger_hazard_get(f->ledger, id, &h), 1);
	h.status = HSTATUS_CLOSED;
	h.closed_at = wall(f);
	assert_int_equal(ledger_hazard_update(f->ledger, &h), 0);
	assert_int_equal(ledger_event_append(f->ledger, &h, "closed", wall(f), NULL), 0);
	assert_int_equal(ledger_commit(f->ledger), 0);
	item_finish(&h);
}

static void test_recurrence_after_close(void **state)
{
	struct fixture *f = *state;
	struct hazard h;

	raise_leak_alarm(f, 0);
	value_at(f, 10 * S, "box", "leak", 0);
	value_at(f, 30 * S, "box", "leak", 0);
	f->now = 1 * DAY;
	close_item(f, "GW-T-000001");
	/* Back 10 days after the close: a new item, linked, with a higher grade suggested. */
	raise_leak_alarm(f, 11 * DAY);
	assert_int_equal(count_items(f, "box", "leak"), 2);
	open_item(f, "box", "leak", KIND_RESIDUAL_CURRENT, &h);
	assert_string_equal(h.id, "GW-T-000002");
	assert_string_equal(h.recurrence_of, "GW-T-000001");
	assert_true(h.suspect_rectification);
	assert_int_equal(h.grade, GRADE_SIGNIFICANT);
	json_t *sug = json_object_get(h.info, "escalation_suggested");
	assert_string_equal(json_string_value(json_object_get(sug, "grade")), "major");
	assert_string_equal(json_string_value(json_object_get(sug, "reason")),
	                    "recurred_after_close");
	item_finish(&h);
	/* The suggestion answers recurrence, not persistence: that one may still come. */
	tick_at(f, 11 * DAY + 31 * MINUTE);
	assert_string_equal(event_types(f, "GW-T-000002"), "raised,escalation_suggested");
}

static void test_recurrence_after_close_automatic(void **state)
{
	struct fixture *f = fixture_new("policy {\n  auto_regrade = true\n}\n");
	struct hazard h;

	(void)state;
	raise_leak_alarm(f, 0);
	value_at(f, 10 * S, "box", "leak", 0);
	value_at(f, 30 * S, "box", "leak", 0);
	f->now = 1 * DAY;
	close_item(f, "GW-T-000001");
	raise_leak_alarm(f, 11 * DAY);
	open_item(f, "box", "leak", KIND_RESIDUAL_CURRENT, &h);
	assert_string_equal(h.recurrence_of, "GW-T-000001");
	assert_int_equal(h.grade, GRADE_MAJOR);
	assert_null(json_object_get(h.info, "escalation_suggested"));
	item_finish(&h);
	void *st = f;
	teardown(&st);
}

static void test_no_recurrence_after_window(void **state)
{
	struct fixture *f = *state;
	struct hazard h;

	raise_leak_alarm(f, 0);
	value_at(f, 10 * S, "box", "leak", 0);
	value_at(f, 30 * S, "box", "leak", 0);
	f->now = 1 * DAY;
	close_item(f, "GW-T-000001");
	raise_leak_alarm(f, 32 * DAY);
	open_item(f, "box", "leak", KIND_RESIDUAL_CURRENT, &h);
	assert_string_equal(h.id, "GW-T-000002");
	assert_string_equal(h.recurrence_of, "");
	assert_false(h.suspect_rectification);
	assert_int_equal(h.grade, GRADE_SIGNIFICANT);
	item_finish(&h);
}

static void test_overdue_once(void **state)
{
	struct fixture *f = *state;
	struct hazard h;

	value_at(f, 0, "smoke", "status", 0x4); /* low battery: general, 7 days */
	tick_at(f, 7 * DAY - S);
	open_item(f, "smoke", "smoke", KIND_LOW_BATTERY, &h);
	assert_false(h.overdue);
	item_finish(&h);
	tick_at(f, 7 * DAY + S);
	tick_at(f, 8 * DAY);
	open_item(f, "smoke", "smoke", KIND_LOW_BATTERY, &h);
	assert_true(h.overdue);
	/* Nobody ordered the rectification within 3 working days either: that stage's own event
	 * came first. Each once. */
	assert_string_equal(event_types(f, h.id), "raised,order_overdue,overdue");
	item_finish(&h);
	tick_at(f, 30 * DAY);
	assert_string_equal(event_types(f, h.id), "raised,order_overdue,overdue,acceptance_overdue");
}

static void test_sensor_fault_is_not_alarm(void **state)
{
	struct fixture *f = *state;
	struct hazard h;

	/* t1's probe is open: the detector sets bit 1 of the open map and reads nonsense. */
	value_at(f, 0, "box", "open", 0x2);
	value_at(f, 0, "box", "t1", -40);
	value_at(f, 10 * S, "box", "t1", -40);
	/* An open probe may as well read the top of the scale: still no alarm. */
	value_at(f, 10 * S, "box", "t1", 3276.7);
	value_at(f, 20 * S, "box", "t1", 3276.7);
	open_item(f, "box", "t1", KIND_SENSOR_FAULT, &h);
	assert_int_equal(h.grade, GRADE_GENERAL);
	item_finish(&h);
	assert_int_equal(q_int(f, "SELECT count(*) FROM hazards WHERE kind='overtemperature'"), 0);
	assert_int_equal(q_int(f, "SELECT count(*) FROM hazards WHERE kind='fire_alarm'"), 0);
	/* Short on the same channel is the same fault item, not a second one. */
	value_at(f, 11 * S, "box", "short", 0x2);
	assert_int_equal(q_int(f, "SELECT count(*) FROM hazards WHERE kind='sensor_fault'"), 1);
	/* The open bit goes while the short bit stays: still one active fault, no flapping. */
	value_at(f, 12 * S, "box", "open", 0);
	open_item(f, "box", "t1", KIND_SENSOR_FAULT, &h);
	assert_true(h.active);
	item_finish(&h);
	value_at(f, 13 * S, "box", "open", 0);
	assert_string_equal(event_types(f, "GW-T-000001"), "raised");
	/* Both bits clear: the fault clears. */
	value_at(f, 14 * S, "box", "short", 0);
	open_item(f, "box", "t1", KIND_SENSOR_FAULT, &h);
	assert_false(h.active);
	item_finish(&h);
}

static void test_relay_status_bits_levels(void **state)
{
	struct fixture *f = *state;
	struct hazard h;

	value_at(f, 0, "relay", "status", 0x1); /* pre-warning */
	open_item(f, "relay", "leak", KIND_RESIDUAL_CURRENT, &h);
	assert_int_equal(h.grade, GRADE_GENERAL);
	item_finish(&h);
	value_at(f, S, "relay", "status", 0x3); /* pre-warning + alarm: the alarm wins */
	open_item(f, "relay", "leak", KIND_RESIDUAL_CURRENT, &h);
	assert_int_equal(h.grade, GRADE_SIGNIFICANT);
	item_finish(&h);
	value_at(f, 2 * S, "relay", "status", 0x4); /* break line only */
	open_item(f, "relay", "leak", KIND_RESIDUAL_CURRENT, &h);
	assert_false(h.active);
	item_finish(&h);
	open_item(f, "relay", "leak", KIND_SENSOR_FAULT, &h);
	assert_true(h.active);
	item_finish(&h);
}

static void test_offline_after_missed_polls(void **state)
{
	struct fixture *f = *state;
	struct hazard h;

	f->now = 0;
	assert_int_equal(rules_poll(f->rules, "box", false, mono(f), wall(f)), 0);
	assert_int_equal(rules_poll(f->rules, "box", false, mono(f), wall(f)), 0);
	assert_int_equal(count_items(f, "box", "online"), 0);
	assert_int_equal(rules_poll(f->rules, "box", false, mono(f), wall(f)), 0);
	open_item(f, "box", "online", KIND_DEVICE_OFFLINE, &h);
	assert_int_equal(h.grade, GRADE_GENERAL);
	item_finish(&h);
	/* Offline 72 h: an unmonitored building is itself a danger; the county may say graver. */
	tick_at(f, 72 * H + S);
	open_item(f, "box", "online", KIND_DEVICE_OFFLINE, &h);
	assert_int_equal(h.grade, GRADE_GENERAL);
	assert_string_equal(json_string_value(json_object_get(
	                        json_object_get(h.info, "escalation_suggested"), "grade")),
	                    "significant");
	item_finish(&h);
	f->now = 73 * H;
	assert_int_equal(rules_poll(f->rules, "box", true, mono(f), wall(f)), 0);
	open_item(f, "box", "online", KIND_DEVICE_OFFLINE, &h);
	assert_false(h.active);
	assert_int_equal(h.status, HSTATUS_OPEN); /* not closed by default */
	assert_string_equal(event_types(f, h.id), "raised,escalation_suggested,cleared");
	item_finish(&h);
}

static void test_offline_autoclose(void **state)
{
	struct fixture *f = fixture_new("policy {\n  offline_autoclose = true\n}\n");

	(void)state;
	for (int i = 0; i < 3; i++)
		assert_int_equal(rules_poll(f->rules, "box", false, mono(f), wall(f)), 0);
	f->now = 10 * S;
	assert_int_equal(rules_poll(f->rules, "box", true, mono(f), wall(f)), 0);
	assert_string_equal(q_text(f, "SELECT status FROM hazards WHERE kind='device_offline'"),
	                    "closed");
	assert_string_equal(event_types(f, "GW-T-000001"), "raised,cleared,closed");
	void *st = f;
	teardown(&st);
}

static void test_heartbeat_timeout(void **state)
{
	struct fixture *f = *state;
	struct hazard h;

	tick_at(f, 0); /* the daemon starts: the heartbeat clock starts */
	f->now = 5 * MINUTE;
	assert_int_equal(rules_heard(f->rules, "wireless", mono(f), wall(f)), 0);
	tick_at(f, 14 * MINUTE);
	assert_int_equal(count_items(f, "wireless", "online"), 0);
	tick_at(f, 15 * MINUTE + S);
	open_item(f, "wireless", "online", KIND_DEVICE_OFFLINE, &h);
	assert_true(h.active);
	item_finish(&h);
	f->now = 20 * MINUTE;
	assert_int_equal(rules_heard(f->rules, "wireless", mono(f), wall(f)), 0);
	open_item(f, "wireless", "online", KIND_DEVICE_OFFLINE, &h);
	assert_false(h.active);
	item_finish(&h);
}

static void test_test_items_not_counted(void **state)
{
	struct fixture *f = *state;
	int64_t by_grade[GRADE_COUNT];

	assert_int_equal(rules_state(f->rules, "smoke", "smoke", KIND_FIRE_ALARM, LEVEL_ALARM, true,
	                             mono(f), wall(f)),
	                 0);
	assert_int_equal(q_int(f, "SELECT test FROM hazards"), 1);
	assert_string_equal(q_text(f, "SELECT json_extract(body, '$.hazard.test') FROM events"),
	                    "1");
	assert_int_equal(ledger_open_by_grade(f->ledger, by_grade), 0);
	assert_int_equal(by_grade[GRADE_IMMEDIATE], 0);
	/* It is forwarded all the same. */
	assert_int_equal(ledger_outbox_depth(f->ledger, LANE_ALARM), 1);
}

static void test_unknown_device_and_point(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(rules_value(f->rules, "ghost", "leak", 1, mono(f), wall(f)), -ENOENT);
	assert_int_equal(rules_value(f->rules, "ghost", "leak", 1, mono(f), wall(f)), -ENOENT);
	assert_int_equal(rules_value(f->rules, "box", "nope", 1, mono(f), wall(f)), -ENOENT);
	assert_int_equal(rules_value(f->rules, "box", "leak", NAN, mono(f), wall(f)), -EINVAL);
	assert_int_equal(rules_stats(f->rules)->unknown_device, 2);
	assert_true(testutil_log_has("unknown device 'ghost'"));
	assert_int_equal(q_int(f, "SELECT count(*) FROM hazards"), 0);
}

static void test_resync_after_restart(void **state)
{
	struct fixture *f = *state;
	struct ledger_open_info info;

	raise_leak_alarm(f, 0);
	/* Restart: a new ledger handle and fresh rules, 10 minutes later. */
	rules_free(f->rules);
	ledger_close(f->ledger);
	f->now = 10 * MINUTE;
	clock_set_fake(mono(f) + 5 * H, wall(f)); /* the monotonic clock restarted elsewhere */
	assert_int_equal(ledger_open(&f->ledger, f->dir, "GW-T", &info), 0);
	f->rules = rules_new(f->conf, f->ledger);
	assert_int_equal(rules_resync(f->rules, mono(f), wall(f)), 0);
	assert_int_equal(rules_level(f->rules, "box", "leak", KIND_RESIDUAL_CURRENT), LEVEL_ALARM);
	/* The alarm goes on: no second item, no new event. */
	value_at(f, 10 * MINUTE + S, "box", "leak", 350);
	value_at(f, 10 * MINUTE + 10 * S, "box", "leak", 350);
	assert_int_equal(q_int(f, "SELECT count(*) FROM events"), 1);
	/* Escalation counts from when it began, not from the restart. */
	tick_at(f, 31 * MINUTE);
	assert_string_equal(event_types(f, "GW-T-000001"), "raised,escalation_suggested");
}

static void test_group_commit(void **state)
{
	struct fixture *f = *state;
	struct ingest *in = ingest_new(NULL, f->rules, f->ledger);
	uint64_t before = ledger_commits(f->ledger);

	for (int i = 0; i < 100; i++) {
		struct reading rd = {.type = READING_VALUE,
		                     .value = 350 + i,
		                     .mono_ms = mono(f) + i * 100,
		                     .wall_ms = wall(f) + i * 100};
		snprintf(rd.device, sizeof(rd.device), "box");
		snprintf(rd.point, sizeof(rd.point), "leak");
		assert_int_equal(ingest_push(in, &rd), 0);
	}
	/* One for an unknown device: dropped, the batch goes on. */
	struct reading ghost = {.type = READING_VALUE, .value = 1};
	snprintf(ghost.device, sizeof(ghost.device), "ghost");
	snprintf(ghost.point, sizeof(ghost.point), "leak");
	assert_int_equal(ingest_push(in, &ghost), 0);
	assert_int_equal(ingest_flush(in), 0);
	assert_int_equal(ledger_commits(f->ledger) - before, 1);
	assert_int_equal(ingest_queued(in), 0);
	assert_int_equal(count_items(f, "box", "leak"), 1);
	assert_int_equal(q_int(f, "SELECT occurrences FROM hazards"), 1);
	assert_true(q_int(f, "SELECT CAST(peak AS INTEGER) FROM hazards") == 449);
	ingest_free(in);
}

static int ingest_value(struct ingest *in, const char *dev, const char *point, double v, int64_t at)
{
	struct reading rd = {
	    .type = READING_VALUE, .value = v, .mono_ms = 1000 + at, .wall_ms = T0 + at};

	snprintf(rd.device, sizeof(rd.device), "%s", dev);
	snprintf(rd.point, sizeof(rd.point), "%s", point);
	return ingest_push(in, &rd);
}

/* The ledger fails for hours and the queue fills: repeats merge (the first and the last of
 * each unchanged run stay), nothing that changes a state is dropped, and once the ledger
 * takes the batch the items are those of the whole story: a smoke alarm that came and went
 * and a residual current that stayed in alarm for minutes in the middle of it. */
static void test_full_queue_keeps_every_change(void **state)
{
	struct fixture *f = *state;
	struct ingest *in = ingest_new(NULL, f->rules, f->ledger);
	int64_t t = 0;
	int refused = 0;

	/* 3 readings a second for 8 hours (86,400 readings, more than the queue holds). Leak
	 * normal, 350 mA (alarm) from 2 h to 2 h 10 min; the smoke module's fire bit set for
	 * 2 s at 5 h. */
	for (int i = 0; i < 8 * 3600; i++, t += S) {
		double leak = t >= 2 * H && t < 2 * H + 10 * MINUTE ? 350 : 12 + i % 5;
		double smoke = t >= 5 * H && t < 5 * H + 2 * S ? 1 : 0;

		refused += ingest_value(in, "box", "leak", leak, t) != 0;
		refused += ingest_value(in, "smoke", "status", smoke, t) != 0;
		refused += ingest_value(in, "box", "t1", 25, t) != 0;
	}
	const struct ingest_health *h = ingest_health(in);
	assert_int_equal(refused, 0);
	assert_true(h->merged > 8 * 3600);
	assert_true(h->dropped == 0 && h->changes_lost == 0);
	assert_true(ingest_queued(in) <= INGEST_MAX);
	assert_int_equal(ingest_flush(in), 0);
	/* Both alarms, and the residual current's clear: the alarm lasted its hold time. */
	assert_int_equal(count_items(f, "box", "leak"), 1);
	assert_int_equal(count_items(f, "smoke", "smoke"), 1);
	assert_string_equal(event_types(f, "GW-T-000001"), "raised,cleared");
	assert_string_equal(event_types(f, "GW-T-000002"), "raised,cleared");
	/* Raised where it would have been live: at the first reading past the hold time. */
	assert_true(q_int(f, "SELECT first_seen FROM hazards WHERE device='box'") ==
	            T0 + 2 * H + 5 * S);
	ingest_free(in);
}

/* Nothing to merge (every reading a change): the queue takes INGEST_MAX, then changes go to
 * the reserve, and past it they are dropped and counted as lost. */
static void test_full_queue_reserve(void **state)
{
	struct fixture *f = *state;
	struct ingest *in = ingest_new(NULL, f->rules, f->ledger);
	int i, refused = 0;

	for (i = 0; i < INGEST_MAX + INGEST_RESERVE + 10; i++)
		refused += ingest_value(in, "smoke", "status", i % 2, i) != 0;
	const struct ingest_health *h = ingest_health(in);
	/* Of the 10 refused, every other one repeats the last one kept (its predecessor was
	 * refused): 5 changes lost, 5 repeats dropped. */
	assert_int_equal(refused, 10);
	assert_true(h->changes_lost == 5 && h->dropped == 5);
	assert_int_equal(ingest_queued(in), INGEST_MAX + INGEST_RESERVE);
	/* A repeat of what is queued last for a point is no change: dropped, not lost. */
	assert_int_equal(
	    ingest_value(in, "smoke", "status", (INGEST_MAX + INGEST_RESERVE - 1) % 2, i),
	    -ENOBUFS);
	assert_true(h->dropped == 6 && h->changes_lost == 5);
	ingest_free(in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_alarm_grade_and_fields, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_grade_defaults_per_kind, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hold_time, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hold_runs_out_on_tick, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hysteresis_and_clear_hold, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dedup_recurred_and_peak, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_prealarm_then_alarm_same_item, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_escalation_after_duration, setup, teardown),
	    cmocka_unit_test(test_escalation_automatic_when_allowed),
	    cmocka_unit_test_setup_teardown(test_worsened_bands, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_escalation_once_cleared, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_recurrence_after_close, setup, teardown),
	    cmocka_unit_test(test_recurrence_after_close_automatic),
	    cmocka_unit_test_setup_teardown(test_no_recurrence_after_window, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_overdue_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sensor_fault_is_not_alarm, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_relay_status_bits_levels, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_offline_after_missed_polls, setup, teardown),
	    cmocka_unit_test(test_offline_autoclose),
	    cmocka_unit_test_setup_teardown(test_heartbeat_timeout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_test_items_not_counted, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unknown_device_and_point, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_resync_after_restart, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_full_queue_keeps_every_change, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_full_queue_reserve, setup, teardown),
	};

	return cmocka_run_group_tests_name("rules", tests, NULL, NULL);
}
