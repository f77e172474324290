/* SPDX-License-Identifier: MIT */
/* control_run: what each control socket request reads or does (firegwctl is its client).
 * Requests are JSON objects {"cmd": NAME, ...} (control_request.c parses them); replies
 * {"ok": true, ...} or {"ok": false, "error": "what went wrong and what to do"}. Part of the
 * daemon (daemon_int.h declares control_run_handle). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include "acquire.h"
#include "clock.h"
#include "conf.h"
#include "control.h"
#include "control_request.h"
#include "daemon_int.h"
#include "hazard.h"
#include "i18n.h"
#include "ingest.h"
#include "ledger.h"
#include "mqtt_in.h"
#include "ledger_query.h"
#include "ledger_report.h"
#include "rules.h"
#include "firegw-config.h"
#include "jsonfmt.h"

/* Puts "ok": true in front of a successful result. */
static json_t *control_run_ok(json_t *result, const char *key)
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
static json_t *control_run_result(json_t *result, const char *key, const char *const *err)
{
	return result ? control_run_ok(result, key) : control_error("%s", *err ? _(*err) : _("internal error"));
}

/* A commissioning test: a test fire alarm on the device's "test" channel, raised and cleared
 * at once; a test item closes itself when cleared. It travels like any other alarm. */
static json_t *control_run_test(struct daemon *d, const char *id, const struct control_peer *peer)
{
	const struct device_conf *dc;
	struct reading rd = {.type = READING_STATE, .kind = KIND_FIRE_ALARM, .test = true};
	struct hazard h;
	int rc;

	if (!(dc = conf_device(d->conf, id)))
		return control_error(_("no device '%s' in %s; 'firegwctl devices' lists them"), id,
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
			    _("the test alarm could not be recorded (%s); see the log "
			    "(disk full?)"),
			    strerror(-rc));
	}
	item_init(&h);
	rc = ledger_hazard_last_closed(d->ledger, dc->id, "test", KIND_FIRE_ALARM, &h);
	if (rc != 1) {
		item_finish(&h);
		return control_error(
		    _("the test alarm was recorded but not found again; see the log"));
	}
	bool running = false;
	for (size_t i = 0; i < d->ndests; i++)
		running = running || daemon_dest_stats(&d->dests[i]) != NULL;
	json_t *o = json_pack("{s:b, s:s, s:s, s:b}", "ok", 1, "hazard_id", h.id, "device", dc->id,
	                      "platform", running);
	item_finish(&h);
	daemon_dests_kick(d);
	return o;
}

static json_t *control_run_reload(struct daemon *d)
{
	json_t *errors = json_array();

	if (daemon_reload(d, errors) == 0) {
		json_decref(errors);
		return json_pack("{s:b, s:s, s:I, s:I}", "ok", 1, "config", d->opts->conf_path,
		                 "buses", (json_int_t)d->conf->nbuses, "devices",
		                 (json_int_t)d->conf->ndevices);
	}
	json_t *o = control_error(_("reload refused: %zu error(s); the running configuration stays"),
	                          json_array_size(errors));
	json_object_set_new(o, "errors", errors);
	return o;
}

/* The config file checked by the daemon itself, as a reload would load it, nothing applied:
 * its secret files are judged by the user that reads them (firegw-web, in another user, asks
 * this rather than run `firegw check` as itself). */
static json_t *control_run_check(struct daemon *d)
{
	struct conf_errors errs;
	json_t *errors = json_array();
	struct conf *c;

	conf_errors_init(&errs);
	c = conf_load(d->opts->conf_path, &errs);
	for (size_t i = 0; i < errs.n; i++)
		json_array_append_new(errors, json_string(errs.items[i]));
	conf_errors_finish(&errs);
	json_t *o = json_pack("{s:b, s:s, s:b, s:o}", "ok", 1, "config", d->opts->conf_path,
	                      "valid", c != NULL, "errors", errors);
	if (c) {
		json_object_set_new(o, "buses", json_integer((json_int_t)c->nbuses));
		json_object_set_new(o, "devices", json_integer((json_int_t)c->ndevices));
	}
	conf_free(c);
	return o;
}

/* What a request asks for, parsed and checked by ctl_request. */
/* The bulletin's figures (ledger_report.c) under the site's header from the config. */
static json_t *control_run_report(struct daemon *d, const struct control_request *q)
{
	const struct site_conf *s = &d->conf->site;
	struct ledger_report_period p;
	struct ledger_report_opts o = {
	    .devices = d->conf->ndevices, .list = q->list, .now_ms = clock_wall_ms()};
	const char *err = NULL;
	json_t *r;

	if ((q->week ? ledger_report_week(q->week, &p, &err) : ledger_report_month(q->month, &p, &err)) < 0)
		return control_error("%s", err);
	r = ledger_report(d->ledger, &p, &o, &err);
	if (!r)
		return control_error("%s", err ? err : "internal error");
	json_object_set_new(r, "site",
	                    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "gateway",
	                              d->conf->gateway_id, "county", s->county ? s->county : "",
	                              "town", s->town ? s->town : "", "village",
	                              s->village ? s->village : "", "unit", s->unit ? s->unit : "",
	                              "address", s->address ? s->address : "", "responsible",
	                              s->responsible ? s->responsible : "", "acceptor",
	                              s->acceptor ? s->acceptor : ""));
	return control_run_ok(r, "report");
}

static json_t *control_run_request(struct daemon *d, const struct control_request *q,
                       const struct control_peer *peer)
{
	const char *err = NULL;
	json_t *o;

	switch (q->cmd) {
	case CONTROL_STATUS:
		return control_run_ok(status_build(d, true), NULL);
	case CONTROL_DEVICES:
		o = json_array();
		for (size_t i = 0; i < d->conf->ndevices; i++)
			json_array_append_new(o, status_device(d, &d->conf->devices[i], true));
		return control_run_ok(o, "devices");
	case CONTROL_HAZARDS:
		o = ledger_query_hazards(d->ledger, &q->filter, &err);
		return control_run_result(o, "hazards", &err);
	case CONTROL_HAZARD:
		o = ledger_query_hazard(d->ledger, q->id, &err);
		return control_run_result(o, NULL, &err);
	case CONTROL_OUTBOX:
		o = ledger_query_outbox(d->ledger, q->limit, &err);
		return control_run_result(o, NULL, &err);
	case CONTROL_DEADLETTER:
		o = ledger_query_deadletter(d->ledger, q->limit, &err);
		return control_run_result(o, "deadletter", &err);
	case CONTROL_TEST:
		return control_run_test(d, q->id, peer);
	case CONTROL_RELOAD:
		/* What changes something is logged with who asked: the socket's audit trail. */
		log_notice("control: uid %ld (pid %ld) asks for a reload", (long)peer->uid,
		           (long)peer->pid);
		return control_run_reload(d);
	case CONTROL_REPORT:
		return control_run_report(d, q);
	case CONTROL_SCAN:
	case CONTROL_PROBE:
	case CONTROL_SCAN_STATUS:
	case CONTROL_SCAN_CANCEL:
		return control_scan_request(d, q, peer);
	case CONTROL_CHECK:
		return control_run_check(d);
	}
	return control_error(_("internal error"));
}

json_t *control_run_handle(const char *line, size_t len, const struct control_peer *peer, void *userdata)
{
	struct daemon *d = userdata;
	struct control_request q;
	char err[512];
	json_t *reply;

	if (control_request_parse(&q, line, len, clock_wall_ms(), err, sizeof(err)) < 0)
		return control_error("%s", err);
	reply = control_run_request(d, &q, peer);
	control_request_free(&q);
	return reply;
}
