/* SPDX-License-Identifier: MIT */
/* ledger: SQLite storage of hazards, events, outbox, dead letters and applied commands. */
#include "ledger.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

/* The statements of the per-event paths (ingest: hazard insert/update, event and outbox
 * rows; drain: outbox batch, accept, dead letter; commands and counters), compiled on first
 * use and kept on struct ledger until ledger_close: compiling them on every call cost more
 * than running them (issue 8). After each use: ledger_done() (reset, bindings cleared). None
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
	SQL_OUTBOX_DELETE,
	SQL_OUTBOX_OLDEST,
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
};

#define HAZARD_COLS                                                                                \
	"num, id, device, point, kind, grade, status, active, overdue, test, suspect, "            \
	"escalations, "                                                                            \
	"occurrences, value, peak, threshold, unit, first_seen, last_seen, cleared_at, "           \
	"closed_at, "                                                                              \
	"deadline, recurrence_of, title, info"

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
                          "deadline, recurrence_of, title, info) VALUES(?25, ?1, ?2, ?3, ?4, ?5, "
                          "?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, "
                          "?21, ?22, ?23, ?24)",
    [SQL_HAZARD_UPDATE] = "UPDATE hazards SET device=?2, point=?3, kind=?4, grade=?5, "
                          "status=?6, active=?7, overdue=?8, test=?9, suspect=?10, "
                          "escalations=?11, occurrences=?12, value=?13, peak=?14, threshold=?15, "
                          "unit=?16, first_seen=?17, last_seen=?18, cleared_at=?19, closed_at=?20, "
                          "deadline=?21, recurrence_of=?22, title=?23, info=?24 WHERE id=?1",
    [SQL_EVENT_INSERT] = "INSERT INTO events(seq, event_id, hazard_id, type, at, body) "
                         "VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
    [SQL_OUTBOX_INSERT] = "INSERT INTO outbox(lane, seq, hazard_id, created, prio) "
                          "VALUES(0, ?1, ?2, ?3, ?4)",
    [SQL_TELEMETRY_INSERT] = "INSERT INTO outbox(lane, created, payload) VALUES(1, ?1, ?2)",
    [SQL_OUTBOX_DEPTH_ALARM] = "SELECT count(*) FROM outbox WHERE lane=0",
    [SQL_OUTBOX_DEPTH_TELEMETRY] = "SELECT count(*) FROM outbox WHERE lane=1",
    [SQL_OUTBOX_BATCH] = "SELECT o.seq, e.event_id, e.hazard_id, e.body FROM "
                         "outbox o JOIN events e ON e.seq = o.seq WHERE o.lane=0 "
                         "ORDER BY o.prio, o.seq LIMIT ?1",
    [SQL_OUTBOX_DELETE] = "DELETE FROM outbox WHERE lane=0 AND seq=?1",
    [SQL_OUTBOX_OLDEST] = "SELECT min(created) FROM outbox WHERE lane=0",
    [SQL_DEADLETTER_INSERT] =
        "INSERT OR REPLACE INTO deadletter(seq, event_id, hazard_id, reason, at, body) "
        "SELECT seq, event_id, hazard_id, ?2, ?3, body FROM events WHERE seq=?1",
    [SQL_DEADLETTER_COUNT] = "SELECT count(*) FROM deadletter",
    [SQL_EVENT_COUNT] = "SELECT count(*) FROM events",
    /* INDEXED BY: the open items only, never a scan of every closed one (migration 3). */
    [SQL_OPEN_BY_GRADE] =
        "SELECT grade, count(*) FROM hazards INDEXED BY hazards_open WHERE status<>'closed' "
        "AND test=0 GROUP BY grade",
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
                           "ON o.lane=0 AND o.seq=e.seq "
                           "WHERE e.hazard_id=?1 AND e.type='resync' LIMIT 1",
};

