/* SPDX-License-Identifier: MIT */
/* mqtt_in: MQTT messages in, readings and device status out. */
#include "mqtt_in.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "i18n.h"
#include "secret.h"

#define MQTT_IN_UNKNOWN_MAX 256 /* unknown keys remembered (each logged once) */
#define MQTT_IN_CHECK_MS    200 /* how often a paused input looks at the queue again */

struct mqtt_in {
	uv_loop_t *loop;
	const struct conf *conf;
	struct ingest *ingest;
	struct mqtt_client *client;
	struct mqtt_dev_status *devs; /* in the config's order (mqtt_in_device) */
	size_t ndevs;
	struct mqtt_dev_status **bykey; /* devs sorted by key: a message finds its device by bsearch */
	const struct profile **profs; /* MQTT profiles in use */
	size_t nprofs;
	double *scratch; /* values of one message, as many as the largest profile has points */
	char **unknown;
	size_t nunknown;
	struct log_state unmatched_log, nokey_log;
	uv_timer_t check;
	bool check_ready;
	struct mqtt_in_stats stats;
};

static void mqtt_in_push(struct mqtt_in *m, const struct reading *rd)
{
	/* The broker's PUBACK waits until the ledger has this (mqtt_in_committed). */
	mqtt_client_hold(m->client, true);
	/* One refused is counted and logged by the ingest (ingest_push). */
	if (ingest_push(m->ingest, rd) != 0)
		m->stats.dropped++;
	/* The ledger falls behind: leave the rest at the broker until it catches up. */
	if (m->client && !m->stats.paused && ingest_queued(m->ingest) > INGEST_MAX / 4 * 3) {
		m->stats.paused = true;
		mqtt_client_pause(m->client, true);
	}
}

static int mqtt_in_dev_cmp(const void *a, const void *b)
{
	const struct mqtt_dev_status *const *x = a, *const *y = b;

	return strcmp((*x)->dc->key, (*y)->dc->key);
}

static int mqtt_in_key_cmp(const void *key, const void *b)
{
	const struct mqtt_dev_status *const *y = b;

	return strcmp(key, (*y)->dc->key);
}

static struct mqtt_dev_status *mqtt_in_find(struct mqtt_in *m, const char *key)
{
	struct mqtt_dev_status **s =
	    m->ndevs ? bsearch(key, m->bykey, m->ndevs, sizeof(*m->bykey), mqtt_in_key_cmp) : NULL;

	return s ? *s : NULL;
}

/* The device a level of the topic names (smoke/<key>/state), among those whose profile reads
 * that topic: where a message whose key could not be read still says whose it is. */
static struct mqtt_dev_status *mqtt_in_topic_device(struct mqtt_in *m, const char *topic)
{
	char level[MQTT_MAP_KEY_LEN];

	for (const char *p = topic; p && *p;) {
		size_t n = strcspn(p, "/");
		struct mqtt_dev_status *s = NULL;

		if (n > 0 && n < sizeof(level)) {
			memcpy(level, p, n);
			level[n] = '\0';
			s = mqtt_in_find(m, level);
		}
		for (size_t f = 0; s && s->dc->prof && f < s->dc->prof->mqtt.nsubscribe; f++)
			if (mqtt_map_topic_matches(s->dc->prof->mqtt.subscribe[f], topic))
				return s;
		p = p[n] ? p + n + 1 : NULL;
	}
	return NULL;
}

static void mqtt_in_unknown(struct mqtt_in *m, const char *key, const char *topic)
{
	m->stats.unknown_device++;
	for (size_t i = 0; i < m->nunknown; i++)
		if (strcmp(m->unknown[i], key) == 0)
			return;
	m->stats.unknown_keys++;
	if (m->nunknown < MQTT_IN_UNKNOWN_MAX) {
		char *k = strdup(key);

		if (k)
			m->unknown[m->nunknown++] = k;
		log_warn(_("mqtt: message from unknown device key '%s' (topic %.120s) ignored; add a "
		         "device with key = \"%s\" to the config if it is ours"),
		         key, topic, key);
	} else if (m->stats.unknown_keys == MQTT_IN_UNKNOWN_MAX + 1) {
		log_warn(_("mqtt: more than %d unknown device keys; the rest are only counted"),
		         MQTT_IN_UNKNOWN_MAX);
	}
}

