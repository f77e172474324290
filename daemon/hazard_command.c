/* SPDX-License-Identifier: MIT */
/* hazard_command: the platform's side of an item's lifecycle. Each command (acknowledge,
 * assign, accept, close, reopen, regrade; incident.verify for a 警情) is checked against the
 * item and the limits of a hostile peer, applied in the caller's transaction with its event,
 * and its result remembered so that a command sent again is answered, never applied twice. */
#include "hazard.h"
#include "hazard_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "jsonfmt.h"
#include "ledger.h"
#include "log.h"

static int64_t hazard_parse_iso(const char *s)
{
	struct tm tm;
	int ms = 0;
	char *end;

	memset(&tm, 0, sizeof(tm));
	if (!s || !(end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)))
		return -1;
	if (*end == '.') {
		ms = (int)strtol(end + 1, &end, 10);
		while (ms >= 1000)
			ms /= 10;
	}
	if (*end != 'Z' && *end != '\0')
		return -1;
	return (int64_t)timegm(&tm) * 1000 + ms;
}

/* What a duty officer found a 警情 to be (核警). */
static const char *const hazard_outcomes[] = {"real_fire", "false_alarm", "test", "unknown", NULL};

static bool hazard_outcome_valid(const char *s)
{
	for (size_t i = 0; s && hazard_outcomes[i]; i++)
		if (strcmp(s, hazard_outcomes[i]) == 0)
			return true;
	return false;
}

/* The commands a platform sends, and the step of the closed loop each takes. */
static const struct {
	const char *type;
	enum policy_step step;
} hazard_cmd_types[] = {
    {"hazard.acknowledge", STEP_ACKNOWLEDGE}, {"hazard.assign", STEP_ASSIGN},
    {"hazard.accept", STEP_ACCEPT},           {"hazard.submit", STEP_ACCEPT},
    {"hazard.acceptance", STEP_ACCEPTANCE},   {"hazard.close", STEP_CLOSE},
    {"hazard.reopen", STEP_REOPEN},           {"hazard.regrade", STEP_REGRADE},
    {"incident.verify", STEP_VERIFY},         {"hazard.supervise", STEP_SUPERVISE},
    {"hazard.defer", STEP_DEFER},
};

static int hazard_command_step(const char *type)
{
	for (size_t i = 0; i < sizeof(hazard_cmd_types) / sizeof(hazard_cmd_types[0]); i++)
		if (strcmp(type, hazard_cmd_types[i].type) == 0)
			return (int)hazard_cmd_types[i].step;
	return -1;
}

static const char *hazard_cmd_str(json_t *cmd, const char *key)
{
	return json_string_value(json_object_get(cmd, key));
}

/* What a command does to an item: the new status and the event that records it, or a reason
 * why it cannot. */
static const char *hazard_command_check(enum policy_step step, json_t *cmd, const struct hazard *h,
                                        enum hstatus *to, const char **event)
{
	bool closed = h->status == HSTATUS_CLOSED;
	bool incident = h->iclass == ICLASS_INCIDENT;
	const char *s;

