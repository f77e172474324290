/* SPDX-License-Identifier: MIT */
/* error: firegw's one error contract, for every function that can fail.
 *
 * - A function that can fail returns an int (or an int64_t / ssize_t when it also returns a
 *   count or a number): 0 for success, a negative errno for a failure (-ENOMEM, -EIO,
 *   -ENOSPC, -EBADMSG for a damaged ledger, -EBUSY, -EACCES, -ENOENT, -E2BIG for an input
 *   over its limit), and a positive value only where its header documents it as an outcome
 *   that is not a failure (ledger_hazard_get: 1 found, 0 none; hazard_apply_command: 1
 *   refused, 2 ignored; secret_check_private: 1 the file does not exist).
 * - A function that returns a pointer returns NULL on failure, and says in its header
 *   whether errno is set and whether it logged the reason.
 * - A failure is logged once, where it is understood best (the ledger logs SQLite's text,
 *   the uplink the platform's), with what to do about it; a caller that only passes it on
 *   does not log it again. A repeated failure is logged when it starts, when it changes and
 *   when it ends (log_state), never once per retry.
 * - No failure becomes a default value: a number that could not be read is an error, not
 *   0 or 1 (ledger_next returns the failure rather than a sequence number that a later
 *   insert would find taken).
 * - Every input from outside (config, frame, payload, reply, command, control request) is
 *   bounded before use and refused with a reason that names it; the limits are listed in
 *   docs/security.md, "Limits".
 *
 * This header defines nothing: it is the place the contract is written down. */
#pragma once

#include <errno.h>
