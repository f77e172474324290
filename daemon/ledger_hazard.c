/* SPDX-License-Identifier: MIT */
/* ledger_hazard: the items' rows: read one (open for a device and point, last closed, by
 * id), insert, update, walk the open ones, count them by grade. */
#include <math.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger_int.h"

static void ledger_hazard_from_row(sqlite3_stmt *st, struct hazard *h)
{
	const char *info;
	int k, g, s;

	item_init(h);
	h->num = sqlite3_column_int64(st, 0);
	ledger_copy_text(h->id, sizeof(h->id), st, 1);
	ledger_copy_text(h->device, sizeof(h->device), st, 2);
	ledger_copy_text(h->point, sizeof(h->point), st, 3);
	k = kind_from_name((const char *)sqlite3_column_text(st, 4));
	g = grade_from_name((const char *)sqlite3_column_text(st, 5));
	s = item_status_from_name((const char *)sqlite3_column_text(st, 6));
	h->kind = k < 0 ? KIND_DEVICE_FAULT : (enum kind)k;
	h->grade = g < 0 ? GRADE_GENERAL : (enum grade)g;
	h->status = s < 0 ? HSTATUS_OPEN : (enum hstatus)s;
	h->active = sqlite3_column_int(st, 7);
	h->overdue = sqlite3_column_int(st, 8);
	h->test = sqlite3_column_int(st, 9);
	h->suspect_rectification = sqlite3_column_int(st, 10);
	h->escalations = sqlite3_column_int(st, 11);
	h->occurrences = sqlite3_column_int64(st, 12);
	h->value = ledger_column_real(st, 13);
	h->peak = ledger_column_real(st, 14);
	h->threshold = ledger_column_real(st, 15);
	ledger_copy_text(h->unit, sizeof(h->unit), st, 16);
	h->first_seen = sqlite3_column_int64(st, 17);
	h->last_seen = sqlite3_column_int64(st, 18);
	h->cleared_at = sqlite3_column_int64(st, 19);
	h->closed_at = sqlite3_column_int64(st, 20);
	h->deadline = sqlite3_column_int64(st, 21);
	ledger_copy_text(h->recurrence_of, sizeof(h->recurrence_of), st, 22);
	ledger_copy_text(h->title, sizeof(h->title), st, 23);
	info = (const char *)sqlite3_column_text(st, 24);
	h->info = info ? json_loads(info, 0, NULL) : NULL;
	if (!h->info)
		h->info = json_object();
	h->iclass = item_class_from_name((const char *)sqlite3_column_text(st, 25)) == ICLASS_INCIDENT
	                ? ICLASS_INCIDENT
	                : ICLASS_HAZARD;
}

static int ledger_hazard_query(struct ledger *l, enum ledger_sql id, const char *a, const char *b,
                               const char *c, struct hazard *h)
{
	sqlite3_stmt *st = ledger_stmt(l, id);
	int rc;

	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
	if (b)
		sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
	if (c)
		sqlite3_bind_text(st, 3, c, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		ledger_hazard_from_row(st, h);
		rc = 1;
	} else if (rc == SQLITE_DONE) {
		rc = 0;
	} else {
		rc = ledger_fail(l, "hazard query");
	}
	ledger_done(st);
	return rc;
}

int ledger_hazard_open_for(struct ledger *l, const char *device, const char *point, enum kind kind,
                           struct hazard *h)
{
	return ledger_hazard_query(l, SQL_HAZARD_OPEN_FOR, device, point, kind_name(kind), h);
}

int ledger_hazard_last_closed(struct ledger *l, const char *device, const char *point,
                              enum kind kind, struct hazard *h)
{
	return ledger_hazard_query(l, SQL_HAZARD_LAST_CLOSED, device, point, kind_name(kind), h);
}

int ledger_hazard_get(struct ledger *l, const char *id, struct hazard *h)
{
	return ledger_hazard_query(l, SQL_HAZARD_GET, id, NULL, NULL, h);
}

