/* SPDX-License-Identifier: MIT */
/* web_pages: the HTML of the login, overview, devices, hazards, hazard and config pages. */
#include "web_pages.h"

#include <stdio.h>
#include <string.h>

#include "jsonfmt.h"

#define T(s) web_text(p->lang, s) /* the words are web_text.c's table, not the catalogue */

static const char *const web_pages_grades[] = {"immediate", "major", "significant", "general"};
static const char *const web_pages_statuses[] = {"acknowledged", "rectifying",
                                                 "pending_acceptance", "closed"};

static const char *web_pages_str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

/* "2026-11-23T08:00:01.123Z" as "2026-11-23 08:00:01 UTC", or "-". */
static void web_pages_when(struct web_buf *b, json_t *o, const char *key)
{
	const char *s = web_pages_str(o, key);
	char t[32];

	if (strlen(s) < 19) {
		web_buf_add(b, "-");
		return;
	}
	snprintf(t, sizeof(t), "%.10s %.8s", s, s + 11);
	web_buf_esc(b, t);
}

static void web_pages_duration(struct web_buf *b, long long s)
{
	if (s < 120)
		web_buf_addf(b, "%lld s", s);
	else if (s < 7200)
		web_buf_addf(b, "%lld min", s / 60);
	else if (s < 172800)
		web_buf_addf(b, "%lld h %lld min", s / 3600, s / 60 % 60);
	else
		web_buf_addf(b, "%lld d %lld h", s / 86400, s / 3600 % 24);
}

static void web_pages_head(struct web_buf *b, const struct web_page *p, const char *title)
{
	web_buf_addf(b,
	             "<!DOCTYPE html>\n<html lang=\"%s\"><head><meta charset=\"utf-8\">"
	             "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
	             "<title>",
	             web_text_code(p->lang));
	web_buf_esc(b, title);
	web_buf_add(b, " · firegw</title><link rel=\"stylesheet\" href=\"/static/style.css\">"
	               "<script src=\"/static/app.js\" defer></script></head><body><header><nav>");
	if (p->csrf && p->user && p->user[0]) {
		web_buf_addf(b, "<a href=\"/\">%s</a><a href=\"/devices\">%s</a>"
		                "<a href=\"/hazards\">%s</a><a href=\"/commission\">%s</a>"
		                "<a href=\"/config\">%s</a>",
		             T("Overview"), T("Devices"), T("Hazards"), T("Commissioning"), T("Config"));
	}
	web_buf_add(b, "<span class=\"lang\"><a href=\"?lang=zh\" lang=\"zh-CN\">中文</a>"
	               "<a href=\"?lang=en\" lang=\"en\">English</a></span>");
	if (p->csrf && p->user && p->user[0]) {
		web_buf_add(b, "<form method=\"post\" action=\"/logout\" class=\"logout\">"
		               "<input type=\"hidden\" name=\"csrf\" value=\"");
		web_buf_esc(b, p->csrf);
		web_buf_add(b, "\"><button type=\"submit\">");
		web_buf_esc(b, p->user);
		web_buf_addf(b, " · %s</button></form>", T("Log out"));
	}
	web_buf_add(b, "</nav></header><main><h1>");
	web_buf_esc(b, title);
	web_buf_add(b, "</h1>\n");
}

static void web_pages_foot(struct web_buf *b)
{
	web_buf_add(b, "</main></body></html>\n");
}

void web_pages_login(struct web_buf *b, const struct web_page *p, const char *message, int users)
{
	web_pages_head(b, p, T("Log in"));
	if (users == 0)
		web_buf_addf(b, "<p class=\"notice\" id=\"nopassword\">%s</p>",
		             T("No password is set yet. On the gateway, run as root: "
		               "firegw-web passwd admin"));
	if (message && *message) {
		web_buf_add(b, "<p class=\"error\" id=\"error\">");
		web_buf_esc(b, message);
		web_buf_add(b, "</p>");
	}
	web_buf_add(b, "<form method=\"post\" action=\"/login\" class=\"login\">"
	               "<input type=\"hidden\" name=\"csrf\" value=\"");
	web_buf_esc(b, p->csrf);
	web_buf_addf(b,
	             "\"><label>%s <input name=\"user\" id=\"user\" autocomplete=\"username\" "
	             "maxlength=\"32\" required></label>"
	             "<label>%s <input name=\"password\" id=\"password\" type=\"password\" "
	             "autocomplete=\"current-password\" maxlength=\"256\" required></label>"
	             "<button type=\"submit\" id=\"login\">%s</button></form>",
	             T("User"), T("Password"), T("Log in"));
	web_pages_foot(b);
}

