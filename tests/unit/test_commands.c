/* SPDX-License-Identifier: MIT */
/* test_commands: the platform's side of the lifecycle. Each command applied once by its id,
 * recorded as a hazard event, its result kept for the next request; impossible commands
 * answered ok = false with a reason and changing nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "clock.h"
#include "hazard.h"
#include "ledger.h"
#include "testutil.h"

#define T0 1795000000000LL

struct fixture {
	char *dir;
	struct ledger *l;
	struct policy pol;
	char id[HAZARD_ID_LEN];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct hazard_obs o = {.device = "box",
	                       .point = "leak",
	                       .kind = KIND_RESIDUAL_CURRENT,
	                       .level = LEVEL_ALARM,
	                       .value = 350,
	                       .threshold = 300,
	                       .unit = "mA",
	                       .wall_ms = T0};
	struct hazard h;
	enum hazard_outcome out;

	testutil_log_capture();
	clock_set_fake(1000, T0);
	policy_defaults(&f->pol);
	f->l = testutil_ledger_open(&f->dir, NULL);
	assert_int_equal(ledger_begin(f->l), 0);
	assert_int_equal(hazard_observe(f->l, &f->pol, &o, &h, &out), 0);
	assert_int_equal(ledger_commit(f->l), 0);
	strcpy(f->id, h.id);
	item_finish(&h);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	testutil_ledger_close(f->l, f->dir, NULL);
	free(f);
	clock_set_fake(-1, -1);
	return 0;
}

/* Applies a command given as JSON text, in its own transaction. */
static void apply(struct fixture *f, const char *fmt, ...)
{
	char text[8192], why[192];
	va_list ap;
	json_t *cmd;
	int rc;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	cmd = json_loads(text, 0, NULL);
	assert_non_null(cmd);
	assert_int_equal(ledger_begin(f->l), 0);
	rc = hazard_apply_command(f->l, &f->pol, cmd, T0 + 1000, why, sizeof(why));
	assert_true(rc >= 0 && rc <= 2); /* applied, refused or ignored: never a ledger failure */
	assert_int_equal(ledger_commit(f->l), 0);
	json_decref(cmd);
}

static void item(struct fixture *f, struct hazard *h)
{
	assert_int_equal(ledger_hazard_get(f->l, f->id, h), 1);
}

/* The result stored for a command id: "ok", or the reason. */
static const char *result(struct fixture *f, const char *id)
{
	static char out[256];
	json_t *all = ledger_command_results(f->l);
	size_t i;
	json_t *r;

	out[0] = '\0';
	json_array_foreach(all, i, r)
	{
		if (strcmp(json_string_value(json_object_get(r, "id")), id) != 0)
			continue;
		if (json_is_true(json_object_get(r, "ok")))
			snprintf(out, sizeof(out), "ok");
		else
			snprintf(out, sizeof(out), "%s",
			         json_string_value(json_object_get(r, "reason")));
	}
	json_decref(all);
	return out;
}

static void test_lifecycle(void **state)
{
	struct fixture *f = *state;
	struct hazard h;

	apply(f, "{\"id\":\"c1\",\"type\":\"hazard.acknowledge\",\"hazard_id\":\"%s\"}", f->id);
	item(f, &h);
	assert_int_equal(h.status, HSTATUS_ACKNOWLEDGED);
	item_finish(&h);
	assert_string_equal(result(f, "c1"), "ok");

	apply(
	    f,
	    "{\"id\":\"c2\",\"type\":\"hazard.assign\",\"hazard_id\":\"%s\",\"assignee\":\"Li "
	    "Electrician\",\"measures\":\"replace the RCD\",\"deadline\":\"2026-12-01T00:00:00Z\"}",
	    f->id);
	item(f, &h);
	assert_int_equal(h.status, HSTATUS_RECTIFYING);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(h.info, "platform"), "assignee")),
	    "Li Electrician");
	assert_int_equal(h.deadline, 1796083200000LL);
	item_finish(&h);

	apply(f, "{\"id\":\"c3\",\"type\":\"hazard.accept\",\"hazard_id\":\"%s\"}", f->id);
	apply(f, "{\"id\":\"c4\",\"type\":\"hazard.close\",\"hazard_id\":\"%s\"}", f->id);
	item(f, &h);
	assert_int_equal(h.status, HSTATUS_CLOSED);
	assert_int_equal(h.closed_at, T0 + 1000);
	item_finish(&h);

	apply(f, "{\"id\":\"c5\",\"type\":\"hazard.reopen\",\"hazard_id\":\"%s\"}", f->id);
	item(f, &h);
	assert_int_equal(h.status, HSTATUS_OPEN);
	assert_int_equal(h.closed_at, 0);
	item_finish(&h);
	/* Every step is an event of the item, in order. */
	assert_int_equal(ledger_event_count(f->l), 6);
	struct outbox_item *it;
	size_t n;
	assert_int_equal(ledger_outbox_batch(f->l, "", 10, 1 << 20, &it, &n), 0);
	assert_int_equal(n, 6);
	const char *types[] = {"raised",   "acknowledged", "assigned",
	                       "accepted", "closed",       "reopened"};
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_loads(it[i].body, 0, NULL);

		assert_string_equal(json_string_value(json_object_get(e, "type")), types[i]);
		json_decref(e);
	}
	ledger_outbox_free(it, n);
}

