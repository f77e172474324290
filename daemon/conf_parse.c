/* SPDX-License-Identifier: MIT */
/* conf_parse: libconfuse with line marks and file:line errors. */
#include "conf_parse.h"

#include <ctype.h>
#include <limits.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "i18n.h"
#include "secret.h"

#define CONF_PARSE_MAX_RECOVER 50

/* The parse in progress: libconfuse's callbacks carry no user data. Config is parsed on the
 * main thread only. */
static struct conf_parse *conf_parse_current;

static void conf_parse_mark(struct conf_parse *p, const cfg_t *sec, const char *name, int line,
                            const cfg_t *parent, char *key)
{
	if (p->nmarks == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 128;
		struct conf_mark *m = realloc(p->marks, cap * sizeof(*m));

		if (!m) {
			free(key);
			return;
		}
		p->marks = m;
		p->cap = cap;
	}
	p->marks[p->nmarks++] = (struct conf_mark){sec, name, line, parent, key};
}

/* The newest mark wins: a section written twice may be reallocated at the same address. */
static const struct conf_mark *conf_parse_find(const struct conf_parse *p, const cfg_t *sec,
                                               const char *name)
{
	for (size_t i = p->nmarks; i-- > 0;) {
		const struct conf_mark *m = &p->marks[i];

		if (m->sec == sec && ((name == NULL && m->name == NULL) ||
		                      (name && m->name && strcmp(name, m->name) == 0)))
			return m;
	}
	return NULL;
}

static int conf_parse_opening(const struct conf_parse *p, const char *name, int from);

static int conf_parse_validate(cfg_t *cfg, cfg_opt_t *opt)
{
	struct conf_parse *p = conf_parse_current;

	if (!p)
		return 0;
	if (opt->type == CFGT_SEC) {
		/* The section just closed is the one whose line is the parent's line now. */
		cfg_t *sec = NULL;
		for (unsigned i = 0; i < cfg_opt_size(opt); i++) {
			cfg_t *s = cfg_opt_getnsec(opt, i);

			if (s && s->line == cfg->line)
				sec = s;
		}
		if (!sec)
			sec = cfg_opt_getnsec(opt, cfg_opt_size(opt) - 1);
		const char *title = cfg_title(sec);
		char *key = NULL;

		/* Untitled sections written twice merge (a site file may override an included
		 * example); titled ones name things, and a name must be unique. */
		if (!title) {
			if (!conf_parse_find(p, sec, NULL))
				conf_parse_mark(p, sec, NULL, cfg->line, cfg, NULL);
			return 0;
		}
		if (asprintf(&key, "%s\n%s", opt->name, title) < 0)
			return 0;
		for (size_t i = 0; i < p->nmarks; i++) {
			const struct conf_mark *m = &p->marks[i];

			if (m->key && m->parent == cfg && strcmp(m->key, key) == 0) {
				struct conf_line was = conf_source_where(
				    &p->src, conf_parse_opening(p, opt->name, m->line));
				struct conf_line now = conf_source_where(
				    &p->src, conf_parse_opening(p, opt->name, cfg->line));

				conf_errors_add(p->errs, now.file, now.line,
				                _("%s '%s' is defined twice (first at %s:%d); names "
				                "must be unique"),
				                opt->name, title ? title : "", was.file, was.line);
				free(key);
				return 0;
			}
		}
		conf_parse_mark(p, sec, NULL, cfg->line, cfg, key);
		return 0;
	}
	/* A list calls this once per value: keep where it starts. */
	const struct conf_mark *m = conf_parse_find(p, cfg, opt->name);
	if (!m || !(opt->flags & CFGF_LIST))
		conf_parse_mark(p, cfg, opt->name, cfg->line, NULL, NULL);
	return 0;
}

void conf_parse_schema(cfg_opt_t *opts)
{
	for (cfg_opt_t *o = opts; o->name; o++) {
		if (o->type == CFGT_FUNC)
			continue;
		o->validcb = conf_parse_validate;
		if (o->type == CFGT_SEC && o->subopts)
			conf_parse_schema(o->subopts);
	}
}

