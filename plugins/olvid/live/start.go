// SPDX-License-Identifier: AGPL-3.0-or-later

// Starting conversations (`start olvid <who>`), finding people and listing
// contacts.  <who> is, in this order: an Olvid invitation link (an
// invitation is sent; the conversation opens when the other side accepts),
// the user id of a known contact (its one-to-one discussion), or words
// looked up in the ministry's Olvid directory (KeycloakUserList: one match
// is added as a contact and its discussion opened; several are listed with
// the exact command for each).
package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"passerelle/plugins/olvid/live/daemonpb"
	"passerelle/sdk/go/pasdk"
)

// invitationPrefix starts every Olvid invitation link.
const invitationPrefix = "https://invitation.olvid.io/"

// maxListed is how many directory matches a failed `start` lists.
const maxListed = 10

// contactWait bounds the wait for a directory user to become a contact.
const contactWait = 20 * time.Second

// recvList reads a server stream of lists to its end.
func recvList[R any, T any](s interface{ Recv() (R, error) }, items func(R) []T) ([]T, error) {
	var out []T
	for {
		r, err := s.Recv()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, items(r)...)
	}
}

// CreateDM opens a conversation from what the agent typed after `start olvid`.
func (l *Login) CreateDM(op uint64, who string) {
	who = strings.TrimSpace(who)
	l.runOp(op, "", opTimeout, func(ctx context.Context, d *Daemon) pasdk.OpResult {
		switch {
		case strings.HasPrefix(who, invitationPrefix):
			return l.invite(ctx, d, who)
		case who == "":
			return pasdk.OpResult{Code: pasdk.ResultPermanent, Error: "Say whom to start a conversation with."}
		}
		if _, ok := parseUserID(strings.ToLower(who)); ok {
			if c, err := l.contactOfUser(ctx, strings.ToLower(who)); err == nil {
				return l.openContact(ctx, c)
			}
		}
		return l.startFromDirectory(ctx, d, who)
	})
}

// openContact emits a contact's DM and answers with its chat id.
func (l *Login) openContact(ctx context.Context, contactID uint64) pasdk.OpResult {
	chat, err := l.emitContactChat(ctx, contactID)
	if err != nil {
		return lookupResult(err)
	}
	return pasdk.OpResult{Code: pasdk.ResultOK, LegacyID: chat}
}

// invite sends an invitation to the owner of an invitation link.
func (l *Login) invite(ctx context.Context, d *Daemon, link string) pasdk.OpResult {
	var call sentCall
	r, err := d.Invitation.InvitationNew(ctx, &daemonpb.InvitationNewRequest{InvitationUrl: link}, call.opt())
	if err != nil {
		res := call.result(err)
		if res.Code == pasdk.ResultPermanent {
			res.Error = "Olvid did not accept this invitation link: " + res.Error
		}
		return res
	}
	name := r.GetInvitation().GetDisplayName()
	if name == "" {
		name = "the owner of this link"
	}
	l.host.Notice(fmt.Sprintf("Olvid invitation sent to %s. The conversation opens, and you are invited to its room, "+
		"when they accept it.", name))
	return pasdk.OpResult{Code: pasdk.ResultOK}
}

// directoryBound tells whether the identity is in a directory.
func directoryBound(ctx context.Context, d *Daemon) (bool, error) {
	r, err := d.Identity.IdentityGet(ctx, &daemonpb.IdentityGetRequest{})
	if err != nil {
		return false, err
	}
	return r.GetIdentity().GetKeycloakManaged(), nil
}

// notInDirectory is what `start` and search say for an identity outside any directory.
const notInDirectory = "Your Olvid identity is not in a directory, so it cannot look people up by name. " +
	"Start a conversation with an Olvid invitation link (`start olvid https://invitation.olvid.io/…`) " +
	"or with a contact's id (`contacts olvid` lists them)."

