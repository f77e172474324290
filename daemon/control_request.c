/* SPDX-License-Identifier: MIT */
/* control_request: a control-socket request line into a command and its checked arguments. */
#include "control_request.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "i18n.h"
#include "modbus_scan.h"
#include "policy.h"

const struct control_option control_options[] = {
    {"open", 'o', CONTROL_OPT_FLAG},     {"grade", 'g', CONTROL_OPT_STRING},
    {"since", 's', CONTROL_OPT_STRING},  {"device", 'd', CONTROL_OPT_STRING},
    {"limit", 'l', CONTROL_OPT_COUNT},   {"month", 'm', CONTROL_OPT_STRING},
    {"wait", 'w', CONTROL_OPT_LOCAL},    {"week", 'k', CONTROL_OPT_STRING},
    {"list", 't', CONTROL_OPT_FLAG},     {"csv", 'v', CONTROL_OPT_LOCAL_FLAG},
    {"csv-encoding", 'e', CONTROL_OPT_LOCAL}, {"units", 'u', CONTROL_OPT_STRING},
    {"timeout", 'i', CONTROL_OPT_COUNT}, {"until", 'n', CONTROL_OPT_STRING},
    {NULL, 0, CONTROL_OPT_FLAG},
};

const struct control_command control_commands[CONTROL_NCMDS] = {
    [CONTROL_STATUS] = {"status", "", NULL, "", N_("the gateway at a glance")},
    [CONTROL_DEVICES] = {"devices", "", NULL, "",
                         N_("every device, why it has no data, its last values")},
    [CONTROL_HAZARDS] = {"hazards", "ogsndl", NULL,
                         "[--open] [--grade G] [--since T] [--until T] [--device D] "
                         "[--limit N]",
                         N_("hazard items, newest first")},
    [CONTROL_HAZARD] = {"hazard", "", "id", "ID", N_("one item with its event history")},
    [CONTROL_OUTBOX] = {"outbox", "l", NULL, "[--limit N]", N_("events waiting for the platform")},
    [CONTROL_DEADLETTER] = {"deadletter", "l", NULL, "[--limit N]",
                            N_("events the platform rejected, with its reason")},
    [CONTROL_TEST] = {"test", "w", "device", "DEVICE [--wait S]",
                      N_("a test alarm end to end; waits for the platform")},
    [CONTROL_RELOAD] = {"reload", "", NULL, "", N_("reload the configuration")},
    [CONTROL_REPORT] = {"report", "mktve", NULL,
                        "--month YYYY-MM | --week YYYY-MM-DD [--list] [--csv [--csv-encoding E]]",
                        N_("the monthly bulletin or weekly statistics, counted by item")},
    [CONTROL_SCAN] = {"scan", "ui", "bus", "BUS [--units N-M] [--timeout MS]",
                      N_("find the units that answer on a bus, between its polls")},
    [CONTROL_PROBE] = {"probe", "", "device", "DEVICE",
                       N_("read one device once, between its bus's polls")},
    [CONTROL_SCAN_STATUS] = {"scan-status", "", "id", "ID",
                             N_("a scan's or probe's progress and findings")},
    [CONTROL_SCAN_CANCEL] = {"scan-cancel", "", "id", "ID", N_("stop a running scan")},
    [CONTROL_CHECK] = {"check", "", NULL, "",
                       N_("check the configuration file as the daemon would load it, "
                          "without applying it")},
};

const char *control_request_name(enum control_cmd cmd)
{
	return (size_t)cmd < CONTROL_NCMDS ? control_commands[cmd].name : "?";
}

const struct control_command *control_command_find(const char *name)
{
	for (size_t i = 0; name && i < CONTROL_NCMDS; i++)
		if (strcmp(name, control_commands[i].name) == 0)
			return &control_commands[i];
	return NULL;
}

