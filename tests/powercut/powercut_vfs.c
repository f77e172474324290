/* SPDX-License-Identifier: MIT */
/* powercut_vfs: a power-cut simulator for firegw's ledger, for the tests only (never installed,
 * never linked into firegw). Loaded with LD_PRELOAD into a firegw the test starts; its
 * constructor registers an SQLite VFS, made the default, that wraps the default unix VFS:
 *
 * - every write (and truncate) to the database, its WAL or a rollback journal goes to the real
 *   file at once, as the page cache would take it, and is remembered (the bytes it replaced and
 *   the bytes it wrote) until the next successful xSync of that file;
 * - at the cut, every write not followed by a sync of its file is undone, or partly undone,
 *   as the chosen mode says, and the process kills itself with SIGKILL before anything else
 *   reaches the file. What is left on disk is what a power cut could have left on an eMMC
 *   that honours its flushes.
 *
 * Environment (all optional; without POWERCUT_AT or POWERCUT_AFTER_MS it only counts):
 *   POWERCUT_AT=N          cut at the Nth event counted (the event itself does not happen)
 *   POWERCUT_ON=sync|write which events count: every xSync (default), or every xWrite
 *   POWERCUT_AFTER_MS=T    cut T ms after start, from a timer thread, whatever firegw is doing
 *                          (idle too: then only writes committed without a sync are at stake)
 *   POWERCUT_MODE=drop|tear|mix   what happens to the unsynced writes (default drop):
 *       drop  every one is lost; each file goes back to its image at its last sync
 *       tear  they reached the device in order and the power failed during one of them
 *             (chosen with the seed): those before it survive, it is torn inside a 512-byte
 *             sector (new bytes, then garbage to the end of that sector), the rest are lost
 *       mix   the device reordered them: every 512-byte sector of every unsynced write
 *             survives or not, independently (the model of SQLite's own crash-test VFS)
 *   POWERCUT_ARM=PATH      armed by the test: once PATH exists, holding "K [sync|write] [MODE]",
 *                          the cut falls on the Kth event of that kind from then on
 *   POWERCUT_SEED=S        seed of tear and mix (default 1)
 *   POWERCUT_LOG=PATH      appends a line per sync ("sync NSYNC NWRITE FILE BYTES MS") with the
 *                          bytes written so far to all files, and one "cut ..." line at the cut
 *
 * What it cannot model: a device that acknowledges a flush it has not done (no software can
 * survive that), directory entries (a file created or deleted since the last sync of its
 * directory is taken as durable), and the -shm file, which SQLite rebuilds after any crash.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SECTOR 512

struct rec {
	int64_t off;   /* a write: where; a truncate: the new size */
	int amt;       /* bytes; -1 for a truncate */
	uint8_t *old;  /* what was there (zeros past the end) */
	uint8_t *data; /* what was written */
	int64_t oldlen;
};

struct state {
	char path[512];
	int refs;
	int64_t synced_size;
	struct rec *recs;
	size_t n, cap;
	struct state *next;
};

struct pc_file {
	sqlite3_file base;
	struct state *st; /* NULL: not tracked (temp files) */
	sqlite3_file *real;
};

static sqlite3_vfs *orig;
static sqlite3_vfs pc_vfs;
static sqlite3_io_methods pc_io;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct state *states;
static long cut_at;
static int count_writes;
static const char *mode = "drop";
static uint64_t rng = 1;
static int log_fd = -1;
static long n_sync, n_write;
static uint64_t bytes_written;
static struct timespec t0;
static const char *arm_path;
static int armed;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static long ms_since_start(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
}

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	if (log_fd < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0 && write(log_fd, buf, n > (int)sizeof(buf) ? sizeof(buf) : (size_t)n) < 0)
		return;
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

static void clear_recs(struct state *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->recs[i].old);
		free(s->recs[i].data);
	}
	s->n = 0;
}

static void pwrite_all(int fd, const uint8_t *p, size_t len, int64_t off)
{
	while (len > 0) {
		ssize_t w = pwrite(fd, p, len, off);

		if (w <= 0)
			return;
		p += w;
		len -= (size_t)w;
		off += w;
	}
}

