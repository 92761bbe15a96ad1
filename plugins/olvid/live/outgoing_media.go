// SPDX-License-Identifier: AGPL-3.0-or-later

// Outgoing attachments: the file the host downloaded from Matrix is sent
// with MessageSendWithAttachments, a client stream that, as the daemon's
// API describes it, carries one metadata message (the discussion, the
// caption, the reply, each file's name and size), then for each file its
// bytes in payload chunks, then a file_delimiter.  The same chunking sends
// a group's photo (GroupSetPhoto: metadata, then payload chunks).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"passerelle/plugins/olvid/live/daemonpb"
	"passerelle/sdk/go/pasdk"
)

// chunkBytes is the largest payload chunk sent in one stream message.
const chunkBytes = 1 << 20

// openUpload opens a file to send and checks it against max_media_bytes.
func (l *Login) openUpload(path string) (*os.File, uint64, *pasdk.OpResult) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, &pasdk.OpResult{Code: pasdk.ResultPermanent, Error: "The file to send cannot be read."}
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, &pasdk.OpResult{Code: pasdk.ResultPermanent, Error: "The file to send cannot be read."}
	}
	if max := l.cfg.maxMediaBytes; max > 0 && st.Size() > max {
		f.Close()
		return nil, 0, &pasdk.OpResult{Code: pasdk.ResultTooLarge,
			Error: fmt.Sprintf("Files sent to Olvid through the bridge are limited to %s; this one is %s.",
				sizeText(uint64(max)), sizeText(uint64(st.Size())))}
	}
	return f, uint64(st.Size()), nil
}

// sendChunks reads r to its end and sends it in chunks of at most
// chunkBytes; n is the size announced in the metadata, which must match.
func sendChunks(r io.Reader, n uint64, send func(payload []byte) error) error {
	buf := make([]byte, chunkBytes)
	var sent uint64
	for {
		k, err := io.ReadFull(r, buf)
		if k > 0 {
			if err := send(buf[:k]); err != nil {
				return err
			}
			sent += uint64(k)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return err
		}
	}
	if sent != n {
		return fmt.Errorf("the file changed while it was sent (%d bytes announced, %d read)", n, sent)
	}
	return nil
}

// fileName is the name an attachment gets on Olvid.
func fileName(c *pasdk.Content) string {
	name := filepath.Base(c.MediaName)
	if name == "" || name == "." || name == "/" {
		name = "file"
	}
	return name
}

// caption is the text sent with an attachment: Matrix puts the file's
// name in the body when there is no caption, Olvid shows the name already.
func caption(c *pasdk.Content) *string {
	t := strings.TrimSpace(c.Text)
	if t == "" || t == c.MediaName || t == filepath.Base(c.MediaName) {
		return nil
	}
	return &t
}

// sendAttachment sends one file as one Olvid message.
func (l *Login) sendAttachment(ctx context.Context, d *Daemon, disc uint64, c *pasdk.Content,
	reply *daemonpb.MessageId, txnID string) pasdk.OpResult {
	f, size, bad := l.openUpload(c.MediaPath)
	if bad != nil {
		return *bad
	}
	defer f.Close()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var call sentCall
	stream, err := d.Message.MessageSendWithAttachments(sctx, call.opt())
	if err != nil {
		return call.result(err)
	}
	meta := &daemonpb.MessageSendWithAttachmentsRequestMetadata{
		DiscussionId: disc, Body: caption(c), ReplyId: reply,
		Files: []*daemonpb.MessageSendWithAttachmentsRequestMetadata_File{{Filename: fileName(c), FileSize: size}},
	}
	// A Send error is io.EOF when the daemon ended the stream (its status
	// comes with CloseAndRecv) or the connection's error (the same).
	sendErr := stream.Send(&daemonpb.MessageSendWithAttachmentsRequest{
		Request: &daemonpb.MessageSendWithAttachmentsRequest_Metadata{Metadata: meta}})
	var fileErr error
	if sendErr == nil {
		fileErr = sendChunks(f, size, func(p []byte) error {
			if err := stream.Send(&daemonpb.MessageSendWithAttachmentsRequest{
				Request: &daemonpb.MessageSendWithAttachmentsRequest_Payload{Payload: p}}); err != nil {
				return streamError{err}
			}
			return nil
		})
		var se streamError
		if errors.As(fileErr, &se) {
			sendErr, fileErr = se.err, nil
		}
	}
	if fileErr != nil {
		// The file failed on our side: the stream is cancelled before its
		// delimiter, so the daemon makes no message.
		cancel()
		return pasdk.OpResult{Code: pasdk.ResultPermanent, Error: "The file could not be read to the end, so it was not sent."}
	}
	// The delimiter completes the message: the daemon makes it then.
	return l.creating(func() pasdk.OpResult {
		if sendErr == nil {
			stream.Send(&daemonpb.MessageSendWithAttachmentsRequest{ // an error shows in CloseAndRecv
				Request: &daemonpb.MessageSendWithAttachmentsRequest_FileDelimiter{FileDelimiter: true}})
		}
		r, err := stream.CloseAndRecv()
		if err != nil {
			return call.result(err)
		}
		return l.sentResult(r.GetMessage(), txnID)
	})
}

// streamError marks an error of the stream (not of the file) in sendChunks.
type streamError struct{ err error }

func (e streamError) Error() string { return e.err.Error() }
