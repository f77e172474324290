/* SPDX-License-Identifier: MIT */
/* ctl_print: how firegwctl prints the daemon's replies for a person: status, devices,
 * hazards, one hazard with its history, the outbox, dead letters, errors and the verdict of
 * `check`, as tables aligned by display width in the reader's language, every text from
 * outside escaped first (textesc); or the reply as JSON. */
#include "ctl_print.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dispwidth.h"
#include "i18n.h"
#include "textesc.h"

/* ---------------------------------------------------------------- escaping */

/* Every text from the daemon goes through ctl_print_esc() before it is printed for a human: hazard
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
const char *ctl_print_esc(const char *s)
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
	return ctl_print_esc(i18n_word(ctx, key));
}

void ctl_print_release(void)
{
	for (size_t i = 0; i < ESC_RING; i++) {
		free(esc_ring[i]);
		esc_ring[i] = NULL;
	}
}

/* ---------------------------------------------------------------- printing */

/* A string member as the daemon sent it: for comparing and for sending back, not printing. */
const char *ctl_print_raw(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

/* A string member escaped for printing. */
const char *ctl_print_str(json_t *o, const char *key)
{
	return ctl_print_esc(ctl_print_raw(o, key));
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
	return ctl_print_esc(when_text(json_string_value(json_object_get(o, key)), buf, len));
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
	const char *unit = ctl_print_str(v, "unit");

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
		int n = snprintf(buf + used, len - used, "%s%s %s", used ? ", " : "", ctl_print_esc(k), one);
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
	return ctl_print_esc(out);
}

void ctl_print_devices(json_t *devs)
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

		if (!strcmp(ctl_print_raw(d, "type"), "modbus"))
			snprintf(where, sizeof(where), "%s/%lld", ctl_print_str(d, "bus"), jsonfmt_int(d, "unit"));
		else
			snprintf(where, sizeof(where), _("key %s"), ctl_print_str(d, "key"));
		if (json_is_true(json_object_get(d, "backing_off")))
			snprintf(state, sizeof(state), _("%s, retry in %lld s"),
			         why_text(ctl_print_raw(d, "why")), jsonfmt_int(d, "retry_in_s"));
		else
			snprintf(state, sizeof(state), "%s", why_text(ctl_print_raw(d, "why")));
		printf("%s %s %s %s %s %s\n", col(ctl_print_str(d, "id"), 16), col(word("type", ctl_print_raw(d, "type")), 6),
		       col(where, 16), col(state, 26), col(when(d, "last_ok", t, sizeof(t)), 23),
		       ctl_print_str(d, "location"));
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
	bytes(jsonfmt_int(rt, "used_bytes"), used, sizeof(used));
	bytes(jsonfmt_int(rt, "file_bytes"), file, sizeof(file));
	if (jsonfmt_int(rt, "max_bytes"))
		bytes(jsonfmt_int(rt, "max_bytes"), cap, sizeof(cap));
	else
		snprintf(cap, sizeof(cap), "%s", _("no cap"));
	printf(_("retention     %s in use (file %s), cap %s; history kept %lld months; oldest "
	         "item %s (%s)\n"),
	       used, file, cap, jsonfmt_int(rt, "keep_months"), json_is_object(old) ? ctl_print_str(old, "id") : "-",
	       when(old, "first_seen", t, sizeof(t)));
	if (!strcmp(ctl_print_raw(next, "reason"), "size"))
		printf(
		    _("              next prune (size cap): the oldest delivered history, %s over; "
		      "%lld item(s) past their months now\n"),
		    (bytes(jsonfmt_int(next, "bytes_over_cap"), file, sizeof(file)), file),
		    jsonfmt_int(next, "items"));
	else
		printf(
		    _("              next prune: %lld item(s), %lld event(s) closed before %s\n"),
		    jsonfmt_int(next, "items"), jsonfmt_int(next, "events"),
		    when(next, "closed_before", t, sizeof(t)));
}

