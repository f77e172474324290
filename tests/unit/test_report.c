/* SPDX-License-Identifier: MIT */
/* test_report: the monthly bulletin counted by item. A ledger is built through the rules and
 * the platform's commands over a scripted November 2026 at UTC+8 (Asia/Shanghai), and every
 * figure is checked against the table worked out by hand below: an item reopened and closed
 * again counts once, the grade rows add up to the total, the month's bounds are local
 * midnights, fire alarms and tests are counted apart. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "clock.h"
#include "hazard.h"
#include "ledger.h"
#include "ledger_report.h"
#include "testutil.h"

#define HOUR (3600 * 1000LL)
#define DAY  (24 * HOUR)

struct fixture {
	char *dir, *path;
	struct ledger *l;
	struct policy pol;
};

/* Local time (TZ=Asia/Shanghai) in wall ms. */
static int64_t at(int y, int mo, int d, int h, int mi)
{
	struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
	                .tm_min = mi, .tm_isdst = -1};

	return (int64_t)mktime(&tm) * 1000;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	setenv("TZ", "Asia/Shanghai", 1);
	tzset();
	testutil_log_capture();
	clock_set_fake(1000, at(2026, 12, 5, 0, 0));
	policy_defaults(&f->pol);
	for (int g = 0; g < GRADE_COUNT; g++)
		f->pol.deadline_s[g] = 60 * 24 * 3600; /* only the deadlines set below fall in November */
	f->l = testutil_ledger_open(&f->dir, &f->path);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	testutil_ledger_close(f->l, f->dir, f->path);
	free(f);
	clock_set_fake(-1, -1);
	unsetenv("TZ");
	tzset();
	return 0;
}

/* The condition appears; returns the item's id (static buffer per call site: copy it). */
static void observe(struct fixture *f, const char *dev, const char *point, enum kind k, bool test,
                    int64_t when, char *id)
{
	struct hazard_obs o = {.device = dev, .point = point, .kind = k, .level = LEVEL_ALARM,
	                       .value = 350, .threshold = 300, .unit = "mA", .test = test,
	                       .wall_ms = when};
	struct hazard h;
	enum hazard_outcome out;

	assert_int_equal(ledger_begin(f->l), 0);
	assert_int_equal(hazard_observe(f->l, &f->pol, &o, &h, &out), 0);
	assert_int_equal(ledger_commit(f->l), 0);
	if (id)
		strcpy(id, h.id);
	item_finish(&h);
}

static void clear(struct fixture *f, const char *dev, const char *point, enum kind k,
                  int64_t when, bool autoclose)
{
	enum hazard_outcome out;

	assert_int_equal(ledger_begin(f->l), 0);
	assert_int_equal(hazard_clear(f->l, dev, point, k, when, autoclose, &out), 0);
	assert_int_equal(ledger_commit(f->l), 0);
}

/* A platform command: type ("accept"; "verify" is incident.verify), item, time, and extra JSON
 * fields ("" for none). */
static void command(struct fixture *f, const char *type, const char *id, int64_t when,
                    const char *extra)
{
	static int n;
	char text[512], why[192];
	json_t *cmd;

	snprintf(text, sizeof(text), "{\"id\":\"c%d\",\"type\":\"%s.%s\",\"hazard_id\":\"%s\"%s}",
	         ++n, strcmp(type, "verify") ? "hazard" : "incident", type, id, extra);
	cmd = json_loads(text, 0, NULL);
	assert_non_null(cmd);
	assert_int_equal(ledger_begin(f->l), 0);
	assert_int_equal(hazard_apply_command(f->l, &f->pol, cmd, when, why, sizeof(why)), 0);
	assert_int_equal(ledger_commit(f->l), 0);
	json_decref(cmd);
}

/* The number at a dotted path ("hazards.new"); fails the test if there is none. */
static double real(json_t *o, const char *path)
{
	char buf[128], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save))
		o = json_object_get(o, k);
	assert_true(json_is_number(o));
	return json_number_value(o);
}

