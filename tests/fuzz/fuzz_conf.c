/* SPDX-License-Identifier: MIT */
/* fuzz_conf: libFuzzer target for the config parser, through conf_load: the path `firegw check`
 * takes. The input is written to a file in a scratch directory and loaded; every input must be
 * loaded or refused with file:line errors, never crash, leak or read out of bounds. A
 * profile_dir = "profiles" finds the shipped profiles (a link in the scratch directory).
 *
 *   FIREGW_SOURCE_ROOT=. build-fuzz/tests/fuzz-conf -max_len=8192 tests/fuzz/corpus/conf */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "conf_errors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[4096], path[4200];

static void fuzz_setup(void)
{
	const char *tmp = getenv("TMPDIR"), *src = getenv("FIREGW_SOURCE_ROOT");
	char link[4300], target[4096];

	snprintf(dir, sizeof(dir), "%s/fuzz-conf-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/firegw.conf", dir);
	/* profile_dir = "profiles" (as the seeds say) finds the shipped profiles. */
	snprintf(link, sizeof(link), "%s/profiles", dir);
	snprintf(target, sizeof(target), "%s/config/profiles", src ? src : ".");
	if (symlink(target, link) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf_errors errs;
	struct conf *c;
	FILE *f;

	if (!dir[0])
		fuzz_setup();
	f = fopen(path, "wb");
	if (!f)
		abort();
	if (size && fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);
	conf_errors_init(&errs);
	c = conf_load(path, &errs);
	if (!c && errs.n == 0)
		abort(); /* a refused config says why */
	conf_free(c);
	conf_errors_finish(&errs);
	return 0;
}
