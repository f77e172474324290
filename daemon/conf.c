/* SPDX-License-Identifier: MIT */
/* conf: schema, parse and checks of firegw.conf. */
#include "conf.h"
#include "conf_calendar.h"
#include "conf_platform.h"
#include "conf_policy.h"
#include "workday.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf_gbt26875.h"
#include "conf_parse.h"
#include "i18n.h"
#include "ledger.h"
#include "profile_load.h"
#include "firegw-config.h"
#include "secret.h"

static cfg_opt_t gateway_opts[] = {
    CFG_STR("id", NULL, CFGF_NONE),
    CFG_STR("data_dir", FIREGW_STATEDIR, CFGF_NONE),
    CFG_STR("profile_dir", FIREGW_PROFILEDIR, CFGF_NONE),
    CFG_STR("control_socket", "/run/firegw/control", CFGF_NONE),
    CFG_STR("log_level", "info", CFGF_NONE),
    CFG_STR("language", "", CFGF_NONE),
    CFG_STR("watchdog", "0", CFGF_NONE),
    CFG_END(),
};

static cfg_opt_t site_opts[] = {
    CFG_STR("county", "", CFGF_NONE),
    CFG_STR("town", "", CFGF_NONE),
    CFG_STR("village", "", CFGF_NONE),
    CFG_STR("unit", "", CFGF_NONE),
    CFG_STR("address", "", CFGF_NONE),
    CFG_STR("responsible", "", CFGF_NONE),
    CFG_STR("responsible_phone", "", CFGF_NONE),
    CFG_STR("acceptor", "", CFGF_NONE),
    CFG_STR("acceptor_phone", "", CFGF_NONE),
    CFG_END(),
};

static cfg_opt_t bus_opts[] = {
    CFG_STR("type", NULL, CFGF_NONE),
    CFG_STR("port", NULL, CFGF_NONE),
    CFG_INT("baud", 9600, CFGF_NONE),
    CFG_STR("parity", "none", CFGF_NONE),
    CFG_INT("data_bits", 8, CFGF_NONE),
    CFG_INT("stop_bits", 1, CFGF_NONE),
    CFG_BOOL("rs485", cfg_false, CFGF_NONE),
    CFG_STR("frame_delay", "0", CFGF_NONE),
    CFG_STR("host", NULL, CFGF_NONE),
    CFG_INT("tcp_port", 502, CFGF_NONE),
    CFG_STR("connect_timeout", "3s", CFGF_NONE),
    CFG_END(),
};

static cfg_opt_t setpoint_opts[] = {
    CFG_STR("kind", NULL, CFGF_NONE),
    CFG_FLOAT("prealarm", 0, CFGF_NONE),
    CFG_FLOAT("alarm", 0, CFGF_NONE),
    CFG_FLOAT("high", 0, CFGF_NONE),
    CFG_FLOAT("clear", 0, CFGF_NONE),
    CFG_BOOL("below", cfg_false, CFGF_NONE),
    CFG_STR("hold", NULL, CFGF_NONE),
    CFG_STR("clear_hold", NULL, CFGF_NONE),
    CFG_END(),
};

static cfg_opt_t device_opts[] = {
    CFG_STR("bus", NULL, CFGF_NONE),
    CFG_INT("unit", 1, CFGF_NONE),
    CFG_STR("key", NULL, CFGF_NONE),
    CFG_STR("profile", NULL, CFGF_NONE),
    CFG_STR("location", "", CFGF_NONE),
    CFG_STR("model", "", CFGF_NONE),
    CFG_STR("interval", "5s", CFGF_NONE),
    CFG_STR("timeout", "500ms", CFGF_NONE),
    CFG_INT("retries", 1, CFGF_NONE),
    CFG_INT("offline_after", 3, CFGF_NONE),
    CFG_STR("heartbeat_timeout", "30m", CFGF_NONE),
    CFG_SEC("setpoint", setpoint_opts, CFGF_MULTI | CFGF_TITLE),
    CFG_END(),
};