/* The county decides the grade: hazard.regrade records the new grade with who and why, answers
 * a suggestion, and brings a graver item's deadline nearer; a bad grade is refused. */
static void test_regrade(void **state)
{
	struct fixture *f = *state;
	struct hazard h;

	item(f, &h);
	int64_t deadline = h.deadline; /* significant: 30 days */
	json_object_set_new(h.info, "escalation_suggested",
	                    json_pack("{s:s, s:s}", "grade", "major", "reason", "persisted"));
	assert_int_equal(ledger_begin(f->l), 0);
	assert_int_equal(ledger_hazard_update(f->l, &h), 0);
	assert_int_equal(ledger_commit(f->l), 0);
	item_finish(&h);

	apply(f, "{\"id\":\"g0\",\"type\":\"hazard.regrade\",\"hazard_id\":\"%s\","
	         "\"grade\":\"catastrophic\"}", f->id);
	assert_string_equal(result(f, "g0"), "grade must be one of immediate, major, significant, general");
	apply(f, "{\"id\":\"g1\",\"type\":\"hazard.regrade\",\"hazard_id\":\"%s\","
	         "\"grade\":\"immediate\",\"actor\":\"王科长\",\"role\":\"county_fire_office\","
	         "\"reason\":\"线路老化，危及人身安全\"}", f->id);
	assert_string_equal(result(f, "g1"), "ok");
	item(f, &h);
	assert_int_equal(h.grade, GRADE_IMMEDIATE);
	assert_int_equal(h.status, HSTATUS_OPEN);
	assert_null(json_object_get(h.info, "escalation_suggested"));
	json_t *r = json_object_get(h.info, "regraded");
	assert_string_equal(json_string_value(json_object_get(r, "from")), "significant");
	assert_string_equal(json_string_value(json_object_get(r, "to")), "immediate");
	assert_string_equal(json_string_value(json_object_get(r, "actor")), "王科长");
	assert_string_equal(json_string_value(json_object_get(r, "reason")), "线路老化，危及人身安全");
	/* immediate: one day from the regrade, nearer than significant's 30. */
	assert_int_equal(h.deadline, T0 + 1000 + 24 * 3600 * 1000LL);
	assert_true(h.deadline < deadline);
	item_finish(&h);

	/* Down again: the grade follows, the deadline does not move later. */
	apply(f, "{\"id\":\"g2\",\"type\":\"hazard.regrade\",\"hazard_id\":\"%s\","
	         "\"grade\":\"general\",\"actor\":\"王科长\"}", f->id);
	item(f, &h);
	assert_int_equal(h.grade, GRADE_GENERAL);
	assert_int_equal(h.deadline, T0 + 1000 + 24 * 3600 * 1000LL);
	item_finish(&h);
	/* raised, regraded twice: the refused one left nothing. */
	assert_int_equal(ledger_event_count(f->l), 3);
}

static json_t *info_of(struct fixture *f, const char *id, const char *key, struct hazard *h)
{
	assert_int_equal(ledger_hazard_get(f->l, id, h), 1);
	return json_object_get(h->info, key);
}

/* 谁主管谁验收, 谁管总谁销号: a county that names roles per step and wants a passed acceptance
 * before a close gets exactly that; a forced close needs a reason, which is kept. */
