/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * lb-conn.h — the TCP connection to loopnet and its reconnection: connect
 * and say hello, read lines, write queued lines, drop, back off and retry,
 * acknowledge events.
 */
#ifndef LB_CONN_H
#define LB_CONN_H

#include "lb-types.h"

/* Detaches `c` from its login and shuts the socket; memory goes with the last
 * pending callback. */
void lb_conn_abandon (LbConn *c);
/* Queues one JSON object as a line; lines go out in order. */
void lb_conn_send (LbConn *c, json_t *msg);
/* Acknowledges network event `net_seq` (only while online). */
void lb_ack (LbLogin *login, guint64 net_seq);
/* Abandons the connection and fails the operations in flight (NOT_CONNECTED). */
void lb_drop_connection (LbLogin *login, const char *why);
/* Reports TRANSIENT_DISCONNECT and reconnects after the backoff, which doubles
 * up to reconnect_max_s. */
void lb_schedule_reconnect (LbLogin *login, const char *why);
/* Connects with the login attempt's credentials, else the saved session's,
 * then says hello. */
void lb_start_connection (LbLogin *login);

#endif
