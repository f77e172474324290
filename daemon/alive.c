/* SPDX-License-Identifier: MIT */
/* alive: the heartbeat file <data_dir>/alive, its format, and reading it at start. One line,
 * always of the same length, rewritten in place (no rename, no new block, no metadata but
 * the mtime) and synced:
 *     firegw-alive 1 running|stopped <last alive, wall ms> <this run's start, wall ms>
 * A file torn or emptied by a power cut is no line: then its mtime says when it was last
 * written. */
#include "alive.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "i18n.h"
#include "log.h"

#define ALIVE_MAGIC "firegw-alive 1"
/* The longest line a sound file holds; anything longer is not one. */
#define ALIVE_MAX 128

struct alive {
	int fd;
	char path[600];
	int64_t started_ms;
	int64_t written_ms;
	bool failing; /* the last write failed (logged once) */
};

int alive_parse(const char *text, struct alive_prev *prev)
{
	char state[16];
	long long last, started;
	int n = 0;

	if (sscanf(text, ALIVE_MAGIC " %15s %lld %lld%n", state, &last, &started, &n) != 3 ||
	    (text[n] != '\n' && text[n] != '\0') || last < 0 || started < 0)
		return -EINVAL;
	if (strcmp(state, "running") != 0 && strcmp(state, "stopped") != 0)
		return -EINVAL;
	prev->clean = strcmp(state, "stopped") == 0;
	prev->last_ms = last;
	prev->started_ms = started;
	return 0;
}

static void alive_read(int fd, struct alive_prev *prev)
{
	char buf[ALIVE_MAX + 1];
	struct stat st;
	ssize_t n = pread(fd, buf, ALIVE_MAX, 0);

	memset(prev, 0, sizeof(*prev));
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	if (n == 0 && fstat(fd, &st) == 0 && st.st_size == 0)
		return; /* just created: a first start */
	prev->found = true;
	if (alive_parse(buf, prev) == 0)
		return;
	/* Torn by a power cut: not clean, and alive until the file was last written. */
	prev->clean = false;
	if (fstat(fd, &st) == 0)
		prev->last_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
}

static int alive_write(struct alive *a, const char *state, int64_t wall_ms)
{
	char line[ALIVE_MAX];
	/* Fixed widths: every write is the same length, so none leaves a tail of the last. */
	int len = snprintf(line, sizeof(line), ALIVE_MAGIC " %-7s %020" PRId64 " %020" PRId64 "\n",
	                   state, wall_ms, a->started_ms);

	if (pwrite(a->fd, line, (size_t)len, 0) != len || fdatasync(a->fd) != 0) {
		if (!a->failing)
			log_warn(_("%s cannot be written (%s): after a power cut the outage will "
			           "seem to start earlier than it did"),
			         a->path, strerror(errno));
		a->failing = true;
		return -errno;
	}
	if (a->failing)
		log_notice(_("%s written again"), a->path);
	a->failing = false;
	a->written_ms = wall_ms;
	return 0;
}

struct alive *alive_open(const char *dir, struct alive_prev *prev)
{
	struct alive *a = calloc(1, sizeof(*a));

	memset(prev, 0, sizeof(*prev));
	if (!a)
		return NULL;
	snprintf(a->path, sizeof(a->path), "%s/alive", dir);
	a->fd = open(a->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (a->fd < 0) {
		log_warn(_("%s cannot be opened (%s): a restart after a power cut will not be "
		           "reported"),
		         a->path, strerror(errno));
		free(a);
		return NULL;
	}
	alive_read(a->fd, prev);
	return a;
}

void alive_running(struct alive *a, int64_t wall_ms)
{
	if (!a)
		return;
	a->started_ms = wall_ms;
	alive_write(a, "running", wall_ms);
}

void alive_beat(struct alive *a, int64_t wall_ms)
{
	/* Also when the wall clock went back: the file says the newest time known. */
	if (a && a->started_ms &&
	    (wall_ms - a->written_ms >= ALIVE_INTERVAL_MS || wall_ms < a->written_ms))
		alive_write(a, "running", wall_ms);
}

void alive_close(struct alive *a, int64_t wall_ms)
{
	if (!a)
		return;
	/* A run that never marked itself running leaves the last run's state as it was. */
	if (a->started_ms)
		alive_write(a, "stopped", wall_ms);
	close(a->fd);
	free(a);
}