/* The last restart after an unclean stop (a power cut, a crash, a kill), if any. */
static void print_unclean_stop(json_t *u)
{
	char a[32], b[32], out[32];

	if (!json_is_object(u))
		return;
	if (json_is_integer(json_object_get(u, "outage_s")))
		duration(jsonfmt_int(u, "outage_s"), out, sizeof(out));
	else
		snprintf(out, sizeof(out), "%s", _("unknown"));
	printf(_("unclean stop  last alive %s, restarted %s: down %s (%s)\n"),
	       when(u, "last_alive", a, sizeof(a)), when(u, "restarted_at", b, sizeof(b)), out,
	       ctl_print_str(u, "hazard_id"));
}

void ctl_print_status(json_t *r)
{
	char up[32], age[32], disk[32], t[40];
	json_t *g = json_object_get(r, "open_hazards"), *ob = json_object_get(r, "outbox"),
	       *lg = json_object_get(r, "ledger");
	long long pending =
	    jsonfmt_int(r, "devices_total") - jsonfmt_int(r, "devices_online") - jsonfmt_int(r, "devices_offline");

	duration(jsonfmt_int(r, "uptime_s"), up, sizeof(up));
	printf(_("gateway       %s (firegw %s, up %s)\n"), ctl_print_str(r, "gateway"), ctl_print_str(r, "version"), up);
	printf(_("devices       %lld online, %lld offline, %lld not yet heard (of %lld)\n"),
	       jsonfmt_int(r, "devices_online"), jsonfmt_int(r, "devices_offline"), pending,
	       jsonfmt_int(r, "devices_total"));
	printf(_("open hazards  immediate %lld, major %lld, significant %lld, general %lld\n"),
	       jsonfmt_int(g, "immediate"), jsonfmt_int(g, "major"), jsonfmt_int(g, "significant"), jsonfmt_int(g, "general"));
	json_t *inc = json_object_get(r, "open_incidents");
	printf(_("incidents     %lld open (fire alarms), %lld not yet verified\n"), jsonfmt_int(inc, "open"),
	       jsonfmt_int(inc, "unverified"));
	duration(jsonfmt_int(r, "oldest_unsent_age_s"), age, sizeof(age));
	printf(_("outbox        alarm %lld, telemetry %lld; oldest unsent %s\n"), jsonfmt_int(ob, "alarm"),
	       jsonfmt_int(ob, "telemetry"), jsonfmt_int(ob, "alarm") ? age : "-");
	json_t *dests = json_object_get(r, "destinations"), *dd;
	size_t di;
	if (json_array_size(dests) == 0)
		printf(_("platform      off (no platform section, or its token file is missing); "
		       "events wait in the outbox\n"));
	json_array_foreach(dests, di, dd)
	{
		/* One line a destination; "platform" for the one of an unnamed block. */
		const char *dn = ctl_print_str(dd, "name");

		if (!json_is_true(json_object_get(dd, "enabled"))) {
			printf(_("%-13s %s: off (its token or password file is missing); %lld event(s) "
			       "wait\n"),
			       strcmp(dn, "platform") ? dn : "platform", ctl_print_str(dd, "url"),
			       jsonfmt_int(dd, "outbox"));
			continue;
		}
		duration(jsonfmt_int(dd, "oldest_unsent_age_s"), age, sizeof(age));
		printf(_("%-13s %s; last upload %s; %lld waiting%s%s"), dn, ctl_print_str(dd, "url"),
		       when(dd, "last_success", t, sizeof(t)), jsonfmt_int(dd, "outbox"),
		       jsonfmt_int(dd, "outbox") ? ", oldest " : "", jsonfmt_int(dd, "outbox") ? age : "");
		if (jsonfmt_int(dd, "failures_in_a_row"))
			printf(_("; %lld failure(s) in a row, retry in %lld s: %s"),
			       jsonfmt_int(dd, "failures_in_a_row"), jsonfmt_int(dd, "retry_in_s"),
			       ctl_print_str(dd, "last_error"));
		printf("\n");
		json_t *gl = json_object_get(dd, "gbt26875");
		if (gl) {
			char t2[40];

			/* A monitoring centre: its link, the last confirm, what it asked. */
			printf(_("              centre link %s; last confirm %s; roll calls %lld (last "
			         "%s); clock syncs %lld; denied %lld; controls denied %lld\n"),
			       ctl_print_str(gl, "link"), when(gl, "last_confirm", t, sizeof(t)),
			       jsonfmt_int(gl, "roll_calls"), when(gl, "last_roll_call", t2, sizeof(t2)),
			       jsonfmt_int(gl, "clock_syncs"), jsonfmt_int(gl, "denied"), jsonfmt_int(gl, "controls_denied"));
		}
	}
	json_t *mq = json_object_get(r, "mqtt");
	if (mq) {
		if (json_is_true(json_object_get(mq, "connected")))
			printf(
			    _("mqtt broker   connected; %lld message(s), %lld from unknown devices\n"),
			    jsonfmt_int(mq, "messages"), jsonfmt_int(mq, "unknown_device"));
		else
			printf(_("mqtt broker   not connected: %s\n"), ctl_print_str(mq, "last_error"));
	}
	bytes(jsonfmt_int(r, "disk_free_bytes"), disk, sizeof(disk));
	printf(_("disk free     %s\n"), disk);
	printf(_("ledger        %s: %lld events, %lld dead letter(s)"), ctl_print_str(lg, "path"),
	       jsonfmt_int(lg, "events"), jsonfmt_int(lg, "dead_letters"));
	if (json_is_false(json_object_get(lg, "ok")))
		printf(_("\n              NOT RECORDING since %s (%lld failed commit(s)): %s\n"),
		       when(lg, "since", t, sizeof(t)), jsonfmt_int(lg, "failed_commits"),
		       ctl_print_str(lg, "error"));
	else if (jsonfmt_int(lg, "failed_commits"))
		printf(_("; recording (%lld failed commit(s) since the start)\n"),
		       jsonfmt_int(lg, "failed_commits"));
	else
		printf("\n");
	if (jsonfmt_int(lg, "readings_merged") || jsonfmt_int(lg, "readings_dropped") || jsonfmt_int(lg, "changes_lost"))
		printf(
		    _("              queue full meanwhile: %lld repeated reading(s) merged, %lld "
		      "dropped, %lld change(s) of state lost\n"),
		    jsonfmt_int(lg, "readings_merged"), jsonfmt_int(lg, "readings_dropped"),
		    jsonfmt_int(lg, "changes_lost"));
	print_retention(json_object_get(lg, "retention"));
	print_unclean_stop(json_object_get(r, "last_unclean_stop"));
	printf("\n");
	ctl_print_devices(json_object_get(r, "devices"));
}

