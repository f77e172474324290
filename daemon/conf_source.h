/* SPDX-License-Identifier: MIT */
/* conf_source: turns a config file and the files it include()s into one text for libconfuse,
 * with a map from each line of that text back to its file and line.
 *
 * Why not libconfuse's own include() and comment handling: libconfuse 3.3 (Debian 12)
 * miscounts lines after every '#' or '//' comment (each one adds two), so its line numbers are
 * wrong in any commented file, and an installer's error must point at the right line. Here
 * comments become blanks (strings are respected) and include("file") is expanded in place,
 * resolved against the including file's directory, nested at most 8 deep, cycles refused. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct conf_errors;

struct conf_line {
	const char *file; /* owned by conf_source.files */
	int line;
};

struct conf_source {
	char *text;
	size_t len, cap;
	struct conf_line *lines; /* lines[i] is where line i + 1 of text came from */
	size_t nlines, lines_cap;
	char **files;
	size_t nfiles;
};

void conf_source_init(struct conf_source *s);
void conf_source_finish(struct conf_source *s);
/* Returns 0, or -1 with the reasons added to errs. */
int conf_source_load(struct conf_source *s, const char *path, struct conf_errors *errs);
/* Renames each untitled `section {` of the text to `to {` (as long as `section` or longer), on
 * the same line, outside strings (comments are blanked already): a section that may be
 * written several times, each with a name, then reads its unnamed form as a section of its
 * own, which merges when written twice as untitled sections do. Returns 0, or -1 out of
 * memory. */
int conf_source_rename_untitled(struct conf_source *s, const char *section, const char *to);
/* Blanks line `line` (1-based) of the combined text, keeping its newline, so that a parse can
 * go on past a mistake there. false when there is nothing left on it to blank. */
bool conf_source_blank_line(struct conf_source *s, int line);
/* Where line `line` (1-based) of the combined text came from. */
struct conf_line conf_source_where(const struct conf_source *s, int line);
