/* SPDX-License-Identifier: MIT */
/* main: the firegw command line: run the daemon, or check a config. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "daemon.h"
#include "i18n.h"
#include "log.h"
#include "modbus_tools.h"
#include "firegw-config.h"

#define DEFAULT_CONF FIREGW_SYSCONFDIR "/firegw.conf"

static void usage(FILE *f)
{
	fprintf(f, _("Usage: firegw [-c FILE] [-f] [-v]       run the gateway daemon\n"
	           "       firegw check [-c FILE]           check a config, print every error\n"
	           "       firegw scan --bus NAME | --port DEV | --tcp HOST:PORT [--units A-B]\n"
	           "                                        find the detectors on a line\n"
	           "       firegw probe DEVICE [-c FILE]    read one configured device once\n"
	           "\n"
	           "  -c, --config FILE   config file (default %s)\n"
	           "  -f, --foreground    stay in the foreground, log to stderr with <N> levels\n"
	           "  -v, --verbose       log debug messages\n"
	           "  -h, --help          show this help\n"
	           "  -V, --version       show the version\n"),
	        DEFAULT_CONF);
}

/* Loads and checks a config; every error to stderr as file:line: message. `quiet`: no
 * summary (before detaching, where only the errors matter). Returns the exit code. */
static int cmd_check(const char *path, bool quiet)
{
	struct conf_errors errs, warnings, all;
	struct conf *c;
	size_t nerr;

	conf_errors_init(&errs);
	conf_errors_init(&warnings);
	conf_errors_init(&all);
	errs.warnings = quiet ? NULL : &warnings;
	c = conf_load(path, &errs);
	nerr = errs.n;
	/* Errors and warnings in one list, in the order of the file's lines. */
	conf_errors_take(&all, &errs);
	conf_errors_take(&all, &warnings);
	conf_errors_sort(&all, 0);
	for (size_t i = 0; i < all.n; i++)
		fprintf(stderr, "%s\n", all.items[i]);
	if (!c && !quiet && all.n > nerr)
		fprintf(stderr, _("%s: %zu error(s), %zu warning(s)\n"), path, nerr, all.n - nerr);
	else if (!c && !quiet)
		fprintf(stderr, _("%s: %zu error(s)\n"), path, nerr);
	else if (c && !quiet)
		printf(_("%s: ok (gateway %s, %zu buses, %zu devices, %zu profiles)\n"), path,
		       c->gateway_id, c->nbuses, c->ndevices, c->nprofiles);
	if (c && !quiet && all.n)
		fprintf(stderr, _("%s: %zu warning(s)\n"), path, all.n);
	conf_errors_finish(&all);
	if (!c)
		return 1;
	conf_free(c);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'}, {"foreground", no_argument, NULL, 'f'},
	    {"verbose", no_argument, NULL, 'v'},      {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},      {NULL, 0, NULL, 0},
	};
	struct daemon_opts o = {.conf_path = DEFAULT_CONF, .log_level = -1};
	const char *cmd = NULL;
	int c;

	/* Before anything creates a file: the ledger holds names and phone numbers, and run
	 * outside systemd (whose unit sets UMask=0077) the umask is the shell's, often 022,
	 * which made it 0644. 027 at least: nothing for others, no writing for the group; a
	 * stricter umask (systemd's) is kept as it is. */
	umask(umask(0) | 027);
	i18n_init();
	if (argc > 1 && argv[1][0] != '-') {
		cmd = argv[1];
		log_init(LOG_LVL_WARN, false);
		if (strcmp(cmd, "scan") == 0)
			return modbus_tools_scan(argc - 1, argv + 1, DEFAULT_CONF);
		if (strcmp(cmd, "probe") == 0)
			return modbus_tools_probe(argc - 1, argv + 1, DEFAULT_CONF);
		argv++;
		argc--;
	}
	while ((c = getopt_long(argc, argv, "c:fvhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o.conf_path = optarg;
			break;
		case 'f':
			o.foreground = true;
			break;
		case 'v':
			o.log_level = LOG_LVL_DEBUG;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("firegw %s\n", FIREGW_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, _("firegw: unexpected argument '%s'\n"), argv[optind]);
		usage(stderr);
		return 2;
	}
	log_init(LOG_LVL_INFO, true);
	if (cmd) {
		if (strcmp(cmd, "check") == 0)
			return cmd_check(o.conf_path, false);
		fprintf(stderr, _("firegw: unknown command '%s' (known: check, scan, probe)\n"), cmd);
		usage(stderr);
		return 2;
	}
	if (!o.foreground) {
		/* Detaching moves to /: keep the config path valid, and say what is wrong with
		 * the config here, where the installer can see it, not only in syslog. */
		static char abs_path[4096];
		if (!realpath(o.conf_path, abs_path)) {
			fprintf(stderr, "firegw: %s: %s\n", o.conf_path, strerror(errno));
			return 1;
		}
		o.conf_path = abs_path;
		if (cmd_check(o.conf_path, true) != 0)
			return 1;
		if (daemon(0, 0) != 0) {
			fprintf(stderr, _("firegw: cannot detach: %s\n"), strerror(errno));
			return 1;
		}
		log_use_syslog("firegw");
	}
	return daemon_run(&o);
}
