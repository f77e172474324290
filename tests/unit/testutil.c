/* SPDX-License-Identifier: MIT */
/* testutil: scratch directories, configs from strings and captured logs for the unit tests. */
#include "testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ledger.h"
#include "log.h"

char *testutil_mkdtemp(void)
{
	const char *tmp = getenv("TMPDIR");
	char *path;

	if (asprintf(&path, "%s/firegw-test-XXXXXX", tmp && *tmp ? tmp : "/tmp") < 0)
		return NULL;
	assert_non_null(mkdtemp(path));
	return path;
}

void testutil_rmdir(const char *dir)
{
	char *cmd;

	if (!dir || asprintf(&cmd, "rm -rf '%s'", dir) < 0)
		return;
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

char *testutil_write(const char *dir, const char *name, const char *text)
{
	char *path;
	FILE *f;

	assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

const char *testutil_profile_dir(void)
{
	static char path[4096];
	const char *src = getenv("FIREGW_SOURCE_ROOT");

	snprintf(path, sizeof(path), "%s/config/profiles", src ? src : "../..");
	return path;
}

static char *testutil_full(const char *dir, const char *body)
{
	char *text;

	assert_true(asprintf(&text,
	                     "gateway {\n  id = \"GW-T\"\n  data_dir = \"%s\"\n  profile_dir = "
	                     "\"%s\"\n}\n%s",
	                     dir, testutil_profile_dir(), body) > 0);
	return text;
}

struct conf *testutil_conf(const char *dir, const char *body)
{
	struct conf_errors errs;
	char *text = testutil_full(dir, body);
	char *path = testutil_write(dir, "firegw.conf", text);
	struct conf *c;

	conf_errors_init(&errs);
	c = conf_load(path, &errs);
	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "config error: %s\n", errs.items[i]);
	assert_non_null(c);
	conf_errors_finish(&errs);
	free(text);
	free(path);
	return c;
}

void testutil_conf_errors(const char *dir, const char *text, struct conf_errors *errs)
{
	char *path = testutil_write(dir, "firegw.conf", text);
	struct conf *c;

	conf_errors_init(errs);
	c = conf_load(path, errs);
	assert_null(c);
	free(path);
}

static char log_buf[65536];
static size_t log_len;

static void testutil_sink(int level, const char *line, void *userdata)
{
	(void)userdata;
	int n = snprintf(log_buf + log_len, sizeof(log_buf) - log_len, "<%d>%s\n", level, line);

	if (n > 0 && log_len + (size_t)n < sizeof(log_buf))
		log_len += (size_t)n;
}

void testutil_log_capture(void)
{
	log_init(LOG_LVL_DEBUG, true);
	log_set_sink(testutil_sink, NULL);
	testutil_log_reset();
}

bool testutil_log_has(const char *needle)
{
	return strstr(log_buf, needle) != NULL;
}

int testutil_log_count(const char *needle)
{
	int n = 0;

	for (const char *p = log_buf; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

void testutil_log_reset(void)
{
	log_len = 0;
	log_buf[0] = '\0';
}

struct ledger *testutil_ledger_open(char **dir, char **path)
{
	struct ledger_open_info info;
	struct ledger *l = NULL;

	*dir = testutil_mkdtemp();
	if (path)
		assert_true(asprintf(path, "%s/ledger.db", *dir) > 0);
	assert_int_equal(ledger_open(&l, *dir, "GW-T", &info), 0);
	assert_true(info.created);
	assert_false(info.corrupt);
	return l;
}

void testutil_ledger_close(struct ledger *l, char *dir, char *path)
{
	ledger_close(l);
	testutil_rmdir(dir);
	free(dir);
	free(path);
}
