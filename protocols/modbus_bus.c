/* SPDX-License-Identifier: MIT */
/* modbus_bus: the bus worker thread, its schedule and its hand-off to the main loop. */
#include "modbus_bus.h"

#include <errno.h>
#include <math.h>
#include <modbus.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "modbus_map.h"

#define MB_BACKOFF_MAX_MS      30000
#define MB_LINK_BACKOFF_MAX_MS 30000

struct modbus_bus_dev {
	struct modbus_bus_device dc;
	struct modbus_map_plan plan;
	int64_t due;  /* mono ms */
	int failures; /* in a row */
	bool bad_config;
};

struct modbus_bus_job {
	modbus_bus_job_fn fn;
	void *arg;
};

#define MB_JOB_MAX_WAIT_MS 1000

struct modbus_bus {
	const struct bus_conf *bc;
	struct modbus_bus_dev *devs;
	size_t ndevs;
	modbus_t *ctx;
	bool connected;
	int link_errno; /* why the last connect failed */
	int64_t link_backoff, link_retry_at;
	struct log_state link_log;

	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop;

	struct modbus_bus_job *jobs; /* under lock */
	size_t njobs, jobcap;
	int64_t job_waiting_since; /* mono ms: when a job was last stepped or queued */

	uv_async_t async;
	struct modbus_bus_result *q; /* results waiting for the main loop */
	size_t qn, qcap;
	modbus_bus_result_fn fn;
	void *userdata;
};

const char *modbus_bus_why_name(enum modbus_bus_why w)
{
	switch (w) {
	case MB_WHY_PENDING:
		return "pending";
	case MB_WHY_OK:
		return "ok";
	case MB_WHY_TIMEOUT:
		return "timeout";
	case MB_WHY_EXCEPTION:
		return "exception";
	case MB_WHY_CRC:
		return "crc";
	case MB_WHY_GARBAGE:
		return "garbage";
	case MB_WHY_LINK:
		return "link down";
	case MB_WHY_BAD_CONFIG:
		return "bad config";
	}
	return "unknown";
}

modbus_t *modbus_bus_open(const struct bus_conf *bc, char *err, size_t errlen)
{
	modbus_t *ctx;
	char port[16];

	if (bc->type == BUS_TCP) {
		snprintf(port, sizeof(port), "%d", bc->tcp_port);
		ctx = modbus_new_tcp_pi(bc->host, port);
	} else {
		ctx = modbus_new_rtu(bc->port, bc->baud, bc->parity, bc->data_bits, bc->stop_bits);
	}
	if (!ctx) {
		snprintf(err, errlen, "bus '%s': %s", bc->name, modbus_strerror(errno));
		return NULL;
	}
	/* After a timeout a late answer may still arrive: flush it before the next request. */
	modbus_set_error_recovery(ctx, MODBUS_ERROR_RECOVERY_PROTOCOL);
	if (bc->type == BUS_TCP) {
		uint32_t s = (uint32_t)(bc->connect_timeout_ms / 1000);
		uint32_t us = (uint32_t)(bc->connect_timeout_ms % 1000) * 1000;

		/* libmodbus bounds the TCP connect by the response timeout. */
		modbus_set_response_timeout(ctx, s, us);
	}
	if (modbus_connect(ctx) != 0) {
		int e = errno;

		snprintf(err, errlen, "bus '%s': cannot connect to %s%s%s: %s", bc->name,
		         bc->type == BUS_TCP ? bc->host : bc->port, bc->type == BUS_TCP ? ":" : "",
		         bc->type == BUS_TCP ? port : "", modbus_strerror(e));
		modbus_free(ctx);
		errno = e;
		return NULL;
	}
	/* One user of a serial line at a time: the daemon's worker and a standalone scan or
	 * probe would garble each other's frames. The lock goes with the descriptor. */
	if (bc->type == BUS_RTU && flock(modbus_get_socket(ctx), LOCK_EX | LOCK_NB) != 0) {
		int e = errno == EWOULDBLOCK ? EBUSY : errno;

		snprintf(err, errlen, "bus '%s': %s is in use by another program (%s)", bc->name,
		         bc->port, strerror(e));
		modbus_close(ctx);
		modbus_free(ctx);
		errno = e;
		return NULL;
	}
	if (bc->type == BUS_RTU && bc->rs485 &&
	    modbus_rtu_set_serial_mode(ctx, MODBUS_RTU_RS485) != 0)
		log_warn("bus '%s': %s does not support RS-485 mode (%s); using it as it is",
		         bc->name, bc->port, modbus_strerror(errno));
	return ctx;
}