/* libconfuse's messages, to be said in the reader's language (same arguments). */
static const char *const conf_parse_confuse_msgs[] = {
    N_("no such option '%s'"),
    N_("unexpected token '%s'"),
    N_("found duplicate title '%s'"),
    N_("duplicate option '%s' not allowed"),
    N_("invalid integer value for option '%s'"),
    N_("integer value for option '%s' is out of range"),
    N_("invalid floating point value for option '%s'"),
    N_("floating point value for option '%s' is out of range"),
    N_("invalid boolean value for option '%s'"),
    N_("attempt to append to non-list option '%s'"),
    N_("missing equal sign after option '%s'"),
    N_("missing opening brace for section '%s'"),
    N_("missing title for section '%s'"),
    N_("missing parenthesis for function '%s'"),
    N_("syntax error in call of function '%s'"),
    N_("invalid octal number '%s'"),
    N_("bad escape sequence '%s'"),
};

/* "name\ntitle" of a section, to find it again in the next pass (a new cfg_t). */
static char *conf_parse_seckey(const cfg_t *sec)
{
	char *key;
	const char *title = sec ? cfg_title((cfg_t *)sec) : NULL;

	if (!sec || asprintf(&key, "%s\n%s", cfg_name((cfg_t *)sec), title ? title : "") < 0)
		return NULL;
	return key;
}

static bool conf_parse_damaged(const struct conf_parse *p, const cfg_t *sec)
{
	char *key = p->ndamaged ? conf_parse_seckey(sec) : NULL;
	bool found = false;

	for (size_t i = 0; key && i < p->ndamaged && !found; i++)
		found = strcmp(p->damaged[i], key) == 0;
	free(key);
	return found;
}

static void conf_parse_errfunc(cfg_t *cfg, const char *fmt, va_list ap)
{
	struct conf_parse *p = conf_parse_current;
	char msg[512];

	if (!p || p->syntax_line != 0)
		return; /* one a pass: the parse stops there, what follows is its echo */
	for (size_t i = 0; i < sizeof(conf_parse_confuse_msgs) / sizeof(conf_parse_confuse_msgs[0]);
	     i++)
		if (strcmp(fmt, conf_parse_confuse_msgs[i]) == 0)
			fmt = _(conf_parse_confuse_msgs[i]);
	/* libconfuse's format, or its translation: msgfmt --check-format (test_i18n) holds it to
	 * the same arguments. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	vsnprintf(msg, sizeof(msg), fmt, ap);
#pragma GCC diagnostic pop
	p->syntax_line = cfg && cfg->line > 0 ? cfg->line : -1;
	char *key = conf_parse_seckey(cfg);
	char **d = key ? realloc(p->damaged, (p->ndamaged + 1) * sizeof(*d)) : NULL;
	if (d) {
		p->damaged = d;
		p->damaged[p->ndamaged++] = key;
	} else {
		free(key);
	}
	struct conf_line w = conf_source_where(&p->src, cfg ? cfg->line : 0);
	conf_errors_add(p->syntax, w.file, w.line, "%s", msg);
}

static void conf_parse_clear(struct conf_parse *p)
{
	if (p->cfg)
		cfg_free(p->cfg);
	p->cfg = NULL;
	for (size_t i = 0; i < p->nmarks; i++)
		free(p->marks[i].key);
	p->nmarks = 0;
}

int conf_parse_file(struct conf_parse *p, const char *path, cfg_opt_t *opts,
                    const char *untitled, struct conf_errors *errs)
{
	struct conf_errors syntax, pass;
	int rc = CFG_PARSE_ERROR;

	memset(p, 0, sizeof(*p));
	p->errs = errs;
	conf_source_init(&p->src);
	if (conf_source_load(&p->src, path, errs) != 0)
		return -1;
	char renamed[64];
	snprintf(renamed, sizeof(renamed), "%s_unnamed", untitled ? untitled : "");
	if (untitled && conf_source_rename_untitled(&p->src, untitled, renamed) != 0) {
		conf_errors_add(errs, path, 0, _("out of memory"));
		return -1;
	}
	conf_errors_init(&syntax);
	conf_errors_init(&pass);
	for (int attempt = 0;; attempt++) {
		conf_parse_clear(p);
		conf_errors_finish(&pass);
		p->errs = &pass; /* the checks made during this pass: only the last pass's count */
		p->syntax = &syntax;
		p->syntax_line = 0;
		p->cfg = cfg_init(opts, CFGF_NONE);
		if (!p->cfg) {
			conf_errors_add(&syntax, path, 0, _("out of memory"));
			break;
		}
		cfg_set_error_function(p->cfg, conf_parse_errfunc);
		conf_parse_current = p;
		rc = cfg_parse_buf(p->cfg, p->src.text);
		conf_parse_current = NULL;
		if (rc == CFG_SUCCESS)
			break;
		if (p->syntax_line == 0)
			conf_errors_add(&syntax, path, 0, _("cannot be parsed"));
		/* Past the mistake: its line blanked, parse again. */
		if (attempt + 1 >= CONF_PARSE_MAX_RECOVER) {
			struct conf_line w = conf_source_where(&p->src, p->syntax_line);

			conf_errors_add(&syntax, w.file, w.line,
			                _("the check stops after %d syntax errors; fix these and run "
			                  "it again for the rest"),
			                CONF_PARSE_MAX_RECOVER);
			break;
		}
		if (p->syntax_line < 1 || !conf_source_blank_line(&p->src, p->syntax_line))
			break;
	}
	conf_errors_take(errs, &syntax);
	conf_errors_take(errs, &pass);
	p->errs = errs;
	p->syntax = NULL;
	return rc == CFG_SUCCESS ? 0 : -1;
}

