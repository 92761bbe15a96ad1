// SPDX-License-Identifier: AGPL-3.0-or-later

// Tests of Acks and Batch: a seq persisted before its waiter registered is
// not lost, the early ring stays bounded, and a wait ends on time-out or
// close with the right answer.
package pasdk

import (
	"testing"
	"time"
)

func TestAcksEarlyPersisted(t *testing.T) {
	const keep = 16
	a := NewAcks(keep)
	a.Persisted(7) // before anyone waits
	select {
	case <-a.register(7):
	default:
		t.Fatal("a seq persisted before its waiter registered was lost")
	}
	ch := a.register(8)
	select {
	case <-ch:
		t.Fatal("seq 8 is not persisted yet")
	default:
	}
	a.Persisted(8)
	<-ch
	// The early ring forgets the oldest entries, never grows without bound.
	for i := uint64(100); i < 100+2*keep; i++ {
		a.Persisted(i)
	}
	if n := a.EarlyLen(); n > keep {
		t.Fatalf("early set holds %d entries", n)
	}
}

// seqHost numbers emitted events; the rest of Host is not used.
type seqHost struct {
	Host
	next uint64
}

func (h *seqHost) Emit(*Event) uint64 { h.next++; return h.next }

func TestBatchWait(t *testing.T) {
	a := NewAcks(16)
	b := a.NewBatch(&seqHost{})
	b.Emit(&Event{})
	b.Emit(&Event{})
	if b.Len() != 2 {
		t.Fatalf("Len %d", b.Len())
	}
	go func() { a.Persisted(2); a.Persisted(1) }()
	if ok, late := b.Wait(10 * time.Second); !ok || late != 0 {
		t.Fatalf("Wait = %v, %d; want both stored", ok, late)
	}
	if b.Len() != 0 {
		t.Fatal("the batch is not empty after Wait")
	}
	b.Emit(&Event{}) // seq 3, never stored
	if ok, late := b.Wait(20 * time.Millisecond); ok || late != 3 {
		t.Fatalf("Wait = %v, %d; want a time-out on 3", ok, late)
	}
	b.Emit(&Event{})
	a.Close()
	if ok, late := b.Wait(10 * time.Second); ok || late != 0 {
		t.Fatalf("Wait after Close = %v, %d; want failure without a late seq", ok, late)
	}
}
