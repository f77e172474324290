/* SPDX-License-Identifier: MIT */
/* web_metrics: a status reply as Prometheus text. */
#include "web_metrics.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "textesc.h"

/* A label value: control characters as textesc shows them, then \ " and newline escaped. */
static void web_metrics_label(struct web_buf *b, const char *s)
{
	char *t = textesc_dup(s ? s : "");

	if (!t) {
		b->failed = true;
		return;
	}
	for (const char *p = t; *p; p++) {
		char one[2] = {*p, '\0'};

		web_buf_add(b, *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : one);
	}
	free(t);
}

static double web_metrics_num(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_number(v) ? json_number_value(v) : 0;
}

/* # HELP and # TYPE of a metric family. */
static void web_metrics_family(struct web_buf *b, const char *name, const char *type,
                               const char *help)
{
	web_buf_addf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{k1="v1",k2="v2"} value; k2 may be NULL. */
static void web_metrics_sample(struct web_buf *b, const char *name, const char *k1, const char *v1,
                               const char *k2, const char *v2, double value)
{
	web_buf_add(b, name);
	if (k1) {
		web_buf_addf(b, "{%s=\"", k1);
		web_metrics_label(b, v1);
		if (k2) {
			web_buf_addf(b, "\",%s=\"", k2);
			web_metrics_label(b, v2);
		}
		web_buf_add(b, "\"}");
	}
	if (isnan(value))
		web_buf_add(b, " NaN\n");
	else
		web_buf_addf(b, " %.17g\n", value);
}

/* A per-device counter: the Modbus device's counter `modbus`, or the MQTT one's `mqtt`. */
static void web_metrics_counter(struct web_buf *b, json_t *devs, const char *name,
                                const char *help, const char *modbus, const char *mqtt)
{
	json_t *d;
	size_t i;

	web_metrics_family(b, name, "counter", help);
	json_array_foreach(devs, i, d)
	{
		json_t *c = json_object_get(d, "counters");

		if (c)
			web_metrics_sample(b, name, "device", json_string_value(json_object_get(d, "id")),
			                   NULL, NULL,
			                   json_object_get(c, modbus) ? web_metrics_num(c, modbus)
			                                              : web_metrics_num(c, mqtt));
	}
}

static void web_metrics_devices(struct web_buf *b, json_t *devs)
{
	json_t *d, *v;
	const char *k;
	size_t i;

	web_metrics_family(b, "firegw_device_online", "gauge",
	                   "1 when the device answers (Modbus) or is heard (MQTT)");
	json_array_foreach(devs, i, d)
	{
		web_metrics_sample(b, "firegw_device_online", "device",
		                   json_string_value(json_object_get(d, "id")), NULL, NULL,
		                   json_is_true(json_object_get(d, "online")) ? 1 : 0);
	}
	web_metrics_counter(b, devs, "firegw_device_polls_total",
	                    "polls of a Modbus device, messages from an MQTT device", "polls",
	                    "messages");
	web_metrics_counter(b, devs, "firegw_device_failures_total",
	                    "failed polls of a Modbus device, bad messages from an MQTT device",
	                    "failures", "bad");
	web_metrics_family(b, "firegw_reading", "gauge",
	                   "the last value of each point of an online device, in its unit");
	json_array_foreach(devs, i, d)
	{
		if (!json_is_true(json_object_get(d, "online")))
			continue;
		json_object_foreach(json_object_get(d, "values"), k, v)
		{
			json_t *x = json_object_get(v, "value");

			if (json_is_number(x))
				web_metrics_sample(b, "firegw_reading", "device",
				                   json_string_value(json_object_get(d, "id")), "point", k,
				                   json_number_value(x));
		}
	}
}

static void web_metrics_destinations(struct web_buf *b, json_t *dests)
{
	static const struct {
		const char *key, *name, *type, *help;
	} fields[] = {
	    {"enabled", "firegw_destination_enabled", "gauge",
	     "1 when the destination's uplink runs (its token or password file is there)"},
	    {"outbox", "firegw_destination_outbox_events", "gauge",
	     "events waiting for the destination"},
	    {"oldest_unsent_age_s", "firegw_destination_oldest_unsent_age_seconds", "gauge",
	     "age of the oldest event waiting for the destination"},
	    {"requests", "firegw_uplink_requests_total", "counter", "requests sent to the destination"},
	    {"accepted", "firegw_uplink_accepted_total", "counter", "events the destination accepted"},
	    {"rejected", "firegw_uplink_rejected_total", "counter",
	     "events the destination rejected (dead letters)"},
	    {"failures_in_a_row", "firegw_uplink_failures_in_a_row", "gauge",
	     "failed attempts since the last success"},
	};
	json_t *d;
	size_t i;

	for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
		web_metrics_family(b, fields[f].name, fields[f].type, fields[f].help);
		json_array_foreach(dests, i, d)
		{
			json_t *v = json_object_get(d, fields[f].key);

			if (json_is_boolean(v) || json_is_number(v))
				web_metrics_sample(b, fields[f].name, "destination",
				                   json_string_value(json_object_get(d, "name")), NULL,
				                   NULL,
				                   json_is_boolean(v) ? (json_is_true(v) ? 1 : 0)
				                                      : json_number_value(v));
		}
	}
}

