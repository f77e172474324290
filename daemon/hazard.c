/* SPDX-License-Identifier: MIT */
/* hazard: item fields, JSON snapshots and the gateway's side of the lifecycle. */
#include "hazard.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "ledger.h"
#include "log.h"

/* When the condition last became present: escalation after a restart counts from here. */
static void hazard_set_active_since(struct hazard *h, int64_t wall_ms)
{
	char buf[32];

	clock_format_iso(wall_ms, buf, sizeof(buf));
	json_object_set_new(h->info, "active_since", json_string(buf));
	json_object_set_new(h->info, "active_since_ms", json_integer(wall_ms));
}

static int64_t hazard_deadline(const struct policy *p, enum grade g, int64_t from_ms)
{
	return from_ms + p->deadline_s[g] * 1000;
}

static void hazard_title(struct hazard *h, enum level l)
{
	const char *where = NULL;

	if (h->info)
		where = json_string_value(json_object_get(h->info, "location"));
	snprintf(h->title, sizeof(h->title), "%s%s%s at %s%s%s", h->test ? "TEST " : "",
	         kind_name(h->kind), l == LEVEL_PREALARM ? " pre-alarm" : "",
	         where && *where ? where : h->device, h->point[0] ? " / " : "", h->point);
}

/* Appends an event. While the kernel does not say the wall clock is synchronised, the event's
 * snapshot carries "time_quality" ("unsynchronised" or "unknown"): its `at` and times may be
 * wrong. It describes this event only, so it is never stored with the hazard itself. */
static int hazard_event_append_to(struct ledger *l, struct hazard *h, const char *type,
                                  int64_t wall_ms, const char *dest)
{
	const char *quality = clock_time_quality();
	int rc;

	if (!quality)
		return ledger_event_append_to(l, h, type, wall_ms, dest, NULL);
	if (!h->info)
		h->info = json_object();
	json_object_set_new(h->info, "time_quality", json_string(quality));
	rc = ledger_event_append_to(l, h, type, wall_ms, dest, NULL);
	json_object_del(h->info, "time_quality");
	return rc;
}

/* For every destination that wants it. */
static int hazard_event_append(struct ledger *l, struct hazard *h, const char *type,
                               int64_t wall_ms)
{
	return hazard_event_append_to(l, h, type, wall_ms, NULL);
}

static int hazard_record(struct ledger *l, struct hazard *h, const char *type, int64_t wall_ms,
                         bool insert)
{
	int rc = insert ? ledger_hazard_insert(l, h) : ledger_hazard_update(l, h);

	if (rc < 0)
		return rc;
	return hazard_event_append(l, h, type, wall_ms);
}

static int hazard_raise(struct ledger *l, const struct policy *p, const struct hazard_obs *o,
                        const struct hazard *prev, struct hazard *h)
{
	enum grade g = policy_grade(p, o->kind, o->level);

	item_init(h);
	snprintf(h->device, sizeof(h->device), "%s", o->device);
	snprintf(h->point, sizeof(h->point), "%s", o->point);
	snprintf(h->unit, sizeof(h->unit), "%s", o->unit ? o->unit : "");
	h->kind = o->kind;
	h->status = HSTATUS_OPEN;
	h->active = true;
	h->test = o->test;
	h->occurrences = 1;
	h->value = h->peak = o->value;
	h->threshold = o->threshold;
	h->first_seen = h->last_seen = o->wall_ms;
	h->info = o->info ? json_deep_copy(o->info) : json_object();
	json_object_set_new(h->info, "level", json_string(level_name(o->level)));
	hazard_set_active_since(h, o->wall_ms);
	if (prev) {
		/* Back within the window after a close: the rectification may not have held. */
		g = grade_up(g > prev->grade ? g : prev->grade);
		snprintf(h->recurrence_of, sizeof(h->recurrence_of), "%s", prev->id);
		h->suspect_rectification = true;
	}
	h->grade = g;
	h->deadline = hazard_deadline(p, g, o->wall_ms);
	hazard_title(h, o->level);
	return hazard_record(l, h, "raised", o->wall_ms, true);
}

