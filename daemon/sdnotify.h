/* SPDX-License-Identifier: MIT */
/* sdnotify: the service manager's side channel (sd_notify READY, STOPPING, WATCHDOG, STATUS).
 * Built on libsystemd when the build has it; a no-op otherwise, so OpenWrt and Buildroot
 * builds need no systemd. */
#pragma once

#include <stdint.h>

void sdnotify_ready(const char *status);
void sdnotify_stopping(void);
void sdnotify_reloading(void);
void sdnotify_status(const char *status);
void sdnotify_watchdog(void);
/* The watchdog interval the manager asked for, in ms, or 0. */
int64_t sdnotify_watchdog_ms(void);