static void test_roles_and_close_after_acceptance(void **state)
{
	struct fixture *f = *state;
	struct hazard h;

	f->pol.close_requires_acceptance = true;
	strcpy(f->pol.roles[STEP_CLOSE][0], "owner");
	f->pol.nroles[STEP_CLOSE] = 1;
	strcpy(f->pol.roles[STEP_ACCEPTANCE][0], "acceptor");
	f->pol.nroles[STEP_ACCEPTANCE] = 1;

	apply(f, "{\"id\":\"r1\",\"type\":\"hazard.close\",\"hazard_id\":\"%s\",\"role\":\"owner\"}", f->id);
	assert_string_equal(result(f, "r1"), "close needs a passed acceptance first "
	                                     "(hazard.acceptance), or force with a reason "
	                                     "(policy.close_requires_acceptance)");
	apply(f, "{\"id\":\"r2\",\"type\":\"hazard.acceptance\",\"hazard_id\":\"%s\",\"role\":\"acceptor\",\"result\":\"passed\"}", f->id);
	assert_string_equal(result(f, "r2"), "hazard is not pending acceptance (hazard.submit first)");
	apply(f, "{\"id\":\"r3\",\"type\":\"hazard.submit\",\"hazard_id\":\"%s\"}", f->id);
	assert_string_equal(result(f, "r3"), "ok");
	apply(f, "{\"id\":\"r4\",\"type\":\"hazard.acceptance\",\"hazard_id\":\"%s\",\"role\":\"landlord\",\"result\":\"passed\"}", f->id);
	assert_string_equal(result(f, "r4"), "role 'landlord' may not acceptance (policy.roles.acceptance)");
	apply(f, "{\"id\":\"r5\",\"type\":\"hazard.acceptance\",\"hazard_id\":\"%s\",\"role\":\"acceptor\",\"result\":\"failed\",\"note\":\"接线端子仍松动\"}", f->id);
	assert_string_equal(result(f, "r5"), "ok");
	json_t *a = info_of(f, f->id, "acceptance", &h);
	assert_int_equal(h.status, HSTATUS_RECTIFYING); /* back to the rectifier */
	assert_string_equal(json_string_value(json_object_get(a, "result")), "failed");
	item_finish(&h);
	apply(f, "{\"id\":\"r6\",\"type\":\"hazard.submit\",\"hazard_id\":\"%s\"}", f->id);
	apply(f, "{\"id\":\"r7\",\"type\":\"hazard.acceptance\",\"hazard_id\":\"%s\",\"role\":\"acceptor\",\"actor\":\"赵验收\",\"result\":\"passed\"}", f->id);
	assert_string_equal(result(f, "r7"), "ok");
	apply(f, "{\"id\":\"r8\",\"type\":\"hazard.close\",\"hazard_id\":\"%s\",\"role\":\"acceptor\"}", f->id);
	assert_string_equal(result(f, "r8"), "role 'acceptor' may not close (policy.roles.close)");
	apply(f, "{\"id\":\"r9\",\"type\":\"hazard.close\",\"hazard_id\":\"%s\",\"role\":\"owner\",\"actor\":\"王房东\"}", f->id);
	assert_string_equal(result(f, "r9"), "ok");
	info_of(f, f->id, "acceptance", &h);
	assert_int_equal(h.status, HSTATUS_CLOSED);
	item_finish(&h);

	/* Reopened: a new round, the old acceptance gone; force needs a reason. */
	apply(f, "{\"id\":\"r10\",\"type\":\"hazard.reopen\",\"hazard_id\":\"%s\"}", f->id);
	assert_null(info_of(f, f->id, "acceptance", &h));
	item_finish(&h);
	apply(f, "{\"id\":\"r10b\",\"type\":\"hazard.close\",\"hazard_id\":\"%s\",\"role\":\"owner\"}", f->id);
	assert_string_equal(result(f, "r10b"), "close needs a passed acceptance first "
	                                       "(hazard.acceptance), or force with a reason "
	                                       "(policy.close_requires_acceptance)");
	apply(f, "{\"id\":\"r11\",\"type\":\"hazard.close\",\"hazard_id\":\"%s\",\"role\":\"owner\",\"force\":true}", f->id);
	assert_string_equal(result(f, "r11"), "a forced close needs a reason");
	apply(f, "{\"id\":\"r12\",\"type\":\"hazard.close\",\"hazard_id\":\"%s\",\"role\":\"owner\",\"force\":true,\"reason\":\"建筑已拆除\"}", f->id);
	assert_string_equal(result(f, "r12"), "ok");
	json_t *fc = info_of(f, f->id, "forced_close", &h);
	assert_string_equal(json_string_value(json_object_get(fc, "reason")), "建筑已拆除");
	item_finish(&h);
}

