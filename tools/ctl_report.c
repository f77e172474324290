/* SPDX-License-Identifier: MIT */
/* ctl_report: the bulletin as a person reads it (tables on a terminal) or as an office files
 * it (CSV). One walk over the daemon's figures writes either: a section is a heading line or
 * a CSV row of its own, a figure a label and a value. Every label is marked for translation
 * (po/report.zh_CN.po-fragment has the Chinese); every string from the ledger or the config
 * is escaped for a terminal, or kept from starting a spreadsheet formula in CSV. */
#include "ctl_report.h"

#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "i18n.h"
#include "textesc.h"

struct ctl_report_out {
	FILE *f;
	bool csv;
};

/* ---------------------------------------------------------------- reading the reply */

static json_t *ctl_report_get(json_t *o, const char *path)
{
	char buf[128], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *k = strtok_r(buf, ".", &save); k && o; k = strtok_r(NULL, ".", &save))
		o = json_object_get(o, k);
	return o;
}

static long long ctl_report_num(json_t *o, const char *path)
{
	json_t *v = ctl_report_get(o, path);

	return json_is_number(v) ? (long long)json_number_value(v) : 0;
}

static const char *ctl_report_str(json_t *o, const char *path)
{
	const char *s = json_string_value(ctl_report_get(o, path));

	return s ? s : "";
}

/* A rate as a percentage ("66.7%", "98%"), or `none` when there is none. */
static const char *ctl_report_pct(json_t *v, const char *none, char *buf, size_t len)
{
	if (!json_is_number(v))
		return none;
	snprintf(buf, len, "%.1f", json_number_value(v) * 100.0);
	size_t n = strlen(buf);
	if (n > 2 && strcmp(buf + n - 2, ".0") == 0)
		buf[n - 2] = '\0';
	strncat(buf, "%", len - strlen(buf) - 1);
	return buf;
}

/* "2026-11-23T07:59:58.120Z" as local "2026-11-23 15:59", or "-". */
static const char *ctl_report_time(json_t *o, const char *key, char *buf, size_t len)
{
	const char *s = json_string_value(json_object_get(o, key));
	struct tm tm = {0};
	time_t t;

	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
	                 &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
		return "-";
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	t = timegm(&tm);
	localtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M", &tm);
	return buf;
}

/* ---------------------------------------------------------------- names */

static const char *const ctl_report_kinds[][2] = {
    {"fire_alarm", N_("fire alarm")},
    {"residual_current", N_("residual current")},
    {"overtemperature", N_("cable overtemperature")},
    {"arc_fault", N_("arc fault")},
    {"overcurrent", N_("overcurrent")},
    {"overvoltage", N_("overvoltage")},
    {"undervoltage", N_("undervoltage")},
    {"sensor_fault", N_("sensor fault")},
    {"device_offline", N_("device offline")},
    {"low_battery", N_("low battery")},
    {"tamper", N_("tamper")},
    {"device_fault", N_("device fault")},
    {"ledger_corrupt", N_("ledger damaged")},
    {"repeated_false_alarm", N_("repeated false alarms")},
    {"immediate", N_("immediate")},
    {"major", N_("major")},
    {"significant", N_("significant")},
    {"general", N_("general")},
    {"open", N_("open")},
    {"acknowledged", N_("acknowledged")},
    {"rectifying", N_("being rectified")},
    {"pending_acceptance", N_("pending acceptance")},
    {"closed", N_("closed out")},
};

/* The translated name of a kind, grade or status the ledger writes in English. */
static const char *ctl_report_name(const char *key)
{
	for (size_t i = 0; i < sizeof(ctl_report_kinds) / sizeof(ctl_report_kinds[0]); i++)
		if (strcmp(key, ctl_report_kinds[i][0]) == 0)
			return _(ctl_report_kinds[i][1]);
	return key;
}

/* ---------------------------------------------------------------- writing */

/* Columns a terminal gives s: two for each wide character (CJK, fullwidth forms), one for any
 * other character. */
static int ctl_report_width(const char *s)
{
	int w = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		unsigned cp = *p;
		int n = cp < 0x80 ? 1 : cp < 0xe0 ? 2 : cp < 0xf0 ? 3 : 4;

		for (int i = 1; i < n && p[i]; i++)
			cp = (cp << 6) | (p[i] & 0x3f);
		cp &= n == 1 ? 0x7f : n == 2 ? 0x7ff : n == 3 ? 0xffff : 0x1fffff;
		w += cp >= 0x2e80 && cp < 0xff61 ? 2 : 1;
		for (int i = 0; i < n && *p; i++)
			p++;
	}
	return w;
}

