// SPDX-License-Identifier: AGPL-3.0-or-later

// The identity's invitation link shown in the management room: a QR code
// (PNG in the login's data dir) that a cabinet member scans in Olvid, and
// the link as text for one who opens it on the same device.
package main

import (
	"os"
	"path/filepath"

	qrcode "github.com/skip2/go-qrcode"

	"passerelle/sdk/go/pasdk"
)

// invitationImage is the QR image's file name in the data dir; written
// once per identity (the host reads the file after the step is shown).
const invitationImage = "invitation.png"

const invitationInstructions = "Your Olvid invitation: a cabinet member adds you by scanning this code with Olvid, " +
	"or by opening the link below. Once you are contacts, your discussion appears here as a room."

// showInvitation shows link as a QR image and as text.
func (l *Login) showInvitation(link string) {
	step := &pasdk.LoginStep{Kind: pasdk.StepDisplayAndWait, StepID: stepInvitation,
		Instructions: invitationInstructions, DisplayText: link}
	png, err := qrcode.Encode(link, qrcode.Medium, 512)
	if err == nil {
		path := filepath.Join(l.host.DataDir(), invitationImage)
		if err = os.WriteFile(path, png, 0o600); err == nil {
			step.ImagePath = path
		}
	}
	if err != nil {
		l.logf(pasdk.LogWarning, "invitation QR image: %v", err)
	}
	l.host.LoginStep(step)
}
