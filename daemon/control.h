/* SPDX-License-Identifier: MIT */
/* control: the operators' control socket. A unix stream socket (0660, group firegw when
 * that group exists) on the main loop; each line a client sends is one JSON request, each
 * reply one JSON line. Besides the socket's mode, each connection's credentials
 * (SO_PEERCRED, SO_PEERGROUPS) are checked at accept: root, firegw's own user and members of
 * the socket's group are served, anyone else gets an error and the connection closes (a
 * socket whose mode was widened by hand stays closed to them). A request that is not JSON, not an
 * object, or longer than 64 KiB gets an error reply (too long: and the connection is closed);
 * nothing a client sends can stop or slow the daemon beyond its own connection. What a request does
 * is the handler's. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>
#include <uv.h>

/* Who is on the other end of a connection, as the kernel says (SO_PEERCRED). */
struct control_peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
};

/* Called with each non-blank line a client sends (without its newline and trailing blanks;
 * not NUL-terminated) and who sent it. Returns the reply (new reference): {"ok": true, ...}
 * or {"ok": false, "error": "..."}. */
typedef json_t *(*control_handler_fn)(const char *line, size_t len, const struct control_peer *peer,
                                      void *userdata);

struct control;

/* NULL with the reason logged if the socket cannot be made. */
struct control *control_start(uv_loop_t *loop, const char *path, control_handler_fn fn,
                              void *userdata);
void control_stop(struct control *c);
/* A reply in the usual shape. */
json_t *control_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
