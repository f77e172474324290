/* SPDX-License-Identifier: MIT */
/* web_http: firegw-web's HTTP side on libmicrohttpd: the routes, login and logout, sessions in
 * cookies, the CSRF check of every POST, the security headers of every reply, and the bounds
 * (connections in all and per address, memory and body size per request, timeouts). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "web_ratelimit.h"
#include "web_session.h"

/* The largest request body firegw-web reads (a login form is a few hundred bytes). */
#define WEB_HTTP_BODY_MAX 4096
#define WEB_HTTP_CONNECTIONS 32
#define WEB_HTTP_PER_ADDRESS 8
#define WEB_HTTP_MEMORY (64 * 1024)
#define WEB_HTTP_TIMEOUT_S 30
#define WEB_HTTP_CTL_TIMEOUT_MS 15000
/* Threads answering requests: one slow answer (the config page's firegw check, a daemon busy
 * for seconds) does not hold up the devices page's refresh. */
#define WEB_HTTP_THREADS 2

struct web_http_options {
	const char *listen;   /* "127.0.0.1:8080", "[::1]:8080", "0.0.0.0:8443" */
	const char *socket;   /* firegw's control socket */
	const char *passwd;   /* the password file */
	const char *config;   /* the config file the config page shows (NULL: none) */
	const char *firegw;   /* the firegw binary that checks it */
	const char *tls_cert; /* PEM files; both or neither */
	const char *tls_key;
	bool metrics_public; /* /metrics without a login (for a fleet's Prometheus) */
};

struct web_http;

/* Starts serving (its own thread); NULL with the reason logged. */
struct web_http *web_http_start(const struct web_http_options *o);
/* The port it listens on (the one the kernel chose for port 0). */
int web_http_port(struct web_http *h);
void web_http_stop(struct web_http *h);
