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
	KIND_REPEATED_FALSE_ALARM, /* a detector's incidents verified false too often */
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

struct workday_cal;

/* A time limit counted in calendar days or in working days ("5wd"); n 0: none. */
struct policy_span {
	int n;
	bool working;
};

#define POLICY_BANDS_MAX 8
#define POLICY_ROLES_MAX 8
#define POLICY_ROLE_LEN  32

/* The steps of the closed loop a platform command takes, by the command's name after the dot
 * (hazard.close: close); a county may say which roles may take each (policy.roles). */
enum policy_step {
	STEP_ACKNOWLEDGE,
	STEP_ASSIGN,
	STEP_ACCEPT, /* 提请验收: hazard.accept, or its clearer name hazard.submit */
	STEP_ACCEPTANCE, /* 验收: passed or failed */
	STEP_CLOSE,      /* 销号 */
	STEP_REOPEN,
	STEP_REGRADE,
	STEP_VERIFY, /* 核警 */
	STEP_SUPERVISE, /* 挂牌督办 */
	STEP_DEFER,     /* 无法按期整改 */
	STEP_COUNT
};

/* The 五定 and the rest of a hazard's rectification fields a county may require before it goes
 * to rectifying (policy.require_before_rectifying), as bits. */
enum policy_field {
	FIELD_RESPONSIBLE,
	FIELD_DEPARTMENT,
	FIELD_MEASURES,
	FIELD_FUNDS,
	FIELD_DEADLINE,
	FIELD_CONTINGENCY_PLAN,
	FIELD_TARGET,
	FIELD_INTERIM_MEASURES,
	FIELD_PLAN,
	FIELD_COUNT
};

struct policy {
	enum grade grade[KIND_COUNT]; /* grade of an alarm of each kind */
	enum grade prealarm_grade;    /* grade of any pre-alarm */
	enum grade high_grade;        /* grade above a high setpoint */
	int64_t deadline_s[GRADE_COUNT];
	int deadline_wd[GRADE_COUNT]; /* > 0: the grade's deadline in working days instead */
	/* The stages' own limits: the rectification order (assign) after registration, and the
	 * acceptance after the rectification deadline. Each has its own overdue event. */
	struct policy_span order_within, acceptance_within;
	/* The county's working days (config `calendar` sections; owned by the config). NULL:
	 * Monday to Friday. */
	const struct workday_cal *calendar;
	int64_t escalate_s[KIND_COUNT]; /* 0: never escalates */
	int64_t recurrence_s;           /* window after close in which a return is a recurrence */
	bool offline_autoclose;         /* device_offline closes itself when the device is back */
	/* The county decides a grade: persistence and recurrence after close only suggest a
	 * higher one (`escalation_suggested`) unless the county turns automatic regrading on. */
	bool auto_regrade;
	/* Worsening: a `worsened` event each time an active item's value crosses the next band
	 * above where it was (at most once per band per occurrence), in the point's unit. */
	double worsen_band[KIND_COUNT][POLICY_BANDS_MAX];
	int nworsen_bands[KIND_COUNT];
	/* 警情 apart from 隐患: kinds whose items are incidents (verified and closed, no
	 * rectification deadline). Default: fire_alarm. */
	bool incident[KIND_COUNT];
	/* A detector whose incidents are verified false this many times within the window gets a
	 * repeated_false_alarm hazard (maintenance needed). 0: never. */
	int false_alarm_limit;
	int64_t false_alarm_window_s;
	/* Who may take each step: the roles named (empty: anyone). 谁主管谁验收, 谁管总谁销号. */
	char roles[STEP_COUNT][POLICY_ROLES_MAX][POLICY_ROLE_LEN];
	int nroles[STEP_COUNT];
	/* Fields (bits of enum policy_field) an item of each grade needs before rectifying. */
	uint32_t require_fields[GRADE_COUNT];
	/* A hazard closes only after a passed acceptance, unless the command forces with a
	 * reason. */
	bool close_requires_acceptance;
};

void policy_defaults(struct policy *p);

const char *kind_name(enum kind k);
int kind_from_name(const char *s); /* -1 if unknown */
const char *grade_name(enum grade g);
int grade_from_name(const char *s); /* -1 if unknown */
const char *level_name(enum level l);
const char *policy_step_name(enum policy_step s);
int policy_step_from_name(const char *s); /* -1 if unknown */
const char *policy_field_name(enum policy_field f);
int policy_field_from_name(const char *s); /* -1 if unknown */
/* The end of `span` from `from_ms`: n calendar days later, or the end of the n-th working day
 * (workday.h); 0 for an empty span. A count that runs past the calendar's years falls back to
 * Monday to Friday and logs it once. */
int64_t policy_span_end(const struct policy *p, struct policy_span span, int64_t from_ms);
/* Whether `role` may take `step` (true when the county named no roles for it). */
bool policy_role_allowed(const struct policy *p, enum policy_step step, const char *role);

enum grade grade_up(enum grade g);
/* How many of the kind's worsening bands `value` has reached (0: none). */
int policy_worsen_band(const struct policy *p, enum kind k, double value);
/* The grade a new item gets for a condition of this kind at this level. */
enum grade policy_grade(const struct policy *p, enum kind k, enum level l);
