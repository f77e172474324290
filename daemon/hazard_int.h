/* SPDX-License-Identifier: MIT */
/* hazard_int: what the two halves of the lifecycle (hazard.c, the gateway's; hazard_command.c,
 * the platform's) share and nobody else calls. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "hazard.h"

struct ledger;

/* Stores the item (insert or update) and appends its event for every destination that wants
 * it. */
int hazard_record(struct ledger *l, struct hazard *h, const char *type, int64_t wall_ms,
                  bool insert);
/* The deadline of grade `g` counted from `from_ms`; 0 (none) for an incident. */
int64_t hazard_deadline(const struct policy *p, const struct hazard *h, enum grade g,
                        int64_t from_ms);
/* hazard_policy.c: why the county's rules refuse this step of this item (the reason, in `why`
 * or static), or NULL. */
const char *hazard_policy_refuses(const struct policy *p, enum policy_step step, json_t *cmd,
                                  const struct hazard *h, char *why, size_t whylen);
