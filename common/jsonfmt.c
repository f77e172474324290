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

long long jsonfmt_int(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	double d;

	if (json_is_integer(v))
		return (long long)json_integer_value(v);
	if (!json_is_real(v))
		return 0;
	d = json_real_value(v);
	/* NaN compares false: 0 too. */
	return d > -9.2e18 && d < 9.2e18 ? (long long)d : 0;
}
