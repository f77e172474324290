/* SPDX-License-Identifier: MIT */
/* test_textesc: the escaping firegwctl puts on every text the daemon sends before a
 * terminal sees it (issue 13, item 5): ESC, newline and the other C0 controls, DEL, the C1
 * controls and bytes that are not UTF-8 become \xNN; plain ASCII and Chinese text pass
 * unchanged; a short buffer is cut and terminated and the length says what it needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "textesc.h"

static void assert_escapes(const char *in, const char *want)
{
	char out[256];
	char *dup = textesc_dup(in);

	assert_int_equal(textesc(out, sizeof(out), in), strlen(want));
	assert_string_equal(out, want);
	assert_non_null(dup);
	assert_string_equal(dup, want);
	free(dup);
}

static void test_passes_text(void **state)
{
	(void)state;
	assert_escapes("", "");
	assert_escapes("smoke 3F east stair, unit 12 (50%) \\ ok",
	               "smoke 3F east stair, unit 12 (50%) \\ ok");
	/* Chinese, an accented letter, a four-byte emoji and U+00A0 (the first after C1). */
	assert_escapes("三楼东侧楼梯间 烟感", "三楼东侧楼梯间 烟感");
	assert_escapes("Café 🔥\xc2\xa0x", "Café 🔥\xc2\xa0x");
	assert_escapes(NULL, "");
}

static void test_escapes_controls(void **state)
{
	(void)state;
	assert_escapes("\x1b[2J\x1b]0;pwned\x07", "\\x1b[2J\\x1b]0;pwned\\x07");
	assert_escapes("line\nnext\r\tend", "line\\x0anext\\x0d\\x09end");
	assert_escapes("\x01\x1f\x7f", "\\x01\\x1f\\x7f");
	/* U+009B is CSI to some terminals: as dangerous as ESC [. */
	assert_escapes("a\xc2\x9b"
	               "2Jb",
	               "a\\xc2\\x9b2Jb");
	assert_escapes("\xc2\x80", "\\xc2\\x80");
	assert_escapes("烟感\x1b[31m红", "烟感\\x1b[31m红");
}

static void test_escapes_bad_utf8(void **state)
{
	(void)state;
	/* A lone continuation byte, a cut sequence, an overlong '/', a surrogate, > U+10FFFF. */
	assert_escapes("\x80x", "\\x80x");
	assert_escapes("\xe4\xb8", "\\xe4\\xb8");
	assert_escapes("\xc0\xaf", "\\xc0\\xaf");
	assert_escapes("\xed\xa0\x80", "\\xed\\xa0\\x80");
	assert_escapes("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80");
	assert_escapes("\xff", "\\xff");
}

static void test_short_buffer(void **state)
{
	char out[6];

	(void)state;
	assert_int_equal(textesc(out, sizeof(out),
	                         "ab\x1b"
	                         "cd"),
	                 8);
	assert_string_equal(out, "ab\\x1");
	assert_int_equal(textesc(NULL, 0, "\x1b"), 4);
	out[0] = 'z';
	assert_int_equal(textesc(out, 1, "abc"), 3);
	assert_string_equal(out, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_passes_text),
	    cmocka_unit_test(test_escapes_controls),
	    cmocka_unit_test(test_escapes_bad_utf8),
	    cmocka_unit_test(test_short_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
