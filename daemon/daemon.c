/* SPDX-License-Identifier: MIT */
/* daemon: start-up, the main loop, reload and clean shutdown. */
#include "daemon.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <uv.h>

#include "acquire.h"
#include "alive.h"
#include "i18n.h"
#include "clock.h"
#include "conf.h"
#include "control.h"
#include "ingest.h"
#include "ledger.h"
#include "ledger_report.h"
#include "log.h"
#include "mqtt_in.h"
#include "sdnotify.h"
#include "retention.h"
#include "rules.h"
#include "forward.h"
#include "daemon_int.h"
#include "firegw-config.h"

#define TICK_MS 1000

static int daemon_log_level(const char *s)
{
	if (!strcmp(s, "error"))
		return LOG_LVL_ERR;
	if (!strcmp(s, "warning"))
		return LOG_LVL_WARN;
	if (!strcmp(s, "notice"))
		return LOG_LVL_NOTICE;
	if (!strcmp(s, "debug"))
		return LOG_LVL_DEBUG;
	return LOG_LVL_INFO;
}

static void daemon_apply_log_level(struct daemon *d)
{
	log_set_level(d->opts->log_level >= 0 ? d->opts->log_level
	                                      : daemon_log_level(d->conf->log_level));
}

static void daemon_status(struct daemon *d)
{
	const struct ingest_health *h = d->ingest ? ingest_health(d->ingest) : NULL;
	int64_t by_grade[GRADE_COUNT];
	char status[384];

	if (h && !h->ok) {
		/* What `systemctl status` shows first: hazards are not being recorded. */
		snprintf(status, sizeof(status), "NOT RECORDING: %s",
		         h->error ? h->error : "the ledger fails");
		sdnotify_status(status);
		return;
	}
	if (ledger_open_by_grade(d->ledger, by_grade) < 0)
		return;
	snprintf(status, sizeof(status),
	         "%zu devices; open hazards: %lld immediate, %lld major, %lld significant, %lld "
	         "general; outbox %lld",
	         d->conf->ndevices, (long long)by_grade[GRADE_IMMEDIATE],
	         (long long)by_grade[GRADE_MAJOR], (long long)by_grade[GRADE_SIGNIFICANT],
	         (long long)by_grade[GRADE_GENERAL],
	         (long long)ledger_outbox_depth(d->ledger, LANE_ALARM));
	sdnotify_status(status);
}

/* The last full month's bulletin (docs/platform-api.md, section 8) rides on the heartbeats
 * built within 1.25 heartbeat intervals (the longest of the destinations': a little more than
 * one, as intervals have jitter) of the first one since start and after each full hour: one or
 * two an hour to each destination, so a platform that missed one has it again within the hour
 * without every heartbeat growing. */
static void daemon_heartbeat_bulletin(struct daemon *d, json_t *hb)
{
	int64_t window = 0, wall = clock_wall_ms(), mono = clock_mono_ms();
	const char *err = NULL;
	json_t *b;

	for (size_t i = 0; i < d->conf->nplatforms; i++)
		if (d->conf->platforms[i].enabled && d->conf->platforms[i].heartbeat_ms > window)
			window = d->conf->platforms[i].heartbeat_ms;
	window += window / 4;
	if (d->first_heartbeat_mono == 0)
		d->first_heartbeat_mono = mono;
	if (mono - d->first_heartbeat_mono >= window && wall % 3600000 >= window)
		return;
	b = ledger_report_bulletin(d->ledger, d->conf->ndevices, wall, &err);
	if (b)
		json_object_set_new(hb, "bulletin", b);
}

static json_t *daemon_heartbeat(void *userdata)
{
	json_t *o = status_build(userdata, false);
	const char *quality = clock_time_quality();

	/* As in events: only while the wall clock is not known to be synchronised. */
	if (o && quality)
		json_object_set_new(o, "time_quality", json_string(quality));
	if (o)
		daemon_heartbeat_bulletin(userdata, o);
	return o;
}

static void daemon_changed(void *userdata)
{
	struct daemon *d = userdata;

	rules_resync(d->rules, clock_mono_ms(), clock_wall_ms());
}