static cfg_opt_t mqtt_opts[] = {
    CFG_STR("host", "127.0.0.1", CFGF_NONE),
    CFG_INT("port", 1883, CFGF_NONE),
    CFG_STR("client_id", NULL, CFGF_NONE),
    CFG_STR("username", NULL, CFGF_NONE),
    CFG_STR("password_file", NULL, CFGF_NONE),
    CFG_BOOL("tls", cfg_false, CFGF_NONE),
    CFG_STR("ca_file", NULL, CFGF_NONE),
    CFG_STR("cert_file", NULL, CFGF_NONE),
    CFG_STR("key_file", NULL, CFGF_NONE),
    CFG_STR("keepalive", "60s", CFGF_NONE),
    CFG_END(),
};

/* How long the ledger keeps the history of closed, delivered items, and its size cap. */
static cfg_opt_t retention_opts[] = {
    CFG_INT("keep_months", 24, CFGF_NONE),
    CFG_INT("max_size_mb", 1024, CFGF_NONE),
    CFG_END(),
};

static cfg_opt_t root_opts[] = {
    CFG_SEC("gateway", gateway_opts, CFGF_NONE),
    CFG_SEC("site", site_opts, CFGF_NONE),
    CFG_SEC("policy", conf_policy_opts, CFGF_NONE),
    CFG_SEC("bus", bus_opts, CFGF_MULTI | CFGF_TITLE),
    CFG_SEC("device", device_opts, CFGF_MULTI | CFGF_TITLE),
    /* Each `platform "name" { }` a destination; `platform { }` (read as platform_unnamed,
     * conf_parse_file) is the one named "platform", and merges when written twice. */
    CFG_SEC("platform", conf_platform_opts, CFGF_MULTI | CFGF_TITLE),
    CFG_SEC("platform_unnamed", conf_platform_opts, CFGF_NONE),
    CFG_SEC("mqtt", mqtt_opts, CFGF_NONE),
    CFG_SEC("calendar", conf_calendar_opts, CFGF_MULTI | CFGF_TITLE),
    CFG_SEC("retention", retention_opts, CFGF_NONE),
    CFG_END(),
};

static void conf_schema_init(void)
{
	static bool done;

	if (done)
		return;
	conf_policy_schema_init();
	conf_parse_schema(root_opts);
	done = true;
}


static char *dupstr(const char *s)
{
	return s ? strdup(s) : NULL;
}

static bool valid_id(const char *s)
{
	if (!s || !*s || strlen(s) > 48)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
			return false;
	return true;
}

/* "zh_CN", "en", "zh": what gettext's LANGUAGE takes. */
static bool conf_language_valid(const char *s)
{
	size_t n = strlen(s);

	return (n == 2 || (n == 5 && s[2] == '_' && isupper((unsigned char)s[3]) &&
	                   isupper((unsigned char)s[4]))) &&
	       islower((unsigned char)s[0]) && islower((unsigned char)s[1]);
}

