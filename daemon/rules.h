/* SPDX-License-Identifier: MIT */
/* rules: readings in, hazard changes out. It owns the live state of every configured device:
 * per point the level now raised, a candidate waiting out its hold time, the clear hold
 * (hysteresis), per discrete condition (status bit, event code) its level, missed polls and
 * heartbeats, and the monotonic time each active condition started (for escalation).
 * Every change goes through hazard.c into the ledger inside the caller's transaction (one
 * is opened here when the caller has none). After a failed commit, rules_resync() rebuilds
 * the live state from the ledger, the same way it starts. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "conf.h"
#include "ledger.h"
#include "policy.h"

struct rules;

struct rules_stats {
	uint64_t readings;
	uint64_t unknown_device;
	uint64_t unknown_point;
	uint64_t raised, recurred, cleared, escalated, overdue;
	uint64_t silenced, silence_ignored; /* silence with no active item to record it on */
};

struct rules *rules_new(const struct conf *c, struct ledger *l);
void rules_free(struct rules *r);
/* Rebuilds the live state from the ledger's active items (start-up, after a rollback). */
int rules_resync(struct rules *r, int64_t mono_ms, int64_t wall_ms);

/* A value of one point of the device's profile (already scaled). Analog rules and the
 * status bits read from this point are applied. */
int rules_value(struct rules *r, const char *device, const char *point, double value,
                int64_t mono_ms, int64_t wall_ms);
/* A discrete condition on a channel (status bit, event code): LEVEL_NONE clears it. */
int rules_state(struct rules *r, const char *device, const char *channel, enum kind kind,
                enum level level, bool test, int64_t mono_ms, int64_t wall_ms);
/* The device silenced its sounder: recorded on the active item of (channel, kind) as a
 * `silenced` event; the item stays open and active. Nothing to record it on is no error. */
int rules_silence(struct rules *r, const char *device, const char *channel, enum kind kind,
                  int64_t mono_ms, int64_t wall_ms);
/* The outcome of one poll: `ok` false counts toward device_offline. */
int rules_poll(struct rules *r, const char *device, bool ok, int64_t mono_ms, int64_t wall_ms);
/* A sign of life from a device that reports by itself (MQTT). */
int rules_heard(struct rules *r, const char *device, int64_t mono_ms, int64_t wall_ms);
/* Escalations, heartbeat timeouts and overdue items. Hold times are judged at each reading,
 * so the poll interval is their resolution. */
int rules_tick(struct rules *r, int64_t mono_ms, int64_t wall_ms);
struct ledger_open_info;
/* Raises the gateway's own ledger_corrupt item after a damaged ledger was moved aside: where
 * it went, why, and what was salvaged from it (ledger_open's `info`). */
int rules_ledger_corrupt(struct rules *r, const struct ledger_open_info *info, int64_t wall_ms);

/* Records the gateway's restart after an unclean stop (hazard_restarted) in its own
 * transaction: last alive at `last_alive_ms` (0 unknown), restarted at `wall_ms`. */
int rules_restarted(struct rules *r, int64_t last_alive_ms, int64_t wall_ms);

/* What a value of a device point says, as a number to compare: the level its setpoints give,
 * whether it is past the clear level, and for a status point its whole raw value (every bit).
 * Two readings of a point with the same class change nothing the rules decide, but time.
 * An unknown device or point has class 0. For the ingest queue's merging of repeats. */
int64_t rules_value_class(struct rules *r, const char *device, const char *point, double value);
/* The hold times of a device point (0 if it has none, or is unknown): the merging keeps the
 * reading at which the rules would have acted. */
void rules_value_holds(struct rules *r, const char *device, const char *point, int64_t *hold_ms,
                       int64_t *clear_hold_ms);

const struct rules_stats *rules_stats(const struct rules *r);
/* The level now raised at a device point (LEVEL_NONE if none or unknown). */
enum level rules_level(const struct rules *r, const char *device, const char *point,
                       enum kind kind);
