/* SPDX-License-Identifier: MIT */
/* ctl_request: a control-socket request line into a command and its checked arguments. */
#include "ctl_request.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "policy.h"

static const char *const ctl_names[] = {
    [CTL_STATUS] = "status", [CTL_DEVICES] = "devices", [CTL_HAZARDS] = "hazards",
    [CTL_HAZARD] = "hazard", [CTL_OUTBOX] = "outbox",   [CTL_DEADLETTER] = "deadletter",
    [CTL_TEST] = "test",     [CTL_RELOAD] = "reload",   [CTL_REPORT] = "report",
};

#define CTL_NCMDS (sizeof(ctl_names) / sizeof(ctl_names[0]))

const char *ctl_request_name(enum ctl_cmd cmd)
{
	return (size_t)cmd < CTL_NCMDS ? ctl_names[cmd] : "?";
}

static int ctl_request_fail(struct ctl_request *r, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int ctl_request_fail(struct ctl_request *r, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	ctl_request_free(r);
	return -1;
}

/* An optional field of a given JSON type (JSON_TRUE: either boolean); false when present and
 * of another type. A null is as good as absent. */
static bool ctl_request_opt(json_t *req, const char *name, json_type type, json_t **out)
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
 * QUERY_MAX_LIMIT. */
static int ctl_request_limit(json_t *limit)
{
	json_int_t n = limit ? json_integer_value(limit) : 0;

	if (n <= 0)
		return 0;
	return n > QUERY_MAX_LIMIT ? QUERY_MAX_LIMIT : (int)n;
}

static int ctl_request_hazards(struct ctl_request *r, int64_t now, char *err, size_t errlen)
{
	json_t *open, *grade, *since, *device, *limit;

	if (!ctl_request_opt(r->json, "open", JSON_TRUE, &open) ||
	    !ctl_request_opt(r->json, "grade", JSON_STRING, &grade) ||
	    !ctl_request_opt(r->json, "since", JSON_STRING, &since) ||
	    !ctl_request_opt(r->json, "device", JSON_STRING, &device) ||
	    !ctl_request_opt(r->json, "limit", JSON_INTEGER, &limit))
		return ctl_request_fail(r, err, errlen,
		                        "hazards takes open (true/false), grade, since, device "
		                        "(strings) and limit (a number)");
	r->filter.open_only = open && json_is_true(open);
	if (grade && (r->filter.grade = grade_from_name(json_string_value(grade))) < 0)
		return ctl_request_fail(r, err, errlen,
		                        "unknown grade '%.64s'; grades are immediate, major, "
		                        "significant, general",
		                        json_string_value(grade));
	if (since && (r->filter.since_ms = query_parse_since(json_string_value(since), now)) < 0)
		return ctl_request_fail(
		    r, err, errlen,
		    "since '%.64s' is not a date (2026-11-01, 2026-11-01T08:00) "
		    "or a duration ago (24h, 7d)",
		    json_string_value(since));
	if (device)
		r->filter.device = json_string_value(device);
	r->filter.limit = ctl_request_limit(limit);
	return 0;
}

/* A string argument the command cannot do without. */
static int ctl_request_need(struct ctl_request *r, const char *name, const char **out, char *err,
                            size_t errlen, const char *usage)
{
	json_t *v;

	if (!ctl_request_opt(r->json, name, JSON_STRING, &v) || !v || !*json_string_value(v))
		return ctl_request_fail(r, err, errlen, "%s", usage);
	*out = json_string_value(v);
	return 0;
}

int ctl_request_parse(struct ctl_request *r, const char *line, size_t len, int64_t now_wall_ms,
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
		return ctl_request_fail(r, err, errlen, "request is not JSON: %s", jerr.text);
	name = json_string_value(json_object_get(r->json, "cmd"));
	if (!json_is_object(r->json) || !name)
		return ctl_request_fail(r, err, errlen,
		                        "a request is a JSON object with \"cmd\", e.g. "
		                        "{\"cmd\":\"status\"}");
	for (i = 0; i < CTL_NCMDS && strcmp(name, ctl_names[i]) != 0; i++)
		;
	if (i == CTL_NCMDS)
		return ctl_request_fail(
		    r, err, errlen,
		    "unknown command '%.64s'; commands: status, devices, hazards, "
		    "hazard, outbox, deadletter, test, reload, report",
		    name);
	r->cmd = (enum ctl_cmd)i;
	switch (r->cmd) {
	case CTL_HAZARDS:
		return ctl_request_hazards(r, now_wall_ms, err, errlen);
	case CTL_HAZARD:
		return ctl_request_need(r, "id", &r->id, err, errlen,
		                        "hazard needs an id: firegwctl hazard ID");
	case CTL_TEST:
		return ctl_request_need(r, "device", &r->id, err, errlen,
		                        "test needs a device id: firegwctl test DEVICE");
	case CTL_REPORT:
		return ctl_request_need(r, "month", &r->month, err, errlen,
		                        "report needs a month: firegwctl report --month YYYY-MM");
	case CTL_OUTBOX:
	case CTL_DEADLETTER:
		if (!ctl_request_opt(r->json, "limit", JSON_INTEGER, &limit))
			return ctl_request_fail(r, err, errlen, "%s takes limit (a number)",
			                        ctl_names[r->cmd]);
		r->limit = ctl_request_limit(limit);
		return 0;
	case CTL_STATUS:
	case CTL_DEVICES:
	case CTL_RELOAD:
		return 0;
	}
	return 0;
}

void ctl_request_free(struct ctl_request *r)
{
	if (!r)
		return;
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
	r->filter.grade = -1;
}