static void conf_read_gateway(struct conf_parse *p, struct conf *c)
{
	cfg_t *g = cfg_getsec(p->cfg, "gateway");
	const char *lvl;

	c->gateway_id = dupstr(cfg_getstr(g, "id"));
	if (!c->gateway_id)
		conf_parse_error(p, g, NULL,
		                 _("gateway: id is required (the platform knows this gateway by it), "
		                 "e.g. id = \"ZW-0001\""));
	else if (!*c->gateway_id) /* the shipped template: id = "" until the installer sets it */
		conf_parse_error(p, g, "id",
		                 _("gateway: id is empty: write the id the county platform gave this "
		                 "gateway, e.g. id = \"ZW-0001\""));
	else if (!valid_id(c->gateway_id))
		conf_parse_error(p, g, "id",
		                 _("gateway: id '%s' may only hold letters, digits, '-', '_' and '.' "
		                 "(at most 48)"),
		                 c->gateway_id);
	c->data_dir = conf_parse_path(p, g, "data_dir");
	c->profile_dir = conf_parse_path(p, g, "profile_dir");
	c->control_socket = conf_parse_path(p, g, "control_socket");
	lvl = cfg_getstr(g, "log_level");
	if (!lvl)
		lvl = "info";
	if (strcmp(lvl, "error") && strcmp(lvl, "warning") && strcmp(lvl, "notice") &&
	    strcmp(lvl, "info") && strcmp(lvl, "debug"))
		conf_parse_error(
		    p, g, "log_level",
		    _("gateway: log_level '%s' is not one of error, warning, notice, info, "
		    "debug"),
		    lvl);
	c->log_level = strdup(lvl);
	c->language = strdup(cfg_getstr(g, "language"));
	if (c->language && *c->language && !conf_language_valid(c->language))
		conf_parse_error(p, g, "language",
		                 _("gateway: language '%s' is not a language name such as \"zh_CN\" "
		                   "or \"en\" (empty: the locale's)"),
		                 c->language);
	c->watchdog_ms = conf_parse_duration_opt(p, g, "watchdog", 0);
}

static void conf_read_retention(struct conf_parse *p, struct conf *c)
{
	cfg_t *s = cfg_getsec(p->cfg, "retention");
	long months = cfg_getint(s, "keep_months"), mb = cfg_getint(s, "max_size_mb");

	if (months < 1 || months > 600)
		conf_parse_error(
		    p, s, "keep_months",
		    "retention: keep_months must be 1 to 600 (the county's archive rule; "
		    "default 24)");
	if (mb != 0 && (mb < 16 || mb > 1024 * 1024))
		conf_parse_error(p, s, "max_size_mb",
		                 _("retention: max_size_mb must be 0 (no cap) or 16 to 1048576"));
	c->retention.keep_months = (int)months;
	c->retention.max_bytes = (int64_t)mb * 1024 * 1024;
}

static void conf_read_site(struct conf_parse *p, struct conf *c)
{
	cfg_t *s = cfg_getsec(p->cfg, "site");
	struct site_conf *x = &c->site;

	x->county = strdup(cfg_getstr(s, "county"));
	x->town = strdup(cfg_getstr(s, "town"));
	x->village = strdup(cfg_getstr(s, "village"));
	x->unit = strdup(cfg_getstr(s, "unit"));
	x->address = strdup(cfg_getstr(s, "address"));
	x->responsible = strdup(cfg_getstr(s, "responsible"));
	x->responsible_phone = strdup(cfg_getstr(s, "responsible_phone"));
	x->acceptor = strdup(cfg_getstr(s, "acceptor"));
	x->acceptor_phone = strdup(cfg_getstr(s, "acceptor_phone"));
	/* Not refused (a gateway on the bench has no site yet), but every hazard names them. */
	struct conf_line w = conf_parse_where(p, s, NULL);
	if (w.line == 0) {
		conf_errors_warn(p->errs, p->src.nfiles ? p->src.files[0] : c->path, 0,
		                 _("no site section: hazards reach the platform without the site's "
		                   "address, responsible person and acceptor; add site { county = \"...\" "
		                   "address = \"...\" responsible = \"...\" acceptor = \"...\" }"));
		return;
	}
	if (x->responsible && !*x->responsible) {
		w = conf_parse_where(p, s, conf_parse_isset(p, s, "responsible") ? "responsible" : NULL);
		conf_errors_warn(p->errs, w.file, w.line,
		                 _("site: responsible (消防安全责任人) is empty: every hazard names the "
		                   "person answerable for the building; write their name"));
	}
	if (x->acceptor && !*x->acceptor) {
		w = conf_parse_where(p, s, conf_parse_isset(p, s, "acceptor") ? "acceptor" : NULL);
		conf_errors_warn(p->errs, w.file, w.line,
		                 _("site: acceptor (验收人) is empty: write the name of the person who "
		                   "accepts a rectification"));
	}
}