static int control_request_fail(struct control_request *r, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int control_request_fail(struct control_request *r, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	control_request_free(r);
	return -1;
}

/* An optional field of a given JSON type (JSON_TRUE: either boolean); false when present and
 * of another type. A null is as good as absent. */
static bool control_request_opt(json_t *req, const char *name, json_type type, json_t **out)
{
	json_t *v = json_object_get(req, name);

	*out = NULL;
	if (!v || json_is_null(v))
		return true;
	if (json_typeof(v) != type && !(type == JSON_TRUE && json_is_boolean(v)))
		return false;
	*out = v;
	return true;
}

/* A limit as the queries take it: 0 (the default) for none or one below 1, at most
 * LEDGER_QUERY_MAX_LIMIT. */
static int control_request_limit(json_t *limit)
{
	json_int_t n = limit ? json_integer_value(limit) : 0;

	if (n <= 0)
		return 0;
	return n > LEDGER_QUERY_MAX_LIMIT ? LEDGER_QUERY_MAX_LIMIT : (int)n;
}

static int control_request_hazards(struct control_request *r, int64_t now, char *err, size_t errlen)
{
	json_t *open, *grade, *since, *until, *device, *limit;

	if (!control_request_opt(r->json, "open", JSON_TRUE, &open) ||
	    !control_request_opt(r->json, "grade", JSON_STRING, &grade) ||
	    !control_request_opt(r->json, "since", JSON_STRING, &since) ||
	    !control_request_opt(r->json, "until", JSON_STRING, &until) ||
	    !control_request_opt(r->json, "device", JSON_STRING, &device) ||
	    !control_request_opt(r->json, "limit", JSON_INTEGER, &limit))
		return control_request_fail(r, err, errlen,
		                        _("hazards takes open (true/false), grade, since, until, "
		                        "device (strings) and limit (a number)"));
	r->filter.open_only = open && json_is_true(open);
	if (grade && (r->filter.grade = grade_from_name(json_string_value(grade))) < 0)
		return control_request_fail(r, err, errlen,
		                        _("unknown grade '%.64s'; grades are immediate, major, "
		                        "significant, general"),
		                        json_string_value(grade));
	if (since && (r->filter.since_ms = ledger_query_parse_since(json_string_value(since), now)) < 0)
		return control_request_fail(
		    r, err, errlen,
		    _("since '%.64s' is not a date (2026-11-01, 2026-11-01T08:00) "
		    "or a duration ago (24h, 7d)"),
		    json_string_value(since));
	if (until && (r->filter.until_ms = ledger_query_parse_since(json_string_value(until), now)) < 0)
		return control_request_fail(
		    r, err, errlen,
		    _("until '%.64s' is not a date (2026-11-01, 2026-11-01T08:00) "
		    "or a duration ago (24h, 7d)"),
		    json_string_value(until));
	if (until && r->filter.until_ms <= r->filter.since_ms)
		return control_request_fail(r, err, errlen,
		                            _("until '%.64s' is not after since: no item can be "
		                            "in between"),
		                            json_string_value(until));
	if (device)
		r->filter.device = json_string_value(device);
	r->filter.limit = control_request_limit(limit);
	return 0;
}

/* A string argument the command cannot do without. */
static int control_request_need(struct control_request *r, const char *name, const char **out, char *err,
                            size_t errlen, const char *usage)
{
	json_t *v;

	if (!control_request_opt(r->json, name, JSON_STRING, &v) || !v || !*json_string_value(v))
		return control_request_fail(r, err, errlen, "%s", usage);
	*out = json_string_value(v);
	return 0;
}

/* report: a month or a week (one of them), and whether to add the hazard list. */
static int control_request_report(struct control_request *r, char *err, size_t errlen)
{
	json_t *month, *week, *list;

	if (!control_request_opt(r->json, "month", JSON_STRING, &month) ||
	    !control_request_opt(r->json, "week", JSON_STRING, &week) ||
	    !control_request_opt(r->json, "list", JSON_TRUE, &list) || (!month == !week))
		return control_request_fail(r, err, errlen,
		                            "report needs a month or a week: firegwctl report "
		                            "--month YYYY-MM, or --week YYYY-MM-DD (a day of it)");
	r->month = month ? json_string_value(month) : NULL;
	r->week = week ? json_string_value(week) : NULL;
	r->list = list && json_is_true(list);
	return 0;
}

/* scan: the bus, the unit range and the timeout per unit, each bounded. */
static int control_request_scan(struct control_request *r, char *err, size_t errlen)
{
	json_t *units, *timeout;

	if (control_request_need(r, "bus", &r->id, err, errlen,
	                         "scan needs a bus name: firegwctl scan BUS") < 0)
		return -1;
	if (!control_request_opt(r->json, "units", JSON_STRING, &units) ||
	    !control_request_opt(r->json, "timeout", JSON_INTEGER, &timeout))
		return control_request_fail(r, err, errlen,
		                            "scan takes units (a string, N or N-M) and timeout (ms, "
		                            "a number)");
	r->from = MODBUS_SCAN_UNIT_MIN;
	r->to = MODBUS_SCAN_UNIT_MAX;
	r->timeout_ms = 100;
	if (units && modbus_scan_parse_units(json_string_value(units), &r->from, &r->to) != 0)
		return control_request_fail(r, err, errlen,
		                            "units '%.64s' is not N or N-M within 1-247",
		                            json_string_value(units));
	if (timeout) {
		json_int_t t = json_integer_value(timeout);

		if (t < 1 || t > MODBUS_SCAN_TIMEOUT_MAX_MS)
			return control_request_fail(r, err, errlen,
			                            "timeout must be 1..%d ms, not %lld",
			                            MODBUS_SCAN_TIMEOUT_MAX_MS, (long long)t);
		r->timeout_ms = (int)t;
	}
	return 0;
}

int control_request_parse(struct control_request *r, const char *line, size_t len, int64_t now_wall_ms,
                      char *err, size_t errlen)
{
	json_error_t jerr;
	const char *name;
	json_t *limit;
	size_t i;

	memset(r, 0, sizeof(*r));
	r->filter.grade = -1;
	r->json = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!r->json)
		return control_request_fail(r, err, errlen, _("request is not JSON: %s"), jerr.text);
	name = json_string_value(json_object_get(r->json, "cmd"));
	if (!json_is_object(r->json) || !name)
		return control_request_fail(r, err, errlen,
		                        _("a request is a JSON object with \"cmd\", e.g. "
		                        "{\"cmd\":\"status\"}"));
	const struct control_command *cc = control_command_find(name);
	if (!cc) {
		char names[256] = "";

		for (i = 0; i < CONTROL_NCMDS; i++)
			snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
			         i ? ", " : "", control_commands[i].name);
		return control_request_fail(r, err, errlen, _("unknown command '%.64s'; commands: %s"),
		                            name, names);
	}
	i = (size_t)(cc - control_commands);
	r->cmd = (enum control_cmd)i;
	switch (r->cmd) {
	case CONTROL_HAZARDS:
		return control_request_hazards(r, now_wall_ms, err, errlen);
	case CONTROL_HAZARD:
		return control_request_need(r, "id", &r->id, err, errlen,
		                        "hazard needs an id: firegwctl hazard ID");
	case CONTROL_TEST:
		return control_request_need(r, "device", &r->id, err, errlen,
		                        "test needs a device id: firegwctl test DEVICE");
	case CONTROL_REPORT:
		return control_request_report(r, err, errlen);
	case CONTROL_SCAN:
		return control_request_scan(r, err, errlen);
	case CONTROL_PROBE:
		return control_request_need(r, "device", &r->id, err, errlen,
		                            "probe needs a device id: firegwctl probe DEVICE");
	case CONTROL_SCAN_STATUS:
	case CONTROL_SCAN_CANCEL:
		return control_request_need(r, "id", &r->id, err, errlen,
		                            "scan-status and scan-cancel need the id scan or probe "
		                            "returned");
	case CONTROL_OUTBOX:
	case CONTROL_DEADLETTER:
		if (!control_request_opt(r->json, "limit", JSON_INTEGER, &limit))
			return control_request_fail(r, err, errlen, _("%s takes limit (a number)"),
			                        control_commands[r->cmd].name);
		r->limit = control_request_limit(limit);
		return 0;
	case CONTROL_STATUS:
	case CONTROL_DEVICES:
	case CONTROL_RELOAD:
	case CONTROL_CHECK:
		return 0;
	}
	return 0;
}

void control_request_free(struct control_request *r)
{
	if (!r)
		return;
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
	r->filter.grade = -1;
}
