// SPDX-License-Identifier: AGPL-3.0-or-later

// What an agent sends to the waE2E message the plugin gives SendMessage.

package waconv

import (
	"strings"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"google.golang.org/protobuf/proto"

	"passerelle/sdk/go/pasdk"
)

// ReplyTo is the message an outgoing one answers.  Quoted may be nil.
type ReplyTo struct {
	ID     string
	Sender types.JID
	Quoted *waE2E.Message
}

// TextMessage builds a text message: a plain conversation when it needs
// no context, else an extendedTextMessage carrying the reply and the
// disappearing timer.  HTML is turned into WhatsApp markup; an emote
// becomes "* text".
func TextMessage(c *pasdk.Content, reply *ReplyTo, timerS uint32) *waE2E.Message {
	text := body(c)
	if c.Kind == pasdk.MsgEmote {
		text = "* " + text
	}
	ci := contextFor(reply, timerS)
	if ci == nil {
		return &waE2E.Message{Conversation: proto.String(text)}
	}
	return &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String(text), ContextInfo: ci}}
}

// MediaMessage builds the message of an uploaded file: image, video,
// audio, voice note (PTT), document or sticker, with its caption (the
// text, unless it only repeats the file name), name, mimetype, sizes and
// duration, and the upload's keys and paths.  A sticker that is not WebP
// goes as an image; a location goes as a location.
func MediaMessage(c *pasdk.Content, up whatsmeow.UploadResponse, thumbnail []byte, reply *ReplyTo, timerS uint32) *waE2E.Message {
	if c.Kind == pasdk.MsgLocation {
		return LocationMessage(c, reply, timerS)
	}
	ci := contextFor(reply, timerS)
	caption := strOrNil(body(c))
	if c.Text == c.MediaName && c.HTML == "" {
		caption = nil
	}
	size := up.FileLength
	if size == 0 {
		size = c.MediaSize
	}
	mimetype := c.Mimetype
	thumb := thumbnail
	if len(thumb) == 0 {
		thumb = nil
	}
	switch c.Kind {
	case pasdk.MsgImage, pasdk.MsgSticker:
		if c.Kind == pasdk.MsgSticker && baseType(mimetype) == "image/webp" {
			return &waE2E.Message{StickerMessage: &waE2E.StickerMessage{
				URL: strOrNil(up.URL), DirectPath: strOrNil(up.DirectPath), MediaKey: up.MediaKey,
				FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: proto.Uint64(size),
				Mimetype: proto.String(mimetype), Width: u32OrNil(c.Width), Height: u32OrNil(c.Height),
				ContextInfo: ci,
			}}
		}
		if mimetype == "" {
			mimetype = "image/jpeg"
		}
		return &waE2E.Message{ImageMessage: &waE2E.ImageMessage{
			URL: strOrNil(up.URL), DirectPath: strOrNil(up.DirectPath), MediaKey: up.MediaKey,
			FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: proto.Uint64(size),
			Mimetype: proto.String(mimetype), Caption: caption, Width: u32OrNil(c.Width), Height: u32OrNil(c.Height),
			JPEGThumbnail: thumb, ContextInfo: ci,
		}}
	case pasdk.MsgVideo:
		if mimetype == "" {
			mimetype = "video/mp4"
		}
		return &waE2E.Message{VideoMessage: &waE2E.VideoMessage{
			URL: strOrNil(up.URL), DirectPath: strOrNil(up.DirectPath), MediaKey: up.MediaKey,
			FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: proto.Uint64(size),
			Mimetype: proto.String(mimetype), Caption: caption, Width: u32OrNil(c.Width), Height: u32OrNil(c.Height),
			Seconds: u32OrNil(seconds(c.DurationMS)), JPEGThumbnail: thumb, ContextInfo: ci,
		}}
	case pasdk.MsgAudio, pasdk.MsgVoice:
		voice := c.Kind == pasdk.MsgVoice
		switch {
		case voice && (mimetype == "" || baseType(mimetype) == "audio/ogg"):
			mimetype = "audio/ogg; codecs=opus"
		case mimetype == "":
			mimetype = "audio/mpeg"
		}
		var ptt *bool
		if voice {
			ptt = proto.Bool(true)
		}
		return &waE2E.Message{AudioMessage: &waE2E.AudioMessage{
			URL: strOrNil(up.URL), DirectPath: strOrNil(up.DirectPath), MediaKey: up.MediaKey,
			FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: proto.Uint64(size),
			Mimetype: proto.String(mimetype), Seconds: u32OrNil(seconds(c.DurationMS)), PTT: ptt, ContextInfo: ci,
		}}
	}
	if mimetype == "" {
		mimetype = "application/octet-stream"
	}
	name := firstOf(c.MediaName, "file")
	m := &waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{
		URL: strOrNil(up.URL), DirectPath: strOrNil(up.DirectPath), MediaKey: up.MediaKey,
		FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: proto.Uint64(size),
		Mimetype: proto.String(mimetype), FileName: proto.String(name), Title: proto.String(name),
		Caption: caption, JPEGThumbnail: thumb, ContextInfo: ci,
	}}
	if caption != nil {
		// WhatsApp shows a document's caption only in this wrapper.
		return &waE2E.Message{DocumentWithCaptionMessage: &waE2E.FutureProofMessage{Message: m}}
	}
	return m
}