/* s, then spaces up to `width` columns and one more (none after a last column, width 0). */
static void ctl_report_pad(FILE *f, const char *s, int width)
{
	fputs(s, f);
	if (width <= 0)
		return;
	for (int w = ctl_report_width(s); w < width; w++)
		fputc(' ', f);
	fputc(' ', f);
}

/* One CSV field: quoted, quotes doubled, control characters made spaces, and text from
 * outside kept from being read as a formula (a leading ', as spreadsheets expect). */
static void ctl_report_field(FILE *f, const char *s, bool outside)
{
	fputc('"', f);
	if (outside && (*s == '=' || *s == '+' || *s == '-' || *s == '@'))
		fputc('\'', f);
	for (; *s; s++) {
		if (*s == '"')
			fputs("\"\"", f);
		else if ((unsigned char)*s < 0x20 || *s == 0x7f)
			fputc(' ', f);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void ctl_report_section(struct ctl_report_out *o, const char *title)
{
	if (o->csv) {
		fputs("\r\n", o->f);
		ctl_report_field(o->f, title, false);
		fputs("\r\n", o->f);
	} else
		fprintf(o->f, "\n%s\n", title);
}

/* A figure: its label and its value (`outside`: the value came from the ledger or the config). */
static void ctl_report_row(struct ctl_report_out *o, const char *label, const char *value,
                           bool outside)
{
	if (o->csv) {
		ctl_report_field(o->f, label, false);
		fputc(',', o->f);
		ctl_report_field(o->f, value, outside);
		fputs("\r\n", o->f);
		return;
	}
	char *v = outside ? textesc_dup(value) : NULL;
	fputs("  ", o->f);
	ctl_report_pad(o->f, label, 36);
	fprintf(o->f, "%s\n", v ? v : value);
	free(v);
}

static void ctl_report_count(struct ctl_report_out *o, const char *label, long long n)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", n);
	ctl_report_row(o, label, buf, false);
}

/* ---------------------------------------------------------------- the bulletin */

static void ctl_report_header(struct ctl_report_out *o, json_t *r)
{
	json_t *per = json_object_get(r, "period");
	int y1, m1, d1, y2, m2, d2;
	char title[128], period[128];
	bool week = strcmp(ctl_report_str(per, "type"), "week") == 0;

	snprintf(title, sizeof(title),
	         week ? _("Weekly fire safety statistics, week of %s")
	              : _("Monthly fire safety bulletin, %s"),
	         ctl_report_str(per, "label"));
	if (sscanf(ctl_report_str(per, "first_day"), "%d-%d-%d", &y1, &m1, &d1) == 3 &&
	    sscanf(ctl_report_str(per, "last_day"), "%d-%d-%d", &y2, &m2, &d2) == 3)
		snprintf(period, sizeof(period), _("%d-%02d-%02d 00:00 to %d-%02d-%02d 24:00"), y1,
		         m1, d1, y2, m2, d2);
	else
		snprintf(period, sizeof(period), "%s", "-");
	if (o->csv) {
		ctl_report_field(o->f, title, false);
		fputs("\r\n", o->f);
	} else
		fprintf(o->f, "%s\n", title);
	ctl_report_row(o, _("Period (local time)"), period, false);
	if (json_is_false(json_object_get(r, "complete")))
		ctl_report_row(o, _("Note"),
		               _("incomplete: the ledger's retention pruned history of this period "
		                 "(the county platform has all of it)"),
		               false);
	json_t *s = json_object_get(r, "site");
	ctl_report_row(o, _("County"), ctl_report_str(s, "county"), true);
	ctl_report_row(o, _("Town"), ctl_report_str(s, "town"), true);
	ctl_report_row(o, _("Village"), ctl_report_str(s, "village"), true);
	ctl_report_row(o, _("Site"), ctl_report_str(s, "unit"), true);
	ctl_report_row(o, _("Gateway"), ctl_report_str(s, "gateway"), true);
	ctl_report_row(o, _("Person responsible for fire safety"), ctl_report_str(s, "responsible"),
	               true);
	ctl_report_row(o, _("Acceptor"), ctl_report_str(s, "acceptor"), true);
}

/* The figures as one paragraph of plain language. */
static void ctl_report_paragraph(struct ctl_report_out *o, json_t *r)
{
	json_t *h = json_object_get(r, "hazards");
	bool week = strcmp(ctl_report_str(r, "period.type"), "week") == 0;
	char grades[256] = "", fire[256], rate[16], online[16], text[1024];
	long long fires = ctl_report_num(r, "fire_alarms.count");
	static const char *const grade_keys[] = {"immediate", "major", "significant", "general"};

	for (size_t i = 0; i < 4; i++) {
		char one[64], key[64];
		long long n;

		snprintf(key, sizeof(key), "new_by_grade.%s", grade_keys[i]);
		n = ctl_report_num(h, key);
		if (i == 0 && n == 0)
			continue; /* immediate is a category beside the scale: named when it occurs */
		if (i == 0)
			snprintf(one, sizeof(one), _("%lld immediate"), n);
		else if (i == 1)
			snprintf(one, sizeof(one), _("%lld major"), n);
		else if (i == 2)
			snprintf(one, sizeof(one), _("%lld significant"), n);
		else
			snprintf(one, sizeof(one), _("%lld general"), n);
		if (grades[0])
			strncat(grades, _(", "), sizeof(grades) - strlen(grades) - 1);
		strncat(grades, one, sizeof(grades) - strlen(grades) - 1);
	}
	if (fires > 0)
		snprintf(fire, sizeof(fire),
		         _("fire alarms: %lld (verified: %lld real, %lld false, %lld test; %lld not "
		           "verified)"),
		         fires, ctl_report_num(r, "fire_alarms.verification.real_fire"),
		         ctl_report_num(r, "fire_alarms.verification.false_alarm"),
		         ctl_report_num(r, "fire_alarms.verification.test"),
		         ctl_report_num(r, "fire_alarms.verification.unverified") +
		             ctl_report_num(r, "fire_alarms.verification.unknown"));
	else
		snprintf(fire, sizeof(fire), "%s", _("no fire alarms"));
	snprintf(text, sizeof(text),
	         _("%s: %lld new hazards (%s), %lld rectified and closed out, rectification rate "
	           "%s; %s: %lld not rectified, %lld of them overdue; %s; device online rate %s."),
	         week ? _("This week") : _("This month"), ctl_report_num(h, "new"), grades,
	         ctl_report_num(h, "closed"),
	         ctl_report_pct(json_object_get(h, "rectification_rate"), _("none due"), rate,
	                        sizeof(rate)),
	         week ? _("at the end of the week") : _("at the end of the month"),
	         ctl_report_num(h, "closing"), ctl_report_num(h, "overdue"), fire,
	         ctl_report_pct(ctl_report_get(r, "devices.online_rate"), _("unknown"), online,
	                        sizeof(online)));
	if (o->csv) {
		ctl_report_row(o, _("Summary"), text, false);
	} else
		fprintf(o->f, "\n%s\n", text);
}

static void ctl_report_hazards(struct ctl_report_out *o, json_t *h)
{
	const char *k;
	json_t *v;
	char buf[256], rate[16], t[32];

	ctl_report_section(o, _("Hazards (counted by item)"));
	ctl_report_count(o, _("Open at the start (opening stock)"), ctl_report_num(h, "opening"));
	ctl_report_count(o, _("New"), ctl_report_num(h, "new"));
	json_object_foreach(json_object_get(h, "new_by_grade"), k, v)
	{
		snprintf(buf, sizeof(buf), _("  of grade %s"), ctl_report_name(k));
		ctl_report_count(o, buf, json_integer_value(v));
	}
	json_object_foreach(json_object_get(h, "new_by_kind"), k, v)
	{
		if (json_integer_value(v) == 0)
			continue;
		snprintf(buf, sizeof(buf), _("  of kind %s"), ctl_report_name(k));
		ctl_report_count(o, buf, json_integer_value(v));
	}
	ctl_report_count(o, _("Rectified (submitted for acceptance)"), ctl_report_num(h, "rectified"));
	ctl_report_count(o, _("Acceptance passed"), ctl_report_num(h, "acceptance_passed"));
	ctl_report_count(o, _("Acceptance failed"), ctl_report_num(h, "acceptance_failed"));
	ctl_report_count(o, _("Closed out"), ctl_report_num(h, "closed"));
	ctl_report_count(o, _("Open at the end (closing stock)"), ctl_report_num(h, "closing"));
	ctl_report_count(o, _("Overdue at the end"), ctl_report_num(h, "overdue"));
	json_object_foreach(json_object_get(h, "overdue_by_stage"), k, v)
	{
		if (json_integer_value(v) == 0)
			continue;
		snprintf(buf, sizeof(buf), _("  at stage %s"), ctl_report_name(k));
		ctl_report_count(o, buf, json_integer_value(v));
	}
	ctl_report_count(o, _("Order overdue at the end"), ctl_report_num(h, "stages_overdue.order"));
	ctl_report_count(o, _("Acceptance overdue at the end"),
	                 ctl_report_num(h, "stages_overdue.acceptance"));
	ctl_report_count(o, _("Deadline fell in the period"), ctl_report_num(h, "due"));
	ctl_report_count(o, _("Rectified by the deadline"), ctl_report_num(h, "rectified_by_deadline"));
	ctl_report_row(o, _("Rectification rate"),
	               ctl_report_pct(json_object_get(h, "rectification_rate"), _("none due"), rate,
	                              sizeof(rate)),
	               false);
	ctl_report_row(o, _("Review rate"),
	               ctl_report_pct(json_object_get(h, "review_rate"),
	                              _("no reviews reported by the platform"), rate, sizeof(rate)),
	               false);
	ctl_report_count(o, _("Recurred after close"), ctl_report_num(h, "recurred_after_close"));
	ctl_report_count(o, _("Reopened"), ctl_report_num(h, "reopened"));
	ctl_report_count(o, _("Grade raised"), ctl_report_num(h, "grade_raised"));
	ctl_report_count(o, _("Deferred with a written reason"), ctl_report_num(h, "deferred"));
	ctl_report_count(o, _("Put under supervision"), ctl_report_num(h, "supervised"));
	json_t *old = json_object_get(h, "oldest_open");
	if (json_is_object(old)) {
		char *id = textesc_dup(ctl_report_str(old, "id"));

		snprintf(buf, sizeof(buf), _("%s, found %s, %lld days"), id ? id : "",
		         ctl_report_time(old, "found", t, sizeof(t)), ctl_report_num(old, "age_days"));
		free(id);
		ctl_report_row(o, _("Oldest open item"), buf, !o->csv);
	} else
		ctl_report_row(o, _("Oldest open item"), _("none"), false);
}

static void ctl_report_others(struct ctl_report_out *o, json_t *r)
{
	char buf[64], rate[16];
	size_t i;
	json_t *d;

	ctl_report_section(o, _("Fire alarms and other incidents (counted apart)"));
	ctl_report_count(o, _("Fire alarms"), ctl_report_num(r, "fire_alarms.count"));
	ctl_report_count(o, _("Closed"), ctl_report_num(r, "fire_alarms.closed"));
	ctl_report_count(o, _("Open at the end"), ctl_report_num(r, "fire_alarms.open_at_end"));
	ctl_report_count(o, _("  verified a real fire"),
	                 ctl_report_num(r, "fire_alarms.verification.real_fire"));
	ctl_report_count(o, _("  verified a false alarm"),
	                 ctl_report_num(r, "fire_alarms.verification.false_alarm"));
	ctl_report_count(o, _("  verified a test"), ctl_report_num(r, "fire_alarms.verification.test"));
	ctl_report_count(o, _("  verified, outcome unknown"),
	                 ctl_report_num(r, "fire_alarms.verification.unknown"));
	ctl_report_count(o, _("  not verified"),
	                 ctl_report_num(r, "fire_alarms.verification.unverified"));
	ctl_report_section(o, _("Devices"));
	ctl_report_count(o, _("Devices"), ctl_report_num(r, "devices.count"));
	ctl_report_row(o, _("Online rate"),
	               ctl_report_pct(ctl_report_get(r, "devices.online_rate"), _("unknown"), rate,
	                              sizeof(rate)),
	               false);
	snprintf(buf, sizeof(buf), "%.2f",
	         json_number_value(ctl_report_get(r, "devices.offline_hours")));
	ctl_report_row(o, _("Hours offline (all devices)"), buf, false);
	json_array_foreach(ctl_report_get(r, "devices.most_faults"), i, d)
	{
		char label[160];

		snprintf(label, sizeof(label), _("Faults of %s"), ctl_report_str(d, "device"));
		if (!o->csv) {
			char *e = textesc_dup(label);

			ctl_report_count(o, e ? e : "", ctl_report_num(d, "faults"));
			free(e);
		} else
			ctl_report_count(o, label, ctl_report_num(d, "faults"));
	}
	ctl_report_count(o, _("Test alarms (not counted)"), ctl_report_num(r, "tests.items"));
}

/* The widths of the list's columns but the last. */
static const int ctl_report_cols[8] = {20, 16, 16, 10, 16, 16, 12, 18};

/* The 隐患清单. */
static void ctl_report_list(struct ctl_report_out *o, json_t *list, bool truncated)
{
	static const char *const cols[] = {N_("ID"),       N_("Location"),    N_("Kind"),
	                                   N_("Grade"),    N_("Found"),       N_("Deadline"),
	                                   N_("Responsible"), N_("Status"), N_("Overdue")};
	size_t i;
	json_t *e;

	ctl_report_section(o, _("Hazard list"));
	if (o->csv) {
		for (i = 0; i < 9; i++) {
			if (i)
				fputc(',', o->f);
			ctl_report_field(o->f, _(cols[i]), false);
		}
		fputs("\r\n", o->f);
	} else {
		fputs("  ", o->f);
		for (i = 0; i < 9; i++)
			ctl_report_pad(o->f, _(cols[i]), i == 8 ? 0 : ctl_report_cols[i]);
		fputc('\n', o->f);
	}
	json_array_foreach(list, i, e)
	{
		char found[32], dl[32];
		const char *v[9] = {
		    ctl_report_str(e, "id"),
		    ctl_report_str(e, "location"),
		    ctl_report_name(ctl_report_str(e, "kind")),
		    ctl_report_name(ctl_report_str(e, "grade")),
		    ctl_report_time(e, "found", found, sizeof(found)),
		    ctl_report_time(e, "deadline", dl, sizeof(dl)),
		    ctl_report_str(e, "responsible"),
		    ctl_report_name(ctl_report_str(e, "status")),
		    json_is_true(json_object_get(e, "overdue")) ? _("yes") : _("no")};

		if (o->csv) {
			for (size_t c = 0; c < 9; c++) {
				if (c)
					fputc(',', o->f);
				ctl_report_field(o->f, v[c], true);
			}
			fputs("\r\n", o->f);
			continue;
		}
		fputs("  ", o->f);
		for (size_t c = 0; c < 9; c++) {
			char *t = textesc_dup(v[c]);

			ctl_report_pad(o->f, t ? t : "", c == 8 ? 0 : ctl_report_cols[c]);
			free(t);
		}
		fputc('\n', o->f);
	}
	if (json_array_size(list) == 0 && !o->csv)
		fprintf(o->f, "  %s\n", _("no items in the period"));
	if (truncated)
		ctl_report_row(o, _("The list was cut short"), _("yes"), false);
}

/* ---------------------------------------------------------------- output */

bool ctl_report_encoding_ok(const char *e)
{
	return !e || !strcasecmp(e, "utf-8") || !strcasecmp(e, "utf8") || !strcasecmp(e, "gb18030");
}

/* Writes the UTF-8 text as GB 18030 to stdout. */
static int ctl_report_gb18030(const char *text, size_t len)
{
	iconv_t cd = iconv_open("GB18030", "UTF-8");
	char out[4096];
	char *in = (char *)text;
	int rc = 0;

	if (cd == (iconv_t)-1) {
		fprintf(stderr, _("firegwctl: this system cannot convert to GB 18030: %s\n"),
		        strerror(errno));
		return 1;
	}
	while (len > 0) {
		char *p = out;
		size_t room = sizeof(out);

		if (iconv(cd, &in, &len, &p, &room) == (size_t)-1 && errno != E2BIG) {
			fprintf(stderr, _("firegwctl: the report cannot be written in GB 18030: %s\n"),
			        strerror(errno));
			rc = 1;
			break;
		}
		fwrite(out, 1, sizeof(out) - room, stdout);
	}
	iconv_close(cd);
	return rc;
}

int ctl_report_print(json_t *r, const struct ctl_report_opts *opts)
{
	struct ctl_report_out o = {.csv = opts->csv};
	char *text = NULL;
	size_t len = 0;
	int rc = 0;

	o.f = open_memstream(&text, &len);
	if (!o.f) {
		fprintf(stderr, "firegwctl: %s\n", strerror(errno));
		return 1;
	}
	ctl_report_header(&o, r);
	ctl_report_paragraph(&o, r);
	ctl_report_hazards(&o, json_object_get(r, "hazards"));
	ctl_report_others(&o, r);
	if (json_is_array(json_object_get(r, "list")))
		ctl_report_list(&o, json_object_get(r, "list"),
		                json_is_true(json_object_get(r, "list_truncated")));
	fclose(o.f);
	if (opts->csv && opts->encoding && !strcasecmp(opts->encoding, "gb18030"))
		rc = ctl_report_gb18030(text, len);
	else {
		if (opts->csv)
			fputs("\xEF\xBB\xBF", stdout); /* the BOM: Excel then reads UTF-8 */
		fwrite(text, 1, len, stdout);
	}
	free(text);
	if (fflush(stdout) != 0)
		rc = 1;
	return rc;
}
