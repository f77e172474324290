/* SPDX-License-Identifier: MIT */
/* hazard: one item of the ledger (台账) and its lifecycle. The gateway registers items (raised),
 * observes them (recurred, cleared, escalated, overdue) and reports; only the platform
 * acknowledges, assigns, accepts and closes. Each change here is written through the ledger
 * together with its event and outbox row, inside the caller's transaction. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "item.h"
#include "policy.h"

/* What a condition looks like when the rules report it. */
struct hazard_obs {
	const char *device;
	const char *point;
	enum kind kind;
	enum level level;
	double value;
	double threshold;
	const char *unit;
	bool test;
	bool below; /* a low-limit rule (undervoltage): the peak is the lowest value */
	int64_t wall_ms;
	json_t *info; /* borrowed: copied into a new item */
};

struct ledger;


enum hazard_outcome {
	HAZARD_NONE, /* nothing to record (still active, same item) */
	HAZARD_RAISED,
	HAZARD_RECURRED,
	HAZARD_ESCALATED, /* grade went up on an active item */
	HAZARD_WORSENED,  /* the value crossed the next worsening band (policy) */
	HAZARD_CLEARED,
	HAZARD_CLOSED,
	HAZARD_OVERDUE,
};

/* The condition is present. Raises a new item, records a recurrence on the open one, a
 * `worsened` event when the value crosses the next worsening band, or updates the peak. A
 * return within the recurrence window after a close opens a new item linked by
 * recurrence_of, with `escalation_suggested` one grade higher (or that grade, with
 * policy.auto_regrade). `out` (may be NULL) receives the item. */
int hazard_observe(struct ledger *l, const struct policy *p, const struct hazard_obs *o,
                   struct hazard *out, enum hazard_outcome *outcome);
/* The condition is gone: `cleared` on the open item, if it was active. With `autoclose`
 * (device_offline when the county allows it) the item is closed too. */
int hazard_clear(struct ledger *l, const char *device, const char *point, enum kind kind,
                 int64_t wall_ms, bool autoclose, enum hazard_outcome *outcome);
/* The device silenced its sounder while the condition is present: a `silenced` event on the
 * open, active item (silenced_at and silences in its info). The item stays open and active.
 * Returns 1 if recorded, 0 if there is no active item, or a negative errno. */
int hazard_silence(struct ledger *l, const char *device, const char *point, enum kind kind,
                   int64_t wall_ms);
/* Persisted past the kind's escalation time: with policy.auto_regrade up one grade, as
 * `escalated` (the deadline never moves later); otherwise the grade stays and the item gets
 * `escalation_suggested` (reason "persisted"), recorded as an event of that name. */
int hazard_escalate(struct ledger *l, const struct policy *p, const char *id, int64_t wall_ms);
/* Whether persistence has already escalated the item or suggested it. */
bool hazard_escalation_done(const struct hazard *h);
/* Every hazard past its deadline and not closed gets one `overdue` event, and one
 * `order_overdue` / `acceptance_overdue` when a stage passes its own limit (policy
 * order_within, acceptance_within). Incidents never. Returns the count of events. */
int hazard_mark_overdue(struct ledger *l, const struct policy *p, int64_t wall_ms);

/* The gateway started again after an unclean stop (a power cut, a crash, a kill): a
 * `gateway_outage` item on device `gateway`, point `alive`, recorded closed at once (nothing is
 * left to rectify; the platform learns of the outage), with one `gateway_restarted` event for
 * every destination. `info` (borrowed) holds the outage's details; first_seen is the last
 * moment the gateway knew it was alive (`last_alive_ms`, 0 unknown: then `restart_ms`), closed_at
 * the restart. In the caller's transaction. `out` (may be NULL) receives the item. */
int hazard_restarted(struct ledger *l, const struct policy *p, int64_t last_alive_ms,
                     int64_t restart_ms, json_t *info, struct hazard *out);

/* After destination `dest` reconnected: a `resync` event with the current state of every open
 * item, queued for it alone after what already waits (an item whose resync still waits gets
 * no second one). In the caller's
 * transaction when one is open (the caller commits, or rolls back on an error, and logs),
 * else in its own. Returns how many were queued, or a negative errno. */
int hazard_resync_all(struct ledger *l, const char *dest, int64_t wall_ms);

/* What the platform may put in a command (docs/security.md, "Limits"). Over a limit, the
 * command is refused with a reason and nothing of it is stored but that refusal. */
#define HAZARD_CMD_ID_MAX    128  /* bytes of "id"; longer: ignored (it cannot be answered) */
#define HAZARD_CMD_TYPE_MAX  64   /* bytes of "type" */
#define HAZARD_CMD_FIELD_MAX 2048 /* bytes of each free-form field, as JSON */
/* Commands applied from one reply (or one MQTT message); the rest are ignored and counted. */
#define HAZARD_CMDS_PER_REPLY 100
/* Applied commands are remembered (so each applies once) this long, and at most this many. */
#define HAZARD_CMDS_KEEP_MS (30LL * 24 * 3600 * 1000)
#define HAZARD_CMDS_KEEP    10000

/* Applies one platform command ({"id", "type", "hazard_id", ...}) inside the caller's
 * transaction: the transition, its event and the remembered result. A command id seen before
 * is not applied again (its result is reported again). An impossible command, or one over a
 * limit above, changes nothing and is answered ok = false with a reason (*reason, static or
 * in `why`, which has room for 160 bytes). Returns 0 applied or seen before, 1 refused, 2
 * ignored (no usable id), or a negative errno (ledger failure). Logs nothing: see
 * hazard_apply_commands. */
int hazard_apply_command(struct ledger *l, const struct policy *p, json_t *cmd, int64_t wall_ms,
                         char *why, size_t whylen);
/* The command objects of `cmds` (an array, or NULL), at most `max` of them, each through
 * hazard_apply_command in the caller's transaction; then the applied-command table is pruned
 * (HAZARD_CMDS_KEEP_MS, HAZARD_CMDS_KEEP). Logs one line for the first refusal and one
 * with the count of the others and of those over `max`, whatever a reply holds. Returns how
 * many were applied or refused, or a negative errno. */
int hazard_apply_commands(struct ledger *l, const struct policy *p, json_t *cmds, size_t max,
                          int64_t wall_ms);
