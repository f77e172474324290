/* SPDX-License-Identifier: MIT */
/* conf_platform: the config's `platform` blocks, each a destination of events: its schema,
 * the transport's keys (HTTPS, MQTT; GB/T 26875.3's in conf_gbt26875.c), the filter of what
 * it wants, its secrets and TLS files checked, and the plaintext rules. */
#include "conf_platform.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_gbt26875.h"
#include "i18n.h"
#include "ledger.h"

cfg_opt_t conf_platform_opts[] = {
    CFG_STR("transport", "https", CFGF_NONE),
    CFG_STR("url", NULL, CFGF_NONE),
    CFG_STR("token_file", NULL, CFGF_NONE),
    CFG_STR("ca_file", NULL, CFGF_NONE),
    CFG_STR("cert_file", NULL, CFGF_NONE),
    CFG_STR("key_file", NULL, CFGF_NONE),
    CFG_STR("pin", NULL, CFGF_NONE),
    CFG_INT("batch", 100, CFGF_NONE),
    CFG_STR("heartbeat", "60s", CFGF_NONE),
    CFG_STR("timeout", "10s", CFGF_NONE),
    CFG_STR("connect_timeout", "5s", CFGF_NONE),
    CFG_STR("backoff_max", "5m", CFGF_NONE),
    CFG_STR("topic_prefix", "firegw", CFGF_NONE),
    CFG_STR("username", NULL, CFGF_NONE),
    CFG_STR("password_file", NULL, CFGF_NONE),
    CFG_STR("keepalive", "60s", CFGF_NONE),
    CFG_BOOL("insecure_plaintext", cfg_false, CFGF_NONE),
    CFG_STR_LIST("events", NULL, CFGF_NONE),
    CFG_STR_LIST("kinds", NULL, CFGF_NONE),
    CFG_STR_LIST("grades", NULL, CFGF_NONE),
    CONF_GBT26875_OPTS,
    CFG_END(),
};