static void hazard_flags(json_t *h, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s%s",
	         json_is_true(json_object_get(h, "active")) ? _("active ") : "",
	         json_is_true(json_object_get(h, "overdue")) ? _("overdue ") : "",
	         json_is_true(json_object_get(h, "test")) ? _("test ") : "",
	         json_is_true(json_object_get(h, "suspect_rectification")) ? _("suspect ") : "");
}

void ctl_print_hazards(json_t *list)
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
		snprintf(where, sizeof(where), "%s/%s", ctl_print_str(h, "device_id"), ctl_print_str(h, "point"));
		printf("%s %s %s %s %s %s %s %s %s\n", col(ctl_print_str(h, "id"), 20),
		       col(word("grade", ctl_print_raw(h, "grade")), 11),
		       col(word("status", ctl_print_raw(h, "status")), 18),
		       col(word("kind", ctl_print_raw(h, "kind")), 18), col(where, 28),
		       col_cut(ctl_print_str(h, "location"), 20), col(when(h, "first_seen", t, sizeof(t)), 23),
		       col(when(h, "deadline", d, sizeof(d)), 23), flags);
	}
}

void ctl_print_hazard(json_t *r)
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
			printf("%s %s\n", label, ctl_print_esc(json_string_value(v)));
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
		printf("%-8lld %s %s %s%s%s\n", jsonfmt_int(e, "seq"), col(word("event", ctl_print_raw(e, "type")), 14),
		       col(when(e, "at", t, sizeof(t)), 23), word("delivery", ctl_print_raw(e, "delivery")),
		       json_object_get(e, "reason") ? ": " : "", ctl_print_str(e, "reason"));
	}
}

