/* SPDX-License-Identifier: MIT */
/* testutil: what the unit tests share: a scratch directory per test, config files written
 * from strings, a loaded conf with the shipped profiles, and captured log lines. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"

/* A fresh empty directory under $TMPDIR; removed by testutil_rmdir. */
char *testutil_mkdtemp(void);
void testutil_rmdir(const char *dir);
/* Writes text to dir/name; returns the full path (free it). */
char *testutil_write(const char *dir, const char *name, const char *text);
/* The shipped profiles: <source>/config/profiles. */
const char *testutil_profile_dir(void);
/* Writes `body` after a gateway section pointing at dir and the shipped profiles, loads it.
 * On failure, fails the test with the errors. */
struct conf *testutil_conf(const char *dir, const char *body);
/* Loads a config expected to fail; returns the errors (caller finishes them). */
void testutil_conf_errors(const char *dir, const char *text, struct conf_errors *errs);
struct ledger;
/* A scratch ledger (gateway GW-T) in a fresh directory: *dir gets the directory (free it
 * with testutil_ledger_close), *path (if not NULL) its file. Fails the test if it cannot be
 * opened, or is not a new, sound one. */
struct ledger *testutil_ledger_open(char **dir, char **path);
/* Closes the ledger, removes its directory and frees dir (and path). */
void testutil_ledger_close(struct ledger *l, char *dir, char *path);
/* Captures log lines into a buffer; testutil_log_has looks for a substring. */
void testutil_log_capture(void);
bool testutil_log_has(const char *needle);
void testutil_log_reset(void);
/* How many times `needle` occurs in the captured lines. */
int testutil_log_count(const char *needle);
