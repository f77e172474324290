/* SPDX-License-Identifier: MIT */
/* ledger-fill: fills a firegw ledger with hazard events through firegw's own code (the config
 * loader, the rules and the ledger), without the daemon's loop, so that the backlog and start-up
 * benchmarks can have 100,000 or 1,000,000 real events quickly. The devices of CONF that use a
 * profile with a "smoke" channel take turns: alarm, normal, alarm, ... (raised, cleared,
 * recurred, cleared, ...), one event each, committed in transactions of 1,000 readings, the way
 * the daemon group-commits a loop turn. The ledger is closed cleanly at the end, as a stopped
 * firegw leaves it, so the next open does not check the whole file (a start-up after a clean
 * stop); delete the row 'clean_stop' from its meta table to measure the start after a crash.
 *
 *     ledger-fill [-c CLOSED] [-d] [-x] CONF EVENTS [DRAIN_BATCH]
 *
 * With -d each event is queued for every enabled platform block of CONF that wants it, as the
 * daemon queues it (daemon_dests_start, ledger_set_dests): a backlog for several destinations.
 * Without it the rows wait for destination '' (the first destination's at the next start).
 * DRAIN_BATCH drains destination '' only, so it goes without -d.
 *
 * With -x each item is closed once its alarm cleared, through a platform close command
 * (hazard_apply_command), so the next alarm raises a new item: raised, cleared, closed, ...
 * the history that retention may prune once delivered (DRAIN_BATCH delivers it).
 *
 * With -c, first CLOSED closed items of the first device's smoke point (fire_alarm), the record
 * of a detector that raised and closed that many items over the years, written through
 * ledger_hazard_insert without their events (only the hazards table is read by the lookups that
 * depend on them), and printed as "closed N seconds S"; the readings that follow then raise,
 * clear and recur one item beside them (issue 8: the open-item lookup must not slow down as
 * closed items pile up). EVENTS may be 0 on a ledger that has them already.
 *
 * Prints "events N seconds S". With DRAIN_BATCH it then empties the alarm lane the way the
 * uplink does when every batch is accepted (ledger_outbox_batch, then ledger_outbox_accept of
 * each event in one transaction), without the network, and prints "drained N seconds S": the
 * ledger's own share of a backlog drain. */
#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "conf.h"
#include "conf_errors.h"
#include "hazard.h"
#include "ledger.h"
#include "forward.h"
#include "log.h"
#include "rules.h"

/* Empties the alarm lane in batches of `batch`, each accepted in one transaction. */
/* The platform blocks of `c` as the ledger's destinations, as the daemon sets them. */
static int ledger_fill_dests(struct ledger *l, const struct conf *c)
{
	struct ledger_dest *ld = calloc(c->nplatforms + 1, sizeof(*ld));
	size_t n = 0;
	int rc;

	if (!ld)
		return -1;
	for (size_t i = 0; i < c->nplatforms; i++) {
		const struct platform_conf *pc = &c->platforms[i];

		if (!pc->enabled)
			continue;
		snprintf(ld[n].name, sizeof(ld[n].name), "%s", pc->name);
		ld[n].types = pc->types;
		ld[n].kinds = pc->kinds;
		ld[n].grades = pc->grades;
		n++;
	}
	rc = ledger_set_dests(l, ld, n);
	free(ld);
	printf("destinations %zu\n", n);
	return rc < 0 ? -1 : 0;
}

static int ledger_fill_drain(struct ledger *l, size_t batch)
{
	int64_t t0 = clock_mono_ms();
	long drained = 0;

	for (;;) {
		struct outbox_item *items;
		size_t n;

		if (ledger_outbox_batch(l, "", batch, FORWARD_REQUEST_MAX, &items, &n) < 0)
			return -1;
		if (n == 0) {
			ledger_outbox_free(items, n);
			break;
		}
		if (ledger_begin(l) < 0)
			return -1;
		for (size_t i = 0; i < n; i++)
			if (ledger_outbox_accept(l, "", items[i].seq) < 0)
				return -1;
		if (ledger_commit(l) < 0)
			return -1;
		drained += (long)n;
		ledger_outbox_free(items, n);
	}
	printf("drained %ld seconds %.3f\n", drained, (clock_mono_ms() - t0) / 1000.0);
	return 0;
}

/* `n` closed items of device/smoke/fire_alarm, in transactions of 1,000, closed long before
 * `wall` (outside any recurrence window). */