void web_pages_error(struct web_buf *b, const struct web_page *p, const char *message)
{
	web_pages_head(b, p, "firegw");
	web_buf_add(b, "<p class=\"error\" id=\"error\">");
	web_buf_esc(b, message);
	web_buf_add(b, "</p>");
	web_pages_foot(b);
}

/* <div><dt>label</dt><dd data-k="key">n</dd></div> */
static void web_pages_count(struct web_buf *b, const char *label, const char *key, long long n)
{
	web_buf_add(b, "<div><dt>");
	web_buf_esc(b, label);
	web_buf_addf(b, "</dt><dd data-k=\"%s\">%lld</dd></div>", key, n);
}

static void web_pages_destinations(struct web_buf *b, const struct web_page *p, json_t *dests)
{
	json_t *d;
	size_t i;

	web_buf_addf(b, "<h2>%s</h2>", T("Platforms"));
	if (json_array_size(dests) == 0) {
		web_buf_addf(b, "<p>%s</p>", T("No platform: events wait in the outbox."));
		return;
	}
	web_buf_addf(b,
	             "<div class=\"scroll\"><table id=\"platforms\"><tr><th>%s</th><th>%s</th>"
	             "<th>%s</th><th>%s</th><th>%s</th></tr>",
	             T("Name"), T("Address"), T("State"), T("Last upload"), T("Waiting"));
	json_array_foreach(dests, i, d)
	{
		bool enabled = json_is_true(json_object_get(d, "enabled"));
		long long fails = jsonfmt_int(d, "failures_in_a_row");

		web_buf_add(b, "<tr data-platform=\"");
		web_buf_esc(b, web_pages_str(d, "name"));
		web_buf_add(b, "\"><td>");
		web_buf_esc(b, web_pages_str(d, "name"));
		web_buf_add(b, "</td><td>");
		web_buf_esc(b, web_pages_str(d, "url"));
		if (!enabled)
			web_buf_addf(b, "</td><td class=\"off\">%s",
			             T("off (its token or password file is missing)"));
		else if (fails) {
			web_buf_addf(b, "</td><td class=\"bad\">%s (%lld): ", T("failing"), fails);
			web_buf_esc(b, web_pages_str(d, "last_error"));
		} else
			web_buf_addf(b, "</td><td class=\"good\">%s", T("connected"));
		web_buf_add(b, "</td><td>");
		web_pages_when(b, d, "last_success");
		web_buf_addf(b, "</td><td data-k=\"outbox\">%lld</td></tr>", jsonfmt_int(d, "outbox"));
	}
	web_buf_add(b, "</table></div>");
}

