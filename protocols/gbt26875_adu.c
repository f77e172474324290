/* SPDX-License-Identifier: MIT */
/* gbt26875_adu: the application data units of GB/T 26875.3: the objects firegw sends (system
 * and component status, analog values, UITD status, operation records, version, configuration,
 * time), the GB 18030 description, and the centre's control and read frames decoded. */
#include "gbt26875_adu.h"

#include <errno.h>
#include <iconv.h>
#include <string.h>

static void gbt26875_adu_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void gbt26875_adu_put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t gbt26875_adu_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t gbt26875_adu_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

size_t gbt26875_adu_object_size(uint8_t type)
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

size_t gbt26875_adu_object_max(uint8_t type)
{
	size_t size = gbt26875_adu_object_size(type);

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
	if (!gbt26875_adu_object_max(type))
		return GBT26875_BAD_TYPE;
	a->buf[0] = type;
	a->buf[1] = 0;
	a->len = 2;
	return GBT26875_OK;
}

/* Room for one more object of `type`: returns where to write it, NULL with *e set if none. */
static uint8_t *gbt26875_adu_slot(struct gbt26875_adu *a, uint8_t type, enum gbt26875_err *e)
{
	size_t size = gbt26875_adu_object_size(type);
	uint8_t *slot;

	if (a->len < 2 || a->buf[0] != type) {
		*e = GBT26875_BAD_TYPE;
		return NULL;
	}
	if (a->buf[1] >= gbt26875_adu_object_max(type) || a->len + size > GBT26875_MAX_ADU) {
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
	gbt26875_adu_put16(p + 2, o->status);
	gbt26875_time_write(p + 4, &o->time);
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
	gbt26875_adu_put32(p + 3, o->comp_addr);
	gbt26875_adu_put16(p + 7, o->status);
	memcpy(p + 9, o->desc, GBT26875_DESC_LEN);
	gbt26875_time_write(p + 40, &o->time);
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
	gbt26875_adu_put32(p + 3, o->comp_addr);
	p[7] = o->analog_type;
	gbt26875_adu_put16(p + 8, (uint16_t)o->value);
	gbt26875_time_write(p + 10, &o->time);
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
	gbt26875_time_write(p + 1, t);
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
	gbt26875_time_write(p + 2, &o->time);
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
	gbt26875_time_write(p, t);
	return GBT26875_OK;
}

/* Bytes of the GB 18030 character starting at p (1, 2 or 4), 0 if p..end is not one. */
static size_t gbt26875_adu_gb_char(const uint8_t *p, const uint8_t *end)
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

enum gbt26875_err gbt26875_adu_desc(const char *utf8, uint8_t out[GBT26875_DESC_LEN])
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
	while (tmp + n < (uint8_t *)o && (k = gbt26875_adu_gb_char(tmp + n, (uint8_t *)o)))
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
	max = gbt26875_adu_object_max(adu[0]);
	if (!max)
		return GBT26875_BAD_TYPE;
	if (*count == 0 || *count > max)
		return GBT26875_BAD_LENGTH;
	if (adu[0] == GBT26875_T_UITD_CONFIG)
		return len >= 3 && len == 3u + adu[2] ? GBT26875_OK : GBT26875_BAD_LENGTH;
	size = gbt26875_adu_object_size(adu[0]);
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
	return adu + 2 + i * gbt26875_adu_object_size(type);
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
	o->comp_addr = gbt26875_adu_get32(p + 3);
	o->status = gbt26875_adu_get16(p + 7);
	memcpy(o->desc, p + 9, GBT26875_DESC_LEN);
	gbt26875_time_read(p + 40, &o->time);
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
	o->comp_addr = gbt26875_adu_get32(p + 3);
	o->analog_type = p[7];
	o->value = (int16_t)gbt26875_adu_get16(p + 8);
	gbt26875_time_read(p + 10, &o->time);
	return gbt26875_time_valid(&o->time) ? GBT26875_OK : GBT26875_BAD_TIME;
}

/* ---- control and read frames from the centre ---- */

enum gbt26875_err gbt26875_adu_control_decode(uint8_t cmd, const uint8_t *adu, size_t len,
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
		gbt26875_time_read(adu + 3, &c->time);
		/* All zero: from the first record kept. */
		if (memcmp(&c->time, &zero, sizeof(zero)) && !gbt26875_time_valid(&c->time))
			return GBT26875_BAD_TIME;
		return c->records ? GBT26875_OK : GBT26875_BAD_ARG;
	case GBT26875_T_CLOCK_SYNC:
		/* A reserved byte after the time, or none: public frames disagree. */
		if (body != 6 && body != 7)
			return GBT26875_BAD_LENGTH;
		gbt26875_time_read(adu + 2, &c->time);
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
		gbt26875_time_write(a->buf + 3, &c->time);
		a->len = 9;
		return GBT26875_OK;
	case GBT26875_T_CLOCK_SYNC:
		if (!gbt26875_time_valid(&c->time))
			return GBT26875_BAD_TIME;
		gbt26875_time_write(a->buf + 2, &c->time);
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
