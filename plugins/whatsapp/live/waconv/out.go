// SPDX-License-Identifier: AGPL-3.0-or-later

package waconv

import (
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"

	"passerelle/sdk/go/pasdk"
)

// ReplyTo is the message an outgoing one answers.  Quoted may be nil.
type ReplyTo struct {
	ID     string
	Sender types.JID
	Quoted *waE2E.Message
}

// TextMessage builds a text message.
func TextMessage(c *pasdk.Content, reply *ReplyTo, timerS uint32) *waE2E.Message { return nil }

// MediaMessage builds a media message from an uploaded file.
func MediaMessage(c *pasdk.Content, up whatsmeow.UploadResponse, thumbnail []byte, reply *ReplyTo, timerS uint32) *waE2E.Message {
	return nil
}

// MediaTypeFor is the upload media type of a message kind.
func MediaTypeFor(kind pasdk.MsgKind) whatsmeow.MediaType { return whatsmeow.MediaDocument }

// LocationMessage builds a location message.
func LocationMessage(c *pasdk.Content, reply *ReplyTo, timerS uint32) *waE2E.Message { return nil }
