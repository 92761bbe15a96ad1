// SPDX-License-Identifier: AGPL-3.0-or-later

// Contacts: their user ids (the hex of ContactGetBytesIdentifier, cached in
// meta both ways), their names and photos (ghosts), their DMs.
package main

import (
	"context"
	"fmt"
	"strings"

	"passerelle/plugins/olvid/live/daemonpb"
	"passerelle/sdk/go/pasdk"
)

// metaSelfKey (MetaLogin) holds the own identity's user id.
const metaSelfKey = "self"

// selfUserID is the own identity's user id ("" before the first sync).
func (l *Login) selfUserID() string {
	v, _ := l.host.MetaGet(pasdk.MetaLogin, metaSelfKey)
	return v
}

// loadSelf asks the daemon for the own identity's bytes identifier.
func (l *Login) loadSelf(ctx context.Context, d *Daemon) (string, error) {
	r, err := d.Identity.IdentityGetBytesIdentifier(ctx, &daemonpb.IdentityGetBytesIdentifierRequest{})
	if err != nil {
		return "", err
	}
	u := userID(r.GetIdentifier())
	l.host.MetaSet(pasdk.MetaLogin, metaSelfKey, u)
	return u, nil
}

// daemonOrErr is the daemon connection, or an error when offline.
func (l *Login) daemonOrErr() (*Daemon, error) {
	d := l.daemonClient()
	if d == nil {
		return nil, errOffline
	}
	return d, nil
}

// errOffline: an operation while the daemon is not reachable.
var errOffline = fmt.Errorf("Olvid is not connected at the moment.")

// userOfContact is the user id of a daemon contact (meta first).
func (l *Login) userOfContact(ctx context.Context, contactID uint64) (string, error) {
	if u, ok := l.cachedUser(contactID); ok {
		return u, nil
	}
	d, err := l.daemonOrErr()
	if err != nil {
		return "", err
	}
	r, err := d.Contact.ContactGetBytesIdentifier(ctx, &daemonpb.ContactGetBytesIdentifierRequest{ContactId: contactID})
	if err != nil {
		return "", err
	}
	u := userID(r.GetIdentifier())
	l.rememberContact(contactID, u)
	return u, nil
}

// contactOfUser is the daemon contact id of a user id (contract).
func (l *Login) contactOfUser(ctx context.Context, user string) (uint64, error) {
	if c, ok := l.cachedContact(user); ok {
		return c, nil
	}
	d, err := l.daemonOrErr()
	if err != nil {
		return 0, err
	}
	// Not cached: walk the contacts once (each is cached on the way).
	s, err := d.Contact.ContactList(ctx, &daemonpb.ContactListRequest{})
	if err != nil {
		return 0, err
	}
	contacts, err := recvAll(s, (*daemonpb.ContactListResponse).GetContacts)
	if err != nil {
		return 0, err
	}
	for _, c := range contacts {
		if u, err := l.userOfContact(ctx, c.GetId()); err == nil && u == user {
			return c.GetId(), nil
		}
	}
	return 0, fmt.Errorf("%s is not one of this Olvid identity's contacts.", user)
}

// contactName is what a contact is called in Tchap.
func contactName(c *daemonpb.Contact) string {
	if n := strings.TrimSpace(c.GetDisplayName()); n != "" {
		return n
	}
	det := c.GetDetails()
	n := strings.TrimSpace(det.GetFirstName() + " " + det.GetLastName())
	if n == "" {
		n = "Olvid contact"
	}
	return n
}

// contactMember is the ghost of a contact: its user id, name and photo.
func (l *Login) contactMember(ctx context.Context, d *Daemon, c *daemonpb.Contact) (*pasdk.Member, error) {
	u, err := l.userOfContact(ctx, c.GetId())
	if err != nil {
		return nil, err
	}
	m := &pasdk.Member{ID: u, Name: contactName(c)}
	if c.GetHasAPhoto() {
		m.AvatarPath = l.contactPhoto(ctx, d, c.GetId(), u)
	}
	return m, nil
}

// memberOfContactID is contactMember from a contact id.
func (l *Login) memberOfContactID(ctx context.Context, d *Daemon, contactID uint64) (*pasdk.Member, error) {
	r, err := d.Contact.ContactGet(ctx, &daemonpb.ContactGetRequest{ContactId: contactID})
	if err != nil {
		return nil, err
	}
	return l.contactMember(ctx, d, r.GetContact())
}

// emitContactInfo tells the host a contact's name and photo.
func (l *Login) emitContactInfo(ctx context.Context, d *Daemon, c *daemonpb.Contact) {
	m, err := l.contactMember(ctx, d, c)
	if err != nil {
		l.logf(pasdk.LogWarning, "contact %d: %v", c.GetId(), err)
		return
	}
	l.host.Emit(&pasdk.Event{Type: pasdk.EvContactInfo, SenderID: m.ID, Contact: m})
}

// emitContactChat emits the CHAT_INFO of a contact's DM; its chat id (contract).
func (l *Login) emitContactChat(ctx context.Context, contactID uint64) (string, error) {
	d, err := l.daemonOrErr()
	if err != nil {
		return "", err
	}
	m, err := l.memberOfContactID(ctx, d, contactID)
	if err != nil {
		return "", err
	}
	chat := dmChatID(m.ID)
	info := &pasdk.ChatInfo{ID: chat, Kind: pasdk.ChatDM, Name: m.Name, AvatarPath: m.AvatarPath,
		Members: []pasdk.Member{*m}, MembersComplete: false}
	var did uint64
	if r, err := d.Discussion.DiscussionGetByContact(ctx, &daemonpb.DiscussionGetByContactRequest{ContactId: contactID}); err == nil {
		did = r.GetDiscussion().GetId()
		l.applySettings(ctx, d, did, info)
	}
	l.emitChatInfo(info, did)
	return chat, nil
}
