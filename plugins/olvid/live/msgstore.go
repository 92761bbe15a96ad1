// SPDX-License-Identifier: AGPL-3.0-or-later

// What the login remembers of messages, in the host's meta store (never in
// Go maps: a ministry runs thousands of logins):
//   - MetaMessage `l/<local key>` → message id and `m/<message id>` → local
//     key (ids.go), both directions;
//   - MetaMessage `s/<local key>` → "1" once the message's events were
//     stored by the host (deduplication of catch-up and streams);
//   - MetaLogin `watermark` → the timestamp of the newest inbound message
//     whose events the host stored (catchup.go);
//   - MetaContact `k/<contact id>` → user id, `u/<user id>` → contact id;
//   - MetaChat `d/<discussion id>` → chat id, `c/<chat id>` → discussion id.
//
// Nothing lost: a message's events are emitted first, and it is marked seen
// only once the host said it stored every one of them (EventPersisted).  A
// kill -9 in between leaves it unmarked: the next catch-up finds it again
// (unread, or since the watermark when a stream had brought it) and emits
// it again, and the host's own deduplication (chat id + message id) drops
// the copy.
package main

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"passerelle/plugins/olvid/live/daemonpb"
	"passerelle/sdk/go/pasdk"
)

// msgStoreState is the login's part of msgstore.go: the table of events
// waited for (bounded by the events in flight, not by history).
type msgStoreState struct {
	acks *ackTable
	// handleMu makes "not seen yet → emit → mark seen" one step: catch-up
	// and the streams may bring the same message at the same time.
	handleMu sync.Mutex
	// windowFor is the connection whose catch-up listed the messages
	// since the watermark (catchup.go): once per connection.
	windowFor atomic.Pointer[Daemon]
}

func init() {
	newLoginHooks = append(newLoginHooks, func(l *Login, saved bool) error {
		l.acks = newAckTable()
		l.onFree(l.acks.close)
		return nil
	})
}

// EventPersisted: the host stored event seq.
func (l *Login) EventPersisted(seq uint64) { l.acks.persisted(seq) }

// persistWait bounds the wait for the host to store one event.
var persistWait = 2 * time.Minute

// ackTable: the sequence numbers waited for, and the few persisted before
// anyone waited for them (a small ring).
type ackTable struct {
	mu      sync.Mutex
	waiting map[uint64]chan struct{}
	early   map[uint64]struct{}
	ring    []uint64
	ringPos int
	closed  chan struct{}
	once    sync.Once
}

const earlyKeep = 1024

func newAckTable() *ackTable {
	return &ackTable{
		waiting: make(map[uint64]chan struct{}),
		early:   make(map[uint64]struct{}),
		ring:    make([]uint64, earlyKeep),
		closed:  make(chan struct{}),
	}
}

func (a *ackTable) persisted(seq uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ch, ok := a.waiting[seq]; ok {
		delete(a.waiting, seq)
		close(ch)
		return
	}
	if old := a.ring[a.ringPos]; old != 0 {
		delete(a.early, old)
	}
	a.ring[a.ringPos] = seq
	a.ringPos = (a.ringPos + 1) % len(a.ring)
	a.early[seq] = struct{}{}
}

func (a *ackTable) register(seq uint64) chan struct{} {
	ch := make(chan struct{})
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.early[seq]; ok {
		delete(a.early, seq)
		close(ch)
		return ch
	}
	a.waiting[seq] = ch
	return ch
}

func (a *ackTable) forget(seq uint64) {
	a.mu.Lock()
	delete(a.waiting, seq)
	a.mu.Unlock()
}

func (a *ackTable) close() { a.once.Do(func() { close(a.closed) }) }

// batch collects the events emitted for one daemon notification.
type batch struct {
	l    *Login
	seqs []uint64
}

func (l *Login) newBatch() *batch { return &batch{l: l} }

// emit hands ev to the host; a refused event (0) is not waited for.
func (b *batch) emit(ev *pasdk.Event) uint64 {
	seq := b.l.host.Emit(ev)
	if seq != 0 {
		b.seqs = append(b.seqs, seq)
	}
	return seq
}

