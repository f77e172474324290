/* SPDX-License-Identifier: MIT */
/* modbus_map: how a profile's points become Modbus requests and back. The plan groups the
 * points of one function into as few reads as the profile's max_block allows (adjacent and
 * nearby registers in one request); decoding turns the words or bits of a point into its
 * scaled value (u16, s16, u32, s32, f32; big or little word order). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "profile.h"

struct modbus_map_block {
	enum point_fn fn;
	int start;
	int count; /* registers or bits */
};

struct modbus_map_plan {
	struct modbus_map_block *blocks;
	size_t n;
	/* For each profile point: its block and offset in it. */
	size_t *point_block;
	int *point_offset;
	size_t npoints;
};

/* Returns 0, or -ENOMEM / -EINVAL (a point that does not fit a block). */
int modbus_map_plan_build(const struct profile *p, struct modbus_map_plan *out);
void modbus_map_plan_free(struct modbus_map_plan *plan);

/* The value of a register point whose first word is regs[0] (two words for 32-bit types). */
double modbus_map_decode_regs(const struct point *pt, const uint16_t *regs);
/* The value of a coil or discrete input. */
double modbus_map_decode_bit(const struct point *pt, uint8_t bit);
