/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * tg-parts-pending.c — placeholders for the parts of the live plugin that
 * are written on other branches (chats, incoming, outgoing, history), so
 * this branch links.  Each does nothing and claims no update.  This file is
 * deleted when those parts are merged: it holds nothing else.
 */
#include "tg-private.h"

void
tg_chats_init (PaLogin *login)
{
}

void
tg_chats_free (PaLogin *login)
{
}

gboolean
tg_chats_on_update (PaLogin *login, const char *type, json_t *update)
{
  return FALSE;
}

void
tg_chats_on_ready (PaLogin *login)
{
}

void
tg_in_init (PaLogin *login)
{
}

void
tg_in_free (PaLogin *login)
{
}

gboolean
tg_in_on_update (PaLogin *login, const char *type, json_t *update)
{
  return FALSE;
}

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

void
tg_history_init (PaLogin *login)
{
}

void
tg_history_free (PaLogin *login)
{
}

void
tg_history_on_ready (PaLogin *login)
{
}