bool conf_baud_valid(long b)
{
	static const long rates[] = {1200,  2400,  4800,   9600,   14400,  19200,
	                             38400, 57600, 115200, 230400, 460800, 921600};

	for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++)
		if (b == rates[i])
			return true;
	return false;
}

static void conf_read_bus(struct conf_parse *p, cfg_t *sec, struct bus_conf *b)
{
	const char *type = cfg_getstr(sec, "type");
	const char *par = cfg_getstr(sec, "parity");
	struct conf_line w = conf_parse_where(p, sec, NULL);

	b->name = strdup(cfg_title(sec));
	b->file = strdup(w.file ? w.file : "?");
	b->line = w.line;
	if (!valid_id(b->name))
		conf_parse_error(p, sec, NULL,
		                 _("bus '%s': a name may only hold letters, digits, '-', '_' and '.'"),
		                 b->name);
	if (!type)
		conf_parse_error(p, sec, NULL, _("bus '%s': type is required: \"rtu\" or \"tcp\""),
		                 b->name);
	else if (strcmp(type, "rtu") && strcmp(type, "tcp"))
		conf_parse_error(p, sec, "type", _("bus '%s': type '%s' is not \"rtu\" or \"tcp\""),
		                 b->name, type);
	b->type = type && strcmp(type, "tcp") == 0 ? BUS_TCP : BUS_RTU;
	b->port = dupstr(cfg_getstr(sec, "port"));
	b->host = dupstr(cfg_getstr(sec, "host"));
	b->baud = (int)cfg_getint(sec, "baud");
	b->data_bits = conf_parse_int(sec, "data_bits");
	b->stop_bits = conf_parse_int(sec, "stop_bits");
	b->rs485 = cfg_getbool(sec, "rs485");
	b->tcp_port = conf_parse_int(sec, "tcp_port");
	b->frame_delay_ms = conf_parse_duration_opt(p, sec, "frame_delay", 0);
	b->connect_timeout_ms = conf_parse_duration_opt(p, sec, "connect_timeout", 3000);
	if (b->type == BUS_RTU) {
		if (!b->port)
			conf_parse_error(
			    p, sec, NULL,
			    _("bus '%s': an rtu bus needs port, e.g. port = \"/dev/ttyS1\""), b->name);
		if (!conf_baud_valid(cfg_getint(sec, "baud")))
			conf_parse_error(
			    p, sec, "baud",
			    _("bus '%s': baud %ld is not a standard rate (1200, 2400, 4800, "
			    "9600, 19200, 38400, 57600, 115200, ...)"),
			    b->name, cfg_getint(sec, "baud"));
		if (!strcmp(par, "none") || !strcmp(par, "N"))
			b->parity = 'N';
		else if (!strcmp(par, "even") || !strcmp(par, "E"))
			b->parity = 'E';
		else if (!strcmp(par, "odd") || !strcmp(par, "O"))
			b->parity = 'O';
		else
			conf_parse_error(p, sec, "parity",
			                 _("bus '%s': parity '%s' is not none, even or odd"), b->name,
			                 par);
		if (b->data_bits < 5 || b->data_bits > 8)
			conf_parse_error(p, sec, "data_bits", _("bus '%s': data_bits %ld is not 5-8"),
			                 b->name, cfg_getint(sec, "data_bits"));
		if (b->stop_bits != 1 && b->stop_bits != 2)
			conf_parse_error(p, sec, "stop_bits",
			                 _("bus '%s': stop_bits %d is not 1 or 2"), b->name,
			                 b->stop_bits);
		if (b->host)
			conf_parse_error(p, sec, "host",
			                 _("bus '%s': host is for tcp buses; this one is rtu"),
			                 b->name);
	} else if (type) {
		if (!b->host)
			conf_parse_error(
			    p, sec, NULL,
			    _("bus '%s': a tcp bus needs host, e.g. host = \"192.168.1.20\""),
			    b->name);
		if (b->tcp_port < 1 || b->tcp_port > 65535)
			conf_parse_error(p, sec, "tcp_port",
			                 _("bus '%s': tcp_port %ld is not 1-65535"), b->name,
			                 cfg_getint(sec, "tcp_port"));
		if (b->port)
			conf_parse_error(p, sec, "port",
			                 _("bus '%s': port is for rtu buses; a tcp bus uses host and "
			                 "tcp_port"),
			                 b->name);
	}
}