static enum modbus_bus_why modbus_bus_why_of(int e)
{
	if (e == ETIMEDOUT || e == EAGAIN)
		return MB_WHY_TIMEOUT;
	if (e >= EMBXILFUN && e <= EMBXGTAR)
		return MB_WHY_EXCEPTION;
	if (e == EMBBADCRC)
		return MB_WHY_CRC;
	if (e == EMBBADDATA || e == EMBBADEXC || e == EMBUNKEXC || e == EMBMDATA ||
	    e == EMBBADSLAVE)
		return MB_WHY_GARBAGE;
	return MB_WHY_LINK;
}

static int modbus_bus_read_block(modbus_t *ctx, const struct modbus_map_block *b, uint16_t *regs, uint8_t *bits)
{
	switch (b->fn) {
	case FN_HOLDING:
		return modbus_read_registers(ctx, b->start, b->count, regs);
	case FN_INPUT:
		return modbus_read_input_registers(ctx, b->start, b->count, regs);
	case FN_COIL:
		return modbus_read_bits(ctx, b->start, b->count, bits);
	case FN_DISCRETE:
		return modbus_read_input_bits(ctx, b->start, b->count, bits);
	}
	return -1;
}

int modbus_bus_recover(modbus_t *ctx)
{
	/* libmodbus reads a late answer as the reply to the next request, which then fails with
	 * a transaction id or unit mismatch and blames an innocent device. On TCP a new
	 * connection leaves the late answer behind; on a serial line, drop what arrived. */
	if (modbus_get_header_length(ctx) == 7) {
		modbus_close(ctx);
		return modbus_connect(ctx);
	}
	modbus_flush(ctx);
	return 0;
}

static enum modbus_bus_why modbus_bus_poll_plan(modbus_t *ctx, const struct modbus_bus_device *d,
                                const struct modbus_map_plan *plan, double *values, int *code,
                                int *attempts)
{
	const struct profile *p = d->prof;
	uint16_t regs[MODBUS_MAX_READ_REGISTERS];
	uint8_t bits[MODBUS_MAX_READ_REGISTERS];

	modbus_set_slave(ctx, d->unit);
	modbus_set_response_timeout(ctx, (uint32_t)(d->timeout_ms / 1000),
	                            (uint32_t)(d->timeout_ms % 1000) * 1000);
	for (size_t i = 0; i < p->npoints; i++)
		values[i] = NAN;
	for (size_t bi = 0; bi < plan->n; bi++) {
		const struct modbus_map_block *b = &plan->blocks[bi];
		int rc = -1, e = 0;

		for (int t = 0; t <= d->retries && rc < 0; t++) {
			(*attempts)++;
			rc = modbus_bus_read_block(ctx, b, regs, bits);
			e = errno;
			/* An exception is an answer: asking again will not change it. */
			if (rc < 0 && modbus_bus_why_of(e) == MB_WHY_EXCEPTION)
				break;
			if (rc < 0 &&
			    (modbus_bus_why_of(e) == MB_WHY_TIMEOUT || modbus_bus_why_of(e) == MB_WHY_GARBAGE ||
			     modbus_bus_why_of(e) == MB_WHY_CRC) &&
			    modbus_bus_recover(ctx) != 0) {
				e = errno;
				*code = e;
				return MB_WHY_LINK;
			}
		}
		if (rc < 0) {
			enum modbus_bus_why w = modbus_bus_why_of(e);

			*code = w == MB_WHY_EXCEPTION ? e - MODBUS_ENOBASE : e;
			return w;
		}
		for (size_t i = 0; i < p->npoints; i++) {
			if (plan->point_block[i] != bi)
				continue;
			const struct point *pt = &p->points[i];
			int off = plan->point_offset[i];

			values[i] = pt->fn == FN_COIL || pt->fn == FN_DISCRETE
			                ? modbus_map_decode_bit(pt, bits[off])
			                : modbus_map_decode_regs(pt, &regs[off]);
		}
	}
	*code = 0;
	return MB_WHY_OK;
}

