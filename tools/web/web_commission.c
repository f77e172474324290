/* SPDX-License-Identifier: MIT */
/* web_commission: the commissioning page's routes: a bus scanned and a device probed through
 * the daemon (its jobs on the bus workers), cancelled, and the page that follows them. Part of
 * web_http's side (web_http_int.h declares its routes). */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "i18n.h"
#include "log.h"
#include "textesc.h"
#include "web_http_int.h"
#include "web_pages.h"

/* Job ids are the daemon's own ("scan-3"): anything else is not put in a URL. */
static bool web_commission_id_ok(const char *id)
{
	return id && *id && strlen(id) < 40 &&
	       strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789-") == strlen(id);
}

/* The job's request (its fields already bounded by web_req), logged with who asked. */
static json_t *web_commission_request(struct web_req *rq, const char *url, const char *who)
{
	char what[200];

	if (!strcmp(url, "/scan")) {
		json_t *req = json_pack("{s:s, s:s}", "cmd", "scan", "bus", rq->bus);
		char *end;

		if (rq->units[0])
			json_object_set_new(req, "units", json_string(rq->units));
		long t = strtol(rq->timeout, &end, 10);
		if (rq->timeout[0] && !*end)
			json_object_set_new(req, "timeout", json_integer(t));
		else if (rq->timeout[0]) /* the daemon says what a timeout must be */
			json_object_set_new(req, "timeout", json_integer(0));
		textesc(what, sizeof(what), rq->bus);
		log_notice(_("firegw-web: scan of bus %s: %s"), what, who);
		return req;
	}
	if (!strcmp(url, "/probe")) {
		textesc(what, sizeof(what), rq->device);
		log_notice(_("firegw-web: probe of device %s: %s"), what, who);
		return json_pack("{s:s, s:s}", "cmd", "probe", "device", rq->device);
	}
	textesc(what, sizeof(what), rq->job);
	log_notice(_("firegw-web: cancel of %s: %s"), what, who);
	return json_pack("{s:s, s:s}", "cmd", "scan-cancel", "id", rq->job);
}

bool web_commission_post(struct web_http *h, struct MHD_Connection *c, struct web_req *rq,
                         const char *url, const char *who, enum MHD_Result *rc)
{
	char to[96];
	json_t *reply;

	if (strcmp(url, "/scan") != 0 && strcmp(url, "/probe") != 0 &&
	    strcmp(url, "/scan-cancel") != 0)
		return false;
	if (!(reply = web_http_ask(h, c, rq, web_commission_request(rq, url, who), rc)))
		return true;
	const char *id = json_string_value(json_object_get(reply, "id"));
	if (!web_commission_id_ok(id)) {
		json_decref(reply);
		*rc = web_http_error(h, c, rq, MHD_HTTP_BAD_GATEWAY, "?");
		return true;
	}
	snprintf(to, sizeof(to), "/commission?job=%s", id);
	json_decref(reply);
	*rc = web_http_redirect(h, c, to, NULL, false);
	return true;
}

enum MHD_Result web_commission_page(struct web_http *h, struct MHD_Connection *c,
                                    struct web_req *rq, const struct web_page *p)
{
	const char *id = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "job");
	json_t *devices, *job = NULL;
	enum MHD_Result rc;
	struct web_buf b;

	if (id && !web_commission_id_ok(id))
		return web_http_error(h, c, rq, MHD_HTTP_NOT_FOUND,
		                      web_text(rq->lang, N_("Page not found.")));
	if (!(devices = web_http_ask(h, c, rq, json_pack("{s:s}", "cmd", "devices"), &rc)))
		return rc;
	if (id && !(job = web_http_ask(
	                h, c, rq, json_pack("{s:s, s:s}", "cmd", "scan-status", "id", id), &rc))) {
		json_decref(devices);
		return rc;
	}
	web_buf_init(&b);
	web_pages_commission(&b, p, devices, job);
	json_decref(devices);
	json_decref(job);
	return web_http_page(h, c, MHD_HTTP_OK, &b, NULL);
}
