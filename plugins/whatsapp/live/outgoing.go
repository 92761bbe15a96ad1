// SPDX-License-Identifier: AGPL-3.0-or-later

// Matrix → WhatsApp: send, edit, redact, react, read receipts and typing.
// Each op runs in a goroutine and is answered exactly once with the code
// that says what happened.
package main

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"

	"passerelle/plugins/whatsapp/live/waconv"
	"passerelle/sdk/go/pasdk"
)

// editWindow: WhatsApp lets a message be edited for 15 minutes.
const editWindow = 15 * time.Minute

// resultFor maps a whatsmeow error to an op result.  left: the request may
// have reached WhatsApp (a timeout then is UNCERTAIN, not TEMPORARY).
func resultFor(err error, left bool) *pasdk.OpResult {
	var iq *whatsmeow.IQError
	msg := err.Error()
	switch {
	case errors.Is(err, whatsmeow.ErrNotConnected), errors.Is(err, whatsmeow.ErrNotLoggedIn):
		return &pasdk.OpResult{Code: pasdk.ResultNotConnected, Error: "WhatsApp is not connected."}
	case errors.As(err, &iq) && iq.Code == 429,
		errors.Is(err, whatsmeow.ErrServerReturnedError) && strings.HasSuffix(msg, " 429"):
		return &pasdk.OpResult{Code: pasdk.ResultRateLimited, RetryAfterMS: 5000, Error: "WhatsApp asks to slow down."}
	case errors.As(err, &iq) && iq.Code == 403, errors.Is(err, whatsmeow.ErrNotInGroup):
		return &pasdk.OpResult{Code: pasdk.ResultForbidden, Error: "WhatsApp does not allow it (" + msg + ")."}
	case errors.As(err, &iq) && iq.Code == 404, errors.Is(err, whatsmeow.ErrGroupNotFound):
		return &pasdk.OpResult{Code: pasdk.ResultNotFound, Error: "WhatsApp does not know it (" + msg + ")."}
	case errors.Is(err, whatsmeow.ErrMessageTimedOut), errors.Is(err, whatsmeow.ErrIQTimedOut),
		errors.Is(err, context.DeadlineExceeded):
		if left {
			return &pasdk.OpResult{Code: pasdk.ResultUncertain, Error: "WhatsApp did not answer in time."}
		}
		return &pasdk.OpResult{Code: pasdk.ResultTemporary, Error: "WhatsApp did not answer in time."}
	}
	return &pasdk.OpResult{Code: pasdk.ResultPermanent, Error: "WhatsApp refused it: " + msg + "."}
}

// runOp runs fn in a goroutine with a deadline and answers its result.
func (l *Login) runOp(op uint64, fn func(ctx context.Context) *pasdk.OpResult) {
	l.spawn(func() {
		ctx, cancel := context.WithTimeout(l.ctx, opTimeout)
		defer cancel()
		r := fn(ctx)
		if r == nil {
			r = &pasdk.OpResult{Code: pasdk.ResultOK}
		}
		l.host.OpResult(op, r)
	})
}

// ready checks the login can talk to WhatsApp now.
func (l *Login) ready() *pasdk.OpResult {
	if l.cli.Store.ID == nil || !l.tp.IsConnected() {
		return &pasdk.OpResult{Code: pasdk.ResultNotConnected, Error: "WhatsApp is not connected."}
	}
	return nil
}

func notFound(what string) *pasdk.OpResult {
	return &pasdk.OpResult{Code: pasdk.ResultNotFound, Error: what}
}

// chatTimer is the chat's disappearing timer (seconds, 0 off).
func (l *Login) chatTimer(chatID string) uint32 {
	v, ok := l.host.MetaGet(pasdk.MetaChat, chatID+"#timer")
	if !ok {
		return 0
	}
	n, _ := strconv.ParseUint(v, 10, 32)
	return uint32(n)
}

// replyTo finds who sent the message a reply answers.
func (l *Login) replyTo(chat types.JID, id string) *waconv.ReplyTo {
	if id == "" {
		return nil
	}
	row, ok := l.msgs.get(chat, id)
	if !ok {
		return &waconv.ReplyTo{ID: id, Sender: chat.ToNonAD()}
	}
	sender := row.Sender
	if row.FromMe && l.cli.Store.ID != nil {
		sender = l.cli.Store.ID.ToNonAD()
	}
	return &waconv.ReplyTo{ID: id, Sender: sender}
}

// send delivers msg and records it; the result carries its id and time.
func (l *Login) send(ctx context.Context, chat types.JID, msg *waE2E.Message, txnID string) *pasdk.OpResult {
	id := l.cli.GenerateMessageID()
	if txnID != "" {
		l.sent.Store(id, txnID)
	}
	resp, err := l.tp.SendMessage(ctx, chat, msg, id)
	if err != nil {
		return resultFor(err, true)
	}
	ts := resp.Timestamp
	if ts.IsZero() {
		ts = time.Now()
	}
	own := types.EmptyJID
	if l.cli.Store.ID != nil {
		own = l.cli.Store.ID.ToNonAD()
	}
	l.msgs.put(chat, id, msgRow{Sender: own, FromMe: true, TS: ts})
	return &pasdk.OpResult{Code: pasdk.ResultOK, LegacyID: id, LegacyTSMS: ts.UnixMilli()}
}

