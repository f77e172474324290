/* gbt26875: GB/T 26875.3-2011 frames, stream reassembly and application data units, device
 * side. Little-endian throughout; the bounds are the standard's (1024-byte ADU). */
#include "gbt26875.h"

#include <errno.h>
#include <iconv.h>
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

static void gbt26875_put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
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

static uint32_t gbt26875_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t gbt26875_get48(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 5; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void gbt26875_put_time(uint8_t *p, const struct gbt26875_time *t)
{
	p[0] = t->sec;
	p[1] = t->min;
	p[2] = t->hour;
	p[3] = t->day;
	p[4] = t->mon;
	p[5] = t->year;
}

static void gbt26875_get_time(const uint8_t *p, struct gbt26875_time *t)
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
	gbt26875_put_time(out + 6, &h->time);
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
	gbt26875_get_time(buf + 6, &f->h.time);
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

/* ---- application data units ---- */

size_t gbt26875_object_size(uint8_t type)
{
	switch (type) {
	case GBT26875_T_SYSTEM_STATUS: return 10;
	case GBT26875_T_COMPONENT_STATUS: return 46;
	case GBT26875_T_ANALOG: return 16;
	case GBT26875_T_UITD_STATUS: return 7;
	case GBT26875_T_UITD_OPERATIONS: return 8;
	case GBT26875_T_UITD_VERSION: return 2;
	case GBT26875_T_UITD_TIME: return 6;
	default: return 0;
	}
}

size_t gbt26875_object_max(uint8_t type)
{
	size_t size = gbt26875_object_size(type);

	switch (type) {
	case GBT26875_T_UITD_STATUS:
	case GBT26875_T_UITD_VERSION:
	case GBT26875_T_UITD_CONFIG:
	case GBT26875_T_UITD_TIME:
		return 1;
	default:
		break;
	}
	if (!size)
		return 0;
	size = (GBT26875_MAX_ADU - 2) / size;
	return size > 255 ? 255 : size;
}

enum gbt26875_err gbt26875_adu_start(struct gbt26875_adu *a, uint8_t type)
{
	a->len = 0;
	if (!gbt26875_object_max(type))
		return GBT26875_BAD_TYPE;
	a->buf[0] = type;
	a->buf[1] = 0;
	a->len = 2;
	return GBT26875_OK;
}

/* Room for one more object of `type`: returns where to write it, NULL with *e set if none. */
static uint8_t *gbt26875_adu_slot(struct gbt26875_adu *a, uint8_t type, enum gbt26875_err *e)
{
	size_t size = gbt26875_object_size(type);
	uint8_t *slot;

	if (a->len < 2 || a->buf[0] != type) {
		*e = GBT26875_BAD_TYPE;
		return NULL;
	}
	if (a->buf[1] >= gbt26875_object_max(type) || a->len + size > GBT26875_MAX_ADU) {
		*e = GBT26875_NO_ROOM;
		return NULL;
	}
	slot = a->buf + a->len;
	a->len += size;
	a->buf[1]++;
	*e = GBT26875_OK;
	return slot;
}

enum gbt26875_err gbt26875_adu_add_system(struct gbt26875_adu *a,
                                          const struct gbt26875_system_status *o)
{
	enum gbt26875_err e;
	uint8_t *p;

	if (!gbt26875_time_valid(&o->time))
		return GBT26875_BAD_TIME;
	if (!(p = gbt26875_adu_slot(a, GBT26875_T_SYSTEM_STATUS, &e)))
		return e;
	p[0] = o->sys_type;
	p[1] = o->sys_addr;
	gbt26875_put16(p + 2, o->status);
	gbt26875_put_time(p + 4, &o->time);
	return GBT26875_OK;
}

enum gbt26875_err gbt26875_adu_add_status(struct gbt26875_adu *a,
                                          const struct gbt26875_component_status *o)
{
	enum gbt26875_err e;
	uint8_t *p;

	if (!gbt26875_time_valid(&o->time))
		return GBT26875_BAD_TIME;
	if (!(p = gbt26875_adu_slot(a, GBT26875_T_COMPONENT_STATUS, &e)))
		return e;
	p[0] = o->sys_type;
	p[1] = o->sys_addr;
	p[2] = o->comp_type;
	gbt26875_put32(p + 3, o->comp_addr);
	gbt26875_put16(p + 7, o->status);
	memcpy(p + 9, o->desc, GBT26875_DESC_LEN);
	gbt26875_put_time(p + 40, &o->time);
	return GBT26875_OK;
}

enum gbt26875_err gbt26875_adu_add_analog(struct gbt26875_adu *a, const struct gbt26875_analog *o)
{
	enum gbt26875_err e;
	uint8_t *p;

	if (!gbt26875_time_valid(&o->time))
		return GBT26875_BAD_TIME;
	if (!(p = gbt26875_adu_slot(a, GBT26875_T_ANALOG, &e)))
		return e;
	p[0] = o->sys_type;
	p[1] = o->sys_addr;
	p[2] = o->comp_type;
	gbt26875_put32(p + 3, o->comp_addr);
	p[7] = o->analog_type;
	gbt26875_put16(p + 8, (uint16_t)o->value);
	gbt26875_put_time(p + 10, &o->time);
	return GBT26875_OK;
}

enum gbt26875_err gbt26875_adu_add_uitd(struct gbt26875_adu *a, uint8_t status,
                                        const struct gbt26875_time *t)
{
	enum gbt26875_err e;
	uint8_t *p;

	if (!gbt26875_time_valid(t))
		return GBT26875_BAD_TIME;
	if (!(p = gbt26875_adu_slot(a, GBT26875_T_UITD_STATUS, &e)))
		return e;
	p[0] = status;
	gbt26875_put_time(p + 1, t);
	return GBT26875_OK;
}

enum gbt26875_err gbt26875_adu_add_operation(struct gbt26875_adu *a,
                                             const struct gbt26875_operation *o)
{
	enum gbt26875_err e;
	uint8_t *p;

	if (!gbt26875_time_valid(&o->time))
		return GBT26875_BAD_TIME;
	if (!(p = gbt26875_adu_slot(a, GBT26875_T_UITD_OPERATIONS, &e)))
		return e;
	p[0] = o->flags;
	p[1] = o->operator_id;
	gbt26875_put_time(p + 2, &o->time);
	return GBT26875_OK;
}

enum gbt26875_err gbt26875_adu_version(struct gbt26875_adu *a, uint8_t major, uint8_t minor)
{
	enum gbt26875_err e;
	uint8_t *p;

	gbt26875_adu_start(a, GBT26875_T_UITD_VERSION);
	if (!(p = gbt26875_adu_slot(a, GBT26875_T_UITD_VERSION, &e)))
		return e;
	p[0] = major;
	p[1] = minor;
	return GBT26875_OK;
}

enum gbt26875_err gbt26875_adu_config(struct gbt26875_adu *a, const void *text, size_t n)
{
	gbt26875_adu_start(a, GBT26875_T_UITD_CONFIG);
	if (n > GBT26875_CONFIG_MAX)
		return GBT26875_NO_ROOM;
	a->buf[1] = 1;
	a->buf[2] = (uint8_t)n;
	if (n)
		memcpy(a->buf + 3, text, n);
	a->len = 3 + n;
	return GBT26875_OK;
}

enum gbt26875_err gbt26875_adu_time(struct gbt26875_adu *a, const struct gbt26875_time *t)
{
	enum gbt26875_err e;
	uint8_t *p;

	if (!gbt26875_time_valid(t))
		return GBT26875_BAD_TIME;
	gbt26875_adu_start(a, GBT26875_T_UITD_TIME);
	if (!(p = gbt26875_adu_slot(a, GBT26875_T_UITD_TIME, &e)))
		return e;
	gbt26875_put_time(p, t);
	return GBT26875_OK;
}

/* Bytes of the GB 18030 character starting at p (1, 2 or 4), 0 if p..end is not one. */
static size_t gbt26875_gb_char(const uint8_t *p, const uint8_t *end)
{
	if (p >= end)
		return 0;
	if (p[0] < 0x80)
		return 1;
	if (p[0] == 0x80 || p[0] == 0xFF || end - p < 2)
		return 0;
	if (p[1] >= 0x30 && p[1] <= 0x39)
		return end - p >= 4 ? 4 : 0;
	return 2;
}

enum gbt26875_err gbt26875_desc_encode(const char *utf8, uint8_t out[GBT26875_DESC_LEN])
{
	uint8_t tmp[GBT26875_DESC_LEN];
	char *in = (char *)utf8, *o = (char *)tmp;
	size_t inleft = strlen(utf8), outleft = sizeof(tmp), n = 0, k;
	enum gbt26875_err e = GBT26875_OK;
	iconv_t cd = iconv_open("GB18030", "UTF-8");

	memset(out, 0, GBT26875_DESC_LEN);
	if (cd == (iconv_t)-1) {
		/* No converter installed: the ASCII prefix is still right in GB 18030. */
		for (n = 0; n < GBT26875_DESC_LEN && utf8[n] && (unsigned char)utf8[n] < 0x80; n++)
			out[n] = (uint8_t)utf8[n];
		return utf8[n] && n < GBT26875_DESC_LEN ? GBT26875_BAD_TEXT : GBT26875_OK;
	}
	/* iconv writes whole characters only: a full buffer (E2BIG) is the cut. */
	if (iconv(cd, &in, &inleft, &o, &outleft) == (size_t)-1 && errno != E2BIG)
		e = GBT26875_BAD_TEXT;
	iconv_close(cd);
	/* Keep only whole characters, whatever the converter did. */
	while (tmp + n < (uint8_t *)o && (k = gbt26875_gb_char(tmp + n, (uint8_t *)o)))
		n += k;
	memcpy(out, tmp, n);
	return e;
}

enum gbt26875_err gbt26875_adu_check(const uint8_t *adu, size_t len, uint8_t *type,
                                     size_t *count)
{
	size_t size, max;

	*type = 0;
	*count = 0;
	if (len < 2 || len > GBT26875_MAX_ADU)
		return GBT26875_BAD_LENGTH;
	*type = adu[0];
	*count = adu[1];
	max = gbt26875_object_max(adu[0]);
	if (!max)
		return GBT26875_BAD_TYPE;
	if (*count == 0 || *count > max)
		return GBT26875_BAD_LENGTH;
	if (adu[0] == GBT26875_T_UITD_CONFIG)
		return len >= 3 && len == 3u + adu[2] ? GBT26875_OK : GBT26875_BAD_LENGTH;
	size = gbt26875_object_size(adu[0]);
	return len == 2 + *count * size ? GBT26875_OK : GBT26875_BAD_LENGTH;
}

static const uint8_t *gbt26875_adu_object(const uint8_t *adu, size_t len, uint8_t want,
                                          size_t i, enum gbt26875_err *e)
{
	uint8_t type;
	size_t count;

	*e = gbt26875_adu_check(adu, len, &type, &count);
	if (*e != GBT26875_OK)
		return NULL;
	if (type != want || i >= count) {
		*e = type != want ? GBT26875_BAD_TYPE : GBT26875_BAD_ARG;
		return NULL;
	}
	return adu + 2 + i * gbt26875_object_size(type);
}

enum gbt26875_err gbt26875_adu_get_status(const uint8_t *adu, size_t len, size_t i,
                                          struct gbt26875_component_status *o)
{
	enum gbt26875_err e;
	const uint8_t *p = gbt26875_adu_object(adu, len, GBT26875_T_COMPONENT_STATUS, i, &e);

	if (!p)
		return e;
	o->sys_type = p[0];
	o->sys_addr = p[1];
	o->comp_type = p[2];
	o->comp_addr = gbt26875_get32(p + 3);
	o->status = gbt26875_get16(p + 7);
	memcpy(o->desc, p + 9, GBT26875_DESC_LEN);
	gbt26875_get_time(p + 40, &o->time);
	return gbt26875_time_valid(&o->time) ? GBT26875_OK : GBT26875_BAD_TIME;
}

enum gbt26875_err gbt26875_adu_get_analog(const uint8_t *adu, size_t len, size_t i,
                                          struct gbt26875_analog *o)
{
	enum gbt26875_err e;
	const uint8_t *p = gbt26875_adu_object(adu, len, GBT26875_T_ANALOG, i, &e);

	if (!p)
		return e;
	o->sys_type = p[0];
	o->sys_addr = p[1];
	o->comp_type = p[2];
	o->comp_addr = gbt26875_get32(p + 3);
	o->analog_type = p[7];
	o->value = (int16_t)gbt26875_get16(p + 8);
	gbt26875_get_time(p + 10, &o->time);
	return gbt26875_time_valid(&o->time) ? GBT26875_OK : GBT26875_BAD_TIME;
}

/* ---- control and read frames from the centre ---- */

enum gbt26875_err gbt26875_control_decode(uint8_t cmd, const uint8_t *adu, size_t len,
                                          struct gbt26875_control *c)
{
	static const struct gbt26875_time zero;
	size_t body;

	memset(c, 0, sizeof(*c));
	if (len < 2)
		return GBT26875_BAD_LENGTH;
	c->type = adu[0];
	body = len - 2;
	switch (c->type) {
	case GBT26875_T_READ_UITD_STATUS:
	case GBT26875_T_READ_UITD_OPERATIONS:
	case GBT26875_T_READ_UITD_VERSION:
	case GBT26875_T_READ_UITD_CONFIG:
	case GBT26875_T_READ_UITD_TIME:
		if (cmd != GBT26875_CMD_REQUEST)
			return GBT26875_BAD_COMMAND;
		break;
	case GBT26875_T_INIT_UITD:
	case GBT26875_T_CLOCK_SYNC:
	case GBT26875_T_ROLL_CALL:
		if (cmd != GBT26875_CMD_CONTROL)
			return GBT26875_BAD_COMMAND;
		break;
	default:
		return GBT26875_BAD_TYPE;
	}
	if (adu[1] != 1)
		return GBT26875_BAD_LENGTH;
	switch (c->type) {
	case GBT26875_T_READ_UITD_OPERATIONS:
		if (body != 7)
			return GBT26875_BAD_LENGTH;
		c->records = adu[2];
		gbt26875_get_time(adu + 3, &c->time);
		/* All zero: from the first record kept. */
		if (memcmp(&c->time, &zero, sizeof(zero)) && !gbt26875_time_valid(&c->time))
			return GBT26875_BAD_TIME;
		return c->records ? GBT26875_OK : GBT26875_BAD_ARG;
	case GBT26875_T_CLOCK_SYNC:
		/* A reserved byte after the time, or none: public frames disagree. */
		if (body != 6 && body != 7)
			return GBT26875_BAD_LENGTH;
		gbt26875_get_time(adu + 2, &c->time);
		return gbt26875_time_valid(&c->time) ? GBT26875_OK : GBT26875_BAD_TIME;
	case GBT26875_T_ROLL_CALL:
		if (body != 1 && body != 2)
			return GBT26875_BAD_LENGTH;
		c->timeout_min = adu[2];
		return GBT26875_OK;
	default:
		/* The reads and initialise: one reserved byte (or none). */
		return body <= 1 ? GBT26875_OK : GBT26875_BAD_LENGTH;
	}
}

enum gbt26875_err gbt26875_adu_control(struct gbt26875_adu *a, const struct gbt26875_control *c)
{
	a->buf[0] = c->type;
	a->buf[1] = 1;
	a->len = 0;
	switch (c->type) {
	case GBT26875_T_READ_UITD_OPERATIONS:
		a->buf[2] = c->records;
		gbt26875_put_time(a->buf + 3, &c->time);
		a->len = 9;
		return GBT26875_OK;
	case GBT26875_T_CLOCK_SYNC:
		if (!gbt26875_time_valid(&c->time))
			return GBT26875_BAD_TIME;
		gbt26875_put_time(a->buf + 2, &c->time);
		a->len = 8;
		return GBT26875_OK;
	case GBT26875_T_ROLL_CALL:
		a->buf[2] = c->timeout_min;
		a->len = 3;
		return GBT26875_OK;
	case GBT26875_T_READ_UITD_STATUS:
	case GBT26875_T_READ_UITD_VERSION:
	case GBT26875_T_READ_UITD_CONFIG:
	case GBT26875_T_READ_UITD_TIME:
	case GBT26875_T_INIT_UITD:
		a->buf[2] = 0;
		a->len = 3;
		return GBT26875_OK;
	default:
		return GBT26875_BAD_TYPE;
	}
}
