/* SPDX-License-Identifier: MIT */
/* clock: monotonic and wall time in milliseconds, with a fake mode for tests, and whether
 * the kernel says the wall clock is synchronised. */
#include "clock.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/timex.h>
#include <time.h>

#include "log.h"

static int64_t fake_mono = -1;
static int64_t fake_wall = -1;
static int fake_sync = -1;
static int last_sync = -1; /* the state last logged */

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

enum clock_sync clock_sync_from_adjtimex(int rc, int status)
{
	if (rc < 0)
		return CLOCK_SYNC_UNKNOWN;
	/* TIME_ERROR: STA_UNSYNC, or a PPS discipline that lost its signal. */
	if (rc == TIME_ERROR || (status & STA_UNSYNC))
		return CLOCK_UNSYNCED;
	return CLOCK_SYNCED;
}

const char *clock_sync_name(enum clock_sync s)
{
	return s == CLOCK_SYNCED ? NULL : s == CLOCK_UNSYNCED ? "unsynchronised" : "unknown";
}

static void clock_sync_log(enum clock_sync s, int err)
{
	if ((int)s == last_sync)
		return;
	if (s == CLOCK_UNSYNCED)
		log_warn("the wall clock is not synchronised (the kernel reports no NTP "
		         "synchronisation): events and heartbeats carry time_quality "
		         "\"unsynchronised\" until it is; check the NTP client (timedatectl "
		         "timesync-status, chronyc tracking)");
	else if (s == CLOCK_SYNC_UNKNOWN)
		log_warn("cannot ask the kernel whether the wall clock is synchronised (adjtimex: "
		         "%s): events and heartbeats carry time_quality \"unknown\"; a system call "
		         "filter blocks it (systemd's ProtectClock=yes does): allow adjtimex and "
		         "clock_adjtime, which only read the clock's state without CAP_SYS_TIME",
		         strerror(err));
	else if (last_sync >= 0)
		log_notice("the wall clock is synchronised again");
	last_sync = (int)s;
}

enum clock_sync clock_sync_state(void)
{
	struct timex tx;
	int rc, err;
	enum clock_sync s;

	if (fake_sync >= 0)
		return (enum clock_sync)fake_sync;
	memset(&tx, 0, sizeof(tx)); /* modes 0: read only */
	rc = adjtimex(&tx);
	err = rc == -1 ? errno : 0;
	s = clock_sync_from_adjtimex(rc, tx.status);
	clock_sync_log(s, err);
	return s;
}

const char *clock_time_quality(void)
{
	return clock_sync_name(clock_sync_state());
}

void clock_set_fake_sync(int state)
{
	fake_sync = state;
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
