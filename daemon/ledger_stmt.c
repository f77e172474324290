/* SPDX-License-Identifier: MIT */
/* ledger_stmt: the ledger's statements and transactions: the kept statements of the hot
 * paths and their SQL, the error mapping (SQLite codes to negative errno, each failure logged
 * once), and begin / commit / rollback with the durability each one asks for. */
#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger_int.h"
#include "log.h"

static const char *const ledger_sql_text[SQL_COUNT] = {
    [SQL_SEQ_HAZARDS] = "SELECT seq FROM sqlite_sequence WHERE name='hazards'",
    [SQL_SEQ_EVENTS] = "SELECT seq FROM sqlite_sequence WHERE name='events'",
    [SQL_HAZARD_OPEN_FOR] = "SELECT " HAZARD_COLS " FROM hazards WHERE device=?1 AND point=?2 "
                            "AND kind=?3 AND status<>'closed' ORDER BY num DESC LIMIT 1",
    [SQL_HAZARD_LAST_CLOSED] = "SELECT " HAZARD_COLS " FROM hazards WHERE device=?1 AND point=?2 "
                               "AND kind=?3 AND status='closed' ORDER BY closed_at DESC LIMIT 1",
    [SQL_HAZARD_GET] = "SELECT " HAZARD_COLS " FROM hazards WHERE id=?1",
    [SQL_HAZARD_INSERT] = "INSERT INTO hazards(num, id, device, point, kind, grade, status, "
                          "active, overdue, test, suspect, escalations, occurrences, value, peak, "
                          "threshold, unit, first_seen, last_seen, cleared_at, closed_at, "
                          "deadline, recurrence_of, title, info, class) VALUES(?25, ?1, ?2, ?3, "
                          "?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, "
                          "?19, ?20, ?21, ?22, ?23, ?24, ?26)",
    [SQL_HAZARD_UPDATE] = "UPDATE hazards SET device=?2, point=?3, kind=?4, grade=?5, "
                          "status=?6, active=?7, overdue=?8, test=?9, suspect=?10, "
                          "escalations=?11, occurrences=?12, value=?13, peak=?14, threshold=?15, "
                          "unit=?16, first_seen=?17, last_seen=?18, cleared_at=?19, closed_at=?20, "
                          "deadline=?21, recurrence_of=?22, title=?23, info=?24, class=?26 WHERE id=?1",
    [SQL_EVENT_INSERT] = "INSERT INTO events(seq, event_id, hazard_id, type, at, body) "
                         "VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
    [SQL_OUTBOX_INSERT] = "INSERT INTO outbox(lane, seq, hazard_id, created, prio, dest) "
                          "VALUES(0, ?1, ?2, ?3, ?4, ?5)",
    [SQL_TELEMETRY_INSERT] = "INSERT INTO outbox(lane, created, payload) VALUES(1, ?1, ?2)",
    [SQL_OUTBOX_DEPTH_ALARM] = "SELECT count(*) FROM outbox WHERE lane=0",
    [SQL_OUTBOX_DEPTH_TELEMETRY] = "SELECT count(*) FROM outbox WHERE lane=1",
    [SQL_OUTBOX_BATCH] = "SELECT o.seq, e.event_id, e.hazard_id, e.body, o.prio FROM "
                         "outbox o JOIN events e ON e.seq = o.seq WHERE o.lane=0 AND o.dest=?2 "
                         "ORDER BY o.prio, o.seq LIMIT ?1",
    /* The same, after a place in that order (the last event of the batch in flight). */
    [SQL_OUTBOX_BATCH_AFTER] =
        "SELECT o.seq, e.event_id, e.hazard_id, e.body, o.prio FROM outbox o JOIN events e ON "
        "e.seq = o.seq WHERE o.lane=0 AND o.dest=?2 AND (o.prio, o.seq) > (?3, ?4) "
        "ORDER BY o.prio, o.seq LIMIT ?1",
    [SQL_OUTBOX_DELETE] = "DELETE FROM outbox WHERE lane=0 AND dest=?2 AND seq=?1",
    [SQL_OUTBOX_OLDEST] = "SELECT min(created) FROM outbox WHERE lane=0",
    [SQL_OUTBOX_DEPTH_DEST] = "SELECT count(*) FROM outbox WHERE lane=0 AND dest=?1",
    [SQL_OUTBOX_OLDEST_DEST] = "SELECT min(created) FROM outbox WHERE lane=0 AND dest=?1",
    [SQL_DEADLETTER_INSERT] =
        "INSERT OR REPLACE INTO deadletter(seq, dest, event_id, hazard_id, reason, at, body) "
        "SELECT e.seq, ?4, e.event_id, e.hazard_id, ?2, ?3, e.body FROM events e "
        "JOIN outbox o ON o.lane=0 AND o.dest=?4 AND o.seq=e.seq WHERE e.seq=?1",
    [SQL_DEADLETTER_COUNT] = "SELECT count(*) FROM deadletter",
    [SQL_EVENT_COUNT] = "SELECT count(*) FROM events",
    /* INDEXED BY: the open items only, never a scan of every closed one (migration 3). */
    [SQL_OPEN_BY_GRADE] =
        "SELECT grade, count(*) FROM hazards INDEXED BY hazards_open WHERE status<>'closed' "
        "AND test=0 AND class='hazard' GROUP BY grade",
    [SQL_COMMAND_SEEN] = "SELECT 1 FROM commands WHERE id=?1",
    [SQL_COMMAND_RECORD] = "INSERT INTO commands(id, type, hazard_id, ok, reason, "
                           "at) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
    [SQL_COMMAND_RESULTS] =
        "SELECT id, ok, reason FROM commands WHERE reported=0 ORDER BY at LIMIT 100",
    [SQL_COMMAND_REPORTED] = "UPDATE commands SET reported=1 WHERE id=?1",
    [SQL_COMMAND_AGAIN] = "UPDATE commands SET reported=0 WHERE id=?1",
    /* Reported results only: one that waits to go out stays. */
    [SQL_COMMAND_PRUNE] = "DELETE FROM commands WHERE reported=1 AND (at < ?1 OR rowid <= "
                          "(SELECT max(rowid) FROM commands) - ?2)",
    /* CROSS JOIN keeps SQLite from scanning the outbox: with a backlog of 100,000 events the
     * other order cost 0.1 s per open hazard, in the main loop. */
    [SQL_RESYNC_PENDING] = "SELECT 1 FROM events e CROSS JOIN outbox o "
                           "ON o.lane=0 AND o.dest=?2 AND o.seq=e.seq "
                           "WHERE e.hazard_id=?1 AND e.type='resync' LIMIT 1",
};

