/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The JSON wire format of docs/worker-protocol.md for the plugin ABI
 * structs: one converter per struct, plus the enum <-> string tables.
 *
 * ABI -> JSON: absent (NULL) strings and objects are omitted; numbers and
 * booleans are always present; strings that are not valid UTF-8 are repaired
 * (U+FFFD) rather than dropped.  A struct whose struct_size is smaller than
 * its ABI 2.0 size, whose enum value is unknown, or (events) whose ids break
 * the IDENTIFIERS rule of plugin.h, is refused (NULL).
 *
 * JSON -> ABI: the filled struct borrows every string from the JSON value,
 * which must outlive it. */
#ifndef PA_WIRE_H
#define PA_WIRE_H

#include <glib.h>
#include <jansson.h>

#include <passerelle/plugin.h>

G_BEGIN_DECLS

/* Upper bounds on arrays crossing the boundary in either direction. */
#define PA_WIRE_MAX_ITEMS 100000

const char *pa_wire_event_type_to_string (PaEventType type);
gboolean pa_wire_event_type_from_string (const char *s, PaEventType *out);
const char *pa_wire_msg_kind_to_string (PaMsgKind kind);
gboolean pa_wire_msg_kind_from_string (const char *s, PaMsgKind *out);
const char *pa_wire_log_level_to_string (PaLogLevel level);
gboolean pa_wire_log_level_from_string (const char *s, PaLogLevel *out);
const char *pa_wire_login_state_to_string (PaLoginState state);
gboolean pa_wire_login_state_from_string (const char *s, PaLoginState *out);
const char *pa_wire_meta_scope_to_string (PaMetaScope scope);
gboolean pa_wire_meta_scope_from_string (const char *s, PaMetaScope *out);
const char *pa_wire_field_type_to_string (PaFieldType type);
const char *pa_wire_step_kind_to_string (PaStepKind kind);
const char *pa_wire_presence_to_string (PaPresence presence);
gboolean pa_wire_presence_from_string (const char *s, PaPresence *out);
const char *pa_wire_result_code_to_string (PaResultCode code);
gboolean pa_wire_result_code_from_string (const char *s, PaResultCode *out);
const char *pa_wire_chat_field_to_string (PaChatField field);
gboolean pa_wire_chat_field_from_string (const char *s, PaChatField *out);
const char *pa_wire_config_type_to_string (PaConfigType type);
gboolean pa_wire_config_type_from_string (const char *s, PaConfigType *out);

/* Each returns a new JSON object (transfer full), or NULL when the struct is
 * malformed (too small a struct_size, unknown enum value) with `error` set. */
json_t *pa_wire_content_to_json (const PaContent *content, GError **error);
json_t *pa_wire_member_to_json (const PaMember *member, GError **error);
json_t *pa_wire_features_to_json (const PaChatFeatures *features, GError **error);
json_t *pa_wire_chat_to_json (const PaChatInfo *chat, GError **error);
json_t *pa_wire_event_to_json (const PaEvent *event, GError **error);
json_t *pa_wire_field_to_json (const PaField *field, GError **error);
json_t *pa_wire_login_step_to_json (const PaLoginStep *step, GError **error);
json_t *pa_wire_login_flow_to_json (const PaLoginFlow *flow, GError **error);
json_t *pa_wire_config_key_to_json (const PaConfigKey *key, GError **error);
/* The whole "result" frame for an op_result. */
json_t *pa_wire_result_to_json (guint64 op_id, const PaOpResult *result, GError **error);

/* Whether `id` obeys plugin.h's IDENTIFIERS rule (UTF-8, 1 to
 * PA_ID_MAX_BYTES bytes, no control character). */
gboolean pa_wire_id_valid (const char *id, GError **error);
/* Whether the login operation `name` (a wire op name) is implemented. */
gboolean pa_wire_login_op_present (const PaLoginOps *ops, const char *name);

/* A JSON string for a plugin-supplied C string, repaired to valid UTF-8;
 * JSON null for NULL (transfer full). */
json_t *pa_wire_string (const char *s);

/* The hello object of a plugin: {"t":"hello", plugin, display_name,
 * version, capabilities, abi, flows, config, ops, login, import,
 * normalize}.  The network must have passed the loader's checks. */
json_t *pa_wire_hello (const PaNetwork *network);

/* Fill `out` from a wire `content` object; strings are borrowed from `obj`.
 * FALSE with `error` set if a member has the wrong type or kind is unknown. */
gboolean pa_wire_content_from_json (json_t *obj, PaContent *out, GError **error);

/* Small typed getters for wire objects.  A member that is absent or null
 * gives NULL / the default; one of another type is an error. */
gboolean pa_wire_get_string (json_t *obj, const char *key, gboolean required, const char **out,
                             GError **error);
gboolean pa_wire_get_bool (json_t *obj, const char *key, gboolean dflt, gboolean *out,
                           GError **error);
gboolean pa_wire_get_uint (json_t *obj, const char *key, guint64 max, guint64 dflt, guint64 *out,
                           GError **error);

G_END_DECLS

#endif
