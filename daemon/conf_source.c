/* SPDX-License-Identifier: MIT */
/* conf_source: comment stripping and include() expansion with a line map. */
#include "conf_source.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf_errors.h"
#include "conf_lint.h"
#include "i18n.h"
#include "secret.h"

#define CONF_MAX_DEPTH 8
#define CONF_MAX_SIZE  (4 * 1024 * 1024)

void conf_errors_init(struct conf_errors *e)
{
	memset(e, 0, sizeof(*e));
}

void conf_errors_finish(struct conf_errors *e)
{
	for (size_t i = 0; i < e->n; i++) {
		free(e->items[i]);
		free(e->files[i]);
	}
	free(e->items);
	free(e->files);
	free(e->lines);
	memset(e, 0, sizeof(*e));
}

void conf_errors_add(struct conf_errors *e, const char *file, int line, const char *fmt, ...)
{
	char msg[768], *item;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 16;
		char **items = realloc(e->items, cap * sizeof(*items));
		char **files = items ? realloc(e->files, cap * sizeof(*files)) : NULL;
		int *lines = files ? realloc(e->lines, cap * sizeof(*lines)) : NULL;

		if (items)
			e->items = items;
		if (files)
			e->files = files;
		if (lines)
			e->lines = lines;
		if (!items || !files || !lines)
			return;
		e->cap = cap;
	}
	if (line > 0) {
		if (asprintf(&item, "%s:%d: %s", file ? file : "?", line, msg) < 0)
			return;
	} else if (asprintf(&item, "%s: %s", file ? file : "?", msg) < 0) {
		return;
	}
	e->files[e->n] = strdup(file ? file : "?");
	e->lines[e->n] = line;
	e->items[e->n++] = item;
}

void conf_errors_warn(struct conf_errors *e, const char *file, int line, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	if (!e->warnings)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	conf_errors_add(e->warnings, file, line, _("warning: %s"), msg);
}

void conf_errors_take(struct conf_errors *dst, struct conf_errors *src)
{
	for (size_t i = 0; i < src->n; i++) {
		size_t before = dst->n;

		conf_errors_add(dst, src->files[i], src->lines[i], "%s", "");
		if (dst->n == before)
			continue; /* out of memory: the item is lost, not the others */
		free(dst->items[before]);
		dst->items[before] = src->items[i];
		src->items[i] = NULL;
	}
	conf_errors_finish(src);
}

void conf_errors_sort(struct conf_errors *e, size_t from)
{
	/* Insertion sort: stable, and a config has few errors. */
	for (size_t i = from + 1; i < e->n; i++) {
		for (size_t j = i; j > from; j--) {
			size_t a = j - 1, b = j;
			int fa = -1, fb = -1;

			for (size_t k = from; k < e->n && (fa < 0 || fb < 0); k++) {
				if (fa < 0 && strcmp(e->files[k], e->files[a]) == 0)
					fa = (int)k;
				if (fb < 0 && strcmp(e->files[k], e->files[b]) == 0)
					fb = (int)k;
			}
			if (fa < fb || (fa == fb && e->lines[a] <= e->lines[b]))
				break;
			char *t = e->items[a], *f = e->files[a];
			int l = e->lines[a];
			e->items[a] = e->items[b];
			e->files[a] = e->files[b];
			e->lines[a] = e->lines[b];
			e->items[b] = t;
			e->files[b] = f;
			e->lines[b] = l;
		}
	}
}

void conf_source_init(struct conf_source *s)
{
	memset(s, 0, sizeof(*s));
}

void conf_source_finish(struct conf_source *s)
{
	free(s->text);
	free(s->lines);
	for (size_t i = 0; i < s->nfiles; i++)
		free(s->files[i]);
	free(s->files);
	memset(s, 0, sizeof(*s));
}

