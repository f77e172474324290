/* SPDX-License-Identifier: MIT */
/* jsonfmt: times and numbers as firegw's JSON writes them. */
#include "jsonfmt.h"

#include <math.h>

#include "clock.h"

json_t *jsonfmt_time(int64_t wall_ms)
{
	char buf[32];

	if (wall_ms <= 0)
		return json_null();
	clock_format_iso(wall_ms, buf, sizeof(buf));
	return json_string(buf);
}

json_t *jsonfmt_number(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}
