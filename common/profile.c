/* SPDX-License-Identifier: MIT */
/* profile: the lookups and the freeing of a loaded profile (its types: profile.h). */
#include "profile.h"

#include <stdlib.h>
#include <string.h>

int point_words(enum point_type t)
{
	return t == PT_U16 || t == PT_S16 ? 1 : 2;
}

void profile_free(struct profile *p)
{
	if (!p)
		return;
	for (size_t i = 0; p->points && i < p->npoints; i++) {
		free(p->points[i].name);
		free(p->points[i].unit);
		free(p->points[i].pointer);
	}
	for (size_t i = 0; p->bits && i < p->nbits; i++) {
		free(p->bits[i].name);
		free(p->bits[i].point);
		free(p->bits[i].channel);
	}
	free(p->points);
	free(p->bits);
	struct mqtt_profile *m = &p->mqtt;
	for (size_t i = 0; m->subscribe && i < m->nsubscribe; i++)
		free(m->subscribe[i]);
	free(m->subscribe);
	free(m->key_pointer);
	free(m->event_pointer);
	free(m->timestamp_pointer);
	free(m->channel);
	for (size_t i = 0; m->events && i < m->nevents; i++) {
		free(m->events[i].code);
		free(m->events[i].channel);
	}
	free(m->events);
	free(p->name);
	free(p->file);
	free(p->description);
	free(p->model);
	free(p);
}

const struct mqtt_event *profile_event(const struct profile *p, const char *code)
{
	for (size_t i = 0; i < p->mqtt.nevents; i++)
		if (strcmp(p->mqtt.events[i].code, code) == 0)
			return &p->mqtt.events[i];
	return NULL;
}

const struct point *profile_point(const struct profile *p, const char *name)
{
	for (size_t i = 0; i < p->npoints; i++)
		if (strcmp(p->points[i].name, name) == 0)
			return &p->points[i];
	return NULL;
}
