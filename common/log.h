/* SPDX-License-Identifier: MIT */
/* log: the daemon's one way to say things. Lines go to stderr with a "<N>" syslog priority
 * prefix, which journald turns back into levels; a test or a tool may capture them instead.
 * log_state keeps a repeated error from flooding the log: its first occurrence, each change
 * and the recovery are logged, the repeats are only counted. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>

enum log_level {
	LOG_LVL_ERR = 3,
	LOG_LVL_WARN = 4,
	LOG_LVL_NOTICE = 5,
	LOG_LVL_INFO = 6,
	LOG_LVL_DEBUG = 7,
};

typedef void (*log_sink_fn)(int level, const char *line, void *userdata);

void log_init(int max_level, bool prefix);
void log_set_level(int max_level);
/* After detaching: lines go to syslog(3) under `ident` instead of stderr. */
void log_use_syslog(const char *ident);
/* Send lines somewhere else (tests); NULL restores stderr. */
void log_set_sink(log_sink_fn sink, void *userdata);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(int level, const char *fmt, va_list ap);

#define log_err(...)    log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...)   log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_LVL_NOTICE, __VA_ARGS__)
#define log_info(...)   log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...)  log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

/* A condition that may repeat every poll: logs on change, counts repeats. */
struct log_state {
	int code;              /* 0 = fine */
	unsigned long repeats; /* occurrences of the current code since it was logged */
};

/* Reports `code` (0 = fine) for `what`; logs only when the code changes. Returns true if logged. */
bool log_state_report(struct log_state *st, int code, const char *what, const char *detail);
