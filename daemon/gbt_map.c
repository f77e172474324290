/* SPDX-License-Identifier: MIT */
/* gbt_map: a ledger event as GB/T 26875.3 objects, with the codes of docs/gbt26875.md. */
#include "gbt_map.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "conf_gbt26875.h"
#include "policy.h"

/* Component types of the standard (and one user-defined for arc faults, which it lacks). */
enum {
	GBT_COMP_GENERAL = 0,
	GBT_COMP_EFM_UNIT = 16,   /* 电气火灾监控报警器 */
	GBT_COMP_RESIDUAL = 17,   /* 剩余电流式电气火灾监控探测器 */
	GBT_COMP_TEMP = 18,       /* 测温式电气火灾监控探测器 */
	GBT_COMP_SMOKE = 40,      /* 感烟火灾探测器 */
	GBT_COMP_ARC = 128,       /* user-defined: 故障电弧探测器 */
};

/* Analog types of the standard. */
enum { GBT_AN_TEMP = 3, GBT_AN_VOLTAGE = 8, GBT_AN_CURRENT = 9 };

/* Which kinds a device's profile can raise, as a bit per enum kind. */
static uint32_t gbt_map_profile_kinds(const struct profile *p)
{
	uint32_t k = 0;

	for (size_t i = 0; p && i < p->npoints; i++)
		if (p->points[i].rule.kind >= 0)
			k |= 1u << p->points[i].rule.kind;
	for (size_t i = 0; p && i < p->nbits; i++)
		k |= 1u << p->bits[i].kind;
	for (size_t i = 0; p && i < p->mqtt.nevents; i++) {
		if (p->mqtt.events[i].raise >= 0)
			k |= 1u << p->mqtt.events[i].raise;
		if (p->mqtt.events[i].test >= 0)
			k |= 1u << p->mqtt.events[i].test;
	}
	return k;
}

#define K(x) (1u << (x))

/* The component type a device is by default: a fire detector, or which electrical fire
 * monitoring detector (both residual current and temperature: the monitoring unit). */
static int gbt_map_comp_type(uint32_t kinds)
{
	bool rc = kinds & K(KIND_RESIDUAL_CURRENT), t = kinds & K(KIND_OVERTEMPERATURE);

	if (kinds & K(KIND_FIRE_ALARM))
		return GBT_COMP_SMOKE;
	if ((rc && t) || (kinds & (K(KIND_OVERCURRENT) | K(KIND_OVERVOLTAGE) |
	                           K(KIND_UNDERVOLTAGE))))
		return GBT_COMP_EFM_UNIT;
	if (rc)
		return GBT_COMP_RESIDUAL;
	if (t)
		return GBT_COMP_TEMP;
	if (kinds & K(KIND_ARC_FAULT))
		return GBT_COMP_ARC;
	return GBT_COMP_GENERAL;
}

/* The point's number on its device: its channel's place among the profile's channels (the
 * status bits' and event codes'), then among its points; 1 when unknown. */
static uint32_t gbt_map_point_number(const struct profile *p, const char *point)
{
	const char *seen[64];
	size_t n = 0;

	if (!p || !point)
		return 1;
#define GBT_MAP_SEEN(name)                                                                        \
	do {                                                                                      \
		const char *nm_ = (name);                                                         \
		bool dup_ = false;                                                                \
		for (size_t j_ = 0; nm_ && j_ < n; j_++)                                          \
			dup_ = dup_ || strcmp(seen[j_], nm_) == 0;                                \
		if (nm_ && !dup_ && n < sizeof(seen) / sizeof(*seen))                             \
			seen[n++] = nm_;                                                          \
	} while (0)
	for (size_t i = 0; i < p->nbits; i++)
		GBT_MAP_SEEN(p->bits[i].channel);
	for (size_t i = 0; i < p->mqtt.nevents; i++)
		GBT_MAP_SEEN(p->mqtt.events[i].channel);
	GBT_MAP_SEEN(p->mqtt.channel);
	for (size_t i = 0; i < p->npoints; i++)
		GBT_MAP_SEEN(p->points[i].name);
#undef GBT_MAP_SEEN
	for (size_t i = 0; i < n; i++)
		if (strcmp(seen[i], point) == 0)
			return (uint32_t)i + 1;
	return 1;
}

