/* SPDX-License-Identifier: MIT */
/* conf_policy: the config's `policy` section, the county's rules as data (common/policy.h):
 * grades, deadlines (in days or working days), escalation or its suggestion, recurrence,
 * worsening bands, incidents and the false-alarm rule, who may take each step, the fields an
 * item needs before rectifying, and the stages' own limits. Its schema and its reading, each
 * mistake reported at its line. */
#include "conf_policy.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "i18n.h"
#include "workday.h"

/* One option per kind, filled at first use from the kind names. */
static cfg_opt_t grades_opts[KIND_COUNT + 3];
static cfg_opt_t escalation_opts[KIND_COUNT + 1];
static cfg_opt_t worsening_opts[KIND_COUNT + 1];
static cfg_opt_t roles_opts[STEP_COUNT + 1];
static cfg_opt_t require_opts[] = {
    CFG_STR_LIST("immediate", NULL, CFGF_NODEFAULT),
    CFG_STR_LIST("major", NULL, CFGF_NODEFAULT),
    CFG_STR_LIST("significant", NULL, CFGF_NODEFAULT),
    CFG_STR_LIST("general", NULL, CFGF_NODEFAULT),
    CFG_END(),
};
static cfg_opt_t deadline_opts[] = {
    CFG_STR("immediate", NULL, CFGF_NONE),
    CFG_STR("major", NULL, CFGF_NONE),
    CFG_STR("significant", NULL, CFGF_NONE),
    CFG_STR("general", NULL, CFGF_NONE),
    CFG_END(),
};

static cfg_opt_t false_alarm_opts[] = {
    CFG_INT("count", 3, CFGF_NONE),
    CFG_STR("window", "30d", CFGF_NONE),
    CFG_END(),
};

static cfg_opt_t stages_opts[] = {
    CFG_STR("order", "3wd", CFGF_NONE),
    CFG_STR("acceptance", "5wd", CFGF_NONE),
    CFG_END(),
};

cfg_opt_t conf_policy_opts[] = {
    CFG_SEC("grades", grades_opts, CFGF_NONE),
    CFG_SEC("deadlines", deadline_opts, CFGF_NONE),
    CFG_SEC("escalation", escalation_opts, CFGF_NONE),
    CFG_STR("recurrence_window", "30d", CFGF_NONE),
    CFG_BOOL("offline_autoclose", cfg_false, CFGF_NONE),
    CFG_BOOL("auto_regrade", cfg_false, CFGF_NONE),
    CFG_SEC("worsening", worsening_opts, CFGF_NONE),
    CFG_STR_LIST("incidents", "{fire_alarm}", CFGF_NONE),
    CFG_SEC("false_alarms", false_alarm_opts, CFGF_NONE),
    CFG_SEC("roles", roles_opts, CFGF_NONE),
    CFG_SEC("require_before_rectifying", require_opts, CFGF_NONE),
    CFG_BOOL("close_requires_acceptance", cfg_false, CFGF_NONE),
    CFG_SEC("stages", stages_opts, CFGF_NONE),
    CFG_END(),
};

void conf_policy_schema_init(void)
{
	size_t n = 0;

	for (int k = 0; k < KIND_COUNT; k++)
		grades_opts[n++] = (cfg_opt_t)CFG_STR(kind_name((enum kind)k), NULL, CFGF_NONE);
	grades_opts[n++] = (cfg_opt_t)CFG_STR("prealarm", NULL, CFGF_NONE);
	grades_opts[n++] = (cfg_opt_t)CFG_STR("high", NULL, CFGF_NONE);
	grades_opts[n] = (cfg_opt_t)CFG_END();
	for (int k = 0; k < KIND_COUNT; k++)
		escalation_opts[k] = (cfg_opt_t)CFG_STR(kind_name((enum kind)k), NULL, CFGF_NONE);
	escalation_opts[KIND_COUNT] = (cfg_opt_t)CFG_END();
	for (int k = 0; k < KIND_COUNT; k++)
		worsening_opts[k] =
		    (cfg_opt_t)CFG_FLOAT_LIST(kind_name((enum kind)k), NULL, CFGF_NODEFAULT);
	worsening_opts[KIND_COUNT] = (cfg_opt_t)CFG_END();
	for (int s = 0; s < STEP_COUNT; s++)
		roles_opts[s] =
		    (cfg_opt_t)CFG_STR_LIST(policy_step_name((enum policy_step)s), NULL, CFGF_NODEFAULT);
	roles_opts[STEP_COUNT] = (cfg_opt_t)CFG_END();
}

