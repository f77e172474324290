/* SPDX-License-Identifier: MIT */
/* test_mqtt_map: how an MQTT message becomes values and an event by its profile: JSON
 * pointers, topic filters, the device key from a topic level or a field, types and scale,
 * event codes, timestamps, and every kind of bad payload (each one an error, none a crash). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "conf_errors.h"
#include "mqtt_map.h"
#include "profile_load.h"
#include "profile.h"
#include "testutil.h"

static struct profile *load(const char *name)
{
	struct conf_errors errs;
	struct profile *p;

	conf_errors_init(&errs);
	p = profile_load(testutil_profile_dir(), name, &errs);
	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "# %s\n", errs.items[i]);
	conf_errors_finish(&errs);
	assert_non_null(p);
	return p;
}

/* Parses and decodes one payload; returns the error (MM_OK when usable). */
static enum mqtt_map_err decode(const struct profile *p, const char *payload, size_t len,
                                struct mqtt_decoded *d)
{
	json_t *root;
	int rc;

	memset(d->detail, 0, sizeof(d->detail));
	d->err = MM_OK;
	root = mqtt_map_parse(payload, len, d);
	if (!root)
		return d->err;
	rc = mqtt_map_decode(p, root, d);
	json_decref(root);
	assert_true(rc == 0 ? d->err == MM_OK : d->err != MM_OK);
	return d->err;
}

static enum mqtt_map_err decode_s(const struct profile *p, const char *payload,
                                  struct mqtt_decoded *d)
{
	return decode(p, payload, strlen(payload), d);
}

static void test_pointer(void **state)
{
	json_t *j = json_loads("{\"a\": {\"b\": [10, {\"c\": 3}]}, \"x/y\": 1, \"m~n\": 2, \"\": 7,"
	                       " \"data\": [{\"value\": 12.5}]}",
	                       0, NULL);

	(void)state;
	assert_non_null(j);
	assert_ptr_equal(mqtt_map_pointer(j, ""), j);
	assert_int_equal(json_integer_value(mqtt_map_pointer(j, "/a/b/0")), 10);
	assert_int_equal(json_integer_value(mqtt_map_pointer(j, "/a/b/1/c")), 3);
	assert_int_equal(json_integer_value(mqtt_map_pointer(j, "/x~1y")), 1);
	assert_int_equal(json_integer_value(mqtt_map_pointer(j, "/m~0n")), 2);
	assert_int_equal(json_integer_value(mqtt_map_pointer(j, "/")), 7);
	assert_true(json_real_value(mqtt_map_pointer(j, "/data/0/value")) == 12.5);
	assert_null(mqtt_map_pointer(j, "/a/b/2"));
	assert_null(mqtt_map_pointer(j, "/a/b/01"));
	assert_null(mqtt_map_pointer(j, "/a/b/-"));
	assert_null(mqtt_map_pointer(j, "/a/b/-1"));
	assert_null(mqtt_map_pointer(j, "/a/b/99999999999999999999999"));
	assert_null(mqtt_map_pointer(j, "/a/b/0/deeper"));
	assert_null(mqtt_map_pointer(j, "a"));
	assert_null(mqtt_map_pointer(j, "/x~2y"));
	assert_true(mqtt_map_pointer_valid("/a~0~1"));
	assert_false(mqtt_map_pointer_valid("/a~"));
	assert_false(mqtt_map_pointer_valid("alarm"));
	json_decref(j);
}

