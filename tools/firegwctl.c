/* SPDX-License-Identifier: MIT */
/* firegwctl: the installers' and operators' client of firegw's control socket. One request,
 * one reply: a human table by default, the daemon's JSON with --json. Exit codes: 0 ok,
 * 1 the daemon answered with an error (or the thing asked for is not there), 2 usage,
 * 3 the daemon cannot be reached. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control_request.h"
#include "ctl_report.h"
#include "ctl_scan.h"
#include "conf.h"
#include "log.h"
#include "textesc.h"
#include "firegw-config.h"

#define DEFAULT_SOCKET  "/run/firegw/control"
#define DEFAULT_CONF    FIREGW_SYSCONFDIR "/firegw.conf"
#define REPLY_MAX       (64 * 1024 * 1024)
#define REPLY_TIMEOUT_S 120

enum { EXIT_OK = 0, EXIT_ERROR = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3 };

struct firegwctl {
	const char *socket;
	bool json;
	int fd;
	struct ctl_report_opts report; /* report --csv, --csv-encoding */
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: firegwctl [-s SOCKET | -c FILE] [--json] COMMAND [ARGS]\n"
	           "\n"
	           "Commands:\n");
	/* The commands and their options are the daemon's own table (control_request.c). */
	for (size_t i = 0; i < CONTROL_NCMDS; i++) {
		const struct control_command *cc = &control_commands[i];
		char left[96];

		snprintf(left, sizeof(left), "%s%s%s", cc->name, *cc->usage ? " " : "", cc->usage);
		if (strlen(left) > 28)
			fprintf(f, "  %s\n  %-28s %s\n", left, "", cc->help);
		else
			fprintf(f, "  %-28s %s\n", left, cc->help);
	}
	fprintf(f,
	        "\n"
	        "Options:\n"
	        "  -s, --socket PATH   control socket (default: control_socket of the config, or\n"
	        "                      " DEFAULT_SOCKET ")\n"
	        "  -c, --config FILE   read control_socket from this config (default " DEFAULT_CONF
	        ")\n"
	        "  -j, --json          print the daemon's JSON reply\n"
	        "  -h, --help          show this help\n"
	        "  -V, --version       show the version\n"
	        "\n"
	        "Exit status: 0 ok, 1 error or not found, 2 usage, 3 firegw not reachable.\n");
}

/* ---------------------------------------------------------------- escaping */

/* Every text from the daemon goes through esc() before it is printed for a human: hazard
 * titles, locations, platform notes and reasons come from outside, and an ESC or a newline in
 * them must not drive the operator's terminal or forge output lines. --json
 * prints the reply as JSON, which escapes them itself. */
#define ESC_RING 64

static char *esc_ring[ESC_RING];
static unsigned esc_next;

/* s escaped by textesc; valid until ESC_RING more calls (one printf needs far fewer). */
static const char *esc(const char *s)
{
	char **slot = &esc_ring[esc_next++ % ESC_RING];

	free(*slot);
	*slot = textesc_dup(s);
	return *slot ? *slot : "(out of memory)";
}

static void esc_release(void)
{
	for (size_t i = 0; i < ESC_RING; i++) {
		free(esc_ring[i]);
		esc_ring[i] = NULL;
	}
}

/* ---------------------------------------------------------------- talking to the daemon */

static int firegwctl_connect(struct firegwctl *c)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	if (strlen(c->socket) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "firegwctl: socket path %s is too long\n", c->socket);
		return EXIT_USAGE;
	}
	memcpy(sa.sun_path, c->socket, strlen(c->socket) + 1);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int e = errno;

		if (e == ENOENT || e == ECONNREFUSED)
			fprintf(
			    stderr,
			    "firegwctl: firegw is not running (nothing answers on %s); start it "
			    "with 'systemctl start firegw', or give the socket with -s\n",
			    c->socket);
		else if (e == EACCES)
			fprintf(stderr,
			        "firegwctl: %s: permission denied; run as root or as a member of "
			        "group firegw\n",
			        c->socket);
		else
			fprintf(stderr, "firegwctl: %s: %s\n", c->socket, strerror(e));
		return EXIT_UNREACHABLE;
	}
	return EXIT_OK;
}