void web_metrics_text(struct web_buf *b, json_t *r)
{
	static const char *const grades[] = {"immediate", "major", "significant", "general"};
	json_t *g = json_object_get(r, "open_hazards"), *ob = json_object_get(r, "outbox"),
	       *lg = json_object_get(r, "ledger");

	web_metrics_family(b, "firegw_up", "gauge", "1 when firegw answers on its control socket");
	web_metrics_sample(b, "firegw_up", NULL, NULL, NULL, NULL, r ? 1 : 0);
	if (!r)
		return;
	web_metrics_family(b, "firegw_uptime_seconds", "gauge", "time since firegw started");
	web_metrics_sample(b, "firegw_uptime_seconds", NULL, NULL, NULL, NULL,
	                   web_metrics_num(r, "uptime_s"));
	double total = web_metrics_num(r, "devices_total"), on = web_metrics_num(r, "devices_online"),
	       off = web_metrics_num(r, "devices_offline");
	web_metrics_family(b, "firegw_devices", "gauge", "devices by state");
	web_metrics_sample(b, "firegw_devices", "state", "online", NULL, NULL, on);
	web_metrics_sample(b, "firegw_devices", "state", "offline", NULL, NULL, off);
	web_metrics_sample(b, "firegw_devices", "state", "pending", NULL, NULL, total - on - off);
	web_metrics_devices(b, json_object_get(r, "devices"));
	web_metrics_family(b, "firegw_open_hazards", "gauge", "open hazard items by grade");
	for (size_t i = 0; i < sizeof(grades) / sizeof(grades[0]); i++)
		web_metrics_sample(b, "firegw_open_hazards", "grade", grades[i], NULL, NULL,
		                   web_metrics_num(g, grades[i]));
	web_metrics_family(b, "firegw_outbox_events", "gauge", "events waiting, by lane");
	web_metrics_sample(b, "firegw_outbox_events", "lane", "alarm", NULL, NULL,
	                   web_metrics_num(ob, "alarm"));
	web_metrics_sample(b, "firegw_outbox_events", "lane", "telemetry", NULL, NULL,
	                   web_metrics_num(ob, "telemetry"));
	web_metrics_family(b, "firegw_outbox_oldest_age_seconds", "gauge",
	                   "age of the oldest event waiting for any destination");
	web_metrics_sample(b, "firegw_outbox_oldest_age_seconds", NULL, NULL, NULL, NULL,
	                   web_metrics_num(r, "oldest_unsent_age_s"));
	web_metrics_destinations(b, json_object_get(r, "destinations"));
	web_metrics_family(b, "firegw_ledger_ok", "gauge",
	                   "1 while the ledger records what comes in, 0 while commits fail");
	web_metrics_sample(b, "firegw_ledger_ok", NULL, NULL, NULL, NULL,
	                   json_is_false(json_object_get(lg, "ok")) ? 0 : 1);
	web_metrics_family(b, "firegw_ledger_failed_commits_total", "counter",
	                   "ledger commits that failed since firegw started");
	web_metrics_sample(b, "firegw_ledger_failed_commits_total", NULL, NULL, NULL, NULL,
	                   web_metrics_num(lg, "failed_commits"));
	web_metrics_family(b, "firegw_ledger_events", "gauge", "events in the ledger");
	web_metrics_sample(b, "firegw_ledger_events", NULL, NULL, NULL, NULL,
	                   web_metrics_num(lg, "events"));
	web_metrics_family(b, "firegw_ledger_dead_letters", "gauge",
	                   "events a destination rejected, kept in the ledger");
	web_metrics_sample(b, "firegw_ledger_dead_letters", NULL, NULL, NULL, NULL,
	                   web_metrics_num(lg, "dead_letters"));
	web_metrics_family(b, "firegw_disk_free_bytes", "gauge",
	                   "free space on the ledger's file system (-1: unknown)");
	web_metrics_sample(b, "firegw_disk_free_bytes", NULL, NULL, NULL, NULL,
	                   web_metrics_num(r, "disk_free_bytes"));
}
