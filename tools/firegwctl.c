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
#include "dispwidth.h"
#include "i18n.h"
#include "log.h"
#include "textesc.h"
#include "firegw-config.h"
#include "i18n.h"

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
	fprintf(f, _("Usage: firegwctl [-s SOCKET | -c FILE] [--json] COMMAND [ARGS]\n"
	           "\n"
	           "Commands:\n"));
	/* The commands and their options are the daemon's own table (control_request.c). */
	for (size_t i = 0; i < CONTROL_NCMDS; i++) {
		const struct control_command *cc = &control_commands[i];
		char left[96];

		snprintf(left, sizeof(left), "%s%s%s", cc->name, *cc->usage ? " " : "", cc->usage);
		if (strlen(left) > 28)
			fprintf(f, "  %s\n  %-28s %s\n", left, "", _(cc->help));
		else
			fprintf(f, "  %-28s %s\n", left, _(cc->help));
	}
	fprintf(f,
	        _("\n"
	          "Options:\n"
	          "  -s, --socket PATH   control socket (default: control_socket of the config, or\n"
	          "                      %s)\n"
	          "  -c, --config FILE   read control_socket from this config (default %s)\n"
	          "  -j, --json          print the daemon's JSON reply\n"
	          "  -h, --help          show this help\n"
	          "  -V, --version       show the version\n"
	          "\n"
	          "Exit status: 0 ok, 1 error or not found, 2 usage, 3 firegw not reachable.\n"),
	        DEFAULT_SOCKET, DEFAULT_CONF);
}

/* ---------------------------------------------------------------- escaping */

/* Every text from the daemon goes through esc() before it is printed for a human: hazard
 * titles, locations, platform notes and reasons come from outside, and an ESC or a newline in
 * them must not drive the operator's terminal or forge output lines. --json
 * prints the reply as JSON, which escapes them itself. */
#define ESC_RING 64

static char *esc_ring[ESC_RING];
static unsigned esc_next;

/* Keeps `p` (malloc'ed, may be NULL) for ESC_RING more calls (one printf needs far fewer). */
static const char *esc_keep(char *p)
{
	char **slot = &esc_ring[esc_next++ % ESC_RING];

	free(*slot);
	*slot = p;
	return *slot ? *slot : "(out of memory)";
}

/* s escaped by textesc, valid as esc_keep says. */
static const char *esc(const char *s)
{
	return esc_keep(textesc_dup(s));
}

/* A column: s (escaped already, or our own text) padded with spaces to w terminal columns,
 * so that Chinese text lines up (printf's %-16s counts bytes). */
static const char *col(const char *s, int w)
{
	char buf[1024];

	return esc_keep(strdup(dispwidth_pad(buf, sizeof(buf), s, w)));
}

/* As col, a longer text cut to the column's width with "…" (the full text is elsewhere). */
static const char *col_cut(const char *s, int w)
{
	char buf[1024];

	return esc_keep(strdup(dispwidth_cut(buf, sizeof(buf), s, w)));
}

/* An enum name from the daemon ("major", "open", "no_answer") in the reader's language, as
 * the table of words below says; escaped. */