static int firegwctl_send_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Sends one request, returns the reply (new reference) or NULL with the reason printed. */
static json_t *firegwctl_call(struct firegwctl *c, json_t *req, int *exit_code)
{
	char *text = json_dumps(req, JSON_COMPACT);
	char *buf = NULL, *nl = NULL;
	size_t len = 0, cap = 0;
	json_error_t err;
	json_t *reply;

	*exit_code = EXIT_UNREACHABLE;
	if (!text)
		return NULL;
	size_t tl = strlen(text);
	text[tl] = '\0';
	/* firegw may have answered and closed before the request went (it refuses a peer at
	 * accept): a send that fails is reported only when no reply is waiting. */
	int send_errno = 0;
	if (firegwctl_send_all(c->fd, text, tl) != 0 || firegwctl_send_all(c->fd, "\n", 1) != 0)
		send_errno = errno;
	free(text);
	while (!nl) {
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		/* After a failed send, only a reply already waiting counts. */
		int pr = poll(&pfd, 1, send_errno ? 0 : REPLY_TIMEOUT_S * 1000);

		if (pr < 0 && errno == EINTR)
			continue;
		if (pr == 0 && send_errno)
			break; /* no reply waits: the send's failure is the news */
		if (pr == 0) {
			fprintf(stderr, "firegwctl: firegw did not answer within %d s\n",
			        REPLY_TIMEOUT_S);
			free(buf);
			return NULL;
		}
		if (len + 65536 > cap) {
			if (cap >= REPLY_MAX) {
				fprintf(stderr, "firegwctl: reply longer than %d bytes\n",
				        REPLY_MAX);
				free(buf);
				return NULL;
			}
			cap = cap ? cap * 2 : 65536 * 2;
			char *b = realloc(buf, cap);
			if (!b) {
				free(buf);
				return NULL;
			}
			buf = b;
		}
		ssize_t n = recv(c->fd, buf + len, cap - len, send_errno ? MSG_DONTWAIT : 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 && send_errno)
			break;
		if (n <= 0) {
			fprintf(stderr,
			        "firegwctl: firegw closed the connection without a reply\n");
			free(buf);
			return NULL;
		}
		nl = memchr(buf + len, '\n', (size_t)n);
		len += (size_t)n;
	}
	if (!nl) {
		fprintf(stderr, "firegwctl: cannot send to firegw on %s: %s\n", c->socket,
		        strerror(send_errno));
		free(buf);
		return NULL;
	}
	reply = json_loadb(buf, (size_t)(nl - buf), 0, &err);
	free(buf);
	if (!json_is_object(reply)) {
		fprintf(stderr, "firegwctl: firegw's reply is not a JSON object: %s\n",
		        esc(err.text));
		json_decref(reply);
		return NULL;
	}
	*exit_code = json_is_true(json_object_get(reply, "ok")) ? EXIT_OK : EXIT_ERROR;
	return reply;
}

/* firegwctl_call for the helpers that follow a job (ctl_scan.c). */
static json_t *firegwctl_call_ctx(void *ctx, json_t *req, int *exit_code)
{
	return firegwctl_call(ctx, req, exit_code);
}

/* ---------------------------------------------------------------- printing */

