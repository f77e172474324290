/* SPDX-License-Identifier: MIT */
/* ledger: the durable local record (台账) in SQLite. It owns the database file, its schema
 * and migrations (PRAGMA user_version), transactions, the hazards, the append-only hazard
 * events, the outbox with its two lanes, the dead-letter table and the applied platform
 * commands. A hazard change, its event and its outbox row are always written in one
 * transaction by the caller (ledger_begin / ledger_commit). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "item.h"

#define LEDGER_SCHEMA_VERSION 7
/* An event's JSON, at most (bytes): one that would be larger is written without the item's
 * free-form fields and marked "truncated" (ledger_event_append). */
#define LEDGER_EVENT_MAX (64 * 1024)

enum lane {
	LANE_ALARM = 0,
	LANE_TELEMETRY = 1,
};

/* What was carried out of a damaged ledger into its replacement (ledger_open). */
struct ledger_salvage_counts {
	int64_t events;        /* unsent events */
	int64_t outbox;        /* their outbox rows (one per destination), telemetry included */
	int64_t items;         /* items not closed */
	int64_t unreadable;    /* unsent events whose row could not be read */
	int64_t damaged_scans; /* scans stopped by a damaged page (then read from the other end) */
};

struct ledger_open_info {
	bool created;       /* a new database was started */
	bool corrupt;       /* the old one failed its check and was moved aside */
	bool full_check;    /* the last stop was not clean: the whole file was checked */
	char moved_to[512]; /* where it went */
	struct ledger_salvage_counts salvaged; /* what came over from it */
	char reason[256];
};

struct ledger;

/* Opens (creating if needed) <dir>/ledger.db. After a clean stop (ledger_close leaves a mark in
 * meta) the check at open reads the schema and meta only; after a crash, a power cut or a kill
 * the whole file goes through PRAGMA quick_check. A database that fails its check is renamed
 * to ledger.db.corrupt-<timestamp> (never deleted) and a new one is started whose hazard and
 * event numbers continue above the old ones. Returns 0 or a negative errno. */
int ledger_open(struct ledger **out, const char *dir, const char *gateway_id,
                struct ledger_open_info *info);
/* A clean stop: marks the ledger so that the next open skips the whole-file check, unless
 * this run met an I/O or corruption error. */
void ledger_close(struct ledger *l);
const char *ledger_path(const struct ledger *l);
const char *ledger_gateway(const struct ledger *l);

int ledger_begin(struct ledger *l);
/* A transaction whose loss at a power cut costs only a repeat, never a record: the
 * platform's acceptance of a full batch during a drain (it holds events by event_id, so one
 * sent again is stored once). Its commit does not wait for the disk (synchronous=NORMAL:
 * it survives a crash or a kill, not a power cut); the next ordinary commit makes it
 * durable with everything before it, as the WAL is synced in order. */
int ledger_begin_relaxed(struct ledger *l);
int ledger_commit(struct ledger *l);
void ledger_rollback(struct ledger *l);
bool ledger_in_transaction(const struct ledger *l);
/* Transactions committed since open (group commit is measured by it). */
uint64_t ledger_commits(const struct ledger *l);
const char *ledger_errmsg(const struct ledger *l);
/* A failure of a query made on ledger_db() (ledger_query.c): noted as the ledger's own ones
 * are (a damaged file is remembered: ledger_corrupt_seen). Logs nothing. */
void ledger_note_error(struct ledger *l);
/* SQLite found the file damaged (corrupt, not a database) while running: only a new file,
 * with what it can salvage, makes it record again (the start-up check does that). */
bool ledger_corrupt_seen(const struct ledger *l);
/* An I/O or corruption error was seen in this run (no clean-stop mark at the close). */
bool ledger_damaged(const struct ledger *l);
/* The connection, for read-only queries (query.c). */
struct sqlite3 *ledger_db(struct ledger *l);

/* 1 found, 0 none, negative errno on failure. `h` is filled and must be item_finish()ed. */
int ledger_hazard_open_for(struct ledger *l, const char *device, const char *point, enum kind kind,
                           struct hazard *h);
int ledger_hazard_last_closed(struct ledger *l, const char *device, const char *point,
                              enum kind kind, struct hazard *h);
