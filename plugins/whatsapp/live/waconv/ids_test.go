// SPDX-License-Identifier: AGPL-3.0-or-later

// Tests of identifiers: phone number forms, LIDs, groups, refusals.

package waconv

import (
	"testing"

	"go.mau.fi/whatsmeow/types"

	"passerelle/sdk/go/pasdk"
)

func TestNormalizeID(t *testing.T) {
	const fr = "33612345678@s.whatsapp.net"
	cases := []struct {
		kind pasdk.IDKind
		in   string
		want string // "" = refused
	}{
		{pasdk.IDUser, "+33 6 12 34 56 78", fr},
		{pasdk.IDUser, "+33 (0)6 12 34 56 78", fr},
		{pasdk.IDUser, "+33.6.12.34.56.78", fr},
		{pasdk.IDUser, "+33 06 12 34 56 78", fr},
		{pasdk.IDUser, "0033 06 12 34 56 78", fr},
		{pasdk.IDUser, "+39 06 1234 5678", "390612345678@s.whatsapp.net"},
		{pasdk.IDUser, "+33-612-345-678", fr},
		{pasdk.IDUser, "+33\u00a06\u00a012\u00a034\u00a056\u00a078", fr},
		{pasdk.IDUser, "0033612345678", fr},
		{pasdk.IDUser, "33612345678", fr},
		{pasdk.IDUser, "  33612345678  ", fr},
		{pasdk.IDUser, "tel:+33612345678", fr},
		{pasdk.IDUser, "TEL:+33 6 12 34 56 78", fr},
		{pasdk.IDUser, "33612345678@s.whatsapp.net", fr},
		{pasdk.IDUser, "33612345678:12@s.whatsapp.net", fr},
		{pasdk.IDUser, "33612345678@c.us", fr},
		{pasdk.IDUser, "33612345678@S.WHATSAPP.NET", fr},
		{pasdk.IDUser, "+1 (415) 555-2671", "14155552671@s.whatsapp.net"},
		{pasdk.IDUser, "123456789012345@lid", "123456789012345@lid"},
		{pasdk.IDUser, "123456789012345:3@lid", "123456789012345@lid"},
		{pasdk.IDChat, "33612345678", fr},
		{pasdk.IDChat, "120363012345678901@g.us", "120363012345678901@g.us"},
		{pasdk.IDChat, "33612345678-1596000000@g.us", "33612345678-1596000000@g.us"},
		// Refused.
		{pasdk.IDUser, "06 12 34 56 78", ""},
		{pasdk.IDUser, "0612345678", ""},
		{pasdk.IDUser, "", ""},
		{pasdk.IDUser, "+", ""},
		{pasdk.IDUser, "+33 6 12", ""},
		{pasdk.IDUser, "+1234567890123456", ""},
		{pasdk.IDUser, "+0612345678", ""},
		{pasdk.IDUser, "jean.dupont", ""},
		{pasdk.IDUser, "33 6 12 34 56 78 poste 12", ""},
		{pasdk.IDUser, "+33+612345678", ""},
		{pasdk.IDUser, "120363012345678901@g.us", ""},
		{pasdk.IDUser, "abc@s.whatsapp.net", ""},
		{pasdk.IDUser, "abc@lid", ""},
		{pasdk.IDUser, "33612345678@example.org", ""},
		{pasdk.IDUser, "status@broadcast", ""},
		{pasdk.IDChat, "12-ab@g.us", ""},
		{pasdk.IDChat, "@g.us", ""},
	}
	for _, c := range cases {
		got, ok := NormalizeID(c.kind, c.in)
		if ok != (c.want != "") || got != c.want {
			t.Errorf("NormalizeID(%d, %q) = %q, %v; want %q", c.kind, c.in, got, ok, c.want)
		}
	}
}

func TestJIDs(t *testing.T) {
	cases := []struct {
		in          string
		ok          bool
		user, phone string
	}{
		{"33612345678@s.whatsapp.net", true, "33612345678@s.whatsapp.net", "+33612345678"},
		{"33612345678:12@s.whatsapp.net", true, "33612345678@s.whatsapp.net", "+33612345678"},
		{"98765432101234:7@lid", true, "98765432101234@lid", ""},
		{"120363012345678901@g.us", true, "120363012345678901@g.us", ""},
		{"33612345678-1596000000@g.us", true, "33612345678-1596000000@g.us", ""},
		{"status@broadcast", true, "status@broadcast", ""},
		{"33612345678:99@hosted", true, "33612345678@s.whatsapp.net", "+33612345678"},
		{"98765432101234:99@hosted.lid", true, "98765432101234@lid", ""},
		{"33612345678@c.us", true, "33612345678@s.whatsapp.net", "+33612345678"},
		{"1234@newsletter", false, "", ""},
		{"abc@s.whatsapp.net", false, "", ""},
		{"@lid", false, "", ""},
		{"x-y@g.us", false, "", ""},
	}
	for _, c := range cases {
		j, err := ParseJID(c.in)
		if (err == nil) != c.ok {
			t.Errorf("ParseJID(%q): err %v", c.in, err)
			continue
		}
		if !c.ok {
			continue
		}
		if UserID(j) != c.user || ChatID(j) != c.user || PhoneOf(j) != c.phone {
			t.Errorf("%q: UserID %q ChatID %q PhoneOf %q", c.in, UserID(j), ChatID(j), PhoneOf(j))
		}
	}
	hosted := types.JID{User: "33612345678", Server: types.HostedServer, Device: 99}
	if UserID(hosted) != "33612345678@s.whatsapp.net" || ChatID(hosted) != "33612345678@s.whatsapp.net" {
		t.Errorf("hosted device: %q", UserID(hosted))
	}
	if PhoneOf(types.JID{}) != "" {
		t.Error("PhoneOf of an empty JID")
	}
}
