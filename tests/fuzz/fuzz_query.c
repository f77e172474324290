/* SPDX-License-Identifier: MIT */
/* fuzz_query: libFuzzer target for what an operator types into a control-socket request's
 * "since" (firegwctl hazards --since): ledger_query_parse_since, a date, a date and time, or a
 * duration back from now. The input is the string (a NUL ends it early, as in JSON from
 * jansson). Holds: no crash, no out-of-bounds read, no undefined behaviour (the build is
 * sanitized). A negative answer is a refusal (ctl_request.c refuses < 0, dates before 1970
 * too). The whole request line is fuzz_control_request's.
 *
 *   build-fuzz/tests/fuzz-query -max_len=256 tests/fuzz/corpus/query */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ledger_query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1795000000000LL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	(void)ledger_query_parse_since(s, NOW);
	free(s);
	return 0;
}
