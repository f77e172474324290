/* SPDX-License-Identifier: MIT */
/* firegwctl: the installers' and operators' client of firegw's control socket. One request,
 * one reply: a human table by default, the daemon's JSON with --json. Exit codes: 0 ok,
 * 1 the daemon answered with an error (or the thing asked for is not there), 2 usage,
 * 3 the daemon cannot be reached. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control_request.h"
#include "ctl_print.h"
#include "ctl_report.h"
#include "ctl_scan.h"
#include "conf.h"
#include "i18n.h"
#include "log.h"
#include "firegw-config.h"
#include "i18n.h"

#define DEFAULT_SOCKET  "/run/firegw/control"
#define DEFAULT_CONF    FIREGW_SYSCONFDIR "/firegw.conf"
#define REPLY_MAX       (64 * 1024 * 1024)
#define REPLY_TIMEOUT_S 120

enum { EXIT_OK = 0, EXIT_ERROR = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3 };

struct firegwctl {
	const char *socket;
	bool json;
	int fd;
	struct ctl_report_opts report; /* report --csv, --csv-encoding */
};

static void usage(FILE *f)
{
	fprintf(f, _("Usage: firegwctl [-s SOCKET | -c FILE] [--json] COMMAND [ARGS]\n"
	           "\n"
	           "Commands:\n"));
	/* The commands and their options are the daemon's own table (control_request.c). */
	for (size_t i = 0; i < CONTROL_NCMDS; i++) {
		const struct control_command *cc = &control_commands[i];
		char left[96];

		snprintf(left, sizeof(left), "%s%s%s", cc->name, *cc->usage ? " " : "", cc->usage);
		if (strlen(left) > 28)
			fprintf(f, "  %s\n  %-28s %s\n", left, "", _(cc->help));
		else
			fprintf(f, "  %-28s %s\n", left, _(cc->help));
	}
	fprintf(f,
	        _("\n"
	          "Options:\n"
	          "  -s, --socket PATH   control socket (default: control_socket of the config, or\n"
	          "                      %s)\n"
	          "  -c, --config FILE   read control_socket from this config (default %s)\n"
	          "  -j, --json          print the daemon's JSON reply\n"
	          "  -h, --help          show this help\n"
	          "  -V, --version       show the version\n"
	          "\n"
	          "Exit status: 0 ok, 1 error or not found, 2 usage, 3 firegw not reachable.\n"),
	        DEFAULT_SOCKET, DEFAULT_CONF);
}

/* ---------------------------------------------------------------- talking to the daemon */

static int firegwctl_connect(struct firegwctl *c)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	if (strlen(c->socket) >= sizeof(sa.sun_path)) {
		fprintf(stderr, _("firegwctl: socket path %s is too long\n"), c->socket);
		return EXIT_USAGE;
	}
	memcpy(sa.sun_path, c->socket, strlen(c->socket) + 1);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int e = errno;

		if (e == ENOENT || e == ECONNREFUSED)
			fprintf(
			    stderr,
			    _("firegwctl: firegw is not running (nothing answers on %s); start it "
			    "with 'systemctl start firegw', or give the socket with -s\n"),
			    c->socket);
		else if (e == EACCES)
			fprintf(stderr,
			        _("firegwctl: %s: permission denied; run as root or as a member of "
			        "group firegw\n"),
			        c->socket);
		else
			fprintf(stderr, _("firegwctl: %s: %s\n"), c->socket, strerror(e));
		return EXIT_UNREACHABLE;
	}
	return EXIT_OK;
}