static const char *word(const char *ctx, const char *key)
{
	return esc(i18n_word(ctx, key));
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
		fprintf(stderr, _("firegwctl: socket path %s is too long\n"), c->socket);
		return EXIT_USAGE;
	}
	memcpy(sa.sun_path, c->socket, strlen(c->socket) + 1);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int e = errno;

		if (e == ENOENT || e == ECONNREFUSED)
			fprintf(
			    stderr,
			    _("firegwctl: firegw is not running (nothing answers on %s); start it "
			    "with 'systemctl start firegw', or give the socket with -s\n"),
			    c->socket);
		else if (e == EACCES)
			fprintf(stderr,
			        _("firegwctl: %s: permission denied; run as root or as a member of "
			        "group firegw\n"),
			        c->socket);
		else
			fprintf(stderr, _("firegwctl: %s: %s\n"), c->socket, strerror(e));
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
			fprintf(stderr, _("firegwctl: firegw did not answer within %d s\n"),
			        REPLY_TIMEOUT_S);
			free(buf);
			return NULL;
		}
		if (len + 65536 > cap) {
			if (cap >= REPLY_MAX) {
				fprintf(stderr, _("firegwctl: reply longer than %d bytes\n"),
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
			        _("firegwctl: firegw closed the connection without a reply\n"));
			free(buf);
			return NULL;
		}
		nl = memchr(buf + len, '\n', (size_t)n);
		len += (size_t)n;
	}
	if (!nl) {
		fprintf(stderr, _("firegwctl: cannot send to firegw on %s: %s\n"), c->socket,
		        strerror(send_errno));
		free(buf);
		return NULL;
	}
	reply = json_loadb(buf, (size_t)(nl - buf), 0, &err);
	free(buf);
	if (!json_is_object(reply)) {
		fprintf(stderr, _("firegwctl: firegw's reply is not a JSON object: %s\n"),
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

/* "2026-11-23T13:40:02.123Z" (UTC, as the ledger and JSON keep it) → "2026-11-23 21:40:02 +08",
 * the local time with its offset, for people. */
static const char *when_text(const char *s, char *buf, size_t len)
{
	struct tm tm, lt;
	char day[32], off[16];
	const char *end;

	memset(&tm, 0, sizeof(tm));
	if (!s || !(end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)))
		return "-";
	time_t t = timegm(&tm);
	if (t == (time_t)-1 || !localtime_r(&t, &lt) ||
	    strftime(day, sizeof(day), "%Y-%m-%d %H:%M:%S", &lt) == 0)
		return "-";
	long g = lt.tm_gmtoff < 0 ? -lt.tm_gmtoff : lt.tm_gmtoff;
	if (g % 3600)
		snprintf(off, sizeof(off), "%c%02ld:%02ld", lt.tm_gmtoff < 0 ? '-' : '+', g / 3600,
		         g / 60 % 60);
	else
		snprintf(off, sizeof(off), "%c%02ld", lt.tm_gmtoff < 0 ? '-' : '+', g / 3600);
	snprintf(buf, len, "%s %s", day, off);
	return buf;
}

static const char *when(json_t *o, const char *key, char *buf, size_t len)
{
	return esc(when_text(json_string_value(json_object_get(o, key)), buf, len));
}

static void duration(long long s, char *buf, size_t len)
{
	if (s < 120)
		snprintf(buf, len, _("%lld s"), s);
	else if (s < 7200)
		snprintf(buf, len, _("%lld min"), s / 60);
	else if (s < 172800)
		snprintf(buf, len, _("%lld h %lld min"), s / 3600, s / 60 % 60);
	else
		snprintf(buf, len, _("%lld d %lld h"), s / 86400, s / 3600 % 24);
}

static void bytes(long long b, char *buf, size_t len)
{
	if (b < 0)
		snprintf(buf, len, _("unknown"));
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

/* The enum names a table shows, in the reader's language (i18n_word). */
static const char *const firegwctl_words[] __attribute__((unused)) = {
    NC_("grade", "immediate"), NC_("grade", "major"), NC_("grade", "significant"),
    NC_("grade", "general"),   NC_("status", "open"), NC_("status", "acknowledged"),
    NC_("status", "rectifying"), NC_("status", "pending_acceptance"), NC_("status", "closed"),
    NC_("kind", "fire_alarm"), NC_("kind", "residual_current"), NC_("kind", "overtemperature"),
    NC_("kind", "arc_fault"), NC_("kind", "overcurrent"), NC_("kind", "overvoltage"),
    NC_("kind", "undervoltage"), NC_("kind", "sensor_fault"), NC_("kind", "device_offline"),
    NC_("kind", "low_battery"), NC_("kind", "tamper"), NC_("kind", "device_fault"),
    NC_("kind", "ledger_corrupt"), NC_("event", "raised"), NC_("event", "escalated"),
    NC_("event", "recurred"), NC_("event", "cleared"), NC_("event", "silenced"),
    NC_("event", "overdue"), NC_("event", "reopened"), NC_("event", "acknowledged"),
    NC_("event", "assigned"), NC_("event", "accepted"), NC_("event", "closed"),
    NC_("event", "resync"), NC_("event", "test"), NC_("delivery", "queued"),
    NC_("delivery", "accepted"), NC_("delivery", "rejected"), NC_("delivery", "not_sent"),
    NC_("type", "modbus"), NC_("type", "mqtt"), NC_("lane", "alarm"),
    NC_("lane", "telemetry"),
    NC_("kind", "repeated_false_alarm"), NC_("class", "incident"), NC_("class", "hazard"),
    NC_("event", "escalation_suggested"), NC_("event", "regraded"), NC_("event", "worsened"),
    NC_("event", "verified"), NC_("event", "acceptance_passed"),
    NC_("event", "acceptance_failed"), NC_("event", "supervised"), NC_("event", "deferred"),
    NC_("event", "order_overdue"), NC_("event", "acceptance_overdue"),
};

/* Why a device has no data, as status.c words it ("ok", "exception 2", "link down (...)",
 * "silent; last payload bad (not JSON)", "pending; broker not connected"): each phrase it is
 * made of translated, what comes from outside (an errno text, a broker's error) as written. */
static const char *const firegwctl_why[] = {
    NC_("why", "pending"),
    NC_("why", "ok"),
    NC_("why", "timeout"),
    NC_("why", "exception"),
    NC_("why", "crc"),
    NC_("why", "garbage"),
    NC_("why", "link down"),
    NC_("why", "bad config"),
    NC_("why", "bad payload"),
    NC_("why", "silent"),
    NC_("why", "unknown"),
    NC_("why", "last payload bad"),
    NC_("why", "no MQTT client"),
    NC_("why", "broker not connected"),
    NC_("why", "payload too big"),
    NC_("why", "invalid UTF-8"),
    NC_("why", "not JSON"),
    NC_("why", "not a JSON object"),
    NC_("why", "no device key"),
    NC_("why", "wrong type"),
    NC_("why", "unknown event code"),
};

static const char *why_text(const char *why)
{
	char out[512];
	size_t used = 0;

	out[0] = '\0';
	while (*why && used + 1 < sizeof(out)) {
		size_t best = 0;
		const char *word = NULL;

		/* The longest phrase that starts here and ends at a word's end. */
		for (size_t i = 0; i < sizeof(firegwctl_why) / sizeof(firegwctl_why[0]); i++) {
			size_t n = strlen(firegwctl_why[i]);

			if (n > best && strncmp(why, firegwctl_why[i], n) == 0 &&
			    (!why[n] || strchr(" ;(),:", why[n]))) {
				best = n;
				word = i18n_word("why", firegwctl_why[i]);
			}
		}
		if (!word) { /* copy up to the next separator, as it is */
			best = strcspn(why, " ;(),:");
			best += best == 0;
			snprintf(out + used, sizeof(out) - used, "%.*s", (int)best, why);
		} else {
			snprintf(out + used, sizeof(out) - used, "%s", word);
		}
		used += strlen(out + used);
		why += best;
	}
	return esc(out);
}

static void print_devices(json_t *devs)
{
	size_t i;
	json_t *d;
	char t[40], vals[512];

	printf("%s %s %s %s %s %s\n", col(_("DEVICE"), 16), col(_("TYPE"), 6),
	       col(_("WHERE"), 16), col(_("STATE"), 26), col(_("LAST OK"), 23),
	       _("LOCATION"));
	json_array_foreach(devs, i, d)
	{
		char where[64], state[160];

		if (!strcmp(raw(d, "type"), "modbus"))
			snprintf(where, sizeof(where), "%s/%lld", str(d, "bus"), num(d, "unit"));
		else
			snprintf(where, sizeof(where), _("key %s"), str(d, "key"));
		if (json_is_true(json_object_get(d, "backing_off")))
			snprintf(state, sizeof(state), _("%s, retry in %lld s"),
			         why_text(raw(d, "why")), num(d, "retry_in_s"));
		else
			snprintf(state, sizeof(state), "%s", why_text(raw(d, "why")));
		printf("%s %s %s %s %s %s\n", col(str(d, "id"), 16), col(word("type", raw(d, "type")), 6),
		       col(where, 16), col(state, 26), col(when(d, "last_ok", t, sizeof(t)), 23),
		       str(d, "location"));
		values_line(json_object_get(d, "values"), vals, sizeof(vals));
		if (vals[0] && json_is_true(json_object_get(d, "online")))
			printf("%16s   %s\n", "", vals);
	}
}

/* The ledger's size, its cap, the oldest item kept and what the next prune removes. */
static void print_retention(json_t *rt)
{
	char used[32], cap[32], file[32], t[32];
	json_t *old = json_object_get(rt, "oldest_item"), *next = json_object_get(rt, "next_prune");

	if (!json_is_object(rt))
		return;
	bytes(num(rt, "used_bytes"), used, sizeof(used));
	bytes(num(rt, "file_bytes"), file, sizeof(file));
	if (num(rt, "max_bytes"))
		bytes(num(rt, "max_bytes"), cap, sizeof(cap));
	else
		snprintf(cap, sizeof(cap), "%s", _("no cap"));
	printf(_("retention     %s in use (file %s), cap %s; history kept %lld months; oldest "
	         "item %s (%s)\n"),
	       used, file, cap, num(rt, "keep_months"), json_is_object(old) ? str(old, "id") : "-",
	       when(old, "first_seen", t, sizeof(t)));
	if (!strcmp(raw(next, "reason"), "size"))
		printf(
		    _("              next prune (size cap): the oldest delivered history, %s over; "
		      "%lld item(s) past their months now\n"),
		    (bytes(num(next, "bytes_over_cap"), file, sizeof(file)), file),
		    num(next, "items"));
	else
		printf(
		    _("              next prune: %lld item(s), %lld event(s) closed before %s\n"),
		    num(next, "items"), num(next, "events"),
		    when(next, "closed_before", t, sizeof(t)));
}

/* The last restart after an unclean stop (a power cut, a crash, a kill), if any. */
static void print_unclean_stop(json_t *u)
{
	char a[32], b[32], out[32];

	if (!json_is_object(u))
		return;
	if (json_is_integer(json_object_get(u, "outage_s")))
		duration(num(u, "outage_s"), out, sizeof(out));
	else
		snprintf(out, sizeof(out), "%s", _("unknown"));
	printf(_("unclean stop  last alive %s, restarted %s: down %s (%s)\n"),
	       when(u, "last_alive", a, sizeof(a)), when(u, "restarted_at", b, sizeof(b)), out,
	       str(u, "hazard_id"));
}

static void print_status(json_t *r)
{
	char up[32], age[32], disk[32], t[40];
	json_t *g = json_object_get(r, "open_hazards"), *ob = json_object_get(r, "outbox"),
	       *lg = json_object_get(r, "ledger");
	long long pending =
	    num(r, "devices_total") - num(r, "devices_online") - num(r, "devices_offline");

	duration(num(r, "uptime_s"), up, sizeof(up));
	printf(_("gateway       %s (firegw %s, up %s)\n"), str(r, "gateway"), str(r, "version"), up);
	printf(_("devices       %lld online, %lld offline, %lld not yet heard (of %lld)\n"),
	       num(r, "devices_online"), num(r, "devices_offline"), pending,
	       num(r, "devices_total"));
	printf(_("open hazards  immediate %lld, major %lld, significant %lld, general %lld\n"),
	       num(g, "immediate"), num(g, "major"), num(g, "significant"), num(g, "general"));
	json_t *inc = json_object_get(r, "open_incidents");
	printf(_("incidents     %lld open (fire alarms), %lld not yet verified\n"), num(inc, "open"),
	       num(inc, "unverified"));
	duration(num(r, "oldest_unsent_age_s"), age, sizeof(age));
	printf(_("outbox        alarm %lld, telemetry %lld; oldest unsent %s\n"), num(ob, "alarm"),
	       num(ob, "telemetry"), num(ob, "alarm") ? age : "-");
	json_t *dests = json_object_get(r, "destinations"), *dd;
	size_t di;
	if (json_array_size(dests) == 0)
		printf(_("platform      off (no platform section, or its token file is missing); "
		       "events wait in the outbox\n"));
	json_array_foreach(dests, di, dd)
	{
		/* One line a destination; "platform" for the one of an unnamed block. */
		const char *dn = str(dd, "name");

		if (!json_is_true(json_object_get(dd, "enabled"))) {
			printf(_("%-13s %s: off (its token or password file is missing); %lld event(s) "
			       "wait\n"),
			       strcmp(dn, "platform") ? dn : "platform", str(dd, "url"),
			       num(dd, "outbox"));
			continue;
		}
		duration(num(dd, "oldest_unsent_age_s"), age, sizeof(age));
		printf(_("%-13s %s; last upload %s; %lld waiting%s%s"), dn, str(dd, "url"),
		       when(dd, "last_success", t, sizeof(t)), num(dd, "outbox"),
		       num(dd, "outbox") ? ", oldest " : "", num(dd, "outbox") ? age : "");
		if (num(dd, "failures_in_a_row"))
			printf(_("; %lld failure(s) in a row, retry in %lld s: %s"),
			       num(dd, "failures_in_a_row"), num(dd, "retry_in_s"),
			       str(dd, "last_error"));
		printf("\n");
		json_t *gl = json_object_get(dd, "gbt26875");
		if (gl) {
			char t2[40];

			/* A monitoring centre: its link, the last confirm, what it asked. */
			printf(_("              centre link %s; last confirm %s; roll calls %lld (last "
			         "%s); clock syncs %lld; denied %lld; controls denied %lld\n"),
			       str(gl, "link"), when(gl, "last_confirm", t, sizeof(t)),
			       num(gl, "roll_calls"), when(gl, "last_roll_call", t2, sizeof(t2)),
			       num(gl, "clock_syncs"), num(gl, "denied"), num(gl, "controls_denied"));
		}
	}
	json_t *mq = json_object_get(r, "mqtt");
	if (mq) {
		if (json_is_true(json_object_get(mq, "connected")))
			printf(
			    _("mqtt broker   connected; %lld message(s), %lld from unknown devices\n"),
			    num(mq, "messages"), num(mq, "unknown_device"));
		else
			printf(_("mqtt broker   not connected: %s\n"), str(mq, "last_error"));
	}
	bytes(num(r, "disk_free_bytes"), disk, sizeof(disk));
	printf(_("disk free     %s\n"), disk);
	printf(_("ledger        %s: %lld events, %lld dead letter(s)"), str(lg, "path"),
	       num(lg, "events"), num(lg, "dead_letters"));
	if (json_is_false(json_object_get(lg, "ok")))
		printf(_("\n              NOT RECORDING since %s (%lld failed commit(s)): %s\n"),
		       when(lg, "since", t, sizeof(t)), num(lg, "failed_commits"),
		       str(lg, "error"));
	else if (num(lg, "failed_commits"))
		printf(_("; recording (%lld failed commit(s) since the start)\n"),
		       num(lg, "failed_commits"));
	else
		printf("\n");
	if (num(lg, "readings_merged") || num(lg, "readings_dropped") || num(lg, "changes_lost"))
		printf(
		    _("              queue full meanwhile: %lld repeated reading(s) merged, %lld "
		      "dropped, %lld change(s) of state lost\n"),
		    num(lg, "readings_merged"), num(lg, "readings_dropped"),
		    num(lg, "changes_lost"));
	print_retention(json_object_get(lg, "retention"));
	print_unclean_stop(json_object_get(r, "last_unclean_stop"));
	printf("\n");
	print_devices(json_object_get(r, "devices"));
}

static void hazard_flags(json_t *h, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s%s",
	         json_is_true(json_object_get(h, "active")) ? _("active ") : "",
	         json_is_true(json_object_get(h, "overdue")) ? _("overdue ") : "",
	         json_is_true(json_object_get(h, "test")) ? _("test ") : "",
	         json_is_true(json_object_get(h, "suspect_rectification")) ? _("suspect ") : "");
}

static void print_hazards(json_t *list)
{
	size_t i;
	json_t *h;
	char t[40], d[40], flags[160], where[140];

	if (json_array_size(list) == 0) {
		printf(_("no hazards\n"));
		return;
	}
	printf("%s %s %s %s %s %s %s %s %s\n", col(_("ID"), 20), col(_("GRADE"), 11),
	       col(_("STATUS"), 18), col(_("KIND"), 18), col(_("DEVICE/POINT"), 28),
	       col(_("LOCATION"), 20), col(_("FIRST SEEN"), 23), col(_("DEADLINE"), 23),
	       _("FLAGS"));
	json_array_foreach(list, i, h)
	{
		hazard_flags(h, flags, sizeof(flags));
		snprintf(where, sizeof(where), "%s/%s", str(h, "device_id"), str(h, "point"));
		printf("%s %s %s %s %s %s %s %s %s\n", col(str(h, "id"), 20),
		       col(word("grade", raw(h, "grade")), 11),
		       col(word("status", raw(h, "status")), 18),
		       col(word("kind", raw(h, "kind")), 18), col(where, 28),
		       col_cut(str(h, "location"), 20), col(when(h, "first_seen", t, sizeof(t)), 23),
		       col(when(h, "deadline", d, sizeof(d)), 23), flags);
	}
}

static void print_hazard(json_t *r)
{
	json_t *h = json_object_get(r, "hazard"), *ev = json_object_get(r, "events"), *e, *v;
	/* The JSON member and the label a person reads. */
	static const char *const fields[][2] = {
	    {"id", N_("id")},
	    {"title", N_("title")},
	    {"class", N_("class")},
	    {"kind", N_("kind")},
	    {"grade", N_("grade")},
	    {"status", N_("status")},
	    {"device_id", N_("device")},
	    {"point", N_("point")},
	    {"location", N_("location")},
	    {"value", N_("value")},
	    {"peak", N_("peak")},
	    {"threshold", N_("threshold")},
	    {"unit", N_("unit")},
	    {"first_seen", N_("first seen")},
	    {"last_seen", N_("last seen")},
	    {"cleared_at", N_("cleared at")},
	    {"closed_at", N_("closed at")},
	    {"deadline", N_("deadline")},
	    {"occurrences", N_("occurrences")},
	    {"escalations", N_("escalations")},
	    {"recurrence_of", N_("recurrence of")},
	    {"responsible", N_("responsible person")},
	    {"responsible_phone", N_("responsible's phone")},
	    {"assignee", N_("assignee")},
	    {"rectification_deadline", N_("rectification deadline")},
	};
	char flags[160], t[40];
	size_t i;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const char *key = fields[i][0], *label = col(_(fields[i][1]), 22);

		v = json_object_get(h, key);
		if (!v || json_is_null(v))
			continue;
		if (json_is_string(v) && (strstr(key, "_seen") || strstr(key, "_at") ||
		                          strstr(key, "deadline")))
			printf("%s %s\n", label, when(h, key, t, sizeof(t)));
		else if (!strcmp(key, "kind") || !strcmp(key, "grade") || !strcmp(key, "status") ||
		         !strcmp(key, "class"))
			printf("%s %s\n", label, word(key, json_string_value(v)));
		else if (json_is_string(v))
			printf("%s %s\n", label, esc(json_string_value(v)));
		else if (json_is_integer(v))
			printf("%s %lld\n", label, (long long)json_integer_value(v));
		else if (json_is_real(v))
			printf("%s %g\n", label, json_real_value(v));
	}
	hazard_flags(h, flags, sizeof(flags));
	if (flags[0])
		printf("%s %s\n", col(_("flags"), 22), flags);
	printf("\n%s %s %s %s\n", col(_("SEQ"), 8), col(_("EVENT"), 14), col(_("AT"), 23),
	       _("DELIVERY"));
	json_array_foreach(ev, i, e)
	{
		printf("%-8lld %s %s %s%s%s\n", num(e, "seq"), col(word("event", raw(e, "type")), 14),
		       col(when(e, "at", t, sizeof(t)), 23), word("delivery", raw(e, "delivery")),
		       json_object_get(e, "reason") ? ": " : "", str(e, "reason"));
	}
}