/* 五定 before rectifying: a county that requires fields of a grade refuses an assign that lacks
 * them, and names each missing one. */
static void test_required_fields_before_rectifying(void **state)
{
	struct fixture *f = *state;
	struct hazard h;

	f->pol.require_fields[GRADE_SIGNIFICANT] = 1u << FIELD_MEASURES | 1u << FIELD_FUNDS |
	                                           1u << FIELD_DEADLINE |
	                                           1u << FIELD_CONTINGENCY_PLAN;
	apply(f, "{\"id\":\"q1\",\"type\":\"hazard.assign\",\"hazard_id\":\"%s\",\"measures\":\"更换剩余电流动作继电器\"}", f->id);
	assert_string_equal(result(f, "q1"), "a significant hazard needs funds, deadline, "
	                                     "contingency_plan before rectifying "
	                                     "(policy.require_before_rectifying)");
	json_t *pf = info_of(f, f->id, "platform", &h);
	assert_null(json_object_get(pf, "measures")); /* a refused command stored nothing */
	assert_int_equal(h.status, HSTATUS_OPEN);
	item_finish(&h);
	apply(f, "{\"id\":\"q2\",\"type\":\"hazard.assign\",\"hazard_id\":\"%s\",\"funds\":\"800元\","
	         "\"deadline\":\"2026-12-20T00:00:00Z\",\"contingency_plan\":\"断电并张贴警示\","
	         "\"measures\":\"更换剩余电流动作继电器\",\"responsible\":\"王房东\","
	         "\"interim_measures\":\"每日巡查\"}", f->id);
	assert_string_equal(result(f, "q2"), "ok");
	pf = info_of(f, f->id, "platform", &h);
	assert_int_equal(h.status, HSTATUS_RECTIFYING);
	assert_string_equal(json_string_value(json_object_get(pf, "interim_measures")), "每日巡查");
	assert_string_equal(json_string_value(json_object_get(pf, "contingency_plan")), "断电并张贴警示");
	item_finish(&h);
}

/* 挂牌督办 and 无法按期整改: the supervision is recorded; a deferral needs a written reason and a
 * later date, moves the deadline, clears overdue and is kept in a list. */
static void test_supervise_and_defer(void **state)
{
	struct fixture *f = *state;
	struct hazard h;

	apply(f, "{\"id\":\"s1\",\"type\":\"hazard.supervise\",\"hazard_id\":\"%s\"}", f->id);
	assert_string_equal(result(f, "s1"), "supervise needs office (the supervising office)");
	apply(f, "{\"id\":\"s2\",\"type\":\"hazard.supervise\",\"hazard_id\":\"%s\",\"office\":\"示例县消防救援大队\","
	         "\"order_number\":\"示消督〔2026〕12号\",\"report_before_close\":true}", f->id);
	assert_string_equal(result(f, "s2"), "ok");
	json_t *sv = info_of(f, f->id, "supervision", &h);
	assert_string_equal(json_string_value(json_object_get(sv, "order_number")), "示消督〔2026〕12号");
	assert_true(json_is_true(json_object_get(sv, "report_before_close")));
	int64_t deadline = h.deadline;
	item_finish(&h);

	assert_int_equal(ledger_begin(f->l), 0);
	assert_int_equal(hazard_mark_overdue(f->l, &f->pol, deadline + 1), 2); /* and the order's */
	assert_int_equal(ledger_commit(f->l), 0);
	apply(f, "{\"id\":\"d1\",\"type\":\"hazard.defer\",\"hazard_id\":\"%s\",\"deadline\":\"2027-06-01T00:00:00Z\"}", f->id);
	assert_string_equal(result(f, "d1"), "defer needs a written reason and a new deadline later "
	                                     "than the current one");
	apply(f, "{\"id\":\"d2\",\"type\":\"hazard.defer\",\"hazard_id\":\"%s\",\"reason\":\"等待供电局改造\","
	         "\"deadline\":\"2020-01-01T00:00:00Z\"}", f->id);
	assert_string_equal(result(f, "d2"), "defer needs a written reason and a new deadline later "
	                                     "than the current one");
	apply(f, "{\"id\":\"d3\",\"type\":\"hazard.defer\",\"hazard_id\":\"%s\",\"reason\":\"等待供电局改造\","
	         "\"deadline\":\"2027-06-01T00:00:00Z\",\"actor\":\"王房东\"}", f->id);
	assert_string_equal(result(f, "d3"), "ok");
	json_t *list = info_of(f, f->id, "deferrals", &h);
	assert_int_equal(json_array_size(list), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "reason")),
	                    "等待供电局改造");
	assert_true(h.deadline > deadline);
	assert_false(h.overdue);
	item_finish(&h);
	/* The report the supervision asked for comes with the close. */
	apply(f, "{\"id\":\"e1\",\"type\":\"hazard.close\",\"hazard_id\":\"%s\"}", f->id);
	assert_string_equal(result(f, "e1"),
	                    "a supervised item (挂牌督办) closes with its report (report_before_close)");
	apply(f, "{\"id\":\"e2\",\"type\":\"hazard.close\",\"hazard_id\":\"%s\",\"report\":\"已更换线路，附照片\"}", f->id);
	assert_string_equal(result(f, "e2"), "ok");
	sv = info_of(f, f->id, "supervision", &h);
	assert_string_equal(json_string_value(json_object_get(sv, "report")), "已更换线路，附照片");
	item_finish(&h);
}

