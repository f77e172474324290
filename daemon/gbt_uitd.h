/* SPDX-License-Identifier: MIT */
/* gbt_uitd: what the gateway says of itself as a GB/T 26875.3 user information transmission
 * device (UITD, docs/gbt26875.md sections 4 and 5): its status bits (type 21) from the
 * ledger's open items, its software version (25), its configuration text (26) and its
 * operation records (24: none, an unattended gateway has no operator). The centre reads
 * them through gbt26875_link's callbacks; the transport also sends the status unasked. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "gbt26875_adu.h"

struct conf;
struct ledger;

/* b1 fire alarm, b2 fault (test alarms aside), else b0 normal; b2 when the ledger cannot be
 * read. */
uint8_t gbt_uitd_status(struct ledger *l);
/* firegw's version as major, minor (ctx unused: the link's callback as it is). */
void gbt_uitd_version(void *ctx, uint8_t *major, uint8_t *minor);
/* "firegw VERSION gateway=ID devices=N"; its length (at most cap - 1). */
size_t gbt_uitd_config(const struct conf *c, char *buf, size_t cap);
/* No operation records (ctx unused: the link's callback as it is). */
size_t gbt_uitd_operations(void *ctx, const struct gbt26875_time *from, size_t max,
                           struct gbt26875_operation *out);
