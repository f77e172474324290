/* SPDX-License-Identifier: MIT */
/* mqtt_in: the daemon's side of MQTT input. It starts the MQTT client with the subscriptions
 * of the profiles its devices use, finds the device of each message by its key, has the
 * profile's mapping read it, and turns it into readings for the ingest queue (values, event
 * codes, silences, tests and the sign of life that keeps device_offline away). It keeps each
 * MQTT device's live status (why no data, last values, counters) and the messages it could
 * not use: unknown devices (counted and logged once per key), payloads that are not JSON, of
 * the wrong type, too big, not UTF-8, or with unknown codes (counted per device, logged once,
 * never a hazard), and stale retained messages. The message callback only queues: no SQLite
 * work is done in it. The broker's PUBACK of a message is held back until the ingest has
 * committed what the message became, so that a kill in between never loses it: the broker
 * still has it and sends it again. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "conf.h"
#include "ingest.h"
#include "log.h"
#include "mqtt_client.h"
#include "mqtt_map.h"

enum mqtt_why {
	MQTT_WHY_PENDING, /* nothing heard since start */
	MQTT_WHY_OK,
	MQTT_WHY_BAD, /* the last message could not be used: see err */
};

struct mqtt_dev_status {
	const struct device_conf *dc;
	enum mqtt_why why;
	enum mqtt_map_err err;   /* of the last unusable message */
	int64_t last_heard_wall; /* 0: never */
	int64_t last_heard_mono;
	uint64_t messages;             /* attributed to this device */
	uint64_t errors[MM_ERR_COUNT]; /* unusable messages, by reason */
	uint64_t stale;                /* retained messages older than what was seen */
	uint64_t events;               /* event codes applied */
	double *values;                /* profile order, NAN before the first */
	bool live_seen;                /* a message not retained was seen */
	bool have_ts;
	int64_t last_ts; /* newest device timestamp seen, Unix ms */
	struct log_state log;
};

struct mqtt_in_stats {
	uint64_t messages;       /* received */
	uint64_t unknown_device; /* with a key no device has */
	uint64_t unknown_keys;   /* distinct such keys */
	uint64_t unmatched;      /* on a topic no profile subscribes to */
	uint64_t no_key;         /* no device key could be found */
	uint64_t no_key_by_reason[MM_ERR_COUNT]; /* those, by what failed first */
	uint64_t dropped;        /* readings the ingest queue refused */
	bool paused;
};

struct mqtt_in;

/* Starts MQTT input for the config's MQTT devices (those with a key). With none, nothing is
 * started and an empty mqtt_in is returned. NULL only when out of memory; a client that
 * cannot be set up (unreadable password file, bad TLS files) is logged and left out. */
struct mqtt_in *mqtt_in_start(uv_loop_t *loop, const struct conf *c, struct ingest *in);
/* Commits what was taken (the broker has not been told yet), then disconnects. */
void mqtt_in_stop(struct mqtt_in *m);
/* The ingest committed a batch: the broker may now be told of every message in it. */
void mqtt_in_committed(struct mqtt_in *m);
size_t mqtt_in_devices(const struct mqtt_in *m);
const struct mqtt_dev_status *mqtt_in_device(const struct mqtt_in *m, size_t i);
const struct mqtt_in_stats *mqtt_in_stats(const struct mqtt_in *m);
/* The broker connection, NULL when no client runs. */
const struct mqtt_client_stats *mqtt_in_client(const struct mqtt_in *m);
/* Heard from within its heartbeat timeout. */
bool mqtt_in_online(const struct mqtt_dev_status *s, int64_t mono_ms);
