/* SPDX-License-Identifier: MIT */
/* dispwidth: display width of UTF-8 text and padding by it. */
#include "dispwidth.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <wchar.h>

/* Terminals show UTF-8 whatever LC_CTYPE says (firegwctl run with LANG=C still prints a
 * Chinese location): widths are taken in C.UTF-8 when the system has it. */
static locale_t dispwidth_utf8(void)
{
	static locale_t u8;
	static int tried;

	if (!tried) {
		tried = 1;
		u8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	}
	return u8;
}

int dispwidth_of(const char *s)
{
	mbstate_t st;
	int w = 0;
	size_t left = s ? strlen(s) : 0;
	locale_t u8 = dispwidth_utf8(), old = u8 ? uselocale(u8) : (locale_t)0;

	memset(&st, 0, sizeof(st));
	while (left > 0) {
		wchar_t wc;
		size_t n = mbrtowc(&wc, s, left, &st);

		if (n == (size_t)-1 || n == (size_t)-2 || n == 0) {
			memset(&st, 0, sizeof(st));
			n = 1;
			w++;
		} else {
			int cw = wcwidth(wc);

			w += cw < 0 ? 1 : cw;
		}
		s += n;
		left -= n;
	}
	if (u8)
		uselocale(old);
	return w;
}

char *dispwidth_cut(char *out, size_t outlen, const char *s, int width)
{
	mbstate_t st;
	size_t left = s ? strlen(s) : 0, keep = 0;
	int w = 0;
	locale_t u8 = dispwidth_utf8(), old = u8 ? uselocale(u8) : (locale_t)0;

	if (dispwidth_of(s) <= width) {
		if (u8)
			uselocale(old);
		return dispwidth_pad(out, outlen, s, width);
	}
	memset(&st, 0, sizeof(st));
	while (keep < left) {
		wchar_t wc;
		size_t n = mbrtowc(&wc, s + keep, left - keep, &st);
		int cw = 1;

		if (n == (size_t)-1 || n == (size_t)-2 || n == 0) {
			memset(&st, 0, sizeof(st));
			n = 1;
		} else if (wcwidth(wc) >= 0) {
			cw = wcwidth(wc);
		}
		if (w + cw > width - 1)
			break;
		w += cw;
		keep += n;
	}
	if (u8)
		uselocale(old);
	snprintf(out, outlen, "%.*s\xe2\x80\xa6%*s", (int)keep, s, width - 1 - w > 0 ? width - 1 - w : 0,
	         "");
	return out;
}

char *dispwidth_pad(char *out, size_t outlen, const char *s, int width)
{
	int fill = width - dispwidth_of(s);

	snprintf(out, outlen, "%s%*s", s ? s : "", fill > 0 ? fill : 0, "");
	return out;
}
