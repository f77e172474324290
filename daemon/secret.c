/* SPDX-License-Identifier: MIT */
/* secret: owner and mode rules of the files firegw trusts, and the reading of a secret. */
#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "i18n.h"

uid_t secret_service_uid(void)
{
	struct passwd *pw = getpwnam(SECRET_SERVICE_USER);

	return pw ? pw->pw_uid : geteuid();
}

/* A user's name for a message, else its number (chown takes either). */
static void secret_user(uid_t uid, char *out, size_t outlen)
{
	struct passwd *pw = getpwuid(uid);

	if (pw)
		snprintf(out, outlen, "%s", pw->pw_name);
	else
		snprintf(out, outlen, "%u", (unsigned)uid);
}

static bool secret_owner_ok(uid_t owner, uid_t euid, uid_t service_uid)
{
	return owner == 0 || owner == service_uid || owner == euid;
}

/* Who may own the file, for a message: "root" or "root or to firegw (the user firegw runs
 * as)". */
static void secret_allowed(uid_t service_uid, char *out, size_t outlen)
{
	char svc[64];

	secret_user(service_uid, svc, sizeof(svc));
	if (service_uid == 0)
		snprintf(out, outlen, _("root"));
	else
		snprintf(out, outlen, _("root or to %s (the user firegw runs as)"), svc);
}

/* "uid 65534 (nobody)" or "uid 1234". */
static void secret_owner_words(uid_t uid, char *out, size_t outlen)
{
	struct passwd *pw = getpwuid(uid);

	if (pw)
		snprintf(out, outlen, _("uid %u (%s)"), (unsigned)uid, pw->pw_name);
	else
		snprintf(out, outlen, _("uid %u"), (unsigned)uid);
}

int secret_judge_private(const struct stat *st, const char *path, const char *what, uid_t euid,
                         uid_t service_uid, char *err, size_t errlen)
{
	mode_t m = st->st_mode;
	char owner[96], svc[64], allowed[128];

	if (!S_ISREG(m)) {
		snprintf(err, errlen, _("%s is not a regular file; put the %s itself there"), path,
		         _(what));
		return -1;
	}
	if (m & (S_IRWXG | S_IRWXO)) {
		bool others = m & S_IRWXO;
		mode_t bits = others ? (m & S_IRWXO) : (m & S_IRWXG) >> 3;

		snprintf(err, errlen,
		         _("%s is %s by %s (mode %04o); a %s must stay secret: chmod 600 %s"), path,
		         bits & S_IROTH   ? _("readable")
		         : bits & S_IWOTH ? _("writable")
		                          : _("open"),
		         others ? _("others") : _("its group"), (unsigned)(m & 07777), _(what), path);
		return -1;
	}
	if (!secret_owner_ok(st->st_uid, euid, service_uid)) {
		secret_owner_words(st->st_uid, owner, sizeof(owner));
		secret_user(service_uid, svc, sizeof(svc));
		secret_allowed(service_uid, allowed, sizeof(allowed));
		snprintf(err, errlen,
		         _("%s belongs to %s, not to %s; its owner can read and replace the %s: "
		         "chown %s %s"),
		         path, owner, allowed, _(what), svc, path);
		return -1;
	}
	return 0;
}

int secret_judge_trusted(const struct stat *st, const char *path, uid_t euid, uid_t service_uid,
                         char *err, size_t errlen)
{
	mode_t m = st->st_mode;
	char owner[96], allowed[128];

	if (!S_ISREG(m)) {
		snprintf(err, errlen, _("%s is not a regular file"), path);
		return -1;
	}
	if (m & (S_IWGRP | S_IWOTH)) {
		snprintf(err, errlen,
		         _("%s is writable by %s (mode %04o); whoever can write it can send the "
		         "platform token elsewhere: chmod go-w %s"),
		         path, m & S_IWOTH ? _("others") : _("its group"), (unsigned)(m & 07777), path);
		return -1;
	}
	if (!secret_owner_ok(st->st_uid, euid, service_uid)) {
		secret_owner_words(st->st_uid, owner, sizeof(owner));
		secret_allowed(service_uid, allowed, sizeof(allowed));
		snprintf(err, errlen,
		         _("%s belongs to %s, not to %s; its owner can send the platform token "
		         "elsewhere: chown root %s"),
		         path, owner, allowed, path);
		return -1;
	}
	return 0;
}

