// SPDX-License-Identifier: AGPL-3.0-or-later

// Attachments of incoming messages: listed (AttachmentList by message),
// streamed into a file of the data dir (AttachmentDownload), one Matrix
// event each, kind from the mime type.  One larger than max_media_bytes
// is not downloaded: a notice names it and its size.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"passerelle/plugins/olvid/live/daemonpb"
	"passerelle/sdk/go/pasdk"
)

// kindOfMime is the Matrix kind of an attachment's mime type.
func kindOfMime(mime string) pasdk.MsgKind {
	switch {
	case strings.HasPrefix(mime, "image/"):
		return pasdk.MsgImage
	case strings.HasPrefix(mime, "video/"):
		return pasdk.MsgVideo
	case strings.HasPrefix(mime, "audio/"):
		return pasdk.MsgAudio
	}
	return pasdk.MsgFile
}

// sizeText says a size in bytes in words.
func sizeText(n uint64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// tooLargeText is the notice for an attachment not bridged.
func tooLargeText(name string, size uint64, max int64) string {
	return fmt.Sprintf("%q (%s) was not bridged: attachments above %s are not. Open it in Olvid.",
		name, sizeText(size), sizeText(uint64(max)))
}

// emitAttachments emits one event per attachment of m; the first takes the
// message id itself when the message has no text (first true).  Returns
// how many were emitted.
func (l *Login) emitAttachments(ctx context.Context, d *Daemon, b *batch, base pasdk.Event, m *daemonpb.Message,
	id, replyTo string, first bool) int {
	s, err := d.Attachment.AttachmentList(ctx, &daemonpb.AttachmentListRequest{
		Filter: &daemonpb.AttachmentFilter{MessageId: m.GetId()}})
	if err != nil {
		l.logf(pasdk.LogWarning, "attachments of %s: %v", id, err)
		return 0
	}
	atts, err := recvAll(s, (*daemonpb.AttachmentListResponse).GetAttachments)
	if err != nil {
		l.logf(pasdk.LogWarning, "attachments of %s: %v", id, err)
	}
	n := 0
	for i, a := range atts {
		ev := base
		ev.Type = pasdk.EvMessage
		ev.MessageID = id
		if !(first && i == 0) {
			ev.MessageID = fmt.Sprintf("%s/%d", id, i+1)
		}
		c := &pasdk.Content{MediaName: a.GetFileName(), Mimetype: a.GetMimeType(), MediaSize: a.GetSize(),
			ReplyTo: replyTo}
		max := l.cfg.maxMediaBytes
		if a.GetSize() == 0 {
			c.Kind, c.Text = pasdk.MsgNotice, fmt.Sprintf("%q is an empty file.", a.GetFileName())
			c.MediaName, c.Mimetype = "", ""
		} else if max > 0 && a.GetSize() > uint64(max) {
			c.Kind, c.Text = pasdk.MsgNotice, tooLargeText(a.GetFileName(), a.GetSize(), max)
			c.MediaName, c.Mimetype, c.MediaSize = "", "", 0
		} else {
			p, err := l.downloadAttachment(ctx, d, a)
			if err != nil {
				l.logf(pasdk.LogWarning, "attachment %q of %s: %v", a.GetFileName(), id, err)
				c.Kind = pasdk.MsgNotice
				c.Text = fmt.Sprintf("%q (%s) could not be fetched from Olvid. Open it in Olvid.",
					a.GetFileName(), sizeText(a.GetSize()))
				c.MediaName, c.Mimetype, c.MediaSize = "", "", 0
			} else {
				c.Kind, c.MediaPath, c.Text = kindOfMime(a.GetMimeType()), p, a.GetFileName()
				l.logf(pasdk.LogDebug, "attachment %s of %s: %d bytes in %s", a.GetFileName(), ev.MessageID, a.GetSize(), p)
			}
		}
		ev.Content = c
		if b.emit(&ev) == 0 && c.MediaPath != "" {
			os.Remove(c.MediaPath)
		}
		n++
	}
	return n
}

// errTooLarge: the daemon sent more than the attachment's size.
var errTooLarge = errors.New("the attachment is larger than announced")

// errIncomplete: the daemon has not received the whole attachment yet.
var errIncomplete = errors.New("the daemon has not received the whole attachment yet")

// attachmentWait bounds the wait for an attachment the daemon is still
// receiving (a message is announced before its attachments are all there).
var attachmentWait = 2 * time.Minute

// downloadAttachment downloads an attachment, again while the daemon has
// only part of it, until attachmentWait.
func (l *Login) downloadAttachment(ctx context.Context, d *Daemon, a *daemonpb.Attachment) (string, error) {
	deadline := time.Now().Add(attachmentWait)
	pause := 100 * time.Millisecond
	for {
		p, err := l.downloadOnce(ctx, d, a)
		if err != errIncomplete || time.Now().After(deadline) {
			return p, err
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(pause):
		}
		if pause < 2*time.Second {
			pause *= 2
		}
	}
}

// downloadOnce streams an attachment into a file of the data dir.
func (l *Login) downloadOnce(ctx context.Context, d *Daemon, a *daemonpb.Attachment) (string, error) {
	dir := filepath.Join(l.host.DataDir(), "media")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(dir, "in-*")
	if err != nil {
		return "", err
	}
	ok := false
	defer func() {
		f.Close()
		if !ok {
			os.Remove(f.Name())
		}
	}()
	s, err := d.Attachment.AttachmentDownload(ctx, &daemonpb.AttachmentDownloadRequest{AttachmentId: a.GetId()})
	if err != nil {
		return "", err
	}
	var got uint64
	for {
		r, err := s.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", err
		}
		got += uint64(len(r.GetChunk()))
		if l.cfg.maxMediaBytes > 0 && got > uint64(l.cfg.maxMediaBytes) {
			return "", errTooLarge
		}
		if _, err := f.Write(r.GetChunk()); err != nil {
			return "", err
		}
	}
	if got != a.GetSize() {
		return "", errIncomplete
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	ok = true
	return f.Name(), nil
}
