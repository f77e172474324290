/* SPDX-License-Identifier: MIT */
/* item: the fields of a ledger item, its status names and its JSON snapshot. */
#include "item.h"

#include <string.h>

#include "jsonfmt.h"

static const char *const item_status_names[] = {
    [HSTATUS_OPEN] = "open",
    [HSTATUS_ACKNOWLEDGED] = "acknowledged",
    [HSTATUS_RECTIFYING] = "rectifying",
    [HSTATUS_PENDING_ACCEPTANCE] = "pending_acceptance",
    [HSTATUS_CLOSED] = "closed",
};

void item_init(struct hazard *h)
{
	memset(h, 0, sizeof(*h));
}

void item_finish(struct hazard *h)
{
	json_decref(h->info);
	h->info = NULL;
}

const char *item_status_name(enum hstatus s)
{
	return (unsigned)s <= HSTATUS_CLOSED ? item_status_names[s] : "unknown";
}

const char *item_class_name(enum iclass c)
{
	return c == ICLASS_INCIDENT ? "incident" : "hazard";
}

int item_class_from_name(const char *s)
{
	if (s && strcmp(s, "incident") == 0)
		return ICLASS_INCIDENT;
	if (s && strcmp(s, "hazard") == 0)
		return ICLASS_HAZARD;
	return -1;
}

int item_status_from_name(const char *s)
{
	for (int i = 0; i <= HSTATUS_CLOSED; i++)
		if (s && strcmp(s, item_status_names[i]) == 0)
			return i;
	return -1;
}

json_t *item_to_json(const struct hazard *h)
{
	json_t *o = json_object();

	/* Site, location, device details and people first; the ledger's own fields win. */
	if (h->info)
		json_object_update(o, h->info);
	json_object_set_new(o, "id", json_string(h->id));
	json_object_set_new(o, "class", json_string(item_class_name(h->iclass)));
	json_object_set_new(o, "kind", json_string(kind_name(h->kind)));
	json_object_set_new(o, "grade", json_string(grade_name(h->grade)));
	json_object_set_new(o, "status", json_string(item_status_name(h->status)));
	json_object_set_new(o, "title", json_string(h->title));
	json_object_set_new(o, "device_id", json_string(h->device));
	json_object_set_new(o, "point", json_string(h->point));
	json_object_set_new(o, "active", json_boolean(h->active));
	json_object_set_new(o, "value", jsonfmt_number(h->value));
	json_object_set_new(o, "peak", jsonfmt_number(h->peak));
	json_object_set_new(o, "threshold", jsonfmt_number(h->threshold));
	json_object_set_new(o, "unit", json_string(h->unit));
	json_object_set_new(o, "occurrences", json_integer(h->occurrences));
	json_object_set_new(o, "escalations", json_integer(h->escalations));
	json_object_set_new(o, "first_seen", jsonfmt_time(h->first_seen));
	json_object_set_new(o, "last_seen", jsonfmt_time(h->last_seen));
	json_object_set_new(o, "cleared_at", jsonfmt_time(h->cleared_at));
	json_object_set_new(o, "closed_at", jsonfmt_time(h->closed_at));
	json_object_set_new(o, "deadline", jsonfmt_time(h->deadline));
	json_object_set_new(o, "overdue", json_boolean(h->overdue));
	json_object_set_new(o, "recurrence_of",
	                    h->recurrence_of[0] ? json_string(h->recurrence_of) : json_null());
	json_object_set_new(o, "suspect_rectification", json_boolean(h->suspect_rectification));
	json_object_set_new(o, "test", json_boolean(h->test));
	return o;
}
