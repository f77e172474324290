/* SPDX-License-Identifier: MIT */
/* conf_platform: the config's `platform` blocks (conf_platform.c). */
#pragma once

#include <confuse.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf_gbt26875.h"
#include "conf_parse.h"

/* One destination: `platform "name" { ... }` (a `platform { ... }` without a name is named
 * "platform"). */
struct platform_conf {
	char *name;      /* the ledger's destination name */
	char label[64];  /* "platform" or "platform 'name'", for messages */
	uint32_t types;  /* the event types it wants: bits of ledger_event_types, 0 = all */
	uint32_t kinds;  /* bit per enum kind, 0 = all */
	uint32_t grades; /* bit per enum grade, 0 = all */
	bool enabled;
	char *transport; /* "https", "mqtt" or "gbt26875" */
	char *url;
	char *token_file;
	char *ca_file, *cert_file, *key_file, *pin;
	int batch;
	int64_t heartbeat_ms, timeout_ms, connect_timeout_ms;
	int64_t backoff_max_ms; /* cap of the retry backoff (Retry-After may ask for longer) */
	/* transport "mqtt": url is mqtt://host[:port] or mqtts://host[:port] (TLS); the password
	 * is read from password_file, else from token_file. Events go to
	 * {topic_prefix}/{gateway}/events. */
	char *topic_prefix; /* without a trailing '/' */
	char *username, *password_file;
	char *mqtt_host;
	int mqtt_port;
	bool mqtt_tls;
	int64_t keepalive_ms; /* MQTT keepalive: a dead broker is noticed within 1.5 times it */
	/* mqtt:// with a password: accepted only when set (warned at every start). */
	bool insecure_plaintext;
	/* transport "gbt26875": the centre's keys (conf_gbt26875.h), NULL otherwise. */
	struct conf_gbt26875 *gbt;
};

extern cfg_opt_t conf_platform_opts[];

/* Every platform block of the parsed file (the unnamed block first, named "platform"), *n of
 * them, or NULL when out of memory; each mistake reported at its line through p.
 * device_known(ctx, id) says whether a device of that id is configured (a per-device code of
 * a centre names a device). */
struct platform_conf *conf_platform_read(struct conf_parse *p, conf_gbt26875_device_fn device_known,
                                         const void *ctx, size_t *n);