/* A fire alarm on `device`, raised at T0 + `at_ms`: its id. */
static void raise_fire(struct fixture *f, const char *device, int64_t at_ms, char *id)
{
	struct hazard_obs o = {.device = device,
	                       .point = "smoke",
	                       .kind = KIND_FIRE_ALARM,
	                       .level = LEVEL_ALARM,
	                       .value = 1,
	                       .wall_ms = T0 + at_ms};
	struct hazard h;
	enum hazard_outcome out;

	assert_int_equal(ledger_begin(f->l), 0);
	assert_int_equal(hazard_observe(f->l, &f->pol, &o, &h, &out), 0);
	assert_int_equal(ledger_commit(f->l), 0);
	assert_int_equal(out, HAZARD_RAISED);
	strcpy(id, h.id);
	item_finish(&h);
}

/* 警情 apart from 隐患: a fire alarm is an incident without a rectification deadline; the duty
 * officer verifies it (核警) and closes it; it is never assigned or accepted; a hazard is
 * never verified. */
static void test_incident_verified_and_closed(void **state)
{
	struct fixture *f = *state;
	char id[HAZARD_ID_LEN];
	struct hazard h;

	raise_fire(f, "smoke-3f", 0, id);
	assert_int_equal(ledger_hazard_get(f->l, id, &h), 1);
	assert_int_equal(h.iclass, ICLASS_INCIDENT);
	assert_int_equal(h.deadline, 0);
	json_t *snap = item_to_json(&h);
	assert_string_equal(json_string_value(json_object_get(snap, "class")), "incident");
	assert_true(json_is_null(json_object_get(snap, "deadline")));
	json_decref(snap);
	item_finish(&h);
	int64_t open, unverified;
	assert_int_equal(ledger_open_incidents(f->l, &open, &unverified), 0);
	assert_int_equal(open, 1);
	assert_int_equal(unverified, 1);
	/* The incident is not among the open hazards by grade; the leak is. */
	int64_t by_grade[GRADE_COUNT];
	assert_int_equal(ledger_open_by_grade(f->l, by_grade), 0);
	assert_int_equal(by_grade[GRADE_IMMEDIATE], 0);
	assert_int_equal(by_grade[GRADE_SIGNIFICANT], 1);

	apply(f, "{\"id\":\"v0\",\"type\":\"hazard.assign\",\"hazard_id\":\"%s\"}", id);
	assert_string_equal(result(f, "v0"), "an incident is verified and closed, not rectified");
	apply(f, "{\"id\":\"v1\",\"type\":\"incident.verify\",\"hazard_id\":\"%s\"}", f->id);
	assert_string_equal(result(f, "v1"), "only an incident is verified; this item is a hazard");
	apply(f, "{\"id\":\"v2\",\"type\":\"incident.verify\",\"hazard_id\":\"%s\","
	         "\"outcome\":\"probably\"}", id);
	assert_string_equal(result(f, "v2"), "outcome must be one of real_fire, false_alarm, test, unknown");
	apply(f, "{\"id\":\"v3\",\"type\":\"incident.verify\",\"hazard_id\":\"%s\","
	         "\"outcome\":\"real_fire\",\"actor\":\"值班员 张三\",\"role\":\"duty_officer\","
	         "\"deadline\":\"2027-01-01T00:00:00Z\"}", id);
	assert_string_equal(result(f, "v3"), "ok");
	assert_int_equal(ledger_hazard_get(f->l, id, &h), 1);
	assert_int_equal(h.status, HSTATUS_ACKNOWLEDGED);
	assert_int_equal(h.deadline, 0); /* an incident takes no deadline */
	json_t *v = json_object_get(h.info, "verification");
	assert_string_equal(json_string_value(json_object_get(v, "outcome")), "real_fire");
	assert_string_equal(json_string_value(json_object_get(v, "actor")), "值班员 张三");
	item_finish(&h);
	assert_int_equal(ledger_open_incidents(f->l, &open, &unverified), 0);
	assert_int_equal(unverified, 0);
	apply(f, "{\"id\":\"v4\",\"type\":\"hazard.close\",\"hazard_id\":\"%s\"}", id);
	assert_string_equal(result(f, "v4"), "ok");
	/* A second fire alarm soon after is a new incident, not a recurrence of a rectification. */
	char id2[HAZARD_ID_LEN];
	raise_fire(f, "smoke-3f", 60000, id2);
	assert_int_equal(ledger_hazard_get(f->l, id2, &h), 1);
	assert_string_equal(h.recurrence_of, "");
	assert_false(h.suspect_rectification);
	item_finish(&h);
	/* Never overdue. */
	assert_int_equal(ledger_begin(f->l), 0);
	/* The leak: overdue, its order and its acceptance too. */
	assert_int_equal(hazard_mark_overdue(f->l, &f->pol, T0 + 400LL * 24 * 3600 * 1000), 3);
	assert_int_equal(ledger_commit(f->l), 0);
}