int secret_judge_readable(const struct stat *st, const char *path, uid_t service_uid, char *err,
                          size_t errlen)
{
	char owner[96], svc[64];

	if (service_uid == 0 || (st->st_uid == service_uid && (st->st_mode & S_IRUSR)))
		return 0;
	if (st->st_uid == service_uid) {
		snprintf(err, errlen, _("%s cannot be read by its owner (mode %04o): chmod 600 %s"),
		         path, (unsigned)(st->st_mode & 07777), path);
		return -1;
	}
	secret_owner_words(st->st_uid, owner, sizeof(owner));
	secret_user(service_uid, svc, sizeof(svc));
	snprintf(err, errlen,
	         _("%s belongs to %s, and firegw runs as %s, which cannot read it (mode %04o): "
	         "chown %s %s"),
	         path, owner, svc, (unsigned)(st->st_mode & 07777), svc, path);
	return -1;
}

int secret_check_private(const char *path, const char *what, bool follow, char *err, size_t errlen)
{
	uid_t svc = secret_service_uid();
	struct stat st;
	char *s;

	if ((follow ? stat(path, &st) : lstat(path, &st)) != 0) {
		if (errno == ENOENT)
			return 1;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (S_ISLNK(st.st_mode)) {
		snprintf(err, errlen,
		         _("%s is a symbolic link; firegw reads a %s only from the file itself: "
		         "cp --remove-destination \"$(readlink -f %s)\" %s"),
		         path, _(what), path, path);
		return -1;
	}
	/* Readable by whoever checks: the daemon itself at start (under systemd, user firegw),
	 * or `sudo -u firegw firegw check`. Run as root, as installers and the tests do, it
	 * cannot tell what the service's user will be, so it does not guess: a machine where a
	 * user firegw exists but the daemon runs as root must pass too. */
	if (secret_judge_private(&st, path, what, geteuid(), svc, err, errlen) != 0 ||
	    secret_judge_readable(&st, path, geteuid(), err, errlen) != 0)
		return -1;
	if (follow)
		return 0; /* a key file: the TLS library reads it */
	s = secret_read(path, what, err, errlen);
	if (!s)
		/* This process may not read it (an operator's firegwctl): the rules above are
		 * what can be checked. */
		return errno == EACCES ? 0 : -1;
	secret_free(s);
	return 0;
}

int secret_check_trusted(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		if (errno == ENOENT)
			return 1;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	return secret_judge_trusted(&st, path, geteuid(), secret_service_uid(), err, errlen);
}

/* Fills buf with the whole file, at most cap bytes; *more: the file goes on. */
static ssize_t secret_read_all(int fd, char *buf, size_t cap, bool *more)
{
	size_t n = 0;
	char extra;

	*more = false;
	while (n < cap) {
		ssize_t r = read(fd, buf + n, cap - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			return (ssize_t)n;
		n += (size_t)r;
	}
	for (;;) {
		ssize_t r = read(fd, &extra, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		*more = r > 0;
		return (ssize_t)n;
	}
}

char *secret_read(const char *path, const char *what, char *err, size_t errlen)
{
	/* The secret, its line end ("\r\n") and the final NUL. */
	char buf[SECRET_MAX + 3], *out = NULL;
	struct stat st;
	bool more;
	ssize_t n;
	int fd, e = EINVAL;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0) {
		e = errno;
		if (e == ELOOP)
			snprintf(err, errlen,
			         _("%s is a symbolic link; firegw reads a %s only from the file "
			         "itself: cp --remove-destination \"$(readlink -f %s)\" %s"),
			         path, _(what), path, path);
		else
			snprintf(err, errlen, "%s: %s", path, strerror(e));
		errno = e;
		return NULL;
	}
	if (fstat(fd, &st) != 0) {
		e = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		close(fd);
		errno = e;
		return NULL;
	}
	if (secret_judge_private(&st, path, what, geteuid(), secret_service_uid(), err, errlen) !=
	    0) {
		close(fd);
		errno = EPERM;
		return NULL;
	}
	n = secret_read_all(fd, buf, sizeof(buf) - 1, &more);
	if (n < 0)
		e = errno;
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		goto out;
	}
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	if (more || n > SECRET_MAX)
		snprintf(err, errlen,
		         _("%s: %s longer than %d bytes; is it the right file? (firegw takes up to "
		         "%d)"),
		         path, _(what), SECRET_MAX, SECRET_MAX);
	else if (n == 0)
		snprintf(err, errlen, _("%s is empty; put the %s in it"), path, _(what));
	else if (strpbrk(buf, "\r\n"))
		snprintf(err, errlen, _("%s holds more than one line; put the %s alone in it"), path,
		         _(what));
	else if (!(out = strdup(buf))) {
		e = ENOMEM;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
	}
out:
	explicit_bzero(buf, sizeof(buf));
	if (!out)
		errno = e;
	return out;
}

void secret_free(char *secret)
{
	if (!secret)
		return;
	explicit_bzero(secret, strlen(secret));
	free(secret);
}