static void mqtt_in_bad(struct mqtt_dev_status *s, const struct mqtt_decoded *dec)
{
	char what[160], detail[240];

	s->why = MQTT_WHY_BAD;
	s->err = dec->err;
	s->errors[dec->err]++;
	snprintf(what, sizeof(what), "mqtt device '%s' (key %s)", s->dc->id, s->dc->key);
	snprintf(detail, sizeof(detail), "message ignored: %s: %s", mqtt_map_err_name(dec->err),
	         dec->detail);
	log_state_report(&s->log, (int)dec->err, what, detail);
}

static void mqtt_in_state(struct mqtt_in *m, struct reading *rd, const char *channel,
                          enum kind kind, enum level level, bool test)
{
	rd->type = READING_STATE;
	snprintf(rd->point, sizeof(rd->point), "%s", channel);
	rd->kind = kind;
	rd->level = level;
	rd->test = test;
	mqtt_in_push(m, rd);
}

static void mqtt_in_event(struct mqtt_in *m, struct reading *rd, const struct mqtt_event *e)
{
	for (int k = 0; k < KIND_COUNT; k++)
		if ((e->clear >> k) & 1u)
			mqtt_in_state(m, rd, e->channel, (enum kind)k, LEVEL_NONE, false);
	if (e->raise >= 0)
		mqtt_in_state(m, rd, e->channel, (enum kind)e->raise, e->level, false);
	if (e->silence >= 0) {
		rd->type = READING_SILENCE;
		snprintf(rd->point, sizeof(rd->point), "%s", e->channel);
		rd->kind = (enum kind)e->silence;
		mqtt_in_push(m, rd);
	}
	if (e->test >= 0) {
		/* A test is a moment: raised and cleared, a test item of its own. */
		mqtt_in_state(m, rd, e->channel, (enum kind)e->test, e->level, true);
		mqtt_in_state(m, rd, e->channel, (enum kind)e->test, LEVEL_NONE, true);
	}
}

/* The message belongs to device s, whose profile is p. */
static void mqtt_in_device_msg(struct mqtt_in *m, struct mqtt_dev_status *s,
                               const struct profile *p, const struct mqtt_client_msg *msg,
                               json_t *root, struct mqtt_decoded *dec)
{
	struct reading rd = {.mono_ms = clock_mono_ms(), .wall_ms = clock_wall_ms()};
	bool heard = !msg->retain;

	snprintf(rd.device, sizeof(rd.device), "%s", s->dc->id);
	s->messages++;
	if (root && mqtt_map_decode(p, root, dec) == 0) {
		/* A retained message is the broker's copy of the past: one older than what was
		 * seen is ignored; one with no timestamp is, once a live message was seen. */
		if (msg->retain &&
		    (dec->have_ts ? s->have_ts && dec->ts_ms <= s->last_ts : s->live_seen)) {
			s->stale++;
			log_debug(
			    "mqtt device '%s': retained message on %s older than the last one "
			    "seen ignored",
			    s->dc->id, msg->topic);
			return;
		}
		if (!msg->retain)
			s->live_seen = true;
		if (dec->have_ts && (!s->have_ts || dec->ts_ms > s->last_ts)) {
			s->last_ts = dec->ts_ms;
			s->have_ts = true;
		}
		/* A retained copy is a sign of life only if its own time says it is recent. */
		if (msg->retain && dec->have_ts)
			heard = rd.wall_ms - dec->ts_ms < s->dc->heartbeat_timeout_ms;
		rd.type = READING_VALUE;
		for (size_t i = 0; i < p->npoints; i++) {
			if (isnan(dec->values[i]))
				continue;
			s->values[i] = dec->values[i];
			snprintf(rd.point, sizeof(rd.point), "%s", p->points[i].name);
			rd.value = dec->values[i];
			mqtt_in_push(m, &rd);
		}
		if (dec->event) {
			s->events++;
			mqtt_in_event(m, &rd, dec->event);
		}
		s->why = MQTT_WHY_OK;
		if (s->log.code != 0) {
			char what[160];

			snprintf(what, sizeof(what), "mqtt device '%s' (key %s)", s->dc->id,
			         s->dc->key);
			log_state_report(&s->log, 0, what, NULL);
		}
	} else {
		/* Unusable, and never a hazard; but the device did speak. */
		mqtt_in_bad(s, dec);
	}
	if (heard) {
		s->last_heard_wall = rd.wall_ms;
		s->last_heard_mono = rd.mono_ms;
		memset(rd.point, 0, sizeof(rd.point));
		rd.type = READING_POLL;
		rd.ok = true;
		rd.test = false;
		mqtt_in_push(m, &rd);
	}
}

