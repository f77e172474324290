/* SPDX-License-Identifier: MIT */
/* firegw-web: the installers' and operators' web console of a gateway. `firegw-web` serves
 * the pages (web_http) until SIGTERM; `firegw-web passwd USER` sets a user's password in the
 * password file (web_passwd). It reaches firegw only through the control socket. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <locale.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "firegw-config.h"
#include "i18n.h"
#include "log.h"
#include "web_buf.h"
#include "web_ctl.h"
#include "web_http.h"
#include "web_metrics.h"
#include "web_passwd.h"

#define WEB_DEFAULT_LISTEN "127.0.0.1:8080"
#define WEB_DEFAULT_SOCKET "/run/firegw/control"
#define WEB_DEFAULT_PASSWD "/var/lib/firegw-web/passwd"
/* WEB_DEFAULT_FIREGW: the installed firegw, from tools/web/meson.build. */
#define WEB_USER "firegw-web"

static void web_usage(FILE *f)
{
	fprintf(f,
	        _("Usage: firegw-web [OPTIONS]             serve the web console\n"
	          "       firegw-web passwd USER [-p FILE] set USER's password (read from stdin)\n"
	          "       firegw-web metrics [-s SOCKET]   print /metrics once (node_exporter's\n"
	          "                                        textfile collector)\n"
	          "\n"
	          "  -l, --listen ADDR:PORT   where to listen (default %s);\n"
	          "                           plain HTTP only on 127.0.0.1 or ::1\n"
	          "  -s, --socket PATH        firegw's control socket (default %s)\n"
	          "  -p, --passwd FILE        the password file (default %s)\n"
	          "  -c, --config FILE        the config file the config page shows and checks\n"
	          "      --firegw PATH        the firegw that checks it (default %s)\n"
	          "      --tls-cert FILE      serve HTTPS with this certificate (PEM)\n"
	          "      --tls-key FILE       and this key (PEM)\n"
	          "      --metrics-public     serve /metrics without a login\n"
	          "  -h, --help               show this help\n"
	          "  -V, --version            show the version\n"),
	        WEB_DEFAULT_LISTEN, WEB_DEFAULT_SOCKET, WEB_DEFAULT_PASSWD, WEB_DEFAULT_FIREGW);
}

/* One line from stdin without its newline; no echo when it is a terminal. */
static int web_read_password(const char *prompt, char *buf, size_t len)
{
	struct termios old, quiet;
	bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;

	if (tty) {
		fprintf(stderr, "%s", prompt);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	char *r = fgets(buf, (int)len, stdin);
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fprintf(stderr, "\n");
	}
	if (!r)
		return -1;
	buf[strcspn(buf, "\r\n")] = '\0';
	return 0;
}

static int web_cmd_passwd(const char *path, const char *user)
{
	char pw[WEB_PASSWD_PASSWORD_MAX + 2], again[WEB_PASSWD_PASSWORD_MAX + 2], err[512];
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	int rc = 1;

	if (web_read_password(_("New password: "), pw, sizeof(pw)) != 0) {
		fprintf(stderr, _("firegw-web: no password given on stdin\n"));
		return 1;
	}
	if (isatty(STDIN_FILENO)) {
		if (web_read_password(_("Again: "), again, sizeof(again)) != 0 || strcmp(pw, again)) {
			fprintf(stderr, _("firegw-web: the two passwords differ; nothing changed\n"));
			goto out;
		}
	}
	/* Run as root: the file belongs to the service's user, who must read it (mode 0600). */
	if (geteuid() == 0) {
		struct passwd *pwd = getpwnam(WEB_USER);

		if (pwd) {
			uid = pwd->pw_uid;
			gid = pwd->pw_gid;
		}
	}
	/* Before the service first ran, its state directory is not there yet: made as the
	 * service would make it (StateDirectory=firegw-web, 0700). */
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0700) == 0 && uid != (uid_t)-1 && chown(dir, uid, gid) != 0)
			fprintf(stderr, "firegw-web: chown %s: %s\n", dir, strerror(errno));
	}
	if (web_passwd_set(path, user, pw, uid, gid, err, sizeof(err)) != 0) {
		fprintf(stderr, "firegw-web: %s\n", err);
		goto out;
	}
	printf(_("firegw-web: password of %s set in %s\n"), user, path);
	rc = 0;
