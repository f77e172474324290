/* SPDX-License-Identifier: MIT */
/* control_request: one control-socket request line, parsed and checked (pure: no daemon, no
 * ledger, no socket). A request is a JSON object {"cmd": NAME, ...} with the arguments of
 * its command; this turns it into the command and its validated arguments, or into the error
 * the client gets ("unknown grade 'x'; grades are ..."). control_run.c runs what comes out; the
 * fuzzer (tests/fuzz/fuzz_control_request.c) feeds it whatever a client could send. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger_query.h"

enum control_cmd {
	CONTROL_STATUS,
	CONTROL_DEVICES,
	CONTROL_HAZARDS,
	CONTROL_HAZARD,
	CONTROL_OUTBOX,
	CONTROL_DEADLETTER,
	CONTROL_TEST,
	CONTROL_RELOAD,
	CONTROL_REPORT,
	CONTROL_SCAN,
	CONTROL_PROBE,
	CONTROL_SCAN_STATUS,
	CONTROL_SCAN_CANCEL,
	CONTROL_CHECK,
};
#define CONTROL_NCMDS (CONTROL_CHECK + 1)

/* The control protocol, defined once: the daemon parses requests by these tables, and
 * firegwctl builds requests, checks its command line and prints its help from them, so the
 * two cannot drift apart. */
enum control_opt_type {
	CONTROL_OPT_FLAG,   /* --open: the request key is true */
	CONTROL_OPT_STRING, /* --grade G: a string */
	CONTROL_OPT_COUNT,  /* --limit N: a positive number */
	CONTROL_OPT_LOCAL,  /* --wait S: firegwctl's own, never sent */
	CONTROL_OPT_LOCAL_FLAG, /* --csv: firegwctl's own flag, never sent */
};

struct control_option {
	const char *name; /* the long option and the request key */
	int letter;       /* its letter in control_command.options */
	enum control_opt_type type;
};

/* Every option of every command; ends with a NULL name. */
extern const struct control_option control_options[];

struct control_command {
	const char *name;
	const char *options; /* the letters of the control_options it takes */
	const char *arg;     /* the request key of its one argument ("id"), NULL if none */
	const char *usage;   /* its arguments and options, as help shows them */
	const char *help;    /* one line for firegwctl --help */
};

/* Indexed by enum control_cmd. */
extern const struct control_command control_commands[CONTROL_NCMDS];
/* The command of that name, or NULL. */
const struct control_command *control_command_find(const char *name);

struct control_request {
	enum control_cmd cmd;
	struct ledger_query_filter filter; /* hazards: open, grade, since, device, limit */
	const char *id;             /* hazard: the item's id; test, probe: the device's; scan: the
	                             * bus's; scan-status, scan-cancel: the scan's */
	int from, to;               /* scan: the unit ids (1-247 by default) */
	int timeout_ms;             /* scan: per unit (100 ms by default) */
	const char *month;          /* report: as given ("YYYY-MM" is checked by ledger_report_month) */
	const char *week;           /* report: a day of the week, or NULL for a month */
	bool list;                  /* report: with the hazard list */
	int limit;                  /* outbox, deadletter: 0 (the default) .. LEDGER_QUERY_MAX_LIMIT */
	json_t *json;               /* the request; owns the strings above */
};

/* Parses one request line (without its newline; not NUL-terminated). now_wall_ms is the
 * reference for a "since" given as a duration ago. Returns 0 with *r filled (release it with
 * control_request_free), or -1 with the reply's error text in err (and nothing to release). */
int control_request_parse(struct control_request *r, const char *line, size_t len, int64_t now_wall_ms,
                      char *err, size_t errlen);
void control_request_free(struct control_request *r);
/* The command's name, as a client writes it. */
const char *control_request_name(enum control_cmd cmd);
