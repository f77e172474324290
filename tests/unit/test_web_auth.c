/* SPDX-License-Identifier: MIT */
/* test_web_auth: firegw-web's session, CSRF, login rate-limit and password-file code
 * (tools/web/web_session.c, web_ratelimit.c, web_passwd.c, web_text.c, web_buf.c), on their
 * own: random distinct ids and tokens, both expiries, a full table giving way without losing
 * a logged-in session to anonymous ones, a token of another session refused, the lock-out and
 * its end, hashes in the file with mode 0600, the escaping of outside text in HTML, and the
 * listen address and Host names that keep plain HTTP on loopback. */
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

#include "web_buf.h"
#include "web_listen.h"
#include "web_passwd.h"
#include "web_ratelimit.h"
#include "web_session.h"
#include "web_text.h"

static struct web_sessions sessions;

static void test_sessions_random_and_found(void **state)
{
	struct web_session a, b, f;

	(void)state;
	web_session_init(&sessions);
	assert_int_equal(web_session_create(&sessions, "", 1000, &a), 0);
	assert_int_equal(web_session_create(&sessions, "admin", 1000, &b), 0);
	assert_int_equal(strlen(a.id), WEB_SESSION_ID_LEN);
	assert_int_equal(strspn(a.id, "0123456789abcdef"), WEB_SESSION_ID_LEN);
	assert_string_not_equal(a.id, b.id);
	assert_string_not_equal(a.csrf, b.csrf);
	assert_string_not_equal(a.id, a.csrf);
	assert_int_equal(web_session_find(&sessions, b.id, 1001, &f), 0);
	assert_string_equal(f.user, "admin");
	assert_int_equal(web_session_find(&sessions, "nope", 1001, &f), -1);
	assert_int_equal(web_session_find(&sessions, NULL, 1001, &f), -1);
	/* A wrong id of the right length, one character off. */
	char wrong[WEB_SESSION_ID_LEN + 1];
	memcpy(wrong, b.id, sizeof(wrong));
	wrong[10] = wrong[10] == 'a' ? 'b' : 'a';
	assert_int_equal(web_session_find(&sessions, wrong, 1001, &f), -1);
	web_session_drop(&sessions, b.id);
	assert_int_equal(web_session_find(&sessions, b.id, 1001, &f), -1);
	web_session_destroy(&sessions);
}

static void test_csrf_is_the_sessions_own(void **state)
{
	struct web_session a, b;

	(void)state;
	web_session_init(&sessions);
	assert_int_equal(web_session_create(&sessions, "admin", 0, &a), 0);
	assert_int_equal(web_session_create(&sessions, "admin", 0, &b), 0);
	assert_true(web_session_csrf_ok(&a, a.csrf));
	assert_false(web_session_csrf_ok(&a, b.csrf));
	assert_false(web_session_csrf_ok(&a, ""));
	assert_false(web_session_csrf_ok(&a, NULL));
	char cut[WEB_SESSION_ID_LEN];
	snprintf(cut, sizeof(cut), "%s", a.csrf); /* all but the last character */
	assert_false(web_session_csrf_ok(&a, cut));
	web_session_destroy(&sessions);
}

static void test_sessions_expire(void **state)
{
	struct web_session a, f;

	(void)state;
	web_session_init(&sessions);
	assert_int_equal(web_session_create(&sessions, "admin", 0, &a), 0);
	assert_int_equal(web_session_max_age(&a, 0), WEB_SESSION_MAX_S);
	/* Idle: alive just before, gone at the limit (and stays gone). */
	assert_int_equal(web_session_find(&sessions, a.id, WEB_SESSION_IDLE_S - 1, &f), 0);
	assert_int_equal(web_session_find(&sessions, a.id, 2 * WEB_SESSION_IDLE_S - 2, &f), 0);
	assert_int_equal(web_session_find(&sessions, a.id, 3 * WEB_SESSION_IDLE_S, &f), -1);
	assert_int_equal(web_session_find(&sessions, a.id, 2 * WEB_SESSION_IDLE_S, &f), -1);
	/* Absolute: kept busy, it still ends WEB_SESSION_MAX_S after it began. */
	assert_int_equal(web_session_create(&sessions, "admin", 0, &a), 0);
	int64_t t;
	for (t = 60; t < WEB_SESSION_MAX_S; t += 600)
		assert_int_equal(web_session_find(&sessions, a.id, t, &f), 0);
	assert_int_equal(web_session_find(&sessions, a.id, WEB_SESSION_MAX_S, &f), -1);
	assert_int_equal(web_session_max_age(&a, WEB_SESSION_MAX_S + 5), 0);
	web_session_destroy(&sessions);
}

