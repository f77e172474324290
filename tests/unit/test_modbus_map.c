/* SPDX-License-Identifier: MIT */
/* test_modbus_map: how profile points become Modbus requests and how register words become
 * values: block planning within max_block, every type and word order, scale and offset. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "modbus_map.h"
#include "testutil.h"

static struct point pt(const char *name, enum point_fn fn, int addr, enum point_type t)
{
	struct point p = {.name = (char *)name, .fn = fn, .address = addr, .type = t, .scale = 1};

	return p;
}

static void test_plan_merges_adjacent(void **state)
{
	struct point pts[] = {
	    pt("a", FN_INPUT, 0, PT_U16),   pt("b", FN_INPUT, 1, PT_S16),
	    pt("c", FN_INPUT, 2, PT_U32),   pt("d", FN_INPUT, 8, PT_U16),
	    pt("h", FN_HOLDING, 0, PT_U16), pt("x", FN_COIL, 3, PT_U16),
	};
	struct profile p = {.name = (char *)"t", .points = pts, .npoints = 6, .max_block = 16};
	struct modbus_map_plan plan;

	(void)state;
	assert_int_equal(modbus_map_plan_build(&p, &plan), 0);
	/* holding 0; input 0-8 in one request (gap included); coil 3. */
	assert_int_equal(plan.n, 3);
	assert_int_equal(plan.blocks[0].fn, FN_HOLDING);
	assert_int_equal(plan.blocks[1].fn, FN_INPUT);
	assert_int_equal(plan.blocks[1].start, 0);
	assert_int_equal(plan.blocks[1].count, 9);
	assert_int_equal(plan.blocks[2].fn, FN_COIL);
	assert_int_equal(plan.point_block[3], 1);
	assert_int_equal(plan.point_offset[3], 8);
	assert_int_equal(plan.point_offset[2], 2);
	modbus_map_plan_free(&plan);
}

static void test_plan_respects_max_block(void **state)
{
	struct point pts[] = {
	    pt("a", FN_HOLDING, 0, PT_U16),
	    pt("b", FN_HOLDING, 3, PT_U32), /* words 3-4 */
	    pt("c", FN_HOLDING, 5, PT_U16),
	    pt("d", FN_HOLDING, 100, PT_U16),
	};
	struct profile p = {.name = (char *)"t", .points = pts, .npoints = 4, .max_block = 4};
	struct modbus_map_plan plan;

	(void)state;
	assert_int_equal(modbus_map_plan_build(&p, &plan), 0);
	/* a (0) and b (3-4) would span 5 words, more than 4: a goes alone. */
	assert_int_equal(plan.n, 3);
	for (size_t i = 0; i < plan.n; i++)
		assert_true(plan.blocks[i].count <= 4);
	assert_int_equal(plan.blocks[0].start, 0);
	assert_int_equal(plan.blocks[1].start, 3);
	assert_int_equal(plan.blocks[1].count, 3); /* b and c together */
	assert_int_equal(plan.blocks[2].start, 100);
	modbus_map_plan_free(&plan);
	/* A 32-bit point cannot fit a block of one word. */
	p.max_block = 1;
	assert_int_equal(modbus_map_plan_build(&p, &plan), -EINVAL);
}

static void test_decode_types(void **state)
{
	struct point p = pt("v", FN_HOLDING, 0, PT_U16);
	uint16_t w[2];

	(void)state;
	w[0] = 0xFFFF;
	assert_true(modbus_map_decode_regs(&p, w) == 65535);
	p.type = PT_S16;
	assert_true(modbus_map_decode_regs(&p, w) == -1);
	/* 0.1 degC steps, below zero in a cold cupboard. */
	p.scale = 0.1;
	w[0] = (uint16_t)-55;
	assert_true(fabs(modbus_map_decode_regs(&p, w) - -5.5) < 1e-9);
	p.scale = 1;
	p.type = PT_U32;
	w[0] = 0x0001;
	w[1] = 0x0002;
	assert_true(modbus_map_decode_regs(&p, w) == 65538);
	p.word_swap = true; /* low word first */
	assert_true(modbus_map_decode_regs(&p, w) == 131073);
	p.word_swap = false;
	p.type = PT_S32;
	w[0] = 0xFFFF;
	w[1] = 0xFFFE;
	assert_true(modbus_map_decode_regs(&p, w) == -2);
	p.type = PT_F32; /* 25.5 = 0x41CC0000 */
	w[0] = 0x41CC;
	w[1] = 0x0000;
	assert_true(modbus_map_decode_regs(&p, w) == 25.5);
	p.word_swap = true;
	w[0] = 0x0000;
	w[1] = 0x41CC;
	assert_true(modbus_map_decode_regs(&p, w) == 25.5);
	/* Scale and offset: a 4-20 mA style reading. */
	p = pt("v", FN_INPUT, 0, PT_U16);
	p.scale = 0.5;
	p.offset = -10;
	w[0] = 100;
	assert_true(modbus_map_decode_regs(&p, w) == 40);
	assert_true(modbus_map_decode_bit(&p, 1) == -9.5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plan_merges_adjacent),
	    cmocka_unit_test(test_plan_respects_max_block),
	    cmocka_unit_test(test_decode_types),
	};

	return cmocka_run_group_tests_name("modbus_map", tests, NULL, NULL);
}
