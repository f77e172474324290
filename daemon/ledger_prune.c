/* SPDX-License-Identifier: MIT */
/* ledger_prune: retention. The history of an item leaves the ledger only when the item is
 * closed and none of its events waits in the outbox for any destination (all delivered, or
 * rejected into the dead letters): never an unsent event, an open item or its history. Each
 * step is one small transaction (at most `max_rows` events of one item, the item's row with
 * its last ones), committed without waiting for the disk (a prune lost at a power cut is only
 * done again). The ledger remembers up to when history was pruned (meta pruned_until), so the
 * monthly report can say whether a month is complete. Also the sizes the status shows. */
#include "ledger_int.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

/* An item whose history may go: closed before ?1, nothing of it waiting; the oldest first. */
#define LEDGER_PRUNABLE                                                                            \
	"FROM hazards WHERE status='closed' AND closed_at < ?1 AND id NOT IN "                     \
	"(SELECT hazard_id FROM outbox WHERE hazard_id IS NOT NULL)"

int64_t ledger_pruned_until(struct ledger *l)
{
	return ledger_scalar(l, "SELECT CAST(value AS INTEGER) FROM meta WHERE key='pruned_until'",
	                     0);
}

int64_t ledger_used_bytes(struct ledger *l)
{
	return (ledger_scalar(l, "PRAGMA page_count", 0) -
	        ledger_scalar(l, "PRAGMA freelist_count", 0)) *
	       ledger_scalar(l, "PRAGMA page_size", 0);
}

int64_t ledger_file_bytes(struct ledger *l)
{
	return ledger_scalar(l, "PRAGMA page_count", 0) * ledger_scalar(l, "PRAGMA page_size", 0);
}

/* The next item that may go, numbered above `after`: 1 found, 0 none, or the failure. */
static int ledger_prune_next(struct ledger *l, int64_t before_ms, int64_t after, int64_t *num,
                             char *id, size_t idlen, int64_t *closed_at)
{
	sqlite3_stmt *st = ledger_prepare(l, "SELECT num, id, closed_at " LEDGER_PRUNABLE
	                                     " AND num > ?2 ORDER BY num LIMIT 1");
	int rc;

	if (!st)
		return ledger_fail(l, "prune");
	sqlite3_bind_int64(st, 1, before_ms);
	sqlite3_bind_int64(st, 2, after);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*num = sqlite3_column_int64(st, 0);
		ledger_copy_text(id, idlen, st, 1);
		*closed_at = sqlite3_column_int64(st, 2);
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : ledger_fail(l, "prune");
}

/* Up to `max_rows` events of item `id`, then the item if none is left: events deleted, or
 * the failure. */
static int64_t ledger_prune_item(struct ledger *l, int64_t num, const char *id, int64_t max_rows,
                                 int64_t closed_at, bool *whole)
{
	sqlite3_stmt *st = ledger_prepare(l, "DELETE FROM events WHERE seq IN (SELECT seq FROM "
	                                     "events WHERE hazard_id=?1 ORDER BY seq LIMIT ?2)");
	char sql[200];
	int64_t n;
	int rc;

	if (!st)
		return ledger_fail(l, "prune");
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, max_rows);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return ledger_fail(l, "prune");
	n = sqlite3_changes(l->db);
	*whole = n < max_rows;
	if (!*whole)
		return n;
	snprintf(sql, sizeof(sql), "DELETE FROM hazards WHERE num=%lld", (long long)num);
	if ((rc = ledger_exec(l, sql)) < 0)
		return rc;
	snprintf(sql, sizeof(sql),
	         "INSERT INTO meta(key, value) VALUES('pruned_until', '%lld') ON CONFLICT(key) "
	         "DO UPDATE SET value=max(CAST(value AS INTEGER), %lld)",
	         (long long)closed_at + 1, (long long)closed_at + 1);
	return (rc = ledger_exec(l, sql)) < 0 ? rc : n;
}

int ledger_prune_step(struct ledger *l, int64_t before_ms, int max_rows,
                      struct ledger_prune_result *out)
{
	int64_t num = 0, closed_at = 0, n;
	char id[HAZARD_ID_LEN];
	bool whole = true;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = ledger_begin_relaxed(l)) < 0)
		return rc;
	/* Items in number order, oldest first, until the step's rows are spent. */
	while (out->events < max_rows && whole) {
		rc = ledger_prune_next(l, before_ms, num, &num, id, sizeof(id), &closed_at);
		if (rc <= 0)
			break;
		n = ledger_prune_item(l, num, id, max_rows - out->events, closed_at, &whole);
		if (n < 0) {
			rc = (int)n;
			break;
		}
		out->events += n;
		out->items += whole;
		snprintf(out->id, sizeof(out->id), "%s", id);
		out->closed_at = closed_at;
	}
	if (rc < 0 || (out->events == 0 && out->items == 0)) {
		ledger_rollback(l);
		return rc < 0 ? rc : 0;
	}
	rc = ledger_commit(l);
	return rc < 0 ? rc : 1;
}

int ledger_prune_plan(struct ledger *l, int64_t before_ms, struct ledger_prune_plan *p)
{
	sqlite3_stmt *st;
	int rc;

	memset(p, 0, sizeof(*p));
	p->used_bytes = ledger_used_bytes(l);
	p->file_bytes = ledger_file_bytes(l);
	p->pruned_until = ledger_pruned_until(l);
	st = ledger_prepare(l, "SELECT id, first_seen FROM hazards ORDER BY num LIMIT 1");
	if (!st)
		return ledger_fail(l, "read the oldest item");
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		ledger_copy_text(p->oldest_id, sizeof(p->oldest_id), st, 0);
		p->oldest_first_seen = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return ledger_fail(l, "read the oldest item");
	st = ledger_prepare(l, "SELECT count(*), coalesce(sum((SELECT count(*) FROM events e WHERE "
	                       "e.hazard_id=h.id)), 0), min(closed_at) FROM hazards h "
	                       "WHERE status='closed' AND closed_at < ?1 AND id NOT IN "
	                       "(SELECT hazard_id FROM outbox WHERE hazard_id IS NOT NULL)");
	if (!st)
		return ledger_fail(l, "plan the prune");
	sqlite3_bind_int64(st, 1, before_ms);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		p->items = sqlite3_column_int64(st, 0);
		p->events = sqlite3_column_int64(st, 1);
		p->oldest_closed = sqlite3_column_int64(st, 2);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : ledger_fail(l, "plan the prune");
}