static void print_outbox(json_t *r)
{
	json_t *lanes = json_object_get(r, "lanes"), *ev = json_object_get(r, "events"), *e;
	const char *name;
	json_t *lane;
	char age[32], t[40];
	size_t i;

	json_object_foreach(lanes, name, lane)
	{
		duration(num(lane, "oldest_age_s"), age, sizeof(age));
		printf(_("%s %lld waiting%s%s\n"), col(word("lane", name), 10), num(lane, "depth"),
		       num(lane, "depth") ? _(", oldest ") : "", num(lane, "depth") ? age : "");
	}
	json_array_foreach(json_object_get(r, "destinations"), i, e)
	{
		const char *dn = str(e, "destination");

		duration(num(e, "oldest_age_s"), age, sizeof(age));
		printf(_("  for %s %lld waiting, oldest %s\n"), col(*dn ? dn : _("(none yet)"), 14),
		       num(e, "depth"), age);
	}
	if (json_array_size(ev) == 0)
		return;
	printf("\n%s %s %s %s %s %s\n", col(_("SEQ"), 8), col(_("HAZARD"), 20),
	       col(_("EVENT"), 14), col(_("DESTINATION"), 14), col(_("CREATED"), 23),
	       _("ATTEMPTS"));
	json_array_foreach(ev, i, e)
	{
		printf("%-8lld %s %s %s %s %lld\n", num(e, "seq"), col(str(e, "hazard_id"), 20),
		       col(word("event", raw(e, "type")), 14), col(str(e, "destination"), 14),
		       col(when(e, "created", t, sizeof(t)), 23), num(e, "attempts"));
	}
}

