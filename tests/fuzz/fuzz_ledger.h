/* SPDX-License-Identifier: MIT */
/* fuzz_ledger: the scratch ledger the command and control-request harnesses run against, made
 * once per process under $TMPDIR: gateway GW-F, the clock fixed at FUZZ_T0, default policy, an
 * open item (GW-F-000001, residual current), a cleared one (GW-F-000002, fire alarm) and a
 * closed one (GW-F-000003, overtemperature). Header-only: each harness is one file. */
#pragma once

#include <stdio.h>
#include <stdlib.h>

#include "clock.h"
#include "hazard.h"
#include "ledger.h"
#include "policy.h"

#define FUZZ_T0 1795000000000LL

static void fuzz_ledger_observe(struct ledger *l, const struct policy *pol, const char *device,
                                const char *point, enum kind kind)
{
	struct hazard_obs o = {.device = device,
	                       .point = point,
	                       .kind = kind,
	                       .level = LEVEL_ALARM,
	                       .value = 350,
	                       .threshold = 300,
	                       .unit = "mA",
	                       .wall_ms = FUZZ_T0};
	struct hazard h;
	enum hazard_outcome out;

	if (hazard_observe(l, pol, &o, &h, &out) != 0)
		abort();
	item_finish(&h);
}

/* Opens the scratch ledger with its three items, committed; aborts on any failure. */
static struct ledger *fuzz_ledger_open(const char *tag, struct policy *pol)
{
	const char *tmp = getenv("TMPDIR");
	char dir[4096];
	struct ledger_open_info info;
	struct ledger *l;
	enum hazard_outcome out;
	json_t *close;

	snprintf(dir, sizeof(dir), "%s/fuzz-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", tag);
	if (!mkdtemp(dir))
		abort();
	clock_set_fake(1000, FUZZ_T0);
	policy_defaults(pol);
	if (ledger_open(&l, dir, "GW-F", &info) != 0 || ledger_begin(l) != 0)
		abort();
	fuzz_ledger_observe(l, pol, "box", "leak", KIND_RESIDUAL_CURRENT);
	fuzz_ledger_observe(l, pol, "smoke-1", "smoke", KIND_FIRE_ALARM);
	fuzz_ledger_observe(l, pol, "box", "t1", KIND_OVERTEMPERATURE);
	if (hazard_clear(l, "smoke-1", "smoke", KIND_FIRE_ALARM, FUZZ_T0 + 1000, false, &out) < 0)
		abort();
	close = json_pack("{s:s, s:s, s:s}", "id", "setup-close", "type", "hazard.close",
	                  "hazard_id", "GW-F-000003");
	char why[192];

	if (hazard_apply_command(l, pol, close, FUZZ_T0 + 2000, why, sizeof(why)) != 0 ||
	    ledger_commit(l) != 0)
		abort();
	json_decref(close);
	return l;
}
