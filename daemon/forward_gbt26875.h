/* SPDX-License-Identifier: MIT */
/* forward_gbt26875: the destination that is a fire monitoring centre over GB/T 26875.3-2011
 * (docs/gbt26875.md): a TCP client that turns the outbox events of its destination into
 * frames (fire alarms first), waits for each confirm (answer timeout, tries, same serial),
 * settles the events for this destination in the ledger once confirmed, sends a heartbeat
 * when idle, reconnects with backoff, and answers the centre's control and read frames. Its
 * interface is as narrow as the HTTPS uplink's: start, stop, kick, stats, status. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <uv.h>

#include "conf.h"
#include "ledger.h"
#include "forward.h"

struct gbt_fwd;

/* NULL (with the reason logged) when the block cannot be used or memory runs out. */
struct gbt_fwd *gbt_fwd_start(uv_loop_t *loop, const struct conf *c,
                              const struct platform_conf *pc, struct ledger *l);
void gbt_fwd_stop(struct gbt_fwd *f);
/* New events may be in the outbox: send soon, unless an exchange is in flight or backing off. */
void gbt_fwd_kick(struct gbt_fwd *f);
const struct forward_stats *gbt_fwd_stats(const struct gbt_fwd *f);
/* The link to the centre for `firegwctl status` (new reference). */
json_t *gbt_fwd_status_json(const struct gbt_fwd *f);