/* Schema migrations: index i brings user_version i to i + 1. */
static const char *const ledger_migrations[] = {
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE hazards("
    " num INTEGER PRIMARY KEY AUTOINCREMENT,"
    " id TEXT UNIQUE NOT NULL,"
    " device TEXT NOT NULL, point TEXT NOT NULL, kind TEXT NOT NULL,"
    " grade TEXT NOT NULL, status TEXT NOT NULL,"
    " active INTEGER NOT NULL, overdue INTEGER NOT NULL, test INTEGER NOT NULL,"
    " suspect INTEGER NOT NULL, escalations INTEGER NOT NULL, occurrences INTEGER NOT NULL,"
    " value REAL, peak REAL, threshold REAL, unit TEXT NOT NULL,"
    " first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, cleared_at INTEGER NOT NULL,"
    " closed_at INTEGER NOT NULL, deadline INTEGER NOT NULL,"
    " recurrence_of TEXT NOT NULL, title TEXT NOT NULL, info TEXT NOT NULL);"
    "CREATE INDEX hazards_key ON hazards(device, point, kind, status);"
    "CREATE TABLE events("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " event_id TEXT UNIQUE NOT NULL, hazard_id TEXT NOT NULL, type TEXT NOT NULL,"
    " at INTEGER NOT NULL, body TEXT NOT NULL);"
    "CREATE INDEX events_hazard ON events(hazard_id, seq);"
    "CREATE TABLE outbox("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, lane INTEGER NOT NULL, seq INTEGER,"
    " hazard_id TEXT, created INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
    " payload TEXT);"
    "CREATE INDEX outbox_lane ON outbox(lane, id);"
    "CREATE TABLE deadletter("
    " seq INTEGER PRIMARY KEY, event_id TEXT, hazard_id TEXT, reason TEXT NOT NULL,"
    " at INTEGER NOT NULL, body TEXT);"
    "CREATE TABLE commands("
    " id TEXT PRIMARY KEY, type TEXT, hazard_id TEXT, ok INTEGER NOT NULL, reason TEXT,"
    " at INTEGER NOT NULL, reported INTEGER NOT NULL DEFAULT 0);",
    /* 2: the uplink takes events out of the outbox by seq (accepted, dead-lettered); without
     * an index each of those scanned the whole outbox, so draining a backlog of n events cost
     * n^2 row visits and blocked the main loop. prio lets a new hazard overtake a backlog:
     * 0 raised immediate, 1 other raised, 2 the rest (a raised event is the first of its
     * hazard, so no hazard's events change order). */
    "ALTER TABLE outbox ADD COLUMN prio INTEGER NOT NULL DEFAULT 2;"
    "CREATE INDEX outbox_seq ON outbox(lane, seq);"
    "CREATE INDEX outbox_prio ON outbox(lane, prio, seq);",
    /* 3 (issue 8): the open item of a device/point/kind (run for every reading that touches a
     * hazard), the last closed one (run for every raise) and the open items (the overdue sweep
     * every minute, the status line every ten ticks) each read every closed item of the key,
     * or of the ledger, which a detector that raised and closed items for years has by the
     * hundred thousand; partial indexes hold only the rows each query wants. SQLite uses a
     * partial index only for a query whose WHERE implies the index's: the queries say
     * status<>'closed', status='closed' and reported=0 the same way. commands_unreported:
     * the results sent with every uplink batch read the whole commands table. */
    "CREATE INDEX hazards_open ON hazards(device, point, kind) WHERE status<>'closed';"
    "CREATE INDEX hazards_closed ON hazards(device, point, kind, closed_at) "
    "WHERE status='closed';"
    "CREATE INDEX commands_unreported ON commands(at) WHERE reported=0;",
};

#define N_MIGRATIONS (sizeof(ledger_migrations) / sizeof(ledger_migrations[0]))
_Static_assert(N_MIGRATIONS == LEDGER_SCHEMA_VERSION, "ledger.h: LEDGER_SCHEMA_VERSION is the "
                                                      "number of migrations");

sqlite3 *ledger_db(struct ledger *l)
{
	return l->db;
}

const char *ledger_errmsg(const struct ledger *l)
{
	return l && l->db ? sqlite3_errmsg(l->db) : "no database";
}

static int ledger_fail(struct ledger *l, const char *what)
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

static int ledger_exec(struct ledger *l, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(l->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		int rc = ledger_fail(l, msg ? msg : sql);

		sqlite3_free(msg);
		return rc;
	}
	return 0;
}

static sqlite3_stmt *ledger_prepare(struct ledger *l, const char *sql)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v3(l->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
		ledger_fail(l, sql);
		return NULL;
	}
	return st;
}