static const struct profile *conf_profile(struct conf *c, const char *name,
                                          struct conf_errors *errs)
{
	for (size_t i = 0; i < c->nprofiles; i++)
		if (strcmp(c->profiles[i]->name, name) == 0)
			return c->profiles[i];
	for (size_t i = 0; i < c->nbad_profiles; i++)
		if (strcmp(c->bad_profiles[i], name) == 0)
			return NULL;
	struct profile *p = profile_load(c->profile_dir, name, errs);
	if (!p) {
		char **bad = realloc(c->bad_profiles, (c->nbad_profiles + 1) * sizeof(*bad));

		if (bad) {
			c->bad_profiles = bad;
			c->bad_profiles[c->nbad_profiles++] = strdup(name);
		}
		return NULL;
	}
	struct profile **ps = realloc(c->profiles, (c->nprofiles + 1) * sizeof(*ps));
	if (!ps) {
		profile_free(p);
		return NULL;
	}
	c->profiles = ps;
	c->profiles[c->nprofiles++] = p;
	return p;
}

static void conf_read_device(struct conf_parse *p, struct conf *c, cfg_t *sec,
                             struct device_conf *d, struct conf_errors *errs)
{
	struct conf_line w = conf_parse_where(p, sec, NULL);
	char where[160];

	d->id = strdup(cfg_title(sec));
	d->file = strdup(w.file ? w.file : "?");
	d->line = w.line;
	snprintf(where, sizeof(where), _("device '%s'"), d->id);
	if (!valid_id(d->id))
		conf_parse_error(
		    p, sec, NULL,
		    _("%s: an id may only hold letters, digits, '-', '_' and '.' (at most "
		    "48)"),
		    where);
	d->bus = dupstr(cfg_getstr(sec, "bus"));
	d->key = dupstr(cfg_getstr(sec, "key"));
	d->profile = dupstr(cfg_getstr(sec, "profile"));
	d->location = strdup(cfg_getstr(sec, "location"));
	d->model = strdup(cfg_getstr(sec, "model"));
	d->retries = conf_parse_int(sec, "retries");
	d->offline_after = conf_parse_int(sec, "offline_after");
	d->interval_ms = conf_parse_duration_opt(p, sec, "interval", 5000);
	d->timeout_ms = conf_parse_duration_opt(p, sec, "timeout", 500);
	d->heartbeat_timeout_ms = conf_parse_duration_opt(p, sec, "heartbeat_timeout", 1800000);

