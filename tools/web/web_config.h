/* SPDX-License-Identifier: MIT */
/* web_config: what the config page shows: the config file's text (bounded) and the output of
 * `firegw check -c FILE` on it, run as a child with a deadline and a bounded output. firegw-web
 * only reads: applying a new config stays a job for the gateway's shell (docs/web.md says why). */
#pragma once

#include <stddef.h>

#define WEB_CONFIG_MAX (256 * 1024)
#define WEB_CONFIG_CHECK_TIMEOUT_MS 20000

/* The file's text in a new string (free() it), or NULL with the reason in err. */
char *web_config_read(const char *path, char *err, size_t errlen);
/* Runs `firegw check -c path`; returns its output (stdout and stderr, free() it) and its exit
 * status in *status (0 ok, 1 errors, -1 it could not run or did not finish). */
char *web_config_check(const char *firegw, const char *path, int *status);
