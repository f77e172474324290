/* clock: the two clocks firegw uses. Monotonic milliseconds drive every timer and duration
 * (hold times, escalation, offline detection) so that a wall-clock jump changes nothing;
 * wall-clock milliseconds only stamp what is recorded and sent. Tests may freeze both. */
#pragma once

#include <stddef.h>
#include <stdint.h>

int64_t clock_mono_ms(void);
int64_t clock_wall_ms(void);
/* Freeze the clocks at the given values (tests); a negative value unfreezes that clock. */
void clock_set_fake(int64_t mono_ms, int64_t wall_ms);
void clock_advance_fake(int64_t ms);
/* "2026-11-23T07:59:58.120Z"; buf needs 32 bytes. */
void clock_format_iso(int64_t wall_ms, char *buf, size_t len);
/* "20261123T075958Z" for file names. */
void clock_format_compact(int64_t wall_ms, char *buf, size_t len);