static void test_topics(void **state)
{
	(void)state;
	assert_true(mqtt_map_filter_valid("smoke/+/event"));
	assert_true(mqtt_map_filter_valid("#"));
	assert_true(mqtt_map_filter_valid("a/#"));
	assert_false(mqtt_map_filter_valid("a/b#"));
	assert_false(mqtt_map_filter_valid("a/#/b"));
	assert_false(mqtt_map_filter_valid("a+/b"));
	assert_false(mqtt_map_filter_valid(""));

	assert_true(mqtt_map_topic_matches("smoke/+/event", "smoke/860001/event"));
	assert_false(mqtt_map_topic_matches("smoke/+/event", "smoke/860001/state"));
	assert_false(mqtt_map_topic_matches("smoke/+/event", "smoke/a/b/event"));
	assert_false(mqtt_map_topic_matches("smoke/+/event", "smoke/event"));
	assert_true(mqtt_map_topic_matches("smoke/+/event", "smoke//event"));
	assert_true(mqtt_map_topic_matches("smoke/#", "smoke/a/b/c"));
	assert_true(mqtt_map_topic_matches("smoke/#", "smoke"));
	assert_false(mqtt_map_topic_matches("smoke/#", "smokes/a"));
	assert_true(mqtt_map_topic_matches("#", "a/b"));
	assert_false(mqtt_map_topic_matches("#", "$SYS/broker"));
	assert_false(mqtt_map_topic_matches("+/broker", "$SYS/broker"));
	assert_true(mqtt_map_topic_matches("a/b", "a/b"));
	assert_false(mqtt_map_topic_matches("a/b", "a/bc"));
	assert_false(mqtt_map_topic_matches("a/bc", "a/b"));
	assert_false(mqtt_map_topic_matches("a/b", "a/b/c"));
	assert_int_equal(mqtt_map_topic_levels("smoke/+/event"), 3);
}

static void test_key(void **state)
{
	struct profile *codes = load("smoke-codes"), *js = load("smoke-json");
	struct mqtt_decoded d = {.err = MM_OK};
	char key[MQTT_MAP_KEY_LEN];
	json_t *j;

	(void)state;
	assert_int_equal(
	    mqtt_map_key(&codes->mqtt, "smoke/860001/event", NULL, key, sizeof(key), &d), 0);
	assert_string_equal(key, "860001");
	assert_int_equal(mqtt_map_key(&codes->mqtt, "smoke//event", NULL, key, sizeof(key), &d),
	                 -1);
	assert_int_equal(d.err, MM_NO_KEY);
	assert_int_equal(mqtt_map_key(&codes->mqtt, "smoke", NULL, key, sizeof(key), &d), -1);

	j = json_loads("{\"id\": \"A-2\"}", 0, NULL);
	assert_int_equal(mqtt_map_key(&js->mqtt, "smoke/x/state", j, key, sizeof(key), &d), 0);
	assert_string_equal(key, "A-2");
	json_decref(j);
	j = json_loads("{\"id\": 860002}", 0, NULL);
	assert_int_equal(mqtt_map_key(&js->mqtt, "smoke/x/state", j, key, sizeof(key), &d), 0);
	assert_string_equal(key, "860002");
	json_decref(j);
	const char *bad[] = {
	    "{\"id\": true}", "{\"id\": \"\"}",          "{\"id\": {}}",
	    "{\"x\": 1}",     "{\"id\": \"a\\u0001b\"}", "{\"id\": \"a\\u0000b\"}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		j = json_loads(bad[i], JSON_ALLOW_NUL, NULL);
		assert_non_null(j);
		d.err = MM_OK;
		assert_int_equal(mqtt_map_key(&js->mqtt, "smoke/x/state", j, key, sizeof(key), &d),
		                 -1);
		assert_int_equal(d.err, MM_NO_KEY);
		json_decref(j);
	}
	assert_int_equal(mqtt_map_key(&js->mqtt, "smoke/x/state", NULL, key, sizeof(key), &d), -1);
	profile_free(codes);
	profile_free(js);
}

