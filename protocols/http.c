/* SPDX-License-Identifier: MIT */
/* http: libcurl multi inside libuv. */
#include "http.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "firegw-config.h"


struct http_req {
	struct http *h;
	CURL *easy;
	struct curl_slist *headers;
	char *body;
	char *reply;
	size_t len, cap;
	int64_t retry_after_ms;
	char retry_after[128]; /* the header's value; judged when the reply is complete */
	time_t date;           /* the reply's Date header, 0 if none */
	bool too_big;
	char errbuf[CURL_ERROR_SIZE];
	http_done_fn done;
	http_sent_fn sent; /* NULL: not asked */
	bool sent_due;     /* the whole request is written; sent not called yet */
	void *userdata;
	struct http_req *next;
};

struct http_sock {
	uv_poll_t poll;
	curl_socket_t fd;
	struct http *h;
};

struct http {
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t timer;
	struct http_req *reqs;
	size_t n;
	bool sent_due; /* some request's sent is due */
};

static void http_check_done(struct http *h);

static void http_sock_closed(uv_handle_t *handle)
{
	free(handle->data);
}

static void http_on_poll(uv_poll_t *p, int status, int events)
{
	struct http_sock *hs = p->data;
	struct http *h = hs->h;
	curl_socket_t fd = hs->fd; /* hs may go during the call */
	int flags = 0, running;

	/* libuv reports an error condition on the socket (a reset, a refused connection) as a
	 * negative status and stops the handle. CURL_CSELECT_ERR alone makes curl give up with
	 * "select/poll returned error"; with IN and OUT it reads or writes and reports what
	 * really happened ("Connection reset by peer"). */
	if (status < 0)
		flags = CURL_CSELECT_ERR | CURL_CSELECT_IN | CURL_CSELECT_OUT;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(h->multi, fd, flags, &running);
	http_check_done(h);
}

static int http_on_socket(CURL *easy, curl_socket_t s, int action, void *userp, void *socketp)
{
	struct http *h = userp;
	struct http_sock *hs = socketp;

	(void)easy;
	if (action == CURL_POLL_REMOVE) {
		if (hs) {
			uv_poll_stop(&hs->poll);
			uv_close((uv_handle_t *)&hs->poll, http_sock_closed);
			curl_multi_assign(h->multi, s, NULL);
		}
		return 0;
	}
	if (!hs) {
		hs = calloc(1, sizeof(*hs));
		if (!hs)
			return -1;
		hs->fd = s;
		hs->h = h;
		if (uv_poll_init_socket(h->loop, &hs->poll, s) != 0) {
			free(hs);
			return -1;
		}
		hs->poll.data = hs;
		curl_multi_assign(h->multi, s, hs);
	}
	int ev = ((action & CURL_POLL_IN) ? UV_READABLE : 0) |
	         ((action & CURL_POLL_OUT) ? UV_WRITABLE : 0);
	uv_poll_start(&hs->poll, ev, http_on_poll);
	return 0;
}

static void http_on_timeout(uv_timer_t *t)
{
	struct http *h = t->data;
	int running;

	curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	http_check_done(h);
}

static int http_on_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct http *h = userp;

	(void)multi;
	if (timeout_ms < 0)
		uv_timer_stop(&h->timer);
	else
		uv_timer_start(&h->timer, http_on_timeout, (uint64_t)timeout_ms, 0);
	return 0;
}

struct http *http_new(uv_loop_t *loop)
{
	static bool global_done;
	struct http *h;

	if (!global_done) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
			return NULL;
		global_done = true;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->loop = loop;
	h->multi = curl_multi_init();
	if (!h->multi) {
		free(h);
		return NULL;
	}
	uv_timer_init(loop, &h->timer);
	h->timer.data = h;
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, http_on_socket);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, http_on_timer);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	return h;
}

static void http_req_free(struct http_req *r)
{
	curl_slist_free_all(r->headers);
	if (r->easy)
		curl_easy_cleanup(r->easy);
	free(r->body);
	free(r->reply);
	free(r);
}

static void http_unlink(struct http *h, struct http_req *r)
{
	for (struct http_req **p = &h->reqs; *p; p = &(*p)->next)
		if (*p == r) {
			*p = r->next;
			h->n--;
			return;
		}
}

static void http_timer_closed(uv_handle_t *handle)
{
	free(handle->data);
}

