/* SPDX-License-Identifier: MIT */
/* hazard: the gateway's side of an item's lifecycle: raise, recur, worsen, clear, silence,
 * escalate (or suggest it), overdue, resync. The platform's side is hazard_command.c. */
#include "hazard.h"
#include "hazard_int.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "i18n.h"
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

int64_t hazard_deadline(const struct policy *p, const struct hazard *h, enum grade g,
                        int64_t from_ms)
{
	if (h->iclass == ICLASS_INCIDENT)
		return 0; /* verified and closed, never rectified by a date */
	if (p->deadline_wd[g] > 0)
		return policy_span_end(p, (struct policy_span){p->deadline_wd[g], true}, from_ms);
	return from_ms + p->deadline_s[g] * 1000;
}

static void hazard_title(struct hazard *h, enum level l)
{
	const char *where = NULL;

	if (h->info)
		where = json_string_value(json_object_get(h->info, "location"));
	/* In the gateway's language (gateway.language): the platform shows it to people. */
	snprintf(h->title, sizeof(h->title), _("%s%s%s at %s%s%s"), h->test ? _("TEST ") : "",
	         i18n_word("kind", kind_name(h->kind)), l == LEVEL_PREALARM ? _(" pre-alarm") : "",
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

int hazard_record(struct ledger *l, struct hazard *h, const char *type, int64_t wall_ms,
                  bool insert)
{
	int rc = insert ? ledger_hazard_insert(l, h) : ledger_hazard_update(l, h);

	if (rc < 0)
		return rc;
	return hazard_event_append(l, h, type, wall_ms);
}

/* A higher grade for the county to decide on: `escalation_suggested` in the item's info. */
static void hazard_suggest(struct hazard *h, enum grade g, const char *reason, int64_t wall_ms)
{
	char at[32];

	clock_format_iso(wall_ms, at, sizeof(at));
	json_object_set_new(h->info, "escalation_suggested",
	                    json_pack("{s:s, s:s, s:s}", "grade", grade_name(g), "reason", reason,
	                              "at", at));
}

bool hazard_escalation_done(const struct hazard *h)
{
	json_t *s = json_object_get(h->info, "escalation_suggested");
	const char *why = json_string_value(json_object_get(s, "reason"));

	return h->escalations > 0 || (why && strcmp(why, "persisted") == 0);
}

/* Where the value stands among the kind's worsening bands, as of now: the bands already
 * reached when an occurrence begins are not news. */
static void hazard_set_band(const struct policy *p, struct hazard *h, const struct hazard_obs *o)
{
	if (o->below || p->nworsen_bands[o->kind] == 0)
		return;
	json_object_set_new(h->info, "worsen_band",
	                    json_integer(policy_worsen_band(p, o->kind, o->value)));
}

/* The value crossed a band it had not reached in this occurrence: 1 (recorded in info), or 0. */
static int hazard_worsened(const struct policy *p, struct hazard *h, const struct hazard_obs *o)
{
	if (o->below || p->nworsen_bands[o->kind] == 0)
		return 0;
	int band = policy_worsen_band(p, o->kind, o->value);
	json_int_t was = json_integer_value(json_object_get(h->info, "worsen_band"));
	if (band <= was)
		return 0;
	char at[32];
	clock_format_iso(o->wall_ms, at, sizeof(at));
	json_object_set_new(h->info, "worsen_band", json_integer(band));
	json_object_set_new(h->info, "worsened",
	                    json_pack("{s:f, s:f, s:s}", "band", p->worsen_band[o->kind][band - 1],
	                              "value", o->value, "at", at));
	return 1;
}

static int hazard_raise(struct ledger *l, const struct policy *p, const struct hazard_obs *o,
                        const struct hazard *prev, struct hazard *h)
{
	enum grade g = policy_grade(p, o->kind, o->level);

	item_init(h);
	h->iclass = p->incident[o->kind] ? ICLASS_INCIDENT : ICLASS_HAZARD;
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
	hazard_set_band(p, h, o);
	if (prev) {
		/* Back within the window after a close: the rectification may not have held. The
		 * county decides whether that makes it graver, unless it let the gateway decide. */
		enum grade up = grade_up(g > prev->grade ? g : prev->grade);
		snprintf(h->recurrence_of, sizeof(h->recurrence_of), "%s", prev->id);
		h->suspect_rectification = true;
		if (p->auto_regrade)
			g = up;
		else if (up > g)
			hazard_suggest(h, up, "recurred_after_close", o->wall_ms);
	}
	h->grade = g;
	h->deadline = hazard_deadline(p, h, g, o->wall_ms);
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
			hazard_set_band(p, &h, o);
			*outcome = HAZARD_RECURRED;
		}
		if (want > h.grade) {
			/* A pre-alarm that became an alarm, or an alarm past its high setpoint. */
			h.grade = want;
			h.threshold = o->threshold;
			json_object_set_new(h.info, "level", json_string(level_name(o->level)));
			hazard_title(&h, o->level);
			int64_t d = hazard_deadline(p, &h, want, o->wall_ms);
			if (d < h.deadline)
				h.deadline = d;
			if (*outcome == HAZARD_NONE)
				*outcome = HAZARD_ESCALATED;
		}
		if (hazard_worsened(p, &h, o) && *outcome == HAZARD_NONE)
			*outcome = HAZARD_WORSENED;
		if (*outcome == HAZARD_WORSENED)
			rc = hazard_record(l, &h, "worsened", o->wall_ms, false);
		else if (*outcome == HAZARD_RECURRED)
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
	/* An incident is a new 警情 each time: its repeats are the false-alarm rule's business. */
	if (!o->test && !p->incident[o->kind]) {
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
	if (h.status == HSTATUS_CLOSED || h.grade == GRADE_IMMEDIATE || h.iclass == ICLASS_INCIDENT) {
		item_finish(&h);
		return 0;
	}
	if (!p->auto_regrade) {
		/* Persisted this long: the county may want it graver; it says so (hazard.regrade). */
		hazard_suggest(&h, grade_up(h.grade), "persisted", wall_ms);
		json_object_set_new(json_object_get(h.info, "escalation_suggested"), "after_s",
		                    json_integer(p->escalate_s[h.kind]));
		rc = hazard_record(l, &h, "escalation_suggested", wall_ms, false);
		item_finish(&h);
		return rc;
	}
	h.grade = grade_up(h.grade);
	h.escalations++;
	int64_t d = hazard_deadline(p, &h, h.grade, wall_ms);
	if (d < h.deadline || h.deadline == 0)
		h.deadline = d;
	rc = hazard_record(l, &h, "escalated", wall_ms, false);
	item_finish(&h);
	return rc;
}

struct overdue_ctx {
	struct ledger *l;
	const struct policy *p;
	int64_t now;
	int count;
	int rc;
};

/* A stage past its own limit (the order after registration, the acceptance after the
 * deadline): one `<stage>_overdue` event, remembered in info.stages_overdue. Returns 1 if
 * recorded. */
static int hazard_stage_overdue(struct overdue_ctx *c, struct hazard *h, const char *stage,
                                int64_t due)
{
	json_t *done = json_object_get(h->info, "stages_overdue");
	char event[32], at[32];

	if (due <= 0 || due > c->now || json_object_get(done, stage))
		return 0;
	if (!json_is_object(done)) {
		done = json_object();
		json_object_set_new(h->info, "stages_overdue", done);
	}
	clock_format_iso(due, at, sizeof(at));
	json_object_set_new(done, stage, json_string(at));
	snprintf(event, sizeof(event), "%s_overdue", stage);
	c->rc = hazard_record(c->l, h, event, c->now, false);
	return c->rc < 0 ? c->rc : 1;
}

static int hazard_overdue_one(struct hazard *h, void *userdata)
{
	struct overdue_ctx *c = userdata;
	const struct policy *p = c->p;
	int rc;

	if (h->iclass == ICLASS_INCIDENT || h->test)
		return 0;
	/* The order (整改通知: the item assigned) within its limit of registration. */
	if (h->status == HSTATUS_OPEN || h->status == HSTATUS_ACKNOWLEDGED) {
		rc = hazard_stage_overdue(c, h, "order",
		                          policy_span_end(p, p->order_within, h->first_seen));
		if (rc < 0)
			return rc;
		c->count += rc;
	}
	/* The acceptance within its limit after the rectification deadline. */
	const char *acc = json_string_value(
	    json_object_get(json_object_get(h->info, "acceptance"), "result"));
	if (h->deadline > 0 && !(acc && strcmp(acc, "passed") == 0)) {
		rc = hazard_stage_overdue(c, h, "acceptance",
		                          policy_span_end(p, p->acceptance_within, h->deadline));
		if (rc < 0)
			return rc;
		c->count += rc;
	}
	if (h->overdue || h->deadline <= 0 || h->deadline > c->now)
		return 0;
	h->overdue = true;
	c->rc = hazard_record(c->l, h, "overdue", c->now, false);
	if (c->rc < 0)
		return c->rc;
	c->count++;
	return 0;
}

int hazard_mark_overdue(struct ledger *l, const struct policy *p, int64_t wall_ms)
{
	struct overdue_ctx c = {.l = l, .p = p, .now = wall_ms};
	int rc = ledger_hazard_foreach_open(l, false, hazard_overdue_one, &c);

	if (rc < 0)
		return rc;
	return c.rc < 0 ? c.rc : c.count;
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
