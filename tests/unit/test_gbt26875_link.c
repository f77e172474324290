/* SPDX-License-Identifier: MIT */
/* test_gbt26875_link: the device-side exchange state machine of GB/T 26875.3 with made-up
 * times: the golden fire alarm sent and settled by the golden confirm, resends with the same
 * bytes every 10 s and failure after 3 tries, deny, stray answers, one exchange at a time,
 * the heartbeat schedule, serials per connection, and the answers to the centre's clock sync,
 * roll call, initialise and reads (81, 84, 85, 86, 88), bad and unknown frames denied. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gbt26875.h"
#include "gbt26875_adu.h"
#include "gbt26875_link.h"

#define GW     0x379ull
#define CENTRE 0x15B38ull

static const struct gbt26875_time t_sent = {32, 58, 9, 26, 9, 12};
static const struct gbt26875_time t_event = {2, 58, 9, 26, 9, 12};

static const uint8_t golden_fire_head[27] = {
    0x40, 0x40, 0x01, 0x00, 0x01, 0x01, 0x20, 0x3A, 0x09, 0x1A, 0x09, 0x0C, 0x79, 0x03,
    0x00, 0x00, 0x00, 0x00, 0x38, 0x5B, 0x01, 0x00, 0x00, 0x00, 0x30, 0x00, 0x02};
static const uint8_t golden_confirm[30] = {
    0x40, 0x40, 0x01, 0x00, 0x01, 0x01, 0x23, 0x3A, 0x09, 0x1A, 0x09, 0x0C, 0x38, 0x5B, 0x01,
    0x00, 0x00, 0x00, 0x79, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xAB, 0x23, 0x23};

static uint8_t ops_status = GBT26875_UITD_NORMAL;

static uint8_t fake_status(void *ctx)
{
	return ops_status;
}

static size_t fake_operations(void *ctx, const struct gbt26875_time *from, size_t max,
                              struct gbt26875_operation *out)
{
	size_t n = max < 2 ? max : 2;

	for (size_t i = 0; i < n; i++)
		out[i] = (struct gbt26875_operation){.flags = (uint8_t)(1u << i), .operator_id = 7,
		                                     .time = t_event};
	return n;
}

static void fake_version(void *ctx, uint8_t *major, uint8_t *minor)
{
	*major = 0;
	*minor = 1;
}

static size_t fake_config(void *ctx, char *buf, size_t cap)
{
	return (size_t)snprintf(buf, cap, "firegw 0.1.0 gateway=gw-1 devices=3");
}

static const struct gbt26875_link_ops fake_ops = {
    .uitd_status = fake_status,
    .operations = fake_operations,
    .version = fake_version,
    .config = fake_config,
};

static void open_link(struct gbt26875_link *l, const struct gbt26875_link_ops *ops)
{
	const struct gbt26875_link_conf conf = {.src = GW, .dst = CENTRE, .user_version = 1,
	                                        .answer_timeout_ms = 10000, .tries = 3,
	                                        .heartbeat_ms = 30000};

	gbt26875_link_init(l, &conf, ops);
	assert_int_equal(l->state, GBT26875_LINK_CLOSED);
	gbt26875_link_open(l, 0);
	assert_int_equal(l->state, GBT26875_LINK_IDLE);
}

static void fire_adu(struct gbt26875_adu *a)
{
	struct gbt26875_component_status o = {.sys_type = 1, .sys_addr = 1, .comp_type = 40,
	                                      .comp_addr = 0x0002000A, .status = 2, .time = t_event};

	gbt26875_adu_desc("                              ", o.desc);
	gbt26875_adu_start(a, GBT26875_T_COMPONENT_STATUS);
	gbt26875_adu_add_status(a, &o);
}

/* A frame from the centre, parsed as the stream would give it. */
static void centre_frame(struct gbt26875_frame *f, uint16_t serial, uint8_t cmd,
                         const void *adu, size_t len)
{
	struct gbt26875_header h = {.serial = serial, .version = 1, .user_version = 1,
	                            .time = t_sent, .src = CENTRE, .dst = GW, .cmd = cmd};
	uint8_t buf[GBT26875_MAX_FRAME];
	size_t n, used;

	assert_int_equal(gbt26875_frame_build(&h, adu, len, buf, sizeof(buf), &n), GBT26875_OK);
	assert_int_equal(gbt26875_frame_parse(buf, n, f, &used), GBT26875_OK);
}

