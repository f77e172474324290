/* SPDX-License-Identifier: MIT */
/* modbus_sim: a detector simulator built on libmodbus, for the tests, the demo and the
 * benchmarks. It serves many unit ids on one Modbus TCP port (as an RS-485-to-Ethernet
 * converter does), or on a serial device (RTU), each unit with its own registers.
 * It is driven at run time by commands on stdin, one per line, each answered "ok" or
 * "error: ..." on stdout:
 *
 *   set UNIT holding|input|coil|discrete ADDR VALUE...   set registers or bits
 *   mode UNIT ok|silent|exception CODE|slow MS|garbage   how the unit answers from now on
 *   add UNIT | remove UNIT                               a unit appears or goes away
 *   stats UNIT                                           "requests N" for that unit
 *   quit
 *
 * Usage: modbus-sim --tcp PORT --units 1-20[,30,...]     (PORT 0: any free port)
 *        modbus-sim --rtu DEVICE [--baud 9600] [--parity N] --units 5
 * On start it prints "listening PORT" (TCP) or "ready" (RTU). Addresses 0-999 exist. */
#include <errno.h>
#include <stdarg.h>
#include <modbus.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_UNITS   248
#define MAX_CLIENTS 64
#define N_REGS      1000

enum mode { MODE_OK, MODE_SILENT, MODE_EXCEPTION, MODE_SLOW, MODE_GARBAGE };

struct unit {
	modbus_mapping_t *map;
	enum mode mode;
	int arg;
	unsigned long requests;
};

static struct unit units[MAX_UNITS];

static int sim_add(int u)
{
	if (u < 1 || u >= MAX_UNITS)
		return -1;
	if (!units[u].map)
		units[u].map = modbus_mapping_new(N_REGS, N_REGS, N_REGS, N_REGS);
	units[u].mode = MODE_OK;
	return units[u].map ? 0 : -1;
}

static int sim_units(const char *spec)
{
	char *copy = strdup(spec), *save = NULL;

	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int a, b;

		if (sscanf(tok, "%d-%d", &a, &b) == 2) {
			for (int u = a; u <= b; u++)
				if (sim_add(u) != 0)
					goto bad;
		} else if (sscanf(tok, "%d", &a) == 1) {
			if (sim_add(a) != 0)
				goto bad;
		} else {
			goto bad;
		}
	}
	free(copy);
	return 0;
bad:
	free(copy);
	return -1;
}