static void mqtt_in_on_message(const struct mqtt_client_msg *msg, void *userdata)
{
	struct mqtt_in *m = userdata;
	struct mqtt_decoded dec = {.values = m->scratch};
	struct mqtt_decoded keyerr = {.err = MM_OK};
	json_t *root = NULL;
	bool parsed = false, matched = false;
	char key[MQTT_MAP_KEY_LEN], unknown[MQTT_MAP_KEY_LEN] = "";

	m->stats.messages++;
	for (size_t i = 0; i < m->nprofs; i++) {
		const struct profile *p = m->profs[i];
		bool match = false;

		for (size_t f = 0; f < p->mqtt.nsubscribe && !match; f++)
			match = mqtt_map_topic_matches(p->mqtt.subscribe[f], msg->topic);
		if (!match)
			continue;
		matched = true;
		if (!parsed) {
			root = mqtt_map_parse(msg->payload, msg->len, &dec);
			parsed = true;
		}
		struct mqtt_decoded kd = {.err = MM_OK};
		if (mqtt_map_key(&p->mqtt, msg->topic, root, key, sizeof(key), &kd) < 0) {
			if (keyerr.err == MM_OK)
				keyerr = kd;
			continue;
		}
		struct mqtt_dev_status *s = mqtt_in_find(m, key);
		if (!s) {
			if (!unknown[0])
				snprintf(unknown, sizeof(unknown), "%s", key);
			continue;
		}
		if (s->dc->prof != p)
			continue; /* the device is read by another profile that matches too */
		mqtt_in_device_msg(m, s, p, msg, root, &dec);
		json_decref(root);
		return;
	}
	json_decref(root);
	if (!matched) {
		m->stats.unmatched++;
		log_state_report(
		    &m->unmatched_log, 1, "mqtt",
		    "message on a topic no profile reads ignored (counted from now on)");
	} else if (unknown[0]) {
		mqtt_in_unknown(m, unknown, msg->topic);
	} else {
		/* No key: the payload failed its size, UTF-8 or JSON check before the key could be
		 * read. Counted here by that reason, and on the device the topic names where it
		 * names one (its why and its counters say it, as for any bad payload). */
		const struct mqtt_decoded *bad = dec.err ? &dec : &keyerr;
		struct mqtt_dev_status *s = mqtt_in_topic_device(m, msg->topic);

		m->stats.no_key++;
		m->stats.no_key_by_reason[bad->err < MM_ERR_COUNT ? bad->err : MM_NO_KEY]++;
		if (s) {
			s->messages++;
			mqtt_in_bad(s, bad);
			return;
		}
		char detail[300];
		snprintf(
		    detail, sizeof(detail),
		    "message on %.100s ignored: %s (%s); such messages are counted from now on",
		    msg->topic, mqtt_map_err_name(dec.err ? dec.err : keyerr.err),
		    dec.err ? dec.detail : keyerr.detail);
		log_state_report(&m->nokey_log, 1, "mqtt", detail);
	}
}

