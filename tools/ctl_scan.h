/* SPDX-License-Identifier: MIT */
/* ctl_scan: how firegwctl follows a scan or a probe that the daemon runs on a bus worker
 * (daemon/control_scan.c): it polls `scan-status ID` with a progress line until the job ends,
 * cancels it on Ctrl-C, and prints the units found with their config blocks, or the probe's
 * points. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

/* Sends one request and returns the reply (new reference), or NULL with the reason printed
 * and *exit_code set: firegwctl's own call. */
typedef json_t *(*ctl_scan_call_fn)(void *ctx, json_t *req, int *exit_code);

/* Follows the job that `started` (the daemon's successful reply to scan or probe) names to
 * its end; prints it (as JSON with `json`). Returns firegwctl's exit code: 0 when a scan
 * found a unit or a probe read the device, 1 otherwise, 3 when the daemon went away. */
int ctl_scan_follow(json_t *started, bool json, ctl_scan_call_fn call, void *ctx);
