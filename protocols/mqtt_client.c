/* SPDX-License-Identifier: MIT */
/* mqtt_client: libmosquitto driven by the main loop: uv_poll on its socket, a misc timer,
 * a retry timer with backoff. */
#include "mqtt_client.h"

#include <dlfcn.h>
#include <errno.h>
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

#define MC_MISC_MS       250 /* keepalive, pings, retries of QoS 1 and TLS data left over */
#define MC_SYSTEM_CA_DIR "/etc/ssl/certs" /* Debian's hashed CA directory */
#define MC_READ_BATCH    1024  /* packets read in one go before the loop turns (and commits) */
#define MC_CONNECT_MAX   15000 /* ms from the TCP connect to the broker's CONNACK, at most */

enum mqtt_client_state { MC_IDLE, MC_CONNECTING, MC_CONNECTED };

struct mqtt_client {
	uv_loop_t *loop;
	struct mosquitto *mosq;
	struct mqtt_client_cbs cbs;
	char *host, *client_id, *username, *password_file;
	char *name, *section; /* log prefix, config section in advice */
	size_t max_message;   /* 0: none */
	int port, keepalive_s;
	bool tls;
	char **subs;
	size_t nsubs;
	int64_t backoff_min, backoff_max;
	enum mqtt_client_state state;
	bool started; /* mosquitto_connect_async was called once */
	bool paused;
	bool held; /* nothing goes to the broker: the owner has not committed what it took */
	/* What was written through libmosquitto ended on a packet's boundary: nothing of a
	 * packet is half sent, so a PINGREQ of our own can go between two of its packets. */
	bool boundary;
	int ping_left;      /* bytes of our own PINGREQ not written yet (0: none) */
	uint64_t ping_last; /* loop ms of our last own PINGREQ */
	bool session_present;
	int fd;          /* the socket polled now, -1 if none */
	uv_poll_t *poll; /* heap: its close completes after the fd may be gone */
	int poll_events;
	uv_timer_t misc, retry;
	int handles; /* timers not yet closed */
	bool freeing;
	unsigned fails; /* attempts in a row that failed: the backoff's exponent */
	uint64_t connecting_since;
	int refused_rc; /* CONNACK return code of the attempt, 0 if none */
	int log_code;   /* connection state last logged: 0 connected, -1 never */
	unsigned long log_repeats;
	uint64_t rnd;
	struct mqtt_client_stats stats;
};

static void mqtt_client_sync(struct mqtt_client *c, int rc, int err);
static void mqtt_client_on_poll(uv_poll_t *h, int status, int events);

static bool mqtt_client_want_write(struct mqtt_client *c)
{
	return !c->held && mosquitto_want_write(c->mosq);
}

/* Follows the want of writing in the poll handle, without calling into libmosquitto's loop
 * (safe from inside a callback, where a loss found would re-enter the caller). */
static void mqtt_client_poll_write(struct mqtt_client *c)
{
	int want;

	if (!c->poll || c->fd != mosquitto_socket(c->mosq))
		return;
	want = (c->poll_events & ~UV_WRITABLE) | (mqtt_client_want_write(c) ? UV_WRITABLE : 0);
	if (want == c->poll_events)
		return;
	if (want)
		uv_poll_start(c->poll, want, mqtt_client_on_poll);
	else
		uv_poll_stop(c->poll);
	c->poll_events = want;
}

static uint64_t mqtt_client_random(struct mqtt_client *c)
{
	/* xorshift64*: jitter needs no cryptography, only that gateways do not march in step. */
	c->rnd ^= c->rnd >> 12;
	c->rnd ^= c->rnd << 25;
	c->rnd ^= c->rnd >> 27;
	return c->rnd * 2685821657736338717ULL;
}

