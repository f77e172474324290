/* SPDX-License-Identifier: MIT */
/* report-bench: the CPU time the monthly bulletin (ledger_report) takes on a large ledger; the
 * daemon computes it on its main loop, so this is how long a `firegwctl report` holds the loop.
 * Fills a scratch ledger in DIR through the rules and the platform's commands: ITEMS items over
 * October and as many over November (local time), each raised on a device of its own; two in
 * three accepted and closed, one in ten of those reopened and closed again. A ledger filled
 * before is used as it is. Then prints the events and the CPU seconds of three reports of
 * November without and with the hazard list.
 *
 *     report-bench DIR ITEMS */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "hazard.h"
#include "ledger.h"
#include "ledger_report.h"
#include "log.h"

static double report_bench_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int report_bench_cmd(struct ledger *l, const struct policy *p, const char *type,
                            const char *id, int64_t at, long n)
{
	char text[256], why[192];
	json_t *cmd;
	int rc;

	snprintf(text, sizeof(text), "{\"id\":\"c%ld-%s\",\"type\":\"hazard.%s\",\"hazard_id\":\"%s\"}",
	         n, type, type, id);
	cmd = json_loads(text, 0, NULL);
	rc = hazard_apply_command(l, p, cmd, at, why, sizeof(why));
	json_decref(cmd);
	return rc;
}

static int report_bench_month(struct ledger *l, const struct policy *p, int64_t start, long items,
                              long base)
{
	static const enum kind kinds[] = {KIND_RESIDUAL_CURRENT, KIND_OVERTEMPERATURE,
	                                  KIND_ARC_FAULT, KIND_SENSOR_FAULT, KIND_DEVICE_OFFLINE};
	int64_t step = 28LL * 86400000 / items;

	for (long i = 0; i < items; i++) {
		char dev[32];
		struct hazard h;
		enum hazard_outcome out;
		int64_t at = start + i * step;
		struct hazard_obs o = {.device = dev, .point = "p", .kind = kinds[i % 5],
		                       .level = LEVEL_ALARM, .value = 1, .threshold = 1, .unit = "",
		                       .wall_ms = at};

		snprintf(dev, sizeof(dev), "d%ld", base + i);
		if (i % 1000 == 0 && ledger_begin(l) != 0)
			return -1;
		if (hazard_observe(l, p, &o, &h, &out) != 0)
			return -1;
		if (i % 3 != 0) {
			report_bench_cmd(l, p, "accept", h.id, at + 3600000, base + i);
			report_bench_cmd(l, p, "close", h.id, at + 7200000, base + i);
			if (i % 10 == 1) {
				report_bench_cmd(l, p, "reopen", h.id, at + 9000000, base + i);
				report_bench_cmd(l, p, "close", h.id, at + 10000000, base + i + 1000000);
			}
		}
		item_finish(&h);
		if (i % 1000 == 999 || i == items - 1)
			if (ledger_commit(l) != 0)
				return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct ledger *l;
	struct ledger_open_info info;
	struct policy p;
	struct ledger_report_period per;
	const char *err = NULL;

	if (argc != 3) {
		fprintf(stderr, "usage: report-bench DIR ITEMS\n");
		return 2;
	}
	long items = atol(argv[2]);
	log_init(LOG_LVL_ERR, false);
	policy_defaults(&p);
	if (ledger_open(&l, argv[1], "GW-B", &info) != 0)
		return 1;
	bool fill = ledger_event_count(l) == 0; /* a ledger filled before: reports only */
	ledger_report_month("2026-10", &per, &err);
	if (fill && report_bench_month(l, &p, per.start_ms, items, 0) != 0)
		return 1;
	ledger_report_month("2026-11", &per, &err);
	if (fill && report_bench_month(l, &p, per.start_ms, items, items) != 0)
		return 1;
	printf("events %lld\n", (long long)ledger_event_count(l));
	for (int list = 0; list < 6; list++) {
		struct ledger_report_opts o = {.devices = 100, .list = list % 2, .now_ms = per.end_ms};
		double t0 = report_bench_now();
		json_t *r = ledger_report(l, &per, &o, &err);

		printf("report%s seconds %.3f new %lld\n", list % 2 ? " --list" : "",
		       report_bench_now() - t0,
		       (long long)json_integer_value(json_object_get(json_object_get(r, "hazards"), "new")));
		json_decref(r);
	}
	ledger_close(l);
	return 0;
}
