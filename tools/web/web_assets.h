/* SPDX-License-Identifier: MIT */
/* web_assets: the files under tools/web/assets/, embedded at build time (xxd -i, see
 * tools/web/meson.build) as web_asset_NAME[] and web_asset_NAME_len. Included by web_http.c
 * only: the arrays are defined here. */
#pragma once

#include "app.js.h"
#include "style.css.h"
