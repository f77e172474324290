/* SPDX-License-Identifier: MIT */
/* conf_gbt26875: the keys of a GB/T 26875.3 destination block, their checks and defaults. */
#include "conf_gbt26875.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "i18n.h"

cfg_opt_t conf_gbt26875_device_opts[] = {
    CFG_INT("system_type", -1, CFGF_NONE),
    CFG_INT("system_address", -1, CFGF_NONE),
    CFG_INT("component_type", -1, CFGF_NONE),
    CFG_INT("loop", -1, CFGF_NONE),
    CFG_END(),
};

/* The keys only this transport reads (a device block inside is checked apart). */
static const char *const conf_gbt26875_keys[] = {
    "host",        "port",           "source_address", "centre_address",
    "answer_timeout", "tries",       "deny_limit",     "system_type",    "system_address",
    "apply_clock_sync", "pre_alarm", "residual_current_analog_type",
};

/* The keys of the other transports that mean nothing here: refused, not ignored. */
static const char *const conf_gbt26875_foreign[] = {
    "token_file", "ca_file", "cert_file", "key_file", "pin", "batch", "timeout", "topic_prefix",
};

bool conf_gbt26875_isset(const struct conf_parse *p, const cfg_t *s)
{
	return conf_parse_isset(p, s, "url") || conf_parse_isset(p, s, "host");
}

void conf_gbt26875_refuse(struct conf_parse *p, cfg_t *s, const char *label)
{
	for (size_t i = 0; i < sizeof(conf_gbt26875_keys) / sizeof(*conf_gbt26875_keys); i++)
		if (conf_parse_isset(p, s, conf_gbt26875_keys[i]))
			conf_parse_error(p, s, conf_gbt26875_keys[i],
			                 _("%s: %s is for transport = \"gbt26875\"; remove it"),
			                 label, conf_gbt26875_keys[i]);
	if (cfg_size(s, "device") > 0)
		conf_parse_error(p, cfg_getnsec(s, "device", 0), NULL,
		                 _("%s: a device block is for transport = \"gbt26875\"; remove it"),
		                 label);
}

/* A 48-bit address, decimal or 0x hex; false if it is not one. */
static bool conf_gbt26875_address(const char *v, uint64_t *out)
{
	char *end = NULL;

	if (!v || !*v || *v == '-')
		return false;
	errno = 0;
	unsigned long long a = strtoull(v, &end, 0);
	if (errno || *end || a > 0xFFFFFFFFFFFFull)
		return false;
	*out = a;
	return true;
}

/* An integer option within lo..hi (or -1 when `dflt_ok` and unset); reports it otherwise. */
static int conf_gbt26875_int(struct conf_parse *p, cfg_t *s, const char *opt, long lo, long hi,
                             const char *label)
{
	long v = cfg_getint(s, opt);

	if (v == -1 && !conf_parse_isset(p, s, opt))
		return -1;
	if (v < lo || v > hi) {
		conf_parse_error(p, s, opt, _("%s: %s %ld is outside %ld-%ld"), label, opt, v, lo, hi);
		return -1;
	}
	return (int)v;
}

/* url = "gbt26875://host:port" (or host and port written apart). */
static void conf_gbt26875_url(struct conf_parse *p, cfg_t *s, const char *label,
                              const char *u, struct conf_gbt26875 *g)
{
	const char *host, *colon;
	char *end = NULL;

	if (conf_parse_isset(p, s, "host")) {
		g->host = strdup(cfg_getstr(s, "host"));
		g->port = (int)cfg_getint(s, "port");
		if (u)
			conf_parse_error(p, s, "url", _("%s: write either url or host and port, not both"),
			                 label);
	} else if (u && strncmp(u, "gbt26875://", 11) == 0) {
		host = u + 11;
		colon = strrchr(host, ':');
		if (colon) {
			errno = 0;
			long port = strtol(colon + 1, &end, 10);
			g->host = strndup(host, (size_t)(colon - host));
			g->port = errno || end == colon + 1 || (*end && strcmp(end, "/")) ||
			                  port < 1 || port > 65535
			              ? -1
			              : (int)port;
		} else {
			g->host = strdup(host);
			g->port = -1; /* the standard has no port: it must be written */
		}
	} else if (u) {
		conf_parse_error(p, s, "url",
		                 _("%s: url '%s' must be gbt26875://host:port with transport = "
		                   "\"gbt26875\" (or write host and port)"),
		                 label, u);
		return;
	}
	if (!g->host || !*g->host || strcspn(g->host, "/?#@[] ") != strlen(g->host))
		conf_parse_error(p, s, conf_parse_isset(p, s, "host") ? "host" : "url",
		                 _("%s: the monitoring centre's host is missing or not a host name; "
		                   "write url = \"gbt26875://centre.example.cn:9000\""),
		                 label);
	else if (g->port < 1 || g->port > 65535)
		conf_parse_error(p, s, conf_parse_isset(p, s, "host") ? "port" : "url",
		                 _("%s: the monitoring centre's port must be 1-65535 (the standard "
		                   "names none: ask the centre)"),
		                 label);
}

