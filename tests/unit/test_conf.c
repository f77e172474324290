/* SPDX-License-Identifier: MIT */
/* test_conf: firegw's configuration checks (conf.c, conf_parse.c, conf_source.c and the
 * setpoint checks of profile.c).
 *
 * - A table of broken configs, each with the exact "file:line: message" lines it must give and
 *   no other: values out of range, bad cross-references, names defined twice, libconfuse's own
 *   errors, line numbers after comments, errors inside include()d files, missing includes and
 *   include loops.
 * - Every mistake of a config is reported at once, sorted by line.
 * - The shipped examples (config/examples) load, with their values and overrides in effect.
 * - conf_parse_duration.
 * - The policy defaults of DESIGN.md section 3, and each of them overridden.
 * - An untitled section written twice merges (a site file over an included example).
 * - Things that look alike but are allowed are not reported.
 *
 * Needs FIREGW_SOURCE_ROOT (set by meson test) to find config/profiles and config/examples. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "clock.h"
#include "conf.h"
#include "conf_gbt26875.h"
#include "conf_parse.h"
#include "ledger.h"
#include "policy.h"
#include "profile.h"
#include "retention.h"
#include "testutil.h"
#include "workday.h"

#define DAY (24 * 3600)

/* The shipped profiles, as an absolute path (it appears in some messages). */
static const char *profile_dir(void)
{
	static char path[PATH_MAX];

	if (!path[0])
		assert_non_null(realpath(testutil_profile_dir(), path));
	return path;
}

/* config/examples, as an absolute path. */
static const char *examples_dir(void)
{
	static char path[PATH_MAX];
	char *rel;

	if (!path[0]) {
		assert_true(asprintf(&rel, "%s/../examples", testutil_profile_dir()) > 0);
		assert_non_null(realpath(rel, path));
		free(rel);
	}
	return path;
}

/* Replaces %D with dir and %P with the profile directory. */
static char *expand(const char *s, const char *dir)
{
	size_t n = 0, cap = strlen(s) + 1;
	char *out = malloc(cap);

	assert_non_null(out);
	while (*s) {
		const char *rep = NULL;

		if (s[0] == '%' && s[1] == 'D')
			rep = dir;
		else if (s[0] == '%' && s[1] == 'P')
			rep = profile_dir();
		size_t len = rep ? strlen(rep) : 1;
		if (n + len + 1 > cap) {
			cap = (n + len + 1) * 2;
			out = realloc(out, cap);
			assert_non_null(out);
		}
		memcpy(out + n, rep ? rep : s, len);
		n += len;
		s += rep ? 2 : 1;
	}
	out[n] = '\0';
	return out;
}

/* The gateway section every case starts with, unless it is `raw`: lines 1-5 of firegw.conf, so
 * a case's own text starts at line 6. */
#define GATEWAY                                                                                    \
	"gateway {\n"                                                                              \
	"  id = \"GW-T\"\n"                                                                        \
	"  data_dir = \"%D\"\n"                                                                    \
	"  profile_dir = \"%P\"\n"                                                                 \
	"}\n"

/* A good rtu bus, at lines 6-9. */
#define BUS_B1                                                                                     \
	"bus \"b1\" {\n"                                                                           \
	"  type = \"rtu\"\n"                                                                       \
	"  port = \"/dev/ttyS1\"\n"                                                                \
	"}\n"

#define BAUD_MSG "is not a standard rate (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, ...)"
#define UNIT_MSG "is outside 1-247 (0 is broadcast, 248-255 are reserved)"
#define DURATION_MSG                                                                               \
	"is not a duration; write a positive number with a unit, e.g. \"500ms\", \"5s\", "         \
	"\"30m\", \"72h\", \"7d\""
#define GATEWAY_ID_MSG                                                                             \
	"gateway: id is required (the platform knows this gateway by it), e.g. id = \"ZW-0001\""

struct extra_file {
	const char *name;
	const char *text;
};

struct bad_case {
	const char *name;
	bool raw;                   /* text is the whole of firegw.conf: no GATEWAY before it */
	const char *text;           /* firegw.conf; %D: its directory, %P: the profiles */
	struct extra_file extra[3]; /* other files in the same directory */
	const char *want[4];        /* every error line it must give, in order */
};

