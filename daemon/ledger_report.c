/* SPDX-License-Identifier: MIT */
/* ledger_report: the monthly bulletin and weekly statistics, counted by item. Each item that
 * could matter to the period (first seen before its end, not closed before its start) is
 * replayed from its events in order: the snapshot each event carries says the item's status,
 * grade, deadline and whether its condition is present at that moment, so the state at the
 * start and at the end of the period, and at its deadline, are read from the history, never
 * from today's row. Each item counts once in each figure, however many events it has. */
#include "ledger_report.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "item.h"
#include "jsonfmt.h"
#include "policy.h"

static const char *ledger_report_db_error = "the ledger could not be read; see the daemon's log";

/* ------------------------------------------------------------------ periods */

static int ledger_report_day(const char *s, struct tm *tm)
{
	int y, m, d, n = 0;

	if (!s || sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || n != 10 || s[n] || y < 1970 ||
	    y > 9999 || m < 1 || m > 12 || d < 1 || d > 31)
		return -1;
	memset(tm, 0, sizeof(*tm));
	tm->tm_year = y - 1900;
	tm->tm_mon = m - 1;
	tm->tm_mday = d;
	tm->tm_isdst = -1;
	return 0;
}

/* Local midnight of tm's day moved by `days`, in wall ms; -1 if it cannot be. */
static int64_t ledger_report_midnight(const struct tm *day, int days)
{
	struct tm t = *day;
	time_t v;

	t.tm_mday += days;
	t.tm_hour = t.tm_min = t.tm_sec = 0;
	t.tm_isdst = -1;
	v = mktime(&t);
	return v == (time_t)-1 ? -1 : (int64_t)v * 1000;
}

int ledger_report_month(const char *month, struct ledger_report_period *p, const char **err)
{
	int y, m, n = 0;
	struct tm a = {0}, b;

	if (!month || sscanf(month, "%4d-%2d%n", &y, &m, &n) != 2 || n != 7 || month[n] ||
	    y < 1970 || y > 9999 || m < 1 || m > 12) {
		*err = "month must be YYYY-MM, e.g. 2026-11";
		return -1;
	}
	a.tm_year = y - 1900;
	a.tm_mon = m - 1;
	a.tm_mday = 1;
	b = a;
	b.tm_mon++; /* mktime carries December into January */
	memset(p, 0, sizeof(*p));
	p->start_ms = ledger_report_midnight(&a, 0);
	p->end_ms = ledger_report_midnight(&b, 0);
	if (p->start_ms < 0 || p->end_ms <= p->start_ms) {
		*err = "month must be YYYY-MM, e.g. 2026-11";
		return -1;
	}
	snprintf(p->label, sizeof(p->label), "%04d-%02d", y, m);
	return 0;
}

int ledger_report_week(const char *day, struct ledger_report_period *p, const char **err)
{
	struct tm d, mon;
	time_t v;

	if (ledger_report_day(day, &d) < 0 || (v = mktime(&d)) == (time_t)-1) {
		*err = "week must be a day of it, YYYY-MM-DD, e.g. 2026-11-16";
		return -1;
	}
	/* mktime normalised d (2026-02-31 is 2026-03-03) and set its weekday. */
	mon = d;
	memset(p, 0, sizeof(*p));
	p->week = true;
	p->start_ms = ledger_report_midnight(&mon, -((d.tm_wday + 6) % 7));
	p->end_ms = ledger_report_midnight(&mon, 7 - ((d.tm_wday + 6) % 7));
	if (p->start_ms < 0 || p->end_ms <= p->start_ms) {
		*err = "week must be a day of it, YYYY-MM-DD, e.g. 2026-11-16";
		return -1;
	}
	v = (time_t)(p->start_ms / 1000);
	localtime_r(&v, &mon);
	snprintf(p->label, sizeof(p->label), "%04d-%02d-%02d", mon.tm_year + 1900, mon.tm_mon + 1,
	         mon.tm_mday);
	return 0;
}

