/* SPDX-License-Identifier: MIT */
/* status: the gateway at a glance, as `firegwctl status` and the platform heartbeat show
 * it, and each device's line of `firegwctl devices`. Part of the daemon (daemon_int.h
 * declares its entry points). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include "acquire.h"
#include "clock.h"
#include "conf.h"
#include "control_request.h"
#include "daemon_int.h"
#include "hazard.h"
#include "ingest.h"
#include "ledger.h"
#include "mqtt_in.h"
#include "ledger_query.h"
#include "retention.h"
#include "rules.h"
#include "forward.h"
#include "firegw-config.h"
#include "jsonfmt.h"

static const struct dev_status *status_dev(struct daemon *d, const struct device_conf *dc)
{
	for (size_t i = 0; d->acquire && i < acquire_devices(d->acquire); i++) {
		const struct dev_status *s = acquire_device(d->acquire, i);

		if (s->dc == dc)
			return s;
	}
	return NULL;
}

static const struct mqtt_dev_status *status_mqtt_dev(struct daemon *d, const struct device_conf *dc)
{
	for (size_t i = 0; d->mqtt && i < mqtt_in_devices(d->mqtt); i++) {
		const struct mqtt_dev_status *s = mqtt_in_device(d->mqtt, i);

		if (s->dc == dc)
			return s;
	}
	return NULL;
}

/* An MQTT device: "pending" (nothing heard), "ok", "silent" (past its heartbeat timeout),
 * "bad payload (not JSON)" for the last message that could not be used, or the broker's state
 * when firegw is not connected. */
static json_t *status_mqtt_device(struct daemon *d, const struct device_conf *dc, json_t *o,
                               bool values)
{
	const struct mqtt_dev_status *s = status_mqtt_dev(d, dc);
	const struct mqtt_client_stats *cs = d->mqtt ? mqtt_in_client(d->mqtt) : NULL;
	bool online = s && mqtt_in_online(s, clock_mono_ms());
	char why[200];

	if (!s || s->why == MQTT_WHY_PENDING)
		snprintf(why, sizeof(why), "pending");
	else if (!online && s->why == MQTT_WHY_BAD) /* it talks, but nothing usable */
		snprintf(why, sizeof(why), "silent; last payload bad (%s)", mqtt_map_err_name(s->err));
	else if (!online)
		snprintf(why, sizeof(why), "silent");
	else if (s->why == MQTT_WHY_BAD)
		snprintf(why, sizeof(why), "bad payload (%s)", mqtt_map_err_name(s->err));
	else
		snprintf(why, sizeof(why), "ok");
	if (!cs)
		snprintf(why + strlen(why), sizeof(why) - strlen(why), "; no MQTT client");
	else if (!cs->connected)
		snprintf(why + strlen(why), sizeof(why) - strlen(why), "; broker not connected%s%s",
		         cs->last_error[0] ? ": " : "", cs->last_error);
	json_object_set_new(o, "why", json_string(why));
	json_object_set_new(o, "online", json_boolean(online));
	if (!s)
		return o;
	json_object_set_new(o, "last_ok", jsonfmt_time(s->last_heard_wall));
	json_t *errs = json_object();
	uint64_t bad = 0;
	for (int e = 1; e < MM_ERR_COUNT; e++) {
		bad += s->errors[e];
		if (s->errors[e])
			json_object_set_new(errs, mqtt_map_err_name((enum mqtt_map_err)e),
			                    json_integer((json_int_t)s->errors[e]));
	}
	json_object_set_new(o, "counters",
	                    json_pack("{s:I, s:I, s:I, s:I, s:o}", "messages",
	                              (json_int_t)s->messages, "events", (json_int_t)s->events,
	                              "stale", (json_int_t)s->stale, "bad", (json_int_t)bad,
	                              "bad_by_reason", errs));
	if (values && dc->prof && s->values) {
		json_t *v = json_object();

		for (size_t i = 0; i < dc->prof->npoints; i++)
			json_object_set_new(
			    v, dc->prof->points[i].name,
			    json_pack("{s:o, s:s}", "value", jsonfmt_number(s->values[i]),
			              "unit",
			              dc->prof->points[i].unit ? dc->prof->points[i].unit : ""));
		json_object_set_new(o, "values", v);
	}
	return o;
}

