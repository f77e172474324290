/* SPDX-License-Identifier: MIT */
/* ledger_query: read-only ledger queries for the control socket, as JSON. */
#include "ledger_query.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "conf.h"
#include "conf_parse.h"
#include "hazard.h"
#include "policy.h"
#include "jsonfmt.h"

static const char *ledger_query_db_error = "the ledger could not be read; see the daemon's log";

static sqlite3_stmt *ledger_query_prepare(struct ledger *l, const char *sql)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(ledger_db(l), sql, -1, &st, NULL) != SQLITE_OK) {
		sqlite3_finalize(st);
		return NULL;
	}
	return st;
}

static const char *ledger_query_text(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	return t ? (const char *)t : "";
}

static int ledger_query_limit(int limit)
{
	if (limit <= 0)
		return QUERY_DEFAULT_LIMIT;
	return limit > LEDGER_QUERY_MAX_LIMIT ? LEDGER_QUERY_MAX_LIMIT : limit;
}

json_t *ledger_query_hazards(struct ledger *l, const struct ledger_query_filter *f, const char **err)
{
	sqlite3_stmt *st = ledger_query_prepare(
	    l, "SELECT id FROM hazards WHERE (?1 = 0 OR status <> 'closed') AND (?2 IS NULL OR "
	       "grade = ?2) AND first_seen >= ?3 AND (?4 IS NULL OR device = ?4) "
	       "ORDER BY num DESC LIMIT ?5");
	json_t *list;
	int rc;

	if (!st) {
		ledger_note_error(l);
		*err = ledger_query_db_error;
		return NULL;
	}
	sqlite3_bind_int(st, 1, f->open_only);
	if (f->grade >= 0)
		sqlite3_bind_text(st, 2, grade_name((enum grade)f->grade), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, f->since_ms);
	if (f->device)
		sqlite3_bind_text(st, 4, f->device, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 5, ledger_query_limit(f->limit));
	list = json_array();
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct hazard h;

		item_init(&h);
		if (ledger_hazard_get(l, ledger_query_text(st, 0), &h) == 1)
			json_array_append_new(list, item_to_json(&h));
		item_finish(&h);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		json_decref(list);
		ledger_note_error(l);
		*err = ledger_query_db_error;
		return NULL;
	}
	return list;
}

json_t *ledger_query_hazard(struct ledger *l, const char *id, const char **err)
{
	struct hazard h;
	sqlite3_stmt *st;
	json_t *events, *out;
	int rc;

	item_init(&h);
	rc = ledger_hazard_get(l, id, &h);
	if (rc != 1) {
		item_finish(&h);
		*err = rc == 0 ? "no such hazard; 'firegwctl hazards' lists them" : ledger_query_db_error;
		return NULL;
	}
	out = item_to_json(&h);
	item_finish(&h);
	st = ledger_query_prepare(l, "SELECT e.seq, e.event_id, e.type, e.at, "
	                      " EXISTS(SELECT 1 FROM outbox o WHERE o.lane = 0 AND o.seq = e.seq), "
	                      " d.reason, d.at "
	                      "FROM events e LEFT JOIN deadletter d ON d.seq = e.seq "
	                      "WHERE e.hazard_id = ?1 ORDER BY e.seq");
	if (!st) {
		json_decref(out);
		ledger_note_error(l);
		*err = ledger_query_db_error;
		return NULL;
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	events = json_array();
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *e = json_pack("{s:I, s:s, s:s, s:o}", "seq",
		                      (json_int_t)sqlite3_column_int64(st, 0), "event_id",
		                      ledger_query_text(st, 1), "type", ledger_query_text(st, 2), "at",
		                      jsonfmt_time(sqlite3_column_int64(st, 3)));

		if (sqlite3_column_type(st, 5) != SQLITE_NULL) {
			json_object_set_new(e, "delivery", json_string("rejected"));
			json_object_set_new(e, "reason", json_string(ledger_query_text(st, 5)));
			json_object_set_new(e, "rejected_at",
			                    jsonfmt_time(sqlite3_column_int64(st, 6)));
		} else {
			json_object_set_new(
			    e, "delivery",
			    json_string(sqlite3_column_int(st, 4) ? "queued" : "delivered"));
		}
		json_array_append_new(events, e);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		json_decref(events);
		json_decref(out);
		ledger_note_error(l);
		*err = ledger_query_db_error;
		return NULL;
	}
	return json_pack("{s:o, s:o}", "hazard", out, "events", events);
}

