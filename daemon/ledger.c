/* SPDX-License-Identifier: MIT */
/* ledger: opening the SQLite ledger: its schema and migrations, the check after an unclean
 * stop, salvaging a damaged file, the clean-stop mark, and closing. The rest of the ledger
 * family, behind ledger_int.h: ledger_stmt (statements, transactions, errors), ledger_hazard
 * (items), ledger_event (events and telemetry), ledger_outbox (batches, acceptance, dead
 * letters), ledger_command (applied platform commands). */
#include "ledger_int.h"

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
#include "i18n.h"
#include "log.h"

/* Flash wear (docs/performance.md, "Flash wear"): every commit writes each page it changed to
 * the WAL whole, and an event changes a dozen pages, so the page size sets the bytes an event
 * costs: 1 KiB pages write about a third of what 4 KiB pages did. An event's JSON (about
 * 1 KB) then takes an overflow page, one more page to read (the monthly report's CPU). */
#define LEDGER_PAGE_SIZE 1024
/* The WAL is checkpointed into the database each time it holds this much (ledger_wal_bound). */
#define LEDGER_WAL_BYTES (4 * 1024 * 1024)
#define LEDGER_STR_(x) #x
#define LEDGER_STR(x) LEDGER_STR_(x)

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
    /* 3: the open item of a device/point/kind (run for every reading that touches a
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
    /* 4: several destinations. Each outbox row is one event waiting for one destination
     * (dest, '' in a ledger written before: ledger_set_dests gives those rows to the first
     * destination configured), so one that is down never holds another back; an event
     * leaves the outbox when its last row goes. A dead letter is one destination's
     * rejection. */
    "ALTER TABLE outbox ADD COLUMN dest TEXT NOT NULL DEFAULT '';"
    "DROP INDEX outbox_seq;"
    "CREATE UNIQUE INDEX outbox_seq ON outbox(lane, dest, seq);"
    "DROP INDEX outbox_prio;"
    "CREATE INDEX outbox_prio ON outbox(lane, dest, prio, seq);"
    "CREATE TABLE deadletter_dest("
    " seq INTEGER NOT NULL, dest TEXT NOT NULL DEFAULT '', event_id TEXT, hazard_id TEXT,"
    " reason TEXT NOT NULL, at INTEGER NOT NULL, body TEXT, PRIMARY KEY(dest, seq));"
    "INSERT INTO deadletter_dest(seq, event_id, hazard_id, reason, at, body)"
    " SELECT seq, event_id, hazard_id, reason, at, body FROM deadletter;"
    "DROP TABLE deadletter;"
    "ALTER TABLE deadletter_dest RENAME TO deadletter;",
    /* 5: 警情 apart from 隐患. A fire alarm is an incident to verify and close, not a hazard to
     * rectify: the items an older firegw raised for fire alarms become incidents, and the open
     * ones lose the rectification deadline they should never have had. */
    "ALTER TABLE hazards ADD COLUMN class TEXT NOT NULL DEFAULT 'hazard';"
    "UPDATE hazards SET class='incident' WHERE kind='fire_alarm';"
    "UPDATE hazards SET deadline=0, overdue=0 WHERE kind='fire_alarm' AND status<>'closed';",
    /* 6: flash wear. outbox_lane (lane, id) served only the outbox listing of firegwctl, which
     * reads the table in id order instead; every event's row and every acceptance paid a page
     * of it in the WAL (docs/performance.md, "Flash wear"). */
    "DROP INDEX IF EXISTS outbox_lane;",
    /* 7: whether an open item's resync is still waiting for a destination (asked for every
     * open item when a destination comes back) read every event of the item: 0.34 s with
     * 32 items and 100,000 events, on the drain's critical path. Only the resync events are
     * in this index, so no other event pays a page of it. */
    "CREATE INDEX IF NOT EXISTS events_resync ON events(hazard_id) WHERE type='resync';",
};

#define N_MIGRATIONS (sizeof(ledger_migrations) / sizeof(ledger_migrations[0]))
_Static_assert(N_MIGRATIONS == LEDGER_SCHEMA_VERSION, "ledger.h: LEDGER_SCHEMA_VERSION is the "
                                                      "number of migrations");

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

/* A checkpoint each LEDGER_WAL_BYTES of WAL, whatever the page size: SQLite's default of
 * 1,000 frames is 4 MiB with 4 KiB pages but only 1 MiB with 1 KiB pages, and every checkpoint
 * writes the pages every event touches (the sequence, the item, the outbox and the leaves of
 * their indexes) into the database once more. */
static int ledger_wal_bound(struct ledger *l)
{
	int64_t page = ledger_scalar(l, "PRAGMA page_size", 4096);
	char sql[64];

	snprintf(sql, sizeof(sql), "PRAGMA wal_autocheckpoint=%lld",
	         (long long)(LEDGER_WAL_BYTES / (page > 0 ? page : 4096)));
	return ledger_exec(l, sql);
}

