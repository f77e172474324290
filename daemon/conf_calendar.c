/* SPDX-License-Identifier: MIT */
/* conf_calendar: the holiday calendar sections of the config (conf_calendar.h). */
#include "conf_calendar.h"

#include <stdlib.h>
#include <time.h>

#include "clock.h"
#include "i18n.h"
#include "log.h"
#include "workday.h"

cfg_opt_t conf_calendar_opts[] = {
    CFG_STR_LIST("holidays", NULL, CFGF_NODEFAULT),
    CFG_STR_LIST("workdays", NULL, CFGF_NODEFAULT),
    CFG_END(),
};

static void conf_calendar_days(struct conf_parse *p, cfg_t *sec, const char *opt, int year,
                               bool work, struct workday_cal *cal)
{
	for (unsigned i = 0; i < cfg_size(sec, opt); i++) {
		const char *s = cfg_getnstr(sec, opt, i);
		struct workday_date a, b;

		if (workday_parse_range(s, &a, &b) < 0)
			conf_parse_error(p, sec, opt,
			                 _("calendar \"%d\": %s: '%s' is not a date (2026-10-01) or a "
			                   "range of dates (2026-10-01..2026-10-07)"),
			                 year, opt, s ? s : "");
		else if (a.year != year || b.year != year)
			conf_parse_error(p, sec, opt,
			                 _("calendar \"%d\": %s: '%s' is not in %d (one section per "
			                   "year)"),
			                 year, opt, s, year);
		else
			workday_cal_set(cal, a, b, work);
	}
}

/* Whether any limit of the policy counts working days. */
static bool conf_calendar_needed(const struct policy *x)
{
	for (int g = 0; g < GRADE_COUNT; g++)
		if (x->deadline_wd[g] > 0)
			return true;
	return (x->order_within.n > 0 && x->order_within.working) ||
	       (x->acceptance_within.n > 0 && x->acceptance_within.working);
}

struct workday_cal *conf_calendar_read(struct conf_parse *p, struct policy *policy)
{
	unsigned n = cfg_size(p->cfg, "calendar");
	struct workday_cal *cal;

	if (n == 0)
		return NULL; /* working days are Monday to Friday */
	cal = workday_cal_new();
	if (!cal) {
		conf_parse_error(p, p->cfg, NULL, _("out of memory"));
		return NULL;
	}
	for (unsigned i = 0; i < n; i++) {
		cfg_t *sec = cfg_getnsec(p->cfg, "calendar", i);
		const char *title = cfg_title(sec);
		char *end;
		long year = strtol(title ? title : "", &end, 10);

		if (!title || *end || year < 1970 || year > 9999 ||
		    workday_cal_cover(cal, (int)year) < 0) {
			conf_parse_error(p, sec, NULL,
			                 _("calendar \"%s\": the title is a year (calendar \"2026\"), at "
			                   "most %d of them"),
			                 title ? title : "", WORKDAY_MAX_YEARS);
			continue;
		}
		/* Make-up working days after the holidays: a range of holidays may span a weekend
		 * that is partly worked. */
		conf_calendar_days(p, sec, "holidays", (int)year, false, cal);
		conf_calendar_days(p, sec, "workdays", (int)year, true, cal);
	}
	policy->calendar = cal;
	if (!conf_calendar_needed(policy))
		return cal;
	time_t now = (time_t)(clock_wall_ms() / 1000), soon = now + 30 * 86400;
	struct tm t, s;
	localtime_r(&now, &t);
	localtime_r(&soon, &s);
	if (!workday_cal_covers(cal, t.tm_year + 1900))
		conf_parse_error(p, p->cfg, NULL,
		                 _("calendar: deadlines in working days need the holiday calendar of "
		                   "%d (include(\"/usr/share/firegw/calendar/%d.conf\"), or write a "
		                   "calendar \"%d\" section)"),
		                 t.tm_year + 1900, t.tm_year + 1900, t.tm_year + 1900);
	else if (!workday_cal_covers(cal, s.tm_year + 1900))
		log_warn(_("calendar: the holiday calendar of %d is missing and is needed within 30 "
		           "days: include(\"/usr/share/firegw/calendar/%d.conf\") once it is "
		           "published"),
		         s.tm_year + 1900, s.tm_year + 1900);
	return cal;
}