static const struct bad_case bad_cases[] = {
    {
        .name = "device on an unknown bus",
        .text = BUS_B1             /* 6-9 */
        "device \"d1\" {\n"        /* 10 */
        "  bus = \"nope\"\n"       /* 11 */
        "  profile = \"rcd-4t\"\n" /* 12 */
        "}\n",
        .want = {"%D/firegw.conf:11: device 'd1': unknown bus 'nope'"},
    },
    {
        .name = "device on a bus when no bus is defined",
        .text = "device \"d1\" {\n"        /* 6 */
                "  bus = \"b1\"\n"         /* 7 */
                "  profile = \"rcd-4t\"\n" /* 8 */
                "}\n",
        .want = {"%D/firegw.conf:7: device 'd1': unknown bus 'b1' (no bus is defined)"},
    },
    {
        .name = "device defined twice",
        .text = BUS_B1             /* 6-9 */
        "device \"x\" {\n"         /* 10 */
        "  bus = \"b1\"\n"         /* 11 */
        "  unit = 1\n"             /* 12 */
        "  profile = \"rcd-4t\"\n" /* 13 */
        "}\n"                      /* 14 */
        "device \"x\" {\n"         /* 15 */
        "  bus = \"b1\"\n"         /* 16 */
        "  unit = 2\n"             /* 17 */
        "  profile = \"rcd-4t\"\n" /* 18 */
        "}\n",
        .want = {"%D/firegw.conf:15: device 'x' is defined twice (first at "
                 "%D/firegw.conf:10); names must be unique"},
    },
    {
        .name = "device defined twice, the second time in an included file",
        .text = BUS_B1                             /* 6-9 */
        "device \"x\" {\n"                         /* 10 */
        "  bus = \"b1\"\n"                         /* 11 */
        "  unit = 1\n"                             /* 12 */
        "  profile = \"rcd-4t\"\n"                 /* 13 */
        "}\n"                                      /* 14 */
        "include(\"more.conf\")\n",                /* 15 */
        .extra = {{"more.conf", "# more devices\n" /* 1 */
                                "\n"               /* 2 */
                                "device \"x\" {\n" /* 3 */
                                "  bus = \"b1\"\n" /* 4 */
                                "  unit = 2\n"     /* 5 */
                                "  profile = \"rcd-4t\"\n"
                                "}\n"}},
        .want = {"%D/more.conf:3: device 'x' is defined twice (first at %D/firegw.conf:10); "
                 "names must be unique"},
    },
    {
        .name = "bus defined twice",
        .text = BUS_B1              /* 6-9 */
        "bus \"b1\" {\n"            /* 10 */
        "  type = \"rtu\"\n"        /* 11 */
        "  port = \"/dev/ttyS2\"\n" /* 12 */
        "}\n",
        .want = {"%D/firegw.conf:10: bus 'b1' is defined twice (first at %D/firegw.conf:6); "
                 "names must be unique"},
    },
    {
        .name = "setpoint defined twice in one device",
        .text = BUS_B1             /* 6-9 */
        "device \"d1\" {\n"        /* 10 */
        "  bus = \"b1\"\n"         /* 11 */
        "  profile = \"rcd-4t\"\n" /* 12 */
        "  setpoint \"t1\" {\n"    /* 13 */
        "    prealarm = 62\n"      /* 14 */
        "  }\n"                    /* 15 */
        "  setpoint \"t1\" {\n"    /* 16 */
        "    prealarm = 64\n"      /* 17 */
        "  }\n"                    /* 18 */
        "}\n",
        .want = {"%D/firegw.conf:16: setpoint 't1' is defined twice (first at "
                 "%D/firegw.conf:13); names must be unique"},
    },
    {
        .name = "two devices with one unit id on one bus",
        .text = BUS_B1             /* 6-9 */
        "device \"d1\" {\n"        /* 10 */
        "  bus = \"b1\"\n"         /* 11 */
        "  unit = 5\n"             /* 12 */
        "  profile = \"rcd-4t\"\n" /* 13 */
        "}\n"                      /* 14 */
        "device \"d2\" {\n"        /* 15 */
        "  bus = \"b1\"\n"         /* 16 */
        "  unit = 5\n"             /* 17 */
        "  profile = \"rcd-4t\"\n" /* 18 */
        "}\n",
        .want = {"%D/firegw.conf:17: device 'd2': unit id 5 on bus 'b1' is already used by "
                 "device 'd1' (%D/firegw.conf:10)"},
    },
    {
        .name = "two devices with the default unit id on one bus",
        .text = BUS_B1             /* 6-9 */
        "device \"d1\" {\n"        /* 10 */
        "  bus = \"b1\"\n"         /* 11 */
        "  profile = \"rcd-4t\"\n" /* 12 */
        "}\n"                      /* 13 */
        "device \"d2\" {\n"        /* 14 */
        "  bus = \"b1\"\n"         /* 15 */
        "  profile = \"rcd-4t\"\n" /* 16 */
        "}\n",
        /* unit is not written: the error is on the device's opening line */
        .want = {"%D/firegw.conf:14: device 'd2': unit id 1 on bus 'b1' is already used by "
                 "device 'd1' (%D/firegw.conf:10)"},
    },
    {
        .name = "two MQTT devices with one key",
        .text = "device \"m1\" {\n"             /* 6 */
                "  key = \"k1\"\n"              /* 7 */
                "  profile = \"smoke-codes\"\n" /* 8 */
                "}\n"                           /* 9 */
                "device \"m2\" {\n"             /* 10 */
                "  key = \"k1\"\n"              /* 11 */
                "  profile = \"smoke-codes\"\n" /* 12 */
                "}\n",
        .want = {"%D/firegw.conf:11: device 'm2': key 'k1' is already used by device 'm1' "
                 "(%D/firegw.conf:6)"},
    },
    {
        .name = "bus name with a space",
        .text = "bus \"b 1\" {\n"           /* 6 */
                "  type = \"rtu\"\n"        /* 7 */
                "  port = \"/dev/ttyS1\"\n" /* 8 */
                "}\n",
        .want = {"%D/firegw.conf:6: bus 'b 1': a name may only hold letters, digits, '-', '_' "
                 "and '.'"},
    },
    {
        .name = "device id with a slash",
        .text = "device \"d/1\" {\n"            /* 6 */
                "  key = \"k1\"\n"              /* 7 */
                "  profile = \"smoke-codes\"\n" /* 8 */
                "}\n",
        .want = {"%D/firegw.conf:6: device 'd/1': an id may only hold letters, digits, '-', "
                 "'_' and '.' (at most 48)"},
    },
    {
        .name = "broken profile used by two devices: its errors once, in the profile",
        .raw = true,
        .text = "gateway {\n"              /* 1 */
                "  id = \"GW-T\"\n"        /* 2 */
                "  profile_dir = \"%D\"\n" /* 3 */
                "}\n"                      /* 4 */
                "device \"m1\" {\n"        /* 5 */
                "  key = \"k1\"\n"         /* 6 */
                "  profile = \"bad\"\n"    /* 7 */
                "}\n"                      /* 8 */
                "device \"m2\" {\n"        /* 9 */
                "  key = \"k2\"\n"         /* 10 */
                "  profile = \"bad\"\n"    /* 11 */
                "}\n",
        .extra = {{"bad.conf", "# a broken profile\n" /* 1 */
                               "point \"v\" {\n"      /* 2 */
                               "  address = 70000\n"  /* 3 */
                               "}\n"}},
        .want = {"%D/bad.conf:3: point 'v': address 70000 is outside 0-65535"},
    },
    {
        .name = "baud 9601",
        .text = "bus \"b1\" {\n"            /* 6 */
                "  type = \"rtu\"\n"        /* 7 */
                "  port = \"/dev/ttyS1\"\n" /* 8 */
                "  baud = 9601\n"           /* 9 */
                "}\n",
        .want = {"%D/firegw.conf:9: bus 'b1': baud 9601 " BAUD_MSG},
    },
    {
        .name = "unit id 0",
        .text = BUS_B1             /* 6-9 */
        "device \"d1\" {\n"        /* 10 */
        "  bus = \"b1\"\n"         /* 11 */
        "  unit = 0\n"             /* 12 */
        "  profile = \"rcd-4t\"\n" /* 13 */
        "}\n",
        .want = {"%D/firegw.conf:12: device 'd1': unit id 0 " UNIT_MSG},
    },
    {
        .name = "unit id 248",
        .text = BUS_B1             /* 6-9 */
        "device \"d1\" {\n"        /* 10 */
        "  bus = \"b1\"\n"         /* 11 */
        "  profile = \"rcd-4t\"\n" /* 12 */
        "  unit = 248\n"           /* 13 */
        "}\n",
        .want = {"%D/firegw.conf:13: device 'd1': unit id 248 " UNIT_MSG},
    },
    {
        .name = "negative interval",
        .text = BUS_B1             /* 6-9 */
        "device \"d1\" {\n"        /* 10 */
        "  bus = \"b1\"\n"         /* 11 */
        "  profile = \"rcd-4t\"\n" /* 12 */
        "  interval = \"-5s\"\n"   /* 13 */
        "}\n",
        .want = {"%D/firegw.conf:13: device 'd1': interval = \"-5s\" " DURATION_MSG},
    },
    {
        .name = "malformed duration",
        .text = BUS_B1                 /* 6-9 */
        "device \"d1\" {\n"            /* 10 */
        "  bus = \"b1\"\n"             /* 11 */
        "  profile = \"rcd-4t\"\n"     /* 12 */
        "  interval = \"5 parsecs\"\n" /* 13 */
        "}\n",
        .want = {"%D/firegw.conf:13: device 'd1': interval = \"5 parsecs\" " DURATION_MSG},
    },
    {
        .name = "interval 0",
        .text = BUS_B1             /* 6-9 */
        "device \"d1\" {\n"        /* 10 */
        "  bus = \"b1\"\n"         /* 11 */
        "  profile = \"rcd-4t\"\n" /* 12 */
        "  interval = \"0\"\n"     /* 13 */
        "}\n",
        .want = {"%D/firegw.conf:13: device 'd1': interval must be longer than 0"},
    },
    {
        .name = "setpoint override clearing above its alarm level",
        .text = BUS_B1             /* 6-9 */
        "device \"d1\" {\n"        /* 10 */
        "  bus = \"b1\"\n"         /* 11 */
        "  profile = \"rcd-4t\"\n" /* 12 */
        "  setpoint \"leak\" {\n"  /* 13 */
        "    clear = 350\n"        /* 14: the profile's alarm is 300 */
        "  }\n"                    /* 15 */
        "}\n",
        .want = {"%D/firegw.conf:14: device 'd1' setpoint 'leak': clear level 350 is above its "
                 "prealarm level 250, so the condition could never clear; set clear at or "
                 "below 250"},
    },
    {
        .name = "setpoint override with its levels out of order",
        .text = BUS_B1             /* 6-9 */
        "device \"d1\" {\n"        /* 10 */
        "  bus = \"b1\"\n"         /* 11 */
        "  profile = \"rcd-4t\"\n" /* 12 */
        "  setpoint \"t2\" {\n"    /* 13 */
        "    alarm = 95\n"         /* 14: above the profile's high, 90 */
        "  }\n"                    /* 15 */
        "}\n",
        /* reported at the value written here that is out of order */
        .want = {"%D/firegw.conf:14: device 'd1' setpoint 't2': high level 90 is below the "
                 "alarm level 95; the levels must go up from prealarm to alarm to high"},
    },
    {
        .name = "setpoint for a point the profile does not have",
        .text = BUS_B1             /* 6-9 */
        "device \"d1\" {\n"        /* 10 */
        "  bus = \"b1\"\n"         /* 11 */
        "  profile = \"rcd-4t\"\n" /* 12 */
        "  setpoint \"t9\" {\n"    /* 13 */
        "    alarm = 80\n"         /* 14 */
        "  }\n"                    /* 15 */
        "}\n",
        .want = {"%D/firegw.conf:13: device 'd1': profile 'rcd-4t' has no point 't9'"},
    },
    {
        .name = "unknown profile",
        .text = BUS_B1             /* 6-9 */
        "device \"d1\" {\n"        /* 10 */
        "  bus = \"b1\"\n"         /* 11 */
        "  profile = \"nosuch\"\n" /* 12 */
        "}\n",
        .want = {"%D/firegw.conf:12: device 'd1': unknown profile 'nosuch' "
                 "(%P/nosuch.conf: No such file or directory)"},
    },
    {
        .name = "profile name with a slash",
        .text = BUS_B1               /* 6-9 */
        "device \"d1\" {\n"          /* 10 */
        "  bus = \"b1\"\n"           /* 11 */
        "  profile = \"x/rcd-4t\"\n" /* 12 */
        "}\n",
        .want = {"%D/firegw.conf:12: device 'd1': profile 'x/rcd-4t' is a name, not a path; "
                 "profiles are looked up in profile_dir (%P)"},
    },
    {
        .name = "device with neither bus nor key",
        .text = "device \"d1\" {\n"        /* 6 */
                "  profile = \"rcd-4t\"\n" /* 7 */
                "}\n",
        .want = {"%D/firegw.conf:6: device 'd1': needs bus = \"NAME\" (Modbus) or key = "
                 "\"ID\" (MQTT)"},
    },
    {
        .name = "device with both bus and key",
        .text = BUS_B1                  /* 6-9 */
        "device \"d1\" {\n"             /* 10 */
        "  bus = \"b1\"\n"              /* 11 */
        "  key = \"k1\"\n"              /* 12 */
        "  profile = \"smoke-codes\"\n" /* 13 */
        "}\n",
        .want = {"%D/firegw.conf:12: device 'd1': has both bus (Modbus) and key (MQTT); a "
                 "device is one or the other"},
    },
    {
        .name = "MQTT device with a Modbus profile",
        .text = "device \"m1\" {\n"              /* 6 */
                "  key = \"k1\"\n"               /* 7 */
                "  profile = \"smoke-modbus\"\n" /* 8 */
                "}\n",
        .want = {"%D/firegw.conf:8: device 'm1': profile 'smoke-modbus' is a Modbus profile, "
                 "but the device reports over MQTT (key); use an MQTT profile (one with an "
                 "mqtt section, e.g. smoke-json)"},
    },
    {
        .name = "Modbus device with an MQTT profile",
        .text = BUS_B1                 /* 6-9 */
        "device \"d1\" {\n"            /* 10 */
        "  bus = \"b1\"\n"             /* 11 */
        "  profile = \"smoke-json\"\n" /* 12 */
        "}\n",
        .want = {"%D/firegw.conf:12: device 'd1': profile 'smoke-json' is an MQTT profile, but "
                 "the device is on a Modbus bus; give it key = \"...\" instead of bus, or a "
                 "Modbus profile"},
    },
    {
        .name = "mqtt ca_file without tls, keepalive too short",
        .text = "mqtt {\n"                      /* 6 */
                "  ca_file = \"/etc/ca.pem\"\n" /* 7 */
                "  keepalive = \"2s\"\n"        /* 8 */
                "}\n",
        .want = {"%D/firegw.conf:7: mqtt: ca_file is for TLS; add tls = true",
                 "%D/firegw.conf:8: mqtt: keepalive must be 5s to 65535s"},
    },
    {
        .name = "device without profile",
        .text = BUS_B1      /* 6-9 */
        "device \"d1\" {\n" /* 10 */
        "  bus = \"b1\"\n"  /* 11 */
        "}\n",
        .want = {"%D/firegw.conf:10: device 'd1': profile is required, e.g. profile = "
                 "\"rcd-4t\""},
    },
    {
        .name = "rtu bus without port",
        .text = "bus \"b1\" {\n"     /* 6 */
                "  type = \"rtu\"\n" /* 7 */
                "}\n",
        .want = {"%D/firegw.conf:6: bus 'b1': an rtu bus needs port, e.g. port = "
                 "\"/dev/ttyS1\""},
    },
    {
        .name = "tcp bus without host",
        .text = "\n"                 /* 6 */
                "bus \"t1\" {\n"     /* 7 */
                "  type = \"tcp\"\n" /* 8 */
                "}\n",
        .want = {"%D/firegw.conf:7: bus 't1': a tcp bus needs host, e.g. host = "
                 "\"192.168.1.20\""},
    },
    {
        .name = "unknown bus type",
        .text = "bus \"b1\" {\n"            /* 6 */
                "  port = \"/dev/ttyS1\"\n" /* 7 */
                "  type = \"udp\"\n"        /* 8 */
                "}\n",
        .want = {"%D/firegw.conf:8: bus 'b1': type 'udp' is not \"rtu\" or \"tcp\""},
    },
    {
        .name = "bus without type",
        .text = "bus \"b1\" {\n"            /* 6 */
                "  port = \"/dev/ttyS1\"\n" /* 7 */
                "}\n",
        .want = {"%D/firegw.conf:6: bus 'b1': type is required: \"rtu\" or \"tcp\""},
    },
    {
        .name = "bad parity",
        .text = "bus \"b1\" {\n"            /* 6 */
                "  type = \"rtu\"\n"        /* 7 */
                "  port = \"/dev/ttyS1\"\n" /* 8 */
                "  parity = \"mark\"\n"     /* 9 */
                "}\n",
        .want = {"%D/firegw.conf:9: bus 'b1': parity 'mark' is not none, even or odd"},
    },
    {
        .name = "data_bits 9",
        .text = "bus \"b1\" {\n"            /* 6 */
                "  type = \"rtu\"\n"        /* 7 */
                "  port = \"/dev/ttyS1\"\n" /* 8 */
                "  data_bits = 9\n"         /* 9 */
                "}\n",
        .want = {"%D/firegw.conf:9: bus 'b1': data_bits 9 is not 5-8"},
    },
    {
        .name = "stop_bits 3",
        .text = "bus \"b1\" {\n"            /* 6 */
                "  type = \"rtu\"\n"        /* 7 */
                "  port = \"/dev/ttyS1\"\n" /* 8 */
                "  stop_bits = 3\n"         /* 9 */
                "}\n",
        .want = {"%D/firegw.conf:9: bus 'b1': stop_bits 3 is not 1 or 2"},
    },
    {
        .name = "tcp_port 70000",
        .text = "bus \"t1\" {\n"          /* 6 */
                "  type = \"tcp\"\n"      /* 7 */
                "  host = \"10.0.0.1\"\n" /* 8 */
                "  tcp_port = 70000\n"    /* 9 */
                "}\n",
        .want = {"%D/firegw.conf:9: bus 't1': tcp_port 70000 is not 1-65535"},
    },
    {
        .name = "gateway without id",
        .raw = true,
        .text = "gateway {\n"           /* 1 */
                "  data_dir = \"%D\"\n" /* 2 */
                "}\n",
        .want = {"%D/firegw.conf:1: " GATEWAY_ID_MSG},
    },
    {
        .name = "no gateway section at all",
        .raw = true,
        .text = "site {\n"           /* 1 */
                "  county = \"x\"\n" /* 2 */
                "}\n",
        /* nothing to point at: the file alone */
        .want = {"%D/firegw.conf: " GATEWAY_ID_MSG},
    },
    {
        .name = "gateway id with a space",
        .raw = true,
        .text = "\n"                    /* 1 */
                "gateway {\n"           /* 2 */
                "  data_dir = \"%D\"\n" /* 3 */
                "  id = \"GW 1\"\n"     /* 4 */
                "}\n",
        .want = {"%D/firegw.conf:4: gateway: id 'GW 1' may only hold letters, digits, '-', '_' "
                 "and '.' (at most 48)"},
    },
    {
        /* the shipped /etc/firegw/firegw.conf, before the installer fills it in */
        .name = "template: gateway id and platform url empty",
        .raw = true,
        .text = "gateway {\n"           /* 1 */
                "  data_dir = \"%D\"\n" /* 2 */
                "  id = \"\"\n"         /* 3 */
                "}\n"                   /* 4 */
                "platform {\n"          /* 5 */
                "  url = \"\"\n"        /* 6 */
                "}\n",
        .want = {"%D/firegw.conf:3: gateway: id is empty: write the id the county platform "
                 "gave this gateway, e.g. id = \"ZW-0001\"",
                 "%D/firegw.conf:6: platform: url is empty: write the county platform's "
                 "address, e.g. url = \"https://platform.example.invalid/api\", and its token "
                 "in token_file (or remove the platform section: hazards then stay on the "
                 "gateway)"},
    },
    {
        .name = "unknown grade name",
        .text = "policy {\n"                    /* 6 */
                "  grades {\n"                  /* 7 */
                "    fire_alarm = \"urgent\"\n" /* 8 */
                "  }\n"                         /* 9 */
                "}\n",
        .want = {"%D/firegw.conf:8: policy: grade 'urgent' for fire_alarm is not one of "
                 "immediate, major, significant, general"},
    },
    {
        .name = "deadline 0",
        .text = "policy {\n"             /* 6 */
                "  deadlines {\n"        /* 7 */
                "    general = \"7d\"\n" /* 8 */
                "    major = \"0\"\n"    /* 9 */
                "  }\n"                  /* 10 */
                "}\n",
        .want = {"%D/firegw.conf:9: policy: the major deadline must be longer than 0"},
    },
    {
        .name = "unknown option in a section",
        .text = "bus \"b1\" {\n"            /* 6 */
                "  type = \"rtu\"\n"        /* 7 */
                "  port = \"/dev/ttyS1\"\n" /* 8 */
                "  foo = 1\n"               /* 9 */
                "}\n",
        .want = {"%D/firegw.conf:9: no such option 'foo'"},
    },
    {
        .name = "a word where a number goes",
        .text = "bus \"b1\" {\n"            /* 6 */
                "  type = \"rtu\"\n"        /* 7 */
                "  port = \"/dev/ttyS1\"\n" /* 8 */
                "  baud = \"fast\"\n"       /* 9 */
                "}\n",
        .want = {"%D/firegw.conf:9: invalid integer value for option 'baud'"},
    },
    {
        .name = "unknown option at the top",
        .text = "\n"               /* 6 */
                "foo = \"bar\"\n", /* 7 */
        .want = {"%D/firegw.conf:7: no such option 'foo'"},
    },
    {
        .name = "syntax error after comments",
        .text = "# a hash comment\n"                       /* 6 */
                "// a slash comment\n"                     /* 7 */
                "/* a block\n"                             /* 8 */
                "   comment */\n"                          /* 9 */
                "bus \"b1\" { # trailing\n"                /* 10 */
                "  type = \"rtu\" // trailing\n"           /* 11 */
                "  # port = 5\n"                           /* 12 */
                "  port = \"/dev/ttyS1\" /* trailing */\n" /* 13 */
                "  baud = = 9600\n"                        /* 14 */
                "}\n",
        .want = {"%D/firegw.conf:14: unexpected token '='"},
    },
    {
        .name = "check error after comments",
        .text = "# one\n"                              /* 6 */
                "# two\n"                              /* 7 */
                "// three\n"                           /* 8 */
                "/* four\n"                            /* 9 */
                " * five\n"                            /* 10 */
                " */\n"                                /* 11 */
                "bus \"b1\" {\n"                       /* 12 */
                "  type = \"rtu\"  # the stairwell\n"  /* 13 */
                "  port = \"/dev/ttyS1\"  // RS-485\n" /* 14 */
                "  baud = 9601\n"                      /* 15 */
                "}\n",
        .want = {"%D/firegw.conf:15: bus 'b1': baud 9601 " BAUD_MSG},
    },
    {
        .name = "errors inside and after an included file",
        .text = "include(\"buses.conf\")\n" /* 6 */
                "device \"d1\" {\n"         /* 7 */
                "  bus = \"b1\"\n"          /* 8 */
                "  unit = 0\n"              /* 9 */
                "  profile = \"rcd-4t\"\n"  /* 10 */
                "}\n",
        .extra = {{"buses.conf", "# the stairwell line\n" /* 1 */
                                 "bus \"b1\" {\n"         /* 2 */
                                 "  type = \"rtu\"\n"     /* 3 */
                                 "  port = \"/dev/ttyS1\"\n"
                                 "  baud = 9601\n" /* 5 */
                                 "}"}},            /* 6, no newline at the end */
        .want = {"%D/buses.conf:5: bus 'b1': baud 9601 " BAUD_MSG,
                 "%D/firegw.conf:9: device 'd1': unit id 0 " UNIT_MSG},
    },
    {
        .name = "syntax error inside an included file",
        .text = "# buses are in their own file\n"              /* 6 */
                "include(\"buses.conf\")\n",                   /* 7 */
        .extra = {{"buses.conf", "// the stairwell line\n"     /* 1 */
                                 "bus \"b1\" {\n"              /* 2 */
                                 "  type = \"rtu\"\n"          /* 3 */
                                 "  port = = \"/dev/ttyS1\"\n" /* 4 */
                                 "}\n"}},
        .want = {"%D/buses.conf:4: unexpected token '='"},
    },
    {
        .name = "include resolved against the including file's directory",
        .text = "include(\"sub/devs.conf\")\n",                     /* 6 */
        .extra = {{"sub/devs.conf", "// devices\n"                  /* 1 */
                                    "include(\"more.conf\")\n"},    /* 2: sub/more.conf */
                  {"sub/more.conf", "\n"                            /* 1 */
                                    "device \"m1\" {\n"             /* 2 */
                                    "  key = \"k1\"\n"              /* 3 */
                                    "  profile = \"smoke-codes\"\n" /* 4 */
                                    "  interval = \"fast\"\n"       /* 5 */
                                    "}\n"},
                  {"more.conf", "# not this one\n"}},
        .want = {"%D/sub/more.conf:5: device 'm1': interval = \"fast\" " DURATION_MSG},
    },
    {
        .name = "include not alone on its line",
        .text = "include(\"a.conf\") include(\"b.conf\")\n", /* 6 */
        .extra = {{"a.conf", "\n"}, {"b.conf", "\n"}},
        .want = {"%D/firegw.conf:6: include: write it alone on its line as "
                 "include(\"file.conf\")"},
    },
    {
        .name = "missing include file",
        .text = "\n"                           /* 6 */
                "include(\"missing.conf\")\n", /* 7 */
        .want = {"%D/firegw.conf:7: include(\"%D/missing.conf\"): No such file or directory"},
    },
    {
        .name = "include loop",
        .text = "include(\"a.conf\")\n",                /* 6 */
        .extra = {{"a.conf", "# a\n"                    /* 1 */
                             "include(\"b.conf\")\n"},  /* 2 */
                  {"b.conf", "include(\"a.conf\")\n"}}, /* 1 */
        .want = {"%D/b.conf:1: include(\"%D/a.conf\"): nested more than 8 deep (an include "
                 "loop?)"},
    },
    {
        .name = "file that includes itself",
        .text = "include(\"firegw.conf\")\n", /* 6 */
        .want = {"%D/firegw.conf:6: include(\"%D/firegw.conf\"): nested more than 8 deep (an "
                 "include loop?)"},
    },
};