static int64_t num(json_t *o, const char *path)
{
	return (int64_t)real(o, path);
}

static json_t *report(struct fixture *f, const char *month, bool list)
{
	struct ledger_report_period p;
	struct ledger_report_opts o = {.devices = 10, .list = list, .now_ms = at(2026, 12, 5, 0, 0)};
	const char *err = NULL;
	json_t *r;

	assert_int_equal(ledger_report_month(month, &p, &err), 0);
	r = ledger_report(f->l, &p, &o, &err);
	assert_non_null(r);
	return r;
}

/* The month, as the table in the comment says. */
static void script(struct fixture *f, char ids[][HAZARD_ID_LEN])
{
	/* G: raised and closed in October: in no November figure. */
	observe(f, "box0", "leak", KIND_RESIDUAL_CURRENT, false, at(2026, 10, 1, 9, 0), ids[6]);
	clear(f, "box0", "leak", KIND_RESIDUAL_CURRENT, at(2026, 10, 2, 9, 0), false);
	command(f, "close", ids[6], at(2026, 10, 5, 9, 0), "");
	/* A: open at the start; due 10 Nov, submitted and accepted 8 Nov, closed 9 Nov. */
	observe(f, "box1", "leak", KIND_RESIDUAL_CURRENT, false, at(2026, 10, 20, 9, 0), ids[0]);
	command(f, "assign", ids[0], at(2026, 10, 21, 9, 0),
	        ",\"assignee\":\"Li\",\"deadline\":\"2026-11-10T04:00:00Z\"");
	command(f, "submit", ids[0], at(2026, 11, 8, 9, 0), "");
	command(f, "acceptance", ids[0], at(2026, 11, 8, 10, 0), ",\"result\":\"passed\"");
	command(f, "close", ids[0], at(2026, 11, 9, 9, 0), "");
	/* K: 1 Nov 00:30 local, still 31 Oct in UTC: November's. */
	observe(f, "box7", "volt", KIND_UNDERVOLTAGE, false, at(2026, 11, 1, 0, 30), ids[7]);
	/* B: raised 2 Nov, due 15 Nov, submitted 14 Nov but failed its acceptance: rectifying at
	 * its deadline and at the end, so overdue; regraded, put under supervision. */
	observe(f, "box2", "t1", KIND_OVERTEMPERATURE, false, at(2026, 11, 2, 10, 0), ids[1]);
	command(f, "assign", ids[1], at(2026, 11, 2, 11, 0),
	        ",\"deadline\":\"2026-11-15T04:00:00Z\"");
	command(f, "submit", ids[1], at(2026, 11, 14, 9, 0), "");
	command(f, "acceptance", ids[1], at(2026, 11, 14, 15, 0), ",\"result\":\"failed\"");
	command(f, "supervise", ids[1], at(2026, 11, 17, 9, 0), ",\"office\":\"县消防救援大队\"");
	/* M: due 12 Nov, deferred on 10 Nov with a reason to 20 Dec: not due in November. */
	observe(f, "box6", "i1", KIND_OVERCURRENT, false, at(2026, 11, 4, 9, 0), ids[10]);
	command(f, "assign", ids[10], at(2026, 11, 4, 10, 0),
	        ",\"deadline\":\"2026-11-12T04:00:00Z\"");
	command(f, "defer", ids[10], at(2026, 11, 10, 9, 0),
	        ",\"reason\":\"parts on order\",\"deadline\":\"2026-12-20T04:00:00Z\"");
	command(f, "regrade", ids[1], at(2026, 11, 16, 9, 0), ",\"grade\":\"major\"");
	/* C: accepted, closed, reopened, accepted and closed again: once in each figure. */
	observe(f, "box3", "arc", KIND_ARC_FAULT, false, at(2026, 11, 3, 9, 0), ids[2]);
	command(f, "submit", ids[2], at(2026, 11, 4, 9, 0), "");
	command(f, "close", ids[2], at(2026, 11, 5, 9, 0), "");
	command(f, "reopen", ids[2], at(2026, 11, 6, 9, 0), "");
	command(f, "accept", ids[2], at(2026, 11, 7, 9, 0), ""); /* submit's older name */
	command(f, "close", ids[2], at(2026, 11, 8, 9, 0), "");
	/* D: a fire alarm verified false and closed; D2 one not verified; E: a test alarm. All
	 * apart from the hazards. */
	observe(f, "smoke1", "smoke", KIND_FIRE_ALARM, false, at(2026, 11, 10, 9, 0), ids[3]);
	clear(f, "smoke1", "smoke", KIND_FIRE_ALARM, at(2026, 11, 10, 9, 5), false);
	command(f, "verify", ids[3], at(2026, 11, 10, 9, 30), ",\"outcome\":\"false_alarm\"");
	command(f, "close", ids[3], at(2026, 11, 11, 9, 0), "");
	observe(f, "smoke2", "smoke", KIND_FIRE_ALARM, false, at(2026, 11, 25, 9, 0), NULL);
	observe(f, "smoke1", "test", KIND_FIRE_ALARM, true, at(2026, 11, 10, 10, 0), NULL);
	clear(f, "smoke1", "test", KIND_FIRE_ALARM, at(2026, 11, 10, 10, 1), true);
	/* H closed 13 Nov and back on 14 Nov: H2, a recurrence after close. */
	observe(f, "box5", "leak", KIND_RESIDUAL_CURRENT, false, at(2026, 11, 12, 9, 0), ids[4]);
	clear(f, "box5", "leak", KIND_RESIDUAL_CURRENT, at(2026, 11, 12, 12, 0), false);
	command(f, "close", ids[4], at(2026, 11, 13, 9, 0), "");
	observe(f, "box5", "leak", KIND_RESIDUAL_CURRENT, false, at(2026, 11, 14, 9, 0), ids[5]);
	/* F: box4 offline for 24 hours, closed when back. */
	observe(f, "box4", "link", KIND_DEVICE_OFFLINE, false, at(2026, 11, 20, 0, 0), ids[8]);
	clear(f, "box4", "link", KIND_DEVICE_OFFLINE, at(2026, 11, 21, 0, 0), true);
	/* The overdue sweep late on 30 Nov: B past its deadline and its acceptance's limit (5
	 * working days after it), K and H2 past the order's (3 working days, never assigned). */
	assert_int_equal(ledger_begin(f->l), 0);
	assert_int_equal(hazard_mark_overdue(f->l, &f->pol, at(2026, 11, 30, 23, 0)), 4);
	assert_int_equal(ledger_commit(f->l), 0);
	/* L: 1 Dec 00:30 local, still 30 Nov in UTC: December's. */
	observe(f, "box9", "volt", KIND_UNDERVOLTAGE, false, at(2026, 12, 1, 0, 30), ids[9]);
}

