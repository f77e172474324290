/* SPDX-License-Identifier: MIT */
/* test_gbt26875: the GB/T 26875.3 frame codec against the golden frames of gbt26875.md, byte
 * for byte in both directions (built and parsed); every kind of bad frame; stream reassembly
 * (split frames, several frames per read, garbage, bad frames skipped); the GB 18030
 * description cut; the control and read frames of a monitoring centre. */
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

#define SPACES30 "20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 " \
                 "20 20 20 20 20 20 20 20 20 20 "

/* Golden frames (gbt26875.md). */
static const char *const golden_fire =
    "40 40 01 00 01 01 20 3A 09 1A 09 0C 79 03 00 00 00 00 38 5B 01 00 00 00 30 00 02 "
    "02 01 01 01 28 0A 00 02 00 02 00 " SPACES30 "00 02 3A 09 1A 09 0C 46 23 23";
static const char *const golden_confirm =
    "40 40 01 00 01 01 23 3A 09 1A 09 0C 38 5B 01 00 00 00 79 03 00 00 00 00 00 00 03 AB 23 23";
static const char *const golden_deny =
    "40 40 01 00 01 01 23 3A 09 1A 09 0C 38 5B 01 00 00 00 79 03 00 00 00 00 00 00 06 AE 23 23";
static const char *const golden_uitd =
    "40 40 01 00 01 01 20 3A 09 1A 09 0C 79 03 00 00 00 00 38 5B 01 00 00 00 09 00 02 "
    "15 01 08 02 3A 09 1A 09 0C 42 23 23";
static const char *const golden_analog_adu =
    "03 01 01 02 28 01 02 03 04 03 20 03 04 00 09 02 07 15";

#define GW     0x379ull   /* 79 03 00 00 00 00 */
#define CENTRE 0x15B38ull /* 38 5B 01 00 00 00 */

static const struct gbt26875_time t_sent = {32, 58, 9, 26, 9, 12};
static const struct gbt26875_time t_event = {2, 58, 9, 26, 9, 12};
static const struct gbt26875_time t_answer = {35, 58, 9, 26, 9, 12};

static size_t hex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;
	unsigned v;
	int k;

	while (sscanf(s, " %2x%n", &v, &k) == 1) {
		assert_true(n < cap);
		out[n++] = (uint8_t)v;
		s += k;
	}
	return n;
}

static struct gbt26875_header header(uint16_t serial, uint64_t src, uint64_t dst, uint8_t cmd,
                                     const struct gbt26875_time *t)
{
	struct gbt26875_header h = {.serial = serial, .version = 1, .user_version = 1, .time = *t,
	                            .src = src, .dst = dst, .cmd = cmd};
	return h;
}

static void assert_frame(const uint8_t *got, size_t n, const char *want_hex)
{
	uint8_t want[GBT26875_MAX_FRAME];
	size_t wn = hex(want_hex, want, sizeof(want));

	assert_int_equal(n, wn);
	assert_memory_equal(got, want, wn);
}

static void fire_status(struct gbt26875_component_status *o)
{
	memset(o, 0, sizeof(*o));
	o->sys_type = 1;
	o->sys_addr = 1;
	o->comp_type = 40;
	o->comp_addr = 0x0002000A; /* 0A 00 02 00 */
	o->status = GBT26875_ST_FIRE;
	assert_int_equal(gbt26875_adu_desc("                              ", o->desc),
	                 GBT26875_OK);
	o->time = t_event;
}

static void test_golden_fire_build(void **state)
{
	struct gbt26875_header h = header(1, GW, CENTRE, GBT26875_CMD_SEND, &t_sent);
	struct gbt26875_component_status o;
	struct gbt26875_adu a;
	uint8_t out[GBT26875_MAX_FRAME];
	size_t n;

	fire_status(&o);
	assert_int_equal(gbt26875_adu_start(&a, GBT26875_T_COMPONENT_STATUS), GBT26875_OK);
	assert_int_equal(gbt26875_adu_add_status(&a, &o), GBT26875_OK);
	assert_int_equal(a.len, 48);
	assert_int_equal(gbt26875_frame_build(&h, a.buf, a.len, out, sizeof(out), &n), GBT26875_OK);
	assert_frame(out, n, golden_fire);
}

