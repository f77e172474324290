/* SPDX-License-Identifier: MIT */
/* conf_calendar: the config's holiday calendar (`calendar "2026" { holidays = {...};
 * workdays = {...} }`, one section per year, include()able: firegw ships one file per year in
 * /usr/share/firegw/calendar/) and the check that every deadline counted in working days has
 * the years it needs. */
#pragma once

#include <confuse.h>

#include "conf_parse.h"

struct conf;

extern cfg_opt_t conf_calendar_opts[];

/* Builds c->calendar from the calendar sections and points c->policy.calendar at it; reports
 * each bad section or date at its line, and a working-day limit that needs this year's
 * calendar when calendars are given but this year's is not. */
void conf_calendar_read(struct conf_parse *p, struct conf *c);
