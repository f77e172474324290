/* SPDX-License-Identifier: MIT */
/* web_ctl: firegw-web's one way into firegw, the control socket (daemon/control.h): one
 * connection per request, one JSON line each way, a bounded reply and a deadline. It never
 * opens the ledger. */
#pragma once

#include <jansson.h>
#include <stddef.h>

/* The longest reply firegw-web accepts (a devices list of thousands of devices fits). */
#define WEB_CTL_REPLY_MAX (8u * 1024 * 1024)

/* Sends req (a JSON object: {"cmd": ...}) to the socket at path and returns the daemon's reply
 * (new reference; {"ok": true, ...} or {"ok": false, "error": ...}), or NULL with the reason
 * for a person in err (firegw not running, permission denied, no answer in timeout_ms). */
json_t *web_ctl_call(const char *path, json_t *req, int timeout_ms, char *err, size_t errlen);
