/* SPDX-License-Identifier: MIT */
/* policy: the county's rules as data. Hazard kinds, grades and the per-kind and per-grade
 * defaults of docs/architecture.md section 3 (grade per kind, deadline per grade, escalation times,
 * recurrence window). Every value here can be overridden in the config's `policy` section. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

enum kind {
	KIND_FIRE_ALARM,
	KIND_RESIDUAL_CURRENT,
	KIND_OVERTEMPERATURE,
	KIND_ARC_FAULT,
	KIND_OVERCURRENT,
	KIND_OVERVOLTAGE,
	KIND_UNDERVOLTAGE,
	KIND_SENSOR_FAULT,
	KIND_DEVICE_OFFLINE,
	KIND_LOW_BATTERY,
	KIND_TAMPER,
	KIND_DEVICE_FAULT,
	KIND_LEDGER_CORRUPT,
	KIND_GATEWAY_OUTAGE, /* the gateway itself was down: recorded closed at restart */
	KIND_COUNT
};

/* Ordered from least to most severe: escalation moves one step right. */
enum grade { GRADE_GENERAL, GRADE_SIGNIFICANT, GRADE_MAJOR, GRADE_IMMEDIATE, GRADE_COUNT };

/* How bad a condition is right now, as the rules see it. */
enum level {
	LEVEL_NONE,
	LEVEL_PREALARM,
	LEVEL_ALARM,
	LEVEL_HIGH, /* above the high setpoint: life in danger now */
};

struct policy {
	enum grade grade[KIND_COUNT]; /* grade of an alarm of each kind */
	enum grade prealarm_grade;    /* grade of any pre-alarm */
	enum grade high_grade;        /* grade above a high setpoint */
	int64_t deadline_s[GRADE_COUNT];
	int64_t escalate_s[KIND_COUNT]; /* 0: never escalates */
	int64_t recurrence_s;           /* window after close in which a return is a recurrence */
	bool offline_autoclose;         /* device_offline closes itself when the device is back */
};

void policy_defaults(struct policy *p);

const char *kind_name(enum kind k);
int kind_from_name(const char *s); /* -1 if unknown */
const char *grade_name(enum grade g);
int grade_from_name(const char *s); /* -1 if unknown */
const char *level_name(enum level l);

enum grade grade_up(enum grade g);
/* The grade a new item gets for a condition of this kind at this level. */
enum grade policy_grade(const struct policy *p, enum kind k, enum level l);