/* Runs a statement expected to yield at most one integer; returns it or `dflt`. */
static int64_t ledger_scalar(struct ledger *l, const char *sql, int64_t dflt)
{
	sqlite3_stmt *st = ledger_prepare(l, sql);
	int64_t v = dflt;

	if (!st)
		return dflt;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* The kept statement `id`, compiled on its first use; NULL (logged) if it cannot be. */
static sqlite3_stmt *ledger_stmt(struct ledger *l, enum ledger_sql id)
{
	if (!l->stmt[id])
		l->stmt[id] = ledger_prepare(l, ledger_sql_text[id]);
	return l->stmt[id];
}

/* A kept statement after use: reset for the next, bindings (pointers into the caller's
 * memory) cleared. The last step's error stays readable through sqlite3_errmsg. */
static void ledger_done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* ledger_scalar with a kept statement. */
static int64_t ledger_scalar_kept(struct ledger *l, enum ledger_sql id, int64_t dflt)
{
	sqlite3_stmt *st = ledger_stmt(l, id);
	int64_t v = dflt;

	if (!st)
		return dflt;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		v = sqlite3_column_int64(st, 0);
	ledger_done(st);
	return v;
}

static bool ledger_is_damage(int code)
{
	code &= 0xff;
	return code == SQLITE_CORRUPT || code == SQLITE_NOTADB;
}

/* 0: sound; 1: damaged (fails the check, or is not a database); -1: cannot tell (busy,
 * permissions, I/O), which is no reason to move a ledger aside. */
static int ledger_quick_check(sqlite3 *db, char *reason, size_t len)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &st, NULL) != SQLITE_OK) {
		snprintf(reason, len, "%s", sqlite3_errmsg(db));
		return ledger_is_damage(sqlite3_extended_errcode(db)) ? 1 : -1;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *r = (const char *)sqlite3_column_text(st, 0);

		snprintf(reason, len, "%s", r ? r : "no answer");
		rc = r && strcmp(r, "ok") == 0 ? 0 : 1;
	} else {
		snprintf(reason, len, "%s", sqlite3_errmsg(db));
		rc = ledger_is_damage(sqlite3_extended_errcode(db)) ? 1 : -1;
	}
	sqlite3_finalize(st);
	return rc;
}

/* The highest hazard or event number a damaged file still shows, or 0. */
static int64_t ledger_salvage_seq(const char *path)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int64_t max = 0;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "SELECT max(seq) FROM sqlite_sequence", -1, &st, NULL) ==
	        SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		max = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return max;
}

/* Moves the database and its -wal and -shm aside under a name no file has yet: a second
 * damaged ledger within the same second gets ".1", ".2", ... and never replaces the first. */
static int ledger_move_aside(const char *path, char *moved, size_t len)
{
	char stamp[32];
	char from[600], to[600];
	static const char *const sfx[] = {"", "-wal", "-shm"};

	clock_format_compact(clock_wall_ms(), stamp, sizeof(stamp));
	for (int n = 0; n < 1000; n++) {
		if (n == 0)
			snprintf(moved, len, "%s.corrupt-%s", path, stamp);
		else
			snprintf(moved, len, "%s.corrupt-%s.%d", path, stamp, n);
		if (renameat2(AT_FDCWD, path, AT_FDCWD, moved, RENAME_NOREPLACE) == 0)
			break;
		if (errno != EEXIST)
			return -errno;
		if (n == 999)
			return -EEXIST;
	}
	for (size_t i = 1; i < 3; i++) {
		snprintf(from, sizeof(from), "%s%s", path, sfx[i]);
		snprintf(to, sizeof(to), "%s%s", moved, sfx[i]);
		if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) != 0 &&
		    errno != ENOENT)
			return -errno;
	}
	return 0;
}

/* A schema newer than this firegw is refused before anything writes. */
static int ledger_schema_known(struct ledger *l)
{
	int64_t v = ledger_scalar(l, "PRAGMA user_version", 0);

	if (v > (int64_t)N_MIGRATIONS) {
		log_err("ledger %s has schema version %lld, newer than this firegw knows (%zu); "
		        "install the newer firegw or move the file aside",
		        l->path, (long long)v, N_MIGRATIONS);
		return -EPROTO;
	}
	return 0;
}

static int ledger_migrate(struct ledger *l)
{
	int64_t v = ledger_scalar(l, "PRAGMA user_version", 0);
	char sql[64];
	int rc;

	for (; v < (int64_t)N_MIGRATIONS; v++) {
		if ((rc = ledger_exec(l, "BEGIN IMMEDIATE")) < 0)
			return rc;
		snprintf(sql, sizeof(sql), "PRAGMA user_version=%lld", (long long)v + 1);
		if ((rc = ledger_exec(l, ledger_migrations[v])) < 0 ||
		    (rc = ledger_exec(l, sql)) < 0) {
			ledger_exec(l, "ROLLBACK");
			return rc;
		}
		if ((rc = ledger_exec(l, "COMMIT")) < 0)
			return rc;
		log_info("ledger %s: schema migrated to version %lld", l->path, (long long)v + 1);
	}
	return 0;
}

