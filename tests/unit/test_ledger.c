/* SPDX-License-Identifier: MIT */
/* test_ledger: the durable record. Schema and pragmas, one transaction per change, numbers
 * that never repeat across restarts, a damaged file moved aside and reported, the whole-file
 * check after a kill (and not after a clean stop), dead letters, applied commands and the two
 * outbox lanes. */
#include <errno.h>
#include <math.h>
#include <regex.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "clock.h"
#include "hazard.h"
#include "ledger.h"
#include "rules.h"
#include "testutil.h"

#define T0 1795000000000LL

struct fixture {
	char *dir;
	char *path;
	struct ledger *l;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	testutil_log_capture();
	clock_set_fake(1000, T0);
	f->l = testutil_ledger_open(&f->dir, &f->path);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	testutil_ledger_close(f->l, f->dir, f->path);
	free(f);
	clock_set_fake(-1, -1);
	return 0;
}

static int64_t q_int(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v = -1;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void q_text(const char *path, const char *sql, char *out, size_t len)
{
	sqlite3 *db;
	sqlite3_stmt *st;

	out[0] = '\0';
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		snprintf(out, len, "%s", sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static void exec_sql(const char *path, const char *sql)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void new_hazard(struct hazard *h, const char *device)
{
	item_init(h);
	snprintf(h->device, sizeof(h->device), "%s", device);
	snprintf(h->point, sizeof(h->point), "leak");
	h->kind = KIND_RESIDUAL_CURRENT;
	h->grade = GRADE_SIGNIFICANT;
	h->active = true;
	h->occurrences = 1;
	h->value = h->peak = 350;
	h->threshold = 300;
	h->first_seen = h->last_seen = T0;
	h->info = json_object();
}

/* Records one raised item in its own transaction; returns its event seq. */
static int64_t record(struct ledger *l, const char *device, char *id_out)
{
	struct hazard h;
	int64_t seq = 0;

	new_hazard(&h, device);
	assert_int_equal(ledger_begin(l), 0);
	assert_int_equal(ledger_hazard_insert(l, &h), 0);
	assert_int_equal(ledger_event_append(l, &h, "raised", T0, &seq), 0);
	assert_int_equal(ledger_commit(l), 0);
	if (id_out)
		strcpy(id_out, h.id);
	item_finish(&h);
	return seq;
}

static void test_schema_and_pragmas(void **state)
{
	struct fixture *f = *state;
	char mode[32];

	assert_int_equal(q_int(f->path, "PRAGMA user_version"), LEDGER_SCHEMA_VERSION);
	q_text(f->path, "PRAGMA journal_mode", mode, sizeof(mode));
	assert_string_equal(mode, "wal");
	assert_int_equal(q_int(f->path, "SELECT count(*) FROM sqlite_master WHERE name IN "
	                                "('hazards','events','outbox','deadletter','commands')"),
	                 5);
}

/* An integer PRAGMA of the ledger's own connection (per-connection settings). */
static int64_t conn_int(struct ledger *l, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v = -1;

	assert_int_equal(sqlite3_prepare_v2(ledger_db(l), sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Flash wear: a new ledger has 1 KiB pages and a checkpoint every 4 MiB of WAL; one an older
 * firegw made with 4 KiB pages keeps them, also checkpointed every 4 MiB, and goes on. */
static void test_page_size_new_and_kept(void **state)
{
	struct fixture *f = *state;
	struct ledger_open_info info;
	int64_t first = record(f->l, "box", NULL);

	assert_int_equal(q_int(f->path, "PRAGMA page_size"), 1024);
	assert_int_equal(conn_int(f->l, "PRAGMA wal_autocheckpoint"), 4096);
	ledger_close(f->l);
	f->l = NULL;
	exec_sql(f->path, "PRAGMA journal_mode=DELETE; PRAGMA page_size=4096; VACUUM; "
	                  "PRAGMA journal_mode=WAL");
	assert_int_equal(ledger_open(&f->l, f->dir, "GW-T", &info), 0);
	assert_false(info.created);
	assert_false(info.corrupt);
	assert_int_equal(q_int(f->path, "PRAGMA page_size"), 4096);
	assert_int_equal(conn_int(f->l, "PRAGMA wal_autocheckpoint"), 1024);
	assert_true(record(f->l, "box2", NULL) > first);
	assert_int_equal(ledger_event_count(f->l), 2);
}

static void test_one_transaction_rolls_back_together(void **state)
{
	struct fixture *f = *state;
	struct hazard h;

	new_hazard(&h, "box");
	assert_int_equal(ledger_begin(f->l), 0);
	assert_int_equal(ledger_hazard_insert(f->l, &h), 0);
	assert_int_equal(ledger_event_append(f->l, &h, "raised", T0, NULL), 0);
	ledger_rollback(f->l);
	item_finish(&h);
	assert_int_equal(q_int(f->path, "SELECT count(*) FROM hazards"), 0);
	assert_int_equal(q_int(f->path, "SELECT count(*) FROM events"), 0);
	assert_int_equal(q_int(f->path, "SELECT count(*) FROM outbox"), 0);
	/* Committed, all three are there. */
	record(f->l, "box", NULL);
	assert_int_equal(q_int(f->path, "SELECT count(*) FROM hazards"), 1);
	assert_int_equal(q_int(f->path, "SELECT count(*) FROM events"), 1);
	assert_int_equal(q_int(f->path, "SELECT count(*) FROM outbox WHERE lane=0"), 1);
}

static void test_event_body(void **state)
{
	struct fixture *f = *state;
	char body[4096];
	json_error_t err;
	regex_t uuid;

	record(f->l, "box", NULL);
	q_text(f->path, "SELECT body FROM events", body, sizeof(body));
	json_t *e = json_loads(body, 0, &err);
	assert_non_null(e);
	assert_int_equal(
	    regcomp(&uuid, "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$",
	            REG_EXTENDED | REG_NOSUB),
	    0);
	assert_int_equal(
	    regexec(&uuid, json_string_value(json_object_get(e, "event_id")), 0, NULL, 0), 0);
	regfree(&uuid);
	assert_int_equal(json_integer_value(json_object_get(e, "seq")), 1);
	assert_string_equal(json_string_value(json_object_get(e, "type")), "raised");
	assert_string_equal(json_string_value(json_object_get(e, "at")),
	                    "2026-11-18T11:06:40.000Z");
	json_t *hz = json_object_get(e, "hazard");
	assert_string_equal(json_string_value(json_object_get(hz, "id")), "GW-T-000001");
	assert_string_equal(json_string_value(json_object_get(hz, "kind")), "residual_current");
	assert_string_equal(json_string_value(json_object_get(hz, "grade")), "significant");
	assert_string_equal(json_string_value(json_object_get(hz, "status")), "open");
	assert_true(json_is_null(json_object_get(hz, "cleared_at")));
	json_decref(e);
}

static void test_numbers_continue_across_restart(void **state)
{
	struct fixture *f = *state;
	struct ledger_open_info info;
	char id[HAZARD_ID_LEN];

	for (int i = 0; i < 3; i++)
		record(f->l, "box", NULL);
	ledger_close(f->l);
	/* Even with every row pruned, numbers go on. */
	exec_sql(f->path, "DELETE FROM outbox; DELETE FROM events; DELETE FROM hazards;");
	assert_int_equal(ledger_open(&f->l, f->dir, "GW-T", &info), 0);
	assert_false(info.created);
	assert_int_equal(record(f->l, "box", id), 4);
	assert_string_equal(id, "GW-T-000004");
	assert_int_equal(ledger_last_seq(f->l), 4);
}

static void check_moved_aside(struct fixture *f, struct ledger_open_info *info, const char *bytes,
                              size_t n)
{
	char buf[256];
	FILE *fp;

	assert_true(info->corrupt);
	assert_non_null(strstr(info->moved_to, "ledger.db.corrupt-"));
	fp = fopen(info->moved_to, "rb");
	assert_non_null(fp);
	size_t got = fread(buf, 1, sizeof(buf), fp);
	fclose(fp);
	if (bytes) {
		assert_int_equal(got, n);
		assert_memory_equal(buf, bytes, n);
	}
	assert_true(testutil_log_has("failed PRAGMA quick_check"));
	(void)f;
}

static void test_corrupt_file_moved_aside_and_reported(void **state)
{
	struct fixture *f = *state;
	struct ledger_open_info info;
	static const char garbage[] = "this is not an SQLite database, it is a power cut";
	char id[HAZARD_ID_LEN];
	FILE *fp;

	ledger_close(f->l);
	f->l = NULL;
	unlink(f->path);
	fp = fopen(f->path, "wb");
	fwrite(garbage, 1, sizeof(garbage), fp);
	fclose(fp);
	assert_int_equal(ledger_open(&f->l, f->dir, "GW-T", &info), 0);
	check_moved_aside(f, &info, garbage, sizeof(garbage));
	/* The new ledger works, and its numbers cannot collide with the lost file's. */
	assert_int_equal(q_int(f->path, "PRAGMA user_version"), LEDGER_SCHEMA_VERSION);
	int64_t seq = record(f->l, "box", id);
	assert_true(seq > T0 / 1000);
	/* The gateway reports it as a hazard of its own. */
	struct conf *c = testutil_conf(f->dir, "");
	struct rules *r = rules_new(c, f->l);
	assert_int_equal(rules_ledger_corrupt(r, &info, T0), 0);
	assert_int_equal(q_int(f->path, "SELECT count(*) FROM hazards WHERE kind='ledger_corrupt' "
	                                "AND device='gateway' AND grade='significant'"),
	                 1);
	assert_int_equal(q_int(f->path, "SELECT count(*) FROM outbox WHERE lane=0"), 2);
	rules_free(r);
	conf_free(c);
}

static void test_truncated_file_moved_aside(void **state)
{
	struct fixture *f = *state;
	struct ledger_open_info info;
	struct stat stb;

	for (int i = 0; i < 200; i++)
		record(f->l, "box", NULL);
	ledger_close(f->l);
	f->l = NULL;
	/* Fold the WAL in, then lose the second half of the file. */
	exec_sql(f->path, "PRAGMA wal_checkpoint(TRUNCATE)");
	assert_int_equal(stat(f->path, &stb), 0);
	assert_int_equal(truncate(f->path, stb.st_size / 2), 0);
	assert_int_equal(ledger_open(&f->l, f->dir, "GW-T", &info), 0);
	check_moved_aside(f, &info, NULL, 0);
	assert_true(record(f->l, "box", NULL) > 200);
}

/* A child process opens the ledger, commits one event if `write`, and is killed (SIGKILL)
 * without closing it. Returns what its open said: bit 0 full_check, bit 1 corrupt. */
static int open_and_kill(struct fixture *f, bool write_one)
{
	int fd[2], status;
	unsigned char said = 0xff;
	pid_t pid;

	assert_int_equal(pipe(fd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct ledger_open_info info;
		struct ledger *l = NULL;
		struct hazard h;
		unsigned char b;

		close(fd[0]);
		if (ledger_open(&l, f->dir, "GW-T", &info) != 0)
			_exit(1);
		b = (unsigned char)(info.full_check | info.corrupt << 1);
		new_hazard(&h, "killed");
		if (write_one &&
		    (ledger_begin(l) != 0 || ledger_hazard_insert(l, &h) != 0 ||
		     ledger_event_append(l, &h, "raised", T0, NULL) != 0 || ledger_commit(l) != 0))
			_exit(1);
		if (write(fd[1], &b, 1) != 1)
			_exit(1);
		kill(getpid(), SIGKILL);
		_exit(1);
	}
	close(fd[1]);
	assert_int_equal(read(fd[0], &said, 1), 1);
	close(fd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	return said;
}

static void test_full_check_after_kill_only(void **state)
{
	struct fixture *f = *state;
	struct ledger_open_info info;

	for (int i = 0; i < 3; i++)
		record(f->l, "box", NULL);
	/* A clean stop: the next open reads the schema only. */
	ledger_close(f->l);
	testutil_log_reset();
	assert_int_equal(ledger_open(&f->l, f->dir, "GW-T", &info), 0);
	assert_false(info.full_check);
	assert_false(info.corrupt);
	assert_true(testutil_log_has("stopped cleanly last time"));
	assert_false(testutil_log_has("not closed cleanly"));
	ledger_close(f->l);
	f->l = NULL;

	/* Killed while open (the mark was taken away at its open): the whole file is checked. */
	assert_int_equal(open_and_kill(f, true), 0); /* its own open: clean, cheap */
	testutil_log_reset();
	assert_int_equal(ledger_open(&f->l, f->dir, "GW-T", &info), 0);
	assert_true(info.full_check);
	assert_false(info.corrupt);
	assert_true(testutil_log_has("not closed cleanly"));
	assert_false(testutil_log_has("stopped cleanly last time"));
	assert_int_equal(ledger_event_count(f->l), 4); /* the killed run's commit is kept */

	/* Stopped cleanly again: cheap again. */
	ledger_close(f->l);
	testutil_log_reset();
	assert_int_equal(ledger_open(&f->l, f->dir, "GW-T", &info), 0);
	assert_false(info.full_check);
	assert_false(testutil_log_has("not closed cleanly"));
}

static void test_damage_inside_found_after_kill(void **state)
{
	struct fixture *f = *state;
	struct ledger_open_info info;
	unsigned char junk[4096];
	struct stat stb;
	FILE *fp;

	for (int i = 0; i < 300; i++)
		record(f->l, "box", NULL);
	ledger_close(f->l);
	f->l = NULL;
	/* Fold the WAL in, then ruin a page in the middle of the file (a worn card): the schema
	 * and meta stay readable. */
	exec_sql(f->path, "PRAGMA wal_checkpoint(TRUNCATE)");
	assert_int_equal(stat(f->path, &stb), 0);
	assert_true(stb.st_size >= 16 * 4096);
	memset(junk, 0xa5, sizeof(junk));
	fp = fopen(f->path, "r+b");
	assert_non_null(fp);
	assert_int_equal(fseek(fp, (stb.st_size / 2 / 4096) * 4096, SEEK_SET), 0);
	assert_int_equal(fwrite(junk, 1, sizeof(junk), fp), sizeof(junk));
	fclose(fp);

	/* After the clean stop the open does not read that page; the run is killed. */
	assert_int_equal(open_and_kill(f, false), 0);
	/* The next open checks the whole file, finds the damage and moves the file aside. */
	testutil_log_reset();
	assert_int_equal(ledger_open(&f->l, f->dir, "GW-T", &info), 0);
	assert_true(info.full_check);
	check_moved_aside(f, &info, NULL, 0);
	assert_true(record(f->l, "box", NULL) > 300);
}

/* Overwrites every page of `index` in the file with junk (the WAL folded in first). */
static void ruin_index(const char *path, const char *index)
{
	unsigned char junk[4096];
	sqlite3_stmt *st;
	sqlite3 *db;
	int pages = 0;
	FILE *fp;
	/* The ledger's own page size (1 KiB for a new one; 4 KiB for one made before). */
	int64_t page = q_int(path, "PRAGMA page_size");

	assert_true(page >= 512 && page <= (int64_t)sizeof(junk));
	exec_sql(path, "PRAGMA wal_checkpoint(TRUNCATE)");
	memset(junk, 0x5a, sizeof(junk));
	fp = fopen(path, "r+b");
	assert_non_null(fp);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(
	    sqlite3_prepare_v2(db, "SELECT pageno FROM dbstat WHERE name=?1", -1, &st, NULL),
	    SQLITE_OK);
	sqlite3_bind_text(st, 1, index, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		assert_int_equal(fseek(fp, (sqlite3_column_int64(st, 0) - 1) * page, SEEK_SET), 0);
		assert_int_equal(fwrite(junk, 1, (size_t)page, fp), (size_t)page);
		pages++;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	fclose(fp);
	assert_true(pages > 0);
}

/* A ledger found damaged: the new one starts with every event the old one still had to send
 * (same seq and event_id, for each destination still waiting) and every item not closed;
 * what was delivered stays in the damaged file only. */
static void test_salvage_unsent_into_new_ledger(void **state)
{
	struct fixture *f = *state;
	struct ledger_dest dests[2] = {{.name = "county"}, {.name = "centre"}};
	struct ledger_open_info info;
	char open_id[HAZARD_ID_LEN], closed_id[HAZARD_ID_LEN], eid[40];
	struct hazard h;
	int64_t last;

	assert_int_equal(ledger_set_dests(f->l, dests, 2), 0);
	for (int i = 0; i < 200; i++)
		record(f->l, "box", i == 0 ? closed_id : NULL);
	/* Everything sent to both but the last 3 (the county) and the last 1 (the centre). */
	last = ledger_last_seq(f->l);
	assert_int_equal(ledger_begin(f->l), 0);
	for (int64_t seq = 1; seq <= last; seq++) {
		if (seq <= last - 3)
			assert_int_equal(ledger_outbox_accept(f->l, "county", seq), 0);
		if (seq <= last - 1)
			assert_int_equal(ledger_outbox_accept(f->l, "centre", seq), 0);
	}
	assert_int_equal(ledger_commit(f->l), 0);
	/* The first item closed, one of the unsent ones open. */
	assert_int_equal(ledger_hazard_get(f->l, closed_id, &h), 1);
	h.status = HSTATUS_CLOSED;
	h.closed_at = T0 + 1;
	assert_int_equal(ledger_begin(f->l), 0);
	assert_int_equal(ledger_hazard_update(f->l, &h), 0);
	assert_int_equal(ledger_commit(f->l), 0);
	item_finish(&h);
	q_text(f->path, "SELECT id FROM hazards ORDER BY num DESC LIMIT 1", open_id,
	       sizeof(open_id));
	q_text(f->path, "SELECT event_id FROM events ORDER BY seq DESC LIMIT 1", eid, sizeof(eid));
	ledger_close(f->l);
	f->l = NULL;

	/* Damaged where the rows are still readable (an index), and stopped uncleanly. */
	exec_sql(f->path, "DELETE FROM meta WHERE key='clean_stop'");
	ruin_index(f->path, "events_hazard");
	testutil_log_reset();
	assert_int_equal(ledger_open(&f->l, f->dir, "GW-T", &info), 0);
	assert_true(info.corrupt);
	assert_int_equal(info.salvaged.events, 3);
	assert_int_equal(info.salvaged.outbox, 4);
	assert_int_equal(info.salvaged.unreadable, 0);
	assert_int_equal(info.salvaged.items, 199); /* all but the closed one */
	assert_true(testutil_log_has("salvaged from"));
	assert_int_equal(ledger_set_dests(f->l, dests, 2), 0);
	assert_int_equal(ledger_outbox_depth_dest(f->l, "county"), 3);
	assert_int_equal(ledger_outbox_depth_dest(f->l, "centre"), 1);
	/* The same event, the same number: the platform stores it once. */
	char *sql = sqlite3_mprintf("SELECT seq FROM events WHERE event_id='%q'", eid);
	assert_true(q_int(f->path, sql) == last);
	sqlite3_free(sql);
	assert_int_equal(ledger_hazard_get(f->l, open_id, &h), 1);
	item_finish(&h);
	assert_int_equal(ledger_hazard_get(f->l, closed_id, &h), 0);
	/* New numbers go on above the old ones. */
	assert_true(record(f->l, "box", NULL) > last);
	struct outbox_item *items;
	size_t n;
	assert_int_equal(ledger_outbox_batch(f->l, "county", 10, 1 << 20, &items, &n), 0);
	assert_int_equal(n, 4);
	assert_true(items[0].seq == last - 2 && items[2].seq == last);
	ledger_outbox_free(items, n);
}

/* A damaged ledger of schema 3 (written before destinations and incidents, by a firegw not
 * yet upgraded): its unsent events are salvaged and go to the first destination, its open
 * fire alarm becomes an incident without a deadline. */
static void test_salvage_schema_3(void **state)
{
	struct fixture *f = *state;
	struct ledger_dest dests[1] = {{.name = "county"}};
	struct ledger_open_info info;
	char fire_id[HAZARD_ID_LEN];
	struct hazard h;

	for (int i = 0; i < 50; i++)
		record(f->l, "box", NULL);
	record(f->l, "box", fire_id);
	ledger_close(f->l);
	f->l = NULL;
	/* As schema 3 had it: no dest (every row waits for the one platform), no class. */
	exec_sql(f->path, "DROP INDEX outbox_seq; DROP INDEX outbox_prio; "
	                  "ALTER TABLE outbox DROP COLUMN dest; "
	                  "ALTER TABLE hazards DROP COLUMN class");
	char *sql = sqlite3_mprintf("UPDATE hazards SET kind='fire_alarm', deadline=12345 "
	                            "WHERE id='%q'; PRAGMA user_version=3; "
	                            "DELETE FROM meta WHERE key='clean_stop'",
	                            fire_id);
	exec_sql(f->path, sql);
	sqlite3_free(sql);
	ruin_index(f->path, "events_hazard");
	testutil_log_reset();
	assert_int_equal(ledger_open(&f->l, f->dir, "GW-T", &info), 0);
	assert_true(info.corrupt);
	assert_int_equal(info.salvaged.events, 51);
	assert_int_equal(info.salvaged.outbox, 51);
	assert_int_equal(info.salvaged.items, 51);
	assert_int_equal(ledger_set_dests(f->l, dests, 1), 0);
	assert_int_equal(ledger_outbox_depth_dest(f->l, "county"), 51);
	assert_int_equal(ledger_hazard_get(f->l, fire_id, &h), 1);
	assert_int_equal(h.iclass, ICLASS_INCIDENT);
	assert_int_equal(h.deadline, 0);
	item_finish(&h);
}

/* Closes item `id` at `at` in its own transaction. */
static void close_item(struct ledger *l, const char *id, int64_t at)
{
	struct hazard h;

	assert_int_equal(ledger_hazard_get(l, id, &h), 1);
	h.status = HSTATUS_CLOSED;
	h.closed_at = at;
	assert_int_equal(ledger_begin(l), 0);
	assert_int_equal(ledger_hazard_update(l, &h), 0);
	assert_int_equal(ledger_event_append(l, &h, "closed", at, NULL), 0);
	assert_int_equal(ledger_commit(l), 0);
	item_finish(&h);
}

/* Retention: an item's history goes only when it is closed before the horizon and nothing of
 * it waits for any destination; never an open item, never an unsent event. Steps are small
 * (at most max_rows events), an item's row goes with its last events, and the ledger
 * remembers up to when history was pruned. */
static void test_prune_only_closed_and_delivered(void **state)
{
	struct fixture *f = *state;
	struct ledger_dest dests[2] = {{.name = "county"}, {.name = "centre"}};
	char gone[HAZARD_ID_LEN], waiting[HAZARD_ID_LEN], open[HAZARD_ID_LEN],
	    recent[HAZARD_ID_LEN];
	struct ledger_prune_result res;
	struct ledger_prune_plan plan;
	struct hazard h;
	int64_t last;

	assert_int_equal(ledger_set_dests(f->l, dests, 2), 0);
	record(f->l, "a", gone);
	record(f->l, "b", waiting);
	record(f->l, "c", open);
	record(f->l, "d", recent);
	/* 1,200 more events on the first item: more than one step's rows. */
	assert_int_equal(ledger_hazard_get(f->l, gone, &h), 1);
	assert_int_equal(ledger_begin(f->l), 0);
	for (int i = 0; i < 1200; i++)
		assert_int_equal(ledger_event_append(f->l, &h, "recurred", T0 + i, NULL), 0);
	assert_int_equal(ledger_commit(f->l), 0);
	item_finish(&h);
	close_item(f->l, gone, T0 + 10000);
	close_item(f->l, waiting, T0 + 10000);
	close_item(f->l, recent, T0 + 900000);
	/* Everything delivered but the centre's copy of one event of `waiting`. */
	last = ledger_last_seq(f->l);
	assert_int_equal(ledger_begin(f->l), 0);
	for (int64_t seq = 1; seq <= last; seq++) {
		assert_int_equal(ledger_outbox_accept(f->l, "county", seq), 0);
		if (seq != 2)
			assert_int_equal(ledger_outbox_accept(f->l, "centre", seq), 0);
	}
	assert_int_equal(ledger_commit(f->l), 0);

	assert_int_equal(ledger_prune_plan(f->l, T0 + 500000, &plan), 0);
	assert_int_equal(plan.items, 1); /* `gone` only: `waiting` waits, `recent` is recent */
	assert_int_equal(plan.events, 1202);
	assert_true(plan.used_bytes > 0 && plan.file_bytes >= plan.used_bytes);
	assert_true(plan.pruned_until == 0);
	assert_true(strstr(plan.oldest_id, "000001") != NULL);

	/* By age: three steps of at most 500 events for `gone`, then nothing. */
	assert_int_equal(ledger_prune_step(f->l, T0 + 500000, 500, &res), 1);
	assert_true(res.events == 500 && res.items == 0);
	assert_int_equal(ledger_prune_step(f->l, T0 + 500000, 500, &res), 1);
	assert_int_equal(ledger_prune_step(f->l, T0 + 500000, 500, &res), 1);
	assert_true(res.events == 202 && res.items == 1);
	assert_int_equal(ledger_prune_step(f->l, T0 + 500000, 500, &res), 0);
	assert_int_equal(ledger_hazard_get(f->l, gone, &h), 0);
	assert_true(ledger_pruned_until(f->l) == T0 + 10001);
	/* For size (any closed one): `recent` goes too; never `waiting` nor `open`. */
	assert_int_equal(ledger_prune_step(f->l, INT64_MAX, 500, &res), 1);
	assert_true(res.items == 1 && strcmp(res.id, recent) == 0);
	assert_int_equal(ledger_prune_step(f->l, INT64_MAX, 500, &res), 0);
	assert_int_equal(ledger_hazard_get(f->l, waiting, &h), 1);
	item_finish(&h);
	assert_int_equal(ledger_hazard_get(f->l, open, &h), 1);
	item_finish(&h);
	assert_int_equal(ledger_event_count(f->l), 2 + 1); /* waiting's 2, open's 1 */
	assert_int_equal(ledger_outbox_depth_dest(f->l, "centre"), 1);
	/* Once the centre has it, `waiting` may go. */
	assert_int_equal(ledger_outbox_accept(f->l, "centre", 2), 0);
	assert_int_equal(ledger_prune_step(f->l, T0 + 500000, 500, &res), 1);
	assert_true(res.items == 1 && strcmp(res.id, waiting) == 0);
}

static void test_newer_schema_refused(void **state)
{
	struct fixture *f = *state;
	struct ledger_open_info info;
	struct ledger *l = NULL;

	ledger_close(f->l);
	f->l = NULL;
	exec_sql(f->path, "PRAGMA user_version=99");
	assert_int_equal(ledger_open(&l, f->dir, "GW-T", &info), -EPROTO);
	assert_null(l);
	assert_true(testutil_log_has("newer than this firegw knows"));
	/* Nothing was moved or changed. */
	assert_false(info.corrupt);
	assert_int_equal(q_int(f->path, "PRAGMA user_version"), 99);
}

/* A closed item of the fixture's key (dev/leak/residual_current), closed at `closed_at`. */
static void closed_hazard(struct ledger *l, const char *device, int64_t closed_at)
{
	struct hazard h;

	new_hazard(&h, device);
	h.status = HSTATUS_CLOSED;
	h.active = false;
	h.closed_at = closed_at;
	assert_int_equal(ledger_hazard_insert(l, &h), 0);
	item_finish(&h);
}

/* Rows the kept statement whose text contains `what` has stepped through since the last
 * call (SQLITE_STMTSTATUS_VM_STEP, reset on read): what one lookup cost. */
static int vm_steps(struct ledger *l, const char *what)
{
	for (sqlite3_stmt *st = sqlite3_next_stmt(ledger_db(l), NULL); st;
	     st = sqlite3_next_stmt(ledger_db(l), st))
		if (strstr(sqlite3_sql(st), what))
			return sqlite3_stmt_status(st, SQLITE_STMTSTATUS_VM_STEP, 1);
	fail_msg("no kept statement with \"%s\"", what);
	return -1;
}

/* Issue 8: a detector that raised and closed many items. Looking up its open item and its
 * last closed one costs the same with 500 closed items as with 5: neither reads the closed
 * items one by one. */
static void test_lookups_skip_closed_items(void **state)
{
	struct fixture *f = *state;
	struct hazard h;
	int small[2], big[2];
	char open_id[HAZARD_ID_LEN];

	/* Compiles both kept statements. */
	assert_int_equal(ledger_hazard_open_for(f->l, "det", "leak", KIND_RESIDUAL_CURRENT, &h), 0);
	assert_int_equal(ledger_hazard_last_closed(f->l, "det", "leak", KIND_RESIDUAL_CURRENT, &h),
	                 0);
	for (int round = 0; round < 2; round++) {
		assert_int_equal(ledger_begin(f->l), 0);
		for (int i = 0; i < (round == 0 ? 5 : 495); i++)
			closed_hazard(f->l, "det", T0 + round * 1000 + i);
		assert_int_equal(ledger_commit(f->l), 0);
		if (round == 0)
			record(f->l, "det", open_id);
		vm_steps(f->l, "status<>'closed' ORDER BY num DESC"); /* reset */
		vm_steps(f->l, "status='closed' ORDER BY closed_at DESC");
		assert_int_equal(
		    ledger_hazard_open_for(f->l, "det", "leak", KIND_RESIDUAL_CURRENT, &h), 1);
		assert_string_equal(h.id, open_id);
		item_finish(&h);
		assert_int_equal(
		    ledger_hazard_last_closed(f->l, "det", "leak", KIND_RESIDUAL_CURRENT, &h), 1);
		assert_int_equal(h.closed_at, T0 + round * 1000 + (round == 0 ? 4 : 494));
		item_finish(&h);
		int *v = round == 0 ? small : big;
		v[0] = vm_steps(f->l, "status<>'closed' ORDER BY num DESC");
		v[1] = vm_steps(f->l, "status='closed' ORDER BY closed_at DESC");
	}
	assert_int_equal(big[0], small[0]);
	assert_int_equal(big[1], small[1]);
}

/* A ledger of schema 2 (before the partial indexes of migration 3) is migrated at open: its
 * items, events, outbox and commands unchanged, user_version 3, the indexes there. */
static void test_migrates_schema_2(void **state)
{
	struct fixture *f = *state;
	struct ledger_open_info info;
	struct hazard h;
	char before[4096], after[4096], open_id[HAZARD_ID_LEN], fire_id[HAZARD_ID_LEN];
	const char *snapshot =
	    "SELECT (SELECT group_concat(num || id || status || closed_at || info, ';') FROM "
	    "hazards) || '|' || (SELECT group_concat(seq || event_id || type || body, ';') FROM "
	    "events) || '|' || (SELECT group_concat(lane || seq || prio, ';') FROM outbox) || '|' "
	    "|| (SELECT group_concat(id || reported, ';') FROM commands)";

	record(f->l, "det", open_id);
	record(f->l, "smoke", fire_id);
	assert_int_equal(ledger_begin(f->l), 0);
	closed_hazard(f->l, "det", T0 + 7);
	assert_int_equal(
	    ledger_command_record(f->l, "cmd-1", "hazard.close", open_id, true, NULL, T0), 0);
	assert_int_equal(ledger_commit(f->l), 0);
	ledger_close(f->l);
	f->l = NULL;
	/* What firegw with schema 2 left: the same tables, without migration 3's indexes nor
	 * migration 4's destinations nor migration 5's classes; a fire alarm with a deadline,
	 * as firegw raised them then. */
	char fire[256];
	snprintf(fire, sizeof(fire),
	         "UPDATE hazards SET kind='fire_alarm', deadline=1 WHERE id='%s';"
	         "ALTER TABLE hazards DROP COLUMN class;", fire_id);
	exec_sql(f->path, fire);
	exec_sql(f->path,
	         "DROP INDEX outbox_seq; DROP INDEX outbox_prio; ALTER TABLE outbox DROP COLUMN dest;"
	         "CREATE INDEX outbox_seq ON outbox(lane, seq);"
	         "CREATE INDEX outbox_prio ON outbox(lane, prio, seq);"
	         "DROP TABLE deadletter; CREATE TABLE deadletter(seq INTEGER PRIMARY KEY, "
	         "event_id TEXT, hazard_id TEXT, reason TEXT NOT NULL, at INTEGER NOT NULL, "
	         "body TEXT);"
	         "DROP INDEX hazards_open; DROP INDEX hazards_closed; "
	         "DROP INDEX commands_unreported; PRAGMA user_version=2");
	q_text(f->path, snapshot, before, sizeof(before));
	assert_true(strlen(before) > 100);

	assert_int_equal(ledger_open(&f->l, f->dir, "GW-T", &info), 0);
	assert_false(info.created);
	assert_false(info.corrupt);
	assert_true(testutil_log_has("schema migrated to version 3"));
	assert_true(testutil_log_has("schema migrated to version 4"));
	assert_true(testutil_log_has("schema migrated to version 5"));
	assert_true(testutil_log_has("schema migrated to version 6"));
	assert_true(testutil_log_has("schema migrated to version 7"));
	/* Classified: the fire alarm an incident without a deadline, the rest hazards. */
	assert_int_equal(q_int(f->path, "SELECT count(*) FROM hazards WHERE class='incident' "
	                                "AND deadline=0 AND kind='fire_alarm'"), 1);
	assert_int_equal(q_int(f->path, "SELECT count(*) FROM hazards WHERE class='hazard'"), 2);
	assert_int_equal(q_int(f->path, "PRAGMA user_version"), LEDGER_SCHEMA_VERSION);
	assert_int_equal(q_int(f->path, "SELECT count(*) FROM sqlite_master WHERE type='index' "
	                                "AND name IN ('hazards_open', 'hazards_closed', "
	                                "'commands_unreported')"),
	                 3);
	/* Migration 6: outbox_lane gone, the outbox still listed in id order. */
	assert_int_equal(q_int(f->path, "SELECT count(*) FROM sqlite_master WHERE name='outbox_lane'"),
	                 0);
	/* Migration 7: the resync lookup has its partial index. */
	assert_int_equal(q_int(f->path, "SELECT count(*) FROM sqlite_master WHERE type='index' AND "
	                                "name='events_resync' AND sql LIKE '%WHERE type=''resync''%'"),
	                 1);
	q_text(f->path, snapshot, after, sizeof(after));
	assert_string_equal(after, before);
	/* And the lookups answer from it. */
	assert_int_equal(ledger_hazard_open_for(f->l, "det", "leak", KIND_RESIDUAL_CURRENT, &h), 1);
	assert_string_equal(h.id, open_id);
	item_finish(&h);
	assert_int_equal(ledger_hazard_last_closed(f->l, "det", "leak", KIND_RESIDUAL_CURRENT, &h),
	                 1);
	assert_int_equal(h.closed_at, T0 + 7);
	item_finish(&h);
	/* The events that waited (destination '') are the first destination's once
	 * destinations are set, and only its: an upgrade keeps every unsent event. */
	int64_t waiting = ledger_outbox_depth(f->l, LANE_ALARM);
	struct ledger_dest dests[2] = {{.name = "county"}, {.name = "centre"}};
	assert_true(waiting > 0);
	assert_int_equal(ledger_set_dests(f->l, dests, 2), 0);
	assert_int_equal(ledger_outbox_depth_dest(f->l, "county"), waiting);
	assert_int_equal(ledger_outbox_depth_dest(f->l, "centre"), 0);
	assert_int_equal(ledger_outbox_depth_dest(f->l, ""), 0);
}

/* Several destinations: each event queued once for each that wants it; one accepting or
 * rejecting it leaves the other's row alone; the event leaves the outbox with its last row. */
static void test_destinations(void **state)
{
	struct fixture *f = *state;
	struct ledger_dest dests[2] = {
	    {.name = "county"},
	    {.name = "centre", .kinds = 1u << KIND_FIRE_ALARM,
	     .types = 1u << ledger_event_type_index("raised")}};
	struct hazard h;
	int64_t s1, s2;

	assert_int_equal(ledger_set_dests(f->l, dests, 2), 0);
	item_init(&h);
	snprintf(h.device, sizeof(h.device), "smoke-1");
	snprintf(h.point, sizeof(h.point), "smoke");
	h.kind = KIND_FIRE_ALARM;
	h.grade = GRADE_IMMEDIATE;
	assert_int_equal(ledger_begin(f->l), 0);
	assert_int_equal(ledger_hazard_insert(f->l, &h), 0);
	assert_int_equal(ledger_event_append(f->l, &h, "raised", T0, &s1), 0);
	assert_int_equal(ledger_event_append(f->l, &h, "assigned", T0 + 1, &s2), 0);
	assert_int_equal(ledger_commit(f->l), 0);
	assert_int_equal(ledger_outbox_depth_dest(f->l, "county"), 2);
	assert_int_equal(ledger_outbox_depth_dest(f->l, "centre"), 1); /* raised fire alarms only */
	assert_int_equal(ledger_outbox_depth(f->l, LANE_ALARM), 3);
	assert_true(ledger_outbox_oldest_dest(f->l, "centre") == T0);
	assert_int_equal(ledger_outbox_accept(f->l, "centre", s1), 0);
	assert_int_equal(ledger_outbox_depth_dest(f->l, "county"), 2); /* untouched */
	assert_int_equal(ledger_deadletter(f->l, "county", s2, "no", T0), 0);
	assert_int_equal(ledger_deadletter(f->l, "centre", s2, "not queued for it", T0), -ENOENT);
	assert_int_equal(ledger_outbox_accept(f->l, "county", s1), 0);
	assert_int_equal(ledger_outbox_depth(f->l, LANE_ALARM), 0);
	/* A resync for one destination only, and only if it wants it. */
	assert_int_equal(ledger_begin(f->l), 0);
	assert_int_equal(ledger_event_append_to(f->l, &h, "resync", T0 + 2, "county", NULL), 0);
	assert_int_equal(ledger_event_append_to(f->l, &h, "resync", T0 + 3, "centre", NULL), 0);
	assert_int_equal(ledger_commit(f->l), 0);
	assert_int_equal(ledger_resync_pending(f->l, "county", h.id), 1);
	assert_int_equal(ledger_resync_pending(f->l, "centre", h.id), 0); /* raised only */
	item_finish(&h);
}

/* The gateway's restart after an unclean stop: a closed gateway_outage item whose one
 * gateway_restarted event is queued for every destination, whatever each filters. */
static void test_restart_goes_to_every_destination(void **state)
{
	struct fixture *f = *state;
	struct ledger_dest dests[2] = {{.name = "county"},
	                               {.name = "centre",
	                                .kinds = 1u << KIND_FIRE_ALARM,
	                                .types = 1u << ledger_event_type_index("raised"),
	                                .grades = 1u << GRADE_IMMEDIATE}};
	struct policy p;
	struct hazard h;
	char type[32];

	policy_defaults(&p);
	assert_int_equal(ledger_set_dests(f->l, dests, 2), 0);
	assert_int_equal(ledger_begin(f->l), 0);
	assert_int_equal(hazard_restarted(f->l, &p, T0 - 90000, T0, NULL, &h), 0);
	assert_int_equal(ledger_commit(f->l), 0);
	assert_int_equal(h.status, HSTATUS_CLOSED);
	assert_false(h.active);
	assert_true(h.first_seen == T0 - 90000 && h.closed_at == T0);
	item_finish(&h);
	assert_int_equal(ledger_outbox_depth_dest(f->l, "county"), 1);
	assert_int_equal(ledger_outbox_depth_dest(f->l, "centre"), 1);
	q_text(f->path, "SELECT type FROM events", type, sizeof(type));
	assert_string_equal(type, "gateway_restarted");
	/* The status reads it back as the last closed item of gateway/alive. */
	assert_int_equal(
	    ledger_hazard_last_closed(f->l, "gateway", "alive", KIND_GATEWAY_OUTAGE, &h), 1);
	assert_true(h.first_seen == T0 - 90000);
	item_finish(&h);
}

static void test_deadletter_and_lanes(void **state)
{
	struct fixture *f = *state;
	json_t *t = json_pack("{s:s, s:f}", "device", "box", "leak", 12.0);

	int64_t seq = record(f->l, "box", NULL);
	record(f->l, "box2", NULL);
	assert_int_equal(ledger_begin(f->l), 0);
	assert_int_equal(ledger_telemetry_append(f->l, t, T0), 0);
	assert_int_equal(ledger_commit(f->l), 0);
	json_decref(t);
	assert_int_equal(ledger_outbox_depth(f->l, LANE_ALARM), 2);
	assert_int_equal(ledger_outbox_depth(f->l, LANE_TELEMETRY), 1);
	assert_int_equal(ledger_begin(f->l), 0);
	assert_int_equal(ledger_deadletter(f->l, "", seq, "unknown unit code", T0), 0);
	assert_int_equal(ledger_deadletter(f->l, "", 999, "no such event", T0), -ENOENT);
	assert_int_equal(ledger_commit(f->l), 0);
	assert_int_equal(ledger_outbox_depth(f->l, LANE_ALARM), 1);
	assert_int_equal(ledger_deadletter_count(f->l), 1);
	/* The event itself stays in the history. */
	assert_int_equal(ledger_event_count(f->l), 2);
}

/* The connection's own synchronous setting (1 NORMAL, 2 FULL). */
static int sync_mode(struct ledger *l)
{
	return (int)conn_int(l, "PRAGMA synchronous");
}

/* A relaxed transaction (a drain's acceptances) commits like any other but without waiting
 * for the disk; every transaction after it waits again, also after a rollback. */
static void test_relaxed_transaction_then_durable_again(void **state)
{
	struct fixture *f = *state;
	int64_t seq = record(f->l, "box", NULL);

	record(f->l, "box2", NULL);
	assert_int_equal(sync_mode(f->l), 2);
	assert_int_equal(ledger_begin_relaxed(f->l), 0);
	assert_int_equal(sync_mode(f->l), 1);
	assert_int_equal(ledger_outbox_accept(f->l, "", seq), 0);
	assert_int_equal(ledger_commit(f->l), 0);
	assert_int_equal(sync_mode(f->l), 2);
	/* Committed: another connection sees it. */
	assert_int_equal(q_int(f->path, "SELECT count(*) FROM outbox WHERE lane=0"), 1);

	assert_int_equal(ledger_begin_relaxed(f->l), 0);
	ledger_rollback(f->l);
	assert_int_equal(sync_mode(f->l), 2);
	record(f->l, "box3", NULL);
	assert_int_equal(sync_mode(f->l), 2);
	assert_int_equal(q_int(f->path, "SELECT count(*) FROM outbox WHERE lane=0"), 2);
}

static void test_commands_remembered(void **state)
{
	struct fixture *f = *state;
	struct ledger_open_info info;

	assert_int_equal(ledger_command_seen(f->l, "cmd-1"), 0);
	assert_int_equal(ledger_begin(f->l), 0);
	assert_int_equal(ledger_command_record(f->l, "cmd-1", "hazard.acknowledge", "GW-T-000001",
	                                       true, NULL, T0),
	                 0);
	assert_int_equal(ledger_commit(f->l), 0);
	ledger_close(f->l);
	assert_int_equal(ledger_open(&f->l, f->dir, "GW-T", &info), 0);
	assert_int_equal(ledger_command_seen(f->l, "cmd-1"), 1);
	assert_int_equal(ledger_command_seen(f->l, "cmd-2"), 0);
}

static void test_open_by_grade(void **state)
{
	struct fixture *f = *state;
	int64_t counts[GRADE_COUNT];
	struct hazard h;

	record(f->l, "a", NULL);
	record(f->l, "b", NULL);
	new_hazard(&h, "c");
	h.status = HSTATUS_CLOSED;
	assert_int_equal(ledger_begin(f->l), 0);
	assert_int_equal(ledger_hazard_insert(f->l, &h), 0);
	assert_int_equal(ledger_commit(f->l), 0);
	item_finish(&h);
	assert_int_equal(ledger_open_by_grade(f->l, counts), 0);
	assert_int_equal(counts[GRADE_SIGNIFICANT], 2);
	assert_int_equal(counts[GRADE_IMMEDIATE], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_schema_and_pragmas, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_page_size_new_and_kept, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_one_transaction_rolls_back_together, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_event_body, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_numbers_continue_across_restart, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_corrupt_file_moved_aside_and_reported, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_truncated_file_moved_aside, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_full_check_after_kill_only, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_damage_inside_found_after_kill, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_salvage_unsent_into_new_ledger, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_salvage_schema_3, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_prune_only_closed_and_delivered, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lookups_skip_closed_items, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_migrates_schema_2, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_destinations, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_restart_goes_to_every_destination, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_deadletter_and_lanes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_relaxed_transaction_then_durable_again, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_commands_remembered, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_open_by_grade, setup, teardown),
	};

	return cmocka_run_group_tests_name("ledger", tests, NULL, NULL);
}
