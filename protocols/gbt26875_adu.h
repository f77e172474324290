/* SPDX-License-Identifier: MIT */
/* gbt26875_adu: the application data units of GB/T 26875.3 (docs/gbt26875.md): build the
 * objects firegw sends (component status with its GB 18030 description, analog values, UITD
 * status and the answers to the centre's reads), read them back, and decode the control and
 * read frames a monitoring centre sends. Pure functions on bounded buffers. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gbt26875.h"

/* Application data units: a type flag, an object count, then the objects. */
struct gbt26875_adu {
	size_t len;
	uint8_t buf[GBT26875_MAX_ADU];
};

struct gbt26875_system_status {
	uint8_t sys_type, sys_addr;
	uint16_t status;
	struct gbt26875_time time;
};

struct gbt26875_component_status {
	uint8_t sys_type, sys_addr, comp_type;
	uint32_t comp_addr;
	uint16_t status;
	uint8_t desc[GBT26875_DESC_LEN]; /* GB 18030, NUL padded (gbt26875_adu_desc) */
	struct gbt26875_time time;
};

struct gbt26875_analog {
	uint8_t sys_type, sys_addr, comp_type;
	uint32_t comp_addr;
	uint8_t analog_type;
	int16_t value;
	struct gbt26875_time time;
};

struct gbt26875_operation {
	uint8_t flags, operator_id;
	struct gbt26875_time time;
};

/* Object size and the most objects of one type in an ADU; 0 for a type firegw does not send. */
size_t gbt26875_adu_object_size(uint8_t type);
size_t gbt26875_adu_object_max(uint8_t type);

/* Starts an ADU of the given type with no object. */
enum gbt26875_err gbt26875_adu_start(struct gbt26875_adu *a, uint8_t type);
/* Appends one object; NO_ROOM when the ADU has the most objects of its type, BAD_TYPE when the
 * ADU is of another type, BAD_TIME for an event time that is not a calendar time. */
enum gbt26875_err gbt26875_adu_add_system(struct gbt26875_adu *a,
                                          const struct gbt26875_system_status *o);
enum gbt26875_err gbt26875_adu_add_status(struct gbt26875_adu *a,
                                          const struct gbt26875_component_status *o);
enum gbt26875_err gbt26875_adu_add_analog(struct gbt26875_adu *a, const struct gbt26875_analog *o);
enum gbt26875_err gbt26875_adu_add_uitd(struct gbt26875_adu *a, uint8_t status,
                                        const struct gbt26875_time *t);
enum gbt26875_err gbt26875_adu_add_operation(struct gbt26875_adu *a,
                                             const struct gbt26875_operation *o);
/* The single-object answers: software version (25), configuration text (26, at most 255
 * bytes, sent as given), system time (28). Each starts the ADU itself. */
enum gbt26875_err gbt26875_adu_version(struct gbt26875_adu *a, uint8_t major, uint8_t minor);
enum gbt26875_err gbt26875_adu_config(struct gbt26875_adu *a, const void *text, size_t n);
enum gbt26875_err gbt26875_adu_time(struct gbt26875_adu *a, const struct gbt26875_time *t);

/* UTF-8 -> GB 18030 into the 31-byte description, cut on a character boundary, NUL padded.
 * BAD_TEXT for invalid UTF-8: out then holds what came before it (still sendable). */
enum gbt26875_err gbt26875_adu_desc(const char *utf8, uint8_t out[GBT26875_DESC_LEN]);

/* Reads objects back out of an ADU (tests, the fuzzer, logs): checks the type and that the
 * size is exactly 2 + count * object size. */
enum gbt26875_err gbt26875_adu_check(const uint8_t *adu, size_t len, uint8_t *type,
                                     size_t *count);
enum gbt26875_err gbt26875_adu_get_status(const uint8_t *adu, size_t len, size_t i,
                                          struct gbt26875_component_status *o);
enum gbt26875_err gbt26875_adu_get_analog(const uint8_t *adu, size_t len, size_t i,
                                          struct gbt26875_analog *o);

/* A control (1) or request (4) from the centre, decoded. */
struct gbt26875_control {
	uint8_t type;                /* 81, 84, 85, 86, 88, 89, 90, 91 */
	struct gbt26875_time time;   /* 90: the time to set; 84: the first record's time */
	uint8_t records;             /* 84: how many operation records */
	uint8_t timeout_min;         /* 91: the answer timeout in minutes, as sent */
};

/* Decodes the ADU of a control or request frame. BAD_TYPE for a type firegw does not answer
 * (deny it), BAD_LENGTH for a wrong size, BAD_TIME for a clock sync that is not a time. The
 * command must match the type: 1 for 89, 90, 91; 4 for the reads (BAD_COMMAND otherwise). */
enum gbt26875_err gbt26875_adu_control_decode(uint8_t cmd, const uint8_t *adu, size_t len,
                                          struct gbt26875_control *c);
/* The frames a centre sends, for tests and the simulator's checks: clock sync, roll call and
 * the reads with their reserved byte. */
enum gbt26875_err gbt26875_adu_control(struct gbt26875_adu *a, const struct gbt26875_control *c);
