/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * lb-emit.h — loopnet's events (and the messages, chats and contacts of its
 * answers and of exports) turned into PaEvents for emit(); acks once the
 * host persisted them.
 */
#ifndef LB_EMIT_H
#define LB_EMIT_H

#include "lb-types.h"

typedef enum
{
  LB_EMIT_OK,
  LB_EMIT_INVALID, /* the network sent something unusable: drop it */
  LB_EMIT_RETRY,   /* a local failure: do not ack, let the network redeliver */
} LbEmitStatus;

extern const PaChatFeatures lb_dm_features;
extern const PaChatFeatures lb_group_features;

/* PA_CHAT_DM for "dm", else PA_CHAT_GROUP. */
PaChatKind lb_chat_kind (const char *kind);
/* Fills `out` from a {"id","name","identifier","power"} object (borrowing its
 * strings); FALSE without an id. */
gboolean lb_member_from_json (json_t *o, PaMember *out);
/* Emits one message object (live, history or import); `data_dir` NULL means
 * media cannot be stored (imports).  *seq is emit's answer. */
LbEmitStatus lb_emit_message (PaHost *host, const PaHostApi *api, const char *self_id,
                              const char *data_dir, json_t *m, const char *chat_fallback,
                              guint64 stream_order, guint64 *seq, char **why);
/* Emits CHAT_INFO from a chat object. */
LbEmitStatus lb_emit_chat (PaHost *host, const PaHostApi *api, json_t *c, guint64 *seq, char **why);
/* Emits CONTACT_INFO from a contact object. */
LbEmitStatus lb_emit_contact (PaHost *host, const PaHostApi *api, json_t *c, guint64 *seq,
                              char **why);
/* Handles one live event of type `type`: emits it and remembers which network
 * seq to ack once persisted (invalid ones are acked at once). */
void lb_on_event (LbLogin *login, const char *type, json_t *msg);
/* PaLoginOps.event_persisted: acks the network event behind `seq`. */
void lb_event_persisted (PaLogin *pl, uint64_t seq);

#endif
