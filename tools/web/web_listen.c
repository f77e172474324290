/* SPDX-License-Identifier: MIT */
/* web_listen: the --listen address, and the Host names answered on plain HTTP. */
#include "web_listen.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "i18n.h"
#include "log.h"

bool web_listen_parse(const char *listen, struct sockaddr_storage *ss, bool *loopback)
{
	char host[128];
	const char *colon = strrchr(listen, ':');
	struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
	                         .ai_socktype = SOCK_STREAM},
	                *ai = NULL;

	if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof(host)) {
		log_err(_("firegw-web: --listen %s: give ADDRESS:PORT, e.g. 127.0.0.1:8080"), listen);
		return false;
	}
	snprintf(host, sizeof(host), "%.*s", (int)(colon - listen), listen);
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	int e = getaddrinfo(host, colon + 1, &hints, &ai);
	if (e != 0 || !ai) {
		log_err(_("firegw-web: --listen %s: %s"), listen, gai_strerror(e));
		return false;
	}
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	if (ai->ai_family == AF_INET)
		*loopback = (ntohl(((struct sockaddr_in *)ai->ai_addr)->sin_addr.s_addr) >> 24) == 127;
	else
		*loopback = IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr);
	freeaddrinfo(ai);
	return true;
}

bool web_listen_host_ok(const char *host)
{
	static const char *const names[] = {"127.0.0.1", "[::1]", "localhost"};

	if (!host)
		return false;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t n = strlen(names[i]);

		if (strncasecmp(host, names[i], n) == 0 &&
		    (host[n] == '\0' ||
		     (host[n] == ':' && strspn(host + n + 1, "0123456789") == strlen(host + n + 1))))
			return true;
	}
	return false;
}
