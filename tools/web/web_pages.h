/* SPDX-License-Identifier: MIT */
/* web_pages: firegw-web's HTML pages, built from the daemon's control replies. Every string
 * that came from the daemon (and so from devices, the config or the platform) is escaped;
 * the words of the page are in the reader's language (web_text). No inline script or style:
 * /static/app.js and /static/style.css do the rest, as the Content-Security-Policy demands. */
#pragma once

#include <jansson.h>

#include "web_buf.h"
#include "web_text.h"

struct web_page {
	enum web_lang lang;
	const char *csrf; /* the session's CSRF token (for the forms); NULL when logged out */
	const char *user; /* "" when logged out */
};

void web_pages_login(struct web_buf *b, const struct web_page *p, const char *message, int users);
/* message: a person-facing error (already in the reader's language or from the daemon). */
void web_pages_error(struct web_buf *b, const struct web_page *p, const char *message);
/* From the reply to {"cmd":"status"}. */
void web_pages_overview(struct web_buf *b, const struct web_page *p, json_t *status);
/* From the reply to {"cmd":"devices"}; app.js refreshes it from /api/devices. */
void web_pages_devices(struct web_buf *b, const struct web_page *p, json_t *devices);
/* From the reply to {"cmd":"hazards"}; status ("" all, "open": not closed, or one status) and
 * grade ("" or one grade) are the filter it was asked with. */
void web_pages_hazards(struct web_buf *b, const struct web_page *p, json_t *hazards,
                       const char *status, const char *grade);
/* From the reply to {"cmd":"hazard","id":...}. */
void web_pages_hazard(struct web_buf *b, const struct web_page *p, json_t *reply);
/* The config file's text and `firegw check`'s output on it (either may be NULL). */
void web_pages_config(struct web_buf *b, const struct web_page *p, const char *path,
                      const char *text, const char *check, int check_status);
/* The commissioning page: a bus scan and a device probe through the daemon, from the reply to
 * {"cmd":"devices"} (the buses and devices to choose from) and, when one is followed, the
 * reply to {"cmd":"scan-status"} (NULL: none): its progress bar (refreshed by app.js while it
 * runs, data-live), the units found and their config blocks, or the probe's points. */
void web_pages_commission(struct web_buf *b, const struct web_page *p, json_t *devices,
                          json_t *job);