void web_pages_overview(struct web_buf *b, const struct web_page *p, json_t *r)
{
	json_t *g = json_object_get(r, "open_hazards"), *ob = json_object_get(r, "outbox"),
	       *lg = json_object_get(r, "ledger");
	long long total = jsonfmt_int(r, "devices_total"), on = jsonfmt_int(r, "devices_online"),
	          off = jsonfmt_int(r, "devices_offline");

	web_pages_head(b, p, T("Overview"));
	web_buf_addf(b,
	             "<div id=\"overview\" data-live><dl class=\"facts\"><div><dt>%s</dt>"
	             "<dd data-k=\"gateway\">",
	             T("Gateway"));
	web_buf_esc(b, web_pages_str(r, "gateway"));
	web_buf_addf(b, "</dd></div><div><dt>%s</dt><dd data-k=\"version\">", T("Version"));
	web_buf_esc(b, web_pages_str(r, "version"));
	web_buf_addf(b, "</dd></div><div><dt>%s</dt><dd>", T("Up for"));
	web_pages_duration(b, jsonfmt_int(r, "uptime_s"));
	web_buf_add(b, "</dd></div></dl>");

	web_buf_addf(b, "<h2>%s</h2><dl class=\"counts\">", T("Devices"));
	web_pages_count(b, T("online"), "devices_online", on);
	web_pages_count(b, T("offline"), "devices_offline", off);
	web_pages_count(b, T("not yet heard"), "devices_pending", total - on - off);
	web_buf_add(b, "</dl>");

	web_buf_addf(b, "<h2>%s</h2><dl class=\"counts grades\">", T("Open hazards"));
	for (size_t i = 0; i < 4; i++) {
		char key[32];

		snprintf(key, sizeof(key), "open_%s", web_pages_grades[i]);
		web_buf_addf(b, "<div class=\"g-%s\"><dt><a href=\"/hazards?status=open&amp;grade=%s\">",
		             web_pages_grades[i], web_pages_grades[i]);
		web_buf_esc(b, web_text(p->lang, web_pages_grades[i]));
		web_buf_addf(b, "</a></dt><dd data-k=\"%s\">%lld</dd></div>", key,
		             jsonfmt_int(g, web_pages_grades[i]));
	}
	web_buf_add(b, "</dl>");

	web_buf_addf(b, "<h2>%s</h2><dl class=\"counts\">", T("Outbox"));
	web_pages_count(b, T("alarm lane"), "outbox_alarm", jsonfmt_int(ob, "alarm"));
	web_pages_count(b, T("telemetry lane"), "outbox_telemetry", jsonfmt_int(ob, "telemetry"));
	web_buf_addf(b, "<div><dt>%s</dt><dd>", T("oldest unsent"));
	if (jsonfmt_int(ob, "alarm") || jsonfmt_int(ob, "telemetry"))
		web_pages_duration(b, jsonfmt_int(r, "oldest_unsent_age_s"));
	else
		web_buf_add(b, "-");
	web_buf_add(b, "</dd></div></dl>");

	web_pages_destinations(b, p, json_object_get(r, "destinations"));

	web_buf_addf(b, "<h2>%s</h2><dl class=\"facts\"><div><dt>%s</dt><dd data-k=\"ledger\">",
	             T("Ledger"), T("State"));
	if (json_is_false(json_object_get(lg, "ok"))) {
		web_buf_addf(b, "<span class=\"bad\">%s</span>: ", T("NOT RECORDING"));
		web_buf_esc(b, web_pages_str(lg, "error"));
	} else
		web_buf_addf(b, "<span class=\"good\">%s</span>", T("recording"));
	web_buf_addf(b, "</dd></div><div><dt>%s</dt><dd>%lld</dd></div>", T("events"),
	             jsonfmt_int(lg, "events"));
	web_buf_addf(b, "<div><dt>%s</dt><dd>%lld</dd></div>", T("dead letters"),
	             jsonfmt_int(lg, "dead_letters"));
	long long disk = jsonfmt_int(r, "disk_free_bytes");
	web_buf_addf(b, "<div><dt>%s</dt><dd>", T("Disk free"));
	if (disk < 0)
		web_buf_add(b, "-");
	else
		web_buf_addf(b, "%.1f MiB", (double)disk / (1024.0 * 1024.0));
	web_buf_add(b, "</dd></div></dl></div>");
	web_pages_foot(b);
}

/* "leak 12 mA, t1 24.5 °C": as firegwctl shows them, and as app.js writes them. */
static void web_pages_values(struct web_buf *b, json_t *values)
{
	const char *k;
	json_t *v;
	bool first = true;

	json_object_foreach(values, k, v)
	{
		json_t *x = json_object_get(v, "value");
		const char *unit = web_pages_str(v, "unit");

		if (!first)
			web_buf_add(b, ", ");
		first = false;
		web_buf_esc(b, k);
		if (json_is_number(x))
			web_buf_addf(b, " %g", json_number_value(x));
		else
			web_buf_add(b, " -");
		if (*unit) {
			web_buf_add(b, " ");
			web_buf_esc(b, unit);
		}
	}
}

