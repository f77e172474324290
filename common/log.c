/* SPDX-License-Identifier: MIT */
/* log: priority-prefixed lines on stderr, an optional sink, and once-per-change reporting.
 * Every line is escaped here, in one place: a control character in a string from outside
 * (a platform id or reason, an MQTT topic, a device's reply, a control request) is written
 * as \xNN (textesc), so no peer can start a line of its own ("\n<0>...") or drive a
 * terminal. */
#include "log.h"

#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "i18n.h"
#include "textesc.h"

static int log_max = LOG_LVL_INFO;
static bool log_prefix = true;
static bool log_syslog;
static log_sink_fn log_sink;
static void *log_sink_data;

void log_init(int max_level, bool prefix)
{
	log_max = max_level;
	log_prefix = prefix;
}

void log_set_level(int max_level)
{
	log_max = max_level;
}

void log_use_syslog(const char *ident)
{
	openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	log_syslog = true;
}

void log_set_sink(log_sink_fn sink, void *userdata)
{
	log_sink = sink;
	log_sink_data = userdata;
}

void log_vmsg(int level, const char *fmt, va_list ap)
{
	char raw[1024], line[sizeof(raw) * 4];

	if (level > log_max)
		return;
	vsnprintf(raw, sizeof(raw), fmt, ap);
	textesc(line, sizeof(line), raw);
	if (log_sink) {
		log_sink(level, line, log_sink_data);
		return;
	}
	if (log_syslog)
		syslog(level, "%s", line);
	else if (log_prefix)
		fprintf(stderr, "<%d>%s\n", level, line);
	else
		fprintf(stderr, "%s\n", line);
}

void log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

bool log_state_report(struct log_state *st, int code, const char *what, const char *detail)
{
	if (code == st->code) {
		if (code != 0)
			st->repeats++;
		return false;
	}
	if (code == 0)
		log_notice(_("%s: recovered after %lu repeated failure(s)"), what, st->repeats + 1);
	else if (st->code == 0)
		log_warn("%s: %s", what, detail ? detail : _("failed"));
	else
		log_warn(_("%s: now %s (was failing %lu time(s) before)"), what,
		         detail ? detail : _("failing"), st->repeats + 1);
	st->code = code;
	st->repeats = 0;
	return true;
}