// wait blocks until the host stored every emitted event; false when it
// did not in time or the login is being freed.
func (b *batch) wait() bool {
	a := b.l.acks
	deadline := time.NewTimer(persistWait)
	defer deadline.Stop()
	ok := true
	for _, s := range b.seqs {
		ch := a.register(s)
		if !ok {
			a.forget(s)
			continue
		}
		select {
		case <-ch:
		case <-deadline.C:
			a.forget(s)
			ok = false
		case <-a.closed:
			a.forget(s)
			ok = false
		}
	}
	b.seqs = b.seqs[:0]
	return ok
}

// metaSeenKey marks a local message as bridged.
func metaSeenKey(localKey string) string { return "s/" + localKey }

// seen: the message's events were stored by the host already.
func (l *Login) seen(localKey string) bool {
	_, ok := l.host.MetaGet(pasdk.MetaMessage, metaSeenKey(localKey))
	return ok
}

func (l *Login) markSeen(localKey string) {
	l.host.MetaSet(pasdk.MetaMessage, metaSeenKey(localKey), "1")
}

// rememberMessage records both directions of the id map.
func (l *Login) rememberMessage(localKey, msgID string) {
	l.host.MetaSet(pasdk.MetaMessage, metaLocalKey(localKey), msgID)
	l.host.MetaSet(pasdk.MetaMessage, metaMessageKey(msgID), localKey)
}

// messageIDOfLocal is the message id recorded for a local message.
func (l *Login) messageIDOfLocal(m *daemonpb.MessageId) (string, bool) {
	k := localMessageKey(m)
	if k == "" {
		return "", false
	}
	return l.host.MetaGet(pasdk.MetaMessage, metaLocalKey(k))
}

// localMessage is the daemon id of a message id (contract).
func (l *Login) localMessage(msgID string) (*daemonpb.MessageId, bool) {
	k, ok := l.host.MetaGet(pasdk.MetaMessage, metaMessageKey(msgID))
	if !ok {
		return nil, false
	}
	return parseLocalMessageKey(k)
}

// rememberSent records a message the agent sent from Tchap and marks it
// seen, so its MessageSent echo is not emitted (contract).
func (l *Login) rememberSent(m *daemonpb.Message) string {
	id := messageID(l.selfUserID(), m.GetTimestamp())
	k := localMessageKey(m.GetId())
	if k != "" {
		l.rememberMessage(k, id)
		l.markSeen(k)
	}
	return id
}

// The contact and chat maps.
func metaContactKey(contactID uint64) string { return "k/" + strconv.FormatUint(contactID, 10) }
func metaUserKey(user string) string         { return "u/" + user }
func metaDiscussionKey(d uint64) string      { return "d/" + strconv.FormatUint(d, 10) }
func metaChatKey(chatID string) string       { return "c/" + chatID }

func (l *Login) rememberContact(contactID uint64, user string) {
	l.host.MetaSet(pasdk.MetaContact, metaContactKey(contactID), user)
	l.host.MetaSet(pasdk.MetaContact, metaUserKey(user), strconv.FormatUint(contactID, 10))
}

func (l *Login) rememberChat(discussionID uint64, chatID string) {
	l.host.MetaSet(pasdk.MetaChat, metaDiscussionKey(discussionID), chatID)
	l.host.MetaSet(pasdk.MetaChat, metaChatKey(chatID), strconv.FormatUint(discussionID, 10))
}

func (l *Login) cachedUser(contactID uint64) (string, bool) {
	return l.host.MetaGet(pasdk.MetaContact, metaContactKey(contactID))
}

func (l *Login) cachedContact(user string) (uint64, bool) {
	v, ok := l.host.MetaGet(pasdk.MetaContact, metaUserKey(user))
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(v, 10, 64)
	return n, err == nil
}

func (l *Login) cachedChat(discussionID uint64) (string, bool) {
	return l.host.MetaGet(pasdk.MetaChat, metaDiscussionKey(discussionID))
}

func (l *Login) cachedDiscussion(chatID string) (uint64, bool) {
	v, ok := l.host.MetaGet(pasdk.MetaChat, metaChatKey(chatID))
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(v, 10, 64)
	return n, err == nil
}
