/* SPDX-License-Identifier: MIT */
/* web_passwd: firegw-web's password file. One "user:hash" line per user, the hash made by
 * libcrypt's default method (crypt_gensalt with no prefix: yescrypt on Debian 12); the file is
 * written whole and renamed into place, mode 0600. There is no default password: with no file,
 * or no line in it, nobody can log in. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define WEB_PASSWD_USER_MAX 32       /* letters, digits, . _ - */
#define WEB_PASSWD_PASSWORD_MAX 256  /* bytes */
#define WEB_PASSWD_FILE_MAX (64 * 1024)

/* True if name is a user name the file can hold. */
bool web_passwd_user_ok(const char *name);
/* 1 if user's password is password, 0 if not (or no such user), -1 if the file cannot be read
 * (err says why). Takes about as long for an unknown user as for a known one. */
int web_passwd_check(const char *path, const char *user, const char *password, char *err,
                     size_t errlen);
/* The number of users in the file (0 when it does not exist), -1 if it cannot be read. */
int web_passwd_count(const char *path);
/* Sets user's password (adds the user or replaces the hash), writing the file anew with mode
 * 0600, owned by owner/group unless they are -1. 0, or -1 with err. */
int web_passwd_set(const char *path, const char *user, const char *password, uid_t owner,
                   gid_t group, char *err, size_t errlen);
