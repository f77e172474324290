/* SPDX-License-Identifier: MIT */
/* forward_settle: the settlement of what came back for one destination, in one ledger
 * transaction (accepted, rejected, commands, results, the resync after a reconnect), and the
 * drain's pipeline: the next batch sent before the last one's transaction, which follows once
 * the request is written out (forward_sent). */
#include "forward_int.h"

#include "clock.h"
#include "hazard.h"
#include "i18n.h"

/* Those events are no longer in flight (recorded, or left in the outbox to go again). An
 * answer usually names them in the order sent: each is looked for from where the last one
 * was found, and the rest closes up once. */
static void forward_land(struct forward *f, const int64_t *seqs, size_t n)
{
	size_t at = 0, kept = 0;

	if (n == 0 || f->nfl == 0)
		return;
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < f->nfl; k++) {
			size_t j = (at + k) % f->nfl;

			if (f->fl[j].seq == seqs[i]) {
				f->fl[j].seq = -1; /* no event has it */
				at = j + 1;
				break;
			}
		}
	}
	for (size_t j = 0; j < f->nfl; j++)
		if (f->fl[j].seq != -1)
			f->fl[kept++] = f->fl[j];
	f->nfl = kept;
}

/* The transaction of a settled answer; `resynced` gets the resync's count. Returns 0 or a
 * negative errno (rolled back). */
static int forward_record(struct forward *f, const struct forward_outcome *o, bool relaxed,
                          int *resynced, int *ncmd)
{
	int rc = relaxed ? ledger_begin_relaxed(f->ledger) : ledger_begin(f->ledger);

	for (size_t i = 0; rc == 0 && i < o->naccepted; i++)
		rc = ledger_outbox_accept(f->ledger, f->pc->name, o->accepted[i]);
	for (size_t i = 0; rc == 0 && i < o->nrejected; i++) {
		const struct forward_reject *it = &o->rejected[i];
		const char *why = it->reason;

		rc = ledger_deadletter(f->ledger, f->pc->name, o->rejected[i].seq,
		                       why ? why : "rejected without a reason", clock_wall_ms());
		if (rc == 0)
			log_err(_("%s rejected event %s of %s: %s; kept in the dead-letter table"),
			        strcmp(f->pc->name, "platform") ? f->label : "platform",
			        it->event_id ? it->event_id : "?", it->hazard_id ? it->hazard_id : "?",
			        why ? why : _("no reason given"));
	}
	if (rc == 0 && json_array_size(o->commands) > 0) {
		int n = hazard_apply_commands(f->ledger, &f->conf->policy, o->commands,
		                              f->tp->mode == FORWARD_WINDOW ? 1000
		                                                            : HAZARD_CMDS_PER_REPLY,
		                              clock_wall_ms());
		if (n < 0)
			rc = n;
		else
			*ncmd = n;
	}
	if (rc == 0 && o->results) {
		size_t i;
		json_t *r;

		json_array_foreach(f->results_sent, i, r)
		{
			if (rc == 0)
				rc = ledger_command_reported(
				    f->ledger, json_string_value(json_object_get(r, "id")));
		}
	}
	/* The first success after a failure is a reconnect: the resync of every open item goes
	 * in the same transaction, so the outbox never looks drained before it is queued. */
	if (rc == 0 && f->need_resync && !f->tp->no_resync &&
	    (*resynced = hazard_resync_all(f->ledger, f->pc->name, clock_wall_ms())) < 0)
		rc = *resynced;
	if (rc == 0)
		return ledger_commit(f->ledger);
	ledger_rollback(f->ledger);
	return rc;
}

/* The bookkeeping of a recorded answer. */
static void forward_recorded(struct forward *f, const struct forward_outcome *o, int resynced,
                             int ncmd)
{
	if (f->need_resync) {
		f->need_resync = false;
		if (resynced > 0)
			log_info(_("%s: resync of %d open item(s) queued"), f->label, resynced);
	}
	f->stats.accepted += o->naccepted;
	f->stats.rejected += o->nrejected;
	f->stats.commands += (uint64_t)ncmd;
	if (o->naccepted > 0 || o->nrejected > 0 || o->results || f->tp->mode == FORWARD_ONE_BATCH)
		f->stats.last_success_wall = clock_wall_ms();
	if (o->results) {
		json_decref(f->results_sent);
		f->results_sent = NULL;
	}
	if (!f->backing_off) {
		f->stats.failures = 0;
		f->retry_not_before = 0;
		log_state_report(&f->log, 0, f->label, NULL);
	}
	if (ncmd > 0 && f->hooks.changed)
		f->hooks.changed(f->hooks.userdata);
}

