/* SPDX-License-Identifier: MIT */
/* policy: names, defaults and grade arithmetic of hazard kinds and grades. */
#include "policy.h"

#include <string.h>

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
