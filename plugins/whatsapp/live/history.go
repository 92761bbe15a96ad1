// SPDX-License-Identifier: AGPL-3.0-or-later

// History sync becomes backfill: for each conversation within the limits
// of the configuration (how many conversations, how many days, how many
// bytes of media), CHAT_INFO, then its messages oldest first with their
// original timestamps, then BACKFILL_END.  The ack rule holds: the handler
// returns once the host stored every event.
package main

import (
	"sort"
	"sync"
	"time"

	"go.mau.fi/whatsmeow/proto/waHistorySync"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"passerelle/sdk/go/pasdk"
)

// historyChats are the conversations taken from the link-time history
// (the count limit holds across the several blobs WhatsApp sends).
type historyChats struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (h *historyChats) take(id string, limit int) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.seen == nil {
		h.seen = make(map[string]bool)
	}
	if h.seen[id] {
		return true
	}
	if len(h.seen) >= limit {
		return false
	}
	h.seen[id] = true
	return true
}

func (l *Login) onHistorySync(e *events.HistorySync) bool {
	data := e.Data
	if data == nil {
		return true
	}
	for _, pn := range data.GetPushnames() {
		if j, err := types.ParseJID(pn.GetID()); err == nil && pn.GetPushname() != "" {
			_, _, _ = l.cli.Store.Contacts.PutPushName(l.ctx, l.canonical(j), pn.GetPushname())
		}
	}
	onDemand := data.GetSyncType() == waHistorySync.HistorySync_ON_DEMAND
	var since time.Time
	if !onDemand && l.cfg.historyDays > 0 {
		since = time.Now().AddDate(0, 0, -l.cfg.historyDays)
	}
	for _, conv := range data.GetConversations() {
		chat, err := types.ParseJID(conv.GetID())
		if err != nil || chat.Server == types.NewsletterServer ||
			(chat == types.StatusBroadcastJID && !l.cfg.statusBroadcast) {
			continue
		}
		if !onDemand && !l.history.take(chat.String(), l.cfg.historyConversations) {
			continue
		}
		if !l.backfillChat(chat, conv, since) {
			return false
		}
		if l.ctx.Err() != nil {
			return false
		}
	}
	return true
}

// backfillChat emits one conversation; false when the host did not store it.
func (l *Login) backfillChat(chat types.JID, conv *waHistorySync.Conversation, since time.Time) bool {
	type item struct {
		ev *events.Message
		ts time.Time
	}
	items := make([]item, 0, len(conv.GetMessages()))
	for _, hm := range conv.GetMessages() {
		evt, err := l.cli.ParseWebMessage(chat, hm.GetMessage())
		if err != nil {
			l.log.Warnf("history of %s: %v", chat, err)
			continue
		}
		if !since.IsZero() && evt.Info.Timestamp.Before(since) {
			continue
		}
		items = append(items, item{evt, evt.Info.Timestamp})
	}
	if len(items) == 0 {
		return true
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].ts.Before(items[j].ts) })
	b := l.newBatch()
	ci := l.chatInfo(chat, types.JID{})
	if chat.Server == types.GroupServer && ci.Name == "" {
		ci.Name = conv.GetName()
	}
	if conv.GetEphemeralExpiration() > 0 {
		ci.DisappearingS = conv.GetEphemeralExpiration()
	}
	chatID := l.chatID(chat)
	l.chatsSeen.Store(chatID, true)
	b.emit(&pasdk.Event{Type: pasdk.EvChatInfo, ChatID: chatID, TimestampMS: tsMS(items[0].ts), Chat: ci})
	for _, it := range items {
		l.onMessage(b, it.ev, true)
		// Bound the number of events in flight (and memory) per wait.
		if b.pb.Len() >= 512 && !b.wait() {
			return false
		}
	}
	b.emit(&pasdk.Event{Type: pasdk.EvBackfillEnd, ChatID: chatID, TimestampMS: tsMS(items[len(items)-1].ts)})
	return b.wait()
}
