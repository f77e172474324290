/* SPDX-License-Identifier: MIT */
/* mqtt_map: payload bounds, JSON pointers, topic filters and the profile's mapping. */
#include "mqtt_map.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const err_names[MM_ERR_COUNT] = {
    [MM_OK] = "ok",
    [MM_TOO_BIG] = "payload too big",
    [MM_UTF8] = "invalid UTF-8",
    [MM_NOT_JSON] = "not JSON",
    [MM_NOT_OBJECT] = "not a JSON object",
    [MM_NO_KEY] = "no device key",
    [MM_BAD_TYPE] = "wrong type",
    [MM_UNKNOWN_CODE] = "unknown event code",
};

const char *mqtt_map_err_name(enum mqtt_map_err e)
{
	return (unsigned)e < MM_ERR_COUNT ? err_names[e] : "unknown";
}

static int mqtt_map_fail(struct mqtt_decoded *out, enum mqtt_map_err e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int mqtt_map_fail(struct mqtt_decoded *out, enum mqtt_map_err e, const char *fmt, ...)
{
	va_list ap;

	out->err = e;
	va_start(ap, fmt);
	vsnprintf(out->detail, sizeof(out->detail), fmt, ap);
	va_end(ap);
	return -1;
}

bool mqtt_map_utf8_valid(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i];
		size_t len;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF) {
			len = 2;
			cp = c & 0x1F;
		} else if (c >= 0xE0 && c <= 0xEF) {
			len = 3;
			cp = c & 0x0F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			len = 4;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (n - i < len)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		/* No overlong forms, no surrogates, nothing past U+10FFFF. */
		if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
		    (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += len;
	}
	return true;
}

bool mqtt_map_pointer_valid(const char *ptr)
{
	if (!ptr)
		return false;
	if (*ptr == '\0')
		return true;
	if (*ptr != '/')
		return false;
	for (const char *c = ptr; *c; c++)
		if (*c == '~' && c[1] != '0' && c[1] != '1')
			return false;
	return true;
}

/* Copies one reference token of `ptr` (up to the next '/') unescaped into buf. Returns the
 * position after it, or NULL if it does not fit. */
static const char *mqtt_map_token(const char *ptr, char *buf, size_t n)
{
	size_t k = 0;

	for (; *ptr && *ptr != '/'; ptr++) {
		char c = *ptr;

		if (c == '~') {
			ptr++;
			c = *ptr == '0' ? '~' : '/';
		}
		if (k + 1 >= n)
			return NULL;
		buf[k++] = c;
	}
	buf[k] = '\0';
	return ptr;
}

json_t *mqtt_map_pointer(json_t *root, const char *ptr)
{
	char tok[256];
	json_t *cur = root;

	if (!root || !mqtt_map_pointer_valid(ptr))
		return NULL;
	while (cur && *ptr == '/') {
		ptr = mqtt_map_token(ptr + 1, tok, sizeof(tok));
		if (!ptr)
			return NULL;
		if (json_is_object(cur)) {
			cur = json_object_get(cur, tok);
		} else if (json_is_array(cur)) {
			char *end;
			unsigned long long i;

			/* Digits only, no leading zero (RFC 6901); "-" is past the end. */
			if (!tok[0] || (tok[0] == '0' && tok[1]) || tok[0] < '0' || tok[0] > '9')
				return NULL;
			errno = 0;
			i = strtoull(tok, &end, 10);
			if (*end || errno || i >= json_array_size(cur))
				return NULL;
			cur = json_array_get(cur, (size_t)i);
		} else {
			return NULL;
		}
	}
	return cur;
}

int mqtt_map_topic_levels(const char *topic)
{
	int n = 1;

	for (; *topic; topic++)
		n += *topic == '/';
	return n;
}

bool mqtt_map_filter_valid(const char *f)
{
	size_t n;

	if (!f || !*f || (n = strlen(f)) > 65535 || !mqtt_map_utf8_valid(f, n))
		return false;
	for (size_t i = 0; i < n; i++) {
		bool start = i == 0 || f[i - 1] == '/';
		bool end = i + 1 == n || f[i + 1] == '/';

		if (f[i] == '+' && !(start && end))
			return false;
		if (f[i] == '#' && !(start && i + 1 == n))
			return false;
	}
	return true;
}