/* Puts one file back as the mode says; returns the records that survived, wholly or partly. */
static size_t cut_file(struct state *s)
{
	int fd = open(s->path, O_RDWR | O_CLOEXEC);
	int64_t size = s->synced_size;
	size_t kept = 0, upto = s->n, torn = s->n;

	if (fd < 0)
		return 0;
	/* Back to the image of the last sync: every record undone, newest first. */
	for (size_t i = s->n; i-- > 0;) {
		struct rec *r = &s->recs[i];

		if (r->amt >= 0)
			pwrite_all(fd, r->old, (size_t)r->amt, r->off);
		else
			pwrite_all(fd, r->old, (size_t)r->oldlen, r->off);
	}
	if (strcmp(mode, "tear") == 0 && s->n > 0) {
		torn = rnd() % (s->n + 1); /* s->n: all survived, the power failed after */
		upto = torn;
	} else if (strcmp(mode, "drop") == 0) {
		upto = 0;
	}
	for (size_t i = 0; i < s->n && strcmp(mode, "drop") != 0; i++) {
		struct rec *r = &s->recs[i];

		if (i > upto)
			break;
		if (r->amt < 0) { /* a truncate */
			if (i < upto && (strcmp(mode, "tear") == 0 || rnd() & 1)) {
				size = r->off;
				if (ftruncate(fd, size) < 0)
					break;
				kept++;
			}
			continue;
		}
		if (strcmp(mode, "tear") == 0 && i < upto) {
			pwrite_all(fd, r->data, (size_t)r->amt, r->off);
			if (r->off + r->amt > size)
				size = r->off + r->amt;
			kept++;
			continue;
		}
		/* mix: sector by sector; tear: the write the power failed in. */
		int64_t p = r->off, end = r->off + r->amt;
		int64_t stop = end;
		bool any = false;

		if (i == torn) {
			int64_t sectors = (end - p + SECTOR - 1) / SECTOR;

			stop = p + (int64_t)(rnd() % (uint64_t)(sectors * SECTOR));
		}
		while (p < end) {
			int64_t next = (p / SECTOR + 1) * SECTOR;

			if (next > end)
				next = end;
			if (i == torn) {
				if (p >= stop)
					break;
				if (next > stop) { /* the torn sector: new bytes, then garbage */
					uint8_t junk[SECTOR];
					int64_t n = next - stop;

					for (int64_t k = 0; k < n; k++)
						junk[k] = (uint8_t)rnd();
					pwrite_all(fd, r->data + (p - r->off), (size_t)(stop - p), p);
					pwrite_all(fd, junk, (size_t)n, stop);
					any = true;
					p = next;
					continue;
				}
				pwrite_all(fd, r->data + (p - r->off), (size_t)(next - p), p);
				any = true;
			} else if (rnd() & 1) {
				pwrite_all(fd, r->data + (p - r->off), (size_t)(next - p), p);
				any = true;
				if (next > size)
					size = next;
			}
			p = next;
		}
		if (i == torn && any && p > size)
			size = p;
		kept += any;
	}
	if (ftruncate(fd, size) < 0)
		size = -1;
	close(fd);
	logf_("cut-file %s unsynced=%zu kept=%zu synced_size=%lld size=%lld\n", base_name(s->path),
	      s->n, kept, (long long)s->synced_size, (long long)size);
	return kept;
}

/* The power fails: called with mu held; never returns. */
static void power_cut(const char *why)
{
	size_t unsynced = 0;

	logf_("cut %s mode=%s sync=%ld write=%ld ms=%ld\n", why, mode, n_sync, n_write,
	      ms_since_start());
	for (struct state *s = states; s; s = s->next) {
		unsynced += s->n;
		cut_file(s);
	}
	logf_("cut-done unsynced=%zu\n", unsynced);
	kill(getpid(), SIGKILL);
	for (;;)
		pause();
}

/* The arm file, once it appears: "K [sync|write] [drop|tear|mix]", the cut at the Kth event of
 * that kind from the one that found it (1: that one). mu held. */
