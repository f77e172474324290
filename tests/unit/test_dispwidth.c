/* SPDX-License-Identifier: MIT */
/* test_dispwidth: the terminal columns firegwctl pads its tables by: a Chinese character takes
 * two, a Latin one one, in any LC_CTYPE (the program runs in the C locale here); padding
 * reaches the column's width, and a text too wide is cut at a character's end with "…". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "dispwidth.h"

static void test_width(void **state)
{
	(void)state;
	assert_int_equal(dispwidth_of(""), 0);
	assert_int_equal(dispwidth_of("smoke-1"), 7);
	assert_int_equal(dispwidth_of("3F 走廊"), 7);
	assert_int_equal(dispwidth_of("立查立改"), 8);
	assert_int_equal(dispwidth_of("＝｛"), 4);
	/* not UTF-8: a column a byte, never a crash */
	assert_int_equal(dispwidth_of("\xff\xfe" "a"), 3);
}

static void test_pad(void **state)
{
	char out[64];

	(void)state;
	assert_string_equal(dispwidth_pad(out, sizeof(out), "3F 走廊", 10), "3F 走廊   ");
	assert_string_equal(dispwidth_pad(out, sizeof(out), "abc", 3), "abc");
	assert_string_equal(dispwidth_pad(out, sizeof(out), "abcdef", 3), "abcdef");
}

static void test_cut(void **state)
{
	char out[64];

	(void)state;
	assert_string_equal(dispwidth_cut(out, sizeof(out), "3F 走廊", 10), "3F 走廊   ");
	/* 8 columns: 7 of text and the ellipsis; a wide character never split */
	assert_string_equal(dispwidth_cut(out, sizeof(out), "1F 楼梯间配电箱", 8), "1F 楼梯…");
	assert_int_equal(dispwidth_of(out), 8);
	assert_string_equal(dispwidth_cut(out, sizeof(out), "1F 楼梯间配电箱", 9), "1F 楼梯… ");
	assert_int_equal(dispwidth_of(out), 9);
	assert_string_equal(dispwidth_cut(out, sizeof(out), "abcdefgh", 5), "abcd…");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_width),
	    cmocka_unit_test(test_pad),
	    cmocka_unit_test(test_cut),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
