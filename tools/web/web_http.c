/* SPDX-License-Identifier: MIT */
/* web_http: routes, login, sessions, CSRF and security headers on libmicrohttpd. */
#include "web_http.h"
#include "web_http_int.h"

#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "i18n.h"
#include "log.h"
#include "textesc.h"
#include "web_assets.h"
#include "web_buf.h"
#include "web_config.h"
#include "web_ctl.h"
#include "web_listen.h"
#include "web_metrics.h"
#include "web_pages.h"
#include "web_passwd.h"

#define T(s) web_text(rq->lang, N_(s))

/* The request being answered (MHD calls the handler from its one thread). */
static __thread struct web_req *web_http_current;

int64_t web_http_now(void)
{
	return (int64_t)time(NULL);
}

/* ---------------------------------------------------------------- replies */

static void web_http_headers(struct web_http *h, struct MHD_Response *r, const char *ctype)
{
	MHD_add_response_header(r, "Content-Type", ctype);
	MHD_add_response_header(r, "Content-Security-Policy",
	                        "default-src 'self'; frame-ancestors 'none'; form-action 'self'; "
	                        "base-uri 'none'");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	if (h->tls)
		MHD_add_response_header(r, "Strict-Transport-Security", "max-age=31536000");
	if (web_http_current && web_http_current->lang_asked) {
		char c[128];

		snprintf(c, sizeof(c), "fgw_lang=%s; Path=/; Max-Age=31536000; HttpOnly; "
		         "SameSite=Strict%s",
		         web_http_current->lang == WEB_LANG_EN ? "en" : "zh", h->tls ? "; Secure" : "");
		MHD_add_response_header(r, MHD_HTTP_HEADER_SET_COOKIE, c);
	}
}

static void web_http_cookie(struct web_http *h, struct MHD_Response *r, const char *name,
                            const char *value, int64_t max_age)
{
	char c[256];

	snprintf(c, sizeof(c), "%s=%s; Path=/; Max-Age=%lld; HttpOnly; SameSite=Strict%s", name,
	         value, (long long)max_age, h->tls ? "; Secure" : "");
	MHD_add_response_header(r, MHD_HTTP_HEADER_SET_COOKIE, c);
}

/* Queues body (taken over: freed by MHD) with the headers of every reply; a NULL body (a page
 * that could not be built) becomes a 500. */
enum MHD_Result web_http_send(struct web_http *h, struct MHD_Connection *c, unsigned status,
                                     char *body, size_t len, const char *ctype,
                                     const struct web_session *cookie)
{
	static char oom[] = "firegw-web: out of memory\n";
	struct MHD_Response *r;
	enum MHD_Result rc;

	if (!body)
		r = MHD_create_response_from_buffer(sizeof(oom) - 1, oom, MHD_RESPMEM_PERSISTENT);
	else
		r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	web_http_headers(h, r, body ? ctype : "text/plain; charset=utf-8");
	if (cookie)
		web_http_cookie(h, r, "fgw_session", cookie->id,
		                web_session_max_age(cookie, web_http_now()));
	rc = MHD_queue_response(c, body ? status : MHD_HTTP_INTERNAL_SERVER_ERROR, r);
	MHD_destroy_response(r);
	return rc;
}

enum MHD_Result web_http_page(struct web_http *h, struct MHD_Connection *c, unsigned status,
                                     struct web_buf *b, const struct web_session *cookie)
{
	size_t len;
	char *body = web_buf_take(b, &len);

	return web_http_send(h, c, status, body, len, "text/html; charset=utf-8", cookie);
}

enum MHD_Result web_http_redirect(struct web_http *h, struct MHD_Connection *c,
                                         const char *to, const struct web_session *cookie,
                                         bool clear)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	enum MHD_Result rc;

	if (!r)
		return MHD_NO;
	web_http_headers(h, r, "text/plain; charset=utf-8");
	MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, to);
	if (cookie)
		web_http_cookie(h, r, "fgw_session", cookie->id,
		                web_session_max_age(cookie, web_http_now()));
	if (clear)
		web_http_cookie(h, r, "fgw_session", "", 0);
	rc = MHD_queue_response(c, MHD_HTTP_SEE_OTHER, r);
	MHD_destroy_response(r);
	return rc;
}