/* A schema newer than this firegw is refused before anything writes. */
static int ledger_schema_known(struct ledger *l)
{
	int64_t v = ledger_scalar(l, "PRAGMA user_version", 0);

	if (v > (int64_t)N_MIGRATIONS) {
		log_err(_("ledger %s has schema version %lld, newer than this firegw knows (%zu); "
		        "install the newer firegw or move the file aside"),
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
		log_notice(_("ledger %s was not closed cleanly (a crash, a power cut or a kill): "
		           "checking the whole file"),
		           l->path);
	*full = existed;
	int rc = ledger_quick_check(l->db, reason, rlen);
	/* A page that cannot be read twice in a row (a failing flash block) is damage too: the
	 * file is moved aside and what it still shows is salvaged, rather than a gateway that
	 * can never start. */
	if (rc == -1 && (sqlite3_extended_errcode(l->db) & 0xff) == SQLITE_IOERR &&
	    (rc = ledger_quick_check(l->db, reason, rlen)) == -1 &&
	    (sqlite3_extended_errcode(l->db) & 0xff) == SQLITE_IOERR)
		rc = 1;
	return rc;
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
int ledger_unmark(struct ledger *l)
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
		    _("ledger %s: this run met I/O or corruption errors; the next start checks "
		    "the whole file"),
		    l->path);
		return;
	}
	clock_format_iso(clock_wall_ms(), at, sizeof(at));
	snprintf(sql, sizeof(sql),
	         "INSERT OR REPLACE INTO meta(key, value) VALUES('" LEDGER_CLEAN_KEY "', '%s')",
	         at);
	if (sqlite3_exec(l->db, sql, NULL, NULL, &msg) != SQLITE_OK)
		log_warn(_("ledger %s: cannot record the clean stop (%s); the next start checks the "
		         "whole file"),
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
		log_err(_("ledger %s cannot be opened: %s; check the data_dir's owner and "
		        "permissions and the disk"),
		        l->path, reason);
		sqlite3_close(l->db);
		free(l);
		return -EIO;
	}
	if (rc > 0) {
		sqlite3_close(l->db);
		l->db = NULL;
		if (info->created) {
			log_err(_("ledger %s: cannot create: %s"), l->path, reason);
			free(l);
			return -EACCES;
		}
		floor = ledger_salvage_seq(l->path);
		if ((rc = ledger_move_aside(l->path, info->moved_to, sizeof(info->moved_to))) < 0) {
			log_err(_("ledger %s failed its check (%s) and cannot be moved aside: %s"),
			        l->path, reason, strerror(-rc));
			free(l);
			return rc;
		}
		info->corrupt = true;
		info->created = true;
		snprintf(info->reason, sizeof(info->reason), "%s", reason);
		log_err(
		    _("ledger %s failed PRAGMA quick_check (%s); moved to %s, starting a new ledger"),
		    l->path, reason, info->moved_to);
		/* Numbers must never repeat: continue above what the old file shows, or above the
		 * current time in milliseconds when it shows nothing (a ledger that lived a few
		 * seconds cannot have issued more numbers than milliseconds went by). */
		int64_t now_ms = clock_wall_ms();
		if (floor < now_ms)
			floor = now_ms;
		if (ledger_connect(l, info, reason, sizeof(reason)) != 0) {
			log_err(_("ledger %s: cannot create: %s"), l->path, reason);
			sqlite3_close(l->db);
			free(l);
			return -EIO;
		}
	}
	/* A new ledger gets small pages (before WAL mode, the first write); one that exists keeps
	 * the size it was made with (in WAL mode even VACUUM cannot change it). */
	if ((rc = ledger_exec(l, "PRAGMA page_size=" LEDGER_STR(LEDGER_PAGE_SIZE))) < 0 ||
	    (rc = ledger_exec(l, "PRAGMA journal_mode=WAL")) < 0 ||
	    (rc = ledger_exec(l, "PRAGMA synchronous=FULL")) < 0 ||
	    (rc = ledger_exec(l, "PRAGMA foreign_keys=OFF")) < 0 ||
	    (rc = ledger_exec(l, "PRAGMA cache_size=-512")) < 0 || /* 512 KB: docs/performance.md */
	    (rc = ledger_wal_bound(l)) < 0 || (rc = ledger_schema_known(l)) < 0) {
		ledger_close(l);
		return rc;
	}
	if (l->mark_pending && ledger_unmark(l) < 0)
		log_notice(_("ledger %s: cannot write (%s); trying again at the first write"), l->path,
		           sqlite3_errmsg(l->db));
	if ((rc = ledger_migrate(l)) < 0 || (floor > 0 && (rc = ledger_set_floor(l, floor)) < 0) ||
	    (info->corrupt && (rc = ledger_salvage(l, info->moved_to, &info->salvaged)) < 0)) {
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
		log_err(_("ledger %s: close: %s"), l->path, sqlite3_errmsg(l->db));
	free(l->dests);
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