json_t *ledger_query_outbox(struct ledger *l, int limit, const char **err)
{
	sqlite3_stmt *st = ledger_query_prepare(
	    l, "SELECT lane, count(*), min(created), max(attempts) FROM outbox GROUP BY lane");
	int64_t now = clock_wall_ms();
	json_t *lanes, *items;
	int rc;

	if (!st) {
		ledger_note_error(l);
		*err = ledger_query_db_error;
		return NULL;
	}
	lanes = json_pack("{s:{s:i, s:n, s:i}, s:{s:i, s:n, s:i}}", "alarm", "depth", 0,
	                  "oldest_age_s", "max_attempts", 0, "telemetry", "depth", 0,
	                  "oldest_age_s", "max_attempts", 0);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *lane = json_object_get(
		    lanes, sqlite3_column_int(st, 0) == LANE_ALARM ? "alarm" : "telemetry");
		int64_t oldest = sqlite3_column_int64(st, 2);

		json_object_set_new(lane, "depth", json_integer(sqlite3_column_int64(st, 1)));
		json_object_set_new(
		    lane, "oldest_age_s",
		    json_integer(oldest > 0 && now > oldest ? (now - oldest) / 1000 : 0));
		json_object_set_new(lane, "max_attempts",
		                    json_integer(sqlite3_column_int64(st, 3)));
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		json_decref(lanes);
		ledger_note_error(l);
		*err = ledger_query_db_error;
		return NULL;
	}
	/* Per destination: an event waiting for two destinations is two rows. */
	json_t *dests = json_array();
	st = ledger_query_prepare(l, "SELECT dest, count(*), min(created) FROM outbox WHERE lane = 0 "
	                             "GROUP BY dest ORDER BY dest");
	while (st && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t oldest = sqlite3_column_int64(st, 2);

		json_array_append_new(
		    dests, json_pack("{s:s, s:I, s:I}", "destination", ledger_query_text(st, 0),
		                     "depth", (json_int_t)sqlite3_column_int64(st, 1), "oldest_age_s",
		                     (json_int_t)(oldest > 0 && now > oldest ? (now - oldest) / 1000
		                                                             : 0)));
	}
	sqlite3_finalize(st);
	json_object_set_new(lanes, "destinations", dests);
	st =
	    ledger_query_prepare(l, "SELECT o.seq, o.hazard_id, e.type, o.created, o.attempts, e.event_id, "
	                     "o.dest FROM outbox o LEFT JOIN events e ON e.seq = o.seq "
	                     "WHERE o.lane = 0 ORDER BY o.id LIMIT ?1");
	if (!st) {
		json_decref(lanes);
		ledger_note_error(l);
		*err = ledger_query_db_error;
		return NULL;
	}
	sqlite3_bind_int(st, 1, ledger_query_limit(limit));
	items = json_array();
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(
		    items, json_pack("{s:I, s:s, s:s, s:o, s:I, s:s, s:s}", "seq",
		                     (json_int_t)sqlite3_column_int64(st, 0), "hazard_id",
		                     ledger_query_text(st, 1), "type", ledger_query_text(st, 2), "created",
		                     jsonfmt_time(sqlite3_column_int64(st, 3)), "attempts",
		                     (json_int_t)sqlite3_column_int64(st, 4), "event_id",
		                     ledger_query_text(st, 5), "destination", ledger_query_text(st, 6)));
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		json_decref(lanes);
		json_decref(items);
		ledger_note_error(l);
		*err = ledger_query_db_error;
		return NULL;
	}
	json_t *per_dest = json_incref(json_object_get(lanes, "destinations"));
	json_object_del(lanes, "destinations");
	return json_pack("{s:o, s:o, s:o}", "lanes", lanes, "destinations", per_dest, "events",
	                 items);
}

json_t *ledger_query_deadletter(struct ledger *l, int limit, const char **err)
{
	sqlite3_stmt *st =
	    ledger_query_prepare(l, "SELECT d.seq, d.event_id, d.hazard_id, d.reason, d.at, "
	                     " e.type FROM deadletter d "
	                     "LEFT JOIN events e ON e.seq = d.seq "
	                     "ORDER BY d.at DESC, d.seq DESC LIMIT ?1");
	json_t *items;
	int rc;

	if (!st) {
		ledger_note_error(l);
		*err = ledger_query_db_error;
		return NULL;
	}
	sqlite3_bind_int(st, 1, ledger_query_limit(limit));
	items = json_array();
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(items,
		                      json_pack("{s:I, s:s, s:s, s:s, s:o, s:s}", "seq",
		                                (json_int_t)sqlite3_column_int64(st, 0), "event_id",
		                                ledger_query_text(st, 1), "hazard_id", ledger_query_text(st, 2),
		                                "reason", ledger_query_text(st, 3), "rejected_at",
		                                jsonfmt_time(sqlite3_column_int64(st, 4)),
		                                "type", ledger_query_text(st, 5)));
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		json_decref(items);
		ledger_note_error(l);
		*err = ledger_query_db_error;
		return NULL;
	}
	return items;
}

/* [start, end) of a local month in wall ms; -1 if `month` is not YYYY-MM. */
static int ledger_query_month_bounds(const char *month, int64_t *start, int64_t *end)
{
	int y, m, n = 0;
	struct tm a = {0}, b = {0};

	if (sscanf(month, "%4d-%2d%n", &y, &m, &n) != 2 || n != 7 || month[n] || y < 1970 ||
	    y > 9999 || m < 1 || m > 12)
		return -1;
	a.tm_year = y - 1900;
	a.tm_mon = m - 1;
	a.tm_mday = 1;
	a.tm_isdst = -1;
	b = a;
	if (++b.tm_mon == 12) {
		b.tm_mon = 0;
		b.tm_year++;
	}
	time_t ta = mktime(&a), tb = mktime(&b);
	if (ta == (time_t)-1 || tb == (time_t)-1)
		return -1;
	*start = (int64_t)ta * 1000;
	*end = (int64_t)tb * 1000;
	return 0;
}

