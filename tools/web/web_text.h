/* SPDX-License-Identifier: MIT */
/* web_text: the language of a page and its words. Chinese is the default; English when the
 * reader asks (?lang=en, the fgw_lang cookie, or Accept-Language preferring English). The page
 * text is written in English, marked N_() for the gettext catalogue (po/), and looked up here
 * per request: until the catalogue carries firegw-web's strings, the Chinese comes from the
 * small table in web_text.c (a process-wide gettext locale cannot serve two readers in two
 * languages at once). */
#pragma once

enum web_lang { WEB_LANG_ZH, WEB_LANG_EN };

/* The language a request asks for: query (?lang=, may be NULL), then cookie, then
 * Accept-Language (each may be NULL). */
enum web_lang web_text_lang(const char *query, const char *cookie, const char *accept);
/* "zh-CN" or "en": for <html lang>. */
const char *web_text_code(enum web_lang lang);
/* en (an N_() string) in lang. */
const char *web_text(enum web_lang lang, const char *en);
