/* SPDX-License-Identifier: MIT */
/* ingest: the queue of readings and its one-transaction-per-loop-turn commit. */
#include "ingest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
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

int ingest_push(struct ingest *in, const struct reading *rd)
{
	if (in->n == in->cap) {
		if (in->cap >= INGEST_MAX)
			return -ENOBUFS;
		size_t cap = in->cap ? in->cap * 2 : 256;
		struct reading *q = realloc(in->q, cap * sizeof(*q));

		if (!q)
			return -ENOMEM;
		in->q = q;
		in->cap = cap;
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
	in->health.since_wall_ms = 0;
	in->n = 0;
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
