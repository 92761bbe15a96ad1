// SPDX-License-Identifier: AGPL-3.0-or-later

// `logout olvid`: the session stops, the identity's client key is deleted
// at the daemon (with the admin key) and from the login's secrets.  The
// identity itself stays in the daemon: deleting it (IdentityDelete) is an
// administrator's decision, since its contacts would lose it.
package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/grpc/codes"

	"passerelle/plugins/olvid/live/daemonpb"
	"passerelle/sdk/go/pasdk"
)

// errNoAdminKey: the bridge cannot delete a client key without the admin key.
var errNoAdminKey = errors.New("the bridge has no admin client key")

const textLoggedOut = "Logged out of Olvid: this login's client key is deleted. Your Olvid identity stays in your " +
	"ministry's Olvid server (an administrator can delete it there); `login olvid key` with a new client key " +
	"from an administrator uses it again."

// logoutTimeout bounds the key's deletion at the daemon.  The host stops
// the worker right after it sends the logout, so the deletion runs first,
// before anything else, on a context Free does not cancel.
const logoutTimeout = 5 * time.Second

// Logout forgets the identity's client key, at the daemon and here.
func (l *Login) Logout(op uint64) {
	l.sess.mu.Lock()
	l.sess.up = false
	key := l.sess.key
	l.sess.key = ""
	if l.sess.stop != nil {
		l.sess.stop() // at once: a stream the deletion closes is not a lost connection
	}
	l.sess.mu.Unlock()
	l.Cancel()
	l.host.SecretStore(secretClientKey, nil)
	l.spawn(func() {
		text := textLoggedOut
		if key != "" {
			if err := l.deleteClientKey(key); err != nil {
				l.logf(pasdk.LogWarning, "logout: deleting the client key: %v", err)
				text = "Logged out of Olvid here, but the Olvid server could not be told (" + errorText(err) +
					"): its client key for your identity still works until an administrator deletes it. " +
					"Your Olvid identity stays in that server."
			}
		}
		_ = os.Remove(filepath.Join(l.host.DataDir(), invitationImage))
		l.host.Notice(text)
		l.host.OpResult(op, &pasdk.OpResult{Code: pasdk.ResultOK})
		l.host.LoginState(pasdk.StateLoggedOut, "")
		l.stopSession()
	})
}

// deleteClientKey deletes key at the daemon with the admin key.
func (l *Login) deleteClientKey(key string) error {
	if l.cfg.adminKey == "" {
		return errNoAdminKey
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(l.ctx), logoutTimeout)
	defer cancel()
	d, err := l.adminDial(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	_, err = d.ClientKeyAdmin.ClientKeyDelete(ctx, &daemonpb.ClientKeyDeleteRequest{ClientKey: key})
	if codeOf(err) == codes.NotFound {
		return nil // already gone
	}
	return err
}
