/* SPDX-License-Identifier: MIT */
/* web_session: firegw-web's sessions and their CSRF tokens. A session is a random 256-bit id
 * (the cookie) with its own random CSRF token, the user once logged in (none before: the login
 * form has a session too, so its POST carries a token as well), and two clocks: it ends after
 * WEB_SESSION_IDLE_S without a request and WEB_SESSION_MAX_S after it began, whatever happens.
 * The table is bounded (WEB_SESSION_MAX); when full, an expired session goes first, then the
 * one idle longest, those not logged in before those that are. Safe from several threads. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define WEB_SESSION_MAX 64
#define WEB_SESSION_IDLE_S (30 * 60)
#define WEB_SESSION_MAX_S (12 * 60 * 60)
#define WEB_SESSION_ID_LEN 64 /* hex characters */

struct web_session {
	char id[WEB_SESSION_ID_LEN + 1];
	char csrf[WEB_SESSION_ID_LEN + 1];
	char user[33]; /* "" before login */
	int64_t created_s, last_s;
};

struct web_sessions {
	pthread_mutex_t lock;
	struct web_session s[WEB_SESSION_MAX];
};

void web_session_init(struct web_sessions *t);
void web_session_destroy(struct web_sessions *t);
/* A new session for user ("" before login) into *out; -1 if no random bytes can be had. */
int web_session_create(struct web_sessions *t, const char *user, int64_t now_s,
                       struct web_session *out);
/* The live session of that id into *out (its idle clock restarted); -1 if there is none or it
 * has expired (it is then dropped). */
int web_session_find(struct web_sessions *t, const char *id, int64_t now_s, struct web_session *out);
void web_session_drop(struct web_sessions *t, const char *id);
/* True if token is the session's CSRF token (compared in constant time). */
bool web_session_csrf_ok(const struct web_session *s, const char *token);
/* Seconds the cookie of s may live from now (for Max-Age). */
int64_t web_session_max_age(const struct web_session *s, int64_t now_s);