static void print_deadletter(json_t *list)
{
	json_t *e;
	char t[40];
	size_t i;

	if (json_array_size(list) == 0) {
		printf(_("no dead letters: the platform has rejected nothing\n"));
		return;
	}
	printf("%s %s %s %s %s\n", col(_("SEQ"), 8), col(_("HAZARD"), 20), col(_("EVENT"), 14),
	       col(_("REJECTED"), 23), _("REASON"));
	json_array_foreach(list, i, e)
	{
		printf("%-8lld %s %s %s %s\n", num(e, "seq"), col(str(e, "hazard_id"), 20),
		       col(word("event", raw(e, "type")), 14),
		       col(when(e, "rejected_at", t, sizeof(t)), 23), str(e, "reason"));
	}
}

static void print_error(json_t *r)
{
	size_t i;
	json_t *e;

	fprintf(stderr, _("firegwctl: %s\n"), str(r, "error"));
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
					printf(_("rejected by the platform: %s %s: %s\n"),
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
				printf(_("accepted by the platform after %.1f s: the test alarm went "
				       "end "
				       "to end\n"),
				       el);
			json_decref(r);
			return rejected ? EXIT_ERROR : EXIT_OK;
		}
		if (el >= wait_s) {
			if (c->json)
				print_json(r);
			else
				printf(
				    _("not accepted by the platform within %.0f s; it waits in the "
				    "outbox ('firegwctl outbox', 'firegwctl status' show why)\n"),
				    wait_s);
			json_decref(r);
			return EXIT_ERROR;
		}
		json_decref(r);
		usleep(100 * 1000);
	}
}

