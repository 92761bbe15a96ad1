// SPDX-License-Identifier: AGPL-3.0-or-later

// What the session and the login flows decide without a daemon: the state
// and sentence of a lost connection, and the new identity's name.
package main

import (
	"errors"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"passerelle/sdk/go/pasdk"
)

func TestSessionFailure(t *testing.T) {
	cases := []struct {
		err   error
		state pasdk.LoginState
		text  string
	}{
		{status.Error(codes.Unavailable, "connection refused"), pasdk.StateTransientDisconnect, textUnreachable},
		{status.Error(codes.DeadlineExceeded, "slow"), pasdk.StateTransientDisconnect, textUnreachable},
		{status.Error(codes.Internal, "stream reset"), pasdk.StateTransientDisconnect, textUnreachable},
		{errors.New("cannot read plugins.olvid.tls_ca"), pasdk.StateUnknownError, "The Olvid connection cannot start: cannot read plugins.olvid.tls_ca"},
		{status.Error(codes.Unauthenticated, "unknown daemon-client-key"), pasdk.StateBadCredentials, textKeyRefused},
		{status.Error(codes.PermissionDenied, "admin"), pasdk.StateBadCredentials, textKeyRefused},
		{fmt.Errorf("dial: %w", errStandin), pasdk.StateUnknownError, errStandin.Error()},
		{status.Error(codes.InvalidArgument, "bad"), pasdk.StateUnknownError, "The Olvid daemon: bad"},
	}
	for _, c := range cases {
		state, text := sessionFailure(c.err)
		if state != c.state || text != c.text {
			t.Errorf("sessionFailure(%v) = %v %q, want %v %q", c.err, state, text, c.state, c.text)
		}
	}
}

func TestIdentityDetails(t *testing.T) {
	d := identityDetails("{name} (Tchap)", "  Jean   Dupont ")
	if d.GetFirstName() != "Jean" || d.GetLastName() != "Dupont (Tchap)" {
		t.Errorf("got %q %q", d.GetFirstName(), d.GetLastName())
	}
	d = identityDetails("{name}", "Cher")
	if d.GetFirstName() != "Cher" || d.LastName != nil {
		t.Errorf("one word: got %q %v", d.GetFirstName(), d.LastName)
	}
}