static int firegwctl_send_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Sends one request, returns the reply (new reference) or NULL with the reason printed. */
static json_t *firegwctl_call(struct firegwctl *c, json_t *req, int *exit_code)
{
	char *text = json_dumps(req, JSON_COMPACT);
	char *buf = NULL, *nl = NULL;
	size_t len = 0, cap = 0;
	json_error_t err;
	json_t *reply;

	*exit_code = EXIT_UNREACHABLE;
	if (!text)
		return NULL;
	size_t tl = strlen(text);
	text[tl] = '\0';
	/* firegw may have answered and closed before the request went (it refuses a peer at
	 * accept): a send that fails is reported only when no reply is waiting. */
	int send_errno = 0;
	if (firegwctl_send_all(c->fd, text, tl) != 0 || firegwctl_send_all(c->fd, "\n", 1) != 0)
		send_errno = errno;
	free(text);
	while (!nl) {
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		/* After a failed send, only a reply already waiting counts. */
		int pr = poll(&pfd, 1, send_errno ? 0 : REPLY_TIMEOUT_S * 1000);

		if (pr < 0 && errno == EINTR)
			continue;
		if (pr == 0 && send_errno)
			break; /* no reply waits: the send's failure is the news */
		if (pr == 0) {
			fprintf(stderr, _("firegwctl: firegw did not answer within %d s\n"),
			        REPLY_TIMEOUT_S);
			free(buf);
			return NULL;
		}
		if (len + 65536 > cap) {
			if (cap >= REPLY_MAX) {
				fprintf(stderr, _("firegwctl: reply longer than %d bytes\n"),
				        REPLY_MAX);
				free(buf);
				return NULL;
			}
			cap = cap ? cap * 2 : 65536 * 2;
			char *b = realloc(buf, cap);
			if (!b) {
				free(buf);
				return NULL;
			}
			buf = b;
		}
		ssize_t n = recv(c->fd, buf + len, cap - len, send_errno ? MSG_DONTWAIT : 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 && send_errno)
			break;
		if (n <= 0) {
			fprintf(stderr,
			        _("firegwctl: firegw closed the connection without a reply\n"));
			free(buf);
			return NULL;
		}
		nl = memchr(buf + len, '\n', (size_t)n);
		len += (size_t)n;
	}
	if (!nl) {
		fprintf(stderr, _("firegwctl: cannot send to firegw on %s: %s\n"), c->socket,
		        strerror(send_errno));
		free(buf);
		return NULL;
	}
	reply = json_loadb(buf, (size_t)(nl - buf), 0, &err);
	free(buf);
	if (!json_is_object(reply)) {
		fprintf(stderr, _("firegwctl: firegw's reply is not a JSON object: %s\n"),
		        ctl_print_esc(err.text));
		json_decref(reply);
		return NULL;
	}
	*exit_code = json_is_true(json_object_get(reply, "ok")) ? EXIT_OK : EXIT_ERROR;
	return reply;
}

/* firegwctl_call for the helpers that follow a job (ctl_scan.c). */
static json_t *firegwctl_call_ctx(void *ctx, json_t *req, int *exit_code)
{
	return firegwctl_call(ctx, req, exit_code);
}

/* ---------------------------------------------------------------- commands */