static const char *const ledger_query_report_types[] = {"raised",  "escalated", "recurred",
                                                 "cleared", "closed",    "overdue"};
#define N_REPORT_TYPES (sizeof(ledger_query_report_types) / sizeof(ledger_query_report_types[0]))

static json_t *ledger_query_counts(void)
{
	json_t *o = json_object();

	for (size_t i = 0; i < N_REPORT_TYPES; i++)
		json_object_set_new(o, ledger_query_report_types[i], json_integer(0));
	return o;
}

json_t *ledger_query_report(struct ledger *l, const char *month, const char **err)
{
	int64_t start, end;
	sqlite3_stmt *st;
	json_t *totals, *by_grade, *by_kind, *tests;
	int rc;

	if (ledger_query_month_bounds(month, &start, &end) < 0) {
		*err = "month must be YYYY-MM, e.g. 2026-11";
		return NULL;
	}
	st = ledger_query_prepare(l, "SELECT type, json_extract(body, '$.hazard.grade'), "
	                      " json_extract(body, '$.hazard.kind'), "
	                      " json_extract(body, '$.hazard.test'), count(*) "
	                      "FROM events WHERE at >= ?1 AND at < ?2 GROUP BY 1, 2, 3, 4");
	if (!st) {
		ledger_note_error(l);
		*err = ledger_query_db_error;
		return NULL;
	}
	sqlite3_bind_int64(st, 1, start);
	sqlite3_bind_int64(st, 2, end);
	totals = ledger_query_counts();
	tests = ledger_query_counts();
	by_grade = json_object();
	by_kind = json_object();
	for (int g = GRADE_COUNT - 1; g >= 0; g--)
		json_object_set_new(by_grade, grade_name((enum grade)g), ledger_query_counts());
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *type = ledger_query_text(st, 0), *grade = ledger_query_text(st, 1),
		           *kind = ledger_query_text(st, 2);
		json_int_t n = sqlite3_column_int64(st, 4);
		json_t *t;

		if (!json_object_get(totals, type))
			continue; /* acknowledged, assigned, ...: the platform's own counts */
		if (sqlite3_column_int(st, 3)) {
			t = json_object_get(tests, type);
			json_integer_set(t, json_integer_value(t) + n);
			continue;
		}
		t = json_object_get(totals, type);
		json_integer_set(t, json_integer_value(t) + n);
		json_t *g = json_object_get(by_grade, grade);
		if (g) {
			t = json_object_get(g, type);
			json_integer_set(t, json_integer_value(t) + n);
		}
		json_t *k = json_object_get(by_kind, kind);
		if (!k) {
			k = ledger_query_counts();
			json_object_set_new(by_kind, kind, k);
		}
		t = json_object_get(k, type);
		json_integer_set(t, json_integer_value(t) + n);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		json_decref(totals);
		json_decref(tests);
		json_decref(by_grade);
		json_decref(by_kind);
		ledger_note_error(l);
		*err = ledger_query_db_error;
		return NULL;
	}
	/* Complete unless retention pruned history of this month (docs/operations.md). */
	int64_t pruned = ledger_pruned_until(l);
	return json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:b}", "month", month, "from",
	                 jsonfmt_time(start), "to", jsonfmt_time(end), "totals", totals, "by_grade",
	                 by_grade, "by_kind", by_kind, "tests", tests, "complete", pruned <= start);
}

int64_t ledger_query_parse_since(const char *s, int64_t now_ms)
{
	struct tm tm = {0};
	int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
	int64_t dur;

	if (!s || !*s)
		return -1;
	if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) == 3 && n == 10) {
		if (s[n] == 'T' || s[n] == ' ') {
			int m = 0;

			if (sscanf(s + n + 1, "%2d:%2d%n", &h, &mi, &m) != 2)
				return -1;
			n += 1 + m;
			if (s[n] == ':') {
				if (sscanf(s + n + 1, "%2d%n", &sec, &m) != 1)
					return -1;
				n += 1 + m;
			}
		}
		if (s[n] || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
			return -1;
		tm.tm_year = y - 1900;
		tm.tm_mon = mo - 1;
		tm.tm_mday = d;
		tm.tm_hour = h;
		tm.tm_min = mi;
		tm.tm_sec = sec;
		tm.tm_isdst = -1;
		time_t t = mktime(&tm);
		return t == (time_t)-1 ? -1 : (int64_t)t * 1000;
	}
	dur = conf_parse_duration(s);
	if (dur < 0)
		return -1;
	return now_ms > dur ? now_ms - dur : 0;
}