/* "2026-11-23T07:59:58.120Z" -> Unix seconds; -1 if it is not that. */
static int64_t gbt_map_iso(const char *s)
{
	struct tm tm;
	int y, mo, d, h, mi, sec;

	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &sec) != 6)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	return (int64_t)timegm(&tm);
}

/* The status bit of a condition of this kind, 0 for none (a pre-alarm with pre_alarm none). */
static uint16_t gbt_map_bit(enum kind k, bool prealarm, const struct conf_gbt26875 *g)
{
	switch (k) {
	case KIND_FIRE_ALARM:
		return prealarm ? (g->pre_alarm ? GBT26875_ST_SUPERVISORY : 0) : GBT26875_ST_FIRE;
	case KIND_RESIDUAL_CURRENT:
	case KIND_OVERTEMPERATURE:
	case KIND_ARC_FAULT:
	case KIND_OVERCURRENT:
	case KIND_OVERVOLTAGE:
	case KIND_UNDERVOLTAGE:
		/* GB 50116-2013: an electrical fire monitoring alarm is not a fire alarm; it is
		 * shown as a supervisory (监管) signal. */
		return prealarm && !g->pre_alarm ? 0 : GBT26875_ST_SUPERVISORY;
	case KIND_LOW_BATTERY:
		return GBT26875_ST_BACKUP_POWER;
	case KIND_SENSOR_FAULT:
	case KIND_DEVICE_OFFLINE:
	case KIND_TAMPER:
	case KIND_DEVICE_FAULT:
		return GBT26875_ST_FAULT;
	default:
		return 0;
	}
}

/* The reading of an electrical condition in its analog type's unit; false if it has none or it
 * does not fit a signed 16-bit value (*range set). */
static bool gbt_map_analog(enum kind k, double v, const char *unit, const struct conf_gbt26875 *g,
                           uint8_t *type, int16_t *out, bool *range)
{
	double x;

	if (!isfinite(v))
		return false;
	switch (k) {
	case KIND_RESIDUAL_CURRENT: /* mA; in A when the profile says so */
		x = unit && strcmp(unit, "A") == 0 ? v * 1000.0 : v;
		*type = (uint8_t)g->residual_analog_type;
		if (*type == GBT_AN_CURRENT)
			x /= 100.0; /* 0.1 A */
		break;
	case KIND_OVERTEMPERATURE:
		*type = GBT_AN_TEMP;
		x = v * 10.0;
		break;
	case KIND_OVERCURRENT:
		*type = GBT_AN_CURRENT;
		x = v * 10.0;
		break;
	case KIND_OVERVOLTAGE:
	case KIND_UNDERVOLTAGE:
		*type = GBT_AN_VOLTAGE;
		x = v * 10.0;
		break;
	default:
		return false;
	}
	x = round(x);
	if (x < -32768.0 || x > 32767.0) {
		*range = true;
		return false;
	}
	*out = (int16_t)x;
	return true;
}

/* The codes and address of the component the event is about. */
static void gbt_map_component(const struct conf *c, const struct conf_gbt26875 *g,
                              const char *device, const char *point, const char *where,
                              struct gbt_map_out *o)
{
	const struct device_conf *dc = device ? conf_device(c, device) : NULL;
	const struct conf_gbt26875_dev *ov = conf_gbt26875_dev(g, device);
	uint32_t kinds = gbt_map_profile_kinds(dc ? dc->prof : NULL);
	long loop = dc ? (long)(dc - c->devices) + 1 : 0;
	int comp = gbt_map_comp_type(kinds);
	/* No code for 电气火灾监控系统: 0 (general) unless the device is a fire detector. */
	int sys = g->sys_type >= 0 ? g->sys_type : (kinds & K(KIND_FIRE_ALARM)) ? 1 : 0;

