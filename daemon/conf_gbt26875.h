/* SPDX-License-Identifier: MIT */
/* conf_gbt26875: the keys of a `platform "name" { transport = "gbt26875"; ... }` block (a fire
 * monitoring centre over GB/T 26875.3, docs/gbt26875.md section 4): the centre's host and
 * port, the gateway's and the centre's addresses, the answer timeout and tries, the codes
 * (system type and address, component type and loop per device, the analog type of residual
 * current, the pre-alarm convention) and whether a clock sync is applied. It owns their schema
 * (added to the platform block by conf.c), their checks and their plain struct. */
#pragma once

#include <confuse.h>
#include <stdbool.h>
#include <stdint.h>

#include "conf_parse.h"


/* One `device "id" { ... }` inside the block: that device's codes for this centre; -1: the
 * default (docs/gbt26875.md section 4). */
struct conf_gbt26875_dev {
	char *device;
	int sys_type, sys_addr, comp_type;
	long loop;
};

struct conf_gbt26875 {
	char *host;
	int port;
	uint64_t src, dst;         /* source_address (the gateway), centre_address */
	int64_t answer_timeout_ms; /* 10 s */
	int tries;                 /* 3 */
	int deny_limit;            /* 3: exchanges of one frame denied at every try; 0: never */
	int sys_type;              /* -1: 1 for fire detectors, 0 for electrical fire monitoring */
	int sys_addr;              /* 1 */
	bool apply_clock_sync;     /* false: a centre's clock sync is recorded, not applied */
	bool pre_alarm;            /* a pre-alarm is sent as b4 supervisory (else not sent) */
	int residual_analog_type;  /* 128 */
	struct conf_gbt26875_dev *devs;
	size_t ndevs;
};

extern cfg_opt_t conf_gbt26875_device_opts[];

/* The options conf.c adds to its platform block. */
#define CONF_GBT26875_OPTS                                                                        \
	CFG_STR("host", NULL, CFGF_NONE), CFG_INT("port", 0, CFGF_NONE),                          \
	    CFG_STR("source_address", NULL, CFGF_NONE),                                           \
	    CFG_STR("centre_address", "0", CFGF_NONE),                                            \
	    CFG_STR("answer_timeout", "10s", CFGF_NONE), CFG_INT("tries", 3, CFGF_NONE),          \
	    CFG_INT("deny_limit", 3, CFGF_NONE),                                                  \
	    CFG_INT("system_type", -1, CFGF_NONE), CFG_INT("system_address", 1, CFGF_NONE),       \
	    CFG_BOOL("apply_clock_sync", cfg_false, CFGF_NONE),                                   \
	    CFG_STR("pre_alarm", "supervisory", CFGF_NONE),                                       \
	    CFG_INT("residual_current_analog_type", 128, CFGF_NONE),                              \
	    CFG_SEC("device", conf_gbt26875_device_opts, CFGF_MULTI | CFGF_TITLE)

/* True when the block names this transport's host (the url or `host`): it is then enabled. */
bool conf_gbt26875_isset(const struct conf_parse *p, const cfg_t *s);
/* Is there a device of this id in the config (the caller's lookup)? */
typedef bool (*conf_gbt26875_device_fn)(const void *ctx, const char *id);

/* Reads and checks the keys of a gbt26875 block (`label` names it in messages, `url` is its
 * url or NULL); each mistake is reported as file:line, a device block of an id `known` does
 * not know too. NULL only when out of memory. */
struct conf_gbt26875 *conf_gbt26875_read(struct conf_parse *p, cfg_t *s, const char *label,
                                         const char *url, conf_gbt26875_device_fn known,
                                         const void *ctx);
/* Another transport's block: each of these keys written there is reported. */
void conf_gbt26875_refuse(struct conf_parse *p, cfg_t *s, const char *label);
void conf_gbt26875_free(struct conf_gbt26875 *g);
/* The override of this device in g, or NULL. */
const struct conf_gbt26875_dev *conf_gbt26875_dev(const struct conf_gbt26875 *g,
                                                  const char *device);
