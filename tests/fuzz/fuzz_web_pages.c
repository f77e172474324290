/* SPDX-License-Identifier: MIT */
/* fuzz_web_pages: libFuzzer target for what firegw-web reads itself. libmicrohttpd parses the
 * HTTP; firegw-web checks the Host header, picks the language from Accept-Language and builds
 * its pages from the daemon's control replies, whose strings come from devices, configs and
 * the platform. The input is one header value (tried as Host and as Accept-Language), a
 * newline, then a JSON reply; the reply is rendered by every page builder (web_pages.c) and as
 * /metrics (web_metrics.c), as firegw-web would render a reply of any shape.
 *
 * Holds: no crash, no leak; only loopback names pass as Host; every page is either refused
 * whole (over its bound) or a document that ends with </html>, and "<x-fuzz" (in the corpus's
 * replies, and the user name here) never reaches a page unescaped; every /metrics line is a
 * comment or a sample with its labels closed.
 *
 *   build-fuzz/tests/fuzz-web-pages -max_len=8192 tests/fuzz/corpus/web_pages */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "web_buf.h"
#include "web_listen.h"
#include "web_metrics.h"
#include "web_pages.h"
#include "web_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(struct web_buf *b)
{
	size_t len;
	char *page = web_buf_take(b, &len);

	if (!page)
		return;
	if (len < 8 || strcmp(page + len - 8, "</html>\n") != 0)
		abort();
	/* "<x-fuzz" may only appear if it came through unescaped. */
	if (strstr(page, "<x-fuzz"))
		abort();
	free(page);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	char accept[256];
	size_t alen = nl ? (size_t)(nl - data) : size;
	json_t *reply;

	if (alen >= sizeof(accept))
		alen = sizeof(accept) - 1;
	memcpy(accept, data, alen);
	accept[alen] = '\0';
	/* The first line is also a Host header: only loopback names pass. */
	if (web_listen_host_ok(accept) &&
	    strncmp(accept, "127.0.0.1", 9) != 0 && strncmp(accept, "[::1]", 5) != 0 &&
	    strncasecmp(accept, "localhost", 9) != 0)
		abort();
	enum web_lang lang = web_text_lang(NULL, NULL, accept);
	if (lang != WEB_LANG_ZH && lang != WEB_LANG_EN)
		abort();
	if (!nl)
		return 0;
	reply = json_loadb((const char *)nl + 1, size - alen - 1, 0, NULL);
	if (!reply)
		return 0;
	struct web_page p = {.lang = lang, .csrf = "00", .user = "<x-fuzz>"};
	struct web_buf b;

	web_buf_init(&b);
	web_pages_overview(&b, &p, reply);
	check(&b);
	web_buf_init(&b);
	web_pages_devices(&b, &p, reply);
	check(&b);
	web_buf_init(&b);
	web_pages_hazards(&b, &p, reply, "open", "immediate");
	check(&b);
	web_buf_init(&b);
	web_pages_hazards(&b, &p, reply, "closed", "");
	check(&b);
	web_buf_init(&b);
	web_pages_hazard(&b, &p, reply);
	check(&b);
	web_buf_init(&b);
	web_pages_error(&b, &p, json_string_value(json_object_get(reply, "error")));
	check(&b);
	/* The commissioning page: the reply as the devices and as the followed job. */
	web_buf_init(&b);
	web_pages_commission(&b, &p, reply, reply);
	check(&b);
	web_buf_init(&b);
	web_pages_commission(&b, &p, reply, NULL);
	check(&b);
	/* /metrics: every line a comment or NAME[{LABELS}] VALUE, the labels closed. */
	web_buf_init(&b);
	web_metrics_text(&b, reply);
	char *m = web_buf_take(&b, NULL);
	for (char *line = m; line && *line;) {
		char *end = strchr(line, '\n');

		if (!end || (line[0] != '#' && strncmp(line, "firegw_", 7) != 0))
			abort();
		*end = '\0';
		char *brace = strchr(line, '{');
		if (line[0] != '#' && brace && !strstr(brace, "\"} "))
			abort();
		line = end + 1;
	}
	free(m);
	json_decref(reply);
	return 0;
}
