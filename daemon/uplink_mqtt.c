/* SPDX-License-Identifier: MIT */
/* uplink_mqtt: the MQTT uplink: its window of events waiting for a PUBACK, the batched
 * acceptance of what the broker acknowledged, commands and their results, the heartbeat and the
 * resync after every connect. */
#include "uplink_mqtt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "hazard.h"
#include "log.h"
#include "mqtt_client.h"
#include "secret.h"

#define UM_CMDS_MAX 1000 /* commands queued between two flushes, at most */

/* log_state codes */
enum {
	UM_BAD_JSON = 1,  /* a command message that is not JSON */
	UM_BAD_SHAPE = 2, /* JSON, but not a command object or an array of them */
	UM_FULL = 3,      /* too many commands at once */
};

struct uplink_mqtt_flight {
	int mid;
	int64_t seq;
};

struct uplink_mqtt {
	uv_loop_t *loop;
	const struct conf *conf;
	const struct platform_conf *pc; /* this destination */
	struct ledger *ledger;
	struct uplink_hooks hooks;
	struct mqtt_client *client;
	char *t_events, *t_commands, *t_results, *t_heartbeat;
	bool connected;
	bool freeing;
	bool need_resync; /* set by every connect: a resync is queued at the next flush */
	bool hb_due;      /* a heartbeat goes out at the next flush (just connected) */
	/* Events published and not yet acknowledged, in the order sent. */
	struct uplink_mqtt_flight *fl;
	size_t nfl, window;
	/* Seqs acknowledged since the last flush: accepted in one transaction. */
	int64_t *acked;
	size_t nacked;
	/* The command results message waiting for its PUBACK (mid -1: none). */
	int results_mid;
	json_t *results_sent;
	bool results_acked;
	json_t *cmds; /* commands received, applied at the next flush */
	uint64_t seen_appended;
	uv_timer_t flush_timer, heartbeat_timer;
	int handles;
	int64_t lost_mono; /* when the connection was last lost (for next_attempt_mono) */
	struct log_state cmd_log, ledger_log;
	uint64_t bad_commands; /* command messages that could not be used */
	struct uplink_stats stats;
};

static void uplink_mqtt_send(struct uplink_mqtt *u);
static void uplink_mqtt_on_flush(uv_timer_t *t);

static void uplink_mqtt_schedule_flush(struct uplink_mqtt *u)
{
	if (!u->freeing && !uv_is_active((uv_handle_t *)&u->flush_timer))
		uv_timer_start(&u->flush_timer, uplink_mqtt_on_flush, 0, 0);
}

static bool uplink_mqtt_flush_pending(struct uplink_mqtt *u)
{
	return u->nacked > 0 || u->results_acked || json_array_size(u->cmds) > 0;
}

static int uplink_mqtt_publish_json(struct uplink_mqtt *u, const char *topic, json_t *body, int qos,
                           int *mid)
{
	char *text = json_dumps(body, JSON_COMPACT);
	int rc;

	if (!text)
		return -ENOMEM;
	rc = mqtt_client_publish(u->client, topic, text, strlen(text), qos, mid);
	free(text);
	if (rc == 0)
		u->stats.requests++;
	return rc;
}

static void uplink_mqtt_heartbeat(struct uplink_mqtt *u)
{
	json_t *body;
	char stamp[32];
	int mid;

	if (!u->connected || !u->hooks.heartbeat)
		return;
	body = u->hooks.heartbeat(u->hooks.userdata);
	if (!body)
		return;
	if (!json_object_get(body, "sent_at")) {
		clock_format_iso(clock_wall_ms(), stamp, sizeof(stamp));
		json_object_set_new(body, "sent_at", json_string(stamp));
	}
	/* QoS 0: a heartbeat is not retried; the next one comes at the next interval. */
	int rc = uplink_mqtt_publish_json(u, u->t_heartbeat, body, 0, &mid);
	json_decref(body);
	if (rc < 0 && rc != -ENOTCONN)
		log_debug("platform uplink: heartbeat not published (%s)", strerror(-rc));
}

static void uplink_mqtt_on_heartbeat(uv_timer_t *t)
{
	struct uplink_mqtt *u = t->data;

	uv_timer_start(&u->heartbeat_timer, uplink_mqtt_on_heartbeat,
	               uplink_heartbeat_delay(u->pc->heartbeat_ms), 0);
	uplink_mqtt_heartbeat(u);
}

