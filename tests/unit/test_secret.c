/* SPDX-License-Identifier: MIT */
/* test_secret: the rules on the files firegw trusts, judged on made-up stats (any owner, any
 * mode, without root), and the reading of a token file: length limit, one line, empty. */
#include <errno.h>
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

#include "secret.h"
#include "testutil.h"

#define SVC  999u  /* the user firegw runs as */
#define EUID 1000u /* the process */

static struct stat file(uid_t uid, mode_t mode)
{
	struct stat st;

	memset(&st, 0, sizeof(st));
	st.st_uid = uid;
	st.st_mode = S_IFREG | mode;
	return st;
}

static int priv(uid_t uid, mode_t mode, char *err, size_t errlen)
{
	struct stat st = file(uid, mode);

	return secret_judge_private(&st, "/etc/firegw/token", "token", EUID, SVC, err, errlen);
}

static int trusted(uid_t uid, mode_t mode, char *err, size_t errlen)
{
	struct stat st = file(uid, mode);

	return secret_judge_trusted(&st, "/etc/firegw/firegw.conf", EUID, SVC, err, errlen);
}

static void test_private_modes(void **state)
{
	char err[512];

	(void)state;
	assert_int_equal(priv(0, 0600, err, sizeof(err)), 0);
	assert_int_equal(priv(0, 0400, err, sizeof(err)), 0);
	assert_int_equal(priv(SVC, 0600, err, sizeof(err)), 0);
	assert_int_equal(priv(0, 0640, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/etc/firegw/token is readable by its group (mode 0640); a "
	                            "token must stay secret: chmod 600 /etc/firegw/token"));
	assert_int_equal(priv(0, 0644, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "readable by others (mode 0644)"));
	assert_int_equal(priv(0, 0620, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "writable by its group (mode 0620)"));
	assert_int_equal(priv(0, 0602, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "writable by others (mode 0602)"));
	assert_int_equal(priv(0, 0610, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "chmod 600 /etc/firegw/token"));
}

static void test_private_owner(void **state)
{
	char err[512];

	(void)state;
	assert_int_equal(priv(EUID, 0600, err, sizeof(err)), 0);
	assert_int_equal(priv(65534, 0600, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/etc/firegw/token belongs to uid 65534"));
	assert_non_null(strstr(err, "chown 999 /etc/firegw/token"));
	struct stat dir = {.st_mode = S_IFDIR | 0700};
	assert_int_equal(
	    secret_judge_private(&dir, "/etc/firegw/token", "token", EUID, SVC, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "not a regular file"));
}

static void test_readable_by_service(void **state)
{
	struct stat st;
	char err[512];

	(void)state;
	st = file(SVC, 0400);
	assert_int_equal(secret_judge_readable(&st, "/t", SVC, err, sizeof(err)), 0);
	/* root's 0600 token: the service (user 999) could not read it. */
	st = file(0, 0600);
	assert_int_equal(secret_judge_readable(&st, "/t", SVC, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot read it (mode 0600): chown 999 /t"));
	/* ... unless firegw runs as root. */
	assert_int_equal(secret_judge_readable(&st, "/t", 0, err, sizeof(err)), 0);
	st = file(SVC, 0200);
	assert_int_equal(secret_judge_readable(&st, "/t", SVC, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "chmod 600 /t"));
}

static void test_trusted(void **state)
{
	char err[512];

	(void)state;
	assert_int_equal(trusted(0, 0644, err, sizeof(err)), 0);
	assert_int_equal(trusted(0, 0640, err, sizeof(err)), 0);
	assert_int_equal(trusted(SVC, 0600, err, sizeof(err)), 0);
	assert_int_equal(trusted(EUID, 0444, err, sizeof(err)), 0);
	assert_int_equal(trusted(0, 0664, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/etc/firegw/firegw.conf is writable by its group (mode "
	                            "0664); whoever can write it can send the platform token "
	                            "elsewhere: chmod go-w /etc/firegw/firegw.conf"));
	assert_int_equal(trusted(0, 0646, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "writable by others (mode 0646)"));
	assert_int_equal(trusted(65534, 0644, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "belongs to uid 65534"));
	assert_non_null(strstr(err, "chown root /etc/firegw/firegw.conf"));
}

static char *write_token(const char *dir, const char *text, mode_t mode)
{
	char *path = testutil_write(dir, "token", text);

	assert_int_equal(chmod(path, mode), 0);
	return path;
}

static void test_read(void **state)
{
	char *dir = testutil_mkdtemp(), err[512], *path, *s, *big;
	size_t n = SECRET_MAX + 2;

	(void)state;
	path = write_token(dir, "abc\n", 0600);
	s = secret_read(path, "token", err, sizeof(err));
	assert_non_null(s);
	assert_string_equal(s, "abc");
	secret_free(s);
	free(path);

	/* 8192 bytes and a newline: the longest token. One more byte: refused. */
	big = malloc(n + 1);
	assert_non_null(big);
	memset(big, 'a', n);
	big[SECRET_MAX] = '\n';
	big[SECRET_MAX + 1] = '\0';
	path = write_token(dir, big, 0600);
	s = secret_read(path, "token", err, sizeof(err));
	assert_non_null(s);
	assert_int_equal(strlen(s), SECRET_MAX);
	secret_free(s);
	free(path);
	big[SECRET_MAX] = 'a';
	big[SECRET_MAX + 1] = '\n';
	path = write_token(dir, big, 0600);
	errno = 0;
	assert_null(secret_read(path, "token", err, sizeof(err)));
	assert_true(errno != ENOENT);
	assert_non_null(strstr(err, "token longer than 8192 bytes"));
	free(path);
	free(big);

	path = write_token(dir, "\n", 0600);
	assert_null(secret_read(path, "token", err, sizeof(err)));
	assert_non_null(strstr(err, "is empty"));
	free(path);
	path = write_token(dir, "a\nb\n", 0600);
	assert_null(secret_read(path, "token", err, sizeof(err)));
	assert_non_null(strstr(err, "more than one line"));
	free(path);
	path = write_token(dir, "abc\n", 0640);
	assert_null(secret_read(path, "token", err, sizeof(err)));
	assert_true(errno != ENOENT);
	assert_non_null(strstr(err, "readable by its group (mode 0640)"));
	assert_int_equal(secret_check_private(path, "token", false, err, sizeof(err)), -1);
	assert_int_equal(chmod(path, 0400), 0);
	/* Judged for the user firegw runs as. Where that user exists (firegw is installed on
	 * this machine) it must be able to read the file: as root the test gives it the file;
	 * as another user the file stays that user's and is rightly refused. */
	if (secret_service_uid() != geteuid() && geteuid() == 0)
		assert_int_equal(chown(path, secret_service_uid(), (gid_t)-1), 0);
	if (secret_service_uid() == geteuid() || geteuid() == 0)
		assert_int_equal(secret_check_private(path, "token", false, err, sizeof(err)), 0);
	else
		assert_int_equal(secret_check_private(path, "token", false, err, sizeof(err)), -1);
	unlink(path);
	errno = 0;
	assert_null(secret_read(path, "token", err, sizeof(err)));
	assert_int_equal(errno, ENOENT);
	assert_int_equal(secret_check_private(path, "token", false, err, sizeof(err)), 1);
	free(path);
	testutil_rmdir(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_private_modes),
	    cmocka_unit_test(test_private_owner),
	    cmocka_unit_test(test_readable_by_service),
	    cmocka_unit_test(test_trusted),
	    cmocka_unit_test(test_read),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
