/* SPDX-License-Identifier: MIT */
/* forward_mqtt: the MQTT transport of the forwarder, for platforms behind a broker cluster
 * (platform transport = "mqtt", docs/platform-api.md section 12). It owns its broker
 * connection (client id firegw-<gateway>-uplink, persistent session, QoS 1): each event goes
 * as one message to {prefix}/{gateway}/events, up to `batch` of them waiting for their PUBACK
 * at a time (FORWARD_WINDOW); the PUBACKs of one loop turn are settled by the core in one
 * transaction. Commands come on {prefix}/{gateway}/commands and are applied once each in that
 * transaction (their PUBACK held until then); their results go to
 * {prefix}/{gateway}/command_results; the heartbeat goes to {prefix}/{gateway}/heartbeat
 * (QoS 0); every (re)connect is reported to the core, which queues a resync. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "forward.h"
#include "hazard.h"
#include "i18n.h"
#include "log.h"
#include "mqtt_client.h"
#include "secret.h"

#define FM_CMDS_MAX 1000 /* commands queued between two flushes, at most */

/* log_state codes */
enum {
	FM_BAD_JSON = 1,  /* a command message that is not JSON */
	FM_BAD_SHAPE = 2, /* JSON, but not a command object or an array of them */
	FM_FULL = 3,      /* too many commands at once */
};

struct forward_mqtt_flight {
	int mid;
	int64_t seq;
};

struct forward_mqtt {
	struct forward *f;
	const struct platform_conf *pc;
	struct mqtt_client *client;
	char *t_events, *t_commands, *t_results, *t_heartbeat;
	bool connected;
	bool just_connected; /* reported to the core at the next flush */
	bool freeing;
	/* Events published and not yet acknowledged, in the order sent. */
	struct forward_mqtt_flight *fl;
	size_t nfl, window;
	/* Seqs acknowledged since the last flush: settled in one transaction. */
	int64_t *acked;
	size_t nacked;
	int results_mid; /* the command results message waiting for its PUBACK (-1: none) */
	bool results_acked;
	json_t *cmds; /* commands received, applied at the next flush */
	uv_timer_t flush_timer;
	int64_t lost_mono; /* when the connection was last lost (for next_attempt_mono) */
	struct log_state cmd_log, ledger_log;
	uint64_t bad_commands; /* command messages that could not be used */
};

static void forward_mqtt_on_flush(uv_timer_t *t);

static void forward_mqtt_schedule_flush(struct forward_mqtt *m)
{
	if (!m->freeing && !uv_is_active((uv_handle_t *)&m->flush_timer))
		uv_timer_start(&m->flush_timer, forward_mqtt_on_flush, 0, 0);
}

static int forward_mqtt_publish_json(struct forward_mqtt *m, const char *topic, json_t *body,
                                     int qos, int *mid)
{
	char *text = json_dumps(body, JSON_COMPACT);
	int rc;

	if (!text)
		return -ENOMEM;
	rc = mqtt_client_publish(m->client, topic, text, strlen(text), qos, mid);
	free(text);
	if (rc == 0)
		forward_count_request(m->f);
	return rc;
}

static int forward_mqtt_heartbeat(void *t, json_t *body)
{
	struct forward_mqtt *m = t;
	int mid, rc = -ENOTCONN;

	/* QoS 0: a heartbeat is not retried; the next one comes at the next interval. */
	if (m->connected)
		rc = forward_mqtt_publish_json(m, m->t_heartbeat, body, 0, &mid);
	json_decref(body);
	if (rc < 0 && rc != -ENOTCONN)
		log_debug("%s: heartbeat not published (%s)", forward_label(m->f), strerror(-rc));
	return rc;
}

/* Command results in one message; b->results is cleared if they could not go. */
static void forward_mqtt_send_results(struct forward_mqtt *m, struct forward_batch *b)
{
	json_t *body;
	char stamp[32];
	int mid, rc;

	clock_format_iso(clock_wall_ms(), stamp, sizeof(stamp));
	body = json_pack("{s:s, s:s, s:O}", "gateway", forward_conf(m->f)->gateway_id, "sent_at",
	                 stamp, "command_results", b->results);
	rc = body ? forward_mqtt_publish_json(m, m->t_results, body, 1, &mid) : -ENOMEM;
	json_decref(body);
	if (rc < 0) {
		b->results = NULL;
		return;
	}
	m->results_mid = mid;
	m->results_acked = false;
}

