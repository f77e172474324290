/* SPDX-License-Identifier: MIT */
/* gbt_map: what one ledger event becomes for a fire monitoring centre over GB/T 26875.3
 * (docs/gbt26875.md sections 3 and 4): a component status object (type 2) with its codes,
 * address and GB 18030 description, an analog value (type 3) for the reading of an electrical
 * condition, a UITD status (type 21) for the gateway's own condition, or nothing. Pure: the
 * event's JSON, the config and the centre's keys in, objects out. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "gbt26875_adu.h"

struct conf;
struct conf_gbt26875;

struct gbt_map_out {
	bool status;      /* st is an object to send */
	bool fire;        /* ... and it is a fire alarm (sent before anything else) */
	bool analog;      /* an is an object to send */
	bool uitd;        /* uitd_status is to send (type 21) */
	bool out_of_range;/* a reading did not fit its analog unit: not sent */
	struct gbt26875_component_status st;
	struct gbt26875_analog an;
	uint8_t uitd_status;
	struct gbt26875_time time;
};

/* A Unix time as the gateway's local time on the wire; a clock outside the years the protocol
 * can carry (never set after a power cut: 1970) gives 2000-01-01 00:00:00 (or the last second
 * of 2255), so that what happened is still sent, with a time a centre sees is wrong. */
void gbt_map_time(int64_t unix_s, struct gbt26875_time *t);

/* Maps one outbox event (its stored JSON). offset_ms is added to the event's time (an applied
 * clock sync). Returns 0 (out says what to send; nothing for an event the centre has no frame
 * for: a workflow step, a test alarm), or -1 for a body that cannot be read. */
int gbt_map_event(const struct conf *c, const struct conf_gbt26875 *g, const char *body,
                  int64_t offset_ms, struct gbt_map_out *out);
