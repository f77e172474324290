/* SPDX-License-Identifier: MIT */
/* ledger_outbox: what waits for the platform: the next batch (within a byte budget), the
 * accepted rows leaving, the rejected ones (and those too large ever to go) moved to the
 * dead-letter table, and the outbox's depth and age. */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "i18n.h"
#include "ledger_int.h"
#include "clock.h"
#include "log.h"

int64_t ledger_outbox_depth_dest(struct ledger *l, const char *dest)
{
	sqlite3_stmt *st = ledger_stmt(l, SQL_OUTBOX_DEPTH_DEST);
	int64_t v = -1;

	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, dest, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	ledger_done(st);
	return v;
}

int64_t ledger_outbox_oldest_dest(struct ledger *l, const char *dest)
{
	sqlite3_stmt *st = ledger_stmt(l, SQL_OUTBOX_OLDEST_DEST);
	int64_t v = 0;

	if (!st)
		return 0;
	sqlite3_bind_text(st, 1, dest, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		v = sqlite3_column_int64(st, 0);
	ledger_done(st);
	return v;
}

int64_t ledger_outbox_depth(struct ledger *l, enum lane lane)
{
	return ledger_scalar_kept(
	    l, lane == LANE_ALARM ? SQL_OUTBOX_DEPTH_ALARM : SQL_OUTBOX_DEPTH_TELEMETRY, -1);
}

/* The event's alarm-lane row leaves the outbox (`what` names why, for the log). */
static int ledger_outbox_remove(struct ledger *l, const char *dest, int64_t seq,
                                const char *what)
{
	sqlite3_stmt *st = ledger_stmt(l, SQL_OUTBOX_DELETE);
	int rc;

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_text(st, 2, dest, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	ledger_done(st);
	return rc == SQLITE_DONE ? 0 : ledger_fail(l, what);
}

int ledger_deadletter(struct ledger *l, const char *dest, int64_t seq, const char *reason,
                      int64_t wall_ms)
{
	sqlite3_stmt *st = ledger_stmt(l, SQL_DEADLETTER_INSERT);
	int rc;

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_text(st, 2, reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, wall_ms);
	sqlite3_bind_text(st, 4, dest, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	ledger_done(st);
	if (rc != SQLITE_DONE)
		return ledger_fail(l, "dead-letter event");
	if (sqlite3_changes(l->db) != 1)
		return -ENOENT;
	return ledger_outbox_remove(l, dest, seq, "dead-letter event");
}

int64_t ledger_deadletter_count(struct ledger *l)
{
	return ledger_scalar_kept(l, SQL_DEADLETTER_COUNT, -1);
}

/* Events that can never go: each is over the request limit. Moved to the dead-letter table
 * in the caller's transaction, or in one of their own. */
static int ledger_outbox_oversize(struct ledger *l, const char *dest, const int64_t *seqs,
                                  size_t n, size_t limit)
{
	bool own = !ledger_in_transaction(l);
	char reason[128];
	int rc = own ? ledger_begin(l) : 0;

	snprintf(reason, sizeof(reason), "event larger than the request limit of %zu bytes",
	         limit);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		rc = ledger_deadletter(l, dest, seqs[i], reason, clock_wall_ms());
		if (rc == 0)
			log_err(_("ledger event seq %lld is larger than the request limit (%zu bytes) and "
			        "could never be sent; kept in the dead-letter table"),
			        (long long)seqs[i], limit);
	}
	if (!own)
		return rc;
	if (rc < 0) {
		ledger_rollback(l);
		return rc;
	}
	return ledger_commit(l);
}

static bool ledger_outbox_skipped(int64_t seq, const int64_t *skip, size_t nskip)
{
	for (size_t i = 0; i < nskip; i++)
		if (skip[i] == seq)
			return true;
	return false;
}

static int ledger_outbox_read(struct ledger *l, const char *dest, size_t max, size_t max_bytes,
                              const int64_t *skip, size_t nskip,
                              const struct outbox_item *after, struct outbox_item **items,
                              size_t *n);

int ledger_outbox_batch(struct ledger *l, const char *dest, size_t max, size_t max_bytes,
                        struct outbox_item **items, size_t *n)
{
	return ledger_outbox_read(l, dest, max, max_bytes, NULL, 0, NULL, items, n);
}

int ledger_outbox_batch_skip(struct ledger *l, const char *dest, size_t max, size_t max_bytes,
                             const int64_t *skip, size_t nskip, struct outbox_item **items,
                             size_t *n)
{
	return ledger_outbox_read(l, dest, max, max_bytes, skip, nskip, NULL, items, n);
}

int ledger_outbox_batch_after(struct ledger *l, const char *dest, size_t max, size_t max_bytes,
                              const struct outbox_item *after, struct outbox_item **items,
                              size_t *n)
{
	return ledger_outbox_read(l, dest, max, max_bytes, NULL, 0, after, items, n);
}

static int ledger_outbox_read(struct ledger *l, const char *dest, size_t max, size_t max_bytes,
                              const int64_t *skip, size_t nskip,
                              const struct outbox_item *after, struct outbox_item **items,
                              size_t *n)
{
	sqlite3_stmt *st = ledger_stmt(l, after ? SQL_OUTBOX_BATCH_AFTER : SQL_OUTBOX_BATCH);
	struct outbox_item *it;
	int64_t over[16];
	size_t nover = 0, bytes = 0;
	int rc;

	*items = NULL;
	*n = 0;
	if (!st)
		return -EIO;
	it = calloc(max ? max : 1, sizeof(*it));
	if (!it)
		return -ENOMEM;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)(max + nskip));
	sqlite3_bind_text(st, 2, dest, -1, SQLITE_STATIC);
	if (after) {
		sqlite3_bind_int64(st, 3, after->prio);
		sqlite3_bind_int64(st, 4, after->seq);
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < max) {
		struct outbox_item *x = &it[*n];

		if (nskip > 0 && ledger_outbox_skipped(sqlite3_column_int64(st, 0), skip, nskip))
			continue; /* in flight */
		/* The size from the record header: the body is not read for one left out. */
		size_t len = (size_t)sqlite3_column_bytes(st, 3);
		const char *body;

		if (len > max_bytes) {
			if (nover < sizeof(over) / sizeof(over[0]))
				over[nover++] = sqlite3_column_int64(st, 0);
			continue;
		}
		if (bytes + len > max_bytes)
			break; /* the batch stops growing; the rest go in the next request */
		body = (const char *)sqlite3_column_text(st, 3);
		x->seq = sqlite3_column_int64(st, 0);
		x->prio = sqlite3_column_int64(st, 4);
		ledger_copy_text(x->event_id, sizeof(x->event_id), st, 1);
		ledger_copy_text(x->hazard_id, sizeof(x->hazard_id), st, 2);
		x->body = strdup(body ? body : "{}");
		if (!x->body)
			break;
		bytes += len;
		(*n)++;
	}
	ledger_done(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		ledger_outbox_free(it, *n);
		*n = 0;
		return ledger_fail(l, "read outbox");
	}
	if (nover > 0 && (rc = ledger_outbox_oversize(l, dest, over, nover, max_bytes)) < 0) {
		ledger_outbox_free(it, *n);
		*n = 0;
		return rc;
	}
	*items = it;
	return 0;
}

void ledger_outbox_free(struct outbox_item *items, size_t n)
{
	for (size_t i = 0; items && i < n; i++)
		free(items[i].body);
	free(items);
}

int ledger_outbox_accept(struct ledger *l, const char *dest, int64_t seq)
{
	return ledger_outbox_remove(l, dest, seq, "accept event");
}

int64_t ledger_outbox_oldest(struct ledger *l)
{
	return ledger_scalar_kept(l, SQL_OUTBOX_OLDEST, 0);
}
