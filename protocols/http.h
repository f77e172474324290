/* SPDX-License-Identifier: MIT */
/* http: HTTP(S) requests with libcurl's multi interface, driven by the libuv main loop
 * (libcurl's socket and timer callbacks become uv_poll and uv_timer handles). Nothing here
 * blocks. TLS verification is always on; a CA file, a client certificate and key, and a
 * public-key pin are options. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <uv.h>

/* A reply body, at most (bytes): a larger one aborts the transfer. */
#define HTTP_MAX_REPLY (1024 * 1024)
/* A bearer token, at most (bytes): a JWT fits. */
#define HTTP_MAX_BEARER 8192

struct http;

struct http_tls {
	const char *ca_file;   /* NULL: the system's CAs */
	const char *cert_file; /* client certificate, with key_file */
	const char *key_file;
	const char *pin; /* "sha256//..." public-key pin */
};

struct http_reply {
	long status;       /* 0 when no HTTP reply came (network error, timeout) */
	int curl_code;     /* CURLE_*, 0 on a complete exchange */
	const char *error; /* what went wrong, for the log */
	const char *body;  /* NUL-terminated, may be empty */
	size_t len;
	int64_t retry_after_ms; /* from Retry-After (seconds or HTTP date), -1 if none */
};

typedef void (*http_done_fn)(const struct http_reply *r, void *userdata);
/* The whole request (headers and body) has been written to the connection: the receiver is
 * at work on it. Called at most once, before done, outside libcurl's callbacks; it may cancel
 * requests (http_cancel) but not free the http. */
typedef void (*http_sent_fn)(void *userdata);

struct http *http_new(uv_loop_t *loop);
/* Cancels what is in flight (its callbacks are not called) and frees everything. */
void http_free(struct http *h);
/* POSTs a JSON body of `len` bytes, taken over (freed when the request is done, or at once
 * if it cannot be started: never copied). done gets the answer; sent, if not NULL, is told
 * when the request is written out (not if it fails before). Returns 0, or a negative errno
 * if it could not be started. A bearer token may be up to HTTP_MAX_BEARER bytes; TLS 1.2 at
 * least. */
int http_post_json(struct http *h, const char *url, const char *bearer, char *body,
                   size_t len, const struct http_tls *tls, int64_t connect_timeout_ms,
                   int64_t timeout_ms, http_done_fn done, http_sent_fn sent, void *userdata);
/* The value of a Retry-After header (delay-seconds or an HTTP date, surrounding blanks
 * allowed) as milliseconds from `now`, at most ten years; -1 if it is neither. Pure. */
int64_t http_retry_after_ms(const char *value, time_t now);
/* Cancels the requests in flight whose userdata `match` says yes to (their callbacks are not
 * called): one user of an http shared by several leaves. */
void http_cancel(struct http *h, bool (*match)(void *userdata, void *arg), void *arg);
/* Requests in flight. */
size_t http_in_flight(const struct http *h);
