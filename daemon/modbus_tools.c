/* SPDX-License-Identifier: MIT */
/* modbus_tools: `firegw scan` and `firegw probe`: their options, the scan of a line and
 * the one-off read of a configured device. */
#include "modbus_tools.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <modbus.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conf.h"
#include "i18n.h"
#include "profile_load.h"
#include "firegw-config.h"
#include "modbus_bus.h"
#include "modbus_scan.h"
#include "profile.h"
#include "textesc.h"

static void print_errors(struct conf_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++)
		fprintf(stderr, "%s\n", errs->items[i]);
}

static struct conf *tools_conf(const char *path)
{
	struct conf_errors errs;
	struct conf *c;

	conf_errors_init(&errs);
	c = conf_load(path, &errs);
	if (!c) {
		print_errors(&errs);
		fprintf(stderr, _("%s: %zu error(s); fix them first (firegw check -c %s)\n"), path,
		        errs.n, path);
	}
	conf_errors_finish(&errs);
	return c;
}

/* The port is held (by the daemon, most likely): say how to go through it instead. */
static void modbus_tools_busy(int e, const char *cmd, const char *name)
{
	char safe[128];

	if (e != EBUSY)
		return;
	textesc(safe, sizeof(safe), name ? name : "");
	if (cmd)
		fprintf(stderr,
		        _("firegw %s: the firegw daemon probably owns this bus; while it runs, use "
		          "'firegwctl %s %s' (it runs on the daemon's bus worker)\n"),
		        cmd, cmd, safe);
	else
		fprintf(stderr, _("firegw scan: another program holds the port; if it is the "
		                  "firegw daemon, use 'firegwctl scan BUS' for a configured bus\n"));
}

static void scan_usage(FILE *f)
{
	fprintf(f, _("Usage: firegw scan [-c FILE] --bus NAME [--units 1-247] [--timeout MS]\n"
	           "       firegw scan --port DEVICE [--baud 9600] [--parity none|even|odd] ...\n"
	           "       firegw scan --tcp HOST:PORT ...\n"
	           "Options: --profiles DIR  profiles to guess from (default: the config's, "
	           "or %s)\n"
	           "Tries each unit id with a short timeout and lists those that answer, with a\n"
	           "guess of their profile.\n"),
	        FIREGW_PROFILEDIR);
}

