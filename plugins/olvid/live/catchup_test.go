// SPDX-License-Identifier: AGPL-3.0-or-later

// The pure parts of catch-up: the watermark and the window it opens, and
// the union of the unread and the window.
package main

import (
	"testing"

	"passerelle/plugins/olvid/live/daemonpb"
)

func TestWindowStart(t *testing.T) {
	slack := uint64(catchUpSlack.Milliseconds())
	if _, ok := windowStart(""); ok {
		t.Error("no watermark (first login): no window")
	}
	if _, ok := windowStart("garbage"); ok {
		t.Error("an unreadable watermark opens no window")
	}
	if from, ok := windowStart("1796594240272"); !ok || from != 1796594240272-slack {
		t.Errorf("window from %d %v", from, ok)
	}
	if from, ok := windowStart("5"); !ok || from != 0 {
		t.Errorf("a watermark younger than the slack: from %d %v", from, ok)
	}
}

func TestLaterMark(t *testing.T) {
	if v, ok := laterMark("", 100); !ok || v != "100" {
		t.Errorf("first mark: %q %v", v, ok)
	}
	if v, ok := laterMark("100", 200); !ok || v != "200" {
		t.Errorf("newer: %q %v", v, ok)
	}
	if _, ok := laterMark("200", 100); ok {
		t.Error("the watermark went back")
	}
	if _, ok := laterMark("200", 200); ok {
		t.Error("the same timestamp moved it")
	}
}

func TestUnionOf(t *testing.T) {
	m := func(typ daemonpb.MessageId_Type, id, ts uint64) *daemonpb.Message {
		return &daemonpb.Message{Id: &daemonpb.MessageId{Type: typ, Id: id}, Timestamp: ts}
	}
	in, out := daemonpb.MessageId_TYPE_INBOUND, daemonpb.MessageId_TYPE_OUTBOUND
	unread := []*daemonpb.Message{m(in, 7, 70), m(in, 5, 50)}
	window := []*daemonpb.Message{m(in, 3, 30), m(in, 5, 50), m(out, 5, 55), m(in, 7, 70),
		m(daemonpb.MessageId_TYPE_UNSPECIFIED, 9, 90)}
	got := oldestFirst(unionOf(unread, window), 0)
	var keys []string
	for _, x := range got {
		keys = append(keys, localMessageKey(x.GetId()))
	}
	want := []string{"i3", "i5", "o5", "i7"}
	if len(keys) != len(want) {
		t.Fatalf("union: %v, want %v", keys, want)
	}
	for i := range want {
		if keys[i] != want[i] {
			t.Fatalf("union: %v, want %v", keys, want)
		}
	}
}