	if (d->bus && d->key)
		conf_parse_error(p, sec, "key",
		                 _("%s: has both bus (Modbus) and key (MQTT); a device is one or the "
		                 "other"),
		                 where);
	if (!d->bus && !d->key)
		conf_parse_error(p, sec, NULL,
		                 _("%s: needs bus = \"NAME\" (Modbus) or key = \"ID\" (MQTT)"), where);
	if (d->bus) {
		long unit = cfg_getint(sec, "unit");

		for (size_t i = 0; i < c->nbuses; i++)
			if (strcmp(c->buses[i].name, d->bus) == 0)
				d->busp = &c->buses[i];
		if (!d->busp)
			conf_parse_error(p, sec, "bus", _("%s: unknown bus '%s'%s"), where, d->bus,
			                 c->nbuses ? "" : " (no bus is defined)");
		if (unit < 1 || unit > 247)
			conf_parse_error(
			    p, sec, "unit",
			    _("%s: unit id %ld is outside 1-247 (0 is broadcast, 248-255 "
			    "are reserved)"),
			    where, unit);
		d->unit = (int)unit;
	}
	if (d->key && d->heartbeat_timeout_ms == 0)
		conf_parse_error(p, sec, "heartbeat_timeout",
		                 _("%s: heartbeat_timeout must be longer than 0"), where);
	if (d->interval_ms == 0)
		conf_parse_error(p, sec, "interval", _("%s: interval must be longer than 0"), where);
	if (d->timeout_ms == 0)
		conf_parse_error(p, sec, "timeout", _("%s: timeout must be longer than 0"), where);
	if (d->retries < 0 || d->retries > 10)
		conf_parse_error(p, sec, "retries", _("%s: retries %ld is outside 0-10"), where,
		                 cfg_getint(sec, "retries"));
	if (d->offline_after < 1 || d->offline_after > 100)
		conf_parse_error(p, sec, "offline_after", _("%s: offline_after %ld is outside 1-100"),
		                 where, cfg_getint(sec, "offline_after"));
	if (!d->profile) {
		conf_parse_error(p, sec, NULL, _("%s: profile is required, e.g. profile = \"rcd-4t\""),
		                 where);
		return;
	}
	if (strchr(d->profile, '/') || d->profile[0] == '.' || d->profile[0] == '\0') {
		conf_parse_error(
		    p, sec, "profile",
		    _("%s: profile '%s' is a name, not a path; profiles are looked up in "
		    "profile_dir (%s)"),
		    where, d->profile, c->profile_dir);
		return;
	}
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s.conf", c->profile_dir, d->profile);
	if (access(path, R_OK) != 0) {
		conf_parse_error(p, sec, "profile", _("%s: unknown profile '%s' (%s: %s)"), where,
		                 d->profile, path, strerror(errno));
		return;
	}
	d->prof = conf_profile(c, d->profile, errs);
	if (!d->prof)
		return; /* its own errors are reported once, with their lines */
	if (d->key && !d->bus && !d->prof->mqtt.enabled)
		conf_parse_error(
		    p, sec, "profile",
		    _("%s: profile '%s' is a Modbus profile, but the device reports over "
		    "MQTT (key); use an MQTT profile (one with an mqtt section, e.g. "
		    "smoke-json)"),
		    where, d->profile);
	if (d->bus && !d->key && d->prof->mqtt.enabled)
		conf_parse_error(p, sec, "profile",
		                 _("%s: profile '%s' is an MQTT profile, but the device is on a "
		                 "Modbus bus; give it key = \"...\" instead of bus, or a Modbus "
		                 "profile"),
		                 where, d->profile);
	d->rules = calloc(d->prof->npoints ? d->prof->npoints : 1, sizeof(*d->rules));
	if (!d->rules)
		return;
	for (size_t i = 0; i < d->prof->npoints; i++)
		d->rules[i] = d->prof->points[i].rule;
	for (unsigned i = 0; i < cfg_size(sec, "setpoint"); i++) {
		cfg_t *sp = cfg_getnsec(sec, "setpoint", i);
		const char *pname = cfg_title(sp);
		const struct point *pt = profile_point(d->prof, pname);
		char spwhere[256];

		if (!pt) {
			conf_parse_error(p, sp, NULL, _("%s: profile '%s' has no point '%s'"), where,
			                 d->profile, pname);
			continue;
		}
		snprintf(spwhere, sizeof(spwhere), _("%s setpoint '%s'"), where, pname);
		size_t idx = (size_t)(pt - d->prof->points);
		if (setpoints_read(p, sp, &pt->rule, &d->rules[idx], spwhere) > 0)
			continue;
		struct conf_line w2 = conf_parse_where(p, sp, NULL);
		if (d->rules[idx].kind < 0) {
			conf_errors_add(errs, w2.file, w2.line,
			                _("%s: point '%s' of profile '%s' has no rule; add kind = "
			                "\"...\" to judge it"),
			                spwhere, pname, d->profile);
			continue;
		}
		char who[200];
		snprintf(who, sizeof(who), "%s: ", where);
		profile_check_judges(d->prof, pt, &d->rules[idx], errs, w2.file, w2.line, who);
	}
}