static int forward_mqtt_send(void *t, struct forward_batch *b)
{
	struct forward_mqtt *m = t;
	size_t k = 0;

	if (!m->connected || m->freeing) {
		b->results = NULL;
		return -ENOTCONN;
	}
	if (b->results)
		forward_mqtt_send_results(m, b);
	for (; k < b->n && m->nfl < m->window && m->connected; k++) {
		const struct outbox_item *it = &b->items[k];
		int mid, rc;

		rc = mqtt_client_publish(m->client, m->t_events, it->body, strlen(it->body), 1,
		                         &mid);
		if (rc < 0) {
			/* The connection is going (its loss is reported by the client) or the
			 * message cannot be made: it stays in the outbox for the next turn. */
			if (rc != -ENOTCONN && rc != -EIO)
				log_err(_("%s: event %s (seq %lld) cannot be published: %s"),
				        forward_label(m->f), it->event_id, (long long)it->seq,
				        strerror(-rc));
			break;
		}
		m->fl[m->nfl++] = (struct forward_mqtt_flight){mid, it->seq};
		forward_count_request(m->f);
	}
	return (int)k;
}

/* Everything the broker said since the last turn, settled by the core in one transaction:
 * acknowledged events leave the outbox, acknowledged results are marked reported, commands
 * are applied. */
static void forward_mqtt_flush(struct forward_mqtt *m)
{
	size_t nacc = m->nacked, ncmd = json_array_size(m->cmds);
	bool results = m->results_acked;
	int rc;

	if (nacc == 0 && !results && ncmd == 0)
		return;
	struct forward_outcome o = {.accepted = m->acked,
	                            .naccepted = nacc,
	                            .commands = ncmd ? m->cmds : NULL,
	                            .results = results};
	rc = forward_settle(m->f, &o);
	if (rc < 0) {
		char detail[300];

		snprintf(detail, sizeof(detail),
		         _("cannot record what the broker acknowledged in the ledger (%s); %zu "
		           "event(s) stay in the outbox and are sent again, %zu command(s) are lost "
		           "until the platform sends them again"),
		         strerror(-rc), nacc, ncmd);
		log_state_report(&m->ledger_log, 1, forward_label(m->f), detail);
	} else {
		log_state_report(&m->ledger_log, 0, forward_label(m->f), NULL);
	}
	m->nacked = 0;
	m->results_acked = false;
	json_array_clear(m->cmds);
	/* The command messages may be acknowledged now: recorded, or (the ledger failing) given
	 * up, for the platform to send again until their results come. */
	mqtt_client_hold(m->client, false);
}

static void forward_mqtt_on_flush(uv_timer_t *t)
{
	struct forward_mqtt *m = t->data;

	if (m->freeing)
		return;
	forward_mqtt_flush(m);
	if (m->connected && m->just_connected) {
		m->just_connected = false;
		forward_link(m->f, true); /* the resync, the heartbeat, then the events */
	} else {
		forward_kick(m->f);
	}
}

static void forward_mqtt_on_publish(int mid, void *userdata)
{
	struct forward_mqtt *m = userdata;

	if (m->freeing)
		return;
	for (size_t i = 0; i < m->nfl; i++) {
		if (m->fl[i].mid != mid)
			continue;
		if (m->nacked < m->window)
			m->acked[m->nacked++] = m->fl[i].seq;
		memmove(&m->fl[i], &m->fl[i + 1], (m->nfl - i - 1) * sizeof(*m->fl));
		m->nfl--;
		forward_mqtt_schedule_flush(m);
		return;
	}
	if (m->results_mid >= 0 && mid == m->results_mid) {
		m->results_acked = true;
		m->results_mid = -1;
		forward_mqtt_schedule_flush(m);
	}
	/* Else a heartbeat (QoS 0), or a message of a connection since lost, sent once more by
	 * libmosquitto: its event is in the outbox still and was (or will be) sent again. */
}