/* "2026-11-01T00:00:00+08:00" (local time with its offset). */
static json_t *ledger_report_local(int64_t ms)
{
	time_t v = (time_t)(ms / 1000);
	struct tm tm;
	char buf[40];
	size_t n;

	localtime_r(&v, &tm);
	n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S%z", &tm);
	if (n >= 5 && n + 1 < sizeof(buf)) { /* +0800 -> +08:00 */
		memmove(buf + n - 1, buf + n - 2, 3);
		buf[n - 2] = ':';
	}
	return json_string(buf);
}

static json_t *ledger_report_date(int64_t ms)
{
	time_t v = (time_t)(ms / 1000);
	struct tm tm;
	char buf[16];

	localtime_r(&v, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%d", &tm);
	return json_string(buf);
}

/* "2026-11-23T07:59:58.120Z" (as events carry times) to wall ms; 0 for none or a bad one. */
static int64_t ledger_report_iso(const unsigned char *s)
{
	struct tm tm = {0};
	int ms = 0;

	if (!s || sscanf((const char *)s, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon,
	                 &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) < 6)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm) * 1000 + ms;
}

/* ------------------------------------------------------------------ counting */

struct ledger_report_mark {
	int64_t at;
	int status;
};

/* One item while its events are replayed. */
struct ledger_report_item {
	int64_t num;
	char id[HAZARD_ID_LEN], device[HAZARD_NAME_LEN];
	int kind;
	bool test, recurrence, incident;
	int outcome; /* an incident's verification: LR_* below */
	/* the stages past their own limits (info.stages_overdue), and a passed acceptance */
	bool order_late, acceptance_late, acceptance_passed;
	int64_t first_seen;
	/* the running snapshot */
	int status, grade; /* -1 before the first event */
	int64_t deadline;
	bool active;
	char location[128], person[128];
	/* at the start of the period */
	bool passed_start;
	int status_start, grade_start;
	/* in the period */
	bool raised, submitted, passed, failed, closed, reopened, deferred, supervised;
	int64_t offline_since; /* device_offline: active since, or -1 */
	int64_t offline_ms;
	struct ledger_report_mark *marks; /* (at, status) after each event, for the deadline */
	size_t nmarks, capmarks;
};

/* An incident's verification (incident.verify's outcome), as the report counts it. */
enum { LR_UNVERIFIED, LR_REAL_FIRE, LR_FALSE_ALARM, LR_TEST, LR_UNKNOWN, LR_OUTCOMES };
static const char *const ledger_report_outcomes[LR_OUTCOMES] = {"unverified", "real_fire",
                                                                "false_alarm", "test", "unknown"};

struct ledger_report_device {
	char name[HAZARD_NAME_LEN];
	int64_t faults;
};

struct ledger_report_acc {
	const struct ledger_report_period *p;
	int64_t upto; /* min(end, now): what has happened of the period */
	int64_t opening, added, submitted, passed, refused, closed, closing, overdue, due, rectified,
	    recurred, reopened, raised_grade, deferred, supervised, order_late, acceptance_late;
	int64_t added_grade[GRADE_COUNT], added_kind[KIND_COUNT], closing_grade[GRADE_COUNT],
	    overdue_stage[HSTATUS_CLOSED];
	int64_t fire, fire_closed, fire_open, tests, outcomes[LR_OUTCOMES];
	int64_t offline_ms;
	struct ledger_report_device *devs;
	size_t ndevs;
	bool oldest_set;
	struct ledger_report_item oldest;
	json_t *list;
	bool truncated;
	bool failed;
};

static bool ledger_report_is_fault(int kind)
{
	return kind == KIND_SENSOR_FAULT || kind == KIND_DEVICE_FAULT ||
	       kind == KIND_DEVICE_OFFLINE || kind == KIND_LOW_BATTERY || kind == KIND_TAMPER ||
	       kind == KIND_REPEATED_FALSE_ALARM;
}

