/* SPDX-License-Identifier: MIT */
/* web_passwd: the "user:hash" password file, read, checked and written. */
#include "web_passwd.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "i18n.h"

bool web_passwd_user_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > WEB_PASSWD_USER_MAX)
		return false;
	return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

/* The whole file in a new string; NULL with errno (ENOENT: no file; EFBIG: over the bound). */
static char *web_passwd_read(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	char *buf;
	ssize_t n;

	if (fd < 0)
		return NULL;
	buf = malloc(WEB_PASSWD_FILE_MAX + 1);
	if (!buf) {
		close(fd);
		return NULL;
	}
	size_t len = 0;
	while ((n = read(fd, buf + len, WEB_PASSWD_FILE_MAX + 1 - len)) > 0)
		len += (size_t)n;
	int e = errno;
	close(fd);
	if (n < 0 || len > WEB_PASSWD_FILE_MAX) {
		free(buf);
		errno = n < 0 ? e : EFBIG;
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

/* The hash of user in text (a copy), or NULL. */
static char *web_passwd_find(const char *text, const char *user)
{
	size_t ul = strlen(user);

	for (const char *line = text; line && *line;) {
		const char *end = strchr(line, '\n');
		size_t ll = end ? (size_t)(end - line) : strlen(line);

		if (ll > ul && line[ul] == ':' && strncmp(line, user, ul) == 0)
			return strndup(line + ul + 1, ll - ul - 1);
		line = end ? end + 1 : NULL;
	}
	return NULL;
}

int web_passwd_count(const char *path)
{
	char *text = web_passwd_read(path);
	int n = 0;

	if (!text)
		return errno == ENOENT ? 0 : -1;
	for (const char *p = text; *p; p++)
		if (*p == ':' && (p == text || p[-1] != ':')) {
			n++;
			p = strchr(p, '\n');
			if (!p)
				break;
		}
	free(text);
	return n;
}

int web_passwd_check(const char *path, const char *user, const char *password, char *err,
                     size_t errlen)
{
	struct crypt_data *cd;
	char *text, *hash, *salt = NULL;
	int ok = 0;

	if (!(text = web_passwd_read(path))) {
		int e = errno;

		if (e == ENOENT)
			snprintf(err, errlen, _("no password is set: run firegw-web passwd USER"));
		else
			snprintf(err, errlen, _("cannot read %s: %s"), path, strerror(e));
		return e == ENOENT ? 0 : -1;
	}
	hash = web_passwd_user_ok(user) ? web_passwd_find(text, user) : NULL;
	free(text);
	if (strlen(password) > WEB_PASSWD_PASSWORD_MAX) {
		free(hash);
		return 0;
	}
	cd = calloc(1, sizeof(*cd));
	if (!cd) {
		free(hash);
		snprintf(err, errlen, _("out of memory"));
		return -1;
	}
	/* An unknown user's password is hashed all the same (with a new salt of the default
	 * method), so that the time a login takes does not tell whether the user exists. */
	if (!hash)
		salt = crypt_gensalt_ra(NULL, 0, NULL, 0);
	const char *out = crypt_rn(password, hash ? hash : salt ? salt : "*", cd, sizeof(*cd));
	if (hash && out && out[0] != '*' && strlen(out) == strlen(hash)) {
		unsigned char diff = 0;

		for (size_t i = 0; hash[i]; i++)
			diff |= (unsigned char)(hash[i] ^ out[i]);
		ok = diff == 0;
	}
	free(cd);
	free(hash);
	free(salt);
	return ok;
}

int web_passwd_set(const char *path, const char *user, const char *password, uid_t owner,
                   gid_t group, char *err, size_t errlen)
{
	char tmp[4096], *text, *salt = NULL;
	struct crypt_data *cd = NULL;
	FILE *f = NULL;
	int fd = -1, rc = -1;

	if (!web_passwd_user_ok(user)) {
		snprintf(err, errlen,
		         _("user name '%.40s' is not valid: 1 to %d letters, digits, '.', '_' or '-'"),
		         user, WEB_PASSWD_USER_MAX);
		return -1;
	}
	if (!*password || strlen(password) > WEB_PASSWD_PASSWORD_MAX) {
		snprintf(err, errlen, _("a password has 1 to %d bytes"), WEB_PASSWD_PASSWORD_MAX);
		return -1;
	}
	text = web_passwd_read(path);
	if (!text && errno != ENOENT) {
		snprintf(err, errlen, _("cannot read %s: %s"), path, strerror(errno));
		return -1;
	}
	salt = crypt_gensalt_ra(NULL, 0, NULL, 0);
	cd = calloc(1, sizeof(*cd));
	const char *hash = salt && cd ? crypt_rn(password, salt, cd, sizeof(*cd)) : NULL;
	if (!hash || hash[0] == '*') {
		snprintf(err, errlen, _("libcrypt cannot hash the password: %s"), strerror(errno));
		goto out;
	}
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || fchmod(fd, 0600) != 0 ||
	    ((owner != (uid_t)-1 || group != (gid_t)-1) && fchown(fd, owner, group) != 0) ||
	    !(f = fdopen(fd, "w"))) {
		snprintf(err, errlen, _("cannot write %s: %s"), tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	/* Every other user's line as it was, then this user's. */
	size_t ul = strlen(user);
	for (const char *line = text; line && *line;) {
		const char *end = strchr(line, '\n');
		size_t ll = end ? (size_t)(end - line) : strlen(line);

		if (ll > 0 && !(ll > ul && line[ul] == ':' && strncmp(line, user, ul) == 0))
			fprintf(f, "%.*s\n", (int)ll, line);
		line = end ? end + 1 : NULL;
	}
	fprintf(f, "%s:%s\n", user, hash);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		snprintf(err, errlen, _("cannot write %s: %s"), tmp, strerror(errno));
		goto out;
	}
	if (fclose(f) != 0) {
		f = NULL;
		snprintf(err, errlen, _("cannot write %s: %s"), tmp, strerror(errno));
		goto out;
	}
	f = NULL;
	if (rename(tmp, path) != 0) {
		snprintf(err, errlen, _("cannot rename %s to %s: %s"), tmp, path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (f)
		fclose(f);
	if (fd >= 0)
		close(fd);
	if (rc != 0 && hash)
		unlink(tmp);
	free(text);
	free(salt);
	free(cd);
	return rc;
}
