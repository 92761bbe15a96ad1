// SPDX-License-Identifier: AGPL-3.0-or-later

// Incoming messages: one idempotent handler for the messages the streams
// bring (MessageReceived, MessageSent from elsewhere, locations) and those
// catch-up lists.  A message already bridged (marked seen in meta) is
// skipped; otherwise its events are emitted, waited for until the host
// stored them, and only then is it marked seen (msgstore.go).
package main

import (
	"context"
	"fmt"
	"time"

	"passerelle/plugins/olvid/live/daemonpb"
	"passerelle/sdk/go/pasdk"
)

// forwardedFrom is what a forwarded message says of its origin (Olvid does
// not tell who wrote it first).
const forwardedFrom = "another Olvid discussion"

// messageContent is the text part of a message: body, reply, forwarded
// flag, location.  replyTo is the replied message's message id ("" when
// none or unknown).
func messageContent(m *daemonpb.Message, replyTo string) *pasdk.Content {
	c := &pasdk.Content{Kind: pasdk.MsgText, Text: m.GetBody(), ReplyTo: replyTo}
	if m.GetForwarded() {
		c.ForwardedFrom = forwardedFrom
	}
	if m.GetEditedBody() {
		c.Flags |= pasdk.ContentEdited
	}
	if loc := m.GetMessageLocation(); loc != nil {
		c.Kind = pasdk.MsgLocation
		c.Latitude, c.Longitude = loc.GetLatitude(), loc.GetLongitude()
		if c.Text == "" {
			c.Text = locationText(loc)
		}
	}
	return c
}

// locationText is the text of a location for clients without maps.
func locationText(loc *daemonpb.MessageLocation) string {
	t := fmt.Sprintf("Location: %.6f, %.6f", loc.GetLatitude(), loc.GetLongitude())
	if a := loc.GetAddress(); a != "" {
		t += " (" + a + ")"
	}
	if loc.GetType() == daemonpb.MessageLocation_LOCATION_TYPE_SHARING {
		t = "Live location shared (Tchap shows where it started and each update as a notice). " + t
	}
	return t
}

// senderOf is the user id of a message's sender.
func (l *Login) senderOf(ctx context.Context, m *daemonpb.Message) (string, bool, error) {
	if m.GetId().GetType() == daemonpb.MessageId_TYPE_OUTBOUND {
		return l.selfUserID(), true, nil
	}
	u, err := l.userOfContact(ctx, m.GetSenderId())
	return u, false, err
}