int ledger_hazard_get(struct ledger *l, const char *id, struct hazard *h);
/* Assigns h->num and h->id. */
int ledger_hazard_insert(struct ledger *l, struct hazard *h);
int ledger_hazard_update(struct ledger *l, const struct hazard *h);

typedef int (*ledger_hazard_fn)(struct hazard *h, void *userdata);
/* Calls fn for every item not closed (active_only: whose condition is present). */
int ledger_hazard_foreach_open(struct ledger *l, bool active_only, ledger_hazard_fn fn,
                               void *userdata);

/* ---- destinations ---- */

#define LEDGER_DEST_LEN 32

/* The event types a ledger writes, in the order of the bits of ledger_dest.types. */
extern const char *const ledger_event_types[];
/* The index of an event type in ledger_event_types, or -1. */
int ledger_event_type_index(const char *type);

/* One place events go, and which it wants (each a bit mask; 0 = all). */
struct ledger_dest {
	char name[LEDGER_DEST_LEN];
	uint32_t types;  /* bit per ledger_event_types index */
	uint32_t kinds;  /* bit per enum kind */
	uint32_t grades; /* bit per enum grade */
};

/* Where events go from now on: each later event is queued once for each destination that
 * wants it. The first time destinations are set on a ledger written before there were
 * several (outbox rows of destination ''), those rows go to the first destination, so an
 * upgrade keeps every unsent event. With none set, events queue for destination ''.
 * Returns 0 or a negative errno. */
int ledger_set_dests(struct ledger *l, const struct ledger_dest *dests, size_t n);
/* True if `d` wants an event of this type about this item. */
bool ledger_dest_wants(const struct ledger_dest *d, const char *type, const struct hazard *h);

/* Appends an event with a snapshot of `h` and queues it in the alarm lane, for every
 * destination that wants it. */
int ledger_event_append(struct ledger *l, const struct hazard *h, const char *type, int64_t wall_ms,
                        int64_t *seq_out);
/* The same, queued for destination `dest` alone (a resync after that one reconnected). */
int ledger_event_append_to(struct ledger *l, const struct hazard *h, const char *type,
                           int64_t wall_ms, const char *dest, int64_t *seq_out);
/* A telemetry payload in the telemetry lane. */
int ledger_telemetry_append(struct ledger *l, json_t *payload, int64_t wall_ms);

/* Rows waiting in a lane, all destinations together. */
int64_t ledger_outbox_depth(struct ledger *l, enum lane lane);
/* Events waiting for one destination. */
int64_t ledger_outbox_depth_dest(struct ledger *l, const char *dest);
/* Events appended since open (committed or not): a cheap "is there news" for the uplink. */
uint64_t ledger_events_appended(const struct ledger *l);
int64_t ledger_event_count(struct ledger *l);
int64_t ledger_last_seq(struct ledger *l);
/* Open (not closed) hazards per grade; incidents are counted apart. */
int ledger_open_by_grade(struct ledger *l, int64_t counts[GRADE_COUNT]);
/* Open incidents (警情 not yet closed), and of them the ones not yet verified. */
int ledger_open_incidents(struct ledger *l, int64_t *open, int64_t *unverified);
/* Incidents of `device` raised at or after `since_ms` that were verified as false alarms. */
int64_t ledger_false_alarms_since(struct ledger *l, const char *device, int64_t since_ms);

/* ---- retention (ledger_prune.c) ---- */

/* One prune step's work. */
struct ledger_prune_result {
	int64_t events;         /* events deleted */
	int64_t items;          /* items deleted */
	char id[HAZARD_ID_LEN]; /* the last item touched */
	int64_t closed_at;
};
/* One small transaction, not waiting for the disk: up to `max_rows` events of the oldest items
 * (by number) that are closed before `before_ms` (INT64_MAX: any closed one) and have nothing
 * waiting in the outbox for any destination; each item itself with its last events. Returns
 * 1 if something went, 0 if nothing may, or a negative errno. */
int ledger_prune_step(struct ledger *l, int64_t before_ms, int max_rows,
                      struct ledger_prune_result *out);