static void daemon_committed(void *userdata)
{
	struct daemon *d = userdata;

	mqtt_in_committed(d->mqtt);
	daemon_dests_kick(d);
}

void daemon_dests_kick(struct daemon *d)
{
	for (size_t i = 0; i < d->ndests; i++)
		forward_kick(d->dests[i].fwd);
}

const struct forward_stats *daemon_dest_stats(const struct daemon_dest *dd)
{
	return dd->fwd ? forward_stats(dd->fwd) : NULL;
}

static void daemon_dests_stop(struct daemon *d)
{
	for (size_t i = 0; i < d->ndests; i++)
		forward_free(d->dests[i].fwd);
	free(d->dests);
	d->dests = NULL;
	d->ndests = 0;
}

/* Every platform block with a url is a destination: the ledger queues each event for those
 * that want it, and each has its own transport, so one down never holds another back. */
static int daemon_dests_start(struct daemon *d)
{
	struct forward_hooks hooks = {daemon_heartbeat, daemon_changed, d};
	struct ledger_dest *ld;
	int rc = 0;

	d->dests = calloc(d->conf->nplatforms + 1, sizeof(*d->dests));
	ld = calloc(d->conf->nplatforms + 1, sizeof(*ld));
	if (!d->dests || !ld) {
		free(ld);
		return -ENOMEM;
	}
	for (size_t i = 0; i < d->conf->nplatforms; i++) {
		const struct platform_conf *pc = &d->conf->platforms[i];

		if (!pc->enabled)
			continue;
		snprintf(ld[d->ndests].name, sizeof(ld[d->ndests].name), "%s", pc->name);
		ld[d->ndests].types = pc->types;
		ld[d->ndests].kinds = pc->kinds;
		ld[d->ndests].grades = pc->grades;
		d->dests[d->ndests++].pc = pc;
	}
	/* Before any transport reads the outbox: an older ledger's waiting events are the first
	 * destination's. */
	if (ledger_set_dests(d->ledger, ld, d->ndests) < 0)
		log_err(_("ledger: the destinations could not be set; events wait in the outbox"));
	free(ld);
	for (size_t i = 0; i < d->ndests; i++) {
		struct daemon_dest *dd = &d->dests[i];
		bool fatal = false;

		dd->fwd = forward_new(&d->loop, d->conf, dd->pc, d->ledger, &hooks, &fatal);
		if (fatal)
			rc = -EINVAL;
	}
	return rc;
}

/* The Modbus polling and the MQTT input after a reload that could not start them (out of
 * memory): retried here while the rest of the gateway runs on. */
static void daemon_retry_inputs(struct daemon *d)
{
	if (!d->acquire && (d->acquire = acquire_start(&d->loop, d->conf, d->ingest)))
		log_notice(_("Modbus polling started (the last reload could not start it)"));
	if (!d->mqtt && (d->mqtt = mqtt_in_start(&d->loop, d->conf, d->ingest)))
		log_notice(_("MQTT input started (the last reload could not start it)"));
}

static void daemon_stop(struct daemon *d, const char *why)
{
	log_notice(_("%s: stopping"), why);
	sdnotify_stopping();
	uv_stop(&d->loop);
}

/* A ledger that SQLite found damaged while running, or whose commits have failed with I/O
 * errors for DAEMON_IO_FAIL_MS, records nothing any more. Its replacement is the start-up
 * check's work (ledger_open: the file moved aside, every unsent event and open item salvaged
 * into a new one): firegw stops with exit code 1 and the service manager starts it again
 * (Restart=on-failure). What was taken and not committed is not lost: an MQTT message was
 * not acknowledged (the broker sends it again), a Modbus device is read again. */
#define DAEMON_IO_FAIL_MS (30 * 1000)

