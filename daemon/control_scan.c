/* SPDX-License-Identifier: MIT */
/* control_scan: the control requests that put a job on a bus worker: `scan BUS` (the unit ids
 * that answer, their profile and their config block) and `probe DEVICE` (one read of a
 * configured device), run between the bus's regular polls, and `scan-status ID` and
 * `scan-cancel ID` that follow and stop them. A job is started by one request and polled by
 * the client (docs/operations.md, "Scan and probe through the daemon"). Part of the daemon
 * (daemon_int.h declares its entry points). */

#include <errno.h>
#include <math.h>
#include <modbus.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acquire.h"
#include "clock.h"
#include "conf.h"
#include "control.h"
#include "control_request.h"
#include "daemon_int.h"
#include "i18n.h"
#include "log.h"
#include "modbus_bus.h"
#include "modbus_scan.h"

/* The jobs kept for their status after they end: the last CONTROL_SCAN_KEEP. */
#define CONTROL_SCAN_KEEP 16

enum control_scan_state { SCAN_RUNNING, SCAN_DONE, SCAN_CANCELLED, SCAN_FAILED };

static const char *const control_scan_states[] = {"running", "done", "cancelled", "failed"};

struct control_scan {
	struct control_scan *next;
	char id[32];
	bool probe;
	char *bus;
	int from, to, timeout_ms;
	int64_t started_mono, started_wall;

	/* The worker's own while the job runs. */
	int unit; /* the unit being asked */
	int prof; /* -1: asking it; else the profile being tried on it */
	struct profile **profiles;
	size_t nprofiles;
	bool *fits;
	struct modbus_bus_device dev; /* probe: a copy; its strings are the job's */
	char *dev_id;

	pthread_mutex_t lock; /* the rest, shared with the main loop */
	enum control_scan_state state;
	bool cancel;
	int scanned;
	int64_t ended_mono;
	char reason[256]; /* failed: why */
	json_t *found;    /* scan: the units that answered; probe: the reading */
};

struct control_scans {
	struct control_scan *head;
	unsigned seq;
};