static void check_arm(int is_write)
{
	char buf[64] = "", on[16] = "sync", m[16] = "";
	long k = 0;
	int fd;
	ssize_t n;

	if (!arm_path || armed || access(arm_path, F_OK) != 0)
		return;
	if ((fd = open(arm_path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0 || sscanf(buf, "%ld %15s %15s", &k, on, m) < 1 || k < 1)
		return; /* being written: the next event looks again */
	armed = 1;
	count_writes = strcmp(on, "write") == 0;
	if (*m)
		mode = strcmp(m, "tear") == 0 ? "tear" : strcmp(m, "mix") == 0 ? "mix" : "drop";
	cut_at = (count_writes ? n_write - is_write : n_sync - !is_write) + k;
	logf_("armed at sync=%ld write=%ld: cut at %s %ld, %s\n", n_sync, n_write,
	      count_writes ? "write" : "sync", cut_at, mode);
}

/* One more event of the counted kind; cuts when it is the chosen one. mu held. */
static void count_event(int is_write)
{
	long n = is_write ? n_write : n_sync;

	check_arm(is_write);

	if (cut_at > 0 && is_write == count_writes && n == cut_at) {
		char why[64];

		snprintf(why, sizeof(why), "at-%s-%ld", is_write ? "write" : "sync", n);
		power_cut(why);
	}
}

static struct state *state_for(const char *path)
{
	struct state *s;

	for (s = states; s; s = s->next)
		if (strcmp(s->path, path) == 0) {
			s->refs++;
			return s;
		}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	snprintf(s->path, sizeof(s->path), "%s", path);
	s->refs = 1;
	s->synced_size = -1;
	s->next = states;
	states = s;
	return s;
}

static void state_drop(struct state *s)
{
	if (--s->refs > 0)
		return;
	/* Closed: what it had not synced stays at stake (the kernel keeps it until a flush). */
}

static int add_rec(struct state *s, int64_t off, int amt, uint8_t *old, uint8_t *data,
                   int64_t oldlen)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct rec *r = realloc(s->recs, cap * sizeof(*r));

		if (!r)
			return -1;
		s->recs = r;
		s->cap = cap;
	}
	s->recs[s->n++] = (struct rec){off, amt, old, data, oldlen};
	return 0;
}

/* ---- the io methods ---- */

#define REAL(f) (((struct pc_file *)(f))->real)

static int pc_close(sqlite3_file *f)
{
	struct pc_file *p = (struct pc_file *)f;
	int rc = p->real->pMethods ? p->real->pMethods->xClose(p->real) : SQLITE_OK;

	pthread_mutex_lock(&mu);
	if (p->st)
		state_drop(p->st);
	pthread_mutex_unlock(&mu);
	return rc;
}

static int pc_read(sqlite3_file *f, void *buf, int amt, sqlite3_int64 off)
{
	return REAL(f)->pMethods->xRead(REAL(f), buf, amt, off);
}

static int pc_write(sqlite3_file *f, const void *buf, int amt, sqlite3_int64 off)
{
	struct pc_file *p = (struct pc_file *)f;
	sqlite3_file *r = p->real;
	int rc;

	pthread_mutex_lock(&mu);
	n_write++;
	count_event(1);
	if (p->st) {
		uint8_t *old = malloc((size_t)amt), *data = malloc((size_t)amt);
		int rrc;

		if (!old || !data) {
			free(old);
			free(data);
			pthread_mutex_unlock(&mu);
			return SQLITE_IOERR_NOMEM;
		}
		if (p->st->synced_size < 0) {
			sqlite3_int64 sz = 0;

			r->pMethods->xFileSize(r, &sz);
			p->st->synced_size = sz;
		}
		rrc = r->pMethods->xRead(r, old, amt, off); /* zero-filled past the end */
		if (rrc != SQLITE_OK && rrc != SQLITE_IOERR_SHORT_READ) {
			free(old);
			free(data);
			pthread_mutex_unlock(&mu);
			return rrc;
		}
		memcpy(data, buf, (size_t)amt);
		add_rec(p->st, off, amt, old, data, 0);
	}
	rc = r->pMethods->xWrite(r, buf, amt, off);
	if (rc == SQLITE_OK)
		bytes_written += (uint64_t)amt;
	pthread_mutex_unlock(&mu);
	return rc;
}

static int pc_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	struct pc_file *p = (struct pc_file *)f;
	sqlite3_file *r = p->real;
	int rc;

	pthread_mutex_lock(&mu);
	if (p->st) {
		sqlite3_int64 cur = 0;

		r->pMethods->xFileSize(r, &cur);
		if (p->st->synced_size < 0)
			p->st->synced_size = cur;
		if (cur > size) {
			uint8_t *old = malloc((size_t)(cur - size));

			if (!old) {
				pthread_mutex_unlock(&mu);
				return SQLITE_IOERR_NOMEM;
			}
			r->pMethods->xRead(r, old, (int)(cur - size), size);
			add_rec(p->st, size, -1, old, NULL, cur - size);
		}
	}
	rc = r->pMethods->xTruncate(r, size);
	pthread_mutex_unlock(&mu);
	return rc;
}