void http_free(struct http *h)
{
	if (!h)
		return;
	while (h->reqs) {
		struct http_req *r = h->reqs;

		h->reqs = r->next;
		curl_multi_remove_handle(h->multi, r->easy);
		http_req_free(r);
	}
	curl_multi_cleanup(h->multi);
	uv_close((uv_handle_t *)&h->timer, http_timer_closed);
}

void http_cancel(struct http *h, bool (*match)(void *userdata, void *arg), void *arg)
{
	struct http_req **p = &h->reqs;

	while (*p) {
		struct http_req *r = *p;

		if (!match(r->userdata, arg)) {
			p = &r->next;
			continue;
		}
		*p = r->next;
		h->n--;
		curl_multi_remove_handle(h->multi, r->easy);
		http_req_free(r);
	}
}

size_t http_in_flight(const struct http *h)
{
	return h->n;
}

/* libcurl's progress: the upload is complete when all of it is counted. Only noted here (a
 * callback of libcurl may not remove a transfer); http_tell_sent calls sent after. */
static int http_on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow,
                            curl_off_t ultotal, curl_off_t ulnow)
{
	struct http_req *r = userdata;

	(void)dltotal;
	(void)dlnow;
	if (r->sent && ultotal > 0 && ulnow >= ultotal) {
		r->sent_due = true;
		r->h->sent_due = true;
	}
	return 0;
}

/* Calls sent for each request written out since the last time, outside libcurl; a sent may
 * cancel requests, so the list is searched again after each. */
static void http_tell_sent(struct http *h)
{
	while (h->sent_due) {
		struct http_req *r = h->reqs;

		while (r && !r->sent_due)
			r = r->next;
		if (!r) {
			h->sent_due = false;
			break;
		}
		r->sent_due = false;
		http_sent_fn sent = r->sent;

		r->sent = NULL; /* once */
		sent(r->userdata);
	}
}

static size_t http_on_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct http_req *r = userdata;
	size_t n = size * nmemb;

	if (r->len + n + 1 > HTTP_MAX_REPLY) {
		r->too_big = true;
		return 0; /* aborts the transfer */
	}
	if (r->len + n + 1 > r->cap) {
		size_t cap = r->cap ? r->cap : 4096;
		char *b;

		while (cap < r->len + n + 1)
			cap *= 2;
		b = realloc(r->reply, cap);
		if (!b)
			return 0;
		r->reply = b;
		r->cap = cap;
	}
	memcpy(r->reply + r->len, ptr, n);
	r->len += n;
	r->reply[r->len] = '\0';
	return n;
}

int64_t http_retry_after_ms(const char *value, time_t now)
{
	/* Beyond this a value means "not for a long time"; the caller caps it further. */
	const long long max_s = 10LL * 365 * 86400;
	const char *v = value;
	char *end;

	while (*v == ' ' || *v == '\t')
		v++;
	if (*v >= '0' && *v <= '9') {
		long long secs = strtoll(v, &end, 10); /* LLONG_MAX when out of range */

		while (*end == ' ' || *end == '\t')
			end++;
		if (*end == '\0')
			return (secs > max_s ? max_s : secs) * 1000;
	}
	time_t when = curl_getdate(v, NULL);
	if (when <= 0)
		return -1;
	if ((long long)when - (long long)now > max_s)
		return max_s * 1000;
	return when > now ? ((int64_t)when - (int64_t)now) * 1000 : 0;
}

static size_t http_on_header(char *buf, size_t size, size_t nitems, void *userdata)
{
	struct http_req *r = userdata;
	size_t n = size * nitems;
	char value[128];
	size_t skip = n > 12 && strncasecmp(buf, "Retry-After:", 12) == 0 ? 12
	              : n > 5 && strncasecmp(buf, "Date:", 5) == 0        ? 5
	                                                                  : 0;

	if (skip) {
		size_t vlen = n - skip < sizeof(value) - 1 ? n - skip : sizeof(value) - 1;

		memcpy(value, buf + skip, vlen);
		value[vlen] = '\0';
		while (vlen > 0 && (value[vlen - 1] == '\r' || value[vlen - 1] == '\n'))
			value[--vlen] = '\0';
		if (skip == 12)
			snprintf(r->retry_after, sizeof(r->retry_after), "%s", value);
		else
			r->date = curl_getdate(value, NULL);
	}
	return n;
}