// searchDirectory lists the directory users whose name contains words,
// or whose directory id is exactly words.
func searchDirectory(ctx context.Context, d *Daemon, words string) ([]*daemonpb.KeycloakUser, error) {
	list := func(f *daemonpb.KeycloakUserFilter) ([]*daemonpb.KeycloakUser, error) {
		s, err := d.Keycloak.KeycloakUserList(ctx, &daemonpb.KeycloakUserListRequest{Filter: f})
		if err != nil {
			return nil, err
		}
		return recvList(s, (*daemonpb.KeycloakUserListResponse).GetUsers)
	}
	users, err := list(&daemonpb.KeycloakUserFilter{DisplayNameSearch: &words})
	if err != nil || len(users) > 0 {
		return users, err
	}
	all, err := list(nil)
	if err != nil {
		return nil, err
	}
	for _, u := range all {
		if u.GetKeycloakId() == words {
			return []*daemonpb.KeycloakUser{u}, nil
		}
	}
	return nil, nil
}

// startFromDirectory looks words up in the directory and opens the one match.
func (l *Login) startFromDirectory(ctx context.Context, d *Daemon, words string) pasdk.OpResult {
	bound, err := directoryBound(ctx, d)
	if err != nil {
		return lookupResult(err)
	}
	if !bound {
		return pasdk.OpResult{Code: pasdk.ResultNotFound, Error: notInDirectory}
	}
	users, err := searchDirectory(ctx, d, words)
	if err != nil {
		return lookupResult(err)
	}
	switch len(users) {
	case 0:
		return pasdk.OpResult{Code: pasdk.ResultNotFound,
			Error: fmt.Sprintf("Nobody in your Olvid directory matches “%s”.", words)}
	case 1:
	default:
		return pasdk.OpResult{Code: pasdk.ResultNotFound, Error: matchesText(words, users)}
	}
	u := users[0]
	if u.ContactId != nil {
		return l.openContact(ctx, u.GetContactId())
	}
	var call sentCall
	if _, err := d.Keycloak.KeycloakAddUserAsContact(ctx,
		&daemonpb.KeycloakAddUserAsContactRequest{KeycloakId: u.GetKeycloakId()}, call.opt()); err != nil {
		return call.result(err)
	}
	// Olvid adds a directory user as a contact in the background: wait for it.
	deadline := time.Now().Add(contactWait)
	for {
		again, err := searchDirectory(ctx, d, u.GetKeycloakId())
		if err == nil {
			for _, a := range again {
				if a.GetKeycloakId() == u.GetKeycloakId() && a.ContactId != nil {
					return l.openContact(ctx, a.GetContactId())
				}
			}
		}
		if time.Now().After(deadline) {
			l.host.Notice(fmt.Sprintf("%s is being added to your Olvid contacts; the conversation opens, "+
				"and you are invited to its room, when Olvid has finished.", u.GetDisplayName()))
			return pasdk.OpResult{Code: pasdk.ResultOK}
		}
		select {
		case <-ctx.Done():
			return pasdk.OpResult{Code: pasdk.ResultUncertain,
				Error: "Olvid did not finish adding " + u.GetDisplayName() + " in time; try `start` again later."}
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// matchesText lists several directory matches, each with its exact command.
func matchesText(words string, users []*daemonpb.KeycloakUser) string {
	sort.Slice(users, func(i, j int) bool { return users[i].GetDisplayName() < users[j].GetDisplayName() })
	var b strings.Builder
	fmt.Fprintf(&b, "%d people in your Olvid directory match “%s”; start one of them with its own command:\n",
		len(users), words)
	for i, u := range users {
		if i == maxListed {
			fmt.Fprintf(&b, "- and %d more: give more of the name.\n", len(users)-maxListed)
			break
		}
		fmt.Fprintf(&b, "- %s%s: `start olvid %s`\n", u.GetDisplayName(), detailsText(u.GetDetails()), u.GetKeycloakId())
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// detailsText is " (position, company)" or "".
func detailsText(d *daemonpb.IdentityDetails) string {
	var parts []string
	for _, p := range []string{d.GetPosition(), d.GetCompany()} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// contactMemberOf is a contact as the host's contact list shows it.
func contactMemberOf(ctx context.Context, d *Daemon, c *daemonpb.Contact) (*pasdk.Member, error) {
	r, err := d.Contact.ContactGetBytesIdentifier(ctx, &daemonpb.ContactGetBytesIdentifierRequest{ContactId: c.GetId()})
	if err != nil {
		return nil, err
	}
	return &pasdk.Member{ID: userID(r.GetIdentifier()), Name: c.GetDisplayName()}, nil
}

// listContacts answers op with the contacts matching f, one OpContact each.
func (l *Login) listContacts(ctx context.Context, d *Daemon, op uint64, f *daemonpb.ContactFilter) (int, error) {
	s, err := d.Contact.ContactList(ctx, &daemonpb.ContactListRequest{Filter: f})
	if err != nil {
		return 0, err
	}
	contacts, err := recvList(s, (*daemonpb.ContactListResponse).GetContacts)
	if err != nil {
		return 0, err
	}
	for _, c := range contacts {
		m, err := contactMemberOf(ctx, d, c)
		if err != nil {
			return 0, err
		}
		l.host.OpContact(op, m)
	}
	return len(contacts), nil
}

// ListContacts lists the identity's contacts.
func (l *Login) ListContacts(op uint64) {
	l.runOp(op, "", opTimeout, func(ctx context.Context, d *Daemon) pasdk.OpResult {
		if _, err := l.listContacts(ctx, d, op, nil); err != nil {
			return lookupResult(err)
		}
		return pasdk.OpResult{Code: pasdk.ResultOK}
	})
}

// ResolveIdentifier finds people: a user id (identifier mode) is checked
// against the contacts; words (search mode) are looked up among the
// contacts and in the directory (directory users who are not contacts yet
// carry their directory id, which `start olvid` takes).
func (l *Login) ResolveIdentifier(op uint64, identifier string, mode pasdk.ResolveMode) {
	identifier = strings.TrimSpace(identifier)
	l.runOp(op, "", opTimeout, func(ctx context.Context, d *Daemon) pasdk.OpResult {
		if mode == pasdk.ResolveIdentifier {
			user := strings.ToLower(identifier)
			c, err := l.contactOfUser(ctx, user)
			if err != nil {
				return pasdk.OpResult{Code: pasdk.ResultNotFound, Error: "No Olvid contact has this id."}
			}
			cr, err := d.Contact.ContactGet(ctx, &daemonpb.ContactGetRequest{ContactId: c})
			if err != nil {
				return lookupResult(err)
			}
			l.host.OpContact(op, &pasdk.Member{ID: user, Name: cr.GetContact().GetDisplayName()})
			return pasdk.OpResult{Code: pasdk.ResultOK}
		}
		n, err := l.listContacts(ctx, d, op, &daemonpb.ContactFilter{DisplayNameSearch: &identifier})
		if err != nil {
			return lookupResult(err)
		}
		bound, err := directoryBound(ctx, d)
		if err != nil {
			return lookupResult(err)
		}
		if bound {
			users, err := searchDirectory(ctx, d, identifier)
			if err != nil {
				return lookupResult(err)
			}
			for _, u := range users {
				if u.ContactId != nil {
					continue // listed above as a contact
				}
				l.host.OpContact(op, &pasdk.Member{ID: u.GetKeycloakId(),
					Name: u.GetDisplayName() + detailsText(u.GetDetails()) + " (directory)"})
				n++
			}
		}
		if n == 0 && !bound {
			return pasdk.OpResult{Code: pasdk.ResultNotFound, Error: notInDirectory}
		}
		return pasdk.OpResult{Code: pasdk.ResultOK}
	})
}
