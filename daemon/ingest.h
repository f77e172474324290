/* SPDX-License-Identifier: MIT */
/* ingest: group commit. Readings that arrive during one turn of the main loop are queued
 * here and applied to the rules in one ledger transaction at the end of the turn (a uv_check
 * handle), so that a burst costs one fsync, not one per reading. If the commit fails (disk
 * full), the batch stays queued, bounded, and is tried again a second later. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "policy.h"
#include "rules.h"

enum reading_type {
	READING_VALUE,   /* value of a profile point */
	READING_STATE,   /* discrete condition on a channel */
	READING_POLL,    /* outcome of a poll */
	READING_SILENCE, /* the device silenced its alarm: kind on channel `point` */
};

struct reading {
	enum reading_type type;
	char device[64];
	char point[64];
	double value;
	enum kind kind;
	enum level level;
	bool ok;
	bool test;
	int64_t mono_ms, wall_ms;
};

/* Readings queued at most. When the queue is full (the ledger has failed for a long time),
 * repeats are merged first: of a run of readings of one point that say the same thing
 * (rules_value_class; polls that succeeded), only the first and the last stay, so the rules
 * still see when each state began and how long it lasted. Past that, a reading that says
 * nothing new of its point is dropped (counted), and one that changes it (an alarm coming or
 * going, a failed poll, any MQTT event) takes one of INGEST_RESERVE places kept for them. */
#define INGEST_MAX     65536
#define INGEST_RESERVE 8192

struct ingest;

struct ingest *ingest_new(uv_loop_t *loop, struct rules *r, struct ledger *l);
void ingest_free(struct ingest *in);
/* Swaps the rules after a reload; the queue is flushed first. */
void ingest_set_rules(struct ingest *in, struct rules *r);
/* Called after each successful commit of a batch (the uplink sends what it recorded). */
void ingest_on_commit(struct ingest *in, void (*fn)(void *userdata), void *userdata);
/* Main thread only. Returns 0, or -ENOBUFS when the queue is full and the reading was
 * dropped (counted in ingest_health and logged here). */
int ingest_push(struct ingest *in, const struct reading *rd);
/* Applies and commits everything queued. Returns 0 or a negative errno. */
int ingest_flush(struct ingest *in);
size_t ingest_queued(const struct ingest *in);

/* Whether the ledger takes the readings: ok until a commit fails, ok again at the next one
 * that succeeds. For the status and the heartbeat. */
struct ingest_health {
	bool ok;
	const char *error;       /* why the last commit failed; NULL when ok */
	int64_t since_wall_ms;   /* when the current run of failures began; 0 when ok */
	uint64_t failed_commits; /* failed commits since the start */
	int code;                /* the last failure (negative errno: -ENOSPC full, -EIO, ...) */
	uint64_t merged;         /* repeated readings merged while the queue was full */
	uint64_t dropped;        /* readings dropped while it was full: nothing new in them */
	uint64_t changes_lost;   /* changes dropped past INGEST_RESERVE (0 unless the ledger
	                          * failed for hours on a flapping site) */
};
const struct ingest_health *ingest_health(const struct ingest *in);
uint64_t ingest_batches(const struct ingest *in);
