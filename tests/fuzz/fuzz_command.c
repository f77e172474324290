/* SPDX-License-Identifier: MIT */
/* fuzz_command: libFuzzer target for platform commands, the part of a platform reply that
 * changes the ledger. An input is JSON text: a reply ({"commands": [...]}), an array of
 * commands, or one command. Each command object goes through hazard_apply_command, as the
 * uplink applies it, on a scratch ledger holding an open, a cleared and a closed item
 * (ids GW-F-000001..3); the transaction is rolled back after every input, so each run starts
 * from the same ledger. Holds: no crash, no leak, no ledger error, and the ledger's
 * integrity_check stays ok.
 *
 * The reply checks themselves (accepted / rejected against the batch sent, which commands a
 * reply carries) are fuzz_platform_reply's.
 *
 *   build-fuzz/tests/fuzz-command -max_len=4096 tests/fuzz/corpus/command */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "fuzz_ledger.h"
#include "hazard.h"
#include "ledger.h"
#include "log.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define T0 FUZZ_T0

static struct ledger *ledger;
static struct policy pol;
static unsigned long runs;

static void fuzz_setup(void)
{
	ledger = fuzz_ledger_open("cmd", &pol);
}

static void check_integrity(void)
{
	sqlite3_stmt *st;
	int ok;

	if (sqlite3_prepare_v2(ledger_db(ledger), "PRAGMA quick_check", -1, &st, NULL) != SQLITE_OK)
		abort();
	ok = sqlite3_step(st) == SQLITE_ROW &&
	     strcmp((const char *)sqlite3_column_text(st, 0), "ok") == 0;
	sqlite3_finalize(st);
	if (!ok)
		abort();
}

static void apply(json_t *cmd)
{
	char why[192];

	if (json_is_object(cmd) &&
	    hazard_apply_command(ledger, &pol, cmd, T0 + 5000, why, sizeof(why)) < 0)
		abort(); /* a command, whatever it says, is no reason for a ledger failure */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *root, *cmds;

	if (!ledger)
		fuzz_setup();
	root = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
	if (!root)
		return 0;
	if (ledger_begin(ledger) != 0)
		abort();
	cmds = json_is_object(root) ? json_object_get(root, "commands") : root;
	if (json_is_array(cmds)) {
		/* A reply's commands, as the uplinks apply them: never more than the limit, each
		 * within its own (issue 13). */
		int64_t before = ledger_event_count(ledger);
		int n = hazard_apply_commands(ledger, &pol, cmds, 4, T0 + 5000);

		if (n < 0 || n > 4 || ledger_event_count(ledger) - before > n)
			abort();
	} else {
		apply(root);
	}
	ledger_rollback(ledger);
	json_decref(root);
	if (++runs % 1000 == 0)
		check_integrity();
	return 0;
}
