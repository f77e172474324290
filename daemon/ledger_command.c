/* SPDX-License-Identifier: MIT */
/* ledger_command: the platform commands applied, so that each applies once: recorded,
 * their results reported (and reported again when the platform sends one twice), pruned. */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger_int.h"

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