static void test_golden_fire_parse(void **state)
{
	uint8_t in[GBT26875_MAX_FRAME];
	size_t n = hex(golden_fire, in, sizeof(in)), used;
	struct gbt26875_frame f;
	struct gbt26875_component_status o;
	uint8_t type;
	size_t count;

	assert_int_equal(gbt26875_frame_parse(in, n, &f, &used), GBT26875_OK);
	assert_int_equal(used, 78);
	assert_int_equal(f.h.serial, 1);
	assert_int_equal(f.h.version, 1);
	assert_int_equal(f.h.user_version, 1);
	assert_memory_equal(&f.h.time, &t_sent, sizeof(t_sent));
	assert_int_equal(f.h.src, GW);
	assert_int_equal(f.h.dst, CENTRE);
	assert_int_equal(f.h.cmd, GBT26875_CMD_SEND);
	assert_int_equal(f.adu_len, 48);
	assert_int_equal(gbt26875_adu_check(f.adu, f.adu_len, &type, &count), GBT26875_OK);
	assert_int_equal(type, 2);
	assert_int_equal(count, 1);
	assert_int_equal(gbt26875_adu_get_status(f.adu, f.adu_len, 0, &o), GBT26875_OK);
	assert_int_equal(o.sys_type, 1);
	assert_int_equal(o.sys_addr, 1);
	assert_int_equal(o.comp_type, 40);
	assert_int_equal(o.comp_addr, 0x0002000A);
	assert_int_equal(o.status, 0x0002);
	assert_memory_equal(o.desc, "                              \0", 31);
	assert_memory_equal(&o.time, &t_event, sizeof(t_event));
	assert_int_equal(gbt26875_adu_get_status(f.adu, f.adu_len, 1, &o), GBT26875_BAD_ARG);
}

static void test_golden_answers(void **state)
{
	uint8_t in[GBT26875_MAX_FRAME], out[GBT26875_MAX_FRAME];
	size_t n = hex(golden_fire, in, sizeof(in)), used, on;
	struct gbt26875_frame f, a;

	assert_int_equal(gbt26875_frame_parse(in, n, &f, &used), GBT26875_OK);
	assert_int_equal(gbt26875_answer_build(&f.h, GBT26875_CMD_CONFIRM, &t_answer, out,
	                                       sizeof(out), &on), GBT26875_OK);
	assert_frame(out, on, golden_confirm);
	assert_int_equal(gbt26875_answer_build(&f.h, GBT26875_CMD_DENY, &t_answer, out,
	                                       sizeof(out), &on), GBT26875_OK);
	assert_frame(out, on, golden_deny);
	assert_int_equal(gbt26875_answer_build(&f.h, GBT26875_CMD_SEND, &t_answer, out,
	                                       sizeof(out), &on), GBT26875_BAD_COMMAND);
	/* Parsed back: the answer of serial 1, from the centre to the gateway. */
	n = hex(golden_confirm, in, sizeof(in));
	assert_int_equal(gbt26875_frame_parse(in, n, &a, &used), GBT26875_OK);
	assert_int_equal(used, 30);
	assert_int_equal(a.h.serial, 1);
	assert_int_equal(a.h.cmd, GBT26875_CMD_CONFIRM);
	assert_int_equal(a.h.src, CENTRE);
	assert_int_equal(a.h.dst, GW);
	assert_int_equal(a.adu_len, 0);
	n = hex(golden_deny, in, sizeof(in));
	assert_int_equal(gbt26875_frame_parse(in, n, &a, &used), GBT26875_OK);
	assert_int_equal(a.h.cmd, GBT26875_CMD_DENY);
}