bool conf_source_blank_line(struct conf_source *s, int line)
{
	char *p = s->text;
	bool changed = false;

	for (int l = 1; p && *p && l < line; l++) {
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	for (; p && *p && *p != '\n'; p++) {
		if (!isspace((unsigned char)*p))
			changed = true;
		*p = ' ';
	}
	return changed;
}

struct conf_line conf_source_where(const struct conf_source *s, int line)
{
	struct conf_line w = {s->nfiles ? s->files[0] : "?", line};

	if (line >= 1 && (size_t)line <= s->nlines)
		return s->lines[line - 1];
	if (s->nlines > 0 && line > 0)
		w = s->lines[s->nlines - 1];
	return w;
}

static int conf_source_put(struct conf_source *s, const char *p, size_t n)
{
	if (s->len + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		char *t;

		while (cap < s->len + n + 1)
			cap *= 2;
		t = realloc(s->text, cap);
		if (!t)
			return -1;
		s->text = t;
		s->cap = cap;
	}
	memcpy(s->text + s->len, p, n);
	s->len += n;
	s->text[s->len] = '\0';
	return 0;
}

static int conf_source_line(struct conf_source *s, const char *file, int line)
{
	if (s->nlines == s->lines_cap) {
		size_t cap = s->lines_cap ? s->lines_cap * 2 : 256;
		struct conf_line *l = realloc(s->lines, cap * sizeof(*l));

		if (!l)
			return -1;
		s->lines = l;
		s->lines_cap = cap;
	}
	s->lines[s->nlines].file = file;
	s->lines[s->nlines].line = line;
	s->nlines++;
	return 0;
}

/* The file's text, and in *st what it was when read (for the rules on who may write it). */
static char *conf_read_file(const char *path, size_t *len, int *err, struct stat *st)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t n = 0, cap = 0;

	if (!f) {
		*err = errno;
		return NULL;
	}
	if (fstat(fileno(f), st) != 0) {
		*err = errno;
		goto fail;
	}
	for (;;) {
		if (n + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			char *b = realloc(buf, cap);
			if (!b) {
				*err = ENOMEM;
				goto fail;
			}
			buf = b;
		}
		size_t r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
		if (n > CONF_MAX_SIZE) {
			*err = EFBIG;
			goto fail;
		}
		if (r == 0)
			break;
	}
	if (ferror(f)) {
		*err = errno ? errno : EIO;
		goto fail;
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
fail:
	fclose(f);
	free(buf);
	return NULL;
}

/* Recognises a line that is only `include("path")`; copies the path into out. */
static int conf_include_line(const char *line, size_t n, char *out, size_t outlen)
{
	const char *p = line, *end = line + n;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if ((size_t)(end - p) < 8 || strncmp(p, "include", 7) != 0)
		return 0;
	p += 7;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p >= end || *p++ != '(')
		return 0;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p >= end || *p != '"')
		return -1;
	const char *q = memchr(p + 1, '"', (size_t)(end - p - 1));
	if (!q || (size_t)(q - p - 1) >= outlen)
		return -1;
	memcpy(out, p + 1, (size_t)(q - p - 1));
	out[q - p - 1] = '\0';
	p = q + 1;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p >= end || *p++ != ')')
		return -1;
	while (p < end && (*p == ' ' || *p == '\t' || *p == ';' || *p == '\r'))
		p++;
	return p == end ? 1 : -1;
}

static char *conf_resolve(const char *from, const char *name)
{
	char *out;

	if (name[0] == '/')
		return strdup(name);
	const char *slash = strrchr(from, '/');
	if (!slash)
		return strdup(name);
	if (asprintf(&out, "%.*s/%s", (int)(slash - from), from, name) < 0)
		return NULL;
	return out;
}

static int conf_source_file(struct conf_source *s, const char *path, int depth,
                            struct conf_errors *errs, const char *from_file, int from_line);

/* Blanks comments in place (keeping newlines), leaving strings alone. */
static void conf_strip_comments(char *buf, size_t n)
{
	enum { CODE, DQ, SQ, LINE, BLOCK } st = CODE;

	for (size_t i = 0; i < n; i++) {
		char c = buf[i], next = i + 1 < n ? buf[i + 1] : '\0';

		switch (st) {
		case CODE:
			if (c == '"')
				st = DQ;
			else if (c == '\'')
				st = SQ;
			else if (c == '#' || (c == '/' && next == '/')) {
				st = LINE;
				buf[i] = ' ';
			} else if (c == '/' && next == '*') {
				st = BLOCK;
				buf[i] = buf[i + 1] = ' ';
				i++;
			}
			break;
		case DQ:
			if (c == '\\' && next)
				i++;
			else if (c == '"' || c == '\n')
				st = CODE;
			break;
		case SQ:
			if (c == '\\' && next)
				i++;
			else if (c == '\'' || c == '\n')
				st = CODE;
			break;
		case LINE:
			if (c == '\n')
				st = CODE;
			else
				buf[i] = ' ';
			break;
		case BLOCK:
			if (c == '*' && next == '/') {
				buf[i] = buf[i + 1] = ' ';
				i++;
				st = CODE;
			} else if (c != '\n') {
				buf[i] = ' ';
			}
			break;
		}
	}
}

static int conf_source_file(struct conf_source *s, const char *path, int depth,
                            struct conf_errors *errs, const char *from_file, int from_line)
{
	size_t n = 0;
	int err = 0, rc = 0;
	char *buf, *name, **files, why[1024];
	struct stat st;

