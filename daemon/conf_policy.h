/* SPDX-License-Identifier: MIT */
/* conf_policy: the config's `policy` section (conf_policy.c). */
#pragma once

#include <confuse.h>

#include "conf_parse.h"
#include "policy.h"

extern cfg_opt_t conf_policy_opts[];

/* Fills the options made from the kind and step names; once, before the schema is used. */
void conf_policy_schema_init(void);
/* The policy of the parsed file (its defaults where it says nothing); each mistake reported
 * at its line through p. policy->calendar is left for conf_calendar_read. */
void conf_policy_read(struct conf_parse *p, struct policy *policy);
