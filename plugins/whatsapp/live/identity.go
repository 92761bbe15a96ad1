// SPDX-License-Identifier: AGPL-3.0-or-later

// LID-first identity: WhatsApp moved users to LIDs (hidden ids) while
// phone-number JIDs keep appearing.  Every JID goes through whatsmeow's
// LID map so one contact has one id (its LID when known); the phone number
// is only the member's identifier.  Names: contact name > push name >
// business name > phone number.
package main

import (
	"context"
	"sync"

	"go.mau.fi/whatsmeow/types"

	"passerelle/plugins/whatsapp/live/waconv"
	"passerelle/sdk/go/pasdk"
)

// canonical returns the LID of a user JID when whatsmeow knows it.
func (l *Login) canonical(j types.JID) types.JID {
	j = j.ToNonAD()
	if j.Server == types.DefaultUserServer && l.cli.Store.LIDs != nil {
		if lid, err := l.cli.Store.LIDs.GetLIDForPN(context.Background(), j); err == nil && !lid.IsEmpty() {
			return lid.ToNonAD()
		}
	}
	return j
}

// phoneOf returns the phone-number JID of a user, or an empty JID.
func (l *Login) phoneOf(j types.JID) types.JID {
	j = j.ToNonAD()
	switch j.Server {
	case types.DefaultUserServer:
		return j
	case types.HiddenUserServer:
		if l.cli.Store.LIDs == nil {
			break
		}
		if pn, err := l.cli.Store.LIDs.GetPNForLID(context.Background(), j); err == nil {
			return pn.ToNonAD()
		}
	}
	return types.JID{}
}

// userID is the legacy id of a user.
func (l *Login) userID(j types.JID) string { return waconv.UserID(l.canonical(j)) }

// chatID is the legacy id of a chat: a DM's is its user's (LID first),
// a group's is WhatsApp's group id, the same in every login.
func (l *Login) chatID(j types.JID) string {
	if j.Server == types.DefaultUserServer || j.Server == types.HiddenUserServer {
		return waconv.ChatID(l.canonical(j))
	}
	return waconv.ChatID(j)
}

// sendJID picks the JID to send to for a chat id (the LID, else the number).
func (l *Login) parseChat(chatID string) (types.JID, bool) {
	j, err := waconv.ParseJID(chatID)
	if err != nil || j.IsEmpty() {
		return types.JID{}, false
	}
	return j, true
}

// displayName is the best name known for a user, and its phone identifier.
func (l *Login) displayName(j types.JID) (name, identifier string) {
	pn := l.phoneOf(j)
	if !pn.IsEmpty() {
		identifier = "+" + pn.User
	}
	for _, c := range []types.JID{l.canonical(j), pn} {
		if c.IsEmpty() || l.cli.Store.Contacts == nil {
			continue
		}
		info, err := l.cli.Store.Contacts.GetContact(context.Background(), c)
		if err != nil || !info.Found {
			continue
		}
		for _, n := range []string{info.FullName, info.FirstName, info.PushName, info.BusinessName} {
			if n != "" {
				return n, identifier
			}
		}
	}
	if name == "" {
		name = identifier
	}
	return name, identifier
}

// member describes a user for the host.
func (l *Login) member(j types.JID) pasdk.Member {
	name, ident := l.displayName(j)
	return pasdk.Member{ID: l.userID(j), Name: name, Identifier: ident}
}

// mentionName serves waconv's mention rendering.
func (l *Login) mentionName(userID string) (string, bool) {
	j, err := waconv.ParseJID(userID)
	if err != nil {
		return "", false
	}
	name, _ := l.displayName(j)
	return name, name != ""
}

// contactCache remembers the name last told to the host per contact, so a
// message carries the sender's info only when it is new or changed.
type contactCache struct{ m sync.Map }

func (c *contactCache) changed(m pasdk.Member) bool {
	old, ok := c.m.Load(m.ID)
	if ok && old.(string) == m.Name {
		return false
	}
	c.m.Store(m.ID, m.Name)
	return true
}
