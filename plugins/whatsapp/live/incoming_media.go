// SPDX-License-Identifier: AGPL-3.0-or-later

// Incoming media: downloaded and decrypted by whatsmeow, written in the
// data dir (the host uploads it and deletes the file).  Media WhatsApp no
// longer serves (403/404/410) becomes a placeholder and a retry request to
// the phone; the phone's answer (events.MediaRetry) replaces it.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sync/atomic"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/proto/waMmsRetry"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"passerelle/plugins/whatsapp/live/waconv"
	"passerelle/sdk/go/pasdk"
)

var mediaSerial atomic.Uint64

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]`)

// writeMedia writes data as a new file of the data dir.
func (l *Login) writeMedia(prefix string, data []byte) (string, error) {
	if left := l.host.BudgetLeft(); left >= 0 && int64(len(data)) > left {
		return "", fmt.Errorf("the bridge's space for this login is full")
	}
	name := fmt.Sprintf("%s-%d", unsafeName.ReplaceAllString(prefix, "_"), mediaSerial.Add(1))
	path := filepath.Join(l.host.DataDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return "", err
	}
	return path, nil
}

func isExpired(err error) bool {
	return errors.Is(err, whatsmeow.ErrMediaDownloadFailedWith403) ||
		errors.Is(err, whatsmeow.ErrMediaDownloadFailedWith404) ||
		errors.Is(err, whatsmeow.ErrMediaDownloadFailedWith410)
}

// fetchMedia fills c.MediaPath; on failure the content becomes a notice
// saying so.  true when the message must be kept to download it again.
func (l *Login) fetchMedia(info *types.MessageInfo, in *waconv.In, c *pasdk.Content, history bool) (keep bool) {
	var data []byte
	var err error
	if in.Inline != nil {
		data = in.Inline.Data
	} else {
		if history && l.cfg.historyMaxBytes > 0 && l.historyBytes.Load() >= l.cfg.historyMaxBytes {
			l.mediaPlaceholder(c, "not downloaded: the history's media budget is spent")
			return false
		}
		ctx, cancel := context.WithTimeout(l.ctx, 5*time.Minute)
		data, err = l.tp.Download(ctx, in.Media)
		cancel()
	}
	if err != nil {
		if isExpired(err) {
			l.mediaPlaceholder(c, "no longer on WhatsApp's servers; your phone is asked to send it again")
			if !history {
				ctx, cancel := context.WithTimeout(l.ctx, opTimeout)
				if rerr := l.tp.SendMediaRetryReceipt(ctx, info, in.Media.GetMediaKey()); rerr != nil {
					l.log.Warnf("media retry request for %s: %v", info.ID, rerr)
				}
				cancel()
			}
			return true
		}
		l.log.Warnf("download of %s: %v", info.ID, err)
		l.mediaPlaceholder(c, "could not be downloaded ("+err.Error()+")")
		return true
	}
	path, err := l.writeMedia("media-"+info.ID, data)
	if err != nil {
		l.mediaPlaceholder(c, "not bridged: "+err.Error())
		return false
	}
	if history {
		l.historyBytes.Add(int64(len(data)))
	}
	c.MediaPath = path
	c.MediaSize = uint64(len(data))
	if in.Inline != nil {
		if c.MediaName == "" {
			c.MediaName = in.Inline.Name
		}
		if c.Mimetype == "" {
			c.Mimetype = in.Inline.Mimetype
		}
	}
	return false
}

// mediaPlaceholder turns a media content into a notice about it.
func (l *Login) mediaPlaceholder(c *pasdk.Content, why string) {
	what := c.MediaName
	if what == "" {
		what = "a file"
	}
	text := "📎 " + what + ": " + why + "."
	if c.Text != "" {
		text += "\n" + c.Text
	}
	*c = pasdk.Content{Kind: pasdk.MsgNotice, Text: text, ReplyTo: c.ReplyTo, Flags: pasdk.ContentNotIncluded}
}

// setDirectPath points a media message at the path the phone re-uploaded to.
func setDirectPath(m whatsmeow.DownloadableMessage, path string) bool {
	switch v := m.(type) {
	case *waE2E.ImageMessage:
		v.DirectPath = proto.String(path)
	case *waE2E.VideoMessage:
		v.DirectPath = proto.String(path)
	case *waE2E.AudioMessage:
		v.DirectPath = proto.String(path)
	case *waE2E.DocumentMessage:
		v.DirectPath = proto.String(path)
	case *waE2E.StickerMessage:
		v.DirectPath = proto.String(path)
	default:
		return false
	}
	return true
}

// onMediaRetry: the phone answered a retry request; download the media
// again and replace the placeholder.
func (l *Login) onMediaRetry(b *batch, e *events.MediaRetry) {
	chat := e.ChatID
	row, ok := l.msgs.get(chat, e.MessageID)
	if !ok || row.Kind != "media" {
		return
	}
	var msg waE2E.Message
	if proto.Unmarshal(row.Raw, &msg) != nil {
		return
	}
	info := types.MessageInfo{MessageSource: types.MessageSource{Chat: chat, Sender: row.Sender,
		IsFromMe: row.FromMe, IsGroup: chat.Server == types.GroupServer}, ID: e.MessageID, Timestamp: row.TS}
	in := waconv.FromWA(&info, &msg, l.mentionName)
	if in.Media == nil {
		return
	}
	sender := l.userID(row.Sender)
	if row.FromMe {
		sender = l.ownID()
	}
	// An edit of the placeholder (the host keeps the first copy of an id).
	ev := pasdk.Event{Type: pasdk.EvEdit, ChatID: l.chatID(chat), SenderID: sender,
		TimestampMS: row.TS.UnixMilli(), MessageID: e.MessageID + "/retry", TargetID: e.MessageID, FromMe: row.FromMe}
	c := in.Content
	if e.Error != nil {
		l.mediaPlaceholder(&c, fmt.Sprintf("your phone could not send it again (error %d)", e.Error.Code))
	} else if notif, err := whatsmeow.DecryptMediaRetryNotification(e, in.Media.GetMediaKey()); err != nil {
		l.mediaPlaceholder(&c, "your phone's answer could not be read")
	} else if notif.GetResult() != waMmsRetry.MediaRetryNotification_SUCCESS || !setDirectPath(in.Media, notif.GetDirectPath()) {
		l.mediaPlaceholder(&c, "your phone no longer has it")
	} else {
		in.Inline = nil
		l.fetchMedia(&info, &in, &c, true)
	}
	ev.Content = &c
	if b.emit(&ev) == 0 {
		removeFile(c.MediaPath)
	}
}
