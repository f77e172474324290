/* ledger-fill: fills a firegw ledger with hazard events through firegw's own code (the config
 * loader, the rules and the ledger), without the daemon's loop, so that the backlog and start-up
 * benchmarks can have 100,000 or 1,000,000 real events quickly. The devices of CONF that use a
 * profile with a "smoke" channel take turns: alarm, normal, alarm, ... (raised, cleared,
 * recurred, cleared, ...), one event each, committed in transactions of 1,000 readings, the way
 * the daemon group-commits a loop turn.
 *
 *     ledger-fill CONF EVENTS
 *
 * Prints "events N seconds S". */
#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>
#include <time.h>

#include "clock.h"
#include "conf.h"
#include "conf_errors.h"
#include "ledger.h"
#include "log.h"
#include "rules.h"

int main(int argc, char **argv)
{
	struct conf_errors errs;
	struct ledger_open_info info;
	struct ledger *l = NULL;
	struct conf *c;
	struct rules *r;

	if (argc != 3) {
		fprintf(stderr, "usage: ledger-fill CONF EVENTS\n");
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
		mono++;
		wall++;
		if (++i % 1000 == 0 && ledger_commit(l) < 0)
			return 1;
	}
	if (i % 1000 != 0 && ledger_commit(l) < 0)
		return 1;
	printf("events %llu seconds %.3f\n", (unsigned long long)(ledger_events_appended(l) - before),
	       (clock_mono_ms() - t0) / 1000.0);
	rules_free(r);
	ledger_close(l);
	conf_free(c);
	return 0;
}
