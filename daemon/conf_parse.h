/* SPDX-License-Identifier: MIT */
/* conf_parse: runs libconfuse over a conf_source and remembers where each option and section
 * was written, so that checks made after the parse still say file:line. Shared by the main
 * config (conf.c) and the profile files (profile.c). */
#pragma once

#include <confuse.h>
#include <stdbool.h>
#include <stdint.h>

#include "conf_errors.h"
#include "conf_source.h"

struct conf_mark {
	const cfg_t *sec;
	const char *name; /* option name, or NULL for the section's closing brace */
	int line;         /* line in the combined text */
	/* Section marks only: its parent, option name and title, to find a second definition
	 * (libconfuse silently replaces a titled section defined twice). */
	const cfg_t *parent;
	char *key;
};

struct conf_parse {
	struct conf_source src;
	cfg_t *cfg;
	struct conf_mark *marks;
	size_t nmarks, cap;
	struct conf_errors *errs;
	/* While parsing: libconfuse's own errors (syntax, unknown option, wrong type), and the
	 * line of the first one in this pass. */
	struct conf_errors *syntax;
	int syntax_line;
	/* The sections ("name\ntitle") that had a line blanked: a check of what such a section
	 * lacks is left out, as the lack may be the blanked line's. */
	char **damaged;
	size_t ndamaged;
};

/* Marks every option of the schema (recursively) so its line is remembered. Call once per
 * schema before conf_parse_file. */
void conf_parse_schema(cfg_opt_t *opts);
/* Returns 0, or -1 with the errors in errs. libconfuse stops at the first syntax error, unknown
 * option or wrong type: each is reported, its line blanked and the text parsed again (at most
 * CONF_PARSE_MAX_RECOVER times), so that one run names every such mistake and the checks
 * after the parse see what did parse. 0 then means "parsed", with those errors in errs.
 * `untitled` (or NULL) names a titled section that may also be written without a title: that
 * form is read as the section `<untitled>_unnamed` (conf_source_rename_untitled), which the
 * schema declares untitled; written twice, it merges. */
int conf_parse_file(struct conf_parse *p, const char *path, cfg_opt_t *opts,
                    const char *untitled, struct conf_errors *errs);
void conf_parse_finish(struct conf_parse *p);
/* Where `opt` was set in `sec`; with opt NULL or unset, where the section begins. */
struct conf_line conf_parse_where(const struct conf_parse *p, const cfg_t *sec, const char *opt);
bool conf_parse_isset(const struct conf_parse *p, const cfg_t *sec, const char *opt);
/* An integer option narrowed to int; a value outside int becomes INT_MIN so that every range
 * check refuses it (and the message shows it was out of range). */
int conf_parse_int(cfg_t *sec, const char *opt);
void conf_parse_error(struct conf_parse *p, const cfg_t *sec, const char *opt, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Parses "500ms", "5s", "30m", "72h", "7d" or a bare number of seconds. -1 if invalid. */
int64_t conf_parse_duration(const char *s);
/* Reads a duration option ("5s", "30m"); reports a bad one and returns dflt_ms. */
int64_t conf_parse_duration_opt(struct conf_parse *p, cfg_t *sec, const char *opt, int64_t dflt_ms);
/* A path option: a relative path is relative to the file that holds the option. NULL if
 * unset (or out of memory); free it. */
char *conf_parse_path(struct conf_parse *p, cfg_t *sec, const char *opt);
/* A secret file (token, password, private key: `what`) that breaks secret.h's rules is a
 * config error, named with its line and the fix; one that does not exist yet a warning. */
void conf_parse_secret_file(struct conf_parse *p, cfg_t *sec, const char *section,
                            const char *opt, const char *path, const char *what);
/* A file that decides where the secrets go (a ca_file) must be writable by no one else. */
void conf_parse_trusted_file(struct conf_parse *p, cfg_t *sec, const char *section,
                             const char *opt, const char *path);