static size_t want_count(const struct bad_case *bc)
{
	size_t n = 0;

	while (n < sizeof(bc->want) / sizeof(bc->want[0]) && bc->want[n])
		n++;
	return n;
}

/* Runs one case; returns the number of mismatches, each printed. */
static int run_bad_case(const struct bad_case *bc)
{
	char *dir = testutil_mkdtemp();
	struct conf_errors errs;
	size_t nwant = want_count(bc);
	int bad = 0;

	for (size_t i = 0; i < sizeof(bc->extra) / sizeof(bc->extra[0]) && bc->extra[i].name; i++) {
		char *text = expand(bc->extra[i].text, dir);
		const char *slash = strrchr(bc->extra[i].name, '/');

		if (slash) {
			char *sub;

			assert_true(asprintf(&sub, "%s/%.*s", dir, (int)(slash - bc->extra[i].name),
			                     bc->extra[i].name) > 0);
			assert_true(mkdir(sub, 0700) == 0 || errno == EEXIST);
			free(sub);
		}
		free(testutil_write(dir, bc->extra[i].name, text));
		free(text);
	}
	char *full;
	assert_true(asprintf(&full, "%s%s", bc->raw ? "" : GATEWAY, bc->text) > 0);
	char *text = expand(full, dir);
	char *path = testutil_write(dir, "firegw.conf", text);

	conf_errors_init(&errs);
	struct conf *c = conf_load(path, &errs);
	if (c) {
		fprintf(stderr, "case '%s': loaded, but it must not\n", bc->name);
		conf_free(c);
		bad++;
	}
	if (errs.n != nwant) {
		fprintf(stderr, "case '%s': %zu errors, want %zu\n", bc->name, errs.n, nwant);
		bad++;
	}
	for (size_t i = 0; i < nwant || i < errs.n; i++) {
		char *want = i < nwant ? expand(bc->want[i], dir) : NULL;
		const char *got = i < errs.n ? errs.items[i] : NULL;

		if (!want || !got || strcmp(want, got) != 0) {
			fprintf(stderr, "case '%s', error %zu:\n  got:  %s\n  want: %s\n", bc->name,
			        i, got ? got : "(none)", want ? want : "(none)");
			bad++;
		}
		free(want);
	}
	conf_errors_finish(&errs);
	free(path);
	free(text);
	free(full);
	testutil_rmdir(dir);
	free(dir);
	return bad;
}

