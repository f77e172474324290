/* SPDX-License-Identifier: MIT */
/* web_ctl: one request to firegw's control socket, with a deadline and a bounded reply. */
#include "web_ctl.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "i18n.h"

static long long web_ctl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for fd to be ready for events until the deadline; 0 ready, -1 with errno (ETIMEDOUT). */
static int web_ctl_wait(int fd, short events, long long deadline)
{
	for (;;) {
		long long left = deadline - web_ctl_now_ms();
		struct pollfd p = {.fd = fd, .events = events};

		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		int r = poll(&p, 1, (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

static int web_ctl_connect(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, _("control socket path %s is too long"), path);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int e = errno;

		if (e == ENOENT || e == ECONNREFUSED)
			snprintf(err, errlen, _("firegw is not running (nothing answers on %s)"), path);
		else if (e == EACCES)
			snprintf(err, errlen,
			         _("%s: permission denied; firegw-web's user must be in group firegw"),
			         path);
		else
			snprintf(err, errlen, "%s: %s", path, strerror(e));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

json_t *web_ctl_call(const char *path, json_t *req, int timeout_ms, char *err, size_t errlen)
{
	long long deadline = web_ctl_now_ms() + timeout_ms;
	char *text = json_dumps(req, JSON_COMPACT), *buf = NULL, *nl = NULL;
	size_t len = 0, cap = 0, sent = 0, tl;
	json_error_t jerr;
	json_t *reply = NULL;
	int fd;

	if (!text) {
		snprintf(err, errlen, _("out of memory"));
		return NULL;
	}
	if ((fd = web_ctl_connect(path, err, errlen)) < 0) {
		free(text);
		return NULL;
	}
	tl = strlen(text);
	text[tl] = '\n'; /* json_dumps leaves room for nothing more: replace the NUL */
	tl++;
	while (sent < tl) {
		ssize_t n;

		if (web_ctl_wait(fd, POLLOUT, deadline) != 0)
			goto io_error;
		n = send(fd, text + sent, tl - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			goto io_error;
		sent += (size_t)n;
	}
	while (!nl) {
		ssize_t n;

		if (len + 65536 + 1 > cap) {
			if (cap >= WEB_CTL_REPLY_MAX) {
				snprintf(err, errlen, _("firegw's reply is longer than %u bytes"),
				         WEB_CTL_REPLY_MAX);
				goto out;
			}
			cap = cap ? cap * 2 : 131072;
			char *b = realloc(buf, cap);
			if (!b) {
				snprintf(err, errlen, _("out of memory"));
				goto out;
			}
			buf = b;
		}
		if (web_ctl_wait(fd, POLLIN, deadline) != 0)
			goto io_error;
		n = recv(fd, buf + len, cap - len - 1, MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			goto io_error;
		if (n == 0) {
			snprintf(err, errlen, _("firegw closed the connection without a reply"));
			goto out;
		}
		nl = memchr(buf + len, '\n', (size_t)n);
		len += (size_t)n;
	}
	reply = json_loadb(buf, (size_t)(nl - buf), 0, &jerr);
	if (!json_is_object(reply)) {
		json_decref(reply);
		reply = NULL;
		snprintf(err, errlen, _("firegw's reply is not a JSON object: %s"), jerr.text);
	}
	goto out;
io_error:
	if (errno == ETIMEDOUT)
		snprintf(err, errlen, _("firegw did not answer within %d s"), timeout_ms / 1000);
	else
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
out:
	close(fd);
	free(text);
	free(buf);
	return reply;
}