static struct gbt26875_link l;
static struct gbt26875_link_event ev;
static struct gbt26875_frame f, reply;

static void test_golden_exchange(void **state)
{
	struct gbt26875_adu a;
	const uint8_t *out;
	size_t n, used;

	open_link(&l, NULL);
	fire_adu(&a);
	assert_int_equal(gbt26875_link_send(&l, a.buf, a.len, &t_sent, 1000, &out, &n), GBT26875_OK);
	assert_int_equal(n, 78);
	assert_memory_equal(out, golden_fire_head, sizeof(golden_fire_head));
	assert_int_equal(out[75], 0x46);
	assert_int_equal(l.state, GBT26875_LINK_WAITING);
	assert_int_equal(gbt26875_link_next(&l), 11000);
	/* One exchange at a time. */
	assert_int_equal(gbt26875_link_send(&l, a.buf, a.len, &t_sent, 1000, &out, &n),
	                 GBT26875_BAD_ARG);
	assert_int_equal(gbt26875_frame_parse(golden_confirm, sizeof(golden_confirm), &f, &used),
	                 GBT26875_OK);
	assert_int_equal(gbt26875_link_input(&l, &f, GBT26875_OK, 1050, &t_sent, &ev),
	                 GBT26875_OUT_CONFIRMED);
	assert_false(ev.heartbeat);
	assert_int_equal(ev.reply_len, 0);
	assert_int_equal(l.state, GBT26875_LINK_IDLE);
	assert_int_equal(l.confirmed, 1);
	assert_int_equal(l.last_confirm_ms, 1050);
	/* The same confirm again: stray. */
	assert_int_equal(gbt26875_link_input(&l, &f, GBT26875_OK, 1060, &t_sent, &ev),
	                 GBT26875_OUT_NONE);
	assert_int_equal(l.stray_answers, 1);
	/* The next frame has serial 2. */
	assert_int_equal(gbt26875_link_send(&l, a.buf, a.len, &t_sent, 2000, &out, &n), GBT26875_OK);
	assert_int_equal(out[2], 2);
}

static void test_resend_and_fail(void **state)
{
	struct gbt26875_adu a;
	const uint8_t *out, *again;
	uint8_t first[GBT26875_MAX_FRAME];
	size_t n, n2;

	open_link(&l, NULL);
	fire_adu(&a);
	assert_int_equal(gbt26875_link_send(&l, a.buf, a.len, &t_sent, 0, &out, &n), GBT26875_OK);
	memcpy(first, out, n);
	assert_int_equal(gbt26875_link_tick(&l, 9999, &t_sent, &again, &n2), GBT26875_DUE_NOTHING);
	for (int i = 0; i < 2; i++) {
		int64_t at = 10000 * (i + 1);
		assert_int_equal(gbt26875_link_next(&l), at);
		assert_int_equal(gbt26875_link_tick(&l, at, &t_event, &again, &n2), GBT26875_DUE_RESEND);
		assert_int_equal(n2, n);
		assert_memory_equal(again, first, n); /* same serial, same time sent */
	}
	assert_int_equal(l.tries, 3);
	assert_int_equal(gbt26875_link_tick(&l, 30000, &t_sent, &again, &n2), GBT26875_DUE_FAILED);
	assert_int_equal(l.state, GBT26875_LINK_CLOSED);
	assert_int_equal(l.failed, 1);
	assert_int_equal(l.resent, 2);
	assert_int_equal(gbt26875_link_next(&l), INT64_MAX);
	/* A late confirm on a closed link does nothing. */
	centre_frame(&f, 1, GBT26875_CMD_CONFIRM, NULL, 0);
	assert_int_equal(gbt26875_link_input(&l, &f, GBT26875_OK, 30001, &t_sent, &ev),
	                 GBT26875_OUT_NONE);
	/* Reconnected: serials start again. */
	gbt26875_link_open(&l, 40000);
	assert_int_equal(gbt26875_link_send(&l, a.buf, a.len, &t_sent, 40000, &out, &n), GBT26875_OK);
	assert_int_equal(out[2], 1);
	/* A confirm on the second try settles it. */
	assert_int_equal(gbt26875_link_tick(&l, 50000, &t_sent, &again, &n2), GBT26875_DUE_RESEND);
	centre_frame(&f, 1, GBT26875_CMD_CONFIRM, NULL, 0);
	assert_int_equal(gbt26875_link_input(&l, &f, GBT26875_OK, 50100, &t_sent, &ev),
	                 GBT26875_OUT_CONFIRMED);
}

