/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * purple-xfer.h — see purple-xfer.c.
 */
#ifndef PASSERELLE_PURPLE_XFER_H
#define PASSERELLE_PURPLE_XFER_H

#include "purple-common.h"

/* Sends media `content` to DM `chat_id`; op_id is answered when the
 * transfer ends (or at once when it cannot start). */
void pp_send_file (PaLogin *login, guint64 op_id, const char *chat_id, const PaContent *content);

/* Connects the file-transfer signals to `login`. */
void pp_xfer_connect_signals (PaLogin *login);

#endif /* PASSERELLE_PURPLE_XFER_H */