static bool uplink_mqtt_in_flight(const struct uplink_mqtt *u, int64_t seq)
{
	for (size_t i = 0; i < u->nfl; i++)
		if (u->fl[i].seq == seq)
			return true;
	return false;
}

/* Command results not yet reported, in one message, when none is waiting for its PUBACK. */
static void uplink_mqtt_send_results(struct uplink_mqtt *u)
{
	json_t *results, *body;
	char stamp[32];
	int mid, rc;

	if (u->results_sent)
		return;
	results = ledger_command_results(u->ledger);
	if (json_array_size(results) == 0) {
		json_decref(results);
		return;
	}
	clock_format_iso(clock_wall_ms(), stamp, sizeof(stamp));
	body = json_pack("{s:s, s:s, s:O}", "gateway", u->conf->gateway_id, "sent_at", stamp,
	                 "command_results", results);
	rc = body ? uplink_mqtt_publish_json(u, u->t_results, body, 1, &mid) : -ENOMEM;
	json_decref(body);
	if (rc < 0) {
		json_decref(results);
		return;
	}
	u->results_sent = results;
	u->results_mid = mid;
}

/* Fills the window: the outbox's events in its order, skipping those already in flight. */
static void uplink_mqtt_send(struct uplink_mqtt *u)
{
	struct outbox_item *items = NULL;
	size_t n = 0;
	int rc;

	/* Acknowledged but not yet accepted events are still in the outbox: the flush first. */
	if (!u->connected || u->freeing || uplink_mqtt_flush_pending(u))
		return;
	u->seen_appended = ledger_events_appended(u->ledger);
	uplink_mqtt_send_results(u);
	if (u->nfl >= u->window)
		return;
	rc = ledger_outbox_batch(u->ledger, u->pc->name, u->window, (size_t)UPLINK_REQUEST_MAX * u->window,
	                         &items, &n);
	if (rc < 0) {
		log_state_report(
		    &u->ledger_log, 2, "platform uplink",
		    "cannot read the outbox; the events wait there and are sent later");
		return;
	}
	for (size_t i = 0; i < n && u->nfl < u->window && u->connected; i++) {
		int mid;

		if (uplink_mqtt_in_flight(u, items[i].seq))
			continue;
		rc = mqtt_client_publish(u->client, u->t_events, items[i].body,
		                         strlen(items[i].body), 1, &mid);
		if (rc < 0) {
			/* The connection is going (its loss is reported by the client) or the
			 * message cannot be made: it stays in the outbox for the next turn. */
			if (rc != -ENOTCONN && rc != -EIO)
				log_err("platform uplink: event %s (seq %lld) cannot be published: "
				        "%s",
				        items[i].event_id, (long long)items[i].seq, strerror(-rc));
			break;
		}
		u->fl[u->nfl++] = (struct uplink_mqtt_flight){mid, items[i].seq};
		u->stats.sent++;
		u->stats.requests++;
	}
	ledger_outbox_free(items, n);
}

/* One transaction for everything the broker said since the last turn: acknowledged events
 * leave the outbox, acknowledged results are marked reported, commands are applied. */
