/* SPDX-License-Identifier: MIT */
/* gbt_batch: the frames one batch of outbox events makes for a GB/T 26875.3 centre, in the
 * order they go (fire alarms, the UITD status when due, other component states, analog
 * values, the UITD status events changed), and which events each confirmed frame completes.
 * It does no I/O: forward_gbt26875.c sends the frames and settles what this says. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "conf_gbt26875.h"
#include "gbt26875_adu.h"
#include "ledger.h"

/* Events per batch: each makes at most one component status and one analog value, and a
 * frame holds at most 22 of the former. */
#define GBT_BATCH_EVENTS 20
/* fire, UITD (connect or change), other status, analog, UITD of an event */
#define GBT_BATCH_FRAMES 5

/* The objects one event makes, by kind. */
enum { GBT_OBJ_STATUS = 1, GBT_OBJ_ANALOG = 2, GBT_OBJ_UITD = 4 };

/* An event the centre has part of: the kinds of its objects already confirmed (sent again
 * whole, after a fire alarm overtook the rest of its batch or the connection dropped, its
 * status would reach the centre twice). */
struct gbt_batch_sent {
	int64_t seq;
	uint8_t kinds;
};

struct gbt_batch_event {
	int64_t seq;
	char event_id[40], hazard_id[HAZARD_ID_LEN];
	bool unreadable;    /* its body could not be read: a dead letter */
	bool refused;       /* a frame of it was given up (deny_limit): a dead letter */
	bool settled;       /* handed to the core */
	uint8_t last_frame; /* 1 + the last frame holding one of its objects; 0: none */
	uint8_t frames;     /* bit i: frame i holds one of its objects */
	uint8_t frame_of[3]; /* 1 + the frame of its status, analog, UITD object; 0: none */
	uint8_t skipped;     /* GBT_OBJ_*: confirmed before, not sent again */
};

struct gbt_batch {
	struct gbt_batch_event ev[GBT_BATCH_EVENTS];
	size_t nev;
	struct gbt26875_adu adus[GBT_BATCH_FRAMES];
	bool adu_is_uitd[GBT_BATCH_FRAMES];
	size_t nadus, next; /* adus[0..next) are confirmed */
	/* counters, for status */
	uint64_t no_frame_events, out_of_range, unreadable_events, refused_events;
};

/* No events, no frames (the counters stay). */
void gbt_batch_clear(struct gbt_batch *b);
/* True while an event of the batch is not settled (a frame left without one, the UITD status,
 * does not hold the next batch back). */
bool gbt_batch_busy(const struct gbt_batch *b);
/* Every kind of object event e has, sent or left out (GBT_OBJ_*). */
uint8_t gbt_batch_event_kinds(const struct gbt_batch_event *e);
/* Queues the UITD status frame (after what is queued) unless one is queued and unconfirmed.
 * Returns false if there is no room. */
bool gbt_batch_add_uitd(struct gbt_batch *b, uint8_t status, const struct gbt26875_time *t);
/* The frames of up to GBT_BATCH_EVENTS events, queued after what is queued (at most a UITD
 * status); with `uitd_due`, the UITD status `uitd` goes right after the fire alarms. The
 * objects `sent` says the centre has are left out. The batch must not be busy (its settled
 * events are forgotten); 0 if it is. Returns how many events it took. */
size_t gbt_batch_build(struct gbt_batch *b, const struct conf *c, const struct conf_gbt26875 *g,
                       const struct outbox_item *items, size_t n, int64_t offset_ms,
                       bool uitd_due, uint8_t uitd, const struct gbt26875_time *now,
                       const struct gbt_batch_sent *sent, size_t nsent);
/* The events not settled of which the centre has confirmed some objects (theirs, and those
 * left out as `sent` when the batch was built), into out (GBT_BATCH_EVENTS); returns how many. */
size_t gbt_batch_partial(const struct gbt_batch *b, struct gbt_batch_sent *out);
/* The frame to send next, NULL when every queued frame is confirmed. */
const struct gbt26875_adu *gbt_batch_next(const struct gbt_batch *b);
/* The frame sent next was confirmed. Returns the UITD status it told the centre, or -1. */
int gbt_batch_confirmed(struct gbt_batch *b);
/* The events every confirmed frame has completed and not yet handed over, as indexes of ev
 * (at most GBT_BATCH_EVENTS), marked settled; the caller accepts those that are neither
 * unreadable nor refused and rejects the others (gbt_batch_reason). Returns how many. */
size_t gbt_batch_settle(struct gbt_batch *b, size_t *idx);
/* Why an event is rejected, NULL if it is not. */
const char *gbt_batch_reason(const struct gbt_batch_event *e);
/* The first event (lowest seq) the next frame carries, -1 if none (a UITD status alone). */
int64_t gbt_batch_next_key(const struct gbt_batch *b);
/* The next frame is given up: its events are refused (settled now, as dead letters, whatever
 * their other frames); returns how many. */
size_t gbt_batch_refuse_next(struct gbt_batch *b);