static void control_scan_free(struct control_scan *s)
{
	if (!s)
		return;
	modbus_scan_profiles_free(s->profiles, s->nprofiles);
	free(s->fits);
	free(s->bus);
	free(s->dev_id);
	json_decref(s->found);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* On the worker, with s->lock held. */
static void control_scan_end(struct control_scan *s, enum control_scan_state st, const char *reason)
{
	s->state = st;
	s->ended_mono = clock_mono_ms();
	if (reason)
		snprintf(s->reason, sizeof(s->reason), "%s", reason);
}

/* Why the job cannot go on without a link; 1 to go on. */
static int control_scan_nolink(struct control_scan *s, int err)
{
	char why[200];

	if (err == ECANCELED)
		snprintf(why, sizeof(why), "%s",
		         "the bus worker stopped (reload or shutdown); start it again");
	else
		snprintf(why, sizeof(why), "bus '%s' is not reachable: %s", s->bus,
		         modbus_strerror(err));
	pthread_mutex_lock(&s->lock);
	control_scan_end(s, SCAN_FAILED, why);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/* With s->lock held: the unit asked and its profiles tried, on to the next one. */
static void control_scan_next(struct control_scan *s, bool answered)
{
	if (answered) {
		json_t *names = json_array();
		char snippet[1024];

		for (size_t i = 0; i < s->nprofiles; i++)
			if (s->fits[i])
				json_array_append_new(names, json_string(s->profiles[i]->name));
		modbus_scan_snippet(snippet, sizeof(snippet), s->bus, s->unit, s->profiles,
		                    s->nprofiles, s->fits);
		json_array_append_new(s->found, json_pack("{s:i, s:o, s:s}", "unit", s->unit,
		                                          "profiles", names, "config", snippet));
	}
	s->scanned++;
	s->prof = -1;
	if (++s->unit > s->to)
		control_scan_end(s, SCAN_DONE, NULL);
}

/* One step: one unit asked, or one profile tried on a unit that answered. The devices on the
 * bus wait for one such question at most. */
static int control_scan_step(modbus_t *ctx, int err, void *arg)
{
	struct control_scan *s = arg;
	enum modbus_scan_answer a = MODBUS_SCAN_ANSWERS;
	bool cancel;
	int e = 0;

	pthread_mutex_lock(&s->lock);
	cancel = s->cancel;
	if (cancel)
		control_scan_end(s, SCAN_CANCELLED, NULL);
	pthread_mutex_unlock(&s->lock);
	if (cancel)
		return 0;
	if (!ctx)
		return control_scan_nolink(s, err);
	if (s->prof < 0) {
		a = modbus_scan_ask(ctx, s->unit, s->timeout_ms);
		e = errno;
	} else {
		s->fits[s->prof] =
		    modbus_scan_fits(ctx, s->unit, s->timeout_ms, s->profiles[s->prof]);
	}

	pthread_mutex_lock(&s->lock);
	if (a == MODBUS_SCAN_LINK_DOWN) {
		char why[200];

		snprintf(why, sizeof(why), "the link went down at unit %d: %s", s->unit,
		         modbus_strerror(e));
		control_scan_end(s, SCAN_FAILED, why);
	} else if (a == MODBUS_SCAN_SILENT) {
		control_scan_next(s, false);
	} else if (++s->prof >= (int)s->nprofiles) {
		control_scan_next(s, true);
	}
	int rc = s->state != SCAN_RUNNING ? (a == MODBUS_SCAN_LINK_DOWN ? -1 : 0) : 1;
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* The probe's one step: a poll as the worker makes it, every point with its value. */
static int control_scan_probe_step(modbus_t *ctx, int err, void *arg)
{
	struct control_scan *s = arg;
	const struct profile *p = s->dev.prof;
	double *values;
	int code = 0, attempts = 0;

	if (!ctx)
		return control_scan_nolink(s, err);
	values = calloc(p->npoints ? p->npoints : 1, sizeof(double));
	enum modbus_bus_why why =
	    values ? modbus_bus_poll(ctx, &s->dev, values, &code, &attempts) : MB_WHY_BAD_CONFIG;
	json_t *points = json_array();

	for (size_t i = 0; values && why == MB_WHY_OK && i < p->npoints; i++) {
		const struct point *pt = &p->points[i];
		json_t *bits = json_array();

		for (size_t b = 0; b < p->nbits; b++)
			if (strcmp(p->bits[b].point, pt->name) == 0 && !isnan(values[i]) &&
			    (((uint32_t)(int64_t)values[i]) >> p->bits[b].bit) & 1u)
				json_array_append_new(bits, json_string(p->bits[b].name));
		json_array_append_new(
		    points, json_pack("{s:s, s:o, s:s, s:o}", "point", pt->name, "value",
		                      isnan(values[i]) ? json_null() : json_real(values[i]), "unit",
		                      pt->unit ? pt->unit : "", "bits", bits));
	}
	free(values);
	pthread_mutex_lock(&s->lock);
	json_decref(s->found);
	s->found = json_pack("{s:s, s:i, s:s, s:b, s:s, s:i, s:i, s:o}", "device", s->dev_id,
	                     "unit", s->dev.unit, "profile", p->name, "answered", why == MB_WHY_OK,
	                     "why", modbus_bus_why_name(why), "code", code, "attempts", attempts,
	                     "points", points);
	s->scanned = 1;
	control_scan_end(s, SCAN_DONE, NULL);
	pthread_mutex_unlock(&s->lock);
	return why == MB_WHY_LINK ? -1 : 0;
}

static struct control_scans *control_scan_list(struct daemon *d)
{
	if (!d->scans)
		d->scans = calloc(1, sizeof(*d->scans));
	return d->scans;
}

static struct control_scan *control_scan_find(struct daemon *d, const char *id)
{
	for (struct control_scan *s = d->scans ? d->scans->head : NULL; s; s = s->next)
		if (strcmp(s->id, id) == 0)
			return s;
	return NULL;
}

static bool control_scan_running(struct control_scan *s)
{
	pthread_mutex_lock(&s->lock);
	bool r = s->state == SCAN_RUNNING;
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* Room for one more: the oldest ended job goes when CONTROL_SCAN_KEEP are kept. False when
 * all of them still run. */
static bool control_scan_room(struct control_scans *l)
{
	struct control_scan **pp, **oldest = NULL;
	size_t n = 0;

	for (pp = &l->head; *pp; pp = &(*pp)->next) {
		n++;
		if (!control_scan_running(*pp))
			oldest = pp; /* the list is newest first */
	}
	if (n < CONTROL_SCAN_KEEP)
		return true;
	if (!oldest)
		return false;
	struct control_scan *gone = *oldest;
	*oldest = gone->next;
	control_scan_free(gone);
	return true;
}

static json_t *control_scan_status(struct control_scan *s)
{
	int64_t now = clock_mono_ms();
	json_t *o;

	pthread_mutex_lock(&s->lock);
	int64_t end = s->state == SCAN_RUNNING ? now : s->ended_mono;
	o = json_pack("{s:b, s:s, s:s, s:s, s:s, s:I}", "ok", 1, "id", s->id, "kind",
	              s->probe ? "probe" : "scan", "bus", s->bus, "state",
	              control_scan_states[s->state], "elapsed_ms",
	              (json_int_t)(end - s->started_mono));
	if (s->probe) {
		json_object_set_new(o, "device", json_string(s->dev_id));
		/* The reading, once there is one. */
		if (json_is_object(s->found))
			json_object_set_new(o, "probe", json_deep_copy(s->found));
	} else {
		json_t *found = json_deep_copy(s->found), *f;
		size_t i, len = 1;
		char *config;

		for (i = 0; i < json_array_size(found); i++)
			len += strlen(json_string_value(
			           json_object_get(json_array_get(found, i), "config"))) +
			       1;
		config = calloc(1, len);
		for (i = 0; config && i < json_array_size(found); i++) {
			f = json_array_get(found, i);
			strcat(config, i ? "\n" : "");
			strcat(config, json_string_value(json_object_get(f, "config")));
		}
		json_object_set_new(o, "from", json_integer(s->from));
		json_object_set_new(o, "to", json_integer(s->to));
		json_object_set_new(o, "timeout_ms", json_integer(s->timeout_ms));
		json_object_set_new(o, "scanned", json_integer(s->scanned));
		json_object_set_new(o, "total", json_integer(s->to - s->from + 1));
		json_object_set_new(o, "found", found);
		json_object_set_new(o, "config", json_string(config ? config : ""));
		free(config);
	}
	if (s->state == SCAN_FAILED)
		json_object_set_new(o, "reason", json_string(s->reason));
	pthread_mutex_unlock(&s->lock);
	return o;
}

static struct control_scan *control_scan_new(struct control_scans *l, bool probe, const char *bus)
{
	struct control_scan *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	pthread_mutex_init(&s->lock, NULL);
	s->probe = probe;
	s->bus = strdup(bus);
	s->found = json_array();
	s->started_mono = clock_mono_ms();
	s->started_wall = clock_wall_ms();
	snprintf(s->id, sizeof(s->id), "%s-%u", probe ? "probe" : "scan", ++l->seq);
	if (!s->bus || !s->found) {
		control_scan_free(s);
		return NULL;
	}
	return s;
}

/* Queues the job on the bus's worker and keeps it; the reply gives its id. */
static json_t *control_scan_start(struct control_scans *l, struct control_scan *s,
                                  struct modbus_bus *b, modbus_bus_job_fn fn)
{
	if (modbus_bus_add_job(b, fn, s) != 0) {
		control_scan_free(s);
		return control_error("the bus worker cannot take the job now (out of memory or "
		                     "stopping); try again");
	}
	s->next = l->head;
	l->head = s;
	return control_scan_status(s);
}

static json_t *control_scan_bus(struct daemon *d, const struct control_request *q,
                                const struct control_peer *peer)
{
	struct control_scans *l = control_scan_list(d);
	const struct bus_conf *bc = NULL;
	struct modbus_bus *b;
	struct control_scan *s;

	for (size_t i = 0; i < d->conf->nbuses && !bc; i++)
		if (strcmp(d->conf->buses[i].name, q->id) == 0)
			bc = &d->conf->buses[i];
	if (!bc)
		return control_error("no bus '%.64s' in %s; the buses are the config's bus blocks "
		                     "('firegwctl status' lists them)",
		                     q->id, d->opts->conf_path);
	if (!(b = acquire_bus(d->acquire, bc->name)))
		return control_error("bus '%s' is not polled by firegw (no device names it): scan "
		                     "it standalone with 'firegw scan --bus %s'",
		                     bc->name, bc->name);
	if (!l)
		return control_error("out of memory");
	for (s = l->head; s; s = s->next)
		if (!s->probe && strcmp(s->bus, bc->name) == 0 && control_scan_running(s))
			return control_error("a scan of bus '%s' is running already: "
			                     "'firegwctl scan-status %s' follows it",
			                     bc->name, s->id);
	if (!control_scan_room(l))
		return control_error("%d jobs are running; wait for one to end or cancel one",
		                     CONTROL_SCAN_KEEP);
	if (!(s = control_scan_new(l, false, bc->name)))
		return control_error("out of memory");
	s->from = s->unit = q->from;
	s->prof = -1;
	s->to = q->to;
	s->timeout_ms = q->timeout_ms;
	s->nprofiles = modbus_scan_profiles_load(d->conf->profile_dir, &s->profiles);
	s->fits = calloc(s->nprofiles ? s->nprofiles : 1, sizeof(bool));
	if (!s->fits) {
		control_scan_free(s);
		return control_error("out of memory");
	}
	log_notice(_("control: uid %ld (pid %ld) starts %s of bus '%s', units %d-%d, %d ms each"),
	           (long)peer->uid, (long)peer->pid, s->id, bc->name, s->from, s->to,
	           s->timeout_ms);
	return control_scan_start(l, s, b, control_scan_step);
}

static json_t *control_scan_probe(struct daemon *d, const struct control_request *q,
                                  const struct control_peer *peer)
{
	struct control_scans *l = control_scan_list(d);
	const struct device_conf *dc = conf_device(d->conf, q->id);
	struct modbus_bus *b;
	struct control_scan *s;

	if (!dc)
		return control_error("no device '%.64s' in %s; 'firegwctl devices' lists them",
		                     q->id, d->opts->conf_path);
	if (!dc->busp || !dc->prof)
		return control_error("device '%s' is not a Modbus device: nothing to probe",
		                     dc->id);
	if (!(b = acquire_bus(d->acquire, dc->busp->name)))
		return control_error("bus '%s' of device '%s' is not being polled; 'firegwctl "
		                     "status' says why",
		                     dc->busp->name, dc->id);
	if (!l || !control_scan_room(l))
		return control_error("%d jobs are running; wait for one to end or cancel one",
		                     CONTROL_SCAN_KEEP);
	if (!(s = control_scan_new(l, true, dc->busp->name)) || !(s->dev_id = strdup(dc->id))) {
		control_scan_free(s);
		return control_error("out of memory");
	}
	s->dev = (struct modbus_bus_device){
	    s->dev_id, dc->unit, dc->interval_ms, dc->timeout_ms, dc->retries, dc->prof, 0};
	log_notice(_("control: uid %ld (pid %ld) starts %s of device '%s'"), (long)peer->uid,
	           (long)peer->pid, s->id, dc->id);
	return control_scan_start(l, s, b, control_scan_probe_step);
}

json_t *control_scan_request(struct daemon *d, const struct control_request *q,
                             const struct control_peer *peer)
{
	struct control_scan *s;

	switch (q->cmd) {
	case CONTROL_SCAN:
		return control_scan_bus(d, q, peer);
	case CONTROL_PROBE:
		return control_scan_probe(d, q, peer);
	case CONTROL_SCAN_STATUS:
	case CONTROL_SCAN_CANCEL:
		if (!(s = control_scan_find(d, q->id)))
			return control_error("no scan or probe '%.64s' (the last %d are kept; a "
			                     "restart forgets them)",
			                     q->id, CONTROL_SCAN_KEEP);
		if (q->cmd == CONTROL_SCAN_CANCEL) {
			pthread_mutex_lock(&s->lock);
			bool was = s->state == SCAN_RUNNING && !s->cancel;
			s->cancel = true;
			pthread_mutex_unlock(&s->lock);
			if (was)
				log_notice(_("control: uid %ld (pid %ld) cancels %s"),
				           (long)peer->uid, (long)peer->pid, s->id);
		}
		return control_scan_status(s);
	default:
		return control_error("internal error");
	}
}

void control_scan_free_all(struct daemon *d)
{
	if (!d->scans)
		return;
	while (d->scans->head) {
		struct control_scan *s = d->scans->head;

		d->scans->head = s->next;
		control_scan_free(s);
	}
	free(d->scans);
	d->scans = NULL;
}
