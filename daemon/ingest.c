/* SPDX-License-Identifier: MIT */
/* ingest: the queue of readings and its one-transaction-per-loop-turn commit. */
#include "ingest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "i18n.h"
#include "log.h"

struct ingest {
	uv_loop_t *loop;
	uv_check_t check;
	uv_timer_t retry;
	struct rules *rules;
	struct ledger *ledger;
	struct reading *q;
	size_t n, cap;
	uint64_t batches;
	struct log_state fail_log;
	struct ingest_health health;
	char error[200];
	bool retry_armed;
	bool merged_once; /* repeats were merged in this run of failures */
	size_t refused;   /* readings refused since the last merge */
	void (*committed)(void *userdata);
	void *committed_data;
};

static void ingest_on_check(uv_check_t *h);

static void ingest_on_retry(uv_timer_t *t)
{
	struct ingest *in = t->data;

	in->retry_armed = false;
	ingest_flush(in);
}

struct ingest *ingest_new(uv_loop_t *loop, struct rules *r, struct ledger *l)
{
	struct ingest *in = calloc(1, sizeof(*in));

	if (!in)
		return NULL;
	in->loop = loop;
	in->rules = r;
	in->ledger = l;
	in->health.ok = true;
	if (loop) {
		uv_check_init(loop, &in->check);
		in->check.data = in;
		uv_check_start(&in->check, ingest_on_check);
		uv_timer_init(loop, &in->retry);
		in->retry.data = in;
	}
	return in;
}

static void ingest_closed(uv_handle_t *h)
{
	(void)h;
}

void ingest_free(struct ingest *in)
{
	if (!in)
		return;
	if (in->loop) {
		uv_close((uv_handle_t *)&in->check, ingest_closed);
		uv_close((uv_handle_t *)&in->retry, ingest_closed);
		/* Let the loop finish closing the handles before their memory goes. */
		uv_run(in->loop, UV_RUN_NOWAIT);
	}
	free(in->q);
	free(in);
}

void ingest_on_commit(struct ingest *in, void (*fn)(void *userdata), void *userdata)
{
	in->committed = fn;
	in->committed_data = userdata;
}

void ingest_set_rules(struct ingest *in, struct rules *r)
{
	ingest_flush(in);
	in->rules = r;
}

/* What a reading says of its point, for merging repeats (rules_value_class). */
static int64_t ingest_class(struct ingest *in, const struct reading *rd)
{
	switch (rd->type) {
	case READING_VALUE:
		return rules_value_class(in->rules, rd->device, rd->point, rd->value);
	case READING_POLL:
		return rd->ok;
	default:
		return 0;
	}
}

/* Readings that may merge: values, and polls that succeeded (failed polls are counted by
 * the rules towards device_offline; MQTT events are each a change). */
static bool ingest_mergeable(const struct reading *rd)
{
	return rd->type == READING_VALUE || (rd->type == READING_POLL && rd->ok);
}

static int ingest_key_cmp(const struct reading *a, const struct reading *b)
{
	int c = (int)a->type - (int)b->type;

	if (c == 0)
		c = strcmp(a->device, b->device);
	return c ? c : strcmp(a->point, b->point);
}

static int ingest_idx_cmp(const void *x, const void *y, void *q)
{
	size_t i = *(const size_t *)x, j = *(const size_t *)y;
	const struct reading *r = q;
	int c = ingest_key_cmp(&r[i], &r[j]);

	return c ? c : (i > j) - (i < j);
}

