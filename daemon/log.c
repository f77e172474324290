/* log: priority-prefixed lines on stderr, an optional sink, and once-per-change reporting.
 * Every line is escaped here, in one place: a control character in a string from outside
 * (a platform id or reason, an MQTT topic, a device's reply, a control request) is written
 * as \xNN, so no peer can start a line of its own ("\n<0>...") or drive a terminal. */
#include "log.h"

#include <stdio.h>
#include <string.h>
#include <syslog.h>

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

size_t log_escape(char *out, size_t outlen, const char *in)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (outlen == 0)
		return 0;
	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		if (*p < 0x20 || *p == 0x7f || *p == '\\') {
			if (o + 4 >= outlen)
				break;
			out[o++] = '\\';
			if (*p == '\\') {
				out[o++] = '\\';
				continue;
			}
			out[o++] = 'x';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		} else {
			if (o + 1 >= outlen)
				break;
			out[o++] = (char)*p;
		}
	}
	out[o] = '\0';
	return o;
}

void log_vmsg(int level, const char *fmt, va_list ap)
{
	char raw[1024], line[sizeof(raw) * 4];

	if (level > log_max)
		return;
	vsnprintf(raw, sizeof(raw), fmt, ap);
	log_escape(line, sizeof(line), raw);
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
		log_notice("%s: recovered after %lu repeated failure(s)", what, st->repeats + 1);
	else if (st->code == 0)
		log_warn("%s: %s", what, detail ? detail : "failed");
	else
		log_warn("%s: now %s (was failing %lu time(s) before)", what,
		         detail ? detail : "failing", st->repeats + 1);
	st->code = code;
	st->repeats = 0;
	return true;
}
