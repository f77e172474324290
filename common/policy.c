/* SPDX-License-Identifier: MIT */
/* policy: names, defaults and grade arithmetic of hazard kinds and grades. */
#include "policy.h"

#include <string.h>

#include "i18n.h"
#include "log.h"
#include "workday.h"

static const char *const kind_names[KIND_COUNT] = {
    [KIND_FIRE_ALARM] = "fire_alarm",
    [KIND_RESIDUAL_CURRENT] = "residual_current",
    [KIND_OVERTEMPERATURE] = "overtemperature",
    [KIND_ARC_FAULT] = "arc_fault",
    [KIND_OVERCURRENT] = "overcurrent",
    [KIND_OVERVOLTAGE] = "overvoltage",
    [KIND_UNDERVOLTAGE] = "undervoltage",
    [KIND_SENSOR_FAULT] = "sensor_fault",
    [KIND_DEVICE_OFFLINE] = "device_offline",
    [KIND_LOW_BATTERY] = "low_battery",
    [KIND_TAMPER] = "tamper",
    [KIND_DEVICE_FAULT] = "device_fault",
    [KIND_LEDGER_CORRUPT] = "ledger_corrupt",
    [KIND_REPEATED_FALSE_ALARM] = "repeated_false_alarm",
    [KIND_GATEWAY_OUTAGE] = "gateway_outage",
};

static const char *const grade_names[GRADE_COUNT] = {
    [GRADE_GENERAL] = "general",
    [GRADE_SIGNIFICANT] = "significant",
    [GRADE_MAJOR] = "major",
    [GRADE_IMMEDIATE] = "immediate",
};

#define DAY (24 * 3600)

void policy_defaults(struct policy *p)
{
	memset(p, 0, sizeof(*p));
	for (int k = 0; k < KIND_COUNT; k++)
		p->grade[k] = GRADE_GENERAL;
	p->grade[KIND_FIRE_ALARM] = GRADE_IMMEDIATE;
	p->grade[KIND_ARC_FAULT] = GRADE_IMMEDIATE;
	p->grade[KIND_RESIDUAL_CURRENT] = GRADE_SIGNIFICANT;
	p->grade[KIND_OVERTEMPERATURE] = GRADE_SIGNIFICANT;
	p->grade[KIND_OVERCURRENT] = GRADE_SIGNIFICANT;
	p->grade[KIND_OVERVOLTAGE] = GRADE_SIGNIFICANT;
	p->grade[KIND_UNDERVOLTAGE] = GRADE_GENERAL;
	p->grade[KIND_LEDGER_CORRUPT] = GRADE_SIGNIFICANT;
	p->prealarm_grade = GRADE_GENERAL;
	p->high_grade = GRADE_IMMEDIATE;
	p->deadline_s[GRADE_IMMEDIATE] = 1 * DAY;
	p->deadline_s[GRADE_MAJOR] = 60 * DAY;
	p->deadline_s[GRADE_SIGNIFICANT] = 30 * DAY;
	p->deadline_s[GRADE_GENERAL] = 7 * DAY;
	p->escalate_s[KIND_RESIDUAL_CURRENT] = 30 * 60;
	p->escalate_s[KIND_OVERTEMPERATURE] = 30 * 60;
	p->escalate_s[KIND_DEVICE_OFFLINE] = 72 * 3600;
	p->recurrence_s = 30 * DAY;
	p->offline_autoclose = false;
	/* The seeds: the order within 3 working days of registration, acceptance within 5 working
	 * days after the rectification deadline. */
	p->order_within = (struct policy_span){3, true};
	p->acceptance_within = (struct policy_span){5, true};
	p->auto_regrade = false;
	p->incident[KIND_FIRE_ALARM] = true;
	p->false_alarm_limit = 3;
	p->false_alarm_window_s = 30 * DAY;
	/* GB 50116-2013 9.2.3 sets a residual-current alarm between 300 and 500 mA: past the top
	 * of that range, and again at twice it, a leak is worse than any alarm setting allows. */
	p->worsen_band[KIND_RESIDUAL_CURRENT][0] = 500;
	p->worsen_band[KIND_RESIDUAL_CURRENT][1] = 1000;
	p->nworsen_bands[KIND_RESIDUAL_CURRENT] = 2;
}

