/* SPDX-License-Identifier: MIT */
/* uplink_mqtt: forwarding the ledger to the county platform through an MQTT broker cluster
 * (platform transport = "mqtt", docs/platform-api.md section 12). It owns its own broker connection (client
 * id firegw-<gateway>-uplink, persistent session, QoS 1): each outbox event goes as one message
 * to {prefix}/{gateway}/events, up to `batch` of them waiting for their PUBACK at a time, in
 * the outbox's order; an event leaves the outbox when the broker acknowledges it (the PUBACKs
 * of one loop turn in one transaction). Commands come on {prefix}/{gateway}/commands, are
 * applied once each, and their results go to {prefix}/{gateway}/command_results; the heartbeat
 * goes to {prefix}/{gateway}/heartbeat; every (re)connect queues a resync of the open items. */
#pragma once

#include <stdbool.h>
#include <uv.h>

#include "conf.h"
#include "ledger.h"
#include "uplink.h"

struct uplink_mqtt;

/* NULL with the reason logged if the uplink cannot run. *fatal is set when the daemon must not
 * start (a password or token file readable by others); a missing file only keeps the uplink
 * off (alarms are recorded and wait in the outbox). */
struct uplink_mqtt *uplink_mqtt_new(uv_loop_t *loop, const struct conf *c,
                          const struct platform_conf *pc, struct ledger *l,
                                    const struct uplink_hooks *hooks, bool *fatal);
void uplink_mqtt_free(struct uplink_mqtt *u);
/* New events may be in the outbox: publish them if the window has room. Safe on NULL. */
void uplink_mqtt_kick(struct uplink_mqtt *u);
/* The same figures as the HTTPS uplink's, for status: requests are messages published,
 * accepted events acknowledged by the broker, failures connection attempts failed in a row. */
const struct uplink_stats *uplink_mqtt_stats(struct uplink_mqtt *u);
