/* SPDX-License-Identifier: MIT */
/* acquire: bus workers in, readings and device status out. */
#include "acquire.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "i18n.h"
#include "log.h"

struct acquire {
	const struct conf *conf;
	struct ingest *ingest;
	struct modbus_bus **buses;
	size_t nbuses;
	struct dev_status *devs;
	size_t ndevs;
	uint64_t dropped;
};

static struct dev_status *acquire_find(struct acquire *a, const struct modbus_bus_device *dev)
{
	return dev->index < a->ndevs ? &a->devs[dev->index] : NULL;
}

/* A reading the full queue refuses is counted and logged by the ingest (ingest_push). */
static void acquire_push(struct acquire *a, const struct reading *rd)
{
	if (ingest_push(a->ingest, rd) != 0)
		a->dropped++;
}

static bool acquire_is_status(const struct profile *p, const struct point *pt)
{
	for (size_t i = 0; i < p->nbits; i++)
		if (strcmp(p->bits[i].point, pt->name) == 0)
			return true;
	return false;
}

/* What the bus worker needs of a configured device. */
static struct modbus_bus_device acquire_mb_device(const struct device_conf *d, size_t index)
{
	return (struct modbus_bus_device){d->id,         d->unit,    d->interval_ms, d->timeout_ms,
	                          d->retries,    d->prof,    index};
}

static void acquire_on_result(const struct modbus_bus_result *r, void *userdata)
{
	struct acquire *a = userdata;
	struct dev_status *s = acquire_find(a, r->dev);
	const struct profile *p = r->dev->prof;
	const struct device_conf *dc = s ? s->dc : NULL;
	struct reading rd = {.mono_ms = r->mono_ms, .wall_ms = r->wall_ms};
	char what[160], detail[160];

	if (!s)
		return;
	snprintf(rd.device, sizeof(rd.device), "%s", r->dev->id);
	s->polls++;
	s->why = r->why;
	s->code = r->code;
	s->last_poll_mono = r->mono_ms;
	s->backoff_ms = r->backoff_ms;
	if (r->ok) {
		s->last_ok_wall = r->wall_ms;
		rd.type = READING_VALUE;
		/* Status words first: a probe fault read in this poll must be known before the
		 * probe's own value is judged. */
		for (int pass = 0; pass < 2; pass++) {
			for (size_t i = 0; p && i < r->nvalues && i < p->npoints; i++) {
				if (acquire_is_status(p, &p->points[i]) != (pass == 0))
					continue;
				s->values[i] = r->values[i];
				if (isnan(r->values[i]))
					continue;
				snprintf(rd.point, sizeof(rd.point), "%s", p->points[i].name);
				rd.value = r->values[i];
				acquire_push(a, &rd);
			}
		}
	} else {
		s->failures++;
		if (r->why == MB_WHY_TIMEOUT)
			s->timeouts++;
		else if (r->why == MB_WHY_EXCEPTION)
			s->exceptions++;
		else if (r->why == MB_WHY_CRC)
			s->crc_errors++;
		else if (r->why == MB_WHY_LINK)
			s->link_errors++;
	}
	rd.type = READING_POLL;
	rd.ok = r->ok;
	rd.point[0] = '\0';
	acquire_push(a, &rd);

	snprintf(what, sizeof(what), "device '%s' (unit %d on bus '%s')", dc->id, dc->unit,
	         dc->bus);
	if (r->why == MB_WHY_EXCEPTION)
		snprintf(detail, sizeof(detail), "Modbus exception %d", r->code);
	else if (r->why == MB_WHY_LINK)
		snprintf(detail, sizeof(detail), "link down (%s)", strerror(r->code));
	else
		snprintf(detail, sizeof(detail), "%s", modbus_bus_why_name(r->why));
	log_state_report(&s->log, r->ok ? 0 : (int)r->why * 1000 + r->code, what, detail);
}

struct acquire *acquire_start(uv_loop_t *loop, const struct conf *c, struct ingest *in)
{
	struct acquire *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->conf = c;
	a->ingest = in;
	a->ndevs = c->ndevices;
	a->devs = calloc(a->ndevs ? a->ndevs : 1, sizeof(*a->devs));
	a->buses = calloc(c->nbuses ? c->nbuses : 1, sizeof(*a->buses));
	if (!a->devs || !a->buses) {
		acquire_stop(a);
		return NULL;
	}
	for (size_t i = 0; i < a->ndevs; i++) {
		struct dev_status *s = &a->devs[i];
		size_t n = c->devices[i].prof ? c->devices[i].prof->npoints : 0;

		s->dc = &c->devices[i];
		s->why = MB_WHY_PENDING;
		s->values = calloc(n ? n : 1, sizeof(double));
		if (!s->values) {
			log_err(_("device '%s': out of memory for its values; Modbus polling not "
			        "started"),
			        s->dc->id);
			acquire_stop(a);
			return NULL;
		}
		for (size_t k = 0; k < n; k++)
			s->values[k] = NAN;
	}
	struct modbus_bus_device *devs = calloc(a->ndevs ? a->ndevs : 1, sizeof(*devs));
	if (!devs) {
		acquire_stop(a);
		return NULL;
	}
	for (size_t b = 0; b < c->nbuses; b++) {
		size_t n = 0;

		for (size_t i = 0; i < c->ndevices; i++)
			if (c->devices[i].busp == &c->buses[b])
				devs[n++] = acquire_mb_device(&c->devices[i], i);
		if (n == 0) {
			log_notice(_("bus '%s' has no device; not polled"), c->buses[b].name);
			continue;
		}
		a->buses[a->nbuses] =
		    modbus_bus_start(loop, &c->buses[b], devs, n, acquire_on_result, a);
		if (a->buses[a->nbuses])
			a->nbuses++;
	}
	free(devs);
	return a;
}

void acquire_stop(struct acquire *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->nbuses; i++)
		modbus_bus_stop(a->buses[i]);
	free(a->buses);
	for (size_t i = 0; a->devs && i < a->ndevs; i++)
		free(a->devs[i].values);
	free(a->devs);
	free(a);
}

size_t acquire_devices(const struct acquire *a)
{
	return a ? a->ndevs : 0;
}

const struct dev_status *acquire_device(const struct acquire *a, size_t i)
{
	return a && i < a->ndevs ? &a->devs[i] : NULL;
}

struct modbus_bus *acquire_bus(const struct acquire *a, const char *name)
{
	for (size_t i = 0; a && i < a->nbuses; i++)
		if (strcmp(modbus_bus_conf(a->buses[i])->name, name) == 0)
			return a->buses[i];
	return NULL;
}
