/* SPDX-License-Identifier: MIT */
/* web_ratelimit: failed logins per address, and the lock-out they lead to. */
#include "web_ratelimit.h"

#include <stdio.h>
#include <string.h>

void web_ratelimit_init(struct web_ratelimit *r)
{
	memset(r->e, 0, sizeof(r->e));
	pthread_mutex_init(&r->lock, NULL);
}

void web_ratelimit_destroy(struct web_ratelimit *r)
{
	pthread_mutex_destroy(&r->lock);
}

static struct web_ratelimit_entry *web_ratelimit_get(struct web_ratelimit *r, const char *addr,
                                                     bool make, int64_t now)
{
	struct web_ratelimit_entry *free_e = NULL, *oldest = NULL;

	for (size_t i = 0; i < WEB_RATELIMIT_ADDRS; i++) {
		struct web_ratelimit_entry *e = &r->e[i];

		if (e->addr[0] && strcmp(e->addr, addr) == 0)
			return e;
		if (!e->addr[0] && !free_e)
			free_e = e;
		if (e->addr[0] && (!oldest || e->first_s < oldest->first_s))
			oldest = e;
	}
	if (!make)
		return NULL;
	if (!free_e)
		free_e = oldest;
	memset(free_e, 0, sizeof(*free_e));
	snprintf(free_e->addr, sizeof(free_e->addr), "%s", addr);
	free_e->first_s = now;
	return free_e;
}

bool web_ratelimit_allowed(struct web_ratelimit *r, const char *addr, int64_t now_s, int *retry_s)
{
	bool ok = true;

	pthread_mutex_lock(&r->lock);
	struct web_ratelimit_entry *e = web_ratelimit_get(r, addr, false, now_s);
	if (e && e->locked_until_s > now_s) {
		ok = false;
		*retry_s = (int)(e->locked_until_s - now_s);
	}
	pthread_mutex_unlock(&r->lock);
	return ok;
}

void web_ratelimit_failed(struct web_ratelimit *r, const char *addr, int64_t now_s)
{
	pthread_mutex_lock(&r->lock);
	struct web_ratelimit_entry *e = web_ratelimit_get(r, addr, true, now_s);
	if (now_s - e->first_s >= WEB_RATELIMIT_WINDOW_S && e->locked_until_s <= now_s) {
		e->first_s = now_s;
		e->failures = 0;
	}
	if (++e->failures >= WEB_RATELIMIT_FAILURES)
		e->locked_until_s = now_s + WEB_RATELIMIT_LOCK_S;
	pthread_mutex_unlock(&r->lock);
}

void web_ratelimit_succeeded(struct web_ratelimit *r, const char *addr)
{
	pthread_mutex_lock(&r->lock);
	struct web_ratelimit_entry *e = web_ratelimit_get(r, addr, false, 0);
	if (e)
		memset(e, 0, sizeof(*e));
	pthread_mutex_unlock(&r->lock);
}