int modbus_tools_scan(int argc, char **argv, const char *conf_path)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"bus", required_argument, NULL, 'b'},
	    {"port", required_argument, NULL, 'p'},
	    {"baud", required_argument, NULL, 'B'},
	    {"parity", required_argument, NULL, 'P'},
	    {"tcp", required_argument, NULL, 't'},
	    {"units", required_argument, NULL, 'u'},
	    {"timeout", required_argument, NULL, 'T'},
	    {"profiles", required_argument, NULL, 'D'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct bus_conf bc = {.name = (char *)"scan",
	                      .baud = 9600,
	                      .parity = 'N',
	                      .data_bits = 8,
	                      .stop_bits = 1,
	                      .connect_timeout_ms = 3000};
	const char *bus = NULL, *profile_dir = NULL;
	bool conf_given = false;
	int from = 1, to = 247, timeout_ms = 100, c;
	struct conf *conf = NULL;
	char hostbuf[256];

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			conf_path = optarg;
			conf_given = true;
			break;
		case 'D':
			profile_dir = optarg;
			break;
		case 'b':
			bus = optarg;
			break;
		case 'p':
			bc.type = BUS_RTU;
			bc.port = optarg;
			break;
		case 'B': {
			long v;

			if (!modbus_scan_number(optarg, 1, 921600, &v, NULL) || !conf_baud_valid(v)) {
				fprintf(stderr,
				        _("firegw scan: --baud must be a standard rate (1200, 2400, "
				        "4800, 9600, 14400, 19200, 38400, 57600, 115200, 230400, "
				        "460800 or 921600), not '%s'\n"),
				        optarg);
				return 2;
			}
			bc.baud = (int)v;
			break;
		}
		case 'P':
			if (!strcasecmp(optarg, "none") || !strcasecmp(optarg, "n"))
				bc.parity = 'N';
			else if (!strcasecmp(optarg, "even") || !strcasecmp(optarg, "e"))
				bc.parity = 'E';
			else if (!strcasecmp(optarg, "odd") || !strcasecmp(optarg, "o"))
				bc.parity = 'O';
			else {
				fprintf(
				    stderr,
				    _("firegw scan: --parity must be none, even or odd, not '%s'\n"),
				    optarg);
				return 2;
			}
			break;
		case 't': {
			char *colon = strrchr(optarg, ':');
			long port;

			if (!colon || snprintf(hostbuf, sizeof(hostbuf), "%.*s",
			                       (int)(colon - optarg), optarg) <= 0) {
				fprintf(stderr, _("firegw scan: --tcp wants HOST:PORT, not '%s'\n"),
				        optarg);
				return 2;
			}
			if (!modbus_scan_number(colon + 1, 1, 65535, &port, NULL)) {
				fprintf(stderr,
				        _("firegw scan: --tcp: the port must be 1..65535, not '%s'\n"),
				        colon + 1);
				return 2;
			}
			bc.type = BUS_TCP;
			bc.host = hostbuf;
			bc.tcp_port = (int)port;
			break;
		}
		case 'u':
			if (modbus_scan_parse_units(optarg, &from, &to) != 0) {
				fprintf(stderr,
				        _("firegw scan: --units wants N or N-M within 1-247, not "
				        "'%s'\n"),
				        optarg);
				return 2;
			}
			break;
		case 'T': {
			long v;

			if (!modbus_scan_number(optarg, 1, 60000, &v, NULL)) {
				fprintf(stderr,
				        _("firegw scan: --timeout must be 1..60000 ms, not '%s'\n"),
				        optarg);
				return 2;
			}
			timeout_ms = (int)v;
			break;
		}
		case 'h':
			scan_usage(stdout);
			return 0;
		default:
			scan_usage(stderr);
			return 2;
		}
	}
	if (bus) {
		conf = tools_conf(conf_path);
		if (!conf)
			return 1;
		const struct bus_conf *found = NULL;
		for (size_t i = 0; i < conf->nbuses; i++)
			if (strcmp(conf->buses[i].name, bus) == 0)
				found = &conf->buses[i];
		if (!found) {
			fprintf(stderr, _("firegw scan: no bus '%s' in %s\n"), bus, conf_path);
			conf_free(conf);
			return 1;
		}
		bc = *found;
		if (!profile_dir)
			profile_dir = conf->profile_dir;
	} else if (!bc.port && !bc.host) {
		scan_usage(stderr);
		conf_free(conf);
		return 2;
	}
	if (!profile_dir && conf_given) {
		conf = tools_conf(conf_path);
		if (!conf)
			return 1;
		profile_dir = conf->profile_dir;
	}
	if (!profile_dir)
		profile_dir = FIREGW_PROFILEDIR;

	char err[256];
	modbus_t *ctx = modbus_bus_open(&bc, err, sizeof(err));
	if (!ctx) {
		fprintf(stderr, _("firegw scan: %s\n"), err);
		modbus_tools_busy(errno, bus ? "scan" : NULL, bus);
		conf_free(conf);
		return 1;
	}
	struct profile **profiles = NULL;
	size_t nprofiles = modbus_scan_profiles_load(profile_dir, &profiles);
	bool *fits = calloc(nprofiles ? nprofiles : 1, sizeof(bool));
	bool tty = isatty(2);
	int found = 0;

	for (int unit = from; fits && unit <= to; unit++) {
		if (tty) {
			fputc('\r', stderr);
			fprintf(stderr, _("scanning unit %3d (%d-%d), %d found"), unit, from, to,
			        found);
		} else if ((unit - from) % 50 == 0)
			fprintf(stderr, _("scanning units %d-%d...\n"), unit,
			        unit + 49 < to ? unit + 49 : to);
		enum modbus_scan_answer ans =
		    modbus_scan_unit(ctx, unit, timeout_ms, profiles, nprofiles, fits);
		if (ans == MODBUS_SCAN_LINK_DOWN) {
			fprintf(stderr, _("firegw scan: the link went down at unit %d: %s\n"), unit,
			        modbus_strerror(errno));
			break;
		}
		if (ans == MODBUS_SCAN_SILENT)
			continue;
		found++;
		if (tty)
			fprintf(stderr, "\r%60s\r", "");
		printf(_("unit %d: answers"), unit);
		const char *sep = _(" (looks like: ");
		for (size_t i = 0; i < nprofiles; i++) {
			if (fits[i]) {
				printf("%s%s", sep, profiles[i]->name);
				sep = ", ";
			}
		}
		printf("%s\n", strcmp(sep, ", ") == 0 ? ")" : "");
		fflush(stdout);
	}
	if (tty)
		fprintf(stderr, "\r%60s\r", "");
	fprintf(stderr, _("scan done: %d unit(s) answered between %d and %d\n"), found, from, to);
	free(fits);
	modbus_scan_profiles_free(profiles, nprofiles);
	modbus_close(ctx);
	modbus_free(ctx);
	conf_free(conf);
	return found > 0 ? 0 : 1;
}