static int ledger_set_floor(struct ledger *l, int64_t floor)
{
	char sql[256];

	snprintf(sql, sizeof(sql),
	         "INSERT INTO sqlite_sequence(name, seq) VALUES('hazards', %lld), ('events', %lld)",
	         (long long)floor, (long long)floor);
	return ledger_exec(l, sql);
}

/* The row a clean stop leaves in meta (ledger_close). Open removes it before anything else
 * writes, so a crash, a power cut or a kill -9 leaves none, and the next open checks the whole
 * file. */
#define LEDGER_CLEAN_KEY "clean_stop"

/* 1: the last stop was clean; 0: it was not, or there is no meta table yet (a new or empty
 * file); -1: damaged (not a database, truncated, a broken schema: reading the mark reads the
 * schema and the first pages); -2: cannot tell. -1 and -2 fill `reason`. */
static int ledger_clean_mark(sqlite3 *db, char *reason, size_t len)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key='" LEDGER_CLEAN_KEY "'", -1,
	                       &st, NULL) != SQLITE_OK) {
		int code = sqlite3_extended_errcode(db);

		snprintf(reason, len, "%s", sqlite3_errmsg(db));
		if (ledger_is_damage(code))
			return -1;
		return (code & 0xff) == SQLITE_ERROR ? 0 : -2; /* no meta table: no mark */
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
		rc = rc == SQLITE_ROW ? 1 : 0;
	} else {
		snprintf(reason, len, "%s", sqlite3_errmsg(db));
		rc = ledger_is_damage(sqlite3_extended_errcode(db)) ? -1 : -2;
	}
	sqlite3_finalize(st);
	return rc;
}

/* Checks the file before anything writes: 0 sound, 1 damaged, -1 cannot tell (see
 * ledger_quick_check). After a clean stop only the schema and meta are read (a file that is
 * not a database, or is cut short, fails there); after any other stop the whole file goes
 * through PRAGMA quick_check, which reads every page (2 s for 1,000,000 events). */
static int ledger_check(struct ledger *l, bool existed, bool *clean, bool *full, char *reason,
                        size_t rlen)
{
	int mark = ledger_clean_mark(l->db, reason, rlen);

	*clean = mark == 1;
	*full = false;
	if (mark == -1)
		return 1;
	if (mark == -2)
		return -1;
	if (mark == 1) {
		log_debug("ledger %s: stopped cleanly last time: schema read, the whole-file check "
		          "skipped",
		          l->path);
		return 0;
	}
	if (existed)
		log_notice("ledger %s was not closed cleanly (a crash, a power cut or a kill): "
		           "checking the whole file",
		           l->path);
	*full = existed;
	return ledger_quick_check(l->db, reason, rlen);
}

