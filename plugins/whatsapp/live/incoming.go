// SPDX-License-Identifier: AGPL-3.0-or-later

// The whatsmeow event handler and incoming messages: events.Message →
// waconv.FromWA → MESSAGE / EDIT / DELETE / REACTION_SYNC / poll votes /
// timers, each waited for until the host stored it (ack.go).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"time"

	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"passerelle/plugins/whatsapp/live/waconv"
	"passerelle/sdk/go/pasdk"
)

// The host's features of a WhatsApp chat.
var chatFeatures = pasdk.ChatFeatures{
	Capabilities:  liveCaps &^ pasdk.CapLogin,
	MaxMediaSize:  maxSendBytes,
	MaxEditAgeS:   900,
	MaxTextLength: 65536,
}

// handleEvent is whatsmeow's event handler (its own goroutine).  false
// tells whatsmeow the event was not handled: the message is not acked and
// WhatsApp delivers it again.
func (l *Login) handleEvent(raw any) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			l.log.Errorf("handling %T panicked: %v\n%s", raw, r, debug.Stack())
			ok = false
		}
	}()
	if l.ctx.Err() != nil {
		return false
	}
	if l.onState(raw) {
		return true
	}
	b := l.newBatch()
	switch e := raw.(type) {
	case *events.Message:
		l.onMessage(b, e, false)
	case *events.UndecryptableMessage:
		l.onUndecryptable(b, e)
	case *events.Receipt:
		l.onReceipt(b, e)
	case *events.ChatPresence:
		l.onChatPresence(e)
	case *events.Presence:
		l.onPresence(e)
	case *events.PushName:
		l.onPushName(b, e)
	case *events.BusinessName:
		l.onBusinessName(b, e)
	case *events.Contact:
		l.onContact(b, e)
	case *events.Picture:
		l.onPicture(b, e)
	case *events.GroupInfo:
		l.onGroupInfo(b, e)
	case *events.JoinedGroup:
		l.emitGroup(b, &e.GroupInfo, nil)
	case *events.HistorySync:
		defer l.releaseMemoryLater()
		return l.onHistorySync(e)
	case *events.MediaRetry:
		l.onMediaRetry(b, e)
	case *events.CallOffer:
		l.onCall(b, e.BasicCallMeta, false)
	case *events.CallOfferNotice:
		l.onCall(b, e.BasicCallMeta, e.Type == "group")
	default:
		return true
	}
	return b.wait()
}

func tsMS(t time.Time) int64 {
	if t.IsZero() {
		return time.Now().UnixMilli()
	}
	return t.UnixMilli()
}

// chatInfoFor describes a chat the first time this run mentions it, so the
// host can make its portal; nil afterwards.
func (l *Login) chatInfoFor(chat types.JID, other types.JID) *pasdk.ChatInfo {
	id := l.chatID(chat)
	if _, seen := l.chatsSeen.Load(id); seen {
		return nil
	}
	ci := l.chatInfo(chat, other)
	l.chatsSeen.Store(id, true)
	return ci
}

// chatInfo describes a chat (a group's from WhatsApp, a DM's from its contact).
func (l *Login) chatInfo(chat types.JID, other types.JID) *pasdk.ChatInfo {
	f := chatFeatures
	if chat.Server == types.GroupServer {
		ctx, cancel := context.WithTimeout(l.ctx, 20*time.Second)
		gi, err := l.tp.GetGroupInfo(ctx, chat)
		cancel()
		if err == nil && gi != nil {
			return l.groupInfo(gi)
		}
		l.log.Warnf("group %s: no info (%v)", chat, err)
		return &pasdk.ChatInfo{ID: l.chatID(chat), Kind: pasdk.ChatGroup, Features: &f}
	}
	if chat.Server == types.BroadcastServer {
		name := "WhatsApp broadcast list"
		if chat == types.StatusBroadcastJID {
			name = "WhatsApp status updates"
		}
		return &pasdk.ChatInfo{ID: l.chatID(chat), Kind: pasdk.ChatGroup, Name: name, Features: &f, ReadOnly: chat == types.StatusBroadcastJID}
	}
	if other.IsEmpty() {
		other = chat
	}
	ci := &pasdk.ChatInfo{ID: l.chatID(chat), Kind: pasdk.ChatDM, Features: &f,
		Members: []pasdk.Member{l.member(other)}}
	if t, ok := l.host.MetaGet(pasdk.MetaChat, ci.ID+"#timer"); ok {
		fmt.Sscanf(t, "%d", &ci.DisappearingS)
	}
	return ci
}

