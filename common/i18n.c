/* SPDX-License-Identifier: MIT */
/* i18n: gettext's set-up for firegw's programs (the marks themselves are in i18n.h). */
#include "i18n.h"

#include <locale.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "firegw-config.h"

#define I18N_DOMAIN "firegw"

static bool i18n_is_c(const char *name)
{
	return !name || !*name || strcmp(name, "C") == 0 || strcmp(name, "POSIX") == 0;
}

/* The language the environment asks for, as POSIX orders it. */
static const char *i18n_requested(void)
{
	static const char *const vars[] = {"LC_ALL", "LC_MESSAGES", "LANG"};

	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		const char *v = getenv(vars[i]);

		if (v && *v)
			return v;
	}
	return NULL;
}

/* gettext ignores LANGUAGE in the C locale and converts to its ASCII: a C.UTF-8 base lets a
 * language be spoken without its locale installed. */
static void i18n_utf8_base(void)
{
	const char *ctype = setlocale(LC_CTYPE, NULL), *msgs = setlocale(LC_MESSAGES, NULL);

	if (i18n_is_c(ctype))
		setlocale(LC_CTYPE, "C.UTF-8");
	if (i18n_is_c(msgs))
		setlocale(LC_MESSAGES, "C.UTF-8");
}

void i18n_init(void)
{
	const char *dir = getenv("FIREGW_LOCALEDIR");
	const char *want = i18n_requested();
	bool ok = setlocale(LC_CTYPE, "") != NULL;

	ok = setlocale(LC_MESSAGES, "") != NULL && ok;
	if (!ok && !i18n_is_c(want)) {
		char lang[32];

		/* "zh_CN.UTF-8" -> "zh_CN", for LANGUAGE (unless the user set one). */
		snprintf(lang, sizeof(lang), "%.*s", (int)strcspn(want, ".@"), want);
		setenv("LANGUAGE", lang, 0);
		i18n_utf8_base();
	}
	bindtextdomain(I18N_DOMAIN, dir && *dir ? dir : FIREGW_LOCALEDIR);
	bind_textdomain_codeset(I18N_DOMAIN, "UTF-8");
	textdomain(I18N_DOMAIN);
}

const char *i18n_word(const char *ctx, const char *key)
{
	char id[128];
	const char *t;

	if (!key || snprintf(id, sizeof(id), "%s\004%s", ctx, key) >= (int)sizeof(id))
		return key;
	t = gettext(id);
	return t == id ? key : t;
}

void i18n_set_language(const char *lang)
{
	if (!lang || !*lang)
		return;
	setenv("LANGUAGE", lang, 1);
	i18n_utf8_base();
	textdomain(I18N_DOMAIN); /* drops gettext's cache of the former language */
}
