/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * tg-parts-pending.c — placeholders for the parts of the live plugin that
 * are written on other branches (outgoing, formatting), so this branch
 * links.  Each does nothing and claims no update.  This file is
 * deleted when those parts are merged: it holds nothing else.
 */
#include "tg-entities.h"
#include "tg-private.h"

void
tg_out_init (PaLogin *login)
{
}

void
tg_out_free (PaLogin *login)
{
}

gboolean
tg_out_on_update (PaLogin *login, const char *type, json_t *update)
{
  return FALSE;
}

char *
tg_entities_to_html (json_t *formatted_text)
{
  return NULL;
}