static void mqtt_in_on_check(uv_timer_t *t)
{
	struct mqtt_in *m = t->data;

	if (m->stats.paused && ingest_queued(m->ingest) < INGEST_MAX / 4) {
		m->stats.paused = false;
		mqtt_client_pause(m->client, false);
	}
}

/* The broker password, read like the platform's token: a regular file, not readable by
 * others, one line. */
static char *mqtt_in_password(const char *path)
{
	char err[512], *secret = secret_read(path, "password", err, sizeof(err));

	if (!secret)
		log_err(_("mqtt: password_file %s; MQTT input is off until it is fixed and firegw "
		        "is reloaded"),
		        err);
	return secret;
}

static int mqtt_in_add_profile(struct mqtt_in *m, const struct profile *p)
{
	for (size_t i = 0; i < m->nprofs; i++)
		if (m->profs[i] == p)
			return 0;
	m->profs[m->nprofs++] = p;
	return 1;
}

static void mqtt_in_client_start(struct mqtt_in *m)
{
	const struct mqtt_conf *mc = &m->conf->mqtt;
	char *client_id = NULL, *password = NULL;
	char **subs;
	size_t nsubs = 0, cap = 0;

	for (size_t i = 0; i < m->nprofs; i++)
		cap += m->profs[i]->mqtt.nsubscribe;
	subs = calloc(cap + 1, sizeof(*subs));
	if (!subs)
		return;
	for (size_t i = 0; i < m->nprofs; i++) {
		for (size_t f = 0; f < m->profs[i]->mqtt.nsubscribe; f++) {
			char *s = m->profs[i]->mqtt.subscribe[f];
			bool dup = false;

			for (size_t k = 0; k < nsubs && !dup; k++)
				dup = strcmp(subs[k], s) == 0;
			if (!dup)
				subs[nsubs++] = s;
		}
	}
	if (mc->password_file && !(password = mqtt_in_password(mc->password_file)))
		goto out;
	if (!mc->client_id && asprintf(&client_id, "firegw-%s", m->conf->gateway_id) < 0) {
		client_id = NULL;
		goto out;
	}
	struct mqtt_client_conf cc = {
	    .host = mc->host,
	    .port = mc->port,
	    .client_id = mc->client_id ? mc->client_id : client_id,
	    .username = mc->username,
	    .password = password,
	    .password_file = mc->password_file,
	    .tls = mc->tls,
	    .ca_file = mc->ca_file,
	    .cert_file = mc->cert_file,
	    .key_file = mc->key_file,
	    .keepalive_s = (int)(mc->keepalive_ms / 1000),
	    .subscribe = subs,
	    .nsubscribe = nsubs,
	    /* Over this, dropped unparsed; between MQTT_MAP_MAX_PAYLOAD and this, counted as a
	     * malformed payload of its device. */
	    .max_message = 64 * MQTT_MAP_MAX_PAYLOAD,
	};
	struct mqtt_client_cbs cbs = {mqtt_in_on_message, NULL, m};
	log_info("mqtt: %zu device(s), %zu subscription(s), broker %s:%d%s as '%s'", m->ndevs,
	         nsubs, mc->host, mc->port, mc->tls ? " (TLS)" : "", cc.client_id);
	m->client = mqtt_client_new(m->loop, &cc, &cbs);
	if (!m->client)
		log_err(_("mqtt: the client could not be started; MQTT input is off until the "
		        "config is fixed and reloaded"));
out:
	if (password) {
		explicit_bzero(password, strlen(password));
		secret_free(password);
	}
	free(client_id);
	free(subs);
}

struct mqtt_in *mqtt_in_start(uv_loop_t *loop, const struct conf *c, struct ingest *in)
{
	struct mqtt_in *m = calloc(1, sizeof(*m));
	size_t maxpts = 1;

