/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * tg-parts-pending.c — placeholders for the parts of the live plugin that
 * are written on other branches (formatting), so this branch
 * links.  Each does nothing and claims no update.  This file is
 * deleted when those parts are merged: it holds nothing else.
 */
#include "tg-entities.h"
#include "tg-private.h"

char *
tg_entities_to_html (json_t *formatted_text)
{
  return NULL;
}

json_t *
tg_entities_from_html (const char *html, const char *plain, TgExecFunc exec, void *user_data)
{
  return NULL; /* the plain text is sent */
}