int hazard_restarted(struct ledger *l, const struct policy *p, int64_t last_alive_ms,
                     int64_t restart_ms, json_t *info, struct hazard *out)
{
	struct hazard h;
	int rc;

	item_init(&h);
	snprintf(h.device, sizeof(h.device), "gateway");
	snprintf(h.point, sizeof(h.point), "alive");
	h.kind = KIND_GATEWAY_OUTAGE;
	h.grade = p->grade[KIND_GATEWAY_OUTAGE];
	h.status = HSTATUS_CLOSED;
	h.occurrences = 1;
	h.value = h.peak = h.threshold = NAN;
	h.first_seen = last_alive_ms > 0 ? last_alive_ms : restart_ms;
	h.last_seen = h.cleared_at = h.closed_at = restart_ms;
	h.info = info ? json_deep_copy(info) : json_object();
	json_object_set_new(h.info, "level", json_string(level_name(LEVEL_NONE)));
	json_object_set_new(h.info, "closed_by", json_string("gateway: restarted"));
	snprintf(h.title, sizeof(h.title), "gateway restarted after an unclean stop");
	rc = hazard_record(l, &h, "gateway_restarted", restart_ms, true);
	if (rc == 0 && out) {
		*out = h;
		return 0;
	}
	item_finish(&h);
	return rc;
}

int hazard_observe(struct ledger *l, const struct policy *p, const struct hazard_obs *o,
                   struct hazard *out, enum hazard_outcome *outcome)
{
	struct hazard h, prev;
	int rc;

	*outcome = HAZARD_NONE;
	rc = ledger_hazard_open_for(l, o->device, o->point, o->kind, &h);
	if (rc < 0)
		return rc;
	if (rc == 1) {
		bool back = !h.active;
		enum grade want = policy_grade(p, o->kind, o->level);

		h.last_seen = o->wall_ms;
		h.value = o->value;
		if (isnan(h.peak) || (o->below ? o->value < h.peak : o->value > h.peak))
			h.peak = o->value;
		if (back) {
			/* It was cleared and came back while the item is still open. */
			h.active = true;
			h.occurrences++;
			h.cleared_at = 0;
			hazard_set_active_since(&h, o->wall_ms);
			*outcome = HAZARD_RECURRED;
		}
		if (want > h.grade) {
			/* A pre-alarm that became an alarm, or an alarm past its high setpoint. */
			h.grade = want;
			h.threshold = o->threshold;
			json_object_set_new(h.info, "level", json_string(level_name(o->level)));
			hazard_title(&h, o->level);
			int64_t d = hazard_deadline(p, want, o->wall_ms);
			if (d < h.deadline)
				h.deadline = d;
			if (*outcome == HAZARD_NONE)
				*outcome = HAZARD_ESCALATED;
		}
		if (*outcome == HAZARD_RECURRED)
			rc = hazard_record(l, &h, "recurred", o->wall_ms, false);
		else if (*outcome == HAZARD_ESCALATED)
			rc = hazard_record(l, &h, "escalated", o->wall_ms, false);
		else
			rc = ledger_hazard_update(l, &h);
		if (rc == 0 && out)
			*out = h;
		else
			item_finish(&h);
		return rc;
	}

	bool have_prev = false;
	if (!o->test) {
		rc = ledger_hazard_last_closed(l, o->device, o->point, o->kind, &prev);
		if (rc < 0)
			return rc;
		have_prev = rc == 1 && prev.closed_at > 0 &&
		            o->wall_ms - prev.closed_at <= p->recurrence_s * 1000;
		if (rc == 1 && !have_prev)
			item_finish(&prev);
	}
	rc = hazard_raise(l, p, o, have_prev ? &prev : NULL, &h);
	if (have_prev)
		item_finish(&prev);
	*outcome = HAZARD_RAISED;
	if (rc == 0 && out)
		*out = h;
	else
		item_finish(&h);
	return rc;
}

