/* SPDX-License-Identifier: MIT */
/* daemon_int: the running daemon's state, shared by daemon.c (its lifecycle), status.c (the
 * gateway at a glance) and control_run.c (what the control socket reads and does). Nothing
 * else includes it. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "daemon.h"

struct conf;
struct ledger;
struct rules;
struct ingest;
struct acquire;
struct control_scans;
struct mqtt_in;
struct forward;
struct control;
struct alive;
struct retention;
struct control_peer;
struct daemon;
struct platform_conf;
struct forward_stats;

/* A destination of events: a platform block and its running forwarder (NULL while its
 * secret file is missing or its transport cannot start). */
struct daemon_dest {
	const struct platform_conf *pc;
	struct forward *fwd;
};

/* The destination's counters, NULL while its transport is not running. */
const struct forward_stats *daemon_dest_stats(const struct daemon_dest *dd);
/* New events may wait: every destination sends soon (unless backing off). */
void daemon_dests_kick(struct daemon *d);

struct daemon {
	uv_loop_t loop;
	const struct daemon_opts *opts;
	struct conf *conf;
	struct ledger *ledger;
	struct rules *rules;
	struct ingest *ingest;
	struct acquire *acquire;
	struct control_scans *scans; /* scan and probe jobs (control_scan.c) */
	struct mqtt_in *mqtt; /* MQTT input: its devices and broker connection */
	/* One per enabled platform block, in the config's order (daemon_dests_start). */
	struct daemon_dest *dests;
	size_t ndests;
	struct control *control;
	struct retention *retention; /* the ledger's pruning */
	struct alive *alive;    /* <data_dir>/alive: the last moment known alive */
	char control_path[108]; /* where the socket is: it moves only at restart */
	uv_signal_t sigterm, sigint, sighup;
	uv_timer_t tick, watchdog;
	int64_t started_mono;
	int64_t first_heartbeat_mono; /* when the first heartbeat was built, 0 before */
	bool status_ledger_ok; /* what the last systemd STATUS said of the ledger */
	int exit_code;
};

/* Loads the config again and swaps it in; on errors the running config stays. Each error
 * (file:line: message) is appended to `errors` when it is not NULL. Returns 0 or -1. */
int daemon_reload(struct daemon *d, json_t *errors);
/* Control socket requests (control_run.c). */
json_t *control_run_handle(const char *line, size_t len, const struct control_peer *peer, void *userdata);
/* scan, probe, scan-status, scan-cancel: jobs on the bus workers (control_scan.c). */
struct control_request;
json_t *control_scan_request(struct daemon *d, const struct control_request *q,
                             const struct control_peer *peer);
/* Frees every scan and probe job; the bus workers must be stopped already (acquire_stop). */
void control_scan_free_all(struct daemon *d);
/* The gateway's status as the heartbeat and `firegwctl status` show it (new reference). */
json_t *status_build(struct daemon *d, bool full);
/* One device's line of `firegwctl devices` (status.c); with its last values if `values`. */
json_t *status_device(struct daemon *d, const struct device_conf *dc, bool values);
