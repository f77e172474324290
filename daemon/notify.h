/* SPDX-License-Identifier: MIT */
/* notify: the service manager's side channel (sd_notify READY, STOPPING, WATCHDOG, STATUS).
 * Built on libsystemd when the build has it; a no-op otherwise, so OpenWrt and Buildroot
 * builds need no systemd. */
#pragma once

#include <stdint.h>

void notify_ready(const char *status);
void notify_stopping(void);
void notify_reloading(void);
void notify_status(const char *status);
void notify_watchdog(void);
/* The watchdog interval the manager asked for, in ms, or 0. */
int64_t notify_watchdog_ms(void);
