/* SPDX-License-Identifier: MIT */
/* web_ratelimit: failed logins counted per client address. WEB_RATELIMIT_FAILURES wrong
 * passwords within WEB_RATELIMIT_WINDOW_S lock that address out of logging in for
 * WEB_RATELIMIT_LOCK_S (a right password included); a good login clears its count. A bounded
 * table (the oldest entry gives way); safe from several threads. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define WEB_RATELIMIT_FAILURES 5
#define WEB_RATELIMIT_WINDOW_S (10 * 60)
#define WEB_RATELIMIT_LOCK_S (5 * 60)
#define WEB_RATELIMIT_ADDRS 256

struct web_ratelimit_entry {
	char addr[64];
	int64_t first_s, locked_until_s;
	int failures;
};

struct web_ratelimit {
	pthread_mutex_t lock;
	struct web_ratelimit_entry e[WEB_RATELIMIT_ADDRS];
};

void web_ratelimit_init(struct web_ratelimit *r);
void web_ratelimit_destroy(struct web_ratelimit *r);
/* True if addr may try a login now; false with the seconds until it may in *retry_s. */
bool web_ratelimit_allowed(struct web_ratelimit *r, const char *addr, int64_t now_s, int *retry_s);
void web_ratelimit_failed(struct web_ratelimit *r, const char *addr, int64_t now_s);
void web_ratelimit_succeeded(struct web_ratelimit *r, const char *addr);
