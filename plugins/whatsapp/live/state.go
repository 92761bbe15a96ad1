// SPDX-License-Identifier: AGPL-3.0-or-later

// whatsmeow's connection events become login states with a sentence for
// the agent.  A dead session (logged out, replaced, banned, outdated) stops
// auto-reconnect: never a silent reconnect loop.
package main

import (
	"fmt"
	"time"

	"go.mau.fi/whatsmeow/types/events"

	"passerelle/sdk/go/pasdk"
)

// banReasons are WhatsApp's temporary ban codes in words.
var banReasons = map[events.TempBanReason]string{
	events.TempBanSentToTooManyPeople:    "messages sent to too many people who do not have you in their contacts",
	events.TempBanBlockedByUsers:         "too many people blocked you",
	events.TempBanCreatedTooManyGroups:   "too many groups created with people who do not have you in their contacts",
	events.TempBanSentTooManySameMessage: "the same message sent to too many people",
	events.TempBanBroadcastList:          "too many messages sent through a broadcast list",
}

// loggedOutText explains a LoggedOut event's reason.
func loggedOutText(reason events.ConnectFailureReason) string {
	switch reason {
	case events.ConnectFailureMainDeviceGone:
		return "WhatsApp unlinked this device because your phone has not been online for 14 days. Open WhatsApp on your phone, then send `login whatsapp qr` to link again."
	case events.ConnectFailureUnknownLogout:
		return "WhatsApp ended this session (the account may be banned). Check WhatsApp on your phone, then send `login whatsapp qr` to link again."
	default:
		return "This device was removed from WhatsApp's Linked devices (from your phone, or by WhatsApp). Send `login whatsapp qr` to link again."
	}
}

// onState handles connection events; false when ev is not one.
func (l *Login) onState(ev any) bool {
	switch e := ev.(type) {
	case *events.Connected:
		l.connected.Store(true)
		l.setDead(false)
		l.host.LoginState(pasdk.StateConnected, "")
		l.spawn(l.afterConnect)
		l.releaseMemoryLater()
	case *events.Disconnected:
		l.connected.Store(false)
		if !l.isDead() {
			l.host.LoginState(pasdk.StateTransientDisconnect, "Connection to WhatsApp lost; reconnecting.")
		}
	case *events.KeepAliveTimeout:
		l.host.LoginState(pasdk.StateTransientDisconnect,
			fmt.Sprintf("WhatsApp stopped answering (%d keep-alives missed); reconnecting.", e.ErrorCount))
	case *events.KeepAliveRestored:
		l.host.LoginState(pasdk.StateConnected, "")
	case *events.LoggedOut:
		l.kill(pasdk.StateLoggedOut, loggedOutText(e.Reason))
		// The session is gone: whatsmeow deletes the device on a server
		// logout; make sure a restart does not try it again.
		if l.cli.Store.ID != nil {
			l.spawn(func() {
				if err := l.cli.Store.Delete(l.ctx); err != nil {
					l.log.Warnf("forgetting the session: %v", err)
				}
			})
		}
	case *events.StreamReplaced:
		l.kill(pasdk.StateUnknownError, "This WhatsApp session was opened elsewhere with the same keys (another bridge?), so this one stopped. Send `connect whatsapp` to take it back.")
	case *events.TemporaryBan:
		why, ok := banReasons[e.Code]
		if !ok {
			why = fmt.Sprintf("reason code %d", int(e.Code))
		}
		msg := fmt.Sprintf("WhatsApp banned this account temporarily (%s, code %d).", why, int(e.Code))
		if e.Expire > 0 {
			msg += fmt.Sprintf(" The ban ends in %s (around %s UTC); send `connect whatsapp` after that.",
				e.Expire.Round(time.Minute), time.Now().Add(e.Expire).UTC().Format("2006-01-02 15:04"))
		}
		l.kill(pasdk.StateUnknownError, msg)
	case *events.ClientOutdated:
		l.kill(pasdk.StateUnknownError, "WhatsApp refuses this version of the bridge as outdated: the administrator must update Passerelle.")
	case *events.ConnectFailure:
		l.host.LoginState(pasdk.StateTransientDisconnect, fmt.Sprintf("WhatsApp refused the connection (%d %s); retrying.", int(e.Reason), e.Message))
	case *events.PairSuccess:
		l.log.Infof("paired as %s (LID %s, platform %s)", e.ID, e.LID, e.Platform)
	case *events.PairPasskeyRequest:
		l.onPasskeyRequest(e)
	default:
		return false
	}
	return true
}

// kill marks the session dead: no more auto-reconnect, the agent told.
func (l *Login) kill(state pasdk.LoginState, msg string) {
	l.setDead(true)
	l.connected.Store(false)
	l.host.LoginState(state, msg)
	l.spawn(l.tp.Disconnect)
}
