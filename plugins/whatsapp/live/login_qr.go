// SPDX-License-Identifier: AGPL-3.0-or-later

// The QR flow: each code whatsmeow rotates (60 s, then 20 s five times)
// becomes a new PNG in the data dir, shown as the same step (it replaces
// the image in the room); the previous file is deleted after the next step.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"

	qrcode "github.com/skip2/go-qrcode"

	"passerelle/sdk/go/pasdk"
)

var qrSerial atomic.Uint64

const qrInstructions = "On your phone, open WhatsApp › Settings › Linked devices › Link a device, and scan this code. " +
	"A new code replaces this one every 20 seconds or so."

func (l *Login) runQR(f *loginFlow) {
	ch, err := l.tp.GetQRChannel(f.ctx)
	if err != nil {
		l.endFlow(f)
		l.host.Notice("Cannot start the WhatsApp login: " + err.Error())
		return
	}
	if err := l.tp.Connect(); err != nil {
		l.endFlow(f)
		l.host.Notice("Cannot reach WhatsApp to log in (" + err.Error() + "). Send `login whatsapp qr` to try again.")
		return
	}
	for {
		var item, ok = recvItem(f, ch)
		if !ok {
			return
		}
		if item.Event == "code" {
			if !l.currentFlow(f) {
				return
			}
			l.showQR(f, item.Code, uint32(item.Timeout.Seconds()))
			continue
		}
		if l.finishQR(f, item, "login whatsapp qr") {
			return
		}
	}
}

// showQR writes the code's image under a new name and shows it.
func (l *Login) showQR(f *loginFlow, code string, expires uint32) {
	png, err := qrcode.Encode(code, qrcode.Medium, 512)
	if err != nil {
		l.log.Errorf("QR code image: %v", err)
		return
	}
	path := filepath.Join(l.host.DataDir(), fmt.Sprintf("qr-%d.png", qrSerial.Add(1)))
	if err := os.WriteFile(path, png, 0o600); err != nil {
		l.log.Errorf("QR code image: %v", err)
		return
	}
	l.host.LoginStep(&pasdk.LoginStep{Kind: pasdk.StepDisplayAndWait, StepID: stepQR,
		Instructions: qrInstructions, DisplayText: code, ImagePath: path, ExpiresS: expires})
	removeFile(f.lastImage)
	f.lastImage = path
}
