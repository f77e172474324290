/* SPDX-License-Identifier: MIT */
/* profile_load: reading and checking the profile files (libconfuse, under
 * config/profiles/) into the types of common/profile.h, and the setpoint options that
 * profiles and device blocks share. Every error is a file:line: message. */
#pragma once

#include <confuse.h>

#include "conf_errors.h"
#include "profile.h"

/* Loads <dir>/<name>.conf; errors go to errs as file:line: message. NULL on error. */
struct profile *profile_load(const char *dir, const char *name, struct conf_errors *errs);
/* Checks one set of setpoints; `where` names it in messages. Returns the number of errors. */
/* `level_lines` (or NULL): where prealarm, alarm and high were written (0: not here), so that a
 * level out of order is reported at its own line; `line` otherwise. */
int setpoints_check(const struct setpoints *s, struct conf_errors *errs, const char *file, int line,
                    const int *level_lines,
                    const char *where);
/* A point judged both by setpoints and by a status bit of the same kind is an error. */
void profile_check_judges(const struct profile *p, const struct point *pt,
                          const struct setpoints *rule, struct conf_errors *errs, const char *file,
                          int line, const char *who);

struct conf_parse;
/* Reads the setpoint options of `sec` (kind, prealarm, alarm, high, clear, below, hold,
 * clear_hold) over `base`, reporting bad values. Returns the number of errors. */
int setpoints_read(struct conf_parse *p, cfg_t *sec, const struct setpoints *base,
                   struct setpoints *out, const char *where);