static void reply(const char *fmt, ...) __attribute__ ((format(printf, 1, 2)));
static void reply(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static int sim_command(char *line)
{
	char *argv[140];
	int argc = 0, u;

	for (char *save = NULL, *t = strtok_r(line, " \t\r\n", &save); t && argc < 140;
	     t = strtok_r(NULL, " \t\r\n", &save))
		argv[argc++] = t;
	if (argc == 0)
		return 0;
	if (!strcmp(argv[0], "quit"))
		return 1;
	if (argc < 2) {
		reply("error: %s needs a unit", argv[0]);
		return 0;
	}
	u = atoi(argv[1]);
	if (!strcmp(argv[0], "add")) {
		reply(sim_add(u) == 0 ? "ok" : "error: bad unit");
		return 0;
	}
	if (u < 1 || u >= MAX_UNITS || !units[u].map) {
		reply("error: no unit %s", argv[1]);
		return 0;
	}
	struct unit *x = &units[u];
	if (!strcmp(argv[0], "remove")) {
		modbus_mapping_free(x->map);
		x->map = NULL;
		reply("ok");
	} else if (!strcmp(argv[0], "stats")) {
		reply("requests %lu", x->requests);
	} else if (!strcmp(argv[0], "mode") && argc >= 3) {
		x->arg = argc >= 4 ? atoi(argv[3]) : 0;
		if (!strcmp(argv[2], "ok"))
			x->mode = MODE_OK;
		else if (!strcmp(argv[2], "silent"))
			x->mode = MODE_SILENT;
		else if (!strcmp(argv[2], "exception") && argc >= 4)
			x->mode = MODE_EXCEPTION;
		else if (!strcmp(argv[2], "slow") && argc >= 4)
			x->mode = MODE_SLOW;
		else if (!strcmp(argv[2], "garbage"))
			x->mode = MODE_GARBAGE;
		else {
			reply("error: unknown mode %s", argv[2]);
			return 0;
		}
		reply("ok");
	} else if (!strcmp(argv[0], "set") && argc >= 5) {
		int addr = atoi(argv[3]);
		int n = argc - 4;

		if (addr < 0 || addr + n > N_REGS) {
			reply("error: address out of range");
			return 0;
		}
		for (int i = 0; i < n; i++) {
			long v = strtol(argv[4 + i], NULL, 0);

			if (!strcmp(argv[2], "holding"))
				x->map->tab_registers[addr + i] = (uint16_t)v;
			else if (!strcmp(argv[2], "input"))
				x->map->tab_input_registers[addr + i] = (uint16_t)v;
			else if (!strcmp(argv[2], "coil"))
				x->map->tab_bits[addr + i] = v != 0;
			else if (!strcmp(argv[2], "discrete"))
				x->map->tab_input_bits[addr + i] = v != 0;
			else {
				reply("error: unknown table %s", argv[2]);
				return 0;
			}
		}
		reply("ok");
	} else {
		reply("error: unknown command %s", argv[0]);
	}
	return 0;
}

/* Answers one request already received into q (length rc). */
static void sim_answer(modbus_t *ctx, int fd, const uint8_t *q, int rc)
{
	int unit = q[modbus_get_header_length(ctx) - 1];
	struct unit *x = unit > 0 && unit < MAX_UNITS ? &units[unit] : NULL;

	if (!x || !x->map)
		return; /* nobody at this address: the master times out */
	x->requests++;
	switch (x->mode) {
	case MODE_SILENT:
		return;
	case MODE_EXCEPTION:
		modbus_reply_exception(ctx, q, (unsigned)x->arg);
		return;
	case MODE_GARBAGE: {
		uint8_t junk[12];

		for (size_t i = 0; i < sizeof(junk); i++)
			junk[i] = (uint8_t)rand();
		if (write(fd, junk, sizeof(junk)) < 0)
			perror("modbus-sim: write");
		return;
	}
	case MODE_SLOW:
		usleep((useconds_t)x->arg * 1000);
		break;
	case MODE_OK:
		break;
	}
	modbus_set_slave(ctx, unit);
	modbus_reply(ctx, q, rc, x->map);
}

static void sim_stdin(bool *quit)
{
	static char buf[8192];
	static size_t len;
	ssize_t n = read(0, buf + len, sizeof(buf) - len - 1);

	if (n <= 0) {
		*quit = true; /* the test went away */
		return;
	}
	len += (size_t)n;
	buf[len] = '\0';
	char *nl;
	while ((nl = memchr(buf, '\n', len))) {
		*nl = '\0';
		if (sim_command(buf))
			*quit = true;
		size_t used = (size_t)(nl - buf) + 1;
		memmove(buf, nl + 1, len - used);
		len -= used;
		buf[len] = '\0';
	}
}

static int run_tcp(int port)
{
	modbus_t *ctx = modbus_new_tcp("127.0.0.1", port);
	struct pollfd fds[MAX_CLIENTS + 2];
	uint8_t q[MODBUS_TCP_MAX_ADU_LENGTH];
	int nclients = 0, ls;
	bool quit = false;

	if (!ctx)
		return 1;
	ls = modbus_tcp_listen(ctx, MAX_CLIENTS);
	if (ls < 0) {
		fprintf(stderr, "modbus-sim: listen on port %d: %s\n", port,
		        modbus_strerror(errno));
		return 1;
	}
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	getsockname(ls, (struct sockaddr *)&sa, &sl);
	reply("listening %d", ntohs(sa.sin_port));
	fds[0] = (struct pollfd){.fd = 0, .events = POLLIN};
	fds[1] = (struct pollfd){.fd = ls, .events = POLLIN};
	while (!quit) {
		if (poll(fds, (nfds_t)(nclients + 2), -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (fds[0].revents)
			sim_stdin(&quit);
		if (fds[1].revents & POLLIN) {
			int c = accept(ls, NULL, NULL);

			if (c >= 0 && nclients < MAX_CLIENTS)
				fds[2 + nclients++] = (struct pollfd){.fd = c, .events = POLLIN};
			else if (c >= 0)
				close(c);
		}
		for (int i = 0; i < nclients; i++) {
			struct pollfd *p = &fds[2 + i];

			if (!p->revents)
				continue;
			modbus_set_socket(ctx, p->fd);
			int rc = modbus_receive(ctx, q);
			if (rc > 0) {
				sim_answer(ctx, p->fd, q, rc);
			} else if (rc < 0) {
				close(p->fd);
				fds[2 + i] = fds[2 + nclients - 1];
				nclients--;
				i--;
			}
		}
	}
	for (int i = 0; i < nclients; i++)
		close(fds[2 + i].fd);
	close(ls);
	modbus_free(ctx);
	return 0;
}

static uint16_t sim_crc16(const uint8_t *p, size_t n)
{
	uint16_t crc = 0xFFFF;

	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		for (int b = 0; b < 8; b++)
			crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0xA001) : (uint16_t)(crc >> 1);
	}
	return crc;
}

/* One RTU frame off the line, as a device on a shared bus takes it: the bytes up to a silence
 * (longer than 3.5 characters at any rate the tests use), kept when its CRC is right. Not
 * libmodbus's modbus_receive: after a request for another unit, that waits for the other
 * unit's answer and takes the next request for it, which on a bus scanned for absent units
 * swallows the requests that follow. Returns the frame's length, or 0. */
static int sim_rtu_frame(int fd, uint8_t *q, size_t cap)
{
	size_t n = 0;

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t r;

		if (n > 0 && poll(&p, 1, 20) <= 0)
			break;
		r = read(fd, q + n, cap - n);
		if (r <= 0 || (n += (size_t)r) == cap)
			break;
	}
	if (n < 4 || n == cap || sim_crc16(q, n - 2) != (uint16_t)(q[n - 2] | q[n - 1] << 8))
		return 0;
	return (int)n;
}