static void test_golden_uitd(void **state)
{
	struct gbt26875_header h = header(1, GW, CENTRE, GBT26875_CMD_SEND, &t_sent);
	uint8_t out[GBT26875_MAX_FRAME];
	struct gbt26875_adu a;
	struct gbt26875_frame f;
	size_t n, used;

	assert_int_equal(gbt26875_adu_start(&a, GBT26875_T_UITD_STATUS), GBT26875_OK);
	assert_int_equal(gbt26875_adu_add_uitd(&a, GBT26875_UITD_MAIN_POWER, &t_event), GBT26875_OK);
	/* One UITD status per frame. */
	assert_int_equal(gbt26875_adu_add_uitd(&a, 0, &t_event), GBT26875_NO_ROOM);
	assert_int_equal(gbt26875_frame_build(&h, a.buf, a.len, out, sizeof(out), &n), GBT26875_OK);
	assert_frame(out, n, golden_uitd);
	assert_int_equal(gbt26875_frame_parse(out, n, &f, &used), GBT26875_OK);
	assert_int_equal(f.adu_len, 9);
	assert_int_equal(f.adu[0], 21);
	assert_int_equal(f.adu[2], 0x08);
}

static void test_golden_analog(void **state)
{
	const struct gbt26875_time t = {4, 0, 9, 2, 7, 21};
	struct gbt26875_analog o = {.sys_type = 1, .sys_addr = 2, .comp_type = 40,
	                            .comp_addr = 0x04030201, .analog_type = 3, .value = 800,
	                            .time = t};
	struct gbt26875_analog back;
	struct gbt26875_adu a;
	uint8_t want[32];
	size_t wn = hex(golden_analog_adu, want, sizeof(want));

	assert_int_equal(gbt26875_adu_start(&a, GBT26875_T_ANALOG), GBT26875_OK);
	assert_int_equal(gbt26875_adu_add_analog(&a, &o), GBT26875_OK);
	assert_int_equal(a.len, wn);
	assert_memory_equal(a.buf, want, wn);
	assert_int_equal(gbt26875_adu_get_analog(want, wn, 0, &back), GBT26875_OK);
	assert_int_equal(back.sys_type, 1);
	assert_int_equal(back.sys_addr, 2);
	assert_int_equal(back.comp_type, 40);
	assert_int_equal(back.comp_addr, 0x04030201);
	assert_int_equal(back.analog_type, 3);
	assert_int_equal(back.value, 800);
	assert_memory_equal(&back.time, &t, sizeof(t));
	/* Negative values are signed 16-bit. */
	o.value = -125;
	assert_int_equal(gbt26875_adu_add_analog(&a, &o), GBT26875_OK);
	assert_int_equal(gbt26875_adu_get_analog(a.buf, a.len, 1, &back), GBT26875_OK);
	assert_int_equal(back.value, -125);
	/* A status ADU is not an analog one. */
	assert_int_equal(gbt26875_adu_get_status(a.buf, a.len, 0, NULL), GBT26875_BAD_TYPE);
}

static void test_bad_frames(void **state)
{
	uint8_t in[GBT26875_MAX_FRAME + 8], b[GBT26875_MAX_FRAME + 8];
	size_t n = hex(golden_fire, in, sizeof(in)), used;
	struct gbt26875_frame f;

	/* A flipped byte in the ADU: the header is still there to deny. */
	memcpy(b, in, n);
	b[40] ^= 0x01;
	assert_int_equal(gbt26875_frame_parse(b, n, &f, &used), GBT26875_BAD_CHECKSUM);
	assert_int_equal(used, n);
	assert_int_equal(f.h.serial, 1);
	assert_int_equal(f.h.src, GW);
	/* No "##" where the length says: skipped to the next "@@" (none: all of it). */
	memcpy(b, in, n);
	b[n - 1] = 0x24;
	assert_int_equal(gbt26875_frame_parse(b, n, &f, &used), GBT26875_BAD_END);
	assert_int_equal(used, n);
	/* A length over 1024, known from the header alone. */
	memcpy(b, in, n);
	b[24] = 0x01;
	b[25] = 0x04; /* 1025 */
	assert_int_equal(gbt26875_frame_parse(b, 26, &f, &used), GBT26875_TOO_LONG);
	assert_int_equal(used, 26);
	/* Version 2 and a reserved command: sound frames with a reason to deny. */
	memcpy(b, in, n);
	b[4] = 2;
	b[n - 3] = (uint8_t)(b[n - 3] + 1);
	assert_int_equal(gbt26875_frame_parse(b, n, &f, &used), GBT26875_BAD_VERSION);
	assert_int_equal(used, n);
	memcpy(b, in, n);
	b[26] = 7;
	b[n - 3] = (uint8_t)(b[n - 3] + 5);
	assert_int_equal(gbt26875_frame_parse(b, n, &f, &used), GBT26875_BAD_COMMAND);
	assert_int_equal(f.h.cmd, 7);
	/* Not a start, and too short to tell. */
	assert_int_equal(gbt26875_frame_parse((const uint8_t *)"x@@", 3, &f, &used),
	                 GBT26875_BAD_START);
	assert_int_equal(used, 1);
	assert_int_equal(gbt26875_frame_parse((const uint8_t *)"@x", 2, &f, &used),
	                 GBT26875_BAD_START);
	assert_int_equal(used, 2);
	assert_int_equal(gbt26875_frame_parse((const uint8_t *)"x", 1, &f, &used),
	                 GBT26875_BAD_START);
	assert_int_equal(used, 1);
	assert_int_equal(gbt26875_frame_parse(in, 1, &f, &used), GBT26875_NEED_MORE);
	assert_int_equal(gbt26875_frame_parse(in, n - 1, &f, &used), GBT26875_NEED_MORE);
	assert_int_equal(used, 0);
}