static int pc_sync(sqlite3_file *f, int flags)
{
	struct pc_file *p = (struct pc_file *)f;
	sqlite3_file *r = p->real;
	int rc;

	pthread_mutex_lock(&mu);
	n_sync++;
	count_event(0);
	rc = r->pMethods->xSync(r, flags);
	if (rc == SQLITE_OK && p->st) {
		sqlite3_int64 sz = 0;

		clear_recs(p->st);
		r->pMethods->xFileSize(r, &sz);
		p->st->synced_size = sz;
		logf_("sync %ld %ld %s %llu %ld\n", n_sync, n_write, base_name(p->st->path),
		      (unsigned long long)bytes_written, ms_since_start());
	}
	pthread_mutex_unlock(&mu);
	return rc;
}

static int pc_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return REAL(f)->pMethods->xFileSize(REAL(f), size);
}
static int pc_lock(sqlite3_file *f, int l)
{
	return REAL(f)->pMethods->xLock(REAL(f), l);
}
static int pc_unlock(sqlite3_file *f, int l)
{
	return REAL(f)->pMethods->xUnlock(REAL(f), l);
}
static int pc_check_lock(sqlite3_file *f, int *out)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int pc_fcntl(sqlite3_file *f, int op, void *arg)
{
	return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int pc_sector(sqlite3_file *f)
{
	return REAL(f)->pMethods->xSectorSize(REAL(f));
}
static int pc_devchar(sqlite3_file *f)
{
	return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static int pc_shm_map(sqlite3_file *f, int pg, int pgsz, int ext, void volatile **pp)
{
	return REAL(f)->pMethods->xShmMap(REAL(f), pg, pgsz, ext, pp);
}
static int pc_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
	return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}
static void pc_shm_barrier(sqlite3_file *f)
{
	REAL(f)->pMethods->xShmBarrier(REAL(f));
}
static int pc_shm_unmap(sqlite3_file *f, int del)
{
	return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}
static int pc_fetch(sqlite3_file *f, sqlite3_int64 off, int amt, void **pp)
{
	/* No memory-mapped reads: every byte goes through xRead, so none escapes the model. */
	(void)f;
	(void)off;
	(void)amt;
	*pp = NULL;
	return SQLITE_OK;
}
static int pc_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	(void)f;
	(void)off;
	(void)p;
	return SQLITE_OK;
}

/* ---- the vfs ---- */

static int pc_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out)
{
	struct pc_file *p = (struct pc_file *)f;
	int rc;

	(void)vfs;
	memset(p, 0, sizeof(*p));
	p->real = (sqlite3_file *)(p + 1);
	rc = orig->xOpen(orig, name, p->real, flags, out);
	if (rc != SQLITE_OK) {
		p->real->pMethods = NULL;
		return rc;
	}
	if (name && (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL | SQLITE_OPEN_MAIN_JOURNAL)) &&
	    !(flags & SQLITE_OPEN_DELETEONCLOSE)) {
		pthread_mutex_lock(&mu);
		p->st = state_for(name);
		pthread_mutex_unlock(&mu);
	}
	p->base.pMethods = &pc_io;
	return SQLITE_OK;
}

static int pc_delete(sqlite3_vfs *vfs, const char *name, int dirsync)
{
	(void)vfs;
	pthread_mutex_lock(&mu);
	for (struct state *s = states; s; s = s->next)
		if (strcmp(s->path, name) == 0) {
			clear_recs(s); /* gone: nothing of it is at stake any more */
			s->synced_size = 0;
		}
	pthread_mutex_unlock(&mu);
	return orig->xDelete(orig, name, dirsync);
}

