/* SPDX-License-Identifier: MIT */
/* daemon: the running gateway. It owns the libuv main loop and everything on it: the loaded
 * config, the ledger, the rules, the ingest queue, signals (SIGTERM/SIGINT stop, SIGHUP
 * reloads), the rules tick, the service-manager watchdog and status. */
#pragma once

#include <stdbool.h>

struct daemon_opts {
	const char *conf_path;
	bool foreground;
	int log_level; /* -1: from the config */
};

/* Runs until stopped. Returns the process exit code. */
int daemon_run(const struct daemon_opts *o);