enum modbus_bus_why modbus_bus_poll(modbus_t *ctx, const struct modbus_bus_device *d, double *values, int *code,
                        int *attempts)
{
	struct modbus_map_plan plan;
	enum modbus_bus_why w;

	if (!d->prof || modbus_map_plan_build(d->prof, &plan) != 0) {
		*code = EINVAL;
		return MB_WHY_BAD_CONFIG;
	}
	w = modbus_bus_poll_plan(ctx, d, &plan, values, code, attempts);
	modbus_map_plan_free(&plan);
	return w;
}

/* ---- worker ---- */

static void modbus_bus_push(struct modbus_bus *b, struct modbus_bus_result *r)
{
	pthread_mutex_lock(&b->lock);
	if (b->qn == b->qcap) {
		size_t cap = b->qcap ? b->qcap * 2 : 64;
		struct modbus_bus_result *q = realloc(b->q, cap * sizeof(*q));

		if (!q) {
			pthread_mutex_unlock(&b->lock);
			free(r->values);
			return; /* dropped: the device is read again at its next poll */
		}
		b->q = q;
		b->qcap = cap;
	}
	b->q[b->qn++] = *r;
	pthread_mutex_unlock(&b->lock);
	uv_async_send(&b->async);
}

static void modbus_bus_link(struct modbus_bus *b, int64_t now)
{
	char err[256];

	if (b->connected || now < b->link_retry_at)
		return;
	if (b->ctx) {
		modbus_close(b->ctx);
		modbus_free(b->ctx);
		b->ctx = NULL;
	}
	b->ctx = modbus_bus_open(b->bc, err, sizeof(err));
	if (b->ctx) {
		b->connected = true;
		b->link_backoff = 0;
		log_state_report(&b->link_log, 0, b->bc->name, NULL);
		return;
	}
	b->link_errno = errno ? errno : ENOTCONN;
	b->link_backoff = b->link_backoff ? b->link_backoff * 2 : 1000;
	if (b->link_backoff > MB_LINK_BACKOFF_MAX_MS)
		b->link_backoff = MB_LINK_BACKOFF_MAX_MS;
	b->link_retry_at = now + b->link_backoff;
	log_state_report(&b->link_log, 1, b->bc->name, err);
}

static void modbus_bus_poll_dev(struct modbus_bus *b, struct modbus_bus_dev *d)
{
	struct modbus_bus_result r = {.dev = &d->dc};
	int64_t now = clock_mono_ms();

	r.nvalues = d->dc.prof ? d->dc.prof->npoints : 0;
	r.values = calloc(r.nvalues ? r.nvalues : 1, sizeof(double));
	if (!r.values)
		return;
	modbus_bus_link(b, now);
	if (d->bad_config) {
		r.why = MB_WHY_BAD_CONFIG;
		r.code = EINVAL;
	} else if (!b->connected) {
		r.why = MB_WHY_LINK;
		r.code = b->link_errno ? b->link_errno : ENOTCONN;
		for (size_t i = 0; i < r.nvalues; i++)
			r.values[i] = NAN;
	} else {
		r.why = modbus_bus_poll_plan(b->ctx, &d->dc, &d->plan, r.values, &r.code, &r.attempts);
		if (r.why == MB_WHY_LINK) {
			/* The link broke under us: reconnect before the next poll. */
			b->connected = false;
			b->link_retry_at = 0;
		}
	}
	r.ok = r.why == MB_WHY_OK;
	r.mono_ms = clock_mono_ms();
	r.wall_ms = clock_wall_ms();
	/* Keep the cadence; a device that fails backs off so it cannot eat the others' time. */
	int64_t interval = d->dc.interval_ms;
	if (r.ok) {
		d->failures = 0;
	} else {
		d->failures++;
		int shift = d->failures < 6 ? d->failures - 1 : 5;
		int64_t back = interval << shift;

		if (back > MB_BACKOFF_MAX_MS)
			back = interval > MB_BACKOFF_MAX_MS ? interval : MB_BACKOFF_MAX_MS;
		interval = back;
		r.backoff_ms = back;
	}
	d->due += interval;
	if (d->due < r.mono_ms)
		d->due = r.mono_ms + (r.ok ? 0 : interval);
	modbus_bus_push(b, &r);
}

