/* SPDX-License-Identifier: MIT */
/* mqtt_client: one libmosquitto client run by the main libuv loop. Its socket is polled by
 * the loop (uv_poll), mosquitto_loop_misc runs on a loop timer, and no thread of libmosquitto's
 * own is ever started. It owns the connection: host, port, client id, username and password,
 * TLS (CA, client certificate and key), keepalive, a persistent session (clean_session false,
 * fixed client id) with its subscriptions at QoS 1, resubscribed after every connect, and
 * reconnects with exponential backoff and full jitter, QoS 1 publishing with the broker's
 * PUBACK reported by message id, and the hold that keeps a received message's PUBACK back
 * until its owner has committed it. Each change of the connection's state is logged once; repeats
 * are counted. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct mqtt_client_conf {
	const char *host;
	int port;
	const char *client_id; /* required: the persistent session is named by it */
	const char *username, *password;
	const char *password_file; /* named in the advice after a refused login */
	bool tls;
	const char *ca_file, *cert_file, *key_file;
	int keepalive_s;
	char *const *subscribe; /* topic filters, copied */
	size_t nsubscribe;
	int64_t backoff_min_ms, backoff_max_ms; /* 0: 1 s and 60 s */
	const char *log_name;                   /* what log lines start with; NULL: "mqtt" */
	const char *section; /* the config section the advice names; NULL: "mqtt" */
	/* A message larger than this (bytes) is dropped before on_message, counted in
	 * stats.oversize and logged once per run of them; 0: no limit. libmosquitto has read it
	 * whole by then: the broker's max_packet_size is what keeps it off the wire
	 * (docs/security.md). */
	size_t max_message;
};

struct mqtt_client_msg {
	const char *topic;
	const void *payload;
	size_t len;
	bool retain;
	int qos;
};

struct mqtt_client_cbs {
	/* Called on the loop thread, from inside libmosquitto: queue the message, do no I/O. */
	void (*on_message)(const struct mqtt_client_msg *m, void *userdata);
	void (*on_state)(bool connected, void *userdata);
	void *userdata;
	/* The broker acknowledged our QoS 1 PUBLISH `mid` (PUBACK). Called from inside
	 * libmosquitto like on_message: note it, do no I/O. */
	void (*on_publish)(int mid, void *userdata);
};

struct mqtt_client_stats {
	bool connected;
	uint64_t attempts;     /* connection attempts (TCP connect started) */
	uint64_t connects;     /* accepted by the broker */
	uint64_t refused;      /* refused by the broker (CONNACK) */
	uint64_t lost;         /* connections lost after being accepted */
	uint64_t messages;     /* PUBLISH received */
	uint64_t oversize;     /* of those, dropped for being over max_message */
	uint64_t held_pings;   /* PINGREQs of our own sent while held (the keepalive) */
	int64_t next_retry_ms; /* delay before the next attempt, when disconnected */
	char last_error[200];
};

/* Creates the client and starts connecting at once. NULL (with the reason logged) when the
 * client cannot be set up at all (bad TLS files, out of memory). */
struct mqtt_client *mqtt_client_new(uv_loop_t *loop, const struct mqtt_client_conf *conf,
                                    const struct mqtt_client_cbs *cbs);
/* Disconnects (the broker keeps the session) and frees; safe on NULL. */
void mqtt_client_free(struct mqtt_client *c);
const struct mqtt_client_stats *mqtt_client_stats(const struct mqtt_client *c);
/* While `held`, nothing libmosquitto queues is sent to the broker, the PUBACKs of messages
 * received included: the owner holds from the moment it takes a message it must keep until
 * its ledger has committed it, so that the broker lets a QoS 1 message go only when firegw's
 * copy is durable. The connection is kept alive meanwhile by PINGREQs of the client's own,
 * however long the hold lasts. A client
 * freed while held closes its socket without a DISCONNECT, and the broker sends what was not
 * acknowledged again. */
void mqtt_client_hold(struct mqtt_client *c, bool held);
/* Stops reading from the broker while `paused` (the ledger is not keeping up); messages stay
 * queued at the broker. */
void mqtt_client_pause(struct mqtt_client *c, bool paused);
/* Publishes one message while connected. Returns 0 with the message id in *mid (its PUBACK
 * comes to on_publish for QoS 1), -ENOTCONN when not connected, or another negative errno.
 * The caller bounds how many wait for their PUBACK (libmosquitto is told not to). A message
 * not acknowledged when the connection drops may be sent once more by libmosquitto after the
 * reconnect (the DUP of MQTT); the caller should treat the PUBACK of a mid it has forgotten
 * as harmless. */
int mqtt_client_publish(struct mqtt_client *c, const char *topic, const void *payload, size_t len,
                        int qos, int *mid);