enum MHD_Result web_http_error(struct web_http *h, struct MHD_Connection *c,
                                      struct web_req *rq, unsigned status, const char *message)
{
	struct web_buf b;
	struct web_page p = {.lang = rq->lang, .csrf = rq->session.csrf, .user = rq->session.user};

	web_buf_init(&b);
	web_pages_error(&b, &p, message);
	return web_http_page(h, c, status, &b, NULL);
}

/* ---------------------------------------------------------------- the daemon */

/* The daemon's reply to req (taken over), or NULL after an error page was queued in *rc. */
json_t *web_http_ask(struct web_http *h, struct MHD_Connection *c, struct web_req *rq,
                            json_t *req, enum MHD_Result *rc)
{
	char err[512];
	json_t *reply = web_ctl_call(h->o.socket, req, WEB_HTTP_CTL_TIMEOUT_MS, err, sizeof(err));

	json_decref(req);
	if (!reply) {
		char msg[600];

		snprintf(msg, sizeof(msg), "%s: %s", T("firegw cannot be reached"), err);
		*rc = web_http_error(h, c, rq, MHD_HTTP_BAD_GATEWAY, msg);
		return NULL;
	}
	if (!json_is_true(json_object_get(reply, "ok"))) {
		const char *e = json_string_value(json_object_get(reply, "error"));

		*rc = web_http_error(h, c, rq, MHD_HTTP_NOT_FOUND, e ? e : "?");
		json_decref(reply);
		return NULL;
	}
	return reply;
}

/* ---------------------------------------------------------------- request bodies */

static void web_http_field(char *dst, size_t cap, const char *data, uint64_t off, size_t size,
                           bool *too_big)
{
	if (off + size >= cap) {
		*too_big = true;
		return;
	}
	memcpy(dst + off, data, size);
	dst[off + size] = '\0';
}

static enum MHD_Result web_http_post_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                           const char *filename, const char *ctype,
                                           const char *enc, const char *data, uint64_t off,
                                           size_t size)
{
	struct web_req *rq = cls;

	if (!strcmp(key, "user"))
		web_http_field(rq->user, sizeof(rq->user), data, off, size, &rq->too_big);
	else if (!strcmp(key, "password"))
		web_http_field(rq->password, sizeof(rq->password), data, off, size, &rq->too_big);
	else if (!strcmp(key, "csrf"))
		web_http_field(rq->csrf, sizeof(rq->csrf), data, off, size, &rq->too_big);
	else if (!strcmp(key, "device"))
		web_http_field(rq->device, sizeof(rq->device), data, off, size, &rq->too_big);
	else if (!strcmp(key, "bus"))
		web_http_field(rq->bus, sizeof(rq->bus), data, off, size, &rq->too_big);
	else if (!strcmp(key, "units"))
		web_http_field(rq->units, sizeof(rq->units), data, off, size, &rq->too_big);
	else if (!strcmp(key, "timeout"))
		web_http_field(rq->timeout, sizeof(rq->timeout), data, off, size, &rq->too_big);
	else if (!strcmp(key, "job"))
		web_http_field(rq->job, sizeof(rq->job), data, off, size, &rq->too_big);
	return MHD_YES;
}

/* ---------------------------------------------------------------- logging actions */

/* "user admin from 192.0.2.7", escaped: for every action's log line. */
void web_http_who(char *out, size_t len, const char *user, const char *addr)
{
	char u[WEB_PASSWD_USER_MAX * 4 + 8];

	textesc(u, sizeof(u), user && *user ? user : "-");
	snprintf(out, len, "user %s from %s", u, addr);
}

/* ---------------------------------------------------------------- routes */

/* The login form, with the CSRF token of the anonymous session `have` (NULL: a new one). The
 * session is kept as long as it lives: a browser fetching the form again in another tab, or
 * /favicon.ico sent here, must not make the token of a form already shown stale. */