static void test_build_bounds(void **state)
{
	struct gbt26875_header h = header(7, GW, CENTRE, GBT26875_CMD_SEND, &t_sent);
	static uint8_t adu[GBT26875_MAX_ADU + 1], out[GBT26875_MAX_FRAME + 1];
	struct gbt26875_frame f;
	size_t n, used;

	assert_int_equal(gbt26875_frame_build(&h, adu, GBT26875_MAX_ADU + 1, out, sizeof(out), &n),
	                 GBT26875_TOO_LONG);
	assert_int_equal(gbt26875_frame_build(&h, adu, 10, out, 39, &n), GBT26875_NO_ROOM);
	/* The biggest frame, and the heartbeat: an empty send-data frame. */
	memset(adu, 0xA5, sizeof(adu));
	assert_int_equal(gbt26875_frame_build(&h, adu, GBT26875_MAX_ADU, out, GBT26875_MAX_FRAME,
	                                      &n), GBT26875_OK);
	assert_int_equal(n, GBT26875_MAX_FRAME);
	assert_int_equal(gbt26875_frame_parse(out, n, &f, &used), GBT26875_OK);
	assert_memory_equal(f.adu, adu, GBT26875_MAX_ADU);
	assert_int_equal(gbt26875_frame_build(&h, NULL, 0, out, sizeof(out), &n), GBT26875_OK);
	assert_int_equal(n, 30);
	h.src = GBT26875_ADDR_MAX + 1;
	assert_int_equal(gbt26875_frame_build(&h, NULL, 0, out, sizeof(out), &n),
	                 GBT26875_BAD_ADDRESS);
	h.src = GBT26875_ADDR_MAX;
	h.time.mon = 13;
	assert_int_equal(gbt26875_frame_build(&h, NULL, 0, out, sizeof(out), &n), GBT26875_BAD_TIME);
	h.time = t_sent;
	h.cmd = 0;
	assert_int_equal(gbt26875_frame_build(&h, NULL, 0, out, sizeof(out), &n),
	                 GBT26875_BAD_COMMAND);
	h.cmd = 2;
	h.version = 0;
	assert_int_equal(gbt26875_frame_build(&h, NULL, 0, out, sizeof(out), &n),
	                 GBT26875_BAD_VERSION);
}

/* Feeds the whole of `in` in pieces of `step`, collecting frames and errors. */
static size_t drain(struct gbt26875_stream *s, const uint8_t *in, size_t n, size_t step,
                    uint16_t *serials, size_t max, size_t *errors)
{
	struct gbt26875_frame f;
	size_t off = 0, got = 0, k;
	enum gbt26875_err e;

	*errors = 0;
	while (off < n) {
		k = gbt26875_stream_feed(s, in + off, n - off < step ? n - off : step);
		off += k;
		while ((e = gbt26875_stream_next(s, &f)) != GBT26875_NEED_MORE) {
			if (e == GBT26875_OK) {
				assert_true(got < max);
				serials[got++] = f.h.serial;
			} else {
				(*errors)++;
				assert_true(s->detail[0] != '\0');
			}
		}
	}
	return got;
}

