/* SPDX-License-Identifier: MIT */
/* ctl: what each control socket request reads or does (firegwctl is its client), and the
 * gateway status the heartbeat shares. Requests are JSON objects {"cmd": NAME, ...}; replies
 * {"ok": true, ...} or {"ok": false, "error": "what went wrong and what to do"}. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>

#include "acquire.h"
#include "clock.h"
#include "conf.h"
#include "control.h"
#include "ctl_request.h"
#include "daemon_int.h"
#include "hazard.h"
#include "ingest.h"
#include "ledger.h"
#include "mqtt_in.h"
#include "query.h"
#include "rules.h"
#include "uplink.h"
#include "uplink_mqtt.h"
#include "firegw-config.h"

static const struct dev_status *ctl_dev_status(struct daemon *d, const struct device_conf *dc)
{
	for (size_t i = 0; d->acquire && i < acquire_devices(d->acquire); i++) {
		const struct dev_status *s = acquire_device(d->acquire, i);

		if (s->dc == dc)
			return s;
	}
	return NULL;
}

static const struct mqtt_dev_status *ctl_mqtt_status(struct daemon *d, const struct device_conf *dc)
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
static json_t *ctl_mqtt_device(struct daemon *d, const struct device_conf *dc, json_t *o,
                               bool values)
{
	const struct mqtt_dev_status *s = ctl_mqtt_status(d, dc);
	const struct mqtt_client_stats *cs = d->mqtt ? mqtt_in_client(d->mqtt) : NULL;
	bool online = s && mqtt_in_online(s, clock_mono_ms());
	char why[200];

	if (!s || s->why == MQTT_WHY_PENDING)
		snprintf(why, sizeof(why), "pending");
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
	json_object_set_new(o, "last_ok", hazard_time_json(s->last_heard_wall));
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
			    json_pack("{s:o, s:s}", "value", hazard_number_json(s->values[i]),
			              "unit",
			              dc->prof->points[i].unit ? dc->prof->points[i].unit : ""));
		json_object_set_new(o, "values", v);
	}
	return o;
}

/* "ok", "timeout", "exception 2", "link down (Connection refused)", "backing off" ... */
static void ctl_why(const struct dev_status *s, char *buf, size_t len)
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
		snprintf(buf, len, "%s", mb_why_name(s->why));
}

static json_t *ctl_device(struct daemon *d, const struct device_conf *dc, bool values)
{
	const struct dev_status *s = ctl_dev_status(d, dc);
	const struct profile *p = dc->prof;
	char why[160];
	json_t *o;

	ctl_why(s, why, sizeof(why));
	o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", dc->id, "type",
	              dc->bus ? "modbus" : "mqtt", "profile", dc->profile ? dc->profile : "",
	              "location", dc->location ? dc->location : "", "why", why);
	if (dc->bus) {
		json_object_set_new(o, "bus", json_string(dc->bus));
		json_object_set_new(o, "unit", json_integer(dc->unit));
		json_object_set_new(o, "interval_s", json_real((double)dc->interval_ms / 1000.0));
	} else if (dc->key) {
		json_object_set_new(o, "key", json_string(dc->key));
		return ctl_mqtt_device(d, dc, o, values);
	}
	json_object_set_new(o, "online", json_boolean(s && s->why == MB_WHY_OK));
	if (!s)
		return o;
	json_object_set_new(o, "last_ok", hazard_time_json(s->last_ok_wall));
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
			                              hazard_number_json(s->values[i]), "unit",
			                              p->points[i].unit ? p->points[i].unit : ""));
		json_object_set_new(o, "values", v);
	}
	return o;
}