void conf_parse_finish(struct conf_parse *p)
{
	if (p->cfg)
		cfg_free(p->cfg);
	for (size_t i = 0; i < p->nmarks; i++)
		free(p->marks[i].key);
	free(p->marks);
	for (size_t i = 0; i < p->ndamaged; i++)
		free(p->damaged[i]);
	free(p->damaged);
	conf_source_finish(&p->src);
	memset(p, 0, sizeof(*p));
}

int conf_parse_int(cfg_t *sec, const char *opt)
{
	long v = cfg_getint(sec, opt);

	return v < INT_MIN + 1 || v > INT_MAX ? INT_MIN : (int)v;
}

bool conf_parse_isset(const struct conf_parse *p, const cfg_t *sec, const char *opt)
{
	return conf_parse_find(p, sec, opt) != NULL;
}

/* The opening line of a section: the last line at or before `from` that starts with its
 * name (sections of the same name do not nest). */
static int conf_parse_opening(const struct conf_parse *p, const char *name, int from)
{
	size_t nlen = name ? strlen(name) : 0;
	const char *text = p->src.text;
	int line = 1;
	int best = from;
	const char *s = text;

	if (!text || !nlen)
		return from;
	while (*s && line <= from) {
		const char *q = s;

		while (*q == ' ' || *q == '\t')
			q++;
		if (strncmp(q, name, nlen) == 0 && !isalnum((unsigned char)q[nlen]) &&
		    q[nlen] != '_')
			best = line;
		s = strchr(s, '\n');
		if (!s)
			break;
		s++;
		line++;
	}
	return best;
}

struct conf_line conf_parse_where(const struct conf_parse *p, const cfg_t *sec, const char *opt)
{
	const struct conf_mark *m = opt ? conf_parse_find(p, sec, opt) : NULL;
	int line;

	if (m)
		return conf_source_where(&p->src, m->line);
	/* The section: scan back from its first option, or from its closing brace. */
	line = 0;
	for (size_t i = 0; i < p->nmarks; i++)
		if (p->marks[i].sec == sec && p->marks[i].name &&
		    (line == 0 || p->marks[i].line < line))
			line = p->marks[i].line;
	if (line == 0) {
		m = conf_parse_find(p, sec, NULL);
		line = m ? m->line : 0;
	}
	if (line == 0)
		return conf_source_where(&p->src, 0);
	return conf_source_where(&p->src, conf_parse_opening(p, cfg_name((cfg_t *)sec), line));
}

void conf_parse_error(struct conf_parse *p, const cfg_t *sec, const char *opt, const char *fmt, ...)
{
	struct conf_line w = conf_parse_where(p, sec, opt);
	char msg[512];
	va_list ap;

	/* What a section lacks, when one of its lines was blanked past a syntax error: the
	 * lack is likely that line's, reported already. */
	if ((!opt || !conf_parse_isset(p, sec, opt)) && conf_parse_damaged(p, sec))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (w.line == 0 && p->src.nfiles)
		w.file = p->src.files[0];
	conf_errors_add(p->errs, w.file, w.line, "%s", msg);
}