/* "ok", "timeout", "exception 2", "link down (Connection refused)", "backing off" ... */
static void status_why(const struct dev_status *s, char *buf, size_t len)
{
	if (!s) {
		snprintf(buf, len, "pending");
		return;
	}
	if (s->why == MB_WHY_EXCEPTION)
		snprintf(buf, len, "exception %d", s->code);
	else if (s->why == MB_WHY_LINK && s->code > 0)
		snprintf(buf, len, "link down (%s)", strerror(s->code));
	else
		snprintf(buf, len, "%s", modbus_bus_why_name(s->why));
}

json_t *status_device(struct daemon *d, const struct device_conf *dc, bool values)
{
	const struct dev_status *s = status_dev(d, dc);
	const struct profile *p = dc->prof;
	char why[160];
	json_t *o;

	status_why(s, why, sizeof(why));
	o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", dc->id, "type",
	              dc->bus ? "modbus" : "mqtt", "profile", dc->profile ? dc->profile : "",
	              "location", dc->location ? dc->location : "", "why", why);
	if (dc->bus) {
		json_object_set_new(o, "bus", json_string(dc->bus));
		json_object_set_new(o, "unit", json_integer(dc->unit));
		json_object_set_new(o, "interval_s", json_real((double)dc->interval_ms / 1000.0));
	} else if (dc->key) {
		json_object_set_new(o, "key", json_string(dc->key));
		return status_mqtt_device(d, dc, o, values);
	}
	json_object_set_new(o, "online", json_boolean(s && s->why == MB_WHY_OK));
	if (!s)
		return o;
	json_object_set_new(o, "last_ok", jsonfmt_time(s->last_ok_wall));
	if (s->why != MB_WHY_OK && s->backoff_ms > 0) {
		int64_t left = s->last_poll_mono + s->backoff_ms - clock_mono_ms();

		json_object_set_new(o, "backing_off", json_true());
		json_object_set_new(o, "retry_in_s",
		                    json_real(left > 0 ? (double)left / 1000.0 : 0));
	}
	json_object_set_new(
	    o, "counters",
	    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "polls", (json_int_t)s->polls, "failures",
	              (json_int_t)s->failures, "timeouts", (json_int_t)s->timeouts, "exceptions",
	              (json_int_t)s->exceptions, "crc_errors", (json_int_t)s->crc_errors,
	              "link_errors", (json_int_t)s->link_errors));
	if (values && p && s->values) {
		json_t *v = json_object();

		for (size_t i = 0; i < p->npoints; i++)
			json_object_set_new(v, p->points[i].name,
			                    json_pack("{s:o, s:s}", "value",
			                              jsonfmt_number(s->values[i]), "unit",
			                              p->points[i].unit ? p->points[i].unit : ""));
		json_object_set_new(o, "values", v);
	}
	return o;
}

/* One destination: what waits for it and how its transport is doing (`full`: the counters
 * and the last error too, for firegwctl; the heartbeat carries the short form). */
static json_t *status_destination(struct daemon *d, const struct daemon_dest *dd, bool full)
{
	const struct platform_conf *pc = dd->pc;
	const struct forward_stats *us = daemon_dest_stats(dd);
	int64_t now = clock_wall_ms(), oldest = ledger_outbox_oldest_dest(d->ledger, pc->name);
	json_t *o = json_pack("{s:s, s:s, s:b, s:I, s:I, s:o}", "name", pc->name, "transport",
	                      pc->transport ? pc->transport : "", "enabled", us != NULL, "outbox",
	                      (json_int_t)ledger_outbox_depth_dest(d->ledger, pc->name),
	                      "oldest_unsent_age_s",
	                      (json_int_t)(oldest > 0 && now > oldest ? (now - oldest) / 1000 : 0),
	                      "last_success", jsonfmt_time(us ? us->last_success_wall : 0));

	if (o && dd->fwd)
		forward_status_json(dd->fwd, o); /* the transport's own fields (a centre's link) */
	if (!o || !full)
		return o;
	if (pc->url)
		json_object_set_new(o, "url", json_string(pc->url));
	if (us) {
		int64_t wait = us->next_attempt_mono - clock_mono_ms();

		json_object_set_new(o, "failures_in_a_row", json_integer(us->failures));
		json_object_set_new(o, "last_error", json_string(us->last_error));
		json_object_set_new(
		    o, "retry_in_s",
		    json_real(us->failures && wait > 0 ? (double)wait / 1000.0 : 0));
		json_object_set_new(o, "requests", json_integer((json_int_t)us->requests));
		json_object_set_new(o, "accepted", json_integer((json_int_t)us->accepted));
		json_object_set_new(o, "rejected", json_integer((json_int_t)us->rejected));
		json_object_set_new(o, "commands", json_integer((json_int_t)us->commands));
	}
	return o;
}

