// SPDX-License-Identifier: AGPL-3.0-or-later

// Photos of contacts and groups: downloaded whole from the daemon into the
// login's data dir (one file per contact or group, rewritten under a new
// name when the photo changes: the host may still be reading the old one),
// named as avatar paths (the host only reads them).
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"

	"passerelle/plugins/olvid/live/daemonpb"
	"passerelle/sdk/go/pasdk"
)

// photoDir is the folder of the photos in the data dir.
const photoDir = "photos"

// savePhoto writes data as <data dir>/photos/<owner>-<hash>.img and returns
// its path; an existing file with the same content is reused.
func (l *Login) savePhoto(owner string, data []byte) string {
	if len(data) == 0 {
		return ""
	}
	sum := sha256.Sum256(data)
	dir := filepath.Join(l.host.DataDir(), photoDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		l.logf(pasdk.LogWarning, "photo folder: %v", err)
		return ""
	}
	p := filepath.Join(dir, owner+"-"+hex.EncodeToString(sum[:8])+".img")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	tmp := p + ".part"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		l.logf(pasdk.LogWarning, "photo %s: %v", owner, err)
		return ""
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return ""
	}
	return p
}

// contactPhoto downloads a contact's photo; "" when there is none.
func (l *Login) contactPhoto(ctx context.Context, d *Daemon, contactID uint64, user string) string {
	r, err := d.Contact.ContactDownloadPhoto(ctx, &daemonpb.ContactDownloadPhotoRequest{ContactId: contactID})
	if err != nil {
		l.logf(pasdk.LogInfo, "photo of contact %d: %v", contactID, err)
		return ""
	}
	return l.savePhoto("c"+user, r.GetPhoto())
}

// groupPhoto downloads a group's photo; "" when there is none.
func (l *Login) groupPhoto(ctx context.Context, d *Daemon, groupID uint64, chat string) string {
	r, err := d.Group.GroupDownloadPhoto(ctx, &daemonpb.GroupDownloadPhotoRequest{GroupId: groupID})
	if err != nil {
		l.logf(pasdk.LogInfo, "photo of group %d: %v", groupID, err)
		return ""
	}
	return l.savePhoto(chat, r.GetPhoto())
}