static void uplink_mqtt_flush(struct uplink_mqtt *u)
{
	size_t nacc = u->nacked, ncmd = 0, i;
	bool results = u->results_acked;
	json_t *c;
	int rc;

	if (!uplink_mqtt_flush_pending(u))
		return;
	rc = ledger_begin(u->ledger);
	for (i = 0; i < nacc && rc == 0; i++)
		rc = ledger_outbox_accept(u->ledger, u->pc->name, u->acked[i]);
	if (results) {
		json_array_foreach(u->results_sent, i, c)
		{
			if (rc == 0)
				rc = ledger_command_reported(
				    u->ledger, json_string_value(json_object_get(c, "id")));
		}
	}
	ncmd = json_array_size(u->cmds);
	if (rc == 0 && ncmd > 0) {
		/* Each message was cut to HAZARD_CMDS_PER_REPLY (uplink_mqtt_on_message). */
		int n = hazard_apply_commands(u->ledger, &u->conf->policy, u->cmds, UM_CMDS_MAX,
		                              clock_wall_ms());
		rc = n < 0 ? n : 0;
	}
	if (rc == 0)
		rc = ledger_commit(u->ledger);
	else
		ledger_rollback(u->ledger);
	if (rc < 0) {
		char detail[300];

		snprintf(detail, sizeof(detail),
		         "cannot record what the broker acknowledged in the ledger (%s); %zu "
		         "event(s) stay in the outbox and are sent again, %zu command(s) are lost "
		         "until the platform sends them again",
		         strerror(-rc), nacc, ncmd);
		log_state_report(&u->ledger_log, 1, "platform uplink", detail);
	} else {
		log_state_report(&u->ledger_log, 0, "platform uplink", NULL);
		u->stats.accepted += nacc;
		u->stats.commands += ncmd;
		if (nacc > 0)
			u->stats.last_success_wall = clock_wall_ms();
	}
	u->nacked = 0;
	if (results) {
		json_decref(u->results_sent);
		u->results_sent = NULL;
		u->results_acked = false;
	}
	json_array_clear(u->cmds);
	/* The command messages may be acknowledged now: recorded, or (the ledger failing) given
	 * up, for the platform to send again until their results come. */
	mqtt_client_hold(u->client, false);
	if (rc == 0 && ncmd > 0 && u->hooks.changed)
		u->hooks.changed(u->hooks.userdata);
}

static void uplink_mqtt_on_flush(uv_timer_t *t)
{
	struct uplink_mqtt *u = t->data;

	uplink_mqtt_flush(u);
	if (u->connected && u->need_resync) {
		u->need_resync = false;
		if (hazard_resync_all(u->ledger, u->pc->name, clock_wall_ms()) < 0)
			u->need_resync = true; /* the ledger failed: again at the next connect */
	}
	if (u->connected && u->hb_due) {
		u->hb_due = false;
		uplink_mqtt_heartbeat(u);
	}
	uplink_mqtt_send(u);
}

static void uplink_mqtt_on_publish(int mid, void *userdata)
{
	struct uplink_mqtt *u = userdata;

	if (u->freeing)
		return;
	for (size_t i = 0; i < u->nfl; i++) {
		if (u->fl[i].mid != mid)
			continue;
		if (u->nacked < u->window)
			u->acked[u->nacked++] = u->fl[i].seq;
		memmove(&u->fl[i], &u->fl[i + 1], (u->nfl - i - 1) * sizeof(*u->fl));
		u->nfl--;
		uplink_mqtt_schedule_flush(u);
		return;
	}
	if (u->results_sent && mid == u->results_mid) {
		u->results_acked = true;
		u->results_mid = -1;
		uplink_mqtt_schedule_flush(u);
	}
	/* Else a heartbeat (QoS 0), or a message of a connection since lost, sent once more by
	 * libmosquitto: its event is in the outbox still and was (or will be) sent again. */
}

static void uplink_mqtt_on_state(bool connected, void *userdata)
{
	struct uplink_mqtt *u = userdata;

	if (u->freeing)
		return;
	if (connected) {
		u->connected = true;
		u->need_resync = true;
		u->hb_due = true;
		u->stats.failures = 0;
		u->stats.last_error[0] = '\0';
		uplink_mqtt_schedule_flush(u);
		return;
	}
	/* What was in flight is forgotten: those events are still in the outbox and go again
	 * after the reconnect, with the same event_ids (the platform dedups by them). */
	if (u->nfl > 0)
		log_info("platform uplink: %zu event(s) had no PUBACK; they stay in the outbox and "
		         "go again after the reconnect",
		         u->nfl);
	u->connected = false;
	u->nfl = 0;
	if (u->results_sent && !u->results_acked) {
		json_decref(u->results_sent);
		u->results_sent = NULL;
	}
	u->results_mid = -1;
	u->stats.failures++;
	u->lost_mono = clock_mono_ms();
}

static void uplink_mqtt_bad_command(struct uplink_mqtt *u, int code, const char *topic, const char *why)
{
	char detail[400];

	u->bad_commands++;
	snprintf(detail, sizeof(detail),
	         "a message on %.120s ignored: %s; such messages are counted from now on", topic,
	         why);
	log_state_report(&u->cmd_log, code, "platform uplink", detail);
}