static int ledger_connect(struct ledger *l, struct ledger_open_info *info, char *reason,
                          size_t rlen)
{
	int rc = sqlite3_open_v2(l->path, &l->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	bool clean = false, full = false;

	if (rc != SQLITE_OK) {
		snprintf(reason, rlen, "%s", l->db ? sqlite3_errmsg(l->db) : sqlite3_errstr(rc));
		return ledger_is_damage(rc) ? 1 : -1;
	}
	sqlite3_extended_result_codes(l->db, 1);
	sqlite3_busy_timeout(l->db, 5000);
	rc = ledger_check(l, !info->created, &clean, &full, reason, rlen);
	if (full)
		info->full_check = true;
	l->mark_pending = clean;
	return rc;
}

/* Takes the clean-stop mark away before this run writes anything: in autocommit here, or,
 * if that fails (a full disk), in the first transaction (ledger_begin). */
static int ledger_unmark(struct ledger *l)
{
	char *msg = NULL;
	int rc = sqlite3_exec(l->db, "DELETE FROM meta WHERE key='" LEDGER_CLEAN_KEY "'", NULL,
	                      NULL, &msg);

	sqlite3_free(msg);
	if (rc == SQLITE_OK && !l->in_tx)
		l->mark_pending = false;
	return rc == SQLITE_OK ? 0 : -1;
}

/* At a clean stop: the mark that lets the next open skip the whole-file check. Not after an
 * I/O or corruption error in this run: the next start checks everything. */
static void ledger_mark_clean(struct ledger *l)
{
	char sql[160], at[32];
	char *msg = NULL;

	if (l->damaged) {
		log_notice(
		    "ledger %s: this run met I/O or corruption errors; the next start checks "
		    "the whole file",
		    l->path);
		return;
	}
	clock_format_iso(clock_wall_ms(), at, sizeof(at));
	snprintf(sql, sizeof(sql),
	         "INSERT OR REPLACE INTO meta(key, value) VALUES('" LEDGER_CLEAN_KEY "', '%s')",
	         at);
	if (sqlite3_exec(l->db, sql, NULL, NULL, &msg) != SQLITE_OK)
		log_warn("ledger %s: cannot record the clean stop (%s); the next start checks the "
		         "whole file",
		         l->path, msg ? msg : sqlite3_errmsg(l->db));
	sqlite3_free(msg);
}

int ledger_open(struct ledger **out, const char *dir, const char *gateway_id,
                struct ledger_open_info *info)
{
	struct ledger *l = calloc(1, sizeof(*l));
	char reason[256] = "";
	int64_t floor = 0;
	int rc;

	memset(info, 0, sizeof(*info));
	if (!l)
		return -ENOMEM;
	snprintf(l->path, sizeof(l->path), "%s/ledger.db", dir);
	snprintf(l->gateway, sizeof(l->gateway), "%s", gateway_id);
	info->created = access(l->path, F_OK) != 0;

	rc = ledger_connect(l, info, reason, sizeof(reason));
	if (rc < 0) {
		log_err("ledger %s cannot be opened: %s; check the data_dir's owner and "
		        "permissions and the disk",
		        l->path, reason);
		sqlite3_close(l->db);
		free(l);
		return -EIO;
	}
	if (rc > 0) {
		sqlite3_close(l->db);
		l->db = NULL;
		if (info->created) {
			log_err("ledger %s: cannot create: %s", l->path, reason);
			free(l);
			return -EACCES;
		}
		floor = ledger_salvage_seq(l->path);
		if ((rc = ledger_move_aside(l->path, info->moved_to, sizeof(info->moved_to))) < 0) {
			log_err("ledger %s failed its check (%s) and cannot be moved aside: %s",
			        l->path, reason, strerror(-rc));
			free(l);
			return rc;
		}
		info->corrupt = true;
		info->created = true;
		snprintf(info->reason, sizeof(info->reason), "%s", reason);
		log_err(
		    "ledger %s failed PRAGMA quick_check (%s); moved to %s, starting a new ledger",
		    l->path, reason, info->moved_to);
		/* Numbers must never repeat: continue above what the old file shows, or above the
		 * current time in milliseconds when it shows nothing (a ledger that lived a few
		 * seconds cannot have issued more numbers than milliseconds went by). */
		int64_t now_ms = clock_wall_ms();
		if (floor < now_ms)
			floor = now_ms;
		if (ledger_connect(l, info, reason, sizeof(reason)) != 0) {
			log_err("ledger %s: cannot create: %s", l->path, reason);
			sqlite3_close(l->db);
			free(l);
			return -EIO;
		}
	}
	if ((rc = ledger_exec(l, "PRAGMA journal_mode=WAL")) < 0 ||
	    (rc = ledger_exec(l, "PRAGMA synchronous=FULL")) < 0 ||
	    (rc = ledger_exec(l, "PRAGMA foreign_keys=OFF")) < 0 ||
	    (rc = ledger_exec(l, "PRAGMA cache_size=-512")) < 0 || /* 512 KB: docs/performance.md */
	    (rc = ledger_schema_known(l)) < 0) {
		ledger_close(l);
		return rc;
	}
	if (l->mark_pending && ledger_unmark(l) < 0)
		log_notice("ledger %s: cannot write (%s); trying again at the first write", l->path,
		           sqlite3_errmsg(l->db));
	if ((rc = ledger_migrate(l)) < 0 || (floor > 0 && (rc = ledger_set_floor(l, floor)) < 0)) {
		ledger_close(l);
		return rc;
	}
	l->opened = true;
	*out = l;
	return 0;
}

void ledger_close(struct ledger *l)
{
	if (!l)
		return;
	if (l->in_tx)
		ledger_rollback(l);
	for (size_t i = 0; i < SQL_COUNT; i++)
		sqlite3_finalize(l->stmt[i]);
	if (l->db && l->opened)
		ledger_mark_clean(l);
	if (l->db && sqlite3_close(l->db) != SQLITE_OK)
		log_err("ledger %s: close: %s", l->path, sqlite3_errmsg(l->db));
	free(l);
}

const char *ledger_path(const struct ledger *l)
{
	return l->path;
}

const char *ledger_gateway(const struct ledger *l)
{
	return l->gateway;
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

/* ---- hazards ---- */

static void copy_text(char *dst, size_t len, sqlite3_stmt *st, int col)
{
	const char *s = (const char *)sqlite3_column_text(st, col);

	snprintf(dst, len, "%s", s ? s : "");
}

static double column_real(sqlite3_stmt *st, int col)
{
	return sqlite3_column_type(st, col) == SQLITE_NULL ? NAN : sqlite3_column_double(st, col);
}

static void hazard_from_row(sqlite3_stmt *st, struct hazard *h)
{
	const char *info;
	int k, g, s;

	hazard_init(h);
	h->num = sqlite3_column_int64(st, 0);
	copy_text(h->id, sizeof(h->id), st, 1);
	copy_text(h->device, sizeof(h->device), st, 2);
	copy_text(h->point, sizeof(h->point), st, 3);
	k = kind_from_name((const char *)sqlite3_column_text(st, 4));
	g = grade_from_name((const char *)sqlite3_column_text(st, 5));
	s = hstatus_from_name((const char *)sqlite3_column_text(st, 6));
	h->kind = k < 0 ? KIND_DEVICE_FAULT : (enum kind)k;
	h->grade = g < 0 ? GRADE_GENERAL : (enum grade)g;
	h->status = s < 0 ? HSTATUS_OPEN : (enum hstatus)s;
	h->active = sqlite3_column_int(st, 7);
	h->overdue = sqlite3_column_int(st, 8);
	h->test = sqlite3_column_int(st, 9);
	h->suspect_rectification = sqlite3_column_int(st, 10);
	h->escalations = sqlite3_column_int(st, 11);
	h->occurrences = sqlite3_column_int64(st, 12);
	h->value = column_real(st, 13);
	h->peak = column_real(st, 14);
	h->threshold = column_real(st, 15);
	copy_text(h->unit, sizeof(h->unit), st, 16);
	h->first_seen = sqlite3_column_int64(st, 17);
	h->last_seen = sqlite3_column_int64(st, 18);
	h->cleared_at = sqlite3_column_int64(st, 19);
	h->closed_at = sqlite3_column_int64(st, 20);
	h->deadline = sqlite3_column_int64(st, 21);
	copy_text(h->recurrence_of, sizeof(h->recurrence_of), st, 22);
	copy_text(h->title, sizeof(h->title), st, 23);
	info = (const char *)sqlite3_column_text(st, 24);
	h->info = info ? json_loads(info, 0, NULL) : NULL;
	if (!h->info)
		h->info = json_object();
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
		hazard_from_row(st, h);
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
	*info = json_dumps(h->info ? h->info : json_object(), JSON_COMPACT | JSON_SORT_KEYS);
	sqlite3_bind_text(st, 2, h->device, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, h->point, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, kind_name(h->kind), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, grade_name(h->grade), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, hstatus_name(h->status), -1, SQLITE_STATIC);
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
}

/* The next number of an AUTOINCREMENT table; the caller holds the write transaction. */
static int64_t ledger_next(struct ledger *l, enum ledger_sql id)
{
	return ledger_scalar_kept(l, id, 0) + 1;
}

int ledger_hazard_insert(struct ledger *l, struct hazard *h)
{
	sqlite3_stmt *st;
	char *info = NULL;
	int rc;

	h->num = ledger_next(l, SQL_SEQ_HAZARDS);
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

		hazard_from_row(st, &h);
		rc = fn(&h, userdata);
		hazard_finish(&h);
		if (rc != 0)
			break;
	}
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		rc = ledger_fail(l, "list hazards");
	sqlite3_finalize(st);
	return rc;
}

/* ---- events and outbox ---- */

static void ledger_uuid(char out[37])
{
	unsigned char b[16];

	if (getrandom(b, sizeof(b), 0) != sizeof(b)) {
		/* No entropy call: fall back on time and address bits; still unique per process. */
		int64_t t = clock_wall_ms() ^ ((int64_t)getpid() << 40);

		for (size_t i = 0; i < sizeof(b); i++)
			b[i] = (unsigned char)((t >> ((i % 8) * 8)) ^ (i * 37) ^ rand());
	}
	b[6] = (b[6] & 0x0f) | 0x40; /* version 4 */
	b[8] = (b[8] & 0x3f) | 0x80; /* RFC 4122 variant */
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	         b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
	         b[13], b[14], b[15]);
}