sqlite3 *ledger_db(struct ledger *l)
{
	return l->db;
}

const char *ledger_errmsg(const struct ledger *l)
{
	return l && l->db ? sqlite3_errmsg(l->db) : "no database";
}

void ledger_note_error(struct ledger *l)
{
	int code = sqlite3_errcode(l->db) & 0xff;

	if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB)
		l->corrupt = true;
	if (l->corrupt || code == SQLITE_IOERR)
		l->damaged = true;
}

bool ledger_corrupt_seen(const struct ledger *l)
{
	return l->corrupt;
}

bool ledger_damaged(const struct ledger *l)
{
	return l->damaged;
}

int ledger_fail(struct ledger *l, const char *what)
{
	int code = sqlite3_extended_errcode(l->db);

	/* A full or failing disk fails every retry the same way: said once, with the count of
	 * repeats when it changes or recovers (ledger_commit). */
	if (code != l->fail_code) {
		if (l->fail_repeats)
			log_err("ledger %s: the last error repeated %lu more time(s)", l->path,
			        l->fail_repeats);
		log_err("ledger %s: %s: %s", l->path, what, sqlite3_errmsg(l->db));
		l->fail_code = code;
		l->fail_repeats = 0;
	} else {
		l->fail_repeats++;
	}
	switch (sqlite3_errcode(l->db) & 0xff) {
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		l->damaged = true; /* the next start checks the whole file */
		l->corrupt = true;
		return -EBADMSG;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_CANTOPEN:
		return -EACCES;
	case SQLITE_IOERR:
		l->damaged = true;
		return -EIO;
	default:
		return -EIO;
	}
}

int ledger_exec(struct ledger *l, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(l->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		int rc = ledger_fail(l, msg ? msg : sql);

		sqlite3_free(msg);
		return rc;
	}
	return 0;
}

sqlite3_stmt *ledger_prepare(struct ledger *l, const char *sql)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v3(l->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
		ledger_fail(l, sql);
		return NULL;
	}
	return st;
}

/* Runs a statement expected to yield at most one integer; returns it or `dflt`. */
int64_t ledger_scalar(struct ledger *l, const char *sql, int64_t dflt)
{
	sqlite3_stmt *st = ledger_prepare(l, sql);
	int64_t v = dflt;

	if (!st)
		return dflt;
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		v = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		ledger_note_error(l);
	sqlite3_finalize(st);
	return v;
}

