/* SPDX-License-Identifier: MIT */
/* modbus_map: read planning and value decoding for Modbus points. */
#include "modbus_map.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct modbus_map_span {
	size_t point;
	enum point_fn fn;
	int start, words;
};

static int modbus_map_span_cmp(const void *a, const void *b)
{
	const struct modbus_map_span *x = a, *y = b;

	if (x->fn != y->fn)
		return x->fn < y->fn ? -1 : 1;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return 0;
}

int modbus_map_plan_build(const struct profile *p, struct modbus_map_plan *out)
{
	struct modbus_map_span *spans;
	size_t n = p->npoints;
	int max = p->max_block > 0 ? p->max_block : 1;

	memset(out, 0, sizeof(*out));
	spans = calloc(n ? n : 1, sizeof(*spans));
	out->blocks = calloc(n ? n : 1, sizeof(*out->blocks));
	out->point_block = calloc(n ? n : 1, sizeof(*out->point_block));
	out->point_offset = calloc(n ? n : 1, sizeof(*out->point_offset));
	out->npoints = n;
	if (!spans || !out->blocks || !out->point_block || !out->point_offset) {
		free(spans);
		modbus_map_plan_free(out);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		const struct point *pt = &p->points[i];
		bool bits = pt->fn == FN_COIL || pt->fn == FN_DISCRETE;

		spans[i] =
		    (struct modbus_map_span){i, pt->fn, pt->address, bits ? 1 : point_words(pt->type)};
		if (spans[i].words > max) {
			free(spans);
			modbus_map_plan_free(out);
			return -EINVAL;
		}
	}
	qsort(spans, n, sizeof(*spans), modbus_map_span_cmp);
	for (size_t i = 0; i < n; i++) {
		struct modbus_map_span *s = &spans[i];
		struct modbus_map_block *b = out->n ? &out->blocks[out->n - 1] : NULL;
		int end = s->start + s->words;

		/* Join the current block when the whole span still fits in one request. */
		if (!b || b->fn != s->fn || end - b->start > max) {
			b = &out->blocks[out->n++];
			b->fn = s->fn;
			b->start = s->start;
			b->count = s->words;
		} else if (end - b->start > b->count) {
			b->count = end - b->start;
		}
		out->point_block[s->point] = out->n - 1;
		out->point_offset[s->point] = s->start - b->start;
	}
	free(spans);
	return 0;
}

void modbus_map_plan_free(struct modbus_map_plan *plan)
{
	free(plan->blocks);
	free(plan->point_block);
	free(plan->point_offset);
	memset(plan, 0, sizeof(*plan));
}

double modbus_map_decode_regs(const struct point *pt, const uint16_t *regs)
{
	uint16_t hi = regs[0], lo = 0;
	double raw;

	if (point_words(pt->type) == 2) {
		lo = regs[1];
		if (pt->word_swap) {
			uint16_t t = hi;

			hi = lo;
			lo = t;
		}
	}
	switch (pt->type) {
	case PT_U16:
		raw = hi;
		break;
	case PT_S16:
		raw = (int16_t)hi;
		break;
	case PT_U32:
		raw = ((uint32_t)hi << 16) | lo;
		break;
	case PT_S32:
		raw = (int32_t)(((uint32_t)hi << 16) | lo);
		break;
	case PT_F32: {
		uint32_t u = ((uint32_t)hi << 16) | lo;
		float f;

		memcpy(&f, &u, sizeof(f)); /* IEEE 754, high word first after the swap above */
		raw = f;
		break;
	}
	default:
		raw = hi;
	}
	raw = raw * pt->scale + pt->offset;
	/* An f32 infinity or NaN from the device (or a scale that overflows) is no reading, as
	 * NaN: it must not reach the rules as a value above every setpoint. */
	return isfinite(raw) ? raw : NAN;
}

double modbus_map_decode_bit(const struct point *pt, uint8_t bit)
{
	return (bit ? 1.0 : 0.0) * pt->scale + pt->offset;
}