/* Three false alarms of one detector within 30 days: a repeated_false_alarm hazard of that
 * detector (maintenance needed); a fourth updates it; another detector's do not count. */
static void test_false_alarms_become_a_hazard(void **state)
{
	struct fixture *f = *state;
	char id[HAZARD_ID_LEN], cmd[16];
	struct hazard h;

	for (int i = 0; i < 4; i++) {
		raise_fire(f, i == 1 ? "smoke-5f" : "smoke-3f", i * 86400000LL, id);
		snprintf(cmd, sizeof(cmd), "fa%d", i);
		apply(f, "{\"id\":\"%s\",\"type\":\"incident.verify\",\"hazard_id\":\"%s\","
		         "\"outcome\":\"false_alarm\",\"actor\":\"duty\"}", cmd, id);
		assert_string_equal(result(f, cmd), "ok");
		snprintf(cmd, sizeof(cmd), "cl%d", i);
		apply(f, "{\"id\":\"%s\",\"type\":\"hazard.close\",\"hazard_id\":\"%s\"}", cmd, id);
		if (i == 2)
			assert_int_equal(ledger_hazard_open_for(f->l, "smoke-3f", "smoke",
			                                        KIND_REPEATED_FALSE_ALARM, &h), 0);
	}
	/* smoke-3f: incidents 0, 2, 3 false within the window (smoke-5f's was 1). */
	assert_int_equal(ledger_hazard_open_for(f->l, "smoke-3f", "smoke", KIND_REPEATED_FALSE_ALARM, &h), 1);
	assert_int_equal(h.iclass, ICLASS_HAZARD);
	assert_true(h.value == 3);
	assert_true(h.deadline > 0);
	assert_string_equal(json_string_value(json_object_get(
	                        json_object_get(h.info, "false_alarms"), "last_incident")), id);
	assert_null(json_object_get(h.info, "verification"));
	item_finish(&h);
	assert_int_equal(ledger_hazard_open_for(f->l, "smoke-5f", "smoke", KIND_REPEATED_FALSE_ALARM, &h), 0);
}