static bool daemon_ledger_lost(struct daemon *d)
{
	const struct ingest_health *h = ingest_health(d->ingest);
	const char *why;

	if (ledger_corrupt_seen(d->ledger))
		why = _("is damaged (SQLite found it corrupt)");
	else if (!h->ok && h->code == -EIO && ledger_damaged(d->ledger) &&
	         clock_wall_ms() - h->since_wall_ms >= DAEMON_IO_FAIL_MS)
		why = _("has failed with I/O errors for 30 s");
	else
		return false;
	log_err(_("ledger %s %s: firegw stops so that its start-up check moves the file aside and "
	          "carries every unsent event and open item into a new one; the service manager "
	          "starts it again"),
	        ledger_path(d->ledger), why);
	d->exit_code = 1;
	daemon_stop(d, _("the ledger fails"));
	return true;
}

static void daemon_on_tick(uv_timer_t *t)
{
	struct daemon *d = t->data;
	static unsigned n;

	/* Queued readings go first, so the tick sees the newest state. */
	ingest_flush(d->ingest);
	if (daemon_ledger_lost(d))
		return;
	rules_tick(d->rules, clock_mono_ms(), clock_wall_ms());
	alive_beat(d->alive, clock_wall_ms());
	daemon_dests_kick(d);
	/* Every ten ticks, and at once when the ledger starts or stops failing. */
	bool ok = ingest_health(d->ingest)->ok;
	if (n % 10 == 0)
		daemon_retry_inputs(d);
	if (n++ % 10 == 0 || ok != d->status_ledger_ok) {
		d->status_ledger_ok = ok;
		daemon_status(d);
	}
}

static void daemon_on_watchdog(uv_timer_t *t)
{
	(void)t;
	sdnotify_watchdog();
}

