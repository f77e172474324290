/* SPDX-License-Identifier: MIT */
/* textesc: escaping outside text for a terminal (firegwctl's human output): control
 * characters as \xNN, valid UTF-8 unchanged. */
#include "textesc.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

/* The length of the valid UTF-8 sequence of two or more bytes at p, 0 if there is none. */
static size_t textesc_utf8(const unsigned char *p)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0;
	/* No overlong forms, no surrogates, nothing above U+10FFFF. */
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

size_t textesc(char *out, size_t size, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t len = 0;

	while (*p) {
		size_t n = *p >= 0x80 ? textesc_utf8(p) : 1;
		bool esc = n == 0 || *p < 0x20 || *p == 0x7f || (*p == 0xc2 && p[1] < 0xa0);

		if (n == 0)
			n = 1;
		for (size_t i = 0; i < n; i++) {
			char e[4] = {'\\', 'x', hex[p[i] >> 4], hex[p[i] & 15]};
			const char *from = esc ? e : (const char *)&p[i];
			size_t k = esc ? 4 : 1;

			for (size_t j = 0; j < k; j++, len++)
				if (len + 1 < size)
					out[len] = from[j];
		}
		p += n;
	}
	if (size > 0)
		out[len < size ? len : size - 1] = '\0';
	return len;
}

char *textesc_dup(const char *s)
{
	size_t n = textesc(NULL, 0, s);
	char *out = n < SIZE_MAX ? malloc(n + 1) : NULL;

	if (out)
		textesc(out, n + 1, s);
	return out;
}