int ledger_event_append(struct ledger *l, const struct hazard *h, const char *type, int64_t wall_ms,
                        int64_t *seq_out)
{
	char event_id[37], at[32];
	json_t *body;
	char *text;
	sqlite3_stmt *st;
	int64_t seq;
	int rc;

	ledger_uuid(event_id);
	clock_format_iso(wall_ms, at, sizeof(at));
	seq = ledger_next(l, SQL_SEQ_EVENTS);
	body = json_pack("{s:s, s:I, s:s, s:s, s:o}", "event_id", event_id, "seq", (json_int_t)seq,
	                 "type", type, "at", at, "hazard", hazard_to_json(h));
	text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	if (text && strlen(text) > LEDGER_EVENT_MAX) {
		/* Whatever made it this big, the event itself must go: first without the
		 * platform's fields, then without any of the item's free-form info. */
		json_t *hz = json_object_get(body, "hazard");

		free(text);
		json_object_del(hz, "platform");
		json_object_set_new(hz, "truncated", json_true());
		text = json_dumps(body, JSON_COMPACT);
		if (text && strlen(text) > LEDGER_EVENT_MAX) {
			struct hazard bare = *h;

			free(text);
			bare.info = NULL;
			json_object_set_new(body, "hazard", hazard_to_json(&bare));
			json_object_set_new(json_object_get(body, "hazard"), "truncated",
			                    json_true());
			text = json_dumps(body, JSON_COMPACT);
		}
		log_warn("event %s of %s: its JSON was over %d bytes; sent without the item's "
		         "free-form fields (\"truncated\": true)",
		         event_id, h->id, LEDGER_EVENT_MAX);
	}
	json_decref(body);
	if (!text)
		return -ENOMEM;
	st = ledger_stmt(l, SQL_EVENT_INSERT);
	if (!st) {
		free(text);
		return -EIO;
	}
	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_text(st, 2, event_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, h->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, type, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, wall_ms);
	sqlite3_bind_text(st, 6, text, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	ledger_done(st);
	free(text);
	if (rc != SQLITE_DONE)
		return ledger_fail(l, "append event");

	st = ledger_stmt(l, SQL_OUTBOX_INSERT);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_text(st, 2, h->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, wall_ms);
	sqlite3_bind_int(st, 4,
	                 strcmp(type, "raised") != 0   ? 2
	                 : h->grade == GRADE_IMMEDIATE ? 0
	                                               : 1);
	rc = sqlite3_step(st);
	ledger_done(st);
	if (rc != SQLITE_DONE)
		return ledger_fail(l, "queue event");
	if (seq_out)
		*seq_out = seq;
	l->appended++;
	log_info("hazard %s %s: %s %s grade=%s at %s/%s", h->id, type, kind_name(h->kind),
	         hstatus_name(h->status), grade_name(h->grade), h->device, h->point);
	return 0;
}

int ledger_telemetry_append(struct ledger *l, json_t *payload, int64_t wall_ms)
{
	char *text = json_dumps(payload, JSON_COMPACT);
	sqlite3_stmt *st;
	int rc;

	if (!text)
		return -ENOMEM;
	st = ledger_stmt(l, SQL_TELEMETRY_INSERT);
	if (!st) {
		free(text);
		return -EIO;
	}
	sqlite3_bind_int64(st, 1, wall_ms);
	sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	ledger_done(st);
	free(text);
	return rc == SQLITE_DONE ? 0 : ledger_fail(l, "queue telemetry");
}

int64_t ledger_outbox_depth(struct ledger *l, enum lane lane)
{
	return ledger_scalar_kept(
	    l, lane == LANE_ALARM ? SQL_OUTBOX_DEPTH_ALARM : SQL_OUTBOX_DEPTH_TELEMETRY, -1);
}

uint64_t ledger_events_appended(const struct ledger *l)
{
	return l->appended;
}

int64_t ledger_event_count(struct ledger *l)
{
	return ledger_scalar_kept(l, SQL_EVENT_COUNT, -1);
}

int64_t ledger_last_seq(struct ledger *l)
{
	return ledger_scalar_kept(l, SQL_SEQ_EVENTS, 0);
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

/* ---- platform commands and dead letters ---- */

/* Runs a kept statement with one text parameter: 1 if it gave a row, 0 if none, or the
 * failure (`what` for the log). */
static int ledger_step_text(struct ledger *l, enum ledger_sql id, const char *arg, const char *what)
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

int ledger_command_seen(struct ledger *l, const char *id)
{
	return ledger_step_text(l, SQL_COMMAND_SEEN, id, "look up command");
}

int ledger_command_record(struct ledger *l, const char *id, const char *type, const char *hazard_id,
                          bool ok, const char *reason, int64_t wall_ms)
{
	sqlite3_stmt *st = ledger_stmt(l, SQL_COMMAND_RECORD);
	int rc;

	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, hazard_id, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, ok);
	sqlite3_bind_text(st, 5, reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, wall_ms);
	rc = sqlite3_step(st);
	ledger_done(st);
	return rc == SQLITE_DONE ? 0 : ledger_fail(l, "record command");
}

int ledger_deadletter(struct ledger *l, int64_t seq, const char *reason, int64_t wall_ms)
{
	sqlite3_stmt *st = ledger_stmt(l, SQL_DEADLETTER_INSERT);
	int rc;

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_text(st, 2, reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, wall_ms);
	rc = sqlite3_step(st);
	ledger_done(st);
	if (rc != SQLITE_DONE)
		return ledger_fail(l, "dead-letter event");
	if (sqlite3_changes(l->db) != 1)
		return -ENOENT;
	st = ledger_stmt(l, SQL_OUTBOX_DELETE);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, seq);
	rc = sqlite3_step(st);
	ledger_done(st);
	return rc == SQLITE_DONE ? 0 : ledger_fail(l, "dead-letter event");
}