// MediaTypeFor is the upload media type of a message kind (the key
// derivation whatsmeow's Upload needs).
func MediaTypeFor(kind pasdk.MsgKind) whatsmeow.MediaType {
	switch kind {
	case pasdk.MsgImage, pasdk.MsgSticker:
		return whatsmeow.MediaImage
	case pasdk.MsgVideo:
		return whatsmeow.MediaVideo
	case pasdk.MsgAudio, pasdk.MsgVoice:
		return whatsmeow.MediaAudio
	}
	return whatsmeow.MediaDocument
}

// LocationMessage builds a location; its name is the text, without the
// geo: URI and generic words Matrix clients put in a location's body.
func LocationMessage(c *pasdk.Content, reply *ReplyTo, timerS uint32) *waE2E.Message {
	var words []string
	for _, w := range strings.Fields(body(c)) {
		if !strings.HasPrefix(strings.ToLower(w), "geo:") {
			words = append(words, w)
		}
	}
	name := strings.Trim(strings.Join(words, " "), " :")
	switch strings.ToLower(name) {
	case "location", "location at", "shared location", "my location", "position":
		name = ""
	}
	return &waE2E.Message{LocationMessage: &waE2E.LocationMessage{
		DegreesLatitude: proto.Float64(c.Latitude), DegreesLongitude: proto.Float64(c.Longitude),
		Name: strOrNil(name), ContextInfo: contextFor(reply, timerS),
	}}
}

// body is the text to send: the HTML turned into markup when there is one.
func body(c *pasdk.Content) string {
	if c.HTML != "" {
		if t := FromHTML(c.HTML); strings.TrimSpace(t) != "" {
			return t
		}
	}
	return c.Text
}

func contextFor(reply *ReplyTo, timerS uint32) *waE2E.ContextInfo {
	if (reply == nil || reply.ID == "") && timerS == 0 {
		return nil
	}
	ci := &waE2E.ContextInfo{}
	if reply != nil && reply.ID != "" {
		ci.StanzaID = proto.String(reply.ID)
		ci.QuotedType = waE2E.ContextInfo_EXPLICIT.Enum()
		if !reply.Sender.IsEmpty() {
			ci.Participant = proto.String(reply.Sender.ToNonAD().String())
		}
		ci.QuotedMessage = reply.Quoted
		if ci.QuotedMessage == nil {
			// WhatsApp shows a reply only with a quoted message.
			ci.QuotedMessage = &waE2E.Message{Conversation: proto.String("")}
		}
	}
	if timerS > 0 {
		ci.Expiration = proto.Uint32(timerS)
	}
	return ci
}

func baseType(mimetype string) string {
	b, _, _ := strings.Cut(mimetype, ";")
	return strings.ToLower(strings.TrimSpace(b))
}

// seconds rounds a duration up: a 300 ms voice note lasts 1 s, not 0.
func seconds(ms uint32) uint32 { return uint32((uint64(ms) + 999) / 1000) }

func strOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func u32OrNil(v uint32) *uint32 {
	if v == 0 {
		return nil
	}
	return &v
}