// handleMessage bridges one message once; false when it could not be
// bridged now (it stays unmarked: the next catch-up tries again).  Its
// events are emitted in order; the wait for the host to store them runs
// in settle, so the next message does not wait for this one's commit.
func (l *Login) handleMessage(ctx context.Context, m *daemonpb.Message) bool {
	k := localMessageKey(m.GetId())
	if k == "" {
		return true
	}
	l.handleMu.Lock()
	defer l.handleMu.Unlock()
	if _, busy := l.inflight[k]; busy || l.seen(k) {
		return true
	}
	d, err := l.daemonOrErr()
	if err != nil {
		return false
	}
	chat, err := l.chatOfDiscussion(ctx, m.GetDiscussionId())
	if err != nil {
		l.logf(pasdk.LogWarning, "message %s: its discussion: %v", k, err)
		return false
	}
	sender, fromMe, err := l.senderOf(ctx, m)
	if err != nil {
		l.logf(pasdk.LogWarning, "message %s: its sender: %v", k, err)
		return false
	}
	id := messageID(sender, m.GetTimestamp())
	l.rememberMessage(k, id)
	replyTo := ""
	if r := m.GetRepliedMessageId(); r != nil {
		replyTo, _ = l.messageIDOfLocal(r)
	}
	b := l.newBatch()
	base := pasdk.Event{ChatID: chat, SenderID: sender, FromMe: fromMe, TimestampMS: int64(m.GetTimestamp())}
	c := messageContent(m, replyTo)
	emitted := 0
	if c.Text != "" || c.Kind == pasdk.MsgLocation {
		ev := base
		ev.Type, ev.MessageID, ev.Content = pasdk.EvMessage, id, c
		b.emit(&ev)
		emitted++
	}
	// A location's attachment is Olvid's map preview: the pin says it all.
	if m.GetAttachmentsCount() > 0 && m.GetMessageLocation() == nil {
		n := l.emitAttachments(ctx, d, b, base, m, id, replyTo, emitted == 0)
		emitted += n
	}
	for _, r := range m.GetReactions() {
		l.emitReaction(ctx, b, chat, id, r)
	}
	l.logf(pasdk.LogDebug, "message %s → %s in %s (%d events)", k, id, chat, b.pb.Len())
	select {
	case l.slots <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	l.inflight[k] = struct{}{}
	l.spawn(func() { l.settle(b, m, k, id) })
	return true
}

// settle waits until the host stored a message's events, then marks it
// seen (and moves the watermark); not stored (time-out, login freed): it
// stays unmarked and catch-up brings it again.  The seen mark is written
// before the in-flight entry goes, so a copy never finds neither.
func (l *Login) settle(b *batch, m *daemonpb.Message, k, id string) {
	if b.wait() {
		l.settleMu.Lock()
		l.markSeen(k, id)
		l.storedUpTo(m)
		l.settleMu.Unlock()
	}
	<-l.slots
	l.handleMu.Lock()
	delete(l.inflight, k)
	l.handleMu.Unlock()
}

// emitReaction: Olvid keeps one reaction per person and message, so each
// is the person's whole set (REACTION_SYNC; empty removes it).
func (l *Login) emitReaction(ctx context.Context, b *batch, chat, target string, r *daemonpb.MessageReaction) {
	sender := l.selfUserID()
	fromMe := r.GetContactId() == 0
	if !fromMe {
		u, err := l.userOfContact(ctx, r.GetContactId())
		if err != nil {
			return
		}
		sender = u
	}
	keys := []string{}
	if r.GetReaction() != "" {
		keys = []string{r.GetReaction()}
	}
	b.emit(&pasdk.Event{Type: pasdk.EvReactionSync, ChatID: chat, SenderID: sender, FromMe: fromMe,
		TimestampMS: int64(r.GetTimestamp()), TargetID: target, ReactionKeys: keys})
}

// knownTarget is the chat and message id of a message already bridged;
// ok false for a message Tchap never saw (nothing to change there).
func (l *Login) knownTarget(ctx context.Context, m *daemonpb.Message) (chat, id string, ok bool) {
	id, ok = l.messageIDOfLocal(m.GetId())
	if !ok {
		return "", "", false
	}
	chat, err := l.chatOfDiscussion(ctx, m.GetDiscussionId())
	return chat, id, err == nil
}

// onBodyUpdated: an edit.
func (l *Login) onBodyUpdated(ctx context.Context, m *daemonpb.Message) {
	chat, target, ok := l.knownTarget(ctx, m)
	if !ok {
		return
	}
	sender, fromMe, err := l.senderOf(ctx, m)
	if err != nil {
		return
	}
	c := messageContent(m, "")
	c.Flags |= pasdk.ContentEdited
	l.host.Emit(&pasdk.Event{Type: pasdk.EvEdit, ChatID: chat, SenderID: sender, FromMe: fromMe,
		TimestampMS: int64(m.GetTimestamp()), TargetID: target, Content: c})
}

// onDeleted: a message deleted for everyone (or locally: Olvid does not
// say which; either way it is gone from the agent's Olvid).
func (l *Login) onDeleted(ctx context.Context, m *daemonpb.Message) {
	chat, target, ok := l.knownTarget(ctx, m)
	if !ok {
		return
	}
	sender, fromMe, err := l.senderOf(ctx, m)
	if err != nil {
		return
	}
	l.host.Emit(&pasdk.Event{Type: pasdk.EvDelete, ChatID: chat, SenderID: sender, FromMe: fromMe,
		TimestampMS: int64(m.GetTimestamp()), TargetID: target})
}

// onReaction: added, updated (the new one replaces the old) or removed.
func (l *Login) onReaction(ctx context.Context, m *daemonpb.Message, r *daemonpb.MessageReaction, removed bool) {
	chat, target, ok := l.knownTarget(ctx, m)
	if !ok {
		return
	}
	if removed {
		r = &daemonpb.MessageReaction{ContactId: r.GetContactId(), Timestamp: r.GetTimestamp()}
	}
	l.emitReaction(ctx, l.newBatch(), chat, target, r)
}

// onReceipt: one of the agent's messages was delivered to or read by the
// other side.  Olvid does not say by whom in a group, so only a DM's
// receipts are bridged (the contact's).  The daemon may tell it before the
// send's answer recorded the message's id: it is looked for a little while.
func (l *Login) onReceipt(ctx context.Context, m *daemonpb.Message, t pasdk.EventType) {
	chat, target, ok := l.knownTarget(ctx, m)
	for i := 0; !ok && i < receiptTries; i++ {
		select {
		case <-ctx.Done():
			return
		case <-time.After(receiptPause):
		}
		chat, target, ok = l.knownTarget(ctx, m)
	}
	if !ok {
		l.logf(pasdk.LogDebug, "receipt of %s: a message Tchap did not see", localMessageKey(m.GetId()))
		return
	}
	l.logf(pasdk.LogDebug, "receipt %d of %s in %s", t, target, chat)
	kind, b, _ := parseChatID(chat)
	if kind != pasdk.ChatDM {
		return
	}
	l.host.Emit(&pasdk.Event{Type: t, ChatID: chat, SenderID: userID(b), TimestampMS: int64(m.GetTimestamp()),
		MessageID: target})
}

// How long a receipt waits for its message's id: receiptTries × receiptPause.
const (
	receiptTries = 10
	receiptPause = 300 * time.Millisecond
)

// onLocationUpdate: a live location moved or ended: a notice in reply.
func (l *Login) onLocationUpdate(ctx context.Context, m *daemonpb.Message, ended bool) {
	chat, target, ok := l.knownTarget(ctx, m)
	if !ok {
		return
	}
	sender, fromMe, err := l.senderOf(ctx, m)
	if err != nil {
		return
	}
	text := "Live location ended."
	if !ended {
		text = "Live location update: " + locationText(m.GetMessageLocation())
	}
	loc := m.GetMessageLocation()
	id := target + "/" + uintString(loc.GetTimestamp())
	l.host.Emit(&pasdk.Event{Type: pasdk.EvMessage, ChatID: chat, SenderID: sender, FromMe: fromMe,
		TimestampMS: int64(loc.GetTimestamp()), MessageID: id,
		Content: &pasdk.Content{Kind: pasdk.MsgNotice, Text: text, ReplyTo: target}})
}