	*to = h->status;
	if (incident && (step == STEP_ASSIGN || step == STEP_ACCEPT || step == STEP_ACCEPTANCE ||
	                 step == STEP_SUPERVISE || step == STEP_DEFER))
		return "an incident is verified and closed, not rectified";
	switch (step) {
	case STEP_VERIFY:
		*to = HSTATUS_ACKNOWLEDGED;
		*event = "verified";
		if (!incident)
			return "only an incident is verified; this item is a hazard";
		if (closed)
			return "incident is closed";
		return hazard_outcome_valid(hazard_cmd_str(cmd, "outcome"))
		           ? NULL
		           : "outcome must be one of real_fire, false_alarm, test, unknown";
	case STEP_ACKNOWLEDGE:
		*to = HSTATUS_ACKNOWLEDGED;
		*event = "acknowledged";
		if (closed)
			return "hazard is closed";
		return h->status == HSTATUS_OPEN ? NULL : "hazard was acknowledged before";
	case STEP_ASSIGN:
		*to = HSTATUS_RECTIFYING;
		*event = "assigned";
		if (closed)
			return "hazard is closed";
		return h->status == HSTATUS_PENDING_ACCEPTANCE ? "hazard is pending acceptance" : NULL;
	case STEP_ACCEPT:
		*to = HSTATUS_PENDING_ACCEPTANCE;
		*event = "accepted";
		if (closed)
			return "hazard is closed";
		return h->status == HSTATUS_PENDING_ACCEPTANCE ? "hazard was accepted before" : NULL;
	case STEP_ACCEPTANCE:
		s = hazard_cmd_str(cmd, "result");
		if (closed)
			return "hazard is closed";
		if (h->status != HSTATUS_PENDING_ACCEPTANCE)
			return "hazard is not pending acceptance (hazard.submit first)";
		if (!s || (strcmp(s, "passed") != 0 && strcmp(s, "failed") != 0))
			return "result must be passed or failed";
		*to = strcmp(s, "passed") == 0 ? HSTATUS_PENDING_ACCEPTANCE : HSTATUS_RECTIFYING;
		*event = strcmp(s, "passed") == 0 ? "acceptance_passed" : "acceptance_failed";
		return NULL;
	case STEP_CLOSE:
		*to = HSTATUS_CLOSED;
		*event = "closed";
		return closed ? "hazard is already closed" : NULL;
	case STEP_REGRADE:
		*event = "regraded";
		if (closed)
			return "hazard is closed";
		return grade_from_name(hazard_cmd_str(cmd, "grade")) < 0
		           ? "grade must be one of immediate, major, significant, general"
		           : NULL;
	case STEP_REOPEN:
		*to = HSTATUS_OPEN;
		*event = "reopened";
		return closed ? NULL : "hazard is not closed";
	case STEP_SUPERVISE:
		*event = "supervised";
		if (closed)
			return "hazard is closed";
		s = hazard_cmd_str(cmd, "office");
		return s && *s ? NULL : "supervise needs office (the supervising office)";
	case STEP_DEFER: {
		*event = "deferred";
		if (closed)
			return "hazard is closed";
		s = hazard_cmd_str(cmd, "reason");
		int64_t d = hazard_parse_iso(hazard_cmd_str(cmd, "deadline"));
		if (!s || !*s || d <= h->deadline)
			return "defer needs a written reason and a new deadline later than the current "
			       "one";
		return NULL;
	}
	case STEP_COUNT:
		break;
	}
	return "unknown command type";
}

/* The platform's free-form fields of a command, each stored in the item's info.platform and
 * so copied into every later event of the item (the 五定: responsible, department, measures,
 * funds, deadline, contingency_plan, plus target and interim_measures; who acted: actor, role),
 * then the fields a command acts on, kept where it acts; each is bounded
 * (HAZARD_CMD_FIELD_MAX). */
static const char *const hazard_cmd_fields[] = {
    "assignee", "measures",         "funds",  "plan",   "acceptor",         "note",
    "actor",    "role",             "reason", "responsible", "department", "contingency_plan",
    "target",   "interim_measures",
    /* not copied: */
    "deadline", "grade", "outcome", "result", "force", "office", "order_number",
    "report_before_close", "report",
};
#define HAZARD_CMD_COPIED 14

/* Why the command's strings or fields break a limit, or NULL. */
static const char *hazard_command_limits(json_t *cmd, const char *type, const char *hid, char *why,
                                         size_t whylen)
{
	if (type && strlen(type) > HAZARD_CMD_TYPE_MAX)
		return "type is longer than 64 bytes";
	if (hid && strlen(hid) >= HAZARD_ID_LEN)
		return "hazard_id is longer than 79 bytes";
	for (size_t i = 0; i < sizeof(hazard_cmd_fields) / sizeof(hazard_cmd_fields[0]); i++) {
		json_t *v = json_object_get(cmd, hazard_cmd_fields[i]);
		size_t n = v ? json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY) : 0;

		if (n > HAZARD_CMD_FIELD_MAX) {
			snprintf(why, whylen, "%s is longer than %d bytes (%zu)", hazard_cmd_fields[i],
			         HAZARD_CMD_FIELD_MAX, n);
			return why;
		}
	}
	return NULL;
}