static void run_bad_cases(const struct bad_case *cases, size_t n)
{
	int bad = 0;

	for (size_t i = 0; i < n; i++)
		bad += run_bad_case(&cases[i]);
	assert_int_equal(bad, 0);
}

static void test_bad_configs(void **state)
{
	(void)state;
	run_bad_cases(bad_cases, sizeof(bad_cases) / sizeof(bad_cases[0]));
}

/* BUG (conf.c:362-365, 467-468, 567, 591): integers are cast to int before their range
 * check, so a value 2^32 away from a valid one passes as that one (tcp_port 4294967298 is
 * used as port 2). Each must be rejected with the value as written. Where long is 32 bits
 * (armhf), libconfuse's integers are too: it refuses the value itself, at the same line. */
#if LONG_MAX > 0x7fffffffL
#define TRUNCATED_INT_MSG(opt, ours) ours
#else
#define TRUNCATED_INT_MSG(opt, ours) "integer value for option '" opt "' is out of range"
#endif
static const struct bad_case truncated_int_cases[] = {
    {
        .name = "tcp_port 2^32 + 2",
        .text = "bus \"t1\" {\n"            /* 6 */
                "  type = \"tcp\"\n"        /* 7 */
                "  host = \"10.0.0.1\"\n"   /* 8 */
                "  tcp_port = 4294967298\n" /* 9 */
                "}\n",
        .want = {"%D/firegw.conf:9: " TRUNCATED_INT_MSG("tcp_port",
                 "bus 't1': tcp_port 4294967298 is not 1-65535")},
    },
    {
        .name = "data_bits 2^32 + 8",
        .text = "bus \"b1\" {\n"             /* 6 */
                "  type = \"rtu\"\n"         /* 7 */
                "  port = \"/dev/ttyS1\"\n"  /* 8 */
                "  data_bits = 4294967304\n" /* 9 */
                "}\n",
        .want = {"%D/firegw.conf:9: " TRUNCATED_INT_MSG("data_bits",
                 "bus 'b1': data_bits 4294967304 is not 5-8")},
    },
    {
        .name = "retries 2^32 + 1",
        .text = "device \"m1\" {\n"             /* 6 */
                "  key = \"k1\"\n"              /* 7 */
                "  profile = \"smoke-codes\"\n" /* 8 */
                "  retries = 4294967297\n"      /* 9 */
                "}\n",
        .want = {"%D/firegw.conf:9: " TRUNCATED_INT_MSG("retries",
                 "device 'm1': retries 4294967297 is outside 0-10")},
    },
};

static void test_bug_truncated_ints(void **state)
{
	(void)state;
	run_bad_cases(truncated_int_cases,
	              sizeof(truncated_int_cases) / sizeof(truncated_int_cases[0]));
}

/* BUG (conf_parse.c:147, conf_parse_file): a file that ends inside a section (its closing
 * brace forgotten, or the file cut short) loads without a word: libconfuse 3.3 takes the end
 * of the text as the end of every open section and cfg_parse_buf succeeds. It must be
 * reported in the file, with a line. */
static void test_bug_unclosed_section(void **state)
{
	(void)state;
	char *dir = testutil_mkdtemp();
	char *text = expand(GATEWAY BUS_B1              /* 6-9 */
	                    "device \"d1\" {\n"         /* 10 */
	                    "  bus = \"b1\"\n"          /* 11 */
	                    "  profile = \"rcd-4t\"\n", /* 12, no closing brace */
	                    dir);
	char *path = testutil_write(dir, "firegw.conf", text);
	char *prefix = expand("%D/firegw.conf:", dir);
	struct conf_errors errs;

	conf_errors_init(&errs);
	struct conf *c = conf_load(path, &errs);
	bool loaded = c != NULL;
	size_t n = errs.n;
	/* file:line: message */
	bool at_line = n >= 1 && strncmp(errs.items[0], prefix, strlen(prefix)) == 0 &&
	               isdigit((unsigned char)errs.items[0][strlen(prefix)]);

	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "# %s\n", errs.items[i]);
	/* clean up first: the asserts below fail until the bug is fixed */
	conf_free(c);
	conf_errors_finish(&errs);
	free(prefix);
	free(path);
	free(text);
	testutil_rmdir(dir);
	free(dir);
	assert_false(loaded);
	assert_int_equal(n, 1);
	assert_true(at_line);
}