static void ledger_report_copy(char *dst, size_t len, sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	snprintf(dst, len, "%s", t ? (const char *)t : "");
}

/* The item's status at `at` (after the events up to and including it); -1 if none yet. */
static int ledger_report_status_at(const struct ledger_report_item *it, int64_t at)
{
	int s = -1;

	for (size_t i = 0; i < it->nmarks && it->marks[i].at <= at; i++)
		s = it->marks[i].status;
	return s;
}

static void ledger_report_offline(struct ledger_report_acc *a, struct ledger_report_item *it,
                                  int64_t from, int64_t to)
{
	if (from < a->p->start_ms)
		from = a->p->start_ms;
	if (to > a->upto)
		to = a->upto;
	if (to > from)
		it->offline_ms += to - from;
}

static void ledger_report_fault(struct ledger_report_acc *a, const char *device)
{
	size_t i;

	for (i = 0; i < a->ndevs && strcmp(a->devs[i].name, device) != 0; i++)
		;
	if (i == a->ndevs) {
		struct ledger_report_device *d = realloc(a->devs, (a->ndevs + 1) * sizeof(*d));

		if (!d) {
			a->failed = true;
			return;
		}
		a->devs = d;
		snprintf(d[i].name, sizeof(d[i].name), "%s", device);
		d[i].faults = 0;
		a->ndevs++;
	}
	a->devs[i].faults++;
}

static json_t *ledger_report_row(const struct ledger_report_item *it, bool overdue)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:s, s:s, s:b}", "id", it->id,
	                 "device", it->device, "location", it->location, "kind",
	                 kind_name((enum kind)it->kind), "grade", grade_name((enum grade)it->grade),
	                 "found", jsonfmt_time(it->first_seen), "deadline",
	                 jsonfmt_time(it->deadline), "responsible", it->person, "status",
	                 item_status_name((enum hstatus)it->status), "overdue", overdue);
}

/* All events of the item are in: what it adds to each figure. */
static void ledger_report_item_done(struct ledger_report_acc *a, struct ledger_report_item *it)
{
	const struct ledger_report_period *p = a->p;

	if (it->status < 0)
		return;
	if (!it->passed_start) { /* no event in the period: as it was at the start */
		it->status_start = it->status;
		it->grade_start = it->grade;
	}
	bool open_start = it->status_start >= 0 && it->status_start != HSTATUS_CLOSED;
	bool open_end = it->status != HSTATUS_CLOSED;

	if (it->test) {
		a->tests += it->raised;
		return;
	}
	if (it->incident) {
		if (it->raised)
			a->outcomes[it->outcome]++;
		a->fire += it->raised;
		a->fire_closed += it->closed;
		a->fire_open += open_end;
		return;
	}
	a->opening += open_start;
	if (it->raised) {
		a->added++;
		a->added_grade[it->grade]++;
		a->added_kind[it->kind]++;
		a->recurred += it->recurrence;
		if (ledger_report_is_fault(it->kind))
			ledger_report_fault(a, it->device);
	}
	a->submitted += it->submitted;
	a->passed += it->passed;
	a->refused += it->failed;
	a->closed += it->closed;
	a->reopened += it->reopened;
	a->deferred += it->deferred;
	a->supervised += it->supervised;
	if (it->grade_start >= 0 && it->grade > it->grade_start)
		a->raised_grade++;
	/* past its deadline at the end (or now, in a period not over yet) */
	bool overdue = open_end && it->deadline > 0 && it->deadline < a->upto;
	if (open_end) {
		a->closing++;
		a->closing_grade[it->grade]++;
		if (overdue) {
			a->overdue++;
			a->overdue_stage[it->status]++;
		}
		/* a stage still late at the end: no order yet, or no passed acceptance yet */
		a->order_late += it->order_late && (it->status == HSTATUS_OPEN ||
		                                    it->status == HSTATUS_ACKNOWLEDGED);
		a->acceptance_late += it->acceptance_late && !it->acceptance_passed;
		if (!a->oldest_set || it->first_seen < a->oldest.first_seen) {
			a->oldest = *it;
			a->oldest.marks = NULL;
			a->oldest_set = true;
		}
	}
	/* 整改率: due in the period (and already past), rectified by the deadline. */
	if (it->deadline >= p->start_ms && it->deadline < a->upto) {
		int s = ledger_report_status_at(it, it->deadline);

		a->due++;
		a->rectified += s == HSTATUS_PENDING_ACCEPTANCE || s == HSTATUS_CLOSED;
	}
	if (it->kind == KIND_DEVICE_OFFLINE) {
		if (it->offline_since >= 0)
			ledger_report_offline(a, it, it->offline_since, a->upto);
		a->offline_ms += it->offline_ms;
	}
	if (a->list && (open_end || it->raised || it->closed || it->submitted || it->passed)) {
		if (json_array_size(a->list) >= LEDGER_REPORT_LIST_MAX)
			a->truncated = true;
		else
			json_array_append_new(a->list, ledger_report_row(it, overdue));
	}
}

