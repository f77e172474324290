/* SPDX-License-Identifier: MIT */
/* profile_load: loading and checking detector profiles. */
#include "profile_load.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_parse.h"
#include "i18n.h"
#include "mqtt_map.h"

#define SETPOINT_OPTS                                                                              \
	CFG_STR("kind", NULL, CFGF_NONE), CFG_FLOAT("prealarm", 0, CFGF_NONE),                     \
	    CFG_FLOAT("alarm", 0, CFGF_NONE), CFG_FLOAT("high", 0, CFGF_NONE),                     \
	    CFG_FLOAT("clear", 0, CFGF_NONE), CFG_BOOL("below", cfg_false, CFGF_NONE),             \
	    CFG_STR("hold", NULL, CFGF_NONE), CFG_STR("clear_hold", NULL, CFGF_NONE)

static cfg_opt_t point_opts[] = {
    CFG_STR("function", "holding", CFGF_NONE),
    CFG_INT("address", -1, CFGF_NONE),
    CFG_STR("type", "u16", CFGF_NONE),
    CFG_STR("word_order", "big", CFGF_NONE),
    CFG_FLOAT("scale", 1.0, CFGF_NONE),
    CFG_FLOAT("offset", 0.0, CFGF_NONE),
    CFG_STR("unit", "", CFGF_NONE),
    CFG_STR("pointer", NULL, CFGF_NONE),
    SETPOINT_OPTS,
    CFG_END(),
};

static cfg_opt_t mqtt_opts[] = {
    CFG_STR_LIST("subscribe", NULL, CFGF_NONE),
    CFG_INT("key_level", 0, CFGF_NONE),
    CFG_STR("key_pointer", NULL, CFGF_NONE),
    CFG_STR("event", NULL, CFGF_NONE),
    CFG_STR("timestamp", NULL, CFGF_NONE),
    CFG_STR("channel", "main", CFGF_NONE),
    CFG_END(),
};

static cfg_opt_t event_opts[] = {
    CFG_STR("raise", NULL, CFGF_NONE),
    CFG_STR("level", "alarm", CFGF_NONE),
    CFG_STR("silence", NULL, CFGF_NONE),
    CFG_STR("test", NULL, CFGF_NONE),
    CFG_STR_LIST("clear", NULL, CFGF_NONE),
    CFG_STR("channel", NULL, CFGF_NONE),
    CFG_END(),
};

static cfg_opt_t status_opts[] = {
    CFG_STR("point", NULL, CFGF_NONE),   CFG_INT("bit", -1, CFGF_NONE),
    CFG_STR("kind", NULL, CFGF_NONE),    CFG_STR("level", "alarm", CFGF_NONE),
    CFG_STR("channel", NULL, CFGF_NONE), CFG_END(),
};

static cfg_opt_t profile_opts[] = {
    CFG_STR("description", "", CFGF_NONE),
    CFG_STR("model", "", CFGF_NONE),
    CFG_INT("max_block", 32, CFGF_NONE),
    CFG_SEC("point", point_opts, CFGF_MULTI | CFGF_TITLE),
    CFG_SEC("status", status_opts, CFGF_MULTI | CFGF_TITLE),
    CFG_SEC("mqtt", mqtt_opts, CFGF_NONE),
    CFG_SEC("event", event_opts, CFGF_MULTI | CFGF_TITLE),
    CFG_END(),
};

static bool profile_schema_ready;