static int conf_grade_opt(struct conf_parse *p, cfg_t *sec, const char *opt, int dflt)
{
	const char *v = cfg_getstr(sec, opt);
	int g;

	if (!v)
		return dflt;
	g = grade_from_name(v);
	if (g < 0) {
		conf_parse_error(p, sec, opt,
		                 _("policy: grade '%s' for %s is not one of immediate, major, "
		                 "significant, general"),
		                 v, opt);
		return dflt;
	}
	return g;
}

/* Policy durations are kept in seconds: refuse what would round to nothing. */
static int64_t conf_policy_s(struct conf_parse *p, cfg_t *sec, const char *opt, int64_t dflt_s)
{
	int64_t ms = conf_parse_duration_opt(p, sec, opt, dflt_s * 1000);

	if (ms > 0 && ms < 1000) {
		conf_parse_error(p, sec, opt,
		                 _("policy: %s = \"%s\" is under a second; policy "
		                 "durations are whole seconds or longer"),
		                 opt, cfg_getstr(sec, opt));
		return dflt_s;
	}
	return ms / 1000;
}

/* policy.worsening: per kind, up to POLICY_BANDS_MAX values in rising order; an empty list
 * turns the kind's worsened events off. */
static void conf_read_worsening(struct conf_parse *p, cfg_t *w, struct policy *x)
{
	for (int k = 0; k < KIND_COUNT; k++) {
		const char *name = kind_name((enum kind)k);
		unsigned n = cfg_size(w, name);

		if (!conf_parse_isset(p, w, name))
			continue;
		if (n > POLICY_BANDS_MAX) {
			conf_parse_error(p, w, name, _("policy: worsening %s has %u bands; at most %d"),
			                 name, n, POLICY_BANDS_MAX);
			continue;
		}
		for (unsigned i = 0; i < n; i++) {
			double v = cfg_getnfloat(w, name, i);
			if (!(v > 0) || (i > 0 && v <= x->worsen_band[k][i - 1])) {
				conf_parse_error(p, w, name,
				                 _("policy: worsening %s: bands must be above 0 and rising"),
				                 name);
				n = 0;
				break;
			}
			x->worsen_band[k][i] = v;
		}
		x->nworsen_bands[k] = (int)n;
	}
}

/* policy.incidents (the kinds whose items are 警情) and policy.false_alarms (the rule that
 * turns a detector's repeated false alarms into a hazard). */
static void conf_read_incidents(struct conf_parse *p, cfg_t *pol, struct policy *x)
{
	cfg_t *fa = cfg_getsec(pol, "false_alarms");
	unsigned n = cfg_size(pol, "incidents");

	memset(x->incident, 0, sizeof(x->incident));
	for (unsigned i = 0; i < n; i++) {
		const char *name = cfg_getnstr(pol, "incidents", i);
		int k = kind_from_name(name);

		if (k < 0 || k == KIND_REPEATED_FALSE_ALARM || k == KIND_LEDGER_CORRUPT)
			conf_parse_error(p, pol, "incidents",
			                 _("policy: incidents: '%s' is not a kind a detector reports"), name);
		else
			x->incident[k] = true;
	}
	int count = conf_parse_int(fa, "count");
	if (count < 0 || count > 1000)
		conf_parse_error(p, fa, "count",
		                 _("policy: false_alarms count = %d is outside 0 (never) to 1000"), count);
	else
		x->false_alarm_limit = count;
	x->false_alarm_window_s = conf_policy_s(p, fa, "window", x->false_alarm_window_s);
	if (x->false_alarm_window_s <= 0)
		conf_parse_error(p, fa, "window", _("policy: false_alarms window must be longer than 0"));
}

/* A limit written "0" (none), "30", "30d" or "5wd". False when it is none of these. */
static bool conf_policy_span(struct conf_parse *p, cfg_t *sec, const char *opt,
                             struct policy_span *out)
{
	const char *s = cfg_getstr(sec, opt);

	(void)p;
	if (!s)
		return false;
	if (strcmp(s, "0") == 0) {
		*out = (struct policy_span){0, false};
		return true;
	}
	return workday_parse_span(s, &out->n, &out->working) == 0;
}

/* policy.roles (who may take each step), policy.require_before_rectifying (the 五定 fields per
 * grade) and policy.close_requires_acceptance. */
