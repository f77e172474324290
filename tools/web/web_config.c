/* SPDX-License-Identifier: MIT */
/* web_config: the config file's text and `firegw check`'s verdict on it. */
#include "web_config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "i18n.h"

extern char **environ;

char *web_config_read(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf;
	size_t len = 0;
	ssize_t n = 0;

	if (fd < 0) {
		snprintf(err, errlen, _("cannot read %s: %s"), path, strerror(errno));
		return NULL;
	}
	buf = malloc(WEB_CONFIG_MAX + 1);
	while (buf && len < WEB_CONFIG_MAX &&
	       ((n = read(fd, buf + len, WEB_CONFIG_MAX - len)) > 0 || (n < 0 && errno == EINTR)))
		len += n > 0 ? (size_t)n : 0;
	close(fd);
	if (!buf || n < 0) {
		snprintf(err, errlen, _("cannot read %s: %s"), path, strerror(errno));
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

static long long web_config_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *web_config_check(const char *firegw, const char *path, int *status)
{
	char *argv[] = {(char *)firegw, "check", "-c", (char *)path, NULL};
	posix_spawn_file_actions_t fa;
	long long deadline = web_config_now_ms() + WEB_CONFIG_CHECK_TIMEOUT_MS;
	char *out = calloc(1, WEB_CONFIG_MAX + 1);
	size_t len = 0;
	int pipefd[2], wst = 0;
	pid_t pid;

	*status = -1;
	if (!out)
		return NULL;
	if (pipe2(pipefd, O_CLOEXEC) != 0) {
		snprintf(out, WEB_CONFIG_MAX, "pipe: %s", strerror(errno));
		return out;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	int e = posix_spawn(&pid, firegw, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	if (e != 0) {
		close(pipefd[0]);
		snprintf(out, WEB_CONFIG_MAX, _("cannot run %s: %s"), firegw, strerror(e));
		return out;
	}
	for (;;) {
		struct pollfd p = {.fd = pipefd[0], .events = POLLIN};
		long long left = deadline - web_config_now_ms();
		char sink[4096];
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) == 0) {
			kill(pid, SIGKILL);
			snprintf(out + len, WEB_CONFIG_MAX - len, "\n%s\n",
			         _("firegw check did not finish in time"));
			len = strlen(out);
			wst = -1;
			break;
		}
		n = read(pipefd[0], len < WEB_CONFIG_MAX ? out + len : sink,
		         len < WEB_CONFIG_MAX ? WEB_CONFIG_MAX - len : sizeof(sink));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (len < WEB_CONFIG_MAX)
			len += (size_t)n;
	}
	close(pipefd[0]);
	out[len] = '\0';
	int w;
	while ((w = waitpid(pid, &wst, 0)) < 0 && errno == EINTR)
		;
	if (w == pid && WIFEXITED(wst))
		*status = WEXITSTATUS(wst);
	return out;
}
