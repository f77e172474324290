/* SPDX-License-Identifier: MIT */
/* ledger_event: appending events (with their outbox row, in the caller's transaction) and
 * telemetry, and the counts the status and the uplinks read. */
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "i18n.h"
#include "ledger_int.h"
#include "clock.h"
#include "log.h"

static void ledger_uuid(char out[37])
{
	unsigned char b[16];

	if (getrandom(b, sizeof(b), 0) != sizeof(b)) {
		/* No entropy call: fall back on time and address bits; still unique per process. */
		int64_t t = clock_wall_ms() ^ ((int64_t)getpid() << 40);

		for (size_t i = 0; i < sizeof(b); i++)
			b[i] = (unsigned char)((t >> ((i % 8) * 8)) ^ (i * 37) ^ rand());
	}
	b[6] = (b[6] & 0x0f) | 0x40; /* version 4 */
	b[8] = (b[8] & 0x3f) | 0x80; /* RFC 4122 variant */
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	         b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
	         b[13], b[14], b[15]);
}

/* One outbox row: the event `seq` waits for `dest`. */
static int ledger_event_queue(struct ledger *l, const struct hazard *h, const char *type,
                              int64_t seq, int64_t wall_ms, const char *dest)
{
	sqlite3_stmt *st = ledger_stmt(l, SQL_OUTBOX_INSERT);
	int rc;

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_text(st, 2, h->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, wall_ms);
	sqlite3_bind_int(st, 4,
	                 strcmp(type, "raised") != 0   ? 2
	                 : h->grade == GRADE_IMMEDIATE ? 0
	                                               : 1);
	sqlite3_bind_text(st, 5, dest, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	ledger_done(st);
	return rc == SQLITE_DONE ? 0 : ledger_fail(l, "queue event");
}

int ledger_event_append(struct ledger *l, const struct hazard *h, const char *type, int64_t wall_ms,
                        int64_t *seq_out)
{
	return ledger_event_append_to(l, h, type, wall_ms, NULL, seq_out);
}

int ledger_event_append_to(struct ledger *l, const struct hazard *h, const char *type,
                           int64_t wall_ms, const char *dest, int64_t *seq_out)
{
	char event_id[37], at[32];
	json_t *body;
	char *text;
	sqlite3_stmt *st;
	int64_t seq;
	int rc;

	ledger_uuid(event_id);
	clock_format_iso(wall_ms, at, sizeof(at));
	seq = ledger_next(l, SQL_SEQ_EVENTS);
	if (seq < 0)
		return (int)seq;
	body = json_pack("{s:s, s:I, s:s, s:s, s:o}", "event_id", event_id, "seq", (json_int_t)seq,
	                 "type", type, "at", at, "hazard", item_to_json(h));
	text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	if (text && strlen(text) > LEDGER_EVENT_MAX) {
		/* Whatever made it this big, the event itself must go: first without the
		 * platform's fields, then without any of the item's free-form info. */
		json_t *hz = json_object_get(body, "hazard");

		free(text);
		json_object_del(hz, "platform");
		json_object_set_new(hz, "truncated", json_true());
		text = json_dumps(body, JSON_COMPACT);
		if (text && strlen(text) > LEDGER_EVENT_MAX) {
			struct hazard bare = *h;

			free(text);
			bare.info = NULL;
			json_object_set_new(body, "hazard", item_to_json(&bare));
			json_object_set_new(json_object_get(body, "hazard"), "truncated",
			                    json_true());
			text = json_dumps(body, JSON_COMPACT);
		}
		log_warn(_("event %s of %s: its JSON was over %d bytes; sent without the item's "
		         "free-form fields (\"truncated\": true)"),
		         event_id, h->id, LEDGER_EVENT_MAX);
	}
	json_decref(body);
	if (!text)
		return -ENOMEM;
	st = ledger_stmt(l, SQL_EVENT_INSERT);
	if (!st) {
		free(text);
		return -EIO;
	}
	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_text(st, 2, event_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, h->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, type, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, wall_ms);
	sqlite3_bind_text(st, 6, text, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	ledger_done(st);
	free(text);
	if (rc != SQLITE_DONE)
		return ledger_fail(l, "append event");

	/* Queued for each destination that wants it (or the one named); with none configured,
	 * for '' until one is. An event no destination wants is recorded and not queued. */
	rc = 0;
	if (dest) {
		/* The one named, if it wants it (a resync of an item it does not follow is not
		 * its business). */
		const struct ledger_dest *d = NULL;

		for (size_t i = 0; i < l->ndests && !d; i++)
			if (strcmp(l->dests[i].name, dest) == 0)
				d = &l->dests[i];
		if (!d || ledger_dest_wants(d, type, h))
			rc = ledger_event_queue(l, h, type, seq, wall_ms, dest);
	}
	else if (l->ndests == 0)
		rc = ledger_event_queue(l, h, type, seq, wall_ms, "");
	for (size_t i = 0; !dest && rc == 0 && i < l->ndests; i++)
		if (ledger_dest_wants(&l->dests[i], type, h))
			rc = ledger_event_queue(l, h, type, seq, wall_ms, l->dests[i].name);
	if (rc < 0)
		return rc;
	if (seq_out)
		*seq_out = seq;
	l->appended++;
	log_info("hazard %s %s: %s %s grade=%s at %s/%s", h->id, type, kind_name(h->kind),
	         item_status_name(h->status), grade_name(h->grade), h->device, h->point);
	return 0;
}

int ledger_telemetry_append(struct ledger *l, json_t *payload, int64_t wall_ms)
{
	char *text = json_dumps(payload, JSON_COMPACT);
	sqlite3_stmt *st;
	int rc;

	if (!text)
		return -ENOMEM;
	st = ledger_stmt(l, SQL_TELEMETRY_INSERT);
	if (!st) {
		free(text);
		return -EIO;
	}
	sqlite3_bind_int64(st, 1, wall_ms);
	sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	ledger_done(st);
	free(text);
	return rc == SQLITE_DONE ? 0 : ledger_fail(l, "queue telemetry");
}

uint64_t ledger_events_appended(const struct ledger *l)
{
	return l->appended;
}

int64_t ledger_event_count(struct ledger *l)
{
	return ledger_scalar_kept(l, SQL_EVENT_COUNT, -1);
}

int64_t ledger_last_seq(struct ledger *l)
{
	return ledger_scalar_kept(l, SQL_SEQ_EVENTS, 0);
}

int ledger_resync_pending(struct ledger *l, const char *dest, const char *hazard_id)
{
	sqlite3_stmt *st = ledger_stmt(l, SQL_RESYNC_PENDING);
	int rc;

	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, hazard_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, dest, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	ledger_done(st);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : ledger_fail(l, "look up resync");
}

/* ---- destinations ---- */

const char *const ledger_event_types[] = {
    "raised",   "escalated", "recurred", "cleared",  "silenced", "overdue", "reopened",
    "acknowledged", "assigned", "accepted", "closed", "resync", "escalation_suggested",
    "regraded", "worsened", "verified", "acceptance_passed", "acceptance_failed", "supervised",
    "deferred", "order_overdue", "acceptance_overdue", "gateway_restarted", NULL,
};

int ledger_event_type_index(const char *type)
{
	for (int i = 0; type && ledger_event_types[i]; i++)
		if (strcmp(type, ledger_event_types[i]) == 0)
			return i;
	return -1;
}

bool ledger_dest_wants(const struct ledger_dest *d, const char *type, const struct hazard *h)
{
	int t = ledger_event_type_index(type);

	/* The gateway's own restart goes to every destination, whatever it filters. */
	if (strcmp(type, "gateway_restarted") == 0)
		return true;
	if (d->types && (t < 0 || !(d->types & (1u << t))))
		return false;
	if (d->kinds && !(d->kinds & (1u << h->kind)))
		return false;
	return !d->grades || (d->grades & (1u << h->grade));
}

int ledger_set_dests(struct ledger *l, const struct ledger_dest *dests, size_t n)
{
	struct ledger_dest *copy = NULL;
	int rc = 0;

	if (n > 0 && !(copy = malloc(n * sizeof(*copy))))
		return -ENOMEM;
	if (n > 0)
		memcpy(copy, dests, n * sizeof(*copy));
	free(l->dests);
	l->dests = copy;
	l->ndests = n;
	if (n == 0)
		return 0;
	/* Rows of a ledger from before destinations: the first destination's from now on
	 * (the single platform of that config, whatever it is called now). */
	sqlite3_stmt *st = ledger_prepare(l, "UPDATE outbox SET dest=?1 WHERE lane=0 AND dest=''");
	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, copy[0].name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = ledger_fail(l, "give waiting events to the first destination");
	else if (sqlite3_changes(l->db) > 0)
		log_notice(_("ledger: %d event(s) that waited for the platform now wait for "
		           "destination '%s'"),
		           sqlite3_changes(l->db), copy[0].name);
	sqlite3_finalize(st);
	return rc;
}