static void conf_read_steps(struct conf_parse *p, cfg_t *pol, struct policy *x)
{
	cfg_t *roles = cfg_getsec(pol, "roles");
	cfg_t *req = cfg_getsec(pol, "require_before_rectifying");

	for (int s = 0; s < STEP_COUNT; s++) {
		const char *step = policy_step_name((enum policy_step)s);
		unsigned n = cfg_size(roles, step);

		if (n > POLICY_ROLES_MAX) {
			conf_parse_error(p, roles, step, _("policy: roles %s names %u roles; at most %d"),
			                 step, n, POLICY_ROLES_MAX);
			n = 0;
		}
		for (unsigned i = 0; i < n; i++) {
			const char *r = cfg_getnstr(roles, step, i);
			if (!r || !*r || strlen(r) >= POLICY_ROLE_LEN) {
				conf_parse_error(p, roles, step,
				                 _("policy: roles %s: a role is 1 to %d bytes"), step,
				                 POLICY_ROLE_LEN - 1);
				continue;
			}
			snprintf(x->roles[s][x->nroles[s]++], POLICY_ROLE_LEN, "%s", r);
		}
	}
	for (int g = 0; g < GRADE_COUNT; g++) {
		const char *grade = grade_name((enum grade)g);
		unsigned n = cfg_size(req, grade);

		for (unsigned i = 0; i < n; i++) {
			const char *f = cfg_getnstr(req, grade, i);
			int bit = policy_field_from_name(f);
			if (bit < 0)
				conf_parse_error(p, req, grade,
				                 _("policy: require_before_rectifying %s: '%s' is not one of "
				                   "responsible, department, measures, funds, deadline, "
				                   "contingency_plan, target, interim_measures, plan"),
				                 grade, f ? f : "");
			else
				x->require_fields[g] |= 1u << bit;
		}
	}
	x->close_requires_acceptance = cfg_getbool(pol, "close_requires_acceptance");
	cfg_t *st = cfg_getsec(pol, "stages");
	if (!conf_policy_span(p, st, "order", &x->order_within))
		conf_parse_error(p, st, "order",
		                 _("policy: stages order = \"%s\" is not \"0\" (none), days (\"3d\") "
		                   "or working days (\"3wd\")"),
		                 cfg_getstr(st, "order"));
	if (!conf_policy_span(p, st, "acceptance", &x->acceptance_within))
		conf_parse_error(p, st, "acceptance",
		                 _("policy: stages acceptance = \"%s\" is not \"0\" (none), days "
		                   "(\"5d\") or working days (\"5wd\")"),
		                 cfg_getstr(st, "acceptance"));
}

void conf_policy_read(struct conf_parse *p, struct policy *x)
{
	cfg_t *pol = cfg_getsec(p->cfg, "policy");
	cfg_t *gr = cfg_getsec(pol, "grades");
	cfg_t *dl = cfg_getsec(pol, "deadlines");
	cfg_t *es = cfg_getsec(pol, "escalation");

	policy_defaults(x);
	for (int k = 0; k < KIND_COUNT; k++) {
		x->grade[k] =
		    (enum grade)conf_grade_opt(p, gr, kind_name((enum kind)k), x->grade[k]);
		x->escalate_s[k] = conf_policy_s(p, es, kind_name((enum kind)k), x->escalate_s[k]);
	}
	x->prealarm_grade = (enum grade)conf_grade_opt(p, gr, "prealarm", x->prealarm_grade);
	x->high_grade = (enum grade)conf_grade_opt(p, gr, "high", x->high_grade);
	for (int g = 0; g < GRADE_COUNT; g++) {
		const char *name = grade_name((enum grade)g);

		struct policy_span wd;
		if (conf_policy_span(p, dl, name, &wd) && wd.working) {
			x->deadline_wd[g] = wd.n;
			x->deadline_s[g] = (int64_t)wd.n * 86400; /* for what only needs a length */
			continue;
		}
		x->deadline_s[g] = conf_policy_s(p, dl, name, x->deadline_s[g]);
		if (conf_parse_isset(p, dl, name) && x->deadline_s[g] <= 0)
			conf_parse_error(p, dl, name,
			                 _("policy: the %s deadline must be longer than 0"), name);
	}
	x->recurrence_s = conf_policy_s(p, pol, "recurrence_window", x->recurrence_s);
	x->offline_autoclose = cfg_getbool(pol, "offline_autoclose");
	x->auto_regrade = cfg_getbool(pol, "auto_regrade");
	conf_read_worsening(p, cfg_getsec(pol, "worsening"), x);
	conf_read_incidents(p, pol, x);
	conf_read_steps(p, pol, x);
}
