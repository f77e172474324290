/* SPDX-License-Identifier: MIT */
/* test_workday: the working-day calendar and deadlines in working days, on the 2026 calendar
 * the State Council announced (春节 and 国庆 with their make-up working days), across a year end,
 * and into a year the calendar does not cover. Local time is China's (TZ=CST-8, no tzdata
 * needed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "workday.h"

static struct workday_date D(int y, int m, int d)
{
	struct workday_date x = {y, m, d};
	return x;
}

/* Wall-clock ms of a local (UTC+8) time. */
static int64_t local_ms(int y, int m, int d, int hh, int mm)
{
	return (workday_days_from_civil(D(y, m, d)) * 86400 + hh * 3600 + mm * 60 - 8 * 3600) * 1000;
}

static void set_range(struct workday_cal *cal, const char *range, bool work)
{
	struct workday_date a, b;
	assert_int_equal(workday_parse_range(range, &a, &b), 0);
	assert_int_equal(workday_cal_set(cal, a, b, work), 0);
}

static struct workday_cal *cal_2026(void)
{
	struct workday_cal *cal = workday_cal_new();
	assert_non_null(cal);
	assert_int_equal(workday_cal_cover(cal, 2026), 0);
	set_range(cal, "2026-01-01..2026-01-03", false);
	set_range(cal, "2026-01-04", true);
	set_range(cal, "2026-02-15..2026-02-23", false); /* 春节 */
	set_range(cal, "2026-02-14", true);
	set_range(cal, "2026-02-28", true);
	set_range(cal, "2026-04-04..2026-04-06", false);
	set_range(cal, "2026-05-01..2026-05-05", false);
	set_range(cal, "2026-05-09", true);
	set_range(cal, "2026-06-19..2026-06-21", false);
	set_range(cal, "2026-09-25..2026-09-27", false);
	set_range(cal, "2026-10-01..2026-10-07", false); /* 国庆 */
	set_range(cal, "2026-09-20", true);
	set_range(cal, "2026-10-10", true);
	return cal;
}

static int setup(void **state)
{
	setenv("TZ", "CST-8", 1);
	tzset();
	*state = cal_2026();
	return 0;
}

static int teardown(void **state)
{
	workday_cal_free(*state);
	return 0;
}

static void test_days_round_trip(void **state)
{
	assert_int_equal(workday_days_from_civil(D(1970, 1, 1)), 0);
	assert_int_equal(workday_days_from_civil(D(2026, 12, 2)), 20789);
	for (int64_t z = 0; z < 40000; z += 37) {
		struct workday_date d = workday_civil_from_days(z);
		assert_int_equal(workday_days_from_civil(d), z);
	}
}

static void test_parse(void **state)
{
	struct workday_date a, b;
	int n;
	bool wd;

	assert_int_equal(workday_parse_range("2026-10-01..2026-10-07", &a, &b), 0);
	assert_int_equal(a.day, 1);
	assert_int_equal(b.day, 7);
	assert_int_equal(workday_parse_range("2024-02-29", &a, &b), 0);
	assert_int_equal(workday_parse_range("2026-02-29", &a, &b), -1); /* not a leap year */
	assert_int_equal(workday_parse_range("2026-13-01", &a, &b), -1);
	assert_int_equal(workday_parse_range("2026-10-07..2026-10-01", &a, &b), -1);
	assert_int_equal(workday_parse_range("2026-10-01..", &a, &b), -1);
	assert_int_equal(workday_parse_range("2026-1-1", &a, &b), -1);
	assert_int_equal(workday_parse_range("", &a, &b), -1);

	assert_int_equal(workday_parse_span("5wd", &n, &wd), 0);
	assert_int_equal(n, 5);
	assert_true(wd);
	assert_int_equal(workday_parse_span("30d", &n, &wd), 0);
	assert_false(wd);
	assert_int_equal(workday_parse_span("30", &n, &wd), 0);
	assert_int_equal(n, 30);
	assert_int_equal(workday_parse_span("0wd", &n, &wd), -1);
	assert_int_equal(workday_parse_span("5w", &n, &wd), -1);
	assert_int_equal(workday_parse_span("-3d", &n, &wd), -1);
	assert_int_equal(workday_parse_span("99999", &n, &wd), -1);
}