static enum MHD_Result web_http_login_page(struct web_http *h, struct MHD_Connection *c,
                                           struct web_req *rq, unsigned status,
                                           const char *message, const struct web_session *have)
{
	struct web_session s;
	struct web_buf b;

	if (have && !have->user[0])
		s = *have;
	else if (web_session_create(&h->sessions, "", web_http_now(), &s) != 0)
		return web_http_send(h, c, 500, NULL, 0, NULL, NULL);
	struct web_page p = {.lang = rq->lang, .csrf = s.csrf, .user = ""};
	web_buf_init(&b);
	web_pages_login(&b, &p, message, web_passwd_count(h->o.passwd));
	return web_http_page(h, c, status, &b, &s);
}

static enum MHD_Result web_http_login(struct web_http *h, struct MHD_Connection *c,
                                      struct web_req *rq, const struct web_session *anon,
                                      bool have)
{
	char who[160], err[256];
	int retry;

	web_http_who(who, sizeof(who), rq->user, rq->addr);
	if (!have || !web_session_csrf_ok(anon, rq->csrf)) {
		log_notice(_("firegw-web: login refused (no valid CSRF token): %s"), who);
		return web_http_login_page(
		    h, c, rq, MHD_HTTP_FORBIDDEN,
		    T("Your session has expired or the form is stale; please try again."), NULL);
	}
	if (!web_ratelimit_allowed(&h->limit, rq->addr, web_http_now(), &retry)) {
		log_warn(_("firegw-web: login refused, too many failures (locked %d s more): %s"),
		         retry, who);
		return web_http_login_page(
		    h, c, rq, MHD_HTTP_TOO_MANY_REQUESTS,
		    T("Too many failed logins from your address; try again in a few minutes."),
		    anon);
	}
	int ok = web_passwd_check(h->o.passwd, rq->user, rq->password, err, sizeof(err));
	explicit_bzero(rq->password, sizeof(rq->password));
	if (ok < 0)
		log_err(_("firegw-web: %s"), err);
	if (ok != 1) {
		web_ratelimit_failed(&h->limit, rq->addr, web_http_now());
		log_warn(_("firegw-web: login failed: %s"), who);
		return web_http_login_page(h, c, rq, MHD_HTTP_UNAUTHORIZED,
		                           T("Wrong user name or password."), anon);
	}
	web_ratelimit_succeeded(&h->limit, rq->addr);
	/* A new session (and id) for the logged-in user: the anonymous one goes. */
	struct web_session s;
	web_session_drop(&h->sessions, anon->id);
	if (web_session_create(&h->sessions, rq->user, web_http_now(), &s) != 0)
		return web_http_send(h, c, 500, NULL, 0, NULL, NULL);
	log_notice(_("firegw-web: login: %s"), who);
	return web_http_redirect(h, c, "/", &s, false);
}

/* Queues the embedded file at url into *rc; false if url is not one. */
static bool web_http_asset(struct web_http *h, struct MHD_Connection *c, const char *url,
                           enum MHD_Result *rc)
{
	static const struct {
		const char *url, *ctype;
		const unsigned char *data;
		const unsigned int *len;
	} assets[] = {
	    {"/static/app.js", "text/javascript; charset=utf-8", web_asset_app_js,
	     &web_asset_app_js_len},
	    {"/static/style.css", "text/css; charset=utf-8", web_asset_style_css,
	     &web_asset_style_css_len},
	};

	for (size_t i = 0; i < sizeof(assets) / sizeof(assets[0]); i++) {
		if (strcmp(url, assets[i].url) != 0)
			continue;
		struct MHD_Response *r = MHD_create_response_from_buffer(
		    *assets[i].len, (void *)assets[i].data, MHD_RESPMEM_PERSISTENT);
		*rc = MHD_NO;
		if (!r)
			return true;
		web_http_headers(h, r, assets[i].ctype);
		*rc = MHD_queue_response(c, MHD_HTTP_OK, r);
		MHD_destroy_response(r);
		return true;
	}
	return false;
}

