/* SPDX-License-Identifier: MIT */
/* mb_baseline: the ceiling firegw's Modbus polling is measured against. A bare libmodbus
 * loop reading the same registers from the same simulator units, round robin, on one TCP
 * connection, for a fixed time. Prints "reads N seconds S". */
#include <modbus.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: mb-baseline HOST PORT UNITS COUNT SECONDS\n");
		return 2;
	}
	modbus_t *ctx = modbus_new_tcp(argv[1], atoi(argv[2]));
	int units = atoi(argv[3]), count = atoi(argv[4]);
	double secs = atof(argv[5]);
	uint16_t regs[125];
	long reads = 0, errors = 0;

	if (!ctx || modbus_connect(ctx) != 0) {
		fprintf(stderr, "mb-baseline: cannot connect\n");
		return 1;
	}
	modbus_set_response_timeout(ctx, 1, 0);
	double start = now(), end = start + secs;
	while (now() < end) {
		for (int u = 1; u <= units; u++) {
			modbus_set_slave(ctx, u);
			if (modbus_read_input_registers(ctx, 0, count, regs) == count)
				reads++;
			else
				errors++;
		}
	}
	printf("reads %ld errors %ld seconds %.3f\n", reads, errors, now() - start);
	modbus_close(ctx);
	modbus_free(ctx);
	return 0;
}
