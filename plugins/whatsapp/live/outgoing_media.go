// SPDX-License-Identifier: AGPL-3.0-or-later

// Outgoing media: the file the host downloaded is uploaded (whatsmeow
// encrypts it), then sent as the matching WhatsApp message.
package main

import (
	"context"
	"os"

	"go.mau.fi/whatsmeow/proto/waE2E"

	"passerelle/plugins/whatsapp/live/waconv"
	"passerelle/sdk/go/pasdk"
)

// maxSendBytes: WhatsApp's limit for documents is 2 GB, but a bridge that
// holds files in memory stops at 100 MB.
const maxSendBytes = 100 << 20

func (l *Login) mediaMessage(ctx context.Context, c *pasdk.Content, reply *waconv.ReplyTo, timer uint32) (*waE2E.Message, *pasdk.OpResult) {
	st, err := os.Stat(c.MediaPath)
	if err != nil {
		return nil, &pasdk.OpResult{Code: pasdk.ResultPermanent, Error: "The file to send is missing."}
	}
	if st.Size() > maxSendBytes {
		return nil, &pasdk.OpResult{Code: pasdk.ResultTooLarge, Error: "WhatsApp files sent through the bridge are limited to 100 MB."}
	}
	data, err := os.ReadFile(c.MediaPath)
	if err != nil {
		return nil, &pasdk.OpResult{Code: pasdk.ResultPermanent, Error: "The file to send cannot be read."}
	}
	if c.MediaSize == 0 {
		c.MediaSize = uint64(len(data))
	}
	up, err := l.tp.Upload(ctx, data, waconv.MediaTypeFor(c.Kind))
	if err != nil {
		return nil, resultFor(err, false)
	}
	return waconv.MediaMessage(c, up, nil, reply, timer), nil
}