static void test_weekends_holidays_makeup_days(void **state)
{
	struct workday_cal *cal = *state;

	assert_int_equal(workday_is_work(cal, D(2026, 12, 2)), 1);   /* a Wednesday */
	assert_int_equal(workday_is_work(cal, D(2026, 12, 5)), 0);   /* a Saturday */
	assert_int_equal(workday_is_work(cal, D(2026, 2, 16)), 0);   /* 春节, a Monday */
	assert_int_equal(workday_is_work(cal, D(2026, 2, 14)), 1);   /* 调休, a Saturday */
	assert_int_equal(workday_is_work(cal, D(2026, 10, 10)), 1);  /* 调休 */
	assert_int_equal(workday_is_work(cal, D(2027, 1, 4)), -1);   /* not covered */
}

static void test_deadline_across_spring_festival(void **state)
{
	int64_t dl;

	/* Registered Thursday 12 February: Fri 13 (1), Sat 14 make-up (2), 15-23 holiday,
	 * Tue 24 (3): due at the end of 24 February. */
	assert_int_equal(workday_deadline(*state, local_ms(2026, 2, 12, 10, 0), 3, &dl, NULL), 0);
	assert_int_equal(dl, local_ms(2026, 2, 25, 0, 0));
	/* Registered on a holiday: the count starts the next day all the same. */
	assert_int_equal(workday_deadline(*state, local_ms(2026, 2, 18, 23, 59), 1, &dl, NULL), 0);
	assert_int_equal(dl, local_ms(2026, 2, 25, 0, 0));
}

static void test_deadline_across_national_day(void **state)
{
	int64_t dl;

	/* Wednesday 30 September: 1-7 October holiday, Thu 8 (1), Fri 9 (2), Sat 10 make-up (3). */
	assert_int_equal(workday_deadline(*state, local_ms(2026, 9, 30, 16, 0), 3, &dl, NULL), 0);
	assert_int_equal(dl, local_ms(2026, 10, 11, 0, 0));
	/* Five working days: and Mon 12, Tue 13. */
	assert_int_equal(workday_deadline(*state, local_ms(2026, 9, 30, 16, 0), 5, &dl, NULL), 0);
	assert_int_equal(dl, local_ms(2026, 10, 14, 0, 0));
}

static void test_deadline_local_day_not_utc_day(void **state)
{
	int64_t dl;

	/* 07:00 on Monday 7 December in Beijing is still Sunday 6 December in UTC: the count starts
	 * from the local day, so one working day ends with Tuesday 8 December. */
	assert_int_equal(workday_deadline(*state, local_ms(2026, 12, 7, 7, 0), 1, &dl, NULL), 0);
	assert_int_equal(dl, local_ms(2026, 12, 9, 0, 0));
}

static void test_deadline_year_end_and_missing_year(void **state)
{
	struct workday_cal *cal = *state;
	int64_t dl = 0;
	int missing = 0;

	/* Wednesday 30 December, 5 working days: runs into 2027, which is not covered. */
	assert_int_equal(workday_deadline(cal, local_ms(2026, 12, 30, 9, 0), 5, &dl, &missing), -1);
	assert_int_equal(missing, 2027);
	assert_int_equal(workday_cal_covered_until(cal, 2026), 2026);

	assert_int_equal(workday_cal_cover(cal, 2027), 0);
	set_range(cal, "2027-01-01", false);
	assert_int_equal(workday_cal_covered_until(cal, 2026), 2027);
	/* Thu 31 (1), Fri 1 January holiday, weekend, Mon 4 .. Thu 7 (2..5). */
	assert_int_equal(workday_deadline(cal, local_ms(2026, 12, 30, 9, 0), 5, &dl, &missing), 0);
	assert_int_equal(dl, local_ms(2027, 1, 8, 0, 0));
}

static void test_set_refuses_uncovered_and_bounds(void **state)
{
	struct workday_cal *cal = *state;

	assert_int_equal(workday_cal_set(cal, D(2028, 1, 1), D(2028, 1, 2), false), -1);
	assert_int_equal(workday_cal_set(cal, D(2026, 1, 5), D(2026, 1, 4), false), -1);
	assert_int_equal(workday_cal_cover(cal, 1969), -1);
	for (int y = 3000; y < 3000 + WORKDAY_MAX_YEARS; y++)
		workday_cal_cover(cal, y);
	assert_int_equal(workday_cal_cover(cal, 4000), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_days_round_trip),
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test_setup_teardown(test_weekends_holidays_makeup_days, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_deadline_across_spring_festival, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_deadline_across_national_day, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_deadline_local_day_not_utc_day, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_deadline_year_end_and_missing_year, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_set_refuses_uncovered_and_bounds, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
