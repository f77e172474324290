/* SPDX-License-Identifier: MIT */
/* modbus_scan: what answers at a Modbus unit id and which profiles' registers fit it, shared by
 * the standalone `firegw scan` (modbus_tools.c) and the daemon's scan on a bus worker
 * (control_scan.c): the unit range, the profiles to guess from, the one-unit question and the
 * device block a found unit proposes for the config. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "profile.h"

struct _modbus;

#define MODBUS_SCAN_UNIT_MIN       1
#define MODBUS_SCAN_UNIT_MAX       247
#define MODBUS_SCAN_TIMEOUT_MAX_MS 60000

/* s as a whole decimal number within lo..hi (no sign, no trailing text); false if it is not
 * one. *end, when given, may point past the number (for "N-M"). The scan's arguments and the
 * standalone tools' options are read with it. */
bool modbus_scan_number(const char *s, long lo, long hi, long *out, const char **end);

/* "N" or "N-M" within 1-247 into *from, *to; -1 if it is not one. */
int modbus_scan_parse_units(const char *s, int *from, int *to);

/* Every profile in dir, by name (NULL or unreadable: none); release with modbus_scan_profiles_free.
 */
size_t modbus_scan_profiles_load(const char *dir, struct profile ***out);
void modbus_scan_profiles_free(struct profile **ps, size_t n);

enum modbus_scan_answer {
	MODBUS_SCAN_SILENT,    /* no answer, or garbage: nobody sane there */
	MODBUS_SCAN_ANSWERS,   /* a reply or a Modbus exception: a unit is there */
	MODBUS_SCAN_LINK_DOWN, /* the link broke (errno says why) */
};

/* Asks `unit` for holding register 0 with that timeout: whether a unit is there. */
enum modbus_scan_answer modbus_scan_ask(struct _modbus *ctx, int unit, int timeout_ms);
/* Whether every read of profile p succeeds on `unit` (each waits 3 times the timeout). */
bool modbus_scan_fits(struct _modbus *ctx, int unit, int timeout_ms, const struct profile *p);
/* Both in one: asks `unit`; when it answers, fits[i] says whether profile ps[i] fits it (fits
 * may be NULL when n is 0). */
enum modbus_scan_answer modbus_scan_unit(struct _modbus *ctx, int unit, int timeout_ms,
                                         struct profile *const *ps, size_t n, bool *fits);

/* The config block a found unit proposes, into buf: the fitting profile that reads the most
 * points (a smaller profile fits any device that serves a larger one's registers), the other
 * fitting ones in a comment; "FILL IN" when none fits. */
void modbus_scan_snippet(char *buf, size_t len, const char *bus, int unit,
                         struct profile *const *ps, size_t n, const bool *fits);
