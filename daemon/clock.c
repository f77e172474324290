/* clock: monotonic and wall time in milliseconds, with a fake mode for tests. */
#include "clock.h"

#include <stdio.h>
#include <time.h>

static int64_t fake_mono = -1;
static int64_t fake_wall = -1;

static int64_t clock_read(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_mono_ms(void)
{
	return fake_mono >= 0 ? fake_mono : clock_read(CLOCK_MONOTONIC);
}

int64_t clock_wall_ms(void)
{
	return fake_wall >= 0 ? fake_wall : clock_read(CLOCK_REALTIME);
}

void clock_set_fake(int64_t mono_ms, int64_t wall_ms)
{
	fake_mono = mono_ms;
	fake_wall = wall_ms;
}

void clock_advance_fake(int64_t ms)
{
	if (fake_mono >= 0)
		fake_mono += ms;
	if (fake_wall >= 0)
		fake_wall += ms;
}

static void clock_tm(int64_t wall_ms, struct tm *tm)
{
	time_t s = (time_t)(wall_ms / 1000);

	gmtime_r(&s, tm);
}

void clock_format_iso(int64_t wall_ms, char *buf, size_t len)
{
	struct tm tm;

	clock_tm(wall_ms, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
	         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(wall_ms % 1000));
}

void clock_format_compact(int64_t wall_ms, char *buf, size_t len)
{
	struct tm tm;

	clock_tm(wall_ms, &tm);
	snprintf(buf, len, "%04d%02d%02dT%02d%02d%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
	         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}
