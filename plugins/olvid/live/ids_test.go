// SPDX-License-Identifier: AGPL-3.0-or-later

// The id scheme (ids.go) as tables: user, chat, message and local ids.
package main

import (
	"bytes"
	"testing"

	"passerelle/plugins/olvid/live/daemonpb"
	"passerelle/sdk/go/pasdk"
)

func TestUserAndChatIDs(t *testing.T) {
	contact := []byte{0x01, 0xab, 0xff, 0x00}
	if got := userID(contact); got != "01abff00" {
		t.Fatalf("userID = %q", got)
	}
	if got := dmChatID(userID(contact)); got != "c01abff00" {
		t.Fatalf("dmChatID = %q", got)
	}
	if got := groupChatID([]byte{0xde, 0xad}); got != "gdead" {
		t.Fatalf("groupChatID = %q", got)
	}
	for _, tc := range []struct {
		id   string
		ok   bool
		kind pasdk.ChatKind
		b    []byte
	}{
		{"c01abff00", true, pasdk.ChatDM, contact},
		{"gdead", true, pasdk.ChatGroup, []byte{0xde, 0xad}},
		{"", false, 0, nil},
		{"c", false, 0, nil},
		{"g", false, 0, nil},
		{"cABCD", false, 0, nil}, // ids are lowercase
		{"c123", false, 0, nil},  // odd length
		{"xdead", false, 0, nil},
		{"gzz", false, 0, nil},
	} {
		kind, b, ok := parseChatID(tc.id)
		if ok != tc.ok || (ok && (kind != tc.kind || !bytes.Equal(b, tc.b))) {
			t.Errorf("parseChatID(%q) = %v %x %v, want %v %x %v", tc.id, kind, b, ok, tc.kind, tc.b, tc.ok)
		}
	}
}

func TestMessageIDs(t *testing.T) {
	long := "0123456789abcdef0123456789abcdef"
	if got := messageID(long, 1700000000123); got != "0123456789abcdef-1700000000123" {
		t.Fatalf("messageID(long) = %q", got)
	}
	if got := messageID("abcd", 5); got != "abcd-5" {
		t.Fatalf("messageID(short) = %q", got)
	}
	for _, tc := range []struct {
		id     string
		ok     bool
		prefix string
		ts     uint64
	}{
		{"0123456789abcdef-1700000000123", true, "0123456789abcdef", 1700000000123},
		{"abcd-5", true, "abcd", 5},
		{"abcd-0", true, "abcd", 0},
		{"abcd-05", false, "", 0},              // not canonical
		{"abcd-+5", false, "", 0},              // sign
		{"abcd-", false, "", 0},                // no timestamp
		{"-5", false, "", 0},                   // no sender
		{"ABCD-5", false, "", 0},               // uppercase
		{"0123456789abcdef01-5", false, "", 0}, // prefix too long
		{"abcd5", false, "", 0},
		{"abcd-18446744073709551616", false, "", 0}, // overflows
	} {
		p, ts, ok := parseMessageID(tc.id)
		if ok != tc.ok || p != tc.prefix || ts != tc.ts {
			t.Errorf("parseMessageID(%q) = %q %d %v, want %q %d %v", tc.id, p, ts, ok, tc.prefix, tc.ts, tc.ok)
		}
	}
}

func TestLocalMessageKeys(t *testing.T) {
	for _, tc := range []struct {
		m   *daemonpb.MessageId
		key string
	}{
		{&daemonpb.MessageId{Type: daemonpb.MessageId_TYPE_INBOUND, Id: 42}, "i42"},
		{&daemonpb.MessageId{Type: daemonpb.MessageId_TYPE_OUTBOUND, Id: 0}, "o0"},
		{&daemonpb.MessageId{Type: daemonpb.MessageId_TYPE_UNSPECIFIED, Id: 3}, ""},
		{nil, ""},
	} {
		k := localMessageKey(tc.m)
		if k != tc.key {
			t.Errorf("localMessageKey(%v) = %q, want %q", tc.m, k, tc.key)
			continue
		}
		if k == "" {
			continue
		}
		back, ok := parseLocalMessageKey(k)
		if !ok || back.GetType() != tc.m.GetType() || back.GetId() != tc.m.GetId() {
			t.Errorf("parseLocalMessageKey(%q) = %v %v", k, back, ok)
		}
	}
	for _, bad := range []string{"", "i", "x1", "i-1", "i+1", "i01", "o1a"} {
		if _, ok := parseLocalMessageKey(bad); ok {
			t.Errorf("parseLocalMessageKey(%q) accepted", bad)
		}
	}
	if metaLocalKey("i42") != "l/i42" || metaMessageKey("ab-1") != "m/ab-1" {
		t.Fatal("meta keys")
	}
}

func TestNormalizeID(t *testing.T) {
	for _, tc := range []struct {
		kind pasdk.IDKind
		in   string
		out  string
		ok   bool
	}{
		{pasdk.IDUser, "01ABff", "01abff", true},
		{pasdk.IDUser, "01a", "", false},
		{pasdk.IDUser, "", "", false},
		{pasdk.IDChat, "cAB", "cab", true},
		{pasdk.IDChat, "gdead", "gdead", true},
		{pasdk.IDChat, "Cab", "", false},
		{pasdk.IDChat, "", "", false},
	} {
		out, ok := normalizeID(tc.kind, tc.in)
		if ok != tc.ok || (ok && out != tc.out) {
			t.Errorf("normalizeID(%v, %q) = %q %v, want %q %v", tc.kind, tc.in, out, ok, tc.out, tc.ok)
		}
	}
}