/* What a command records of who acted: `o` gets "at" and the command's fields `keys` (NULL
 * ended) it has, and goes into the item's info under `name`. */
static void hazard_command_note(json_t *cmd, struct hazard *h, const char *name, json_t *o,
                                const char *const *keys, int64_t wall_ms)
{
	char at[32];

	clock_format_iso(wall_ms, at, sizeof(at));
	json_object_set_new(o, "at", json_string(at));
	for (; *keys; keys++) {
		json_t *v = json_object_get(cmd, *keys);
		if (v)
			json_object_set(o, *keys, v);
	}
	json_object_set_new(h->info, name, o);
}

/* hazard.regrade: the county's grade, who gave it and why (info.regraded); a suggestion it
 * answers is gone. A graver grade may bring the deadline nearer, never later. */
static void hazard_regrade(const struct policy *p, json_t *cmd, struct hazard *h, int64_t wall_ms)
{
	static const char *const keys[] = {"actor", "role", "reason", NULL};
	enum grade to = (enum grade)grade_from_name(json_string_value(json_object_get(cmd, "grade")));

	hazard_command_note(cmd, h, "regraded",
	                    json_pack("{s:s, s:s}", "from", grade_name(h->grade), "to", grade_name(to)),
	                    keys, wall_ms);
	json_object_del(h->info, "escalation_suggested");
	if (to > h->grade) {
		int64_t d = hazard_deadline(p, h, to, wall_ms);
		if (d > 0 && (d < h->deadline || h->deadline == 0))
			h->deadline = d;
	}
	h->grade = to;
}

/* incident.verify: the outcome, who verified it and when (info.verification). */
static void hazard_command_verification(json_t *cmd, struct hazard *h, int64_t wall_ms)
{
	static const char *const keys[] = {"actor", "role", "note", NULL};

	hazard_command_note(cmd, h, "verification",
	                    json_pack("{s:O}", "outcome", json_object_get(cmd, "outcome")), keys,
	                    wall_ms);
}

/* What the other steps record beyond the status: the acceptance's result (验收), a forced
 * close's reason, the supervision (挂牌督办), each deferral (无法按期整改). */
static void hazard_command_record_step(enum policy_step step, json_t *cmd, struct hazard *h,
                                       int64_t wall_ms)
{
	static const char *const acceptance[] = {"result", "actor", "role", "note", NULL};
	static const char *const forced[] = {"actor", "role", "reason", NULL};
	static const char *const supervision[] = {"office", "order_number", "report_before_close",
	                                          "actor", "role", "note", NULL};
	static const char *const deferral[] = {"reason", "actor", "role", NULL};

	if (step == STEP_ACCEPTANCE) {
		hazard_command_note(cmd, h, "acceptance", json_object(), acceptance, wall_ms);
	} else if (step == STEP_CLOSE) {
		json_t *report = json_object_get(cmd, "report");
		json_t *sv = json_object_get(h->info, "supervision");
		if (report && json_is_object(sv))
			json_object_set(sv, "report", report);
		if (json_is_true(json_object_get(cmd, "force")))
			hazard_command_note(cmd, h, "forced_close", json_object(), forced, wall_ms);
	} else if (step == STEP_SUPERVISE) {
		hazard_command_note(cmd, h, "supervision", json_object(), supervision, wall_ms);
	} else if (step == STEP_DEFER) {
		json_t *list = json_object_get(h->info, "deferrals");
		json_t *d = json_pack("{s:o}", "from", jsonfmt_time(h->deadline));

		json_object_set(d, "to", json_object_get(cmd, "deadline"));
		if (!json_is_array(list)) {
			list = json_array();
			json_object_set_new(h->info, "deferrals", list);
		}
		json_incref(list);
		hazard_command_note(cmd, h, "last_deferral", d, deferral, wall_ms);
		json_array_append(list, d);
		json_decref(list);
	}
}

/* The false-alarm rule: a detector whose incidents were verified false `false_alarm_limit`
 * times within the window needs maintenance, a hazard of its own (repeated_false_alarm) with
 * the count as its value; while that item is open a further false alarm updates it. */