/* One event of the item, in order. Columns as in ledger_report_sql from 7. */
static void ledger_report_event(struct ledger_report_acc *a, struct ledger_report_item *it,
                                sqlite3_stmt *st)
{
	const char *type = (const char *)sqlite3_column_text(st, 7);
	int64_t at = sqlite3_column_int64(st, 8);
	int s = item_status_from_name((const char *)sqlite3_column_text(st, 9));
	int g = grade_from_name((const char *)sqlite3_column_text(st, 10));
	bool in = at >= a->p->start_ms;

	if (!type)
		type = "";
	if (in && !it->passed_start) {
		it->passed_start = true;
		it->status_start = it->status;
		it->grade_start = it->grade;
	}
	if (s >= 0)
		it->status = s;
	else if (it->status < 0)
		it->status = HSTATUS_OPEN;
	if (g >= 0)
		it->grade = g;
	else if (it->grade < 0)
		it->grade = GRADE_GENERAL;
	if (in && it->grade_start < 0) /* raised in the period: its grade when raised */
		it->grade_start = it->grade;
	it->deadline = ledger_report_iso(sqlite3_column_text(st, 11));
	bool active = sqlite3_column_int(st, 12) != 0;
	ledger_report_copy(it->location, sizeof(it->location), st, 13);
	ledger_report_copy(it->person, sizeof(it->person), st, 15);
	if (!it->person[0])
		ledger_report_copy(it->person, sizeof(it->person), st, 14);
	const char *outcome = (const char *)sqlite3_column_text(st, 17);
	const unsigned char *result = sqlite3_column_text(st, 20);
	it->order_late = sqlite3_column_type(st, 18) != SQLITE_NULL;
	it->acceptance_late = sqlite3_column_type(st, 19) != SQLITE_NULL;
	it->acceptance_passed = result && strcmp((const char *)result, "passed") == 0;
	it->outcome = LR_UNVERIFIED;
	for (int i = 1; outcome && i < LR_OUTCOMES; i++)
		if (strcmp(outcome, ledger_report_outcomes[i]) == 0)
			it->outcome = i;
	if (in) {
		it->raised |= strcmp(type, "raised") == 0;
		it->submitted |= strcmp(type, "accepted") == 0; /* hazard.submit (accept) */
		it->passed |= strcmp(type, "acceptance_passed") == 0;
		it->failed |= strcmp(type, "acceptance_failed") == 0;
		it->closed |= strcmp(type, "closed") == 0;
		it->reopened |= strcmp(type, "reopened") == 0;
		it->deferred |= strcmp(type, "deferred") == 0;
		it->supervised |= strcmp(type, "supervised") == 0;
	}
	if (it->kind == KIND_DEVICE_OFFLINE) {
		if (active && it->offline_since < 0)
			it->offline_since = at;
		else if (!active && it->offline_since >= 0) {
			ledger_report_offline(a, it, it->offline_since, at);
			it->offline_since = -1;
		}
	}
	it->active = active;
	if (it->nmarks == it->capmarks) {
		size_t cap = it->capmarks ? it->capmarks * 2 : 16;
		struct ledger_report_mark *m = realloc(it->marks, cap * sizeof(*m));

		if (!m) {
			a->failed = true;
			return;
		}
		it->marks = m;
		it->capmarks = cap;
	}
	it->marks[it->nmarks++] = (struct ledger_report_mark){at, it->status};
}