static void test_impossible_changes_nothing(void **state)
{
	struct fixture *f = *state;
	struct hazard h;

	apply(f, "{\"id\":\"x1\",\"type\":\"hazard.reopen\",\"hazard_id\":\"%s\"}", f->id);
	assert_string_equal(result(f, "x1"), "hazard is not closed");
	apply(f, "{\"id\":\"x2\",\"type\":\"hazard.close\",\"hazard_id\":\"%s\"}", f->id);
	apply(f, "{\"id\":\"x3\",\"type\":\"hazard.close\",\"hazard_id\":\"%s\"}", f->id);
	assert_string_equal(result(f, "x3"), "hazard is already closed");
	apply(f, "{\"id\":\"x4\",\"type\":\"hazard.acknowledge\",\"hazard_id\":\"%s\"}", f->id);
	assert_string_equal(result(f, "x4"), "hazard is closed");
	apply(f, "{\"id\":\"x5\",\"type\":\"hazard.close\",\"hazard_id\":\"GW-T-999999\"}");
	assert_string_equal(result(f, "x5"), "unknown hazard");
	apply(f, "{\"id\":\"x6\",\"type\":\"hazard.explode\",\"hazard_id\":\"%s\"}", f->id);
	assert_string_equal(result(f, "x6"), "unknown command type");
	apply(f, "{\"id\":\"x7\",\"type\":\"hazard.close\"}");
	assert_string_equal(result(f, "x7"), "command needs type and hazard_id");
	/* No id: it cannot be answered, so it is not recorded at all. */
	apply(f, "{\"type\":\"hazard.reopen\",\"hazard_id\":\"%s\"}", f->id);
	item(f, &h);
	assert_int_equal(h.status, HSTATUS_CLOSED);
	item_finish(&h);
	/* raised + closed: none of the refused ones made an event. */
	assert_int_equal(ledger_event_count(f->l), 2);
}

static void test_applied_once(void **state)
{
	struct fixture *f = *state;

	apply(f, "{\"id\":\"c1\",\"type\":\"hazard.acknowledge\",\"hazard_id\":\"%s\"}", f->id);
	assert_int_equal(ledger_command_reported(f->l, "c1"), 0);
	assert_string_equal(result(f, "c1"), ""); /* reported: not sent again */
	/* The platform sends the same command again (it missed our result). */
	apply(f, "{\"id\":\"c1\",\"type\":\"hazard.acknowledge\",\"hazard_id\":\"%s\"}", f->id);
	assert_int_equal(ledger_event_count(f->l), 2); /* applied once */
	assert_string_equal(result(f, "c1"), "ok");    /* its result goes out again */
}

/* A JSON string of n bytes of 'x' (with its quotes: n + 2). */
static char *long_string(size_t n)
{
	char *s = malloc(n + 3);

	s[0] = '"';
	memset(s + 1, 'x', n);
	memcpy(s + 1 + n, "\"", 2);
	return s;
}

/* Issue 13: a field over HAZARD_CMD_FIELD_MAX, a type or hazard_id over its limit: refused
 * with a reason, nothing of the command stored in the item, no event. */
static void test_limits_refuse_and_store_nothing(void **state)
{
	struct fixture *f = *state;
	char *big = long_string(HAZARD_CMD_FIELD_MAX), *ok = long_string(HAZARD_CMD_FIELD_MAX - 2);
	char longtype[HAZARD_CMD_TYPE_MAX + 2], longid[HAZARD_ID_LEN + 1];
	struct hazard h;

	apply(f, "{\"id\":\"L1\",\"type\":\"hazard.assign\",\"hazard_id\":\"%s\",\"note\":%s}",
	      f->id, big);
	assert_string_equal(result(f, "L1"), "note is longer than 2048 bytes (2050)");
	apply(f, "{\"id\":\"L2\",\"type\":\"hazard.assign\",\"hazard_id\":\"%s\","
	      "\"measures\":{\"a\":%s}}", f->id, big);
	assert_string_equal(result(f, "L2"), "measures is longer than 2048 bytes (2056)");
	memset(longtype, 't', sizeof(longtype) - 1);
	longtype[sizeof(longtype) - 1] = '\0';
	apply(f, "{\"id\":\"L3\",\"type\":\"%s\",\"hazard_id\":\"%s\"}", longtype, f->id);
	assert_string_equal(result(f, "L3"), "type is longer than 64 bytes");
	memset(longid, 'h', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	apply(f, "{\"id\":\"L4\",\"type\":\"hazard.close\",\"hazard_id\":\"%s\"}", longid);
	assert_string_equal(result(f, "L4"), "hazard_id is longer than 79 bytes");
	item(f, &h);
	assert_int_equal(h.status, HSTATUS_OPEN);
	assert_null(json_object_get(h.info, "platform"));
	item_finish(&h);
	assert_int_equal(ledger_event_count(f->l), 1); /* raised only */
	/* At the limit: applied and stored. */
	apply(f, "{\"id\":\"L5\",\"type\":\"hazard.assign\",\"hazard_id\":\"%s\",\"note\":%s}",
	      f->id, ok);
	assert_string_equal(result(f, "L5"), "ok");
	item(f, &h);
	assert_int_equal(strlen(json_string_value(
	                     json_object_get(json_object_get(h.info, "platform"), "note"))),
	                 HAZARD_CMD_FIELD_MAX - 2);
	item_finish(&h);
	free(big);
	free(ok);
}

/* At most `max` commands of a reply are applied; the rest are neither applied nor stored. */
static void test_commands_per_reply_capped(void **state)
{
	struct fixture *f = *state;
	json_t *cmds = json_array();
	sqlite3_stmt *st;
	char id[32];

	for (int i = 0; i < HAZARD_CMDS_PER_REPLY + 50; i++) {
		snprintf(id, sizeof(id), "n%d", i);
		json_array_append_new(cmds, json_pack("{s:s, s:s, s:s}", "id", id, "type",
		                                      "hazard.reopen", "hazard_id", f->id));
	}
	assert_int_equal(ledger_begin(f->l), 0);
	assert_int_equal(hazard_apply_commands(f->l, &f->pol, cmds, HAZARD_CMDS_PER_REPLY, T0),
	                 HAZARD_CMDS_PER_REPLY);
	assert_int_equal(ledger_commit(f->l), 0);
	json_decref(cmds);
	assert_int_equal(sqlite3_prepare_v2(ledger_db(f->l), "SELECT count(*) FROM commands", -1,
	                                    &st, NULL),
	                 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), HAZARD_CMDS_PER_REPLY);
	sqlite3_finalize(st);
	/* One line for the first refusal, one for the count of the rest: not 150. */
	assert_int_equal(testutil_log_count("refused"), 2);
}

