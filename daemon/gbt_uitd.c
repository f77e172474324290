/* SPDX-License-Identifier: MIT */
/* gbt_uitd: the gateway's own status, version, configuration text and operation records. */
#include "gbt_uitd.h"

#include <stdio.h>

#include "conf.h"
#include "ledger.h"
#include "firegw-config.h"

static int gbt_uitd_item(struct hazard *h, void *userdata)
{
	uint8_t *s = userdata;

	if (h->test)
		return 0;
	if (h->kind == KIND_FIRE_ALARM)
		*s |= GBT26875_UITD_FIRE;
	else if (h->kind == KIND_SENSOR_FAULT || h->kind == KIND_DEVICE_OFFLINE ||
	         h->kind == KIND_DEVICE_FAULT || h->kind == KIND_LEDGER_CORRUPT)
		*s |= GBT26875_UITD_FAULT;
	return 0;
}

uint8_t gbt_uitd_status(struct ledger *l)
{
	uint8_t s = 0;

	if (ledger_hazard_foreach_open(l, true, gbt_uitd_item, &s) < 0)
		s |= GBT26875_UITD_FAULT; /* the ledger cannot be read: a fault of the UITD */
	return s ? s : GBT26875_UITD_NORMAL;
}

void gbt_uitd_version(void *ctx, uint8_t *major, uint8_t *minor)
{
	unsigned a = 0, b = 0;

	(void)ctx;
	if (sscanf(FIREGW_VERSION, "%u.%u", &a, &b) != 2)
		a = b = 0;
	*major = (uint8_t)a;
	*minor = (uint8_t)b;
}

size_t gbt_uitd_config(const struct conf *c, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "firegw %s gateway=%s devices=%zu", FIREGW_VERSION,
	                 c->gateway_id, c->ndevices);

	return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

size_t gbt_uitd_operations(void *ctx, const struct gbt26875_time *from, size_t max,
                           struct gbt26875_operation *out)
{
	(void)ctx, (void)from, (void)max, (void)out;
	return 0; /* an unattended gateway has no operator's key presses to report */
}
