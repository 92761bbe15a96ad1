// SPDX-License-Identifier: AGPL-3.0-or-later

// Nothing lost: whatsmeow runs with SynchronousAck, so it acknowledges a
// message to WhatsApp only when every event handler returned.  Our handler
// emits the message's events and waits here until the host says it stored
// each of them (event_persisted).  A kill -9 of the worker or of the host
// before that leaves the message unacknowledged: WhatsApp delivers it again
// after the restart, and the host's deduplication (chat id + message id)
// makes the second copy harmless.
package main

import (
	"sync"
	"time"

	"passerelle/sdk/go/pasdk"
)

// persistWait bounds the wait for one event: past it the handler reports
// failure, whatsmeow does not ack, and WhatsApp delivers the message again.
var persistWait = 2 * time.Minute

// earlyKeep is how many persisted sequence numbers nobody waited for are
// remembered: a persisted seq may arrive before its waiter registers (the
// window is the time between Emit returning and the wait starting), and
// events nobody waits for (typing, presence) are persisted too.
const earlyKeep = 4096

type ackTable struct {
	mu      sync.Mutex
	waiting map[uint64]chan struct{}
	early   map[uint64]struct{}
	ring    []uint64 // early's keys in arrival order
	ringPos int
	closed  chan struct{}
	once    sync.Once
}

func newAckTable() *ackTable {
	return &ackTable{
		waiting: make(map[uint64]chan struct{}),
		early:   make(map[uint64]struct{}),
		ring:    make([]uint64, earlyKeep),
		closed:  make(chan struct{}),
	}
}

// persisted is called on the main thread by the host: never blocks.
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

// register returns a channel closed once seq is persisted.
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

// batch collects the sequence numbers of the events emitted for one
// WhatsApp event, to wait for all of them.
type batch struct {
	l    *Login
	seqs []uint64
}

// emit hands ev to the host and remembers its seq.  A refused event (0) is
// logged by the host and not retried: waiting for it would block forever.
func (b *batch) emit(ev *pasdk.Event) uint64 {
	seq := b.l.host.Emit(ev)
	if seq != 0 {
		b.seqs = append(b.seqs, seq)
	}
	return seq
}

// wait blocks until every emitted event is persisted; false when the wait
// ran out or the login is being freed (the caller then fails the handler so
// whatsmeow does not acknowledge).
func (b *batch) wait() bool {
	if len(b.seqs) == 0 {
		return true
	}
	a := b.l.acks
	chans := make([]chan struct{}, len(b.seqs))
	for i, s := range b.seqs {
		chans[i] = a.register(s)
	}
	deadline := time.NewTimer(persistWait)
	defer deadline.Stop()
	ok := true
	for i, ch := range chans {
		if !ok {
			a.forget(b.seqs[i])
			continue
		}
		select {
		case <-ch:
		case <-deadline.C:
			b.l.log.Warnf("the host did not store event %d in %s: WhatsApp will deliver it again", b.seqs[i], persistWait)
			a.forget(b.seqs[i])
			ok = false
		case <-a.closed:
			a.forget(b.seqs[i])
			ok = false
		}
	}
	b.seqs = b.seqs[:0]
	return ok
}