static void ledger_bind_hazard(sqlite3_stmt *st, const struct hazard *h, char **info)
{
	/* No info: "{}" (a json_object() made here would leak). */
	*info = h->info ? json_dumps(h->info, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	sqlite3_bind_text(st, 2, h->device, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, h->point, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, kind_name(h->kind), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, grade_name(h->grade), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, item_status_name(h->status), -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 7, h->active);
	sqlite3_bind_int(st, 8, h->overdue);
	sqlite3_bind_int(st, 9, h->test);
	sqlite3_bind_int(st, 10, h->suspect_rectification);
	sqlite3_bind_int(st, 11, h->escalations);
	sqlite3_bind_int64(st, 12, h->occurrences);
	sqlite3_bind_double(st, 13, h->value);
	sqlite3_bind_double(st, 14, h->peak);
	sqlite3_bind_double(st, 15, h->threshold);
	sqlite3_bind_text(st, 16, h->unit, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 17, h->first_seen);
	sqlite3_bind_int64(st, 18, h->last_seen);
	sqlite3_bind_int64(st, 19, h->cleared_at);
	sqlite3_bind_int64(st, 20, h->closed_at);
	sqlite3_bind_int64(st, 21, h->deadline);
	sqlite3_bind_text(st, 22, h->recurrence_of, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 23, h->title, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 24, *info ? *info : "{}", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 26, item_class_name(h->iclass), -1, SQLITE_STATIC);
}

int ledger_hazard_insert(struct ledger *l, struct hazard *h)
{
	sqlite3_stmt *st;
	char *info = NULL;
	int rc;

	h->num = ledger_next(l, SQL_SEQ_HAZARDS);
	if (h->num < 0)
		return (int)h->num;
	snprintf(h->id, sizeof(h->id), "%s-%06lld", l->gateway, (long long)h->num);
	st = ledger_stmt(l, SQL_HAZARD_INSERT);
	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, h->id, -1, SQLITE_STATIC);
	ledger_bind_hazard(st, h, &info);
	sqlite3_bind_int64(st, 25, h->num);
	rc = sqlite3_step(st);
	ledger_done(st);
	free(info);
	return rc == SQLITE_DONE ? 0 : ledger_fail(l, "insert hazard");
}

int ledger_hazard_update(struct ledger *l, const struct hazard *h)
{
	sqlite3_stmt *st;
	char *info = NULL;
	int rc;

	st = ledger_stmt(l, SQL_HAZARD_UPDATE);
	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, h->id, -1, SQLITE_STATIC);
	ledger_bind_hazard(st, h, &info);
	rc = sqlite3_step(st);
	ledger_done(st);
	free(info);
	if (rc != SQLITE_DONE)
		return ledger_fail(l, "update hazard");
	return sqlite3_changes(l->db) == 1 ? 0 : -ENOENT;
}

int ledger_hazard_foreach_open(struct ledger *l, bool active_only, ledger_hazard_fn fn,
                               void *userdata)
{
	/* INDEXED BY hazards_open: the open items, sorted, never a scan of the closed ones. */
	sqlite3_stmt *st = ledger_prepare(
	    l, active_only ? "SELECT " HAZARD_COLS " FROM hazards INDEXED BY hazards_open "
	                     "WHERE status<>'closed' AND active=1 ORDER BY num"
	                   : "SELECT " HAZARD_COLS " FROM hazards INDEXED BY hazards_open "
	                     "WHERE status<>'closed' ORDER BY num");
	int rc = 0, step;

	if (!st)
		return -EIO;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		struct hazard h;

		ledger_hazard_from_row(st, &h);
		rc = fn(&h, userdata);
		item_finish(&h);
		if (rc != 0)
			break;
	}
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		rc = ledger_fail(l, "list hazards");
	sqlite3_finalize(st);
	return rc;
}

int ledger_open_incidents(struct ledger *l, int64_t *open, int64_t *unverified)
{
	sqlite3_stmt *st = ledger_prepare(
	    l, "SELECT count(*), coalesce(sum(json_extract(info, '$.verification') IS NULL), 0) "
	       "FROM hazards INDEXED BY hazards_open WHERE status<>'closed' AND test=0 "
	       "AND class='incident'");
	int rc;

	*open = *unverified = 0;
	if (!st)
		return -EIO;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*open = sqlite3_column_int64(st, 0);
		*unverified = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : ledger_fail(l, "count incidents");
}

int64_t ledger_false_alarms_since(struct ledger *l, const char *device, int64_t since_ms)
{
	sqlite3_stmt *st = ledger_prepare(
	    l, "SELECT count(*) FROM hazards WHERE device=?1 AND class='incident' AND "
	       "first_seen>=?2 AND json_extract(info, '$.verification.outcome')='false_alarm'");
	int64_t n;

	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, device, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, since_ms);
	n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : ledger_fail(l, "count false alarms");
	sqlite3_finalize(st);
	return n;
}

int ledger_open_by_grade(struct ledger *l, int64_t counts[GRADE_COUNT])
{
	sqlite3_stmt *st = ledger_stmt(l, SQL_OPEN_BY_GRADE);
	int rc;

	memset(counts, 0, sizeof(int64_t) * GRADE_COUNT);
	if (!st)
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int g = grade_from_name((const char *)sqlite3_column_text(st, 0));

		if (g >= 0)
			counts[g] = sqlite3_column_int64(st, 1);
	}
	ledger_done(st);
	return rc == SQLITE_DONE ? 0 : ledger_fail(l, "count hazards");
}