/* Logs the connection's state when it changes; repeats of one failure are only counted. */
static void mqtt_client_report(struct mqtt_client *c, int code, const char *detail)
{
	snprintf(c->stats.last_error, sizeof(c->stats.last_error), "%s", code ? detail : "");
	if (code == c->log_code) {
		c->log_repeats++;
		return;
	}
	if (code == 0)
		log_notice("%s: connected to %s:%d as '%s' (%s session%s)", c->name, c->host,
		           c->port, c->client_id, c->session_present ? "resumed" : "new",
		           c->log_code > 0 ? ", after failed attempts" : "");
	else
		log_warn("%s: %s:%d: %s", c->name, c->host, c->port, detail);
	c->log_code = code;
	c->log_repeats = 0;
}

static void mqtt_client_poll_closed(uv_handle_t *h)
{
	free(h);
}

static void mqtt_client_poll_stop(struct mqtt_client *c)
{
	if (!c->poll)
		return;
	uv_poll_stop(c->poll);
	uv_close((uv_handle_t *)c->poll, mqtt_client_poll_closed);
	c->poll = NULL;
	c->fd = -1;
	c->poll_events = 0;
}

static int64_t mqtt_client_backoff(struct mqtt_client *c)
{
	unsigned shift = c->fails < 20 ? c->fails : 20;
	int64_t cap = c->backoff_min << shift;
	int64_t floor = c->backoff_min < 100 ? c->backoff_min : 100;

	if (cap > c->backoff_max || cap <= 0)
		cap = c->backoff_max;
	/* Full jitter: anywhere up to the cap, never a tight loop. */
	return floor + (int64_t)(mqtt_client_random(c) % (uint64_t)(cap - floor + 1));
}

static void mqtt_client_on_retry(uv_timer_t *t);

static void mqtt_client_schedule(struct mqtt_client *c)
{
	int64_t delay = mqtt_client_backoff(c);

	c->fails++;
	c->stats.next_retry_ms = delay;
	uv_timer_start(&c->retry, mqtt_client_on_retry, (uint64_t)delay, 0);
}

/* The socket is gone (or given up on): back to idle, next attempt after a backoff. */
static void mqtt_client_lost(struct mqtt_client *c, int rc, int err)
{
	char detail[512];
	int code;

	mqtt_client_poll_stop(c);
	/* What was held belonged to this connection: libmosquitto drops it at the reconnect
	 * (packet__cleanup_all), and the broker sends every message not acknowledged again. The
	 * next connection (its CONNECT first) must not wait for a commit. */
	c->held = false;
	if (c->refused_rc) {
		int r = c->refused_rc;

		code = 100 + r;
		if (r == 4 || r == 5)
			snprintf(detail, sizeof(detail),
			         "the broker refused the login (%s); check %s username (%s) and "
			         "the password in %s against the broker's password file and ACL; "
			         "retrying with backoff",
			         mosquitto_connack_string(r), c->section,
			         c->username ? c->username : "none",
			         c->password_file ? c->password_file : "(no password_file)");
		else if (r == 2)
			snprintf(detail, sizeof(detail),
			         "the broker refused client id '%s' (%s); set %s client_id to one "
			         "it accepts; retrying with backoff",
			         c->client_id, mosquitto_connack_string(r), c->section);
		else
			snprintf(detail, sizeof(detail),
			         "the broker refused the connection (%s); retrying with backoff",
			         mosquitto_connack_string(r));
		c->stats.refused++;
	} else if (c->state == MC_CONNECTED) {
		code = 2;
		bool why = rc == MOSQ_ERR_ERRNO && err && err != EBADF && err != EAGAIN;
		snprintf(detail, sizeof(detail), "connection lost%s%s%s; reconnecting with backoff",
		         why ? " (" : "", why ? strerror(err) : "", why ? ")" : "");
		c->stats.lost++;
	} else if (rc == MOSQ_ERR_TLS) {
		code = 3;
		snprintf(detail, sizeof(detail),
		         "TLS handshake failed; check that %s ca_file signs the broker's "
		         "certificate and that its name matches host, and the client cert_file "
		         "and key_file; retrying with backoff",
		         c->section);
	} else if (rc == MOSQ_ERR_ERRNO && err) {
		code = 1000 + err;
		snprintf(detail, sizeof(detail),
		         "cannot connect: %s; is the broker running and listening there? "
		         "retrying with backoff",
		         strerror(err));
	} else if (rc == MOSQ_ERR_EAI) {
		code = 4;
		snprintf(detail, sizeof(detail),
		         "cannot resolve host '%s'; check %s host; retrying with backoff", c->host,
		         c->section);
	} else {
		code = 10 + (rc > 0 ? rc : 0);
		snprintf(detail, sizeof(detail), "cannot connect: %s; retrying with backoff",
		         rc == MOSQ_ERR_SUCCESS ? "no answer from the broker"
		                                : mosquitto_strerror(rc));
	}
	c->state = MC_IDLE;
	c->stats.connected = false;
	c->refused_rc = 0;
	mqtt_client_report(c, code, detail);
	if (c->cbs.on_state)
		c->cbs.on_state(false, c->cbs.userdata);
	if (!c->freeing)
		mqtt_client_schedule(c);
}

