/* SPDX-License-Identifier: MIT */
/* alive: the gateway's own heartbeat on disk, <data_dir>/alive: the last moment this firegw
 * knew it was alive (rewritten once a minute, in place, one small block: flash wear is one
 * 4 KiB write a minute) and whether it stopped cleanly. Read at start, before it is
 * rewritten, to tell a power cut, a crash or a kill from a clean stop, and how long the
 * gateway was down. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* How often the file is rewritten while running. */
#define ALIVE_INTERVAL_MS (60 * 1000)

/* What the file said at start. */
struct alive_prev {
	bool found;         /* there was a file: this is not the first start */
	bool clean;         /* the last run stopped cleanly (alive_close) */
	int64_t last_ms;    /* the last moment it knew it was alive (wall ms), 0 unknown */
	int64_t started_ms; /* when the last run started (wall ms), 0 unknown */
};

struct alive;

/* Opens <dir>/alive and reads what the last run left into `prev`; nothing is written yet.
 * NULL if the file cannot be opened (logged: firegw runs on without it). */
struct alive *alive_open(const char *dir, struct alive_prev *prev);
/* Marks this run, started at `wall_ms`, as running (synced to disk, so that a power cut a
 * second later is seen as one). Called once what `prev` said is recorded. */
void alive_running(struct alive *a, int64_t wall_ms);
/* Alive at `wall_ms`: rewritten if ALIVE_INTERVAL_MS went by since the last write. */
void alive_beat(struct alive *a, int64_t wall_ms);
/* A clean stop at `wall_ms` (if alive_running was called); frees `a`. */
void alive_close(struct alive *a, int64_t wall_ms);
/* Parses the file's text (exposed for the unit tests): 0, or -EINVAL if it is not one. */
int alive_parse(const char *text, struct alive_prev *prev);
