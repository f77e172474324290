/* SPDX-License-Identifier: MIT */
/* mqtt_map: what an MQTT message says, by its profile. Pure functions on a topic and a payload:
 * the payload's bounds (size, UTF-8, JSON), the device key (a topic level or a JSON field),
 * the profile's points by JSON pointer with their type and scale, the event code looked up in
 * the profile's table, and the device's own timestamp. No I/O and no state, so that it can be
 * unit-tested and fuzzed; the daemon side (device lookup, counters, readings) is mqtt_in.c. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profile.h"

/* A payload larger than this is refused unread. */
#define MQTT_MAP_MAX_PAYLOAD (16 * 1024)
#define MQTT_MAP_KEY_LEN     64

enum mqtt_map_err {
	MM_OK,
	MM_TOO_BIG,      /* payload over MQTT_MAP_MAX_PAYLOAD */
	MM_UTF8,         /* not valid UTF-8 */
	MM_NOT_JSON,     /* not JSON */
	MM_NOT_OBJECT,   /* JSON, but not an object or array */
	MM_NO_KEY,       /* the device key is missing or unusable */
	MM_BAD_TYPE,     /* a field of the wrong type, or a value out of range */
	MM_UNKNOWN_CODE, /* an event code the profile's table does not have */
	MM_ERR_COUNT
};

const char *mqtt_map_err_name(enum mqtt_map_err e);

struct mqtt_decoded {
	enum mqtt_map_err err;
	char detail[160];               /* what was wrong, for the log */
	double *values;                 /* caller's array, one per profile point: NAN when absent */
	size_t nvalues;                 /* values present */
	const struct mqtt_event *event; /* the code's entry, NULL when the message has none */
	char code[32];
	bool have_ts;
	int64_t ts_ms; /* the device's timestamp, Unix ms */
};

/* RFC 6901 syntax: "" or "/a/0/b~1c". */
bool mqtt_map_pointer_valid(const char *ptr);
/* The value at `ptr` in `root`, borrowed; NULL if there is none. */
json_t *mqtt_map_pointer(json_t *root, const char *ptr);
/* MQTT topic filter syntax: '+' and '#' alone in their level, '#' last. */
bool mqtt_map_filter_valid(const char *filter);
bool mqtt_map_topic_matches(const char *filter, const char *topic);
/* Levels of a topic or filter ("a/b/c" has 3). */
int mqtt_map_topic_levels(const char *topic);
bool mqtt_map_utf8_valid(const char *s, size_t n);

/* Checks the payload's bounds and parses it. Returns a new reference (json_decref it), or
 * NULL with out->err and out->detail set. */
json_t *mqtt_map_parse(const void *payload, size_t len, struct mqtt_decoded *out);
/* The device key, from the topic (key_level) or from root (key_pointer; root may be NULL when
 * the payload did not parse). Returns 0, or -1 with out->err and out->detail set. */
int mqtt_map_key(const struct mqtt_profile *m, const char *topic, json_t *root, char *key,
                 size_t keylen, struct mqtt_decoded *out);
/* Reads the profile's points, event code and timestamp from root into out (out->values must
 * hold p->npoints doubles). Returns 0, or -1 with out->err and out->detail set: then nothing
 * of the message may be used. */
int mqtt_map_decode(const struct profile *p, json_t *root, struct mqtt_decoded *out);