/* The keepalive while held. libmosquitto queues its PINGREQ behind the held PUBACKs, so the
 * broker would hear nothing for 1.5 keepalives, drop the connection and send the messages
 * not acknowledged again (recorded twice once the ledger has the first copies). A PINGREQ of
 * our own, written straight to the socket between two of libmosquitto's packets, keeps the
 * connection alive without acknowledging anything; its PINGRESP clears libmosquitto's own
 * wait for one (any PINGRESP does). Over TLS it goes through libmosquitto's OpenSSL session
 * (mosquitto_ssl_get), with SSL_write looked up in the process, which has OpenSSL loaded
 * by libmosquitto: no build dependency of its own. */
static const unsigned char mc_pingreq[2] = {0xc0, 0x00};

typedef int (*mc_ssl_write_fn)(void *ssl, const void *buf, int num);

static mc_ssl_write_fn mqtt_client_ssl_write(void)
{
	static mc_ssl_write_fn fn;
	static bool looked;

	if (!looked) {
		*(void **)&fn = dlsym(RTLD_DEFAULT, "SSL_write");
		looked = true;
	}
	return fn;
}

/* Writes what is left of our own PINGREQ: 0 when none is left, 1 while some is (the socket
 * is full: tried again on the next turn), -1 when it cannot be written at all. */
