/* SPDX-License-Identifier: MIT */
/* test_alive: the gateway's heartbeat file (daemon/alive.c): what a clean stop, a run that was
 * killed, a torn file and a first start each leave for the next start to read. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "alive.h"
#include "testutil.h"

#define T0 1795000000000LL

static void test_parse(void **state)
{
	struct alive_prev p;

	(void)state;
	assert_int_equal(alive_parse("firegw-alive 1 running 00000000000000000012 "
	                             "00000000000000000005\n",
	                             &p),
	                 0);
	assert_false(p.clean);
	assert_true(p.last_ms == 12 && p.started_ms == 5);
	assert_int_equal(alive_parse("firegw-alive 1 stopped 7 3", &p), 0);
	assert_true(p.clean);
	assert_int_equal(alive_parse("firegw-alive 1 paused 7 3\n", &p), -EINVAL);
	assert_int_equal(alive_parse("firegw-alive 1 running 7\n", &p), -EINVAL);
	assert_int_equal(alive_parse("firegw-alive 1 running 7 3 x\n", &p), -EINVAL);
	assert_int_equal(alive_parse("firegw-alive 1 running -7 3\n", &p), -EINVAL);
	assert_int_equal(alive_parse("", &p), -EINVAL);
}

static void test_lifecycle(void **state)
{
	char *dir = testutil_mkdtemp();
	struct alive_prev p;
	struct alive *a;

	(void)state;
	/* A first start: nothing found. */
	a = alive_open(dir, &p);
	assert_non_null(a);
	assert_false(p.found);
	alive_running(a, T0);
	alive_beat(a, T0 + 30000); /* too soon: not rewritten */
	alive_beat(a, T0 + 61000); /* rewritten */
	alive_beat(a, T0 + 90000); /* too soon again */
	/* Killed here (no close): the next start sees a run that did not stop, alive at the
	 * last rewrite. */
	struct alive *b = alive_open(dir, &p);
	assert_true(p.found);
	assert_false(p.clean);
	assert_true(p.last_ms == T0 + 61000 && p.started_ms == T0);
	alive_close(a, T0 + 95000); /* (the first handle's clean stop) */
	alive_close(b, T0 + 96000); /* never marked running: leaves the file as it was */
	a = alive_open(dir, &p);
	assert_true(p.found && p.clean);
	assert_true(p.last_ms == T0 + 95000);
	alive_close(a, T0);
	testutil_rmdir(dir);
	free(dir);
}

static void test_torn_file(void **state)
{
	char *dir = testutil_mkdtemp();
	char *path = testutil_write(dir, "alive", "firegw-al");
	struct timespec ts[2] = {{.tv_sec = 1795000000}, {.tv_sec = 1795000000}};
	struct alive_prev p;
	struct alive *a;

	(void)state;
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
	a = alive_open(dir, &p);
	assert_non_null(a);
	assert_true(p.found);
	assert_false(p.clean);
	assert_true(p.last_ms == 1795000000000LL); /* its mtime */
	alive_close(a, T0);
	free(path);
	testutil_rmdir(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_lifecycle),
	    cmocka_unit_test(test_torn_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
