// SPDX-License-Identifier: AGPL-3.0-or-later

// Identifiers: contact, chat and group ids from JIDs, and what agents type normalised.

package waconv

import (
	"errors"
	"strings"

	"go.mau.fi/whatsmeow/types"

	"passerelle/sdk/go/pasdk"
)

// Identity is LID-first: a contact's id is its LID JID without device
// ("123456789@lid") when known, else its phone-number JID
// ("33612345678@s.whatsapp.net"); a group is "<id>@g.us".  Choosing which
// of the two JIDs to pass is the caller's business (it owns the LID store);
// these functions only spell them.

// UserID is a contact's id: the JID without its device part, server kept
// (a device hosted by Meta for a business counts as its user's).
func UserID(j types.JID) string { return canonicalServer(j.ToNonAD()).String() }

// ChatID is a chat's id; a DM's chat id is the contact's id.
func ChatID(j types.JID) string { return canonicalServer(j.ToNonAD()).String() }

// canonicalServer maps the servers that are other spellings of a user's
// (hosted business devices, the legacy c.us) to the user's own server.
func canonicalServer(j types.JID) types.JID {
	switch j.Server {
	case types.HostedServer, types.LegacyUserServer:
		j.Server = types.DefaultUserServer
	case types.HostedLIDServer:
		j.Server = types.HiddenUserServer
	}
	return j
}

// ParseJID parses an id of the s.whatsapp.net, lid, g.us or broadcast
// servers (a device part, when present, is kept; hosted and c.us JIDs are
// read as their user's).
func ParseJID(id string) (types.JID, error) {
	j, err := types.ParseJID(id)
	if err != nil {
		return types.JID{}, err
	}
	j = canonicalServer(j)
	if j.User == "" {
		return types.JID{}, errors.New("no user part in " + id)
	}
	switch j.Server {
	case types.DefaultUserServer, types.HiddenUserServer:
		if !allDigits(j.User) {
			return types.JID{}, errors.New("not a WhatsApp user id: " + id)
		}
	case types.GroupServer:
		if !validGroupUser(j.User) {
			return types.JID{}, errors.New("not a WhatsApp group id: " + id)
		}
	case types.BroadcastServer:
	default:
		return types.JID{}, errors.New("not a WhatsApp user or group id: " + id)
	}
	return j, nil
}

// NormalizeID turns what an agent types into an id: a phone number in
// international form ("+33 6 12 34 56 78", "0033612345678", "33612345678",
// "tel:+33…", "+33 (0)6…") or a JID becomes "<digits>@s.whatsapp.net"; a
// LID is kept; chats also accept group JIDs.  A national number ("06 12 34
// 56 78") is refused: without its country code it is ambiguous.
func NormalizeID(kind pasdk.IDKind, id string) (string, bool) {
	s := strings.TrimSpace(id)
	if len(s) >= 4 && strings.EqualFold(s[:4], "tel:") {
		s = strings.TrimSpace(s[4:])
	}
	if at := strings.IndexByte(s, '@'); at >= 0 {
		user, server := s[:at], strings.ToLower(s[at+1:])
		if c := strings.IndexByte(user, ':'); c >= 0 && server != types.GroupServer {
			user = user[:c] // a device part: the id has none
		}
		switch server {
		case types.DefaultUserServer, types.LegacyUserServer:
			if n, ok := phoneDigits(user); ok {
				return n + "@" + types.DefaultUserServer, true
			}
		case types.HiddenUserServer:
			if allDigits(user) && len(user) <= 20 {
				return user + "@" + types.HiddenUserServer, true
			}
		case types.GroupServer:
			if kind == pasdk.IDChat && validGroupUser(user) {
				return user + "@" + types.GroupServer, true
			}
		}
		return "", false
	}
	var b strings.Builder
	plus := false
	rest := strings.ReplaceAll(s, "(0)", "")
	for i, r := range rest {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0:
			plus = true
		case r == ' ' || r == '.' || r == '-' || r == '(' || r == ')' || r == '/' ||
			r == '\u00a0' || r == '\u202f' || r == '\t':
		default:
			return "", false
		}
	}
	d := b.String()
	if !plus {
		switch {
		case strings.HasPrefix(d, "00"):
			d = d[2:]
		case strings.HasPrefix(d, "0"):
			return "", false // national form: which country?
		}
	}
	if len(d) == 12 && strings.HasPrefix(d, "330") {
		// "+33 06 12 34 56 78": the French trunk 0 written after the
		// country code, a frequent slip (French numbers never keep it).
		d = "33" + d[3:]
	}
	n, ok := phoneDigits(d)
	if !ok {
		return "", false
	}
	return n + "@" + types.DefaultUserServer, true
}

// PhoneOf is "+<digits>" for a phone-number JID, "" otherwise.
func PhoneOf(j types.JID) string {
	if (j.Server != types.DefaultUserServer && j.Server != types.LegacyUserServer) || !allDigits(j.User) {
		return ""
	}
	return "+" + j.User
}

// phoneDigits checks an international number without "+": E.164 has at
// most 15 digits and no country code starts with 0.
func phoneDigits(d string) (string, bool) {
	if !allDigits(d) || len(d) < 7 || len(d) > 15 || d[0] == '0' {
		return "", false
	}
	return d, true
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// validGroupUser: "<n>" (current groups) or "<creator>-<timestamp>" (old ones).
func validGroupUser(u string) bool {
	a, b, two := strings.Cut(u, "-")
	if two {
		return allDigits(a) && allDigits(b)
	}
	return allDigits(u)
}
