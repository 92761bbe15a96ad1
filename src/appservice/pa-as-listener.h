/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The appservice port's listening socket, owned by us rather than by
 * libsoup, so that accept errors, the number of connections and their
 * timeouts are under our control.  Each accepted connection is handed to the
 * SoupServer with soup_server_accept_iostream().
 *
 * - At most max_connections connections at once: at the cap, the
 *   connection idle the longest is closed and accepting pauses until one
 *   goes away (new ones wait in the kernel's backlog).
 * - A connection with no request in flight is closed after idle_timeout_s.
 * - A request whose headers and body are not all read within
 *   request_timeout_s of its first byte is cut off (slowloris).
 * - An accept error (EMFILE, ENFILE, ENOBUFS…) never stops the listener:
 *   it logs a warning (at most one per 10 s), closes the connection idle the
 *   longest, pauses accepting for a moment and tries again; it logs once
 *   when accepting works again. */
#ifndef PA_AS_LISTENER_H
#define PA_AS_LISTENER_H

#include <gio/gio.h>
#include <libsoup/soup.h>

G_BEGIN_DECLS

typedef struct _PaAsListener PaAsListener;

typedef struct
{
  guint max_connections;   /* default 256 */
  guint idle_timeout_s;    /* default 60 */
  guint request_timeout_s; /* default 30 */
} PaAsListenerLimits;

/* A listener feeding `server` (not owned; must outlive the listener). */
PaAsListener *pa_as_listener_new (SoupServer *server, const PaAsListenerLimits *limits);
/* Bind and listen on addr; *port_out gets the bound port. */
gboolean pa_as_listener_listen (PaAsListener *l, GSocketAddress *addr, guint *port_out,
                                GError **error);
/* Connections currently open (accepted and not yet closed). */
guint pa_as_listener_n_connections (PaAsListener *l);
/* Stops listening; open connections are left to the server. */
void pa_as_listener_free (PaAsListener *l);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PaAsListener, pa_as_listener_free)

G_END_DECLS

#endif
