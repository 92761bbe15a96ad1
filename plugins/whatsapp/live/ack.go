// SPDX-License-Identifier: AGPL-3.0-or-later

// Nothing lost: whatsmeow runs with SynchronousAck, so it acknowledges a
// message to WhatsApp only when every event handler returned.  Our handler
// emits the message's events in a batch and waits until the host says it
// stored each of them (the SDK's Acks, sdk/go/pasdk/acks.go).  A kill -9 of
// the worker or of the host before that leaves the message unacknowledged:
// WhatsApp delivers it again after the restart, and the host's
// deduplication (chat id + message id) makes the second copy harmless.
package main

import (
	"time"

	"passerelle/sdk/go/pasdk"
)

// persistWait bounds the wait for one batch: past it the handler reports
// failure, whatsmeow does not ack, and WhatsApp delivers the message again.
var persistWait = 2 * time.Minute

// earlyKeep is how many persisted sequence numbers nobody waited for are
// remembered (pasdk.NewAcks).
const earlyKeep = 4096

// batch is the events emitted for one WhatsApp event.
type batch struct {
	l  *Login
	pb *pasdk.Batch
}

func (l *Login) newBatch() *batch { return &batch{l: l, pb: l.acks.NewBatch(l.host)} }

func (b *batch) emit(ev *pasdk.Event) uint64 { return b.pb.Emit(ev) }

// wait blocks until every emitted event is persisted; false when the wait
// ran out or the login is being freed (the caller then fails the handler so
// whatsmeow does not acknowledge).
func (b *batch) wait() bool {
	ok, late := b.pb.Wait(persistWait)
	if !ok && late != 0 {
		b.l.log.Warnf("the host did not store event %d in %s: WhatsApp will deliver it again", late, persistWait)
	}
	return ok
}