static void test_stream_split(void **state)
{
	uint8_t in[3 * GBT26875_MAX_FRAME];
	size_t n = hex(golden_fire, in, sizeof(in)), errors;
	uint16_t serials[8];
	struct gbt26875_stream s;

	/* Every split position, and byte by byte. */
	for (size_t step = 1; step <= n; step++) {
		gbt26875_stream_init(&s);
		assert_int_equal(drain(&s, in, n, step, serials, 8, &errors), 1);
		assert_int_equal(errors, 0);
		assert_int_equal(s.len, 0);
	}
}

static void test_stream_several_and_garbage(void **state)
{
	static uint8_t in[8 * GBT26875_MAX_FRAME];
	uint8_t one[GBT26875_MAX_FRAME];
	size_t n1 = hex(golden_fire, one, sizeof(one)), n = 0, errors;
	uint16_t serials[8];
	struct gbt26875_stream s;

	/* garbage (with a stray '@'), frame, bad-checksum frame, frame, "@@" with a length over
	 * 1024, frame, confirm */
	memcpy(in + n, "junk@ \x23\x23", 8);
	n += 8;
	memcpy(in + n, one, n1);
	n += n1;
	memcpy(in + n, one, n1);
	in[n + 2] = 2; /* serial 2, checksum now wrong */
	n += n1;
	memcpy(in + n, one, n1);
	in[n + 2] = 3;
	in[n + n1 - 3] = (uint8_t)(in[n + n1 - 3] + 2);
	n += n1;
	memcpy(in + n, "@@\x01\x00\x01\x01 :\x09\x1a\x09\x0c"
	               "\x79\x03\x00\x00\x00\x00\x38\x5b\x01\x00\x00\x00\xff\xff\x02", 27);
	n += 27;
	memcpy(in + n, one, n1);
	in[n + 2] = 4;
	in[n + n1 - 3] = (uint8_t)(in[n + n1 - 3] + 3);
	n += n1;
	n += hex(golden_confirm, in + n, sizeof(in) - n);

	gbt26875_stream_init(&s);
	assert_int_equal(drain(&s, in, n, n, serials, 8, &errors), 4);
	assert_int_equal(serials[0], 1);
	assert_int_equal(serials[1], 3);
	assert_int_equal(serials[2], 4);
	assert_int_equal(serials[3], 1);
	assert_int_equal(s.frames, 4);
	assert_true(s.errors[GBT26875_GARBAGE] >= 1);
	assert_int_equal(s.errors[GBT26875_BAD_CHECKSUM], 1);
	assert_int_equal(s.errors[GBT26875_TOO_LONG], 1);
	assert_true(errors >= 3);
	/* The same bytes in pieces of 7 and of 1000. */
	gbt26875_stream_init(&s);
	assert_int_equal(drain(&s, in, n, 7, serials, 8, &errors), 4);
	gbt26875_stream_init(&s);
	assert_int_equal(drain(&s, in, n, 1000, serials, 8, &errors), 4);
}

static void test_stream_flood(void **state)
{
	static uint8_t junk[10000];
	uint8_t one[GBT26875_MAX_FRAME];
	size_t n1 = hex(golden_fire, one, sizeof(one)), errors;
	uint16_t serials[2];
	struct gbt26875_stream s;

	/* Megabytes of '@' and noise never fill the buffer for good. */
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = i % 3 ? 0x40 : (uint8_t)i;
	gbt26875_stream_init(&s);
	for (int r = 0; r < 50; r++)
		assert_int_equal(drain(&s, junk, sizeof(junk), 4096, serials, 2, &errors), 0);
	assert_int_equal(drain(&s, one, n1, n1, serials, 2, &errors), 1);
}

