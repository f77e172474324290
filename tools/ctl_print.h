/* SPDX-License-Identifier: MIT */
/* ctl_print: how firegwctl prints the daemon's replies for a person (tables aligned by display
 * width, in the reader's language, every text from outside escaped), or as JSON. */
#pragma once

#include <jansson.h>

#include "jsonfmt.h" /* jsonfmt_int: a number member */

/* s escaped for a terminal (textesc); valid for the next 64 calls that return text. */
const char *ctl_print_esc(const char *s);
/* Frees what the escaped texts kept. */
void ctl_print_release(void);
/* A string member as the daemon sent it, "" if none: for comparing and sending back. */
const char *ctl_print_raw(json_t *o, const char *key);
/* A string member escaped for printing. */
const char *ctl_print_str(json_t *o, const char *key);

void ctl_print_status(json_t *r);
void ctl_print_devices(json_t *devs);
void ctl_print_hazards(json_t *list);
void ctl_print_hazard(json_t *r);
void ctl_print_outbox(json_t *r);
void ctl_print_deadletter(json_t *list);
/* The daemon's error reply, on stderr. */
void ctl_print_error(json_t *r);
void ctl_print_json(json_t *r);
/* `firegwctl check`: the daemon's verdict on its config file; 1 when it would refuse it. */
int ctl_print_check(json_t *r);
