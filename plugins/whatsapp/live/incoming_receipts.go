// SPDX-License-Identifier: AGPL-3.0-or-later

// Receipts, typing, presence and contact names and pictures.
package main

import (
	"context"
	"time"

	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"passerelle/sdk/go/pasdk"
)

// typingTimeout: WhatsApp repeats "composing" while the person types.
const typingTimeout = 15000

func (l *Login) onReceipt(b *batch, e *events.Receipt) {
	var t pasdk.EventType
	switch e.Type {
	case types.ReceiptTypeRead, types.ReceiptTypeReadSelf, types.ReceiptTypePlayed, types.ReceiptTypePlayedSelf:
		t = pasdk.EvReadReceipt
	case types.ReceiptTypeDelivered:
		t = pasdk.EvDeliveryReceipt
	default:
		return
	}
	if len(e.MessageIDs) == 0 || (e.Chat == types.StatusBroadcastJID && !l.cfg.statusBroadcast) {
		return
	}
	sender := l.userID(e.Sender)
	if e.IsFromMe {
		sender = l.ownID()
	}
	b.emit(&pasdk.Event{Type: t, ChatID: l.chatID(e.Chat), SenderID: sender, FromMe: e.IsFromMe,
		TimestampMS: tsMS(e.Timestamp), MessageID: e.MessageIDs[len(e.MessageIDs)-1]})
}

// onChatPresence: typing and recording both show as typing.
func (l *Login) onChatPresence(e *events.ChatPresence) {
	l.host.Emit(&pasdk.Event{Type: pasdk.EvTyping, ChatID: l.chatID(e.Chat), SenderID: l.userID(e.Sender),
		TimestampMS: time.Now().UnixMilli(), Typing: e.State == types.ChatPresenceComposing,
		TypingTimeoutMS: typingTimeout})
}

func (l *Login) onPresence(e *events.Presence) {
	p := pasdk.PresenceOnline
	if e.Unavailable {
		p = pasdk.PresenceOffline
	}
	l.host.Emit(&pasdk.Event{Type: pasdk.EvPresence, SenderID: l.userID(e.From),
		TimestampMS: time.Now().UnixMilli(), Presence: p})
}

// emitContact tells the host a contact's name (and avatar when given).
func (l *Login) emitContact(b *batch, j types.JID, avatar string) {
	m := l.member(j)
	m.AvatarPath = avatar
	l.contacts.changed(m)
	b.emit(&pasdk.Event{Type: pasdk.EvContactInfo, SenderID: m.ID, TimestampMS: time.Now().UnixMilli(), Contact: &m})
}

func (l *Login) onPushName(b *batch, e *events.PushName) {
	if l.isOwn(e.JID) {
		return
	}
	_, _, _ = l.cli.Store.Contacts.PutPushName(l.ctx, l.canonical(e.JID), e.NewPushName)
	if !e.JIDAlt.IsEmpty() {
		l.cli.StoreLIDPNMapping(l.ctx, e.JID.ToNonAD(), e.JIDAlt.ToNonAD())
	}
	l.emitContact(b, e.JID, "")
}

func (l *Login) onBusinessName(b *batch, e *events.BusinessName) {
	_, _, _ = l.cli.Store.Contacts.PutBusinessName(l.ctx, l.canonical(e.JID), e.NewBusinessName)
	l.emitContact(b, e.JID, "")
}

func (l *Login) onContact(b *batch, e *events.Contact) {
	if e.Action != nil {
		_ = l.cli.Store.Contacts.PutContactName(l.ctx, l.canonical(e.JID), e.Action.GetFullName(), e.Action.GetFirstName())
	}
	l.emitContact(b, e.JID, "")
}

// onPicture downloads a contact's or group's new picture.
func (l *Login) onPicture(b *batch, e *events.Picture) {
	if e.Remove {
		return
	}
	path := l.fetchAvatar(e.JID)
	if path == "" {
		return
	}
	if e.JID.Server == types.GroupServer {
		ci := &pasdk.ChatInfo{ID: l.chatID(e.JID), Kind: pasdk.ChatGroup, AvatarPath: path}
		b.emit(&pasdk.Event{Type: pasdk.EvChatInfo, ChatID: ci.ID, TimestampMS: tsMS(e.Timestamp), Chat: ci})
		return
	}
	l.emitContact(b, e.JID, path)
}

// fetchAvatar keeps one picture file per contact or group (the host reads
// avatar files, never takes them); "" when there is none.
func (l *Login) fetchAvatar(j types.JID) string {
	ctx, cancel := context.WithTimeout(l.ctx, 30*time.Second)
	defer cancel()
	data, id, err := l.tp.ProfilePicture(ctx, j)
	if err != nil || len(data) == 0 {
		return ""
	}
	path, err := l.writeMedia("avatar-"+l.chatID(j)+"-"+id, data)
	if err != nil {
		return ""
	}
	return path
}