/* The last restart after an unclean stop (the newest gateway_outage item), or null. */
static json_t *status_last_unclean_stop(struct daemon *d)
{
	struct hazard h;
	json_t *o;

	if (ledger_hazard_last_closed(d->ledger, "gateway", "alive", KIND_GATEWAY_OUTAGE, &h) != 1)
		return json_null();
	o = json_pack("{s:s, s:o, s:o, s:O?}", "hazard_id", h.id, "last_alive",
	              jsonfmt_time(h.first_seen), "restarted_at", jsonfmt_time(h.closed_at),
	              "outage_s", json_object_get(h.info, "outage_s"));
	item_finish(&h);
	return o ? o : json_null();
}

json_t *status_build(struct daemon *d, bool full)
{
	int64_t by_grade[GRADE_COUNT];
	int64_t now = clock_wall_ms(), oldest = ledger_outbox_oldest(d->ledger);
	size_t online = 0, offline = 0;
	struct statvfs vfs;
	json_t *grades = json_object(), *o;

	ledger_open_by_grade(d->ledger, by_grade);
	for (int g = GRADE_COUNT - 1; g >= 0; g--)
		json_object_set_new(grades, grade_name((enum grade)g), json_integer(by_grade[g]));
	for (size_t i = 0; d->acquire && i < acquire_devices(d->acquire); i++) {
		const struct dev_status *s = acquire_device(d->acquire, i);

		if (!s->dc->bus)
			continue; /* MQTT devices are counted below */
		if (s->why == MB_WHY_OK)
			online++;
		else if (s->why != MB_WHY_PENDING)
			offline++;
	}
	for (size_t i = 0; d->mqtt && i < mqtt_in_devices(d->mqtt); i++) {
		const struct mqtt_dev_status *s = mqtt_in_device(d->mqtt, i);

		if (mqtt_in_online(s, clock_mono_ms()))
			online++;
		else if (s->why != MQTT_WHY_PENDING)
			offline++;
	}
	/* The last upload to any destination. */
	int64_t last_upload = 0;
	json_t *dests = json_array();
	for (size_t i = 0; i < d->ndests; i++) {
		const struct forward_stats *us = daemon_dest_stats(&d->dests[i]);

		if (us && us->last_success_wall > last_upload)
			last_upload = us->last_success_wall;
		json_array_append_new(dests, status_destination(d, &d->dests[i], full));
	}
	o = json_pack(
	    "{s:s, s:s, s:I, s:I, s:I, s:o, s:{s:I, s:I}, s:I, s:I, s:o}", "gateway",
	    d->conf->gateway_id, "version", FIREGW_VERSION, "uptime_s",
	    (json_int_t)((clock_mono_ms() - d->started_mono) / 1000), "devices_online",
	    (json_int_t)online, "devices_offline", (json_int_t)offline, "open_hazards", grades,
	    "outbox", "alarm", (json_int_t)ledger_outbox_depth(d->ledger, LANE_ALARM), "telemetry",
	    (json_int_t)ledger_outbox_depth(d->ledger, LANE_TELEMETRY), "oldest_unsent_age_s",
	    (json_int_t)(oldest > 0 && now > oldest ? (now - oldest) / 1000 : 0), "disk_free_bytes",
	    (json_int_t)(statvfs(d->conf->data_dir, &vfs) == 0
	                     ? (int64_t)vfs.f_bavail * (int64_t)vfs.f_frsize
	                     : -1),
	    "last_upload", jsonfmt_time(last_upload));
	json_object_set_new(o, "destinations", dests);
	/* 警情 apart from 隐患: open incidents, and how many still wait for 核警. */
	int64_t inc_open = 0, inc_unverified = 0;
	ledger_open_incidents(d->ledger, &inc_open, &inc_unverified);
	json_object_set_new(o, "open_incidents",
	                    json_pack("{s:I, s:I}", "open", (json_int_t)inc_open, "unverified",
	                              (json_int_t)inc_unverified));
	/* Whether the ledger takes what comes in (a full or failing disk says so here). */
	const struct ingest_health *ih = d->ingest ? ingest_health(d->ingest) : NULL;
	json_t *lg = json_pack("{s:b, s:o, s:o, s:I}", "ok", !ih || ih->ok, "error",
	                       ih && ih->error ? json_string(ih->error) : json_null(), "since",
	                       jsonfmt_time(ih ? ih->since_wall_ms : 0), "failed_commits",
	                       (json_int_t)(ih ? ih->failed_commits : 0));
	/* What the full queue merged and dropped while the ledger failed (ingest.h). */
	json_object_set_new(lg, "readings_merged", json_integer((json_int_t)(ih ? ih->merged : 0)));
	json_object_set_new(lg, "readings_dropped",
	                    json_integer((json_int_t)(ih ? ih->dropped : 0)));
	json_object_set_new(lg, "changes_lost",
	                    json_integer((json_int_t)(ih ? ih->changes_lost : 0)));
	json_object_set_new(o, "ledger", lg);
	json_object_set_new(o, "last_unclean_stop", status_last_unclean_stop(d));
	if (!full)
		return o;

	json_t *devs = json_array();
	for (size_t i = 0; i < d->conf->ndevices; i++)
		json_array_append_new(devs, status_device(d, &d->conf->devices[i], true));
	json_object_set_new(o, "devices", devs);
	json_object_set_new(o, "devices_total", json_integer((json_int_t)d->conf->ndevices));

	/* "platform": the first destination, as before there were several. */
	json_t *pl = d->ndests > 0 ? json_deep_copy(json_array_get(dests, 0))
	                           : json_pack("{s:b, s:s}", "enabled", 0, "transport", "");
	if (d->ndests == 0 && d->conf->nplatforms > 0) {
		const struct platform_conf *pc = &d->conf->platforms[0];

		json_object_set_new(pl, "transport", json_string(pc->transport ? pc->transport : ""));
		if (pc->url)
			json_object_set_new(pl, "url", json_string(pc->url));
	}
	json_object_set_new(o, "platform", pl);
	const struct mqtt_client_stats *cs = d->mqtt ? mqtt_in_client(d->mqtt) : NULL;
	if (cs) {
		const struct mqtt_in_stats *ms = mqtt_in_stats(d->mqtt);
		json_t *nk = json_object();

		for (int e = 1; e < MM_ERR_COUNT; e++)
			if (ms->no_key_by_reason[e])
				json_object_set_new(nk, mqtt_map_err_name((enum mqtt_map_err)e),
				                    json_integer((json_int_t)ms->no_key_by_reason[e]));
		json_object_set_new(
		    o, "mqtt",
		    json_pack("{s:b, s:s, s:I, s:I, s:I, s:I, s:I, s:o}", "connected", cs->connected,
		              "last_error", cs->last_error, "connects", (json_int_t)cs->connects,
		              "messages", (json_int_t)ms->messages, "unknown_device",
		              (json_int_t)ms->unknown_device, "unmatched",
		              (json_int_t)ms->unmatched, "no_key", (json_int_t)ms->no_key,
		              "no_key_by_reason", nk));
	}
	json_object_set_new(lg, "path", json_string(ledger_path(d->ledger)));
	json_object_set_new(lg, "events", json_integer((json_int_t)ledger_event_count(d->ledger)));
	json_object_set_new(lg, "retention", retention_status(d->retention, d->ledger));
	json_object_set_new(lg, "dead_letters",
	                    json_integer((json_int_t)ledger_deadletter_count(d->ledger)));
	json_object_set_new(o, "ingest_queued", json_integer((json_int_t)ingest_queued(d->ingest)));
	json_object_set_new(o, "config", json_string(d->opts->conf_path));
	return o;
}