int64_t ledger_deadletter_count(struct ledger *l)
{
	return ledger_scalar_kept(l, SQL_DEADLETTER_COUNT, -1);
}

/* ---- forwarding ---- */

/* Events that can never go: each is over the request limit. Moved to the dead-letter table
 * in the caller's transaction, or in one of their own. */
static int ledger_outbox_oversize(struct ledger *l, const int64_t *seqs, size_t n, size_t limit)
{
	bool own = !ledger_in_transaction(l);
	char reason[128];
	int rc = own ? ledger_begin(l) : 0;

	snprintf(reason, sizeof(reason), "event larger than the request limit of %zu bytes",
	         limit);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		rc = ledger_deadletter(l, seqs[i], reason, clock_wall_ms());
		if (rc == 0)
			log_err("ledger event seq %lld is larger than the request limit (%zu bytes) and "
			        "could never be sent; kept in the dead-letter table",
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

int ledger_outbox_batch(struct ledger *l, size_t max, size_t max_bytes, struct outbox_item **items,
                        size_t *n)
{
	sqlite3_stmt *st = ledger_stmt(l, SQL_OUTBOX_BATCH);
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
	sqlite3_bind_int64(st, 1, (sqlite3_int64)max);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < max) {
		struct outbox_item *x = &it[*n];
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
		copy_text(x->event_id, sizeof(x->event_id), st, 1);
		copy_text(x->hazard_id, sizeof(x->hazard_id), st, 2);
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
	if (nover > 0 && (rc = ledger_outbox_oversize(l, over, nover, max_bytes)) < 0) {
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

int ledger_outbox_accept(struct ledger *l, int64_t seq)
{
	sqlite3_stmt *st = ledger_stmt(l, SQL_OUTBOX_DELETE);
	int rc;

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, seq);
	rc = sqlite3_step(st);
	ledger_done(st);
	return rc == SQLITE_DONE ? 0 : ledger_fail(l, "accept event");
}

int64_t ledger_outbox_oldest(struct ledger *l)
{
	return ledger_scalar_kept(l, SQL_OUTBOX_OLDEST, 0);
}

json_t *ledger_command_results(struct ledger *l)
{
	sqlite3_stmt *st = ledger_stmt(l, SQL_COMMAND_RESULTS);
	json_t *a = json_array();

	if (!st)
		return a;
	while (sqlite3_step(st) == SQLITE_ROW) {
		json_t *o = json_pack("{s:s, s:b}", "id", (const char *)sqlite3_column_text(st, 0),
		                      "ok", sqlite3_column_int(st, 1));
		const char *reason = (const char *)sqlite3_column_text(st, 2);

		if (o && reason)
			json_object_set_new(o, "reason", json_string(reason));
		if (o)
			json_array_append_new(a, o);
	}
	ledger_done(st);
	return a;
}

int ledger_command_reported(struct ledger *l, const char *id)
{
	int rc = ledger_step_text(l, SQL_COMMAND_REPORTED, id, "mark command reported");

	return rc < 0 ? rc : 0;
}

int ledger_command_again(struct ledger *l, const char *id)
{
	int rc = ledger_step_text(l, SQL_COMMAND_AGAIN, id, "report command again");

	return rc < 0 ? rc : 0;
}

int ledger_command_prune(struct ledger *l, int64_t before_ms, int64_t keep)
{
	sqlite3_stmt *st = ledger_stmt(l, SQL_COMMAND_PRUNE);
	int rc;

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, before_ms);
	sqlite3_bind_int64(st, 2, keep);
	rc = sqlite3_step(st);
	ledger_done(st);
	return rc == SQLITE_DONE ? 0 : ledger_fail(l, "prune applied commands");
}

int ledger_resync_pending(struct ledger *l, const char *hazard_id)
{
	return ledger_step_text(l, SQL_RESYNC_PENDING, hazard_id, "look up resync");
}