/* Loads `text` (with %D and %P expanded) written as dir/firegw.conf, expecting errors. */
static void load_errors(const char *dir, const char *text, struct conf_errors *errs)
{
	char *t = expand(text, dir);

	testutil_conf_errors(dir, t, errs);
	free(t);
}

static void test_every_error_reported(void **state)
{
	(void)state;
	char *dir = testutil_mkdtemp();
	struct conf_errors errs;
	/* Written so that the order firegw checks them in (gateway, policy, buses, devices,
	 * mqtt) is not the order of the file. */
	const char *text = "mqtt {\n"                  /* 1 */
	                   "  port = 0\n"              /* 2 */
	                   "}\n"                       /* 3 */
	                   "device \"d1\" {\n"         /* 4 */
	                   "  bus = \"b1\"\n"          /* 5 */
	                   "  unit = 0\n"              /* 6 */
	                   "  profile = \"rcd-4t\"\n"  /* 7 */
	                   "}\n"                       /* 8 */
	                   "policy {\n"                /* 9 */
	                   "  grades {\n"              /* 10 */
	                   "    tamper = \"severe\"\n" /* 11 */
	                   "  }\n"                     /* 12 */
	                   "}\n"                       /* 13 */
	                   "bus \"b1\" {\n"            /* 14 */
	                   "  type = \"rtu\"\n"        /* 15 */
	                   "  port = \"/dev/ttyS1\"\n" /* 16 */
	                   "  baud = 9601\n"           /* 17 */
	                   "}\n"                       /* 18 */
	                   "gateway {\n"               /* 19 */
	                   "  id = \"GW-T\"\n"         /* 20 */
	                   "  data_dir = \"%D\"\n"     /* 21 */
	                   "  profile_dir = \"%P\"\n"  /* 22 */
	                   "  log_level = \"loud\"\n"  /* 23 */
	                   "}\n";
	const char *want[] = {
	    "%D/firegw.conf:2: mqtt: port 0 is not 1-65535",
	    "%D/firegw.conf:6: device 'd1': unit id 0 " UNIT_MSG,
	    "%D/firegw.conf:11: policy: grade 'severe' for tamper is not one of immediate, major, "
	    "significant, general",
	    "%D/firegw.conf:17: bus 'b1': baud 9601 " BAUD_MSG,
	    "%D/firegw.conf:23: gateway: log_level 'loud' is not one of error, warning, notice, "
	    "info, debug",
	};

	load_errors(dir, text, &errs);
	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "# %s\n", errs.items[i]);
	assert_int_equal(errs.n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < errs.n; i++) {
		char *w = expand(want[i], dir);

		assert_string_equal(errs.items[i], w);
		free(w);
	}
	conf_errors_finish(&errs);
	testutil_rmdir(dir);
	free(dir);
}

/* Loads a shipped example; fails the test with its errors if it does not load. */
static struct conf *load_example(const char *name)
{
	struct conf_errors errs;
	char *path;

	assert_true(asprintf(&path, "%s/%s", examples_dir(), name) > 0);
	conf_errors_init(&errs);
	struct conf *c = conf_load(path, &errs);
	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "config error: %s\n", errs.items[i]);
	assert_int_equal(errs.n, 0);
	assert_non_null(c);
	conf_errors_finish(&errs);
	free(path);
	return c;
}

/* The rules of one point of a device, after its overrides. */
static const struct setpoints *device_rule(const struct conf *c, const char *dev, const char *pt)
{
	const struct device_conf *d = conf_device(c, dev);

	assert_non_null(d);
	assert_non_null(d->prof);
	assert_non_null(d->rules);
	const struct point *p = profile_point(d->prof, pt);
	assert_non_null(p);
	return &d->rules[p - d->prof->points];
}

static void test_example_rental(void **state)
{
	(void)state;
	struct conf *c = load_example("rental.conf");
	char *pdir;

	assert_string_equal(c->gateway_id, "ZW-0001");
	assert_string_equal(c->data_dir, "/var/lib/firegw");
	/* relative to the example's own directory */
	assert_true(asprintf(&pdir, "%s/../profiles", examples_dir()) > 0);
	assert_string_equal(c->profile_dir, pdir);
	free(pdir);
	assert_string_equal(c->site.responsible_phone, "13800000001");
	assert_int_equal(c->nbuses, 1);
	assert_string_equal(c->buses[0].name, "stairwell");
	assert_int_equal(c->buses[0].type, BUS_RTU);
	assert_string_equal(c->buses[0].port, "/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A10K5R1B-if00-port0");
	assert_int_equal(c->buses[0].baud, 9600);
	assert_int_equal(c->buses[0].parity, 'N');
	assert_int_equal(c->buses[0].data_bits, 8);
	assert_int_equal(c->buses[0].stop_bits, 1);
	assert_true(c->buses[0].rs485);
	assert_int_equal(c->ndevices, 5);

	const struct device_conf *d = conf_device(c, "box-3f");
	assert_non_null(d);
	assert_ptr_equal(d->busp, &c->buses[0]);
	assert_int_equal(d->unit, 3);
	assert_string_equal(d->prof->name, "rcd-4t");
	assert_int_equal(d->interval_ms, 5000); /* the default */

	/* box-3f's t1 override: prealarm, alarm and clear from the device, the rest from the
	 * profile */
	const struct setpoints *t1 = device_rule(c, "box-3f", "t1");
	assert_int_equal(t1->kind, KIND_OVERTEMPERATURE);
	assert_true(t1->prealarm == 65);
	assert_true(t1->alarm == 75);
	assert_true(t1->clear == 60);
	assert_true(t1->high == 90);
	assert_int_equal(t1->hold_ms, 5000);
	assert_int_equal(t1->clear_hold_ms, 30000);
	/* only that point of that device */
	assert_true(device_rule(c, "box-3f", "t2")->prealarm == 60);
	assert_true(device_rule(c, "box-1f", "t1")->prealarm == 60);
	assert_true(device_rule(c, "box-1f", "t1")->alarm == 70);
	/* and the shared profile is untouched */
	d = conf_device(c, "box-3f");
	assert_true(profile_point(d->prof, "t1")->rule.prealarm == 60);

	assert_int_equal(conf_device(c, "smoke-corridor")->interval_ms, 2000);
	assert_int_equal(conf_device(c, "smoke-corridor")->unit, 20);
	assert_string_equal(conf_device(c, "main-rcd")->prof->name, "rcd-relay");
	assert_null(conf_device(c, "box-9f"));

	assert_int_equal(c->policy.escalate_s[KIND_DEVICE_OFFLINE], 72 * 3600);
	assert_int_equal(c->policy.deadline_s[GRADE_SIGNIFICANT], 30 * DAY);
	/* An untitled platform block is the destination "platform". */
	assert_int_equal(c->nplatforms, 1);
	assert_string_equal(c->platforms[0].name, "platform");
	assert_true(c->platforms[0].enabled);
	assert_string_equal(c->platforms[0].url, "https://platform.example.invalid/api");
	assert_false(c->mqtt.enabled);
	conf_free(c);
}

static void test_example_school(void **state)
{
	(void)state;
	struct conf *c = load_example("school.conf");

	assert_string_equal(c->gateway_id, "XX-0107");
	assert_int_equal(c->nbuses, 2);
	assert_int_equal(c->ndevices, 6);
	for (size_t i = 0; i < c->nbuses; i++) {
		assert_int_equal(c->buses[i].type, BUS_TCP);
		assert_int_equal(c->buses[i].tcp_port, 502);
	}
	assert_string_equal(c->buses[0].host, "192.168.10.21");
	assert_string_equal(c->buses[1].host, "192.168.10.22");
	assert_int_equal(c->buses[0].connect_timeout_ms, 3000);

	const struct device_conf *d = conf_device(c, "a-kitchen");
	assert_non_null(d);
	assert_string_equal(d->busp->name, "building-a");
	assert_int_equal(d->unit, 2);
	const struct setpoints *leak = device_rule(c, "a-kitchen", "leak");
	assert_int_equal(leak->kind, KIND_RESIDUAL_CURRENT);
	assert_true(leak->alarm == 400);
	assert_true(leak->prealarm == 300);
	assert_true(leak->clear == 280);
	assert_int_equal(leak->hold_ms, 5000);
	assert_true(device_rule(c, "a-1f", "leak")->alarm == 300);
	assert_true(device_rule(c, "b-library", "leak")->alarm == 300);
	assert_string_equal(conf_device(c, "b-smoke")->busp->name, "building-b");

	/* the school's deadline, and the defaults for the others */
	assert_int_equal(c->policy.deadline_s[GRADE_SIGNIFICANT], 14 * DAY);
	assert_int_equal(c->policy.deadline_s[GRADE_IMMEDIATE], 1 * DAY);
	assert_int_equal(c->policy.deadline_s[GRADE_MAJOR], 60 * DAY);
	assert_int_equal(c->policy.deadline_s[GRADE_GENERAL], 7 * DAY);
	assert_int_equal(c->policy.grade[KIND_RESIDUAL_CURRENT], GRADE_SIGNIFICANT);
	assert_int_equal(c->policy.recurrence_s, 30 * DAY);
	conf_free(c);
}

struct duration_case {
	const char *in;
	int64_t ms;
};

