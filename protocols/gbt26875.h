/* SPDX-License-Identifier: MIT */
/* gbt26875: the frame codec of GB/T 26875.3-2011 on the device side (docs/gbt26875.md). Pure
 * functions: build a frame (header, application data unit, checksum, start and end), parse one,
 * reassemble frames from a TCP byte stream (split frames, several per read, garbage, bad frames
 * skipped with a reason); the codes, times and errors the protocol shares. The application data
 * units are gbt26875_adu.h, the exchanges gbt26875_link.h. No I/O, no event loop, no ledger:
 * the transport (daemon side) and the unit tests and fuzzer call these directly. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define GBT26875_HEADER_LEN  27   /* "@@" .. command byte */
#define GBT26875_TRAILER_LEN 3    /* checksum, "##" */
#define GBT26875_MAX_ADU     1024 /* the standard's bound on the application data unit */
#define GBT26875_MAX_FRAME   (GBT26875_HEADER_LEN + GBT26875_MAX_ADU + GBT26875_TRAILER_LEN)
#define GBT26875_MIN_FRAME   (GBT26875_HEADER_LEN + GBT26875_TRAILER_LEN)
#define GBT26875_DESC_LEN    31   /* component description, GB 18030, NUL padded */
#define GBT26875_CONFIG_MAX  255  /* UITD configuration text (type 26): a 1-byte length */
#define GBT26875_ADDR_MAX    0xFFFFFFFFFFFFull /* addresses are 48 bits */
#define GBT26875_VERSION     1    /* main protocol version */

/* Command byte. */
enum gbt26875_cmd {
	GBT26875_CMD_CONTROL = 1,
	GBT26875_CMD_SEND = 2,
	GBT26875_CMD_CONFIRM = 3,
	GBT26875_CMD_REQUEST = 4,
	GBT26875_CMD_ANSWER = 5,
	GBT26875_CMD_DENY = 6,
};

/* Application data unit type flags firegw sends or decodes. */
enum gbt26875_type {
	GBT26875_T_SYSTEM_STATUS = 1,     /* 建筑消防设施系统状态 */
	GBT26875_T_COMPONENT_STATUS = 2,  /* 部件运行状态 */
	GBT26875_T_ANALOG = 3,            /* 部件模拟量值 */
	GBT26875_T_UITD_STATUS = 21,      /* 用户信息传输装置运行状态 */
	GBT26875_T_UITD_OPERATIONS = 24,  /* 用户信息传输装置操作信息 */
	GBT26875_T_UITD_VERSION = 25,     /* 用户信息传输装置软件版本 */
	GBT26875_T_UITD_CONFIG = 26,      /* 用户信息传输装置配置情况 */
	GBT26875_T_UITD_TIME = 28,        /* 用户信息传输装置系统时间 */
	GBT26875_T_READ_UITD_STATUS = 81,
	GBT26875_T_READ_UITD_OPERATIONS = 84,
	GBT26875_T_READ_UITD_VERSION = 85,
	GBT26875_T_READ_UITD_CONFIG = 86,
	GBT26875_T_READ_UITD_TIME = 88,
	GBT26875_T_INIT_UITD = 89,
	GBT26875_T_CLOCK_SYNC = 90,
	GBT26875_T_ROLL_CALL = 91,
};

/* Status bits of a system (type 1) or a component (type 2). */
enum {
	GBT26875_ST_NORMAL = 1u << 0,
	GBT26875_ST_FIRE = 1u << 1,
	GBT26875_ST_FAULT = 1u << 2,
	GBT26875_ST_DISABLED = 1u << 3,
	GBT26875_ST_SUPERVISORY = 1u << 4,
	GBT26875_ST_STARTED = 1u << 5,
	GBT26875_ST_FEEDBACK = 1u << 6,
	GBT26875_ST_DELAY = 1u << 7,
	GBT26875_ST_MAIN_POWER = 1u << 8,
	GBT26875_ST_BACKUP_POWER = 1u << 9,
	GBT26875_ST_BUS_FAULT = 1u << 10,
	GBT26875_ST_MANUAL = 1u << 11,
	GBT26875_ST_CONFIG_CHANGED = 1u << 12,
	GBT26875_ST_RESET = 1u << 13,
};

/* UITD status bits (type 21). */
enum {
	GBT26875_UITD_NORMAL = 1u << 0,
	GBT26875_UITD_FIRE = 1u << 1,
	GBT26875_UITD_FAULT = 1u << 2,
	GBT26875_UITD_MAIN_POWER = 1u << 3,
	GBT26875_UITD_BACKUP_POWER = 1u << 4,
	GBT26875_UITD_LINK_FAULT = 1u << 5,
	GBT26875_UITD_LINE_FAULT = 1u << 6,
};

