/* SPDX-License-Identifier: MIT */
/* ledger_salvage: carrying what must not be lost out of a damaged ledger into the new one
 * that replaces it (ledger_open, after the damaged file was moved aside): every event still
 * waiting in the outbox, with its outbox rows for each destination, the telemetry waiting, and
 * every item not closed. The damaged file is opened read-only (it stays as it was, for the
 * maintainers) and read row by row, table b-trees only (an index may be what is damaged):
 * forward, and when a damaged page stops the scan, backward from the other end, so that what
 * lies on either side of the damage is still found. A file of an older schema (a ledger
 * damaged before the firegw that would have migrated it ran) is read by its own columns,
 * with what the migrations would have given the missing ones. */
#include "ledger_int.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "i18n.h"
#include "log.h"

struct ledger_salvage_ctx {
	struct ledger *l;
	sqlite3 *old;
	struct ledger_salvage_counts *c;
	sqlite3_stmt *get_event;                           /* of the damaged file */
	sqlite3_stmt *ins_event, *ins_outbox, *ins_hazard; /* of the new one */
};

/* Copies column by column into `ins`, whose parameters are the columns of `row`. */
static int ledger_salvage_copy_row(sqlite3_stmt *row, sqlite3_stmt *ins)
{
	int rc;

	for (int i = 0; i < sqlite3_column_count(row); i++)
		sqlite3_bind_value(ins, i + 1, sqlite3_column_value(row, i));
	rc = sqlite3_step(ins);
	sqlite3_reset(ins);
	sqlite3_clear_bindings(ins);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

/* The event `seq` of the damaged file into the new one (once: INSERT OR IGNORE). */
static int ledger_salvage_event(struct ledger_salvage_ctx *x, sqlite3_int64 seq)
{
	sqlite3_stmt *get = x->get_event;
	int rc;

	sqlite3_bind_int64(get, 1, seq);
	rc = sqlite3_step(get);
	if (rc == SQLITE_ROW) {
		rc = ledger_salvage_copy_row(get, x->ins_event);
		if (rc == 0 && sqlite3_changes(x->l->db) > 0)
			x->c->events++;
	} else {
		rc = rc == SQLITE_DONE ? 0 : 1; /* not found; unreadable */
		if (rc)
			x->c->unreadable++;
		rc = 0;
	}
	sqlite3_reset(get);
	return rc;
}

/* One scan of `sql` (forward or backward) over the damaged file: each row through `fn`.
 * Returns 0 when the scan reached its end, 1 when a damaged page stopped it, or a negative
 * errno when the new ledger fails. */
static int ledger_salvage_scan(struct ledger_salvage_ctx *x, const char *sql,
                               int (*fn)(struct ledger_salvage_ctx *x, sqlite3_stmt *row))
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(x->old, sql, -1, &st, NULL) != SQLITE_OK)
		return 1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if ((rc = fn(x, st)) < 0)
			break;
	sqlite3_finalize(st);
	if (rc < 0)
		return rc;
	return rc == SQLITE_DONE ? 0 : 1;
}

static int ledger_salvage_scan_both(struct ledger_salvage_ctx *x, const char *fwd, const char *back,
                                    int (*fn)(struct ledger_salvage_ctx *x, sqlite3_stmt *row))
{
	int rc = ledger_salvage_scan(x, fwd, fn);

	if (rc == 1) {
		x->c->damaged_scans++;
		rc = ledger_salvage_scan(x, back, fn);
		if (rc == 1)
			rc = 0; /* what lies between the two damaged places is lost */
	}
	return rc;
}

static int ledger_salvage_outbox_row(struct ledger_salvage_ctx *x, sqlite3_stmt *row)
{
	int rc = 0;

	/* Columns: lane, seq, hazard_id, created, attempts, payload, prio, dest. */
	if (sqlite3_column_type(row, 1) != SQLITE_NULL)
		rc = ledger_salvage_event(x, sqlite3_column_int64(row, 1));
	if (rc == 0 && (rc = ledger_salvage_copy_row(row, x->ins_outbox)) == 0 &&
	    sqlite3_changes(x->l->db) > 0)
		x->c->outbox++;
	return rc;
}

static int ledger_salvage_hazard_row(struct ledger_salvage_ctx *x, sqlite3_stmt *row)
{
	int rc = ledger_salvage_copy_row(row, x->ins_hazard);

	if (rc == 0 && sqlite3_changes(x->l->db) > 0)
		x->c->items++;
	return rc;
}