// senderMember returns the sender's info when the host has not been told it yet.
func (l *Login) senderMember(j types.JID) *pasdk.Member {
	m := l.member(j)
	if !l.contacts.changed(m) {
		return nil
	}
	return &m
}

// portalChat picks the chat a message belongs to: a broadcast list's
// message from someone else goes to their DM (as WhatsApp shows it).
func (l *Login) portalChat(info *types.MessageInfo) types.JID {
	if info.Chat.Server == types.BroadcastServer && info.Chat != types.StatusBroadcastJID && !info.IsFromMe {
		return info.Sender.ToNonAD()
	}
	return info.Chat
}

// onMessage turns one message into events.  history: it comes from a
// history sync (no echo matching, no media retry requests).
func (l *Login) onMessage(b *batch, e *events.Message, history bool) {
	info := &e.Info
	if info.Chat == types.StatusBroadcastJID && !l.cfg.statusBroadcast {
		return
	}
	if info.Chat.Server == types.NewsletterServer {
		return // channels are not bridged
	}
	if !info.SenderAlt.IsEmpty() {
		l.cli.StoreLIDPNMapping(l.ctx, info.Sender.ToNonAD(), info.SenderAlt.ToNonAD())
	}
	if info.PushName != "" && !info.IsFromMe {
		_, _, _ = l.cli.Store.Contacts.PutPushName(l.ctx, l.canonical(info.Sender), info.PushName)
	}
	in := waconv.FromWA(info, e.Message, l.mentionName)
	chat := l.portalChat(info)
	chatID := l.chatID(chat)
	sender := l.userID(info.Sender)
	if info.IsFromMe {
		sender = l.ownID()
	}
	ev := pasdk.Event{ChatID: chatID, SenderID: sender, TimestampMS: tsMS(info.Timestamp),
		MessageID: info.ID, FromMe: info.IsFromMe}
	if info.IsFromMe && !history {
		if txn, ok := l.sent.Load(info.ID); ok {
			ev.TxnID = txn.(string)
		}
	}
	switch in.Kind {
	case waconv.InIgnore, waconv.InHistoryRequest:
		return
	case waconv.InMessage:
		prev, known := l.msgs.get(chat, info.ID)
		ev.Type = pasdk.EvMessage
		if known && prev.Kind == "placeholder" {
			// The placeholder is replaced: the host sends the message as
			// an edit of the placeholder's event (media included).
			ev.Type = pasdk.EvMessageUpsert
		}
		c := in.Content
		row := msgRow{Sender: info.Sender.ToNonAD(), FromMe: info.IsFromMe, TS: info.Timestamp}
		if len(in.PollOptions) > 0 {
			row.Kind = "poll"
			row.Raw, _ = json.Marshal(in.PollOptions)
		}
		if in.Media != nil || in.Inline != nil {
			if l.fetchMedia(info, &in, &c, history) {
				row.Kind = "media"
				row.Raw, _ = proto.Marshal(e.Message)
			}
		}
		ev.Content = &c
		ev.Chat = l.chatInfoFor(chat, info.Sender)
		if ev.Chat != nil && ev.Chat.Kind == pasdk.ChatGroup {
			// A group's info goes first on its own: another login may
			// already have bridged this message (shared portals), and the
			// host must still learn that this login is in the group.
			b.emit(&pasdk.Event{Type: pasdk.EvChatInfo, ChatID: chatID, TimestampMS: ev.TimestampMS, Chat: ev.Chat})
			ev.Chat = nil
		}
		if !info.IsFromMe {
			ev.Contact = l.senderMember(info.Sender)
		}
		l.msgs.put(chat, info.ID, row)
		if b.emit(&ev) == 0 {
			removeFile(c.MediaPath)
		}
	case waconv.InEdit:
		ev.Type = pasdk.EvEdit
		ev.TargetID = in.TargetID
		ev.MessageID = info.ID
		c := in.Content
		ev.Content = &c
		b.emit(&ev)
	case waconv.InRevoke:
		ev.Type = pasdk.EvDelete
		ev.TargetID = in.TargetID
		b.emit(&ev)
	case waconv.InReaction:
		ev.Type = pasdk.EvReactionSync
		ev.TargetID = in.TargetID
		ev.ReactionKeys = []string{}
		if in.ReactionKey != "" {
			ev.ReactionKeys = []string{in.ReactionKey}
		}
		b.emit(&ev)
	case waconv.InPollVote:
		l.onPollVote(b, e, chat, in.TargetID, ev)
	case waconv.InTimer:
		ci := l.chatInfo(chat, info.Sender)
		ci.DisappearingS = in.TimerS
		l.host.MetaSet(pasdk.MetaChat, chatID+"#timer", fmt.Sprint(in.TimerS))
		b.emit(&pasdk.Event{Type: pasdk.EvChatInfo, ChatID: chatID, SenderID: sender,
			TimestampMS: ev.TimestampMS, Chat: ci})
		// The host tells the room (one notice for every network).
		l.chatsSeen.Store(chatID, true)
	}
}

