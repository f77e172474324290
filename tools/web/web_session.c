/* SPDX-License-Identifier: MIT */
/* web_session: a bounded table of sessions with random ids and CSRF tokens. */
#include "web_session.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>

void web_session_init(struct web_sessions *t)
{
	memset(t->s, 0, sizeof(t->s));
	pthread_mutex_init(&t->lock, NULL);
}

void web_session_destroy(struct web_sessions *t)
{
	explicit_bzero(t->s, sizeof(t->s));
	pthread_mutex_destroy(&t->lock);
}

static int web_session_random_hex(char out[WEB_SESSION_ID_LEN + 1])
{
	unsigned char raw[WEB_SESSION_ID_LEN / 2];
	size_t got = 0;

	while (got < sizeof(raw)) {
		ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);

		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	explicit_bzero(raw, sizeof(raw));
	return 0;
}

static bool web_session_live(const struct web_session *s, int64_t now)
{
	return s->id[0] && now - s->last_s < WEB_SESSION_IDLE_S &&
	       now - s->created_s < WEB_SESSION_MAX_S && now >= s->created_s;
}

static bool web_session_same(const char *a, const char *b)
{
	unsigned char diff = 0;
	size_t n = strlen(a);

	if (n != strlen(b) || n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

int web_session_create(struct web_sessions *t, const char *user, int64_t now_s,
                       struct web_session *out)
{
	struct web_session n = {.created_s = now_s, .last_s = now_s};
	struct web_session *slot = NULL;

	if (web_session_random_hex(n.id) != 0 || web_session_random_hex(n.csrf) != 0)
		return -1;
	snprintf(n.user, sizeof(n.user), "%s", user);
	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < WEB_SESSION_MAX && !slot; i++)
		if (!web_session_live(&t->s[i], now_s))
			slot = &t->s[i];
	/* Full: the one idle longest, anonymous ones first. */
	for (int pass = 0; pass < 2 && !slot; pass++)
		for (size_t i = 0; i < WEB_SESSION_MAX; i++) {
			struct web_session *c = &t->s[i];

			if (pass == 0 && c->user[0])
				continue;
			if (!slot || c->last_s < slot->last_s)
				slot = c;
		}
	*slot = n;
	*out = n;
	pthread_mutex_unlock(&t->lock);
	explicit_bzero(&n, sizeof(n));
	return 0;
}

int web_session_find(struct web_sessions *t, const char *id, int64_t now_s, struct web_session *out)
{
	int rc = -1;

	if (!id || strlen(id) != WEB_SESSION_ID_LEN)
		return -1;
	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < WEB_SESSION_MAX; i++) {
		struct web_session *s = &t->s[i];

		if (!s->id[0] || !web_session_same(s->id, id))
			continue;
		if (web_session_live(s, now_s)) {
			s->last_s = now_s;
			*out = *s;
			rc = 0;
		} else {
			memset(s, 0, sizeof(*s));
		}
		break;
	}
	pthread_mutex_unlock(&t->lock);
	return rc;
}

void web_session_drop(struct web_sessions *t, const char *id)
{
	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; id && i < WEB_SESSION_MAX; i++)
		if (t->s[i].id[0] && web_session_same(t->s[i].id, id))
			memset(&t->s[i], 0, sizeof(t->s[i]));
	pthread_mutex_unlock(&t->lock);
}

bool web_session_csrf_ok(const struct web_session *s, const char *token)
{
	return token && web_session_same(s->csrf, token);
}

int64_t web_session_max_age(const struct web_session *s, int64_t now_s)
{
	int64_t left = s->created_s + WEB_SESSION_MAX_S - now_s;

	return left > 0 ? left : 0;
}