static void test_parse_duration(void **state)
{
	(void)state;
	static const struct duration_case cases[] = {
	    {"500ms", 500},
	    {"5s", 5000},
	    {"5", 5000},
	    {"0", 0},
	    {"30m", 30 * 60 * 1000},
	    {"72h", 72LL * 3600 * 1000},
	    {"7d", 7LL * DAY * 1000},
	    {"30d", 30LL * DAY * 1000},
	    {"1.5s", 1500},
	    {"0.5m", 30000},
	    {"", -1},
	    {"-1s", -1},
	    {"-0", -1},
	    {"5x", -1},
	    {"abc", -1},
	    {"s", -1},
	    {"5 parsecs", -1},
	    {"5ss", -1},
	    {"nan", -1},
	    {"inf", -1},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t got = conf_parse_duration(cases[i].in);

		if (got != cases[i].ms)
			fprintf(stderr, "conf_parse_duration(\"%s\") = %lld, want %lld\n",
			        cases[i].in, (long long)got, (long long)cases[i].ms);
		assert_int_equal(got, cases[i].ms);
	}
	assert_int_equal(conf_parse_duration(NULL), -1);
}

/* Each DESIGN.md kind, its default grade and a different one to override it with. */
struct kind_grade {
	enum kind kind;
	const char *name;
	enum grade dflt;
	enum grade other;
	const char *other_name;
};

static const struct kind_grade kind_grades[] = {
    {KIND_FIRE_ALARM, "fire_alarm", GRADE_IMMEDIATE, GRADE_MAJOR, "major"},
    {KIND_ARC_FAULT, "arc_fault", GRADE_IMMEDIATE, GRADE_SIGNIFICANT, "significant"},
    {KIND_RESIDUAL_CURRENT, "residual_current", GRADE_SIGNIFICANT, GRADE_MAJOR, "major"},
    {KIND_OVERTEMPERATURE, "overtemperature", GRADE_SIGNIFICANT, GRADE_IMMEDIATE, "immediate"},
    {KIND_DEVICE_OFFLINE, "device_offline", GRADE_GENERAL, GRADE_SIGNIFICANT, "significant"},
    {KIND_LOW_BATTERY, "low_battery", GRADE_GENERAL, GRADE_MAJOR, "major"},
    {KIND_TAMPER, "tamper", GRADE_GENERAL, GRADE_IMMEDIATE, "immediate"},
    {KIND_SENSOR_FAULT, "sensor_fault", GRADE_GENERAL, GRADE_SIGNIFICANT, "significant"},
    {KIND_DEVICE_FAULT, "device_fault", GRADE_GENERAL, GRADE_MAJOR, "major"},
};

#define NKIND_GRADES (sizeof(kind_grades) / sizeof(kind_grades[0]))

static void test_policy_defaults(void **state)
{
	(void)state;
	char *dir = testutil_mkdtemp();
	struct conf *c = testutil_conf(dir, "");
	const struct policy *p = &c->policy;

	for (size_t i = 0; i < NKIND_GRADES; i++) {
		if (p->grade[kind_grades[i].kind] != kind_grades[i].dflt)
			fprintf(stderr, "%s: grade %s, want %s\n", kind_grades[i].name,
			        grade_name(p->grade[kind_grades[i].kind]),
			        grade_name(kind_grades[i].dflt));
		assert_int_equal(p->grade[kind_grades[i].kind], kind_grades[i].dflt);
	}
	assert_int_equal(p->prealarm_grade, GRADE_GENERAL);
	assert_int_equal(p->high_grade, GRADE_IMMEDIATE);
	assert_int_equal(p->deadline_s[GRADE_IMMEDIATE], 1 * DAY);
	assert_int_equal(p->deadline_s[GRADE_MAJOR], 60 * DAY);
	assert_int_equal(p->deadline_s[GRADE_SIGNIFICANT], 30 * DAY);
	assert_int_equal(p->deadline_s[GRADE_GENERAL], 7 * DAY);
	assert_int_equal(p->escalate_s[KIND_RESIDUAL_CURRENT], 30 * 60);
	assert_int_equal(p->escalate_s[KIND_OVERTEMPERATURE], 30 * 60);
	assert_int_equal(p->escalate_s[KIND_DEVICE_OFFLINE], 72 * 3600);
	assert_int_equal(p->escalate_s[KIND_FIRE_ALARM], 0); /* already the top grade */
	assert_int_equal(p->recurrence_s, 30 * DAY);
	assert_false(p->offline_autoclose);
	conf_free(c);
	testutil_rmdir(dir);
	free(dir);
}

static void test_policy_overrides(void **state)
{
	(void)state;
	char *dir = testutil_mkdtemp();
	char *body = NULL, *grades = strdup("");

	for (size_t i = 0; i < NKIND_GRADES; i++) {
		char *g;

		assert_true(asprintf(&g, "%s    %s = \"%s\"\n", grades, kind_grades[i].name,
		                     kind_grades[i].other_name) > 0);
		free(grades);
		grades = g;
	}
	assert_true(asprintf(&body,
	                     "policy {\n"
	                     "  grades {\n"
	                     "%s"
	                     "    prealarm = \"significant\"\n"
	                     "    high = \"major\"\n"
	                     "  }\n"
	                     "  deadlines {\n"
	                     "    immediate = \"2h\"\n"
	                     "    major = \"90d\"\n"
	                     "    significant = \"10d\"\n"
	                     "    general = \"3d\"\n"
	                     "  }\n"
	                     "  escalation {\n"
	                     "    residual_current = \"10m\"\n"
	                     "    overtemperature = \"1h\"\n"
	                     "    device_offline = \"0\"\n"
	                     "    low_battery = \"14d\"\n"
	                     "  }\n"
	                     "  recurrence_window = \"14d\"\n"
	                     "  offline_autoclose = true\n"
	                     "}\n",
	                     grades) > 0);
	struct conf *c = testutil_conf(dir, body);
	const struct policy *p = &c->policy;

	for (size_t i = 0; i < NKIND_GRADES; i++) {
		assert_int_not_equal(kind_grades[i].other, kind_grades[i].dflt);
		assert_int_equal(p->grade[kind_grades[i].kind], kind_grades[i].other);
	}
	assert_int_equal(p->prealarm_grade, GRADE_SIGNIFICANT);
	assert_int_equal(p->high_grade, GRADE_MAJOR);
	assert_int_equal(p->deadline_s[GRADE_IMMEDIATE], 2 * 3600);
	assert_int_equal(p->deadline_s[GRADE_MAJOR], 90 * DAY);
	assert_int_equal(p->deadline_s[GRADE_SIGNIFICANT], 10 * DAY);
	assert_int_equal(p->deadline_s[GRADE_GENERAL], 3 * DAY);
	assert_int_equal(p->escalate_s[KIND_RESIDUAL_CURRENT], 10 * 60);
	assert_int_equal(p->escalate_s[KIND_OVERTEMPERATURE], 3600);
	assert_int_equal(p->escalate_s[KIND_DEVICE_OFFLINE], 0);
	assert_int_equal(p->escalate_s[KIND_LOW_BATTERY], 14 * DAY);
	assert_int_equal(p->recurrence_s, 14 * DAY);
	assert_true(p->offline_autoclose);
	conf_free(c);
	free(body);
	free(grades);
	testutil_rmdir(dir);
	free(dir);
}

/* Whether some error of `errs` holds `part`. */
static bool errors_have(const struct conf_errors *errs, const char *part)
{
	for (size_t i = 0; i < errs->n; i++)
		if (strstr(errs->items[i], part))
			return true;
	fprintf(stderr, "# no error with \"%s\" among %zu:\n", part, errs->n);
	for (size_t i = 0; i < errs->n; i++)
		fprintf(stderr, "#   %s\n", errs->items[i]);
	return false;
}

/* The county's rules (DESIGN section 12) as a county writes them: deadlines in working days
 * with the shipped 2026 holiday calendar, the stages' limits, roles per step, the 五定 before
 * rectifying, incidents and the false-alarm rule, worsening bands, automatic regrading. */
