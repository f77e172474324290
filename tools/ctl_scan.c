/* SPDX-License-Identifier: MIT */
/* ctl_scan: firegwctl scan and probe: the job followed, its progress line and its result. */
#include "ctl_scan.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "i18n.h"
#include "textesc.h"

#define CTL_SCAN_POLL_MS 200

static volatile sig_atomic_t ctl_scan_interrupted;

static void ctl_scan_on_sigint(int sig)
{
	(void)sig;
	ctl_scan_interrupted = 1;
}

/* A string member of the daemon's reply, escaped for a terminal into buf. */
static const char *ctl_scan_str(json_t *o, const char *key, char *buf, size_t len)
{
	const char *s = json_string_value(json_object_get(o, key));

	textesc(buf, len, s ? s : "");
	return buf;
}

/* A string member, or "" (for comparing, never printed). */
static const char *ctl_scan_raw(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static long long ctl_scan_num(json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

static double ctl_scan_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The progress line: rewritten in place on a terminal, one line a second otherwise. */
static void ctl_scan_progress(json_t *st, bool tty, double *last)
{
	double now = ctl_scan_now();

	if (strcmp(ctl_scan_raw(st, "kind"), "scan") != 0)
		return;
	if (!tty && now - *last < 1.0)
		return;
	*last = now;
	fprintf(stderr, _("%sscanning bus %s: %lld of %lld units (%lld-%lld), %zu found%s"),
	        tty ? "\r" : "", ctl_scan_str(st, "bus", (char[128]){0}, 128),
	        ctl_scan_num(st, "scanned"), ctl_scan_num(st, "total"), ctl_scan_num(st, "from"),
	        ctl_scan_num(st, "to"), json_array_size(json_object_get(st, "found")),
	        tty ? "   " : "\n");
	fflush(stderr);
}

/* A config block, each of its lines escaped for the terminal. */
static void ctl_scan_block(const char *block)
{
	char line[512], safe[1024];

	while (*block) {
		size_t n = strcspn(block, "\n");

		snprintf(line, sizeof(line), "%.*s", (int)(n < sizeof(line) ? n : sizeof(line) - 1),
		         block);
		textesc(safe, sizeof(safe), line);
		printf("%s\n", safe);
		block += n + (block[n] == '\n');
	}
}

static int ctl_scan_print_scan(json_t *st)
{
	json_t *found = json_object_get(st, "found"), *f, *p;
	const char *state = ctl_scan_raw(st, "state");
	char buf[128];
	size_t i, k;

	json_array_foreach(found, i, f)
	{
		printf(_("unit %lld: answers"), ctl_scan_num(f, "unit"));
		json_array_foreach(json_object_get(f, "profiles"), k, p)
		{
			textesc(buf, sizeof(buf), json_string_value(p) ? json_string_value(p) : "");
			printf("%s%s", k ? ", " : _(" (looks like: "), buf);
		}
		printf("%s\n", json_array_size(json_object_get(f, "profiles")) ? ")" : "");
	}
	if (json_array_size(found)) {
		printf("%s", _("\nconfig blocks to copy (fill in the location):\n\n"));
		json_array_foreach(found, i, f)
		{
			if (i)
				printf("\n");
			ctl_scan_block(ctl_scan_raw(f, "config"));
		}
	}
	if (!strcmp(state, "failed"))
		fprintf(stderr, _("scan failed: %s\n"),
		        ctl_scan_str(st, "reason", buf, sizeof(buf)));
	else if (!strcmp(state, "cancelled"))
		fprintf(stderr, _("scan cancelled after %lld unit(s): %zu answered\n"),
		        ctl_scan_num(st, "scanned"), json_array_size(found));
	else
		fprintf(stderr, _("scan done: %zu unit(s) answered between %lld and %lld\n"),
		        json_array_size(found), ctl_scan_num(st, "from"), ctl_scan_num(st, "to"));
	return !strcmp(state, "done") && json_array_size(found) ? 0 : 1;
}

static int ctl_scan_print_probe(json_t *st)
{
	json_t *pr = json_object_get(st, "probe"), *pt, *b;
	char dev[128], bus[128], prof[128], name[128], unit[32], bit[128];
	size_t i, k;

	ctl_scan_str(st, "device", dev, sizeof(dev));
	ctl_scan_str(st, "bus", bus, sizeof(bus));
	if (!pr) {
		fprintf(stderr, _("%s: probe failed: %s\n"), dev,
		        ctl_scan_str(st, "reason", name, sizeof(name)));
		return 1;
	}
	if (!json_is_true(json_object_get(pr, "answered"))) {
		if (!strcmp(ctl_scan_raw(pr, "why"), "exception"))
			fprintf(stderr,
			        _("%s: unit %lld on bus '%s' answered Modbus exception %lld\n"),
			        dev, ctl_scan_num(pr, "unit"), bus, ctl_scan_num(pr, "code"));
		else
			fprintf(stderr,
			        _("%s: unit %lld on bus '%s' does not answer: %s (%lld tries)\n"),
			        dev, ctl_scan_num(pr, "unit"), bus,
			        ctl_scan_str(pr, "why", name, sizeof(name)),
			        ctl_scan_num(pr, "attempts"));
		return 1;
	}
	printf(_("%s: %s, unit %lld on bus '%s' (read between the bus's polls)\n"), dev,
	       ctl_scan_str(pr, "profile", prof, sizeof(prof)), ctl_scan_num(pr, "unit"), bus);
	json_array_foreach(json_object_get(pr, "points"), i, pt)
	{
		json_t *v = json_object_get(pt, "value");

		ctl_scan_str(pt, "point", name, sizeof(name));
		ctl_scan_str(pt, "unit", unit, sizeof(unit));
		if (json_is_number(v))
			printf("  %-20s %12g %-6s", name, json_number_value(v), unit);
		else
			printf("  %-20s %12s %-6s", name, "-", unit);
		json_array_foreach(json_object_get(pt, "bits"), k, b)
		{
			textesc(bit, sizeof(bit), json_string_value(b) ? json_string_value(b) : "");
			printf("%s%s", k ? ", " : "  ", bit);
		}
		printf("\n");
	}
	return 0;
}

int ctl_scan_follow(json_t *started, bool json, ctl_scan_call_fn call, void *ctx)
{
	struct sigaction sa = {.sa_handler = ctl_scan_on_sigint}, old;
	char id[64];
	json_t *st = json_incref(started);
	bool tty = isatty(2) && !json, cancelled = false;
	double last = 0;
	int code = 0;

	snprintf(id, sizeof(id), "%s", ctl_scan_raw(started, "id"));
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old);
	while (st && !strcmp(ctl_scan_raw(st, "state"), "running")) {
		if (!json)
			ctl_scan_progress(st, tty, &last);
		usleep(CTL_SCAN_POLL_MS * 1000);
		json_t *req = json_pack(
		    "{s:s, s:s}", "cmd",
		    ctl_scan_interrupted && !cancelled ? "scan-cancel" : "scan-status", "id", id);
		cancelled = cancelled || ctl_scan_interrupted;
		json_decref(st);
		st = call(ctx, req, &code);
		json_decref(req);
		if (st && code != 0) {
			char err[256];

			fprintf(stderr, "firegwctl: %s\n",
			        ctl_scan_str(st, "error", err, sizeof(err)));
			json_decref(st);
			st = NULL;
		}
	}
	sigaction(SIGINT, &old, NULL);
	if (tty)
		fprintf(stderr, "\r%70s\r", "");
	if (!st)
		return code ? code : 1;
	if (json) {
		char *s = json_dumps(st, JSON_INDENT(2) | JSON_SORT_KEYS);

		if (s)
			puts(s);
		free(s);
		/* The exit code the table would give. */
		bool ok =
		    !strcmp(ctl_scan_raw(st, "kind"), "probe")
		        ? json_is_true(json_object_get(json_object_get(st, "probe"), "answered"))
		        : json_array_size(json_object_get(st, "found")) > 0;
		code = !strcmp(ctl_scan_raw(st, "state"), "done") && ok ? 0 : 1;
	} else if (!strcmp(ctl_scan_raw(st, "kind"), "probe"))
		code = ctl_scan_print_probe(st);
	else
		code = ctl_scan_print_scan(st);
	json_decref(st);
	return code;
}
