/* SPDX-License-Identifier: MIT */
/* gbt26875: GB/T 26875.3-2011 frames and stream reassembly, device side. Little-endian
 * throughout; the bounds are the standard's (1024-byte ADU). The ADUs are gbt26875_adu.c. */
#include "gbt26875.h"

#include <stdio.h>
#include <string.h>

static const char *const err_names[GBT26875_ERR_COUNT] = {
    [GBT26875_OK] = "ok",
    [GBT26875_NEED_MORE] = "incomplete frame",
    [GBT26875_GARBAGE] = "bytes before a frame start",
    [GBT26875_BAD_START] = "no frame start \"@@\"",
    [GBT26875_TOO_LONG] = "application data over 1024 bytes",
    [GBT26875_BAD_END] = "no frame end \"##\"",
    [GBT26875_BAD_CHECKSUM] = "bad checksum",
    [GBT26875_BAD_VERSION] = "protocol version not 1",
    [GBT26875_BAD_COMMAND] = "unknown command",
    [GBT26875_BAD_ADDRESS] = "address over 48 bits",
    [GBT26875_BAD_TIME] = "invalid time",
    [GBT26875_NO_ROOM] = "no room",
    [GBT26875_BAD_TYPE] = "unexpected data type",
    [GBT26875_BAD_LENGTH] = "data length does not match its type",
    [GBT26875_BAD_TEXT] = "invalid text",
    [GBT26875_BAD_ARG] = "value out of range",
};

const char *gbt26875_err_name(enum gbt26875_err e)
{
	return (unsigned)e < GBT26875_ERR_COUNT ? err_names[e] : "unknown";
}

/* ---- little-endian helpers ---- */