static int ledger_fill_closed(struct ledger *l, const char *device, long n, int64_t wall)
{
	int64_t t0 = clock_mono_ms();

	for (long i = 0; i < n; i++) {
		struct hazard h;
		int rc;

		if (i % 1000 == 0 && ledger_begin(l) < 0)
			return -1;
		item_init(&h);
		snprintf(h.device, sizeof(h.device), "%s", device);
		snprintf(h.point, sizeof(h.point), "smoke");
		snprintf(h.title, sizeof(h.title), "smoke alarm");
		h.kind = KIND_FIRE_ALARM;
		h.grade = GRADE_IMMEDIATE;
		h.status = HSTATUS_CLOSED;
		h.occurrences = 1;
		h.first_seen = h.last_seen = wall - 86400000LL * 365 + i * 60000;
		h.cleared_at = h.first_seen + 30000;
		h.closed_at = h.first_seen + 45000;
		h.info = json_object();
		rc = ledger_hazard_insert(l, &h);
		item_finish(&h);
		if (rc < 0) {
			fprintf(stderr, "ledger-fill: insert closed item failed: %s\n",
			        ledger_errmsg(l));
			return -1;
		}
		if ((i + 1) % 1000 == 0 && ledger_commit(l) < 0)
			return -1;
	}
	if (n % 1000 != 0 && ledger_commit(l) < 0)
		return -1;
	printf("closed %ld seconds %.3f\n", n, (clock_mono_ms() - t0) / 1000.0);
	return 0;
}

/* Closes the open smoke item of `dev` as the platform would (a hazard.close command). */
static int ledger_fill_close(struct ledger *l, const struct conf *c, const char *dev, long round,
                             int64_t wall)
{
	struct hazard h;
	char why[200], cid[32];
	int rc = ledger_hazard_open_for(l, dev, "smoke", KIND_FIRE_ALARM, &h);

	if (rc <= 0)
		return rc;
	snprintf(cid, sizeof(cid), "fill-%ld", round);
	json_t *cmd =
	    json_pack("{s:s, s:s, s:s}", "id", cid, "type", "hazard.close", "hazard_id", h.id);
	item_finish(&h);
	rc = cmd ? hazard_apply_command(l, &c->policy, cmd, wall, why, sizeof(why)) : -1;
	json_decref(cmd);
	if (rc != 0)
		fprintf(stderr, "ledger-fill: close failed (%d): %s\n", rc, why);
	return rc == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct conf_errors errs;
	struct ledger_open_info info;
	struct ledger *l = NULL;
	struct conf *c;
	struct rules *r;

	long closed = 0;
	bool close_cleared = false, dests = false;
	int opt;

	while ((opt = getopt(argc, argv, "c:dx")) != -1) {
		if (opt == 'd')
			dests = true;
		else if (opt == 'x')
			close_cleared = true;
		else if (opt == 'c')
			closed = atol(optarg);
		else
			goto usage;
	}
	argc -= optind - 1;
	argv += optind - 1;
	if (argc != 3 && argc != 4) {
	usage:
		fprintf(stderr,
		        "usage: ledger-fill [-c CLOSED] [-d] [-x] CONF EVENTS [DRAIN_BATCH]\n");
		return 2;
	}
	long n = atol(argv[2]);
	log_init(LOG_WARNING, true);
	conf_errors_init(&errs);
	c = conf_load(argv[1], &errs);
	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "%s\n", errs.items[i]);
	conf_errors_finish(&errs);
	if (!c || c->ndevices == 0)
		return 1;
	if (ledger_open(&l, c->data_dir, c->gateway_id, &info) != 0)
		return 1;
	if (dests && ledger_fill_dests(l, c) < 0)
		return 1;
	if (closed > 0 && ledger_fill_closed(l, c->devices[0].id, closed, clock_wall_ms() - n) < 0)
		return 1;
	r = rules_new(c, l);
	if (!r)
		return 1;
	int64_t t0 = clock_mono_ms(), mono = t0, wall = clock_wall_ms() - n;
	if (rules_resync(r, mono, wall) < 0)
		return 1;
	uint64_t before = ledger_events_appended(l);
	long i = 0;
	for (long round = 0; ledger_events_appended(l) - before < (uint64_t)n; round++) {
		if (i % 1000 == 0 && ledger_begin(l) < 0)
			return 1;
		const char *dev = c->devices[round % c->ndevices].id;
		enum level lv = (round / c->ndevices) % 2 == 0 ? LEVEL_ALARM : LEVEL_NONE;
		if (rules_state(r, dev, "smoke", KIND_FIRE_ALARM, lv, false, mono, wall) < 0) {
			fprintf(stderr, "ledger-fill: rules_state failed: %s\n", ledger_errmsg(l));
			return 1;
		}
		if (close_cleared && lv == LEVEL_NONE &&
		    ledger_fill_close(l, c, dev, round, wall) < 0)
			return 1;
		mono++;
		wall++;
		if (++i % 1000 == 0 && ledger_commit(l) < 0)
			return 1;
	}
	if (i % 1000 != 0 && ledger_commit(l) < 0)
		return 1;
	printf("events %llu seconds %.3f\n",
	       (unsigned long long)(ledger_events_appended(l) - before),
	       (clock_mono_ms() - t0) / 1000.0);
	if (argc == 4 && ledger_fill_drain(l, (size_t)atol(argv[3])) < 0)
		return 1;
	rules_free(r);
	ledger_close(l);
	conf_free(c);
	return 0;
}
