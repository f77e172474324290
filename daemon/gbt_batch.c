/* SPDX-License-Identifier: MIT */
/* gbt_batch: the frames of one batch for a GB/T 26875.3 centre and what each completes. */
#include "gbt_batch.h"

#include <stdio.h>
#include <string.h>

#include "gbt_map.h"

void gbt_batch_clear(struct gbt_batch *b)
{
	b->nev = b->nadus = b->next = 0;
}

bool gbt_batch_busy(const struct gbt_batch *b)
{
	for (size_t i = 0; i < b->nev; i++)
		if (!b->ev[i].settled)
			return true;
	return false;
}

uint8_t gbt_batch_event_kinds(const struct gbt_batch_event *e)
{
	uint8_t kinds = e->skipped;

	for (int k = 0; k < 3; k++)
		if (e->frame_of[k])
			kinds |= (uint8_t)(1u << k);
	return kinds;
}

/* A frame of `type` in *slot, started if there is none yet and room for it. */
static struct gbt26875_adu *gbt_batch_adu(struct gbt_batch *b, struct gbt26875_adu **slot,
                                          uint8_t type)
{
	if (!*slot && b->nadus < GBT_BATCH_FRAMES) {
		*slot = &b->adus[b->nadus];
		b->adu_is_uitd[b->nadus++] = false;
		gbt26875_adu_start(*slot, type);
	}
	return *slot;
}

/* Event e has an object of `kind` (0, 1, 2: status, analog, UITD) in frame `a`: it is
 * complete only once that frame is confirmed. */
static void gbt_batch_mark(struct gbt_batch *b, struct gbt_batch_event *e,
                           const struct gbt26875_adu *a, int kind)
{
	uint8_t n = a ? (uint8_t)(a - b->adus + 1) : 0;

	e->frame_of[kind] = n;
	if (n > e->last_frame)
		e->last_frame = n;
	if (n)
		e->frames |= (uint8_t)(1u << (n - 1));
}

bool gbt_batch_add_uitd(struct gbt_batch *b, uint8_t status, const struct gbt26875_time *t)
{
	struct gbt26875_adu *a = NULL, *u;

	for (size_t i = b->next; i < b->nadus; i++)
		if (b->adu_is_uitd[i])
			return true; /* already queued */
	if (!(u = gbt_batch_adu(b, &a, GBT26875_T_UITD_STATUS)))
		return false;
	if (gbt26875_adu_add_uitd(u, status, t) != GBT26875_OK) {
		b->nadus--; /* no frame without its object */
		return false;
	}
	b->adu_is_uitd[b->nadus - 1] = true;
	return true;
}

