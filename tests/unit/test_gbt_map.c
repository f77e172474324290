/* SPDX-License-Identifier: MIT */
/* test_gbt_map: what a ledger event becomes for a fire monitoring centre (docs/gbt26875.md
 * sections 3 and 4): a fire alarm as a type-2 fire status with the smoke detector's codes,
 * its clear as b0 normal, an electrical alarm as supervisory with its reading as an analog
 * value (residual current in mA under the configured type, or in 0.1 A), pre-alarms by the
 * convention, a per-device block's codes, the GB 18030 description cut on a character
 * boundary, the gateway's ledger as UITD status, and nothing for workflow events, test
 * alarms and readings out of range. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "conf.h"
#include "conf_gbt26875.h"
#include "gbt_map.h"
#include "testutil.h"

static struct conf *conf;
static char *dir;

static const char config[] =
    "mqtt {\n  host = \"127.0.0.1\"\n}\n"
    "device \"sa-1\" {\n  key = \"A1\"\n  profile = \"smoke-json\"\n  location = \"3F 走廊\"\n}\n"
    "device \"efd-1\" {\n  key = \"E1\"\n  profile = \"efd-json\"\n  location = \"配电间\"\n}\n"
    "device \"sa-2\" {\n  key = \"A2\"\n  profile = \"smoke-json\"\n}\n"
    "platform \"centre\" {\n  transport = \"gbt26875\"\n  url = \"gbt26875://c.invalid:9000\"\n"
    "  source_address = \"889\"\n"
    "  device \"sa-2\" {\n    system_type = 10\n    component_type = 42\n    loop = 9\n  }\n}\n";

static int setup(void **state)
{
	(void)state;
	dir = testutil_mkdtemp();
	conf = testutil_conf(dir, config);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	conf_free(conf);
	testutil_rmdir(dir);
	free(dir);
	return 0;
}

static struct conf_gbt26875 *centre(void)
{
	return conf->platforms[0].gbt;
}

/* An event as the ledger stores it (the fields gbt_map reads). */
static int map(const char *type, const char *kind, const char *device, const char *point,
               const char *extra, struct gbt_map_out *o)
{
	char body[1024];

	snprintf(body, sizeof(body),
	         "{\"event_id\":\"e\",\"seq\":1,\"type\":\"%s\",\"at\":\"2026-11-23T07:59:58.120Z\","
	         "\"hazard\":{\"kind\":\"%s\",\"device_id\":\"%s\",\"point\":\"%s\",%s}}",
	         type, kind, device, point, extra);
	return gbt_map_event(conf, centre(), body, 0, o);
}

static void test_fire_alarm_and_clear(void **state)
{
	struct gbt_map_out o;
	struct gbt26875_time t;
	uint8_t desc[GBT26875_DESC_LEN];

	(void)state;
	assert_int_equal(map("raised", "fire_alarm", "sa-1", "smoke",
	                     "\"active\":true,\"level\":\"alarm\",\"location\":\"3F 走廊\"", &o),
	                 0);
	assert_true(o.status && o.fire && !o.analog && !o.uitd);
	assert_int_equal(o.st.status, GBT26875_ST_FIRE);
	assert_int_equal(o.st.sys_type, 1);
	assert_int_equal(o.st.sys_addr, 1);
	assert_int_equal(o.st.comp_type, 40);
	assert_int_equal(o.st.comp_addr & 0xFFFF, 1);          /* the first device */
	assert_int_equal(o.st.comp_addr >> 16, 1);             /* its "smoke" channel */
	gbt26875_adu_desc("3F 走廊", desc);
	assert_memory_equal(o.st.desc, desc, sizeof(desc));
	/* The event's time, in the gateway's local time. */
	assert_int_equal(gbt26875_time_from_unix((time_t)1795420798, &t), GBT26875_OK);
	assert_memory_equal(&o.st.time, &t, sizeof(t));

	assert_int_equal(map("cleared", "fire_alarm", "sa-1", "smoke", "\"active\":false", &o), 0);
	assert_true(o.status && !o.fire);
	assert_int_equal(o.st.status, GBT26875_ST_NORMAL);

	/* A resync while the condition is present repeats it; once gone, it says normal. */
	assert_int_equal(map("resync", "fire_alarm", "sa-1", "smoke", "\"active\":true", &o), 0);
	assert_int_equal(o.st.status, GBT26875_ST_FIRE);
	assert_int_equal(map("resync", "fire_alarm", "sa-1", "smoke", "\"active\":false", &o), 0);
	assert_int_equal(o.st.status, GBT26875_ST_NORMAL);
}

