/* SPDX-License-Identifier: MIT */
/* fuzz_gbt26875: libFuzzer target for the GB/T 26875.3 frame parser and stream reassembler. An
 * input is what a monitoring centre's TCP connection delivers; its first byte picks the sizes
 * of the reads it arrives in. Every frame taken out must rebuild to the very same bytes, its
 * application data unit is decoded as a control/read frame and as the objects firegw sends,
 * and every byte is either in a frame or skipped with a reason; nothing may crash, leak or
 * read out of bounds. The input is also cut into a GB 18030 description.
 *
 *   build-fuzz/tests/fuzz-gbt26875 -max_len=8192 tests/fuzz/corpus/gbt26875 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gbt26875.h"
#include "gbt26875_adu.h"
#include "gbt26875_link.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct gbt26875_time fuzz_now = {0, 0, 12, 1, 6, 26};

static uint8_t fuzz_status(void *ctx)
{
	return GBT26875_UITD_NORMAL;
}

static size_t fuzz_operations(void *ctx, const struct gbt26875_time *from, size_t max,
                              struct gbt26875_operation *out)
{
	for (size_t i = 0; i < max; i++)
		out[i] = (struct gbt26875_operation){.flags = 1, .time = fuzz_now};
	return max;
}

static const struct gbt26875_link_ops fuzz_ops = {.uitd_status = fuzz_status,
                                                  .operations = fuzz_operations};

/* The link's answer to a frame (or a bad frame's header) must itself be a good frame. */
static void fuzz_link(struct gbt26875_link *l, const struct gbt26875_frame *f,
                      enum gbt26875_err e, int64_t now)
{
	static struct gbt26875_link_event ev;
	static struct gbt26875_frame back;
	size_t used;

	(void)gbt26875_link_input(l, f, e, now, &fuzz_now, &ev);
	if (ev.reply_len && (gbt26875_frame_parse(ev.reply, ev.reply_len, &back, &used) !=
	                         GBT26875_OK || used != ev.reply_len))
		abort();
}

static void fuzz_frame(const struct gbt26875_frame *f)
{
	uint8_t out[GBT26875_MAX_FRAME];
	struct gbt26875_component_status st;
	struct gbt26875_analog an;
	struct gbt26875_control c;
	struct gbt26875_adu a;
	uint8_t type;
	size_t n, count;

	if (gbt26875_frame_build(&f->h, f->adu, f->adu_len, out, sizeof(out), &n) == GBT26875_OK) {
		struct gbt26875_frame back;
		size_t used;
		if (gbt26875_frame_parse(out, n, &back, &used) != GBT26875_OK || used != n ||
		    back.adu_len != f->adu_len || memcmp(back.adu, f->adu, f->adu_len))
			abort(); /* a frame firegw builds parses back to itself */
	}
	if (gbt26875_adu_control_decode(f->h.cmd, f->adu, f->adu_len, &c) == GBT26875_OK) {
		if (gbt26875_adu_control(&a, &c) != GBT26875_OK)
			abort(); /* what decodes can be built again */
	}
	if (gbt26875_adu_check(f->adu, f->adu_len, &type, &count) == GBT26875_OK) {
		if (count == 0 || 2 + count > f->adu_len)
			abort();
		for (size_t i = 0; i <= count; i++) {
			(void)gbt26875_adu_get_status(f->adu, f->adu_len, i, &st);
			(void)gbt26875_adu_get_analog(f->adu, f->adu_len, i, &an);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct gbt26875_stream s;
	static struct gbt26875_frame f;
	static struct gbt26875_link link;
	static const struct gbt26875_link_conf lconf = {.src = 0x379, .dst = 0x15B38,
	                                                .user_version = 1, .heartbeat_ms = 30000};
	const uint8_t *out;
	size_t out_len;
	int64_t now = 0;
	uint8_t desc[GBT26875_DESC_LEN];
	char text[64];
	size_t step, off = 0, used = 0, frames = 0;
	enum gbt26875_err e;

	if (size < 1)
		return 0;
	step = (size_t)data[0] * 13 + 1; /* reads of 1 .. 3316 bytes */
	data++;
	size--;

	/* One frame at the start of the buffer. */
	e = gbt26875_frame_parse(data, size, &f, &used);
	if (used > size || (e == GBT26875_NEED_MORE && used) || (e != GBT26875_NEED_MORE && !used))
		abort(); /* NEED_MORE takes nothing; anything else takes something */
	if (e == GBT26875_OK)
		fuzz_frame(&f);

	/* The same bytes as a stream. */
	gbt26875_stream_init(&s);
	gbt26875_link_init(&link, &lconf, &fuzz_ops);
	gbt26875_link_open(&link, 0);
	if (gbt26875_link_send(&link, NULL, 0, &fuzz_now, 0, &out, &out_len) != GBT26875_OK)
		abort();
	while (off < size) {
		size_t k = gbt26875_stream_feed(&s, data + off, size - off < step ? size - off : step);
		off += k;
		while ((e = gbt26875_stream_next(&s, &f)) != GBT26875_NEED_MORE) {
			if (e == GBT26875_OK) {
				frames++;
				fuzz_frame(&f);
			} else if (!s.detail[0] || e >= GBT26875_ERR_COUNT) {
				abort(); /* every skip has a reason */
			}
			if (e == GBT26875_OK || e == GBT26875_BAD_CHECKSUM ||
			    e == GBT26875_BAD_VERSION || e == GBT26875_BAD_COMMAND)
				fuzz_link(&link, &f, e, now += 4000);
			if (gbt26875_link_tick(&link, now, &fuzz_now, &out, &out_len) !=
			        GBT26875_DUE_NOTHING && !out && link.state != GBT26875_LINK_CLOSED)
				abort();
		}
		if (k == 0 && s.len == sizeof(s.buf))
			abort(); /* the buffer full with nothing to take: no progress */
	}
	if (frames != s.frames || s.len > GBT26875_MAX_FRAME)
		abort();

	/* The input as a location text. */
	{
		size_t n = size < sizeof(text) - 1 ? size : sizeof(text) - 1;
		memcpy(text, data, n);
		text[n] = '\0';
		(void)gbt26875_adu_desc(text, desc);
	}
	return 0;
}
