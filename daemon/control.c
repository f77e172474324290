/* SPDX-License-Identifier: MIT */
/* control: the control socket server and its line framing (what a line means is the
 * handler's: ctl.c with ctl_request.c). */
#include "control.h"

#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "i18n.h"
#include "log.h"

#define CONTROL_MAX_LINE    (64 * 1024)
#define CONTROL_MAX_CLIENTS 32
#define CONTROL_MAX_QUEUED  (8 * 1024 * 1024)
/* A connection that has not completed a request for this long is closed, so that idle
 * connections cannot hold all CONTROL_MAX_CLIENTS places and lock firegwctl out.
 * firegwctl sends its request as soon as it connects and reads the reply at once; 10 s is
 * far more than it needs, even on a loaded gateway. */
#define CONTROL_IDLE_MS 10000
/* Refusals (not admitted, or every place taken) are logged at most this often. */
#define CONTROL_REFUSAL_LOG_MS 60000

/* One warning per CONTROL_REFUSAL_LOG_MS for a kind of refusal; the rest are counted and the
 * count goes into the next warning. */
struct control_ratelimit {
	uint64_t logged_ms; /* 0: never logged */
	unsigned long quiet;
};

struct control_client {
	uv_pipe_t pipe;
	struct control *ctl;
	uv_timer_t idle; /* closes the connection after CONTROL_IDLE_MS without a request */
	struct control_peer peer;
	char *buf;
	size_t len;
	bool closing;
	int open_handles; /* pipe and idle timer: the struct goes when both are closed */
	struct control_client *next;
};

struct control {
	uv_pipe_t server;
	char *path;
	control_handler_fn fn;
	void *userdata;
	struct control_client *clients;
	size_t nclients;
	gid_t group; /* the socket's group: firegw, or firegw's own when there is none */
	struct control_ratelimit refused; /* peers not admitted */
	struct control_ratelimit full;    /* peers turned away: CONTROL_MAX_CLIENTS open */
	bool stopping;
	bool server_closed;
};

/* The struct goes when its server and every client handle are closed, in whatever order
 * libuv calls their close callbacks. */
static void control_maybe_free(struct control *c)
{
	if (c->stopping && c->server_closed && c->nclients == 0) {
		free(c->path);
		free(c);
	}
}

json_t *control_error(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
}

static void control_client_closed(uv_handle_t *h)
{
	struct control_client *cl = h->data;
	struct control *c = cl->ctl;

	if (--cl->open_handles > 0)
		return;
	for (struct control_client **p = &c->clients; *p; p = &(*p)->next)
		if (*p == cl) {
			*p = cl->next;
			c->nclients--;
			break;
		}
	free(cl->buf);
	free(cl);
	control_maybe_free(c);
}

static void control_client_close(struct control_client *cl)
{
	if (cl->closing)
		return;
	cl->closing = true;
	uv_close((uv_handle_t *)&cl->idle, control_client_closed);
	uv_close((uv_handle_t *)&cl->pipe, control_client_closed);
}

static void control_idle_timeout(uv_timer_t *t)
{
	struct control_client *cl = t->data;

	log_debug("control socket: closed a connection (pid %ld) idle for %d s without a "
	          "complete request",
	          (long)cl->peer.pid, CONTROL_IDLE_MS / 1000);
	control_client_close(cl);
}

struct control_write {
	uv_write_t req;
	char *text;
};

static void control_written(uv_write_t *req, int status)
{
	struct control_write *w = (struct control_write *)req;

	(void)status;
	free(w->text);
	free(w);
}

static void control_reply(struct control_client *cl, json_t *reply, bool then_close)
{
	struct control_write *w = calloc(1, sizeof(*w));
	char *text = reply ? json_dumps(reply, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
	size_t n;

	json_decref(reply);
	if (!w || !text) {
		free(w);
		free(text);
		control_client_close(cl);
		return;
	}
	n = strlen(text);
	w->text = malloc(n + 2);
	if (!w->text) {
		free(text);
		free(w);
		control_client_close(cl);
		return;
	}
	memcpy(w->text, text, n);
	free(text);
	w->text[n] = '\n';
	w->text[n + 1] = '\0';
	uv_buf_t buf = uv_buf_init(w->text, (unsigned)(n + 1));
	if (uv_write(&w->req, (uv_stream_t *)&cl->pipe, &buf, 1, control_written) != 0) {
		free(w->text);
		free(w);
		control_client_close(cl);
		return;
	}
	/* A client that sends and never reads would make the daemon hold its replies. */
	if (then_close ||
	    uv_stream_get_write_queue_size((uv_stream_t *)&cl->pipe) > CONTROL_MAX_QUEUED) {
		if (!then_close)
			log_warn(_("control socket: a client does not read its replies; closed"));
		control_client_close(cl);
	}
}

static void control_line(struct control_client *cl, const char *line, size_t len)
{
	json_t *reply;

	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' '))
		len--;
	if (len == 0)
		return;
	/* A complete request: the client has another CONTROL_IDLE_MS for its next one. */
	uv_timer_again(&cl->idle);
	reply = cl->ctl->fn(line, len, &cl->peer, cl->ctl->userdata);
	control_reply(cl, reply ? reply : control_error(_("internal error")), false);
}