static int run_rtu(const char *dev, int baud, char parity)
{
	modbus_t *ctx = modbus_new_rtu(dev, baud, parity, 8, 1);
	uint8_t q[MODBUS_RTU_MAX_ADU_LENGTH];
	bool quit = false;
	int unit = 0;

	for (int u = 1; u < MAX_UNITS; u++)
		if (units[u].map) {
			unit = u;
			break;
		}
	if (!ctx || modbus_connect(ctx) != 0) {
		fprintf(stderr, "modbus-sim: %s: %s\n", dev, modbus_strerror(errno));
		return 1;
	}
	/* Each frame is answered for its own unit id (sim_answer); this one is libmodbus's
	 * default. */
	modbus_set_slave(ctx, unit);
	int fd = modbus_get_socket(ctx);
	struct pollfd fds[2] = {{.fd = 0, .events = POLLIN}, {.fd = fd, .events = POLLIN}};
	reply("ready");
	while (!quit) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (fds[0].revents)
			sim_stdin(&quit);
		if (fds[1].revents & POLLIN) {
			int rc = sim_rtu_frame(fd, q, sizeof(q));

			if (rc > 0)
				sim_answer(ctx, fd, q, rc);
		}
	}
	modbus_close(ctx);
	modbus_free(ctx);
	return 0;
}

int main(int argc, char **argv)
{
	const char *rtu = NULL, *spec = "1";
	int port = -1, baud = 9600;
	char parity = 'N';

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--tcp") && i + 1 < argc)
			port = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--rtu") && i + 1 < argc)
			rtu = argv[++i];
		else if (!strcmp(argv[i], "--baud") && i + 1 < argc)
			baud = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--parity") && i + 1 < argc)
			parity = argv[++i][0];
		else if (!strcmp(argv[i], "--units") && i + 1 < argc)
			spec = argv[++i];
		else {
			fprintf(stderr, "usage: modbus-sim --tcp PORT | --rtu DEVICE [--baud N] "
			                "[--parity N|E|O] --units LIST\n");
			return 2;
		}
	}
	if (sim_units(spec) != 0) {
		fprintf(stderr, "modbus-sim: bad unit list '%s'\n", spec);
		return 2;
	}
	if (rtu)
		return run_rtu(rtu, baud, parity);
	if (port < 0) {
		fprintf(stderr, "modbus-sim: give --tcp PORT or --rtu DEVICE\n");
		return 2;
	}
	return run_tcp(port);
}