json_t *ctl_status(struct daemon *d, bool full)
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
	const struct uplink_stats *us = d->uplink        ? uplink_stats(d->uplink)
	                                : d->uplink_mqtt ? uplink_mqtt_stats(d->uplink_mqtt)
	                                                 : NULL;
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
	    "last_upload", hazard_time_json(us ? us->last_success_wall : 0));
	/* Whether the ledger takes what comes in (a full or failing disk says so here). */
	const struct ingest_health *ih = d->ingest ? ingest_health(d->ingest) : NULL;
	json_t *lg = json_pack("{s:b, s:o, s:o, s:I}", "ok", !ih || ih->ok, "error",
	                       ih && ih->error ? json_string(ih->error) : json_null(), "since",
	                       hazard_time_json(ih ? ih->since_wall_ms : 0), "failed_commits",
	                       (json_int_t)(ih ? ih->failed_commits : 0));
	json_object_set_new(o, "ledger", lg);
	if (!full)
		return o;

	json_t *devs = json_array();
	for (size_t i = 0; i < d->conf->ndevices; i++)
		json_array_append_new(devs, ctl_device(d, &d->conf->devices[i], true));
	json_object_set_new(o, "devices", devs);
	json_object_set_new(o, "devices_total", json_integer((json_int_t)d->conf->ndevices));

	json_t *pl = json_pack("{s:b, s:s}", "enabled", d->uplink || d->uplink_mqtt, "transport",
	                       d->conf->platform.transport ? d->conf->platform.transport : "");
	if (d->conf->platform.url)
		json_object_set_new(pl, "url", json_string(d->conf->platform.url));
	if (us) {
		int64_t wait = us->next_attempt_mono - clock_mono_ms();

		json_object_set_new(pl, "failures_in_a_row", json_integer(us->failures));
		json_object_set_new(pl, "last_error", json_string(us->last_error));
		json_object_set_new(
		    pl, "retry_in_s",
		    json_real(us->failures && wait > 0 ? (double)wait / 1000.0 : 0));
		json_object_set_new(pl, "requests", json_integer((json_int_t)us->requests));
		json_object_set_new(pl, "accepted", json_integer((json_int_t)us->accepted));
		json_object_set_new(pl, "rejected", json_integer((json_int_t)us->rejected));
		json_object_set_new(pl, "commands", json_integer((json_int_t)us->commands));
	}
	json_object_set_new(o, "platform", pl);
	const struct mqtt_client_stats *cs = d->mqtt ? mqtt_in_client(d->mqtt) : NULL;
	if (cs) {
		const struct mqtt_in_stats *ms = mqtt_in_stats(d->mqtt);

		json_object_set_new(
		    o, "mqtt",
		    json_pack("{s:b, s:s, s:I, s:I, s:I, s:I, s:I}", "connected", cs->connected,
		              "last_error", cs->last_error, "connects", (json_int_t)cs->connects,
		              "messages", (json_int_t)ms->messages, "unknown_device",
		              (json_int_t)ms->unknown_device, "unmatched",
		              (json_int_t)ms->unmatched, "no_key", (json_int_t)ms->no_key));
	}
	json_object_set_new(lg, "path", json_string(ledger_path(d->ledger)));
	json_object_set_new(lg, "events", json_integer((json_int_t)ledger_event_count(d->ledger)));
	json_object_set_new(lg, "dead_letters",
	                    json_integer((json_int_t)ledger_deadletter_count(d->ledger)));
	json_object_set_new(o, "ingest_queued", json_integer((json_int_t)ingest_queued(d->ingest)));
	json_object_set_new(o, "config", json_string(d->opts->conf_path));
	return o;
}

/* Puts "ok": true in front of a successful result. */
static json_t *ctl_ok(json_t *result, const char *key)
{
	json_t *o = json_pack("{s:b}", "ok", 1);

	if (key)
		json_object_set_new(o, key, result);
	else {
		json_object_update(o, result);
		json_decref(result);
	}
	return o;
}

/* `err` is read after the query ran: pass its address, not its value. */
static json_t *ctl_result(json_t *result, const char *key, const char *const *err)
{
	return result ? ctl_ok(result, key) : control_error("%s", *err ? *err : "internal error");
}

/* A commissioning test: a test fire alarm on the device's "test" channel, raised and cleared
 * at once; a test item closes itself when cleared. It travels like any other alarm. */
