/* SPDX-License-Identifier: MIT */
/* conf_platform: the config's `platform` blocks (conf_platform.c). */
#pragma once

#include <confuse.h>

#include "conf.h"
#include "conf_parse.h"

extern cfg_opt_t conf_platform_opts[];

/* Every platform block of the parsed file into c->platforms (the unnamed block first, named
 * "platform"); each mistake reported at its line through p. Needs c->devices read (a
 * per-device code of a centre names a device). */
void conf_platform_read(struct conf_parse *p, struct conf *c);