static void test_full_table_keeps_logged_in_sessions(void **state)
{
	struct web_session admin, s, f;

	(void)state;
	web_session_init(&sessions);
	assert_int_equal(web_session_create(&sessions, "admin", 0, &admin), 0);
	/* Far more anonymous sessions (login forms) than the table holds. */
	for (int i = 0; i < 3 * WEB_SESSION_MAX; i++)
		assert_int_equal(web_session_create(&sessions, "", 1 + i, &s), 0);
	assert_int_equal(web_session_find(&sessions, admin.id, 3 * WEB_SESSION_MAX + 1, &f), 0);
	/* The newest anonymous one is there, and the table is bounded. */
	assert_int_equal(web_session_find(&sessions, s.id, 3 * WEB_SESSION_MAX + 1, &f), 0);
	web_session_destroy(&sessions);
}

static void test_rate_limit_locks_then_frees(void **state)
{
	static struct web_ratelimit rl;
	int retry = 0;

	(void)state;
	web_ratelimit_init(&rl);
	for (int i = 0; i < WEB_RATELIMIT_FAILURES - 1; i++) {
		assert_true(web_ratelimit_allowed(&rl, "192.0.2.7", 100 + i, &retry));
		web_ratelimit_failed(&rl, "192.0.2.7", 100 + i);
	}
	assert_true(web_ratelimit_allowed(&rl, "192.0.2.7", 110, &retry));
	web_ratelimit_failed(&rl, "192.0.2.7", 110);
	assert_false(web_ratelimit_allowed(&rl, "192.0.2.7", 111, &retry));
	assert_int_equal(retry, WEB_RATELIMIT_LOCK_S - 1);
	/* Another address is not touched. */
	assert_true(web_ratelimit_allowed(&rl, "192.0.2.8", 111, &retry));
	/* The lock ends. */
	assert_true(web_ratelimit_allowed(&rl, "192.0.2.7", 110 + WEB_RATELIMIT_LOCK_S, &retry));
	/* Failures spread wider than the window never lock. */
	for (int i = 0; i < 3 * WEB_RATELIMIT_FAILURES; i++) {
		int64_t t = 100000 + (int64_t)i * (WEB_RATELIMIT_WINDOW_S / 2 + 1);

		assert_true(web_ratelimit_allowed(&rl, "198.51.100.1", t, &retry));
		web_ratelimit_failed(&rl, "198.51.100.1", t);
		if (i % 2)
			web_ratelimit_succeeded(&rl, "198.51.100.1");
	}
	/* Many addresses: the table stays bounded and still answers. */
	for (int i = 0; i < 2 * WEB_RATELIMIT_ADDRS; i++) {
		char a[32];

		snprintf(a, sizeof(a), "10.0.%d.%d", i / 256, i % 256);
		web_ratelimit_failed(&rl, a, 200000);
	}
	assert_true(web_ratelimit_allowed(&rl, "10.0.0.1", 200001, &retry));
	web_ratelimit_destroy(&rl);
}