void web_pages_devices(struct web_buf *b, const struct web_page *p, json_t *r)
{
	json_t *d;
	size_t i;

	web_pages_head(b, p, T("Devices"));
	web_buf_addf(b,
	             "<p class=\"refreshed\">%s <span id=\"refreshed\">-</span></p>"
	             "<div class=\"scroll\"><table id=\"devices\" data-refresh=\"/api/devices\">"
	             "<thead><tr><th>%s</th><th>%s</th><th>%s</th><th>%s</th><th>%s</th>"
	             "<th>%s</th></tr></thead><tbody>",
	             T("Refreshed at"), T("Device"), T("Where"), T("State"), T("Last poll"),
	             T("Values"), T("Location"));
	json_array_foreach(json_object_get(r, "devices"), i, d)
	{
		bool online = json_is_true(json_object_get(d, "online"));

		web_buf_add(b, "<tr data-dev=\"");
		web_buf_esc(b, web_pages_str(d, "id"));
		web_buf_addf(b, "\" class=\"%s\"><td class=\"id\">", online ? "on" : "off");
		web_buf_esc(b, web_pages_str(d, "id"));
		web_buf_add(b, "</td><td class=\"where\">");
		if (!strcmp(web_pages_str(d, "type"), "modbus")) {
			web_buf_esc(b, web_pages_str(d, "bus"));
			web_buf_addf(b, "/%lld", jsonfmt_int(d, "unit"));
		} else {
			web_buf_add(b, "mqtt ");
			web_buf_esc(b, web_pages_str(d, "key"));
		}
		web_buf_add(b, "</td><td class=\"why\">");
		web_buf_esc(b, web_pages_str(d, "why"));
		if (json_is_true(json_object_get(d, "backing_off")))
			web_buf_addf(b, " (%lld s)", jsonfmt_int(d, "retry_in_s"));
		web_buf_add(b, "</td><td class=\"last\">");
		web_pages_when(b, d, "last_ok");
		web_buf_add(b, "</td><td class=\"values\">");
		/* An offline device's last values are not news: as firegwctl, none are shown. */
		if (online)
			web_pages_values(b, json_object_get(d, "values"));
		web_buf_add(b, "</td><td class=\"location\">");
		web_buf_esc(b, web_pages_str(d, "location"));
		web_buf_add(b, "</td></tr>");
	}
	web_buf_add(b, "</tbody></table></div>");
	/* The test alarm: recorded, sent to the platform, followed on the item's page. */
	web_buf_addf(b, "<h2>%s</h2><p>%s</p><form method=\"post\" action=\"/test\" "
	                "class=\"filter\" id=\"testform\"><input type=\"hidden\" name=\"csrf\" "
	                "value=\"",
	             T("Test alarm"),
	             T("A test fire alarm on the device, recorded, sent to the platform and closed; "
	               "each step is shown as it happens. It never counts as a real alarm."));
	web_buf_esc(b, p->csrf);
	web_buf_add(b, "\"><select name=\"device\" id=\"testdevice\">");
	json_array_foreach(json_object_get(r, "devices"), i, d)
	{
		web_buf_add(b, "<option value=\"");
		web_buf_esc(b, web_pages_str(d, "id"));
		web_buf_add(b, "\">");
		web_buf_esc(b, web_pages_str(d, "id"));
		web_buf_add(b, "</option>");
	}
	web_buf_addf(b, "</select><button type=\"submit\" id=\"testbutton\">%s</button></form>",
	             T("Send a test alarm"));
	web_pages_foot(b);
}

static void web_pages_option(struct web_buf *b, const char *value, const char *label,
                             const char *chosen)
{
	web_buf_addf(b, "<option value=\"%s\"%s>", value,
	             strcmp(value, chosen) == 0 ? " selected" : "");
	web_buf_esc(b, label);
	web_buf_add(b, "</option>");
}