static void test_month_counted_by_item(void **state)
{
	struct fixture *f = *state;
	char ids[11][HAZARD_ID_LEN];
	json_t *r;

	script(f, ids);
	r = report(f, "2026-11", false);
	/* The table, by hand:
	 * opening   A                          1
	 * new       K B C M H H2 F             7 (D, D2 incidents, E test apart; L December's)
	 * rectified A B C                      3 (submitted; C twice, counted once)
	 * accepted  A passed, B failed         1, 1
	 * closed    A C H F                    4 (C twice, counted once)
	 * closing   K B M H2                   4
	 * overdue   B (rectifying)             1 (M deferred past the month)
	 * due       A (rectified by it) B      2 -> 整改率 0.5
	 * recurred H2, reopened C, regraded B, deferred M, supervised B: 1 each */
	assert_int_equal(num(r, "hazards.opening"), 1);
	assert_int_equal(num(r, "hazards.new"), 7);
	assert_int_equal(num(r, "hazards.rectified"), 3);
	assert_int_equal(num(r, "hazards.acceptance_passed"), 1);
	assert_int_equal(num(r, "hazards.acceptance_failed"), 1);
	assert_int_equal(num(r, "hazards.closed"), 4);
	assert_int_equal(num(r, "hazards.closing"), 4);
	assert_int_equal(num(r, "hazards.deferred"), 1);
	assert_int_equal(num(r, "hazards.supervised"), 1);
	assert_int_equal(num(r, "hazards.overdue"), 1);
	assert_int_equal(num(r, "hazards.overdue_by_stage.rectifying"), 1);
	assert_int_equal(num(r, "hazards.stages_overdue.order"), 2);      /* K, H2 */
	assert_int_equal(num(r, "hazards.stages_overdue.acceptance"), 1); /* B */
	assert_int_equal(num(r, "hazards.due"), 2);
	assert_int_equal(num(r, "hazards.rectified_by_deadline"), 1);
	assert_true(real(r, "hazards.rectification_rate") == 0.5);
	assert_true(json_is_null(json_object_get(json_object_get(r, "hazards"), "review_rate")));
	assert_int_equal(num(r, "hazards.recurred_after_close"), 1);
	assert_int_equal(num(r, "hazards.reopened"), 1);
	assert_int_equal(num(r, "hazards.grade_raised"), 1);
	/* The grade rows add up, and so do the kind rows. */
	int64_t sum = 0;
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(json_object_get(r, "hazards"), "new_by_grade"), k, v)
	    sum += json_integer_value(v);
	assert_int_equal(sum, 7);
	sum = 0;
	json_object_foreach(json_object_get(json_object_get(r, "hazards"), "new_by_kind"), k, v)
	    sum += json_integer_value(v);
	assert_int_equal(sum, 7);
	assert_int_equal(num(r, "hazards.new_by_kind.residual_current"), 2);
	/* B regraded: counted once, in its grade at the end; H2 only suggested one grade up */
	assert_int_equal(num(r, "hazards.new_by_grade.major"), 1);
	assert_int_equal(num(r, "hazards.new_by_grade.immediate"), 1);   /* C */
	assert_int_equal(num(r, "hazards.new_by_grade.significant"), 3); /* H, H2, M */
	assert_int_equal(num(r, "hazards.new_by_grade.general"), 2);     /* K, F */
	assert_int_equal(num(r, "hazards.closing_by_grade.major"), 1);
	/* The oldest open item: K, since 1 Nov 00:30 local. */
	assert_string_equal(json_string_value(json_object_get(
	                        json_object_get(json_object_get(r, "hazards"), "oldest_open"), "id")),
	                    ids[7]);
	assert_int_equal(num(r, "fire_alarms.count"), 2);
	assert_int_equal(num(r, "fire_alarms.closed"), 1);
	assert_int_equal(num(r, "fire_alarms.open_at_end"), 1);
	assert_int_equal(num(r, "fire_alarms.verification.false_alarm"), 1);
	assert_int_equal(num(r, "fire_alarms.verification.unverified"), 1);
	assert_int_equal(num(r, "fire_alarms.verification.real_fire"), 0);
	assert_int_equal(num(r, "tests.items"), 1);
	/* 24 offline hours of 10 devices over 30 days. */
	assert_true(real(r, "devices.offline_hours") == 24.0);
	assert_true(real(r, "devices.online_rate") == 0.9967);
	assert_int_equal(num(r, "devices.count"), 10);
	json_t *top = json_array_get(json_object_get(json_object_get(r, "devices"), "most_faults"), 0);
	assert_string_equal(json_string_value(json_object_get(top, "device")), "box4");
	assert_null(json_object_get(r, "list"));
	json_decref(r);

	/* December: K, B, M and H2 are its opening stock; L is new. */
	r = report(f, "2026-12", false);
	assert_int_equal(num(r, "hazards.opening"), 4);
	assert_int_equal(num(r, "hazards.new"), 1);
	json_decref(r);
	/* October: A and G new, G closed, A open at the end. */
	r = report(f, "2026-10", false);
	assert_int_equal(num(r, "hazards.new"), 2);
	assert_int_equal(num(r, "hazards.closed"), 1);
	assert_int_equal(num(r, "hazards.closing"), 1);
	json_decref(r);
}

