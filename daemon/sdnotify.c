/* SPDX-License-Identifier: MIT */
/* sdnotify: sd_notify through libsystemd, or nothing. */
#include "sdnotify.h"

#include "firegw-config.h"

#if HAVE_LIBSYSTEMD
#include <stdio.h>
#include <systemd/sd-daemon.h>

void sdnotify_ready(const char *status)
{
	sd_notifyf(0, "READY=1\nSTATUS=%s", status ? status : "running");
}

void sdnotify_stopping(void)
{
	sd_notify(0, "STOPPING=1");
}

void sdnotify_reloading(void)
{
	sd_notify(0, "RELOADING=1");
}

void sdnotify_status(const char *status)
{
	sd_notifyf(0, "STATUS=%s", status);
}

void sdnotify_watchdog(void)
{
	sd_notify(0, "WATCHDOG=1");
}

int64_t sdnotify_watchdog_ms(void)
{
	uint64_t usec = 0;

	return sd_watchdog_enabled(0, &usec) > 0 ? (int64_t)(usec / 1000) : 0;
}
#else
void sdnotify_ready(const char *status)
{
	(void)status;
}

void sdnotify_stopping(void)
{
}

void sdnotify_reloading(void)
{
}

void sdnotify_status(const char *status)
{
	(void)status;
}

void sdnotify_watchdog(void)
{
}

int64_t sdnotify_watchdog_ms(void)
{
	return 0;
}
#endif
