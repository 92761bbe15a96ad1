// SPDX-License-Identifier: AGPL-3.0-or-later

// What the QR and pairing-code flows share: one flow at a time, its
// cancellation, the end of the QR channel (success, timeout, errors) and
// the passkey step.
package main

import (
	"context"
	"strings"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types/events"

	"passerelle/sdk/go/pasdk"
)

const (
	flowQR    = "qr"
	flowPhone = "phone"

	stepQR       = "qr"
	stepPhone    = "phone"
	stepPairCode = "pair-code"
	stepPasskey  = "passkey"
)

type loginFlow struct {
	id        string
	ctx       context.Context
	cancel    context.CancelFunc
	lastImage string // the QR image shown last (deleted after the next step)
	passkey   bool   // the passkey step was shown
	done      bool
}

// Start begins flow flowID (main thread: the work runs in a goroutine).
func (l *Login) Start(flowID string) {
	if l.cli.Store.ID != nil {
		l.host.LoginStep(&pasdk.LoginStep{Kind: pasdk.StepComplete, StepID: "linked",
			Instructions: "This WhatsApp login is already linked.",
			RemoteID:     l.ownID(), RemoteName: l.remoteName()})
		return
	}
	l.cancelFlow()
	f := &loginFlow{id: flowID}
	f.ctx, f.cancel = context.WithCancel(l.ctx)
	l.mu.Lock()
	l.flow = f
	l.dead = false
	l.mu.Unlock()
	switch flowID {
	case flowQR:
		l.spawn(func() { l.runQR(f) })
	case flowPhone:
		l.host.LoginStep(&pasdk.LoginStep{Kind: pasdk.StepUserInput, StepID: stepPhone,
			Instructions: "Your WhatsApp phone number, with its country code (for example +33612345678).",
			Fields:       []pasdk.Field{{ID: "phone", Label: "Phone number", Type: pasdk.FieldPhone}}})
	default:
		l.host.Notice("WhatsApp has no login flow \"" + flowID + "\": use `login whatsapp qr` or `login whatsapp phone`.")
	}
}

// Submit receives the phone number of the pairing-code flow.
func (l *Login) Submit(stepID string, fields map[string]string) {
	l.mu.Lock()
	f := l.flow
	l.mu.Unlock()
	if f == nil || f.id != flowPhone || stepID != stepPhone {
		l.host.Notice("That answer belongs to no WhatsApp login step in progress.")
		return
	}
	phone := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, fields["phone"])
	if len(phone) < 7 || len(phone) > 15 {
		l.host.LoginStep(&pasdk.LoginStep{Kind: pasdk.StepUserInput, StepID: stepPhone,
			Instructions: "That is not a phone number: type it with its country code, digits only or starting with + (for example +33612345678).",
			Fields:       []pasdk.Field{{ID: "phone", Label: "Phone number", Type: pasdk.FieldPhone}}})
		return
	}
	l.spawn(func() { l.runPhone(f, phone) })
}

// Cancel stops the flow and forgets its partial state.
func (l *Login) Cancel() {
	l.cancelFlow()
	if l.cli.Store.ID == nil {
		l.spawn(l.tp.Disconnect)
	}
}

func (l *Login) cancelFlow() {
	l.mu.Lock()
	f := l.flow
	l.flow = nil
	l.mu.Unlock()
	if f != nil {
		f.cancel()
		removeFile(f.lastImage)
	}
}

func (l *Login) currentFlow(f *loginFlow) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.flow == f
}

// remoteName is the account's name for the agent: its push name, else its number.
func (l *Login) remoteName() string {
	if n := l.cli.Store.PushName; n != "" {
		return n
	}
	if l.cli.Store.ID != nil {
		return "+" + l.cli.Store.ID.User
	}
	return ""
}

// finishQR handles a final item of the QR channel; true when the flow ended.
func (l *Login) finishQR(f *loginFlow, item whatsmeow.QRChannelItem, retry string) bool {
	switch item.Event {
	case whatsmeow.QRChannelEventCode:
		return false
	case whatsmeow.QRChannelEventPasskeyRequest:
		l.showPasskey(f)
		return false
	case whatsmeow.QRChannelEventPasskeyResponse:
		return false
	case whatsmeow.QRChannelSuccess.Event:
		l.endFlow(f)
		l.host.LoginStep(&pasdk.LoginStep{Kind: pasdk.StepComplete, StepID: "linked",
			Instructions: "WhatsApp is linked. Your chats appear as they are used; recent history follows in a few minutes.",
			RemoteID:     l.ownID(), RemoteName: l.remoteName()})
		return true
	case whatsmeow.QRChannelTimeout.Event:
		l.endFlow(f)
		l.host.Notice("The WhatsApp login timed out before the phone linked this device. Send `" + retry + "` to try again.")
		return true
	case whatsmeow.QRChannelClientOutdated.Event:
		l.endFlow(f)
		l.host.Notice("WhatsApp refused this client as outdated: the bridge's administrator must update Passerelle before anyone can link WhatsApp.")
		return true
	case whatsmeow.QRChannelScannedWithoutMultidevice.Event:
		l.host.Notice("The phone that scanned the code does not have multi-device enabled: update WhatsApp on it, then scan the next code.")
		return false
	case whatsmeow.QRChannelErrUnexpectedEvent.Event:
		l.endFlow(f)
		l.host.Notice("The WhatsApp login stopped on an unexpected answer from WhatsApp. Send `" + retry + "` to try again.")
		return true
	default:
		msg := "unknown error"
		if item.Error != nil {
			msg = item.Error.Error()
		}
		l.endFlow(f)
		l.host.Notice("The WhatsApp login failed (" + msg + "). Send `" + retry + "` to try again.")
		return true
	}
}

func (l *Login) endFlow(f *loginFlow) {
	l.mu.Lock()
	if l.flow == f {
		l.flow = nil
	}
	f.done = true
	l.mu.Unlock()
	removeFile(f.lastImage)
	f.lastImage = ""
}

// showPasskey tells the agent that WhatsApp asks for a passkey, which a
// bridge cannot give: it needs the agent's own authenticator in a browser.
func (l *Login) showPasskey(f *loginFlow) {
	if f == nil || f.passkey {
		return
	}
	f.passkey = true
	l.host.LoginStep(&pasdk.LoginStep{Kind: pasdk.StepDisplayAndWait, StepID: stepPasskey,
		Instructions: "WhatsApp asks this new device to confirm the link with your passkey. That cannot be done from Tchap: " +
			"a passkey only answers a browser or app on your own device. On your phone, open WhatsApp › Settings › " +
			"Account › Passkeys and remove the passkey (you can add it back afterwards), then send `login whatsapp " + f.id +
			"` again; or link from a browser once (web.whatsapp.com) and retry here."})
}

// onPasskeyRequest: the dispatcher's PairPasskeyRequest (the QR channel
// may carry it too; the step is shown once).
func (l *Login) onPasskeyRequest(*events.PairPasskeyRequest) {
	l.mu.Lock()
	f := l.flow
	l.mu.Unlock()
	if f == nil {
		l.host.Notice("WhatsApp asks for a passkey to link this device, which cannot be done from Tchap; see `login whatsapp qr`.")
		return
	}
	l.showPasskey(f)
}