/* <td title="code">the code in the reader's language</td>: a status or a kind. */
static void web_pages_coded(struct web_buf *b, const struct web_page *p, const char *code)
{
	web_buf_add(b, "<td title=\"");
	web_buf_esc(b, code);
	web_buf_add(b, "\">");
	web_buf_esc(b, web_text(p->lang, code));
	web_buf_add(b, "</td>");
}

void web_pages_hazards(struct web_buf *b, const struct web_page *p, json_t *r, const char *status,
                       const char *grade)
{
	json_t *h;
	size_t i, shown = 0;

	web_pages_head(b, p, T("Hazards"));
	web_buf_addf(b, "<form method=\"get\" action=\"/hazards\" class=\"filter\"><label>%s "
	                "<select name=\"status\" id=\"status\">",
	             T("Status"));
	web_pages_option(b, "", T("all"), status);
	web_pages_option(b, "open", T("open (not closed)"), status);
	for (i = 0; i < sizeof(web_pages_statuses) / sizeof(web_pages_statuses[0]); i++)
		web_pages_option(b, web_pages_statuses[i], web_text(p->lang, web_pages_statuses[i]),
		                 status);
	web_buf_addf(b, "</select></label><label>%s <select name=\"grade\" id=\"grade\">",
	             T("Grade"));
	web_pages_option(b, "", T("all"), grade);
	for (i = 0; i < 4; i++)
		web_pages_option(b, web_pages_grades[i], web_text(p->lang, web_pages_grades[i]), grade);
	web_buf_addf(b, "</select></label><button type=\"submit\">%s</button></form>", T("Filter"));

	web_buf_addf(b,
	             "<div id=\"hazard-list\" data-live><div class=\"scroll\"><table id=\"hazards\">"
	             "<thead><tr><th>%s</th><th>%s</th>"
	             "<th>%s</th><th>%s</th><th>%s</th><th>%s</th><th>%s</th></tr></thead><tbody>",
	             T("Hazard"), T("Grade"), T("Status"), T("Kind"), T("Device"), T("First seen"),
	             T("Flags"));
	json_array_foreach(json_object_get(r, "hazards"), i, h)
	{
		const char *st = web_pages_str(h, "status");

		/* "open" went to the daemon as open_only; one status is picked out here. */
		if (*status && strcmp(status, "open") != 0 && strcmp(st, status) != 0)
			continue;
		shown++;
		web_buf_add(b, "<tr data-hazard=\"");
		web_buf_esc(b, web_pages_str(h, "id"));
		web_buf_add(b, "\"><td><a href=\"/hazard?id=");
		web_buf_esc(b, web_pages_str(h, "id")); /* ids are [A-Za-z0-9_-] */
		web_buf_add(b, "\">");
		web_buf_esc(b, web_pages_str(h, "id"));
		web_buf_addf(b, "</a></td><td class=\"g-%s\">",
		             strspn(web_pages_str(h, "grade"), "abcdefghijklmnopqrstuvwxyz") ==
		                     strlen(web_pages_str(h, "grade"))
		                 ? web_pages_str(h, "grade")
		                 : "");
		web_buf_esc(b, web_text(p->lang, web_pages_str(h, "grade")));
		web_pages_coded(b, p, st);
		web_pages_coded(b, p, web_pages_str(h, "kind"));
		web_buf_add(b, "<td>");
		web_buf_esc(b, web_pages_str(h, "device_id"));
		web_buf_add(b, "/");
		web_buf_esc(b, web_pages_str(h, "point"));
		web_buf_add(b, "</td><td>");
		web_pages_when(b, h, "first_seen");
		web_buf_addf(b, "</td><td>%s%s%s</td></tr>",
		             json_is_true(json_object_get(h, "active")) ? "active " : "",
		             json_is_true(json_object_get(h, "overdue")) ? "overdue " : "",
		             json_is_true(json_object_get(h, "test")) ? "test" : "");
	}
	web_buf_add(b, "</tbody></table></div>");
	if (!shown)
		web_buf_addf(b, "<p id=\"nohazards\">%s</p>", T("No hazards."));
	web_buf_add(b, "</div>");
	web_pages_foot(b);
}