/* Merges repeats (see INGEST_MAX): returns how many readings left the queue. */
static size_t ingest_merge(struct ingest *in)
{
	size_t *idx = malloc(in->n * sizeof(*idx));
	int64_t *cls = malloc(in->n * sizeof(*cls));
	bool *drop = calloc(in->n, sizeof(*drop));
	size_t n = 0;

	if (!idx || !cls || !drop) {
		free(idx);
		free(cls);
		free(drop);
		return 0;
	}
	for (size_t i = 0; i < in->n; i++) {
		idx[i] = i;
		cls[i] = ingest_class(in, &in->q[i]);
	}
	qsort_r(idx, in->n, sizeof(*idx), ingest_idx_cmp, in->q);
	/* Within each point's readings, in order: one whose neighbours both say what it says
	 * goes. The first and the last of each run stay, and so do the first ones at or past
	 * the point's hold and clear hold from the run's start: where the rules act. */
	size_t start = 0;
	int64_t hold = 0, clear_hold = 0;
	bool held = false, clear_held = false;
	for (size_t k = 0; k < in->n; k++) {
		size_t b = idx[k];
		const struct reading *rb = &in->q[b];

		if (k == 0 || ingest_key_cmp(&in->q[idx[k - 1]], rb)) {
			if (rb->type == READING_VALUE)
				rules_value_holds(in->rules, rb->device, rb->point, &hold,
				                  &clear_hold);
			else
				hold = clear_hold = 0;
		}
		if (k == 0 || ingest_key_cmp(&in->q[idx[k - 1]], rb) || cls[idx[k - 1]] != cls[b]) {
			start = b; /* a run begins */
			held = hold <= 0;
			clear_held = clear_hold <= 0;
			continue;
		}
		if (!held && rb->mono_ms - in->q[start].mono_ms >= hold) {
			held = true;
			continue;
		}
		if (!clear_held && rb->mono_ms - in->q[start].mono_ms >= clear_hold) {
			clear_held = true;
			continue;
		}
		if (k + 1 < in->n && ingest_mergeable(rb) &&
		    !ingest_key_cmp(rb, &in->q[idx[k + 1]]) && cls[b] == cls[idx[k + 1]])
			drop[b] = true;
	}
	for (size_t i = 0; i < in->n; i++)
		if (!drop[i])
			in->q[n++] = in->q[i];
	size_t gone = in->n - n;
	in->n = n;
	free(idx);
	free(cls);
	free(drop);
	return gone;
}

/* True if `rd` says something new of its point: its class differs from that of the newest
 * reading of the same point in the queue (or there is none). */
static bool ingest_is_change(struct ingest *in, const struct reading *rd)
{
	if (!ingest_mergeable(rd))
		return true;
	for (size_t i = in->n; i-- > 0;)
		if (!ingest_key_cmp(&in->q[i], rd))
			return ingest_class(in, &in->q[i]) != ingest_class(in, rd);
	return true;
}

static int ingest_grow(struct ingest *in, size_t cap)
{
	struct reading *q = realloc(in->q, cap * sizeof(*q));

	if (!q)
		return -ENOMEM;
	in->q = q;
	in->cap = cap;
	return 0;
}

/* The queue is full: merge repeats (at most once per INGEST_MAX / 16 readings refused, so
 * that a queue with nothing to merge costs no sort per reading), then keep `rd` only if it
 * is a change and the reserve has room. */
static int ingest_full(struct ingest *in, const struct reading *rd)
{
	if (in->refused >= INGEST_MAX / 16 || !in->merged_once) {
		size_t gone = ingest_merge(in);

		in->refused = 0;
		if (gone > 0 && !in->merged_once)
			log_warn(
			    _("ingest queue full (%d readings) while the ledger fails: repeated "
			      "readings merged, the first and last of each unchanged run kept"),
			    INGEST_MAX);
		in->merged_once = true;
		in->health.merged += gone;
		if (in->n < INGEST_MAX)
			return 1;
	}
	if (!ingest_is_change(in, rd)) {
		if ((in->health.dropped++ & 1023) == 0)
			log_err(
			    _("ingest queue full: %llu reading(s) that repeat what is queued "
			      "dropped; no change of state is lost yet; the ledger is not keeping "
			      "up (disk full or failing?)"),
			    (unsigned long long)in->health.dropped);
		in->refused++;
		return -ENOBUFS;
	}
	if (in->n >= INGEST_MAX + INGEST_RESERVE) {
		if ((in->health.changes_lost++ & 1023) == 0)
			log_err(_("ingest queue full, its reserve too: %llu change(s) of state "
			          "dropped; the ledger has failed for too long: free the disk or "
			          "replace it now"),
			        (unsigned long long)in->health.changes_lost);
		in->refused++;
		return -ENOBUFS;
	}
	in->refused++;
	return 1;
}

