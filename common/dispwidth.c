/* SPDX-License-Identifier: MIT */
/* dispwidth: display width of UTF-8 text and padding by it. */
#include "dispwidth.h"

#include <stdio.h>
#include <string.h>
#include <wchar.h>

int dispwidth_of(const char *s)
{
	mbstate_t st;
	int w = 0;
	size_t left = s ? strlen(s) : 0;

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
	return w;
}

char *dispwidth_pad(char *out, size_t outlen, const char *s, int width)
{
	int fill = width - dispwidth_of(s);

	snprintf(out, outlen, "%s%*s", s ? s : "", fill > 0 ? fill : 0, "");
	return out;
}