static void test_list(void **state)
{
	struct fixture *f = *state;
	char ids[11][HAZARD_ID_LEN];
	json_t *r, *row;
	size_t i;
	int overdue = 0;

	script(f, ids);
	r = report(f, "2026-11", true);
	/* A B C M H H2 F K: open at the end or active in the month; not D, E, G, L. */
	assert_int_equal(json_array_size(json_object_get(r, "list")), 8);
	json_array_foreach(json_object_get(r, "list"), i, row)
	{
		const char *id = json_string_value(json_object_get(row, "id"));

		assert_string_not_equal(id, ids[3]);
		assert_string_not_equal(id, ids[6]);
		assert_string_not_equal(id, ids[9]);
		if (strcmp(id, ids[0]) == 0) {
			assert_string_equal(json_string_value(json_object_get(row, "status")),
			                    "closed");
			assert_string_equal(
			    json_string_value(json_object_get(row, "responsible")), "Li");
		}
		overdue += json_is_true(json_object_get(row, "overdue"));
	}
	assert_int_equal(overdue, 1);
	assert_false(json_is_true(json_object_get(r, "list_truncated")));
	json_decref(r);
}

static void test_week(void **state)
{
	struct fixture *f = *state;
	char ids[11][HAZARD_ID_LEN];
	struct ledger_report_period p;
	struct ledger_report_opts o = {.devices = 10, .now_ms = at(2026, 12, 5, 0, 0)};
	const char *err = NULL;
	json_t *r;

	script(f, ids);
	/* Thursday 5 Nov: the week from Monday 2 Nov 0:00 to Monday 9 Nov 0:00 (local). */
	assert_int_equal(ledger_report_week("2026-11-05", &p, &err), 0);
	assert_string_equal(p.label, "2026-11-02");
	assert_int_equal(p.start_ms, at(2026, 11, 2, 0, 0));
	assert_int_equal(p.end_ms, at(2026, 11, 9, 0, 0));
	r = ledger_report(f->l, &p, &o, &err);
	assert_non_null(r);
	assert_int_equal(num(r, "hazards.opening"), 2); /* A, K */
	assert_int_equal(num(r, "hazards.new"), 3);       /* B, C, M */
	assert_int_equal(num(r, "hazards.rectified"), 2); /* A, C */
	assert_int_equal(num(r, "hazards.closed"), 1);  /* C */
	assert_string_equal(json_string_value(json_object_get(json_object_get(r, "period"), "type")),
	                    "week");
	json_decref(r);
	assert_int_equal(ledger_report_week("2026-11-32", &p, &err), -1);
	assert_int_equal(ledger_report_week("2026-W47", &p, &err), -1);
}