int policy_worsen_band(const struct policy *p, enum kind k, double value)
{
	int n = 0;

	if ((unsigned)k >= KIND_COUNT)
		return 0;
	for (int i = 0; i < p->nworsen_bands[k]; i++)
		if (value >= p->worsen_band[k][i])
			n = i + 1;
	return n;
}

static const char *const step_names[STEP_COUNT] = {
    [STEP_ACKNOWLEDGE] = "acknowledge", [STEP_ASSIGN] = "assign",
    [STEP_ACCEPT] = "accept",           [STEP_ACCEPTANCE] = "acceptance",
    [STEP_CLOSE] = "close",             [STEP_REOPEN] = "reopen",
    [STEP_REGRADE] = "regrade",         [STEP_VERIFY] = "verify",
    [STEP_SUPERVISE] = "supervise",     [STEP_DEFER] = "defer",
};

static const char *const field_names[FIELD_COUNT] = {
    [FIELD_RESPONSIBLE] = "responsible",
    [FIELD_DEPARTMENT] = "department",
    [FIELD_MEASURES] = "measures",
    [FIELD_FUNDS] = "funds",
    [FIELD_DEADLINE] = "deadline",
    [FIELD_CONTINGENCY_PLAN] = "contingency_plan",
    [FIELD_TARGET] = "target",
    [FIELD_INTERIM_MEASURES] = "interim_measures",
    [FIELD_PLAN] = "plan",
};

static int name_index(const char *const *names, int n, const char *s)
{
	for (int i = 0; s && i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

const char *policy_step_name(enum policy_step s)
{
	return (unsigned)s < STEP_COUNT ? step_names[s] : "unknown";
}

int policy_step_from_name(const char *s)
{
	return name_index(step_names, STEP_COUNT, s);
}

const char *policy_field_name(enum policy_field f)
{
	return (unsigned)f < FIELD_COUNT ? field_names[f] : "unknown";
}

int policy_field_from_name(const char *s)
{
	return name_index(field_names, FIELD_COUNT, s);
}

bool policy_role_allowed(const struct policy *p, enum policy_step step, const char *role)
{
	if ((unsigned)step >= STEP_COUNT || p->nroles[step] == 0)
		return true;
	for (int i = 0; role && i < p->nroles[step]; i++)
		if (strcmp(role, p->roles[step][i]) == 0)
			return true;
	return false;
}

int64_t policy_span_end(const struct policy *p, struct policy_span span, int64_t from_ms)
{
	static int warned_year;
	int64_t end;
	int missing = 0;

	if (span.n <= 0)
		return 0;
	if (!span.working)
		return from_ms + (int64_t)span.n * 86400 * 1000;
	if (workday_deadline(p->calendar, from_ms, span.n, &end, &missing) == 0)
		return end;
	if (missing != warned_year) {
		warned_year = missing;
		log_warn(_("calendar: no holiday calendar for %d: working days counted Monday to "
		           "Friday"),
		         missing);
	}
	return workday_deadline(NULL, from_ms, span.n, &end, NULL) == 0 ? end : 0;
}

const char *kind_name(enum kind k)
{
	return (unsigned)k < KIND_COUNT ? kind_names[k] : "unknown";
}

int kind_from_name(const char *s)
{
	for (int k = 0; k < KIND_COUNT; k++)
		if (s && strcmp(s, kind_names[k]) == 0)
			return k;
	return -1;
}

const char *grade_name(enum grade g)
{
	return (unsigned)g < GRADE_COUNT ? grade_names[g] : "unknown";
}

int grade_from_name(const char *s)
{
	for (int g = 0; g < GRADE_COUNT; g++)
		if (s && strcmp(s, grade_names[g]) == 0)
			return g;
	return -1;
}

const char *level_name(enum level l)
{
	switch (l) {
	case LEVEL_PREALARM:
		return "prealarm";
	case LEVEL_ALARM:
		return "alarm";
	case LEVEL_HIGH:
		return "high";
	case LEVEL_NONE:
		break;
	}
	return "normal";
}

enum grade grade_up(enum grade g)
{
	return g + 1 < GRADE_COUNT ? g + 1 : GRADE_IMMEDIATE;
}

enum grade policy_grade(const struct policy *p, enum kind k, enum level l)
{
	enum grade g = p->grade[k];

	if (l == LEVEL_PREALARM)
		return p->prealarm_grade;
	if (l == LEVEL_HIGH && p->high_grade > g)
		return p->high_grade;
	return g;
}