static void test_electrical_alarm_and_reading(void **state)
{
	struct gbt_map_out o;
	uint8_t desc[GBT26875_DESC_LEN];

	(void)state;
	assert_int_equal(map("raised", "residual_current", "efd-1", "leak",
	                     "\"active\":true,\"level\":\"alarm\",\"value\":350,\"unit\":\"mA\","
	                     "\"location\":\"二层配电间东侧剩余电流式电气火灾监控探测器旁\"",
	                     &o),
	                 0);
	assert_true(o.status && !o.fire && o.analog);
	assert_int_equal(o.st.status, GBT26875_ST_SUPERVISORY);
	assert_int_equal(o.st.sys_type, 0);    /* no code for 电气火灾监控系统 */
	assert_int_equal(o.st.comp_type, 16);  /* residual current and temperature */
	assert_int_equal(o.st.comp_addr & 0xFFFF, 2);
	assert_int_equal(o.an.analog_type, 128);
	assert_int_equal(o.an.value, 350);
	assert_int_equal(o.an.comp_addr, o.st.comp_addr);
	/* 22 characters: 15 of them fit in 31 bytes, never half of the 16th. */
	gbt26875_adu_desc("二层配电间东侧剩余电流式电气火", desc);
	assert_memory_equal(o.st.desc, desc, sizeof(desc));
	assert_int_equal(o.st.desc[30], 0);

	centre()->residual_analog_type = 9; /* 0.1 A */
	assert_int_equal(map("raised", "residual_current", "efd-1", "leak",
	                     "\"active\":true,\"value\":350,\"unit\":\"mA\"", &o),
	                 0);
	assert_int_equal(o.an.analog_type, 9);
	assert_int_equal(o.an.value, 4);
	centre()->residual_analog_type = 128;

	assert_int_equal(map("raised", "overtemperature", "efd-1", "t1",
	                     "\"active\":true,\"value\":80.04,\"unit\":\"degC\"", &o),
	                 0);
	assert_int_equal(o.an.analog_type, 3);
	assert_int_equal(o.an.value, 800);

	/* A reading that does not fit 16 bits is not sent, and said so. */
	assert_int_equal(map("raised", "residual_current", "efd-1", "leak",
	                     "\"active\":true,\"value\":40000,\"unit\":\"mA\"", &o),
	                 0);
	assert_true(o.status && !o.analog && o.out_of_range);
}

static void test_pre_alarm_convention(void **state)
{
	struct gbt_map_out o;

	(void)state;
	assert_int_equal(map("raised", "fire_alarm", "sa-1", "smoke",
	                     "\"active\":true,\"level\":\"prealarm\"", &o),
	                 0);
	assert_true(o.status && !o.fire);
	assert_int_equal(o.st.status, GBT26875_ST_SUPERVISORY);
	centre()->pre_alarm = false;
	assert_int_equal(map("raised", "fire_alarm", "sa-1", "smoke",
	                     "\"active\":true,\"level\":\"prealarm\"", &o),
	                 0);
	assert_false(o.status);
	centre()->pre_alarm = true;
}

static void test_device_block_and_faults(void **state)
{
	struct gbt_map_out o;

	(void)state;
	assert_int_equal(map("raised", "fire_alarm", "sa-2", "smoke", "\"active\":true", &o), 0);
	assert_int_equal(o.st.sys_type, 10);
	assert_int_equal(o.st.comp_type, 42);
	assert_int_equal(o.st.comp_addr & 0xFFFF, 9);
	/* No location: the device's id. */
	uint8_t desc[GBT26875_DESC_LEN];
	gbt26875_adu_desc("sa-2", desc);
	assert_memory_equal(o.st.desc, desc, sizeof(desc));

	assert_int_equal(map("raised", "device_offline", "sa-1", "", "\"active\":true", &o), 0);
	assert_int_equal(o.st.status, GBT26875_ST_FAULT);
	assert_int_equal(o.st.comp_type, 40); /* the device's type, whatever the condition */
	assert_int_equal(map("raised", "low_battery", "sa-1", "battery", "\"active\":true", &o), 0);
	assert_int_equal(o.st.status, GBT26875_ST_BACKUP_POWER);
}

/* A gateway whose clock was never set (1970 after a power cut) still sends the alarm, with the
 * first time the protocol can carry. */
static void test_clock_not_set(void **state)
{
	struct gbt_map_out o;
	struct gbt26875_time t;

	(void)state;
	assert_int_equal(gbt_map_event(conf, centre(),
	                               "{\"type\":\"raised\",\"at\":\"1970-01-01T00:00:12.000Z\","
	                               "\"hazard\":{\"kind\":\"fire_alarm\",\"device_id\":\"sa-1\","
	                               "\"point\":\"smoke\",\"active\":true}}",
	                               0, &o),
	                 0);
	assert_true(o.status && o.fire);
	assert_int_equal(o.st.time.year, 0);
	assert_int_equal(o.st.time.mon, 1);
	assert_int_equal(o.st.time.day, 1);
	gbt_map_time(20000000000, &t); /* 2603 */
	assert_int_equal(t.year, 255);
	assert_true(gbt26875_time_valid(&t));
}

static void test_nothing_to_send(void **state)
{
	struct gbt_map_out o;
	static const char *const workflow[] = {"acknowledged", "assigned", "accepted", "closed",
	                                       "silenced", "overdue"};

	(void)state;
	for (size_t i = 0; i < sizeof(workflow) / sizeof(*workflow); i++) {
		assert_int_equal(map(workflow[i], "fire_alarm", "sa-1", "smoke", "\"active\":true", &o),
		                 0);
		assert_false(o.status || o.analog || o.uitd);
	}
	assert_int_equal(map("raised", "fire_alarm", "sa-1", "test",
	                     "\"active\":true,\"test\":true", &o),
	                 0);
	assert_false(o.status || o.analog || o.uitd);

	assert_int_equal(map("raised", "ledger_corrupt", "", "", "\"active\":true", &o), 0);
	assert_true(o.uitd && !o.status);
	assert_int_equal(o.uitd_status, GBT26875_UITD_FAULT);

	assert_int_equal(gbt_map_event(conf, centre(), "not json", 0, &o), -1);
	assert_int_equal(gbt_map_event(conf, centre(), "{\"type\":\"raised\"}", 0, &o), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fire_alarm_and_clear),
	    cmocka_unit_test(test_electrical_alarm_and_reading),
	    cmocka_unit_test(test_pre_alarm_convention),
	    cmocka_unit_test(test_device_block_and_faults),
	    cmocka_unit_test(test_clock_not_set),
	    cmocka_unit_test(test_nothing_to_send),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