/* Applied commands are forgotten once reported and old, or beyond the newest `keep`. */
static void test_applied_commands_pruned(void **state)
{
	struct fixture *f = *state;

	apply(f, "{\"id\":\"old\",\"type\":\"hazard.acknowledge\",\"hazard_id\":\"%s\"}", f->id);
	apply(f, "{\"id\":\"waiting\",\"type\":\"hazard.reopen\",\"hazard_id\":\"%s\"}", f->id);
	assert_int_equal(ledger_command_reported(f->l, "old"), 0);
	assert_int_equal(ledger_command_prune(f->l, T0 + 2000, HAZARD_CMDS_KEEP), 0);
	assert_int_equal(ledger_command_seen(f->l, "old"), 0);     /* reported and old: gone */
	assert_int_equal(ledger_command_seen(f->l, "waiting"), 1); /* its result still waits */
}

/* An event whose JSON would be over LEDGER_EVENT_MAX goes without the free-form fields; one
 * already stored over the request limit is dead-lettered, never blocking the outbox. */
static void test_event_and_batch_bounded(void **state)
{
	struct fixture *f = *state;
	struct outbox_item *it;
	struct hazard h;
	size_t n;
	char *big = long_string(LEDGER_EVENT_MAX);

	item(f, &h);
	json_object_set_new(h.info, "platform", json_pack("{s:s}", "note", big));
	assert_int_equal(ledger_begin(f->l), 0);
	assert_int_equal(ledger_event_append(f->l, &h, "assigned", T0 + 10, NULL), 0);
	assert_int_equal(ledger_commit(f->l), 0);
	item_finish(&h);
	assert_int_equal(ledger_outbox_batch(f->l, "", 10, 1 << 20, &it, &n), 0);
	assert_int_equal(n, 2);
	assert_true(strlen(it[1].body) <= LEDGER_EVENT_MAX);
	assert_non_null(strstr(it[1].body, "\"truncated\":true"));
	assert_null(strstr(it[1].body, "xxxx"));
	ledger_outbox_free(it, n);
	/* A request limit below the raised event's size: it goes to dead letter, the other
	 * comes out. */
	assert_int_equal(ledger_outbox_batch(f->l, "", 10, 200, &it, &n), 0);
	ledger_outbox_free(it, n);
	assert_true(ledger_deadletter_count(f->l) >= 1);
	assert_int_equal(testutil_log_count("dead-letter table"), (int)ledger_deadletter_count(f->l));
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_regrade, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_roles_and_close_after_acceptance, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_required_fields_before_rectifying, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_supervise_and_defer, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_incident_verified_and_closed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_false_alarms_become_a_hazard, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_impossible_changes_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_applied_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_limits_refuse_and_store_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_commands_per_reply_capped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_applied_commands_pruned, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_event_and_batch_bounded, setup, teardown),
	};

	return cmocka_run_group_tests_name("commands", tests, NULL, NULL);
}
