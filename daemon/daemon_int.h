/* SPDX-License-Identifier: MIT */
/* daemon_int: the running daemon's state, shared by daemon.c (its lifecycle) and ctl.c (what
 * the control socket reads and does). Nothing else includes it. */
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
struct mqtt_in;
struct uplink;
struct uplink_mqtt;
struct control;
struct control_peer;

struct daemon {
	uv_loop_t loop;
	const struct daemon_opts *opts;
	struct conf *conf;
	struct ledger *ledger;
	struct rules *rules;
	struct ingest *ingest;
	struct acquire *acquire;
	struct mqtt_in *mqtt; /* MQTT input: its devices and broker connection */
	struct uplink *uplink;
	struct uplink_mqtt *uplink_mqtt; /* platform transport = "mqtt" (then uplink is NULL) */
	struct control *control;
	char control_path[108]; /* where the socket is: it moves only at restart */
	uv_signal_t sigterm, sigint, sighup;
	uv_timer_t tick, watchdog;
	int64_t started_mono;
	bool status_ledger_ok; /* what the last systemd STATUS said of the ledger */
	int exit_code;
};

/* Loads the config again and swaps it in; on errors the running config stays. Each error
 * (file:line: message) is appended to `errors` when it is not NULL. Returns 0 or -1. */
int daemon_reload(struct daemon *d, json_t *errors);
/* Control socket requests (ctl.c). */
json_t *ctl_handle(const char *line, size_t len, const struct control_peer *peer, void *userdata);
/* The gateway's status as the heartbeat and `firegwctl status` show it (new reference). */
json_t *ctl_status(struct daemon *d, bool full);