/* Whom the platform's certificate must chain to. With a ca_file, that file alone: libcurl
 * would otherwise keep its default CA directory (/etc/ssl/certs) as well and accept any
 * public CA, unlike the MQTT client (protocols/mqtt_client.c). Without one, the system's CAs
 * through that hashed directory, looked up one certificate at a time, rather than the whole
 * bundle file parsed into memory (~1 MB of heap for Debian's 144 CAs); the bundle only when
 * this libcurl has no CA directory. */
static void http_set_trust(CURL *e, const char *ca_file)
{
	const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);

	if (ca_file) {
		curl_easy_setopt(e, CURLOPT_CAINFO, ca_file);
		curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
	} else if (v->age >= CURLVERSION_SEVENTH && v->capath) {
		curl_easy_setopt(e, CURLOPT_CAINFO, NULL);
	}
}

int http_post_json(struct http *h, const char *url, const char *bearer, char *body,
                   size_t len, const struct http_tls *tls, int64_t connect_timeout_ms,
                   int64_t timeout_ms, http_done_fn done, http_sent_fn sent, void *userdata)
{
	struct http_req *r;
	char *auth = NULL;

	if (bearer && strlen(bearer) > HTTP_MAX_BEARER) {
		free(body);
		return -E2BIG;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		free(body);
		return -ENOMEM;
	}
	r->h = h;
	r->done = done;
	r->sent = sent;
	r->userdata = userdata;
	r->retry_after_ms = -1;
	r->easy = curl_easy_init();
	r->body = body;
	if (!r->easy) {
		http_req_free(r);
		return -ENOMEM;
	}
	r->headers = curl_slist_append(r->headers, "Content-Type: application/json; charset=utf-8");
	r->headers = curl_slist_append(r->headers, "Accept: application/json");
	r->headers = curl_slist_append(r->headers, "Expect:");
	if (bearer && *bearer) {
		if (asprintf(&auth, "Authorization: Bearer %s", bearer) < 0) {
			http_req_free(r);
			return -ENOMEM;
		}
		r->headers = curl_slist_append(r->headers, auth);
		explicit_bzero(auth, strlen(auth));
		free(auth);
	}
	CURL *e = r->easy;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_POST, 1L);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, http_on_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, http_on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
	if (sent) {
		curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, http_on_progress);
		curl_easy_setopt(e, CURLOPT_XFERINFODATA, r);
	}
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "firegw/" FIREGW_VERSION);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	/* No plaintext, ever, and no redirect to it. */
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	http_set_trust(e, tls ? tls->ca_file : NULL);
	if (tls) {
		if (tls->cert_file)
			curl_easy_setopt(e, CURLOPT_SSLCERT, tls->cert_file);
		if (tls->key_file)
			curl_easy_setopt(e, CURLOPT_SSLKEY, tls->key_file);
		if (tls->pin)
			curl_easy_setopt(e, CURLOPT_PINNEDPUBLICKEY, tls->pin);
	}
	if (curl_multi_add_handle(h->multi, e) != CURLM_OK) {
		http_req_free(r);
		return -EIO;
	}
	r->next = h->reqs;
	h->reqs = r;
	h->n++;
	return 0;
}

static void http_check_done(struct http *h)
{
	CURLMsg *msg;
	int left;

	/* A request written out is told so before its answer. */
	http_tell_sent(h);
	while ((msg = curl_multi_info_read(h->multi, &left))) {
		struct http_req *r = NULL;
		struct http_reply rep;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		memset(&rep, 0, sizeof(rep));
		rep.curl_code = msg->data.result;
		if (rep.curl_code == CURLE_OK)
			curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &rep.status);
		rep.error = r->too_big     ? "reply larger than 1 MiB"
		            : r->errbuf[0] ? r->errbuf
		                           : curl_easy_strerror(msg->data.result);
		rep.body = r->reply ? r->reply : "";
		rep.len = r->len;
		/* An HTTP date in Retry-After counts from the reply's Date, which comes from the
		 * same clock: a gateway whose own clock is wrong by a day still waits as asked. */
		if (r->retry_after[0])
			r->retry_after_ms =
			    http_retry_after_ms(r->retry_after, r->date > 0 ? r->date : time(NULL));
		rep.retry_after_ms = r->retry_after_ms;
		curl_multi_remove_handle(h->multi, r->easy);
		http_unlink(h, r);
		r->done(&rep, r->userdata);
		http_req_free(r);
	}
}