/* A string member as the daemon sent it: for comparing and for sending back, not printing. */
static const char *raw(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

/* A string member escaped for printing. */
static const char *str(json_t *o, const char *key)
{
	return esc(raw(o, key));
}

static long long num(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? (long long)json_integer_value(v)
	       : json_is_real(v)  ? (long long)json_real_value(v)
	                          : 0;
}

/* "2026-11-23T08:00:01.123Z" → "2026-11-23 08:00:01" (UTC, as the ledger keeps it). */
static const char *when(json_t *o, const char *key, char *buf, size_t len)
{
	const char *s = json_string_value(json_object_get(o, key));

	if (!s || strlen(s) < 19)
		return "-";
	snprintf(buf, len, "%.10s %.8s", s, s + 11);
	return esc(buf);
}

static void duration(long long s, char *buf, size_t len)
{
	if (s < 120)
		snprintf(buf, len, "%lld s", s);
	else if (s < 7200)
		snprintf(buf, len, "%lld min", s / 60);
	else if (s < 172800)
		snprintf(buf, len, "%lld h %lld min", s / 3600, s / 60 % 60);
	else
		snprintf(buf, len, "%lld d %lld h", s / 86400, s / 3600 % 24);
}

static void bytes(long long b, char *buf, size_t len)
{
	if (b < 0)
		snprintf(buf, len, "unknown");
	else if (b >= 1LL << 30)
		snprintf(buf, len, "%.1f GiB", (double)b / (double)(1LL << 30));
	else
		snprintf(buf, len, "%.1f MiB", (double)b / (double)(1LL << 20));
}

static void value_text(json_t *v, char *buf, size_t len)
{
	json_t *x = json_object_get(v, "value");
	const char *unit = str(v, "unit");

	if (!json_is_number(x))
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%g%s%s", json_number_value(x), unit[0] ? " " : "", unit);
}

/* "leak 12 mA, t1 24.5 °C" from a device's values object. */
static void values_line(json_t *values, char *buf, size_t len)
{
	const char *k;
	json_t *v;
	size_t used = 0;

	buf[0] = '\0';
	json_object_foreach(values, k, v)
	{
		char one[64];

		value_text(v, one, sizeof(one));
		int n = snprintf(buf + used, len - used, "%s%s %s", used ? ", " : "", esc(k), one);
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
}

static void print_devices(json_t *devs)
{
	size_t i;
	json_t *d;
	char t[32], vals[512];

	printf("%-16s %-6s %-16s %-26s %-19s %s\n", "DEVICE", "TYPE", "WHERE", "STATE", "LAST OK",
	       "LOCATION");
	json_array_foreach(devs, i, d)
	{
		char where[64], state[64];

		if (!strcmp(raw(d, "type"), "modbus"))
			snprintf(where, sizeof(where), "%s/%lld", str(d, "bus"), num(d, "unit"));
		else
			snprintf(where, sizeof(where), "key %s", str(d, "key"));
		if (json_is_true(json_object_get(d, "backing_off")))
			snprintf(state, sizeof(state), "%s, retry in %lld s", str(d, "why"),
			         num(d, "retry_in_s"));
		else
			snprintf(state, sizeof(state), "%s", str(d, "why"));
		printf("%-16s %-6s %-16s %-26s %-19s %s\n", str(d, "id"), str(d, "type"), where,
		       state, when(d, "last_ok", t, sizeof(t)), str(d, "location"));
		values_line(json_object_get(d, "values"), vals, sizeof(vals));
		if (vals[0] && json_is_true(json_object_get(d, "online")))
			printf("%16s   %s\n", "", vals);
	}
}

static void print_status(json_t *r)
{
	char up[32], age[32], disk[32], t[32];
	json_t *g = json_object_get(r, "open_hazards"), *ob = json_object_get(r, "outbox"),
	       *lg = json_object_get(r, "ledger");
	long long pending =
	    num(r, "devices_total") - num(r, "devices_online") - num(r, "devices_offline");

	duration(num(r, "uptime_s"), up, sizeof(up));
	printf("gateway       %s (firegw %s, up %s)\n", str(r, "gateway"), str(r, "version"), up);
	printf("devices       %lld online, %lld offline, %lld not yet heard (of %lld)\n",
	       num(r, "devices_online"), num(r, "devices_offline"), pending,
	       num(r, "devices_total"));
	printf("open hazards  immediate %lld, major %lld, significant %lld, general %lld\n",
	       num(g, "immediate"), num(g, "major"), num(g, "significant"), num(g, "general"));
	duration(num(r, "oldest_unsent_age_s"), age, sizeof(age));
	printf("outbox        alarm %lld, telemetry %lld; oldest unsent %s\n", num(ob, "alarm"),
	       num(ob, "telemetry"), num(ob, "alarm") ? age : "-");
	json_t *dests = json_object_get(r, "destinations"), *dd;
	size_t di;
	if (json_array_size(dests) == 0)
		printf("platform      off (no platform section, or its token file is missing); "
		       "events wait in the outbox\n");
	json_array_foreach(dests, di, dd)
	{
		/* One line a destination; "platform" for the one of an unnamed block. */
		const char *dn = str(dd, "name");

		if (!json_is_true(json_object_get(dd, "enabled"))) {
			printf("%-13s %s: off (its token or password file is missing); %lld event(s) "
			       "wait\n",
			       strcmp(dn, "platform") ? dn : "platform", str(dd, "url"),
			       num(dd, "outbox"));
			continue;
		}
		duration(num(dd, "oldest_unsent_age_s"), age, sizeof(age));
		printf("%-13s %s; last upload %s; %lld waiting%s%s", dn, str(dd, "url"),
		       when(dd, "last_success", t, sizeof(t)), num(dd, "outbox"),
		       num(dd, "outbox") ? ", oldest " : "", num(dd, "outbox") ? age : "");
		if (num(dd, "failures_in_a_row"))
			printf("; %lld failure(s) in a row, retry in %lld s: %s",
			       num(dd, "failures_in_a_row"), num(dd, "retry_in_s"),
			       str(dd, "last_error"));
		printf("\n");
	}
	json_t *mq = json_object_get(r, "mqtt");
	if (mq) {
		if (json_is_true(json_object_get(mq, "connected")))
			printf(
			    "mqtt broker   connected; %lld message(s), %lld from unknown devices\n",
			    num(mq, "messages"), num(mq, "unknown_device"));
		else
			printf("mqtt broker   not connected: %s\n", str(mq, "last_error"));
	}
	bytes(num(r, "disk_free_bytes"), disk, sizeof(disk));
	printf("disk free     %s\n", disk);
	printf("ledger        %s: %lld events, %lld dead letter(s)", str(lg, "path"),
	       num(lg, "events"), num(lg, "dead_letters"));
	if (json_is_false(json_object_get(lg, "ok")))
		printf("\n              NOT RECORDING since %s (%lld failed commit(s)): %s\n",
		       when(lg, "since", t, sizeof(t)), num(lg, "failed_commits"),
		       str(lg, "error"));
	else if (num(lg, "failed_commits"))
		printf("; recording (%lld failed commit(s) since the start)\n",
		       num(lg, "failed_commits"));
	else
		printf("\n");
	printf("\n");
	print_devices(json_object_get(r, "devices"));
}

static void hazard_flags(json_t *h, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s%s", json_is_true(json_object_get(h, "active")) ? "active " : "",
	         json_is_true(json_object_get(h, "overdue")) ? "overdue " : "",
	         json_is_true(json_object_get(h, "test")) ? "test " : "",
	         json_is_true(json_object_get(h, "suspect_rectification")) ? "suspect " : "");
}

static void print_hazards(json_t *list)
{
	size_t i;
	json_t *h;
	char t[32], flags[64], where[140];

	if (json_array_size(list) == 0) {
		printf("no hazards\n");
		return;
	}
	printf("%-20s %-11s %-18s %-18s %-28s %-19s %s\n", "ID", "GRADE", "STATUS", "KIND",
	       "DEVICE/POINT", "FIRST SEEN", "FLAGS");
	json_array_foreach(list, i, h)
	{
		hazard_flags(h, flags, sizeof(flags));
		snprintf(where, sizeof(where), "%s/%s", str(h, "device_id"), str(h, "point"));
		printf("%-20s %-11s %-18s %-18s %-28s %-19s %s\n", str(h, "id"), str(h, "grade"),
		       str(h, "status"), str(h, "kind"), where, when(h, "first_seen", t, sizeof(t)),
		       flags);
	}
}

static void print_hazard(json_t *r)
{
	json_t *h = json_object_get(r, "hazard"), *ev = json_object_get(r, "events"), *e, *v;
	static const char *const fields[] = {"id",          "title",
	                                     "kind",        "grade",
	                                     "status",      "device_id",
	                                     "point",       "location",
	                                     "value",       "peak",
	                                     "threshold",   "unit",
	                                     "first_seen",  "last_seen",
	                                     "cleared_at",  "closed_at",
	                                     "deadline",    "occurrences",
	                                     "escalations", "recurrence_of",
	                                     "responsible", "responsible_phone",
	                                     "assignee",    "rectification_deadline"};
	char flags[64];
	size_t i;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		v = json_object_get(h, fields[i]);
		if (!v || json_is_null(v))
			continue;
		if (json_is_string(v))
			printf("%-22s %s\n", fields[i], esc(json_string_value(v)));
		else if (json_is_integer(v))
			printf("%-22s %lld\n", fields[i], (long long)json_integer_value(v));
		else if (json_is_real(v))
			printf("%-22s %g\n", fields[i], json_real_value(v));
	}
	hazard_flags(h, flags, sizeof(flags));
	if (flags[0])
		printf("%-22s %s\n", "flags", flags);
	printf("\n%-8s %-14s %-24s %s\n", "SEQ", "EVENT", "AT", "DELIVERY");
	json_array_foreach(ev, i, e)
	{
		printf("%-8lld %-14s %-24s %s%s%s\n", num(e, "seq"), str(e, "type"), str(e, "at"),
		       str(e, "delivery"), json_object_get(e, "reason") ? ": " : "",
		       str(e, "reason"));
	}
}