static void test_desc(void **state)
{
	uint8_t d[GBT26875_DESC_LEN];
	static const uint8_t xiaofang[4] = {0xCF, 0xFB, 0xB7, 0xC0};

	assert_int_equal(gbt26875_adu_desc("消防", d), GBT26875_OK);
	assert_memory_equal(d, xiaofang, 4);
	for (int i = 4; i < GBT26875_DESC_LEN; i++)
		assert_int_equal(d[i], 0);
	/* 16 two-byte characters are 32 bytes: 15 are kept, the rest NUL. */
	assert_int_equal(gbt26875_adu_desc("消防消防消防消防消防消防消防消防", d), GBT26875_OK);
	assert_memory_equal(d + 28, xiaofang, 2);
	assert_int_equal(d[30], 0);
	/* "A" + 15 of them is exactly 31 bytes. */
	assert_int_equal(gbt26875_adu_desc("A消防消防消防消防消防消防消防消防", d), GBT26875_OK);
	assert_int_equal(d[0], 'A');
	assert_int_equal(d[29], 0xCF);
	assert_int_equal(d[30], 0xFB);
	/* A four-byte character (U+1F525) that would cross byte 31 is left out whole. */
	assert_int_equal(gbt26875_adu_desc("消防消防消防消防消防消防消防消\xF0\x9F\x94\xA5", d),
	                 GBT26875_OK);
	assert_memory_equal(d + 28, "\xCF\xFB\0", 3);
	assert_int_equal(gbt26875_adu_desc("ab\xF0\x9F\x94\xA5", d), GBT26875_OK);
	assert_memory_equal(d, "ab\x94\x39\xE6\x37\0", 7);
	/* Invalid UTF-8: what came before it, and an error. */
	assert_int_equal(gbt26875_adu_desc("1F\xFFx", d), GBT26875_BAD_TEXT);
	assert_memory_equal(d, "1F\0", 3);
	assert_int_equal(gbt26875_adu_desc("", d), GBT26875_OK);
	assert_int_equal(d[0], 0);
}

static void test_adu_limits(void **state)
{
	struct gbt26875_component_status o;
	struct gbt26875_analog an = {.time = t_event};
	struct gbt26875_operation op = {.flags = 1, .operator_id = 2, .time = t_event};
	struct gbt26875_system_status sys = {.sys_type = 1, .status = 3, .time = t_event};
	struct gbt26875_adu a;
	static uint8_t text[300];
	uint8_t type;
	size_t count;

	fire_status(&o);
	assert_int_equal(gbt26875_adu_start(&a, GBT26875_T_COMPONENT_STATUS), GBT26875_OK);
	for (int i = 0; i < 22; i++)
		assert_int_equal(gbt26875_adu_add_status(&a, &o), GBT26875_OK);
	assert_int_equal(gbt26875_adu_add_status(&a, &o), GBT26875_NO_ROOM);
	assert_int_equal(a.len, 2 + 22 * 46);
	assert_int_equal(gbt26875_adu_check(a.buf, a.len, &type, &count), GBT26875_OK);
	assert_int_equal(count, 22);
	assert_int_equal(gbt26875_adu_add_analog(&a, &an), GBT26875_BAD_TYPE);
	o.time.day = 31; /* September has 30 */
	assert_int_equal(gbt26875_adu_start(&a, GBT26875_T_COMPONENT_STATUS), GBT26875_OK);
	assert_int_equal(gbt26875_adu_add_status(&a, &o), GBT26875_BAD_TIME);
	assert_int_equal(gbt26875_adu_start(&a, GBT26875_T_ANALOG), GBT26875_OK);
	for (int i = 0; i < 63; i++)
		assert_int_equal(gbt26875_adu_add_analog(&a, &an), GBT26875_OK);
	assert_int_equal(gbt26875_adu_add_analog(&a, &an), GBT26875_NO_ROOM);
	assert_int_equal(gbt26875_adu_start(&a, GBT26875_T_UITD_OPERATIONS), GBT26875_OK);
	for (int i = 0; i < 127; i++)
		assert_int_equal(gbt26875_adu_add_operation(&a, &op), GBT26875_OK);
	assert_int_equal(gbt26875_adu_add_operation(&a, &op), GBT26875_NO_ROOM);
	assert_int_equal(gbt26875_adu_start(&a, GBT26875_T_SYSTEM_STATUS), GBT26875_OK);
	assert_int_equal(gbt26875_adu_add_system(&a, &sys), GBT26875_OK);
	assert_memory_equal(a.buf, "\x01\x01\x01\x00\x03\x00\x02\x3A\x09\x1A\x09\x0C", 12);
	assert_int_equal(gbt26875_adu_start(&a, 99), GBT26875_BAD_TYPE);
	/* Answers 25, 26, 28. */
	assert_int_equal(gbt26875_adu_version(&a, 1, 2), GBT26875_OK);
	assert_memory_equal(a.buf, "\x19\x01\x01\x02", 4);
	assert_int_equal(a.len, 4);
	assert_int_equal(gbt26875_adu_config(&a, "firegw", 6), GBT26875_OK);
	assert_memory_equal(a.buf, "\x1A\x01\x06" "firegw", 9);
	assert_int_equal(gbt26875_adu_check(a.buf, a.len, &type, &count), GBT26875_OK);
	assert_int_equal(gbt26875_adu_config(&a, text, 256), GBT26875_NO_ROOM);
	assert_int_equal(gbt26875_adu_config(&a, text, 255), GBT26875_OK);
	assert_int_equal(a.len, 258);
	assert_int_equal(gbt26875_adu_time(&a, &t_event), GBT26875_OK);
	assert_memory_equal(a.buf, "\x1C\x01\x02\x3A\x09\x1A\x09\x0C", 8);
	/* Checks of what comes back. */
	assert_int_equal(gbt26875_adu_check(a.buf, 7, &type, &count), GBT26875_BAD_LENGTH);
	assert_int_equal(gbt26875_adu_check((const uint8_t *)"\x02\x00", 2, &type, &count),
	                 GBT26875_BAD_LENGTH);
	assert_int_equal(gbt26875_adu_check((const uint8_t *)"\x3D\x01\x00", 3, &type, &count),
	                 GBT26875_BAD_TYPE);
	assert_int_equal(gbt26875_adu_check(a.buf, 1, &type, &count), GBT26875_BAD_LENGTH);
}