static void test_event_codes(void **state)
{
	struct profile *p = load("smoke-codes");
	double v[8];
	struct mqtt_decoded d = {.values = v};
	struct {
		const char *payload;
		int raise, silence, test;
		uint32_t clear;
	} cases[] = {
	    {"{\"code\": 1}", KIND_FIRE_ALARM, -1, -1, 0},
	    {"{\"code\": \"1\"}", KIND_FIRE_ALARM, -1, -1, 0},
	    {"{\"code\": 1.0}", KIND_FIRE_ALARM, -1, -1, 0},
	    {"{\"code\": 2}", -1, KIND_FIRE_ALARM, -1, 0},
	    {"{\"code\": 4}", KIND_LOW_BATTERY, -1, -1, 0},
	    {"{\"code\": 5}", KIND_DEVICE_FAULT, -1, -1, 0},
	    {"{\"code\": 7}", -1, -1, -1,
	     1u << KIND_FIRE_ALARM | 1u << KIND_DEVICE_FAULT | 1u << KIND_LOW_BATTERY},
	    {"{\"code\": 10}", KIND_TAMPER, -1, -1, 0},
	    {"{\"code\": 11}", -1, -1, -1, 1u << KIND_TAMPER},
	    {"{\"code\": 14}", -1, -1, KIND_FIRE_ALARM, 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(decode_s(p, cases[i].payload, &d), MM_OK);
		assert_non_null(d.event);
		assert_int_equal(d.event->raise, cases[i].raise);
		assert_int_equal(d.event->silence, cases[i].silence);
		assert_int_equal(d.event->test, cases[i].test);
		assert_int_equal(d.event->clear, cases[i].clear);
		assert_string_equal(d.event->channel, cases[i].test >= 0 ? "test" : "smoke");
	}
	/* No code: a heartbeat with a battery level. */
	assert_int_equal(decode_s(p, "{\"battery\": 88, \"ts\": 1795000000}", &d), MM_OK);
	assert_null(d.event);
	assert_true(d.have_ts);
	assert_true(d.ts_ms == 1795000000000LL);
	assert_true(v[0] == 88);
	const char *unknown[] = {"{\"code\": 99}", "{\"code\": 1.5}", "{\"code\": \"alarm\"}",
	                         "{\"code\": -1}"};
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		enum mqtt_map_err e = decode_s(p, unknown[i], &d);

		assert_true(e == MM_UNKNOWN_CODE || e == MM_BAD_TYPE);
		assert_true(d.detail[0]);
	}
	assert_int_equal(decode_s(p, "{\"code\": 99}", &d), MM_UNKNOWN_CODE);
	assert_int_equal(decode_s(p, "{\"code\": [1]}", &d), MM_BAD_TYPE);
	assert_int_equal(decode_s(p, "{\"code\": true}", &d), MM_BAD_TYPE);
	assert_int_equal(decode_s(p, "{\"code\": null}", &d), MM_OK);
	profile_free(p);
}

static void test_values_types_scale(void **state)
{
	struct profile *efd = load("efd-json"), *js = load("smoke-json");
	double v[8];
	struct mqtt_decoded d = {.values = v};
	const struct point *leak = profile_point(efd, "leak"), *t2 = profile_point(efd, "t2");

	(void)state;
	assert_string_equal(leak->pointer, "/data/0/value");
	assert_int_equal(
	    decode_s(efd,
	             "{\"data\": [{\"ch\": \"leak\", \"value\": 350}, {\"value\": 20.5},"
	             " {\"value\": 71}], \"fault\": false, \"ts\": "
	             "\"2026-11-23T08:00:00.250Z\"}",
	             &d),
	    MM_OK);
	assert_true(v[leak - efd->points] == 350);
	assert_true(v[t2 - efd->points] == 71);
	assert_true(isnan(v[profile_point(efd, "t4") - efd->points]));
	assert_true(v[profile_point(efd, "fault") - efd->points] == 0);
	assert_int_equal(d.nvalues, 4);
	assert_true(d.have_ts);
	assert_true(d.ts_ms == 1795420800250LL);

	/* bool takes true/false and 0/1; number takes no string; scale applies. */
	assert_int_equal(decode_s(js, "{\"id\": \"a\", \"alarm\": true, \"battery\": 50}", &d),
	                 MM_OK);
	assert_true(v[profile_point(js, "alarm") - js->points] == 1);
	assert_int_equal(decode_s(js, "{\"id\": \"a\", \"alarm\": 0}", &d), MM_OK);
	assert_true(v[profile_point(js, "alarm") - js->points] == 0);
	assert_int_equal(decode_s(js, "{\"id\": \"a\", \"alarm\": 2}", &d), MM_BAD_TYPE);
	assert_int_equal(decode_s(js, "{\"id\": \"a\", \"alarm\": \"yes\"}", &d), MM_BAD_TYPE);
	assert_int_equal(decode_s(js, "{\"id\": \"a\", \"battery\": \"50\"}", &d), MM_BAD_TYPE);
	assert_non_null(strstr(d.detail, "battery"));
	assert_int_equal(decode_s(js, "{\"id\": \"a\", \"battery\": 1e400}", &d), MM_NOT_JSON);
	assert_int_equal(decode_s(js, "{\"id\": \"a\", \"battery\": null}", &d), MM_OK);
	assert_int_equal(d.nvalues, 0);
	assert_int_equal(decode_s(js, "{\"id\": \"a\", \"event\": \"test\"}", &d), MM_OK);
	assert_int_equal(d.event->test, KIND_FIRE_ALARM);
	assert_int_equal(decode_s(js, "{\"id\": \"a\", \"ts\": \"yesterday\"}", &d), MM_BAD_TYPE);
	assert_int_equal(decode_s(js, "{\"id\": \"a\", \"ts\": -5}", &d), MM_BAD_TYPE);
	assert_int_equal(decode_s(js, "{\"id\": \"a\", \"ts\": 1795000000123}", &d), MM_OK);
	assert_true(d.ts_ms == 1795000000123LL);

	/* A scaled string point, by hand. */
	struct point pt = {.name = (char *)"t",
	                   .pointer = (char *)"/t",
	                   .jtype = JV_STRING,
	                   .scale = 0.1,
	                   .offset = -1};
	struct profile hand = {.name = (char *)"hand", .points = &pt, .npoints = 1};
	assert_int_equal(decode_s(&hand, "{\"t\": \"235\"}", &d), MM_OK);
	assert_true(fabs(v[0] - 22.5) < 1e-9);
	assert_int_equal(decode_s(&hand, "{\"t\": \"23x\"}", &d), MM_BAD_TYPE);
	assert_int_equal(decode_s(&hand, "{\"t\": \"\"}", &d), MM_BAD_TYPE);
	profile_free(efd);
	profile_free(js);
}