int modbus_tools_probe(int argc, char **argv, const char *conf_path)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		if (c == 'c') {
			conf_path = optarg;
		} else {
			fprintf(
			    c == 'h' ? stdout : stderr,
			    _("Usage: firegw probe [-c FILE] DEVICE\n"
			    "Reads one configured Modbus device once and prints every point.\n"));
			return c == 'h' ? 0 : 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, _("Usage: firegw probe [-c FILE] DEVICE\n"));
		return 2;
	}
	const char *id = argv[optind];
	struct conf *conf = tools_conf(conf_path);
	if (!conf)
		return 1;
	const struct device_conf *d = conf_device(conf, id);
	if (!d || !d->busp) {
		fprintf(stderr, _("firegw probe: %s in %s\n"),
		        d ? _("is not a Modbus device") : _("no such device"), conf_path);
		conf_free(conf);
		return 1;
	}
	char err[256];
	modbus_t *ctx = modbus_bus_open(d->busp, err, sizeof(err));
	if (!ctx) {
		fprintf(stderr, _("firegw probe: %s\n"), err);
		modbus_tools_busy(errno, "probe", d->id);
		conf_free(conf);
		return 1;
	}
	const struct profile *p = d->prof;
	double *values = calloc(p->npoints ? p->npoints : 1, sizeof(double));
	int code = 0, attempts = 0;
	struct modbus_bus_device md = {d->id, d->unit, d->interval_ms, d->timeout_ms, d->retries, p, 0};
	enum modbus_bus_why why =
	    values ? modbus_bus_poll(ctx, &md, values, &code, &attempts) : MB_WHY_BAD_CONFIG;
	int rc = 0;

	if (why != MB_WHY_OK) {
		if (why == MB_WHY_EXCEPTION)
			fprintf(stderr,
			        _("%s: unit %d on bus '%s' answered Modbus exception %d (%s)\n"), id,
			        d->unit, d->bus, code, modbus_strerror(code + MODBUS_ENOBASE));
		else
			fprintf(stderr, _("%s: unit %d on bus '%s' does not answer: %s (%d tries)\n"),
			        id, d->unit, d->bus, modbus_bus_why_name(why), attempts);
		rc = 1;
	} else {
		printf(_("%s: %s, unit %d on bus '%s' (%s)\n"), id, p->name, d->unit, d->bus,
		       d->location);
		for (size_t i = 0; i < p->npoints; i++) {
			const struct point *pt = &p->points[i];

			printf("  %-20s %12g %-6s", pt->name, values[i], pt->unit);
			const char *sep = "  ";
			for (size_t b = 0; b < p->nbits; b++) {
				const struct status_bit *sb = &p->bits[b];

				if (strcmp(sb->point, pt->name) == 0 &&
				    (((uint32_t)(int64_t)values[i]) >> sb->bit) & 1u) {
					printf("%s%s", sep, sb->name);
					sep = ", ";
				}
			}
			printf("\n");
		}
	}
	free(values);
	modbus_close(ctx);
	modbus_free(ctx);
	conf_free(conf);
	return rc;
}