	if (depth > CONF_MAX_DEPTH) {
		conf_errors_add(errs, from_file, from_line,
		                _("include(\"%s\"): nested more than %d deep (an include loop?)"),
		                path, CONF_MAX_DEPTH);
		return -1;
	}
	buf = conf_read_file(path, &n, &err, &st);
	if (!buf) {
		if (from_file)
			conf_errors_add(errs, from_file, from_line, _("include(\"%s\"): %s"), path,
			                strerror(err));
		else
			conf_errors_add(errs, path, 0, _("cannot read: %s"), strerror(err));
		return -1;
	}
	/* The config says where the token goes: a file someone else can write is not read. */
	if (secret_judge_trusted(&st, path, geteuid(), secret_service_uid(), why, sizeof(why)) !=
	    0) {
		if (from_file)
			conf_errors_add(errs, from_file, from_line, _("include(\"%s\"): %s"), path,
			                why);
		else
			conf_errors_add(errs, path, 0, _("refused: %s"), why);
		free(buf);
		return -1;
	}
	if (memchr(buf, '\0', n)) {
		conf_errors_add(errs, path, 0, _("contains a NUL byte; is this a config file?"));
		free(buf);
		return -1;
	}
	files = realloc(s->files, (s->nfiles + 1) * sizeof(*files));
	name = strdup(path);
	if (!files || !name) {
		free(name);
		if (files)
			s->files = files;
		free(buf);
		return -1;
	}
	s->files = files;
	s->files[s->nfiles++] = name;
	if (conf_lint_utf8(buf, n, name, errs) != 0) {
		free(buf);
		return -1;
	}
	conf_strip_comments(buf, n);
	conf_lint_lookalikes(buf, n, name, errs);

	int line = 1;
	bool failed = false; /* an include failed: go on, to report the others too */
	char *p = buf, *end = buf + n;
	while (p < end && rc == 0) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char inc[PATH_MAX];
		int is_inc = conf_include_line(p, len, inc, sizeof(inc));

		if (is_inc == 1) {
			char *full = conf_resolve(path, inc);

			if (!full)
				return -1;
			if (conf_source_file(s, full, depth + 1, errs, name, line) != 0)
				failed = true;
			free(full);
		} else {
			if (is_inc < 0) {
				conf_errors_add(errs, name, line,
				                _("include: write it alone on its line as "
				                "include(\"file.conf\")"));
				len = 0; /* reported: the parse goes on without it */
			}
			if (conf_source_put(s, p, len) != 0 || conf_source_put(s, "\n", 1) != 0 ||
			    conf_source_line(s, name, line) != 0)
				rc = -1;
		}
		line++;
		p = nl ? nl + 1 : end;
	}
	free(buf);
	return rc != 0 || failed ? -1 : 0;
}

/* libconfuse 3.3 takes a file that ends inside a section as complete: count the braces
 * (outside strings) and name the section left open. */
static int conf_source_braces(struct conf_source *s, struct conf_errors *errs)
{
	int depth = 0, line = 1, open_line[64] = {0};
	char q = 0;

	for (const char *c = s->text; *c; c++) {
		if (*c == '\n')
			line++;
		if (q) {
			if (*c == '\\' && c[1])
				c++;
			else if (*c == q || *c == '\n')
				q = 0;
		} else if (*c == '"' || *c == '\'') {
			q = *c;
		} else if (*c == '{') {
			if (depth < 64)
				open_line[depth] = line;
			depth++;
		} else if (*c == '}' && depth > 0) {
			depth--;
		}
	}
	if (depth == 0)
		return 0;
	struct conf_line w = conf_source_where(s, open_line[depth > 64 ? 63 : depth - 1]);
	conf_errors_add(
	    errs, w.file, w.line,
	    _("this section is never closed: a '}' is missing before the end of the file"));
	return -1;
}

int conf_source_load(struct conf_source *s, const char *path, struct conf_errors *errs)
{
	/* A file that cannot be read, is not UTF-8 or holds a NUL stops here; a mistake the
	 * text can go on without (a look-alike character, a misplaced include, an unclosed
	 * section) is reported and the parse goes on, to name the others too. */
	if (conf_source_file(s, path, 0, errs, NULL, 0) != 0)
		return -1;
	if (!s->text)
		conf_source_put(s, "", 0);
	if (!s->text)
		return -1;
	conf_source_braces(s, errs);
	return 0;
}

int conf_source_rename_untitled(struct conf_source *s, const char *section, const char *to)
{
	size_t slen = strlen(section), tlen = strlen(to);
	bool quoted = false;

	if (tlen < slen)
		return -1; /* the text only grows */
	for (size_t i = 0; s->text && i < s->len; i++) {
		char ch = s->text[i];

		if (ch == '"' && (i == 0 || s->text[i - 1] != '\\'))
			quoted = !quoted;
		if (quoted || strncmp(s->text + i, section, slen) != 0 ||
		    (i > 0 && (isalnum((unsigned char)s->text[i - 1]) || s->text[i - 1] == '_')))
			continue;
		size_t j = i + slen;
		while (j < s->len && (s->text[j] == ' ' || s->text[j] == '\t'))
			j++;
		if (j >= s->len || s->text[j] != '{')
			continue;
		if (s->len + (tlen - slen) + 1 > s->cap) {
			char *t = realloc(s->text, s->len + (tlen - slen) + 1);

			if (!t)
				return -1;
			s->text = t;
			s->cap = s->len + (tlen - slen) + 1;
		}
		memmove(s->text + i + tlen, s->text + i + slen, s->len - (i + slen) + 1);
		memcpy(s->text + i, to, tlen);
		s->len += tlen - slen;
		i += tlen - 1;
	}
	return 0;
}
