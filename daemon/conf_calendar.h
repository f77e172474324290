/* SPDX-License-Identifier: MIT */
/* conf_calendar: the config's holiday calendar (`calendar "2026" { holidays = {...};
 * workdays = {...} }`, one section per year, include()able: firegw ships one file per year in
 * /usr/share/firegw/calendar/) and the check that every deadline counted in working days has
 * the years it needs. */
#pragma once

#include <confuse.h>

#include "conf_parse.h"

#include "policy.h"

struct workday_cal;

extern cfg_opt_t conf_calendar_opts[];

/* The calendar of the calendar sections (NULL when there are none: Monday to Friday), which
 * policy->calendar then points at; the caller frees it (workday_cal_free). Reports each bad
 * section or date at its line, and a working-day limit of `policy` that needs this year's
 * calendar when calendars are given but this year's is not. */
struct workday_cal *conf_calendar_read(struct conf_parse *p, struct policy *policy);