// onPollVote decrypts a vote and shows it as a notice.
func (l *Login) onPollVote(b *batch, e *events.Message, chat types.JID, target string, ev pasdk.Event) {
	var options []string
	if row, ok := l.msgs.get(chat, target); ok && row.Kind == "poll" {
		_ = json.Unmarshal(row.Raw, &options)
	}
	vote, err := l.cli.DecryptPollVote(l.ctx, e)
	name, _ := l.displayName(e.Info.Sender)
	if e.Info.IsFromMe {
		name = "You"
	}
	text := name + " voted in a poll (the vote could not be read)"
	if err == nil {
		// "voted for: A, B" or "withdrew their vote".
		text = name + " " + waconv.PollVoteText(vote.GetSelectedOptions(), options)
	} else {
		l.log.Warnf("poll vote %s: %v", e.Info.ID, err)
	}
	ev.Type = pasdk.EvMessage
	ev.Content = &pasdk.Content{Kind: pasdk.MsgNotice, Text: text, ReplyTo: target}
	b.emit(&ev)
}

// onUndecryptable shows a placeholder under the message's id; the real
// message replaces it (an EDIT of it) when the phone sends it again.
func (l *Login) onUndecryptable(b *batch, e *events.UndecryptableMessage) {
	info := &e.Info
	if e.DecryptFailMode == events.DecryptFailHide || (info.Chat == types.StatusBroadcastJID && !l.cfg.statusBroadcast) {
		return
	}
	chat := l.portalChat(info)
	if _, known := l.msgs.get(chat, info.ID); known {
		return
	}
	text := "⏳ This message could not be decrypted yet; WhatsApp is asked to send it again, and it will replace this line."
	if e.IsUnavailable && e.UnavailableType == events.UnavailableTypeViewOnce {
		text = "A view-once message: open it on your phone."
	}
	l.msgs.put(chat, info.ID, msgRow{Sender: info.Sender.ToNonAD(), FromMe: info.IsFromMe, TS: info.Timestamp, Kind: "placeholder"})
	sender := l.userID(info.Sender)
	if info.IsFromMe {
		sender = l.ownID()
	}
	b.emit(&pasdk.Event{Type: pasdk.EvMessage, ChatID: l.chatID(chat), SenderID: sender,
		TimestampMS: tsMS(info.Timestamp), MessageID: info.ID, FromMe: info.IsFromMe,
		Content: &pasdk.Content{Kind: pasdk.MsgNotice, Text: text},
		Chat:    l.chatInfoFor(chat, info.Sender), Contact: l.senderMember(info.Sender)})
}

// onCall: calls are not bridged; the agent sees a notice in the chat.
func (l *Login) onCall(b *batch, m types.BasicCallMeta, group bool) {
	chat := m.From.ToNonAD()
	if !m.GroupJID.IsEmpty() {
		chat = m.GroupJID
	}
	text := "📞 Incoming WhatsApp call: answer it on your phone (calls are not bridged)."
	if group {
		text = "📞 Incoming WhatsApp group call: join it on your phone (calls are not bridged)."
	}
	caller := m.CallCreator
	if caller.IsEmpty() {
		caller = m.From
	}
	b.emit(&pasdk.Event{Type: pasdk.EvMessage, ChatID: l.chatID(chat), SenderID: l.userID(caller),
		TimestampMS: tsMS(m.Timestamp), MessageID: "call-" + m.CallID,
		Content: &pasdk.Content{Kind: pasdk.MsgNotice, Text: text, Flags: pasdk.ContentSystem},
		Chat:    l.chatInfoFor(chat, caller)})
}
