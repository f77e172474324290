/* test_commands: the platform's side of the lifecycle. Each command applied once by its id,
 * recorded as a hazard event, its result kept for the next request; impossible commands
 * answered ok = false with a reason and changing nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "clock.h"
#include "hazard.h"
#include "ledger.h"
#include "testutil.h"

#define T0 1795000000000LL

struct fixture {
	char *dir;
	struct ledger *l;
	struct policy pol;
	char id[HAZARD_ID_LEN];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct ledger_open_info info;
	struct hazard_obs o = {.device = "box",
	                       .point = "leak",
	                       .kind = KIND_RESIDUAL_CURRENT,
	                       .level = LEVEL_ALARM,
	                       .value = 350,
	                       .threshold = 300,
	                       .unit = "mA",
	                       .wall_ms = T0};
	struct hazard h;
	enum hazard_outcome out;

	testutil_log_capture();
	clock_set_fake(1000, T0);
	policy_defaults(&f->pol);
	f->dir = testutil_mkdtemp();
	assert_int_equal(ledger_open(&f->l, f->dir, "GW-T", &info), 0);
	assert_int_equal(ledger_begin(f->l), 0);
	assert_int_equal(hazard_observe(f->l, &f->pol, &o, &h, &out), 0);
	assert_int_equal(ledger_commit(f->l), 0);
	strcpy(f->id, h.id);
	hazard_finish(&h);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	ledger_close(f->l);
	testutil_rmdir(f->dir);
	free(f->dir);
	free(f);
	clock_set_fake(-1, -1);
	return 0;
}

/* Applies a command given as JSON text, in its own transaction. */
static void apply(struct fixture *f, const char *fmt, ...)
{
	char text[1024];
	va_list ap;
	json_t *cmd;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	cmd = json_loads(text, 0, NULL);
	assert_non_null(cmd);
	assert_int_equal(ledger_begin(f->l), 0);
	assert_int_equal(hazard_apply_command(f->l, &f->pol, cmd, T0 + 1000), 0);
	assert_int_equal(ledger_commit(f->l), 0);
	json_decref(cmd);
}

static void item(struct fixture *f, struct hazard *h)
{
	assert_int_equal(ledger_hazard_get(f->l, f->id, h), 1);
}

/* The result stored for a command id: "ok", or the reason. */
static const char *result(struct fixture *f, const char *id)
{
	static char out[256];
	json_t *all = ledger_command_results(f->l);
	size_t i;
	json_t *r;

	out[0] = '\0';
	json_array_foreach(all, i, r)
	{
		if (strcmp(json_string_value(json_object_get(r, "id")), id) != 0)
			continue;
		if (json_is_true(json_object_get(r, "ok")))
			snprintf(out, sizeof(out), "ok");
		else
			snprintf(out, sizeof(out), "%s",
			         json_string_value(json_object_get(r, "reason")));
	}
	json_decref(all);
	return out;
}

