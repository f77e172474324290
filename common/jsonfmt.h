/* SPDX-License-Identifier: MIT */
/* jsonfmt: values as firegw's JSON writes them, for every module that writes JSON, and a whole
 * number read back from a reply by firegwctl and firegw-web. */
#pragma once

#include <jansson.h>
#include <stdint.h>

/* A wall time (ISO 8601, UTC, ms), null when 0 (never). */
json_t *jsonfmt_time(int64_t wall_ms);
/* A number, null when it is not finite (no reading yet). */
json_t *jsonfmt_number(double v);
/* o's member key as a whole number: an integer as it is, a real cut toward zero; 0 when it is
 * absent, not a number, or outside long long (a broken reply: never undefined behaviour). */
long long jsonfmt_int(json_t *o, const char *key);
