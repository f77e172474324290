/* SPDX-License-Identifier: MIT */
/* clock: the two clocks firegw uses. Monotonic milliseconds drive every timer and duration
 * (hold times, escalation, offline detection) so that a wall-clock jump changes nothing;
 * wall-clock milliseconds only stamp what is recorded and sent. Tests may freeze both.
 * Also whether the wall clock can be trusted: the kernel's NTP synchronisation state. */
#pragma once

#include <stddef.h>
#include <stdint.h>

int64_t clock_mono_ms(void);
int64_t clock_wall_ms(void);
/* Freeze the clocks at the given values (tests); a negative value unfreezes that clock. */
void clock_set_fake(int64_t mono_ms, int64_t wall_ms);
void clock_advance_fake(int64_t ms);

/* Whether an NTP (or PTP, GPS...) discipline has synchronised the wall clock, as the kernel
 * says: adjtimex(2) with modes 0, which changes nothing. */
enum clock_sync {
	CLOCK_SYNCED,
	CLOCK_UNSYNCED, /* TIME_ERROR or STA_UNSYNC: nothing has set the clock, or it lost sync */
	CLOCK_SYNC_UNKNOWN, /* the kernel could not be asked (a seccomp filter: EPERM) */
};
/* The pure mapping of adjtimex's return value (-1: it failed) and timex.status. */
enum clock_sync clock_sync_from_adjtimex(int rc, int status);
/* Asks the kernel now (one system call; call it per recorded event, not per reading). Logs a
 * change of state once. */
enum clock_sync clock_sync_state(void);
/* What events and heartbeats carry as "time_quality": NULL when synchronised (no field),
 * "unsynchronised" or "unknown". */
const char *clock_sync_name(enum clock_sync s);
const char *clock_time_quality(void);
/* Tests: pretend this state; a negative value asks the kernel again. */
void clock_set_fake_sync(int state);

/* "2026-11-23T07:59:58.120Z"; buf needs 32 bytes. */
void clock_format_iso(int64_t wall_ms, char *buf, size_t len);
/* "20261123T075958Z" for file names. */
void clock_format_compact(int64_t wall_ms, char *buf, size_t len);