/* `firegwctl check`: the daemon's verdict on its config file; 1 when it would refuse it. */
static int print_check(json_t *r)
{
	size_t i;
	json_t *e;

	json_array_foreach(json_object_get(r, "errors"), i, e)
	    printf("%s\n", esc(json_string_value(e)));
	if (json_is_true(json_object_get(r, "valid"))) {
		printf(_("%s: no errors (%lld buses, %lld devices); firegwctl reload would apply it\n"),
		       str(r, "config"), num(r, "buses"), num(r, "devices"));
		return EXIT_OK;
	}
	printf(_("%s: %zu error(s); a reload would refuse it and keep the running configuration\n"),
	       str(r, "config"), json_array_size(json_object_get(r, "errors")));
	return EXIT_ERROR;
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
			printf(_("test alarm %s raised and cleared on %s\n"), esc(id),
			       str(r, "device"));
		if (!json_is_true(json_object_get(r, "platform"))) {
			if (c->json)
				print_json(r);
			else
				printf(
				    _("no platform uplink is running: the test stays in the outbox "
				    "('firegwctl status' says why)\n"));
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
		printf(_("configuration reloaded from %s: %lld buses, %lld devices\n"),
		       str(r, "config"), num(r, "buses"), num(r, "devices"));
	else if (!strcmp(cmd, "check")) {
		code = print_check(r);
		json_decref(r);
		return code;
	}
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
		fprintf(stderr, _("firegwctl: unknown command '%s'\n"), esc(cmd));
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
				fprintf(stderr, _("firegwctl: %s does not take %s\n"), cmd,
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
				fprintf(stderr, _("firegwctl: --%s wants a positive number\n"), co->name);
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
				fprintf(stderr, _("firegwctl: --wait wants seconds\n"));
				json_decref(req);
				return NULL;
			}
			break;
		}
	}
	if (argc - optind != (cc->arg ? 1 : 0)) {
		fprintf(stderr, _("firegwctl: %s %s (firegwctl %s %s)\n"), cmd,
		        cc->arg ? _("takes one argument") : _("takes no argument"), cmd, cc->usage);
		json_decref(req);
		return NULL;
	}
	if (cc->arg)
		json_object_set_new(req, cc->arg, json_string(argv[optind]));
	if (!strcmp(cmd, "report") && !json_object_get(req, "month") == !json_object_get(req, "week")) {
		fprintf(stderr, _("firegwctl: report needs --month YYYY-MM or --week YYYY-MM-DD\n"));
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
		fprintf(stderr, _("firegwctl: %s has errors ('firegw check -c %s' lists them)\n"),
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

	i18n_init();
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
			printf(_("firegwctl %s\n"), FIREGW_VERSION);
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