/* What the status shows of retention: sizes, the oldest item kept, and what pruning all that
 * may go before `before_ms` would remove. Reads every item: for firegwctl, not for a loop. */
struct ledger_prune_plan {
	int64_t used_bytes, file_bytes; /* pages in use; the file (freed pages are reused) */
	char oldest_id[HAZARD_ID_LEN];  /* the oldest item kept, "" if none */
	int64_t oldest_first_seen;
	int64_t items, events; /* prunable now by age */
	int64_t oldest_closed; /* the oldest of those closed at (0 none) */
	int64_t pruned_until;  /* history closed before this was pruned (0 never) */
};
int ledger_prune_plan(struct ledger *l, int64_t before_ms, struct ledger_prune_plan *p);
/* Pages in use times the page size (the size cap's measure), and the file's size. */
int64_t ledger_used_bytes(struct ledger *l);
int64_t ledger_file_bytes(struct ledger *l);
/* History of items closed before this (wall ms) may have been pruned; 0 if none ever was. */
int64_t ledger_pruned_until(struct ledger *l);

/* Platform commands: true if this command id was applied before. */
int ledger_command_seen(struct ledger *l, const char *id);
int ledger_command_record(struct ledger *l, const char *id, const char *type, const char *hazard_id,
                          bool ok, const char *reason, int64_t wall_ms);
/* Moves an outbox event of destination `dest` to the dead-letter table with its reason. */
int ledger_deadletter(struct ledger *l, const char *dest, int64_t seq, const char *reason,
                      int64_t wall_ms);
int64_t ledger_deadletter_count(struct ledger *l);

/* ---- forwarding ---- */

struct outbox_item {
	int64_t seq;
	int64_t prio; /* its place in the outbox's order, with seq */
	char event_id[40];
	char hazard_id[HAZARD_ID_LEN];
	char *body; /* the event JSON */
};

/* Up to `max` events of the alarm lane waiting for `dest`, of `max_bytes` of JSON in all: new hazards first
 * (raised, immediate grade before the others), then the oldest, each group in seq order; the
 * events of one hazard stay in seq order. An event larger than `max_bytes` alone could never
 * be sent: it goes to the dead-letter table with that reason (and a log line) instead of
 * blocking the outbox. Free with ledger_outbox_free. */
int ledger_outbox_batch(struct ledger *l, const char *dest, size_t max, size_t max_bytes,
                        struct outbox_item **items, size_t *n);
/* The same, leaving out the events `skip` names (nskip seqs: those in flight). */
int ledger_outbox_batch_skip(struct ledger *l, const char *dest, size_t max, size_t max_bytes,
                             const int64_t *skip, size_t nskip, struct outbox_item **items,
                             size_t *n);
/* The same, only the events after `after` in the outbox's order (the batch that follows the
 * one in flight, whose last event `after` is, when nothing was queued since it was read). */
int ledger_outbox_batch_after(struct ledger *l, const char *dest, size_t max, size_t max_bytes,
                              const struct outbox_item *after, struct outbox_item **items,
                              size_t *n);
void ledger_outbox_free(struct outbox_item *items, size_t n);
/* Destination `dest` accepted it: its row leaves the outbox. */
int ledger_outbox_accept(struct ledger *l, const char *dest, int64_t seq);
/* Wall ms of the oldest unsent alarm-lane row, 0 if none (of any destination, or of one). */
int64_t ledger_outbox_oldest(struct ledger *l);
int64_t ledger_outbox_oldest_dest(struct ledger *l, const char *dest);
/* Results of applied commands not yet reported: [{"id","ok","reason"}]. */
json_t *ledger_command_results(struct ledger *l);
int ledger_command_reported(struct ledger *l, const char *id);
/* A command seen again: report its stored result once more. */
int ledger_command_again(struct ledger *l, const char *id);
/* Forgets applied commands whose results were reported, recorded before `before_ms` or
 * beyond the newest `keep`. */
int ledger_command_prune(struct ledger *l, int64_t before_ms, int64_t keep);
/* True if a resync event of this hazard still waits in the outbox for `dest`. */
int ledger_resync_pending(struct ledger *l, const char *dest, const char *hazard_id);