static int mqtt_client_ping_flush(struct mqtt_client *c)
{
	const unsigned char *p = mc_pingreq + sizeof(mc_pingreq) - c->ping_left;
	int fd = mosquitto_socket(c->mosq);
	ssize_t n;

	if (c->ping_left == 0)
		return 0;
	if (fd < 0)
		return -1;
	if (c->tls) {
		mc_ssl_write_fn w = mqtt_client_ssl_write();
		void *ssl = mosquitto_ssl_get(c->mosq);

		if (!w || !ssl)
			return -1;
		/* Not written: OpenSSL wants the same bytes again (WANT_READ or WANT_WRITE). */
		n = w(ssl, p, c->ping_left);
		if (n <= 0)
			return 1;
	} else {
		n = send(fd, p, (size_t)c->ping_left, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 1 : -1;
	}
	c->ping_left -= (int)n;
	return c->ping_left > 0;
}

static void mqtt_client_keepalive_held(struct mqtt_client *c)
{
	uint64_t now = uv_now(c->loop);

	if (!c->held || c->state != MC_CONNECTED)
		return;
	if (c->ping_left == 0) {
		/* Twice a keepalive: the broker's limit is 1.5 of them. */
		if (!c->boundary || now - c->ping_last < (uint64_t)c->keepalive_s * 500)
			return;
		c->ping_left = (int)sizeof(mc_pingreq);
		c->ping_last = now;
		c->stats.held_pings++;
	}
	if (mqtt_client_ping_flush(c) < 0) {
		/* The stream is no longer ours to write to: as before, the broker drops the
		 * connection and sends again what was not acknowledged. */
		c->ping_left = 0;
		c->boundary = false;
	}
}

static void mqtt_client_on_poll(uv_poll_t *h, int status, int events)
{
	struct mqtt_client *c = h->data;
	int rc = MOSQ_ERR_SUCCESS, err = 0;

	if (status < 0)
		events |= UV_READABLE; /* let libmosquitto find the error */
	/* Our own PINGREQ goes whole before anything of libmosquitto's (one that cannot be
	 * written is given up: the connection fails as it would have without it). */
	int pinging = (events & UV_WRITABLE) && !c->held ? mqtt_client_ping_flush(c) : 0;
	if (pinging < 0)
		c->ping_left = 0;
	if ((events & UV_WRITABLE) && !c->held && pinging <= 0) {
		errno = 0;
		rc = mosquitto_loop_write(c->mosq, 64);
		err = errno;
		if (rc != MOSQ_ERR_SUCCESS || mosquitto_socket(c->mosq) < 0) {
			mqtt_client_sync(c, rc, err);
			return;
		}
		c->boundary = !mosquitto_want_write(c->mosq);
	}
	if ((events & UV_READABLE) && !c->paused) {
		for (int i = 0; i < MC_READ_BATCH; i++) {
			int avail = 0, fd;

			errno = 0;
			rc = mosquitto_loop_read(c->mosq, 1);
			err = errno;
			fd = mosquitto_socket(c->mosq);
			if (rc != MOSQ_ERR_SUCCESS || fd < 0 || c->paused)
				break;
			/* More bytes waiting: read on, so that a burst lands in one commit. */
			if (ioctl(fd, FIONREAD, &avail) < 0 || avail <= 0)
				break;
		}
	}
	mqtt_client_sync(c, rc, err);
}

/* After every call into libmosquitto: follow its socket with the poll handle. */
static void mqtt_client_sync(struct mqtt_client *c, int rc, int err)
{
	int fd, want;

	if (c->state == MC_IDLE)
		return;
	fd = mosquitto_socket(c->mosq);
	if (fd < 0) {
		mqtt_client_lost(c, rc, err);
		return;
	}
	if (fd != c->fd)
		mqtt_client_poll_stop(c);
	want = (c->paused ? 0 : UV_READABLE) | (mqtt_client_want_write(c) ? UV_WRITABLE : 0);
	if (!c->poll) {
		c->poll = malloc(sizeof(*c->poll));
		if (!c->poll || uv_poll_init(c->loop, c->poll, fd) != 0) {
			free(c->poll);
			c->poll = NULL;
			log_err("%s: cannot poll the broker's socket; retrying", c->name);
			mqtt_client_lost(c, MOSQ_ERR_NOMEM, 0);
			return;
		}
		c->poll->data = c;
		c->fd = fd;
		c->poll_events = -1;
	}
	if (want != c->poll_events) {
		if (want)
			uv_poll_start(c->poll, want, mqtt_client_on_poll);
		else
			uv_poll_stop(c->poll);
		c->poll_events = want;
	}
}

static void mqtt_client_attempt(struct mqtt_client *c)
{
	int rc, err;

	c->stats.attempts++;
	c->refused_rc = 0;
	c->session_present = false;
	c->boundary = true; /* a new socket: nothing of any packet on it yet */
	c->ping_left = 0;
	errno = 0;
	if (!c->started)
		rc = mosquitto_connect_async(c->mosq, c->host, c->port, c->keepalive_s);
	else
		rc = mosquitto_reconnect_async(c->mosq);
	err = errno;
	c->started = true;
	c->state = MC_CONNECTING;
	c->connecting_since = uv_now(c->loop);
	if (rc != MOSQ_ERR_SUCCESS) {
		/* Nothing to poll: mosquitto closed what it opened. */
		mqtt_client_poll_stop(c);
		mqtt_client_lost(c, rc, err);
		return;
	}
	mqtt_client_sync(c, rc, err);
}

static void mqtt_client_on_retry(uv_timer_t *t)
{
	struct mqtt_client *c = t->data;

	if (c->state == MC_IDLE)
		mqtt_client_attempt(c);
}

static void mqtt_client_on_misc(uv_timer_t *t)
{
	struct mqtt_client *c = t->data;
	int rc, err;

	if (c->state == MC_IDLE)
		return;
	if (c->state == MC_CONNECTING && uv_now(c->loop) - c->connecting_since > MC_CONNECT_MAX) {
		/* No CONNACK in time: give up on this socket (the next attempt closes it). */
		mqtt_client_poll_stop(c);
		mqtt_client_lost(c, MOSQ_ERR_SUCCESS, 0);
		return;
	}
	mqtt_client_keepalive_held(c);
	errno = 0;
	rc = mosquitto_loop_misc(c->mosq);
	err = errno;
	/* TLS may hold decrypted packets the socket no longer signals. */
	if (rc == MOSQ_ERR_SUCCESS && c->tls && !c->paused && mosquitto_socket(c->mosq) >= 0 &&
	    c->state == MC_CONNECTED) {
		errno = 0;
		rc = mosquitto_loop_read(c->mosq, 1);
		err = errno;
	}
	mqtt_client_sync(c, rc, err);
}

static void mqtt_client_on_connect(struct mosquitto *m, void *ud, int rc, int flags)
{
	struct mqtt_client *c = ud;

	(void)m;
	if (rc != 0) {
		c->refused_rc = rc;
		return;
	}
	c->session_present = flags & 1;
	c->state = MC_CONNECTED;
	c->stats.connected = true;
	c->stats.connects++;
	c->fails = 0;
	/* Always subscribe again: cheap, and right whether or not the broker kept the session. */
	if (c->nsubs) {
		int src =
		    mosquitto_subscribe_multiple(c->mosq, NULL, (int)c->nsubs, c->subs, 1, 0, NULL);
		if (src != MOSQ_ERR_SUCCESS)
			log_err("%s: cannot subscribe: %s", c->name, mosquitto_strerror(src));
	}
	mqtt_client_report(c, 0, NULL);
	if (c->cbs.on_state)
		c->cbs.on_state(true, c->cbs.userdata);
}

static void mqtt_client_on_subscribe(struct mosquitto *m, void *ud, int mid, int n, const int *granted)
{
	struct mqtt_client *c = ud;

	(void)m;
	(void)mid;
	for (int i = 0; i < n && (size_t)i < c->nsubs; i++) {
		if (granted[i] > 2)
			log_err("%s: the broker refused the subscription '%s'; check its ACL for "
			        "user %s",
			        c->name, c->subs[i], c->username ? c->username : "(anonymous)");
		else if (granted[i] < 1)
			log_warn("%s: subscription '%s' granted at QoS 0 only: messages can be "
			         "lost while firegw is away",
			         c->name, c->subs[i]);
	}
}

static void mqtt_client_on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg)
{
	struct mqtt_client *c = ud;
	struct mqtt_client_msg cm = {
	    .topic = msg->topic,
	    .payload = msg->payload,
	    .len = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0,
	    .retain = msg->retain,
	    .qos = msg->qos,
	};

	(void)m;
	c->stats.messages++;
	if (c->max_message && cm.len > c->max_message) {
		/* Dropped before anything parses or copies it; its PUBACK still goes, so the
		 * broker does not send it again. */
		if (c->stats.oversize++ % 1000 == 0)
			log_warn("%s: a message of %zu bytes on %.120s dropped: over the limit of %zu "
			         "(%llu such message(s) so far; set the broker's max_packet_size)",
			         c->name, cm.len, cm.topic, c->max_message,
			         (unsigned long long)c->stats.oversize);
		return;
	}
	if (c->cbs.on_message)
		c->cbs.on_message(&cm, c->cbs.userdata);
}