enum gbt26875_err {
	GBT26875_OK,
	GBT26875_NEED_MORE,    /* not a whole frame yet: read more */
	GBT26875_GARBAGE,      /* bytes before a start "@@" skipped */
	GBT26875_BAD_START,    /* the frame does not begin with "@@" */
	GBT26875_TOO_LONG,     /* application data length over 1024 */
	GBT26875_BAD_END,      /* no "##" where the length says the frame ends */
	GBT26875_BAD_CHECKSUM, /* the checksum does not match */
	GBT26875_BAD_VERSION,  /* main protocol version is not 1 */
	GBT26875_BAD_COMMAND,  /* a command byte other than 1..6 */
	GBT26875_BAD_ADDRESS,  /* an address over 48 bits */
	GBT26875_BAD_TIME,     /* a time that is not a calendar time in 2000..2255 */
	GBT26875_NO_ROOM,      /* the output buffer or the ADU is full */
	GBT26875_BAD_TYPE,     /* an ADU type flag that is not expected here */
	GBT26875_BAD_LENGTH,   /* an ADU whose size does not match its type and object count */
	GBT26875_BAD_TEXT,     /* text that is not valid UTF-8 (or cannot be GB 18030) */
	GBT26875_BAD_ARG,      /* a value out of its range (e.g. a count of 0) */
	GBT26875_ERR_COUNT
};

const char *gbt26875_err_name(enum gbt26875_err e);

/* Second, minute, hour, day (1-31), month (1-12), year - 2000; plain binary, local time. */
struct gbt26875_time {
	uint8_t sec, min, hour, day, mon, year;
};

bool gbt26875_time_valid(const struct gbt26875_time *t);
/* From/to a broken-down local time; from_tm fails (GBT26875_BAD_TIME) before 2000 or after 2255. */
enum gbt26875_err gbt26875_time_from_tm(const struct tm *tm, struct gbt26875_time *t);
void gbt26875_time_to_tm(const struct gbt26875_time *t, struct tm *tm);
/* From a Unix time, in the local time zone. */
enum gbt26875_err gbt26875_time_from_unix(time_t when, struct gbt26875_time *t);
/* The 6 bytes of a time on the wire. */
void gbt26875_time_write(uint8_t *p, const struct gbt26875_time *t);
void gbt26875_time_read(const uint8_t *p, struct gbt26875_time *t);

struct gbt26875_header {
	uint16_t serial;
	uint8_t version;      /* main protocol version: 1 */
	uint8_t user_version; /* 1 in every public example */
	struct gbt26875_time time;
	uint64_t src, dst; /* 48-bit addresses */
	uint8_t cmd;
};

struct gbt26875_frame {
	struct gbt26875_header h;
	size_t adu_len;
	uint8_t adu[GBT26875_MAX_ADU];
};

/* Writes a whole frame into out (cap bytes, GBT26875_MAX_FRAME is always enough); *len is its
 * size. Checks the ADU size, addresses and command (1..255 accepted: a centre may send
 * user-defined ones; firegw builds 1..6). */
enum gbt26875_err gbt26875_frame_build(const struct gbt26875_header *h, const uint8_t *adu,
                                       size_t adu_len, uint8_t *out, size_t cap, size_t *len);
/* The confirm (3) or deny (6) of `req`: same serial, source and destination swapped, empty ADU,
 * sent at `now`. */
enum gbt26875_err gbt26875_answer_build(const struct gbt26875_header *req, uint8_t cmd,
                                        const struct gbt26875_time *now, uint8_t *out,
                                        size_t cap, size_t *len);
/* Parses one frame at the start of buf. *used is what to drop from the stream afterwards:
 * the frame on OK and on errors found inside a frame whose bounds are sound (bad checksum,
 * version, command; f->h is then filled in so that the caller can deny it), 0 on NEED_MORE,
 * and the bytes up to the next possible start otherwise (bad start, too long, bad end; GARBAGE
 * when an incomplete frame at buf[0] has a whole good frame starting inside it). */
enum gbt26875_err gbt26875_frame_parse(const uint8_t *buf, size_t len, struct gbt26875_frame *f,
                                       size_t *used);
uint8_t gbt26875_checksum(const uint8_t *p, size_t n);

/* Stream reassembly: feed what a read() returned, then take frames until NEED_MORE. */
struct gbt26875_stream {
	size_t len;
	uint8_t buf[2 * GBT26875_MAX_FRAME];
	uint64_t frames, skipped_bytes, errors[GBT26875_ERR_COUNT];
	char detail[96]; /* what the last error was, for the log */
};

void gbt26875_stream_init(struct gbt26875_stream *s);
/* Copies as much of data as fits; returns how many bytes it took (call next() and feed the
 * rest: after next() returned NEED_MORE there is always room for at least one byte). */
size_t gbt26875_stream_feed(struct gbt26875_stream *s, const void *data, size_t n);
/* OK: *f holds a frame. NEED_MORE: nothing complete. Anything else: bytes or a bad frame were
 * skipped (s->detail says what; for BAD_CHECKSUM/BAD_VERSION/BAD_COMMAND f->h is the header
 * to deny); call again. */
enum gbt26875_err gbt26875_stream_next(struct gbt26875_stream *s, struct gbt26875_frame *f);