static enum MHD_Result web_http_hazards(struct web_http *h, struct MHD_Connection *c,
                                        struct web_req *rq, const struct web_page *p)
{
	const char *status = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "status");
	const char *grade = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "grade");
	json_t *req = json_pack("{s:s, s:i}", "cmd", "hazards", "limit", 500), *reply;
	enum MHD_Result rc;
	struct web_buf b;

	status = status && strlen(status) < 32 ? status : "";
	grade = grade && strlen(grade) < 32 ? grade : "";
	if (!strcmp(status, "open"))
		json_object_set_new(req, "open", json_true());
	if (*grade)
		json_object_set_new(req, "grade", json_string(grade));
	if (!(reply = web_http_ask(h, c, rq, req, &rc)))
		return rc;
	web_buf_init(&b);
	web_pages_hazards(&b, p, reply, status, grade);
	json_decref(reply);
	return web_http_page(h, c, MHD_HTTP_OK, &b, NULL);
}

/* The daemon's own check of its config file (the control request `check`): it reads the
 * secret files as the user that uses them, which this program is not. NULL when the daemon
 * does not answer: then `firegw check` runs here, as this program's user. */
static char *web_http_check(struct web_http *h, int *status)
{
	char err[256];
	json_t *req = json_pack("{s:s}", "cmd", "check");
	json_t *reply = web_ctl_call(h->o.socket, req, WEB_HTTP_CTL_TIMEOUT_MS, err, sizeof(err));
	struct web_buf b;
	size_t i;
	json_t *e;

	json_decref(req);
	if (!reply || !json_is_true(json_object_get(reply, "ok"))) {
		json_decref(reply);
		return NULL;
	}
	web_buf_init(&b);
	json_array_foreach(json_object_get(reply, "errors"), i, e)
	    web_buf_addf(&b, "%s\n", json_string_value(e));
	*status = json_is_true(json_object_get(reply, "valid")) ? 0 : 1;
	if (*status == 0)
		web_buf_addf(&b, _("%s: no errors (checked by the running firegw)\n"),
		             json_string_value(json_object_get(reply, "config")));
	json_decref(reply);
	return web_buf_take(&b, NULL);
}

static enum MHD_Result web_http_config(struct web_http *h, struct MHD_Connection *c,
                                       const struct web_page *p)
{
	char err[512], *text = NULL, *check = NULL;
	int status = -1;
	struct web_buf b;

	if (h->o.config) {
		text = web_config_read(h->o.config, err, sizeof(err));
		check = text ? web_http_check(h, &status) : strdup(err);
		if (text && !check)
			check = web_config_check(h->o.firegw, h->o.config, &status);
	}
	web_buf_init(&b);
	web_pages_config(&b, p, h->o.config, text, check, status);
	free(text);
	free(check);
	return web_http_page(h, c, MHD_HTTP_OK, &b, NULL);
}

/* The pages behind the login (GET). */
static enum MHD_Result web_http_get(struct web_http *h, struct MHD_Connection *c,
                                    struct web_req *rq, const char *url,
                                    const struct web_session *s)
{
	struct web_page p = {.lang = rq->lang, .csrf = s->csrf, .user = s->user};
	enum MHD_Result rc;
	struct web_buf b;
	json_t *reply;

	web_buf_init(&b);
	if (!strcmp(url, "/")) {
		if (!(reply = web_http_ask(h, c, rq, json_pack("{s:s}", "cmd", "status"), &rc)))
			return rc;
		web_pages_overview(&b, &p, reply);
	} else if (!strcmp(url, "/devices")) {
		if (!(reply = web_http_ask(h, c, rq, json_pack("{s:s}", "cmd", "devices"), &rc)))
			return rc;
		web_pages_devices(&b, &p, reply);
	} else if (!strcmp(url, "/api/devices")) {
		char err[512];
		json_t *req = json_pack("{s:s}", "cmd", "devices");

		reply = web_ctl_call(h->o.socket, req, WEB_HTTP_CTL_TIMEOUT_MS, err, sizeof(err));
		json_decref(req);
		if (!reply)
			reply = json_pack("{s:b, s:s}", "ok", 0, "error", err);
		char *text = json_dumps(reply, JSON_COMPACT);
		unsigned st = json_is_true(json_object_get(reply, "ok")) ? MHD_HTTP_OK
		                                                          : MHD_HTTP_BAD_GATEWAY;
		json_decref(reply);
		return web_http_send(h, c, st, text, text ? strlen(text) : 0,
		                     "application/json", NULL);
	} else if (!strcmp(url, "/hazards")) {
		return web_http_hazards(h, c, rq, &p);
	} else if (!strcmp(url, "/hazard")) {
		const char *id = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "id");

		if (!id || !*id || strlen(id) > 128)
			return web_http_error(h, c, rq, MHD_HTTP_NOT_FOUND, T("Page not found."));
		if (!(reply = web_http_ask(h, c, rq, json_pack("{s:s, s:s}", "cmd", "hazard", "id", id),
		                           &rc)))
			return rc;
		web_pages_hazard(&b, &p, reply);
	} else if (!strcmp(url, "/config")) {
		return web_http_config(h, c, &p);
	} else if (!strcmp(url, "/commission")) {
		return web_commission_page(h, c, rq, &p);
	} else {
		return web_http_error(h, c, rq, MHD_HTTP_NOT_FOUND, T("Page not found."));
	}
	json_decref(reply);
	return web_http_page(h, c, MHD_HTTP_OK, &b, NULL);
}