/* The schema version of the damaged file, 0 if it cannot be read. */
static int64_t ledger_salvage_version(sqlite3 *old)
{
	sqlite3_stmt *st = NULL;
	int64_t v = 0;

	if (sqlite3_prepare_v2(old, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* The outbox's and the open items' columns as the current schema has them, read from a file
 * of schema `v`: prio came with 2 (2: "the rest"), dest with 4 ('': the first destination's,
 * ledger_set_dests), class with 5 (a fire alarm an incident, without a deadline). */
#define SALVAGE_OUTBOX_COLS(prio, dest) \
	"SELECT lane, seq, hazard_id, created, attempts, payload, " prio ", " dest " FROM outbox "
#define SALVAGE_HAZARD_COLS_V4                                                                 \
	"num, id, device, point, kind, grade, status, active, "                                  \
	"CASE WHEN kind='fire_alarm' THEN 0 ELSE overdue END, test, suspect, escalations, "      \
	"occurrences, value, peak, threshold, unit, first_seen, last_seen, cleared_at, "          \
	"closed_at, CASE WHEN kind='fire_alarm' THEN 0 ELSE deadline END, recurrence_of, title, " \
	"info, CASE WHEN kind='fire_alarm' THEN 'incident' ELSE 'hazard' END"

int ledger_salvage(struct ledger *l, const char *damaged, struct ledger_salvage_counts *c)
{
	struct ledger_salvage_ctx x = {.l = l, .c = c};
	const char *outbox, *hazards;
	char uri[700], fwd[1024], back[1024];
	int64_t v;
	int rc;

	memset(c, 0, sizeof(*c));
	snprintf(uri, sizeof(uri), "file:%s?mode=ro", damaged);
	if (sqlite3_open_v2(uri, &x.old, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) !=
	    SQLITE_OK) {
		log_err(_("ledger %s: nothing can be salvaged from it: %s"), damaged,
		        sqlite3_errmsg(x.old));
		sqlite3_close(x.old);
		return 0;
	}
	if (sqlite3_prepare_v2(x.old,
	                       "SELECT seq, event_id, hazard_id, type, at, body FROM events "
	                       "WHERE seq=?1",
	                       -1, &x.get_event, NULL) != SQLITE_OK) {
		log_err(_("ledger %s: nothing can be salvaged from it: %s"), damaged,
		        sqlite3_errmsg(x.old));
		sqlite3_close(x.old);
		return 0;
	}
	x.ins_event = ledger_prepare(
	    l, "INSERT OR IGNORE INTO events(seq, event_id, hazard_id, type, at, body) "
	       "VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
	x.ins_outbox = ledger_prepare(
	    l,
	    "INSERT OR IGNORE INTO outbox(lane, seq, hazard_id, created, attempts, payload, prio, "
	    "dest) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
	x.ins_hazard = ledger_prepare(
	    l, "INSERT OR IGNORE INTO hazards(" HAZARD_COLS ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, "
	       "?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, "
	       "?25, ?26)");
	v = ledger_salvage_version(x.old);
	outbox = v >= 4   ? SALVAGE_OUTBOX_COLS("prio", "dest")
	         : v >= 2 ? SALVAGE_OUTBOX_COLS("prio", "''")
	                  : SALVAGE_OUTBOX_COLS("2", "''");
	hazards = v >= 5 ? "SELECT " HAZARD_COLS " FROM hazards "
	                 : "SELECT " SALVAGE_HAZARD_COLS_V4 " FROM hazards ";
	rc = x.ins_event && x.ins_outbox && x.ins_hazard ? ledger_begin(l) : -EIO;
	if (rc == 0) {
		snprintf(fwd, sizeof(fwd), "%sNOT INDEXED ORDER BY id", outbox);
		snprintf(back, sizeof(back), "%sNOT INDEXED ORDER BY id DESC", outbox);
		rc = ledger_salvage_scan_both(&x, fwd, back, ledger_salvage_outbox_row);
	}
	if (rc == 0) {
		snprintf(fwd, sizeof(fwd), "%sNOT INDEXED WHERE status<>'closed' ORDER BY num",
		         hazards);
		snprintf(back, sizeof(back),
		         "%sNOT INDEXED WHERE status<>'closed' ORDER BY num DESC", hazards);
		rc = ledger_salvage_scan_both(&x, fwd, back, ledger_salvage_hazard_row);
	}
	if (rc == 0)
		rc = ledger_commit(l);
	else if (ledger_in_transaction(l))
		ledger_rollback(l);
	sqlite3_finalize(x.get_event);
	sqlite3_finalize(x.ins_event);
	sqlite3_finalize(x.ins_outbox);
	sqlite3_finalize(x.ins_hazard);
	sqlite3_close(x.old);
	if (rc < 0) {
		log_err(
		    _("ledger %s: what waited in %s could not be written to the new ledger (%s); "
		      "it stays in that file"),
		    l->path, damaged, sqlite3_errmsg(l->db));
		return rc;
	}
	log_notice(_("ledger %s: salvaged from %s: %lld unsent event(s) (%lld outbox row(s)), "
	             "%lld item(s) not closed; %lld event(s) unreadable%s"),
	           l->path, damaged, (long long)c->events, (long long)c->outbox,
	           (long long)c->items, (long long)c->unreadable,
	           c->damaged_scans ? _(", some rows read from both ends around damaged pages")
	                            : "");
	return 0;
}