/* What the heartbeat carries: the last full local month, without the list, only the kinds
 * that had new items. */
static void test_bulletin(void **state)
{
	struct fixture *f = *state;
	char ids[11][HAZARD_ID_LEN];
	const char *err = NULL;
	json_t *b, *kinds;

	script(f, ids);
	b = ledger_report_bulletin(f->l, 10, at(2026, 12, 5, 0, 0), &err);
	assert_non_null(b);
	assert_string_equal(json_string_value(json_object_get(json_object_get(b, "period"), "label")),
	                    "2026-11");
	assert_null(json_object_get(b, "list"));
	assert_int_equal(num(b, "hazards.new"), 7);
	kinds = json_object_get(json_object_get(b, "hazards"), "new_by_kind");
	assert_int_equal(json_object_size(kinds), 6); /* 2 residual current, 5 kinds of one */
	assert_null(json_object_get(kinds, "tamper"));
	json_decref(b);
	/* Early in January: December of the year before. */
	b = ledger_report_bulletin(f->l, 10, at(2027, 1, 1, 0, 5), &err);
	assert_string_equal(json_string_value(json_object_get(json_object_get(b, "period"), "label")),
	                    "2026-12");
	assert_int_equal(num(b, "hazards.new"), 1); /* L */
	json_decref(b);
}