static void uplink_mqtt_queue_command(struct uplink_mqtt *u, json_t *c, const char *topic)
{
	if (json_array_size(u->cmds) >= UM_CMDS_MAX) {
		uplink_mqtt_bad_command(u, UM_FULL, topic,
		               "too many commands at once; the platform should send them again "
		               "until their results come back");
		return;
	}
	json_array_append(u->cmds, c);
	/* Its PUBACK waits until the command is recorded (uplink_mqtt_flush). */
	mqtt_client_hold(u->client, true);
}

static void uplink_mqtt_on_message(const struct mqtt_client_msg *m, void *userdata)
{
	struct uplink_mqtt *u = userdata;
	json_error_t jerr;
	json_t *root, *c;
	char why[300];
	size_t i;

	if (u->freeing || strcmp(m->topic, u->t_commands) != 0)
		return;
	root = json_loadb(m->payload, m->len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		snprintf(why, sizeof(why), "not JSON (%s at byte %d)", jerr.text, jerr.position);
		uplink_mqtt_bad_command(u, UM_BAD_JSON, m->topic, why);
		return;
	}
	if (json_is_object(root)) {
		uplink_mqtt_queue_command(u, root, m->topic);
	} else if (json_is_array(root)) {
		json_array_foreach(root, i, c)
		{
			if (i >= HAZARD_CMDS_PER_REPLY) {
				snprintf(why, sizeof(why),
				         "%zu commands in one message, over the limit of %d: the "
				         "rest are ignored until sent again",
				         json_array_size(root), HAZARD_CMDS_PER_REPLY);
				uplink_mqtt_bad_command(u, UM_FULL, m->topic, why);
				break;
			}
			if (json_is_object(c))
				uplink_mqtt_queue_command(u, c, m->topic);
			else
				uplink_mqtt_bad_command(u, UM_BAD_SHAPE, m->topic,
				               "an element of the array is not a command object");
		}
	} else {
		uplink_mqtt_bad_command(u, UM_BAD_SHAPE, m->topic,
		               "not a command object or an array of them");
	}
	json_decref(root);
	uplink_mqtt_schedule_flush(u);
}

static char *uplink_mqtt_password(const struct platform_conf *pc, bool *fatal, bool *failed)
{
	const char *path = pc->password_file ? pc->password_file : pc->token_file;
	char err[512], *secret;

	*failed = false;
	if (!path)
		return NULL;
	errno = 0;
	secret = secret_read(path, "password", err, sizeof(err));
	if (!secret) {
		*failed = true;
		*fatal = errno != ENOENT;
		log_err("platform %s %s%s", pc->password_file ? "password_file" : "token_file", err,
		        *fatal ? ""
		               : "; the uplink is off until it exists (then reload): hazards are "
		                 "recorded and wait in the outbox");
	}
	return secret;
}

static void uplink_mqtt_closed(uv_handle_t *h)
{
	struct uplink_mqtt *u = h->data;

	if (--u->handles == 0)
		free(u);
}

static void uplink_mqtt_release(struct uplink_mqtt *u)
{
	free(u->t_events);
	free(u->t_commands);
	free(u->t_results);
	free(u->t_heartbeat);
	free(u->fl);
	free(u->acked);
	json_decref(u->results_sent);
	json_decref(u->cmds);
	uv_close((uv_handle_t *)&u->flush_timer, uplink_mqtt_closed);
	uv_close((uv_handle_t *)&u->heartbeat_timer, uplink_mqtt_closed);
}

