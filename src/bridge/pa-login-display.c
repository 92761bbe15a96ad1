/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* A login's DISPLAY_AND_WAIT steps in the agent's management room.  The
 * first showing of a step posts its instructions, its text (a pairing
 * code) and its image (a QR code).  A step with the same step id replaces
 * it (plugin.h): a rotating QR code.  Then the events of the previous code
 * are redacted and the new code posted, so the room never holds a stale
 * code that looks valid; the instructions stay.  What is shown is kept in
 * kv (login_shown:<login>: {"step": id, "events": [...]}), filled as the
 * outbound queue sends the events.  Once the login is complete the last
 * code goes too. */
#define G_LOG_DOMAIN "passerelle-login"

#include "pa-login-display.h"

#include "pa-media.h"
#include "pa-portal.h"
#include "pa-queue.h"

static const char *
str (json_t *o, const char *key)
{
  return json_string_value (json_object_get (o, key));
}

static char *
shown_key (const char *login_id)
{
  return g_strconcat ("login_shown:", login_id, NULL);
}

static json_t *
shown_read (PaBridge *b, const char *login_id)
{
  g_autofree char *key = shown_key (login_id);
  g_autofree char *text = pa_store_kv_get (b->store, key);
  json_t *o = text ? json_loads (text, 0, NULL) : NULL;
  if (!json_is_object (o))
    {
      json_decref (o);
      o = json_pack ("{s:n, s:[]}", "step", "events");
    }
  return o;
}

static void
shown_write (PaBridge *b, const char *login_id, json_t *o)
{
  g_autofree char *key = shown_key (login_id);
  g_autofree char *text = json_dumps (o, JSON_COMPACT);
  g_autoptr (GError) e = NULL;
  if (!pa_store_kv_set (b->store, key, text, &e))
    g_warning ("store: %s", e->message);
}

void
pa_login_display_sent (PaBridge *b, json_t *on_done, const char *event_id,
                       const PaMatrixResponse *resp)
{
  const char *login_id = str (on_done, "login");
  if (event_id == NULL || login_id == NULL)
    return;
  g_autoptr (json_t) o = shown_read (b, login_id);
  /* An event of a step already replaced: redacted with the next rotation. */
  json_array_append_new (
      json_object_get (o, "events"),
      json_pack ("{s:s, s:s}", "room", str (on_done, "room"), "event_id", event_id));
  shown_write (b, login_id, o);
}

static json_t *
on_done_for (PaAccount *l, const char *room)
{
  return json_pack ("{s:s, s:s, s:s}", "what", "login_shown", "login", l->id, "room", room);
}

/* Redacts the events of the code shown before (a rotation). */
static void
redact_shown (PaBridge *b, json_t *o)
{
  size_t i;
  json_t *ev;
  json_array_foreach (json_object_get (o, "events"), i, ev)
  {
    const char *room = str (ev, "room"), *event_id = str (ev, "event_id");
    if (room == NULL || event_id == NULL)
      continue;
    g_autofree char *txn = pa_queue_txn_id (room, "redact", event_id, NULL);
    g_autofree char *er = pa_matrix_escape (room);
    g_autofree char *ee = pa_matrix_escape (event_id);
    g_autofree char *path
        = g_strdup_printf ("/_matrix/client/v3/rooms/%s/redact/%s/%s", er, ee, txn);
    g_autoptr (json_t) body = json_pack ("{s:s}", "reason", "replaced by a new code");
    pa_queue_request (b, room, "PUT", path, NULL, body, 0, txn, NULL);
  }
  json_array_clear (json_object_get (o, "events"));
}

typedef struct
{
  PaBridge *b;
  char *login_id;
  char *owner;
} ImageCtx;

static void
image_uploaded (PaBridge *b, const char *mxc, json_t *file, const char *error, gpointer user_data)
{
  ImageCtx *c = user_data;
  g_autofree char *room = pa_store_management_room (b->store, c->owner);
  if (mxc == NULL)
    {
      g_autofree char *msg = g_strdup_printf ("Could not show the login image: %s", error);
      pa_portal_notify_owner (b, c->owner, msg);
    }
  else if (room != NULL)
    {
      /* A login code is a secret: in an encrypted room the file is too. */
      g_autoptr (json_t) content = json_pack ("{s:s, s:s, s:{s:s}}", "msgtype", "m.image", "body",
                                              "login-code.png", "info", "mimetype", "image/png");
      if (file)
        json_object_set (content, "file", file);
      else
        json_object_set_new (content, "url", json_string (mxc));
      g_autoptr (json_t) done = json_pack ("{s:s, s:s, s:s}", "what", "login_shown", "login",
                                           c->login_id, "room", room);
      pa_queue_send (b, room, NULL, "m.room.message", content, 0, NULL, done);
    }
  g_free (c->login_id);
  g_free (c->owner);
  g_free (c);
}

/* The worker may only show files from its own directory. */
static char *
confined_image (PaAccount *l, const char *image)
{
  PaBridge *b = l->bridge;
  g_autofree char *dir = g_build_filename (b->config->data_dir, l->id, NULL);
  g_autofree char *real_dir = g_canonicalize_filename (dir, NULL);
  char *real = g_canonicalize_filename (image, real_dir);
  if (!g_str_has_prefix (real, real_dir) || real[strlen (real_dir)] != '/')
    {
      g_warning ("login %s: image outside its data dir refused: %s", l->id, image);
      g_free (real);
      return NULL;
    }
  return real;
}

void
pa_login_display_step (PaAccount *l, json_t *step)
{
  PaBridge *b = l->bridge;
  g_autofree char *room = pa_store_management_room (b->store, l->owner);
  const char *step_id = str (step, "step_id");
  g_autoptr (json_t) o = shown_read (b, l->id);
  gboolean rotation = step_id != NULL && g_strcmp0 (str (o, "step"), step_id) == 0;
  if (rotation)
    redact_shown (b, o);
  else
    {
      json_object_set_new (o, "step", step_id ? json_string (step_id) : json_null ());
      json_array_clear (json_object_get (o, "events"));
      const char *instr = str (step, "instructions");
      if (instr)
        pa_portal_notify_owner (b, l->owner, instr);
    }
  shown_write (b, l->id, o);
  if (room == NULL)
    {
      /* No management room yet: the code goes where notices go. */
      if (str (step, "display_text"))
        pa_portal_notify_owner (b, l->owner, str (step, "display_text"));
      return;
    }
  const char *text = str (step, "display_text");
  if (text)
    {
      g_autoptr (json_t) content = json_pack ("{s:s, s:s}", "msgtype", "m.notice", "body", text);
      g_autoptr (json_t) done = on_done_for (l, room);
      pa_queue_send (b, room, NULL, "m.room.message", content, 0, NULL, done);
    }
  const char *image = str (step, "image_path");
  g_autofree char *real = image ? confined_image (l, image) : NULL;
  if (real != NULL)
    {
      ImageCtx *c = g_new0 (ImageCtx, 1);
      c->b = b;
      c->login_id = g_strdup (l->id);
      c->owner = g_strdup (l->owner);
      pa_media_upload (b, room, b->config->data_dir, real, "login-code.png", "image/png",
                       image_uploaded, c);
    }
}

void
pa_login_display_clear (PaAccount *l)
{
  g_autoptr (json_t) o = shown_read (l->bridge, l->id);
  redact_shown (l->bridge, o);
  json_object_set_new (o, "step", json_null ());
  shown_write (l->bridge, l->id, o);
}