static void test_bad_payloads(void **state)
{
	struct profile *p = load("smoke-json");
	double v[8];
	struct mqtt_decoded d = {.values = v};
	char *big = malloc(MQTT_MAP_MAX_PAYLOAD + 2);
	struct {
		const char *payload;
		size_t len;
		enum mqtt_map_err want;
	} cases[] = {
	    {"", 0, MM_NOT_JSON},
	    {"garbage", 7, MM_NOT_JSON},
	    {"{\"id\": \"a\"", 10, MM_NOT_JSON},
	    {"{\"id\": \"a\", \"id\": \"b\"}", 22, MM_NOT_JSON}, /* duplicate keys */
	    {"42", 2, MM_NOT_OBJECT},
	    {"\"alarm\"", 7, MM_NOT_OBJECT},
	    {"null", 4, MM_NOT_OBJECT},
	    {"{\"id\": \"\xff\"}", 11, MM_UTF8},
	    {"{\"id\": \"\xc0\xaf\"}", 12, MM_UTF8},         /* overlong '/' */
	    {"{\"id\": \"\xed\xa0\x80\"}", 13, MM_UTF8},     /* a surrogate */
	    {"{\"id\": \"\xf4\x90\x80\x80\"}", 14, MM_UTF8}, /* past U+10FFFF */
	    {"{\"id\": \"\xe4\xb8\"}", 12, MM_UTF8},         /* cut short */
	    {"{\"id\": \"a\0b\"}", 12, MM_NOT_JSON},         /* a NUL byte */
	    {"{\"id\": \"\\ud800\"}", 16, MM_NOT_JSON},      /* a lone surrogate escape */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum mqtt_map_err e = decode(p, cases[i].payload, cases[i].len, &d);

		if (e != cases[i].want)
			fprintf(stderr, "# case %zu: got %s (%s), want %s\n", i,
			        mqtt_map_err_name(e), d.detail, mqtt_map_err_name(cases[i].want));
		assert_int_equal(e, cases[i].want);
		assert_true(d.detail[0]);
	}
	/* Valid UTF-8 beyond ASCII is fine. */
	assert_int_equal(decode_s(p, "{\"id\": \"烟感-1\", \"battery\": 80}", &d), MM_OK);
	/* Too big: refused unread, however valid. */
	assert_non_null(big);
	memset(big, ' ', MQTT_MAP_MAX_PAYLOAD + 1);
	big[0] = '{';
	big[MQTT_MAP_MAX_PAYLOAD] = '}';
	assert_int_equal(decode(p, big, MQTT_MAP_MAX_PAYLOAD + 1, &d), MM_TOO_BIG);
	assert_int_equal(decode(p, big + 1, MQTT_MAP_MAX_PAYLOAD, &d), MM_NOT_JSON);
	big[1] = '{';
	assert_int_equal(decode(p, big + 1, MQTT_MAP_MAX_PAYLOAD, &d), MM_OK);
	/* Deep nesting stays bounded by the size limit. */
	for (size_t i = 0; i < MQTT_MAP_MAX_PAYLOAD / 2; i++) {
		big[i] = '[';
		big[MQTT_MAP_MAX_PAYLOAD - 1 - i] = ']';
	}
	enum mqtt_map_err e = decode(p, big, MQTT_MAP_MAX_PAYLOAD, &d);
	assert_true(e == MM_OK || e == MM_NOT_JSON);
	free(big);
	profile_free(p);
}

