// SPDX-License-Identifier: AGPL-3.0-or-later

// The pairing-code flow: the agent gives their number, WhatsApp gives an
// 8-character code that the agent types on their phone.
package main

import (
	"context"
	"time"

	"go.mau.fi/whatsmeow"

	"passerelle/sdk/go/pasdk"
)

// pairReadyWait is how long the flow waits for the login socket to be up
// (the first QR event) before asking for a pairing code.
var pairReadyWait = 15 * time.Second

func recvItem(f *loginFlow, ch <-chan whatsmeow.QRChannelItem) (whatsmeow.QRChannelItem, bool) {
	select {
	case item, ok := <-ch:
		return item, ok
	case <-f.ctx.Done():
		return whatsmeow.QRChannelItem{}, false
	}
}

func (l *Login) runPhone(f *loginFlow, phone string) {
	const retry = "login whatsapp phone"
	ch, err := l.tp.GetQRChannel(f.ctx)
	if err != nil {
		l.endFlow(f)
		l.host.Notice("Cannot start the WhatsApp login: " + err.Error())
		return
	}
	if err := l.tp.Connect(); err != nil {
		l.endFlow(f)
		l.host.Notice("Cannot reach WhatsApp to log in (" + err.Error() + "). Send `" + retry + "` to try again.")
		return
	}
	if pairReadyWait > 0 {
		select {
		case item, ok := <-ch:
			if !ok {
				return
			}
			if item.Event != whatsmeow.QRChannelEventCode && l.finishQR(f, item, retry) {
				return
			}
		case <-time.After(pairReadyWait):
		case <-f.ctx.Done():
			return
		}
	}
	ctx, cancel := context.WithTimeout(f.ctx, opTimeout)
	code, err := l.tp.PairPhone(ctx, phone, l.cfg.deviceName)
	cancel()
	if err != nil {
		l.endFlow(f)
		l.tp.Disconnect()
		l.host.Notice("WhatsApp refused to give a pairing code for +" + phone + " (" + err.Error() + "). Check the number and send `" + retry + "` again.")
		return
	}
	shown := code
	if len(code) == 8 {
		shown = code[:4] + "-" + code[4:]
	}
	l.host.LoginStep(&pasdk.LoginStep{Kind: pasdk.StepDisplayAndWait, StepID: stepPairCode,
		Instructions: "On your phone, open WhatsApp › Settings › Linked devices › Link a device › " +
			"\"Link with phone number instead\", and type this code. It works for about 2 minutes.",
		DisplayText: shown, ExpiresS: 160})
	for {
		item, ok := recvItem(f, ch)
		if !ok {
			return
		}
		if l.finishQR(f, item, retry) {
			return
		}
	}
}