static void print_outbox(json_t *r)
{
	json_t *lanes = json_object_get(r, "lanes"), *ev = json_object_get(r, "events"), *e;
	const char *name;
	json_t *lane;
	char age[32], t[32];
	size_t i;

	json_object_foreach(lanes, name, lane)
	{
		duration(num(lane, "oldest_age_s"), age, sizeof(age));
		printf("%-10s %lld waiting%s%s\n", esc(name), num(lane, "depth"),
		       num(lane, "depth") ? ", oldest " : "", num(lane, "depth") ? age : "");
	}
	json_array_foreach(json_object_get(r, "destinations"), i, e)
	{
		const char *dn = str(e, "destination");

		duration(num(e, "oldest_age_s"), age, sizeof(age));
		printf("  for %-14s %lld waiting, oldest %s\n", *dn ? dn : "(none yet)",
		       num(e, "depth"), age);
	}
	if (json_array_size(ev) == 0)
		return;
	printf("\n%-8s %-20s %-14s %-14s %-19s %s\n", "SEQ", "HAZARD", "EVENT", "DESTINATION",
	       "CREATED", "ATTEMPTS");
	json_array_foreach(ev, i, e)
	{
		printf("%-8lld %-20s %-14s %-14s %-19s %lld\n", num(e, "seq"), str(e, "hazard_id"),
		       str(e, "type"), str(e, "destination"), when(e, "created", t, sizeof(t)),
		       num(e, "attempts"));
	}
}