/* GET /metrics: the status in the Prometheus text format; firegw_up 0 when firegw does not
 * answer (the scrape itself succeeds, so that the fleet sees which gateway's daemon is down). */
static enum MHD_Result web_http_metrics(struct web_http *h, struct MHD_Connection *c)
{
	char err[512];
	json_t *req = json_pack("{s:s}", "cmd", "status");
	json_t *reply = web_ctl_call(h->o.socket, req, WEB_HTTP_CTL_TIMEOUT_MS, err, sizeof(err));
	struct web_buf b;
	size_t len;

	json_decref(req);
	if (reply && !json_is_true(json_object_get(reply, "ok"))) {
		json_decref(reply);
		reply = NULL;
	}
	web_buf_init(&b);
	web_metrics_text(&b, reply);
	json_decref(reply);
	char *text = web_buf_take(&b, &len);
	return web_http_send(h, c, MHD_HTTP_OK, text, len, "text/plain; version=0.0.4; charset=utf-8",
	                     NULL);
}

/* POST /test: a test alarm end to end (the daemon's "test" request), then the item's page,
 * which follows its events to the platform as they happen. */
static enum MHD_Result web_http_test(struct web_http *h, struct MHD_Connection *c,
                                     struct web_req *rq, const char *who)
{
	char dev[sizeof(rq->device) * 4], to[256];
	enum MHD_Result rc;
	json_t *reply;

	textesc(dev, sizeof(dev), rq->device);
	log_notice(_("firegw-web: test alarm on %s: %s"), dev, who);
	if (!(reply = web_http_ask(h, c, rq, json_pack("{s:s, s:s}", "cmd", "test", "device",
	                                                rq->device),
	                           &rc)))
		return rc;
	const char *hid = json_string_value(json_object_get(reply, "hazard_id"));
	/* Ids are the gateway's own ([A-Za-z0-9_-]); anything else is not put in a header. */
	if (!hid || strspn(hid, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") !=
	                strlen(hid) || strlen(hid) > 128) {
		json_decref(reply);
		return web_http_error(h, c, rq, MHD_HTTP_BAD_GATEWAY, "?");
	}
	snprintf(to, sizeof(to), "/hazard?id=%s", hid);
	json_decref(reply);
	return web_http_redirect(h, c, to, NULL, false);
}

static void web_http_address(struct MHD_Connection *c, char *out, size_t len)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	snprintf(out, len, "?");
	if (sa)
		getnameinfo(sa, sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
		                                          : sizeof(struct sockaddr_in),
		            out, (socklen_t)len, NULL, 0, NI_NUMERICHOST);
}

