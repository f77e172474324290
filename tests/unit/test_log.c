/* test_log: every log line is escaped in one place, so that no string from outside (a
 * platform id or reason, an MQTT topic, a control request) can forge a line or drive a
 * terminal (issue 13). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "log.h"
#include "testutil.h"

static void test_escape(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(log_escape(out, sizeof(out), "plain 中文 ok"), strlen("plain 中文 ok"));
	assert_string_equal(out, "plain 中文 ok");
	log_escape(out, sizeof(out), "a\n<0>b\r\x1b[2J\x7f\t");
	assert_string_equal(out, "a\\x0a<0>b\\x0d\\x1b[2J\\x7f\\x09");
	log_escape(out, sizeof(out), "c:\\x0a");
	assert_string_equal(out, "c:\\\\x0a"); /* a literal \x0a cannot pass for an escape */
	/* Cut to fit, never in the middle of an escape. */
	log_escape(out, 6, "ab\ncd");
	assert_string_equal(out, "ab");
	assert_int_equal(log_escape(out, 0, "x"), 0);
}

/* A forged line in an argument stays inside the one line firegw writes. */
static void test_lines_are_escaped(void **state)
{
	(void)state;
	testutil_log_capture();
	log_warn("platform command %s refused", "c1\n<0>EMERGENCY forged");
	assert_true(testutil_log_has("<4>platform command c1\\x0a<0>EMERGENCY forged refused\n"));
	assert_int_equal(testutil_log_count("\n"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_escape),
	    cmocka_unit_test(test_lines_are_escaped),
	};

	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