static char *conf_platform_dup(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* A url with user:password@ would put a secret in the config and in `firegwctl status`. */
static bool conf_url_has_userinfo(const char *url)
{
	const char *host = url ? strstr(url, "://") : NULL;

	if (!host)
		return false;
	host += 3;
	return strcspn(host, "@") < strcspn(host, "/?#");
}

/* transport = "mqtt": the broker's url, the topic prefix, what TLS can and cannot do. */
static void conf_read_platform_mqtt(struct conf_parse *p, cfg_t *s, struct platform_conf *x)
{
	const char *u = x->url, *host, *end;
	size_t plen;

	if (u) {
		bool tls = strncmp(u, "mqtts://", 8) == 0;

		if (!tls && strncmp(u, "mqtt://", 7) != 0) {
			conf_parse_error(p, s, "url",
			                 _("%s: url '%s' must be mqtts://host:port (TLS) or "
			                 "mqtt://host:port with transport = \"mqtt\""), x->label,
			                 u);
		} else {
			host = u + (tls ? 8 : 7);
			end = strchr(host, ':');
			char *rest = NULL;
			long port = tls ? 8883 : 1883;

			if (end) {
				errno = 0;
				port = strtol(end + 1, &rest, 10);
				if (rest == end + 1 || errno || (*rest && strcmp(rest, "/") != 0))
					port = -1;
			} else {
				end = host + strcspn(host, "/");
				if (*end && strcmp(end, "/") != 0)
					port = -1;
			}
			if (end == host || strcspn(host, "/?#@[]") < (size_t)(end - host))
				conf_parse_error(p, s, "url",
				                 _("%s: url '%s' has no usable host; write "
				                 "%s://host:port, e.g. %s://broker.example.cn:%d"), x->label,
				                 u, tls ? "mqtts" : "mqtt", tls ? "mqtts" : "mqtt",
				                 tls ? 8883 : 1883);
			else if (port < 1 || port > 65535)
				conf_parse_error(
				    p, s, "url",
				    _("%s: url '%s': the port must be a number 1-65535 "
				    "and nothing may follow it (no path: topics come from "
				    "topic_prefix)"), x->label,
				    u);
			else {
				x->mqtt_host = strndup(host, (size_t)(end - host));
				x->mqtt_port = (int)port;
				x->mqtt_tls = tls;
			}
			if (!tls && (x->ca_file || x->cert_file))
				conf_parse_error(p, s, x->ca_file ? "ca_file" : "cert_file",
				                 _("%s: %s is for TLS; use an mqtts:// url"), x->label,
				                 x->ca_file ? "ca_file" : "cert_file");
		}
	}
	/* libmosquitto cannot check a public-key pin: refuse it rather than ignore it. */
	if (x->pin)
		conf_parse_error(p, s, "pin",
		                 _("%s: pin is not supported with transport = \"mqtt\" (the "
		                 "MQTT client cannot check a public key); remove it and trust the "
		                 "broker through ca_file"), x->label);
	if ((x->cert_file == NULL) != (x->key_file == NULL))
		conf_parse_error(p, s, x->cert_file ? "cert_file" : "key_file",
		                 _("%s: cert_file and key_file go together"), x->label);
	if ((x->password_file || x->token_file) && !x->username)
		conf_parse_error(p, s, x->password_file ? "password_file" : "token_file",
		                 _("%s: %s needs a username with transport = \"mqtt\" (MQTT "
		                 "sends no password without one); add username = \"...\" (the "
		                 "broker's login for this gateway)"), x->label,
		                 x->password_file ? "password_file" : "token_file");
	x->keepalive_ms = conf_parse_duration_opt(p, s, "keepalive", 60000);
	if (x->keepalive_ms < 5000 || x->keepalive_ms > 65535000)
		conf_parse_error(p, s, "keepalive", _("%s: keepalive must be 5s to 65535s"), x->label);
	plen = strlen(x->topic_prefix);
	while (plen > 0 && x->topic_prefix[plen - 1] == '/')
		x->topic_prefix[--plen] = '\0';
	if (plen == 0 || strpbrk(x->topic_prefix, "+#") || x->topic_prefix[0] == '/')
		conf_parse_error(p, s, "topic_prefix",
		                 _("%s: topic_prefix '%s' must be a topic without wildcards "
		                 "(+, #) and without a leading '/', e.g. \"firegw\" or "
		                 "\"county/zw\""), x->label,
		                 cfg_getstr(s, "topic_prefix"));
}

/* A password over plain mqtt:// crosses the network readable: only with an explicit
 * insecure_plaintext = true, which is refused where it changes nothing. */
static void conf_read_platform_plaintext(struct conf_parse *p, cfg_t *s,
                                         const struct platform_conf *x, bool userinfo)
{
	bool plain = x->url && strcmp(x->transport, "mqtt") == 0 &&
	             strncmp(x->url, "mqtt://", 7) == 0;
	bool secret = x->password_file || x->token_file;

	if (userinfo)
		return;
	if (plain && secret && !x->insecure_plaintext)
		conf_parse_error(p, s, "url",
		                 _("%s: url '%s' is plain MQTT: the password of %s would cross "
		                 "the network readable by anyone on the way; use mqtts:// (TLS), or, "
		                 "only on a network you trust, add insecure_plaintext = true to the "
		                 "platform section"), x->label,
		                 x->url, x->password_file ? "password_file" : "token_file");
	else if (x->insecure_plaintext && !(plain && secret))
		conf_parse_error(p, s, "insecure_plaintext",
		                 _("%s: insecure_plaintext is only for an mqtt:// url with a "
		                 "password (password_file or token_file); remove it"), x->label);
}

/* A destination's filter: `opt` = {names} into a bit mask (0: not set, all). */
static uint32_t conf_platform_filter(struct conf_parse *p, cfg_t *s, const char *opt,
                                     const char *label, int (*index)(const char *),
                                     const char *known)
{
	uint32_t mask = 0;

	for (unsigned i = 0; i < cfg_size(s, opt); i++) {
		const char *v = cfg_getnstr(s, opt, i);
		int k = index(v);

		if (k < 0 || k > 31)
			conf_parse_error(p, s, opt, _("%s: %s: unknown '%s'; known: %s"), label, opt, v,
			                 known);
		else
			mask |= 1u << k;
	}
	return mask;
}

static int conf_kind_index(const char *s)
{
	return kind_from_name(s);
}

static int conf_grade_index(const char *s)
{
	return grade_from_name(s);
}

/* What conf_platform_read was given to check a device's id. */
struct conf_platform_devices {
	conf_gbt26875_device_fn known;
	const void *ctx;
};

static void conf_read_platform_one(struct conf_parse *p, cfg_t *s,
                                   const struct conf_platform_devices *d, const char *name,
                                   struct platform_conf *x)
{
	bool userinfo = false;

	x->name = strdup(name);
	if (strcmp(name, "platform") == 0)
		snprintf(x->label, sizeof(x->label), "platform");
	else
		snprintf(x->label, sizeof(x->label), "platform '%.40s'", name);
	if (!*name || strlen(name) >= LEDGER_DEST_LEN || strspn(name, "abcdefghijklmnopqrstuvwxyz"
	                                                               "0123456789_-") != strlen(name))
		conf_parse_error(p, s, NULL,
		                 _("%s: a destination's name is 1 to %d of a-z, 0-9, _ and -, "
		                 "e.g. platform \"county\" { ... }"),
		                 x->label, LEDGER_DEST_LEN - 1);
	x->types = conf_platform_filter(p, s, "events", x->label, ledger_event_type_index,
	                                "raised, escalated, recurred, cleared, silenced, overdue, "
	                                "reopened, acknowledged, assigned, accepted, closed, "
	                                "resync");
	x->kinds = conf_platform_filter(p, s, "kinds", x->label, conf_kind_index,
	                                "the hazard kinds of firegw.conf(5)");
	x->grades = conf_platform_filter(p, s, "grades", x->label, conf_grade_index,
	                                 "immediate, major, significant, general");

	x->transport = strdup(cfg_getstr(s, "transport"));
	bool gbt = strcmp(x->transport, "gbt26875") == 0;
	x->enabled = gbt ? conf_gbt26875_isset(p, s) : conf_parse_isset(p, s, "url");
	x->url = conf_platform_dup(cfg_getstr(s, "url"));
	x->token_file = conf_parse_path(p, s, "token_file");
	x->ca_file = conf_parse_path(p, s, "ca_file");
	x->cert_file = conf_parse_path(p, s, "cert_file");
	x->key_file = conf_parse_path(p, s, "key_file");
	x->pin = conf_platform_dup(cfg_getstr(s, "pin"));
	x->topic_prefix = strdup(cfg_getstr(s, "topic_prefix"));
	x->username = conf_platform_dup(cfg_getstr(s, "username"));
	x->password_file = conf_parse_path(p, s, "password_file");
	x->insecure_plaintext = cfg_getbool(s, "insecure_plaintext");
	conf_parse_secret_file(p, s, x->label, "token_file", x->token_file, N_("token"));
	conf_parse_secret_file(p, s, x->label, "password_file", x->password_file, N_("password"));
	conf_parse_secret_file(p, s, x->label, "key_file", x->key_file, N_("private key"));
	conf_parse_trusted_file(p, s, x->label, "ca_file", x->ca_file);
	if (conf_url_has_userinfo(x->url)) {
		/* Not shown: it holds the password. */
		conf_parse_error(p, s, "url",
		                 _("%s: url must not hold a user name or password "
		                 "(user:password@host); remove it from the url and put the token "
		                 "in token_file (chmod 600)"), x->label);
		free(x->url);
		x->url = strdup("(url with a password, refused)");
		userinfo = true;
	}
	x->batch = conf_parse_int(s, "batch");
	x->heartbeat_ms = conf_parse_duration_opt(p, s, "heartbeat", 60000);
	x->timeout_ms = conf_parse_duration_opt(p, s, "timeout", 10000);
	x->connect_timeout_ms = conf_parse_duration_opt(p, s, "connect_timeout", 5000);
	x->backoff_max_ms = conf_parse_duration_opt(p, s, "backoff_max", 300000);
	if (strcmp(x->transport, "https") && strcmp(x->transport, "mqtt") && !gbt)
		conf_parse_error(p, s, "transport",
		                 _("%s: transport '%s' is not https, mqtt or gbt26875"), x->label,
		                 x->transport);
	/* The shipped template: url = "" until the installer sets it. */
	if (x->url && !*x->url)
		conf_parse_error(p, s, "url",
		                 _("%s: url is empty: write the county platform's address, e.g. "
		                 "url = \"https://platform.example.invalid/api\", and its token in "
		                 "token_file (or remove the platform section: hazards then stay on "
		                 "the gateway)"),
		                 x->label);
	/* No plaintext: the uplink speaks HTTPS only, so an http:// url could never work. */
	else if (x->url && !userinfo && strcmp(x->transport, "https") == 0 &&
	         strncmp(x->url, "https://", 8))
		conf_parse_error(p, s, "url",
		                 _("%s: url '%s' must start with https:// (TLS is always on)"), x->label,
		                 x->url);
	if (x->batch < 1 || x->batch > 1000)
		conf_parse_error(p, s, "batch", _("%s: batch %ld is outside 1-1000"), x->label,
		                 cfg_getint(s, "batch"));
	if (x->heartbeat_ms < 1000 && conf_parse_isset(p, s, "heartbeat"))
		conf_parse_error(p, s, "heartbeat", _("%s: heartbeat must be at least 1s"), x->label);
	if (x->timeout_ms < 1 && conf_parse_isset(p, s, "timeout"))
		conf_parse_error(p, s, "timeout", _("%s: timeout must be longer than 0"), x->label);
	if (x->connect_timeout_ms < 1 && conf_parse_isset(p, s, "connect_timeout"))
		conf_parse_error(p, s, "connect_timeout",
		                 _("%s: connect_timeout must be longer than 0"), x->label);
	if (x->backoff_max_ms < 1000 && conf_parse_isset(p, s, "backoff_max"))
		conf_parse_error(p, s, "backoff_max", _("%s: backoff_max must be at least 1s"), x->label);
	if (gbt) {
		if (x->enabled && !userinfo)
			x->gbt = conf_gbt26875_read(p, s, x->label, x->url, d->known, d->ctx);
		/* host and port written apart: the url status shows, as it would be written. */
		if (x->gbt && !x->url && x->gbt->host &&
		    asprintf(&x->url, "gbt26875://%s:%d", x->gbt->host, x->gbt->port) < 0)
			x->url = NULL;
		/* The vendors' practice, 20-30 s, unless written. */
		if (!conf_parse_isset(p, s, "heartbeat"))
			x->heartbeat_ms = 30000;
	} else
		conf_gbt26875_refuse(p, s, x->label);
	if (x->transport && strcmp(x->transport, "mqtt") == 0) {
		if (!userinfo) /* the url is refused already */
			conf_read_platform_mqtt(p, s, x);
	} else if (conf_parse_isset(p, s, "keepalive"))
		conf_parse_error(p, s, "keepalive",
		                 _("%s: keepalive is for transport = \"mqtt\"; remove it"), x->label);
	else if (x->username || x->password_file)
		conf_parse_error(p, s, x->username ? "username" : "password_file",
		                 _("%s: %s is for transport = \"mqtt\" (HTTPS sends the token "
		                 "of token_file); remove it"), x->label,
		                 x->username ? "username" : "password_file");
	conf_read_platform_plaintext(p, s, x, userinfo);
}

struct platform_conf *conf_platform_read(struct conf_parse *p, conf_gbt26875_device_fn device_known,
                                         const void *ctx, size_t *n)
{
	cfg_t *unnamed = cfg_getsec(p->cfg, "platform_unnamed");
	size_t named = cfg_size(p->cfg, "platform");
	bool has_unnamed = conf_parse_where(p, unnamed, NULL).line > 0;
	const struct conf_platform_devices d = {device_known, ctx};
	struct platform_conf *v = calloc(named + 2, sizeof(*v));

	*n = 0;
	if (!v)
		return NULL;
	/* The unnamed block first: after an upgrade it is the one an older ledger's waiting
	 * events belong to (ledger_set_dests). */
	if (has_unnamed)
		conf_read_platform_one(p, unnamed, &d, "platform", &v[(*n)++]);
	for (size_t i = 0; i < named; i++) {
		cfg_t *s = cfg_getnsec(p->cfg, "platform", (unsigned)i);

		if (has_unnamed && strcmp(cfg_title(s), "platform") == 0)
			conf_parse_error(p, s, NULL,
			                 _("platform \"platform\" is the name of the unnamed platform "
			                 "block; give this one another name"));
		conf_read_platform_one(p, s, &d, cfg_title(s), &v[(*n)++]);
	}
	return v;
}