static void control_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct control_client *cl = h->data;
	size_t want = cl->len + 4096;

	(void)suggested;
	if (want > CONTROL_MAX_LINE + 4096)
		want = CONTROL_MAX_LINE + 4096;
	char *b = realloc(cl->buf, want);
	if (!b) {
		*buf = uv_buf_init(NULL, 0);
		return;
	}
	cl->buf = b;
	*buf = uv_buf_init(cl->buf + cl->len, (unsigned)(want - cl->len));
}

static void control_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct control_client *cl = s->data;
	char *nl;

	(void)buf;
	if (n < 0) {
		control_client_close(cl);
		return;
	}
	cl->len += (size_t)n;
	while (!cl->closing && (nl = memchr(cl->buf, '\n', cl->len))) {
		size_t used = (size_t)(nl - cl->buf) + 1;

		control_line(cl, cl->buf, used - 1);
		memmove(cl->buf, cl->buf + used, cl->len - used);
		cl->len -= used;
	}
	if (cl->len > CONTROL_MAX_LINE) {
		uv_read_stop(s);
		cl->len = 0;
		control_reply(cl, control_error(_("request longer than %d bytes"), CONTROL_MAX_LINE),
		              true);
	}
}

/* 1 if the peer of fd is root, firegw's user, or in the socket's group (as its primary
 * group or a supplementary one), 0 if not, -errno if the kernel would not say; fills peer.
 * The kernel already checked the socket's mode; this holds when someone widened it. */
static int control_admit(struct control *c, int fd, struct control_peer *peer)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	gid_t groups[64], *g = groups;
	bool in = false;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
		return -errno;
	if (len != sizeof(cred))
		return -EPROTO;
	peer->pid = cred.pid;
	peer->uid = cred.uid;
	peer->gid = cred.gid;
	if (cred.uid == 0 || cred.uid == geteuid() || cred.gid == c->group)
		return 1;
	len = sizeof(groups);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len) != 0) {
		if (errno != ERANGE || !(g = malloc(len)) ||
		    getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len) != 0)
			len = 0;
	}
	for (size_t i = 0; i < len / sizeof(gid_t) && !in; i++)
		in = g[i] == c->group;
	if (g != groups)
		free(g);
	return in;
}

/* True if a refusal may be logged now; else it is counted. *quiet: the refusals not logged
 * since the last warning (which the warning should mention). */
static bool control_ratelimit(struct control *c, struct control_ratelimit *rl, unsigned long *quiet)
{
	uint64_t now = uv_now(c->server.loop);

	if (rl->logged_ms && now - rl->logged_ms < CONTROL_REFUSAL_LOG_MS) {
		rl->quiet++;
		return false;
	}
	*quiet = rl->quiet;
	rl->logged_ms = now ? now : 1;
	rl->quiet = 0;
	return true;
}

/* A refused peer is logged at most once a minute, with how many went unlogged. */
static void control_refused(struct control *c, const struct control_peer *peer, int rc)
{
	unsigned long quiet;

	if (!control_ratelimit(c, &c->refused, &quiet))
		return;
	if (rc < 0)
		log_warn(_("control socket %s: refused a connection whose credentials the kernel "
		         "would not give (%s); %lu more refused since the last warning"),
		         c->path, strerror(-rc), quiet);
	else
		log_warn(_("control socket %s: refused a connection from uid %ld (pid %ld): not "
		         "root, not firegw's user and not in the socket's group; is the socket's "
		         "mode still 0660? %lu more refused since the last warning"),
		         c->path, (long)peer->uid, (long)peer->pid, quiet);
}

/* Every place taken: logged at most once a minute, with how many went unlogged. */
static void control_full(struct control *c, const struct control_peer *peer)
{
	unsigned long quiet;

	if (!control_ratelimit(c, &c->full, &quiet))
		return;
	log_warn(_("control socket %s: turned away a connection from uid %ld (pid %ld): all %d "
	         "places are taken (idle ones close after %d s); %lu more turned away since the "
	         "last warning. If this repeats, look for a process that holds connections open"),
	         c->path, (long)peer->uid, (long)peer->pid, CONTROL_MAX_CLIENTS,
	         CONTROL_IDLE_MS / 1000, quiet);
}

