/* SPDX-License-Identifier: MIT */
/* workday: the county's working days. China moves working days around its public holidays
 * (春节, 国庆 ...): a holiday may fall on a weekday and a Saturday or Sunday may be a make-up
 * working day (调休). A calendar holds, for each year it covers, the days that differ from
 * "Monday to Friday work, Saturday and Sunday rest"; a day of a year it does not cover has no
 * answer, and arithmetic that needs one fails rather than guess.
 *
 * Deadlines in working days ("3个工作日内"): counted from the day after the local day of the
 * start; the deadline is the end (24:00 local) of the N-th working day. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define WORKDAY_MAX_YEARS 32

/* A civil date. */
struct workday_date {
	int year, month, day;
};

struct workday_cal;

struct workday_cal *workday_cal_new(void);
void workday_cal_free(struct workday_cal *cal);

/* Marks `year` as covered (its weekends and weekdays as usual until days are set).
 * Returns 0, or -1 when the calendar already holds WORKDAY_MAX_YEARS years or the year is
 * outside 1970..9999. */
int workday_cal_cover(struct workday_cal *cal, int year);
/* Sets the days first..last (inclusive) of covered years to holidays (`work` false) or make-up
 * working days (`work` true). Returns 0, or -1 when a day's year is not covered or last is
 * before first. */
int workday_cal_set(struct workday_cal *cal, struct workday_date first, struct workday_date last,
                    bool work);
bool workday_cal_covers(const struct workday_cal *cal, int year);
/* The last covered year of the run of covered years that contains `year`, or 0. */
int workday_cal_covered_until(const struct workday_cal *cal, int year);

/* "2026-10-01" or a range "2026-10-01..2026-10-08". Returns 0, or -1 on anything else
 * (including dates that do not exist, like 2026-02-30). */
int workday_parse_range(const char *s, struct workday_date *first, struct workday_date *last);
/* A deadline written "30" or "30d" (calendar days) or "5wd" (working days). Returns 0 and sets
 * *n and *working, or -1. n is 1..3650. */
int workday_parse_span(const char *s, int *n, bool *working);

/* Days since 1970-01-01 of a civil date, and back. */
int64_t workday_days_from_civil(struct workday_date d);
struct workday_date workday_civil_from_days(int64_t days);
/* 1 = work, 0 = rest, -1 = the day's year is not covered. A calendar that covers no year at
 * all (or NULL) knows only weekends: Monday to Friday work. */
int workday_is_work(const struct workday_cal *cal, struct workday_date d);

/* The deadline of `n` working days from `from_ms` (wall clock, ms), in the local time zone
 * (TZ): the end of the n-th working day after the local day of from_ms. Returns 0 and sets
 * *deadline_ms, or -1 when the count runs into a year the calendar does not cover (*missing
 * is then that year when not NULL). */
int workday_deadline(const struct workday_cal *cal, int64_t from_ms, int n, int64_t *deadline_ms,
                     int *missing);
