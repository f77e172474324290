/* SPDX-License-Identifier: MIT */
/* test_modbus_scan: what an installer types and gets back from a scan, without a line: the
 * unit range ("7", "1-20"; anything else refused, as both `firegw scan --units` and the
 * daemon's scan request take it), the shipped profiles found by name, and the device block a
 * found unit proposes: the fitting profile that reads the most points, the others named in a
 * comment, "FILL IN" when none fits, and a short buffer cut, never overrun. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "modbus_scan.h"
#include "testutil.h"

static void test_units(void **state)
{
	static const char *const bad[] = {"",      "0",    "248",  "5-3", "-5",  "+5", "1-",
	                                  "1-248", "1 -2", "1-2x", "x",   "1,2", "00x"};
	int from = -1, to = -1;

	(void)state;
	assert_int_equal(modbus_scan_parse_units("7", &from, &to), 0);
	assert_int_equal(from, 7);
	assert_int_equal(to, 7);
	assert_int_equal(modbus_scan_parse_units("1-247", &from, &to), 0);
	assert_int_equal(from, 1);
	assert_int_equal(to, 247);
	assert_int_equal(modbus_scan_parse_units("12-12", &from, &to), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		from = to = 99;
		assert_int_equal(modbus_scan_parse_units(bad[i], &from, &to), -1);
		assert_int_equal(from, 99); /* untouched */
	}
	assert_int_equal(modbus_scan_parse_units(NULL, &from, &to), -1);
}

static void test_profiles_and_snippet(void **state)
{
	struct profile **ps;
	size_t n = modbus_scan_profiles_load(testutil_profile_dir(), &ps);
	char buf[1024];
	bool fits[64] = {false};
	size_t rcd4t = n, smoke = n;

	(void)state;
	assert_true(n >= 2 && n < 64);
	for (size_t i = 0; i < n; i++) {
		if (i)
			assert_true(strcmp(ps[i - 1]->name, ps[i]->name) < 0); /* by name */
		if (!strcmp(ps[i]->name, "rcd-4t"))
			rcd4t = i;
		if (!strcmp(ps[i]->name, "smoke-modbus"))
			smoke = i;
	}
	assert_true(rcd4t < n && smoke < n);

	/* Both fit: the larger is proposed, the smaller named in a comment. */
	fits[rcd4t] = fits[smoke] = true;
	modbus_scan_snippet(buf, sizeof(buf), "line1", 7, ps, n, fits);
	assert_string_equal(buf, "device \"line1-7\" {\n"
	                         "  bus = \"line1\"\n"
	                         "  unit = 7\n"
	                         "  profile = \"rcd-4t\"  # also fits: smoke-modbus\n"
	                         "  location = \"FILL IN: where it is\"\n"
	                         "}\n");
	/* None fits: the installer chooses. */
	memset(fits, 0, sizeof(fits));
	modbus_scan_snippet(buf, sizeof(buf), "line1", 9, ps, n, fits);
	assert_non_null(strstr(buf, "  profile = \"FILL IN\"\n"));
	assert_null(strstr(buf, "also fits"));
	/* A short buffer: cut and terminated. */
	memset(buf, 'x', sizeof(buf));
	fits[rcd4t] = true;
	modbus_scan_snippet(buf, 20, "line1", 7, ps, n, fits);
	assert_int_equal(strlen(buf), 19);
	assert_int_equal(buf[20], 'x');
	modbus_scan_profiles_free(ps, n);

	assert_int_equal(modbus_scan_profiles_load("/nonexistent", &ps), 0);
	assert_null(ps);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_units),
	    cmocka_unit_test(test_profiles_and_snippet),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