static void daemon_on_signal(uv_signal_t *s, int signum)
{
	struct daemon *d = s->data;

	daemon_stop(d, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

int daemon_reload(struct daemon *d, json_t *errors)
{
	struct conf_errors errs;
	struct conf *next;
	struct rules *rules;

	sdnotify_reloading();
	conf_errors_init(&errs);
	next = conf_load(d->opts->conf_path, &errs);
	if (!next) {
		for (size_t i = 0; i < errs.n; i++) {
			log_err("%s", errs.items[i]);
			if (errors)
				json_array_append_new(errors, json_string(errs.items[i]));
		}
		log_err(_("reload refused: %s has %zu error(s); the running configuration stays"),
		        d->opts->conf_path, errs.n);
		conf_errors_finish(&errs);
		sdnotify_ready(NULL);
		return -1;
	}
	conf_errors_finish(&errs);
	if (strcmp(next->gateway_id, d->conf->gateway_id) != 0 ||
	    strcmp(next->data_dir, d->conf->data_dir) != 0) {
		static const char msg[] =
		    "gateway id or data_dir changed; they name the ledger, so "
		    "restart firegw to change them";
		log_err(_("reload refused: %s"), msg);
		if (errors)
			json_array_append_new(errors, json_string(msg));
		conf_free(next);
		sdnotify_ready(NULL);
		return -1;
	}
	rules = rules_new(next, d->ledger);
	if (!rules) {
		log_err(_("reload refused: out of memory"));
		if (errors)
			json_array_append_new(errors, json_string("out of memory"));
		conf_free(next);
		sdnotify_ready(NULL);
		return -1;
	}
	/* The bus workers read the old config: stop them before it goes. */
	acquire_stop(d->acquire);
	d->acquire = NULL;
	mqtt_in_stop(d->mqtt);
	d->mqtt = NULL;
	ingest_flush(d->ingest);
	rules_resync(rules, clock_mono_ms(), clock_wall_ms());
	ingest_set_rules(d->ingest, rules);
	rules_free(d->rules);
	retention_set_conf(d->retention, &next->retention);
	conf_free(d->conf);
	d->rules = rules;
	d->conf = next;
	/* At start-up these failures are fatal (nothing runs yet, and a service manager
	 * restarts firegw). Here the ledger, the rules' deadlines, the uplink and the control
	 * socket are running and protect: they run on, and the tick retries what failed. */
	d->acquire = acquire_start(&d->loop, d->conf, d->ingest);
	if (!d->acquire)
		log_err(_("reload: Modbus polling could not be started (out of memory): no Modbus "
		        "device is read until it is; firegw retries every 10 s, restart it if this "
		        "stays"));
	d->mqtt = mqtt_in_start(&d->loop, d->conf, d->ingest);
	if (!d->mqtt)
		log_err(_("reload: the MQTT input could not be started (out of memory): no MQTT "
		        "device is heard until it is; firegw retries every 10 s, restart it if "
		        "this stays"));
	daemon_dests_stop(d);
	if (daemon_dests_start(d) < 0)
		log_err(_("platform uplink not started after reload; events stay in the outbox"));
	daemon_apply_log_level(d);
	log_notice(_("configuration reloaded from %s: %zu buses, %zu devices"), d->opts->conf_path,
	           next->nbuses, next->ndevices);
	if (strcmp(next->control_socket, d->control_path) != 0)
		log_warn(_("control_socket changed to %s; it moves at the next restart (still %s)"),
		         next->control_socket, d->control_path);
	sdnotify_ready(NULL);
	daemon_status(d);
	return 0;
}

static void daemon_on_hup(uv_signal_t *s, int signum)
{
	(void)signum;
	daemon_reload(s->data, NULL);
}

static int daemon_mkdir(const char *dir)
{
	if (mkdir(dir, 0750) == 0 || errno == EEXIST)
		return 0;
	log_err(_("data_dir %s cannot be created: %s; create it or set gateway { data_dir = ... }"),
	        dir, strerror(errno));
	return -errno;
}

static void daemon_close_cb(uv_handle_t *h)
{
	(void)h;
}

static void daemon_walk_close(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, daemon_close_cb);
}

/* What the last run left in <data_dir>/alive: after an unclean stop (a power cut, a crash,
 * a kill) a gateway_restarted event is recorded before this run marks itself running, so a
 * failure to record it is tried again at the next start. */
static int daemon_restarted(struct daemon *d)
{
	struct alive_prev prev;
	int64_t now = clock_wall_ms();
	char last[32];
	int rc;

	d->alive = alive_open(d->conf->data_dir, &prev);
	if (prev.found && !prev.clean) {
		clock_format_iso(prev.last_ms, last, sizeof(last));
		log_notice(_("firegw restarted after an unclean stop (a power cut, a crash or a "
		             "kill): last known alive %s, down about %lld s"),
		           prev.last_ms ? last : "(unknown)",
		           prev.last_ms && now > prev.last_ms
		               ? (long long)(now - prev.last_ms) / 1000
		               : -1LL);
		if ((rc = rules_restarted(d->rules, prev.last_ms, now)) < 0)
			return rc;
	}
	alive_running(d->alive, now);
	return 0;
}

static int daemon_start(struct daemon *d)
{
	struct conf_errors errs;
	struct ledger_open_info info;
	int rc;

	conf_errors_init(&errs);
	d->conf = conf_load(d->opts->conf_path, &errs);
	if (!d->conf) {
		for (size_t i = 0; i < errs.n; i++)
			log_err("%s", errs.items[i]);
		log_err(_("%s has %zu error(s); run 'firegw check -c %s' after fixing them"),
		        d->opts->conf_path, errs.n, d->opts->conf_path);
		conf_errors_finish(&errs);
		return -EINVAL;
	}
	conf_errors_finish(&errs);
	/* Before any thread starts; a changed language takes effect at the next start. */
	i18n_set_language(d->conf->language);
	daemon_apply_log_level(d);
	if ((rc = daemon_mkdir(d->conf->data_dir)) < 0)
		return rc;
	if ((rc = ledger_open(&d->ledger, d->conf->data_dir, d->conf->gateway_id, &info)) < 0)
		return rc;
	d->rules = rules_new(d->conf, d->ledger);
	if (!d->rules)
		return -ENOMEM;
	if ((rc = rules_resync(d->rules, clock_mono_ms(), clock_wall_ms())) < 0)
		return rc;
	d->ingest = ingest_new(&d->loop, d->rules, d->ledger);
	if (!d->ingest)
		return -ENOMEM;
	d->acquire = acquire_start(&d->loop, d->conf, d->ingest);
	if (!d->acquire)
		return -ENOMEM;
	d->mqtt = mqtt_in_start(&d->loop, d->conf, d->ingest);
	if (!d->mqtt)
		return -ENOMEM;
	if ((rc = daemon_dests_start(d)) < 0)
		return rc;
	/* After the destinations are set: the gateway's own items go to every one. */
	if (info.corrupt && (rc = rules_ledger_corrupt(d->rules, &info, clock_wall_ms())) < 0)
		return rc;
	if ((rc = daemon_restarted(d)) < 0)
		return rc;
	d->retention = retention_start(&d->loop, d->ledger, &d->conf->retention);
	if (!d->retention)
		return -ENOMEM;
	ingest_on_commit(d->ingest, daemon_committed, d);
	snprintf(d->control_path, sizeof(d->control_path), "%s", d->conf->control_socket);
	/* Without its socket the gateway still protects: it runs on, with the reason logged. */
	d->control = control_start(&d->loop, d->control_path, control_run_handle, d);

	uv_signal_init(&d->loop, &d->sigterm);
	uv_signal_init(&d->loop, &d->sigint);
	uv_signal_init(&d->loop, &d->sighup);
	d->sigterm.data = d->sigint.data = d->sighup.data = d;
	uv_signal_start(&d->sigterm, daemon_on_signal, SIGTERM);
	uv_signal_start(&d->sigint, daemon_on_signal, SIGINT);
	uv_signal_start(&d->sighup, daemon_on_hup, SIGHUP);
	uv_timer_init(&d->loop, &d->tick);
	d->tick.data = d;
	uv_timer_start(&d->tick, daemon_on_tick, TICK_MS, TICK_MS);
	int64_t wd = sdnotify_watchdog_ms();
	if (wd > 0) {
		uv_timer_init(&d->loop, &d->watchdog);
		d->watchdog.data = d;
		uv_timer_start(&d->watchdog, daemon_on_watchdog, (uint64_t)wd / 2,
		               (uint64_t)wd / 2);
	}
	/* READY first: counting a large ledger's events reads most of its pages (tens of ms). */
	sdnotify_ready("running");
	log_notice(_("firegw %s ready: gateway %s, %zu buses, %zu devices, ledger %s (%lld events)"),
	           FIREGW_VERSION, d->conf->gateway_id, d->conf->nbuses, d->conf->ndevices,
	           ledger_path(d->ledger), (long long)ledger_event_count(d->ledger));
	daemon_status(d);
	return 0;
}

static void daemon_finish(struct daemon *d)
{
	/* No tick while things stop: the loop still runs (ingest_free), and a tick would start
	 * the inputs again (daemon_retry_inputs) after they were stopped. */
	if (d->tick.data)
		uv_timer_stop(&d->tick);
	control_stop(d->control);
	d->control = NULL;
	acquire_stop(d->acquire);
	control_scan_free_all(d);
	mqtt_in_stop(d->mqtt);
	d->mqtt = NULL;
	daemon_dests_stop(d);
	retention_stop(d->retention);
	d->retention = NULL;
	if (d->ingest)
		ingest_flush(d->ingest);
	ingest_free(d->ingest);
	uv_walk(&d->loop, daemon_walk_close, NULL);
	uv_run(&d->loop, UV_RUN_DEFAULT);
	uv_loop_close(&d->loop);
	rules_free(d->rules);
	if (d->ledger) {
		ledger_close(d->ledger);
		log_notice(_("ledger closed"));
	}
	alive_close(d->alive, clock_wall_ms());
	conf_free(d->conf);
}

int daemon_run(const struct daemon_opts *o)
{
	struct daemon d;
	int rc;

	memset(&d, 0, sizeof(d));
	d.opts = o;
	d.started_mono = clock_mono_ms();
	if (uv_loop_init(&d.loop) != 0) {
		log_err(_("cannot start the event loop"));
		return 1;
	}
	/* A platform or broker that hangs up must not kill the process. */
	signal(SIGPIPE, SIG_IGN);
	rc = daemon_start(&d);
	if (rc == 0)
		uv_run(&d.loop, UV_RUN_DEFAULT);
	daemon_finish(&d);
	return rc == 0 ? d.exit_code : 1;
}
