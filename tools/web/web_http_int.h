/* SPDX-License-Identifier: MIT */
/* web_http_int: what web_http.c shares with the route files beside it (web_commission.c): the
 * server's and the request's state, the replies every route builds from (a page, a redirect,
 * an error page, a question to the daemon), and the routes those files answer. Not for
 * anything outside firegw-web's HTTP side. */
#pragma once

#include <jansson.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>

#include "web_buf.h"
#include "web_http.h"
#include "web_passwd.h"
#include "web_ratelimit.h"
#include "web_session.h"
#include "web_text.h"

struct web_http {
	struct web_http_options o;
	struct MHD_Daemon *mhd;
	struct web_sessions sessions;
	struct web_ratelimit limit;
	char *cert, *key; /* the PEM texts MHD is given */
	bool tls;
};

/* One request, across the calls MHD makes for it. Each form field has its bound: a longer one
 * makes the request too big. */
struct web_req {
	struct MHD_PostProcessor *pp;
	size_t body;  /* bytes of body seen */
	bool too_big; /* over WEB_HTTP_BODY_MAX: refused whole */
	char user[WEB_PASSWD_USER_MAX + 2];
	char password[WEB_PASSWD_PASSWORD_MAX + 2];
	char csrf[WEB_SESSION_ID_LEN + 2];
	char device[130];
	char bus[130];   /* scan: the bus */
	char units[16];  /* scan: "N" or "N-M" */
	char timeout[8]; /* scan: ms per unit */
	char job[40];    /* scan-cancel: the job's id */
	/* Filled when the request is answered. */
	enum web_lang lang;
	bool lang_asked; /* ?lang= given: remembered in the fgw_lang cookie */
	char addr[64];
	struct web_session session; /* the request's live session, if any (for the navigation) */
};

int64_t web_http_now(void);
/* Queues body (taken over: freed by MHD) with the headers of every reply; a NULL body (a page
 * that could not be built) becomes a 500. */
enum MHD_Result web_http_send(struct web_http *h, struct MHD_Connection *c, unsigned status,
                              char *body, size_t len, const char *ctype,
                              const struct web_session *cookie);
enum MHD_Result web_http_page(struct web_http *h, struct MHD_Connection *c, unsigned status,
                              struct web_buf *b, const struct web_session *cookie);
enum MHD_Result web_http_redirect(struct web_http *h, struct MHD_Connection *c, const char *to,
                                  const struct web_session *cookie, bool clear);
enum MHD_Result web_http_error(struct web_http *h, struct MHD_Connection *c, struct web_req *rq,
                               unsigned status, const char *message);
/* The daemon's reply to req (taken over), or NULL after an error page was queued in *rc. */
json_t *web_http_ask(struct web_http *h, struct MHD_Connection *c, struct web_req *rq, json_t *req,
                     enum MHD_Result *rc);
/* "user admin from 192.0.2.7", escaped: for every action's log line. */
void web_http_who(char *out, size_t len, const char *user, const char *addr);

/* web_commission.c: the commissioning page's routes. POST /scan, /probe and /scan-cancel start
 * or stop a job on a bus worker of the daemon (its scan, probe and scan-cancel requests), each
 * logged with the user and address; the CSRF token is checked before. Answers a POST to url if
 * it is one of these; false when it is not. */
struct web_page;
bool web_commission_post(struct web_http *h, struct MHD_Connection *c, struct web_req *rq,
                         const char *url, const char *who, enum MHD_Result *rc);
/* GET /commission[?job=ID]: the forms and the followed job, whose progress app.js refreshes. */
enum MHD_Result web_commission_page(struct web_http *h, struct MHD_Connection *c,
                                    struct web_req *rq, const struct web_page *p);