void web_pages_hazard(struct web_buf *b, const struct web_page *p, json_t *r)
{
	json_t *h = json_object_get(r, "hazard"), *e, *v;
	const char *k;
	size_t i;

	web_pages_head(b, p, T("Hazard"));
	web_buf_add(b, "<dl class=\"facts\" id=\"hazard\" data-live>");
	json_object_foreach(h, k, v)
	{
		if (json_is_null(v) || json_is_object(v) || json_is_array(v))
			continue;
		web_buf_add(b, "<div><dt>");
		web_buf_esc(b, k);
		web_buf_add(b, "</dt><dd data-k=\"");
		web_buf_esc(b, k);
		web_buf_add(b, "\">");
		if (json_is_string(v))
			web_buf_esc(b, json_string_value(v));
		else if (json_is_integer(v))
			web_buf_addf(b, "%lld", (long long)json_integer_value(v));
		else if (json_is_real(v))
			web_buf_addf(b, "%g", json_real_value(v));
		else
			web_buf_add(b, json_is_true(v) ? "true" : "false");
		web_buf_add(b, "</dd></div>");
	}
	web_buf_addf(b,
	             "</dl><h2>%s</h2><div class=\"scroll\" id=\"history\" data-live>"
	             "<table id=\"events\"><thead><tr>"
	             "<th>#</th><th>%s</th><th>%s</th><th>%s</th></tr></thead><tbody>",
	             T("History"), T("Event"), T("At"), T("Delivery"));
	json_array_foreach(json_object_get(r, "events"), i, e)
	{
		web_buf_addf(b, "<tr><td>%lld</td><td>", jsonfmt_int(e, "seq"));
		web_buf_esc(b, web_pages_str(e, "type"));
		web_buf_add(b, "</td><td>");
		web_pages_when(b, e, "at");
		web_buf_add(b, "</td><td>");
		web_buf_esc(b, web_pages_str(e, "delivery"));
		if (*web_pages_str(e, "reason")) {
			web_buf_add(b, ": ");
			web_buf_esc(b, web_pages_str(e, "reason"));
		}
		web_buf_add(b, "</td></tr>");
	}
	web_buf_add(b, "</tbody></table></div>");
	web_pages_foot(b);
}

/* Text of several lines in a <pre>: each line escaped, the newlines kept. */
static void web_pages_lines(struct web_buf *b, const char *text)
{
	char line[1024];

	for (const char *s = text; s && *s;) {
		const char *end = strchr(s, '\n');
		size_t n = end ? (size_t)(end - s) : strlen(s);

		snprintf(line, sizeof(line), "%.*s", (int)(n < sizeof(line) ? n : sizeof(line) - 1), s);
		web_buf_esc(b, line);
		web_buf_add(b, "\n");
		s = end ? end + 1 : NULL;
	}
}

void web_pages_config(struct web_buf *b, const struct web_page *p, const char *path,
                      const char *text, const char *check, int check_status)
{
	web_pages_head(b, p, T("Config"));
	web_buf_addf(b, "<p class=\"notice\">%s</p>",
	             T("The config is changed on the gateway (firegw check, then systemctl reload "
	               "firegw); this page does not apply a new one."));
	if (!path) {
		web_buf_addf(b, "<p>%s</p>", T("No config file was given to firegw-web (--config)."));
		web_pages_foot(b);
		return;
	}
	web_buf_addf(b, "<h2>%s</h2><pre id=\"check\" class=\"%s\">", T("Check result"),
	             check_status == 0 ? "good" : "bad");
	web_pages_lines(b, check ? check : "-");
	web_buf_addf(b, "</pre><h2>%s: ", T("Config file"));
	web_buf_esc(b, path);
	web_buf_add(b, "</h2><pre id=\"config\">");
	web_pages_lines(b, text ? text : "-");
	web_buf_add(b, "</pre>");
	web_pages_foot(b);
}

