// SPDX-License-Identifier: AGPL-3.0-or-later

package waconv

import (
	"errors"

	"go.mau.fi/whatsmeow/types"

	"passerelle/sdk/go/pasdk"
)

// UserID is a contact's id: its JID without device, server kept.
func UserID(j types.JID) string { return j.ToNonAD().String() }

// ChatID is a chat's id (a DM chat's id is the contact's id).
func ChatID(j types.JID) string { return j.ToNonAD().String() }

// ParseJID parses an id of the s.whatsapp.net, lid, g.us or broadcast servers.
func ParseJID(id string) (types.JID, error) {
	j, err := types.ParseJID(id)
	if err != nil {
		return types.JID{}, err
	}
	return j, errors.New("todo")
}

// NormalizeID turns what an agent types into an id.
func NormalizeID(kind pasdk.IDKind, id string) (string, bool) { return "", false }

// PhoneOf is "+<digits>" for a phone-number JID, "" otherwise.
func PhoneOf(j types.JID) string { return "" }
