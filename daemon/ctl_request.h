/* SPDX-License-Identifier: MIT */
/* ctl_request: one control-socket request line, parsed and checked (pure: no daemon, no
 * ledger, no socket). A request is a JSON object {"cmd": NAME, ...} with the arguments of
 * its command; this turns it into the command and its validated arguments, or into the error
 * the client gets ("unknown grade 'x'; grades are ..."). ctl.c runs what comes out; the
 * fuzzer (tests/fuzz/fuzz_control_request.c) feeds it whatever a client could send. */
#pragma once

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "query.h"

enum ctl_cmd {
	CTL_STATUS,
	CTL_DEVICES,
	CTL_HAZARDS,
	CTL_HAZARD,
	CTL_OUTBOX,
	CTL_DEADLETTER,
	CTL_TEST,
	CTL_RELOAD,
	CTL_REPORT,
};

struct ctl_request {
	enum ctl_cmd cmd;
	struct query_filter filter; /* hazards: open, grade, since, device, limit */
	const char *id;             /* hazard: the item's id; test: the device's */
	const char *month;          /* report: as given ("YYYY-MM" is checked by query_report) */
	int limit;                  /* outbox, deadletter: 0 (the default) .. QUERY_MAX_LIMIT */
	json_t *json;               /* the request; owns the strings above */
};

/* Parses one request line (without its newline; not NUL-terminated). now_wall_ms is the
 * reference for a "since" given as a duration ago. Returns 0 with *r filled (release it with
 * ctl_request_free), or -1 with the reply's error text in err (and nothing to release). */
int ctl_request_parse(struct ctl_request *r, const char *line, size_t len, int64_t now_wall_ms,
                      char *err, size_t errlen);
void ctl_request_free(struct ctl_request *r);
/* The command's name, as a client writes it. */
const char *ctl_request_name(enum ctl_cmd cmd);