static void print_deadletter(json_t *list)
{
	json_t *e;
	char t[32];
	size_t i;

	if (json_array_size(list) == 0) {
		printf("no dead letters: the platform has rejected nothing\n");
		return;
	}
	printf("%-8s %-20s %-14s %-19s %s\n", "SEQ", "HAZARD", "EVENT", "REJECTED", "REASON");
	json_array_foreach(list, i, e)
	{
		printf("%-8lld %-20s %-14s %-19s %s\n", num(e, "seq"), str(e, "hazard_id"),
		       str(e, "type"), when(e, "rejected_at", t, sizeof(t)), str(e, "reason"));
	}
}

static void print_error(json_t *r)
{
	size_t i;
	json_t *e;

	fprintf(stderr, "firegwctl: %s\n", str(r, "error"));
	json_array_foreach(json_object_get(r, "errors"), i, e)
	    fprintf(stderr, "  %s\n", esc(json_string_value(e)));
}

static void print_json(json_t *r)
{
	char *s = json_dumps(r, JSON_INDENT(2) | JSON_SORT_KEYS);

	if (s)
		puts(s);
	free(s);
}

/* ---------------------------------------------------------------- commands */

/* Waits until every event of the test item has left the outbox (accepted or rejected). */
static int firegwctl_test_wait(struct firegwctl *c, const char *hazard_id, double wait_s)
{
	struct timespec t0, now;
	int code = EXIT_ERROR;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		json_t *req = json_pack("{s:s, s:s}", "cmd", "hazard", "id", hazard_id), *r, *e;
		size_t i, queued = 0, rejected = 0;

		close(c->fd);
		if ((code = firegwctl_connect(c)) != EXIT_OK) {
			json_decref(req);
			return code;
		}
		r = firegwctl_call(c, req, &code);
		json_decref(req);
		if (!r)
			return code;
		if (code != EXIT_OK) {
			print_error(r);
			json_decref(r);
			return code;
		}
		json_array_foreach(json_object_get(r, "events"), i, e)
		{
			if (!strcmp(raw(e, "delivery"), "queued"))
				queued++;
			else if (!strcmp(raw(e, "delivery"), "rejected")) {
				rejected++;
				if (!c->json)
					printf("rejected by the platform: %s %s: %s\n",
					       str(e, "type"), str(e, "event_id"),
					       str(e, "reason"));
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		double el =
		    (double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9;
		if (queued == 0) {
			if (c->json)
				print_json(r);
			else if (!rejected)
				printf("accepted by the platform after %.1f s: the test alarm went "
				       "end "
				       "to end\n",
				       el);
			json_decref(r);
			return rejected ? EXIT_ERROR : EXIT_OK;
		}
		if (el >= wait_s) {
			if (c->json)
				print_json(r);
			else
				printf(
				    "not accepted by the platform within %.0f s; it waits in the "
				    "outbox ('firegwctl outbox', 'firegwctl status' show why)\n",
				    wait_s);
			json_decref(r);
			return EXIT_ERROR;
		}
		json_decref(r);
		usleep(100 * 1000);
	}
}

static int firegwctl_run(struct firegwctl *c, const char *cmd, json_t *req, double wait_s)
{
	int code;
	json_t *r = firegwctl_call(c, req, &code);

	if (!r)
		return code;
	if (code != EXIT_OK) {
		if (c->json)
			print_json(r);
		else
			print_error(r);
		json_decref(r);
		return code;
	}
	if (!strcmp(cmd, "scan") || !strcmp(cmd, "probe")) {
		code = ctl_scan_follow(r, c->json, firegwctl_call_ctx, c);
		json_decref(r);
		return code;
	}
	if (!strcmp(cmd, "test")) {
		const char *id = raw(r, "hazard_id");

		if (!c->json)
			printf("test alarm %s raised and cleared on %s\n", esc(id),
			       str(r, "device"));
		if (!json_is_true(json_object_get(r, "platform"))) {
			if (c->json)
				print_json(r);
			else
				printf(
				    "no platform uplink is running: the test stays in the outbox "
				    "('firegwctl status' says why)\n");
			json_decref(r);
			return EXIT_ERROR;
		}
		char idbuf[128];
		snprintf(idbuf, sizeof(idbuf), "%s", id);
		json_decref(r);
		return firegwctl_test_wait(c, idbuf, wait_s);
	}
	if (c->json)
		print_json(r);
	else if (!strcmp(cmd, "status"))
		print_status(r);
	else if (!strcmp(cmd, "devices"))
		print_devices(json_object_get(r, "devices"));
	else if (!strcmp(cmd, "hazards"))
		print_hazards(json_object_get(r, "hazards"));
	else if (!strcmp(cmd, "hazard"))
		print_hazard(r);
	else if (!strcmp(cmd, "outbox"))
		print_outbox(r);
	else if (!strcmp(cmd, "deadletter"))
		print_deadletter(json_object_get(r, "deadletter"));
	else if (!strcmp(cmd, "report")) {
		code = ctl_report_print(json_object_get(r, "report"), &c->report) ? EXIT_ERROR
		                                                                  : EXIT_OK;
		json_decref(r);
		return code;
	}
	else if (!strcmp(cmd, "reload"))
		printf("configuration reloaded from %s: %lld buses, %lld devices\n",
		       str(r, "config"), num(r, "buses"), num(r, "devices"));
	json_decref(r);
	return EXIT_OK;
}

/* The command's own options and arguments, into a request, by the daemon's table of
 * commands and options (control_request.h). NULL on a usage error. */
static json_t *firegwctl_request(const char *cmd, int argc, char **argv, double *wait_s,
                                 struct ctl_report_opts *rep)
{
	struct option opts[16];
	const struct control_command *cc = control_command_find(cmd);
	json_t *req;
	size_t n = 0;
	int o;

	if (!cc) {
		fprintf(stderr, "firegwctl: unknown command '%s'\n", esc(cmd));
		return NULL;
	}
	for (const struct control_option *co = control_options; co->name && n < 15; co++)
		opts[n++] = (struct option){co->name,
		                            co->type == CONTROL_OPT_FLAG ||
		                                    co->type == CONTROL_OPT_LOCAL_FLAG
		                                ? no_argument
		                                : required_argument,
		                            NULL, co->letter};
	opts[n] = (struct option){NULL, 0, NULL, 0};
	req = json_pack("{s:s}", "cmd", cmd);
	/* Options may come before or after the argument (test DEVICE --wait 60). optind 0
	 * makes glibc start over, forgetting the "+" of the first parse. */
	optind = 0;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		const struct control_option *co = control_options;
		char *end;

		while (co->name && co->letter != o)
			co++;
		if (o == '?' || !co->name || !strchr(cc->options, o)) {
			if (o != '?')
				fprintf(stderr, "firegwctl: %s does not take %s\n", cmd,
				        esc(argv[optind - 1]));
			json_decref(req);
			return NULL;
		}
		switch (co->type) {
		case CONTROL_OPT_FLAG:
			json_object_set_new(req, co->name, json_true());
			break;
		case CONTROL_OPT_STRING:
			json_object_set_new(req, co->name, json_string(optarg));
			break;
		case CONTROL_OPT_COUNT: {
			long v = strtol(optarg, &end, 10);

			if (*end || v <= 0) {
				fprintf(stderr, "firegwctl: --%s wants a positive number\n", co->name);
				json_decref(req);
				return NULL;
			}
			json_object_set_new(req, co->name, json_integer(v));
			break;
		}
		case CONTROL_OPT_LOCAL_FLAG: /* report --csv */
			rep->csv = true;
			break;
		case CONTROL_OPT_LOCAL: /* --wait, --csv-encoding */
			if (co->letter == 'e') {
				rep->encoding = optarg;
				if (!ctl_report_encoding_ok(optarg)) {
					fprintf(stderr, "firegwctl: --csv-encoding is utf-8 or gb18030\n");
					json_decref(req);
					return NULL;
				}
				break;
			}
			*wait_s = strtod(optarg, &end);
			if (*end || !(*wait_s >= 0)) {
				fprintf(stderr, "firegwctl: --wait wants seconds\n");
				json_decref(req);
				return NULL;
			}
			break;
		}
	}
	if (argc - optind != (cc->arg ? 1 : 0)) {
		fprintf(stderr, "firegwctl: %s %s (firegwctl %s %s)\n", cmd,
		        cc->arg ? "takes one argument" : "takes no argument", cmd, cc->usage);
		json_decref(req);
		return NULL;
	}
	if (cc->arg)
		json_object_set_new(req, cc->arg, json_string(argv[optind]));
	if (!strcmp(cmd, "report") && !json_object_get(req, "month") == !json_object_get(req, "week")) {
		fprintf(stderr, "firegwctl: report needs --month YYYY-MM or --week YYYY-MM-DD\n");
		json_decref(req);
		return NULL;
	}
	return req;
}

/* control_socket from a config file, if it loads. */
static char *firegwctl_socket_from_conf(const char *path, bool must)
{
	struct conf_errors errs;
	struct conf *c;
	char *sock = NULL;

	if (!must && access(path, R_OK) != 0)
		return NULL;
	conf_errors_init(&errs);
	c = conf_load(path, &errs);
	if (c)
		sock = strdup(c->control_socket);
	else if (must)
		fprintf(stderr, "firegwctl: %s has errors ('firegw check -c %s' lists them)\n",
		        path, path);
	conf_free(c);
	conf_errors_finish(&errs);
	return sock;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"socket", required_argument, NULL, 's'}, {"config", required_argument, NULL, 'c'},
	    {"json", no_argument, NULL, 'j'},         {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},      {NULL, 0, NULL, 0},
	};
	struct firegwctl c = {.fd = -1};
	const char *conf_path = NULL;
	char *from_conf = NULL;
	double wait_s = 30;
	int o, code;

	while ((o = getopt_long(argc, argv, "+s:c:jhV", opts, NULL)) != -1) {
		switch (o) {
		case 's':
			c.socket = optarg;
			break;
		case 'c':
			conf_path = optarg;
			break;
		case 'j':
			c.json = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			printf("firegwctl %s\n", FIREGW_VERSION);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[optind];
	/* --json may also follow the command. */
	int sub_argc = argc - optind;
	char **sub_argv = argv + optind;
	for (int i = 1; i < sub_argc; i++)
		if (!strcmp(sub_argv[i], "--json") || !strcmp(sub_argv[i], "-j")) {
			c.json = true;
			memmove(&sub_argv[i], &sub_argv[i + 1],
			        sizeof(char *) * (size_t)(sub_argc - i));
			sub_argc--;
			i--;
		}
	json_t *req = firegwctl_request(cmd, sub_argc, sub_argv, &wait_s, &c.report);
	if (!req) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!c.socket) {
		log_init(LOG_LVL_ERR, false);
		from_conf = firegwctl_socket_from_conf(conf_path ? conf_path : DEFAULT_CONF, conf_path);
		if (conf_path && !from_conf) {
			json_decref(req);
			return EXIT_USAGE;
		}
		c.socket = from_conf ? from_conf : DEFAULT_SOCKET;
	}
	code = firegwctl_connect(&c);
	if (code == EXIT_OK)
		code = firegwctl_run(&c, cmd, req, wait_s);
	json_decref(req);
	if (c.fd >= 0)
		close(c.fd);
	free(from_conf);
	esc_release();
	return code;
}