// Send sends a message of any kind.
func (l *Login) Send(op uint64, chatID string, c *pasdk.Content, txnID string) {
	cc := *c
	l.runOp(op, func(ctx context.Context) *pasdk.OpResult {
		if r := l.ready(); r != nil {
			return r
		}
		chat, ok := l.parseChat(chatID)
		if !ok {
			return notFound("This is not a WhatsApp chat.")
		}
		reply := l.replyTo(chat, cc.ReplyTo)
		timer := l.chatTimer(chatID)
		var msg *waE2E.Message
		switch cc.Kind {
		case pasdk.MsgLocation:
			msg = waconv.LocationMessage(&cc, reply, timer)
		case pasdk.MsgImage, pasdk.MsgVideo, pasdk.MsgAudio, pasdk.MsgVoice, pasdk.MsgFile, pasdk.MsgSticker:
			var r *pasdk.OpResult
			msg, r = l.mediaMessage(ctx, &cc, reply, timer)
			if r != nil {
				return r
			}
		default:
			msg = waconv.TextMessage(&cc, reply, timer)
		}
		if msg == nil {
			return &pasdk.OpResult{Code: pasdk.ResultUnsupported, Error: "WhatsApp has no message of this kind."}
		}
		return l.send(ctx, chat, msg, txnID)
	})
}

// Edit replaces the text of one of the agent's messages.
func (l *Login) Edit(op uint64, chatID, targetID string, c *pasdk.Content) {
	cc := *c
	l.runOp(op, func(ctx context.Context) *pasdk.OpResult {
		if r := l.ready(); r != nil {
			return r
		}
		chat, ok := l.parseChat(chatID)
		if !ok {
			return notFound("This is not a WhatsApp chat.")
		}
		if row, ok := l.msgs.get(chat, targetID); ok {
			if !row.FromMe {
				return &pasdk.OpResult{Code: pasdk.ResultForbidden, Error: "WhatsApp lets you edit only your own messages."}
			}
			if time.Since(row.TS) > editWindow {
				return &pasdk.OpResult{Code: pasdk.ResultPermanent,
					Error: "WhatsApp allows edits for 15 minutes after sending; this message is older, so the edit was not sent."}
			}
		}
		cc.ReplyTo = ""
		msg := l.cli.BuildEdit(chat, targetID, waconv.TextMessage(&cc, nil, 0))
		r := l.send(ctx, chat, msg, "")
		if r.Code == pasdk.ResultOK {
			r.LegacyID = "" // an edit keeps the message's id
		}
		return r
	})
}

// senderOf is the original sender of a message, for revokes and reactions.
func (l *Login) senderOf(chat types.JID, id string) types.JID {
	row, ok := l.msgs.get(chat, id)
	if !ok || row.FromMe {
		if l.cli.Store.ID != nil {
			return l.cli.Store.ID.ToNonAD()
		}
	}
	return row.Sender
}

// Redact deletes a message for everyone (the agent's own, or any in a
// group where the agent is admin).
func (l *Login) Redact(op uint64, chatID, targetID string) {
	l.runOp(op, func(ctx context.Context) *pasdk.OpResult {
		if r := l.ready(); r != nil {
			return r
		}
		chat, ok := l.parseChat(chatID)
		if !ok {
			return notFound("This is not a WhatsApp chat.")
		}
		r := l.send(ctx, chat, l.cli.BuildRevoke(chat, l.senderOf(chat, targetID), targetID), "")
		if r.Code == pasdk.ResultOK {
			r.LegacyID = ""
		}
		return r
	})
}

// React sets (or removes) the agent's reaction: WhatsApp keeps one per person.
func (l *Login) React(op uint64, chatID, targetID, key string, remove bool) {
	l.runOp(op, func(ctx context.Context) *pasdk.OpResult {
		if r := l.ready(); r != nil {
			return r
		}
		chat, ok := l.parseChat(chatID)
		if !ok {
			return notFound("This is not a WhatsApp chat.")
		}
		k := key
		if remove {
			k = ""
		}
		return l.send(ctx, chat, l.cli.BuildReaction(chat, l.senderOf(chat, targetID), targetID, k), "")
	})
}

// MarkRead sends a read receipt up to messageID.
func (l *Login) MarkRead(op uint64, chatID, messageID string) {
	l.runOp(op, func(ctx context.Context) *pasdk.OpResult {
		if r := l.ready(); r != nil {
			return r
		}
		chat, ok := l.parseChat(chatID)
		if !ok {
			return notFound("This is not a WhatsApp chat.")
		}
		row, ok := l.msgs.get(chat, messageID)
		if ok && row.FromMe {
			return nil // WhatsApp has no read receipt for one's own messages
		}
		sender := row.Sender
		if !ok {
			sender = chat
		}
		if err := l.tp.MarkRead(ctx, []types.MessageID{messageID}, time.Now(), chat, sender); err != nil {
			return resultFor(err, true)
		}
		return nil
	})
}

// Typing shows or stops "typing…" in the chat.
func (l *Login) Typing(op uint64, chatID string, typing bool) {
	l.runOp(op, func(ctx context.Context) *pasdk.OpResult {
		if r := l.ready(); r != nil {
			return r
		}
		chat, ok := l.parseChat(chatID)
		if !ok {
			return notFound("This is not a WhatsApp chat.")
		}
		state := types.ChatPresencePaused
		if typing {
			state = types.ChatPresenceComposing
		}
		if err := l.tp.SendChatPresence(ctx, chat, state, types.ChatPresenceMediaText); err != nil {
			return resultFor(err, true)
		}
		return nil
	})
}

// afterConnect: WhatsApp sends typing notifications only to clients that
// said they are available; "unavailable" keeps the phone's notifications.
func (l *Login) afterConnect() {
	ctx, cancel := context.WithTimeout(l.ctx, opTimeout)
	defer cancel()
	if err := l.tp.SendPresence(ctx, types.PresenceUnavailable); err != nil {
		l.log.Warnf("presence: %v", err)
	}
}
