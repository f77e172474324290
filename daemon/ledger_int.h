/* SPDX-License-Identifier: MIT */
/* ledger_int: the ledger family's private header: struct ledger, its kept statements and
 * the helpers every ledger_*.c file uses. Nothing outside the family includes it. */
#pragma once

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger.h"

/* The statements of the per-event paths (ingest: hazard insert/update, event and outbox
 * rows; drain: outbox batch, accept, dead letter; commands and counters), compiled on first
 * use and kept on struct ledger until ledger_close: compiling them on every call cost more
 * than running them. After each use: ledger_done() (reset, bindings cleared). None
 * of them is stepped while a caller's callback runs, so none is ever in use twice. */
enum ledger_sql {
	SQL_SEQ_HAZARDS,
	SQL_SEQ_EVENTS,
	SQL_HAZARD_OPEN_FOR,
	SQL_HAZARD_LAST_CLOSED,
	SQL_HAZARD_GET,
	SQL_HAZARD_INSERT,
	SQL_HAZARD_UPDATE,
	SQL_EVENT_INSERT,
	SQL_OUTBOX_INSERT,
	SQL_TELEMETRY_INSERT,
	SQL_OUTBOX_DEPTH_ALARM,
	SQL_OUTBOX_DEPTH_TELEMETRY,
	SQL_OUTBOX_BATCH,
	SQL_OUTBOX_BATCH_AFTER,
	SQL_OUTBOX_DELETE,
	SQL_OUTBOX_OLDEST,
	SQL_OUTBOX_DEPTH_DEST,
	SQL_OUTBOX_OLDEST_DEST,
	SQL_DEADLETTER_INSERT,
	SQL_DEADLETTER_COUNT,
	SQL_EVENT_COUNT,
	SQL_OPEN_BY_GRADE,
	SQL_COMMAND_SEEN,
	SQL_COMMAND_RECORD,
	SQL_COMMAND_RESULTS,
	SQL_COMMAND_REPORTED,
	SQL_COMMAND_AGAIN,
	SQL_COMMAND_PRUNE,
	SQL_RESYNC_PENDING,
	SQL_COUNT
};

struct ledger {
	sqlite3 *db;
	sqlite3_stmt *stmt[SQL_COUNT];
	char path[512];
	char gateway[64];
	bool in_tx;
	uint64_t commits;
	uint64_t appended;
	int fail_code;              /* the last failure's SQLite code, 0 after a commit */
	unsigned long fail_repeats; /* repeats of it not logged */
	bool opened;                /* ledger_open succeeded: a close is a clean stop */
	bool mark_pending;          /* the clean-stop mark is still in meta (ledger_unmark) */
	bool relaxed;               /* the transaction is ledger_begin_relaxed's */
	bool damaged;               /* an I/O or corruption error was seen: no clean mark */
	bool corrupt;               /* a corruption error was seen (ledger_corrupt_seen) */
	struct ledger_dest *dests;  /* where events go (ledger_set_dests); none: dest '' */
	size_t ndests;
};

#define HAZARD_COLS                                                                                \
	"num, id, device, point, kind, grade, status, active, overdue, test, suspect, "            \
	"escalations, "                                                                            \
	"occurrences, value, peak, threshold, unit, first_seen, last_seen, cleared_at, "           \
	"closed_at, "                                                                              \
	"deadline, recurrence_of, title, info, class"

/* ledger.c: takes the clean-stop mark away (at open, or with this run's first write). */
int ledger_unmark(struct ledger *l);

/* ledger_salvage.c: what was unsent and open in the damaged file `damaged` into `l` (new,
 * migrated) in one transaction; the counts in `c`. Returns 0 (also when nothing could be
 * read: logged) or a negative errno when `l` fails. */
int ledger_salvage(struct ledger *l, const char *damaged, struct ledger_salvage_counts *c);

/* ledger_stmt.c */
int ledger_fail(struct ledger *l, const char *what);
int ledger_exec(struct ledger *l, const char *sql);
sqlite3_stmt *ledger_prepare(struct ledger *l, const char *sql);
/* Runs a statement expected to yield at most one integer; returns it or `dflt`. */
int64_t ledger_scalar(struct ledger *l, const char *sql, int64_t dflt);
/* The kept statement `id`, compiled on its first use; NULL (logged) if it cannot be. */
sqlite3_stmt *ledger_stmt(struct ledger *l, enum ledger_sql id);
/* A kept statement after use: reset, bindings cleared. */
void ledger_done(sqlite3_stmt *st);
/* ledger_scalar with a kept statement. */
int64_t ledger_scalar_kept(struct ledger *l, enum ledger_sql id, int64_t dflt);
/* The next number of an AUTOINCREMENT table, or a negative errno. */
int64_t ledger_next(struct ledger *l, enum ledger_sql id);
/* Runs a kept statement with one text parameter: 1 if it gave a row, 0 if none, or the
 * failure (`what` for the log). */
int ledger_step_text(struct ledger *l, enum ledger_sql id, const char *arg, const char *what);
void ledger_copy_text(char *dst, size_t len, sqlite3_stmt *st, int col);
double ledger_column_real(sqlite3_stmt *st, int col);
