/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The provisioning API's JSON shapes.  Login steps follow mautrix-go's
 * bridgev2 LoginStep: `type`, `step_id`, `instructions` and one object
 * named after the type (`user_input.fields`, `display_and_wait` with its
 * `type` qr/code/nothing, `data` and `image_url`, `complete.user_login_id`).
 * Field types with a mautrix equivalent take its name; the others keep
 * ours (docs/provisioning.md). */
#include "pa-provision-json.h"

static const char *
str (json_t *o, const char *key)
{
  return json_string_value (json_object_get (o, key));
}

static const char *
field_type (const char *ours)
{
  static const char *const map[][2] = {
    { "password", "password" }, { "phone", "phone_number" }, { "code", "2fa_code" },
    { "choice", "select" },     { "text", "text" },          { "number", "number" },
    { "bool", "bool" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (map); i++)
    if (g_strcmp0 (ours, map[i][0]) == 0)
      return map[i][1];
  return "text";
}

static json_t *
fields_json (json_t *fields)
{
  json_t *out = json_array ();
  size_t i;
  json_t *f;
  json_array_foreach (fields, i, f)
  {
    const char *id = str (f, "id") ? str (f, "id") : "";
    json_t *o = json_pack ("{s:s, s:s, s:s}", "type", field_type (str (f, "type")), "id", id,
                           "name", str (f, "label") ? str (f, "label") : id);
    if (o == NULL)
      continue;
    if (str (f, "default"))
      json_object_set (o, "default_value", json_object_get (f, "default"));
    if (json_array_size (json_object_get (f, "choices")) > 0)
      json_object_set (o, "options", json_object_get (f, "choices"));
    if (json_is_true (json_object_get (f, "optional")))
      json_object_set_new (o, "optional", json_true ());
    json_array_append_new (out, o);
  }
  return out;
}

json_t *
pa_provision_json_step (json_t *wire, const char *process_id, const char *image_url,
                        const char *login_id)
{
  const char *kind = str (wire, "kind") ? str (wire, "kind") : "";
  json_t *o = json_pack ("{s:s, s:s, s:s}", "login_id", process_id, "type", kind, "step_id",
                         str (wire, "step_id") ? str (wire, "step_id") : kind);
  if (str (wire, "instructions"))
    json_object_set (o, "instructions", json_object_get (wire, "instructions"));
  if (g_str_equal (kind, "user_input"))
    json_object_set_new (
        o, "user_input",
        json_pack ("{s:o}", "fields", fields_json (json_object_get (wire, "fields"))));
  else if (g_str_equal (kind, "display_and_wait"))
    {
      const char *text = str (wire, "display_text");
      json_t *d = json_pack ("{s:s}", "type",
                             image_url != NULL ? "qr" : (text != NULL ? "code" : "nothing"));
      if (text != NULL)
        json_object_set_new (d, "data", json_string (text));
      if (image_url != NULL)
        json_object_set_new (d, "image_url", json_string (image_url));
      json_int_t expires = json_integer_value (json_object_get (wire, "expires_s"));
      if (expires > 0)
        json_object_set_new (d, "expires_s", json_integer (expires));
      json_object_set_new (o, "display_and_wait", d);
    }
  else if (g_str_equal (kind, "complete"))
    {
      json_t *c = json_pack ("{s:s?}", "user_login_id", login_id);
      if (str (wire, "remote_id"))
        json_object_set (c, "remote_id", json_object_get (wire, "remote_id"));
      if (str (wire, "remote_name"))
        json_object_set (c, "remote_name", json_object_get (wire, "remote_name"));
      json_object_set_new (o, "complete", c);
    }
  return o;
}

json_t *
pa_provision_json_wait_step (const char *process_id)
{
  return json_pack ("{s:s, s:s, s:s, s:s, s:{s:s}}", "login_id", process_id, "type",
                    "display_and_wait", "step_id", PA_PROV_WAIT_STEP, "instructions",
                    "Waiting for the network's answer.", "display_and_wait", "type", "nothing");
}

json_t *
pa_provision_json_flows (json_t *hello_flows)
{
  json_t *out = json_array ();
  size_t i;
  json_t *f;
  json_array_foreach (hello_flows, i, f)
  {
    const char *id = str (f, "id");
    if (id == NULL)
      continue;
    json_array_append_new (out, json_pack ("{s:s, s:s, s:s}", "id", id, "name",
                                           str (f, "name") ? str (f, "name") : id, "description",
                                           str (f, "description") ? str (f, "description") : ""));
  }
  return out;
}

char *
pa_provision_json_state_event (const char *state)
{
  if (state == NULL || g_str_equal (state, "new"))
    return g_strdup ("UNCONFIGURED");
  return g_ascii_strup (state, -1);
}

json_t *
pa_provision_json_contact (json_t *member, const char *ghost, const char *dm_room)
{
  json_t *o = json_pack ("{s:s}", "id", str (member, "id") ? str (member, "id") : "");
  if (o == NULL)
    return NULL;
  if (str (member, "name"))
    json_object_set (o, "name", json_object_get (member, "name"));
  json_t *ids = json_array ();
  if (str (member, "identifier"))
    json_array_append (ids, json_object_get (member, "identifier"));
  json_object_set_new (o, "identifiers", ids);
  if (ghost != NULL)
    json_object_set_new (o, "mxid", json_string (ghost));
  if (dm_room != NULL)
    json_object_set_new (o, "dm_room_mxid", json_string (dm_room));
  return o;
}
