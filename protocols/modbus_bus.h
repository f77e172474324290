/* SPDX-License-Identifier: MIT */
/* modbus_bus: one worker thread per physical bus (a serial port, or one TCP endpoint that may
 * carry many unit ids). The worker owns its modbus_t, polls each device on its own interval,
 * backs a failing device off so it never delays the others, reconnects a lost TCP link with
 * backoff, and hands each poll's result to the main loop through a queue and uv_async_send.
 * It never touches SQLite, MQTT or curl. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "profile.h"

enum bus_type { BUS_RTU, BUS_TCP };

/* A bus as the worker needs it (the config fills it in; line and file say where, for
 * messages). */
struct bus_conf {
	char *name;
	enum bus_type type;
	char *port; /* RTU: serial device */
	int baud;
	char parity; /* 'N', 'E' or 'O' */
	int data_bits, stop_bits;
	bool rs485;
	int64_t frame_delay_ms;
	char *host; /* TCP */
	int tcp_port;
	int64_t connect_timeout_ms;
	int line;
	char *file;
};

/* A device as the worker polls it: copied by modbus_bus_start. `index` is the owner's, handed
 * back with each result. */
struct modbus_bus_device {
	const char *id;
	int unit;
	int64_t interval_ms, timeout_ms;
	int retries;
	const struct profile *prof;
	size_t index;
};

/* Why a device has no data, as status shows it. */
enum modbus_bus_why {
	MB_WHY_PENDING, /* not polled yet */
	MB_WHY_OK,
	MB_WHY_TIMEOUT,   /* no answer in time */
	MB_WHY_EXCEPTION, /* answered with a Modbus exception (code in `code`) */
	MB_WHY_CRC,       /* corrupted frame */
	MB_WHY_GARBAGE,   /* an answer that is not a valid reply */
	MB_WHY_LINK,      /* serial port or TCP endpoint unreachable */
	MB_WHY_BAD_CONFIG,
};

const char *modbus_bus_why_name(enum modbus_bus_why w);

struct modbus_bus_result {
	const struct modbus_bus_device *dev; /* the worker's copy, valid during the callback */
	bool ok;
	enum modbus_bus_why why;
	int code;     /* exception code, or errno */
	int attempts; /* requests sent for this poll */
	int64_t mono_ms, wall_ms;
	int64_t backoff_ms; /* > 0: the next poll waits this long (failing device) */
	double *values;     /* one per profile point (NAN where unread); owned by the result */
	size_t nvalues;
};

typedef void (*modbus_bus_result_fn)(const struct modbus_bus_result *r, void *userdata);

struct modbus_bus;

/* Starts the worker of bus `bc` for the devices that name it. Results arrive on the loop's
 * thread through `fn`. NULL on failure (logged). */
struct modbus_bus *modbus_bus_start(uv_loop_t *loop, const struct bus_conf *bc,
                            const struct modbus_bus_device *devs, size_t ndevs, modbus_bus_result_fn fn,
                            void *userdata);
/* The bus it was started for. */
const struct bus_conf *modbus_bus_conf(const struct modbus_bus *b);
/* Stops and joins the worker; results not yet delivered are dropped (they are re-read). */
void modbus_bus_stop(struct modbus_bus *b);

/* A job run on the bus's worker between its regular polls (a scan, a probe), one short step
 * at a time so that no device waits for more than one step: a device that is due is polled
 * first, and a step runs when none is due (or when the job has waited a second). `ctx` is the
 * bus's open context, or NULL when the link is down (`err` is why) or the worker is stopping
 * (`err` is ECANCELED: the job's last call). Returns > 0 to be called again, 0 when done, < 0
 * when done and the link broke (the worker reconnects before its next poll). Called on the
 * worker thread: the job locks what it shares with the main loop. */
struct _modbus;
typedef int (*modbus_bus_job_fn)(struct _modbus *ctx, int err, void *arg);
/* Queues a job; 0, or -1 (out of memory, or the worker is stopping). */
int modbus_bus_add_job(struct modbus_bus *b, modbus_bus_job_fn fn, void *arg);

/* Opens a modbus_t for a bus (RTU or TCP) with RS-485 mode and delays applied; connects.
 * Used by the worker, scan and probe. Returns NULL with a message in err. */
struct _modbus;
struct _modbus *modbus_bus_open(const struct bus_conf *bc, char *err, size_t errlen);
/* After a timeout or a garbled answer: make sure a late answer cannot be taken for the next
 * one (TCP: reconnect; RTU: flush). Returns 0, or -1 if the link is gone. */
int modbus_bus_recover(struct _modbus *ctx);
/* One poll of one device on an open context: fills values (profile order) and returns the
 * why code; `code` gets the exception code or errno. */
enum modbus_bus_why modbus_bus_poll(struct _modbus *ctx, const struct modbus_bus_device *d, double *values, int *code,
                        int *attempts);