int hazard_clear(struct ledger *l, const char *device, const char *point, enum kind kind,
                 int64_t wall_ms, bool autoclose, enum hazard_outcome *outcome)
{
	struct hazard h;
	int rc;

	*outcome = HAZARD_NONE;
	rc = ledger_hazard_open_for(l, device, point, kind, &h);
	if (rc <= 0)
		return rc;
	if (!h.active) {
		item_finish(&h);
		return 0;
	}
	h.active = false;
	h.cleared_at = wall_ms;
	rc = hazard_record(l, &h, "cleared", wall_ms, false);
	*outcome = HAZARD_CLEARED;
	if (rc == 0 && autoclose) {
		h.status = HSTATUS_CLOSED;
		h.closed_at = wall_ms;
		json_object_set_new(h.info, "closed_by",
		                    json_string("gateway: device back online"));
		rc = hazard_record(l, &h, "closed", wall_ms, false);
		*outcome = HAZARD_CLOSED;
	}
	item_finish(&h);
	return rc;
}

int hazard_silence(struct ledger *l, const char *device, const char *point, enum kind kind,
                   int64_t wall_ms)
{
	struct hazard h;
	char at[32];
	int rc = ledger_hazard_open_for(l, device, point, kind, &h);

	if (rc <= 0)
		return rc;
	if (!h.active) {
		item_finish(&h);
		return 0;
	}
	json_t *n = json_object_get(h.info, "silences");
	clock_format_iso(wall_ms, at, sizeof(at));
	json_object_set_new(h.info, "silenced_at", json_string(at));
	json_object_set_new(h.info, "silences",
	                    json_integer(json_is_integer(n) ? json_integer_value(n) + 1 : 1));
	rc = hazard_record(l, &h, "silenced", wall_ms, false);
	item_finish(&h);
	return rc < 0 ? rc : 1;
}

int hazard_escalate(struct ledger *l, const struct policy *p, const char *id, int64_t wall_ms)
{
	struct hazard h;
	int rc = ledger_hazard_get(l, id, &h);

	if (rc <= 0)
		return rc == 0 ? -ENOENT : rc;
	if (h.status == HSTATUS_CLOSED || h.grade == GRADE_IMMEDIATE) {
		item_finish(&h);
		return 0;
	}
	h.grade = grade_up(h.grade);
	h.escalations++;
	int64_t d = hazard_deadline(p, h.grade, wall_ms);
	if (d < h.deadline || h.deadline == 0)
		h.deadline = d;
	rc = hazard_record(l, &h, "escalated", wall_ms, false);
	item_finish(&h);
	return rc;
}

struct overdue_ctx {
	struct ledger *l;
	int64_t now;
	int count;
	int rc;
};

static int hazard_overdue_one(struct hazard *h, void *userdata)
{
	struct overdue_ctx *c = userdata;

	if (h->overdue || h->deadline <= 0 || h->deadline > c->now)
		return 0;
	h->overdue = true;
	c->rc = hazard_record(c->l, h, "overdue", c->now, false);
	if (c->rc < 0)
		return c->rc;
	c->count++;
	return 0;
}

int hazard_mark_overdue(struct ledger *l, int64_t wall_ms)
{
	struct overdue_ctx c = {.l = l, .now = wall_ms};
	int rc = ledger_hazard_foreach_open(l, false, hazard_overdue_one, &c);

	if (rc < 0)
		return rc;
	return c.rc < 0 ? c.rc : c.count;
}

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

/* What a command does to an item: the new status and the event that records it, or a reason
 * why it cannot. */
