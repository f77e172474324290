/* SPDX-License-Identifier: MIT */
/* web_listen: where firegw-web listens and which names it answers to. --listen is
 * "ADDRESS:PORT" or "[IPv6]:PORT" with a numeric address (no name lookup); on plain HTTP,
 * which is only served on loopback, a request's Host must be a loopback name too, so that a
 * page elsewhere that rebinds its own name to 127.0.0.1 (DNS rebinding) gets nothing. */
#pragma once

#include <stdbool.h>
#include <sys/socket.h>

/* Parses listen into *ss and says whether it is a loopback address; false with the reason
 * logged. */
bool web_listen_parse(const char *listen, struct sockaddr_storage *ss, bool *loopback);
/* True if host (a Host header; NULL when absent) is 127.0.0.1, [::1] or localhost, with or
 * without a port. */
bool web_listen_host_ok(const char *host);
