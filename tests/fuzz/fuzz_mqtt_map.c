/* SPDX-License-Identifier: MIT */
/* fuzz_mqtt_map: libFuzzer target for the MQTT payload mapping. An input is a topic, a newline
 * and a payload; its first byte picks one of the shipped MQTT profiles. Every input must be
 * decoded or refused with a reason, never crash, leak or read out of bounds.
 *
 *   FIREGW_SOURCE_ROOT=. build-fuzz/tests/fuzz-mqtt-map -max_len=20000 corpus/ */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_errors.h"
#include "mqtt_map.h"
#include "profile_load.h"
#include "profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct profile *profiles[3];

static void fuzz_load(void)
{
	static const char *const names[3] = {"smoke-json", "smoke-codes", "efd-json"};
	const char *src = getenv("FIREGW_SOURCE_ROOT");
	char dir[4096];
	struct conf_errors errs;

	snprintf(dir, sizeof(dir), "%s/config/profiles", src ? src : ".");
	for (int i = 0; i < 3; i++) {
		conf_errors_init(&errs);
		profiles[i] = profile_load(dir, names[i], &errs);
		conf_errors_finish(&errs);
		if (!profiles[i]) {
			fprintf(stderr, "fuzz: cannot load profile %s from %s\n", names[i], dir);
			abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char topic[256], key[MQTT_MAP_KEY_LEN];
	double values[16];
	struct mqtt_decoded d = {.values = values};
	const struct profile *p;
	const uint8_t *nl;
	size_t tlen;
	json_t *root;

	if (!profiles[0])
		fuzz_load();
	if (size < 1)
		return 0;
	p = profiles[data[0] % 3];
	data++;
	size--;
	nl = memchr(data, '\n', size < sizeof(topic) ? size : sizeof(topic) - 1);
	tlen = nl ? (size_t)(nl - data) : 0;
	memcpy(topic, data, tlen);
	topic[tlen] = '\0';
	if (nl) {
		data += tlen + 1;
		size -= tlen + 1;
	}
	for (size_t i = 0; i < p->mqtt.nsubscribe; i++)
		(void)mqtt_map_topic_matches(p->mqtt.subscribe[i], topic);
	(void)mqtt_map_filter_valid(topic);
	root = mqtt_map_parse(data, size, &d);
	(void)mqtt_map_key(&p->mqtt, topic, root, key, sizeof(key), &d);
	if (root && mqtt_map_decode(p, root, &d) == 0) {
		for (size_t i = 0; i < p->npoints; i++)
			if (!isnan(values[i]) && !isfinite(values[i]))
				abort(); /* a value that reaches the rules is finite */
	}
	json_decref(root);
	return 0;
}