static void forward_mqtt_on_state(bool connected, void *userdata)
{
	struct forward_mqtt *m = userdata;

	if (m->freeing)
		return;
	if (connected) {
		m->connected = true;
		m->just_connected = true;
		forward_mqtt_schedule_flush(m);
		return;
	}
	/* What was in flight is forgotten: those events are still in the outbox and go again
	 * after the reconnect, with the same event_ids (the platform dedups by them). */
	if (m->nfl > 0)
		log_info(_("%s: %zu event(s) had no PUBACK; they stay in the outbox and go again "
		           "after the reconnect"),
		         forward_label(m->f), m->nfl);
	m->connected = false;
	m->just_connected = false;
	m->nfl = 0;
	m->results_mid = -1;
	forward_link(m->f, false);
	m->lost_mono = clock_mono_ms();
}

static void forward_mqtt_bad_command(struct forward_mqtt *m, int code, const char *topic,
                                     const char *why)
{
	char detail[400];

	m->bad_commands++;
	snprintf(detail, sizeof(detail),
	         _("a message on %.120s ignored: %s; such messages are counted from now on"), topic,
	         why);
	log_state_report(&m->cmd_log, code, forward_label(m->f), detail);
}

static void forward_mqtt_queue_command(struct forward_mqtt *m, json_t *c, const char *topic)
{
	if (json_array_size(m->cmds) >= FM_CMDS_MAX) {
		forward_mqtt_bad_command(m, FM_FULL, topic,
		                         _("too many commands at once; the platform should send "
		                           "them again until their results come back"));
		return;
	}
	json_array_append(m->cmds, c);
	/* Its PUBACK waits until the command is recorded (forward_mqtt_flush). */
	mqtt_client_hold(m->client, true);
}

static void forward_mqtt_on_message(const struct mqtt_client_msg *msg, void *userdata)
{
	struct forward_mqtt *m = userdata;
	json_error_t jerr;
	json_t *root, *c;
	char why[300];
	size_t i;

	if (m->freeing || strcmp(msg->topic, m->t_commands) != 0)
		return;
	root = json_loadb(msg->payload, msg->len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		snprintf(why, sizeof(why), _("not JSON (%s at byte %d)"), jerr.text, jerr.position);
		forward_mqtt_bad_command(m, FM_BAD_JSON, msg->topic, why);
		return;
	}
	if (json_is_object(root)) {
		forward_mqtt_queue_command(m, root, msg->topic);
	} else if (json_is_array(root)) {
		json_array_foreach(root, i, c)
		{
			if (i >= HAZARD_CMDS_PER_REPLY) {
				snprintf(why, sizeof(why),
				         _("%zu commands in one message, over the limit of %d: the "
				           "rest are ignored until sent again"),
				         json_array_size(root), HAZARD_CMDS_PER_REPLY);
				forward_mqtt_bad_command(m, FM_FULL, msg->topic, why);
				break;
			}
			if (json_is_object(c))
				forward_mqtt_queue_command(m, c, msg->topic);
			else
				forward_mqtt_bad_command(
				    m, FM_BAD_SHAPE, msg->topic,
				    _("an element of the array is not a command object"));
		}
	} else {
		forward_mqtt_bad_command(m, FM_BAD_SHAPE, msg->topic,
		                         _("not a command object or an array of them"));
	}
	json_decref(root);
	forward_mqtt_schedule_flush(m);
}

static void forward_mqtt_closed(uv_handle_t *h)
{
	free(h->data);
}

static void forward_mqtt_stop(void *t)
{
	struct forward_mqtt *m = t;

	if (!m)
		return;
	/* Callbacks from the client's last words (a DISCONNECT, a heartbeat written) see this. */
	m->freeing = true;
	mqtt_client_free(m->client);
	m->client = NULL;
	uv_timer_stop(&m->flush_timer);
	free(m->t_events);
	free(m->t_commands);
	free(m->t_results);
	free(m->t_heartbeat);
	free(m->fl);
	free(m->acked);
	json_decref(m->cmds);
	uv_close((uv_handle_t *)&m->flush_timer, forward_mqtt_closed);
}

static void forward_mqtt_stats(void *t, struct forward_stats *s)
{
	struct forward_mqtt *m = t;
	const struct mqtt_client_stats *cs = m->client ? mqtt_client_stats(m->client) : NULL;

	if (cs && !cs->connected) {
		snprintf(s->last_error, sizeof(s->last_error), "%s", cs->last_error);
		s->next_attempt_mono = m->lost_mono + cs->next_retry_ms;
	}
}