static void mqtt_client_on_publish(struct mosquitto *m, void *ud, int mid)
{
	struct mqtt_client *c = ud;

	(void)m;
	if (c->cbs.on_publish)
		c->cbs.on_publish(mid, c->cbs.userdata);
}

static int mqtt_client_setup(struct mqtt_client *c, const struct mqtt_client_conf *conf)
{
	int rc;

	c->mosq = mosquitto_new(c->client_id, false, c);
	if (!c->mosq) {
		log_err("%s: cannot create the client: %s", c->name, strerror(errno));
		return -1;
	}
	mosquitto_int_option(c->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
	/* "Threaded" (our loop is the thread): libmosquitto then only queues what it sends, the
	 * PUBACK of a QoS 1 message included, and nothing leaves before mosquitto_loop_write.
	 * Without it the PUBACK is written before the message callback runs, and a message the
	 * broker let go could die with firegw before the ledger has it (mqtt_client_hold). */
	mosquitto_threaded_set(c->mosq, true);
	mosquitto_connect_with_flags_callback_set(c->mosq, mqtt_client_on_connect);
	mosquitto_subscribe_callback_set(c->mosq, mqtt_client_on_subscribe);
	mosquitto_message_callback_set(c->mosq, mqtt_client_on_message);
	mosquitto_publish_callback_set(c->mosq, mqtt_client_on_publish);
	/* The caller bounds its messages in flight: libmosquitto must not queue them again. */
	mosquitto_max_inflight_messages_set(c->mosq, 0);
	if (conf->username || conf->password) {
		rc = mosquitto_username_pw_set(c->mosq, conf->username, conf->password);
		if (rc != MOSQ_ERR_SUCCESS) {
			log_err("%s: username or password refused by libmosquitto: %s", c->name,
			        mosquitto_strerror(rc));
			return -1;
		}
	}
	if (conf->tls) {
		/* Without ca_file the broker is verified against the system's CAs (libmosquitto
		 * wants a file or a directory before it takes the OS store option). */
		rc = mosquitto_tls_set(c->mosq, conf->ca_file,
		                       conf->ca_file ? NULL : MC_SYSTEM_CA_DIR, conf->cert_file,
		                       conf->key_file, NULL);
		if (rc == MOSQ_ERR_SUCCESS)
			rc = mosquitto_tls_opts_set(c->mosq, 1, "tlsv1.2", NULL); /* 1.2 or later */
		if (rc == MOSQ_ERR_SUCCESS && !conf->ca_file)
			rc = mosquitto_int_option(c->mosq, MOSQ_OPT_TLS_USE_OS_CERTS, 1);
		if (rc != MOSQ_ERR_SUCCESS) {
			log_err("%s: TLS cannot be set up (%s); check that %s ca_file, "
			        "cert_file and key_file exist and are readable by firegw",
			        c->name, mosquitto_strerror(rc), c->section);
			return -1;
		}
	}
	return 0;
}

struct mqtt_client *mqtt_client_new(uv_loop_t *loop, const struct mqtt_client_conf *conf,
                                    const struct mqtt_client_cbs *cbs)
{
	static bool lib_ready;
	struct mqtt_client *c;

	if (!lib_ready) {
		mosquitto_lib_init();
		lib_ready = true;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->loop = loop;
	c->cbs = *cbs;
	c->fd = -1;
	c->log_code = -1;
	c->port = conf->port;
	c->keepalive_s = conf->keepalive_s < 5 ? 5 : conf->keepalive_s;
	c->tls = conf->tls;
	c->backoff_min = conf->backoff_min_ms > 0 ? conf->backoff_min_ms : 1000;
	c->backoff_max = conf->backoff_max_ms > 0 ? conf->backoff_max_ms : 60000;
	if (c->backoff_max < c->backoff_min)
		c->backoff_max = c->backoff_min;
	c->rnd = uv_hrtime() ^ ((uint64_t)getpid() << 32) ^ (uintptr_t)c;
	if (!c->rnd)
		c->rnd = 88172645463325252ULL;
	c->host = strdup(conf->host);
	c->client_id = strdup(conf->client_id);
	c->username = conf->username ? strdup(conf->username) : NULL;
	c->password_file = conf->password_file ? strdup(conf->password_file) : NULL;
	c->max_message = conf->max_message;
	c->name = strdup(conf->log_name ? conf->log_name : "mqtt");
	c->section = strdup(conf->section ? conf->section : "mqtt");
	c->subs = calloc(conf->nsubscribe + 1, sizeof(*c->subs));
	uv_timer_init(loop, &c->misc);
	uv_timer_init(loop, &c->retry);
	c->misc.data = c->retry.data = c;
	c->handles = 2;
	if (!c->host || !c->client_id || !c->subs || !c->name || !c->section) {
		mqtt_client_free(c);
		return NULL;
	}
	for (size_t i = 0; i < conf->nsubscribe; i++) {
		c->subs[i] = strdup(conf->subscribe[i]);
		if (!c->subs[i]) {
			mqtt_client_free(c);
			return NULL;
		}
		c->nsubs++;
	}
	if (mqtt_client_setup(c, conf) < 0) {
		mqtt_client_free(c);
		return NULL;
	}
	uv_timer_start(&c->misc, mqtt_client_on_misc, MC_MISC_MS, MC_MISC_MS);
	mqtt_client_attempt(c);
	return c;
}

static void mqtt_client_free_now(struct mqtt_client *c)
{
	for (size_t i = 0; c->subs && i < c->nsubs; i++)
		free(c->subs[i]);
	free(c->subs);
	free(c->host);
	free(c->client_id);
	free(c->username);
	free(c->password_file);
	free(c->name);
	free(c->section);
	free(c);
}

static void mqtt_client_timer_closed(uv_handle_t *h)
{
	struct mqtt_client *c = h->data;

	if (--c->handles == 0)
		mqtt_client_free_now(c);
}

void mqtt_client_free(struct mqtt_client *c)
{
	if (!c)
		return;
	c->freeing = true;
	if (c->mosq) {
		if (c->state == MC_CONNECTED && !c->held) {
			/* A clean DISCONNECT: the broker keeps the session and queues for us. While
			 * held, the socket is only closed: what was not committed is not
			 * acknowledged, and the broker sends it again to the next connection. */
			mosquitto_disconnect(c->mosq);
			mosquitto_loop_write(c->mosq, 1);
		}
		mqtt_client_poll_stop(c);
		mosquitto_destroy(c->mosq);
		c->mosq = NULL;
	}
	mqtt_client_poll_stop(c);
	uv_close((uv_handle_t *)&c->misc, mqtt_client_timer_closed);
	uv_close((uv_handle_t *)&c->retry, mqtt_client_timer_closed);
}

const struct mqtt_client_stats *mqtt_client_stats(const struct mqtt_client *c)
{
	return &c->stats;
}

void mqtt_client_hold(struct mqtt_client *c, bool held)
{
	if (!c || c->held == held)
		return;
	c->held = held;
	if (held)
		c->ping_last = uv_now(c->loop);
	mqtt_client_poll_write(c);
}

void mqtt_client_pause(struct mqtt_client *c, bool paused)
{
	if (c->paused == paused)
		return;
	c->paused = paused;
	if (paused)
		log_warn("%s: reading paused: the ledger is not keeping up; messages wait at "
		         "the broker",
		         c->name);
	else
		log_notice("%s: reading resumed", c->name);
	mqtt_client_sync(c, MOSQ_ERR_SUCCESS, 0);
}

int mqtt_client_publish(struct mqtt_client *c, const char *topic, const void *payload, size_t len,
                        int qos, int *mid)
{
	int rc;

	if (c->state != MC_CONNECTED || mosquitto_socket(c->mosq) < 0)
		return -ENOTCONN;
	if (len > (size_t)INT32_MAX)
		return -EMSGSIZE;
	rc = mosquitto_publish(c->mosq, mid, topic, (int)len, payload, qos, false);
	if (rc == MOSQ_ERR_NOMEM)
		return -ENOMEM;
	if (rc == MOSQ_ERR_INVAL || rc == MOSQ_ERR_PAYLOAD_SIZE || rc == MOSQ_ERR_MALFORMED_UTF8)
		return -EINVAL;
	/* Anything else is the connection's: mqtt_client_sync (from the poll or the misc timer) finds it
	 * and reports the loss; a message already queued is sent again after the reconnect. */
	if (rc != MOSQ_ERR_SUCCESS)
		return -EIO;
	/* Not mqtt_client_sync: a loss found here would call back into the caller in the middle of its
	 * loop. Only ask for the socket's writability. */
	mqtt_client_poll_write(c);
	return 0;
}
