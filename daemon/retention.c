/* SPDX-License-Identifier: MIT */
/* retention: the pruning timer and its rules, and the retention part of the status. One
 * small transaction per turn of the timer while there is work (every 200 ms), a look every
 * minute when there is none; nothing while the ledger fails or a large backlog waits. */
#include "retention.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "clock.h"
#include "conf.h"
#include "i18n.h"
#include "jsonfmt.h"
#include "ledger.h"
#include "log.h"

#define RETENTION_BUSY_MS  200
#define RETENTION_IDLE_MS  60000
#define RETENTION_FIRST_MS 10000 /* the first look, after the start's own work */
#define RETENTION_ROWS     500   /* events per transaction */
#define RETENTION_BACKLOG  10000 /* no pruning while more than this waits in the outbox */

struct retention {
	uv_timer_t timer;
	struct ledger *ledger;
	const struct retention_conf *conf;
	bool over_cap;          /* pruning for size: until 90% of the cap */
	bool stuck;             /* over the cap with nothing that may go (logged once) */
	uint64_t items, events; /* pruned since the start */
	int64_t logged_mono;
};

int64_t retention_horizon(int keep_months, int64_t now_ms)
{
	time_t t = (time_t)(now_ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	tm.tm_mon -= keep_months;
	tm.tm_mday = 1;
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	return (int64_t)timegm(&tm) * 1000;
}

static void retention_on_timer(uv_timer_t *t)
{
	struct retention *r = t->data;
	struct ledger_prune_result res;
	int64_t now = clock_wall_ms(), used;
	int64_t before = retention_horizon(r->conf->keep_months, now);
	int rc = 0;

	if (ledger_in_transaction(r->ledger) ||
	    ledger_outbox_depth(r->ledger, LANE_ALARM) > RETENTION_BACKLOG) {
		uv_timer_start(&r->timer, retention_on_timer, RETENTION_IDLE_MS, 0);
		return;
	}
	if (r->conf->max_bytes > 0) {
		used = ledger_used_bytes(r->ledger);
		if (used > r->conf->max_bytes && !r->over_cap) {
			r->over_cap = true;
			log_warn(
			    _("ledger %s: %lld MiB in use, over the cap of %lld MiB: the oldest "
			      "delivered history of closed items is pruned (never an unsent event "
			      "or an open item)"),
			    ledger_path(r->ledger), (long long)(used >> 20),
			    (long long)(r->conf->max_bytes >> 20));
		} else if (r->over_cap && used <= r->conf->max_bytes / 10 * 9) {
			r->over_cap = false;
			r->stuck = false;
			log_notice(_("ledger %s: %lld MiB in use, under the cap again"),
			           ledger_path(r->ledger), (long long)(used >> 20));
		}
	}
	rc = ledger_prune_step(r->ledger, r->over_cap ? INT64_MAX : before, RETENTION_ROWS, &res);
	if (rc > 0) {
		r->stuck = false;
		r->items += (uint64_t)res.items;
		r->events += (uint64_t)res.events;
		if (clock_mono_ms() - r->logged_mono > 3600 * 1000 || !r->logged_mono) {
			r->logged_mono = clock_mono_ms();
			log_info(
			    _("ledger %s: pruning history (%s): %llu item(s), %llu event(s) so "
			      "far"),
			    ledger_path(r->ledger), r->over_cap ? _("size cap") : _("age"),
			    (unsigned long long)r->items, (unsigned long long)r->events);
		}
	} else if (rc == 0 && r->over_cap && !r->stuck) {
		/* Over the cap and nothing more may go: all that is left is open or unsent. */
		r->stuck = true;
		log_warn(_("ledger %s: over its size cap, and all it holds is open items, their "
		           "history and unsent events: nothing more may be pruned"),
		         ledger_path(r->ledger));
	}
	uv_timer_start(&r->timer, retention_on_timer,
	               rc > 0 ? RETENTION_BUSY_MS : RETENTION_IDLE_MS, 0);
}

struct retention *retention_start(uv_loop_t *loop, struct ledger *l,
                                  const struct retention_conf *rc)
{
	struct retention *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->ledger = l;
	r->conf = rc;
	uv_timer_init(loop, &r->timer);
	r->timer.data = r;
	uv_timer_start(&r->timer, retention_on_timer, RETENTION_FIRST_MS, 0);
	return r;
}

void retention_set_conf(struct retention *r, const struct retention_conf *rc)
{
	if (r)
		r->conf = rc;
}

static void retention_closed(uv_handle_t *h)
{
	free(h->data);
}

void retention_stop(struct retention *r)
{
	if (!r)
		return;
	uv_timer_stop(&r->timer);
	uv_close((uv_handle_t *)&r->timer, retention_closed);
}

json_t *retention_status(struct retention *r, struct ledger *l)
{
	int64_t now = clock_wall_ms();
	const struct retention_conf *c = r ? r->conf : NULL;
	int64_t before = c ? retention_horizon(c->keep_months, now) : 0;
	struct ledger_prune_plan p;
	json_t *next;

	if (!c || ledger_prune_plan(l, before, &p) < 0)
		return json_null();
	bool over = c->max_bytes > 0 && p.used_bytes > c->max_bytes;
	next = json_pack("{s:s, s:I, s:I, s:o}", "reason", over ? "size" : "age", "items",
	                 (json_int_t)p.items, "events", (json_int_t)p.events, "closed_before",
	                 jsonfmt_time(before));
	if (over)
		json_object_set_new(
		    next, "bytes_over_cap",
		    json_integer((json_int_t)(p.used_bytes - c->max_bytes / 10 * 9)));
	return json_pack(
	    "{s:i, s:I, s:I, s:I, s:o, s:o, s:o, s:I, s:I}", "keep_months", c->keep_months,
	    "max_bytes", (json_int_t)c->max_bytes, "used_bytes", (json_int_t)p.used_bytes,
	    "file_bytes", (json_int_t)p.file_bytes, "oldest_item",
	    p.oldest_id[0] ? json_pack("{s:s, s:o}", "id", p.oldest_id, "first_seen",
	                               jsonfmt_time(p.oldest_first_seen))
	                   : json_null(),
	    "next_prune", next, "pruned_until", jsonfmt_time(p.pruned_until), "pruned_items",
	    (json_int_t)(r ? r->items : 0), "pruned_events", (json_int_t)(r ? r->events : 0));
}
