/* SPDX-License-Identifier: MIT */
/* secret: the files firegw trusts. It owns the rules on the secrets it reads (the platform
 * token, the MQTT passwords, private keys: owned by root, by the user firegw runs as or by
 * the process itself, and no group or other permission bit at all) and on the files that
 * decide where those secrets go (the config, its includes, a ca_file: owned the same way and
 * writable by nobody else), and the reading of a token or password file. The config check
 * (`firegw check`, start, reload) and the readers at start-up apply the same rules, with the
 * same messages, each ending with the command that fixes the file. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* The user the packaged service runs as (User= of firegw.service). */
#define SECRET_SERVICE_USER "firegw"
/* The longest token or password accepted, in bytes, without the final newline. */
#define SECRET_MAX 8192

/* The uid firegw runs as: the user SECRET_SERVICE_USER's when it exists, else the process's
 * effective uid (firegw run by hand). */
uid_t secret_service_uid(void);

/* The rules, on a stat already made (testable with any uid): 0, or -1 with the reason and
 * the fix in err. `what` names the secret ("token", "password", "private key"). A secret is
 * a regular file owned by root, service_uid or euid, with no group or other permission bit
 * (0600 or 0400). */
int secret_judge_private(const struct stat *st, const char *path, const char *what, uid_t euid,
                         uid_t service_uid, char *err, size_t errlen);
/* A file that decides where the secrets go: a regular file owned by root, service_uid or
 * euid, writable by neither its group nor others. */
int secret_judge_trusted(const struct stat *st, const char *path, uid_t euid, uid_t service_uid,
                         char *err, size_t errlen);
/* The user service_uid must be able to read the secret (the owner read bit, or root). */
int secret_judge_readable(const struct stat *st, const char *path, uid_t service_uid, char *err,
                          size_t errlen);

/* What the config check makes of a secret file: its owner and mode, that the service's user
 * can read it, and, when this process can read it, what secret_read checks of its content.
 * `follow`: a symbolic link is followed (a key file, read by the TLS library); else it is
 * refused, as secret_read does. Returns 0 (fine), 1 (no such file: nothing checked) or -1
 * with the reason in err. */
int secret_check_private(const char *path, const char *what, bool follow, char *err, size_t errlen);
/* The same for a file that decides where the secrets go. 1 if it does not exist. */
int secret_check_trusted(const char *path, char *err, size_t errlen);

/* Reads a token or password file: a regular file (not a link), judged as above, one line of
 * at most SECRET_MAX bytes. Returns a malloc'd string without the trailing newline, or NULL
 * with the reason in err and errno set (ENOENT: the file does not exist). No copy of the
 * secret is left on the stack. */
char *secret_read(const char *path, const char *what, char *err, size_t errlen);
/* Clears and frees a secret secret_read returned. */
void secret_free(char *secret);