static void test_control(void **state)
{
	const struct gbt26875_time set = {0, 30, 8, 29, 2, 24};
	struct gbt26875_control c, back;
	struct gbt26875_adu a;
	static const uint8_t reads[] = {81, 85, 86, 88};

	/* Clock sync, with and without the reserved byte. */
	assert_int_equal(gbt26875_adu_control_decode(1, (const uint8_t *)"\x5A\x01\x00\x1E\x08\x1D\x02\x18",
	                                         8, &c), GBT26875_OK);
	assert_int_equal(c.type, 90);
	assert_memory_equal(&c.time, &set, sizeof(set));
	assert_int_equal(gbt26875_adu_control_decode(
	                     1, (const uint8_t *)"\x5A\x01\x00\x1E\x08\x1D\x02\x18\x00", 9, &c),
	                 GBT26875_OK);
	assert_int_equal(gbt26875_adu_control_decode(
	                     1, (const uint8_t *)"\x5A\x01\x00\x1E\x08\x1E\x02\x18", 8, &c),
	                 GBT26875_BAD_TIME); /* 30 February */
	assert_int_equal(gbt26875_adu_control_decode(1, (const uint8_t *)"\x5A\x01\x00\x1E", 4, &c),
	                 GBT26875_BAD_LENGTH);
	assert_int_equal(gbt26875_adu_control_decode(4, (const uint8_t *)"\x5A\x01\x00\x1E\x08\x1D\x02\x18",
	                                         8, &c), GBT26875_BAD_COMMAND);
	/* Roll call. */
	assert_int_equal(gbt26875_adu_control_decode(1, (const uint8_t *)"\x5B\x01\x05", 3, &c),
	                 GBT26875_OK);
	assert_int_equal(c.timeout_min, 5);
	assert_int_equal(gbt26875_adu_control_decode(1, (const uint8_t *)"\x5B\x01\x05\x00", 4, &c),
	                 GBT26875_OK);
	assert_int_equal(gbt26875_adu_control_decode(1, (const uint8_t *)"\x5B\x02\x05\x05", 4, &c),
	                 GBT26875_BAD_LENGTH);
	/* Reads. */
	for (size_t i = 0; i < sizeof(reads); i++) {
		uint8_t adu[3] = {reads[i], 1, 0};
		assert_int_equal(gbt26875_adu_control_decode(4, adu, 3, &c), GBT26875_OK);
		assert_int_equal(gbt26875_adu_control_decode(4, adu, 2, &c), GBT26875_OK);
		assert_int_equal(gbt26875_adu_control_decode(1, adu, 3, &c), GBT26875_BAD_COMMAND);
		back.type = reads[i];
		assert_int_equal(gbt26875_adu_control(&a, &back), GBT26875_OK);
		assert_memory_equal(a.buf, adu, 3);
	}
	assert_int_equal(gbt26875_adu_control_decode(4, (const uint8_t *)"\x54\x01\x0A\x00\x00\x08\x1D\x02\x18",
	                                         9, &c), GBT26875_OK);
	assert_int_equal(c.records, 10);
	assert_int_equal(c.time.day, 29);
	assert_int_equal(gbt26875_adu_control_decode(4, (const uint8_t *)"\x54\x01\x0A\0\0\0\0\0\0", 9,
	                                         &c), GBT26875_OK);
	assert_int_equal(gbt26875_adu_control_decode(4, (const uint8_t *)"\x54\x01\x00\0\0\0\0\0\0", 9,
	                                         &c), GBT26875_BAD_ARG);
	/* What firegw does not answer: denied. */
	assert_int_equal(gbt26875_adu_control_decode(4, (const uint8_t *)"\x3D\x01\x00", 3, &c),
	                 GBT26875_BAD_TYPE);
	assert_int_equal(gbt26875_adu_control_decode(4, (const uint8_t *)"\x51", 1, &c),
	                 GBT26875_BAD_LENGTH);
	/* Round trips. */
	c = (struct gbt26875_control){.type = 90, .time = set};
	assert_int_equal(gbt26875_adu_control(&a, &c), GBT26875_OK);
	assert_int_equal(gbt26875_adu_control_decode(1, a.buf, a.len, &back), GBT26875_OK);
	assert_memory_equal(&back, &c, sizeof(c));
	c = (struct gbt26875_control){.type = 91, .timeout_min = 3};
	assert_int_equal(gbt26875_adu_control(&a, &c), GBT26875_OK);
	assert_int_equal(gbt26875_adu_control_decode(1, a.buf, a.len, &back), GBT26875_OK);
	assert_memory_equal(&back, &c, sizeof(c));
}

