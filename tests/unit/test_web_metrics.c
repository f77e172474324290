/* SPDX-License-Identifier: MIT */
/* test_web_metrics: firegw-web's /metrics text (tools/web/web_metrics.c) from a status reply:
 * the figures a fleet's Prometheus reads, each with its HELP and TYPE, label values escaped as
 * the text format asks (a quote, a backslash or a newline in a device id cannot end a label or
 * forge a sample), and only firegw_up 0 when firegw does not answer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "web_buf.h"
#include "web_metrics.h"

static char *metrics_of(const char *status_json)
{
	json_t *r = status_json ? json_loads(status_json, 0, NULL) : NULL;
	struct web_buf b;

	if (status_json)
		assert_non_null(r);
	web_buf_init(&b);
	web_metrics_text(&b, r);
	json_decref(r);
	char *t = web_buf_take(&b, NULL);
	assert_non_null(t);
	return t;
}

static void test_figures(void **state)
{
	(void)state;
	char *t = metrics_of(
	    "{\"ok\":true,\"uptime_s\":75,\"devices_total\":3,\"devices_online\":1,"
	    "\"devices_offline\":1,\"open_hazards\":{\"immediate\":2,\"major\":0,"
	    "\"significant\":1,\"general\":4},\"outbox\":{\"alarm\":5,\"telemetry\":7},"
	    "\"oldest_unsent_age_s\":30,\"disk_free_bytes\":1048576,"
	    "\"ledger\":{\"ok\":false,\"failed_commits\":3,\"events\":120,\"dead_letters\":1},"
	    "\"destinations\":[{\"name\":\"county\",\"enabled\":true,\"outbox\":5,"
	    "\"oldest_unsent_age_s\":30,\"requests\":9,\"accepted\":40,\"rejected\":1,"
	    "\"failures_in_a_row\":2}],"
	    "\"devices\":[{\"id\":\"box-1\",\"online\":true,\"counters\":{\"polls\":100,"
	    "\"failures\":4},\"values\":{\"leak\":{\"value\":12.5,\"unit\":\"mA\"},"
	    "\"t1\":{\"value\":null,\"unit\":\"degC\"}}},"
	    "{\"id\":\"smoke-9\",\"online\":false,\"counters\":{\"messages\":6,\"bad\":2},"
	    "\"values\":{\"battery\":{\"value\":80}}}]}");

	assert_non_null(strstr(t, "# TYPE firegw_up gauge\nfiregw_up 1\n"));
	assert_non_null(strstr(t, "firegw_uptime_seconds 75\n"));
	assert_non_null(strstr(t, "firegw_devices{state=\"online\"} 1\n"));
	assert_non_null(strstr(t, "firegw_devices{state=\"offline\"} 1\n"));
	assert_non_null(strstr(t, "firegw_devices{state=\"pending\"} 1\n"));
	assert_non_null(strstr(t, "firegw_device_online{device=\"box-1\"} 1\n"));
	assert_non_null(strstr(t, "firegw_device_online{device=\"smoke-9\"} 0\n"));
	assert_non_null(strstr(t, "# TYPE firegw_device_polls_total counter\n"));
	assert_non_null(strstr(t, "firegw_device_polls_total{device=\"box-1\"} 100\n"));
	assert_non_null(strstr(t, "firegw_device_polls_total{device=\"smoke-9\"} 6\n"));
	assert_non_null(strstr(t, "firegw_device_failures_total{device=\"box-1\"} 4\n"));
	assert_non_null(strstr(t, "firegw_device_failures_total{device=\"smoke-9\"} 2\n"));
	assert_non_null(strstr(t, "firegw_reading{device=\"box-1\",point=\"leak\"} 12.5\n"));
	/* No value, or an offline device: no sample (not a stale one). */
	assert_null(strstr(t, "point=\"t1\""));
	assert_null(strstr(t, "point=\"battery\""));
	assert_non_null(strstr(t, "firegw_open_hazards{grade=\"immediate\"} 2\n"));
	assert_non_null(strstr(t, "firegw_open_hazards{grade=\"general\"} 4\n"));
	assert_non_null(strstr(t, "firegw_outbox_events{lane=\"alarm\"} 5\n"));
	assert_non_null(strstr(t, "firegw_outbox_events{lane=\"telemetry\"} 7\n"));
	assert_non_null(strstr(t, "firegw_outbox_oldest_age_seconds 30\n"));
	assert_non_null(strstr(t, "firegw_destination_outbox_events{destination=\"county\"} 5\n"));
	assert_non_null(strstr(t, "firegw_destination_enabled{destination=\"county\"} 1\n"));
	assert_non_null(strstr(t, "firegw_uplink_requests_total{destination=\"county\"} 9\n"));
	assert_non_null(strstr(t, "firegw_uplink_rejected_total{destination=\"county\"} 1\n"));
	assert_non_null(strstr(t, "firegw_uplink_failures_in_a_row{destination=\"county\"} 2\n"));
	assert_non_null(strstr(t, "firegw_ledger_ok 0\n"));
	assert_non_null(strstr(t, "firegw_ledger_failed_commits_total 3\n"));
	assert_non_null(strstr(t, "firegw_ledger_events 120\n"));
	assert_non_null(strstr(t, "firegw_disk_free_bytes 1048576\n"));
	/* Every sample line is NAME[{LABELS}] VALUE. */
	for (char *line = strtok(t, "\n"); line; line = strtok(NULL, "\n")) {
		if (line[0] == '#')
			continue;
		assert_true(strspn(line, "abcdefghijklmnopqrstuvwxyz_") > 7);
		assert_non_null(strrchr(line, ' '));
	}
	free(t);
}

static void test_labels_escaped(void **state)
{
	(void)state;
	char *t = metrics_of("{\"devices\":[{\"id\":\"a\\\"b\\\\c\\nfiregw_up 0\",\"online\":true,"
	                     "\"values\":{\"x\":{\"value\":1}}}]}");

	assert_non_null(strstr(t, "firegw_device_online{device=\"a\\\"b\\\\c\\\\x0afiregw_up 0\"} 1\n"));
	assert_null(strstr(t, "\nfiregw_up 0"));
	free(t);
}

static void test_firegw_down(void **state)
{
	(void)state;
	char *t = metrics_of(NULL);

	assert_string_equal(t, "# HELP firegw_up 1 when firegw answers on its control socket\n"
	                       "# TYPE firegw_up gauge\nfiregw_up 0\n");
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_figures),
	    cmocka_unit_test(test_labels_escaped),
	    cmocka_unit_test(test_firegw_down),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