out:
	explicit_bzero(pw, sizeof(pw));
	explicit_bzero(again, sizeof(again));
	return rc;
}

/* The /metrics text on stdout, once: for node_exporter's textfile collector. Exit 0, or 3
 * when firegw did not answer (the text then says firegw_up 0). */
static int web_cmd_metrics(const char *socket_path)
{
	char err[512];
	json_t *req = json_pack("{s:s}", "cmd", "status");
	json_t *reply = web_ctl_call(socket_path, req, 15000, err, sizeof(err));
	struct web_buf b;
	size_t len;

	json_decref(req);
	if (!reply)
		fprintf(stderr, "firegw-web: %s\n", err);
	else if (!json_is_true(json_object_get(reply, "ok"))) {
		fprintf(stderr, "firegw-web: firegw: %s\n",
		        json_string_value(json_object_get(reply, "error")));
		json_decref(reply);
		reply = NULL;
	}
	web_buf_init(&b);
	web_metrics_text(&b, reply);
	char *text = web_buf_take(&b, &len);
	if (text)
		fwrite(text, 1, len, stdout);
	free(text);
	int rc = reply ? 0 : 3;
	json_decref(reply);
	return fflush(stdout) == 0 ? rc : 1;
}

int main(int argc, char **argv)
{
	enum { OPT_FIREGW = 256, OPT_CERT, OPT_KEY, OPT_METRICS };
	static const struct option longopts[] = {
	    {"listen", required_argument, NULL, 'l'},  {"socket", required_argument, NULL, 's'},
	    {"passwd", required_argument, NULL, 'p'},  {"config", required_argument, NULL, 'c'},
	    {"firegw", required_argument, NULL, OPT_FIREGW},
	    {"tls-cert", required_argument, NULL, OPT_CERT},
	    {"tls-key", required_argument, NULL, OPT_KEY},
	    {"metrics-public", no_argument, NULL, OPT_METRICS},
	    {"help", no_argument, NULL, 'h'},          {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	struct web_http_options o = {
	    .listen = WEB_DEFAULT_LISTEN,
	    .socket = WEB_DEFAULT_SOCKET,
	    .passwd = WEB_DEFAULT_PASSWD,
	    .firegw = WEB_DEFAULT_FIREGW,
	};
	int ch;

	/* Messages in the reader's language (gettext, the catalogue where firegw's is, or
	 * FIREGW_LOCALEDIR); numbers stay in the C locale. */
	i18n_init();
	while ((ch = getopt_long(argc, argv, "l:s:p:c:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'l': o.listen = optarg; break;
		case 's': o.socket = optarg; break;
		case 'p': o.passwd = optarg; break;
		case 'c': o.config = optarg; break;
		case OPT_FIREGW: o.firegw = optarg; break;
		case OPT_CERT: o.tls_cert = optarg; break;
		case OPT_KEY: o.tls_key = optarg; break;
		case OPT_METRICS: o.metrics_public = true; break;
		case 'h': web_usage(stdout); return 0;
		case 'V': printf("firegw-web %s\n", FIREGW_VERSION); return 0;
		default: web_usage(stderr); return 2;
		}
	}
	if (optind < argc && strcmp(argv[optind], "passwd") == 0) {
		if (optind + 2 != argc) {
			web_usage(stderr);
			return 2;
		}
		return web_cmd_passwd(o.passwd, argv[optind + 1]);
	}
	if (optind + 1 == argc && strcmp(argv[optind], "metrics") == 0)
		return web_cmd_metrics(o.socket);
	if (optind < argc) {
		fprintf(stderr, _("firegw-web: unexpected argument '%s'\n"), argv[optind]);
		web_usage(stderr);
		return 2;
	}
	log_init(LOG_LVL_INFO, true);

	/* The signals are waited for here; MHD's thread inherits the mask and never sees them. */
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct web_http *h = web_http_start(&o);
	if (!h)
		return 1;
	log_notice(_("firegw-web %s listening on %s://%.*s:%d"), FIREGW_VERSION,
	           o.tls_cert ? "https" : "http", (int)(strrchr(o.listen, ':') - o.listen), o.listen,
	           web_http_port(h));
	for (;;) {
		int sig = 0;

		if (sigwait(&stop, &sig) == 0 && sig != SIGHUP)
			break;
	}
	log_notice(_("firegw-web: stopping"));
	web_http_stop(h);
	return 0;
}