static void ledger_report_item_start(struct ledger_report_item *it, sqlite3_stmt *st)
{
	struct ledger_report_mark *marks = it->marks;
	size_t cap = it->capmarks;

	memset(it, 0, sizeof(*it));
	it->marks = marks;
	it->capmarks = cap;
	it->num = sqlite3_column_int64(st, 0);
	ledger_report_copy(it->id, sizeof(it->id), st, 1);
	it->kind = kind_from_name((const char *)sqlite3_column_text(st, 2));
	if (it->kind < 0)
		it->kind = KIND_DEVICE_FAULT;
	it->test = sqlite3_column_int(st, 3) != 0;
	ledger_report_copy(it->device, sizeof(it->device), st, 4);
	it->first_seen = sqlite3_column_int64(st, 5);
	const unsigned char *rec = sqlite3_column_text(st, 6);
	it->recurrence = rec && *rec;
	/* the class is fixed at the raise; an older ledger's fire alarms were made incidents by
	 * migration 5 */
	it->incident = item_class_from_name((const char *)sqlite3_column_text(st, 16)) ==
	               ICLASS_INCIDENT;
	it->status = it->grade = it->status_start = it->grade_start = -1;
	it->offline_since = -1;
}

/* Items first seen before the end and not closed before the start (an item closed since has
 * closed_at at or after the start), with their events before the end, in order. */
static const char *const ledger_report_sql =
    "SELECT h.num, h.id, h.kind, h.test, h.device, h.first_seen, h.recurrence_of, "
    " e.type, e.at, json_extract(e.body, '$.hazard.status'), "
    " json_extract(e.body, '$.hazard.grade'), json_extract(e.body, '$.hazard.deadline'), "
    " json_extract(e.body, '$.hazard.active'), json_extract(e.body, '$.hazard.location'), "
    " json_extract(e.body, '$.hazard.responsible.name'), "
    " json_extract(e.body, '$.hazard.platform.assignee'), h.class, "
    " json_extract(e.body, '$.hazard.verification.outcome'), "
    " json_extract(e.body, '$.hazard.stages_overdue.order'), "
    " json_extract(e.body, '$.hazard.stages_overdue.acceptance'), "
    " json_extract(e.body, '$.hazard.acceptance.result') "
    "FROM hazards h JOIN events e ON e.hazard_id = h.id "
    "WHERE h.first_seen < ?2 AND (h.status <> 'closed' OR h.closed_at >= ?1) AND e.at < ?2 "
    "ORDER BY h.num, e.seq";

static int ledger_report_device_cmp(const void *x, const void *y)
{
	const struct ledger_report_device *a = x, *b = y;

	if (a->faults != b->faults)
		return a->faults > b->faults ? -1 : 1;
	return strcmp(a->name, b->name);
}

static json_t *ledger_report_rate(int64_t num, int64_t den)
{
	return den > 0 ? json_real(round((double)num * 10000.0 / (double)den) / 10000.0)
	               : json_null();
}

static json_t *ledger_report_grades(const int64_t *n)
{
	json_t *o = json_object();

	for (int g = GRADE_COUNT - 1; g >= 0; g--)
		json_object_set_new(o, grade_name((enum grade)g), json_integer(n[g]));
	return o;
}