static void conf_gbt26875_devices(struct conf_parse *p, cfg_t *s, const char *label,
                                  conf_gbt26875_device_fn known, const void *ctx,
                                  struct conf_gbt26875 *g)
{
	size_t n = cfg_size(s, "device");

	g->devs = calloc(n + 1, sizeof(*g->devs));
	if (!g->devs)
		return;
	for (size_t i = 0; i < n; i++) {
		cfg_t *ds = cfg_getnsec(s, "device", (unsigned)i);
		struct conf_gbt26875_dev *d = &g->devs[g->ndevs++];
		char where[160];

		d->device = strdup(cfg_title(ds));
		snprintf(where, sizeof(where), "%s device '%.40s'", label, d->device);
		if (known && !known(ctx, d->device))
			conf_parse_error(p, ds, NULL,
			                 _("%s: no device of that id in the config (a device block here "
			                   "gives the codes of a device defined elsewhere)"),
			                 where);
		d->sys_type = conf_gbt26875_int(p, ds, "system_type", 0, 255, where);
		d->sys_addr = conf_gbt26875_int(p, ds, "system_address", 0, 255, where);
		d->comp_type = conf_gbt26875_int(p, ds, "component_type", 0, 255, where);
		d->loop = conf_gbt26875_int(p, ds, "loop", 0, 65535, where);
	}
}

struct conf_gbt26875 *conf_gbt26875_read(struct conf_parse *p, cfg_t *s, const char *label,
                                         const char *url, conf_gbt26875_device_fn known,
                                         const void *ctx)
{
	struct conf_gbt26875 *g = calloc(1, sizeof(*g));
	const char *pre = cfg_getstr(s, "pre_alarm");

	if (!g)
		return NULL;
	conf_gbt26875_url(p, s, label, url, g);
	if (!conf_parse_isset(p, s, "source_address"))
		conf_parse_error(p, s, NULL,
		                 _("%s: source_address is required: the address the monitoring "
		                   "centre registered for this gateway (decimal or 0x hex, 48 bits)"),
		                 label);
	else if (!conf_gbt26875_address(cfg_getstr(s, "source_address"), &g->src))
		conf_parse_error(p, s, "source_address",
		                 _("%s: source_address '%s' is not a number of at most 48 bits"),
		                 label, cfg_getstr(s, "source_address"));
	if (!conf_gbt26875_address(cfg_getstr(s, "centre_address"), &g->dst))
		conf_parse_error(p, s, "centre_address",
		                 _("%s: centre_address '%s' is not a number of at most 48 bits"),
		                 label, cfg_getstr(s, "centre_address"));
	g->answer_timeout_ms = conf_parse_duration_opt(p, s, "answer_timeout", 10000);
	if (g->answer_timeout_ms < 100 || g->answer_timeout_ms > 60000)
		conf_parse_error(p, s, "answer_timeout",
		                 _("%s: answer_timeout must be 100ms to 60s (the standard: at most "
		                   "10s)"),
		                 label);
	g->tries = (int)cfg_getint(s, "tries");
	if (g->tries < 1 || g->tries > 10)
		conf_parse_error(p, s, "tries", _("%s: tries %d is outside 1-10 (the standard: 3)"),
		                 label, g->tries);
	g->deny_limit = conf_gbt26875_int(p, s, "deny_limit", 0, 100, label);
	g->sys_type = conf_gbt26875_int(p, s, "system_type", 0, 255, label);
	g->sys_addr = conf_gbt26875_int(p, s, "system_address", 0, 255, label);
	g->residual_analog_type =
	    conf_gbt26875_int(p, s, "residual_current_analog_type", 1, 255, label);
	g->apply_clock_sync = cfg_getbool(s, "apply_clock_sync");
	g->pre_alarm = strcmp(pre, "supervisory") == 0;
	if (!g->pre_alarm && strcmp(pre, "none") != 0)
		conf_parse_error(p, s, "pre_alarm",
		                 _("%s: pre_alarm '%s' is not supervisory or none"), label, pre);
	for (size_t i = 0; i < sizeof(conf_gbt26875_foreign) / sizeof(*conf_gbt26875_foreign); i++)
		if (conf_parse_isset(p, s, conf_gbt26875_foreign[i]))
			conf_parse_error(p, s, conf_gbt26875_foreign[i],
			                 _("%s: %s is not used with transport = \"gbt26875\" (GB/T "
			                   "26875.3 has no token, TLS or batch size); remove it"),
			                 label, conf_gbt26875_foreign[i]);
	conf_gbt26875_devices(p, s, label, known, ctx, g);
	return g;
}

void conf_gbt26875_free(struct conf_gbt26875 *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->ndevs; i++)
		free(g->devs[i].device);
	free(g->devs);
	free(g->host);
	free(g);
}

const struct conf_gbt26875_dev *conf_gbt26875_dev(const struct conf_gbt26875 *g,
                                                  const char *device)
{
	for (size_t i = 0; g && device && i < g->ndevs; i++)
		if (strcmp(g->devs[i].device, device) == 0)
			return &g->devs[i];
	return NULL;
}