int ingest_push(struct ingest *in, const struct reading *rd)
{
	int rc;

	if (in->n >= INGEST_MAX && (rc = ingest_full(in, rd)) < 0)
		return rc;
	if (in->n == in->cap) {
		size_t cap = in->cap ? in->cap * 2 : 256;

		if (cap > INGEST_MAX)
			cap = INGEST_MAX + INGEST_RESERVE;
		if ((rc = ingest_grow(in, cap)) < 0) {
			if ((in->health.dropped++ & 1023) == 0)
				log_err(_("out of memory: %llu reading(s) dropped"),
				        (unsigned long long)in->health.dropped);
			return rc;
		}
	}
	in->q[in->n++] = *rd;
	return 0;
}

static int ingest_apply(struct ingest *in, const struct reading *rd)
{
	switch (rd->type) {
	case READING_VALUE:
		return rules_value(in->rules, rd->device, rd->point, rd->value, rd->mono_ms,
		                   rd->wall_ms);
	case READING_STATE:
		return rules_state(in->rules, rd->device, rd->point, rd->kind, rd->level, rd->test,
		                   rd->mono_ms, rd->wall_ms);
	case READING_POLL:
		return rules_poll(in->rules, rd->device, rd->ok, rd->mono_ms, rd->wall_ms);
	case READING_SILENCE:
		return rules_silence(in->rules, rd->device, rd->point, rd->kind, rd->mono_ms,
		                     rd->wall_ms);
	}
	return -EINVAL;
}

/* Notes a failed commit for the status: what failed, since when, how many times. */
static void ingest_failed(struct ingest *in, int rc)
{
	if (in->health.ok)
		in->health.since_wall_ms = clock_wall_ms();
	in->health.ok = false;
	in->health.failed_commits++;
	in->health.code = rc;
	snprintf(in->error, sizeof(in->error), "%s",
	         rc == -ENOSPC ? "disk full: readings wait in memory and are retried every second"
	                       : ledger_errmsg(in->ledger));
	in->health.error = in->error;
}

int ingest_flush(struct ingest *in)
{
	int rc;

	if (in->n == 0)
		return 0;
	rc = ledger_begin(in->ledger);
	for (size_t i = 0; i < in->n && rc == 0; i++) {
		rc = ingest_apply(in, &in->q[i]);
		/* A reading the rules refuse (unknown device or point, not a number) is dropped
		 * and counted there; only a ledger failure stops the batch. */
		if (rc == -ENOENT || rc == -EINVAL)
			rc = 0;
	}
	if (rc == 0)
		rc = ledger_commit(in->ledger);
	else
		ledger_rollback(in->ledger);
	if (rc < 0) {
		/* Nothing of the batch is recorded: rebuild the live state and retry later. */
		rules_resync(in->rules, clock_mono_ms(), clock_wall_ms());
		log_state_report(&in->fail_log, rc, "ledger commit",
		                 rc == -ENOSPC
		                     ? "disk full: readings are kept in memory and retried"
		                     : ledger_errmsg(in->ledger));
		ingest_failed(in, rc);
		if (in->loop && !in->retry_armed) {
			in->retry_armed = true;
			uv_timer_start(&in->retry, ingest_on_retry, 1000, 0);
		}
		return rc;
	}
	log_state_report(&in->fail_log, 0, "ledger commit", NULL);
	in->health.ok = true;
	in->health.error = NULL;
	in->health.code = 0;
	in->health.since_wall_ms = 0;
	in->n = 0;
	in->merged_once = false;
	in->refused = 0;
	in->batches++;
	if (in->committed)
		in->committed(in->committed_data);
	return 0;
}

static void ingest_on_check(uv_check_t *h)
{
	struct ingest *in = h->data;

	if (!in->retry_armed)
		ingest_flush(in);
}

size_t ingest_queued(const struct ingest *in)
{
	return in->n;
}

uint64_t ingest_batches(const struct ingest *in)
{
	return in->batches;
}

const struct ingest_health *ingest_health(const struct ingest *in)
{
	return &in->health;
}
