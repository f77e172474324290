/* SPDX-License-Identifier: MIT */
/* fuzz_control_request: libFuzzer target for control-socket requests: one line as a client
 * sends it (without its newline) goes through control_request_parse (daemon/ctl_request.c),
 * exactly as control_run_handle takes it. A request that parses and only reads (hazards, hazard,
 * outbox, deadletter, report) is then run with its arguments against a scratch ledger that
 * holds an open, a cleared and a closed item (query.c), as the daemon would run it.
 *
 * Holds: no crash, no leak; a refused request has an error text; a parsed one has a known
 * command and arguments within their bounds (grade, since, limit; the id, device or month
 * the command needs); each query returns a result or an error text.
 *
 *   build-fuzz/tests/fuzz-control-request -max_len=4096 tests/fuzz/corpus/control_request */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "fuzz_ledger.h"
#include "control_request.h"
#include "hazard.h"
#include "ledger.h"
#include "policy.h"
#include "ledger_query.h"
#include "ledger_report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define T0 FUZZ_T0

static struct ledger *ledger;
static struct policy pol;

static void fuzz_setup(void)
{
	ledger = fuzz_ledger_open("ctl", &pol);
}

static void run(const struct control_request *q)
{
	const char *err = NULL;
	json_t *o;

	switch (q->cmd) {
	case CONTROL_HAZARDS:
		o = ledger_query_hazards(ledger, &q->filter, &err);
		break;
	case CONTROL_HAZARD:
		o = ledger_query_hazard(ledger, q->id, &err);
		break;
	case CONTROL_OUTBOX:
		o = ledger_query_outbox(ledger, q->limit, &err);
		break;
	case CONTROL_DEADLETTER:
		o = ledger_query_deadletter(ledger, q->limit, &err);
		break;
	case CONTROL_REPORT: {
		struct ledger_report_period p;
		struct ledger_report_opts ro = {.devices = 3, .list = q->list, .now_ms = 1795000000000LL};

		o = NULL;
		if ((q->week ? ledger_report_week(q->week, &p, &err)
		             : ledger_report_month(q->month, &p, &err)) == 0)
			o = ledger_report(ledger, &p, &ro, &err);
		break;
	}
	default:
		return; /* status, devices, test, reload need a daemon */
	}
	if (!o && (!err || !*err))
		abort();
	json_decref(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct control_request q;
	char err[512];

	if (!ledger)
		fuzz_setup();
	err[0] = '\0';
	if (control_request_parse(&q, (const char *)data, size, T0 + 86400000LL, err, sizeof(err)) <
	    0) {
		if (!err[0] || q.json)
			abort();
		return 0;
	}
	if (!q.json || !strcmp(control_request_name(q.cmd), "?"))
		abort();
	if (q.filter.grade < -1 || q.filter.grade >= GRADE_COUNT || q.filter.since_ms < 0 ||
	    q.filter.limit < 0 || q.filter.limit > LEDGER_QUERY_MAX_LIMIT || q.limit < 0 ||
	    q.limit > LEDGER_QUERY_MAX_LIMIT)
		abort();
	if ((q.cmd == CONTROL_HAZARD || q.cmd == CONTROL_TEST) && (!q.id || !*q.id))
		abort();
	if (q.cmd == CONTROL_REPORT && !q.month)
		abort();
	run(&q);
	control_request_free(&q);
	return 0;
}