bool mqtt_map_topic_matches(const char *f, const char *t)
{
	/* Wildcards at the first level do not match $SYS and other $ topics. */
	if (*t == '$' && (*f == '+' || *f == '#'))
		return false;
	while (*f) {
		if (*f == '#')
			return true;
		if (*f == '+') {
			while (*t && *t != '/')
				t++;
			f++;
		} else {
			while (*f && *f != '/') {
				if (*f != *t)
					return false;
				f++;
				t++;
			}
			if (*t && *t != '/')
				return false;
		}
		/* Both at the end of a level. */
		if (*f == '\0')
			return *t == '\0';
		if (*t == '\0')
			/* "a/#" matches "a" too. */
			return f[0] == '/' && f[1] == '#' && f[2] == '\0';
		f++;
		t++;
	}
	return *t == '\0';
}

json_t *mqtt_map_parse(const void *payload, size_t len, struct mqtt_decoded *out)
{
	json_error_t jerr;
	json_t *root;

	if (len > MQTT_MAP_MAX_PAYLOAD) {
		mqtt_map_fail(out, MM_TOO_BIG, "%zu bytes, more than the %d allowed", len,
		              MQTT_MAP_MAX_PAYLOAD);
		return NULL;
	}
	if (len == 0) {
		mqtt_map_fail(out, MM_NOT_JSON, "empty payload");
		return NULL;
	}
	if (!mqtt_map_utf8_valid(payload, len)) {
		mqtt_map_fail(out, MM_UTF8, "the payload is not valid UTF-8");
		return NULL;
	}
	root = json_loadb(payload, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		mqtt_map_fail(out, MM_NOT_JSON, "%s at byte %d", jerr.text, jerr.position);
		return NULL;
	}
	if (!json_is_object(root) && !json_is_array(root)) {
		json_decref(root);
		mqtt_map_fail(out, MM_NOT_OBJECT, "a bare JSON value, not an object");
		return NULL;
	}
	return root;
}

static const char *json_type_word(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "?";
}

/* A short printable token (key or code): no control characters, fits. */
static bool mqtt_map_token_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n >= max)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

/* An integer or string as text (a key or an event code). 0, or -1 if of another type. */
static int mqtt_map_text(const json_t *v, char *buf, size_t n)
{
	if (json_is_integer(v)) {
		snprintf(buf, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return 0;
	}
	if (json_is_real(v)) {
		double d = json_real_value(v);

		/* 1.0 is the code 1; 1.5 is no code. */
		if (d != floor(d) || fabs(d) > 1e15)
			return -1;
		snprintf(buf, n, "%.0f", d);
		return 0;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);

		if (strlen(s) != json_string_length(v)) /* an embedded NUL */
			return -1;
		snprintf(buf, n, "%s", s);
		return strlen(s) < n ? 0 : -1;
	}
	return -1;
}

int mqtt_map_key(const struct mqtt_profile *m, const char *topic, json_t *root, char *key,
                 size_t keylen, struct mqtt_decoded *out)
{
	key[0] = '\0';
	if (m->key_level > 0) {
		const char *s = topic;
		size_t n;

		for (int l = 1; l < m->key_level && s; l++) {
			s = strchr(s, '/');
			if (s)
				s++;
		}
		if (!s)
			return mqtt_map_fail(out, MM_NO_KEY, "topic '%.80s' has no level %d", topic,
			                     m->key_level);
		n = strcspn(s, "/");
		if (n == 0 || n >= keylen)
			return mqtt_map_fail(out, MM_NO_KEY, "level %d of topic '%.80s' is %s",
			                     m->key_level, topic,
			                     n ? "too long for a key" : "empty");
		memcpy(key, s, n);
		key[n] = '\0';
		if (!mqtt_map_token_ok(key, keylen)) {
			key[0] = '\0';
			return mqtt_map_fail(out, MM_NO_KEY, "level %d of topic '%.80s' is no key",
			                     m->key_level, topic);
		}
		return 0;
	}
	if (!root)
		return mqtt_map_fail(out, MM_NO_KEY,
		                     "the key is in the payload, which did not "
		                     "parse");
	json_t *v = mqtt_map_pointer(root, m->key_pointer);
	if (!v)
		return mqtt_map_fail(out, MM_NO_KEY, "no %s in the payload", m->key_pointer);
	if (mqtt_map_text(v, key, keylen) < 0 || !mqtt_map_token_ok(key, keylen)) {
		key[0] = '\0';
		return mqtt_map_fail(out, MM_NO_KEY, "%s is %s, not a usable key", m->key_pointer,
		                     json_type_word(v));
	}
	return 0;
}

