// SPDX-License-Identifier: AGPL-3.0-or-later

// The `key` flow: an identity already in the daemon, with the client key
// an administrator made for it.  The key is checked with the daemon; a key
// it refuses is asked again.
package main

import (
	"strings"

	"passerelle/sdk/go/pasdk"
)

func (l *Login) askClientKey(f *loginFlow, why string) {
	l.step(f, &pasdk.LoginStep{Kind: pasdk.StepUserInput, StepID: stepClientKey,
		Instructions: strings.TrimSpace(why + " The client key of your identity in the ministry's Olvid server, " +
			"as an administrator of that server gave it to you."),
		Fields: []pasdk.Field{{ID: "key", Label: "Olvid client key", Type: pasdk.FieldPassword}}})
}

func (l *Login) runKey(f *loginFlow, key string) {
	if key == "" {
		l.askClientKey(f, "That key is empty.")
		return
	}
	if key == l.cfg.adminKey {
		l.askClientKey(f, "That is the server's admin key, which belongs to no identity.")
		return
	}
	d, err := l.dial(f.ctx, key)
	if err == nil {
		err = l.readIdentity(f.ctx, d)
		d.Close()
	}
	switch statusToState(err) {
	case pasdk.StateConnected:
		l.finish(f, key)
	case pasdk.StateBadCredentials:
		l.askClientKey(f, "The Olvid server does not know that client key, or it belongs to no identity.")
	default:
		l.fail(f, failureText("check the client key", err))
	}
}
