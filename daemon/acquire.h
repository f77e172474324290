/* SPDX-License-Identifier: MIT */
/* acquire: the daemon's side of data acquisition. It starts one Modbus bus worker per
 * configured bus, turns each poll result into readings for the ingest queue (on the main
 * thread), and keeps each device's live status: why it has no data, its last values, and
 * its counters, for status and the control socket. */
#pragma once

#include <stdint.h>
#include <uv.h>

#include "conf.h"
#include "ingest.h"
#include "log.h"
#include "modbus_bus.h"

struct dev_status {
	const struct device_conf *dc;
	enum modbus_bus_why why;
	int code;
	int64_t last_ok_wall;   /* 0: never */
	int64_t last_poll_mono; /* 0: never polled */
	int64_t backoff_ms;     /* > 0: failing, the next poll waits this long after the last */
	uint64_t polls, failures, timeouts, exceptions, crc_errors, link_errors;
	double *values; /* profile order, NAN before the first read */
	struct log_state log;
};

struct acquire;

struct acquire *acquire_start(uv_loop_t *loop, const struct conf *c, struct ingest *in);
void acquire_stop(struct acquire *a);
size_t acquire_devices(const struct acquire *a);
const struct dev_status *acquire_device(const struct acquire *a, size_t i);
/* The worker of the bus of that name, NULL when it is not polled (no device names it). */
struct modbus_bus *acquire_bus(const struct acquire *a, const char *name);