static void test_deny_and_stray(void **state)
{
	struct gbt26875_adu a;
	const uint8_t *out;
	size_t n;

	open_link(&l, NULL);
	fire_adu(&a);
	assert_int_equal(gbt26875_link_send(&l, a.buf, a.len, &t_sent, 0, &out, &n), GBT26875_OK);
	centre_frame(&f, 9, GBT26875_CMD_DENY, NULL, 0);
	assert_int_equal(gbt26875_link_input(&l, &f, GBT26875_OK, 10, &t_sent, &ev),
	                 GBT26875_OUT_NONE);
	assert_int_equal(l.stray_answers, 1);
	assert_int_equal(l.state, GBT26875_LINK_WAITING);
	centre_frame(&f, 1, GBT26875_CMD_DENY, NULL, 0);
	assert_int_equal(gbt26875_link_input(&l, &f, GBT26875_OK, 20, &t_sent, &ev),
	                 GBT26875_OUT_DENIED);
	assert_int_equal(l.denied, 1);
	assert_int_equal(l.state, GBT26875_LINK_IDLE);
	/* Denied: the same bytes again, twice more (3 tries), then no more. */
	const uint8_t *again;
	size_t again_n;
	uint8_t first[GBT26875_MAX_FRAME];
	memcpy(first, out, n);
	for (int k = 2; k <= 3; k++) {
		assert_int_equal(gbt26875_link_resend(&l, 20, &again, &again_n), GBT26875_OK);
		assert_int_equal(again_n, n);
		assert_memory_equal(again, first, n);
		assert_int_equal(l.tries, k);
		assert_int_equal(l.state, GBT26875_LINK_WAITING);
		assert_int_equal(gbt26875_link_input(&l, &f, GBT26875_OK, 20, &t_sent, &ev),
		                 GBT26875_OUT_DENIED);
	}
	assert_int_equal(gbt26875_link_resend(&l, 20, &again, &again_n), GBT26875_BAD_ARG);
	assert_int_equal(l.resent, 2);
	/* After a confirm there is nothing to resend. */
	assert_int_equal(gbt26875_link_send(&l, a.buf, a.len, &t_sent, 30, &out, &n), GBT26875_OK);
	centre_frame(&f, 2, GBT26875_CMD_CONFIRM, NULL, 0);
	assert_int_equal(gbt26875_link_input(&l, &f, GBT26875_OK, 30, &t_sent, &ev),
	                 GBT26875_OUT_CONFIRMED);
	assert_int_equal(gbt26875_link_resend(&l, 30, &again, &again_n), GBT26875_BAD_ARG);
	/* An answer (5) to nothing firegw asked: ignored. */
	centre_frame(&f, 5, GBT26875_CMD_ANSWER, NULL, 0);
	assert_int_equal(gbt26875_link_input(&l, &f, GBT26875_OK, 30, &t_sent, &ev),
	                 GBT26875_OUT_NONE);
	assert_int_equal(ev.reply_len, 0);
}

static void test_heartbeat(void **state)
{
	struct gbt26875_adu a;
	const uint8_t *out;
	size_t n;

	open_link(&l, NULL);
	assert_int_equal(gbt26875_link_next(&l), 30000);
	assert_int_equal(gbt26875_link_tick(&l, 29999, &t_sent, &out, &n), GBT26875_DUE_NOTHING);
	assert_int_equal(gbt26875_link_tick(&l, 30000, &t_sent, &out, &n), GBT26875_DUE_HEARTBEAT);
	assert_int_equal(n, 30);
	assert_int_equal(out[26], GBT26875_CMD_SEND);
	assert_int_equal(out[24], 0);
	assert_int_equal(out[2], 1);
	centre_frame(&f, 1, GBT26875_CMD_CONFIRM, NULL, 0);
	assert_int_equal(gbt26875_link_input(&l, &f, GBT26875_OK, 30005, &t_sent, &ev),
	                 GBT26875_OUT_CONFIRMED);
	assert_true(ev.heartbeat);
	assert_int_equal(l.heartbeats, 1);
	/* An upload moves the next heartbeat: 30 s after its confirm. */
	fire_adu(&a);
	assert_int_equal(gbt26875_link_send(&l, a.buf, a.len, &t_sent, 40000, &out, &n), GBT26875_OK);
	centre_frame(&f, 2, GBT26875_CMD_CONFIRM, NULL, 0);
	gbt26875_link_input(&l, &f, GBT26875_OK, 40010, &t_sent, &ev);
	assert_false(ev.heartbeat);
	assert_int_equal(gbt26875_link_next(&l), 70010);
}

