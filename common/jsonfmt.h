/* SPDX-License-Identifier: MIT */
/* jsonfmt: values as firegw's JSON writes them, for every module that writes JSON. */
#pragma once

#include <jansson.h>
#include <stdint.h>

/* A wall time (ISO 8601, UTC, ms), null when 0 (never). */
json_t *jsonfmt_time(int64_t wall_ms);
/* A number, null when it is not finite (no reading yet). */
json_t *jsonfmt_number(double v);