size_t gbt_batch_build(struct gbt_batch *b, const struct conf *c, const struct conf_gbt26875 *g,
                       const struct outbox_item *items, size_t n, int64_t offset_ms,
                       bool uitd_due, uint8_t uitd, const struct gbt26875_time *now,
                       const struct gbt_batch_sent *sent, size_t nsent)
{
	struct gbt26875_adu *fire = NULL, *status = NULL, *analog = NULL, *ev_uitd = NULL;
	struct gbt_map_out o[GBT_BATCH_EVENTS];

	if (gbt_batch_busy(b) || b->nadus - b->next > 1)
		return 0; /* at most the UITD status may wait: five frames are room for the rest */
	/* What is still queued (a UITD status) moves to the front; the settled events go. */
	memmove(b->adus, b->adus + b->next, (b->nadus - b->next) * sizeof(b->adus[0]));
	memmove(b->adu_is_uitd, b->adu_is_uitd + b->next,
	        (b->nadus - b->next) * sizeof(b->adu_is_uitd[0]));
	b->nadus -= b->next;
	b->next = 0;
	b->nev = 0;
	if (n > GBT_BATCH_EVENTS)
		n = GBT_BATCH_EVENTS;
	for (size_t i = 0; i < n; i++) {
		struct gbt_batch_event *e = &b->ev[i];

		*e = (struct gbt_batch_event){.seq = items[i].seq};
		snprintf(e->event_id, sizeof(e->event_id), "%s", items[i].event_id);
		snprintf(e->hazard_id, sizeof(e->hazard_id), "%s", items[i].hazard_id);
		e->unreadable = gbt_map_event(c, g, items[i].body, offset_ms, &o[i]) < 0;
		for (size_t k = 0; k < nsent; k++)
			if (sent[k].seq == e->seq)
				e->skipped = sent[k].kinds;
		if (!e->unreadable && (e->skipped & GBT_OBJ_STATUS)) /* the centre has them */
			o[i].status = o[i].fire = false;
		if (!e->unreadable && (e->skipped & GBT_OBJ_ANALOG))
			o[i].analog = false;
		if (!e->unreadable && (e->skipped & GBT_OBJ_UITD))
			o[i].uitd = false;
		if (!e->unreadable && o[i].fire) {
			gbt26875_adu_add_status(gbt_batch_adu(b, &fire, GBT26875_T_COMPONENT_STATUS),
			                        &o[i].st);
			gbt_batch_mark(b, e, fire, 0);
		}
	}
	b->nev = n;
	if (uitd_due)
		(void)gbt_batch_add_uitd(b, uitd, now);
	for (size_t i = 0; i < n; i++) {
		struct gbt_batch_event *e = &b->ev[i];

		if (e->unreadable) {
			b->unreadable_events++;
			continue;
		}
		if (o[i].status && !o[i].fire) {
			gbt26875_adu_add_status(gbt_batch_adu(b, &status, GBT26875_T_COMPONENT_STATUS),
			                        &o[i].st);
			gbt_batch_mark(b, e, status, 0);
		}
		if (o[i].analog) {
			gbt26875_adu_add_analog(gbt_batch_adu(b, &analog, GBT26875_T_ANALOG), &o[i].an);
			gbt_batch_mark(b, e, analog, 1);
		}
		if (o[i].uitd && gbt_batch_adu(b, &ev_uitd, GBT26875_T_UITD_STATUS)) {
			if (ev_uitd->len == 2) /* one object: the newest condition wins below */
				gbt26875_adu_add_uitd(ev_uitd, o[i].uitd_status, &o[i].time);
			else
				ev_uitd->buf[2] = o[i].uitd_status;
			gbt_batch_mark(b, e, ev_uitd, 2);
		}
		b->out_of_range += o[i].out_of_range;
		b->no_frame_events += !o[i].status && !o[i].analog && !o[i].uitd && !e->skipped;
	}
	return n;
}

size_t gbt_batch_partial(const struct gbt_batch *b, struct gbt_batch_sent *out)
{
	size_t n = 0;

	for (size_t i = 0; i < b->nev; i++) {
		const struct gbt_batch_event *e = &b->ev[i];
		uint8_t kinds = e->skipped;

		for (int k = 0; k < 3; k++)
			if (e->frame_of[k] && e->frame_of[k] <= b->next)
				kinds |= (uint8_t)(1u << k);
		if (!e->settled && kinds)
			out[n++] = (struct gbt_batch_sent){e->seq, kinds};
	}
	return n;
}

const struct gbt26875_adu *gbt_batch_next(const struct gbt_batch *b)
{
	return b->next < b->nadus ? &b->adus[b->next] : NULL;
}

int gbt_batch_confirmed(struct gbt_batch *b)
{
	int told = -1;

	if (b->next >= b->nadus)
		return -1;
	if (b->adu_is_uitd[b->next])
		told = b->adus[b->next].buf[2];
	b->next++;
	return told;
}

size_t gbt_batch_settle(struct gbt_batch *b, size_t *idx)
{
	size_t n = 0;

	for (size_t i = 0; i < b->nev; i++) {
		struct gbt_batch_event *e = &b->ev[i];

		if (e->settled || e->last_frame > b->next)
			continue;
		e->settled = true;
		idx[n++] = i;
	}
	return n;
}

const char *gbt_batch_reason(const struct gbt_batch_event *e)
{
	if (e->refused)
		return "the monitoring centre denied its frame at every try, deny_limit times";
	return e->unreadable ? "not an event firegw can read" : NULL;
}

int64_t gbt_batch_next_key(const struct gbt_batch *b)
{
	int64_t key = -1;

	for (size_t i = 0; i < b->nev; i++)
		if (b->ev[i].frames & (1u << b->next) && !b->ev[i].settled &&
		    (key < 0 || b->ev[i].seq < key))
			key = b->ev[i].seq;
	return key;
}

size_t gbt_batch_refuse_next(struct gbt_batch *b)
{
	size_t n = 0;

	for (size_t i = 0; i < b->nev; i++)
		if (b->ev[i].frames & (1u << b->next) && !b->ev[i].settled) {
			b->ev[i].refused = true;
			b->ev[i].last_frame = 0; /* nothing more of it matters to the centre */
			n++;
		}
	b->refused_events += n;
	return n;
}