static int mqtt_map_value(const struct point *pt, const json_t *v, double *out)
{
	double raw;

	switch (pt->jtype) {
	case JV_NUMBER:
		if (!json_is_number(v))
			return -1;
		raw = json_number_value(v);
		break;
	case JV_BOOL:
		if (json_is_boolean(v))
			raw = json_is_true(v);
		else if (json_is_integer(v) &&
		         (json_integer_value(v) == 0 || json_integer_value(v) == 1))
			raw = (double)json_integer_value(v);
		else
			return -1;
		break;
	case JV_STRING: {
		const char *s = json_string_value(v);
		char *end;

		if (!s || !*s)
			return -1;
		errno = 0;
		raw = strtod(s, &end);
		while (*end == ' ')
			end++;
		if (*end || errno)
			return -1;
		break;
	}
	default:
		return -1;
	}
	*out = raw * pt->scale + pt->offset;
	return isfinite(*out) ? 0 : -1;
}

/* Seconds or milliseconds since 1970 (told apart by size), or an ISO 8601 UTC time. */
static int mqtt_map_timestamp(const json_t *v, int64_t *ms)
{
	if (json_is_number(v)) {
		double d = json_number_value(v);

		if (!isfinite(d) || d < 0 || d > 1e14)
			return -1;
		*ms = (int64_t)(d < 1e11 ? d * 1000.0 : d);
		return 0;
	}
	if (json_is_string(v)) {
		struct tm tm;
		const char *s = json_string_value(v);
		char *end;
		int frac = 0;

		memset(&tm, 0, sizeof(tm));
		end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
		if (!end)
			return -1;
		if (*end == '.') {
			int digits = 0;

			for (end++; *end >= '0' && *end <= '9'; end++, digits++)
				if (digits < 3)
					frac = frac * 10 + (*end - '0');
			for (; digits < 3; digits++)
				frac *= 10;
		}
		if (strcmp(end, "Z") != 0 && strcmp(end, "+00:00") != 0 && *end != '\0')
			return -1;
		time_t t = timegm(&tm);
		if (t < 0)
			return -1;
		*ms = (int64_t)t * 1000 + frac;
		return 0;
	}
	return -1;
}

int mqtt_map_decode(const struct profile *p, json_t *root, struct mqtt_decoded *out)
{
	const struct mqtt_profile *m = &p->mqtt;
	json_t *v;

	out->nvalues = 0;
	out->event = NULL;
	out->code[0] = '\0';
	out->have_ts = false;
	for (size_t i = 0; i < p->npoints; i++)
		out->values[i] = NAN;
	for (size_t i = 0; i < p->npoints; i++) {
		const struct point *pt = &p->points[i];
		static const char *const want[] = {"a number", "a boolean", "a number in a string"};

		v = mqtt_map_pointer(root, pt->pointer);
		/* A field that is not there is not reported (a heartbeat carries few); a null
		 * is "no value" too. */
		if (!v || json_is_null(v))
			continue;
		if (mqtt_map_value(pt, v, &out->values[i]) < 0) {
			out->values[i] = NAN;
			return mqtt_map_fail(out, MM_BAD_TYPE, "point '%s' (%s) is %s, not %s",
			                     pt->name, pt->pointer,
			                     json_is_number(v) ? "a number out of range"
			                                       : json_type_word(v),
			                     want[pt->jtype]);
		}
		out->nvalues++;
	}
	if (m->timestamp_pointer && (v = mqtt_map_pointer(root, m->timestamp_pointer)) &&
	    !json_is_null(v)) {
		if (mqtt_map_timestamp(v, &out->ts_ms) < 0)
			return mqtt_map_fail(out, MM_BAD_TYPE,
			                     "timestamp %s is %s, not Unix seconds, milliseconds "
			                     "or an ISO 8601 UTC time",
			                     m->timestamp_pointer, json_type_word(v));
		out->have_ts = true;
	}
	if (m->event_pointer && (v = mqtt_map_pointer(root, m->event_pointer)) &&
	    !json_is_null(v)) {
		if (mqtt_map_text(v, out->code, sizeof(out->code)) < 0 ||
		    !mqtt_map_token_ok(out->code, sizeof(out->code))) {
			out->code[0] = '\0';
			return mqtt_map_fail(out, MM_BAD_TYPE,
			                     "event code %s is %s, not a number or a string",
			                     m->event_pointer, json_type_word(v));
		}
		out->event = profile_event(p, out->code);
		if (!out->event)
			return mqtt_map_fail(out, MM_UNKNOWN_CODE,
			                     "event code %s is not in "
			                     "profile '%s'",
			                     out->code, p->name);
	}
	out->err = MM_OK;
	out->detail[0] = '\0';
	return 0;
}
