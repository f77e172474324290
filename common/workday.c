/* SPDX-License-Identifier: MIT */
/* workday: the working-day calendar and deadlines counted in working days (workday.h). */
#include "workday.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { DAY_USUAL, DAY_HOLIDAY, DAY_WORK };

struct workday_year {
	int year;
	unsigned char day[366]; /* by day of the year, 0-based: DAY_* */
};

struct workday_cal {
	struct workday_year years[WORKDAY_MAX_YEARS];
	int nyears;
};

struct workday_cal *workday_cal_new(void)
{
	return calloc(1, sizeof(struct workday_cal));
}

void workday_cal_free(struct workday_cal *cal)
{
	free(cal);
}

static struct workday_year *cal_year(const struct workday_cal *cal, int year)
{
	for (int i = 0; cal && i < cal->nyears; i++)
		if (cal->years[i].year == year)
			return (struct workday_year *)&cal->years[i];
	return NULL;
}

int workday_cal_cover(struct workday_cal *cal, int year)
{
	if (year < 1970 || year > 9999)
		return -1;
	if (cal_year(cal, year))
		return 0;
	if (cal->nyears >= WORKDAY_MAX_YEARS)
		return -1;
	memset(&cal->years[cal->nyears], 0, sizeof(cal->years[0]));
	cal->years[cal->nyears++].year = year;
	return 0;
}

bool workday_cal_covers(const struct workday_cal *cal, int year)
{
	return cal_year(cal, year) != NULL;
}

int workday_cal_covered_until(const struct workday_cal *cal, int year)
{
	if (!cal_year(cal, year))
		return 0;
	while (cal_year(cal, year + 1))
		year++;
	return year;
}

/* Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian). */
int64_t workday_days_from_civil(struct workday_date d)
{
	int64_t y = d.year - (d.month <= 2);
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t mp = d.month > 2 ? d.month - 3 : d.month + 9;
	int64_t doy = (153 * mp + 2) / 5 + d.day - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

struct workday_date workday_civil_from_days(int64_t z)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	struct workday_date d;
	d.day = (int)(doy - (153 * mp + 2) / 5 + 1);
	d.month = (int)(mp < 10 ? mp + 3 : mp - 9);
	d.year = (int)(yoe + era * 400 + (d.month <= 2));
	return d;
}

static bool date_valid(struct workday_date d)
{
	static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (d.year < 1970 || d.year > 9999 || d.month < 1 || d.month > 12 || d.day < 1 ||
	    d.day > mdays[d.month - 1])
		return false;
	/* 29 February only in a leap year: the round trip says so. */
	struct workday_date back = workday_civil_from_days(workday_days_from_civil(d));
	return back.month == d.month && back.day == d.day;
}

static int day_of_year(struct workday_date d)
{
	struct workday_date jan1 = {d.year, 1, 1};
	return (int)(workday_days_from_civil(d) - workday_days_from_civil(jan1));
}

int workday_cal_set(struct workday_cal *cal, struct workday_date first, struct workday_date last,
                    bool work)
{
	if (!date_valid(first) || !date_valid(last))
		return -1;
	int64_t a = workday_days_from_civil(first), b = workday_days_from_civil(last);
	if (b < a || b - a > 366)
		return -1;
	for (int64_t z = a; z <= b; z++)
		if (!cal_year(cal, workday_civil_from_days(z).year))
			return -1;
	for (int64_t z = a; z <= b; z++) {
		struct workday_date d = workday_civil_from_days(z);
		struct workday_year *y = cal_year(cal, d.year);
		if (y)
			y->day[day_of_year(d)] = work ? DAY_WORK : DAY_HOLIDAY;
	}
	return 0;
}

static const char *parse_date(const char *s, struct workday_date *d)
{
	char *end;

	if (!isdigit((unsigned char)*s))
		return NULL;
	long y = strtol(s, &end, 10);
	if (end - s != 4 || *end != '-' || !isdigit((unsigned char)end[1]))
		return NULL;
	s = end + 1;
	long m = strtol(s, &end, 10);
	if (end - s != 2 || *end != '-' || !isdigit((unsigned char)end[1]))
		return NULL;
	s = end + 1;
	long day = strtol(s, &end, 10);
	if (end - s != 2)
		return NULL;
	d->year = (int)y;
	d->month = (int)m;
	d->day = (int)day;
	return date_valid(*d) ? end : NULL;
}

int workday_parse_range(const char *s, struct workday_date *first, struct workday_date *last)
{
	const char *p;

	if (!s || !(p = parse_date(s, first)))
		return -1;
	if (*p == '\0') {
		*last = *first;
		return 0;
	}
	if (strncmp(p, "..", 2) != 0 || !(p = parse_date(p + 2, last)) || *p != '\0')
		return -1;
	return workday_days_from_civil(*last) >= workday_days_from_civil(*first) ? 0 : -1;
}

int workday_parse_span(const char *s, int *n, bool *working)
{
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -1;
	long v = strtol(s, &end, 10);
	if (v < 1 || v > 3650)
		return -1;
	if (strcmp(end, "wd") == 0)
		*working = true;
	else if (*end == '\0' || strcmp(end, "d") == 0)
		*working = false;
	else
		return -1;
	*n = (int)v;
	return 0;
}

int workday_is_work(const struct workday_cal *cal, struct workday_date d)
{
	const struct workday_year *y = cal_year(cal, d.year);

	if (!date_valid(d) || (!y && cal && cal->nyears > 0))
		return -1;
	switch (y ? y->day[day_of_year(d)] : DAY_USUAL) {
	case DAY_HOLIDAY:
		return 0;
	case DAY_WORK:
		return 1;
	default:
		break;
	}
	/* 1970-01-01 was a Thursday: (days + 4) % 7 is 0 on Sunday. */
	int64_t wd = (workday_days_from_civil(d) + 4) % 7;
	return wd != 0 && wd != 6;
}

int workday_deadline(const struct workday_cal *cal, int64_t from_ms, int n, int64_t *deadline_ms,
                     int *missing)
{
	time_t t = (time_t)(from_ms / 1000);
	struct tm tm;

	if (n < 1 || !localtime_r(&t, &tm))
		return -1;
	struct workday_date d = {tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday};
	int64_t z = workday_days_from_civil(d);
	/* A year has at least 100 working days: n is bounded (workday_parse_span), so is this. */
	for (int left = n; left > 0;) {
		struct workday_date next = workday_civil_from_days(++z);
		int w = workday_is_work(cal, next);
		if (w < 0) {
			if (missing)
				*missing = next.year;
			return -1;
		}
		left -= w;
	}
	/* The end of that day: 00:00 local of the day after. */
	struct workday_date after = workday_civil_from_days(z + 1);
	struct tm end = {0};
	end.tm_year = after.year - 1900;
	end.tm_mon = after.month - 1;
	end.tm_mday = after.day;
	end.tm_isdst = -1;
	time_t e = mktime(&end);
	if (e == (time_t)-1)
		return -1;
	*deadline_ms = (int64_t)e * 1000;
	return 0;
}