static int point_fn_from(const char *s)
{
	static const char *const names[] = {"holding", "input", "coil", "discrete"};

	for (int i = 0; i < 4; i++)
		if (s && strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

static int point_type_from(const char *s)
{
	static const char *const names[] = {"u16", "s16", "u32", "s32", "f32"};

	for (int i = 0; i < 5; i++)
		if (s && strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

static int level_from(const char *s)
{
	if (!s)
		return -1;
	if (strcmp(s, "prealarm") == 0)
		return LEVEL_PREALARM;
	if (strcmp(s, "alarm") == 0)
		return LEVEL_ALARM;
	if (strcmp(s, "high") == 0)
		return LEVEL_HIGH;
	return -1;
}

static double setpoint_opt(struct conf_parse *p, cfg_t *sec, const char *name, double base)
{
	return conf_parse_isset(p, sec, name) ? cfg_getfloat(sec, name) : base;
}

int setpoints_read(struct conf_parse *p, cfg_t *sec, const struct setpoints *base,
                   struct setpoints *out, const char *where)
{
	size_t before = p->errs->n;
	const char *kind = cfg_getstr(sec, "kind");

	*out = *base;
	if (kind) {
		out->kind = kind_from_name(kind);
		if (out->kind < 0)
			conf_parse_error(
			    p, sec, "kind",
			    _("%s: unknown hazard kind '%s' (known: fire_alarm, "
			    "residual_current, overtemperature, arc_fault, overcurrent, "
			    "overvoltage, undervoltage, ...)"),
			    where, kind);
	}
	out->prealarm = setpoint_opt(p, sec, "prealarm", base->prealarm);
	out->alarm = setpoint_opt(p, sec, "alarm", base->alarm);
	out->high = setpoint_opt(p, sec, "high", base->high);
	out->clear = setpoint_opt(p, sec, "clear", base->clear);
	if (conf_parse_isset(p, sec, "below"))
		out->below = cfg_getbool(sec, "below");
	out->hold_ms = conf_parse_duration_opt(p, sec, "hold", base->hold_ms);
	out->clear_hold_ms = conf_parse_duration_opt(p, sec, "clear_hold", base->clear_hold_ms);
	struct conf_line w =
	    conf_parse_where(p, sec, conf_parse_isset(p, sec, "clear") ? "clear" : NULL);
	static const char *const levels[3] = {"prealarm", "alarm", "high"};
	int level_lines[3];
	for (int i = 0; i < 3; i++)
		level_lines[i] = conf_parse_isset(p, sec, levels[i])
		                     ? conf_parse_where(p, sec, levels[i]).line
		                     : 0;
	setpoints_check(out, p->errs, w.file, w.line, level_lines, where);
	return (int)(p->errs->n - before);
}

void profile_check_judges(const struct profile *p, const struct point *pt,
                          const struct setpoints *rule, struct conf_errors *errs, const char *file,
                          int line, const char *who)
{
	for (size_t i = 0; i < p->nbits; i++) {
		const struct status_bit *b = &p->bits[i];

		/* One condition, one judge: the device's own bit or firegw's setpoints. */
		if (rule->kind == (int)b->kind && strcmp(b->channel, pt->name) == 0)
			conf_errors_add(
			    errs, file, line,
			    _("%spoint '%s' has setpoints for %s, but profile '%s' already "
			    "takes it from status '%s'; keep one judge, not both"),
			    who, pt->name, kind_name(b->kind), p->name, b->name);
	}
}

int setpoints_check(const struct setpoints *s, struct conf_errors *errs, const char *file, int line,
                    const int *level_lines, const char *where)
{
	size_t before = errs->n;
	double lowest = NAN; /* the setpoint closest to normal */
	const char *lowest_name = "alarm";

	if (s->kind < 0)
		return 0;
	if (isnan(s->prealarm) && isnan(s->alarm) && isnan(s->high)) {
		conf_errors_add(errs, file, line,
		                _("%s: kind '%s' needs at least one of prealarm, alarm or high"),
		                where, kind_name(s->kind));
		return 1;
	}
	double order[3] = {s->prealarm, s->alarm, s->high};
	const char *names[3] = {"prealarm", "alarm", "high"};
	for (int i = 0; i < 3; i++) {
		if (isnan(order[i]))
			continue;
		if (isnan(lowest)) {
			lowest = order[i];
			lowest_name = names[i];
		}
		for (int j = i + 1; j < 3; j++) {
			if (isnan(order[j]))
				continue;
			bool bad = s->below ? order[j] > order[i] : order[j] < order[i];
			int at = !level_lines     ? line
			         : level_lines[j] ? level_lines[j]
			         : level_lines[i] ? level_lines[i]
			                          : line;
			if (bad)
				conf_errors_add(
				    errs, file, at,
				    _("%s: %s level %g is %s the %s level %g; the levels must "
				    "go %s from prealarm to alarm to high"),
				    where, names[j], order[j], s->below ? _("above") : _("below"),
				    names[i], order[i], s->below ? _("down") : _("up"));
		}
	}
	if (!isnan(s->clear) && !isnan(lowest) &&
	    (s->below ? s->clear < lowest : s->clear > lowest))
		conf_errors_add(errs, file, line,
		                _("%s: clear level %g is %s its %s level %g, so the condition could "
		                "never clear; set clear %s %g"),
		                where, s->clear, s->below ? _("below") : _("above"), lowest_name, lowest,
		                s->below ? _("at or above") : _("at or below"), lowest);
	if (s->hold_ms < 0 || s->clear_hold_ms < 0)
		conf_errors_add(errs, file, line, _("%s: hold times cannot be negative"), where);
	return (int)(errs->n - before);
}

static void setpoints_none(struct setpoints *s)
{
	s->kind = -1;
	s->prealarm = s->alarm = s->high = s->clear = NAN;
	s->below = false;
	s->hold_ms = 0;
	s->clear_hold_ms = 0;
}

static void profile_read_json_point(struct conf_parse *cp, cfg_t *sec, struct point *pt,
                                    const char *where)
{
	static const char *const jtypes[] = {"number", "bool", "string"};
	const char *ptr = cfg_getstr(sec, "pointer");
	const char *type = conf_parse_isset(cp, sec, "type") ? cfg_getstr(sec, "type") : "number";
	const char *modbus_only[] = {"function", "address", "word_order"};
	int v = -1;

	for (size_t i = 0; i < sizeof(modbus_only) / sizeof(modbus_only[0]); i++)
		if (conf_parse_isset(cp, sec, modbus_only[i]))
			conf_parse_error(cp, sec, modbus_only[i],
			                 _("%s: %s is for Modbus points; in an MQTT profile a point "
			                 "is found by pointer = \"/json/pointer\""),
			                 where, modbus_only[i]);
	pt->address = -1;
	pt->pointer = strdup(ptr ? ptr : "");
	if (!ptr)
		conf_parse_error(cp, sec, NULL,
		                 _("%s: pointer is required in an MQTT profile, e.g. pointer = "
		                 "\"/battery\""),
		                 where);
	else if (!mqtt_map_pointer_valid(ptr))
		conf_parse_error(cp, sec, "pointer",
		                 _("%s: pointer '%s' is not a JSON pointer (RFC 6901: \"/a/0/b\", "
		                 "'~0' for '~', '~1' for '/')"),
		                 where, ptr);
	for (int i = 0; i < 3; i++)
		if (strcmp(type, jtypes[i]) == 0)
			v = i;
	if (v < 0)
		conf_parse_error(cp, sec, "type",
		                 _("%s: type '%s' is not one of number, bool, string (in an MQTT "
		                 "profile)"),
		                 where, type);
	pt->jtype = v < 0 ? JV_NUMBER : (enum json_vtype)v;
}

static void profile_read_point(struct conf_parse *cp, struct profile *p, cfg_t *sec,
                               struct point *pt)
{
	char where[128];
	struct setpoints none;
	int v;

	pt->name = strdup(cfg_title(sec));
	snprintf(where, sizeof(where), _("point '%s'"), pt->name);
	pt->scale = cfg_getfloat(sec, "scale");
	pt->offset = cfg_getfloat(sec, "offset");
	if (pt->scale == 0)
		conf_parse_error(cp, sec, "scale", _("%s: scale 0 would read every value as 0"),
		                 where);
	pt->unit = strdup(cfg_getstr(sec, "unit"));
	pt->line = conf_parse_where(cp, sec, NULL).line;
	setpoints_none(&none);
	setpoints_read(cp, sec, &none, &pt->rule, where);
	if (p->mqtt.enabled) {
		profile_read_json_point(cp, sec, pt, where);
		return;
	}
	if (conf_parse_isset(cp, sec, "pointer"))
		conf_parse_error(cp, sec, "pointer",
		                 _("%s: pointer is for MQTT profiles (a profile with an mqtt "
		                 "section); a Modbus point has function and address"),
		                 where);
	v = point_fn_from(cfg_getstr(sec, "function"));
	if (v < 0)
		conf_parse_error(cp, sec, "function",
		                 _("%s: function '%s' is not one of holding, input, coil, discrete"),
		                 where, cfg_getstr(sec, "function"));
	pt->fn = v < 0 ? FN_HOLDING : (enum point_fn)v;
	pt->address = (int)cfg_getint(sec, "address");
	if (pt->address < 0 || pt->address > 65535)
		conf_parse_error(cp, sec, conf_parse_isset(cp, sec, "address") ? "address" : NULL,
		                 _("%s: address %d is outside 0-65535%s"), where, pt->address,
		                 conf_parse_isset(cp, sec, "address") ? ""
		                                                      : _(" (address is required)"));
	v = point_type_from(cfg_getstr(sec, "type"));
	if (v < 0)
		conf_parse_error(cp, sec, "type",
		                 _("%s: type '%s' is not one of u16, s16, u32, s32, f32"), where,
		                 cfg_getstr(sec, "type"));
	pt->type = v < 0 ? PT_U16 : (enum point_type)v;
	const char *wo = cfg_getstr(sec, "word_order");
	if (!wo)
		wo = "big";
	if (strcmp(wo, "big") != 0 && strcmp(wo, "little") != 0)
		conf_parse_error(cp, sec, "word_order", _("%s: word_order '%s' is not big or little"),
		                 where, wo);
	pt->word_swap = strcmp(wo, "little") == 0;
}

static void profile_read_status(struct conf_parse *cp, struct profile *p, cfg_t *sec,
                                struct status_bit *b)
{
	const char *point = cfg_getstr(sec, "point");
	const char *kind = cfg_getstr(sec, "kind");
	const char *channel = cfg_getstr(sec, "channel");
	int v;

	b->name = strdup(cfg_title(sec));
	b->point = strdup(point ? point : "");
	b->bit = (int)cfg_getint(sec, "bit");
	if (!point)
		conf_parse_error(cp, sec, NULL, _("status '%s': point is required"), b->name);
	else if (!profile_point(p, point))
		conf_parse_error(cp, sec, "point", _("status '%s': no point '%s' in this profile"),
		                 b->name, point);
	if (b->bit < 0 || b->bit > 31)
		conf_parse_error(cp, sec, conf_parse_isset(cp, sec, "bit") ? "bit" : NULL,
		                 _("status '%s': bit %d is outside 0-31"), b->name, b->bit);
	v = kind ? kind_from_name(kind) : -1;
	if (v < 0 && kind)
		conf_parse_error(cp, sec, "kind", _("status '%s': unknown hazard kind '%s'"), b->name,
		                 kind);
	else if (v < 0)
		conf_parse_error(cp, sec, NULL, _("status '%s': kind is required"), b->name);
	b->kind = v < 0 ? KIND_DEVICE_FAULT : (enum kind)v;
	v = level_from(cfg_getstr(sec, "level"));
	if (v < 0)
		conf_parse_error(cp, sec, "level",
		                 _("status '%s': level '%s' is not prealarm, alarm or high"), b->name,
		                 cfg_getstr(sec, "level"));
	b->level = v < 0 ? LEVEL_ALARM : (enum level)v;
	b->channel = strdup(channel ? channel : b->name);
	b->line = conf_parse_where(cp, sec, NULL).line;
}

static char *profile_pointer_opt(struct conf_parse *cp, cfg_t *sec, const char *opt)
{
	const char *v = cfg_getstr(sec, opt);

	if (v && !mqtt_map_pointer_valid(v))
		conf_parse_error(cp, sec, opt,
		                 _("mqtt: %s '%s' is not a JSON pointer (RFC 6901: \"/a/0/b\")"), opt,
		                 v);
	return v ? strdup(v) : NULL;
}

static void profile_read_mqtt(struct conf_parse *cp, struct profile *p, cfg_t *sec)
{
	struct mqtt_profile *m = &p->mqtt;
	long level = cfg_getint(sec, "key_level");

	m->nsubscribe = cfg_size(sec, "subscribe");
	m->subscribe = calloc(m->nsubscribe + 1, sizeof(*m->subscribe));
	for (size_t i = 0; m->subscribe && i < m->nsubscribe; i++) {
		const char *f = cfg_getnstr(sec, "subscribe", (unsigned)i);

		m->subscribe[i] = strdup(f);
		if (!mqtt_map_filter_valid(f))
			conf_parse_error(cp, sec, "subscribe",
			                 _("mqtt: subscribe '%s' is not a topic filter ('+' and '#' "
			                 "stand alone between slashes, '#' only last)"),
			                 f);
	}
	if (m->nsubscribe == 0)
		conf_parse_error(cp, sec, NULL,
		                 _("mqtt: subscribe is required, e.g. subscribe = {\"smoke/+/up\"}"));
	m->key_pointer = profile_pointer_opt(cp, sec, "key_pointer");
	m->event_pointer = profile_pointer_opt(cp, sec, "event");
	m->timestamp_pointer = profile_pointer_opt(cp, sec, "timestamp");
	m->channel = strdup(cfg_getstr(sec, "channel"));
	if (level < 0 || level > 32)
		conf_parse_error(cp, sec, "key_level", _("mqtt: key_level %ld is outside 1-32"),
		                 level);
	m->key_level = level < 0 || level > 32 ? 0 : (int)level;
	if ((m->key_level > 0) == (m->key_pointer != NULL))
		conf_parse_error(cp, sec, m->key_pointer ? "key_pointer" : NULL,
		                 _("mqtt: say where the device key is with key_level = N (the Nth "
		                 "topic level) or key_pointer = \"/json/field\", one of them"));
	for (size_t i = 0; m->subscribe && m->key_level > 0 && i < m->nsubscribe; i++)
		if (mqtt_map_topic_levels(m->subscribe[i]) < m->key_level &&
		    !strchr(m->subscribe[i], '#'))
			conf_parse_error(cp, sec, "key_level",
			                 _("mqtt: key_level %d is past the last level of subscribe "
			                 "'%s'"),
			                 m->key_level, m->subscribe[i]);
}

static int profile_kind_opt(struct conf_parse *cp, cfg_t *sec, const char *opt, const char *where)
{
	const char *v = cfg_getstr(sec, opt);
	int k;

	if (!v)
		return -1;
	k = kind_from_name(v);
	if (k < 0)
		conf_parse_error(cp, sec, opt, _("%s: %s: unknown hazard kind '%s'"), where, opt, v);
	return k;
}

static void profile_read_event(struct conf_parse *cp, struct profile *p, cfg_t *sec,
                               struct mqtt_event *e)
{
	char where[96];
	int v;

	e->code = strdup(cfg_title(sec));
	snprintf(where, sizeof(where), _("event '%s'"), e->code);
	e->line = conf_parse_where(cp, sec, NULL).line;
	e->raise = profile_kind_opt(cp, sec, "raise", where);
	e->silence = profile_kind_opt(cp, sec, "silence", where);
	e->test = profile_kind_opt(cp, sec, "test", where);
	v = level_from(cfg_getstr(sec, "level"));
	if (v < 0)
		conf_parse_error(cp, sec, "level", _("%s: level '%s' is not prealarm, alarm or high"),
		                 where, cfg_getstr(sec, "level"));
	e->level = v < 0 ? LEVEL_ALARM : (enum level)v;
	for (unsigned i = 0; i < cfg_size(sec, "clear"); i++) {
		const char *k = cfg_getnstr(sec, "clear", i);

		v = kind_from_name(k);
		if (v < 0)
			conf_parse_error(cp, sec, "clear", _("%s: clear: unknown hazard kind '%s'"),
			                 where, k);
		else
			e->clear |= 1u << v;
	}
	if ((e->raise >= 0) + (e->silence >= 0) + (e->test >= 0) > 1)
		conf_parse_error(cp, sec, NULL,
		                 _("%s: an event does one of raise, silence or test (clear may go "
		                 "with any)"),
		                 where);
	if (e->raise >= 0 && (e->clear >> e->raise) & 1u)
		conf_parse_error(cp, sec, "clear", _("%s: raises and clears %s at once"), where,
		                 kind_name((enum kind)e->raise));
	const char *ch = cfg_getstr(sec, "channel");
	/* A test goes on a channel of its own: a real alarm must never land on a test item. */
	e->channel = strdup(ch ? ch : e->test >= 0 ? "test" : p->mqtt.channel);
}

struct profile *profile_load(const char *dir, const char *name, struct conf_errors *errs)
{
	struct conf_parse cp;
	struct profile *p;
	char *path = NULL;
	size_t before = errs->n;

	if (!profile_schema_ready) {
		conf_parse_schema(profile_opts);
		profile_schema_ready = true;
	}
	if (strchr(name, '/') || name[0] == '.' || asprintf(&path, "%s/%s.conf", dir, name) < 0)
		return NULL;
	if (conf_parse_file(&cp, path, profile_opts, NULL, errs) != 0) {
		conf_parse_finish(&cp);
		free(path);
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		conf_parse_finish(&cp);
		free(path);
		return NULL;
	}
	p->name = strdup(name);
	p->file = path;
	p->description = strdup(cfg_getstr(cp.cfg, "description"));
	p->model = strdup(cfg_getstr(cp.cfg, "model"));
	p->max_block = (int)cfg_getint(cp.cfg, "max_block");
	cfg_t *msec = cfg_getsec(cp.cfg, "mqtt");
	p->mqtt.enabled = conf_parse_where(&cp, msec, NULL).line > 0;
	if (p->mqtt.enabled)
		profile_read_mqtt(&cp, p, msec);
	if (p->max_block < 1 || p->max_block > 125)
		conf_parse_error(&cp, cp.cfg, "max_block",
		                 _("max_block %d is outside 1-125 (the Modbus limit per request)"),
		                 p->max_block);
	p->npoints = cfg_size(cp.cfg, "point");
	p->points = calloc(p->npoints ? p->npoints : 1, sizeof(*p->points));
	for (size_t i = 0; p->points && i < p->npoints; i++)
		profile_read_point(&cp, p, cfg_getnsec(cp.cfg, "point", (unsigned)i),
		                   &p->points[i]);
	p->nbits = cfg_size(cp.cfg, "status");
	p->bits = calloc(p->nbits ? p->nbits : 1, sizeof(*p->bits));
	for (size_t i = 0; p->bits && i < p->nbits; i++)
		profile_read_status(&cp, p, cfg_getnsec(cp.cfg, "status", (unsigned)i),
		                    &p->bits[i]);
	size_t nev = cfg_size(cp.cfg, "event");
	if (nev && !p->mqtt.enabled)
		conf_parse_error(&cp, cfg_getnsec(cp.cfg, "event", 0), NULL,
		                 _("event '%s': event codes are for MQTT profiles; add an mqtt "
		                 "section"),
		                 cfg_title(cfg_getnsec(cp.cfg, "event", 0)));
	p->mqtt.events = calloc(nev + 1, sizeof(*p->mqtt.events));
	for (size_t i = 0; p->mqtt.enabled && p->mqtt.events && i < nev; i++) {
		profile_read_event(&cp, p, cfg_getnsec(cp.cfg, "event", (unsigned)i),
		                   &p->mqtt.events[i]);
		p->mqtt.nevents++;
	}
	if (nev && !p->mqtt.event_pointer && p->mqtt.enabled)
		conf_parse_error(&cp, msec, NULL,
		                 _("mqtt: the profile has an event table but no event = "
		                 "\"/json/pointer\" saying where the code is"));
	if (p->mqtt.event_pointer && nev == 0)
		conf_parse_error(&cp, msec, "event",
		                 _("mqtt: event is set but the profile has no event \"CODE\" { ... } "
		                 "table"));
	if (p->npoints == 0 && !p->mqtt.enabled)
		conf_errors_add(errs, path, 0, _("profile '%s' has no point"), name);
	if (p->npoints == 0 && p->mqtt.enabled && nev == 0)
		conf_errors_add(errs, path, 0, _("profile '%s' has no point and no event"), name);
	for (size_t i = 0; p->points && p->bits && i < p->nbits; i++) {
		const struct status_bit *b = &p->bits[i];
		const struct point *pt = profile_point(p, b->channel);

		/* One condition, one judge: the device's own bit or firegw's setpoints. */
		if (pt && pt->rule.kind == (int)b->kind)
			conf_errors_add(
			    errs, path, b->line,
			    _("status '%s' and point '%s' both decide %s on '%s'; keep the "
			    "setpoints or the status bit, not both"),
			    b->name, pt->name, kind_name(b->kind), b->channel);
	}
	conf_parse_finish(&cp);
	if (errs->n > before || !p->points || !p->bits || !p->mqtt.events ||
	    (p->mqtt.enabled && !p->mqtt.subscribe)) {
		profile_free(p);
		return NULL;
	}
	return p;
}
