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
#include "i18n.h"
#include "policy.h"
#include "jsonfmt.h"

/* The reasons are marked N_(): the control socket says them in the gateway's language. */
static const char *ledger_query_db_error = N_("the ledger could not be read; see the daemon's log");

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
	       "AND (?6 = 0 OR first_seen < ?6) ORDER BY num DESC LIMIT ?5");
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
	sqlite3_bind_int64(st, 6, f->until_ms);
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
		*err = rc == 0 ? N_("no such hazard; 'firegwctl hazards' lists them")
		               : ledger_query_db_error;
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
	/* The table in id order, stopping at the limit: no index has that order since migration
	 * 6, and any other plan would sort the whole outbox first. */
	st =
	    ledger_query_prepare(l, "SELECT o.seq, o.hazard_id, e.type, o.created, o.attempts, e.event_id, "
	                     "o.dest FROM outbox o NOT INDEXED LEFT JOIN events e ON e.seq = o.seq "
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