/* The reply in ev, parsed: an answer to the centre's serial, from the gateway. */
static void assert_reply(uint16_t serial, uint8_t cmd)
{
	size_t used;

	assert_true(ev.reply_len > 0);
	assert_int_equal(gbt26875_frame_parse(ev.reply, ev.reply_len, &reply, &used), GBT26875_OK);
	assert_int_equal(reply.h.serial, serial);
	assert_int_equal(reply.h.cmd, cmd);
	assert_int_equal(reply.h.src, GW);
	assert_int_equal(reply.h.dst, CENTRE);
}

static void test_controls(void **state)
{
	static const uint8_t sync[] = {90, 1, 0, 30, 8, 29, 2, 24};
	static const uint8_t roll[] = {91, 1, 5};
	static const uint8_t init[] = {89, 1, 0};
	static const uint8_t bad_sync[] = {90, 1, 0, 30, 8, 30, 2, 24};

	open_link(&l, &fake_ops);
	centre_frame(&f, 7, GBT26875_CMD_CONTROL, sync, sizeof(sync));
	assert_int_equal(gbt26875_link_input(&l, &f, GBT26875_OK, 5, &t_sent, &ev),
	                 GBT26875_OUT_NONE);
	assert_true(ev.have_control);
	assert_int_equal(ev.control.type, 90);
	assert_int_equal(ev.control.time.day, 29);
	assert_reply(7, GBT26875_CMD_CONFIRM);
	assert_int_equal(reply.adu_len, 0);
	assert_int_equal(l.clock_syncs, 1);
	assert_int_equal(l.last_clock_sync.min, 30);
	assert_int_equal(l.serial, 0); /* answering does not use firegw's own serials */

	centre_frame(&f, 8, GBT26875_CMD_CONTROL, roll, sizeof(roll));
	gbt26875_link_input(&l, &f, GBT26875_OK, 6, &t_sent, &ev);
	assert_reply(8, GBT26875_CMD_CONFIRM);
	assert_int_equal(l.roll_calls, 1);
	assert_int_equal(l.last_roll_call_ms, 6);
	assert_int_equal(ev.control.timeout_min, 5);

	centre_frame(&f, 9, GBT26875_CMD_CONTROL, init, sizeof(init));
	gbt26875_link_input(&l, &f, GBT26875_OK, 7, &t_sent, &ev);
	assert_reply(9, GBT26875_CMD_DENY);
	centre_frame(&f, 10, GBT26875_CMD_CONTROL, bad_sync, sizeof(bad_sync));
	gbt26875_link_input(&l, &f, GBT26875_OK, 8, &t_sent, &ev);
	assert_false(ev.have_control);
	assert_reply(10, GBT26875_CMD_DENY);
	assert_int_equal(l.controls, 4);
	assert_int_equal(l.controls_denied, 2);
}