static void test_passwd_file(void **state)
{
	char dir[] = "/tmp/fgw-web-XXXXXX", path[256], err[256];
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/passwd", dir);
	assert_int_equal(web_passwd_count(path), 0);
	assert_int_equal(web_passwd_check(path, "admin", "x", err, sizeof(err)), 0);
	assert_int_equal(web_passwd_set(path, "admin", "s3cret 火", (uid_t)-1, (gid_t)-1, err,
	                                sizeof(err)), 0);
	assert_int_equal(web_passwd_set(path, "ops", "other", (uid_t)-1, (gid_t)-1, err,
	                                sizeof(err)), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(web_passwd_count(path), 2);
	assert_int_equal(web_passwd_check(path, "admin", "s3cret 火", err, sizeof(err)), 1);
	assert_int_equal(web_passwd_check(path, "admin", "s3cret", err, sizeof(err)), 0);
	assert_int_equal(web_passwd_check(path, "ops", "s3cret 火", err, sizeof(err)), 0);
	assert_int_equal(web_passwd_check(path, "nobody", "s3cret 火", err, sizeof(err)), 0);
	assert_int_equal(web_passwd_check(path, "adm", "s3cret 火", err, sizeof(err)), 0);
	/* A new password replaces the old one; the other user stays. */
	assert_int_equal(web_passwd_set(path, "admin", "new", (uid_t)-1, (gid_t)-1, err,
	                                sizeof(err)), 0);
	assert_int_equal(web_passwd_count(path), 2);
	assert_int_equal(web_passwd_check(path, "admin", "s3cret 火", err, sizeof(err)), 0);
	assert_int_equal(web_passwd_check(path, "admin", "new", err, sizeof(err)), 1);
	assert_int_equal(web_passwd_check(path, "ops", "other", err, sizeof(err)), 1);
	/* Names that would break the file, and passwords out of bounds. */
	assert_int_equal(web_passwd_set(path, "a:b", "x", (uid_t)-1, (gid_t)-1, err, sizeof(err)),
	                 -1);
	assert_non_null(strstr(err, "not valid"));
	assert_int_equal(web_passwd_set(path, "a\nb", "x", (uid_t)-1, (gid_t)-1, err, sizeof(err)),
	                 -1);
	assert_int_equal(web_passwd_set(path, "ok", "", (uid_t)-1, (gid_t)-1, err, sizeof(err)), -1);
	char big[WEB_PASSWD_PASSWORD_MAX + 2];
	memset(big, 'p', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(web_passwd_set(path, "ok", big, (uid_t)-1, (gid_t)-1, err, sizeof(err)),
	                 -1);
	assert_int_equal(web_passwd_check(path, "admin", big, err, sizeof(err)), 0);
	unlink(path);
	rmdir(dir);
}

static void test_html_escaping_and_language(void **state)
{
	struct web_buf b;
	char *s;

	(void)state;
	web_buf_init(&b);
	web_buf_add(&b, "<td>");
	web_buf_esc(&b, "<script>alert('x')</script> & \"q\"\x1b[2J 三楼");
	web_buf_add(&b, "</td>");
	s = web_buf_take(&b, NULL);
	assert_string_equal(s, "<td>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; "
	                       "&quot;q&quot;\\x1b[2J 三楼</td>");
	free(s);
	/* A page that outgrows the bound is refused whole. */
	web_buf_init(&b);
	for (size_t i = 0; i < WEB_BUF_MAX / 1000 + 2; i++)
		web_buf_addf(&b, "%1000s", "x");
	assert_null(web_buf_take(&b, NULL));

	assert_int_equal(web_text_lang(NULL, NULL, NULL), WEB_LANG_ZH);
	assert_int_equal(web_text_lang("en", "zh", "zh-CN"), WEB_LANG_EN);
	assert_int_equal(web_text_lang("xx", "en", NULL), WEB_LANG_EN);
	assert_int_equal(web_text_lang(NULL, NULL, "en-US,en;q=0.9,zh;q=0.5"), WEB_LANG_EN);
	assert_int_equal(web_text_lang(NULL, NULL, "fr, zh-TW;q=0.8, en;q=0.5"), WEB_LANG_ZH);
	assert_int_equal(web_text_lang(NULL, NULL, "fr"), WEB_LANG_ZH);
	assert_string_equal(web_text(WEB_LANG_ZH, "Devices"), "设备");
	assert_string_equal(web_text(WEB_LANG_EN, "Devices"), "Devices");
	assert_string_equal(web_text(WEB_LANG_ZH, "no such text"), "no such text");
}

static void test_listen_and_host(void **state)
{
	struct sockaddr_storage ss;
	bool lo = false;

	(void)state;
	assert_true(web_listen_parse("127.0.0.1:8080", &ss, &lo));
	assert_true(lo);
	assert_true(web_listen_parse("127.8.9.1:0", &ss, &lo));
	assert_true(lo);
	assert_true(web_listen_parse("[::1]:8080", &ss, &lo));
	assert_true(lo);
	assert_true(web_listen_parse("0.0.0.0:8443", &ss, &lo));
	assert_false(lo);
	assert_true(web_listen_parse("192.0.2.1:8443", &ss, &lo));
	assert_false(lo);
	assert_true(web_listen_parse("[::]:8443", &ss, &lo));
	assert_false(lo);
	/* Names are not looked up; a missing port or address is refused. */
	assert_false(web_listen_parse("localhost:8080", &ss, &lo));
	assert_false(web_listen_parse("127.0.0.1", &ss, &lo));
	assert_false(web_listen_parse(":8080", &ss, &lo));

	assert_true(web_listen_host_ok("127.0.0.1"));
	assert_true(web_listen_host_ok("127.0.0.1:8080"));
	assert_true(web_listen_host_ok("LOCALHOST:8080"));
	assert_true(web_listen_host_ok("[::1]:8080"));
	assert_false(web_listen_host_ok(NULL));
	assert_false(web_listen_host_ok(""));
	assert_false(web_listen_host_ok("evil.example"));
	assert_false(web_listen_host_ok("127.0.0.1.evil.example"));
	assert_false(web_listen_host_ok("localhost.evil.example:80"));
	assert_false(web_listen_host_ok("127.0.0.1:80x"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sessions_random_and_found),
	    cmocka_unit_test(test_csrf_is_the_sessions_own),
	    cmocka_unit_test(test_sessions_expire),
	    cmocka_unit_test(test_full_table_keeps_logged_in_sessions),
	    cmocka_unit_test(test_rate_limit_locks_then_frees),
	    cmocka_unit_test(test_passwd_file),
	    cmocka_unit_test(test_html_escaping_and_language),
	    cmocka_unit_test(test_listen_and_host),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
