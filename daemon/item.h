/* SPDX-License-Identifier: MIT */
/* item: one item of the ledger (台账) as data: its fields, its status names and its JSON
 * snapshot, as events carry it. Below both the lifecycle (hazard.c), which changes items,
 * and the ledger (ledger.c), which stores them. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "policy.h"

enum hstatus {
	HSTATUS_OPEN,
	HSTATUS_ACKNOWLEDGED,
	HSTATUS_RECTIFYING,
	HSTATUS_PENDING_ACCEPTANCE,
	HSTATUS_CLOSED,
};

/* 警情 apart from 隐患: an incident (a fire alarm) is verified (核警) and closed; a hazard is
 * rectified, accepted and closed out. Fixed when the item is raised (policy.incidents). */
enum iclass {
	ICLASS_HAZARD,
	ICLASS_INCIDENT,
};

#define HAZARD_ID_LEN   80
#define HAZARD_NAME_LEN 64

struct hazard {
	int64_t num;            /* ledger row, the <seq> of the id */
	char id[HAZARD_ID_LEN]; /* "<gateway>-<6-digit seq>" */
	char device[HAZARD_NAME_LEN];
	char point[HAZARD_NAME_LEN];
	enum kind kind;
	enum grade grade;
	enum hstatus status;
	enum iclass iclass;
	bool active; /* the condition is present now */
	bool overdue;
	bool test;                  /* commissioning test, never a real alarm */
	bool suspect_rectification; /* came back soon after a close: 虚假整改? */
	int escalations;
	int64_t occurrences;
	double value, peak, threshold;
	char unit[16];
	int64_t first_seen, last_seen, cleared_at, closed_at, deadline; /* wall ms, 0 = none */
	char recurrence_of[HAZARD_ID_LEN];
	char title[160];
	json_t *info; /* site, location, device details, responsible, acceptor, platform fields */
};

void item_init(struct hazard *h);
void item_finish(struct hazard *h);
const char *item_status_name(enum hstatus s);
int item_status_from_name(const char *s);
const char *item_class_name(enum iclass c);
int item_class_from_name(const char *s); /* -1 if unknown */
/* The item as an event carries it: site, location, device details and people first (its
 * info), then the ledger's own fields, which win. */
json_t *item_to_json(const struct hazard *h);