static void test_time(void **state)
{
	struct gbt26875_time t = {0, 0, 0, 29, 2, 12};
	struct tm tm;

	assert_true(gbt26875_time_valid(&t));
	t.year = 13;
	assert_false(gbt26875_time_valid(&t));
	t.year = 0; /* 2000 is a leap year */
	assert_true(gbt26875_time_valid(&t));
	t.year = 100; /* 2100 is not */
	assert_false(gbt26875_time_valid(&t));
	gbt26875_time_to_tm(&t_sent, &tm);
	assert_int_equal(tm.tm_year, 112);
	assert_int_equal(tm.tm_mon, 8);
	assert_int_equal(gbt26875_time_from_tm(&tm, &t), GBT26875_OK);
	assert_memory_equal(&t, &t_sent, sizeof(t));
	tm.tm_year = 99;
	assert_int_equal(gbt26875_time_from_tm(&tm, &t), GBT26875_BAD_TIME);
	assert_int_equal(gbt26875_time_from_unix(1700000000, &t), GBT26875_OK);
	assert_int_equal(t.year, 23);
	assert_string_equal(gbt26875_err_name(GBT26875_BAD_CHECKSUM), "bad checksum");
	assert_string_equal(gbt26875_err_name(GBT26875_ERR_COUNT), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_golden_fire_build),
	    cmocka_unit_test(test_golden_fire_parse),
	    cmocka_unit_test(test_golden_answers),
	    cmocka_unit_test(test_golden_uitd),
	    cmocka_unit_test(test_golden_analog),
	    cmocka_unit_test(test_bad_frames),
	    cmocka_unit_test(test_build_bounds),
	    cmocka_unit_test(test_stream_split),
	    cmocka_unit_test(test_stream_several_and_garbage),
	    cmocka_unit_test(test_stream_flood),
	    cmocka_unit_test(test_desc),
	    cmocka_unit_test(test_adu_limits),
	    cmocka_unit_test(test_control),
	    cmocka_unit_test(test_time),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
