/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * tg-json.h — reading TDLib's JSON objects, for every part of the live
 * plugin: a member as an integer or a string, an object's @type.
 */
#ifndef TG_JSON_H
#define TG_JSON_H

#include <glib.h>
#include <jansson.h>
#include <string.h>

G_BEGIN_DECLS

/* Reading TDLib's objects: a missing member reads as 0 / NULL. */
static inline gint64
tg_jint (json_t *o, const char *key)
{
  return json_integer_value (json_object_get (o, key));
}

static inline const char *
tg_jstr (json_t *o, const char *key)
{
  return json_string_value (json_object_get (o, key));
}

static inline gboolean
tg_jis (json_t *o, const char *type)
{
  const char *t = json_string_value (json_object_get (o, "@type"));
  return t != NULL && strcmp (t, type) == 0;
}

G_END_DECLS

#endif