static const char *hazard_command_check(const char *type, const struct hazard *h, enum hstatus *to,
                                        const char **event)
{
	bool closed = h->status == HSTATUS_CLOSED;

	if (strcmp(type, "hazard.acknowledge") == 0) {
		*to = HSTATUS_ACKNOWLEDGED;
		*event = "acknowledged";
		if (closed)
			return "hazard is closed";
		return h->status == HSTATUS_OPEN ? NULL : "hazard was acknowledged before";
	}
	if (strcmp(type, "hazard.assign") == 0) {
		*to = HSTATUS_RECTIFYING;
		*event = "assigned";
		if (closed)
			return "hazard is closed";
		return h->status == HSTATUS_PENDING_ACCEPTANCE ? "hazard is pending acceptance"
		                                               : NULL;
	}
	if (strcmp(type, "hazard.accept") == 0) {
		*to = HSTATUS_PENDING_ACCEPTANCE;
		*event = "accepted";
		if (closed)
			return "hazard is closed";
		return h->status == HSTATUS_PENDING_ACCEPTANCE ? "hazard was accepted before"
		                                               : NULL;
	}
	if (strcmp(type, "hazard.close") == 0) {
		*to = HSTATUS_CLOSED;
		*event = "closed";
		return closed ? "hazard is already closed" : NULL;
	}
	if (strcmp(type, "hazard.reopen") == 0) {
		*to = HSTATUS_OPEN;
		*event = "reopened";
		return closed ? NULL : "hazard is not closed";
	}
	return "unknown command type";
}

/* The platform's free-form fields of a command, each stored in the item's info.platform and
 * so copied into every later event of the item: each is bounded (HAZARD_CMD_FIELD_MAX). */
static const char *const hazard_cmd_fields[] = {"assignee", "measures", "funds", "plan",
                                                "acceptor", "note",     "deadline"};

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

/* The transition a valid command makes, with its event. */
static int hazard_command_transition(struct ledger *l, const struct policy *p, json_t *cmd,
                                     const char *id, struct hazard *h, enum hstatus to,
                                     const char *event, int64_t wall_ms)
{
	json_t *pf = json_object_get(h->info, "platform");

	if (!json_is_object(pf)) {
		pf = json_object();
		json_object_set_new(h->info, "platform", pf);
	}
	for (size_t i = 0; i < sizeof(hazard_cmd_fields) / sizeof(hazard_cmd_fields[0]); i++) {
		json_t *v = json_object_get(cmd, hazard_cmd_fields[i]);

		if (v && strcmp(hazard_cmd_fields[i], "deadline") != 0)
			json_object_set(pf, hazard_cmd_fields[i], v);
	}
	const char *dl = json_string_value(json_object_get(cmd, "deadline"));
	int64_t d = hazard_parse_iso(dl);
	if (dl && d > 0)
		h->deadline = d;
	h->status = to;
	if (to == HSTATUS_CLOSED) {
		h->closed_at = wall_ms;
	} else if (strcmp(event, "reopened") == 0) {
		h->closed_at = 0;
		h->overdue = false;
		h->deadline = hazard_deadline(p, h->grade, wall_ms);
	}
	json_object_set_new(h->info, "last_command", json_string(id));
	return hazard_record(l, h, event, wall_ms, false);
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
		reason = hazard_command_check(type, &h, &to, &event);
		if (!reason)
			rc = hazard_command_transition(l, p, cmd, id, &h, to, event, wall_ms);
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

struct hazard_resync_ctx {
	struct ledger *l;
	const char *dest;
	int64_t now;
	int count;
};

static int hazard_resync_one(struct hazard *h, void *userdata)
{
	struct hazard_resync_ctx *x = userdata;
	int rc = ledger_resync_pending(x->l, x->dest, h->id);

	if (rc != 0)
		return rc < 0 ? rc : 0;
	rc = hazard_event_append_to(x->l, h, "resync", x->now, x->dest);
	if (rc == 0)
		x->count++;
	return rc;
}

int hazard_resync_all(struct ledger *l, const char *dest, int64_t wall_ms)
{
	struct hazard_resync_ctx x = {l, dest, wall_ms, 0};
	bool own = !ledger_in_transaction(l);
	int rc = own ? ledger_begin(l) : 0;

	if (rc < 0)
		return rc;
	rc = ledger_hazard_foreach_open(l, false, hazard_resync_one, &x);
	if (!own)
		return rc < 0 ? rc : x.count;
	if (rc < 0) {
		ledger_rollback(l);
		return rc;
	}
	rc = ledger_commit(l);
	if (rc == 0 && x.count > 0)
		log_info("platform uplink%s%s: resync of %d open item(s) queued", *dest ? " " : "",
		         dest, x.count);
	return rc < 0 ? rc : x.count;
}