/* A ledger an older firegw wrote (schema 4: no item classes, no class in the events'
 * snapshots) is migrated at open; its bulletin is the same as before, fire alarms apart. */
static void test_migrated_ledger(void **state)
{
	struct fixture *f = *state;
	char ids[11][HAZARD_ID_LEN];
	struct ledger_open_info info;
	sqlite3 *db;
	json_t *r;
	char *before, *after;

	script(f, ids);
	r = report(f, "2026-11", true);
	before = json_dumps(r, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(r);
	ledger_close(f->l);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
	                              "ALTER TABLE hazards DROP COLUMN class;"
	                              "UPDATE events SET body = json_remove(body, '$.hazard.class');"
	                              "PRAGMA user_version=4",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(ledger_open(&f->l, f->dir, "GW-T", &info), 0);
	assert_true(testutil_log_has("schema migrated to version 5"));
	r = report(f, "2026-11", true);
	after = json_dumps(r, JSON_SORT_KEYS | JSON_COMPACT);
	assert_int_equal(num(r, "fire_alarms.count"), 2);
	json_decref(r);
	assert_string_equal(after, before);
	free(before);
	free(after);
}

/* The month's bounds are the gateway's local midnights, whatever UTC says. */
static void test_month_bounds_local(void **state)
{
	struct ledger_report_period p;
	struct ledger_report_opts o = {.devices = 0, .now_ms = 0};
	struct fixture *f = *state;
	const char *err = NULL;
	json_t *r, *per;

	assert_int_equal(ledger_report_month("2026-11", &p, &err), 0);
	assert_int_equal(p.start_ms, 1793462400000LL); /* 2026-10-31T16:00:00Z */
	assert_int_equal(p.end_ms, 1796054400000LL);   /* 2026-11-30T16:00:00Z */
	r = ledger_report(f->l, &p, &o, &err);
	assert_non_null(r);
	per = json_object_get(r, "period");
	assert_string_equal(json_string_value(json_object_get(per, "from")),
	                    "2026-11-01T00:00:00+08:00");
	assert_string_equal(json_string_value(json_object_get(per, "to")),
	                    "2026-12-01T00:00:00+08:00");
	assert_string_equal(json_string_value(json_object_get(per, "first_day")), "2026-11-01");
	assert_string_equal(json_string_value(json_object_get(per, "last_day")), "2026-11-30");
	/* An empty ledger: no rate without items due, none without devices. */
	assert_true(json_is_null(json_object_get(json_object_get(r, "hazards"), "rectification_rate")));
	assert_true(json_is_null(json_object_get(json_object_get(r, "devices"), "online_rate")));
	json_decref(r);
	/* December runs into January. */
	assert_int_equal(ledger_report_month("2026-12", &p, &err), 0);
	assert_int_equal(p.end_ms, 1798732800000LL); /* 2026-12-31T16:00:00Z */
	assert_int_equal(ledger_report_month("2026-13", &p, &err), -1);
	assert_non_null(strstr(err, "YYYY-MM"));
	assert_int_equal(ledger_report_month("2026-1", &p, &err), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_month_counted_by_item, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_list, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_week, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_migrated_ledger, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bulletin, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_month_bounds_local, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