/* The kept statement `id`, compiled on its first use; NULL (logged) if it cannot be. */
sqlite3_stmt *ledger_stmt(struct ledger *l, enum ledger_sql id)
{
	if (!l->stmt[id])
		l->stmt[id] = ledger_prepare(l, ledger_sql_text[id]);
	return l->stmt[id];
}

/* A kept statement after use: reset for the next, bindings (pointers into the caller's
 * memory) cleared. The last step's error stays readable through sqlite3_errmsg. */
void ledger_done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* ledger_scalar with a kept statement. */
int64_t ledger_scalar_kept(struct ledger *l, enum ledger_sql id, int64_t dflt)
{
	sqlite3_stmt *st = ledger_stmt(l, id);
	int64_t v = dflt;

	if (!st)
		return dflt;
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		v = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		ledger_note_error(l);
	ledger_done(st);
	return v;
}

/* synchronous=NORMAL for a relaxed transaction, FULL for every other. */
static int ledger_sync_mode(struct ledger *l, bool relaxed)
{
	if (l->relaxed == relaxed)
		return 0;
	if (sqlite3_exec(l->db, relaxed ? "PRAGMA synchronous=NORMAL" : "PRAGMA synchronous=FULL",
	                 NULL, NULL, NULL) != SQLITE_OK)
		return -EIO;
	l->relaxed = relaxed;
	return 0;
}

static int ledger_begin_tx(struct ledger *l)
{
	int rc = ledger_exec(l, "BEGIN IMMEDIATE");

	if (rc == 0)
		l->in_tx = true;
	/* The clean-stop mark could not be taken away at open: it goes with this run's first
	 * write, or the write does not happen. */
	if (rc == 0 && l->mark_pending && ledger_unmark(l) < 0) {
		rc = ledger_fail(l, "remove the clean-stop mark");
		ledger_rollback(l);
	}
	return rc;
}

int ledger_begin(struct ledger *l)
{
	/* Every ordinary transaction waits for the disk; one that cannot is not begun. */
	if (ledger_sync_mode(l, false) < 0)
		return ledger_fail(l, "set synchronous=FULL");
	return ledger_begin_tx(l);
}

int ledger_begin_relaxed(struct ledger *l)
{
	/* Not while the clean-stop mark waits to go: its removal must reach the disk. A mode
	 * that cannot be set leaves the transaction durable. */
	if (!l->mark_pending)
		(void)ledger_sync_mode(l, true);
	return ledger_begin_tx(l);
}

int ledger_commit(struct ledger *l)
{
	int rc = ledger_exec(l, "COMMIT");

	if (rc < 0) {
		ledger_rollback(l);
		return rc;
	}
	(void)ledger_sync_mode(l, false); /* or at the next ledger_begin */
	l->in_tx = false;
	l->commits++;
	l->mark_pending = false;
	if (l->fail_code) {
		log_notice("ledger %s: writing again (the error repeated %lu more time(s))",
		           l->path, l->fail_repeats);
		l->fail_code = 0;
		l->fail_repeats = 0;
	}
	return 0;
}

void ledger_rollback(struct ledger *l)
{
	if (sqlite3_get_autocommit(l->db) == 0)
		sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
	(void)ledger_sync_mode(l, false);
	l->in_tx = false;
}

bool ledger_in_transaction(const struct ledger *l)
{
	return l->in_tx;
}

uint64_t ledger_commits(const struct ledger *l)
{
	return l->commits;
}

void ledger_copy_text(char *dst, size_t len, sqlite3_stmt *st, int col)
{
	const char *s = (const char *)sqlite3_column_text(st, col);

	snprintf(dst, len, "%s", s ? s : "");
}

double ledger_column_real(sqlite3_stmt *st, int col)
{
	return sqlite3_column_type(st, col) == SQLITE_NULL ? NAN : sqlite3_column_double(st, col);
}

/* The next number of an AUTOINCREMENT table; the caller holds the write transaction. */
int64_t ledger_next(struct ledger *l, enum ledger_sql id)
{
	sqlite3_stmt *st = ledger_stmt(l, id);
	int64_t v = 0;
	int rc;

	if (!st)
		return -EIO;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		v = sqlite3_column_int64(st, 0);
	ledger_done(st);
	/* A failure is one, not the number 1 (which a later insert would find taken). */
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return ledger_fail(l, "read a sequence");
	return v + 1;
}

/* Runs a kept statement with one text parameter: 1 if it gave a row, 0 if none, or the
 * failure (`what` for the log). */
int ledger_step_text(struct ledger *l, enum ledger_sql id, const char *arg, const char *what)
{
	sqlite3_stmt *st = ledger_stmt(l, id);
	int rc;

	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	ledger_done(st);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : ledger_fail(l, what);
}
