/* SPDX-License-Identifier: MIT */
/* conf_lint: a config file's encoding and the look-alike characters in its syntax. */
#include "conf_lint.h"

#include <errno.h>
#include <iconv.h>
#include <stdbool.h>
#include <string.h>

#include "conf_errors.h"
#include "i18n.h"

/* The line (1-based) of byte `off`. */
static int conf_lint_line(const char *buf, size_t off)
{
	int line = 1;

	for (size_t i = 0; i < off; i++)
		line += buf[i] == '\n';
	return line;
}

int conf_lint_utf8(const char *buf, size_t n, const char *file, struct conf_errors *errs)
{
	iconv_t cd = iconv_open("UTF-8", "UTF-8");
	char out[4096];
	char *in = (char *)buf;
	size_t left = n;
	int bad = 0;

	if (cd == (iconv_t)-1)
		return 0; /* no converter: nothing to judge by */
	while (left > 0) {
		char *o = out;
		size_t oleft = sizeof(out);

		if (iconv(cd, &in, &left, &o, &oleft) != (size_t)-1)
			break;
		if (errno == E2BIG)
			continue;
		bad = errno == EILSEQ || errno == EINVAL;
		break;
	}
	iconv_close(cd);
	if (!bad)
		return 0;
	conf_errors_add(errs, file, conf_lint_line(buf, (size_t)(in - buf)),
	                _("this file is not UTF-8 (it looks saved as GBK, as Chinese Windows editors "
	                  "do), and its Chinese text could not be sent to the platform; convert it "
	                  "and check again: iconv -f GBK -t UTF-8 %s -o %s.utf8 && mv %s.utf8 %s"),
	                file, file, file, file);
	return -1;
}

struct conf_lint_lookalike {
	const char *bytes;
	const char *ascii; /* what it stands for; NULL: a quotation mark */
	const char *msg;
};

static const struct conf_lint_lookalike conf_lint_table[] = {
    {"\xe3\x80\x80", " ", N_("a full-width space (全角空格) where an ordinary space belongs; "
                           "switch the input method to half-width and retype it")},
    {"\xef\xbc\x9d", "=", N_("a full-width equals sign '＝' where '=' belongs; switch the "
                           "input method to half-width and retype it")},
    {"\xef\xbd\x9b", "{", N_("a full-width brace '｛' where '{' belongs; switch the input "
                           "method to half-width and retype it")},
    {"\xef\xbd\x9d", "}", N_("a full-width brace '｝' where '}' belongs; switch the input "
                           "method to half-width and retype it")},
    {"\xe2\x80\x9c", NULL, N_("a Chinese quotation mark '“' where '\"' belongs; write the "
                            "value between ASCII quotes: \"...\"")},
    {"\xe2\x80\x9d", NULL, N_("a Chinese quotation mark '”' where '\"' belongs; write the "
                            "value between ASCII quotes: \"...\"")},
    {"\xe2\x80\x98", NULL, N_("a Chinese quotation mark '‘' where '\"' belongs; write the "
                            "value between ASCII quotes: \"...\"")},
    {"\xe2\x80\x99", NULL, N_("a Chinese quotation mark '’' where '\"' belongs; write the "
                            "value between ASCII quotes: \"...\"")},
};

/* The look-alike at p, or NULL. */
static const struct conf_lint_lookalike *conf_lint_match(const char *p, size_t left)
{
	for (size_t i = 0; i < sizeof(conf_lint_table) / sizeof(conf_lint_table[0]); i++)
		if (left >= 3 && memcmp(p, conf_lint_table[i].bytes, 3) == 0)
			return &conf_lint_table[i];
	return NULL;
}

int conf_lint_lookalikes(char *buf, size_t n, const char *file, struct conf_errors *errs)
{
	char quote = 0;        /* the ASCII quote of the string we are in */
	bool cn_quote = false; /* that string was opened by a Chinese quotation mark */
	int found = 0;

	if (n >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) {
		conf_errors_add(errs, file, 1,
		                _("the file begins with a UTF-8 byte order mark (BOM), which the "
		                  "config syntax does not allow; save it as UTF-8 without BOM, or "
		                  "remove it: sed -i '1s/^\\xEF\\xBB\\xBF//' %s"),
		                file);
		memset(buf, ' ', 3);
		found++;
	}
	for (size_t i = 0; i < n; i++) {
		const struct conf_lint_lookalike *l = conf_lint_match(buf + i, n - i);

		if (quote && !l) {
			if (buf[i] == '\\' && i + 1 < n)
				i++;
			else if (buf[i] == quote || buf[i] == '\n')
				quote = 0;
			continue;
		}
		if (quote && l && !(l->ascii == NULL && cn_quote))
			continue; /* a full-width character inside a value is the value's */
		if (!l) {
			if (buf[i] == '"' || buf[i] == '\'') {
				quote = buf[i];
				cn_quote = false;
			}
			continue;
		}
		if (!quote) {
			conf_errors_add(errs, file, conf_lint_line(buf, i), "%s", _(l->msg));
			found++;
		}
		if (l->ascii) {
			memcpy(buf + i, l->ascii, 1);
		} else {
			buf[i] = '"';
			quote = quote ? 0 : '"';
			cn_quote = quote != 0;
		}
		memset(buf + i + 1, ' ', 2);
		i += 2;
	}
	return found;
}