static int hazard_command_false_alarms(struct ledger *l, const struct policy *p,
                                       const struct hazard *inc, int64_t wall_ms)
{
	static const char *const drop[] = {
	    "platform", "verification", "last_command", "level", "active_since", "active_since_ms",
	    "escalation_suggested", "regraded", "worsened", "worsen_band", "silenced_at", "silences",
	    "time_quality", NULL};

	if (p->false_alarm_limit <= 0 || inc->test)
		return 0;
	int64_t n = ledger_false_alarms_since(l, inc->device, wall_ms - p->false_alarm_window_s * 1000);
	if (n < 0)
		return (int)n;
	if (n < p->false_alarm_limit)
		return 0;
	json_t *info = json_deep_copy(inc->info);
	for (size_t i = 0; drop[i]; i++)
		json_object_del(info, drop[i]);
	json_object_set_new(info, "false_alarms",
	                    json_pack("{s:I, s:I, s:s}", "count", (json_int_t)n, "window_s",
	                              (json_int_t)p->false_alarm_window_s, "last_incident", inc->id));
	struct hazard_obs o = {
	    .device = inc->device,
	    .point = inc->point,
	    .kind = KIND_REPEATED_FALSE_ALARM,
	    .level = LEVEL_ALARM,
	    .value = (double)n,
	    .threshold = p->false_alarm_limit,
	    .unit = "",
	    .wall_ms = wall_ms,
	    .info = info,
	};
	enum hazard_outcome out;
	int rc = hazard_observe(l, p, &o, NULL, &out);
	json_decref(info);
	if (rc == 0 && out == HAZARD_RAISED)
		log_notice("device '%s': %lld false alarms in %lld days: a repeated_false_alarm hazard "
		           "was raised (maintenance needed)",
		           inc->device, (long long)n, (long long)(p->false_alarm_window_s / 86400));
	return rc;
}

/* The transition a valid command makes, with its event. */
static int hazard_command_transition(struct ledger *l, const struct policy *p, json_t *cmd,
                                     const char *id, struct hazard *h, enum policy_step step,
                                     enum hstatus to, const char *event, int64_t wall_ms)
{
	json_t *pf = json_object_get(h->info, "platform");

	if (!json_is_object(pf)) {
		pf = json_object();
		json_object_set_new(h->info, "platform", pf);
	}
	for (size_t i = 0; i < HAZARD_CMD_COPIED; i++) {
		json_t *v = json_object_get(cmd, hazard_cmd_fields[i]);

		if (v)
			json_object_set(pf, hazard_cmd_fields[i], v);
	}
	if (step == STEP_VERIFY)
		hazard_command_verification(cmd, h, wall_ms);
	else if (step == STEP_REGRADE)
		hazard_regrade(p, cmd, h, wall_ms);
	else
		hazard_command_record_step(step, cmd, h, wall_ms);
	const char *dl = json_string_value(json_object_get(cmd, "deadline"));
	int64_t d = hazard_parse_iso(dl);
	if (dl && d > 0 && h->iclass != ICLASS_INCIDENT) {
		h->deadline = d;
		h->overdue = false;
		json_object_set_new(h->info, "deadline_by_platform", json_true());
	}
	h->status = to;
	if (to == HSTATUS_CLOSED) {
		h->closed_at = wall_ms;
	} else if (strcmp(event, "reopened") == 0) {
		/* A new round of the loop: the old acceptance and the stages' overdue no longer
		 * hold. */
		json_object_del(h->info, "acceptance");
		json_object_del(h->info, "stages_overdue");
		h->closed_at = 0;
		h->overdue = false;
		h->deadline = hazard_deadline(p, h, h->grade, wall_ms);
	}
	json_object_set_new(h->info, "last_command", json_string(id));
	int rc = hazard_record(l, h, event, wall_ms, false);
	const char *outcome = json_string_value(json_object_get(cmd, "outcome"));
	if (rc == 0 && step == STEP_VERIFY && strcmp(outcome, "false_alarm") == 0)
		rc = hazard_command_false_alarms(l, p, h, wall_ms);
	return rc;
}