/* With the lock held: whether a job's step goes before the next poll. */
static bool modbus_bus_job_turn(struct modbus_bus *b, const struct modbus_bus_dev *next)
{
	int64_t now = clock_mono_ms();

	return !next || next->due > now || now - b->job_waiting_since >= MB_JOB_MAX_WAIT_MS;
}

/* With the lock held (released around the step): one step of the first job, which then goes
 * to the back of the queue, or away when done. */
static void modbus_bus_job_step(struct modbus_bus *b)
{
	struct modbus_bus_job j = b->jobs[0];
	int rc;

	pthread_mutex_unlock(&b->lock);
	modbus_bus_link(b, clock_mono_ms());
	rc = j.fn(b->connected ? b->ctx : NULL,
	          b->connected ? 0 : b->link_errno ? b->link_errno : ENOTCONN, j.arg);
	if (rc < 0) {
		b->connected = false;
		b->link_retry_at = 0;
	}
	pthread_mutex_lock(&b->lock);
	memmove(&b->jobs[0], &b->jobs[1], (b->njobs - 1) * sizeof(*b->jobs));
	if (rc > 0)
		b->jobs[b->njobs - 1] = j;
	else
		b->njobs--;
	b->job_waiting_since = clock_mono_ms();
}

int modbus_bus_add_job(struct modbus_bus *b, modbus_bus_job_fn fn, void *arg)
{
	int rc = -1;

	pthread_mutex_lock(&b->lock);
	if (!b->stop && b->njobs == b->jobcap) {
		size_t cap = b->jobcap ? b->jobcap * 2 : 4;
		struct modbus_bus_job *j = realloc(b->jobs, cap * sizeof(*j));

		if (j) {
			b->jobs = j;
			b->jobcap = cap;
		}
	}
	if (!b->stop && b->njobs < b->jobcap) {
		if (b->njobs == 0)
			b->job_waiting_since = clock_mono_ms();
		b->jobs[b->njobs++] = (struct modbus_bus_job){fn, arg};
		pthread_cond_signal(&b->wake);
		rc = 0;
	}
	pthread_mutex_unlock(&b->lock);
	return rc;
}

static void *modbus_bus_main(void *arg)
{
	struct modbus_bus *b = arg;

	pthread_mutex_lock(&b->lock);
	while (!b->stop) {
		struct modbus_bus_dev *next = NULL;

		for (size_t i = 0; i < b->ndevs; i++)
			if (!next || b->devs[i].due < next->due)
				next = &b->devs[i];
		if (b->njobs && modbus_bus_job_turn(b, next)) {
			modbus_bus_job_step(b);
			continue;
		}
		if (!next) {
			pthread_cond_wait(&b->wake, &b->lock);
			continue;
		}
		int64_t now = clock_mono_ms();
		if (next->due > now) {
			struct timespec ts;

			clock_gettime(CLOCK_MONOTONIC, &ts);
			int64_t wait = next->due - now;
			ts.tv_sec += wait / 1000;
			ts.tv_nsec += (long)(wait % 1000) * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&b->wake, &b->lock, &ts);
			continue;
		}
		pthread_mutex_unlock(&b->lock);
		modbus_bus_poll_dev(b, next);
		pthread_mutex_lock(&b->lock);
	}
	pthread_mutex_unlock(&b->lock);
	if (b->ctx) {
		modbus_close(b->ctx);
		modbus_free(b->ctx);
		b->ctx = NULL;
	}
	return NULL;
}