static void gbt26875_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void gbt26875_put48(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 6; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t gbt26875_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint64_t gbt26875_get48(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 5; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

void gbt26875_time_write(uint8_t *p, const struct gbt26875_time *t)
{
	p[0] = t->sec;
	p[1] = t->min;
	p[2] = t->hour;
	p[3] = t->day;
	p[4] = t->mon;
	p[5] = t->year;
}

void gbt26875_time_read(const uint8_t *p, struct gbt26875_time *t)
{
	t->sec = p[0];
	t->min = p[1];
	t->hour = p[2];
	t->day = p[3];
	t->mon = p[4];
	t->year = p[5];
}

/* ---- time ---- */

bool gbt26875_time_valid(const struct gbt26875_time *t)
{
	static const uint8_t mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	unsigned y = 2000u + t->year;

	if (t->sec > 59 || t->min > 59 || t->hour > 23 || t->mon < 1 || t->mon > 12 || t->day < 1)
		return false;
	if (t->day > mdays[t->mon - 1])
		return false;
	if (t->mon == 2 && t->day == 29)
		return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return true;
}

enum gbt26875_err gbt26875_time_from_tm(const struct tm *tm, struct gbt26875_time *t)
{
	long year = (long)tm->tm_year + 1900;

	if (year < 2000 || year > 2255)
		return GBT26875_BAD_TIME;
	t->sec = (uint8_t)(tm->tm_sec > 59 ? 59 : tm->tm_sec); /* a leap second reads as :59 */
	t->min = (uint8_t)tm->tm_min;
	t->hour = (uint8_t)tm->tm_hour;
	t->day = (uint8_t)tm->tm_mday;
	t->mon = (uint8_t)(tm->tm_mon + 1);
	t->year = (uint8_t)(year - 2000);
	return gbt26875_time_valid(t) ? GBT26875_OK : GBT26875_BAD_TIME;
}

void gbt26875_time_to_tm(const struct gbt26875_time *t, struct tm *tm)
{
	memset(tm, 0, sizeof(*tm));
	tm->tm_sec = t->sec;
	tm->tm_min = t->min;
	tm->tm_hour = t->hour;
	tm->tm_mday = t->day;
	tm->tm_mon = t->mon - 1;
	tm->tm_year = t->year + 100;
	tm->tm_isdst = -1;
}

enum gbt26875_err gbt26875_time_from_unix(time_t when, struct gbt26875_time *t)
{
	struct tm tm;

	if (!localtime_r(&when, &tm))
		return GBT26875_BAD_TIME;
	return gbt26875_time_from_tm(&tm, t);
}

/* ---- frames ---- */

uint8_t gbt26875_checksum(const uint8_t *p, size_t n)
{
	unsigned sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += p[i];
	return (uint8_t)sum;
}

static bool gbt26875_cmd_known(unsigned cmd)
{
	return cmd >= GBT26875_CMD_CONTROL && cmd <= GBT26875_CMD_DENY;
}

enum gbt26875_err gbt26875_frame_build(const struct gbt26875_header *h, const uint8_t *adu,
                                       size_t adu_len, uint8_t *out, size_t cap, size_t *len)
{
	size_t total = GBT26875_MIN_FRAME + adu_len;

	*len = 0;
	if (adu_len > GBT26875_MAX_ADU)
		return GBT26875_TOO_LONG;
	if (total > cap)
		return GBT26875_NO_ROOM;
	if (h->version != GBT26875_VERSION)
		return GBT26875_BAD_VERSION;
	if (h->cmd == 0 || (h->cmd > GBT26875_CMD_DENY && h->cmd < 128))
		return GBT26875_BAD_COMMAND;
	if (h->src > GBT26875_ADDR_MAX || h->dst > GBT26875_ADDR_MAX)
		return GBT26875_BAD_ADDRESS;
	if (!gbt26875_time_valid(&h->time))
		return GBT26875_BAD_TIME;
	out[0] = out[1] = 0x40;
	gbt26875_put16(out + 2, h->serial);
	out[4] = h->version;
	out[5] = h->user_version;
	gbt26875_time_write(out + 6, &h->time);
	gbt26875_put48(out + 12, h->src);
	gbt26875_put48(out + 18, h->dst);
	gbt26875_put16(out + 24, (uint16_t)adu_len);
	out[26] = h->cmd;
	if (adu_len)
		memcpy(out + GBT26875_HEADER_LEN, adu, adu_len);
	out[GBT26875_HEADER_LEN + adu_len] =
	    gbt26875_checksum(out + 2, GBT26875_HEADER_LEN - 2 + adu_len);
	out[GBT26875_HEADER_LEN + adu_len + 1] = 0x23;
	out[GBT26875_HEADER_LEN + adu_len + 2] = 0x23;
	*len = total;
	return GBT26875_OK;
}

enum gbt26875_err gbt26875_answer_build(const struct gbt26875_header *req, uint8_t cmd,
                                        const struct gbt26875_time *now, uint8_t *out,
                                        size_t cap, size_t *len)
{
	struct gbt26875_header h = {
	    .serial = req->serial,
	    .version = GBT26875_VERSION,
	    .user_version = req->user_version,
	    .time = *now,
	    .src = req->dst,
	    .dst = req->src,
	    .cmd = cmd,
	};

	*len = 0;
	if (cmd != GBT26875_CMD_CONFIRM && cmd != GBT26875_CMD_DENY)
		return GBT26875_BAD_COMMAND;
	return gbt26875_frame_build(&h, NULL, 0, out, cap, len);
}

/* Where the next frame could start after buf[0]: the next "@@", or a lone '@' at the end. */
static size_t gbt26875_resync(const uint8_t *buf, size_t len)
{
	for (size_t i = 1; i < len; i++)
		if (buf[i] == 0x40 && (i + 1 == len || buf[i + 1] == 0x40))
			return i;
	return len;
}

/* Whether a whole frame with a good checksum starts at buf. */
static bool gbt26875_whole_at(const uint8_t *buf, size_t len)
{
	size_t n;

	if (len < GBT26875_MIN_FRAME || buf[0] != 0x40 || buf[1] != 0x40)
		return false;
	n = gbt26875_get16(buf + 24);
	if (n > GBT26875_MAX_ADU || len < GBT26875_MIN_FRAME + n)
		return false;
	return buf[28 + n] == 0x23 && buf[29 + n] == 0x23 &&
	       gbt26875_checksum(buf + 2, GBT26875_HEADER_LEN - 2 + n) == buf[27 + n];
}

/* An incomplete frame at buf[0] that a whole good frame starts inside of was noise: "@@" in
 * garbage followed by a real frame must not hold that frame back until more bytes come.
 * Returns where that frame starts, 0 if none does. */
static size_t gbt26875_lookahead(const uint8_t *buf, size_t len)
{
	for (size_t i = 1; i + GBT26875_MIN_FRAME <= len; i++)
		if (buf[i] == 0x40 && gbt26875_whole_at(buf + i, len - i))
			return i;
	return 0;
}

enum gbt26875_err gbt26875_frame_parse(const uint8_t *buf, size_t len, struct gbt26875_frame *f,
                                       size_t *used)
{
	size_t n, total;
	const uint8_t *p;

	*used = 0;
	if (len == 0 || (len == 1 && buf[0] == 0x40))
		return GBT26875_NEED_MORE;
	if (buf[0] != 0x40 || len == 1 || buf[1] != 0x40) {
		*used = gbt26875_resync(buf, len); /* at least 1: buf[0] starts no frame */
		return GBT26875_BAD_START;
	}
	if (len < 26) {
		*used = gbt26875_lookahead(buf, len);
		return *used ? GBT26875_GARBAGE : GBT26875_NEED_MORE;
	}
	n = gbt26875_get16(buf + 24);
	if (n > GBT26875_MAX_ADU) {
		*used = gbt26875_resync(buf, len);
		return GBT26875_TOO_LONG;
	}
	total = GBT26875_MIN_FRAME + n;
	if (len < total) {
		*used = gbt26875_lookahead(buf, len);
		return *used ? GBT26875_GARBAGE : GBT26875_NEED_MORE;
	}
	p = buf + GBT26875_HEADER_LEN + n;
	if (p[1] != 0x23 || p[2] != 0x23) {
		*used = gbt26875_resync(buf, len);
		return GBT26875_BAD_END;
	}
	*used = total;
	f->h.serial = gbt26875_get16(buf + 2);
	f->h.version = buf[4];
	f->h.user_version = buf[5];
	gbt26875_time_read(buf + 6, &f->h.time);
	f->h.src = gbt26875_get48(buf + 12);
	f->h.dst = gbt26875_get48(buf + 18);
	f->h.cmd = buf[26];
	f->adu_len = n;
	if (n)
		memcpy(f->adu, buf + GBT26875_HEADER_LEN, n);
	if (gbt26875_checksum(buf + 2, GBT26875_HEADER_LEN - 2 + n) != p[0])
		return GBT26875_BAD_CHECKSUM;
	if (f->h.version != GBT26875_VERSION)
		return GBT26875_BAD_VERSION;
	if (!gbt26875_cmd_known(f->h.cmd))
		return GBT26875_BAD_COMMAND;
	return GBT26875_OK;
}

/* ---- stream reassembly ---- */

void gbt26875_stream_init(struct gbt26875_stream *s)
{
	memset(s, 0, sizeof(*s));
}

size_t gbt26875_stream_feed(struct gbt26875_stream *s, const void *data, size_t n)
{
	size_t room = sizeof(s->buf) - s->len;

	if (n > room)
		n = room;
	if (n)
		memcpy(s->buf + s->len, data, n);
	s->len += n;
	return n;
}

enum gbt26875_err gbt26875_stream_next(struct gbt26875_stream *s, struct gbt26875_frame *f)
{
	size_t used = 0;
	enum gbt26875_err e = gbt26875_frame_parse(s->buf, s->len, f, &used);

	if (used > s->len) /* cannot happen; keeps the memmove below provably in bounds */
		used = s->len;
	if (used) {
		memmove(s->buf, s->buf + used, s->len - used);
		s->len -= used;
	}
	switch (e) {
	case GBT26875_OK:
		s->frames++;
		return e;
	case GBT26875_NEED_MORE:
		return e;
	case GBT26875_BAD_START:
	case GBT26875_GARBAGE:
		e = GBT26875_GARBAGE;
		snprintf(s->detail, sizeof(s->detail), "%zu bytes before a frame start skipped", used);
		break;
	case GBT26875_TOO_LONG:
	case GBT26875_BAD_END:
		snprintf(s->detail, sizeof(s->detail), "%s: %zu bytes skipped to the next \"@@\"",
		         gbt26875_err_name(e), used);
		break;
	default:
		snprintf(s->detail, sizeof(s->detail), "frame serial %u, command %u: %s",
		         (unsigned)f->h.serial, (unsigned)f->h.cmd, gbt26875_err_name(e));
		break;
	}
	s->skipped_bytes += used;
	s->errors[e]++;
	return e;
}