static void test_reads(void **state)
{
	static const uint8_t r81[] = {81, 1, 0}, r85[] = {85, 1, 0}, r86[] = {86, 1, 0},
	                     r88[] = {88, 1, 0}, r61[] = {61, 1, 0};
	static const uint8_t r84[] = {84, 1, 10, 0, 0, 0, 0, 0, 0};
	struct gbt26875_link_ops none = {0};

	ops_status = GBT26875_UITD_FAULT;
	open_link(&l, &fake_ops);
	centre_frame(&f, 20, GBT26875_CMD_REQUEST, r81, sizeof(r81));
	gbt26875_link_input(&l, &f, GBT26875_OK, 1, &t_sent, &ev);
	assert_reply(20, GBT26875_CMD_ANSWER);
	assert_int_equal(reply.adu_len, 9);
	assert_memory_equal(reply.adu, "\x15\x01\x04\x20\x3A\x09\x1A\x09\x0C", 9);

	centre_frame(&f, 21, GBT26875_CMD_REQUEST, r84, sizeof(r84));
	gbt26875_link_input(&l, &f, GBT26875_OK, 2, &t_sent, &ev);
	assert_reply(21, GBT26875_CMD_ANSWER);
	assert_int_equal(reply.adu_len, 2 + 2 * 8);
	assert_memory_equal(reply.adu, "\x18\x02\x01\x07", 4);

	centre_frame(&f, 22, GBT26875_CMD_REQUEST, r85, sizeof(r85));
	gbt26875_link_input(&l, &f, GBT26875_OK, 3, &t_sent, &ev);
	assert_reply(22, GBT26875_CMD_ANSWER);
	assert_memory_equal(reply.adu, "\x19\x01\x00\x01", 4);

	centre_frame(&f, 23, GBT26875_CMD_REQUEST, r86, sizeof(r86));
	gbt26875_link_input(&l, &f, GBT26875_OK, 4, &t_sent, &ev);
	assert_reply(23, GBT26875_CMD_ANSWER);
	assert_int_equal(reply.adu[2], strlen("firegw 0.1.0 gateway=gw-1 devices=3"));
	assert_memory_equal(reply.adu + 3, "firegw ", 7);

	centre_frame(&f, 24, GBT26875_CMD_REQUEST, r88, sizeof(r88));
	gbt26875_link_input(&l, &f, GBT26875_OK, 5, &t_sent, &ev);
	assert_reply(24, GBT26875_CMD_ANSWER);
	assert_memory_equal(reply.adu, "\x1C\x01\x20\x3A\x09\x1A\x09\x0C", 8);

	/* A read firegw does not answer, a read as a control, a send-data frame from the centre. */
	centre_frame(&f, 25, GBT26875_CMD_REQUEST, r61, sizeof(r61));
	gbt26875_link_input(&l, &f, GBT26875_OK, 6, &t_sent, &ev);
	assert_reply(25, GBT26875_CMD_DENY);
	centre_frame(&f, 26, GBT26875_CMD_CONTROL, r81, sizeof(r81));
	gbt26875_link_input(&l, &f, GBT26875_OK, 7, &t_sent, &ev);
	assert_reply(26, GBT26875_CMD_DENY);
	centre_frame(&f, 27, GBT26875_CMD_SEND, NULL, 0);
	gbt26875_link_input(&l, &f, GBT26875_OK, 8, &t_sent, &ev);
	assert_reply(27, GBT26875_CMD_DENY);

	/* Without the callbacks, the reads that need them are denied. */
	open_link(&l, &none);
	centre_frame(&f, 30, GBT26875_CMD_REQUEST, r81, sizeof(r81));
	gbt26875_link_input(&l, &f, GBT26875_OK, 1, &t_sent, &ev);
	assert_reply(30, GBT26875_CMD_DENY);
	centre_frame(&f, 31, GBT26875_CMD_REQUEST, r88, sizeof(r88));
	gbt26875_link_input(&l, &f, GBT26875_OK, 1, &t_sent, &ev);
	assert_reply(31, GBT26875_CMD_ANSWER);
}

static void test_bad_input(void **state)
{
	static const uint8_t r81[] = {81, 1, 0};

	open_link(&l, &fake_ops);
	/* A request with a bad checksum: denied with its serial. */
	centre_frame(&f, 40, GBT26875_CMD_REQUEST, r81, sizeof(r81));
	gbt26875_link_input(&l, &f, GBT26875_BAD_CHECKSUM, 1, &t_sent, &ev);
	assert_reply(40, GBT26875_CMD_DENY);
	assert_int_equal(l.bad_frames, 1);
	/* A confirm with a bad checksum: never answered. */
	centre_frame(&f, 41, GBT26875_CMD_CONFIRM, NULL, 0);
	gbt26875_link_input(&l, &f, GBT26875_BAD_CHECKSUM, 2, &t_sent, &ev);
	assert_int_equal(ev.reply_len, 0);
	/* An unknown command: denied. */
	f.h.cmd = 9;
	gbt26875_link_input(&l, &f, GBT26875_BAD_COMMAND, 3, &t_sent, &ev);
	assert_reply(41, GBT26875_CMD_DENY);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_golden_exchange),
	    cmocka_unit_test(test_resend_and_fail),
	    cmocka_unit_test(test_deny_and_stray),
	    cmocka_unit_test(test_heartbeat),
	    cmocka_unit_test(test_controls),
	    cmocka_unit_test(test_reads),
	    cmocka_unit_test(test_bad_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