static int pc_access(sqlite3_vfs *v, const char *n, int fl, int *out)
{
	(void)v;
	return orig->xAccess(orig, n, fl, out);
}
static int pc_fullpath(sqlite3_vfs *v, const char *n, int len, char *out)
{
	(void)v;
	return orig->xFullPathname(orig, n, len, out);
}
static void *pc_dlopen(sqlite3_vfs *v, const char *n)
{
	(void)v;
	return orig->xDlOpen(orig, n);
}
static void pc_dlerror(sqlite3_vfs *v, int n, char *msg)
{
	(void)v;
	orig->xDlError(orig, n, msg);
}
static void (*pc_dlsym(sqlite3_vfs *v, void *h, const char *s))(void)
{
	(void)v;
	return orig->xDlSym(orig, h, s);
}
static void pc_dlclose(sqlite3_vfs *v, void *h)
{
	(void)v;
	orig->xDlClose(orig, h);
}
static int pc_random(sqlite3_vfs *v, int n, char *out)
{
	(void)v;
	return orig->xRandomness(orig, n, out);
}
static int pc_sleep(sqlite3_vfs *v, int us)
{
	(void)v;
	return orig->xSleep(orig, us);
}
static int pc_time(sqlite3_vfs *v, double *out)
{
	(void)v;
	return orig->xCurrentTime(orig, out);
}
static int pc_lasterr(sqlite3_vfs *v, int n, char *out)
{
	(void)v;
	return orig->xGetLastError ? orig->xGetLastError(orig, n, out) : 0;
}
static int pc_time64(sqlite3_vfs *v, sqlite3_int64 *out)
{
	(void)v;
	return orig->xCurrentTimeInt64(orig, out);
}

static void *timer_main(void *arg)
{
	long ms = (long)(intptr_t)arg;
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	pthread_mutex_lock(&mu);
	power_cut("timer");
	return NULL;
}

static long env_long(const char *name, long dflt)
{
	const char *v = getenv(name);

	return v && *v ? strtol(v, NULL, 10) : dflt;
}

__attribute__((constructor)) static void powercut_init(void)
{
	const char *v;
	long after;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (sqlite3_initialize() != SQLITE_OK || !(orig = sqlite3_vfs_find(NULL)))
		return;
	cut_at = env_long("POWERCUT_AT", 0);
	count_writes = (v = getenv("POWERCUT_ON")) && strcmp(v, "write") == 0;
	if ((v = getenv("POWERCUT_MODE")) && *v)
		mode = strcmp(v, "tear") == 0 ? "tear" : strcmp(v, "mix") == 0 ? "mix" : "drop";
	rng = (uint64_t)env_long("POWERCUT_SEED", 1) * 0x9E3779B97F4A7C15ull + 1;
	if ((v = getenv("POWERCUT_ARM")) && *v)
		arm_path = v;
	if ((v = getenv("POWERCUT_LOG")) && *v)
		log_fd = open(v, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

	pc_io = (sqlite3_io_methods){
	    .iVersion = 3,
	    .xClose = pc_close,
	    .xRead = pc_read,
	    .xWrite = pc_write,
	    .xTruncate = pc_truncate,
	    .xSync = pc_sync,
	    .xFileSize = pc_file_size,
	    .xLock = pc_lock,
	    .xUnlock = pc_unlock,
	    .xCheckReservedLock = pc_check_lock,
	    .xFileControl = pc_fcntl,
	    .xSectorSize = pc_sector,
	    .xDeviceCharacteristics = pc_devchar,
	    .xShmMap = pc_shm_map,
	    .xShmLock = pc_shm_lock,
	    .xShmBarrier = pc_shm_barrier,
	    .xShmUnmap = pc_shm_unmap,
	    .xFetch = pc_fetch,
	    .xUnfetch = pc_unfetch,
	};
	pc_vfs = (sqlite3_vfs){
	    .iVersion = 2,
	    .szOsFile = (int)sizeof(struct pc_file) + orig->szOsFile,
	    .mxPathname = orig->mxPathname,
	    .zName = "powercut",
	    .xOpen = pc_open,
	    .xDelete = pc_delete,
	    .xAccess = pc_access,
	    .xFullPathname = pc_fullpath,
	    .xDlOpen = pc_dlopen,
	    .xDlError = pc_dlerror,
	    .xDlSym = pc_dlsym,
	    .xDlClose = pc_dlclose,
	    .xRandomness = pc_random,
	    .xSleep = pc_sleep,
	    .xCurrentTime = pc_time,
	    .xGetLastError = pc_lasterr,
	    .xCurrentTimeInt64 = pc_time64,
	};
	sqlite3_vfs_register(&pc_vfs, 1);
	logf_("start pid=%d at=%ld on=%s mode=%s\n", (int)getpid(), cut_at,
	      count_writes ? "write" : "sync", mode);
	after = env_long("POWERCUT_AFTER_MS", 0);
	if (after > 0) {
		pthread_t t;

		pthread_create(&t, NULL, timer_main, (void *)(intptr_t)after);
		pthread_detach(t);
	}
}
