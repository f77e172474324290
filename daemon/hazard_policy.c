/* SPDX-License-Identifier: MIT */
/* hazard_policy: the county's rules on who may take a step of the closed loop and what a step
 * needs first: the roles per step (谁主管谁验收, 谁管总谁销号), the 五定 fields an item needs
 * before rectifying, a close only after a passed acceptance unless forced with a reason, and a
 * bound on deferrals. A refusal names the rule that refused. */
#include <stdio.h>
#include <string.h>

#include "hazard.h"
#include "hazard_int.h"

/* At most this many deferrals (无法按期整改) of one item: a bound on what a platform can grow. */
#define HAZARD_DEFERRALS_MAX 20

static bool hazard_policy_has(json_t *cmd, const struct hazard *h, enum policy_field f)
{
	const char *name = policy_field_name(f);
	json_t *v = json_object_get(cmd, name);

	if (f == FIELD_DEADLINE)
		return v || json_is_true(json_object_get(h->info, "deadline_by_platform"));
	if (!v)
		v = json_object_get(json_object_get(h->info, "platform"), name);
	return v && !json_is_null(v) && !(json_is_string(v) && json_string_length(v) == 0);
}

static const char *hazard_policy_fields(const struct policy *p, json_t *cmd,
                                        const struct hazard *h, char *why, size_t whylen)
{
	uint32_t want = p->require_fields[h->grade];
	size_t n;

	if (!want)
		return NULL;
	n = (size_t)snprintf(why, whylen, "a %s hazard needs", grade_name(h->grade));
	bool missing = false;
	for (int f = 0; f < FIELD_COUNT; f++) {
		if (!(want & (1u << f)) || hazard_policy_has(cmd, h, (enum policy_field)f))
			continue;
		if (n < whylen)
			n += (size_t)snprintf(why + n, whylen - n, "%s %s", missing ? "," : "",
			                      policy_field_name((enum policy_field)f));
		missing = true;
	}
	if (!missing)
		return NULL;
	if (n < whylen)
		snprintf(why + n, whylen - n, " before rectifying (policy.require_before_rectifying)");
	return why;
}

const char *hazard_policy_refuses(const struct policy *p, enum policy_step step, json_t *cmd,
                                  const struct hazard *h, char *why, size_t whylen)
{
	const char *role = json_string_value(json_object_get(cmd, "role"));
	/* An incident is closed by whoever verifies it (the duty officer), not by the hazard's
	 * close-out role (谁管总谁销号 is about 隐患). */
	enum policy_step rule =
	    step == STEP_CLOSE && h->iclass == ICLASS_INCIDENT ? STEP_VERIFY : step;

	if (!policy_role_allowed(p, rule, role)) {
		snprintf(why, whylen, "role '%.40s' may not %s (policy.roles.%s)", role ? role : "",
		         policy_step_name(step), policy_step_name(rule));
		return why;
	}
	if (step == STEP_ASSIGN)
		return hazard_policy_fields(p, cmd, h, why, whylen);
	if (step == STEP_DEFER &&
	    json_array_size(json_object_get(h->info, "deferrals")) >= HAZARD_DEFERRALS_MAX)
		return "deferred 20 times already: the county decides what next";
	if (step != STEP_CLOSE || h->iclass == ICLASS_INCIDENT)
		return NULL;
	/* 挂牌督办 with a report due before close: the close carries it. */
	json_t *sv = json_object_get(h->info, "supervision");
	json_t *report = json_object_get(cmd, "report");
	if (json_is_true(json_object_get(sv, "report_before_close")) &&
	    (!report || json_is_null(report) || (json_is_string(report) && !json_string_length(report))))
		return "a supervised item (挂牌督办) closes with its report (report_before_close)";
	json_t *force = json_object_get(cmd, "force");
	const char *reason = json_string_value(json_object_get(cmd, "reason"));
	if (json_is_true(force))
		return reason && *reason ? NULL : "a forced close needs a reason";
	const char *result = json_string_value(
	    json_object_get(json_object_get(h->info, "acceptance"), "result"));
	if (p->close_requires_acceptance && !(result && strcmp(result, "passed") == 0) &&
	    h->status != HSTATUS_CLOSED)
		return "close needs a passed acceptance first (hazard.acceptance), or force with a "
		       "reason (policy.close_requires_acceptance)";
	return NULL;
}