static enum MHD_Result web_http_answer(struct web_http *h, struct MHD_Connection *c,
                                       struct web_req *rq, const char *url, const char *method)
{
	const char *qlang = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "lang");
	const char *sid = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "fgw_session");
	struct web_session s;
	bool have;
	char who[160];

	rq->lang = web_text_lang(
	    qlang, MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "fgw_lang"),
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_LANGUAGE));
	rq->lang_asked = qlang && (!strcmp(qlang, "en") || !strcmp(qlang, "zh"));
	web_http_address(c, rq->addr, sizeof(rq->addr));
	have = web_session_find(&h->sessions, sid, web_http_now(), &s) == 0;
	bool logged_in = have && s.user[0];
	if (logged_in)
		rq->session = s;

	if (rq->too_big)
		return web_http_error(h, c, rq, MHD_HTTP_CONTENT_TOO_LARGE, T("The request is too large."));
	if (!h->tls && !web_listen_host_ok(MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	                                                               MHD_HTTP_HEADER_HOST)))
		return web_http_error(h, c, rq, MHD_HTTP_MISDIRECTED_REQUEST,
		                      T("Open this console at 127.0.0.1 or localhost."));
	enum MHD_Result rc;

	if (!strcmp(method, MHD_HTTP_METHOD_POST)) {
		if (!strcmp(url, "/login"))
			return web_http_login(h, c, rq, &s, have);
		web_http_who(who, sizeof(who), have ? s.user : "", rq->addr);
		if (!logged_in || !web_session_csrf_ok(&s, rq->csrf)) {
			char u[256];

			textesc(u, sizeof(u), url);
			log_notice(_("firegw-web: POST %s refused (no session or no valid CSRF token): %s"),
			           u, who);
			return web_http_error(
			    h, c, rq, MHD_HTTP_FORBIDDEN,
			    T("Your session has expired or the form is stale; please try again."));
		}
		if (!strcmp(url, "/test"))
			return web_http_test(h, c, rq, who);
		if (web_commission_post(h, c, rq, url, who, &rc))
			return rc;
		if (!strcmp(url, "/logout")) {
			web_session_drop(&h->sessions, s.id);
			log_notice(_("firegw-web: logout: %s"), who);
			return web_http_redirect(h, c, "/login", NULL, true);
		}
		return web_http_error(h, c, rq, MHD_HTTP_NOT_FOUND, T("Page not found."));
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return web_http_error(h, c, rq, MHD_HTTP_METHOD_NOT_ALLOWED, T("Method not allowed."));
	if (web_http_asset(h, c, url, &rc))
		return rc;
	if (!strcmp(url, "/metrics") && (logged_in || h->o.metrics_public))
		return web_http_metrics(h, c);
	if (!strcmp(url, "/login")) {
		if (logged_in)
			return web_http_redirect(h, c, "/", NULL, false);
		return web_http_login_page(h, c, rq, MHD_HTTP_OK, NULL, have ? &s : NULL);
	}
	if (!logged_in) {
		if (!strncmp(url, "/api/", 5) || !strcmp(url, "/metrics")) {
			char *t = strdup("{\"ok\":false,\"error\":\"not logged in\"}");
			return web_http_send(h, c, MHD_HTTP_UNAUTHORIZED, t, t ? strlen(t) : 0,
			                     "application/json", NULL);
		}
		return web_http_redirect(h, c, "/login", NULL, false);
	}
	return web_http_get(h, c, rq, url, &s);
}

static enum MHD_Result web_http_handler(void *cls, struct MHD_Connection *c, const char *url,
                                        const char *method, const char *version,
                                        const char *upload, size_t *upload_size, void **con_cls)
{
	struct web_http *h = cls;
	struct web_req *rq = *con_cls;

	if (!rq) {
		rq = calloc(1, sizeof(*rq));
		if (!rq)
			return MHD_NO;
		*con_cls = rq;
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
		                                             MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > WEB_HTTP_BODY_MAX)
			rq->too_big = true;
		else if (!strcmp(method, MHD_HTTP_METHOD_POST))
			rq->pp = MHD_create_post_processor(c, 1024, web_http_post_field, rq);
		if (rq->too_big) {
			/* Answered now: the body is never read. */
			rq->lang = WEB_LANG_ZH;
			return web_http_error(h, c, rq, MHD_HTTP_CONTENT_TOO_LARGE,
			                      "The request is too large.");
		}
		return MHD_YES;
	}
	if (*upload_size) {
		rq->body += *upload_size;
		if (rq->body > WEB_HTTP_BODY_MAX)
			rq->too_big = true;
		else if (rq->pp)
			MHD_post_process(rq->pp, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	web_http_current = rq;
	enum MHD_Result rc = web_http_answer(h, c, rq, url, method);
	web_http_current = NULL;
	return rc;
}

static void web_http_done(void *cls, struct MHD_Connection *c, void **con_cls,
                          enum MHD_RequestTerminationCode toe)
{
	struct web_req *rq = *con_cls;

	if (!rq)
		return;
	if (rq->pp)
		MHD_destroy_post_processor(rq->pp);
	explicit_bzero(rq, sizeof(*rq));
	free(rq);
	*con_cls = NULL;
}

static void web_http_mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* libmicrohttpd's own messages, into firegw's log (one line each). */
static void web_http_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];

	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	log_info("firegw-web: libmicrohttpd: %s", line);
}

