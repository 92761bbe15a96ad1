// SPDX-License-Identifier: AGPL-3.0-or-later

// What the login remembers of messages, in the host's meta store (never in
// Go maps: a ministry runs thousands of logins):
//   - MetaMessage `l/<local key>` → message id and `m/<message id>` → local
//     key (ids.go), both directions; `l/` gets the suffix "+s" once the
//     message's events were stored by the host (deduplication of catch-up
//     and streams: two entries a message, not three);
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
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"passerelle/plugins/olvid/live/daemonpb"
	"passerelle/sdk/go/pasdk"
)

// msgStoreState is the login's part of msgstore.go: the table of events
// waited for (bounded by the events in flight, not by history).
type msgStoreState struct {
	acks *pasdk.Acks
	// handleMu makes "neither seen nor in flight → emit → in flight" one
	// step: catch-up and the streams may bring the same message at the
	// same time.  The wait for the host to store the events runs outside
	// it (incoming.go, settle), so messages are emitted back to back.
	handleMu sync.Mutex
	inflight map[string]struct{} // local keys emitted, not stored yet
	// slots bounds the messages in flight (backpressure on the streams).
	slots chan struct{}
	// settleMu orders the seen marks and the watermark of settled messages.
	settleMu sync.Mutex
	// windowFor is the connection whose catch-up listed the messages
	// since the watermark (catchup.go): once per connection.
	windowFor atomic.Pointer[Daemon]
}

func init() {
	newLoginHooks = append(newLoginHooks, func(l *Login, saved bool) error {
		l.acks = pasdk.NewAcks(earlyKeep)
		l.inflight = make(map[string]struct{})
		l.slots = make(chan struct{}, maxInflight)
		l.onFree(l.acks.Close)
		return nil
	})
}

// EventPersisted: the host stored event seq.
func (l *Login) EventPersisted(seq uint64) { l.acks.Persisted(seq) }

// persistWait bounds the wait for the host to store one event.
var persistWait = 2 * time.Minute

// earlyKeep: persisted seqs nobody waited for yet that are remembered.
const earlyKeep = 1024

// maxInflight: messages emitted whose storage by the host is awaited.
const maxInflight = 256

// batch collects the events emitted for one daemon notification
// (pasdk.Batch).
type batch struct {
	l  *Login
	pb *pasdk.Batch
}

func (l *Login) newBatch() *batch { return &batch{l: l, pb: l.acks.NewBatch(l.host)} }

// emit hands ev to the host; a refused event (0) is not waited for.
func (b *batch) emit(ev *pasdk.Event) uint64 { return b.pb.Emit(ev) }

// wait blocks until the host stored every emitted event; false when it
// did not in time or the login is being freed.
func (b *batch) wait() bool {
	ok, late := b.pb.Wait(persistWait)
	if !ok && late != 0 {
		b.l.logf(pasdk.LogWarning, "the host did not store event %d in %s: catch-up brings the message again", late, persistWait)
	}
	return ok
}

// seenMark ends a stored `l/` value once the message was bridged.
const seenMark = "+s"

// seen: the message's events were stored by the host already.
func (l *Login) seen(localKey string) bool {
	v, ok := l.host.MetaGet(pasdk.MetaMessage, metaLocalKey(localKey))
	return ok && strings.HasSuffix(v, seenMark)
}

// markSeen: the message (id msgID) is bridged.
func (l *Login) markSeen(localKey, msgID string) {
	l.host.MetaSet(pasdk.MetaMessage, metaLocalKey(localKey), msgID+seenMark)
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
	v, ok := l.host.MetaGet(pasdk.MetaMessage, metaLocalKey(k))
	return strings.TrimSuffix(v, seenMark), ok
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
		l.host.MetaSet(pasdk.MetaMessage, metaMessageKey(id), k)
		l.markSeen(k, id)
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