static json_t *ledger_report_hazards(const struct ledger_report_acc *a)
{
	json_t *kinds = json_object(), *stages = json_object(), *oldest = json_null();

	for (int k = 0; k < KIND_COUNT; k++)
		if (k != KIND_FIRE_ALARM) /* an incident's kind, never a hazard's */
			json_object_set_new(kinds, kind_name((enum kind)k),
			                    json_integer(a->added_kind[k]));
	for (int s = 0; s < HSTATUS_CLOSED; s++)
		json_object_set_new(stages, item_status_name((enum hstatus)s),
		                    json_integer(a->overdue_stage[s]));
	json_t *stages_late = json_pack("{s:I, s:I}", "order", (json_int_t)a->order_late,
	                                "acceptance", (json_int_t)a->acceptance_late);
	if (a->oldest_set)
		oldest = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:I}", "id", a->oldest.id,
		                   "device", a->oldest.device, "location", a->oldest.location, "kind",
		                   kind_name((enum kind)a->oldest.kind), "grade",
		                   grade_name((enum grade)a->oldest.grade), "found",
		                   jsonfmt_time(a->oldest.first_seen), "age_days",
		                   (json_int_t)((a->upto - a->oldest.first_seen) / 86400000));
	return json_pack(
	    "{s:I, s:I, s:o, s:o, s:I, s:I, s:I, s:I, s:I, s:o, s:I, s:o, s:I, s:I, s:o, s:n, s:I,"
	    " s:I, s:I, s:I, s:I, s:o, s:o}",
	    "opening", (json_int_t)a->opening, "new", (json_int_t)a->added, "new_by_grade",
	    ledger_report_grades(a->added_grade), "new_by_kind", kinds, "rectified",
	    (json_int_t)a->submitted, "acceptance_passed", (json_int_t)a->passed,
	    "acceptance_failed", (json_int_t)a->refused, "closed", (json_int_t)a->closed, "closing",
	    (json_int_t)a->closing, "closing_by_grade", ledger_report_grades(a->closing_grade),
	    "overdue", (json_int_t)a->overdue, "overdue_by_stage", stages, "due",
	    (json_int_t)a->due, "rectified_by_deadline", (json_int_t)a->rectified,
	    "rectification_rate", ledger_report_rate(a->rectified, a->due), "review_rate",
	    "recurred_after_close", (json_int_t)a->recurred, "reopened", (json_int_t)a->reopened,
	    "grade_raised", (json_int_t)a->raised_grade, "deferred", (json_int_t)a->deferred,
	    "supervised", (json_int_t)a->supervised, "stages_overdue", stages_late, "oldest_open",
	    oldest);
}

static json_t *ledger_report_devices(struct ledger_report_acc *a, size_t devices)
{
	int64_t span = a->upto - a->p->start_ms;
	json_t *top = json_array(), *rate = json_null();

	if (a->ndevs > 0) /* qsort of NULL, even of none, is undefined */
		qsort(a->devs, a->ndevs, sizeof(*a->devs), ledger_report_device_cmp);
	for (size_t i = 0; i < a->ndevs && i < LEDGER_REPORT_TOP_DEVICES; i++)
		json_array_append_new(top, json_pack("{s:s, s:I}", "device", a->devs[i].name,
		                                     "faults", (json_int_t)a->devs[i].faults));
	if (devices > 0 && span > 0) {
		double r = 1.0 - (double)a->offline_ms / ((double)devices * (double)span);

		rate = json_real(round((r < 0 ? 0 : r) * 10000.0) / 10000.0);
	}
	return json_pack("{s:I, s:o, s:o, s:o}", "count", (json_int_t)devices, "online_rate", rate,
	                 "offline_hours",
	                 json_real(round((double)a->offline_ms / 36000.0) / 100.0), "most_faults",
	                 top);
}