struct uplink_mqtt *uplink_mqtt_new(uv_loop_t *loop, const struct conf *c,
                          const struct platform_conf *pc, struct ledger *l,
                                    const struct uplink_hooks *hooks, bool *fatal)
{
	const char *gw = c->gateway_id, *pfx = pc->topic_prefix;
	struct uplink_mqtt *u;
	char *password, *client_id = NULL;
	bool failed;

	*fatal = false;
	if (!pc->enabled || strcmp(pc->transport, "mqtt") != 0 || !pc->mqtt_host)
		return NULL;
	password = uplink_mqtt_password(pc, fatal, &failed);
	if (failed)
		return NULL;
	if (password && !pc->mqtt_tls)
		log_warn("platform: url %s is plain MQTT (insecure_plaintext = true): the broker "
		         "password crosses the network readable by anyone on the way; use mqtts://",
		         pc->url);
	u = calloc(1, sizeof(*u));
	if (!u) {
		secret_free(password);
		return NULL;
	}
	u->loop = loop;
	u->conf = c;
	u->pc = pc;
	u->ledger = l;
	if (hooks)
		u->hooks = *hooks;
	u->window = (size_t)(pc->batch > 0 ? pc->batch : 100);
	u->results_mid = -1;
	u->seen_appended = (uint64_t)-1;
	uv_timer_init(loop, &u->flush_timer);
	uv_timer_init(loop, &u->heartbeat_timer);
	u->flush_timer.data = u->heartbeat_timer.data = u;
	u->handles = 2;
	u->fl = calloc(u->window, sizeof(*u->fl));
	u->acked = calloc(u->window, sizeof(*u->acked));
	u->cmds = json_array();
	if (!u->fl || !u->acked || !u->cmds ||
	    asprintf(&u->t_events, "%s/%s/events", pfx, gw) < 0 ||
	    asprintf(&u->t_commands, "%s/%s/commands", pfx, gw) < 0 ||
	    asprintf(&u->t_results, "%s/%s/command_results", pfx, gw) < 0 ||
	    asprintf(&u->t_heartbeat, "%s/%s/heartbeat", pfx, gw) < 0 ||
	    asprintf(&client_id, "firegw-%s-uplink%s%s", gw,
	             strcmp(pc->name, "platform") ? "-" : "",
	             strcmp(pc->name, "platform") ? pc->name : "") < 0) {
		client_id = NULL;
		goto fail;
	}
	char *subs[] = {u->t_commands};
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
	    .log_name = "platform uplink",
	    .section = "platform",
	    .max_message = UPLINK_REPLY_MAX, /* the same bound as an HTTPS reply */
	};
	struct mqtt_client_cbs cbs = {
	    .on_message = uplink_mqtt_on_message,
	    .on_state = uplink_mqtt_on_state,
	    .userdata = u,
	    .on_publish = uplink_mqtt_on_publish,
	};
	log_info("platform uplink: %s (MQTT as '%s'), events to %s, up to %zu in flight", pc->url,
	         client_id, u->t_events, u->window);
	u->client = mqtt_client_new(loop, &cc, &cbs);
	if (!u->client) {
		log_err("platform uplink: the MQTT client could not be started; events stay in the "
		        "outbox until the platform section is fixed and reloaded");
		goto fail;
	}
	uv_timer_start(&u->heartbeat_timer, uplink_mqtt_on_heartbeat,
	               uplink_heartbeat_delay(pc->heartbeat_ms), 0);
	if (password) {
		explicit_bzero(password, strlen(password));
		secret_free(password);
	}
	free(client_id);
	return u;
fail:
	if (password) {
		explicit_bzero(password, strlen(password));
		secret_free(password);
	}
	free(client_id);
	u->freeing = true;
	uplink_mqtt_release(u);
	return NULL;
}

void uplink_mqtt_free(struct uplink_mqtt *u)
{
	if (!u)
		return;
	/* Callbacks from the client's last words (a DISCONNECT, a heartbeat written) see this. */
	u->freeing = true;
	mqtt_client_free(u->client);
	u->client = NULL;
	uv_timer_stop(&u->flush_timer);
	uv_timer_stop(&u->heartbeat_timer);
	uplink_mqtt_release(u);
}

void uplink_mqtt_kick(struct uplink_mqtt *u)
{
	if (u && u->connected && ledger_events_appended(u->ledger) != u->seen_appended)
		uplink_mqtt_send(u);
}

const struct uplink_stats *uplink_mqtt_stats(struct uplink_mqtt *u)
{
	const struct mqtt_client_stats *cs = u->client ? mqtt_client_stats(u->client) : NULL;

	if (cs && !cs->connected) {
		snprintf(u->stats.last_error, sizeof(u->stats.last_error), "%s", cs->last_error);
		u->stats.next_attempt_mono = u->lost_mono + cs->next_retry_ms;
	}
	return &u->stats;
}