/* A hidden CSRF field and the form's opening, for the commissioning page's POSTs. */
static void web_pages_form(struct web_buf *b, const struct web_page *p, const char *action,
                           const char *id)
{
	web_buf_addf(b, "<form method=\"post\" action=\"%s\" class=\"filter\" id=\"%s\">"
	                "<input type=\"hidden\" name=\"csrf\" value=\"",
	             action, id);
	web_buf_esc(b, p->csrf);
	web_buf_add(b, "\">");
}

/* The followed scan: progress, units found, their config blocks. */
static void web_pages_scan_job(struct web_buf *b, const struct web_page *p, json_t *job)
{
	json_t *f, *n;
	size_t i, k;

	web_buf_addf(b, "<p><progress id=\"scanprogress\" value=\"%lld\" max=\"%lld\"></progress> "
	                "<span id=\"scancount\">%lld / %lld</span> %s, %zu %s</p>",
	             jsonfmt_int(job, "scanned"), jsonfmt_int(job, "total"),
	             jsonfmt_int(job, "scanned"), jsonfmt_int(job, "total"), T("units asked"),
	             json_array_size(json_object_get(job, "found")), T("found"));
	if (!strcmp(web_pages_str(job, "state"), "running")) {
		web_pages_form(b, p, "/scan-cancel", "cancelform");
		web_buf_add(b, "<input type=\"hidden\" name=\"job\" value=\"");
		web_buf_esc(b, web_pages_str(job, "id"));
		web_buf_addf(b, "\"><button type=\"submit\">%s</button></form>", T("Cancel the scan"));
	}
	if (!json_array_size(json_object_get(job, "found")))
		return;
	web_buf_addf(b, "<div class=\"scroll\"><table id=\"found\"><thead><tr><th>%s</th>"
	                "<th>%s</th></tr></thead><tbody>",
	             T("Unit"), T("Profiles that fit"));
	json_array_foreach(json_object_get(job, "found"), i, f)
	{
		web_buf_addf(b, "<tr><td>%lld</td><td>", jsonfmt_int(f, "unit"));
		json_array_foreach(json_object_get(f, "profiles"), k, n)
		{
			web_buf_add(b, k ? ", " : "");
			web_buf_esc(b, json_string_value(n));
		}
		web_buf_add(b, "</td></tr>");
	}
	web_buf_addf(b, "</tbody></table></div><h2>%s</h2><p>%s</p><pre id=\"config\">",
	             T("Config blocks to copy"),
	             T("Add them to the configuration, fill in each location, check it and reload."));
	web_pages_lines(b, web_pages_str(job, "config"));
	web_buf_add(b, "</pre>");
}

/* The followed probe: every point, or why the device did not answer. */
static void web_pages_probe_job(struct web_buf *b, const struct web_page *p, json_t *job)
{
	json_t *pr = json_object_get(job, "probe"), *pt, *bit;
	size_t i, k;

	if (!pr)
		return;
	if (!json_is_true(json_object_get(pr, "answered"))) {
		web_buf_addf(b, "<p class=\"error\">%s: ", T("No answer"));
		web_buf_esc(b, web_pages_str(pr, "why"));
		web_buf_addf(b, " (%lld)</p>", jsonfmt_int(pr, "code"));
		return;
	}
	web_buf_addf(b, "<div class=\"scroll\"><table id=\"points\"><thead><tr><th>%s</th>"
	                "<th>%s</th><th>%s</th></tr></thead><tbody>",
	             T("Point"), T("Value"), T("Status bits"));
	json_array_foreach(json_object_get(pr, "points"), i, pt)
	{
		json_t *v = json_object_get(pt, "value");

		web_buf_add(b, "<tr><td>");
		web_buf_esc(b, web_pages_str(pt, "point"));
		web_buf_add(b, "</td><td>");
		if (json_is_number(v))
			web_buf_addf(b, "%g ", json_number_value(v));
		else
			web_buf_add(b, "- ");
		web_buf_esc(b, web_pages_str(pt, "unit"));
		web_buf_add(b, "</td><td>");
		json_array_foreach(json_object_get(pt, "bits"), k, bit)
		{
			web_buf_add(b, k ? ", " : "");
			web_buf_esc(b, json_string_value(bit));
		}
		web_buf_add(b, "</td></tr>");
	}
	web_buf_add(b, "</tbody></table></div>");
}

