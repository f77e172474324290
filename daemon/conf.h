/* SPDX-License-Identifier: MIT */
/* conf: the site's configuration. It owns the libconfuse schema, the parse of the main file
 * and its includes, every check (values, ranges and cross-references, each reported as
 * file:line: message) and the plain structs the rest of firegw reads. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "conf_errors.h"
#include "conf_platform.h"
#include "policy.h"
#include "modbus_bus.h"
#include "profile.h"

struct device_conf {
	char *id;
	char *bus; /* Modbus devices */
	int unit;
	char *key; /* MQTT devices: the key their messages carry */
	char *profile;
	char *location;
	char *model;
	int64_t interval_ms;
	int64_t timeout_ms;
	int retries;
	int offline_after;            /* failed polls in a row that make device_offline */
	int64_t heartbeat_timeout_ms; /* MQTT: silence that makes device_offline */
	struct setpoints *rules;      /* per point of the profile, overrides applied */
	const struct profile *prof;   /* resolved */
	const struct bus_conf *busp;
	int line;
	char *file;
};

struct site_conf {
	char *county, *town, *village, *unit, *address;
	char *responsible, *responsible_phone, *acceptor, *acceptor_phone;
};

struct mqtt_conf {
	bool enabled;
	char *host;
	int port;
	char *client_id;
	char *username, *password_file;
	bool tls;
	char *ca_file, *cert_file, *key_file;
	int64_t keepalive_ms;
};

/* What the ledger keeps (the retention section). */
struct retention_conf {
	int keep_months;   /* the history of a closed, delivered item: kept this long */
	int64_t max_bytes; /* the ledger's size cap (pages in use), 0 none */
};

struct conf {
	char *path;
	char *gateway_id;
	char *data_dir;
	char *profile_dir;
	char *control_socket;
	char *log_level;
	char *language; /* gateway.language: "zh_CN", "en", or "" for the locale's */
	int64_t watchdog_ms;
	struct site_conf site;
	struct policy policy;
	struct bus_conf *buses;
	size_t nbuses;
	struct device_conf *devices;
	size_t ndevices;
	struct profile **profiles;
	size_t nprofiles;
	char **bad_profiles; /* names that failed to load, reported once */
	size_t nbad_profiles;
	struct platform_conf *platforms; /* every platform block, in the config's order */
	size_t nplatforms;
	struct mqtt_conf mqtt;
	struct workday_cal *calendar; /* the calendar sections; policy.calendar points here */
	struct retention_conf retention;
};

/* Parses and checks `path`. Returns a conf, or NULL with every problem in errs. */
struct conf *conf_load(const char *path, struct conf_errors *errs);
void conf_free(struct conf *c);
const struct device_conf *conf_device(const struct conf *c, const char *id);
/* A serial rate a bus may have (the standard ones, 1200 to 921600). */
bool conf_baud_valid(long baud);
