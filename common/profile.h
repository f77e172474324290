/* SPDX-License-Identifier: MIT */
/* profile: what a detector model is, as data. Its points (where each value lives in the
 * device's registers or payload, its type, scale and unit), its status bits (alarm, pre-alarm,
 * fault, open and short per channel) and the default rules of the model (setpoints, hold
 * times, clear levels). A profile with an `mqtt` section describes a model that reports over
 * MQTT: its subscriptions, where the device key is, its points read by JSON pointer and its
 * event-code table. Profiles are libconfuse files under config/profiles/, named by file.
 * This header is the types alone, below the protocol code that reads points
 * (protocols/modbus_map, protocols/mqtt_map); daemon/profile_load reads the files. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

enum point_fn { FN_HOLDING, FN_INPUT, FN_COIL, FN_DISCRETE };
enum point_type { PT_U16, PT_S16, PT_U32, PT_S32, PT_F32 };

/* The rules of one analog point: the condition rises at `prealarm` / `alarm` / `high`
 * (or falls below them when `below`), after `hold_ms`, and clears at `clear` after
 * `clear_hold_ms`. A setpoint of NAN is not used. */
struct setpoints {
	int kind; /* enum kind, or -1: a plain value with no rule */
	double prealarm, alarm, high, clear;
	bool below;
	int64_t hold_ms, clear_hold_ms;
};

/* How an MQTT point's JSON value is read. */
enum json_vtype {
	JV_NUMBER, /* a JSON number */
	JV_BOOL,   /* true / false (or 0 / 1): 1 or 0 */
	JV_STRING, /* a number written as a string, "23.5" */
};

struct point {
	char *name;
	enum point_fn fn;
	int address;
	enum point_type type;
	char *pointer; /* MQTT: JSON pointer of the value (RFC 6901), NULL for Modbus */
	enum json_vtype jtype;
	bool word_swap; /* 32-bit values: low word first */
	double scale, offset;
	char *unit;
	struct setpoints rule;
	int line;
};

/* One bit of a status point that means a condition on a channel. */
struct status_bit {
	char *name;
	char *point; /* the status register's point name */
	int bit;
	enum kind kind;
	enum level level;
	char *channel; /* the hazard's point: the channel the bit speaks of */
	int line;
};

/* One entry of an MQTT event-code table: what a code means. A kind is -1 when unused. */
struct mqtt_event {
	char *code; /* as written: "1", "alarm" */
	int raise;  /* the condition is present */
	enum level level;
	int silence;    /* recorded on the open item of this kind; it stays open and active */
	int test;       /* a commissioning test of this kind: a test item, raised and cleared */
	uint32_t clear; /* bit per enum kind: these conditions are gone */
	char *channel;  /* the hazard's point */
	int line;
};

struct mqtt_profile {
	bool enabled;     /* the profile has an mqtt section: its devices report over MQTT */
	char **subscribe; /* topic filters, with + and # */
	size_t nsubscribe;
	int key_level;           /* the device key is this topic level (1 = first), or 0 */
	char *key_pointer;       /* ... or this JSON pointer's value */
	char *event_pointer;     /* JSON pointer of the event code, or NULL */
	char *timestamp_pointer; /* JSON pointer of the device's timestamp, or NULL */
	char *channel;           /* channel of events that name none */
	struct mqtt_event *events;
	size_t nevents;
};

struct profile {
	char *name;
	char *file;
	char *description;
	char *model;
	int max_block; /* registers read in one request at most */
	struct point *points;
	size_t npoints;
	struct status_bit *bits;
	size_t nbits;
	struct mqtt_profile mqtt;
};

void profile_free(struct profile *p);
const struct point *profile_point(const struct profile *p, const char *name);
/* The event-code table entry for `code`, NULL if the table has none. */
const struct mqtt_event *profile_event(const struct profile *p, const char *code);
/* Number of registers (16-bit words) a point of this type takes. */
int point_words(enum point_type t);