int64_t conf_parse_duration(const char *s)
{
	char *end;
	double v;

	if (!s)
		return -1;
	while (isspace((unsigned char)*s))
		s++;
	if (*s == '-' || *s == '\0')
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0)
		return -1;
	while (isspace((unsigned char)*end))
		end++;
	double mult;
	if (*end == '\0' || strcmp(end, "s") == 0)
		mult = 1000;
	else if (strcmp(end, "ms") == 0)
		mult = 1;
	else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
		mult = 60000;
	else if (strcmp(end, "h") == 0)
		mult = 3600000;
	else if (strcmp(end, "d") == 0)
		mult = 86400000;
	else
		return -1;
	if (v * mult > (double)INT64_MAX / 2)
		return -1;
	return (int64_t)(v * mult + 0.5);
}

int64_t conf_parse_duration_opt(struct conf_parse *p, cfg_t *sec, const char *opt, int64_t dflt_ms)
{
	const char *s = cfg_getstr(sec, opt);
	int64_t ms;

	if (!s)
		return dflt_ms;
	ms = conf_parse_duration(s);
	if (ms < 0) {
		const char *title = cfg_title(sec);
		char who[160] = "";

		if (title)
			snprintf(who, sizeof(who), "%s '%s': ", cfg_name(sec), title);
		else if (strcmp(cfg_name(sec), "root") != 0)
			snprintf(who, sizeof(who), "%s: ", cfg_name(sec));
		conf_parse_error(p, sec, opt,
		                 _("%s%s = \"%s\" is not a duration; write a positive number with a "
		                 "unit, e.g. \"500ms\", \"5s\", \"30m\", \"72h\", \"7d\""),
		                 who, opt, s);
		return dflt_ms;
	}
	return ms;
}

/* Relative paths in the config are relative to the file that holds the option. */
char *conf_parse_path(struct conf_parse *p, cfg_t *sec, const char *opt)
{
	const char *v = cfg_getstr(sec, opt);
	struct conf_line w;
	char *out;

	if (!v)
		return NULL;
	if (v[0] == '/' || v[0] == '\0')
		return strdup(v);
	w = conf_parse_where(p, sec, opt);
	const char *slash = w.file ? strrchr(w.file, '/') : NULL;
	if (!conf_parse_isset(p, sec, opt) || !slash)
		return strdup(v);
	if (asprintf(&out, "%.*s/%s", (int)(slash - w.file), w.file, v) < 0)
		return NULL;
	return out;
}

/* A secret file (token, password, private key) that breaks secret.h's rules is a config
 * error, so that `firegw check`, the start and a reload name it with its line and the fix,
 * as the daemon would refuse it. A file that does not exist is a warning: the daemon starts
 * without it (a missing token keeps the uplink off, a missing key fails the connection). */
void conf_parse_secret_file(struct conf_parse *p, cfg_t *sec, const char *section,
                            const char *opt, const char *path, const char *what)
{
	char err[1024];

	int rc = path ? secret_check_private(path, what, strcmp(what, "private key") == 0, err,
	                                     sizeof(err))
	              : 0;
	struct conf_line w;

	if (rc < 0) {
		conf_parse_error(p, sec, opt, _("%s: %s %s"), section, opt, err);
	} else if (rc > 0) {
		w = conf_parse_where(p, sec, opt);
		conf_errors_warn(p->errs, w.file, w.line,
		                 _("%s: %s %s does not exist yet: what needs the %s stays off until "
		                   "it does; create it with: install -m 600 -o firegw /dev/null %s, "
		                   "then put the %s in it"),
		                 section, opt, path, _(what), path, _(what));
	}
}

/* A file that decides where the secrets go (a ca_file) must be writable by no one else. */
void conf_parse_trusted_file(struct conf_parse *p, cfg_t *sec, const char *section,
                             const char *opt, const char *path)
{
	char err[1024];

	if (path && secret_check_trusted(path, err, sizeof(err)) < 0)
		conf_parse_error(p, sec, opt, _("%s: %s %s"), section, opt, err);
}