	if (ov && ov->sys_type >= 0)
		sys = ov->sys_type;
	if (ov && ov->comp_type >= 0)
		comp = ov->comp_type;
	if (ov && ov->loop >= 0)
		loop = ov->loop;
	o->st.sys_type = o->an.sys_type = (uint8_t)sys;
	o->st.sys_addr = o->an.sys_addr =
	    (uint8_t)(ov && ov->sys_addr >= 0 ? ov->sys_addr : g->sys_addr >= 0 ? g->sys_addr : 1);
	o->st.comp_type = o->an.comp_type = (uint8_t)comp;
	o->st.comp_addr = o->an.comp_addr =
	    ((uint32_t)loop & 0xFFFFu) |
	    (gbt_map_point_number(dc ? dc->prof : NULL, point) & 0xFFFFu) << 16;
	/* Invalid UTF-8 leaves what came before it: still a description. */
	(void)gbt26875_adu_desc(where && *where ? where : device ? device : "", o->st.desc);
}

void gbt_map_time(int64_t unix_s, struct gbt26875_time *t)
{
	static const struct gbt26875_time first = {0, 0, 0, 1, 1, 0}, last = {59, 59, 23, 31, 12, 255};

	/* A time_t of 32 bits (armhf) cannot even hold some of them. */
	if ((int64_t)(time_t)unix_s != unix_s ||
	    gbt26875_time_from_unix((time_t)unix_s, t) != GBT26875_OK)
		*t = unix_s < INT64_C(4102444800) /* 2100 */ ? first : last;
}

int gbt_map_event(const struct conf *c, const struct conf_gbt26875 *g, const char *body,
                  int64_t offset_ms, struct gbt_map_out *o)
{
	json_error_t jerr;
	json_t *ev = json_loads(body, 0, &jerr), *hz;
	const char *type, *kind_s, *level;
	int kind;
	int64_t at;

	memset(o, 0, sizeof(*o));
	hz = json_object_get(ev, "hazard");
	type = json_string_value(json_object_get(ev, "type"));
	kind_s = json_string_value(json_object_get(hz, "kind"));
	at = gbt_map_iso(json_string_value(json_object_get(ev, "at")));
	if (!json_is_object(hz) || !type || !kind_s || at < 0) {
		json_decref(ev);
		return -1;
	}
	kind = kind_from_name(kind_s);
	level = json_string_value(json_object_get(hz, "level"));
	bool active = json_is_true(json_object_get(hz, "active"));
	bool state = !strcmp(type, "raised") || !strcmp(type, "recurred") ||
	             !strcmp(type, "reopened") || !strcmp(type, "escalated") ||
	             !strcmp(type, "resync");
	bool cleared = !strcmp(type, "cleared") || (state && !active && strcmp(type, "raised"));

	gbt_map_time(at + offset_ms / 1000, &o->time);
	if (kind < 0 || json_is_true(json_object_get(hz, "test")) || (!state && !cleared) ||
	    (state && !active && !cleared)) {
		json_decref(ev);
		return 0; /* nothing the centre has a frame for */
	}
	if (kind == KIND_LEDGER_CORRUPT) {
		o->uitd = true;
		o->uitd_status = cleared ? GBT26875_UITD_NORMAL : GBT26875_UITD_FAULT;
		json_decref(ev);
		return 0;
	}
	uint16_t bit = cleared ? GBT26875_ST_NORMAL
	                       : gbt_map_bit((enum kind)kind, level && !strcmp(level, "prealarm"), g);
	gbt_map_component(c, g, json_string_value(json_object_get(hz, "device_id")),
	                  json_string_value(json_object_get(hz, "point")),
	                  json_string_value(json_object_get(hz, "location")), o);
	o->st.time = o->an.time = o->time;
	if (bit) {
		o->status = true;
		o->st.status = bit;
		o->fire = bit == GBT26875_ST_FIRE;
	}
	json_t *v = json_object_get(hz, "value");
	if (json_is_number(v))
		o->analog = gbt_map_analog((enum kind)kind, json_number_value(v),
		                           json_string_value(json_object_get(hz, "unit")), g,
		                           &o->an.analog_type, &o->an.value, &o->out_of_range);
	json_decref(ev);
	return 0;
}