static void test_county_rules(void **state)
{
	(void)state;
	char *dir = testutil_mkdtemp(), *body;
	const char *root = getenv("FIREGW_SOURCE_ROOT");

	clock_set_fake(1000, 1780000000000LL); /* 2026-05-28 */
	assert_true(asprintf(&body,
	                     "include(\"%s/config/calendar/2026.conf\")\n"
	                     "policy {\n"
	                     "  deadlines {\n"
	                     "    major = \"20wd\"\n"
	                     "    general = \"7d\"\n"
	                     "  }\n"
	                     "  stages {\n"
	                     "    order = \"2wd\"\n"
	                     "    acceptance = \"0\"\n"
	                     "  }\n"
	                     "  roles {\n"
	                     "    acceptance = {\"acceptor\", \"town_office\"}\n"
	                     "    close = {\"owner\"}\n"
	                     "  }\n"
	                     "  require_before_rectifying {\n"
	                     "    major = {\"responsible\", \"measures\", \"funds\", \"deadline\", "
	                     "\"contingency_plan\"}\n"
	                     "  }\n"
	                     "  close_requires_acceptance = true\n"
	                     "  auto_regrade = true\n"
	                     "  incidents = {\"fire_alarm\", \"tamper\"}\n"
	                     "  false_alarms {\n"
	                     "    count = 5\n"
	                     "    window = \"60d\"\n"
	                     "  }\n"
	                     "  worsening {\n"
	                     "    residual_current = {400, 800}\n"
	                     "    overtemperature = {90}\n"
	                     "  }\n"
	                     "}\n",
	                     root ? root : "../..") > 0);
	struct conf *c = testutil_conf(dir, body);
	const struct policy *p = &c->policy;

	assert_int_equal(p->deadline_wd[GRADE_MAJOR], 20);
	assert_int_equal(p->deadline_wd[GRADE_GENERAL], 0);
	assert_int_equal(p->deadline_s[GRADE_GENERAL], 7 * DAY);
	assert_int_equal(p->order_within.n, 2);
	assert_true(p->order_within.working);
	assert_int_equal(p->acceptance_within.n, 0);
	assert_non_null(p->calendar);
	assert_true(workday_cal_covers(p->calendar, 2026));
	struct workday_date oct1 = {2026, 10, 1}, oct10 = {2026, 10, 10};
	assert_int_equal(workday_is_work(p->calendar, oct1), 0);
	assert_int_equal(workday_is_work(p->calendar, oct10), 1);
	assert_true(policy_role_allowed(p, STEP_ACCEPTANCE, "town_office"));
	assert_false(policy_role_allowed(p, STEP_CLOSE, "town_office"));
	assert_true(policy_role_allowed(p, STEP_ASSIGN, "anyone"));
	assert_int_equal(p->require_fields[GRADE_MAJOR],
	                 1u << FIELD_RESPONSIBLE | 1u << FIELD_MEASURES | 1u << FIELD_FUNDS |
	                     1u << FIELD_DEADLINE | 1u << FIELD_CONTINGENCY_PLAN);
	assert_int_equal(p->require_fields[GRADE_GENERAL], 0);
	assert_true(p->close_requires_acceptance);
	assert_true(p->auto_regrade);
	assert_true(p->incident[KIND_FIRE_ALARM] && p->incident[KIND_TAMPER]);
	assert_false(p->incident[KIND_RESIDUAL_CURRENT]);
	assert_int_equal(p->false_alarm_limit, 5);
	assert_int_equal(p->false_alarm_window_s, 60 * DAY);
	assert_int_equal(p->nworsen_bands[KIND_RESIDUAL_CURRENT], 2);
	assert_true(p->worsen_band[KIND_RESIDUAL_CURRENT][0] == 400);
	assert_int_equal(p->nworsen_bands[KIND_OVERTEMPERATURE], 1);
	conf_free(c);
	free(body);

	/* The same calendar in 2027: a working-day deadline needs 2027's, which is not there. */
	struct conf_errors errs;
	clock_set_fake(1000, 1800000000000LL); /* 2027-01-15 */
	assert_true(asprintf(&body,
	                     "include(\"%s/config/calendar/2026.conf\")\n"
	                     "calendar \"2028x\" {\n"
	                     "}\n"
	                     "calendar \"2026\" {\n"
	                     "  holidays = {\"2026-13-01\", \"2027-01-01\"}\n"
	                     "}\n"
	                     "policy {\n"
	                     "  deadlines {\n"
	                     "    significant = \"15wd\"\n"
	                     "  }\n"
	                     "  stages {\n"
	                     "    order = \"3x\"\n"
	                     "  }\n"
	                     "  roles {\n"
	                     "    close = {\"a-role-name-that-is-far-too-long-to-keep\"}\n"
	                     "  }\n"
	                     "  require_before_rectifying {\n"
	                     "    major = {\"money\"}\n"
	                     "  }\n"
	                     "  incidents = {\"ledger_corrupt\"}\n"
	                     "  false_alarms {\n"
	                     "    count = -1\n"
	                     "  }\n"
	                     "  worsening {\n"
	                     "    residual_current = {800, 400}\n"
	                     "  }\n"
	                     "}\n",
	                     root ? root : "../..") > 0);
	load_errors(dir, body, &errs);
	assert_true(errors_have(&errs, "need the holiday calendar of 2027"));
	assert_true(errors_have(&errs, "calendar \"2028x\": the title is a year"));
	assert_true(errors_have(&errs, "'2026-13-01' is not a date"));
	assert_true(errors_have(&errs, "'2027-01-01' is not in 2026"));
	assert_true(errors_have(&errs, "stages order = \"3x\""));
	assert_true(errors_have(&errs, "roles close: a role is 1 to 31 bytes"));
	assert_true(errors_have(&errs, "'money' is not one of responsible"));
	assert_true(errors_have(&errs, "'ledger_corrupt' is not a kind a detector reports"));
	assert_true(errors_have(&errs, "false_alarms count = -1"));
	assert_true(errors_have(&errs, "worsening residual_current: bands must be above 0 and rising"));
	conf_errors_finish(&errs);
	free(body);
	clock_set_fake(-1, -1);
	testutil_rmdir(dir);
	free(dir);
}

/* A site file includes an example and writes `gateway` a second time: the two merge. */
static void test_untitled_section_merges(void **state)
{
	(void)state;
	char *dir = testutil_mkdtemp();
	char *text, *path, *want;
	struct conf_errors errs;

	assert_true(asprintf(&text,
	                     "# this site: the rental example, with its ledger elsewhere\n"
	                     "include(\"%s/rental.conf\")\n"
	                     "gateway {\n"
	                     "  data_dir = \"state\"\n"
	                     "}\n",
	                     examples_dir()) > 0);
	path = testutil_write(dir, "site.conf", text);
	conf_errors_init(&errs);
	struct conf *c = conf_load(path, &errs);
	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "config error: %s\n", errs.items[i]);
	assert_int_equal(errs.n, 0);
	assert_non_null(c);

	/* the override, relative to the site file */
	assert_true(asprintf(&want, "%s/state", dir) > 0);
	assert_string_equal(c->data_dir, want);
	free(want);
	/* the rest of the example's gateway section, profile_dir relative to the example */
	assert_string_equal(c->gateway_id, "ZW-0001");
	assert_string_equal(c->log_level, "info");
	assert_true(asprintf(&want, "%s/../profiles", examples_dir()) > 0);
	assert_string_equal(c->profile_dir, want);
	free(want);
	assert_int_equal(c->ndevices, 5);
	assert_true(device_rule(c, "box-3f", "t1")->prealarm == 65);
	conf_free(c);
	conf_errors_finish(&errs);
	free(path);
	free(text);

	/* A nested untitled section merges too: the school's significant deadline stays. */
	assert_true(asprintf(&text,
	                     "include(\"%s/school.conf\")\n"
	                     "policy {\n"
	                     "  deadlines {\n"
	                     "    general = \"3d\"\n"
	                     "  }\n"
	                     "}\n",
	                     examples_dir()) > 0);
	path = testutil_write(dir, "site.conf", text);
	conf_errors_init(&errs);
	c = conf_load(path, &errs);
	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "config error: %s\n", errs.items[i]);
	assert_int_equal(errs.n, 0);
	assert_non_null(c);
	assert_int_equal(c->policy.deadline_s[GRADE_GENERAL], 3 * DAY);
	assert_int_equal(c->policy.deadline_s[GRADE_SIGNIFICANT], 14 * DAY);
	assert_int_equal(c->policy.deadline_s[GRADE_IMMEDIATE], 1 * DAY);
	assert_string_equal(c->gateway_id, "XX-0107");
	conf_free(c);
	conf_errors_finish(&errs);
	free(path);
	free(text);
	testutil_rmdir(dir);
	free(dir);
}

/* Look-alikes that are allowed: one unit id on two buses, one setpoint name in two devices, a
 * bus and a device of one name, comment characters inside strings. */
static void test_allowed_lookalikes(void **state)
{
	(void)state;
	char *dir = testutil_mkdtemp();
	struct conf *c = testutil_conf(dir, "bus \"b1\" {\n"
	                                    "  type = \"rtu\"\n"
	                                    "  port = \"/dev/ttyS1\"\n"
	                                    "}\n"
	                                    "bus \"b2\" {\n"
	                                    "  type = \"tcp\"\n"
	                                    "  host = \"10.0.0.2\"\n"
	                                    "}\n"
	                                    "device \"b1\" {\n"
	                                    "  bus = \"b1\"\n"
	                                    "  unit = 7\n"
	                                    "  profile = \"rcd-4t\"\n"
	                                    "  location = \"Room #3 // east /* wing */\"\n"
	                                    "  setpoint \"t1\" {\n"
	                                    "    prealarm = 62\n"
	                                    "  }\n"
	                                    "}\n"
	                                    "device \"d2\" {\n"
	                                    "  bus = \"b2\"\n"
	                                    "  unit = 7\n"
	                                    "  profile = \"rcd-4t\"\n"
	                                    "  setpoint \"t1\" {\n"
	                                    "    prealarm = 64\n"
	                                    "  }\n"
	                                    "}\n"
	                                    "device \"m1\" {\n"
	                                    "  key = \"k1\"\n"
	                                    "  profile = \"smoke-codes\"\n"
	                                    "}\n");

	assert_int_equal(c->ndevices, 3);
	assert_string_equal(conf_device(c, "b1")->location, "Room #3 // east /* wing */");
	assert_true(device_rule(c, "b1", "t1")->prealarm == 62);
	assert_true(device_rule(c, "d2", "t1")->prealarm == 64);
	assert_string_equal(conf_device(c, "d2")->busp->name, "b2");
	assert_string_equal(conf_device(c, "m1")->key, "k1");
	assert_null(conf_device(c, "m1")->busp);
	conf_free(c);
	testutil_rmdir(dir);
	free(dir);
}

/* Several destinations: named platform blocks beside the unnamed one (which stays
 * "platform" and merges when written twice), their filters, and each mistake reported. */
static bool has_error(const struct conf_errors *errs, const char *needle)
{
	for (size_t i = 0; i < errs->n; i++)
		if (strstr(errs->items[i], needle))
			return true;
	return false;
}

