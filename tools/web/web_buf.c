/* SPDX-License-Identifier: MIT */
/* web_buf: a bounded growing text buffer with HTML escaping. */
#include "web_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "textesc.h"

void web_buf_init(struct web_buf *b)
{
	memset(b, 0, sizeof(*b));
}

void web_buf_free(struct web_buf *b)
{
	free(b->data);
	web_buf_init(b);
}

static bool web_buf_reserve(struct web_buf *b, size_t more)
{
	if (b->failed)
		return false;
	if (more >= WEB_BUF_MAX || b->len + more + 1 > WEB_BUF_MAX) {
		b->failed = true;
		return false;
	}
	if (b->len + more + 1 <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more + 1)
		cap *= 2;
	char *d = realloc(b->data, cap);
	if (!d) {
		b->failed = true;
		return false;
	}
	b->data = d;
	b->cap = cap;
	return true;
}

static void web_buf_addn(struct web_buf *b, const char *s, size_t n)
{
	if (!web_buf_reserve(b, n))
		return;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void web_buf_add(struct web_buf *b, const char *s)
{
	web_buf_addn(b, s, strlen(s));
}

void web_buf_addf(struct web_buf *b, const char *fmt, ...)
{
	va_list ap;
	char small[512];

	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = true;
		return;
	}
	if ((size_t)n < sizeof(small)) {
		web_buf_addn(b, small, (size_t)n);
		return;
	}
	if (!web_buf_reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void web_buf_esc(struct web_buf *b, const char *s)
{
	char *t = textesc_dup(s ? s : "");
	const char *p;

	if (!t) {
		b->failed = true;
		return;
	}
	for (p = t; *p; p++) {
		size_t run = strcspn(p, "&<>\"'");

		web_buf_addn(b, p, run);
		p += run;
		if (!*p)
			break;
		switch (*p) {
		case '&': web_buf_add(b, "&amp;"); break;
		case '<': web_buf_add(b, "&lt;"); break;
		case '>': web_buf_add(b, "&gt;"); break;
		case '"': web_buf_add(b, "&quot;"); break;
		default: web_buf_add(b, "&#39;"); break;
		}
	}
	free(t);
}

char *web_buf_take(struct web_buf *b, size_t *len)
{
	char *d = b->failed ? NULL : b->data;

	if (b->failed)
		free(b->data);
	else if (!d)
		d = calloc(1, 1);
	if (len)
		*len = d ? b->len : 0;
	web_buf_init(b);
	return d;
}