	if (!m)
		return NULL;
	m->loop = loop;
	m->conf = c;
	m->ingest = in;
	for (size_t i = 0; i < c->ndevices; i++)
		m->ndevs += c->devices[i].key && c->devices[i].prof ? 1 : 0;
	m->devs = calloc(m->ndevs + 1, sizeof(*m->devs));
	m->bykey = calloc(m->ndevs + 1, sizeof(*m->bykey));
	m->profs = calloc(m->ndevs + 1, sizeof(*m->profs));
	m->unknown = calloc(MQTT_IN_UNKNOWN_MAX, sizeof(*m->unknown));
	if (!m->devs || !m->bykey || !m->profs || !m->unknown) {
		mqtt_in_stop(m);
		return NULL;
	}
	m->ndevs = 0;
	for (size_t i = 0; i < c->ndevices; i++) {
		const struct device_conf *dc = &c->devices[i];
		struct mqtt_dev_status *s;

		if (!dc->key || !dc->prof)
			continue;
		s = &m->devs[m->ndevs];
		m->bykey[m->ndevs++] = s;
		s->dc = dc;
		s->values = calloc(dc->prof->npoints + 1, sizeof(double));
		if (!s->values) {
			mqtt_in_stop(m);
			return NULL;
		}
		for (size_t k = 0; k < dc->prof->npoints; k++)
			s->values[k] = NAN;
		if (dc->prof->npoints > maxpts)
			maxpts = dc->prof->npoints;
		mqtt_in_add_profile(m, dc->prof);
	}
	qsort(m->bykey, m->ndevs, sizeof(*m->bykey), mqtt_in_dev_cmp);
	m->scratch = calloc(maxpts, sizeof(double));
	if (!m->scratch) {
		mqtt_in_stop(m);
		return NULL;
	}
	if (m->ndevs == 0) {
		if (c->mqtt.enabled)
			log_notice(_("mqtt: no device has a key; not connecting to the broker"));
		return m;
	}
	uv_timer_init(loop, &m->check);
	m->check.data = m;
	m->check_ready = true;
	uv_timer_start(&m->check, mqtt_in_on_check, MQTT_IN_CHECK_MS, MQTT_IN_CHECK_MS);
	mqtt_in_client_start(m);
	return m;
}

static void mqtt_in_closed(uv_handle_t *h)
{
	free(h->data);
}

void mqtt_in_committed(struct mqtt_in *m)
{
	if (m && ingest_queued(m->ingest) == 0)
		mqtt_client_hold(m->client, false);
}

void mqtt_in_stop(struct mqtt_in *m)
{
	if (!m)
		return;
	/* What was taken is committed before the broker is told; if the ledger fails, the
	 * client leaves without acknowledging and the broker sends it again. */
	if (ingest_flush(m->ingest) == 0)
		mqtt_in_committed(m);
	mqtt_client_free(m->client);
	for (size_t i = 0; m->devs && i < m->ndevs; i++)
		free(m->devs[i].values);
	free(m->devs);
	free(m->bykey);
	free(m->profs);
	for (size_t i = 0; m->unknown && i < m->nunknown; i++)
		free(m->unknown[i]);
	free(m->unknown);
	free(m->scratch);
	if (m->check_ready) {
		/* The struct goes with the timer's close. */
		uv_timer_stop(&m->check);
		uv_close((uv_handle_t *)&m->check, mqtt_in_closed);
		return;
	}
	free(m);
}

size_t mqtt_in_devices(const struct mqtt_in *m)
{
	return m ? m->ndevs : 0;
}

const struct mqtt_dev_status *mqtt_in_device(const struct mqtt_in *m, size_t i)
{
	return m && i < m->ndevs ? &m->devs[i] : NULL;
}

const struct mqtt_in_stats *mqtt_in_stats(const struct mqtt_in *m)
{
	return &m->stats;
}

const struct mqtt_client_stats *mqtt_in_client(const struct mqtt_in *m)
{
	return m && m->client ? mqtt_client_stats(m->client) : NULL;
}

bool mqtt_in_online(const struct mqtt_dev_status *s, int64_t mono_ms)
{
	return s->last_heard_mono > 0 &&
	       mono_ms - s->last_heard_mono <= s->dc->heartbeat_timeout_ms;
}
