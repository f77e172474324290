/* SPDX-License-Identifier: MIT */
/* web_metrics: firegw's figures in the Prometheus text format (version 0.0.4), made from the
 * daemon's reply to {"cmd":"status"}: devices online and offline, polls and failures and the
 * last readings per device, open hazards by grade, the outbox per lane and per destination
 * with the age of its oldest event, uplink requests and outcomes, the ledger's events, dead
 * letters and failed commits, disk free. Pure: no socket, no daemon; label values (device
 * ids, point names, units, destination names come from the config) are escaped as the format
 * asks. */
#pragma once

#include <jansson.h>

#include "web_buf.h"

/* Appends the metrics of status (NULL: firegw did not answer; then only firegw_up 0). */
void web_metrics_text(struct web_buf *b, json_t *status);