static void control_on_connection(uv_stream_t *server, int status)
{
	struct control *c = server->data;
	struct control_client *cl;

	if (status < 0)
		return;
	cl = calloc(1, sizeof(*cl));
	if (!cl)
		return;
	cl->ctl = c;
	uv_pipe_init(server->loop, &cl->pipe, 0);
	cl->pipe.data = cl;
	uv_timer_init(server->loop, &cl->idle);
	cl->idle.data = cl;
	cl->open_handles = 2;
	cl->next = c->clients;
	c->clients = cl;
	c->nclients++;
	if (uv_accept(server, (uv_stream_t *)&cl->pipe) != 0) {
		control_client_close(cl);
		return;
	}
	uv_os_fd_t fd;
	int in = uv_fileno((uv_handle_t *)&cl->pipe, &fd) == 0 ? control_admit(c, fd, &cl->peer)
	                                                       : -EBADF;
	if (in != 1) {
		control_refused(c, &cl->peer, in);
		control_reply(cl,
		              control_error(_("permission denied; run as root or as a member of "
		                            "group firegw")),
		              true);
		return;
	}
	if (c->nclients > CONTROL_MAX_CLIENTS) {
		control_full(c, &cl->peer);
		control_reply(cl,
		              control_error(_("too many control connections (%d); try again in %d s, "
		                            "when idle ones have been closed"),
		                            CONTROL_MAX_CLIENTS, CONTROL_IDLE_MS / 1000),
		              true);
		return;
	}
	uv_timer_start(&cl->idle, control_idle_timeout, CONTROL_IDLE_MS, CONTROL_IDLE_MS);
	if (uv_read_start((uv_stream_t *)&cl->pipe, control_alloc, control_read) != 0)
		control_client_close(cl);
}

static void control_server_closed(uv_handle_t *h)
{
	struct control *c = h->data;

	c->server_closed = true;
	control_maybe_free(c);
}

/* True if something accepts connections on `path`. */
static bool control_in_use(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool used;

	if (fd < 0)
		return false;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	used = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return used;
}

struct control *control_start(uv_loop_t *loop, const char *path, control_handler_fn fn,
                              void *userdata)
{
	struct control *c = calloc(1, sizeof(*c));
	struct group *g;
	int rc;

	if (!c)
		return NULL;
	if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		log_err(_("control socket %s: the path is longer than %zu bytes; choose a shorter "
		        "control_socket"),
		        path, sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
		free(c);
		return NULL;
	}
	c->path = strdup(path);
	if (!c->path) {
		log_err(_("control socket %s: out of memory; firegw runs on without its control "
		        "socket (restart it to get one)"),
		        path);
		free(c);
		return NULL;
	}
	c->fn = fn;
	c->userdata = userdata;
	if (control_in_use(path)) {
		log_err(_("control socket %s: another process answers on it (a second firegw?); "
		        "stop it or give this one another control_socket"),
		        path);
		free(c->path);
		free(c);
		return NULL;
	}
	/* A socket left by a daemon that died: nobody listens on it. */
	unlink(path);
	uv_pipe_init(loop, &c->server, 0);
	c->server.data = c;
	mode_t old = umask(0117);
	rc = uv_pipe_bind(&c->server, path);
	umask(old);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&c->server, 16, control_on_connection);
	if (rc != 0) {
		log_err(_("control socket %s: %s; check control_socket and that its directory "
		        "exists and is writable"),
		        path, uv_strerror(rc));
		c->stopping = true;
		uv_close((uv_handle_t *)&c->server, control_server_closed);
		return NULL;
	}
	/* The umask above made it 0660 already; this says so when it did not. */
	if (chmod(path, 0660) != 0)
		log_warn(_("control socket %s: cannot set its mode to 0660: %s; firegwctl may be "
		         "refused to group firegw (check the mode with ls -l)"),
		         path, strerror(errno));
	if ((g = getgrnam("firegw")) && chown(path, (uid_t)-1, g->gr_gid) != 0)
		log_warn(_("control socket %s: cannot give it to group firegw: %s"), path,
		         strerror(errno));
	/* The group the socket really has (a setgid directory gives its own). */
	struct stat st;
	c->group = stat(path, &st) == 0 ? st.st_gid : getegid();
	log_info("control socket %s", path);
	return c;
}

void control_stop(struct control *c)
{
	if (!c)
		return;
	c->stopping = true;
	for (struct control_client *cl = c->clients; cl; cl = cl->next)
		control_client_close(cl);
	unlink(c->path);
	uv_close((uv_handle_t *)&c->server, control_server_closed);
}