json_t *ledger_report(struct ledger *l, const struct ledger_report_period *p,
                      const struct ledger_report_opts *o, const char **err)
{
	struct ledger_report_acc a = {.p = p};
	struct ledger_report_item it = {.status = -1};
	sqlite3_stmt *st = NULL;
	int rc;

	a.upto = o->now_ms < p->end_ms ? o->now_ms : p->end_ms;
	if (a.upto < p->start_ms)
		a.upto = p->start_ms;
	if (o->list)
		a.list = json_array();
	if (sqlite3_prepare_v2(ledger_db(l), ledger_report_sql, -1, &st, NULL) != SQLITE_OK) {
		sqlite3_finalize(st);
		json_decref(a.list);
		*err = ledger_report_db_error;
		return NULL;
	}
	sqlite3_bind_int64(st, 1, p->start_ms);
	sqlite3_bind_int64(st, 2, p->end_ms);
	it.num = -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && !a.failed) {
		if (sqlite3_column_int64(st, 0) != it.num) {
			if (it.num >= 0)
				ledger_report_item_done(&a, &it);
			ledger_report_item_start(&it, st);
		}
		ledger_report_event(&a, &it, st);
	}
	if (it.num >= 0 && rc == SQLITE_DONE)
		ledger_report_item_done(&a, &it);
	sqlite3_finalize(st);
	free(it.marks);
	if (rc != SQLITE_DONE || a.failed) {
		free(a.devs);
		json_decref(a.list);
		*err = ledger_report_db_error;
		return NULL;
	}
	json_t *verified = json_object();
	for (int i = 0; i < LR_OUTCOMES; i++)
		json_object_set_new(verified, ledger_report_outcomes[i], json_integer(a.outcomes[i]));
	json_t *out = json_pack(
	    "{s:{s:s, s:s, s:o, s:o, s:o, s:o}, s:o, s:{s:I, s:I, s:I, s:o}, s:o, s:{s:I}}",
	    "period", "type", p->week ? "week" : "month", "label", p->label, "from",
	    ledger_report_local(p->start_ms), "to", ledger_report_local(p->end_ms), "first_day",
	    ledger_report_date(p->start_ms), "last_day", ledger_report_date(p->end_ms - 1),
	    "hazards", ledger_report_hazards(&a), "fire_alarms", "count", (json_int_t)a.fire,
	    "closed", (json_int_t)a.fire_closed, "open_at_end", (json_int_t)a.fire_open,
	    "verification", verified, "devices", ledger_report_devices(&a, o->devices), "tests", "items",
	    (json_int_t)a.tests);
	free(a.devs);
	/* Complete unless retention pruned history of the period (docs/operations.md). */
	json_object_set_new(out, "complete", json_boolean(ledger_pruned_until(l) <= p->start_ms));
	if (a.list) {
		json_object_set_new(out, "list", a.list);
		json_object_set_new(out, "list_truncated", json_boolean(a.truncated));
	}
	return out;
}

json_t *ledger_report_bulletin(struct ledger *l, size_t devices, int64_t now_ms, const char **err)
{
	struct ledger_report_opts o = {.devices = devices, .now_ms = now_ms};
	struct ledger_report_period p;
	time_t t = (time_t)(now_ms / 1000);
	struct tm tm;
	char month[16];
	json_t *r, *kinds, *v;
	const char *k;
	void *tmp;

	localtime_r(&t, &tm);
	if (tm.tm_mon-- == 0) {
		tm.tm_mon = 11;
		tm.tm_year--;
	}
	snprintf(month, sizeof(month), "%04d-%02d", tm.tm_year + 1900, tm.tm_mon + 1);
	if (ledger_report_month(month, &p, err) < 0 || !(r = ledger_report(l, &p, &o, err)))
		return NULL;
	kinds = json_object_get(json_object_get(r, "hazards"), "new_by_kind");
	json_object_foreach_safe(kinds, tmp, k, v)
	{
		if (json_integer_value(v) == 0)
			json_object_del(kinds, k);
	}
	return r;
}
