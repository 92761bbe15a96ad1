/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * purple-notify.c — libpurple's notify UI ops → notices in the agent's
 * management room.
 *
 * Why apart: a UI op table of its own, with nothing to answer.
 */
#define G_LOG_DOMAIN "passerelle-purple"

#include "purple-common.h"
#include "purple-notify.h"

static void *
pp_notify_message (PurpleNotifyMsgType type, const char *title, const char *primary,
                   const char *secondary)
{
  PaLogin *login = pp_self;
  if (login != NULL && !login->quitting)
    {
      g_autofree char *text = pp_join_text (title, primary, secondary);
      login->api->notice (login->host, text);
    }
  return NULL;
}

static void *
pp_notify_formatted (const char *title, const char *primary, const char *secondary,
                     const char *text)
{
  PaLogin *login = pp_self;
  if (login != NULL && !login->quitting)
    {
      g_autofree char *head = pp_join_text (title, primary, secondary);
      g_autofree char *body = purple_markup_strip_html (text != NULL ? text : "");
      g_autofree char *msg = g_strdup_printf ("%s\n%s", head, body);
      login->api->notice (login->host, msg);
    }
  return NULL;
}

static void *
pp_notify_email (PurpleConnection *gc, const char *subject, const char *from, const char *to,
                 const char *url)
{
  PaLogin *login = pp_self;
  if (login != NULL && !login->quitting)
    {
      g_autofree char *msg = g_strdup_printf ("New mail from %s: %s", from != NULL ? from : "?",
                                              subject != NULL ? subject : "");
      login->api->notice (login->host, msg);
    }
  return NULL;
}

static void *
pp_notify_uri (const char *uri)
{
  PaLogin *login = pp_self;
  if (login != NULL && !login->quitting && uri != NULL)
    login->api->notice (login->host, uri);
  return NULL;
}

PurpleNotifyUiOps pp_notify_ops = {
  .notify_message = pp_notify_message,
  .notify_email = pp_notify_email,
  .notify_formatted = pp_notify_formatted,
  .notify_uri = pp_notify_uri,
};
