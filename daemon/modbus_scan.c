/* SPDX-License-Identifier: MIT */
/* modbus_scan: one unit id asked, its profile guessed, its config block proposed. */
#include "modbus_scan.h"

#include <dirent.h>
#include <errno.h>
#include <modbus.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_errors.h"
#include "modbus_bus.h"
#include "profile_load.h"

bool modbus_scan_number(const char *s, long lo, long hi, long *out, const char **end)
{
	char *e;
	long v;

	if (!(*s >= '0' && *s <= '9'))
		return false;
	errno = 0;
	v = strtol(s, &e, 10);
	if (errno || e == s || (!end && *e) || v < lo || v > hi)
		return false;
	if (end)
		*end = e;
	*out = v;
	return true;
}

int modbus_scan_parse_units(const char *s, int *from, int *to)
{
	const char *e;
	long a, b;

	if (!s || !modbus_scan_number(s, MODBUS_SCAN_UNIT_MIN, MODBUS_SCAN_UNIT_MAX, &a, &e))
		return -1;
	b = a;
	if (*e == '-' &&
	    !modbus_scan_number(e + 1, MODBUS_SCAN_UNIT_MIN, MODBUS_SCAN_UNIT_MAX, &b, NULL))
		return -1;
	if ((*e && *e != '-') || a > b)
		return -1;
	*from = (int)a;
	*to = (int)b;
	return 0;
}

static int modbus_scan_by_name(const void *a, const void *b)
{
	return strcmp((*(struct profile *const *)a)->name, (*(struct profile *const *)b)->name);
}

size_t modbus_scan_profiles_load(const char *dir, struct profile ***out)
{
	DIR *d = dir ? opendir(dir) : NULL;
	struct dirent *e;
	struct profile **ps = NULL;
	size_t n = 0;

	*out = NULL;
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		char name[256];
		struct conf_errors errs;

		if (len < 6 || strcmp(e->d_name + len - 5, ".conf") != 0 || len - 5 >= sizeof(name))
			continue;
		memcpy(name, e->d_name, len - 5);
		name[len - 5] = '\0';
		conf_errors_init(&errs);
		struct profile *p = profile_load(dir, name, &errs);
		conf_errors_finish(&errs);
		if (!p)
			continue;
		struct profile **np = realloc(ps, (n + 1) * sizeof(*np));
		if (!np) {
			profile_free(p);
			break;
		}
		ps = np;
		ps[n++] = p;
	}
	closedir(d);
	if (n > 1)
		qsort(ps, n, sizeof(*ps), modbus_scan_by_name);
	*out = ps;
	return n;
}

void modbus_scan_profiles_free(struct profile **ps, size_t n)
{
	for (size_t i = 0; i < n; i++)
		profile_free(ps[i]);
	free(ps);
}

enum modbus_scan_answer modbus_scan_ask(modbus_t *ctx, int unit, int timeout_ms)
{
	uint16_t reg;

	modbus_set_slave(ctx, unit);
	/* libmodbus wants the microseconds below one second. */
	modbus_set_response_timeout(ctx, (uint32_t)(timeout_ms / 1000),
	                            (uint32_t)(timeout_ms % 1000) * 1000);
	if (modbus_read_registers(ctx, 0, 1, &reg) >= 0 ||
	    (errno >= EMBXILFUN && errno <= EMBXGTAR))
		return MODBUS_SCAN_ANSWERS;
	/* Silence, garbage or CRC. Keep a late answer from being taken for the next unit's. */
	return modbus_bus_recover(ctx) != 0 ? MODBUS_SCAN_LINK_DOWN : MODBUS_SCAN_SILENT;
}

bool modbus_scan_fits(modbus_t *ctx, int unit, int timeout_ms, const struct profile *p)
{
	struct modbus_bus_device d = {
	    .id = "scan", .unit = unit, .timeout_ms = timeout_ms * 3, .prof = p};
	double values[256];
	int code = 0, attempts = 0;

	return p->npoints <= 256 && modbus_bus_poll(ctx, &d, values, &code, &attempts) == MB_WHY_OK;
}

enum modbus_scan_answer modbus_scan_unit(modbus_t *ctx, int unit, int timeout_ms,
                                         struct profile *const *ps, size_t n, bool *fits)
{
	enum modbus_scan_answer a = modbus_scan_ask(ctx, unit, timeout_ms);

	for (size_t i = 0; a == MODBUS_SCAN_ANSWERS && i < n; i++)
		fits[i] = modbus_scan_fits(ctx, unit, timeout_ms, ps[i]);
	return a;
}

void modbus_scan_snippet(char *buf, size_t len, const char *bus, int unit,
                         struct profile *const *ps, size_t n, const bool *fits)
{
	size_t best = n, used;
	int w;

	for (size_t i = 0; i < n; i++)
		if (fits[i] && (best == n || ps[i]->npoints > ps[best]->npoints))
			best = i;
	w = snprintf(buf, len,
	             "device \"%s-%d\" {\n  bus = \"%s\"\n  unit = %d\n  profile = \"%s\"", bus,
	             unit, bus, unit, best < n ? ps[best]->name : "FILL IN");
	used = w < 0 ? len : (size_t)w;
	for (size_t i = 0, k = 0; i < n && used < len; i++) {
		if (!fits[i] || i == best)
			continue;
		w = snprintf(buf + used, len - used, "%s%s",
		             k++ ? ", " : "  # also fits: ", ps[i]->name);
		used += w < 0 ? len : (size_t)w;
	}
	if (used < len)
		snprintf(buf + used, len - used, "\n  location = \"FILL IN: where it is\"\n}\n");
}