void web_pages_commission(struct web_buf *b, const struct web_page *p, json_t *r, json_t *job)
{
	json_t *d;
	size_t i, k;

	web_pages_head(b, p, T("Commissioning"));
	if (job) {
		const char *state = web_pages_str(job, "state");
		bool scan = !strcmp(web_pages_str(job, "kind"), "scan");

		/* data-live: app.js fetches the page again and swaps this section in. */
		web_buf_addf(b, "<section id=\"job\"%s data-state=\"", strcmp(state, "running") ? "" : " data-live");
		web_buf_esc(b, state);
		web_buf_addf(b, "\"><h2>%s ", scan ? T("Scan of bus") : T("Probe of device"));
		web_buf_esc(b, web_pages_str(job, scan ? "bus" : "device"));
		web_buf_add(b, ": <span id=\"jobstate\">");
		web_buf_esc(b, web_text(p->lang, state));
		web_buf_add(b, "</span></h2>");
		if (!strcmp(state, "failed")) {
			web_buf_add(b, "<p class=\"error\">");
			web_buf_esc(b, web_pages_str(job, "reason"));
			web_buf_add(b, "</p>");
		}
		if (scan)
			web_pages_scan_job(b, p, job);
		else
			web_pages_probe_job(b, p, job);
		web_buf_add(b, "</section>");
	}
	/* The buses of the Modbus devices, each once, in the order of the devices page. */
	web_buf_addf(b, "<h2>%s</h2><p>%s</p>", T("Scan a bus"),
	             T("Asks each unit id in turn, between the regular polls: the other devices go on "
	               "being read. A silent unit takes its timeout."));
	web_pages_form(b, p, "/scan", "scanform");
	web_buf_addf(b, "<label>%s <select name=\"bus\" id=\"scanbus\">", T("Bus"));
	json_array_foreach(json_object_get(r, "devices"), i, d)
	{
		const char *bus = web_pages_str(d, "bus");
		bool seen = false;
		json_t *e;

		json_array_foreach(json_object_get(r, "devices"), k, e)
			seen = seen || (k < i && !strcmp(web_pages_str(e, "bus"), bus));
		if (!*bus || seen)
			continue;
		web_buf_add(b, "<option value=\"");
		web_buf_esc(b, bus);
		web_buf_add(b, "\">");
		web_buf_esc(b, bus);
		web_buf_add(b, "</option>");
	}
	web_buf_addf(b, "</select></label><label>%s <input name=\"units\" id=\"scanunits\" "
	                "value=\"1-247\" size=\"7\" maxlength=\"7\"></label><label>%s <input "
	                "name=\"timeout\" id=\"scantimeout\" type=\"number\" min=\"1\" "
	                "max=\"60000\" value=\"100\"></label><button type=\"submit\" "
	                "id=\"scanbutton\">%s</button></form>",
	             T("Unit ids"), T("Timeout (ms)"), T("Scan"));
	web_buf_addf(b, "<h2>%s</h2><p>%s</p>", T("Probe a device"),
	             T("Reads every point of a configured device once, between its bus's polls."));
	web_pages_form(b, p, "/probe", "probeform");
	web_buf_add(b, "<select name=\"device\" id=\"probedevice\">");
	json_array_foreach(json_object_get(r, "devices"), i, d)
	{
		if (!*web_pages_str(d, "bus"))
			continue;
		web_buf_add(b, "<option value=\"");
		web_buf_esc(b, web_pages_str(d, "id"));
		web_buf_add(b, "\">");
		web_buf_esc(b, web_pages_str(d, "id"));
		web_buf_add(b, "</option>");
	}
	web_buf_addf(b, "</select><button type=\"submit\" id=\"probebutton\">%s</button></form>",
	             T("Probe"));
	web_pages_foot(b);
}