static void test_platform_destinations(void **state)
{
	(void)state;
	char *dir = testutil_mkdtemp();
	struct conf_errors errs;
	struct conf *c = testutil_conf(dir, "platform {\n"
	                                    "  url = \"https://a.example.invalid/api\"\n"
	                                    "}\n"
	                                    "platform \"centre\" {\n"
	                                    "  url = \"https://b.example.invalid/api\"\n"
	                                    "  events = {\"raised\", \"cleared\"}\n"
	                                    "  kinds = {\"fire_alarm\"}\n"
	                                    "  grades = {\"immediate\"}\n"
	                                    "}\n"
	                                    "platform {\n"
	                                    "  batch = 7\n"
	                                    "}\n");

	assert_int_equal(c->nplatforms, 2);
	assert_string_equal(c->platforms[0].name, "platform");
	assert_string_equal(c->platforms[0].url, "https://a.example.invalid/api");
	assert_int_equal(c->platforms[0].batch, 7); /* the second unnamed block merged */
	assert_int_equal(c->platforms[0].types | c->platforms[0].kinds | c->platforms[0].grades, 0);
	assert_string_equal(c->platforms[1].name, "centre");
	assert_string_equal(c->platforms[1].label, "platform 'centre'");
	assert_int_equal(c->platforms[1].types, (1u << ledger_event_type_index("raised")) |
	                                            (1u << ledger_event_type_index("cleared")));
	assert_int_equal(c->platforms[1].kinds, 1u << KIND_FIRE_ALARM);
	assert_int_equal(c->platforms[1].grades, 1u << GRADE_IMMEDIATE);
	conf_free(c);

	char *text;
	assert_true(asprintf(&text,
	                     "gateway {\n  id = \"GW-T\"\n  data_dir = \"%s\"\n}\n"
	                     "platform {\n  url = \"https://a.example.invalid/api\"\n}\n"
	                     "platform \"Bad Name\" {\n  url = \"https://b.example.invalid/api\"\n}\n"
	                     "platform \"x\" {\n  url = \"https://c.example.invalid/api\"\n"
	                     "  events = {\"exploded\"}\n  kinds = {\"volcano\"}\n"
	                     "  grades = {\"huge\"}\n}\n"
	                     "platform \"platform\" {\n  url = \"https://d.example.invalid/api\"\n}\n"
	                     "platform \"y\" {\n  url = \"http://e.example.invalid/api\"\n}\n",
	                     dir) > 0);
	testutil_conf_errors(dir, text, &errs);
	assert_true(has_error(&errs, "platform 'Bad Name': a destination's name is 1 to 31 of"));
	assert_true(has_error(&errs, "platform 'x': events: unknown 'exploded'"));
	assert_true(has_error(&errs, "platform 'x': kinds: unknown 'volcano'"));
	assert_true(has_error(&errs, "platform 'x': grades: unknown 'huge'"));
	assert_true(has_error(&errs, "is the name of the unnamed platform block"));
	assert_true(has_error(&errs, "platform 'y': url 'http://e.example.invalid/api' must start "
	                             "with https://"));
	conf_errors_finish(&errs);
	free(text);
	testutil_rmdir(dir);
	free(dir);
}

/* A fire monitoring centre over GB/T 26875.3: the url or host and port, the defaults of
 * docs/gbt26875.md section 4, and each mistake of its block reported. */
static void test_platform_gbt26875(void **state)
{
	(void)state;
	char *dir = testutil_mkdtemp();
	struct conf_errors errs;
	struct conf *c = testutil_conf(dir, "platform \"centre\" {\n"
	                                    "  transport = \"gbt26875\"\n"
	                                    "  url = \"gbt26875://centre.example.invalid:9000\"\n"
	                                    "  source_address = \"0x379\"\n"
	                                    "  centre_address = \"88888\"\n"
	                                    "}\n");
	const struct platform_conf *pc = &c->platforms[0];

	assert_true(pc->enabled);
	assert_non_null(pc->gbt);
	assert_string_equal(pc->gbt->host, "centre.example.invalid");
	assert_int_equal(pc->gbt->port, 9000);
	assert_int_equal(pc->gbt->src, 0x379);
	assert_int_equal(pc->gbt->dst, 88888);
	assert_int_equal(pc->heartbeat_ms, 30000);
	assert_int_equal(pc->gbt->answer_timeout_ms, 10000);
	assert_int_equal(pc->gbt->tries, 3);
	assert_int_equal(pc->gbt->sys_type, -1);
	assert_int_equal(pc->gbt->sys_addr, 1);
	assert_int_equal(pc->gbt->residual_analog_type, 128);
	assert_true(pc->gbt->pre_alarm);
	assert_false(pc->gbt->apply_clock_sync);
	conf_free(c);

	/* host and port written apart: the same, and the url status shows. */
	c = testutil_conf(dir, "platform \"centre\" {\n  transport = \"gbt26875\"\n"
	                       "  host = \"10.0.0.9\"\n  port = 9001\n  source_address = \"1\"\n}\n");
	assert_string_equal(c->platforms[0].gbt->host, "10.0.0.9");
	assert_int_equal(c->platforms[0].gbt->port, 9001);
	assert_string_equal(c->platforms[0].url, "gbt26875://10.0.0.9:9001");
	conf_free(c);

	char *text;
	assert_true(asprintf(&text,
	                     "gateway {\n  id = \"GW-T\"\n  data_dir = \"%s\"\n}\n"
	                     "platform \"a\" {\n  transport = \"gbt26875\"\n"
	                     "  url = \"gbt26875://h.example.invalid\"\n  token_file = \"t\"\n"
	                     "  tries = 0\n  pre_alarm = \"loud\"\n"
	                     "  device \"nobody\" {\n    component_type = 300\n  }\n}\n"
	                     "platform \"b\" {\n  transport = \"gbt26875\"\n  host = \"h\"\n"
	                     "  port = 9000\n  source_address = \"0x1000000000000\"\n}\n"
	                     "platform \"c\" {\n  url = \"https://c.example.invalid/api\"\n"
	                     "  source_address = \"1\"\n}\n",
	                     dir) > 0);
	testutil_conf_errors(dir, text, &errs);
	assert_true(has_error(&errs, "platform 'a': the monitoring centre's port must be 1-65535"));
	assert_true(has_error(&errs, "platform 'a': source_address is required"));
	assert_true(has_error(&errs, "platform 'a': token_file is not used with transport"));
	assert_true(has_error(&errs, "platform 'a': tries 0 is outside 1-10"));
	assert_true(has_error(&errs, "platform 'a': pre_alarm 'loud' is not supervisory or none"));
	assert_true(has_error(&errs, "platform 'a' device 'nobody': no device of that id"));
	assert_true(has_error(&errs, "platform 'a' device 'nobody': component_type 300 is outside"));
	assert_true(has_error(&errs, "platform 'b': source_address '0x1000000000000' is not a "
	                             "number of at most 48 bits"));
	assert_true(has_error(&errs, "platform 'c': source_address is for transport = "
	                             "\"gbt26875\""));
	conf_errors_finish(&errs);
	free(text);
	testutil_rmdir(dir);
	free(dir);
}

/* The retention section: its defaults, its values, each mistake named; and where the age
 * rule's horizon falls (the first day of the month, keep_months back, in UTC). */
static void test_retention(void **state)
{
	(void)state;
	char *dir = testutil_mkdtemp();
	struct conf_errors errs;
	struct conf *c = testutil_conf(dir, "");
	char *text;

	assert_int_equal(c->retention.keep_months, 24);
	assert_true(c->retention.max_bytes == 1024LL << 20);
	conf_free(c);
	c = testutil_conf(dir, "retention {\n  keep_months = 36\n  max_size_mb = 0\n}\n");
	assert_int_equal(c->retention.keep_months, 36);
	assert_true(c->retention.max_bytes == 0);
	conf_free(c);
	assert_true(asprintf(&text,
	                     "gateway {\n  id = \"GW-T\"\n  data_dir = \"%s\"\n}\n"
	                     "retention {\n  keep_months = 0\n  max_size_mb = 8\n}\n",
	                     dir) > 0);
	testutil_conf_errors(dir, text, &errs);
	assert_true(has_error(&errs, ":6: retention: keep_months must be 1 to 600"));
	assert_true(has_error(&errs, ":7: retention: max_size_mb must be 0 (no cap) or 16"));
	conf_errors_finish(&errs);
	free(text);
	/* 2026-12-02 03:04 UTC, 24 months: 2024-12-01; 1 month: 2026-11-01; 12 from January:
	 * the January a year before. */
	assert_true(retention_horizon(24, 1796180640000LL) == 1733011200000LL);
	assert_true(retention_horizon(1, 1796180640000LL) == 1793491200000LL);
	assert_true(retention_horizon(12, 1767225600000LL + 5000) == 1735689600000LL);
	testutil_rmdir(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bad_configs),
	    cmocka_unit_test(test_every_error_reported),
	    cmocka_unit_test(test_example_rental),
	    cmocka_unit_test(test_example_school),
	    cmocka_unit_test(test_parse_duration),
	    cmocka_unit_test(test_policy_defaults),
	    cmocka_unit_test(test_policy_overrides),
	    cmocka_unit_test(test_untitled_section_merges),
	    cmocka_unit_test(test_platform_destinations),
	    cmocka_unit_test(test_county_rules),
	    cmocka_unit_test(test_platform_gbt26875),
	    cmocka_unit_test(test_retention),
	    cmocka_unit_test(test_allowed_lookalikes),
	    cmocka_unit_test(test_bug_truncated_ints),
	    cmocka_unit_test(test_bug_unclosed_section),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