static void conf_read_mqtt(struct conf_parse *p, struct conf *c)
{
	cfg_t *s = cfg_getsec(p->cfg, "mqtt");
	struct mqtt_conf *x = &c->mqtt;

	x->enabled = conf_parse_where(p, s, NULL).line > 0; /* the section is written */
	x->host = strdup(cfg_getstr(s, "host"));
	x->port = conf_parse_int(s, "port");
	x->client_id = dupstr(cfg_getstr(s, "client_id"));
	x->username = dupstr(cfg_getstr(s, "username"));
	x->password_file = conf_parse_path(p, s, "password_file");
	x->tls = cfg_getbool(s, "tls");
	x->ca_file = conf_parse_path(p, s, "ca_file");
	x->cert_file = conf_parse_path(p, s, "cert_file");
	x->key_file = conf_parse_path(p, s, "key_file");
	conf_parse_secret_file(p, s, "mqtt", "password_file", x->password_file, N_("password"));
	conf_parse_secret_file(p, s, "mqtt", "key_file", x->key_file, N_("private key"));
	conf_parse_trusted_file(p, s, "mqtt", "ca_file", x->ca_file);
	x->keepalive_ms = conf_parse_duration_opt(p, s, "keepalive", 60000);
	if (x->port < 1 || x->port > 65535)
		conf_parse_error(p, s, "port", _("mqtt: port %ld is not 1-65535"),
		                 cfg_getint(s, "port"));
	if ((x->cert_file == NULL) != (x->key_file == NULL))
		conf_parse_error(p, s, x->cert_file ? "cert_file" : "key_file",
		                 _("mqtt: cert_file and key_file go together"));
	if (!x->tls && (x->ca_file || x->cert_file))
		conf_parse_error(p, s, x->ca_file ? "ca_file" : "cert_file",
		                 _("mqtt: %s is for TLS; add tls = true"),
		                 x->ca_file ? "ca_file" : "cert_file");
	if (x->keepalive_ms < 5000 || x->keepalive_ms > 65535000)
		conf_parse_error(p, s, "keepalive", _("mqtt: keepalive must be 5s to 65535s"));
}

static void conf_check_cross(struct conf_parse *p, struct conf *c, cfg_t **dev_secs)
{
	/* Two devices on one bus with one unit id would answer each other's polls. */
	for (size_t i = 0; i < c->ndevices; i++) {
		for (size_t j = 0; j < i; j++) {
			struct device_conf *a = &c->devices[j], *b = &c->devices[i];

			if (a->bus && b->bus && strcmp(a->bus, b->bus) == 0 && a->unit == b->unit)
				conf_parse_error(p, dev_secs[i], "unit",
				                 _("device '%s': unit id %d on bus '%s' is already "
				                 "used by device '%s' (%s:%d)"),
				                 b->id, b->unit, b->bus, a->id, a->file, a->line);
			if (a->key && b->key && strcmp(a->key, b->key) == 0)
				conf_parse_error(p, dev_secs[i], "key",
				                 _("device '%s': key '%s' is already used by device "
				                 "'%s' (%s:%d)"),
				                 b->id, b->key, a->id, a->file, a->line);
		}
	}
}

/* Whether a device of that id is configured (every id is, before the devices are read). */
static bool conf_device_known(const void *ctx, const char *id)
{
	const struct conf *c = ctx;

	return !c->devices || conf_device(c, id) != NULL;
}

struct conf *conf_load(const char *path, struct conf_errors *errs)
{
	struct conf_parse p;
	struct conf *c;
	size_t before = errs->n;