static void *forward_mqtt_start(struct forward *f, bool *fatal)
{
	const struct platform_conf *pc = forward_pc(f);
	const char *gw = forward_conf(f)->gateway_id, *pfx = pc->topic_prefix;
	struct forward_mqtt *m;
	char *password, *client_id = NULL;
	bool failed;

	if (!pc->mqtt_host)
		return NULL;
	password = forward_secret(f, pc->password_file ? "password_file" : "token_file",
	                          pc->password_file ? pc->password_file : pc->token_file,
	                          "password", fatal, &failed);
	if (failed)
		return NULL;
	if (password && !pc->mqtt_tls)
		log_warn(_("platform: url %s is plain MQTT (insecure_plaintext = true): the broker "
		           "password crosses the network readable by anyone on the way; use "
		           "mqtts://"),
		         pc->url);
	m = calloc(1, sizeof(*m));
	if (!m) {
		secret_free(password);
		return NULL;
	}
	m->f = f;
	m->pc = pc;
	m->window = (size_t)(pc->batch > 0 ? pc->batch : 100);
	m->results_mid = -1;
	uv_timer_init(forward_loop(f), &m->flush_timer);
	m->flush_timer.data = m;
	m->fl = calloc(m->window, sizeof(*m->fl));
	m->acked = calloc(m->window, sizeof(*m->acked));
	m->cmds = json_array();
	if (!m->fl || !m->acked || !m->cmds ||
	    asprintf(&m->t_events, "%s/%s/events", pfx, gw) < 0 ||
	    asprintf(&m->t_commands, "%s/%s/commands", pfx, gw) < 0 ||
	    asprintf(&m->t_results, "%s/%s/command_results", pfx, gw) < 0 ||
	    asprintf(&m->t_heartbeat, "%s/%s/heartbeat", pfx, gw) < 0 ||
	    asprintf(&client_id, "firegw-%s-uplink%s%s", gw,
	             strcmp(pc->name, "platform") ? "-" : "",
	             strcmp(pc->name, "platform") ? pc->name : "") < 0) {
		client_id = NULL;
		goto fail;
	}
	char *subs[] = {m->t_commands};
	struct mqtt_client_conf cc = {
	    .host = pc->mqtt_host,
	    .port = pc->mqtt_port,
	    .client_id = client_id,
	    .username = pc->username,
	    .password = password,
	    .password_file = pc->password_file ? pc->password_file : pc->token_file,
	    .tls = pc->mqtt_tls,
	    .ca_file = pc->ca_file,
	    .cert_file = pc->cert_file,
	    .key_file = pc->key_file,
	    .keepalive_s = (int)(pc->keepalive_ms / 1000),
	    .subscribe = subs,
	    .nsubscribe = 1,
	    .backoff_max_ms = pc->backoff_max_ms,
	    .log_name = forward_label(f),
	    .section = "platform",
	    .max_message = FORWARD_REPLY_MAX, /* the same bound as an HTTPS reply */
	};
	struct mqtt_client_cbs cbs = {
	    .on_message = forward_mqtt_on_message,
	    .on_state = forward_mqtt_on_state,
	    .userdata = m,
	    .on_publish = forward_mqtt_on_publish,
	};
	log_info(_("%s: %s (MQTT as '%s'), events to %s, up to %zu in flight"), forward_label(f),
	         pc->url, client_id, m->t_events, m->window);
	m->client = mqtt_client_new(forward_loop(f), &cc, &cbs);
	if (!m->client) {
		log_err(_("%s: the MQTT client could not be started; events stay in the outbox "
		          "until the platform section is fixed and reloaded"),
		        forward_label(f));
		goto fail;
	}
	secret_free(password);
	free(client_id);
	return m;
fail:
	secret_free(password);
	free(client_id);
	forward_mqtt_stop(m);
	return NULL;
}

const struct forward_transport forward_mqtt = {
    .name = "mqtt",
    .mode = FORWARD_WINDOW,
    .link = true,
    .start = forward_mqtt_start,
    .stop = forward_mqtt_stop,
    .send = forward_mqtt_send,
    .heartbeat = forward_mqtt_heartbeat,
    .stats = forward_mqtt_stats,
};
