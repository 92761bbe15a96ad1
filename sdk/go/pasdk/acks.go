// SPDX-License-Identifier: AGPL-3.0-or-later

// Nothing lost, for Go plugins: a plugin that must not acknowledge an event
// to its network before the host stored it emits the event's Matrix events
// in a Batch and waits for them.  The host calls the login's
// EventPersisted(seq) once it stored each one (SDK: event_persisted); the
// login hands that to Acks.Persisted.  A worker or host killed before that
// leaves the network's event unacknowledged, so the network gives it again
// after the restart, and the host's deduplication makes the second copy
// harmless.
package pasdk

import (
	"sync"
	"time"
)

// Acks is one login's table of the sequence numbers waited for, and of the
// few persisted before anyone waited for them: a persisted seq may arrive
// before its waiter registers (between Emit returning and the wait
// starting), and events nobody waits for (typing, presence) are persisted
// too.  Those are kept in a ring of earlyKeep, never more.
type Acks struct {
	mu      sync.Mutex
	waiting map[uint64]chan struct{}
	early   map[uint64]struct{}
	ring    []uint64 // early's keys in arrival order
	ringPos int
	closed  chan struct{}
	once    sync.Once
}

// NewAcks makes a table remembering up to earlyKeep early persisted seqs.
func NewAcks(earlyKeep int) *Acks {
	return &Acks{
		waiting: make(map[uint64]chan struct{}),
		early:   make(map[uint64]struct{}),
		ring:    make([]uint64, earlyKeep),
		closed:  make(chan struct{}),
	}
}

// Persisted is the host's word that seq is stored: call it from the
// login's EventPersisted.  Never blocks.
func (a *Acks) Persisted(seq uint64) {
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

// Close ends every wait, now and later, with failure (the login is freed).
func (a *Acks) Close() { a.once.Do(func() { close(a.closed) }) }

// EarlyLen is how many early persisted seqs are remembered (tests).
func (a *Acks) EarlyLen() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.early)
}

// register returns a channel closed once seq is persisted.
func (a *Acks) register(seq uint64) chan struct{} {
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

func (a *Acks) forget(seq uint64) {
	a.mu.Lock()
	delete(a.waiting, seq)
	a.mu.Unlock()
}

// Batch collects the events emitted for one network event, to wait for
// all of them.
type Batch struct {
	h    Host
	a    *Acks
	seqs []uint64
}

// NewBatch starts a batch of events emitted through h.
func (a *Acks) NewBatch(h Host) *Batch { return &Batch{h: h, a: a} }

// Emit hands ev to the host and remembers its seq.  A refused event (0) is
// logged by the host and not waited for: that would block forever.
func (b *Batch) Emit(ev *Event) uint64 {
	seq := b.h.Emit(ev)
	if seq != 0 {
		b.seqs = append(b.seqs, seq)
	}
	return seq
}

// Len is the number of events waited for.
func (b *Batch) Len() int { return len(b.seqs) }

// Wait blocks until every emitted event is persisted, at most timeout in
// all; then the batch is empty again.  ok false when the time ran out
// (late is then the first seq not stored in time) or the login is being
// freed (late 0): the caller does not acknowledge the network's event.
func (b *Batch) Wait(timeout time.Duration) (ok bool, late uint64) {
	if len(b.seqs) == 0 {
		return true, 0
	}
	a := b.a
	chans := make([]chan struct{}, len(b.seqs))
	for i, s := range b.seqs {
		chans[i] = a.register(s)
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	ok = true
	for i, ch := range chans {
		if !ok {
			a.forget(b.seqs[i])
			continue
		}
		select {
		case <-ch:
		case <-deadline.C:
			late = b.seqs[i]
			a.forget(b.seqs[i])
			ok = false
		case <-a.closed:
			a.forget(b.seqs[i])
			ok = false
		}
	}
	b.seqs = b.seqs[:0]
	return ok, late
}