/* The deferred transaction of an accepted batch. Returns 0, or -1 when the ledger failed (then
 * reported with forward_failed: those events stay in the outbox and go again). */
static int forward_commit_deferred(struct forward *f)
{
	struct forward_outcome o = {.accepted = f->deferred, .naccepted = f->ndeferred};
	int resynced = 0, ncmd = 0, rc;

	f->commit_on_sent = false;
	if (f->ndeferred == 0)
		return 0;
	rc = forward_record(f, &o, true, &resynced, &ncmd);
	f->ndeferred = 0;
	if (rc < 0) {
		char what[256];

		snprintf(what, sizeof(what),
		         _("cannot record the platform's reply in the ledger (%s)"), strerror(-rc));
		forward_failed(f, FAIL_LEDGER, what, -1, false);
		return -1;
	}
	forward_recorded(f, &o, resynced, ncmd);
	forward_prefetch(f);
	return 0;
}

static void forward_on_commit(uv_timer_t *t)
{
	forward_commit_deferred(t->data);
}

/* The deferred transaction, now: anything that changes the state it records (another answer,
 * a failure, a lost heartbeat, a stop) runs it first. Returns as forward_commit_deferred. */
int forward_flush(struct forward *f)
{
	if (f->ndeferred == 0)
		return 0;
	uv_timer_stop(&f->commit_timer);
	return forward_commit_deferred(f);
}

void forward_sent(struct forward *f)
{
	if (!f->commit_on_sent || f->freeing)
		return;
	f->commit_on_sent = false;
	uv_timer_start(&f->commit_timer, forward_on_commit, 0, 0);
}

/* A full batch that was only accepted, while the next one is ready and nothing newer waits:
 * the next goes now, and this one's transaction follows once that request is written out
 * (forward_sent), while the receiver works on it. Returns true if it went that way. */
static bool forward_pipeline(struct forward *f, const struct forward_outcome *o)
{
	if (f->tp->mode != FORWARD_ONE_BATCH || !o->may_relax || !f->nnext || f->ndeferred ||
	    f->tp->max_batch || o->naccepted != (size_t)f->pc->batch || o->naccepted != f->nfl ||
	    o->nrejected || json_array_size(o->commands) || o->results || f->results_sent ||
	    f->need_resync || f->backing_off ||
	    ledger_events_appended(f->ledger) != f->next_appended)
		return false;
	memcpy(f->deferred, o->accepted, o->naccepted * sizeof(*o->accepted));
	f->ndeferred = o->naccepted;
	forward_land(f, o->accepted, o->naccepted);
	forward_send(f);
	/* The transaction (and the next read) begins once the request is written out: begun
	 * earlier, it stops the request after its first 64 KiB (libcurl's upload buffer) for as
	 * long as it takes, a millisecond of every batch. A transport that does not report it:
	 * after the request's own zero timer (libuv runs timers due together in the order they
	 * were started). Nothing sent: at once. */
	if (f->tp->reports_sent && f->nfl > 0)
		f->commit_on_sent = true;
	else
		uv_timer_start(&f->commit_timer, forward_on_commit, 0, 0);
	return true;
}

int forward_settle(struct forward *f, const struct forward_outcome *o)
{
	int resynced = 0, ncmd = 0, rc;

	if (f->freeing)
		return 0;
	/* The answer before this one is recorded first. If the ledger failed there, the core is
	 * backing off and has dropped what was in flight: this answer goes too (its events are
	 * sent again), rather than being recorded ahead of the one before it. */
	if (forward_flush(f) < 0)
		return 0;
	if (forward_pipeline(f, o))
		return 0;
	/* A drained batch's commit may skip the fsync (a power cut would send those events
	 * again, which the receiver stores once); the last batch's does not, and makes every
	 * one before it durable too (docs/architecture.md, section 5). */
	bool relaxed = o->may_relax && o->naccepted == (size_t)f->pc->batch && o->nrejected == 0 &&
	               json_array_size(o->commands) == 0 && !o->results && !f->need_resync;
	rc = forward_record(f, o, relaxed, &resynced, &ncmd);
	forward_land(f, o->accepted, o->naccepted);
	for (size_t i = 0; i < o->nrejected; i++)
		forward_land(f, &o->rejected[i].seq, 1);
	if (rc < 0)
		return rc;
	forward_recorded(f, o, resynced, ncmd);
	forward_send(f); /* the resync, if one was due, went in with the answer above */
	return 0;
}