/* Waits until every event of the test item has left the outbox (accepted or rejected). */
static int firegwctl_test_wait(struct firegwctl *c, const char *hazard_id, double wait_s)
{
	struct timespec t0, now;
	int code = EXIT_ERROR;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		json_t *req = json_pack("{s:s, s:s}", "cmd", "hazard", "id", hazard_id), *r, *e;
		size_t i, queued = 0, rejected = 0;

		close(c->fd);
		if ((code = firegwctl_connect(c)) != EXIT_OK) {
			json_decref(req);
			return code;
		}
		r = firegwctl_call(c, req, &code);
		json_decref(req);
		if (!r)
			return code;
		if (code != EXIT_OK) {
			ctl_print_error(r);
			json_decref(r);
			return code;
		}
		json_array_foreach(json_object_get(r, "events"), i, e)
		{
			if (!strcmp(ctl_print_raw(e, "delivery"), "queued"))
				queued++;
			else if (!strcmp(ctl_print_raw(e, "delivery"), "rejected")) {
				rejected++;
				if (!c->json)
					printf(_("rejected by the platform: %s %s: %s\n"),
					       ctl_print_str(e, "type"), ctl_print_str(e, "event_id"),
					       ctl_print_str(e, "reason"));
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		double el =
		    (double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9;
		if (queued == 0) {
			if (c->json)
				ctl_print_json(r);
			else if (!rejected)
				printf(_("accepted by the platform after %.1f s: the test alarm went "
				       "end "
				       "to end\n"),
				       el);
			json_decref(r);
			return rejected ? EXIT_ERROR : EXIT_OK;
		}
		if (el >= wait_s) {
			if (c->json)
				ctl_print_json(r);
			else
				printf(
				    _("not accepted by the platform within %.0f s; it waits in the "
				    "outbox ('firegwctl outbox', 'firegwctl status' show why)\n"),
				    wait_s);
			json_decref(r);
			return EXIT_ERROR;
		}
		json_decref(r);
		usleep(100 * 1000);
	}
}

static int firegwctl_run(struct firegwctl *c, const char *cmd, json_t *req, double wait_s)
{
	int code;
	json_t *r = firegwctl_call(c, req, &code);

	if (!r)
		return code;
	if (code != EXIT_OK) {
		if (c->json)
			ctl_print_json(r);
		else
			ctl_print_error(r);
		json_decref(r);
		return code;
	}
	if (!strcmp(cmd, "scan") || !strcmp(cmd, "probe")) {
		code = ctl_scan_follow(r, c->json, firegwctl_call_ctx, c);
		json_decref(r);
		return code;
	}
	if (!strcmp(cmd, "test")) {
		const char *id = ctl_print_raw(r, "hazard_id");

		if (!c->json)
			printf(_("test alarm %s raised and cleared on %s\n"), ctl_print_esc(id),
			       ctl_print_str(r, "device"));
		if (!json_is_true(json_object_get(r, "platform"))) {
			if (c->json)
				ctl_print_json(r);
			else
				printf(
				    _("no platform uplink is running: the test stays in the outbox "
				    "('firegwctl status' says why)\n"));
			json_decref(r);
			return EXIT_ERROR;
		}
		char idbuf[128];
		snprintf(idbuf, sizeof(idbuf), "%s", id);
		json_decref(r);
		return firegwctl_test_wait(c, idbuf, wait_s);
	}
	if (c->json)
		ctl_print_json(r);
	else if (!strcmp(cmd, "status"))
		ctl_print_status(r);
	else if (!strcmp(cmd, "devices"))
		ctl_print_devices(json_object_get(r, "devices"));
	else if (!strcmp(cmd, "hazards"))
		ctl_print_hazards(json_object_get(r, "hazards"));
	else if (!strcmp(cmd, "hazard"))
		ctl_print_hazard(r);
	else if (!strcmp(cmd, "outbox"))
		ctl_print_outbox(r);
	else if (!strcmp(cmd, "deadletter"))
		ctl_print_deadletter(json_object_get(r, "deadletter"));
	else if (!strcmp(cmd, "report")) {
		code = ctl_report_print(json_object_get(r, "report"), &c->report) ? EXIT_ERROR
		                                                                  : EXIT_OK;
		json_decref(r);
		return code;
	}
	else if (!strcmp(cmd, "reload"))
		printf(_("configuration reloaded from %s: %lld buses, %lld devices\n"),
		       ctl_print_str(r, "config"), jsonfmt_int(r, "buses"), jsonfmt_int(r, "devices"));
	else if (!strcmp(cmd, "check")) {
		code = ctl_print_check(r);
		json_decref(r);
		return code;
	}
	json_decref(r);
	return EXIT_OK;
}

/* The command's own options and arguments, into a request, by the daemon's table of
 * commands and options (control_request.h). NULL on a usage error. */
static json_t *firegwctl_request(const char *cmd, int argc, char **argv, double *wait_s,
                                 struct ctl_report_opts *rep)
{
	struct option opts[32]; /* every control option, and the end */
	const struct control_command *cc = control_command_find(cmd);
	json_t *req;
	size_t n = 0;
	int o;

	if (!cc) {
		fprintf(stderr, _("firegwctl: unknown command '%s'\n"), ctl_print_esc(cmd));
		return NULL;
	}
	for (const struct control_option *co = control_options; co->name && n < 31; co++)
		opts[n++] = (struct option){co->name,
		                            co->type == CONTROL_OPT_FLAG ||
		                                    co->type == CONTROL_OPT_LOCAL_FLAG
		                                ? no_argument
		                                : required_argument,
		                            NULL, co->letter};
	opts[n] = (struct option){NULL, 0, NULL, 0};
	req = json_pack("{s:s}", "cmd", cmd);
	/* Options may come before or after the argument (test DEVICE --wait 60). optind 0
	 * makes glibc start over, forgetting the "+" of the first parse. */
	optind = 0;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		const struct control_option *co = control_options;
		char *end;

		while (co->name && co->letter != o)
			co++;
		if (o == '?' || !co->name || !strchr(cc->options, o)) {
			if (o != '?')
				fprintf(stderr, _("firegwctl: %s does not take %s\n"), cmd,
				        ctl_print_esc(argv[optind - 1]));
			json_decref(req);
			return NULL;
		}
		switch (co->type) {
		case CONTROL_OPT_FLAG:
			json_object_set_new(req, co->name, json_true());
			break;
		case CONTROL_OPT_STRING:
			json_object_set_new(req, co->name, json_string(optarg));
			break;
		case CONTROL_OPT_COUNT: {
			long v = strtol(optarg, &end, 10);

			if (*end || v <= 0) {
				fprintf(stderr, _("firegwctl: --%s wants a positive number\n"), co->name);
				json_decref(req);
				return NULL;
			}
			json_object_set_new(req, co->name, json_integer(v));
			break;
		}
		case CONTROL_OPT_LOCAL_FLAG: /* report --csv */
			rep->csv = true;
			break;
		case CONTROL_OPT_LOCAL: /* --wait, --csv-encoding */
			if (co->letter == 'e') {
				rep->encoding = optarg;
				if (!ctl_report_encoding_ok(optarg)) {
					fprintf(stderr, "firegwctl: --csv-encoding is utf-8 or gb18030\n");
					json_decref(req);
					return NULL;
				}
				break;
			}
			*wait_s = strtod(optarg, &end);
			if (*end || !(*wait_s >= 0)) {
				fprintf(stderr, _("firegwctl: --wait wants seconds\n"));
				json_decref(req);
				return NULL;
			}
			break;
		}
	}
	if (argc - optind != (cc->arg ? 1 : 0)) {
		fprintf(stderr, _("firegwctl: %s %s (firegwctl %s %s)\n"), cmd,
		        cc->arg ? _("takes one argument") : _("takes no argument"), cmd, cc->usage);
		json_decref(req);
		return NULL;
	}
	if (cc->arg)
		json_object_set_new(req, cc->arg, json_string(argv[optind]));
	if (!strcmp(cmd, "report") && !json_object_get(req, "month") == !json_object_get(req, "week")) {
		fprintf(stderr, _("firegwctl: report needs --month YYYY-MM or --week YYYY-MM-DD\n"));
		json_decref(req);
		return NULL;
	}
	return req;
}

/* control_socket from a config file, if it loads. */
static char *firegwctl_socket_from_conf(const char *path, bool must)
{
	struct conf_errors errs;
	struct conf *c;
	char *sock = NULL;

	if (!must && access(path, R_OK) != 0)
		return NULL;
	conf_errors_init(&errs);
	c = conf_load(path, &errs);
	if (c)
		sock = strdup(c->control_socket);
	else if (must)
		fprintf(stderr, _("firegwctl: %s has errors ('firegw check -c %s' lists them)\n"),
		        path, path);
	conf_free(c);
	conf_errors_finish(&errs);
	return sock;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"socket", required_argument, NULL, 's'}, {"config", required_argument, NULL, 'c'},
	    {"json", no_argument, NULL, 'j'},         {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},      {NULL, 0, NULL, 0},
	};
	struct firegwctl c = {.fd = -1};
	const char *conf_path = NULL;
	char *from_conf = NULL;
	double wait_s = 30;
	int o, code;

	i18n_init();
	while ((o = getopt_long(argc, argv, "+s:c:jhV", opts, NULL)) != -1) {
		switch (o) {
		case 's':
			c.socket = optarg;
			break;
		case 'c':
			conf_path = optarg;
			break;
		case 'j':
			c.json = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			printf(_("firegwctl %s\n"), FIREGW_VERSION);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[optind];
	/* --json may also follow the command. */
	int sub_argc = argc - optind;
	char **sub_argv = argv + optind;
	for (int i = 1; i < sub_argc; i++)
		if (!strcmp(sub_argv[i], "--json") || !strcmp(sub_argv[i], "-j")) {
			c.json = true;
			memmove(&sub_argv[i], &sub_argv[i + 1],
			        sizeof(char *) * (size_t)(sub_argc - i));
			sub_argc--;
			i--;
		}
	json_t *req = firegwctl_request(cmd, sub_argc, sub_argv, &wait_s, &c.report);
	if (!req) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!c.socket) {
		log_init(LOG_LVL_ERR, false);
		from_conf = firegwctl_socket_from_conf(conf_path ? conf_path : DEFAULT_CONF, conf_path);
		if (conf_path && !from_conf) {
			json_decref(req);
			return EXIT_USAGE;
		}
		c.socket = from_conf ? from_conf : DEFAULT_SOCKET;
	}
	code = firegwctl_connect(&c);
	if (code == EXIT_OK)
		code = firegwctl_run(&c, cmd, req, wait_s);
	json_decref(req);
	if (c.fd >= 0)
		close(c.fd);
	free(from_conf);
	ctl_print_release();
	return code;
}