void ctl_print_outbox(json_t *r)
{
	json_t *lanes = json_object_get(r, "lanes"), *ev = json_object_get(r, "events"), *e;
	const char *name;
	json_t *lane;
	char age[32], t[40];
	size_t i;

	json_object_foreach(lanes, name, lane)
	{
		duration(jsonfmt_int(lane, "oldest_age_s"), age, sizeof(age));
		printf(_("%s %lld waiting%s%s\n"), col(word("lane", name), 10), jsonfmt_int(lane, "depth"),
		       jsonfmt_int(lane, "depth") ? _(", oldest ") : "", jsonfmt_int(lane, "depth") ? age : "");
	}
	json_array_foreach(json_object_get(r, "destinations"), i, e)
	{
		const char *dn = ctl_print_str(e, "destination");

		duration(jsonfmt_int(e, "oldest_age_s"), age, sizeof(age));
		printf(_("  for %s %lld waiting, oldest %s\n"), col(*dn ? dn : _("(none yet)"), 14),
		       jsonfmt_int(e, "depth"), age);
	}
	if (json_array_size(ev) == 0)
		return;
	printf("\n%s %s %s %s %s %s\n", col(_("SEQ"), 8), col(_("HAZARD"), 20),
	       col(_("EVENT"), 14), col(_("DESTINATION"), 14), col(_("CREATED"), 23),
	       _("ATTEMPTS"));
	json_array_foreach(ev, i, e)
	{
		printf("%-8lld %s %s %s %s %lld\n", jsonfmt_int(e, "seq"), col(ctl_print_str(e, "hazard_id"), 20),
		       col(word("event", ctl_print_raw(e, "type")), 14), col(ctl_print_str(e, "destination"), 14),
		       col(when(e, "created", t, sizeof(t)), 23), jsonfmt_int(e, "attempts"));
	}
}

void ctl_print_deadletter(json_t *list)
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
		printf("%-8lld %s %s %s %s\n", jsonfmt_int(e, "seq"), col(ctl_print_str(e, "hazard_id"), 20),
		       col(word("event", ctl_print_raw(e, "type")), 14),
		       col(when(e, "rejected_at", t, sizeof(t)), 23), ctl_print_str(e, "reason"));
	}
}

void ctl_print_error(json_t *r)
{
	size_t i;
	json_t *e;

	fprintf(stderr, _("firegwctl: %s\n"), ctl_print_str(r, "error"));
	json_array_foreach(json_object_get(r, "errors"), i, e)
	    fprintf(stderr, "  %s\n", ctl_print_esc(json_string_value(e)));
}

void ctl_print_json(json_t *r)
{
	char *s = json_dumps(r, JSON_INDENT(2) | JSON_SORT_KEYS);

	if (s)
		puts(s);
	free(s);
}

/* `firegwctl check`: the daemon's verdict on its config file; 1 when it would refuse it. */
int ctl_print_check(json_t *r)
{
	size_t i;
	json_t *e;

	json_array_foreach(json_object_get(r, "errors"), i, e)
	    printf("%s\n", ctl_print_esc(json_string_value(e)));
	if (json_is_true(json_object_get(r, "valid"))) {
		printf(_("%s: no errors (%lld buses, %lld devices); firegwctl reload would apply it\n"),
		       ctl_print_str(r, "config"), jsonfmt_int(r, "buses"), jsonfmt_int(r, "devices"));
		return 0;
	}
	printf(_("%s: %zu error(s); a reload would refuse it and keep the running configuration\n"),
	       ctl_print_str(r, "config"), json_array_size(json_object_get(r, "errors")));
	return 1;
}
