/* SPDX-License-Identifier: MIT */
/* modbus_tools: the installer's Modbus commands. `firegw scan` finds the unit ids that answer
 * on a line and guesses their profile; `firegw probe` reads one configured device once and
 * prints every point. Both run in the foreground, without the daemon. */
#pragma once

/* argv[0] is the command name; returns the process exit code. */
int modbus_tools_scan(int argc, char **argv, const char *conf_path);
int modbus_tools_probe(int argc, char **argv, const char *conf_path);