static void test_lifecycle(void **state)
{
	struct fixture *f = *state;
	struct hazard h;

	apply(f, "{\"id\":\"c1\",\"type\":\"hazard.acknowledge\",\"hazard_id\":\"%s\"}", f->id);
	item(f, &h);
	assert_int_equal(h.status, HSTATUS_ACKNOWLEDGED);
	hazard_finish(&h);
	assert_string_equal(result(f, "c1"), "ok");

	apply(
	    f,
	    "{\"id\":\"c2\",\"type\":\"hazard.assign\",\"hazard_id\":\"%s\",\"assignee\":\"Li "
	    "Electrician\",\"measures\":\"replace the RCD\",\"deadline\":\"2026-12-01T00:00:00Z\"}",
	    f->id);
	item(f, &h);
	assert_int_equal(h.status, HSTATUS_RECTIFYING);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(h.info, "platform"), "assignee")),
	    "Li Electrician");
	assert_int_equal(h.deadline, 1796083200000LL);
	hazard_finish(&h);

	apply(f, "{\"id\":\"c3\",\"type\":\"hazard.accept\",\"hazard_id\":\"%s\"}", f->id);
	apply(f, "{\"id\":\"c4\",\"type\":\"hazard.close\",\"hazard_id\":\"%s\"}", f->id);
	item(f, &h);
	assert_int_equal(h.status, HSTATUS_CLOSED);
	assert_int_equal(h.closed_at, T0 + 1000);
	hazard_finish(&h);

	apply(f, "{\"id\":\"c5\",\"type\":\"hazard.reopen\",\"hazard_id\":\"%s\"}", f->id);
	item(f, &h);
	assert_int_equal(h.status, HSTATUS_OPEN);
	assert_int_equal(h.closed_at, 0);
	hazard_finish(&h);
	/* Every step is an event of the item, in order. */
	assert_int_equal(ledger_event_count(f->l), 6);
	struct outbox_item *it;
	size_t n;
	assert_int_equal(ledger_outbox_batch(f->l, 10, &it, &n), 0);
	assert_int_equal(n, 6);
	const char *types[] = {"raised",   "acknowledged", "assigned",
	                       "accepted", "closed",       "reopened"};
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_loads(it[i].body, 0, NULL);

		assert_string_equal(json_string_value(json_object_get(e, "type")), types[i]);
		json_decref(e);
	}
	ledger_outbox_free(it, n);
}

static void test_impossible_changes_nothing(void **state)
{
	struct fixture *f = *state;
	struct hazard h;

	apply(f, "{\"id\":\"x1\",\"type\":\"hazard.reopen\",\"hazard_id\":\"%s\"}", f->id);
	assert_string_equal(result(f, "x1"), "hazard is not closed");
	apply(f, "{\"id\":\"x2\",\"type\":\"hazard.close\",\"hazard_id\":\"%s\"}", f->id);
	apply(f, "{\"id\":\"x3\",\"type\":\"hazard.close\",\"hazard_id\":\"%s\"}", f->id);
	assert_string_equal(result(f, "x3"), "hazard is already closed");
	apply(f, "{\"id\":\"x4\",\"type\":\"hazard.acknowledge\",\"hazard_id\":\"%s\"}", f->id);
	assert_string_equal(result(f, "x4"), "hazard is closed");
	apply(f, "{\"id\":\"x5\",\"type\":\"hazard.close\",\"hazard_id\":\"GW-T-999999\"}");
	assert_string_equal(result(f, "x5"), "unknown hazard");
	apply(f, "{\"id\":\"x6\",\"type\":\"hazard.explode\",\"hazard_id\":\"%s\"}", f->id);
	assert_string_equal(result(f, "x6"), "unknown command type");
	apply(f, "{\"id\":\"x7\",\"type\":\"hazard.close\"}");
	assert_string_equal(result(f, "x7"), "command needs type and hazard_id");
	/* No id: it cannot be answered, so it is not recorded at all. */
	apply(f, "{\"type\":\"hazard.reopen\",\"hazard_id\":\"%s\"}", f->id);
	item(f, &h);
	assert_int_equal(h.status, HSTATUS_CLOSED);
	hazard_finish(&h);
	/* raised + closed: none of the refused ones made an event. */
	assert_int_equal(ledger_event_count(f->l), 2);
}

static void test_applied_once(void **state)
{
	struct fixture *f = *state;

	apply(f, "{\"id\":\"c1\",\"type\":\"hazard.acknowledge\",\"hazard_id\":\"%s\"}", f->id);
	assert_int_equal(ledger_command_reported(f->l, "c1"), 0);
	assert_string_equal(result(f, "c1"), ""); /* reported: not sent again */
	/* The platform sends the same command again (it missed our result). */
	apply(f, "{\"id\":\"c1\",\"type\":\"hazard.acknowledge\",\"hazard_id\":\"%s\"}", f->id);
	assert_int_equal(ledger_event_count(f->l), 2); /* applied once */
	assert_string_equal(result(f, "c1"), "ok");    /* its result goes out again */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_impossible_changes_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_applied_once, setup, teardown),
	};

	return cmocka_run_group_tests_name("commands", tests, NULL, NULL);
}
