/* SPDX-License-Identifier: MIT */
/* fuzz_modbus_map: libFuzzer target for Modbus register decoding. An input is a profile (the
 * text of a config/profiles/NAME.conf file), a NUL byte, and the register words a device answers
 * (big-endian pairs of bytes, repeated as needed). The profile is loaded as the daemon loads
 * it; a profile it accepts is planned (modbus_map_plan_build) and every point decoded from the words.
 * Holds: every point lies inside its block, no block is longer than max_block, and a value
 * that reaches the rules is finite or NaN (NaN: no value), never infinite.
 *
 *   build-fuzz/tests/fuzz-modbus-map -max_len=8192 tests/fuzz/corpus/modbus_map */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_errors.h"
#include "modbus_map.h"
#include "profile_load.h"
#include "profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[4096], path[4200];

static void fuzz_setup(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/fuzz-mb-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/fz.conf", dir);
}

static void check_value(double v)
{
	if (isinf(v))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t tlen = nul ? (size_t)(nul - data) : size;
	const uint8_t *w = nul ? nul + 1 : NULL;
	size_t wlen = nul ? size - tlen - 1 : 0;
	struct conf_errors errs;
	struct profile *p;
	struct modbus_map_plan plan;
	FILE *f;

	if (!dir[0])
		fuzz_setup();
	f = fopen(path, "wb");
	if (!f)
		abort();
	if (tlen && fwrite(data, 1, tlen, f) != tlen)
		abort();
	fclose(f);
	conf_errors_init(&errs);
	p = profile_load(dir, "fz", &errs);
	conf_errors_finish(&errs);
	if (!p)
		return 0;
	if (modbus_map_plan_build(p, &plan) == 0) {
		int max = p->max_block > 0 ? p->max_block : 1;

		for (size_t b = 0; b < plan.n; b++)
			if (plan.blocks[b].count < 1 || plan.blocks[b].count > max)
				abort();
		for (size_t i = 0; i < p->npoints; i++) {
			const struct point *pt = &p->points[i];
			const struct modbus_map_block *b = &plan.blocks[plan.point_block[i]];
			bool bits = pt->fn == FN_COIL || pt->fn == FN_DISCRETE;
			int words = bits ? 1 : point_words(pt->type);
			int off = plan.point_offset[i];
			uint16_t regs[2] = {0, 0};

			if (plan.point_block[i] >= plan.n || off < 0 || off + words > b->count ||
			    b->fn != pt->fn)
				abort();
			for (int k = 0; k < 2 && wlen >= 2; k++) {
				size_t at = ((size_t)(off + k) * 2) % (wlen - wlen % 2);

				regs[k] = (uint16_t)(w[at] << 8 | w[at + 1]);
			}
			if (bits)
				check_value(modbus_map_decode_bit(pt, (uint8_t)(regs[0] & 1)));
			else
				check_value(modbus_map_decode_regs(pt, regs));
		}
		modbus_map_plan_free(&plan);
	}
	profile_free(p);
	return 0;
}
