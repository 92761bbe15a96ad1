// SPDX-License-Identifier: AGPL-3.0-or-later

// The `restore` flow: moves an agent's existing Olvid identity into the
// ministry's daemon from an Olvid backup (BackupRestoreProfileSnapshot
// with the admin key).  A warning comes first: this is a migration.
package main

import (
	"context"
	"strings"

	"google.golang.org/grpc/codes"

	"passerelle/plugins/olvid/live/daemonpb"
	"passerelle/sdk/go/pasdk"
)

// restoreWarning says what the published API implies: the daemon restores
// the identity's profile (its keys, contacts, groups) as a new device of
// that identity; Olvid backups hold no messages.
const restoreWarning = "⚠ Read this before you go on. This MOVES your Olvid identity into your ministry's Olvid server: " +
	"the server becomes a device of that identity, restored from your Olvid backup (your keys, contacts and groups; " +
	"Olvid backups hold no messages, so your past discussions stay only on your phone). Unless your Olvid licence " +
	"allows several devices of one identity, Olvid deactivates the identity on the device it was on before: your " +
	"phone's Olvid stops being that identity and stops receiving its messages, which then reach you here, in Tchap. " +
	"Your contacts see nothing change. Going back means restoring a backup on your phone again, which moves the " +
	"identity away from the server in the same way."

func (l *Login) askRestoreWarning(f *loginFlow) {
	l.step(f, &pasdk.LoginStep{Kind: pasdk.StepUserInput, StepID: stepRestoreWarn,
		Instructions: restoreWarning,
		Fields: []pasdk.Field{{ID: "confirm", Label: "answer: `yes` to move your identity, `no` to stop",
			Type: pasdk.FieldChoice, Choices: []string{"yes", "no"}}}})
}

func (l *Login) answerRestoreWarning(f *loginFlow, answer string) {
	if !strings.EqualFold(strings.TrimSpace(answer), "yes") {
		l.endFlow(f)
		l.host.Notice("Nothing was moved: your Olvid identity stays where it is.")
		return
	}
	l.askBackup(f, "")
}

// askBackup asks what BackupRestoreProfileSnapshot takes: the backup key,
// the profile snapshot's id, and a name for the new device.
func (l *Login) askBackup(f *loginFlow, why string) {
	l.step(f, &pasdk.LoginStep{Kind: pasdk.StepUserInput, StepID: stepRestoreBackup,
		Instructions: strings.TrimSpace(why + " Your Olvid backup key is in Olvid on your phone (Settings › Backups). " +
			"The id of your profile's snapshot in that backup is listed by an administrator of the ministry's Olvid " +
			"server from the backup key (the daemon's BackupGet)."),
		Fields: []pasdk.Field{
			{ID: "backup_key", Label: "Olvid backup key", Type: pasdk.FieldPassword},
			{ID: "snapshot", Label: "profile snapshot id", Type: pasdk.FieldText},
			{ID: "device", Label: "name of this new device", Type: pasdk.FieldText, Default: "Tchap (Passerelle)"},
		}})
}

func (l *Login) runRestore(f *loginFlow, fields map[string]string) {
	key := strings.TrimSpace(fields["backup_key"])
	snap := strings.TrimSpace(fields["snapshot"])
	if key == "" || snap == "" {
		l.askBackup(f, "Both the backup key and the snapshot id are needed.")
		return
	}
	d, err := l.adminDial(f.ctx)
	if err != nil {
		l.fail(f, failureText("reach the Olvid server", err))
		return
	}
	defer d.Close()
	req := &daemonpb.BackupRestoreProfileSnapshotRequest{BackupKey: key, Id: snap}
	if dev := strings.TrimSpace(fields["device"]); dev != "" {
		req.NewDeviceName = &dev
	}
	ctx, cancel := context.WithTimeout(f.ctx, callTimeout)
	defer cancel()
	r, err := d.BackupAdmin.BackupRestoreProfileSnapshot(ctx, req)
	switch codeOf(err) {
	case codes.OK:
	case codes.NotFound, codes.InvalidArgument:
		l.askBackup(f, "The Olvid server did not restore that backup ("+errorText(err)+"): check the backup key and the snapshot id.")
		return
	default:
		l.fail(f, failureText("restore your identity", err))
		return
	}
	l.finishWithNewKey(f, d, r.GetRestoredIdentity())
}