/* ---------------------------------------------------------------- starting */

static char *web_http_pem(const char *path)
{
	char err[512];
	char *t = web_config_read(path, err, sizeof(err));

	if (!t)
		log_err("firegw-web: %s", err);
	return t;
}

struct web_http *web_http_start(const struct web_http_options *o)
{
	struct web_http *h = calloc(1, sizeof(*h));
	struct sockaddr_storage ss = {0};
	bool loopback = false;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_AUTO;

	if (!h)
		return NULL;
	h->o = *o;
	web_session_init(&h->sessions);
	web_ratelimit_init(&h->limit);
	if (!web_listen_parse(o->listen, &ss, &loopback))
		goto fail;
	if (!!o->tls_cert != !!o->tls_key) {
		log_err(_("firegw-web: TLS needs both --tls-cert and --tls-key"));
		goto fail;
	}
	if (o->tls_cert) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			log_err(_("firegw-web: this libmicrohttpd has no TLS"));
			goto fail;
		}
		if (!(h->cert = web_http_pem(o->tls_cert)) || !(h->key = web_http_pem(o->tls_key)))
			goto fail;
		h->tls = true;
		flags |= MHD_USE_TLS;
	} else if (!loopback) {
		log_err(_("firegw-web: plain HTTP is only served on 127.0.0.1 or ::1 (%s is not): give "
		          "--tls-cert and --tls-key to listen on another address"),
		        o->listen);
		goto fail;
	}
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	struct MHD_OptionItem tls_opts[] = {
	    {MHD_OPTION_HTTPS_MEM_CERT, 0, h->cert},
	    {MHD_OPTION_HTTPS_MEM_KEY, 0, h->key},
	    {MHD_OPTION_END, 0, NULL},
	};
	h->mhd = MHD_start_daemon(
	    flags, 0, NULL, NULL, web_http_handler, h, MHD_OPTION_EXTERNAL_LOGGER, web_http_mhd_log,
	    h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)WEB_HTTP_CONNECTIONS,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)WEB_HTTP_PER_ADDRESS,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)WEB_HTTP_MEMORY,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)WEB_HTTP_TIMEOUT_S,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned)WEB_HTTP_THREADS,
	    MHD_OPTION_NOTIFY_COMPLETED, web_http_done, h, MHD_OPTION_ARRAY, h->tls ? tls_opts : tls_opts + 2, MHD_OPTION_END);
	if (!h->mhd) {
		log_err(_("firegw-web: cannot listen on %s: %s"), o->listen, strerror(errno));
		goto fail;
	}
	return h;
fail:
	web_http_stop(h);
	return NULL;
}

int web_http_port(struct web_http *h)
{
	const union MHD_DaemonInfo *i = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_BIND_PORT);

	return i ? i->port : -1;
}

void web_http_stop(struct web_http *h)
{
	if (!h)
		return;
	if (h->mhd)
		MHD_stop_daemon(h->mhd);
	web_session_destroy(&h->sessions);
	web_ratelimit_destroy(&h->limit);
	if (h->key)
		explicit_bzero(h->key, strlen(h->key));
	free(h->cert);
	free(h->key);
	free(h);
}