int hazard_apply_command(struct ledger *l, const struct policy *p, json_t *cmd, int64_t wall_ms,
                         char *why, size_t whylen)
{
	const char *id = json_string_value(json_object_get(cmd, "id"));
	const char *type = json_string_value(json_object_get(cmd, "type"));
	const char *hid = json_string_value(json_object_get(cmd, "hazard_id"));
	const char *reason = NULL, *event = NULL;
	enum hstatus to = HSTATUS_OPEN;
	struct hazard h;
	int rc;

	if (!id || !*id || strlen(id) > HAZARD_CMD_ID_MAX) {
		snprintf(why, whylen, "no usable id (a string of 1 to %d bytes)", HAZARD_CMD_ID_MAX);
		return 2;
	}
	rc = ledger_command_seen(l, id);
	if (rc < 0)
		return rc;
	if (rc == 1)
		return ledger_command_again(l, id); /* applied once; its result goes out again */
	if (!type || !hid) {
		reason = "command needs type and hazard_id";
	} else if ((reason = hazard_command_limits(cmd, type, hid, why, whylen))) {
		/* nothing of it is stored but the refusal, its strings cut below */
	} else if ((rc = ledger_hazard_get(l, hid, &h)) < 0) {
		return rc;
	} else if (rc == 0) {
		reason = "unknown hazard";
	} else {
		int step = hazard_command_step(type);

		reason = step < 0 ? "unknown command type"
		                  : hazard_command_check((enum policy_step)step, cmd, &h, &to, &event);
		if (!reason)
			reason = hazard_policy_refuses(p, (enum policy_step)step, cmd, &h, why, whylen);
		if (!reason)
			rc = hazard_command_transition(l, p, cmd, id, &h, (enum policy_step)step, to,
			                               event, wall_ms);
		item_finish(&h);
		if (rc < 0)
			return rc;
	}
	if (reason && reason != why)
		snprintf(why, whylen, "%s", reason);
	/* Only strings within the limits reach the table: a refused type or hazard_id is
	 * remembered cut to its limit. */
	char t[HAZARD_CMD_TYPE_MAX + 1], hi[HAZARD_ID_LEN];
	snprintf(t, sizeof(t), "%s", type ? type : "");
	snprintf(hi, sizeof(hi), "%s", hid ? hid : "");
	rc = ledger_command_record(l, id, t, hi, reason == NULL, reason ? why : NULL, wall_ms);
	return rc < 0 ? rc : reason != NULL;
}

int hazard_apply_commands(struct ledger *l, const struct policy *p, json_t *cmds, size_t max,
                          int64_t wall_ms)
{
	size_t i, done = 0, refused = 0, unusable = 0, over = 0;
	char why[192];
	json_t *c;
	int rc = 0;

	json_array_foreach(cmds, i, c)
	{
		if (done >= max) {
			over = json_array_size(cmds) - i;
			break;
		}
		rc = hazard_apply_command(l, p, c, wall_ms, why, sizeof(why));
		if (rc < 0)
			return rc;
		done++;
		if (rc == 2 && unusable++ == 0)
			log_warn("platform command ignored: %s; it could not be answered", why);
		if (rc == 1 && refused++ == 0) {
			const char *type = json_string_value(json_object_get(c, "type"));
			const char *hid = json_string_value(json_object_get(c, "hazard_id"));

			log_warn("platform command %.128s (%.64s %.79s) refused: %s",
			         json_string_value(json_object_get(c, "id")), type ? type : "?",
			         hid ? hid : "?", why);
		}
	}
	if (refused > 1 || unusable > 1 || over > 0)
		log_warn("platform: of one reply's commands, %zu more refused and %zu more without "
		         "a usable id (not logged one by one), %zu over the limit of %zu ignored "
		         "(the platform sends them again until their results come back)",
		         refused > 1 ? refused - 1 : 0, unusable > 1 ? unusable - 1 : 0, over, max);
	if (done > 0 &&
	    (rc = ledger_command_prune(l, wall_ms - HAZARD_CMDS_KEEP_MS, HAZARD_CMDS_KEEP)) < 0)
		return rc;
	return (int)done;
}