static void modbus_bus_on_async(uv_async_t *h)
{
	struct modbus_bus *b = h->data;
	struct modbus_bus_result *q;
	size_t n;

	pthread_mutex_lock(&b->lock);
	q = b->q;
	n = b->qn;
	b->q = NULL;
	b->qn = b->qcap = 0;
	pthread_mutex_unlock(&b->lock);
	for (size_t i = 0; i < n; i++) {
		b->fn(&q[i], b->userdata);
		free(q[i].values);
	}
	free(q);
}

struct modbus_bus *modbus_bus_start(uv_loop_t *loop, const struct bus_conf *bc,
                            const struct modbus_bus_device *devs, size_t ndevs, modbus_bus_result_fn fn,
                            void *userdata)
{
	struct modbus_bus *b = calloc(1, sizeof(*b));
	pthread_condattr_t ca;
	int64_t now = clock_mono_ms();

	if (!b)
		return NULL;
	b->bc = bc;
	b->fn = fn;
	b->userdata = userdata;
	b->devs = calloc(ndevs ? ndevs : 1, sizeof(*b->devs));
	if (!b->devs) {
		free(b);
		return NULL;
	}
	b->ndevs = ndevs;
	for (size_t i = 0; i < ndevs; i++) {
		b->devs[i].dc = devs[i];
		/* Spread the first polls over the first interval, not all at once. */
		b->devs[i].due = now + (int64_t)(i * 50 % (size_t)(devs[i].interval_ms + 1));
		if (!devs[i].prof || modbus_map_plan_build(devs[i].prof, &b->devs[i].plan) != 0) {
			b->devs[i].bad_config = true;
			log_err("device '%s': its profile cannot be read as Modbus requests",
			        devs[i].id);
		}
	}
	pthread_mutex_init(&b->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&b->wake, &ca);
	pthread_condattr_destroy(&ca);
	uv_async_init(loop, &b->async, modbus_bus_on_async);
	b->async.data = b;
	if (pthread_create(&b->thread, NULL, modbus_bus_main, b) != 0) {
		log_err("bus '%s': cannot start its worker thread", bc->name);
		modbus_bus_stop(b);
		return NULL;
	}
	b->started = true;
	log_info("bus '%s': polling %zu device(s) on %s", bc->name, ndevs,
	         bc->type == BUS_TCP ? bc->host : bc->port);
	return b;
}

const struct bus_conf *modbus_bus_conf(const struct modbus_bus *b)
{
	return b->bc;
}

static void modbus_bus_closed(uv_handle_t *h)
{
	struct modbus_bus *b = h->data;

	for (size_t i = 0; i < b->qn; i++)
		free(b->q[i].values);
	free(b->q);
	free(b->jobs);
	for (size_t i = 0; i < b->ndevs; i++)
		modbus_map_plan_free(&b->devs[i].plan);
	free(b->devs);
	pthread_mutex_destroy(&b->lock);
	pthread_cond_destroy(&b->wake);
	free(b);
}

void modbus_bus_stop(struct modbus_bus *b)
{
	if (!b)
		return;
	if (b->started) {
		pthread_mutex_lock(&b->lock);
		b->stop = true;
		pthread_cond_signal(&b->wake);
		pthread_mutex_unlock(&b->lock);
		pthread_join(b->thread, NULL);
	}
	/* The jobs' last call, on this thread now that the worker is gone. */
	for (size_t i = 0; i < b->njobs; i++)
		b->jobs[i].fn(NULL, ECANCELED, b->jobs[i].arg);
	b->njobs = 0;
	uv_close((uv_handle_t *)&b->async, modbus_bus_closed);
}
