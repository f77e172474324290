/* SPDX-License-Identifier: MIT */
/* test_log: every log line is escaped in one place, so that no string from outside (a
 * platform id or reason, an MQTT topic, a control request) can forge a line or drive a
 * terminal (issue 13). The escaping itself is tested in test_textesc.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "log.h"
#include "testutil.h"

/* A forged line in an argument stays inside the one line firegw writes. */
static void test_lines_are_escaped(void **state)
{
	(void)state;
	testutil_log_capture();
	log_warn("platform command %s refused", "c1\n<0>EMERGENCY forged");
	assert_true(testutil_log_has("<4>platform command c1\\x0a<0>EMERGENCY forged refused\n"));
	assert_int_equal(testutil_log_count("\n"), 1);
	testutil_log_reset();
	log_notice("topic %s", "fire/\x1b[2J\xc2\x9b" "31m/中文");
	assert_true(testutil_log_has("<5>topic fire/\\x1b[2J\\xc2\\x9b31m/中文\n"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lines_are_escaped),
	};

	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