	conf_schema_init();
	if (conf_parse_file(&p, path, root_opts, "platform", errs) != 0) {
		conf_parse_finish(&p);
		conf_errors_sort(errs, before);
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		conf_parse_finish(&p);
		return NULL;
	}
	c->path = strdup(path);
	conf_read_gateway(&p, c);
	conf_read_site(&p, c);
	conf_read_retention(&p, c);
	conf_policy_read(&p, &c->policy);
	c->calendar = conf_calendar_read(&p, &c->policy);
	c->nbuses = cfg_size(p.cfg, "bus");
	c->buses = calloc(c->nbuses + 1, sizeof(*c->buses));
	for (size_t i = 0; c->buses && i < c->nbuses; i++)
		conf_read_bus(&p, cfg_getnsec(p.cfg, "bus", (unsigned)i), &c->buses[i]);
	c->ndevices = cfg_size(p.cfg, "device");
	c->devices = calloc(c->ndevices + 1, sizeof(*c->devices));
	cfg_t **dev_secs = calloc(c->ndevices + 1, sizeof(*dev_secs));
	for (size_t i = 0; c->devices && dev_secs && i < c->ndevices; i++) {
		dev_secs[i] = cfg_getnsec(p.cfg, "device", (unsigned)i);
		conf_read_device(&p, c, dev_secs[i], &c->devices[i], errs);
	}
	if (c->devices && dev_secs)
		conf_check_cross(&p, c, dev_secs);
	free(dev_secs);
	c->platforms = conf_platform_read(&p, conf_device_known, c, &c->nplatforms);
	conf_read_mqtt(&p, c);
	conf_parse_finish(&p);
	conf_errors_sort(errs, before);
	if (errs->n > before || !c->buses || !c->devices) {
		conf_free(c);
		return NULL;
	}
	return c;
}

const struct device_conf *conf_device(const struct conf *c, const char *id)
{
	for (size_t i = 0; i < c->ndevices; i++)
		if (strcmp(c->devices[i].id, id) == 0)
			return &c->devices[i];
	return NULL;
}

void conf_free(struct conf *c)
{
	if (!c)
		return;
	workday_cal_free(c->calendar);
	for (size_t i = 0; c->buses && i < c->nbuses; i++) {
		free(c->buses[i].name);
		free(c->buses[i].port);
		free(c->buses[i].host);
		free(c->buses[i].file);
	}
	free(c->buses);
	for (size_t i = 0; c->devices && i < c->ndevices; i++) {
		struct device_conf *d = &c->devices[i];

		free(d->id);
		free(d->bus);
		free(d->key);
		free(d->profile);
		free(d->location);
		free(d->model);
		free(d->rules);
		free(d->file);
	}
	free(c->devices);
	for (size_t i = 0; i < c->nprofiles; i++)
		profile_free(c->profiles[i]);
	free(c->profiles);
	for (size_t i = 0; i < c->nbad_profiles; i++)
		free(c->bad_profiles[i]);
	free(c->bad_profiles);
	struct site_conf *s = &c->site;
	free(s->county);
	free(s->town);
	free(s->village);
	free(s->unit);
	free(s->address);
	free(s->responsible);
	free(s->responsible_phone);
	free(s->acceptor);
	free(s->acceptor_phone);
	for (size_t i = 0; c->platforms && i < c->nplatforms; i++) {
		struct platform_conf *pl = &c->platforms[i];

		free(pl->name);
		free(pl->transport);
		free(pl->url);
		free(pl->token_file);
		free(pl->ca_file);
		free(pl->cert_file);
		free(pl->key_file);
		free(pl->pin);
		free(pl->topic_prefix);
		free(pl->username);
		free(pl->password_file);
		free(pl->mqtt_host);
		conf_gbt26875_free(pl->gbt);
	}
	free(c->platforms);
	struct mqtt_conf *m = &c->mqtt;
	free(m->host);
	free(m->client_id);
	free(m->username);
	free(m->password_file);
	free(m->ca_file);
	free(m->cert_file);
	free(m->key_file);
	free(c->path);
	free(c->gateway_id);
	free(c->data_dir);
	free(c->profile_dir);
	free(c->control_socket);
	free(c->log_level);
	free(c->language);
	free(c);
}