static json_t *ctl_test(struct daemon *d, const char *id, const struct control_peer *peer)
{
	const struct device_conf *dc;
	struct reading rd = {.type = READING_STATE, .kind = KIND_FIRE_ALARM, .test = true};
	struct hazard h;
	int rc;

	if (!(dc = conf_device(d->conf, id)))
		return control_error("no device '%s' in %s; 'firegwctl devices' lists them", id,
		                     d->opts->conf_path);
	log_notice("control: uid %ld (pid %ld) asks for a test alarm on %s", (long)peer->uid,
	           (long)peer->pid, dc->id);
	snprintf(rd.device, sizeof(rd.device), "%s", dc->id);
	snprintf(rd.point, sizeof(rd.point), "test");
	for (int step = 0; step < 2; step++) {
		rd.level = step == 0 ? LEVEL_ALARM : LEVEL_NONE;
		rd.mono_ms = clock_mono_ms();
		rd.wall_ms = clock_wall_ms();
		if ((rc = ingest_push(d->ingest, &rd)) == 0)
			rc = ingest_flush(d->ingest);
		if (rc < 0)
			return control_error(
			    "the test alarm could not be recorded (%s); see the log "
			    "(disk full?)",
			    strerror(-rc));
	}
	hazard_init(&h);
	rc = ledger_hazard_last_closed(d->ledger, dc->id, "test", KIND_FIRE_ALARM, &h);
	if (rc != 1) {
		hazard_finish(&h);
		return control_error(
		    "the test alarm was recorded but not found again; see the log");
	}
	json_t *o = json_pack("{s:b, s:s, s:s, s:b}", "ok", 1, "hazard_id", h.id, "device", dc->id,
	                      "platform", d->uplink || d->uplink_mqtt);
	hazard_finish(&h);
	uplink_kick(d->uplink);
	uplink_mqtt_kick(d->uplink_mqtt);
	return o;
}

static json_t *ctl_reload(struct daemon *d)
{
	json_t *errors = json_array();

	if (daemon_reload(d, errors) == 0) {
		json_decref(errors);
		return json_pack("{s:b, s:s, s:I, s:I}", "ok", 1, "config", d->opts->conf_path,
		                 "buses", (json_int_t)d->conf->nbuses, "devices",
		                 (json_int_t)d->conf->ndevices);
	}
	json_t *o = control_error("reload refused: %zu error(s); the running configuration stays",
	                          json_array_size(errors));
	json_object_set_new(o, "errors", errors);
	return o;
}

/* What a request asks for, parsed and checked by ctl_request. */
static json_t *ctl_run(struct daemon *d, const struct ctl_request *q,
                       const struct control_peer *peer)
{
	const char *err = NULL;
	json_t *o;

	switch (q->cmd) {
	case CTL_STATUS:
		return ctl_ok(ctl_status(d, true), NULL);
	case CTL_DEVICES:
		o = json_array();
		for (size_t i = 0; i < d->conf->ndevices; i++)
			json_array_append_new(o, ctl_device(d, &d->conf->devices[i], true));
		return ctl_ok(o, "devices");
	case CTL_HAZARDS:
		o = query_hazards(d->ledger, &q->filter, &err);
		return ctl_result(o, "hazards", &err);
	case CTL_HAZARD:
		o = query_hazard(d->ledger, q->id, &err);
		return ctl_result(o, NULL, &err);
	case CTL_OUTBOX:
		o = query_outbox(d->ledger, q->limit, &err);
		return ctl_result(o, NULL, &err);
	case CTL_DEADLETTER:
		o = query_deadletter(d->ledger, q->limit, &err);
		return ctl_result(o, "deadletter", &err);
	case CTL_TEST:
		return ctl_test(d, q->id, peer);
	case CTL_RELOAD:
		/* What changes something is logged with who asked: the socket's audit trail. */
		log_notice("control: uid %ld (pid %ld) asks for a reload", (long)peer->uid,
		           (long)peer->pid);
		return ctl_reload(d);
	case CTL_REPORT:
		o = query_report(d->ledger, q->month, &err);
		return ctl_result(o, "report", &err);
	}
	return control_error("internal error");
}

json_t *ctl_handle(const char *line, size_t len, const struct control_peer *peer, void *userdata)
{
	struct daemon *d = userdata;
	struct ctl_request q;
	char err[512];
	json_t *reply;

	if (ctl_request_parse(&q, line, len, clock_wall_ms(), err, sizeof(err)) < 0)
		return control_error("%s", err);
	reply = ctl_run(d, &q, peer);
	ctl_request_free(&q);
	return reply;
}