static void test_profile_errors(void **state)
{
	char *dir = testutil_mkdtemp();
	struct conf_errors errs;
	struct {
		const char *text, *want;
	} cases[] = {
	    {"mqtt {\n  key_level = 2\n}\nevent \"1\" { raise = \"fire_alarm\" }\n",
	     "subscribe is required"},
	    {"mqtt {\n  subscribe = {\"a/+/b\"}\n}\npoint \"v\" { pointer = \"/v\" }\n",
	     "say where the device key is"},
	    {"mqtt {\n  subscribe = {\"a/b+\"}\n  key_level = 1\n}\npoint \"v\" { pointer = \"/v\" "
	     "}\n",
	     "is not a topic filter"},
	    {"mqtt {\n  subscribe = {\"a/+\"}\n  key_level = 3\n}\npoint \"v\" { pointer = \"/v\" "
	     "}\n",
	     "key_level 3 is past the last level"},
	    {"mqtt {\n  subscribe = {\"a/+\"}\n  key_level = 2\n}\npoint \"v\" { address = 3 }\n",
	     "pointer is required"},
	    {"mqtt {\n  subscribe = {\"a/+\"}\n  key_level = 2\n}\npoint \"v\" { pointer = \"v\" "
	     "}\n",
	     "is not a JSON pointer"},
	    {"mqtt {\n  subscribe = {\"a/+\"}\n  key_level = 2\n}\npoint \"v\" { pointer = \"/v\" "
	     "type = \"u16\" }\n",
	     "not one of number, bool, string"},
	    {"mqtt {\n  subscribe = {\"a/+\"}\n  key_level = 2\n}\nevent \"1\" { raise = "
	     "\"fire_alarm\" }\n",
	     "no event = "},
	    {"mqtt {\n  subscribe = {\"a/+\"}\n  key_level = 2\n  event = \"/c\"\n}\nevent \"1\" { "
	     "raise = \"smoke\" }\n",
	     "unknown hazard kind 'smoke'"},
	    {"mqtt {\n  subscribe = {\"a/+\"}\n  key_level = 2\n  event = \"/c\"\n}\nevent \"1\" { "
	     "raise = \"tamper\" silence = \"fire_alarm\" }\n",
	     "does one of raise, silence or test"},
	    {"point \"v\" { pointer = \"/v\" }\n", "pointer is for MQTT profiles"},
	    {"point \"v\" { address = 1 }\nevent \"1\" { raise = \"tamper\" }\n",
	     "event codes are for MQTT profiles"},
	    {"mqtt {\n  subscribe = {\"a/+\"}\n  key_level = 2\n}\n", "has no point and no event"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool found = false;

		free(testutil_write(dir, "p.conf", cases[i].text));
		conf_errors_init(&errs);
		assert_null(profile_load(dir, "p", &errs));
		for (size_t k = 0; k < errs.n; k++) {
			found = found || strstr(errs.items[k], cases[i].want);
			/* every error says file:line */
			assert_non_null(strstr(errs.items[k], "p.conf:"));
		}
		if (!found)
			for (size_t k = 0; k < errs.n; k++)
				fprintf(stderr, "# case %zu: %s\n", i, errs.items[k]);
		assert_true(found);
		conf_errors_finish(&errs);
	}
	testutil_rmdir(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pointer),
	    cmocka_unit_test(test_topics),
	    cmocka_unit_test(test_key),
	    cmocka_unit_test(test_event_codes),
	    cmocka_unit_test(test_values_types_scale),
	    cmocka_unit_test(test_bad_payloads),
	    cmocka_unit_test(test_profile_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
